-- Two-phase commit (Citus commits a transaction that spans workers this
-- way): the allocation runs at PREPARE TRANSACTION, the messages are there
-- once COMMIT PREPARED returns, and ROLLBACK PREPARED leaves nothing.
-- No NOTIFY is sent (PostgreSQL refuses one in a prepared transaction).
SELECT sku FROM waitlist.upsert_sku('TENT', title => 'Tent', confirm_signups => false);
SELECT sku FROM waitlist.upsert_sku('POLE', title => 'Pole', confirm_signups => false);
SELECT waitlist.place_backorder('T-1', 'TENT', 2, 'Ann', 'ann@example.com') AS t1 \gset
SELECT waitlist.place_backorder('P-1', 'POLE', 1, 'Bob', 'bob@example.com') AS p1 \gset
SELECT count(waitlist.subscribe('TENT', 'tent' || g || '@example.com')) FROM generate_series(1, 3) g;
SELECT waitlist.tick() >= 0 AS confirmations_written;

-- Rolled back after PREPARE: nothing allocated, no batch, no message.
BEGIN;
SELECT waitlist.restock('TENT', 3);
SELECT waitlist.restock('POLE', 1);
PREPARE TRANSACTION 'wl_cart_1';
SELECT gid FROM pg_prepared_xacts WHERE gid = 'wl_cart_1';
ROLLBACK PREPARED 'wl_cart_1';
SELECT * FROM stock('TENT');
SELECT * FROM stock('POLE');
SELECT count(*) AS batches FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku
 WHERE s.sku IN ('TENT', 'POLE');
SELECT waitlist.tick() AS expanded;
SELECT count(*) AS messages FROM waitlist.outbox
 WHERE sku IN ('TENT', 'POLE') AND kind IN ('ready_to_ship', 'back_in_stock', 'sold_out_again');

-- Committed after PREPARE: allocated at PREPARE, visible at COMMIT PREPARED.
BEGIN;
SELECT waitlist.restock('TENT', 3);
SELECT waitlist.restock('POLE', 1);
PREPARE TRANSACTION 'wl_cart_2';
-- This session would see a NOTIFY as soon as COMMIT PREPARED returns.
LISTEN waitlist;
-- Not visible before COMMIT PREPARED.
SELECT * FROM stock('TENT');
COMMIT PREPARED 'wl_cart_2';
SELECT * FROM stock('TENT');
SELECT * FROM stock('POLE');
SELECT order_ref, allocated, status FROM waitlist.line_status
 WHERE sku IN ('TENT', 'POLE') ORDER BY order_ref;
-- No notification arrived (psql prints one after the statement that got it).
UNLISTEN waitlist;
SELECT waitlist.tick() AS expanded;
SELECT kind, recipient FROM waitlist.outbox
 WHERE sku IN ('TENT', 'POLE') AND kind IN ('ready_to_ship', 'back_in_stock', 'sold_out_again')
 ORDER BY kind, recipient;
SELECT * FROM waitlist.check_invariants() WHERE sku IN ('TENT', 'POLE');
