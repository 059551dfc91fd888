#!/usr/bin/env bash
# test/citus.sh: waitlist on a Citus cluster (issue 13): a coordinator and
# two workers on loopback (free ports, private socket directories, run as
# the postgres user, all three stopped on exit, even after a failure;
# tools/harness.sh), each with its own waitlist.node_id.
#
#   - CREATE EXTENSION waitlist on the coordinator reaches the workers, and
#     waitlist.distribute() distributes the SKU tables by sku (one
#     colocation group), makes channel_rule and tracked_inventory reference
#     tables, keeps the outbox local and distributes the SKU functions;
#   - the per-SKU API through the coordinator: sign-ups, backorders,
#     restocks allocated at commit on the worker, the (sku, id) handles,
#     pre-orders to WL010, a transaction over two SKUs;
#   - the seed scenario: four SKUs, two on each worker, 350 sign-ups each,
#     restocks of 200, while one waitlist-relay per node (the installed
#     one, as a role granted grant_relay on every node) delivers its node's outbox to a loopback webhook
#     (test/soak/receiver.py, which checks signatures and counts every key):
#     exactly 200 back_in_stock, 150 sold_out_again and 350 waitlist_joined
#     per SKU, all written on the worker that holds the SKU;
#   - a cart over one SKU of each worker, placed and restocked in one
#     transaction on the coordinator, which Citus commits with two-phase
#     commit (pg_dist_transaction): its confirmations from the coordinator's
#     outbox, its ready_to_ship messages from each worker's, found by the
#     workers' relays through next_due() (a prepared transaction sends no
#     NOTIFY);
#   - 16 clients racing through the coordinator for a pre-order limit of 80:
#     exactly 80 accepted, the others WL010;
#   - every message of every node delivered, none twice, and
#     check_invariants() clean on every node.
#
# Without Citus installed it prints one line saying it was skipped and why,
# and passes.  One to three minutes (three servers, 1400 sign-ups, three
# relays).
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/harness.sh

if [ ! -f "$(pg_config --pkglibdir)/citus.so" ]; then
	echo "SKIP: Citus is not installed ($(pg_config --pkglibdir)/citus.so is missing)"
	exit 0
fi
RELAY="$(command -v waitlist-relay)" || { echo "FAIL: waitlist-relay is not installed (tools/build.sh)"; exit 1; }
failures=0
expect() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', expected '$3'"; fi
}
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { echo "FAIL: $*"; exit 1; }

SECRET="whsec_Y2l0dXMtdGVzdC1zaWduaW5nLXNlY3JldC0zMmJ5dGVzIQ=="
OUT="$(mktemp -d /tmp/waitlist-citus.XXXXXX)"
chmod 755 "$OUT"
RELAY_PIDS=()
RECEIVER_PID=""
cleanup() {
	local pid
	for pid in "${RELAY_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
	[ -n "$RECEIVER_PID" ] && kill -9 "$RECEIVER_PID" 2>/dev/null
	if [ -n "${CITUS_KEEP:-}" ]; then
		mkdir -p "$CITUS_KEEP" && cp -r "$OUT"/. "$CITUS_KEEP"/
	fi
	rm -rf "$OUT"
	cluster_stop
}

# ------------------------------------------------------------------ nodes
# Node 0 is the coordinator (it holds no shards), 1 and 2 the workers.
NODE_DIR=()
NODE_PORT=()
for n in 0 1 2; do
	[ "$n" -gt 0 ] && cluster_push
	cluster_start "shared_preload_libraries = 'citus'" \
		"listen_addresses = '127.0.0.1'" \
		"shared_buffers = 64MB" \
		"max_prepared_transactions = 50" \
		"citus.recover_2pc_interval = -1" \
		"waitlist.node_id = $((n + 1))" >/dev/null || die "cluster_start (node $n)"
	trap cleanup EXIT
	NODE_DIR+=("$WL_CLUSTER_DIR")
	NODE_PORT+=("$WL_CLUSTER_PORT")
	q -c "CREATE EXTENSION citus" >/dev/null || die "CREATE EXTENSION citus (node $n)"
