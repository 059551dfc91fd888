#!/usr/bin/env bash
# Benchmark 7: bulk import.  N backorder lines and N sign-ups over 1,000
# SKUs, COPY-fed into staging tables, imported with
# waitlist.import_backorders() and waitlist.import_signups() in one
# transaction each, against a plain INSERT ... SELECT of the same rows into
# bench.line and bench.subscriber (LIKE waitlist.line / waitlist.subscriber
# INCLUDING ALL, foreign key to bench.sku), whose positions come from a
# running sum per SKU, with each sign-up queued for its confirmation in
# bench.unconfirmed_signup, as ours queues it.  Ours also checks every row
# and runs the allocator at COMMIT.  The confirmations of lines short of
# stock and of sign-ups are written afterwards by tick() (as claim() would),
# against a hand-written INSERT ... SELECT of the same messages into
# bench.outbox (the lines' flags cleared, the sign-ups' queue emptied); the
# import and its tick together are a second pair of targets.
# Informational extra: M place_backorder() calls for one SKU in one
# transaction (quadratic: every call updates the same sku row) against
# importing the same M lines.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	N=100000 ROUNDS=1 CALLS=2000
else
	N=1000000 ROUNDS=3 CALLS=10000
fi
export PGDATABASE=wl_import
fresh_db "$PGDATABASE" 2>/dev/null

# 1,000 SKUs whose restock is confirmed a week ahead: the policy takes
# backorders (enforcement stays on).  The staging tables are filled in
# order, as COPY would.  A tenth of the rows give a phone too; one sign-up
# in 200 repeats the email of the SKU's sign-up 1,000 rows earlier, and
# keeps that place.
q -v n="$N" >/dev/null <<'SQL'
INSERT INTO waitlist.sku (id, sku, title, restock_date, restock_confirmed)
SELECT i, 'sku-' || i, 'Bench product ' || i, current_date + 7, true FROM generate_series(1, 1001) i;
SELECT setval('waitlist.sku_id_seq', 1001);
CREATE SCHEMA bench;
CREATE TABLE bench.sku (LIKE waitlist.sku INCLUDING ALL);
INSERT INTO bench.sku SELECT * FROM waitlist.sku;
CREATE TABLE bench.line (LIKE waitlist.line INCLUDING ALL,
	FOREIGN KEY (sku) REFERENCES bench.sku (sku));
CREATE TABLE bench.subscriber (LIKE waitlist.subscriber INCLUDING ALL,
	FOREIGN KEY (sku) REFERENCES bench.sku (sku));
CREATE TABLE bench.unconfirmed_signup (LIKE waitlist.unconfirmed_signup INCLUDING ALL);
CREATE TABLE bench.outbox (LIKE waitlist.outbox INCLUDING ALL);
CREATE TABLE bench.src_lines (order_ref text, sku text, qty integer, customer text,
	email text, phone text, channel text);
CREATE TABLE bench.src_signups (sku text, email text, phone text, customer text);
INSERT INTO bench.src_lines
SELECT 'o' || g, 'sku-' || (1 + g % 1000), 1 + g % 3, 'Customer ' || g, 'c' || g || '@example.com',
	   CASE WHEN g % 10 = 0 THEN '+1415' || lpad(g::text, 7, '0') END, 'dtc'
  FROM generate_series(1, :n) g;
INSERT INTO bench.src_signups
SELECT 'sku-' || (1 + g % 1000),
	   's' || CASE WHEN g % 100 = 0 AND (g / 1000) % 2 = 1 THEN g - 1000 ELSE g END || '@example.com',
	   CASE WHEN g % 10 = 5 THEN '+1650' || lpad(g::text, 7, '0') END, 'Shopper ' || g
  FROM generate_series(1, :n) g;
SQL
q -c "VACUUM ANALYZE"

