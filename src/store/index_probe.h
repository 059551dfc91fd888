/*
 * index_probe.h
 *	  The first visible entry of one of the extension's btree indexes, read
 *	  with the index AM directly: what "SELECT min(key) ... LIMIT 1" finds,
 *	  without a plan, a portal or an executor (the idle tick's probes); and
 *	  the one row a unique index finds for a key (a message by its id).
 */
#ifndef WAITLIST_INDEX_PROBE_H
#define WAITLIST_INDEX_PROBE_H

#include "postgres.h"

typedef enum WlProbeResult
{
	WL_PROBE_UNUSABLE = -1,		/* no such valid btree index: ask in SQL */
	WL_PROBE_EMPTY = 0,			/* no entry visible to the snapshot */
	WL_PROBE_FOUND = 1			/* *key (and *isnull) set */
} WlProbeResult;

/* the most columns wl_index_row returns */
#define WL_ROW_MAX_COLS 8

extern WlProbeResult wl_index_first(const char *index, Oid keytype, Datum *key, bool *isnull);
extern WlProbeResult wl_index_row(const char *index, Oid keytype, Datum key, int ncols,
								  const char *const *cols, const Oid *types,
								  Datum *values, bool *nulls);

#endif
