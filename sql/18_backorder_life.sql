-- A backorder's whole life on the controllable clock: placed, the restock
-- date moved twice, three weekly backorder_status rounds whose positions
-- move as the lines ahead ship, allocated, shipped.  tick() writes what is
-- due; nothing is written twice.
SET TimeZone = 'UTC';
-- tick_for (00_setup): tick() for the whole database, the messages it wrote for these SKUs.
SET waitlist.test_now = '2027-03-01 09:00+00';
SELECT sku FROM waitlist.upsert_sku('LIFE-1', 'Trail jacket', restock_date => '2027-03-29',
									restock_confirmed => true, confirm_signups => false);
-- Three customers ahead of Dee, in units: 2 + 1 + 3.
SELECT waitlist.place_backorder('LIFE-A', 'LIFE-1', 2, 'Ann', 'ann@example.com') > 0 AS a,
	   waitlist.place_backorder('LIFE-B', 'LIFE-1', 1, 'Bob', 'bob@example.com', '+15550000002') > 0 AS b;
SET waitlist.test_now = '2027-03-02 09:00+00';
SELECT waitlist.place_backorder('LIFE-C', 'LIFE-1', 3, 'Cy', 'cy@example.com') > 0 AS c,
	   waitlist.place_backorder('LIFE-D', 'LIFE-1', 1, 'Dee', 'dee@example.com') > 0 AS d;
-- The first round is due a status interval (7 days) after the first backorder.
SELECT next_status_at, status_round FROM waitlist.sku WHERE sku = 'LIFE-1';
CREATE VIEW status_msgs AS
SELECT o.recipient, o.payload->>'round' AS round, o.payload->>'position' AS pos,
	   o.payload->>'of' AS "of", o.payload->>'units_ahead' AS ahead,
	   o.payload->>'units_waiting' AS units, o.payload->>'expected_ship_date' AS ship,
	   o.payload->>'inbound_status' AS inbound, o.payload->>'cancel_allowed' AS cancel,
	   o.payload->>'order_ref' AS ref
  FROM waitlist.outbox o WHERE o.sku = 'LIFE-1' AND o.kind = 'backorder_status';
-- Nothing is due before then.
SET waitlist.test_now = '2027-03-08 08:59+00';
SELECT tick_for('LIFE-1') AS written;
SELECT count(*) AS statuses FROM status_msgs;
-- The supplier moves the date, twice: each move tells the waiting backorders.
SELECT sku FROM waitlist.upsert_sku('LIFE-1', restock_date => '2027-04-05', restock_confirmed => true);
SELECT sku FROM waitlist.upsert_sku('LIFE-1', restock_date => '2027-04-12', restock_confirmed => true);
SELECT recipient, payload->>'previous_date' AS was, payload->>'expected_ship_date' AS now
  FROM waitlist.outbox WHERE sku = 'LIFE-1' AND kind = 'eta_changed' AND channel = 'email'
 ORDER BY id;
-- Week 1: everyone hears where they stand, even though nothing arrived.
SET waitlist.test_now = '2027-03-08 09:00+00';
SELECT tick_for('LIFE-1') AS written;
SELECT * FROM status_msgs ORDER BY round, ref, recipient;
-- A second tick the same moment writes nothing more.
SELECT count(*) AS statuses FROM status_msgs;
SELECT tick_for('LIFE-1') AS again;
SELECT count(*) AS statuses FROM status_msgs;
SELECT next_status_at, status_round FROM waitlist.sku WHERE sku = 'LIFE-1';
-- Three units arrive: Ann (2) and Bob (1) are allocated and ship.
SELECT waitlist.restock('LIFE-1', 3);
SELECT waitlist.ship_line(id) FROM waitlist.line WHERE order_ref IN ('LIFE-A', 'LIFE-B') ORDER BY id;
-- Week 2: Cy is first now, Dee second with 3 units ahead.
SET waitlist.test_now = '2027-03-15 09:00+00';
SELECT tick_for('LIFE-1') AS written;
SELECT * FROM status_msgs WHERE round = '2' ORDER BY ref;
-- Two units arrive: Cy is partly allocated (2 of 3).
SELECT waitlist.restock('LIFE-1', 2);
-- Week 3: Cy is still short one unit; Dee has 1 unit ahead.
SET waitlist.test_now = '2027-03-22 09:00+00';
SELECT tick_for('LIFE-1') AS written;
SELECT * FROM status_msgs WHERE round = '3' ORDER BY ref;
SELECT payload->>'allocated' AS allocated FROM waitlist.outbox
 WHERE sku = 'LIFE-1' AND kind = 'backorder_status' AND payload->>'round' = '3'
   AND payload->>'order_ref' = 'LIFE-C';
-- Two more: Cy and Dee are allocated, nobody waits: the round due finds
-- nobody to tell and the rounds stop.
SELECT waitlist.restock('LIFE-1', 2);
SELECT tick_for('LIFE-1') AS written;
SET waitlist.test_now = '2027-03-29 09:00+00';
SELECT tick_for('LIFE-1') AS written;
SELECT count(*) FILTER (WHERE round = '4') AS round_4 FROM status_msgs;
SELECT next_status_at, status_round FROM waitlist.sku WHERE sku = 'LIFE-1';
SELECT waitlist.ship_line(id) FROM waitlist.line WHERE order_ref IN ('LIFE-C', 'LIFE-D') ORDER BY id;
-- Dee's whole life, in order.
SELECT kind, payload->>'round' AS round FROM waitlist.outbox
 WHERE sku = 'LIFE-1' AND recipient = 'dee@example.com' ORDER BY id;
