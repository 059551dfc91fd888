#!/usr/bin/env bash
# Benchmark 13 (issue 16): the merchant's numbers over a long history.
# 10,000,000 page views (--quick: 1,000,000) over 30 days and 1,000 SKUs,
# appended in time order as a shop's would be, with one sign-up per 100
# views (100,000), one backorder per 500 (20,000), a back_in_stock wave per
# SKU over half its sign-ups, and a purchase by one in ten of those told;
# for the revenue metrics, three sale periods per SKU (3 days on sale in
# every 10), a sale from stock per 100 views reported with its amount, and
# pre-orders before the launch for a tenth of the SKUs.
# Measured, in fresh backends after one warm-up: the 30-day, all-SKU
# report's statements - metrics() over the 30 days and views_by_day()
# summed - with the days rolled up (roll_up_views, run once before and
# timed as info) against the same statements reading the raw views (the
# roll-up hidden by deleting it in a transaction rolled back afterwards:
# views_by_day then reads page_view a day at a time through its indexes on
# at, as the naive query would).  Both must return the same
# numbers.  Target: the rolled-up report at least 20x faster.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [ "$BENCH_MODE" = quick ]; then
	EVENTS=1000000 REPS=3
else
	EVENTS=10000000 REPS=3
fi
SIGNUPS=$((EVENTS / 100)) LINES=$((EVENTS / 500))
PER_SKU=$((SIGNUPS / 1000)) TOLD=$((SIGNUPS / 2000))
export PGDATABASE=wl_insights
fresh_db "$PGDATABASE" >/dev/null
say "insights: loading $EVENTS page views over 30 days and 1,000 SKUs"
q >/dev/null <<SQL
SET waitlist.test_now = '2030-02-01 12:00+00';
INSERT INTO waitlist.sku (sku, title, confirm_signups, restock_date, restock_confirmed)
SELECT 'sku-' || i, 'Bench product ' || i, false, '2030-02-15', true FROM generate_series(1, 1000) i;
INSERT INTO waitlist.page_view (sku, at, visitor, shown)
SELECT 'sku-' || ((g * 7919) % 1000 + 1),
	   timestamptz '2030-01-01 00:00+00' + make_interval(secs => g::float8 / $EVENTS * 30 * 86400),
	   'visitor-' || ((g * 104729) % 200000),
	   (ARRAY['out_of_stock', 'notify_me', 'notify_me', 'backorder', 'in_stock'])[g % 5 + 1]
  FROM generate_series(0::bigint, $EVENTS - 1) g;
INSERT INTO waitlist.subscriber (sku, email, pos, created_at)
SELECT 'sku-' || (g % 1000 + 1), 's' || g || '@example.com', g / 1000,
	   timestamptz '2030-01-01 00:00+00' + make_interval(secs => g::float8 / $SIGNUPS * 30 * 86400)
  FROM generate_series(0, $SIGNUPS - 1) g;
UPDATE waitlist.sku SET sub_tail = $PER_SKU, sub_waiting = $PER_SKU - $TOLD, sub_served = $TOLD;
INSERT INTO waitlist.batch (sku, kind, pos_from, pos_to, scan_lo, scan_hi, units, created_at, expanded_at, messages)
SELECT 'sku-' || i, 'back_in_stock', 0, $TOLD, 0, $TOLD, $TOLD, '2030-01-20 10:00+00', '2030-01-20 10:00+00', $TOLD
  FROM generate_series(1, 1000) i;
INSERT INTO waitlist.purchase (sku, order_ref, contact, at, source, qty)
SELECT 'sku-' || (g % 1000 + 1), 'p-' || g, 's' || g || '@example.com', '2030-01-21 10:00+00', 'external', 1
  FROM generate_series(0, $TOLD * 1000 - 1, 10) g;
INSERT INTO waitlist.sale_period (sku, on_sale_at, sold_out_at)
SELECT 'sku-' || i, timestamptz '2030-01-01 00:00+00' + make_interval(days => k * 10),
	   timestamptz '2030-01-04 00:00+00' + make_interval(days => k * 10)
  FROM generate_series(1, 1000) i, generate_series(0, 2) k;
