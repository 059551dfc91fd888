#!/usr/bin/env bash
# Benchmarks 1 and 2: the restock commit with a huge queue, and how soon all
# its per-recipient messages are in the outbox, against two baselines over
# the same lines (bench/restock_setup.sql).  Run by bench/run.sh, which
# starts the cluster and sets BENCH_MODE and BENCH_RESULTS.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# Repetitions: ours restocks OURS_REPS times, the first TICK_REPS of them
# followed by the tick; each baseline runs base_reps N times (from a fresh
# copy of the lines each time, which is what makes them slow to repeat).
if [ "$BENCH_MODE" = quick ]; then
	SIZES=(1000 10000 100000)
	OURS_REPS=5
	TICK_REPS=3
else
	SIZES=(10000 100000 1000000)
	OURS_REPS=9
	TICK_REPS=3
fi
base_reps() {
	if [ "$BENCH_MODE" = quick ]; then
		[ "$1" -lt 100000 ] && echo 3 || echo 1
	else
		[ "$1" -lt 1000000 ] && echo 5 || echo 3
	fi
}
SMALL=${SIZES[0]}
MID=100000
LARGE=${SIZES[-1]}
export PGDATABASE=wl_restock
MEMDIR="$(mktemp -d /tmp/wl-bench-mem.XXXXXX)"
export BENCH_MEM="$MEMDIR/m"
trap 'rm -rf "$MEMDIR"' EXIT

# Largest of the integers given.
maxof() {
	printf '%s\n' "$@" | sort -n | tail -1
}

# Human-readable N.
label() {
	case "$1" in
	*000000) echo "$(($1 / 1000000))M" ;;
	*000) echo "$(($1 / 1000))k" ;;
	*) echo "$1" ;;
	esac
}

# Put the hot SKU back where it was before any restock (ours: the lines are
# never written, only the SKU counters, the batch table and the outbox).
reset_ours() {
	q -c "UPDATE waitlist.sku SET on_hand = 0, allocated = 0, paid_served = 0, paid_waiting = paid_tail WHERE id = 1" \
		-c "TRUNCATE waitlist.outbox, waitlist.batch" \
		-c "VACUUM ANALYZE waitlist.sku, waitlist.batch, waitlist.outbox" \
		-c "CHECKPOINT"
}

# Baselines write every line: start each run from a fresh copy.
reset_bench() {
	q -c "SET client_min_messages = warning" -c "SELECT bench.copy_lines()" -c "VACUUM ANALYZE bench.sku, bench.line" -c "CHECKPOINT" >/dev/null
}

# measure VARIANT HALF (VARIANT: ours, ours_only = without the tick, set, loop) -> "restock_ms total_ms messages dHWM_kB dShmem_kB"
measure() {
	local out before after
	out="$(q -v variant="$1" -v half="$2" -f "$BENCH_DIR/restock_measure.sql" | tail -1)"
	before="$MEMDIR/m.before"
	after="$MEMDIR/m.after"
	echo "${out//|/ }" \
		"$(($(status_kb "$after" VmHWM) - $(status_kb "$before" VmRSS)))" \
		"$(($(status_kb "$after" RssShmem) - $(status_kb "$before" RssShmem)))"
}

# check_ours HALF EXPECTED_MESSAGES MESSAGES (empty: not expanded).  The
# tick also writes the first chunk of still_waiting messages to the lines the
# restock left short (counted in MESSAGES and in its time); the allocation
# messages must be one per line that got units.
check_ours() {
	local got
	got="$(q -c "SELECT allocated || ' ' || paid_served FROM waitlist.sku WHERE id = 1")"
	[ "$got" = "$1 $1" ] || { say "ours: sku counters '$got', expected '$1 $1'"; return 1; }
	[ -z "$3" ] && return 0
	got="$(q -c "SELECT count(*) FROM waitlist.outbox WHERE sku = 'hot' AND kind IN ('allocated', 'ready_to_ship')")"
	[ "$got" = "$2" ] || { say "ours: $got allocation messages ($3 in all), expected $2"; return 1; }
}

