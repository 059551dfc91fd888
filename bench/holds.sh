#!/usr/bin/env bash
# Benchmark 10 (issue 15): exclusive holds.
#
# (a) The restock commit with holds against the same restock without them,
#     at N sign-ups waiting: SKU on-N has a hold window, off-N none, both
#     with N sign-ups inserted set-based (what subscribe() writes), no
#     confirmations pending.  BEGIN; restock(sku, U); COMMIT; timed with the
#     server clock in a fresh backend after a warm-up on the same SKU; the
#     SKUs are reset between repetitions (counters, holds, batches).  A wave
#     of holds is one hold row, so the targets: ours within 2x of the
#     restock without holds at the largest N, and ours at the largest N
#     within 2x of ours at the smallest (flat in N).
# (b) Expiring 100,000 holds in one tick: S SKUs, each with 100,000 / S
#     sign-ups told by one wave with holds (through the API) and expanded;
#     then the clock moves past the window and one tick() closes every wave
#     and passes the units on (nobody is left waiting: they are free to
#     anyone) - BEGIN; tick(); COMMIT timed.  Baseline: the per-person
#     design, 100,000 hold rows (sku, contact, expires_at, closed_at) with
#     the same partial index on open holds, closed by one set-based UPDATE
#     that also takes the units off a per-SKU counter.  Target: ours at
#     least as fast (baseline time / ours >= 1), at S = 1,000 and S = 10.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	SIZES=(10000 100000)
	REPS=3
	SKU_COUNTS=(1000 10)
else
	SIZES=(10000 100000 1000000)
	REPS=7
	SKU_COUNTS=(1000 10)
fi
UNITS=1000
HOLDS=100000
export PGDATABASE=wl_holds
fresh_db "$PGDATABASE" 2>/dev/null

# ------------------------------------------------ (a) restock with holds
load_signups() {	# SKU N [hold window]
	q -v sku="$1" -v n="$2" -v win="${3:-}" >/dev/null <<'SQL'
INSERT INTO waitlist.sku (sku, title, sub_tail, sub_waiting, confirm_signups, hold_window)
VALUES (:'sku', 'Bench product', :n, :n, false, nullif(:'win', '')::interval);
INSERT INTO waitlist.subscriber (sku, email, pos)
SELECT :'sku', 's' || g || '.' || :'sku' || '@example.com', g FROM generate_series(0, :n - 1) g;
SQL
}

reset_sku() {
	q -v sku="$1" >/dev/null <<'SQL'
UPDATE waitlist.sku SET on_hand = 0, held = 0, sub_served = 0, announced = 0, sub_waiting = sub_tail
 WHERE sku = :'sku';
DELETE FROM waitlist.hold WHERE sku = :'sku';
DELETE FROM waitlist.batch WHERE sku = :'sku';
SQL
}

# restock_ms SKU -> ms of BEGIN; restock; COMMIT (after a warm-up restock on the same SKU)
restock_ms() {
	reset_sku "$1"
	q -c "VACUUM ANALYZE waitlist.sku, waitlist.hold, waitlist.batch" -c "CHECKPOINT" >/dev/null
	q -v sku="$1" -v units="$UNITS" <<'SQL' | tail -1
\set QUIET on
\pset format unaligned
\pset tuples_only on
BEGIN;
SELECT waitlist.restock(:'sku', 1) \gset warm_
ROLLBACK;
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
BEGIN;
SELECT waitlist.restock(:'sku', :units) \gset r_
COMMIT;
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 3);
SQL
}

declare -A ON OFF
for n in "${SIZES[@]}"; do
	say "holds: loading 2 x $n sign-ups"
	load_signups "on-$n" "$n" '2 hours'
	load_signups "off-$n" "$n"
	q -c "VACUUM ANALYZE" >/dev/null
	on=() off=()
	for ((r = 1; r <= REPS; r++)); do
		if [ $((r % 2)) -eq 1 ]; then
			on+=("$(restock_ms "on-$n")"); off+=("$(restock_ms "off-$n")")
		else
			off+=("$(restock_ms "off-$n")"); on+=("$(restock_ms "on-$n")")
		fi
		say "holds: N=$n round $r: with holds ${on[-1]} ms, without ${off[-1]} ms"
	done
	# the last wave held one unit for each of UNITS people, in one row
	check="$(q -c "SELECT held, sub_served, (SELECT count(*) FROM waitlist.hold h WHERE h.sku = s.sku)
					 FROM waitlist.sku s WHERE sku = 'on-$n'")"
	[ "$check" = "$UNITS|$UNITS|1" ] || { say "holds: after the restock on-$n has held|told|waves $check"; exit 1; }
	ON[$n]="$(median "${on[@]}")"
	OFF[$n]="$(median "${off[@]}")"
done
small=${SIZES[0]}
large=${SIZES[-1]}
ratio=$(calc "${ON[$large]} / ${OFF[$large]}")
result "10a restock of $UNITS units with holds, $large sign-ups waiting: ms (vs the same restock without holds)" \
	"${ON[$large]}" "${OFF[$large]}" "$ratio" "<= 2.0" "$(verdict "$ratio <= 2")"
