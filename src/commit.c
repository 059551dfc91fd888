/*
 * commit.c
 *	  Transaction callbacks: what runs at commit, once per touched SKU.
 *
 * The SQL API records the SKUs whose supply or queues it changed, with the
 * subtransaction level that changed them, in a hash table living in
 * TopTransactionContext.  A rolled-back savepoint forgets what it recorded.
 * At XACT_EVENT_PRE_COMMIT, after the last change of the transaction and
 * after deferred triggers fired, the allocator runs for each SKU in id
 * order (so two committing transactions lock SKUs in the same order) as
 * the extension's owner with a pinned search_path; SKUs listed on sales
 * channels then publish their availability (policy.c).  Errors there abort the
 * transaction like any failed COMMIT.  Nothing is done on the abort path
 * except forgetting the state; leftovers at COMMIT are a bug and logged.
 *
 * Locking: the allocator takes each SKU row lock (FOR UPDATE); the API
 * functions took the same lock earlier in the transaction, so this only
 * waits when the SKU was touched implicitly (a trigger) and is contended.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "catalog/namespace.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "replication/syncrep.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "catalog/pg_namespace.h"

#include "allocator.h"
#include "commit.h"
#include "policy.h"
#include "waitlist.h"

#define WL_NOTIFY_CHANNEL	"waitlist"
#define WL_NOTIFY_PAYLOAD	"outbox"

typedef struct TouchedSku
{
	int64		sku_id;			/* hash key */
	int			level;			/* outermost nest level that touched it */
} TouchedSku;

static HTAB *touched = NULL;	/* NULL when nothing is pending */
static int	messages_level = 0; /* 0: no messages queued in this xact */

/* Early lock release (see wl_note_sku_lock) */
static bool locks_sku = false;	/* this xact locks a SKU row */
static bool flush_pending = false;	/* committing without its flush */
static XLogRecPtr flush_lsn = InvalidXLogRecPtr;	/* end of that commit record, to flush */

