#!/usr/bin/env bash
# Benchmark 9 (issue 14): a weekly backorder_status round for N = 100,000
# waiting backorders of one SKU (--quick: 20,000), 1-3 units each, every
# line with an email and one in ten with a phone too, against a
# hand-written set-based INSERT ... SELECT of the same messages into
# bench.outbox (LIKE waitlist.outbox INCLUDING ALL): bench/status_round_base.sql.
# Ours is BEGIN; SELECT waitlist.tick(); COMMIT with the round due: the
# tick's probes, the round's totals, its chunks through the outbox writer's
# fan-out and the SKU row's update.  50 noise SKUs hold N/10 lines each,
# not due.  Each measurement runs in a fresh backend after a warm-up on the
# SKU 'warm', after VACUUM ANALYZE and a CHECKPOINT; rounds alternate the
# side that runs first; medians.  Afterwards both sides must have written
# the same number of messages, with the same positions and units ahead.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	N=20000 ROUNDS=3
else
	N=100000 ROUNDS=5
fi
export PGDATABASE=wl_status_round
fresh_db "$PGDATABASE" 2>/dev/null
say "status_round: loading $N backorders (and $((N / 10)) on each of 50 noise SKUs)"
q -v n="$N" >/dev/null <<'SQL'
INSERT INTO waitlist.sku (sku, title, restock_date, restock_confirmed, product_url)
SELECT code, 'Bench product ' || code, current_date + 20, true, 'https://shop.example.com/p/' || code
  FROM (SELECT 'round' UNION ALL SELECT 'warm' UNION ALL
		SELECT 'noise-' || g FROM generate_series(1, 50) g) c (code);
-- lines in order: positions are the running sum of quantities per SKU
INSERT INTO waitlist.line (sku, kind, order_ref, customer, email, phone, qty, pos_start, pos_end,
						   created_at, channel)
SELECT sku, 'backorder', 'o-' || sku || '-' || k, 'Customer ' || k, 'c' || k || '.' || sku || '@example.com',
	   CASE WHEN k % 10 = 0 THEN '+1555' || lpad(k::text, 7, '0') END, qty,
	   sum(qty) OVER w - qty, sum(qty) OVER w, now() - interval '30 days', 'dtc'
  FROM (SELECT s.sku, k, 1 + (k * 7919) % 3 AS qty
		  FROM (SELECT 'round' AS sku, :n AS n UNION ALL SELECT 'warm', 10 UNION ALL
				SELECT 'noise-' || g, :n / 10 FROM generate_series(1, 50) g) s
		 CROSS JOIN LATERAL generate_series(1, s.n) k) x
WINDOW w AS (PARTITION BY sku ORDER BY k);
UPDATE waitlist.sku s SET paid_tail = t.units, paid_waiting = t.units,
	   next_status_at = now() + interval '3 days'
  FROM (SELECT sku, sum(qty) AS units FROM waitlist.line GROUP BY sku) t WHERE s.sku = t.sku;
CREATE SCHEMA bench;
CREATE TABLE bench.outbox (LIKE waitlist.outbox INCLUDING ALL);
VACUUM ANALYZE;
SQL

reset() {
	q -c "TRUNCATE waitlist.outbox, bench.outbox" \
		-c "UPDATE waitlist.sku SET status_round = NULL, next_status_at = now() + interval '3 days' WHERE sku IN ('round', 'warm')" \
		-c "VACUUM ANALYZE waitlist.sku, waitlist.line, waitlist.outbox, bench.outbox" -c "CHECKPOINT" >/dev/null
}

# The messages' positions and units ahead, summed (the same on both sides).
digest() {
	q -c "SELECT count(*) || ' ' || sum((payload->>'position')::bigint) || ' ' ||
			sum((payload->>'units_ahead')::bigint) || ' ' || max(payload->>'of') || ' ' ||
			max(payload->>'units_waiting') FROM $1 WHERE sku = 'round'"
}

declare -A T=([ours]="" [base]="") M=()
R=""
expected="$((N + N / 10))"
for ((r = 1; r <= ROUNDS; r++)); do
	order="ours base"
	[ $((r % 2)) -eq 0 ] && order="base ours"
	for side in $order; do
		reset
		read -r ms msgs <<<"$(q -v side="$side" -f "$BENCH_DIR/status_round_measure.sql" | tail -1 | tr '|' ' ')"
		say "status_round $side round $r: $ms ms, $msgs messages"
		[ "$msgs" -eq "$expected" ] || { say "status_round $side: $msgs messages, expected $expected"; exit 1; }
		T[$side]="${T[$side]} $ms"
		M[$side]="$ms"
		if [ "$side" = ours ]; then
			d_ours="$(digest waitlist.outbox)"
		else
			d_base="$(digest bench.outbox)"
		fi
	done
	# the two sides of a round ran back to back: their ratio holds when the
	# machine's speed drifts from round to round
	R="$R $(calc "${M[ours]} / ${M[base]}")"
done
[ "$d_ours" = "$d_base" ] || { say "status_round: ours '$d_ours', baseline '$d_base'"; exit 1; }
# shellcheck disable=SC2086
ours=$(median ${T[ours]})
# shellcheck disable=SC2086
base=$(median ${T[base]})
say "status_round: ratios of the rounds:$R"
# shellcheck disable=SC2086
ratio=$(median $R)
result "9 weekly backorder_status round, $N backorders: ms (vs set-based INSERT ... SELECT; ratio: median of the rounds' ratios)" \
	"$ours" "$base" "$ratio" "<= 1.0" "$(verdict "$ratio <= 1")"
result "9 same, median over median" "$ours" "$base" "$(calc "$ours / $base")" "info" "-"
q -d postgres -c "DROP DATABASE $PGDATABASE"
