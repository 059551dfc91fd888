#!/usr/bin/env bash
# The README's pg_cron recipe, run as written: pg_cron preloaded with
# cron.database_name = 'postgres', a job scheduled with
# cron.schedule_in_database every minute runs waitlist.tick() in the shop's
# database, and a sign-up's confirmation is written by it.  Debian 12's
# pg_cron (postgresql-15-cron 1.4) runs jobs at most once a minute, so this
# takes up to a minute.  Not run by tools/test.sh (it needs pg_cron, which
# the project does not install); skipped when pg_cron is not installed.
# The cluster has no TCP listener: cron.host points at its socket directory,
# as /var/run/postgresql does on a Debian server.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/harness.sh
if [ ! -f "$(pg_config --pkglibdir)/pg_cron.so" ]; then
	echo "SKIP: pg_cron is not installed (postgresql-15-cron)"
	exit 0
fi
cluster_create "shared_preload_libraries = 'pg_cron'" "cron.database_name = 'postgres'" &&
	echo "cron.host = '$WL_CLUSTER_DIR'" >>"$WL_CLUSTER_DIR/data/postgresql.conf" &&
	cluster_boot >/dev/null || { echo "FAIL: cluster_start"; exit 1; }
q -c "CREATE DATABASE shop" &&
	q -d shop -c "CREATE EXTENSION waitlist" -c "SELECT FROM waitlist.upsert_sku('S', 'Cron test')" &&
	q -c "CREATE EXTENSION pg_cron" \
		-c "SELECT cron.schedule_in_database('waitlist-tick', '* * * * *', 'SELECT waitlist.tick()', 'shop')" >/dev/null &&
	q -d shop -c "SELECT waitlist.subscribe('S', 'cron@example.com')" >/dev/null ||
	{ echo "FAIL: setup"; exit 1; }
start=$SECONDS
while [ $((SECONDS - start)) -lt 75 ]; do
	if [ "$(q -d shop -c "SELECT count(*) FROM waitlist.outbox WHERE kind = 'waitlist_joined'")" = 1 ]; then
		echo "PASS: pg_cron's tick wrote the sign-up's confirmation after $((SECONDS - start)) s"
		exit 0
	fi
	sleep 0.2
done
echo "FAIL: no confirmation within 75 s"
q --table -c "SELECT status, return_message FROM cron.job_run_details"
exit 1
