-- pgTAP: no message reaches a suppressed or opted-out contact, and held
-- messages are counted, never lost, after a random workload.
--
-- Allocation runs at COMMIT, so every write goes through a dblink
-- connection that commits on its own (lib/conn.psql); this transaction only
-- reads.  The workload (seeded) over three SKUs TAP-CON-*: 120 sign-ups by
-- 40 contacts (emails, phones, both), restocks, claims that ack what they
-- got, and opt-outs, bounces and complaints reported between them.  Each
-- claim's rows are checked against the suppression list as it stood when the
-- claim began: a contact suppressed before a claim never appears in it.
BEGIN;
SELECT plan(9);
SET LOCAL statement_timeout = '300s';

CREATE EXTENSION IF NOT EXISTS dblink;

\ir lib/conn.psql

CREATE FUNCTION pg_temp.cleanup() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_temp.delete_skus('wl_c', 'TAP-CON-');
	PERFORM dblink_exec('wl_c', $q$
		DELETE FROM waitlist.suppression WHERE contact LIKE 'tapcon%' OR contact LIKE '+1415666%';
		DELETE FROM waitlist.consent_log WHERE contact LIKE 'tapcon%' OR contact LIKE '+1415666%';
	$q$);
END
$$;

SELECT is(dblink_connect('wl_c', pg_temp.conn()), 'OK', 'dblink: writer connected');
SELECT lives_ok('SELECT pg_temp.cleanup()', 'leftovers of an earlier run removed');

-- Contact i: an email for i % 3 <> 1, a phone for i % 3 <> 0 (so some have both).
CREATE TEMP TABLE contact AS
SELECT i, CASE WHEN i % 3 <> 1 THEN 'tapcon' || i || '@example.com' END AS email,
	   CASE WHEN i % 3 <> 0 THEN '+1415666' || lpad(i::text, 4, '0') END AS phone
  FROM generate_series(1, 40) i;

