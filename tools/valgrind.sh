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
source tools/harness.sh
# PostgreSQL's default shared_buffers, as this script always ran with.
cluster_create "shared_buffers = 128MB" || exit 1
DIR="$WL_CLUSTER_DIR"
cp tools/valgrind.supp "$DIR/"
WL_SERVER_WRAPPER="valgrind --trace-children=yes --track-origins=yes \
	--suppressions=$DIR/valgrind.supp \
	--read-var-info=yes --num-callers=30 --error-limit=no --log-file=$DIR/vg.%p.log" \
	WL_START_TIMEOUT=300 cluster_boot || exit 1
make -s installcheck ISOLATION= || true
cluster_server_stop fast
sleep 2
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
