/*
 * lines.c
 *	  SQL API for paid lines: place_backorder, cancel_line, ship_line,
 *	  queue_position.  Pre-order placement and payments live in preorders.c;
 *	  cancelling or shipping a pre-order line calls into it.
 *
 * Locking: the SKU row first, then the line; placement, cancellation,
 * shipment and the commit-time allocator all follow that order, so they
 * serialize per SKU and never deadlock with each other.  A line's
 * allocation is derived from the SKU's paid watermark (see allocator.c).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "commit.h"
#include "lines.h"
#include "outbox.h"
#include "policy.h"
#include "preorders.h"
#include "spi_util.h"
#include "turn.h"
#include "validate.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_place_backorder);
PG_FUNCTION_INFO_V1(waitlist_cancel_line);
PG_FUNCTION_INFO_V1(waitlist_ship_line);
PG_FUNCTION_INFO_V1(waitlist_queue_position);

typedef struct LineSku
{
	int64		id;
	char	   *sku;
	char	   *title;
	char	   *eta;			/* confirmed restock date, or NULL */
	char	   *url;
	int64		paid_served;
	int64		waiting_units;	/* paid units queued and not yet allocated */
	int64		free_units;
	bool		discontinued;
	int64		on_hand;
	int64		preorder_room;	/* pre-order units still open to take, or 0 */
} LineSku;

typedef struct Line
{
	int64		id;
	int64		qty;
	int64		pos_start;
	int64		pos_end;
	char	   *state;
	char	   *order_ref;
	char	   *email;
	char	   *phone;
	bool		preorder;
} Line;

#define SKU_COLUMNS \
	"id, sku, title, CASE WHEN restock_confirmed THEN to_char(restock_date, 'YYYY-MM-DD') END," \
	" product_url, paid_served, paid_waiting, on_hand - allocated," \
	" status = 'discontinued', on_hand," \
	" CASE WHEN preorders_open THEN greatest(preorder_limit - preorder_accepted, 0) ELSE 0 END"

static WlQuery q_lock_by_sku = {
	"SELECT " SKU_COLUMNS " FROM waitlist.sku WHERE sku = $1 FOR UPDATE",
	1, {TEXTOID}, NULL
};

static WlQuery q_lock_by_id = {
	"SELECT " SKU_COLUMNS " FROM waitlist.sku WHERE id = $1 FOR UPDATE",
	1, {INT8OID}, NULL
};

/* Read the SKU columns of the current result row. */
static void
read_sku(LineSku *s)
{
	s->id = wl_get_int64(0, 1, NULL);
	s->sku = wl_get_text(0, 2);
	s->title = wl_get_text(0, 3);
	s->eta = wl_get_text(0, 4);
	s->url = wl_get_text(0, 5);
	s->paid_served = wl_get_int64(0, 6, NULL);
	s->waiting_units = wl_get_int64(0, 7, NULL);
	s->free_units = wl_get_int64(0, 8, NULL);
	s->discontinued = wl_get_bool(0, 9);
	s->on_hand = wl_get_int64(0, 10, NULL);
	s->preorder_room = wl_get_int64(0, 11, NULL);
}

/* ---------- place_backorder ---------- */

static WlQuery q_same_order = {
	"SELECT id, qty FROM waitlist.line WHERE sku_id = $1 AND order_ref = $2",
	2, {INT8OID, TEXTOID}, NULL
};

static WlQuery q_take_range = {
	"UPDATE waitlist.sku SET paid_tail = paid_tail + $2, paid_waiting = paid_waiting + $2"
	" WHERE id = $1"
	" RETURNING paid_tail - $2",
	2, {INT8OID, INT8OID}, NULL
};

static WlQuery q_insert_line = {
	"INSERT INTO waitlist.line (sku_id, kind, order_ref, customer, email, phone, qty,"
	"  pos_start, pos_end, channel)"
	" VALUES ($1, $8, $2, $3, $4, $5, $6, $7, $7 + $6, $9) RETURNING id",
	9, {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT8OID, TEXTOID, TEXTOID}, NULL
};

typedef WlOrderArgs OrderArgs;

