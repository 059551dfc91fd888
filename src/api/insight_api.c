/*
 * insight_api.c
 *	  SQL API for what the merchant learns from the lists: record_view.
 *	  Arguments are checked here; the row is written in domain/views.c.
 *	  The metrics themselves are SQL (waitlist.metrics, views_by_day,
 *	  roll_up_views in the install script).
 */
#include "postgres.h"

#include "fmgr.h"

#include "api/args.h"
#include "domain/views.h"
#include "store/spi.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_record_view);

/* SQL: waitlist.record_view(sku, visitor, shown) */
Datum
waitlist_record_view(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	char	   *visitor = wl_arg_text(fcinfo, 1, "visitor", WL_MAX_NAME_LEN, false);
	char	   *shown = wl_arg_text(fcinfo, 2, "shown", WL_MAX_CHANNEL_LEN, true);

	if (!wl_view_shown_ok(shown))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shown must be one of in_stock, out_of_stock, notify_me, backorder, preorder"),
				 errdetail("Got \"%s\".", shown),
				 errhint("Record what the product page offered the visitor, as waitlist.policy() decided it.")));
	wl_spi_connect();
	wl_record_view(sku, visitor, shown);
	SPI_finish();
	PG_RETURN_VOID();
}
