/*
 * policy_api.c
 *	  SQL API of the availability policy: policy() by SKU code and its row
 *	  form policy_of() for catalog queries, and a SKU's listings and own
 *	  thresholds (set_listings, set_policy).
 *
 * Locking: set_listings and set_policy wait their turn in the SKU's queue
 * and lock its row; policy() reads without locking.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "api/args.h"
#include "domain/availability.h"
#include "domain/policy.h"
#include "store/channel_rules.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_policy);
PG_FUNCTION_INFO_V1(waitlist_policy_of);
PG_FUNCTION_INFO_V1(waitlist_set_listings);
PG_FUNCTION_INFO_V1(waitlist_set_policy);

/*
 * The decision names and reasons are a few constant strings: their text
 * datums are made once per backend, not once per row of a catalog query.
 */
static Datum
constant_text(const char *s)
{
	static const char *keys[32];
	static text *values[32];
	static int	n = 0;

	for (int i = 0; i < n; i++)
		if (keys[i] == s)
			return PointerGetDatum(values[i]);
	if (n == lengthof(keys))
		return CStringGetTextDatum(s);
	keys[n] = s;
	values[n] = (text *) MemoryContextAlloc(TopMemoryContext, VARHDRSZ + strlen(s));
	SET_VARSIZE(values[n], VARHDRSZ + strlen(s));
	memcpy(VARDATA(values[n]), s, strlen(s));
	return PointerGetDatum(values[n++]);
}

/* Build the (decision, reason, ship_by) result. */
static Datum
policy_result(FunctionCallInfo fcinfo, TupleDesc *cache, WlPolicy *p)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, !p->has_ship_by};

	if (*cache == NULL)
	{
		TupleDesc	desc;
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "waitlist: policy must return a composite type");
		*cache = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
	}
	values[0] = constant_text(wl_decision_name(p->decision));
	values[1] = constant_text(p->reason);
	values[2] = DateADTGetDatum(p->ship_by);
	return HeapTupleGetDatum(heap_form_tuple(*cache, values, nulls));
}

/* SQL: waitlist.policy(sku text, channel text) */
Datum
waitlist_policy(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	char	   *channel = PG_ARGISNULL(1) ? NULL : wl_arg_channel(fcinfo, 1);
	WlSku		s;
	WlPolicy	p;
	TupleDesc  *desc;

	if (channel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel must not be null")));
	wl_spi_connect();
	if (!wl_sku_find(sku, false, &s))
		wl_error_unknown_sku(sku);
	wl_policy_of(&s, channel, 1, &p);
	SPI_finish();
	/* the result descriptor is kept for the query, in fn_extra */
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
														  sizeof(TupleDesc));
	desc = fcinfo->flinfo->fn_extra;
	PG_RETURN_DATUM(policy_result(fcinfo, desc, &p));
}

/* The sku columns policy_of() takes, in its argument order; then the channel. */
static const WlSkuCol of_args[] = {
	SKU_STATUS, SKU_ON_HAND, SKU_ALLOCATED, SKU_PAID_WAITING, SKU_SUB_WAITING,
	SKU_RESTOCK_DATE, SKU_RESTOCK_CONFIRMED, SKU_PREORDERS_OPEN, SKU_PREORDER_ACCEPTED,
	SKU_PREORDER_LIMIT, SKU_SHIPS_ON, SKU_CHANNELS, SKU_BACKORDER_DAYS,
	SKU_OUT_OF_STOCK_DAYS, SKU_MIN_DEMAND, SKU_MAX_BACKORDER_UNITS, SKU_ID, SKU_CHANNEL_LIMITS
};
#define OF_CHANNEL lengthof(of_args)	/* 0-based argument number of channel */

/* What policy_of() keeps between the rows of one query. */
typedef struct OfCache
{
	char		channel[WL_MAX_CHANNEL_LEN + 1];
	ChannelRule rule;
	uint64		generation;		/* of the rules the copy came from */
	TimestampTz now;			/* the clock when today was read */
	DateADT		today;
	TupleDesc	result;
} OfCache;

/* The channel's rule and today's date, once per query (or channel). */
static OfCache *
of_cache(FunctionCallInfo fcinfo)
{
	OfCache    *c = fcinfo->flinfo->fn_extra;
	Datum		arg = fcinfo->args[OF_CHANNEL].value;

	if (c == NULL)
		c = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(OfCache));
	if (c->generation != wl_channel_rules_generation() || c->channel[0] == '\0' ||
		!wl_text_equals(arg, c->channel) || c->now != DatumGetTimestampTz(wl_now()))
	{
		char	   *channel = text_to_cstring(DatumGetTextPP(arg));

		c->rule = *wl_channel_rule(channel);
		c->generation = wl_channel_rules_generation();
		strlcpy(c->channel, channel, sizeof(c->channel));
		c->now = DatumGetTimestampTz(wl_now());
		c->today = wl_today();
	}
	return c;
}

