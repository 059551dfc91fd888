-- pgTAP: exclusive holds under a random workload.  Two SKUs with a hold
-- window take sign-ups, restocks, stock counts down and up, claims of held
-- units, walk-in orders, cancellations, shipments and ticks while the
-- writer's clock moves on (so waves expire and pass their units on).  After
-- every committed transaction: held + allocated <= on_hand, sku.held is
-- what the open waves keep, and check_invariants() reports nothing.  The
-- workload is seeded, so a failure reproduces.  Writes go through dblink
-- (allocation happens at COMMIT); the SKUs are named TAP-HOLD-*.
BEGIN;
SELECT plan(9);
SET LOCAL statement_timeout = '300s';

CREATE EXTENSION IF NOT EXISTS dblink;

\ir lib/conn.psql

CREATE TEMP TABLE violation (step int, check_name text, sku text, detail text, last_tx text) ON COMMIT DROP;
CREATE TEMP TABLE tally (op text PRIMARY KEY, n int NOT NULL DEFAULT 0) ON COMMIT DROP;

CREATE FUNCTION pg_temp.count_op(op text) RETURNS void LANGUAGE sql AS $$
	INSERT INTO tally VALUES (op, 1) ON CONFLICT (op) DO UPDATE SET n = tally.n + 1
$$;

-- One committed transaction on the writer connection at the workload's clock.
CREATE FUNCTION pg_temp.tx(body text, at timestamptz) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dblink_exec('wl_w', format('SET waitlist.test_now = %L', at));
	PERFORM dblink_exec('wl_w', 'BEGIN; ' || body || ' COMMIT;');
	RETURN true;
EXCEPTION WHEN OTHERS THEN
	-- a refused claim (WL017) or order (policy) is part of the workload
	PERFORM dblink_exec('wl_w', 'ROLLBACK');
	IF SQLERRM NOT LIKE '%WL017%' AND SQLERRM NOT LIKE '%no unit of SKU%' THEN
		RAISE;
	END IF;
	PERFORM pg_temp.count_op('claim refused');
	RETURN false;
END
$$;

