-- pgTAP: the invariants of ../shared/DESIGN.md after a realistic workload.
--
-- Allocation runs at COMMIT, which this pgTAP transaction never reaches, so
-- every write goes through dblink connections that commit on their own; this
-- transaction only reads (READ COMMITTED: each statement sees the latest
-- commits).  What dblink commits is not undone by the ROLLBACK at the end:
-- pg_temp.cleanup() deletes it (and runs first, for leftovers of a run that
-- stopped half-way).  All test SKUs are named TAP-INV-*.
--
-- The workload (seeded, so a failure reproduces) is ~450 committed
-- transactions over four SKUs: backorders of 1-3 units, sign-ups (some
-- repeated), restocks, stock counts down and up, cancellations, shipments,
-- unsubscribes, tick()s, and for one SKU supply through a tracked inventory
-- table.  After every transaction the stock invariants are checked and any
-- violation is recorded with the step and the SQL that led to it.
BEGIN;
SELECT plan(102);
SET LOCAL statement_timeout = '300s';

CREATE EXTENSION IF NOT EXISTS dblink;

\ir lib/conn.psql

CREATE FUNCTION pg_temp.cleanup() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_exec('wl_w', $q$
		DO $d$
		BEGIN
			IF to_regclass('public.tap_inv_inventory') IS NOT NULL THEN
				PERFORM waitlist.untrack_inventory('public.tap_inv_inventory');
				DROP TABLE public.tap_inv_inventory;
			END IF;
		END
		$d$ $q$);
	PERFORM pg_temp.delete_skus('wl_w', 'TAP-INV-');
END
$$;

