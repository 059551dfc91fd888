/*
 * expansion.h
 *	  Per-recipient messages written after the commit.
 */
#ifndef WAITLIST_EXPANSION_H
#define WAITLIST_EXPANSION_H

#include "postgres.h"

#include "domain/preorders.h"

/* Sign-up confirmations written per expansion call at most. */
#define WL_CONFIRM_CHUNK 10000

/* Positions of a batch that reaches a whole queue expanded per call at most. */
#define WL_BATCH_CHUNK 10000

extern int64 wl_expand_batches(int max_batches);
/*
 * Where a caller's run over the confirmations goes on (a loop over chunks
 * in one transaction passes the same one): the sign-ups after signup, the
 * due lines after line.  WL_CONFIRM_START starts from the beginning.
 */
typedef struct WlConfirmCursor
{
	int64		signup;
	WlLineCursor line;
} WlConfirmCursor;

#define WL_CONFIRM_START {PG_INT64_MIN, {DT_NOBEGIN, PG_INT64_MIN}}

extern int64 wl_expand_confirmations(int max, WlConfirmCursor *after);

#endif
