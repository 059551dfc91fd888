/*
 * ddl.c
 *	  What the clock learns from DDL, in every backend (the library is
 *	  preloaded): a database that DROP/RENAME/SET TABLESPACE or CREATE
 *	  DATABASE ... TEMPLATE needs without other connections is paused (its
 *	  worker leaves, the launcher starts none) until the transaction ends;
 *	  a committed CREATE EXTENSION waitlist or CREATE DATABASE wakes the
 *	  launcher at once.
 *
 * PostgreSQL refuses that DDL while another session is connected to the
 * database (DROP DATABASE ... WITH (FORCE) terminates it): the worker must
 * be gone before the statement runs, so the hook waits for it, at most
 * WL_CLOCK_PAUSE_WAIT_MS.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "tcop/utility.h"

#include "clock/ddl.h"
#include "clock/shared.h"

#define WL_CLOCK_PAUSE_WAIT_MS	10000

static ProcessUtility_hook_type prev_utility = NULL;
static Oid	paused_db = InvalidOid;	/* paused by this backend's transaction */
static bool wake_at_commit = false;	/* tell the launcher when this commits */
static bool probe_at_commit = false;	/* ... that this database got the extension */

/* The database a statement needs without other connections, if any. */
static const char *
exclusive_database(Node *stmt)
{
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return ((DropdbStmt *) stmt)->dbname;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
				return ((RenameStmt *) stmt)->subname;
			return NULL;
		case T_AlterDatabaseStmt:
			foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
				if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
					return ((AlterDatabaseStmt *) stmt)->dbname;
			return NULL;
		case T_CreatedbStmt:
			/* TEMPLATE = DEFAULT has no argument: template1, never ticked */
			foreach(lc, ((CreatedbStmt *) stmt)->options)
				if (strcmp(((DefElem *) lfirst(lc))->defname, "template") == 0 &&
					((DefElem *) lfirst(lc))->arg != NULL)
					return defGetString((DefElem *) lfirst(lc));
			return NULL;
		default:
			return NULL;
	}
}

/* Wait until the database's worker is gone (or the wait is over). */
static void
wait_for_worker(WlClockSlot *s)
{
	for (int waited = 0; waited < WL_CLOCK_PAUSE_WAIT_MS; waited += 10)
	{
		int			pid;

		wl_clock_lock();
		pid = s->worker_pid;
		wl_clock_unlock();
		if (pid == 0)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Pause the database's clock until this transaction ends; waits for its worker. */
static void
pause_database(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	WlClockSlot *s;
	int			procno = -1;

	if (!OidIsValid(dboid) || OidIsValid(paused_db))
		return;
	wl_clock_lock();
	s = wl_clock_slot(dboid, true);
	if (s != NULL)
	{
		s->paused_by = MyProcPid;
		procno = s->worker_pid != 0 ? s->worker_procno : -1;
	}
	wl_clock_unlock();
	if (s == NULL)
		return;
	paused_db = dboid;
	wl_clock_wake_proc(procno);
	wait_for_worker(s);
}

/* Lift this backend's pause, if any. */
static void
resume_database(void)
{
	WlClockSlot *s;

	if (!OidIsValid(paused_db))
		return;
	wl_clock_lock();
	s = wl_clock_slot(paused_db, false);
	if (s != NULL && s->paused_by == MyProcPid)
		s->paused_by = 0;
	wl_clock_unlock();
	paused_db = InvalidOid;
	wake_at_commit = true;
}

/* Note what the launcher should hear of when the statement commits. */
static void
note_for_launcher(Node *stmt)
{
	if (IsA(stmt, CreatedbStmt))
		wake_at_commit = true;
	else if (IsA(stmt, CreateExtensionStmt) &&
			 strcmp(((CreateExtensionStmt *) stmt)->extname, "waitlist") == 0)
		probe_at_commit = wake_at_commit = true;
}

/* ProcessUtility_hook: pause around exclusive DDL, note what commits. */
static void
clock_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			  ProcessUtilityContext context, ParamListInfo params,
			  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	const char *dbname = exclusive_database(pstmt->utilityStmt);

	if (dbname != NULL)
		pause_database(dbname);
	if (prev_utility)
		prev_utility(pstmt, queryString, readOnlyTree, context, params,
					 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
	note_for_launcher(pstmt->utilityStmt);
}

/* At the end of a transaction: lift the pause, tell the launcher what committed. */
static void
clock_xact_callback(XactEvent event, void *arg)
{
	WlClockSlot *s;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT)
		return;
	resume_database();
	if (event == XACT_EVENT_COMMIT && probe_at_commit && OidIsValid(MyDatabaseId))
	{
		wl_clock_lock();
		s = wl_clock_slot(MyDatabaseId, true);
		if (s != NULL)
			s->probe_now = true;
		wl_clock_unlock();
	}
	if (event == XACT_EVENT_COMMIT && wake_at_commit)
		wl_clock_wake_launcher();
	probe_at_commit = wake_at_commit = false;
}

/* Install the hook and the callback (from wl_clock_init, when preloaded). */
void
wl_clock_ddl_init(void)
{
	prev_utility = ProcessUtility_hook;
	ProcessUtility_hook = clock_utility;
	RegisterXactCallback(clock_xact_callback, NULL);
}
