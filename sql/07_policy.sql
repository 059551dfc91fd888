-- The availability policy: every branch of the flowchart on every channel
-- of the playbook's table, dates around each threshold (13, 14, 15, 21 and
-- 22 days), per-SKU overrides and settings, enforcement at order time,
-- availability_changed once per real change, and mixed carts.
-- Dates are relative to today, and shown as days from today.
SET waitlist.enforce_policy = on;
-- Errors with their detail and the cart line they are about.
CREATE FUNCTION try_detail(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	d text;
	c text;
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, c = PG_EXCEPTION_CONTEXT;
	RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' | ' || nullif(d, ''), '')
		|| coalesce(' | ' || substring(c from 'cart line [0-9]+ \([^)]*\)'), '');
END
$$;

SELECT channel, title, marketplace, backorders, preorders, max_handling_days,
       brand_registry, notify_me, builtin, changed
  FROM waitlist.channel ORDER BY builtin DESC, channel;

-- One SKU per case.
CREATE TEMP TABLE policy_case (name text, status text, on_hand int, restock int,
							   confirmed boolean, preorder text);
INSERT INTO policy_case VALUES
	('discontinued', 'discontinued', 0, 5, true, NULL),
	('in-stock', 'active', 3, NULL, false, NULL),
	('no-date', 'active', 0, NULL, false, NULL),
	('unconfirmed', 'active', 0, 5, false, NULL),
	('date-passed', 'active', 0, -1, true, NULL),
	('restock-13d', 'active', 0, 13, true, NULL),
	('restock-14d', 'active', 0, 14, true, NULL),
	('restock-15d', 'active', 0, 15, true, NULL),
	('restock-21d', 'active', 0, 21, true, NULL),
	('restock-22d', 'active', 0, 22, true, NULL),
	('preorder-20d', 'upcoming', 0, NULL, false, 'open:20'),
	('preorder-40d', 'upcoming', 0, NULL, false, 'open:40'),
	('preorder-full', 'upcoming', 0, NULL, false, 'full:20'),
	('upcoming-closed', 'upcoming', 0, NULL, false, NULL);
SELECT count(*) AS skus FROM (
	SELECT waitlist.upsert_sku('POL-' || name, status => status,
							   restock_date => current_date + restock, restock_confirmed => confirmed)
	  FROM policy_case) x;
SELECT count(waitlist.restock('POL-' || name, on_hand)) AS stocked FROM policy_case WHERE on_hand > 0;
SELECT count(waitlist.open_preorders('POL-' || name, 10, 50, current_date + 10,
									 current_date + split_part(preorder, ':', 2)::int)) AS plans
  FROM policy_case WHERE preorder IS NOT NULL;
SELECT count(waitlist.place_preorder('PF-' || g, 'POL-preorder-full', 1, email => 'f@example.com',
									 unit_price => 10, currency => 'USD')) AS filled
  FROM generate_series(1, 5) g;

SELECT c.name AS sku_case, ch.channel, p.decision, p.reason, p.ship_by - current_date AS ship_in_days
  FROM policy_case c CROSS JOIN waitlist.channel ch
 CROSS JOIN LATERAL waitlist.policy('POL-' || c.name, ch.channel) p
 WHERE ch.builtin
 ORDER BY c.name, ch.channel;

-- The row form gives the same answers (catalog queries).
SELECT count(*) AS disagreements
  FROM waitlist.sku s CROSS JOIN waitlist.channel ch
 WHERE s.sku LIKE 'POL-%'
   AND waitlist.policy(s, ch.channel) IS DISTINCT FROM waitlist.policy(s.sku, ch.channel);

-- Amazon with Brand Registry takes pre-orders.
SELECT brand_registry FROM waitlist.set_channel('amazon', brand_registry => true);
SELECT decision, reason FROM waitlist.policy('POL-preorder-20d', 'amazon');
SELECT brand_registry FROM waitlist.set_channel('amazon', brand_registry => false);
SELECT decision FROM waitlist.policy('POL-preorder-20d', 'amazon');

