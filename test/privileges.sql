-- pgTAP: privileges.  PUBLIC gets nothing but valid_email/valid_phone; a
-- role without grants cannot call the API; a role granted USAGE on the
-- schema and EXECUTE on functions works through the SECURITY DEFINER
-- functions (and the commit-time allocator) without any table privilege,
-- and still cannot read or write the tables.
--
-- Part 1 commits through dblink (allocation only happens at COMMIT, which
-- a pgTAP transaction never reaches) as a LOGIN role created and dropped
-- through dblink; it runs first because its GRANTs must not wait on the
-- catalog rows this transaction changes later.  Part 2 stays inside the
-- transaction with SET ROLE and is undone by the ROLLBACK.
BEGIN;
SELECT plan(118);
SET LOCAL statement_timeout = '120s';

CREATE EXTENSION IF NOT EXISTS dblink;

\ir lib/conn.psql

-- Cleanup through a committed connection (the ROLLBACK does not undo it);
-- also run first in case an earlier run stopped half-way.
CREATE FUNCTION pg_temp.cleanup() RETURNS void LANGUAGE sql AS $$
	SELECT pg_temp.delete_fixture('wl_su', 'TAP-PRIV-', 'wl_tap_login')
$$;

SELECT is(dblink_connect('wl_su', pg_temp.conn(current_user)), 'OK', 'dblink: superuser connection');
SELECT lives_ok('SELECT pg_temp.cleanup()', 'leftovers of an earlier run removed');

-- ============================================================ part 1: commits
SELECT is(dblink_exec('wl_su', $$CREATE ROLE wl_tap_login LOGIN$$), 'CREATE ROLE', 'committed: CREATE ROLE wl_tap_login LOGIN');
SELECT is(dblink_exec('wl_su', $$GRANT USAGE ON SCHEMA waitlist TO wl_tap_login$$), 'GRANT', 'committed: GRANT USAGE ON SCHEMA waitlist');
SELECT is(dblink_exec('wl_su', $$GRANT EXECUTE ON FUNCTION
	waitlist.upsert_sku(text, text, text, date, boolean, text, text, numeric, boolean, boolean),
	waitlist.restock(text, bigint), waitlist.subscribe(text, text, text, text),
	waitlist.place_backorder(text, text, integer, text, text, text, text),
	waitlist.ship_line(bigint, text, text, text), waitlist.tick(),
	waitlist.open_preorders(text, bigint, numeric, date, date, text, numeric, numeric),
	waitlist.place_preorder(text, text, integer, text, text, text, text, numeric, text),
	waitlist.cancel_line(bigint) TO wl_tap_login$$), 'GRANT', 'committed: GRANT EXECUTE on nine API functions');

SELECT is(dblink_connect('wl_app', pg_temp.conn('wl_tap_login')), 'OK', 'dblink: connection as wl_tap_login');

-- Everything below through wl_app is autocommitted, as wl_tap_login.
SELECT is((SELECT r FROM dblink('wl_app', $$SELECT current_user::text$$) AS t (r text)),
	'wl_tap_login', 'dblink connection runs as the granted login role');
SELECT is((SELECT r FROM dblink('wl_app', $$SELECT (waitlist.upsert_sku('TAP-PRIV-C', 'Committed', restock_date => current_date + 7, restock_confirmed => true)).sku$$) AS t (r text)),
	'TAP-PRIV-C', 'granted role creates a SKU (committed)');
SELECT ok((SELECT r FROM dblink('wl_app',
	$$SELECT waitlist.place_backorder('TAP-PRIV-O1', 'TAP-PRIV-C', 2, 'Ada', 'ada@example.com')$$) AS t (r bigint)) > 0,
	'granted role places a backorder (committed)');
SELECT ok((SELECT r FROM dblink('wl_app',
	$$SELECT waitlist.subscribe('TAP-PRIV-C', 'sub@example.com')$$) AS t (r bigint)) > 0,
	'granted role signs up (committed)');
SELECT is((SELECT r FROM dblink('wl_app', $$SELECT waitlist.restock('TAP-PRIV-C', 3)$$) AS t (r bigint)),
	3::bigint, 'granted role restocks 3 units (committed)');

