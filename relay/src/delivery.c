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

/* Length of the valid UTF-8 sequence at s (2 to 4 bytes), or 0 if it is not one. */
static int
utf8_len(const unsigned char *s)
{
	int			n;
	unsigned char lo = 0x80,
				hi = 0xBF;		/* the second byte's range */

	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		n = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xE0 || s[0] == 0xF0)
		lo = s[0] == 0xE0 ? 0xA0 : 0x90;	/* no overlong forms */
	if (s[0] == 0xED || s[0] == 0xF4)
		hi = s[0] == 0xED ? 0x9F : 0x8F;	/* no surrogates, nothing past U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* Make text safe for a text column: valid UTF-8, no control characters. */
static void
sanitize(char *text)
{
	unsigned char *p = (unsigned char *) text;

	while (*p)
	{
		int			n = *p >= 0x80 ? utf8_len(p) : 1;

		if (n == 0)
			*p = '?';
		else if (n == 1 && (*p < 0x20 || *p == 0x7F))
			*p = ' ';
		p += n ? n : 1;
	}
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
	if (d->error != NULL)
		sanitize(d->error);
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
