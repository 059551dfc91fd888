/*
 * sign.h: the webhook signature, HMAC-SHA256 over "<timestamp>.<body>"
 * with the shared secret, sent as "Waitlist-Signature: v1=<hex>" beside
 * "Waitlist-Timestamp: <unix seconds>".
 */
#ifndef RELAY_SIGN_H
#define RELAY_SIGN_H

#include <stddef.h>

char	   *sign_payload(const char *secret, const char *timestamp, const char *body);

#endif
