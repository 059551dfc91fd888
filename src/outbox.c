/*
 * outbox.c
 *	  The outbox: queueing messages, expanding batches, claim/ack/nack.
 *
 * Every message has an idempotency key, unique in the table, built from
 * what it is about (line or sign-up id, kind, batch, channel); inserts use
 * ON CONFLICT DO NOTHING, so a message is never queued twice.  Batches
 * written by the allocator at commit are expanded here into one message per
 * recipient and channel, with FOR UPDATE SKIP LOCKED so that concurrent
 * consumers never expand the same batch.  Claims lease due messages with
 * FOR UPDATE SKIP LOCKED; due_at holds the deliver-after time while pending
 * and the lease expiry while leased, so one partial index serves both.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/tstoreReceiver.h"
#include "funcapi.h"
#include "nodes/params.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "commit.h"
#include "outbox.h"
#include "policy.h"
#include "preorders.h"
#include "spi_util.h"
#include "validate.h"
#include "waitlist.h"

/* Sign-up confirmations written per expansion call at most. */
#define WL_CONFIRM_CHUNK 10000

PG_FUNCTION_INFO_V1(waitlist_expand_batches);
PG_FUNCTION_INFO_V1(waitlist_claim);
PG_FUNCTION_INFO_V1(waitlist_ack);
PG_FUNCTION_INFO_V1(waitlist_nack);
PG_FUNCTION_INFO_V1(waitlist_dead_letter);
PG_FUNCTION_INFO_V1(waitlist_extend_lease);
PG_FUNCTION_INFO_V1(waitlist_release);
PG_FUNCTION_INFO_V1(waitlist_next_due);
PG_FUNCTION_INFO_V1(waitlist_tick);

/* ---------- JSON payloads ---------- */

/* Start an object. */
void
wl_json_init(WlJson *j)
{
	initStringInfo(&j->buf);
	appendStringInfoChar(&j->buf, '{');
	j->empty = true;
}

/* Write "key": (shared by the typed adders). */
static void
json_key(WlJson *j, const char *key)
{
	if (!j->empty)
		appendStringInfoString(&j->buf, ", ");
	escape_json(&j->buf, key);
	appendStringInfoString(&j->buf, ": ");
	j->empty = false;
}

/* Add a string member (NULL becomes JSON null). */
void
wl_json_str(WlJson *j, const char *key, const char *val)
{
	json_key(j, key);
	if (val)
		escape_json(&j->buf, val);
	else
		appendStringInfoString(&j->buf, "null");
}

/* Add an integer member. */
void
wl_json_int(WlJson *j, const char *key, int64 val)
{
	json_key(j, key);
	appendStringInfo(&j->buf, INT64_FORMAT, val);
}

/* Add a member whose value is already JSON (a numeric's text); NULL is null. */
void
wl_json_raw(WlJson *j, const char *key, const char *val)
{
	json_key(j, key);
	appendStringInfoString(&j->buf, val ? val : "null");
}

/* Add a boolean member. */
void
wl_json_bool(WlJson *j, const char *key, bool val)
{
	json_key(j, key);
	appendStringInfoString(&j->buf, val ? "true" : "false");
}

/* Close the object and return its text. */
char *
wl_json_finish(WlJson *j)
{
	appendStringInfoChar(&j->buf, '}');
	return j->buf.data;
}

/* ---------- queueing ---------- */

