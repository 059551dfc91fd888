-- A pre-order's whole life on the controllable clock: confirmed, the
-- mid-wait note halfway to the ship date, the merchant's production news,
-- shipping imminent (asks to confirm the address), shipped.  Each note
-- once; a new ship date replans them.
SET TimeZone = 'UTC';
-- tick_for (00_setup): tick() for the whole database, the messages it wrote for these SKUs.
SET waitlist.test_now = '2030-01-01 12:00+00';
SELECT sku FROM waitlist.upsert_sku('PRE-1', 'Kettle v2', status => 'upcoming');
SELECT status, ships_on FROM waitlist.open_preorders('PRE-1', 100, 80, '2030-01-20', '2030-01-31');
SELECT waitlist.place_preorder('PRE-A', 'PRE-1', 1, 'Ann', 'ann@example.com', '+15550000011',
							   'dtc', 40, 'USD') > 0 AS a;
CREATE VIEW pre_msgs AS
SELECT o.kind, o.channel, o.recipient, o.payload->>'order_ref' AS ref,
	   o.payload->>'expected_ship_date' AS ship, o.payload->>'days_to_ship' AS days,
	   o.payload->>'confirm_address' AS confirm_address, o.payload->>'update' AS news
  FROM waitlist.outbox o WHERE o.sku = 'PRE-1' AND o.channel IN ('email', 'sms');
-- Ten days later, Bob orders.
SET waitlist.test_now = '2030-01-11 12:00+00';
SELECT waitlist.place_preorder('PRE-B', 'PRE-1', 2, 'Bob', 'bob@example.com', NULL,
							   'dtc', 40, 'USD') > 0 AS b;
-- A new line has no note planned until its confirmation is written.
SELECT order_ref, next_note_at FROM waitlist.line WHERE sku = 'PRE-1' ORDER BY id;
-- The confirmations go out; nothing else is due yet.
SELECT tick_for('PRE-1') AS written;
SELECT kind, recipient, ref FROM pre_msgs ORDER BY kind, ref, recipient;
-- When each is looked at next: the mid-wait moment (halfway), or the
-- imminent days (4 before the ship date) when they come first.
SELECT order_ref, next_note_at FROM waitlist.line WHERE sku = 'PRE-1' ORDER BY id;
-- Ann's mid-wait: half of 1 Jan 12:00 .. 31 Jan 00:00.
SET waitlist.test_now = '2030-01-16 05:59+00';
SELECT tick_for('PRE-1') AS nothing_yet;
SET waitlist.test_now = '2030-01-16 06:00+00';
SELECT tick_for('PRE-1') AS written;
SELECT tick_for('PRE-1') AS again;
SELECT kind, recipient, ref, ship FROM pre_msgs WHERE kind = 'preorder_midwait' ORDER BY ref, recipient;
-- The merchant's production news reaches every waiting line.
SELECT waitlist.post_update('PRE-1', 'The first batch is off the line and in quality control.') AS lines_told;
SELECT kind, recipient, ref, news FROM pre_msgs WHERE kind = 'production_update' ORDER BY ref, recipient;
-- Bad updates change nothing.
SELECT try($$SELECT waitlist.post_update('PRE-1', NULL)$$);
SELECT try($$SELECT waitlist.post_update('PRE-1', '')$$);
SELECT try($$SELECT waitlist.post_update('PRE-1', E'  \n\t ')$$);
SELECT try($$SELECT waitlist.post_update('PRE-1', repeat('x', 2001))$$);
SELECT try($$SELECT waitlist.post_update('NO-SUCH', 'hello')$$);
SELECT try($$SELECT waitlist.post_update(NULL, 'hello')$$);
SELECT updates_posted FROM waitlist.sku WHERE sku = 'PRE-1';
SELECT count(*) AS updates FROM pre_msgs WHERE kind = 'production_update';
-- Bob's mid-wait: half of 11 Jan 12:00 .. 31 Jan 00:00; then both hear
-- shipping imminent 4 days before the date (27 Jan).
SET waitlist.test_now = '2030-01-21 06:00+00';
SELECT tick_for('PRE-1') AS written;
SELECT kind, recipient, ref FROM pre_msgs WHERE kind = 'preorder_midwait' ORDER BY ref, recipient;
SET waitlist.test_now = '2030-01-27 00:00+00';
SELECT tick_for('PRE-1') AS written;
SELECT tick_for('PRE-1') AS again;
SELECT kind, recipient, ref, ship, days, confirm_address FROM pre_msgs
 WHERE kind = 'shipping_imminent' ORDER BY ref, recipient;
SELECT order_ref, next_note_at FROM waitlist.line WHERE sku = 'PRE-1' ORDER BY id;
-- The production is late: a new ship date replans; imminent again for it,
-- the mid-wait already sent is not sent again.  (The other messages of the
-- 16th are the renewals of the payment authorizations.)
SELECT waitlist.reschedule_preorders('PRE-1', '2030-02-20', '2030-02-10') AS told;
SELECT order_ref, next_note_at FROM waitlist.line WHERE sku = 'PRE-1' ORDER BY id;
-- The next tick plans them: Ann is past her new mid-wait (26 Jan 06:00;
-- sent already, not again), so her next note is imminent (16 Feb); Bob's
-- new mid-wait is 31 Jan 06:00 (his was sent too: looked at, nothing sent;
-- the messages of the 31st are payment re-authorizations).
SELECT tick_for('PRE-1') AS written;
SELECT order_ref, next_note_at FROM waitlist.line WHERE sku = 'PRE-1' ORDER BY id;
SET waitlist.test_now = '2030-01-31 06:00+00';
SELECT tick_for('PRE-1') AS written;
SELECT order_ref, next_note_at FROM waitlist.line WHERE sku = 'PRE-1' ORDER BY id;
SET waitlist.test_now = '2030-02-16 00:00+00';
SELECT tick_for('PRE-1') AS written;
SELECT kind, ref, ship FROM pre_msgs WHERE channel = 'email'
   AND kind IN ('preorder_midwait', 'shipping_imminent') ORDER BY ref, kind, ship;
-- Stock arrives; both ship.
SELECT waitlist.restock('PRE-1', 3);
SELECT waitlist.ship_line(id) FROM waitlist.line WHERE sku = 'PRE-1' ORDER BY id;
-- Ann's whole life, by email.
SELECT kind FROM waitlist.outbox WHERE sku = 'PRE-1' AND recipient = 'ann@example.com' ORDER BY id;
-- A pre-order placed days before its date: imminent at once, no mid-wait.
SELECT waitlist.reschedule_preorders('PRE-1', '2030-02-19') AS told;
SELECT waitlist.place_preorder('PRE-C', 'PRE-1', 1, 'Cy', 'cy@example.com', NULL,
							   'dtc', 40, 'USD') > 0 AS c;
SELECT tick_for('PRE-1') AS written;
SELECT kind FROM waitlist.outbox WHERE sku = 'PRE-1' AND recipient = 'cy@example.com' ORDER BY id;
-- A schedule of its own: the imminent note 2 days before; planned again
-- by the next tick (17 Feb; its imminent note for 19 Feb is sent already).
SELECT imminent_days FROM waitlist.set_schedule('PRE-1', imminent_days => 2);
SELECT tick_for('PRE-1') AS written;
SELECT order_ref, next_note_at FROM waitlist.line WHERE sku = 'PRE-1' AND order_ref = 'PRE-C';
SELECT count(*) AS problems FROM waitlist.check_invariants();
DROP VIEW pre_msgs;
RESET waitlist.test_now;
