/* ynode.c: build a positioned YAML tree from libyaml's event stream. */
#include "ynode.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define YNODE_MAX_DEPTH 64
#define YNODE_MAX_NODES 1000000
#define YNODE_MAX_TEXT ((size_t)64 << 20)
/* A mapping gets a hash index of its keys once it holds this many. */
#define KEY_INDEX_MIN 16

struct frame {
	struct ynode *node;
	char *anchor;
	size_t nodes, text;  /* the document's expanded size when the node began */
	struct ynode **items;
	size_t n, cap;
	size_t *keys;      /* map: open-addressing index of items[] positions + 1 */
	size_t kcap;       /* slots of keys (a power of two), 0 before the index */
};

struct anchor {
	char *name;        /* NULL: a free slot */
	struct ynode *node;
	size_t nodes, text; /* what the node expands to: nodes, scalar bytes */
};

struct builder {
	struct ydoc *doc;
	struct arena *arena;       /* where nodes go: the doc's, or scratch within a lean item */
	struct arena scratch;      /* the lean item being built */
	const char *const *lean;   /* the path of the items to drop, or NULL */
	int lean_depth;            /* the stack depth of the lean item being built, or -1 */
	bool yield;                /* a cursor's: stop at each finished lean item */
	struct ynode *yielded;     /* that item, built in scratch */
	struct ynode *placeholder; /* what a cursor's tree holds for every such item */
	struct frame stack[YNODE_MAX_DEPTH + 1];
	int depth;
	struct anchor *anchors; /* open addressing, acap slots (a power of two) */
	size_t nanchors, acap;
	size_t nodes;      /* the document with every alias expanded: nodes, */
	size_t text;       /* and bytes of scalar text */
	int documents;
};

char *ynode_error(const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	char *s = xasprintf("%s:%d:%d: %s", n->file, n->line, n->col, msg);
	free(msg);
	return s;
}

static char *mark_error(const struct ydoc *doc, yaml_mark_t m, const char *what)
{
	return xasprintf("%s:%zu:%zu: %s", doc->file, m.line + 1, m.column + 1, what);
}

static struct ynode *new_node(struct builder *b, enum ynode_kind kind, yaml_mark_t m)
{
	struct ynode *n = arena_alloc(b->arena, sizeof(*n));
	n->kind = kind;
	n->file = b->doc->file;
	n->line = (int)m.line + 1;
	n->col = (int)m.column + 1;
	return n;
}

/* grow: add what a node, or an alias, adds to the expanded document (at
 * mark m); -1 past the limits, which bound every walk of the tree and every
 * conversion to JSON, however its aliases are shared out. */
static int grow(struct builder *b, size_t nodes, size_t text, yaml_mark_t m, char **err)
{
	b->nodes += nodes;
	b->text += text;
	if (b->nodes > YNODE_MAX_NODES)
		*err = mark_error(b->doc, m, "document has more than a million nodes "
					     "(an alias counts as every node it repeats)");
	else if (b->text > YNODE_MAX_TEXT)
		*err = mark_error(b->doc, m, "document has more than 64 MiB of text "
					     "(an alias counts as all the text it repeats)");
	else
		return 0;
	return -1;
}

static size_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return (size_t)h;
}

