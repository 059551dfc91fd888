-- Follow-ups, each at most once per person and wave:
-- - back_in_stock_reminder, waitlist.reminder_after (8 hours) after a wave,
--   to the people it told whose message was delivered but not opened or
--   clicked (record_event), still on the list, who did not buy - while
--   stock remains;
-- - missed_out, waitlist.missed_note_after (24 hours) after a sell-out, to
--   the people told who did not buy: it sold out first, and they keep
--   their place (the next restock tells them first).
-- Driven by the test clock; the relay's part is done by hand (the messages
-- due are marked delivered, as its ack does).
SET TimeZone = 'UTC';
SET waitlist.test_now = '2031-02-01 09:00+00';
SELECT sku FROM waitlist.upsert_sku('FU-1', 'Desk lamp', confirm_signups => false);
SHOW waitlist.reminder_after;
SHOW waitlist.missed_note_after;
SELECT waitlist.subscribe('FU-1', 'a@example.com') > 0 AS a,
	   waitlist.subscribe('FU-1', 'b@example.com', '+14155550601') > 0 AS b,
	   waitlist.subscribe('FU-1', 'c@example.com') > 0 AS c,
	   waitlist.subscribe('FU-1', 'd@example.com') > 0 AS d,
	   waitlist.subscribe('FU-1', 'e@example.com') > 0 AS e;

