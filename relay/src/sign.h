/*
 * sign.h: webhook signatures by the Standard Webhooks specification
 * (www.standardwebhooks.com).  A secret is "whsec_" followed by the base64
 * of 24 to 64 random bytes; the signature of a request is
 * "v1,<base64 of HMAC-SHA256(key, id "." timestamp "." body)>", one per
 * secret, space-separated, so a receiver keeps verifying while secrets
 * rotate.
 */
#ifndef RELAY_SIGN_H
#define RELAY_SIGN_H

#include "util.h"

#include <stdbool.h>
#include <stddef.h>

#define SECRET_PREFIX "whsec_"
#define SECRET_MIN_BYTES 24
#define SECRET_MAX_BYTES 64

typedef struct signer signer;

bool		secret_check(const char *secret, char *why, size_t whylen);
signer	   *signer_new(const strlist *secrets);
char	   *signer_header(const signer *s, const char *id, const char *timestamp,
						  const char *body, size_t bodylen);
void		signer_free(signer *s);

#endif
