#!/usr/bin/env bash
# The clock (src/clock/): with waitlist in shared_preload_libraries, a
# launcher keeps one worker per database that has the extension, each
# running tick() every waitlist.tick_interval.  This test runs a cluster of
# its own (tools/harness.sh), even under tools/test.sh: it preloads the
# library and restarts the server.  The interval is 200 ms; no step sleeps
# more than 0.2 s at a time, every wait polls with a deadline.
# Checks, one PASS/FAIL line each:
#   1. the launcher and the worker show in pg_stat_activity;
#   2. a sign-up's waitlist_joined confirmation reaches a plain LISTEN
#      client (test/clock/listen.c: LISTEN, sign up, wait) within two
#      intervals, with nothing else running, and the message is written;
#   3. with waitlist.clock = off (reload) the worker leaves and the same
#      sign-up reaches nobody (2. is the worker's doing); on again, it works;
#      waitlist.tick_interval reloaded to 1h holds a sign-up back, and back to
#      200 ms writes it at once;
#   4. DROP DATABASE of a second database with the extension (no FORCE)
#      succeeds at once, and the first database's worker still works;
#      ALTER DATABASE ... RENAME of a third succeeds and its worker returns;
#   5. CREATE EXTENSION in a new database starts its worker at once; DROP
#      EXTENSION stops it, CREATE EXTENSION again restarts it; CREATE
#      DATABASE ... TEMPLATE a database with a worker succeeds at once;
#   6. a round that fails (a table it reads renamed away) is logged with the
#      database's name, and once repaired the next rounds work;
#   7. manual tick() calls racing the worker write each confirmation once;
#      a session resetting the extension's tables (TRUNCATE) while rounds run
#      every 10 ms never deadlocks: the round gives way;
#      the launcher, terminated, comes back and starts no second worker;
#   8. after a restart the confirmation path works again, and the server
#      stopped without a worker crashing.
# Exits non-zero on any failure; the cluster is removed either way.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/harness.sh
failures=0
INTERVAL=200

work="$(mktemp -d /tmp/waitlist-clock.XXXXXX)"
LISTEN="$work/listen"
gcc -Wall -Wextra -O -o "$LISTEN" test/clock/listen.c -I"$(pg_config --includedir)" \
	-L"$(pg_config --libdir)" -lpq || { echo "FAIL: building the listener"; exit 1; }

cluster_start "shared_preload_libraries = 'waitlist'" "waitlist.tick_interval = ${INTERVAL}ms" \
	"max_worker_processes = 16" >/dev/null || { echo "FAIL: cluster_start"; exit 1; }
trap 'cluster_stop; rm -rf "$work"' EXIT
LOG="$WL_CLUSTER_DIR/server.log"

