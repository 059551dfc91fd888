-- Back-in-stock sign-ups: validation, same contact keeps its place, the
-- seed example (200 units, 350 waiting: 200 told, 150 sold out again).
-- Every wave tells everyone it leaves waiting here: the limit on repeats
-- (waitlist.repeat_after) has its own test, 43_repeat_after.
-- The calendar dates below lie before the day the suite runs only if the
-- extension's clock is held still: the test clock stands at a moment
-- before all of them (sessions of their own, so nothing else sees it).
SET waitlist.test_now = '2026-11-20 09:00+00';
SET waitlist.repeat_after = 0;
SELECT sku FROM waitlist.upsert_sku('LAMP', title => 'Desk lamp', restock_date => '2026-12-10',
                                    restock_confirmed => true);

SELECT waitlist.subscribe('LAMP', 'ada@example.com') AS ada;
SELECT waitlist.subscribe('LAMP', phone => '+14155550123', customer => 'Bob') AS bob;
-- Same contact again (any case): the same sign-up, its place kept; a new
-- contact is added to it.
SELECT waitlist.subscribe('LAMP', 'ADA@example.com') AS ada_again;
SELECT waitlist.subscribe('LAMP', 'ada@example.com', '+447700900123') AS ada_with_phone;
SELECT waitlist.subscribe('LAMP', phone => '+14155550123') AS bob_again;
SELECT id, email, phone, customer, pos FROM waitlist.subscriber ORDER BY id;
SELECT waitlist.waiting_count('LAMP');
-- The confirmation is written by the next claim() or tick(), once per
-- channel of each sign-up.
SELECT count(*) AS queued_before_tick FROM waitlist.outbox WHERE kind = 'waitlist_joined';
SELECT state, kind, messages FROM waitlist.outbox_metrics();
SELECT waitlist.tick();
SELECT waitlist.tick();
SELECT kind, channel, recipient, payload->>'expected_restock_date' AS eta
  FROM waitlist.outbox WHERE kind = 'waitlist_joined'
 ORDER BY (payload->>'subscription_id')::bigint, channel;

-- Bad input.
SELECT try($$SELECT waitlist.subscribe('LAMP')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', NULL, NULL)$$);
SELECT try($$SELECT waitlist.subscribe('NOPE', 'x@example.com')$$);
SELECT try($$SELECT waitlist.subscribe(NULL, 'x@example.com')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', 'not-an-email')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', 'a@b')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', 'two@@example.com')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', 'dots..x@example.com')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', repeat('a', 250) || '@example.com')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', phone => '4155550123')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', phone => '+0155550123')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', phone => '+1 415 555 0123')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', phone => '+1234567')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', phone => '+12345678901234567')$$);
SELECT try($$SELECT waitlist.subscribe('LAMP', 'c@example.com', customer => repeat('c', 201))$$);
SELECT waitlist.valid_email('first.last+tag@mail.example.co.uk'), waitlist.valid_email('x@-bad.com'),
       waitlist.valid_phone('+491701234567'), waitlist.valid_phone('+49 170');
SELECT count(*) AS signups_after_bad_input FROM waitlist.subscriber;

-- Unsubscribe: leaves a hole the allocator skips.
SELECT waitlist.unsubscribe(2);
SELECT waitlist.unsubscribe(2);
SELECT try($$SELECT waitlist.unsubscribe(999)$$);
SELECT try($$SELECT waitlist.unsubscribe(NULL)$$);
SELECT waitlist.waiting_count('LAMP');
-- A sign-up that leaves the list before its confirmation is written gets
-- none: the next tick takes it off the queue without a message, and the
-- metrics do not count it as waiting to be written.
SELECT waitlist.subscribe('LAMP', 'cal@example.com') AS cal \gset
SELECT count(*) AS queued FROM waitlist.unconfirmed_signup WHERE id = :cal;
SELECT state, kind, messages FROM waitlist.outbox_metrics() WHERE state = 'unexpanded';
SELECT waitlist.unsubscribe(:cal);
SELECT state, kind, messages FROM waitlist.outbox_metrics() WHERE state = 'unexpanded';
SELECT waitlist.tick();
SELECT count(*) AS queued_after_tick FROM waitlist.unconfirmed_signup WHERE id = :cal;
SELECT count(*) AS cal_messages FROM waitlist.outbox WHERE recipient = 'cal@example.com';

-- The seed example on a fresh SKU.
SELECT sku FROM waitlist.upsert_sku('HOODIE', title => 'Hoodie');
SELECT count(waitlist.subscribe('HOODIE', 'fan' || g || '@example.com')) FROM generate_series(1, 350) g;
SELECT waitlist.waiting_count('HOODIE');
SELECT waitlist.restock('HOODIE', 200);
-- Nothing is expanded before a consumer or tick() asks.
SELECT kind, pos_from, pos_to, units, expanded_at IS NULL AS pending
  FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku WHERE s.sku = 'HOODIE' ORDER BY b.id;
SELECT waitlist.tick();
SELECT kind, count(*) FROM waitlist.outbox WHERE sku = 'HOODIE' AND kind <> 'waitlist_joined'
 GROUP BY kind ORDER BY kind;
