/*
 * sign.c: the webhook-signature header of the Standard Webhooks
 * specification, with OpenSSL's EVP_MAC.  Each secret's key is set once, in
 * a template context; a request copies the template, so signing a message
 * costs its HMAC and no key set-up.
 */
#include "sign.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct signer
{
	int			n;
	EVP_MAC_CTX **keyed;		/* one template per secret, key already set */
};

/* The key bytes of a "whsec_<base64>" secret; -1 when it is not one. */
static int
secret_decode(const char *secret, unsigned char *key, size_t keylen)
{
	const char *b64 = secret + strlen(SECRET_PREFIX);
	size_t		len = strlen(b64);
	unsigned char buf[3 * 128 / 4 + 3];
	int			n;

	if (strncmp(secret, SECRET_PREFIX, strlen(SECRET_PREFIX)) != 0 || len == 0 ||
		len % 4 != 0 || len > 128 || strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
											"abcdefghijklmnopqrstuvwxyz0123456789+/=") != len)
		return -1;
	if (strchr(b64, '=') != NULL && strspn(strchr(b64, '='), "=") != strlen(strchr(b64, '=')))
		return -1;				/* padding only at the end */
	n = EVP_DecodeBlock(buf, (const unsigned char *) b64, (int) len);
	if (n < 0)
		return -1;
	n -= (b64[len - 1] == '=') + (b64[len - 2] == '=');	/* DecodeBlock keeps padding bytes */
	if ((size_t) n > keylen)
		return -1;
	memcpy(key, buf, n);
	return n;
}

/* Whether secret is usable; if not, why (for the configuration error). */
bool
secret_check(const char *secret, char *why, size_t whylen)
{
	unsigned char key[128];
	int			n = secret_decode(secret, key, sizeof(key));

	if (n < 0)
		snprintf(why, whylen, "a secret is %s followed by base64 (generate one with: "
				 "echo %s$(openssl rand -base64 32))", SECRET_PREFIX, SECRET_PREFIX);
	else if (n < SECRET_MIN_BYTES || n > SECRET_MAX_BYTES)
		snprintf(why, whylen, "a secret's key is %d to %d bytes, this one has %d",
				 SECRET_MIN_BYTES, SECRET_MAX_BYTES, n);
	return n >= SECRET_MIN_BYTES && n <= SECRET_MAX_BYTES;
}

/* An HMAC-SHA256 context keyed with key, to be copied for each request. */
static EVP_MAC_CTX *
keyed_context(const unsigned char *key, int keylen)
{
	EVP_MAC    *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM	params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
		OSSL_PARAM_construct_end()
	};

	EVP_MAC_free(mac);			/* the context keeps its own reference */
	if (ctx == NULL || !EVP_MAC_init(ctx, key, keylen, params))
	{
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A signer for the secrets (checked with secret_check); NULL when there are none. */
signer *
signer_new(const strlist *secrets)
{
	signer	   *s;

	if (secrets->n == 0)
		return NULL;
	s = xcalloc(1, sizeof(signer));
	s->keyed = xcalloc(secrets->n, sizeof(EVP_MAC_CTX *));
	for (int i = 0; i < secrets->n; i++)
	{
		unsigned char key[128];
		int			n = secret_decode(secrets->items[i], key, sizeof(key));

		if (n < 0 || (s->keyed[s->n] = keyed_context(key, n)) == NULL)
		{
			signer_free(s);
			return NULL;
		}
		s->n++;
		memset(key, 0, sizeof(key));
	}
	return s;
}

/* Append "v1,<base64 HMAC>" of id.timestamp.body with one template to out. */
static bool
sign_one(EVP_MAC_CTX *keyed, const char *id, const char *timestamp,
		 const char *body, size_t bodylen, char *out)
{
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(keyed);
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t		maclen = 0;
	bool		ok;

	ok = ctx != NULL &&
		EVP_MAC_update(ctx, (const unsigned char *) id, strlen(id)) &&
		EVP_MAC_update(ctx, (const unsigned char *) ".", 1) &&
		EVP_MAC_update(ctx, (const unsigned char *) timestamp, strlen(timestamp)) &&
		EVP_MAC_update(ctx, (const unsigned char *) ".", 1) &&
		EVP_MAC_update(ctx, (const unsigned char *) body, bodylen) &&
		EVP_MAC_final(ctx, mac, &maclen, sizeof(mac));
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		return false;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *) out + 3, mac, (int) maclen);
	return true;
}

/* The webhook-signature value: one "v1,<base64>" per secret, space-separated; NULL on failure. */
char *
signer_header(const signer *s, const char *id, const char *timestamp,
			  const char *body, size_t bodylen)
{
	const size_t each = 3 + 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1;	/* "v1," base64 and a space */
	char	   *out = xmalloc(each * s->n + 1),
			   *p = out;

	for (int i = 0; i < s->n; i++)
	{
		if (i > 0)
			*p++ = ' ';
		if (!sign_one(s->keyed[i], id, timestamp, body, bodylen, p))
		{
			free(out);
			return NULL;
		}
		p += strlen(p);
	}
	return out;
}

/* Free the signer and its keyed contexts. */
void
signer_free(signer *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->n; i++)
		EVP_MAC_CTX_free(s->keyed[i]);
	free(s->keyed);
	free(s);
}
