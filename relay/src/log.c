/*
 * log.c: writes log lines to stderr.  Lines are built in full and buffered
 * whole, then written when the loop is about to sleep, before a command is
 * started and at exit, so lines from the relay and from exec'd commands
 * sharing stderr do not interleave mid-line.
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

/* Write one line too long for the buffer's fast path. */
static void
log_write_long(const char *ts, const char *level, const char *msg)
{
	char	   *line = xasprintf("%s %s %s\n", ts, level, msg);

	if (write(STDERR_FILENO, line, strlen(line)) < 0)
	{
		/* nowhere left to report it */
	}
	free(line);
}

bool		log_verbose = false;

/*
 * Lines wait in a buffer until the loop is about to sleep (log_flush), so a
 * busy relay writes its one line per delivery in a few large writes instead
 * of one system call each.  A full buffer is written at once.
 */
#define LOG_BUFFER 65536
static char log_buf[LOG_BUFFER];
static size_t log_len = 0;
static time_t log_second = -1;	/* the second log_base formats */
static char log_base[32];
static bool log_at_exit = false;	/* log_flush registered with atexit */

/* Write out what is buffered. */
void
log_flush(void)
{
	size_t		done = 0;

	while (done < log_len)
	{
		ssize_t		n = write(STDERR_FILENO, log_buf + done, log_len - done);

		if (n <= 0)
			break;				/* nowhere left to report it */
		done += n;
	}
	log_len = 0;
}

/* "2024-05-01T12:00:00.123Z" for the current time (the date part formatted once a second). */
static void
log_timestamp(char *buf, size_t len)
{
	struct timeval tv;
	struct tm	tm;

	gettimeofday(&tv, NULL);
	if (tv.tv_sec != log_second)
	{
		gmtime_r(&tv.tv_sec, &tm);
		strftime(log_base, sizeof(log_base), "%Y-%m-%dT%H:%M:%S", &tm);
		log_second = tv.tv_sec;
	}
	snprintf(buf, len, "%s.%03dZ", log_base, (int) (tv.tv_usec / 1000));
}

/* Buffer "<time> <level> <message>\n" for stderr. */
void
log_msg(const char *level, const char *fmt,...)
{
	char		line[1024];
	char		ts[40];
	int			head,
				n;
	va_list		ap;

	if (!log_at_exit)
		log_at_exit = atexit(log_flush) == 0;
	log_timestamp(ts, sizeof(ts));
	head = snprintf(line, sizeof(line), "%s %s ", ts, level);
	va_start(ap, fmt);
	n = vsnprintf(line + head, sizeof(line) - head - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || head + n >= (int) sizeof(line) - 1)
	{
		char	   *msg;			/* too long for the stack: format again */

		va_start(ap, fmt);
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
		log_flush();
		log_write_long(ts, level, msg ? msg : fmt);
		free(msg);
		return;
	}
	n += head;
	line[n++] = '\n';
	if (log_len + n > LOG_BUFFER)
		log_flush();
	memcpy(log_buf + log_len, line, n);
	log_len += n;
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
