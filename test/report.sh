#!/usr/bin/env bash
# test/report.sh: the merchant's report (report/waitlist-report) opened in
# headless Chromium.  A week of made-up trade on the controllable clock
# (four SKUs: sign-ups and page views every day, restocks, purchases,
# backorders), the report written for that week, then
# test/report_check.mjs loads the file in Debian's Chromium with every
# network request refused: no console or page error, each chart drawn
# with the expected number of points (one per day; one per SKU that has
# demand), none empty.  The screenshot and the report stay under
# test/output/report/.  Installs Chromium (Debian) and report/'s npm
# packages when they are missing.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/harness.sh

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ! -x /usr/bin/chromium ]; then
	echo "report: installing chromium" >&2
	$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null ||
		{ echo "FAIL: cannot install chromium"; exit 1; }
fi
if [ ! -d report/node_modules/playwright-core ] || [ ! -d report/node_modules/chart.js ]; then
	(cd report && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
		{ echo "FAIL: npm ci in report/ (chart.js, playwright-core)"; exit 1; }
fi

cluster_start_or_join || { echo "FAIL: cluster_start"; exit 1; }
policy_off
DB="wl_report_$$"
OUT="$PWD/test/output/report"
mkdir -p "$OUT"
failures=0
trap 'dropdb --if-exists "$DB" >/dev/null 2>&1; cluster_stop' EXIT
createdb "$DB" && q -d "$DB" -c "CREATE EXTENSION waitlist" >/dev/null || { echo "FAIL: createdb"; exit 1; }

# A week, 1-7 May 2035 (UTC).  Each day at 10:00: views and sign-ups on
# every SKU, more on RP-1; RP-2 is restocked on the 3rd and 5th, two of the
# people told buy on the 4th; RP-3 takes a backorder a day; RP-4 is
# restocked on the 5th and sells out to a walk-in on the 6th.
week_sql() {
	cat <<'SQL'
SET TimeZone = 'UTC';
SET waitlist.test_now = '2035-05-01 09:00+00';
SELECT waitlist.upsert_sku('RP-1', 'Linen shirt', confirm_signups => false);
SELECT waitlist.upsert_sku('RP-2', 'Desk lamp', confirm_signups => false, send_sold_out_again => false);
SELECT waitlist.upsert_sku('RP-3', 'Oak stool', restock_date => '2035-05-20', restock_confirmed => true,
						   confirm_signups => false);
SELECT waitlist.upsert_sku('RP-4', 'Wool scarf', confirm_signups => false);
SQL
	local d s extra
	for d in 1 2 3 4 5 6 7; do
		# each statement its own transaction, at 10:00 of the day
		echo "SET waitlist.test_now = '2035-05-0$d 10:00+00';"
		for s in RP-1 RP-2 RP-3 RP-4; do
			extra=5
			if [ "$s" = RP-1 ]; then extra=20; fi
			echo "SELECT count(waitlist.record_view('$s', 'v' || (i % 17), CASE WHEN i % 4 = 0 THEN 'out_of_stock' ELSE 'notify_me' END)) FROM generate_series(1, $((d * 3 + extra))) i;"
			extra=1
			if [ "$s" = RP-1 ]; then extra=4; fi
			echo "SELECT count(waitlist.subscribe('$s', format('%s.%s.%s@example.com', lower('$s'), $d, i))) FROM generate_series(1, $((d + extra))) i;"
		done
		echo "SELECT count(waitlist.record_view('RP-3', 'b' || i, 'backorder')) FROM generate_series(1, $((d * 2))) i;"
		echo "SELECT waitlist.place_backorder('RP3-$d', 'RP-3', $((1 + d % 2)), 'B', 'b$d@example.com');"
		case $d in
		3 | 5) echo "SELECT waitlist.restock('RP-2', 4);" ;;
		esac
		if [ "$d" = 5 ]; then echo "SELECT waitlist.restock('RP-4', 2);"; fi
		echo "SELECT waitlist.tick();"
		if [ "$d" = 4 ]; then
			# two of the people told on the 3rd buy a day later
			echo "SELECT waitlist.record_purchase('RP-2', 'rp-2.1.1@example.com', 'W-1');"
			echo "SELECT waitlist.record_purchase('RP-2', 'rp-2.1.2@example.com', 'W-2');"
		fi
		if [ "$d" = 6 ]; then echo "SELECT waitlist.place_backorder('RP4-W', 'RP-4', 2, 'W', 'w@example.com');"; fi
	done
}
week_sql | q -d "$DB" >/dev/null || { echo "FAIL: the week's trade"; exit 1; }

# The report, written the morning after the week (so every day is over
# and rolled up), for the week and for one SKU.
export PGDATABASE="$DB"
export PGOPTIONS="${PGOPTIONS:-} -c waitlist.test_now=2035-05-08T02:00:00+00 -c TimeZone=UTC"
report/waitlist-report --from 2035-05-01 --to 2035-05-07 -o "$OUT/week.html" >/dev/null ||
	{ echo "FAIL: waitlist-report for the week"; exit 1; }
report/waitlist-report --from 2035-05-01 --to 2035-05-07 --sku RP-1 -o "$OUT/rp-1.html" >/dev/null ||
	{ echo "FAIL: waitlist-report for RP-1"; exit 1; }
rolled="$(q -c "SELECT count(*) FROM waitlist.view_day_done WHERE day BETWEEN '2035-05-01' AND '2035-05-07'")"
[ "$rolled" = 7 ] && pass "the report rolled up the seven days first" || fail "days rolled up: $rolled, expected 7"
if report/waitlist-report --from 2035-05-07 --to 2035-05-01 -o "$OUT/bad.html" 2>/dev/null; then
	fail "a range that ends before it starts is refused"
else
	pass "a range that ends before it starts is refused"
fi
if report/waitlist-report --from 2035-05-01 --to 2035-05-07 --sku NO-SUCH -o "$OUT/bad.html" 2>/dev/null; then
	fail "an unknown SKU is refused"
else
	pass "an unknown SKU is refused"
fi

# What each chart must draw, from the database: a point per day, and a
# bar per SKU the demand chart lists (at most 10).
demand_skus="$(q -c "SELECT count(*) FROM (SELECT 1 FROM waitlist.demand() LIMIT 10) d")"
[ "$demand_skus" -ge 3 ] || fail "the week left demand on $demand_skus SKUs, expected at least 3"
week='"chart-signups": [7], "chart-views": [7, 7, 7, 7, 7]'
check() {
	local name="$1" file="$2" expected="$3"
	if node test/report_check.mjs "$file" "$OUT/$name.png" "$expected"; then
		pass "$name: the report opens in Chromium without errors or network, every chart drawn ($OUT/$name.png)"
	else
		fail "$name: the report in Chromium (see above)"
	fi
}
check week "$OUT/week.html" "{$week, \"chart-demand\": [$demand_skus, $demand_skus, $demand_skus]}"
check rp-1 "$OUT/rp-1.html" "{$week, \"chart-demand\": [1, 1, 1]}"
# The numbers in the file are the extension's.
grep -q "Linen shirt" "$OUT/week.html" && pass "the top product is named in the report" ||
	fail "the report does not name the most waited-for product"

[ "$failures" -eq 0 ] && echo "report: all checks passed" || echo "report: $failures check(s) failed"
[ "$failures" -eq 0 ]
