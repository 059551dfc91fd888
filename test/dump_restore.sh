#!/usr/bin/env bash
# Dump and restore: waitlist's user data survives pg_dump / restore.
#
# Runs on the cluster tools/test.sh shares with its suites, or alone on a
# throwaway cluster of its own (tools/harness.sh); needs the extension
# installed.  Creates a source database with SKUs, sign-ups,
# backorders, a committed restock, expanded and delivered messages, a batch
# not yet expanded and a tracked inventory table; dumps it with pg_dump,
# restores it into a new database with psql, and checks that
#   - every waitlist table has the same rows (count and md5 ordered by key),
#   - the sequences continue (new ids, no duplicate-key error),
#   - allocation, the inventory trigger and batch expansion still work.
#   - the roles granted with grant_app, grant_relay and grant_admin keep
#     exactly their privileges (roles are the cluster's: restored in place).
# Prints one PASS/FAIL line per check, exits non-zero on any failure and
# drops both databases.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/harness.sh
cluster_start_or_join || { echo "FAIL: cluster_start"; exit 1; }
# The data set places backorders on SKUs without restock dates: no policy.
policy_off

SRC="wl_dump_src_$$"
DST="wl_dump_dst_$$"
ROLE_PREFIX="wl_dump_role_$$"
WORK="$(mktemp -d /tmp/wl_dump.XXXXXX)"
DUMP="$WORK/waitlist.sql"
failures=0

cleanup() {
	dropdb --if-exists "$SRC" >/dev/null 2>&1
	dropdb --if-exists "$DST" >/dev/null 2>&1
	for kind in app relay admin; do
		q -c "DROP ROLE IF EXISTS ${ROLE_PREFIX}_$kind" >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap 'cleanup; cluster_stop' EXIT


# expect NAME ACTUAL EXPECTED
expect() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: got '$2', expected '$3'"
	fi
}

# ------------------------------------------------------------------ source
createdb "$SRC" || { echo "FAIL: createdb $SRC"; exit 1; }

