/*
 * allocator.h
 *	  The commit-time FIFO allocator for one SKU.
 */
#ifndef WAITLIST_ALLOCATOR_H
#define WAITLIST_ALLOCATOR_H

#include "postgres.h"

extern bool wl_allocate_sku(int64 sku_id);

#endif
