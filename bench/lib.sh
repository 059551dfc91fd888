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
