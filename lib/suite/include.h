/* suite/include.h: a suite's `include:`, the files that add strata to it.
 *
 * `include: [FILE | GLOB, ...]` at the top level of a suite (and of an
 * included file) names files relative to the including file; globs are
 * expanded in sorted order.  Each included file is a mapping of `strata:`
 * and perhaps `include:`.  A file outside the suite's folder, a cycle and
 * a literal name that matches no file are errors at the include's
 * file:line:col.
 *
 * Ownership: struct suite_includes owns its documents until they are
 * handed over (the caller takes docs and sets it to NULL, then frees each
 * with ydoc_free()), and the rest until suite_includes_release().
 */
#ifndef CANARY_SUITE_INCLUDE_H
#define CANARY_SUITE_INCLUDE_H

#include <stddef.h>

#include "ynode.h"

struct suite_override;

/* A `strata:` entry of the suite or of an included file. */
struct suite_source {
	const struct ynode *key;   /* the stratum's name */
	const struct ynode *value; /* its mapping */
};

struct suite_includes {
	struct ydoc **docs;        /* every included file, in include order */
	char **files;              /* per doc: its name as messages give it */
	char **chains;             /* per doc: "  included from FILE:L:C" lines */
	size_t ndocs;
	struct suite_source *strata; /* the suite's strata, then each file's, in order */
	size_t nstrata;
};

/* suite_includes_load: read the includes of root, the document of the
 * suite file path in folder dir, and gather every `strata:` entry (the
 * suite's first; root's own strata may be NULL when files are included).
 * A file that is ov's (ov may be NULL) has ov's text, and a glob matches
 * it even when it does not exist yet.  -1 and *err (file:line:col, with
 * the chain of includes) on failure. */
int suite_includes_load(struct suite_includes *inc, const char *path, const char *dir,
			const struct ynode *root, const struct ynode *strata,
			const struct suite_override *ov, char **err);

/* suite_includes_chain: the chain of includes of the file an error message
 * msg ("FILE:L:C: ...") is about, or NULL when it is about no included
 * file. */
const char *suite_includes_chain(const struct suite_includes *inc, const char *msg);

/* suite_includes_release: free what inc holds (docs too, unless taken). */
void suite_includes_release(struct suite_includes *inc);

#endif
