#!/usr/bin/env bash
# relay/test/run.sh: end-to-end tests of waitlist-relay against the real
# waitlist extension, on the cluster tools/test.sh shares with its suites or
# alone on a throwaway cluster of its own (tools/harness.sh, free port).
# The extension must be installed (tools/build.sh, or make && make
# install): without it the suite fails, it never tests anything else.
# Extra arguments select tests by name substring.
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
# The receiver side verifies every delivery with the official Standard
# Webhooks library (npm standardwebhooks, pinned by package-lock.json into
# test/node_modules, which git ignores).  Node.js and npm come from Debian
# when the machine has neither.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "relay: installing nodejs npm" >&2
	$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null ||
		fail_setup "cannot install nodejs and npm"
fi
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
	[ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
		fail_setup "npm ci in relay/test (the standardwebhooks library)"
fi
# shellcheck source=../../tools/harness.sh
source "$repo/tools/harness.sh"
cluster_start_or_join >/dev/null || fail_setup "cluster_start"
# The tests place backorders on SKUs without restock dates: no policy.
policy_off
q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS relay_test" \
	-c "CREATE DATABASE relay_test" || fail_setup "createdb"
export PGDATABASE=relay_test

control="$(pg_config --sharedir)/extension/waitlist.control"
[ -f "$control" ] ||
	fail_setup "the waitlist extension is not installed ($control is missing)." \
		"Install it first (tools/build.sh, or make && make install):" \
		"the relay is tested against the real extension only"
err="$(q -c "CREATE EXTENSION waitlist" 2>&1)" ||
	fail_setup "CREATE EXTENSION waitlist failed: $err"
echo "relay: testing against the installed waitlist extension"

python3 "$here/relay_tests.py" "$@"