-- Four units: A to D are told; E waits for the next restock.
SELECT waitlist.restock('FU-1', 4);
SELECT tick_for('FU-1') AS written;
-- What is due is delivered (B's email waits 30 minutes behind her SMS).
WITH d AS (UPDATE waitlist.outbox SET state = 'delivered', delivered_at = waitlist.now()
			WHERE sku = 'FU-1' AND state = 'pending' AND due_at <= waitlist.now() RETURNING 1)
SELECT count(*) AS delivered FROM d;
SET waitlist.test_now = '2031-02-01 09:30+00';
WITH d AS (UPDATE waitlist.outbox SET state = 'delivered', delivered_at = waitlist.now()
			WHERE sku = 'FU-1' AND state = 'pending' AND due_at <= waitlist.now() RETURNING 1)
SELECT count(*) AS delivered_later FROM d;
-- A opens hers; D clicks; C buys elsewhere.
SELECT waitlist.record_event(id::text, 'opened') FROM waitlist.outbox
 WHERE sku = 'FU-1' AND kind = 'back_in_stock' AND recipient = 'a@example.com';
SELECT waitlist.record_event(id::text, 'clicked') FROM waitlist.outbox
 WHERE sku = 'FU-1' AND kind = 'back_in_stock' AND recipient = 'd@example.com';
SELECT waitlist.record_purchase('FU-1', 'c@example.com', 'EXT-C') AS c_converted;

-- 16:59: not yet.  17:00: B, who opened nothing, is reminded by SMS and
-- email; once.
SET waitlist.test_now = '2031-02-01 16:59+00';
SELECT tick_for('FU-1') AS written;
SET waitlist.test_now = '2031-02-01 17:00+00';
SELECT tick_for('FU-1') AS written;
SELECT tick_for('FU-1') AS again;
SELECT kind, channel, recipient, payload->>'units_available' AS units, payload->>'told_at' AS told_at,
	   payload->>'held_until' AS held_until
  FROM waitlist.outbox WHERE sku = 'FU-1' AND kind = 'back_in_stock_reminder' ORDER BY channel;
-- B orders (with her email only) before the reminders go out: both are
-- skipped, the SMS too (it went to her sign-up's phone).
SELECT waitlist.place_backorder('FU-O1', 'FU-1', 1, 'B', 'b@example.com') > 0 AS b_ordered;
SELECT channel, state FROM waitlist.outbox
 WHERE sku = 'FU-1' AND kind = 'back_in_stock_reminder' ORDER BY channel;

-- No stock left, no reminder: FU-2 sells its one unit to a walk-in before
-- the reminder is due.  X, who was told and did not buy, keeps the place:
-- a day after the sell-out X hears missed_out, once, and the next restock
-- tells X first.
SET waitlist.test_now = '2031-02-02 09:00+00';
SELECT sku FROM waitlist.upsert_sku('FU-2', 'Stool', confirm_signups => false, send_sold_out_again => false);
SELECT waitlist.subscribe('FU-2', 'x@example.com') > 0 AS x,
	   waitlist.subscribe('FU-2', 'y@example.com') > 0 AS y;
SELECT waitlist.restock('FU-2', 1);
SELECT tick_for('FU-2') AS written;
WITH d AS (UPDATE waitlist.outbox SET state = 'delivered', delivered_at = waitlist.now()
			WHERE sku = 'FU-2' AND state = 'pending' AND due_at <= waitlist.now() RETURNING 1)
SELECT count(*) AS delivered FROM d;
SET waitlist.test_now = '2031-02-02 10:00+00';
SELECT waitlist.place_backorder('FU-W1', 'FU-2', 1, 'Walk-in', 'walkin@example.com') > 0 AS walk_in;
SELECT sub_served, sub_waiting, missed_note_at, missed_from, missed_to, last_sellout
  FROM waitlist.sku WHERE sku = 'FU-2';
SELECT u.email, st.status FROM waitlist.subscriber u JOIN waitlist.subscriber_status st ON st.id = u.id
 WHERE u.sku = 'FU-2' ORDER BY u.pos;
-- At 17:00 no reminder: nothing is left on sale (the walk-in's
-- ready_to_ship is all the tick writes).
SET waitlist.test_now = '2031-02-02 17:00+00';
SELECT tick_for('FU-2') AS written;
SELECT kind FROM waitlist.outbox WHERE sku = 'FU-2' AND created_at = '2031-02-02 17:00+00';
SET waitlist.test_now = '2031-02-03 10:00+00';
SELECT tick_for('FU-2') AS written;
SELECT tick_for('FU-2') AS again;
SELECT kind, recipient, payload->>'place_in_line' AS place, payload->>'still_on_list' AS still_on_list
  FROM waitlist.outbox WHERE sku = 'FU-2' AND kind = 'missed_out';
SELECT missed_note_at FROM waitlist.sku WHERE sku = 'FU-2';
SET waitlist.test_now = '2031-02-04 10:00+00';
SELECT waitlist.restock('FU-2', 1);
SELECT tick_for('FU-2') AS written;
SELECT recipient, payload->>'place_in_line' AS place FROM waitlist.outbox
 WHERE sku = 'FU-2' AND kind = 'back_in_stock' AND created_at = '2031-02-04 10:00+00';
-- A place is kept once: X, told again, lets a walk-in take this unit too.
-- This time X leaves the list (lapsed) and a day later hears so; Y is
-- next in line.
SELECT email, kept_place FROM waitlist.subscriber WHERE sku = 'FU-2' ORDER BY pos;
SET waitlist.test_now = '2031-02-04 11:00+00';
SELECT waitlist.place_backorder('FU-W2', 'FU-2', 1, 'Walk-in', 'walkin@example.com') > 0 AS walk_in;
SELECT u.email, st.status, u.unsubscribed_at FROM waitlist.subscriber u
  JOIN waitlist.subscriber_status st ON st.id = u.id WHERE u.sku = 'FU-2' ORDER BY u.pos;
SELECT sub_served, sub_waiting, missed_note_at, missed_since FROM waitlist.sku WHERE sku = 'FU-2';
SET waitlist.test_now = '2031-02-05 11:00+00';
SELECT tick_for('FU-2') AS written;
SELECT recipient, payload->>'place_in_line' AS place, payload->>'still_on_list' AS still_on_list
  FROM waitlist.outbox WHERE sku = 'FU-2' AND kind = 'missed_out' ORDER BY created_at;
SELECT waitlist.restock('FU-2', 1);
SELECT tick_for('FU-2') AS written;
SELECT recipient FROM waitlist.outbox
 WHERE sku = 'FU-2' AND kind = 'back_in_stock' AND created_at = '2031-02-05 11:00+00';
SELECT count(*) AS violations FROM waitlist.check_invariants() WHERE sku LIKE 'FU-%';

-- With holds, whoever lets a held unit lapse does not keep a place: H1's
-- hold ends, the unit passes to H2; a stock count then takes it back
-- (H2's hold ends early, not H2's doing).  At that sell-out H1 leaves the
-- list and H2 keeps the place; the note tells each which.
SET waitlist.test_now = '2031-02-06 09:00+00';
SELECT sku FROM waitlist.upsert_sku('FU-4', 'Bench', confirm_signups => false, send_sold_out_again => false);
SELECT waitlist.set_hold_window('FU-4', '1 hour');
SELECT waitlist.subscribe('FU-4', 'h' || i || '@example.com') > 0 AS joined FROM generate_series(1, 3) i;
SELECT waitlist.restock('FU-4', 1);
SET waitlist.test_now = '2031-02-06 10:00+00';
SELECT tick_for('FU-4') AS written;
SELECT wave - min(wave) OVER () AS wave, pos_from, pos_to, units, claimed, closed_at
  FROM waitlist.hold WHERE sku = 'FU-4' ORDER BY wave;
SELECT tick_for('FU-4') AS told_h2;
SELECT waitlist.set_on_hand('FU-4', 0);
SELECT u.email, st.status, u.kept_place FROM waitlist.subscriber u
  JOIN waitlist.subscriber_status st ON st.id = u.id WHERE u.sku = 'FU-4' ORDER BY u.pos;
SET waitlist.test_now = '2031-02-07 10:00+00';
SELECT tick_for('FU-4') AS written;
SELECT kind, recipient, payload->>'place_in_line' AS place, payload->>'still_on_list' AS still_on_list
  FROM waitlist.outbox WHERE sku = 'FU-4' AND created_at = '2031-02-07 10:00+00' ORDER BY kind, recipient;
SELECT count(*) AS violations FROM waitlist.check_invariants() WHERE sku LIKE 'FU-%';

-- 0 turns each off.
SET waitlist.reminder_after = 0;
SET waitlist.missed_note_after = 0;
SELECT sku FROM waitlist.upsert_sku('FU-3', 'Chair', confirm_signups => false);
SELECT waitlist.subscribe('FU-3', 'z@example.com') > 0 AS z;
SELECT waitlist.restock('FU-3', 1);
SELECT followup_at FROM waitlist.batch WHERE sku = 'FU-3' AND kind = 'back_in_stock';
SELECT waitlist.place_backorder('FU-W3', 'FU-3', 1, 'Walk-in', 'w3@example.com') > 0 AS walk_in;
SELECT missed_note_at, sub_served FROM waitlist.sku WHERE sku = 'FU-3';
RESET waitlist.reminder_after;
RESET waitlist.missed_note_after;

-- A second sell-out before the first one's note is due: the note covers the
-- people of both.  A and B let their holds lapse, C and D claim (sell-out:
-- A and B leave the list); the next sale, within the day, tells E and F; E
-- lets the hold lapse, F claims (sell-out: E leaves).  A day later A, B and
-- E each hear they are off the list.
SET waitlist.test_now = '2031-02-10 10:00+00';
SELECT sku FROM waitlist.upsert_sku('FU-5', 'Sneaker', confirm_signups => false, send_sold_out_again => false);
SELECT waitlist.set_hold_window('FU-5', '1 hour');
SELECT count(waitlist.subscribe('FU-5', x || '@example.com')) AS joined FROM unnest(ARRAY['a', 'b', 'c', 'd']) x;
SELECT waitlist.restock('FU-5', 2);
SET waitlist.test_now = '2031-02-10 11:01+00';
SELECT tick_for('FU-5') >= 0 AS ticked;
SELECT waitlist.claim_hold('FU-5', 'c@example.com', 'FU5-C') > 0 AS c, waitlist.claim_hold('FU-5', 'd@example.com', 'FU5-D') > 0 AS d;
SET waitlist.test_now = '2031-02-10 12:00+00';
SELECT count(waitlist.subscribe('FU-5', x || '@example.com')) AS joined FROM unnest(ARRAY['e', 'f']) x;
SELECT waitlist.restock('FU-5', 1);
SET waitlist.test_now = '2031-02-10 13:01+00';
SELECT tick_for('FU-5') >= 0 AS ticked;
SELECT waitlist.claim_hold('FU-5', 'f@example.com', 'FU5-F') > 0 AS f;
SELECT missed_from, missed_to FROM waitlist.sku WHERE sku = 'FU-5';
SET waitlist.test_now = '2031-02-11 14:00+00';
SELECT tick_for('FU-5') >= 0 AS ticked;
SELECT recipient, payload->>'still_on_list' AS still_on_list FROM waitlist.outbox
 WHERE sku = 'FU-5' AND kind = 'missed_out' ORDER BY recipient;
SELECT count(*) AS violations FROM waitlist.check_invariants() WHERE sku LIKE 'FU-%';
RESET waitlist.test_now;
