#!/usr/bin/env bash
# Instructions per call, counted by callgrind: what a call costs the CPU,
# repeatable to a few instructions whatever else the machine is doing (the
# pgbench rounds of run.sh vary by tens of percent on a busy or slow-disk
# machine).  For each call, the same count for the baseline statement of
# its benchmark, on the same data:
#   subscribe   waitlist.subscribe() on 1,000 SKUs   vs a plain INSERT (benchmark 3)
#   event       waitlist.record_event() by id        vs INSERT ... ON CONFLICT (benchmark 11)
#   preorder    waitlist.place_preorder() on one SKU vs the capped UPDATE (benchmark 5)
#
#   bench/instructions.sh [subscribe|event|preorder ...]
#
# How: the cluster is loaded, stopped, and each side's calls run in
# `postgres --single` under valgrind --tool=callgrind, once with 200 calls
# and once with 1,200; the difference over 1,000 is the count per call
# without the start-up, the first plans and the shutdown.  Single-user mode
# parses and plans each top-level statement (no prepared statements), so a
# baseline statement carries its parse and plan while ours carries the
# parse of one function call: the counts compare changes of ours, and the
# ratio is not benchmark 3's, 5's or 11's.  The commit's WAL flush is a
# system call: it is not counted.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/harness.sh

command -v valgrind >/dev/null || { echo "instructions: valgrind is not installed" >&2; exit 1; }
WHAT=("$@")
[ ${#WHAT[@]} -eq 0 ] && WHAT=(subscribe event preorder)
SMALL=200 LARGE=1200

cluster_start "autovacuum = off"
q -c "CREATE EXTENSION waitlist" >/dev/null
q >/dev/null <<'SQL'
-- benchmark 3's shape: 1,000 SKUs with 100 sign-ups each, and the baseline's copy
INSERT INTO waitlist.sku (sku, title) SELECT 'sku-' || i, 'Product ' || i FROM generate_series(1, 1000) i;
INSERT INTO waitlist.subscriber (sku, email, pos)
SELECT 'sku-' || (1 + g % 1000), 'p' || g || '@example.com', g / 1000 FROM generate_series(0, 99999) g;
UPDATE waitlist.sku SET sub_tail = 100, sub_waiting = 100;
CREATE SCHEMA bench;
CREATE TABLE bench.sku (LIKE waitlist.sku INCLUDING ALL);
INSERT INTO bench.sku SELECT * FROM waitlist.sku;
CREATE TABLE bench.subscriber (LIKE waitlist.subscriber INCLUDING ALL,
	FOREIGN KEY (sku) REFERENCES bench.sku (sku));
INSERT INTO bench.subscriber SELECT * FROM waitlist.subscriber;
CREATE SEQUENCE bench.subscriber_pos START 100001;
-- benchmark 11's: 200,000 delivered email messages, half of them with an event
INSERT INTO waitlist.outbox (id, kind, channel, recipient, sku, idempotency_key, state)
SELECT g, 'back_in_stock', 'email', 'p' || g % 100000 || '@example.com', 'sku-' || (g % 1000 + 1),
	   'bench:' || g, 'delivered'
  FROM generate_series(1, 200000) g;
INSERT INTO waitlist.message_event (message_id, event, at)
SELECT g, 'delivered', now() FROM generate_series(1, 200000, 2) g;
CREATE TABLE bench.message_event (LIKE waitlist.message_event INCLUDING ALL);
INSERT INTO bench.message_event SELECT * FROM waitlist.message_event;
-- benchmark 5's: one SKU taking pre-orders, and the bare capped counter
SELECT waitlist.upsert_sku('hot', 'Hot pre-order product');
SELECT waitlist.open_preorders('hot', 1000000000000, 80, current_date + 60, current_date + 90);
CREATE TABLE bench.hot (id integer PRIMARY KEY, n bigint NOT NULL, lim bigint NOT NULL);
INSERT INTO bench.hot VALUES (1, 0, 800000000000);
VACUUM ANALYZE;
SQL

# statement WHAT SIDE: an SQL expression of i, the text of call number i
# (each sign-up, event report and order unique over the runs)
statement() {
	case "$1.$2" in
	subscribe.ours) echo "format(\$\$SELECT waitlist.subscribe('sku-%s', 'u.%s@example.com');\$\$, i * 7919 % 1000 + 1, i)" ;;
	subscribe.base) echo "format(\$\$INSERT INTO bench.subscriber (sku, email, pos) VALUES ('sku-%s', 'u.%s@example.com', nextval('bench.subscriber_pos'));\$\$, i * 7919 % 1000 + 1, i)" ;;
	event.ours) echo "format(\$\$SELECT waitlist.record_event('%s', '%s');\$\$, i * 7919 % 200000 + 1, (ARRAY['delivered', 'opened', 'clicked'])[i % 3 + 1])" ;;
	event.base) echo "format(\$\$INSERT INTO bench.message_event (message_id, event, at) VALUES (%s, '%s', now()) ON CONFLICT DO NOTHING;\$\$, i * 7919 % 200000 + 1, (ARRAY['delivered', 'opened', 'clicked'])[i % 3 + 1])" ;;
	preorder.ours) echo "format(\$\$SELECT waitlist.place_preorder('o.%s', 'hot', 1, email => 'c.%s@example.com', unit_price => 49.00, currency => 'USD');\$\$, i, i)" ;;
	preorder.base) echo "'UPDATE bench.hot SET n = n + 1 WHERE id = 1 AND n + 1 <= lim;'" ;;
	*) echo "instructions: unknown call $1 (subscribe, event or preorder)" >&2; return 1 ;;
	esac
}

# Every run's statements are written while the server runs: SMALL then
# LARGE calls per side, numbered on from the runs before.
dir="$WL_CLUSTER_DIR"
next=1
for what in "${WHAT[@]}"; do
	for side in ours base; do
		for n in $SMALL $LARGE; do
			expr="$(statement "$what" "$side")"
			q -c "SELECT $expr FROM generate_series($next, $next + $n - 1) i" >"$dir/$what.$side.$n.sql"
			chmod 644 "$dir/$what.$side.$n.sql"
			next=$((next + n))
		done
	done
done
cluster_server_stop fast

# instructions FILE: callgrind's total for a single-user run of FILE.sql
instructions() {
	_as_owner valgrind --tool=callgrind --callgrind-out-file="$1.out" \
		"$PGBIN/postgres" --single -D "$dir/data" postgres <"$1.sql" >/dev/null 2>"$1.log" ||
		{ tail -5 "$1.log" >&2; return 1; }
	awk '/^summary:/ { print $2; exit }' "$1.out"
}

printf '%-10s %14s %14s %8s\n' call ours baseline ratio
for what in "${WHAT[@]}"; do
	declare -A per=()
	for side in ours base; do
		small="$(instructions "$dir/$what.$side.$SMALL")"
		large="$(instructions "$dir/$what.$side.$LARGE")"
		per[$side]=$(((large - small) / (LARGE - SMALL)))
	done
	printf '%-10s %14d %14d %8s\n' "$what" "${per[ours]}" "${per[base]}" \
		"$(awk -v a="${per[ours]}" -v b="${per[base]}" 'BEGIN { printf "%.3f", a / b }')"
	unset per
done
echo "(instructions per call, callgrind; ratio ours / baseline)"
