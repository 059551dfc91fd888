/*
 * listen.c: a plain LISTEN client for test/clock.sh.
 *
 *   listen TIMEOUT_MS SQL
 *
 * Connects (PG* environment), LISTENs on channel waitlist, then runs SQL on
 * a second connection (a sign-up: it sends no NOTIFY of its own) and waits
 * for one notification on the first.  Prints the milliseconds from the end
 * of SQL to the notification and its payload; exits 1 when none came within
 * TIMEOUT_MS.  It does nothing else: no claim, no tick.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/time.h>

#include <libpq-fe.h>

static double
now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0;
}

static PGconn *
connect_or_die(void)
{
	PGconn	   *c = PQconnectdb("");

	if (PQstatus(c) != CONNECTION_OK)
	{
		fprintf(stderr, "listen: %s", PQerrorMessage(c));
		exit(2);
	}
	return c;
}

static void
run_or_die(PGconn *c, const char *sql)
{
	PGresult   *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "listen: %s", PQerrorMessage(c));
		exit(2);
	}
	PQclear(r);
}

int
main(int argc, char **argv)
{
	PGconn	   *listener;
	PGconn	   *other;
	double		start;
	double		deadline;

	if (argc != 3)
	{
		fprintf(stderr, "usage: listen TIMEOUT_MS SQL\n");
		return 2;
	}
	listener = connect_or_die();
	other = connect_or_die();
	run_or_die(listener, "LISTEN waitlist");
	run_or_die(other, argv[2]);
	start = now_ms();
	deadline = start + atof(argv[1]);
	while (now_ms() < deadline)
	{
		int			sock = PQsocket(listener);
		fd_set		fds;
		struct timeval tv = {0, 20000};
		PGnotify   *n;

		FD_ZERO(&fds);
		FD_SET(sock, &fds);
		if (select(sock + 1, &fds, NULL, NULL, &tv) < 0)
			return 2;
		PQconsumeInput(listener);
		if ((n = PQnotifies(listener)) != NULL)
		{
			printf("%.0f %s\n", now_ms() - start, n->extra);
			return 0;
		}
	}
	printf("timeout\n");
	return 1;
}
