/*
 * turn.h
 *	  Checkouts and sign-ups racing for one SKU wait their turn in a queue.
 */
#ifndef WAITLIST_TURN_H
#define WAITLIST_TURN_H

#include "postgres.h"

extern void wl_wait_turn(const char *sku);
extern void wl_wait_turn_id(int64 sku_id);

#endif
