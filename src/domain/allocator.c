/*
 * allocator.c
 *	  Hands a SKU's free units out first-come-first-served, at commit.
 *
 * Every paid line owns the positions [pos_start, pos_end) of its SKU's paid
 * queue, every sign-up one position of the sign-up queue.  A line's
 * allocation is derived from the SKU's watermark paid_served, so a restock
 * never updates per-line rows: it moves the watermark over the free units,
 * skipping "holes" (cancelled or shipped lines above it, found through a
 * partial index), and records one batch row.  Per-recipient messages are
 * expanded from batches after the commit (outbox.c).  The cost of a commit
 * therefore depends on the number of holes crossed, not on queue length.
 *
 * Order: paid lines strictly FIFO first; only when no paid line is short do
 * free units that were not announced before reach sign-ups, as a wave of
 * ceil(units * notify_ratio) sign-ups, after which those still waiting are
 * told the SKU sold out again.  Stock below the allocated units (a stock
 * count went down) takes units back from the most recent allocations.
 * When the units came with a supply change (a restock wave) and paid lines
 * are still short, a still_waiting batch over the rest of the paid queue
 * tells each of them where they stand.
 *
 * The SKU's in_stock_since and last_sellout follow whether units are on
 * sale (on hand and not allocated; held ones count as on sale until
 * claimed): the time from going on sale to selling out is what the next
 * back_in_stock says about the last time.  At the sell-out, the people
 * told since the units went on sale (sku.wave_start) who did not buy keep
 * their place, once (keep_places): the sign-up watermark goes back over
 * them, and a missed_out note is due waitlist.missed_note_after later
 * (domain/followups.c).  A
 * back_in_stock batch carries when its reminder to those who did not open
 * it is due (followup_at).
 *
 * Holds: with a hold window on the SKU, a wave tells one sign-up per free
 * unit (notify_ratio does not apply) and holds that unit for each of them
 * until the window ends: sku.held grows by the wave, and one hold row
 * records the wave's position range and expiry (domain/holds.c claims and
 * expires them).  Held units are not free.  A stock count that goes below
 * allocated + held first shrinks the newest open holds, then takes units
 * back from paid lines, most recent first; only when those are gone does it
 * take a claimed hold's unit back (its line goes to the end of the paid
 * queue to wait like a backorder).  Claimed lines sit at negative positions,
 * below any watermark, so restocks never move them (domain/holds.c).
 *
 * Locking: the SKU row is locked FOR UPDATE first; callers hold no line
 * locks.  Runs inside SPI, connected by the caller (txn/commit.c, through
 * the commit hook in domain/settle.c).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "domain/allocator.h"
#include "domain/purchase_window.h"
#include "store/hold_rows.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "waitlist.h"

#define HOLE_PAGE 1000

typedef struct SkuState
{
	Datum		code;			/* the SKU code (text) */
	int64		on_hand;
	int64		allocated;
	int64		paid_tail;
	int64		paid_served;
	int64		sub_tail;
	int64		sub_served;
	int64		announced;
	int64		paid_waiting;	/* paid units not yet allocated (sku.paid_waiting) */
	int64		sub_waiting;	/* sign-ups not yet told (sku.sub_waiting) */
	int64		held;			/* units held for told sign-ups (sku.held) */
	Datum		hold_window;	/* interval; meaningful when holds is set */
	bool		holds;			/* the SKU holds units for the people a wave tells */
	double		notify_ratio;
	bool		sold_out_again;
	bool		listed;
	bool		restocked;		/* this transaction changed the SKU's supply */
} SkuState;


static WlQuery q_line_holes_fwd = {
	"SELECT pos_start, pos_end FROM waitlist.line"
	" WHERE sku = $1 AND state <> 'waiting' AND pos_end > $2"
	" ORDER BY pos_end LIMIT 1000",
	2, {TEXTOID, INT8OID}, NULL
};

static WlQuery q_line_holes_back = {
	"SELECT pos_start, pos_end FROM waitlist.line"
	" WHERE sku = $1 AND state <> 'waiting' AND pos_start < $2 AND pos_start >= 0"
	" ORDER BY pos_end DESC LIMIT 1000",
	2, {TEXTOID, INT8OID}, NULL
};

