/*
 * commit.h
 *	  Commit-time work: the SKUs a transaction touched are allocated at
 *	  pre-commit, and one NOTIFY wakes listeners if messages were queued.
 */
#ifndef WAITLIST_COMMIT_H
#define WAITLIST_COMMIT_H

#include "postgres.h"

extern void wl_commit_init(void);
extern void wl_touch_sku(int64 sku_id);
extern void wl_note_messages(void);
extern void wl_note_sku_lock(void);
extern void wl_flush_seen(void);
extern Oid	wl_owner(void);

#endif
