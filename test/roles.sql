-- pgTAP: the three kinds of user (issue 17, "Roles").  grant_app,
-- grant_relay and grant_admin give a role exactly its kind's privileges:
--   app    signs up, orders, cancels, reads positions and availability;
--   relay  claims, acknowledges, records delivery events, ticks;
--   admin  changes SKUs, stock, plans, policy and channels (and reads SKUs).
-- Every function of the schema is classified below from the catalog, so a
-- new function fails this file until it is given to a kind (or to none).
-- No kind may read a table or view holding contact details; the relay
-- gets them through claim() only.  The policy settings stay the
-- superuser's: an app role changes them by no route.
--
-- Part 1 commits through dblink, as privileges.sql does: a login role in a
-- fresh session (the library not loaded yet) tries the settings as
-- connection options and by SET before and after the library loads.  It
-- runs first, before this transaction changes the catalog rows its GRANTs
-- touch.  Part 2 stays inside the transaction with SET ROLE and is undone
-- by the ROLLBACK.
BEGIN;
SELECT plan(507);
SET LOCAL statement_timeout = '120s';

CREATE EXTENSION IF NOT EXISTS dblink;

\ir lib/conn.psql

CREATE FUNCTION pg_temp.cleanup() RETURNS void LANGUAGE sql AS $$
	SELECT pg_temp.delete_fixture('wl_su', 'TAP-ROLE-', 'wl_tap_role_login')
$$;

SELECT is(dblink_connect('wl_su', pg_temp.conn(current_user)), 'OK', 'dblink: superuser connection');
SELECT lives_ok('SELECT pg_temp.cleanup()', 'leftovers of an earlier run removed');

-- ================================== part 1: an app login, a fresh session
SELECT is(dblink_exec('wl_su', $$CREATE ROLE wl_tap_role_login LOGIN$$), 'CREATE ROLE',
	'committed: CREATE ROLE wl_tap_role_login LOGIN');
SELECT is((SELECT r FROM dblink('wl_su', $$SELECT 'done' FROM waitlist.grant_app('wl_tap_role_login')$$) AS t (r text)), 'done',
	'committed: grant_app(wl_tap_role_login)');
-- A confirmed restock 20 days away: beyond the 14 days of
-- waitlist.backorder_days, so the policy refuses backorders.
SELECT is((SELECT r FROM dblink('wl_su', $$SELECT (waitlist.upsert_sku('TAP-ROLE-G', 'Twenty days away',
		restock_date => current_date + 20, restock_confirmed => true)).sku$$) AS t (r text)),
	'TAP-ROLE-G', 'committed: a SKU restocking in 20 days');

-- The login asks for a wider policy in its connection options.
SELECT is(dblink_connect('wl_app', pg_temp.conn('wl_tap_role_login',
		'-c waitlist.backorder_days=365 -c waitlist.enforce_policy=off')), 'OK',
	'the app login connects with waitlist.backorder_days=365 and waitlist.enforce_policy=off as options');
SELECT is((SELECT r FROM dblink('wl_app', $$SELECT current_setting('waitlist.backorder_days')$$) AS t (r text)),
	'365', 'before the library loads, PostgreSQL keeps the option as a placeholder');
SELECT throws_ok($$SELECT dblink_exec('wl_app', 'ALTER ROLE CURRENT_USER SET waitlist.backorder_days = 365')$$,
	'42501', NULL, 'the app login cannot ALTER ROLE itself SET waitlist.backorder_days (42501), loaded or not');
SELECT is((SELECT r FROM dblink('wl_app', $$SELECT (waitlist.policy('TAP-ROLE-G')).decision$$) AS t (r text)),
	'notify_me', 'its first call loads the library: the placeholders are dropped, the policy says notify_me');
SELECT is((SELECT r FROM dblink('wl_app',
		$$SELECT current_setting('waitlist.backorder_days') || '/' || current_setting('waitlist.enforce_policy')$$) AS t (r text)),
	'14/on', 'after the load the session runs with the superuser''s values (14 days, enforcement on)');
SELECT throws_ok($$SELECT * FROM dblink('wl_app',
		'SELECT waitlist.place_backorder(''TAP-ROLE-G1'', ''TAP-ROLE-G'', 1, NULL, ''g@example.com'')') AS t (r bigint)$$,
	'WL013', NULL, 'the backorder its options asked for is refused (WL013)');
SELECT throws_ok($$SELECT dblink_exec('wl_app', 'SET waitlist.backorder_days = 365')$$,
	'42501', NULL, 'loaded: SET waitlist.backorder_days is refused (42501)');
SELECT throws_ok($$SELECT * FROM dblink('wl_app', 'SELECT set_config(''waitlist.enforce_policy'', ''off'', false)') AS t (r text)$$,
	'42501', NULL, 'loaded: set_config(waitlist.enforce_policy) is refused (42501)');
SELECT ok((SELECT r FROM dblink('wl_app', $$SELECT waitlist.subscribe('TAP-ROLE-G', 'g@example.com')$$) AS t (r bigint)) > 0,
	'the app login signs up (committed)');
SELECT is(dblink_disconnect('wl_app'), 'OK', 'dblink: app login disconnected');

