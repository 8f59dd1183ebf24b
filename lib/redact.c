/* redact.c: mask secret strings before any text leaves the process. */
#include "redact.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Keep the secrets ordered longest first; a secret already held is ignored. */
void redact_add(struct redact *r, const char *secret)
{
	if (!secret)
		return;
	size_t len = strlen(secret);
	if (len < REDACT_MIN_LEN)
		return;
	size_t at = r->n;
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->secrets[i], secret) == 0)
			return;
		if (at == r->n && strlen(r->secrets[i]) < len)
			at = i;
	}
	r->secrets = xreallocarray(r->secrets, r->n + 1, sizeof(*r->secrets));
	memmove(r->secrets + at + 1, r->secrets + at, (r->n - at) * sizeof(*r->secrets));
	r->secrets[at] = xstrdup(secret);
	r->n++;
}

/* Mark every byte covered by any occurrence of any secret, then write each
 * run of marked bytes as one mask, so overlapping secrets leave no part. */
char *redact_apply(const struct redact *r, const char *s)
{
	if (!s)
		return NULL;
	if (!r || r->n == 0)
		return xstrdup(s);
	size_t len = strlen(s);
	unsigned char *hidden = NULL;
	for (size_t i = 0; i < r->n; i++) {
		const char *secret = r->secrets[i];
		size_t slen = strlen(secret);
		for (const char *p = strstr(s, secret); p; p = strstr(p + 1, secret)) {
			if (!hidden)
				hidden = xcalloc(len, sizeof(*hidden));
			memset(hidden + (p - s), 1, slen);
		}
	}
	if (!hidden)
		return xstrdup(s);
	/* Every masked run is at least REDACT_MIN_LEN bytes long. */
	struct buf b;
	buf_init(&b, len * 3 + sizeof(REDACT_MASK));
	for (size_t i = 0; i < len;) {
		if (!hidden[i]) {
			size_t j = i;
			while (j < len && !hidden[j])
				j++;
			buf_add(&b, s + i, j - i);
			i = j;
		} else {
			while (i < len && hidden[i])
				i++;
			buf_addstr(&b, REDACT_MASK);
		}
	}
	free(hidden);
	return buf_detach(&b, NULL);
}

void redact_release(struct redact *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->secrets[i]);
	free(r->secrets);
	r->secrets = NULL;
	r->n = 0;
}
