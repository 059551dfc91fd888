/*
 * expansion.c
 *	  Per-recipient messages written after the commit: batches (the
 *	  allocator's watermark moves), sign-up confirmations and the due
 *	  actions of pre-order lines.
 *
 * Batches written by the allocator at commit are expanded here into one
 * message per recipient and channel, with FOR UPDATE SKIP LOCKED so that
 * concurrent consumers never expand the same batch.  The batches that reach
 * a whole queue (eta_changed to sign-ups, still_waiting to paid lines) are
 * expanded WL_BATCH_CHUNK positions per call, each chunk committed with
 * the batch's cursor (scan_lo), so a million-strong list never makes one
 * long transaction.  Bad data never
 * blocks the others: see ExpandWork.  claim(), tick() and expand_batches()
 * (api/outbox_api.c) call in; the caller is connected to SPI.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/resowner.h"

#include "domain/expansion.h"
#include "domain/preorders.h"
#include "domain/purchase_window.h"
#include "store/now.h"
#include "store/outbox_writer.h"
#include "store/shards.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "waitlist.h"

static WlQuery q_pending_batches = {
	"SELECT id, sku, kind, pos_from, pos_to, scan_lo, scan_hi, units, prev_date, new_date, hold_until"
	" FROM waitlist.batch WHERE expanded_at IS NULL"
	" ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
	1, {INT4OID}, NULL
};

/*
 * Allocation messages.  A line told it is ready to ship is told once
 * (key per line and channel); a partial allocation once per allocated
 * total.  Lines that no longer hold the units when the batch is expanded
 * (a stock count took them back, or the line was cancelled) get nothing.
 */
#define ALLOCATED_SOURCE \
	"SELECT a.msg_kind AS kind, a.sku, a.email, a.phone," \
	" waitlist.payload_json('order_ref', a.order_ref, 'line_id', a.id, 'sku', a.sku," \
	"  'title', a.title, 'qty', a.qty, 'allocated_now', a.now," \
	"  'allocated_total', a.total, 'product_url', a.product_url) AS payload," \
	" 'line:' || a.id || CASE WHEN a.msg_kind = 'ready_to_ship' THEN ':ready'" \
	"  ELSE ':allocated:' || a.total END AS key" \
	" FROM (SELECT l.*, s.title, s.product_url," \
	"        CASE WHEN l.pos_end <= $4 THEN 'ready_to_ship' ELSE 'allocated' END AS msg_kind," \
	"        least(l.pos_end, $4) - greatest(l.pos_start, $3) AS now," \
	"        least(l.pos_end, $4) - l.pos_start AS total" \
	"       FROM waitlist.sku s" \
	"       JOIN waitlist.line l ON l.sku = s.sku AND l.state = 'waiting'" \
	"        AND l.pos_end > $5 AND l.pos_end <= $6 AND l.pos_start < $4" \
	"       WHERE s.sku = $2 AND l.pos_end > $3" \
	"        AND s.paid_served >= least(l.pos_end, $4)) a"

/*
 * waitlist.repeat_after: leave out a recipient who got a message of this
 * kind for the SKU within the last secs seconds.  Its keys begin with
 * prefix (the sign-up or line and the kind), so the unique index on
 * idempotency_key finds them by a range [prefix, prefix || '~'): '~' sorts
 * after every character a key continues with (digits, ':' and letters).
 * Messages purged since (purge_delivered) no longer count.  For
 * sold_out_again and still_waiting, which a burst of small restocks (two
 * warehouse receipts a minute apart) would repeat; never for messages that
 * carry news (eta_changed: a second date change is still news).
 */
#define NOT_HEARD_WITHIN(prefix, secs) \
	" AND (" secs " <= 0 OR NOT EXISTS (SELECT 1 FROM waitlist.outbox t" \
	"  WHERE t.idempotency_key >= ((" prefix ") COLLATE \"C\")" \
	"   AND t.idempotency_key < ((" prefix " || '~') COLLATE \"C\")" \
	"   AND t.created_at > waitlist.now() - make_interval(secs => " secs ")))"


