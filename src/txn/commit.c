/*
 * commit.c
 *	  Transaction callbacks: what runs at commit, once per touched SKU.
 *
 * At XACT_EVENT_PRE_COMMIT, after the last change of the transaction and
 * after deferred triggers fired, the registered per-SKU hooks (the
 * allocator, then the availability publication: module.c registers them)
 * run for each SKU the transaction touched (pending.c), in code order so two
 * committing transactions lock SKUs in the same order, as the extension's
 * owner with a pinned search_path.  Then one NOTIFY wakes the listeners if
 * messages were queued, and early lock release is set up (durability.c).
 * Errors there abort the transaction like any failed COMMIT.  A transaction
 * that is PREPAREd (two-phase commit) runs the hooks at
 * XACT_EVENT_PRE_PREPARE instead and sends no NOTIFY (PostgreSQL forbids
 * it there): its messages wait for the listeners' next poll.  Nothing is
 * done on the abort path except forgetting the state; leftovers at COMMIT
 * are a bug and logged.
 *
 * Locking: the hooks take each SKU row lock (FOR UPDATE); the API functions
 * took the same lock earlier in the transaction, so this only waits when
 * the SKU was touched implicitly (a trigger) and is contended.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "txn/commit.h"
#include "txn/durability.h"
#include "txn/pending.h"
#include "waitlist.h"

#define WL_NOTIFY_CHANNEL	"waitlist"
/* JSON, for listeners that parse payloads by default; never names a person */
#define WL_NOTIFY_PAYLOAD	"{\"outbox\":1}"
#define WL_MAX_HOOKS		4

static WlSkuHook hooks[WL_MAX_HOOKS];
static int	nhooks = 0;
static int	citus_nested = -1;	/* Citus's setting exists; -1: not looked yet */

/* Run hook for every SKU a transaction touched, at its commit, in order of registration. */
void
wl_on_commit_sku(WlSkuHook hook)
{
	if (nhooks == WL_MAX_HOOKS)
		elog(ERROR, "waitlist: too many commit hooks");
	hooks[nhooks++] = hook;
}

/* The role that owns the waitlist schema (the extension's installer). */
Oid
wl_extension_owner(void)
{
	Oid			nsp = get_namespace_oid("waitlist", false);
	HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nsp);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * On Citus, a delegated call (create_distributed_function) runs on the
 * worker that owns its SKU, in a backend the coordinator opened: Citus
 * refuses distributed statements there once the call has returned ("cannot
 * execute a distributed query from a query on a shard"), and the commit
 * comes after it.  The hooks' statements all filter by the SKU, so they
 * run on its shard, which is here: allow them for the hooks (the setting
 * goes back with the GUC nest level).  Without Citus the setting does not
 * exist and nothing is set.
 */
static void
allow_citus_statements(void)
{
	const char *name = "citus.allow_nested_distributed_execution";

	if (citus_nested < 0)
		citus_nested = GetConfigOption(name, true, false) != NULL;
	if (citus_nested)
		(void) set_config_option(name, "on", PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
}

/* Run the hooks for every touched SKU, as owner, search_path pinned. */
static void
settle_touched(void)
{
	int			n;
	char	  **codes = wl_take_touched(&n);
	Oid			save_user;
	int			save_sec;
	int			nest;

	if (n == 0)
		return;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(wl_extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	allow_citus_statements();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "waitlist: SPI_connect failed");
	for (int i = 0; i < n; i++)
		for (int h = 0; h < nhooks; h++)
			hooks[h] (codes[i]);
	SPI_finish();
	PopActiveSnapshot();
	AtEOXact_GUC(true, nest);
	SetUserIdAndSecContext(save_user, save_sec);
}

/* One NOTIFY with a constant payload, unless off or the queue is filling. */
static void
notify_listeners(void)
{
	double		usage;

	if (!wl_take_messages() || !wl_notify_enabled)
		return;
	usage = DatumGetFloat8(DirectFunctionCall1(pg_notification_queue_usage,
											   (Datum) 0));
	if (usage > wl_notify_skip_usage)
	{
		ereport(WARNING,
				(errmsg("NOTIFY skipped: the notification queue is %.1f%% full",
						usage * 100),
				 errdetail("The limit is waitlist.notify_skip_usage = %g. The messages are in waitlist.outbox; listeners find them on their next poll.",
						   wl_notify_skip_usage),
				 errhint("A session that LISTENs is probably stuck in an open transaction.")));
		return;
	}
	Async_Notify(WL_NOTIFY_CHANNEL, WL_NOTIFY_PAYLOAD);
}

/* Transaction callback. */
static void
xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			settle_touched();
			notify_listeners();
			wl_durability_pre_commit();
			break;
		case XACT_EVENT_PRE_PREPARE:
			/*
			 * Two-phase commit (Citus prepares a transaction that spans
			 * workers): allocate now, since COMMIT PREPARED runs no
			 * callback here.  PostgreSQL refuses NOTIFY in a prepared
			 * transaction; the listeners' polling finds the messages.
			 */
			settle_touched();
			(void) wl_take_messages();
			break;
		case XACT_EVENT_COMMIT:
			if (wl_pending_work())
				elog(WARNING, "waitlist: work left over at commit");
			wl_durability_commit();
			wl_pending_reset();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wl_pending_reset();
			wl_durability_abort();
			break;
		default:
			break;
	}
}

/* Subtransaction abort forgets its notes; commit hands them to the parent. */
static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	(void) mySubid;
	(void) parentSubid;
	(void) arg;
	wl_pending_subxact(event);
}

/* Register the callbacks once per backend (from _PG_init). */
void
wl_commit_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
	wl_durability_init();
}
