/*
 * signups.c
 *	  Back-in-stock sign-ups: subscribing (keeping your place when you sign
 *	  up again) and unsubscribing.  SQL entry points: api/signup_api.c.
 *
 * A sign-up takes the next position of its SKU's sign-up queue under the
 * SKU row lock, which also makes the "same contact again" check race-free.
 * Positions have no gaps: a position taken for a duplicate is given back
 * at once, still under the lock.  A new confirmed restock date reaches the
 * sign-ups still waiting through an eta_changed batch (allocator.c writes
 * it, expansion.c expands it in chunks).  Callers are in SPI.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "domain/allocator.h"
#include "domain/signups.h"
#include "store/outbox_writer.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "txn/sku_queue.h"
#include "waitlist.h"

/* waitlist.subscriber's columns read by probe() (the table's own order) */
#define SUBSCRIBER_ID		1
#define SUBSCRIBER_POS		6
#define SUBSCRIBER_STATE	7

/* The SKU as a new sign-up finds it, under its row lock. */
typedef struct SignupSku
{
	const char *code;			/* the SKU code */
	int64		pos;			/* position taken for the new sign-up */
	int64		sub_served;
	bool		discontinued;
	bool		confirm;
	bool		unannounced;	/* free units nobody was told about yet */
	bool		listed;			/* on sales channels: demand feeds the policy */
	int64		preorder_room;	/* pre-order units still open to take, or 0 */
} SignupSku;

static WlQuery q_fill_contact = {
	"UPDATE waitlist.subscriber SET email = coalesce(email, $2), phone = coalesce(phone, $3),"
	" renewed_at = waitlist.now(), last_chance_at = NULL"
	" WHERE sku = $4 AND id = $1",
	4, {INT8OID, TEXTOID, TEXTOID, TEXTOID}, NULL
};

static WlQuery q_insert = {
	"INSERT INTO waitlist.subscriber (sku, email, phone, customer, pos)"
	" VALUES ($1, $2, $3, $4, $5) RETURNING id",
	5, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID}, NULL
};

/*
 * The waitlist_joined confirmation is not written here: the sign-up is
 * queued in unconfirmed_signup, and claim()/tick() write the messages in
 * bulk (expansion.c), which keeps a sign-up to two small inserts.  A row
 * already there (left by a TRUNCATE ... RESTART IDENTITY of the sign-ups,
 * which the queue, without a foreign key, does not follow) queues the same
 * sign-up: it is kept.
 */
static WlQuery q_queue_confirmation = {
	"INSERT INTO waitlist.unconfirmed_signup (id, sku) VALUES ($1, $2)"
	" ON CONFLICT DO NOTHING",
	2, {INT8OID, TEXTOID}, NULL
};

/* Lock the SKU and take the next sign-up position. */
static void
take_position(const char *sku, SignupSku *s)
{
	WlSku		row;

	if (!wl_sku_take_signup(sku, &row))
		wl_error_unknown_sku(sku);
	s->code = wl_sku_text(&row, SKU_CODE);
	s->pos = wl_sku_int64(&row, SKU_SUB_TAIL) - 1;
	s->sub_served = wl_sku_int64(&row, SKU_SUB_SERVED);
	s->discontinued = wl_sku_text_is(&row, SKU_STATUS, "discontinued");
	s->confirm = wl_sku_bool(&row, SKU_CONFIRM_SIGNUPS);
	s->unannounced = wl_sku_free_units(&row) > wl_sku_int64(&row, SKU_ANNOUNCED);
	s->preorder_room = wl_sku_preorder_room(&row);
	s->listed = !row.nulls[SKU_CHANNELS];
	if (s->discontinued)
		wl_error_discontinued(sku);
	if (s->preorder_room > 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_PREORDERS_OPEN),
				 errmsg("SKU \"%s\" still takes pre-orders", sku),
				 errdetail(INT64_FORMAT " pre-order units remain; sign-ups open when the pre-order limit is reached or pre-orders close.",
						   s->preorder_room),
				 errhint("Offer the pre-order (waitlist.place_preorder).")));
}

