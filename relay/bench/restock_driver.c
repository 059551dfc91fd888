/*
 * restock_driver.c: commit N restocks one at a time and time how long each
 * takes to reach a listener.  Restock i is
 *
 *   BEGIN; SELECT waitlist.restock('<prefix><i>', 1); COMMIT;
 *
 * with CLOCK_MONOTONIC read just before COMMIT is sent and just after it
 * returns.  Then it waits (at most 10 s) for the next line on stdin, which
 * the listener under test writes when the restock reaches it:
 *
 *   <CLOCK_MONOTONIC ns of arrival> <sku, or "notify">
 *
 * (relay/bench/receiver.js --log behind waitlist-relay, or listen_floor).
 * A line naming another SKU is an error.  Prints one JSON object: p50, p99,
 * mean, min and max in microseconds from the commit's return ("commit_*")
 * and from the moment COMMIT was sent ("sent_*"), and the count.
 *
 *   restock_driver N PREFIX      (connects with the PG* environment)
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

/* Read one line from stdin within timeout_ms; false on timeout or EOF. */
static bool
read_line(char *buf, size_t len, int timeout_ms)
{
	static char pending[65536];
	static size_t have = 0;
	int64_t		deadline = mono_ns() + (int64_t) timeout_ms * 1000000;

	for (;;)
	{
		char	   *nl = memchr(pending, '\n', have);
		struct pollfd pfd = {0, POLLIN, 0};
		int64_t		left;
		ssize_t		got;

		if (nl != NULL)
		{
			size_t		n = nl - pending;

			snprintf(buf, len, "%.*s", (int) n, pending);
			memmove(pending, nl + 1, have - n - 1);
			have -= n + 1;
			return true;
		}
		left = (deadline - mono_ns()) / 1000000;
		if (left <= 0 || poll(&pfd, 1, (int) left) <= 0)
			return false;
		got = read(0, pending + have, sizeof(pending) - have);
		if (got <= 0)
			return false;
		have += got;
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

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	int			n;
	const char *prefix;
	int64_t    *from_commit,
			   *from_sent;
	char		line[256];

	if (argc != 3 || (n = atoi(argv[1])) <= 0)
	{
		fprintf(stderr, "usage: restock_driver N PREFIX\n");
		return 2;
	}
	prefix = argv[2];
	from_commit = calloc(n, sizeof(int64_t));
	from_sent = calloc(n, sizeof(int64_t));
	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "restock_driver: %s", PQerrorMessage(conn));
		return 1;
	}
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
		if (!read_line(line, sizeof(line), 10000))
		{
			fprintf(stderr, "restock_driver: restock %d (%s) never arrived\n", i + 1, want);
			return 1;
		}
		arrived = strtoll(line, NULL, 10);
		if (strchr(line, ' ') == NULL ||
			(strcmp(strchr(line, ' ') + 1, "notify") != 0 && strcmp(strchr(line, ' ') + 1, want) != 0))
		{
			fprintf(stderr, "restock_driver: restock %d: expected %s, the listener saw \"%s\"\n",
					i + 1, want, line);
			return 1;
		}
		from_commit[i] = arrived - done;
		from_sent[i] = arrived - sent;
	}
	/* Nothing more may arrive: exactly one message per restock. */
	if (read_line(line, sizeof(line), 300))
	{
		fprintf(stderr, "restock_driver: an extra arrival after the last restock: \"%s\"\n", line);
		return 1;
	}
	printf("{\"count\": %d, ", n);
	summary("commit", from_commit, n);
	printf(", ");
	summary("sent", from_sent, n);
	printf("}\n");
	PQfinish(conn);
	return 0;
}
