/*
 * schedule.c
 *	  The messages that time brings, written by tick(): each waiting
 *	  backorder's backorder_status every status interval (rounds per SKU),
 *	  each waiting pre-order's preorder_midwait and shipping_imminent
 *	  (line.next_note_at), and the alert when a confirmed restock date or a
 *	  pre-order ship date passes with people still waiting (date_passed to
 *	  the merchant, date_slipped to them).  Also post_update's production
 *	  news, and replanning a SKU's pre-order notes when its dates or
 *	  schedule change.
 *
 * Cost: tick()'s one statement of indexed probes says whether anything is
 * due (domain/tick.c); the work is set-based (a status round is a few
 * chunked INSERT ... SELECT through the outbox writer's fan-out, and one
 * update of the SKU row, never one per line).
 *
 * Locking: a status round or a passed date takes its SKU row FOR UPDATE
 * SKIP LOCKED (store/sku_row.c), the notes take their lines FOR UPDATE
 * SKIP LOCKED, so two ticks at once split the work and write nothing twice;
 * a SKU whose row a restock or an order holds waits for the next tick.
 * Every message has a key naming its round, date or note.  Callers are in
 * SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "domain/schedule.h"
#include "store/json.h"
#include "store/outbox_writer.h"
#include "store/now.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "waitlist.h"

/* Lines per statement of a status round; SKUs and lines per tick. */
#define STATUS_CHUNK 10000
#define STATUS_SKUS 100
#define NOTE_LINES 10000
#define DATE_SKUS 100

/* ---------- backorder_status rounds ---------- */

/*
 * The SKU's paid lines still short of units ($1 the SKU): how many, their
 * missing units, and whether a backorder is among them.
 */
static WlQuery q_round_totals = {
	"SELECT count(*), coalesce(sum(l.pos_end - greatest(l.pos_start, s.paid_served)), 0)::bigint,"
	" bool_or(l.kind = 'backorder')"
	" FROM waitlist.sku s"
	" JOIN waitlist.line l ON l.sku = s.sku AND l.state = 'waiting' AND l.pos_end > s.paid_served"
	" WHERE s.sku = $1",
	1, {TEXTOID}, NULL
};

/*
 * One chunk of a round: the next $8 lines short of units after position
 * $5, in queue order, with their place ("position X of Y" as
 * queue_position counts it: paid lines still short of units) and the units
 * missing ahead of them, continuing the counts $6 (places) and $7 (units)
 * of the chunks before.  The backorders among them placed at least half an
 * interval before the round ($3 due, $4 interval) hear backorder_status,
 * keyed by the round ($2); $9/$10 are the round's totals, $11 today.
 * Returns the lines read, the last position and the counts so far.
 */
static WlQuery q_round_chunk = {
	"WITH src AS ("
	"  SELECT l.id, l.order_ref, l.qty, l.email, l.phone, l.kind, l.created_at, l.pos_end,"
	"   $6 + row_number() OVER w AS place,"
	"   ($7 + sum(l.pos_end - greatest(l.pos_start, s.paid_served)) OVER w)::bigint AS through,"
	"   l.pos_end - greatest(l.pos_start, s.paid_served) AS missing,"
	"   greatest(s.paid_served - l.pos_start, 0) AS held,"
	"   s.sku AS code, s.title, s.product_url, s.restock_date, s.restock_confirmed"
	"  FROM waitlist.sku s"
	"  JOIN waitlist.line l ON l.sku = s.sku AND l.state = 'waiting'"
	"   AND l.pos_end > greatest(s.paid_served, $5)"
	"  WHERE s.sku = $1"
	"  WINDOW w AS (ORDER BY l.pos_end ROWS UNBOUNDED PRECEDING)"
	"  ORDER BY l.pos_end LIMIT $8),"
	" ins AS ("
	WL_OUTBOX_INSERT
	WL_CONTACT_ROWS(
		"SELECT 'backorder_status' AS kind, src.code AS sku, src.email, src.phone,"
		" waitlist.payload_json('order_ref', src.order_ref, 'line_id', src.id, 'sku', src.code,"
		"  'title', src.title, 'qty', src.qty, 'allocated', src.held,"
		"  'expected_ship_date',"
		"   CASE WHEN src.restock_confirmed THEN to_char(src.restock_date, 'YYYY-MM-DD') END,"
		"  'inbound_status', CASE WHEN NOT src.restock_confirmed OR src.restock_date IS NULL"
		"    THEN 'awaiting_supplier_date' WHEN src.restock_date >= $11 THEN 'in_transit'"
		"    ELSE 'date_passed' END,"
		"  'position', src.place, 'of', $9, 'units_ahead', src.through - src.missing,"
		"  'units_waiting', $10, 'round', $2, 'cancel_allowed', true,"
		"  'product_url', src.product_url) AS payload,"
		" 'line:' || src.id || ':status:' || $2 AS key"
		" FROM src WHERE src.kind = 'backorder' AND src.created_at <= $3 - $4 / 2")
	"  RETURNING 1)"
	" SELECT count(*), max(pos_end), max(place), max(through), (SELECT count(*) FROM ins)"
	" FROM src",
	11, {TEXTOID, INT4OID, TIMESTAMPTZOID, INTERVALOID, INT8OID, INT8OID, INT8OID, INT4OID,
	INT8OID, INT8OID, DATEOID}, NULL
};

