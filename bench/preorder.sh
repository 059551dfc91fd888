#!/usr/bin/env bash
# Benchmark 5: pre-order placement on one hot SKU.
#
# Throughput: pgbench, 8 and 32 clients, every call a one-unit pre-order with
# a unique order on the same SKU (limit far above what the run can take),
# against the bare capped counter on one hot row,
#   UPDATE bench.hot SET n = n + 1 WHERE id = 1 AND n + 1 <= lim
# Rounds alternate which side runs first; tps = transactions over time,
# summed over the rounds; the ratio is the median of the rounds' ratios
# (lib.sh, alternate).  Target: at least 80% of the bare UPDATE.  At 8
# clients an info row adds ours with waitlist.early_lock_release off (run
# after the pair in each round).
#
# Exactness: 32 clients try to take 2.5x (one unit per call) and about 5x
# (1-3 units per call) a SKU's limit of 1,000 units; refusals (WL010) are
# caught by a PL/pgSQL wrapper so no client aborts.  Target: exactly the
# limit accepted, by preorder_status() and by the lines themselves.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	ROUNDS=2 SECS=3 WARM=2
else
	ROUNDS=4 SECS=15 WARM=3
fi
THREADS=2
# Exactness: limit = floor(1250 * 80 / 100) = 1000 units; each of CAP_CLIENTS
# clients makes CAP_TX attempts (2,560 in all).
CAP_PLANNED=1250 CAP_PCT=80 CAP_CLIENTS=32 CAP_TX=80
export PGDATABASE=wl_preorder
fresh_db "$PGDATABASE" 2>/dev/null

if [ -z "$(q -c "SELECT to_regprocedure('waitlist.place_preorder(text,text,integer,text,text,text,text,numeric,text)')")" ]; then
	say "preorder: waitlist.place_preorder() is not installed (make install the pre-order code)"
	exit 1
fi

q -v cp="$CAP_PLANNED" -v pct="$CAP_PCT" >/dev/null <<'SQL'
SELECT waitlist.upsert_sku('hot', 'Hot pre-order product');
SELECT waitlist.open_preorders('hot', 1000000000000, 80, current_date + 60, current_date + 90);
SELECT waitlist.upsert_sku('capped', 'Capped pre-order product');
SELECT waitlist.open_preorders('capped', :cp, :pct, current_date + 60, current_date + 90);
SELECT waitlist.upsert_sku('capped_mix', 'Capped pre-order product, mixed quantities');
SELECT waitlist.open_preorders('capped_mix', :cp, :pct, current_date + 60, current_date + 90);
CREATE SCHEMA bench;
CREATE TABLE bench.hot (id integer PRIMARY KEY, n bigint NOT NULL, lim bigint NOT NULL);
INSERT INTO bench.hot VALUES (1, 0, 800000000000);
-- A refusal at the limit (WL010) returns 0 instead of aborting the client.
CREATE FUNCTION bench.try_preorder(p_ref text, p_sku text, p_qty integer, p_email text)
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	RETURN waitlist.place_preorder(p_ref, p_sku, p_qty, email => p_email,
								   unit_price => 49.00, currency => 'USD');
EXCEPTION WHEN SQLSTATE 'WL010' THEN
	RETURN 0;
END $$;
SQL

# Both sides start from vacuumed, analyzed tables and a checkpoint.
prepare() {
	q -c "VACUUM ANALYZE waitlist.sku, waitlist.line, waitlist.outbox, bench.hot" -c "CHECKPOINT"
}

# run SIDE CLIENTS SECONDS -> "tps transactions"; side "plain" is ours with
# waitlist.early_lock_release off (each commit holds the SKU's locks through
# its WAL flush), an info row at 8 clients
run() {
	prepare
	if [ "$1" = plain ]; then
		PGOPTIONS="${PGOPTIONS:-} -c waitlist.early_lock_release=off" \
			pgbench_run -c "$2" -j "$THREADS" -T "$3" -f "$BENCH_DIR/pgbench/preorder_ours.sql"
	else
		pgbench_run -c "$2" -j "$THREADS" -T "$3" -f "$BENCH_DIR/pgbench/preorder_$1.sql"
	fi
}

