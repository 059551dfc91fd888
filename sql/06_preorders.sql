-- Pre-orders: the plan and its 80% cap, placement, payment modes and their
-- events, cancellation, production arriving, the tracking report, moved
-- dates, per-channel limits and re-authorization.
CREATE FUNCTION public.po(p_ref text, p_sku text, p_qty int, p_channel text DEFAULT 'dtc')
RETURNS bigint LANGUAGE sql AS $$
	SELECT waitlist.place_preorder(p_ref, p_sku, p_qty, 'Cust ' || p_ref,
								   lower(p_ref) || '@example.com', NULL, p_channel, 49.00, 'USD')
$$;
CREATE FUNCTION public.line_of(p_ref text) RETURNS bigint LANGUAGE sql AS $$
	SELECT id FROM waitlist.line WHERE order_ref = p_ref
$$;

-- The seed's example: 500 planned, 80% -> 400, 275 received -> 125 remaining.
SELECT sku FROM waitlist.upsert_sku('LAUNCH', title => 'Launch edition');
SELECT status, preorder_limit, accepted, remaining, payment
  FROM waitlist.open_preorders('LAUNCH', 500, 80, '2030-04-15', '2030-04-22');
SELECT count(po('L-' || g, 'LAUNCH', CASE WHEN g <= 100 THEN 2 ELSE 1 END))
  FROM generate_series(1, 175) g;
SELECT report FROM waitlist.preorder_status('LAUNCH');
SELECT sku, status, planned_production, cap_pct, preorder_limit, accepted, remaining,
       over_limit, production_date, ships_on
  FROM waitlist.preorder_status('LAUNCH');
SELECT status FROM waitlist.sku WHERE sku = 'LAUNCH';

-- A placement writes only its line; the next claim() or tick() writes its
-- confirmation and its payment event (here, the authorization).
SELECT count(*) AS before_tick FROM waitlist.outbox WHERE sku = 'LAUNCH';
SELECT kind, count(*) FROM waitlist.outbox_metrics() WHERE state = 'unexpanded' GROUP BY kind;
SELECT waitlist.next_due() <= now() AS due_now;
SELECT waitlist.tick() AS written;
SELECT kind, channel, recipient, payload
  FROM waitlist.outbox WHERE sku = 'LAUNCH' AND payload->>'order_ref' = 'L-1' ORDER BY id;
SELECT payment_mode, payment_state, amount, captured, channel, currency, confirm_pending,
       authorized_until > now() + interval '6 days' AS auth_7_days,
       action_at = authorized_until - interval '1 day' AS renew_a_day_before
  FROM waitlist.line WHERE order_ref = 'L-1';
-- The same order again returns the same line and queues nothing more.
SELECT po('L-1', 'LAUNCH', 2) = line_of('L-1') AS same_line;
SELECT count(*) FROM waitlist.outbox WHERE payload->>'order_ref' = 'L-1';

-- While pre-orders have room, sign-ups and backorders are refused.
SELECT try($$SELECT waitlist.subscribe('LAUNCH', 'early@example.com')$$);
SELECT try($$SELECT waitlist.place_backorder('BO-1', 'LAUNCH', 1, 'B', 'b@example.com')$$);

-- Bad input for open_preorders changes nothing.
SELECT sku FROM waitlist.upsert_sku('PLAIN', title => 'Plain');
SELECT sku FROM waitlist.upsert_sku('GONE', status => 'discontinued');
SELECT try($$SELECT waitlist.open_preorders('NOPE', 500, 80, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('GONE', 500, 80, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders(NULL, 500, 80, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders(repeat('s', 129), 500, 80, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', NULL, 80, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 0, 80, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', -500, 80, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 120, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 100.01, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 0, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, -80, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, NULL, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 'NaN', '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, NULL, '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-15', NULL)$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-15', 'infinity')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-22', '2030-04-15')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-15', '2030-04-22', 'later')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-15', '2030-04-22', NULL)$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-15', '2030-04-22', 'deposit')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-15', '2030-04-22', 'deposit', 20, 10)$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-15', '2030-04-22', 'deposit', 100)$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-15', '2030-04-22', 'deposit', NULL, 0)$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 80, '2030-04-15', '2030-04-22', 'authorize', 20)$$);
-- A plan that leaves no unit to pre-order (a cap that rounds to 0.00%, or too few units).
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 500, 0.001, '2030-04-15', '2030-04-22')$$);
SELECT try($$SELECT waitlist.open_preorders('PLAIN', 1, 80, '2030-04-15', '2030-04-22')$$);
SELECT status, planned_production, preorders_open, preorder_terms FROM waitlist.sku WHERE sku = 'PLAIN';
SELECT status, report FROM waitlist.preorder_status('PLAIN');
SELECT try($$SELECT waitlist.preorder_status('NOPE')$$);