-- One committed transaction on the writer connection.
CREATE FUNCTION pg_temp.tx(body text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_exec('wl_w', 'BEGIN; ' || body || ' COMMIT;');
END
$$;

-- Notifications the listener connection has received: polls until it has
-- at least `want` and then 0.3 s pass without another (at most ~5 s).
CREATE TEMP TABLE heard (channel text, payload text) ON COMMIT DROP;
CREATE FUNCTION pg_temp.listen_drain(want int DEFAULT 0) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	n int := 0;
	got int;
	quiet int := 0;
BEGIN
	TRUNCATE heard;
	FOR i IN 1..50 LOOP
		INSERT INTO heard SELECT notify_name, extra FROM dblink_get_notify('wl_l');
		GET DIAGNOSTICS got = ROW_COUNT;
		n := n + got;
		quiet := CASE WHEN got = 0 THEN quiet + 1 ELSE 0 END;
		EXIT WHEN n >= want AND quiet >= 3;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RETURN n;
END
$$;

-- ------------------------------------------------------- invariant checks
CREATE TEMP TABLE violation (step int, check_name text, sku text, detail text, last_tx text) ON COMMIT DROP;
-- What on_hand must be, from the supply changes the workload committed.
CREATE TEMP TABLE model (sku text PRIMARY KEY, on_hand bigint NOT NULL) ON COMMIT DROP;

-- After every committed transaction: every violation waitlist.check_invariants()
-- reports for the test's SKUs (and tracked tables), and on_hand against the model.
CREATE FUNCTION pg_temp.check_state(step int, last_tx text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO violation
	SELECT step, v.invariant, v.sku, v.detail, last_tx
	  FROM waitlist.check_invariants() v
	 WHERE v.sku LIKE 'TAP-INV-%' OR v.sku IS NULL;

	-- on_hand follows the supply changes exactly
	INSERT INTO violation
	SELECT step, 'on-hand-model', s.sku, format('on_hand=%s, expected %s', s.on_hand, m.on_hand), last_tx
	  FROM waitlist.sku s JOIN model m ON m.sku = s.sku
	 WHERE s.on_hand <> m.on_hand;
END
$$;

-- ---------------------------------------------------------------- workload
CREATE FUNCTION pg_temp.workload(steps int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	skus text[] := ARRAY['TAP-INV-A', 'TAP-INV-B', 'TAP-INV-C', 'TAP-INV-D'];
	n_orders int := 0;
	n_people int := 0;
	body text;
	used text[];
	ops int;
	r float8;
	k text;
	q int;
	id bigint;
	oh bigint;
	loc text;
	delta bigint;
	committed int := 0;
BEGIN
	PERFORM setseed(0.4242);
	FOR step IN 1..steps LOOP
		body := '';
		used := ARRAY[]::text[];
		r := random();
		ops := CASE WHEN r < 0.7 THEN 1 WHEN r < 0.9 THEN 2 ELSE 3 END;
		FOR o IN 1..ops LOOP
			-- one operation per SKU per transaction
			k := skus[1 + floor(random() * 4)::int];
			CONTINUE WHEN k = ANY (used);
			used := used || k;
			r := random();
			IF r < 0.40 THEN
				n_orders := n_orders + 1;
				q := 1 + floor(random() * 3)::int;
				body := body || format('SELECT waitlist.place_backorder(%L, %L, %s, %L, %L, %L);',
					'TAP-INV-O' || n_orders, k, q, 'Customer ' || n_orders,
					'c' || n_orders || '@example.com',
					CASE WHEN random() < 0.3 THEN '+49151' || lpad(n_orders::text, 7, '0') END);
			ELSIF r < 0.55 THEN
				IF random() < 0.1 AND n_people > 0 THEN
					-- the same person again: keeps the place
					body := body || format('SELECT waitlist.subscribe(%L, %L);', k,
						'P' || (1 + floor(random() * n_people)::int) || '@example.com');
				ELSE
					n_people := n_people + 1;
					r := random();
					body := body || format('SELECT waitlist.subscribe(%L, %L, %L, %L);', k,
						CASE WHEN r < 0.9 THEN 'p' || n_people || '@example.com' END,
						CASE WHEN r >= 0.7 THEN '+49160' || lpad(n_people::text, 7, '0') END,
						'Person ' || n_people);
				END IF;
			ELSIF r < 0.67 THEN
				q := 1 + floor(random() * 6)::int;
				IF k = 'TAP-INV-D' THEN
					loc := CASE WHEN random() < 0.5 THEN 'north' ELSE 'south' END;
					body := body || format('UPDATE public.tap_inv_inventory SET qty = qty + %s WHERE sku = %L AND location = %L;', q, k, loc);
				ELSE
					body := body || format('SELECT waitlist.restock(%L, %s);', k, q);
				END IF;
				UPDATE model SET on_hand = on_hand + q WHERE sku = k;
			ELSIF r < 0.73 THEN
				-- a stock count: down or up
				SELECT s.on_hand INTO oh FROM waitlist.sku s WHERE s.sku = k;
				IF k = 'TAP-INV-D' THEN
					loc := CASE WHEN random() < 0.5 THEN 'north' ELSE 'south' END;
					-- read the app table remotely: a lock held here would block cleanup()
					SELECT least(i.qty, floor(random() * (oh + 1))::bigint) INTO delta
					  FROM dblink('wl_w', format('SELECT qty FROM public.tap_inv_inventory WHERE sku = %L AND location = %L',
												 k, loc)) AS i (qty bigint);
					body := body || format('UPDATE public.tap_inv_inventory SET qty = qty - %s WHERE sku = %L AND location = %L;', delta, k, loc);
					UPDATE model SET on_hand = on_hand - delta WHERE sku = k;
				ELSE
					q := floor(random() * (oh + 4))::int;
					body := body || format('SELECT waitlist.set_on_hand(%L, %s);', k, q);
					UPDATE model SET on_hand = q WHERE sku = k;
				END IF;
			ELSIF r < 0.82 THEN
				SELECT l.id INTO id FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
				 WHERE s.sku = k AND l.state = 'waiting' ORDER BY random() LIMIT 1;
				IF id IS NOT NULL THEN
					body := body || format('SELECT waitlist.cancel_line(%s);', id);
				END IF;
			ELSIF r < 0.92 THEN
				SELECT l.id, l.qty INTO id, q FROM waitlist.line_status l
				 WHERE l.sku = k AND l.status = 'allocated' ORDER BY random() LIMIT 1;
				IF id IS NOT NULL THEN
					body := body || format('SELECT waitlist.ship_line(%s);', id);
					UPDATE model SET on_hand = on_hand - q WHERE sku = k;
				END IF;
			ELSIF r < 0.96 THEN
				SELECT u.id INTO id FROM waitlist.subscriber u JOIN waitlist.sku s ON s.sku = u.sku
				 WHERE s.sku = k AND u.state = 'waiting' ORDER BY random() LIMIT 1;
				IF id IS NOT NULL THEN
					body := body || format('SELECT waitlist.unsubscribe(%s);', id);
				END IF;
			ELSE
				body := body || 'SELECT waitlist.tick();';
			END IF;
		END LOOP;
		CONTINUE WHEN body = '';
		PERFORM pg_temp.tx(body);
		committed := committed + 1;
		PERFORM pg_temp.check_state(step, body);
	END LOOP;
	RETURN committed;
END
$$;

-- =================================================================== setup
SELECT is(dblink_connect('wl_w', pg_temp.conn(current_user, '-c waitlist.enforce_policy=off')), 'OK', 'dblink: writer connection');
SELECT is(dblink_connect('wl_l', pg_temp.conn(current_user, '-c waitlist.enforce_policy=off')), 'OK', 'dblink: listener connection');
SELECT lives_ok('SELECT pg_temp.cleanup()', 'leftovers of an earlier run removed');
SELECT is(dblink_exec('wl_l', 'LISTEN waitlist'), 'LISTEN', 'listener: LISTEN waitlist');

SELECT lives_ok($$SELECT pg_temp.tx($t$
	SELECT waitlist.upsert_sku('TAP-INV-A', 'Alpha');
	SELECT waitlist.upsert_sku('TAP-INV-B', 'Beta', notify_ratio => 1.5);
	SELECT waitlist.upsert_sku('TAP-INV-C', 'Gamma', send_sold_out_again => false);
	SELECT waitlist.upsert_sku('TAP-INV-D', 'Delta (tracked inventory)');
	SELECT waitlist.upsert_sku('TAP-INV-QUIET', 'Nobody waits for this');
	CREATE TABLE public.tap_inv_inventory (sku text, location text, qty integer NOT NULL CHECK (qty >= 0),
										   PRIMARY KEY (sku, location));
	INSERT INTO public.tap_inv_inventory VALUES ('TAP-INV-D', 'north', 0), ('TAP-INV-D', 'south', 0);
	SELECT waitlist.track_inventory('public.tap_inv_inventory', 'sku', 'qty');
$t$)$$, 'committed: four SKUs, one of them fed by a tracked inventory table');
INSERT INTO model SELECT sku, 0 FROM unnest(ARRAY['TAP-INV-A', 'TAP-INV-B', 'TAP-INV-C', 'TAP-INV-D']) sku;

-- ================================================================ workload
SELECT cmp_ok(pg_temp.workload(450), '>=', 400, 'the workload committed 400+ transactions');
SELECT diag(format('workload: %s lines (%s shipped, %s cancelled), %s sign-ups, %s batches, %s messages',
	(SELECT count(*) FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku WHERE s.sku LIKE 'TAP-INV-%'),
	(SELECT count(*) FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku WHERE s.sku LIKE 'TAP-INV-%' AND l.state = 'shipped'),
	(SELECT count(*) FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku WHERE s.sku LIKE 'TAP-INV-%' AND l.state = 'cancelled'),
	(SELECT count(*) FROM waitlist.subscriber u JOIN waitlist.sku s ON s.sku = u.sku WHERE s.sku LIKE 'TAP-INV-%'),
	(SELECT count(*) FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku WHERE s.sku LIKE 'TAP-INV-%'),
	(SELECT count(*) FROM waitlist.outbox WHERE sku LIKE 'TAP-INV-%')));
SELECT cmp_ok((SELECT count(*)::int FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
				WHERE s.sku LIKE 'TAP-INV-%'), '>=', 150, 'the workload placed a few hundred backorders');
SELECT ok((SELECT count(DISTINCT l.state) = 3 FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
			WHERE s.sku LIKE 'TAP-INV-%'), 'the workload has waiting, shipped and cancelled lines');
SELECT ok((SELECT count(*) > 0 FROM waitlist.line_status WHERE sku LIKE 'TAP-INV-%' AND status = 'waiting'),
	'the workload ends with lines still short of stock');

-- 8 tests: invariants after every committed transaction (check_invariants()
-- names what it found; the tests group the names).
SELECT is_empty(format($$SELECT step, check_name, sku, detail, last_tx FROM violation
						  WHERE check_name = ANY (%L) ORDER BY step LIMIT 10$$, c.names),
	   c.descr)
  FROM (VALUES
	('{allocated}', 'after every transaction: sku.allocated = sum of line_status.allocated over waiting lines'),
	('{stock,watermarks}', 'after every transaction: allocated <= on_hand, no counter negative, watermarks within their tails'),
	('{fifo}', 'after every transaction: no later waiting line holds a unit while an earlier one is short'),
	('{greedy}', 'after every transaction: allocated = min(on_hand, units wanted by waiting lines)'),
	('{on-hand-model}', 'after every transaction: on_hand equals the committed restocks, counts, inventory moves and shipments'),
	('{paid_positions,signup_positions}', 'after every transaction: paid lines tile [0, paid_tail), sign-ups take 0 .. sub_tail-1'),
	('{paid_waiting,sub_waiting}', 'after every transaction: paid_waiting and sub_waiting count the live queues')) c (names, descr);
SELECT is_empty($$SELECT step, check_name, sku, detail, last_tx FROM violation
				   WHERE check_name <> ALL ('{allocated,stock,watermarks,fifo,greedy,on-hand-model,paid_positions,signup_positions,paid_waiting,sub_waiting}')
				   ORDER BY step LIMIT 10$$,
	'after every transaction: check_invariants() reports nothing else either (waves, states, contacts, messages, batches, tracked table)');

-- ========================================================= messages after tick
SELECT cmp_ok((SELECT r FROM dblink('wl_w', 'SELECT waitlist.tick()') AS t (r bigint)), '>=', 0::bigint,
	'committed: tick()');
SELECT is_empty($$
	SELECT b.id, b.kind FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku
	 WHERE s.sku LIKE 'TAP-INV-%' AND b.expanded_at IS NULL
$$, 'after tick() every batch is expanded');
SELECT is((SELECT count(*) FROM waitlist.outbox), (SELECT count(DISTINCT idempotency_key) FROM waitlist.outbox),
	'idempotency keys are unique');

-- Lines currently holding all their units, with the number of allocation
-- batches whose watermark move completed them ("passes": more than one when
-- a stock count took the units back and a later restock gave them again).
CREATE TEMP TABLE alloc_line ON COMMIT DROP AS
SELECT l.id, s.sku, c.channel,
	   (SELECT count(*) FROM waitlist.batch b
		 WHERE b.sku = l.sku AND b.kind = 'allocated'
		   AND b.pos_from < l.pos_end AND l.pos_end <= b.pos_to) AS passes,
	   (SELECT count(*) FROM waitlist.outbox o
		 WHERE o.kind = 'ready_to_ship' AND o.channel = c.channel
		   AND (o.payload->>'line_id')::bigint = l.id) AS ready
  FROM waitlist.line l
  JOIN waitlist.sku s ON s.sku = l.sku
  JOIN waitlist.line_status ls ON ls.id = l.id
 CROSS JOIN LATERAL (VALUES ('email', l.email), ('sms', l.phone)) c (channel, recipient)
 WHERE s.sku LIKE 'TAP-INV-%' AND ls.status = 'allocated' AND c.recipient IS NOT NULL;

SELECT cmp_ok((SELECT count(*)::int FROM alloc_line), '>', 0, 'there are fully allocated lines to look at');
SELECT cmp_ok((SELECT count(*)::int FROM alloc_line WHERE passes = 1), '>', 0,
	'some allocated lines were completed by a single watermark move');
SELECT is_empty($$SELECT id, sku, channel, ready FROM alloc_line WHERE passes = 1 AND ready <> 1$$,
	'each allocated line completed once got exactly one ready_to_ship message per channel');
SELECT is_empty($$SELECT id, sku, channel, passes, ready FROM alloc_line WHERE ready <> 1$$,
	'each allocated line got exactly one ready_to_ship message per channel (also after take-backs)');
SELECT is_empty($$SELECT id, sku, channel, ready FROM alloc_line WHERE ready = 0$$,
	'no allocated line (even one whose units were taken back and given again) lacks ready_to_ship');
SELECT diag(format('allocated (line, channel) pairs: %s, completed more than once: %s, with more than one ready_to_ship: %s',
	(SELECT count(*) FROM alloc_line), (SELECT count(*) FROM alloc_line WHERE passes > 1),
	(SELECT count(*) FROM alloc_line WHERE ready > 1)));

-- Units taken back by a stock count, then given again: the line is told
-- "ready to ship" once (one key per line, kind and channel).
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SELECT waitlist.upsert_sku('TAP-INV-TWICE', 'Given twice');
	SELECT waitlist.place_backorder('TAP-INV-T1', 'TAP-INV-TWICE', 1, NULL, 't1@example.com');
$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.restock('TAP-INV-TWICE', 1);$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.tick();$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.set_on_hand('TAP-INV-TWICE', 0);$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.set_on_hand('TAP-INV-TWICE', 1);$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.tick();$t$)$$,
	'committed: backorder 1, restock 1, tick, count 0, count 1, tick');
SELECT is((SELECT status FROM waitlist.line_status WHERE order_ref = 'TAP-INV-T1'), 'allocated',
	'the line holds its unit again');
SELECT is((SELECT count(*)::int FROM waitlist.outbox WHERE kind = 'ready_to_ship' AND payload->>'order_ref' = 'TAP-INV-T1'), 1,
	'a line given its units again after a stock count is told ready_to_ship once');

-- Units taken back before the batch that gave them was expanded: expansion
-- looks at the current watermark, so the line is not told it is ready.
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SELECT waitlist.upsert_sku('TAP-INV-STALE', 'Stale batch');
	SELECT waitlist.place_backorder('TAP-INV-S1', 'TAP-INV-STALE', 2, NULL, 's1@example.com');
$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.restock('TAP-INV-STALE', 2);$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.set_on_hand('TAP-INV-STALE', 0);$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.tick();$t$)$$,
	'committed: backorder 2, restock 2, count 0, then tick');
