-- Purchases: an order made elsewhere (record_purchase) or placed through the
-- extension converts the buyer's earlier sign-ups for the SKU (they leave the
-- list, status converted), skips their pending back_in_stock messages, and
-- for waitlist.purchase_window (default 30 days) no wave message reaches the
-- buyer for that SKU.  Driven by the test clock.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2030-10-01 10:00+00';
SELECT sku FROM waitlist.upsert_sku('PU-1', 'Jacket', confirm_signups => false);
SHOW waitlist.purchase_window;
SELECT waitlist.subscribe('PU-1', 'ann@example.com', '+14155550301') > 0 AS ann;
SELECT waitlist.subscribe('PU-1', 'Bob@Example.com') > 0 AS bob;
SELECT waitlist.subscribe('PU-1', NULL, '+14155550303') > 0 AS cy;
SELECT waitlist.subscribe('PU-1', 'dee@example.com') > 0 AS dee;
SELECT waitlist.waiting_count('PU-1') AS waiting;

-- Bob bought on a marketplace yesterday evening (any case of his address).
SET waitlist.test_now = '2030-10-02 09:00+00';
SELECT waitlist.record_purchase('PU-1', 'bob@EXAMPLE.com', 'MKT-77', '2030-10-01 20:00+00') AS bob_converted;
-- The same report again changes nothing.
SELECT waitlist.record_purchase('PU-1', 'bob@example.com', 'MKT-77', '2030-10-01 20:00+00') AS again;
-- Cy's phone bought before Cy signed up: that sign-up stays (it came after).
SELECT waitlist.record_purchase('PU-1', '+14155550303', 'MKT-78', '2030-09-30 12:00+00') AS cy_converted;
-- Dee orders through the extension: a backorder converts her sign-up too.
SELECT waitlist.place_backorder('PU-O1', 'PU-1', 1, 'Dee', 'DEE@example.com') > 0 AS dee_ordered;
SELECT u.email, u.phone, st.status, u.unsubscribed_at IS NOT NULL AS left_at
  FROM waitlist.subscriber u JOIN waitlist.subscriber_status st ON st.id = u.id
 WHERE u.sku = 'PU-1' ORDER BY u.pos;
SELECT waitlist.waiting_count('PU-1') AS waiting;
SELECT order_ref, contact, at, source, converted FROM waitlist.purchase WHERE sku = 'PU-1' ORDER BY order_ref, contact;

-- The restock: 3 units; Dee's backorder takes one, the sign-ups still on the
-- list (Ann, Cy) are told; Bob and Dee hear nothing of the wave.
SELECT waitlist.restock('PU-1', 3);
SELECT tick_for('PU-1') > 0 AS wrote;
SELECT kind, channel, recipient FROM waitlist.outbox
 WHERE sku = 'PU-1' AND kind IN ('back_in_stock', 'sold_out_again') ORDER BY kind, recipient;
SELECT count(*) AS violations FROM waitlist.check_invariants() WHERE sku = 'PU-1';

-- Ann's email waits behind her SMS; she buys in the shop's own checkout:
-- the email is skipped, her sign-up converted.
SET waitlist.test_now = '2030-10-02 09:10+00';
SELECT waitlist.record_purchase('PU-1', 'ann@example.com', 'WEB-5') AS ann_converted;
SELECT channel, state, last_error FROM waitlist.outbox
 WHERE sku = 'PU-1' AND kind = 'back_in_stock' AND recipient = 'ann@example.com';

-- A sign-up made after buying hears no wave for purchase_window: Eve bought
-- today, Hal 32 days ago (his window is over); one unit each for them, Fay
-- hears that it sold out.  Eve's turn passes without a message: the unit
-- that wave offered her stays on sale, unannounced.
SET waitlist.test_now = '2030-10-03 10:00+00';
SELECT sku FROM waitlist.upsert_sku('PU-2', 'Boots', confirm_signups => false);
SELECT waitlist.record_purchase('PU-2', 'eve@example.com', 'MKT-90') AS eve_converted;
SELECT waitlist.record_purchase('PU-2', 'hal@example.com', 'MKT-60', '2030-09-01 10:00+00') AS hal_converted;
SELECT waitlist.subscribe('PU-2', 'eve@example.com') > 0 AS eve_after;
SELECT waitlist.subscribe('PU-2', 'hal@example.com') > 0 AS hal_after;
SELECT waitlist.subscribe('PU-2', 'fay@example.com') > 0 AS fay;
SELECT waitlist.restock('PU-2', 2);
SELECT tick_for('PU-2') AS written;
SELECT kind, recipient FROM waitlist.outbox WHERE sku = 'PU-2' ORDER BY kind, recipient;
-- 0 turns the window off.
SET waitlist.test_now = '2030-11-03 10:00+00';
SELECT sku FROM waitlist.upsert_sku('PU-3', 'Hat', confirm_signups => false);
SELECT waitlist.record_purchase('PU-3', 'gus@example.com', 'MKT-91') AS gus_converted;
SELECT waitlist.subscribe('PU-3', 'gus@example.com') > 0 AS gus_after;
SET waitlist.purchase_window = 0;
SELECT waitlist.restock('PU-3', 1);
SELECT tick_for('PU-3') AS written;
RESET waitlist.purchase_window;

