-- SMS first, email later: a back_in_stock wave's email to a sign-up who also
-- gave a phone is due email_delay after the SMS (default 30 minutes), and an
-- order of the SKU in between skips it.  Driven by the test clock.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2030-07-01 10:00+00';
SELECT sku FROM waitlist.upsert_sku('SMS-1', 'Jacket', confirm_signups => false);
SELECT waitlist.subscribe('SMS-1', 'ann@example.com', '+14155550101') > 0 AS ann;
SELECT waitlist.subscribe('SMS-1', 'bob@example.com') > 0 AS bob;
SELECT waitlist.subscribe('SMS-1', NULL, '+14155550103') > 0 AS cy;
SELECT waitlist.subscribe('SMS-1', 'Dee@Example.com', '+14155550104') > 0 AS dee;
SELECT waitlist.restock('SMS-1', 4);
SELECT waitlist.expand_batches() >= 0 AS expanded;
SELECT channel, recipient, due_at - '2030-07-01 10:00+00' AS after
  FROM waitlist.outbox WHERE sku = 'SMS-1' AND kind = 'back_in_stock' ORDER BY recipient;
-- At once: every SMS, and the email of the sign-up without a phone.
SELECT channel, recipient FROM waitlist.claim('sms-first', 10000, '2 hours', ARRAY['back_in_stock'])
 WHERE sku = 'SMS-1' ORDER BY recipient;
-- Ten minutes later Dee buys (the address matches whatever its case): her email is skipped.
SET waitlist.test_now = '2030-07-01 10:10+00';
SELECT waitlist.place_backorder('SMS-O1', 'SMS-1', 1, 'Dee', 'dee@example.com') > 0 AS ordered;
SELECT recipient, state, last_error FROM waitlist.outbox
 WHERE sku = 'SMS-1' AND kind = 'back_in_stock' AND channel = 'email' ORDER BY recipient;
-- Half an hour after the wave: Ann's email goes out, Dee's does not.
SET waitlist.test_now = '2030-07-01 10:29:59+00';
SELECT count(*) FILTER (WHERE sku = 'SMS-1') AS early
  FROM waitlist.claim('sms-first', 10000, '1 minute', ARRAY['back_in_stock']);
SET waitlist.test_now = '2030-07-01 10:30+00';
SELECT channel, recipient FROM waitlist.claim('sms-first', 10000, '1 minute', ARRAY['back_in_stock'])
 WHERE sku = 'SMS-1';
-- What the wave left: skipped is a state of its own (purge_delivered removes it later).
SELECT state, count(*) FROM waitlist.outbox WHERE sku = 'SMS-1' AND kind = 'back_in_stock'
 GROUP BY state ORDER BY state;

-- The SKU's own delay: 0 sends both at once; an hour holds the email an hour.
SELECT sku FROM waitlist.upsert_sku('SMS-2', 'Scarf', confirm_signups => false);
SELECT email_delay FROM waitlist.set_schedule('SMS-2', email_delay => '0');
SELECT waitlist.subscribe('SMS-2', 'eve@example.com', '+14155550105') > 0 AS eve;
SELECT waitlist.restock('SMS-2', 1);
SELECT waitlist.expand_batches() >= 0 AS expanded;
SELECT channel, due_at = waitlist.now() AS at_once FROM waitlist.outbox
 WHERE sku = 'SMS-2' AND kind = 'back_in_stock' ORDER BY channel;
SELECT sku FROM waitlist.upsert_sku('SMS-3', 'Hat', confirm_signups => false);
SELECT email_delay FROM waitlist.set_schedule('SMS-3', email_delay => '1 hour');
SELECT waitlist.subscribe('SMS-3', 'fay@example.com', '+14155550106') > 0 AS fay;
SELECT waitlist.restock('SMS-3', 1);
SELECT waitlist.expand_batches() >= 0 AS expanded;
SELECT channel, due_at - waitlist.now() AS after FROM waitlist.outbox
 WHERE sku = 'SMS-3' AND kind = 'back_in_stock' ORDER BY channel;
-- An order of another SKU skips nothing.
SELECT waitlist.place_backorder('SMS-O3', 'SMS-2', 1, 'Fay', 'fay@example.com') > 0 AS ordered_other;
SELECT state FROM waitlist.outbox WHERE sku = 'SMS-3' AND kind = 'back_in_stock' AND channel = 'email';
RESET waitlist.test_now;