/* Lock the SKU by code; unknown and discontinued SKUs are refused. */
static void
lock_sku_for_order(const char *sku, LineSku *s)
{
	Datum		arg = CStringGetTextDatum(sku);

	if (wl_exec(&q_lock_by_sku, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		wl_error_unknown_sku(sku);
	read_sku(s);
	if (s->discontinued)
		wl_error_discontinued(sku);
	if (s->preorder_room > 0 && s->free_units <= 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_PREORDERS_OPEN),
				 errmsg("SKU \"%s\" takes pre-orders, not backorders", sku),
				 errdetail("Backorders would bypass the pre-order limit."),
				 errhint("Use waitlist.place_preorder.")));
}

/*
 * Refuse what the availability policy does not allow on the channel: a
 * backorder is taken when the policy says backorder (or in stock: the line
 * is then allocated at commit).
 */
static void
require_backorder_policy(LineSku *s, OrderArgs *a)
{
	WlPolicy	p;

	wl_require_channel(a->channel);
	if (!wl_enforce_policy)
		return;
	wl_policy_of_sku(s->id, a->channel, a->qty, &p);
	if (p.decision != WL_BACKORDER && p.decision != WL_IN_STOCK)
		wl_policy_refuse(a->sku, a->channel, "backorders", &p);
}

/* An earlier line for the same order and SKU: its id (same qty) or an error. */
static int64
same_order(LineSku *s, OrderArgs *a)
{
	Datum		args[2] = {Int64GetDatum(s->id), CStringGetTextDatum(a->order_ref)};

	if (wl_exec(&q_same_order, args, NULL, SPI_OK_SELECT, 0) == 0)
		return 0;
	if (DatumGetInt32(wl_get_datum(0, 2, NULL)) != a->qty)
		ereport(ERROR,
				(errcode(WL_ERRCODE_DUPLICATE_ORDER),
				 errmsg("order \"%s\" already has a line for SKU \"%s\" with another quantity",
						a->order_ref, a->sku),
				 errdetail("Placing the same order line again returns the existing line; change it by cancelling and placing a new one.")));
	return wl_get_int64(0, 1, NULL);
}

/* Take positions and insert the line. */
static int64
insert_line(LineSku *s, OrderArgs *a, const char *kind)
{
	Datum		args[9];
	char		nulls[10] = "         ";
	int64		start;
	Datum		targs[2] = {Int64GetDatum(s->id), Int64GetDatum(a->qty)};

	wl_exec(&q_take_range, targs, NULL, SPI_OK_UPDATE_RETURNING, 0);
	start = wl_get_int64(0, 1, NULL);
	args[0] = Int64GetDatum(s->id);
	args[1] = CStringGetTextDatum(a->order_ref);
	args[2] = wl_opt_text(a->customer);
	args[3] = wl_opt_text(a->email);
	args[4] = wl_opt_text(a->phone);
	args[5] = Int32GetDatum(a->qty);
	args[6] = Int64GetDatum(start);
	args[7] = CStringGetTextDatum(kind);
	args[8] = CStringGetTextDatum(a->channel);
	nulls[2] = a->customer ? ' ' : 'n';
	nulls[3] = a->email ? ' ' : 'n';
	nulls[4] = a->phone ? ' ' : 'n';
	wl_exec(&q_insert_line, args, nulls, SPI_OK_INSERT_RETURNING, 0);
	return wl_get_int64(0, 1, NULL);
}

/*
 * The backorder_confirmed payload: ship date, order number, cancel option
 * (also written for imported lines, by import.c).
 */
char *
wl_backorder_confirmed_payload(const char *order_ref, int64 line_id, const char *sku,
							   const char *title, int32 qty, bool in_stock,
							   const char *eta, const char *url)
{
	WlJson		j;

	wl_json_init(&j);
	wl_json_str(&j, "order_ref", order_ref);
	wl_json_int(&j, "line_id", line_id);
	wl_json_str(&j, "sku", sku);
	wl_json_str(&j, "title", title);
	wl_json_int(&j, "qty", qty);
	wl_json_bool(&j, "in_stock", in_stock);
	wl_json_str(&j, "expected_ship_date", in_stock ? NULL : eta);
	wl_json_bool(&j, "cancel_allowed", true);
	wl_json_str(&j, "product_url", url);
	return wl_json_finish(&j);
}

/* Queue backorder_confirmed. */
static void
confirm_backorder(LineSku *s, OrderArgs *a, int64 line_id)
{
	char		key[64];
	bool		in_stock = s->free_units >= s->waiting_units + a->qty;

	snprintf(key, sizeof(key), "line:" INT64_FORMAT ":confirmed", line_id);
	wl_queue_contacts("backorder_confirmed", s->sku, a->email, a->phone,
					  wl_backorder_confirmed_payload(a->order_ref, line_id, s->sku, s->title,
													 a->qty, in_stock, s->eta, s->url),
					  key);
}