/* Refuse to read a column by number if the table's layout is not the one expected. */
static void
require_column(Relation rel, AttrNumber attnum, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (attnum > desc->natts || TupleDescAttr(desc, attnum - 1)->attisdropped ||
		strcmp(NameStr(TupleDescAttr(desc, attnum - 1)->attname), name) != 0)
		elog(ERROR, "waitlist: column %d of %s is not \"%s\"", attnum,
			 RelationGetRelationName(rel), name);
}

/*
 * Probe one contact through its own partial index, (sku, lower(email),
 * pos) or (sku, phone, pos), both WHERE state = 'waiting': the first
 * entry at or after the watermark is the earliest waiting sign-up with that
 * contact.  Returns its id (0 if none), *pos its place.
 *
 * The index is read directly rather than through a planned query.  A query
 * leaves the choice to the planner, and on a table never analyzed yet (the
 * first minutes after installing, a launch's rush) it costed every index of
 * the SKU alike and could take the other contact's index or the (sku,
 * pos) key, walking every waiting sign-up of the SKU: 4-10 ms per sign-up
 * at 10,000-20,000 waiting, and the queue lock holds the others back
 * meanwhile.  The snapshot is taken now, as a statement's would be, after
 * the SKU row lock: sign-ups committed while this one waited are seen.
 */
