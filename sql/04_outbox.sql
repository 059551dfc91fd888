-- The outbox: claim, ack, nack with backoff, dead letters, leases.
SELECT waitlist.tick() >= 0 AS earlier_batches_expanded;
TRUNCATE waitlist.outbox;
SELECT sku FROM waitlist.upsert_sku('KIT', title => 'Sewing kit', confirm_signups => false);
SELECT count(waitlist.subscribe('KIT', 'k' || g || '@example.com')) FROM generate_series(1, 5) g;
SELECT waitlist.restock('KIT', 5);
-- A pending batch makes messages due now.
SELECT waitlist.next_due() <= now() AS due_now;

-- claim expands the batch and leases the oldest due messages.
SELECT kind, channel, recipient, attempts, lease_until > now() AS leased,
       idempotency_key LIKE 'sub:%:back:%:email' AS key_shape
  FROM waitlist.claim('relay-a', 2) ORDER BY id;
SELECT state, lease_owner, count(*) FROM waitlist.outbox GROUP BY 1, 2 ORDER BY 1, 2;
-- Another consumer only gets what is not leased.
SELECT count(*) FROM waitlist.claim('relay-b', 10);
-- The claim turns bitmap scans off for its own statement only: the
-- session's setting is back as soon as it returns.
BEGIN;
SELECT count(*) FROM waitlist.claim('relay-b', 10);
SHOW enable_bitmapscan;
SET LOCAL enable_bitmapscan = off;
SELECT count(*) FROM waitlist.claim('relay-b', 10);
SHOW enable_bitmapscan;
COMMIT;

-- ack only counts messages leased to the caller.
SELECT waitlist.ack('relay-b', (SELECT array_agg(id) FROM waitlist.outbox WHERE lease_owner = 'relay-a'));
SELECT waitlist.ack('relay-a', (SELECT array_agg(id) FROM waitlist.outbox WHERE lease_owner = 'relay-a'));
SELECT state, count(*) FROM waitlist.outbox GROUP BY 1 ORDER BY 1;

-- nack: retry later with exponential backoff and jitter.
SET waitlist.retry_base = '10s';
SELECT waitlist.nack('relay-b', (SELECT min(id) FROM waitlist.outbox WHERE lease_owner = 'relay-b'), 'HTTP 503');
SELECT state, attempts, last_error, lease_owner,
       due_at - now() BETWEEN '5 seconds' AND '10 seconds' AS backoff_with_jitter
  FROM waitlist.outbox WHERE last_error IS NOT NULL;
-- An explicit retry_after wins.
SELECT waitlist.nack('relay-b', (SELECT min(id) FROM waitlist.outbox WHERE lease_owner = 'relay-b'), 'HTTP 429', '0 seconds');
SELECT count(*) AS claimable_again FROM waitlist.claim('relay-c', 10);
-- Dead after waitlist.max_attempts.
SET waitlist.max_attempts = 2;
SELECT waitlist.nack('relay-c', id, 'HTTP 500', '0 seconds')
  FROM waitlist.outbox WHERE lease_owner = 'relay-c' ORDER BY id;
RESET waitlist.max_attempts;
RESET waitlist.retry_base;
-- dead_letter gives up at once.
SELECT waitlist.dead_letter('relay-b', (SELECT min(id) FROM waitlist.outbox WHERE lease_owner = 'relay-b'), 'HTTP 410 Gone');
SELECT state, attempts, last_error, count(*) FROM waitlist.outbox GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT try($$SELECT waitlist.nack('relay-x', 1, 'oops')$$);
SELECT try($$SELECT waitlist.dead_letter('relay-x', 1, 'oops')$$);
SELECT try($$SELECT waitlist.nack('relay-x', NULL, 'oops')$$);
SELECT try($$SELECT waitlist.nack('relay-x', 1, 'oops', '-1 second')$$);

-- extend_lease renews, release hands back without counting the attempt.
INSERT INTO waitlist.outbox (kind, channel, recipient, payload, idempotency_key)
SELECT 'follow_up', 'email', 'f' || g || '@example.com', '{}', 'test:f' || g FROM generate_series(1, 3) g;
SELECT count(*) FROM waitlist.claim('relay-d', 10);
SELECT waitlist.extend_lease('relay-d', (SELECT array_agg(id) FROM waitlist.outbox WHERE lease_owner = 'relay-d'), '1 hour');
SELECT count(*) FROM waitlist.outbox WHERE lease_owner = 'relay-d' AND due_at > now() + '59 minutes';
SELECT waitlist.extend_lease('relay-x', (SELECT array_agg(id) FROM waitlist.outbox WHERE lease_owner = 'relay-d'), '1 hour');
SELECT waitlist.release('relay-d', (SELECT array_agg(id) FROM waitlist.outbox WHERE lease_owner = 'relay-d'));
SELECT state, attempts, lease_owner, count(*) FROM waitlist.outbox WHERE kind = 'follow_up' GROUP BY 1, 2, 3;