done
# on N psql-arguments...: q on node N
on() {
	local n="$1"
	shift
	PGHOST="${NODE_DIR[$n]}" PGPORT="${NODE_PORT[$n]}" q "$@"
}
c() { on 0 "$@"; }
c -c "SELECT citus_set_coordinator_host('127.0.0.1', ${NODE_PORT[0]})" \
	-c "SELECT citus_add_node('127.0.0.1', ${NODE_PORT[1]})" \
	-c "SELECT citus_add_node('127.0.0.1', ${NODE_PORT[2]})" \
	-c "CREATE EXTENSION waitlist" >/dev/null || die "adding the workers, CREATE EXTENSION waitlist"
say "coordinator on port ${NODE_PORT[0]}, workers on ${NODE_PORT[1]} and ${NODE_PORT[2]}"
expect "CREATE EXTENSION waitlist on the coordinator reaches both workers" \
	"$(on 1 -c "SELECT extversion FROM pg_extension WHERE extname = 'waitlist'")/$(on 2 -c "SELECT extversion FROM pg_extension WHERE extname = 'waitlist'")" \
	"$(c -c "SELECT extversion FROM pg_extension WHERE extname = 'waitlist'")/$(c -c "SELECT extversion FROM pg_extension WHERE extname = 'waitlist'")"

# ------------------------------------------------------------- distribute
expect "waitlist.distribute() reports 12 tables, 5 reference tables and 25 functions" \
	"$(c -c "SELECT count(*) FROM waitlist.distribute()")" "42"
expect "the SKU tables are hash-distributed by sku, colocated with waitlist.sku" \
	"$(c -c "SELECT string_agg(p.logicalrelid::text, ',' ORDER BY p.logicalrelid::text)
			   FROM pg_dist_partition p, pg_dist_partition s
			  WHERE s.logicalrelid = 'waitlist.sku'::regclass AND p.partmethod = 'h'
				AND p.colocationid = s.colocationid
				AND column_to_column_name(p.logicalrelid, p.partkey) = 'sku'")" \
	"waitlist.availability,waitlist.batch,waitlist.hold,waitlist.line,waitlist.page_view,waitlist.preorder_channel,waitlist.purchase,waitlist.sale_period,waitlist.sku,waitlist.subscriber,waitlist.unconfirmed_signup,waitlist.view_day"
expect "channel_rule, tracked_inventory, suppression, consent_log and view_day_done are reference tables" \
	"$(c -c "SELECT string_agg(logicalrelid::text, ',' ORDER BY logicalrelid::text) FROM pg_dist_partition
			  WHERE partmethod = 'n' AND repmodel = 't'")" \
	"waitlist.channel_rule,waitlist.consent_log,waitlist.suppression,waitlist.tracked_inventory,waitlist.view_day_done"
# An opt-out through the coordinator reaches every node's copy of the list,
# which each node's claim() reads.
c -c "SELECT waitlist.opt_out('citus-optout@example.com', 'citus test')" >/dev/null
expect "an opt-out on the coordinator is on every node's suppression list" \
	"$(for n in 0 1 2; do on $n -c "SELECT count(*) FROM waitlist.suppression WHERE contact = 'citus-optout@example.com'"; done | xargs)" \
	"1 1 1"
expect "the outbox stays a local table" \
	"$(c -c "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'waitlist.outbox'::regclass")" "0"
