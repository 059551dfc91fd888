/*
 * import_api.c
 *	  SQL API for bulk imports: import_backorders, import_signups.
 *
 * A shop moving to waitlist brings its open backorders and sign-ups.  One
 * place_backorder() call per line in one transaction updates the SKU's row
 * each time, and the transaction's own dead versions pile up on that row's
 * chain: 100,000 calls for one SKU take quadratic time.  An import reads a
 * table the caller filled (with COPY, say) in one pass, checks every row
 * with the validators and rules the per-call functions use, and writes the
 * rows in chunks, each one set-based INSERT from arrays (confirmations: see
 * insert_confirmations).  Each SKU's row is
 * locked once, when its first row arrives, and its counters are written
 * once, at the end; the allocator runs at commit for every SKU touched.
 *
 * Order: rows are taken by the source's column seq when it has one, else
 * in physical order (the order COPY wrote a fresh table; synchronized scans
 * are off for the read).  Positions continue each SKU's tail in that order.
 *
 * Privileges: the functions are not SECURITY DEFINER.  The source is read
 * as the caller (its privileges, row security, and the output functions of
 * its column types run as the caller); everything else runs as the
 * extension's owner, as the SECURITY DEFINER API does.  The functions' own
 * SET pins search_path.
 *
 * Locking: each SKU row FOR UPDATE, after its turn (turn.c), in the order
 * the SKUs first appear in the source, then its lines and sign-ups.
 * Errors: the first bad row stops the import (nothing is written: the
 * transaction aborts), with the per-call function's message and SQLSTATE
 * and a context line naming the row.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "api/args.h"
#include "domain/backorders.h"
#include "domain/policy.h"
#include "domain/signups.h"
#include "store/channel_rules.h"
#include "store/outbox_writer.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/commit.h"
#include "txn/pending.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_import_backorders);
PG_FUNCTION_INFO_V1(waitlist_import_signups);

/* Rows per chunk: small enough that its memory is reused, not mapped afresh */
#define IMPORT_CHUNK	2000
#define SKU_KEY_LEN		(WL_MAX_SKU_LEN * MAX_MULTIBYTE_CHAR_LEN + 1)
#define CONTACT_KEY_LEN	(32 + 256 + 4)

/* A column of the source, read by name and cast to type. */
typedef struct SourceColumn
{
	const char *name;
	const char *type;
	bool		required;
} SourceColumn;

/* The source columns in the per-call argument order (place_backorder, subscribe). */
static const SourceColumn line_columns[] = {
	{"order_ref", "text", true}, {"sku", "text", true}, {"qty", "int8", true},
	{"customer", "text", false}, {"email", "text", false}, {"phone", "text", false},
	{"channel", "text", false}
};
static const SourceColumn signup_columns[] = {
	{"sku", "text", true}, {"email", "text", false}, {"phone", "text", false},
	{"customer", "text", false}
};

/* A SKU the import has locked, with the counters it moves. */
typedef struct ImportSku
{
	char		code[SKU_KEY_LEN];	/* hash key */
	int64		id;
	WlSku		sku;			/* the locked row (a copy), for the policy */
	char	   *title;
	char	   *eta;			/* confirmed restock date, or NULL */
	char	   *url;
	int64		free_units;		/* on_hand - allocated */
	int64		paid_tail;		/* next paid position */
	int64		paid_waiting;	/* as the per-call API would have it by now */
	int64		units;			/* paid units imported */
	int64		sub_tail;		/* next sign-up position */
	int64		sub_served;
	int64		signups;		/* sign-ups imported */
	bool		has_waiting;	/* waiting sign-ups in the table to match */
	bool		confirm;
	bool		touch;			/* a new sign-up makes the allocator run */
} ImportSku;

/* One import run. */
typedef struct Import
{
	const char *fn;				/* the SQL function, for messages */
	Oid			invoker;
	Oid			owner;
	int			sec;
	Portal		portal;
	HTAB	   *skus;
	MemoryContext cxt;			/* the import's */
	MemoryContext chunk_cxt;	/* reset after every chunk */
	int64		row;			/* source row being checked, from 1; 0: none */
	const char *row_ref;		/* its order_ref, for the context line */
} Import;

/* ---------- the run: users, context line, SKUs ---------- */

/* Error context: the source row being checked. */
static void
row_context(void *arg)
{
	Import	   *imp = arg;

	if (imp->row <= 0)
		return;
	if (imp->row_ref)
		errcontext("%s: source row " INT64_FORMAT " (order_ref \"%s\")",
				   imp->fn, imp->row, imp->row_ref);
	else
		errcontext("%s: source row " INT64_FORMAT, imp->fn, imp->row);
}

