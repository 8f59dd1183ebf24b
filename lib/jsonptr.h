/* jsonptr.h: JSON pointers (RFC 6901) over cJSON.
 *
 * Ownership: results point into the document passed in; nothing is
 * allocated.
 */
#ifndef CANARY_JSONPTR_H
#define CANARY_JSONPTR_H

#include <stdbool.h>

#include <cjson/cJSON.h>

/* jsonptr_valid: whether s is a syntactically valid pointer ("" or "/..."
 * with only ~0 and ~1 escapes). */
bool jsonptr_valid(const char *s);

/* jsonptr_get: the value at pointer p in doc, or NULL when it does not
 * resolve (or p is invalid).  "" is the whole document. */
cJSON *jsonptr_get(const cJSON *doc, const char *p);

#endif
