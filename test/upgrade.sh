#!/usr/bin/env bash
# Upgrade test: a database created at the first release (waitlist--0.1.0.sql,
# frozen) and filled through the API survives ALTER EXTENSION waitlist
# UPDATE, and ends up exactly where a fresh install of the new version is.
#
#   (a) the catalog of every object the extension owns (pg_depend deptype 'e'
#       members: tables with their columns, types, defaults and NOT NULLs,
#       constraints, indexes, triggers, views, functions with volatility,
#       security and SET, composite types, sequences, comments, ACLs,
#       pg_extension's extconfig/extcondition) equals a fresh install's;
#       a diff is printed on mismatch; the check then proves it can fail by
#       changing one comment in the fresh database;
#   (b) every row of every table survived (count and md5 per table, sequence
#       positions) and the invariants hold on every SKU;
#   (c) the pg_regress suite (sql/ + expected/) passes on a database created
#       at 0.1.0 and upgraded (empty: the expected files count ids from 1).
#
# Joins tools/test.sh's cluster, or starts a throwaway one of its own
# (tools/harness.sh).  Needs the extension built and installed.  Prints one
# PASS/FAIL line per check and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

source tools/harness.sh
cluster_start_or_join >/dev/null || { echo "FAIL: could not start a cluster"; exit 1; }
# The data set and the regression suite place backorders without restock dates.
policy_off

FIRST=0.1.0
NEW=$(sed -n "s/^default_version = '\(.*\)'/\1/p" waitlist.control)
UP="wl_upgrade_$$"
FRESH="wl_fresh_$$"
REG="wl_upgrade_regress_$$"
WORK="$(mktemp -d /tmp/wl_upgrade.XXXXXX)"
chmod 777 "$WORK"
failures=0

# 0.2.0 re-keys the SKU tables by the code, and its library refuses a
# database still at 0.1.0 (55000) until ALTER EXTENSION UPDATE.  So the data
# set is made the way a 0.1.0 shop made it, with the 0.1.0 library (built
# from the last commit before 0.2.0 opened), which is replaced by this
# checkout's library before the update, as an upgrade replaces it.
FIRST_COMMIT=37495e9^
LIBDIR="$(pg_config --pkglibdir)"
restore_library() {
	[ -f "$WORK/new.so" ] && install -m 755 "$WORK/new.so" "$LIBDIR/waitlist.so"
}

cleanup() {
	restore_library
	for db in "$UP" "$FRESH" "$REG"; do
		dropdb --if-exists "$db" >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap 'cleanup; cluster_stop' EXIT


# qdb DB ...: the harness's q in database DB
qdb() {
	local db="$1"
	shift
	q -d "$db" "$@"
}

expect() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', expected '$3'"; fi
}