# seconds SQL: run SQL in one transaction after a CHECKPOINT; prints seconds
seconds() {
	local t0 t1
	q -c "CHECKPOINT"
	t0=$(date +%s.%N)
	q -c "BEGIN" -c "$1" -c "COMMIT" >/dev/null
	t1=$(date +%s.%N)
	calc "$t1 - $t0"
}

# Empty both sides (and reset the SKUs' counters) between rounds.
reset_tables() {
	q >/dev/null <<'SQL'
TRUNCATE waitlist.outbox, waitlist.batch, waitlist.line, waitlist.subscriber,
	waitlist.unconfirmed_signup, bench.line, bench.subscriber, bench.unconfirmed_signup,
	bench.outbox;
UPDATE waitlist.sku SET paid_tail = 0, paid_waiting = 0, sub_tail = 0, sub_waiting = 0;
VACUUM ANALYZE waitlist.sku, waitlist.line, waitlist.subscriber, waitlist.outbox, bench.line, bench.subscriber,
	bench.outbox;
SQL
}

BASE_LINES="INSERT INTO bench.line (sku, kind, order_ref, customer, email, phone, qty, pos_start, pos_end, channel,
	confirm_pending, action_at)
SELECT k.sku, 'backorder', s.order_ref, s.customer, s.email, s.phone, s.qty,
       sum(s.qty) OVER w - s.qty, sum(s.qty) OVER w, s.channel, true, now()
  FROM (SELECT *, row_number() OVER () AS n FROM bench.src_lines) s
  JOIN bench.sku k ON k.sku = s.sku
WINDOW w AS (PARTITION BY k.id ORDER BY s.n)"
BASE_SIGNUPS="WITH u AS (INSERT INTO bench.subscriber (sku, email, phone, customer, pos)
SELECT k.sku, s.email, s.phone, s.customer, row_number() OVER (PARTITION BY k.id ORDER BY s.n) - 1
  FROM (SELECT *, row_number() OVER () AS n FROM bench.src_signups) s
  JOIN bench.sku k ON k.sku = s.sku
RETURNING id, sku)
INSERT INTO bench.unconfirmed_signup (id, sku) SELECT id, sku FROM u"

# The confirmations by hand: each line short of stock (nothing is in stock)
# gets its backorder_confirmed, each queued sign-up its waitlist_joined, one
# message per contact, with the payloads tick() writes.
BASE_CONFIRM_LINES="WITH u AS (UPDATE bench.line SET confirm_pending = false, action_at = NULL
                 WHERE action_at IS NOT NULL RETURNING *)
INSERT INTO bench.outbox (kind, channel, recipient, sku, payload, idempotency_key)
SELECT 'backorder_confirmed', c.channel, c.recipient, u.sku,
       waitlist.payload_json('order_ref', u.order_ref, 'line_id', u.id, 'sku', u.sku, 'title', k.title,
         'qty', u.qty, 'in_stock', false,
         'expected_ship_date', CASE WHEN k.restock_confirmed THEN to_char(k.restock_date, 'YYYY-MM-DD') END,
         'cancel_allowed', true, 'product_url', k.product_url),
       'line:' || u.id || ':confirmed:' || c.channel
  FROM u JOIN bench.sku k ON k.sku = u.sku
 CROSS JOIN LATERAL (VALUES ('email', u.email), ('sms', u.phone)) c (channel, recipient)
 WHERE c.recipient IS NOT NULL"
BASE_CONFIRM_SIGNUPS="WITH q AS (DELETE FROM bench.unconfirmed_signup RETURNING id, sku)
INSERT INTO bench.outbox (kind, channel, recipient, sku, payload, idempotency_key)
SELECT 'waitlist_joined', c.channel, c.recipient, u.sku,
       waitlist.payload_json('subscription_id', u.id, 'sku', u.sku, 'title', k.title,
         'expected_restock_date', CASE WHEN k.restock_confirmed THEN to_char(k.restock_date, 'YYYY-MM-DD') END,
         'product_url', k.product_url),
       'sub:' || u.id || ':joined:' || c.channel
  FROM q JOIN bench.subscriber u ON u.id = q.id AND u.sku = q.sku AND u.state = 'waiting'
  JOIN bench.sku k ON k.sku = u.sku
 CROSS JOIN LATERAL (VALUES ('email', u.email), ('sms', u.phone)) c (channel, recipient)
 WHERE c.recipient IS NOT NULL"

