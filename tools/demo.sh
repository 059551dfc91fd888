#!/usr/bin/env bash
# The demo: a SKU sells out, the policy says what each sales channel shows,
# 350 shoppers sign up, some backorders come in, 200 units arrive; prints who got what and the messages as a listener
# claims them.  Runs on a throwaway cluster that is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
tools/build.sh
source tools/harness.sh
cluster_start

echo "== A shop registers its best seller and sells the last units"
q --table <<'SQL'
CREATE EXTENSION waitlist;
SELECT sku, title, on_hand FROM waitlist.upsert_sku('JACKET-M', title => 'Rain jacket, size M',
       restock_date => current_date + 10, restock_confirmed => true,
       product_url => 'https://shop.example/jacket');
SELECT waitlist.set_on_hand('JACKET-M', 12) AS on_hand;
SELECT waitlist.set_on_hand('JACKET-M', 0) AS sold_out;
SQL

echo "== What the product page shows on each sales channel now (the availability policy)"
q --table <<'SQL'
SELECT c.channel, p.decision, p.reason, p.ship_by
  FROM waitlist.channel c, LATERAL waitlist.policy('JACKET-M', c.channel) p
 ORDER BY c.channel;
SQL

echo "== 350 shoppers ask to be told when it is back; 25 pay now for a backorder"
q --table <<'SQL'
SELECT count(waitlist.subscribe('JACKET-M', 'shopper' || g || '@example.com',
             CASE WHEN g % 5 = 0 THEN '+1415555' || lpad(g::text, 4, '0') END))
       AS sign_ups
  FROM generate_series(1, 350) g;
SELECT count(waitlist.place_backorder('ORDER-' || g, 'JACKET-M', 1 + g % 3,
             'Customer ' || g, 'buyer' || g || '@example.com')) AS backorders,
       sum(1 + g % 3) AS units_ordered
  FROM generate_series(1, 25) g;
SELECT waitlist.waiting_count('JACKET-M') AS "people waiting";
SELECT * FROM waitlist.queue_position(25) AS "last backorder: position X of Y";
SQL

RELAY_OUT="$(mktemp /tmp/waitlist-demo.XXXXXX)"
# The relay as installed by tools/build.sh (make install): on the PATH.
RELAY="$(command -v waitlist-relay || true)"
if [ -n "$RELAY" ] && [ -z "${DEMO_NO_RELAY:-}" ]; then
	echo "== waitlist-relay starts: LISTEN waitlist, drain the outbox, wait"
	"$RELAY" --stdout --consumer demo-relay --poll-interval 1s >"$RELAY_OUT" 2>/dev/null &
	RELAY_PID=$!
	trap 'kill $RELAY_PID 2>/dev/null || true; rm -f "$RELAY_OUT"; cluster_stop' EXIT
fi

echo "== 200 units arrive (one transaction; allocation happens at its commit)"
q --table <<'SQL'
\timing on
BEGIN;
SELECT waitlist.restock('JACKET-M', 200) AS on_hand;
COMMIT;
\timing off
SELECT order_ref, customer, qty, allocated, status
  FROM waitlist.line_status WHERE sku = 'JACKET-M' ORDER BY id LIMIT 5;
SELECT status, count(*) AS lines, sum(qty) AS units_ordered, sum(allocated) AS units_allocated
  FROM waitlist.line_status WHERE sku = 'JACKET-M' GROUP BY status;
SELECT status, count(*) AS sign_ups FROM waitlist.subscriber_status
 WHERE sku = 'JACKET-M' GROUP BY status ORDER BY status;
SELECT on_hand, allocated, on_hand - allocated AS left_for_the_store FROM waitlist.sku
 WHERE sku = 'JACKET-M';
SQL

if [ -n "${RELAY_PID:-}" ]; then
	echo "== The relay delivers as it claims (one JSON line per message; one of each kind shown)"
	for _ in $(seq 1 30); do
		left=$(q -c "SELECT count(*) FROM waitlist.outbox WHERE state <> 'delivered' AND due_at <= now()")
		[ "$left" = 0 ] && break
		sleep 1
	done
	kill -TERM "$RELAY_PID"; wait "$RELAY_PID" || true
	python3 - "$RELAY_OUT" <<'PY'
import collections, json, sys
msgs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
seen = set()
for m in msgs:
    if m["kind"] not in seen:
        seen.add(m["kind"])
        print(json.dumps(m)[:300])
print()
for (kind, channel), n in sorted(collections.Counter((m["kind"], m["channel"]) for m in msgs).items()):
    print(f"{kind:22} {channel:6} {n}")
print(f"{len(msgs)} messages delivered")
PY
else
	echo "== A listener claims the messages (one of each kind, then totals)"
	q --table <<'SQL'
CREATE TEMP TABLE got AS SELECT * FROM waitlist.claim('demo-listener', 10000);
SELECT DISTINCT ON (kind) kind, channel, recipient, payload::text
  FROM got ORDER BY kind, id;
SELECT kind, channel, count(*) FROM got GROUP BY 1, 2 ORDER BY 1, 2;
SELECT waitlist.ack('demo-listener', array_agg(id)) AS acknowledged FROM got;
SQL
fi
q --table -c "SELECT state, kind, messages FROM waitlist.outbox_metrics()"
echo "== SMS first: the sign-ups who gave a phone got the SMS at once; their email waits"
echo "   email_delay (30 minutes) and is skipped if they order the jacket in between"
q --table <<'SQL'
SELECT kind, channel, state, count(*) AS messages,
       date_trunc('minute', min(due_at) - now() + interval '30 seconds') AS due_in
  FROM waitlist.outbox WHERE kind = 'back_in_stock' AND state = 'pending'
 GROUP BY 1, 2, 3;
SELECT waitlist.place_backorder('ORDER-SMS', 'JACKET-M', 1, 'Shopper 5', 'shopper5@example.com') > 0
       AS "shopper5 orders (their back_in_stock SMS already told them)";
SELECT recipient, state, last_error FROM waitlist.outbox
 WHERE kind = 'back_in_stock' AND recipient = 'shopper5@example.com';
SQL
rm -f "$RELAY_OUT"
