-- The extension's clock: waitlist.now() is now(), unless the superuser-only
-- setting waitlist.test_now names a moment.  Tests move time with it.
SET TimeZone = 'UTC';
SELECT waitlist.now() = now() AS real_clock;
SHOW waitlist.test_now;
SET waitlist.test_now = '2027-01-04 09:00+00';
SELECT waitlist.now();
-- Rows written now carry the clock's time, and due times follow it.
SELECT sku FROM waitlist.upsert_sku('CLK-1', 'Clock test', confirm_signups => false);
SELECT created_at, updated_at FROM waitlist.sku WHERE sku = 'CLK-1';
SELECT waitlist.place_backorder('CLK-L1', 'CLK-1', 1, 'Ann', 'ann@example.com') > 0 AS placed;
SELECT created_at FROM waitlist.line WHERE order_ref = 'CLK-L1';
SELECT kind, due_at FROM waitlist.outbox WHERE sku = 'CLK-1' ORDER BY id;
-- A week later, in the same session: the clock moved, the rows did not.
SET waitlist.test_now = '2027-01-11 09:00+00';
SELECT waitlist.now() - l.created_at AS waited FROM waitlist.line l WHERE order_ref = 'CLK-L1';
-- A message due in the future of the clock is not claimed until it is due.
UPDATE waitlist.outbox SET due_at = '2027-01-11 10:00+00' WHERE sku = 'CLK-1';
SELECT count(*) FILTER (WHERE sku = 'CLK-1') AS claimed_early
  FROM waitlist.claim('clock-test', 10000, '60 seconds', ARRAY['backorder_confirmed']);
SET waitlist.test_now = '2027-01-11 10:00+00';
SELECT kind, recipient FROM waitlist.claim('clock-test', 10000, '60 seconds', ARRAY['backorder_confirmed']) WHERE sku = 'CLK-1';
-- The policy reads the clock's date: a restock 10 days after the test's today.
SELECT sku FROM waitlist.upsert_sku('CLK-1', restock_date => '2027-01-21', restock_confirmed => true);
SELECT decision, reason FROM waitlist.policy('CLK-1', 'dtc');
SET waitlist.test_now = '2026-12-01 10:00+00';
SELECT decision, reason FROM waitlist.policy('CLK-1', 'dtc');
-- Bad settings are refused at SET (22023), and only a superuser sets it.
SELECT try($$SET waitlist.test_now = 'tomorrow-ish'$$);
SELECT try($$SET waitlist.test_now = 'infinity'$$);
SELECT try($$SET waitlist.test_now = '300000-01-01'$$);
CREATE ROLE wl_clock_nobody;
SET ROLE wl_clock_nobody;
SELECT try($$SET waitlist.test_now = '2027-01-01'$$);
RESET ROLE;
DROP ROLE wl_clock_nobody;
RESET waitlist.test_now;
SELECT waitlist.now() = now() AS real_clock_again;

-- A SKU's message schedule: NULL follows the waitlist.* settings.
SELECT status_interval, midwait_fraction, imminent_days, email_delay, eta_to_signups
  FROM waitlist.sku WHERE sku = 'CLK-1';
SELECT status_interval, midwait_fraction, imminent_days, email_delay, eta_to_signups
  FROM waitlist.set_schedule('CLK-1', status_interval => '3 days', midwait_fraction => 0.333,
							 imminent_days => 5, email_delay => '0', eta_to_signups => false);
-- Each call sets the whole schedule: what it leaves out goes back to the settings.
SELECT status_interval, midwait_fraction, imminent_days, email_delay, eta_to_signups
  FROM waitlist.set_schedule('CLK-1', email_delay => '1 hour');
SHOW waitlist.status_interval;
SHOW waitlist.midwait_fraction;
SHOW waitlist.imminent_days;
SHOW waitlist.email_delay;
SHOW waitlist.eta_to_signups;
-- Out of range, unknown SKU, NULL SKU: refused, nothing changes.
SELECT try($$SELECT waitlist.set_schedule('CLK-1', status_interval => '30 minutes')$$);
SELECT try($$SELECT waitlist.set_schedule('CLK-1', status_interval => '2 years')$$);
SELECT try($$SELECT waitlist.set_schedule('CLK-1', midwait_fraction => 1)$$);
SELECT try($$SELECT waitlist.set_schedule('CLK-1', midwait_fraction => 0)$$);
SELECT try($$SELECT waitlist.set_schedule('CLK-1', imminent_days => 0)$$);
SELECT try($$SELECT waitlist.set_schedule('CLK-1', imminent_days => 31)$$);
SELECT try($$SELECT waitlist.set_schedule('CLK-1', email_delay => '-1 minute')$$);
SELECT try($$SELECT waitlist.set_schedule('CLK-1', email_delay => '8 days')$$);
SELECT try($$SELECT waitlist.set_schedule('NO-SUCH-SKU', imminent_days => 3)$$);
SELECT try($$SELECT waitlist.set_schedule(NULL, imminent_days => 3)$$);
SELECT status_interval, midwait_fraction, imminent_days, email_delay, eta_to_signups
  FROM waitlist.sku WHERE sku = 'CLK-1';
