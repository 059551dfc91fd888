#!/usr/bin/env bash
# test/soak.sh: a bounded soak on loopback (issue 17).
#
# pgbench, 32 clients, mixes sign-ups, backorders, carts, pre-orders at
# their limit, cancellations, shipments, restocks, stock counts, moves in
# an inventory table the extension tracks, unsubscribes and ticks on six
# hot SKUs (test/soak/*.sql, wrappers in test/soak/setup.sql), some under REPEATABLE READ and some changing two
# SKUs in either order, so 40001 and 40P01 happen and pgbench retries them
# (--max-tries).  Two waitlist-relay processes (the installed one) deliver
# the outbox by webhook to a loopback receiver (test/soak/receiver.py) that
# verifies each request's signature, dedupes by Idempotency-Key and answers
# some requests 500 to force retries.  A chaos loop kill -9s one relay
# (restarting it) and pg_terminate_backend()s one pgbench client backend
# every few seconds, and every other time a relay's connection as well.  pgbench runs in rounds of SOAK_ROUND seconds, so a
# client killed in one round is back in the next.
#
# check_invariants() runs at every kill, under the load.  Then the outbox
# drains, and the soak fails unless: check_invariants() returned no row,
# during the load and at the end; every message is delivered (none dead, pending or
# leased); every message the lines and sign-ups call for exists; the keys
# the receiver accepted are exactly the outbox's keys (none lost, none
# from nowhere), each accepted once; every pgbench error was a retried
# 40001/40P01, a refusal the wrapper expects, or a client we killed; the
# server log shows no crash.  It prints transactions, retries, refusals by
# SQLSTATE, messages, deliveries, duplicates and kills.
#
#   test/soak.sh                 about 150 s of load (SOAK_SECONDS), then the drain
#   test/soak.sh --quick         30 s of load (what tools/test.sh runs)
#   SOAK_SECONDS=600 test/soak.sh
#
# Settings (environment): SOAK_SECONDS (150), SOAK_CLIENTS (32), SOAK_ROUND
# (15 s of pgbench per round), SOAK_CHAOS (6: seconds between kills, on
# average), SOAK_DRAIN (180: longest wait for the outbox to drain),
# SOAK_FAIL_PCT (3) and SOAK_LOST_PCT (1): the receiver's 500s (nothing
# accepted) and lost answers (accepted, then 500), SOAK_KEEP (a directory
# to keep the logs in).
#
# Runs on the cluster tools/test.sh shares, or a throwaway cluster of its
# own (tools/harness.sh); needs the extension and the relay installed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
HERE="$ROOT/test/soak"

if [ "${1:-}" = --quick ]; then
	SOAK_SECONDS="${SOAK_SECONDS:-30}"
	shift
fi
SOAK_SECONDS="${SOAK_SECONDS:-150}"
SOAK_CLIENTS="${SOAK_CLIENTS:-32}"
SOAK_ROUND="${SOAK_ROUND:-15}"
SOAK_CHAOS="${SOAK_CHAOS:-6}"
SOAK_DRAIN="${SOAK_DRAIN:-180}"
SOAK_FAIL_PCT="${SOAK_FAIL_PCT:-3}"
SOAK_LOST_PCT="${SOAK_LOST_PCT:-1}"
SECRET="whsec_c29hay1zaWduaW5nLXNlY3JldC0zMi1ieXRlcy1sb25nIQ=="
# pgbench scripts and weights (percent of the transactions, roughly)
SCRIPTS=(subscribe@20 backorder@18 preorder@14 cancel@8 ship@8 restock@8 cart@5
	repeatable_read@5 unsubscribe@4 count@4 stock@4 two_skus@4 tick@2)

say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { say "soak: $*"; echo "soak: FAIL"; exit 1; }

command -v pgbench >/dev/null || die "pgbench is not on the PATH"
RELAY="$(command -v waitlist-relay)" || die "waitlist-relay is not installed (tools/build.sh)"
[ -f "$(pg_config --sharedir)/extension/waitlist.control" ] ||
	die "the waitlist extension is not installed (tools/build.sh)"