# Each -c is its own transaction, so allocations run at each COMMIT.
if ! q -d "$SRC" >"$WORK/setup.log" 2>&1 \
	-c "CREATE EXTENSION waitlist" \
	-c "CREATE TABLE public.app_inventory (sku text, location text, qty integer NOT NULL,
	                                       PRIMARY KEY (sku, location))" \
	-c "SELECT waitlist.upsert_sku('DR-A', 'Alpha kettle', restock_date => DATE '2031-03-01',
	                               restock_confirmed => true, product_url => 'https://shop.example/a',
	                               image_url => 'https://shop.example/a.jpg')" \
	-c "SELECT waitlist.upsert_sku('DR-B', 'Beta grinder', notify_ratio => 1.5, send_sold_out_again => false)" \
	-c "SELECT waitlist.upsert_sku('DR-T', 'Tracked tumbler')" \
	-c "SELECT waitlist.upsert_sku('DR-X', 'Discontinued', status => 'upcoming')" \
	-c "INSERT INTO public.app_inventory VALUES ('DR-T', 'north', 1), ('DR-T', 'south', 0), ('NOT-WAITLIST', 'north', 9)" \
	-c "SELECT waitlist.track_inventory('public.app_inventory', 'sku', 'qty')" \
	-c "SELECT waitlist.subscribe('DR-A', 'ann@example.com', NULL, 'Ann')" \
	-c "SELECT waitlist.subscribe('DR-A', NULL, '+4915100000001')" \
	-c "SELECT waitlist.subscribe('DR-B', 'bob@example.com', '+4915100000002', 'Bob')" \
	-c "SELECT waitlist.subscribe('DR-B', 'cy@example.com')" \
	-c "SELECT waitlist.subscribe('DR-T', 'tess@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-1', 'DR-A', 2, 'Dee', 'dee@example.com', '+4915100000003')" \
	-c "SELECT waitlist.place_backorder('ORD-2', 'DR-A', 1, 'Eve', 'eve@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-3', 'DR-A', 3, 'Fay', 'fay@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-4', 'DR-A', 2, 'Gus', 'gus@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-5', 'DR-B', 1, 'Hal', 'hal@example.com')" \
	-c "SELECT waitlist.place_backorder('ORD-6', 'DR-T', 2, 'Ida', 'ida@example.com')" \
	-c "SELECT waitlist.restock('DR-A', 4)" \
	-c "SELECT waitlist.restock('DR-B', 3)" \
	-c "SELECT waitlist.cancel_line((SELECT id FROM waitlist.line WHERE order_ref = 'ORD-2'))" \
	-c "SELECT waitlist.tick()" \
	-c "SELECT waitlist.ship_line((SELECT id FROM waitlist.line WHERE order_ref = 'ORD-1'))" \
	-c "SELECT waitlist.unsubscribe((SELECT min(id) FROM waitlist.subscriber WHERE email = 'cy@example.com'))" \
	-c "SELECT count(*) FROM waitlist.claim('dump-test', 5)" \
	-c "SELECT waitlist.ack('dump-test', (SELECT array_agg(id) FROM (SELECT id FROM waitlist.outbox
	                                       WHERE state = 'leased' ORDER BY id LIMIT 3) x))" \
	-c "SELECT waitlist.nack('dump-test', (SELECT min(id) FROM waitlist.outbox WHERE state = 'leased'),
	                         'smtp 451', interval '10 minutes')" \
	-c "SELECT waitlist.place_backorder('ORD-7', 'DR-A', 1, 'Jo', NULL, '+4915100000007')" \
	-c "SELECT waitlist.restock('DR-A', 2)" \
	-c "UPDATE public.app_inventory SET qty = qty + 1 WHERE sku = 'DR-T' AND location = 'south'" \
	-c "SELECT waitlist.upsert_sku('DR-P', 'Pre-order press')" \
	-c "SELECT waitlist.open_preorders('DR-P', 100, 80, DATE '2031-04-15', DATE '2031-04-22', 'deposit', 20)" \
	-c "SELECT waitlist.set_preorder_channel_limit('DR-P', 'ebay', 10)" \
	-c "SELECT waitlist.place_preorder('ORD-P1', 'DR-P', 2, 'Kim', 'kim@example.com', NULL, 'ebay', 25.00, 'EUR')" \
	-c "SELECT waitlist.set_channel('etsy', 'Etsy', backorders => 'handling_time', max_handling_days => 10)" \
	-c "SELECT waitlist.set_channel('amazon', brand_registry => true)" \
	-c "SELECT waitlist.set_listings('DR-A', ARRAY['dtc', 'amazon', 'etsy'])" \
	-c "SELECT waitlist.set_policy('DR-B', backorder_days => 20)" \
	-c "CREATE ROLE ${ROLE_PREFIX}_app" -c "CREATE ROLE ${ROLE_PREFIX}_relay" -c "CREATE ROLE ${ROLE_PREFIX}_admin" \
	-c "SELECT waitlist.grant_app('${ROLE_PREFIX}_app'), waitlist.grant_relay('${ROLE_PREFIX}_relay'),
	           waitlist.grant_admin('${ROLE_PREFIX}_admin')"; then
	cat "$WORK/setup.log"
	echo "FAIL: could not set up the source database"
	exit 1
fi

# What the source must look like for the comparison to mean something.
expect "source: tick expanded messages, and a newer batch waits unexpanded" \
	"$(q -d "$SRC" -c "SELECT (SELECT count(*) > 0 FROM waitlist.batch WHERE expanded_at IS NOT NULL)
	                   AND (SELECT count(*) > 0 FROM waitlist.batch WHERE expanded_at IS NULL)
	                   AND (SELECT count(*) > 0 FROM waitlist.outbox WHERE kind = 'ready_to_ship')")" "t"
expect "source: messages in several states (pending, leased, delivered)" \
	"$(q -d "$SRC" -c "SELECT string_agg(DISTINCT state, ',' ORDER BY state) FROM waitlist.outbox")" \
	"delivered,leased,pending"
expect "source: lines waiting, partially allocated, allocated, shipped, cancelled" \
	"$(q -d "$SRC" -c "SELECT string_agg(DISTINCT status, ',' ORDER BY status) FROM waitlist.line_status")" \
	"allocated,cancelled,partially_allocated,shipped,waiting"