expect "every function with a sku argument is distributed by it, colocated with waitlist.sku" \
	"$(c -c "SELECT count(*) FILTER (WHERE o.distribution_argument_index IS NULL
								   OR (p.proargnames)[o.distribution_argument_index + 1] <> 'sku'
								   OR o.colocationid <> (SELECT colocationid FROM pg_dist_partition
														  WHERE logicalrelid = 'waitlist.sku'::regclass))
			   || '/' || count(*)
			   FROM pg_proc p LEFT JOIN pg_dist_object o
					ON o.classid = 'pg_proc'::regclass AND o.objid = p.oid
			  WHERE p.pronamespace = 'waitlist'::regnamespace AND 'sku' = ANY (p.proargnames)
				AND p.proargtypes[array_position(p.proargnames, 'sku') - 1] = 'text'::regtype")" "0/25"
expect "the shards are on the two workers, none on the coordinator" \
	"$(c -c "SELECT string_agg(DISTINCT nodeport::text, ',' ORDER BY nodeport::text) FROM pg_dist_shard_placement
			  JOIN pg_dist_shard USING (shardid) WHERE logicalrelid = 'waitlist.sku'::regclass")" \
	"$(printf '%s\n' "${NODE_PORT[1]}" "${NODE_PORT[2]}" | sort | paste -sd,)"

# SKUS: the SKUs picked for the scenario, by worker: candidate codes and
# the worker that holds each (found through the coordinator's metadata).
worker_of() {
	local port
	port="$(c -c "SELECT nodeport FROM pg_dist_shard_placement
				   WHERE shardid = get_shard_id_for_distribution_column('waitlist.sku', '$1')")"
	[ "$port" = "${NODE_PORT[1]}" ] && echo 1
	[ "$port" = "${NODE_PORT[2]}" ] && echo 2
}
declare -A PICKED=([1]="" [2]="")
for g in $(seq 1 40); do
	code="SKU-$g"
	w="$(worker_of "$code")"
	[ -n "$w" ] && [ "$(wc -w <<<"${PICKED[$w]}")" -lt 5 ] && PICKED[$w]="${PICKED[$w]} $code"
done
read -r -a ON1 <<<"${PICKED[1]}"
read -r -a ON2 <<<"${PICKED[2]}"
[ "${#ON1[@]}" -eq 5 ] && [ "${#ON2[@]}" -eq 5 ] || die "five SKUs on each worker among SKU-1..SKU-40"
# two drops per worker, one cart SKU per worker, the API's SKUs, a pre-order SKU
DROPS=("${ON1[0]}" "${ON1[1]}" "${ON2[0]}" "${ON2[1]}")
CART1="${ON1[2]}"
CART2="${ON2[2]}"
API_A="${ON1[3]}"
API_B="${ON2[3]}"
PRE="${ON1[4]}"
say "drops ${DROPS[*]}; cart $CART1 + $CART2; API $API_A + $API_B; pre-orders $PRE"

# ---------------------------------------------------------- per-SKU API
# Through the coordinator: each call outside a transaction block is
# delegated to the worker that holds its SKU and allocates there at commit.
api() { c -c "$1" 2>&1; }
api "SELECT waitlist.upsert_sku('$API_A', 'Citus A', confirm_signups => false,
									restock_date => current_date + 7, restock_confirmed => true),
			waitlist.upsert_sku('$API_B', 'Citus B', confirm_signups => false,
									restock_date => current_date + 7, restock_confirmed => true)" >/dev/null
expect "subscribe on a distributed SKU" \
	"$(for g in 1 2 3 4 5; do api "SELECT waitlist.subscribe('$API_A', 'a$g@example.com')"; done | grep -c '^[0-9]')" "5"
o1="$(api "SELECT waitlist.place_backorder('O-1', '$API_A', 2, 'Ann', 'ann@example.com')")"
o2="$(api "SELECT waitlist.place_backorder('O-2', '$API_A', 1, 'Bob', 'bob@example.com')")"
o3="$(api "SELECT waitlist.place_backorder('O-3', '$API_B', 1, 'Cy', 'cy@example.com')")"
expect "ids made on worker $(worker_of "$API_A") carry its node_id $(($(worker_of "$API_A") + 1)) in the top bits" \
	"$((o1 >> 48))/$((o3 >> 48))" "$(($(worker_of "$API_A") + 1))/$(($(worker_of "$API_B") + 1))"
