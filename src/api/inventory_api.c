/*
 * inventory_api.c
 *	  Following an app's own inventory table: track_inventory,
 *	  untrack_inventory and the row trigger they attach.
 *
 * The trigger moves waitlist.sku.on_hand by the change in the row's
 * quantity (rows with the same SKU, e.g. one per location, add up) and
 * records the SKU for the commit-time allocator.  Rows whose SKU is not
 * registered with waitlist are ignored, so the app's other products are
 * not affected.  Lock order: the SKU row (FOR UPDATE) before anything else.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/pending.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_inventory_trigger);
PG_FUNCTION_INFO_V1(waitlist_track_inventory);
PG_FUNCTION_INFO_V1(waitlist_untrack_inventory);

#define WL_TRIGGER_NAME "waitlist_inventory"

/* The refusal of a quantity that is not a whole number of units. */
static void
error_not_whole(const char *value, const char *table)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("quantity %s in tracked table \"%s\" is not a whole number", value, table),
			 errdetail("waitlist counts units: a fraction, NaN or infinity on hand means nothing to allocate."),
			 errhint("Keep whole numbers in the tracked quantity column.")));
}

/*
 * A numeric quantity as units: a whole number (within bigint: 22003
 * beyond).  A fraction rounded row by row drifted from the sum
 * track_inventory starts from; NaN and infinity raised internal errors.
 */
static int64
numeric_units(Datum d, const char *table)
{
	Numeric		n = DatumGetNumeric(d);

	if (numeric_is_nan(n) || numeric_is_inf(n) ||
		!DatumGetBool(DirectFunctionCall2(numeric_eq, d,
										  DirectFunctionCall2(numeric_trunc, d, Int32GetDatum(0)))))
		error_not_whole(DatumGetCString(DirectFunctionCall1(numeric_out, d)), table);
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, d));
}

/* Quantity column value as int64 (NULL counts as zero). */
static int64
row_qty(HeapTuple tup, TupleDesc desc, int col, const char *table)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return 0;
	switch (SPI_gettypeid(desc, col))
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return DatumGetInt64(d);
		case NUMERICOID:
			return numeric_units(d, table);
		default:
			elog(ERROR, "waitlist: unsupported quantity type %u",
				 SPI_gettypeid(desc, col));
	}
	return 0;
}

/*
 * SKU column value as text, as a cast to text reads it: a char(n) column
 * without its padding (the value track_inventory's first sum matched);
 * NULL when NULL.
 */
static char *
row_sku(HeapTuple tup, TupleDesc desc, int col)
{
	char	   *s = SPI_getvalue(tup, desc, col);
	size_t		len;

	if (s == NULL || SPI_gettypeid(desc, col) != BPCHAROID)
		return s;
	len = strlen(s);
	while (len > 0 && s[len - 1] == ' ')
		len--;
	s[len] = '\0';
	return s;
}

/* new_units - old_units, refused (22003) when the change itself leaves bigint. */
static int64
units_change(int64 new_units, int64 old_units, const char *table)
{
	int64		delta;

	if (pg_sub_s64_overflow(new_units, old_units, &delta))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("quantity change in tracked table \"%s\" is out of range", table),
				 errdetail("From " INT64_FORMAT " to " INT64_FORMAT " units.", old_units, new_units)));
	return delta;
}

/* Move a SKU's units on hand by delta; unknown SKUs are ignored. */
static void
move_stock(const char *sku, int64 delta)
{
	WlSku		s;

	if (sku == NULL || delta == 0)
		return;
	if (wl_sku_move_on_hand(sku, delta, &s))
		wl_touch_supply(wl_sku_text(&s, SKU_CODE));
}

/* Check that we are an AFTER ... FOR EACH ROW trigger with two arguments. */
static TriggerData *
check_trigger_call(FunctionCallInfo fcinfo)
{
	TriggerData *td;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("waitlist.inventory_trigger: not called by trigger manager")));
	td = (TriggerData *) fcinfo->context;
	if (!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("waitlist.inventory_trigger: must be fired AFTER ... FOR EACH ROW")));
	if (td->tg_trigger->tgnargs != 2)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("waitlist.inventory_trigger: expects the SKU and quantity column names"),
				 errhint("Attach it with waitlist.track_inventory().")));
	return td;
}

