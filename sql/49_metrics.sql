-- What the lists tell the merchant: page views (record_view), the promised
-- ship date of each line, and metrics() over a range of days (UTC), each
-- number counted here by hand.  Everything happens in January-February
-- 2033, which no other test touches.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2033-01-10 09:00+00';

-- MX-1: out of stock, then backorders against a confirmed restock date.
SELECT sku FROM waitlist.upsert_sku('MX-1', 'Lamp', restock_date => '2033-01-20',
									restock_confirmed => true, confirm_signups => false);
-- 10 views that offered a sign-up or nothing: 6 notify_me, 4 out_of_stock
-- (two anonymous); 20 that offered a backorder; 3 in stock.
SELECT waitlist.record_view('MX-1', 'v' || i, 'notify_me') FROM generate_series(1, 6) i;
SELECT waitlist.record_view('MX-1', v, 'out_of_stock') FROM unnest(ARRAY['v1', 'v7', NULL, NULL]) v;
SELECT waitlist.record_view('MX-1', 'b' || i, 'backorder') FROM generate_series(1, 20) i;
SELECT waitlist.record_view('MX-1', 'v1', 'in_stock') FROM generate_series(1, 3);
-- 2 sign-ups; 3 backorders (one cancelled), each promised the restock date.
SELECT waitlist.subscribe('MX-1', 'a@example.com') > 0 AS a, waitlist.subscribe('MX-1', 'b@example.com') > 0 AS b;
SELECT waitlist.place_backorder('MX-B1', 'MX-1', 1, 'B1', 'b1@example.com') > 0 AS b1,
	   waitlist.place_backorder('MX-B2', 'MX-1', 2, 'B2', 'b2@example.com') > 0 AS b2,
	   waitlist.place_backorder('MX-B3', 'MX-1', 1, 'B3', 'b3@example.com') > 0 AS b3;
SELECT waitlist.cancel_line('MX-1', id) FROM waitlist.line WHERE order_ref = 'MX-B3';
SELECT order_ref, promised_on FROM waitlist.line WHERE sku = 'MX-1' ORDER BY order_ref;

-- MX-2: four sign-ups; restocked twice within 48 hours.  The first wave
-- (2 units, 11 Jan 09:00) tells C and D, the second (1 unit, 12 Jan 09:00)
-- tells E; F is never told.  C buys exactly 48 hours after her message
-- (counted), D one second later (not counted), E not at all.
SELECT sku FROM waitlist.upsert_sku('MX-2', 'Desk', confirm_signups => false, send_sold_out_again => false);
SELECT waitlist.subscribe('MX-2', x || '@example.com') > 0 AS joined FROM unnest(ARRAY['c', 'd', 'e', 'f']) x;
SET waitlist.test_now = '2033-01-11 09:00+00';
SELECT waitlist.restock('MX-2', 2);
SET waitlist.test_now = '2033-01-12 09:00+00';
SELECT waitlist.restock('MX-2', 1);
SET waitlist.test_now = '2033-01-13 09:00:01+00';
SELECT waitlist.record_purchase('MX-2', 'c@example.com', 'WEB-C', '2033-01-13 09:00+00') AS c_converted,
	   waitlist.record_purchase('MX-2', 'd@example.com', 'WEB-D', '2033-01-13 09:00:01+00') AS d_converted;

-- MX-3: pre-orders promised for 1 Feb; one ships on the day, one two days late.
SET waitlist.test_now = '2033-01-10 09:00+00';
SELECT sku FROM waitlist.upsert_sku('MX-3', 'Kettle', status => 'upcoming');
SELECT status, ships_on FROM waitlist.open_preorders('MX-3', 100, 80, '2033-01-25', '2033-02-01');
SELECT waitlist.place_preorder('MX-P1', 'MX-3', 1, 'P1', 'p1@example.com', NULL, 'dtc', 40, 'USD') > 0 AS p1,
	   waitlist.place_preorder('MX-P2', 'MX-3', 1, 'P2', 'p2@example.com', NULL, 'dtc', 40, 'USD') > 0 AS p2;