expect "queue_position(sku, line_id)" "$(api "SELECT position || ' of ' || total FROM waitlist.queue_position('$API_A', $o2)")" "2 of 2"
expect "backorders start the SKU's status rounds" \
	"$(api "SELECT string_agg((next_status_at IS NOT NULL)::text, ',') FROM waitlist.sku WHERE sku IN ('$API_A', '$API_B')")" "true,true"
expect "post_update to the SKU's waiting lines" "$(api "SELECT waitlist.post_update('$API_A', 'On the boat')")" "2"
api "SELECT waitlist.restock('$API_A', 4)" >/dev/null
expect "restock allocates at commit on the worker: paid lines first, then one sign-up told" \
	"$(api "SELECT string_agg(order_ref || ':' || status, ',' ORDER BY order_ref) FROM waitlist.line_status")/$(api "SELECT on_hand || ',' || allocated || ',' || sub_served FROM waitlist.sku WHERE sku = '$API_A'")" \
	"O-1:allocated,O-2:allocated,O-3:waiting/4,3,1"
api "SELECT waitlist.ship_line('$API_A', $o1)" >/dev/null
expect "ship_line(sku, line_id)" "$(api "SELECT status FROM waitlist.line_status WHERE order_ref = 'O-1'")" "shipped"
expect "cancel_line(sku, line_id)" "$(api "SELECT waitlist.cancel_line('$API_B', $o3)")" "0"
sub="$(api "SELECT max(id) FROM waitlist.subscriber WHERE sku = '$API_A'")"
expect "unsubscribe(sku, id)" "$(api "SELECT waitlist.unsubscribe('$API_A', $sub)")" "t"
expect "a transaction over two SKUs on two workers allocates both at commit" \
	"$(c -c "BEGIN" -c "SELECT waitlist.restock('$API_A', 1)" -c "SELECT waitlist.restock('$API_B', 1)" -c "COMMIT" >/dev/null &&
	   api "SELECT string_agg(on_hand || '/' || allocated, ',' ORDER BY sku = '$API_B') FROM waitlist.sku WHERE sku IN ('$API_A', '$API_B')")" \
	"3/1,1/0"

# Holds on a distributed SKU, through the coordinator (each call a plain
# SELECT f(...), which Citus delegates to the SKU's worker): a sign-up told of
# the free unit gets it held, claims it; the next restock holds one for the
# next sign-up, and a stock count takes it back (the wave shrinks, the SKU
# sells out and the sign-up keeps its place).
api "SELECT waitlist.set_hold_window('$API_B', '2 hours')" >/dev/null
api "SELECT waitlist.subscribe('$API_B', 'h1@example.com')" >/dev/null
api "SELECT waitlist.subscribe('$API_B', 'h2@example.com')" >/dev/null
expect "holds: the free unit is held for the first sign-up, who claims it" \
	"$(api "SELECT held FROM waitlist.sku WHERE sku = '$API_B'")/$(api "SELECT waitlist.claim_hold('$API_B', 'h1@example.com', 'HC-1')" | grep -c '^[0-9]')/$(api "SELECT allocated || ',' || held FROM waitlist.sku WHERE sku = '$API_B'")" \
	"1/1/1,0"
api "SELECT waitlist.restock('$API_B', 1)" >/dev/null
api "SELECT waitlist.set_on_hand('$API_B', 1)" >/dev/null
expect "holds: a restock holds a unit for the next sign-up, a stock count takes it back, the sign-up keeps its place" \
	"$(api "SELECT on_hand || ',' || allocated || ',' || held || ',' || sub_served FROM waitlist.sku WHERE sku = '$API_B'")/$(api "SELECT string_agg(units || ':' || claimed || ':' || (closed_at IS NOT NULL), ',' ORDER BY wave) FROM waitlist.hold WHERE sku = '$API_B'")/$(api "SELECT kept_place FROM waitlist.subscriber WHERE sku = '$API_B' AND email = 'h2@example.com'")" \
	"1,1,0,1/1:1:true,0:0:true/t"
