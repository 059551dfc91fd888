/*
 * dispatch.c: queues claimed messages until a delivery slot is free, starts
 * deliveries on their sink, notices when they end, logs one line per
 * outcome, and keeps finished deliveries until the relay has recorded them
 * (ack, nack, dead_letter or release).
 */
#include "dispatch.h"
#include "log.h"
#include "sink.h"
#include "util.h"

#include <stdlib.h>
#include <unistd.h>

struct dispatcher
{
	CURLM	   *multi;
	delivery   *queued;			/* claimed, waiting for a slot, oldest first */
	delivery  **queued_tail;
	int			nqueued;
	delivery   *active;
	int			nactive;
	delivery   *finished;
	long		max_connects;	/* CURLMOPT_MAXCONNECTS as last set */
};

/* An empty dispatcher with its curl multi handle. */
dispatcher *
dispatch_new(void)
{
	dispatcher *dp = xcalloc(1, sizeof(dispatcher));

	dp->multi = curl_multi_init();
	if (dp->multi == NULL)
	{
		log_error("msg=\"cannot initialise libcurl\"");
		exit(1);
	}
	dp->queued_tail = &dp->queued;
	return dp;
}

/* Free the dispatcher; every delivery must have been taken already. */
void
dispatch_free(dispatcher *dp)
{
	webhook_free_pool();
	curl_multi_cleanup(dp->multi);
	free(dp);
}

/* How many deliveries are in flight. */
int
dispatch_active(const dispatcher *dp)
{
	return dp->nactive;
}

/* How many claimed messages wait for a slot. */
int
dispatch_queued(const dispatcher *dp)
{
	return dp->nqueued;
}

/* The outcome line: id, kind, channel, outcome, status, duration. */
static void
log_outcome(const delivery *d)
{
	char	   *err = d->error ? log_quote(d->error) : NULL;
	char		status[32] = "",
				retry[32] = "";

	if (d->status >= 0)
		snprintf(status, sizeof(status), " status=%ld", d->status);
	if (d->retry_after >= 0)
		snprintf(retry, sizeof(retry), " retry_after=%.0f", d->retry_after);
	log_msg(d->verdict == VERDICT_DELIVERED ? "info" : "warning",
			"delivery id=%lld kind=%s channel=%s attempt=%d outcome=%s%s ms=%lld%s%s%s",
			d->msg.id, d->msg.kind, d->msg.channel, d->msg.attempts, verdict_name(d->verdict),
			status, (long long) d->duration_ms, retry, err ? " error=" : "", err ? err : "");
	free(err);
}

/* Move d from active to finished, freeing its sink resources. */
static void
finish(dispatcher *dp, delivery *d)
{
	delivery  **pp = &dp->active;

	while (*pp != NULL && *pp != d)
		pp = &(*pp)->next;
	if (*pp == d)
	{
		*pp = d->next;
		dp->nactive--;
	}
	webhook_cleanup(d, dp->multi);
	d->duration_ms = now_ms() - d->started_ms;
	log_outcome(d);
	d->next = dp->finished;
	dp->finished = d;
}

/* Take msg (now owned here); it starts when dispatch_fill finds a free slot. */
void
dispatch_enqueue(dispatcher *dp, relay_msg *msg)
{
	delivery   *d = xcalloc(1, sizeof(delivery));

	d->msg = *msg;
	d->status = -1;
	d->retry_after = -1;
	d->started_ms = now_ms();
	*dp->queued_tail = d;
	dp->queued_tail = &d->next;
	dp->nqueued++;
}

/* The oldest queued delivery, taken off the queue. */
static delivery *
dequeue(dispatcher *dp)
{
	delivery   *d = dp->queued;

	dp->queued = d->next;
	if (dp->queued == NULL)
		dp->queued_tail = &dp->queued;
	dp->nqueued--;
	d->next = NULL;
	return d;
}

/* Hand d to the configured sink. */
static void
start(dispatcher *dp, const relay_config *cfg, delivery *d)
{
	bool		started = false;

	d->sink = cfg->sink;
	d->started_ms = now_ms();
	d->deadline_ms = d->started_ms + (int64_t) (cfg->timeout * 1000);
	d->next = dp->active;
	dp->active = d;
	dp->nactive++;
	if (d->sink == SINK_STDOUT)
		stdout_deliver(d);
	else if (d->sink == SINK_EXEC)
		started = exec_start(d, cfg);
	else
		started = webhook_start(d, dp->multi, cfg);
	if (!started)
		finish(dp, d);
}

/* Collect finished HTTP transfers (and send what was just added). */
static void
progress_webhooks(dispatcher *dp, const relay_config *cfg);

/*
 * Start queued deliveries while fewer than --in-flight run (the stdout sink
 * finishes each before the next).  New HTTP requests go out at once, before
 * the relay's next statement.
 */