-- A new backorder starts the rounds again, a week after it.
SELECT waitlist.place_backorder('LIFE-E', 'LIFE-1', 1, 'Eve', 'eve@example.com') > 0 AS e;
SELECT next_status_at, status_round FROM waitlist.sku WHERE sku = 'LIFE-1';
-- A backorder placed just before a round waits for the next one
-- (it was placed less than half an interval before it).
SET waitlist.test_now = '2027-04-04 09:00+00';
SELECT waitlist.place_backorder('LIFE-F', 'LIFE-1', 1, 'Fay', 'fay@example.com') > 0 AS f;
SET waitlist.test_now = '2027-04-05 09:00+00';
SELECT tick_for('LIFE-1') AS written;
SELECT ref, round, pos, "of" FROM status_msgs WHERE round = '5' ORDER BY ref;
SET waitlist.test_now = '2027-04-12 09:00+00';
SELECT tick_for('LIFE-1') AS written;
SELECT ref, round, pos, "of" FROM status_msgs WHERE round = '6' ORDER BY ref;
-- A SKU's own interval: every 3 days; without a confirmed date the
-- inbound status says so.
SELECT status_interval FROM waitlist.set_schedule('LIFE-1', status_interval => '3 days');
SELECT sku FROM waitlist.upsert_sku('LIFE-1', restock_date => NULL, restock_confirmed => false);
SET waitlist.test_now = '2027-04-19 09:00+00';
SELECT tick_for('LIFE-1') AS written;
SELECT next_status_at, status_round FROM waitlist.sku WHERE sku = 'LIFE-1';
SELECT ref, round, ship, inbound FROM status_msgs WHERE round = '7' ORDER BY ref;
-- A clock that stood still for weeks sends one round, not a burst.
SET waitlist.test_now = '2027-05-30 09:00+00';
SELECT tick_for('LIFE-1') AS written;
SELECT tick_for('LIFE-1') AS again;
SELECT round, count(*) FROM status_msgs WHERE round::int >= 8 GROUP BY round ORDER BY round;
SELECT next_status_at FROM waitlist.sku WHERE sku = 'LIFE-1';
-- A round longer than one chunk (10,000 lines per statement) counts on
-- across the chunks: 10,003 imported backorders of 1-2 units, the first
-- partly served, one cancelled hole in the second chunk.
SET waitlist.test_now = '2027-06-01 09:00+00';
SELECT sku FROM waitlist.upsert_sku('LIFE-BIG', 'Big round', confirm_signups => false);
CREATE TABLE big_lines AS
SELECT g AS seq, 'BIG-' || g AS order_ref, 'LIFE-BIG' AS sku, 1 + g % 2 AS qty,
	   'b' || g || '@example.com' AS email
  FROM generate_series(1, 10003) g;
SELECT waitlist.import_backorders('big_lines') AS imported;
DROP TABLE big_lines;
SELECT waitlist.restock('LIFE-BIG', 1);
SELECT waitlist.cancel_line('LIFE-BIG', id) > -1 AS cancelled
  FROM waitlist.line WHERE sku = 'LIFE-BIG' AND order_ref = 'BIG-10001';
SET waitlist.test_now = '2027-06-08 09:00+00';
SELECT tick_for('LIFE-BIG') AS written;
-- Line g holds qty 1 + g % 2; before BIG-g wait the missing units of the
-- lines ahead (BIG-1 got its one unit; BIG-10001 left).
SELECT payload->>'order_ref' AS ref, payload->>'position' AS pos, payload->>'of' AS "of",
	   payload->>'units_ahead' AS ahead, payload->>'units_waiting' AS units,
	   payload->>'allocated' AS allocated
  FROM waitlist.outbox
 WHERE sku = 'LIFE-BIG' AND kind = 'backorder_status'
   AND payload->>'order_ref' IN ('BIG-1', 'BIG-2', 'BIG-10000', 'BIG-10002', 'BIG-10003')
 ORDER BY (payload->>'position')::int;
SELECT count(*) AS statuses, count(DISTINCT payload->>'position') AS places,
	   sum((payload->>'units_ahead')::bigint) AS sum_ahead
  FROM waitlist.outbox WHERE sku = 'LIFE-BIG' AND kind = 'backorder_status';
-- The same sums, counted the slow way from the lines.
SELECT count(*) AS lines, sum(ahead) AS sum_ahead
  FROM (SELECT sum(l.pos_end - greatest(l.pos_start, s.paid_served))
				 OVER (ORDER BY l.pos_end ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS ahead
		  FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
		 WHERE l.sku = 'LIFE-BIG' AND l.state = 'waiting' AND l.pos_end > s.paid_served) x;
SELECT count(*) AS problems FROM waitlist.check_invariants();
DROP VIEW status_msgs;
RESET waitlist.test_now;