/*
 * Write the round of the SKU in the current SPI result row i (from
 * wl_sku_codes_status_due) chunk by chunk; returns the messages written.
 */
static int64
status_round(SPITupleTable *due, uint64 i)
{
	Datum		a[11];
	char	   *sku;
	int64		written = 0;
	bool		backorders;

	SPI_tuptable = due;
	sku = wl_get_text(i, 1);
	a[0] = CStringGetTextDatum(sku);
	a[1] = wl_get_datum(i, 2, NULL);
	a[2] = wl_get_datum(i, 3, NULL);
	a[3] = wl_get_datum(i, 4, NULL);
	wl_exec(&q_round_totals, a, NULL, SPI_OK_SELECT, 1);
	a[8] = Int64GetDatum(wl_get_int64(0, 1, NULL));
	a[9] = Int64GetDatum(wl_get_int64(0, 2, NULL));
	backorders = DatumGetInt64(a[8]) > 0 && wl_get_bool(0, 3);
	a[4] = Int64GetDatum(-1);
	a[5] = Int64GetDatum(0);
	a[6] = Int64GetDatum(0);
	a[7] = Int32GetDatum(STATUS_CHUNK);
	a[10] = DateADTGetDatum(wl_today());
	while (backorders)
	{
		int64		lines;

		wl_exec(&q_round_chunk, a, NULL, SPI_OK_SELECT, 1);
		lines = wl_get_int64(0, 1, NULL);
		if (lines == 0)
			break;
		written += wl_get_int64(0, 5, NULL);
		a[4] = Int64GetDatum(wl_get_int64(0, 2, NULL));
		a[5] = Int64GetDatum(wl_get_int64(0, 3, NULL));
		a[6] = Int64GetDatum(wl_get_int64(0, 4, NULL));
		if (lines < STATUS_CHUNK)
			break;
	}
	wl_sku_status_round_done(sku, backorders);
	return written;
}

/* Every status round due (up to STATUS_SKUS SKUs); messages written. */
static int64
status_rounds(void)
{
	uint64		n = wl_sku_codes_status_due(STATUS_SKUS);
	SPITupleTable *due = SPI_tuptable;
	int64		written = 0;

	for (uint64 i = 0; i < n; i++)
		written += status_round(due, i);
	SPI_freetuptable(due);
	return written;
}

/* ---------- pre-order notes ---------- */

/*
 * Up to $1 lines whose next_note_at has come, locked (others skipped).
 * A waiting pre-order still short of units hears shipping_imminent once
 * its ship date is $3 days away or less ($4 today; once per ship date),
 * else preorder_midwait once it is past its mid-wait moment (once per
 * line); either way next_note_at moves to the next note (none after
 * imminent).  A line replanned (next_note_at = then) gets nothing yet and
 * is planned: its mid-wait moment or its imminent days, whichever comes
 * first (a new line is planned so by its confirmation, domain/preorders.c).
 * A line closed, served, or whose date passed (or is not a date the API
 * accepts) is left alone (next_note_at NULL).  $2: waitlist.midwait_fraction.
 */
