/*
 * outbox_writer.c
 *	  The one writer of waitlist.outbox rows.
 *
 * Every message has an idempotency key, unique in the table, built from
 * what it is about (line or sign-up id, kind, batch, channel); inserts use
 * ON CONFLICT DO NOTHING, so a message is never queued twice.  A message
 * written notes the transaction for its NOTIFY (txn/pending.c).  The bulk
 * statements elsewhere write through WL_CONTACT_MESSAGES (outbox_writer.h).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "store/outbox_writer.h"
#include "store/spi.h"
#include "txn/pending.h"

static WlQuery q_queue_one = {
	WL_OUTBOX_INSERT "VALUES ($1, $2, $3, $4, $5::json, $6)" WL_OUTBOX_ONCE,
	6, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}, NULL
};

/*
 * Queue one message on a channel other than the customer's contacts
 * (payment, merchant); returns whether it was new.  Caller is in SPI.
 */
bool
wl_queue_message(const char *kind, const char *channel, const char *recipient,
				 const char *sku, const char *payload, const char *key)
{
	Datum		args[6];
	char		nulls[7] = "      ";

	args[0] = CStringGetTextDatum(kind);
	args[1] = CStringGetTextDatum(channel);
	args[2] = wl_opt_text(recipient);
	args[3] = CStringGetTextDatum(sku);
	args[4] = CStringGetTextDatum(payload);
	args[5] = CStringGetTextDatum(key);
	if (!recipient)
		nulls[2] = 'n';
	if (wl_exec(&q_queue_one, args, nulls, SPI_OK_INSERT, 0) == 0)
		return false;
	wl_note_messages();
	return true;
}

/*
 * Queue one message per contact (email, sms) given, the C twin of
 * WL_CONTACT_ROWS; returns how many were new.  The key names what the
 * message is about; the channel is appended.  Caller is connected to SPI.
 */
int
wl_queue_contacts(const char *kind, const char *sku, const char *email,
				  const char *phone, const char *payload, const char *key)
{
	const char *contacts[2] = {email, phone};
	static const char *const channels[2] = {"email", "sms"};
	int			n = 0;

	for (int i = 0; i < 2; i++)
		if (contacts[i])
			n += wl_queue_message(kind, channels[i], contacts[i], sku, payload,
								  psprintf("%s:%s", key, channels[i]));
	return n;
}

/*
 * Messages of one kind from five parallel arrays (channel, recipient, sku,
 * payload as json, key), for a bulk writer whose keys are new by
 * construction (they name rows it inserted itself): a plain INSERT.
 */
static WlQuery q_queue_new = {
	WL_OUTBOX_INSERT
	"SELECT $1, u.channel, u.recipient, u.sku, u.payload, u.key"
	" FROM unnest($2::text[], $3::text[], $4::text[], $5::json[], $6::text[])"
	"  AS u (channel, recipient, sku, payload, key)",
	6, {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONARRAYOID, TEXTARRAYOID}, NULL
};

/* Queue the messages in arrays[0..4] (see q_queue_new). */
void
wl_queue_new_messages(const char *kind, Datum *arrays)
{
	Datum		args[6];

	args[0] = CStringGetTextDatum(kind);
	memcpy(&args[1], arrays, sizeof(Datum) * 5);
	if (wl_exec(&q_queue_new, args, NULL, SPI_OK_INSERT, 0) > 0)
		wl_note_messages();
}

/*
 * The merchant's record of a message that could not be built: dead on
 * arrival, with the reason and what it was about, never a contact.
 */
static WlQuery q_dead_unit = {
	"INSERT INTO waitlist.outbox (kind, channel, sku, payload, idempotency_key, state,"
	"  last_error)"
	" SELECT 'message_failed', 'merchant', s.sku,"
	"  waitlist.payload_json('sku', s.sku, 'unit', $1, 'id', $2, 'reason', $3),"
	"  'failed:' || $1 || ':' || $2, 'dead', $3"
	" FROM waitlist.sku s WHERE s.sku = $4"
	" ON CONFLICT (idempotency_key) DO NOTHING",
	4, {TEXTOID, INT8OID, TEXTOID, TEXTOID}, NULL
};

/* Record a unit no message could be built from (dead on arrival). */
void
wl_queue_failed(const char *sku, const char *unit, int64 id, const char *reason)
{
	Datum		args[4];

	args[0] = CStringGetTextDatum(unit);
	args[1] = Int64GetDatum(id);
	args[2] = CStringGetTextDatum(reason);
	args[3] = CStringGetTextDatum(sku);
	wl_exec(&q_dead_unit, args, NULL, SPI_OK_INSERT, 0);
}

/*
 * Someone ordered the SKU: the back_in_stock messages (and reminders) still pending for
 * their email or phone (an email held back behind its SMS, or not claimed
 * yet) are skipped, never sent.  A message already claimed goes out (it was
 * due before the order), and so does one a claim is leasing right now: the
 * checkout passes over rows a relay holds locked instead of waiting for it.
 * Found through the partial index outbox_waves_pending.
 */
static WlQuery q_skip_back_in_stock = {
	"UPDATE waitlist.outbox SET state = 'skipped',"
	" last_error = 'not sent: the recipient ordered the SKU before it went out'"
	" WHERE id = ANY (ARRAY(SELECT id FROM waitlist.outbox"
	"  WHERE sku = $1 AND kind = ANY (ARRAY['back_in_stock', 'back_in_stock_reminder'])"
	"   AND state = 'pending'"
	"   AND lower(recipient) = ANY (ARRAY[lower($2), $3]) FOR UPDATE SKIP LOCKED))",
	3, {TEXTOID, TEXTOID, TEXTOID}, NULL
};

/*
 * The same for one sign-up that left the list by buying (id): its wave
 * messages still pending, whatever contact they go to, found by their
 * keys ("sub:<id>:...", a range of the unique index, collation C).
 */
static WlQuery q_skip_signup = {
	"UPDATE waitlist.outbox SET state = 'skipped',"
	" last_error = 'not sent: the recipient ordered the SKU before it went out'"
	" WHERE id = ANY (ARRAY(SELECT id FROM waitlist.outbox"
	"  WHERE idempotency_key >= $1 AND idempotency_key < $2 AND state = 'pending'"
	"   AND kind = ANY (ARRAY['back_in_stock', 'back_in_stock_reminder']) FOR UPDATE SKIP LOCKED))",
	2, {TEXTOID, TEXTOID}, NULL
};

int64
wl_outbox_skip_signup(int64 signup_id)
{
	Datum		args[2] = {CStringGetTextDatum(psprintf("sub:" INT64_FORMAT ":", signup_id)),
	CStringGetTextDatum(psprintf("sub:" INT64_FORMAT ";", signup_id))};

	return (int64) wl_exec(&q_skip_signup, args, NULL, SPI_OK_UPDATE, 0);
}

int64
wl_outbox_skip_back_in_stock(const char *sku, const char *email, const char *phone)
{
	Datum		args[3] = {CStringGetTextDatum(sku), wl_opt_text(email), wl_opt_text(phone)};
	char		nulls[4] = "   ";

	if (email == NULL && phone == NULL)
		return 0;
	nulls[1] = email ? ' ' : 'n';
	nulls[2] = phone ? ' ' : 'n';
	return (int64) wl_exec(&q_skip_back_in_stock, args, nulls, SPI_OK_UPDATE, 0);
}
