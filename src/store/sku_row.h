/*
 * sku_row.h
 *	  The waitlist.sku row: the one module that reads, locks and updates it.
 *
 * A WlSku holds the row's columns as datums, read by column name (so a
 * column added to the table changes this module only).  Statements here
 * return the whole row (k.*), or on the hottest paths just the columns
 * their callers read, under the same names; wl_sku_from_tuple maps either
 * (a column not returned reads as NULL).  Statements that also return
 * something else name it after the row's columns.
 */
#ifndef WAITLIST_SKU_ROW_H
#define WAITLIST_SKU_ROW_H

#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/date.h"

typedef enum WlSkuCol
{
	SKU_ID,
	SKU_CODE,					/* the column "sku" */
	SKU_TITLE,
	SKU_STATUS,
	SKU_ON_HAND,
	SKU_ALLOCATED,
	SKU_RESTOCK_DATE,
	SKU_RESTOCK_CONFIRMED,
	SKU_PRODUCT_URL,
	SKU_IMAGE_URL,
	SKU_NOTIFY_RATIO,
	SKU_SEND_SOLD_OUT_AGAIN,
	SKU_CONFIRM_SIGNUPS,
	SKU_PAID_TAIL,
	SKU_PAID_SERVED,
	SKU_SUB_TAIL,
	SKU_SUB_SERVED,
	SKU_ANNOUNCED,
	SKU_PAID_WAITING,
	SKU_SUB_WAITING,
	SKU_PLANNED_PRODUCTION,
	SKU_PREORDER_LIMIT,
	SKU_PREORDERS_OPEN,
	SKU_PREORDER_ACCEPTED,
	SKU_PREORDER_AT_LIMIT,
	SKU_PREORDER_LIMIT_HITS,
	SKU_PRODUCTION_DATE,
	SKU_SHIPS_ON,
	SKU_PAYMENT_MODE,
	SKU_PREORDER_TERMS,
	SKU_CHANNEL_LIMITS,
	SKU_CHANNELS,
	SKU_BACKORDER_DAYS,
	SKU_OUT_OF_STOCK_DAYS,
	SKU_MIN_DEMAND,
	SKU_MAX_BACKORDER_UNITS,
	SKU_STATUS_INTERVAL,
	SKU_MIDWAIT_FRACTION,
	SKU_IMMINENT_DAYS,
	SKU_EMAIL_DELAY,
	SKU_ETA_TO_SIGNUPS,
	SKU_PASSED_RESTOCK,
	SKU_PASSED_SHIPS,
	SKU_HOLD_WINDOW,
	SKU_HELD,
	SKU_IN_STOCK_SINCE,
	SKU_LAST_SELLOUT,
	SKU_WAVE_START,
	SKU_MISSED_NOTE_AT,
	SKU_MISSED_FROM,
	SKU_MISSED_TO,
	SKU_NCOLS
} WlSkuCol;

/*
 * The SKU's earliest date still to watch for passing (its confirmed
 * restock date, its pre-order ship date, each until the tick has handled
 * its passing), and the rows that have one: the expression and predicate
 * of the index sku_date_watch, which the statements must spell exactly so.
 */
#define WL_SKU_WATCH_DATE \
	"LEAST(CASE WHEN restock_confirmed AND restock_date IS DISTINCT FROM passed_restock" \
	" THEN restock_date END," \
	" CASE WHEN ships_on IS DISTINCT FROM passed_ships THEN ships_on END)"
#define WL_SKU_WATCHED \
	"((restock_confirmed AND restock_date IS DISTINCT FROM passed_restock)" \
	" OR ships_on IS DISTINCT FROM passed_ships)"

/* A sku row (or the columns of one that a caller has). */
typedef struct WlSku
{
	Datum		values[SKU_NCOLS];
	bool		nulls[SKU_NCOLS];
} WlSku;

