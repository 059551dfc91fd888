-- pgTAP: the objects the install script (waitlist--0.2.0.sql) installs, as a contract.
-- Tables, columns and types, keys, indexes, views, the exact function
-- signatures, SECURITY DEFINER with a pinned search_path, extension
-- membership, pg_dump registration (extconfig) and the waitlist.* GUCs.
-- Run by: pg_prove -d wl_tap --ext .sql test/
BEGIN;
SELECT plan(912);

-- ---------------------------------------------------------------- schema
SELECT has_schema('waitlist');
SELECT is((SELECT e.extnamespace::regnamespace::text FROM pg_extension e WHERE e.extname = 'waitlist'),
	'waitlist', 'the extension lives in schema waitlist');
SELECT is((SELECT e.extrelocatable FROM pg_extension e WHERE e.extname = 'waitlist'),
	false, 'the extension is not relocatable');

SELECT tables_are('waitlist',
	ARRAY['sku', 'line', 'subscriber', 'batch', 'outbox', 'tracked_inventory', 'preorder_channel',
		  'channel_rule', 'availability', 'suppression', 'consent_log', 'message_event', 'purchase',
		  'hold', 'page_view', 'view_day', 'view_day_done', 'sale_period', 'unconfirmed_signup'],
	'waitlist has exactly its nineteen tables');
SELECT types_are('waitlist', ARRAY['preorder_report', 'policy_result'], 'waitlist has exactly two composite types of its own');
SELECT views_are('waitlist', ARRAY['line_status', 'subscriber_status', 'channel'],
	'waitlist has exactly its three views');
SELECT sequences_are('waitlist',
	ARRAY['sku_id_seq', 'line_id_seq', 'subscriber_id_seq', 'batch_id_seq', 'outbox_id_seq',
		  'consent_log_id_seq'],
	'waitlist has exactly the six id sequences');