SELECT is((SELECT allocated || '/' || status FROM waitlist.line_status WHERE order_ref = 'TAP-INV-S1'), '0/waiting',
	'the line holds nothing after the count');
SELECT is((SELECT count(*)::int FROM waitlist.outbox WHERE kind = 'ready_to_ship' AND payload->>'order_ref' = 'TAP-INV-S1'), 0,
	'no ready_to_ship for a line whose units were taken back before the batch was expanded');

SELECT is_empty($$
	SELECT l.id, c.channel, count(o.id)
	  FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
	 CROSS JOIN LATERAL (VALUES ('email', l.email), ('sms', l.phone)) c (channel, recipient)
	  LEFT JOIN waitlist.outbox o ON o.kind = 'backorder_confirmed' AND o.channel = c.channel
		   AND (o.payload->>'line_id')::bigint = l.id
	 WHERE s.sku LIKE 'TAP-INV-%' AND c.recipient IS NOT NULL
	 GROUP BY 1, 2 HAVING count(o.id) <> 1
$$, 'each line got exactly one backorder_confirmed per channel');
SELECT is_empty($$
	SELECT ls.id, ls.status FROM waitlist.line_status ls
	 WHERE ls.sku LIKE 'TAP-INV-%' AND ls.status = 'partially_allocated'
	   AND NOT EXISTS (SELECT 1 FROM waitlist.outbox o
					   WHERE o.kind IN ('allocated', 'ready_to_ship') AND (o.payload->>'line_id')::bigint = ls.id)
$$, 'each partially allocated line was told about its units');
SELECT is_empty($$
	SELECT o.id, o.kind, o.payload FROM waitlist.outbox o
	 WHERE o.sku LIKE 'TAP-INV-%' AND o.kind IN ('allocated', 'ready_to_ship')
	   AND ((o.payload->>'allocated_now')::int <= 0
			OR (o.payload->>'allocated_total')::int > (o.payload->>'qty')::int
			OR (o.kind = 'ready_to_ship') <> ((o.payload->>'allocated_total')::int = (o.payload->>'qty')::int))
$$, 'allocation messages carry consistent quantities (ready_to_ship exactly when the line is complete)');
-- A sign-up told who did not buy before the sell-out keeps its place and
-- is told again by a later wave: one back_in_stock per wave that covered it.
SELECT is_empty($$
	SELECT u.id, c.channel, count(o.id) FILTER (WHERE o.kind = 'back_in_stock') AS back,
		   count(o.id) FILTER (WHERE o.kind = 'waitlist_joined') AS joined, w.waves
	  FROM waitlist.subscriber u JOIN waitlist.subscriber_status us ON us.id = u.id
	 CROSS JOIN LATERAL (VALUES ('email', u.email), ('sms', u.phone)) c (channel, recipient)
	 CROSS JOIN LATERAL (SELECT count(*) AS waves FROM waitlist.batch b
						  WHERE b.sku = u.sku AND b.kind = 'back_in_stock'
							AND b.pos_from <= u.pos AND b.pos_to > u.pos) w
	  LEFT JOIN waitlist.outbox o ON o.channel = c.channel AND (o.payload->>'subscription_id')::bigint = u.id
	 WHERE us.sku LIKE 'TAP-INV-%' AND c.recipient IS NOT NULL
	 GROUP BY u.id, c.channel, us.status, w.waves
	HAVING count(o.id) FILTER (WHERE o.kind = 'back_in_stock') > w.waves
		OR count(o.id) FILTER (WHERE o.kind = 'waitlist_joined') > 1
		OR (us.status = 'notified' AND count(o.id) FILTER (WHERE o.kind = 'back_in_stock') = 0)
		OR (w.waves = 0 AND count(o.id) FILTER (WHERE o.kind = 'back_in_stock') <> 0)
$$, 'sign-ups: at most one waitlist_joined per channel; at most one back_in_stock per channel and wave that covered them, at least one once notified, none before a wave');
SELECT cmp_ok((SELECT count(*)::int FROM waitlist.outbox WHERE sku LIKE 'TAP-INV-%' AND kind = 'back_in_stock'), '>', 0,
	'the workload sent back_in_stock waves');
