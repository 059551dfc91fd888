/*
 * preorder_api.c
 *	  SQL API for pre-orders: open_preorders, close_preorders,
 *	  reschedule_preorders, set_preorder_channel_limit, place_preorder and
 *	  the tracking report preorder_status.  Arguments are checked here; the
 *	  rules are in domain/preorders.c.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "api/args.h"
#include "domain/preorders.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_open_preorders);
PG_FUNCTION_INFO_V1(waitlist_close_preorders);
PG_FUNCTION_INFO_V1(waitlist_reschedule_preorders);
PG_FUNCTION_INFO_V1(waitlist_set_preorder_channel_limit);
PG_FUNCTION_INFO_V1(waitlist_place_preorder);
PG_FUNCTION_INFO_V1(waitlist_preorder_status);

/* SQL: waitlist.preorder_status(sku) -> SETOF preorder_report */
Datum
waitlist_preorder_status(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, false);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		n;

	InitMaterializedSRF(fcinfo, 0);
	wl_spi_connect();
	n = wl_sku_preorder_report(sku);
	if (n == 0 && sku)
		wl_error_unknown_sku(sku);
	for (uint64 i = 0; i < n; i++)
	{
		Datum		values[12];
		bool		nulls[12];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/* The report row of one SKU as the function's composite result (in SPI). */
static HeapTuple
status_row(const char *sku)
{
	wl_sku_preorder_report(sku);
	return SPI_copytuple(SPI_tuptable->vals[0]);
}

/* Check the payment mode and that a deposit is given exactly when needed. */
static void
check_payment(WlPlan *a)
{
	bool		deposit = strcmp(a->payment, "deposit") == 0;

	if (!deposit && strcmp(a->payment, "authorize") != 0 &&
		strcmp(a->payment, "full") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid payment mode \"%s\"", a->payment),
				 errhint("Use authorize (capture at shipment), full (capture at order) or deposit.")));
	if (deposit && (a->deposit_pct == NULL) == (a->deposit_amount == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payment mode deposit needs exactly one of deposit_pct and deposit_amount")));
	if (!deposit && (a->deposit_pct || a->deposit_amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a deposit only applies to payment mode deposit, not %s", a->payment)));
}

/*
 * The deposit percentage is stored to two decimals (sku.deposit_pct): one
 * that rounds to 0.00 % would capture nothing and call it a deposit.
 */
static void
check_deposit_pct(Datum pct, const char *text)
{
	Datum		stored = DirectFunctionCall2(numeric_round, pct, Int32GetDatum(2));

	if (strtod(DatumGetCString(DirectFunctionCall1(numeric_out, stored)), NULL) <= 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("deposit_pct %s rounds to 0.00%%", text),
				 errdetail("The deposit percentage is kept to two decimals."),
				 errhint("Give at least 0.01, or a deposit_amount.")));
}

/* Read and check open_preorders' arguments. */
static void
plan_args(FunctionCallInfo fcinfo, WlPlan *a)
{
	a->sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	a->planned = wl_arg_int64(fcinfo, 1, "planned_production");
	if (a->planned <= 0 || a->planned > INT64CONST(1000000000000))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("planned_production must be between 1 and 1000000000000, got " INT64_FORMAT,
						a->planned)));
	a->cap = wl_arg_amount(fcinfo, 2, "cap_pct", true, 100.0);
	a->production = wl_arg_date(fcinfo, 3, "production_date");
	a->ships = wl_arg_date(fcinfo, 4, "ships_on");
	if (a->ships < a->production)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ships_on must not be before production_date")));
	a->payment = wl_arg_text(fcinfo, 5, "payment", 20, true);
	a->deposit_pct = wl_arg_amount(fcinfo, 6, "deposit_pct", false, 99.99);
	if (a->deposit_pct)
		check_deposit_pct(PG_GETARG_DATUM(6), a->deposit_pct);
	a->deposit_amount = wl_arg_amount(fcinfo, 7, "deposit_amount", false, 1e12);
	check_payment(a);
}

/* SQL: waitlist.open_preorders(sku, planned_production, cap_pct, ...) */
Datum
waitlist_open_preorders(PG_FUNCTION_ARGS)
{
	WlPlan		a;
	TupleDesc	tupdesc;
	HeapTuple	row;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: open_preorders must return a composite type");
	plan_args(fcinfo, &a);
	wl_spi_connect();
	(void) wl_open_preorders(&a);
	row = status_row(a.sku);
	SPI_finish();
	PG_RETURN_DATUM(heap_copy_tuple_as_datum(row, tupdesc));
}

/* SQL: waitlist.close_preorders(sku) */
Datum
waitlist_close_preorders(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	bool		was_open;

	wl_spi_connect();
	was_open = wl_close_preorders(sku);
	SPI_finish();
	PG_RETURN_BOOL(was_open);
}

/* SQL: waitlist.reschedule_preorders(sku, ships_on, production_date) */
Datum
waitlist_reschedule_preorders(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	DateADT		ships = wl_arg_date(fcinfo, 1, "ships_on");
	bool		has_production = !PG_ARGISNULL(2);
	DateADT		production = has_production ? wl_arg_date(fcinfo, 2, "production_date") : 0;
	int64		told;

	wl_spi_connect();
	told = wl_reschedule_preorders(sku, ships, has_production, production);
	SPI_finish();
	PG_RETURN_INT32((int32) told);
}

/* SQL: waitlist.set_preorder_channel_limit(sku, channel, max_units) */
Datum
waitlist_set_preorder_channel_limit(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	char	   *channel;
	int64		used;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel must not be null")));
	channel = wl_arg_channel(fcinfo, 1);
	if (!PG_ARGISNULL(2) && PG_GETARG_INT64(2) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_units must be zero or more, got " INT64_FORMAT, PG_GETARG_INT64(2))));
	wl_spi_connect();
	used = wl_set_preorder_channel_limit(sku, channel, !PG_ARGISNULL(2),
										 PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2));
	SPI_finish();
	PG_RETURN_INT64(used);
}

/* Read and check place_preorder's arguments. */
static void
preorder_args(FunctionCallInfo fcinfo, WlPreorder *a)
{
	wl_arg_order(fcinfo, &a->o, "pre-order");
	a->price = wl_arg_amount(fcinfo, 7, "unit_price", true, 1e9);
	a->currency = wl_check_currency(wl_arg_text(fcinfo, 8, "currency", 3, true));
}

/* SQL: waitlist.place_preorder(order_ref, sku, qty, customer, email, phone, channel, unit_price, currency) */
Datum
waitlist_place_preorder(PG_FUNCTION_ARGS)
{
	WlPreorder	a;
	int64		id;

	preorder_args(fcinfo, &a);
	wl_spi_connect();
	id = wl_place_preorder(&a);
	SPI_finish();
	PG_RETURN_INT64(id);
}