# until SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds or time is up
until_ok() {
	local deadline=$((SECONDS + $1))
	shift
	while ! "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# worker_in DB: the clock's worker is connected to DB
worker_in() {
	[ "$(q -c "SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'waitlist clock' AND datname = '$1'")" = 1 ]
}
no_worker_in() { ! worker_in "$1"; }

# new_db DB: a database with the extension and a SKU
new_db() {
	q -c "CREATE DATABASE $1" && q -d "$1" -c "CREATE EXTENSION waitlist" \
		-c "SELECT FROM waitlist.upsert_sku('S', 'Clock test')" >/dev/null
}

# signup_heard DB EMAIL TIMEOUT_MS: LISTEN, sign EMAIL up, and hear the
# NOTIFY within TIMEOUT_MS; prints the milliseconds it took
signup_heard() {
	local out
	out=$(PGDATABASE="$1" "$LISTEN" "$3" "SELECT waitlist.subscribe('S', '$2')") || return 1
	set -- "$1" "$2" "$3" $out
	[ "$5" = '{"outbox":1}' ] || return 1
	echo "$4"
}

# joined DB EMAIL: how many waitlist_joined messages EMAIL has
joined() {
	q -d "$1" -c "SELECT count(*) FROM waitlist.outbox
		WHERE kind = 'waitlist_joined' AND recipient = '$2'"
}

new_db wl_clock_a || { echo "FAIL: setup"; exit 1; }

# 1. observability
if until_ok 10 worker_in wl_clock_a &&
	[ "$(q -c "SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'waitlist clock launcher' AND datname IS NULL")" = 1 ] &&
	[ "$(q -c "SELECT application_name FROM pg_stat_activity
		WHERE backend_type = 'waitlist clock'")" = "waitlist clock" ]; then
	pass "the launcher and wl_clock_a's worker show in pg_stat_activity"
else
	fail "no clock worker in pg_stat_activity"
	q --table -c "SELECT pid, datname, backend_type, application_name FROM pg_stat_activity"
fi

# 2. the confirmation reaches a listener within two intervals
if ms=$(signup_heard wl_clock_a one@example.com $((2 * INTERVAL))) &&
	[ "$(joined wl_clock_a one@example.com)" = 1 ]; then
	pass "a sign-up's confirmation reached a LISTEN client after $ms ms (interval $INTERVAL ms)"
else
	fail "no NOTIFY within $((2 * INTERVAL)) ms of a sign-up, or no waitlist_joined"
fi

# 2b. what the worker writes is counted in the statistics, which autovacuum
# reads to decide when a table needs vacuuming: no session inserted into
# the outbox, so every insert counted there is the worker's.
outbox_inserts() {
	[ "$(q -d wl_clock_a -c "SELECT n_tup_ins FROM pg_stat_user_tables
		WHERE relid = 'waitlist.outbox'::regclass")" -ge 1 ]
}
if until_ok 10 outbox_inserts; then
	pass "the worker's writes reach pg_stat_user_tables (autovacuum sees them)"
else
	fail "pg_stat_user_tables shows none of the worker's outbox inserts after 10 s"
fi

# 3. the worker is what did it
set_clock() {
	q -c "ALTER SYSTEM SET waitlist.clock = $1" -c "SELECT pg_reload_conf()" >/dev/null
}
set_clock off
if until_ok 10 no_worker_in wl_clock_a &&
	! signup_heard wl_clock_a off@example.com 1000 >/dev/null &&
	[ "$(joined wl_clock_a off@example.com)" = 0 ]; then
	set_clock on
	if until_ok 10 worker_in wl_clock_a && until_ok 5 [ "$(joined wl_clock_a off@example.com)" = 1 ] &&
		signup_heard wl_clock_a on@example.com $((2 * INTERVAL)) >/dev/null; then
		pass "with waitlist.clock = off nobody heard a sign-up; on again, the worker came back"
	else
		fail "waitlist.clock = on again: no worker, or no confirmation"
	fi
else
	set_clock on
	fail "waitlist.clock = off: a worker stayed, or the sign-up was confirmed anyway"
fi

# 3b. a new interval applies at the reload, counted from the last round
set_interval() {
	q -c "ALTER SYSTEM SET waitlist.tick_interval = '$1'" -c "SELECT pg_reload_conf()" >/dev/null
}
set_interval 1h
for i in 1 2 3; do sleep 0.2; done
if ! signup_heard wl_clock_a hour@example.com 1000 >/dev/null &&
	[ "$(joined wl_clock_a hour@example.com)" = 0 ]; then
	set_interval ${INTERVAL}ms
	if until_ok 2 [ "$(joined wl_clock_a hour@example.com)" = 1 ]; then
		pass "waitlist.tick_interval reloaded: 1h held a sign-up back, ${INTERVAL}ms again wrote it at once"
	else
		fail "waitlist.tick_interval back to ${INTERVAL}ms: the held sign-up was not written within 2 s"
	fi
else
	set_interval ${INTERVAL}ms
	fail "waitlist.tick_interval = 1h (reloaded): a sign-up was still confirmed within 1 s"
fi

# 4. a dropped database
new_db wl_clock_b && until_ok 10 worker_in wl_clock_b
new_db wl_clock_b2 && until_ok 10 worker_in wl_clock_b2
start=$SECONDS
if q -c "DROP DATABASE wl_clock_b" && [ $((SECONDS - start)) -le 3 ] &&
	ms=$(signup_heard wl_clock_a after-drop@example.com $((2 * INTERVAL))); then
	pass "DROP DATABASE of a database with a worker went through; wl_clock_a still heard in $ms ms"
else
	fail "DROP DATABASE failed or was slow, or wl_clock_a's worker stopped working"
fi

# 4b. a renamed database (RENAME also needs the database alone)
start=$SECONDS
if q -c "ALTER DATABASE wl_clock_b2 RENAME TO wl_clock_b3" && [ $((SECONDS - start)) -le 3 ] &&
	until_ok 10 worker_in wl_clock_b3; then
	pass "ALTER DATABASE ... RENAME of a database with a worker went through; its worker came back"
else
	fail "ALTER DATABASE ... RENAME failed or was slow, or its worker did not come back"
fi

# 5. CREATE EXTENSION in a new database (it had a look-and-leave worker before)
# (3 s: the launcher has listed it and its worker has looked and left; the
# next look would be 5 minutes away, so only the commit's wake-up helps)
q -c "CREATE DATABASE wl_clock_c" >/dev/null
for i in $(seq 15); do sleep 0.2; done
if no_worker_in wl_clock_c && q -d wl_clock_c -c "CREATE EXTENSION waitlist" \
	-c "SELECT FROM waitlist.upsert_sku('S', 'Clock test')" >/dev/null &&
	until_ok 2 worker_in wl_clock_c &&
	ms=$(signup_heard wl_clock_c c@example.com $((2 * INTERVAL))); then
	pass "CREATE EXTENSION in a new database started its worker (heard in $ms ms)"
else
	fail "no worker after CREATE EXTENSION in a new database"
fi

# 5b. DROP EXTENSION: the worker leaves; CREATE EXTENSION again: it is back.
# The DROP holds its locks 0.6 s before it commits: the rounds in between
# wait for it and then find the extension gone, without an error.
if q -d wl_clock_c -c "BEGIN" -c "DROP EXTENSION waitlist" -c "SELECT pg_sleep(0.6)" \
	-c "COMMIT" >/dev/null && until_ok 5 no_worker_in wl_clock_c &&
	! grep -q 'CONTEXT:  waitlist clock tick in database "wl_clock_c"' "$LOG" &&
	q -d wl_clock_c -c "CREATE EXTENSION waitlist" \
		-c "SELECT FROM waitlist.upsert_sku('S', 'Clock test')" >/dev/null &&
	until_ok 2 worker_in wl_clock_c &&
	signup_heard wl_clock_c c2@example.com $((2 * INTERVAL)) >/dev/null; then
	pass "DROP EXTENSION: the worker left without an error; CREATE EXTENSION again: it came back"
else
	fail "the worker did not follow DROP EXTENSION (or logged an error) and CREATE EXTENSION"
	grep -A1 'ERROR' "$LOG" | grep -B1 'database "wl_clock_c"' | head -4
fi

# 5c. CREATE DATABASE ... TEMPLATE a database with a worker (it must be
# alone); the copy has the extension and gets a worker of its own
start=$SECONDS
if until_ok 5 worker_in wl_clock_c && q -c "CREATE DATABASE wl_clock_copy TEMPLATE wl_clock_c" &&
	[ $((SECONDS - start)) -le 4 ] && until_ok 10 worker_in wl_clock_copy &&
	until_ok 10 worker_in wl_clock_c &&
	q -c "CREATE DATABASE wl_clock_default TEMPLATE = DEFAULT"; then
	pass "CREATE DATABASE ... TEMPLATE a database with a worker went through; both have workers"
else
	fail "CREATE DATABASE ... TEMPLATE failed or was slow, or a worker is missing after it"
fi

# 6. a failing round is logged and the next ones work.  A round with
# nothing due reads only indexes; the confirmation queued here (again, for
# a sign-up already confirmed: its message is not written twice) makes the
# round read the renamed table.
q -d wl_clock_a -c "ALTER TABLE waitlist.subscriber RENAME TO subscriber_away" \
	-c "INSERT INTO waitlist.unconfirmed_signup SELECT id, sku FROM waitlist.subscriber_away ORDER BY id LIMIT 1" >/dev/null
logged() { grep -q 'CONTEXT:  waitlist clock tick in database "wl_clock_a"' "$LOG"; }
if until_ok 5 logged; then
	sleep 0.5
	q -d wl_clock_a -c "ALTER TABLE waitlist.subscriber_away RENAME TO subscriber" >/dev/null
	# the backoff may still be running down: the first sign-up gets 5 s
	if worker_in wl_clock_a && signup_heard wl_clock_a repaired@example.com 5000 >/dev/null &&
		ms=$(signup_heard wl_clock_a repaired2@example.com $((2 * INTERVAL))); then
		pass "a failing round was logged with the database's name; repaired, heard in $ms ms"
	else
		fail "the worker did not recover from a failing round"
	fi
else
	q -d wl_clock_a -c "ALTER TABLE waitlist.subscriber_away RENAME TO subscriber" >/dev/null
	fail "a failing round was not logged with the database's name"
fi
grep -B1 'waitlist clock tick in database' "$LOG" | head -4

# 7. manual ticks racing the worker
q -d wl_clock_a -c "SELECT FROM waitlist.upsert_sku('R', 'Race')" >/dev/null
for i in 1 2; do
	(for j in $(seq 40); do q -d wl_clock_a -c "SELECT waitlist.tick()" >/dev/null; done) &
done
q -d wl_clock_a -c "SELECT count(waitlist.subscribe('R', 'r' || g || '@example.com'))
	FROM generate_series(1, 300) g" >/dev/null
for g in $(seq 10); do
	q -d wl_clock_a -c "SELECT waitlist.subscribe('R', 'r-late$g@example.com')" >/dev/null
done
wait
check_race() {
	[ "$(q -d wl_clock_a -c "SELECT count(*) FROM waitlist.unconfirmed_signup WHERE sku = 'R'")" = 0 ]
}
until_ok 5 check_race
race=$(q -d wl_clock_a -c "SELECT count(*), count(DISTINCT recipient),
	(SELECT count(*) FROM waitlist.outbox WHERE kind = 'message_failed')
	FROM waitlist.outbox WHERE kind = 'waitlist_joined' AND sku = 'R'")
if [ "$race" = "310|310|0" ]; then
	pass "manual ticks racing the worker: 310 confirmations, each once, none failed"
else
	fail "manual ticks racing the worker: messages, recipients, failed = $race (expected 310|310|0)"
fi

# 7c. a session that locks the extension's tables one after another (a
# TRUNCATE of several, as a test or a reset does) while rounds run every
# 10 ms: the round gives way (lock_timeout 200 ms, under deadlock_timeout),
# never the session.  Before the round had a lock_timeout, 300 such resets
# met 4 deadlocks (the session aborted with 40P01); a stress loop of 20 s.
q -c "ALTER SYSTEM SET waitlist.tick_interval = '10ms'" -c "SELECT pg_reload_conf()" >/dev/null
new_db wl_clock_reset >/dev/null
until_ok 10 worker_in wl_clock_reset
resets=0
deadlocks=0
start=$SECONDS
while [ $((SECONDS - start)) -lt 20 ]; do
	out=$(q -d wl_clock_reset -c "SELECT waitlist.upsert_sku('T$resets')" \
		-c "SELECT count(waitlist.subscribe('T$resets', 't' || g || '@example.com')) FROM generate_series(1, 20) g" \
		-c "SELECT waitlist.restock('T$resets', 5)" \
		-c "TRUNCATE waitlist.outbox, waitlist.batch, waitlist.line, waitlist.subscriber,
			waitlist.availability, waitlist.preorder_channel, waitlist.purchase, waitlist.sku RESTART IDENTITY CASCADE" 2>&1)
	case "$out" in *deadlock*) deadlocks=$((deadlocks + 1)) ;; esac
	resets=$((resets + 1))
done
q -c "ALTER SYSTEM SET waitlist.tick_interval = '${INTERVAL}ms'" -c "SELECT pg_reload_conf()" >/dev/null
gave_way=$(grep -c 'gave way to a lock' "$LOG")
if [ "$deadlocks" = 0 ] && [ "$resets" -gt 10 ]; then
	pass "$resets table resets racing rounds every 10 ms: no deadlock; the round gave way $gave_way times"
else
	fail "$resets table resets racing rounds every 10 ms: $deadlocks deadlocks"
fi

# 7b. the launcher killed: it comes back (10 s later), and starts no second
# worker where one runs
launcher_pid() {
	q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'waitlist clock launcher'"
}
old_launcher=$(launcher_pid)
worker_pid=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'waitlist clock' AND datname = 'wl_clock_a'")
q -c "SELECT pg_terminate_backend($old_launcher)" >/dev/null
new_launcher() { local p; p=$(launcher_pid); [ -n "$p" ] && [ "$p" != "$old_launcher" ]; }
if until_ok 20 new_launcher && for i in $(seq 10); do sleep 0.2; done &&
	[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'waitlist clock' AND datname = 'wl_clock_a'")" = 1 ] &&
	[ "$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'waitlist clock' AND datname = 'wl_clock_a'")" = "$worker_pid" ]; then
	pass "the launcher, terminated, came back and left wl_clock_a's one worker alone"
else
	fail "after the launcher was terminated: no launcher, or not exactly the one worker in wl_clock_a"
fi

# 8. a restart
cluster_restart fast >/dev/null
if until_ok 10 worker_in wl_clock_a && until_ok 10 worker_in wl_clock_c &&
	ms=$(signup_heard wl_clock_a restarted@example.com $((2 * INTERVAL))); then
	pass "after a restart wl_clock_a's sign-ups are heard again ($ms ms)"
else
	fail "no working clock after a restart"
fi
if grep -E "waitlist clock.*(exited with exit code [^01]|terminated by signal)|PANIC" "$LOG"; then
	fail "a clock process crashed"
else
	pass "no clock process crashed (stops, drops and restarts)"
fi

echo "clock: $failures failed"
[ "$failures" -eq 0 ]