ratio=$(calc "${ON[$large]} / ${ON[$small]}")
result "10a restock with holds: ms at $large sign-ups (vs at $small)" \
	"${ON[$large]}" "${ON[$small]}" "$ratio" "<= 2.0" "$(verdict "$ratio <= 2")"

# ------------------------------------------------ (b) expiring 100k holds
q >/dev/null <<'SQL'
CREATE SCHEMA bench;
CREATE TABLE bench.person_hold (sku text NOT NULL, contact text NOT NULL, expires_at timestamptz NOT NULL,
								closed_at timestamptz, PRIMARY KEY (sku, contact));
CREATE INDEX person_hold_due ON bench.person_hold (expires_at) WHERE closed_at IS NULL;
CREATE TABLE bench.sku (sku text PRIMARY KEY, held bigint NOT NULL);
SQL
for s in "${SKU_COUNTS[@]}"; do
	per=$((HOLDS / s))
	say "holds: $s SKUs with one wave of $per holds each"
	q -c "DELETE FROM waitlist.outbox" -c "DELETE FROM waitlist.batch" -c "DELETE FROM waitlist.hold" \
		-c "DELETE FROM waitlist.subscriber" -c "DELETE FROM waitlist.sale_period" -c "DELETE FROM waitlist.sku" \
		-c "TRUNCATE bench.person_hold, bench.sku" >/dev/null
	q -v s="$s" -v per="$per" >/dev/null <<'SQL'
SET waitlist.test_now = '2030-01-01 09:00+00';
INSERT INTO waitlist.sku (sku, title, sub_tail, sub_waiting, confirm_signups, hold_window)
SELECT 'x-' || g, 'Bench product', :per, :per, false, '1 hour' FROM generate_series(1, :s) g;
INSERT INTO waitlist.subscriber (sku, email, pos)
SELECT 'x-' || k, 'p' || i || '.' || k || '@example.com', i
  FROM generate_series(1, :s) k, generate_series(0, :per - 1) i;
BEGIN;
SELECT count(waitlist.restock('x-' || g, :per)) FROM generate_series(1, :s) g;
COMMIT;
SELECT waitlist.tick();
INSERT INTO bench.sku SELECT sku, held FROM waitlist.sku;
INSERT INTO bench.person_hold SELECT sku, email, '2030-01-01 10:00+00' FROM waitlist.subscriber;
SQL
	total="$(q -c "SELECT sum(held) FROM waitlist.sku")"
	[ "$total" = "$HOLDS" ] || { say "holds: $total units held, expected $HOLDS"; exit 1; }
	ours=() base=()
	for ((r = 1; r <= REPS; r++)); do
		q -c "UPDATE waitlist.hold SET closed_at = NULL" -c "UPDATE waitlist.sku SET held = sub_tail" \
			-c "UPDATE bench.person_hold SET closed_at = NULL" -c "UPDATE bench.sku SET held = $per" \
			-c "VACUUM ANALYZE waitlist.hold, waitlist.sku, bench.person_hold, bench.sku" -c "CHECKPOINT" >/dev/null
		t="$(q <<'SQL' | tail -1
\set QUIET on
\pset format unaligned
\pset tuples_only on
SET waitlist.test_now = '2030-01-01 10:00+00';
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
BEGIN;
SELECT waitlist.tick() \gset r_
COMMIT;
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 3);
SQL
)"
		left="$(q -c "SELECT sum(held) FROM waitlist.sku")|$(q -c "SELECT count(*) FROM waitlist.hold WHERE closed_at IS NULL")"
		[ "$left" = "0|0" ] || { say "holds: after the expiring tick held|open waves = $left"; exit 1; }
		ours+=("$t")
		t="$(q <<'SQL' | tail -1
\set QUIET on
\pset format unaligned
\pset tuples_only on
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
BEGIN;
WITH c AS (UPDATE bench.person_hold SET closed_at = '2030-01-01 10:00+00'
			WHERE closed_at IS NULL AND expires_at <= '2030-01-01 10:00+00' RETURNING sku)
UPDATE bench.sku k SET held = k.held - x.n
  FROM (SELECT sku, count(*) AS n FROM c GROUP BY sku) x WHERE k.sku = x.sku;
COMMIT;
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 3);
SQL
)"
		left="$(q -c "SELECT sum(held) FROM bench.sku")"
		[ "$left" = "0" ] || { say "holds: the baseline left $left units held"; exit 1; }
		base+=("$t")
		say "holds: expiry of $HOLDS holds over $s SKUs round $r: ours ${ours[-1]} ms, per-person UPDATE ${base[-1]} ms"
	done
	o="$(median "${ours[@]}")"
	b="$(median "${base[@]}")"
	ratio=$(calc "$b / $o")
	result "10b tick() expiring $HOLDS holds over $s SKUs: ms (vs one set-based UPDATE of per-person holds; ratio = baseline / ours)" \
		"$o" "$b" "$ratio" ">= 1.0" "$(verdict "$ratio >= 1")"
done
q -d postgres -c "DROP DATABASE $PGDATABASE"
