/*
 * consent.h
 *	  Who may be messaged: delivery events, suppression, opt-out and opt-in.
 */
#ifndef WAITLIST_CONSENT_H
#define WAITLIST_CONSENT_H

#include "postgres.h"
#include "utils/timestamp.h"

extern bool wl_record_event(const char *handle, const char *event, TimestampTz at,
							bool at_given);
extern bool wl_opt_out(const char *contact, const char *source);
extern bool wl_opt_in(const char *contact, const char *source);
extern char *wl_suppressed(const char *contact);

#endif