# (its worker writes the holds' messages to its own outbox)
expect "holds: the worker that holds $API_B expands its waves" \
	"$(on "$(worker_of "$API_B")" -c "SELECT waitlist.expand_batches(100) > 0")" "t"

# The per-node work, by hand, before any relay runs: a worker expands the
# batches of its own shards into its own outbox; the coordinator, which
# holds no shard, has nothing to expand.
wa="$(worker_of "$API_A")"
expect "worker $wa: next_due() is now (its shards' batches wait), expand_batches() writes them to its outbox, tick() then has nothing left" \
	"$(on "$wa" -c "SELECT waitlist.next_due() <= now()")/$(on "$wa" -c "SELECT waitlist.expand_batches(100) > 0")/$(on "$wa" -c "SELECT waitlist.tick()")/$(on "$wa" -c "SELECT count(DISTINCT sku) || ':' || min(sku) FROM waitlist.outbox WHERE kind IN ('ready_to_ship', 'back_in_stock')")" \
	"t/t/0/1:$API_A"
expect "the coordinator: expand_batches() and tick() find nothing, next_due() nothing due" \
	"$(c -c "SELECT waitlist.expand_batches(100)")/$(c -c "SELECT waitlist.tick()")/$(c -c "SELECT coalesce(waitlist.next_due() <= now(), false)")" "0/0/f"

# A database without the citus extension on the same (Citus-preloaded)
# server: waitlist runs there as on plain PostgreSQL.
c -c "SET client_min_messages = warning" -c "CREATE DATABASE plain" >/dev/null || fail "CREATE DATABASE plain"
expect "a database without the citus extension: claim(), tick(), next_due() and check_invariants() as on a single node" \
	"$(c -d plain -c "CREATE EXTENSION waitlist" \
		-c "SELECT count(*) FROM waitlist.upsert_sku('P-1', 'Plain')" \
		-c "SELECT waitlist.subscribe('P-1', 'solo@example.com') > 0" \
		-c "SELECT waitlist.next_due() <= now()" \
		-c "SELECT count(*) FROM waitlist.claim('solo', 10)" \
		-c "SELECT waitlist.tick()" \
		-c "SELECT count(*) FROM waitlist.check_invariants()" 2>&1 | paste -sd/)" "1/t/t/1/0/0"

# ------------------------------------------------- receiver and relays
python3 test/soak/receiver.py "$SECRET" "$OUT" 0 0 >"$OUT/receiver.port" 2>"$OUT/receiver.log" &
RECEIVER_PID=$!
for _ in $(seq 50); do [ -s "$OUT/receiver.port" ] && break; sleep 0.1; done
HOOK_PORT="$(head -1 "$OUT/receiver.port")"
[ -n "$HOOK_PORT" ] || die "the receiver did not start: $(cat "$OUT/receiver.log")"
# One relay per node, each connected to its node only, as a role created on
# the coordinator (Citus creates it on the workers) and granted grant_relay
# on every node (the outbox functions and their grants are each node's).
c -c "CREATE ROLE citus_relay LOGIN" -c "SELECT waitlist.grant_relay('citus_relay')" >/dev/null ||
	die "CREATE ROLE and grant_relay on the coordinator"
for n in 1 2; do
	on "$n" -c "SET citus.enable_ddl_propagation = off" -c "SELECT waitlist.grant_relay('citus_relay')" \
		>/dev/null || die "grant_relay on worker $n"
done
for n in 0 1 2; do
	WAITLIST_RELAY_SECRET="$SECRET" "$RELAY" \
		-d "host=127.0.0.1 port=${NODE_PORT[$n]} dbname=postgres user=citus_relay" \
		--webhook "http://127.0.0.1:$HOOK_PORT/hook" --consumer "node-$n" \
		--poll-interval 1s --lease 30s >"$OUT/relay-$n.log" 2>&1 &
	RELAY_PIDS+=($!)
