/* ynode.h: a YAML document as a tree of positioned nodes.
 *
 * The suite loader, the stub's scripts and every grader's compile step read
 * YAML through this tree, so every error can name file:line:col.
 *
 * Ownership: a struct ydoc owns every node, string and the file name it
 * holds; they live until ydoc_free().  Aliases share the anchored node.
 */
#ifndef CANARY_YNODE_H
#define CANARY_YNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "util.h"

enum ynode_kind {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP,
};

struct ynode {
	enum ynode_kind kind;
	const char *file;  /* the document's file name */
	int line;          /* 1-based */
	int col;           /* 1-based */
	const char *str;   /* scalar text, NUL-terminated; NULL for seq/map */
	size_t len;        /* scalar length in bytes */
	bool plain;        /* an unquoted scalar: typed per the YAML core schema */
	bool dropped;      /* a placeholder for an item a lean parse dropped (n is 0) */
	size_t n;          /* seq: items; map: pairs */
	struct ynode **items; /* seq: items[i]; map: key items[2i], value items[2i+1] */
};

struct ydoc {
	struct arena arena;
	char *file;
	struct ynode *root; /* NULL for an empty document */
	const char *const *lean; /* a lean parse's path (borrowed), or NULL */
	uint64_t hash;           /* a lean parse: FNV-1a of the bytes of in, */
	size_t size;             /* and their number */
};

/* ydoc_parse: parse one YAML document.  Errors read "file:line:col: what".
 * Duplicate mapping keys, a scalar holding a NUL character, a second
 * document and nesting deeper than 64 are errors, and so is a document
 * that, with every alias expanded (each use counting all it repeats), has
 * more than a million nodes or 64 MiB of scalar text: the error is at the
 * node or alias that crosses the limit.  Any walk of the tree, and any
 * conversion of it to JSON, is so bounded however aliases share it out.
 * Time is linear in the size of the document (anchors and the keys of
 * large mappings are hashed). */
struct ydoc *ydoc_parse(const char *file, const char *data, size_t len, char **err);
void ydoc_free(struct ydoc *doc);

/* ydoc_parse_lean: the same parse of all of in (read from its start), with
 * the same errors, but each mapping or list that is an item of the path
 * lean (keys, "*" for any key or list item, NULL-terminated; {"strata",
 * "*", "cases", "*", NULL} names every case) is checked and then dropped:
 * its parent holds a placeholder of its kind and position with dropped set,
 * and ycursor_next() rebuilds it.  So neither the text nor the tree of a
 * document of many such items is ever held whole.  A document with an
 * anchor or alias in such an item is parsed in full (no placeholders). */
struct ydoc *ydoc_parse_lean(const char *file, FILE *in, const char *const *lean, char **err);

/* A cursor over the items a lean parse doc of in dropped, rebuilt one at a
 * time in document order from a second reading of in (from its start,
 * kept open between the readings, so that it is the same file).  It
 * borrows doc and in until ycursor_free(). */
struct ycursor;
struct ycursor *ycursor_new(const struct ydoc *doc, FILE *in);
/* ycursor_next: the next dropped item, in full, which must be at the
 * position of placeholder (NULL and *err otherwise: "FILE: the file
 * changed while it was read ..." when in no longer holds the text doc was
 * parsed from, else at placeholder).  The cursor owns it; it lives until
 * the next call or ycursor_free(). */
const struct ynode *ycursor_next(struct ycursor *c, const struct ynode *placeholder, char **err);
/* ycursor_end: after the items of c were read (or some failed), -1 and
 * *err "FILE: the file changed while it was read ..." when in, read again
 * to its end, was not byte for byte the text doc was parsed from: what
 * was read from it is a mix and must not be used.  0 for a NULL c. */
int ycursor_end(struct ycursor *c, char **err);
void ycursor_free(struct ycursor *c);

/* ynode_get: the value of key in a map, or NULL. */
const struct ynode *ynode_get(const struct ynode *map, const char *key);
const char *ynode_kind_name(enum ynode_kind k);

/* ynode_is_null: a plain "null", "~", "" or "Null"/"NULL" scalar. */
bool ynode_is_null(const struct ynode *n);
/* ynode_bool: parse a true/false scalar; -1 when it is not one. */
int ynode_bool(const struct ynode *n, bool *out);
/* ynode_number: parse a plain numeric scalar; -1 when it is not one. */
int ynode_number(const struct ynode *n, double *out);

/* ynode_check_keys: every key of map must be one of keys (NULL-terminated);
 * otherwise -1 and *err "unknown key 'x' WHERE (did you mean 'y'?)", where
 * names the mapping ("in case 'c'"), or the allowed keys when none is close. */
int ynode_check_keys(const struct ynode *map, const char *const *keys, const char *where,
		     char **err);

/* ynode_key: append to out a text that is the same for two nodes exactly
 * when they are the same YAML value written alike (same kinds, scalar
 * texts and plainness, and map keys in the same order), wherever they are:
 * a key for sharing what is compiled from equal values.  -1 when out is
 * full. */
int ynode_key(const struct ynode *n, struct buf *out);

/* ynode_at: the node that JSON pointer ptr (RFC 6901) names below root, or
 * the deepest node on its way when it leaves the tree: where an error about
 * a document's JSON at ptr is to be shown. */
const struct ynode *ynode_at(const struct ynode *root, const char *ptr);

/* ynode_error: "file:line:col: message" for node n (caller frees). */
char *ynode_error(const struct ynode *n, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* ynode_to_json: convert to cJSON; plain scalars become null, booleans and
 * numbers per the YAML 1.2 core schema, everything else a string.  Map keys
 * are always strings.  Fails (NULL, *err) past a million nodes, which
 * ydoc_parse() already bounds the whole document to.  The caller owns the
 * result (cJSON_Delete). */
cJSON *ynode_to_json(const struct ynode *n, char **err);

#endif
