#!/usr/bin/env bash
# Benchmark 11 (issue 15): recording what happened after a message, under 8
# pgbench clients, against a plain INSERT of the same row into a table of
# the same shape (LIKE ... INCLUDING ALL: its primary key, CHECKs and
# indexes), ON CONFLICT DO NOTHING as both are idempotent.
#   - record_event(message id, delivered | opened | clicked) on 200,000
#     email messages: finds the message, keeps the event once;
#   - record_purchase(sku, email, order) over 1,000 SKUs, by people who
#     never signed up (most orders a shop reports: one index probe finds
#     nobody to convert and the row is written without the SKU's lock), and
#     as an info row by the 100,000 people signed up (takes the SKU's turn
#     and row, converts the buyer's sign-up the first time, skips their
#     pending back_in_stock messages).
# Benchmark 12 (issue 16), the same way: record_view(sku, visitor, shown),
# a product page view, against a plain INSERT into a copy of page_view
# (its BRIN and btree indexes); target at least 70% of it too.
# Both sides start with the same 100,000 earlier purchases and 100,000
# delivery events, and fresh statistics (as in benchmark 3: a plan made
# while a table was empty and never analyzed would scan it, and autovacuum,
# which would replace it, is off in the bench cluster).  Rounds alternate
# the sides; tps = transactions over time, summed over rounds; the ratio is
# the median of the rounds' ratios (lib.sh, alternate).  Target: at
# least 70% of the plain INSERT for record_event and for record_purchase
# by people not on the list.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	ROUNDS=2 SECS=4
else
	ROUNDS=5 SECS=10
fi
CLIENTS=8
export PGDATABASE=wl_events
fresh_db "$PGDATABASE" 2>/dev/null
say "events: loading 1,000 SKUs, 100,000 sign-ups, 200,000 messages"
q >/dev/null <<'SQL'
INSERT INTO waitlist.sku (sku, title, confirm_signups)
SELECT 'sku-' || i, 'Bench product ' || i, false FROM generate_series(1, 1000) i;
INSERT INTO waitlist.subscriber (sku, email, pos)
SELECT 'sku-' || (g % 1000 + 1), 's' || g || '@example.com', g / 1000 FROM generate_series(0, 99999) g;
UPDATE waitlist.sku s SET sub_tail = 100, sub_waiting = 100;
INSERT INTO waitlist.outbox (id, kind, channel, recipient, sku, idempotency_key, state)
SELECT g, 'back_in_stock', 'email', 's' || g % 100000 || '@example.com', 'sku-' || (g % 1000 + 1),
	   'bench:' || g, 'delivered'
  FROM generate_series(1, 200000) g;
INSERT INTO waitlist.purchase (sku, order_ref, contact, at, source)
SELECT 'sku-' || (g % 1000 + 1), 'prefill-' || g, 'b' || g || '@example.com', now(), 'external'
  FROM generate_series(1, 100000) g;
INSERT INTO waitlist.message_event (message_id, event, at)
SELECT g, 'delivered', now() FROM generate_series(1, 200000, 2) g;
CREATE SCHEMA bench;
CREATE TABLE bench.message_event (LIKE waitlist.message_event INCLUDING ALL);
CREATE TABLE bench.purchase (LIKE waitlist.purchase INCLUDING ALL);
CREATE TABLE bench.page_view (LIKE waitlist.page_view INCLUDING ALL);
INSERT INTO bench.message_event SELECT * FROM waitlist.message_event;
INSERT INTO bench.purchase SELECT * FROM waitlist.purchase;
VACUUM ANALYZE;
SQL

# run SCRIPT [pgbench options] -> "tps transactions"
run() {
	local script="$1"
	shift
	q -c "CHECKPOINT"
	pgbench_run -c "$CLIENTS" -j 2 -T "$SECS" "$@" -f "$BENCH_DIR/pgbench/$script"
}

# run_side SIDE WHAT [pgbench options]: the side's script of WHAT
run_side() {
	local side="$1" what="$2"
	shift 2
	run "${what}_$side.sql" "$@"
}

# measure WHAT TARGET LABEL [pgbench options]: alternating rounds, one result row
measure() {
	local what="$1" target="$2" label="$3" number="${NUMBER:-11}"
	shift 3
	run "${what}_ours.sql" "$@" >/dev/null # warm-up (plans, caches), unmeasured
	run "${what}_base.sql" "$@" >/dev/null
	rates="$(alternate "$ROUNDS" "events: $label" ours base run_side "$what" "$@")"
	read -r ours_tps base_tps ratio _ <<<"$rates"
	if [ "$target" = info ]; then
		result "$number $label tps, 8 clients (vs plain INSERT of the same row)" "$ours_tps" "$base_tps" "$ratio" "info" "-"
	else
		result "$number $label tps, 8 clients (vs plain INSERT of the same row)" \
			"$ours_tps" "$base_tps" "$ratio" ">= $target" "$(verdict "$ratio >= $target")"
	fi
}

measure event 0.70 "record_event"
measure purchase 0.70 "record_purchase by people not on the list" -D who=n
measure purchase info "record_purchase by people on the list (each converted)" -D who=s
NUMBER=12 measure view 0.70 "record_view"
# every purchase by someone signed up converted them the first time
left="$(q -c "SELECT count(*) FROM waitlist.subscriber u WHERE u.state = 'waiting'
			   AND EXISTS (SELECT 1 FROM waitlist.purchase p WHERE p.sku = u.sku AND p.contact = u.email)")"
[ "$left" -eq 0 ] || { say "events: $left buyers are still waiting on the list"; exit 1; }
q -d postgres -c "DROP DATABASE $PGDATABASE"
