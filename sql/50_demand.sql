-- Demand signals, counted by hand: what waits per SKU and the suggested
-- reorder quantity (backorder units + people waiting x conversion - free
-- units), the sign-up trend, the fastest sell-outs, the shoppers who keep
-- finding products out of stock, and what became of the messages.  March
-- 2034, which no other test touches.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2034-03-01 09:00+00';

-- DM-1: ten sign-ups and two backorders (2 + 3 units), nothing in stock,
-- no history: the seed's 11.5% conversion, 5 + ceil(10 x 0.115) = 7.
SELECT sku FROM waitlist.upsert_sku('DM-1', 'Lamp', restock_date => '2034-03-20',
									restock_confirmed => true, confirm_signups => false);
SELECT count(*) AS joined FROM generate_series(1, 10) i, waitlist.subscribe('DM-1', 'd' || i || '@example.com');
SELECT waitlist.place_backorder('DM-B1', 'DM-1', 2, 'B1', 'b1@example.com') > 0 AS b1,
	   waitlist.place_backorder('DM-B2', 'DM-1', 3, 'B2', 'b2@example.com') > 0 AS b2;
SELECT * FROM waitlist.demand('DM-1');

-- DM-2: 25 sign-ups, a restock of 25 tells them all (25 emails); half an
-- hour later 5 buy (their emails, still pending, are not sent), then a
-- stock count finds nothing left (the rest went elsewhere) three hours
-- after the restock.  The 20 who did not buy keep their place and wait
-- again; the SKU's own conversion, 5 of 25 = 0.2, gives ceil(20 x 0.2) = 4.
SELECT sku FROM waitlist.upsert_sku('DM-2', 'Desk', confirm_signups => false, send_sold_out_again => false);
SELECT count(*) AS joined FROM generate_series(1, 25) i, waitlist.subscribe('DM-2', 'e' || i || '@example.com');
SELECT waitlist.restock('DM-2', 25);
SELECT tick_for('DM-2') AS written;
SET waitlist.test_now = '2034-03-01 09:30+00';
SELECT count(*) AS bought FROM generate_series(1, 5) i,
	   waitlist.place_backorder('DM-O' || i, 'DM-2', 1, 'E' || i, 'e' || i || '@example.com');
SET waitlist.test_now = '2034-03-01 12:00+00';
SELECT waitlist.set_on_hand('DM-2', 5);
SELECT sku, people_waiting, paid_units_waiting, free_units, conversion, suggested_reorder, last_sellout
  FROM waitlist.demand('DM-2');

-- DM-3: one unit, gone to a walk-in an hour after it came in.
SET waitlist.test_now = '2034-03-02 09:00+00';
SELECT sku FROM waitlist.upsert_sku('DM-3', 'Stool', confirm_signups => false);
SELECT waitlist.subscribe('DM-3', 'f1@example.com') > 0 AS f1;
SELECT waitlist.restock('DM-3', 1);
SET waitlist.test_now = '2034-03-02 10:00+00';
SELECT waitlist.place_backorder('DM-W1', 'DM-3', 1, 'W', 'w@example.com') > 0 AS walk_in;

