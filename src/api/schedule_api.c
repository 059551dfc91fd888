/*
 * schedule_api.c
 *	  SQL API for a SKU's message schedule: set_schedule, and the merchant's
 *	  production news to the people waiting: post_update.
 *
 * The schedule says when the clock's messages go out for the SKU: the
 * weekly backorder_status, the pre-order's mid-wait and shipping-imminent
 * notes, the delay of a wave's email after its SMS, and whether sign-ups
 * hear restock date changes.  A NULL column follows the waitlist.* setting.
 * Locking: like set_policy, the call waits its turn in the SKU's queue.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "api/args.h"
#include "domain/schedule.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_set_schedule);
PG_FUNCTION_INFO_V1(waitlist_post_update);

/* Longest production update accepted (characters). */
#define WL_MAX_UPDATE_LEN 2000

/* An interval as seconds, a month counted as 30 days (as interval comparison does). */
static double
interval_seconds(const Interval *span)
{
	return (double) span->time / USECS_PER_SEC +
		((double) span->month * DAYS_PER_MONTH + span->day) * SECS_PER_DAY;
}

/* An interval argument: NULL or within [lo, hi] seconds. */
static void
check_span(FunctionCallInfo fcinfo, int argno, const char *name, double lo, double hi,
		   const char *range)
{
	double		secs;

	if (PG_ARGISNULL(argno))
		return;
	secs = interval_seconds(PG_GETARG_INTERVAL_P(argno));
	if (secs < lo || secs > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %s, got %s", name, range,
						DatumGetCString(DirectFunctionCall1(interval_out,
															PG_GETARG_DATUM(argno))))));
}

/* SQL: waitlist.set_schedule(sku, status_interval, midwait_fraction, imminent_days, email_delay, eta_to_signups) */
Datum
waitlist_set_schedule(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	Datum		args[6];
	char		nulls[7] = "      ";
	TupleDesc	tupdesc;
	HeapTuple	row;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: set_schedule must return a composite type");
	check_span(fcinfo, 1, "status_interval", 3600, 365.0 * SECS_PER_DAY, "1 hour and 365 days");
	if (!PG_ARGISNULL(2))
	{
		double		f = DatumGetFloat8(DirectFunctionCall1(numeric_float8, PG_GETARG_DATUM(2)));

		if (!(f >= 0.05 && f <= 0.95))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("midwait_fraction must be between 0.05 and 0.95, got %s",
							DatumGetCString(DirectFunctionCall1(numeric_out, PG_GETARG_DATUM(2))))));
	}
	if (!PG_ARGISNULL(3) && (PG_GETARG_INT32(3) < 1 || PG_GETARG_INT32(3) > 30))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("imminent_days must be between 1 and 30, got %d", PG_GETARG_INT32(3))));
	check_span(fcinfo, 4, "email_delay", 0, 7.0 * SECS_PER_DAY, "0 and 7 days");
	for (int i = 1; i < 6; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	/* numeric(3, 2): two decimals, as the column keeps them */
	if (!PG_ARGISNULL(2))
		args[2] = DirectFunctionCall2(numeric_round, args[2], Int32GetDatum(2));
	wl_spi_connect();
	wl_sku_wait_turn(sku);
	row = wl_sku_set_schedule(sku, args, nulls);
	if (row == NULL)
		wl_error_unknown_sku(sku);
	wl_schedule_replan(sku);	/* the pre-orders' notes follow the new schedule */
	wl_touch_sku(sku);
	SPI_finish();
	PG_RETURN_DATUM(heap_copy_tuple_as_datum(row, tupdesc));
}

/* SQL: waitlist.post_update(sku, message) -> lines told */
Datum
waitlist_post_update(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	char	   *text = wl_arg_text(fcinfo, 1, "message", WL_MAX_UPDATE_LEN, true);
	int64		told;
	bool		blank = true;

	for (const char *c = text; *c && blank; c++)
		blank = isspace((unsigned char) *c);
	if (blank)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("message must not be blank"),
				 errdetail("A production update needs words for the people waiting.")));
	wl_spi_connect();
	told = wl_post_update(sku, text);
	SPI_finish();
	PG_RETURN_INT64(told);
}
