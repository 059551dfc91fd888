/*
 * sink_stdout.c: the --stdout sink.  A line counts as delivered once it is
 * flushed to the pipe or file behind stdout; a write error means retry.
 */
#include "sink.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool		sink_broken = false;

/* Write the body and a newline, flushed. */
void
stdout_deliver(delivery *d)
{
	if (fputs(d->msg.body, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF)
	{
		delivery_fail(d, VERDICT_RELEASE, -1, "cannot write to stdout: %s", strerror(errno));
		clearerr(stdout);
		sink_broken = true;
		return;
	}
	d->verdict = VERDICT_DELIVERED;
}
