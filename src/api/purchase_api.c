/*
 * purchase_api.c
 *	  SQL API for purchases made outside the extension: record_purchase;
 *	  and purchase_ok, the purchase table's CHECK.
 *	  Arguments are checked here; the rules are in domain/purchases.c.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "api/args.h"
#include "domain/purchases.h"
#include "store/now.h"
#include "store/spi.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_record_purchase);
PG_FUNCTION_INFO_V1(waitlist_purchase_ok);

/* How far a reported purchase time may be ahead of the clock. */
#define PURCHASE_SKEW_USECS	(INT64CONST(3600) * USECS_PER_SEC)

/* The purchase time: NULL is now; not infinite, not over an hour ahead. */
static TimestampTz
arg_purchase_time(FunctionCallInfo fcinfo, int argno)
{
	TimestampTz now = DatumGetTimestampTz(wl_now());
	TimestampTz at;

	if (PG_ARGISNULL(argno))
		return now;
	at = PG_GETARG_TIMESTAMPTZ(argno);
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("at must be a finite time")));
	if (at > now + PURCHASE_SKEW_USECS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purchase time %s is in the future", timestamptz_to_str(at)),
				 errdetail("A purchase may be reported at most an hour ahead of the clock.")));
	return at;
}

/* SQL: waitlist.record_purchase(sku, contact, order_ref, at, qty, amount) */
Datum
waitlist_record_purchase(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	char	   *contact = wl_arg_contact(fcinfo, 1);
	char	   *order_ref = wl_arg_text(fcinfo, 2, "order_ref", WL_MAX_REF_LEN, true);
	TimestampTz at = arg_purchase_time(fcinfo, 3);
	WlSale		sale;
	int			n;

	sale.qty = wl_arg_line_qty(fcinfo, 4);
	sale.has_amount = wl_arg_amount(fcinfo, 5, "amount", false, 1e12) != NULL;
	sale.amount = sale.has_amount ? PG_GETARG_DATUM(5) : (Datum) 0;
	wl_spi_connect();
	n = wl_record_purchase(sku, contact, strchr(contact, '@') != NULL, order_ref, at, &sale);
	SPI_finish();
	PG_RETURN_INT32(n);
}

/*
 * SQL: waitlist.purchase_ok(source, qty, amount), the one CHECK of
 * waitlist.purchase: the source is 'external' or 'order', the units and
 * the amount, when given, above zero.  A C call for the reason of
 * sku_counters_ok (api/sku_api.c): every placement writes a purchase row
 * inside its SKU's turn, and PostgreSQL reads and prepares a table's CHECKs
 * for every statement that writes it (with the three column CHECKs this
 * replaces, a pre-order placement took 841,000 instructions; with this
 * call, 796,000; callgrind, CHANGELOG.md).  NULL
 * arguments behave as in the comparisons: NULL unless another part is false.
 */
Datum
waitlist_purchase_ok(PG_FUNCTION_ARGS)
{
	bool		unknown = false;

	if (PG_ARGISNULL(0))
		unknown = true;
	else
	{
		text	   *source = PG_GETARG_TEXT_PP(0);
		const char *s = VARDATA_ANY(source);
		size_t		len = VARSIZE_ANY_EXHDR(source);

		if (!((len == 8 && memcmp(s, "external", 8) == 0) ||
			  (len == 5 && memcmp(s, "order", 5) == 0)))
			PG_RETURN_BOOL(false);
	}
	if (!PG_ARGISNULL(1) && PG_GETARG_INT32(1) <= 0)
		PG_RETURN_BOOL(false);
	if (!PG_ARGISNULL(2) &&
		!DatumGetBool(DirectFunctionCall2(numeric_gt, PG_GETARG_DATUM(2),
										  NumericGetDatum(int64_to_numeric(0)))))
		PG_RETURN_BOOL(false);
	if (unknown)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(true);
}
