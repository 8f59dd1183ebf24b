/* test_ynode.c: the positioned YAML tree and its limits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "ynode.h"

static struct ydoc *parse(const char *text, char **err)
{
	*err = NULL;
	return ydoc_parse("t.yaml", text, strlen(text), err);
}

static void test_positions_and_lookup(void **state)
{
	(void)state;
	char *err;
	struct ydoc *d = parse("name: x\nlist:\n  - a\n  - {b: 2}\n", &err);
	assert_non_null(d);
	assert_int_equal(d->root->kind, YNODE_MAP);
	assert_int_equal(d->root->n, 2);
	const struct ynode *list = ynode_get(d->root, "list");
	assert_non_null(list);
	assert_int_equal(list->kind, YNODE_SEQ);
	assert_int_equal(list->n, 2);
	assert_int_equal(list->items[0]->line, 3);
	assert_int_equal(list->items[0]->col, 5);
	const struct ynode *b = ynode_get(list->items[1], "b");
	assert_int_equal(b->line, 4);
	assert_int_equal(b->col, 9);
	assert_null(ynode_get(d->root, "missing"));
	char *msg = ynode_error(b, "bad '%s'", "b");
	assert_string_equal(msg, "t.yaml:4:9: bad 'b'");
	free(msg);
	ydoc_free(d);
}

/* A JSON pointer names a node; one that leaves the tree stops at the
 * deepest node on its way. */
static void test_at_pointer(void **state)
{
	(void)state;
	char *err;
	struct ydoc *d = parse("a/b: {c~d: [x, {y: 1}]}\nlist: [p, q]\n", &err);
	assert_non_null(d);
	assert_ptr_equal(ynode_at(d->root, ""), d->root);
	const struct ynode *y = ynode_at(d->root, "/a~1b/c~0d/1/y");
	assert_int_equal(y->line, 1);
	assert_int_equal(y->col, 20);
	assert_string_equal(y->str, "1");
	assert_ptr_equal(ynode_at(d->root, "/list/1"), ynode_get(d->root, "list")->items[1]);
	/* Out of range, not an index, not a key: the deepest node found. */
	assert_ptr_equal(ynode_at(d->root, "/list/2"), ynode_get(d->root, "list"));
	assert_ptr_equal(ynode_at(d->root, "/list/01"), ynode_get(d->root, "list"));
	assert_ptr_equal(ynode_at(d->root, "/nope/x"), d->root);
	ydoc_free(d);
}

static void test_scalars(void **state)
{
	(void)state;
	char *err;
	struct ydoc *d = parse("[~, null, true, False, 12, -3.5, 0x1f, '12', \"true\", abc, '']", &err);
	assert_non_null(d);
	const struct ynode *const *it = (const struct ynode *const *)d->root->items;
	assert_true(ynode_is_null(it[0]));
	assert_true(ynode_is_null(it[1]));
	bool bv;
	assert_int_equal(ynode_bool(it[2], &bv), 0);
	assert_true(bv);
	assert_int_equal(ynode_bool(it[3], &bv), 0);
	assert_false(bv);
	double v;
	assert_int_equal(ynode_number(it[4], &v), 0);
	assert_true(v == 12);
	assert_int_equal(ynode_number(it[5], &v), 0);
	assert_true(v == -3.5);
	assert_int_equal(ynode_number(it[6], &v), 0);
	assert_true(v == 31);
	assert_int_equal(ynode_number(it[7], &v), -1); /* quoted: a string */
	assert_int_equal(ynode_bool(it[8], &bv), -1);
	assert_false(ynode_is_null(it[10]));           /* '' is a string */
	cJSON *j = ynode_to_json(d->root, &err);
	char *text = cJSON_PrintUnformatted(j);
	assert_string_equal(text, "[null,null,true,false,12,-3.5,31,\"12\",\"true\",\"abc\",\"\"]");
	free(text);
	cJSON_Delete(j);
	ydoc_free(d);
}

