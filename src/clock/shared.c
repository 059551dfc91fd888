/*
 * shared.c
 *	  The clock's shared memory: the launcher's latch and the per-database
 *	  slots (shared.h).
 *
 * Locking: one spinlock guards everything here; it is held only for a
 * few assignments (wl_clock_lock/unlock), never across a call that can
 * fail or wait.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "clock/shared.h"

typedef struct WlClockShared
{
	slock_t		mutex;
	int			launcher_procno;	/* -1 while no launcher runs */
	WlClockSlot slots[WL_CLOCK_MAX_DBS];
} WlClockShared;

static WlClockShared *clock_shared = NULL;

/* Ask for the shared memory (shmem_request_hook). */
void
wl_clock_shmem_request(void)
{
	RequestAddinShmemSpace(MAXALIGN(sizeof(WlClockShared)));
}

/* Create or attach the shared memory (shmem_startup_hook). */
void
wl_clock_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	clock_shared = ShmemInitStruct("waitlist clock", sizeof(WlClockShared), &found);
	if (!found)
	{
		memset(clock_shared, 0, sizeof(WlClockShared));
		SpinLockInit(&clock_shared->mutex);
		clock_shared->launcher_procno = -1;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Is the clock's shared memory there (the library was preloaded)? */
bool
wl_clock_available(void)
{
	return clock_shared != NULL;
}

/* Take the clock's spinlock. */
void
wl_clock_lock(void)
{
	SpinLockAcquire(&clock_shared->mutex);
}

/* Release the clock's spinlock. */
void
wl_clock_unlock(void)
{
	SpinLockRelease(&clock_shared->mutex);
}

/*
 * The slot of a database (lock held), created when asked and one is free;
 * NULL otherwise.  Callers check wl_clock_available() first.
 */
WlClockSlot *
wl_clock_slot(Oid dboid, bool create)
{
	WlClockSlot *free_slot = NULL;

	for (int i = 0; i < WL_CLOCK_MAX_DBS; i++)
	{
		WlClockSlot *s = &clock_shared->slots[i];

		if (s->dboid == dboid)
			return s;
		if (s->dboid == InvalidOid && free_slot == NULL)
			free_slot = s;
	}
	if (!create || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(WlClockSlot));
	free_slot->dboid = dboid;
	return free_slot;
}

/* Record the running launcher's PGPROC number (-1: none). */
void
wl_clock_set_launcher(int procno)
{
	wl_clock_lock();
	clock_shared->launcher_procno = procno;
	wl_clock_unlock();
}

/* Set the latch of a process by PGPROC number (no lock needed). */
void
wl_clock_wake_proc(int procno)
{
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/* Wake the launcher, if one runs, to look at the databases now. */
void
wl_clock_wake_launcher(void)
{
	int			procno;

	if (clock_shared == NULL)
		return;
	wl_clock_lock();
	procno = clock_shared->launcher_procno;
	wl_clock_unlock();
	wl_clock_wake_proc(procno);
}

/*
 * Free the slots of databases not in oids (dropped, renamed into a
 * template...), unless a worker or a pause still holds them.
 */
void
wl_clock_forget_unlisted(const Oid *oids, int n)
{
	wl_clock_lock();
	for (int i = 0; i < WL_CLOCK_MAX_DBS; i++)
	{
		WlClockSlot *s = &clock_shared->slots[i];
		bool		listed = false;

		for (int j = 0; j < n && !listed; j++)
			listed = oids[j] == s->dboid;
		if (s->dboid != InvalidOid && !listed && s->worker_pid == 0 && s->paused_by == 0)
			s->dboid = InvalidOid;
	}
	wl_clock_unlock();
}