-- revoke_app takes back everything grant_app gave: the role then drops
-- without DROP OWNED BY (a privilege left would block DROP ROLE).
SELECT is((SELECT r FROM dblink('wl_su', $$SELECT 'done' FROM waitlist.revoke_app('wl_tap_role_login')$$) AS t (r text)), 'done',
	'committed: revoke_app(wl_tap_role_login)');
SELECT is(dblink_exec('wl_su', $$DROP ROLE wl_tap_role_login$$), 'DROP ROLE',
	'after revoke_app the role holds nothing here: DROP ROLE succeeds without DROP OWNED BY');
SELECT lives_ok('SELECT pg_temp.cleanup()', 'committed test data removed');
SELECT is((SELECT count(*)::int FROM waitlist.sku WHERE sku LIKE 'TAP-ROLE-%'), 0, 'cleanup deleted the committed SKU');
SELECT is(dblink_disconnect('wl_su'), 'OK', 'dblink: superuser disconnected');

-- ============================================== part 2: the three kinds
CREATE ROLE wl_tap_r_app LOGIN;
CREATE ROLE wl_tap_r_relay LOGIN;
CREATE ROLE wl_tap_r_admin LOGIN;
CREATE ROLE wl_tap_r_both LOGIN;
CREATE ROLE wl_tap_r_shop NOLOGIN;
CREATE ROLE wl_tap_r_clerk LOGIN IN ROLE wl_tap_r_shop;
-- pgTAP records results in temp tables: let the test roles write them.
GRANT ALL ON __tcache__, __tcache___id_seq, __tresults___numb_seq
	TO wl_tap_r_app, wl_tap_r_relay, wl_tap_r_admin, wl_tap_r_clerk;

-- ------------------------------------------------------- bad arguments
SELECT throws_ok($$SELECT waitlist.grant_app(NULL)$$, '22004', 'role must not be null',
	'grant_app(NULL): 22004');
SELECT throws_ok($$SELECT waitlist.revoke_relay(NULL)$$, '22004', 'role must not be null',
	'revoke_relay(NULL): 22004');
SELECT throws_ok($$SELECT waitlist.grant_admin('-')$$, '22023', 'PUBLIC cannot hold a waitlist role',
	'grant_admin(''-'') (PUBLIC): 22023');
SELECT throws_ok($$SELECT waitlist.grant_relay(4294967294::oid::regrole)$$, '42704',
	'role with OID 4294967294 does not exist', 'grant_relay of a dropped role''s OID: 42704');
SELECT throws_ok($$SELECT waitlist.grant_app('wl_tap_no_such_role')$$, '42704',
	'role "wl_tap_no_such_role" does not exist', 'grant_app of an unknown name: 42704 (from regrole)');
SELECT throws_ok($$SELECT waitlist.set_role_kind('wl_tap_r_app', 'owner', true)$$, '22023',
	'unknown kind of waitlist role: "owner"', 'set_role_kind with an unknown kind: 22023');
SELECT throws_ok($$SELECT waitlist.set_role_kind('wl_tap_r_app', 'app', NULL)$$, '22004',
	'held must not be null', 'set_role_kind with held NULL: 22004');

-- ------------------------------------------------------------- granting
SELECT lives_ok($$SELECT waitlist.grant_app('wl_tap_r_app')$$, 'grant_app(wl_tap_r_app)');
SELECT lives_ok($$SELECT waitlist.grant_relay('wl_tap_r_relay')$$, 'grant_relay(wl_tap_r_relay)');
SELECT lives_ok($$SELECT waitlist.grant_admin('wl_tap_r_admin')$$, 'grant_admin(wl_tap_r_admin)');

-- Every ACL of the schema and its members, to show that granting again
-- changes nothing.
CREATE FUNCTION pg_temp.acls() RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		SELECT p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, '-') FROM pg_proc p
		 WHERE p.pronamespace = 'waitlist'::regnamespace
		UNION ALL
		SELECT c.oid::regclass::text || ' ' || coalesce(c.relacl::text, '-') FROM pg_class c
		 WHERE c.relnamespace = 'waitlist'::regnamespace
		UNION ALL
		SELECT 'schema ' || coalesce(n.nspacl::text, '-') FROM pg_namespace n WHERE n.nspname = 'waitlist') y (x)
$$;
CREATE TEMP TABLE acls_once ON COMMIT DROP AS SELECT pg_temp.acls() AS a;
SELECT lives_ok($$SELECT waitlist.grant_app('wl_tap_r_app'), waitlist.grant_relay('wl_tap_r_relay'),
						  waitlist.grant_admin('wl_tap_r_admin')$$, 'the same three grants again');
SELECT is(pg_temp.acls(), (SELECT a FROM acls_once), 'granting again changes no ACL (idempotent)');

