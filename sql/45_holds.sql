-- Exclusive holds: with a hold window, each sign-up a wave tells has one
-- unit held until the window ends.  Nobody else can take a held unit (the
-- policy, orders and backorders see it as taken); claim_hold turns it into
-- a line allocated at once; when the window ends, unclaimed units go to the
-- next people in line as a new wave with its own window, and what is left
-- once nobody waits is free to anyone.  Driven by the test clock.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2030-11-01 10:00+00';
SELECT sku FROM waitlist.upsert_sku('HO-1', 'Sneaker', confirm_signups => false);
SELECT waitlist.set_hold_window('HO-1', '2 hours');
SELECT waitlist.subscribe('HO-1', 'a@example.com') > 0 AS a,
	   waitlist.subscribe('HO-1', 'b@example.com', '+14155550402') > 0 AS b,
	   waitlist.subscribe('HO-1', 'c@example.com') > 0 AS c,
	   waitlist.subscribe('HO-1', 'd@example.com') > 0 AS d,
	   waitlist.subscribe('HO-1', 'e@example.com') > 0 AS e;

-- Three units arrive: A, B and C are told, one unit held for each until
-- noon; D and E hear it sold out again.  Every unit is taken: the page says
-- so, and a walk-in backorder waits behind the holds.
SELECT waitlist.restock('HO-1', 3);
SELECT on_hand, allocated, held, sub_served FROM waitlist.sku WHERE sku = 'HO-1';
SELECT pos_from, pos_to, units, claimed, expires_at, closed_at FROM waitlist.hold WHERE sku = 'HO-1';
SELECT tick_for('HO-1') AS written;
SELECT kind, channel, recipient, payload->>'held_until' AS held_until, payload->>'units_available' AS units
  FROM waitlist.outbox WHERE sku = 'HO-1' ORDER BY kind, recipient, channel;
SELECT decision FROM waitlist.policy('HO-1');
SELECT (waitlist.policy(s)).decision AS row_form FROM waitlist.sku s WHERE s.sku = 'HO-1';
-- With the policy enforced, a walk-in order for a held unit is refused:
-- the page says notify_me, not in stock.
SET waitlist.enforce_policy = on;
SELECT try($$SELECT * FROM waitlist.place_order('HO-W0', 'Walk-in', 'walk0@example.com', NULL, 'dtc',
											   '[{"sku": "HO-1", "qty": 1}]')$$);
SELECT try($$SELECT waitlist.place_backorder('HO-W0', 'HO-1', 1, 'Walk-in', 'walk0@example.com')$$);
RESET waitlist.enforce_policy;
-- (With it off, as the rest of the suite runs, the backorder waits behind the holds.)
SELECT waitlist.place_backorder('HO-W1', 'HO-1', 1, 'Walk-in', 'walk@example.com') > 0 AS walk_in;
SELECT status, allocated FROM waitlist.line_status WHERE order_ref = 'HO-W1';

-- B claims by phone in the shop's checkout: a line of one unit, allocated
-- at once; the same order again returns the same line.  B's sign-up is
-- converted.
SET waitlist.test_now = '2030-11-01 10:30+00';
SELECT waitlist.claim_hold('HO-1', '+14155550402', 'HO-B1', 'Bea') AS b_line \gset
SELECT waitlist.claim_hold('HO-1', '+14155550402', 'HO-B1', 'Bea') = :b_line AS same_line;
SELECT l.order_ref, l.email, l.phone, l.qty, l.pos_start, l.pos_end, st.status, st.allocated
  FROM waitlist.line l JOIN waitlist.line_status st ON st.id = l.id WHERE l.id = :b_line;
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-1';
SELECT units, claimed, closed_at FROM waitlist.hold WHERE sku = 'HO-1';
SELECT st.status FROM waitlist.subscriber_status st WHERE st.sku = 'HO-1' AND st.phone = '+14155550402';
SELECT kind, channel, recipient, payload->>'in_stock' AS in_stock FROM waitlist.outbox
 WHERE sku = 'HO-1' AND kind = 'backorder_confirmed' AND recipient LIKE 'b%' ORDER BY channel;

