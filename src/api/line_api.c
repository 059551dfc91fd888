/*
 * line_api.c
 *	  SQL API for paid lines: place_backorder, cancel_line, ship_line,
 *	  queue_position; and line_ok, the line table's CHECK.  The line handles come in two forms: (sku, line_id),
 *	  whose statements all name the SKU (one shard on Citus), and
 *	  (line_id), which finds the SKU by the id.  Arguments are checked here; the rules are in
 *	  domain/backorders.c.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "api/args.h"
#include "domain/backorders.h"
#include "store/spi.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_place_backorder);
PG_FUNCTION_INFO_V1(waitlist_cancel_line);
PG_FUNCTION_INFO_V1(waitlist_ship_line);
PG_FUNCTION_INFO_V1(waitlist_queue_position);
PG_FUNCTION_INFO_V1(waitlist_cancel_line_sku);
PG_FUNCTION_INFO_V1(waitlist_ship_line_sku);
PG_FUNCTION_INFO_V1(waitlist_queue_position_sku);
PG_FUNCTION_INFO_V1(waitlist_line_ok);

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

/* The SKU argument of a (sku, line_id) form. */
static char *
arg_sku(FunctionCallInfo fcinfo)
{
	return wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
}

/* Cancel line_id (of SKU sku, or found by its id when sku is NULL). */
static Datum
cancel(const char *sku, int64 line_id)
{
	int64		held;

	wl_spi_connect();
	held = wl_cancel_line(sku, line_id);
	SPI_finish();
	PG_RETURN_INT32((int32) held);
}

/* SQL: waitlist.cancel_line(line_id) */
Datum
waitlist_cancel_line(PG_FUNCTION_ARGS)
{
	return cancel(NULL, wl_arg_int64(fcinfo, 0, "line_id"));
}

/* SQL: waitlist.cancel_line(sku, line_id) */
Datum
waitlist_cancel_line_sku(PG_FUNCTION_ARGS)
{
	char	   *sku = arg_sku(fcinfo);

	return cancel(sku, wl_arg_int64(fcinfo, 1, "line_id"));
}

/* An http(s) URL of printable characters without spaces, or NULL. */
static const char *
arg_tracking_url(FunctionCallInfo fcinfo, int argno)
{
	char	   *url;

	if (argno >= PG_NARGS() || PG_ARGISNULL(argno))
		return NULL;
	url = wl_arg_text(fcinfo, argno, "tracking_url", WL_MAX_URL_LEN, false);
	if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tracking_url must start with https:// or http://")));
	for (const char *c = url; *c; c++)
		if ((unsigned char) *c <= ' ' || *c == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tracking_url must not contain spaces or control characters")));
	return url;
}

/* An optional text argument of ship_line (absent in 0.1.0's signature). */
static const char *
arg_opt(FunctionCallInfo fcinfo, int argno, const char *name, int maxlen)
{
	if (argno >= PG_NARGS() || PG_ARGISNULL(argno))
		return NULL;
	return wl_arg_text(fcinfo, argno, name, maxlen, false);
}

/*
 * Ship line_id (of SKU sku, or found by its id when sku is NULL); the
 * carrier, tracking number and tracking URL follow at argument first.
 */
static Datum
ship(FunctionCallInfo fcinfo, const char *sku, int64 line_id, int first)
{
	WlShipment	sh;

	sh.carrier = arg_opt(fcinfo, first, "carrier", WL_MAX_CARRIER_LEN);
	sh.tracking_number = arg_opt(fcinfo, first + 1, "tracking_number", WL_MAX_CARRIER_LEN);
	sh.tracking_url = arg_tracking_url(fcinfo, first + 2);
	wl_spi_connect();
	wl_ship_line(sku, line_id, &sh);
	SPI_finish();
	PG_RETURN_VOID();
}

/* SQL: waitlist.ship_line(line_id, carrier, tracking_number, tracking_url) */
Datum
waitlist_ship_line(PG_FUNCTION_ARGS)
{
	return ship(fcinfo, NULL, wl_arg_int64(fcinfo, 0, "line_id"), 1);
}

/* SQL: waitlist.ship_line(sku, line_id, carrier, tracking_number, tracking_url) */
Datum
waitlist_ship_line_sku(PG_FUNCTION_ARGS)
{
	char	   *sku = arg_sku(fcinfo);

	return ship(fcinfo, sku, wl_arg_int64(fcinfo, 1, "line_id"), 2);
}

/* The line's place among the SKU's waiting lines; $2 the SKU, or NULL: by id. */
static WlQuery q_position = {
	"SELECT CASE WHEN l.state = 'waiting' AND l.pos_end > s.paid_served THEN"
	"  (SELECT count(*) FROM waitlist.line x WHERE x.sku = s.sku AND x.state = 'waiting'"
	"    AND x.pos_end > s.paid_served AND x.pos_end <= l.pos_end) END,"
	" (SELECT count(*) FROM waitlist.line x WHERE x.sku = s.sku AND x.state = 'waiting'"
	"   AND x.pos_end > s.paid_served)"
	" FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku WHERE l.id = $1",
	1, {INT8OID}, NULL
};

static WlQuery q_position_of = {
	"SELECT CASE WHEN l.state = 'waiting' AND l.pos_end > s.paid_served THEN"
	"  (SELECT count(*) FROM waitlist.line x WHERE x.sku = $2 AND x.state = 'waiting'"
	"    AND x.pos_end > s.paid_served AND x.pos_end <= l.pos_end) END,"
	" (SELECT count(*) FROM waitlist.line x WHERE x.sku = $2 AND x.state = 'waiting'"
	"   AND x.pos_end > s.paid_served)"
	" FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku"
	" WHERE l.sku = $2 AND s.sku = $2 AND l.id = $1",
	2, {INT8OID, TEXTOID}, NULL
};

/* (position, total) of line_id (of SKU sku, or found by its id when sku is NULL). */
static Datum
position(FunctionCallInfo fcinfo, const char *sku, int64 line_id)
{
	Datum		args[2] = {Int64GetDatum(line_id), sku ? CStringGetTextDatum(sku) : (Datum) 0};
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: queue_position must return a composite type");
	wl_spi_connect();
	if (wl_exec(sku ? &q_position_of : &q_position, args, NULL, SPI_OK_SELECT, 0) == 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_LINE),
				 sku ? errmsg("unknown line " INT64_FORMAT " of SKU \"%s\"", line_id, sku)
				 : errmsg("unknown line " INT64_FORMAT, line_id)));
	values[0] = Int64GetDatum(wl_get_int64(0, 1, &nulls[0]));
	values[1] = Int64GetDatum(wl_get_int64(0, 2, &nulls[1]));
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/* SQL: waitlist.queue_position(line_id) -> (position, total) */
Datum
waitlist_queue_position(PG_FUNCTION_ARGS)
{
	return position(fcinfo, NULL, wl_arg_int64(fcinfo, 0, "line_id"));
}

