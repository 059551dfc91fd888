/*
 * delivery.c: verdict names, recording a failure, and freeing a delivery.
 */
#include "delivery.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The word logged for a verdict. */
const char *
verdict_name(verdict v)
{
	switch (v)
	{
		case VERDICT_DELIVERED:
			return "delivered";
		case VERDICT_RETRY:
			return "retry";
		case VERDICT_DEAD:
			return "dead";
		case VERDICT_RELEASE:
			return "released";
		case VERDICT_NONE:
			break;
	}
	return "none";
}

/* Set a failure verdict with a status and a formatted reason. */
void
delivery_fail(delivery *d, verdict v, long status, const char *fmt,...)
{
	va_list		ap;

	free(d->error);
	va_start(ap, fmt);
	if (vasprintf(&d->error, fmt, ap) < 0)
		d->error = NULL;
	va_end(ap);
	d->verdict = v;
	d->status = status;
}

/* Free a delivery whose sink resources are already released. */
void
delivery_free(delivery *d)
{
	relay_msg_free(&d->msg);
	free(d->error);
	free(d);
}
