/*
 * hook_receiver.c: the webhook endpoint of the latency benchmark, in C so
 * that it notices a request as soon as listen_floor notices a NOTIFY.
 *
 * The two ends of the comparison are then alike: listen_floor (libpq, C)
 * reads its clock when poll() says the NOTIFY has arrived; this reads it
 * when poll() says a request's first bytes have arrived.  receiver.js, which
 * reads hrtime once Node has parsed the headers and run the handler, added
 * its own wake-up to every sample (see bench.py's row "node receiver").
 *
 *   hook_receiver        (127.0.0.1, a free port; exits when stdin closes)
 *
 * Prints its port as the first line of stdout, then one line per POST once
 * its body has arrived, the format restock_driver reads:
 *   <CLOCK_MONOTONIC ns when the request's first bytes arrived> <sku of the body>
 * Answers every POST 200 on a kept-alive connection.  GET /count answers
 * {"posts":N,"connections":N,"bad_signatures":0,"signed":N} (connections
 * that carried a POST); GET /reset zeroes the counters.  Checks nothing else.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mono_clock.h"

#define MAX_CONNS 64
#define BUF_SIZE 65536

typedef struct
{
	int			fd;
	size_t		have;
	int64_t		arrived;		/* ns of the first bytes of the request in buf, 0 when none */
	bool		posted;			/* this connection carried a POST since the last reset */
	char		buf[BUF_SIZE];
} conn;

static conn conns[MAX_CONNS];
static long posts, connections, signed_posts;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0)
	{
		ssize_t		w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;				/* the peer went away; its next read says so */
		p += w;
		n -= (size_t) w;
	}
}

/* Value of header NAME (case-insensitive) in head, or NULL. */
static const char *
header(const char *head, const char *name)
{
	size_t		len = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l; l = strstr(l + 2, "\r\n"))
	{
		if (strncasecmp(l + 2, name, len) == 0 && l[2 + len] == ':')
		{
			const char *v = l + 3 + len;

			while (*v == ' ')
				v++;
			return v;
		}
	}
	return NULL;
}

/* The top-level "sku" string of the message body, or "?". */
static void
body_sku(const char *body, size_t len, char *out, size_t outlen)
{
	const char *end = body + len;
	const char *p = memmem(body, len, "\"sku\"", 5);
	size_t		n = 0;

	snprintf(out, outlen, "?");
	if (!p)
		return;
	for (p += 5; p < end && (*p == ' ' || *p == ':'); p++)
		;
	if (p >= end || *p != '"')
		return;
	for (p++; p < end && *p != '"' && n + 1 < outlen; p++)
		out[n++] = *p;
	out[n] = '\0';
}

/*
 * Answer every complete request in c's buffer.  Returns false when the
 * request cannot be handled (too large, no length), to drop the connection.
 */
static bool
serve(conn *c)
{
	for (;;)
	{
		char	   *eoh;
		size_t		head_len;
		size_t		body_len = 0;
		const char *cl;
		char		head[8192];

		c->buf[c->have] = '\0';
		eoh = strstr(c->buf, "\r\n\r\n");
		if (!eoh)
			return c->have < sizeof(head);
		head_len = (size_t) (eoh - c->buf) + 4;
		if (head_len >= sizeof(head))
			return false;
		memcpy(head, c->buf, head_len);
		head[head_len] = '\0';
		if ((cl = header(head, "Content-Length")) != NULL)
			body_len = strtoul(cl, NULL, 10);
		if (head_len + body_len >= BUF_SIZE)
			return false;
		if (c->have < head_len + body_len)
			return true;		/* the rest of the body is still on its way */

		if (strncmp(head, "POST ", 5) == 0)
		{
			static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
			char		sku[256];

			posts++;
			if (!c->posted)
				connections++;
			c->posted = true;
			if (header(head, "Waitlist-Signature"))
				signed_posts++;
			send_all(c->fd, ok, sizeof(ok) - 1);
			body_sku(c->buf + head_len, body_len, sku, sizeof(sku));
			printf("%lld %s\n", (long long) c->arrived, sku);
			fflush(stdout);
		}
		else
		{
			char		json[160];
			char		resp[256];
			int			n;

			if (strncmp(head, "GET /reset", 10) == 0)
			{
				posts = connections = signed_posts = 0;
				for (int i = 0; i < MAX_CONNS; i++)
					conns[i].posted = false;
			}
			snprintf(json, sizeof(json),
					 "{\"posts\":%ld,\"connections\":%ld,\"bad_signatures\":0,\"signed\":%ld}\n",
					 posts, connections, signed_posts);
			n = snprintf(resp, sizeof(resp),
						 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
						 strlen(json), json);
			send_all(c->fd, resp, (size_t) n);
		}
		memmove(c->buf, c->buf + head_len + body_len, c->have - head_len - body_len);
		c->have -= head_len + body_len;
		/* pipelined bytes of the next request arrived with this read */
		c->arrived = c->have > 0 ? c->arrived : 0;
	}
}

int
main(void)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t	alen = sizeof(addr);
	int			lfd = socket(AF_INET, SOCK_STREAM, 0);
	int			one = 1;

	if (lfd < 0)
		die("socket");
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *) &addr, sizeof(addr)) != 0 || listen(lfd, 64) != 0 ||
		getsockname(lfd, (struct sockaddr *) &addr, &alen) != 0)
		die("listen");
	printf("%d\n", ntohs(addr.sin_port));
	fflush(stdout);
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;

	for (;;)
	{
		struct pollfd pfd[MAX_CONNS + 2];
		int			map[MAX_CONNS + 2];
		int			n = 0;
		int64_t		now;

		pfd[n++] = (struct pollfd) {.fd = STDIN_FILENO, .events = POLLIN};
		pfd[n++] = (struct pollfd) {.fd = lfd, .events = POLLIN};
		for (int i = 0; i < MAX_CONNS; i++)
			if (conns[i].fd >= 0)
			{
				map[n] = i;
				pfd[n++] = (struct pollfd) {.fd = conns[i].fd, .events = POLLIN};
			}
		if (poll(pfd, (nfds_t) n, 600 * 1000) <= 0)
		{
			if (errno == EINTR)
				continue;
			return 0;			/* ten idle minutes: never outlive the benchmark */
		}
		now = mono_ns();
		if (pfd[0].revents)
		{
			char		b[64];

			if (read(STDIN_FILENO, b, sizeof(b)) <= 0)
				return 0;		/* the benchmark closed our stdin */
		}
		for (int k = 2; k < n; k++)
		{
			conn	   *c = &conns[map[k]];
			ssize_t		r;

			if (!pfd[k].revents)
				continue;
			r = recv(c->fd, c->buf + c->have, BUF_SIZE - 1 - c->have, 0);
			if (r > 0)
			{
				if (c->have == 0)
					c->arrived = now;
				c->have += (size_t) r;
				if (serve(c))
					continue;
			}
			else if (r < 0 && errno == EINTR)
				continue;
			close(c->fd);
			c->fd = -1;
		}
		if (pfd[1].revents)
		{
			int			fd = accept(lfd, NULL, NULL);
			int			i;

			if (fd < 0)
				continue;
			for (i = 0; i < MAX_CONNS && conns[i].fd >= 0; i++)
				;
			if (i == MAX_CONNS)
			{
				close(fd);
				continue;
			}
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			conns[i].fd = fd;
			conns[i].have = 0;
			conns[i].arrived = 0;
			conns[i].posted = false;
		}
	}
}
