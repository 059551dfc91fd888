/*
 * sink_webhook.c: the --webhook sink.  POSTs the JSON document with the
 * Standard Webhooks headers (webhook-id, webhook-timestamp,
 * webhook-signature) and Idempotency-Key, on
 * the dispatcher's curl multi handle, and turns the answer into a verdict:
 * 2xx delivered; 408, 429, 5xx, 3xx and transport errors retry (honouring
 * Retry-After in seconds or as an HTTP date); other 4xx dead-letter.
 */
#include "sink.h"
#include "log.h"
#include "sign.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RESPONSE_KEEP 200		/* bytes of the response body kept for last_error */
#define EASY_POOL 64			/* finished easy handles kept for the next requests */

/*
 * Easy handles are reused: creating and freeing one per request cost more
 * than the request's own work on a kept-alive loopback connection.  A
 * reused handle is reset (every option is set again) but keeps its
 * buffers; connections live in the multi handle's cache either way.
 */
static CURL *easy_pool[EASY_POOL];
static int	easy_pooled = 0;

/* A fresh or reset easy handle, or NULL. */
static CURL *
easy_take(void)
{
	if (easy_pooled == 0)
		return curl_easy_init();
	return easy_pool[--easy_pooled];
}

/* Keep a finished handle for the next request, or free it. */
static void
easy_give_back(CURL *e)
{
	if (easy_pooled == EASY_POOL)
	{
		curl_easy_cleanup(e);
		return;
	}
	curl_easy_reset(e);
	easy_pool[easy_pooled++] = e;
}

typedef struct webhook_state
{
	CURL	   *easy;
	struct curl_slist *headers;
	char	   *retry_after;	/* the Retry-After header value, if any */
	char		response[RESPONSE_KEEP + 1];
	size_t		response_len;
	char		errbuf[CURL_ERROR_SIZE];
} webhook_state;

/* Keep the start of the response body; discard the rest. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	webhook_state *ws = arg;
	size_t		n = size * nmemb;
	size_t		room = RESPONSE_KEEP - ws->response_len;
	size_t		take = n < room ? n : room;

	memcpy(ws->response + ws->response_len, data, take);
	ws->response_len += take;
	ws->response[ws->response_len] = '\0';
	return n;
}

/* Remember the Retry-After header of the final response. */
static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	webhook_state *ws = arg;
	size_t		n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > 5 && strncmp(data, "HTTP/", 5) == 0)
	{
		free(ws->retry_after);	/* a new response (after 100 Continue) */
		ws->retry_after = NULL;
	}
	else if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0)
	{
		size_t		start = sizeof(name) - 1;

		while (start < n && isspace((unsigned char) data[start]))
			start++;
		while (n > start && isspace((unsigned char) data[n - 1]))
			n--;
		free(ws->retry_after);
		ws->retry_after = xmalloc(n - start + 1);
		memcpy(ws->retry_after, data + start, n - start);
		ws->retry_after[n - start] = '\0';
	}
	return size * nmemb;
}

/* A copy of value with control characters replaced: what a header carries. */
static char *
header_safe(const char *value)
{
	char	   *out = xstrdup(value);

	for (char *p = out; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			*p = '_';
	return out;
}

/* Add "Name: value" to the list, with control characters replaced. */
static struct curl_slist *
add_header(struct curl_slist *list, const char *name, const char *value)
{
	char	   *safe = header_safe(value);
	char	   *line = xasprintf("%s: %s", name, safe);
	struct curl_slist *out = curl_slist_append(list, line);

	free(line);
	free(safe);
	return out;
}

/*
 * The request headers.  Standard Webhooks: webhook-id is the message's
 * idempotency key (the same on every attempt, what receivers dedupe on),
 * webhook-timestamp the time of this attempt, and webhook-signature, when
 * there are secrets, signs "id.timestamp.body" with each.
 */
static struct curl_slist *
request_headers(const delivery *d, const relay_config *cfg)
{
	struct curl_slist *h = NULL;
	char		ts[24],
				msgid[24],
				attempt[16];
	char	   *id = header_safe(d->msg.idempotency_key);

	snprintf(ts, sizeof(ts), "%lld", (long long) time(NULL));
	snprintf(msgid, sizeof(msgid), "%lld", d->msg.id);
	snprintf(attempt, sizeof(attempt), "%d", d->msg.attempts);
	h = add_header(h, "Content-Type", "application/json");
	h = add_header(h, "User-Agent", "waitlist-relay/" RELAY_VERSION);
	h = add_header(h, "webhook-id", id);
	h = add_header(h, "webhook-timestamp", ts);
	if (cfg->signer != NULL)
	{
		char	   *sig = signer_header(cfg->signer, id, ts, d->msg.body, strlen(d->msg.body));

		if (sig != NULL)
			h = add_header(h, "webhook-signature", sig);
		free(sig);
	}
	h = add_header(h, "Idempotency-Key", id);
	h = add_header(h, "Waitlist-Message-Id", msgid);
	h = add_header(h, "Waitlist-Attempt", attempt);
	free(id);
	return curl_slist_append(h, "Expect:");
}

/* Set every option of the request. */
static void
configure(webhook_state *ws, delivery *d, const relay_config *cfg)
{
	CURL	   *e = ws->easy;

	curl_easy_setopt(e, CURLOPT_URL, cfg->target);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, d->msg.body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(d->msg.body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, ws->headers);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) (cfg->timeout * 1000));
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, ws);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, ws);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ws->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, d);
}