# check_bench HALF EXPECTED_LINES
check_bench() {
	local got
	got="$(q -c "SELECT sum(allocated) || ' ' || count(*) FILTER (WHERE allocated > 0)
				   FROM bench.line WHERE sku = 'hot'")"
	[ "$got" = "$1 $2" ] || { say "baseline: allocated/lines '$got', expected '$1 $2'"; return 1; }
	got="$(q -c "SELECT allocated FROM bench.sku WHERE sku = 'hot'")"
	[ "$got" = "$1" ] || { say "baseline: sku.allocated $got, expected $1"; return 1; }
}

declare -A R_OURS T_OURS M_OURS P_OURS R_SET M_SET P_SET R_LOOP M_LOOP P_LOOP R_SETMSG

for n in "${SIZES[@]}"; do
	L="$(label "$n")"
	say "restock N=$L: loading $n hot lines + $((n / 10)) noise lines"
	fresh_db "$PGDATABASE" 2>/dev/null
	q -v n="$n" -f "$BENCH_DIR/restock_setup.sql" >/dev/null
	q -c "VACUUM ANALYZE waitlist.sku, waitlist.line" >/dev/null
	half="$(q -c "SELECT paid_tail / 2 FROM waitlist.sku WHERE sku = 'hot'")"
	lines="$(q -c "SELECT count(*) FROM waitlist.line WHERE sku = 'hot' AND pos_start < $half")"
	say "restock N=$L: restocking $half units, $lines lines get units"

	ours_r=() ours_t=() ours_m=() ours_p=() set_r=() set_m=() set_p=() loop_r=() loop_m=() loop_p=()
	setmsg_r=()
	for ((rep = 1; rep <= OURS_REPS; rep++)); do
		reset_ours >/dev/null
		if [ "$rep" -le "$TICK_REPS" ]; then
			m="$(measure ours "$half")"
			read -r r t msgs dh ds <<<"$m"
			check_ours "$half" "$lines" "$msgs"
			ours_msgs="$msgs"
			ours_t+=("$t")
			t=", +expand $t ms ($msgs messages)"
		else
			m="$(measure ours_only "$half")"
			read -r r t msgs dh ds <<<"$m"
			check_ours "$half" "$lines" ""
			t=""
		fi
		say "  ours      rep $rep: restock ${r} ms$t, peak RSS +${dh} kB (shared buffers +${ds} kB, private +$((dh - ds)) kB)"
		ours_r+=("$r") ours_m+=("$dh") ours_p+=("$((dh - ds))")
	done
	for ((rep = 1; rep <= $(base_reps "$n"); rep++)); do
		reset_bench
		m="$(measure set "$half")"
		read -r r t msgs dh ds <<<"$m"
		check_bench "$half" "$lines"
		say "  set-based rep $rep: restock ${r} ms, peak RSS +${dh} kB (shared buffers +${ds} kB, private +$((dh - ds)) kB)"
		set_r+=("$r") set_m+=("$dh") set_p+=("$((dh - ds))")
		reset_bench
		m="$(measure setmsg "$half")"
		read -r r t msgs dh ds <<<"$m"
		check_bench "$half" "$lines"
		got="$(q -c "SELECT count(*) FROM bench.outbox WHERE sku = 'hot'")"
		say "  set+msgs  rep $rep: restock ${r} ms ($got messages)"
		# the same work: as many messages as the tick wrote
		[ "$got" = "$ours_msgs" ] || { say "baseline (c) wrote $got messages, ours $ours_msgs"; exit 1; }
		setmsg_r+=("$r")
		reset_bench
		m="$(measure loop "$half")"
		read -r r t msgs dh ds <<<"$m"
		check_bench "$half" "$lines"
		say "  plpgsql   rep $rep: restock ${r} ms, peak RSS +${dh} kB (shared buffers +${ds} kB, private +$((dh - ds)) kB)"
		loop_r+=("$r") loop_m+=("$dh") loop_p+=("$((dh - ds))")
	done
	R_OURS[$n]="$(median "${ours_r[@]}")"
	T_OURS[$n]="$(median "${ours_t[@]}")"
	M_OURS[$n]="$(maxof "${ours_m[@]}")"
	P_OURS[$n]="$(maxof "${ours_p[@]}")"
	R_SET[$n]="$(median "${set_r[@]}")"
	R_SETMSG[$n]="$(median "${setmsg_r[@]}")"
	M_SET[$n]="$(maxof "${set_m[@]}")"
	P_SET[$n]="$(maxof "${set_p[@]}")"
	R_LOOP[$n]="$(median "${loop_r[@]}")"
	M_LOOP[$n]="$(maxof "${loop_m[@]}")"
	P_LOOP[$n]="$(maxof "${loop_p[@]}")"
	q -d postgres -c "DROP DATABASE $PGDATABASE"
