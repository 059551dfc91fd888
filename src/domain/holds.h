/*
 * holds.h
 *	  Exclusive holds: waves of held units for the sign-ups a wave tells,
 *	  claimed by the shop's checkout, closed by the clock when they end.
 */
#ifndef WAITLIST_HOLDS_H
#define WAITLIST_HOLDS_H

#include "postgres.h"

#include "waitlist.h"

/* The clock's side (domain/tick.c): waves closed per round */
#define WL_HOLD_EXPIRY_CHUNK 10000
extern int64 wl_holds_expire(int max);

/* The checkout's side (api/hold_api.c) */
extern int64 wl_claim_hold(const WlOrderArgs *a, const char *contact, bool email);

#endif