static WlQuery q_queue_one = {
	"INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
	" VALUES ($1, $2, $3, $4, $5::json, $6)"
	" ON CONFLICT (idempotency_key) DO NOTHING",
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
 * Queue one message per contact (email, sms) given; returns how many were
 * new.  The key prefix names what the message is about; the channel is
 * appended.  Caller is connected to SPI.
 */
int
wl_queue_contacts(const char *kind, const char *sku, const char *email,
				  const char *phone, const char *payload, const char *key_prefix)
{
	int			n = 0;

	if (email)
		n += wl_queue_message(kind, "email", email, sku, payload,
							  psprintf("%s:email", key_prefix));
	if (phone)
		n += wl_queue_message(kind, "sms", phone, sku, payload,
							  psprintf("%s:sms", key_prefix));
	return n;
}

/* ---------- batch expansion ---------- */

static WlQuery q_pending_batches = {
	"SELECT id, sku_id, kind, pos_from, pos_to, scan_lo, scan_hi, units"
	" FROM waitlist.batch WHERE expanded_at IS NULL"
	" ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
	1, {INT4OID}, NULL
};

/*
 * Allocation messages.  A line told it is ready to ship is told once
 * (key per line and channel); a partial allocation once per allocated
 * total.  Lines that no longer hold the units when the batch is expanded
 * (a stock count took them back, or the line was cancelled) get nothing.
 */
static WlQuery q_expand_allocated = {
	"INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
	" SELECT a.msg_kind, c.channel, c.recipient, a.sku,"
	"  waitlist.payload_json('order_ref', a.order_ref, 'line_id', a.id, 'sku', a.sku,"
	"   'title', a.title, 'qty', a.qty, 'allocated_now', a.now,"
	"   'allocated_total', a.total, 'product_url', a.product_url),"
	"  'line:' || a.id || CASE WHEN a.msg_kind = 'ready_to_ship' THEN ':ready:'"
	"   ELSE ':allocated:' || a.total || ':' END || c.channel"
	" FROM (SELECT l.*, s.sku, s.title, s.product_url,"
	"        CASE WHEN l.pos_end <= $4 THEN 'ready_to_ship' ELSE 'allocated' END AS msg_kind,"
	"        least(l.pos_end, $4) - greatest(l.pos_start, $3) AS now,"
	"        least(l.pos_end, $4) - l.pos_start AS total"
	"       FROM waitlist.sku s"
	"       JOIN waitlist.line l ON l.sku_id = s.id AND l.state = 'waiting'"
	"        AND l.pos_end > $5 AND l.pos_end <= $6 AND l.pos_start < $4"
	"       WHERE s.id = $2 AND l.pos_end > $3"
	"        AND s.paid_served >= least(l.pos_end, $4)) a"
	" CROSS JOIN LATERAL (VALUES ('email', a.email), ('sms', a.phone)) AS c (channel, recipient)"
	" WHERE c.recipient IS NOT NULL"
	" ON CONFLICT (idempotency_key) DO NOTHING",
	6, {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID}, NULL
};

static WlQuery q_expand_back = {
	"INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
	" SELECT 'back_in_stock', c.channel, c.recipient, s.sku,"
	"  waitlist.payload_json('subscription_id', u.id, 'sku', s.sku, 'title', s.title,"
	"   'units_available', $7, 'product_url', s.product_url, 'image_url', s.image_url),"
	"  'sub:' || u.id || ':back:' || $1 || ':' || c.channel"
	" FROM waitlist.sku s"
	" JOIN waitlist.subscriber u ON u.sku_id = s.id AND u.state = 'waiting'"
	"  AND u.pos >= $5 AND u.pos < $6"
	" CROSS JOIN LATERAL (VALUES ('email', u.email), ('sms', u.phone)) AS c (channel, recipient)"
	" WHERE s.id = $2 AND c.recipient IS NOT NULL AND $3 IS NOT NULL AND $4 IS NOT NULL"
	" ON CONFLICT (idempotency_key) DO NOTHING",
	7, {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID}, NULL
};

static WlQuery q_expand_sold_out = {
	"INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
	" SELECT 'sold_out_again', c.channel, c.recipient, s.sku,"
	"  waitlist.payload_json('subscription_id', u.id, 'sku', s.sku, 'title', s.title,"
	"   'position', u.place, 'waiting', u.total, 'still_on_list', true,"
	"   'product_url', s.product_url),"
	"  'sub:' || u.id || ':soldout:' || $1 || ':' || c.channel"
	" FROM waitlist.sku s"
	" JOIN (SELECT w.*, row_number() OVER (ORDER BY w.pos) AS place,"
	"        count(*) OVER () AS total"
	"       FROM waitlist.subscriber w"
	"       WHERE w.sku_id = $2 AND w.state = 'waiting' AND w.pos >= $5 AND w.pos < $6) u"
	"  ON u.sku_id = s.id"
	" CROSS JOIN LATERAL (VALUES ('email', u.email), ('sms', u.phone)) AS c (channel, recipient)"
	" WHERE s.id = $2 AND c.recipient IS NOT NULL AND $3 IS NOT NULL AND $4 IS NOT NULL"
	"  AND $7 IS NOT NULL"
	" ON CONFLICT (idempotency_key) DO NOTHING",
	7, {INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID}, NULL
};

/* Sign-up confirmations marked by subscribe(), oldest first. */
static WlQuery q_expand_joined = {
	"WITH c AS ("
	"  UPDATE waitlist.subscriber u SET confirm_pending = false"
	"   WHERE u.id = ANY (ARRAY(SELECT id FROM waitlist.subscriber WHERE confirm_pending"
	"                  AND ($2::bigint IS NULL OR id = $2)"
	"                  ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED))"
	"  RETURNING u.id, u.sku_id, u.email, u.phone)"
	" INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
	" SELECT 'waitlist_joined', ch.channel, ch.recipient, s.sku,"
	"  waitlist.payload_json('subscription_id', c.id, 'sku', s.sku, 'title', s.title,"
	"   'expected_restock_date',"
	"    CASE WHEN s.restock_confirmed THEN to_char(s.restock_date, 'YYYY-MM-DD') END,"
	"   'product_url', s.product_url),"
	"  'sub:' || c.id || ':joined:' || ch.channel"
	" FROM c JOIN waitlist.sku s ON s.id = c.sku_id"
	" CROSS JOIN LATERAL (VALUES ('email', c.email), ('sms', c.phone)) AS ch (channel, recipient)"
	" WHERE ch.recipient IS NOT NULL"
	" ON CONFLICT (idempotency_key) DO NOTHING",
	2, {INT4OID, INT8OID}, NULL
};

static WlQuery q_batch_done = {
	"UPDATE waitlist.batch SET expanded_at = now(), messages = $2 WHERE id = $1",
	2, {INT8OID, INT8OID}, NULL
};

/* Expand one batch row (the current SPI result row i) into messages. */
static int64
expand_one(SPITupleTable *batches, uint64 i)
{
	Datum		args[7];
	char	   *kind;
	WlQuery    *q;
	int64		n;
	Datum		done[2];

	SPI_tuptable = batches;
	args[0] = wl_get_datum(i, 1, NULL);	/* id */
	args[1] = wl_get_datum(i, 2, NULL);	/* sku_id */
	kind = wl_get_text(i, 3);
	args[2] = wl_get_datum(i, 4, NULL);	/* pos_from */
	args[3] = wl_get_datum(i, 5, NULL);	/* pos_to */
	args[4] = wl_get_datum(i, 6, NULL);	/* scan_lo */
	args[5] = wl_get_datum(i, 7, NULL);	/* scan_hi */
	args[6] = wl_get_datum(i, 8, NULL);	/* units */
	if (strcmp(kind, "allocated") == 0)
		q = &q_expand_allocated;
	else if (strcmp(kind, "back_in_stock") == 0)
		q = &q_expand_back;
	else
		q = &q_expand_sold_out;
	n = (int64) wl_exec(q, args, NULL, SPI_OK_INSERT, 0);
	done[0] = args[0];
	done[1] = Int64GetDatum(n);
	wl_exec(&q_batch_done, done, NULL, SPI_OK_UPDATE, 0);
	return n;
}

/* ---------- expansion that bad data cannot block ---------- */

/*
 * Expansion work of one kind.  It runs in bulk; when the bulk statement
 * fails on a unit's data (a date no message can carry, say), it runs again
 * unit by unit, and each unit that still fails is taken off the work and
 * dead-lettered with its reason, so one bad row never stops the others.
 */
typedef struct ExpandWork
{
	const char *unit;			/* what an id names: subscription, line, batch */
	int64		(*bulk) (int64 max);	/* messages written */
	WlQuery    *due;			/* $1 max: the ids bulk would take, in its order */
	int64		(*one) (int64 id);	/* messages written for one unit */
	WlQuery    *retire;			/* $1 id: off the work, RETURNING sku_id */
} ExpandWork;

/* Errors that come from a unit's data, not from the database's state. */
static bool
data_error(ErrorData *e)
{
	int			category = ERRCODE_TO_CATEGORY(e->sqlerrcode);

	return category == ERRCODE_DATA_EXCEPTION ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		category == ERRCODE_PROGRAM_LIMIT_EXCEEDED;
}

/*
 * fn(arg) in a subtransaction (caller is in SPI).  False, with the work
 * rolled back and *reason set, when it failed on its data; any other error
 * propagates.
 */
static bool
run_guarded(int64 (*fn) (int64), int64 arg, int64 *result, char **reason)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		*result = fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		if (!data_error(e))
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		*reason = e->message;
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
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
	" FROM waitlist.sku s WHERE s.id = $4"
	" ON CONFLICT (idempotency_key) DO NOTHING",
	4, {TEXTOID, INT8OID, TEXTOID, INT8OID}, NULL
};