/* SQL: waitlist.place_backorder(order_ref, sku, qty, customer, email, phone) */
Datum
waitlist_place_backorder(PG_FUNCTION_ARGS)
{
	OrderArgs	a;
	LineSku		s;
	int64		id;

	wl_arg_order(fcinfo, &a, "backorder");
	SPI_connect();
	wl_wait_turn(a.sku);
	lock_sku_for_order(a.sku, &s);
	id = same_order(&s, &a);
	if (id == 0)
	{
		require_backorder_policy(&s, &a);
		id = insert_line(&s, &a, "backorder");
		confirm_backorder(&s, &a, id);
		wl_touch_sku(s.id);
	}
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* ---------- cancel_line, ship_line ---------- */

static WlQuery q_line_sku = {
	"SELECT sku_id FROM waitlist.line WHERE id = $1",
	1, {INT8OID}, NULL
};

static WlQuery q_lock_line = {
	"SELECT id, qty, pos_start, pos_end, state, order_ref, email, phone,"
	" kind = 'preorder' FROM waitlist.line WHERE id = $1 FOR UPDATE",
	1, {INT8OID}, NULL
};

/* Lock the line's SKU, then the line (that order). */
static void
lock_line(int64 line_id, LineSku *s, Line *l)
{
	Datum		arg = Int64GetDatum(line_id);
	Datum		sku_id;

	if (wl_exec(&q_line_sku, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_LINE),
				 errmsg("unknown line " INT64_FORMAT, line_id)));
	sku_id = wl_get_datum(0, 1, NULL);
	wl_wait_turn_id(DatumGetInt64(sku_id));
	wl_exec(&q_lock_by_id, &sku_id, NULL, SPI_OK_SELECT, 0);
	read_sku(s);
	wl_exec(&q_lock_line, &arg, NULL, SPI_OK_SELECT, 0);
	l->id = line_id;
	l->qty = DatumGetInt32(wl_get_datum(0, 2, NULL));
	l->pos_start = wl_get_int64(0, 3, NULL);
	l->pos_end = wl_get_int64(0, 4, NULL);
	l->state = wl_get_text(0, 5);
	l->order_ref = wl_get_text(0, 6);
	l->email = wl_get_text(0, 7);
	l->phone = wl_get_text(0, 8);
	l->preorder = wl_get_bool(0, 9);
}

/* Refuse lines that already shipped or were cancelled. */
static void
require_open(Line *l, const char *action)
{
	if (strcmp(l->state, "waiting") != 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_LINE_CLOSED),
				 errmsg("cannot %s line " INT64_FORMAT ": it is %s",
						action, l->id, l->state)));
}

/* Units the line holds under the current watermark. */
static int64
held_units(LineSku *s, Line *l)
{
	return Max(0, Min(l->qty, s->paid_served - l->pos_start));
}

static WlQuery q_close_line = {
	"UPDATE waitlist.line SET state = $2,"
	" cancelled_at = CASE WHEN $2 = 'cancelled' THEN now() END,"
	" shipped_at = CASE WHEN $2 = 'shipped' THEN now() END"
	" WHERE id = $1",
	2, {INT8OID, TEXTOID}, NULL
};

static WlQuery q_release_units = {
	"UPDATE waitlist.sku SET allocated = allocated - $2, on_hand = on_hand - $3,"
	" paid_waiting = paid_waiting - $4, updated_at = now() WHERE id = $1",
	4, {INT8OID, INT8OID, INT8OID, INT8OID}, NULL
};

/* Close a line and take its units off the SKU's counters. */
static void
close_line(LineSku *s, Line *l, const char *state, int64 unallocate, int64 unstock)
{
	Datum		largs[2] = {Int64GetDatum(l->id), CStringGetTextDatum(state)};
	/* the units it held leave the allocation, the rest leave the queue */
	Datum		sargs[4] = {Int64GetDatum(s->id), Int64GetDatum(unallocate),
	Int64GetDatum(unstock), Int64GetDatum(l->qty - unallocate)};

	wl_exec(&q_close_line, largs, NULL, SPI_OK_UPDATE, 0);
	wl_exec(&q_release_units, sargs, NULL, SPI_OK_UPDATE, 0);
}