static void test_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{"a: 1\na: 2\n", "t.yaml:2:1: duplicate key 'a' (first at line 1)"},
		{"a: [1, 2\n", "t.yaml:2:1: "},
		{"a: *nope\n", "t.yaml:1:4: unknown alias"},
		{"{[1]: 2}\n", "t.yaml:1:2: mapping keys must be scalars"},
		{"a: b: c\n", "t.yaml:1:5: mapping values are not allowed"},
		{"\t- x\n", "t.yaml:1:1: found character that cannot start any token"},
		/* A NUL would cut a key or value short for every C string user. */
		{"a: 1\n\"threshold\\0\": 0.1\n", "t.yaml:2:1: NUL characters are not allowed"},
		{"a: \"ok\\x00 more\"\n", "t.yaml:1:4: NUL characters are not allowed"},
		{"- 'x'\n- \"\\u0000\"\n", "t.yaml:2:3: NUL characters are not allowed"},
		/* A second document is never silently dropped. */
		{"a: 1\n---\nb: 2\n", "t.yaml:2:1: only one YAML document is allowed"},
		{"--- {a: 1}\n--- {b: 2}\n", "t.yaml:2:1: only one YAML document is allowed"},
		{"a: 1\n...\n--- b\n", "t.yaml:3:1: only one YAML document is allowed"},
		{"a: 1\n---\n", "t.yaml:2:1: only one YAML document is allowed"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *err;
		struct ydoc *d = parse(cases[i].text, &err);
		assert_null(d);
		assert_non_null(err);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: got '%s', want prefix '%s'", i, err, cases[i].want);
		free(err);
	}
}

static void test_empty_and_aliases(void **state)
{
	(void)state;
	char *err;
	struct ydoc *d = parse("", &err);
	assert_non_null(d);
	assert_null(d->root);
	ydoc_free(d);
	d = parse("base: &b {x: 1}\nuse: *b\n", &err);
	assert_non_null(d);
	assert_ptr_equal(ynode_get(d->root, "base"), ynode_get(d->root, "use"));
	ydoc_free(d);
	/* A later anchor of the same name overrides the earlier one. */
	d = parse("a: &x 1\nb: *x\nc: &x 2\nd: *x\n", &err);
	assert_non_null(d);
	assert_string_equal(ynode_get(d->root, "b")->str, "1");
	assert_string_equal(ynode_get(d->root, "d")->str, "2");
	ydoc_free(d);
	/* One document, explicitly started or ended, is fine. */
	d = parse("--- {a: 1}\n...\n# the end\n", &err);
	assert_non_null(d);
	assert_string_equal(ynode_get(d->root, "a")->str, "1");
	ydoc_free(d);
}

/* Large mappings and many anchors load whole (bench/ynode_bench measures
 * that they load in linear time). */
static void test_large_documents(void **state)
{
	(void)state;
	char *err = NULL;
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 200000; i++)
		buf_addf(&b, "key%d: %d\n", i, i);
	struct ydoc *d = ydoc_parse("big.yaml", b.data, b.len, &err);
	if (!d)
		fail_msg("%s", err);
	assert_int_equal(d->root->n, 200000);
	assert_string_equal(ynode_get(d->root, "key199999")->str, "199999");
	ydoc_free(d);

	/* The index still finds a duplicate, however late it comes. */
	buf_addstr(&b, "key123456: again\n");
	assert_null(ydoc_parse("big.yaml", b.data, b.len, &err));
	assert_string_equal(err, "big.yaml:200001:1: duplicate key 'key123456' (first at line "
				 "123457)");
	free(err);
	buf_release(&b);

	buf_init(&b, 0);
	buf_addstr(&b, "anchors:\n");
	for (int i = 0; i < 100000; i++)
		buf_addf(&b, "  - &a%d {v: %d}\n", i, i);
	buf_addstr(&b, "aliases:\n");
	for (int i = 0; i < 100000; i++)
		buf_addf(&b, "  - *a%d\n", 99999 - i);
	d = ydoc_parse("anchors.yaml", b.data, b.len, &err);
	if (!d)
		fail_msg("%s", err);
	const struct ynode *anchors = ynode_get(d->root, "anchors");
	const struct ynode *aliases = ynode_get(d->root, "aliases");
	assert_int_equal(aliases->n, 100000);
	assert_ptr_equal(aliases->items[0], anchors->items[99999]);
	assert_ptr_equal(aliases->items[99999], anchors->items[0]);
	assert_string_equal(ynode_get(aliases->items[4242], "v")->str, "95757");
	ydoc_free(d);
	buf_release(&b);
}