SELECT is_empty($$
	SELECT o.id FROM waitlist.outbox o WHERE o.sku = 'TAP-INV-C' AND o.kind = 'sold_out_again'
$$, 'no sold_out_again for a SKU with send_sold_out_again = false');

-- ===================================================== rolled back: nothing
CREATE TEMP TABLE before_rb ON COMMIT DROP AS
SELECT (SELECT count(*) FROM waitlist.batch) AS batches, (SELECT count(*) FROM waitlist.outbox) AS messages,
	   (SELECT string_agg(format('%s:%s:%s:%s:%s', sku, on_hand, allocated, paid_tail, sub_tail), ',' ORDER BY sku)
		  FROM waitlist.sku WHERE sku LIKE 'TAP-INV-%') AS skus;
SELECT cmp_ok(pg_temp.listen_drain(1), '>', 0, 'the listener heard NOTIFYs during the workload');
SELECT is_empty($$SELECT * FROM heard WHERE channel <> 'waitlist' OR payload <> '{"outbox":1}'$$,
	'every NOTIFY of the workload has channel waitlist and the constant payload {"outbox":1} (no person)');
SELECT is_empty($$SELECT * FROM heard WHERE (payload::json ->> 'outbox') IS DISTINCT FROM '1'$$,
	'every NOTIFY payload parses as JSON, as listeners that parse payloads by default expect');