-- ------------------------------------------------------- columns and types
CREATE TEMP TABLE expected_column (tbl name, col name, typ text, not_null boolean) ON COMMIT DROP;
INSERT INTO expected_column VALUES
	('sku', 'id', 'bigint', true),
	('sku', 'sku', 'text', true),
	('sku', 'title', 'text', false),
	('sku', 'status', 'text', true),
	('sku', 'on_hand', 'bigint', true),
	('sku', 'allocated', 'bigint', true),
	('sku', 'restock_date', 'date', false),
	('sku', 'restock_confirmed', 'boolean', true),
	('sku', 'product_url', 'text', false),
	('sku', 'image_url', 'text', false),
	('sku', 'notify_ratio', 'numeric(6,3)', true),
	('sku', 'send_sold_out_again', 'boolean', true),
	('sku', 'confirm_signups', 'boolean', true),
	('sku', 'paid_tail', 'bigint', true),
	('sku', 'paid_served', 'bigint', true),
	('sku', 'sub_tail', 'bigint', true),
	('sku', 'sub_served', 'bigint', true),
	('sku', 'announced', 'bigint', true),
	('sku', 'paid_waiting', 'bigint', true),
	('sku', 'sub_waiting', 'bigint', true),
	('sku', 'planned_production', 'bigint', false),
	('sku', 'preorder_cap_pct', 'numeric(5,2)', false),
	('sku', 'preorder_limit', 'bigint', false),
	('sku', 'preorders_open', 'boolean', true),
	('sku', 'preorder_accepted', 'bigint', true),
	('sku', 'preorder_limit_hits', 'integer', true),
	('sku', 'preorder_at_limit', 'boolean', true),
	('sku', 'production_date', 'date', false),
	('sku', 'ships_on', 'date', false),
	('sku', 'payment_mode', 'text', false),
	('sku', 'deposit_pct', 'numeric(5,2)', false),
	('sku', 'deposit_amount', 'numeric', false),
	('sku', 'preorder_terms', 'integer', true),
	('sku', 'channel_limits', 'boolean', true),
	('sku', 'channels', 'text[]', false),
	('sku', 'backorder_days', 'integer', false),
	('sku', 'out_of_stock_days', 'integer', false),
	('sku', 'min_demand', 'integer', false),
	('sku', 'max_backorder_units', 'bigint', false),
	('sku', 'created_at', 'timestamp with time zone', true),
	('sku', 'updated_at', 'timestamp with time zone', true),
	('sku', 'status_interval', 'interval', false),
	('sku', 'midwait_fraction', 'numeric(3,2)', false),
	('sku', 'imminent_days', 'integer', false),
	('sku', 'email_delay', 'interval', false),
	('sku', 'eta_to_signups', 'boolean', false),
	('sku', 'status_round', 'integer', false),
	('sku', 'next_status_at', 'timestamp with time zone', false),
	('sku', 'passed_restock', 'date', false),
	('sku', 'passed_ships', 'date', false),
	('sku', 'updates_posted', 'integer', false),
	('sku', 'hold_window', 'interval', false),
	('sku', 'held', 'bigint', true),
	('sku', 'in_stock_since', 'timestamp with time zone', false),
	('sku', 'last_sellout', 'interval', false),
	('sku', 'wave_start', 'bigint', false),
	('sku', 'missed_note_at', 'timestamp with time zone', false),
	('sku', 'missed_from', 'bigint', false),
	('sku', 'missed_to', 'bigint', false),
	('sku', 'missed_since', 'timestamp with time zone', false),
	('line', 'id', 'bigint', true),
	('line', 'sku', 'text', true),
	('line', 'kind', 'text', true),
	('line', 'order_ref', 'text', true),
	('line', 'customer', 'text', false),
	('line', 'email', 'text', false),
	('line', 'phone', 'text', false),
	('line', 'qty', 'integer', true),
	('line', 'pos_start', 'bigint', true),
	('line', 'pos_end', 'bigint', true),
	('line', 'state', 'text', true),
	('line', 'created_at', 'timestamp with time zone', true),
	('line', 'cancelled_at', 'timestamp with time zone', false),
	('line', 'shipped_at', 'timestamp with time zone', false),
	('line', 'channel', 'text', false),
	('line', 'unit_price', 'numeric', false),
	('line', 'currency', 'text', false),
	('line', 'amount', 'numeric', false),
	('line', 'deposit', 'numeric', false),
	('line', 'captured', 'numeric', true),
	('line', 'refunded', 'numeric', true),
	('line', 'payment_mode', 'text', false),
	('line', 'payment_state', 'text', false),
	('line', 'authorized_until', 'timestamp with time zone', false),
	('line', 'reauthorizations', 'integer', true),
	('line', 'confirm_pending', 'boolean', true),
	('line', 'action_at', 'timestamp with time zone', false),
	('line', 'next_note_at', 'timestamp with time zone', false),
	('line', 'carrier', 'text', false),
	('line', 'tracking_number', 'text', false),
	('line', 'tracking_url', 'text', false),
	('line', 'promised_on', 'date', false),
	('line', 'from_stock', 'boolean', true),
	('subscriber', 'id', 'bigint', true),
	('subscriber', 'sku', 'text', true),
	('subscriber', 'email', 'text', false),
	('subscriber', 'phone', 'text', false),
	('subscriber', 'customer', 'text', false),
	('subscriber', 'pos', 'bigint', true),
	('subscriber', 'state', 'text', true),
	('subscriber', 'created_at', 'timestamp with time zone', true),
	('subscriber', 'unsubscribed_at', 'timestamp with time zone', false),
	('subscriber', 'renewed_at', 'timestamp with time zone', false),
	('subscriber', 'last_chance_at', 'timestamp with time zone', false),
	('subscriber', 'kept_place', 'boolean', true),
	('unconfirmed_signup', 'id', 'bigint', true),
	('unconfirmed_signup', 'sku', 'text', true),
	('batch', 'id', 'bigint', true),
	('batch', 'sku', 'text', true),
	('batch', 'kind', 'text', true),
	('batch', 'pos_from', 'bigint', true),
	('batch', 'pos_to', 'bigint', true),
	('batch', 'scan_lo', 'bigint', true),
	('batch', 'scan_hi', 'bigint', true),
	('batch', 'units', 'bigint', true),
	('batch', 'created_at', 'timestamp with time zone', true),
	('batch', 'expanded_at', 'timestamp with time zone', false),
	('batch', 'messages', 'bigint', false),
	('batch', 'prev_date', 'date', false),
	('batch', 'new_date', 'date', false),
	('batch', 'hold_until', 'timestamp with time zone', false),
	('batch', 'followup_at', 'timestamp with time zone', false),
	('outbox', 'id', 'bigint', true),
	('outbox', 'kind', 'text', true),
	('outbox', 'channel', 'text', true),
	('outbox', 'recipient', 'text', false),
	('outbox', 'sku', 'text', false),
	('outbox', 'payload', 'json', true),
	('outbox', 'idempotency_key', 'text', true),
	('outbox', 'state', 'text', true),
	('outbox', 'due_at', 'timestamp with time zone', true),
	('outbox', 'attempts', 'integer', true),
	('outbox', 'lease_owner', 'text', false),
	('outbox', 'last_error', 'text', false),
	('outbox', 'created_at', 'timestamp with time zone', true),
	('outbox', 'delivered_at', 'timestamp with time zone', false),
	('tracked_inventory', 'inventory', 'regclass', true),
	('tracked_inventory', 'sku_column', 'name', true),
	('tracked_inventory', 'quantity_column', 'name', true),
	('tracked_inventory', 'created_at', 'timestamp with time zone', true),
	('preorder_channel', 'sku', 'text', true),
	('preorder_channel', 'channel', 'text', true),
	('preorder_channel', 'max_units', 'bigint', true),
	('preorder_channel', 'accepted', 'bigint', true),
	('channel_rule', 'channel', 'text', true),
	('channel_rule', 'title', 'text', true),
	('channel_rule', 'marketplace', 'boolean', true),
	('channel_rule', 'backorders', 'text', true),
	('channel_rule', 'preorders', 'text', true),
	('channel_rule', 'max_handling_days', 'integer', false),
	('channel_rule', 'brand_registry', 'boolean', true),
	('channel_rule', 'notify_me', 'boolean', true),
	('channel_rule', 'updated_at', 'timestamp with time zone', true),
	('availability', 'sku', 'text', true),
	('availability', 'channel', 'text', true),
	('availability', 'decision', 'text', true),
	('availability', 'reason', 'text', true),
	('availability', 'ship_by', 'date', false),
	('availability', 'changes', 'integer', true),
	('availability', 'changed_at', 'timestamp with time zone', true),
	('availability', 'checked_on', 'date', true),
	('suppression', 'contact', 'text', true),
	('suppression', 'reason', 'text', true),
	('suppression', 'source', 'text', true),
	('suppression', 'message_id', 'bigint', false),
	('suppression', 'created_at', 'timestamp with time zone', true),
	('consent_log', 'id', 'bigint', true),
	('consent_log', 'contact', 'text', true),
	('consent_log', 'action', 'text', true),
	('consent_log', 'reason', 'text', true),
	('consent_log', 'source', 'text', true),
	('consent_log', 'message_id', 'bigint', false),
	('consent_log', 'at', 'timestamp with time zone', true),
	('message_event', 'message_id', 'bigint', true),
	('message_event', 'event', 'text', true),
	('message_event', 'at', 'timestamp with time zone', true),
	('message_event', 'recorded_at', 'timestamp with time zone', true),
	('purchase', 'sku', 'text', true),
	('purchase', 'order_ref', 'text', true),
	('purchase', 'contact', 'text', true),
	('purchase', 'at', 'timestamp with time zone', true),
	('purchase', 'source', 'text', true),
	('purchase', 'converted', 'integer', true),
	('purchase', 'qty', 'integer', false),
	('purchase', 'amount', 'numeric', false),
	('purchase', 'recorded_at', 'timestamp with time zone', true),
	('hold', 'sku', 'text', true),
	('hold', 'wave', 'bigint', true),
	('hold', 'pos_from', 'bigint', true),
	('hold', 'pos_to', 'bigint', true),
	('hold', 'units', 'bigint', true),
	('hold', 'claimed', 'bigint', true),
	('hold', 'expires_at', 'timestamp with time zone', true),
	('hold', 'created_at', 'timestamp with time zone', true),
	('hold', 'closed_at', 'timestamp with time zone', false),
	('page_view', 'sku', 'text', true),
	('page_view', 'at', 'timestamp with time zone', true),
	('page_view', 'visitor', 'text', false),
	('page_view', 'shown', 'text', true),
	('view_day', 'sku', 'text', true),
	('view_day', 'day', 'date', true),
	('view_day', 'shown', 'text', true),
	('view_day', 'views', 'bigint', true),
	('view_day', 'visitors', 'bigint', true),
	('view_day_done', 'day', 'date', true),
	('view_day_done', 'rolled_at', 'timestamp with time zone', true),
	('sale_period', 'sku', 'text', true),
	('sale_period', 'on_sale_at', 'timestamp with time zone', true),
	('sale_period', 'sold_out_at', 'timestamp with time zone', false);

-- one test per table: the exact column set, in order
SELECT columns_are('waitlist', t.tbl,
	   (SELECT array_agg(c.col ORDER BY c.ord) FROM
		(SELECT col, row_number() OVER () AS ord FROM expected_column WHERE tbl = t.tbl) c),
	   format('waitlist.%s has exactly the expected columns', t.tbl))
  FROM (VALUES ('sku'::name), ('line'), ('subscriber'), ('batch'), ('outbox'), ('tracked_inventory'),
			   ('preorder_channel'), ('channel_rule'), ('availability'), ('suppression'),
			   ('consent_log'), ('message_event'), ('purchase'), ('hold'), ('sale_period')) t (tbl);

-- one test per column: its type
SELECT col_type_is('waitlist', tbl, col, typ,
	   format('waitlist.%s.%s is %s', tbl, col, typ))
  FROM expected_column;
-- one test per column: NOT NULL where the install script says so
SELECT CASE WHEN not_null THEN col_not_null('waitlist', tbl, col, format('waitlist.%s.%s is NOT NULL', tbl, col))
			ELSE col_is_null('waitlist', tbl, col, format('waitlist.%s.%s is nullable', tbl, col)) END
  FROM expected_column;

