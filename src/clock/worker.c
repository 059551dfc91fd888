/*
 * worker.c
 *	  The clock's worker for one database: every waitlist.tick_interval it
 *	  runs one round of the time-based work (domain/tick.c) in a
 *	  transaction of its own, as the extension's owner with a pinned
 *	  search_path, as SQL's tick() does (SECURITY DEFINER).
 *
 * One worker per database: it takes the database's slot (shared.c) or
 * leaves.  A round that fails is logged with the database's name and
 * retried, the delay doubling with each failure in a row (at most
 * WL_CLOCK_MAX_BACKOFF_MS).  It leaves when the extension is gone, when
 * waitlist.clock is turned off, when DDL needs the database alone (ddl.c
 * pauses it), and on SIGTERM.  A manual tick() at the same time is safe:
 * every step takes its rows FOR UPDATE SKIP LOCKED.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "clock/clock.h"
#include "clock/shared.h"
#include "domain/tick.h"
#include "store/spi.h"
#include "txn/commit.h"

#define WL_CLOCK_MAX_BACKOFF_MS	60000
#define WL_CLOCK_LOCK_TIMEOUT	"200ms"	/* a round gives way to a lock sooner than deadlock_timeout */

static const char WL_EXTENSION_DROPPED[] = "the extension was dropped";

static WlClockSlot *my_slot = NULL;
static char *my_dbname = NULL;

/* Give the slot back when the worker exits, however it exits. */
static void
worker_exit(int code, Datum arg)
{
	if (my_slot == NULL)
		return;
	wl_clock_lock();
	if (my_slot->worker_pid == MyProcPid)
		my_slot->worker_pid = 0;
	wl_clock_unlock();
	wl_clock_wake_launcher();
}

/* Take the database's slot; false when another worker has it or DDL paused it. */
static bool
take_slot(Oid dboid)
{
	WlClockSlot *s;
	bool		ok = false;

	wl_clock_lock();
	s = wl_clock_slot(dboid, true);
	if (s != NULL && s->worker_pid == 0 && s->paused_by == 0)
	{
		s->worker_pid = MyProcPid;
		s->worker_procno = MyProc->pgprocno;
		my_slot = s;
		ok = true;
	}
	wl_clock_unlock();
	if (ok)
		before_shmem_exit(worker_exit, (Datum) 0);
	return ok;
}

/* Why the worker must leave now (DDL paused the database, clock off), or NULL. */
static const char *
stop_reason(void)
{
	bool		paused;

	wl_clock_lock();
	paused = my_slot->paused_by != 0;
	wl_clock_unlock();
	if (paused)
		return "a statement needs the database without other connections";
	if (!wl_clock_enabled)
		return "waitlist.clock is off";
	return NULL;
}

/* Record whether the database has the extension. */
static void
note_extension(bool present)
{
	wl_clock_lock();
	my_slot->has_extension = present;
	wl_clock_unlock();
}

/* Name the database in every error a round raises. */
static void
round_context(void *arg)
{
	errcontext("waitlist clock tick in database \"%s\"", my_dbname);
}