/* Take a unit that cannot be built off the work and dead-letter it. */
static void
retire_unit(const ExpandWork *w, int64 id, const char *reason)
{
	Datum		arg = Int64GetDatum(id);
	Datum		args[4];

	if (wl_exec(w->retire, &arg, NULL, SPI_OK_UPDATE_RETURNING, 0) == 0)
		return;
	args[0] = CStringGetTextDatum(w->unit);
	args[1] = arg;
	args[2] = CStringGetTextDatum(reason);
	args[3] = wl_get_datum(0, 1, NULL);
	wl_exec(&q_dead_unit, args, NULL, SPI_OK_INSERT, 0);
	ereport(WARNING,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("waitlist: %s " INT64_FORMAT " cannot be turned into a message: %s",
					w->unit, id, reason),
			 errdetail("It is dead-lettered in waitlist.outbox as message_failed.")));
}

/* Run w in bulk, or unit by unit when the bulk run fails on bad data. */
static int64
expand_guarded(const ExpandWork *w, int max)
{
	Datum		arg = Int32GetDatum(max);
	int64		n;
	int64		total = 0;
	char	   *reason;
	uint64		nids;
	int64	   *ids;

	if (run_guarded(w->bulk, max, &n, &reason))
		return n;
	nids = wl_exec(w->due, &arg, NULL, SPI_OK_SELECT, 0);
	ids = palloc(sizeof(int64) * (nids + 1));
	for (uint64 i = 0; i < nids; i++)
		ids[i] = wl_get_int64(i, 1, NULL);
	for (uint64 i = 0; i < nids; i++)
	{
		if (run_guarded(w->one, ids[i], &n, &reason))
			total += n;
		else
			retire_unit(w, ids[i], reason);
	}
	pfree(ids);
	return total;
}

