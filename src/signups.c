/*
 * signups.c
 *	  SQL API for back-in-stock sign-ups: subscribe, unsubscribe.
 *
 * A sign-up takes the next position of its SKU's sign-up queue under the
 * SKU row lock, which also makes the "same contact again" check race-free.
 * Positions have no gaps: a position taken for a duplicate is given back
 * at once, still under the lock.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "commit.h"
#include "signups.h"
#include "spi_util.h"
#include "turn.h"
#include "validate.h"
#include "waitlist.h"

/* waitlist.subscriber's columns read by probe() (the table's own order) */
#define SUBSCRIBER_ID		1
#define SUBSCRIBER_POS		6
#define SUBSCRIBER_STATE	7

PG_FUNCTION_INFO_V1(waitlist_subscribe);
PG_FUNCTION_INFO_V1(waitlist_unsubscribe);

typedef struct SignupSku
{
	int64		id;
	int64		pos;			/* position taken for the new sign-up */
	int64		sub_served;
	bool		discontinued;
	bool		confirm;
	bool		unannounced;	/* free units nobody was told about yet */
	bool		listed;			/* on sales channels: demand feeds the policy */
	int64		preorder_room;	/* pre-order units still open to take, or 0 */
} SignupSku;

static WlQuery q_take_pos = {
	"UPDATE waitlist.sku SET sub_tail = sub_tail + 1, sub_waiting = sub_waiting + 1 WHERE sku = $1"
	" RETURNING id, sub_tail - 1, sub_served, status = 'discontinued', confirm_signups,"
	"  on_hand - allocated > announced,"
	"  CASE WHEN preorders_open THEN greatest(preorder_limit - preorder_accepted, 0) ELSE 0 END,"
	"  channels IS NOT NULL",
	1, {TEXTOID}, NULL
};

static WlQuery q_give_back = {
	"UPDATE waitlist.sku SET sub_tail = sub_tail - 1, sub_waiting = sub_waiting - 1 WHERE id = $1",
	1, {INT8OID}, NULL
};

static WlQuery q_fill_contact = {
	"UPDATE waitlist.subscriber SET email = coalesce(email, $2), phone = coalesce(phone, $3)"
	" WHERE id = $1",
	3, {INT8OID, TEXTOID, TEXTOID}, NULL
};

/*
 * The waitlist_joined confirmation is not written here: confirm_pending
 * marks the row, and claim()/tick() write the messages in bulk (outbox.c),
 * which keeps a sign-up to one small insert.
 */
static WlQuery q_insert = {
	"INSERT INTO waitlist.subscriber (sku_id, email, phone, customer, pos, confirm_pending)"
	" VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
	6, {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, BOOLOID}, NULL
};