/*
 * The people a wave told, with what makes the message true: the units this
 * wave brought ($7), each one's place among the people it told (the one
 * told first was first in line), how many it told, how fast the SKU sold
 * out the last time it was in stock (when known), and the end of the unit
 * held for them ($11, a wave with holds).
 */
#define BACK_SOURCE \
	"SELECT 'back_in_stock' AS kind, s.sku, u.email, u.phone," \
	" waitlist.payload_json('subscription_id', u.id, 'sku', s.sku, 'title', s.title," \
	"  'units_available', $7, 'place_in_line', u.place, 'told_in_wave', u.told," \
	"  'last_sold_out_in_seconds', extract(epoch FROM s.last_sellout)::bigint," \
	"  'product_url', s.product_url, 'image_url', s.image_url," \
	"  'held_until', $11)" \
	"  AS payload," \
	" coalesce(s.email_delay, make_interval(secs => $8)) AS email_delay," \
	" 'sub:' || u.id || ':back:' || $1 AS key" \
	" FROM waitlist.sku s" \
	" JOIN (SELECT w.*, row_number() OVER (ORDER BY w.pos) AS place, count(*) OVER () AS told" \
	"       FROM waitlist.subscriber w" \
	"       WHERE w.sku = $2 AND w.state = 'waiting' AND w.pos >= $5 AND w.pos < $6) u" \
	"  ON u.sku = s.sku" \
	" WHERE s.sku = $2 AND $3 IS NOT NULL AND $4 IS NOT NULL" \
	WL_NOT_BOUGHT_WITHIN("$10")

#define SOLD_OUT_SOURCE \
	"SELECT 'sold_out_again' AS kind, s.sku, u.email, u.phone," \
	" waitlist.payload_json('subscription_id', u.id, 'sku', s.sku, 'title', s.title," \
	"  'position', u.place, 'waiting', u.total, 'still_on_list', true," \
	"  'product_url', s.product_url) AS payload," \
	" 'sub:' || u.id || ':soldout:' || $1 AS key" \
	" FROM waitlist.sku s" \
	" JOIN (SELECT w.*, row_number() OVER (ORDER BY w.pos) AS place," \
	"        count(*) OVER () AS total" \
	"       FROM waitlist.subscriber w" \
	"       WHERE w.sku = $2 AND w.state = 'waiting' AND w.pos >= $5 AND w.pos < $6) u" \
	"  ON u.sku = s.sku" \
	" WHERE s.sku = $2 AND $3 IS NOT NULL AND $4 IS NOT NULL AND $7 IS NOT NULL" \
	NOT_HEARD_WITHIN("'sub:' || u.id || ':soldout:'", "$9") \
	WL_NOT_BOUGHT_WITHIN("$10")

/*
 * A restock date change, to the sign-ups still waiting in this chunk of
 * positions [$5, $6) (those told back_in_stock since hear nothing): the
 * confirmed date they knew ($9) and the new one ($10), either absent.
 */
#define ETA_SOURCE \
	"SELECT 'eta_changed' AS kind, s.sku, u.email, u.phone," \
	" waitlist.payload_json('subscription_id', u.id, 'sku', s.sku, 'title', s.title," \
	"  'previous_date', to_char($9::date, 'YYYY-MM-DD')," \
	"  'expected_restock_date', to_char($10::date, 'YYYY-MM-DD')," \
	"  'confirmed', $10::date IS NOT NULL, 'product_url', s.product_url) AS payload," \
	" 'sub:' || u.id || ':eta:' || $1 AS key" \
	" FROM waitlist.sku s" \
	" JOIN waitlist.subscriber u ON u.sku = s.sku AND u.state = 'waiting'" \
	"  AND u.pos >= $5 AND u.pos < $6 AND u.pos >= s.sub_served" \
	" WHERE s.sku = $2 AND $3 IS NOT NULL AND $4 IS NOT NULL AND $7 IS NOT NULL AND $8 IS NOT NULL" \
	WL_NOT_BOUGHT_WITHIN("$12")

