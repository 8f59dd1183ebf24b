/* fuzz_ynode_lean: a lean parse of any input must give the full parse's
 * result or error, and its cursor every case of the full tree, alike. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "ynode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const cases[] = {"strata", "*", "cases", "*", NULL};

/* same: whether a and b are the same YAML written alike. */
static bool same(const struct ynode *a, const struct ynode *b)
{
	struct buf x, y;
	buf_init(&x, 0);
	buf_init(&y, 0);
	bool eq = ynode_key(a, &x) == 0 && ynode_key(b, &y) == 0 && x.len == y.len &&
		  (!x.len || memcmp(x.data, y.data, x.len) == 0);
	buf_release(&x);
	buf_release(&y);
	return eq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *full_err = NULL, *err = NULL;
	struct ydoc *full = ydoc_parse("f.yaml", (const char *)data, size, &full_err);
	FILE *in = fmemopen((void *)data, size, "r");
	if (!in)
		abort();
	struct ydoc *lean = ydoc_parse_lean("f.yaml", in, cases, &err);
	if (!full != !lean || (!full && strcmp(full_err, err) != 0))
		abort();
	struct ycursor *cur = lean ? ycursor_new(lean, in) : NULL;
	const struct ynode *fs = full ? ynode_get(full->root, "strata") : NULL;
	const struct ynode *ls = lean ? ynode_get(lean->root, "strata") : NULL;
	/* The cases in the order the loader asks for them, as far as it goes:
	 * it stops at a stratum that is not a mapping or whose cases are not a
	 * list (a suite error), so the cursor is never asked past one. */
	for (size_t i = 0; fs && fs->kind == YNODE_MAP && i < fs->n; i++) {
		const struct ynode *st = fs->items[2 * i + 1];
		const struct ynode *fc = ynode_get(st, "cases");
		const struct ynode *lc = ynode_get(ls->items[2 * i + 1], "cases");
		if (st->kind != YNODE_MAP || (fc && fc->kind != YNODE_SEQ))
			break;
		for (size_t j = 0; fc && j < fc->n; j++) {
			const struct ynode *n = lc->items[j];
			char *why = NULL;
			if (n->dropped && !(n = ycursor_next(cur, n, &why)))
				abort();
			if (!same(fc->items[j], n))
				abort();
		}
	}
	char *why = NULL;
	if (ycursor_end(cur, &why) < 0)
		abort();
	ycursor_free(cur);
	fclose(in);
	ydoc_free(full);
	ydoc_free(lean);
	free(full_err);
	free(err);
	return 0;
}
