-- Findings of the hostile-input test (test/hostile.sh), one section each.
-- Each failed before its fix.
-- The calendar dates below lie before the day the suite runs only if the
-- extension's clock is held still: the test clock stands at a moment
-- before all of them (sessions of their own, so nothing else sees it).
SET waitlist.test_now = '2026-11-20 09:00+00';

-- A tracked table whose SKU column is char(n): the trigger read the value
-- with its padding ('SHOE      '), matched no SKU and ignored every change
-- after the first sum, which had cast it to text.
SELECT sku FROM waitlist.upsert_sku('SHOE');
CREATE TABLE char_stock (sku char(10), location text, qty integer);
INSERT INTO char_stock VALUES ('SHOE', 'north', 2);
SELECT waitlist.track_inventory('char_stock', 'sku', 'qty');
SELECT on_hand FROM waitlist.sku WHERE sku = 'SHOE';
INSERT INTO char_stock VALUES ('SHOE', 'south', 3);
UPDATE char_stock SET qty = qty + 1 WHERE location = 'north';
SELECT on_hand FROM waitlist.sku WHERE sku = 'SHOE';
DELETE FROM char_stock WHERE location = 'south';
SELECT on_hand, (SELECT sum(qty) FROM char_stock) AS rows_sum FROM waitlist.sku WHERE sku = 'SHOE';
SELECT waitlist.untrack_inventory('char_stock');

-- A deposit percentage is kept to two decimals: 0.004 % was taken, stored
-- as 0.00 %, and every pre-order "captured" a deposit of 0.00.
SELECT sku FROM waitlist.upsert_sku('DEP-0');
SELECT try($$SELECT waitlist.open_preorders('DEP-0', 100, 80, '2026-12-01', '2026-12-10', 'deposit', 0.004)$$);
SELECT payment_mode, deposit_pct FROM waitlist.sku WHERE sku = 'DEP-0';
SELECT payment FROM waitlist.open_preorders('DEP-0', 100, 80, '2026-12-01', '2026-12-10', 'deposit', 0.005);

-- Quantities of a numeric column are whole numbers: each row's 0.5 was
-- rounded to 1 (two rows made 2 units where the table held 1, and
-- track_inventory, which sums first, said 1), and NaN or infinity raised
-- internal conversion errors.
SELECT sku FROM waitlist.upsert_sku('NUM');
CREATE TABLE num_stock (sku text, location text, qty numeric);
INSERT INTO num_stock VALUES ('NUM', 'north', 2.0), ('NUM', 'south', 0.5);
SELECT try($$SELECT waitlist.track_inventory('num_stock', 'sku', 'qty')$$);
UPDATE num_stock SET qty = 1 WHERE location = 'south';
SELECT waitlist.track_inventory('num_stock', 'sku', 'qty');
SELECT try($$INSERT INTO num_stock VALUES ('NUM', 'east', 0.5)$$);
SELECT try($$UPDATE num_stock SET qty = 'NaN' WHERE location = 'north'$$);
SELECT try($$UPDATE num_stock SET qty = '-Infinity' WHERE location = 'north'$$);
SELECT try($$UPDATE num_stock SET qty = 1e30 WHERE location = 'north'$$);
INSERT INTO num_stock VALUES ('NUM', 'east', 4.000);
SELECT on_hand, (SELECT sum(qty) FROM num_stock) AS rows_sum FROM waitlist.sku WHERE sku = 'NUM';
SELECT waitlist.untrack_inventory('num_stock');

-- Quantities near the bigint range: a change past it said "would go below
-- zero" with a positive change (on_hand + delta, and new - old, wrapped).
SELECT sku FROM waitlist.upsert_sku('BIG');
CREATE TABLE big_stock (sku text, location text, qty bigint);
INSERT INTO big_stock VALUES ('BIG', 'north', 5);
SELECT waitlist.track_inventory('big_stock', 'sku', 'qty');
SELECT try($$INSERT INTO big_stock VALUES ('BIG', 'south', 9223372036854775807)$$);
SELECT try($$UPDATE big_stock SET qty = -9223372036854775808 WHERE location = 'north'$$);
SELECT try($$UPDATE big_stock SET qty = 9223372036854775807 WHERE location = 'north'$$);
SELECT on_hand FROM waitlist.sku WHERE sku = 'BIG';
SELECT waitlist.untrack_inventory('big_stock');

-- A cart counts a SKU's length in characters, as upsert_sku does: a SKU
-- of 100 two-byte characters was registered, sold and backordered, but a
-- cart refused it as longer than 128.
SELECT char_length(sku) FROM waitlist.upsert_sku(repeat('é', 100));
SELECT waitlist.restock(repeat('é', 100), 5);
SELECT line_no, qty, decision FROM waitlist.place_order('MB-1', NULL, 'mb@example.com', NULL, 'dtc',
	jsonb_build_array(jsonb_build_object('sku', repeat('é', 100), 'qty', 1)));
SELECT try($$SELECT * FROM waitlist.place_order('MB-2', NULL, 'mb@example.com', NULL, 'dtc',
	jsonb_build_array(jsonb_build_object('sku', repeat('é', 129), 'qty', 1)))$$);