-- ---------------------------------------- every function, classified
-- who: the kinds that may EXECUTE it; 'public' for what PUBLIC has; an
-- empty list for the owner's alone (triggers, internals, role management).
CREATE TEMP TABLE fn_kind (fn text PRIMARY KEY, who text[] NOT NULL) ON COMMIT DROP;
INSERT INTO fn_kind VALUES
	('waitlist.valid_email(text)', '{public}'),
	('waitlist.valid_phone(text)', '{public}'),
	-- the app
	('waitlist.subscribe(text,text,text,text)', '{app}'),
	('waitlist.unsubscribe(bigint)', '{app}'),
	('waitlist.unsubscribe(text,bigint)', '{app}'),
	('waitlist.place_backorder(text,text,integer,text,text,text,text)', '{app}'),
	('waitlist.place_preorder(text,text,integer,text,text,text,text,numeric,text)', '{app}'),
	('waitlist.place_order(text,text,text,text,text,jsonb)', '{app}'),
	('waitlist.cancel_line(bigint)', '{app}'),
	('waitlist.cancel_line(text,bigint)', '{app}'),
	('waitlist.queue_position(bigint)', '{app}'),
	('waitlist.queue_position(text,bigint)', '{app}'),
	('waitlist.waiting_count(text)', '{app,admin}'),
	('waitlist.preorder_status(text)', '{app,admin}'),
	('waitlist.policy(text,text)', '{app,admin}'),
	('waitlist.record_event(text,text,timestamp with time zone)', '{app,relay}'),
	('waitlist.opt_out(text,text)', '{app,relay,admin}'),
	('waitlist.opt_in(text,text)', '{app,admin}'),
	('waitlist.suppressed(text)', '{app,admin}'),
	('waitlist.record_purchase(text,text,text,timestamp with time zone,integer,numeric)', '{app}'),
	('waitlist.claim_hold(text,text,text,text,text)', '{app}'),
	('waitlist.record_view(text,text,text)', '{app}'),
	-- the relay
	('waitlist.claim(text,integer,interval,text[],text[])', '{relay}'),
	('waitlist.claim_wait(text,interval,integer,interval,text[],text[])', '{relay}'),
	('waitlist.ack(text,bigint[])', '{relay}'),
	('waitlist.nack(text,bigint,text,interval)', '{relay}'),
	('waitlist.dead_letter(text,bigint,text)', '{relay}'),
	('waitlist.extend_lease(text,bigint[],interval)', '{relay}'),
	('waitlist.release(text,bigint[])', '{relay}'),
	('waitlist.next_due(text[],text[])', '{relay}'),
	('waitlist.tick()', '{relay}'),
	-- the admin
	('waitlist.upsert_sku(text,text,text,date,boolean,text,text,numeric,boolean,boolean)', '{admin}'),
	('waitlist.restock(text,bigint)', '{admin}'),
	('waitlist.set_on_hand(text,bigint)', '{admin}'),
	('waitlist.track_inventory(regclass,name,name)', '{admin}'),
	('waitlist.untrack_inventory(regclass)', '{admin}'),
	('waitlist.ship_line(bigint,text,text,text)', '{admin}'),
	('waitlist.ship_line(text,bigint,text,text,text)', '{admin}'),
	('waitlist.open_preorders(text,bigint,numeric,date,date,text,numeric,numeric)', '{admin}'),
	('waitlist.close_preorders(text)', '{admin}'),
	('waitlist.reschedule_preorders(text,date,date)', '{admin}'),
	('waitlist.set_preorder_channel_limit(text,text,bigint)', '{admin}'),
	('waitlist.set_policy(text,integer,integer,integer,bigint)', '{admin}'),
	('waitlist.set_schedule(text,interval,numeric,integer,interval,boolean)', '{admin}'),
	('waitlist.set_hold_window(text,interval)', '{admin}'),
	('waitlist.post_update(text,text)', '{admin}'),
	('waitlist.set_channel(text,text,boolean,text,text,integer,boolean,boolean)', '{admin}'),
	('waitlist.set_listings(text,text[])', '{admin}'),
	('waitlist.import_backorders(regclass)', '{admin}'),
	('waitlist.import_signups(regclass)', '{admin}'),
	('waitlist.expand_batches(integer)', '{admin}'),
	('waitlist.outbox_metrics()', '{admin}'),
	('waitlist.purge_delivered(interval)', '{admin}'),
	('waitlist.roll_up_views()', '{admin}'),
	('waitlist.views_by_day(date,date,text)', '{admin}'),
	('waitlist.metrics(date,date,text)', '{admin}'),
	('waitlist.bis_notified(date,date,text)', '{admin}'),
	('waitlist.demand(text)', '{admin}'),
	('waitlist.signup_trend(date,date,text)', '{admin}'),
	('waitlist.fastest_sellouts(date,date,integer)', '{admin}'),
	('waitlist.repeat_oos_visitors(date,date,integer)', '{admin}'),
	('waitlist.message_outcomes(date,date,text)', '{admin}'),
	('waitlist.check_invariants()', '{admin}'),
	('waitlist.policy(waitlist.sku,text)', '{admin}'),
	('waitlist.policy_of(text,bigint,bigint,bigint,bigint,date,boolean,boolean,bigint,bigint,date,text[],integer,integer,integer,bigint,bigint,boolean,text)', '{admin}'),
	-- nobody but the owner
	('waitlist.payload_json("any")', '{}'),
	('waitlist.sku_counters_ok(bigint,bigint,bigint,bigint,bigint,bigint,interval)', '{}'),
	('waitlist.line_ok(integer,bigint,bigint,numeric,numeric,numeric)', '{}'),
	('waitlist.purchase_ok(text,integer,numeric)', '{}'),
	('waitlist.next_id(regclass)', '{}'),
	('waitlist.now()', '{}'),
	('waitlist.distribute()', '{}'),
	('waitlist.check_day_range(date,date)', '{}'),
	('waitlist.inventory_trigger()', '{}'),
	('waitlist.channel_rule_changed()', '{}'),
	('waitlist.role_privileges()', '{}'),
	('waitlist.set_role_kind(regrole,text,boolean)', '{}'),
	('waitlist.grant_app(regrole)', '{}'),
	('waitlist.grant_relay(regrole)', '{}'),
	('waitlist.grant_admin(regrole)', '{}'),
	('waitlist.revoke_app(regrole)', '{}'),
	('waitlist.revoke_relay(regrole)', '{}'),
	('waitlist.revoke_admin(regrole)', '{}');

SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace
	EXCEPT SELECT fn FROM fn_kind
$$, 'every function of schema waitlist is classified here (a new one must be given to a kind, or to none)');
SELECT is_empty($$
	SELECT fn FROM fn_kind EXCEPT
	SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'waitlist'::regnamespace
$$, 'every function classified here exists');
SELECT set_eq($$
	SELECT r.kind, r.object FROM waitlist.role_privileges() r WHERE r.object_type = 'function'
$$, $$
	SELECT w, fn FROM fn_kind, unnest(who) w WHERE w <> 'public'
$$, 'role_privileges() lists exactly the functions classified here, kind by kind');

-- one test per function and kind: EXECUTE exactly as classified
CREATE TEMP TABLE kind_role (kind text, role name) ON COMMIT DROP;
INSERT INTO kind_role VALUES ('app', 'wl_tap_r_app'), ('relay', 'wl_tap_r_relay'), ('admin', 'wl_tap_r_admin');
SELECT function_privs_are('waitlist', p.proname,
		   ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u (t, i) ORDER BY i)::name[],
		   k.role,
		   CASE WHEN f.who && ARRAY['public', k.kind] THEN ARRAY['EXECUTE'] ELSE ARRAY[]::name[] END,
		   format('%s %s EXECUTE %s', k.kind, CASE WHEN f.who && ARRAY['public', k.kind] THEN 'may' ELSE 'may not' END,
				  p.oid::regprocedure))
  FROM pg_proc p
  JOIN fn_kind f ON f.fn = p.oid::regprocedure::text
 CROSS JOIN kind_role k
 WHERE p.pronamespace = 'waitlist'::regnamespace
 ORDER BY k.kind, p.oid::regprocedure::text;

-- ------------------------------------------ schema, tables, sequences
SELECT schema_privs_are('waitlist', k.role, ARRAY['USAGE'],
		   format('%s has USAGE on schema waitlist, and not CREATE', k.kind))
  FROM kind_role k ORDER BY k.kind;
-- one test per table or view and kind: the admin reads the SKU side
SELECT table_privs_are('waitlist', c.relname, k.role,
		   CASE WHEN k.kind = 'admin' AND c.relname IN ('sku', 'channel', 'preorder_channel', 'availability', 'tracked_inventory')
				THEN ARRAY['SELECT'] ELSE ARRAY[]::name[] END,
		   format('%s: %s on %s', k.kind,
				  CASE WHEN k.kind = 'admin' AND c.relname IN ('sku', 'channel', 'preorder_channel', 'availability', 'tracked_inventory')
					   THEN 'SELECT only' ELSE 'no privilege' END, c.oid::regclass))
  FROM pg_class c CROSS JOIN kind_role k
 WHERE c.relnamespace = 'waitlist'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
 ORDER BY k.kind, c.relname;
SELECT sequence_privs_are('waitlist', c.relname, k.role, ARRAY[]::name[],
		   format('%s: no privilege on %s', k.kind, c.oid::regclass))
  FROM pg_class c CROSS JOIN kind_role k
 WHERE c.relnamespace = 'waitlist'::regnamespace AND c.relkind = 'S'
 ORDER BY k.kind, c.relname;
SELECT set_eq($$
	SELECT r.object FROM waitlist.role_privileges() r WHERE r.object_type = 'table'
$$, ARRAY['waitlist.sku', 'waitlist.channel', 'waitlist.preorder_channel', 'waitlist.availability',
		  'waitlist.tracked_inventory'],
	'role_privileges() grants SELECT on the five SKU-side relations and no other table');