OUT="$(mktemp -d /tmp/waitlist-soak.XXXXXX)"
chmod 755 "$OUT"

# shellcheck source=../tools/harness.sh
source "$ROOT/tools/harness.sh"
cluster_start_or_join >/dev/null || die "cluster_start"
# The availability policy guards the orders, as in a shop (policy_off,
# which other suites' data needs, would let backorders through everywhere).
PGOPTIONS="${PGOPTIONS:-}"
export PGOPTIONS="${PGOPTIONS//$WL_POLICY_OFF/}"
# Everything started here stops on exit, before the harness stops the
# cluster (a joined cluster is left to its owner).
declare -A RELAY_PID=()
RECEIVER_PID=""
LOAD_PID=""
cleanup() {
	local pid
	[ -n "$LOAD_PID" ] && kill -TERM "$LOAD_PID" 2>/dev/null && wait "$LOAD_PID" 2>/dev/null
	for pid in "${RELAY_PID[@]}"; do kill -9 "$pid" 2>/dev/null; done
	[ -n "$RECEIVER_PID" ] && kill -9 "$RECEIVER_PID" 2>/dev/null
	if [ -n "${SOAK_KEEP:-}" ]; then
		mkdir -p "$SOAK_KEEP" && cp -r "$OUT"/. "$SOAK_KEEP"/
	fi
	rm -rf "$OUT"
	cluster_stop
}
trap cleanup EXIT

export PGDATABASE=soak
q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS soak" \
	-c "CREATE DATABASE soak" >/dev/null || die "createdb"
q -c "CREATE EXTENSION waitlist" -f "$HERE/setup.sql" >/dev/null || die "setup"
# The relays log in as a role granted grant_relay and nothing else.
q -c "DO \$\$ BEGIN CREATE ROLE soak_relay LOGIN; EXCEPTION WHEN duplicate_object THEN END \$\$" \
	-c "SELECT waitlist.grant_relay('soak_relay')" >/dev/null || die "the relay's role"
LOG_FROM=$(stat -c %s "$WL_CLUSTER_DIR/server.log" 2>/dev/null || echo 0)

# ---------------------------------------------------------------- receiver
python3 "$HERE/receiver.py" "$SECRET" "$OUT" "$SOAK_FAIL_PCT" "$SOAK_LOST_PCT" \
	>"$OUT/receiver.port" 2>"$OUT/receiver.log" &
RECEIVER_PID=$!
for _ in $(seq 50); do [ -s "$OUT/receiver.port" ] && break; sleep 0.1; done
PORT="$(head -1 "$OUT/receiver.port")"
[ -n "$PORT" ] || die "the receiver did not start: $(cat "$OUT/receiver.log")"

# ---------------------------------------------------------------- relays
declare -A RELAY_RUN=([a]=0 [b]=0)
relay_start() {
	local slot="$1" n=$((RELAY_RUN[$1] + 1))
	RELAY_RUN[$slot]=$n
	WAITLIST_RELAY_SECRET="$SECRET" "$RELAY" -d "dbname=soak user=soak_relay" \
		--webhook "http://127.0.0.1:$PORT/hook" --consumer "soak-$slot.$n" \
		--lease 5s --poll-interval 1s --timeout 5s --in-flight 8 \
		>>"$OUT/relay-$slot.log" 2>&1 &
	RELAY_PID[$slot]=$!
}
relay_start a
relay_start b