/* anchor_slot: the slot holding name, or the free slot where it belongs. */
static struct anchor *anchor_slot(struct anchor *slots, size_t cap, const char *name)
{
	size_t i = hash_bytes(name, strlen(name)) & (cap - 1);
	while (slots[i].name && strcmp(slots[i].name, name) != 0)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static void add_anchor(struct builder *b, const char *name, struct ynode *n, size_t nodes,
		       size_t text)
{
	if (2 * (b->nanchors + 1) > b->acap) {
		size_t cap = b->acap ? 2 * b->acap : 64;
		struct anchor *slots = xcalloc(cap, sizeof(*slots));
		for (size_t i = 0; i < b->acap; i++)
			if (b->anchors[i].name)
				*anchor_slot(slots, cap, b->anchors[i].name) = b->anchors[i];
		free(b->anchors);
		b->anchors = slots;
		b->acap = cap;
	}
	struct anchor *a = anchor_slot(b->anchors, b->acap, name);
	if (!a->name) {
		a->name = xstrdup(name);
		b->nanchors++;
	}
	/* YAML lets a later anchor override */
	a->node = n;
	a->nodes = nodes;
	a->text = text;
}

static const struct anchor *find_anchor(struct builder *b, const char *name)
{
	if (!b->acap)
		return NULL;
	struct anchor *a = anchor_slot(b->anchors, b->acap, name);
	return a->name ? a : NULL;
}

static bool same_key(const struct ynode *a, const struct ynode *b)
{
	return a->kind == YNODE_SCALAR && b->kind == YNODE_SCALAR && a->len == b->len &&
	       memcmp(a->str, b->str, a->len) == 0;
}

/* key_slot: the index slot of key n in map frame f: the one holding an
 * equal key, or the free one where n belongs. */
static size_t *key_slot(const struct frame *f, size_t *slots, size_t cap, const struct ynode *n)
{
	size_t i = hash_bytes(n->str, n->len) & (cap - 1);
	while (slots[i] && !same_key(f->items[slots[i] - 1], n))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

/* earlier_key: the key of map frame f equal to n, about to be added, or
 * NULL; a scan while the mapping is small, a hash index (which records n)
 * once it is not, so that a large mapping loads in linear time. */
static const struct ynode *earlier_key(struct frame *f, const struct ynode *n)
{
	size_t nkeys = f->n / 2;
	if (nkeys < KEY_INDEX_MIN) {
		for (size_t i = 0; i < f->n; i += 2)
			if (same_key(f->items[i], n))
				return f->items[i];
		return NULL;
	}
	if (2 * (nkeys + 1) > f->kcap) {
		size_t cap = f->kcap ? 2 * f->kcap : 4 * KEY_INDEX_MIN;
		size_t *slots = xcalloc(cap, sizeof(*slots));
		for (size_t i = 0; i < f->n; i += 2)
			*key_slot(f, slots, cap, f->items[i]) = i + 1;
		free(f->keys);
		f->keys = slots;
		f->kcap = cap;
	}
	size_t *slot = key_slot(f, f->keys, f->kcap, n);
	if (*slot)
		return f->items[*slot - 1];
	*slot = f->n + 1;
	return NULL;
}

/* at_lean: whether a node that begins now is an item of the lean path:
 * each open mapping is at the value of the path's key ("*": any) and each
 * open sequence at an item (the path says "*"). */
static bool at_lean(const struct builder *b)
{
	if (!b->lean || b->lean_depth >= 0)
		return false;
	int d = 0;
	for (; b->lean[d]; d++) {
		if (d >= b->depth)
			return false;
		const struct frame *f = &b->stack[d];
		bool any = strcmp(b->lean[d], "*") == 0;
		if (f->node->kind == YNODE_MAP) {
			if (f->n % 2 == 0 || (!any && strcmp(f->items[f->n - 1]->str, b->lean[d]) != 0))
				return false;
		} else if (!any) {
			return false;
		}
	}
	return d == b->depth;
}

/* Attach a finished node to the container on top of the stack, or make it
 * the root; a duplicate mapping key is an error. */
static int attach(struct builder *b, struct ynode *n, char **err)
{
	if (b->depth == 0) {
		b->doc->root = n;
		return 0;
	}
	struct frame *f = &b->stack[b->depth - 1];
	if (f->node->kind == YNODE_MAP && f->n % 2 == 0) {
		if (n->kind != YNODE_SCALAR) {
			*err = ynode_error(n, "mapping keys must be scalars");
			return -1;
		}
		const struct ynode *first = earlier_key(f, n);
		if (first) {
			*err = ynode_error(n, "duplicate key '%s' (first at line %d)", n->str,
					   first->line);
			return -1;
		}
	}
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->items = xreallocarray(f->items, f->cap, sizeof(*f->items));
	}
	f->items[f->n++] = n;
	return 0;
}

static int push(struct builder *b, struct ynode *n, const char *anchor, char **err)
{
	if (b->depth >= YNODE_MAX_DEPTH) {
		*err = ynode_error(n, "nesting deeper than %d levels", YNODE_MAX_DEPTH);
		return -1;
	}
	struct frame *f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->node = n;
	f->anchor = anchor ? xstrdup(anchor) : NULL;
	f->nodes = b->nodes;
	f->text = b->text;
	return 0;
}

static int pop(struct builder *b, char **err)
{
	struct frame *f = &b->stack[--b->depth];
	struct ynode *n = f->node;
	n->items = arena_alloc(b->arena, (f->n ? f->n : 1) * sizeof(*n->items));
	if (f->n)
		memcpy(n->items, f->items, f->n * sizeof(*n->items));
	n->n = n->kind == YNODE_MAP ? f->n / 2 : f->n;
	free(f->items);
	free(f->keys);
	f->keys = NULL;
	f->kcap = 0;
	if (f->anchor) {
		add_anchor(b, f->anchor, n, b->nodes - f->nodes + 1, b->text - f->text);
		free(f->anchor);
	}
	f->items = NULL;
	f->anchor = NULL;
	if (b->depth == b->lean_depth) {
		/* the lean item is whole and checked: its parent keeps a
		 * placeholder (a cursor's, which nothing reads, one for all) */
		struct ynode *kept = n;
		b->arena = &b->doc->arena;
		b->lean_depth = -1;
		n = b->yield ? b->placeholder : NULL;
		if (!n) {
			n = new_node(b, kept->kind, (yaml_mark_t){0});
			n->line = kept->line;
			n->col = kept->col;
			n->dropped = true;
		}
		if (b->yield) {
			b->placeholder = n;
			b->yielded = kept;
		} else {
			arena_release(&b->scratch);
		}
	}
	return attach(b, n, err);
}

/* handle() gives it when a lean parse meets an anchor or an alias in an
 * item it would drop: such a document is parsed in full instead. */
#define YNODE_REFUSED 2

/* Feed one event into the builder; 1 at the end of the stream. */
static int handle(struct builder *b, yaml_event_t *ev, char **err)
{
	struct ynode *n;
	const struct anchor *a;
	const char *anchor;
	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_DOCUMENT_END_EVENT:
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1) {
			*err = mark_error(b->doc, ev->start_mark,
					  "only one YAML document is allowed");
			return -1;
		}
		return 0;
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_SCALAR_EVENT:
		/* A NUL would cut the text short for every C string user. */
		if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
			*err = mark_error(b->doc, ev->start_mark, "NUL characters are not allowed");
			return -1;
		}
		if (grow(b, 1, ev->data.scalar.length, ev->start_mark, err) < 0)
			return -1;
		n = new_node(b, YNODE_SCALAR, ev->start_mark);
		n->str = arena_strndup(b->arena, (const char *)ev->data.scalar.value,
				       ev->data.scalar.length);
		n->len = ev->data.scalar.length;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
			   !(ev->data.scalar.tag &&
			     strcmp((const char *)ev->data.scalar.tag, YAML_STR_TAG) == 0);
		if (ev->data.scalar.anchor && b->lean_depth >= 0)
			return YNODE_REFUSED;
		if (ev->data.scalar.anchor)
			add_anchor(b, (const char *)ev->data.scalar.anchor, n, 1, n->len);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)(ev->type == YAML_SEQUENCE_START_EVENT
						? ev->data.sequence_start.anchor
						: ev->data.mapping_start.anchor);
		if (grow(b, 1, 0, ev->start_mark, err) < 0)
			return -1;
		if (at_lean(b)) {
			b->lean_depth = b->depth;
			b->arena = &b->scratch;
		}
		if (anchor && b->lean_depth >= 0)
			return YNODE_REFUSED;
		n = new_node(b, ev->type == YAML_SEQUENCE_START_EVENT ? YNODE_SEQ : YNODE_MAP,
			     ev->start_mark);
		return push(b, n, anchor, err);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return pop(b, err);
	case YAML_ALIAS_EVENT:
		if (b->lean_depth >= 0 || at_lean(b))
			return YNODE_REFUSED;
		a = find_anchor(b, (const char *)ev->data.alias.anchor);
		if (!a) {
			*err = mark_error(b->doc, ev->start_mark, "unknown alias");
			return -1;
		}
		if (grow(b, a->nodes, a->text, ev->start_mark, err) < 0)
			return -1;
		n = a->node;
		break;
	default:
		return 0;
	}
	return attach(b, n, err) < 0 ? -1 : 0;
}