# ------------------------------------------------------------ the catalog
# One line per property of every extension member, by name (never by OID).
CATALOG_SQL=$(
	cat <<'SQL'
WITH ext AS (SELECT * FROM pg_extension WHERE extname = 'waitlist'),
m AS (SELECT d.classid, d.objid FROM pg_depend d, ext
	   WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
rel AS (SELECT c.* FROM pg_class c JOIN m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid),
typ AS (SELECT t.* FROM pg_type t JOIN m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid),
fn AS (SELECT p.* FROM pg_proc p JOIN m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid),
-- relations whose columns count: member relations and member composite types
cols AS (SELECT c.oid, c.oid::regclass::text AS name FROM rel c
		 UNION SELECT t.typrelid, t.typname::text FROM typ t WHERE t.typrelid <> 0)
SELECT line FROM (
	SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) FROM m
	UNION ALL
	SELECT format('extension version=%s relocatable=%s schema=%s config=%s conditions=%s',
				  x.extversion, x.extrelocatable, x.extnamespace::regnamespace,
				  (SELECT array_agg(c::regclass::text ORDER BY c::regclass::text) FROM unnest(x.extconfig) c),
				  x.extcondition)
	  FROM ext x
	UNION ALL
	SELECT format('schema %s owner=%s acl=%s comment=%s', n.nspname, n.nspowner::regrole, n.nspacl,
				  obj_description(n.oid, 'pg_namespace'))
	  FROM pg_namespace n JOIN ext ON ext.extnamespace = n.oid
	UNION ALL
	SELECT format('relation %s kind=%s persistence=%s owner=%s acl=%s options=%s comment=%s',
				  c.oid::regclass, c.relkind, c.relpersistence, c.relowner::regrole, c.relacl,
				  c.reloptions, obj_description(c.oid, 'pg_class'))
	  FROM rel c
	UNION ALL
	-- #: the column's place among the live ones (a column the update drops
	-- leaves a gap in attnum that no query sees)
	SELECT format('column %s.%s #%s %s notnull=%s default=%s collation=%s identity=%s generated=%s acl=%s comment=%s',
				  k.name, a.attname,
				  (SELECT count(*) FROM pg_attribute b WHERE b.attrelid = a.attrelid AND b.attnum > 0
					  AND NOT b.attisdropped AND b.attnum <= a.attnum),
				  format_type(a.atttypid, a.atttypmod), a.attnotnull,
				  pg_get_expr(d.adbin, d.adrelid), a.attcollation::regcollation, a.attidentity,
				  a.attgenerated, a.attacl, col_description(a.attrelid, a.attnum))
	  FROM cols k JOIN pg_attribute a ON a.attrelid = k.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	UNION ALL
	SELECT format('constraint %s %s: %s deferrable=%s comment=%s', c.conrelid::regclass, c.conname,
				  pg_get_constraintdef(c.oid), c.condeferrable, obj_description(c.oid, 'pg_constraint'))
	  FROM pg_constraint c JOIN rel r ON r.oid = c.conrelid
	UNION ALL
	SELECT format('index %s comment=%s', pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class'))
	  FROM pg_index i JOIN rel r ON r.oid = i.indrelid
	UNION ALL
	SELECT format('trigger %s enabled=%s comment=%s', pg_get_triggerdef(t.oid), t.tgenabled,
				  obj_description(t.oid, 'pg_trigger'))
	  FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid WHERE NOT t.tgisinternal
	UNION ALL
	SELECT format('view %s: %s', c.oid::regclass, pg_get_viewdef(c.oid)) FROM rel c WHERE c.relkind IN ('v', 'm')
	UNION ALL
	SELECT format('sequence %s type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s owned_by=%s',
				  s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
				  s.seqcache, s.seqcycle,
				  (SELECT d.refobjid::regclass || '.' || a.attname FROM pg_depend d
					 JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
					WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid AND d.deptype = 'a'))
	  FROM pg_sequence s JOIN rel r ON r.oid = s.seqrelid
	UNION ALL
	SELECT format('type %s type=%s owner=%s acl=%s comment=%s', t.oid::regtype, t.typtype, t.typowner::regrole,
				  t.typacl, obj_description(t.oid, 'pg_type'))
	  FROM typ t
	UNION ALL
	SELECT format('function %s owner=%s acl=%s comment=%s definition=%s', p.oid::regprocedure,
				  p.proowner::regrole, p.proacl, obj_description(p.oid, 'pg_proc'),
				  CASE WHEN p.prokind IN ('f', 'p', 'w') THEN pg_get_functiondef(p.oid) END)
	  FROM fn p
	UNION ALL
	SELECT format('function %s volatile=%s secdef=%s strict=%s parallel=%s leakproof=%s config=%s cost=%s rows=%s',
				  p.oid::regprocedure, p.provolatile, p.prosecdef, p.proisstrict, p.proparallel,
				  p.proleakproof, p.proconfig, p.procost, p.prorows)
	  FROM fn p
) x (line)
ORDER BY line COLLATE "C";
SQL
)

catalog() {
	qdb "$1" -c "$CATALOG_SQL"
}

