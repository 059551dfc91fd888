/*
 * suppression.c
 *	  The one reader and writer of waitlist.suppression and
 *	  waitlist.message_event, and the lookup of a message by its id or
 *	  idempotency key for them.
 *
 * Contacts arrive normalized (domain/consent.c): a lower-cased email or an
 * E.164 phone.  A contact is suppressed once: the first reason and source
 * are kept, later ones change nothing.  An event is kept once per message
 * and kind, the first report winning; the primary keys make both
 * idempotent under concurrency (ON CONFLICT DO NOTHING).  claim() reads
 * the table itself (api/outbox_api.c), by the primary key.  Callers are in
 * SPI.
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "store/index_probe.h"
#include "store/spi.h"
#include "store/suppression.h"

/*
 * The key a contact is stored and compared under everywhere: an email
 * address lower-cased (the domain part is case-blind, and shops treat the
 * local part so too), a phone number as it is.
 */
char *
wl_contact_key(const char *contact, bool email)
{
	if (!email)
		return pstrdup(contact);
	return TextDatumGetCString(DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID,
													   CStringGetTextDatum(contact)));
}

static WlQuery q_message_by_id = {
	"SELECT id, channel, recipient, created_at FROM waitlist.outbox WHERE id = $1",
	1, {INT8OID}, NULL
};

static WlQuery q_message_by_key = {
	"SELECT id, channel, recipient, created_at FROM waitlist.outbox WHERE idempotency_key = $1",
	1, {TEXTOID}, NULL
};

static WlQuery q_insert_event = {
	"INSERT INTO waitlist.message_event (message_id, event, at) VALUES ($1, $2, $3)"
	" ON CONFLICT (message_id, event) DO NOTHING",
	3, {INT8OID, TEXTOID, TIMESTAMPTZOID}, NULL
};

static WlQuery q_suppress = {
	"INSERT INTO waitlist.suppression (contact, reason, source, message_id)"
	" VALUES ($1, $2, $3, $4) ON CONFLICT (contact) DO NOTHING",
	4, {TEXTOID, TEXTOID, TEXTOID, INT8OID}, NULL
};

static WlQuery q_reason = {
	"SELECT reason FROM waitlist.suppression WHERE contact = $1",
	1, {TEXTOID}, NULL
};

static WlQuery q_reason_lock = {
	"SELECT reason FROM waitlist.suppression WHERE contact = $1 FOR UPDATE",
	1, {TEXTOID}, NULL
};

static WlQuery q_unsuppress = {
	"DELETE FROM waitlist.suppression WHERE contact = $1",
	1, {TEXTOID}, NULL
};

/* What an event report reads of its message, in this order. */
static const char *const message_cols[] = {"id", "channel", "recipient", "created_at"};
static const Oid message_types[] = {INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID};

/*
 * The message a handle names: all digits, its id; anything else, its
 * idempotency key.  False when there is none.  The row is read through
 * the unique index directly (store/index_probe.c): record_event runs for
 * every delivery report a provider sends, and a planned statement's
 * start-up and shutdown were a sixth of the call.  SQL answers when the
 * index is not the expected one.
 */
bool
wl_find_message(const char *handle, WlMessage *m)
{
	size_t		len = strlen(handle);
	bool		by_id = len > 0 && len <= 18 && strspn(handle, "0123456789") == len;
	Datum		arg;
	Datum		values[lengthof(message_cols)];
	bool		nulls[lengthof(message_cols)];
	bool		isnull;

	if (by_id)
		arg = Int64GetDatum(strtoll(handle, NULL, 10));
	else
		arg = CStringGetTextDatum(handle);
	switch (wl_index_row(by_id ? "outbox_pkey" : "outbox_idempotency_key_key",
						 by_id ? INT8OID : TEXTOID, arg,
						 lengthof(message_cols), message_cols, message_types, values, nulls))
	{
		case WL_PROBE_EMPTY:
			return false;
		case WL_PROBE_FOUND:
			/* id, channel and created_at are NOT NULL; a feed has no recipient */
			m->id = DatumGetInt64(values[0]);
			m->channel = TextDatumGetCString(values[1]);
			m->recipient = nulls[2] ? NULL : TextDatumGetCString(values[2]);
			m->created_at = DatumGetTimestampTz(values[3]);
			return true;
		case WL_PROBE_UNUSABLE:
			break;
	}
	if (wl_exec(by_id ? &q_message_by_id : &q_message_by_key, &arg, NULL,
				SPI_OK_SELECT, 1) == 0)
		return false;
	m->id = wl_get_int64(0, 1, NULL);
	m->channel = wl_get_text(0, 2);
	m->recipient = wl_get_text(0, 3);
	m->created_at = DatumGetTimestampTz(wl_get_datum(0, 4, &isnull));
	return true;
}

/* Record an event of a message; false when that event was recorded before. */
bool
wl_insert_event(int64 message_id, const char *event, TimestampTz at)
{
	Datum		args[3];

	args[0] = Int64GetDatum(message_id);
	args[1] = CStringGetTextDatum(event);
	args[2] = TimestampTzGetDatum(at);
	return wl_exec(&q_insert_event, args, NULL, SPI_OK_INSERT, 0) > 0;
}

/* Suppress a contact; false when it already was (the first reason stays). */
bool
wl_suppress(const char *contact, const char *reason, const char *source,
			int64 message_id)
{
	Datum		args[4];
	char		nulls[5] = "    ";

	args[0] = CStringGetTextDatum(contact);
	args[1] = CStringGetTextDatum(reason);
	args[2] = CStringGetTextDatum(source);
	args[3] = Int64GetDatum(message_id);
	if (message_id == 0)
		nulls[3] = 'n';
	return wl_exec(&q_suppress, args, nulls, SPI_OK_INSERT, 0) > 0;
}

/* Why a contact is suppressed (palloc'd), or NULL; lock: FOR UPDATE. */
char *
wl_suppression_reason(const char *contact, bool lock)
{
	Datum		arg = CStringGetTextDatum(contact);

	if (wl_exec(lock ? &q_reason_lock : &q_reason, &arg, NULL, SPI_OK_SELECT, 1) == 0)
		return NULL;
	return wl_get_text(0, 1);
}

/* Lift a contact's suppression (the caller checked that it may). */
void
wl_unsuppress(const char *contact)
{
	Datum		arg = CStringGetTextDatum(contact);

	wl_exec(&q_unsuppress, &arg, NULL, SPI_OK_DELETE, 0);
}

static WlQuery q_log = {
	"INSERT INTO waitlist.consent_log (contact, action, reason, source, message_id)"
	" VALUES ($1, $2, $3, $4, $5)",
	5, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID}, NULL
};

/* Append a consent change to waitlist.consent_log. */
void
wl_log_consent(const char *contact, const char *action, const char *reason,
			   const char *source, int64 message_id)
{
	Datum		args[5];
	char		nulls[6] = "     ";

	args[0] = CStringGetTextDatum(contact);
	args[1] = CStringGetTextDatum(action);
	args[2] = CStringGetTextDatum(reason);
	args[3] = CStringGetTextDatum(source);
	args[4] = Int64GetDatum(message_id);
	if (message_id == 0)
		nulls[4] = 'n';
	wl_exec(&q_log, args, nulls, SPI_OK_INSERT, 0);
}