/* laughs: levels of ten aliases of the level before, from a list of ten
 * scalars (level n expands to (10^(n+1) - 1) / 9 nodes), then a list of
 * `values` aliases of the last level. */
static void laughs(struct buf *b, int levels, int values)
{
	buf_init(b, 0);
	buf_addstr(b, "a: &a [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < levels; i++) {
		char c = (char)('a' + i), p = (char)('a' + i - 1);
		buf_addf(b, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c,
			 p, p, p, p, p, p, p, p, p, p);
	}
	buf_addstr(b, "values:\n");
	for (int i = 0; i < values; i++)
		buf_addf(b, "  - *%c\n", 'a' + levels - 1);
}

/* expect_refused: b's text does not parse, with exactly the error want; b
 * is released. */
static void expect_refused(struct buf *b, const char *want)
{
	char *err = NULL;
	assert_null(parse(b->data, &err));
	assert_string_equal(err, want);
	free(err);
	buf_release(b);
}

static void test_limits(void **state)
{
	(void)state;
	char *err;
	/* Nesting deeper than 64 is refused, not recursed into. */
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 200; i++)
		buf_addch(&b, '[');
	for (int i = 0; i < 200; i++)
		buf_addch(&b, ']');
	struct ydoc *d = parse(b.data, &err);
	assert_null(d);
	assert_non_null(strstr(err, "nesting deeper than 64"));
	free(err);
	buf_release(&b);
	/* A billion laughs is refused at the alias that takes the document,
	 * expanded, past a million nodes. */
	laughs(&b, 9, 0);
	expect_refused(&b, "t.yaml:6:36: document has more than a million nodes "
			   "(an alias counts as every node it repeats)");
}

/* The budget is the whole document's: values that each expand to 111,111
 * nodes, well under a million apiece, took gigabytes together. */
static void test_alias_budget_document_wide(void **state)
{
	(void)state;
	char *err = NULL;
	struct buf b;
	laughs(&b, 5, 7);
	struct ydoc *d = parse(b.data, &err);
	if (!d)
		fail_msg("%s", err);
	cJSON *j = ynode_to_json(d->root, &err);
	assert_non_null(j);
	cJSON_Delete(j);
	ydoc_free(d);
	buf_release(&b);
	laughs(&b, 5, 8);
	expect_refused(&b, "t.yaml:14:5: document has more than a million nodes "
			   "(an alias counts as every node it repeats)");

	/* Text counts too: one 1 MiB string repeated 63 times is 64 MiB. */
	buf_init(&b, 0);
	buf_addstr(&b, "a: &a ");
	for (int i = 0; i < 1 << 20; i++)
		buf_addch(&b, 'x');
	buf_addstr(&b, "\nb:\n");
	for (int i = 0; i < 63; i++)
		buf_addstr(&b, "  - *a\n");
	expect_refused(&b, "t.yaml:65:5: document has more than 64 MiB of text "
			   "(an alias counts as all the text it repeats)");
}

/* key_of: ynode_key() of the root of text. */
static char *key_of(const char *text)
{
	char *err;
	struct ydoc *d = parse(text, &err);
	assert_non_null(d);
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	assert_int_equal(ynode_key(d->root, &b), 0);
	ydoc_free(d);
	return buf_detach(&b, NULL);
}

