/*
 * signup_api.c
 *	  SQL API for back-in-stock sign-ups: subscribe, unsubscribe.  The
 *	  rules are in domain/signups.c.
 */
#include "postgres.h"

#include "fmgr.h"

#include "api/args.h"
#include "domain/signups.h"
#include "store/spi.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_subscribe);
PG_FUNCTION_INFO_V1(waitlist_unsubscribe);
PG_FUNCTION_INFO_V1(waitlist_unsubscribe_sku);

/* SQL: waitlist.subscribe(sku, email, phone, customer) */
Datum
waitlist_subscribe(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	char	   *email = wl_arg_email(fcinfo, 1);
	char	   *phone = wl_arg_phone(fcinfo, 2);
	char	   *customer = wl_arg_text(fcinfo, 3, "customer", WL_MAX_NAME_LEN, false);
	int64		id;

	if (!email && !phone)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an email address or a phone number is required")));
	wl_spi_connect();
	id = wl_subscribe(sku, email, phone, customer);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* SQL: waitlist.unsubscribe(id) */
Datum
waitlist_unsubscribe(PG_FUNCTION_ARGS)
{
	int64		id = wl_arg_int64(fcinfo, 0, "id");
	bool		left;

	wl_spi_connect();
	left = wl_unsubscribe(NULL, id);
	SPI_finish();
	PG_RETURN_BOOL(left);
}

/* SQL: waitlist.unsubscribe(sku, id): the handle that routes by SKU */
Datum
waitlist_unsubscribe_sku(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	int64		id = wl_arg_int64(fcinfo, 1, "id");
	bool		left;

	wl_spi_connect();
	left = wl_unsubscribe(sku, id);
	SPI_finish();
	PG_RETURN_BOOL(left);
}
