-- An error that is not about a unit's data (here a trigger of the shop's
-- on the outbox) stops the expansion, and the session goes on: the next
-- statement runs, and a ROLLBACK outside a transaction only warns.  Before,
-- the expansion's subtransaction stayed open: every command was refused
-- until a ROLLBACK that ended the session with a FATAL error.
SELECT sku FROM waitlist.upsert_sku('EXP-ERR', confirm_signups => false);
SELECT waitlist.subscribe('EXP-ERR', 'exp@example.com') > 0 AS subscribed;
SELECT waitlist.restock('EXP-ERR', 1);
CREATE FUNCTION public.outbox_refuses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the outbox is closed' USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER outbox_refuses BEFORE INSERT ON waitlist.outbox
	FOR EACH ROW EXECUTE FUNCTION public.outbox_refuses();
\set VERBOSITY terse
SELECT waitlist.tick();
SELECT 1 AS the_session_goes_on;
ROLLBACK;
SELECT 2 AS still_connected;
DROP TRIGGER outbox_refuses ON waitlist.outbox;
DROP FUNCTION public.outbox_refuses();
SELECT waitlist.tick() > 0 AS expanded_after;
SELECT kind, recipient FROM waitlist.outbox WHERE sku = 'EXP-ERR' ORDER BY id;
SELECT * FROM waitlist.check_invariants() WHERE sku = 'EXP-ERR';

-- Confirmations are written by a plain INSERT; when one of their keys is
-- in the outbox already (written by hand here), the run goes again one
-- sign-up or line at a time, which skips that key: nobody gets a message
-- twice, the others are confirmed, and nothing is dead-lettered.
SELECT sku FROM waitlist.upsert_sku('EXP-KEY', 'Key clash');
SELECT sku FROM waitlist.upsert_sku('EXP-KEY-PRE', 'Key clash, pre-orders');
SELECT status FROM waitlist.open_preorders('EXP-KEY-PRE', 100, 80, '2099-01-01', '2099-02-01');
SELECT waitlist.subscribe('EXP-KEY', 'key-1@example.com') > 0 AS s1,
	   waitlist.subscribe('EXP-KEY', 'key-2@example.com') > 0 AS s2,
	   waitlist.place_preorder('EXP-KEY-P1', 'EXP-KEY-PRE', 1, email => 'key-3@example.com',
							   unit_price => 10, currency => 'USD') > 0 AS p1,
	   waitlist.place_preorder('EXP-KEY-P2', 'EXP-KEY-PRE', 1, email => 'key-4@example.com',
							   unit_price => 10, currency => 'USD') > 0 AS p2;
INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)
SELECT 'waitlist_joined', 'email', email, sku, '{"by": "hand"}'::json, 'sub:' || id || ':joined:email'
  FROM waitlist.subscriber WHERE sku = 'EXP-KEY' AND email = 'key-1@example.com'
UNION ALL
SELECT 'preorder_confirmed', 'email', email, sku, '{"by": "hand"}'::json,
	   'line:' || id || ':confirmed:email'
  FROM waitlist.line WHERE sku = 'EXP-KEY-PRE' AND order_ref = 'EXP-KEY-P1';
SELECT waitlist.tick() >= 0 AS ticked;
SELECT kind, channel, recipient, payload->>'by' AS by_hand, count(*)
  FROM waitlist.outbox WHERE sku IN ('EXP-KEY', 'EXP-KEY-PRE')
 GROUP BY 1, 2, 3, 4 ORDER BY 3, 1;
SELECT count(*) AS dead_lettered FROM waitlist.outbox
 WHERE kind = 'message_failed' AND sku IN ('EXP-KEY', 'EXP-KEY-PRE');
SELECT count(*) AS still_pending
  FROM (SELECT 1 FROM waitlist.unconfirmed_signup WHERE sku = 'EXP-KEY'
		UNION ALL SELECT 1 FROM waitlist.line WHERE sku = 'EXP-KEY-PRE' AND confirm_pending) p;
SELECT * FROM waitlist.check_invariants() WHERE sku IN ('EXP-KEY', 'EXP-KEY-PRE');

-- The same in a later chunk of one tick (a chunk holds 10,000): the run
-- goes on one by one from where the chunk before it stopped.  10,005
-- imported sign-ups and 10,005 imported backorder lines, each with one
-- key written by hand in its second chunk: one tick confirms every other
-- one once, nothing is left pending and nothing is dead-lettered.
SELECT sku FROM waitlist.upsert_sku('EXP-CHUNK', 'Second chunk');
CREATE TABLE public.exp_chunk_signups (seq int, sku text, email text);
INSERT INTO public.exp_chunk_signups
SELECT i, 'EXP-CHUNK', 'chunk-' || i || '@example.com' FROM generate_series(1, 10005) i;
CREATE TABLE public.exp_chunk_lines (seq int, order_ref text, sku text, qty int, email text);
INSERT INTO public.exp_chunk_lines
SELECT i, 'EXP-CHUNK-' || i, 'EXP-CHUNK', 1, 'line-' || i || '@example.com'
  FROM generate_series(1, 10005) i;
SELECT waitlist.import_signups('public.exp_chunk_signups') AS signups,
	   waitlist.import_backorders('public.exp_chunk_lines') AS lines;
INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)
SELECT 'waitlist_joined', 'email', email, sku, '{"by": "hand"}'::json, 'sub:' || id || ':joined:email'
  FROM waitlist.subscriber WHERE sku = 'EXP-CHUNK' AND email = 'chunk-10003@example.com'
UNION ALL
SELECT 'backorder_confirmed', 'email', email, sku, '{"by": "hand"}'::json,
	   'line:' || id || ':confirmed:email'
  FROM waitlist.line WHERE sku = 'EXP-CHUNK' AND order_ref = 'EXP-CHUNK-10004';
SELECT waitlist.tick() AS written;
SELECT kind, payload->>'by' AS by_hand, count(*) AS messages, count(DISTINCT recipient) AS recipients
  FROM waitlist.outbox WHERE sku = 'EXP-CHUNK' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS dead_lettered FROM waitlist.outbox
 WHERE kind = 'message_failed' AND sku = 'EXP-CHUNK';
SELECT count(*) AS still_pending
  FROM (SELECT 1 FROM waitlist.unconfirmed_signup WHERE sku = 'EXP-CHUNK'
		UNION ALL SELECT 1 FROM waitlist.line WHERE sku = 'EXP-CHUNK' AND confirm_pending) p;
SELECT * FROM waitlist.check_invariants() WHERE sku = 'EXP-CHUNK';
-- Delivered, so that the later tests' claims (10,000 at most) see their own.
UPDATE waitlist.outbox SET state = 'delivered', delivered_at = waitlist.now()
 WHERE sku = 'EXP-CHUNK' AND state = 'pending';
