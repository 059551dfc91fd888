/*
 * shards.c
 *	  The local shards of this node on Citus (issue 13: the outbox per node).
 *
 * After waitlist.distribute() the SKU tables are distributed by the SKU
 * code and the outbox stays a local table on every node.  Messages of a
 * batch are written on the node that holds the batch, by that node's
 * claim() and tick(), from its local data only: the expansion's statements
 * (a FOR UPDATE SKIP LOCKED over every SKU, joins with the local outbox)
 * are not distributed queries Citus can run.  So the per-node work runs
 * once per local shard group (the colocated shards of one hash range), with
 * each "waitlist.<table>" of its statements naming the group's shard
 * instead (wl_exec maps them while a group is in use), and the reference
 * tables their local placement.  Citus allows plain statements on shards.
 *
 * On a server without Citus (the GUC citus.version is not defined, looked
 * up once per backend), in a database without the citus extension (where
 * Citus is preloaded for others) and before distribute() nothing of this
 * runs: the caller gets distributed = false and runs its statements as
 * they are.
 */
#include "postgres.h"

#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "store/shards.h"
#include "store/spi.h"

static int	citus_loaded = -1;	/* -1: not looked yet */
static const WlShardGroup *active = NULL;

static char *map_sql(const char *sql);
static int64 run_in_group(const WlShardGroup *group, int64 (*fn) (int64), int64 arg);

/*
 * This node's shards of the waitlist tables, one row per group of
 * colocated distributed shards (by hash range), each with the local
 * placements of the reference tables; and whether waitlist.sku is
 * distributed at all.  Only prepared where Citus is loaded.
 */
static WlQuery q_local_shards = {
	"WITH here AS ("
	"  SELECT c.relname::text AS rel, s.shardminvalue AS lo,"
	"         pg_catalog.shard_name(s.logicalrelid, s.shardid)::text AS shard"
	"    FROM pg_catalog.pg_dist_shard s"
	"    JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
	"    JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid"
	"   WHERE c.relnamespace OPERATOR(pg_catalog.=) 'waitlist'::pg_catalog.regnamespace"
	"     AND p.groupid OPERATOR(pg_catalog.=)"
	"         (SELECT groupid FROM pg_catalog.pg_dist_local_group)),"
	" dist AS (SELECT * FROM here WHERE lo IS NOT NULL),"
	" ref AS (SELECT * FROM here WHERE lo IS NULL)"
	" SELECT pg_catalog.array_agg(x.rel ORDER BY x.rel), pg_catalog.array_agg(x.shard ORDER BY x.rel)"
	"   FROM (SELECT lo, rel, shard FROM dist"
	"         UNION ALL SELECT d.lo, r.rel, r.shard"
	"          FROM (SELECT DISTINCT lo FROM dist) d, ref r) x"
	"  GROUP BY x.lo ORDER BY x.lo",
	0, {InvalidOid}, NULL
};

/* This node's placements of the waitlist reference tables (one group). */
static WlQuery q_reference_shards = {
	"SELECT pg_catalog.array_agg(c.relname::text ORDER BY c.relname),"
	"       pg_catalog.array_agg(pg_catalog.shard_name(s.logicalrelid, s.shardid)::text ORDER BY c.relname)"
	"  FROM pg_catalog.pg_dist_shard s"
	"  JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid"
	"  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid"
	" WHERE c.relnamespace OPERATOR(pg_catalog.=) 'waitlist'::pg_catalog.regnamespace"
	"   AND s.shardminvalue IS NULL"
	"   AND p.groupid OPERATOR(pg_catalog.=) (SELECT groupid FROM pg_catalog.pg_dist_local_group)"
	" HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0",
	0, {InvalidOid}, NULL
};

static WlQuery q_distributed = {
	"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition"
	" WHERE logicalrelid OPERATOR(pg_catalog.=) 'waitlist.sku'::pg_catalog.regclass)",
	0, {InvalidOid}, NULL
};

/* A text[] datum as palloc'd C strings. */
static char **
text_array(Datum d, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **out;

	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, n);
	out = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		out[i] = TextDatumGetCString(elems[i]);
	return out;
}

/*
 * Fill out with this node's local shard groups; false (nothing to map)
 * when Citus is not loaded or waitlist.sku is not distributed.  The caller
 * is connected to SPI; the groups live in the caller's memory context.
 */
