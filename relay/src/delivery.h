/*
 * delivery.h: one message on its way through a sink, and the verdict the
 * sink reached.  A delivery lives in the dispatcher's active list while the
 * sink works and in its finished list until the verdict is recorded in the
 * database (which may wait for a reconnect).
 */
#ifndef RELAY_DELIVERY_H
#define RELAY_DELIVERY_H

#include "config.h"
#include "db.h"

#include <stdint.h>
#include <sys/types.h>

typedef enum verdict
{
	VERDICT_NONE = 0,
	VERDICT_DELIVERED,			/* ack */
	VERDICT_RETRY,				/* nack: try again later */
	VERDICT_DEAD,				/* dead_letter: a permanent failure */
	VERDICT_RELEASE				/* release: not attempted to the end (shutdown) */
} verdict;

typedef struct delivery
{
	relay_msg	msg;
	sink_type	sink;
	int64_t		started_ms;
	int64_t		deadline_ms;
	verdict		verdict;
	long		status;			/* HTTP status or exit code; -1 = none */
	double		retry_after;	/* seconds; < 0 = the extension's backoff */
	char	   *error;			/* why it failed, for last_error */
	int64_t		duration_ms;
	pid_t		pid;			/* exec sink: the child, 0 = none */
	bool		recorded;		/* its verdict is in the database */
	void	   *webhook;		/* webhook sink: its private state */
	struct delivery *next;
} delivery;

const char *verdict_name(verdict v);
void		delivery_fail(delivery *d, verdict v, long status, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));
void		delivery_free(delivery *d);

#endif