static WlQuery q_notes = {
	"WITH due AS ("
	"  SELECT id, sku FROM waitlist.line WHERE next_note_at <= waitlist.now()"
	"  ORDER BY next_note_at, id LIMIT $1 FOR UPDATE SKIP LOCKED),"
	" p AS ("
	"  SELECT l.id, l.sku, l.order_ref, l.qty, l.email, l.phone, s.title, s.product_url,"
	"   s.ships_on, s.production_date, m.imminent_on, m.midwait_at,"
	"   CASE WHEN l.state <> 'waiting' OR l.kind <> 'preorder' OR l.pos_end <= s.paid_served"
	"     OR m.imminent_on IS NULL OR s.ships_on < $4 THEN NULL"
	"    WHEN $4 >= m.imminent_on THEN 'shipping_imminent'"
	"    WHEN waitlist.now() >= m.midwait_at THEN 'preorder_midwait'"
	"    ELSE 'wait' END AS note"
	"  FROM due JOIN waitlist.line l ON l.id = due.id AND l.sku = due.sku"
	"  JOIN waitlist.sku s ON s.sku = l.sku"
	WL_NOTE_MOMENTS("l.created_at", "$2", "$3") "),"
	" u AS ("
	"  UPDATE waitlist.line l SET next_note_at = CASE p.note"
	"    WHEN 'preorder_midwait' THEN p.imminent_on::timestamptz"
	"    WHEN 'wait' THEN least(p.midwait_at, p.imminent_on::timestamptz) END"
	"  FROM p WHERE l.id = p.id AND l.sku = p.sku"
	"   AND l.id = ANY (ARRAY(SELECT id FROM due))) "
	WL_CONTACT_MESSAGES(
		"SELECT p.note AS kind, p.sku, p.email, p.phone,"
		" waitlist.payload_json('order_ref', p.order_ref, 'line_id', p.id, 'sku', p.sku,"
		"  'title', p.title, 'qty', p.qty,"
		"  'expected_ship_date', to_char(p.ships_on, 'YYYY-MM-DD'),"
		"  'production_date', to_char(p.production_date, 'YYYY-MM-DD'),"
		"  'days_to_ship', p.ships_on - $4,"
		"  'confirm_address', p.note = 'shipping_imminent',"
		"  'cancel_allowed', true, 'product_url', p.product_url) AS payload,"
		" 'line:' || p.id || CASE p.note WHEN 'preorder_midwait' THEN ':midwait'"
		"  ELSE ':imminent:' || to_char(p.ships_on, 'YYYYMMDD') END AS key"
		" FROM p WHERE p.note IN ('preorder_midwait', 'shipping_imminent')"
		" ORDER BY p.id"),
	4, {INT4OID, FLOAT8OID, INT4OID, DATEOID}, NULL
};

/* The pre-order notes due (up to NOTE_LINES lines); messages written. */
static int64
preorder_notes(void)
{
	Datum		a[4] = {Int32GetDatum(NOTE_LINES), Float8GetDatum(wl_midwait_fraction),
	Int32GetDatum(wl_imminent_days), DateADTGetDatum(wl_today())};

	return (int64) wl_exec(&q_notes, a, NULL, SPI_OK_INSERT, 0);
}

/*
 * Look at the SKU's waiting pre-orders still short of units again at the
 * next tick ($2 now), which plans their notes from the SKU's dates and
 * schedule as they are then.  A plain value: Citus refuses stable functions
 * (a date read as a timestamp in the session's time zone) in an UPDATE.
 */
static WlQuery q_replan = {
	"UPDATE waitlist.line l SET next_note_at = $2"
	" FROM waitlist.sku s"
	" WHERE s.sku = $1 AND l.sku = $1 AND l.kind = 'preorder' AND l.state = 'waiting'"
	"  AND l.pos_end > s.paid_served",
	2, {TEXTOID, TIMESTAMPTZOID}, NULL
};

/*
 * The SKU's ship date or schedule changed (the row is locked): its waiting
 * pre-orders are planned again by the next tick, from their new mid-wait
 * moment or imminent days.  A note already sent is not sent again (its key).
 */
void
wl_schedule_replan(const char *sku)
{
	Datum		a[2] = {CStringGetTextDatum(sku), wl_now()};

	wl_exec(&q_replan, a, NULL, SPI_OK_UPDATE, 0);
}

/* ---------- passed dates ---------- */

/*
 * date_slipped to the SKU's ($1) waiting lines of kind $3 still short of
 * units, for the passed date $2 (the restock date: backorders, and the
 * sign-ups not yet told when $4; the ship date: pre-orders), once per line
 * or sign-up and date.
 */
