/*
 * spi.c
 *	  The one SPI wrapper: prepared-statement cache, result accessors, and
 *	  the connection check.
 *
 * Callers connect with wl_spi_connect() themselves; wl_exec() prepares the
 * statement on first use (SPI_keepplan, so it lives for the backend and is
 * re-planned by the plan cache after DDL), runs it with bound parameters and
 * raises an internal error when SPI returns anything but the expected code.
 * A caller may pin one snapshot for every statement (wl_spi_pin_snapshot).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "store/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "waitlist.h"

static bool layout_checked = false; /* the tables are keyed by the SKU code */
static Snapshot pinned = NULL;	/* wl_exec's snapshot while one is pinned */
static WlSqlMapper sql_mapper = NULL;	/* while set, wl_exec runs mapped text */

/* Connect to SPI (every C entry point that runs statements does). */
void
wl_spi_connect(void)
{
	int			rc = SPI_connect();

	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "waitlist: SPI_connect failed: %s", SPI_result_code_string(rc));
}

/*
 * Connect to SPI with search_path pinned to pg_catalog, pg_temp until
 * wl_spi_finish_pinned: for statements reached from functions that run
 * with the caller's search_path (the row-form policy, for catalog
 * queries), so that no operator or function another role planted in a
 * schema on that path runs inside them.  Returns the GUC nest level.
 */
int
wl_spi_connect_pinned(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	wl_spi_connect();
	return nest;
}

/*
 * Plan and run the statements that follow with sequential scans off (and
 * bitmap scans too, with no_bitmap) until wl_scans_restore(nest): for the
 * queue statements that must read their partial indexes.  Their plans are
 * kept for the backend, so a plan made while a table was empty (a fresh or
 * just vacuumed outbox or batch table) read the whole table on every later
 * call until the next ANALYZE: a relay's claims scanned every message and
 * batch ever written (relay/bench/run.sh latency, perf).  Returns the GUC
 * nest level.
 */
int
wl_index_scans(bool no_bitmap)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (no_bitmap)
		(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

/* Restore the scan settings wl_index_scans changed. */
void
wl_scans_restore(int nest)
{
	AtEOXact_GUC(true, nest);
}

/* Disconnect and restore the caller's search_path. */
void
wl_spi_finish_pinned(int nest)
{
	SPI_finish();
	AtEOXact_GUC(true, nest);
}

/*
 * The statements here are written for the tables keyed by the SKU code
 * (0.2.0).  A database still at 0.1.0 (line.sku_id) is refused with a
 * clear error until it is updated: the re-key cannot be served by both.
 * Checked once per backend, before the first statement is prepared.
 */
static void
check_layout(void)
{
	Oid			nsp = get_namespace_oid("waitlist", false);
	Oid			line = get_relname_relid("line", nsp);

	if (OidIsValid(line) && get_attnum(line, "sku_id") != InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the waitlist extension in this database must be updated"),
				 errdetail("The installed library keys the tables by the SKU code (0.2.0); this database is at 0.1.0."),
				 errhint("Run ALTER EXTENSION waitlist UPDATE.")));
	layout_checked = true;
}

/* Prepare q once per backend. */
void
wl_prepare(WlQuery *q)
{
	SPIPlanPtr	plan;

	if (q->plan != NULL)
		return;
	if (!layout_checked)
		check_layout();
	plan = SPI_prepare_cursor(q->sql, q->nargs, q->argtypes, q->cursor_options);
	if (plan == NULL)
		elog(ERROR, "waitlist: SPI_prepare failed (%s): %s",
			 SPI_result_code_string(SPI_result), q->sql);
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "waitlist: SPI_keepplan failed");
	q->plan = plan;
}

/*
 * Rethrow the current error without its DETAIL when that detail shows row
 * values: a constraint failure in a statement that writes messages would
 * print another customer's contact details to the caller and the log.
 */
static void
rethrow_without_row(MemoryContext cxt)
{
	ErrorData  *e;

	MemoryContextSwitchTo(cxt);
	e = CopyErrorData();
	if (ERRCODE_TO_CATEGORY(e->sqlerrcode) != ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		e->detail == NULL)
		PG_RE_THROW();
	FlushErrorState();
	e->detail = pstrdup("The row's values are not shown: they may hold a customer's contact details.");
	e->detail_log = NULL;
	ReThrowError(e);
}

