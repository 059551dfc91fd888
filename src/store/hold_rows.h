/*
 * hold_rows.h
 *	  Every write of waitlist.hold.
 */
#ifndef WAITLIST_HOLD_ROWS_H
#define WAITLIST_HOLD_ROWS_H

#include "postgres.h"

extern Datum wl_holds_until(Datum window);
extern void wl_holds_open(Datum sku, int64 wave, int64 pos_from, int64 pos_to, int64 units,
						  Datum until);
extern int64 wl_holds_shrink(Datum sku, int64 units);
extern int64 wl_holds_requeue_claimed(Datum sku, int64 units, int64 paid_tail);
extern void wl_hold_claim(Datum sku, int64 wave);
extern uint64 wl_holds_close_due(Datum sku, int64 *released);

#endif
