/*
 * metrics.c: counters, and a minimal HTTP/1.0 responder for GET /metrics
 * bound to 127.0.0.1 unless told otherwise.  Every socket is non-blocking;
 * a client that does not send its request within a few seconds is dropped.
 */
#include "metrics.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 8
#define REQUEST_MAX 2048
#define CLIENT_TIMEOUT_MS 5000

relay_stats stats;

typedef struct client
{
	int			fd;				/* -1 = free slot */
	int64_t		since;
	size_t		len;
	char		buf[REQUEST_MAX + 1];
} client;

static int	listen_fd = -1;
static client clients[MAX_CLIENTS];

/* Split "[ADDR:]PORT" and fill addr; false if malformed. */
static bool
parse_spec(const char *spec, struct sockaddr_in *addr)
{
	const char *colon = strrchr(spec, ':');
	char		host[64] = "127.0.0.1";
	long		port;

	if (colon != NULL && (size_t) (colon - spec) < sizeof(host))
	{
		memcpy(host, spec, colon - spec);
		host[colon - spec] = '\0';
	}
	if (!parse_long(colon ? colon + 1 : spec, 1, 65535, &port))
		return false;
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_port = htons((uint16_t) port);
	return inet_pton(AF_INET, host, &addr->sin_addr) == 1;
}

/* Open the listening socket; false (logged) on failure. */
bool
metrics_listen(const char *spec)
{
	struct sockaddr_in addr;
	int			one = 1;

	if (!parse_spec(spec, &addr))
	{
		log_error("msg=\"invalid --metrics, expected [ADDR:]PORT with an IPv4 address\" value=%s", spec);
		return false;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 ||
		setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		bind(listen_fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
		listen(listen_fd, 16) < 0)
	{
		log_error("msg=\"cannot serve metrics on %s: %s\"", spec, strerror(errno));
		metrics_close();
		return false;
	}
	log_info("msg=\"serving metrics\" address=%s", spec);
	return true;
}

/* The descriptors to watch: the listener and every open client. */
int
metrics_fds(struct curl_waitfd *out, int max)
{
	int			n = 0;

	if (listen_fd < 0 || max < 1)
		return 0;
	out[n].fd = listen_fd;
	out[n].events = CURL_WAIT_POLLIN;
	out[n++].revents = 0;
	for (int i = 0; i < MAX_CLIENTS && n < max; i++)
	{
		if (clients[i].fd < 0)
			continue;
		out[n].fd = clients[i].fd;
		out[n].events = CURL_WAIT_POLLIN;
		out[n++].revents = 0;
	}
	return n;
}

/* The Prometheus text exposition of stats. */
static char *
render(void)
{
	return xasprintf(
					 "# HELP waitlist_relay_claimed_total Messages leased by this relay.\n"
					 "# TYPE waitlist_relay_claimed_total counter\n"
					 "waitlist_relay_claimed_total %llu\n"
					 "# HELP waitlist_relay_claimed_waiting_total Messages leased by a claim that waited for them in the database (claim_wait).\n"
					 "# TYPE waitlist_relay_claimed_waiting_total counter\n"
					 "waitlist_relay_claimed_waiting_total %llu\n"
					 "# HELP waitlist_relay_delivered_total Messages delivered and acknowledged.\n"
					 "# TYPE waitlist_relay_delivered_total counter\n"
					 "waitlist_relay_delivered_total %llu\n"
					 "# HELP waitlist_relay_retried_total Failed deliveries handed back for a later retry.\n"
					 "# TYPE waitlist_relay_retried_total counter\n"
					 "waitlist_relay_retried_total %llu\n"
					 "# HELP waitlist_relay_dead_total Messages dead-lettered (permanent failure or attempts exhausted).\n"
					 "# TYPE waitlist_relay_dead_total counter\n"
					 "waitlist_relay_dead_total %llu\n"
					 "# HELP waitlist_relay_released_total Messages handed back undelivered at shutdown.\n"
					 "# TYPE waitlist_relay_released_total counter\n"
					 "waitlist_relay_released_total %llu\n"
					 "# HELP waitlist_relay_lease_lost_total Outcomes not recorded because the lease had passed to another consumer.\n"
					 "# TYPE waitlist_relay_lease_lost_total counter\n"
					 "waitlist_relay_lease_lost_total %llu\n"
					 "# HELP waitlist_relay_in_flight Deliveries running now.\n"
					 "# TYPE waitlist_relay_in_flight gauge\n"
					 "waitlist_relay_in_flight %d\n"
					 "# HELP waitlist_relay_lag_seconds How overdue the oldest due message was at the last check.\n"
					 "# TYPE waitlist_relay_lag_seconds gauge\n"
					 "waitlist_relay_lag_seconds %.3f\n"
					 "# HELP waitlist_relay_db_connected Whether the relay holds a database connection.\n"
					 "# TYPE waitlist_relay_db_connected gauge\n"
					 "waitlist_relay_db_connected %d\n",
					 stats.claimed, stats.claimed_waiting, stats.delivered, stats.retried, stats.dead, stats.released,
					 stats.lease_lost, stats.in_flight, stats.lag_seconds, stats.db_connected ? 1 : 0);
}

/* Close a client's socket and free its slot. */
static void
drop(client *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Answer a complete request and close. */
static void
respond(client *c)
{
	bool		ok = strncmp(c->buf, "GET /metrics ", 13) == 0 ||
		strncmp(c->buf, "GET /metrics?", 13) == 0;
	char	   *body = ok ? render() : xstrdup("not found: try GET /metrics\n");
	char	   *resp = xasprintf("HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
								 "Connection: close\r\n\r\n%s",
								 ok ? "200 OK" : "404 Not Found",
								 ok ? "text/plain; version=0.0.4" : "text/plain",
								 strlen(body), body);

	if (send(c->fd, resp, strlen(resp), MSG_NOSIGNAL) < 0)
		log_debug("msg=\"metrics client went away\"");
	free(resp);
	free(body);
	drop(c);
}

/* Read what a client sent; answer once the request head is complete. */
static void
read_client(client *c, int64_t now)
{
	ssize_t		n = recv(c->fd, c->buf + c->len, REQUEST_MAX - c->len, 0);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
	{
		drop(c);
		return;
	}
	if (n > 0)
		c->len += n;
	c->buf[c->len] = '\0';
	if (strstr(c->buf, "\r\n\r\n") != NULL || strstr(c->buf, "\n\n") != NULL || c->len == REQUEST_MAX)
		respond(c);
	else if (now - c->since > CLIENT_TIMEOUT_MS)
		drop(c);
}

/* Accept waiting connections into free slots. */
static void
accept_clients(int64_t now)
{
	for (;;)
	{
		int			fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int			slot = -1;

		if (fd < 0)
			return;
		for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
			if (clients[i].fd < 0)
				slot = i;
		if (slot < 0)
		{
			close(fd);			/* busy: the scraper retries */
			continue;
		}
		clients[slot].fd = fd;
		clients[slot].since = now;
		clients[slot].len = 0;
	}
}

/* Accept and answer whatever is ready, without blocking. */
void
metrics_serve(void)
{
	int64_t		now = now_ms();

	if (listen_fd < 0)
		return;
	accept_clients(now);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			read_client(&clients[i], now);
}

/* Close the listener and every client. */
void
metrics_close(void)
{
	if (listen_fd < 0)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			drop(&clients[i]);
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
}
