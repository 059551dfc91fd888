-- Bad data that reaches the outbox: dates are checked at the door, and a
-- message that still cannot be built is dead-lettered with its reason
-- instead of stopping every claim() and tick() for every SKU.
-- The calendar dates below lie before the day the suite runs only if the
-- extension's clock is held still: the test clock stands at a moment
-- before all of them (sessions of their own, so nothing else sees it).
SET waitlist.test_now = '2026-11-20 09:00+00';

-- Each dead letter is also logged as a WARNING naming the unit's id; ids
-- depend on the tests before this one, so warnings are not shown here.
SET client_min_messages = error;

-- Dates outside 2000-01-01..9999-12-31 are refused, and nothing changes.
SELECT try($$SELECT waitlist.upsert_sku('FAR', restock_date => '300000-01-01', restock_confirmed => true)$$);
SELECT try($$SELECT waitlist.upsert_sku('FAR', restock_date => 'infinity')$$);
SELECT try($$SELECT waitlist.upsert_sku('FAR', restock_date => '-infinity')$$);
SELECT try($$SELECT waitlist.upsert_sku('FAR', restock_date => '1999-12-31')$$);
SELECT count(*) AS far_skus FROM waitlist.sku WHERE sku = 'FAR';
SELECT sku FROM waitlist.upsert_sku('FAR-P', title => 'Far pre-order');
SELECT try($$SELECT waitlist.open_preorders('FAR-P', 100, 80, '2026-12-01', '10000-01-01')$$);
SELECT try($$SELECT waitlist.open_preorders('FAR-P', 100, 80, '1970-01-01', '2026-12-10')$$);
SELECT status, preorders_open FROM waitlist.sku WHERE sku = 'FAR-P';
-- The edges are accepted.
SELECT restock_date FROM waitlist.upsert_sku('FAR', restock_date => '9999-12-31', restock_confirmed => true);
SELECT restock_date FROM waitlist.upsert_sku('FAR', restock_date => '2000-01-01');

-- A date stored before the door checked it (or by hand) cannot be formatted
-- into the sign-up confirmation.  Only that confirmation is dead-lettered.
SELECT sku FROM waitlist.upsert_sku('NEAR', title => 'Near', restock_date => '2026-12-20',
                                    restock_confirmed => true);
UPDATE waitlist.sku SET restock_date = '300000-01-01' WHERE sku = 'FAR';
SELECT waitlist.subscribe('NEAR', 'near1@example.com') > 0 AS near1,
       waitlist.subscribe('FAR', 'far@example.com', '+14155550101') > 0 AS far,
       waitlist.subscribe('NEAR', 'near2@example.com') > 0 AS near2;
SELECT kind, channel, recipient, sku, payload->>'expected_restock_date' AS eta
  FROM waitlist.claim('bad-data', 100, kinds => ARRAY['waitlist_joined'])
 WHERE sku IN ('NEAR', 'FAR') ORDER BY id;
SELECT kind, channel, recipient, sku, state, last_error,
       payload->>'unit' AS unit, payload->>'reason' AS reason
  FROM waitlist.outbox WHERE kind = 'message_failed' ORDER BY id;
-- The sign-up keeps its place; nothing is left pending for it.
SELECT count(*) AS still_pending FROM waitlist.unconfirmed_signup;
SELECT waitlist.waiting_count('FAR') AS far_waiting;
-- tick() and expand_batches() go on as well.
SELECT waitlist.subscribe('NEAR', 'near3@example.com') > 0 AS near3;
SELECT waitlist.tick() >= 1 AS ticked;

