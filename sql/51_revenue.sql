-- The two revenue metrics and the sell-out history they read
-- (waitlist.sale_period): pre-order revenue as a share of launch-week
-- revenue, and the revenue capture rate of the stock-outs.  Every number is
-- counted here by hand.  Everything happens in 2037, which no other test
-- touches; all-SKU numbers are not asserted (earlier files leave stock-outs
-- of their own open).
SET TimeZone = 'UTC';

-- ---------------------------------------------------------------- launch
-- RV-1 takes pre-orders from 5 January for a 20 January launch: P1 2 units
-- and P2 1 unit at 40.00 (120.00), P3 1 unit cancelled (not counted).
SET waitlist.test_now = '2037-01-05 10:00+00';
SELECT sku FROM waitlist.upsert_sku('RV-1', 'Speaker', status => 'upcoming');
SELECT status FROM waitlist.open_preorders('RV-1', 100, 80, '2037-01-15', '2037-01-20');
SELECT waitlist.place_preorder('RV-P1', 'RV-1', 2, 'P1', 'p1@example.com', NULL, 'dtc', 40, 'USD') > 0 AS p1,
	   waitlist.place_preorder('RV-P2', 'RV-1', 1, 'P2', 'p2@example.com', NULL, 'dtc', 40, 'USD') > 0 AS p2,
	   waitlist.place_preorder('RV-P3', 'RV-1', 1, 'P3', 'p3@example.com', NULL, 'dtc', 40, 'USD') > 0 AS p3;
SELECT waitlist.cancel_line('RV-1', id) FROM waitlist.line WHERE order_ref = 'RV-P3';
SELECT order_ref, qty, unit_price, amount, state FROM waitlist.line WHERE sku = 'RV-1' ORDER BY order_ref;
-- Nothing launched yet: no sale period, no data.
SELECT count(*) AS periods FROM waitlist.sale_period WHERE sku = 'RV-1';

-- 20 January 09:00: 100 units arrive; the 3 pre-ordered go to P1 and P2,
-- 97 go on sale.  That is the launch.
SET waitlist.test_now = '2037-01-20 09:00+00';
SELECT waitlist.restock('RV-1', 100);
SELECT on_sale_at, sold_out_at FROM waitlist.sale_period WHERE sku = 'RV-1';

-- Launch week, [20 Jan 09:00, 27 Jan 09:00):
--   W1 3 units for 150.00 (reported by its email and again by its phone:
--      counted once);
--   W2 1 unit, no amount given: at the SKU's pre-order price, 40.00;
--   B1 2 units sold from stock through the extension, no price: 80.00;
--   W3 exactly 7 days after the launch: not in the week.
SET waitlist.test_now = '2037-01-23 12:00+00';
SELECT waitlist.record_purchase('RV-1', 'w1@example.com', 'WEB-W1', '2037-01-21 10:00+00', 3, 150.00) AS w1,
	   waitlist.record_purchase('RV-1', '+14155550901', 'WEB-W1', '2037-01-21 10:00+00', 3, 150.00) AS w1_phone,
	   waitlist.record_purchase('RV-1', 'w2@example.com', 'WEB-W2', '2037-01-22 10:00+00') AS w2;
SELECT waitlist.place_backorder('RV-B1', 'RV-1', 2, 'B1', 'b1@example.com') > 0 AS b1;
SELECT order_ref, from_stock, promised_on FROM waitlist.line WHERE order_ref = 'RV-B1';
SET waitlist.test_now = '2037-01-28 09:00+00';
SELECT waitlist.record_purchase('RV-1', 'w3@example.com', 'WEB-W3', '2037-01-27 09:00+00', 5, 250) AS w3;
-- The shop also reports B1's order (the extension has it as a line): not
-- a second sale.
SELECT waitlist.record_purchase('RV-1', 'shop@example.com', 'RV-B1', '2037-01-23 12:00+00', 2, 100) AS b1_again;
SELECT order_ref, contact, qty, amount, source FROM waitlist.purchase WHERE sku = 'RV-1' ORDER BY order_ref, contact;

-- Pre-orders 120.00 of 120.00 + 150.00 + 40.00 + 80.00 = 390.00: 0.3077,
-- in the 20-40% band.
SELECT metric, value, numerator, denominator, target, verdict
  FROM waitlist.metrics('2037-01-01', '2037-01-31', 'RV-1') WHERE metric = 'preorder_revenue_share';
-- The launch is counted in the period it falls in, not in February.
SELECT metric, value, numerator, denominator, verdict
  FROM waitlist.metrics('2037-02-01', '2037-02-28', 'RV-1') WHERE metric = 'preorder_revenue_share';

-- RV-4 launches with no pre-order: nothing to share (no data).
SET waitlist.test_now = '2037-01-10 09:00+00';
SELECT sku FROM waitlist.upsert_sku('RV-4', 'Cable');
SELECT waitlist.restock('RV-4', 5);
SELECT metric, value, numerator, denominator, verdict
  FROM waitlist.metrics('2037-01-01', '2037-01-31', 'RV-4') WHERE metric = 'preorder_revenue_share';