expect "source: the tracked inventory moved DR-T (1 + 1 units, allocated to ORD-6)" \
	"$(q -d "$SRC" -c "SELECT on_hand || '/' || allocated FROM waitlist.sku WHERE sku = 'DR-T'")" "2/2"

# -------------------------------------------------------- dump and restore
if pg_dump --no-owner -f "$DUMP" "$SRC" 2>"$WORK/dump.log"; then
	pass "pg_dump of the source database"
else
	cat "$WORK/dump.log"
	fail "pg_dump of the source database"
	exit 1
fi
createdb "$DST" || { echo "FAIL: createdb $DST"; exit 1; }
if q --table --single-transaction -d "$DST" -f "$DUMP" >"$WORK/restore.log" 2>&1; then
	pass "restore into a new database (psql -f, single transaction, stop on error)"
else
	cat "$WORK/restore.log"
	fail "restore into a new database"
	exit 1
fi
if grep -qi "warning\|error" "$WORK/restore.log"; then
	fail "restore printed warnings or errors: $(grep -i 'warning\|error' "$WORK/restore.log" | head -3)"
else
	pass "restore printed no warning"
fi

# ---------------------------------------------------------- same user data
# Row count and md5 of every row in key order, per table (and the views).
checksum_sql="
SELECT 'sku', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM waitlist.sku t
UNION ALL SELECT 'line', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM waitlist.line t
UNION ALL SELECT 'subscriber', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM waitlist.subscriber t
UNION ALL SELECT 'batch', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM waitlist.batch t
UNION ALL SELECT 'outbox', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM waitlist.outbox t
UNION ALL SELECT 'tracked_inventory', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY inventory::text), ''))
  FROM waitlist.tracked_inventory t
UNION ALL SELECT 'line_status', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM waitlist.line_status t
UNION ALL SELECT 'subscriber_status', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY id), '')) FROM waitlist.subscriber_status t
UNION ALL SELECT 'app_inventory', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY sku, location), ''))
  FROM public.app_inventory t
UNION ALL SELECT 'preorder_channel', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY sku, channel), ''))
  FROM waitlist.preorder_channel t
UNION ALL SELECT 'channel_rule', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY channel), ''))
  FROM waitlist.channel_rule t
UNION ALL SELECT 'channel', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY channel), ''))
  FROM waitlist.channel t
UNION ALL SELECT 'availability', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY sku, channel), ''))
  FROM waitlist.availability t
UNION ALL SELECT 'preorder_status', count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY sku), ''))
  FROM waitlist.preorder_status() t"
src_sums="$(q -d "$SRC" -F ' ' -c "$checksum_sql")"
dst_sums="$(q -d "$DST" -F ' ' -c "$checksum_sql")"
while read -r table count sum; do
	other="$(echo "$dst_sums" | awk -v t="$table" '$1 == t { print $2 " " $3 }')"
	if [ "$other" = "$count $sum" ]; then
		pass "$table: $count rows, identical content (md5 $sum)"
	else
		fail "$table: source '$count $sum', restored '$other'"
	fi
done <<<"$src_sums"
if [ "$(echo "$src_sums" | awk '$2 == 0' | wc -l)" -eq 0 ]; then
	pass "every compared table has rows"
else
	fail "some compared tables are empty: $(echo "$src_sums" | awk '$2 == 0 { print $1 }' | xargs)"
fi

seq_sql="
SELECT string_agg(format('%s=%s/%s', s.relname, s.last_value, s.is_called), ' ' ORDER BY s.relname)
  FROM (SELECT 'sku_id_seq' AS relname, last_value, is_called FROM waitlist.sku_id_seq
		UNION ALL SELECT 'line_id_seq', last_value, is_called FROM waitlist.line_id_seq
		UNION ALL SELECT 'subscriber_id_seq', last_value, is_called FROM waitlist.subscriber_id_seq
		UNION ALL SELECT 'batch_id_seq', last_value, is_called FROM waitlist.batch_id_seq
		UNION ALL SELECT 'outbox_id_seq', last_value, is_called FROM waitlist.outbox_id_seq) s"
