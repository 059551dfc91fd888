/*
 * sign.c: computes the webhook signature with OpenSSL's one-shot HMAC.
 */
#include "sign.h"
#include "util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "v1=" + hex HMAC-SHA256(secret, timestamp "." body), or NULL on failure. */
char *
sign_payload(const char *secret, const char *timestamp, const char *body)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char	   *signed_text = xasprintf("%s.%s", timestamp, body);
	char	   *out;

	if (HMAC(EVP_sha256(), secret, (int) strlen(secret),
			 (const unsigned char *) signed_text, strlen(signed_text), mac, &maclen) == NULL)
	{
		free(signed_text);
		return NULL;
	}
	free(signed_text);
	out = xmalloc(3 + maclen * 2 + 1);
	memcpy(out, "v1=", 3);
	for (unsigned int i = 0; i < maclen; i++)
		sprintf(out + 3 + i * 2, "%02x", mac[i]);
	return out;
}
