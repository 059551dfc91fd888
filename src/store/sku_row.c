/*
 * sku_row.c
 *	  The one owner of the waitlist.sku row: every statement that reads,
 *	  locks or updates it is here, and every result is read by column name
 *	  into a WlSku (wl_sku_from_tuple).
 *
 * Callers are connected to SPI.  The row's datums point into the SPI result
 * and live until the caller's next statement or SPI_finish.
 *
 * Locking: the functions that lock (FOR UPDATE, or an UPDATE) are the
 * SKU-row-first step of the lock order: callers take the SKU's turn in its
 * lock queue first (wl_sku_wait_turn), then the row, then its lines.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "store/now.h"
#include "store/spi.h"
#include "store/sku_row.h"
#include "txn/sku_queue.h"
#include "waitlist.h"

/* Column names, in WlSkuCol order. */
static const char *const col_names[SKU_NCOLS] = {
	"id", "sku", "title", "status", "on_hand", "allocated", "restock_date",
	"restock_confirmed", "product_url", "image_url", "notify_ratio",
	"send_sold_out_again", "confirm_signups", "paid_tail", "paid_served", "sub_tail",
	"sub_served", "announced", "paid_waiting", "sub_waiting", "planned_production",
	"preorder_limit", "preorders_open", "preorder_accepted", "preorder_at_limit",
	"preorder_limit_hits",
	"production_date", "ships_on", "payment_mode", "preorder_terms", "channel_limits",
	"channels", "backorder_days", "out_of_stock_days", "min_demand", "max_backorder_units",
	"status_interval", "midwait_fraction", "imminent_days", "email_delay", "eta_to_signups",
	"passed_restock", "passed_ships", "hold_window", "held",
	"in_stock_since", "last_sellout", "wave_start", "missed_note_at", "missed_from", "missed_to"
};

/*
 * Where the columns are in a result layout (attribute numbers, 0: absent).
 * A few layouts are kept (the statements here return the whole row, some
 * with a column or two more), each checked against the result by name.
 */
typedef struct SkuMap
{
	int			natts;			/* 0: unused */
	AttrNumber	att[SKU_NCOLS];
} SkuMap;

#define SKU_MAPS 4
static SkuMap maps[SKU_MAPS];
static int	next_map = 0;

/* Is map still the layout of desc? */
static bool
map_fits(const SkuMap *map, TupleDesc desc)
{
	if (desc->natts != map->natts)
		return false;
	for (int c = 0; c < SKU_NCOLS; c++)
		if (map->att[c] > 0 &&
			strcmp(NameStr(TupleDescAttr(desc, map->att[c] - 1)->attname), col_names[c]) != 0)
			return false;
	return true;
}

/* The map of desc's columns by name (the first column of each name counts). */
static const SkuMap *
map_of(TupleDesc desc)
{
	SkuMap	   *map;

	for (int i = 0; i < SKU_MAPS; i++)
		if (map_fits(&maps[i], desc))
			return &maps[i];
	map = &maps[next_map];
	next_map = (next_map + 1) % SKU_MAPS;
	for (int c = 0; c < SKU_NCOLS; c++)
	{
		map->att[c] = 0;
		for (int a = 0; a < desc->natts && map->att[c] == 0; a++)
			if (!TupleDescAttr(desc, a)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(desc, a)->attname), col_names[c]) == 0)
				map->att[c] = a + 1;
	}
	map->natts = desc->natts;
	return map;
}

/* Read a sku row (any result that has its columns, by name). */
void
wl_sku_from_tuple(HeapTuple tup, TupleDesc desc, WlSku *s)
{
	const SkuMap *map = map_of(desc);
	Datum	   *v = palloc(sizeof(Datum) * desc->natts);
	bool	   *n = palloc(sizeof(bool) * desc->natts);

	heap_deform_tuple(tup, desc, v, n);
	for (int c = 0; c < SKU_NCOLS; c++)
	{
		s->values[c] = map->att[c] ? v[map->att[c] - 1] : (Datum) 0;
		s->nulls[c] = map->att[c] ? n[map->att[c] - 1] : true;
	}
	pfree(v);
	pfree(n);
}

/* Row `row` of the last SPI result as a sku row. */
static void
read_result(uint64 row, WlSku *s)
{
	wl_sku_from_tuple(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, s);
}

/* A bigint (or integer) column; NULL reads as 0. */
int64
wl_sku_int64(const WlSku *s, WlSkuCol c)
{
	return s->nulls[c] ? 0 : DatumGetInt64(s->values[c]);
}

/* An integer column, or if_null. */
int32
wl_sku_int32(const WlSku *s, WlSkuCol c, int32 if_null)
{
	return s->nulls[c] ? if_null : DatumGetInt32(s->values[c]);
}

/* A boolean column; NULL reads as false. */
bool
wl_sku_bool(const WlSku *s, WlSkuCol c)
{
	return !s->nulls[c] && DatumGetBool(s->values[c]);
}

/* A text column as a C string, or NULL. */
char *
wl_sku_text(const WlSku *s, WlSkuCol c)
{
	return s->nulls[c] ? NULL : TextDatumGetCString(s->values[c]);
}

/* Does a text column hold exactly value (no copy)? */
bool
wl_sku_text_is(const WlSku *s, WlSkuCol c, const char *value)
{
	return !s->nulls[c] && wl_text_equals(s->values[c], value);
}

/* A date column: false when NULL. */
bool
wl_sku_date(const WlSku *s, WlSkuCol c, DateADT *d)
{
	*d = s->nulls[c] ? 0 : DatumGetDateADT(s->values[c]);
	return !s->nulls[c];
}

/* A numeric column as a double (NULL reads as 0). */
double
wl_sku_float8(const WlSku *s, WlSkuCol c)
{
	if (s->nulls[c])
		return 0;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, s->values[c]));
}

/*
 * Units on hand neither allocated nor held for a sign-up (negative after a
 * stock count went down).
 */
int64
wl_sku_free_units(const WlSku *s)
{
	return wl_sku_int64(s, SKU_ON_HAND) - wl_sku_int64(s, SKU_ALLOCATED) - wl_sku_int64(s, SKU_HELD);
}

/* Pre-order units still open to take, or 0. */
int64
wl_sku_preorder_room(const WlSku *s)
{
	if (!wl_sku_bool(s, SKU_PREORDERS_OPEN))
		return 0;
	return Max(wl_sku_int64(s, SKU_PREORDER_LIMIT) - wl_sku_int64(s, SKU_PREORDER_ACCEPTED), 0);
}

