-- Urgency that is true: a back_in_stock message says how many units this
-- wave brought (not everything on hand), the person's place among the
-- people the wave told ("you were #2 of 3"), and, once known, how long the
-- SKU lasted on sale the last time before it sold out.  Driven by the test
-- clock.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2030-12-01 09:00+00';
SELECT sku FROM waitlist.upsert_sku('UR-1', 'Kettle', confirm_signups => false, send_sold_out_again => false);
SELECT waitlist.subscribe('UR-1', 'u' || i || '@example.com') > 0 AS joined FROM generate_series(1, 6) i;
SELECT in_stock_since, last_sellout FROM waitlist.sku WHERE sku = 'UR-1';

-- Two units: the first two in line are told; nothing is known yet about
-- how fast it sells.
SELECT waitlist.restock('UR-1', 2);
SELECT tick_for('UR-1') AS written;
SELECT recipient, payload->>'units_available' AS units, payload->>'place_in_line' AS place,
	   payload->>'told_in_wave' AS told, payload->>'last_sold_out_in_seconds' AS last_sold_out
  FROM waitlist.outbox WHERE sku = 'UR-1' AND kind = 'back_in_stock' ORDER BY recipient;
SELECT in_stock_since, last_sellout FROM waitlist.sku WHERE sku = 'UR-1';

-- Three hours later both units are ordered: sold out after 3 hours on sale.
SET waitlist.test_now = '2030-12-01 11:00+00';
SELECT waitlist.place_backorder('UR-O1', 'UR-1', 1, 'One', 'u1@example.com') > 0 AS one;
SET waitlist.test_now = '2030-12-01 12:00+00';
SELECT waitlist.place_backorder('UR-O2', 'UR-1', 1, 'Two', 'walkin@example.com') > 0 AS two;
SELECT on_hand, allocated, in_stock_since, last_sellout FROM waitlist.sku WHERE sku = 'UR-1';

-- The next day, three units: u2, told last time and who bought nothing,
-- kept the place (first), then u3 and u4 are told, #1 to #3, that last
-- time it sold out in 3 hours (10800 s).  A unit more an hour later is a
-- wave of its own: one unit, one person (u5).
SET waitlist.test_now = '2030-12-02 09:00+00';
SELECT waitlist.restock('UR-1', 3);
SET waitlist.test_now = '2030-12-02 10:00+00';
SELECT waitlist.restock('UR-1', 1);
SELECT tick_for('UR-1') AS written;
SELECT recipient, payload->>'units_available' AS units, payload->>'place_in_line' AS place,
	   payload->>'told_in_wave' AS told, payload->>'last_sold_out_in_seconds' AS last_sold_out
  FROM waitlist.outbox WHERE sku = 'UR-1' AND kind = 'back_in_stock' AND created_at >= '2030-12-02'
 ORDER BY payload->>'units_available' DESC, place;

-- A sign-up who left before the wave is not counted in the places.
SELECT sku FROM waitlist.upsert_sku('UR-2', 'Pan', confirm_signups => false, send_sold_out_again => false);
SELECT waitlist.subscribe('UR-2', 'v' || i || '@example.com') > 0 AS joined FROM generate_series(1, 3) i;
SELECT waitlist.unsubscribe(id) FROM waitlist.subscriber WHERE sku = 'UR-2' AND email = 'v2@example.com';
SELECT waitlist.restock('UR-2', 5);
SELECT tick_for('UR-2') AS written;
SELECT recipient, payload->>'units_available' AS units, payload->>'place_in_line' AS place,
	   payload->>'told_in_wave' AS told
  FROM waitlist.outbox WHERE sku = 'UR-2' AND kind = 'back_in_stock' ORDER BY place;
SELECT count(*) AS violations FROM waitlist.check_invariants() WHERE sku LIKE 'UR-%';
RESET waitlist.test_now;
