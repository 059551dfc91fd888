-- Delivery events and consent: record_event keeps a provider's report once
-- per message and event; a hard bounce, a complaint or an unsubscribe
-- suppresses the recipient; opt_out suppresses a contact on request; claim()
-- hands no message to a suppressed contact (state 'suppressed'), whenever
-- the message was written.  Driven by the test clock.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2030-08-01 10:00+00';
SELECT sku FROM waitlist.upsert_sku('CON-1', 'Lamp');
SELECT waitlist.subscribe('CON-1', 'Ann@Example.com', '+14155550201') > 0 AS ann;
SELECT waitlist.subscribe('CON-1', 'bob@example.com') > 0 AS bob;
SELECT waitlist.subscribe('CON-1', 'cy@example.com') > 0 AS cy;
SELECT waitlist.subscribe('CON-1', NULL, '+14155550204') > 0 AS dee;
-- The confirmations go out (claimed, acked: delivered to the provider).
SELECT waitlist.ack('con', array_agg(id)) AS acked
  FROM waitlist.claim('con', 10000, '1 minute', ARRAY['waitlist_joined']) WHERE sku = 'CON-1';
SELECT channel, recipient, state FROM waitlist.outbox
 WHERE sku = 'CON-1' AND kind = 'waitlist_joined' ORDER BY recipient;

-- Events by id or by idempotency key; each event once per message.
SELECT waitlist.record_event(id::text, 'delivered') AS first,
       waitlist.record_event(id::text, 'opened', '2030-08-01 10:05+00') AS opened
  FROM waitlist.outbox WHERE idempotency_key LIKE 'sub:%:joined:email' AND recipient = 'Ann@Example.com';
SELECT waitlist.record_event(idempotency_key, 'opened', '2030-08-01 10:06+00') AS again
  FROM waitlist.outbox WHERE kind = 'waitlist_joined' AND recipient = 'Ann@Example.com';
SELECT e.event, e.at FROM waitlist.message_event e JOIN waitlist.outbox o ON o.id = e.message_id
 WHERE o.recipient = 'Ann@Example.com' ORDER BY e.event;
-- Opening is no reason to suppress anybody.
SELECT waitlist.suppressed('ann@example.com') AS ann_suppressed;

-- Bob's address bounces (hard), Cy complains, Dee texts STOP (the relay reports it).
SELECT waitlist.record_event(idempotency_key, 'bounced') AS bob_bounced
  FROM waitlist.outbox WHERE kind = 'waitlist_joined' AND recipient = 'bob@example.com';
SELECT waitlist.record_event(idempotency_key, 'complained') AS cy_complained
  FROM waitlist.outbox WHERE kind = 'waitlist_joined' AND recipient = 'cy@example.com';
SELECT waitlist.opt_out('+14155550204', 'SMS STOP') AS dee_out;
SELECT waitlist.opt_out('+14155550204', 'SMS STOP again') AS dee_again;
-- Ann opts out of email only (her phone still hears), from the preference center.
SELECT waitlist.opt_out('ANN@example.COM', 'preference center') AS ann_out;
SELECT contact, reason, source, message_id IS NOT NULL AS from_message FROM waitlist.suppression ORDER BY contact;
SELECT contact, action, reason, source FROM waitlist.consent_log ORDER BY contact, id;

-- The restock: everybody is told, but claim() hands over Ann's SMS only.
SELECT waitlist.restock('CON-1', 4);
SET waitlist.test_now = '2030-08-01 11:00+00';
SELECT channel, recipient FROM waitlist.claim('con', 10000, '1 minute', ARRAY['back_in_stock'])
 WHERE sku = 'CON-1' ORDER BY recipient;
SELECT channel, recipient, state, lease_owner FROM waitlist.outbox
 WHERE sku = 'CON-1' AND kind = 'back_in_stock' ORDER BY recipient;
SELECT count(*) AS violations FROM waitlist.check_invariants() WHERE sku LIKE 'CON-%';

-- Opt-in lifts an opt-out (logged), never a bounce or a complaint.
SELECT waitlist.opt_in('ann@example.com', 'signed up again at the counter') AS ann_in;
SELECT waitlist.opt_in('ann@example.com', 'twice') AS ann_in_again;
SELECT try($$SELECT waitlist.opt_in('bob@example.com', 'asked nicely')$$);
SELECT try($$SELECT waitlist.opt_in('cy@example.com', 'asked nicely')$$);
SELECT waitlist.suppressed('ann@example.com') AS ann, waitlist.suppressed('bob@example.com') AS bob;
SELECT contact, action, reason, source FROM waitlist.consent_log WHERE contact = 'ann@example.com' ORDER BY id;