SELECT order_ref, promised_on FROM waitlist.line WHERE sku = 'MX-3' ORDER BY order_ref;
SET waitlist.test_now = '2033-02-01 10:00+00';
SELECT waitlist.restock('MX-3', 2);
SELECT waitlist.ship_line('MX-3', id) FROM waitlist.line WHERE order_ref = 'MX-P1';
SET waitlist.test_now = '2033-02-03 10:00+00';
SELECT waitlist.ship_line('MX-3', id) FROM waitlist.line WHERE order_ref = 'MX-P2';

-- MX-1 over 10 January: sign-ups 2 / 10 views = 0.20 (in the band, its
-- top); backorders 3 / 20 = 0.15; cancelled 1 / 3 = 0.3333 (above 15%);
-- nobody was notified and no pre-order shipped: no data.
SELECT * FROM waitlist.metrics('2033-01-10', '2033-01-10', 'MX-1');
-- MX-2 over January: 4 sign-ups and no views (no data); notified 3 (C, D,
-- E; each once), bought within 48 hours 1 (C): 0.3333.
SELECT metric, value, numerator, denominator, verdict FROM waitlist.metrics('2033-01-01', '2033-01-31', 'MX-2');
-- MX-3 over February: shipped 2, on time 1: 0.5, below 90%.
SELECT metric, value, numerator, denominator, verdict
  FROM waitlist.metrics('2033-02-01', '2033-02-28', 'MX-3') WHERE metric = 'preorder_on_time';
-- Every SKU, January: sign-ups 2 + 4 = 6 over the 10 views; the rest as
-- above.  (Revenue capture left out: SKUs of earlier files that sold out
-- are still out of stock in 2033; sql/51_revenue counts it.)
SELECT metric, value, numerator, denominator, target, verdict FROM waitlist.metrics('2033-01-01', '2033-01-31')
 WHERE metric <> 'revenue_capture';
-- A range with nothing in it.
SELECT metric, value, numerator, denominator, verdict FROM waitlist.metrics('2033-06-01', '2033-06-30');

-- The roll-up: days that ended over an hour ago, once each; the numbers
-- do not move.  10 January is rolled up on 11 January 01:00, not before.
SET waitlist.test_now = '2033-01-11 00:59+00';
SELECT waitlist.roll_up_views() AS days;
SET waitlist.test_now = '2033-01-11 01:00+00';
SELECT waitlist.roll_up_views() AS days;
SELECT waitlist.roll_up_views() AS again;
SELECT sku, day, shown, views, visitors FROM waitlist.view_day WHERE sku = 'MX-1' ORDER BY shown;
SELECT metric, value, numerator, denominator FROM waitlist.metrics('2033-01-10', '2033-01-10', 'MX-1');
-- A view made today is counted from the raw rows until its day is rolled up.
SELECT waitlist.record_view('MX-1', 'v9', 'notify_me');
SELECT shown, sum(views) AS views FROM waitlist.views_by_day('2033-01-10', '2033-01-11', 'MX-1') GROUP BY shown ORDER BY shown;

-- Bad input: refused with a SQLSTATE, nothing written.
SELECT try($$SELECT waitlist.record_view('NO-SUCH', 'v1', 'notify_me')$$);
SELECT try($$SELECT waitlist.record_view('MX-1', 'v1', 'sold_out')$$);
SELECT try($$SELECT waitlist.record_view(NULL, 'v1', 'notify_me')$$);
SELECT try($$SELECT waitlist.record_view('MX-1', 'v1', NULL)$$);
SELECT try($$SELECT waitlist.record_view('MX-1', repeat('v', 201), 'notify_me')$$);
-- A day range the functions cannot read is refused before anything is read.
SELECT try($$SELECT * FROM waitlist.metrics('-infinity', '2033-01-31')$$);
SELECT try($$SELECT * FROM waitlist.views_by_day('2033-01-31', 'infinity')$$);
SELECT try($$SELECT * FROM waitlist.metrics('2033-01-31', '2033-01-01')$$);
SELECT try($$SELECT * FROM waitlist.signup_trend(NULL, '2033-01-01')$$);
SELECT try($$SELECT * FROM waitlist.message_outcomes('2000-01-01', '2033-01-01')$$);
SELECT try($$SELECT * FROM waitlist.repeat_oos_visitors('2023-01-01', '2033-01-31')$$);
-- ten years is read
SELECT count(*) AS metrics FROM waitlist.metrics('2023-01-02', '2033-01-01');
SELECT count(*) AS views FROM waitlist.page_view WHERE sku = 'MX-1';
RESET waitlist.test_now;
