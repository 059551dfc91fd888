#!/usr/bin/env bash
# Crash durability of commits that release their SKU locks early
# (waitlist.early_lock_release, src/txn/durability.c), and of what claim()
# returns (api/outbox_api.c).
#
# Such a commit is written asynchronously and flushed after its locks are
# released; COMMIT must still return only after the flush.  This test runs
# a cluster of its own (tools/harness.sh), even under tools/test.sh: it
# crashes the server, and it needs autovacuum off.
# Before each check it stops (SIGSTOP) the WAL writer and the background
# writer, so WAL that no committing backend flushed stays in shared memory;
# right after the clients heard COMMIT it crashes the server by killing the
# WAL writer (SIGKILL: the postmaster resets shared memory and recovers from
# the WAL on disk).  Checks, one PASS/FAIL line each:
#   1. placements, one per transaction from one session: every
#      acknowledged line survives the crash;
#   2. the same from 8 racing pgbench clients on one SKU: every
#      acknowledged transaction's line survives, and the SKU's counters
#      agree with the lines;
#   3. with waitlist.early_lock_release = off: the same as 1 (the plain
#      synchronous commit);
#   4. sensitivity: with synchronous_commit = off (commits nobody flushes)
#      the same crash does lose acknowledged placements, so checks 1-3
#      would see a missing flush;
#   5. a refusal makes what it saw durable: a placement committed without
#      its flush (synchronous_commit = off, standing in for a commit whose
#      locks went before its flush) takes a SKU's last pre-order slot, a
#      second placement is refused with WL010, then the crash: the first
#      placement is still there, so the refusal was right;
#   6. a claim makes what it returns durable: a restock committed without
#      its flush is lost by the crash (sensitivity), but once an
#      asynchronously committing claim (as the relay's) returned its
#      message, it survives the crash.
# The crash is a crash of the server's processes: WAL written to the
# kernel but not yet fsynced survives it, so these checks see a missing
# flush (WAL left in shared memory), not a missing fsync.
# Exits non-zero on any failure; the cluster is removed either way.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/harness.sh
failures=0

cluster_start "synchronous_commit = on" "autovacuum = off" "restart_after_crash = on" \
	>/dev/null || { echo "FAIL: cluster_start"; exit 1; }
q -c "CREATE EXTENSION waitlist" >/dev/null || { echo "FAIL: CREATE EXTENSION"; exit 1; }

# open SKU: a pre-order plan far above what the test takes
open_sku() {
	q -c "SELECT waitlist.upsert_sku('$1', 'Crash test $1')" \
		-c "SELECT waitlist.open_preorders('$1', 1000000, 80, current_date + 30, current_date + 60)" >/dev/null
}

# place SKU N [SET...]: N placements from one session, one transaction each;
# prints how many the server acknowledged
place() {
	local sku="$1" n="$2" set="${3:-}"
	{
		[ -n "$set" ] && echo "$set;"
		for ((i = 1; i <= n; i++)); do
			echo "SELECT 'ok' FROM waitlist.place_preorder('$sku-$i', '$sku', 1, email => 'c$i@example.com', unit_price => 10, currency => 'USD');"
		done
	} | q | grep -c '^ok$'
}

# lines SKU: pre-order lines of the SKU after the crash
lines() {
	q -c "SELECT count(*) FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku WHERE s.sku = '$1'"
}

# helper PIDs of the running server, by backend type
helper_pid() {
	q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = '$1'"
}

# freeze: checkpoint, then stop the processes that write WAL in the background
freeze() {
	q -c CHECKPOINT
	WALWRITER=$(helper_pid walwriter)
	BGWRITER=$(helper_pid "background writer")
	[ -n "$WALWRITER" ] && [ -n "$BGWRITER" ] || { echo "FAIL: no WAL writer or background writer"; exit 1; }
	kill -STOP "$WALWRITER" "$BGWRITER"
}

