#!/usr/bin/env bash
# Run every waitlist benchmark on a throwaway cluster and print one table:
#   benchmark | ours | baseline | ratio | target | PASS/FAIL
# Each number is printed beside a baseline measured in the same run, on the
# same cluster, over tables of the same shape, so the ratio holds on a noisy
# machine.  The table is also saved to bench/results/latest.txt.
#
#   bench/run.sh            full run: N up to 1,000,000 lines (~30-40 min)
#   bench/run.sh --quick    small N, short pgbench runs (under 2 minutes)
#   bench/run.sh [--quick] restock|subscribe|claim|preorder|policy|import|tick_idle|status_round|holds|events|insights|clock|wal ...   only those
#   bench/run.sh --preload ...   the same with waitlist in shared_preload_libraries:
#                                the clock's worker runs tick() every second in
#                                every benchmark database while they are measured
#
# Needs the extension installed (make && make install) and runs the server
# as the unprivileged user "postgres" on a free port (tools/harness.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

BENCH_MODE=full
PRELOAD=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) BENCH_MODE=quick ;;
	--preload) PRELOAD=("shared_preload_libraries = 'waitlist'" "waitlist.tick_interval = '1s'") ;;
	*) break ;;
	esac
	shift
done
SUITES=("$@")
[ ${#SUITES[@]} -eq 0 ] && SUITES=(restock subscribe claim preorder policy import tick_idle status_round holds events insights clock wal)

if [ ! -f "$(pg_config --sharedir)/extension/waitlist.control" ]; then
	echo "waitlist is not installed: make PG_CFLAGS='-Wall -Wextra -Werror' && make install" >&2
	exit 1
fi
if [ -n "$(find src -name '*.c' -newer "$(pg_config --pkglibdir)/waitlist.so" 2>/dev/null)" ]; then
	echo "warning: src/ is newer than the installed waitlist.so; run make && make install" >&2
fi

mkdir -p bench/results
# Progress lines (stderr) are kept in bench/results/latest.log.
exec 2> >(tee bench/results/latest.log >&2)
export BENCH_MODE
export BENCH_DIR="$ROOT/bench"
export BENCH_RESULTS="$ROOT/bench/results/rows.tsv"
: >"$BENCH_RESULTS"

source bench/lib.sh
# fsync on (commit costs are real); no checkpoint may start inside a
# measurement: the scripts run CHECKPOINT before each one instead.
cluster_start \
	"fsync = on" \
	"max_wal_size = 16GB" \
	"checkpoint_timeout = 1h" \
	"autovacuum = off" \
	"${PRELOAD[@]}"
started=$(date +%s)

status=0
for s in "${SUITES[@]}"; do
	case "$s" in
	restock | subscribe | claim | preorder | policy | import | tick_idle | status_round | holds | events | insights | clock | wal) bash "bench/$s.sh" || { echo "benchmark $s failed" >&2; status=1; } ;;
	*) echo "unknown benchmark: $s" >&2; status=1 ;;
	esac
done

{
	echo "waitlist benchmarks, mode $BENCH_MODE, $(date -u +%Y-%m-%dT%H:%M:%SZ)," \
		"PostgreSQL $(q -c 'SHOW server_version'), $(nproc) cores," \
		"$(($(date +%s) - started)) s"
	[ ${#PRELOAD[@]} -gt 0 ] &&
		echo "waitlist preloaded: $(q -tAc "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'waitlist%'") clock processes running at the end"
	echo
	{
		printf 'benchmark\tours\tbaseline\tratio\ttarget\tresult\n'
		cat "$BENCH_RESULTS"
	} | column -t -s $'\t' -o ' | '
	echo
	fails=$(awk -F'\t' '$6 == "FAIL"' "$BENCH_RESULTS" | wc -l)
	passes=$(awk -F'\t' '$6 == "PASS"' "$BENCH_RESULTS" | wc -l)
	echo "targets: $passes passed, $fails failed"
} | tee bench/results/latest.txt
suffix=$BENCH_MODE${PRELOAD:+-preload}
cp bench/results/latest.txt "bench/results/latest-$suffix.txt"
cp bench/results/latest.log "bench/results/latest-$suffix.log"
[ "$status" -eq 0 ]
