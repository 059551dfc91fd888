/*
 * index_probe.c
 *	  The first visible entry of one of the extension's btree indexes.
 *
 * The idle tick asks a dozen "is anything due?" questions, each the first
 * entry of a partial index (domain/tick.c).  As one SQL statement, most of
 * its time went to the plan's start-up and shutdown (a dozen InitPlans, a
 * portal, SPI) and, for the small tables the planner scans sequentially, a
 * file size lookup per table; the index lookups themselves were a small
 * part.  Here the same answer comes from the index AM: open the heap and
 * the index with the locks a SELECT takes, scan forward without keys, and
 * return the first key whose heap tuple the snapshot sees (dead entries
 * are skipped, as an index scan skips them).
 *
 * Only an index that a SELECT could use this way qualifies: a valid,
 * ready btree in the extension's schema, usable by this transaction's
 * snapshot (indcheckxmin, as the planner checks it), whose first column is
 * ascending, nulls last, of the type the caller expects and passed by
 * value (timestamps, dates).  Anything else (the index was dropped, is
 * being rebuilt, or was replaced by another kind) answers
 * WL_PROBE_UNUSABLE and the caller asks in SQL instead.  What the index
 * covers (its table, key expression and predicate) is trusted by name:
 * they are the extension's own indexes, whose definitions test/schema.sql
 * checks.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/htup_details.h"
#include "access/transam.h"
#include "access/itup.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class_d.h"
#include "catalog/pg_index.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "parser/parse_relation.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "store/index_probe.h"
#include "store/spi.h"

/*
 * Is this open relation a btree index of heap that a SELECT may read now:
 * valid, ready, live, and not built over broken HOT chains too new for
 * this snapshot (indcheckxmin, as the planner checks it)?  Called with the
 * reader's snapshot registered (TransactionXmin set).
 */
static bool
btree_readable(Relation irel, Oid heapoid)
{
	Form_pg_index form = irel->rd_index;

	if (irel->rd_rel->relkind != RELKIND_INDEX ||
		irel->rd_rel->relam != BTREE_AM_OID ||
		form == NULL || form->indrelid != heapoid ||
		!form->indisvalid || !form->indisready || !form->indislive)
		return false;
	return !form->indcheckxmin ||
		TransactionIdPrecedes(HeapTupleHeaderGetXmin(irel->rd_indextuple->t_data),
							  TransactionXmin);
}

/*
 * Can this open index answer "first key in ascending order" for heap, with
 * a first key of keytype (any when InvalidOid)?
 */
static bool
probe_usable(Relation irel, Oid heapoid, Oid keytype)
{
	Form_pg_attribute key;

	if (!btree_readable(irel, heapoid) || irel->rd_index->indnkeyatts < 1 ||
		(irel->rd_indoption[0] & (INDOPTION_DESC | INDOPTION_NULLS_FIRST)) != 0)
		return false;
	key = TupleDescAttr(RelationGetDescr(irel), 0);
	return key->attbyval && (!OidIsValid(keytype) || key->atttypid == keytype);
}

/*
 * Open waitlist.<index> and its table with the locks a SELECT takes, the
 * table first, as the executor locks them; false when there is no such
 * index (then nothing is open).  *irel is NULL when the index went away
 * between the lookups: the caller closes the table and gives up.
 */
static bool
open_pair(const char *index, Relation *hrel, Relation *irel)
{
	Oid			nsp = get_namespace_oid("waitlist", true);
	Oid			indexoid;
	Oid			heapoid;

	if (!OidIsValid(nsp))
		return false;
	indexoid = get_relname_relid(index, nsp);
	if (!OidIsValid(indexoid) || get_rel_relkind(indexoid) != RELKIND_INDEX)
		return false;
	heapoid = IndexGetRelation(indexoid, true);
	if (!OidIsValid(heapoid))
		return false;
	*hrel = try_relation_open(heapoid, AccessShareLock);
	if (*hrel == NULL)
		return false;
	*irel = try_relation_open(indexoid, AccessShareLock);
	return true;
}

/* Unregister the snapshot and close what open_pair opened (locks kept). */
static void
close_pair(Snapshot snap, Relation hrel, Relation irel)
{
	UnregisterSnapshot(snap);
	if (irel != NULL)
		relation_close(irel, NoLock);
	table_close(hrel, NoLock);
}

/*
 * The first key of index waitlist.<index> whose row the current snapshot
 * sees, as a statement run now would see it (what this transaction wrote
 * before is visible); keytype is the type the first key must have
 * (InvalidOid: any, for a caller that only asks whether there is an
 * entry).  The locks taken are kept to the end of the transaction, as a
 * SELECT keeps them.
 */