INSERT INTO waitlist.purchase (sku, order_ref, contact, at, source, qty, amount)
SELECT 'sku-' || (g % 1000 + 1), 'w-' || g, 'w' || g || '@example.com',
	   timestamptz '2030-01-01 00:00+00' + make_interval(days => (g % 3) * 10, secs => (g % 259200)::float8),
	   'external', 1 + g % 3, 25 * (1 + g % 3)
  FROM generate_series(0, $SIGNUPS - 1) g;
INSERT INTO waitlist.line (sku, kind, order_ref, email, qty, pos_start, pos_end, created_at, state,
						   unit_price, currency, amount)
SELECT 'sku-' || (g % 100 + 1), 'preorder', 'pre-' || g, 'pre' || g || '@example.com', 1,
	   1000000 + g, 1000000 + g + 1, timestamptz '2029-12-01 00:00+00' + make_interval(secs => g::float8),
	   'shipped', 20, 'USD', 20
  FROM generate_series(0, $LINES / 10 - 1) g;
INSERT INTO waitlist.line (sku, kind, order_ref, email, qty, pos_start, pos_end, created_at, state)
SELECT 'sku-' || (g % 1000 + 1), 'backorder', 'o-' || g, 'o' || g || '@example.com', 1, g / 1000, g / 1000 + 1,
	   timestamptz '2030-01-01 00:00+00' + make_interval(secs => g::float8 / $LINES * 30 * 86400),
	   CASE WHEN g % 9 = 0 THEN 'cancelled' ELSE 'waiting' END
  FROM generate_series(0, $LINES - 1) g;
UPDATE waitlist.sku SET paid_tail = $LINES / 1000, paid_waiting = $LINES / 1000;
VACUUM ANALYZE;
SQL

# The roll-up of the 30 days, once (what the report or the clock does as days end).
rollup_ms="$(q <<'SQL'
SET waitlist.test_now = '2030-02-01 12:00+00';
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT waitlist.roll_up_views() \gset
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 1);
SQL
)"
say "insights: roll_up_views() of 30 days: $rollup_ms ms"
q -c "VACUUM ANALYZE waitlist.view_day" -c "CHECKPOINT" >/dev/null

# report_ms raw|rolled: the report's statements in a fresh backend (after a
# warm-up in it); prints "ms<TAB>the numbers".
report_ms() {
	local hide=""
	[ "$1" = raw ] && hide="DELETE FROM waitlist.view_day_done; DELETE FROM waitlist.view_day;"
	q <<SQL
SET waitlist.test_now = '2030-02-01 12:00+00';
BEGIN;
$hide
SELECT count(*) FROM waitlist.metrics('2030-01-01', '2030-01-30') \gset
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
SELECT string_agg(metric || '=' || numerator || '/' || denominator, ' ' ORDER BY metric) AS m
  FROM waitlist.metrics('2030-01-01', '2030-01-30') \gset
SELECT sum(views) AS v FROM waitlist.views_by_day('2030-01-01', '2030-01-30') \gset
SELECT round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 2) || E'\t' || :'m' || ' views=' || :'v';
ROLLBACK;
SQL
}

declare -A times=([raw]="" [rolled]="")
declare -A numbers=()
for ((r = 1; r <= REPS; r++)); do
	for side in raw rolled; do
		IFS=$'\t' read -r ms nums <<<"$(report_ms "$side")"
		say "insights: 30-day report, $side, round $r: $ms ms"
		times[$side]="${times[$side]} $ms"
		numbers[$side]="$nums"
	done
done
if [ "${numbers[raw]}" != "${numbers[rolled]}" ]; then
	say "insights: the numbers differ: raw '${numbers[raw]}', rolled up '${numbers[rolled]}'"
	exit 1
fi
say "insights: both read ${numbers[rolled]}"
# shellcheck disable=SC2086
ours=$(median ${times[rolled]})
# shellcheck disable=SC2086
base=$(median ${times[raw]})
ratio=$(calc "$base / $ours")
result "13 30-day all-SKU report (metrics + views per day) over $EVENTS page views: ms (vs the same over the raw views; ratio = raw / rolled up)" \
	"$ours" "$base" "$ratio" ">= 20" "$(verdict "$ratio >= 20")"
result "13 roll_up_views() of the 30 days, once: ms" "$rollup_ms" "n/a" "n/a" "info" "-"
q -d postgres -c "DROP DATABASE $PGDATABASE" >/dev/null
