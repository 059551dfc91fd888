#!/usr/bin/env bash
# Benchmark 6: the availability policy over a whole catalog in one query.
#
# A catalog of 1,000,000 SKUs (100,000 in quick mode) in every state the
# flowchart knows: discontinued, in stock, sold out with and without a
# confirmed restock date at 0-40 days, upcoming with pre-orders open, full
# or closed, listed on some channels, with per-SKU overrides.  For each of
# two channels (the own store and eBay, whose handling-time rules take the
# longest path), one query evaluates
#     waitlist.policy(s, channel)                  (ours: the C function)
# and the same query evaluates a plain SQL CASE that encodes the same
# flowchart (bench/policy_case.sql) over the same rows.  Both return the
# same (decision, reason, ship_by) for every row: checked first.  Runs
# alternate; the median of each is compared.  Target: ours <= 1.3x the CASE.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	N=100000 RUNS=3
else
	N=1000000 RUNS=5
fi
export PGDATABASE=wl_policy
fresh_db "$PGDATABASE" 2>/dev/null

say "policy: building a catalog of $N SKUs"
q -v n="$N" >/dev/null <<'SQL'
SET synchronous_commit = off;
INSERT INTO waitlist.sku (sku, status, on_hand, allocated, restock_date, restock_confirmed,
						  paid_waiting, sub_waiting,
						  planned_production, preorder_cap_pct, preorder_limit, preorders_open,
						  preorder_accepted, production_date, ships_on, payment_mode,
						  channels, backorder_days, out_of_stock_days, min_demand, max_backorder_units)
SELECT 'CAT-' || g,
	   CASE WHEN g % 20 = 0 THEN 'discontinued' WHEN g % 10 = 1 THEN 'upcoming' ELSE 'active' END,
	   CASE WHEN g % 3 = 0 THEN g % 7 + 1 ELSE 0 END, 0,
	   CASE WHEN g % 11 <> 5 THEN current_date + (g % 45) - 5 END, g % 4 <> 0,
	   g % 9, g % 8,
	   CASE WHEN g % 10 = 1 THEN 500 END, CASE WHEN g % 10 = 1 THEN 80 END,
	   CASE WHEN g % 10 = 1 THEN 400 END, g % 10 = 1 AND g % 30 <> 1,
	   CASE WHEN g % 10 = 1 THEN (g % 5) * 100 ELSE 0 END,
	   CASE WHEN g % 10 = 1 THEN current_date + 10 END,
	   CASE WHEN g % 10 = 1 THEN current_date + (g % 50) END,
	   CASE WHEN g % 10 = 1 THEN 'authorize' END,
	   CASE WHEN g % 5 = 2 THEN ARRAY['dtc', 'amazon'] WHEN g % 5 = 3 THEN ARRAY['dtc', 'ebay'] END,
	   CASE WHEN g % 17 = 0 THEN 20 END, CASE WHEN g % 19 = 0 THEN 30 END,
	   CASE WHEN g % 23 = 0 THEN 10 END, CASE WHEN g % 29 = 0 THEN 4 END
  FROM generate_series(1, :n) g;
SQL
q -c "VACUUM ANALYZE waitlist.sku" >/dev/null
q -f "$BENCH_DIR/policy_case.sql" >/dev/null

for ch in dtc ebay; do
	ours="SELECT (p).decision, count(*), count(DISTINCT (p).reason), max((p).ship_by)
		FROM (SELECT waitlist.policy(s, '$ch') AS p FROM waitlist.sku s OFFSET 0) x GROUP BY 1"
	base="SELECT (p).decision, count(*), count(DISTINCT (p).reason), max((p).ship_by)
		FROM (SELECT bench.policy_case(s, c) AS p FROM waitlist.sku s,
			  (SELECT * FROM waitlist.channel WHERE channel = '$ch') c OFFSET 0) x GROUP BY 1"
	differ=$(q -c "SELECT count(*) FROM waitlist.sku s, waitlist.channel c
		WHERE c.channel = '$ch'
		  AND waitlist.policy(s, '$ch') IS DISTINCT FROM bench.policy_case(s, c)")
	if [ "$differ" -ne 0 ]; then
		say "policy: the C function and the SQL CASE disagree on $differ SKUs for $ch"
		result "6 policy over the catalog, $ch: C and CASE agree" "$differ" 0 - "= 0" FAIL
		continue
	fi
	say "policy $ch: both give the same answer for all $N SKUs: $(q -F ' ' -c "$ours" | tr '\n' ';')"
	ours_ms=() base_ms=()
	q -c "$ours" >/dev/null
	q -c "$base" >/dev/null
	for r in $(seq 1 "$RUNS"); do
		for side in ours base; do
			sql="$ours"
			[ "$side" = base ] && sql="$base"
			t=$(q -c '\timing on' -c "$sql" | awk '/^Time:/ { print $2 }')
			if [ "$side" = ours ]; then ours_ms+=("$t"); else base_ms+=("$t"); fi
		done
		say "policy $ch, run $r: ours ${ours_ms[-1]} ms, CASE ${base_ms[-1]} ms"
	done
	o=$(median "${ours_ms[@]}")
	b=$(median "${base_ms[@]}")
	ratio=$(calc "$o / $b")
	result "6 policy over $N SKUs, channel $ch, ms (vs SQL CASE)" "$o" "$b" "$ratio" "<= 1.3" \
		"$(verdict "$ratio <= 1.3")"
done
