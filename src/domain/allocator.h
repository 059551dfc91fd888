/*
 * allocator.h
 *	  The commit-time FIFO allocator for one SKU.
 */
#ifndef WAITLIST_ALLOCATOR_H
#define WAITLIST_ALLOCATOR_H

#include "postgres.h"

/* wl_allocate_sku's result flags */
#define WL_ALLOC_QUEUED		0x01	/* batches (so messages) were written */
#define WL_ALLOC_LISTED		0x02	/* the SKU is listed on sales channels */

extern int	wl_allocate_sku(const char *sku);

#endif