done

# Table rows (times are medians in ms; memory is the worst rep in kB).
for n in "${SIZES[@]}"; do
	L="$(label "$n")"
	ratio="$(calc "${R_OURS[$n]} / ${R_SET[$n]}")"
	if [ "$n" = "$MID" ]; then
		result "1 restock txn ms, N=$L (vs set-based)" "${R_OURS[$n]}" "${R_SET[$n]}" "$ratio" "<= 0.10" "$(verdict "$ratio < 0.1")"
	else
		result "1 restock txn ms, N=$L (vs set-based)" "${R_OURS[$n]}" "${R_SET[$n]}" "$ratio" "info" "-"
	fi
	result "1 restock txn ms, N=$L (vs plpgsql loop)" "${R_OURS[$n]}" "${R_LOOP[$n]}" "$(calc "${R_OURS[$n]} / ${R_LOOP[$n]}")" "info" "-"
done
ratio="$(calc "${R_OURS[$LARGE]} / ${R_OURS[$SMALL]}")"
result "1 restock txn ms, ours N=$(label "$LARGE") vs ours N=$(label "$SMALL")" \
	"${R_OURS[$LARGE]}" "${R_OURS[$SMALL]}" "$ratio" "<= 2.0" "$(verdict "$ratio <= 2")"
# Memory: VmHWM (peak RSS) growth over the restock transaction counts the
# shared buffers the backend maps for the first time as well as its private
# memory.  Shared pages stay mapped, so VmHWM growth minus RssShmem growth is
# the private (heap) part; that is what "does not grow with N" is judged on,
# with a fixed 256 kB slack for page granularity.  Both are printed.
growth=$((P_OURS[$LARGE] - P_OURS[$SMALL]))
result "1 restock private memory growth kB, ours N=$(label "$LARGE") vs ours N=$(label "$SMALL")" \
	"${P_OURS[$LARGE]}" "${P_OURS[$SMALL]}" "+$growth kB" "<= +256 kB" "$(verdict "$growth <= 256")"
result "1 restock peak RSS growth incl. shared buffers kB, ours N=$(label "$LARGE") vs ours N=$(label "$SMALL")" \
	"${M_OURS[$LARGE]}" "${M_OURS[$SMALL]}" "+$((M_OURS[$LARGE] - M_OURS[$SMALL])) kB" "info" "-"
for n in "${SIZES[@]}"; do
	result "1 restock private memory growth kB, N=$(label "$n") (vs set-based)" "${P_OURS[$n]}" "${P_SET[$n]}" \
		"$(calc "${P_OURS[$n]} / (${P_SET[$n]} > 0 ? ${P_SET[$n]} : 1)")" "info" "-"
	result "1 restock peak RSS growth incl. shared buffers kB, N=$(label "$n") (vs set-based)" "${M_OURS[$n]}" "${M_SET[$n]}" \
		"$(calc "${M_OURS[$n]} / (${M_SET[$n]} > 0 ? ${M_SET[$n]} : 1)")" "info" "-"
done
# Benchmark 2: the restock and the tick that writes its messages, against
# baseline (c), the same messages written set-based inside the restock;
# against baseline (b), which writes none, for information.
for n in "${SIZES[@]}"; do
	ratio="$(calc "${T_OURS[$n]} / ${R_SETMSG[$n]}")"
	result "2 restock+tick until its messages are in the outbox ms, N=$(label "$n") (vs set-based restock writing the same messages)" \
		"${T_OURS[$n]}" "${R_SETMSG[$n]}" "$ratio" "<= 1.0" "$(verdict "$ratio <= 1")"
	result "2 restock+tick until its messages are in the outbox ms, N=$(label "$n") (vs set-based restock writing no message)" \
		"${T_OURS[$n]}" "${R_SET[$n]}" "$(calc "${T_OURS[$n]} / ${R_SET[$n]}")" "info" "-"
done