-- A few defaults the allocator relies on (a new SKU starts empty and active).
SELECT col_default_is('waitlist', 'sku', 'status', 'active', 'sku.status defaults to active');
SELECT col_default_is('waitlist', 'sku', 'on_hand', 0, 'sku.on_hand defaults to 0');
SELECT col_default_is('waitlist', 'sku', 'allocated', 0, 'sku.allocated defaults to 0');
SELECT col_default_is('waitlist', 'line', 'state', 'waiting', 'line.state defaults to waiting');
SELECT col_default_is('waitlist', 'outbox', 'state', 'pending', 'outbox.state defaults to pending');
SELECT col_default_is('waitlist', 'outbox', 'attempts', 0, 'outbox.attempts defaults to 0');
SELECT col_default_is('waitlist', 'sku', 'preorders_open', false, 'sku.preorders_open defaults to false');
SELECT col_default_is('waitlist', 'sku', 'preorder_accepted', 0, 'sku.preorder_accepted defaults to 0');
SELECT col_default_is('waitlist', 'line', 'captured', 0, 'line.captured defaults to 0');
-- Every id is cluster-unique: waitlist.node_id in the top bits (waitlist.next_id).
SELECT col_default_is('waitlist', t, 'id', format('waitlist.next_id(''waitlist.%s_id_seq''::regclass)', t),
	   format('%s.id defaults to waitlist.next_id of its sequence', t))
  FROM unnest(ARRAY['sku', 'line', 'subscriber', 'batch', 'outbox', 'consent_log']) t;

-- Every timestamp default reads the extension's clock (tests move it).
SELECT col_default_is('waitlist', t, c, 'waitlist.now()', format('%s.%s defaults to waitlist.now()', t, c))
  FROM (VALUES ('sku', 'created_at'), ('sku', 'updated_at'), ('line', 'created_at'),
			   ('subscriber', 'created_at'), ('batch', 'created_at'), ('outbox', 'due_at'),
			   ('outbox', 'created_at'), ('tracked_inventory', 'created_at'),
			   ('channel_rule', 'updated_at'), ('availability', 'changed_at'),
			   ('suppression', 'created_at'), ('consent_log', 'at'), ('message_event', 'recorded_at'),
			   ('purchase', 'recorded_at'), ('hold', 'created_at')) d (t, c);

-- ------------------------------------------------------------------- keys
-- Keyed by the SKU code (the distribution column on Citus): it is in every
-- primary and unique key of a SKU table; ids lead where rows are found by id.
SELECT col_is_pk('waitlist', 'sku', 'sku', 'sku.sku (the code) is the primary key');
SELECT col_is_pk('waitlist', 'line', ARRAY['id', 'sku'], 'line is keyed by (id, sku)');
SELECT col_is_pk('waitlist', 'subscriber', ARRAY['id', 'sku'], 'subscriber is keyed by (id, sku)');
SELECT col_is_pk('waitlist', 'batch', ARRAY['id', 'sku'], 'batch is keyed by (id, sku)');
SELECT col_is_pk('waitlist', 'unconfirmed_signup', ARRAY['id', 'sku'],
	'unconfirmed_signup is keyed by (id, sku), as the sign-up it queues');
SELECT is((SELECT count(*)::int FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
			 JOIN pg_namespace n ON n.oid = r.relnamespace
			WHERE n.nspname = 'waitlist' AND c.contype IN ('p', 'u')
			  AND r.relname IN ('sku', 'line', 'subscriber', 'batch', 'preorder_channel', 'availability', 'purchase', 'hold')
			  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = r.oid
								AND a.attname = 'sku' AND a.attnum = ANY (c.conkey))),
	0, 'every primary and unique key of a SKU table includes sku');
SELECT col_is_pk('waitlist', 'outbox', 'id', 'outbox.id is the primary key');
SELECT col_is_pk('waitlist', 'tracked_inventory', 'inventory', 'tracked_inventory.inventory is the primary key');
SELECT col_is_pk('waitlist', 'preorder_channel', ARRAY['sku', 'channel'], 'preorder_channel is keyed by (sku, channel)');
SELECT col_is_pk('waitlist', 'suppression', 'contact', 'suppression is keyed by the contact (one reason each)');
SELECT col_is_pk('waitlist', 'message_event', ARRAY['message_id', 'event'], 'message_event: one row per message and event');

SELECT col_is_unique('waitlist', 'line', ARRAY['sku', 'order_ref'], 'one line per (SKU, order)');
SELECT col_is_unique('waitlist', 'subscriber', ARRAY['sku', 'pos'], 'one sign-up per (SKU, position)');
SELECT col_is_unique('waitlist', 'outbox', ARRAY['idempotency_key'], 'idempotency keys are unique');

SELECT fk_ok('waitlist', 'line', 'sku', 'waitlist', 'sku', 'sku');
SELECT fk_ok('waitlist', 'subscriber', 'sku', 'waitlist', 'sku', 'sku');
SELECT fk_ok('waitlist', 'batch', 'sku', 'waitlist', 'sku', 'sku');
SELECT fk_ok('waitlist', 'preorder_channel', 'sku', 'waitlist', 'sku', 'sku');
SELECT hasnt_fk('waitlist', 'purchase', 'purchase has no foreign key: its writers check the SKU, without locking its row per order');
SELECT fk_ok('waitlist', 'hold', 'sku', 'waitlist', 'sku', 'sku');
SELECT col_is_pk('waitlist', 'hold', ARRAY['sku', 'wave'], 'hold is keyed by (sku, wave): one row per back_in_stock wave with holds');
SELECT fk_ok('waitlist', 'availability', 'sku', 'waitlist', 'sku', 'sku');
SELECT col_is_pk('waitlist', 'channel_rule', 'channel', 'channel_rule is keyed by channel');
SELECT col_is_pk('waitlist', 'availability', ARRAY['sku', 'channel'], 'availability is keyed by (sku, channel)');
SELECT has_trigger('waitlist', 'channel_rule', 'channel_rule_changed', 'channel_rule has the cache-invalidating statement trigger');
SELECT results_eq($$SELECT channel FROM waitlist.channel WHERE builtin ORDER BY channel$$,
	ARRAY['amazon', 'dtc', 'ebay', 'tiktok_shop', 'walmart'], 'waitlist.channel holds the playbook''s five channels');
SELECT is((SELECT count(*)::int FROM waitlist.channel_rule), 0, 'no channel rule of the shop after CREATE EXTENSION');

SELECT has_check('waitlist', 'sku', 'sku has CHECK constraints');
SELECT has_check('waitlist', 'line', 'line has CHECK constraints');
SELECT has_check('waitlist', 'subscriber', 'subscriber has CHECK constraints');
SELECT has_check('waitlist', 'outbox', 'outbox has CHECK constraints');
SELECT ok(EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'waitlist.line'::regclass AND contype = 'c'
				   AND conname = 'line_ok'
				   AND pg_get_constraintdef(oid) ~ 'waitlist\.line_ok\(qty, pos_start, pos_end, refunded, captured, amount\)'),
	'line has CHECK line_ok (waitlist.line_ok(...)) over its units, positions and money');
SELECT ok(EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'waitlist.sku'::regclass AND contype = 'c'
				   AND pg_get_constraintdef(oid) ~ 'waitlist\.sku_counters_ok\(on_hand, allocated, preorder_accepted, paid_waiting, sub_waiting, held, hold_window\)'),
	'sku has CHECK (waitlist.sku_counters_ok(...)) over its six counters and its hold window');