/* Queue a message about a closed line. */
static void
line_message(LineSku *s, Line *l, const char *kind, int64 units)
{
	WlJson		j;
	char		key[64];

	wl_json_init(&j);
	wl_json_str(&j, "order_ref", l->order_ref);
	wl_json_int(&j, "line_id", l->id);
	wl_json_str(&j, "sku", s->sku);
	wl_json_str(&j, "title", s->title);
	wl_json_int(&j, "qty", l->qty);
	wl_json_int(&j, "units", units);
	wl_json_str(&j, "product_url", s->url);
	snprintf(key, sizeof(key), "line:" INT64_FORMAT ":%s", l->id, kind);
	wl_queue_contacts(kind, s->sku, l->email, l->phone, wl_json_finish(&j), key);
}

/* SQL: waitlist.cancel_line(line_id) */
Datum
waitlist_cancel_line(PG_FUNCTION_ARGS)
{
	int64		line_id = wl_arg_int64(fcinfo, 0, "line_id");
	LineSku		s;
	Line		l;
	int64		held;

	SPI_connect();
	lock_line(line_id, &s, &l);
	require_open(&l, "cancel");
	held = held_units(&s, &l);
	if (l.preorder)
		wl_preorder_confirm_pending(l.id);	/* before line_cancelled */
	close_line(&s, &l, "cancelled", held, 0);
	line_message(&s, &l, "line_cancelled", held);
	if (l.preorder)
		wl_preorder_cancelled(s.id, s.sku, l.id);
	wl_touch_sku(s.id);
	SPI_finish();
	PG_RETURN_INT32((int32) held);
}

/* SQL: waitlist.ship_line(line_id) */
Datum
waitlist_ship_line(PG_FUNCTION_ARGS)
{
	int64		line_id = wl_arg_int64(fcinfo, 0, "line_id");
	LineSku		s;
	Line		l;
	int64		held;

	SPI_connect();
	lock_line(line_id, &s, &l);
	require_open(&l, "ship");
	held = held_units(&s, &l);
	if (held < l.qty)
		ereport(ERROR,
				(errcode(WL_ERRCODE_LINE_NOT_ALLOCATED),
				 errmsg("cannot ship line " INT64_FORMAT ": " INT64_FORMAT " of " INT64_FORMAT " units allocated",
						line_id, held, l.qty),
				 errdetail("Only a fully allocated line ships; units are allocated when stock arrives, at commit.")));
	if (s.on_hand < l.qty)
		ereport(ERROR,
				(errcode(WL_ERRCODE_NOT_ENOUGH_STOCK),
				 errmsg("cannot ship line " INT64_FORMAT ": " INT64_FORMAT " units on hand, " INT64_FORMAT " needed",
						line_id, s.on_hand, l.qty),
				 errdetail("Stock went down in this transaction; the allocation is corrected when it commits.")));
	if (l.preorder)
		wl_preorder_confirm_pending(l.id);	/* before shipped */
	close_line(&s, &l, "shipped", l.qty, l.qty);
	line_message(&s, &l, "shipped", l.qty);
	if (l.preorder)
		wl_preorder_shipped(s.sku, l.id);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---------- queue_position ---------- */

static WlQuery q_position = {
	"SELECT CASE WHEN l.state = 'waiting' AND l.pos_end > s.paid_served THEN"
	"  (SELECT count(*) FROM waitlist.line x WHERE x.sku_id = s.id AND x.state = 'waiting'"
	"    AND x.pos_end > s.paid_served AND x.pos_end <= l.pos_end) END,"
	" (SELECT count(*) FROM waitlist.line x WHERE x.sku_id = s.id AND x.state = 'waiting'"
	"   AND x.pos_end > s.paid_served)"
	" FROM waitlist.line l JOIN waitlist.sku s ON s.id = l.sku_id WHERE l.id = $1",
	1, {INT8OID}, NULL
};

/* SQL: waitlist.queue_position(line_id) -> (position, total) */
Datum
waitlist_queue_position(PG_FUNCTION_ARGS)
{
	int64		line_id = wl_arg_int64(fcinfo, 0, "line_id");
	Datum		arg = Int64GetDatum(line_id);
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: queue_position must return a composite type");
	SPI_connect();
	if (wl_exec(&q_position, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_LINE),
				 errmsg("unknown line " INT64_FORMAT, line_id)));
	values[0] = Int64GetDatum(wl_get_int64(0, 1, &nulls[0]));
	values[1] = Int64GetDatum(wl_get_int64(0, 2, &nulls[1]));
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}
