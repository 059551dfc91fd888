#!/usr/bin/env bash
# Run every test suite: pg_regress, isolation specs, pgTAP, hostile input,
# dump/restore, upgrade, the report in a browser, the relay's tests, a
# short soak, the clock and crash durability.  Installs missing Debian packages, builds with -Wall -Wextra
# -Werror, installs, starts one throwaway cluster (tools/harness.sh) that
# every suite but the crash test shares, and stops it on exit, even on
# failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

tools/deps.sh || exit 1
tools/build.sh || { echo "build failed"; exit 1; }

source tools/harness.sh
cluster_start || exit 1
# The suites run one after another; each uses its own databases.
cluster_share

passed=0
failed=0
failures=()
suite() {
	local name="$1"; shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$name")
	fi
}

regress() {
	# pg_regress writes results/ next to the tests: let it, as the caller.
	if ! make -s installcheck; then
		[ -f regression.diffs ] && cat regression.diffs
		[ -f output_iso/regression.diffs ] && cat output_iso/regression.diffs
		return 1
	fi
}

pgtap() {
	q -c "DROP DATABASE IF EXISTS wl_tap" -c "CREATE DATABASE wl_tap" >/dev/null &&
	q -d wl_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION waitlist" >/dev/null &&
	pg_prove -d wl_tap --ext .sql test/
}

metadata() {
	local control meta
	control=$(sed -n "s/^default_version = '\(.*\)'/\1/p" waitlist.control)
	# PGXN Meta Spec 1.0.0: required keys, semantic versions, provides files exist.
	meta=$(python3 - <<'PY'
import json, os, re, sys
m = json.load(open("META.json"))
semver = re.compile(r"^\d+\.\d+\.\d+$")
for key in ("name", "abstract", "maintainer", "license", "provides", "meta-spec", "version"):
    if key not in m:
        sys.exit(f"META.json lacks {key}")
if m["meta-spec"].get("version") != "1.0.0" or not semver.match(m["version"]):
    sys.exit("META.json: bad meta-spec or version")
for name, p in m["provides"].items():
    if not semver.match(p.get("version", "")) or not os.path.exists(p.get("file", "")):
        sys.exit(f"META.json: provides {name} needs a version and an existing file")
    if "docfile" in p and not os.path.exists(p["docfile"]):
        sys.exit(f"META.json: docfile {p['docfile']} missing")
print(m["version"], m["provides"]["waitlist"]["version"])
PY
)
	echo "control $control, META.json $meta"
	[ "$meta" = "$control $control" ] && [ -f "waitlist--$control.sql" ] &&
		grep -q "^## $control" CHANGELOG.md
}

# The reference's Privileges table names what role_privileges() grants.
reference_agrees() {
	q -c "DROP DATABASE IF EXISTS wl_ref" -c "CREATE DATABASE wl_ref" >/dev/null &&
	q -d wl_ref -c "CREATE EXTENSION waitlist" >/dev/null &&
	q -d wl_ref -c "SELECT kind, object_type, object, privilege FROM waitlist.role_privileges()" |
		python3 tools/check_reference.py
}

# A refused contact reaches the caller, never the server log (nor the
# statement that carried it).
contacts_not_logged() {
	psql -X -q -c "CREATE DATABASE wl_log" -d postgres >/dev/null &&
	psql -X -q -d wl_log -c "CREATE EXTENSION waitlist" >/dev/null || return 1
	psql -X -q -d wl_log -c "SELECT waitlist.subscribe('any', 'log-probe@@example.com')" 2>/dev/null
	psql -X -q -d wl_log -c "SELECT waitlist.subscribe('any', NULL, '+1 555 LOG PROBE')" 2>/dev/null
	psql -X -q -d wl_log -c "SELECT waitlist.place_backorder('o', 'any', 1, 'c', 'log-probe2@@example.com')" 2>/dev/null
	grep -q "invalid email address" "$WL_CLUSTER_DIR/server.log" || { echo "no refusal was logged at all"; return 1; }
	if grep -n "log-probe\|LOG PROBE" "$WL_CLUSTER_DIR/server.log"; then
		echo "a refused contact is in the server log"
		return 1
	fi
	echo "refused contacts: logged without the value"
}

suite "metadata agrees" metadata
suite "no contact in the server log" contacts_not_logged
suite "the reference lists the grants" reference_agrees
suite "layers point one way" python3 tools/check_layers.py
suite "pg_regress + isolation" regress
suite "pgTAP" pgtap
suite "hostile input" bash test/hostile.sh
suite "dump and restore" bash test/dump_restore.sh
suite "upgrade 0.1.0 -> 0.2.0" bash test/upgrade.sh
# The merchant's report written for a week of trade and opened in headless
# Chromium (Debian's), every chart checked.
suite "report in a browser" bash test/report.sh
if [ -x relay/test/run.sh ]; then
	suite "relay" relay/test/run.sh
fi
# 30 s of the soak (test/soak.sh --quick): load, two relays, kills, then
# the invariants and every message delivered; the full soak runs alone.
suite "soak (30 s of load)" bash test/soak.sh --quick
# The clock's test starts a cluster of its own: it preloads the library
# (the other suites run without the clock) and restarts the server.
suite "clock (preloaded)" bash test/clock.sh
# The crash test starts a cluster of its own: it SIGSTOPs and SIGKILLs the
# server's WAL writer, which crashes every session on the cluster, and it
# needs settings the others do not run with (autovacuum off,
# synchronous_commit on, restart_after_crash on).
suite "crash durability" bash test/crash_durability.sh
# A Citus coordinator and two workers of its own, one relay per node (it
# prints one line and passes when Citus is not installed).
suite "citus" bash test/citus.sh

echo
echo "suites: ${failures[*]:+failed: ${failures[*]}}"
echo "waitlist: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
