/*
 * policy.c
 *	  The availability policy of a SKU on a channel: the flowchart's input
 *	  from a sku row (store/sku_row.h), the channel's rule (cached,
 *	  store/channel_rules.c) and the waitlist.* settings for what the SKU
 *	  does not override; and the refusal of orders it does not allow.
 *
 * Only a SKU with per-channel pre-order limits costs a query (its
 * channel's room); everything else is read from the row in hand.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "domain/policy.h"
#include "store/channel_rules.h"
#include "store/spi.h"
#include "txn/durability.h"
#include "waitlist.h"

/*
 * Is channel one of the listed channels (a text[] without NULLs, as
 * set_listings writes it); NULL lists every channel.  Walks the array in
 * place: this runs once per row of a catalog query.
 */
static bool
listed_on(Datum channels, bool isnull, const char *channel)
{
	ArrayType  *arr;
	char	   *p;
	int			n;

	if (isnull)
		return true;
	arr = DatumGetArrayTypeP(channels);
	if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr))
		return false;
	n = ARR_DIMS(arr)[0];
	p = ARR_DATA_PTR(arr);
	for (int i = 0; i < n; i++)
	{
		if (wl_text_equals(PointerGetDatum(p), channel))
			return true;
		p = att_addlength_pointer(p, -1, p);
		p = (char *) att_align_nominal(p, TYPALIGN_INT);
	}
	return false;
}

/* Is the SKU listed on the channel (a SKU without listings is listed everywhere)? */
bool
wl_listed_on(const WlSku *s, const char *channel)
{
	return listed_on(s->values[SKU_CHANNELS], s->nulls[SKU_CHANNELS], channel);
}

static WlQuery q_channel_room = {
	"SELECT max_units - accepted FROM waitlist.preorder_channel WHERE sku = $1 AND channel = $2",
	2, {TEXTOID, TEXTOID}, NULL
};

/* policy_of() has the SKU's columns but its code: the SKU by its id. */
static WlQuery q_channel_room_by_id = {
	"SELECT c.max_units - c.accepted FROM waitlist.preorder_channel c"
	" JOIN waitlist.sku s ON s.sku = c.sku WHERE s.id = $1 AND c.channel = $2",
	2, {INT8OID, TEXTOID}, NULL
};

/*
 * The pre-order units the channel's own limit leaves, or -1 when it has
 * none.  Only SKUs with channel limits (sku.channel_limits) pay for the
 * lookup; it runs in a nested SPI connection, so any caller may use it.
 */
static int64
channel_room(const WlSku *s, const char *channel)
{
	bool		by_code = !s->nulls[SKU_CODE];
	Datum		args[2] = {by_code ? s->values[SKU_CODE] : s->values[SKU_ID],
	CStringGetTextDatum(channel)};
	int64		room = -1;
	int			nest = wl_spi_connect_pinned();

	if (wl_exec(by_code ? &q_channel_room : &q_channel_room_by_id,
				args, NULL, SPI_OK_SELECT, 0) == 1)
		room = Max(wl_get_int64(0, 1, NULL), 0);
	wl_spi_finish_pinned(nest);
	return room;
}

/* An override column, or the setting when the SKU has none. */
static int
override_or(const WlSku *s, WlSkuCol c, int setting)
{
	return wl_sku_int32(s, c, setting);
}

/*
 * The flowchart's input for qty units of a SKU on a channel.  Fewer free
 * units than qty is not "in stock" for the caller.
 */
void
wl_policy_input(const WlSku *s, const char *channel, int64 qty, WlPolicyInput *in)
{
	in->discontinued = wl_sku_text_is(s, SKU_STATUS, "discontinued");
	in->upcoming = !in->discontinued && wl_sku_text_is(s, SKU_STATUS, "upcoming");
	in->open_backorder_units = wl_sku_int64(s, SKU_PAID_WAITING);
	/* units the allocator owes waiting lines at commit are not for sale */
	in->free_units = wl_sku_free_units(s) - in->open_backorder_units;
	if (in->free_units < qty)
		in->free_units = 0;
	in->has_restock = wl_sku_date(s, SKU_RESTOCK_DATE, &in->restock_date) &&
		wl_sku_bool(s, SKU_RESTOCK_CONFIRMED);
	if (!in->has_restock)
		in->restock_date = 0;
	in->preorders_open = wl_sku_bool(s, SKU_PREORDERS_OPEN);
	in->preorder_room = s->nulls[SKU_PREORDER_LIMIT] ? 0
		: wl_sku_int64(s, SKU_PREORDER_LIMIT) - wl_sku_int64(s, SKU_PREORDER_ACCEPTED);
	in->channel_room = -1;
	if (in->upcoming && in->preorders_open && in->preorder_room > 0 &&
		wl_sku_bool(s, SKU_CHANNEL_LIMITS))
		in->channel_room = channel_room(s, channel);
	in->has_ships_on = wl_sku_date(s, SKU_SHIPS_ON, &in->ships_on);
	in->listed = wl_listed_on(s, channel);
	in->demand = wl_sku_int64(s, SKU_SUB_WAITING) + in->open_backorder_units;
	in->backorder_days = override_or(s, SKU_BACKORDER_DAYS, wl_backorder_days);
	in->out_of_stock_days = override_or(s, SKU_OUT_OF_STOCK_DAYS, wl_out_of_stock_days);
	in->min_demand = override_or(s, SKU_MIN_DEMAND, wl_backorder_min_demand);
	in->max_backorder_units = s->nulls[SKU_MAX_BACKORDER_UNITS] ? wl_backorder_max_units
		: wl_sku_int64(s, SKU_MAX_BACKORDER_UNITS);
}

/* The policy for qty units of a SKU on a channel (an unknown channel is refused). */
void
wl_policy_of(const WlSku *s, const char *channel, int64 qty, WlPolicy *out)
{
	WlPolicyInput in;
	ChannelRule *ch = wl_channel_rule(channel);

	wl_policy_input(s, channel, qty, &in);
	wl_policy_evaluate(&in, ch, wl_today(), out);
}

/* Refuse an order the policy does not allow (WL013, the reason in the detail). */
void
wl_policy_refuse(const char *sku, const char *channel, const char *what, WlPolicy *p)
{
	wl_flush_seen();
	ereport(ERROR,
			(errcode(WL_ERRCODE_POLICY_REFUSED),
			 errmsg("SKU \"%s\" takes no %s on channel \"%s\"", sku, what, channel),
			 errdetail("The policy says %s: %s.", wl_decision_name(p->decision), p->reason),
			 p->decision == WL_NOTIFY_ME
			 ? errhint("Offer the notify-me sign-up (waitlist.subscribe).") : 0));
}

/*
 * The channel's side of a pre-order: listed there, and pre-orders on its
 * terms (the SKU's own state, the plan and its limit, is the caller's).
 * True (with the refusal in *out) when the channel refuses.
 */
bool
wl_preorder_channel_refusal(const WlSku *s, const char *channel, WlPolicy *out)
{
	WlPolicyInput in;
	ChannelRule *ch = wl_channel_rule(channel);

	memset(&in, 0, sizeof(in));
	in.upcoming = true;
	in.preorders_open = true;
	in.preorder_room = 1;
	in.channel_room = -1;			/* checked against the channel's own limit later */
	in.has_ships_on = wl_sku_date(s, SKU_SHIPS_ON, &in.ships_on);
	in.listed = wl_listed_on(s, channel);
	wl_policy_evaluate(&in, ch, wl_today(), out);
	return out->channel_refusal;
}