/* Column number of a trigger argument, or an error. */
static int
trigger_column(TriggerData *td, int argno)
{
	const char *name = td->tg_trigger->tgargs[argno];
	int			col = SPI_fnumber(td->tg_relation->rd_att, name);

	if (col <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of table \"%s\" no longer exists", name,
						RelationGetRelationName(td->tg_relation)),
				 errhint("Track the table again with waitlist.track_inventory().")));
	return col;
}

/* SQL: waitlist.inventory_trigger() */
Datum
waitlist_inventory_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = check_trigger_call(fcinfo);
	TupleDesc	desc = td->tg_relation->rd_att;
	int			skucol = trigger_column(td, 0);
	int			qtycol = trigger_column(td, 1);
	HeapTuple	oldtup = NULL;
	HeapTuple	newtup = NULL;
	char	   *oldsku = NULL;
	char	   *newsku = NULL;
	const char *table;

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		newtup = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		oldtup = td->tg_trigtuple;
	else
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}
	wl_spi_connect();
	if (oldtup)
		oldsku = row_sku(oldtup, desc, skucol);
	if (newtup)
		newsku = row_sku(newtup, desc, skucol);
	table = RelationGetRelationName(td->tg_relation);
	if (oldsku && newsku && strcmp(oldsku, newsku) == 0)
		move_stock(newsku, units_change(row_qty(newtup, desc, qtycol, table),
										row_qty(oldtup, desc, qtycol, table), table));
	else
	{
		if (oldsku)
			move_stock(oldsku, units_change(0, row_qty(oldtup, desc, qtycol, table), table));
		if (newsku)
			move_stock(newsku, row_qty(newtup, desc, qtycol, table));
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}

/* ---------- track_inventory / untrack_inventory ---------- */

/* Name argument, required. */
static char *
arg_name(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return NameStr(*PG_GETARG_NAME(argno));
}

/* The table, which the calling role must own. */
static Oid
arg_table(FunctionCallInfo fcinfo)
{
	Oid			relid;
	char		kind;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("inventory must not be null")));
	relid = PG_GETARG_OID(0);
	if (get_rel_name(relid) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	kind = get_rel_relkind(relid);
	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", get_rel_name(relid))));
	if (get_rel_namespace(relid) == get_namespace_oid("waitlist", false))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" belongs to the waitlist extension", get_rel_name(relid)),
				 errhint("Track the shop's own inventory table.")));
	if (!pg_class_ownercheck(relid, GetOuterUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
	return relid;
}

/* Check that a column exists and has one of the accepted types. */
static void
check_column(Oid relid, const char *col, const Oid *types, int ntypes,
			 const char *expect)
{
	AttrNumber	att = get_attnum(relid, col);
	Oid			typ;

	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						col, get_rel_name(relid))));
	typ = get_atttype(relid, att);
	for (int i = 0; i < ntypes; i++)
		if (typ == types[i])
			return;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("column \"%s\" of relation \"%s\" is of type %s",
					col, get_rel_name(relid), format_type_be(typ)),
			 errdetail("The %s column must be %s.", expect,
					   strcmp(expect, "SKU") == 0 ? "text, varchar or char" :
					   "smallint, integer, bigint or numeric")));
}

/* Schema-qualified, quoted name of a relation. */
static char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

static WlQuery q_register = {
	"INSERT INTO waitlist.tracked_inventory (inventory, sku_column, quantity_column)"
	" VALUES ($1, $2, $3) ON CONFLICT (inventory) DO NOTHING",
	3, {REGCLASSOID, NAMEOID, NAMEOID}, NULL
};

