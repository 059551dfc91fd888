/*
 * sink.h: the three ways a message leaves the relay.  A sink sets the
 * delivery's verdict; it never talks to the database.
 *
 *   stdout   synchronous: one JSON line, flushed.
 *   exec     one /bin/sh child per message, JSON on its stdin.
 *   webhook  one libcurl easy handle per message on the shared multi handle.
 */
#ifndef RELAY_SINK_H
#define RELAY_SINK_H

#include "delivery.h"

#include <curl/curl.h>
#include <stdbool.h>

/* Exit status of an --exec command that means "give up: dead letter". */
#define EXEC_EXIT_GIVE_UP 100

/* Set when a sink cannot work any more (stdout closed): the relay stops. */
extern bool sink_broken;

void		stdout_deliver(delivery *d);

bool		exec_start(delivery *d, const relay_config *cfg);
bool		exec_poll(delivery *d, int64_t now);
void		exec_abort(delivery *d);

bool		webhook_start(delivery *d, CURLM *multi, const relay_config *cfg);
void		webhook_done(delivery *d, CURLcode rc, const relay_config *cfg);
void		webhook_cleanup(delivery *d, CURLM *multi);
void		webhook_free_pool(void);

#endif