# ------------------------------------------------------- rows, invariants
ROWS_SQL=$(
	cat <<'SQL'
SELECT format('%s rows=%s md5=%s', c, n, h) FROM (
	SELECT c::regclass::text AS c,
		   (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', c::regclass), false, true, '')))[1]::text AS n,
		   (xpath('/row/h/text()', query_to_xml(format(
				'SELECT md5(coalesce(string_agg(r::text, E''\n'' ORDER BY r::text COLLATE "C"), '''')) AS h'
				' FROM (SELECT %s AS r FROM %s t) r',
				-- 0.2.0 keys the SKU tables by the code: 0.1.0's sku_id reads as it.
				-- Columns 0.2.0 adds start NULL: NULLs are left out on both sides
				-- (a value that became NULL still shows, as a key that went away).
				-- sku.next_status_at is filled by the update on purpose: the
				-- backorders already waiting get their first status round;
				-- sku.held, a counter the update adds, starts at 0, and
				-- subscriber.kept_place and line.from_stock, flags, false;
				-- sku.in_stock_since is set for the SKUs on sale (the start
				-- of the sell-out history).  subscriber.confirm_pending moves
				-- to unconfirmed_signup (checked apart).
				CASE WHEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c
									AND a.attname = 'sku_id' AND NOT a.attisdropped)
					 THEN 'jsonb_strip_nulls(to_jsonb(t) - ''sku_id'''
						  || CASE WHEN c = 'waitlist.subscriber'::regclass THEN ' - ''confirm_pending''' ELSE '' END
						  || ' || jsonb_build_object(''sku'','
						  ' (SELECT s.sku FROM waitlist.sku s WHERE s.id = t.sku_id)))'
					 ELSE 'jsonb_strip_nulls(to_jsonb(t)) - ''next_status_at'' - ''held'' - ''kept_place'' - ''from_stock'' - ''in_stock_since''' END,
				c::regclass), false, true, '')))[1]::text AS h
	  FROM pg_extension x, unnest(x.extconfig) c
	 WHERE x.extname = 'waitlist' AND (SELECT relkind FROM pg_class WHERE oid = c) = 'r'
) y
UNION ALL
SELECT format('%s last_value=%s', s.schemaname || '.' || s.sequencename, s.last_value)
  FROM pg_sequences s WHERE s.schemaname = 'waitlist'
ORDER BY 1;
SQL
)

# Every row names a SKU and what is wrong there; nothing means all hold.
INVARIANTS_SQL=$(
	cat <<'SQL'
SELECT s.sku, 'counters: ' || format('on_hand=%s allocated=%s paid %s/%s sub %s/%s', s.on_hand, s.allocated,
	   s.paid_served, s.paid_tail, s.sub_served, s.sub_tail)
  FROM waitlist.sku s
 WHERE NOT (s.allocated <= s.on_hand AND s.on_hand >= 0 AND s.allocated >= 0 AND s.paid_served >= 0
			AND s.paid_served <= s.paid_tail AND s.sub_served >= 0 AND s.sub_served <= s.sub_tail
			AND s.announced >= 0 AND s.paid_waiting >= 0 AND s.sub_waiting >= 0)
UNION ALL
SELECT s.sku, 'allocated is not the sum of the waiting lines'' allocations'
  FROM waitlist.sku s
 WHERE s.allocated <> (SELECT coalesce(sum(ls.allocated), 0) FROM waitlist.line_status ls
						WHERE ls.sku = s.sku AND ls.status IN ('waiting', 'partially_allocated', 'allocated'))
UNION ALL
SELECT s.sku, 'allocation is not min(on hand, units the waiting lines want)'
  FROM waitlist.sku s
 WHERE s.allocated <> least(s.on_hand, (SELECT coalesce(sum(qty), 0) FROM waitlist.line
										 WHERE sku = s.sku AND state = 'waiting'))
UNION ALL
SELECT s.sku, 'paid_waiting or sub_waiting does not count the live queue'
  FROM waitlist.sku s
 WHERE s.paid_waiting <> (SELECT coalesce(sum(l.qty - ls.allocated), 0) FROM waitlist.line l
						   JOIN waitlist.line_status ls ON ls.id = l.id WHERE l.sku = s.sku AND l.state = 'waiting')
	OR s.sub_waiting <> (SELECT count(*) FROM waitlist.subscriber u
						  WHERE u.sku = s.sku AND u.state = 'waiting' AND u.pos >= s.sub_served)
UNION ALL
SELECT s.sku, 'paid positions do not tile [0, paid_tail), or sign-ups do not take 0 .. sub_tail - 1'
  FROM waitlist.sku s
 WHERE s.paid_tail <> (SELECT coalesce(sum(qty), 0) FROM waitlist.line WHERE sku = s.sku)
	OR EXISTS (SELECT 1 FROM (SELECT pos_start, lag(pos_end, 1, 0::bigint) OVER (ORDER BY pos_start) AS prev
								FROM waitlist.line WHERE sku = s.sku) x WHERE x.pos_start <> x.prev)
	OR s.sub_tail <> (SELECT count(DISTINCT pos) FROM waitlist.subscriber WHERE sku = s.sku)
	OR s.sub_tail - 1 <> (SELECT coalesce(max(pos), -1) FROM waitlist.subscriber WHERE sku = s.sku)
UNION ALL
SELECT s.sku, format('FIFO: line %s is short while a later line holds units', a.id)
  FROM waitlist.line a JOIN waitlist.line_status la ON la.id = a.id
  JOIN waitlist.line b ON b.sku = a.sku AND b.state = 'waiting' AND b.pos_start > a.pos_start
  JOIN waitlist.line_status lb ON lb.id = b.id
  JOIN waitlist.sku s ON s.sku = a.sku
 WHERE a.state = 'waiting' AND la.allocated < a.qty AND lb.allocated > 0
UNION ALL
SELECT s.sku, 'preorder_accepted is not the units of pre-order lines not cancelled'
  FROM waitlist.sku s
 WHERE s.preorder_accepted <> (SELECT coalesce(sum(qty), 0) FROM waitlist.line
								WHERE sku = s.sku AND kind = 'preorder' AND state <> 'cancelled')
UNION ALL
SELECT s.sku, 'accepted pre-order units pass the limit'
  FROM waitlist.sku s WHERE s.preorder_limit IS NOT NULL AND s.preorder_accepted > s.preorder_limit
ORDER BY 1, 2;
SQL
)

# ---------------------------------------------------------- the data set
mkdir -p "$WORK/first"
if ! { git -C "$ROOT" archive "$FIRST_COMMIT" | tar -x -C "$WORK/first" &&
	make -C "$WORK/first" -s WITHOUT_RELAY=1 >"$WORK/first.log" 2>&1; }; then
	cat "$WORK/first.log"
	echo "FAIL: could not build the $FIRST library ($FIRST_COMMIT)"
	exit 1
fi
cp "$LIBDIR/waitlist.so" "$WORK/new.so" &&
	install -m 755 "$WORK/first/waitlist.so" "$LIBDIR/waitlist.so" ||
	{ echo "FAIL: could not install the $FIRST library"; exit 1; }
createdb "$UP" || { echo "FAIL: createdb $UP"; exit 1; }
# Each -c is its own transaction, so allocations run at each COMMIT.
if ! qdb "$UP" >"$WORK/setup.log" 2>&1 \
	-c "CREATE EXTENSION waitlist VERSION '$FIRST'" \
	-c "CREATE TABLE public.app_inventory (sku text, location text, qty integer NOT NULL, PRIMARY KEY (sku, location))" \
	-c "SELECT waitlist.upsert_sku('UP-A', 'Alpha kettle', restock_date => current_date + 7, restock_confirmed => true,
	                               product_url => 'https://shop.example/a')" \
	-c "SELECT waitlist.upsert_sku('UP-B', 'Beta grinder', notify_ratio => 1.5, send_sold_out_again => false)" \
	-c "SELECT waitlist.upsert_sku('UP-T', 'Tracked tumbler')" \
	-c "SELECT waitlist.upsert_sku('UP-X', 'Gone', status => 'discontinued')" \
	-c "INSERT INTO public.app_inventory VALUES ('UP-T', 'north', 1), ('UP-T', 'south', 0)" \
	-c "SELECT waitlist.track_inventory('public.app_inventory', 'sku', 'qty')" \
	-c "SELECT waitlist.subscribe('UP-A', 'ann@example.com', NULL, 'Ann')" \
	-c "SELECT waitlist.subscribe('UP-A', NULL, '+4915100000001')" \
	-c "SELECT waitlist.subscribe('UP-B', 'bob@example.com', '+4915100000002', 'Bob')" \
	-c "SELECT waitlist.subscribe('UP-B', 'cy@example.com')" \
	-c "SELECT waitlist.subscribe('UP-B', 'dan@example.com')" \
	-c "SELECT waitlist.subscribe('UP-T', 'tess@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-1', 'UP-A', 2, 'Dee', 'dee@example.com', '+4915100000003')" \
	-c "SELECT waitlist.place_backorder('ORD-2', 'UP-A', 1, 'Eve', 'eve@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-3', 'UP-A', 3, 'Fay', 'fay@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-4', 'UP-A', 2, 'Gus', 'gus@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-5', 'UP-B', 1, 'Hal', 'hal@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-6', 'UP-T', 2, 'Ida', 'ida@example.com')" \
	-c "SELECT waitlist.restock('UP-A', 4)" \
	-c "SELECT waitlist.restock('UP-B', 2)" \
	-c "SELECT waitlist.cancel_line((SELECT id FROM waitlist.line WHERE order_ref = 'ORD-2'))" \
	-c "SELECT waitlist.tick()" \
	-c "SELECT waitlist.ship_line((SELECT id FROM waitlist.line WHERE order_ref = 'ORD-1'))" \
	-c "SELECT waitlist.unsubscribe((SELECT id FROM waitlist.subscriber WHERE email = 'dan@example.com'))" \
	-c "SELECT count(*) FROM waitlist.claim('upgrade-test', 6)" \
	-c "SELECT waitlist.ack('upgrade-test', (SELECT array_agg(id) FROM (SELECT id FROM waitlist.outbox
	                                         WHERE state = 'leased' ORDER BY id LIMIT 3) x))" \
	-c "SELECT waitlist.nack('upgrade-test', (SELECT min(id) FROM waitlist.outbox WHERE state = 'leased'),
	                         'smtp 451', interval '10 minutes')" \
	-c "SELECT waitlist.dead_letter('upgrade-test', (SELECT min(id) FROM waitlist.outbox WHERE state = 'leased'),
	                                'mailbox does not exist')" \
	-c "SELECT waitlist.place_backorder('ORD-7', 'UP-A', 1, 'Jo', NULL, '+4915100000007', 'dtc')" \
	-c "SELECT waitlist.restock('UP-A', 2)" \
	-c "UPDATE public.app_inventory SET qty = qty + 1 WHERE sku = 'UP-T' AND location = 'south'" \
	-c "SELECT waitlist.upsert_sku('UP-P', 'Pre-order press')" \
	-c "SELECT waitlist.open_preorders('UP-P', 100, 80, current_date + 30, current_date + 40, 'deposit', 20)" \
	-c "SELECT waitlist.set_preorder_channel_limit('UP-P', 'ebay', 10)" \
	-c "SELECT waitlist.place_preorder('ORD-P1', 'UP-P', 2, 'Kim', 'kim@example.com', NULL, 'ebay', 25.00, 'EUR')" \
	-c "SELECT waitlist.place_preorder('ORD-P2', 'UP-P', 3, 'Lu', 'lu@example.com', NULL, 'dtc', 25.00, 'EUR')" \
	-c "SELECT waitlist.place_preorder('ORD-P3', 'UP-P', 1, 'Mo', NULL, '+4915100000008', 'dtc', 25.00, 'EUR')" \
	-c "SELECT waitlist.tick()" \
	-c "SELECT waitlist.cancel_line((SELECT id FROM waitlist.line WHERE order_ref = 'ORD-P3'))" \
	-c "SELECT waitlist.upsert_sku('UP-Q', 'Authorized preorder')" \
	-c "SELECT waitlist.open_preorders('UP-Q', 10, 50, current_date + 20, current_date + 25)" \
	-c "SELECT waitlist.place_preorder('ORD-Q1', 'UP-Q', 5, 'Ned', 'ned@example.com', NULL, 'dtc', 9.50, 'USD')" \
	-c "SELECT waitlist.restock('UP-Q', 5)" \
	-c "SELECT waitlist.ship_line((SELECT id FROM waitlist.line WHERE order_ref = 'ORD-Q1'))" \
	-c "SELECT waitlist.set_channel('etsy', 'Etsy', backorders => 'handling_time', max_handling_days => 10)" \
	-c "SELECT waitlist.set_channel('amazon', brand_registry => true)" \
	-c "SELECT waitlist.set_listings('UP-A', ARRAY['dtc', 'amazon', 'etsy'])" \
	-c "SELECT waitlist.set_policy('UP-B', backorder_days => 20)" \
	-c "SELECT waitlist.subscribe('UP-A', 'late@example.com')"; then
	cat "$WORK/setup.log"
	echo "FAIL: could not fill the $FIRST database"
	exit 1
