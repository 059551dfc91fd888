/*
 * signups.h
 *	  What signups.c shares: the same-contact lookup that keeps a place.
 */
#ifndef WAITLIST_SIGNUPS_H
#define WAITLIST_SIGNUPS_H

#include "postgres.h"

extern int64 wl_signup_same_contact(int64 sku_id, int64 sub_served, const char *email,
									const char *phone, int64 *pos);

#endif