-- ------------------------------------------------------- revenue capture
-- RV-2 goes on sale on 1 March with 10 units.  Sold from stock: R1 4 units
-- (2 March), R2 3 units (5 March), both reported; the count on 7 March
-- finds 3 left; B1 takes 2 of them through the extension.  On 8 March the
-- last unit goes in the shop (a count of 2, both allocated to B1): sold out
-- after 7 days on sale, 9 units sold from stock: 9/7 a day.
SET waitlist.test_now = '2037-03-01 00:00+00';
SELECT sku FROM waitlist.upsert_sku('RV-2', 'Chair');
SELECT waitlist.restock('RV-2', 10);
SET waitlist.test_now = '2037-03-07 12:00+00';
SELECT waitlist.record_purchase('RV-2', 'r1@example.com', 'WEB-R1', '2037-03-02 10:00+00', 4) AS r1,
	   waitlist.record_purchase('RV-2', 'r2@example.com', 'WEB-R2', '2037-03-05 10:00+00', 3) AS r2;
SELECT waitlist.set_on_hand('RV-2', 3);
SELECT waitlist.place_backorder('RV-C1', 'RV-2', 2, 'C1', 'c1@example.com') > 0 AS c1;
SET waitlist.test_now = '2037-03-08 00:00+00';
SELECT waitlist.set_on_hand('RV-2', 2);
-- Out of stock from 8 to 15 March (7 days): 9/7 x 7 = 9 units expected.
-- Captured: C2 2 units (9 March) and C4 1 unit (12 March); C3 (10 March)
-- is cancelled, lost.
SET waitlist.test_now = '2037-03-09 00:00+00';
SELECT waitlist.place_backorder('RV-C2', 'RV-2', 2, 'C2', 'c2@example.com') > 0 AS c2;
SET waitlist.test_now = '2037-03-10 00:00+00';
SELECT waitlist.place_backorder('RV-C3', 'RV-2', 1, 'C3', 'c3@example.com') > 0 AS c3;
SELECT waitlist.cancel_line('RV-2', id) FROM waitlist.line WHERE order_ref = 'RV-C3';
SET waitlist.test_now = '2037-03-12 00:00+00';
SELECT waitlist.place_backorder('RV-C4', 'RV-2', 1, 'C4', 'c4@example.com') > 0 AS c4;
-- 15 March: 10 units; C2 and C4 take 3, 7 go on sale.
SET waitlist.test_now = '2037-03-15 00:00+00';
SELECT waitlist.restock('RV-2', 10);
SELECT order_ref, from_stock, state FROM waitlist.line WHERE sku = 'RV-2' ORDER BY order_ref;
SELECT on_sale_at, sold_out_at FROM waitlist.sale_period WHERE sku = 'RV-2' ORDER BY on_sale_at;
-- 3 captured of 9 expected: 0.3333; the seed gives no band.
SELECT metric, value, numerator, denominator, target, verdict
  FROM waitlist.metrics('2037-03-01', '2037-03-15', 'RV-2') WHERE metric = 'revenue_capture';
-- A period that starts on 10 March sees 5 of the 7 days: 9/7 x 5 = 6.43
-- expected, C4 captured (C3 was cancelled): 1 / 6.43 = 0.1555.
SELECT metric, value, numerator, denominator
  FROM waitlist.metrics('2037-03-10', '2037-03-15', 'RV-2') WHERE metric = 'revenue_capture';
-- A period while RV-2 was on sale: no stock-out, no data.
SELECT metric, value, numerator, denominator, verdict
  FROM waitlist.metrics('2037-03-02', '2037-03-06', 'RV-2') WHERE metric = 'revenue_capture';

-- A second stock-out, still running: R3 buys the 7 units on 18 March and
-- the count on 20 March says so.  Over the 28 days before 20 March RV-2
-- sold 4 + 3 + 2 + 7 = 16 units from stock in 7 + 5 = 12 days on sale
-- (16/12 a day).  On 25 March it has been out for 5 days: 16/12 x 5 = 6.67
-- expected; C5 (2 units, 22 March) captured.
SET waitlist.test_now = '2037-03-20 00:00+00';
SELECT waitlist.record_purchase('RV-2', 'r3@example.com', 'WEB-R3', '2037-03-18 10:00+00', 7) AS r3;
SELECT waitlist.set_on_hand('RV-2', (SELECT allocated FROM waitlist.sku WHERE sku = 'RV-2'));
SET waitlist.test_now = '2037-03-22 00:00+00';
SELECT waitlist.place_backorder('RV-C5', 'RV-2', 2, 'C5', 'c5@example.com') > 0 AS c5;
SET waitlist.test_now = '2037-03-25 00:00+00';
SELECT on_sale_at, sold_out_at FROM waitlist.sale_period WHERE sku = 'RV-2' ORDER BY on_sale_at;
-- March: 3 + 2 = 5 captured of 9 + 6.67 = 15.67 expected: 0.3191.
SELECT metric, value, numerator, denominator
  FROM waitlist.metrics('2037-03-01', '2037-03-31', 'RV-2') WHERE metric = 'revenue_capture';

