/*
 * lines.h
 *	  What lines.c shares: the backorder confirmation's payload.
 */
#ifndef WAITLIST_LINES_H
#define WAITLIST_LINES_H

#include "postgres.h"

extern char *wl_backorder_confirmed_payload(const char *order_ref, int64 line_id,
											const char *sku, const char *title, int32 qty,
											bool in_stock, const char *eta, const char *url);

#endif
