/*
 * views.h
 *	  Product page views: what the page showed each visitor.
 */
#ifndef WAITLIST_VIEWS_H
#define WAITLIST_VIEWS_H

#include "postgres.h"

extern bool wl_view_shown_ok(const char *shown);
extern void wl_record_view(const char *sku, const char *visitor, const char *shown);

#endif
