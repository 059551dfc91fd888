/*
 * flowchart.c
 *	  The availability decision, from the playbook's flowchart: discontinued
 *	  -> out of stock; units free -> in stock; an upcoming SKU -> pre-order
 *	  while the plan has units left and the channel takes pre-orders, else
 *	  notify-me; no confirmed restock date, a date passed, or one beyond the
 *	  out-of-stock horizon (21 days) or the backorder window (14 days) ->
 *	  notify-me; a channel without backorders (marketplaces) -> out of stock
 *	  there; too little proven demand or a backorder queue at support
 *	  capacity -> notify-me; otherwise backorders, to ship by the restock
 *	  date.  Channels that cannot show a notify-me sign-up show out of stock
 *	  instead.
 *
 * Pure: no SPI, no catalog, no settings; the caller gathers the input
 * (domain/policy.c), so a catalog query pays nothing per row but this.
 */
#include "postgres.h"

#include "domain/flowchart.h"


static void
decide(WlPolicy *p, WlDecision d, const char *reason)
{
	p->decision = d;
	p->reason = reason;
}

/* Out of stock, with the notify-me sign-up where the channel can show it. */
static void
notify_or_out(WlPolicy *p, const ChannelRule *ch, const char *reason)
{
	decide(p, ch->notify_me ? WL_NOTIFY_ME : WL_OUT_OF_STOCK, reason);
}

/* Not on the channel's terms: out of stock there (the own store may differ). */
static void
channel_refuses(WlPolicy *p, const char *reason)
{
	decide(p, WL_OUT_OF_STOCK, reason);
	p->channel_refusal = true;
}

/* An upcoming SKU: pre-orders while the plan has room and the channel takes them. */
static void
decide_upcoming(const WlPolicyInput *in, const ChannelRule *ch, DateADT today, WlPolicy *p)
{
	if (!in->preorders_open)
		return notify_or_out(p, ch, "not released yet, pre-orders not open");
	if (in->preorder_room <= 0)
		return notify_or_out(p, ch, "pre-order limit reached");
	if (in->has_ships_on && in->ships_on < today)
		return notify_or_out(p, ch, "the pre-order ship date has passed");
	if (ch->preorders == SUPPORT_NO)
		return channel_refuses(p, "the channel takes no pre-orders");
	if (ch->preorders == SUPPORT_BRAND_REGISTRY && !ch->brand_registry)
		return channel_refuses(p, "pre-orders on the channel need Brand Registry");
	if (ch->preorders == SUPPORT_HANDLING_TIME &&
		(!in->has_ships_on || in->ships_on - today > ch->max_handling_days))
		return channel_refuses(p, "the ship date is beyond the channel's handling time");
	if (in->channel_room == 0)	/* the other channels still take them */
		return channel_refuses(p, "the channel's own pre-order limit is reached");
	decide(p, WL_PREORDER, "pre-orders open with units left");
	p->has_ship_by = in->has_ships_on;
	p->ship_by = in->ships_on;
}

/* Sold out: backorders only with a confirmed restock soon enough, and room. */
static void
decide_restock(const WlPolicyInput *in, const ChannelRule *ch, DateADT today, WlPolicy *p)
{
	int			days;

	if (!in->has_restock)
		return notify_or_out(p, ch, "no confirmed restock date");
	days = in->restock_date - today;
	if (days < 0)
		return notify_or_out(p, ch, "the confirmed restock date has passed");
	if (days > in->out_of_stock_days)
		return notify_or_out(p, ch, "restock beyond the out-of-stock horizon");
	if (days > in->backorder_days)
		return notify_or_out(p, ch, "restock beyond the backorder window");
	if (ch->backorders == SUPPORT_NO)
		return channel_refuses(p, ch->marketplace
							   ? "marketplace without backorders; the own store takes them"
							   : "the channel takes no backorders");
	if (ch->backorders == SUPPORT_HANDLING_TIME && days > ch->max_handling_days)
		return channel_refuses(p, "restock beyond the channel's handling time");
	if (in->demand < in->min_demand)
		return notify_or_out(p, ch, "demand not proven yet");
	if (in->max_backorder_units > 0 && in->open_backorder_units >= in->max_backorder_units)
		return notify_or_out(p, ch, "backorders at support capacity");
	decide(p, WL_BACKORDER, "restock confirmed within the backorder window");
	p->has_ship_by = true;
	p->ship_by = in->restock_date;
}

/* The whole flowchart for one SKU on one channel, on the day today. */
void
wl_policy_evaluate(const WlPolicyInput *in, const ChannelRule *ch, DateADT today, WlPolicy *p)
{
	memset(p, 0, sizeof(*p));
	if (in->discontinued)
		return decide(p, WL_OUT_OF_STOCK, "discontinued");
	if (!in->listed)
		return channel_refuses(p, "not listed on the channel");
	if (in->free_units > 0)
		return decide(p, WL_IN_STOCK, "units in stock");
	if (in->upcoming)
		return decide_upcoming(in, ch, today, p);
	decide_restock(in, ch, today, p);
}

/* The decision's name, as policy() returns it. */
const char *
wl_decision_name(WlDecision d)
{
	static const char *const names[] = {
		"in_stock", "backorder", "preorder", "notify_me", "out_of_stock"
	};

	return names[d];
}
