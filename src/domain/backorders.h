/*
 * backorders.h
 *	  Paid lines: backorder placement, cancelling and shipping a line, and
 *	  a moved restock date.
 */
#ifndef WAITLIST_BACKORDERS_H
#define WAITLIST_BACKORDERS_H

#include "postgres.h"
#include "utils/date.h"

#include "store/sku_row.h"
#include "waitlist.h"

extern int64 wl_place_backorder(const WlOrderArgs *a);
extern int64 wl_place_claimed_line(const WlSku *s, const WlOrderArgs *a, int64 start);
extern int64 wl_cancel_line(const char *sku, int64 line_id);
/* What a shipment tells: each NULL when not given. */
typedef struct WlShipment
{
	const char *carrier;
	const char *tracking_number;
	const char *tracking_url;
} WlShipment;

extern void wl_ship_line(const char *sku, int64 line_id, const WlShipment *sh);
extern void wl_backorders_eta_changed(const char *sku, DateADT previous);
extern char *wl_backorder_eta(const WlSku *s);
extern char *wl_backorder_confirmed_payload(const char *order_ref, int64 line_id,
											const char *sku, const char *title, int32 qty,
											bool in_stock, const char *eta, const char *url);

#endif