SELECT lives_ok($$SELECT dblink_exec('wl_w', $t$
	BEGIN;
	SELECT waitlist.place_backorder('TAP-INV-RB1', 'TAP-INV-A', 2, NULL, 'rb@example.com');
	SELECT waitlist.subscribe('TAP-INV-A', 'rb-sub@example.com');
	SELECT waitlist.restock('TAP-INV-A', 50);
	SELECT waitlist.restock('TAP-INV-B', 50);
	UPDATE public.tap_inv_inventory SET qty = qty + 50;
	SELECT waitlist.tick();
	ROLLBACK;
$t$)$$, 'a transaction that backorders, signs up, restocks and ticks, then rolls back');
SELECT is((SELECT count(*) FROM waitlist.batch), (SELECT batches FROM before_rb),
	'the rolled-back transaction left no batch');
SELECT is((SELECT count(*) FROM waitlist.outbox), (SELECT messages FROM before_rb),
	'the rolled-back transaction left no message');
SELECT is((SELECT string_agg(format('%s:%s:%s:%s:%s', sku, on_hand, allocated, paid_tail, sub_tail), ',' ORDER BY sku)
			 FROM waitlist.sku WHERE sku LIKE 'TAP-INV-%'), (SELECT skus FROM before_rb),
	'the rolled-back transaction changed no SKU counter');
SELECT is(pg_temp.listen_drain(), 0, 'the rolled-back transaction sent no NOTIFY');

