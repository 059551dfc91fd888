-- A confirmed restock date or a pre-order ship date that passes with
-- people still waiting: the merchant hears at once (date_passed on the
-- merchant channel) and so do the waiting customers (date_slipped: the
-- passed date, no new date yet), once per passed date.
SET TimeZone = 'UTC';
-- tick_for (00_setup): tick() for the whole database, the messages it wrote for these SKUs.
SET waitlist.test_now = '2027-06-01 09:00+00';
SELECT sku FROM waitlist.upsert_sku('DP-1', 'Desk lamp', restock_date => '2027-06-10',
									restock_confirmed => true);
SELECT waitlist.place_backorder('DP-A', 'DP-1', 2, 'Ann', 'ann@example.com') > 0 AS a;
SELECT waitlist.subscribe('DP-1', 'sue@example.com') > 0 AS sue;
-- A SKU whose date passes with nobody waiting alerts nobody.
SELECT sku FROM waitlist.upsert_sku('DP-2', 'Served lamp', restock_date => '2027-06-10',
									restock_confirmed => true);
-- An unconfirmed date is no promise: nothing when it passes.
SELECT sku FROM waitlist.upsert_sku('DP-3', 'Maybe lamp', restock_date => '2027-06-10');
SELECT waitlist.place_backorder('DP-C', 'DP-3', 1, 'Cy', 'cy@example.com') > 0 AS c;
CREATE VIEW dp_msgs AS
SELECT o.kind, o.channel, o.recipient, o.sku, o.payload->>'date_kind' AS date_kind,
	   o.payload->>'passed_date' AS passed, o.payload->>'new_date' AS new_date,
	   o.payload->>'no_new_date' AS no_new_date, o.payload->>'customers_told' AS told,
	   o.payload->>'paid_units_waiting' AS paid_units
  FROM waitlist.outbox o WHERE o.kind IN ('date_passed', 'date_slipped') AND o.sku LIKE 'DP-%';
-- On the date itself nothing happens.
SET waitlist.test_now = '2027-06-10 23:59+00';
SELECT tick_for('DP-%') AS written;
SELECT count(*) AS alerts FROM dp_msgs;
-- The day after: the merchant and the waiting people hear, once.
SET waitlist.test_now = '2027-06-11 00:00+00';
SELECT tick_for('DP-%') AS written;
SELECT * FROM dp_msgs ORDER BY sku, kind, recipient;
SELECT tick_for('DP-%') AS again;
SET waitlist.test_now = '2027-06-12 09:00+00';
SELECT tick_for('DP-%') AS next_day;
SELECT count(*) AS alerts FROM dp_msgs;
SELECT sku, passed_restock FROM waitlist.sku WHERE sku LIKE 'DP-%' ORDER BY sku;
-- The weekly status says the date passed, too (the round due on the 8th
-- went out with the tick of the 10th, before it passed).
SET waitlist.test_now = '2027-06-15 09:00+00';
SELECT tick_for('DP-%') AS written;
SELECT payload->>'round' AS round, payload->>'inbound_status' AS inbound,
	   payload->>'expected_ship_date' AS ship
  FROM waitlist.outbox WHERE kind = 'backorder_status' AND sku = 'DP-1' ORDER BY id;
-- A new date that passes again alerts again.
SELECT sku FROM waitlist.upsert_sku('DP-1', restock_date => '2027-06-20', restock_confirmed => true);
SET waitlist.test_now = '2027-06-21 09:00+00';
SELECT tick_for('DP-%') AS written;
SELECT kind, recipient, passed FROM dp_msgs WHERE sku = 'DP-1' AND passed = '2027-06-20'
 ORDER BY kind, recipient;
-- Setting the same passed date again is not a new date.
SELECT sku FROM waitlist.upsert_sku('DP-1', restock_date => '2027-06-20', restock_confirmed => true);
SELECT tick_for('DP-%') AS again;
-- Stock arrives before the next date: nobody waits, nothing to say.
SELECT sku FROM waitlist.upsert_sku('DP-1', restock_date => '2027-06-25', restock_confirmed => true);
SELECT waitlist.restock('DP-1', 5);
SELECT tick_for('DP-%') AS written;
SET waitlist.test_now = '2027-06-26 09:00+00';
SELECT count(*) AS before FROM dp_msgs WHERE passed = '2027-06-25';
SELECT tick_for('DP-%') AS written;
SELECT count(*) AS after FROM dp_msgs WHERE passed = '2027-06-25';
SELECT passed_restock FROM waitlist.sku WHERE sku = 'DP-1';
-- A pre-order ship date that passes without stock.
SET waitlist.test_now = '2027-07-01 09:00+00';
SELECT sku FROM waitlist.upsert_sku('DP-P', 'Preorder lamp', status => 'upcoming');
SELECT status FROM waitlist.open_preorders('DP-P', 100, 80, '2027-07-05', '2027-07-10');
SELECT waitlist.place_preorder('DP-P1', 'DP-P', 1, 'Pat', 'pat@example.com', NULL, 'dtc', 10, 'USD') > 0 AS p;
SET waitlist.test_now = '2027-07-11 00:00+00';
SELECT tick_for('DP-%') AS written;
SELECT kind, channel, recipient, date_kind, passed, no_new_date, told FROM dp_msgs
 WHERE sku = 'DP-P' ORDER BY kind, recipient;
-- Rescheduled, and passed again: alerted again.
SET waitlist.test_now = '2027-07-11 09:00+00';
SELECT waitlist.reschedule_preorders('DP-P', '2027-07-20') AS told;
SET waitlist.test_now = '2027-07-21 09:00+00';
SELECT tick_for('DP-%') AS written;
SELECT kind, recipient, passed FROM dp_msgs WHERE sku = 'DP-P' ORDER BY passed, kind, recipient;
SELECT count(*) AS problems FROM waitlist.check_invariants();
DROP VIEW dp_msgs;
RESET waitlist.test_now;