-- Expired leases are reclaimed by the next claim, counting an attempt.
SELECT count(*) FROM waitlist.claim('relay-e', 10, '1 millisecond');
SELECT pg_sleep(0.05);
SELECT count(*) AS reclaimed, max(attempts) FROM waitlist.claim('relay-f', 10);
-- The old holder can no longer ack them.
SELECT waitlist.ack('relay-e', (SELECT array_agg(id) FROM waitlist.outbox WHERE kind = 'follow_up'));

-- A message due later is not claimable early; next_due says when.
INSERT INTO waitlist.outbox (kind, channel, recipient, payload, idempotency_key, due_at)
VALUES ('follow_up', 'email', 'later@example.com', '{}', 'test:later', now() + '1 hour');
SELECT count(*) FROM waitlist.claim('relay-g', 10) WHERE recipient = 'later@example.com';
SELECT waitlist.next_due() > now() AND waitlist.next_due() <= now() + '10 seconds' AS next_is_the_backoff;

-- Filters: a relay for SMS only, another for one kind.
INSERT INTO waitlist.outbox (kind, channel, recipient, payload, idempotency_key)
VALUES ('shipped', 'sms', '+14155550199', '{}', 'test:sms'),
       ('shipped', 'email', 'ship@example.com', '{}', 'test:ship-email');
SELECT kind, channel FROM waitlist.claim('relay-sms', 10, channels => ARRAY['sms']);
SELECT kind, channel FROM waitlist.claim('relay-kind', 10, kinds => ARRAY['shipped', 'eta_changed']);
-- Leased messages come due again when their lease expires.
SELECT waitlist.next_due(kinds => ARRAY['shipped']) BETWEEN now() + '25 seconds' AND now() + '30 seconds'
       AS shipped_due_at_lease_expiry;
SELECT waitlist.next_due(kinds => ARRAY['no_such_kind']) IS NULL AS nothing_of_that_kind;
SELECT try($$SELECT * FROM waitlist.claim('r', 10, kinds => ARRAY['a', NULL])$$);
SELECT try($$SELECT waitlist.next_due(channels => ARRAY[NULL]::text[])$$);

-- Metrics per state and kind.
SELECT state, kind, messages, oldest_due_age IS NOT NULL AS has_age,
       notification_queue_usage >= 0 AS usage_known
  FROM waitlist.outbox_metrics();

-- Bad arguments.
SELECT try($$SELECT * FROM waitlist.claim(NULL, 10)$$);
SELECT try($$SELECT * FROM waitlist.claim('', 10)$$);
SELECT try($$SELECT * FROM waitlist.claim(repeat('c', 201), 10)$$);
SELECT try($$SELECT * FROM waitlist.claim('r', 0)$$);
SELECT try($$SELECT * FROM waitlist.claim('r', 10001)$$);
SELECT try($$SELECT * FROM waitlist.claim('r', 10, '0 seconds')$$);
SELECT try($$SELECT * FROM waitlist.claim('r', 10, NULL)$$);
SELECT try($$SELECT waitlist.ack('r', NULL)$$);
SELECT try($$SELECT waitlist.ack('r', ARRAY[1, NULL]::bigint[])$$);
SELECT try($$SELECT waitlist.expand_batches(0)$$);

-- Purging delivered history.
UPDATE waitlist.outbox SET delivered_at = now() - interval '8 days' WHERE state = 'delivered';
SELECT waitlist.purge_delivered();
SELECT count(*) FROM waitlist.outbox WHERE state = 'delivered';

-- payload_json: integers, numerics and booleans bare, text escaped, dates as
-- YYYY-MM-DD, other types as their text, NULL as null; keys must be text.
SELECT waitlist.payload_json('n', 42, 'big', 9007199254740993::bigint, 'ok', true,
       'name', 'Ann "the" O''Neil\', 'when', '2026-12-01'::date, 'none', NULL::text,
       'ratio', 1.5::numeric, 'nan', 'NaN'::numeric);
SELECT waitlist.payload_json('quote', E'line\nbreak\ttab')::json->>'quote' = E'line\nbreak\ttab' AS round_trips;
-- Dates and timestamps in ISO 8601 (timestamptz in UTC) whatever the
-- session's DateStyle and TimeZone; the infinities as their text.
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'America/New_York';
SELECT waitlist.payload_json('day', '2026-12-01'::date,
       'at', '2026-12-01 09:30:15.75+01'::timestamptz,
       'local', '2026-12-01 23:59:59.5'::timestamp,
       'never', 'infinity'::date, 'before', '-infinity'::date,
       'early', '-infinity'::timestamptz);
RESET DateStyle;
RESET TimeZone;
SELECT try($$SELECT waitlist.payload_json('odd')$$);
SELECT try($$SELECT waitlist.payload_json(1, 2)$$);
SELECT try($$SELECT waitlist.payload_json(NULL::text, 2)$$);
SELECT try($$SELECT waitlist.payload_json(VARIADIC ARRAY['a', 'b'])$$);
