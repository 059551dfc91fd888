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
#include <math.h>

#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#include "domain/availability.h"
#include "domain/expansion.h"
#include "domain/expiry.h"
#include "domain/followups.h"
#include "domain/holds.h"
#include "domain/schedule.h"
#include "domain/tick.h"
#include "store/index_probe.h"
#include "store/now.h"
#include "store/shards.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"

/*
 * Is anything due?  One probe per kind of work, each the first entry of a
 * partial index: batches to expand, confirmations and pre-order line
 * actions, status rounds, pre-order notes, passed dates, availability not
 * re-checked today, holds that ended, sign-ups whose last chance or end
 * came, follow-ups of waves, missed-out notes.  A tick with nothing due
 * runs these probes alone, however many lines and sign-ups wait.
 *
 * Two spellings of the same questions, kept side by side: due_probes reads
 * each index with the index AM (store/index_probe.c), which costs a third
 * of a statement's plan start-up and shutdown (bench/run.sh tick_idle);
 * q_due asks in SQL, on Citus (where a round works on shards, whose
 * indexes have other names) and whenever an index cannot be probed.  Each
 * row of due_probes names the index that q_due's subquery of the same
 * kind reads, and compares its first key the way the subquery does.
 */
typedef enum DueBound
{
	DUE_ANY,					/* any entry */
	DUE_NOW,					/* first key <= now */
	DUE_TODAY,					/* first key (a date) < today */
	DUE_JOINED,					/* first key <= now - last_chance_after */
	DUE_CHANCE					/* first key <= now - last_chance_notice */
} DueBound;

#define DUE_KINDS 10

static const struct
{
	const char *index;
	int			kind;			/* index into due[] */
	DueBound	bound;
	Oid			keytype;		/* of the first key (InvalidOid: any) */
}			due_probes[] =
{
	{"batch_pending", 0, DUE_ANY, InvalidOid},
	{"unconfirmed_signup_pkey", 0, DUE_ANY, InvalidOid},
	{"line_action", 0, DUE_NOW, TIMESTAMPTZOID},
	{"sku_status_due", 1, DUE_NOW, TIMESTAMPTZOID},
	{"line_note", 2, DUE_NOW, TIMESTAMPTZOID},
	{"sku_date_watch", 3, DUE_TODAY, DATEOID},
	{"availability_checked", 4, DUE_TODAY, DATEOID},
	{"hold_due", 5, DUE_NOW, TIMESTAMPTZOID},
	{"subscriber_last_chance", 6, DUE_JOINED, TIMESTAMPTZOID},
	{"subscriber_expiring", 7, DUE_CHANCE, TIMESTAMPTZOID},
	{"batch_followup", 8, DUE_NOW, TIMESTAMPTZOID},
	{"sku_missed_due", 9, DUE_NOW, TIMESTAMPTZOID},
};

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

/* now - secs, as now() - make_interval(secs => secs) computes it */
static TimestampTz
seconds_before(TimestampTz now, double secs)
{
	return now - (int64) rint(secs * USECS_PER_SEC);
}

/*
 * due[] by the index probes; false when some index cannot be probed (then
 * nothing is decided and the caller asks in SQL).
 */
static bool
due_by_probes(bool *due)
{
	TimestampTz now = DatumGetTimestampTz(wl_now());
	DateADT		today = wl_today();
	bool		expiry = wl_signup_expiry_s > 0;

	memset(due, 0, sizeof(bool) * DUE_KINDS);
	for (size_t i = 0; i < lengthof(due_probes); i++)
	{
		DueBound	bound = due_probes[i].bound;
		Datum		key;
		bool		isnull;
		WlProbeResult r;

		if (due[due_probes[i].kind] ||
			(!expiry && (bound == DUE_JOINED || bound == DUE_CHANCE)))
			continue;			/* answered, or never due */
		r = wl_index_first(due_probes[i].index, due_probes[i].keytype, &key, &isnull);
		if (r == WL_PROBE_UNUSABLE)
			return false;
		if (r == WL_PROBE_EMPTY || (isnull && bound != DUE_ANY))
			continue;			/* min() of no value is NULL: not due */
		switch (bound)
		{
			case DUE_ANY:
				due[due_probes[i].kind] = true;
				break;
			case DUE_NOW:
				due[due_probes[i].kind] = DatumGetTimestampTz(key) <= now;
				break;
			case DUE_TODAY:
				due[due_probes[i].kind] = DatumGetDateADT(key) < today;
				break;
			case DUE_JOINED:
				due[due_probes[i].kind] = DatumGetTimestampTz(key) <=
					seconds_before(now, wl_last_chance_after_s());
				break;
			case DUE_CHANCE:
				due[due_probes[i].kind] = DatumGetTimestampTz(key) <=
					seconds_before(now, wl_last_chance_notice_s());
				break;
		}
	}
	return true;
}

/* due[] by q_due */
static void
due_by_sql(bool *due)
{
	Datum		args[3];
	char		nulls[4] = "   ";

	args[0] = DateADTGetDatum(wl_today());
	args[1] = Float8GetDatum(wl_last_chance_after_s());
	args[2] = Float8GetDatum(wl_last_chance_notice_s());
	if (wl_signup_expiry_s <= 0)	/* sign-ups never expire: never due */
		nulls[1] = nulls[2] = 'n';
	wl_exec(&q_due, args, nulls, SPI_OK_SELECT, 1);
	for (int i = 0; i < DUE_KINDS; i++)
		due[i] = wl_get_bool(0, i + 1); /* NULL (nothing of that kind) reads false */
}

/*
 * One round on the tables (or the shard group) the statements name;
 * probes says the tables are the extension's own (not a shard group's),
 * so their indexes can be probed directly.
 */
static int64
tick_here(int64 probes)
{
	bool		due[DUE_KINDS];
	int64		n = 0;
	int64		more;

	if (!probes || !due_by_probes(due))
		due_by_sql(due);

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
		return tick_here(!wl_shards_in_group());
	return wl_shards_each(&here, tick_here, 0);
}
