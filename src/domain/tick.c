/*
 * tick.c
 *	  One round of the time-based work, shared by SQL's tick() and the
 *	  clock's per-database worker (clock/worker.c): pending batches, every
 *	  pending sign-up and pre-order confirmation, the waves of holds whose
 *	  window ended (domain/holds.c), the sign-ups whose last chance or
 *	  end came (domain/expiry.c), the follow-ups of waves (reminders,
 *	  missed-out notes: domain/followups.c), the scheduled messages
 *	  (domain/schedule.c) and the daily availability re-check, each only
 *	  when one statement of index probes says it is due.  What it writes
 *	  is noted, so the commit sends the one NOTIFY.
 *
 * Locking: every step takes its rows FOR UPDATE SKIP LOCKED (expansion.c,
 * schedule.c, availability.c), so two rounds at once in one database split
 * the work and write nothing twice.  The caller is connected to SPI.  On
 * Citus a round works on this node's local shards (store/shards.c).
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_type.h"

#include "domain/availability.h"
#include "domain/expansion.h"
#include "domain/expiry.h"
#include "domain/followups.h"
#include "domain/holds.h"
#include "domain/schedule.h"
#include "domain/tick.h"
#include "store/now.h"
#include "store/shards.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"

/*
 * Is anything due?  One statement, one probe per kind of work, each the
 * first entry of a partial index (EXISTS, or min() where a generic plan
 * would otherwise scan the table): batches to expand, confirmations and
 * pre-order line actions, status rounds, pre-order notes, passed dates,
 * availability not re-checked today ($1 today).  A tick with nothing due
 * runs this statement alone, however many lines and sign-ups wait.
 */
static WlQuery q_due = {
	"SELECT EXISTS (SELECT 1 FROM waitlist.batch WHERE expanded_at IS NULL)"
	"  OR EXISTS (SELECT 1 FROM waitlist.unconfirmed_signup)"
	"  OR (SELECT min(action_at) FROM waitlist.line WHERE action_at IS NOT NULL)"
	"   <= waitlist.now(),"
	" (SELECT min(next_status_at) FROM waitlist.sku"
	"   WHERE next_status_at IS NOT NULL) <= waitlist.now(),"
	" (SELECT min(next_note_at) FROM waitlist.line"
	"   WHERE next_note_at IS NOT NULL) <= waitlist.now(),"
	" (SELECT min(" WL_SKU_WATCH_DATE ") FROM waitlist.sku WHERE " WL_SKU_WATCHED ") < $1,"
	" (SELECT min(checked_on) FROM waitlist.availability) < $1,"
	" (SELECT min(expires_at) FROM waitlist.hold WHERE closed_at IS NULL) <= waitlist.now(),"
	" (SELECT min(coalesce(renewed_at, created_at)) FROM waitlist.subscriber"
	"   WHERE state = 'waiting' AND last_chance_at IS NULL)"
	"  <= waitlist.now() - make_interval(secs => $2),"
	" (SELECT min(last_chance_at) FROM waitlist.subscriber"
	"   WHERE state = 'waiting' AND last_chance_at IS NOT NULL)"
	"  <= waitlist.now() - make_interval(secs => $3),"
	" (SELECT min(followup_at) FROM waitlist.batch WHERE followup_at IS NOT NULL) <= waitlist.now(),"
	" (SELECT min(missed_note_at) FROM waitlist.sku WHERE missed_note_at IS NOT NULL) <= waitlist.now()",
	3, {DATEOID, FLOAT8OID, FLOAT8OID}, NULL
};

/* One round on the tables (or the shard group) the statements name. */
static int64
tick_here(int64 unused)
{
	Datum		args[3];
	char		nulls[4] = "   ";
	bool		due[10];
	int64		n = 0;
	int64		more;

	args[0] = DateADTGetDatum(wl_today());
	args[1] = Float8GetDatum(wl_last_chance_after_s());
	args[2] = Float8GetDatum(wl_last_chance_notice_s());
	if (wl_signup_expiry_s <= 0)	/* sign-ups never expire: never due */
		nulls[1] = nulls[2] = 'n';
	wl_exec(&q_due, args, nulls, SPI_OK_SELECT, 1);
	for (int i = 0; i < 10; i++)
		due[i] = wl_get_bool(0, i + 1);	/* NULL (nothing of that kind) reads false */

	/*
	 * First the steps that lock SKU rows (waiting their turn): waves of
	 * holds that ended (passed on at commit), expired sign-ups, the
	 * follow-ups of waves.  Only then the steps that lock sign-ups
	 * without their SKU (last chances; confirmations lock only their
	 * queue rows, skipping locked ones): a purchase takes
	 * the SKU row before the buyer's sign-up, so a round never holds a
	 * sign-up while it waits for a SKU row.
	 */
	if (due[5])
		wl_holds_expire(WL_HOLD_EXPIRY_CHUNK);
	if (due[7])
		wl_signups_expire();
	if (due[8])
		n += wl_followup_reminders();
	if (due[9])
		n += wl_followup_missed();

	/*
	 * Batches and a chunk of confirmations (wl_expand_batches looks
	 * again); more confirmations can be left only when it wrote some.  A
	 * pre-order's confirmation plans its first note, which may be due
	 * already (a ship date within the imminent days): the notes are looked
	 * at in this round too then.
	 */
	if (due[0])
	{
		more = wl_expand_batches(INT_MAX);
		n += more;
		if (more > 0)
		{
			WlConfirmCursor after = WL_CONFIRM_START;

			due[2] = true;
			while ((more = wl_expand_confirmations(WL_CONFIRM_CHUNK, &after)) > 0)
				n += more;
		}
	}
	n += wl_schedule_run(due[1], due[2], due[3]);
	if (due[6])
		n += wl_signups_last_chance();
	if (due[4])
		wl_availability_tick(1000);
	if (n > 0)
		wl_note_messages();
	return n;
}

/*
 * Run one round; returns the messages written (availability's aside).  On
 * Citus, on this node's local shards, once per shard group.
 */
int64
wl_tick(void)
{
	WlLocalShards here;

	if (!wl_local_shards(&here))
		return tick_here(0);
	return wl_shards_each(&here, tick_here, 0);
}
