#!/usr/bin/env bash
# relay/bench/run.sh: the relay's performance requirements, each beside a
# baseline measured in the same run (bench.py prints the table):
#   restock commit -> webhook latency vs a bare LISTEN client (1000 restocks)
#   webhook throughput at 16 in flight vs a libcurl-multi client with no
#   database, and vs claim+ack alone (50000 messages per run)
# Throwaway cluster on a free port (tools/harness.sh), unix socket only;
# needs the installed waitlist extension and node.  About 2-3 minutes.
#
#   relay/bench/run.sh [latency|throughput] [--restocks N] [--messages M]
#   relay/bench/run.sh sinks [N]    the older per-sink table (throughput.py,
#                                   Python receiver)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
make -s -C "$here/.." >/dev/null
make -s -C "$here" >/dev/null
# shellcheck source=../../tools/harness.sh
source "$repo/tools/harness.sh"
# The setup places backorders on SKUs without a restock date, which the
# availability policy refuses by default.
policy_off
cluster_start >/dev/null
createdb relay_bench
export PGDATABASE=relay_bench
q -c 'CREATE EXTENSION waitlist' ||
	{ echo "bench: CREATE EXTENSION waitlist failed: install the extension first (tools/build.sh)" >&2; exit 1; }
if [ "${1:-}" = sinks ]; then
	python3 "$here/throughput.py" "${2:-20000}"
	exit
fi
echo "bench: $(nproc) cores, $(q -c 'SHOW server_version'), $(curl --version | head -1 | cut -d' ' -f1-2), node $(node --version)"
python3 "$here/bench.py" "$@"
