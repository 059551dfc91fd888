-- Backorders: FIFO allocation at commit, partial fills, cancellation,
-- shipment, queue positions, stock counts going down, moved ETAs.
-- The calendar dates below lie before the day the suite runs only if the
-- extension's clock is held still: the test clock stands at a moment
-- before all of them (sessions of their own, so nothing else sees it).
SET waitlist.test_now = '2026-11-20 09:00+00';
SELECT sku FROM waitlist.upsert_sku('BOOT', title => 'Trail boot', restock_date => '2026-12-05',
                                    restock_confirmed => true);
SELECT waitlist.place_backorder('A-1', 'BOOT', 2, 'Ann', 'ann@example.com') AS a1;
SELECT waitlist.place_backorder('B-1', 'BOOT', 3, 'Ben', phone => '+14155550100') AS b1;
SELECT waitlist.place_backorder('C-1', 'BOOT', 1, 'Cy', 'cy@example.com', '+14155550101') AS c1;
-- Placing the same order line again returns the same line.
SELECT waitlist.place_backorder('A-1', 'BOOT', 2, 'Ann', 'ann@example.com') AS a1_again;
SELECT kind, channel, recipient, payload->>'order_ref' AS order_ref,
       payload->>'expected_ship_date' AS ship_date, payload->>'cancel_allowed' AS cancel
  FROM waitlist.outbox WHERE sku = 'BOOT' ORDER BY id;
SELECT * FROM waitlist.queue_position(1);
SELECT * FROM waitlist.queue_position(3);
SELECT * FROM stock('BOOT');

-- Bad input and refusals.
SELECT try($$SELECT waitlist.place_backorder('A-1', 'BOOT', 5, 'Ann', 'ann@example.com')$$);
SELECT try($$SELECT waitlist.place_backorder('D-1', 'BOOT', 0, 'D', 'd@example.com')$$);
SELECT try($$SELECT waitlist.place_backorder('D-1', 'BOOT', -2, 'D', 'd@example.com')$$);
SELECT try($$SELECT waitlist.place_backorder('D-1', 'BOOT', NULL, 'D', 'd@example.com')$$);
SELECT try($$SELECT waitlist.place_backorder(NULL, 'BOOT', 1, 'D', 'd@example.com')$$);
SELECT try($$SELECT waitlist.place_backorder('D-1', 'NOPE', 1, 'D', 'd@example.com')$$);
SELECT try($$SELECT waitlist.place_backorder('D-1', 'BOOT', 1, 'D')$$);
SELECT try($$SELECT waitlist.place_backorder('D-1', 'BOOT', 1, 'D', 'bad@')$$);
SELECT try($$SELECT waitlist.place_backorder(repeat('r', 101), 'BOOT', 1, 'D', 'd@example.com')$$);
SELECT try($$SELECT waitlist.place_backorder('D-1', 'OLD', 1, 'D', 'd@example.com')$$);
SELECT count(*) AS lines_after_bad_input FROM waitlist.line WHERE order_ref = 'D-1';

-- 4 units: A-1 gets 2, B-1 gets 2 of 3 (partial), C-1 waits behind it.
SELECT waitlist.restock('BOOT', 4);
SELECT order_ref, qty, allocated, status FROM waitlist.line_status WHERE sku = 'BOOT' ORDER BY id;
SELECT * FROM waitlist.queue_position(2);
SELECT * FROM waitlist.queue_position(3);
SELECT waitlist.tick();
SELECT kind, recipient, payload->>'allocated_now' AS now, payload->>'allocated_total' AS total
  FROM waitlist.outbox WHERE sku = 'BOOT' AND kind IN ('allocated', 'ready_to_ship') ORDER BY id;
SELECT * FROM stock('BOOT');

-- Only a fully allocated line ships.
SELECT try($$SELECT waitlist.ship_line(2)$$);
SELECT waitlist.ship_line(1);
SELECT try($$SELECT waitlist.ship_line(1)$$);
SELECT try($$SELECT waitlist.cancel_line(1)$$);
SELECT try($$SELECT waitlist.ship_line(999)$$);
SELECT try($$SELECT waitlist.ship_line(NULL)$$);
SELECT kind, recipient, payload->>'units' AS units FROM waitlist.outbox WHERE kind = 'shipped';
SELECT * FROM stock('BOOT');

