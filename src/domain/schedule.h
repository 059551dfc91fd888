/*
 * schedule.h
 *	  The messages time brings (status rounds, pre-order notes, passed
 *	  dates) and the merchant's production updates.
 */
#ifndef WAITLIST_SCHEDULE_H
#define WAITLIST_SCHEDULE_H

#include "postgres.h"

extern int64 wl_schedule_run(bool rounds, bool notes, bool dates);
extern void wl_schedule_replan(const char *sku);
extern int64 wl_post_update(const char *sku, const char *text);

#endif
