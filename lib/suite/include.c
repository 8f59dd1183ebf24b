/* suite/include.c: `include:`, files of strata read into one suite. */
#include "suite/include.h"

#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "suite/suite.h"
#include "util.h"

#define INCLUDE_MAX_FILES 1000
#define INCLUDE_MAX_BYTES ((size_t)16 << 20)

static const char *const included_keys[] = {"include", "strata", NULL};

/* The walk: the suite's folder, and the files from the suite down to the
 * one being read (to refuse a cycle). */
struct walk {
	struct suite_includes *inc;
	char *root;                /* the suite's folder, resolved, with a final '/' */
	const char **stack;        /* resolved paths of the chain */
	const char **shown;        /* and as messages name them */
	size_t depth;
	const struct suite_override *ov; /* or NULL */
	char *ov_real;             /* ov's file, resolved */
};

/* resolve: path with its folder resolved (the file need not exist); NULL
 * when the folder does not exist. */
static char *resolve(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path + 1)) : xstrdup(".");
	char *real = realpath(dir, NULL);
	char *out = real ? xasprintf("%s/%s", strcmp(real, "/") ? real : "",
				     slash ? slash + 1 : path)
			 : NULL;

	free(real);
	free(dir);
	return out;
}

static int read_file(struct walk *w, const char *path, const struct ynode *at,
		     const char *chain, char **err);

/* with_chain: msg, then chain on lines of its own (chain may be NULL). */
static char *with_chain(char *msg, const char *chain)
{
	char *out;

	if (!chain)
		return msg;
	out = xasprintf("%s\n%s", msg, chain);
	free(msg);
	return out;
}

/* add_strata: strata (a mapping, or NULL) to the list. */
static int add_strata(struct walk *w, const struct ynode *strata, const char *chain, char **err)
{
	struct suite_includes *inc = w->inc;

	if (!strata)
		return 0;
	if (strata->kind != YNODE_MAP) {
		*err = with_chain(ynode_error(strata, "'strata' must be a mapping"), chain);
		return -1;
	}
	inc->strata = xreallocarray(inc->strata, inc->nstrata + strata->n + 1, sizeof(*inc->strata));
	for (size_t i = 0; i < strata->n; i++)
		inc->strata[inc->nstrata++] =
			(struct suite_source){strata->items[2 * i], strata->items[2 * i + 1]};
	return 0;
}

/* relative: name relative to the folder of the file shown as from. */
static char *relative(const char *from, const char *name)
{
	const char *slash = strrchr(from, '/');

	if (name[0] == '/' || !slash)
		return xstrdup(name);
	return xasprintf("%.*s%s", (int)(slash - from + 1), from, name);
}

/* include_one: the files an include entry names, read in sorted order. */
static int include_one(struct walk *w, const char *from, const struct ynode *item,
		       const char *chain, char **err)
{
	char *pattern = relative(from, item->str);
	glob_t g = {0};
	int rc = -1;

	if (!strpbrk(item->str, "*?[")) {
		rc = read_file(w, pattern, item, chain, err);
		goto out;
	}
	int found = glob(pattern, 0, NULL, &g);
	if (found != 0 && found != GLOB_NOMATCH) {
		*err = with_chain(ynode_error(item, "cannot expand '%s'", item->str), chain);
		goto out;
	}
	bool ov_seen = false;
	for (size_t i = 0; found == 0 && i < g.gl_pathc; i++) {
		char *real = resolve(g.gl_pathv[i]);
		ov_seen |= real && w->ov_real && strcmp(real, w->ov_real) == 0;
		free(real);
		if (read_file(w, g.gl_pathv[i], item, chain, err) < 0)
			goto out;
	}
	/* the file being promoted into, not written yet, is matched too */
	char *pat = resolve(pattern);
	bool ov_matches = !ov_seen && pat && w->ov_real &&
			  fnmatch(pat, w->ov_real, FNM_PATHNAME) == 0;
	free(pat);
	if (ov_matches && read_file(w, w->ov->path, item, chain, err) < 0)
		goto out;
	rc = 0;
out:
	globfree(&g);
	free(pattern);
	return rc;
}

/* include_list: every entry of the include: of root, a file shown as from. */
static int include_list(struct walk *w, const char *from, const struct ynode *root,
			const char *chain, char **err)
{
	const struct ynode *list = ynode_get(root, "include");

	if (!list)
		return 0;
	if (list->kind != YNODE_SEQ) {
		*err = with_chain(ynode_error(list, "'include' must be a list of files or globs"),
				  chain);
		return -1;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *item = list->items[i];

		if (item->kind != YNODE_SCALAR || !item->len) {
			*err = with_chain(ynode_error(item, "an include must be a file name or a glob"),
					  chain);
			return -1;
		}
		if (include_one(w, from, item, chain, err) < 0)
			return -1;
	}
	return 0;
}

/* cycle: "a.yaml -> b.yaml -> a.yaml" when real is in the chain, else NULL. */
static char *cycle(const struct walk *w, const char *real, const char *shown)
{
	struct buf b;

	for (size_t i = 0; i < w->depth; i++) {
		if (strcmp(w->stack[i], real) != 0)
			continue;
		buf_init(&b, BUF_MAX_DEFAULT);
		for (size_t j = i; j < w->depth; j++)
			buf_addf(&b, "%s -> ", w->shown[j]);
		buf_addstr(&b, shown);
		return buf_detach(&b, NULL);
	}
	return NULL;
}

/* read_file: the file path, included at node at (chain: the includes of
 * the file holding at): its strata, then its own includes. */
