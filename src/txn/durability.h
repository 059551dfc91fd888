/*
 * durability.h
 *	  Early lock release: a transaction that locked a SKU row releases its
 *	  locks before its commit's WAL flush and returns after it; refusals
 *	  and claims flush what they saw first.
 */
#ifndef WAITLIST_DURABILITY_H
#define WAITLIST_DURABILITY_H

#include "postgres.h"

#include "access/xlogdefs.h"

extern void wl_note_sku_lock(void);
extern void wl_flush_upto(XLogRecPtr upto);
extern void wl_flush_seen(void);
extern void wl_durability_pre_commit(void);
extern void wl_durability_commit(void);
extern void wl_durability_abort(void);
extern void wl_durability_init(void);

#endif
