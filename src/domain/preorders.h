/*
 * preorders.h
 *	  Pre-order plans, the cap, placement, and the payment events of
 *	  pre-order lines.
 */
#ifndef WAITLIST_PREORDERS_H
#define WAITLIST_PREORDERS_H

#include "postgres.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#include "waitlist.h"

/* A pre-order plan, checked (open_preorders' arguments). */
typedef struct WlPlan
{
	char	   *sku;
	int64		planned;
	char	   *cap;			/* numeric text */
	DateADT		production;
	DateADT		ships;
	char	   *payment;
	char	   *deposit_pct;	/* numeric text, or NULL */
	char	   *deposit_amount;	/* numeric text, or NULL */
} WlPlan;

/* Where a run over the due lines goes on: after (at, id) in (action_at, id) order. */
typedef struct WlLineCursor
{
	TimestampTz at;
	int64		id;
} WlLineCursor;

/* A pre-order line to place, checked. */
typedef struct WlPreorder
{
	WlOrderArgs o;				/* order_ref, sku, qty, contacts, channel */
	char	   *price;			/* numeric text */
	char	   *currency;
} WlPreorder;

extern int64 wl_open_preorders(const WlPlan *a);
extern bool wl_close_preorders(const char *sku);
extern int64 wl_reschedule_preorders(const char *sku, DateADT ships, bool has_production,
									 DateADT production);
extern int64 wl_set_preorder_channel_limit(const char *sku, const char *channel,
										   bool has_max, int64 max);
extern int64 wl_place_preorder(const WlPreorder *a);
extern void wl_line_confirm_pending(const char *sku, int64 line_id);
extern void wl_preorder_cancelled(const char *sku, int64 line_id, int32 qty, const char *channel);
extern void wl_preorder_shipped(const char *sku, int64 line_id);
extern int64 wl_expand_line_actions(int max, WlLineCursor *after);
extern int64 wl_expand_line_action(int64 line_id);

#endif