static int64
probe(const char *index, SignupSku *s, const char *contact, bool lowercase, int64 *pos)
{
	Oid			indexoid;
	Relation	heap,
				irel;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData keys[3];
	Snapshot	snap;
	Datum		key;
	int64		id = 0;

	if (contact == NULL)
		return 0;
	indexoid = get_relname_relid(index, get_namespace_oid("waitlist", false));
	if (!OidIsValid(indexoid))
		elog(ERROR, "waitlist: index waitlist.%s is missing", index);
	heap = table_open(IndexGetRelation(indexoid, false), AccessShareLock);
	irel = index_open(indexoid, AccessShareLock);
	require_column(heap, SUBSCRIBER_ID, "id");
	require_column(heap, SUBSCRIBER_POS, "pos");
	require_column(heap, SUBSCRIBER_STATE, "state");
	key = CStringGetTextDatum(contact);
	if (lowercase)
		key = DirectFunctionCall1Coll(lower, irel->rd_indcollation[1], key);
	ScanKeyEntryInitialize(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid,
						   irel->rd_indcollation[0], F_TEXTEQ, CStringGetTextDatum(s->code));
	ScanKeyEntryInitialize(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid,
						   irel->rd_indcollation[1], F_TEXTEQ, key);
	ScanKeyInit(&keys[2], 3, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(s->sub_served));
	snap = RegisterSnapshot(GetTransactionSnapshot());
	scan = index_beginscan(heap, irel, snap, 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	slot = table_slot_create(heap, NULL);
	while (id == 0 && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		state = slot_getattr(slot, SUBSCRIBER_STATE, &isnull);

		if (isnull || strcmp(TextDatumGetCString(state), "waiting") != 0)
			continue;			/* never: the index only holds waiting rows */
		id = DatumGetInt64(slot_getattr(slot, SUBSCRIBER_ID, &isnull));
		*pos = DatumGetInt64(slot_getattr(slot, SUBSCRIBER_POS, &isnull));
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snap);
	index_close(irel, NoLock);
	table_close(heap, NoLock);
	return id;
}

/*
 * The waiting sign-up of the SKU (code sku, watermark sub_served) with the
 * same email or phone (the earlier), or 0; *pos its place.  Also used by
 * api/import_api.c for each imported sign-up.
 */
int64
wl_signup_same_contact(const char *sku, int64 sub_served, const char *email,
					   const char *phone, int64 *pos)
{
	SignupSku	s = {.code = sku, .sub_served = sub_served};
	int64		epos = 0;
	int64		ppos = 0;
	int64		by_email = probe("subscriber_email", &s, email, true, &epos);
	int64		by_phone = probe("subscriber_phone", &s, phone, false, &ppos);

	if (by_email && (!by_phone || epos <= ppos))
	{
		*pos = epos;
		return by_email;
	}
	*pos = ppos;
	return by_phone;
}

/*
 * The waiting sign-up with the same email or phone (the earlier), or 0:
 * also one a wave told while the SKU is on sale (below the watermark), so
 * that signing up again, as its last-chance message asks, renews it
 * rather than adding a second place at the end.
 */
static int64
find_existing(SignupSku *s, const char *email, const char *phone)
{
	int64		pos;

	return wl_signup_same_contact(s->code, 0, email, phone, &pos);
}

/*
 * Keep the existing sign-up: give the position back, add a new contact;
 * its expiry period starts over (domain/expiry.c).
 */
static void
keep_existing(SignupSku *s, int64 id, const char *email, const char *phone)
{
	Datum		args[4] = {Int64GetDatum(id), wl_opt_text(email), wl_opt_text(phone),
	CStringGetTextDatum(s->code)};
	char		nulls[5] = {' ', email ? ' ' : 'n', phone ? ' ' : 'n', ' ', '\0'};

	wl_sku_give_back_signup(s->code);
	wl_exec(&q_fill_contact, args, nulls, SPI_OK_UPDATE, 0);
}

/* Insert the sign-up row at its position. */
static int64
insert_signup(SignupSku *s, const char *email, const char *phone, const char *customer)
{
	Datum		args[5];
	char		nulls[6] = "     ";
	int64		id;

	args[0] = CStringGetTextDatum(s->code);
	args[1] = wl_opt_text(email);
	args[2] = wl_opt_text(phone);
	args[3] = wl_opt_text(customer);
	args[4] = Int64GetDatum(s->pos);
	nulls[1] = email ? ' ' : 'n';
	nulls[2] = phone ? ' ' : 'n';
	nulls[3] = customer ? ' ' : 'n';
	wl_exec(&q_insert, args, nulls, SPI_OK_INSERT_RETURNING, 0);
	id = wl_get_int64(0, 1, NULL);
	if (s->confirm)
	{
		Datum		qargs[2] = {Int64GetDatum(id), args[0]};

		wl_exec(&q_queue_confirmation, qargs, NULL, SPI_OK_INSERT, 0);
	}
	return id;
}

/*
 * Sign up for a SKU (the arguments are checked; at least one contact);
 * returns the sign-up's id, an earlier one's when the contact waits already.
 */
int64
wl_subscribe(const char *sku, const char *email, const char *phone, const char *customer)
{
	SignupSku	s;
	int64		id;

	wl_sku_wait_turn(sku);
	take_position(sku, &s);
	id = find_existing(&s, email, phone);
	if (id != 0)
		keep_existing(&s, id, email, phone);
	else
	{
		id = insert_signup(&s, email, phone, customer);
		if (s.unannounced || s.listed)
			wl_touch_sku(s.code);
	}
	return id;
}

/* The id-only handle: the sign-up's SKU, found by its id alone. */
static WlQuery q_sub_sku = {
	"SELECT sku FROM waitlist.subscriber WHERE id = $1",
	1, {INT8OID}, NULL
};

/* The handle with the SKU: a statement on the one SKU (one shard on Citus). */
static WlQuery q_sub_sku_of = {
	"SELECT sku FROM waitlist.subscriber WHERE sku = $2 AND id = $1",
	2, {INT8OID, TEXTOID}, NULL
};

static WlQuery q_unsubscribe = {
	"UPDATE waitlist.subscriber SET state = 'unsubscribed', unsubscribed_at = waitlist.now()"
	" WHERE sku = $2 AND id = $1 AND state = 'waiting' RETURNING pos, id",
	2, {INT8OID, TEXTOID}, NULL
};

/*
 * Leave the list (sign-up id of SKU sku, or found by its id alone when sku
 * is NULL); false when the sign-up was not waiting.
 */
bool
wl_unsubscribe(const char *sku_arg, int64 id)
{
	Datum		args[2] = {Int64GetDatum(id), sku_arg ? CStringGetTextDatum(sku_arg) : (Datum) 0};
	char	   *sku;
	uint64		n;
	WlSku		s;
	int64		pos;

	n = sku_arg ? wl_exec(&q_sub_sku_of, args, NULL, SPI_OK_SELECT, 0)
		: wl_exec(&q_sub_sku, args, NULL, SPI_OK_SELECT, 0);
	if (n == 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_SUBSCRIPTION),
				 sku_arg ? errmsg("unknown sign-up " INT64_FORMAT " of SKU \"%s\"", id, sku_arg)
				 : errmsg("unknown sign-up " INT64_FORMAT, id)));
	sku = wl_get_text(0, 1);
	args[1] = CStringGetTextDatum(sku);
	wl_wait_turn(sku);
	wl_sku_mark_changed(sku);
	n = wl_exec(&q_unsubscribe, args, NULL, SPI_OK_UPDATE_RETURNING, 0);
	if (n == 0)
		return false;
	pos = wl_get_int64(0, 1, NULL);
	wl_sku_unqueue_signups(sku, n, 2);
	/* demand moved: a listed SKU publishes its availability at commit */
	if (wl_sku_signup_left(sku, pos, &s) && !s.nulls[SKU_CHANNELS])
		wl_touch_sku(sku);
	return true;
}

