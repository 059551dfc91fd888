/*
 * followups.c
 *	  The follow-ups of a back_in_stock wave, each at most once per person
 *	  and wave (the message keys name the wave):
 *
 *	  - back_in_stock_reminder: waitlist.reminder_after (8 hours) after the
 *	    wave (batch.followup_at, set by the allocator), to the people it told
 *	    whose message was delivered and not opened or clicked (as
 *	    record_event reports), who are still on the list and did not buy, -
 *	    while stock remains: free units, or the unit held for them.
 *	  - missed_out: waitlist.missed_note_after (24 hours) after the sell-out
 *	    (sku.missed_note_at, set by the allocator, which also kept their
 *	    place), to the people told while it was on sale who did not buy and
 *	    have not been told again since: an honest note that it sold out
 *	    before they did, and that they are first for the next restock; or,
 *	    to those who left the list at that sell-out (a place is kept once,
 *	    and not after a held unit lapsed), that they are no longer on it.
 *
 * Locking: each wave's or SKU's turn and row first (blocking, briefly), as
 * every writer of a SKU does, so a purchase (which takes the SKU row when
 * it converts a sign-up) either comes first and its buyer is left out, or
 * comes after and skips the reminder still pending (store/outbox_writer.c).
 * Callers are in SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "domain/followups.h"
#include "domain/purchase_window.h"
#include "store/now.h"
#include "store/outbox_writer.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "waitlist.h"

/* The keys of a sign-up's back_in_stock messages of wave $1. */
#define WAVE_KEYS \
	"ARRAY['sub:' || u.id || ':back:' || $1 || ':email', 'sub:' || u.id || ':back:' || $1 || ':sms']"

static WlQuery q_due_waves = {
	"SELECT sku, id FROM waitlist.batch WHERE followup_at <= waitlist.now()"
	" ORDER BY followup_at LIMIT $1",
	1, {INT4OID}, NULL
};

/* $1 the wave (batch id), $2 its SKU, $3 the purchase window in seconds. */
static WlQuery q_reminders = {
	WL_CONTACT_MESSAGES(
		"SELECT 'back_in_stock_reminder' AS kind, s.sku, u.email, u.phone,"
		" waitlist.payload_json('subscription_id', u.id, 'sku', s.sku, 'title', s.title,"
		"  'units_available', greatest(s.on_hand - s.allocated - s.held, 0),"
		"  'told_at', b.created_at,"
		"  'held_until', CASE WHEN b.hold_until > waitlist.now()"
		"   THEN b.hold_until END,"
		"  'product_url', s.product_url, 'image_url', s.image_url) AS payload,"
		" 'sub:' || u.id || ':reminder:' || $1 AS key"
		" FROM waitlist.sku s"
		" JOIN waitlist.batch b ON b.sku = s.sku AND b.id = $1"
		" JOIN waitlist.subscriber u ON u.sku = s.sku AND u.state = 'waiting'"
		"  AND u.pos >= b.pos_from AND u.pos < b.pos_to"
		" WHERE s.sku = $2"
		"  AND (s.on_hand - s.allocated - s.held > 0 OR b.hold_until > waitlist.now())"
		"  AND EXISTS (SELECT 1 FROM waitlist.outbox o WHERE o.idempotency_key = ANY (" WAVE_KEYS ")"
		"   AND o.state = 'delivered')"
		"  AND NOT EXISTS (SELECT 1 FROM waitlist.outbox o"
		"   JOIN waitlist.message_event e ON e.message_id = o.id AND e.event IN ('opened', 'clicked')"
		"   WHERE o.idempotency_key = ANY (" WAVE_KEYS "))"
		WL_NOT_BOUGHT_WITHIN("$3")),
	3, {INT8OID, TEXTOID, FLOAT8OID}, NULL
};

static WlQuery q_wave_done = {
	"UPDATE waitlist.batch SET followup_at = NULL WHERE sku = $2 AND id = $1",
	2, {INT8OID, TEXTOID}, NULL
};

/*
 * The follow-ups now due (due: $1 how many, rows of SKU and an id): for
 * each, the SKU's turn and row, then write(sku, id, row) writes them.
 * Returns the messages written.
 */
