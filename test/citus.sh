#!/usr/bin/env bash
# test/citus.sh: waitlist.distribute() on Citus (issue 13).  Starts a
# cluster of its own with Citus preloaded, as a single node whose
# coordinator holds the shards, creates both extensions and distributes:
# the six SKU tables must be hash-distributed by sku in one colocation
# group with waitlist.sku, channel_rule and tracked_inventory reference
# tables, the outbox a local table, and every function with a sku argument
# distributed by it.  Without Citus installed it prints one line saying it
# was skipped and why, and passes.
#
# Then the per-SKU API on the distributed tables: sign-ups, backorders,
# restocks allocated at commit, the (sku, id) handles, pre-orders at their
# limit, a transaction over two SKUs.
#
# Not covered yet (issue 13): a coordinator with workers (two-phase commit
# across them), claim()/tick()/check_invariants() on distributed tables
# (Citus refuses their multi-shard FOR UPDATE and the join with the local
# outbox), one relay per node.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/harness.sh

if [ ! -f "$(pg_config --pkglibdir)/citus.so" ]; then
	echo "SKIP: Citus is not installed ($(pg_config --pkglibdir)/citus.so is missing)"
	exit 0
fi
failures=0
expect() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', expected '$3'"; fi
}

cluster_start "shared_preload_libraries = 'citus'" "wal_level = logical" \
	>/dev/null || { echo "FAIL: cluster_start"; exit 1; }
q -c "CREATE EXTENSION citus" \
	-c "SELECT citus_set_coordinator_host('localhost', current_setting('port')::int)" \
	-c "SELECT citus_set_node_property('localhost', current_setting('port')::int, 'shouldhaveshards', true)" \
	-c "CREATE EXTENSION waitlist" >/dev/null || { echo "FAIL: CREATE EXTENSION citus, waitlist"; exit 1; }

done_lines="$(q -c "SELECT count(*) FROM waitlist.distribute()")"
expect "waitlist.distribute() reports 6 tables, 2 reference tables and 21 functions" "$done_lines" "29"
expect "the SKU tables are hash-distributed by sku, colocated with waitlist.sku" \
	"$(q -c "SELECT string_agg(p.logicalrelid::text, ',' ORDER BY p.logicalrelid::text)
			   FROM pg_dist_partition p, pg_dist_partition s
			  WHERE s.logicalrelid = 'waitlist.sku'::regclass AND p.partmethod = 'h'
				AND p.colocationid = s.colocationid
				AND column_to_column_name(p.logicalrelid, p.partkey) = 'sku'")" \
	"waitlist.availability,waitlist.batch,waitlist.line,waitlist.preorder_channel,waitlist.sku,waitlist.subscriber"
expect "channel_rule and tracked_inventory are reference tables" \
	"$(q -c "SELECT string_agg(logicalrelid::text, ',' ORDER BY logicalrelid::text) FROM pg_dist_partition
			  WHERE partmethod = 'n' AND repmodel = 't'")" \
	"waitlist.channel_rule,waitlist.tracked_inventory"
expect "the outbox stays a local table" \
	"$(q -c "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'waitlist.outbox'::regclass")" "0"
expect "every function with a sku argument is distributed by it, colocated with waitlist.sku" \
	"$(q -c "SELECT count(*) FILTER (WHERE o.distribution_argument_index IS NULL
								   OR (p.proargnames)[o.distribution_argument_index + 1] <> 'sku'
								   OR o.colocationid <> (SELECT colocationid FROM pg_dist_partition
														  WHERE logicalrelid = 'waitlist.sku'::regclass))
			   || '/' || count(*)
			   FROM pg_proc p LEFT JOIN pg_dist_object o
					ON o.classid = 'pg_proc'::regclass AND o.objid = p.oid
			  WHERE p.pronamespace = 'waitlist'::regnamespace AND 'sku' = ANY (p.proargnames)
				AND p.proargtypes[array_position(p.proargnames, 'sku') - 1] = 'text'::regtype")" "0/21"

# The per-SKU API on the distributed tables (one node: every call is
# delegated to the shard that holds its SKU, allocation runs at commit).
policy_off
api() { q -c "$1" 2>&1; }
api "SELECT waitlist.upsert_sku('CT-A', 'Citus A', confirm_signups => false),
			waitlist.upsert_sku('CT-B', 'Citus B', confirm_signups => false)" >/dev/null