/* SQL: waitlist.policy_of(status, on_hand, ..., max_backorder_units, channel) */
Datum
waitlist_policy_of(PG_FUNCTION_ARGS)
{
	WlSku		s;
	OfCache    *c;
	WlPolicyInput in;
	WlPolicy	p;

	memset(s.nulls, true, sizeof(s.nulls));
	for (int i = 0; i < (int) OF_CHANNEL; i++)
	{
		s.values[of_args[i]] = fcinfo->args[i].value;
		s.nulls[of_args[i]] = fcinfo->args[i].isnull;
	}
	if (PG_ARGISNULL(OF_CHANNEL))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel must not be null")));
	for (int i = 0; i < (int) OF_CHANNEL; i++)
		if (fcinfo->args[i].isnull && i != 5 && !(i >= 9 && i <= 15))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the SKU's status, counters and flags must not be null")));
	c = of_cache(fcinfo);
	wl_policy_input(&s, c->channel, 1, &in);
	wl_policy_evaluate(&in, &c->rule, c->today, &p);
	PG_RETURN_DATUM(policy_result(fcinfo, &c->result, &p));
}
/*
 * A listing argument, checked and normalised: one dimension, no NULLs,
 * every channel known, each channel once (first mention kept), at most
 * WL_MAX_LISTINGS channels.  Returns the array to store (or NULL).
 */
static Datum
listing_arg(FunctionCallInfo fcinfo, int argno, bool *isnull)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			kept = 0;

	*isnull = PG_ARGISNULL(argno);
	if (*isnull)
		return (Datum) 0;
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("channels must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("channels must not contain NULL")));
		if (wl_text_in(elems, kept, elems[i]))
			continue;
		if (kept == WL_MAX_LISTINGS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a SKU can be listed on at most %d channels", WL_MAX_LISTINGS)));
		wl_require_channel(TextDatumGetCString(elems[i]));
		elems[kept++] = elems[i];
	}
	return PointerGetDatum(construct_array(elems, kept, TEXTOID, -1, false, TYPALIGN_INT));
}

/* SQL: waitlist.set_listings(sku, channels) */
Datum
waitlist_set_listings(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	bool		isnull;
	Datum		channels = listing_arg(fcinfo, 1, &isnull);
	Datum		result;
	WlSku		s;

	wl_spi_connect();
	wl_sku_wait_turn(sku);
	if (!wl_sku_set_listings(sku, channels, isnull, &s))
		wl_error_unknown_sku(sku);
	result = isnull ? (Datum) 0 : SPI_datumTransfer(s.values[SKU_CHANNELS], false, -1);
	if (isnull)
		wl_publish_availability(wl_sku_text(&s, SKU_CODE));	/* the feeds hear it now */
	else
		wl_touch_sku(wl_sku_text(&s, SKU_CODE));
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}


/* A threshold argument: NULL or within [0, max]. */
static void
check_threshold(FunctionCallInfo fcinfo, int argno, const char *name, int64 max)
{
	int64		v;

	if (PG_ARGISNULL(argno))
		return;
	v = argno == 4 ? PG_GETARG_INT64(argno) : PG_GETARG_INT32(argno);
	if (v < 0 || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 0 and " INT64_FORMAT ", got " INT64_FORMAT,
						name, max, v)));
}

/* SQL: waitlist.set_policy(sku, backorder_days, out_of_stock_days, min_demand, max_backorder_units) */
Datum
waitlist_set_policy(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	Datum		args[5];
	char		nulls[6] = "     ";
	TupleDesc	tupdesc;
	HeapTuple	row;
	WlSku		s;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: set_policy must return a composite type");
	check_threshold(fcinfo, 1, "backorder_days", 365);
	check_threshold(fcinfo, 2, "out_of_stock_days", 365);
	check_threshold(fcinfo, 3, "min_demand", INT_MAX);
	check_threshold(fcinfo, 4, "max_backorder_units", INT64CONST(1000000000000));
	for (int i = 1; i < 5; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	wl_spi_connect();
	wl_sku_wait_turn(sku);
	row = wl_sku_set_policy(sku, args, nulls);
	if (row == NULL)
		wl_error_unknown_sku(sku);
	wl_sku_from_tuple(row, tupdesc, &s);
	wl_touch_sku(wl_sku_text(&s, SKU_CODE));
	SPI_finish();
	PG_RETURN_DATUM(heap_copy_tuple_as_datum(row, tupdesc));
}