/* Create the per-transaction table on first touch. */
static void
ensure_touched(void)
{
	HASHCTL		ctl;

	if (touched != NULL)
		return;
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(TouchedSku);
	ctl.hcxt = TopTransactionContext;
	touched = hash_create("waitlist touched SKUs", 64, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Remember that this (sub)transaction changed the SKU's supply or queue. */
void
wl_touch_sku(int64 sku_id)
{
	TouchedSku *t;
	bool		found;
	int			level = GetCurrentTransactionNestLevel();

	wl_note_sku_lock();
	ensure_touched();
	t = hash_search(touched, &sku_id, HASH_ENTER, &found);
	if (!found || level < t->level)
		t->level = level;
}

/*
 * Remember that this transaction locks a SKU row, so that its commit can
 * release the locks before the commit record's WAL flush, then wait for the
 * flush before COMMIT returns (waitlist.early_lock_release).
 *
 * Every change to a SKU updates its row, and the next checkout for the
 * same SKU waits for that row lock.  PostgreSQL releases locks after the
 * commit's flush, so a hot SKU takes one commit at a time, each one a
 * flush long.  Here the commit is written asynchronously (the commit
 * record is in WAL, the transaction is visible and its locks go), and a
 * resource-release callback that runs after the locks are released flushes
 * WAL up to the commit record before the client hears COMMIT.  A waiter
 * that proceeds on the released row writes its own commit record later in
 * the same WAL, so whatever it commits cannot outlive this transaction in
 * a crash: every session that builds on this commit with a write is safe.
 * What changes is that a read-only session may see the commit up to one
 * flush before it is durable, as with synchronous_commit = off.
 *
 * Not done when the transaction already commits asynchronously, or when
 * synchronous standbys are configured (the commit must wait for them while
 * it still holds its locks).
 */
void
wl_note_sku_lock(void)
{
	locks_sku = true;
}

/*
 * True when synchronous standbys are configured, as this backend last read
 * the configuration.  (The walsenders' shared flag is not read: its layout
 * changed within PostgreSQL 15's minor releases.)
 */
static bool
sync_standbys(void)
{
	return SyncRepStandbyNames != NULL && SyncRepStandbyNames[0] != '\0';
}

/* At pre-commit: commit asynchronously if the locks may go before the flush. */
static void
release_locks_early(void)
{
	if (!locks_sku || !wl_early_lock_release ||
		synchronous_commit == SYNCHRONOUS_COMMIT_OFF || sync_standbys() ||
		IsInParallelMode() || !TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	flush_pending = true;
}

/*
 * After the commit released its locks (and before COMMIT returns): flush
 * WAL up to the commit record, as a synchronous commit would have.
 */
static void
resource_release_callback(ResourceReleasePhase phase, bool isCommit,
						  bool isTopLevel, void *arg)
{
	(void) arg;
	if (phase != RESOURCE_RELEASE_AFTER_LOCKS || !isTopLevel || !isCommit ||
		XLogRecPtrIsInvalid(flush_lsn))
		return;
	XLogFlush(flush_lsn);
	flush_lsn = InvalidXLogRecPtr;
}

/*
 * Before a refusal that rests on other transactions' work reaches the
 * client (a pre-order limit, a channel limit, a policy refusal): flush the
 * WAL written so far, so a commit released early that the refusal saw is
 * durable first.  A shopper is then never turned away for units that a
 * crash gives back.  Costs a flush only when something is refused.
 */
void
wl_flush_seen(void)
{
	XLogRecPtr	end = GetXLogInsertRecPtr();

	if (RecoveryInProgress())
		return;

	/*
	 * The insert position points past the page header when the last record
	 * ended on a page boundary; no record ends there yet, and XLogFlush
	 * refuses a request beyond the WAL that can be written ("xlog flush
	 * request ... is not satisfied").  Everything inserted ends at the
	 * boundary itself.
	 */
	if (XLogSegmentOffset(end, wal_segment_size) == SizeOfXLogLongPHD)
		end -= SizeOfXLogLongPHD;
	else if (end % XLOG_BLCKSZ == SizeOfXLogShortPHD)
		end -= SizeOfXLogShortPHD;
	XLogFlush(end);
}

/* Remember that deliverable messages were queued (for the NOTIFY). */
void
wl_note_messages(void)
{
	int			level = GetCurrentTransactionNestLevel();

	if (messages_level == 0 || level < messages_level)
		messages_level = level;
}

/* The role that owns the waitlist schema (the extension's installer). */
Oid
wl_owner(void)
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

/* qsort comparator for SKU ids. */
static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* The touched SKU ids, sorted; the table is forgotten. */
static int64 *
take_touched(int *n)
{
	HASH_SEQ_STATUS seq;
	TouchedSku *t;
	int64	   *ids;
	int			i = 0;

	*n = touched ? (int) hash_get_num_entries(touched) : 0;
	if (*n == 0)
	{
		touched = NULL;
		return NULL;
	}
	ids = MemoryContextAlloc(TopTransactionContext, sizeof(int64) * *n);
	hash_seq_init(&seq, touched);
	while ((t = hash_seq_search(&seq)) != NULL)
		ids[i++] = t->sku_id;
	touched = NULL;
	qsort(ids, *n, sizeof(int64), cmp_int64);
	return ids;
}

/* Run the allocator for every touched SKU, as owner, search_path pinned. */
static void
allocate_touched(void)
{
	int			n;
	int64	   *ids = take_touched(&n);
	Oid			save_user;
	int			save_sec;
	int			nest;

	if (n == 0)
		return;
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(wl_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "waitlist: SPI_connect failed");
	for (int i = 0; i < n; i++)
	{
		int			flags = wl_allocate_sku(ids[i]);

		if (flags & WL_ALLOC_QUEUED)
			wl_note_messages();
		if (flags & WL_ALLOC_LISTED)
			wl_publish_availability(ids[i]);
	}
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

	if (messages_level == 0 || !wl_notify_enabled)
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

/* Forget everything (end of transaction, either way). */
static void
reset_state(void)
{
	touched = NULL;
	messages_level = 0;
	locks_sku = false;
}

/* Transaction callback. */
static void
xact_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			allocate_touched();
			notify_listeners();
			messages_level = 0;
			release_locks_early();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (touched != NULL || messages_level != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that changed waitlist stock or queued waitlist messages")));
			break;
		case XACT_EVENT_COMMIT:
			if (touched != NULL)
				elog(WARNING, "waitlist: touched SKUs left over at commit");
			if (flush_pending)
				flush_lsn = XactLastCommitEnd;	/* flushed after the locks go */
			flush_pending = false;
			reset_state();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			reset_state();
			flush_pending = false;
			flush_lsn = InvalidXLogRecPtr;
			break;
		default:
			break;
	}
}

/* Subtransaction abort forgets its touches; commit hands them to the parent. */
static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	HASH_SEQ_STATUS seq;
	TouchedSku *t;

	(void) mySubid;
	(void) parentSubid;
	(void) arg;
	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	if (messages_level >= level)
		messages_level = (event == SUBXACT_EVENT_ABORT_SUB) ? 0 : level - 1;
	if (touched == NULL)
		return;
	hash_seq_init(&seq, touched);
	while ((t = hash_seq_search(&seq)) != NULL)
	{
		if (t->level < level)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			t->level = level - 1;
		else
			hash_search(touched, &t->sku_id, HASH_REMOVE, NULL);
	}
}

/* Register the callbacks once per backend (from _PG_init). */
void
wl_commit_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
	RegisterResourceReleaseCallback(resource_release_callback, NULL);
}