static int64
each_due(WlQuery *due, int64 (*write) (const char *sku, Datum id, const WlSku *s))
{
	Datum		arg = Int32GetDatum(WL_FOLLOWUP_BATCHES);
	uint64		n = wl_exec(due, &arg, NULL, SPI_OK_SELECT, 0);
	SPITupleTable *rows = SPI_tuptable;
	int64		written = 0;

	for (uint64 i = 0; i < n; i++)
	{
		char	   *sku;
		Datum		id;
		WlSku		s;

		SPI_tuptable = rows;
		sku = wl_get_text(i, 1);
		id = wl_get_datum(i, 2, NULL);
		wl_sku_wait_turn(sku);
		if (wl_sku_find(sku, true, &s))
			written += write(sku, id, &s);
	}
	return written;
}

/* The reminders of one wave (id) that came due. */
static int64
remind(const char *sku, Datum id, const WlSku *s)
{
	Datum		args[3] = {id, CStringGetTextDatum(sku),
	Float8GetDatum((double) wl_purchase_window_s)};
	int64		written = (int64) wl_exec(&q_reminders, args, NULL, SPI_OK_INSERT, 0);

	wl_exec(&q_wave_done, args, NULL, SPI_OK_UPDATE, 0);
	return written;
}

/* The reminders of the waves now due; returns the messages written. */
int64
wl_followup_reminders(void)
{
	return each_due(&q_due_waves, remind);
}

static WlQuery q_due_missed = {
	"SELECT sku, 0::bigint FROM waitlist.sku WHERE missed_note_at <= waitlist.now()"
	" ORDER BY missed_note_at LIMIT $1",
	1, {INT4OID}, NULL
};

/*
 * $1 the SKU, $2 the purchase window in seconds.  The place is among the
 * people still waiting from the watermark (those who missed out are
 * first); those who lapsed at the sell-out hear that they left the list.
 */
static WlQuery q_missed = {
	WL_CONTACT_MESSAGES(
		"SELECT 'missed_out' AS kind, s.sku, u.email, u.phone,"
		" waitlist.payload_json('subscription_id', u.id, 'sku', s.sku, 'title', s.title,"
		"  'still_on_list', u.state = 'waiting',"
		"  'place_in_line', CASE WHEN u.state = 'waiting' THEN u.place END,"
		"  'expected_restock_date', CASE WHEN s.restock_confirmed"
		"   THEN to_char(s.restock_date, 'YYYY-MM-DD') END,"
		"  'product_url', s.product_url) AS payload,"
		" 'sub:' || u.id || ':missed:' || extract(epoch FROM s.missed_note_at)::bigint AS key"
		" FROM waitlist.sku s"
		" JOIN (SELECT w.*, row_number() OVER (PARTITION BY w.state ORDER BY w.pos) AS place"
		"       FROM waitlist.subscriber w JOIN waitlist.sku k ON k.sku = w.sku"
		"       WHERE w.sku = $1 AND w.pos < k.missed_to"
		"         AND ((w.state = 'waiting' AND w.pos >= k.sub_served)"
		"              OR (w.state = 'lapsed' AND w.unsubscribed_at >= k.missed_since))) u"
		"  ON u.sku = s.sku"
		" WHERE s.sku = $1 AND u.pos >= s.missed_from"
		WL_NOT_BOUGHT_WITHIN("$2")),
	2, {TEXTOID, FLOAT8OID}, NULL
};

/*
 * The missed_out notes of a SKU, when still due once its row is locked (a
 * sell-out since may have moved them on).
 */
static int64
note_missed(const char *sku, Datum id, const WlSku *s)
{
	Datum		args[2] = {CStringGetTextDatum(sku),
	Float8GetDatum((double) wl_purchase_window_s)};
	int64		written;

	if (s->nulls[SKU_MISSED_NOTE_AT] ||
		DatumGetTimestampTz(s->values[SKU_MISSED_NOTE_AT]) > DatumGetTimestampTz(wl_now()))
		return 0;
	written = (int64) wl_exec(&q_missed, args, NULL, SPI_OK_INSERT, 0);
	wl_sku_missed_done(sku);
	return written;
}

/* The missed_out notes now due; returns the messages written. */
int64
wl_followup_missed(void)
{
	return each_due(&q_due_missed, note_missed);
}
