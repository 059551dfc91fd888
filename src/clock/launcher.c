/*
 * launcher.c
 *	  The clock's launcher: a background worker connected to no database
 *	  that lists the databases (pg_database is shared) and keeps one worker
 *	  (worker.c) running in each database that has the extension.
 *
 * A database not known to have the extension gets a short-lived worker
 * that looks and leaves: once when the launcher first sees the database,
 * at once when a CREATE EXTENSION waitlist commits there (ddl.c), and every
 * WL_CLOCK_PROBE_SECS otherwise.  A database that DDL needs alone (DROP,
 * RENAME, ...) is paused by that backend and gets no worker until the DDL
 * ends.  Templates and databases that refuse connections are skipped.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "clock/clock.h"
#include "clock/shared.h"

/* How often a database without the extension is looked at (seconds) */
#define WL_CLOCK_PROBE_SECS	300
/* How often the launcher lists the databases when nobody wakes it (ms) */
#define WL_CLOCK_SCAN_MS	1000

/* The launcher's handles of the workers it started, by slot */
typedef struct Started
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} Started;

static Started started[WL_CLOCK_MAX_DBS];
static bool no_slot_warned = false;

/* The databases a worker may connect to; returns how many, in oids. */
static int
list_databases(Oid *oids, int max)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			n = 0;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL && n < max)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datallowconn && !db->datistemplate && !database_is_invalid_form(db))
			oids[n++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return n;
}

/* The launcher's handle for a database, NULL when none. */
static Started *
started_for(Oid dboid, bool create)
{
	Started    *free_entry = NULL;

	for (int i = 0; i < WL_CLOCK_MAX_DBS; i++)
	{
		if (started[i].dboid == dboid)
			return &started[i];
		if (started[i].dboid == InvalidOid && free_entry == NULL)
			free_entry = &started[i];
	}
	if (create && free_entry != NULL)
	{
		free_entry->dboid = dboid;
		free_entry->handle = NULL;
	}
	return create ? free_entry : NULL;
}

/* Is a worker we started for the database still starting or running? */
static bool
handle_alive(Oid dboid)
{
	Started    *st = started_for(dboid, false);
	pid_t		pid;

	if (st == NULL || st->handle == NULL)
		return false;
	if (GetBackgroundWorkerPid(st->handle, &pid) != BGWH_STOPPED)
		return true;
	pfree(st->handle);
	st->handle = NULL;
	st->dboid = InvalidOid;
	return false;
}

/* Start a worker for the database; false when no worker slot is free. */
static bool
start_worker(Oid dboid)
{
	BackgroundWorker bgw;
	Started    *st = started_for(dboid, true);
	MemoryContext old;
	bool		ok;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "waitlist");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "wl_clock_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "waitlist clock for database %u", dboid);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "waitlist clock");
	bgw.bgw_main_arg = ObjectIdGetDatum(dboid);
	bgw.bgw_notify_pid = MyProcPid;
	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = st != NULL && RegisterDynamicBackgroundWorker(&bgw, &st->handle);
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		if (st != NULL)
			st->dboid = InvalidOid;
		if (!no_slot_warned)
			ereport(WARNING,
					(errmsg("waitlist clock: no background worker slot free for database %u", dboid),
					 errhint("Raise max_worker_processes: the clock needs one worker per database that has the extension, and one more.")));
		no_slot_warned = true;
		return false;
	}
	no_slot_warned = false;
	return true;
}

/* Does the database need a worker started now?  (lock held) */
static bool
wants_worker(WlClockSlot *s, TimestampTz now)
{
	if (s->worker_pid != 0 || s->paused_by != 0)
		return false;
	return s->has_extension || s->probe_now || now >= s->next_probe;
}

/* Lift the pause of a backend that died without lifting it (no lock held). */
static void
forget_dead_pause(Oid dboid)
{
	WlClockSlot *s;
	int			pid;

	wl_clock_lock();
	s = wl_clock_slot(dboid, false);
	pid = s != NULL ? s->paused_by : 0;
	wl_clock_unlock();
	if (pid == 0 || kill(pid, 0) == 0 || errno != ESRCH)
		return;
	wl_clock_lock();
	if (s->dboid == dboid && s->paused_by == pid)
		s->paused_by = 0;
	wl_clock_unlock();
}

/* Start the workers the listed databases need. */
static void
serve_databases(Oid *oids, int n)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < n; i++)
	{
		WlClockSlot *s;
		bool		start = false;

		if (handle_alive(oids[i]))
			continue;
		forget_dead_pause(oids[i]);
		wl_clock_lock();
		s = wl_clock_slot(oids[i], true);
		if (s != NULL && wants_worker(s, now))
		{
			start = true;
			s->probe_now = false;
			s->next_probe = TimestampTzPlusMilliseconds(now, (int64) WL_CLOCK_PROBE_SECS * 1000);
		}
		wl_clock_unlock();
		if (start && !start_worker(oids[i]))
			break;
	}
}

/* Forget what the launcher knew of databases that are gone. */
static void
forget_others(Oid *oids, int n)
{
	for (int i = 0; i < WL_CLOCK_MAX_DBS; i++)
	{
		Oid			dboid = started[i].dboid;
		bool		listed = false;

		for (int j = 0; j < n && !listed; j++)
			listed = oids[j] == dboid;
		if (dboid != InvalidOid && !listed)
			(void) handle_alive(dboid);
	}
	wl_clock_forget_unlisted(oids, n);
}

/* One round: list the databases, start what they need. */
static void
launcher_round(void)
{
	Oid		   *oids = palloc(sizeof(Oid) * WL_CLOCK_MAX_DBS);
	int			n = list_databases(oids, WL_CLOCK_MAX_DBS);

	forget_others(oids, n);
	if (wl_clock_enabled)
		serve_databases(oids, n);
	pfree(oids);
}

/* Clear the launcher's latch number when it exits. */
static void
launcher_exit(int code, Datum arg)
{
	wl_clock_set_launcher(-1);
}

/* Main of the launcher (registered by clock.c). */
void
wl_clock_launcher_main(Datum arg)
{
	MemoryContext round_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	wl_clock_set_launcher(MyProc->pgprocno);
	before_shmem_exit(launcher_exit, (Datum) 0);
	ereport(LOG, (errmsg("waitlist clock launcher started")));
	round_cxt = AllocSetContextCreate(TopMemoryContext, "waitlist clock launcher",
									  ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old = MemoryContextSwitchTo(round_cxt);

		launcher_round();
		MemoryContextSwitchTo(old);
		MemoryContextReset(round_cxt);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 WL_CLOCK_SCAN_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
}
