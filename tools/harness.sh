# tools/harness.sh: the one test harness every script sources (tools/,
# test/, bench/, relay/test, relay/bench).  It owns:
#   - a throwaway PostgreSQL 15 cluster run by an unprivileged user, on a
#     private socket directory and a free port picked at start (no TCP
#     listener), stopped by an EXIT trap even when something fails;
#   - q, the one psql helper;
#   - policy_off, the one place that turns the availability policy's
#     enforcement off for suites whose data needs it (the Makefile's
#     installcheck reads WL_POLICY_OFF from here too).
#
#   source tools/harness.sh
#   cluster_start [postgresql.conf lines...]   # exports PGHOST PGPORT PGUSER PGDATABASE
#   q -c "SELECT ..."                          # psql for scripts
#   (cluster_stop runs from the EXIT trap)
#
# Sourcing has no side effect: nothing runs until a function is called.

PGBIN="${PGBIN:-$(pg_config --bindir)}"
WL_RUNAS="${WL_RUNAS:-postgres}"
# Where clusters reserve their ports (one lock file per port, see
# _port_reserve) and the range they pick from: below the kernel's
# ephemeral ports, away from 5432 and the old fixed 543xx defaults.
WL_PORT_LOCKS="${WL_PORT_LOCKS:-/tmp/waitlist-ports}"
WL_PORT_MIN=20000
WL_PORT_SPAN=10000
WL_POLICY_OFF="-c waitlist.enforce_policy=off"
WL_PUSHED_DIRS=()
WL_PUSHED_FDS=()

# pass/fail: one line per check for the scripts that count their own
# (they set failures=0 first and exit non-zero when it is not 0 at the end)
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# q [--table] [psql arguments...]: psql without ~/.psqlrc, quiet, stopping
# at the first error; tuples only and unaligned (what a script reads)
# unless --table asks for the aligned tables with headers a person reads.
q() {
	local format=(-A -t)
	if [ "${1:-}" = --table ]; then
		format=()
		shift
	fi
	psql -X -q -v ON_ERROR_STOP=1 "${format[@]}" "$@"
}

# policy_off: sessions started from here on (PGOPTIONS) run with the
# availability policy's enforcement off, for suites whose data places
# backorders on SKUs without restock dates.
policy_off() {
	case " ${PGOPTIONS:-} " in
	*" $WL_POLICY_OFF "*) ;;
	*) export PGOPTIONS="${PGOPTIONS:+$PGOPTIONS }$WL_POLICY_OFF" ;;
	esac
}

# _as_owner COMMAND...: run as the cluster's owner (root may not run postgres)
_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$WL_RUNAS" -- "$@"
	else
		"$@"
	fi
}

