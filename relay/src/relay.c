/*
 * relay.c: the event loop.  It owns the schedule (when to claim, tick,
 * renew leases and reconnect), turns finished deliveries into ack, nack,
 * dead_letter and release calls, and handles SIGTERM (stop claiming, let
 * in-flight deliveries finish within --grace, release the rest), SIGHUP
 * (reload --config) and SIGCHLD (an exec child ended) through a self-pipe.
 */
#include "relay.h"
#include "config.h"
#include "db.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "sink.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NEVER INT64_MAX
#define BACKOFF_FIRST 0.5		/* seconds before the first reconnect */
#define BACKOFF_MAX 30.0
#define RECHECK_MS 200			/* due work we could not claim: look again */
#define ACK_WAIT_MS 10		/* longest an ack waits for more to join it */
#define SCHEDULE_WAIT_MS 50		/* longest next_due waits for deliveries to end */

typedef struct relay
{
	relay_config cfg;
	int			argc;
	char	  **argv;
	db		   *db;
	dispatcher *dp;
	bool		stopping;
	int64_t		stop_deadline;
	bool		want_drain;		/* claim as soon as there is room */
	int64_t		next_claim;		/* the next message becomes due */
	int64_t		next_poll;		/* tick, refresh next_due */
	int64_t		next_renew;		/* extend leases */
	int64_t		next_ack;		/* deferred acks are due */
	int64_t		next_connect;
	int			claiming;		/* messages asked of the claim in flight, 0 = none */
	bool		waiting_claim;	/* that claim waits in the database (claim_wait) */
	int64_t		wait_ends;		/* ... until then */
	int64_t		no_park_until;	/* a waiting claim met a locked due message */
	bool		want_schedule;	/* a claim came back short: ask next_due */
	int64_t		schedule_by;	/* ... at the latest then */
	delivery   *acking;			/* delivered, their ack in flight */
	double		backoff;
	int			exit_code;		/* 0 unless stopped by a broken sink */
} relay;

static int	sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t got_term = 0;
static volatile sig_atomic_t got_hup = 0;

/* Record the signal and wake the loop. */
static void
on_signal(int signo)
{
	int			saved = errno;
	char		c = 0;

	if (signo == SIGTERM || signo == SIGINT)
		got_term++;
	else if (signo == SIGHUP)
		got_hup = 1;
	if (write(sig_pipe[1], &c, 1) < 0)
	{
		/* the pipe is full: the loop is awake anyway */
	}
	errno = saved;
}

/* Install the handlers and the non-blocking self-pipe. */
static bool
setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return true;
}

