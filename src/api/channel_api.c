/*
 * channel_api.c
 *	  SQL API for sales channels: set_channel, and the statement trigger on
 *	  waitlist.channel_rule that tells every backend to reload its rules.
 *
 * A changed rule moves the policy of every SKU listed on the channel: they
 * are touched, so they publish their availability at commit.
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "api/args.h"
#include "store/channel_rules.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_set_channel);
PG_FUNCTION_INFO_V1(waitlist_channel_rule_changed);

/* Statement trigger on waitlist.channel_rule: tell every backend at commit. */
Datum
waitlist_channel_rule_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trig = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(trig->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("channel_rule_changed must be called as a statement trigger")));
	wl_channel_rules_changed(trig->tg_relation);
	return PointerGetDatum(NULL);
}

/* A support value: yes, no, handling_time (and brand_registry for pre-orders). */
static void
check_support(FunctionCallInfo fcinfo, int argno, const char *name, bool registry)
{
	char	   *s;

	if (PG_ARGISNULL(argno))
		return;
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(s, "yes") != 0 && strcmp(s, "no") != 0 && strcmp(s, "handling_time") != 0 &&
		!(registry && strcmp(s, "brand_registry") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s support \"%s\"", name, s),
				 errhint("Use yes, no or handling_time%s.", registry ? " or brand_registry" : "")));
}

/* SQL: waitlist.set_channel(channel, title, marketplace, backorders, preorders, ...) */
Datum
waitlist_set_channel(PG_FUNCTION_ARGS)
{
	Datum		args[8];
	char		nulls[9] = "        ";
	char	   *channel;
	uint64		n;
	Datum		row;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel must not be null")));
	channel = wl_arg_channel(fcinfo, 0);
	check_support(fcinfo, 3, "backorder", false);
	check_support(fcinfo, 4, "pre-order", true);
	if (!PG_ARGISNULL(5) && (PG_GETARG_INT32(5) < 0 || PG_GETARG_INT32(5) > 365))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_handling_days must be between 0 (none) and 365, got %d",
						PG_GETARG_INT32(5))));
	for (int i = 1; i < 8; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	args[0] = CStringGetTextDatum(channel);
	if (!PG_ARGISNULL(1))
		args[1] = CStringGetTextDatum(wl_arg_text(fcinfo, 1, "title", WL_MAX_NAME_LEN, false));
	wl_spi_connect();
	wl_store_channel_rule(channel, args, nulls);
	n = wl_sku_codes_listed_on(channel);
	for (uint64 i = 0; i < n; i++)
		wl_touch_sku(wl_get_text(i, 1));
	row = wl_channel_row(channel);
	SPI_finish();
	PG_RETURN_DATUM(row);
}