# Unmeasured warm-up of both sides (connections, plans, caches).
out="$(run ours 8 "$WARM")"
placed=${out#* }
out="$(run base 8 "$WARM")"

for c in 8 32; do
	extra=""
	[ "$c" -eq 8 ] && extra=plain
	rates="$(ALTERNATE_EXTRA="$extra" alternate "$ROUNDS" "preorder, $c clients" ours base run "$c" "$SECS")"
	read -r ours_tps base_tps ratio n_ours _ plain_tps plain_ratio n_plain <<<"$rates"
	placed=$((placed + n_ours + ${n_plain:-0}))
	result "5 pre-order placement tps, one hot SKU, $c clients (vs capped UPDATE)" \
		"$ours_tps" "$base_tps" "$ratio" ">= 0.80" "$(verdict "$ratio >= 0.8")"
	if [ "$c" -eq 8 ]; then
		result "5 same, waitlist.early_lock_release off, $c clients (vs capped UPDATE)" \
			"$plain_tps" "$base_tps" "$plain_ratio" "info" "-"
	fi
done

# Every call placed one line and one unit (order refs are random over 10^12
# per client: a repeat, which would return the existing line, is not
# expected at these counts).
read -r accepted units lines msgs <<<"$(q -F ' ' -c "
	SELECT (SELECT accepted FROM waitlist.preorder_status('hot')),
		   (SELECT coalesce(sum(l.qty), 0) FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
			 WHERE s.sku = 'hot' AND l.kind = 'preorder' AND l.state <> 'cancelled'),
		   (SELECT count(*) FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
			 WHERE s.sku = 'hot' AND l.kind = 'preorder'),
		   (SELECT count(*) FROM waitlist.outbox)")"
say "preorder hot SKU: $placed calls, $lines lines, $units units, accepted $accepted, $msgs outbox rows"
if [ "$lines" -ne "$placed" ] || [ "$units" -ne "$placed" ] || [ "$accepted" -ne "$placed" ]; then
	say "preorder: $placed placements left $lines lines, $units units, accepted = $accepted"
	exit 1
fi

# cap SCRIPT SKU LABEL: CAP_CLIENTS clients, CAP_TX attempts each, then the
# accepted units by preorder_status() and by the lines against the limit.
cap() {
	local out tps n limit accepted remaining units lines verdict=FAIL
	prepare
	out="$(pgbench_run -c "$CAP_CLIENTS" -j "$THREADS" -t "$CAP_TX" \
		-f "$BENCH_DIR/pgbench/preorder_$1.sql")"
	read -r tps n <<<"$out"
	read -r limit accepted remaining units lines <<<"$(q -F ' ' -v sku="$2" <<'SQL'
SELECT p.preorder_limit, p.accepted, p.remaining,
	   (SELECT coalesce(sum(l.qty), 0) FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
		 WHERE s.sku = :'sku' AND l.kind = 'preorder' AND l.state <> 'cancelled'),
	   (SELECT count(*) FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
		 WHERE s.sku = :'sku' AND l.kind = 'preorder')
  FROM waitlist.preorder_status(:'sku') p
SQL
)"
	say "preorder exactness, $3: $n attempts by $CAP_CLIENTS clients ($tps tps), $lines accepted," \
		"$((n - lines)) refused; limit $limit, accepted $accepted, remaining $remaining, units in lines $units"
	[ "$n" -eq $((CAP_CLIENTS * CAP_TX)) ] || { say "preorder: $n of $((CAP_CLIENTS * CAP_TX)) attempts ran"; return 1; }
	if [ "$limit" -eq $((CAP_PLANNED * CAP_PCT / 100)) ] && [ "$accepted" -eq "$limit" ] &&
		[ "$units" -eq "$limit" ] && [ "$remaining" -eq 0 ]; then
		verdict=PASS
	fi
	result "5 pre-order accepted units vs limit, $CAP_CLIENTS clients, $3" \
		"$accepted" "$limit" "$(calc "$accepted / $limit")" "= limit" "$verdict"
}
cap cap_one capped "$((CAP_CLIENTS * CAP_TX)) x 1 unit"
cap cap_mix capped_mix "$((CAP_CLIENTS * CAP_TX)) x 1-3 units"
q -d postgres -c "DROP DATABASE $PGDATABASE"