/*
 * Where a paid line a restock wave left unfilled stands, for the waiting
 * lines whose pos_end is in this chunk (positions ($5, $6]) and that hold no
 * unit under the watermark now (a partial line was told `allocated`; a line
 * served since, or cancelled, hears nothing).  Units ahead: the positions
 * between the watermark and the line, less the cancelled and shipped lines
 * among them (the holes, few, through line_holes), as of the expansion.
 * The expected ship date: the pre-order ship date for a pre-order, else the
 * SKU's confirmed restock date now, if any (else unknown: null).  A
 * wave followed by another before its messages were written is folded into
 * the later one (its batch tells them, with the numbers of then).
 */
#define STILL_WAITING_SOURCE \
	"SELECT 'still_waiting' AS kind, s.sku, w.email, w.phone," \
	" waitlist.payload_json('order_ref', w.order_ref, 'line_id', w.id, 'sku', s.sku," \
	"  'title', s.title, 'qty', w.qty, 'units_ahead', w.ahead, 'units_arrived', $7," \
	"  'expected_ship_date', to_char(CASE WHEN w.kind = 'preorder' THEN s.ships_on" \
	"   WHEN s.restock_confirmed THEN s.restock_date END, 'YYYY-MM-DD')," \
	"  'cancel_allowed', true, 'product_url', s.product_url) AS payload," \
	" 'line:' || w.id || ':waiting:' || $1 AS key" \
	" FROM waitlist.sku s" \
	" CROSS JOIN LATERAL (" \
	"  SELECT q.*, q.pos_start - s.paid_served - sum(q.hole) OVER (ORDER BY q.pos_start) AS ahead" \
	"  FROM (SELECT l.id, l.kind, l.order_ref, l.qty, l.email, l.phone, l.pos_start," \
	"         0::bigint AS hole" \
	"        FROM waitlist.line l WHERE l.sku = s.sku AND l.state = 'waiting'" \
	"         AND l.pos_end > $5 AND l.pos_end <= $6 AND l.pos_start >= s.paid_served" \
	"        UNION ALL" \
	"        SELECT NULL, NULL, NULL, NULL, NULL, NULL, h.pos_start," \
	"         h.pos_end - greatest(h.pos_start, s.paid_served)" \
	"        FROM waitlist.line h WHERE h.sku = s.sku AND h.state <> 'waiting'" \
	"         AND h.pos_end > s.paid_served AND h.pos_start < $6) q) w" \
	" WHERE s.sku = $2 AND w.id IS NOT NULL AND $3 IS NOT NULL AND $4 IS NOT NULL" \
	"  AND $8 IS NOT NULL AND $9::date IS NULL AND $10::date IS NULL" \
	"  AND NOT EXISTS (SELECT 1 FROM waitlist.batch n" \
	"                  WHERE n.id > $1 AND n.sku = s.sku AND n.kind = 'still_waiting')" \
	NOT_HEARD_WITHIN("'line:' || w.id || ':waiting:'", "$11")

/*
 * $8 the email delay; then waitlist.repeat_after and waitlist.purchase_window
 * in seconds: $9 and $10 of a batch, $11 and $12 of a chunk (after its dates)
 */
#define BATCH_ARGS 11, {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, FLOAT8OID, \
	FLOAT8OID, FLOAT8OID, TIMESTAMPTZOID}, NULL
#define CHUNK_ARGS 12, {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, FLOAT8OID, \
	DATEOID, DATEOID, FLOAT8OID, FLOAT8OID}, NULL

/*
 * Each kind of batch is written by a plain INSERT first, and by one that
 * skips keys already in the outbox only when that fails (expand_one): a
 * key repeats only when a stock count took units back and a later restock
 * served the same line again, and the ON CONFLICT clause costs a
 * speculative insertion per message, a fifth of an expansion's time.
 */
typedef struct BatchQueries
{
	const char *kind;
	WlQuery		fresh;			/* plain INSERT */
	WlQuery		once;			/* ... ON CONFLICT (idempotency_key) DO NOTHING */
	bool		chunked;		/* a chunk of positions per call ($5, $6) */
} BatchQueries;