-- The first 200 sign-ups were told, in order; the rest know their place.
SELECT min(u.pos) AS first_told, max(u.pos) AS last_told, count(DISTINCT u.id) AS told
  FROM waitlist.outbox o JOIN waitlist.subscriber u ON u.id = (o.payload->>'subscription_id')::bigint
 WHERE o.sku = 'HOODIE' AND o.kind = 'back_in_stock';
SELECT recipient, payload->>'position' AS position, payload->>'waiting' AS waiting
  FROM waitlist.outbox WHERE sku = 'HOODIE' AND kind = 'sold_out_again'
 ORDER BY (payload->>'position')::int LIMIT 3;
SELECT status, count(*) FROM waitlist.subscriber_status WHERE sku = 'HOODIE' GROUP BY 1 ORDER BY 1;
SELECT waitlist.waiting_count('HOODIE');
-- A second expansion writes nothing new (idempotent).
UPDATE waitlist.batch SET expanded_at = NULL;
SELECT waitlist.tick();
-- 50 more units: the next 50 are told, 100 remain and hear they sold out again.
SELECT waitlist.restock('HOODIE', 50);
SELECT waitlist.tick();
SELECT b.kind, b.pos_from, b.pos_to, b.messages FROM waitlist.batch b
  JOIN waitlist.sku s ON s.sku = b.sku WHERE s.sku = 'HOODIE' ORDER BY b.id;
-- Units nobody took are not announced twice: a stock count below them
-- and back up only announces the difference.
SELECT waitlist.set_on_hand('HOODIE', 240);
SELECT waitlist.restock('HOODIE', 5);
SELECT waitlist.tick();
SELECT count(*) AS told FROM waitlist.outbox WHERE sku = 'HOODIE' AND kind = 'back_in_stock';

-- The same-contact checks read their own index, whatever the planner would
-- choose (here: generic plans, and a table never analyzed, as in a launch's
-- first minutes): a sign-up by email never walks the SKU's waiting list
-- through the phone index, nor one by phone through the email index.
SELECT sku FROM waitlist.upsert_sku('RUSH', title => 'Launch rush');
SELECT count(waitlist.subscribe('RUSH', 'rush' || g || '@example.com')) FROM generate_series(1, 300) g;
SET plan_cache_mode = force_generic_plan;
SELECT pg_stat_force_next_flush();
SELECT idx_scan AS phone_scans FROM pg_stat_user_indexes WHERE indexrelname = 'subscriber_phone' \gset
SELECT waitlist.subscribe('RUSH', 'rush301@example.com') > 0 AS email_signup;
SELECT waitlist.subscribe('RUSH', 'rush3@example.com') =
       (SELECT min(u.id) + 2 FROM waitlist.subscriber u JOIN waitlist.sku s ON s.sku = u.sku
         WHERE s.sku = 'RUSH') AS email_again_same_place;
SELECT pg_stat_force_next_flush();
SELECT idx_scan - :phone_scans AS phone_index_scans FROM pg_stat_user_indexes
 WHERE indexrelname = 'subscriber_phone';
SELECT idx_scan AS email_scans FROM pg_stat_user_indexes WHERE indexrelname = 'subscriber_email' \gset
SELECT waitlist.subscribe('RUSH', phone => '+14155550999') > 0 AS phone_signup;
SELECT pg_stat_force_next_flush();
SELECT idx_scan - :email_scans AS email_index_scans FROM pg_stat_user_indexes
 WHERE indexrelname = 'subscriber_email';
RESET plan_cache_mode;
SELECT waitlist.tick() AS rush_confirmations;

-- A notify ratio above 1 tells more sign-ups than units.
SELECT sku FROM waitlist.upsert_sku('CAP', notify_ratio => 1.5, send_sold_out_again => false,
                                    confirm_signups => false);
SELECT count(waitlist.subscribe('CAP', 'cap' || g || '@example.com')) FROM generate_series(1, 10) g;
SELECT waitlist.restock('CAP', 4);
SELECT waitlist.tick();
SELECT kind, count(*) FROM waitlist.outbox WHERE sku = 'CAP' GROUP BY 1;
-- Later sign-ups are not told about units already announced.
SELECT waitlist.subscribe('CAP', 'late@example.com') > 0 AS subscribed;
SELECT waitlist.tick();
SELECT count(*) AS late_told FROM waitlist.outbox WHERE recipient = 'late@example.com';
-- A sign-up for a SKU with free units nobody was told about is told at once.
SELECT sku FROM waitlist.upsert_sku('PIN', confirm_signups => false);
SELECT waitlist.restock('PIN', 3);
SELECT waitlist.subscribe('PIN', 'pin@example.com') > 0 AS subscribed;
SELECT waitlist.tick();
SELECT kind, recipient, payload->>'units_available' AS units FROM waitlist.outbox WHERE sku = 'PIN';

-- Discontinued SKUs take no sign-ups.
SELECT sku FROM waitlist.upsert_sku('OLD', status => 'discontinued');
SELECT try($$SELECT waitlist.subscribe('OLD', 'x@example.com')$$);