bool
wl_local_shards(WlLocalShards *out)
{
	MemoryContext cxt = CurrentMemoryContext;
	uint64		n;

	memset(out, 0, sizeof(*out));
	if (active != NULL)
		return false;			/* already inside a group: run as mapped */
	if (citus_loaded < 0)
		citus_loaded = GetConfigOption("citus.version", true, false) != NULL;
	if (!citus_loaded ||
		!OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE)))
		return false;			/* no Citus, or not in this database */
	wl_exec(&q_distributed, NULL, NULL, SPI_OK_SELECT, 0);
	if (!wl_get_bool(0, 1))
		return false;
	out->distributed = true;
	n = wl_exec(&q_local_shards, NULL, NULL, SPI_OK_SELECT, 0);
	out->ngroups = (int) n;
	out->groups = MemoryContextAllocZero(cxt, sizeof(WlShardGroup) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		WlShardGroup *g = &out->groups[i];
		MemoryContext old = MemoryContextSwitchTo(cxt);

		g->tables = text_array(wl_get_datum(i, 1, NULL), &g->ntables);
		g->shards = text_array(wl_get_datum(i, 2, NULL), &g->ntables);
		MemoryContextSwitchTo(old);
	}
	return true;
}

/* Is a shard group in use (statements naming its shards)? */
bool
wl_shards_in_group(void)
{
	return active != NULL;
}

/*
 * This node's placements of the reference tables, as a group to map a
 * statement that joins the local outbox with one of them (claim() and the
 * suppression list): false when there is nothing to map (no Citus, not
 * distributed, or no placement here).  Caller in SPI; memory as above.
 */
bool
wl_reference_shards(WlShardGroup *out)
{
	WlLocalShards here;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext old;

	memset(out, 0, sizeof(*out));
	if (!wl_local_shards(&here) ||
		wl_exec(&q_reference_shards, NULL, NULL, SPI_OK_SELECT, 0) == 0)
		return false;
	old = MemoryContextSwitchTo(cxt);
	out->tables = text_array(wl_get_datum(0, 1, NULL), &out->ntables);
	out->shards = text_array(wl_get_datum(0, 2, NULL), &out->ntables);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * fn(arg) with the statements mapped to group (or as they are when group
 * is NULL); the map goes off on error too.
 */
int64
wl_shards_run(const WlShardGroup *group, int64 (*fn) (int64), int64 arg)
{
	if (group == NULL)
		return fn(arg);
	return run_in_group(group, fn, arg);
}

/*
 * Map the statements wl_exec runs to group's shards from now on (NULL:
 * stop).  run_in_group stops on error too, so no map outlives its work.
 */
void
wl_shards_use(const WlShardGroup *group)
{
	active = group;
	wl_spi_map(group ? map_sql : NULL);
}

/* fn(arg) with group's shards mapped; the map goes off on error too. */
static int64
run_in_group(const WlShardGroup *group, int64 (*fn) (int64), int64 arg)
{
	int64		result;

	wl_shards_use(group);
	PG_TRY();
	{
		result = fn(arg);
	}
	PG_CATCH();
	{
		wl_shards_use(NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	wl_shards_use(NULL);
	return result;
}

/*
 * fn(arg) once per group of here, each run with the group's shards mapped;
 * returns the sum of the results.
 */
int64
wl_shards_each(const WlLocalShards *here, int64 (*fn) (int64), int64 arg)
{
	int64		total = 0;

	for (int i = 0; i < here->ngroups; i++)
		total += run_in_group(&here->groups[i], fn, arg);
	return total;
}

/* Is c a character of an unquoted identifier? */
static bool
ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/*
 * sql with every "waitlist.<table>" of the group in use replaced by its
 * shard; other names (the outbox, functions) stay.
 */
static char *
map_sql(const char *sql)
{
	StringInfoData buf;
	const char *prefix = "waitlist.";
	size_t		plen = strlen(prefix);
	const char *p = sql;

	initStringInfo(&buf);
	while (*p)
	{
		const char *name;
		size_t		len;
		int			k;

		if (*p == '\'')
		{
			/* a string literal is copied as it is ('' inside is two of them) */
			const char *end = strchr(p + 1, '\'');

			len = end ? (size_t) (end - p) + 1 : strlen(p);
			appendBinaryStringInfo(&buf, p, len);
			p += len;
			continue;
		}
		if (strncmp(p, prefix, plen) != 0 || (p > sql && ident_char(p[-1])))
		{
			appendStringInfoChar(&buf, *p++);
			continue;
		}
		name = p + plen;
		for (len = 0; ident_char(name[len]); len++)
			;
		for (k = 0; k < active->ntables; k++)
			if (strlen(active->tables[k]) == len &&
				strncmp(active->tables[k], name, len) == 0 && name[len] != '(')
				break;
		if (k < active->ntables)
			appendStringInfoString(&buf, active->shards[k]);
		else
			appendBinaryStringInfo(&buf, p, plen + len);
		p = name + len;
	}
	return buf.data;
}
