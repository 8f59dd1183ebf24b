/* ynode_bench: how fast lib/ynode loads large YAML documents.
 *
 *   ynode_bench [KEYS]
 *
 * Loads a mapping of KEYS keys (default 200,000), then a document of
 * KEYS / 2 anchors and as many aliases to them, and prints the time of each
 * load and per node.  Both grow linearly: a key or an anchor is not compared
 * with every earlier one.  It prints figures and asserts nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "ynode.h"

/* load: parse text and print how long it took; exits when it fails. */
static void load(const char *what, const struct buf *b, long nodes)
{
	char *err = NULL;
	double t0 = util_now_ms();
	struct ydoc *d = ydoc_parse(what, b->data, b->len, &err);
	double ms = util_now_ms() - t0;
	if (!d) {
		fprintf(stderr, "ynode_bench: %s\n", err);
		exit(1);
	}
	printf("%s: %.1f MiB in %.0f ms, %.2f us per node\n", what,
	       (double)b->len / 1048576.0, ms, ms * 1000.0 / (double)nodes);
	ydoc_free(d);
}

int main(int argc, char **argv)
{
	long keys = argc > 1 ? atol(argv[1]) : 200000;
	if (keys < 2) {
		fprintf(stderr, "usage: ynode_bench [KEYS]\n");
		return 2;
	}
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (long i = 0; i < keys; i++)
		buf_addf(&b, "key%ld: %ld\n", i, i);
	load("mapping", &b, keys);

	long anchors = keys / 2;
	buf_reset(&b);
	buf_addstr(&b, "anchors:\n");
	for (long i = 0; i < anchors; i++)
		buf_addf(&b, "  - &a%ld {v: %ld}\n", i, i);
	buf_addstr(&b, "aliases:\n");
	for (long i = 0; i < anchors; i++)
		buf_addf(&b, "  - *a%ld\n", anchors - 1 - i);
	load("anchors and aliases", &b, 2 * anchors);
	buf_release(&b);
	return 0;
}