-- The commit-time allocator ran as the extension owner although the
-- committing role has no privilege on any table.
SELECT is((SELECT allocated FROM waitlist.sku WHERE sku = 'TAP-PRIV-C'), 2::bigint,
	'allocation ran at the unprivileged role''s COMMIT: 2 units allocated');
SELECT is((SELECT status FROM waitlist.line_status WHERE order_ref = 'TAP-PRIV-O1'), 'allocated',
	'the backorder is fully allocated');
SELECT is((SELECT status FROM waitlist.subscriber_status WHERE sku = 'TAP-PRIV-C'), 'notified',
	'the spare unit was announced to the sign-up');
SELECT is((SELECT count(*)::int FROM waitlist.batch b JOIN waitlist.sku s ON s.sku = b.sku
			WHERE s.sku = 'TAP-PRIV-C' AND b.expanded_at IS NULL), 2,
	'two committed batches (allocated, back_in_stock) wait to be expanded');
SELECT ok((SELECT r FROM dblink('wl_app', $$SELECT waitlist.tick()$$) AS t (r bigint)) >= 2,
	'granted role runs tick() and expands the batches');
SELECT is((SELECT array_agg(kind ORDER BY kind) FROM waitlist.outbox
			WHERE sku = 'TAP-PRIV-C' AND kind IN ('ready_to_ship', 'back_in_stock')),
	ARRAY['back_in_stock', 'ready_to_ship'], 'tick wrote ready_to_ship and back_in_stock');
SELECT lives_ok($$SELECT * FROM dblink('wl_app',
	format('SELECT waitlist.ship_line(%s)::text', (SELECT id FROM waitlist.line WHERE order_ref = 'TAP-PRIV-O1'))) AS t (r text)$$,
	'granted role ships the allocated line');
SELECT is((SELECT on_hand || '/' || allocated FROM waitlist.sku WHERE sku = 'TAP-PRIV-C'), '1/0',
	'shipping took 2 units out of stock and out of allocated');

-- Pre-orders through the API only: the plan, a placement, a cancellation.
SELECT is((SELECT r FROM dblink('wl_app', $$SELECT waitlist.upsert_sku('TAP-PRIV-P', 'Pre-order')::text IS NOT NULL$$) AS t (r boolean)),
	true, 'granted role creates an upcoming SKU (committed)');
SELECT is((SELECT r FROM dblink('wl_app',
	$$SELECT status FROM waitlist.open_preorders('TAP-PRIV-P', 10, 50, '2030-04-15', '2030-04-22')$$) AS t (r text)),
	'ACCEPTING PREORDERS (5 remaining)', 'granted role opens pre-orders (committed)');
SELECT ok((SELECT r FROM dblink('wl_app',
	$$SELECT waitlist.place_preorder('TAP-PRIV-P1', 'TAP-PRIV-P', 2, 'Ada', 'ada@example.com', NULL, 'dtc', 25.00, 'EUR')$$) AS t (r bigint)) > 0,
	'granted role places a pre-order (committed)');
SELECT is((SELECT payment_state || '/' || amount FROM waitlist.line WHERE order_ref = 'TAP-PRIV-P1'), 'authorized/50.00',
	'the pre-order is authorized for 2 x 25.00');
SELECT is((SELECT r FROM dblink('wl_app',
	format('SELECT waitlist.cancel_line(%s)', (SELECT id FROM waitlist.line WHERE order_ref = 'TAP-PRIV-P1'))) AS t (r integer)),
	0, 'granted role cancels the pre-order (committed)');
SELECT is((SELECT array_agg(kind ORDER BY id) FROM waitlist.outbox WHERE sku = 'TAP-PRIV-P' AND channel = 'payment'),
	ARRAY['payment_authorize', 'payment_void'], 'the authorization and its void went to the outbox');
SELECT is((SELECT preorder_accepted FROM waitlist.sku WHERE sku = 'TAP-PRIV-P'), 0::bigint,
	'the cancelled units went back to the cap');