SELECT ok(EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'waitlist.subscriber'::regclass AND contype = 'c'
				   AND pg_get_constraintdef(oid) ~ 'email IS NOT NULL\) OR \(phone IS NOT NULL'),
	'subscriber has CHECK (email IS NOT NULL OR phone IS NOT NULL)');
SELECT is((SELECT count(*)::int FROM pg_constraint WHERE conrelid = t::regclass AND contype = 'c'), 1,
	   format('%s has one CHECK constraint (each is prepared again per write)', t))
  FROM (VALUES ('waitlist.sku'), ('waitlist.line')) v (t);
SELECT lives_ok($$INSERT INTO waitlist.sku (sku) VALUES ('TAP-SCHEMA-1')$$, 'a SKU for the constraint checks (rolled back)');
SELECT throws_ok(format($$UPDATE waitlist.sku SET %I = -1 WHERE sku = 'TAP-SCHEMA-1'$$, c),
	'23514', NULL, format('sku_counters_ok refuses %s below zero', c))
  FROM unnest(ARRAY['on_hand', 'allocated', 'preorder_accepted', 'paid_waiting', 'sub_waiting', 'held']) c;
SELECT throws_ok(format($$UPDATE waitlist.sku SET hold_window = %L WHERE sku = 'TAP-SCHEMA-1'$$, w),
	'23514', NULL, format('sku_counters_ok refuses a hold window of %s', w))
  FROM unnest(ARRAY['59 seconds', '24 hours 1 second', '-5 minutes']) w;
SELECT lives_ok(format($$UPDATE waitlist.sku SET hold_window = %L, on_hand = 3, allocated = 0, held = 0
	WHERE sku = 'TAP-SCHEMA-1'$$, w), format('sku_counters_ok takes a hold window of %s', w))
  FROM unnest(ARRAY['1 minute', '24 hours', '1 day', '90 minutes']) w;
SELECT lives_ok($$UPDATE waitlist.sku SET hold_window = NULL WHERE sku = 'TAP-SCHEMA-1'$$,
	'sku_counters_ok takes no hold window');
SELECT is(waitlist.sku_counters_ok(0, 0, 0, 0, NULL, 0, NULL), NULL,
	'sku_counters_ok of an unknown counter is unknown, as the comparisons were');
SELECT is(waitlist.sku_counters_ok(0, -1, 0, 0, NULL, 0, NULL), false,
	'sku_counters_ok is false when another counter is below zero');
SELECT throws_ok($$INSERT INTO waitlist.line (sku, kind, order_ref, qty, pos_start, pos_end, amount, captured, refunded, payment_state)
	VALUES ('TAP-SCHEMA-1', 'preorder', 'tap-x', 1, -10, -9, 10, 5, 6, 'refunded')$$,
	'23514', NULL, 'line_ok refuses a refund above what was captured');
SELECT throws_ok($$INSERT INTO waitlist.line (sku, kind, order_ref, qty, pos_start, pos_end, amount, captured, payment_state)
	VALUES ('TAP-SCHEMA-1', 'preorder', 'tap-x', 1, -10, -9, 10, 11, 'captured')$$,
	'23514', NULL, 'line_ok refuses a capture above the amount');
SELECT throws_ok($$INSERT INTO waitlist.line (sku, order_ref, qty, pos_start, pos_end)
	VALUES ('TAP-SCHEMA-1', 'tap-y', 0, -10, -10)$$,
	'23514', NULL, 'line_ok refuses a line of zero units');
SELECT throws_ok($$INSERT INTO waitlist.line (sku, order_ref, qty, pos_start, pos_end)
	VALUES ('TAP-SCHEMA-1', 'tap-y', 2, -10, -9)$$,
	'23514', NULL, 'line_ok refuses positions that do not span the units (pos_end = pos_start + qty)');
SELECT throws_ok($$INSERT INTO waitlist.line (sku, kind, order_ref, qty, pos_start, pos_end, amount, captured, refunded, payment_state)
	VALUES ('TAP-SCHEMA-1', 'preorder', 'tap-x', 1, -10, -9, 10, 5, -1, 'captured')$$,
	'23514', NULL, 'line_ok refuses a negative refund');
SELECT throws_ok($$INSERT INTO waitlist.line (sku, kind, order_ref, qty, pos_start, pos_end, captured, payment_state)
	VALUES ('TAP-SCHEMA-1', 'preorder', 'tap-x', 1, -10, -9, 1, 'captured')$$,
	'23514', NULL, 'line_ok refuses a capture on a line without an amount (counted as 0)');
SELECT throws_ok($$INSERT INTO waitlist.line (sku, order_ref, qty, pos_start, pos_end)
	VALUES ('TAP-SCHEMA-1', 'tap-y', 1, 9223372036854775807, 0)$$,
	'22003', NULL, 'line_ok raises on positions past the largest bigint, as the sum did');
SELECT lives_ok($$INSERT INTO waitlist.line (sku, kind, order_ref, qty, pos_start, pos_end, amount, captured, refunded, payment_state)
	VALUES ('TAP-SCHEMA-1', 'preorder', 'tap-ok', 3, -10, -7, 30, 30, 30, 'refunded')$$,
	'line_ok takes a line refunded in full');
SELECT ok(EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'waitlist.purchase'::regclass AND contype = 'c'
				   AND conname = 'purchase_ok'
				   AND pg_get_constraintdef(oid) ~ 'waitlist\.purchase_ok\(source, qty, amount\)'),
	'purchase has CHECK purchase_ok (waitlist.purchase_ok(source, qty, amount))');
SELECT throws_ok(format($$INSERT INTO waitlist.purchase (sku, order_ref, contact, at, source, qty, amount)
	VALUES ('TAP-SCHEMA-1', 'tap-p', 'p@example.com', now(), %s)$$, v),
	'23514', NULL, format('purchase_ok refuses (source, qty, amount) = (%s)', v))
  FROM unnest(ARRAY[$$'shop', 1, 10$$, $$'Order', 1, 10$$, $$'order', 0, 10$$, $$'order', -2, NULL$$,
				   $$'external', 1, 0$$, $$'external', NULL, -0.01$$]) v;
SELECT lives_ok($$INSERT INTO waitlist.purchase (sku, order_ref, contact, at, source, qty, amount)
	VALUES ('TAP-SCHEMA-1', 'tap-p1', 'p@example.com', now(), 'order', NULL, NULL),
		   ('TAP-SCHEMA-1', 'tap-p2', 'p@example.com', now(), 'external', 2, 0.01)$$,
	'purchase_ok takes an order without units or amount, and a reported sale of 2 units for 0.01');
SELECT is(waitlist.purchase_ok(NULL, 1, 1), NULL, 'purchase_ok of an unknown source is unknown');
SELECT is(waitlist.purchase_ok(NULL, 0, 1), false, 'purchase_ok is false when another part is false');
SELECT is(waitlist.line_ok(1, 0, 1, 0, 0, NULL), true, 'line_ok of a line without an amount or money moved');
SELECT is(waitlist.line_ok(1, NULL, 1, 0, 0, NULL), NULL,
	'line_ok of an unknown position is unknown, as the comparisons were');
SELECT is(waitlist.line_ok(0, NULL, 1, 0, 0, NULL), false,
	'line_ok is false when another part is false');
SELECT throws_ok($$INSERT INTO waitlist.channel_rule (channel, title, marketplace, backorders, preorders, brand_registry, notify_me)
	VALUES ('tap-handling', 'TAP', true, 'handling_time', 'no', false, false)$$,
	'23514', NULL, 'channel_rule_handling_days refuses "by handling time" without a maximum');