void
dispatch_fill(dispatcher *dp, const relay_config *cfg)
{
	int			started = 0;

	/*
	 * Keep a kept-alive connection per slot.  Left at 0, libcurl sizes its
	 * cache by the transfers on the handle at the moment, and closes
	 * connections whenever fewer run.
	 */
	if (dp->max_connects != cfg->in_flight)
	{
		dp->max_connects = cfg->in_flight;
		curl_multi_setopt(dp->multi, CURLMOPT_MAXCONNECTS, dp->max_connects);
	}
	while (dp->queued != NULL && dp->nactive < cfg->in_flight)
	{
		start(dp, cfg, dequeue(dp));
		started++;
	}
	if (started > 0 && cfg->sink == SINK_WEBHOOK)
		progress_webhooks(dp, cfg);
}

/* Release every queued message undelivered (shutting down). */
void
dispatch_release_queued(dispatcher *dp)
{
	while (dp->queued != NULL)
	{
		delivery   *d = dequeue(dp);

		d->sink = SINK_STDOUT;	/* no sink resources to free */
		delivery_fail(d, VERDICT_RELEASE, -1, "relay shutting down");
		finish(dp, d);
	}
}

/* Sleep until a transfer, one of the extra descriptors, or the timeout wakes us. */
void
dispatch_wait(dispatcher *dp, struct curl_waitfd *extra, int nextra, int timeout_ms)
{
	int			ready = 0;

	CURLMcode	rc;

	if (timeout_ms < 0)
		timeout_ms = 0;
	rc = curl_multi_poll(dp->multi, extra, nextra, timeout_ms, &ready);
	if (rc != CURLM_OK)
	{
		log_error("msg=\"waiting failed\" error=\"%s\"", curl_multi_strerror(rc));
		usleep(100 * 1000);		/* never spin */
	}
}

/* Collect finished HTTP transfers. */
static void
progress_webhooks(dispatcher *dp, const relay_config *cfg)
{
	int			running,
				left;
	CURLMsg    *m;

	curl_multi_perform(dp->multi, &running);
	while ((m = curl_multi_info_read(dp->multi, &left)) != NULL)
	{
		delivery   *d = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &d);
		webhook_done(d, m->data.result, cfg);
		finish(dp, d);
	}
}

/* Collect exited (or timed-out) children. */
static void
progress_children(dispatcher *dp)
{
	int64_t		now = now_ms();
	delivery   *d = dp->active;

	while (d != NULL)
	{
		delivery   *next = d->next;

		if (d->sink == SINK_EXEC && d->pid > 0 && exec_poll(d, now))
			finish(dp, d);
		d = next;
	}
}

/* Advance every sink; finished deliveries move to the finished list. */
void
dispatch_progress(dispatcher *dp, const relay_config *cfg)
{
	progress_webhooks(dp, cfg);
	progress_children(dp);
}

/* The earliest exec deadline (ms on the monotonic clock), or INT64_MAX. */
int64_t
dispatch_next_deadline(const dispatcher *dp)
{
	int64_t		next = INT64_MAX;

	for (const delivery *d = dp->active; d != NULL; d = d->next)
		if (d->sink == SINK_EXEC && d->deadline_ms < next)
			next = d->deadline_ms;
	return next;
}

/* Stop every delivery in flight; they, and the queued ones, finish as "released". */
void
dispatch_abort_all(dispatcher *dp)
{
	dispatch_release_queued(dp);
	while (dp->active != NULL)
	{
		delivery   *d = dp->active;

		if (d->sink == SINK_EXEC)
			exec_abort(d);
		else
			delivery_fail(d, VERDICT_RELEASE, -1, "relay shutting down");
		finish(dp, d);
	}
}

/* Take the whole finished list (the caller records and frees it). */
delivery *
dispatch_take_finished(dispatcher *dp)
{
	delivery   *list = dp->finished;

	dp->finished = NULL;
	return list;
}

/* Put back deliveries whose verdict could not be recorded yet. */
void
dispatch_return_finished(dispatcher *dp, delivery *list)
{
	while (list != NULL)
	{
		delivery   *next = list->next;

		list->next = dp->finished;
		dp->finished = list;
		list = next;
	}
}

/* How many finished deliveries wait to be recorded. */
int
dispatch_unrecorded(const dispatcher *dp)
{
	int			n = 0;

	for (const delivery *d = dp->finished; d != NULL; d = d->next)
		n++;
	return n;
}

/* Ids whose lease the relay must keep: queued, in flight or not yet recorded. */
int
dispatch_held_ids(const dispatcher *dp, long long **ids)
{
	int			n = dp->nqueued + dp->nactive + dispatch_unrecorded(dp);

	*ids = xcalloc(n, sizeof(long long));
	n = 0;
	for (const delivery *d = dp->queued; d != NULL; d = d->next)
		(*ids)[n++] = d->msg.id;
	for (const delivery *d = dp->active; d != NULL; d = d->next)
		(*ids)[n++] = d->msg.id;
	for (const delivery *d = dp->finished; d != NULL; d = d->next)
		(*ids)[n++] = d->msg.id;
	return n;
}
