/*
 * line_api.c
 *	  SQL API for paid lines: place_backorder, cancel_line, ship_line,
 *	  queue_position.  Arguments are checked here; the rules are in
 *	  domain/backorders.c.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "api/args.h"
#include "domain/backorders.h"
#include "store/spi.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_place_backorder);
PG_FUNCTION_INFO_V1(waitlist_cancel_line);
PG_FUNCTION_INFO_V1(waitlist_ship_line);
PG_FUNCTION_INFO_V1(waitlist_queue_position);

/* SQL: waitlist.place_backorder(order_ref, sku, qty, customer, email, phone, channel) */
Datum
waitlist_place_backorder(PG_FUNCTION_ARGS)
{
	WlOrderArgs a;
	int64		id;

	wl_arg_order(fcinfo, &a, "backorder");
	wl_spi_connect();
	id = wl_place_backorder(&a);
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* SQL: waitlist.cancel_line(line_id) */
Datum
waitlist_cancel_line(PG_FUNCTION_ARGS)
{
	int64		line_id = wl_arg_int64(fcinfo, 0, "line_id");
	int64		held;

	wl_spi_connect();
	held = wl_cancel_line(line_id);
	SPI_finish();
	PG_RETURN_INT32((int32) held);
}

/* SQL: waitlist.ship_line(line_id) */
Datum
waitlist_ship_line(PG_FUNCTION_ARGS)
{
	int64		line_id = wl_arg_int64(fcinfo, 0, "line_id");

	wl_spi_connect();
	wl_ship_line(line_id);
	SPI_finish();
	PG_RETURN_VOID();
}

static WlQuery q_position = {
	"SELECT CASE WHEN l.state = 'waiting' AND l.pos_end > s.paid_served THEN"
	"  (SELECT count(*) FROM waitlist.line x WHERE x.sku_id = s.id AND x.state = 'waiting'"
	"    AND x.pos_end > s.paid_served AND x.pos_end <= l.pos_end) END,"
	" (SELECT count(*) FROM waitlist.line x WHERE x.sku_id = s.id AND x.state = 'waiting'"
	"   AND x.pos_end > s.paid_served)"
	" FROM waitlist.line l JOIN waitlist.sku s ON s.id = l.sku_id WHERE l.id = $1",
	1, {INT8OID}, NULL
};

/* SQL: waitlist.queue_position(line_id) -> (position, total) */
Datum
waitlist_queue_position(PG_FUNCTION_ARGS)
{
	int64		line_id = wl_arg_int64(fcinfo, 0, "line_id");
	Datum		arg = Int64GetDatum(line_id);
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: queue_position must return a composite type");
	wl_spi_connect();
	if (wl_exec(&q_position, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_LINE),
				 errmsg("unknown line " INT64_FORMAT, line_id)));
	values[0] = Int64GetDatum(wl_get_int64(0, 1, &nulls[0]));
	values[1] = Int64GetDatum(wl_get_int64(0, 2, &nulls[1]));
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