expect "sequence positions restored" "$(q -d "$DST" -c "$seq_sql")" "$(q -d "$SRC" -c "$seq_sql")"
expect "extension registered with the same version and config tables" \
	"$(q -d "$DST" -c "SELECT extversion || ' ' || array_length(extconfig, 1) FROM pg_extension WHERE extname = 'waitlist'")" \
	"$(q -d "$SRC" -c "SELECT extversion || ' ' || array_length(extconfig, 1) FROM pg_extension WHERE extname = 'waitlist'")"
expect "the inventory trigger exists on the restored app table" \
	"$(q -d "$DST" -c "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.app_inventory'::regclass
	                AND tgfoid = 'waitlist.inventory_trigger()'::regprocedure AND NOT tgisinternal")" "1"

expect "the shop's channel changes survive: DR-P takes pre-orders on Amazon (Brand Registry)" \
	"$(q -d "$DST" -c "SELECT decision FROM waitlist.policy('DR-P', 'amazon')")" "preorder"
expect "the pre-order plan survives: 78 of 80 units left" \
	"$(q -d "$DST" -c "SELECT status FROM waitlist.preorder_status('DR-P')")" "ACCEPTING PREORDERS (78 remaining)"

# What each granted role may do in schema waitlist, one line per role.
grants_sql="
SELECT r.rolname || ': ' || concat_ws(' ',
	   (SELECT 'schema:' || string_agg(x, ',' ORDER BY x) FROM unnest(ARRAY['USAGE', 'CREATE']) x
		 WHERE has_schema_privilege(r.oid, 'waitlist', x)),
	   (SELECT string_agg(replace(p.oid::regprocedure::text, ' ', '_'), ' ' ORDER BY p.oid::regprocedure::text) FROM pg_proc p
		 WHERE p.pronamespace = 'waitlist'::regnamespace AND has_function_privilege(r.oid, p.oid, 'EXECUTE')),
	   (SELECT string_agg(c.oid::regclass::text, ' ' ORDER BY c.oid::regclass::text) FROM pg_class c
		 WHERE c.relnamespace = 'waitlist'::regnamespace AND has_table_privilege(r.oid, c.oid, 'SELECT')))
  FROM pg_roles r WHERE r.rolname LIKE '${ROLE_PREFIX}_%' ORDER BY r.rolname"
src_grants="$(q -d "$SRC" -c "$grants_sql")"
expect "the app, relay and admin roles keep exactly their privileges (grant_app, grant_relay, grant_admin)" \
	"$(q -d "$DST" -c "$grants_sql")" "$src_grants"
expect "the source roles hold what the grants gave (USAGE; admin 40 functions and 5 tables, app 20, relay 11, each with PUBLIC's 2)" \
	"$(echo "$src_grants" | awk '{ print $2, NF - 2 }' | xargs)" "schema:USAGE 47 schema:USAGE 22 schema:USAGE 13"

# ------------------------------------------------------ life after restore
max_sub="$(q -d "$DST" -c "SELECT max(id) FROM waitlist.subscriber")"
if new_sub="$(q -d "$DST" -c "SELECT waitlist.subscribe('DR-A', 'new-after-restore@example.com')" 2>&1)" &&
	[ "$new_sub" -gt "$max_sub" ]; then
	pass "subscribe after restore gets a fresh id ($new_sub > $max_sub)"
else
	fail "subscribe after restore: '$new_sub' (largest id before: $max_sub)"
fi
max_line="$(q -d "$DST" -c "SELECT max(id) FROM waitlist.line")"
if new_line="$(q -d "$DST" -c "SELECT waitlist.place_backorder('ORD-AFTER', 'DR-A', 1, NULL, 'after@example.com')" 2>&1)" &&
	[ "$new_line" -gt "$max_line" ]; then
	pass "place_backorder after restore gets a fresh id ($new_line > $max_line)"
else
	fail "place_backorder after restore: '$new_line' (largest id before: $max_line)"
fi
if new_sku="$(q -d "$DST" -c "SELECT (waitlist.upsert_sku('DR-NEW')).id" 2>&1)" &&
	[ "$new_sku" -gt "$(q -d "$DST" -c "SELECT max(id) FROM waitlist.sku WHERE sku <> 'DR-NEW'")" ]; then
	pass "upsert_sku after restore gets a fresh id ($new_sku)"
else
	fail "upsert_sku after restore: '$new_sku'"
fi