static WlQuery q_convert_email = {
	"UPDATE waitlist.subscriber SET state = 'converted', unsubscribed_at = waitlist.now()"
	" WHERE sku = $1 AND state = 'waiting' AND lower(email) = $2 AND created_at <= $3 RETURNING pos, id",
	3, {TEXTOID, TEXTOID, TIMESTAMPTZOID}, NULL
};

static WlQuery q_convert_phone = {
	"UPDATE waitlist.subscriber SET state = 'converted', unsubscribed_at = waitlist.now()"
	" WHERE sku = $1 AND state = 'waiting' AND phone = $2 AND created_at <= $3 RETURNING pos, id",
	3, {TEXTOID, TEXTOID, TIMESTAMPTZOID}, NULL
};

/*
 * The buyer of a SKU leaves its list: every waiting sign-up of the contact
 * (a lower-cased email or a phone) made at or before the purchase is
 * converted, its place left as a hole the allocator skips.  Returns how
 * many.  The caller holds the SKU's turn (or its row lock).
 */
int
wl_convert_signups(const char *sku, const char *contact, bool email, TimestampTz before)
{
	Datum		args[3] = {CStringGetTextDatum(sku), CStringGetTextDatum(contact),
	TimestampTzGetDatum(before)};
	SPITupleTable *rows;
	uint64		n;
	bool		listed = false;

	n = wl_exec(email ? &q_convert_email : &q_convert_phone, args, NULL,
				SPI_OK_UPDATE_RETURNING, 0);
	rows = SPI_tuptable;
	for (uint64 i = 0; i < n; i++)
	{
		WlSku		s;

		int64		id;

		SPI_tuptable = rows;
		id = wl_get_int64(i, 2, NULL);
		if (wl_sku_signup_left(sku, wl_get_int64(i, 1, NULL), &s) && !s.nulls[SKU_CHANNELS])
			listed = true;
		wl_outbox_skip_signup(id);	/* its wave messages to any of its contacts */
	}
	SPI_tuptable = rows;
	wl_sku_unqueue_signups(sku, n, 2);
	if (listed)
		wl_touch_sku(sku);		/* demand moved: publish availability at commit */
	return (int) n;
}

/*
 * The restock date a sign-up is told: the SKU's date when the supplier
 * confirmed it (the one waitlist_joined carries), else none.
 */
bool
wl_signup_known_date(const WlSku *s, DateADT *d)
{
	return wl_sku_date(s, SKU_RESTOCK_DATE, d) && wl_sku_bool(s, SKU_RESTOCK_CONFIRMED);
}

/*
 * upsert_sku changed the SKU (row after, locked): when the date sign-ups
 * know changed from before (had, prev) and the SKU's eta_to_signups (or the
 * setting) allows, the sign-ups still waiting are told, once per change.
 */
void
wl_signups_eta_changed(const WlSku *after, bool had, DateADT prev)
{
	DateADT		next;
	bool		has = wl_signup_known_date(after, &next);
	bool		on = after->nulls[SKU_ETA_TO_SIGNUPS] ? wl_eta_to_signups
		: wl_sku_bool(after, SKU_ETA_TO_SIGNUPS);

	if (!on || (had == has && (!had || prev == next)))
		return;
	if (wl_batch_eta_changed(after, had ? &prev : NULL, has ? &next : NULL))
		wl_note_messages();
}
