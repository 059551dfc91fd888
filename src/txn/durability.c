/*
 * durability.c
 *	  Early lock release (waitlist.early_lock_release), the refusal
 *	  flush and the flush up to what a claim saw (wl_flush_upto).  See
 *	  wl_note_sku_lock for why and how.
 *
 * State lives in backend statics and is reset at every transaction end by
 * commit.c's callback; the resource-release callback registered here runs
 * after the commit released its locks.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "miscadmin.h"
#include "replication/syncrep.h"
#include "utils/guc.h"
#include "utils/resowner.h"

#include "txn/durability.h"
#include "waitlist.h"

static bool locks_sku = false;	/* this xact locks a SKU row */
static bool flush_pending = false;	/* committing without its flush */
static XLogRecPtr flush_lsn = InvalidXLogRecPtr;	/* end of that commit record, to flush */

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
void
wl_durability_pre_commit(void)
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
 * Flush WAL up to upto, an insert position read earlier: everything
 * inserted before it was read is then on disk.
 */
void
wl_flush_upto(XLogRecPtr upto)
{
	if (RecoveryInProgress())
		return;

	/*
	 * The insert position points past the page header when the last record
	 * ended on a page boundary; no record ends there yet, and XLogFlush
	 * refuses a request beyond the WAL that can be written ("xlog flush
	 * request ... is not satisfied").  Everything inserted ends at the
	 * boundary itself.
	 */
	if (XLogSegmentOffset(upto, wal_segment_size) == SizeOfXLogLongPHD)
		upto -= SizeOfXLogLongPHD;
	else if (upto % XLOG_BLCKSZ == SizeOfXLogShortPHD)
		upto -= SizeOfXLogShortPHD;
	XLogFlush(upto);
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
	wl_flush_upto(GetXLogInsertRecPtr());
}

/* The commit record is written: flush it once the locks are gone. */
void
wl_durability_commit(void)
{
	if (flush_pending)
		flush_lsn = XactLastCommitEnd;	/* flushed after the locks go */
	flush_pending = false;
	locks_sku = false;
}

/* Abort or PREPARE: nothing to flush. */
void
wl_durability_abort(void)
{
	flush_pending = false;
	flush_lsn = InvalidXLogRecPtr;
	locks_sku = false;
}

/* Register the flush after the locks are released (once per backend). */
void
wl_durability_init(void)
{
	RegisterResourceReleaseCallback(resource_release_callback, NULL);
}
