/*
 * pending.h
 *	  What the current transaction owes at commit: the SKUs whose supply or
 *	  queues it changed, and whether it queued deliverable messages.
 */
#ifndef WAITLIST_PENDING_H
#define WAITLIST_PENDING_H

#include "postgres.h"
#include "access/xact.h"

extern void wl_touch_sku(const char *sku);
extern void wl_touch_supply(const char *sku);
extern bool wl_supply_changed(const char *sku);
extern void wl_note_messages(void);
extern bool wl_messages_noted(void);
extern void wl_unnote_messages(void);
extern bool wl_pending_work(void);
extern char **wl_take_touched(int *n);
extern bool wl_take_messages(void);
extern void wl_pending_subxact(SubXactEvent event);
extern void wl_pending_reset(void);

#endif
