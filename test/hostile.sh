#!/usr/bin/env bash
# Hostile input, generated (issue 17): every function of schema waitlist,
# listed from the catalog, is called with hostile arguments (NULL in every
# position, zero, negative, 2^31, 2^63-1, empty and 1 MB strings, control
# characters, infinite and out-of-range dates, extreme intervals, unknown
# SKUs, channels and ids, malformed carts and arrays, the wrong tables),
# each call in a transaction of its own (so the commit-time allocator runs
# after each), plus the calls of earlier findings with the SQLSTATE each
# must end with and every waitlist.* setting set to hostile values.
# test/hostile/setup.psql builds the fixtures and the list of calls.
#
# It fails when
#   - a call ends with an SQLSTATE that docs/reference.md's "SQLSTATEs"
#     section does not list (read from the document on every run, so the
#     documentation and the code cannot drift), XX000 among them;
#   - a targeted call ends otherwise than it must;
#   - the server crashed (a call without an answer, the postmaster restarted)
#     or a call ran into the statement timeout;
#   - a function got fewer calls than its parameters need;
#   - waitlist.check_invariants() reports anything afterwards.
# It prints the calls made and the count of each SQLSTATE.
#
# Joins tools/test.sh's cluster, or starts a throwaway one of its own.
# HOSTILE_MIXES (default 40) random mixes per function, HOSTILE_TRANSACTIONS
# (default 200) transactions of several calls, HOSTILE_SEED the seed.
set -uo pipefail
cd "$(dirname "$0")/.."

source tools/harness.sh
cluster_start_or_join >/dev/null || { echo "FAIL: could not start a cluster"; exit 1; }

DB="wl_hostile_$$"
WORK="$(mktemp -d /tmp/wl_hostile.XXXXXX)"
MIXES="${HOSTILE_MIXES:-40}"
SEED="${HOSTILE_SEED:-0.17}"
TRANSACTIONS="${HOSTILE_TRANSACTIONS:-200}"
failures=0
# KEEP_HOSTILE=1 keeps the database and the files (the calls, psql's output).
cleanup() {
	if [ -n "${KEEP_HOSTILE:-}" ]; then
		echo "kept: database $DB, files in $WORK"
	else
		dropdb --if-exists "$DB" >/dev/null 2>&1
		q -c "DROP ROLE IF EXISTS hostile_app" -c "DROP ROLE IF EXISTS hostile_grantee" >/dev/null 2>&1
		rm -rf "$WORK"
	fi
}
trap 'cleanup; cluster_stop' EXIT

qh() { q -d "$DB" "$@"; }

started=$(date +%s)
q -c "CREATE DATABASE $DB" >/dev/null || exit 1
qh -c "CREATE EXTENSION waitlist" >/dev/null || exit 1
qh -v mixes="$MIXES" -v seed="$SEED" -v transactions="$TRANSACTIONS" -f test/hostile/setup.psql >/dev/null || { fail "setup"; exit 1; }

# The SQLSTATEs the reference documents: the code column of its table.
documented=$(sed -n '/^## SQLSTATEs/,/^## /p' docs/reference.md | grep '^|' |
	cut -d'|' -f2 | grep -o '`[0-9A-Z]\{5\}`' | tr -d '`' | sort -u | paste -sd, -)
[ -n "$documented" ] || { fail "no SQLSTATE table found in docs/reference.md"; exit 1; }

# One script: each call between markers, its SQLSTATE and (the start of)
# its message captured by psql.  Output of the calls goes nowhere.
qh -c "
SELECT string_agg(concat_ws(E'\n',
		'\\echo @@> ' || c.n,
		CASE WHEN c.role IS NOT NULL THEN format('SET ROLE %I;', c.role) END,
		c.sql || ';',
		'SELECT :''SQLSTATE'' AS hx_state, left(regexp_replace(:''LAST_ERROR_MESSAGE'', ''\\s+'', '' '', ''g''), 300) AS hx_message \\gset',
		'\\echo @@< ' || c.n || ' :hx_state :hx_message',
		CASE WHEN c.role IS NOT NULL THEN 'RESET ROLE;' END,
		CASE WHEN c.after IS NOT NULL THEN c.after || ';' END), E'\n' ORDER BY c.ord)
  FROM hostile.call c" >"$WORK/calls.sql" || { fail "could not write the calls"; exit 1; }
calls=$(qh -c "SELECT count(*) FROM hostile.call")
before=$(qh -c "SELECT pg_postmaster_start_time()")

{
	echo "\\o /dev/null"
	echo "SET client_min_messages = error;"
	echo "SET statement_timeout = '30s';"
	echo "SET lock_timeout = '10s';"
	echo "\\set ON_ERROR_ROLLBACK on"
	cat "$WORK/calls.sql"
} >"$WORK/run.sql"
run_started=$(date +%s)
psql -X -q -d "$DB" -f "$WORK/run.sql" >"$WORK/out" 2>"$WORK/err"
run_rc=$?
run_secs=$(($(date +%s) - run_started))

# ------------------------------------------------------------- the server
if "$PGBIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" &&
	[ "$(qh -c "SELECT pg_postmaster_start_time()")" = "$before" ]; then
	pass "the server is up and never restarted (postmaster started $before)"
else
	fail "the server crashed or restarted during the calls"