done

# ------------------------------------------------------- the drop scenario
for s in "${DROPS[@]}"; do
	api "SELECT waitlist.upsert_sku('$s', 'Drop $s')" >/dev/null
done
for g in $(seq 1 350); do
	for s in "${DROPS[@]}"; do
		echo "SELECT waitlist.subscribe('$s', 'fan$g.$s@example.com');"
	done
done >"$OUT/signups.sql"
c -f "$OUT/signups.sql" >/dev/null || fail "1400 sign-ups through the coordinator"
say "1400 sign-ups through the coordinator"
for s in "${DROPS[@]}"; do
	api "SELECT waitlist.restock('$s', 200)" >/dev/null
done
expect "each drop restocked with 200 at commit on its worker: 200 sign-ups told" \
	"$(api "SELECT string_agg(on_hand || '/' || sub_served, ',') FROM waitlist.sku WHERE sku LIKE 'SKU-%' AND sub_tail = 350")" \
	"200/200,200/200,200/200,200/200"

# What the lists tell the merchant, on the coordinator over the distributed
# tables: page views recorded through it (delegated to the SKU's worker),
# one SKU's metrics (its shard), every SKU's, and the roll-up.
for v in $(seq 1 10); do api "SELECT waitlist.record_view('${DROPS[0]}', 'v$v', 'notify_me')" >/dev/null; done
today="(now() AT TIME ZONE 'UTC')::date"
expect "metrics on the coordinator for ${DROPS[0]}: 350 sign-ups over 10 views, 200 people notified and none bought yet" \
	"$(c -c "SELECT string_agg(metric || ' ' || numerator || '/' || denominator, ',' ORDER BY metric)
			   FROM waitlist.metrics($today, $today, '${DROPS[0]}')
			  WHERE metric IN ('signup_rate', 'back_in_stock_conversion')" 2>&1)" \
	"back_in_stock_conversion 0/200,signup_rate 350/10"
expect "demand() on the coordinator: ${DROPS[0]} has 150 people not yet told, and every drop is listed" \
	"$(c -c "SELECT people_waiting FROM waitlist.demand('${DROPS[0]}')" 2>&1)/$(c -c "SELECT count(*) FROM waitlist.demand() WHERE sku IN ('${DROPS[0]}', '${DROPS[1]}', '${DROPS[2]}', '${DROPS[3]}')" 2>&1)" "150/4"
expect "metrics over every SKU on the coordinator, and roll_up_views() (today is not over: nothing to roll up)" \
	"$(c -c "SELECT count(*) FROM waitlist.metrics($today, $today)" 2>&1)/$(c -c "SELECT waitlist.roll_up_views()" 2>&1)" "7/0"
expect "the sell-out history on the workers: each drop went on sale once, at its restock, and is still on sale" \
	"$(c -c "SELECT count(*) || '/' || count(*) FILTER (WHERE sold_out_at IS NULL) FROM waitlist.sale_period
			  WHERE sku IN ('${DROPS[0]}', '${DROPS[1]}', '${DROPS[2]}', '${DROPS[3]}')" 2>&1)" "4/4"
expect "the revenue metrics for one SKU and fastest_sellouts() over every SKU on the coordinator" \
	"$(c -c "SELECT string_agg(metric || ' ' || verdict, ',' ORDER BY metric) FROM waitlist.metrics($today, $today, '${DROPS[0]}')
			  WHERE metric IN ('preorder_revenue_share', 'revenue_capture')" 2>&1)/$(c -c "SELECT count(*) >= 0 FROM waitlist.fastest_sellouts($today, $today, 100)" 2>&1)" \
	"preorder_revenue_share no_data,revenue_capture no_data/t"