/* Run as the caller (reading the source) or as the extension's owner. */
static void
run_as(Import *imp, bool owner)
{
	if (owner)
		SetUserIdAndSecContext(imp->owner, imp->sec | SECURITY_LOCAL_USERID_CHANGE);
	else
		SetUserIdAndSecContext(imp->invoker, imp->sec);
}

/* Set up a run; the caller then connects to SPI. */
static void
import_begin(Import *imp, const char *fn)
{
	HASHCTL		ctl;

	memset(imp, 0, sizeof(*imp));
	imp->fn = fn;
	GetUserIdAndSecContext(&imp->invoker, &imp->sec);
	imp->owner = wl_extension_owner();
	imp->cxt = AllocSetContextCreate(CurrentMemoryContext, "waitlist import",
									 ALLOCSET_DEFAULT_SIZES);
	imp->chunk_cxt = AllocSetContextCreate(imp->cxt, "waitlist import chunk",
										   ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = SKU_KEY_LEN;
	ctl.entrysize = sizeof(ImportSku);
	ctl.hcxt = imp->cxt;
	imp->skus = hash_create("waitlist import SKUs", 256, &ctl,
							HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Fill a new entry from the locked row (copied into the import's context). */
static void
read_sku(Import *imp, ImportSku *s, HeapTuple tup, TupleDesc desc)
{
	MemoryContext old = MemoryContextSwitchTo(imp->cxt);

	wl_sku_from_tuple(heap_copytuple(tup), desc, &s->sku);
	s->id = wl_sku_int64(&s->sku, SKU_ID);
	s->title = wl_sku_text(&s->sku, SKU_TITLE);
	s->eta = wl_backorder_eta(&s->sku);
	s->url = wl_sku_text(&s->sku, SKU_PRODUCT_URL);
	s->free_units = wl_sku_free_units(&s->sku);
	s->paid_tail = wl_sku_int64(&s->sku, SKU_PAID_TAIL);
	s->paid_waiting = wl_sku_int64(&s->sku, SKU_PAID_WAITING);
	s->sub_tail = wl_sku_int64(&s->sku, SKU_SUB_TAIL);
	s->sub_served = wl_sku_int64(&s->sku, SKU_SUB_SERVED);
	s->has_waiting = wl_sku_int64(&s->sku, SKU_SUB_WAITING) > 0;
	s->confirm = wl_sku_bool(&s->sku, SKU_CONFIRM_SIGNUPS);
	s->touch = s->free_units > wl_sku_int64(&s->sku, SKU_ANNOUNCED) ||
		!s->sku.nulls[SKU_CHANNELS];
	MemoryContextSwitchTo(old);
}

/*
 * The SKU of a row: locked on its first row (its turn first, as every
 * per-call function takes), refused as the per-call function would.
 */
static ImportSku *
import_sku(Import *imp, const char *code, bool signup)
{
	ImportSku  *s = hash_search(imp->skus, code, HASH_FIND, NULL);
	WlSku		row;
	int64		preorder_room;

	if (s != NULL)
		return s;
	wl_sku_wait_turn(code);
	wl_sku_lock(code, &row);
	if (wl_sku_text_is(&row, SKU_STATUS, "discontinued"))
		wl_error_discontinued(code);
	preorder_room = wl_sku_preorder_room(&row);
	if (signup && preorder_room > 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_PREORDERS_OPEN),
				 errmsg("SKU \"%s\" still takes pre-orders", code),
				 errdetail(INT64_FORMAT " pre-order units remain; sign-ups open when the pre-order limit is reached or pre-orders close.",
						   preorder_room),
				 errhint("Offer the pre-order (waitlist.place_preorder).")));
	if (!signup && preorder_room > 0 && wl_sku_free_units(&row) <= 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_PREORDERS_OPEN),
				 errmsg("SKU \"%s\" takes pre-orders, not backorders", code),
				 errdetail("Backorders would bypass the pre-order limit."),
				 errhint("Use waitlist.place_preorder.")));
	s = hash_search(imp->skus, code, HASH_ENTER, NULL);
	memset((char *) s + offsetof(ImportSku, id), 0, sizeof(ImportSku) - offsetof(ImportSku, id));
	read_sku(imp, s, SPI_tuptable->vals[0], SPI_tuptable->tupdesc);
	SPI_freetuptable(SPI_tuptable);
	return s;
}

/* ---------- the source ---------- */

/* The source's relation name, schema-qualified and quoted. */
static char *
source_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/*
 * The query reading the source: the columns by name, cast to what the
 * per-call arguments are (a missing optional column reads as NULL), in seq
 * order or physical order.
 */
