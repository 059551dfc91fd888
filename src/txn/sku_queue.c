/*
 * sku_queue.c
 *	  The per-SKU lock queue: calls that change one SKU wait their turn here,
 *	  in arrival order, before they touch its row.
 *
 * Every call that changes one SKU (also restocks, stock counts, cancels,
 * shipments, unsubscribes and plan changes) waits here first, so they keep
 * their arrival order among themselves.  They all update the SKU row, so
 * racing calls on one SKU serialize on its row lock.  Waiting on a row lock wakes every waiter at each commit (they
 * all wait on the committing transaction's id) and all but one go back to
 * sleep; at 32 clients on 2 cores that herd halved the throughput of
 * pre-order placement.  So a call that starts its transaction (no
 * transaction id yet, hence no row locks held) first waits its turn on a
 * lock of its own for the SKU, held to the end of the transaction.  A lock
 * queue hands over to one waiter at a time, in arrival order, and the one
 * whose turn it is finds the row free and, under READ COMMITTED, the last
 * commit in its next statement's snapshot.
 *
 * The lock is locktype advisory with objsubid 3 in pg_locks, objid the low
 * and classid the high 32 bits of a 64-bit hash of the SKU's code (two
 * codes with one hash share a queue: they only take turns); the SQL advisory lock functions use objsubid 1 and 2, so the
 * application's own advisory locks never collide with it.  A transaction
 * that already holds a transaction id (a cart, a cancellation, an earlier
 * call) skips the queue and waits on the row as before: the queue is never
 * waited for by a transaction that holds a row lock, so it cannot close a
 * deadlock cycle with one.  lock_timeout and statement_timeout apply.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "common/hashfn.h"
#include "storage/lock.h"

#include "txn/durability.h"
#include "txn/sku_queue.h"

#define WL_TURN_LOCK_FIELD 3

/*
 * Does this transaction still wait in the queue?  Not once it holds a
 * transaction id (and so, possibly, row locks).
 */
bool
wl_turn_needed(void)
{
	return !TransactionIdIsValid(GetTopTransactionIdIfAny());
}

/*
 * Wait for this transaction's turn at the SKU (by its code), when it has
 * no transaction id yet.
 */
void
wl_wait_turn(const char *sku)
{
	LOCKTAG		tag;
	uint64		h;

	wl_note_sku_lock();
	if (!wl_turn_needed())
		return;
	h = hash_bytes_extended((const unsigned char *) sku, (int) strlen(sku), 0);
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 WL_TURN_LOCK_FIELD);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}
