/*
 * listen_floor.c: the physical floor of notification latency.  A bare libpq
 * client that runs LISTEN waitlist and prints, for every notification, the
 * CLOCK_MONOTONIC time (ns) at which select() saw it arrive and the PID of
 * the backend that sent it:
 *
 *   <ns> notify <pid>
 *
 * Prints "ready" once LISTEN has run.  Connects with the PG* environment.
 * Exits when stdin closes or after 10 minutes (a bounded loop).
 */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "mono_clock.h"

int
main(void)
{
	PGconn	   *conn = PQconnectdb("");
	PGresult   *res;
	int64_t		give_up = mono_ns() + (int64_t) 600 * 1000000000;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "listen_floor: %s", PQerrorMessage(conn));
		return 1;
	}
	res = PQexec(conn, "LISTEN waitlist");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "listen_floor: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);
	printf("ready\n");
	fflush(stdout);
	while (mono_ns() < give_up)
	{
		int			sock = PQsocket(conn);
		fd_set		in;
		struct timeval tv = {1, 0};
		int64_t		at;
		PGnotify   *n;

		FD_ZERO(&in);
		FD_SET(sock, &in);
		FD_SET(0, &in);
		if (select(sock + 1, &in, NULL, NULL, &tv) < 0)
			return 1;
		at = mono_ns();
		if (FD_ISSET(0, &in))
		{
			char		buf[256];

			if (read(0, buf, sizeof(buf)) <= 0)
				break;			/* stdin closed: we are done */
		}
		if (!FD_ISSET(sock, &in))
			continue;
		if (!PQconsumeInput(conn))
		{
			fprintf(stderr, "listen_floor: %s", PQerrorMessage(conn));
			return 1;
		}
		while ((n = PQnotifies(conn)) != NULL)
		{
			printf("%lld notify %d\n", (long long) at, n->be_pid);
			PQfreemem(n);
		}
		fflush(stdout);
	}
	PQfinish(conn);
	return 0;
}