-- RV-3 sold its 2 units in a day (2 a day) and has been out for 23 days
-- on 25 March: 46 expected, nothing captured.  Once discontinued, no
-- demand is expected for it.
SET waitlist.test_now = '2037-03-01 00:00+00';
SELECT sku FROM waitlist.upsert_sku('RV-3', 'Stool');
SELECT waitlist.restock('RV-3', 2);
SET waitlist.test_now = '2037-03-02 00:00+00';
SELECT waitlist.record_purchase('RV-3', 'r9@example.com', 'WEB-R9', '2037-03-01 10:00+00', 2) AS r9;
SELECT waitlist.set_on_hand('RV-3', 0);
SET waitlist.test_now = '2037-03-25 00:00+00';
SELECT metric, numerator, denominator, verdict
  FROM waitlist.metrics('2037-03-01', '2037-03-31', 'RV-3') WHERE metric = 'revenue_capture';
SELECT sku FROM waitlist.upsert_sku('RV-3', 'Stool', status => 'discontinued');
SELECT metric, numerator, denominator, verdict
  FROM waitlist.metrics('2037-03-01', '2037-03-31', 'RV-3') WHERE metric = 'revenue_capture';

-- RV-5: a sell-out, a restock and a second sell-out at one instant (the
-- clock stands still): two periods end at the same time, one of them
-- empty.  The stock-out is counted once: 4 units sold in the day on sale
-- before it (4 a day), out from 2 May 00:00 to 5 May 00:00 (3 days): 12
-- expected; D1 captured (1 unit): 0.0833.
SET waitlist.test_now = '2037-05-01 00:00+00';
SELECT sku FROM waitlist.upsert_sku('RV-5', 'Mug');
SELECT waitlist.restock('RV-5', 4);
SET waitlist.test_now = '2037-05-02 00:00+00';
SELECT waitlist.record_purchase('RV-5', 'm1@example.com', 'WEB-M1', '2037-05-01 12:00+00', 4) AS m1;
SELECT waitlist.set_on_hand('RV-5', 0);
SELECT waitlist.restock('RV-5', 2);
SELECT waitlist.set_on_hand('RV-5', 0);
SELECT on_sale_at, sold_out_at FROM waitlist.sale_period WHERE sku = 'RV-5' ORDER BY on_sale_at;
SET waitlist.test_now = '2037-05-03 00:00+00';
SELECT waitlist.place_backorder('RV-D1', 'RV-5', 1, 'D1', 'd1@example.com') > 0 AS d1;
SET waitlist.test_now = '2037-05-05 00:00+00';
SELECT metric, value, numerator, denominator
  FROM waitlist.metrics('2037-05-01', '2037-05-31', 'RV-5') WHERE metric = 'revenue_capture';

-- RV-6: a transaction whose clock is behind the last sell-out (it began
-- earlier and committed later) opens its period at that sell-out, not
-- before it, and a sell-out never comes before its period's start.
SET waitlist.test_now = '2037-06-02 00:00+00';
SELECT sku FROM waitlist.upsert_sku('RV-6', 'Jug');
SELECT waitlist.restock('RV-6', 1);
SELECT waitlist.set_on_hand('RV-6', 0);
SET waitlist.test_now = '2037-06-03 00:00+00';
SELECT waitlist.restock('RV-6', 1);
SELECT waitlist.set_on_hand('RV-6', 0);
SET waitlist.test_now = '2037-06-01 00:00+00';
SELECT waitlist.restock('RV-6', 1);
SELECT on_sale_at, sold_out_at FROM waitlist.sale_period WHERE sku = 'RV-6' ORDER BY on_sale_at;
SELECT waitlist.set_on_hand('RV-6', 0);
SELECT on_sale_at, sold_out_at FROM waitlist.sale_period WHERE sku = 'RV-6' ORDER BY on_sale_at;

-- ------------------------------------------------------------- bad input
-- A reported order: units positive, an amount above 0; nothing written.
SELECT try($$SELECT waitlist.record_purchase('RV-2', 'x@example.com', 'WEB-X', NULL, 0)$$);
SELECT try($$SELECT waitlist.record_purchase('RV-2', 'x@example.com', 'WEB-X', NULL, -3)$$);
SELECT try($$SELECT waitlist.record_purchase('RV-2', 'x@example.com', 'WEB-X', NULL, NULL)$$);
SELECT try($$SELECT waitlist.record_purchase('RV-2', 'x@example.com', 'WEB-X', NULL, 1, 0)$$);
SELECT try($$SELECT waitlist.record_purchase('RV-2', 'x@example.com', 'WEB-X', NULL, 1, -5)$$);
SELECT try($$SELECT waitlist.record_purchase('RV-2', 'x@example.com', 'WEB-X', NULL, 1, 'NaN')$$);
SELECT count(*) AS written FROM waitlist.purchase WHERE order_ref = 'WEB-X';

SELECT * FROM waitlist.check_invariants() WHERE sku LIKE 'RV-%';
RESET waitlist.test_now;
