/*
 * util.h: small helpers every part of the relay uses: memory that never
 * returns NULL, a monotonic clock, parsing of numbers and durations, and a
 * growable list of strings.
 */
#ifndef RELAY_UTIL_H
#define RELAY_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct strlist
{
	char	  **items;
	int			n;
} strlist;

void	   *xmalloc(size_t n);
void	   *xcalloc(size_t count, size_t size);
char	   *xstrdup(const char *s);
char	   *xasprintf(const char *fmt,...) __attribute__((format(printf, 1, 2)));

void		strlist_add(strlist *l, const char *s);
void		strlist_clear(strlist *l);
void		strlist_copy(strlist *dst, const strlist *src);
bool		strlist_contains(const strlist *l, const char *s);

int64_t		now_ms(void);
bool		parse_duration(const char *s, double *seconds);
bool		parse_long(const char *s, long lo, long hi, long *out);
bool		parse_bool(const char *s, bool *out);

#endif