fi
last=$(grep '^@@> ' "$WORK/out" | tail -1 | cut -d' ' -f2)
answered=$(grep -c '^@@< ' "$WORK/out")
if [ "$answered" -eq "$calls" ] && [ "$run_rc" -eq 0 ]; then
	pass "every one of the $calls calls got an answer (psql exit $run_rc)"
else
	fail "$answered of $calls calls answered (psql exit $run_rc); the last one started:"
	qh -c "SELECT n || ': ' || left(sql, 500) FROM hostile.call WHERE n = ${last:-0}"
	tail -5 "$WORK/err"
fi

# ------------------------------------------------------------ the answers
grep '^@@< ' "$WORK/out" | sed 's/^@@< //' |
	awk '{ n = $1; st = $2; $1 = ""; $2 = ""; sub(/^  */, ""); gsub(/\t/, " "); gsub(/\\/, "&&");
		   print n "\t" st "\t" $0 }' \
	>"$WORK/results.tsv"
qh -c "CREATE TABLE hostile.result (n int PRIMARY KEY, sqlstate text NOT NULL, message text)" \
	-c "\\copy hostile.result FROM '$WORK/results.tsv'" >/dev/null || fail "could not load the answers"

report() {
	local what="$1" sql="$2" out
	out=$(qh -c "$sql")
	if [ -z "$out" ]; then
		pass "$what"
	else
		fail "$what:"
		echo "$out" | head -40
	fi
}

report "no call ended with XX000 (or any internal error, class XX)" "
	SELECT format('  call %s: %s: %s -- %s', r.n, r.sqlstate, r.message, left(c.sql, 300))
	  FROM hostile.result r JOIN hostile.call c USING (n)
	 WHERE r.sqlstate LIKE 'XX%' ORDER BY r.n"
report "every SQLSTATE is documented in docs/reference.md ($documented)" "
	SELECT format('  %s x%s, e.g. call %s: %s -- %s', x.sqlstate, x.calls, x.n, x.message, left(c.sql, 300))
	  FROM (SELECT r.sqlstate, count(*) AS calls, min(r.n) AS n,
				   (array_agg(r.message ORDER BY r.n))[1] AS message
			  FROM hostile.result r
			 WHERE r.sqlstate <> '00000' AND r.sqlstate <> ALL (string_to_array('$documented', ','))
			 GROUP BY r.sqlstate) x
	  JOIN hostile.call c ON c.n = x.n ORDER BY x.sqlstate"
report "every targeted call (earlier findings) ended as it must" "
	SELECT format('  call %s: expected %s, got %s %s -- %s', c.n, c.expect, coalesce(r.sqlstate, '(none)'),
				  CASE WHEN r.sqlstate <> '00000' THEN r.message END, left(c.sql, 300))
	  FROM hostile.call c LEFT JOIN hostile.result r USING (n)
	 WHERE c.expect IS NOT NULL AND r.sqlstate IS DISTINCT FROM c.expect ORDER BY c.n"
report "every function of the catalog was called: 3 or more times, 10 or more when it takes arguments" "
	SELECT format('  %s: %s calls', t.fn, count(r.n))
	  FROM hostile.target t
	  LEFT JOIN hostile.call c ON c.fn = t.fn
	  LEFT JOIN hostile.result r ON r.n = c.n
	 GROUP BY t.fn, t.types
	HAVING count(r.n) < CASE WHEN cardinality(t.types) = 0 THEN 3 ELSE 10 END"
report "a function added to the schema (waitlist.zz_hostile_probe) was called without being listed anywhere" "
	SELECT 'no call' WHERE (SELECT count(*) FROM hostile.call c JOIN hostile.result r USING (n)
							 WHERE c.fn = 'waitlist.zz_hostile_probe(text, bigint, date)'::regprocedure) < 10"
report "every function of the catalog is refused to a role without EXECUTE (42501), but valid_email and valid_phone" "
	SELECT format('  %s as hostile_app: %s', c.fn, r.sqlstate)
	  FROM hostile.call c JOIN hostile.result r USING (n)
	 WHERE c.kind = 'unprivileged'
	   AND (r.sqlstate = '42501') = (c.fn::text LIKE 'waitlist.valid\_%')"
report "waitlist.check_invariants() reports nothing afterwards" "
	SELECT format('  %s %s: %s', invariant, sku, detail) FROM waitlist.check_invariants()"

# ---------------------------------------------------------------- summary
echo "hostile: $calls calls in ${run_secs}s ($(($(date +%s) - started))s in all), answers by SQLSTATE:"
qh -c "SELECT '  ' || string_agg(format('%s %s', sqlstate, n), ', ' ORDER BY sqlstate)
		 FROM (SELECT sqlstate, count(*) AS n FROM hostile.result GROUP BY sqlstate) x"
qh -c "SELECT format('  %s functions, %s of them succeeded at least once; never: %s',
				   count(*), count(*) FILTER (WHERE ok > 0),
				   coalesce(string_agg(fn::text, ', ') FILTER (WHERE ok = 0), 'none'))
		 FROM (SELECT t.fn, count(*) FILTER (WHERE r.sqlstate = '00000' AND c.role IS NULL) AS ok
				 FROM hostile.target t JOIN hostile.call c ON c.fn = t.fn JOIN hostile.result r USING (n)
				GROUP BY t.fn) x"
[ "$failures" -eq 0 ]
