/* redact.c: mask secret strings before any text leaves the process. */
#include "redact.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Keep the secrets ordered longest first; a secret already held is ignored. */
static void add_one(struct redact *r, const char *secret)
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

/* Mark the start of a secret cut off at end (a reason cut short at "..."
 * or at its end), so no prefix of REDACT_MIN_LEN or more bytes survives. */
static void mark_cut(const struct redact *r, const char *s, size_t end, unsigned char *hidden)
{
	for (size_t i = 0; i < r->n; i++) {
		size_t slen = strlen(r->secrets[i]);
		for (size_t k = slen - 1; k >= REDACT_MIN_LEN && k > 0; k--) {
			if (k <= end && memcmp(s + end - k, r->secrets[i], k) == 0) {
				memset(hidden + end - k, 1, k);
				break;
			}
		}
	}
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
	unsigned char *hidden = xcalloc(len + 1, sizeof(*hidden));
	bool any = false;
	for (size_t i = 0; i < r->n; i++) {
		const char *secret = r->secrets[i];
		size_t slen = strlen(secret);
		for (const char *p = strstr(s, secret); p; p = strstr(p + 1, secret)) {
			memset(hidden + (p - s), 1, slen);
			any = true;
		}
	}
	/* Excerpts are cut before redaction sees them: a cut ends at "...",
	 * "\u2026" or the end of the text. */
	for (const char *p = strstr(s, "..."); p; p = strstr(p + 1, "..."))
		mark_cut(r, s, (size_t)(p - s), hidden);
	for (const char *p = strstr(s, "\xe2\x80\xa6"); p; p = strstr(p + 1, "\xe2\x80\xa6"))
		mark_cut(r, s, (size_t)(p - s), hidden);
	mark_cut(r, s, len, hidden);
	for (size_t i = 0; i < len && !any; i++)
		any = hidden[i];
	if (!any) {
		free(hidden);
		return xstrdup(s);
	}
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

/* json_escaped: secret as it appears inside a JSON string (with "/" also
 * escaped when slash), which is how a reply that echoes it quotes it. */
static char *json_escaped(const char *secret, bool slash)
{
	struct buf b;
	buf_init(&b, 0);
	for (const unsigned char *p = (const unsigned char *)secret; *p; p++) {
		if (*p == '"' || *p == '\\' || (slash && *p == '/'))
			buf_addf(&b, "\\%c", *p);
		else if (*p < 0x20)
			buf_addf(&b, "\\u%04x", *p);
		else
			buf_addch(&b, (char)*p);
	}
	return buf_detach(&b, NULL);
}

void redact_add(struct redact *r, const char *secret)
{
	if (!secret)
		return;
	add_one(r, secret);
	for (int slash = 0; slash < 2; slash++) {
		char *escaped = json_escaped(secret, slash);
		if (strcmp(escaped, secret) != 0)
			add_one(r, escaped);
		free(escaped);
	}
}

void redact_release(struct redact *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->secrets[i]);
	free(r->secrets);
	r->secrets = NULL;
	r->n = 0;
}