static char *
source_query(Oid relid, const SourceColumn *cols, int ncols, const char *fn)
{
	StringInfoData sql;
	bool		has_seq = get_attnum(relid, "seq") != InvalidAttrNumber;
	char		kind = get_rel_relkind(relid);
	char	   *name = source_name(relid);

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < ncols; i++)
	{
		bool		present = get_attnum(relid, cols[i].name) != InvalidAttrNumber;

		if (!present && cols[i].required)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("source %s has no column \"%s\"", name, cols[i].name),
					 errhint("%s reads the columns by name; see the reference for the columns it takes.",
							 fn)));
		appendStringInfo(&sql, "%s%s::pg_catalog.%s", i ? ", " : "",
						 present ? quote_identifier(cols[i].name) : "NULL", cols[i].type);
	}
	if (has_seq)
		appendStringInfo(&sql, " FROM %s ORDER BY seq", name);
	else if (kind == RELKIND_RELATION || kind == RELKIND_MATVIEW)
		appendStringInfo(&sql, " FROM ONLY %s", name);
	else
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source %s needs a column \"seq\" to order its rows", name),
				 errdetail("Only a table's rows have a physical order to import them in.")));
	return sql.data;
}

/*
 * Open the cursor over the source, as the caller, without synchronized
 * scans.  The caller needs SELECT on the whole table (checked first, so
 * that a refusal tells nothing about its columns).
 */
static void
open_source(Import *imp, Oid relid, const SourceColumn *cols, int ncols)
{
	char	   *sql;

	if (get_rel_name(relid) != NULL &&
		pg_class_aclcheck(relid, imp->invoker, ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	sql = source_query(relid, cols, ncols, imp->fn);
	(void) set_config_option("synchronize_seqscans", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	run_as(imp, false);
	imp->portal = SPI_cursor_open_with_args(NULL, sql, 0, NULL, NULL, NULL, false,
											CURSOR_OPT_NO_SCROLL);
	run_as(imp, true);
}

/* The next chunk of source rows (fetched as the caller), or NULL at the end. */
static SPITupleTable *
next_chunk(Import *imp)
{
	SPITupleTable *t;

	MemoryContextReset(imp->chunk_cxt);
	run_as(imp, false);
	SPI_cursor_fetch(imp->portal, true, IMPORT_CHUNK);
	run_as(imp, true);
	t = SPI_tuptable;
	if (SPI_processed == 0)
	{
		SPI_freetuptable(t);
		SPI_cursor_close(imp->portal);
		return NULL;
	}
	return t;
}

/* Source row i of a chunk as the argument list of the per-call function. */
static void
row_args(SPITupleTable *t, uint64 i, FunctionCallInfo fcinfo, int nargs)
{
	for (int c = 0; c < nargs; c++)
		fcinfo->args[c].value = SPI_getbinval(t->vals[i], t->tupdesc, c + 1,
											  &fcinfo->args[c].isnull);
}

/* A 1-D array of n values of type (a chunk's column for unnest). */
static Datum
column_array(Datum *values, bool *nulls, int n, Oid type)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		byval;
	char		align;

	get_typlenbyvalalign(type, &typlen, &byval, &align);
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, type,
											  typlen, byval, align));
}

/* ---------- import_backorders ---------- */

/* A chunk of backorder lines, checked, as columns. */
typedef struct LineChunk
{
	int			n;
	int64		first_row;
	ImportSku  *sku[IMPORT_CHUNK];
	WlOrderArgs a[IMPORT_CHUNK];
	int64		pos[IMPORT_CHUNK];
	bool		in_stock[IMPORT_CHUNK];
} LineChunk;

/* The qty column as the integer argument place_backorder takes. */
static void
line_qty_arg(FunctionCallInfo fcinfo)
{
	int64		qty = DatumGetInt64(fcinfo->args[2].value);

	if (!fcinfo->args[2].isnull && (qty > PG_INT32_MAX || qty < PG_INT32_MIN))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("qty " INT64_FORMAT " is out of range for an order line", qty)));
	fcinfo->args[2].value = Int32GetDatum((int32) qty);
}

/*
 * The availability policy for the line, on the SKU as the per-call API
 * would see it by now (its paid_waiting moved by the rows before).
 */
static void
line_policy(Import *imp, ImportSku *s, WlOrderArgs *a)
{
	WlSku		now = s->sku;
	WlPolicy	p;

	wl_require_channel(a->channel);
	if (!wl_enforce_policy)
		return;
	now.values[SKU_PAID_WAITING] = Int64GetDatum(s->paid_waiting);
	now.nulls[SKU_PAID_WAITING] = false;
	wl_policy_of(&now, a->channel, a->qty, &p);
	if (p.decision != WL_BACKORDER && p.decision != WL_IN_STOCK)
		wl_policy_refuse(a->sku, a->channel, "backorders", &p);
}

