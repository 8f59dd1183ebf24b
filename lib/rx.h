/* rx.h: PCRE2 regular expressions, compiled once (JIT-compiled on the
 * first match, when the platform has it) and matched without allocating
 * per call.
 *
 * Patterns and subjects are UTF-8 (Unicode properties for \d, \w, \b and
 * case folding).  A subject that is not valid UTF-8 is matched, not
 * rejected: invalid bytes match nothing but themselves as non-characters.
 * Matching is bounded (match, depth and heap limits), so a pattern that
 * backtracks catastrophically ends with an error instead of hanging.
 *
 * Ownership: rx_compile() returns an expression freed by rx_free(); it
 * keeps its own match data, so one expression must not be matched from two
 * threads at once.
 */
#ifndef CANARY_RX_H
#define CANARY_RX_H

#include <stdbool.h>
#include <stddef.h>

struct rx;

enum {
	RX_CASELESS = 1 << 0,
	RX_MULTILINE = 1 << 1,
	RX_DOTALL = 1 << 2,
	RX_LITERAL = 1 << 3,    /* the pattern is plain text, not a regex */
	RX_WHOLE = 1 << 4,      /* a match must span the whole subject */
};

/* rx_compile: NULL and *err ("bad regex '(' at offset 1: missing closing
 * parenthesis") when the pattern does not compile. */
struct rx *rx_compile(const char *pattern, unsigned flags, char **err);
/* rx_match: 1 on a match, 0 on none, -1 and *err when matching failed
 * ("regex match limit exceeded"); *start and *end give the match
 * when set. */
int rx_match(struct rx *re, const char *s, size_t len, size_t *start, size_t *end, char **err);
const char *rx_pattern(const struct rx *re);
void rx_free(struct rx *re);

#endif
