/* redact.h: the set of secret strings that must never reach any output.
 *
 * Every value that came from ${env:...} and every rendered header value is
 * added here (with its JSON-escaped forms, as a reply quoting it shows it);
 * every reason, error message and URL that may leave the process passes
 * through redact_apply() first.  Reasons quote excerpts cut before they are
 * redacted, so the start of a secret cut off at "...", "\u2026" or the end
 * of the text is masked too.  Values shorter than REDACT_MIN_LEN
 * are not tracked: they carry no secret and would mangle ordinary text.
 *
 * Ownership: the set owns copies of its secrets; redact_apply() returns a new
 * string the caller frees.  A set is not thread-safe.
 */
#ifndef CANARY_REDACT_H
#define CANARY_REDACT_H

#include <stddef.h>

#define REDACT_MIN_LEN 4
#define REDACT_MASK "[redacted]"

struct redact {
	char **secrets;
	size_t n;
};

void redact_add(struct redact *r, const char *secret);
/* redact_apply: a copy of s with every secret replaced by REDACT_MASK
 * (NULL for NULL). */
char *redact_apply(const struct redact *r, const char *s);
void redact_release(struct redact *r);

#endif
