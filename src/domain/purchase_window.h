/*
 * purchase_window.h
 *	  waitlist.purchase_window in the statements that write to or hold for
 *	  sign-ups: who bought the SKU lately (domain/purchases.c keeps the
 *	  purchases).
 */
#ifndef WAITLIST_PURCHASE_WINDOW_H
#define WAITLIST_PURCHASE_WINDOW_H

/*
 * For the statements that write wave messages to sign-ups u of SKU s
 * (domain/expansion.c, domain/followups.c) or hold units for them
 * (domain/allocator.c): a sign-up whose email or phone bought the SKU
 * within the last secs seconds.  A purchase converts the sign-ups it sees
 * made before it; this covers those made after it (or committed while it
 * was being recorded).
 */
#define WL_BOUGHT_WITHIN(secs) \
	"(" secs " > 0 AND EXISTS (SELECT 1 FROM waitlist.purchase p" \
	"  WHERE p.sku = s.sku AND p.contact IN (lower(u.email), u.phone)" \
	"   AND p.at > waitlist.now() - make_interval(secs => " secs ")))"
#define WL_NOT_BOUGHT_WITHIN(secs) " AND NOT " WL_BOUGHT_WITHIN(secs)

#endif
