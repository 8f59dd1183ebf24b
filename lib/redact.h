/* redact.h: the set of secret strings that must never reach any output.
 *
 * Every value that came from ${env:...}, every rendered header value and
 * the credentials of every URL's userinfo are added here; every reason,
 * error message, excerpt and URL that may leave the process passes through
 * redact_span() or redact_apply() first, before it is cut, folded or
 * escaped.  A secret is found in every form a server may echo it in: as
 * it is; JSON-escaped (short escapes, \u escapes in either case, surrogate
 * pairs, "\/"); percent-encoded (either case, '+' for a space); XML and
 * HTML character references (&amp; &lt; &#39; &#x27; ...); base64 and
 * base64url, padded or not, at any alignment inside a longer encoding (so
 * a Basic credential of user:password, or of "Bearer value"); and with its
 * white space and control characters folded into single spaces.  The start
 * of a secret cut off at "...", "\u2026" or the end of the text is masked
 * too.  Values shorter than REDACT_MIN_LEN are not tracked: they carry no
 * secret and would mangle ordinary text.
 *
 * Ownership: the set owns copies of its secrets; redact_apply() and
 * redact_span() return a new string the caller frees.  A set is not
 * thread-safe.
 */
#ifndef CANARY_REDACT_H
#define CANARY_REDACT_H

#include <stddef.h>

#define REDACT_MIN_LEN 4
#define REDACT_MASK "[redacted]"

struct redact {
	char **secrets;
	char **folded;      /* secrets[i] with white space folded, or NULL when it has none */
	size_t **next;      /* the Knuth-Morris-Pratt tables of secrets[i] and folded[i] */
	size_t n;
	size_t longest;     /* bytes of the longest secret */
};

void redact_add(struct redact *r, const char *secret);
/* redact_add_url: the credentials in url's userinfo, percent-decoded as
 * libcurl sends them in a Basic Authorization header: the password,
 * user:password, and a user given without a password (a token). */
void redact_add_url(struct redact *r, const char *url);
/* redact_apply: a copy of s with every secret replaced by REDACT_MASK
 * (NULL for NULL). */
char *redact_apply(const struct redact *r, const char *s);
/* redact_span: s[from..to) with every secret that touches it masked, the
 * secrets being looked for in the whole of s[0..len) (NUL bytes included),
 * so that one the span cuts through is masked too; its length in *out_len
 * when out_len is not NULL.  r may be NULL (nothing masked). */
char *redact_span(const struct redact *r, const char *s, size_t len, size_t from, size_t to,
		  size_t *out_len);
void redact_release(struct redact *r);

#endif