-- ---------------------------------------------------------------- indexes
SELECT indexes_are('waitlist', 'sku', ARRAY['sku_pkey', 'sku_status_due', 'sku_date_watch', 'sku_missed_due']);
SELECT indexes_are('waitlist', 'line', ARRAY['line_pkey', 'line_sku_order_ref_key', 'line_waiting', 'line_holes',
	'line_action', 'line_note']);
SELECT indexes_are('waitlist', 'preorder_channel', ARRAY['preorder_channel_pkey']);
SELECT indexes_are('waitlist', 'availability', ARRAY['availability_pkey', 'availability_checked']);
SELECT indexes_are('waitlist', 'channel_rule', ARRAY['channel_rule_pkey']);
SELECT has_index('waitlist', 'line', 'line_action', ARRAY['action_at', 'id'], 'line_action on (action_at, id)');
SELECT has_index('waitlist', 'line', 'line_note', ARRAY['next_note_at'], 'line_note on (next_note_at)');
SELECT has_index('waitlist', 'sku', 'sku_status_due', ARRAY['next_status_at'], 'sku_status_due on (next_status_at)');
SELECT is(regexp_replace(pg_get_indexdef('waitlist.sku_date_watch'::regclass, 1, false), '\s+', ' ', 'g'),
	'LEAST( CASE WHEN (restock_confirmed AND (restock_date IS DISTINCT FROM passed_restock)) THEN restock_date ELSE NULL::date END, CASE WHEN (ships_on IS DISTINCT FROM passed_ships) THEN ships_on ELSE NULL::date END)',
	'sku_date_watch on the earliest date to watch');
SELECT indexes_are('waitlist', 'subscriber', ARRAY['subscriber_pkey', 'subscriber_sku_pos_key',
	'subscriber_holes', 'subscriber_email', 'subscriber_phone',
	'subscriber_last_chance', 'subscriber_expiring']);
SELECT indexes_are('waitlist', 'unconfirmed_signup', ARRAY['unconfirmed_signup_pkey']);
SELECT has_index('waitlist', 'subscriber', 'subscriber_expiring', ARRAY['last_chance_at'],
	'subscriber_expiring on (last_chance_at): the sign-ups whose last chance was written');
SELECT indexes_are('waitlist', 'hold', ARRAY['hold_pkey', 'hold_due']);
SELECT has_index('waitlist', 'hold', 'hold_due', ARRAY['expires_at'], 'hold_due on (expires_at): the open waves by expiry');
SELECT indexes_are('waitlist', 'batch', ARRAY['batch_pkey', 'batch_pending', 'batch_followup']);
SELECT indexes_are('waitlist', 'outbox', ARRAY['outbox_pkey', 'outbox_idempotency_key_key', 'outbox_due',
											   'outbox_waves_pending']);
SELECT indexes_are('waitlist', 'tracked_inventory', ARRAY['tracked_inventory_pkey']);

SELECT has_index('waitlist', 'line', 'line_waiting', ARRAY['sku', 'pos_end'], 'line_waiting on (sku, pos_end)');
SELECT has_index('waitlist', 'line', 'line_holes', ARRAY['sku', 'pos_end'], 'line_holes on (sku, pos_end)');
SELECT has_index('waitlist', 'subscriber', 'subscriber_holes', ARRAY['sku', 'pos'], 'subscriber_holes on (sku, pos)');
SELECT has_index('waitlist', 'subscriber', 'subscriber_email', ARRAY['sku', 'lower(email)', 'pos'], 'subscriber_email on (sku, lower(email), pos)');
SELECT has_index('waitlist', 'subscriber', 'subscriber_phone', ARRAY['sku', 'phone', 'pos'], 'subscriber_phone on (sku, phone, pos)');
SELECT has_index('waitlist', 'batch', 'batch_pending', ARRAY['id'], 'batch_pending on (id)');
SELECT has_index('waitlist', 'outbox', 'outbox_due', ARRAY['due_at', 'id'], 'outbox_due on (due_at, id)');
SELECT has_index('waitlist', 'outbox', 'outbox_waves_pending', ARRAY['sku', 'lower(recipient)'],
				 'outbox_waves_pending on (sku, lower(recipient))');

-- The partial-index predicates are what keeps the allocator and claim() cheap.
SELECT is(pg_get_expr(i.indpred, i.indrelid), e.pred, format('%s is partial: WHERE %s', e.idx, e.pred))
  FROM (VALUES ('line_waiting', '(state = ''waiting''::text)'),
			   ('line_holes', '(state <> ''waiting''::text)'),
			   ('subscriber_holes', '(state <> ''waiting''::text)'),
			   ('subscriber_email', '(state = ''waiting''::text)'),
			   ('subscriber_phone', '(state = ''waiting''::text)'),
			   ('batch_pending', '(expanded_at IS NULL)'),
			   ('line_action', '(action_at IS NOT NULL)'),
			   ('line_note', '(next_note_at IS NOT NULL)'),
			   ('sku_status_due', '(next_status_at IS NOT NULL)'),
			   ('sku_date_watch', '((restock_confirmed AND (restock_date IS DISTINCT FROM passed_restock)) OR (ships_on IS DISTINCT FROM passed_ships))'),
			   ('outbox_due', '(state = ANY (ARRAY[''pending''::text, ''leased''::text]))'),
			   ('outbox_waves_pending', '((state = ''pending''::text) AND (kind = ANY (ARRAY[''back_in_stock''::text, ''back_in_stock_reminder''::text])))')) e (idx, pred)
  LEFT JOIN pg_index i ON i.indexrelid = to_regclass('waitlist.' || e.idx);