# The head of DR-A's queue: the first waiting line short of units.
head_line="$(q -d "$DST" -c "SELECT l.id FROM waitlist.line l JOIN waitlist.line_status s ON s.id = l.id
                           WHERE s.sku = 'DR-A' AND s.status IN ('waiting', 'partially_allocated')
                           ORDER BY l.pos_start LIMIT 1")"
head_missing="$(q -d "$DST" -c "SELECT qty - allocated FROM waitlist.line_status WHERE id = $head_line")"
next_before="$(q -d "$DST" -c "SELECT string_agg(id || ':' || allocated, ',' ORDER BY id) FROM waitlist.line_status
                            WHERE sku = 'DR-A' AND id <> $head_line")"
alloc_before="$(q -d "$DST" -c "SELECT allocated FROM waitlist.sku WHERE sku = 'DR-A'")"
max_outbox="$(q -d "$DST" -c "SELECT max(id) FROM waitlist.outbox")"
if q -d "$DST" -c "SELECT waitlist.restock('DR-A', $head_missing)" >/dev/null 2>"$WORK/restock.log"; then
	pass "restock of $head_missing unit(s) in the restored database commits"
else
	fail "restock in the restored database: $(cat "$WORK/restock.log")"
fi
expect "allocation after restore: the next waiting line (id $head_line) is now fully allocated" \
	"$(q -d "$DST" -c "SELECT status FROM waitlist.line_status WHERE id = $head_line")" "allocated"
expect "allocation after restore: the lines behind it are unchanged (FIFO)" \
	"$(q -d "$DST" -c "SELECT string_agg(id || ':' || allocated, ',' ORDER BY id) FROM waitlist.line_status
	                WHERE sku = 'DR-A' AND id <> $head_line")" "$next_before"
expect "allocation after restore: sku.allocated grew by the units restocked" \
	"$(q -d "$DST" -c "SELECT allocated FROM waitlist.sku WHERE sku = 'DR-A'")" "$((alloc_before + head_missing))"

on_hand_t="$(q -d "$DST" -c "SELECT on_hand FROM waitlist.sku WHERE sku = 'DR-T'")"
q -d "$DST" -c "UPDATE public.app_inventory SET qty = qty + 3 WHERE sku = 'DR-T' AND location = 'north'" >/dev/null
expect "the inventory trigger still moves units on hand after restore" \
	"$(q -d "$DST" -c "SELECT on_hand FROM waitlist.sku WHERE sku = 'DR-T'")" "$((on_hand_t + 3))"

if written="$(q -d "$DST" -c "SELECT waitlist.tick()" 2>&1)" && [ "$written" -gt 0 ]; then
	pass "tick after restore expands the pending batches ($written messages)"
else
	fail "tick after restore: '$written'"
fi
expect "no batch is left unexpanded" \
	"$(q -d "$DST" -c "SELECT count(*) FROM waitlist.batch WHERE expanded_at IS NULL")" "0"
expect "the restocked line got its ready_to_ship message with a fresh outbox id" \
	"$(q -d "$DST" -c "SELECT count(*) FROM waitlist.outbox WHERE kind = 'ready_to_ship'
	                AND (payload->>'line_id')::bigint = $head_line AND id > $max_outbox")" \
	"$(q -d "$DST" -c "SELECT (email IS NOT NULL)::int + (phone IS NOT NULL)::int FROM waitlist.line WHERE id = $head_line")"
expect "claim and ack work on the restored outbox" \
	"$(q -d "$DST" -c "SELECT waitlist.ack('after-restore', (SELECT array_agg(id) FROM waitlist.claim('after-restore', 100)))
	                > 0")" "t"
expect "invariants hold in the restored database (allocated = sum of line allocations <= on_hand)" \
	"$(q -d "$DST" -c "SELECT bool_and(s.allocated = coalesce((SELECT sum(allocated) FROM waitlist.line_status ls
	                                 WHERE ls.sku = s.sku AND ls.status NOT IN ('shipped', 'cancelled')), 0)
	                         AND s.allocated <= s.on_hand) FROM waitlist.sku s")" "t"

echo
if [ "$failures" -eq 0 ]; then
	echo "dump_restore: all checks passed"
	exit 0
fi
echo "dump_restore: $failures check(s) failed"
exit 1