/* Sign-up confirmations: up to max, or one sign-up's. */
static int64
joined_messages(int64 max, int64 id)
{
	Datum		args[2] = {Int32GetDatum((int32) max), Int64GetDatum(id)};
	char		nulls[3] = {' ', id ? ' ' : 'n', '\0'};

	return (int64) wl_exec(&q_expand_joined, args, nulls, SPI_OK_INSERT, 0);
}

static int64
joined_bulk(int64 max)
{
	return joined_messages(max, 0);
}

static int64
joined_one(int64 id)
{
	return joined_messages(1, id);
}

static WlQuery q_joined_due = {
	"SELECT id FROM waitlist.subscriber WHERE confirm_pending"
	" ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
	1, {INT4OID}, NULL
};

static WlQuery q_joined_retire = {
	"UPDATE waitlist.subscriber SET confirm_pending = false WHERE id = $1 RETURNING sku_id",
	1, {INT8OID}, NULL
};

static const ExpandWork joined_work = {
	"subscription", joined_bulk, &q_joined_due, joined_one, &q_joined_retire
};

static int64
line_actions_bulk(int64 max)
{
	return wl_expand_line_actions((int) max);
}

static WlQuery q_line_due = {
	"SELECT id FROM waitlist.line WHERE action_at <= now()"
	" ORDER BY action_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
	1, {INT4OID}, NULL
};

static WlQuery q_line_retire = {
	"UPDATE waitlist.line SET confirm_pending = false, action_at = NULL WHERE id = $1"
	" RETURNING sku_id",
	1, {INT8OID}, NULL
};

static const ExpandWork line_work = {
	"line", line_actions_bulk, &q_line_due, wl_expand_line_action, &q_line_retire
};

