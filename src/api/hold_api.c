/*
 * hold_api.c
 *	  SQL API for exclusive holds: set_hold_window, claim_hold.  Arguments
 *	  are checked here; the rules are in domain/holds.c.
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/timestamp.h"

#include "api/args.h"
#include "domain/holds.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_set_hold_window);
PG_FUNCTION_INFO_V1(waitlist_claim_hold);

/* The longest hold window: a unit is not kept from others for longer. */
#define HOLD_WINDOW_MAX_USECS	(INT64CONST(24) * USECS_PER_HOUR)
#define HOLD_WINDOW_MIN_USECS	USECS_PER_MINUTE

/* An interval's length in microseconds, or -1 when it counts months. */
static int64
window_usecs(const Interval *w)
{
	if (w->month != 0)
		return -1;
	return w->time + (int64) w->day * USECS_PER_DAY;
}

/* SQL: waitlist.set_hold_window(sku, hold_window) */
Datum
waitlist_set_hold_window(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	bool		off = PG_ARGISNULL(1);
	Datum		window = off ? (Datum) 0 : PG_GETARG_DATUM(1);
	Datum		result;

	if (!off)
	{
		int64		us = window_usecs(PG_GETARG_INTERVAL_P(1));

		if (us < HOLD_WINDOW_MIN_USECS || us > HOLD_WINDOW_MAX_USECS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hold_window must be between 1 minute and 24 hours"),
					 errdetail("A held unit is kept from everyone else until the window ends; a few hours is usual."),
					 errhint("Pass NULL to turn holds off.")));
	}
	wl_spi_connect();
	wl_sku_wait_turn(sku);		/* behind the SKU's commits, as every writer */
	result = wl_sku_set_hold_window(sku, window, off);
	SPI_finish();
	if (result == (Datum) 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/* SQL: waitlist.claim_hold(sku, contact, order_ref, customer, channel) */
Datum
waitlist_claim_hold(PG_FUNCTION_ARGS)
{
	WlOrderArgs a = {0};
	char	   *contact;
	int64		id;

	a.sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	contact = wl_arg_contact(fcinfo, 1);
	a.order_ref = wl_arg_text(fcinfo, 2, "order_ref", WL_MAX_REF_LEN, true);
	a.customer = wl_arg_text(fcinfo, 3, "customer", WL_MAX_NAME_LEN, false);
	a.channel = wl_arg_channel(fcinfo, 4);
	a.qty = 1;
	wl_spi_connect();
	id = wl_claim_hold(&a, contact, strchr(contact, '@') != NULL);
	SPI_finish();
	PG_RETURN_INT64(id);
}
