-- Sign-ups expire: still waiting waitlist.signup_expiry (90 days) after
-- they were made, they hear one last-chance message (signup_expiring)
-- waitlist.last_chance_notice (7 days) before the end, and leave the list
-- (state expired) when the notice has run.  Signing up again renews a
-- sign-up (the place is kept, the period starts over).  Converted and
-- unsubscribed sign-ups hear nothing.  Driven by the test clock.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2031-01-01 10:00+00';
SELECT sku FROM waitlist.upsert_sku('EX-1', 'Lamp', confirm_signups => false);
SHOW waitlist.signup_expiry;
SHOW waitlist.last_chance_notice;
SELECT waitlist.subscribe('EX-1', 'ann@example.com', '+14155550501') > 0 AS ann,
	   waitlist.subscribe('EX-1', 'bob@example.com') > 0 AS bob,
	   waitlist.subscribe('EX-1', 'cy@example.com') > 0 AS cy,
	   waitlist.subscribe('EX-1', 'dee@example.com') > 0 AS dee;
SET waitlist.test_now = '2031-01-20 10:00+00';
SELECT waitlist.subscribe('EX-1', 'eve@example.com') > 0 AS eve;
-- Dee buys elsewhere, Cy leaves.
SELECT waitlist.record_purchase('EX-1', 'dee@example.com', 'EXT-1') AS dee_converted;
SELECT waitlist.unsubscribe(id) AS cy_left FROM waitlist.subscriber WHERE sku = 'EX-1' AND email = 'cy@example.com';

-- Day 82: nothing yet.
SET waitlist.test_now = '2031-03-24 09:00+00';
SELECT tick_for('EX-1') AS written;
-- Day 83 (90 - 7): Ann and Bob hear their last chance, once, by every
-- contact they gave; Eve (19 days younger) not yet.
SET waitlist.test_now = '2031-03-25 10:00+00';
SELECT tick_for('EX-1') AS written;
SELECT tick_for('EX-1') AS again;
SELECT kind, channel, recipient, payload->>'signed_up_on' AS since, payload->>'expires_at' AS expires_at,
	   payload->>'stay_by' AS stay_by
  FROM waitlist.outbox WHERE sku = 'EX-1' ORDER BY recipient, channel;

-- Bob signs up again: his place is kept and his period starts over.
SET waitlist.test_now = '2031-03-28 10:00+00';
SELECT waitlist.subscribe('EX-1', 'BOB@example.com') = id AS same_signup
  FROM waitlist.subscriber WHERE sku = 'EX-1' AND email = 'bob@example.com';
SELECT email, renewed_at, last_chance_at FROM waitlist.subscriber WHERE sku = 'EX-1' AND email = 'bob@example.com';

-- A sign-up a wave told while the SKU is on sale is renewed the same way:
-- signing up again does not add a second place at the end.
SELECT sku FROM waitlist.upsert_sku('EX-4', 'Vase', confirm_signups => false);
SELECT waitlist.subscribe('EX-4', 'cat@example.com') AS cat_id \gset
SELECT waitlist.subscribe('EX-4', 'dan@example.com') > 0 AS dan;
SELECT waitlist.restock('EX-4', 5);
SELECT waitlist.subscribe('EX-4', 'CAT@example.com') = :cat_id AS same_signup;
SELECT email, pos, renewed_at FROM waitlist.subscriber WHERE sku = 'EX-4' ORDER BY pos;

-- Day 90: Ann's notice has run; she leaves the list (expired).  Bob stays.
SET waitlist.test_now = '2031-04-01 10:00+00';
SELECT tick_for('EX-1') AS written;
SELECT u.email, st.status, u.unsubscribed_at FROM waitlist.subscriber u
  JOIN waitlist.subscriber_status st ON st.id = u.id WHERE u.sku = 'EX-1' ORDER BY u.pos;
SELECT sub_waiting, waitlist.waiting_count('EX-1') AS waiting FROM waitlist.sku WHERE sku = 'EX-1';
-- An expired sign-up is not told of a restock; unsubscribing it does nothing.
SELECT waitlist.unsubscribe(id) AS again FROM waitlist.subscriber WHERE sku = 'EX-1' AND email = 'ann@example.com';

-- Eve's last chance (day 83 after 20 January), then Bob's (day 83 after his renewal).
SET waitlist.test_now = '2031-04-13 10:00+00';
SELECT tick_for('EX-1') AS written;
SET waitlist.test_now = '2031-06-19 10:00+00';
SELECT tick_for('EX-1') AS written;
SELECT recipient, payload->>'signed_up_on' AS since, payload->>'expires_at' AS expires_at
  FROM waitlist.outbox WHERE sku = 'EX-1' AND kind = 'signup_expiring' AND channel = 'email'
 ORDER BY created_at, recipient;
SELECT count(*) AS violations FROM waitlist.check_invariants() WHERE sku = 'EX-1';

-- 0 turns expiry off: nothing is due however old a sign-up is.
SET waitlist.signup_expiry = 0;
SET waitlist.test_now = '2035-01-01 10:00+00';
SELECT tick_for('EX-1') AS written;
RESET waitlist.signup_expiry;
-- Settings out of range are refused.
SELECT try($$SET waitlist.last_chance_notice = '10min'$$);
SELECT try($$SET waitlist.signup_expiry = '-1'$$);
RESET waitlist.test_now;