-- Bad input: each refused with its SQLSTATE, nothing recorded.
SELECT try($$SELECT waitlist.record_purchase('PU-NONE', 'x@example.com', 'R1')$$);
SELECT try($$SELECT waitlist.record_purchase(NULL, 'x@example.com', 'R1')$$);
SELECT try($$SELECT waitlist.record_purchase('PU-1', NULL, 'R1')$$);
SELECT try($$SELECT waitlist.record_purchase('PU-1', 'x@example.com', NULL)$$);
SELECT try($$SELECT waitlist.record_purchase('PU-1', 'not an address', 'R1')$$);
SELECT try($$SELECT waitlist.record_purchase('PU-1', 'x@example.com', '')$$);
SELECT try($$SELECT waitlist.record_purchase('PU-1', 'x@example.com', repeat('r', 101))$$);
SELECT try($$SELECT waitlist.record_purchase('PU-1', 'x@example.com', 'R1', 'infinity')$$);
SELECT try($$SELECT waitlist.record_purchase('PU-1', 'x@example.com', 'R1', '2030-11-03 11:00:01+00')$$);
SELECT count(*) AS purchases FROM waitlist.purchase WHERE order_ref = 'R1';
SELECT try($$SET waitlist.purchase_window = -1$$);

-- A SKU nobody ever signed up for (no sign-up to convert, no wave message to
-- skip, so the order writes its purchase rows without looking for either):
-- a pre-order with email and phone and a backorder each record their
-- contacts; an order reported by record_purchase before, placed again
-- through the extension, keeps the one row; a retried order adds nothing.
SELECT sku FROM waitlist.upsert_sku('PU-NS', 'Never signed up for');
SELECT FROM waitlist.open_preorders('PU-NS', 100, 80, '2030-12-01', '2030-12-15');
SELECT waitlist.place_preorder('PU-NS-1', 'PU-NS', 1, email => 'Eve@Example.com',
	phone => '+14155550399', unit_price => 20, currency => 'USD') > 0 AS eve_ordered;
SELECT waitlist.record_purchase('PU-NS', 'fay@example.com', 'PU-NS-2', '2030-11-03 10:00+00') AS fay_converted;
SELECT waitlist.place_preorder('PU-NS-2', 'PU-NS', 1, email => 'fay@example.com', unit_price => 20, currency => 'USD') > 0 AS fay_ordered;
SELECT waitlist.place_preorder('PU-NS-1', 'PU-NS', 1, email => 'Eve@Example.com',
	phone => '+14155550399', unit_price => 20, currency => 'USD') > 0 AS eve_again;
SELECT sku FROM waitlist.upsert_sku('PU-NB', 'Never signed up for either');
SELECT waitlist.place_backorder('PU-NB-1', 'PU-NB', 1, 'Gus', 'Gus@example.com', '+14155550398') > 0 AS gus_ordered;
SELECT sku, order_ref, contact, source, converted FROM waitlist.purchase
 WHERE sku IN ('PU-NS', 'PU-NB') ORDER BY sku, order_ref, contact;
SELECT count(*) AS violations FROM waitlist.check_invariants() WHERE sku IN ('PU-NS', 'PU-NB');

-- The table has no foreign key to waitlist.sku (the writers check the SKU:
-- 'PU-NONE' above is refused); a row written around them naming no SKU is
-- what check_invariants() reports.
INSERT INTO waitlist.purchase (sku, order_ref, contact, at, source)
VALUES ('PU-GONE', 'PU-GONE-1', 'ivy@example.com', '2030-11-03 10:00+00', 'external');
SELECT invariant, sku, detail FROM waitlist.check_invariants() WHERE sku = 'PU-GONE';
DELETE FROM waitlist.purchase WHERE sku = 'PU-GONE';
SELECT count(*) AS violations FROM waitlist.check_invariants() WHERE sku = 'PU-GONE';
RESET waitlist.test_now;