# ---------------------------------------------------------------- load
# Rounds of pgbench until SOAK_SECONDS have passed; each round's output in
# OUT/round-N.log.
load() {
	local args=() s end=$((SECONDS + SOAK_SECONDS)) round=0 left pgbench_pid=""
	trap '[ -n "$pgbench_pid" ] && kill "$pgbench_pid" 2>/dev/null; exit 1' TERM
	for s in "${SCRIPTS[@]}"; do args+=(-f "$HERE/${s%@*}.sql@${s#*@}"); done
	while [ "$SECONDS" -lt "$end" ]; do
		round=$((round + 1))
		left=$((end - SECONDS))
		[ "$left" -gt "$SOAK_ROUND" ] && left="$SOAK_ROUND"
		PGOPTIONS="${PGOPTIONS:-} -c deadlock_timeout=100ms" \
			pgbench -n -M prepared -c "$SOAK_CLIENTS" -j 2 -T "$left" --max-tries=0 \
			--failures-detailed "${args[@]}" >"$OUT/round-$round.log" 2>&1 &
		pgbench_pid=$!
		wait "$pgbench_pid"
		echo "$?" >"$OUT/round-$round.rc"
		pgbench_pid=""
	done
}
say "soak: $SOAK_SECONDS s of load, $SOAK_CLIENTS clients in rounds of $SOAK_ROUND s, two relays," \
	"a kill every ~$SOAK_CHAOS s; receiver on 127.0.0.1:$PORT"
load &
LOAD_PID=$!
started=$SECONDS

# ---------------------------------------------------------------- chaos
relay_kills=0
relay_conn_kills=0
live_checks=0
live_violations=0
backend_kills=0
next_report=$((SECONDS + 30))
while kill -0 "$LOAD_PID" 2>/dev/null; do
	sleep "$(awk -v c="$SOAK_CHAOS" -v r="$RANDOM" 'BEGIN { printf "%.2f", c * (0.5 + r / 32767) }')"
	kill -0 "$LOAD_PID" 2>/dev/null || break
	slot=$([ $((RANDOM % 2)) -eq 0 ] && echo a || echo b)
	if kill -9 "${RELAY_PID[$slot]}" 2>/dev/null; then
		wait "${RELAY_PID[$slot]}" 2>/dev/null
		relay_kills=$((relay_kills + 1))
	fi
	relay_start "$slot"
	pid="$(q -c "SELECT soak.terminate_client()" 2>/dev/null)"
	[ -n "$pid" ] && backend_kills=$((backend_kills + 1))
	# Every other time, a relay's database connection too (it reconnects
	# and records the outcomes it reached meanwhile).
	if [ $((RANDOM % 2)) -eq 0 ]; then
		pid="$(q -c "SELECT soak.terminate_relay()" 2>/dev/null)"
		[ -n "$pid" ] && relay_conn_kills=$((relay_conn_kills + 1))
	fi
	# The invariants hold in every committed state, not only at the end.
	v="$(q -c "SELECT invariant || ' ' || coalesce(sku, '-') || ': ' || detail
		FROM waitlist.check_invariants()" 2>&1)" || v="check_invariants failed: $v"
	live_checks=$((live_checks + 1))
	if [ -n "$v" ]; then
		live_violations=$((live_violations + 1))
		say "soak: $((SECONDS - started)) s: check_invariants: ${v:0:600}"
	fi
	if [ "$SECONDS" -ge "$next_report" ]; then
		say "soak: $((SECONDS - started)) s: $(q -F ' ' -c "SELECT count(*) || ' messages, ' ||
			count(*) FILTER (WHERE state = 'delivered') || ' delivered' FROM waitlist.outbox")," \
			"$relay_kills relay kills, $backend_kills backend kills"
		next_report=$((SECONDS + 30))
	fi
done
wait "$LOAD_PID"
LOAD_PID=""
load_secs=$((SECONDS - started))
say "soak: load done after $load_secs s; draining the outbox"

