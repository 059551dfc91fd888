/*
 * ids.c
 *	  Cluster-unique ids without a round trip: waitlist.next_id(seq), the
 *	  default of every id column, is (waitlist.node_id << 48) | nextval(seq).
 *
 * On Citus every node inserts with its own copy of the extension's
 * sequences; each node sets its own waitlist.node_id, so ids made on two
 * nodes never collide (the outbox stays a local table per node, keyed by
 * them).  A single node keeps node_id 0, and ids are the sequence's values.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "commands/sequence.h"
#include "fmgr.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "waitlist.h"

#define WL_NODE_SHIFT	48
#define WL_LOCAL_MAX	((INT64CONST(1) << WL_NODE_SHIFT) - 1)

PG_FUNCTION_INFO_V1(waitlist_next_id);

/* Refuse what is not an existing sequence, with a clear SQLSTATE. */
static void
check_sequence(Oid relid)
{
	char		kind = get_rel_relkind(relid);

	if (kind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (kind != RELKIND_SEQUENCE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a sequence", get_rel_name(relid))));
}

/* The next id of seq, prefixed with this node's waitlist.node_id. */
Datum
waitlist_next_id(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int64		local;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("seq must not be NULL")));
	relid = PG_GETARG_OID(0);
	check_sequence(relid);
	local = nextval_internal(relid, true);
	if (local < 1 || local > WL_LOCAL_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sequence \"%s\" is outside the ids one node can make",
						get_rel_name(relid)),
				 errdetail("An id is the node number times 2^48 plus a sequence value from 1 to 2^48 - 1; the value was " INT64_FORMAT ".",
						   local)));
	PG_RETURN_INT64(((int64) wl_node_id << WL_NODE_SHIFT) | local);
}
