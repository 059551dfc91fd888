#!/usr/bin/env bash
# relay/test/run.sh: end-to-end tests of waitlist-relay on the cluster
# tools/test.sh shares with its suites, or alone on a throwaway cluster of
# its own (tools/harness.sh, free port).  Uses the installed waitlist
# extension when its control file exists; otherwise, or with
# WAITLIST_RELAY_FAKE=1, the test stand-in relay/test/fake_outbox.sql.
# WAITLIST_RELAY_FAKE=0 insists on the real extension.  Extra arguments
# select tests by name substring.
# Ends with "relay: N passed, M failed"; exits non-zero when M > 0.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

fail_setup() {
	echo "relay: setup failed: $*" >&2
	echo "relay: 0 passed, 1 failed"
	exit 1
}

make -s -C "$here/.." CFLAGS_EXTRA="${CFLAGS_EXTRA:-}" >/dev/null || fail_setup "build"
# shellcheck source=../../tools/harness.sh
source "$repo/tools/harness.sh"
cluster_start_or_join >/dev/null || fail_setup "cluster_start"
# The tests place backorders on SKUs without restock dates: no policy.
policy_off
q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS relay_test" \
	-c "CREATE DATABASE relay_test" || fail_setup "createdb"
export PGDATABASE=relay_test

control="$(pg_config --sharedir)/extension/waitlist.control"
if [ "${WAITLIST_RELAY_FAKE:-}" != 1 ] && [ -f "$control" ]; then
	q -c 'CREATE EXTENSION waitlist' >/dev/null ||
		fail_setup "CREATE EXTENSION waitlist"
	echo "relay: testing against the installed waitlist extension"
elif [ "${WAITLIST_RELAY_FAKE:-}" = 0 ]; then
	fail_setup "WAITLIST_RELAY_FAKE=0 but $control is not installed"
else
	export WAITLIST_RELAY_FAKE=1
	q -f "$here/fake_outbox.sql" >/dev/null ||
		fail_setup "loading the stand-in"
	if [ -f "$control" ]; then why="WAITLIST_RELAY_FAKE=1"; else why="waitlist extension not installed"; fi
	echo "relay: $why: testing against the STAND-IN relay/test/fake_outbox.sql"
fi

python3 "$here/relay_tests.py" "$@"
