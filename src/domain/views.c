/*
 * views.c
 *	  The owner of waitlist.page_view: one row per product page view, with
 *	  what the page showed (in stock, out of stock, notify-me, backorder,
 *	  pre-order).  The metrics divide sign-ups and backorders by these
 *	  views (waitlist.metrics, in SQL); waitlist.roll_up_views folds each
 *	  day that is over into view_day.
 *
 * A view is one INSERT that also checks the SKU (the row is written only
 * when the SKU exists), no lock and no foreign key check: it is called on
 * every product page.  Callers are in SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "domain/views.h"
#include "store/sku_row.h"
#include "store/spi.h"

/* What a page can show, as the policy decides it (and page_view's CHECK). */
static const char *const shown_values[] = {
	"in_stock", "out_of_stock", "notify_me", "backorder", "preorder"
};

/* Is shown one of the values a page view records? */
bool
wl_view_shown_ok(const char *shown)
{
	for (size_t i = 0; i < lengthof(shown_values); i++)
		if (strcmp(shown, shown_values[i]) == 0)
			return true;
	return false;
}

static WlQuery q_view = {
	"INSERT INTO waitlist.page_view (sku, visitor, shown)"
	" SELECT s.sku, $2, $3 FROM waitlist.sku s WHERE s.sku = $1",
	3, {TEXTOID, TEXTOID, TEXTOID}, NULL
};

/* Record a view of sku's page by visitor (NULL: anonymous); an unknown SKU is refused. */
void
wl_record_view(const char *sku, const char *visitor, const char *shown)
{
	Datum		args[3] = {CStringGetTextDatum(sku), visitor ? CStringGetTextDatum(visitor) : (Datum) 0,
	CStringGetTextDatum(shown)};
	char		nulls[4] = {' ', visitor ? ' ' : 'n', ' ', '\0'};

	if (wl_exec(&q_view, args, nulls, SPI_OK_INSERT, 0) == 0)
		wl_error_unknown_sku(sku);
}
