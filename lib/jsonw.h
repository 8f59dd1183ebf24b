/* jsonw.h: JSON written as it goes, in the one layout every command prints:
 * two-space indent, one member or element per line, "key": value, empty
 * containers as {} and [], and a newline after the top value.  Scalars are
 * printed as cJSON prints them (numbers that read back the same, strings
 * escaped), with what util_json_escape() names escaped too, so that a value
 * written here is byte for byte what util_json_write() writes of the same
 * value in a tree.
 *
 * Each value function takes the member's key inside an object and NULL
 * inside an array or at the top.  A container opened by jsonw_object() or
 * jsonw_array() is closed by jsonw_end().
 *
 * Ownership: a struct jsonw borrows its FILE and holds the stack of open
 * containers until the top one is closed.  Write errors stay on the FILE
 * (ferror()).
 */
#ifndef CANARY_JSONW_H
#define CANARY_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cJSON;

/* One open container. */
struct jsonw_level {
	bool object;
	bool any;              /* something was written in it */
};

struct jsonw {
	FILE *f;
	struct jsonw_level *stack;
	size_t depth;
	size_t cap;
};

void jsonw_init(struct jsonw *w, FILE *f);

void jsonw_object(struct jsonw *w, const char *key);
void jsonw_array(struct jsonw *w, const char *key);
void jsonw_end(struct jsonw *w);

/* jsonw_string: s, or null when s is NULL. */
void jsonw_string(struct jsonw *w, const char *key, const char *s);
void jsonw_number(struct jsonw *w, const char *key, double v);
void jsonw_bool(struct jsonw *w, const char *key, bool v);
void jsonw_null(struct jsonw *w, const char *key);
/* jsonw_tree: a whole tree. */
void jsonw_tree(struct jsonw *w, const char *key, const struct cJSON *j);

#endif
