/*
 * log.c: writes log lines to stderr.  Each line is built in full and written
 * with one call, so lines from the relay and from exec'd commands sharing
 * stderr do not interleave mid-line.
 */
#include "log.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

bool		log_verbose = false;

/* "2024-05-01T12:00:00.123Z" for the current time. */
static void
log_timestamp(char *buf, size_t len)
{
	struct timeval tv;
	struct tm	tm;
	char		base[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", base, (int) (tv.tv_usec / 1000));
}

/* Write "<time> <level> <message>\n" to stderr. */
void
log_msg(const char *level, const char *fmt,...)
{
	char		ts[40];
	char	   *msg,
			   *line;
	va_list		ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	log_timestamp(ts, sizeof(ts));
	line = xasprintf("%s %s %s\n", ts, level, msg ? msg : fmt);
	if (write(STDERR_FILENO, line, strlen(line)) < 0)
	{
		/* nowhere left to report it */
	}
	free(line);
	free(msg);
}

/* A logfmt value in double quotes, with quotes, backslashes and newlines escaped. */
char *
log_quote(const char *s)
{
	size_t		n = 0;
	char	   *out,
			   *p;

	if (s == NULL)
		s = "";
	out = p = xmalloc(strlen(s) * 2 + 3);
	*p++ = '"';
	for (; *s && n < 400; s++, n++)
	{
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = (*s == '\n' || *s == '\r') ? ' ' : *s;
	}
	*p++ = '"';
	*p = '\0';
	return out;
}