/*
 * Write up to max pending sign-up confirmations, then the pre-order lines'
 * due confirmations, payment events and re-authorizations; returns messages.
 */
static int64
expand_confirmations(int max)
{
	return expand_guarded(&joined_work, max) + expand_guarded(&line_work, max);
}

/* Up to max committed batches, oldest first. */
static int64
batches_bulk(int64 max)
{
	Datum		arg = Int32GetDatum((int32) max);
	SPITupleTable *batches;
	uint64		n = wl_exec(&q_pending_batches, &arg, NULL, SPI_OK_SELECT, 0);
	int64		total = 0;

	batches = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
		total += expand_one(batches, i);
	SPI_freetuptable(batches);
	return total;
}

static WlQuery q_batch_by_id = {
	"SELECT id, sku_id, kind, pos_from, pos_to, scan_lo, scan_hi, units"
	" FROM waitlist.batch WHERE id = $1 AND expanded_at IS NULL",
	1, {INT8OID}, NULL
};

static int64
batch_one(int64 id)
{
	Datum		arg = Int64GetDatum(id);

	if (wl_exec(&q_batch_by_id, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		return 0;
	return expand_one(SPI_tuptable, 0);
}

static WlQuery q_batch_due = {
	"SELECT id FROM waitlist.batch WHERE expanded_at IS NULL"
	" ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
	1, {INT4OID}, NULL
};

static WlQuery q_batch_retire = {
	"UPDATE waitlist.batch SET expanded_at = now(), messages = 0 WHERE id = $1"
	" AND expanded_at IS NULL RETURNING sku_id",
	1, {INT8OID}, NULL
};

static const ExpandWork batch_work = {
	"batch", batches_bulk, &q_batch_due, batch_one, &q_batch_retire
};

static WlQuery q_pending_work = {
	"SELECT EXISTS (SELECT 1 FROM waitlist.batch WHERE expanded_at IS NULL),"
	" EXISTS (SELECT 1 FROM waitlist.subscriber WHERE confirm_pending)"
	"  OR EXISTS (SELECT 1 FROM waitlist.line WHERE action_at <= now())",
	0, {InvalidOid}, NULL
};

/*
 * Expand up to max_batches committed batches, and as many pending sign-up
 * confirmations and due pre-order lines; caller is connected to SPI.  One
 * cheap look at the partial indexes first, so a claim with nothing to
 * expand pays little.
 */
int64
wl_expand_batches(int max_batches)
{
	int64		total = 0;
	bool		have_batches;

	wl_exec(&q_pending_work, NULL, NULL, SPI_OK_SELECT, 0);
	have_batches = wl_get_bool(0, 1);
	if (wl_get_bool(0, 2))
		total = expand_confirmations(Min(max_batches, WL_CONFIRM_CHUNK));
	if (have_batches)
		total += expand_guarded(&batch_work, max_batches);
	if (total > 0)
		wl_note_messages();
	return total;
}

/* SQL: waitlist.expand_batches(max_batches) */
Datum
waitlist_expand_batches(PG_FUNCTION_ARGS)
{
	int32		max_batches = PG_GETARG_INT32(0);
	int64		n;

	if (max_batches <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_batches must be positive")));
	SPI_connect();
	n = wl_expand_batches(max_batches);
	SPI_finish();
	PG_RETURN_INT64(n);
}

/* SQL: waitlist.tick() */
Datum
waitlist_tick(PG_FUNCTION_ARGS)
{
	int64		n;
	int64		more;

	SPI_connect();
	n = wl_expand_batches(INT_MAX);
	while ((more = expand_confirmations(WL_CONFIRM_CHUNK)) > 0)
		n += more;
	wl_availability_tick(1000);
	if (n > 0)
		wl_note_messages();
	SPI_finish();
	PG_RETURN_INT64(n);
}

/* ---------- consumers ---------- */

/*
 * The ids go through an array, not a join: with LIMIT as a parameter the
 * generic plan would otherwise estimate thousands of rows and hash-join a
 * sequential scan of the whole outbox.
 */
static WlQuery q_claim = {
	"UPDATE waitlist.outbox o SET state = 'leased', lease_owner = $1,"
	" due_at = now() + $3, attempts = o.attempts + 1"
	" WHERE o.id = ANY (ARRAY(SELECT id FROM waitlist.outbox"
	"       WHERE state IN ('pending', 'leased') AND due_at <= now()"
	"        AND ($4::text[] IS NULL OR kind = ANY ($4))"
	"        AND ($5::text[] IS NULL OR channel = ANY ($5))"
	"       ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED))"
	" RETURNING o.id, o.kind, o.channel, o.recipient, o.sku, o.payload,"
	"  o.idempotency_key, o.attempts, o.created_at, o.due_at",
	5, {TEXTOID, INT4OID, INTERVALOID, TEXTARRAYOID, TEXTARRAYOID}, NULL
};

/* Consumer name argument: required, at most WL_MAX_CONSUMER_LEN. */
static char *
arg_consumer(FunctionCallInfo fcinfo)
{
	return wl_arg_text(fcinfo, 0, "consumer", WL_MAX_CONSUMER_LEN, true);
}

/* Interval argument that must be positive (or NULL when allowed). */
static Interval *
arg_interval(FunctionCallInfo fcinfo, int argno, const char *name, bool positive)
{
	Interval   *iv;
	Interval	zero = {0};

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	iv = PG_GETARG_INTERVAL_P(argno);
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(iv),
										 IntervalPGetDatum(&zero))) ||
		(positive && DatumGetBool(DirectFunctionCall2(interval_eq,
													  IntervalPGetDatum(iv),
													  IntervalPGetDatum(&zero)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s", name, positive ? "positive" : "zero or more")));
	return iv;
}

/*
 * Run the claim with its RETURNING rows going straight into the SRF's
 * tuplestore (no copy out of SPI); the column types match the result type.
 *
 * The claim reads outbox_due in index order, so it stops at its LIMIT and
 * marks the dead entries it steps over (the earlier versions of claimed,
 * acked and retried messages) for later scans to skip.  When the
 * statistics promise few due messages the planner prefers a bitmap scan and
 * a sort, which reads every entry due by now, dead or alive, on every
 * claim until VACUUM: after a few thousand deliveries that was most of a
 * claim's time.  So bitmap scans are off while the claim is planned and run.
 */
static void
claim_into(ReturnSetInfo *rsinfo, Datum *args, const char *nulls)
{
	ParamListInfo params = makeParamList(q_claim.nargs);
	DestReceiver *dest = CreateDestReceiver(DestTuplestore);
	SPIExecuteOptions options;
	int			nestlevel;
	int			rc;

	for (int i = 0; i < q_claim.nargs; i++)
	{
		params->params[i].value = args[i];
		params->params[i].isnull = nulls[i] == 'n';
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = q_claim.argtypes[i];
	}
	SetTuplestoreDestReceiverParams(dest, rsinfo->setResult,
									rsinfo->econtext->ecxt_per_query_memory,
									false, NULL, NULL);
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.dest = dest;
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	wl_prepare(&q_claim);
	rc = SPI_execute_plan_extended(q_claim.plan, &options);
	AtEOXact_GUC(true, nestlevel);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "waitlist: claim returned %s", SPI_result_code_string(rc));
	dest->rDestroy(dest);
}

/* Optional text[] filter argument: NULL (no filter) or without NULLs. */
static Datum
arg_filter(FunctionCallInfo fcinfo, int argno, const char *name, char *null)
{
	ArrayType  *a;

	*null = 'n';
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return (Datum) 0;
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain nulls", name)));
	*null = ' ';
	return PointerGetDatum(a);
}

/* SQL: waitlist.claim(consumer, max, lease, kinds, channels) */
Datum
waitlist_claim(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *consumer = arg_consumer(fcinfo);
	Interval   *lease = arg_interval(fcinfo, 2, "lease", true);
	int32		max;
	Datum		args[5];
	char		nulls[6] = "     ";

	if (PG_ARGISNULL(1) || (max = PG_GETARG_INT32(1)) < 1 || max > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and 10000")));
	args[3] = arg_filter(fcinfo, 3, "kinds", &nulls[3]);
	args[4] = arg_filter(fcinfo, 4, "channels", &nulls[4]);
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	wl_expand_batches(INT_MAX);
	args[0] = CStringGetTextDatum(consumer);
	args[1] = Int32GetDatum(max);
	args[2] = IntervalPGetDatum(lease);
	claim_into(rsinfo, args, nulls);
	SPI_finish();
	return (Datum) 0;
}

static WlQuery q_ack = {
	"UPDATE waitlist.outbox SET state = 'delivered', delivered_at = now()"
	" WHERE id = ANY ($2) AND state = 'leased' AND lease_owner = $1",
	2, {TEXTOID, INT8ARRAYOID}, NULL
};

static WlQuery q_extend = {
	"UPDATE waitlist.outbox SET due_at = now() + $3"
	" WHERE id = ANY ($2) AND state = 'leased' AND lease_owner = $1",
	3, {TEXTOID, INT8ARRAYOID, INTERVALOID}, NULL
};

static WlQuery q_release = {
	"UPDATE waitlist.outbox SET state = 'pending', due_at = now(),"
	" attempts = greatest(attempts - 1, 0), lease_owner = NULL"
	" WHERE id = ANY ($2) AND state = 'leased' AND lease_owner = $1",
	2, {TEXTOID, INT8ARRAYOID}, NULL
};

/* ids argument: a non-null array without NULL elements. */
static Datum
arg_ids(FunctionCallInfo fcinfo, int argno)
{
	ArrayType  *a;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("ids must not be null")));
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("ids must not contain nulls")));
	return PointerGetDatum(a);
}

