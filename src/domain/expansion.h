/*
 * expansion.h
 *	  Per-recipient messages written after the commit.
 */
#ifndef WAITLIST_EXPANSION_H
#define WAITLIST_EXPANSION_H

#include "postgres.h"

/* Sign-up confirmations written per expansion call at most. */
#define WL_CONFIRM_CHUNK 10000

/* Positions of a batch that reaches a whole queue expanded per call at most. */
#define WL_BATCH_CHUNK 10000

extern int64 wl_expand_batches(int max_batches);
extern int64 wl_expand_confirmations(int max, int64 *after);

#endif