static void test_key(void **state)
{
	(void)state;
	static const struct {
		const char *a, *b;
		bool same;
	} pairs[] = {
		{"{regex: x}", "\n\n  regex:   x\n", true},        /* place and layout do not count */
		{"{regex: 'x'}", "{regex: \"x\"}", true},           /* nor the kind of quotes */
		{"[a, {b: c}]", "- a\n- b: c\n", true},
		{"{a: &x [1]}", "{a: [1]}", true},                   /* an alias is what it repeats */
		{"{regex: x}", "{regex: y}", false},
		{"{a: true}", "{a: 'true'}", false},                 /* a plain scalar is typed */
		{"{a: 1, b: 2}", "{b: 2, a: 1}", false},
		{"[ab]", "[a, b]", false},
		{"{a: [b]}", "{a: b}", false},
		{"[[]]", "[{}]", false},
		{"{'1:p': x}", "{'1': 'p:x'}", false},               /* lengths keep texts apart */
	};
	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		char *a = key_of(pairs[i].a), *b = key_of(pairs[i].b);
		if ((strcmp(a, b) == 0) != pairs[i].same)
			fail_msg("%s vs %s: keys '%s' and '%s'", pairs[i].a, pairs[i].b, a, b);
		free(a);
		free(b);
	}

	/* a key longer than the buffer allows fails, and the buffer says so */
	char *err;
	struct ydoc *d = parse("{regex: a long pattern}", &err);
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(ynode_key(d->root, &b), -1);
	buf_release(&b);
	ydoc_free(d);
}

static const char *const lean_path[] = {"s", "*", "c", "*", NULL};
static const char *const lean_path_suite[] = {"strata", "*", "cases", "*", NULL};

/* key_text: ynode_key() of n, for comparing trees. */
static char *key_text(const struct ynode *n)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	assert_int_equal(ynode_key(n, &b), 0);
	return buf_detach(&b, NULL);
}

/* A lean parse keeps all but the items of the path, which a cursor gives
 * back whole, in order; the errors are those of a full parse. */
static void test_lean(void **state)
{
	(void)state;
	const char *text = "s:\n"
			   "  a:\n"
			   "    c:\n"
			   "      - {id: 1, x: [1, 2]}\n"
			   "      - plain\n"
			   "      - [list]\n"
			   "    d: {e: f}\n"
			   "  b: {c: [{id: 2}]}\n"
			   "c: [{kept: 1}]\n";
	char *err = NULL;
	struct ydoc *full = parse(text, &err);
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	struct ydoc *lean = ydoc_parse_lean("t.yaml", in, lean_path, &err);
	assert_non_null(full);
	assert_non_null(lean);
	const struct ynode *fa = ynode_get(ynode_get(full->root, "s"), "a");
	const struct ynode *la = ynode_get(ynode_get(lean->root, "s"), "a");
	const struct ynode *lc = ynode_get(la, "c");
	assert_int_equal(lc->n, 3);
	assert_true(lc->items[0]->dropped);
	assert_int_equal(lc->items[0]->kind, YNODE_MAP);
	assert_int_equal(lc->items[0]->n, 0);
	assert_int_equal(lc->items[0]->line, 4);
	assert_int_equal(lc->items[0]->col, 9);
	assert_false(lc->items[1]->dropped); /* a scalar is kept as it is */
	assert_string_equal(lc->items[1]->str, "plain");
	assert_true(lc->items[2]->dropped);
	assert_int_equal(lc->items[2]->kind, YNODE_SEQ);
	/* off the path, nothing is dropped */
	char *a = key_text(ynode_get(fa, "d")), *b = key_text(ynode_get(la, "d"));
	assert_string_equal(a, b);
	free(a);
	free(b);
	a = key_text(ynode_get(full->root, "c"));
	b = key_text(ynode_get(lean->root, "c"));
	assert_string_equal(a, b);
	free(a);
	free(b);

	/* the cursor rebuilds the dropped items in document order */
	const struct ynode *want[] = {ynode_get(fa, "c")->items[0], ynode_get(fa, "c")->items[2],
				      ynode_get(ynode_get(ynode_get(full->root, "s"), "b"), "c")
					      ->items[0]};
	const struct ynode *holders[] = {
		lc->items[0], lc->items[2],
		ynode_get(ynode_get(ynode_get(lean->root, "s"), "b"), "c")->items[0]};
	struct ycursor *cur = ycursor_new(lean, in);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_true(holders[i]->dropped);
		const struct ynode *n = ycursor_next(cur, holders[i], &err);
		assert_non_null(n);
		assert_false(n->dropped);
		assert_int_equal(n->line, want[i]->line);
		a = key_text(want[i]);
		b = key_text(n);
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	/* past the last item, or at another place, it says so */
	assert_null(ycursor_next(cur, holders[0], &err));
	assert_string_equal(err, "t.yaml:4:9: cannot read this item again");
	free(err);
	ycursor_free(cur);
	cur = ycursor_new(lean, in);
	err = NULL;
	assert_null(ycursor_next(cur, holders[1], &err));
	assert_string_equal(err, "t.yaml:6:9: cannot read this item again");
	free(err);
	ycursor_free(cur);
	ydoc_free(full);
	ydoc_free(lean);
	fclose(in);

	/* an error in a dropped item is the full parse's */
	const char *bad = "s: {a: {c: [{id: 1}, {id: 2, id: 3}]}}\n";
	char *full_err = NULL;
	assert_null(parse(bad, &full_err));
	in = fmemopen((void *)bad, strlen(bad), "r");
	assert_null(ydoc_parse_lean("t.yaml", in, lean_path, &err));
	fclose(in);
	assert_string_equal(err, full_err);
	free(err);
	free(full_err);

	/* an anchor or alias in an item: parsed in full */
	static const char *const shared[] = {
		"s: {a: {c: [&x {id: 1}, {id: 2}]}}\n",
		"s: {a: {c: [{id: &x 1}, {id: *x}]}}\n",
		"x: &x {id: 1}\ns: {a: {c: [*x]}}\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(shared); i++) {
		in = fmemopen((void *)shared[i], strlen(shared[i]), "r");
		struct ydoc *d = ydoc_parse_lean("t.yaml", in, lean_path, &err);
		fclose(in);
		assert_non_null(d);
		const struct ynode *c = ynode_get(ynode_get(ynode_get(d->root, "s"), "a"), "c");
		for (size_t j = 0; j < c->n; j++)
			assert_false(c->items[j]->dropped);
		ydoc_free(d);
	}
}

