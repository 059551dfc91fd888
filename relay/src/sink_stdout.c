/*
 * sink_stdout.c: the --stdout sink.  A line counts as delivered once it is
 * flushed to the pipe or file behind stdout; a write error means retry.
 */
#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Write the body and a newline, flushed. */
void
stdout_deliver(delivery *d)
{
	if (fputs(d->msg.body, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF)
	{
		delivery_fail(d, VERDICT_RETRY, -1, "cannot write to stdout: %s", strerror(errno));
		clearerr(stdout);
		return;
	}
	d->verdict = VERDICT_DELIVERED;
}