/* Run an UPDATE over (consumer, ids[, lease]) and return the row count. */
static int32
update_leased(WlQuery *q, Datum *args)
{
	uint64		n;

	SPI_connect();
	n = wl_exec(q, args, NULL, SPI_OK_UPDATE, 0);
	SPI_finish();
	return (int32) n;
}

/* SQL: waitlist.ack(consumer, ids) */
Datum
waitlist_ack(PG_FUNCTION_ARGS)
{
	Datum		args[2];

	args[0] = CStringGetTextDatum(arg_consumer(fcinfo));
	args[1] = arg_ids(fcinfo, 1);
	PG_RETURN_INT32(update_leased(&q_ack, args));
}

/* SQL: waitlist.extend_lease(consumer, ids, lease) */
Datum
waitlist_extend_lease(PG_FUNCTION_ARGS)
{
	Datum		args[3];

	args[0] = CStringGetTextDatum(arg_consumer(fcinfo));
	args[1] = arg_ids(fcinfo, 1);
	args[2] = IntervalPGetDatum(arg_interval(fcinfo, 2, "lease", true));
	PG_RETURN_INT32(update_leased(&q_extend, args));
}

/* SQL: waitlist.release(consumer, ids) */
Datum
waitlist_release(PG_FUNCTION_ARGS)
{
	Datum		args[2];

	args[0] = CStringGetTextDatum(arg_consumer(fcinfo));
	args[1] = arg_ids(fcinfo, 1);
	PG_RETURN_INT32(update_leased(&q_release, args));
}

