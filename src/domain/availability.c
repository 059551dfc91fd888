/*
 * availability.c
 *	  Publication of availability: for every channel a SKU is listed on,
 *	  the policy's decision is kept in waitlist.availability, and each real
 *	  change is announced as an availability_changed message on the feed
 *	  channel, for storefront caches and marketplace feeds.
 *
 * Runs at commit for every SKU the transaction touched that is listed
 * somewhere (a commit hook: domain/settle.c), and once a day from tick(),
 * since dates move on their own.  Locking: under the SKU row lock the
 * commit-time allocator holds, or the one taken by wl_sku_codes_to_recheck.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "domain/availability.h"
#include "domain/policy.h"
#include "store/channel_rules.h"
#include "store/json.h"
#include "store/outbox_writer.h"
#include "store/sku_row.h"
#include "store/spi.h"

/* Is the text datum d among the first n of elems (no copies)? */
bool
wl_text_in(Datum *elems, int n, Datum d)
{
	text	   *t = DatumGetTextPP(d);
	size_t		len = VARSIZE_ANY_EXHDR(t);

	for (int i = 0; i < n; i++)
	{
		text	   *e = DatumGetTextPP(elems[i]);

		if (VARSIZE_ANY_EXHDR(e) == len && memcmp(VARDATA_ANY(e), VARDATA_ANY(t), len) == 0)
			return true;
	}
	return false;
}


static WlQuery q_published = {
	"SELECT channel, decision, checked_on < waitlist.now()::date FROM waitlist.availability"
	" WHERE sku = $1",
	1, {TEXTOID}, NULL
};

static WlQuery q_publish = {
	"INSERT INTO waitlist.availability AS a (sku, channel, decision, reason, ship_by)"
	" VALUES ($1, $2, $3, $4, $5)"
	" ON CONFLICT (sku, channel) DO UPDATE SET decision = excluded.decision,"
	"  reason = excluded.reason, ship_by = excluded.ship_by,"
	"  changes = a.changes + CASE WHEN a.decision = excluded.decision THEN 0 ELSE 1 END,"
	"  changed_at = CASE WHEN a.decision = excluded.decision THEN a.changed_at ELSE $6 END,"
	"  checked_on = waitlist.now()::date"
	" RETURNING changes",
	6, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, DATEOID, TIMESTAMPTZOID}, NULL
};

static WlQuery q_unlisted = {
	"DELETE FROM waitlist.availability a WHERE a.sku = $1"
	" AND ($2::text[] IS NULL OR NOT a.channel = ANY ($2)"
	"  OR NOT EXISTS (SELECT 1 FROM waitlist.channel c WHERE c.channel = a.channel))"
	" RETURNING a.channel, a.decision, a.changes + 1",
	2, {TEXTOID, TEXTARRAYOID}, NULL
};

static void announce(int64 sku_id, const char *sku, const char *channel,
					 const char *previous, WlPolicy *p, int64 changes);

/*
 * Channels the SKU left (unlisted, or the channel was removed): their rows
 * go, and a feed that showed something else hears it is out of stock there.
 */
static void
drop_unlisted(int64 sku_id, const char *sku, Datum channels, bool unlisted)
{
	Datum		args[2] = {CStringGetTextDatum(sku), channels};
	char		nulls[3] = {' ', unlisted ? 'n' : ' ', '\0'};
	uint64		n = wl_exec(&q_unlisted, args, nulls, SPI_OK_DELETE_RETURNING, 0);
	SPITupleTable *t = SPI_tuptable;
	WlPolicy	gone = {WL_OUT_OF_STOCK, "not listed on the channel", false, 0, true};

	for (uint64 i = 0; i < n; i++)
	{
		char	   *channel = SPI_getvalue(t->vals[i], t->tupdesc, 1);
		char	   *was = SPI_getvalue(t->vals[i], t->tupdesc, 2);
		bool		isnull;

		if (strcmp(was, wl_decision_name(WL_OUT_OF_STOCK)) != 0)
			announce(sku_id, sku, channel, was, &gone,
					 DatumGetInt32(SPI_getbinval(t->vals[i], t->tupdesc, 3, &isnull)));
	}
}

/* What was published for one channel, from q_published's result. */
typedef struct Published
{
	char	   *channel;
	char	   *decision;		/* NULL: nothing yet */
	bool		stale;
} Published;

/* q_published's rows, read once (one row per channel the SKU is listed on). */
static Published *
read_published(SPITupleTable *t, uint64 n)
{
	Published  *r = palloc(sizeof(Published) * (n + 1));

	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		r[i].channel = SPI_getvalue(t->vals[i], t->tupdesc, 1);
		r[i].decision = SPI_getvalue(t->vals[i], t->tupdesc, 2);
		r[i].stale = DatumGetBool(SPI_getbinval(t->vals[i], t->tupdesc, 3, &isnull));
	}
	return r;
}

