/*
 * spi.h
 *	  One small SPI wrapper: every statement the extension runs is a
 *	  WlQuery, prepared once per backend and kept, and every call states the
 *	  SPI result it expects.
 */
#ifndef WAITLIST_SPI_H
#define WAITLIST_SPI_H

#include "postgres.h"
#include "executor/spi.h"
#include "utils/snapshot.h"

#include "store/now.h"

#define WL_MAX_ARGS 16

typedef struct WlQuery
{
	const char *sql;
	int			nargs;
	Oid			argtypes[WL_MAX_ARGS];
	SPIPlanPtr	plan;			/* prepared on first use, kept for the backend */
	int			cursor_options; /* e.g. CURSOR_OPT_GENERIC_PLAN; usually 0 */
} WlQuery;

/* Rewrites a statement's text before it runs (store/shards.c on Citus). */
typedef char *(*WlSqlMapper) (const char *sql);

extern void wl_spi_connect(void);
extern void wl_spi_map(WlSqlMapper mapper);
extern int	wl_spi_connect_pinned(void);
extern void wl_spi_finish_pinned(int nest);
extern void wl_spi_pin_snapshot(Snapshot snap);
extern bool wl_spi_unmapped(void);
extern int	wl_index_scans(bool no_bitmap);
extern void wl_scans_restore(int nest);
extern void wl_prepare(WlQuery *q);
extern uint64 wl_exec(WlQuery *q, Datum *values, const char *nulls,
					  int expected, long count);
extern int64 wl_get_int64(int row, int col, bool *isnull);
extern char *wl_get_text(int row, int col);
extern bool wl_get_bool(int row, int col);
extern Datum wl_get_datum(int row, int col, bool *isnull);
extern Datum wl_opt_text(const char *s);
extern bool wl_text_equals(Datum d, const char *s);

#endif