# crash: kill the frozen WAL writer and background writer; the postmaster
# kills the rest, resets shared memory (unflushed WAL is gone) and recovers
crash() {
	kill -KILL "$WALWRITER" "$BGWRITER"
	for ((i = 0; i < 600; i++)); do
		if [ "$(helper_pid walwriter 2>/dev/null)" != "" ] &&
			[ "$(helper_pid walwriter 2>/dev/null)" != "$WALWRITER" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "FAIL: the server did not come back after the crash"
	exit 1
}

# crashed_run SKU [SET]: 200 placements from one session, then the crash;
# sets acked (placements the server acknowledged) and got (lines after it)
crashed_run() {
	open_sku "$1"
	freeze
	acked=$(place "$1" 200 "${2:-}")
	crash
	got=$(lines "$1")
}

# 1. one session
crashed_run CR-ONE
if [ "$acked" -eq 200 ] && [ "$got" -eq "$acked" ]; then
	pass "one session: $acked acknowledged placements, $got lines after the crash"
else
	fail "one session: $acked acknowledged placements, $got lines after the crash"
fi

# 2. eight racing clients on one SKU
open_sku CR-RACE
cat >"$WL_CLUSTER_DIR/race.sql" <<'SQL'
\set r random(1, 1000000000000)
SELECT waitlist.place_preorder('r' || :client_id || '.' || :r, 'CR-RACE', 1, email => 'r@example.com', unit_price => 10, currency => 'USD');
SQL
freeze
acked=$(pgbench -n -c 8 -j 2 -t 150 -f "$WL_CLUSTER_DIR/race.sql" 2>&1 |
	sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
crash
read -r got accepted tail <<<"$(q -F ' ' -c "
	SELECT count(l.id), max(s.preorder_accepted), max(s.paid_tail)
	  FROM waitlist.sku s LEFT JOIN waitlist.line l ON l.sku = s.sku WHERE s.sku = 'CR-RACE'")"
if [ "${acked:-0}" -eq 1200 ] && [ "$got" -eq "$acked" ] && [ "$accepted" -eq "$got" ] && [ "$tail" -eq "$got" ]; then
	pass "8 racing clients: $acked acknowledged, $got lines, accepted $accepted, queue tail $tail after the crash"
else
	fail "8 racing clients: ${acked:-none} acknowledged, $got lines, accepted $accepted, queue tail $tail after the crash"
fi

# 3. early lock release off
crashed_run CR-OFF "SET waitlist.early_lock_release = off"
if [ "$acked" -eq 200 ] && [ "$got" -eq "$acked" ]; then
	pass "early_lock_release off: $acked acknowledged placements, $got lines after the crash"
else
	fail "early_lock_release off: $acked acknowledged placements, $got lines after the crash"
fi

# 4. the crash loses unflushed commits
crashed_run CR-ASYNC "SET synchronous_commit = off"
if [ "$acked" -eq 200 ] && [ "$got" -lt "$acked" ]; then
	pass "sensitivity: with synchronous_commit = off the crash lost $((acked - got)) of $acked acknowledged placements"
else
	fail "sensitivity: with synchronous_commit = off, $acked acknowledged and $got lines after the crash (expected a loss)"
fi

# 5. a refusal flushes what it saw
q -c "SELECT waitlist.upsert_sku('CR-CAP', 'Crash test CR-CAP')" \
	-c "SELECT waitlist.open_preorders('CR-CAP', 2, 50, current_date + 30, current_date + 60)" >/dev/null
freeze
first=$(place CR-CAP 1 "SET synchronous_commit = off")
refused=$(q -c "SELECT waitlist.place_preorder('CR-CAP-other', 'CR-CAP', 1, email => 'o@example.com',
	unit_price => 10, currency => 'USD')" 2>&1 | grep -c 'pre-order limit reached')
crash
got=$(lines CR-CAP)
if [ "$first" -eq 1 ] && [ "$refused" -eq 1 ] && [ "$got" -eq 1 ]; then
	pass "refusal at the limit: the placement it saw survived the crash ($got line)"
else
	fail "refusal at the limit: first placement acknowledged $first, refusal seen $refused, $got lines after the crash (expected 1)"
fi

# 6. a claim makes what it returns durable, without its own commit's flush
# claim_setup SKU: a SKU with one backorder waiting, its confirmation claimed
claim_setup() {
	q -c "SET waitlist.enforce_policy = off" \
		-c "SELECT waitlist.upsert_sku('$1', 'Crash test $1')" \
		-c "SELECT waitlist.place_backorder('$1-1', '$1', 1, 'Ann', 'ann@example.com')" >/dev/null
	q -c "SELECT count(*) FROM waitlist.claim('setup', 100)" >/dev/null
}
# restock_unflushed SKU: a restock that commits without its flush, standing
# in for one that released its locks (and sent its NOTIFY) before it
restock_unflushed() {
	q -c "SET synchronous_commit = off" -c "SELECT waitlist.restock('$1', 1)" >/dev/null
}
# restocked SKU: units on hand and batches of the SKU after the crash
restocked() {
	q -F ' ' -c "SELECT s.on_hand, (SELECT count(*) FROM waitlist.batch b WHERE b.sku = s.sku)
		FROM waitlist.sku s WHERE s.sku = '$1'"
}
claim_setup CR-LOST
freeze
restock_unflushed CR-LOST
crash
read -r on_hand batches <<<"$(restocked CR-LOST)"
if [ "$on_hand" -eq 0 ] && [ "$batches" -eq 0 ]; then
	pass "sensitivity: a restock committed without its flush is lost in the crash (on hand $on_hand, $batches batches)"
else
	fail "sensitivity: a restock committed without its flush survived the crash (on hand $on_hand, $batches batches; expected a loss)"
fi
claim_setup CR-CLAIM
freeze
restock_unflushed CR-CLAIM
# as the relay claims: its own commit does not wait for a flush
claimed=$(q -c "SET synchronous_commit = off" \
	-c "SELECT count(*) FROM waitlist.claim('crash', 10, '1 minute', ARRAY['ready_to_ship'])
		WHERE sku = 'CR-CLAIM'")
crash
read -r on_hand batches <<<"$(restocked CR-CLAIM)"
if [ "$claimed" -eq 1 ] && [ "$on_hand" -eq 1 ] && [ "$batches" -eq 1 ]; then
	pass "claim: the restock whose message it returned survived the crash (on hand $on_hand, $batches batch)"
else
	fail "claim: $claimed message(s) returned, then on hand $on_hand and $batches batches after the crash (expected 1, 1, 1)"
fi

[ "$failures" -eq 0 ]
