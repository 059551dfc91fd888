#!/usr/bin/env bash
# Benchmark 8 (issue 14): tick() with a million waiting lines and sign-ups
# and nothing due, against the physical floor of "is anything due?": one
# indexed SELECT ... LIMIT 1 (the pre-order notes' partial index, whose
# half a million entries are all in the future).  1,000 SKUs with a
# confirmed restock date and a ship date ahead and their status rounds due
# in 3 days; N paid lines (half backorders, half pre-orders whose notes are
# due in 10+ days), N sign-ups already confirmed; no batch, confirmation,
# line action or availability row pending.  pgbench -M prepared, one
# client, rounds alternating the sides; time per call = 1 / tps; the ratio
# is the median of the rounds' ratios (lib.sh, alternate).
# Afterwards the outbox must still be empty (tick() wrote nothing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	N=100000 ROUNDS=2 SECS=4
else
	N=1000000 ROUNDS=5 SECS=10
fi
export PGDATABASE=wl_tick_idle
fresh_db "$PGDATABASE" 2>/dev/null
say "tick_idle: loading $N lines and $N sign-ups"
q -v n="$N" >/dev/null <<'SQL'
\set skus 1000
INSERT INTO waitlist.sku (sku, title, restock_date, restock_confirmed, ships_on, paid_tail,
						  paid_waiting, sub_tail, sub_waiting, next_status_at, confirm_signups)
SELECT 'sku-' || g, 'Bench product ' || g, current_date + 30, true, current_date + 60,
	   :n / :skus, :n / :skus, :n / :skus, :n / :skus, now() + interval '3 days', false
  FROM generate_series(1, :skus) g;
INSERT INTO waitlist.line (sku, kind, order_ref, email, qty, pos_start, pos_end, next_note_at)
SELECT 'sku-' || (g % :skus + 1), CASE WHEN g % 2 = 0 THEN 'backorder' ELSE 'preorder' END,
	   'o' || g, 'c' || g || '@example.com', 1, g / :skus, g / :skus + 1,
	   CASE WHEN g % 2 = 1 THEN now() + interval '10 days' + g * interval '1 second' END
  FROM generate_series(0, :n - 1) g;
INSERT INTO waitlist.subscriber (sku, email, pos)
SELECT 'sku-' || (g % :skus + 1), 's' || g || '@example.com', g / :skus
  FROM generate_series(0, :n - 1) g;
VACUUM ANALYZE;
SQL

# run SIDE -> "tps transactions"
run() {
	q -c "CHECKPOINT"
	pgbench_run -c 1 -j 1 -T "$SECS" -f "$BENCH_DIR/pgbench/tick_idle_$1.sql"
}

run ours >/dev/null # warm-up (caches, plans), unmeasured
run base >/dev/null
# the probe's calls per second over ours per round: ours' time over the probe's
rates="$(alternate "$ROUNDS" tick_idle base ours run)"
read -r base_tps ours_tps ratio _ <<<"$rates"
written="$(q -c "SELECT count(*) FROM waitlist.outbox")"
[ "$written" -eq 0 ] || { say "tick_idle: tick() wrote $written messages with nothing due"; exit 1; }
ours_us=$(calc "1000000 / $ours_tps")
base_us=$(calc "1000000 / $base_tps")
result "8 tick() with $N lines + $N sign-ups, nothing due: us per call (vs one LIMIT 1 probe)" \
	"$ours_us" "$base_us" "$ratio" "<= 3.0" "$(verdict "$ratio <= 3")"
q -d postgres -c "DROP DATABASE $PGDATABASE"