/* Empty the self-pipe. */
static void
drain_sig_pipe(void)
{
	char		buf[64];

	while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* Milliseconds from seconds. */
static int64_t
ms(double seconds)
{
	return (int64_t) ceil(seconds * 1000.0);
}

/*
 * How many messages one claim may take now.  Claimed messages wait in the
 * dispatcher's queue for a free slot, so one claim serves many deliveries,
 * and the next claim runs while the queue still holds enough to cover it
 * (a claim waits for its WAL flush; the loop goes on delivering meanwhile):
 * the relay claims again once fewer than PREFETCH/2 times --in-flight are
 * queued, up to PREFETCH + 1 times --in-flight held (queued and running),
 * at most --batch at a time.  The stdout sink delivers a whole claim at
 * once.
 */
#define PREFETCH 8

static int
room(const relay *r)
{
	long		queued = dispatch_queued(r->dp),
				held = dispatch_active(r->dp) + queued,
				free_slots = (PREFETCH + 1) * r->cfg.in_flight - held;

	if (r->cfg.sink == SINK_STDOUT)
		return (int) r->cfg.batch;
	if (queued >= PREFETCH / 2 * r->cfg.in_flight)
		return 0;
	return (int) (free_slots < r->cfg.batch ? free_slots : r->cfg.batch);
}

/* Connect when the backoff allows; then LISTEN has run and a drain is due. */
static void
maybe_connect(relay *r, int64_t now)
{
	double		jitter;

	if (now < r->next_connect)
		return;
	if (db_connect(r->db, &r->cfg))
	{
		log_info("msg=\"connected; listening on channel waitlist\" consumer=%s", r->cfg.consumer);
		r->backoff = BACKOFF_FIRST;
		r->want_drain = true;
		r->next_poll = now;
		r->next_renew = now;
		return;
	}
	jitter = 0.8 + 0.4 * ((double) random() / RAND_MAX);
	r->next_connect = now + ms(r->backoff * jitter);
	log_info("msg=\"will retry the connection\" in_seconds=%.1f", r->backoff * jitter);
	r->backoff = fmin(r->backoff * 2, BACKOFF_MAX);
}

/* Whether d is still to be recorded with verdict v. */
static bool
awaits(const delivery *d, verdict v)
{
	return d->verdict == v && !d->recorded;
}

/* Count what an ack or release recorded; warn about leases lost. */
static void
count_recorded(verdict v, int n, int counted)
{
	if (v == VERDICT_DELIVERED)
		stats.delivered += n;
	else
		stats.released += n;
	if (counted < n)
	{
		stats.lease_lost += n - counted;
		log_warn("msg=\"some messages were no longer leased to this relay when recorded\" "
				 "outcome=%s sent=%d counted=%d", verdict_name(v), n, counted);
	}
}

/* The ids of the deliveries in list still to be recorded with verdict v. */
static int
ids_awaiting(delivery *list, verdict v, long long **ids)
{
	int			n = 0;

	for (delivery *d = list; d != NULL; d = d->next)
		n += awaits(d, v);
	*ids = n > 0 ? xcalloc(n, sizeof(long long)) : NULL;
	n = 0;
	for (delivery *d = list; d != NULL; d = d->next)
		if (awaits(d, v))
			(*ids)[n++] = d->msg.id;
	return n;
}

/* Release every released message in one call. */
static void
record_releases(relay *r, delivery *list)
{
	long long  *ids;
	int			n = ids_awaiting(list, VERDICT_RELEASE, &ids),
				counted = 0;

	if (n > 0 && db_release(r->db, r->cfg.consumer, ids, n, &counted))
	{
		for (delivery *d = list; d != NULL; d = d->next)
			d->recorded |= d->verdict == VERDICT_RELEASE;
		count_recorded(VERDICT_RELEASE, n, counted);
	}
	free(ids);
}

/*
 * Send one ack for every delivered message of *list, moving them to
 * r->acking until its result comes back (take_db_result).  Nothing is sent
 * while another statement is in flight; they wait for the next one.
 */
static void
send_acks(relay *r, delivery **list)
{
	long long  *ids;
	int			n;

	if (db_busy(r->db))
		return;
	n = ids_awaiting(*list, VERDICT_DELIVERED, &ids);
	if (n > 0 && db_send_ack(r->db, r->cfg.consumer, ids, n))
	{
		delivery  **pp = list;

		while (*pp != NULL)
		{
			delivery   *d = *pp;

			if (!awaits(d, VERDICT_DELIVERED))
			{
				pp = &d->next;
				continue;
			}
			*pp = d->next;
			d->next = r->acking;
			r->acking = d;
		}
	}
	free(ids);
}

/* The ack's result: free what it recorded, or hand it back to try again. */
static void
acked(relay *r, const db_result *res)
{
	delivery   *list = r->acking;

	r->acking = NULL;
	if (!res->ok)
	{
		dispatch_return_finished(r->dp, list);
		return;
	}
	count_recorded(VERDICT_DELIVERED, res->n, res->counted);
	while (list != NULL)
	{
		delivery   *next = list->next;

		delivery_free(list);
		list = next;
	}
}

/* The lease went to someone else: nothing left for this relay to record. */
static bool
lease_was_lost(relay *r, delivery *d)
{
	if (!db_failed_with(r->db, SQLSTATE_NOT_LEASE_HOLDER))
		return false;
	stats.lease_lost++;
	log_warn("msg=\"lease lost before the outcome was recorded; the message is another consumer's now\" "
			 "id=%lld outcome=%s", d->msg.id, verdict_name(d->verdict));
	return true;
}

/* Record one failed delivery: nack (retry) or dead_letter. */
static void
record_failure(relay *r, delivery *d)
{
	char		state[16] = "";
	const char *err = d->error ? d->error : "delivery failed";

	if (d->verdict == VERDICT_DEAD)
	{
		d->recorded = db_dead_letter(r->db, r->cfg.consumer, d->msg.id, err);
		stats.dead += d->recorded;
		d->recorded = d->recorded || lease_was_lost(r, d);
		return;
	}
	d->recorded = db_nack(r->db, r->cfg.consumer, d->msg.id, err, d->retry_after,
						  state, sizeof(state));
	if (!d->recorded)
		d->recorded = lease_was_lost(r, d);
	else if (strcmp(state, "dead") == 0)
	{
		stats.dead++;
		log_warn("msg=\"attempts exhausted; message is dead\" id=%lld kind=%s channel=%s",
				 d->msg.id, d->msg.kind, d->msg.channel);
	}
	else
		stats.retried++;
}

/*
 * Whether the delivered messages in list are acked now or a little later.
 * Each ack is a statement and a commit (asynchronous: see db_ack), so
 * acking every delivery as it finishes spent the relay's loop on the
 * database instead of the sink.  While more deliveries are under way an ack waits up to
 * ACK_WAIT_MS (10 ms) for others to join it, or until as many as --in-flight have
 * finished.  Nothing is lost by waiting: a delivered message that is not
 * acked yet is leased to this relay like one in flight.  *due is when the
 * deferred ack must run.
 */
static bool
ack_now(relay *r, delivery *list, int64_t now, int64_t *due)
{
	int			n = 0;
	int64_t		oldest = NEVER;

	for (delivery *d = list; d != NULL; d = d->next)
		if (awaits(d, VERDICT_DELIVERED))
		{
			n++;
			if (d->started_ms + d->duration_ms < oldest)
				oldest = d->started_ms + d->duration_ms;
		}
	*due = NEVER;
	if (n == 0 || r->stopping || n >= r->cfg.in_flight ||
		dispatch_active(r->dp) + dispatch_queued(r->dp) == 0 || now >= oldest + ACK_WAIT_MS)
		return true;
	*due = oldest + ACK_WAIT_MS;
	return false;
}

/* Record every finished delivery; keep those that could not be recorded, or wait to be acked. */
static void
record_finished(relay *r, int64_t now)
{
	delivery   *list = dispatch_take_finished(r->dp);

	r->next_ack = NEVER;
	if (list == NULL)
		return;
	if (ack_now(r, list, now, &r->next_ack))
		send_acks(r, &list);
	record_releases(r, list);
	for (delivery *d = list; d != NULL && db_connected(r->db); d = d->next)
		if (!d->recorded && (d->verdict == VERDICT_RETRY || d->verdict == VERDICT_DEAD))
			record_failure(r, d);
	while (list != NULL)
	{
		delivery   *next = list->next;

		list->next = NULL;
		if (list->recorded && list->verdict != VERDICT_DELIVERED)
			r->want_drain = true;	/* it is due again: learn when */
		if (list->recorded)
			delivery_free(list);
		else
			dispatch_return_finished(r->dp, list);
		list = next;
	}
}

/* Learn when the next message is due; also samples the lag gauge. */
static void
schedule_claim(relay *r, int64_t now)
{
	double		secs = 0;
	bool		none = true;

	if (!db_next_due(r->db, &r->cfg, &secs, &none))
	{
		r->next_claim = now + RECHECK_MS * 5;
		return;
	}
	stats.lag_seconds = (!none && secs < 0) ? -secs : 0;
	if (none)
		r->next_claim = NEVER;
	else if (secs <= 0)
		r->next_claim = now + RECHECK_MS;	/* due, but locked by another claimer */
	else
		r->next_claim = now + ms(secs) + 5;
}

/*
 * How long a claim sent now may wait in the database for a message
 * (waitlist.claim_wait), in seconds; 0 for a plain claim.  Only while the
 * relay holds nothing (no delivery queued, running or unrecorded, no ack in
 * flight): a waiting claim keeps the connection, so acks, nacks and lease
 * renewals would wait behind it.  It ends before the next poll (tick) and
 * lease renewal are due, and SIGTERM cancels it.
 */
static double
claim_wait_for(const relay *r, int64_t now)
{
	int64_t		until = now + ms(r->cfg.claim_wait);

	if (r->cfg.claim_wait <= 0 || r->stopping || !db_can_wait(r->db) || now < r->no_park_until ||
		dispatch_active(r->dp) + dispatch_queued(r->dp) + dispatch_unrecorded(r->dp) > 0 ||
		r->acking != NULL)
		return 0;
	if (r->next_poll < until)
		until = r->next_poll;
	if (r->next_renew < until)
		until = r->next_renew;
	return until - now >= 20 ? (until - now) / 1000.0 : 0;
}

/* Send a claim for what fits; its messages start when it returns (claimed). */
static void
drain(relay *r, int64_t now)
{
	int			want = room(r);
	double		wait;

	if (want <= 0 || db_busy(r->db))
		return;					/* want_drain stays set until a slot frees */
	wait = claim_wait_for(r, now);
	if (!db_send_claim(r->db, &r->cfg, want, wait))
	{
		r->next_claim = now + RECHECK_MS * 5;
		r->no_park_until = r->next_claim;	/* nor a waiting claim (sleep_ms) */
		r->want_drain = false;
		return;
	}
	r->claiming = want;
	r->waiting_claim = wait > 0;
	r->wait_ends = now + ms(wait);
	r->want_drain = false;
	if (r->waiting_claim)
	{
		log_debug("msg=\"claim waits in the database\" seconds=%.3f", wait);
		r->want_schedule = false;	/* the waiting claim watches the due times itself */
	}
}

/* The claim's result: start delivering what it took. */
static void
claimed(relay *r, db_result *res, int64_t now)
{
	int			want = r->claiming;
	bool		was_waiting = r->waiting_claim,
				waited_out = was_waiting && now >= r->wait_ends - 5;

	r->claiming = 0;
	r->waiting_claim = false;
	if (!res->ok)
	{
		r->next_claim = now + RECHECK_MS * 5;
		r->no_park_until = r->next_claim;	/* nor a waiting claim (sleep_ms) */
		return;
	}
	if (res->n > 0)
		log_debug("msg=\"claimed\" count=%d", res->n);
	stats.claimed += res->n;
	if (was_waiting)
		stats.claimed_waiting += res->n;
	for (int i = 0; i < res->n; i++)
		dispatch_enqueue(r->dp, &res->msgs[i]);
	free(res->msgs);
	if (r->stopping)
	{
		dispatch_release_queued(r->dp);	/* claimed while stopping: hand back */
		return;
	}
	dispatch_fill(r->dp, &r->cfg);
	/*
	 * A waiting claim that ran out its wait found nothing due all along:
	 * wait again.  One that came back early and empty met a message due
	 * that another claimer holds: next_due says so, and the claim is tried
	 * again RECHECK_MS later, as after any short claim.
	 */
	r->want_drain = (res->n == want) || (waited_out && res->n == 0);
	r->want_schedule = !r->want_drain;
	if (was_waiting && !waited_out && res->n == 0)
		r->no_park_until = now + RECHECK_MS;
	if (r->want_schedule)
	{
		r->next_claim = NEVER;	/* until next_due says */
		r->schedule_by = now + SCHEDULE_WAIT_MS;
	}
}

/*
 * After a short claim, learn when the next message is due.  That waits for
 * a round trip, so it waits until the deliveries under way are over (or
 * SCHEDULE_WAIT_MS): asked at once, before the claimed requests had gone
 * out, it delayed every restock's webhook by that round trip.
 */
static void
schedule_after_claim(relay *r, int64_t now)
{
	if (!r->want_schedule || !db_connected(r->db) || db_busy(r->db))
		return;
	if (dispatch_active(r->dp) > 0 && now < r->schedule_by)
		return;
	r->want_schedule = false;
	schedule_claim(r, now);
}

/* Take the result of the claim or ack in flight, if it is there (or, with wait, once it is). */
static void
take_db_result(relay *r, bool wait)
{
	db_result	res;

	if (!db_take_result(r->db, wait, &res))
		return;
	if (res.kind == DB_ASYNC_CLAIM)
		claimed(r, &res, now_ms());
	else
		acked(r, &res);
}

/* Extend the lease on every message still held. */
static void
renew_leases(relay *r, int64_t now)
{
	long long  *ids;
	int			n,
				held = 0;

	take_db_result(r, true);	/* what an ack in flight recorded is no longer held */
	n = dispatch_held_ids(r->dp, &ids);
	r->next_renew = now + ms(r->cfg.lease / 3);
	if (n > 0 && db_extend_lease(r->db, r->cfg.consumer, ids, n, r->cfg.lease, &held))
	{
		log_debug("msg=\"leases renewed\" count=%d held=%d", n, held);
		if (held < n)			/* counted in lease_lost when recorded */
			log_warn("msg=\"leases lost: another consumer may deliver these too\" count=%d", n - held);
	}
	free(ids);
}

/* Periodic work: tick, refresh the next due time, and drain. */
static void
poll_due(relay *r, int64_t now)
{
	r->next_poll = now + ms(r->cfg.poll_interval);
	if (!r->stopping)
		db_tick(r->db);
	r->want_drain = true;
	schedule_claim(r, now);
}

/*
 * Everything the loop does while connected.  Claims and acks go out
 * without waiting (one at a time); the loop comes back here when the
 * socket has their result.  A claim goes first when the queue runs low,
 * else the ack.
 */
static void
connected_work(relay *r, int64_t now)
{
	if (db_take_notifications(r->db))
	{
		log_debug("msg=\"notified\"");
		r->want_drain = true;
	}
	if (!r->stopping && dispatch_queued(r->dp) < r->cfg.in_flight &&
		(r->want_drain || now >= r->next_claim || claim_wait_for(r, now) > 0))
		drain(r, now);
	record_finished(r, now);
	if (db_connected(r->db) && now >= r->next_poll)
		poll_due(r, now);
	if (db_connected(r->db) && now >= r->next_renew)
		renew_leases(r, now);
	if (db_connected(r->db) && !r->stopping &&
		(r->want_drain || now >= r->next_claim || claim_wait_for(r, now_ms()) > 0))
		drain(r, now_ms());
	record_finished(r, now_ms());	/* what a synchronous sink just delivered */

	/*
	 * A NOTIFY that came in while one of the statements above ran has been
	 * read off the socket by libpq already, so the socket will not wake the
	 * sleep for it: look now, or it would wait for the next poll.
	 */
	if (db_take_notifications(r->db))
	{
		log_debug("msg=\"notified\"");
		r->want_drain = true;
	}
	take_db_result(r, false);	/* one a statement above waited for */
	if (db_take_notifications(r->db))	/* read off the socket with that result */
	{
		log_debug("msg=\"notified\"");
		r->want_drain = true;
	}
}

/* Reload --config on SIGHUP; a bad file keeps the running settings. */
static void
reload(relay *r)
{
	relay_config fresh;
	bool		reconnect;

	log_info("msg=\"reloading configuration\"");
	if (config_load(&fresh, r->argc, r->argv) != CONFIG_OK)
	{
		log_error("msg=\"configuration not reloaded; keeping the running settings\"");
		config_free(&fresh);
		return;
	}
	free(fresh.consumer);		/* leases are held under the running name */
	fresh.consumer = xstrdup(r->cfg.consumer);
	reconnect = !config_same_claim(&fresh, &r->cfg);
	if ((fresh.metrics == NULL) != (r->cfg.metrics == NULL) ||
		(fresh.metrics && strcmp(fresh.metrics, r->cfg.metrics) != 0))
	{
		metrics_close();
		if (fresh.metrics)
			metrics_listen(fresh.metrics);
	}
	config_free(&r->cfg);
	r->cfg = fresh;
	if (reconnect)
		db_disconnect(r->db);
	r->want_drain = true;
}

/* React to signals noted by the handler. */
static void
handle_signals(relay *r, int64_t now)
{
	drain_sig_pipe();
	if (got_hup)
	{
		got_hup = 0;
		reload(r);
	}
	if (got_term > 1 && r->stopping)
		r->stop_deadline = now;	/* asked twice: release at once */
	if (sink_broken && !r->stopping)
	{
		log_error("msg=\"the sink cannot deliver any more; stopping\"");
		r->exit_code = 1;
		got_term = 1;
	}
	if (got_term > 0 && !r->stopping)
	{
		r->stopping = true;
		r->stop_deadline = now + ms(r->cfg.grace);
		dispatch_release_queued(r->dp);
		if (r->waiting_claim)
			db_cancel(r->db);	/* it would hold the exit for up to --claim-wait */
		log_info("msg=\"stopping: no more claims; finishing in-flight deliveries\" in_flight=%d grace_seconds=%.1f",
				 dispatch_active(r->dp), r->cfg.grace);
	}
}

/*
 * Milliseconds to sleep before something is due.  While the database is
 * away only the next connection attempt, deliveries and stopping count: the
 * poll, claim, renewal and ack times are about the database and stay in the
 * past until it is back (counting them made the relay spin while it waited
 * to reconnect).
 */
static int
sleep_ms(const relay *r, int64_t now)
{
	bool		connected = db_connected(r->db);
	int64_t		wake = connected ? r->next_poll : r->next_connect;
	int64_t		deadline = dispatch_next_deadline(r->dp);

	bool		idle = connected && !db_busy(r->db);	/* else its result wakes us */

	if (!r->stopping && ((r->want_drain && room(r) > 0 && idle) || sink_broken))
		return 0;

	/*
	 * Free to park a waiting claim (say, the ack that emptied the relay
	 * came back at the end of a round): park it now.  Sleeping instead
	 * would wait for the next poll, deaf to NOTIFYs until then.
	 */
	if (idle && !r->stopping && room(r) > 0 && claim_wait_for(r, now) > 0)
		return 0;
	if (idle && !r->stopping && r->next_claim < wake)
		wake = r->next_claim;
	if (idle && !r->stopping && r->cfg.claim_wait > 0 && r->no_park_until > now &&
		r->no_park_until < wake)
		wake = r->no_park_until;	/* a waiting claim may be parked from then on */
	if (connected && r->next_renew < wake)
		wake = r->next_renew;
	if (idle && r->next_ack < wake)
		wake = r->next_ack;
	if (idle && r->want_schedule && r->schedule_by < wake)
		wake = r->schedule_by;
	if (deadline < wake)
		wake = deadline;
	if (r->stopping && r->stop_deadline < wake)
		wake = r->stop_deadline;
	if (wake - now > ms(r->cfg.poll_interval))
		wake = now + ms(r->cfg.poll_interval);
	return wake <= now ? 0 : (int) (wake - now);
}

/* Sleep on the signal pipe, the database socket, metrics and transfers. */
static void
wait_for_work(relay *r, int64_t now)
{
	struct curl_waitfd fds[16];
	int			n = 0;

	fds[n].fd = sig_pipe[0];
	fds[n].events = CURL_WAIT_POLLIN;
	fds[n++].revents = 0;
	if (db_connected(r->db))
	{
		fds[n].fd = db_socket(r->db);
		fds[n].events = CURL_WAIT_POLLIN;
		fds[n++].revents = 0;
	}
	n += metrics_fds(fds + n, 16 - n);
	log_flush();
	dispatch_wait(r->dp, fds, n, sleep_ms(r, now));
}

/* While stopping: release what overran the grace period; true when done. */
static bool
stop_done(relay *r, int64_t now)
{
	int			n = dispatch_unrecorded(r->dp);

	if (!r->stopping)
		return false;
	if (now >= r->stop_deadline && dispatch_active(r->dp) > 0)
	{
		log_warn("msg=\"grace period over; releasing in-flight deliveries\" count=%d",
				 dispatch_active(r->dp));
		dispatch_abort_all(r->dp);
		return false;			/* record the releases first */
	}
	if (dispatch_active(r->dp) > 0 || r->claiming > 0 || r->acking != NULL)
		return false;			/* (a claim's messages are released when it returns) */
	if (n > 0 && now < r->stop_deadline + ms(r->cfg.grace))
		return false;			/* still trying to record them */
	if (n > 0)
		log_warn("msg=\"exiting with outcomes not recorded; their leases will expire and they will be delivered again\" count=%d", n);
	return true;
}

/* Set up, run the loop until stopped, clean up. */
static int
run(relay *r)
{
	for (;;)
	{
		int64_t		now = now_ms();

		handle_signals(r, now);
		take_db_result(r, false);
		if (!db_connected(r->db))
			maybe_connect(r, now);
		if (db_connected(r->db))
			connected_work(r, now);
		stats.db_connected = db_connected(r->db);
		stats.in_flight = dispatch_active(r->dp);
		if (stop_done(r, now))
			break;
		wait_for_work(r, now);
		dispatch_progress(r->dp, &r->cfg);
		dispatch_fill(r->dp, &r->cfg);
		schedule_after_claim(r, now_ms());
		metrics_serve();
	}
	log_info("msg=\"stopped\" claimed=%llu claimed_waiting=%llu delivered=%llu retried=%llu dead=%llu released=%llu",
			 stats.claimed, stats.claimed_waiting, stats.delivered, stats.retried, stats.dead, stats.released);
	return r->exit_code;
}

/* Entry point: parse settings, then run the loop. */
int
relay_main(int argc, char **argv)
{
	relay		r;
	int			rc;

	memset(&r, 0, sizeof(r));
	switch (config_load(&r.cfg, argc, argv))
	{
		case CONFIG_EXIT:
			return 0;
		case CONFIG_ERROR:
			return 2;
		case CONFIG_OK:
			break;
	}
	if (!setup_signals() || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
		(r.cfg.metrics && !metrics_listen(r.cfg.metrics)))
		return 1;
	srandom((unsigned) (getpid() ^ now_ms()));
	r.argc = argc;
	r.argv = argv;
	r.db = db_new();
	r.dp = dispatch_new();
	r.backoff = BACKOFF_FIRST;
	r.next_claim = NEVER;
	r.next_ack = NEVER;
	log_info("msg=\"starting\" consumer=%s sink=%s in_flight=%ld lease_seconds=%.1f",
			 r.cfg.consumer, r.cfg.sink == SINK_STDOUT ? "stdout" : r.cfg.sink == SINK_EXEC ? "exec" : "webhook",
			 r.cfg.in_flight, r.cfg.lease);
	rc = run(&r);
	dispatch_free(r.dp);
	db_free(r.db);
	metrics_close();
	config_free(&r.cfg);
	curl_global_cleanup();
	return rc;
}
