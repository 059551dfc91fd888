/*
 * metrics.h: the relay's counters and the tiny HTTP endpoint that serves
 * them in Prometheus text format at GET /metrics.  The endpoint is
 * non-blocking and driven by the relay's single poll loop.
 */
#ifndef RELAY_METRICS_H
#define RELAY_METRICS_H

#include <curl/curl.h>
#include <stdbool.h>

typedef struct relay_stats
{
	unsigned long long claimed;
	unsigned long long claimed_waiting;	/* of those, by a claim that waited in the database */
	unsigned long long delivered;
	unsigned long long retried;
	unsigned long long dead;
	unsigned long long released;
	unsigned long long lease_lost;	/* outcomes refused: lease gone */
	int			in_flight;
	double		lag_seconds;	/* how overdue the oldest due message is */
	bool		db_connected;
} relay_stats;

extern relay_stats stats;

bool		metrics_listen(const char *spec);
int			metrics_fds(struct curl_waitfd *out, int max);
void		metrics_serve(void);
void		metrics_close(void);

#endif