-- -------------------------------------------------------------- functions
CREATE TEMP TABLE expected_function (fn name, args text[], rettype text, secdef boolean) ON COMMIT DROP;
INSERT INTO expected_function VALUES
	('valid_email', ARRAY['text'], 'boolean', false),
	('valid_phone', ARRAY['text'], 'boolean', false),
	('payload_json', ARRAY['"any"'], 'json', false),
	('sku_counters_ok', ARRAY['bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'interval'], 'boolean', false),
	('line_ok', ARRAY['integer', 'bigint', 'bigint', 'numeric', 'numeric', 'numeric'], 'boolean', false),
	('purchase_ok', ARRAY['text', 'integer', 'numeric'], 'boolean', false),
	('next_id', ARRAY['regclass'], 'bigint', false),
	('now', ARRAY[]::text[], 'timestamp with time zone', false),
	('distribute', ARRAY[]::text[], 'setof text', false),
	('upsert_sku', ARRAY['text', 'text', 'text', 'date', 'boolean', 'text', 'text', 'numeric', 'boolean', 'boolean'], 'waitlist.sku', true),
	('restock', ARRAY['text', 'bigint'], 'bigint', true),
	('set_on_hand', ARRAY['text', 'bigint'], 'bigint', true),
	('inventory_trigger', ARRAY[]::text[], 'trigger', true),
	('track_inventory', ARRAY['regclass', 'name', 'name'], 'void', true),
	('untrack_inventory', ARRAY['regclass'], 'boolean', true),
	('subscribe', ARRAY['text', 'text', 'text', 'text'], 'bigint', true),
	('unsubscribe', ARRAY['bigint'], 'boolean', true),
	('unsubscribe', ARRAY['text', 'bigint'], 'boolean', true),
	('place_backorder', ARRAY['text', 'text', 'integer', 'text', 'text', 'text', 'text'], 'bigint', true),
	('cancel_line', ARRAY['bigint'], 'integer', true),
	('cancel_line', ARRAY['text', 'bigint'], 'integer', true),
	('ship_line', ARRAY['bigint', 'text', 'text', 'text'], 'void', true),
	('ship_line', ARRAY['text', 'bigint', 'text', 'text', 'text'], 'void', true),
	('waiting_count', ARRAY['text'], 'bigint', true),
	('queue_position', ARRAY['bigint'], 'record', true),
	('queue_position', ARRAY['text', 'bigint'], 'record', true),
	('expand_batches', ARRAY['integer'], 'bigint', true),
	('claim', ARRAY['text', 'integer', 'interval', 'text[]', 'text[]'], 'setof record', true),
	('claim_wait', ARRAY['text', 'interval', 'integer', 'interval', 'text[]', 'text[]'], 'setof record', true),
	('ack', ARRAY['text', 'bigint[]'], 'integer', true),
	('nack', ARRAY['text', 'bigint', 'text', 'interval'], 'text', true),
	('dead_letter', ARRAY['text', 'bigint', 'text'], 'boolean', true),
	('extend_lease', ARRAY['text', 'bigint[]', 'interval'], 'integer', true),
	('release', ARRAY['text', 'bigint[]'], 'integer', true),
	('next_due', ARRAY['text[]', 'text[]'], 'timestamp with time zone', true),
	('tick', ARRAY[]::text[], 'bigint', true),
	('outbox_metrics', ARRAY[]::text[], 'setof record', true),
	('purge_delivered', ARRAY['interval'], 'bigint', true),
	('open_preorders', ARRAY['text', 'bigint', 'numeric', 'date', 'date', 'text', 'numeric', 'numeric'], 'waitlist.preorder_report', true),
	('close_preorders', ARRAY['text'], 'boolean', true),
	('reschedule_preorders', ARRAY['text', 'date', 'date'], 'integer', true),
	('set_preorder_channel_limit', ARRAY['text', 'text', 'bigint'], 'bigint', true),
	('place_preorder', ARRAY['text', 'text', 'integer', 'text', 'text', 'text', 'text', 'numeric', 'text'], 'bigint', true),
	('preorder_status', ARRAY['text'], 'setof waitlist.preorder_report', true),
	('policy', ARRAY['text', 'text'], 'waitlist.policy_result', true),
	('policy', ARRAY['waitlist.sku', 'text'], 'waitlist.policy_result', false),
	('policy_of', ARRAY['text', 'bigint', 'bigint', 'bigint', 'bigint', 'date', 'boolean',
		'boolean', 'bigint', 'bigint', 'date', 'text[]', 'integer', 'integer', 'integer', 'bigint', 'bigint',
		'boolean', 'text'],
		'waitlist.policy_result', false),
	('set_channel', ARRAY['text', 'text', 'boolean', 'text', 'text', 'integer', 'boolean', 'boolean'], 'waitlist.channel', true),
	('set_listings', ARRAY['text', 'text[]'], 'text[]', true),
	('set_policy', ARRAY['text', 'integer', 'integer', 'integer', 'bigint'], 'waitlist.sku', true),
	('set_schedule', ARRAY['text', 'interval', 'numeric', 'integer', 'interval', 'boolean'], 'waitlist.sku', true),
	('post_update', ARRAY['text', 'text'], 'bigint', true),
	('record_event', ARRAY['text', 'text', 'timestamp with time zone'], 'boolean', true),
	('opt_out', ARRAY['text', 'text'], 'boolean', true),
	('opt_in', ARRAY['text', 'text'], 'boolean', true),
	('suppressed', ARRAY['text'], 'text', true),
	('record_purchase', ARRAY['text', 'text', 'text', 'timestamp with time zone', 'integer', 'numeric'], 'integer', true),
	('set_hold_window', ARRAY['text', 'interval'], 'interval', true),
	('claim_hold', ARRAY['text', 'text', 'text', 'text', 'text'], 'bigint', true),
	('record_view', ARRAY['text', 'text', 'text'], 'void', true),
	('roll_up_views', ARRAY[]::text[], 'integer', true),
	('views_by_day', ARRAY['date', 'date', 'text'], 'setof record', true),
	('metrics', ARRAY['date', 'date', 'text'], 'setof record', true),
	('bis_notified', ARRAY['date', 'date', 'text'], 'setof record', true),
	('check_day_range', ARRAY['date', 'date'], 'void', false),
	('demand', ARRAY['text'], 'setof record', true),
	('signup_trend', ARRAY['date', 'date', 'text'], 'setof record', true),
	('fastest_sellouts', ARRAY['date', 'date', 'integer'], 'setof record', true),
	('repeat_oos_visitors', ARRAY['date', 'date', 'integer'], 'setof record', true),
	('message_outcomes', ARRAY['date', 'date', 'text'], 'setof record', true),
	('place_order', ARRAY['text', 'text', 'text', 'text', 'text', 'jsonb'], 'setof record', true),
	('channel_rule_changed', ARRAY[]::text[], 'trigger', false),
	('import_backorders', ARRAY['regclass'], 'bigint', false),
	('import_signups', ARRAY['regclass'], 'bigint', false),
	('check_invariants', ARRAY[]::text[], 'setof record', true),
	('role_privileges', ARRAY[]::text[], 'setof record', false),
	('set_role_kind', ARRAY['regrole', 'text', 'boolean'], 'void', false),
	('grant_app', ARRAY['regrole'], 'void', false),
	('grant_relay', ARRAY['regrole'], 'void', false),
	('grant_admin', ARRAY['regrole'], 'void', false),
	('revoke_app', ARRAY['regrole'], 'void', false),
	('revoke_relay', ARRAY['regrole'], 'void', false),
	('revoke_admin', ARRAY['regrole'], 'void', false);

SELECT functions_are('waitlist', (SELECT array_agg(fn) FROM expected_function),
	'waitlist has exactly the API functions');
-- one test per function: its exact signature exists
SELECT has_function('waitlist', fn, args,
	   format('waitlist.%s(%s) exists', fn, array_to_string(args, ', ')))
  FROM expected_function;
-- one test per function: its return type
SELECT function_returns('waitlist', fn, args, rettype,
	   format('waitlist.%s(%s) returns %s', fn, array_to_string(args, ', '), rettype))
  FROM expected_function;
-- one test per function: SECURITY DEFINER exactly where expected (pg_proc.prosecdef)
SELECT is(p.prosecdef, e.secdef,
	   format('waitlist.%s(%s) %s SECURITY DEFINER', e.fn, array_to_string(e.args, ', '),
			  CASE WHEN e.secdef THEN 'is' ELSE 'is not' END))
  FROM expected_function e
  LEFT JOIN pg_proc p ON p.oid = to_regprocedure(format('waitlist.%I(%s)', e.fn, array_to_string(e.args, ',')));

-- Every SECURITY DEFINER function in the schema pins search_path (pg_proc.proconfig),
-- and with exactly pg_catalog, pg_temp.
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace AND p.prosecdef
	   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
$$, 'every SECURITY DEFINER function has SET search_path = pg_catalog, pg_temp');
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace AND p.prosecdef
	   AND EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c NOT LIKE 'search_path=%')
