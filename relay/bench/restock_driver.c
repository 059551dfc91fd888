/*
 * restock_driver.c: commit N restocks one at a time and time how long each
 * takes to reach a listener.  Restock i is
 *
 *   BEGIN; SELECT waitlist.restock('<prefix><i>', 1); COMMIT;
 *
 * with CLOCK_MONOTONIC read just before COMMIT is sent and just after it
 * returns.  Then it waits (at most 10 s) for the restock's line on stdin,
 * which the listener under test writes when the restock reaches it:
 *
 *   <CLOCK_MONOTONIC ns of arrival> <sku>
 *
 * (relay/bench/hook_receiver or receiver.js --log behind waitlist-relay).
 * The first line naming the restock's SKU is its arrival; lines naming an
 * earlier restock's SKU (its other messages) are skipped; any other line is
 * an error.
 *
 * With FLOOR_FD, the same restocks are also timed to a bare LISTEN client
 * (listen_floor) whose lines come in on that descriptor:
 *
 *   <ns> notify <pid of the notifying backend>
 *
 * The restock's arrival there is the next notification from this driver's
 * own backend, which sends exactly one per restock; the rest (the relay's
 * claims notify too) are skipped.  listen_floor reads its clock once per
 * wake-up, before it reads what arrived, so a notification that came in
 * with another's may carry a time before COMMIT was sent: that sample is
 * kept as it is (it only flatters the floor).  Both listeners then see the same
 * restocks on the same machine at the same moment.
 *
 * Prints one JSON object: p50, p99, mean, min and max in microseconds from
 * the commit's return ("commit_*") and from the moment COMMIT was sent
 * ("sent_*"), the same for the floor ("floor_commit_*", "floor_sent_*")
 * with FLOOR_FD, and the count.
 *
 *   restock_driver N PREFIX [FLOOR_FD]   (connects with the PG* environment)
 */
#include <libpq-fe.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mono_clock.h"

static void
must(PGconn *conn, const char *sql, ExecStatusType want)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != want)
	{
		fprintf(stderr, "restock_driver: %s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);
}

/* A line-oriented input: a descriptor and what was read past its last line. */
typedef struct
{
	int			fd;
	char		pending[65536];
	size_t		have;
} input;

/* Read one line within timeout_ms; false on timeout or EOF. */
static bool
read_line(input *in, char *buf, size_t len, int timeout_ms)
{
	int64_t		deadline = mono_ns() + (int64_t) timeout_ms * 1000000;

	for (;;)
	{
		char	   *nl = memchr(in->pending, '\n', in->have);
		struct pollfd pfd = {in->fd, POLLIN, 0};
		int64_t		left;
		ssize_t		got;

		if (nl != NULL)
		{
			size_t		n = nl - in->pending;

			snprintf(buf, len, "%.*s", (int) n, in->pending);
			memmove(in->pending, nl + 1, in->have - n - 1);
			in->have -= n + 1;
			return true;
		}
		left = (deadline - mono_ns()) / 1000000;
		if (left <= 0 || poll(&pfd, 1, (int) left) <= 0)
			return false;
		got = read(in->fd, in->pending + in->have, sizeof(in->pending) - in->have);
		if (got <= 0)
			return false;
		in->have += got;
	}
}

static int
cmp64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a,
				y = *(const int64_t *) b;

	return x < y ? -1 : x > y;
}

/* Print the summary of n latencies (ns) as JSON members named prefix_*. */
static void
summary(const char *prefix, int64_t *v, int n)
{
	double		sum = 0;

	qsort(v, n, sizeof(int64_t), cmp64);
	for (int i = 0; i < n; i++)
		sum += v[i];
	printf("\"%s_p50_us\": %.1f, \"%s_p99_us\": %.1f, \"%s_mean_us\": %.1f, "
		   "\"%s_min_us\": %.1f, \"%s_max_us\": %.1f",
		   prefix, v[(n - 1) / 2] / 1e3, prefix, v[(int) ((n - 1) * 0.99)] / 1e3,
		   prefix, sum / n / 1e3, prefix, v[0] / 1e3, prefix, v[n - 1] / 1e3);
}