/* Start the POST for d; false (with a retry verdict) if it could not start. */
bool
webhook_start(delivery *d, CURLM *multi, const relay_config *cfg)
{
	webhook_state *ws = xcalloc(1, sizeof(webhook_state));

	d->webhook = ws;
	ws->easy = easy_take();
	if (ws->easy == NULL)
	{
		delivery_fail(d, VERDICT_RETRY, -1, "cannot create an HTTP request");
		return false;
	}
	ws->headers = request_headers(d, cfg);
	configure(ws, d, cfg);
	if (curl_multi_add_handle(multi, ws->easy) != CURLM_OK)
	{
		delivery_fail(d, VERDICT_RETRY, -1, "cannot queue the HTTP request");
		return false;
	}
	return true;
}

/* Seconds a Retry-After value asks for (seconds or HTTP date), capped; -1 if absent or bad. */
static double
retry_after_seconds(const char *value, double cap)
{
	double		s;

	if (value == NULL || *value == '\0')
		return -1;
	if (strspn(value, "0123456789") == strlen(value))
		s = strtod(value, NULL);
	else
	{
		time_t		when = curl_getdate(value, NULL);

		if (when < 0)
			return -1;
		s = difftime(when, time(NULL));
	}
	if (s < 0)
		s = 0;
	return s > cap ? cap : s;
}

/* Verdict for an HTTP status. */
static void
status_verdict(delivery *d, webhook_state *ws, long code, const relay_config *cfg)
{
	if (code >= 200 && code < 300)
	{
		d->verdict = VERDICT_DELIVERED;
		d->status = code;
		return;
	}
	if (code >= 400 && code < 500 && code != 408 && code != 429)
		delivery_fail(d, VERDICT_DEAD, code, "HTTP %ld: %s", code, ws->response);
	else
	{
		delivery_fail(d, VERDICT_RETRY, code, "HTTP %ld: %s", code, ws->response);
		d->retry_after = retry_after_seconds(ws->retry_after, cfg->max_retry_after);
	}
}

/* Read the finished transfer into a verdict. */
void
webhook_done(delivery *d, CURLcode rc, const relay_config *cfg)
{
	webhook_state *ws = d->webhook;
	long		code = 0;

	if (rc != CURLE_OK)
	{
		delivery_fail(d, VERDICT_RETRY, -1, "%s%s%s", curl_easy_strerror(rc),
					  ws->errbuf[0] ? ": " : "", ws->errbuf);
		return;
	}
	curl_easy_getinfo(ws->easy, CURLINFO_RESPONSE_CODE, &code);
	status_verdict(d, ws, code, cfg);
}

/* Free the kept easy handles (at exit). */
void
webhook_free_pool(void)
{
	while (easy_pooled > 0)
		curl_easy_cleanup(easy_pool[--easy_pooled]);
}

/* Take the request off the multi handle and free its state. */
void
webhook_cleanup(delivery *d, CURLM *multi)
{
	webhook_state *ws = d->webhook;

	if (ws == NULL)
		return;
	if (ws->easy != NULL)
	{
		curl_multi_remove_handle(multi, ws->easy);
		easy_give_back(ws->easy);
	}
	curl_slist_free_all(ws->headers);
	free(ws->retry_after);
	free(ws);
	d->webhook = NULL;
}