static BatchQueries batch_queries[] = {
	{"allocated",
		{WL_OUTBOX_INSERT WL_CONTACT_ROWS(ALLOCATED_SOURCE), BATCH_ARGS},
	{WL_CONTACT_MESSAGES(ALLOCATED_SOURCE), BATCH_ARGS}},
	{"back_in_stock",
		{WL_OUTBOX_INSERT_DUE WL_CONTACT_ROWS_SMS_FIRST(BACK_SOURCE), BATCH_ARGS},
	{WL_CONTACT_MESSAGES_SMS_FIRST(BACK_SOURCE), BATCH_ARGS}},
	{"sold_out_again",
		{WL_OUTBOX_INSERT WL_CONTACT_ROWS(SOLD_OUT_SOURCE), BATCH_ARGS},
	{WL_CONTACT_MESSAGES(SOLD_OUT_SOURCE), BATCH_ARGS}},
	{"eta_changed",
		{WL_OUTBOX_INSERT WL_CONTACT_ROWS(ETA_SOURCE), CHUNK_ARGS},
	{WL_CONTACT_MESSAGES(ETA_SOURCE), CHUNK_ARGS}, true},
	{"still_waiting",
		{WL_OUTBOX_INSERT WL_CONTACT_ROWS(STILL_WAITING_SOURCE), CHUNK_ARGS},
	{WL_CONTACT_MESSAGES(STILL_WAITING_SOURCE), CHUNK_ARGS}, true},
};

/*
 * Sign-up confirmations queued by subscribe() (unconfirmed_signup), oldest
 * first, taken off the queue by tuple id as in claim(); the sign-up's
 * contacts are read as the statement's snapshot sees them, by its key: the
 * OFFSET 0 keeps the state test out of that lookup, which would otherwise
 * let the planner, without statistics after a bulk import, read every
 * waiting sign-up of the SKU through a partial index and filter on the id
 * (1,000,000 imported sign-ups: 1 to 4 s per chunk of 10,000 instead of
 * 0.16 s).  A sign-up that has left the list (unsubscribed, bought,
 * expired, lapsed) or is gone leaves the queue without a message.  As for
 * batches, the bulk run is a plain INSERT (its subtransaction rolls back
 * if a key is in the outbox already) and the sign-up by sign-up run that
 * follows such a failure skips keys already written.
 */
#define JOINED_CONFIRMED \
	"WITH q AS (" \
	"  DELETE FROM waitlist.unconfirmed_signup d" \
	"   WHERE d.ctid = ANY (ARRAY(SELECT ctid FROM waitlist.unconfirmed_signup" \
	"                  WHERE ($2::bigint IS NULL OR id = $2) AND id > $3" \
	"                  ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED))" \
	"  RETURNING d.id, d.sku)," \
	" c AS (SELECT q.id, q.sku, u.email, u.phone FROM q" \
	"  CROSS JOIN LATERAL (SELECT u.email, u.phone, u.state" \
	"   FROM waitlist.subscriber u WHERE u.id = q.id AND u.sku = q.sku OFFSET 0) u" \
	"  WHERE u.state = 'waiting') "
#define JOINED_SOURCE \
	"SELECT 'waitlist_joined' AS kind, s.sku, c.email, c.phone," \
	" waitlist.payload_json('subscription_id', c.id, 'sku', s.sku, 'title', s.title," \
	"  'expected_restock_date'," \
	"   CASE WHEN s.restock_confirmed THEN to_char(s.restock_date, 'YYYY-MM-DD') END," \
	"  'product_url', s.product_url) AS payload," \
	" 'sub:' || c.id || ':joined' AS key" \
	" FROM c JOIN waitlist.sku s ON s.sku = c.sku"

/*
 * The bulk run also returns the last id it took: the next chunk of the same
 * run starts after it ($3).  From the left of the queue's key, each chunk
 * would step again over every entry the chunks before it deleted, which no
 * scan can mark dead while the transaction that deleted them is open: one
 * tick confirming 1,000,000 imported sign-ups took 262 s that way.  A
 * sign-up the cursor has passed (locked by another session, or committed
 * late with a lower id) waits for the next tick or claim.
 */
