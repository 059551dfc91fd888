/*
 * backorders.c
 *	  Paid lines: placing a backorder, cancelling or shipping a line (a
 *	  backorder or a pre-order: pre-order lines also move their payment,
 *	  domain/preorders.c), and telling waiting backorders a new restock
 *	  date.  SQL entry points: api/line_api.c and api/order_api.c.
 *
 * Locking: the SKU's turn in its queue, the SKU row, then the line;
 * placement, cancellation, shipment and the commit-time allocator all
 * follow that order, so they serialize per SKU and never deadlock with each
 * other.  A line's allocation is derived from the SKU's paid watermark
 * (domain/allocator.c).  Callers are in SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "domain/backorders.h"
#include "domain/purchases.h"
#include "domain/policy.h"
#include "domain/preorders.h"
#include "store/channel_rules.h"
#include "store/json.h"
#include "store/outbox_writer.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "txn/sku_queue.h"
#include "waitlist.h"

/* A paid line, read under its lock. */
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
	char	   *channel;
	bool		confirm_pending;	/* its confirmation is still to be written */
	char	   *placed_on;		/* created_at's date, YYYY-MM-DD */
	int32		days_open;		/* whole days from placement to the clock's today */
} Line;

/* ---------- placing a backorder ---------- */

static WlQuery q_same_order = {
	"SELECT id, qty FROM waitlist.line WHERE sku = $1 AND order_ref = $2",
	2, {TEXTOID, TEXTOID}, NULL
};

static WlQuery q_insert_line = {
	"INSERT INTO waitlist.line (sku, kind, order_ref, customer, email, phone, qty,"
	"  pos_start, pos_end, channel, promised_on, from_stock)"
	" VALUES ($1, $8, $2, $3, $4, $5, $6, $7, $7 + $6, $9, $10, $11) RETURNING id",
	11, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT8OID, TEXTOID, TEXTOID, DATEOID,
	BOOLOID}, NULL
};