# Ours: the import, then tick() until every confirmation it left pending
# (the lines short of stock, the sign-ups) is in the outbox; timed apart.
TICK="SELECT waitlist.tick()"
declare -a OL OS BL BS TL TS CL CS
for ((r = 1; r <= ROUNDS; r++)); do
	reset_tables
	if [ $((r % 2)) -eq 1 ]; then
		OL+=("$(seconds "SELECT waitlist.import_backorders('bench.src_lines')")")
		TL+=("$(seconds "$TICK")")
		BL+=("$(seconds "$BASE_LINES")")
		CL+=("$(seconds "$BASE_CONFIRM_LINES")")
		OS+=("$(seconds "SELECT waitlist.import_signups('bench.src_signups')")")
		TS+=("$(seconds "$TICK")")
		BS+=("$(seconds "$BASE_SIGNUPS")")
		CS+=("$(seconds "$BASE_CONFIRM_SIGNUPS")")
	else
		BL+=("$(seconds "$BASE_LINES")")
		CL+=("$(seconds "$BASE_CONFIRM_LINES")")
		OL+=("$(seconds "SELECT waitlist.import_backorders('bench.src_lines')")")
		TL+=("$(seconds "$TICK")")
		BS+=("$(seconds "$BASE_SIGNUPS")")
		CS+=("$(seconds "$BASE_CONFIRM_SIGNUPS")")
		OS+=("$(seconds "SELECT waitlist.import_signups('bench.src_signups')")")
		TS+=("$(seconds "$TICK")")
	fi
	say "import round $r: lines ours ${OL[-1]} s (+ tick ${TL[-1]} s), INSERT ${BL[-1]} s" \
		"(+ messages ${CL[-1]} s); sign-ups ours ${OS[-1]} s (+ tick ${TS[-1]} s)," \
		"INSERT ${BS[-1]} s (+ messages ${CS[-1]} s)"
done

# What was imported: every line, FIFO positions tiling each SKU's queue,
# the counters, one confirmation per contact; the sign-ups minus the
# repeated ones, positions 0..sub_tail-1 per SKU.
check="$(q <<'SQL'
SELECT (SELECT count(*) FROM waitlist.line) = (SELECT count(*) FROM bench.src_lines)
   AND NOT EXISTS (SELECT 1 FROM (SELECT pos_start, lag(pos_end, 1, 0::bigint) OVER (PARTITION BY sku ORDER BY id) AS prev
                                    FROM waitlist.line) x WHERE pos_start <> prev)
   AND NOT EXISTS (SELECT 1 FROM waitlist.sku s
                    WHERE paid_tail <> paid_waiting
                       OR paid_tail <> (SELECT coalesce(sum(qty), 0) FROM waitlist.line WHERE sku = s.sku)
                       OR sub_tail <> sub_waiting
                       OR sub_tail <> (SELECT count(*) FROM waitlist.subscriber WHERE sku = s.sku))
   AND (SELECT count(*) FROM waitlist.outbox WHERE kind = 'backorder_confirmed')
       = (SELECT count(email) + count(phone) FROM bench.src_lines)
   AND (SELECT count(*) FROM waitlist.subscriber)
       = (SELECT count(DISTINCT (sku, email)) FROM bench.src_signups)
   AND (SELECT count(DISTINCT (sku, email)) FROM bench.src_signups) < (SELECT count(*) FROM bench.src_signups)
   AND (SELECT count(*) FROM bench.outbox WHERE kind = 'backorder_confirmed')
       = (SELECT count(*) FROM waitlist.outbox WHERE kind = 'backorder_confirmed')
   AND (SELECT count(*) FROM waitlist.outbox WHERE kind = 'waitlist_joined')
       = (SELECT count(email) + count(phone) FROM waitlist.subscriber)
   AND (SELECT count(*) FROM bench.outbox WHERE kind = 'waitlist_joined')
       = (SELECT count(email) + count(phone) FROM bench.subscriber)
   AND NOT EXISTS (SELECT 1 FROM waitlist.unconfirmed_signup)
   AND NOT EXISTS (SELECT 1 FROM bench.unconfirmed_signup)