static WlQuery q_expand_joined = {
	JOINED_CONFIRMED
	", ins AS (" WL_OUTBOX_INSERT WL_CONTACT_ROWS(JOINED_SOURCE) " RETURNING 1)"
	" SELECT (SELECT count(*) FROM ins), (SELECT max(id) FROM q)",
	3, {INT4OID, INT8OID, INT8OID}, NULL
};

static WlQuery q_expand_joined_once = {
	JOINED_CONFIRMED WL_CONTACT_MESSAGES(JOINED_SOURCE),
	3, {INT4OID, INT8OID, INT8OID}, NULL
};

static WlQuery q_batch_done = {
	"UPDATE waitlist.batch SET expanded_at = waitlist.now(), messages = $2 WHERE sku = $3 AND id = $1",
	3, {INT8OID, INT8OID, TEXTOID}, NULL
};

/*
 * A chunk written: the cursor moves to $4, the batch is done (at $5, the
 * time: Citus refuses a STABLE function inside CASE in an UPDATE of a
 * distributed table) when it reaches scan_hi.
 */
static WlQuery q_chunk_done = {
	"UPDATE waitlist.batch SET scan_lo = $4, messages = coalesce(messages, 0) + $2,"
	" expanded_at = CASE WHEN $4 >= scan_hi THEN $5 END"
	" WHERE sku = $3 AND id = $1",
	5, {INT8OID, INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID}, NULL
};

static bool run_guarded(int64 (*fn) (int64), int64 arg, int64 *result, char **reason);
static int64 expand_here(int64 max);

/* The plain INSERT of the batch being expanded (run guarded by expand_one). */
static WlQuery *fresh_query;
static Datum *fresh_args;
static const char *fresh_nulls;

static int64
insert_fresh(int64 unused)
{
	return (int64) wl_exec(fresh_query, fresh_args, fresh_nulls, SPI_OK_INSERT, 0);
}

/* The queries of a batch kind. */
static BatchQueries *
batch_queries_of(const char *kind, Datum id)
{
	for (size_t k = 0; k < lengthof(batch_queries); k++)
		if (strcmp(kind, batch_queries[k].kind) == 0)
			return &batch_queries[k];
	elog(ERROR, "waitlist: batch " INT64_FORMAT " has unknown kind \"%s\"",
		 DatumGetInt64(id), kind);
	return NULL;				/* keep the compiler quiet */
}

/* Mark a batch expanded, or, for a chunked one, move its cursor to hi. */
static void
batch_done(const BatchQueries *q, Datum *args, int64 n)
{
	Datum		done[5];

	done[0] = args[0];
	done[1] = Int64GetDatum(n);
	done[2] = args[1];
	done[3] = args[5];
	done[4] = wl_now();
	wl_exec(q->chunked ? &q_chunk_done : &q_batch_done, done, NULL, SPI_OK_UPDATE, 0);
}

/* Expand one batch row (the current SPI result row i) into messages. */
static int64
expand_one(SPITupleTable *batches, uint64 i)
{
	Datum		args[12];
	char		nulls[13] = "            ";
	char	   *kind;
	BatchQueries *q;
	int64		n;
	char	   *reason;
	bool		isnull;

	SPI_tuptable = batches;
	args[0] = wl_get_datum(i, 1, NULL);	/* id */
	args[1] = wl_get_datum(i, 2, NULL);	/* sku */
	kind = wl_get_text(i, 3);
	for (int c = 2; c < 7; c++)	/* pos_from, pos_to, scan_lo, scan_hi, units */
		args[c] = wl_get_datum(i, c + 2, NULL);
	args[7] = Float8GetDatum((double) wl_email_delay_s);	/* unless the SKU sets its own */
	for (int c = 8; c < 10; c++)	/* prev_date, new_date */
	{
		args[c] = wl_get_datum(i, c + 1, &isnull);
		nulls[c] = isnull ? 'n' : ' ';
	}
	q = batch_queries_of(kind, args[0]);
	if (q->chunked)				/* this call's chunk: [scan_lo, scan_lo + chunk) */
		args[5] = Int64GetDatum(Min(DatumGetInt64(args[5]),
									DatumGetInt64(args[4]) + WL_BATCH_CHUNK));
	/* the limits: $11 and $12 of a chunk, $9 and $10 of a batch (no dates) */
	args[q->chunked ? 10 : 8] = Float8GetDatum((double) wl_repeat_after_s);
	args[q->chunked ? 11 : 9] = Float8GetDatum((double) wl_purchase_window_s);
	nulls[q->chunked ? 10 : 8] = nulls[q->chunked ? 11 : 9] = ' ';
	if (!q->chunked)			/* $11: hold_until (back_in_stock with holds) */
	{
		args[10] = wl_get_datum(i, 11, &isnull);
		nulls[10] = isnull ? 'n' : ' ';
	}
	fresh_query = &q->fresh;
	fresh_args = args;
	fresh_nulls = nulls;
	if (!run_guarded(insert_fresh, 0, &n, &reason))
		n = (int64) wl_exec(&q->once, args, nulls, SPI_OK_INSERT, 0);
	batch_done(q, args, n);
	return n;
}