/* ---------- finding and locking ---------- */

/* The unknown-SKU refusal (WL001). */
void
wl_error_unknown_sku(const char *sku)
{
	ereport(ERROR,
			(errcode(WL_ERRCODE_UNKNOWN_SKU),
			 errmsg("unknown SKU \"%s\"", sku),
			 errhint("Register it first with waitlist.upsert_sku().")));
}

/* The discontinued-SKU refusal (WL002). */
void
wl_error_discontinued(const char *sku)
{
	ereport(ERROR,
			(errcode(WL_ERRCODE_SKU_DISCONTINUED),
			 errmsg("SKU \"%s\" is discontinued", sku)));
}

/*
 * Wait for this transaction's turn at the SKU (txn/sku_queue.c) by code.
 */
void
wl_sku_wait_turn(const char *code)
{
	wl_wait_turn(code);
}

static WlQuery q_by_code = {
	"SELECT * FROM waitlist.sku WHERE sku = $1", 1, {TEXTOID}, NULL
};

static WlQuery q_lock_by_code = {
	"SELECT * FROM waitlist.sku WHERE sku = $1 FOR UPDATE", 1, {TEXTOID}, NULL
};

/* Read (and lock) the SKU by code; false when there is none. */
bool
wl_sku_find(const char *code, bool lock, WlSku *s)
{
	Datum		arg = CStringGetTextDatum(code);

	if (wl_exec(lock ? &q_lock_by_code : &q_by_code, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		return false;
	read_result(0, s);
	return true;
}

/* Lock the SKU by code; an unknown SKU is refused. */
void
wl_sku_lock(const char *code, WlSku *s)
{
	if (!wl_sku_find(code, true, s))
		wl_error_unknown_sku(code);
}

/* Read (and lock) a SKU the caller knows exists (by code). */
void
wl_sku_get(const char *sku, bool lock, WlSku *s)
{
	if (!wl_sku_find(sku, lock, s))
		elog(ERROR, "waitlist: SKU \"%s\" vanished", sku);
}

/* Run an UPDATE ... RETURNING * with args; true (and *s) when a row changed. */
static bool
update_row(WlQuery *q, Datum *args, const char *nulls, WlSku *s)
{
	if (wl_exec(q, args, nulls, SPI_OK_UPDATE_RETURNING, 0) == 0)
		return false;
	if (s)
		read_result(0, s);
	return true;
}

/* ---------- supply and settings ---------- */

/* Supply changes return what their callers read (by name, like every row here). */
static WlQuery q_restock = {
	"UPDATE waitlist.sku SET on_hand = on_hand + $2, updated_at = waitlist.now()"
	" WHERE sku = $1 RETURNING id, sku, on_hand",
	2, {TEXTOID, INT8OID}, NULL
};

static WlQuery q_set_on_hand = {
	"UPDATE waitlist.sku SET on_hand = $2, updated_at = waitlist.now()"
	" WHERE sku = $1 RETURNING id, sku, on_hand",
	2, {TEXTOID, INT8OID}, NULL
};

/* Add qty units, or set the units on hand (absolute); false for an unknown SKU. */
bool
wl_sku_change_supply(const char *code, int64 qty, bool absolute, WlSku *s)
{
	Datum		args[2] = {CStringGetTextDatum(code), Int64GetDatum(qty)};

	return update_row(absolute ? &q_set_on_hand : &q_restock, args, NULL, s);
}

/*
 * Move the units on hand by delta for a tracked inventory table; false for
 * an unknown SKU.  Going below zero, or past the largest bigint, is refused.
 */
bool
wl_sku_move_on_hand(const char *code, int64 delta, WlSku *s)
{
	int64		on_hand;
	int64		after;

	if (!wl_sku_find(code, true, s))
		return false;
	on_hand = wl_sku_int64(s, SKU_ON_HAND);
	if (pg_add_s64_overflow(on_hand, delta, &after))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("units on hand for SKU \"%s\" would pass the largest bigint", code),
				 errdetail("waitlist knows " INT64_FORMAT " units; the change is " INT64_FORMAT ".",
						   on_hand, delta)));
	if (after < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("units on hand for SKU \"%s\" would go below zero", code),
				 errdetail("waitlist knows " INT64_FORMAT " units; the change is " INT64_FORMAT ".",
						   on_hand, delta),
				 errhint("Quantities in a tracked inventory table must not be negative.")));
	return wl_sku_change_supply(code, delta, false, s);
}

static WlQuery q_upsert = {
	"INSERT INTO waitlist.sku AS k (sku, title, status, restock_date, restock_confirmed,"
	"  product_url, image_url, notify_ratio, send_sold_out_again, confirm_signups)"
	" VALUES ($1, $2, coalesce($3, 'active'), $4, coalesce($5, false), $6, $7,"
	"  coalesce($8, 1.0), coalesce($9, true), coalesce($10, true))"
	" ON CONFLICT (sku) DO UPDATE SET"
	"  title = coalesce($2, k.title), status = coalesce($3, k.status),"
	"  restock_date = coalesce($4, k.restock_date),"
	"  restock_confirmed = coalesce($5, k.restock_confirmed),"
	"  product_url = coalesce($6, k.product_url), image_url = coalesce($7, k.image_url),"
	"  notify_ratio = coalesce($8, k.notify_ratio),"
	"  send_sold_out_again = coalesce($9, k.send_sold_out_again),"
	"  confirm_signups = coalesce($10, k.confirm_signups), updated_at = $11,"
	/* a SKU that is no longer upcoming takes no more pre-orders */
	"  preorders_open = k.preorders_open AND coalesce($3, k.status) = 'upcoming',"
	"  preorder_terms = k.preorder_terms"
	"   + CASE WHEN k.preorders_open AND coalesce($3, k.status) <> 'upcoming' THEN 1 ELSE 0 END"
	" RETURNING k.*",
	11, {TEXTOID, TEXTOID, TEXTOID, DATEOID, BOOLOID, TEXTOID, TEXTOID, NUMERICOID,
		BOOLOID, BOOLOID, TIMESTAMPTZOID}, NULL
};

/* Create or change a SKU (q_upsert's first ten arguments, now() added); returns the row. */
HeapTuple
wl_sku_upsert(Datum *args, const char *nulls)
{
	Datum		all[11];
	char		alln[12];

	memcpy(all, args, sizeof(Datum) * 10);
	memcpy(alln, nulls, 10);
	all[10] = wl_now();
	alln[10] = ' ';
	alln[11] = '\0';
	wl_exec(&q_upsert, all, alln, SPI_OK_INSERT_RETURNING, 0);
	return SPI_copytuple(SPI_tuptable->vals[0]);
}