-- Refused claims, each with its reason and nothing changed.
SELECT try($$SELECT waitlist.claim_hold('HO-1', 'd@example.com', 'HO-D1')$$);
SELECT try($$SELECT waitlist.claim_hold('HO-1', 'zed@example.com', 'HO-Z1')$$);
SELECT try($$SELECT waitlist.claim_hold('HO-1', '+14155550402', 'HO-B2')$$);
SELECT try($$SELECT waitlist.claim_hold('NOPE', 'a@example.com', 'HO-N1')$$);
SELECT try($$SELECT waitlist.claim_hold('HO-1', 'not-a-contact', 'HO-N2')$$);
SELECT try($$SELECT waitlist.claim_hold('HO-1', 'a@example.com', NULL)$$);
SELECT try($$SELECT waitlist.claim_hold('HO-1', 'a@example.com', 'HO-N3', channel => 'no such')$$);
SELECT try($$SELECT waitlist.set_hold_window('HO-1', '25 hours')$$);
SELECT try($$SELECT waitlist.set_hold_window('HO-1', '30 seconds')$$);
SELECT try($$SELECT waitlist.set_hold_window('HO-1', '1 mon')$$);
SELECT try($$SELECT waitlist.set_hold_window('NOPE', '1 hour')$$);
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-1';

-- Noon: the window ends with A and C unclaimed.  The walk-in backorder was
-- first among paid lines and gets one unit; D is next in line and gets the
-- other with a window of her own; E hears nothing new.
SET waitlist.test_now = '2030-11-01 12:00+00';
SELECT tick_for('HO-1') AS written;
SELECT pos_from, pos_to, units, claimed, expires_at, closed_at FROM waitlist.hold WHERE sku = 'HO-1' ORDER BY pos_from;
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-1';
SELECT status, allocated FROM waitlist.line_status WHERE order_ref = 'HO-W1';
SELECT tick_for('HO-1') AS written;
SELECT kind, channel, recipient, payload->>'held_until' AS held_until FROM waitlist.outbox
 WHERE sku = 'HO-1' AND created_at = '2030-11-01 12:00+00' ORDER BY kind, recipient;
SELECT try($$SELECT waitlist.claim_hold('HO-1', 'a@example.com', 'HO-A1')$$);

-- D lets hers lapse too; E is the last in line.  E's window ends unclaimed
-- and nobody is left: the unit is free to anyone.
SET waitlist.test_now = '2030-11-01 14:00+00';
SELECT tick_for('HO-1') AS written;
SET waitlist.test_now = '2030-11-01 16:00+00';
SELECT tick_for('HO-1') AS written;
SELECT pos_from, pos_to, units, claimed, closed_at FROM waitlist.hold WHERE sku = 'HO-1' ORDER BY pos_from;
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-1';
SELECT decision FROM waitlist.policy('HO-1');
SELECT invariant, detail FROM waitlist.check_invariants() WHERE sku = 'HO-1';
-- Someone who signs up while a unit is free is told at once, with a hold.
SELECT waitlist.subscribe('HO-1', 'f@example.com') > 0 AS f;
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-1';
SELECT tick_for('HO-1') AS written;
SELECT kind, recipient, payload->>'held_until' AS held_until FROM waitlist.outbox
 WHERE sku = 'HO-1' AND recipient = 'f@example.com';
SELECT waitlist.claim_hold('HO-1', 'F@Example.com', 'HO-F1') > 0 AS f_claimed;

-- Shipping and cancelling a claimed line work as for any line.
SELECT try(format('SELECT waitlist.ship_line(%s)', :b_line));
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-1';