$$, 'SECURITY DEFINER functions set no other configuration');
-- The imports read the caller's table as the caller; they pin search_path all the same.
SELECT is((SELECT string_agg(p.oid::regprocedure::text || ' ' || array_to_string(p.proconfig, ','), '; '
						   ORDER BY p.proname)
			 FROM pg_proc p WHERE p.pronamespace = 'waitlist'::regnamespace AND p.proname LIKE 'import\_%'),
	'waitlist.import_backorders(regclass) search_path=pg_catalog, pg_temp; waitlist.import_signups(regclass) search_path=pg_catalog, pg_temp',
	'import_backorders and import_signups are not SECURITY DEFINER and SET search_path = pg_catalog, pg_temp');
-- The role functions run as the caller (GRANT needs the owner's rights, not
-- a definer's); they pin search_path all the same.
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace
	   AND p.proname IN ('role_privileges', 'set_role_kind', 'grant_app', 'grant_relay', 'grant_admin',
						 'revoke_app', 'revoke_relay', 'revoke_admin')
	   AND (p.prosecdef OR p.proconfig IS DISTINCT FROM ARRAY['search_path=pg_catalog, pg_temp'])
$$, 'the role functions are not SECURITY DEFINER and SET search_path = pg_catalog, pg_temp');
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace
	   AND NOT EXISTS (SELECT 1 FROM pg_depend d
					   WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
						 AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
						 AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'waitlist'))
$$, 'every waitlist function is a member of the extension');
SELECT is_empty($$
	SELECT c.oid::regclass::text FROM pg_class c
	 WHERE c.relnamespace = 'waitlist'::regnamespace AND c.relkind IN ('r', 'v', 'S')
	   AND NOT EXISTS (SELECT 1 FROM pg_depend d
					   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
						 AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
						 AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'waitlist'))
$$, 'every waitlist table, view and sequence is a member of the extension');
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace
	   AND p.proowner <> (SELECT nspowner FROM pg_namespace WHERE nspname = 'waitlist')
$$, 'every function is owned by the schema owner');

SELECT volatility_is('waitlist', 'valid_email', ARRAY['text'], 'immutable', 'valid_email is IMMUTABLE');
SELECT volatility_is('waitlist', 'valid_phone', ARRAY['text'], 'immutable', 'valid_phone is IMMUTABLE');
SELECT is_strict('waitlist', 'valid_email', ARRAY['text'], 'valid_email is STRICT');
SELECT is_strict('waitlist', 'valid_phone', ARRAY['text'], 'valid_phone is STRICT');
SELECT volatility_is('waitlist', 'sku_counters_ok',
	ARRAY['bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'bigint', 'interval'], 'immutable',
	'sku_counters_ok is IMMUTABLE (a CHECK constraint calls it)');
SELECT volatility_is('waitlist', 'line_ok',
	ARRAY['integer', 'bigint', 'bigint', 'numeric', 'numeric', 'numeric'], 'immutable',
	'line_ok is IMMUTABLE (a CHECK constraint calls it)');
SELECT volatility_is('waitlist', 'purchase_ok', ARRAY['text', 'integer', 'numeric'], 'immutable',
	'purchase_ok is IMMUTABLE (a CHECK constraint calls it)');
SELECT volatility_is('waitlist', 'waiting_count', ARRAY['text'], 'stable', 'waiting_count is STABLE');
SELECT volatility_is('waitlist', 'queue_position', ARRAY['bigint'], 'stable', 'queue_position is STABLE');
SELECT volatility_is('waitlist', 'restock', ARRAY['text', 'bigint'], 'volatile', 'restock is VOLATILE');
SELECT volatility_is('waitlist', 'tick', ARRAY[]::text[], 'volatile', 'tick is VOLATILE');
SELECT function_lang_is('waitlist', 'restock', ARRAY['text', 'bigint'], 'c', 'restock is written in C');
SELECT function_lang_is('waitlist', 'outbox_metrics', ARRAY[]::text[], 'sql', 'outbox_metrics is SQL');
SELECT volatility_is('waitlist', 'check_invariants', ARRAY[]::text[], 'stable', 'check_invariants is STABLE (it only reads)');
SELECT function_lang_is('waitlist', 'policy', ARRAY['waitlist.sku', 'text'], 'sql',
	'policy(waitlist.sku, text) is SQL, inlined into catalog queries');
SELECT function_lang_is('waitlist', 'policy_of', ARRAY['text', 'bigint', 'bigint', 'bigint', 'bigint',
	'date', 'boolean', 'boolean', 'bigint', 'bigint', 'date', 'text[]', 'integer', 'integer', 'integer', 'bigint',
	'bigint', 'boolean', 'text'],
	'c', 'policy_of is written in C');
SELECT function_lang_is('waitlist', 'set_role_kind', ARRAY['regrole', 'text', 'boolean'], 'plpgsql',
	'set_role_kind is PL/pgSQL (it runs GRANT and REVOKE)');
SELECT function_lang_is('waitlist', 'grant_app', ARRAY['regrole'], 'sql', 'grant_app is SQL');
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace AND p.proisstrict
	   AND p.proname NOT IN ('valid_email', 'valid_phone', 'expand_batches')
$$, 'API functions are CALLED ON NULL INPUT (they raise a clear error instead of returning NULL)');

-- OUT parameters and result columns callers depend on.
SELECT is((SELECT pg_get_function_result('waitlist.queue_position(bigint)'::regprocedure)),
	'record', 'queue_position returns a record');
SELECT is((SELECT array_to_string(proargnames, ',') FROM pg_proc
			WHERE oid = 'waitlist.queue_position(bigint)'::regprocedure),
	'line_id,position,total', 'queue_position(line_id, OUT position, OUT total)');
SELECT is((SELECT pg_get_function_result('waitlist.claim(text,integer,interval,text[],text[])'::regprocedure)),
	'TABLE(id bigint, kind text, channel text, recipient text, sku text, payload json, idempotency_key text, attempts integer, created_at timestamp with time zone, lease_until timestamp with time zone)',
	'claim returns the documented columns');
SELECT is((SELECT pg_get_function_result('waitlist.claim_wait(text,interval,integer,interval,text[],text[])'::regprocedure)),
	(SELECT pg_get_function_result('waitlist.claim(text,integer,interval,text[],text[])'::regprocedure)),
	'claim_wait returns the columns of claim');
SELECT is((SELECT pg_get_function_result('waitlist.check_invariants()'::regprocedure)),
	'TABLE(invariant text, sku text, detail text)', 'check_invariants returns the documented columns');
SELECT is((SELECT pg_get_function_result('waitlist.outbox_metrics()'::regprocedure)),
	'TABLE(state text, kind text, messages bigint, oldest_due_age interval, notification_queue_usage double precision)',
	'outbox_metrics returns the documented columns');
SELECT is((SELECT pg_get_function_arguments('waitlist.place_backorder(text,text,integer,text,text,text,text)'::regprocedure)),
	'order_ref text, sku text, qty integer, customer text DEFAULT NULL::text, email text DEFAULT NULL::text, phone text DEFAULT NULL::text, channel text DEFAULT ''dtc''::text',
	'place_backorder argument names and defaults');