-- Settings and per-SKU overrides of the thresholds.
SET waitlist.backorder_days = 10;
SELECT decision, reason FROM waitlist.policy('POL-restock-13d');
RESET waitlist.backorder_days;
SELECT backorder_days FROM waitlist.set_policy('POL-restock-15d', backorder_days => 20);
SELECT decision, reason FROM waitlist.policy('POL-restock-15d');
SELECT out_of_stock_days FROM waitlist.set_policy('POL-restock-22d', out_of_stock_days => 30,
												 backorder_days => 25);
SELECT decision, reason FROM waitlist.policy('POL-restock-22d');
SELECT min_demand FROM waitlist.set_policy('POL-restock-13d', min_demand => 2);
SELECT decision, reason FROM waitlist.policy('POL-restock-13d');
SELECT waitlist.subscribe('POL-restock-13d', 'd1@example.com') > 0 AS signed_up;
SELECT waitlist.subscribe('POL-restock-13d', 'd2@example.com') > 0 AS signed_up;
SELECT decision, reason FROM waitlist.policy('POL-restock-13d');
SELECT max_backorder_units FROM waitlist.set_policy('POL-restock-14d', max_backorder_units => 3);
SELECT waitlist.place_backorder('CAP-1', 'POL-restock-14d', 3, email => 'cap@example.com') > 0 AS placed;
SELECT decision, reason FROM waitlist.policy('POL-restock-14d');
SELECT try($$SELECT waitlist.place_backorder('CAP-2', 'POL-restock-14d', 1, email => 'cap2@example.com')$$);
-- The checks count the live queue: a cancelled backorder frees its place at
-- once, and an unsubscribed sign-up no longer counts as demand.
SELECT waitlist.cancel_line(id) AS units_held FROM waitlist.line WHERE order_ref = 'CAP-1';
SELECT decision, reason FROM waitlist.policy('POL-restock-14d');
SELECT waitlist.place_backorder('CAP-2', 'POL-restock-14d', 1, email => 'cap2@example.com') > 0 AS placed;
SELECT waitlist.unsubscribe(id) FROM waitlist.subscriber WHERE email = 'd2@example.com';
SELECT decision, reason FROM waitlist.policy('POL-restock-13d');
SELECT sku, paid_waiting, sub_waiting FROM waitlist.sku WHERE sku IN ('POL-restock-13d', 'POL-restock-14d')
 ORDER BY sku;
SELECT waitlist.subscribe('POL-restock-13d', 'd3@example.com') > 0 AS signed_up;
SELECT backorder_days, max_backorder_units FROM waitlist.set_policy('POL-restock-14d');

-- A channel the shop adds: backorders by handling time, up to 10 days.
SELECT channel, marketplace, backorders, preorders, max_handling_days, builtin, changed
  FROM waitlist.set_channel('etsy', 'Etsy', backorders => 'handling_time', max_handling_days => 10);
SELECT decision, reason FROM waitlist.policy('POL-restock-13d', 'etsy');
SELECT decision, reason FROM waitlist.policy('POL-restock-15d', 'etsy');

-- Listings: a SKU listed on some channels is off the others.
SELECT waitlist.set_listings('POL-in-stock', ARRAY['dtc', 'ebay']);
SELECT ch, (waitlist.policy('POL-in-stock', ch)).decision
  FROM unnest(ARRAY['dtc', 'ebay', 'amazon']) ch;
SELECT waitlist.set_listings('POL-in-stock', NULL) IS NULL AS unlisted;