-- A stock count below what is held shrinks the newest wave first, then
-- takes paid units back, then a claimed unit (its line waits again at the
-- end of the paid queue).
SET waitlist.test_now = '2030-11-02 09:00+00';
SELECT sku FROM waitlist.upsert_sku('HO-2', 'Cap', confirm_signups => false);
SELECT waitlist.set_hold_window('HO-2', '3 hours');
SELECT waitlist.subscribe('HO-2', 'p' || i || '@example.com') > 0 AS joined FROM generate_series(1, 4) i;
SELECT waitlist.restock('HO-2', 4);
SELECT waitlist.claim_hold('HO-2', 'p1@example.com', 'HO2-P1') > 0 AS p1_claimed;
SELECT waitlist.claim_hold('HO-2', 'p2@example.com', 'HO2-P2') > 0 AS p2_claimed;
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-2';
SELECT waitlist.set_on_hand('HO-2', 3);
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-2';
SELECT units, claimed, closed_at FROM waitlist.hold WHERE sku = 'HO-2';
SELECT waitlist.set_on_hand('HO-2', 1);
SELECT on_hand, allocated, held, paid_tail, paid_waiting FROM waitlist.sku WHERE sku = 'HO-2';
SELECT l.order_ref, l.pos_start, st.status, st.allocated
  FROM waitlist.line l JOIN waitlist.line_status st ON st.id = l.id WHERE l.sku = 'HO-2' ORDER BY l.order_ref;
-- (the error says why: the count took the units the wave still held)
SELECT waitlist.claim_hold('HO-2', 'p3@example.com', 'HO2-P3');
-- Stock back: the requeued line is served first; the sell-out at the
-- count kept the places of P3 and P4 (told, their holds gone), so the unit
-- left is held for P3, and the one P1's cancellation frees for P4.
SELECT waitlist.set_on_hand('HO-2', 3);
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-2';
SELECT order_ref, status, allocated FROM waitlist.line_status WHERE sku = 'HO-2' ORDER BY order_ref;
SELECT try($$SELECT waitlist.cancel_line(id) FROM waitlist.line WHERE order_ref = 'HO2-P1'$$);
SELECT on_hand, allocated, held FROM waitlist.sku WHERE sku = 'HO-2';
SELECT invariant, sku, detail FROM waitlist.check_invariants() WHERE sku LIKE 'HO-%';

-- No unit is held for a sign-up whose contact bought the SKU within
-- waitlist.purchase_window: Cy bought elsewhere, then signed up again (or
-- the sign-up was committed while the purchase was being recorded).  The
-- wave converts Cy's sign-up and holds the unit for Dee instead.
SET waitlist.test_now = '2030-11-03 09:00+00';
SELECT sku FROM waitlist.upsert_sku('HO-3', 'Scarf', confirm_signups => false);
SELECT waitlist.set_hold_window('HO-3', '2 hours');
SELECT waitlist.record_purchase('HO-3', 'cy@example.com', 'EXT-CY1') AS converted;
SELECT waitlist.subscribe('HO-3', 'cy@example.com') > 0 AS cy,
	   waitlist.subscribe('HO-3', 'dee@example.com') > 0 AS dee,
	   waitlist.subscribe('HO-3', 'eve@example.com') > 0 AS eve;
SELECT waitlist.restock('HO-3', 1);
SELECT u.email, st.status FROM waitlist.subscriber u
  JOIN waitlist.subscriber_status st ON st.id = u.id WHERE u.sku = 'HO-3' ORDER BY u.pos;
SELECT pos_from, pos_to, units FROM waitlist.hold WHERE sku = 'HO-3';
SELECT on_hand, held, sub_served, sub_waiting FROM waitlist.sku WHERE sku = 'HO-3';
SELECT tick_for('HO-3') AS written;
SELECT recipient, payload->>'told_in_wave' AS told FROM waitlist.outbox
 WHERE sku = 'HO-3' AND kind = 'back_in_stock';
SELECT waitlist.claim_hold('HO-3', 'dee@example.com', 'HO3-D1') > 0 AS dee_claimed;
SELECT invariant, sku, detail FROM waitlist.check_invariants() WHERE sku = 'HO-3';

-- Holds off: the next wave follows notify_ratio again, open holds run on.
SELECT waitlist.set_hold_window('HO-2', NULL) IS NULL AS off;
SELECT hold_window FROM waitlist.sku WHERE sku = 'HO-2';
RESET waitlist.test_now;
