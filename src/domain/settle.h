/*
 * settle.h
 *	  What a SKU owes at the commit of a transaction that touched it.
 */
#ifndef WAITLIST_SETTLE_H
#define WAITLIST_SETTLE_H

#include "postgres.h"

extern void wl_settle_sku(const char *sku);

#endif
