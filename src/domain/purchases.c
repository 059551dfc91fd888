/*
 * purchases.c
 *	  The owner of waitlist.purchase: who bought a SKU, wherever they bought
 *	  it.  record_purchase reports an order made elsewhere; the order paths
 *	  (domain/backorders.c, domain/preorders.c) record theirs here.  A
 *	  purchase converts the buyer's sign-ups for the SKU made before it
 *	  (domain/signups.c), skips the back_in_stock messages still pending for
 *	  them (store/outbox_writer.c), and keeps wave messages from the buyer
 *	  for waitlist.purchase_window (domain/expansion.c reads the table).
 *
 * A purchase is recorded once per (SKU, order, contact): reporting it again
 * changes nothing.  Calls take the SKU's turn first, as every change of its
 * sign-up queue does.  SQL entry point: api/purchase_api.c.  Callers are in
 * SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "domain/purchases.h"
#include "domain/signups.h"
#include "store/now.h"
#include "store/outbox_writer.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "store/suppression.h"

static WlQuery q_recorded = {
	"SELECT 1 FROM waitlist.purchase WHERE sku = $1 AND order_ref = $2 AND contact = $3",
	3, {TEXTOID, TEXTOID, TEXTOID}, NULL
};

/* The purchase row from $1-$8 (record_with's arguments), once per key. */
#define PURCHASE_INSERT(values) \
	"INSERT INTO waitlist.purchase (sku, order_ref, contact, at, source, converted, qty, amount)" \
	values " ON CONFLICT (sku, order_ref, contact) DO NOTHING", \
	8, {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INT4OID, INT4OID, NUMERICOID}, NULL

static WlQuery q_insert = {
	PURCHASE_INSERT(" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
};

/*
 * record()'s row for a SKU not read before: the statement reads the SKU
 * ($1) itself, so no row is written for an unknown one.
 */
static WlQuery q_insert_checked = {
	PURCHASE_INSERT(" SELECT s.sku, $2, $3, $4, $5, $6, $7, $8 FROM waitlist.sku s WHERE s.sku = $1")
};

/*
 * Write the purchase row; false when it was there already.  sale, when
 * not NULL, is the units and amount a reported order gives (an order
 * through the extension keeps them on its line).  A second contact
 * reporting the same order adds a row for the contact; the metrics count
 * the order once (the row of its lowest contact).
 */
static bool
record_with(WlQuery *query, const char *sku, const char *order_ref, const char *contact,
			TimestampTz at, const char *source, int converted, const WlSale *sale)
{
	Datum		args[8];
	char		nulls[9] = "      nn";

	args[0] = CStringGetTextDatum(sku);
	args[1] = CStringGetTextDatum(order_ref);
	args[2] = CStringGetTextDatum(contact);
	args[3] = TimestampTzGetDatum(at);
	args[4] = CStringGetTextDatum(source);
	args[5] = Int32GetDatum(converted);
	if (sale != NULL)
	{
		args[6] = Int32GetDatum(sale->qty);
		nulls[6] = ' ';
		args[7] = sale->amount;
		nulls[7] = sale->has_amount ? ' ' : 'n';
	}
	return wl_exec(query, args, nulls, SPI_OK_INSERT, 0) > 0;
}

static bool
record(const char *sku, const char *order_ref, const char *contact, TimestampTz at,
	   const char *source, int converted, const WlSale *sale)
{
	return record_with(&q_insert, sku, order_ref, contact, at, source, converted, sale);
}

/*
 * Record one purchase and convert; -1 when it was recorded before.  The
 * caller holds the SKU row lock, so the check and the insert do not race
 * (and the row is written once, with its conversions).
 */
static int
purchased(const char *sku, const char *order_ref, const char *contact, bool email,
		  TimestampTz at, const char *source, const WlSale *sale)
{
	Datum		args[3];
	int			n;

	args[0] = CStringGetTextDatum(sku);
	args[1] = CStringGetTextDatum(order_ref);
	args[2] = CStringGetTextDatum(contact);
	if (wl_exec(&q_recorded, args, NULL, SPI_OK_SELECT, 1) > 0)
		return -1;
	n = wl_convert_signups(sku, contact, email, at);
	(void) record(sku, order_ref, contact, at, source, n, sale);
	return n;
}

/*
 * An order of sku made elsewhere by contact (a lower-cased email, or a
 * phone) at at, of sale's units and amount: the sign-ups it converted (0
 * when it was recorded before, or converted nobody).  Refuses an unknown
 * SKU (WL001).
 */
int
wl_record_purchase(const char *sku, const char *contact, bool email,
				   const char *order_ref, TimestampTz at, const WlSale *sale)
{
	WlSku		s;
	char	   *code;
	int			n;
	int64		pos;

	/*
	 * Most orders a shop reports are by people who never signed up: with no
	 * sign-up of theirs waiting there is nothing to convert, and the row is
	 * written without taking the SKU's turn and row (the primary key keeps
	 * it once; a sign-up committed meanwhile is kept from wave messages by
	 * the purchase window all the same).  A SKU's code is what it is looked
	 * up by, so the sign-ups are probed with it before the SKU is read; the
	 * insert reads the SKU, and only when it wrote nothing is the SKU looked
	 * up to tell an unknown one from a purchase reported before.
	 */
	if (wl_signup_same_contact(sku, 0, email ? contact : NULL, email ? NULL : contact, &pos) == 0)
	{
		if (!record_with(&q_insert_checked, sku, order_ref, contact, at, "external", 0, sale))
		{
			if (!wl_sku_find(sku, false, &s))
				wl_error_unknown_sku(sku);
			return 0;
		}
		wl_outbox_skip_back_in_stock(sku, email ? contact : NULL, email ? NULL : contact);
		return 0;
	}

	wl_sku_wait_turn(sku);
	wl_sku_lock(sku, &s);
	code = wl_sku_text(&s, SKU_CODE);
	n = purchased(code, order_ref, contact, email, at, "external", sale);
	if (n < 0)
		return 0;
	wl_outbox_skip_back_in_stock(code, email ? contact : NULL, email ? NULL : contact);
	return n;
}

/*
 * One contact of an order through the extension (below); signups: the SKU
 * ever had a sign-up, else there is nothing to look for before the row.
 */
static void
order_contact(const char *sku, const char *order_ref, const char *contact, bool email,
			  TimestampTz now, bool signups)
{
	if (signups)
		(void) purchased(sku, order_ref, contact, email, now, "order", NULL);
	else
		(void) record(sku, order_ref, contact, now, "order", 0, NULL);
}

/*
 * An order placed through the extension (the SKU row s locked by the
 * order, read after the order's update): its contacts bought the SKU now.
 * Skips their pending back_in_stock messages and converts their sign-ups.
 * A SKU nobody ever signed up for (sub_tail 0: every sign-up takes a
 * position under the row lock this order holds) has neither, and the
 * purchase is written without looking: the order's own statements are all
 * that a hot pre-order SKU serializes on, so none is spent on a search
 * that cannot find anything.
 */
void
wl_order_purchased(const WlSku *s, const char *order_ref, const char *email,
				   const char *phone)
{
	TimestampTz now = DatumGetTimestampTz(wl_now());
	const char *sku = wl_sku_text(s, SKU_CODE);
	bool		signups = wl_sku_int64(s, SKU_SUB_TAIL) > 0;

	if (signups)
		wl_outbox_skip_back_in_stock(sku, email, phone);
	if (email != NULL)
		order_contact(sku, order_ref, wl_contact_key(email, true), true, now, signups);
	if (phone != NULL)
		order_contact(sku, order_ref, phone, false, now, signups);
}