fi
expect "the data set was made at $FIRST" \
	"$(qdb "$UP" -c "SELECT extversion FROM pg_extension WHERE extname = 'waitlist'")" "$FIRST"
expect "lines of every kind and state (backorder, preorder; waiting, allocated, partial, shipped, cancelled)" \
	"$(qdb "$UP" -c "SELECT string_agg(DISTINCT l.kind, ',' ORDER BY l.kind) || ' ' || string_agg(DISTINCT ls.status, ',' ORDER BY ls.status)
	               FROM waitlist.line l JOIN waitlist.line_status ls ON ls.id = l.id")" \
	"backorder,preorder allocated,cancelled,partially_allocated,shipped,waiting"
expect "sign-ups waiting, notified and unsubscribed" \
	"$(qdb "$UP" -c "SELECT string_agg(DISTINCT status, ',' ORDER BY status) FROM waitlist.subscriber_status")" \
	"notified,unsubscribed,waiting"
expect "messages pending, leased, delivered and dead; a batch waits unexpanded; pending sign-up confirmations" \
	"$(qdb "$UP" -c "SELECT string_agg(DISTINCT state, ',' ORDER BY state) FROM waitlist.outbox")/$(qdb "$UP" -c "SELECT
	                 (SELECT count(*) > 0 FROM waitlist.batch WHERE expanded_at IS NULL)
	             AND (SELECT count(*) > 0 FROM waitlist.subscriber WHERE confirm_pending)")" \
	"dead,delivered,leased,pending/t"
