# Sourced by bench/run.sh (which starts the cluster) and the bench/*.sh
# scripts it runs: small helpers shared by every benchmark, on top of the
# harness (tools/harness.sh: the cluster and q, the psql helper).
#
#   BENCH_MODE     quick | full
#   BENCH_RESULTS  TSV file the final table is built from (one row per target)
#   BENCH_DIR      bench/ (absolute)

BENCH_DIR="${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
# shellcheck source=../tools/harness.sh
source "$BENCH_DIR/../tools/harness.sh"

# Print a progress line on stderr (the table goes to stdout).
say() {
	printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# A fresh database with the extension and the bench schema.
fresh_db() {
	local db="$1"
	q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
	q -d "$db" -c "CREATE EXTENSION waitlist"
}

# Median of the numbers given as arguments.
median() {
	printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Numeric helpers (awk does the floating point).
calc() {
	awk "BEGIN { printf \"%.6g\", $* }"
}

# Record one row of the final table:
#   result NAME OURS BASELINE RATIO TARGET VERDICT
result() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$(num "$2")" "$(num "$3")" "$(num "$4" 3)" \
		"$5" "$6" >>"$BENCH_RESULTS"
}

# A number for the table: integers above 1000, else DIGITS significant digits.
num() {
	if [[ "$1" =~ ^-?[0-9.e+-]+$ ]]; then
		awk -v x="$1" -v d="${2:-4}" 'BEGIN {
			if (x >= 1000 || x <= -1000) printf "%.0f", x; else printf "%.*g", d, x }'
	else
		echo "$1"
	fi
}

# PASS or FAIL from an awk condition, e.g. verdict "0.05 < 0.1".
verdict() {
	if awk "BEGIN { exit !($*) }"; then echo PASS; else echo FAIL; fi
}

# Kilobytes of one /proc/<pid>/status field in a saved copy.
status_kb() {
	awk -v f="$2:" '$1 == f { print $2 }' "$1"
}

# pgbench run; prints "tps transactions" (tps without connection time).
pgbench_run() {
	local out
	out="$(pgbench -n -M prepared "$@" 2>&1)" || { echo "$out" >&2; return 1; }
	if grep -q "aborted\|error" <<<"$out"; then
		echo "$out" >&2
		return 1
	fi
	awk '/^tps = / { tps = $3 }
		/number of transactions actually processed/ { split($NF, a, "/"); n = a[1] }
		END { print tps, n }' <<<"$out"
}

# alternate ROUNDS LABEL A B FUNC [ARGS...]: ROUNDS rounds of
# "FUNC SIDE ARGS..." for the sides A and B, A first in odd rounds and B
# first in even ones; FUNC prints "rate count" (pgbench_run: tps and
# transactions).  Prints "rate_A rate_B ratio count_A count_B": each side's
# count over its seconds (a round weighs by how long it ran), the median of
# the rounds' A/B ratios, and each side's count.  The two sides of a round run back to back, so their
# ratio holds when the machine's speed drifts from round to round; the
# median keeps one disturbed round from deciding.  A progress line per run
# and one with the rounds' ratios.
#   ALTERNATE_EXTRA="C ..."   sides run after A and B in every round (for
#                             information): "rate_C ratio_C count_C" (C
#                             against B) follow on the line, per side
#   ALTERNATE_BEFORE=FUNC     run before every round (a refill)
alternate() {
	local rounds="$1" label="$2" a="$3" b="$4" fn="$5" r side out rate n order s
	shift 5
	local extra=(${ALTERNATE_EXTRA:-})
	local -A count=() secs=() got=() ratios=()
	for side in "$a" "$b" "${extra[@]}"; do
		count[$side]=0 secs[$side]=0 ratios[$side]=""
	done
	for ((r = 1; r <= rounds; r++)); do
		order="$a $b"
		[ $((r % 2)) -eq 0 ] && order="$b $a"
		[ -n "${ALTERNATE_BEFORE:-}" ] && { "$ALTERNATE_BEFORE" >/dev/null || return 1; }
		for side in $order "${extra[@]}"; do
			out="$("$fn" "$side" "$@")" || return 1
			read -r rate n <<<"$out"
			say "$label, $side, round $r: $rate/s ($n)"
			count[$side]=$((count[$side] + n))
			secs[$side]=$(calc "${secs[$side]} + $n / $rate")
			got[$side]="$rate"
		done
		for side in "$a" "${extra[@]}"; do
			ratios[$side]="${ratios[$side]} $(calc "${got[$side]} / ${got[$b]}")"
		done
	done
	say "$label: rounds' ratios $a/$b:${ratios[$a]}"
	# shellcheck disable=SC2086
	out="$(calc "${count[$a]} / ${secs[$a]}") $(calc "${count[$b]} / ${secs[$b]}") $(median ${ratios[$a]})"
	out="$out ${count[$a]} ${count[$b]}"
	for side in "${extra[@]}"; do
		say "$label: rounds' ratios $side/$b:${ratios[$side]}"
		# shellcheck disable=SC2086
		out="$out $(calc "${count[$side]} / ${secs[$side]}") $(median ${ratios[$side]}) ${count[$side]}"
	done
	echo "$out"
}

# Whether waitlist is preloaded here (the clock's launcher runs).
clock_preloaded() {
	[ "$(q -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'waitlist clock launcher'")" != 0 ]
}

# clock_switch on|off: set waitlist.clock and wait until the current
# database's worker is there (on), or until no worker is left in any
# database (off: nothing ticks while a benchmark measures).
clock_switch() {
	local want=1 i sql="SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'waitlist clock'"
	if [ "$1" = on ]; then
		q -d postgres -c "ALTER SYSTEM RESET waitlist.clock" -c "SELECT pg_reload_conf()" >/dev/null
		sql="$sql AND datname = '${PGDATABASE:-postgres}'"
	else
		want=0
		q -d postgres -c "ALTER SYSTEM SET waitlist.clock = off" -c "SELECT pg_reload_conf()" >/dev/null
	fi
	for ((i = 0; i < 300; i++)); do
		[ "$(q -d postgres -c "$sql")" = "$want" ] && return 0
		sleep 0.1
	done
	say "the clock did not turn $1 within 30 s"
	return 1
}
