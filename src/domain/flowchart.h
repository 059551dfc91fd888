/*
 * flowchart.h
 *	  The playbook's availability flowchart as a pure function: a SKU's
 *	  state and a channel's rule in, a decision and its reason out.
 */
#ifndef WAITLIST_FLOWCHART_H
#define WAITLIST_FLOWCHART_H

#include "postgres.h"
#include "utils/date.h"

#include "store/channel_rules.h"

typedef enum WlDecision
{
	WL_IN_STOCK,
	WL_BACKORDER,
	WL_PREORDER,
	WL_NOTIFY_ME,
	WL_OUT_OF_STOCK
} WlDecision;

typedef struct WlPolicy
{
	WlDecision	decision;
	const char *reason;
	bool		has_ship_by;
	DateADT		ship_by;
	bool		channel_refusal;	/* refused by the channel's rules, not the SKU's state */
} WlPolicy;

/* What the flowchart needs to know of a SKU, asked about one channel. */
typedef struct WlPolicyInput
{
	bool		discontinued;
	bool		upcoming;
	int64		free_units;
	bool		has_restock;	/* a confirmed restock date */
	DateADT		restock_date;
	bool		preorders_open;
	int64		preorder_room;
	int64		channel_room;	/* the channel's own pre-order room, -1: no limit */
	bool		has_ships_on;
	DateADT		ships_on;
	bool		listed;			/* on the channel asked about */
	int64		demand;			/* people and units waiting, from the counters */
	int64		open_backorder_units;
	int			backorder_days;
	int			out_of_stock_days;
	int			min_demand;
	int64		max_backorder_units;
} WlPolicyInput;

extern void wl_policy_evaluate(const WlPolicyInput *in, const ChannelRule *ch,
							   DateADT today, WlPolicy *p);
extern const char *wl_decision_name(WlDecision d);

#endif