static WlQuery q_slipped = {
	WL_CONTACT_MESSAGES(
		"SELECT 'date_slipped' AS kind, s.sku, l.email, l.phone,"
		" waitlist.payload_json('order_ref', l.order_ref, 'line_id', l.id, 'sku', s.sku,"
		"  'title', s.title, 'qty', l.qty, 'date_kind', $5,"
		"  'passed_date', to_char($2::date, 'YYYY-MM-DD'), 'new_date', NULL::text,"
		"  'no_new_date', true, 'cancel_allowed', true, 'product_url', s.product_url) AS payload,"
		" 'line:' || l.id || ':slipped:' || to_char($2::date, 'YYYYMMDD') AS key"
		" FROM waitlist.sku s"
		" JOIN waitlist.line l ON l.sku = s.sku AND l.state = 'waiting'"
		"  AND l.pos_end > s.paid_served AND l.kind = $3"
		" WHERE s.sku = $1"
		" UNION ALL"
		" SELECT 'date_slipped', s.sku, u.email, u.phone,"
		" waitlist.payload_json('subscription_id', u.id, 'sku', s.sku, 'title', s.title,"
		"  'date_kind', $5, 'passed_date', to_char($2::date, 'YYYY-MM-DD'),"
		"  'new_date', NULL::text, 'no_new_date', true, 'product_url', s.product_url),"
		" 'sub:' || u.id || ':slipped:' || to_char($2::date, 'YYYYMMDD')"
		" FROM waitlist.sku s"
		" JOIN waitlist.subscriber u ON u.sku = s.sku AND u.state = 'waiting'"
		"  AND u.pos >= s.sub_served"
		" WHERE s.sku = $1 AND $4"),
	5, {TEXTOID, DATEOID, TEXTOID, BOOLOID, TEXTOID}, NULL
};

/* The merchant's alert: the date passed with customers waiting. */
static void
alert_merchant(const WlSku *s, const char *date_kind, DateADT passed, int64 told)
{
	WlJson		j;
	char		key[128];
	char	   *date = wl_iso_date(passed);

	wl_json_init(&j);
	wl_json_str(&j, "sku", wl_sku_text(s, SKU_CODE));
	wl_json_str(&j, "title", wl_sku_text(s, SKU_TITLE));
	wl_json_str(&j, "date_kind", date_kind);
	wl_json_str(&j, "passed_date", date);
	wl_json_int(&j, "paid_units_waiting", wl_sku_int64(s, SKU_PAID_WAITING));
	wl_json_int(&j, "signups_waiting", wl_sku_int64(s, SKU_SUB_WAITING));
	wl_json_int(&j, "on_hand", wl_sku_int64(s, SKU_ON_HAND));
	wl_json_int(&j, "customers_told", told);
	snprintf(key, sizeof(key), "sku:" INT64_FORMAT ":date_passed:%s:%s",
			 wl_sku_int64(s, SKU_ID), date_kind, date);
	wl_queue_message("date_passed", "merchant", NULL, wl_sku_text(s, SKU_CODE),
					 wl_json_finish(&j), key);
}

/* One passed date of the SKU: tell the waiting customers and the merchant. */
static int64
date_passed(const WlSku *s, const char *date_kind, DateADT passed, bool restock)
{
	Datum		a[5];
	int64		told;
	bool		waiting;

	a[0] = CStringGetTextDatum(wl_sku_text(s, SKU_CODE));
	a[1] = DateADTGetDatum(passed);
	a[2] = CStringGetTextDatum(restock ? "backorder" : "preorder");
	a[3] = BoolGetDatum(restock && (s->nulls[SKU_ETA_TO_SIGNUPS] ? wl_eta_to_signups
									: wl_sku_bool(s, SKU_ETA_TO_SIGNUPS)));
	a[4] = CStringGetTextDatum(date_kind);
	told = (int64) wl_exec(&q_slipped, a, NULL, SPI_OK_INSERT, 0);
	waiting = told > 0 || (restock && wl_sku_int64(s, SKU_PAID_WAITING) > 0) ||
		(restock && wl_sku_int64(s, SKU_SUB_WAITING) > 0 && wl_sku_free_units(s) <= 0);
	if (waiting)
		alert_merchant(s, date_kind, passed, told);
	return told + (waiting ? 1 : 0);
}

