#!/usr/bin/env bash
# Benchmark 4: claim + ack in batches of 100 with 1 and 4 consumers, against
# the plain SKIP LOCKED claim/ack over bench.outbox (a copy of the outbox's
# shape and of the same pending messages).  Both tables are refilled before
# every round; rounds alternate which side runs first; the ratio is the
# median of the rounds' ratios (lib.sh, alternate).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	MESSAGES=20000 ROUNDS=1
else
	MESSAGES=200000 ROUNDS=5
fi
# Claim 90% of the messages: a claim never comes back empty.
BATCHES=$((MESSAGES * 9 / 10 / 100))
export PGDATABASE=wl_claim
fresh_db "$PGDATABASE" 2>/dev/null
q <<'SQL'
CREATE SCHEMA bench;
CREATE TABLE bench.outbox (LIKE waitlist.outbox INCLUDING ALL);
SQL

# Both outboxes get the same MESSAGES due back_in_stock messages.
refill() {
	q -v m="$MESSAGES" <<'SQL'
TRUNCATE waitlist.outbox, bench.outbox;
INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key,
							 due_at, created_at)
SELECT 'back_in_stock', 'email', 'u' || g || '@example.com', 'sku-' || g % 1000,
	   jsonb_build_object('subscription_id', g, 'sku', 'sku-' || g % 1000,
						  'title', 'Bench product ' || g % 1000, 'units_available', 10,
						  'product_url', 'https://shop.example.com/p/' || g % 1000,
						  'image_url', NULL),
	   'sub:' || g || ':back:1:email', now() - interval '1 minute', now() - interval '1 minute'
  FROM generate_series(1, :m) g;
INSERT INTO bench.outbox SELECT * FROM waitlist.outbox;
VACUUM ANALYZE waitlist.outbox, bench.outbox, waitlist.batch;
CHECKPOINT;
SQL
}

# The WAL each side wrote while it ran, "SIDE CONSUMERS BYTES MESSAGES"
# per run: both sides write the same row versions and index entries, so the
# bytes per message should match (information; the full-page images after
# the CHECKPOINT before every run are most of them).
WAL_LOG="$(mktemp)"
trap 'rm -f "$WAL_LOG"' EXIT

# run SIDE CONSUMERS -> "msgs_per_s delivered"
run() {
	local table=waitlist.outbox tps n got lsn
	[ "$1" = base ] && table=bench.outbox
	q -c "CHECKPOINT"
	lsn="$(q -c "SELECT pg_current_wal_insert_lsn()")"
	read -r tps n <<<"$(pgbench_run -c "$2" -j "$(($2 < 2 ? 1 : 2))" -t "$((BATCHES / $2))" \
		-f "$BENCH_DIR/pgbench/claim_$1.sql")"
	got="$(q -c "SELECT count(*) FROM $table WHERE state = 'delivered'")"
	[ "$got" -eq $((n * 100)) ] || { say "claim $1: $got delivered after $n batches"; return 1; }
	echo "$1 $2 $(q -c "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$lsn')") $got" >>"$WAL_LOG"
	echo "$(calc "$got * $tps / $n") $got"
}

# WAL bytes per delivered message of SIDE at CONSUMERS, over every round.
wal_per_message() {
	awk -v s="$1" -v c="$2" '$1 == s && $2 == c { b += $3; m += $4 }
		END { if (m > 0) printf "%.0f", b / m; else print "nan" }' "$WAL_LOG"
}

for c in 1 4; do
	rates="$(ALTERNATE_BEFORE=refill alternate "$ROUNDS" "claim+ack, $c consumer(s)" ours base run "$c")"
	read -r ours_rate base_rate ratio _ <<<"$rates"
	result "4 claim+ack messages/s, batch 100, $c consumer(s) (vs SKIP LOCKED)" \
		"$ours_rate" "$base_rate" "$ratio" ">= 1.0" "$(verdict "$ratio >= 1")"
	ours_wal="$(wal_per_message ours "$c")" base_wal="$(wal_per_message base "$c")"
	say "claim+ack, $c consumer(s): WAL per message, ours $ours_wal bytes, baseline $base_wal"
	result "4 claim+ack WAL bytes per message, $c consumer(s) (info)" \
		"$ours_wal" "$base_wal" "$(calc "$ours_wal / $base_wal")" "info" "-"
done
q -d postgres -c "DROP DATABASE $PGDATABASE"