static WlQuery q_sub_holes_fwd = {
	"SELECT pos, pos + 1 FROM waitlist.subscriber"
	" WHERE sku = $1 AND state <> 'waiting' AND pos >= $2"
	" ORDER BY pos LIMIT 1000",
	2, {TEXTOID, INT8OID}, NULL
};

static WlQuery q_scan_hi = {
	"SELECT pos_end FROM waitlist.line"
	" WHERE sku = $1 AND state = 'waiting' AND pos_end >= $2"
	" ORDER BY pos_end LIMIT 1",
	2, {TEXTOID, INT8OID}, NULL
};

static WlQuery q_batch = {
	"INSERT INTO waitlist.batch (sku, kind, pos_from, pos_to, scan_lo, scan_hi, units, hold_until,"
	"  followup_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
	"  CASE WHEN $2 = 'back_in_stock' AND $9 > 0 THEN waitlist.now() + make_interval(secs => $9) END)"
	" RETURNING id",
	9, {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, FLOAT8OID}, NULL
};


/* Lock the SKU row and read its counters. */
static void
load_sku(const char *sku, WlSku *row, SkuState *s)
{
	wl_sku_get(sku, true, row);
	s->code = row->values[SKU_CODE];
	s->on_hand = wl_sku_int64(row, SKU_ON_HAND);
	s->allocated = wl_sku_int64(row, SKU_ALLOCATED);
	s->paid_tail = wl_sku_int64(row, SKU_PAID_TAIL);
	s->paid_served = wl_sku_int64(row, SKU_PAID_SERVED);
	s->sub_tail = wl_sku_int64(row, SKU_SUB_TAIL);
	s->sub_served = wl_sku_int64(row, SKU_SUB_SERVED);
	s->announced = wl_sku_int64(row, SKU_ANNOUNCED);
	s->notify_ratio = wl_sku_float8(row, SKU_NOTIFY_RATIO);
	s->sold_out_again = wl_sku_bool(row, SKU_SEND_SOLD_OUT_AGAIN);
	s->listed = !row->nulls[SKU_CHANNELS];
	s->paid_waiting = wl_sku_int64(row, SKU_PAID_WAITING);
	s->sub_waiting = wl_sku_int64(row, SKU_SUB_WAITING);
	s->held = wl_sku_int64(row, SKU_HELD);
	s->holds = !row->nulls[SKU_HOLD_WINDOW];
	s->hold_window = row->values[SKU_HOLD_WINDOW];
}

/*
 * Move a watermark forward from `from` over up to `units` live positions
 * below `tail`, skipping holes.  Returns the new watermark; *granted gets
 * the live positions crossed.
 */
static int64
walk_forward(WlQuery *holes, Datum sku, int64 from, int64 tail,
			 int64 units, int64 *granted)
{
	int64		p = from;
	int64		remaining = units;

	for (;;)
	{
		Datum		args[2] = {sku, Int64GetDatum(p)};
		uint64		n = wl_exec(holes, args, NULL, SPI_OK_SELECT, 0);

		for (uint64 i = 0; i < n; i++)
		{
			int64		s = wl_get_int64(i, 1, NULL);
			int64		e = wl_get_int64(i, 2, NULL);

			if (s > p && s - p >= remaining)
				goto done;
			if (s > p)
				remaining -= s - p;
			p = Max(p, e);
		}
		SPI_freetuptable(SPI_tuptable);
		if (n < HOLE_PAGE)
			break;
	}
done:
	if (remaining > 0 && p < tail)
	{
		int64		take = Min(remaining, tail - p);

		p += take;
		remaining -= take;
	}
	*granted = units - remaining;
	return p;
}

/*
 * Move the paid watermark back over `units` live allocated positions
 * (most recent first), skipping cancelled and shipped lines.
 */
