/*
 * util.c: memory, clock, parsing and string-list helpers.  Out of memory is
 * not recoverable for a daemon this small: it is reported and the process
 * exits, and the leases it held expire so another relay delivers.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Stop at once when memory runs out. */
static void
out_of_memory(void)
{
	fputs("waitlist-relay: out of memory\n", stderr);
	exit(1);
}

/* malloc that never returns NULL. */
void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

/* calloc that never returns NULL. */
void *
xcalloc(size_t count, size_t size)
{
	void	   *p = calloc(count ? count : 1, size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

/* strdup that never returns NULL; NULL in gives NULL out. */
char *
xstrdup(const char *s)
{
	char	   *p;

	if (s == NULL)
		return NULL;
	p = strdup(s);
	if (p == NULL)
		out_of_memory();
	return p;
}

/* printf into a fresh string. */
char *
xasprintf(const char *fmt,...)
{
	va_list		ap;
	char	   *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		out_of_memory();
	va_end(ap);
	return p;
}

/* Append a copy of s. */
void
strlist_add(strlist *l, const char *s)
{
	char	  **items = realloc(l->items, sizeof(char *) * (l->n + 1));

	if (items == NULL)
		out_of_memory();
	l->items = items;
	l->items[l->n++] = xstrdup(s);
}

/* Free every item and empty the list. */
void
strlist_clear(strlist *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Replace dst with a deep copy of src. */
void
strlist_copy(strlist *dst, const strlist *src)
{
	strlist_clear(dst);
	for (int i = 0; i < src->n; i++)
		strlist_add(dst, src->items[i]);
}

/* Whether s is one of the items. */
bool
strlist_contains(const strlist *l, const char *s)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

/* Milliseconds on a clock that never jumps. */
int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The multiplier of a duration unit (ms, s, m, h; none = seconds), or -1. */
static double
duration_unit(const char *unit)
{
	if (*unit == '\0' || strcasecmp(unit, "s") == 0)
		return 1.0;
	if (strcasecmp(unit, "ms") == 0)
		return 0.001;
	if (strcasecmp(unit, "m") == 0 || strcasecmp(unit, "min") == 0)
		return 60.0;
	if (strcasecmp(unit, "h") == 0)
		return 3600.0;
	return -1.0;
}

/* Parse "30", "30s", "500ms", "2m" or "1h" into seconds (not negative). */
bool
parse_duration(const char *s, double *seconds)
{
	char	   *end;
	double		v,
				unit;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0)
		return false;
	unit = duration_unit(end);
	if (unit < 0)
		return false;
	*seconds = v * unit;
	return true;
}

/* Parse a whole decimal integer within [lo, hi]. */
bool
parse_long(const char *s, long lo, long hi, long *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Parse yes/no, true/false, on/off, 1/0. */
bool
parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0 ||
		strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0 ||
			 strcasecmp(s, "off") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		return false;
	return true;
}