/*
 * True if an arrival line names one of the first "before" restocks (SKU
 * <prefix>1 .. <prefix>before): a restock's second message, which may come
 * in after its first one was counted.
 */
static bool
restocked_earlier(const char *line, const char *prefix, int before)
{
	const char *sku = strchr(line, ' ');
	char	   *end;
	long		k;

	if (sku == NULL || strncmp(sku + 1, prefix, strlen(prefix)) != 0)
		return false;
	k = strtol(sku + 1 + strlen(prefix), &end, 10);
	return *end == '\0' && k >= 1 && k < before;
}

/*
 * The floor's arrival of this restock: the next notification from pid that
 * listen_floor saw (ns); -1 if none came within 10 s.
 */
static int64_t
floor_arrival(input *in, int pid)
{
	char		line[256];

	while (read_line(in, line, sizeof(line), 10000))
	{
		long long	at;
		int			from;

		if (sscanf(line, "%lld notify %d", &at, &from) == 2 && from == pid)
			return at;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	int			n,
				pid;
	const char *prefix;
	int64_t    *from_commit,
			   *from_sent,
			   *floor_commit,
			   *floor_sent;
	char		line[256];
	static input arrivals = {0},
				floor;
	bool		paired = argc == 4;

	if ((argc != 3 && argc != 4) || (n = atoi(argv[1])) <= 0)
	{
		fprintf(stderr, "usage: restock_driver N PREFIX [FLOOR_FD]\n");
		return 2;
	}
	prefix = argv[2];
	if (paired)
		floor.fd = atoi(argv[3]);
	from_commit = calloc(n, sizeof(int64_t));
	from_sent = calloc(n, sizeof(int64_t));
	floor_commit = calloc(n, sizeof(int64_t));
	floor_sent = calloc(n, sizeof(int64_t));
	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "restock_driver: %s", PQerrorMessage(conn));
		return 1;
	}
	pid = PQbackendPID(conn);
	for (int i = 0; i < n; i++)
	{
		char		sql[256],
					want[128];
		int64_t		sent,
					done,
					arrived;

		snprintf(want, sizeof(want), "%s%d", prefix, i + 1);
		snprintf(sql, sizeof(sql), "SELECT waitlist.restock('%s', 1)", want);
		must(conn, "BEGIN", PGRES_COMMAND_OK);
		must(conn, sql, PGRES_TUPLES_OK);
		sent = mono_ns();
		must(conn, "COMMIT", PGRES_COMMAND_OK);
		done = mono_ns();
		do
		{
			/* the other messages of earlier restocks may still come in first */
			if (!read_line(&arrivals, line, sizeof(line), 10000))
			{
				fprintf(stderr, "restock_driver: restock %d (%s) never arrived\n", i + 1, want);
				return 1;
			}
		} while (restocked_earlier(line, prefix, i + 1));
		arrived = strtoll(line, NULL, 10);
		if (strchr(line, ' ') == NULL || strcmp(strchr(line, ' ') + 1, want) != 0)
		{
			fprintf(stderr, "restock_driver: restock %d: expected %s, the listener saw \"%s\"\n",
					i + 1, want, line);
			return 1;
		}
		from_commit[i] = arrived - done;
		from_sent[i] = arrived - sent;
		if (paired)
		{
			int64_t		at = floor_arrival(&floor, pid);

			if (at < 0)
			{
				fprintf(stderr, "restock_driver: restock %d (%s): no NOTIFY reached listen_floor\n",
						i + 1, want);
				return 1;
			}
			floor_commit[i] = at - done;
			floor_sent[i] = at - sent;
		}
	}
	/* Afterwards only the other messages of these restocks may arrive. */
	while (read_line(&arrivals, line, sizeof(line), 300))
	{
		if (!restocked_earlier(line, prefix, n + 1))
		{
			fprintf(stderr, "restock_driver: an extra arrival after the last restock: \"%s\"\n", line);
			return 1;
		}
	}
	printf("{\"count\": %d, ", n);
	summary("commit", from_commit, n);
	printf(", ");
	summary("sent", from_sent, n);
	if (paired)
	{
		printf(", ");
		summary("floor_commit", floor_commit, n);
		printf(", ");
		summary("floor_sent", floor_sent, n);
	}
	printf("}\n");
	PQfinish(conn);
	return 0;
}