/* ---------- expansion that bad data cannot block ---------- */

/*
 * Expansion work of one kind.  It runs in bulk; when the bulk statement
 * fails on a unit's data (a date no message can carry, say), it runs again
 * unit by unit, and each unit that still fails is taken off the work and
 * dead-lettered with its reason, so one bad row never stops the others.
 */
typedef struct ExpandWork
{
	const char *unit;			/* what an id names: subscription, line, batch */
	int64		(*bulk) (int64 max);	/* messages written */
	uint64		(*due) (int max);	/* the ids bulk would take next, in its order
									 * (SPI_tuptable's first column); a run with
									 * a cursor moves it past them */
	int64		(*one) (int64 id);	/* messages written for one unit */
	WlQuery    *retire;			/* $1 id: off the work, RETURNING sku */
	int			retired;		/* retire's SPI result code */
} ExpandWork;

/* Errors that come from a unit's data, not from the database's state. */
static bool
data_error(ErrorData *e)
{
	int			category = ERRCODE_TO_CATEGORY(e->sqlerrcode);

	return category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		category == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
}

/*
 * fn(arg) in a subtransaction (caller is in SPI).  False, with the work
 * rolled back and *reason set, when it failed on its data; any other error
 * propagates.
 */
static bool
run_guarded(int64 (*fn) (int64), int64 arg, int64 *result, char **reason)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		*result = fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *e;

		/*
		 * The subtransaction is rolled back before any error goes on: one
		 * rethrown from inside it would leave it open, and in a
		 * transaction without BEGIN (SELECT waitlist.tick()) the session
		 * then refused every command until a ROLLBACK that ended it
		 * (FATAL: UserAbortTransactionBlock: unexpected state STARTED).
		 */
		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (!data_error(e))
			ReThrowError(e);
		*reason = e->message;
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
}

/* Take a unit that cannot be built off the work and dead-letter it. */
static void
retire_unit(const ExpandWork *w, int64 id, const char *reason)
{
	Datum		arg = Int64GetDatum(id);

	if (wl_exec(w->retire, &arg, NULL, w->retired, 0) == 0)
		return;
	wl_queue_failed(wl_get_text(0, 1), w->unit, id, reason);
	ereport(WARNING,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("waitlist: %s " INT64_FORMAT " cannot be turned into a message: %s",
					w->unit, id, reason),
			 errdetail("It is dead-lettered in waitlist.outbox as message_failed.")));
}

/* Run w in bulk, or unit by unit when the bulk run fails on bad data. */
static int64
expand_guarded(const ExpandWork *w, int max)
{
	int64		n;
	int64		total = 0;
	char	   *reason;
	uint64		nids;
	int64	   *ids;

	if (run_guarded(w->bulk, max, &n, &reason))
		return n;
	nids = w->due(max);
	ids = palloc(sizeof(int64) * (nids + 1));
	for (uint64 i = 0; i < nids; i++)
		ids[i] = wl_get_int64(i, 1, NULL);
	for (uint64 i = 0; i < nids; i++)
	{
		if (run_guarded(w->one, ids[i], &n, &reason))
			total += n;
		else
			retire_unit(w, ids[i], reason);
	}
	pfree(ids);
	return total;
}

