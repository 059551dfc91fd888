#!/usr/bin/env bash
# Benchmark 15 (information): the WAL a placement and a sign-up write, and
# the WAL the tick that writes their messages adds.  A pre-order's
# confirmation and payment event, and a sign-up's confirmation, are written
# by the next claim()/tick() after the commit; benchmarks 3 and 5 measure
# the calls alone without --preload and the calls plus those ticks with it
# (the clock ticks every second).  With fsync on, the clients' commits wait
# for the WAL the ticks wrote before them, so what the messages cost shows
# here, in bytes, not in CPU.
#
# 8 pgbench clients make CALLS one-unit pre-orders on one SKU (benchmark 5's
# script), then a tick writes their messages; the same for sign-ups over
# 1,000 SKUs (benchmark 3's).  Bytes are WAL insert positions before and
# after each step (one CHECKPOINT before the calls, as in benchmarks 3 and
# 5); the tick's WAL by record type (pg_walinspect) goes to the progress
# log.  With the library preloaded the clock is off while this runs (it
# would tick inside the calls' step).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	CALLS=2000
else
	CALLS=8000
fi
CLIENTS=8
export PGDATABASE=wl_wal
fresh_db "$PGDATABASE" 2>/dev/null

preloaded=0
if clock_preloaded; then
	preloaded=1
	clock_switch off
	trap 'clock_switch on >/dev/null 2>&1 || true' EXIT
fi

q >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_walinspect;
SELECT waitlist.upsert_sku('hot', 'Hot pre-order product');
SELECT waitlist.open_preorders('hot', 1000000000000, 80, current_date + 60, current_date + 90);
INSERT INTO waitlist.sku (sku, title) SELECT 'sku-' || i, 'Bench product ' || i FROM generate_series(1, 1000) i;
SQL

lsn() {
	q -c "SELECT pg_current_wal_insert_lsn()"
}
bytes() {
	q -c "SELECT pg_wal_lsn_diff('$2', '$1')::bigint"
}

# measure NAME SCRIPT -> "call_bytes tick_bytes messages" (per call)
measure() {
	local a b c n msgs
	set -e	# the caller's -e does not reach into $(...)
	# a warm-up of the same calls and tick: relations and plans exist
	pgbench_run -c "$CLIENTS" -j 2 -t 25 -f "$BENCH_DIR/pgbench/$2" >/dev/null
	q -c "SELECT waitlist.tick()" >/dev/null
	q -c "VACUUM ANALYZE" >/dev/null
	q -c "CHECKPOINT" >/dev/null
	a="$(lsn)"
	read -r _ n <<<"$(pgbench_run -c "$CLIENTS" -j 2 -t "$((CALLS / CLIENTS))" -f "$BENCH_DIR/pgbench/$2")"
	b="$(lsn)"
	msgs="$(q -c "SELECT waitlist.tick()")"
	c="$(lsn)"
	[ "$n" -eq "$CALLS" ] || { say "wal: $1: $n calls of $CALLS"; return 1; }
	[ "$msgs" -gt 0 ] || { say "wal: $1: the tick wrote no message"; return 1; }
	say "wal: $1: $CALLS calls wrote $(bytes "$a" "$b") bytes, the tick after them $(bytes "$b" "$c") bytes and $msgs messages; the tick's WAL by record type:"
	q -c "SELECT format('  %-20s %7s records %10s bytes', \"resource_manager/record_type\", count, combined_size)
			FROM pg_get_wal_stats('$b', '$c', true) WHERE count > 0 ORDER BY combined_size DESC" >&2
	echo "$(calc "$(bytes "$a" "$b") / $CALLS") $(calc "$(bytes "$b" "$c") / $CALLS") $(calc "$msgs / $CALLS")"
}

out="$(measure "pre-orders" preorder_ours.sql)" || exit 1
read -r place tick msgs <<<"$out"
result "15 WAL bytes per pre-order: the tick writing its $msgs messages (vs the placement)" \
	"$tick" "$place" "$(calc "$tick / $place")" "info" "-"
out="$(measure "sign-ups" subscribe_ours.sql)" || exit 1
read -r place tick msgs <<<"$out"
result "15 WAL bytes per sign-up: the tick writing its $msgs message (vs the sign-up)" \
	"$tick" "$place" "$(calc "$tick / $place")" "info" "-"
if [ "$preloaded" = 1 ]; then
	trap - EXIT
	clock_switch on
fi
q -d postgres -c "DROP DATABASE $PGDATABASE"