# ------------------------------------------------- a cart over two workers
for s in "$CART1" "$CART2"; do
	api "SELECT waitlist.upsert_sku('$s', 'Cart $s', restock_date => current_date + 7, restock_confirmed => true)" >/dev/null
done
# prepared: the two workers' two-phase commit records, as "group:count"
prepared() {
	c -c "SELECT string_agg(n.groupid || ':' || (SELECT count(*) FROM pg_dist_transaction t
												  WHERE t.groupid = n.groupid), ' ' ORDER BY n.groupid)
			FROM pg_dist_node n WHERE n.nodeport IN (${NODE_PORT[1]}, ${NODE_PORT[2]})"
}
before="$(prepared)"
c -c "BEGIN" \
	-c "SELECT count(*) FROM waitlist.place_order('CART-ORDER', 'Dee', 'dee@example.com', NULL, 'dtc',
			'[{\"sku\": \"$CART1\", \"qty\": 2}, {\"sku\": \"$CART2\", \"qty\": 1}]')" \
	-c "SELECT waitlist.restock('$CART1', 2), waitlist.restock('$CART2', 1)" \
	-c "COMMIT" >/dev/null || fail "the cart over two workers"
expect "the cart's transaction was committed with two-phase commit on both workers" \
	"$(join -j1 <(tr ' :' '\n ' <<<"$before" | sort) <(prepared | tr ' :' '\n ' | sort) |
	   awk '$3 > $2 { n++ } END { print n + 0 }')" "2"
expect "the cart's lines are allocated at commit" \
	"$(api "SELECT string_agg(sku || ':' || status, ',' ORDER BY sku = '$CART2') FROM waitlist.line_status WHERE order_ref = 'CART-ORDER'")" \
	"$CART1:allocated,$CART2:allocated"

# ------------------------------------------ 16 clients at a pre-order limit
api "SELECT waitlist.upsert_sku('$PRE', 'Launch')" >/dev/null
api "SELECT waitlist.open_preorders('$PRE', 100, 80, current_date + 10, current_date + 20)" >/dev/null
CLIENT_PIDS=()
for client in $(seq 1 16); do
	for i in $(seq 1 10); do
		echo "SELECT waitlist.place_preorder('PO-$client-$i', '$PRE', 1, NULL, 'p$client.$i@example.com', NULL, 'dtc', 10, 'EUR');"
	done | PGHOST="${NODE_DIR[0]}" PGPORT="${NODE_PORT[0]}" \
		psql -X -q -A -t -v VERBOSITY=sqlstate >"$OUT/preorders-$client.out" 2>&1 &
	CLIENT_PIDS+=($!)
done
wait "${CLIENT_PIDS[@]}"
expect "16 clients through the coordinator: exactly 80 pre-orders accepted, 80 refused with WL010" \
	"$(cat "$OUT"/preorders-*.out | grep -c '^[0-9][0-9]*$')/$(cat "$OUT"/preorders-*.out | grep -c 'ERROR: *WL010')/$(cat "$OUT"/preorders-*.out | grep -v '^[0-9][0-9]*$' | grep -vc 'ERROR: *WL010')" \
	"80/80/0"
expect "the SKU counts 80 accepted, at its limit" \
	"$(api "SELECT preorder_accepted || '/' || preorder_limit || '/' || preorder_at_limit FROM waitlist.sku WHERE sku = '$PRE'")" "80/80/true"

