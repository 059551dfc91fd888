/*
 * sku.c
 *	  SQL API for SKUs and their supply: upsert_sku, restock, set_on_hand,
 *	  waiting_count.
 *
 * Supply changes lock the SKU row (the UPDATE) and record the SKU for the
 * commit-time allocator; nothing is allocated before the commit.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/numeric.h"

#include "commit.h"
#include "spi_util.h"
#include "turn.h"
#include "validate.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_upsert_sku);
PG_FUNCTION_INFO_V1(waitlist_restock);
PG_FUNCTION_INFO_V1(waitlist_set_on_hand);
PG_FUNCTION_INFO_V1(waitlist_waiting_count);

static WlQuery q_restock = {
	"UPDATE waitlist.sku SET on_hand = on_hand + $2, updated_at = now()"
	" WHERE sku = $1 RETURNING id, on_hand",
	2, {TEXTOID, INT8OID}, NULL
};

static WlQuery q_set_on_hand = {
	"UPDATE waitlist.sku SET on_hand = $2, updated_at = now()"
	" WHERE sku = $1 RETURNING id, on_hand",
	2, {TEXTOID, INT8OID}, NULL
};

/* Apply a supply statement and register the SKU for allocation. */
static int64
change_supply(WlQuery *q, const char *sku, int64 qty)
{
	Datum		args[2] = {CStringGetTextDatum(sku), Int64GetDatum(qty)};
	int64		on_hand;

	SPI_connect();
	wl_wait_turn(sku);
	if (wl_exec(q, args, NULL, SPI_OK_UPDATE_RETURNING, 0) == 0)
		wl_error_unknown_sku(sku);
	wl_touch_sku(wl_get_int64(0, 1, NULL));
	on_hand = wl_get_int64(0, 2, NULL);
	SPI_finish();
	return on_hand;
}

/* SQL: waitlist.restock(sku, qty) */
Datum
waitlist_restock(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	int64		qty = wl_arg_qty(fcinfo, 1, false);

	PG_RETURN_INT64(change_supply(&q_restock, sku, qty));
}

/* SQL: waitlist.set_on_hand(sku, qty) */
Datum
waitlist_set_on_hand(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	int64		qty = wl_arg_qty(fcinfo, 1, true);

	PG_RETURN_INT64(change_supply(&q_set_on_hand, sku, qty));
}

/* ---------- upsert_sku ---------- */

static WlQuery q_old_date = {
	"SELECT restock_date FROM waitlist.sku WHERE sku = $1 FOR UPDATE",
	1, {TEXTOID}, NULL
};

static WlQuery q_upsert = {
	"INSERT INTO waitlist.sku AS k (sku, title, status, restock_date, restock_confirmed,"
	"  product_url, image_url, notify_ratio, send_sold_out_again, confirm_signups)"
	" VALUES ($1, $2, coalesce($3, 'active'), $4, coalesce($5, false), $6, $7,"
	"  coalesce($8, 1.0), coalesce($9, true), coalesce($10, true))"
	" ON CONFLICT (sku) DO UPDATE SET"
	"  title = coalesce($2, k.title), status = coalesce($3, k.status),"
	"  restock_date = coalesce($4, k.restock_date),"
	"  restock_confirmed = coalesce($5, k.restock_confirmed),"
	"  product_url = coalesce($6, k.product_url), image_url = coalesce($7, k.image_url),"
	"  notify_ratio = coalesce($8, k.notify_ratio),"
	"  send_sold_out_again = coalesce($9, k.send_sold_out_again),"
	"  confirm_signups = coalesce($10, k.confirm_signups), updated_at = now(),"
	/* a SKU that is no longer upcoming takes no more pre-orders */
	"  preorders_open = k.preorders_open AND coalesce($3, k.status) = 'upcoming',"
	"  preorder_terms = k.preorder_terms"
	"   + CASE WHEN k.preorders_open AND coalesce($3, k.status) <> 'upcoming' THEN 1 ELSE 0 END"
	" RETURNING k.*",
	10, {TEXTOID, TEXTOID, TEXTOID, DATEOID, BOOLOID, TEXTOID, TEXTOID, NUMERICOID,
		BOOLOID, BOOLOID}, NULL
};

static WlQuery q_eta_changed = {
	"INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
	" SELECT 'eta_changed', c.channel, c.recipient, s.sku,"
	"  waitlist.payload_json('order_ref', l.order_ref, 'line_id', l.id, 'sku', s.sku,"
	"   'title', s.title, 'qty', l.qty, 'previous_date', to_char($2::date, 'YYYY-MM-DD'),"
	"   'expected_ship_date', to_char(s.restock_date, 'YYYY-MM-DD'),"
	"   'confirmed', s.restock_confirmed, 'cancel_allowed', true),"
	"  'line:' || l.id || ':eta:' || to_char(s.restock_date, 'YYYYMMDD') || ':' || c.channel"
	" FROM waitlist.sku s"
	" JOIN waitlist.line l ON l.sku_id = s.id AND l.state = 'waiting'"
	"  AND l.pos_end > s.paid_served AND l.kind = 'backorder'"
	" CROSS JOIN LATERAL (VALUES ('email', l.email), ('sms', l.phone)) AS c (channel, recipient)"
	" WHERE s.sku = $1 AND c.recipient IS NOT NULL"
	" ON CONFLICT (idempotency_key) DO NOTHING",
	2, {TEXTOID, DATEOID}, NULL
};