-- Direct table access stays closed for the committed role too.
SELECT throws_ok($$SELECT * FROM dblink('wl_app', 'SELECT count(*) FROM waitlist.subscriber') AS t (n bigint)$$,
	'42501', NULL, 'the login role cannot SELECT from waitlist.subscriber');
SELECT throws_ok($$SELECT dblink_exec('wl_app', 'UPDATE waitlist.sku SET on_hand = 100')$$,
	'42501', NULL, 'the login role cannot UPDATE waitlist.sku');
SELECT throws_ok($$SELECT * FROM dblink('wl_app', 'SELECT waitlist.set_on_hand(''TAP-PRIV-C'', 0)') AS t (n bigint)$$,
	'42501', NULL, 'the login role cannot call a function it was not granted (set_on_hand)');

SELECT is(dblink_disconnect('wl_app'), 'OK', 'dblink: login role disconnected');
SELECT lives_ok('SELECT pg_temp.cleanup()', 'committed test data and role removed');
SELECT is((SELECT count(*)::int FROM pg_roles WHERE rolname = 'wl_tap_login'), 0,
	'cleanup dropped the login role');
SELECT is((SELECT count(*)::int FROM waitlist.sku WHERE sku LIKE 'TAP-PRIV-%'), 0,
	'cleanup deleted the committed SKU');
SELECT is(dblink_disconnect('wl_su'), 'OK', 'dblink: superuser disconnected');

-- ============================================ part 2: PUBLIC and catalog ACLs
CREATE ROLE wl_tap_nobody NOLOGIN;
CREATE ROLE wl_tap_app NOLOGIN;
-- pgTAP records results in temp tables: let the test roles write them.
GRANT ALL ON __tcache__, __tcache___id_seq, __tresults___numb_seq TO wl_tap_nobody, wl_tap_app;

