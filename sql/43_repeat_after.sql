-- waitlist.repeat_after (default 1 hour): two restocks a minute apart (two
-- warehouse receipts) do not tell the people the first wave left waiting
-- twice; sold_out_again and still_waiting go to a sign-up or line at most
-- once per period.  News (eta_changed) is never held back.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2030-09-01 10:00+00';
SELECT sku FROM waitlist.upsert_sku('RA-1', 'Kettle', confirm_signups => false);
SHOW waitlist.repeat_after;
SELECT count(waitlist.subscribe('RA-1', 'p' || i || '@example.com')) AS signed_up FROM generate_series(1, 6) i;
-- First receipt: 2 units, #1-#2 told, #3-#6 hear sold_out_again.
SELECT waitlist.restock('RA-1', 2);
SELECT tick_for('RA-1') AS written;
SELECT kind, count(*), min(recipient), max(recipient) FROM waitlist.outbox WHERE sku = 'RA-1'
 GROUP BY kind ORDER BY kind;
-- A minute later the second receipt: 1 unit, #3 told; #4-#6 heard a minute ago, nothing.
SET waitlist.test_now = '2030-09-01 10:01+00';
SELECT waitlist.restock('RA-1', 1);
SELECT tick_for('RA-1') AS written;
SELECT kind, count(*) FROM waitlist.outbox WHERE sku = 'RA-1' GROUP BY kind ORDER BY kind;
-- An hour and a minute after the first: #4 told, #5-#6 hear again.
SET waitlist.test_now = '2030-09-01 11:01+00';
SELECT waitlist.restock('RA-1', 1);
SELECT tick_for('RA-1') AS written;
SELECT recipient, count(*) AS sold_out_again FROM waitlist.outbox
 WHERE sku = 'RA-1' AND kind = 'sold_out_again' GROUP BY recipient ORDER BY recipient;

-- 0 turns the limit off: every wave tells everyone it leaves waiting.
SET waitlist.test_now = '2030-09-01 12:00+00';
SELECT sku FROM waitlist.upsert_sku('RA-2', 'Kettle lid', confirm_signups => false);
SELECT count(waitlist.subscribe('RA-2', 'q' || i || '@example.com')) AS signed_up FROM generate_series(1, 3) i;
SET waitlist.repeat_after = 0;
SELECT waitlist.restock('RA-2', 1);
SELECT tick_for('RA-2') AS first;
SELECT waitlist.restock('RA-2', 1);
SELECT tick_for('RA-2') AS second;
RESET waitlist.repeat_after;
SELECT recipient, count(*) AS sold_out_again FROM waitlist.outbox
 WHERE sku = 'RA-2' AND kind = 'sold_out_again' GROUP BY recipient ORDER BY recipient;

-- Paid lines: still_waiting once per period too.
SET waitlist.test_now = '2030-09-02 10:00+00';
SELECT sku FROM waitlist.upsert_sku('RA-3', 'Teapot', confirm_signups => false);
SELECT count(waitlist.place_backorder('RA-3-' || i, 'RA-3', 2, NULL, 'r' || i || '@example.com')) AS lines
  FROM generate_series(1, 3) i;
SELECT waitlist.restock('RA-3', 1);
SELECT tick_for('RA-3') > 0 AS wrote;
SET waitlist.test_now = '2030-09-02 10:02+00';
SELECT waitlist.restock('RA-3', 1);
SELECT tick_for('RA-3') > 0 AS wrote;
SET waitlist.test_now = '2030-09-02 11:30+00';
SELECT waitlist.restock('RA-3', 1);
SELECT tick_for('RA-3') > 0 AS wrote;
SELECT recipient, kind, count(*) FROM waitlist.outbox
 WHERE sku = 'RA-3' AND kind IN ('allocated', 'ready_to_ship', 'still_waiting')
 GROUP BY recipient, kind ORDER BY recipient, kind;

-- A date change is news: sign-ups hear each one, however close together.
SET waitlist.test_now = '2030-09-03 10:00+00';
SELECT sku FROM waitlist.upsert_sku('RA-4', 'Cup', confirm_signups => false);
SELECT waitlist.subscribe('RA-4', 's1@example.com') > 0 AS s1;
SELECT restock_date FROM waitlist.upsert_sku('RA-4', restock_date => '2030-10-01', restock_confirmed => true);
SELECT tick_for('RA-4') AS first_date;
SELECT restock_date FROM waitlist.upsert_sku('RA-4', restock_date => '2030-10-08');
SELECT tick_for('RA-4') AS second_date;
SELECT count(*) AS eta_changed FROM waitlist.outbox WHERE sku = 'RA-4' AND kind = 'eta_changed';

SELECT try($$SET waitlist.repeat_after = -1$$);
RESET waitlist.test_now;