SQL
)"
[ "$check" = t ] || { say "import: the imported rows do not check out"; exit 1; }

ol=$(median "${OL[@]}") bl=$(median "${BL[@]}") os=$(median "${OS[@]}") bs=$(median "${BS[@]}")
tl=$(median "${TL[@]}") ts=$(median "${TS[@]}") cl=$(median "${CL[@]}") cs=$(median "${CS[@]}")
say "import of $N: lines ours $ol s / INSERT $bl s, sign-ups ours $os s / INSERT $bs s"
rl=$(calc "$ol / $bl")
rs=$(calc "$os / $bs")
result "7 import $N backorder lines, s (vs INSERT ... SELECT)" "$ol" "$bl" "$rl" "<= 3" "$(verdict "$rl <= 3")"
result "7 import $N sign-ups, s (vs INSERT ... SELECT)" "$os" "$bs" "$rs" "<= 3" "$(verdict "$rs <= 3")"
say "their confirmations: lines tick $tl s / INSERT $cl s, sign-ups tick $ts s / INSERT $cs s"
rl=$(calc "$tl / $cl")
rs=$(calc "$ts / $cs")
result "7 tick writing the $N lines' confirmations, s (vs INSERT ... SELECT of the messages)" \
	"$tl" "$cl" "$rl" "<= 3" "$(verdict "$rl <= 3")"
result "7 tick writing the $N sign-ups' confirmations, s (vs INSERT ... SELECT of the messages)" \
	"$ts" "$cs" "$rs" "<= 3" "$(verdict "$rs <= 3")"
rl=$(calc "($ol + $tl) / ($bl + $cl)")
rs=$(calc "($os + $ts) / ($bs + $cs)")
result "7 import $N backorder lines + their confirmations, s (vs both INSERT ... SELECTs)" \
	"$(calc "$ol + $tl")" "$(calc "$bl + $cl")" "$rl" "<= 3" "$(verdict "$rl <= 3")"
result "7 import $N sign-ups + their confirmations, s (vs both INSERT ... SELECTs)" \
	"$(calc "$os + $ts")" "$(calc "$bs + $cs")" "$rs" "<= 3" "$(verdict "$rs <= 3")"

# Informational: CALLS place_backorder() calls for one SKU in one
# transaction, against importing the same lines.
reset_tables
q -v m="$CALLS" >/dev/null <<'SQL'
CREATE TABLE bench.src_one AS
SELECT 'h' || g AS order_ref, 'sku-1001' AS sku, 1 AS qty, 'c' || g || '@example.com' AS email
  FROM generate_series(1, :m) g;
SQL
calls=$(seconds "DO \$\$ BEGIN PERFORM waitlist.place_backorder(order_ref, sku, qty, NULL, email) FROM bench.src_one; END \$\$")
q -c "TRUNCATE waitlist.outbox, waitlist.line" -c "UPDATE waitlist.sku SET paid_tail = 0, paid_waiting = 0"
one=$(seconds "SELECT waitlist.import_backorders('bench.src_one')")
one=$(calc "$one + $(seconds "$TICK")")	# with its confirmations, as the calls write them
say "$CALLS place_backorder calls for one SKU in one transaction: $calls s; import_backorders: $one s"
result "7 $CALLS place_backorder calls, one SKU, one transaction, s (vs import)" "$calls" "$one" \
	"$(calc "$calls / $one")" "info" "-"
q -d postgres -c "DROP DATABASE $PGDATABASE"