/* Lock the SKU and take the next sign-up position. */
static void
take_position(const char *sku, SignupSku *s)
{
	Datum		arg = CStringGetTextDatum(sku);

	if (wl_exec(&q_take_pos, &arg, NULL, SPI_OK_UPDATE_RETURNING, 0) == 0)
		wl_error_unknown_sku(sku);
	s->id = wl_get_int64(0, 1, NULL);
	s->pos = wl_get_int64(0, 2, NULL);
	s->sub_served = wl_get_int64(0, 3, NULL);
	s->discontinued = wl_get_bool(0, 4);
	s->confirm = wl_get_bool(0, 5);
	s->unannounced = wl_get_bool(0, 6);
	s->preorder_room = wl_get_int64(0, 7, NULL);
	s->listed = wl_get_bool(0, 8);
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
 * Probe one contact through its own partial index, (sku_id, lower(email),
 * pos) or (sku_id, phone, pos), both WHERE state = 'waiting': the first
 * entry at or after the watermark is the earliest waiting sign-up with that
 * contact.  Returns its id (0 if none), *pos its place.
 *
 * The index is read directly rather than through a planned query.  A query
 * leaves the choice to the planner, and on a table never analyzed yet (the
 * first minutes after installing, a launch's rush) it costed every index of
 * the SKU alike and could take the other contact's index or the (sku_id,
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
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(s->id));
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
 * The waiting sign-up of the SKU (id sku_id, watermark sub_served) with the
 * same email or phone (the earlier), or 0; *pos its place.  Also used by
 * import.c for each imported sign-up.
 */
int64
wl_signup_same_contact(int64 sku_id, int64 sub_served, const char *email,
					   const char *phone, int64 *pos)
{
	SignupSku	s = {.id = sku_id, .sub_served = sub_served};
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

/* The waiting sign-up with the same email or phone (the earlier), or 0. */
static int64
find_existing(SignupSku *s, const char *email, const char *phone)
{
	int64		pos;

	return wl_signup_same_contact(s->id, s->sub_served, email, phone, &pos);
}

/* Keep the existing sign-up: give the position back, add a new contact. */
static void
keep_existing(SignupSku *s, int64 id, const char *email, const char *phone)
{
	Datum		arg = Int64GetDatum(s->id);
	Datum		args[3] = {Int64GetDatum(id), wl_opt_text(email), wl_opt_text(phone)};
	char		nulls[4] = {' ', email ? ' ' : 'n', phone ? ' ' : 'n', '\0'};

	wl_exec(&q_give_back, &arg, NULL, SPI_OK_UPDATE, 0);
	wl_exec(&q_fill_contact, args, nulls, SPI_OK_UPDATE, 0);
}

/* Insert the sign-up row at its position. */
static int64
insert_signup(SignupSku *s, const char *email, const char *phone, const char *customer)
{
	Datum		args[6];
	char		nulls[7] = "      ";

	args[0] = Int64GetDatum(s->id);
	args[1] = wl_opt_text(email);
	args[2] = wl_opt_text(phone);
	args[3] = wl_opt_text(customer);
	args[4] = Int64GetDatum(s->pos);
	args[5] = BoolGetDatum(s->confirm);
	nulls[1] = email ? ' ' : 'n';
	nulls[2] = phone ? ' ' : 'n';
	nulls[3] = customer ? ' ' : 'n';
	wl_exec(&q_insert, args, nulls, SPI_OK_INSERT_RETURNING, 0);
	return wl_get_int64(0, 1, NULL);
}

/* SQL: waitlist.subscribe(sku, email, phone, customer) */
Datum
waitlist_subscribe(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	char	   *email = wl_arg_email(fcinfo, 1);
	char	   *phone = wl_arg_phone(fcinfo, 2);
	char	   *customer = wl_arg_text(fcinfo, 3, "customer", WL_MAX_NAME_LEN, false);
	SignupSku	s;
	int64		id;

	if (!email && !phone)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an email address or a phone number is required")));
	SPI_connect();
	wl_wait_turn(sku);
	take_position(sku, &s);
	id = find_existing(&s, email, phone);
	if (id != 0)
		keep_existing(&s, id, email, phone);
	else
	{
		id = insert_signup(&s, email, phone, customer);
		if (s.unannounced || s.listed)
			wl_touch_sku(s.id);
	}
	SPI_finish();
	PG_RETURN_INT64(id);
}

static WlQuery q_sub_sku = {
	"SELECT sku_id FROM waitlist.subscriber WHERE id = $1",
	1, {INT8OID}, NULL
};

/*
 * The SKU row is updated, not only locked, so that a REPEATABLE READ
 * transaction that changes the SKU concurrently fails with a serialization
 * error instead of allocating on a snapshot that misses this unsubscribe.
 */
static WlQuery q_lock_sku = {
	"UPDATE waitlist.sku SET updated_at = now() WHERE id = $1",
	1, {INT8OID}, NULL
};

static WlQuery q_unsubscribe = {
	"UPDATE waitlist.subscriber SET state = 'unsubscribed', unsubscribed_at = now(),"
	" confirm_pending = false"
	" WHERE id = $1 AND state = 'waiting' RETURNING pos",
	1, {INT8OID}, NULL
};

/* One sign-up fewer waiting, unless the wave already passed its place. */
static WlQuery q_unsub_count = {
	"UPDATE waitlist.sku SET sub_waiting = sub_waiting - 1 WHERE id = $1 AND sub_served <= $2"
	" RETURNING channels IS NOT NULL",
	2, {INT8OID, INT8OID}, NULL
};

/* SQL: waitlist.unsubscribe(id) */
Datum
waitlist_unsubscribe(PG_FUNCTION_ARGS)
{
	int64		id = wl_arg_int64(fcinfo, 0, "id");
	Datum		arg = Int64GetDatum(id);
	Datum		sku_id;
	uint64		n;

	SPI_connect();
	if (wl_exec(&q_sub_sku, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_SUBSCRIPTION),
				 errmsg("unknown sign-up " INT64_FORMAT, id)));
	sku_id = wl_get_datum(0, 1, NULL);
	wl_wait_turn_id(DatumGetInt64(sku_id));
	wl_exec(&q_lock_sku, &sku_id, NULL, SPI_OK_UPDATE, 0);
	n = wl_exec(&q_unsubscribe, &arg, NULL, SPI_OK_UPDATE_RETURNING, 0);
	if (n > 0)
	{
		Datum		args[2] = {sku_id, wl_get_datum(0, 1, NULL)};

		/* demand moved: a listed SKU publishes its availability at commit */
		if (wl_exec(&q_unsub_count, args, NULL, SPI_OK_UPDATE_RETURNING, 0) == 1 &&
			wl_get_bool(0, 1))
			wl_touch_sku(DatumGetInt64(sku_id));
	}
	SPI_finish();
	PG_RETURN_BOOL(n > 0);
}
