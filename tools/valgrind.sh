#!/usr/bin/env bash
# Run the pg_regress suite against a server running under valgrind memcheck
# and report every error whose stack passes through waitlist.so.  Slow
# (minutes); not part of tools/test.sh.  Needs the extension installed.
# The cluster is the harness's (tools/harness.sh), its server started
# under valgrind through WL_SERVER_WRAPPER; the valgrind logs live in the
# cluster's directory, read after a fast shutdown, before the EXIT trap
# removes it.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
#
#   tools/valgrind.sh          the pg_regress suite
#   tools/valgrind.sh regress 00_setup 45_holds ...
#                              those pg_regress files only (00_setup first:
#                              the others use its helpers)
#   tools/valgrind.sh clock    test/clock.sh (the library preloaded: the
#                              launcher, the workers, the DDL hook); its
#                              timing checks fail under valgrind, only the
#                              valgrind report counts
source tools/harness.sh
vg_options() {
	echo "valgrind --trace-children=yes --track-origins=yes \
	--suppressions=$1/valgrind.supp \
	--read-var-info=yes --num-callers=30 --error-limit=no --log-file=$1/vg.%p.log"
}
if [ "${1:-}" = clock ]; then
	# test/clock.sh removes its cluster: the logs go to a directory of their own
	DIR="$(mktemp -d /tmp/waitlist-vg.XXXXXX)"
	chmod 777 "$DIR"
	cp tools/valgrind.supp "$DIR/" && chmod 644 "$DIR/valgrind.supp"
	WL_SERVER_WRAPPER="$(vg_options "$DIR")" WL_START_TIMEOUT=300 \
		bash test/clock.sh >"$DIR/clock.out" 2>&1 || true
	sleep 2
else
	# PostgreSQL's default shared_buffers, as this script always ran with.
	cluster_create "shared_buffers = 128MB" || exit 1
	DIR="$WL_CLUSTER_DIR"
	cp tools/valgrind.supp "$DIR/"
	WL_SERVER_WRAPPER="$(vg_options "$DIR")" WL_START_TIMEOUT=300 cluster_boot || exit 1
	if [ "${1:-}" = regress ]; then
		shift
		make -s installcheck ISOLATION= REGRESS="$*" || true
	else
		make -s installcheck ISOLATION= || true
	fi
	cluster_server_stop fast
	sleep 2
fi
ours=$(grep -lE "waitlist.so|waitlist_[a-z_]+ \(|wl_[a-z_]+ \(" "$DIR"/vg.*.log 2>/dev/null | wc -l)
total=$(grep -h "ERROR SUMMARY" "$DIR"/vg.*.log 2>/dev/null | awk '{s += $4} END {print s + 0}')
procs=$(grep -l "ERROR SUMMARY" "$DIR"/vg.*.log 2>/dev/null | wc -l)
echo "valgrind: $procs processes traced, $total errors in all (any code)"
if [ "$ours" -gt 0 ]; then
	echo "valgrind: errors through waitlist.so in $ours process logs:"
	grep -hE -B5 -A25 "waitlist.so|waitlist_[a-z_]+ \(|wl_[a-z_]+ \(" "$DIR"/vg.*.log | head -200
	exit 1
fi
echo "valgrind: no error passes through waitlist.so"