/*
 * Run every following wl_exec with snap instead of a new snapshot per
 * statement (READ COMMITTED takes one per statement), until it is pinned
 * to NULL again.  Each statement still sees the transaction's own earlier
 * changes (SPI advances the copy's command id).  The caller keeps snap
 * registered while it is pinned and unpins on error too (claim() does).
 */
void
wl_spi_pin_snapshot(Snapshot snap)
{
	pinned = snap;
}

/*
 * From now on run every statement's text through mapper (NULL: stop).  On
 * Citus the per-node work names a local shard group's shards instead of the
 * distributed tables (store/shards.c); mapped statements are planned on
 * each run, not kept.
 */
void
wl_spi_map(WlSqlMapper mapper)
{
	sql_mapper = mapper;
}

/*
 * Does wl_exec run statements as planned, on the snapshot a new statement
 * takes (no pinned snapshot, no shard mapping)?  A caller that reads a
 * table without SQL (store/index_probe.c) only may then.
 */
bool
wl_spi_unmapped(void)
{
	return pinned == NULL && sql_mapper == NULL;
}

/* Run q with bound values; the SPI result must equal expected. */
uint64
wl_exec(WlQuery *q, Datum *values, const char *nulls, int expected, long count)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = 0;

	if (sql_mapper == NULL)
		wl_prepare(q);
	PG_TRY();
	{
		if (sql_mapper != NULL && pinned != NULL)
		{
			/* a shard group's text, run with the pinned snapshot */
			SPIPlanPtr	plan = SPI_prepare(sql_mapper(q->sql), q->nargs, (Oid *) q->argtypes);

			if (plan == NULL)
				elog(ERROR, "waitlist: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			rc = SPI_execute_snapshot(plan, values, nulls, pinned,
									  InvalidSnapshot, false, true, count);
			SPI_freeplan(plan);
		}
		else if (sql_mapper != NULL)
			rc = SPI_execute_with_args(sql_mapper(q->sql), q->nargs,
									   (Oid *) q->argtypes, values, nulls,
									   false, count);
		else if (pinned != NULL)
			rc = SPI_execute_snapshot(q->plan, values, nulls, pinned,
									  InvalidSnapshot, false, true, count);
		else
			rc = SPI_execute_plan(q->plan, values, nulls, false, count);
	}
	PG_CATCH();
	{
		rethrow_without_row(cxt);
	}
	PG_END_TRY();
	if (rc != expected)
		elog(ERROR, "waitlist: SPI returned %s, expected %s: %s",
			 SPI_result_code_string(rc), SPI_result_code_string(expected),
			 q->sql);
	return SPI_processed;
}

/* Column col (1-based) of result row as a datum; isnull may be NULL. */
Datum
wl_get_datum(int row, int col, bool *isnull)
{
	bool		null;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
								  col, &null);

	if (isnull)
		*isnull = null;
	return d;
}

/* Column col of result row as int64 (the column must be bigint). */
int64
wl_get_int64(int row, int col, bool *isnull)
{
	bool		null;
	Datum		d = wl_get_datum(row, col, &null);

	if (isnull)
		*isnull = null;
	return null ? 0 : DatumGetInt64(d);
}

/* A text argument from a C string that may be NULL (pair with a nulls flag). */
Datum
wl_opt_text(const char *s)
{
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* Column col of result row as a palloc'd C string, or NULL. */
char *
wl_get_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/* Column col of result row as bool (NULL reads as false). */
bool
wl_get_bool(int row, int col)
{
	bool		null;
	Datum		d = wl_get_datum(row, col, &null);

	return null ? false : DatumGetBool(d);
}

/* Does a text datum hold exactly the C string s (no copy)? */
bool
wl_text_equals(Datum d, const char *s)
{
	text	   *t = DatumGetTextPP(d);
	size_t		len = VARSIZE_ANY_EXHDR(t);

	return strlen(s) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}