-- ======================================================== savepoints
-- A SKU nobody touched outside the savepoint: the rolled-back restock
-- allocates nothing and writes no batch.
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SELECT waitlist.upsert_sku('TAP-INV-SP', 'Savepoints');
	SELECT waitlist.place_backorder('TAP-INV-SP1', 'TAP-INV-SP', 3, NULL, 'sp1@example.com');
	SELECT waitlist.place_backorder('TAP-INV-SP2', 'TAP-INV-SP', 2, NULL, 'sp2@example.com');
$t$)$$, 'committed: SKU TAP-INV-SP with two backorders (3 + 2 units)');
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SAVEPOINT s1;
	SELECT waitlist.restock('TAP-INV-SP', 10);
	ROLLBACK TO SAVEPOINT s1;
$t$)$$, 'committed: a transaction whose only restock was in a rolled-back savepoint');
SELECT is((SELECT on_hand || '/' || allocated FROM waitlist.sku WHERE sku = 'TAP-INV-SP'), '0/0',
	'rolled-back savepoint: no units on hand, none allocated');
SELECT is((SELECT count(*)::int FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku WHERE s.sku = 'TAP-INV-SP'), 0,
	'rolled-back savepoint: no batch');
-- Touched both outside and inside: only the kept part is allocated.
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SELECT waitlist.restock('TAP-INV-SP', 2);
	SAVEPOINT s1;
	SELECT waitlist.restock('TAP-INV-SP', 10);
	SELECT waitlist.place_backorder('TAP-INV-SP3', 'TAP-INV-SP', 1, NULL, 'sp3@example.com');
	ROLLBACK TO SAVEPOINT s1;
	SAVEPOINT s2;
	SELECT waitlist.restock('TAP-INV-SP', 1);
	RELEASE SAVEPOINT s2;
$t$)$$, 'committed: restock 2, savepoint restock 10 + backorder rolled back, savepoint restock 1 released');
SELECT is((SELECT on_hand || '/' || allocated FROM waitlist.sku WHERE sku = 'TAP-INV-SP'), '3/3',
	'only the kept 3 units exist and are allocated');
SELECT is((SELECT string_agg(order_ref || '=' || allocated, ',' ORDER BY id) FROM waitlist.line_status WHERE sku = 'TAP-INV-SP'),
	'TAP-INV-SP1=3,TAP-INV-SP2=0', 'FIFO: the first line gets all 3, the rolled-back line does not exist');
SELECT is((SELECT string_agg(kind || ':' || pos_from || '-' || pos_to || ':' || units, ',' ORDER BY b.id)
			 FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku WHERE s.sku = 'TAP-INV-SP'),
	'allocated:0-3:3,still_waiting:3-5:3',
	'one allocation batch for the kept units only, and one still_waiting batch for the line left short');
-- A savepoint rolled back by an exception handler (PL/pgSQL) behaves the same.
SELECT lives_ok($$SELECT pg_temp.tx($t$
	DO $d$ BEGIN
		PERFORM waitlist.restock('TAP-INV-SP', 7);
		RAISE EXCEPTION 'undo';
	EXCEPTION WHEN raise_exception THEN NULL;
	END $d$;
$t$)$$, 'committed: a restock undone by a PL/pgSQL exception block');
SELECT is((SELECT on_hand || '/' || allocated FROM waitlist.sku WHERE sku = 'TAP-INV-SP'), '3/3',
	'the restock undone by the exception block allocated nothing');

-- ============================================================== NOTIFY
SELECT cmp_ok(pg_temp.listen_drain(), '>=', 0, 'listener drained');
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SELECT waitlist.place_backorder('TAP-INV-N1', 'TAP-INV-A', 1, 'Nia', 'nia@example.com', '+4915199999999');
	SELECT waitlist.place_backorder('TAP-INV-N2', 'TAP-INV-B', 1, 'Noa', 'noa@example.com');
	SELECT waitlist.subscribe('TAP-INV-C', 'nell@example.com');
	SELECT waitlist.restock('TAP-INV-A', 5);
	SELECT waitlist.restock('TAP-INV-B', 5);
$t$)$$, 'committed: one transaction queueing messages and allocations on three SKUs');
SELECT is(pg_temp.listen_drain(1), 1, 'exactly one NOTIFY for the whole transaction');
SELECT is((SELECT channel || '/' || payload FROM heard), 'waitlist/{"outbox":1}',
	'the NOTIFY is on channel waitlist with the constant payload {"outbox":1}');
SELECT lives_ok($$SELECT pg_temp.tx($t$SELECT waitlist.restock('TAP-INV-QUIET', 3);$t$)$$,
	'committed: a restock nobody waits for (no message)');
SELECT is(pg_temp.listen_drain(), 0, 'a transaction without messages sends no NOTIFY');
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SET LOCAL waitlist.notify = off;
	SELECT waitlist.place_backorder('TAP-INV-N3', 'TAP-INV-A', 1, NULL, 'quiet@example.com');
$t$)$$, 'committed: a backorder with waitlist.notify = off');
SELECT is(pg_temp.listen_drain(), 0, 'waitlist.notify = off: no NOTIFY');
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SAVEPOINT s1;
	SELECT waitlist.place_backorder('TAP-INV-N4', 'TAP-INV-A', 1, NULL, 'gone@example.com');
	ROLLBACK TO SAVEPOINT s1;
