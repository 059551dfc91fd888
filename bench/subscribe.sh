#!/usr/bin/env bash
# Benchmark 3: waitlist.subscribe() throughput with 8 pgbench clients over
# 1,000 SKUs and unique emails, against a plain INSERT of the same row into
# bench.subscriber (same columns, CHECKs, indexes and foreign key).  Rounds
# alternate the sides; tps = transactions over time, summed over rounds; the
# ratio is the median of the rounds' ratios (lib.sh, alternate).
# Both tables start with PREFILL sign-ups spread over the SKUs and fresh
# statistics (from an empty, never-analyzed table the planner picks a plan
# for subscribe()'s duplicate check that scans everything, and keeps it in
# the backend's plan cache; autovacuum is off in the bench cluster).
# Informational extra: all 8 clients signing up to one SKU that already has
# a long list.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	ROUNDS=2 SECS=4 HOT_WAITING=20000 HOT_SECS=3
else
	ROUNDS=5 SECS=10 HOT_WAITING=100000 HOT_SECS=10
fi
PREFILL=100000
CLIENTS=8
export PGDATABASE=wl_subscribe
fresh_db "$PGDATABASE" 2>/dev/null
q >/dev/null <<'SQL'
INSERT INTO waitlist.sku (id, sku, title)
SELECT i, 'sku-' || i, 'Bench product ' || i FROM generate_series(1, 1001) i;
SELECT setval('waitlist.sku_id_seq', 1001);
CREATE SCHEMA bench;
CREATE TABLE bench.sku (LIKE waitlist.sku INCLUDING ALL);
INSERT INTO bench.sku SELECT * FROM waitlist.sku;
CREATE TABLE bench.subscriber (LIKE waitlist.subscriber INCLUDING ALL,
	FOREIGN KEY (sku) REFERENCES bench.sku (sku));
CREATE SEQUENCE bench.subscriber_pos;
SQL
q -v p="$PREFILL" >/dev/null <<'SQL'
INSERT INTO waitlist.subscriber (sku, email, pos)
SELECT 'sku-' || (1 + g % 1000), 'p' || g || '@example.com', g / 1000 FROM generate_series(0, :p - 1) g;
UPDATE waitlist.sku s SET sub_tail = t.n, sub_waiting = t.n
  FROM (SELECT sku, count(*) AS n FROM waitlist.subscriber GROUP BY sku) t
 WHERE s.sku = t.sku;
INSERT INTO bench.subscriber (sku, email, pos)
SELECT sku, email, nextval('bench.subscriber_pos') FROM waitlist.subscriber ORDER BY id;
VACUUM ANALYZE;
SQL

# run SCRIPT [PGOPTIONS [SECONDS]] -> "tps transactions"
run() {
	q -c "CHECKPOINT"
	PGOPTIONS="${2:-}" pgbench_run -c "$CLIENTS" -j 2 -T "${3:-$SECS}" -f "$BENCH_DIR/pgbench/$1"
}

# run_side SIDE -> "tps transactions"
run_side() {
	run "subscribe_$1.sql"
}

rates="$(alternate "$ROUNDS" subscribe ours base run_side)"
read -r ours_tps base_tps ratio calls _ <<<"$rates"
got="$(q -c "SELECT count(*) FROM waitlist.subscriber")"
[ "$got" -eq $((calls + PREFILL)) ] || { say "subscribe: $got sign-ups for $calls calls"; exit 1; }
result "3 subscribe tps, 8 clients (vs plain INSERT)" "$ours_tps" "$base_tps" "$ratio" ">= 0.70" "$(verdict "$ratio >= 0.7")"

# One SKU (id 1001) with HOT_WAITING sign-ups already waiting, every client
# signing up to it (both sides insert into the same long list).
q -v w="$HOT_WAITING" >/dev/null <<'SQL'
INSERT INTO waitlist.subscriber (sku, email, pos)
SELECT 'sku-1001', 'w' || g || '@example.com', g - 1 FROM generate_series(1, :w) g;
UPDATE waitlist.sku SET sub_tail = :w, sub_waiting = :w WHERE id = 1001;
INSERT INTO bench.subscriber (sku, email, pos)
SELECT 'sku-1001', 'w' || g || '@example.com', nextval('bench.subscriber_pos') FROM generate_series(1, :w) g;
VACUUM ANALYZE waitlist.subscriber, bench.subscriber, waitlist.sku;
SQL
read -r hot_ours _ <<<"$(run subscribe_hot_ours.sql "" "$HOT_SECS")"
read -r hot_base _ <<<"$(run subscribe_hot_base.sql "" "$HOT_SECS")"
say "subscribe to one SKU with $HOT_WAITING waiting: ours $hot_ours tps, plain INSERT $hot_base tps"
result "3 subscribe tps, one SKU with $HOT_WAITING waiting (vs plain INSERT)" \
	"$hot_ours" "$hot_base" "$(calc "$hot_ours / $hot_base")" "info" "-"
q -d postgres -c "DROP DATABASE $PGDATABASE"