-- Bad input.
SELECT try($$SELECT waitlist.policy('NOPE')$$);
SELECT try($$SELECT waitlist.policy(NULL)$$);
SELECT try($$SELECT waitlist.policy('POL-in-stock', NULL)$$);
SELECT try($$SELECT waitlist.policy('POL-in-stock', 'nowhere')$$);
SELECT try($$SELECT waitlist.policy('POL-in-stock', 'No Such')$$);
SELECT try($$SELECT waitlist.set_channel(NULL)$$);
SELECT try($$SELECT waitlist.set_channel('x', backorders => 'sometimes')$$);
SELECT try($$SELECT waitlist.set_channel('x', preorders => 'maybe')$$);
SELECT try($$SELECT waitlist.set_channel('x', backorders => 'brand_registry')$$);
SELECT try($$SELECT waitlist.set_channel('x', max_handling_days => 400)$$);
-- "by handling time" without a maximum, new or left by a change: refused, nothing stored
SELECT try($$SELECT waitlist.set_channel('x', backorders => 'handling_time')$$);
SELECT try($$SELECT waitlist.set_channel('x', preorders => 'handling_time', max_handling_days => 0)$$);
SELECT try($$SELECT waitlist.set_channel('ebay', max_handling_days => 0)$$);
SELECT try($$SELECT waitlist.set_channel('etsy', max_handling_days => 0)$$);
SELECT channel, max_handling_days, changed FROM waitlist.channel WHERE channel IN ('x', 'ebay', 'etsy')
 ORDER BY channel;
SELECT try($$SELECT waitlist.set_listings('POL-in-stock', ARRAY['dtc', 'nowhere'])$$);
SELECT try($$SELECT waitlist.set_listings('POL-in-stock', ARRAY['dtc', NULL])$$);
SELECT try($$SELECT waitlist.set_listings('NOPE', ARRAY['dtc'])$$);
-- A listing is one-dimensional, names each channel once and at most 64 of
-- them: 100,000 repeats once grew a backend until the kernel killed it.
SELECT waitlist.set_listings('POL-in-stock', array_fill('dtc'::text, ARRAY[100000])) AS repeats_once;
SELECT waitlist.set_listings('POL-in-stock', ARRAY['ebay', 'dtc', 'ebay', 'dtc']) AS first_mention_kept;
SELECT channel FROM waitlist.availability a JOIN waitlist.sku s ON s.sku = a.sku
 WHERE s.sku = 'POL-in-stock' ORDER BY channel;
SELECT try($$SELECT waitlist.set_listings('POL-in-stock', '{{dtc,amazon},{ebay,walmart}}')$$);
SELECT channels FROM waitlist.sku WHERE sku = 'POL-in-stock';
DO $$ BEGIN
	FOR i IN 1..65 LOOP PERFORM waitlist.set_channel('shop' || i, title => 'Shop ' || i); END LOOP;
END $$;
SELECT try($$SELECT waitlist.set_listings('POL-in-stock', ARRAY(SELECT 'shop' || i FROM generate_series(1, 65) i))$$);
SELECT cardinality(waitlist.set_listings('POL-in-stock',
       ARRAY(SELECT 'shop' || (i % 64 + 1) FROM generate_series(1, 6400) i))) AS channels_kept;
-- Listings stored before they were de-duplicated publish each channel once.
UPDATE waitlist.sku SET channels = array_fill('dtc'::text, ARRAY[20000]) WHERE sku = 'POL-in-stock';
SELECT sku FROM waitlist.set_policy('POL-in-stock');
SELECT channel, changes FROM waitlist.availability a JOIN waitlist.sku s ON s.sku = a.sku
 WHERE s.sku = 'POL-in-stock' ORDER BY channel;
SELECT waitlist.set_listings('POL-in-stock', NULL) IS NULL AS unlisted_again;
DELETE FROM waitlist.channel_rule WHERE channel LIKE 'shop%';
SELECT try($$SELECT waitlist.set_policy('POL-in-stock', backorder_days => -1)$$);
SELECT try($$SELECT waitlist.set_policy('POL-in-stock', out_of_stock_days => 366)$$);
SELECT try($$SELECT waitlist.set_policy('POL-in-stock', min_demand => -5)$$);
SELECT try($$SELECT waitlist.set_policy('NOPE')$$);
SELECT count(*) AS channels_after_bad_input FROM waitlist.channel;