/* Create the trigger on the app table. */
static void
create_trigger(Oid relid, const char *skucol, const char *qtycol)
{
	char	   *sql = psprintf("CREATE TRIGGER %s AFTER INSERT OR DELETE OR UPDATE OF %s, %s"
							   " ON %s FOR EACH ROW EXECUTE FUNCTION waitlist.inventory_trigger(%s, %s)",
							   WL_TRIGGER_NAME, quote_identifier(skucol),
							   quote_identifier(qtycol), qualified_name(relid),
							   quote_literal_cstr(skucol), quote_literal_cstr(qtycol));

	if (SPI_execute(sql, false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "waitlist: could not create the inventory trigger");
}

/* A numeric quantity column must hold whole numbers only, as the trigger requires. */
static void
require_whole_quantities(Oid relid, const char *qtycol)
{
	const char *q = quote_identifier(qtycol);
	char	   *sql = psprintf("SELECT %s::text FROM %s WHERE %s::text IN ('NaN', 'Infinity', '-Infinity')"
							   " OR %s <> pg_catalog.trunc(%s) LIMIT 1",
							   q, qualified_name(relid), q, q, q);

	if (SPI_execute(sql, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "waitlist: could not read the quantities of the inventory table");
	if (SPI_processed > 0)
		error_not_whole(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						get_rel_name(relid));
}

/* Set every registered SKU found in the table to its summed quantity. */
static void
initial_sync(Oid relid, const char *skucol, const char *qtycol)
{
	char	   *units = psprintf("SELECT %s::text AS sku, coalesce(sum(%s), 0)::bigint AS units"
								 " FROM %s GROUP BY 1",
								 quote_identifier(skucol), quote_identifier(qtycol),
								 qualified_name(relid));
	uint64		n = wl_sku_sync_on_hand(units);

	for (uint64 i = 0; i < n; i++)
		wl_touch_supply(wl_get_text(i, 1));
}

/* SQL: waitlist.track_inventory(inventory, sku_column, quantity_column) */
Datum
waitlist_track_inventory(PG_FUNCTION_ARGS)
{
	static const Oid sku_types[] = {TEXTOID, VARCHAROID, BPCHAROID};
	static const Oid qty_types[] = {INT2OID, INT4OID, INT8OID, NUMERICOID};
	Oid			relid = arg_table(fcinfo);
	char	   *skucol = arg_name(fcinfo, 1, "sku_column");
	char	   *qtycol = arg_name(fcinfo, 2, "quantity_column");
	Datum		args[3];

	check_column(relid, skucol, sku_types, lengthof(sku_types), "SKU");
	check_column(relid, qtycol, qty_types, lengthof(qty_types), "quantity");
	args[0] = ObjectIdGetDatum(relid);
	args[1] = PG_GETARG_DATUM(1);
	args[2] = PG_GETARG_DATUM(2);
	wl_spi_connect();
	if (wl_exec(&q_register, args, NULL, SPI_OK_INSERT, 0) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("table \"%s\" is already tracked", get_rel_name(relid)),
				 errhint("Call waitlist.untrack_inventory() first to change its columns.")));
	if (get_atttype(relid, get_attnum(relid, qtycol)) == NUMERICOID)
		require_whole_quantities(relid, qtycol);
	create_trigger(relid, skucol, qtycol);
	initial_sync(relid, skucol, qtycol);
	SPI_finish();
	PG_RETURN_VOID();
}

static WlQuery q_unregister = {
	"DELETE FROM waitlist.tracked_inventory WHERE inventory = $1",
	1, {REGCLASSOID}, NULL
};

/* SQL: waitlist.untrack_inventory(inventory) */
Datum
waitlist_untrack_inventory(PG_FUNCTION_ARGS)
{
	Oid			relid = arg_table(fcinfo);
	Datum		arg = ObjectIdGetDatum(relid);
	bool		found;

	wl_spi_connect();
	found = wl_exec(&q_unregister, &arg, NULL, SPI_OK_DELETE, 0) > 0;
	if (found &&
		SPI_execute(psprintf("DROP TRIGGER IF EXISTS %s ON %s", WL_TRIGGER_NAME,
							 qualified_name(relid)), false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "waitlist: could not drop the inventory trigger");
	SPI_finish();
	PG_RETURN_BOOL(found);
}