SELECT is_empty($$
	SELECT c.oid::regclass::text FROM pg_class c,
		   aclexplode(coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
	 WHERE c.relnamespace = 'waitlist'::regnamespace AND c.relkind IN ('r', 'v', 'S', 'p', 'm')
	   AND a.grantee = 0
$$, 'PUBLIC holds no privilege on any waitlist table, view or sequence');
SELECT set_eq($$
	SELECT p.oid::regprocedure::text FROM pg_proc p,
		   aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
	 WHERE p.pronamespace = 'waitlist'::regnamespace AND a.grantee = 0 AND a.privilege_type = 'EXECUTE'
$$, ARRAY['waitlist.valid_email(text)', 'waitlist.valid_phone(text)'],
	'PUBLIC may EXECUTE only valid_email and valid_phone');
SELECT is_empty($$
	SELECT a.privilege_type FROM pg_namespace n,
		   aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
	 WHERE n.nspname = 'waitlist' AND a.grantee = 0
$$, 'PUBLIC has neither USAGE nor CREATE on schema waitlist');

-- one test per table and view:, every privilege, for a role without grants.
SELECT ok(NOT has_table_privilege('wl_tap_nobody', c.oid,
		   'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
	   format('a fresh role has no privilege on %s', c.oid::regclass))
  FROM pg_class c
 WHERE c.relnamespace = 'waitlist'::regnamespace AND c.relkind IN ('r', 'v')
 ORDER BY c.relname;
-- 5 tests: sequences.
SELECT ok(NOT has_sequence_privilege('wl_tap_nobody', c.oid, 'USAGE, SELECT, UPDATE'),
	   format('a fresh role has no privilege on %s', c.oid::regclass))
  FROM pg_class c
 WHERE c.relnamespace = 'waitlist'::regnamespace AND c.relkind = 'S'
 ORDER BY c.relname;
-- 1 test: EXECUTE on functions.
SELECT set_eq($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'waitlist'::regnamespace
	   AND has_function_privilege('wl_tap_nobody', p.oid, 'EXECUTE')
$$, ARRAY['waitlist.valid_email(text)', 'waitlist.valid_phone(text)'],
	'a fresh role may EXECUTE only valid_email and valid_phone');
SELECT ok(NOT has_schema_privilege('wl_tap_nobody', 'waitlist', 'USAGE'),
	'a fresh role has no USAGE on schema waitlist');

-- ============================================= part 3: a role without grants
-- The granted role's orders below go to SKUs without restock dates: the
-- policy is not what this file tests.
SET LOCAL waitlist.enforce_policy = off;
SET ROLE wl_tap_nobody;
SELECT is(current_user::text, 'wl_tap_nobody', 'SET ROLE wl_tap_nobody');
SELECT throws_ok($$SELECT waitlist.restock('TAP-PRIV-1', 1)$$, '42501', NULL,
	'a role without grants cannot call waitlist.restock (42501)');
SELECT throws_ok($$SELECT waitlist.subscribe('TAP-PRIV-1', 'x@example.com')$$, '42501', NULL,
	'a role without grants cannot call waitlist.subscribe (42501)');
SELECT throws_ok($$SELECT waitlist.tick()$$, '42501', NULL,
	'a role without grants cannot call waitlist.tick (42501)');
SELECT throws_ok($$SELECT waitlist.place_preorder('o', 'TAP-PRIV-1', 1, NULL, 'x@example.com', NULL, 'dtc', 1, 'USD')$$, '42501', NULL,
	'a role without grants cannot call waitlist.place_preorder (42501)');
SELECT throws_ok($$SELECT * FROM waitlist.preorder_status('TAP-PRIV-1')$$, '42501', NULL,
	'a role without grants cannot call waitlist.preorder_status (42501)');
SELECT throws_ok($$SELECT * FROM waitlist.claim('c')$$, '42501', NULL,
	'a role without grants cannot call waitlist.claim (42501)');
SELECT throws_ok($$SELECT count(*) FROM waitlist.subscriber$$, '42501', NULL,
	'a role without grants cannot SELECT from waitlist.subscriber (42501)');
RESET ROLE;

-- USAGE on the schema alone opens only what PUBLIC may execute.
GRANT USAGE ON SCHEMA waitlist TO wl_tap_nobody;
SET ROLE wl_tap_nobody;
SELECT ok(waitlist.valid_email('ok@example.com'), 'with USAGE only: valid_email is callable');
SELECT ok(waitlist.valid_phone('+4915112345678'), 'with USAGE only: valid_phone is callable');
SELECT throws_ok($$SELECT waitlist.restock('TAP-PRIV-1', 1)$$, '42501', NULL,
	'with USAGE only: waitlist.restock is still refused (42501)');
SELECT throws_ok($$SELECT waitlist.upsert_sku('TAP-PRIV-X')$$, '42501', NULL,
	'with USAGE only: waitlist.upsert_sku is refused (42501)');
SELECT throws_ok($$SELECT * FROM waitlist.line_status$$, '42501', NULL,
	'with USAGE only: the line_status view is refused (42501)');
RESET ROLE;

-- ====================================== part 4: a granted role, in the xact
SELECT is((waitlist.upsert_sku('TAP-PRIV-1', 'Privileges test SKU')).sku, 'TAP-PRIV-1', 'owner creates SKU TAP-PRIV-1');
CREATE TABLE public.tap_priv_foreign_inv (sku text, qty integer);

GRANT USAGE ON SCHEMA waitlist TO wl_tap_app;
GRANT EXECUTE ON FUNCTION
	waitlist.upsert_sku(text, text, text, date, boolean, text, text, numeric, boolean, boolean),
	waitlist.restock(text, bigint),
	waitlist.subscribe(text, text, text, text),
	waitlist.unsubscribe(bigint),
	waitlist.place_backorder(text, text, integer, text, text, text, text),
	waitlist.cancel_line(bigint),
	waitlist.waiting_count(text),
	waitlist.queue_position(bigint),
	waitlist.track_inventory(regclass, name, name),
	waitlist.claim(text, integer, interval, text[], text[]),
	waitlist.ack(text, bigint[]),
	waitlist.tick()
	TO wl_tap_app;
CREATE SCHEMA tap_priv_app AUTHORIZATION wl_tap_app;

SET ROLE wl_tap_app;
SELECT is(current_user::text, 'wl_tap_app', 'SET ROLE wl_tap_app');
SELECT is((waitlist.upsert_sku('TAP-PRIV-2', 'Created by the app role')).sku, 'TAP-PRIV-2',
	'granted role: upsert_sku creates a SKU');
SELECT ok(waitlist.subscribe('TAP-PRIV-1', 'Fan@Example.com', NULL, 'Fan') > 0,
	'granted role: subscribe works without table privileges');
SELECT is(waitlist.subscribe('TAP-PRIV-1', 'fan@example.com'),
	waitlist.subscribe('TAP-PRIV-1', 'FAN@example.com'),
	'granted role: signing up again returns the same sign-up');
SELECT ok(waitlist.place_backorder('TAP-PRIV-B1', 'TAP-PRIV-1', 2, 'Bo', 'bo@example.com', '+4915112345678') > 0,
	'granted role: place_backorder works');
SELECT ok(waitlist.place_backorder('TAP-PRIV-B2', 'TAP-PRIV-1', 1, NULL, 'cy@example.com') > 0,
	'granted role: a second backorder');
SELECT is(waitlist.restock('TAP-PRIV-1', 5), 5::bigint, 'granted role: restock returns units on hand');
SELECT is(waitlist.waiting_count('TAP-PRIV-1'), 3::bigint,
	'granted role: waiting_count (1 sign-up + 2 lines; nothing allocated before COMMIT)');
SELECT throws_ok($$SELECT waitlist.set_on_hand('TAP-PRIV-1', 0)$$, '42501', NULL,
	'granted role: a function not granted (set_on_hand) is refused');
SELECT throws_ok($$SELECT waitlist.purge_delivered()$$, '42501', NULL,
	'granted role: a function not granted (purge_delivered) is refused');

-- No direct access to tables, views or sequences.
SELECT throws_ok($$SELECT count(*) FROM waitlist.subscriber$$, '42501', NULL,
	'granted role still cannot SELECT from waitlist.subscriber');
SELECT throws_ok($$SELECT count(*) FROM waitlist.sku$$, '42501', NULL,
	'granted role cannot SELECT from waitlist.sku');
SELECT throws_ok($$SELECT count(*) FROM waitlist.subscriber_status$$, '42501', NULL,
	'granted role cannot SELECT from waitlist.subscriber_status');
SELECT throws_ok($$UPDATE waitlist.sku SET on_hand = 1000$$, '42501', NULL,
	'granted role cannot UPDATE waitlist.sku');
SELECT throws_ok($$INSERT INTO waitlist.outbox (kind, channel, idempotency_key) VALUES ('x', 'email', 'x')$$,
	'42501', NULL, 'granted role cannot INSERT into waitlist.outbox');
SELECT throws_ok($$DELETE FROM waitlist.batch$$, '42501', NULL,
	'granted role cannot DELETE from waitlist.batch');
SELECT throws_ok($$SELECT nextval('waitlist.line_id_seq')$$, '42501', NULL,
	'granted role cannot use waitlist.line_id_seq');

-- The relay side: claim and ack through the API only.
SELECT is((SELECT count(*)::int FROM waitlist.claim('tap-priv', 100) c WHERE c.sku LIKE 'TAP-PRIV-%'), 4,
	'granted role: claim leases the 4 confirmations queued in this transaction');
SELECT ok(waitlist.tick() >= 0, 'granted role: tick runs');

-- track_inventory: only for a table the caller owns.
SELECT throws_ok($$SELECT waitlist.track_inventory('public.tap_priv_foreign_inv', 'sku', 'qty')$$,
	'42501', NULL, 'granted role cannot track a table it does not own');
CREATE TABLE tap_priv_app.inventory (sku text, location text, qty integer);
INSERT INTO tap_priv_app.inventory VALUES ('TAP-PRIV-2', 'A', 4), ('TAP-PRIV-2', 'B', 3);
SELECT lives_ok($$SELECT waitlist.track_inventory('tap_priv_app.inventory', 'sku', 'qty')$$,
	'granted role tracks its own inventory table');
UPDATE tap_priv_app.inventory SET qty = qty + 10 WHERE location = 'A';
INSERT INTO tap_priv_app.inventory VALUES ('TAP-PRIV-2', 'C', 1), ('UNKNOWN-SKU', 'A', 9);
DELETE FROM tap_priv_app.inventory WHERE location = 'B';
SELECT lives_ok($$SELECT waitlist.unsubscribe(waitlist.subscribe('TAP-PRIV-1', 'fan@example.com'))$$,
	'granted role: unsubscribe works');
SELECT is(waitlist.cancel_line((SELECT 0::bigint + waitlist.place_backorder('TAP-PRIV-B3', 'TAP-PRIV-1', 1, NULL, 'dee@example.com'))),
	0, 'granted role: cancel_line of an unallocated line releases 0 units');
RESET ROLE;

-- What the granted role did, seen as the owner.
SELECT is(current_user::text, session_user::text, 'RESET ROLE');
SELECT is((SELECT on_hand FROM waitlist.sku WHERE sku = 'TAP-PRIV-2'), 15::bigint,
	'the SECURITY DEFINER trigger followed the role''s inventory table (initial 7, +10, +1, -3)');
SELECT is((SELECT inventory::text FROM waitlist.tracked_inventory), 'tap_priv_app.inventory',
	'the role''s table is registered in tracked_inventory');
SELECT is((SELECT count(*)::int FROM waitlist.subscriber s JOIN waitlist.sku k ON k.sku = s.sku
			WHERE k.sku = 'TAP-PRIV-1'), 1, 'one sign-up row was written');
SELECT is((SELECT state FROM waitlist.subscriber s JOIN waitlist.sku k ON k.sku = s.sku
			WHERE k.sku = 'TAP-PRIV-1'), 'unsubscribed', 'and it was unsubscribed');
SELECT is((SELECT on_hand || '/' || allocated FROM waitlist.sku WHERE sku = 'TAP-PRIV-1'), '5/0',
	'restock moved on_hand; nothing is allocated before COMMIT');
SELECT is((SELECT count(*)::int FROM waitlist.batch b JOIN waitlist.sku k ON k.sku = b.sku
			WHERE k.sku LIKE 'TAP-PRIV-%'), 0, 'no batch is written before COMMIT');
SELECT is((SELECT count(*)::int FROM waitlist.outbox WHERE sku LIKE 'TAP-PRIV-%' AND state = 'leased'
			 AND lease_owner = 'tap-priv'), 4, 'the claimed messages are leased to the role''s consumer');
SELECT is((SELECT count(*)::int FROM waitlist.outbox WHERE sku LIKE 'TAP-PRIV-%'
			 AND kind = 'backorder_confirmed'), 4,
	'backorder_confirmed for B1 (email+sms), B2 (email), B3 (email)');

-- Imports: the source table is read with the caller's privileges, and
-- waitlist's tables are written without any.
GRANT EXECUTE ON FUNCTION waitlist.import_backorders(regclass), waitlist.import_signups(regclass)
	TO wl_tap_app;
SET ROLE wl_tap_app;
SELECT throws_ok($$SELECT waitlist.import_backorders('public.tap_priv_foreign_inv')$$, '42501', NULL,
	'granted role cannot import from a table it may not read (42501)');
CREATE TABLE tap_priv_app.backorders (order_ref text, sku text, qty integer, email text);
INSERT INTO tap_priv_app.backorders VALUES ('TAP-PRIV-I1', 'TAP-PRIV-2', 1, 'i1@example.com'),
	('TAP-PRIV-I2', 'TAP-PRIV-2', 2, 'i2@example.com');
SELECT is(waitlist.import_backorders('tap_priv_app.backorders'), 2::bigint,
	'granted role: import_backorders reads its own table');
CREATE TABLE tap_priv_app.signups (sku text, email text);
INSERT INTO tap_priv_app.signups VALUES ('TAP-PRIV-2', 'i3@example.com');
SELECT is(waitlist.import_signups('tap_priv_app.signups'), 1::bigint,
	'granted role: import_signups reads its own table');
SELECT is(current_user::text, 'wl_tap_app', 'after the imports the role is the caller again');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM waitlist.line_status WHERE order_ref LIKE 'TAP-PRIV-I%'), 2,
	'the imported lines were written');

SELECT * FROM finish();
ROLLBACK;