static int64
walk_back(Datum sku, int64 from, int64 units, int64 *taken)
{
	int64		p = from;
	int64		remaining = units;

	for (;;)
	{
		Datum		args[2] = {sku, Int64GetDatum(p)};
		uint64		n = wl_exec(&q_line_holes_back, args, NULL, SPI_OK_SELECT, 0);

		for (uint64 i = 0; i < n; i++)
		{
			int64		s = wl_get_int64(i, 1, NULL);
			int64		e = Min(wl_get_int64(i, 2, NULL), p);

			if (e < p && p - e >= remaining)
				goto done;
			if (e < p)
				remaining -= p - e;
			p = Min(p, s);
		}
		SPI_freetuptable(SPI_tuptable);
		if (n < HOLE_PAGE)
			break;
	}
done:
	{
		int64		give = Min(remaining, p);

		p -= give;
		remaining -= give;
	}
	*taken = units - remaining;
	return p;
}

/* Smallest pos_end >= pos among waiting lines (bounds a batch's scan). */
static int64
scan_hi(Datum sku, int64 pos)
{
	Datum		args[2] = {sku, Int64GetDatum(pos)};

	if (wl_exec(&q_scan_hi, args, NULL, SPI_OK_SELECT, 1) == 0)
		return pos;
	return wl_get_int64(0, 1, NULL);
}

/*
 * Record one watermark move for expansion after the commit; hold_until is
 * a timestamptz (a back_in_stock wave with holds) or 0.  Returns its id.
 */
static int64
insert_batch(Datum sku, const char *kind, int64 from, int64 to,
			 int64 lo, int64 hi, int64 units, Datum hold_until)
{
	Datum		args[9];
	char		nulls[10] = "         ";

	args[0] = sku;
	args[1] = CStringGetTextDatum(kind);
	args[2] = Int64GetDatum(from);
	args[3] = Int64GetDatum(to);
	args[4] = Int64GetDatum(lo);
	args[5] = Int64GetDatum(hi);
	args[6] = Int64GetDatum(units);
	args[7] = hold_until;
	nulls[7] = hold_until ? ' ' : 'n';
	args[8] = Float8GetDatum((double) wl_reminder_after_s);	/* back_in_stock's follow-up */
	wl_exec(&q_batch, args, nulls, SPI_OK_INSERT_RETURNING, 1);
	return wl_get_int64(0, 1, NULL);
}

/*
 * Stock below allocated + held: shrink the newest holds, then take back
 * paid lines' units (most recent first), then claimed holds' units.
 */
static void
take_back(SkuState *s, int64 units)
{
	int64		taken;

	taken = wl_holds_shrink(s->code, units);
	s->held -= taken;
	units -= taken;
	if (units <= 0)
		return;
	s->paid_served = walk_back(s->code, s->paid_served, units, &taken);
	s->allocated -= taken;
	s->paid_waiting += taken;	/* taken back from waiting lines */
	units -= taken;
	if (units <= 0)
		return;
	taken = wl_holds_requeue_claimed(s->code, units, s->paid_tail);
	s->allocated -= taken;
	s->paid_waiting += taken;
	s->paid_tail += taken;
}

/* Free units to the paid queue; returns true when a batch was written. */
static bool
serve_paid(SkuState *s)
{
	int64		free_units = s->on_hand - s->allocated - s->held;
	int64		granted;
	int64		old = s->paid_served;

	if (free_units < 0)
	{
		take_back(s, -free_units);
		return false;
	}
	if (free_units == 0 || old >= s->paid_tail)
		return false;
	s->paid_served = walk_forward(&q_line_holes_fwd, s->code, old, s->paid_tail,
								  free_units, &granted);
	if (granted == 0)
		return false;
	s->allocated += granted;
	s->paid_waiting -= granted;
	insert_batch(s->code, "allocated", old, s->paid_served, old,
				 scan_hi(s->code, s->paid_served), granted, (Datum) 0);
	/* a restock wave that left lines short: they hear where they stand */
	if (s->restocked && s->paid_waiting > 0)
		insert_batch(s->code, "still_waiting", s->paid_served, s->paid_tail,
					 s->paid_served, s->paid_tail, granted, (Datum) 0);
	return true;
}

/*
 * Sign-ups a wave tells: ceil(units * ratio), but never more than the
 * queued positions (so units * ratio beyond 2^63 cannot overflow).
 */
