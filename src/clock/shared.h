/*
 * shared.h
 *	  The clock's shared memory: one slot per database the launcher knows,
 *	  read and written by the launcher, the database's worker and backends
 *	  running DDL on the database (ddl.c).
 */
#ifndef WAITLIST_CLOCK_SHARED_H
#define WAITLIST_CLOCK_SHARED_H

#include "postgres.h"
#include "utils/timestamp.h"

/* Databases the clock can serve at once */
#define WL_CLOCK_MAX_DBS	256

typedef struct WlClockSlot
{
	Oid			dboid;			/* InvalidOid: free */
	int			worker_pid;		/* running worker, 0 when none */
	int			worker_procno;	/* its PGPROC number, for its latch */
	bool		has_extension;	/* the last worker found the extension */
	bool		probe_now;		/* CREATE EXTENSION committed: start a worker */
	int			paused_by;		/* a backend's pid while DDL needs the database alone */
	TimestampTz next_probe;		/* next look at a database without the extension */
} WlClockSlot;

extern void wl_clock_shmem_request(void);
extern void wl_clock_shmem_startup(void);

extern bool wl_clock_available(void);
extern void wl_clock_lock(void);
extern void wl_clock_unlock(void);
extern WlClockSlot *wl_clock_slot(Oid dboid, bool create);
extern void wl_clock_forget_unlisted(const Oid *oids, int n);
extern void wl_clock_set_launcher(int procno);
extern void wl_clock_wake_launcher(void);
extern void wl_clock_wake_proc(int procno);

#endif