$t$)$$, 'committed: a transaction whose only message was queued in a rolled-back savepoint');
SELECT is(pg_temp.listen_drain(), 0, 'messages of a rolled-back savepoint send no NOTIFY');
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SAVEPOINT s1;
	SELECT waitlist.place_backorder('TAP-INV-N5', 'TAP-INV-A', 1, NULL, 'kept@example.com');
	RELEASE SAVEPOINT s1;
$t$)$$, 'committed: a message queued in a released savepoint');
SELECT is(pg_temp.listen_drain(1), 1, 'messages of a released savepoint send one NOTIFY');

-- ============================================ check_invariants() can fail
-- Each invariant broken by hand, in a subtransaction rolled back at once:
-- check_invariants() names it.  The fixtures: a SKU with two allocated lines
-- and one waiting, two sign-ups and an expanded batch, and a pre-order SKU
-- with a channel limit.
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SELECT waitlist.upsert_sku('TAP-INV-FIX', 'Broken by hand');
	SELECT waitlist.place_backorder('TAP-INV-F' || g, 'TAP-INV-FIX', 1, NULL, 'f' || g || '@example.com')
	  FROM generate_series(1, 3) g;
	SELECT waitlist.subscribe('TAP-INV-FIX', 'fs' || g || '@example.com') FROM generate_series(1, 2) g;
	SELECT waitlist.upsert_sku('TAP-INV-FIXPO', 'Pre-order broken by hand');
	SELECT waitlist.open_preorders('TAP-INV-FIXPO', 100, 80, current_date + 30, current_date + 40);
	SELECT waitlist.set_preorder_channel_limit('TAP-INV-FIXPO', 'dtc', 10);
	SELECT waitlist.place_preorder('TAP-INV-FP1', 'TAP-INV-FIXPO', 2, NULL, 'fp@example.com',
								   unit_price => 10, currency => 'USD');
$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.restock('TAP-INV-FIX', 2);$t$);
	SELECT pg_temp.tx($t$SELECT waitlist.tick();$t$)$$,
	'committed: fixtures to break (3 lines, 2 allocated; 2 sign-ups; a pre-order with a channel limit)');
SELECT is_empty($$SELECT * FROM waitlist.check_invariants() WHERE sku LIKE 'TAP-INV-FIX%'$$,
	'the fixtures are healthy');

