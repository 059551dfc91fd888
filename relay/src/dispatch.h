/*
 * dispatch.h: claimed messages waiting for a delivery slot, the deliveries
 * in flight, and those whose verdict still has to be recorded in the
 * database.  The dispatcher owns the curl multi handle,
 * and all waiting in the relay goes through dispatch_wait, so HTTP
 * transfers, child processes, the database socket and signals are watched
 * by a single poll.
 */
#ifndef RELAY_DISPATCH_H
#define RELAY_DISPATCH_H

#include "delivery.h"

#include <curl/curl.h>

typedef struct dispatcher dispatcher;

dispatcher *dispatch_new(void);
void		dispatch_free(dispatcher *dp);
int			dispatch_active(const dispatcher *dp);
int			dispatch_queued(const dispatcher *dp);
void		dispatch_enqueue(dispatcher *dp, relay_msg *msg);
void		dispatch_fill(dispatcher *dp, const relay_config *cfg);
void		dispatch_release_queued(dispatcher *dp);
void		dispatch_wait(dispatcher *dp, struct curl_waitfd *extra, int nextra, int timeout_ms);
void		dispatch_progress(dispatcher *dp, const relay_config *cfg);
int64_t		dispatch_next_deadline(const dispatcher *dp);
void		dispatch_abort_all(dispatcher *dp);
delivery   *dispatch_take_finished(dispatcher *dp);
void		dispatch_return_finished(dispatcher *dp, delivery *list);
int			dispatch_unrecorded(const dispatcher *dp);
int			dispatch_held_ids(const dispatcher *dp, long long **ids);

#endif