# ---------------------------------------------------------------- drain
# Both relays run; done when no message is pending or leased and nothing
# waits to be expanded (next_due() is NULL or only the re-authorizations
# days ahead).
drain_started=$SECONDS
for slot in a b; do kill -0 "${RELAY_PID[$slot]}" 2>/dev/null || relay_start "$slot"; done
while :; do
	left="$(q -c "SELECT count(*) FROM waitlist.outbox WHERE state IN ('pending', 'leased')
		UNION ALL SELECT count(*) FROM waitlist.batch WHERE expanded_at IS NULL
		UNION ALL SELECT coalesce(waitlist.next_due() <= now() + interval '1 hour', false)::int" |
		paste -sd ' ')"
	[ "$left" = "0 0 0" ] && break
	if [ $((SECONDS - drain_started)) -ge "$SOAK_DRAIN" ]; then
		say "soak: not drained after $SOAK_DRAIN s (pending+leased, batches, due soon: $left)"
		break
	fi
	sleep 1
done
drain_secs=$((SECONDS - drain_started))
for slot in a b; do
	kill -TERM "${RELAY_PID[$slot]}" 2>/dev/null && wait "${RELAY_PID[$slot]}" 2>/dev/null
done
RELAY_PID=()
kill -TERM "$RECEIVER_PID" && wait "$RECEIVER_PID" 2>/dev/null
RECEIVER_PID=""
[ -f "$OUT/stats.json" ] || die "the receiver wrote no statistics: $(cat "$OUT/receiver.log")"

# ---------------------------------------------------------------- checks
failed=0
fail() { say "FAIL: $*"; failed=1; }

q -c "CREATE TABLE soak.accepted (key text PRIMARY KEY)" \
	-c "CREATE TABLE soak.received (key text PRIMARY KEY, requests integer)" \
	-c "\\copy soak.accepted FROM '$OUT/accepted'" \
	-c "\\copy soak.received FROM '$OUT/received'" >/dev/null || die "loading the receiver's keys"
while IFS='|' read -r name problems sample; do
	if [ "$problems" -eq 0 ]; then
		say "ok: $name: none"
	else
		fail "$name: $problems (${sample:0:600})"
	fi
done < <(q -f "$HERE/check.sql")

if [ "$live_violations" -eq 0 ]; then
	say "ok: check_invariants() during the load: $live_checks times, clean"
else
	fail "check_invariants() reported violations $live_violations times of $live_checks during the load"
fi

# pgbench: every round's errors were retried, expected, or a client we
# killed: the backend's FATAL, or the client's next send or read failing
# (killed between a statement and the end of its transaction, pgbench 15
# says only that the client aborted while receiving the transaction status,
# its cause on a line of its own; the aborted clients are counted against
# the kills below either way).
KILLED="terminating connection due to administrator command\|server closed the connection unexpectedly"
KILLED="$KILLED\|perhaps the backend died\|SQL command send failed"
KILLED="$KILLED\|aborted while receiving the transaction status"
transactions=0 failures=0 retried=0 retries=0 aborted=0 other_errors=0
for log in "$OUT"/round-*.log; do
	read -r n f t r <<<"$(awk '
		/^number of transactions actually processed:/ { split($6, a, "/"); n = a[1] }
		/^number of failed transactions:/ { f = $5 }
		/^number of transactions retried:/ { t = $5 }
		/^total number of retries:/ { r = $5 }
		END { print n + 0, f + 0, t + 0, r + 0 }' "$log")"
	transactions=$((transactions + n)) failures=$((failures + f))
	retried=$((retried + t)) retries=$((retries + r))
	a=$(grep -Ec "client [0-9]+ (script [0-9]+ )?aborted" "$log")
	aborted=$((aborted + a))
	o=$(grep "aborted\|error" "$log" | grep -v "Run was aborted" |
		grep -vc "$KILLED")
	if [ "$o" -gt 0 ]; then
		other_errors=$((other_errors + o))
		grep "aborted\|error" "$log" | grep -v "Run was aborted" | grep -v "$KILLED" | head -5
	fi
	rc=$(cat "${log%.log}.rc")
	[ "$rc" -eq 0 ] || [ "$rc" -eq 2 -a "$a" -gt 0 ] || fail "pgbench ${log##*/} exited $rc: $(tail -3 "$log")"
