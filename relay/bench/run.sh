#!/usr/bin/env bash
# relay/bench/run.sh [N]: how fast waitlist-relay drains N messages (default
# 20000) through the stdout sink (into /dev/null: claim + ack cost) and the
# webhook sink (loopback Python server, --in-flight 1 and 32).  Throwaway
# cluster on port $WL_PGPORT (default 54359); the installed extension, or the
# test stand-in when it is not installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export WL_PGPORT="${WL_PGPORT:-54359}"
make -s -C "$here/.." >/dev/null
# shellcheck source=../../tools/cluster.sh
source "$repo/tools/cluster.sh"
cluster_start >/dev/null
createdb relay_bench
export PGDATABASE=relay_bench
if [ -f "$(pg_config --sharedir)/extension/waitlist.control" ]; then
	psql -X -q -c 'CREATE EXTENSION waitlist'
	echo "bench: waitlist extension"
else
	psql -X -q -f "$here/../test/fake_outbox.sql" >/dev/null
	echo "bench: test stand-in (extension not installed)"
fi
python3 "$here/throughput.py" "${1:-20000}"