expect "pre-order plans, a channel limit, channel rules, published availability" \
	"$(qdb "$UP" -c "SELECT (SELECT count(*) FROM waitlist.sku WHERE preorder_limit IS NOT NULL) || '/' ||
	                      (SELECT count(*) FROM waitlist.preorder_channel) || '/' ||
	                      (SELECT count(*) FROM waitlist.channel_rule) || '/' ||
	                      (SELECT count(*) > 0 FROM waitlist.availability)")" "2/1/2/true"

# ------------------------------------------------------------- the update
qdb "$UP" -c "$ROWS_SQL" >"$WORK/rows_before.txt" || fail "reading the rows before the update"
UNCONFIRMED_BEFORE="$(qdb "$UP" -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM waitlist.subscriber WHERE confirm_pending")"
# This checkout's library, as an upgrade installs it: it refuses the 0.1.0
# database, clearly, until the update.
restore_library || fail "installing the $NEW library"
expect "the $NEW library refuses a $FIRST database until the update (55000)" \
	"$(qdb "$UP" -v VERBOSITY=sqlstate -c "SELECT waitlist.restock('UP-A', 1)" 2>&1 | sed -n 's/^ERROR: *//p')" "55000"
if qdb "$UP" -c "ALTER EXTENSION waitlist UPDATE" 2>"$WORK/update.log"; then
	pass "ALTER EXTENSION waitlist UPDATE"
