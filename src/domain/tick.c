/*
 * tick.c
 *	  One round of the time-based work, shared by SQL's tick() and the
 *	  clock's per-database worker (clock/worker.c): pending batches, every
 *	  pending sign-up and pre-order confirmation, and the daily availability
 *	  re-check.  What it writes is noted, so the commit sends the one NOTIFY.
 *
 * Locking: every step takes its rows FOR UPDATE SKIP LOCKED (expansion.c,
 * availability.c), so two rounds at once in one database split the work
 * and write nothing twice.  The caller is connected to SPI.  On Citus a
 * round works on this node's local shards (store/shards.c).
 */
#include "postgres.h"

#include <limits.h>

#include "domain/availability.h"
#include "domain/expansion.h"
#include "domain/tick.h"
#include "store/shards.h"
#include "txn/pending.h"

/* One round on the tables (or the shard group) the statements name. */
static int64
tick_here(int64 unused)
{
	int64		n;
	int64		more;

	n = wl_expand_batches(INT_MAX);
	while ((more = wl_expand_confirmations(WL_CONFIRM_CHUNK)) > 0)
		n += more;
	wl_availability_tick(1000);
	if (n > 0)
		wl_note_messages();
	return n;
}

/*
 * Run one round; returns the messages written (availability's aside).  On
 * Citus, on this node's local shards, once per shard group.
 */
int64
wl_tick(void)
{
	WlLocalShards here;

	if (!wl_local_shards(&here))
		return tick_here(0);
	return wl_shards_each(&here, tick_here, 0);
}