-- After the opt-in Ann's messages go out again: the list is read when a
-- message is handed over.  (Her CON-1 sign-up, told at the restock, is
-- renewed by signing up again; a new list confirms her.)
SELECT sku FROM waitlist.upsert_sku('CON-4', 'Rug');
SELECT waitlist.subscribe('CON-4', 'ann@example.com') > 0 AS ann_again;
SELECT count(*) AS ann_joined FROM waitlist.claim('con', 10000, '1 minute', ARRAY['waitlist_joined'])
 WHERE recipient = 'ann@example.com';

-- Bad input: each refused with its SQLSTATE, nothing changes.
SELECT try($$SELECT waitlist.record_event(NULL, 'opened')$$);
SELECT try($$SELECT waitlist.record_event('1', NULL)$$);
SELECT try($$SELECT waitlist.record_event('no-such-key', 'opened')$$);
SELECT try($$SELECT waitlist.record_event('999999999999', 'opened')$$);
SELECT try(format($$SELECT waitlist.record_event(%L, 'read')$$, idempotency_key))
  FROM waitlist.outbox WHERE kind = 'waitlist_joined' AND recipient = 'Ann@Example.com';
SELECT try(format($$SELECT waitlist.record_event(%L, 'opened', 'infinity')$$, idempotency_key))
  FROM waitlist.outbox WHERE kind = 'waitlist_joined' AND recipient = 'Ann@Example.com';
SELECT try(format($$SELECT waitlist.record_event(%L, 'clicked', '2030-08-01 13:00:01+00')$$, idempotency_key))
  FROM waitlist.outbox WHERE kind = 'waitlist_joined' AND recipient = 'Ann@Example.com';
SELECT try(format($$SELECT waitlist.record_event(%L, 'clicked', '2030-08-01 08:00+00')$$, idempotency_key))
  FROM waitlist.outbox WHERE kind = 'waitlist_joined' AND recipient = 'Ann@Example.com';
SELECT try($$SELECT waitlist.record_event(repeat('k', 1001), 'opened')$$);
SELECT try($$SELECT waitlist.opt_out(NULL, 'x')$$);
SELECT try($$SELECT waitlist.opt_out('not-an-address@', 'x')$$);
SELECT try($$SELECT waitlist.opt_out('0415', 'x')$$);
SELECT try($$SELECT waitlist.opt_out('eve@example.com', NULL)$$);
SELECT try($$SELECT waitlist.opt_out('eve@example.com', '   ')$$);
SELECT try($$SELECT waitlist.opt_out('eve@example.com', repeat('s', 201))$$);
SELECT try($$SELECT waitlist.opt_out(repeat('e', 250) || '@example.com', 'x')$$);
SELECT try($$SELECT waitlist.suppressed(NULL)$$);
-- A merchant message takes no events: a confirmed restock date passes without stock.
SELECT sku FROM waitlist.upsert_sku('CON-2', 'Shade', restock_date => '2030-08-02', restock_confirmed => true);
SELECT waitlist.subscribe('CON-2', 'fay@example.com') > 0 AS fay;
SET waitlist.test_now = '2030-08-03 09:00+00';
SELECT tick_for('CON-2') AS date_passed;
SELECT try(format($$SELECT waitlist.record_event(%L, 'opened')$$, idempotency_key))
  FROM waitlist.outbox WHERE sku = 'CON-2' AND channel = 'merchant';
SELECT count(*) AS suppressed_contacts FROM waitlist.suppression;
SELECT count(*) AS events FROM waitlist.message_event;

-- The message is read through its unique index (by id or by key), as a
-- statement run now would read it: a message this transaction wrote is
-- found, and when the index is not there (dropped in this transaction) a
-- query finds it instead; an unknown key is still refused.
BEGIN;
SELECT waitlist.subscribe('CON-4', 'gus@example.com') > 0 AS gus;
SELECT count(*) AS gus_joined FROM waitlist.claim('con', 10000, '1 minute', ARRAY['waitlist_joined'])
 WHERE recipient = 'gus@example.com';
SELECT waitlist.record_event(id::text, 'delivered') AS by_id_same_txn
  FROM waitlist.outbox WHERE recipient = 'gus@example.com';
ALTER TABLE waitlist.outbox DROP CONSTRAINT outbox_idempotency_key_key;
SELECT waitlist.record_event(idempotency_key, 'opened') AS by_key_without_index
  FROM waitlist.outbox WHERE recipient = 'gus@example.com';
SELECT try($$SELECT waitlist.record_event('no-such-key', 'opened')$$);
SELECT e.event FROM waitlist.message_event e JOIN waitlist.outbox o ON o.id = e.message_id
 WHERE o.recipient = 'gus@example.com' ORDER BY e.event;
ROLLBACK;
RESET waitlist.test_now;