done
[ "$other_errors" -eq 0 ] || fail "pgbench: $other_errors errors that were neither retried, expected nor our kills"
[ "$aborted" -le "$backend_kills" ] || fail "pgbench: $aborted clients aborted, only $backend_kills backends killed"
[ "$transactions" -gt 0 ] || fail "pgbench ran no transaction"

# The server: no crash, no assertion, no PANIC during the soak.
tail -c +"$((LOG_FROM + 1))" "$WL_CLUSTER_DIR/server.log" >"$OUT/server.log" 2>/dev/null
if grep -n "PANIC\|TRAP:\|terminated by signal\|was terminated\|server process .* exited" "$OUT/server.log" | head -5; then
	fail "the server log reports a crash"
fi
# A client that ended between the chaos loop's pick and its kill is not
# terminated (a WARNING, not counted as a kill).
warnings=$(grep "WARNING" "$OUT/server.log" | grep -vc "is not a PostgreSQL backend process")

# ---------------------------------------------------------------- numbers
read -r requests keys accepted duplicates answered_500 lost bad overlaps <<<"$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["requests"], s["keys"], s["accepted"], s["duplicates"], s["answered_500"],
      s["lost_answers"], s["bad_requests"], s["overlaps"])' "$OUT/stats.json")"
[ "$bad" -eq 0 ] || fail "the receiver refused $bad requests: $(cat "$OUT/stats.json")"
[ "$overlaps" -eq 0 ] || fail "$overlaps requests came while another request for the same key was in progress"
messages=$(q -c "SELECT count(*) FROM waitlist.outbox WHERE state <> 'skipped'")
[ "$accepted" -eq "$messages" ] || fail "$messages messages, $accepted keys accepted"

echo
echo "soak: ${load_secs} s of load, ${drain_secs} s to drain, $SOAK_CLIENTS clients"
echo "  transactions            $transactions ($((transactions / (load_secs > 0 ? load_secs : 1))) tps)"
echo "  retried (40001, 40P01)  $retried transactions, $retries retries; $failures still retrying when their round ended"
printf '  %-23s %s\n' "by script" "$(awk '/^SQL script/ { name = $4; sub(/.*\//, "", name); sub(/\.sql$/, "", name) }
	/ - [0-9]+ transactions/ { n[name] += $2 } END { for (k in n) printf "%s %d, ", k, n[k] }' "$OUT"/round-*.log |
	sed 's/, $//')"
echo "  refusals (expected)     $(q -c "SELECT string_agg(op || ' ' || code || ' ' || n, ', ' ORDER BY op, code)
	FROM (SELECT op, code, count(*) AS n FROM soak.refusal GROUP BY 1, 2) r")"
echo "  messages                $messages ($(q -c "SELECT string_agg(channel || ' ' || n, ', ' ORDER BY n DESC)
	FROM (SELECT channel, count(*) AS n FROM waitlist.outbox GROUP BY 1) c"))"
echo "  kinds                   $(q -c "SELECT string_agg(kind || ' ' || n, ', ' ORDER BY n DESC)
	FROM (SELECT kind, count(*) AS n FROM waitlist.outbox GROUP BY 1) c")"
echo "  delivery attempts       $(q -c "SELECT sum(attempts) || ' recorded by the outbox (' ||
	count(*) FILTER (WHERE attempts > 1) || ' messages took more than one)' FROM waitlist.outbox")"
echo "  deliveries (requests)   $requests to $keys keys: $accepted accepted once each, $duplicates duplicates" \
	"deduped, $answered_500 answered 500, $lost accepted with the answer lost (500)"
echo "  relay kills (kill -9)   $relay_kills, and $relay_conn_kills relay connections terminated"
echo "  backend kills           $backend_kills pg_terminate_backend(), $aborted pgbench clients aborted by them"
echo "  server log              $warnings warnings"
if [ "$failed" -ne 0 ]; then
	echo "soak: FAIL"
	exit 1
fi
echo "soak: PASS"