/* The round's work, in a started transaction; false when there is no extension. */
static bool
round_work(void)
{
	Oid			extoid = get_extension_oid("waitlist", true);
	Oid			save_user;
	int			save_sec;
	int			nest;

	if (!OidIsValid(extoid))
		return false;
	/* a DROP EXTENSION waits for the round, or the round sees it committed */
	LockDatabaseObject(ExtensionRelationId, extoid, 0, AccessShareLock);
	if (get_extension_oid("waitlist", true) != extoid)
		return false;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(wl_extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	nest = wl_spi_connect_pinned();
	(void) wl_tick();
	wl_spi_finish_pinned(nest);
	SetUserIdAndSecContext(save_user, save_sec);
	return true;
}

/*
 * Log a failed round (with the database's name) and clean up after it.
 * Returns true when the round only gave way to a lock (lock_timeout): that
 * is logged as a LOG line and is no failure.
 */
static bool
round_failed(MemoryContext cxt)
{
	ErrorData  *e;
	bool		gave_way;

	HOLD_INTERRUPTS();
	MemoryContextSwitchTo(cxt);
	e = CopyErrorData();
	gave_way = e->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
	if (!gave_way)
		EmitErrorReport();
	AbortOutOfAnyTransaction();
	FlushErrorState();
	if (gave_way)
		ereport(LOG,
				(errmsg("waitlist clock: the round in database \"%s\" gave way to a lock another session waited for; the next round retries",
						my_dbname),
				 errdetail_internal("%s", e->message)));
	FreeErrorData(e);
	RESUME_INTERRUPTS();
	return gave_way;
}

/*
 * One round in its own transaction.  Returns false when it failed; sets
 * *present to whether the extension is installed.
 */
static bool
run_round(bool *present)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorContextCallback ctx = {.callback = round_context};
	volatile bool ok = true;

	ctx.previous = error_context_stack;
	error_context_stack = &ctx;
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "waitlist.tick()");
		*present = round_work();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		error_context_stack = ctx.previous;
		ok = round_failed(cxt);
	}
	PG_END_TRY();
	error_context_stack = ctx.previous;
	pgstat_report_activity(STATE_IDLE, NULL);

	/*
	 * A background worker has no idle loop that reports its statistics: the
	 * rows a round inserted, updated and left dead would otherwise reach
	 * pg_stat_user_tables (and autovacuum, which vacuums by them) only when
	 * the worker exits.  At most once a second; what is left waits for the
	 * next round.
	 */
	(void) pgstat_report_stat(false);
	return ok;
}

/* The delay before the next round: the interval, doubled per failure in a row. */
static long
next_delay(int failures)
{
	int64		ms = wl_tick_interval_ms;

	for (int i = 0; i < failures && ms < WL_CLOCK_MAX_BACKOFF_MS; i++)
		ms *= 2;
	return (long) Min(ms, Max(WL_CLOCK_MAX_BACKOFF_MS, wl_tick_interval_ms));
}

/* The database's name, kept for the logs. */
static void
remember_dbname(void)
{
	char	   *name;

	StartTransactionCommand();
	name = get_database_name(MyDatabaseId);
	my_dbname = MemoryContextStrdup(TopMemoryContext, name ? name : "?");
	CommitTransactionCommand();
}

/* Tick until told to stop; returns why it stopped. */
static const char *
tick_loop(void)
{
	TimestampTz last = 0;
	TimestampTz next = GetCurrentTimestamp();
	int			failures = 0;
	const char *why;

	for (;;)
	{
		bool		present = true;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			/* a new interval counts from the last round, not after the next */
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			next = TimestampTzPlusMilliseconds(last, next_delay(failures));
		}
		if ((why = stop_reason()) != NULL)
			return why;
		if (GetCurrentTimestamp() >= next)
		{
			last = GetCurrentTimestamp();
			failures = run_round(&present) ? 0 : failures + 1;
			if (!present)
				return WL_EXTENSION_DROPPED;
			next = TimestampTzPlusMilliseconds(last, next_delay(failures));
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(1, (next - GetCurrentTimestamp()) / 1000), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Is the extension installed here? (first look, before any round) */
static bool
extension_present(void)
{
	bool		present;

	StartTransactionCommand();
	present = OidIsValid(get_extension_oid("waitlist", true));
	CommitTransactionCommand();
	return present;
}

/* Main of a database's worker (started by launcher.c). */
void
wl_clock_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	const char *why;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	SetConfigOption("application_name", "waitlist clock", PGC_USERSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * A round never waits long for a lock: a session that locks the
	 * extension's tables one after another (TRUNCATE of several, say) and
	 * meets a round holding one of them would otherwise deadlock with it,
	 * and the deadlock detector may pick that session.  Below
	 * deadlock_timeout (1 s by default), the round gives way first and the
	 * next one does its work.
	 */
	SetConfigOption("lock_timeout", WL_CLOCK_LOCK_TIMEOUT, PGC_USERSET, PGC_S_OVERRIDE);
	pgstat_report_appname("waitlist clock");
	if (!take_slot(dboid))
		proc_exit(0);
	if (!extension_present())
	{
		note_extension(false);
		proc_exit(0);
	}
	note_extension(true);
	remember_dbname();
	ereport(LOG,
			(errmsg("waitlist clock started for database \"%s\"", my_dbname)));
	why = tick_loop();
	note_extension(why != WL_EXTENSION_DROPPED);
	ereport(LOG,
			(errmsg("waitlist clock stopped for database \"%s\": %s", my_dbname, why)));
	proc_exit(0);
}