/* Lock the SKU by code; unknown and discontinued SKUs are refused. */
static void
lock_sku_for_order(const char *sku, WlSku *s)
{
	int64		room;

	wl_sku_lock(sku, s);
	if (wl_sku_text_is(s, SKU_STATUS, "discontinued"))
		wl_error_discontinued(sku);
	room = wl_sku_preorder_room(s);
	if (room > 0 && wl_sku_free_units(s) <= 0)
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
require_backorder_policy(const WlSku *s, const WlOrderArgs *a)
{
	WlPolicy	p;

	wl_require_channel(a->channel);
	if (!wl_enforce_policy)
		return;
	wl_policy_of(s, a->channel, a->qty, &p);
	if (p.decision != WL_BACKORDER && p.decision != WL_IN_STOCK)
		wl_policy_refuse(a->sku, a->channel, "backorders", &p);
}

/* An earlier line for the same order and SKU: its id (same qty) or an error. */
static int64
same_order(const char *sku, const WlOrderArgs *a)
{
	Datum		args[2] = {CStringGetTextDatum(sku), CStringGetTextDatum(a->order_ref)};

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

/*
 * Insert the line at positions [start, start + qty); promised, when not
 * NULL, is the ship date the customer is given (line.promised_on);
 * from_stock, whether free units covered it when it was placed (a sale
 * from stock, not a backorder: line.from_stock).
 */
static int64
insert_line(const char *sku, const WlOrderArgs *a, const char *kind, int64 start,
			const DateADT *promised, bool from_stock)
{
	Datum		args[11];
	char		nulls[12] = "           ";

	args[0] = CStringGetTextDatum(sku);
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
	args[9] = promised ? DateADTGetDatum(*promised) : (Datum) 0;
	nulls[9] = promised ? ' ' : 'n';
	args[10] = BoolGetDatum(from_stock);
	wl_exec(&q_insert_line, args, nulls, SPI_OK_INSERT_RETURNING, 0);
	return wl_get_int64(0, 1, NULL);
}

/* The SKU's confirmed restock date as YYYY-MM-DD, or NULL. */
char *
wl_backorder_eta(const WlSku *s)
{
	DateADT		eta;

	if (!wl_sku_date(s, SKU_RESTOCK_DATE, &eta) || !wl_sku_bool(s, SKU_RESTOCK_CONFIRMED))
		return NULL;
	return wl_iso_date(eta);
}

/*
 * The backorder_confirmed payload: ship date, order number, cancel option
 * (also written for imported lines, by api/import_api.c).
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
confirm_backorder(const WlSku *s, const WlOrderArgs *a, int64 line_id, bool in_stock)
{
	char		key[64];
	char	   *sku = wl_sku_text(s, SKU_CODE);

	snprintf(key, sizeof(key), "line:" INT64_FORMAT ":confirmed", line_id);
	wl_queue_contacts("backorder_confirmed", sku, a->email, a->phone,
					  wl_backorder_confirmed_payload(a->order_ref, line_id, sku,
													 wl_sku_text(s, SKU_TITLE), a->qty,
													 in_stock, wl_backorder_eta(s),
													 wl_sku_text(s, SKU_PRODUCT_URL)),
					  key);
}

/*
 * Place a backorder line (or an in-stock line, allocated at commit);
 * returns its id, or the id of the same order's earlier line.  The
 * arguments are checked.
 */
int64
wl_place_backorder(const WlOrderArgs *a)
{
	WlSku		s;
	int64		id;
	char	   *sku;

	wl_sku_wait_turn(a->sku);
	lock_sku_for_order(a->sku, &s);
	sku = wl_sku_text(&s, SKU_CODE);
	id = same_order(sku, a);
	if (id == 0)
	{
		DateADT		eta;
		bool		has_eta = wl_sku_date(&s, SKU_RESTOCK_DATE, &eta) &&
			wl_sku_bool(&s, SKU_RESTOCK_CONFIRMED);
		bool		in_stock = wl_sku_free_units(&s) >= wl_sku_int64(&s, SKU_PAID_WAITING) + a->qty;

		require_backorder_policy(&s, a);
		id = insert_line(sku, a, "backorder", wl_sku_take_paid(sku, a->qty),
						 has_eta && !in_stock ? &eta : NULL, in_stock);
		wl_order_purchased(&s, a->order_ref, a->email, a->phone);
		confirm_backorder(&s, a, id, in_stock);
		wl_touch_sku(sku);
	}
	return id;
}

/*
 * A held unit claimed (domain/holds.c, the SKU row s locked, the unit
 * moved from held to allocated): the line of one unit at the claimed
 * positions [start, start + 1), below every watermark, so allocated from
 * the start.  The order is a purchase and is confirmed in stock.
 */
int64
wl_place_claimed_line(const WlSku *s, const WlOrderArgs *a, int64 start)
{
	char	   *sku = wl_sku_text(s, SKU_CODE);
	int64		id = insert_line(sku, a, "backorder", start, NULL, true);

	wl_order_purchased(s, a->order_ref, a->email, a->phone);
	confirm_backorder(s, a, id, true);
	return id;
}

/* ---------- cancelling and shipping ---------- */

/* The id-only handle: the line's SKU, found by the line's id alone. */
static WlQuery q_line_sku = {
	"SELECT sku FROM waitlist.line WHERE id = $1",
	1, {INT8OID}, NULL
};

/* The handle with the SKU: a statement on the one SKU (one shard on Citus). */
static WlQuery q_line_sku_of = {
	"SELECT sku FROM waitlist.line WHERE sku = $1 AND id = $2",
	2, {TEXTOID, INT8OID}, NULL
};

static WlQuery q_lock_line = {
	"SELECT id, qty, pos_start, pos_end, state, order_ref, email, phone,"
	" kind = 'preorder', channel, confirm_pending, to_char(created_at, 'YYYY-MM-DD'),"
	" (waitlist.now()::date - created_at::date)"
	" FROM waitlist.line WHERE sku = $1 AND id = $2 FOR UPDATE",
	2, {TEXTOID, INT8OID}, NULL
};

/*
 * The SKU of line line_id (of SKU sku when given, else found by the id
 * alone); an unknown line, or one of another SKU, is refused (WL003).
 */
static char *
line_sku(const char *sku, int64 line_id)
{
	Datum		args[2] = {sku ? CStringGetTextDatum(sku) : (Datum) 0, Int64GetDatum(line_id)};
	uint64		n;

	n = sku ? wl_exec(&q_line_sku_of, args, NULL, SPI_OK_SELECT, 0)
		: wl_exec(&q_line_sku, &args[1], NULL, SPI_OK_SELECT, 0);
	if (n == 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_LINE),
				 sku ? errmsg("unknown line " INT64_FORMAT " of SKU \"%s\"", line_id, sku)
				 : errmsg("unknown line " INT64_FORMAT, line_id)));
	return wl_get_text(0, 1);
}