/* A file being read, and the FNV-1a hash and size of what was read. */
struct yinput {
	FILE *in;
	uint64_t hash;
	size_t size;
};

/* input_add: fold n bytes of buf into r's hash and size. */
static void input_add(struct yinput *r, const unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		r->hash ^= buf[i];
		r->hash *= 1099511628211ull;
	}
	r->size += n;
}

/* read_input: libyaml's read handler, reading r's file through its hash. */
static int read_input(void *data, unsigned char *buf, size_t size, size_t *size_read)
{
	struct yinput *r = data;
	*size_read = fread(buf, 1, size, r->in);
	input_add(r, buf, *size_read);
	return !ferror(r->in);
}

/* input_drain: read the rest of r's file through its hash, as far as
 * libyaml did not; whether that read all of it. */
static bool input_drain(struct yinput *r)
{
	unsigned char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), r->in)) > 0)
		input_add(r, buf, n);
	return !ferror(r->in);
}

/* A libyaml parser feeding a builder. */
struct yparser {
	yaml_parser_t parser;
	struct yinput input;       /* in: what it reads */
	struct builder b;
};

/* yparser_init: parse data[0..len), or in from its start when in is not
 * NULL, into a new document, dropping the items of lean (NULL: none); -1
 * and *err when libyaml cannot start. */
