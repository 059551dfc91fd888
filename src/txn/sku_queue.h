/*
 * sku_queue.h
 *	  The per-SKU lock queue: checkouts and sign-ups racing for one SKU wait
 *	  their turn in arrival order.
 */
#ifndef WAITLIST_SKU_QUEUE_H
#define WAITLIST_SKU_QUEUE_H

#include "postgres.h"

extern bool wl_turn_needed(void);
extern void wl_wait_turn(const char *sku);

#endif