-- ------------------------------------------------------ contact details
-- Contact columns: email, phone, recipient, contact (and the customer's name).
SELECT set_eq($$
	SELECT DISTINCT c.oid::regclass::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
	 WHERE c.relnamespace = 'waitlist'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
	   AND a.attname IN ('email', 'phone', 'recipient', 'contact', 'customer') AND c.relkind IN ('r', 'v')
$$, ARRAY['waitlist.line', 'waitlist.subscriber', 'waitlist.outbox', 'waitlist.line_status',
		  'waitlist.subscriber_status', 'waitlist.suppression', 'waitlist.consent_log', 'waitlist.purchase'],
	'the relations with contact columns are line, subscriber, outbox, line_status, subscriber_status, suppression, consent_log and purchase');
-- one test per contact column and kind: no column privilege either
SELECT column_privs_are('waitlist', c.relname, a.attname, k.role, ARRAY[]::name[],
		   format('%s: no privilege on %s.%s', k.kind, c.oid::regclass, a.attname))
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid CROSS JOIN kind_role k
 WHERE c.relnamespace = 'waitlist'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attname IN ('email', 'phone', 'recipient', 'contact', 'customer') AND c.relkind IN ('r', 'v')
 ORDER BY k.kind, c.relname, a.attname;
-- The functions that return contact details: result columns or a
-- composite result type with a contact column.
SELECT set_eq($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace
	   AND (EXISTS (SELECT 1 FROM unnest(p.proargnames, p.proargmodes) u (n, m)
					 WHERE m IN ('o', 't', 'b') AND n IN ('email', 'phone', 'recipient', 'contact', 'customer'))
			OR EXISTS (SELECT 1 FROM pg_type t JOIN pg_attribute a ON a.attrelid = t.typrelid
						WHERE t.oid = p.prorettype AND a.attnum > 0
						  AND a.attname IN ('email', 'phone', 'recipient', 'contact', 'customer')))
$$, ARRAY['waitlist.claim(text,integer,interval,text[],text[])',
		 'waitlist.claim_wait(text,interval,integer,interval,text[],text[])'],
	'claim() and claim_wait() are the only functions that return contact details');
SELECT is(ARRAY(SELECT k.kind FROM kind_role k
				 WHERE has_function_privilege(k.role, 'waitlist.claim(text,integer,interval,text[],text[])', 'EXECUTE')),
	ARRAY['relay'], 'of the three kinds, only the relay may call claim()');

-- ------------------------------------------------------------- settings
-- No kind may set a superuser-only waitlist setting, by SET or ALTER SYSTEM.
-- The settings exist once the library is loaded; any C function loads it.
SELECT ok(waitlist.valid_email('load@example.com'), 'the library is loaded in this session');
SELECT is_empty(format($$
	SELECT s.name FROM pg_settings s
	 WHERE s.name LIKE 'waitlist.%%' AND s.context = 'superuser'
	   AND (has_parameter_privilege(%L, s.name, 'SET') OR has_parameter_privilege(%L, s.name, 'ALTER SYSTEM'))
$$, k.role, k.role), format('%s may neither SET nor ALTER SYSTEM any superuser-only waitlist setting', k.kind))
  FROM kind_role k ORDER BY k.kind;
SELECT cmp_ok((SELECT count(*)::int FROM pg_settings WHERE name LIKE 'waitlist.%' AND context = 'superuser'), '>=', 5,
	'the library is loaded: the superuser-only settings are there to check');

-- ============================================ part 3: the kinds at work
-- The owner: a SKU restocking within the policy's 14 days, and one for
-- pre-orders.
SELECT is((waitlist.upsert_sku('TAP-ROLE-1', 'Week away', restock_date => current_date + 7,
							   restock_confirmed => true)).sku, 'TAP-ROLE-1', 'owner creates TAP-ROLE-1');
CREATE SCHEMA tap_role_admin AUTHORIZATION wl_tap_r_admin;

-- ---------------------------------------------------------------- admin
SET ROLE wl_tap_r_admin;
SELECT is(current_user::text, 'wl_tap_r_admin', 'SET ROLE wl_tap_r_admin');
SELECT is((waitlist.upsert_sku('TAP-ROLE-P', 'Launch')).sku, 'TAP-ROLE-P', 'admin: upsert_sku creates a SKU');
SELECT is((SELECT status FROM waitlist.open_preorders('TAP-ROLE-P', 10, 50, current_date + 30, current_date + 40)),
	'ACCEPTING PREORDERS (5 remaining)', 'admin: open_preorders sets the plan');
SELECT is((waitlist.set_policy('TAP-ROLE-1', backorder_days => 10)).backorder_days, 10,
	'admin: set_policy changes a SKU''s own threshold');
SELECT is((waitlist.set_channel('tap_role_shop', 'Tap shop', false, 'yes', 'yes')).channel, 'tap_role_shop',
	'admin: set_channel adds a sales channel');
SELECT is(waitlist.set_listings('TAP-ROLE-1', ARRAY['dtc', 'tap_role_shop']), ARRAY['dtc', 'tap_role_shop'],
	'admin: set_listings lists the SKU');
SELECT is((waitlist.upsert_sku('TAP-ROLE-S', 'Stocked')).sku, 'TAP-ROLE-S', 'admin: upsert_sku creates another');
SELECT is(waitlist.restock('TAP-ROLE-S', 3), 3::bigint, 'admin: restock');
SELECT is((SELECT (waitlist.policy(s, 'dtc')).decision FROM waitlist.sku s WHERE s.sku = 'TAP-ROLE-1'), 'backorder',
	'admin: the catalog form policy(waitlist.sku) reads the SKU table');
SELECT is((SELECT string_agg(channel, ',' ORDER BY channel) FROM waitlist.channel WHERE NOT builtin), 'tap_role_shop',
	'admin: reads waitlist.channel');
SELECT lives_ok($$SELECT * FROM waitlist.outbox_metrics()$$, 'admin: outbox_metrics');
CREATE TABLE tap_role_admin.stock (sku text, qty integer);
SELECT lives_ok($$SELECT waitlist.track_inventory('tap_role_admin.stock', 'sku', 'qty')$$,
	'admin: track_inventory of a table it owns');
SELECT throws_ok($$SET waitlist.backorder_days = 30$$, '42501', NULL,
	'admin: the global policy settings stay the superuser''s (42501); set_policy is the admin''s tool');
SELECT throws_ok($$SELECT waitlist.subscribe('TAP-ROLE-1', 'x@example.com')$$, '42501', NULL,
	'admin: subscribe refused (42501)');
SELECT throws_ok($$SELECT waitlist.place_backorder('TAP-ROLE-X', 'TAP-ROLE-1', 1, NULL, 'x@example.com')$$, '42501', NULL,
	'admin: place_backorder refused (42501)');
SELECT throws_ok($$SELECT * FROM waitlist.claim('tap-role')$$, '42501', NULL, 'admin: claim refused (42501)');
SELECT throws_ok($$SELECT waitlist.tick()$$, '42501', NULL, 'admin: tick refused (42501)');
SELECT throws_ok($$SELECT count(*) FROM waitlist.subscriber_status$$, '42501', NULL,
	'admin: subscriber_status refused (42501)');
SELECT throws_ok($$SELECT count(*) FROM waitlist.line_status$$, '42501', NULL, 'admin: line_status refused (42501)');
SELECT throws_ok($$SELECT recipient FROM waitlist.outbox$$, '42501', NULL, 'admin: outbox refused (42501)');
SELECT throws_ok($$UPDATE waitlist.sku SET on_hand = 99$$, '42501', NULL,
	'admin: writes the SKU only through the API (UPDATE refused, 42501)');
SELECT throws_ok($$SELECT waitlist.grant_app('wl_tap_r_app')$$, '42501', NULL,
	'admin: grant_app refused (42501)');
RESET ROLE;
-- Even with EXECUTE granted by hand, the role functions refuse a caller
-- that is neither a superuser nor the extension's owner.
GRANT EXECUTE ON FUNCTION waitlist.grant_app(regrole), waitlist.set_role_kind(regrole, text, boolean)
	TO wl_tap_r_admin;
SET ROLE wl_tap_r_admin;
SELECT throws_ok($$SELECT waitlist.grant_app('wl_tap_r_admin')$$, '42501',
	'permission denied to change the waitlist privileges of role wl_tap_r_admin',
	'admin with EXECUTE on grant_app: still refused (42501), not silently granted nothing');
RESET ROLE;
REVOKE EXECUTE ON FUNCTION waitlist.grant_app(regrole), waitlist.set_role_kind(regrole, text, boolean)
	FROM wl_tap_r_admin;

-- ------------------------------------------------------------------ app
SET ROLE wl_tap_r_app;
SELECT is(current_user::text, 'wl_tap_r_app', 'SET ROLE wl_tap_r_app');
SELECT ok(waitlist.subscribe('TAP-ROLE-1', 'sub@example.com', NULL, 'Sub') > 0, 'app: subscribe');
SELECT ok(waitlist.place_backorder('TAP-ROLE-B1', 'TAP-ROLE-1', 2, 'Ada', 'ada@example.com') > 0,
	'app: place_backorder (policy allows it: restock in 7 days)');
SELECT is((SELECT "position" || ' of ' || total FROM waitlist.queue_position(
			(SELECT waitlist.place_backorder('TAP-ROLE-B1', 'TAP-ROLE-1', 2, 'Ada', 'ada@example.com')))),
	'1 of 1', 'app: queue_position (placing the same order again returns its line)');
SELECT is(waitlist.waiting_count('TAP-ROLE-1'), 2::bigint, 'app: waiting_count (a sign-up and a line)');
SELECT is((waitlist.policy('TAP-ROLE-1', 'dtc')).decision, 'backorder', 'app: policy');
SELECT is((SELECT decision FROM waitlist.place_order('TAP-ROLE-O1', 'Bo', 'bo@example.com', NULL, 'dtc',
												   '[{"sku": "TAP-ROLE-1", "qty": 1}]')),
	'backorder', 'app: place_order');
SELECT ok(waitlist.place_preorder('TAP-ROLE-P1', 'TAP-ROLE-P', 1, 'Cy', 'cy@example.com', NULL, 'dtc', 20, 'EUR') > 0,
	'app: place_preorder');
SELECT is((SELECT remaining FROM waitlist.preorder_status('TAP-ROLE-P')), 4::bigint, 'app: preorder_status');
SELECT is(waitlist.cancel_line(waitlist.place_backorder('TAP-ROLE-B2', 'TAP-ROLE-1', 1, NULL, 'dee@example.com')), 0,
	'app: cancel_line');
SELECT ok(waitlist.unsubscribe(waitlist.subscribe('TAP-ROLE-1', 'gone@example.com')), 'app: unsubscribe');
-- The handles with their SKU (the forms that route on Citus).
SELECT is((SELECT "position" || ' of ' || total FROM waitlist.queue_position('TAP-ROLE-1',
			(SELECT waitlist.place_backorder('TAP-ROLE-B1', 'TAP-ROLE-1', 2, 'Ada', 'ada@example.com')))),
	'1 of 2', 'app: queue_position(sku, line_id) (the cart added a line behind it)');
SELECT is(waitlist.cancel_line('TAP-ROLE-1', waitlist.place_backorder('TAP-ROLE-B3', 'TAP-ROLE-1', 1, NULL, 'eve@example.com')), 0,
	'app: cancel_line(sku, line_id)');
SELECT ok(waitlist.unsubscribe('TAP-ROLE-1', waitlist.subscribe('TAP-ROLE-1', 'gone2@example.com')), 'app: unsubscribe(sku, id)');
SELECT throws_ok($$SELECT waitlist.upsert_sku('TAP-ROLE-1', restock_date => current_date + 1)$$, '42501', NULL,
	'app: upsert_sku refused (42501): it cannot move a restock date');
SELECT throws_ok($$SELECT waitlist.set_policy('TAP-ROLE-1', backorder_days => 365)$$, '42501', NULL,
	'app: set_policy refused (42501)');
SELECT throws_ok($$SELECT waitlist.set_channel('dtc', backorders => 'yes')$$, '42501', NULL,
	'app: set_channel refused (42501)');
SELECT throws_ok($$SELECT waitlist.set_listings('TAP-ROLE-1', NULL)$$, '42501', NULL, 'app: set_listings refused (42501)');
SELECT throws_ok($$SELECT waitlist.open_preorders('TAP-ROLE-1', 100)$$, '42501', NULL,
	'app: open_preorders refused (42501)');
SELECT throws_ok($$SELECT waitlist.restock('TAP-ROLE-1', 5)$$, '42501', NULL, 'app: restock refused (42501)');
SELECT throws_ok($$SELECT * FROM waitlist.claim('tap-role')$$, '42501', NULL, 'app: claim refused (42501)');
SELECT throws_ok($$SELECT waitlist.tick()$$, '42501', NULL, 'app: tick refused (42501)');
SELECT throws_ok($$SELECT email FROM waitlist.subscriber$$, '42501', NULL, 'app: subscriber refused (42501)');
SELECT throws_ok($$SELECT email FROM waitlist.line$$, '42501', NULL, 'app: line refused (42501)');
SELECT throws_ok($$SELECT count(*) FROM waitlist.sku$$, '42501', NULL, 'app: the sku table refused (42501)');
SELECT throws_ok($$INSERT INTO waitlist.channel_rule VALUES ('x', 'x', false, 'yes', 'yes', NULL, false, true)$$,
	'42501', NULL, 'app: writing channel_rule refused (42501)');
-- The policy settings, by every route a session has.
SELECT throws_ok($$SET waitlist.backorder_days = 365$$, '42501', NULL, 'app: SET waitlist.backorder_days refused');
SELECT throws_ok($$SET LOCAL waitlist.enforce_policy = off$$, '42501', NULL,
	'app: SET LOCAL waitlist.enforce_policy refused');
SELECT throws_ok($$SELECT set_config('waitlist.out_of_stock_days', '365', true)$$, '42501', NULL,
	'app: set_config(waitlist.out_of_stock_days) refused');
SELECT throws_ok($$SELECT set_config('waitlist.backorder_min_demand', '0', false)$$, '42501', NULL,
	'app: set_config(waitlist.backorder_min_demand) refused');
SELECT throws_ok($$SET waitlist.backorder_max_units = 0$$, '42501', NULL, 'app: SET waitlist.backorder_max_units refused');
SELECT throws_ok($$ALTER ROLE wl_tap_r_app SET waitlist.backorder_days = 365$$, '42501', NULL,
	'app: ALTER ROLE itself SET waitlist.backorder_days refused');
SELECT throws_ok($$CREATE FUNCTION pg_temp.wider() RETURNS int LANGUAGE sql
					SET waitlist.enforce_policy = off AS 'SELECT 1'$$, '42501', NULL,
	'app: a function of its own with SET waitlist.enforce_policy refused');
SELECT is(current_setting('waitlist.backorder_days') || '/' || current_setting('waitlist.enforce_policy'), '14/on',
	'app: the policy settings are unchanged');
RESET ROLE;

-- ---------------------------------------------------------------- relay
SET ROLE wl_tap_r_relay;
SELECT is(current_user::text, 'wl_tap_r_relay', 'SET ROLE wl_tap_r_relay');
CREATE TEMP TABLE claimed ON COMMIT DROP AS
	SELECT * FROM waitlist.claim('tap-role', 1000) c WHERE c.sku LIKE 'TAP-ROLE-%';
SELECT is((SELECT recipient FROM claimed WHERE kind = 'backorder_confirmed'
		   AND payload::jsonb ->> 'order_ref' = 'TAP-ROLE-B1'), 'ada@example.com',
	'relay: claim hands over the recipient of a message (the one way contact details leave)');
SELECT is(waitlist.ack('tap-role', ARRAY(SELECT id FROM claimed WHERE kind = 'backorder_confirmed'
										  AND payload::jsonb ->> 'order_ref' = 'TAP-ROLE-B1')), 1, 'relay: ack');
SELECT is(waitlist.nack('tap-role', (SELECT min(id) FROM claimed WHERE kind = 'backorder_confirmed'
									  AND payload::jsonb ->> 'order_ref' = 'TAP-ROLE-O1'), 'smtp 451', '1 minute'),
	'pending', 'relay: nack');
SELECT is(waitlist.extend_lease('tap-role', ARRAY(SELECT max(id) FROM claimed WHERE kind <> 'backorder_confirmed'),
								'1 minute'), 1, 'relay: extend_lease');
SELECT is(waitlist.release('tap-role', ARRAY(SELECT max(id) FROM claimed WHERE kind <> 'backorder_confirmed')), 1,
	'relay: release');
SELECT ok(waitlist.dead_letter('tap-role', (SELECT min(id) FROM claimed WHERE kind = 'backorder_confirmed'
										   AND payload::jsonb ->> 'order_ref' = 'TAP-ROLE-B2'), 'mailbox gone'),
	'relay: dead_letter');
SELECT lives_ok($$SELECT waitlist.next_due()$$, 'relay: next_due');
SELECT ok(waitlist.tick() >= 0, 'relay: tick');
SELECT throws_ok($$SELECT recipient FROM waitlist.outbox$$, '42501', NULL, 'relay: the outbox table refused (42501)');
SELECT throws_ok($$SELECT count(*) FROM waitlist.subscriber_status$$, '42501', NULL,
	'relay: subscriber_status refused (42501)');
SELECT throws_ok($$SELECT waitlist.subscribe('TAP-ROLE-1', 'x@example.com')$$, '42501', NULL,
	'relay: subscribe refused (42501)');
SELECT throws_ok($$SELECT waitlist.upsert_sku('TAP-ROLE-1')$$, '42501', NULL, 'relay: upsert_sku refused (42501)');
SELECT throws_ok($$SELECT waitlist.purge_delivered()$$, '42501', NULL, 'relay: purge_delivered refused (42501)');
SELECT throws_ok($$SELECT waitlist.expand_batches()$$, '42501', NULL, 'relay: expand_batches refused (42501)');
SELECT throws_ok($$SET waitlist.max_attempts = 1000$$, '42501', NULL, 'relay: SET waitlist.max_attempts refused');
RESET ROLE;

-- ------------------------------------------------------- a group role
SELECT lives_ok($$SELECT waitlist.grant_app('wl_tap_r_shop')$$, 'grant_app to a NOLOGIN group role');
SET ROLE wl_tap_r_clerk;
SELECT ok(waitlist.subscribe('TAP-ROLE-1', 'clerk@example.com') > 0, 'a login member of the group signs up');
SELECT throws_ok($$SELECT waitlist.restock('TAP-ROLE-1', 1)$$, '42501', NULL, 'and is refused what the app may not');
RESET ROLE;

-- ------------------------------------------------------------- revoking
-- Two kinds on one role; revoking one keeps what the other needs.
SELECT lives_ok($$SELECT waitlist.grant_app('wl_tap_r_both'), waitlist.grant_admin('wl_tap_r_both')$$,
	'grant_app and grant_admin to one role');
SELECT lives_ok($$SELECT waitlist.revoke_admin('wl_tap_r_both')$$, 'revoke_admin of it');
CREATE FUNCTION pg_temp.held(r name) RETURNS TABLE (object_type text, object text, privilege text) LANGUAGE sql AS $$
	SELECT 'function', p.oid::regprocedure::text, 'EXECUTE' FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace AND has_function_privilege(r, p.oid, 'EXECUTE')
	   AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
	UNION ALL
	SELECT 'table', c.oid::regclass::text, x FROM pg_class c, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE',
			'TRUNCATE', 'REFERENCES', 'TRIGGER']) x
	 WHERE c.relnamespace = 'waitlist'::regnamespace AND c.relkind IN ('r', 'v') AND has_table_privilege(r, c.oid, x)
	UNION ALL
	SELECT 'schema', 'waitlist', x FROM unnest(ARRAY['USAGE', 'CREATE']) x WHERE has_schema_privilege(r, 'waitlist', x)