static int yparser_init(struct yparser *p, const char *file, const char *data, size_t len,
			FILE *in, const char *const *lean, char **err)
{
	memset(p, 0, sizeof(*p));
	if (!yaml_parser_initialize(&p->parser)) {
		*err = xasprintf("%s: cannot initialise the YAML parser", file);
		return -1;
	}
	if (in) {
		rewind(in);
		p->input = (struct yinput){.in = in, .hash = 14695981039346656037ull};
		yaml_parser_set_input(&p->parser, read_input, &p->input);
	} else {
		yaml_parser_set_input_string(&p->parser, (const unsigned char *)data, len);
	}
	p->b.doc = xcalloc(1, sizeof(*p->b.doc));
	p->b.doc->file = xstrdup(file);
	p->b.arena = &p->b.doc->arena;
	p->b.lean = lean;
	p->b.lean_depth = -1;
	return 0;
}

/* yparser_run: feed events to the builder until the end of the document
 * (1), a lean item finished when yielding (0, in b.yielded), an error (-1
 * and *err) or a refusal (YNODE_REFUSED). */
static int yparser_run(struct yparser *p, char **err)
{
	struct builder *b = &p->b;
	b->yielded = NULL;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p->parser, &ev)) {
			yaml_mark_t m = p->parser.problem_mark;
			const char *problem = p->parser.problem ? p->parser.problem : "invalid YAML";
			if (p->parser.context)
				*err = xasprintf("%s:%zu:%zu: %s %s", b->doc->file, m.line + 1,
						 m.column + 1, problem, p->parser.context);
			else
				*err = mark_error(b->doc, m, problem);
			return -1;
		}
		int rc = handle(b, &ev, err);
		yaml_event_delete(&ev);
		if (rc != 0 || b->yielded)
			return rc;
	}
}

/* yparser_release: free the parser and the builder's state; the document
 * goes too unless it was taken (b.doc set to NULL). */
static void yparser_release(struct yparser *p)
{
	struct builder *b = &p->b;
	yaml_parser_delete(&p->parser);
	while (b->depth > 0) {
		struct frame *f = &b->stack[--b->depth];
		free(f->items);
		free(f->keys);
		free(f->anchor);
	}
	for (size_t i = 0; i < b->acap; i++)
		free(b->anchors[i].name);
	free(b->anchors);
	arena_release(&b->scratch);
	ydoc_free(b->doc);
}

/* parse: the whole document, its lean items dropped; YNODE_REFUSED as
 * yparser_run() gives it. */
static struct ydoc *parse(const char *file, const char *data, size_t len, FILE *in,
			  const char *const *lean, int *rc, char **err)
{
	struct yparser p;
	struct ydoc *doc = NULL;
	*rc = yparser_init(&p, file, data, len, in, lean, err);
	if (*rc == 0)
		*rc = yparser_run(&p, err);
	if (*rc == 1 && in && !input_drain(&p.input)) {
		*err = xasprintf("%s: cannot read the file: %s", file, strerror(errno));
		*rc = -1;
	}
	if (*rc == 1) {
		doc = p.b.doc;
		p.b.doc = NULL;
		doc->lean = lean;
		doc->hash = p.input.hash;
		doc->size = p.input.size;
	}
	yparser_release(&p);
	return doc;
}

struct ydoc *ydoc_parse(const char *file, const char *data, size_t len, char **err)
{
	int rc;
	return parse(file, data, len, NULL, NULL, &rc, err);
}

