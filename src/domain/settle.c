/*
 * settle.c
 *	  The commit hook (registered by module.c with txn/commit.c): a SKU the
 *	  transaction touched is allocated, and, when it is listed on sales
 *	  channels, publishes its availability.  Runs in SPI, as the extension's
 *	  owner, once per SKU in id order.
 */
#include "postgres.h"

#include "domain/allocator.h"
#include "domain/availability.h"
#include "domain/settle.h"
#include "txn/pending.h"

/* Allocate the SKU's free units, then publish what changed on its channels. */
void
wl_settle_sku(const char *sku)
{
	int			flags = wl_allocate_sku(sku);

	if (flags & WL_ALLOC_QUEUED)
		wl_note_messages();
	if (flags & WL_ALLOC_LISTED)
		wl_publish_availability(sku);
}
