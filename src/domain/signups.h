/*
 * signups.h
 *	  Back-in-stock sign-ups.
 */
#ifndef WAITLIST_SIGNUPS_H
#define WAITLIST_SIGNUPS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "store/sku_row.h"

extern int64 wl_subscribe(const char *sku, const char *email, const char *phone,
						  const char *customer);
extern bool wl_unsubscribe(const char *sku, int64 id);
extern int64 wl_signup_same_contact(const char *sku, int64 sub_served, const char *email,
									const char *phone, int64 *pos);
extern bool wl_signup_known_date(const WlSku *s, DateADT *d);
extern void wl_signups_eta_changed(const WlSku *after, bool had, DateADT prev);
extern int	wl_convert_signups(const char *sku, const char *contact, bool email,
							   TimestampTz before);

#endif