static WlQuery q_leased = {
	"SELECT attempts FROM waitlist.outbox"
	" WHERE id = $2 AND state = 'leased' AND lease_owner = $1 FOR UPDATE",
	2, {TEXTOID, INT8OID}, NULL
};

static WlQuery q_fail = {
	"UPDATE waitlist.outbox SET state = $2, last_error = $3,"
	" due_at = now() + make_interval(secs => $4 / 1000.0), lease_owner = NULL"
	" WHERE id = $1",
	4, {INT8OID, TEXTOID, TEXTOID, FLOAT8OID}, NULL
};

/* Lock a message leased to consumer; returns its attempts or raises WL008. */
static int32
lock_leased(const char *consumer, int64 id)
{
	Datum		args[2] = {CStringGetTextDatum(consumer), Int64GetDatum(id)};

	if (wl_exec(&q_leased, args, NULL, SPI_OK_SELECT, 0) == 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_NOT_LEASE_HOLDER),
				 errmsg("message " INT64_FORMAT " is not leased to consumer \"%s\"",
						id, consumer),
				 errdetail("Its lease expired and it was claimed again, or it was never claimed by this consumer.")));
	return DatumGetInt32(wl_get_datum(0, 1, NULL));
}

/* Backoff for the given attempt: base * 2^(attempt-1), capped, equal jitter. */
static double
backoff_ms(int32 attempts)
{
	double		d = (double) wl_retry_base_ms * pow(2.0, Max(attempts - 1, 0));

	d = Min(d, (double) wl_retry_max_ms);
	return d / 2 + pg_prng_double(&pg_global_prng_state) * d / 2;
}

