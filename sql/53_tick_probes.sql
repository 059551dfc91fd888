-- tick() asks "is anything due?" by reading the first entry of each
-- partial index with the index AM.  When an index cannot be read that way
-- (renamed, dropped, rebuilt descending) it asks the same in SQL: the
-- answers, and so what the tick writes, are the same either way.
SET TimeZone = 'UTC';
-- tick_for (00_setup): tick() for the whole database, the messages it wrote for these SKUs.
-- tick_without: the same, with one of the extension's indexes out of the way.
CREATE FUNCTION tick_without(p_index text, p_sku text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
	EXECUTE format('ALTER INDEX waitlist.%I RENAME TO %I', p_index, p_index || '_away');
	n := tick_for(p_sku);
	EXECUTE format('ALTER INDEX waitlist.%I RENAME TO %I', p_index || '_away', p_index);
	RETURN n;
END
$$;
SET waitlist.test_now = '2027-09-01 09:00+00';
-- Whatever earlier files left due by then is written first.
SELECT waitlist.tick() >= 0 AS drained;
SELECT waitlist.tick() AS nothing_left;

-- A sign-up's confirmation (any entry of unconfirmed_signup's key).
SELECT sku FROM waitlist.upsert_sku('PRB-1', 'Probe lamp');
SELECT sku FROM waitlist.upsert_sku('PRB-2', 'Probe lamp, second');
SELECT waitlist.subscribe('PRB-1', 'ann@example.com') > 0 AS ann;
SELECT tick_for('PRB-%') AS written_by_probe;
SELECT waitlist.subscribe('PRB-2', 'bob@example.com') > 0 AS bob;
SELECT tick_without('unconfirmed_signup_pkey', 'PRB-%') AS written_in_sql;
SELECT sku, recipient FROM waitlist.outbox WHERE sku LIKE 'PRB-%' AND kind = 'waitlist_joined' ORDER BY sku;

-- A status round (first key of sku_status_due against the clock): due at
-- its time, not a second before; then the same a day later in SQL.
SELECT waitlist.place_backorder('PRB-A', 'PRB-1', 1, 'Ann', 'ann@example.com') > 0 AS a;
SET waitlist.test_now = '2027-09-02 09:00+00';
SELECT waitlist.place_backorder('PRB-B', 'PRB-2', 1, 'Bob', 'bob@example.com') > 0 AS b;
SELECT sku, next_status_at FROM waitlist.sku WHERE sku LIKE 'PRB-%' ORDER BY sku;
SET waitlist.test_now = '2027-09-08 08:59:59.999999+00';
SELECT tick_for('PRB-%') AS before_due;
SET waitlist.test_now = '2027-09-08 09:00+00';
SELECT tick_for('PRB-%') AS at_due;
SET waitlist.test_now = '2027-09-09 08:59:59.999999+00';
SELECT tick_without('sku_status_due', 'PRB-%') AS before_due_in_sql;
SET waitlist.test_now = '2027-09-09 09:00+00';
SELECT tick_without('sku_status_due', 'PRB-%') AS at_due_in_sql;
SELECT sku, recipient, payload->>'round' AS round
  FROM waitlist.outbox WHERE sku LIKE 'PRB-%' AND kind = 'backorder_status' ORDER BY sku;

-- A confirmed restock date that passes (first key of the expression index
-- sku_date_watch, a date, against today): the day after, not on the day.
-- Two SKUs whose only waiting person signed up without a confirmation.
SELECT sku FROM waitlist.upsert_sku('PRD-1', 'Dated lamp', confirm_signups => false);
SELECT sku FROM waitlist.upsert_sku('PRD-2', 'Dated lamp, second', confirm_signups => false);
SELECT waitlist.subscribe('PRD-1', 'cy@example.com') > 0 AS cy,
	   waitlist.subscribe('PRD-2', 'di@example.com') > 0 AS di;
SELECT sku FROM waitlist.upsert_sku('PRD-1', restock_date => '2027-09-20', restock_confirmed => true);
SELECT sku FROM waitlist.upsert_sku('PRD-2', restock_date => '2027-09-21', restock_confirmed => true);
SELECT tick_for('PRD-%') AS eta_news_to_signups;
SET waitlist.test_now = '2027-09-20 23:59+00';
SELECT tick_for('PRD-%') AS on_the_day;
SET waitlist.test_now = '2027-09-21 00:00+00';
SELECT tick_for('PRD-%') AS day_after;
SET waitlist.test_now = '2027-09-21 23:59+00';
SELECT tick_without('sku_date_watch', 'PRD-%') AS on_the_day_in_sql;
SET waitlist.test_now = '2027-09-22 00:00+00';
SELECT tick_without('sku_date_watch', 'PRD-%') AS day_after_in_sql;
SELECT kind, sku, payload->>'passed_date' AS passed
  FROM waitlist.outbox WHERE sku LIKE 'PRD-%' AND kind IN ('date_passed', 'date_slipped')
 ORDER BY sku, kind;

-- An index that reads in the other order cannot say what comes first: a
-- descending line_note would give the latest note.  Two pre-orders, one
-- shipping in a year and one in a week: when the near one's note is due
-- (and nothing else is), the tick finds it with that index too (it asks in
-- SQL).
SELECT sku FROM waitlist.upsert_sku('PRP-1', 'Far pre-order', status => 'upcoming');
SELECT sku FROM waitlist.upsert_sku('PRP-2', 'Near pre-order', status => 'upcoming');
SELECT status FROM waitlist.open_preorders('PRP-1', 100, 80, '2028-09-20', '2028-09-30');
SELECT status FROM waitlist.open_preorders('PRP-2', 100, 80, '2027-09-28', '2027-09-30');
SELECT waitlist.place_preorder('PRP-A', 'PRP-1', 1, 'Ann', 'ann@example.com', NULL, 'dtc', 40, 'USD') > 0 AS a,
	   waitlist.place_preorder('PRP-B', 'PRP-2', 1, 'Bob', 'bob@example.com', NULL, 'dtc', 40, 'USD') > 0 AS b;
SELECT tick_for('PRP-%') AS confirmations;
SELECT order_ref, next_note_at FROM waitlist.line WHERE sku LIKE 'PRP-%' ORDER BY order_ref;
SELECT next_note_at AS near_note FROM waitlist.line WHERE order_ref = 'PRP-B' \gset
SET waitlist.test_now = :'near_note';
BEGIN;
DROP INDEX waitlist.line_note;
CREATE INDEX line_note ON waitlist.line (next_note_at DESC) WHERE next_note_at IS NOT NULL;
SELECT tick_for('PRP-%') AS written_with_descending_index;
SELECT recipient, kind FROM waitlist.outbox
 WHERE sku LIKE 'PRP-%' AND kind <> 'preorder_confirmed' ORDER BY id;
ROLLBACK;
-- The same with the extension's own index.
SELECT tick_for('PRP-%') AS written;
SELECT recipient, kind FROM waitlist.outbox
 WHERE sku LIKE 'PRP-%' AND kind <> 'preorder_confirmed' ORDER BY id;
-- Every index is back.
SELECT count(*) AS renamed_away FROM pg_class WHERE relname LIKE '%\_away';
RESET waitlist.test_now;
