-- A pre-order ship date in the past: no plan opens or moves to one, the
-- policy stops offering pre-orders, and new pre-orders are refused (WL015)
-- until the merchant reschedules.  Driven by the test clock.
SET TimeZone = 'UTC';
SET waitlist.enforce_policy = on;
SET waitlist.test_now = '2030-04-10 12:00+00';
SELECT sku FROM waitlist.upsert_sku('PAST-1', 'Launch', status => 'upcoming');
SELECT status, ships_on FROM waitlist.open_preorders('PAST-1', 100, 80, '2030-04-15', '2030-04-22');
SELECT decision, reason, ship_by FROM waitlist.policy('PAST-1', 'dtc');
SELECT waitlist.place_preorder('PAST-O1', 'PAST-1', 2, 'Ann', 'ann@example.com', NULL, 'dtc', 50, 'USD') > 0 AS placed;
-- The ship date itself is not past: still taken on the day.
SET waitlist.test_now = '2030-04-22 23:00+00';
SELECT decision FROM waitlist.policy('PAST-1', 'dtc');
SELECT waitlist.place_preorder('PAST-O2', 'PAST-1', 1, 'Bob', 'bob@example.com', NULL, 'dtc', 50, 'USD') > 0 AS placed;
-- The day after: the policy offers the sign-up instead, and placement is refused.
SET waitlist.test_now = '2030-04-23 09:00+00';
SELECT decision, reason, ship_by FROM waitlist.policy('PAST-1', 'dtc');
SELECT try($$SELECT waitlist.place_preorder('PAST-O3', 'PAST-1', 1, 'Cy', 'cy@example.com', NULL, 'dtc', 50, 'USD')$$);
SET waitlist.enforce_policy = off;
SELECT try($$SELECT waitlist.place_preorder('PAST-O3', 'PAST-1', 1, 'Cy', 'cy@example.com', NULL, 'dtc', 50, 'USD')$$);
SET waitlist.enforce_policy = on;
-- Nothing changed: no line, the units are not counted.
SELECT preorder_accepted FROM waitlist.sku WHERE sku = 'PAST-1';
SELECT count(*) AS lines FROM waitlist.line WHERE sku = 'PAST-1';
-- A retry of an order accepted before the date passed still returns its line.
SELECT waitlist.place_preorder('PAST-O1', 'PAST-1', 2, 'Ann', 'ann@example.com', NULL, 'dtc', 50, 'USD') =
	   (SELECT id FROM waitlist.line WHERE order_ref = 'PAST-O1') AS same_line;
-- A plan cannot open on, or move to, a date already past.
SELECT try($$SELECT waitlist.reschedule_preorders('PAST-1', '2030-04-22')$$);
SELECT try($$SELECT status FROM waitlist.open_preorders('PAST-1', 100, 80, '2030-04-01', '2030-04-20')$$);
SELECT sku FROM waitlist.upsert_sku('PAST-2', 'Other', status => 'upcoming');
SELECT try($$SELECT status FROM waitlist.open_preorders('PAST-2', 100, 80, '2030-04-01', '2030-04-20')$$);
SELECT ships_on, preorders_open FROM waitlist.sku WHERE sku IN ('PAST-1', 'PAST-2') ORDER BY sku;
-- Rescheduled: the waiting lines hear the new date, and pre-orders are taken again.
SELECT waitlist.reschedule_preorders('PAST-1', '2030-05-12', '2030-05-05') AS lines_told;
SELECT decision, reason, ship_by FROM waitlist.policy('PAST-1', 'dtc');
SELECT waitlist.place_preorder('PAST-O3', 'PAST-1', 1, 'Cy', 'cy@example.com', NULL, 'dtc', 50, 'USD') > 0 AS placed;
SELECT preorder_accepted FROM waitlist.sku WHERE sku = 'PAST-1';
RESET waitlist.test_now;