/* Interval to milliseconds. */
static double
interval_ms(Interval *iv)
{
	return (double) iv->time / 1000.0 +
		((double) iv->day + (double) iv->month * DAYS_PER_MONTH) * (double) USECS_PER_DAY / 1000.0;
}

/* Truncate an error text to something a row can hold. */
static char *
clip_error(FunctionCallInfo fcinfo, int argno)
{
	char	   *e;

	if (PG_ARGISNULL(argno))
		return pstrdup("(no error given)");
	e = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strlen(e) > WL_MAX_ERROR_LEN)
		e[pg_mbcliplen(e, strlen(e), WL_MAX_ERROR_LEN)] = '\0';
	return e;
}

/* Write the failure outcome. */
static void
store_failure(int64 id, const char *state, const char *error, double delay_ms)
{
	Datum		args[4];

	args[0] = Int64GetDatum(id);
	args[1] = CStringGetTextDatum(state);
	args[2] = CStringGetTextDatum(error);
	args[3] = Float8GetDatum(delay_ms);
	wl_exec(&q_fail, args, NULL, SPI_OK_UPDATE, 0);
}

/* SQL: waitlist.nack(consumer, id, error, retry_after) */
Datum
waitlist_nack(PG_FUNCTION_ARGS)
{
	char	   *consumer = arg_consumer(fcinfo);
	int64		id = wl_arg_int64(fcinfo, 1, "id");
	char	   *error = clip_error(fcinfo, 2);
	double		delay = -1;
	const char *state = "pending";
	int32		attempts;

	if (!PG_ARGISNULL(3))
		delay = interval_ms(arg_interval(fcinfo, 3, "retry_after", false));
	SPI_connect();
	attempts = lock_leased(consumer, id);
	if (attempts >= wl_max_attempts)
		state = "dead";
	else if (delay < 0)
		delay = backoff_ms(attempts);
	store_failure(id, state, error, Max(delay, 0));
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(state));
}

/* SQL: waitlist.dead_letter(consumer, id, error) */
Datum
waitlist_dead_letter(PG_FUNCTION_ARGS)
{
	char	   *consumer = arg_consumer(fcinfo);
	int64		id = wl_arg_int64(fcinfo, 1, "id");
	char	   *error = clip_error(fcinfo, 2);

	SPI_connect();
	(void) lock_leased(consumer, id);
	store_failure(id, "dead", error, 0);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

static WlQuery q_next_due = {
	"SELECT CASE WHEN EXISTS (SELECT 1 FROM waitlist.batch WHERE expanded_at IS NULL)"
	"  OR EXISTS (SELECT 1 FROM waitlist.subscriber WHERE confirm_pending)"
	"  OR EXISTS (SELECT 1 FROM waitlist.line WHERE action_at <= now())"
	" THEN now() ELSE least((SELECT due_at FROM waitlist.outbox"
	"  WHERE state IN ('pending', 'leased')"
	"   AND ($1::text[] IS NULL OR kind = ANY ($1))"
	"   AND ($2::text[] IS NULL OR channel = ANY ($2))"
	"  ORDER BY due_at LIMIT 1),"
	"  (SELECT min(action_at) FROM waitlist.line WHERE action_at IS NOT NULL)) END",
	2, {TEXTARRAYOID, TEXTARRAYOID}, NULL
};

/* SQL: waitlist.next_due(kinds, channels) */
Datum
waitlist_next_due(PG_FUNCTION_ARGS)
{
	bool		isnull;
	Datum		d;
	Datum		args[2];
	char		nulls[3] = "  ";

	args[0] = arg_filter(fcinfo, 0, "kinds", &nulls[0]);
	args[1] = arg_filter(fcinfo, 1, "channels", &nulls[1]);
	SPI_connect();
	wl_exec(&q_next_due, args, nulls, SPI_OK_SELECT, 0);
	d = wl_get_datum(0, 1, &isnull);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(d);
}