else
	cat "$WORK/update.log"
	fail "ALTER EXTENSION waitlist UPDATE"
	exit 1
fi
expect "the database is at $NEW" \
	"$(qdb "$UP" -c "SELECT extversion FROM pg_extension WHERE extname = 'waitlist'")" "$NEW"

# (a) the catalog equals a fresh install's
createdb "$FRESH" || { echo "FAIL: createdb $FRESH"; exit 1; }
qdb "$FRESH" -c "CREATE EXTENSION waitlist" || fail "CREATE EXTENSION waitlist (fresh $NEW)"
catalog "$FRESH" >"$WORK/catalog_fresh.txt" || fail "catalog of the fresh database"
catalog "$UP" >"$WORK/catalog_upgraded.txt" || fail "catalog of the upgraded database"
if [ "$(wc -l <"$WORK/catalog_fresh.txt")" -lt 300 ]; then
	fail "the catalog dump is too short to mean anything ($(wc -l <"$WORK/catalog_fresh.txt") lines)"
elif diff -u --label "fresh $NEW" --label "upgraded $FIRST -> $NEW" \
	"$WORK/catalog_fresh.txt" "$WORK/catalog_upgraded.txt" >"$WORK/catalog.diff"; then
	pass "(a) the upgraded catalog equals a fresh $NEW install ($(wc -l <"$WORK/catalog_fresh.txt") lines)"