/* Check one source row as place_backorder would and give it its positions. */
static void
check_line(Import *imp, SPITupleTable *t, uint64 i, LineChunk *c)
{
	LOCAL_FCINFO(fcinfo, 7);
	WlOrderArgs *a = &c->a[c->n];
	ImportSku  *s;

	InitFunctionCallInfoData(*fcinfo, NULL, 7, InvalidOid, NULL, NULL);
	row_args(t, i, fcinfo, 7);
	imp->row_ref = NULL;
	line_qty_arg(fcinfo);
	wl_arg_order(fcinfo, a, "backorder");
	imp->row_ref = a->order_ref;
	s = import_sku(imp, a->sku, false);
	MemoryContextSwitchTo(imp->chunk_cxt);
	line_policy(imp, s, a);
	c->sku[c->n] = s;
	c->pos[c->n] = s->paid_tail;
	c->in_stock[c->n] = s->free_units >= s->paid_waiting + a->qty;
	s->paid_tail += a->qty;
	s->paid_waiting += a->qty;
	s->units += a->qty;
	c->n++;
}

/* Plain INSERT: no speculative insertion per row (see insert_lines) */
static WlQuery q_insert_lines = {
	"INSERT INTO waitlist.line (sku, kind, order_ref, customer, email, phone, qty,"
	"  pos_start, pos_end, channel, confirm_pending, action_at)"
	" SELECT u.sku, 'backorder', u.order_ref, u.customer, u.email, u.phone, u.qty,"
	"  u.pos_start, u.pos_start + u.qty, u.channel, u.pending,"
	"  CASE WHEN u.pending THEN waitlist.now() END"
	" FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int4[],"
	"  $7::int8[], $8::text[], $9::bool[]) AS u (sku, order_ref, customer, email, phone,"
	"  qty, pos_start, channel, pending)"
	" RETURNING id",
	9, {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
	INT8ARRAYOID, TEXTARRAYOID, BOOLARRAYOID}, NULL
};

