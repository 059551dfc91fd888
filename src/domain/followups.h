/*
 * followups.h
 *	  After a wave: a reminder to those who did not open it, a note to
 *	  those who did not buy before the sell-out.
 */
#ifndef WAITLIST_FOLLOWUPS_H
#define WAITLIST_FOLLOWUPS_H

#include "postgres.h"

/* Waves and SKUs handled per tick */
#define WL_FOLLOWUP_BATCHES 100

extern int64 wl_followup_reminders(void);
extern int64 wl_followup_missed(void);

#endif
