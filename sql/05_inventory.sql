-- Following the app's own inventory table with a C trigger.
SELECT sku FROM waitlist.upsert_sku('SOCK', title => 'Wool sock', confirm_signups => false);
SELECT sku FROM waitlist.upsert_sku('GLOVE');
CREATE TABLE app_stock (location text, item text, qty integer, note text);
INSERT INTO app_stock VALUES ('berlin', 'SOCK', 2, NULL), ('paris', 'SOCK', 1, NULL),
                             ('paris', 'UNTRACKED', 50, NULL);
SELECT waitlist.track_inventory('app_stock', 'item', 'qty');
-- Attaching synchronises: locations add up; unknown SKUs are ignored.
SELECT on_hand FROM waitlist.sku WHERE sku = 'SOCK';
SELECT waitlist.place_backorder('S-1', 'SOCK', 4, 'Sam', 'sam@example.com') > 0 AS placed;
SELECT waitlist.place_backorder('S-2', 'SOCK', 1, 'Sue', 'sue@example.com') > 0 AS placed;
SELECT order_ref, allocated, status FROM waitlist.line_status WHERE sku = 'SOCK' ORDER BY id;

-- INSERT, UPDATE of the quantity, a SKU change and DELETE all move units.
INSERT INTO app_stock VALUES ('lyon', 'SOCK', 2, NULL);
SELECT on_hand FROM waitlist.sku WHERE sku = 'SOCK';
SELECT order_ref, allocated, status FROM waitlist.line_status WHERE sku = 'SOCK' ORDER BY id;
UPDATE app_stock SET qty = qty + 1 WHERE location = 'berlin';
UPDATE app_stock SET note = 'unrelated column' WHERE location = 'berlin';
SELECT on_hand FROM waitlist.sku WHERE sku = 'SOCK';
UPDATE app_stock SET item = 'GLOVE' WHERE location = 'lyon';
SELECT sku, on_hand FROM waitlist.sku WHERE sku IN ('SOCK', 'GLOVE') ORDER BY sku;
DELETE FROM app_stock WHERE location = 'lyon';
SELECT sku, on_hand FROM waitlist.sku WHERE sku IN ('SOCK', 'GLOVE') ORDER BY sku;
UPDATE app_stock SET qty = NULL WHERE location = 'paris' AND item = 'SOCK';
SELECT on_hand FROM waitlist.sku WHERE sku = 'SOCK';
-- Many rows in one statement: one allocation per SKU at commit (3 batches
-- in all: the attach, the lyon row, this statement).
INSERT INTO app_stock SELECT 'bin' || g, 'SOCK', 1, NULL FROM generate_series(1, 3) g;
SELECT order_ref, allocated, status FROM waitlist.line_status WHERE sku = 'SOCK' ORDER BY id;
SELECT count(*) AS allocation_batches FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku
 WHERE s.sku = 'SOCK';
-- A change that would take units below zero is refused with the app's write.
SELECT try($$UPDATE app_stock SET qty = -10 WHERE location = 'berlin'$$);
SELECT qty FROM app_stock WHERE location = 'berlin';

-- Errors.
CREATE TABLE app_bad (item integer, qty text);
CREATE VIEW app_view AS SELECT * FROM app_stock;
SELECT try($$SELECT waitlist.track_inventory('app_stock', 'item', 'qty')$$);
SELECT try($$SELECT waitlist.track_inventory('app_bad', 'item', 'qty')$$);
SELECT try($$SELECT waitlist.track_inventory('app_bad', 'nope', 'qty')$$);
SELECT try($$SELECT waitlist.track_inventory('app_view', 'item', 'qty')$$);
SELECT try($$SELECT waitlist.track_inventory(NULL, 'item', 'qty')$$);
SELECT try($$SELECT waitlist.track_inventory('app_stock', NULL, 'qty')$$);
SELECT try($$SELECT waitlist.inventory_trigger()$$);
CREATE TABLE app_mis (item text, qty int);
CREATE TRIGGER mis BEFORE INSERT ON app_mis FOR EACH ROW EXECUTE FUNCTION waitlist.inventory_trigger('item', 'qty');
SELECT try($$INSERT INTO app_mis VALUES ('SOCK', 1)$$);
SELECT inventory, sku_column, quantity_column FROM waitlist.tracked_inventory;

-- Untracking removes the trigger; later changes no longer move units.
SELECT waitlist.untrack_inventory('app_stock');
SELECT waitlist.untrack_inventory('app_stock');
INSERT INTO app_stock VALUES ('oslo', 'SOCK', 100, NULL);
SELECT on_hand FROM waitlist.sku WHERE sku = 'SOCK';
SELECT count(*) FROM pg_trigger WHERE tgrelid = 'app_stock'::regclass;
