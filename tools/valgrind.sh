#!/usr/bin/env bash
# Run the pg_regress suite against a server running under valgrind memcheck
# and report every error whose stack passes through waitlist.so.  Slow
# (minutes); not part of tools/test.sh.  Needs the extension installed.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
source tools/cluster.sh
PORT="${WL_PGPORT:-54333}"
DIR="$(mktemp -d /tmp/waitlist-vg.XXXXXX)"
chown postgres "$DIR"
stop() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1; }
trap 'stop; rm -rf "$DIR"' EXIT
cp tools/valgrind.supp "$DIR/"
runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync >/dev/null
runuser -u postgres -- bash -c "valgrind --trace-children=yes --track-origins=yes \
	--suppressions=$DIR/valgrind.supp \
	--read-var-info=yes --num-callers=30 --error-limit=no --log-file=$DIR/vg.%p.log \
	$PGBIN/postgres -D $DIR/data -c port=$PORT -c unix_socket_directories=$DIR \
	-c listen_addresses='' -c max_prepared_transactions=4 >$DIR/server.log 2>&1 &"
for _ in $(seq 1 120); do
	"$PGBIN/pg_isready" -h "$DIR" -p "$PORT" -q && break
	sleep 1
done
export PGHOST="$DIR" PGPORT="$PORT" PGUSER=postgres
make -s installcheck ISOLATION= || true
stop
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