expect "subscribe on a distributed SKU" \
	"$(api "SELECT count(waitlist.subscribe('CT-A', 'a' || g || '@example.com')) FROM generate_series(1, 5) g")" "5"
o1="$(api "SELECT waitlist.place_backorder('O-1', 'CT-A', 2, 'Ann', 'ann@example.com')")"
o2="$(api "SELECT waitlist.place_backorder('O-2', 'CT-A', 1, 'Bob', 'bob@example.com')")"
o3="$(api "SELECT waitlist.place_backorder('O-3', 'CT-B', 1, 'Cy', 'cy@example.com')")"
expect "backorders start the SKU's status rounds" \
	"$(api "SELECT string_agg(sku || ':' || (next_status_at IS NOT NULL), ',' ORDER BY sku) FROM waitlist.sku WHERE sku IN ('CT-A', 'CT-B')")" \
	"CT-A:true,CT-B:true"
expect "post_update to the SKU's waiting lines" "$(api "SELECT waitlist.post_update('CT-A', 'On the boat')")" "2"
expect "queue_position(sku, line_id)" "$(api "SELECT position || ' of ' || total FROM waitlist.queue_position('CT-A', $o2)")" "2 of 2"
api "SELECT waitlist.restock('CT-A', 4)" >/dev/null
expect "restock allocates at commit: paid lines first, then one sign-up told" \
	"$(api "SELECT string_agg(order_ref || ':' || status, ',' ORDER BY order_ref) FROM waitlist.line_status")/$(api "SELECT on_hand || ',' || allocated || ',' || sub_served FROM waitlist.sku WHERE sku = 'CT-A'")" \
	"O-1:allocated,O-2:allocated,O-3:waiting/4,3,1"
api "SELECT waitlist.ship_line('CT-A', $o1)" >/dev/null
expect "ship_line(sku, line_id)" "$(api "SELECT status FROM waitlist.line_status WHERE order_ref = 'O-1'")" "shipped"
expect "cancel_line(sku, line_id)" "$(api "SELECT waitlist.cancel_line('CT-B', $o3)")" "0"
sub="$(api "SELECT max(id) FROM waitlist.subscriber WHERE sku = 'CT-A'")"
expect "unsubscribe(sku, id)" "$(api "SELECT waitlist.unsubscribe('CT-A', $sub)")" "t"
api "SELECT waitlist.upsert_sku('CT-P', 'Citus P')" >/dev/null
api "SELECT waitlist.open_preorders('CT-P', 10, 50, current_date + 10, current_date + 20)" >/dev/null
expect "set_schedule on a distributed SKU (its pre-orders replanned)" \
	"$(api "SELECT imminent_days FROM waitlist.set_schedule('CT-P', imminent_days => 3)")" "3"
expect "pre-orders up to the limit, WL010 beyond it" \
	"$(api "SELECT count(waitlist.place_preorder('P-' || g, 'CT-P', 1, NULL, 'p' || g || '@example.com', NULL, 'dtc', 10, 'EUR')) FROM generate_series(1, 5) g")/$(q -v VERBOSITY=sqlstate -c "SELECT waitlist.place_preorder('P-6', 'CT-P', 1, NULL, 'p6@example.com', NULL, 'dtc', 10, 'EUR')" 2>&1 | sed -n 's/^ERROR: *//p')" \
	"5/WL010"
expect "a transaction over two SKUs allocates both at commit" \
	"$(q -c "BEGIN" -c "SELECT waitlist.restock('CT-A', 1)" -c "SELECT waitlist.restock('CT-B', 1)" -c "COMMIT" >/dev/null &&
	   api "SELECT string_agg(sku || ':' || on_hand || '/' || allocated, ',' ORDER BY sku) FROM waitlist.sku WHERE sku IN ('CT-A', 'CT-B')")" \
	"CT-A:3/1,CT-B:1/0"
expect "the batches of those commits are on the shards (5)" "$(api "SELECT count(*) FROM waitlist.batch")" "5"

echo
if [ "$failures" -eq 0 ]; then
	echo "citus: all checks passed"
else
	echo "citus: $failures check(s) failed"
	exit 1
fi
