-- pgTAP: the pre-order invariants of ../shared/DESIGN.md and issue 3.
--
-- 1. A seeded workload of ~400 committed transactions over three pre-order
--    SKUs (one per payment mode, one with a channel limit): placements of 1-3
--    units (often refused at the limit), cancellations, production arriving,
--    shipments, moved dates, lapsing authorizations and tick()s.  After every
--    transaction: accepted units never pass the limit and equal the lines
--    that hold them, per SKU and per limited channel; allocated never passes
--    on hand.  At the end, the payment invariants over every line and every
--    payment event: no capture without an authorization or a deposit, no
--    capture of a cancelled line, money captured and refunded equals the
--    events, one void or refund per cancellation.
-- 2. Twelve connections racing for the last pre-order slots of one SKU while
--    a thirteenth holds the row: exactly the limit is accepted.
--
-- Writes commit through dblink (the pgTAP transaction never commits);
-- pg_temp.cleanup() removes them, first and last.  Test SKUs: TAP-PO-*.
BEGIN;
SELECT plan(33);
SET LOCAL statement_timeout = '300s';
-- refused placements are expected: dblink reports them as notices
SET LOCAL client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS dblink;
\ir lib/conn.psql

CREATE FUNCTION pg_temp.cleanup() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_temp.delete_skus('wl_w', 'TAP-PO-');
	PERFORM dblink_exec('wl_w', 'DROP PROCEDURE IF EXISTS public.tap_po_race(text, int, int)');
END
$$;