-- Run corrupt in a subtransaction, report whether check_invariants() then
-- names want for a TAP-INV SKU (or a tracked table), and undo it.
CREATE FUNCTION pg_temp.breaks(corrupt text, want text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	found boolean;
BEGIN
	BEGIN
		EXECUTE corrupt;
		found := EXISTS (SELECT 1 FROM waitlist.check_invariants() v
						  WHERE v.invariant = want AND (v.sku LIKE 'TAP-INV-%' OR v.sku IS NULL));
		RAISE EXCEPTION USING ERRCODE = 'TAPUN';
	EXCEPTION WHEN SQLSTATE 'TAPUN' THEN
		NULL;
	END;
	RETURN found;
END
$$;
CREATE TEMP VIEW fix AS SELECT * FROM waitlist.sku WHERE sku = 'TAP-INV-FIX';
CREATE TEMP VIEW fix_line AS SELECT l.* FROM waitlist.line l JOIN fix ON fix.sku = l.sku;

SELECT ok(pg_temp.breaks(b.corrupt, b.invariant), format('check_invariants() reports %s: %s', b.invariant, b.what))
  FROM (VALUES
	('stock', 'allocated above on hand',
	 $$UPDATE waitlist.sku SET allocated = on_hand + 1 WHERE sku = 'TAP-INV-FIX'$$),
	('watermarks', 'paid_served past paid_tail',
	 $$UPDATE waitlist.sku SET paid_served = paid_tail + 1 WHERE sku = 'TAP-INV-FIX'$$),
	('allocated', 'allocated not what the lines hold',
	 $$UPDATE waitlist.sku SET allocated = allocated + 1, on_hand = on_hand + 1 WHERE sku = 'TAP-INV-FIX'$$),
	('greedy', 'a unit idle while a line waits',
	 $$UPDATE waitlist.sku SET on_hand = on_hand + 1 WHERE sku = 'TAP-INV-FIX'$$),
	('fifo', 'an earlier line short while a later one holds units',
	 $$UPDATE waitlist.line SET qty = 3, pos_end = pos_start + 3 WHERE id = (SELECT min(id) FROM fix_line)$$),
	('paid_waiting', 'paid_waiting off by one',
	 $$UPDATE waitlist.sku SET paid_waiting = paid_waiting + 1 WHERE sku = 'TAP-INV-FIX'$$),
	('sub_waiting', 'sub_waiting off by one',
	 $$UPDATE waitlist.sku SET sub_waiting = sub_waiting + 1 WHERE sku = 'TAP-INV-FIX'$$),
	('paid_positions', 'a position nobody holds',
	 $$UPDATE waitlist.sku SET paid_tail = paid_tail + 1 WHERE sku = 'TAP-INV-FIX'$$),
	('signup_positions', 'a gap in the sign-up positions',
	 $$UPDATE waitlist.subscriber SET pos = pos + 10 WHERE id = (SELECT max(u.id) FROM waitlist.subscriber u JOIN fix ON fix.sku = u.sku)$$),
	('wave', 'more units announced than are free',
	 $$UPDATE waitlist.sku SET announced = on_hand - allocated + 1 WHERE sku = 'TAP-INV-FIX'$$),
	('preorder_accepted', 'accepted units the lines do not hold',
	 $$UPDATE waitlist.sku SET preorder_accepted = preorder_accepted + 1 WHERE sku = 'TAP-INV-FIXPO'$$),
	('preorder_cap', 'accepted units over the limit without a plan that lowered it',
	 $$UPDATE waitlist.sku SET preorder_limit = 1 WHERE sku = 'TAP-INV-FIXPO'$$),
	('preorder_at_limit', 'the limit mark set below the limit',
	 $$UPDATE waitlist.sku SET preorder_at_limit = true WHERE sku = 'TAP-INV-FIXPO'$$),
	('preorder_plan', 'a ship date before the production date',
	 $$UPDATE waitlist.sku SET ships_on = production_date - 1 WHERE sku = 'TAP-INV-FIXPO'$$),
	('channel_limits', 'the flag without a channel limit',
	 $$UPDATE waitlist.sku SET channel_limits = true WHERE sku = 'TAP-INV-FIX'$$),
	('channel_accepted', 'a channel counting units its lines do not hold',
	 $$UPDATE waitlist.preorder_channel SET accepted = accepted + 1
		WHERE sku = 'TAP-INV-FIXPO'$$),
	('sku_settings', 'a notify ratio below 1',
	 $$UPDATE waitlist.sku SET notify_ratio = 0.5 WHERE sku = 'TAP-INV-FIX'$$),
	('sku_dates', 'a restock date no message can format',
	 $$UPDATE waitlist.sku SET restock_date = '300000-01-01' WHERE sku = 'TAP-INV-FIX'$$),
	('listings', 'a channel listed twice',
	 $$UPDATE waitlist.sku SET channels = '{dtc,dtc}' WHERE sku = 'TAP-INV-FIX'$$),
	('line_state', 'a waiting line with a shipping time',
	 $$UPDATE waitlist.line SET shipped_at = now() WHERE id = (SELECT max(id) FROM fix_line)$$),
	('line_contact', 'a malformed email',
	 $$UPDATE waitlist.line SET email = 'not-an-email' WHERE id = (SELECT max(id) FROM fix_line)$$),
	('line_payment', 'a backorder with a payment state',
	 $$UPDATE waitlist.line SET payment_state = 'authorized' WHERE id = (SELECT max(id) FROM fix_line)$$),
	('signup_state', 'a waiting sign-up with an unsubscribe time',
	 $$UPDATE waitlist.subscriber SET unsubscribed_at = now() WHERE id = (SELECT max(u.id) FROM waitlist.subscriber u JOIN fix ON fix.sku = u.sku)$$),
	('signup_state', 'a sign-up that left the list with its confirmation still queued',
	 $$WITH u AS (UPDATE waitlist.subscriber SET state = 'unsubscribed', unsubscribed_at = now()
				   WHERE id = (SELECT max(u.id) FROM waitlist.subscriber u JOIN fix ON fix.sku = u.sku)
				   RETURNING id, sku)
	   INSERT INTO waitlist.unconfirmed_signup (id, sku) SELECT id, sku FROM u$$),
	('batch', 'an expanded batch without its message count',
	 $$UPDATE waitlist.batch SET messages = NULL WHERE sku = (SELECT sku FROM fix)$$),
	('outbox', 'a leased message without an owner',
	 $$UPDATE waitlist.outbox SET state = 'leased', lease_owner = NULL WHERE id = (SELECT min(id) FROM waitlist.outbox WHERE sku = 'TAP-INV-FIX')$$),
	('availability', 'a decision published for a channel the SKU is not listed on',
	 $$INSERT INTO waitlist.availability (sku, channel, decision, reason) SELECT sku, 'walmart', 'in_stock', 'by hand' FROM fix$$),
	('tracked_inventory', 'a tracked table without its trigger',
	 $$DROP TRIGGER waitlist_inventory ON public.tap_inv_inventory$$)
	) b (invariant, what, corrupt);
SELECT is_empty($$SELECT * FROM waitlist.check_invariants() WHERE sku LIKE 'TAP-INV-%' OR sku IS NULL$$,
	'every break was undone: check_invariants() reports nothing');

-- =============================================================== cleanup
SELECT lives_ok('SELECT pg_temp.cleanup()', 'committed test data removed');
SELECT is((SELECT count(*)::int FROM waitlist.sku WHERE sku LIKE 'TAP-INV-%'), 0, 'no TAP-INV SKU is left');
SELECT is(dblink_disconnect('wl_l'), 'OK', 'dblink: listener disconnected');
SELECT is(dblink_disconnect('wl_w'), 'OK', 'dblink: writer disconnected');

SELECT * FROM finish();
ROLLBACK;