/* The row published for channel, or one that says nothing was yet. */
static Published
published_for(Published *pub, uint64 n, const char *channel)
{
	Published	none = {NULL, NULL, false};

	for (uint64 i = 0; i < n; i++)
		if (strcmp(pub[i].channel, channel) == 0)
			return pub[i];
	return none;
}

/* Queue availability_changed for the storefront cache or marketplace feed. */
static void
announce(int64 sku_id, const char *sku, const char *channel, const char *previous,
		 WlPolicy *p, int64 changes)
{
	WlJson		j;
	char		key[128];

	wl_json_init(&j);
	wl_json_str(&j, "sku", sku);
	wl_json_str(&j, "channel", channel);
	wl_json_str(&j, "decision", wl_decision_name(p->decision));
	wl_json_str(&j, "previous", previous);
	wl_json_str(&j, "reason", p->reason);
	/* YYYY-MM-DD, not the committing session's DateStyle */
	wl_json_str(&j, "ship_by", p->has_ship_by ? wl_iso_date(p->ship_by) : NULL);
	snprintf(key, sizeof(key), "sku:" INT64_FORMAT ":avail:%s:" INT64_FORMAT ":%u",
			 sku_id, channel, changes, GetTopTransactionId());
	wl_queue_message("availability_changed", "feed", channel, sku, wl_json_finish(&j), key);
}

/* Publish one listed channel: write and announce a new decision. */
static void
publish_channel(const WlSku *s, const char *sku, const char *channel, Published *was)
{
	int64		sku_id = wl_sku_int64(s, SKU_ID);
	WlPolicy	p;
	Datum		args[6];
	char		nulls[7] = "      ";
	const char *now;

	if (wl_find_channel_rule(channel) == NULL)
		return;					/* a channel removed: drop_unlisted dropped it */
	wl_policy_of(s, channel, 1, &p);
	now = wl_decision_name(p.decision);
	if (was->decision && strcmp(was->decision, now) == 0 && !was->stale)
		return;
	args[0] = CStringGetTextDatum(sku);
	args[1] = CStringGetTextDatum(channel);
	args[2] = CStringGetTextDatum(now);
	args[3] = CStringGetTextDatum(p.reason);
	args[4] = DateADTGetDatum(p.ship_by);
	args[5] = wl_now();
	nulls[4] = p.has_ship_by ? ' ' : 'n';
	wl_exec(&q_publish, args, nulls, SPI_OK_INSERT_RETURNING, 0);
	if (was->decision == NULL || strcmp(was->decision, now) != 0)
		announce(sku_id, sku, channel, was->decision, &p, wl_get_int64(0, 1, NULL));
}

/*
 * Re-evaluate a SKU on every channel it is listed on and announce each
 * decision that changed (caller is in SPI and holds the SKU row lock).
 */
void
wl_publish_availability(const char *code)
{
	Datum		arg = CStringGetTextDatum(code);
	WlSku		s;
	int64		sku_id;
	char	   *sku;
	Published  *pub;
	uint64		npub;
	int			distinct = 0;
	Datum	   *elems;
	int			nelems;

	wl_sku_get(code, false, &s);
	sku_id = wl_sku_int64(&s, SKU_ID);
	sku = wl_sku_text(&s, SKU_CODE);
	drop_unlisted(sku_id, sku, s.values[SKU_CHANNELS], s.nulls[SKU_CHANNELS]);
	if (s.nulls[SKU_CHANNELS])
		return;
	npub = wl_exec(&q_published, &arg, NULL, SPI_OK_SELECT, 0);
	pub = read_published(SPI_tuptable, npub);
	deconstruct_array(DatumGetArrayTypeP(s.values[SKU_CHANNELS]), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, NULL, &nelems);
	for (int i = 0; i < nelems; i++)
	{
		char	   *channel;
		Published	was;

		/* listings stored before they were de-duplicated may repeat */
		if (wl_text_in(elems, distinct, elems[i]))
			continue;
		elems[distinct++] = elems[i];
		channel = TextDatumGetCString(elems[i]);
		was = published_for(pub, npub, channel);
		publish_channel(&s, sku, channel, &was);
	}
}

/*
 * Dates move on their own: once a day re-evaluate the listed SKUs (up to
 * max), from tick().  Returns the SKUs looked at.  Caller is in SPI.
 */
int64
wl_availability_tick(int max)
{
	uint64		n = wl_sku_codes_to_recheck(max);
	SPITupleTable *t = SPI_tuptable;

	for (uint64 i = 0; i < n; i++)
	{
		wl_publish_availability(SPI_getvalue(t->vals[i], t->tupdesc, 1));
	}
	return (int64) n;
}