/* write_file: text as the whole of path, written in place (same inode). */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "r+");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

/* read_twice: a lean parse of in, then (after edit, when not NULL, writes
 * path) its cursor over the two items; what ycursor_end() says (0 or -1
 * and *err), or -2 and *err when an item could not be read. */
static int read_twice(FILE *in, const char *path, const char *edit, char **err)
{
	struct ydoc *lean = ydoc_parse_lean("t.yaml", in, lean_path, err);
	assert_non_null(lean);
	const struct ynode *c = ynode_get(ynode_get(ynode_get(lean->root, "s"), "a"), "c");
	assert_int_equal(c->n, 2);
	if (edit)
		write_file(path, edit);
	struct ycursor *cur = ycursor_new(lean, in);
	int rc = 0;
	for (size_t i = 0; i < c->n && rc == 0; i++)
		if (!ycursor_next(cur, c->items[i], err))
			rc = -2;
	if (rc == 0)
		rc = ycursor_end(cur, err);
	ycursor_free(cur);
	ydoc_free(lean);
	return rc;
}

/* A file edited in place between the lean parse and its cursor is an
 * error, however the edit moves the items; a new file renamed over it is
 * not read (the file stays open), so the two readings agree. */
static void test_cursor_changed(void **state)
{
	(void)state;
	const char *text = "s:\n  a:\n    c:\n      - {id: 1}\n      - {id: 2}\n";
	const char *changed = "t.yaml: the file changed while it was read (nothing of it was "
			      "loaded)";
	char path[] = "/tmp/canary-ynode-XXXXXX", other[] = "/tmp/canary-ynode-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	write_file(path, text);
	FILE *in = fopen(path, "r");
	assert_non_null(in);
	char *err = NULL;
	assert_int_equal(read_twice(in, path, NULL, &err), 0);
	assert_null(err);
	/* the same size, one byte other: the items read, their end does not */
	assert_int_equal(read_twice(in, path, "s:\n  a:\n    c:\n      - {id: 1}\n      - {id: 3}\n",
				    &err), -1);
	assert_string_equal(err, changed);
	free(err);
	err = NULL;
	/* a line more before the items: the first is not where it was */
	assert_int_equal(read_twice(in, path,
				    "s:\n  a:\n    c:\n\n      - {id: 1}\n      - {id: 2}\n", &err),
			 -2);
	assert_string_equal(err, changed);
	free(err);
	err = NULL;
	/* longer at the end only: the items read, their end does not */
	assert_int_equal(read_twice(in, path,
				    "s:\n  a:\n    c:\n\n      - {id: 1}\n      - {id: 2}\n#\n",
				    &err),
			 -1);
	assert_string_equal(err, changed);
	free(err);
	err = NULL;
	/* an editor's save: a new file renamed over the path */
	fd = mkstemp(other);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	write_file(other, "s: {a: {c: [{id: 9}]}}\n");
	assert_int_equal(rename(other, path), 0);
	assert_int_equal(read_twice(in, path, NULL, &err), 0);
	assert_null(err);
	fclose(in);
	assert_int_equal(unlink(path), 0);
}