/* Text column values of a chunk (NULL pointers become NULLs). */
static void
text_column(char **s, int n, Datum *values, bool *nulls)
{
	for (int i = 0; i < n; i++)
	{
		nulls[i] = s[i] == NULL;
		values[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(s[i]);
	}
}

/* Column field f of every order argument set in the chunk. */
#define ORDER_FIELD(c, f, out) \
	do { for (int i_ = 0; i_ < (c)->n; i_++) (out)[i_] = (c)->a[i_].f; } while (0)

static WlQuery q_line_exists = {
	"SELECT 1 FROM waitlist.line WHERE sku = $1 AND order_ref = $2",
	2, {TEXTOID, TEXTOID}, NULL
};

/*
 * The chunk's insert broke the unique (sku, order_ref) key: refuse the
 * first row whose order line exists (in the table before the chunk, or on
 * an earlier row of the chunk) with WL006.
 */
static void
refuse_duplicate(Import *imp, LineChunk *c)
{
	HASHCTL		ctl;
	HTAB	   *seen;

	ctl.keysize = SKU_KEY_LEN + WL_MAX_REF_LEN * MAX_MULTIBYTE_CHAR_LEN + 1;
	ctl.entrysize = ctl.keysize;
	ctl.hcxt = imp->chunk_cxt;
	seen = hash_create("waitlist import order lines", c->n, &ctl,
					   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (int i = 0; i < c->n; i++)
	{
		Datum		args[2] = {CStringGetTextDatum(c->sku[i]->code), CStringGetTextDatum(c->a[i].order_ref)};
		char	   *key = psprintf("%s%c%s", c->a[i].sku, '\x01', c->a[i].order_ref);
		bool		again;

		(void) hash_search(seen, key, HASH_ENTER, &again);
		if (again || wl_exec(&q_line_exists, args, NULL, SPI_OK_SELECT, 1) > 0)
		{
			imp->row = c->first_row + i;
			imp->row_ref = c->a[i].order_ref;
			ereport(ERROR,
					(errcode(WL_ERRCODE_DUPLICATE_ORDER),
					 errmsg("order \"%s\" already has a line for SKU \"%s\"",
							c->a[i].order_ref, c->a[i].sku),
					 errdetail("An import places each order line once; the line is in waitlist.line already or on an earlier row of the source.")));
		}
		MemoryContextSwitchTo(imp->chunk_cxt);
	}
	elog(ERROR, "waitlist: an imported line broke a unique key, and no row repeats an order line");
}

/*
 * Run the chunk's INSERT in a subtransaction: a repeated order line breaks
 * the unique key, and the rolled-back chunk is then searched for the row to
 * name.  (ON CONFLICT would find it too, at the cost of a speculative
 * insertion per row.)  Returns the rows inserted.
 */
static uint64
insert_or_refuse(Import *imp, LineChunk *c, Datum *args)
{
	ResourceOwner owner = CurrentResourceOwner;
	uint64		got = 0;
	ErrorData  *e;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(imp->chunk_cxt);
	PG_TRY();
	{
		got = wl_exec(&q_insert_lines, args, NULL, SPI_OK_INSERT_RETURNING, 0);
		ReleaseCurrentSubTransaction();
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(imp->chunk_cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		CurrentResourceOwner = owner;
		MemoryContextSwitchTo(imp->chunk_cxt);
		if (e->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(e);
		refuse_duplicate(imp, c);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(imp->chunk_cxt);
	return got;
}

/* Insert the chunk's lines; fills ids[] in row order. */
static void
insert_lines(Import *imp, LineChunk *c, int64 *ids)
{
	Datum		args[9];
	Datum	   *v = palloc(sizeof(Datum) * c->n);
	bool	   *nulls = palloc0(sizeof(bool) * c->n);
	char	  **s = palloc(sizeof(char *) * c->n);
	uint64		got;

	for (int i = 0; i < c->n; i++)
		v[i] = CStringGetTextDatum(c->sku[i]->code);
	args[0] = column_array(v, nulls, c->n, TEXTOID);
	ORDER_FIELD(c, order_ref, s);
	text_column(s, c->n, v, nulls);
	args[1] = column_array(v, nulls, c->n, TEXTOID);
	ORDER_FIELD(c, customer, s);
	text_column(s, c->n, v, nulls);
	args[2] = column_array(v, nulls, c->n, TEXTOID);
	ORDER_FIELD(c, email, s);
	text_column(s, c->n, v, nulls);
	args[3] = column_array(v, nulls, c->n, TEXTOID);
	ORDER_FIELD(c, phone, s);
	text_column(s, c->n, v, nulls);
	args[4] = column_array(v, nulls, c->n, TEXTOID);
	memset(nulls, 0, sizeof(bool) * c->n);
	for (int i = 0; i < c->n; i++)
		v[i] = Int32GetDatum(c->a[i].qty);
	args[5] = column_array(v, nulls, c->n, INT4OID);
	for (int i = 0; i < c->n; i++)
		v[i] = Int64GetDatum(c->pos[i]);
	args[6] = column_array(v, nulls, c->n, INT8OID);
	ORDER_FIELD(c, channel, s);
	text_column(s, c->n, v, nulls);
	args[7] = column_array(v, nulls, c->n, TEXTOID);
	memset(nulls, 0, sizeof(bool) * c->n);
	for (int i = 0; i < c->n; i++)
		v[i] = BoolGetDatum(!c->in_stock[i] && (c->a[i].email || c->a[i].phone));
	args[8] = column_array(v, nulls, c->n, BOOLOID);
	got = insert_or_refuse(imp, c, args);
	if (got != (uint64) c->n)
		elog(ERROR, "waitlist: inserted " UINT64_FORMAT " of %d imported lines", got, c->n);
	for (int i = 0; i < c->n; i++)
		ids[i] = wl_get_int64(i, 1, NULL);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The confirmations of the lines in stock, one message per contact, as
 * wl_queue_contacts() writes them for place_backorder: the allocator serves
 * these lines at this commit, and their confirmation must come before the
 * ready_to_ship that follows.  The other lines' confirmations are marked
 * pending (insert_lines) and written by claim()/tick() in chunks, as
 * sign-ups' are: a million confirmations are not written in the import's
 * transaction, and the relays start delivering after the first chunk.
 */
static void
insert_confirmations(Import *imp, LineChunk *c, int64 *ids)
{
	int			max = c->n * 2;
	char	  **cols[5];
	int			m = 0;
	Datum		args[5];
	Datum	   *v = palloc(sizeof(Datum) * max);
	bool	   *nulls = palloc(sizeof(bool) * max);

	for (int k = 0; k < 5; k++)
		cols[k] = palloc(sizeof(char *) * max);
	for (int i = 0; i < c->n; i++)
	{
		WlOrderArgs *a = &c->a[i];
		ImportSku  *s = c->sku[i];
		char	   *payload;

		if (!c->in_stock[i])
			continue;			/* written by claim()/tick(): see insert_lines */
		payload = wl_backorder_confirmed_payload(a->order_ref, ids[i], s->code,
															 s->title, a->qty, c->in_stock[i],
															 s->eta, s->url);

		for (int ch = 0; ch < 2; ch++)
		{
			char	   *to = ch == 0 ? a->email : a->phone;

			if (to == NULL)
				continue;
			cols[0][m] = ch == 0 ? "email" : "sms";
			cols[1][m] = to;
			cols[2][m] = s->code;
			cols[3][m] = payload;
			cols[4][m] = psprintf("line:" INT64_FORMAT ":confirmed:%s", ids[i], cols[0][m]);
			m++;
		}
	}
	for (int k = 0; k < 5; k++)
	{
		/* json is stored as its text: the same datum */
		text_column(cols[k], m, v, nulls);
		args[k] = column_array(v, nulls, m, k == 3 ? JSONOID : TEXTOID);
	}
	if (m > 0)
		wl_queue_new_messages("backorder_confirmed", args);
	MemoryContextSwitchTo(imp->chunk_cxt);
}


/* Each SKU's counters move once, as the per-call calls together would have them. */
static void
finish_lines(Import *imp)
{
	HASH_SEQ_STATUS seq;
	ImportSku  *s;

	hash_seq_init(&seq, imp->skus);
	while ((s = hash_seq_search(&seq)) != NULL)
	{
		wl_sku_add_imported(s->code, s->units, 0);
		wl_touch_sku(s->code);
	}
}

/* Check a chunk of source rows and write its lines and their confirmations. */
static int64
import_line_chunk(Import *imp, SPITupleTable *t)
{
	LineChunk  *c = palloc(sizeof(LineChunk));
	int64	   *ids;

	c->n = 0;
	c->first_row = imp->row + 1;
	for (uint64 i = 0; i < t->numvals; i++)
	{
		imp->row = c->first_row + i;
		MemoryContextSwitchTo(imp->chunk_cxt);
		check_line(imp, t, i, c);
	}
	SPI_freetuptable(t);
	MemoryContextSwitchTo(imp->chunk_cxt);
	ids = palloc(sizeof(int64) * c->n);
	insert_lines(imp, c, ids);
	insert_confirmations(imp, c, ids);
	return c->n;
}

/* ---------- import_signups ---------- */

/* A new sign-up of the chunk. */
typedef struct SignupRow
{
	ImportSku  *sku;
	char	   *email;
	char	   *phone;
	char	   *customer;
	int64		pos;
} SignupRow;

typedef struct ContactEntry
{
	char		key[CONTACT_KEY_LEN];	/* SKU id, 'e' or 'p', contact */
	SignupRow  *row;
} ContactEntry;

/* The chunk's new sign-ups, and their contacts (not in the table's indexes yet). */
typedef struct SignupChunk
{
	int			n;
	SignupRow	rows[IMPORT_CHUNK];
	HTAB	   *contacts;
} SignupChunk;

/* The key of a contact: emails compare lower-cased, as the subscriber_email index does. */
static void
contact_key(char *key, ImportSku *s, char kind, const char *contact)
{
	if (kind == 'e')
		contact = TextDatumGetCString(DirectFunctionCall1Coll(lower, DEFAULT_COLLATION_OID,
															  CStringGetTextDatum(contact)));
	snprintf(key, CONTACT_KEY_LEN, INT64_FORMAT "%c%s", s->id, kind, contact);
}

/* The chunk's new sign-up with this contact, or NULL. */
static SignupRow *
chunk_contact(SignupChunk *c, ImportSku *s, char kind, const char *contact)
{
	char		key[CONTACT_KEY_LEN];
	ContactEntry *e;

	if (contact == NULL)
		return NULL;
	contact_key(key, s, kind, contact);
	e = hash_search(c->contacts, key, HASH_FIND, NULL);
	return e ? e->row : NULL;
}

/* Remember a contact of a new sign-up of the chunk (the first one keeps it). */
static void
remember_contact(SignupChunk *c, SignupRow *r, char kind, const char *contact)
{
	char		key[CONTACT_KEY_LEN];
	ContactEntry *e;
	bool		found;

	if (contact == NULL)
		return;
	contact_key(key, r->sku, kind, contact);
	e = hash_search(c->contacts, key, HASH_ENTER, &found);
	if (!found)
		e->row = r;
}

static WlQuery q_fill_contact = {
	"UPDATE waitlist.subscriber SET email = coalesce(email, $2), phone = coalesce(phone, $3)"
	" WHERE id = $1",
	3, {INT8OID, TEXTOID, TEXTOID}, NULL
};

/*
 * The row signs up again: keep the earlier sign-up and its place, and give
 * it the contact it lacks, as subscribe() does.  The earlier sign-up is in
 * the table (id) or new in this chunk.
 */
static void
keep_earlier(Import *imp, SignupChunk *c, int64 id, SignupRow *r,
			 char *email, char *phone)
{
	if (id != 0)
	{
		Datum		args[3] = {Int64GetDatum(id), wl_opt_text(email), wl_opt_text(phone)};
		char		nulls[4] = {' ', email ? ' ' : 'n', phone ? ' ' : 'n', '\0'};

		wl_exec(&q_fill_contact, args, nulls, SPI_OK_UPDATE, 0);
		MemoryContextSwitchTo(imp->chunk_cxt);
		return;
	}
	if (r->email == NULL && email != NULL)
	{
		r->email = email;
		remember_contact(c, r, 'e', email);
	}
	if (r->phone == NULL && phone != NULL)
	{
		r->phone = phone;
		remember_contact(c, r, 'p', phone);
	}
}

/* A new sign-up at the SKU's next position. */
static void
add_signup(SignupChunk *c, ImportSku *s, char *email, char *phone, char *customer)
{
	SignupRow  *r = &c->rows[c->n++];

	r->sku = s;
	r->email = email;
	r->phone = phone;
	r->customer = customer;
	r->pos = s->sub_tail++;
	s->signups++;
	remember_contact(c, r, 'e', email);
	remember_contact(c, r, 'p', phone);
}

/* Check one source row as subscribe() would; a new sign-up or a kept one. */
static void
check_signup(Import *imp, SPITupleTable *t, uint64 i, SignupChunk *c)
{
	LOCAL_FCINFO(fcinfo, 4);
	char	   *sku,
			   *email,
			   *phone,
			   *customer;
	ImportSku  *s;
	SignupRow  *by_email,
			   *by_phone;
	int64		id = 0;
	int64		pos;

	InitFunctionCallInfoData(*fcinfo, NULL, 4, InvalidOid, NULL, NULL);
	row_args(t, i, fcinfo, 4);
	sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	email = wl_arg_email(fcinfo, 1);
	phone = wl_arg_phone(fcinfo, 2);
	customer = wl_arg_text(fcinfo, 3, "customer", WL_MAX_NAME_LEN, false);
	if (!email && !phone)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an email address or a phone number is required")));
	s = import_sku(imp, sku, true);
	MemoryContextSwitchTo(imp->chunk_cxt);
	/* the table's sign-ups come before the chunk's: the earlier place wins */
	if (s->has_waiting)
		id = wl_signup_same_contact(s->code, s->sub_served, email, phone, &pos);
	by_email = chunk_contact(c, s, 'e', email);
	by_phone = chunk_contact(c, s, 'p', phone);
	if (by_email == NULL || (by_phone != NULL && by_phone->pos < by_email->pos))
		by_email = by_phone;
	if (id != 0 || by_email != NULL)
		keep_earlier(imp, c, id, by_email, email, phone);
	else
		add_signup(c, s, email, phone, customer);
}

static WlQuery q_insert_signups = {
	"INSERT INTO waitlist.subscriber (sku, email, phone, customer, pos)"
	" SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[])",
	5, {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID},
	NULL
};

/* Queue the confirmations of the sign-ups at ($1 sku, $2 pos). */
static WlQuery q_queue_confirmations = {
	"INSERT INTO waitlist.unconfirmed_signup (id, sku)"
	" SELECT u.id, u.sku FROM unnest($1::text[], $2::int8[]) AS n (sku, pos)"
	" JOIN waitlist.subscriber u ON u.sku = n.sku AND u.pos = n.pos"
	" ON CONFLICT DO NOTHING",
	2, {TEXTARRAYOID, INT8ARRAYOID}, NULL
};

/*
 * Insert the chunk's new sign-ups and queue their waitlist_joined
 * confirmations (on SKUs that send them), which the next claim() or tick()
 * writes, as for subscribe().
 */
static void
insert_signups(Import *imp, SignupChunk *c)
{
	Datum		args[5];
	Datum	   *v = palloc(sizeof(Datum) * c->n);
	int			nq = 0;
	bool	   *nulls = palloc0(sizeof(bool) * c->n);
	char	  **s = palloc(sizeof(char *) * c->n);

	if (c->n == 0)
		return;
	for (int i = 0; i < c->n; i++)
	{
		v[i] = CStringGetTextDatum(c->rows[i].sku->code);
		c->rows[i].sku->has_waiting = true;
	}
	args[0] = column_array(v, nulls, c->n, TEXTOID);
	for (int k = 0; k < 3; k++)
	{
		for (int i = 0; i < c->n; i++)
			s[i] = k == 0 ? c->rows[i].email : k == 1 ? c->rows[i].phone : c->rows[i].customer;
		text_column(s, c->n, v, nulls);
		args[1 + k] = column_array(v, nulls, c->n, TEXTOID);
	}
	memset(nulls, 0, sizeof(bool) * c->n);
	for (int i = 0; i < c->n; i++)
		v[i] = Int64GetDatum(c->rows[i].pos);
	args[4] = column_array(v, nulls, c->n, INT8OID);
	wl_exec(&q_insert_signups, args, NULL, SPI_OK_INSERT, 0);
	for (int i = 0; i < c->n; i++)
		if (c->rows[i].sku->confirm)
			v[nq++] = CStringGetTextDatum(c->rows[i].sku->code);
	if (nq > 0)
	{
		Datum		qargs[2];

		qargs[0] = column_array(v, nulls, nq, TEXTOID);
		nq = 0;
		for (int i = 0; i < c->n; i++)
			if (c->rows[i].sku->confirm)
				v[nq++] = Int64GetDatum(c->rows[i].pos);
		qargs[1] = column_array(v, nulls, nq, INT8OID);
		wl_exec(&q_queue_confirmations, qargs, NULL, SPI_OK_INSERT, 0);
	}
	MemoryContextSwitchTo(imp->chunk_cxt);
}

/* Check a chunk of source rows and write its new sign-ups. */
static int64
import_signup_chunk(Import *imp, SPITupleTable *t)
{
	SignupChunk *c = palloc(sizeof(SignupChunk));
	HASHCTL		ctl;
	int64		first_row = imp->row + 1;

	c->n = 0;
	ctl.keysize = CONTACT_KEY_LEN;
	ctl.entrysize = sizeof(ContactEntry);
	ctl.hcxt = imp->chunk_cxt;
	c->contacts = hash_create("waitlist import contacts", IMPORT_CHUNK, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (uint64 i = 0; i < t->numvals; i++)
	{
		imp->row = first_row + i;
		MemoryContextSwitchTo(imp->chunk_cxt);
		check_signup(imp, t, i, c);
	}
	SPI_freetuptable(t);
	MemoryContextSwitchTo(imp->chunk_cxt);
	insert_signups(imp, c);
	return c->n;
}


/* Each SKU with new sign-ups moves its counters once. */
static void
finish_signups(Import *imp)
{
	HASH_SEQ_STATUS seq;
	ImportSku  *s;

	hash_seq_init(&seq, imp->skus);
	while ((s = hash_seq_search(&seq)) != NULL)
	{
		if (s->signups == 0)
			continue;
		wl_sku_add_imported(s->code, 0, s->signups);
		if (s->touch)
			wl_touch_sku(s->code);
	}
}

/* ---------- the SQL functions ---------- */

/*
 * Read the source in chunks, check and write each (chunk), then move the
 * SKUs' counters (finish); returns the rows written.
 */
static int64
run_import(FunctionCallInfo fcinfo, const char *fn, const SourceColumn *cols, int ncols,
		   int64 (*chunk) (Import *, SPITupleTable *), void (*finish) (Import *))
{
	Import		imp;
	ErrorContextCallback ctx;
	SPITupleTable *t;
	int64		total = 0;
	int			nest;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("source must not be null")));
	import_begin(&imp, fn);
	nest = NewGUCNestLevel();
	wl_spi_connect();
	run_as(&imp, true);
	open_source(&imp, PG_GETARG_OID(0), cols, ncols);
	ctx.previous = error_context_stack;
	ctx.callback = row_context;
	ctx.arg = &imp;
	error_context_stack = &ctx;
	while ((t = next_chunk(&imp)) != NULL)
	{
		MemoryContextSwitchTo(imp.chunk_cxt);
		total += chunk(&imp, t);
	}
	imp.row = 0;
	finish(&imp);
	error_context_stack = ctx.previous;
	run_as(&imp, false);
	SPI_finish();
	AtEOXact_GUC(true, nest);
	MemoryContextDelete(imp.cxt);
	return total;
}

/* SQL: waitlist.import_backorders(source regclass) -> lines imported */
Datum
waitlist_import_backorders(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(run_import(fcinfo, "waitlist.import_backorders", line_columns,
							   lengthof(line_columns), import_line_chunk, finish_lines));
}

/* SQL: waitlist.import_signups(source regclass) -> new sign-ups */
Datum
waitlist_import_signups(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(run_import(fcinfo, "waitlist.import_signups", signup_columns,
							   lengthof(signup_columns), import_signup_chunk, finish_signups));
}
