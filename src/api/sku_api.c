/*
 * sku.c
 *	  SQL API for SKUs and their supply: upsert_sku, restock, set_on_hand,
 *	  waiting_count; and sku_counters_ok, the SKU table's CHECK.
 *
 * Supply changes lock the SKU row (the UPDATE, store/sku_row.c) and record
 * the SKU for the commit-time allocator; nothing is allocated before the
 * commit.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "api/args.h"
#include "domain/backorders.h"
#include "domain/signups.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_upsert_sku);
PG_FUNCTION_INFO_V1(waitlist_restock);
PG_FUNCTION_INFO_V1(waitlist_set_on_hand);
PG_FUNCTION_INFO_V1(waitlist_waiting_count);
PG_FUNCTION_INFO_V1(waitlist_sku_counters_ok);

/* Apply a supply change and register the SKU for allocation. */
static int64
change_supply(const char *sku, int64 qty, bool absolute)
{
	WlSku		s;
	int64		on_hand;

	wl_spi_connect();
	wl_sku_wait_turn(sku);
	if (!wl_sku_change_supply(sku, qty, absolute, &s))
		wl_error_unknown_sku(sku);
	wl_touch_supply(wl_sku_text(&s, SKU_CODE));
	on_hand = wl_sku_int64(&s, SKU_ON_HAND);
	SPI_finish();
	return on_hand;
}

/* SQL: waitlist.restock(sku, qty) */
Datum
waitlist_restock(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	int64		qty = wl_arg_qty(fcinfo, 1, false);

	PG_RETURN_INT64(change_supply(sku, qty, false));
}

/* SQL: waitlist.set_on_hand(sku, qty) */
Datum
waitlist_set_on_hand(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	int64		qty = wl_arg_qty(fcinfo, 1, true);

	PG_RETURN_INT64(change_supply(sku, qty, true));
}

/* ---------- upsert_sku ---------- */

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
	DateADT		old_date = 0;
	bool		had_date = false;
	DateADT		old_known = 0;
	bool		had_known = false;
	TupleDesc	tupdesc;
	HeapTuple	row;
	WlSku		s;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: upsert_sku must return a composite type");
	upsert_args(fcinfo, args, nulls);
	check_sku_settings(fcinfo);
	wl_spi_connect();
	wl_sku_wait_turn(TextDatumGetCString(args[0]));
	if (wl_sku_find(TextDatumGetCString(args[0]), true, &s))
	{
		had_date = wl_sku_date(&s, SKU_RESTOCK_DATE, &old_date);
		had_known = wl_signup_known_date(&s, &old_known);
	}
	row = wl_sku_upsert(args, nulls);
	wl_sku_from_tuple(row, tupdesc, &s);
	wl_touch_sku(wl_sku_text(&s, SKU_CODE));	/* status and dates move the policy */
	if (had_date && !PG_ARGISNULL(3) && old_date != PG_GETARG_DATEADT(3))
		wl_backorders_eta_changed(TextDatumGetCString(args[0]), old_date);
	wl_signups_eta_changed(&s, had_known, old_known);
	SPI_finish();
	PG_RETURN_DATUM(heap_copy_tuple_as_datum(row, tupdesc));
}

/* ---------- waiting_count ---------- */

/* SQL: waitlist.waiting_count(sku) */
Datum
waitlist_waiting_count(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	int64		n;
	bool		found;

	wl_spi_connect();
	n = wl_sku_waiting_count(sku, &found);
	if (!found)
		wl_error_unknown_sku(sku);
	SPI_finish();
	PG_RETURN_INT64(n);
}

/* ---------- the SKU row's CHECK ---------- */

/*
 * SQL: waitlist.sku_counters_ok(on_hand, allocated, preorder_accepted,
 * paid_waiting, sub_waiting, held, hold_window), the one CHECK of
 * waitlist.sku: no counter below zero, a hold window (when set) from one
 * minute to 24 hours.  PostgreSQL reads a table's CHECK expressions from
 * their stored node text and prepares them again for every statement that
 * writes the table, and every placement, sign-up and restock updates this
 * row: one call to this function is far less to read than the seven
 * comparisons it replaces (measured: the old expression's reading was about
 * 5% of a sign-up's time).  NULL arguments behave as in the comparisons
 * (a NULL counter makes the result NULL unless another part is false).
 */
Datum
waitlist_sku_counters_ok(PG_FUNCTION_ARGS)
{
	bool		unknown = false;

	for (int i = 0; i < 6; i++)
	{
		if (PG_ARGISNULL(i))
			unknown = true;
		else if (PG_GETARG_INT64(i) < 0)
			PG_RETURN_BOOL(false);
	}
	if (!PG_ARGISNULL(6))
	{
		Interval   *w = PG_GETARG_INTERVAL_P(6);
		Interval	lo = {.time = USECS_PER_MINUTE};
		Interval	hi = {.time = 24 * USECS_PER_HOUR};

		if (!DatumGetBool(DirectFunctionCall2(interval_ge, IntervalPGetDatum(w),
											  IntervalPGetDatum(&lo))) ||
			!DatumGetBool(DirectFunctionCall2(interval_le, IntervalPGetDatum(w),
											  IntervalPGetDatum(&hi))))
			PG_RETURN_BOOL(false);
	}
	if (unknown)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(true);
}