/* Where the run of sign-up confirmations goes on: ids above this. */
static int64 joined_after = PG_INT64_MIN;

/* Up to max sign-up confirmations after joined_after, which moves on. */
static int64
joined_bulk(int64 max)
{
	Datum		args[3] = {Int32GetDatum((int32) max), (Datum) 0,
	Int64GetDatum(joined_after)};
	bool		isnull;
	int64		last;
	int64		n;

	wl_exec(&q_expand_joined, args, " n ", SPI_OK_SELECT, 1);
	n = wl_get_int64(0, 1, NULL);
	last = wl_get_int64(0, 2, &isnull);
	if (!isnull)
		joined_after = last;
	return n;
}

/* One sign-up's confirmation. */
static int64
joined_one(int64 id)
{
	Datum		args[3] = {Int32GetDatum(1), Int64GetDatum(id),
	Int64GetDatum(PG_INT64_MIN)};

	return (int64) wl_exec(&q_expand_joined_once, args, NULL, SPI_OK_INSERT, 0);
}

static WlQuery q_joined_due = {
	"SELECT id FROM waitlist.unconfirmed_signup WHERE id > $2"
	" ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
	2, {INT4OID, INT8OID}, NULL
};

/* The sign-ups joined_bulk would take, one by one after a failed chunk. */
static uint64
joined_due(int max)
{
	Datum		args[2] = {Int32GetDatum(max), Int64GetDatum(joined_after)};
	uint64		n = wl_exec(&q_joined_due, args, NULL, SPI_OK_SELECT, 0);

	if (n > 0)
		joined_after = wl_get_int64((int) n - 1, 1, NULL);
	return n;
}

static WlQuery q_joined_retire = {
	"DELETE FROM waitlist.unconfirmed_signup WHERE id = $1 RETURNING sku",
	1, {INT8OID}, NULL
};

static const ExpandWork joined_work = {
	"subscription", joined_bulk, joined_due, joined_one, &q_joined_retire,
	SPI_OK_DELETE_RETURNING
};

/* Where the bulk run of line actions goes on. */
static WlLineCursor line_after;

static int64
line_actions_bulk(int64 max)
{
	return wl_expand_line_actions((int) max, &line_after);
}

static WlQuery q_line_due = {
	"SELECT id, action_at FROM waitlist.line WHERE action_at <= waitlist.now()"
	" AND (action_at, id) > ($2, $3)"
	" ORDER BY action_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
	3, {INT4OID, TIMESTAMPTZOID, INT8OID}, NULL
};

/* The lines line_actions_bulk would take, one by one after a failed chunk. */
static uint64
line_due(int max)
{
	Datum		args[3] = {Int32GetDatum(max), TimestampTzGetDatum(line_after.at),
	Int64GetDatum(line_after.id)};
	uint64		n = wl_exec(&q_line_due, args, NULL, SPI_OK_SELECT, 0);
	bool		isnull;

	if (n > 0)
	{
		line_after.id = wl_get_int64((int) n - 1, 1, NULL);
		line_after.at = DatumGetTimestampTz(wl_get_datum((int) n - 1, 2, &isnull));
	}
	return n;
}

static WlQuery q_line_retire = {
	"UPDATE waitlist.line SET confirm_pending = false, action_at = NULL WHERE id = $1"
	" RETURNING sku",
	1, {INT8OID}, NULL
};

static const ExpandWork line_work = {
	"line", line_actions_bulk, line_due, wl_expand_line_action, &q_line_retire,
	SPI_OK_UPDATE_RETURNING
};

/*
 * Write up to max pending sign-up confirmations, then the due lines'
 * confirmations, payment events and re-authorizations, each after *after,
 * which moves past the ones taken; returns messages.
 * Their statements read their indexes (wl_index_scans), as in claim(),
 * also when tick() calls this in a loop (300,000 imported sign-ups, never
 * analyzed: 5.1 s with, 7.0 s without).
 */