static WlQuery q_set_listings = {
	"UPDATE waitlist.sku SET channels = $2, updated_at = waitlist.now() WHERE sku = $1 RETURNING *",
	2, {TEXTOID, TEXTARRAYOID}, NULL
};

/* Store the channels the SKU is listed on (unlisted: nowhere); false when unknown. */
bool
wl_sku_set_listings(const char *code, Datum channels, bool unlisted, WlSku *s)
{
	Datum		args[2] = {CStringGetTextDatum(code), channels};
	char		nulls[3] = {' ', unlisted ? 'n' : ' ', '\0'};

	return update_row(&q_set_listings, args, nulls, s);
}

static WlQuery q_set_policy = {
	"UPDATE waitlist.sku AS k SET backorder_days = $2, out_of_stock_days = $3, min_demand = $4,"
	" max_backorder_units = $5, updated_at = waitlist.now() WHERE sku = $1 RETURNING k.*",
	5, {TEXTOID, INT4OID, INT4OID, INT4OID, INT8OID}, NULL
};

/* Store the SKU's own policy thresholds; the row, or NULL when unknown. */
HeapTuple
wl_sku_set_policy(const char *code, Datum *args, const char *nulls)
{
	args[0] = CStringGetTextDatum(code);
	if (wl_exec(&q_set_policy, args, nulls, SPI_OK_UPDATE_RETURNING, 0) == 0)
		return NULL;
	return SPI_copytuple(SPI_tuptable->vals[0]);
}

static WlQuery q_set_schedule = {
	"UPDATE waitlist.sku AS k SET status_interval = $2, midwait_fraction = $3, imminent_days = $4,"
	" email_delay = $5, eta_to_signups = $6, updated_at = waitlist.now() WHERE sku = $1 RETURNING k.*",
	6, {TEXTOID, INTERVALOID, NUMERICOID, INT4OID, INTERVALOID, BOOLOID}, NULL
};

/* Store the SKU's own message schedule; the row, or NULL when unknown. */
HeapTuple
wl_sku_set_schedule(const char *code, Datum *args, const char *nulls)
{
	args[0] = CStringGetTextDatum(code);
	if (wl_exec(&q_set_schedule, args, nulls, SPI_OK_UPDATE_RETURNING, 0) == 0)
		return NULL;
	return SPI_copytuple(SPI_tuptable->vals[0]);
}

static WlQuery q_waiting = {
	"SELECT (s.sub_tail - s.sub_served)"
	"  - (SELECT count(*) FROM waitlist.subscriber u"
	"     WHERE u.sku = s.sku AND u.state <> 'waiting' AND u.pos >= s.sub_served)"
	"  + (SELECT count(*) FROM waitlist.line l"
	"     WHERE l.sku = s.sku AND l.state = 'waiting' AND l.pos_end > s.paid_served)"
	" FROM waitlist.sku s WHERE s.sku = $1",
	1, {TEXTOID}, NULL
};

/* People and paid lines waiting for the SKU. */
int64
wl_sku_waiting_count(const char *code, bool *found)
{
	Datum		arg = CStringGetTextDatum(code);

	*found = wl_exec(&q_waiting, &arg, NULL, SPI_OK_SELECT, 0) > 0;
	return *found ? wl_get_int64(0, 1, NULL) : 0;
}

/*
 * Set the units on hand of every SKU in units_query (its columns sku and
 * units, built by the caller with quoted identifiers) that differs; the ids
 * changed are left in SPI_tuptable.
 */
