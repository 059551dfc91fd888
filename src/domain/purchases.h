/*
 * purchases.h
 *	  Who bought a SKU: purchases reported from elsewhere and orders placed
 *	  through the extension; a purchase converts the buyer's sign-ups.
 */
#ifndef WAITLIST_PURCHASES_H
#define WAITLIST_PURCHASES_H

#include "postgres.h"
#include "datatype/timestamp.h"
#include "store/sku_row.h"

/* What a reported order sold: units, and the amount paid when given. */
typedef struct WlSale
{
	int32		qty;
	bool		has_amount;
	Datum		amount;			/* numeric */
} WlSale;

extern int	wl_record_purchase(const char *sku, const char *contact, bool email,
							   const char *order_ref, TimestampTz at, const WlSale *sale);
extern void wl_order_purchased(const WlSku *s, const char *order_ref,
							   const char *email, const char *phone);

#endif