/* The dates of the SKU row in SPI result row i that passed and are not handled yet. */
static int64
dates_of(SPITupleTable *rows, uint64 i, DateADT today)
{
	WlSku		s;
	DateADT		d;
	DateADT		seen;
	int64		n = 0;

	wl_sku_from_tuple(rows->vals[i], rows->tupdesc, &s);
	if (wl_sku_bool(&s, SKU_RESTOCK_CONFIRMED) && wl_sku_date(&s, SKU_RESTOCK_DATE, &d) &&
		d < today && !(wl_sku_date(&s, SKU_PASSED_RESTOCK, &seen) && seen == d))
		n += date_passed(&s, "restock", d, true);
	if (wl_sku_date(&s, SKU_SHIPS_ON, &d) && d < today &&
		!(wl_sku_date(&s, SKU_PASSED_SHIPS, &seen) && seen == d))
		n += date_passed(&s, "ship", d, false);
	wl_sku_dates_seen(wl_sku_text(&s, SKU_CODE), today);
	return n;
}

/* Every passed date not handled yet (up to DATE_SKUS SKUs); messages written. */
static int64
dates_passed(void)
{
	DateADT		today = wl_today();
	uint64		n = wl_sku_with_dates_passed(DATE_SKUS, today);
	SPITupleTable *rows = SPI_tuptable;
	int64		written = 0;

	for (uint64 i = 0; i < n; i++)
		written += dates_of(rows, i, today);
	SPI_freetuptable(rows);
	return written;
}

/* ---------- the round ---------- */

/*
 * The scheduled messages due now, of the kinds tick() found due (its one
 * statement of probes, domain/tick.c).  Returns the messages written
 * (noted for the commit's NOTIFY by the caller).
 */
int64
wl_schedule_run(bool rounds, bool notes, bool dates)
{
	int64		n = 0;

	if (dates)
		n += dates_passed();
	if (rounds)
		n += status_rounds();
	if (notes)
		n += preorder_notes();
	return n;
}

/* ---------- production updates ---------- */

static WlQuery q_update = {
	"WITH t AS ("
	"  SELECT l.id, l.order_ref, l.qty, l.kind, l.email, l.phone, s.sku, s.title,"
	"   s.product_url, s.ships_on, s.restock_date, s.restock_confirmed"
	"  FROM waitlist.sku s"
	"  JOIN waitlist.line l ON l.sku = s.sku AND l.state = 'waiting'"
	"  WHERE s.sku = $1),"
	" ins AS ("
	WL_CONTACT_MESSAGES(
		"SELECT 'production_update' AS kind, t.sku, t.email, t.phone,"
		" waitlist.payload_json('order_ref', t.order_ref, 'line_id', t.id, 'sku', t.sku,"
		"  'title', t.title, 'qty', t.qty, 'line_kind', t.kind, 'update', $3,"
		"  'update_number', $2, 'expected_ship_date', CASE WHEN t.kind = 'preorder'"
		"   THEN to_char(t.ships_on, 'YYYY-MM-DD') WHEN t.restock_confirmed"
		"   THEN to_char(t.restock_date, 'YYYY-MM-DD') END,"
		"  'cancel_allowed', true, 'product_url', t.product_url) AS payload,"
		" 'line:' || t.id || ':update:' || $2 AS key"
		" FROM t ORDER BY t.id")
	" RETURNING 1)"
	" SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM ins)",
	3, {TEXTOID, INT4OID, TEXTOID}, NULL
};

/*
 * The merchant's production news to every waiting line of the SKU (the
 * text is checked); returns the lines told.  Unknown SKU: WL001.
 */
int64
wl_post_update(const char *sku, const char *text)
{
	int32		number;
	Datum		a[3];

	wl_sku_wait_turn(sku);
	if (!wl_sku_next_update(sku, &number))
		wl_error_unknown_sku(sku);
	a[0] = CStringGetTextDatum(sku);
	a[1] = Int32GetDatum(number);
	a[2] = CStringGetTextDatum(text);
	wl_exec(&q_update, a, NULL, SPI_OK_SELECT, 1);
	if (wl_get_int64(0, 2, NULL) > 0)
		wl_note_messages();
	return wl_get_int64(0, 1, NULL);
}