int64
wl_expand_confirmations(int max, WlConfirmCursor *after)
{
	int			nest = wl_index_scans(false);
	int64		n;

	joined_after = after->signup;
	n = expand_guarded(&joined_work, max);
	after->signup = joined_after;
	line_after = after->line;
	n += expand_guarded(&line_work, max);
	after->line = line_after;
	wl_scans_restore(nest);
	return n;
}

/* Up to max committed batches, oldest first. */
static int64
batches_bulk(int64 max)
{
	Datum		arg = Int32GetDatum((int32) max);
	SPITupleTable *batches;
	uint64		n = wl_exec(&q_pending_batches, &arg, NULL, SPI_OK_SELECT, 0);
	int64		total = 0;

	batches = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
		total += expand_one(batches, i);
	SPI_freetuptable(batches);
	return total;
}

static WlQuery q_batch_by_id = {
	"SELECT id, sku, kind, pos_from, pos_to, scan_lo, scan_hi, units, prev_date, new_date, hold_until"
	" FROM waitlist.batch WHERE id = $1 AND expanded_at IS NULL",
	1, {INT8OID}, NULL
};

static int64
batch_one(int64 id)
{
	Datum		arg = Int64GetDatum(id);

	if (wl_exec(&q_batch_by_id, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		return 0;
	return expand_one(SPI_tuptable, 0);
}

static WlQuery q_batch_due = {
	"SELECT id FROM waitlist.batch WHERE expanded_at IS NULL"
	" ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
	1, {INT4OID}, NULL
};

static WlQuery q_batch_retire = {
	"UPDATE waitlist.batch SET expanded_at = waitlist.now(), messages = 0 WHERE id = $1"
	" AND expanded_at IS NULL RETURNING sku",
	1, {INT8OID}, NULL
};

/* The batches batches_bulk would take, one by one after a failed one. */
static uint64
batch_due(int max)
{
	Datum		arg = Int32GetDatum(max);

	return wl_exec(&q_batch_due, &arg, NULL, SPI_OK_SELECT, 0);
}

static const ExpandWork batch_work = {
	"batch", batches_bulk, batch_due, batch_one, &q_batch_retire,
	SPI_OK_UPDATE_RETURNING
};

static WlQuery q_pending_work = {
	"SELECT EXISTS (SELECT 1 FROM waitlist.batch WHERE expanded_at IS NULL),"
	" EXISTS (SELECT 1 FROM waitlist.unconfirmed_signup)"
	"  OR EXISTS (SELECT 1 FROM waitlist.line WHERE action_at <= waitlist.now())",
	0, {InvalidOid}, NULL
};

/*
 * Expand up to max_batches committed batches, and as many pending sign-up
 * confirmations and due pre-order lines; caller is connected to SPI.  One
 * cheap look at the partial indexes first, so a claim with nothing to
 * expand pays little; every statement reads its indexes (wl_index_scans).
 * On Citus, this node's local data only, once per local shard group
 * (store/shards.c): the messages go to this node's outbox.
 */
int64
wl_expand_batches(int max_batches)
{
	WlLocalShards here;

	if (!wl_local_shards(&here))
		return expand_here(max_batches);
	return wl_shards_each(&here, expand_here, max_batches);
}

/* The expansion on the tables (or the shard group) the statements name. */
static int64
expand_here(int64 max)
{
	int			max_batches = (int) max;
	int64		total = 0;
	bool		have_batches;
	int			nest = wl_index_scans(false);
	WlConfirmCursor after = WL_CONFIRM_START;

	wl_exec(&q_pending_work, NULL, NULL, SPI_OK_SELECT, 0);
	have_batches = wl_get_bool(0, 1);
	if (wl_get_bool(0, 2))
		total = wl_expand_confirmations(Min(max_batches, WL_CONFIRM_CHUNK), &after);
	if (have_batches)
		total += expand_guarded(&batch_work, max_batches);
	wl_scans_restore(nest);
	if (total > 0)
		wl_note_messages();
	return total;
}