-- A pre-order line whose ship date cannot be formatted: its confirmation
-- and payment event are dead-lettered, the other SKU's are written.
SELECT status FROM waitlist.open_preorders('FAR-P', 100, 80, '2026-12-01', '2026-12-10');
SELECT sku FROM waitlist.upsert_sku('NEAR-P', title => 'Near pre-order');
SELECT status FROM waitlist.open_preorders('NEAR-P', 100, 80, '2026-12-01', '2026-12-10');
UPDATE waitlist.sku SET ships_on = '300000-01-01' WHERE sku = 'FAR-P';
SELECT waitlist.place_preorder('BD-1', 'FAR-P', 1, 'Far', 'farp@example.com', unit_price => 10, currency => 'USD') > 0 AS far_line,
       waitlist.place_preorder('BD-2', 'NEAR-P', 1, 'Near', 'nearp@example.com', unit_price => 10, currency => 'USD') > 0 AS near_line;
SELECT waitlist.expand_batches(100) >= 2 AS expanded;
SELECT kind, channel, sku FROM waitlist.outbox WHERE sku IN ('NEAR-P', 'FAR-P') ORDER BY id;
SELECT sku, payload->>'unit' AS unit, state, last_error
  FROM waitlist.outbox WHERE kind = 'message_failed' AND sku = 'FAR-P';
SELECT confirm_pending, action_at IS NULL AS no_action_left
  FROM waitlist.line WHERE order_ref = 'BD-1';

-- A batch that fails as a whole (here a constraint the test adds) is
-- dead-lettered; the batch of the other SKU is expanded.
ALTER TABLE waitlist.outbox ADD CONSTRAINT test_refuses_far
	CHECK (sku IS DISTINCT FROM 'FAR' OR kind <> 'back_in_stock') NOT VALID;
SELECT waitlist.restock('FAR', 1), waitlist.restock('NEAR', 1);
SELECT kind, recipient, sku FROM waitlist.claim('bad-data', 100, kinds => ARRAY['back_in_stock'])
 WHERE sku IN ('NEAR', 'FAR') ORDER BY id;
SELECT sku, payload->>'unit' AS unit, state, last_error
  FROM waitlist.outbox WHERE kind = 'message_failed' AND payload->>'unit' = 'batch';
SELECT count(*) AS unexpanded_batches FROM waitlist.batch WHERE expanded_at IS NULL;
ALTER TABLE waitlist.outbox DROP CONSTRAINT test_refuses_far;

-- An error in a statement that writes messages never shows a row: moving a
-- restock date to infinity once failed with 23502 and a DETAIL that showed
-- a waiting customer's outbox row, email included.
SELECT sku FROM waitlist.upsert_sku('LEAKY', restock_date => '2026-12-20', restock_confirmed => true);
SELECT waitlist.place_backorder('LEAK-1', 'LEAKY', 1, 'Pat', 'pat@example.com') > 0 AS backordered;
SELECT try_detail($$SELECT waitlist.upsert_sku('LEAKY', restock_date => 'infinity')$$);
-- Whatever constraint a message insert breaks, the caller sees no row.
ALTER TABLE waitlist.outbox ADD CONSTRAINT test_refuses_eta CHECK (kind <> 'eta_changed') NOT VALID;
SELECT try_detail($$SELECT waitlist.upsert_sku('LEAKY', restock_date => '2026-12-24')$$);
ALTER TABLE waitlist.outbox DROP CONSTRAINT test_refuses_eta;
SELECT restock_date FROM waitlist.sku WHERE sku = 'LEAKY';
RESET client_min_messages;

-- A wave of units x notify_ratio past 2^63 tells the sign-ups; the
-- product overflowed and nobody was told, without an error.
SELECT sku FROM waitlist.upsert_sku('HUGE', notify_ratio => 100);
SELECT waitlist.subscribe('HUGE', 'huge@example.com') > 0 AS signed_up;
SELECT waitlist.restock('HUGE', 92233720368547758);
SELECT sub_served, sub_waiting, announced FROM waitlist.sku WHERE sku = 'HUGE';
SELECT kind, units FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku
 WHERE s.sku = 'HUGE';