-- Enforcement: what the policy forbids on a channel is refused with WL013.
SELECT try_detail($$SELECT waitlist.place_backorder('E-1', 'POL-restock-13d', 1, email => 'e@example.com', channel => 'amazon')$$);
SELECT try_detail($$SELECT waitlist.place_backorder('E-1', 'POL-restock-21d', 1, email => 'e@example.com', channel => 'ebay')$$);
SELECT try_detail($$SELECT waitlist.place_backorder('E-1', 'POL-no-date', 1, email => 'e@example.com')$$);
SELECT try_detail($$SELECT waitlist.place_backorder('E-1', 'POL-restock-22d', 1, email => 'e@example.com', channel => 'walmart')$$);
SELECT try_detail($$SELECT waitlist.place_backorder('E-1', 'POL-restock-13d', 1, email => 'e@example.com', channel => 'nowhere')$$);
SELECT try_detail($$SELECT waitlist.place_preorder('E-2', 'POL-preorder-20d', 1, email => 'e@example.com', channel => 'walmart', unit_price => 10, currency => 'USD')$$);
SELECT try_detail($$SELECT waitlist.place_preorder('E-2', 'POL-preorder-20d', 1, email => 'e@example.com', channel => 'amazon', unit_price => 10, currency => 'USD')$$);
SELECT try_detail($$SELECT waitlist.place_preorder('E-2', 'POL-preorder-40d', 1, email => 'e@example.com', channel => 'ebay', unit_price => 10, currency => 'USD')$$);
SELECT try_detail($$SELECT waitlist.place_preorder('E-2', 'POL-preorder-20d', 1, email => 'e@example.com', channel => 'nowhere', unit_price => 10, currency => 'USD')$$);
SELECT count(*) AS lines_refused FROM waitlist.line WHERE order_ref LIKE 'E-%';
SELECT waitlist.place_backorder('E-3', 'POL-restock-13d', 1, email => 'e@example.com') > 0 AS dtc_backorder,
       waitlist.place_backorder('E-4', 'POL-restock-13d', 1, email => 'e@example.com', channel => 'ebay') > 0 AS ebay_backorder,
       waitlist.place_preorder('E-5', 'POL-preorder-20d', 1, email => 'e@example.com', channel => 'ebay', unit_price => 10, currency => 'USD') > 0 AS ebay_preorder;
SELECT order_ref, kind, channel FROM waitlist.line WHERE order_ref LIKE 'E-%' ORDER BY order_ref;
SELECT error FROM (SELECT waitlist.place_backorder('E-6', 'POL-no-date', 1, email => 'e@example.com')) x (error);
SET waitlist.enforce_policy = off;
SELECT waitlist.place_backorder('E-6', 'POL-no-date', 1, email => 'e@example.com') > 0 AS placed_with_enforcement_off;
SET waitlist.enforce_policy = on;

-- Detection: a listed SKU switches to backorders by itself when its stock
-- reaches zero, and every change of a decision is announced once.
SELECT sku FROM waitlist.upsert_sku('AUTO', restock_date => current_date + 7, restock_confirmed => true);
SELECT waitlist.restock('AUTO', 2);
SELECT waitlist.set_listings('AUTO', ARRAY['dtc', 'amazon', 'ebay']);
SELECT recipient, payload->>'decision' AS decision, payload->>'previous' AS previous,
       payload->>'reason' AS reason
  FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'AUTO' ORDER BY id;
-- The last two units sell (one order of two): at commit AUTO has none left.
SELECT waitlist.place_backorder('A-1', 'AUTO', 2, email => 'a@example.com') > 0 AS sold;
SELECT channel, decision, reason, ship_by - current_date AS ship_in_days, changes
  FROM waitlist.availability a JOIN waitlist.sku s ON s.sku = a.sku WHERE s.sku = 'AUTO'
 ORDER BY channel;
SELECT recipient, payload->>'decision' AS decision, payload->>'previous' AS previous
  FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'AUTO' ORDER BY id;
