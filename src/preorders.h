/*
 * preorders.h
 *	  Pre-order plans, the cap, and the payment events of pre-order lines.
 */
#ifndef WAITLIST_PREORDERS_H
#define WAITLIST_PREORDERS_H

#include "postgres.h"

extern void wl_preorder_confirm_pending(int64 line_id);
extern void wl_preorder_cancelled(int64 sku_id, const char *sku, int64 line_id);
extern void wl_preorder_shipped(const char *sku, int64 line_id);
extern int64 wl_expand_line_actions(int max);
extern int64 wl_expand_line_action(int64 line_id);

#endif