else
	cat "$WORK/catalog.diff"
	fail "(a) the upgraded catalog differs from a fresh $NEW install"
fi
# The comparison can fail: one changed comment shows up.
qdb "$FRESH" -c "COMMENT ON FUNCTION waitlist.tick() IS 'changed'"
catalog "$FRESH" >"$WORK/catalog_changed.txt"
if diff -qdb "$WORK/catalog_changed.txt" "$WORK/catalog_upgraded.txt" >/dev/null; then
	fail "(a) the catalog comparison missed a changed comment"
else
	pass "(a) the catalog comparison notices a changed comment"
fi

# (b) every row survived, and the invariants hold
qdb "$UP" -c "$ROWS_SQL" >"$WORK/rows_after.txt" || fail "reading the rows after the update"
# The relations the old version had, compared; those the update adds start empty.
awk 'NR == FNR { had[$1]; next } ($1 in had)' "$WORK/rows_before.txt" "$WORK/rows_after.txt" >"$WORK/rows_kept.txt"
awk 'NR == FNR { had[$1]; next } !($1 in had)' "$WORK/rows_before.txt" "$WORK/rows_after.txt" >"$WORK/rows_new.txt"
if diff -u "$WORK/rows_before.txt" "$WORK/rows_kept.txt"; then
	pass "(b) every table kept its rows (count and md5) and every sequence its position ($(wc -l <"$WORK/rows_kept.txt") checks)"
else
	fail "(b) rows changed in the update"
fi
# The sign-ups whose confirmation was pending are queued, and no other.
expect "(b) the $(tr ',' '\n' <<<"$UNCONFIRMED_BEFORE" | grep -c .) sign-ups whose confirmation was pending are in unconfirmed_signup, with their SKU" \
	"$(qdb "$UP" -c "SELECT string_agg(q.id::text, ',' ORDER BY q.id) FROM waitlist.unconfirmed_signup q
	                  JOIN waitlist.subscriber u ON u.id = q.id AND u.sku = q.sku")" "$UNCONFIRMED_BEFORE"
# ... except the sell-out history, which starts with a period per SKU that
# has had stock (checked below).
if ! grep -Ev ' rows=0 | last_value=$|^waitlist.sale_period |^waitlist.unconfirmed_signup ' "$WORK/rows_new.txt"; then
	pass "(b) the $(wc -l <"$WORK/rows_new.txt") relations the update adds start empty (but sale_period and unconfirmed_signup)"
else
	fail "(b) a relation the update adds is not empty"
fi
bad="$(qdb "$UP" -c "SELECT format('%s: on_hand %s allocated %s, period %s-%s, in_stock_since %s', s.sku, s.on_hand,
								   s.allocated, p.on_sale_at, p.sold_out_at, s.in_stock_since)
					   FROM waitlist.sku s LEFT JOIN waitlist.sale_period p ON p.sku = s.sku
					  WHERE (s.on_hand > 0 OR s.allocated > 0 OR EXISTS (SELECT 1 FROM waitlist.line l
																	WHERE l.sku = s.sku AND l.state = 'shipped'))
							IS DISTINCT FROM (p.sku IS NOT NULL)
						 OR (p.sku IS NOT NULL AND (p.on_sale_at <> s.created_at
							 OR (p.sold_out_at IS NULL) <> (s.on_hand > s.allocated)
							 OR (s.in_stock_since IS NOT NULL) <> (s.on_hand > s.allocated)))")"