-- One committed call on the writer connection (its result read as text).
CREATE FUNCTION pg_temp.call(expr text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM x FROM dblink('wl_c', 'SELECT (' || expr || ')::text') AS t (x text);
END
$$;

-- Claimed rows, with the suppressed contacts as of the claim's start.
CREATE TEMP TABLE seen (step int, channel text, recipient text, suppressed_before boolean);
CREATE TEMP TABLE log (step int, what text);

CREATE FUNCTION pg_temp.claim_step(step int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	before text[];
BEGIN
	SELECT array_agg(contact) INTO before FROM waitlist.suppression;
	INSERT INTO seen
	SELECT step, c.channel, c.recipient,
		   (CASE c.channel WHEN 'email' THEN lower(c.recipient) ELSE c.recipient END) = ANY (coalesce(before, '{}'))
	  FROM dblink('wl_c', $q$
		WITH c AS (SELECT * FROM waitlist.claim('tap-con', 10000, '1 hour') WHERE sku LIKE 'TAP-CON-%')
		SELECT c.channel, c.recipient, waitlist.ack('tap-con', ARRAY[c.id]) FROM c$q$)
		AS c (channel text, recipient text, acked int);
END
$$;

-- The workload: 300 steps, seeded.
DO $$
DECLARE
	r double precision;
	c record;
	sku text;
	k text;
BEGIN
	PERFORM setseed(0.15);
	PERFORM pg_temp.call(format('waitlist.upsert_sku(%L, %L, confirm_signups => true)', 'TAP-CON-' || n, 'Consent ' || n))
	  FROM generate_series(1, 3) n;
	FOR step IN 1 .. 300 LOOP
		r := random();
		sku := 'TAP-CON-' || (1 + floor(random() * 3))::int;
		IF r < 0.40 THEN
			SELECT * INTO c FROM contact ORDER BY random() LIMIT 1;
			PERFORM pg_temp.call(format('waitlist.subscribe(%L, %L, %L)', sku, c.email, c.phone));
			INSERT INTO log VALUES (step, 'subscribe ' || sku || ' ' || c.i);
		ELSIF r < 0.55 THEN
			PERFORM pg_temp.call(format('waitlist.restock(%L, %s)', sku, 1 + floor(random() * 4)::int));
			INSERT INTO log VALUES (step, 'restock ' || sku);
		ELSIF r < 0.75 THEN
			PERFORM pg_temp.claim_step(step);
		ELSIF r < 0.85 THEN
			SELECT * INTO c FROM contact ORDER BY random() LIMIT 1;
			PERFORM pg_temp.call(format('waitlist.opt_out(%L, %L)', coalesce(c.phone, c.email), 'tap step ' || step));
			INSERT INTO log VALUES (step, 'opt_out ' || c.i);
		ELSIF r < 0.95 THEN
			-- a provider reports a bounce or a complaint for a message already sent
			SELECT o.idempotency_key INTO k FROM waitlist.outbox o
			 WHERE o.sku LIKE 'TAP-CON-%' AND o.state = 'delivered' ORDER BY random() LIMIT 1;
			IF k IS NOT NULL THEN
				PERFORM pg_temp.call(format('waitlist.record_event(%L, %L)', k,
												   CASE WHEN random() < 0.5 THEN 'bounced' ELSE 'complained' END));
				INSERT INTO log VALUES (step, 'event ' || k);
			END IF;
		ELSE
			SELECT * INTO c FROM contact ORDER BY random() LIMIT 1;
			-- consent again: lifts an opt-out, never a bounce or a complaint
			PERFORM pg_temp.call(format($c$CASE WHEN waitlist.suppressed(%1$L) = 'opted_out'
				THEN waitlist.opt_in(%1$L, %2$L) END$c$, coalesce(c.phone, c.email), 'tap step ' || step));
			INSERT INTO log VALUES (step, 'opt_in ' || c.i);
		END IF;
	END LOOP;
	PERFORM pg_temp.claim_step(301);
END
$$;

SELECT cmp_ok((SELECT count(*) FROM seen)::int, '>', 50, 'the workload claimed messages');
SELECT cmp_ok((SELECT count(*) FROM waitlist.suppression WHERE contact LIKE 'tapcon%' OR contact LIKE '+1415666%')::int,
	'>', 3, 'the workload suppressed contacts');
SELECT is_empty($$SELECT * FROM seen WHERE suppressed_before$$,
	'no claim handed over a message to a contact suppressed before it began');
SELECT cmp_ok((SELECT count(*) FROM waitlist.outbox WHERE sku LIKE 'TAP-CON-%' AND state = 'suppressed')::int,
	'>', 0, 'messages to suppressed contacts ended suppressed');
-- Every message is accounted for: after the last claim each ended delivered
-- (acked) or suppressed, but for emails still held behind their SMS.
SELECT is_empty($$SELECT state, count(*) FROM waitlist.outbox WHERE sku LIKE 'TAP-CON-%'
	AND state NOT IN ('delivered', 'suppressed') AND NOT (state = 'pending' AND due_at > waitlist.now())
	GROUP BY state$$,
	'every message of the workload was delivered or suppressed');
-- A suppressed message went to a contact that was suppressed at some point.
SELECT is_empty($$SELECT o.id FROM waitlist.outbox o WHERE o.sku LIKE 'TAP-CON-%' AND o.state = 'suppressed'
	AND NOT EXISTS (SELECT 1 FROM waitlist.consent_log l WHERE l.action = 'suppressed'
					 AND l.contact = CASE o.channel WHEN 'email' THEN lower(o.recipient) ELSE o.recipient END)$$,
	'only messages to contacts on the list were suppressed');
SELECT lives_ok('SELECT pg_temp.cleanup()', 'committed test data removed');

SELECT * FROM finish();
ROLLBACK;
