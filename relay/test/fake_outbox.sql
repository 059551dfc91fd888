-- TEST STAND-IN ONLY: a minimal imitation of the waitlist extension's outbox
-- (table and claim/ack/nack/dead_letter/extend_lease/release/next_due/tick/
-- expand_batches), so the relay's tests can run before the extension is
-- installed.  relay/test/run.sh loads it only with WAITLIST_RELAY_FAKE=1 or
-- when waitlist.control is not installed.  Never install it anywhere else.
CREATE SCHEMA waitlist;
COMMENT ON SCHEMA waitlist IS 'TEST STAND-IN for the waitlist extension (relay tests only)';

CREATE TABLE waitlist.outbox (
	id				bigserial PRIMARY KEY,
	kind			text NOT NULL,
	channel			text NOT NULL CHECK (channel = ANY (ARRAY['email', 'sms', 'merchant', 'payment'])),
	recipient		text,
	sku				text,
	payload			jsonb NOT NULL DEFAULT '{}',
	idempotency_key text NOT NULL UNIQUE,
	state			text NOT NULL DEFAULT 'pending'
					CHECK (state = ANY (ARRAY['pending', 'leased', 'delivered', 'dead'])),
	due_at			timestamptz NOT NULL DEFAULT now(),
	attempts		integer NOT NULL DEFAULT 0,
	lease_owner		text,
	last_error		text,
	created_at		timestamptz NOT NULL DEFAULT now(),
	delivered_at	timestamptz
);
CREATE INDEX outbox_due ON waitlist.outbox (due_at, id) WHERE state = ANY (ARRAY['pending', 'leased']);

CREATE FUNCTION waitlist.expand_batches(max_batches integer DEFAULT 1000) RETURNS bigint
LANGUAGE sql AS $$ SELECT 0::bigint $$;

CREATE FUNCTION waitlist.tick() RETURNS bigint
LANGUAGE sql AS $$ SELECT waitlist.expand_batches() $$;

CREATE FUNCTION waitlist.claim(consumer text, max integer DEFAULT 100, lease interval DEFAULT '30 seconds',
							   kinds text[] DEFAULT NULL, channels text[] DEFAULT NULL)
RETURNS TABLE (id bigint, kind text, channel text, recipient text, sku text, payload jsonb,
			   idempotency_key text, attempts integer, created_at timestamptz, lease_until timestamptz)
LANGUAGE sql AS $$
	WITH due AS (
		SELECT o.id FROM waitlist.outbox o
		 WHERE o.state = ANY (ARRAY['pending', 'leased']) AND o.due_at <= now()
		   AND (kinds IS NULL OR o.kind = ANY (kinds))
		   AND (channels IS NULL OR o.channel = ANY (channels))
		 ORDER BY o.due_at, o.id LIMIT max FOR UPDATE SKIP LOCKED)
	UPDATE waitlist.outbox o
	   SET state = 'leased', lease_owner = consumer, due_at = now() + lease, attempts = o.attempts + 1
	  FROM due WHERE o.id = due.id
	RETURNING o.id, o.kind, o.channel, o.recipient, o.sku, o.payload, o.idempotency_key,
			  o.attempts, o.created_at, o.due_at
$$;

CREATE FUNCTION waitlist.ack(consumer text, ids bigint[]) RETURNS integer
LANGUAGE sql AS $$
	WITH a AS (
		UPDATE waitlist.outbox o SET state = 'delivered', delivered_at = now(), lease_owner = NULL
		 WHERE o.id = ANY (ids) AND o.state = 'leased' AND o.lease_owner = consumer
		RETURNING 1)
	SELECT count(*)::integer FROM a
$$;

-- Like the extension: WL008 when the message is not leased to consumer.
CREATE FUNCTION waitlist.lock_leased(consumer text, id bigint) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	SELECT o.attempts INTO n FROM waitlist.outbox o
	 WHERE o.id = lock_leased.id AND o.state = 'leased' AND o.lease_owner = consumer FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'message % is not leased to consumer "%"', id, consumer USING ERRCODE = 'WL008';
	END IF;
	RETURN n;
END
$$;

CREATE FUNCTION waitlist.nack(consumer text, id bigint, error text, retry_after interval DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	n integer := waitlist.lock_leased(consumer, id);
	max_attempts integer := coalesce(nullif(current_setting('waitlist.max_attempts', true), '')::integer, 10);
BEGIN
	UPDATE waitlist.outbox o
	   SET state = CASE WHEN n >= max_attempts THEN 'dead' ELSE 'pending' END,
		   due_at = now() + coalesce(retry_after,
									 least(interval '1 second' * power(2, n - 1), interval '5 minutes')
									 * (0.75 + random() / 2)),
		   last_error = error, lease_owner = NULL
	 WHERE o.id = nack.id;
	RETURN CASE WHEN n >= max_attempts THEN 'dead' ELSE 'pending' END;
END
$$;

CREATE FUNCTION waitlist.dead_letter(consumer text, id bigint, error text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM waitlist.lock_leased(consumer, id);
	UPDATE waitlist.outbox o SET state = 'dead', last_error = error, lease_owner = NULL
	 WHERE o.id = dead_letter.id;
	RETURN true;
END
$$;

CREATE FUNCTION waitlist.extend_lease(consumer text, ids bigint[], lease interval DEFAULT '30 seconds')
RETURNS integer
LANGUAGE sql AS $$
	WITH e AS (
		UPDATE waitlist.outbox o SET due_at = now() + lease
		 WHERE o.id = ANY (ids) AND o.state = 'leased' AND o.lease_owner = consumer
		RETURNING 1)
	SELECT count(*)::integer FROM e
$$;

CREATE FUNCTION waitlist.release(consumer text, ids bigint[]) RETURNS integer
LANGUAGE sql AS $$
	WITH r AS (
		UPDATE waitlist.outbox o
		   SET state = 'pending', due_at = now(), lease_owner = NULL, attempts = greatest(o.attempts - 1, 0)
		 WHERE o.id = ANY (ids) AND o.state = 'leased' AND o.lease_owner = consumer
		RETURNING 1)
	SELECT count(*)::integer FROM r
$$;

CREATE FUNCTION waitlist.next_due(kinds text[] DEFAULT NULL, channels text[] DEFAULT NULL)
RETURNS timestamptz
LANGUAGE sql AS $$
	SELECT min(o.due_at) FROM waitlist.outbox o WHERE o.state = ANY (ARRAY['pending', 'leased'])
	   AND (kinds IS NULL OR o.kind = ANY (kinds))
	   AND (channels IS NULL OR o.channel = ANY (channels))
$$;
