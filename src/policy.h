/*
 * policy.h
 *	  The availability policy: the playbook's flowchart and channel rules.
 */
#ifndef WAITLIST_POLICY_H
#define WAITLIST_POLICY_H

#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/date.h"

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

extern const char *wl_decision_name(WlDecision d);
extern void wl_policy_of_tuple(HeapTuple tup, TupleDesc desc, const char *channel,
							   int64 qty, WlPolicy *out);
extern void wl_policy_of_sku(int64 sku_id, const char *channel, int64 qty, WlPolicy *out);
extern void wl_require_channel(const char *channel);
extern bool wl_preorder_channel_refusal(const char *channel, Datum ships_on, bool no_date,
										Datum channels, bool unlisted, WlPolicy *out);
extern void wl_policy_refuse(const char *sku, const char *channel, const char *what,
							 WlPolicy *p) pg_attribute_noreturn();
extern void wl_publish_availability(int64 sku_id);
extern int64 wl_availability_tick(int max);
extern void wl_policy_reset_cache(void);
extern void wl_policy_init(void);

#endif