-- One committed transaction on the writer; false when it raised an error.
CREATE FUNCTION pg_temp.tx(body text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF dblink_exec('wl_w', 'BEGIN; ' || body || ' COMMIT;', false) <> 'ERROR' THEN
		RETURN true;
	END IF;
	PERFORM dblink_exec('wl_w', 'ROLLBACK');
	RETURN false;
END
$$;

SELECT is(dblink_connect('wl_w', pg_temp.conn()), 'OK', 'dblink: writer connection');
SELECT lives_ok('SELECT pg_temp.cleanup()', 'leftovers of an earlier run removed');

-- ------------------------------------------------------- invariant checks
CREATE TEMP TABLE violation (step int, check_name text, sku text, detail text, last_tx text) ON COMMIT DROP;

CREATE FUNCTION pg_temp.check_state(step int, last_tx text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	-- accepted never passes the limit, and is what the lines hold
	INSERT INTO violation
	SELECT step, 'accepted', s.sku,
		   format('accepted=%s limit=%s lines=%s', s.preorder_accepted, s.preorder_limit, coalesce(l.n, 0)),
		   last_tx
	  FROM waitlist.sku s
	  LEFT JOIN (SELECT sku, sum(qty) AS n FROM waitlist.line
				  WHERE kind = 'preorder' AND state <> 'cancelled' GROUP BY sku) l ON l.sku = s.sku
	 WHERE s.sku LIKE 'TAP-PO-%'
	   AND (s.preorder_accepted > s.preorder_limit OR s.preorder_accepted <> coalesce(l.n, 0));

	-- a limited channel never passes its own limit, and counts its lines
	INSERT INTO violation
	SELECT step, 'channel', s.sku,
		   format('%s: accepted=%s max=%s lines=%s', c.channel, c.accepted, c.max_units, coalesce(l.n, 0)),
		   last_tx
	  FROM waitlist.preorder_channel c
	  JOIN waitlist.sku s ON s.sku = c.sku
	  LEFT JOIN (SELECT sku, channel, sum(qty) AS n FROM waitlist.line
				  WHERE kind = 'preorder' AND state <> 'cancelled' GROUP BY sku, channel) l
		ON l.sku = c.sku AND l.channel = c.channel
	 WHERE s.sku LIKE 'TAP-PO-%' AND (c.accepted > c.max_units OR c.accepted <> coalesce(l.n, 0));

	-- stock: allocated never passes on hand, and is what waiting lines hold
	INSERT INTO violation
	SELECT step, 'stock', s.sku, format('on_hand=%s allocated=%s lines=%s', s.on_hand, s.allocated, coalesce(a.n, 0)),
		   last_tx
	  FROM waitlist.sku s
	  LEFT JOIN (SELECT sku, sum(allocated) AS n FROM waitlist.line_status
				  WHERE status IN ('waiting', 'partially_allocated', 'allocated') GROUP BY sku) a ON a.sku = s.sku
	 WHERE s.sku LIKE 'TAP-PO-%' AND (s.allocated > s.on_hand OR s.allocated <> coalesce(a.n, 0));

	-- the limit-reached mark agrees with the counters
	INSERT INTO violation
	SELECT step, 'at-limit', s.sku, format('at_limit=%s accepted=%s limit=%s', s.preorder_at_limit,
										   s.preorder_accepted, s.preorder_limit), last_tx
	  FROM waitlist.sku s
	 WHERE s.sku LIKE 'TAP-PO-%' AND s.preorder_at_limit <> (s.preorder_accepted >= s.preorder_limit);
END
$$;

-- ---------------------------------------------------------------- workload
CREATE TEMP TABLE tally (what text PRIMARY KEY, n int NOT NULL DEFAULT 0) ON COMMIT DROP;

CREATE FUNCTION pg_temp.count(what text, ok boolean) RETURNS void LANGUAGE sql AS $$
	INSERT INTO tally VALUES (what || CASE WHEN ok THEN '' ELSE ' refused' END, 1)
	ON CONFLICT (what) DO UPDATE SET n = tally.n + 1
$$;

CREATE FUNCTION pg_temp.workload(steps int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	skus text[] := ARRAY['TAP-PO-AUTH', 'TAP-PO-FULL', 'TAP-PO-DEP'];
	k text;
	body text;
	what text;
	r float8;
	id bigint;
	n int := 0;
BEGIN
	PERFORM setseed(0.3141);
	FOR step IN 1..steps LOOP
		k := skus[1 + floor(random() * 3)::int];
		r := random();
		IF r < 0.45 THEN
			n := n + 1;
			what := 'place';
			body := format($b$SELECT waitlist.place_preorder(%L, %L, %s, 'C', %L, NULL, %L, 19.99, 'USD');$b$,
						   'TAP-PO-O' || n, k, 1 + floor(random() * 3)::int, 'c' || n || '@example.com',
						   CASE WHEN random() < 0.4 THEN 'amazon' ELSE 'dtc' END);
		ELSIF r < 0.62 THEN
			SELECT l.id INTO id FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
			 WHERE s.sku = k AND l.state = 'waiting' ORDER BY random() LIMIT 1;
			CONTINUE WHEN id IS NULL;
			what := 'cancel';
			body := format('SELECT waitlist.cancel_line(%s);', id);
		ELSIF r < 0.72 THEN
			what := 'restock';
			body := format('SELECT waitlist.restock(%L, %s);', k, 1 + floor(random() * 4)::int);
		ELSIF r < 0.86 THEN
			SELECT ls.id INTO id FROM waitlist.line_status ls
			 WHERE ls.sku = k AND ls.status = 'allocated' ORDER BY random() LIMIT 1;
			CONTINUE WHEN id IS NULL;
			what := 'ship';
			body := format('SELECT waitlist.ship_line(%s);', id);
		ELSIF r < 0.90 THEN
			what := 'reschedule';
			body := format($b$SELECT waitlist.reschedule_preorders(%L, DATE '2030-05-01' + %s);$b$,
						   k, floor(random() * 30)::int);
		ELSIF r < 0.95 THEN
			-- time passes for a few authorizations; tick() asks for new ones
			what := 'lapse+tick';
			body := $b$UPDATE waitlist.line SET authorized_until = now() + interval '1 minute', action_at = now()
						WHERE id IN (SELECT id FROM waitlist.line WHERE payment_state = 'authorized'
									  AND state = 'waiting' ORDER BY random() LIMIT 3);
					   SELECT waitlist.tick();$b$;
		ELSE
			what := 'tick';
			body := 'SELECT waitlist.tick();';
		END IF;
		PERFORM pg_temp.count(what, pg_temp.tx(body));
		PERFORM pg_temp.check_state(step, body);
	END LOOP;
	RETURN steps;
END
$$;

-- Three SKUs, one per payment mode; amazon may take 6 units of the first.
SELECT ok(pg_temp.tx($t$
	SELECT waitlist.upsert_sku('TAP-PO-AUTH', 'Authorize');
	SELECT waitlist.open_preorders('TAP-PO-AUTH', 50, 80, '2030-04-15', '2030-04-22');
	SELECT waitlist.set_preorder_channel_limit('TAP-PO-AUTH', 'amazon', 6);
	SELECT waitlist.upsert_sku('TAP-PO-FULL', 'Full');
	SELECT waitlist.open_preorders('TAP-PO-FULL', 40, 75, '2030-04-15', '2030-04-22', 'full');
	SELECT waitlist.upsert_sku('TAP-PO-DEP', 'Deposit');
	SELECT waitlist.open_preorders('TAP-PO-DEP', 30, 80, '2030-04-15', '2030-04-22', 'deposit', 25);
$t$), 'three pre-order SKUs opened (committed)');

SELECT is(pg_temp.workload(400), 400, 'workload: 400 steps ran');
SELECT diag(string_agg(format('%s: %s', what, n), ', ' ORDER BY what)) FROM tally;
SELECT cmp_ok((SELECT n FROM tally WHERE what = 'place refused'), '>', 0,
	'the workload hit the limits (some placements were refused)');
SELECT cmp_ok((SELECT count(*)::int FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
				WHERE s.sku LIKE 'TAP-PO-%' AND l.state = 'shipped'), '>', 0,
	'the workload shipped pre-orders');
SELECT ok(pg_temp.tx('SELECT waitlist.tick();'), 'a last tick writes the pending confirmations');
SELECT is_empty($$SELECT * FROM violation ORDER BY step$$,
	'after every committed transaction: accepted <= limit and = the lines, channels, stock, the limit mark');
SELECT is_empty($$SELECT * FROM waitlist.check_invariants() WHERE sku LIKE 'TAP-PO-%'$$,
	'check_invariants() reports nothing for the pre-order SKUs (payment states, plans, channel limits)');

-- ------------------------------------------------------ payment invariants
CREATE TEMP VIEW pay AS
SELECT o.id, o.kind, (o.payload->>'line_id')::bigint AS line_id, (o.payload->>'amount')::numeric AS amount,
	   o.payload->>'reason' AS reason
  FROM waitlist.outbox o WHERE o.channel = 'payment' AND o.sku LIKE 'TAP-PO-%';
CREATE TEMP VIEW po_line AS
SELECT l.* FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
 WHERE s.sku LIKE 'TAP-PO-%' AND l.kind = 'preorder';

SELECT is_empty($$
	SELECT c.* FROM pay c
	 WHERE c.kind = 'payment_capture' AND c.reason = 'shipment'
	   AND NOT EXISTS (SELECT 1 FROM pay a WHERE a.line_id = c.line_id AND a.id < c.id
						  AND (a.kind = 'payment_authorize' OR (a.kind = 'payment_capture' AND a.reason = 'deposit')))
$$, 'no capture at shipment without an earlier authorization or deposit');
SELECT is_empty($$
	SELECT c.* FROM pay c JOIN po_line l ON l.id = c.line_id
	 WHERE c.kind = 'payment_capture' AND c.reason = 'shipment' AND l.state <> 'shipped'
$$, 'no capture at shipment of a line that did not ship (cancelled lines included)');
SELECT is_empty($$
	SELECT l.id, l.state, l.payment_state FROM po_line l
	 WHERE NOT (l.state = 'waiting' AND l.payment_state IN ('authorized', 'captured', 'deposit_captured')
				OR l.state = 'shipped' AND l.payment_state = 'captured'
				OR l.state = 'cancelled' AND l.payment_state IN ('voided', 'refunded'))
$$, 'payment state follows the line: waiting -> authorized/deposit/paid, shipped -> captured, cancelled -> voided/refunded');
SELECT is_empty($$
	SELECT l.id, l.payment_mode, l.payment_state FROM po_line l
	 WHERE (l.payment_state = 'voided') <> (l.state = 'cancelled' AND l.payment_mode = 'authorize')
		OR (l.payment_state = 'authorized' AND l.payment_mode <> 'authorize')
		OR (l.payment_state = 'deposit_captured' AND l.payment_mode <> 'deposit')
$$, 'voids only for authorized lines, deposits only in deposit mode');
SELECT is_empty($$
	SELECT l.id, l.captured, l.refunded, coalesce(e.captured, 0), coalesce(e.refunded, 0) FROM po_line l
	  LEFT JOIN (SELECT line_id, sum(amount) FILTER (WHERE kind = 'payment_capture') AS captured,
						sum(amount) FILTER (WHERE kind = 'payment_refund') AS refunded
				   FROM pay GROUP BY line_id) e ON e.line_id = l.id
	 WHERE l.captured <> coalesce(e.captured, 0) OR l.refunded <> coalesce(e.refunded, 0)
$$, 'captured and refunded on every line equal the capture and refund events');
SELECT is_empty($$
	SELECT l.id FROM po_line l
	 WHERE l.state = 'cancelled' AND (SELECT count(*) FROM pay p WHERE p.line_id = l.id
									   AND p.kind IN ('payment_void', 'payment_refund')) <> 1
$$, 'every cancelled pre-order has exactly one void or refund');
SELECT is_empty($$
	SELECT l.id FROM po_line l
	 WHERE l.state = 'cancelled' AND l.payment_state = 'refunded' AND l.refunded <> l.captured
$$, 'a refunded line gets back everything it paid');
SELECT is_empty($$
	SELECT l.id FROM po_line l WHERE l.payment_mode = 'deposit'
	   AND l.deposit <> round(l.amount * 0.25, 2)
$$, 'deposits are 25% of the amount, to the cent');
SELECT is_empty($$
	SELECT p.line_id, p.id FROM pay p
	 WHERE p.kind = 'payment_reauthorize'
	   AND NOT EXISTS (SELECT 1 FROM pay a WHERE a.line_id = p.line_id AND a.kind = 'payment_authorize' AND a.id < p.id)
$$, 're-authorizations only follow an authorization');
SELECT cmp_ok((SELECT count(*)::int FROM pay WHERE kind = 'payment_reauthorize'), '>', 0,
	'lapsing authorizations were renewed by tick()');
SELECT is_empty($$
	SELECT l.id FROM po_line l
	 WHERE l.state = 'waiting' AND l.payment_state = 'authorized'
	   AND (l.authorized_until <= now() + interval '1 hour' OR l.action_at IS NULL
			OR l.action_at <> l.authorized_until - interval '1 day')
$$, 'waiting authorizations: valid for more than an hour, renewal due a day before they lapse');
SELECT is_empty($$
	SELECT l.id FROM po_line l WHERE l.action_at IS NOT NULL AND (l.state <> 'waiting' OR l.payment_state <> 'authorized')
$$, 'nothing is left to do for shipped, cancelled or paid lines (action_at is NULL)');

-- ------------------------------------- many connections race for the last slots
-- Limit 20 (25 planned, 80%).  A holder places 1 unit and keeps the row
-- locked; twelve racers each try ten placements of 1-3 units, each in its
-- own transaction, refusals swallowed; then the holder commits.
SELECT ok(pg_temp.tx($t$
	SELECT waitlist.upsert_sku('TAP-PO-HOT', 'Hot');
	SELECT waitlist.open_preorders('TAP-PO-HOT', 25, 80, '2030-04-15', '2030-04-22');
	CREATE PROCEDURE public.tap_po_race(who text, attempts int, seed int) LANGUAGE plpgsql AS $p$
	BEGIN
		FOR i IN 1..attempts LOOP
			BEGIN
				PERFORM waitlist.place_preorder(who || '-' || i, 'TAP-PO-HOT', 1 + (seed + i) % 3, NULL,
												who || '@example.com', NULL, 'dtc', 5.00, 'USD');
			EXCEPTION WHEN SQLSTATE 'WL010' THEN NULL;
			END;
			COMMIT;
		END LOOP;
	END
	$p$;
$t$), 'hot SKU and the racing procedure committed');
SELECT is(dblink_connect('wl_h', pg_temp.conn()), 'OK', 'dblink: holder connection');
SELECT is(dblink_exec('wl_h', 'BEGIN'), 'BEGIN', 'the holder begins');
SELECT cmp_ok((SELECT id FROM dblink('wl_h', $$SELECT waitlist.place_preorder('H-hold', 'TAP-PO-HOT', 1, NULL,
				'h@example.com', NULL, 'dtc', 5.00, 'USD')$$) AS t (id bigint)), '>', 0::bigint,
	'the holder placed 1 unit and holds the SKU row');
SELECT dblink_connect('wl_r' || g, pg_temp.conn()) FROM generate_series(1, 12) g \g /dev/null
SELECT dblink_send_query('wl_r' || g, format('CALL public.tap_po_race(%L, 10, %s)', 'R' || g, g))
  FROM generate_series(1, 12) g \g /dev/null
SELECT pg_sleep(0.5) \g /dev/null
SELECT is(dblink_exec('wl_h', 'COMMIT'), 'COMMIT', 'the holder commits while twelve racers wait');
SELECT is((SELECT count(*)::int FROM generate_series(1, 12) g,
				  LATERAL dblink_get_result('wl_r' || g) AS t (status text)),
	12, 'all twelve racers finished');
SELECT is((SELECT count(*)::int FROM generate_series(1, 12) g,
				  LATERAL dblink_get_result('wl_r' || g) AS t (status text)),
	0, 'and have nothing more to say');
SELECT is((SELECT preorder_accepted || '/' || preorder_limit FROM waitlist.sku WHERE sku = 'TAP-PO-HOT'),
	'20/20', 'exactly the limit was accepted (120 attempts for 19 units)');
SELECT is((SELECT sum(qty)::int FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
			WHERE s.sku = 'TAP-PO-HOT' AND l.state = 'waiting'), 20,
	'the accepted lines hold exactly 20 units');
SELECT is((SELECT count(*)::int FROM waitlist.outbox WHERE sku = 'TAP-PO-HOT' AND kind = 'preorder_limit_reached'), 1,
	'one preorder_limit_reached event');
SELECT dblink_disconnect('wl_r' || g) FROM generate_series(1, 12) g \g /dev/null
SELECT dblink_disconnect('wl_h') \g /dev/null

-- =============================================================== cleanup
SELECT lives_ok('SELECT pg_temp.cleanup()', 'committed test data removed');
SELECT is(dblink_disconnect('wl_w'), 'OK', 'dblink: writer disconnected');

SELECT * FROM finish();
ROLLBACK;