CREATE FUNCTION pg_temp.check_state(step int, last_tx text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO violation
	SELECT step, 'held+allocated', s.sku,
		   format('on_hand %s, allocated %s, held %s', s.on_hand, s.allocated, s.held), last_tx
	  FROM waitlist.sku s
	 WHERE s.sku LIKE 'TAP-HOLD-%' AND s.allocated + s.held > s.on_hand;
	INSERT INTO violation
	SELECT step, v.invariant, v.sku, v.detail, last_tx
	  FROM waitlist.check_invariants() v
	 WHERE v.sku LIKE 'TAP-HOLD-%';
END
$$;

CREATE FUNCTION pg_temp.workload(steps int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	skus text[] := ARRAY['TAP-HOLD-A', 'TAP-HOLD-B'];
	clock timestamptz := '2031-01-01 08:00+00';
	people int := 0;
	orders int := 0;
	k text;
	r float8;
	body text;
	op text;
	contact text;
	id bigint;
	claimed_line boolean;
	oh bigint;
	committed int := 0;
BEGIN
	PERFORM setseed(0.2718);
	FOR step IN 1..steps LOOP
		k := skus[1 + floor(random() * 2)::int];
		r := random();
		-- the clock moves 0-20 minutes per step; windows are 45 minutes to 2 hours
		clock := clock + make_interval(mins => floor(random() * 20)::int);
		IF r < 0.25 THEN
			people := people + 1;
			op := 'sign-up';
			body := format('SELECT waitlist.subscribe(%L, %L);', k, 'h' || people || '@example.com');
		ELSIF r < 0.40 THEN
			op := 'restock';
			body := format('SELECT waitlist.restock(%L, %s);', k, 1 + floor(random() * 4)::int);
		ELSIF r < 0.47 THEN
			op := 'stock count';
			SELECT s.on_hand INTO oh FROM waitlist.sku s WHERE s.sku = k;
			body := format('SELECT waitlist.set_on_hand(%L, %s);', k, floor(random() * (oh + 3))::int);
		ELSIF r < 0.67 THEN
			-- a claim by someone told in a wave (open or not), or by anyone
			SELECT u.email INTO contact FROM waitlist.subscriber u JOIN waitlist.sku s ON s.sku = u.sku
			 WHERE u.sku = k AND u.state = 'waiting' AND u.pos < s.sub_served
			   AND (random() < 0.05 OR EXISTS (SELECT 1 FROM waitlist.hold h WHERE h.sku = u.sku
							AND h.closed_at IS NULL AND h.expires_at > clock
							AND u.pos >= h.pos_from AND u.pos < h.pos_to))
			 ORDER BY random() LIMIT 1;
			IF contact IS NULL OR random() < 0.05 THEN
				contact := 'h' || (1 + floor(random() * greatest(people, 1))::int) || '@example.com';
			END IF;
			orders := orders + 1;
			op := 'claim';
			body := format('SELECT waitlist.claim_hold(%L, %L, %L);', k, contact, 'TAP-HOLD-C' || orders);
		ELSIF r < 0.75 THEN
			orders := orders + 1;
			op := 'walk-in order';
			body := format('SELECT waitlist.place_backorder(%L, %L, %s, NULL, %L);',
						   'TAP-HOLD-W' || orders, k, 1 + floor(random() * 2)::int, 'w' || orders || '@example.com');
		ELSIF r < 0.82 THEN
			SELECT l.id, l.pos_start < 0 INTO id, claimed_line FROM waitlist.line l
			 WHERE l.sku = k AND l.state = 'waiting' ORDER BY random() LIMIT 1;
			CONTINUE WHEN id IS NULL;
			op := CASE WHEN claimed_line THEN 'cancel claimed' ELSE 'cancel' END;
			body := format('SELECT waitlist.cancel_line(%s);', id);
		ELSIF r < 0.88 THEN
			SELECT l.id INTO id FROM waitlist.line_status l WHERE l.sku = k AND l.status = 'allocated' ORDER BY random() LIMIT 1;
			CONTINUE WHEN id IS NULL;
			op := 'ship';
			body := format('SELECT waitlist.ship_line(%s);', id);
		ELSIF r < 0.92 THEN
			op := 'window';
			body := format('SELECT waitlist.set_hold_window(%L, %L);', k,
						   (ARRAY['1 hour', '2 hours', '45 minutes', NULL])[1 + floor(random() * 4)::int]);
		ELSE
			op := 'tick';
			body := 'SELECT waitlist.tick();';
		END IF;
		IF pg_temp.tx(body, clock) THEN
			committed := committed + 1;
			PERFORM pg_temp.count_op(op);
		END IF;
		PERFORM pg_temp.check_state(step, body);
	END LOOP;
	RETURN committed;
END
$$;

SELECT is(dblink_connect('wl_w', pg_temp.conn(current_user, '-c waitlist.enforce_policy=off')), 'OK', 'dblink: writer connection');
SELECT lives_ok($$SELECT pg_temp.delete_skus('wl_w', 'TAP-HOLD-')$$, 'leftovers of an earlier run removed');
SELECT lives_ok($$SELECT pg_temp.tx($t$
	SELECT waitlist.upsert_sku('TAP-HOLD-A', 'Held alpha', confirm_signups => false);
	SELECT waitlist.upsert_sku('TAP-HOLD-B', 'Held beta', confirm_signups => false, notify_ratio => 2);
	SELECT waitlist.set_hold_window('TAP-HOLD-A', '1 hour');
	SELECT waitlist.set_hold_window('TAP-HOLD-B', '2 hours');
$t$, '2031-01-01 08:00+00')$$, 'committed: two SKUs with hold windows');

SELECT cmp_ok(pg_temp.workload(600), '>=', 450, 'the workload committed 450+ transactions');
SELECT diag((SELECT string_agg(op || ': ' || n, ', ' ORDER BY op) FROM tally));
SELECT cmp_ok((SELECT count(*)::int FROM waitlist.hold WHERE sku LIKE 'TAP-HOLD-%'), '>=', 20,
	'the workload made waves of holds');
SELECT cmp_ok((SELECT count(*)::int FROM waitlist.line WHERE sku LIKE 'TAP-HOLD-%' AND pos_start < 0), '>=', 10,
	'the workload claimed held units');
SELECT cmp_ok((SELECT count(*)::int FROM waitlist.hold
				WHERE sku LIKE 'TAP-HOLD-%' AND closed_at IS NOT NULL AND claimed < units), '>=', 5,
	'waves expired with units unclaimed (passed on)');
SELECT is_empty($$SELECT step, check_name, sku, detail, last_tx FROM violation
				   WHERE check_name = 'held+allocated' ORDER BY step LIMIT 10$$,
	'after every transaction: held + allocated <= on_hand');
SELECT is_empty($$SELECT step, check_name, sku, detail, last_tx FROM violation
				   WHERE check_name <> 'held+allocated' ORDER BY step LIMIT 10$$,
	'after every transaction: check_invariants() reports nothing (held, greedy, wave, positions, ...)');

SELECT pg_temp.delete_skus('wl_w', 'TAP-HOLD-');
SELECT dblink_disconnect('wl_w');
SELECT * FROM finish();
ROLLBACK;