WlProbeResult
wl_index_first(const char *index, Oid keytype, Datum *key, bool *isnull)
{
	Relation	hrel;
	Relation	irel;
	Snapshot	snap;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	WlProbeResult result = WL_PROBE_EMPTY;

	if (!open_pair(index, &hrel, &irel))
		return WL_PROBE_UNUSABLE;
	/* a new command's snapshot, as SPI takes for each statement */
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetTransactionSnapshot());
	if (irel == NULL || !probe_usable(irel, RelationGetRelid(hrel), keytype))
	{
		close_pair(snap, hrel, irel);
		return WL_PROBE_UNUSABLE;
	}
	scan = index_beginscan(hrel, irel, snap, 0, 0);
	scan->xs_want_itup = true;	/* the key is read from the index tuple */
	index_rescan(scan, NULL, 0, NULL, 0);
	slot = table_slot_create(hrel, NULL);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		*key = index_getattr(scan->xs_itup, 1, scan->xs_itupdesc, isnull);
		result = WL_PROBE_FOUND;
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	close_pair(snap, hrel, irel);
	return result;
}

/*
 * Can this open index find the one row whose key equals a value of keytype:
 * a readable, unique, immediate btree on one plain column of that type,
 * without a predicate?  *eqproc is its equality function.
 */
static bool
lookup_usable(Relation irel, Oid heapoid, Oid keytype, Oid *eqproc)
{
	Oid			eqop;

	if (!btree_readable(irel, heapoid) ||
		!irel->rd_index->indisunique || !irel->rd_index->indimmediate ||
		irel->rd_index->indnkeyatts != 1 ||
		irel->rd_index->indkey.values[0] == 0 ||	/* an expression */
		irel->rd_opcintype[0] != keytype ||
		RelationGetIndexPredicate(irel) != NIL)
		return false;
	eqop = get_opfamily_member(irel->rd_opfamily[0], keytype, keytype,
							   BTEqualStrategyNumber);
	if (!OidIsValid(eqop))
		return false;
	*eqproc = get_opcode(eqop);
	return OidIsValid(*eqproc);
}

/*
 * The row of waitlist.<index>'s table whose key (the unique index's one
 * column, of keytype) equals key, as a statement run now would see it:
 * the named columns' values (of the types given), copied into the current
 * memory context.  What "SELECT cols FROM t WHERE k = $1" answers, without
 * a plan, a portal or an executor (a provider's event report looks its
 * message up this way).  WL_PROBE_UNUSABLE when the index or a column is
 * not what is expected, or when the caller's statements do not run as
 * planned (a pinned snapshot, Citus's shard mapping: store/spi.c): the
 * caller asks in SQL instead.  Locks are kept as a SELECT keeps them.
 */
WlProbeResult
wl_index_row(const char *index, Oid keytype, Datum key, int ncols,
			 const char *const *cols, const Oid *types, Datum *values, bool *nulls)
{
	Oid			eqproc = InvalidOid;
	Relation	hrel;
	Relation	irel;
	Snapshot	snap;
	IndexScanDesc scan;
	ScanKeyData skey;
	TupleTableSlot *slot;
	TupleDesc	desc;
	AttrNumber	attnums[WL_ROW_MAX_COLS];
	bool		usable = true;
	WlProbeResult result = WL_PROBE_EMPTY;

	Assert(ncols <= WL_ROW_MAX_COLS);
	if (!wl_spi_unmapped() || !open_pair(index, &hrel, &irel))
		return WL_PROBE_UNUSABLE;
	desc = RelationGetDescr(hrel);
	for (int i = 0; i < ncols; i++)
	{
		attnums[i] = attnameAttNum(hrel, cols[i], false);
		if (attnums[i] <= 0 || TupleDescAttr(desc, attnums[i] - 1)->atttypid != types[i])
			usable = false;
	}
	CommandCounterIncrement();
	snap = RegisterSnapshot(GetTransactionSnapshot());
	if (!usable || irel == NULL ||
		!lookup_usable(irel, RelationGetRelid(hrel), keytype, &eqproc) ||
		/* the key column's own collation, as a query's clause would have */
		irel->rd_indcollation[0] !=
		TupleDescAttr(desc, irel->rd_index->indkey.values[0] - 1)->attcollation)
	{
		close_pair(snap, hrel, irel);
		return WL_PROBE_UNUSABLE;
	}
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   irel->rd_indcollation[0], eqproc, key);
	scan = index_beginscan(hrel, irel, snap, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	slot = table_slot_create(hrel, NULL);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		for (int i = 0; i < ncols; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, attnums[i] - 1);

			values[i] = slot_getattr(slot, attnums[i], &nulls[i]);
			/* a copy, detoasted while the scan's snapshot is registered */
			if (nulls[i])
				continue;
			if (att->attlen == -1)
				values[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(values[i]));
			else
				values[i] = datumCopy(values[i], att->attbyval, att->attlen);
		}
		result = WL_PROBE_FOUND;
	}
	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	close_pair(snap, hrel, irel);
	return result;
}