struct ydoc *ydoc_parse_lean(const char *file, FILE *in, const char *const *lean, char **err)
{
	int rc;
	struct ydoc *doc = parse(file, NULL, 0, in, lean, &rc, err);
	if (rc == YNODE_REFUSED)
		doc = parse(file, NULL, 0, in, NULL, &rc, err);
	return doc;
}

struct ycursor {
	struct yparser p;
	const struct ydoc *doc;    /* the lean parse it reads the items of */
	bool ready;                /* p was set up */
	bool done;                 /* no more items: the end, or a failure */
	int changed;               /* -1 unknown, else whether in read differently */
};

struct ycursor *ycursor_new(const struct ydoc *doc, FILE *in)
{
	struct ycursor *c = xcalloc(1, sizeof(*c));
	char *err = NULL;
	c->doc = doc;
	c->changed = -1;
	c->ready = doc->lean && yparser_init(&c->p, doc->file, NULL, 0, in, doc->lean, &err) == 0;
	c->done = !c->ready;
	c->p.b.yield = true;
	free(err);
	return c;
}

/* changed: whether the text read to the end is not the text the lean parse
 * read (unreadable counts as changed). */
static bool changed(struct ycursor *c)
{
	if (c->changed < 0)
		c->changed = !input_drain(&c->p.input) ||
			     c->p.input.hash != c->doc->hash || c->p.input.size != c->doc->size;
	return c->changed;
}

/* changed_error: the error of a file that changed between the readings. */
static char *changed_error(const struct ycursor *c)
{
	return xasprintf("%s: the file changed while it was read (nothing of it was loaded)",
			 c->doc->file);
}

const struct ynode *ycursor_next(struct ycursor *c, const struct ynode *placeholder, char **err)
{
	char *why = NULL;
	arena_release(&c->p.b.scratch);
	int rc = c->done ? 1 : yparser_run(&c->p, &why);
	struct ynode *n = c->p.b.yielded;
	if (rc != 0 || !n || n->line != placeholder->line || n->col != placeholder->col) {
		c->done = true;
		if (c->ready && changed(c))
			*err = changed_error(c);
		else /* past the last item, or the parse was not lean */
			*err = ynode_error(placeholder, "cannot read this item again%s%s",
					   why ? ": " : "", why ? why : "");
		free(why);
		return NULL;
	}
	return n;
}

int ycursor_end(struct ycursor *c, char **err)
{
	if (!c || !c->ready || !changed(c))
		return 0;
	*err = changed_error(c);
	return -1;
}

void ycursor_free(struct ycursor *c)
{
	if (!c)
		return;
	if (c->ready)
		yparser_release(&c->p);
	free(c);
}

void ydoc_free(struct ydoc *doc)
{
	if (!doc)
		return;
	arena_release(&doc->arena);
	free(doc->file);
	free(doc);
}

const struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->items[2 * i];
		if (strcmp(k->str, key) == 0)
			return map->items[2 * i + 1];
	}
	return NULL;
}

int ynode_check_keys(const struct ynode *map, const char *const *keys, const char *where,
		     char **err)
{
	for (size_t i = 0; map && map->kind == YNODE_MAP && i < map->n; i++) {
		const struct ynode *k = map->items[2 * i];
		bool known = false;
		for (size_t j = 0; keys[j] && !known; j++)
			known = strcmp(k->str, keys[j]) == 0;
		if (known)
			continue;
		const char *hint = util_suggest(k->str, keys);
		if (hint) {
			*err = ynode_error(k, "unknown key '%.64s' %s (did you mean '%s'?)", k->str,
					   where, hint);
		} else {
			char *list = util_join(keys, ", ");
			*err = ynode_error(k, "unknown key '%.64s' %s (keys: %s)", k->str, where, list);
			free(list);
		}
		return -1;
	}
	return 0;
}

const char *ynode_kind_name(enum ynode_kind k)
{
	switch (k) {
	case YNODE_SCALAR:
		return "a scalar";
	case YNODE_SEQ:
		return "a list";
	case YNODE_MAP:
		return "a mapping";
	}
	return "?";
}

