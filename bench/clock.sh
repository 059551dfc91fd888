#!/usr/bin/env bash
# Benchmark 14: what the clock's background worker costs, against the same
# tick() run from a session once a second (what the relay's poll or a cron
# job does when the library is not preloaded).  Needs bench/run.sh --preload.
#
# Both sides do the same work: pgbench with 8 clients places one-unit
# pre-orders on one hot SKU (benchmark 5's script) and signs up on 1,000
# SKUs (benchmark 3's), and every second a tick writes the confirmations and
# payment events of what was placed since.  Side "worker": waitlist.clock on
# (the worker ticks).  Side "session": waitlist.clock off (ALTER SYSTEM and
# a reload; the worker leaves) and a psql session runs
#   SELECT waitlist.tick() \watch 1
# An unmeasured run warms up each script; rounds alternate which side runs
# first.  Target: the worker side at least 0.90 of the session side (no cost
# beyond this machine's noise).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if ! clock_preloaded; then
	say "clock: waitlist is not preloaded; run bench/run.sh --preload clock"
	exit 0
fi
if [ "$BENCH_MODE" = quick ]; then
	ROUNDS=1 SECS=5 WARMUP=3
else
	ROUNDS=3 SECS=15 WARMUP=10
fi
export PGDATABASE=wl_clock
fresh_db "$PGDATABASE" 2>/dev/null
q >/dev/null <<'SQL'
SELECT waitlist.upsert_sku('hot', 'Hot pre-order product');
SELECT waitlist.open_preorders('hot', 1000000000000, 80, current_date + 60, current_date + 90);
SELECT waitlist.upsert_sku('sku-' || g, 'Product ' || g) FROM generate_series(1, 1000) g;
SQL

# run SIDE SCRIPT -> "tps transactions"
run() {
	local ticker=""
	q -c "VACUUM ANALYZE waitlist.sku, waitlist.line, waitlist.subscriber, waitlist.outbox" \
		-c "CHECKPOINT" >/dev/null
	if [ "$1" = session ]; then
		clock_switch off
		printf 'SELECT waitlist.tick() \\watch 1\n' | psql -X -q -o /dev/null &
		ticker=$!
	fi
	pgbench_run -c 8 -j 2 -T "$SECS" -f "$BENCH_DIR/pgbench/$2" || { [ -z "$ticker" ] || kill "$ticker"; return 1; }
	if [ -n "$ticker" ]; then
		kill "$ticker"
		wait "$ticker" 2>/dev/null || true
		clock_switch on
	fi
	# what one side left unwritten is written before the other side runs
	q -c "SELECT waitlist.tick()" >/dev/null
}

clock_switch on
for script in preorder_ours.sql subscribe_ours.sql; do
	# an unmeasured run first: the first measured side would otherwise pay
	# for the cold caches and the tables' first growth (seen: a first
	# worker round at 0.3 of the rounds after it)
	pgbench_run -c 8 -j 2 -T "$WARMUP" -f "$BENCH_DIR/pgbench/$script" >/dev/null
	q -c "SELECT waitlist.tick()" >/dev/null
	rates="$(alternate "$ROUNDS" "clock $script" worker session run "$script")"
	read -r worker_tps session_tps ratio _ <<<"$rates"
	result "14 ${script%_ours.sql} tps, 8 clients, tick by the worker (vs tick() from a session every second)" \
		"$worker_tps" "$session_tps" "$ratio" ">= 0.90" "$(verdict "$ratio >= 0.9")"
done
left="$(q -c "SELECT count(*) FROM waitlist.line WHERE confirm_pending")"
say "clock: $left pre-order confirmations left unwritten at the end (expected 0)"
[ "$left" = 0 ]