static int read_file(struct walk *w, const char *path, const struct ynode *at,
		     const char *chain, char **err)
{
	struct suite_includes *inc = w->inc;
	char *real = resolve(path), *loop = NULL, *data = NULL, *why = NULL;
	struct ydoc *doc = NULL;
	bool ov = real && w->ov_real && strcmp(real, w->ov_real) == 0;
	size_t len;
	int rc = -1;

	if (!ov) {
		free(real);
		real = realpath(path, NULL);
	}
	if (!real) {
		*err = with_chain(ynode_error(at, "cannot include '%s': %s", path, strerror(errno)),
				  chain);
		goto out;
	}
	if (strncmp(real, w->root, strlen(w->root)) != 0) {
		*err = with_chain(ynode_error(at, "cannot include '%s': it is outside the suite's "
						  "folder", path),
				  chain);
		goto out;
	}
	if ((loop = cycle(w, real, path))) {
		*err = with_chain(ynode_error(at, "include cycle: %s", loop), chain);
		goto out;
	}
	if (inc->ndocs >= INCLUDE_MAX_FILES) {
		*err = with_chain(ynode_error(at, "the suite includes more than %d files",
					      INCLUDE_MAX_FILES), chain);
		goto out;
	}
	if (ov) {
		data = xmalloc(w->ov->len + 1);
		memcpy(data, w->ov->data, w->ov->len);
		data[w->ov->len] = '\0';
		len = w->ov->len;
	} else if (!(data = util_read_file(path, INCLUDE_MAX_BYTES, &len, &why))) {
		*err = with_chain(ynode_error(at, "cannot include '%s': %s", path, why), chain);
		goto out;
	}
	char *mine = chain ? xasprintf("  included from %s:%d:%d\n%s", at->file, at->line, at->col,
				       chain)
			   : xasprintf("  included from %s:%d:%d", at->file, at->line, at->col);
	doc = ydoc_parse(path, data, len, &why);
	inc->docs = xreallocarray(inc->docs, inc->ndocs + 1, sizeof(*inc->docs));
	inc->chains = xreallocarray(inc->chains, inc->ndocs + 1, sizeof(*inc->chains));
	inc->files = xreallocarray(inc->files, inc->ndocs + 1, sizeof(*inc->files));
	inc->docs[inc->ndocs] = doc;
	inc->files[inc->ndocs] = xstrdup(path);
	inc->chains[inc->ndocs++] = mine;
	if (!doc) {
		*err = with_chain(why, mine);
		why = NULL;
		goto out;
	}
	if (!doc->root || doc->root->kind != YNODE_MAP) {
		*err = with_chain(xasprintf("%s:1:1: an included file must be a mapping of "
					    "'strata' (and 'include')", path), mine);
		goto out;
	}
	if (ynode_check_keys(doc->root, included_keys, "in an included file", &why) < 0) {
		*err = with_chain(why, mine);
		why = NULL;
		goto out;
	}
	w->stack[w->depth] = real;
	w->shown[w->depth++] = path;
	rc = add_strata(w, ynode_get(doc->root, "strata"), mine, err);
	if (rc == 0)
		rc = include_list(w, path, doc->root, mine, err);
	w->depth--;
out:
	free(real);
	free(loop);
	free(data);
	free(why);
	return rc;
}

int suite_includes_load(struct suite_includes *inc, const char *path, const char *dir,
			const struct ynode *root, const struct ynode *strata,
			const struct suite_override *ov, char **err)
{
	struct walk w = {.inc = inc, .ov = ov && ov->path ? ov : NULL};
	char *real_dir = realpath(dir, NULL), *real = realpath(path, NULL);
	int rc = -1;

	memset(inc, 0, sizeof(*inc));
	w.stack = xcalloc(INCLUDE_MAX_FILES + 2, sizeof(*w.stack));
	w.shown = xcalloc(INCLUDE_MAX_FILES + 2, sizeof(*w.shown));
	if (add_strata(&w, strata, NULL, err) < 0)
		goto out;
	if (!ynode_get(root, "include")) {
		rc = 0;
		goto out;
	}
	if (!real_dir) {
		*err = xasprintf("%s: cannot resolve the suite's folder '%s': %s", path, dir,
				 strerror(errno));
		goto out;
	}
	w.root = xasprintf("%s%s", real_dir, strcmp(real_dir, "/") == 0 ? "" : "/");
	w.ov_real = w.ov ? resolve(w.ov->path) : NULL;
	w.stack[w.depth] = real ? real : "";
	w.shown[w.depth++] = path;
	rc = include_list(&w, path, root, NULL, err);
out:
	free(w.root);
	free(w.ov_real);
	free(w.stack);
	free(w.shown);
	free(real_dir);
	free(real);
	return rc;
}

const char *suite_includes_chain(const struct suite_includes *inc, const char *msg)
{
	/* The innermost file first: a later doc may be included by an
	 * earlier one, never the other way round. */
	for (size_t i = inc->ndocs; i-- > 0;) {
		size_t n = strlen(inc->files[i]);

		if (strncmp(msg, inc->files[i], n) == 0 && msg[n] == ':')
			return inc->chains[i];
	}
	return NULL;
}

void suite_includes_release(struct suite_includes *inc)
{
	for (size_t i = 0; i < inc->ndocs; i++) {
		if (inc->docs)
			ydoc_free(inc->docs[i]);
		free(inc->files[i]);
		free(inc->chains[i]);
	}
	free(inc->docs);
	free(inc->files);
	free(inc->chains);
	free(inc->strata);
	memset(inc, 0, sizeof(*inc));
}
