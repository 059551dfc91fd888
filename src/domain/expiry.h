/*
 * expiry.h
 *	  Sign-ups that expire: one last-chance message, then off the list.
 */
#ifndef WAITLIST_EXPIRY_H
#define WAITLIST_EXPIRY_H

#include "postgres.h"

/* Sign-ups per statement, and per tick, of each step */
#define WL_EXPIRY_CHUNK 10000

extern int64 wl_signups_last_chance(void);
extern int64 wl_signups_expire(void);
extern double wl_last_chance_after_s(void);
extern double wl_last_chance_notice_s(void);

#endif
