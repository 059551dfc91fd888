/*
 * purchases.h
 *	  Who bought a SKU: purchases reported from elsewhere and orders placed
 *	  through the extension; a purchase converts the buyer's sign-ups.
 */
#ifndef WAITLIST_PURCHASES_H
#define WAITLIST_PURCHASES_H

#include "postgres.h"
#include "datatype/timestamp.h"

extern int	wl_record_purchase(const char *sku, const char *contact, bool email,
							   const char *order_ref, TimestampTz at);
extern void wl_order_purchased(const char *sku, const char *order_ref,
							   const char *email, const char *phone);

/*
 * waitlist.purchase_window, for the statements that write wave messages
 * to sign-ups u of SKU s (domain/expansion.c, domain/followups.c): leave
 * out a sign-up whose email or phone bought the SKU within the last secs
 * seconds.  A purchase converts the sign-ups made before it; this covers
 * those made after it.
 */
#define WL_NOT_BOUGHT_WITHIN(secs) \
	" AND NOT (" secs " > 0 AND EXISTS (SELECT 1 FROM waitlist.purchase p" \
	"  WHERE p.sku = s.sku AND p.contact IN (lower(u.email), u.phone)" \
	"   AND p.at > waitlist.now() - make_interval(secs => " secs ")))"

#endif
