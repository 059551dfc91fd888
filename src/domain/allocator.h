/*
 * allocator.h
 *	  The commit-time FIFO allocator for one SKU.
 */
#ifndef WAITLIST_ALLOCATOR_H
#define WAITLIST_ALLOCATOR_H

#include "postgres.h"

#include "utils/date.h"

#include "store/sku_row.h"

/* wl_allocate_sku's result flags */
#define WL_ALLOC_QUEUED		0x01	/* batches (so messages) were written */
#define WL_ALLOC_LISTED		0x02	/* the SKU is listed on sales channels */

extern int	wl_allocate_sku(const char *sku);
extern bool wl_batch_eta_changed(const WlSku *s, const DateADT *prev, const DateADT *next);

#endif