-- Bad input for place_preorder changes nothing.
SELECT try($$SELECT waitlist.place_preorder(NULL, 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder(repeat('r', 101), 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', NULL, 1, 'X', 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'NOPE', 1, 'X', 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'GONE', 1, 'X', 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'PLAIN', 1, 'X', 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 0, 'X', 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', -1, 'X', 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', NULL, 'X', 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', NULL, NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'not-an-email', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', NULL, '555-0100', 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, repeat('n', 201), 'x@example.com', NULL, 'dtc', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'Amazon US', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, '', 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, repeat('c', 41), 49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', NULL, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', 0, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', -49, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', 'NaN', 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', 2e9, 'USD')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', 49, NULL)$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', 49, 'usd')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', 49, 'US')$$);
SELECT try($$SELECT waitlist.place_preorder('X-1', 'LAUNCH', 1, 'X', 'x@example.com', NULL, 'dtc', 49, 'USDT')$$);
-- The same order with another quantity.
SELECT try($$SELECT po('L-1', 'LAUNCH', 3)$$);
SELECT count(*) AS lines_from_bad_input FROM waitlist.line WHERE order_ref = 'X-1';
SELECT preorder_accepted, paid_tail FROM waitlist.sku WHERE sku = 'LAUNCH';

-- The limit: a request larger than what remains, then the last units.
SELECT try($$SELECT po('L-BIG', 'LAUNCH', 126)$$);
SELECT po('L-BIG', 'LAUNCH', 125) > 0 AS placed;
SELECT try($$SELECT po('L-LATE', 'LAUNCH', 1)$$);
SELECT status, accepted, remaining FROM waitlist.preorder_status('LAUNCH');
SELECT kind, channel, recipient, payload
  FROM waitlist.outbox WHERE kind = 'preorder_limit_reached' ORDER BY id;
-- A retry of an accepted order still returns its line at the limit.
SELECT po('L-BIG', 'LAUNCH', 125) = line_of('L-BIG') AS same_line_at_limit;
SELECT preorder_accepted, paid_tail FROM waitlist.sku WHERE sku = 'LAUNCH';
-- The limit reached, sign-ups are accepted ("notify me").
SELECT waitlist.subscribe('LAUNCH', 'later@example.com') > 0 AS signed_up;

-- Cancellation is free until shipment and gives the units back to the cap.
SELECT waitlist.tick() > 0 AS confirmations_written;
SELECT waitlist.cancel_line(line_of('L-2'));
SELECT status, accepted, remaining FROM waitlist.preorder_status('LAUNCH');
SELECT kind, payload->>'action' AS action, payload->>'amount' AS amount, payload->>'reason' AS reason
  FROM waitlist.outbox WHERE payload->>'order_ref' = 'L-2' AND channel = 'payment' ORDER BY id;
SELECT state, payment_state, captured, refunded FROM waitlist.line WHERE order_ref = 'L-2';
SELECT try($$SELECT waitlist.subscribe('LAUNCH', 'again@example.com')$$);
-- Reaching the limit again is a second event.
SELECT po('L-AGAIN', 'LAUNCH', 2) > 0 AS placed;
SELECT count(*) AS limit_events FROM waitlist.outbox WHERE kind = 'preorder_limit_reached';

-- A smaller run never cancels accepted pre-orders: it reports the excess.
SELECT status, preorder_limit, accepted, over_limit
  FROM waitlist.open_preorders('LAUNCH', 450, 80, '2030-04-15', '2030-04-22');
SELECT kind, channel, payload FROM waitlist.outbox WHERE kind = 'preorder_over_limit';
SELECT count(*) FILTER (WHERE state = 'cancelled') AS cancelled FROM waitlist.line
 WHERE sku = 'LAUNCH';
SELECT report FROM waitlist.preorder_status('LAUNCH');
-- Back to the full run: at the limit again, no new event (it never left it).
SELECT status FROM waitlist.open_preorders('LAUNCH', 500, 80, '2030-04-15', '2030-04-22');
SELECT count(*) AS limit_events FROM waitlist.outbox WHERE kind = 'preorder_limit_reached';

-- Moving the ship date tells every pre-order still waiting for units.
SELECT waitlist.reschedule_preorders('LAUNCH', '2030-05-06', '2030-04-29') AS lines_told;
SELECT recipient, payload->>'previous_date' AS previous, payload->>'expected_ship_date' AS ships,
       payload->>'production_date' AS production
  FROM waitlist.outbox WHERE kind = 'eta_changed' AND payload->>'order_ref' = 'L-1';
SELECT waitlist.reschedule_preorders('LAUNCH', '2030-05-06') AS same_date_told;
SELECT try($$SELECT waitlist.reschedule_preorders('LAUNCH', NULL)$$);
SELECT try($$SELECT waitlist.reschedule_preorders('LAUNCH', '2030-04-01')$$);
SELECT try($$SELECT waitlist.reschedule_preorders('PLAIN', '2030-05-06')$$);
SELECT try($$SELECT waitlist.reschedule_preorders('NOPE', '2030-05-06')$$);

-- Production arrives: pre-orders are allocated first-come-first-served.
SELECT waitlist.restock('LAUNCH', 5);
SELECT order_ref, qty, allocated, status FROM waitlist.line_status
 WHERE sku = 'LAUNCH' AND order_ref IN ('L-1', 'L-2', 'L-3', 'L-4') ORDER BY id;
SELECT waitlist.tick() > 0 AS expanded;
SELECT kind, recipient FROM waitlist.outbox
 WHERE sku = 'LAUNCH' AND kind IN ('ready_to_ship', 'allocated') ORDER BY id;
-- Shipping captures the authorization; a shipped line cannot be cancelled.
SELECT waitlist.ship_line(line_of('L-1'));
SELECT kind, payload->>'action' AS action, payload->>'amount' AS amount, payload->>'reason' AS reason
  FROM waitlist.outbox WHERE payload->>'order_ref' = 'L-1' AND channel = 'payment' ORDER BY id;
SELECT state, payment_state, captured FROM waitlist.line WHERE order_ref = 'L-1';
SELECT try($$SELECT waitlist.cancel_line(line_of('L-1'))$$);
SELECT try($$SELECT waitlist.ship_line(line_of('L-2'))$$);
-- A cancel after production arrived: its units go to the next in line at commit.
SELECT waitlist.cancel_line(line_of('L-3'));
SELECT order_ref, qty, allocated, status FROM waitlist.line_status
 WHERE sku = 'LAUNCH' AND order_ref IN ('L-3', 'L-4') ORDER BY id;
SELECT * FROM stock('LAUNCH');

-- Payment in full at order: refund on cancel, nothing more at shipment.
SELECT sku FROM waitlist.upsert_sku('FULL', title => 'Paid in full');
SELECT payment FROM waitlist.open_preorders('FULL', 10, 80, '2030-03-01', '2030-03-08', 'full');
SELECT po('PF-1', 'FULL', 2) > 0 AND po('PF-2', 'FULL', 1) > 0 AS placed;
SELECT waitlist.tick() AS written;
SELECT order_ref, payment_state, amount, captured FROM waitlist.line
 WHERE order_ref LIKE 'PF-%' ORDER BY id;
SELECT waitlist.cancel_line(line_of('PF-2'));
SELECT waitlist.restock('FULL', 2);
SELECT waitlist.ship_line(line_of('PF-1'));
SELECT recipient AS order_ref, kind, payload->>'amount' AS amount, payload->>'reason' AS reason
  FROM waitlist.outbox WHERE sku = 'FULL' AND channel = 'payment' ORDER BY id;
SELECT order_ref, state, payment_state, captured, refunded FROM waitlist.line
 WHERE order_ref LIKE 'PF-%' ORDER BY id;

-- Deposits: a percentage or a fixed amount per unit at order, the balance at shipment.
SELECT sku FROM waitlist.upsert_sku('DEP', title => 'Deposit');
SELECT payment FROM waitlist.open_preorders('DEP', 10, 80, '2030-03-01', '2030-03-08', 'deposit', 20);
SELECT po('PD-1', 'DEP', 3) > 0 AND po('PD-2', 'DEP', 1) > 0 AS placed;
SELECT waitlist.restock('DEP', 3);
SELECT waitlist.ship_line(line_of('PD-1'));
SELECT waitlist.cancel_line(line_of('PD-2'));
SELECT recipient AS order_ref, kind, payload->>'amount' AS amount, payload->>'reason' AS reason
  FROM waitlist.outbox WHERE sku = 'DEP' AND channel = 'payment' ORDER BY id;
SELECT order_ref, state, payment_state, amount, deposit, captured, refunded
  FROM waitlist.line WHERE order_ref LIKE 'PD-%' ORDER BY id;
-- Shipped and cancelled before any claim()/tick(): each order's messages in
-- the order written, the confirmation and the payment at order first.
SELECT coalesce(payload->>'order_ref', recipient) AS order_ref, kind, channel
  FROM waitlist.outbox WHERE sku = 'DEP' ORDER BY coalesce(payload->>'order_ref', recipient), id;
SELECT payment FROM waitlist.open_preorders('DEP', 10, 80, '2030-03-01', '2030-03-08', 'deposit', NULL, 15);
SELECT po('PD-3', 'DEP', 2) > 0 AS placed;
-- Its confirmation is still pending; shipping or cancelling would write it first.
SELECT count(*) AS confirmations_yet FROM waitlist.outbox WHERE payload->>'order_ref' = 'PD-3';
SELECT waitlist.tick() AS written;
SELECT payment_mode, payment_state, amount, deposit, captured FROM waitlist.line WHERE order_ref = 'PD-3';
SELECT payload->>'charged_now' AS now, payload->>'due_at_shipment' AS later
  FROM waitlist.outbox WHERE kind = 'preorder_confirmed' AND payload->>'order_ref' = 'PD-3';

-- Per-channel limits within the global one.
SELECT sku FROM waitlist.upsert_sku('CHAN', title => 'Channels');
SELECT status FROM waitlist.open_preorders('CHAN', 100, 80, '2030-03-01', '2030-03-08');
SELECT waitlist.set_preorder_channel_limit('CHAN', 'amazon', 3);
SELECT po('A-1', 'CHAN', 2, 'amazon') > 0 AND po('A-2', 'CHAN', 1, 'amazon') > 0 AS placed;
SELECT try($$SELECT po('A-3', 'CHAN', 1, 'amazon')$$);
SELECT po('W-1', 'CHAN', 5, 'dtc') > 0 AS other_channel_placed;
SELECT waitlist.cancel_line(line_of('A-2'));
SELECT po('A-4', 'CHAN', 1, 'amazon') > 0 AS placed_after_cancel;
SELECT channel, max_units, accepted FROM waitlist.preorder_channel ORDER BY channel;
SELECT waitlist.set_preorder_channel_limit('CHAN', 'amazon', 1);
SELECT waitlist.set_preorder_channel_limit('CHAN', 'amazon', NULL);
SELECT po('A-5', 'CHAN', 1, 'amazon') > 0 AS placed_without_limit;
SELECT count(c.channel) AS channel_rows, bool_or(channel_limits) AS flag
  FROM waitlist.sku s LEFT JOIN waitlist.preorder_channel c ON c.sku = s.sku WHERE s.sku = 'CHAN';
SELECT try($$SELECT waitlist.set_preorder_channel_limit('CHAN', NULL, 3)$$);
SELECT try($$SELECT waitlist.set_preorder_channel_limit('CHAN', 'Amazon', 3)$$);
SELECT try($$SELECT waitlist.set_preorder_channel_limit('CHAN', 'amazon', -1)$$);
SELECT try($$SELECT waitlist.set_preorder_channel_limit('NOPE', 'amazon', 3)$$);
SELECT try($$SELECT waitlist.set_preorder_channel_limit('CHAN', 'nowhere', 3)$$);

-- Closing: no more pre-orders, sign-ups open; placing again is refused.
SELECT waitlist.close_preorders('CHAN') AS closed, waitlist.close_preorders('CHAN') AS again;
SELECT try($$SELECT po('W-2', 'CHAN', 1)$$);
SELECT waitlist.subscribe('CHAN', 'closed@example.com') > 0 AS signed_up;
SELECT status FROM waitlist.preorder_status('CHAN');
SELECT try($$SELECT waitlist.close_preorders('NOPE')$$);
SELECT waitlist.close_preorders('PLAIN') AS plain_was_open;
-- Released (status active): pre-orders close with it, sign-ups open.
SELECT sku FROM waitlist.upsert_sku('RELEASED', title => 'Released');
SELECT status FROM waitlist.open_preorders('RELEASED', 100, 80, '2030-03-01', '2030-03-08');
SELECT po('R-1', 'RELEASED', 1) > 0 AS placed;
SELECT status, preorders_open FROM waitlist.upsert_sku('RELEASED', status => 'active');
SELECT try($$SELECT po('R-2', 'RELEASED', 1)$$);
SELECT waitlist.subscribe('RELEASED', 'released@example.com') > 0 AS signed_up;
SELECT status, preorders_open FROM waitlist.upsert_sku('RELEASED', title => 'Released, renamed');

-- Authorizations about to lapse: tick() asks for a new one, once.
UPDATE waitlist.line SET authorized_until = now() + interval '1 hour', action_at = now()
 WHERE order_ref = 'L-4';
SELECT waitlist.tick() >= 1 AS ticked;
SELECT kind, recipient, payload->>'amount' AS amount, payload->>'reason' AS reason,
       idempotency_key
  FROM waitlist.outbox WHERE kind = 'payment_reauthorize';
SELECT reauthorizations, authorized_until > now() + interval '6 days' AS extended,
       action_at = authorized_until - interval '1 day' AS next_renewal
  FROM waitlist.line WHERE order_ref = 'L-4';
SELECT waitlist.tick() AS nothing_more;
SELECT count(*) AS reauthorize_events FROM waitlist.outbox WHERE kind = 'payment_reauthorize';
-- Cancelled while its renewal is due: voided, not re-authorized first (the one
-- re-authorization listed is the tick above).
UPDATE waitlist.line SET action_at = now() WHERE order_ref = 'L-4';
SELECT waitlist.cancel_line(line_of('L-4')) AS units_held;
SELECT kind, payload->>'reason' AS reason FROM waitlist.outbox
 WHERE channel = 'payment' AND recipient = 'L-4' ORDER BY id;
SELECT reauthorizations, payment_state, action_at IS NULL AS nothing_due
  FROM waitlist.line WHERE order_ref = 'L-4';

-- The report for every SKU with a plan.
SELECT sku, status, preorder_limit, accepted, remaining, payment FROM waitlist.preorder_status();

-- Early lock release: a commit that locked a SKU row is written
-- asynchronously and flushed once its locks are released, before COMMIT
-- returns (test/crash_durability.sh crashes the server to check the flush).
-- Only that commit is asynchronous: the session's synchronous_commit is as
-- it was, also when the session chose its own.
SHOW waitlist.early_lock_release;
SELECT sku FROM waitlist.upsert_sku('FLUSH', title => 'Flushed');
SELECT status FROM waitlist.open_preorders('FLUSH', 100, 80, '2030-03-01', '2030-03-08');
BEGIN;
SELECT po('F-1', 'FLUSH', 1) > 0 AS placed;
SHOW synchronous_commit;
COMMIT;
SHOW synchronous_commit;
SET synchronous_commit = local;
SELECT po('F-2', 'FLUSH', 1) > 0 AS placed;
SHOW synchronous_commit;
SET waitlist.early_lock_release = off;
SELECT po('F-3', 'FLUSH', 1) > 0 AS placed;
RESET synchronous_commit;
RESET waitlist.early_lock_release;
SELECT accepted, remaining FROM waitlist.preorder_status('FLUSH');

-- A refusal flushes the WAL inserted so far, whatever the insert position:
-- 3000 refusals with WAL records of varying sizes before each, so that the
-- insert position sometimes sits right after a page header when a refusal
-- flushes (the flush must then stop at the page boundary, or XLogFlush
-- refuses the request and the call fails with XX000 instead of WL010).
SELECT sku FROM waitlist.upsert_sku('PAGE', title => 'Page boundary');
SELECT status FROM waitlist.open_preorders('PAGE', 2, 50, '2030-03-01', '2030-03-08');
SELECT po('PAGE-0', 'PAGE', 1) > 0 AS placed;
DO $$
DECLARE
	refused int := 0;
BEGIN
	FOR i IN 1..3000 LOOP
		PERFORM pg_logical_emit_message(false, 'waitlist-test', repeat('x', (i * 37) % 200));
		BEGIN
			PERFORM po('PAGE-' || i, 'PAGE', 1);
		EXCEPTION WHEN SQLSTATE 'WL010' THEN
			refused := refused + 1;
		END;
	END LOOP;
	RAISE NOTICE 'refused: % of 3000', refused;
END $$;