static int64
wave_size(int64 units, double ratio, int64 queued)
{
	double		wave = ceil((double) units * ratio);

	return wave >= (double) queued ? queued : (int64) wave;
}

/* $1 the SKU, [$2, $3) the positions, $4 waitlist.purchase_window in seconds. */
static WlQuery q_convert_buyers = {
	"UPDATE waitlist.subscriber u SET state = 'converted', unsubscribed_at = waitlist.now()"
	" FROM waitlist.sku s"
	" WHERE s.sku = $1 AND u.sku = s.sku AND u.state = 'waiting' AND u.pos >= $2 AND u.pos < $3"
	" AND " WL_BOUGHT_WITHIN("$4") " RETURNING u.id",
	4, {TEXTOID, INT8OID, INT8OID, FLOAT8OID}, NULL
};

/*
 * A wave with holds reaches the sign-ups at [from, to): those whose contact
 * bought the SKU within waitlist.purchase_window hear no message
 * (domain/expansion.c leaves them out), so no unit is held for them either: they
 * leave the list converted.  These are sign-ups made after the purchase,
 * or committed while it was being recorded (a purchase converts the ones
 * it sees).  Returns how many.  The SKU row is locked; the caller counts them
 * (they were counted as told).
 */
static int64
convert_buyers(Datum sku, int64 from, int64 to)
{
	Datum		args[4] = {sku, Int64GetDatum(from), Int64GetDatum(to),
	Float8GetDatum((double) wl_purchase_window_s)};

	uint64		n;

	if (wl_purchase_window_s <= 0 || from >= to)
		return 0;
	n = wl_exec(&q_convert_buyers, args, NULL, SPI_OK_UPDATE_RETURNING, 0);
	wl_sku_unqueue_signups(TextDatumGetCString(sku), n, 1);
	return (int64) n;
}

/*
 * A wave with holds reached the sign-ups at [from, s->sub_served), told of
 * them: the buyers among them leave the list (they would hear nothing,
 * domain/signups.c), and the wave reaches as many more, until it holds a
 * unit for told people who did not buy or the queue ends.  Returns told
 * without the buyers.
 */
static int64
hold_for_non_buyers(SkuState *s, int64 from, int64 told)
{
	int64		gone;

	while ((gone = convert_buyers(s->code, from, s->sub_served)) > 0)
	{
		int64		more;

		told -= gone;
		from = s->sub_served;
		s->sub_served = walk_forward(&q_sub_holes_fwd, s->code, from, s->sub_tail,
									 gone, &more);
		s->sub_waiting -= more;
		told += more;
		if (more == 0)
			break;
	}
	return told;
}

/* New free units to the sign-up queue as one wave; true when it told someone. */
static bool
serve_signups(SkuState *s)
{
	int64		free_units = s->on_hand - s->allocated - s->held;
	int64		fresh;
	int64		wave;
	int64		told;
	int64		old = s->sub_served;
	Datum		hold_until = (Datum) 0;
	int64		wave_id;

	if (s->announced > free_units)
		s->announced = Max(free_units, 0);
	fresh = free_units - s->announced;
	if (fresh <= 0 || old >= s->sub_tail)
		return false;
	if (s->holds)
		wave = Min(fresh, s->sub_tail - old);	/* one held unit each */
	else
		wave = wave_size(fresh, s->notify_ratio, s->sub_tail - old);
	s->sub_served = walk_forward(&q_sub_holes_fwd, s->code, old, s->sub_tail,
								 wave, &told);
	s->sub_waiting -= told;
	if (s->holds)
		told = hold_for_non_buyers(s, old, told);
	if (told == 0)
		return false;
	if (s->holds)
	{
		hold_until = wl_holds_until(s->hold_window);
		s->held += told;
		free_units -= told;
		s->announced = Min(s->announced, free_units);
	}
	else
		s->announced = Min(free_units,
						   s->announced + (int64) ceil((double) told / s->notify_ratio));
	if (s->holds)
		free_units += told;		/* what the wave offered, held ones included */
	wave_id = insert_batch(s->code, "back_in_stock", old, s->sub_served, old,
						   s->sub_served, fresh, hold_until);
	if (s->holds)				/* one row for the wave's holds */
		wl_holds_open(s->code, wave_id, old, s->sub_served, told, hold_until);

	/*
	 * The rest hear that it sold out again; with holds only after a restock:
	 * a wave passing on expired holds is no news to them.
	 */
	if (s->sold_out_again && s->sub_served < s->sub_tail && (!s->holds || s->restocked))
		insert_batch(s->code, "sold_out_again", s->sub_served, s->sub_tail,
					 s->sub_served, s->sub_tail, free_units, (Datum) 0);
	return true;
}

