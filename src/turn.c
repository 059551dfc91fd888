/*
 * turn.c
 *	  A queue per SKU for the calls that take its next positions: pre-order
 *	  placements, backorders and sign-ups.
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
 * and classid the high 32 bits of the SKU's id; the SQL advisory lock functions use objsubid 1 and 2, so the
 * application's own advisory locks never collide with it.  A transaction
 * that already holds a transaction id (a cart, a cancellation, an earlier
 * call) skips the queue and waits on the row as before: the queue is never
 * waited for by a transaction that holds a row lock, so it cannot close a
 * deadlock cycle with one.  lock_timeout and statement_timeout apply.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"

#include "commit.h"
#include "spi_util.h"
#include "turn.h"

#define WL_TURN_LOCK_FIELD 3

static WlQuery q_sku_id = {
	"SELECT id FROM waitlist.sku WHERE sku = $1", 1, {TEXTOID}, NULL
};

/* Wait for this transaction's turn at the SKU, when it has no transaction id yet. */
void
wl_wait_turn_id(int64 sku_id)
{
	LOCKTAG		tag;

	wl_note_sku_lock();
	if (TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) ((uint64) sku_id >> 32), (uint32) sku_id,
						 WL_TURN_LOCK_FIELD);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * The same by SKU code.  An unknown SKU takes no lock (the caller refuses
 * it).  The caller is connected to SPI.
 */
void
wl_wait_turn(const char *sku)
{
	Datum		arg;

	wl_note_sku_lock();
	if (TransactionIdIsValid(GetTopTransactionIdIfAny()))
		return;
	arg = CStringGetTextDatum(sku);
	if (wl_exec(&q_sku_id, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		return;
	wl_wait_turn_id(wl_get_int64(0, 1, NULL));
}