SELECT is((SELECT pg_get_function_arguments('waitlist.subscribe(text,text,text,text)'::regprocedure)),
	'sku text, email text DEFAULT NULL::text, phone text DEFAULT NULL::text, customer text DEFAULT NULL::text',
	'subscribe argument names and defaults');
SELECT is((SELECT pg_get_function_arguments('waitlist.place_preorder(text,text,integer,text,text,text,text,numeric,text)'::regprocedure)),
	'order_ref text, sku text, qty integer, customer text DEFAULT NULL::text, email text DEFAULT NULL::text, phone text DEFAULT NULL::text, channel text DEFAULT ''dtc''::text, unit_price numeric DEFAULT NULL::numeric, currency text DEFAULT NULL::text',
	'place_preorder argument names and defaults');
SELECT is((SELECT pg_get_function_arguments('waitlist.open_preorders(text,bigint,numeric,date,date,text,numeric,numeric)'::regprocedure)),
	'sku text, planned_production bigint, cap_pct numeric DEFAULT 80, production_date date DEFAULT NULL::date, ships_on date DEFAULT NULL::date, payment text DEFAULT ''authorize''::text, deposit_pct numeric DEFAULT NULL::numeric, deposit_amount numeric DEFAULT NULL::numeric',
	'open_preorders argument names and defaults: an 80% cap, authorize at order');
SELECT volatility_is('waitlist', 'preorder_status', ARRAY['text'], 'stable', 'preorder_status is STABLE');
SELECT is((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
			 FROM pg_attribute a WHERE a.attrelid = 'waitlist.preorder_report'::regclass AND a.attnum > 0),
	'sku text, status text, planned_production bigint, cap_pct numeric, preorder_limit bigint, accepted bigint, remaining bigint, over_limit bigint, production_date date, ships_on date, payment text, report text',
	'preorder_report has the documented columns');

-- ------------------------------------------------------ pg_dump registration
CREATE TEMP TABLE expected_config (rel text) ON COMMIT DROP;
INSERT INTO expected_config VALUES
	('waitlist.sku'), ('waitlist.sku_id_seq'), ('waitlist.line'), ('waitlist.line_id_seq'),
	('waitlist.subscriber'), ('waitlist.subscriber_id_seq'), ('waitlist.batch'),
	('waitlist.batch_id_seq'), ('waitlist.outbox'), ('waitlist.outbox_id_seq'),
	('waitlist.tracked_inventory'), ('waitlist.preorder_channel'), ('waitlist.channel_rule'),
	('waitlist.availability'), ('waitlist.suppression'), ('waitlist.message_event'),
	('waitlist.consent_log'), ('waitlist.consent_log_id_seq'), ('waitlist.purchase'),
	('waitlist.hold'), ('waitlist.page_view'), ('waitlist.view_day'), ('waitlist.view_day_done'),
	('waitlist.sale_period'), ('waitlist.unconfirmed_signup');
-- one test per relation
SELECT ok((SELECT e.rel::regclass = ANY (x.extconfig) FROM pg_extension x WHERE x.extname = 'waitlist'),
	   format('%s is registered with pg_extension_config_dump', e.rel))
  FROM expected_config e;
SELECT is((SELECT array_length(extconfig, 1) FROM pg_extension WHERE extname = 'waitlist'),
	25, 'extconfig holds exactly 25 relations');
SELECT is((SELECT count(*)::int FROM pg_extension x, unnest(x.extcondition) c
			WHERE x.extname = 'waitlist' AND c <> ''),
	0, 'every config relation is dumped whole (empty filter condition)');
SELECT ok((SELECT array_length(extconfig, 1) = array_length(extcondition, 1)
			 FROM pg_extension WHERE extname = 'waitlist'),
	'extconfig and extcondition have the same length');

-- ------------------------------------------------------------------- GUCs
-- The GUCs are defined when the library loads; any C function loads it.
SELECT ok(waitlist.valid_email('a@example.com'), 'loading the library: valid_email works');
SELECT is((SELECT vartype || '/' || context || '/' || boot_val FROM pg_settings WHERE name = 'waitlist.notify'),
	'bool/user/on', 'waitlist.notify: boolean, user-settable, on by default');
SELECT is((SELECT vartype || '/' || context || '/' || boot_val || '/' || min_val || '/' || max_val
			 FROM pg_settings WHERE name = 'waitlist.max_attempts'),
	'integer/superuser/10/1/1000', 'waitlist.max_attempts: integer 1..1000, superuser, default 10');
SELECT is((SELECT vartype || '/' || context || '/' || boot_val || '/' || unit
			 FROM pg_settings WHERE name = 'waitlist.retry_base'),
	'integer/superuser/30000/ms', 'waitlist.retry_base: milliseconds, superuser, default 30s');
SELECT is((SELECT vartype || '/' || context || '/' || boot_val || '/' || unit
			 FROM pg_settings WHERE name = 'waitlist.retry_max'),
	'integer/superuser/3600000/ms', 'waitlist.retry_max: milliseconds, superuser, default 1h');
SELECT is((SELECT vartype || '/' || context || '/' || boot_val || '/' || unit
			 FROM pg_settings WHERE name = 'waitlist.authorization_ttl'),
	'integer/superuser/604800/s', 'waitlist.authorization_ttl: seconds, superuser, default 7 days');
SELECT is((SELECT vartype || '/' || context || '/' || boot_val || '/' || unit
			 FROM pg_settings WHERE name = 'waitlist.reauthorize_before'),
	'integer/superuser/86400/s', 'waitlist.reauthorize_before: seconds, superuser, default 1 day');
SELECT is((SELECT string_agg(name || '=' || boot_val || '/' || context, ', ' ORDER BY name) FROM pg_settings
			WHERE name IN ('waitlist.backorder_days', 'waitlist.out_of_stock_days', 'waitlist.backorder_min_demand',
						   'waitlist.backorder_max_units', 'waitlist.enforce_policy')),
	'waitlist.backorder_days=14/superuser, waitlist.backorder_max_units=0/superuser, waitlist.backorder_min_demand=0/superuser, waitlist.enforce_policy=on/superuser, waitlist.out_of_stock_days=21/superuser',
	'policy settings: 14 and 21 days, no demand or capacity limit, enforcement on; all superuser-only (an app role cannot widen them)');
SELECT is((SELECT vartype || '/' || context || '/' || boot_val || '/' || min_val || '/' || max_val
			 FROM pg_settings WHERE name = 'waitlist.node_id'),
	'integer/superuser/0/0/32767', 'waitlist.node_id: integer 0..32767, superuser, default 0');
SELECT is(current_setting('waitlist.notify'), 'on', 'current_setting(waitlist.notify) is on');
SELECT lives_ok($$SET LOCAL waitlist.notify = off$$, 'waitlist.notify can be turned off per transaction');
SELECT is(current_setting('waitlist.notify'), 'off', 'waitlist.notify is now off');
SELECT throws_ok($$SET LOCAL waitlist.no_such_setting = 1$$, '42602', NULL,
	'the waitlist. prefix is reserved: unknown waitlist.* settings are rejected');
SELECT throws_ok($$SET LOCAL waitlist.max_attempts = 0$$, '22023', NULL,
	'waitlist.max_attempts below 1 is rejected');

SELECT * FROM finish();
ROLLBACK;