$$;
SELECT set_eq($$SELECT * FROM pg_temp.held('wl_tap_r_both')$$,
	$$SELECT object_type, object, privilege FROM waitlist.role_privileges() WHERE kind = 'app'$$,
	'it holds exactly the app''s list: the shared reads and USAGE stayed');
SELECT set_eq($$SELECT * FROM pg_temp.held('wl_tap_r_admin')$$,
	$$SELECT object_type, object, privilege FROM waitlist.role_privileges() WHERE kind = 'admin'$$,
	'the admin holds exactly the admin''s list');
SELECT lives_ok($$SELECT waitlist.revoke_app('wl_tap_r_app'), waitlist.revoke_relay('wl_tap_r_relay'),
						  waitlist.revoke_admin('wl_tap_r_admin'), waitlist.revoke_app('wl_tap_r_both')$$,
	'revoke_app, revoke_relay, revoke_admin');
SELECT is_empty($$SELECT * FROM pg_temp.held('wl_tap_r_app') UNION ALL SELECT * FROM pg_temp.held('wl_tap_r_relay')
				  UNION ALL SELECT * FROM pg_temp.held('wl_tap_r_admin') UNION ALL SELECT * FROM pg_temp.held('wl_tap_r_both')$$,
	'after revoking, the roles hold nothing in schema waitlist');
SELECT lives_ok($$SELECT waitlist.revoke_relay('wl_tap_r_relay')$$, 'revoking again is harmless');
SET ROLE wl_tap_r_app;
SELECT throws_ok($$SELECT waitlist.subscribe('TAP-ROLE-1', 'late@example.com')$$, '42501', NULL,
	'a revoked app role can no longer sign up');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
