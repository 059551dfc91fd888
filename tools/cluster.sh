# Sourced by tools/test.sh, tools/demo.sh and bench scripts: a throwaway
# PostgreSQL 15 cluster owned by an unprivileged user, on a private socket
# directory and port (no TCP listener, so clusters never collide), stopped
# by an EXIT trap even when something fails.
#
#   source tools/cluster.sh
#   cluster_start            # exports PGHOST PGPORT PGUSER PGDATABASE
#   ... psql, pg_regress ...
#   (cluster_stop runs from the trap)

PGBIN="${PGBIN:-$(pg_config --bindir)}"
WL_PGPORT="${WL_PGPORT:-54329}"
WL_RUNAS="${WL_RUNAS:-postgres}"

_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$WL_RUNAS" -- "$@"
	else
		"$@"
	fi
}

cluster_stop() {
	[ -n "${WL_KEEP_LOG:-}" ] && [ -n "${WL_CLUSTER_DIR:-}" ] && cp "$WL_CLUSTER_DIR/server.log" "$WL_KEEP_LOG" 2>/dev/null
	if [ -n "${WL_CLUSTER_DIR:-}" ] && [ -d "$WL_CLUSTER_DIR" ]; then
		_as_owner "$PGBIN/pg_ctl" -D "$WL_CLUSTER_DIR/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$WL_CLUSTER_DIR"
	fi
	WL_CLUSTER_DIR=""
}

# cluster_start [extra postgresql.conf lines...]
cluster_start() {
	WL_CLUSTER_DIR="$(mktemp -d /tmp/waitlist-pg.XXXXXX)"
	trap cluster_stop EXIT
	trap 'exit 130' INT TERM
	chmod 755 "$WL_CLUSTER_DIR"
	[ "$(id -u)" -eq 0 ] && chown "$WL_RUNAS" "$WL_CLUSTER_DIR"
	_as_owner "$PGBIN/initdb" -D "$WL_CLUSTER_DIR/data" -U postgres -A trust \
		--no-sync -E UTF8 --locale=C >"$WL_CLUSTER_DIR/initdb.log" 2>&1 ||
		{ cat "$WL_CLUSTER_DIR/initdb.log"; return 1; }
	{
		echo "listen_addresses = ''"
		echo "port = $WL_PGPORT"
		echo "unix_socket_directories = '$WL_CLUSTER_DIR'"
		echo "max_connections = 100"
		echo "shared_buffers = 512MB"
		echo "max_prepared_transactions = 4"
		echo "log_min_messages = warning"
		for line in "$@"; do echo "$line"; done
	} >>"$WL_CLUSTER_DIR/data/postgresql.conf"
	_as_owner "$PGBIN/pg_ctl" -D "$WL_CLUSTER_DIR/data" -l "$WL_CLUSTER_DIR/server.log" \
		-w -t 60 start >/dev/null ||
		{ cat "$WL_CLUSTER_DIR/server.log"; return 1; }
	export PGHOST="$WL_CLUSTER_DIR" PGPORT="$WL_PGPORT" PGUSER=postgres PGDATABASE=postgres
}

# cluster_restart: stop and start the same cluster (crash-style when $1 = immediate)
cluster_restart() {
	_as_owner "$PGBIN/pg_ctl" -D "$WL_CLUSTER_DIR/data" -m "${1:-fast}" stop >/dev/null
	_as_owner "$PGBIN/pg_ctl" -D "$WL_CLUSTER_DIR/data" -l "$WL_CLUSTER_DIR/server.log" \
		-w -t 60 start >/dev/null
}
