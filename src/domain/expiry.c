/*
 * expiry.c
 *	  Sign-ups do not wait for ever.  A sign-up still waiting
 *	  waitlist.signup_expiry after it was made, or renewed (the same person
 *	  signing up again keeps the place and starts the period over,
 *	  domain/signups.c), hears one last-chance message, signup_expiring,
 *	  waitlist.last_chance_notice before the end; when the notice has run
 *	  from that message it leaves the list (state expired).  A sign-up that
 *	  converted or left before gets neither.  tick() runs both steps when
 *	  its probes say they are due (domain/tick.c).
 *
 * Cost: each step reads a partial index of the waiting sign-ups whose
 * message is still to write (subscriber_last_chance) or already written
 * (subscriber_expiring), a chunk per tick; the messages go through the
 * outbox writer's fan-out in one statement.
 *
 * Locking: the last-chance step takes its sign-ups FOR UPDATE SKIP LOCKED
 * (two ticks split them; a sign-up being renewed or converted waits for
 * the next tick).  Expiring changes the SKU's counters: per SKU, its turn
 * and row first, then its sign-ups, as every writer of a SKU does.
 * Callers are in SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "domain/expiry.h"
#include "store/outbox_writer.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "waitlist.h"

/* The notice, never longer than the whole period. */
double
wl_last_chance_notice_s(void)
{
	return (double) Min(wl_last_chance_notice_setting, wl_signup_expiry_s);
}

/* How long after it was made or renewed a sign-up hears its last chance. */
double
wl_last_chance_after_s(void)
{
	return (double) wl_signup_expiry_s - wl_last_chance_notice_s();
}

/*
 * $1 seconds from made or renewed to the last chance, $2 chunk, $3 the
 * notice in seconds.  The key names the period, so a renewed sign-up can
 * hear its next last chance.
 */
static WlQuery q_last_chance = {
	"WITH c AS ("
	"  UPDATE waitlist.subscriber u SET last_chance_at = waitlist.now()"
	"   WHERE u.ctid = ANY (ARRAY(SELECT ctid FROM waitlist.subscriber"
	"                  WHERE state = 'waiting' AND last_chance_at IS NULL"
	"                    AND coalesce(renewed_at, created_at) <= waitlist.now() - make_interval(secs => $1)"
	"                  ORDER BY coalesce(renewed_at, created_at) LIMIT $2 FOR UPDATE SKIP LOCKED))"
	"  RETURNING u.id, u.sku, u.email, u.phone, coalesce(u.renewed_at, u.created_at) AS since) "
	WL_CONTACT_MESSAGES(
		"SELECT 'signup_expiring' AS kind, s.sku, c.email, c.phone,"
		" waitlist.payload_json('subscription_id', c.id, 'sku', s.sku, 'title', s.title,"
		"  'signed_up_on', to_char(c.since AT TIME ZONE 'UTC', 'YYYY-MM-DD'),"
		"  'expires_at', waitlist.now() + make_interval(secs => $3),"
		"  'stay_by', 'signing up again', 'product_url', s.product_url) AS payload,"
		" 'sub:' || c.id || ':expiring:' || extract(epoch FROM c.since)::bigint AS key"
		" FROM c JOIN waitlist.sku s ON s.sku = c.sku"),
	3, {FLOAT8OID, INT4OID, FLOAT8OID}, NULL
};

/* Write the last-chance messages now due (a chunk); returns the messages. */
int64
wl_signups_last_chance(void)
{
	Datum		args[3];

	if (wl_signup_expiry_s <= 0)
		return 0;
	args[0] = Float8GetDatum(wl_last_chance_after_s());
	args[1] = Int32GetDatum(WL_EXPIRY_CHUNK);
	args[2] = Float8GetDatum(wl_last_chance_notice_s());
	return (int64) wl_exec(&q_last_chance, args, NULL, SPI_OK_INSERT, 0);
}

/* The SKUs with sign-ups whose notice has run ($1 seconds), oldest first. */
static WlQuery q_expiring_skus = {
	"SELECT DISTINCT sku FROM (SELECT sku FROM waitlist.subscriber"
	"  WHERE state = 'waiting' AND last_chance_at IS NOT NULL"
	"    AND last_chance_at <= waitlist.now() - make_interval(secs => $1)"
	"  ORDER BY last_chance_at LIMIT $2) d ORDER BY sku",
	2, {FLOAT8OID, INT4OID}, NULL
};

/* Off the list; how many of them had not been told yet ($3 the watermark). */
static WlQuery q_expire = {
	"UPDATE waitlist.subscriber SET state = 'expired', unsubscribed_at = waitlist.now()"
	" WHERE sku = $1 AND state = 'waiting' AND last_chance_at IS NOT NULL"
	"   AND last_chance_at <= waitlist.now() - make_interval(secs => $2)"
	" RETURNING pos >= $3, id",
	3, {TEXTOID, FLOAT8OID, INT8OID}, NULL
};

/* Take the sign-ups whose notice has run off the list; returns how many. */
int64
wl_signups_expire(void)
{
	Datum		args[3];
	uint64		n;
	SPITupleTable *skus;
	int64		expired = 0;

	if (wl_signup_expiry_s <= 0)
		return 0;
	args[0] = Float8GetDatum(wl_last_chance_notice_s());
	args[1] = Int32GetDatum(WL_EXPIRY_CHUNK);
	n = wl_exec(&q_expiring_skus, args, NULL, SPI_OK_SELECT, 0);
	skus = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
	{
		char	   *sku;
		WlSku		s;
		int64		untold;
		uint64		gone;

		SPI_tuptable = skus;
		sku = wl_get_text(i, 1);
		wl_sku_wait_turn(sku);
		if (!wl_sku_find(sku, true, &s))
			continue;
		args[0] = CStringGetTextDatum(sku);
		args[1] = Float8GetDatum(wl_last_chance_notice_s());
		args[2] = Int64GetDatum(wl_sku_int64(&s, SKU_SUB_SERVED));
		gone = wl_exec(&q_expire, args, NULL, SPI_OK_UPDATE_RETURNING, 0);
		untold = 0;
		for (uint64 j = 0; j < gone; j++)
			untold += wl_get_bool(j, 1) ? 1 : 0;
		expired += (int64) gone;
		wl_sku_unqueue_signups(sku, gone, 2);
		if (untold > 0)
			wl_sku_signups_gone(sku, untold);
		if (!s.nulls[SKU_CHANNELS])
			wl_touch_sku(sku);	/* demand moved: publish availability at commit */
	}
	return expired;
}