/* Lock the line's SKU, then the line (that order). */
static void
lock_line(const char *sku_arg, int64 line_id, WlSku *s, Line *l)
{
	char	   *sku = line_sku(sku_arg, line_id);
	Datum		args[2] = {CStringGetTextDatum(sku), Int64GetDatum(line_id)};

	wl_wait_turn(sku);
	wl_sku_get(sku, true, s);
	wl_exec(&q_lock_line, args, NULL, SPI_OK_SELECT, 0);
	l->id = line_id;
	l->qty = DatumGetInt32(wl_get_datum(0, 2, NULL));
	l->pos_start = wl_get_int64(0, 3, NULL);
	l->pos_end = wl_get_int64(0, 4, NULL);
	l->state = wl_get_text(0, 5);
	l->order_ref = wl_get_text(0, 6);
	l->email = wl_get_text(0, 7);
	l->phone = wl_get_text(0, 8);
	l->preorder = wl_get_bool(0, 9);
	l->channel = wl_get_text(0, 10);
	l->confirm_pending = wl_get_bool(0, 11);
	l->placed_on = wl_get_text(0, 12);
	l->days_open = DatumGetInt32(wl_get_datum(0, 13, NULL));
}

/* Refuse lines that already shipped or were cancelled. */
static void
require_open(const Line *l, const char *action)
{
	if (strcmp(l->state, "waiting") != 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_LINE_CLOSED),
				 errmsg("cannot %s line " INT64_FORMAT ": it is %s",
						action, l->id, l->state)));
}

/* Units the line holds under the current watermark. */
static int64
held_units(const WlSku *s, const Line *l)
{
	return Max(0, Min(l->qty, wl_sku_int64(s, SKU_PAID_SERVED) - l->pos_start));
}

static WlQuery q_close_line = {
	"UPDATE waitlist.line SET state = $2,"
	" cancelled_at = CASE WHEN $2 = 'cancelled' THEN $4 END,"
	" shipped_at = CASE WHEN $2 = 'shipped' THEN $4 END,"
	" carrier = $5, tracking_number = $6, tracking_url = $7"
	" WHERE sku = $3 AND id = $1",
	7, {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID}, NULL
};

/* Close a line (with its shipment's tracking, if any) and take its units off the SKU's counters. */
static void
close_line(const WlSku *s, const Line *l, const char *state, int64 unallocate, int64 unstock,
		   const WlShipment *sh)
{
	char	   *sku = wl_sku_text(s, SKU_CODE);
	Datum		largs[7] = {Int64GetDatum(l->id), CStringGetTextDatum(state),
		CStringGetTextDatum(sku), wl_now(), wl_opt_text(sh ? sh->carrier : NULL),
		wl_opt_text(sh ? sh->tracking_number : NULL),
	wl_opt_text(sh ? sh->tracking_url : NULL)};
	char		nulls[8] = "       ";

	for (int i = 4; i < 7; i++)
		nulls[i] = largs[i] == (Datum) 0 ? 'n' : ' ';
	wl_exec(&q_close_line, largs, nulls, SPI_OK_UPDATE, 0);
	/* the units it held leave the allocation, the rest leave the queue */
	wl_sku_close_line(sku, unallocate, unstock, l->qty - unallocate);
}

/*
 * Queue a message about a closed line; a shipment's adds the tracking and
 * the wait: placed_on, waited_days (whole days from the order to the
 * shipment, on the clock) and waited (a day or more).
 */
static void
line_message(const WlSku *s, const Line *l, const char *kind, int64 units, const WlShipment *sh)
{
	WlJson		j;
	char		key[64];
	char	   *sku = wl_sku_text(s, SKU_CODE);

	wl_json_init(&j);
	wl_json_str(&j, "order_ref", l->order_ref);
	wl_json_int(&j, "line_id", l->id);
	wl_json_str(&j, "sku", sku);
	wl_json_str(&j, "title", wl_sku_text(s, SKU_TITLE));
	wl_json_int(&j, "qty", l->qty);
	wl_json_int(&j, "units", units);
	wl_json_str(&j, "product_url", wl_sku_text(s, SKU_PRODUCT_URL));
	if (sh)
	{
		wl_json_str(&j, "carrier", sh->carrier);
		wl_json_str(&j, "tracking_number", sh->tracking_number);
		wl_json_str(&j, "tracking_url", sh->tracking_url);
		wl_json_str(&j, "placed_on", l->placed_on);
		wl_json_int(&j, "waited_days", l->days_open);
		wl_json_bool(&j, "waited", l->days_open > 0);
	}
	snprintf(key, sizeof(key), "line:" INT64_FORMAT ":%s", l->id, kind);
	wl_queue_contacts(kind, sku, l->email, l->phone, wl_json_finish(&j), key);
}

