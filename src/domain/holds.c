/*
 * holds.c
 *	  Exclusive holds.  With a hold window on a SKU, the allocator
 *	  (domain/allocator.c) tells one sign-up per free unit and holds that
 *	  unit for each of them: one hold row per wave, the wave's range of
 *	  sign-up positions [pos_from, pos_to) with one expiry, and sku.held
 *	  counts the units still held.  Held units are not free, so the policy,
 *	  orders, backorders and pre-orders see them as taken.
 *
 * A claim (claim_hold) turns one held unit into a line of one unit that is
 * allocated at once: the line sits at the negative positions
 * [-(pos + 1), -pos) of the sign-up's position pos, below every
 * watermark, so it counts as allocated and no restock or stock count walks
 * over it (allocator.c leaves negative positions out).  Cancelling or
 * shipping it works as for any line.  The claim converts the sign-up (the
 * order is a purchase, domain/purchases.c).
 *
 * The clock closes the waves whose window ended (wl_holds_expire): their
 * unclaimed units leave sku.held, and the allocator at that commit gives
 * them to waiting paid lines first, then to the next sign-ups as a new
 * wave with its own window; with nobody left waiting they are free to
 * anyone.  Expiring a wave is one row however many people it held for.
 *
 * The hold rows are written in store/hold_rows.c (also a new wave, by the
 * allocator).  Locking: the SKU's turn, the SKU row, then its hold rows, as
 * every writer of the SKU does; callers are in SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "domain/backorders.h"
#include "domain/holds.h"
#include "domain/purchases.h"
#include "store/channel_rules.h"
#include "store/hold_rows.h"
#include "store/now.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"

/* ---------- the clock's side ---------- */

static WlQuery q_due_skus = {
	"SELECT DISTINCT sku FROM (SELECT sku FROM waitlist.hold"
	"  WHERE closed_at IS NULL AND expires_at <= waitlist.now()"
	"  ORDER BY expires_at LIMIT $1) d ORDER BY sku",
	1, {INT4OID}, NULL
};

/*
 * Close the waves whose window ended (up to max, oldest first); their
 * unclaimed units go on at this transaction's commit.  Returns the waves
 * closed.
 */
int64
wl_holds_expire(int max)
{
	Datum		arg = Int32GetDatum(max);
	uint64		n = wl_exec(&q_due_skus, &arg, NULL, SPI_OK_SELECT, 0);
	SPITupleTable *skus = SPI_tuptable;
	int64		closed = 0;

	for (uint64 i = 0; i < n; i++)
	{
		char	   *sku;
		WlSku		s;
		uint64		waves;
		int64		released;

		SPI_tuptable = skus;
		sku = wl_get_text(i, 1);
		wl_sku_wait_turn(sku);
		if (!wl_sku_find(sku, true, &s))
			continue;
		waves = wl_holds_close_due(CStringGetTextDatum(sku), &released);
		if (released > 0)
		{
			wl_sku_release_held(sku, released);
			wl_touch_sku(sku);	/* the allocator passes them on at commit */
		}
		closed += waves;
	}
	return closed;
}

/* ---------- the checkout's side ---------- */

/*
 * The contact's sign-ups for the SKU still on the list, with the wave that
 * covers each (if any): open waves first.
 */
#define HELD_SIGNUPS(match) \
	"SELECT u.pos, u.email, u.phone, h.wave, h.units - h.claimed," \
	"  h.expires_at > waitlist.now() AND h.closed_at IS NULL, h.expires_at," \
	"  h.closed_at < h.expires_at" \
	" FROM waitlist.subscriber u" \
	" LEFT JOIN LATERAL (SELECT * FROM waitlist.hold h WHERE h.sku = u.sku" \
	"   AND h.pos_from <= u.pos AND h.pos_to > u.pos" \
	"   ORDER BY h.closed_at IS NULL DESC, h.wave DESC LIMIT 1) h ON true" \
	" WHERE u.sku = $1 AND u.state = 'waiting' AND " match \
	" ORDER BY 6 DESC NULLS LAST, u.pos"

static WlQuery q_held_email = {
	HELD_SIGNUPS("lower(u.email) = $2"), 2, {TEXTOID, TEXTOID}, NULL
};

static WlQuery q_held_phone = {
	HELD_SIGNUPS("u.phone = $2"), 2, {TEXTOID, TEXTOID}, NULL
};

static WlQuery q_same_order = {
	"SELECT id FROM waitlist.line WHERE sku = $1 AND order_ref = $2",
	2, {TEXTOID, TEXTOID}, NULL
};

/* Refuse a claim: the contact has no unit held on the SKU now. */
static void
no_hold(const char *sku, const char *why)
{
	ereport(ERROR,
			(errcode(WL_ERRCODE_NO_HOLD),
			 errmsg("no unit of SKU \"%s\" is held for this contact", sku),
			 errdetail_internal("%s", why),
			 errhint("Holds are made by back_in_stock waves of a SKU with a hold window (waitlist.set_hold_window).")));
}

/*
 * Claim the unit held for contact (a lower-cased email, or a phone) on
 * a->sku for the order a->order_ref (a->qty is 1): returns the line, which
 * holds its unit from now on; the same order_ref again returns the same
 * line.  The arguments are checked.
 */
int64
wl_claim_hold(const WlOrderArgs *a, const char *contact, bool email)
{
	WlSku		s;
	char	   *sku;
	Datum		args[2];
	uint64		n;
	int64		pos;
	int64		wave;
	WlOrderArgs line = *a;

	wl_require_channel(a->channel);
	wl_sku_wait_turn(a->sku);
	wl_sku_lock(a->sku, &s);
	sku = wl_sku_text(&s, SKU_CODE);
	args[0] = CStringGetTextDatum(sku);
	args[1] = CStringGetTextDatum(a->order_ref);
	if (wl_exec(&q_same_order, args, NULL, SPI_OK_SELECT, 1) > 0)
		return wl_get_int64(0, 1, NULL);

	args[1] = CStringGetTextDatum(contact);
	n = wl_exec(email ? &q_held_email : &q_held_phone, args, NULL, SPI_OK_SELECT, 0);
	if (n == 0)
		no_hold(sku, "The contact is not on the SKU's list.");
	if (!wl_get_bool(0, 6))
	{
		bool		isnull;
		Datum		until = wl_get_datum(0, 7, &isnull);

		if (isnull)
			no_hold(sku, "No wave with holds has reached the contact yet.");
		if (!wl_get_bool(0, 8))
			no_hold(sku, psprintf("The hold ended at %s.",
								  timestamptz_to_str(DatumGetTimestampTz(until))));
	}
	/* closed before its end, or open with none left: a stock count shrank it */
	if (!wl_get_bool(0, 6) || wl_get_int64(0, 5, NULL) <= 0)
		no_hold(sku, "A stock count went down and took back the units the wave still held.");
	pos = wl_get_int64(0, 1, NULL);
	wave = wl_get_int64(0, 4, NULL);
	line.email = wl_get_text(0, 2);
	line.phone = wl_get_text(0, 3);
	line.qty = 1;

	wl_hold_claim(args[0], wave);
	wl_sku_claim_held(sku);
	wl_touch_sku(sku);			/* the commit notes whether the last unit sold */
	return wl_place_claimed_line(&s, &line, -(pos + 1));
}