/* Check the values upsert_sku accepts beyond plain text lengths. */
static void
check_sku_settings(FunctionCallInfo fcinfo)
{
	if (!PG_ARGISNULL(3))
		wl_check_date(PG_GETARG_DATEADT(3), "restock_date");
	if (!PG_ARGISNULL(2))
	{
		char	   *st = text_to_cstring(PG_GETARG_TEXT_PP(2));

		if (strcmp(st, "active") != 0 && strcmp(st, "upcoming") != 0 &&
			strcmp(st, "discontinued") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid status \"%s\"", st),
					 errhint("Use active, upcoming or discontinued.")));
	}
	if (!PG_ARGISNULL(7))
	{
		char	   *r = DatumGetCString(DirectFunctionCall1(numeric_out,
															PG_GETARG_DATUM(7)));
		double		ratio = strtod(r, NULL);

		if (!(ratio >= 1.0 && ratio <= 100.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("notify_ratio must be between 1 and 100, got %s", r),
					 errdetail("1.0 tells one sign-up per unit; 1.5 tells three for every two units.")));
	}
}

/* Build upsert arguments from the call, validating texts. */
static void
upsert_args(FunctionCallInfo fcinfo, Datum *args, char *nulls)
{
	static const struct
	{
		const char *name;
		int			maxlen;
	}			texts[] = {
		{"sku", WL_MAX_SKU_LEN}, {"title", WL_MAX_TITLE_LEN}, {"status", 20},
		{NULL, 0}, {NULL, 0}, {"product_url", WL_MAX_URL_LEN},
		{"image_url", WL_MAX_URL_LEN}
	};

	for (int i = 0; i < 10; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		if (i < 7 && texts[i].name)
		{
			char	   *s = wl_arg_text(fcinfo, i, texts[i].name, texts[i].maxlen, i == 0);

			args[i] = wl_opt_text(s);
		}
		else
			args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	nulls[10] = '\0';
}

/* SQL: waitlist.upsert_sku(sku, title, status, ...) */
Datum
waitlist_upsert_sku(PG_FUNCTION_ARGS)
{
	Datum		args[10];
	char		nulls[11];
	Datum		old_date = (Datum) 0;
	bool		had_date = false;
	TupleDesc	tupdesc;
	HeapTuple	row;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: upsert_sku must return a composite type");
	upsert_args(fcinfo, args, nulls);
	check_sku_settings(fcinfo);
	SPI_connect();
	wl_wait_turn(TextDatumGetCString(args[0]));
	if (wl_exec(&q_old_date, args, NULL, SPI_OK_SELECT, 0) == 1)
	{
		bool		isnull;

		old_date = wl_get_datum(0, 1, &isnull);
		had_date = !isnull;
	}
	wl_exec(&q_upsert, args, nulls, SPI_OK_INSERT_RETURNING, 0);
	row = SPI_copytuple(SPI_tuptable->vals[0]);
	wl_touch_sku(wl_get_int64(0, 1, NULL));	/* status and dates move the policy */
	if (had_date && !PG_ARGISNULL(3) &&
		DatumGetDateADT(old_date) != PG_GETARG_DATEADT(3))
	{
		Datum		eargs[2] = {args[0], old_date};

		if (wl_exec(&q_eta_changed, eargs, NULL, SPI_OK_INSERT, 0) > 0)
			wl_note_messages();
	}
	SPI_finish();
	PG_RETURN_DATUM(heap_copy_tuple_as_datum(row, tupdesc));
}

/* ---------- waiting_count ---------- */

static WlQuery q_waiting = {
	"SELECT (s.sub_tail - s.sub_served)"
	"  - (SELECT count(*) FROM waitlist.subscriber u"
	"     WHERE u.sku_id = s.id AND u.state <> 'waiting' AND u.pos >= s.sub_served)"
	"  + (SELECT count(*) FROM waitlist.line l"
	"     WHERE l.sku_id = s.id AND l.state = 'waiting' AND l.pos_end > s.paid_served)"
	" FROM waitlist.sku s WHERE s.sku = $1",
	1, {TEXTOID}, NULL
};

/* SQL: waitlist.waiting_count(sku) */
Datum
waitlist_waiting_count(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	Datum		arg = CStringGetTextDatum(sku);
	int64		n;

	SPI_connect();
	if (wl_exec(&q_waiting, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		wl_error_unknown_sku(sku);
	n = wl_get_int64(0, 1, NULL);
	SPI_finish();
	PG_RETURN_INT64(n);
}