-- A cart quantity is digits only (" 1" and "+1" were taken as 1).
SELECT try($$SELECT * FROM waitlist.place_order('BAD-Q', NULL, 'q@example.com', NULL, 'dtc', '[{"sku": "NEAR", "qty": " 1"}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('BAD-Q', NULL, 'q@example.com', NULL, 'dtc', '[{"sku": "NEAR", "qty": "+1"}]')$$);
SELECT count(*) AS bad_q_lines FROM waitlist.line WHERE order_ref = 'BAD-Q';

-- A cap is cut, not rounded, to 2 decimals: 99.999% of 500 is 499 units.
SELECT sku FROM waitlist.upsert_sku('CAP-999');
SELECT preorder_limit, cap_pct FROM waitlist.open_preorders('CAP-999', 500, 99.999, '2026-12-01', '2026-12-10');

-- The policy's thresholds are the admin's: an app role cannot widen them.
CREATE ROLE regress_wl_app;
SET ROLE regress_wl_app;
SELECT try($$SET waitlist.backorder_days = 365$$);
SELECT try($$SET waitlist.out_of_stock_days = 365$$);
SELECT try($$SET waitlist.backorder_min_demand = 0$$);
SELECT try($$SET waitlist.backorder_max_units = 0$$);
RESET ROLE;
DROP ROLE regress_wl_app;

-- track_inventory names a table that exists, and not one of the extension's.
SELECT try($$SELECT waitlist.track_inventory(0, 'sku', 'qty')$$);
SELECT try($$SELECT waitlist.track_inventory('waitlist.sku', 'sku', 'on_hand')$$);

-- A malformed contact is echoed to the caller in the DETAIL only; the
-- server log gets the message without it.
SELECT try_detail($$SELECT waitlist.subscribe('NEAR', 'not-an-email')$$);
SELECT try_detail($$SELECT waitlist.subscribe('NEAR', NULL, '555-0100')$$);

-- The row form of the policy runs with the caller's search_path (it is a
-- plain SQL function, inlined in catalog queries), but its statements do
-- not: an operator planted in a schema first on that path never runs.
SELECT waitlist.set_preorder_channel_limit('NEAR-P', 'amazon', 10);
CREATE SCHEMA planted;
CREATE FUNCTION planted.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'planted operator ran';
	RETURN $1 OPERATOR(pg_catalog.=) $2;
END
$$;
CREATE OPERATOR planted.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = planted.eq);
SET client_min_messages = notice;
SET search_path = planted, pg_catalog, public;
SELECT * FROM waitlist.set_channel('hijack-test', title => 'Hijack test') WHERE false;
SELECT (waitlist.policy(s, 'amazon')).decision FROM waitlist.sku s WHERE s.sku = 'NEAR-P';
RESET search_path;
RESET client_min_messages;
DROP SCHEMA planted CASCADE;
DELETE FROM waitlist.channel_rule WHERE channel = 'hijack-test';

-- A batch that serves a line told before (its key repeats) and a line never
-- told: the plain INSERT of the batch fails on the repeated key, and the
-- batch is written again skipping it, so the new line is told and the old
-- one is not told twice; nothing is dead-lettered.
SELECT sku FROM waitlist.upsert_sku('BUCKLE');
SELECT waitlist.place_backorder('J-2', 'BUCKLE', 2, 'Jo', 'jo@example.com') > 0 AS j2;
SELECT waitlist.place_backorder('K-2', 'BUCKLE', 1, 'Kim', 'kim@example.com') > 0 AS k2;
SELECT waitlist.set_on_hand('BUCKLE', 2);
SELECT waitlist.tick() AS expanded;
SELECT waitlist.set_on_hand('BUCKLE', 0);
SELECT waitlist.set_on_hand('BUCKLE', 3);
SELECT waitlist.tick() AS expanded;
SELECT kind, recipient, payload->>'order_ref' AS order_ref FROM waitlist.outbox
 WHERE sku = 'BUCKLE' AND kind IN ('ready_to_ship', 'allocated') ORDER BY id;
SELECT count(*) AS dead_letters FROM waitlist.outbox WHERE sku = 'BUCKLE' AND state = 'dead';
SELECT count(*) AS unexpanded FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku
 WHERE s.sku = 'BUCKLE' AND b.expanded_at IS NULL;