/* Cancel a line; returns the units it held. */
int64
wl_cancel_line(const char *sku_arg, int64 line_id)
{
	WlSku		s;
	Line		l;
	int64		held;
	char	   *sku;

	lock_line(sku_arg, line_id, &s, &l);
	require_open(&l, "cancel");
	sku = wl_sku_text(&s, SKU_CODE);
	held = held_units(&s, &l);
	if (l.confirm_pending)
		wl_line_confirm_pending(sku, l.id);	/* before line_cancelled */
	close_line(&s, &l, "cancelled", held, 0, NULL);
	line_message(&s, &l, "line_cancelled", held, NULL);
	if (l.preorder)
		wl_preorder_cancelled(sku, l.id, (int32) l.qty, l.channel);
	wl_touch_sku(sku);
	return held;
}

/* Ship a fully allocated line. */
void
wl_ship_line(const char *sku_arg, int64 line_id, const WlShipment *sh)
{
	WlSku		s;
	Line		l;
	int64		held;
	int64		on_hand;

	lock_line(sku_arg, line_id, &s, &l);
	require_open(&l, "ship");
	held = held_units(&s, &l);
	on_hand = wl_sku_int64(&s, SKU_ON_HAND);
	if (held < l.qty)
		ereport(ERROR,
				(errcode(WL_ERRCODE_LINE_NOT_ALLOCATED),
				 errmsg("cannot ship line " INT64_FORMAT ": " INT64_FORMAT " of " INT64_FORMAT " units allocated",
						line_id, held, l.qty),
				 errdetail("Only a fully allocated line ships; units are allocated when stock arrives, at commit.")));
	if (on_hand < l.qty)
		ereport(ERROR,
				(errcode(WL_ERRCODE_NOT_ENOUGH_STOCK),
				 errmsg("cannot ship line " INT64_FORMAT ": " INT64_FORMAT " units on hand, " INT64_FORMAT " needed",
						line_id, on_hand, l.qty),
				 errdetail("Stock went down in this transaction; the allocation is corrected when it commits.")));
	if (l.confirm_pending)
		wl_line_confirm_pending(wl_sku_text(&s, SKU_CODE), l.id);	/* before shipped */
	close_line(&s, &l, "shipped", l.qty, l.qty, sh);
	line_message(&s, &l, "shipped", l.qty, sh);
	if (l.preorder)
		wl_preorder_shipped(wl_sku_text(&s, SKU_CODE), l.id);
}

/* ---------- a new restock date ---------- */

static WlQuery q_eta_changed = {
	WL_CONTACT_MESSAGES(
		"SELECT 'eta_changed' AS kind, s.sku, l.email, l.phone,"
		" waitlist.payload_json('order_ref', l.order_ref, 'line_id', l.id, 'sku', s.sku,"
		"  'title', s.title, 'qty', l.qty, 'previous_date', to_char($2::date, 'YYYY-MM-DD'),"
		"  'expected_ship_date', to_char(s.restock_date, 'YYYY-MM-DD'),"
		"  'confirmed', s.restock_confirmed, 'cancel_allowed', true) AS payload,"
		" 'line:' || l.id || ':eta:' || to_char(s.restock_date, 'YYYYMMDD') AS key"
		" FROM waitlist.sku s"
		" JOIN waitlist.line l ON l.sku = s.sku AND l.state = 'waiting'"
		"  AND l.pos_end > s.paid_served AND l.kind = 'backorder'"
		" WHERE s.sku = $1"),
	2, {TEXTOID, DATEOID}, NULL
};

/* The restock date moved from previous: tell every backorder still short of units. */
void
wl_backorders_eta_changed(const char *sku, DateADT previous)
{
	Datum		args[2] = {CStringGetTextDatum(sku), DateADTGetDatum(previous)};

	if (wl_exec(&q_eta_changed, args, NULL, SPI_OK_INSERT, 0) > 0)
		wl_note_messages();
}