uint64
wl_sku_sync_on_hand(const char *units_query)
{
	char	   *sql = psprintf("UPDATE waitlist.sku s SET on_hand = t.units, updated_at = waitlist.now()"
							   " FROM (%s) t"
							   " WHERE s.sku = t.sku AND s.on_hand <> t.units RETURNING s.sku",
							   units_query);

	if (SPI_execute(sql, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "waitlist: could not synchronise units on hand");
	return SPI_processed;
}

/* ---------- queues ---------- */

/*
 * A backorder's positions; the SKU's backorder_status rounds start a status
 * interval after the first backorder that waits ($4 now, $3
 * waitlist.status_interval in seconds for a SKU without its own).  LEAST
 * keeps a round already due sooner, and takes the new one when none is:
 * Citus refuses a COALESCE or CASE holding a function that is not
 * immutable (timestamptz + interval is stable).
 */
#define STATUS_ROUNDS_START \
	" next_status_at = least(next_status_at," \
	"  $4 + coalesce(status_interval, make_interval(secs => $3)))"

static WlQuery q_take_paid = {
	"UPDATE waitlist.sku SET paid_tail = paid_tail + $2, paid_waiting = paid_waiting + $2,"
	STATUS_ROUNDS_START
	" WHERE sku = $1"
	" RETURNING paid_tail - $2",
	4, {TEXTOID, INT8OID, FLOAT8OID, TIMESTAMPTZOID}, NULL
};

/* Take qty positions at the end of the paid queue for a backorder; returns the first. */
int64
wl_sku_take_paid(const char *sku, int64 qty)
{
	Datum		args[4] = {CStringGetTextDatum(sku), Int64GetDatum(qty),
	Float8GetDatum((double) wl_status_interval_s), wl_now()};

	wl_exec(&q_take_paid, args, NULL, SPI_OK_UPDATE_RETURNING, 1);
	return wl_get_int64(0, 1, NULL);
}

static WlQuery q_close_line = {
	"UPDATE waitlist.sku SET allocated = allocated - $2, on_hand = on_hand - $3,"
	" paid_waiting = paid_waiting - $4, updated_at = waitlist.now() WHERE sku = $1",
	4, {TEXTOID, INT8OID, INT8OID, INT8OID}, NULL
};

/*
 * A line closed: the units it held leave the allocation (unallocate), the
 * units shipped leave the stock (unstock), the rest leave the queue.
 */
void
wl_sku_close_line(const char *sku, int64 unallocate, int64 unstock, int64 unqueue)
{
	Datum		args[4] = {CStringGetTextDatum(sku), Int64GetDatum(unallocate),
	Int64GetDatum(unstock), Int64GetDatum(unqueue)};

	wl_exec(&q_close_line, args, NULL, SPI_OK_UPDATE, 0);
}

/* A sign-up is the hottest call: the row returns only what it reads. */
static WlQuery q_take_signup = {
	"UPDATE waitlist.sku SET sub_tail = sub_tail + 1, sub_waiting = sub_waiting + 1"
	" WHERE sku = $1 RETURNING id, sku, status, on_hand, allocated, held, announced, sub_tail, sub_served,"
	"  confirm_signups, preorders_open, preorder_limit, preorder_accepted, channels",
	1, {TEXTOID}, NULL
};

/*
 * Take the next sign-up position (locks the row): it is sub_tail - 1 of
 * the row returned.  False for an unknown SKU.
 */
bool
wl_sku_take_signup(const char *code, WlSku *s)
{
	Datum		arg = CStringGetTextDatum(code);

	return update_row(&q_take_signup, &arg, NULL, s);
}

static WlQuery q_give_back_signup = {
	"UPDATE waitlist.sku SET sub_tail = sub_tail - 1, sub_waiting = sub_waiting - 1 WHERE sku = $1",
	1, {TEXTOID}, NULL
};

/* Give the position just taken back (the row is still locked). */
void
wl_sku_give_back_signup(const char *sku)
{
	Datum		arg = CStringGetTextDatum(sku);

	wl_exec(&q_give_back_signup, &arg, NULL, SPI_OK_UPDATE, 0);
}

/*
 * The row is updated, not only locked, so that a REPEATABLE READ
 * transaction that changes the SKU concurrently fails with a serialization
 * error instead of allocating on a snapshot that misses this change.
 */
static WlQuery q_mark_changed = {
	"UPDATE waitlist.sku SET updated_at = waitlist.now() WHERE sku = $1",
	1, {TEXTOID}, NULL
};

/* Lock the row by updating it. */
void
wl_sku_mark_changed(const char *sku)
{
	Datum		arg = CStringGetTextDatum(sku);

	wl_exec(&q_mark_changed, &arg, NULL, SPI_OK_UPDATE, 0);
}

/*
 * Sign-ups of sku that left the list (their ids: column col of the n rows
 * the last statement returned) leave the confirmation queue, so that a
 * waitlist_joined not written yet never is.  The expansion takes queue rows
 * FOR UPDATE SKIP LOCKED before it reads the sign-ups: either it holds the
 * row (this DELETE waits, and the confirmation it writes came before the
 * sign-up left) or it never sees it.
 */
static WlQuery q_unqueue = {
	"DELETE FROM waitlist.unconfirmed_signup WHERE sku = $1 AND id = ANY ($2)",
	2, {TEXTOID, INT8ARRAYOID}, NULL
};

void
wl_sku_unqueue_signups(const char *sku, uint64 n, int col)
{
	Datum	   *ids;
	Datum		args[2];

	if (n == 0)
		return;
	ids = palloc(sizeof(Datum) * n);
	for (uint64 i = 0; i < n; i++)
		ids[i] = Int64GetDatum(wl_get_int64(i, col, NULL));
	args[0] = CStringGetTextDatum(sku);
	args[1] = PointerGetDatum(construct_array(ids, (int) n, INT8OID, sizeof(int64),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	wl_exec(&q_unqueue, args, NULL, SPI_OK_DELETE, 0);
	pfree(ids);
}

/* One sign-up fewer waiting, unless the wave already passed its place. */
static WlQuery q_signup_left = {
	"UPDATE waitlist.sku SET sub_waiting = sub_waiting - 1 WHERE sku = $1 AND sub_served <= $2"
	" RETURNING *",
	2, {TEXTOID, INT8OID}, NULL
};

/* A sign-up at pos left the queue; true (and *s) when it was still waiting to be told. */
bool
wl_sku_signup_left(const char *sku, int64 pos, WlSku *s)
{
	Datum		args[2] = {CStringGetTextDatum(sku), Int64GetDatum(pos)};

	return update_row(&q_signup_left, args, NULL, s);
}

static WlQuery q_store_allocation = {
	"UPDATE waitlist.sku SET allocated = $2, paid_served = $3, sub_served = $4,"
	" announced = $5, paid_waiting = $6, sub_waiting = $7, held = $8, paid_tail = $9,"
	" updated_at = waitlist.now() WHERE sku = $1",
	9, {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID}, NULL
};

/* Write the allocator's counters back. */
void
wl_sku_store_allocation(const WlSku *s)
{
	static const WlSkuCol cols[9] = {SKU_CODE, SKU_ALLOCATED, SKU_PAID_SERVED, SKU_SUB_SERVED,
	SKU_ANNOUNCED, SKU_PAID_WAITING, SKU_SUB_WAITING, SKU_HELD, SKU_PAID_TAIL};
	Datum		args[9];

	args[0] = s->values[SKU_CODE];
	for (int i = 1; i < 9; i++)
		args[i] = Int64GetDatum(wl_sku_int64(s, cols[i]));
	wl_exec(&q_store_allocation, args, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_signups_gone = {
	"UPDATE waitlist.sku SET sub_waiting = sub_waiting - $2 WHERE sku = $1",
	2, {TEXTOID, INT8OID}, NULL
};

/* n sign-ups not told yet left the list at once (expired; the row is locked). */
void
wl_sku_signups_gone(const char *sku, int64 n)
{
	Datum		args[2] = {CStringGetTextDatum(sku), Int64GetDatum(n)};

	wl_exec(&q_signups_gone, args, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_mark_on_sale = {
	"UPDATE waitlist.sku SET in_stock_since = $3, wave_start = $2 WHERE sku = $1",
	3, {TEXTOID, INT8OID, TIMESTAMPTZOID}, NULL
};

/*
 * The sell-out history: a sale period opens, and closes at the sell-out.
 * The time is the transaction's, and a transaction that began earlier can
 * commit later: a period never closes before it opened, nor opens before
 * the last one closed (the open time is computed here, not in the INSERT:
 * one plain statement on the SKU's shard on Citus).
 */
static WlQuery q_period_last = {
	"SELECT max(sold_out_at) FROM waitlist.sale_period WHERE sku = $1",
	1, {TEXTOID}, NULL
};

static WlQuery q_period_open = {
	"INSERT INTO waitlist.sale_period (sku, on_sale_at) VALUES ($1, $2)"
	" ON CONFLICT (sku, on_sale_at) DO UPDATE SET sold_out_at = NULL",
	2, {TEXTOID, TIMESTAMPTZOID}, NULL
};

static WlQuery q_period_close = {
	"UPDATE waitlist.sale_period SET sold_out_at = greatest(on_sale_at, $2)"
	" WHERE sku = $1 AND sold_out_at IS NULL",
	2, {TEXTOID, TIMESTAMPTZOID}, NULL
};

/*
 * Units went on sale; wave_start is the sign-up watermark before the waves
 * that tell people about them.  A sale period opens in the history.  The
 * row is locked (the allocator).
 */
void
wl_sku_mark_on_sale(const char *sku, int64 wave_start)
{
	Datum		now = wl_now();
	Datum		args[3] = {CStringGetTextDatum(sku), Int64GetDatum(wave_start), now};
	Datum		period[2] = {args[0], now};
	Datum		last;
	bool		isnull;

	wl_exec(&q_mark_on_sale, args, NULL, SPI_OK_UPDATE, 0);
	wl_exec(&q_period_last, period, NULL, SPI_OK_SELECT, 1);
	last = wl_get_datum(0, 1, &isnull);
	if (!isnull && DatumGetTimestampTz(last) > DatumGetTimestampTz(now))
		period[1] = last;
	wl_exec(&q_period_open, period, NULL, SPI_OK_INSERT, 0);
}

/*
 * $2, $3: the positions of the people who keep their place; $4 when their
 * note is due (NULL: none); $5 now.  The times are computed by the caller:
 * Citus refuses a STABLE function (timestamptz + interval, waitlist.now())
 * inside CASE in an UPDATE of a distributed table.
 */
static WlQuery q_mark_sold_out = {
	"UPDATE waitlist.sku SET last_sellout = greatest($5 - in_stock_since, interval '0'),"
	" in_stock_since = NULL, wave_start = NULL,"
	" missed_note_at = CASE WHEN $4 IS NULL THEN missed_note_at ELSE $4 END,"
	" missed_from = CASE WHEN $4 IS NULL THEN missed_from WHEN missed_note_at IS NULL THEN $2"
	"  ELSE least(missed_from, $2) END,"
	" missed_to = CASE WHEN $4 IS NULL THEN missed_to WHEN missed_note_at IS NULL THEN $3"
	"  ELSE greatest(missed_to, $3) END,"
	" missed_since = CASE WHEN $4 IS NULL OR missed_note_at IS NOT NULL THEN missed_since"
	"  ELSE $5 END"
	" WHERE sku = $1",
	5, {TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}, NULL
};

/*
 * The last unit on sale was allocated: the SKU was on sale from
 * in_stock_since to now (last_sellout).  When people told since did not buy
 * (positions [missed_from, missed_to), missed_to > missed_from), their
 * missed_out note is due note_after_s from now (< 0: no note); the note
 * also goes to those who left the list at this sell-out or one before it
 * whose note is still due (missed_since): the positions then span both.  The row is locked (the
 * allocator).
 */
void
wl_sku_mark_sold_out(const char *sku, int64 missed_from, int64 missed_to, double note_after_s)
{
	Datum		now = wl_now();
	Datum		args[5] = {CStringGetTextDatum(sku), Int64GetDatum(missed_from),
	Int64GetDatum(missed_to), (Datum) 0, now};
	Datum		period[2];
	char		nulls[6] = "     ";

	if (missed_to <= missed_from || note_after_s < 0)
		nulls[3] = 'n';
	else
		args[3] = TimestampTzGetDatum(DatumGetTimestampTz(now) +
									  (int64) (note_after_s * USECS_PER_SEC));
	wl_exec(&q_mark_sold_out, args, nulls, SPI_OK_UPDATE, 0);
	period[0] = args[0];
	period[1] = now;
	wl_exec(&q_period_close, period, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_missed_done = {
	"UPDATE waitlist.sku SET missed_note_at = NULL, missed_from = NULL, missed_to = NULL,"
	" missed_since = NULL WHERE sku = $1",
	1, {TEXTOID}, NULL
};

/* The missed_out notes were written (the row is locked). */
void
wl_sku_missed_done(const char *sku)
{
	Datum		arg = CStringGetTextDatum(sku);

	wl_exec(&q_missed_done, &arg, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_add_imported = {
	"UPDATE waitlist.sku SET paid_tail = paid_tail + $2, paid_waiting = paid_waiting + $2,"
	" sub_tail = sub_tail + $3, sub_waiting = sub_waiting + $3 WHERE sku = $1",
	3, {TEXTOID, INT8OID, INT8OID}, NULL
};

/* The same for imported backorders: their status rounds start too. */
static WlQuery q_add_imported_paid = {
	"UPDATE waitlist.sku SET paid_tail = paid_tail + $2, paid_waiting = paid_waiting + $2,"
	STATUS_ROUNDS_START
	" WHERE sku = $1",
	4, {TEXTOID, INT8OID, FLOAT8OID, TIMESTAMPTZOID}, NULL
};

/* An import placed paid units and sign-ups at the end of the SKU's queues. */
void
wl_sku_add_imported(const char *sku, int64 paid_units, int64 signups)
{
	Datum		args[4] = {CStringGetTextDatum(sku), Int64GetDatum(paid_units), Int64GetDatum(signups),
	wl_now()};

	if (paid_units > 0 && signups == 0)
	{
		args[2] = Float8GetDatum((double) wl_status_interval_s);
		wl_exec(&q_add_imported_paid, args, NULL, SPI_OK_UPDATE, 0);
		return;
	}
	wl_exec(&q_add_imported, args, NULL, SPI_OK_UPDATE, 0);
}

/* ---------- pre-order plans ---------- */

static WlQuery q_set_at_limit = {
	"UPDATE waitlist.sku SET preorder_at_limit = $2,"
	" preorder_limit_hits = preorder_limit_hits + CASE WHEN $2 THEN 1 ELSE 0 END"
	" WHERE sku = $1 RETURNING *",
	2, {TEXTOID, BOOLOID}, NULL
};

/* Mark whether accepted units fill the limit; *s gets the row (preorder_limit_hits included). */
void
wl_sku_set_at_limit(const char *sku, bool at_limit, WlSku *s)
{
	Datum		args[2] = {CStringGetTextDatum(sku), BoolGetDatum(at_limit)};

	update_row(&q_set_at_limit, args, NULL, s);
}

static WlQuery q_store_plan = {
	"UPDATE waitlist.sku SET status = 'upcoming', planned_production = $2,"
	" preorder_cap_pct = trunc($3::numeric, 2),"
	" preorder_limit = floor($2 * trunc($3::numeric, 2) / 100)::bigint,"
	" preorders_open = true, production_date = $4, ships_on = $5, payment_mode = $6,"
	" deposit_pct = $7::numeric, deposit_amount = $8::numeric,"
	" preorder_terms = preorder_terms + 1, updated_at = waitlist.now()"
	" WHERE sku = $1 RETURNING *",
	8, {TEXTOID, INT8OID, TEXTOID, DATEOID, DATEOID, TEXTOID, TEXTOID, TEXTOID}, NULL
};

/* Store a pre-order plan (q_store_plan's arguments after the id); *s gets the row. */
void
wl_sku_store_plan(const char *sku, Datum *args, const char *nulls, WlSku *s)
{
	args[0] = CStringGetTextDatum(sku);
	update_row(&q_store_plan, args, nulls, s);
}

static WlQuery q_close_preorders = {
	"UPDATE waitlist.sku SET preorders_open = false, preorder_terms = preorder_terms + 1,"
	" updated_at = waitlist.now() WHERE sku = $1",
	1, {TEXTOID}, NULL
};

/* Stop taking pre-orders. */
void
wl_sku_close_preorders(const char *sku)
{
	Datum		arg = CStringGetTextDatum(sku);

	wl_exec(&q_close_preorders, &arg, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_reschedule = {
	"UPDATE waitlist.sku SET ships_on = $2, production_date = $3,"
	" preorder_terms = preorder_terms + 1, updated_at = waitlist.now() WHERE sku = $1",
	3, {TEXTOID, DATEOID, DATEOID}, NULL
};

/* Move the plan's dates. */
void
wl_sku_reschedule(const char *sku, DateADT ships, Datum production)
{
	Datum		args[3] = {CStringGetTextDatum(sku), DateADTGetDatum(ships), production};

	wl_exec(&q_reschedule, args, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_channel_limits = {
	"UPDATE waitlist.sku SET channel_limits = EXISTS"
	" (SELECT 1 FROM waitlist.preorder_channel c WHERE c.sku = $1) WHERE sku = $1",
	1, {TEXTOID}, NULL
};

/* Note whether some channel has its own pre-order limit for the SKU. */
void
wl_sku_refresh_channel_limits(const char *sku)
{
	Datum		arg = CStringGetTextDatum(sku);

	wl_exec(&q_channel_limits, &arg, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_give_back_preorder = {
	"UPDATE waitlist.sku SET preorder_accepted = preorder_accepted - $2,"
	" paid_tail = paid_tail - CASE WHEN $3 THEN $2 ELSE 0 END,"
	" paid_waiting = paid_waiting - CASE WHEN $3 THEN $2 ELSE 0 END"
	" WHERE sku = $1 RETURNING *",
	3, {TEXTOID, INT8OID, BOOLOID}, NULL
};

/*
 * Pre-order units go back to the cap: a cancelled line's (its positions
 * stay, a hole), or units just taken by a retried order (positions too,
 * under the same lock, so nobody took positions after them).
 */
void
wl_sku_give_back_preorder(const char *sku, int64 qty, bool positions, WlSku *s)
{
	Datum		args[3] = {CStringGetTextDatum(sku), Int64GetDatum(qty), BoolGetDatum(positions)};

	update_row(&q_give_back_preorder, args, NULL, s);
}

/*
 * One statement takes the units and inserts the line, so the SKU row lock
 * is held for as little as possible: the one statement of this module that
 * writes another table, for that reason.  The units are taken
 * unconditionally and the limit is checked against the row updated: a
 * conditional WHERE would be judged on the snapshot and refuse at once,
 * without waiting for an in-flight cancellation that may free units,
 * whereas taking the row lock first means every placement is decided on the
 * latest committed state.  When the line is not inserted (a refusal, or an
 * earlier line of the same order), the caller raises, or gives the units
 * back.  The money is worked out from the SKU's payment terms as of the
 * updated row; the confirmation and payment event are written later, in
 * bulk, by claim() or tick(): the line is due for that at once
 * (action_at = now()); that confirmation also plans its first scheduled
 * note (next_note_at, domain/preorders.c), so the line is written once
 * more, not twice.
 *
 * The statement returns what a placement reads of the SKU row afterwards
 * (domain/preorders.c: place, require_preorder_channel and the policy's
 * channel check, refuse_slot, wl_place_preorder; domain/purchases.c:
 * wl_order_purchased), and nothing more: each column returned is a column
 * of every CTE scan and projection built for the statement, and with the
 * whole row (60 columns) that was a tenth of a placement's instructions,
 * all of it while the SKU's turn is held.
 */
#define PLACE_PREORDER_COLS \
	"id, sku, status, on_hand, allocated, held, sub_tail, channels, channel_limits, ships_on," \
	" preorders_open, preorder_limit, preorder_accepted, preorder_at_limit"

static WlQuery q_place_preorder = {
	"WITH u AS ("
	"  UPDATE waitlist.sku SET preorder_accepted = preorder_accepted + $6,"
	"   paid_tail = paid_tail + $6, paid_waiting = paid_waiting + $6, updated_at = waitlist.now()"
	"  WHERE sku = $1"
	"  RETURNING " PLACE_PREORDER_COLS ", payment_mode, deposit_pct, deposit_amount,"
	"   paid_tail - $6 AS pos, status = 'discontinued' AS gone),"
	" i AS ("
	"  INSERT INTO waitlist.line (sku, kind, order_ref, customer, email, phone, qty,"
	"   pos_start, pos_end, channel, unit_price, currency, amount, deposit, captured,"
	"   payment_mode, payment_state, authorized_until, confirm_pending, action_at,"
	"   promised_on)"
	"  SELECT u.sku, 'preorder', $2, $3, $4, $5, $6, u.pos, u.pos + $6, $7, $8::numeric, $9,"
	"   m.amount, CASE u.payment_mode WHEN 'deposit' THEN c.now END, c.now, u.payment_mode,"
	"   CASE u.payment_mode WHEN 'authorize' THEN 'authorized' WHEN 'full' THEN 'captured'"
	"    ELSE 'deposit_captured' END,"
	"   CASE u.payment_mode WHEN 'authorize' THEN $11 + make_interval(secs => $10) END,"
	"   true, $11, u.ships_on"
	"  FROM u"
	"  CROSS JOIN LATERAL (SELECT $8::numeric * $6 AS amount) m"
	"  CROSS JOIN LATERAL (SELECT CASE u.payment_mode WHEN 'full' THEN m.amount"
	"    WHEN 'deposit' THEN least(m.amount, coalesce("
	"     round(m.amount * u.deposit_pct / 100, greatest(scale($8::numeric), 2)),"
	"     u.deposit_amount * $6))"
	"    ELSE 0 END AS now) c"
	"  WHERE u.preorders_open AND NOT u.gone AND u.preorder_accepted <= u.preorder_limit"
	"  ON CONFLICT (sku, order_ref) DO NOTHING RETURNING id)"
	" SELECT " PLACE_PREORDER_COLS ", (SELECT id FROM i) AS line_id FROM u",
	11, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID,
		FLOAT8OID, TIMESTAMPTZOID}, NULL
};

/*
 * Place a pre-order line (q_place_preorder's eleven arguments, the last now()).  False for an
 * unknown SKU; else *s is the SKU row after taking the units and *line_id
 * the new line, or 0 when none was inserted.
 */
bool
wl_sku_place_preorder(Datum *args, const char *nulls, WlSku *s, int64 *line_id)
{
	bool		isnull;

	if (wl_exec(&q_place_preorder, args, nulls, SPI_OK_SELECT, 0) == 0)
		return false;
	read_result(0, s);
	*line_id = wl_get_int64(0, SPI_fnumber(SPI_tuptable->tupdesc, "line_id"), &isnull);
	return true;
}

/* The tracking block; the layout of waitlist.preorder_report. */
static WlQuery q_report = {
	"SELECT s.sku, st.status, s.planned_production, s.preorder_cap_pct::numeric,"
	"  s.preorder_limit, s.preorder_accepted,"
	"  greatest(s.preorder_limit - s.preorder_accepted, 0),"
	"  greatest(s.preorder_accepted - s.preorder_limit, 0),"
	"  s.production_date, s.ships_on,"
	"  s.payment_mode || CASE WHEN s.deposit_pct IS NOT NULL"
	"   THEN ' ' || trim_scale(s.deposit_pct) || '%'"
	"   WHEN s.deposit_amount IS NOT NULL THEN ' ' || s.deposit_amount || ' per unit'"
	"   ELSE '' END,"
	"  CASE WHEN s.planned_production IS NULL"
	"   THEN 'No pre-order plan for ' || s.sku || '.'"
	"   ELSE 'Total planned production: ' || s.planned_production || ' units' || E'\\n'"
	"    || 'Preorder limit (' || trim_scale(s.preorder_cap_pct) || '%): '"
	"    || s.preorder_limit || ' units' || E'\\n'"
	"    || 'Preorders received: ' || s.preorder_accepted || ' units' || E'\\n'"
	"    || 'Remaining preorder capacity: '"
	"    || greatest(s.preorder_limit - s.preorder_accepted, 0) || ' units' || E'\\n'"
	"    || 'Expected production date: ' || to_char(s.production_date, 'FMMonth FMDD, YYYY')"
	"    || E'\\n' || 'Expected ship date: ' || to_char(s.ships_on, 'FMMonth FMDD, YYYY')"
	"    || E'\\n' || 'Status: ' || st.status END"
	" FROM waitlist.sku s"
	" CROSS JOIN LATERAL (SELECT CASE"
	"   WHEN s.planned_production IS NULL THEN 'NO PREORDER PLAN'"
	"   WHEN s.preorder_accepted > s.preorder_limit THEN"
	"    'LIMIT REACHED (' || s.preorder_accepted - s.preorder_limit || ' over)'"
	"   WHEN s.preorder_accepted = s.preorder_limit THEN 'LIMIT REACHED'"
	"   WHEN NOT s.preorders_open THEN 'CLOSED'"
	"   ELSE 'ACCEPTING PREORDERS (' || s.preorder_limit - s.preorder_accepted"
	"    || ' remaining)' END AS status) st"
	" WHERE CASE WHEN $1 IS NULL THEN s.planned_production IS NOT NULL ELSE s.sku = $1 END"
	" ORDER BY s.sku",
	1, {TEXTOID}, NULL
};

/* The pre-order report rows of one SKU (or of every SKU with a plan), left in SPI_tuptable. */
uint64
wl_sku_preorder_report(const char *code)
{
	Datum		arg = wl_opt_text(code);

	return wl_exec(&q_report, &arg, code ? NULL : "n", SPI_OK_SELECT, 0);
}

/* ---------- sets of SKUs ---------- */

static WlQuery q_listed_on = {
	"SELECT sku FROM waitlist.sku WHERE $1 = ANY (channels) ORDER BY sku",
	1, {TEXTOID}, NULL
};

/* The codes of the SKUs listed on a channel, left in SPI_tuptable. */
uint64
wl_sku_codes_listed_on(const char *channel)
{
	Datum		arg = CStringGetTextDatum(channel);

	return wl_exec(&q_listed_on, &arg, NULL, SPI_OK_SELECT, 0);
}

static WlQuery q_to_recheck = {
	"SELECT s.sku FROM waitlist.sku s"
	" WHERE s.sku IN (SELECT DISTINCT a.sku FROM waitlist.availability a"
	"  WHERE a.checked_on < waitlist.now()::date ORDER BY 1 LIMIT $1)"
	" ORDER BY s.sku FOR UPDATE SKIP LOCKED",
	1, {INT4OID}, NULL
};

/*
 * Up to max listed SKUs whose published availability was last checked
 * before today, locked (others skipped), left in SPI_tuptable.
 */
uint64
wl_sku_codes_to_recheck(int max)
{
	Datum		arg = Int32GetDatum(max);

	return wl_exec(&q_to_recheck, &arg, NULL, SPI_OK_SELECT, 0);
}

/* ---------- the schedule (domain/schedule.c) ---------- */

/*
 * SKUs whose backorder_status round is due, oldest first, locked (others
 * skipped): sku, round (the number of the round to write), due_at (when
 * it was due), every (the SKU's interval).  $2: waitlist.status_interval.
 */
static WlQuery q_status_due = {
	"SELECT sku, coalesce(status_round, 0) + 1 AS round, next_status_at AS due_at,"
	" coalesce(status_interval, make_interval(secs => $2)) AS every"
	" FROM waitlist.sku WHERE next_status_at <= waitlist.now()"
	" ORDER BY next_status_at LIMIT $1 FOR UPDATE SKIP LOCKED",
	2, {INT4OID, FLOAT8OID}, NULL
};

/* Up to max SKUs whose status round is due (q_status_due), left in SPI_tuptable. */
uint64
wl_sku_codes_status_due(int max)
{
	Datum		args[2] = {Int32GetDatum(max), Float8GetDatum((double) wl_status_interval_s)};

	return wl_exec(&q_status_due, args, NULL, SPI_OK_SELECT, 0);
}

/*
 * A round done: count it; the next is due an interval after this one (an
 * interval from now when the clock is further on than that), or never while
 * no backorder waits (the next backorder starts the rounds again).
 */
static WlQuery q_status_every = {
	"SELECT next_status_at, coalesce(status_interval, make_interval(secs => $2))"
	" FROM waitlist.sku WHERE sku = $1",
	2, {TEXTOID, FLOAT8OID}, NULL
};

/*
 * $2 the next round (NULL: none).  Computed here: Citus refuses
 * timestamptz + interval (STABLE) on columns in an UPDATE of a distributed
 * table.
 */
static WlQuery q_status_done = {
	"UPDATE waitlist.sku SET status_round = coalesce(status_round, 0) + 1, next_status_at = $2"
	" WHERE sku = $1",
	2, {TEXTOID, TIMESTAMPTZOID}, NULL
};

/* Record the SKU's status round as done; more: backorders still wait. */
void
wl_sku_status_round_done(const char *sku, bool more)
{
	Datum		args[2] = {CStringGetTextDatum(sku), (Datum) 0};
	char		nulls[3] = " n";

	if (more)
	{
		Datum		every_args[2] = {args[0], Float8GetDatum((double) wl_status_interval_s)};
		Datum		now = wl_now();
		Datum		every;
		Datum		next;
		bool		isnull;

		wl_exec(&q_status_every, every_args, NULL, SPI_OK_SELECT, 1);
		every = wl_get_datum(0, 2, NULL);
		next = wl_get_datum(0, 1, &isnull);
		if (!isnull)
			next = DirectFunctionCall2(timestamptz_pl_interval, next, every);
		if (isnull || DatumGetTimestampTz(next) <= DatumGetTimestampTz(now))
			next = DirectFunctionCall2(timestamptz_pl_interval, now, every);
		args[1] = next;
		nulls[1] = ' ';
	}
	wl_exec(&q_status_done, args, nulls, SPI_OK_UPDATE, 1);
}

/*
 * SKUs whose confirmed restock date or pre-order ship date is before $2
 * (the clock's today) and not yet handled, locked (others skipped), whole
 * rows, read through the index sku_date_watch.
 */
static WlQuery q_dates_passed = {
	"SELECT k.* FROM waitlist.sku k WHERE k.sku = ANY (ARRAY("
	"  SELECT sku FROM waitlist.sku WHERE " WL_SKU_WATCHED " AND " WL_SKU_WATCH_DATE " < $2"
	"  ORDER BY " WL_SKU_WATCH_DATE " LIMIT $1))"
	" ORDER BY k.sku FOR UPDATE SKIP LOCKED",
	2, {INT4OID, DATEOID}, NULL
};

/* Up to max SKUs with a passed date to handle, left in SPI_tuptable (rows). */
uint64
wl_sku_with_dates_passed(int max, DateADT today)
{
	Datum		args[2] = {Int32GetDatum(max), DateADTGetDatum(today)};

	return wl_exec(&q_dates_passed, args, NULL, SPI_OK_SELECT, 0);
}

/* The passed dates (of those before $2, today) are handled: each alerts once. */
static WlQuery q_dates_seen = {
	"UPDATE waitlist.sku SET"
	" passed_restock = CASE WHEN restock_confirmed AND restock_date < $2"
	"  THEN restock_date ELSE passed_restock END,"
	" passed_ships = CASE WHEN ships_on < $2 THEN ships_on ELSE passed_ships END"
	" WHERE sku = $1",
	2, {TEXTOID, DATEOID}, NULL
};

/* Mark the SKU's passed dates as handled. */
void
wl_sku_dates_seen(const char *sku, DateADT today)
{
	Datum		args[2] = {CStringGetTextDatum(sku), DateADTGetDatum(today)};

	wl_exec(&q_dates_seen, args, NULL, SPI_OK_UPDATE, 1);
}

static WlQuery q_next_update = {
	"UPDATE waitlist.sku SET updates_posted = coalesce(updates_posted, 0) + 1 WHERE sku = $1"
	" RETURNING updates_posted",
	1, {TEXTOID}, NULL
};

/* Number the SKU's next production update (locks the row); false: unknown SKU. */
bool
wl_sku_next_update(const char *sku, int32 *number)
{
	Datum		arg = CStringGetTextDatum(sku);

	if (wl_exec(&q_next_update, &arg, NULL, SPI_OK_UPDATE_RETURNING, 1) == 0)
		return false;
	*number = DatumGetInt32(wl_get_datum(0, 1, NULL));
	return true;
}

/* ---------- holds (domain/holds.c) ---------- */

static WlQuery q_set_hold_window = {
	"UPDATE waitlist.sku SET hold_window = $2, updated_at = waitlist.now()"
	" WHERE sku = $1 RETURNING hold_window",
	2, {TEXTOID, INTERVALOID}, NULL
};

/* Set (or, off, clear) the SKU's hold window; returns it.  Unknown SKU: WL001. */
Datum
wl_sku_set_hold_window(const char *code, Datum window, bool off)
{
	Datum		args[2] = {CStringGetTextDatum(code), window};
	bool		isnull;
	Datum		d;

	if (wl_exec(&q_set_hold_window, args, off ? " n" : "  ",
				SPI_OK_UPDATE_RETURNING, 0) == 0)
		wl_error_unknown_sku(code);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? (Datum) 0 : SPI_datumTransfer(d, false, sizeof(Interval));
}

static WlQuery q_claim_held = {
	"UPDATE waitlist.sku SET held = held - 1, allocated = allocated + 1,"
	" updated_at = waitlist.now() WHERE sku = $1",
	1, {TEXTOID}, NULL
};

/* A held unit became a claimed line's allocation (the row is locked). */
void
wl_sku_claim_held(const char *sku)
{
	Datum		arg = CStringGetTextDatum(sku);

	wl_exec(&q_claim_held, &arg, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_release_held = {
	"UPDATE waitlist.sku SET held = held - $2, updated_at = waitlist.now() WHERE sku = $1",
	2, {TEXTOID, INT8OID}, NULL
};

/* Units whose holds ended unclaimed are free again (the row is locked). */
void
wl_sku_release_held(const char *sku, int64 units)
{
	Datum		args[2] = {CStringGetTextDatum(sku), Int64GetDatum(units)};

	wl_exec(&q_release_held, args, NULL, SPI_OK_UPDATE, 0);
}