/*
 * $1 the SKU, [$2, $3) the positions told while it was on sale, $4 since
 * when.  Leave: the sign-ups whose held unit the clock passed on (a wave of
 * this sale closed at its end with units unclaimed, wl_holds_expire; not
 * one a stock count emptied: each wave's range read by index), and those
 * that kept their place before.
 */
#define LAPSE "UPDATE waitlist.subscriber u SET state = 'lapsed', unsubscribed_at = waitlist.now()"
static WlQuery q_lapse_held = {
	LAPSE
	" FROM waitlist.hold h"
	" WHERE h.sku = $1 AND h.created_at >= $4 AND h.closed_at >= h.expires_at AND h.units > h.claimed"
	"  AND u.sku = $1 AND u.state = 'waiting' AND u.pos >= h.pos_from AND u.pos < h.pos_to"
	"  AND u.pos >= $2 AND u.pos < $3 RETURNING u.id",
	4, {TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID}, NULL
};

static WlQuery q_lapse_kept = {
	LAPSE
	" WHERE u.sku = $1 AND u.state = 'waiting' AND u.pos >= $2 AND u.pos < $3 AND u.kept_place"
	" RETURNING u.id",
	3, {TEXTOID, INT8OID, INT8OID}, NULL
};

static WlQuery q_keep = {
	"UPDATE waitlist.subscriber SET kept_place = true"
	" WHERE sku = $1 AND state = 'waiting' AND pos >= $2 AND pos < $3",
	3, {TEXTOID, INT8OID, INT8OID}, NULL
};

/*
 * The last unit on sale (since on_sale_since) was allocated: the people
 * told since it went on sale (from wave_start) who did not buy keep their
 * place, once: the sign-up watermark goes back over them, so the next
 * restock tells them first.  Those who kept it before, or let a unit held
 * for them lapse, leave the list instead (state lapsed).  Returns how many
 * of either (each hears missed_out, domain/followups.c).
 */
static int64
keep_places(SkuState *s, int64 wave_start, Datum on_sale_since)
{
	Datum		args[4] = {s->code, Int64GetDatum(wave_start), Int64GetDatum(s->sub_served),
	on_sale_since};
	int64		lapsed;
	int64		kept;
	uint64		n;

	if (s->sub_served <= wave_start)
		return 0;
	n = wl_exec(&q_lapse_held, args, NULL, SPI_OK_UPDATE_RETURNING, 0);
	wl_sku_unqueue_signups(TextDatumGetCString(s->code), n, 1);
	lapsed = (int64) n;
	n = wl_exec(&q_lapse_kept, args, NULL, SPI_OK_UPDATE_RETURNING, 0);
	wl_sku_unqueue_signups(TextDatumGetCString(s->code), n, 1);
	lapsed += (int64) n;
	kept = (int64) wl_exec(&q_keep, args, NULL, SPI_OK_UPDATE, 0);
	if (kept > 0)
	{
		s->sub_served = wave_start;
		s->sub_waiting += kept;
		s->announced = 0;
	}
	return kept + lapsed;
}

/* Write the counters back into the row. */
static void
store_sku(WlSku *row, SkuState *s)
{
	const struct
	{
		WlSkuCol	col;
		int64		value;
	}			counters[] = {
		{SKU_ALLOCATED, s->allocated}, {SKU_PAID_SERVED, s->paid_served},
		{SKU_SUB_SERVED, s->sub_served}, {SKU_ANNOUNCED, s->announced},
		{SKU_PAID_WAITING, s->paid_waiting}, {SKU_SUB_WAITING, s->sub_waiting},
		{SKU_HELD, s->held}, {SKU_PAID_TAIL, s->paid_tail}
	};

	for (int i = 0; i < (int) lengthof(counters); i++)
	{
		row->values[counters[i].col] = Int64GetDatum(counters[i].value);
		row->nulls[counters[i].col] = false;
	}
	wl_sku_store_allocation(row);
}