-- Every SKU with demand, most first (DM-2's 20 people, DM-1's 10 + 5 units,
-- DM-3's one person who kept the place).
SELECT sku, people_waiting, paid_units_waiting, suggested_reorder
  FROM waitlist.demand() WHERE sku LIKE 'DM-%';
-- Fastest sell-outs, from the sell-out history: DM-3 (1 hour), then DM-2
-- (3 hours).  DM-3 sells out again on 2 March: restocked at 11:00, gone
-- to a second walk-in at 16:00 (5 hours).  Its typical time is the median
-- of its two (the lower of two: 1 hour), its fastest 1 hour.  F1, told
-- twice, kept her place once already: nobody waits for DM-3 any more.
SET waitlist.test_now = '2034-03-02 11:00+00';
SELECT waitlist.restock('DM-3', 1);
SET waitlist.test_now = '2034-03-02 16:00+00';
SELECT waitlist.place_backorder('DM-W2', 'DM-3', 1, 'W2', 'w2@example.com') > 0 AS walk_in;
SELECT sku, on_sale_at, sold_out_at FROM waitlist.sale_period WHERE sku LIKE 'DM-%' ORDER BY sku, on_sale_at;
SELECT sku, sellouts, fastest, typical, last_sold_out_at, people_waiting
  FROM waitlist.fastest_sellouts('2034-03-01', '2034-03-31', 1000) WHERE sku LIKE 'DM-%';
-- A range that ends before DM-3's second sell-out: one each.
SELECT sku, sellouts, fastest, typical
  FROM waitlist.fastest_sellouts('2034-03-01', '2034-03-01') WHERE sku LIKE 'DM-%';

-- The sign-up trend: DM-1 gets two more on 3 March; every day is listed.
SET waitlist.test_now = '2034-03-03 09:00+00';
SELECT waitlist.subscribe('DM-1', 'd11@example.com') > 0 AS d11, waitlist.subscribe('DM-1', 'd12@example.com') > 0 AS d12;
SELECT * FROM waitlist.signup_trend('2034-03-01', '2034-03-03', 'DM-1');
SELECT sku, sum(signups) AS signups, count(*) AS days FROM waitlist.signup_trend('2034-03-01', '2034-03-03')
 WHERE sku LIKE 'DM-%' GROUP BY sku ORDER BY sku;

-- Shoppers who keep finding products out of stock: R1 four times over two
-- SKUs, R2 twice, an in-stock view and anonymous views do not count.
SELECT waitlist.record_view('DM-1', 'r1', 'notify_me'), waitlist.record_view('DM-1', 'r1', 'out_of_stock'),
	   waitlist.record_view('DM-3', 'r1', 'notify_me'), waitlist.record_view('DM-3', 'r1', 'notify_me'),
	   waitlist.record_view('DM-2', 'r1', 'in_stock'),
	   waitlist.record_view('DM-1', 'r2', 'notify_me'), waitlist.record_view('DM-3', 'r2', 'notify_me'),
	   waitlist.record_view('DM-1', NULL, 'notify_me'), waitlist.record_view('DM-1', NULL, 'notify_me'),
	   waitlist.record_view('DM-1', NULL, 'notify_me');
SELECT * FROM waitlist.repeat_oos_visitors('2034-03-03', '2034-03-03');
SELECT visitor, views FROM waitlist.repeat_oos_visitors('2034-03-03', '2034-03-03', 2);

-- What became of DM-2's 25 back_in_stock emails: 5 not sent (the buyers'),
-- of the others 10 delivered, 4 of those opened, 2 of those clicked, one
-- bounced afterwards (so 9 count as delivered).
SELECT count(*) FILTER (WHERE waitlist.record_event(id::text, 'delivered')) AS delivered,
	   count(*) FILTER (WHERE n <= 4 AND waitlist.record_event(id::text, 'opened')) AS opened,
	   count(*) FILTER (WHERE n <= 2 AND waitlist.record_event(id::text, 'clicked')) AS clicked,
	   count(*) FILTER (WHERE n = 10 AND waitlist.record_event(id::text, 'bounced')) AS bounced
  FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM waitlist.outbox
		 WHERE sku = 'DM-2' AND kind = 'back_in_stock' AND state <> 'skipped' ORDER BY id LIMIT 10) o;
SELECT * FROM waitlist.message_outcomes('2034-03-01', '2034-03-01', 'DM-2');

-- A backorder partly filled counts what it still misses: 3 units fill
-- B1's 2 and one of B2's 3, so 2 units wait; ceil(12 x 0.115) = 2 more.
SELECT waitlist.restock('DM-1', 3);
SELECT people_waiting, paid_units_waiting, suggested_reorder FROM waitlist.demand('DM-1');

-- Bad input.
SELECT try($$SELECT * FROM waitlist.fastest_sellouts('2034-03-01', '2034-03-02', 0)$$);
SELECT try($$SELECT * FROM waitlist.fastest_sellouts('2034-03-02', '2034-03-01')$$);
SELECT try($$SELECT * FROM waitlist.repeat_oos_visitors('2034-03-01', '2034-03-02', 0)$$);
RESET waitlist.test_now;
