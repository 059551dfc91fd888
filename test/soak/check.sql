-- test/soak/check.sql: what the soak checks once the outbox has drained
-- and the receiver has written what it accepted (soak.accepted, one key
-- per row) and received (soak.received, key and requests).
-- One row per check: name | problems | a sample of them.  0 everywhere is a
-- pass.

-- Messages the tables say must exist: every line's confirmation, every
-- cancellation and shipment, a pre-order's payment events, and the
-- confirmation of every sign-up still on the list, per contact channel.
CREATE TEMP VIEW expected_key AS
SELECT 'line:' || l.id || ':confirmed:' || c.ch AS key
  FROM waitlist.line l, LATERAL (VALUES ('email', l.email), ('sms', l.phone)) c (ch, v)
 WHERE c.v IS NOT NULL
UNION ALL
SELECT 'line:' || l.id || ':' || CASE l.state WHEN 'cancelled' THEN 'line_cancelled' ELSE 'shipped' END
	   || ':' || c.ch
  FROM waitlist.line l, LATERAL (VALUES ('email', l.email), ('sms', l.phone)) c (ch, v)
 WHERE c.v IS NOT NULL AND l.state IN ('cancelled', 'shipped')
UNION ALL
SELECT 'line:' || l.id || ':pay:' || CASE l.payment_mode WHEN 'authorize' THEN 'authorize' ELSE 'capture' END
	   || ':order'
  FROM waitlist.line l WHERE l.kind = 'preorder'
UNION ALL
SELECT 'line:' || l.id || ':pay:' || CASE l.payment_state WHEN 'voided' THEN 'void' ELSE 'refund' END
	   || ':cancelled'
  FROM waitlist.line l WHERE l.kind = 'preorder' AND l.state = 'cancelled'
UNION ALL
SELECT 'line:' || l.id || ':pay:capture:shipment'
  FROM waitlist.line l WHERE l.kind = 'preorder' AND l.state = 'shipped'
UNION ALL
SELECT 'sub:' || u.id || ':joined:' || c.ch
  FROM waitlist.subscriber u, LATERAL (VALUES ('email', u.email), ('sms', u.phone)) c (ch, v)
 WHERE c.v IS NOT NULL AND u.state = 'waiting';

SELECT 'invariants violated (check_invariants)', count(*),
	   array_to_string((array_agg(invariant || ' ' || coalesce(sku, '-') || ': ' || detail))[1:10], '; ')
  FROM waitlist.check_invariants()
UNION ALL
SELECT 'messages not delivered', count(*),
	   array_to_string((array_agg(idempotency_key || ' ' || state || coalesce(' (' || last_error || ')', '')
								  ORDER BY id))[1:10], '; ')
  FROM waitlist.outbox WHERE state NOT IN ('delivered', 'skipped')
UNION ALL
SELECT 'work left unexpanded', count(*), array_to_string((array_agg(what))[1:10], '; ')
  FROM (SELECT 'batch ' || id AS what FROM waitlist.batch WHERE expanded_at IS NULL
		UNION ALL SELECT 'sign-up ' || id FROM waitlist.unconfirmed_signup
		UNION ALL SELECT 'line ' || id FROM waitlist.line WHERE confirm_pending) w
UNION ALL
SELECT 'messages that should exist and do not', count(*), array_to_string((array_agg(e.key))[1:10], '; ')
  FROM expected_key e
 WHERE NOT EXISTS (SELECT 1 FROM waitlist.outbox o WHERE o.idempotency_key = e.key)
UNION ALL
SELECT 'messages lost (in the outbox, never accepted)', count(*),
	   array_to_string((array_agg(o.idempotency_key ORDER BY o.id))[1:10], '; ')
  FROM waitlist.outbox o
 WHERE o.state <> 'skipped'
   AND NOT EXISTS (SELECT 1 FROM soak.accepted a WHERE a.key = o.idempotency_key)
UNION ALL
-- An order skips the back_in_stock messages not yet claimed; one it skipped never goes out.
SELECT 'skipped messages that were delivered', count(*),
	   array_to_string((array_agg(o.idempotency_key ORDER BY o.id))[1:10], '; ')
  FROM waitlist.outbox o
 WHERE o.state = 'skipped'
   AND EXISTS (SELECT 1 FROM soak.received r WHERE r.key = o.idempotency_key)
UNION ALL
SELECT 'keys accepted that the outbox does not hold', count(*), array_to_string((array_agg(a.key))[1:10], '; ')
  FROM soak.accepted a
 WHERE NOT EXISTS (SELECT 1 FROM waitlist.outbox o WHERE o.idempotency_key = a.key)
UNION ALL
SELECT 'keys received that the outbox does not hold', count(*), array_to_string((array_agg(r.key))[1:10], '; ')
  FROM soak.received r
 WHERE NOT EXISTS (SELECT 1 FROM waitlist.outbox o WHERE o.idempotency_key = r.key);
