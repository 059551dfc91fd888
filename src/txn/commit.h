/*
 * commit.h
 *	  Commit-time work: registered hooks run for every SKU the transaction
 *	  touched, then one NOTIFY wakes listeners if messages were queued.
 */
#ifndef WAITLIST_COMMIT_H
#define WAITLIST_COMMIT_H

#include "postgres.h"

typedef void (*WlSkuHook) (const char *sku);

extern void wl_on_commit_sku(WlSkuHook hook);
extern Oid	wl_extension_owner(void);
extern void wl_commit_init(void);

#endif