/* SQL: waitlist.queue_position(sku, line_id) -> (position, total) */
Datum
waitlist_queue_position_sku(PG_FUNCTION_ARGS)
{
	char	   *sku = arg_sku(fcinfo);

	return position(fcinfo, sku, wl_arg_int64(fcinfo, 1, "line_id"));
}

/* ---------- the line table's CHECK ---------- */

/* a <= b for two numerics */
static bool
numeric_at_most(Datum a, Datum b)
{
	return DatumGetBool(DirectFunctionCall2(numeric_le, a, b));
}

/*
 * SQL: waitlist.line_ok(qty, pos_start, pos_end, refunded, captured,
 * amount), the one CHECK of waitlist.line: at least one unit, positions
 * that tile the queue (pos_end = pos_start + qty), and money that never
 * moves backwards (0 <= refunded <= captured <= amount, a NULL amount
 * counting as 0).  A C call for the reason sku_counters_ok is one
 * (api/sku_api.c): PostgreSQL reads and prepares a table's CHECK from its
 * node text for every statement that writes the table, and the five
 * comparisons were the longest text of any in the schema; every placement
 * inserts a line while its SKU's turn is held.  NULL arguments behave as in
 * the comparisons: NULL unless another part is false.
 */
Datum
waitlist_line_ok(PG_FUNCTION_ARGS)
{
	bool		unknown = false;
	Datum		zero = NumericGetDatum(int64_to_numeric(0));

	/* qty > 0 */
	if (PG_ARGISNULL(0))
		unknown = true;
	else if (PG_GETARG_INT32(0) <= 0)
		PG_RETURN_BOOL(false);
	/* pos_end = pos_start + qty (the sum's overflow raises, as int8pl's) */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		unknown = true;
	else
	{
		int64		end;

		if (pg_add_s64_overflow(PG_GETARG_INT64(1), (int64) PG_GETARG_INT32(0), &end))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("bigint out of range")));
		if (PG_GETARG_INT64(2) != end)
			PG_RETURN_BOOL(false);
	}
	/* refunded >= 0 */
	if (PG_ARGISNULL(3))
		unknown = true;
	else if (!numeric_at_most(zero, PG_GETARG_DATUM(3)))
		PG_RETURN_BOOL(false);
	/* refunded <= captured */
	if (PG_ARGISNULL(3) || PG_ARGISNULL(4))
		unknown = true;
	else if (!numeric_at_most(PG_GETARG_DATUM(3), PG_GETARG_DATUM(4)))
		PG_RETURN_BOOL(false);
	/* captured <= coalesce(amount, 0) */
	if (PG_ARGISNULL(4))
		unknown = true;
	else if (!numeric_at_most(PG_GETARG_DATUM(4), PG_ARGISNULL(5) ? zero : PG_GETARG_DATUM(5)))
		PG_RETURN_BOOL(false);
	if (unknown)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(true);
}