/* check_lean: a lean parse of text has the full parse's result or error,
 * and its cursor gives back every case the full tree holds. */
static void check_lean(const char *name, const char *text, size_t len)
{
	char *full_err = NULL, *err = NULL;
	struct ydoc *full = ydoc_parse(name, text, len, &full_err);
	FILE *in = fmemopen((void *)text, len, "r");
	struct ydoc *lean = ydoc_parse_lean(name, in, lean_path_suite, &err);
	if (!full || !lean) {
		if (full || lean || strcmp(full_err, err) != 0)
			fail_msg("%s: full parse '%s', lean parse '%s'", name,
				 full ? "ok" : full_err, lean ? "ok" : err);
		free(full_err);
		free(err);
		ydoc_free(full);
		ydoc_free(lean);
		fclose(in);
		return;
	}
	struct ycursor *cur = ycursor_new(lean, in);
	const struct ynode *fs = ynode_get(full->root, "strata");
	const struct ynode *ls = ynode_get(lean->root, "strata");
	for (size_t i = 0; fs && fs->kind == YNODE_MAP && i < fs->n; i++) {
		const struct ynode *fc = ynode_get(fs->items[2 * i + 1], "cases");
		const struct ynode *lc = ynode_get(ls->items[2 * i + 1], "cases");
		for (size_t j = 0; fc && fc->kind == YNODE_SEQ && j < fc->n; j++) {
			const struct ynode *n = lc->items[j];
			if (n->dropped && !(n = ycursor_next(cur, n, &err)))
				fail_msg("%s: %s", name, err);
			char *a = key_text(fc->items[j]), *b = key_text(n);
			if (strcmp(a, b) != 0)
				fail_msg("%s: case %zu of stratum %zu differs", name, j, i);
			free(a);
			free(b);
		}
	}
	if (ycursor_end(cur, &err) < 0)
		fail_msg("%s: %s", name, err);
	ycursor_free(cur);
	fclose(in);
	ydoc_free(full);
	ydoc_free(lean);
}

/* Every suite fixture, valid or broken, parses lean as it parses in full. */
static void test_lean_fixtures(void **state)
{
	(void)state;
	const char *root = getenv("FIXTURES");
	static const char *const dirs[] = {"suites", "suites/errors"};
	size_t files = 0;
	for (size_t d = 0; d < ARRAY_SIZE(dirs); d++) {
		char *dir = xasprintf("%s/%s", root ? root : "../tests/fixtures", dirs[d]);
		DIR *dp = opendir(dir);
		assert_non_null(dp);
		struct dirent *e;
		while ((e = readdir(dp))) {
			size_t n = strlen(e->d_name);
			if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
				continue;
			char *path = xasprintf("%s/%s", dir, e->d_name);
			char *err = NULL;
			size_t len;
			char *text = util_read_file(path, (size_t)16 << 20, &len, &err);
			assert_non_null(text);
			check_lean(path, text, len);
			free(text);
			free(path);
			files++;
		}
		closedir(dp);
		free(dir);
	}
	assert_true(files > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_positions_and_lookup),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_lean),
		cmocka_unit_test(test_lean_fixtures),
		cmocka_unit_test(test_at_pointer),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_empty_and_aliases),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_alias_budget_document_wide),
		cmocka_unit_test(test_large_documents),
		cmocka_unit_test(test_cursor_changed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