bool ynode_is_null(const struct ynode *n)
{
	if (!n || n->kind != YNODE_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

int ynode_bool(const struct ynode *n, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE"};
	static const char *const no[] = {"false", "False", "FALSE"};
	if (!n || n->kind != YNODE_SCALAR || !n->plain)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(n->str, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(n->str, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

int ynode_number(const struct ynode *n, double *out)
{
	if (!n || n->kind != YNODE_SCALAR || !n->plain || n->len == 0)
		return -1;
	const char *s = n->str;
	if (strcmp(s, ".inf") == 0 || strcmp(s, "+.inf") == 0 || strcmp(s, "-.inf") == 0 ||
	    strcmp(s, ".nan") == 0)
		return -1; /* not representable in JSON */
	/* Core schema: decimal, 0o octal, 0x hex integers, and floats. */
	errno = 0;
	char *end;
	double v;
	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0o", 2) == 0) {
		if (!s[2])
			return -1;
		unsigned long long u = strtoull(s + 2, &end, s[1] == 'x' ? 16 : 8);
		v = (double)u;
	} else {
		const char *p = s;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9') && !(*p == '.' && p[1] >= '0' && p[1] <= '9'))
			return -1;
		v = strtod(s, &end);
	}
	if (*end || errno == ERANGE || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

static cJSON *to_json(const struct ynode *n, size_t *budget, char **err)
{
	if ((*budget)-- == 0) {
		*err = ynode_error(n, "value expands to more than a million nodes");
		return NULL;
	}
	if (n->kind == YNODE_SCALAR) {
		bool bv;
		double d;
		if (ynode_is_null(n))
			return cJSON_CreateNull();
		if (ynode_bool(n, &bv) == 0)
			return cJSON_CreateBool(bv);
		if (ynode_number(n, &d) == 0)
			return cJSON_CreateNumber(d);
		return cJSON_CreateString(n->str);
	}
	cJSON *out = n->kind == YNODE_SEQ ? cJSON_CreateArray() : cJSON_CreateObject();
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *v = n->kind == YNODE_SEQ ? n->items[i] : n->items[2 * i + 1];
		cJSON *c = to_json(v, budget, err);
		if (!c) {
			cJSON_Delete(out);
			return NULL;
		}
		if (n->kind == YNODE_SEQ)
			cJSON_AddItemToArray(out, c);
		else
			cJSON_AddItemToObject(out, n->items[2 * i]->str, c);
	}
	return out;
}

cJSON *ynode_to_json(const struct ynode *n, char **err)
{
	size_t budget = YNODE_MAX_NODES;
	return to_json(n, &budget, err);
}

int ynode_key(const struct ynode *n, struct buf *out)
{
	if (n->kind == YNODE_SCALAR) {
		/* the length first: no scalar text can look like a structure */
		if (buf_addf(out, "%c%zu:", n->plain ? 'p' : 'q', n->len) < 0)
			return -1;
		return buf_add(out, n->str, n->len);
	}
	size_t count = n->kind == YNODE_MAP ? 2 * n->n : n->n;
	if (buf_addf(out, "%c%zu:", n->kind == YNODE_MAP ? 'm' : 's', n->n) < 0)
		return -1;
	for (size_t i = 0; i < count; i++)
		if (ynode_key(n->items[i], out) < 0)
			return -1;
	return 0;
}

const struct ynode *ynode_at(const struct ynode *root, const char *ptr)
{
	const struct ynode *n = root;
	const char *p = ptr;
	while (n && *p == '/') {
		p++;
		size_t len = strcspn(p, "/");
		struct buf tok;
		buf_init(&tok, BUF_MAX_DEFAULT);
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1')) {
				buf_addch(&tok, p[i + 1] == '0' ? '~' : '/');
				i++;
			} else {
				buf_addch(&tok, p[i]);
			}
		}
		const char *t = tok.data ? tok.data : "";
		const struct ynode *next = NULL;
		if (n->kind == YNODE_MAP) {
			for (size_t i = 0; i < n->n && !next; i++) {
				const struct ynode *k = n->items[2 * i];
				if (k->len == tok.len && memcmp(k->str, t, tok.len) == 0)
					next = n->items[2 * i + 1];
			}
		} else if (n->kind == YNODE_SEQ && tok.len > 0 && tok.len < 10 &&
			   strspn(t, "0123456789") == tok.len && (t[0] != '0' || tok.len == 1)) {
			size_t i = (size_t)strtoul(t, NULL, 10);
			if (i < n->n)
				next = n->items[i];
		}
		buf_release(&tok);
		if (!next)
			break;
		n = next;
		p += len;
	}
	return n;
}
