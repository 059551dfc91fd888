/*
 * http_floor.c: the HTTP floor for the relay's webhook throughput.  POSTs
 * N copies of a message document to URL with K requests in flight on one
 * libcurl multi handle (easy handles reused, so connections are kept alive),
 * with the relay's headers but no signature and no database, and prints
 *
 *   {"requests": N, "ok": N2xx, "seconds": S, "per_second": R}
 *
 *   http_floor URL N K BODYFILE
 */
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct slot
{
	CURL	   *easy;
	struct curl_slist *headers;
} slot;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t
discard(char *data, size_t size, size_t nmemb, void *arg)
{
	(void) data;
	(void) arg;
	return size * nmemb;
}

/* Point the slot at request number i and add it to the multi handle. */
static void
start(CURLM *multi, slot *s, const char *url, const char *body, long i)
{
	char		line[128];

	curl_slist_free_all(s->headers);
	s->headers = curl_slist_append(NULL, "Content-Type: application/json");
	s->headers = curl_slist_append(s->headers, "User-Agent: waitlist-relay/0.1.0");
	snprintf(line, sizeof(line), "webhook-id: bench-%ld", i);
	s->headers = curl_slist_append(s->headers, line);
	snprintf(line, sizeof(line), "webhook-timestamp: %lld", (long long) time(NULL));
	s->headers = curl_slist_append(s->headers, line);
	snprintf(line, sizeof(line), "Idempotency-Key: bench-%ld", i);
	s->headers = curl_slist_append(s->headers, line);
	snprintf(line, sizeof(line), "Waitlist-Message-Id: %ld", i);
	s->headers = curl_slist_append(s->headers, line);
	s->headers = curl_slist_append(s->headers, "Waitlist-Attempt: 1");
	s->headers = curl_slist_append(s->headers, "Expect:");
	curl_easy_setopt(s->easy, CURLOPT_URL, url);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	curl_multi_add_handle(multi, s->easy);
}

int
main(int argc, char **argv)
{
	long		n,
				k,
				started = 0,
				finished = 0,
				ok = 0;
	char		body[65536];
	size_t		len;
	FILE	   *f;
	slot	   *slots;
	CURLM	   *multi;
	double		t0,
				elapsed;

	if (argc != 5 || (n = atol(argv[2])) <= 0 || (k = atol(argv[3])) <= 0)
	{
		fprintf(stderr, "usage: http_floor URL N K BODYFILE\n");
		return 2;
	}
	if ((f = fopen(argv[4], "r")) == NULL)
	{
		perror(argv[4]);
		return 1;
	}
	len = fread(body, 1, sizeof(body) - 1, f);
	fclose(f);
	while (len > 0 && body[len - 1] == '\n')
		len--;
	body[len] = '\0';
	curl_global_init(CURL_GLOBAL_DEFAULT);
	multi = curl_multi_init();
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, k);
	slots = calloc(k, sizeof(slot));
	t0 = now_s();
	for (long i = 0; i < k && started < n; i++)
	{
		slots[i].easy = curl_easy_init();
		start(multi, &slots[i], argv[1], body, ++started);
	}
	while (finished < n && now_s() - t0 < 300)
	{
		int			running,
					left;
		CURLMsg    *m;

		curl_multi_perform(multi, &running);
		while ((m = curl_multi_info_read(multi, &left)) != NULL)
		{
			slot	   *s;
			long		code = 0;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &s);
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
			ok += m->data.result == CURLE_OK && code >= 200 && code < 300;
			finished++;
			curl_multi_remove_handle(multi, s->easy);
			if (started < n)
				start(multi, s, argv[1], body, ++started);
		}
		if (finished < n)
			curl_multi_poll(multi, NULL, 0, 1000, NULL);
	}
	elapsed = now_s() - t0;
	printf("{\"requests\": %ld, \"ok\": %ld, \"seconds\": %.3f, \"per_second\": %.0f}\n",
		   finished, ok, elapsed, finished / elapsed);
	for (long i = 0; i < k; i++)
	{
		if (slots[i].easy)
		{
			curl_multi_remove_handle(multi, slots[i].easy);
			curl_easy_cleanup(slots[i].easy);
		}
		curl_slist_free_all(slots[i].headers);
	}
	curl_multi_cleanup(multi);
	curl_global_cleanup();
	return ok == n ? 0 : 1;
}