# ----------------------------------------------------- every message out
# Done when no node has work left: every message delivered, no batch or
# confirmation waiting (counted through the coordinator).
left() {
	local n total=0
	for n in 0 1 2; do
		total=$((total + $(on "$n" -c "SELECT count(*) FROM waitlist.outbox WHERE state <> 'delivered'")))
	done
	echo $((total + $(c -c "SELECT (SELECT count(*) FROM waitlist.batch WHERE expanded_at IS NULL)
								 + (SELECT count(*) FROM waitlist.unconfirmed_signup)
								 + (SELECT count(*) FROM waitlist.line WHERE action_at <= now())")))
}
for _ in $(seq 120); do
	[ "$(left)" = 0 ] && break
	sleep 1
done
expect "every node's outbox delivered, nothing left to expand" "$(left)" "0"
say "delivered"
kill -TERM "$RECEIVER_PID"
wait "$RECEIVER_PID" 2>/dev/null
RECEIVER_PID=""

for n in 0 1 2; do
	on "$n" -F ' ' -c "SELECT $n, sku, kind, count(*) FROM waitlist.outbox GROUP BY sku, kind" >>"$OUT/kinds"
	on "$n" -c "SELECT idempotency_key FROM waitlist.outbox" >>"$OUT/keys"
done
count_of() { awk -v n="$1" -v s="$2" -v k="$3" '$1 == n && $2 == s && $3 == k { print $4 }' "$OUT/kinds"; }
for s in "${DROPS[@]}"; do
	w="$(worker_of "$s")"
	expect "$s: 200 back_in_stock, 150 sold_out_again, 350 waitlist_joined, all on worker $w" \
		"$(count_of "$w" "$s" back_in_stock)/$(count_of "$w" "$s" sold_out_again)/$(count_of "$w" "$s" waitlist_joined)/$(awk -v s="$s" -v w="$w" '$2 == s && $1 != w' "$OUT/kinds" | wc -l)" \
		"200/150/350/0"
done
expect "the cart: its confirmations in the coordinator's outbox, each line's ready_to_ship in its worker's" \
	"$(awk -v a="$CART1" -v b="$CART2" '$1 == 0 && ($2 == a || $2 == b) && $3 != "ready_to_ship" { n += $4 } END { print (n > 0) }' "$OUT/kinds")/$(count_of "$(worker_of "$CART1")" "$CART1" ready_to_ship)/$(count_of "$(worker_of "$CART2")" "$CART2" ready_to_ship)/$(count_of 0 "$CART1" ready_to_ship)$(count_of 0 "$CART2" ready_to_ship)" \
	"1/1/1/"
expect "the pre-orders' 80 preorder_confirmed messages, on the worker that holds the SKU" \
	"$(count_of "$(worker_of "$PRE")" "$PRE" preorder_confirmed)" "80"
expect "the webhook received every key of every node's outbox exactly once" \
	"$(sort "$OUT/keys" | md5sum | cut -c1-32)/$(awk '$2 != 1' "$OUT/received" | wc -l)" \
	"$(cut -f1 "$OUT/received" | sort | md5sum | cut -c1-32)/0"
expect "no duplicate delivery, no bad signature" \
	"$(python3 -c "import json,sys; s=json.load(open('$OUT/stats.json')); print(s['duplicates'], s.get('bad_signature', 0), s['keys'])")" \
	"0 0 $(wc -l <"$OUT/keys")"
for n in 0 1 2; do
	expect "check_invariants() is clean on node $n" \
		"$(on "$n" -c "SELECT count(*) FROM waitlist.check_invariants()")" "0"
done
expect "check_invariants() on a worker sees its shards (a watermark broken by hand)" \
	"$(c -c "UPDATE waitlist.sku SET sub_served = sub_served + 1 WHERE sku = '$PRE'" >/dev/null &&
	   on "$(worker_of "$PRE")" -c "SELECT invariant || ':' || sku FROM waitlist.check_invariants()";
	   c -c "UPDATE waitlist.sku SET sub_served = sub_served - 1 WHERE sku = '$PRE'" >/dev/null)" \
	"watermarks:$PRE"
if grep -l " error \| ERROR \|FATAL\|PANIC" "$OUT"/relay-*.log >/dev/null; then
	fail "a relay logged an error: $(grep -h " error \| ERROR \|FATAL\|PANIC" "$OUT"/relay-*.log | head -3)"
fi

echo
if [ "$failures" -eq 0 ]; then
	echo "citus: all checks passed"
else
	echo "citus: $failures check(s) failed"
	exit 1
fi
