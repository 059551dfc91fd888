/*
 * signups.h
 *	  Back-in-stock sign-ups.
 */
#ifndef WAITLIST_SIGNUPS_H
#define WAITLIST_SIGNUPS_H

#include "postgres.h"

extern int64 wl_subscribe(const char *sku, const char *email, const char *phone,
						  const char *customer);
extern bool wl_unsubscribe(const char *sku, int64 id);
extern int64 wl_signup_same_contact(const char *sku, int64 sub_served, const char *email,
									const char *phone, int64 *pos);

#endif