-- Touching the SKU without changing a decision announces nothing.
SELECT waitlist.place_backorder('A-2', 'AUTO', 1, email => 'b@example.com') > 0 AS backordered;
SELECT waitlist.subscribe('AUTO', 'c@example.com') > 0 AS signed_up;
SELECT count(*) AS events FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'AUTO';
-- The restock date moves out of the window: backorders stop, on dtc and eBay.
SELECT sku FROM waitlist.upsert_sku('AUTO', restock_date => current_date + 30);
SELECT recipient, payload->>'decision' AS decision, payload->>'previous' AS previous,
       payload->>'reason' AS reason
  FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'AUTO' ORDER BY id DESC LIMIT 2;
-- Days pass: tick() re-evaluates once a day (simulated: the date moved
-- behind the API's back, and the last check was yesterday).
UPDATE waitlist.sku SET restock_date = current_date + 10 WHERE sku = 'AUTO';
UPDATE waitlist.availability SET checked_on = current_date - 1
 WHERE sku = 'AUTO';
SELECT waitlist.tick() >= 0 AS ticked;
SELECT channel, decision, changes, checked_on = current_date AS checked_today
  FROM waitlist.availability a JOIN waitlist.sku s ON s.sku = a.sku WHERE s.sku = 'AUTO'
 ORDER BY channel;
SELECT count(*) AS events FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'AUTO';
-- A channel rule change re-publishes the SKUs listed there.
SELECT backorders FROM waitlist.set_channel('ebay', backorders => 'no');
SELECT recipient, payload->>'decision' AS decision, payload->>'previous' AS previous
  FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'AUTO' ORDER BY id DESC LIMIT 1;
SELECT backorders, changed FROM waitlist.set_channel('ebay', backorders => 'handling_time');
-- Unlisting drops the published rows.
SELECT waitlist.set_listings('AUTO', ARRAY['dtc']) AS listed;
SELECT count(*) AS published FROM waitlist.availability a JOIN waitlist.sku s ON s.sku = a.sku
 WHERE s.sku = 'AUTO';

-- A channel's own pre-order limit: full on eBay, the SKU is out of stock
-- there while the own store still takes pre-orders.
SELECT sku FROM waitlist.upsert_sku('POL-chan-limit');
SELECT status FROM waitlist.open_preorders('POL-chan-limit', 100, 80, current_date + 10, current_date + 20);
SELECT waitlist.set_preorder_channel_limit('POL-chan-limit', 'ebay', 2);
SELECT (waitlist.policy('POL-chan-limit', 'ebay')).decision AS before_full;
SELECT waitlist.place_preorder('CL-1', 'POL-chan-limit', 2, email => 'cl@example.com', channel => 'ebay',
							   unit_price => 10, currency => 'USD') > 0 AS placed;
SELECT ch, p.decision, p.reason, p.ship_by - current_date AS ship_in_days
  FROM unnest(ARRAY['ebay', 'dtc']) ch, waitlist.policy('POL-chan-limit', ch) p;
SELECT count(*) AS row_form_disagrees FROM waitlist.sku s, unnest(ARRAY['ebay', 'dtc']) ch
 WHERE s.sku = 'POL-chan-limit' AND waitlist.policy(s, ch) IS DISTINCT FROM waitlist.policy(s.sku, ch);
SELECT try_detail($$SELECT * FROM waitlist.place_order('CL-2', NULL, 'cl2@example.com', NULL, 'ebay',
	'[{"sku": "POL-chan-limit", "qty": 1, "unit_price": 10, "currency": "USD"}]')$$);

-- Listed SKUs republish when demand or a channel limit moves their policy:
-- an unsubscribe below min_demand, a channel's pre-order limit set to 0.
SELECT sku FROM waitlist.upsert_sku('POL-demand', restock_date => current_date + 3, restock_confirmed => true);
SELECT min_demand FROM waitlist.set_policy('POL-demand', min_demand => 2);
SELECT waitlist.subscribe('POL-demand', 'dm1@example.com') > 0 AND
       waitlist.subscribe('POL-demand', 'dm2@example.com') > 0 AS signed_up;
SELECT waitlist.set_listings('POL-demand', ARRAY['dtc']);
SELECT waitlist.unsubscribe(id) FROM waitlist.subscriber WHERE email = 'dm2@example.com';
SELECT waitlist.set_listings('POL-chan-limit', ARRAY['dtc', 'ebay']);
SELECT waitlist.set_preorder_channel_limit('POL-chan-limit', 'dtc', 0);
SELECT s.sku, a.channel, a.decision FROM waitlist.availability a JOIN waitlist.sku s ON s.sku = a.sku
 WHERE s.sku IN ('POL-demand', 'POL-chan-limit') ORDER BY 1, 2;
SELECT sku, recipient, payload->>'decision' AS decision, payload->>'previous' AS previous
  FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku IN ('POL-demand', 'POL-chan-limit')
 ORDER BY id;
-- The row form stays out of parallel workers (its channel cache needs the latest snapshot).
SET force_parallel_mode = on;
SELECT count(*) AS decided FROM waitlist.sku s WHERE (waitlist.policy(s, 'dtc')).decision IS NOT NULL;
RESET force_parallel_mode;

-- Mixed carts: in stock ships now, the backorder when the stock arrives,
-- the pre-order on its ship date; all or nothing.
SELECT sku FROM waitlist.upsert_sku('CART-STOCK');
SELECT waitlist.restock('CART-STOCK', 5);
SELECT sku FROM waitlist.upsert_sku('CART-BACK', restock_date => current_date + 7, restock_confirmed => true);
SELECT sku FROM waitlist.upsert_sku('CART-PRE');
SELECT status FROM waitlist.open_preorders('CART-PRE', 10, 50, current_date + 20, current_date + 30);
SELECT line_no, sku, qty, decision, line_id > 0 AS placed, shipment, ship_by - current_date AS ship_in_days
  FROM waitlist.place_order('CART-1', 'Cy', 'cy@example.com', NULL, 'dtc',
	'[{"sku": "CART-PRE", "qty": 1, "unit_price": 30.00, "currency": "USD"},
	  {"sku": "CART-STOCK", "qty": 2},
	  {"sku": "CART-BACK", "qty": 1}]');
SELECT s.sku, l.kind, l.channel, ls.status FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
  JOIN waitlist.line_status ls ON ls.id = l.id WHERE l.order_ref = 'CART-1' ORDER BY s.sku;
SELECT json_array_length(payload->'lines') AS lines, payload->'lines'->0->>'decision' AS first
  FROM waitlist.outbox WHERE kind = 'order_confirmed' AND payload->>'order_ref' = 'CART-1';
-- Order refs of 100 multibyte characters: each order gets its own whole key
-- (a cut-off key dropped the second one and stored broken UTF-8).
SELECT sku FROM waitlist.upsert_sku('CART-LONG');
SELECT waitlist.restock('CART-LONG', 2);
SELECT count(*) AS lines FROM waitlist.place_order(repeat('é', 99) || 'A', NULL, 'long@example.com', NULL,
	'dtc', '[{"sku": "CART-LONG", "qty": 1}]');
SELECT count(*) AS lines FROM waitlist.place_order(repeat('é', 99) || 'B', NULL, 'long@example.com', NULL,
	'dtc', '[{"sku": "CART-LONG", "qty": 1}]');
SELECT right(payload->>'order_ref', 1) AS ref_ends, right(idempotency_key, 12) AS key_ends,
       length(idempotency_key) AS key_chars
  FROM waitlist.outbox WHERE kind = 'order_confirmed' AND payload->>'order_ref' LIKE 'éé%' ORDER BY id;
-- More than is in stock: with a confirmed restock the line is a backorder,
-- which takes the units there are at commit and waits for the rest.
SELECT sku FROM waitlist.upsert_sku('CART-STOCK', restock_date => current_date + 5, restock_confirmed => true);
SELECT line_no, decision, shipment, ship_by - current_date AS ship_in_days
  FROM waitlist.place_order('CART-2', NULL, 'dee@example.com', NULL, 'dtc',
	'[{"sku": "CART-STOCK", "qty": 4}, {"sku": "CART-BACK", "qty": 2}]');
SELECT s.sku, ls.allocated, ls.status FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
  JOIN waitlist.line_status ls ON ls.id = l.id WHERE l.order_ref = 'CART-2' ORDER BY s.sku;
-- Units that the allocator owes earlier backorders at commit are not in
-- stock, even in the transaction that brought them in.
SELECT sku FROM waitlist.upsert_sku('CART-OWED', restock_date => current_date + 3, restock_confirmed => true);
SELECT waitlist.place_backorder('OWED-1', 'CART-OWED', 5, email => 'owed@example.com') > 0 AS placed;
BEGIN;
SELECT waitlist.restock('CART-OWED', 5);
SELECT decision FROM waitlist.policy('CART-OWED');
SELECT line_no, decision, shipment FROM waitlist.place_order('CART-6', NULL, 'six@example.com', NULL, 'dtc',
	'[{"sku": "CART-OWED", "qty": 2}]');
COMMIT;
SELECT order_ref, allocated, status FROM waitlist.line_status WHERE sku = 'CART-OWED' ORDER BY id;
-- Without a restock date, more than is in stock is refused.
SELECT sku FROM waitlist.upsert_sku('CART-MORE');
SELECT waitlist.restock('CART-MORE', 1);
SELECT try_detail($$SELECT * FROM waitlist.place_order('CART-5', NULL, 'e@example.com', NULL, 'dtc',
	'[{"sku": "CART-MORE", "qty": 2}]')$$);
-- A line the policy refuses stops the whole cart.
SELECT try_detail($$SELECT * FROM waitlist.place_order('CART-3', NULL, 'e@example.com', NULL, 'dtc',
	'[{"sku": "CART-STOCK", "qty": 1}, {"sku": "POL-no-date", "qty": 1}]')$$);
SELECT try_detail($$SELECT * FROM waitlist.place_order('CART-3', NULL, 'e@example.com', NULL, 'amazon',
	'[{"sku": "CART-STOCK", "qty": 1}, {"sku": "CART-BACK", "qty": 1}]')$$);
SELECT try_detail($$SELECT * FROM waitlist.place_order('CART-3', NULL, 'e@example.com', NULL, 'dtc',
	'[{"sku": "CART-STOCK", "qty": 1}, {"sku": "CART-PRE", "qty": 9, "unit_price": 30, "currency": "USD"}]')$$);
SELECT count(*) AS lines_of_refused_carts FROM waitlist.line WHERE order_ref = 'CART-3';
SELECT on_hand - allocated AS free FROM waitlist.sku WHERE sku = 'CART-MORE';
-- Malformed carts.
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '{"sku": "CART-STOCK"}')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '[]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '[1]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '[{"qty": 1}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '[{"sku": "CART-STOCK"}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '[{"sku": "CART-STOCK", "qty": 0}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '[{"sku": "CART-STOCK", "qty": "two"}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '[{"sku": "NOPE", "qty": 1}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '[{"sku": "CART-STOCK", "qty": 1}, {"sku": "CART-STOCK", "qty": 1}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', '[{"sku": "CART-PRE", "qty": 1}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, NULL, NULL, 'dtc', '[{"sku": "CART-STOCK", "qty": 1}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, NULL, '[{"sku": "CART-STOCK", "qty": 1}]')$$);
SELECT try($$SELECT * FROM waitlist.place_order('CART-4', NULL, 'e@example.com', NULL, 'dtc', NULL)$$);
SELECT try($$SELECT * FROM waitlist.place_order(NULL, NULL, 'e@example.com', NULL, 'dtc', '[{"sku": "CART-STOCK", "qty": 1}]')$$);
SELECT count(*) AS lines_of_malformed_carts FROM waitlist.line WHERE order_ref = 'CART-4';

-- Leaving a channel tells its feed the SKU is out of stock there; listing
-- it again is announced again (every publication has its own key).
SELECT recipient, payload->>'decision' AS decision, payload->>'previous' AS previous,
       payload->>'reason' AS reason
  FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'AUTO' ORDER BY id DESC LIMIT 2;
SELECT waitlist.set_listings('AUTO', ARRAY['dtc', 'ebay']) AS listed;
SELECT recipient, payload->>'decision' AS decision, payload->>'previous' AS previous
  FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'AUTO' ORDER BY id DESC LIMIT 1;
SELECT waitlist.set_listings('AUTO', NULL) IS NULL AS listed_nowhere;
SELECT count(*) AS published FROM waitlist.availability a JOIN waitlist.sku s ON s.sku = a.sku
 WHERE s.sku = 'AUTO';
SELECT recipient, payload->>'decision' AS decision
  FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'AUTO' ORDER BY id DESC LIMIT 2;

-- A pre-order that fills the limit of a listed SKU switches its page to
-- notify-me at that commit.
SELECT waitlist.set_listings('POL-preorder-20d', ARRAY['dtc']) AS listed;
SELECT count(waitlist.place_preorder('FILL-' || g, 'POL-preorder-20d', 1, email => 'f@example.com',
									 unit_price => 10, currency => 'USD')) AS placed
  FROM generate_series(1, 4) g;
SELECT payload->>'decision' AS decision, payload->>'previous' AS previous, payload->>'reason' AS reason
  FROM waitlist.outbox WHERE kind = 'availability_changed' AND sku = 'POL-preorder-20d' ORDER BY id;

-- claim() writes the pre-order confirmations that are due, as tick() does.
SELECT count(*) AS confirmations_pending FROM waitlist.line WHERE confirm_pending AND order_ref LIKE 'FILL-%';
SELECT count(*) AS claimed FROM waitlist.claim('policy-test', 1000, kinds => ARRAY['preorder_confirmed']) c
 WHERE c.payload->>'order_ref' LIKE 'FILL-%';
SELECT count(*) AS confirmations_pending FROM waitlist.line WHERE confirm_pending AND order_ref LIKE 'FILL-%';

-- Production arrived while pre-orders are still open: the SKU is in stock,
-- and a backorder (sold from stock) is taken.
SELECT waitlist.restock('CART-PRE', 3);
SELECT decision FROM waitlist.policy('CART-PRE');
SELECT waitlist.place_backorder('PB-1', 'CART-PRE', 1, email => 'p@example.com') > 0 AS placed;
SELECT status FROM waitlist.line_status WHERE order_ref = 'PB-1';

-- A feed reads ship_by as YYYY-MM-DD whatever the DateStyle of the session
-- whose commit published the decision.
SET DateStyle = 'SQL, DMY';
SELECT sku FROM waitlist.upsert_sku('AUTO-DS', restock_date => current_date + 7, restock_confirmed => true);
SELECT waitlist.restock('AUTO-DS', 1);
SELECT waitlist.set_listings('AUTO-DS', ARRAY['dtc']) AS listed;
SELECT waitlist.place_backorder('DS-1', 'AUTO-DS', 1, email => 'ds@example.com') > 0 AS sold;
SELECT o.payload->>'decision' AS decision,
       o.payload->>'ship_by' ~ '^\d{4}-\d{2}-\d{2}$' AS iso_ship_by,
       o.payload->>'ship_by' = to_char(a.ship_by, 'YYYY-MM-DD') AS same_date
  FROM waitlist.outbox o JOIN waitlist.availability a ON a.sku = o.sku AND a.channel = o.recipient
 WHERE o.kind = 'availability_changed' AND o.sku = 'AUTO-DS' ORDER BY o.id DESC LIMIT 1;
RESET DateStyle;
