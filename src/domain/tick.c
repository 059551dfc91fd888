/*
 * tick.c
 *	  One round of the time-based work, shared by SQL's tick() and the
 *	  clock's per-database worker (clock/worker.c): pending batches, every
 *	  pending sign-up and pre-order confirmation, the scheduled messages
 *	  (domain/schedule.c) and the daily availability re-check.  What it writes is noted, so the commit sends the one NOTIFY.
 *
 * Locking: every step takes its rows FOR UPDATE SKIP LOCKED (expansion.c,
 * schedule.c, availability.c), so two rounds at once in one database split the work
 * and write nothing twice.  The caller is connected to SPI.
 */
#include "postgres.h"

#include <limits.h>

#include "domain/availability.h"
#include "domain/expansion.h"
#include "domain/schedule.h"
#include "domain/tick.h"
#include "txn/pending.h"

/* Run one round; returns the messages written (availability's aside). */
int64
wl_tick(void)
{
	int64		n;
	int64		more;

	n = wl_expand_batches(INT_MAX);
	while ((more = wl_expand_confirmations(WL_CONFIRM_CHUNK)) > 0)
		n += more;
	n += wl_schedule_tick();
	wl_availability_tick(1000);
	if (n > 0)
		wl_note_messages();
	return n;
}
