-- A restock that leaves paid lines unfilled tells each of them where they
-- stand (still_waiting): units ahead of them, the next confirmed date, the
-- cancel option; once per restock wave, from one batch written at commit
-- and expanded later.
-- Every wave tells everyone it leaves waiting here: the limit on repeats
-- (waitlist.repeat_after) has its own test, 43_repeat_after.
SET waitlist.repeat_after = 0;
SET TimeZone = 'UTC';
SET waitlist.test_now = '2027-03-01 09:00+00';
SELECT sku FROM waitlist.upsert_sku('SW-1', 'Trail shoe', confirm_signups => false);
-- 350 paid lines of one unit (the playbook's example), and one sign-up.
SELECT count(waitlist.place_backorder('SW-' || g, 'SW-1', 1, NULL, 'sw' || g || '@example.com'))
  FROM generate_series(1, 350) g;
SELECT waitlist.subscribe('SW-1', 'fan@example.com', NULL, NULL) > 0 AS signed_up;

-- 200 units arrive: the commit writes batches, not one row per waiting line.
SELECT waitlist.restock('SW-1', 200);
SELECT kind, pos_from, pos_to, scan_lo, scan_hi, units FROM waitlist.batch
 WHERE sku = 'SW-1' ORDER BY id;
SELECT count(*) AS messages_at_commit FROM waitlist.outbox
 WHERE sku = 'SW-1' AND kind IN ('ready_to_ship', 'still_waiting');
SELECT waitlist.expand_batches() > 0 AS expanded;
-- 200 ready to ship, exactly 150 still waiting, the sign-up is not a paid line.
SELECT kind, count(*) FROM waitlist.outbox
 WHERE sku = 'SW-1' AND kind IN ('ready_to_ship', 'still_waiting') GROUP BY kind ORDER BY kind;
-- Line 201 has nobody ahead, line 350 has 149 units ahead; no date yet.
SELECT payload->>'order_ref' AS order_ref, payload->>'units_ahead' AS ahead,
	   payload->>'units_arrived' AS arrived, payload->>'expected_ship_date' AS expected,
	   payload->>'cancel_allowed' AS cancel
  FROM waitlist.outbox WHERE sku = 'SW-1' AND kind = 'still_waiting'
   AND payload->>'order_ref' IN ('SW-201', 'SW-202', 'SW-350') ORDER BY id;
SELECT count(*) AS told, count(*) FILTER (WHERE (o.payload->>'units_ahead')::bigint = l.pos_start - 200)
		 AS ahead_is_units_before
  FROM waitlist.outbox o JOIN waitlist.line l ON l.sku = o.sku AND l.id = (o.payload->>'line_id')::bigint
 WHERE o.sku = 'SW-1' AND o.kind = 'still_waiting';
-- Expanding again writes nothing more.
SELECT waitlist.expand_batches() AS more;

-- Lines cancelled between the commit and the expansion: they hear nothing,
-- and the units ahead of the others leave them out.  The supplier confirms
-- a date first.
SELECT sku FROM waitlist.upsert_sku('SW-1', restock_date => '2027-04-02', restock_confirmed => true);
SELECT waitlist.restock('SW-1', 100);
SELECT waitlist.cancel_line(id) FROM waitlist.line WHERE sku = 'SW-1' AND order_ref IN ('SW-302', 'SW-320');
SELECT waitlist.expand_batches() > 0 AS expanded;
-- The second wave tells the 48 still short, once more, with the new numbers.
SELECT count(*) AS told_again, count(DISTINCT payload->>'line_id') AS lines
  FROM waitlist.outbox o JOIN waitlist.batch b ON o.idempotency_key LIKE '%:waiting:' || b.id || ':%'
 WHERE o.sku = 'SW-1' AND o.kind = 'still_waiting' AND b.sku = 'SW-1' AND b.units = 100;
SELECT payload->>'order_ref' AS order_ref, payload->>'units_ahead' AS ahead,
	   payload->>'units_arrived' AS arrived, payload->>'expected_ship_date' AS expected
  FROM waitlist.outbox WHERE sku = 'SW-1' AND kind = 'still_waiting'
   AND payload->>'units_arrived' = '100'
   AND payload->>'order_ref' IN ('SW-301', 'SW-302', 'SW-303', 'SW-319', 'SW-321', 'SW-350') ORDER BY id;

-- A partial line: it is told `allocated` (with what it holds), not still_waiting.
SELECT sku FROM waitlist.upsert_sku('SW-2', 'Tent', confirm_signups => false);
SELECT waitlist.place_backorder('SW2-A', 'SW-2', 3, NULL, 'a@example.com') > 0 AS placed;
SELECT waitlist.place_backorder('SW2-B', 'SW-2', 2, NULL, 'b@example.com') > 0 AS placed;
SELECT waitlist.restock('SW-2', 1);
SELECT waitlist.expand_batches() > 0 AS expanded;
SELECT kind, recipient, payload->>'units_ahead' AS ahead, payload->>'allocated_total' AS held
  FROM waitlist.outbox WHERE sku = 'SW-2' AND kind IN ('allocated', 'ready_to_ship', 'still_waiting')
 ORDER BY id;

-- Units freed by a cancellation move the next line up, but that is no
-- restock: the others are not told again.
SELECT waitlist.cancel_line(id) FROM waitlist.line WHERE sku = 'SW-2' AND order_ref = 'SW2-A';
SELECT kind FROM waitlist.batch WHERE sku = 'SW-2' ORDER BY id;

-- A restock that fills nobody (in one transaction a stock count fell by
-- what then arrived) tells nobody.
SELECT sku FROM waitlist.upsert_sku('SW-3', 'Lamp', confirm_signups => false);
SELECT count(waitlist.place_backorder('SW3-' || g, 'SW-3', 1, NULL, 'l' || g || '@example.com'))
  FROM generate_series(1, 3) g;
SELECT waitlist.restock('SW-3', 2);
BEGIN;
SELECT waitlist.set_on_hand('SW-3', 1);
SELECT waitlist.restock('SW-3', 1);
COMMIT;
SELECT kind, units FROM waitlist.batch WHERE sku = 'SW-3' ORDER BY id;
SELECT waitlist.expand_batches() > 0 AS expanded;

-- Pre-orders hear their ship date, not the restock date.
SELECT sku FROM waitlist.upsert_sku('SW-PRE', 'Launch lamp', confirm_signups => false,
									restock_date => '2030-01-10', restock_confirmed => true);
SELECT status, preorder_limit FROM waitlist.open_preorders('SW-PRE', 10, 80, '2030-04-15', '2030-04-22');
SELECT count(waitlist.place_preorder('SWP-' || g, 'SW-PRE', 1, NULL, 'swp' || g || '@example.com',
									 NULL, 'dtc', 49.00, 'USD'))
  FROM generate_series(1, 3) g;
SELECT waitlist.restock('SW-PRE', 1);
SELECT waitlist.expand_batches() > 0 AS expanded;
SELECT kind, recipient, payload->>'units_ahead' AS ahead, payload->>'expected_ship_date' AS expected
  FROM waitlist.outbox WHERE sku = 'SW-PRE' AND kind IN ('ready_to_ship', 'still_waiting') ORDER BY id;

-- A restock wave rolled back tells nobody.
BEGIN;
SELECT waitlist.restock('SW-1', 10);
ROLLBACK;
SELECT waitlist.expand_batches() AS after_rollback;

-- A big queue goes out in chunks of 10,000 positions.
SELECT sku FROM waitlist.upsert_sku('SW-BIG', 'Big queue', confirm_signups => false);
SELECT count(waitlist.place_backorder('SWB-' || g, 'SW-BIG', 1, NULL, 'swb' || g || '@example.com'))
  FROM generate_series(1, 12005) g;
SELECT waitlist.expand_batches() >= 0 AS confirmations_out;
SELECT waitlist.restock('SW-BIG', 5);
SELECT waitlist.expand_batches() AS first_call;
SELECT scan_lo, scan_hi, messages, expanded_at IS NULL AS pending
  FROM waitlist.batch WHERE sku = 'SW-BIG' AND kind = 'still_waiting';
SELECT waitlist.expand_batches() AS second_call;
SELECT scan_lo, scan_hi, messages, expanded_at IS NULL AS pending
  FROM waitlist.batch WHERE sku = 'SW-BIG' AND kind = 'still_waiting';
SELECT max((payload->>'units_ahead')::int) AS most_ahead, count(*) AS told
  FROM waitlist.outbox WHERE sku = 'SW-BIG' AND kind = 'still_waiting';
SELECT * FROM waitlist.check_invariants() WHERE sku LIKE 'SW-%';
RESET waitlist.test_now;