n="$(qdb "$UP" -c "SELECT count(*) || '/' || count(*) FILTER (WHERE sold_out_at IS NULL) FROM waitlist.sale_period")"
if [ -z "$bad" ] && [ "${n%/*}" -gt 0 ] && [ "${n#*/}" -gt 0 ]; then
	pass "(b) the sell-out history starts with a period from its creation for each SKU that had stock, open where units are on sale ($n)"
else
	fail "(b) the sell-out history after the update ($n): $bad"
fi
bad="$(qdb "$UP" -c "$INVARIANTS_SQL")"
if [ -z "$bad" ]; then
	pass "(b) the invariants hold on every SKU after the update"
else
	fail "(b) invariants broken after the update: $bad"
fi
bad="$(qdb "$UP" -c "SELECT format('%s %s: %s', invariant, sku, detail) FROM waitlist.check_invariants()")"
if [ -z "$bad" ]; then
	pass "(b) waitlist.check_invariants() reports nothing on the updated database"
else
	fail "(b) waitlist.check_invariants() after the update: $bad"
fi
# The upgraded database keeps working: allocation, expansion, the new functions.
expect "(b) after the update: a restock allocates FIFO at commit, tick expands, claim and ack work" \
	"$(qdb "$UP" -c "SELECT waitlist.restock('UP-A', 10)" -c "SELECT waitlist.tick() > 0" \
		-c "SELECT waitlist.ack('after', (SELECT array_agg(id) FROM waitlist.claim('after', 1000))) > 0" |
		tail -2 | tr '\n' ' ')" "t t "
expect "(b) after the update: import_backorders and import_signups work" \
	"$(qdb "$UP" -c "CREATE TABLE public.up_lines AS SELECT 'IMP-' || g AS order_ref, 'UP-A' AS sku, 1 AS qty,
	                                            'i' || g || '@example.com' AS email FROM generate_series(1, 50) g" \
		-c "CREATE TABLE public.up_signups AS SELECT 'UP-B' AS sku, 's' || g || '@example.com' AS email
	                                          FROM generate_series(1, 50) g" \
		-c "SELECT waitlist.import_backorders('public.up_lines') + waitlist.import_signups('public.up_signups')")" "100"
bad="$(qdb "$UP" -c "$INVARIANTS_SQL")"
if [ -z "$bad" ]; then
	pass "(b) the invariants hold after restock, tick and imports on the upgraded database"
else
	fail "(b) invariants broken after working on the upgraded database: $bad"
fi

# (c) the regression suite on a database created at FIRST and upgraded
createdb "$REG" || { echo "FAIL: createdb $REG"; exit 1; }
qdb "$REG" -c "CREATE EXTENSION waitlist VERSION '$FIRST'" -c "ALTER EXTENSION waitlist UPDATE" ||
	fail "creating $REG at $FIRST and updating it"
mkdir -p "$WORK/regress"
tests=$(cd sql && ls *.sql | sed 's/\.sql$//' | sort)
# shellcheck disable=SC2086
if "$(pg_config --pkglibdir)/pgxs/src/test/regress/pg_regress" --inputdir="$ROOT" \
	--outputdir="$WORK/regress" --bindir="$(pg_config --bindir)" --use-existing --dbname="$REG" \
	$tests >"$WORK/regress.log" 2>&1; then
	pass "(c) the pg_regress suite ($(echo $tests | wc -w) files) passes on a database upgraded from $FIRST"
else
	cat "$WORK/regress.log"
	[ -f "$WORK/regress/regression.diffs" ] && cat "$WORK/regress/regression.diffs"
	fail "(c) the pg_regress suite on a database upgraded from $FIRST"
fi

echo
if [ "$failures" -eq 0 ]; then
	echo "upgrade $FIRST -> $NEW: all checks passed"
else
	echo "upgrade $FIRST -> $NEW: $failures check(s) failed"
fi
[ "$failures" -eq 0 ]