# _port_in_use PORT: a server answers on it (TCP on localhost, or a Unix
# socket in the system's or another throwaway cluster's directory)
_port_in_use() {
	local sock
	for sock in /var/run/postgresql/.s.PGSQL."$1" /tmp/.s.PGSQL."$1" /tmp/waitlist-*/.s.PGSQL."$1"; do
		[ -e "$sock" ] && return 0
	done
	(: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _port_reserve PORT: take the port's lock file without waiting.  The lock
# (flock on an open descriptor) is held until cluster_stop closes it, or by
# the kernel's cleanup when this shell and the server it started are gone,
# so a crashed script leaves nothing stale behind.
_port_reserve() {
	local file="$WL_PORT_LOCKS/$1"
	mkdir -p "$WL_PORT_LOCKS" && chmod 1777 "$WL_PORT_LOCKS" 2>/dev/null
	[ -e "$file" ] || : >"$file" 2>/dev/null
	exec {WL_PORT_FD}<"$file" || return 1
	if flock -n "$WL_PORT_FD"; then
		return 0
	fi
	exec {WL_PORT_FD}<&-
	WL_PORT_FD=""
	return 1
}

# _port_pick: reserve a free port, trying from a random start; sets WL_CLUSTER_PORT
_port_pick() {
	local start=$((RANDOM % WL_PORT_SPAN)) i port
	for ((i = 0; i < WL_PORT_SPAN; i++)); do
		port=$((WL_PORT_MIN + (start + i) % WL_PORT_SPAN))
		_port_in_use "$port" && continue
		if _port_reserve "$port"; then
			# A server may have taken it between the check and the lock.
			if _port_in_use "$port"; then
				exec {WL_PORT_FD}<&-
				continue
			fi
			WL_CLUSTER_PORT="$port"
			return 0
		fi
	done
	echo "harness: no free port in $WL_PORT_MIN-$((WL_PORT_MIN + WL_PORT_SPAN - 1))" >&2
	return 1
}

# cluster_push: set the running cluster aside so that cluster_start can
# start one more in this shell (a Citus coordinator and its workers); the
# EXIT trap stops every cluster set aside too.  Its directory and port stay
# in WL_CLUSTER_DIR/WL_CLUSTER_PORT until the next cluster_start.
cluster_push() {
	WL_PUSHED_DIRS+=("$WL_CLUSTER_DIR")
	WL_PUSHED_FDS+=("$WL_PORT_FD")
	WL_PORT_FD=""
	_wl_cluster_owner=""
}

# _cluster_stop_pushed: stop and remove the clusters cluster_push set aside
_cluster_stop_pushed() {
	local i fd
	for i in "${!WL_PUSHED_DIRS[@]}"; do
		_as_owner "$PGBIN/pg_ctl" -D "${WL_PUSHED_DIRS[$i]}/data" -m immediate stop >/dev/null 2>&1
		rm -rf "${WL_PUSHED_DIRS[$i]}"
		fd="${WL_PUSHED_FDS[$i]}"
		[ -n "$fd" ] && exec {fd}<&-
	done
	WL_PUSHED_DIRS=()
	WL_PUSHED_FDS=()
}

# cluster_stop: stop the server (immediate) and remove the cluster.  Only the
# shell that started the cluster stops it; the EXIT trap calls this.
cluster_stop() {
	[ "${#WL_PUSHED_DIRS[@]}" -gt 0 ] && _cluster_stop_pushed
	[ -n "${_wl_cluster_owner:-}" ] || return 0
	[ -n "${WL_KEEP_LOG:-}" ] && cp "$WL_CLUSTER_DIR/server.log" "$WL_KEEP_LOG" 2>/dev/null
	if [ -d "$WL_CLUSTER_DIR" ]; then
		cluster_server_stop immediate
		rm -rf "$WL_CLUSTER_DIR"
	fi
	[ -n "${WL_PORT_FD:-}" ] && exec {WL_PORT_FD}<&-
	WL_PORT_FD=""
	_wl_cluster_owner=""
}

# cluster_server_stop [MODE]: stop the server, keep its files (fast by default)
cluster_server_stop() {
	_as_owner "$PGBIN/pg_ctl" -D "$WL_CLUSTER_DIR/data" -m "${1:-fast}" stop >/dev/null 2>&1 || true
}

# cluster_create [postgresql.conf lines...]: a new cluster on a free port,
# not started yet; the EXIT trap will remove it.  Later lines override
# earlier ones, so callers may override the defaults below.
cluster_create() {
	local line
	WL_CLUSTER_DIR="$(mktemp -d /tmp/waitlist-pg.XXXXXX)"
	_wl_cluster_owner=1
	trap cluster_stop EXIT
	trap 'exit 130' INT TERM
	chmod 755 "$WL_CLUSTER_DIR"
	[ "$(id -u)" -eq 0 ] && chown "$WL_RUNAS" "$WL_CLUSTER_DIR"
	_port_pick || return 1
	_as_owner "$PGBIN/initdb" -D "$WL_CLUSTER_DIR/data" -U postgres -A trust \
		--no-sync -E UTF8 --locale=C >"$WL_CLUSTER_DIR/initdb.log" 2>&1 ||
		{ cat "$WL_CLUSTER_DIR/initdb.log"; return 1; }
	{
		echo "listen_addresses = ''"
		echo "port = $WL_CLUSTER_PORT"
		echo "unix_socket_directories = '$WL_CLUSTER_DIR'"
		echo "max_connections = 100"
		echo "shared_buffers = 512MB"
		echo "max_prepared_transactions = 4"
		echo "log_min_messages = warning"
		for line in "$@"; do echo "$line"; done
	} >>"$WL_CLUSTER_DIR/data/postgresql.conf"
	export WL_CLUSTER_DIR WL_CLUSTER_PORT
}

# cluster_boot: start the created cluster's server and export the PG*
# variables.  WL_SERVER_WRAPPER, when set, is a command prefix the server
# runs under (tools/valgrind.sh: valgrind and its options);
# WL_START_TIMEOUT is how long to wait for it (seconds, default 60).
cluster_boot() {
	local binary=()
	if [ -n "${WL_SERVER_WRAPPER:-}" ]; then
		printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$WL_SERVER_WRAPPER" "$PGBIN/postgres" \
			>"$WL_CLUSTER_DIR/postgres"
		chmod 755 "$WL_CLUSTER_DIR/postgres"
		binary=(-p "$WL_CLUSTER_DIR/postgres")
	fi
	_as_owner "$PGBIN/pg_ctl" -D "$WL_CLUSTER_DIR/data" -l "$WL_CLUSTER_DIR/server.log" \
		"${binary[@]}" -w -t "${WL_START_TIMEOUT:-60}" start >/dev/null ||
		{ cat "$WL_CLUSTER_DIR/server.log"; return 1; }
	export PGHOST="$WL_CLUSTER_DIR" PGPORT="$WL_CLUSTER_PORT" PGUSER=postgres PGDATABASE=postgres
}

# cluster_start [postgresql.conf lines...]: a throwaway cluster of our own, running
cluster_start() {
	cluster_create "$@" && cluster_boot
}

# cluster_restart [MODE]: stop (fast, or crash-style with immediate) and start
# the same cluster
cluster_restart() {
	_as_owner "$PGBIN/pg_ctl" -D "$WL_CLUSTER_DIR/data" -m "${1:-fast}" stop >/dev/null
	cluster_boot
}

# cluster_share: let the suites this shell runs use its cluster
# (tools/test.sh); cluster_start_or_join in a suite then joins it.
cluster_share() {
	export WL_SHARED_CLUSTER="$WL_CLUSTER_DIR"
}

# cluster_start_or_join: the cluster a caller shared (cluster_share, PG*
# variables pointing at it), else a throwaway cluster of our own.  A suite
# that joins never stops the cluster; its owner does.
cluster_start_or_join() {
	if [ -n "${WL_SHARED_CLUSTER:-}" ] && [ "${PGHOST:-}" = "$WL_SHARED_CLUSTER" ] &&
		"$PGBIN/pg_isready" -q -h "$PGHOST" -p "${PGPORT:-}"; then
		WL_CLUSTER_DIR="$WL_SHARED_CLUSTER"
		return 0
	fi
	cluster_start
}