/* Reading a row's columns */
extern void wl_sku_from_tuple(HeapTuple tup, TupleDesc desc, WlSku *s);
extern int64 wl_sku_int64(const WlSku *s, WlSkuCol c);
extern int32 wl_sku_int32(const WlSku *s, WlSkuCol c, int32 if_null);
extern bool wl_sku_bool(const WlSku *s, WlSkuCol c);
extern char *wl_sku_text(const WlSku *s, WlSkuCol c);
extern bool wl_sku_text_is(const WlSku *s, WlSkuCol c, const char *value);
extern bool wl_sku_date(const WlSku *s, WlSkuCol c, DateADT *d);
extern double wl_sku_float8(const WlSku *s, WlSkuCol c);
extern int64 wl_sku_free_units(const WlSku *s);
extern int64 wl_sku_preorder_room(const WlSku *s);

/* Finding and locking */
extern void wl_error_unknown_sku(const char *sku) pg_attribute_noreturn();
extern void wl_error_discontinued(const char *sku) pg_attribute_noreturn();
extern void wl_sku_wait_turn(const char *code);
extern bool wl_sku_find(const char *code, bool lock, WlSku *s);
extern void wl_sku_lock(const char *code, WlSku *s);
extern void wl_sku_get(const char *sku, bool lock, WlSku *s);

/* Supply and settings */
extern bool wl_sku_change_supply(const char *code, int64 qty, bool absolute, WlSku *s);
extern bool wl_sku_move_on_hand(const char *code, int64 delta, WlSku *s);
extern uint64 wl_sku_sync_on_hand(const char *units_query);
extern HeapTuple wl_sku_upsert(Datum *args, const char *nulls);
extern bool wl_sku_set_listings(const char *code, Datum channels, bool unlisted, WlSku *s);
extern HeapTuple wl_sku_set_policy(const char *code, Datum *args, const char *nulls);
extern HeapTuple wl_sku_set_schedule(const char *code, Datum *args, const char *nulls);
extern int64 wl_sku_waiting_count(const char *code, bool *found);

/* Queues */
extern int64 wl_sku_take_paid(const char *sku, int64 qty);
extern void wl_sku_close_line(const char *sku, int64 unallocate, int64 unstock, int64 unqueue);
extern bool wl_sku_take_signup(const char *code, WlSku *s);
extern void wl_sku_give_back_signup(const char *sku);
extern void wl_sku_mark_changed(const char *sku);
extern bool wl_sku_signup_left(const char *sku, int64 pos, WlSku *s);
extern void wl_sku_unqueue_signups(const char *sku, uint64 n, int col);
extern void wl_sku_signups_gone(const char *sku, int64 n);
extern void wl_sku_store_allocation(const WlSku *s);
extern void wl_sku_mark_on_sale(const char *sku, int64 wave_start);
extern void wl_sku_mark_sold_out(const char *sku, int64 missed_from, int64 missed_to, double note_after_s);
extern void wl_sku_missed_done(const char *sku);
extern void wl_sku_add_imported(const char *sku, int64 paid_units, int64 signups);

/* Holds (domain/holds.c) */
extern Datum wl_sku_set_hold_window(const char *code, Datum window, bool off);
extern void wl_sku_claim_held(const char *sku);
extern void wl_sku_release_held(const char *sku, int64 units);

/* Pre-order plans */
extern void wl_sku_set_at_limit(const char *sku, bool at_limit, WlSku *s);
extern void wl_sku_store_plan(const char *sku, Datum *args, const char *nulls, WlSku *s);
extern void wl_sku_close_preorders(const char *sku);
extern void wl_sku_reschedule(const char *sku, DateADT ships, Datum production);
extern void wl_sku_refresh_channel_limits(const char *sku);
extern void wl_sku_give_back_preorder(const char *sku, int64 qty, bool positions, WlSku *s);
extern bool wl_sku_place_preorder(Datum *args, const char *nulls, WlSku *s, int64 *line_id);
extern uint64 wl_sku_preorder_report(const char *code);

/* The schedule (domain/schedule.c) */
extern uint64 wl_sku_codes_status_due(int max);
extern void wl_sku_status_round_done(const char *sku, bool more);
extern uint64 wl_sku_with_dates_passed(int max, DateADT today);
extern void wl_sku_dates_seen(const char *sku, DateADT today);
extern bool wl_sku_next_update(const char *sku, int32 *number);

/* Sets of SKUs */
extern uint64 wl_sku_codes_listed_on(const char *channel);
extern uint64 wl_sku_codes_to_recheck(int max);

#endif
