/*
 * availability.h
 *	  availability_changed: what each sales channel shows for a listed SKU,
 *	  published once per real change.
 */
#ifndef WAITLIST_AVAILABILITY_H
#define WAITLIST_AVAILABILITY_H

#include "postgres.h"

extern void wl_publish_availability(const char *sku);
extern int64 wl_availability_tick(int max);
extern bool wl_text_in(Datum *elems, int n, Datum d);

#endif