-- Cancelling B-1 frees its 2 units for C-1 (at commit).
SELECT waitlist.cancel_line(2);
SELECT order_ref, qty, allocated, status FROM waitlist.line_status WHERE sku = 'BOOT' ORDER BY id;
SELECT try($$SELECT waitlist.cancel_line(2)$$);
SELECT try($$SELECT waitlist.cancel_line(999)$$);
SELECT * FROM stock('BOOT');

-- Holes are skipped: cancel a waiting line, then restock past it.
SELECT waitlist.place_backorder('E-1', 'BOOT', 2, 'Eve', 'eve@example.com') AS e1;
SELECT waitlist.place_backorder('F-1', 'BOOT', 2, 'Fay', 'fay@example.com') AS f1;
SELECT waitlist.place_backorder('G-1', 'BOOT', 2, 'Gus', 'gus@example.com') AS g1;
SELECT waitlist.cancel_line(5);
SELECT waitlist.restock('BOOT', 3);
SELECT order_ref, qty, allocated, status FROM waitlist.line_status WHERE sku = 'BOOT' ORDER BY id;
SELECT * FROM stock('BOOT');

-- A stock count below the allocated units takes them back from the most
-- recent allocations first (FIFO holds).
SELECT waitlist.set_on_hand('BOOT', 2);
SELECT order_ref, qty, allocated, status FROM waitlist.line_status WHERE sku = 'BOOT' ORDER BY id;
SELECT * FROM stock('BOOT');
SELECT waitlist.set_on_hand('BOOT', 5);
SELECT order_ref, qty, allocated, status FROM waitlist.line_status WHERE sku = 'BOOT' ORDER BY id;

-- Free units and nobody ahead: a new backorder is allocated at its commit.
SELECT waitlist.restock('BOOT', 2);
SELECT waitlist.place_backorder('H-1', 'BOOT', 1, 'Hal', 'hal@example.com') AS h1;
SELECT order_ref, allocated, status FROM waitlist.line_status WHERE order_ref = 'H-1';
SELECT payload->>'in_stock' AS in_stock FROM waitlist.outbox
 WHERE kind = 'backorder_confirmed' AND payload->>'order_ref' = 'H-1';

-- Moving the restock date tells the lines still short of units, once.
SELECT waitlist.place_backorder('I-1', 'BOOT', 4, 'Ivy', 'ivy@example.com') AS i1;
SELECT restock_date FROM waitlist.upsert_sku('BOOT', restock_date => '2026-12-19');
SELECT restock_date FROM waitlist.upsert_sku('BOOT', restock_date => '2026-12-19');
SELECT recipient, payload->>'previous_date' AS was, payload->>'expected_ship_date' AS now
  FROM waitlist.outbox WHERE kind = 'eta_changed' ORDER BY id;

-- A transaction that rolls back allocates and queues nothing.
BEGIN;
SELECT waitlist.restock('BOOT', 10);
ROLLBACK;
-- A rolled-back savepoint forgets its restock; the rest commits.
BEGIN;
SELECT waitlist.restock('BOOT', 1);
SAVEPOINT s1;
SELECT waitlist.restock('BOOT', 10);
ROLLBACK TO SAVEPOINT s1;
COMMIT;
SELECT order_ref, qty, allocated, status FROM waitlist.line_status WHERE sku = 'BOOT' ORDER BY id;
SELECT * FROM stock('BOOT');

-- Units taken back before the batch is expanded: no ready_to_ship for the
-- line that lost them; given back later, it is told once.
SELECT sku FROM waitlist.upsert_sku('BELT');
SELECT waitlist.place_backorder('J-1', 'BELT', 2, 'Jo', 'jo@example.com') AS j1;
SELECT waitlist.restock('BELT', 2);
SELECT waitlist.set_on_hand('BELT', 0);
SELECT waitlist.tick() AS expanded;
SELECT count(*) AS ready_messages FROM waitlist.outbox WHERE kind = 'ready_to_ship' AND sku = 'BELT';
SELECT waitlist.set_on_hand('BELT', 2);
SELECT waitlist.tick() AS expanded;
SELECT waitlist.set_on_hand('BELT', 0);
SELECT waitlist.set_on_hand('BELT', 2);
SELECT waitlist.tick() AS expanded;
SELECT kind, recipient, idempotency_key FROM waitlist.outbox
 WHERE kind = 'ready_to_ship' AND sku = 'BELT';
-- Stock counted down earlier in the same transaction: shipping is refused
-- clearly instead of breaking a constraint.
BEGIN;
SELECT waitlist.set_on_hand('BELT', 0);
SELECT try($$SELECT waitlist.ship_line(9)$$);
ROLLBACK;
SELECT waitlist.ship_line(9);
