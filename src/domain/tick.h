/*
 * tick.h
 *	  One round of the time-based work (tick() and the clock worker).
 */
#ifndef WAITLIST_TICK_H
#define WAITLIST_TICK_H

#include "postgres.h"

extern int64 wl_tick(void);

#endif