/*
 * Allocate one SKU's free units.  Returns WL_ALLOC_* flags: whether
 * batches (and so messages) were written, and whether the SKU is listed.
 * The caller is connected to SPI.
 */
int
wl_allocate_sku(const char *sku)
{
	WlSku		row;
	SkuState	s;
	int64		allocated;
	int64		paid_served;
	int64		sub_served;
	int64		announced;
	int64		held;
	int64		paid_tail;
	int64		told_to = 0;
	int64		wave_start = 0;
	int64		kept = 0;
	bool		on_sale;
	bool		was_on_sale;
	bool		queued;

	load_sku(sku, &row, &s);
	s.restocked = wl_supply_changed(sku);
	allocated = s.allocated;
	paid_served = s.paid_served;
	sub_served = s.sub_served;
	announced = s.announced;
	held = s.held;
	paid_tail = s.paid_tail;
	queued = serve_paid(&s);
	queued |= serve_signups(&s);

	/* on sale since when; at the sell-out, the people told keep their place */
	on_sale = s.on_hand - s.allocated > 0;
	was_on_sale = !row.nulls[SKU_IN_STOCK_SINCE];
	if (!on_sale && was_on_sale && !row.nulls[SKU_WAVE_START])
	{
		wave_start = wl_sku_int64(&row, SKU_WAVE_START);
		told_to = s.sub_served;
		kept = keep_places(&s, wave_start, row.values[SKU_IN_STOCK_SINCE]);
	}
	if (s.allocated != allocated || s.paid_served != paid_served ||
		s.sub_served != sub_served || s.announced != announced ||
		s.held != held || s.paid_tail != paid_tail)
		store_sku(&row, &s);
	if (on_sale && !was_on_sale)
		wl_sku_mark_on_sale(sku, sub_served);
	else if (!on_sale && was_on_sale)
		wl_sku_mark_sold_out(sku, wave_start, told_to,
							 kept > 0 && wl_missed_note_after_s > 0 ? (double) wl_missed_note_after_s : -1);
	return (queued ? WL_ALLOC_QUEUED : 0) | (s.listed ? WL_ALLOC_LISTED : 0);
}

static WlQuery q_eta_batch = {
	"INSERT INTO waitlist.batch (sku, kind, pos_from, pos_to, scan_lo, scan_hi, units,"
	"  prev_date, new_date)"
	" VALUES ($1, 'eta_changed', $2, $3, $2, $3, $3 - $2, $4, $5)",
	5, {TEXTOID, INT8OID, INT8OID, DATEOID, DATEOID}, NULL
};

/*
 * The confirmed restock date sign-ups know moved (from prev to next, either
 * absent): one eta_changed batch over the sign-ups still waiting, expanded
 * after the commit.  s is the SKU row, locked by the caller (in SPI);
 * returns whether a batch was written.
 */
bool
wl_batch_eta_changed(const WlSku *s, const DateADT *prev, const DateADT *next)
{
	int64		from = wl_sku_int64(s, SKU_SUB_SERVED);
	int64		to = wl_sku_int64(s, SKU_SUB_TAIL);
	Datum		args[5];
	char		nulls[6] = "     ";

	if (from >= to || wl_sku_int64(s, SKU_SUB_WAITING) <= 0)
		return false;
	args[0] = s->values[SKU_CODE];
	args[1] = Int64GetDatum(from);
	args[2] = Int64GetDatum(to);
	args[3] = prev ? DateADTGetDatum(*prev) : (Datum) 0;
	args[4] = next ? DateADTGetDatum(*next) : (Datum) 0;
	nulls[3] = prev ? ' ' : 'n';
	nulls[4] = next ? ' ' : 'n';
	wl_exec(&q_eta_batch, args, nulls, SPI_OK_INSERT, 0);
	return true;
}
