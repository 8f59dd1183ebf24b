/* schema/jsonschema.c: JSON Schema draft 2020-12 and draft-07 over cJSON.
 *
 * Compiling walks the schema once into a graph of struct js_node, one per
 * subschema, memoised by the cJSON node it came from so that $ref cycles
 * are edges, not copies.  $id, $anchor and $dynamicAnchor are registered
 * on the way; every $ref is resolved afterwards from a queue, loading local
 * documents when needed.  Validation walks the graph; it tracks evaluated
 * properties and items (for unevaluated*) only under a schema that has
 * unevaluatedProperties or unevaluatedItems, and records errors only where
 * a failure makes the whole instance fail.
 */
#include "schema/jsonschema.h"

#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonptr.h"
#include "rx.h"
#include "util.h"
#include "ynode.h"

#define JS_MAX_SCHEMA_DEPTH 200   /* nested subschemas in one document */
#define JS_MAX_JSON_DEPTH 512     /* nesting of a schema document; of values compared */
#define JS_MAX_EVAL_DEPTH 1000    /* nested subschema evaluations while validating */
#define JS_POLL_STEPS 4096        /* validation looks at the stop flag this often */
#define JS_MAX_DOCS 100           /* documents loaded by $ref */
#define JS_MAX_FILE ((size_t)16 << 20)
#define JS_HASH_DEPTH 64
#define JS_SMALL_PAIRS 32         /* uniqueItems compares pairwise up to this many items */
#define JS_QUOTE_MAX 120          /* enum and const values quoted in messages up to this */
#define JS_REMOTES "http://localhost:1234/"
#define JS_ROOT_URI "canary:/schema"  /* the root's base URI without a base_dir */

enum {
	T_NULL = 1 << 0,
	T_BOOLEAN = 1 << 1,
	T_OBJECT = 1 << 2,
	T_ARRAY = 1 << 3,
	T_NUMBER = 1 << 4,
	T_INTEGER = 1 << 5,
	T_STRING = 1 << 6,
};

static const char *const type_names[] = {
	"null", "boolean", "object", "array", "number", "integer", "string", NULL,
};

enum {
	N_BOOL = 1 << 0,        /* a boolean schema; N_TRUE says which */
	N_TRUE = 1 << 1,
	N_MAXIMUM = 1 << 2,
	N_EX_MAXIMUM = 1 << 3,
	N_MINIMUM = 1 << 4,
	N_EX_MINIMUM = 1 << 5,
	N_UNIQUE = 1 << 6,
	N_ITEMS_ARRAY = 1 << 7, /* draft-07 items as an array: additionalItems applies */
	N_META = 1 << 8,        /* a draft's metaschema: the value must compile as a schema */
};

/* Keyword flags in the keyword table. */
enum {
	K_D7 = 1 << 0,
	K_D2020 = 1 << 1,
	K_ALL = K_D7 | K_D2020,
	K_VALIDATION = 1 << 2,  /* in the validation vocabulary */
	K_PASSIVE = 1 << 3,     /* holds definitions, asserts nothing */
};

struct js_node;
struct compiler;
struct vctx;

struct js_format {
	const char *name;
	bool (*check)(const char *s);   /* NULL: recognised, never asserted */
};

struct js_anchor {
	const char *name;
	struct js_node *node;
	bool dynamic;
};

/* A schema resource: a document root or a subschema with an $id. */
struct js_resource {
	char *uri;              /* absolute, without fragment */
	const cJSON *json;      /* its root schema */
	char *path;             /* location of that root, for messages */
	int draft;
	bool novalid;           /* its metaschema leaves out the validation vocabulary */
	struct js_anchor *anchors;
	size_t nanchors;
	struct js_resource *next;
};

struct js_doc {
	char *uri;
	cJSON *json;
	struct js_doc *next;
};

struct js_list {
	struct js_node **v;
	size_t n;
};

struct js_prop {
	const char *name;
	struct js_node *node;
};

struct js_pattern {
	const char *src;        /* as written */
	struct rx *rx;
	struct js_node *node;
};

/* dependentRequired (props) or dependentSchemas (node) for one property. */
struct js_dep {
	const char *name;
	const cJSON *props;
	struct js_node *node;
};

struct js_node {
	const cJSON *json;
	struct js_resource *res;
	char *path;
	unsigned flags;
	unsigned nactive;       /* keywords other than definitions */
	int meta_draft;         /* N_META: the draft whose schemas are valid */
	unsigned types;
	const cJSON *enum_values;
	const cJSON *const_value;
	double multiple_of;
	double maximum, ex_maximum, minimum, ex_minimum;
	size_t min_length, max_length;
	size_t min_items, max_items;
	size_t min_contains, max_contains;
	size_t min_props, max_props;
	struct rx *pattern;
	const char *pattern_src;
	const struct js_format *format;
	const cJSON *required;
	struct js_dep *dep_required;
	size_t ndep_required;
	struct js_dep *dep_schemas;
	size_t ndep_schemas;
	struct js_list all_of, any_of, one_of, prefix_items;
	struct js_node *not_, *if_, *then_, *else_;
	struct js_node *items, *additional_items, *contains;
	struct js_prop *props;
	size_t nprops;
	struct js_pattern *patterns;
	size_t npatterns;
	struct js_node *additional_props, *property_names;
	struct js_node *uneval_props, *uneval_items;
	struct js_node *ref, *dynamic_ref;
	const char *dynamic_name;   /* set when $dynamicRef resolves dynamically */
	const cJSON *ref_json, *dynamic_json;  /* the keywords, for messages */
	char *ref_uri, *dynamic_uri;           /* pending resolution */
};

/* Every node, keyed by the cJSON it was compiled from, and in the order
 * compiled. */
struct memo {
	struct js_node **slots;
	size_t cap;
	size_t n;
	struct js_node **order;
};

struct jsonschema {
	struct js_node *root;
	struct js_doc *docs;
	size_t ndocs;
	struct js_resource *resources;
	struct memo nodes;
	struct js_node meta[2]; /* the metaschemas of draft 2020-12 and draft-07 */
	int draft;
	size_t max_steps;       /* the step budget of one validation */
};

struct compiler {
	struct jsonschema *s;
	bool syntax_only;       /* check the schema, resolve no reference */
	bool format_assert;
	int default_draft;
	char *base_real;        /* realpath of base_dir, or NULL */
	char *remotes_real;     /* realpath of remotes_dir, or NULL */
	struct js_node **pending;
	size_t npending, cap;
	char *err;
	char *err_ptr;
};

/* ---- small helpers ---- */

static const cJSON *get(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* ptr_escape: append s to b as one JSON pointer reference token. */
static void ptr_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '~')
			buf_addstr(b, "~0");
		else if (*s == '/')
			buf_addstr(b, "~1");
		else
			buf_addch(b, *s);
	}
}

static char *path_key(const char *base, const char *key)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, base);
	buf_addch(&b, '/');
	ptr_escape(&b, key);
	return buf_detach(&b, NULL);
}

static char *path_key2(const char *base, const char *k1, const char *k2)
{
	char *p = path_key(base, k1);
	char *q = path_key(p, k2);
	free(p);
	return q;
}

static char *path_index(const char *base, const char *key, size_t i)
{
	char *p = path_key(base, key);
	char *q = xasprintf("%s/%zu", p, i);
	free(p);
	return q;
}

static size_t utf8_length(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void fmt_num(double d, char out[40])
{
	if (d == floor(d) && fabs(d) < 1e15)
		snprintf(out, 40, "%.0f", d);
	else
		snprintf(out, 40, "%.15g", d);
}

static bool is_integral(double d)
{
	return isfinite(d) && d == floor(d);
}

static unsigned type_of(const cJSON *v)
{
	switch (v->type & 0xff) {
	case cJSON_NULL:
		return T_NULL;
	case cJSON_False:
	case cJSON_True:
		return T_BOOLEAN;
	case cJSON_Number:
		return is_integral(v->valuedouble) ? T_NUMBER | T_INTEGER : T_NUMBER;
	case cJSON_String:
		return T_STRING;
	case cJSON_Array:
		return T_ARRAY;
	case cJSON_Object:
		return T_OBJECT;
	default:
		return 0;
	}
}

static const char *type_name(const cJSON *v)
{
	unsigned t = type_of(v);
	if (t & T_INTEGER)
		return "integer";
	for (size_t i = 0; type_names[i]; i++) {
		if (t & (1u << i))
			return type_names[i];
	}
	return "unknown";
}

/* json_depth_ok: whether v nests at most max levels (recursion stops there). */
static bool json_depth_ok(const cJSON *v, int max)
{
	if (max < 0)
		return false;
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
		return true;
	for (const cJSON *c = v->child; c; c = c->next) {
		if (!json_depth_ok(c, max - 1))
			return false;
	}
	return true;
}

/* json_size: the number of values in v, counted down to the depth a schema
 * may nest. */
static size_t json_size(const cJSON *v, int depth)
{
	size_t n = 1;
	for (const cJSON *c = v->child; c && depth < JS_MAX_JSON_DEPTH; c = c->next)
		n += json_size(c, depth + 1);
	return n;
}

/* json_equal: JSON equality (1 == 1.0, key order ignored); -1 when the
 * values nest too deeply to compare.  *work grows by the values visited. */
static int json_equal(const cJSON *a, const cJSON *b, int depth, size_t *work)
{
	(*work)++;
	if (depth > JS_MAX_JSON_DEPTH)
		return -1;
	int ta = a->type & 0xff, tb = b->type & 0xff;
	if (ta != tb)
		return 0;
	switch (ta) {
	case cJSON_Number:
		return a->valuedouble == b->valuedouble;
	case cJSON_String:
		return strcmp(a->valuestring ? a->valuestring : "",
			      b->valuestring ? b->valuestring : "") == 0;
	case cJSON_Array: {
		const cJSON *x = a->child, *y = b->child;
		for (; x && y; x = x->next, y = y->next) {
			int r = json_equal(x, y, depth + 1, work);
			if (r != 1)
				return r;
		}
		return !x && !y;
	}
	case cJSON_Object: {
		size_t na = 0, nb = 0;
		for (const cJSON *x = a->child; x; x = x->next)
			na++;
		for (const cJSON *y = b->child; y; y = y->next)
			nb++;
		if (na != nb)
			return 0;
		for (const cJSON *x = a->child; x; x = x->next) {
			const cJSON *y = get(b, x->string);
			if (!y)
				return 0;
			int r = json_equal(x, y, depth + 1, work);
			if (r != 1)
				return r;
		}
		return 1;
	}
	default:
		return 1;
	}
}

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* json_hash: a hash consistent with json_equal (objects hash their members
 * in any order; values nested past JS_HASH_DEPTH all hash alike); *work
 * grows by the values visited. */
static uint64_t json_hash(const cJSON *v, int depth, size_t *work)
{
	(*work)++;
	if (depth > JS_HASH_DEPTH)
		return 1;
	switch (v->type & 0xff) {
	case cJSON_Number: {
		double d = v->valuedouble == 0 ? 0 : v->valuedouble;
		uint64_t bits;
		memcpy(&bits, &d, sizeof(bits));
		return mix64(bits ^ 2);
	}
	case cJSON_String:
		return mix64(str_hash(v->valuestring) ^ 3);
	case cJSON_Array: {
		uint64_t h = 4;
		for (const cJSON *c = v->child; c; c = c->next)
			h = mix64(h * 31 + json_hash(c, depth + 1, work));
		return h;
	}
	case cJSON_Object: {
		uint64_t h = 5;
		for (const cJSON *c = v->child; c; c = c->next)
			h += mix64(str_hash(c->string) ^ json_hash(c, depth + 1, work));
		return mix64(h);
	}
	default:
		return mix64((uint64_t)(v->type & 0xff) + 6);
	}
}

/* ---- URIs (RFC 3986) ---- */

struct uri_parts {
	const char *scheme, *auth, *path, *query, *frag;  /* NULL when absent */
	size_t scheme_len, auth_len, path_len, query_len, frag_len;
};

/* uri_split: the five components of s (RFC 3986 appendix B). */
static void uri_split(const char *s, struct uri_parts *u)
{
	memset(u, 0, sizeof(*u));
	size_t n = strcspn(s, ":/?#");
	if (n > 0 && s[n] == ':') {
		u->scheme = s;
		u->scheme_len = n;
		s += n + 1;
	}
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		n = strcspn(s, "/?#");
		u->auth = s;
		u->auth_len = n;
		s += n;
	}
	n = strcspn(s, "?#");
	u->path = s;
	u->path_len = n;
	s += n;
	if (*s == '?') {
		s++;
		n = strcspn(s, "#");
		u->query = s;
		u->query_len = n;
		s += n;
	}
	if (*s == '#') {
		u->frag = s + 1;
		u->frag_len = strlen(s + 1);
	}
}

/* remove_dots: append path to o without its "." and ".." segments
 * (RFC 3986 section 5.2.4); o holds only what precedes the path. */
static void remove_dots(struct buf *o, const char *path, size_t len)
{
	size_t start = o->len;
	char *s = xstrndup(path, len);
	char *p = s;
	while (*p) {
		if (strncmp(p, "../", 3) == 0) {
			p += 3;
		} else if (strncmp(p, "./", 2) == 0 || strncmp(p, "/./", 3) == 0) {
			p += 2;
		} else if (strcmp(p, "/.") == 0) {
			p[1] = '\0';
		} else if (strncmp(p, "/../", 4) == 0 || strcmp(p, "/..") == 0) {
			/* "/../x" goes on as "/x", a final "/.." as "/". */
			p += p[3] ? 3 : 2;
			*p = '/';
			size_t i = o->len;
			while (i > start && o->data[i - 1] != '/')
				i--;
			o->len = i > start ? i - 1 : start;
			if (o->data)
				o->data[o->len] = '\0';
		} else if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
			break;
		} else {
			size_t n = strcspn(p + 1, "/") + 1;
			buf_add(o, p, n);
			p += n;
		}
	}
	free(s);
}

/* uri_resolve: ref resolved against the absolute base (RFC 3986 5.2.2). */
static char *uri_resolve(const char *base, const char *ref)
{
	struct uri_parts b, r;
	uri_split(base, &b);
	uri_split(ref, &r);
	struct buf o;
	buf_init(&o, BUF_MAX_DEFAULT);
	const struct uri_parts *sch = r.scheme ? &r : &b;
	if (sch->scheme) {
		buf_add(&o, sch->scheme, sch->scheme_len);
		buf_addch(&o, ':');
	}
	const struct uri_parts *q = &r;
	if (r.scheme || r.auth) {
		if (r.auth) {
			buf_addstr(&o, "//");
			buf_add(&o, r.auth, r.auth_len);
		}
		remove_dots(&o, r.path, r.path_len);
	} else {
		if (b.auth) {
			buf_addstr(&o, "//");
			buf_add(&o, b.auth, b.auth_len);
		}
		if (r.path_len == 0) {
			buf_add(&o, b.path, b.path_len);
			if (!r.query)
				q = &b;
		} else if (r.path[0] == '/') {
			remove_dots(&o, r.path, r.path_len);
		} else {
			struct buf m;
			buf_init(&m, BUF_MAX_DEFAULT);
			if (b.auth && b.path_len == 0) {
				buf_addch(&m, '/');
			} else {
				size_t n = b.path_len;
				while (n > 0 && b.path[n - 1] != '/')
					n--;
				buf_add(&m, b.path, n);
			}
			buf_add(&m, r.path, r.path_len);
			remove_dots(&o, m.data ? m.data : "", m.len);
			buf_release(&m);
		}
	}
	if (q->query) {
		buf_addch(&o, '?');
		buf_add(&o, q->query, q->query_len);
	}
	if (r.frag) {
		buf_addch(&o, '#');
		buf_add(&o, r.frag, r.frag_len);
	}
	return buf_detach(&o, NULL);
}

/* cut_fragment: end uri at its '#'; the fragment after it, or NULL. */
static char *cut_fragment(char *uri)
{
	char *h = strchr(uri, '#');
	if (!h)
		return NULL;
	*h = '\0';
	return h + 1;
}



/* file_uri: the file: URI of the folder dir (absolute), ending in '/'. */
static char *file_uri(const char *dir)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, "file://");
	for (const unsigned char *p = (const unsigned char *)dir; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/!$&'()*+,;=:@", *p))
			buf_addch(&b, (char)*p);
		else
			buf_addf(&b, "%%%02X", *p);
	}
	if (b.data[b.len - 1] != '/')
		buf_addch(&b, '/');
	return buf_detach(&b, NULL);
}

/* ---- formats ---- */

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static int num_at(const char *s, size_t n)
{
	int v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* date_ok: "YYYY-MM-DD" in the first ten characters of s. */
static bool date_ok(const char *s)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (strnlen(s, 10) < 10 || !all_digits(s, 4) || s[4] != '-' || !all_digits(s + 5, 2) ||
	    s[7] != '-' || !all_digits(s + 8, 2))
		return false;
	int y = num_at(s, 4), m = num_at(s + 5, 2), d = num_at(s + 8, 2);
	if (m < 1 || m > 12 || d < 1)
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= mdays[m - 1] + (m == 2 && leap);
}

/* time_ok: RFC 3339 full-time, the whole of s; a leap second only at
 * 23:59:60 UTC. */
static bool time_ok(const char *s)
{
	if (strnlen(s, 9) < 9 || !all_digits(s, 2) || s[2] != ':' || !all_digits(s + 3, 2) ||
	    s[5] != ':' || !all_digits(s + 6, 2))
		return false;
	int h = num_at(s, 2), mi = num_at(s + 3, 2), sec = num_at(s + 6, 2);
	const char *p = s + 8;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (!all_digits(p + 1, 2) || p[3] != ':' || !all_digits(p + 4, 2))
			return false;
		int oh = num_at(p + 1, 2), om = num_at(p + 4, 2);
		if (oh > 23 || om > 59)
			return false;
		off = (*p == '+' ? 1 : -1) * (oh * 60 + om);
		p += 6;
	} else {
		return false;
	}
	if (*p || h > 23 || mi > 59 || sec > 60)
		return false;
	if (sec == 60 && ((h * 60 + mi - off) % 1440 + 1440) % 1440 != 23 * 60 + 59)
		return false;
	return true;
}

static bool fmt_date(const char *s)
{
	return strlen(s) == 10 && date_ok(s);
}

static bool fmt_time(const char *s)
{
	return time_ok(s);
}

static bool fmt_date_time(const char *s)
{
	return strlen(s) > 11 && date_ok(s) && (s[10] == 'T' || s[10] == 't') && time_ok(s + 11);
}

/* fmt_duration: ISO 8601 durations as RFC 3339 appendix A has them. */
static bool fmt_duration(const char *s)
{
	if (*s++ != 'P' || !*s)
		return false;
	const char *p = s;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p > s && p[0] == 'W' && p[1] == '\0')
		return true;
	static const char date_units[] = "YMD", time_units[] = "HMS";
	bool any = false;
	p = s;
	for (int pass = 0; pass < 2; pass++) {
		const char *units = pass ? time_units : date_units;
		if (pass) {
			if (*p != 'T')
				break;
			p++;
			if (!*p)
				return false;
		}
		size_t next = 0;
		while (*p && *p != 'T') {
			const char *d = p;
			while (*p >= '0' && *p <= '9')
				p++;
			if (p == d || !*p)
				return false;
			const char *u = strchr(units, *p);
			if (!u || (size_t)(u - units) < next)
				return false;
			next = (size_t)(u - units) + 1;
			p++;
			any = true;
		}
	}
	return any && *p == '\0';
}

static bool fmt_ipv4(const char *s)
{
	unsigned char a[16];
	return inet_pton(AF_INET, s, a) == 1;
}

static bool fmt_ipv6(const char *s)
{
	unsigned char a[16];
	return inet_pton(AF_INET6, s, a) == 1;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* hostname_ok: RFC 1123 labels in s[0..len). */
static bool hostname_ok(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - label] == '-' || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(s[i]) || s[i] == '-') {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

static bool fmt_hostname(const char *s)
{
	return hostname_ok(s, strlen(s));
}

/* fmt_email: RFC 5321 mailbox: dot-atom or quoted local part, and a
 * hostname or an address literal. */
static bool fmt_email(const char *s)
{
	const char *at = strrchr(s, '@');
	if (!at || at == s || (size_t)(at - s) > 64)
		return false;
	if (s[0] == '"') {
		const char *end = at - 1;   /* the closing quote */
		if (end == s || *end != '"')
			return false;
		for (const char *p = s + 1; p < end; p++) {
			unsigned char ch = (unsigned char)*p;
			if (ch == '\\') {
				if (p + 1 >= end)
					return false;
				ch = (unsigned char)*++p;
			} else if (ch == '"') {
				return false;
			}
			if (ch < 0x20 || ch >= 0x7f)
				return false;
		}
	} else {
		if (s[0] == '.' || at[-1] == '.')
			return false;
		for (const char *p = s; p < at; p++) {
			if (*p == '.' && p[1] == '.')
				return false;
			if (!is_alnum(*p) && !strchr(".!#$%&'*+/=?^_`{|}~-", *p))
				return false;
		}
	}
	const char *d = at + 1;
	size_t dl = strlen(d);
	if (dl > 2 && d[0] == '[' && d[dl - 1] == ']') {
		char lit[64];
		if (dl - 2 >= sizeof(lit))
			return false;
		memcpy(lit, d + 1, dl - 2);
		lit[dl - 2] = '\0';
		if (strncasecmp(lit, "IPv6:", 5) == 0)
			return fmt_ipv6(lit + 5);
		return fmt_ipv4(lit);
	}
	return hostname_ok(d, dl);
}

/* uri_char_ok: s[0..n) holds only unreserved characters, sub-delims,
 * %XX and the characters of extra. */
static bool uri_char_ok(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n || util_hex_digit(s[i + 1]) < 0 || util_hex_digit(s[i + 2]) < 0)
				return false;
			i += 2;
		} else if (!is_alnum(c) && !strchr("-._~!$&'()*+,;=", c) && !strchr(extra, c)) {
			return false;
		}
	}
	return true;
}

/* uri_ok: an RFC 3986 URI, or a relative reference when !need_scheme. */
static bool uri_ok(const char *s, bool need_scheme)
{
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	}
	struct uri_parts u;
	uri_split(s, &u);
	if (u.scheme) {
		if (!((u.scheme[0] >= 'a' && u.scheme[0] <= 'z') ||
		      (u.scheme[0] >= 'A' && u.scheme[0] <= 'Z')))
			return false;
		for (size_t i = 1; i < u.scheme_len; i++) {
			if (!is_alnum(u.scheme[i]) && !strchr("+-.", u.scheme[i]))
				return false;
		}
	} else if (need_scheme) {
		return false;
	} else {
		size_t seg = strcspn(u.path, "/");
		if (memchr(u.path, ':', seg < u.path_len ? seg : u.path_len))
			return false;
	}
	if (u.auth) {
		const char *a = u.auth, *end = u.auth + u.auth_len;
		const char *at = NULL;
		for (const char *p = a; p < end; p++) {
			if (*p == '@')
				at = p;
		}
		if (at) {
			if (!uri_char_ok(a, (size_t)(at - a), ":"))
				return false;
			a = at + 1;
		}
		const char *port = NULL;
		if (a < end && *a == '[') {
			const char *close = memchr(a, ']', (size_t)(end - a));
			if (!close || close - a - 1 >= 64)
				return false;
			char lit[64];
			memcpy(lit, a + 1, (size_t)(close - a - 1));
			lit[close - a - 1] = '\0';
			if (!fmt_ipv6(lit) && lit[0] != 'v')
				return false;
			if (close + 1 < end) {
				if (close[1] != ':')
					return false;
				port = close + 2;
			}
		} else {
			const char *colon = memchr(a, ':', (size_t)(end - a));
			if (!uri_char_ok(a, (size_t)((colon ? colon : end) - a), ""))
				return false;
			if (colon)
				port = colon + 1;
		}
		if (port && !all_digits(port, (size_t)(end - port)))
			return false;
	}
	return uri_char_ok(u.path, u.path_len, ":@/") &&
	       (!u.query || uri_char_ok(u.query, u.query_len, ":@/?")) &&
	       (!u.frag || uri_char_ok(u.frag, u.frag_len, ":@/?"));
}

static bool fmt_uri(const char *s)
{
	return uri_ok(s, true);
}

static bool fmt_uri_reference(const char *s)
{
	return uri_ok(s, false);
}

static bool fmt_uuid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (util_hex_digit(s[i]) < 0) {
			return false;
		}
	}
	return true;
}

static bool fmt_json_pointer(const char *s)
{
	return jsonptr_valid(s);
}

static bool fmt_relative_json_pointer(const char *s)
{
	const char *p = s;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s || (s[0] == '0' && p - s > 1))
		return false;
	return strcmp(p, "#") == 0 || jsonptr_valid(p);
}

static struct rx *compile_pattern(const char *src, char **err);

static bool fmt_regex(const char *s)
{
	char *err = NULL;
	struct rx *rx = compile_pattern(s, &err);
	free(err);
	rx_free(rx);
	return rx != NULL;
}

static const struct js_format formats[] = {
	{"date-time", fmt_date_time},
	{"date", fmt_date},
	{"time", fmt_time},
	{"duration", fmt_duration},
	{"email", fmt_email},
	{"hostname", fmt_hostname},
	{"ipv4", fmt_ipv4},
	{"ipv6", fmt_ipv6},
	{"uri", fmt_uri},
	{"uri-reference", fmt_uri_reference},
	{"uuid", fmt_uuid},
	{"json-pointer", fmt_json_pointer},
	{"relative-json-pointer", fmt_relative_json_pointer},
	{"regex", fmt_regex},
	{"iri", NULL},
	{"iri-reference", NULL},
	{"idn-email", NULL},
	{"idn-hostname", NULL},
	{"uri-template", NULL},
};

/* ---- patterns ---- */

/* Long Unicode general category names, which ECMA-262 accepts and PCRE2
 * does not. */
static const char *const categories[][2] = {
	{"Letter", "L"}, {"Cased_Letter", "L&"}, {"Uppercase_Letter", "Lu"},
	{"Lowercase_Letter", "Ll"}, {"Titlecase_Letter", "Lt"}, {"Modifier_Letter", "Lm"},
	{"Other_Letter", "Lo"}, {"Mark", "M"}, {"Combining_Mark", "M"},
	{"Nonspacing_Mark", "Mn"}, {"Spacing_Mark", "Mc"}, {"Enclosing_Mark", "Me"},
	{"Number", "N"}, {"Decimal_Number", "Nd"}, {"digit", "Nd"}, {"Letter_Number", "Nl"},
	{"Other_Number", "No"}, {"Punctuation", "P"}, {"punct", "P"},
	{"Connector_Punctuation", "Pc"}, {"Dash_Punctuation", "Pd"}, {"Open_Punctuation", "Ps"},
	{"Close_Punctuation", "Pe"}, {"Initial_Punctuation", "Pi"}, {"Final_Punctuation", "Pf"},
	{"Other_Punctuation", "Po"}, {"Symbol", "S"}, {"Math_Symbol", "Sm"},
	{"Currency_Symbol", "Sc"}, {"Modifier_Symbol", "Sk"}, {"Other_Symbol", "So"},
	{"Separator", "Z"}, {"Space_Separator", "Zs"}, {"Line_Separator", "Zl"},
	{"Paragraph_Separator", "Zp"}, {"Other", "C"}, {"Control", "Cc"}, {"cntrl", "Cc"},
	{"Format", "Cf"}, {"Surrogate", "Cs"}, {"Private_Use", "Co"}, {"Unassigned", "Cn"},
};

/* ecma_property: append the PCRE2 form of the property name s[0..len). */
static void ecma_property(struct buf *b, const char *s, size_t len)
{
	static const char *const prefixes[][2] = {
		{"General_Category=", ""}, {"gc=", ""}, {"Script=", "sc:"}, {"sc=", "sc:"},
		{"Script_Extensions=", "scx:"}, {"scx=", "scx:"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i][0]);
		if (len > n && strncmp(s, prefixes[i][0], n) == 0) {
			buf_addstr(b, prefixes[i][1]);
			s += n;
			len -= n;
			break;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(categories); i++) {
		if (strlen(categories[i][0]) == len && strncmp(s, categories[i][0], len) == 0) {
			buf_addstr(b, categories[i][1]);
			return;
		}
	}
	buf_add(b, s, len);
}

/* hex4: the value of the four hex digits at s, or -1. */
static long hex4(const char *s)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		if (util_hex_digit(s[i]) < 0)
			return -1;
		v = v * 16 + util_hex_digit(s[i]);
	}
	return v;
}

/* ecma_unicode: append the \x{...} form of the \u escape at p (a surrogate
 * pair becomes one code point); the characters consumed, 0 when it is not
 * one. */
static size_t ecma_unicode(struct buf *b, const char *p)
{
	if (p[2] == '{') {
		size_t n = strspn(p + 3, "0123456789abcdefABCDEF");
		if (n == 0 || p[3 + n] != '}')
			return 0;
		buf_addstr(b, "\\x{");
		buf_add(b, p + 3, n);
		buf_addch(b, '}');
		return n + 4;
	}
	long v = hex4(p + 2);
	if (v < 0)
		return 0;
	size_t used = 6;
	if (v >= 0xd800 && v <= 0xdbff && p[6] == '\\' && p[7] == 'u') {
		long lo = hex4(p + 8);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
			used = 12;
		}
	}
	buf_addf(b, "\\x{%lx}", v);
	return used;
}

/* ecma_pattern: an ECMA-262 pattern in PCRE2 terms: '$' matches only at the
 * very end, \uXXXX is a code point and \p{...} takes the long property
 * names. */
static char *ecma_pattern(const char *p)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	bool in_class = false;
	for (; *p; p++) {
		if (*p == '\\' && p[1]) {
			const char *close = NULL;
			size_t used = 0;
			if ((p[1] == 'p' || p[1] == 'P') && p[2] == '{')
				close = strchr(p + 3, '}');
			else if (p[1] == 'u')
				used = ecma_unicode(&b, p);
			if (used) {
				p += used - 1;
			} else if (close) {
				buf_add(&b, p, 3);
				ecma_property(&b, p + 3, (size_t)(close - p - 3));
				buf_addch(&b, '}');
				p = close;
			} else {
				buf_add(&b, p, 2);
				p++;
			}
		} else if (in_class) {
			in_class = *p != ']';
			buf_addch(&b, *p);
		} else if (*p == '$') {
			buf_addstr(&b, "\\z");
		} else {
			in_class = *p == '[';
			buf_addch(&b, *p);
		}
	}
	return buf_detach(&b, NULL);
}

/* compile_pattern: compile an ECMA-262 pattern; errors quote it as written. */
static struct rx *compile_pattern(const char *src, char **err)
{
	char *p = ecma_pattern(src);
	struct rx *rx = rx_compile(p, 0, err);
	free(p);
	if (!rx) {
		char *first = NULL;
		struct rx *again = rx_compile(src, 0, &first);
		if (!again) {
			free(*err);
			*err = first;
		}
		rx_free(again);
	}
	return rx;
}

/* ---- the node table ---- */

static size_t ptr_hash(const void *p)
{
	return (size_t)mix64((uint64_t)(uintptr_t)p);
}

static struct js_node *memo_get(const struct memo *m, const cJSON *json)
{
	if (!m->cap)
		return NULL;
	for (size_t i = ptr_hash(json) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i])
			return NULL;
		if (m->slots[i]->json == json)
			return m->slots[i];
	}
}

/* memo_put: add n (open addressing, grown to stay half empty). */
static void memo_put(struct memo *m, struct js_node *n)
{
	if ((m->n + 1) * 2 > m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		free(m->slots);
		m->slots = xcalloc(m->cap, sizeof(*m->slots));
		m->order = xreallocarray(m->order, m->cap / 2, sizeof(*m->order));
		for (size_t k = 0; k < m->n; k++) {
			size_t i = ptr_hash(m->order[k]->json) & (m->cap - 1);
			while (m->slots[i])
				i = (i + 1) & (m->cap - 1);
			m->slots[i] = m->order[k];
		}
	}
	size_t i = ptr_hash(n->json) & (m->cap - 1);
	while (m->slots[i])
		i = (i + 1) & (m->cap - 1);
	m->slots[i] = n;
	m->order[m->n++] = n;
}

static void node_free(struct js_node *n)
{
	free(n->path);
	free(n->dep_required);
	free(n->dep_schemas);
	free(n->all_of.v);
	free(n->any_of.v);
	free(n->one_of.v);
	free(n->prefix_items.v);
	free(n->props);
	for (size_t i = 0; i < n->npatterns; i++)
		rx_free(n->patterns[i].rx);
	free(n->patterns);
	rx_free(n->pattern);
	free(n->ref_uri);
	free(n->dynamic_uri);
	free(n);
}

/* ---- compiling ---- */

/* cfail: keep the first compile error, at pointer ptr (owned). */
PRINTF_LIKE(3, 4)
static int cfail(struct compiler *c, char *ptr, const char *fmt, ...)
{
	if (c->err) {
		free(ptr);
		return -1;
	}
	va_list ap;
	va_start(ap, fmt);
	c->err = xvasprintf(fmt, ap);
	va_end(ap);
	c->err_ptr = ptr;
	return -1;
}

static struct js_resource *find_resource(const struct jsonschema *s, const char *uri)
{
	for (struct js_resource *r = s->resources; r; r = r->next) {
		if (strcmp(r->uri, uri) == 0)
			return r;
	}
	return NULL;
}

static struct js_resource *new_resource(struct jsonschema *s, const char *uri, const cJSON *json,
					const char *path, int draft, bool novalid)
{
	struct js_resource *r = xcalloc(1, sizeof(*r));
	r->uri = xstrdup(uri);
	r->json = json;
	r->path = xstrdup(path);
	r->draft = draft;
	r->novalid = novalid;
	/* Appended, so that the first resource with a URI is the one found. */
	struct js_resource **p = &s->resources;
	while (*p)
		p = &(*p)->next;
	*p = r;
	return r;
}

static void add_anchor(struct js_resource *r, const char *name, struct js_node *n, bool dynamic)
{
	for (size_t i = 0; i < r->nanchors; i++) {
		if (strcmp(r->anchors[i].name, name) == 0) {
			if (r->anchors[i].node == n && dynamic)
				r->anchors[i].dynamic = true;
			return;
		}
	}
	r->anchors = xreallocarray(r->anchors, r->nanchors + 1, sizeof(*r->anchors));
	r->anchors[r->nanchors++] = (struct js_anchor){name, n, dynamic};
}

static const struct js_anchor *find_anchor(const struct js_resource *r, const char *name)
{
	for (size_t i = 0; i < r->nanchors; i++) {
		if (strcmp(r->anchors[i].name, name) == 0)
			return &r->anchors[i];
	}
	return NULL;
}

static bool anchor_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++) {
		if (!is_alnum(*s) && !strchr("-._", *s))
			return false;
	}
	return true;
}

/* draft_of_uri: the draft a "$schema" URI names, or 0. */
static int draft_of_uri(const char *uri)
{
	static const struct {
		const char *uri;
		int draft;
	} known[] = {
		{"json-schema.org/draft/2020-12/schema", JSONSCHEMA_DRAFT_2020},
		{"json-schema.org/draft/2019-09/schema", JSONSCHEMA_DRAFT_2020},
		{"json-schema.org/draft-07/schema", JSONSCHEMA_DRAFT_7},
		{"json-schema.org/draft-06/schema", JSONSCHEMA_DRAFT_7},
		{"json-schema.org/draft-04/schema", JSONSCHEMA_DRAFT_7},
	};
	if (strncmp(uri, "https://", 8) == 0)
		uri += 8;
	else if (strncmp(uri, "http://", 7) == 0)
		uri += 7;
	else
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++) {
		size_t n = strlen(known[i].uri);
		if (strncmp(uri, known[i].uri, n) == 0 && (uri[n] == '\0' || strcmp(uri + n, "#") == 0))
			return known[i].draft;
	}
	return 0;
}

/* metaschema_draft: the draft whose metaschema (or one of its vocabulary
 * metaschemas) uri names, or 0. */
static int metaschema_draft(const char *uri)
{
	int d = draft_of_uri(uri);
	if (d)
		return d;
	if (strncmp(uri, "https://json-schema.org/draft/2020-12/meta/", 43) == 0 ||
	    strncmp(uri, "https://json-schema.org/draft/2019-09/meta/", 43) == 0)
		return JSONSCHEMA_DRAFT_2020;
	return 0;
}

/* path_under: whether path is inside the folder root (both absolute). */
static bool path_under(const char *path, const char *root)
{
	size_t rl = strlen(root);
	if (rl > 0 && root[rl - 1] == '/')
		rl--;
	return strncmp(path, root, rl) == 0 && path[rl] == '/' && path[rl + 1] != '\0';
}

/* local_path: the file a loadable URI (written as ref) names, refusing
 * anything that is not under base_dir or remotes_dir; NULL and *err
 * otherwise. */
static char *local_path(struct compiler *c, const char *uri, const char *ref, char **err)
{
	const char *root;
	char *full;
	struct uri_parts u;
	uri_split(uri, &u);
	if (c->remotes_real && strncmp(uri, JS_REMOTES, strlen(JS_REMOTES)) == 0 && !u.query) {
		char *rel = util_pct_decode(u.path, u.path_len);
		if (!rel || strstr(rel, "/../") || strstr(rel, "/./")) {
			free(rel);
			*err = xasprintf("$ref '%s' leaves the remotes folder", ref);
			return NULL;
		}
		root = c->remotes_real;
		full = xasprintf("%s%s", root, rel);
		free(rel);
	} else if (c->base_real && u.scheme && u.scheme_len == 4 &&
		   strncmp(u.scheme, "file", 4) == 0 && !u.query &&
		   (!u.auth || u.auth_len == 0 || (u.auth_len == 9 && strncmp(u.auth, "localhost", 9) == 0))) {
		root = c->base_real;
		full = util_pct_decode(u.path, u.path_len);
		if (!full) {
			*err = xasprintf("cannot open $ref '%s'", ref);
			return NULL;
		}
	} else if (!c->base_real && (strncmp(uri, "canary:", 7) == 0 || strncmp(uri, "file:", 5) == 0)) {
		*err = xasprintf("$ref '%s' names a local file, but no folder was given to find it in",
				 ref);
		return NULL;
	} else {
		*err = xasprintf("remote $ref '%s' is not allowed: only local files under the suite's folder",
				 ref);
		return NULL;
	}
	if (!path_under(full, root)) {
		*err = xasprintf("$ref '%s' is outside the suite's folder", ref);
		free(full);
		return NULL;
	}
	char *real = realpath(full, NULL);
	if (!real) {
		*err = xasprintf("cannot open '%s' for $ref '%s'", full, ref);
		free(full);
		return NULL;
	}
	free(full);
	if (!path_under(real, root)) {
		*err = xasprintf("$ref '%s' is outside the suite's folder", ref);
		free(real);
		return NULL;
	}
	return real;
}

/* parse_file: a JSON document, or YAML for .yaml and .yml files. */
static cJSON *parse_file(const char *path, char **err)
{
	size_t len;
	char *data = util_read_file(path, JS_MAX_FILE, &len, err);
	if (!data)
		return NULL;
	cJSON *json = NULL;
	size_t pl = strlen(path);
	if ((pl > 5 && strcmp(path + pl - 5, ".yaml") == 0) ||
	    (pl > 4 && strcmp(path + pl - 4, ".yml") == 0)) {
		struct ydoc *doc = ydoc_parse(path, data, len, err);
		if (doc && !doc->root)
			*err = xasprintf("'%s' is empty", path);
		else if (doc)
			json = ynode_to_json(doc->root, err);
		ydoc_free(doc);
	} else {
		const char *end = NULL;
		if (memchr(data, '\0', len))
			*err = xasprintf("'%s' holds a NUL byte", path);
		else
			json = cJSON_ParseWithLengthOpts(data, len + 1, &end, true);
		if (!json && !*err)
			*err = xasprintf("invalid JSON in '%s' at offset %zu", path,
					 end ? (size_t)(end - data) : (size_t)0);
	}
	free(data);
	if (json && !json_depth_ok(json, JS_MAX_JSON_DEPTH)) {
		*err = xasprintf("'%s' is nested too deeply", path);
		cJSON_Delete(json);
		json = NULL;
	}
	return json;
}

static struct js_doc *add_doc(struct jsonschema *s, const char *uri, cJSON *json)
{
	struct js_doc *d = xcalloc(1, sizeof(*d));
	d->uri = xstrdup(uri);
	d->json = json;
	d->next = s->docs;
	s->docs = d;
	s->ndocs++;
	return d;
}

/* load_doc: the document at uri (written as ref), read once; NULL and *err
 * when it cannot be. */
static struct js_doc *load_doc(struct compiler *c, const char *uri, const char *ref, char **err)
{
	for (struct js_doc *d = c->s->docs; d; d = d->next) {
		if (strcmp(d->uri, uri) == 0)
			return d;
	}
	if (c->s->ndocs >= JS_MAX_DOCS) {
		*err = xasprintf("more than %d documents referenced", JS_MAX_DOCS);
		return NULL;
	}
	char *path = local_path(c, uri, ref, err);
	if (!path)
		return NULL;
	cJSON *json = parse_file(path, err);
	free(path);
	if (!json)
		return NULL;
	return add_doc(c->s, uri, json);
}

static struct js_node *compile_node(struct compiler *c, const cJSON *json, struct js_resource *res,
				    char *path, int depth, bool doc_root);

/* set_draft: read the draft (and vocabularies) a "$schema" names. */
static int set_draft(struct compiler *c, struct js_node *n, const cJSON *v, int *draft,
		     bool *novalid)
{
	if (!cJSON_IsString(v))
		return cfail(c, path_key(n->path, "$schema"), "'$schema' must be a string");
	int d = draft_of_uri(v->valuestring);
	if (d) {
		*draft = d;
		*novalid = false;
		return 0;
	}
	/* A custom metaschema: its own $schema and its $vocabulary count when it
	 * is a document we may read; otherwise "$schema" is only a label. */
	if (c->syntax_only)
		return 0;
	char *uri = uri_resolve(n->res->uri, v->valuestring);
	cut_fragment(uri);
	char *err = NULL;
	struct js_doc *doc = load_doc(c, uri, v->valuestring, &err);
	free(err);
	free(uri);
	if (!doc || !cJSON_IsObject(doc->json))
		return 0;
	const cJSON *ms = get(doc->json, "$schema");
	if (cJSON_IsString(ms) && draft_of_uri(ms->valuestring))
		*draft = draft_of_uri(ms->valuestring);
	const cJSON *voc = get(doc->json, "$vocabulary");
	if (!cJSON_IsObject(voc))
		return 0;
	static const char *const known[] = {
		"core", "applicator", "unevaluated", "validation", "meta-data",
		"format-annotation", "format-assertion", "content", "format",
	};
	*novalid = true;
	for (const cJSON *m = voc->child; m; m = m->next) {
		const char *name = NULL;
		if (strncmp(m->string, "https://json-schema.org/draft/2020-12/vocab/", 44) == 0)
			name = m->string + 44;
		else if (strncmp(m->string, "https://json-schema.org/draft/2019-09/vocab/", 44) == 0)
			name = m->string + 44;
		size_t i = 0;
		while (name && i < ARRAY_SIZE(known) && strcmp(known[i], name) != 0)
			i++;
		if (!name || i == ARRAY_SIZE(known)) {
			if (cJSON_IsTrue(m))
				return cfail(c, path_key(n->path, "$schema"),
					     "metaschema '%s' requires the unsupported vocabulary '%s'",
					     v->valuestring, m->string);
			continue;
		}
		if (strcmp(name, "validation") == 0)
			*novalid = false;
	}
	return 0;
}

/* compile_identity: $schema, $id, $anchor and $dynamicAnchor of node n. */
static int compile_identity(struct compiler *c, struct js_node *n, bool doc_root)
{
	const cJSON *id = get(n->json, "$id");
	const cJSON *schema = get(n->json, "$schema");
	int draft = n->res->draft;
	bool novalid = n->res->novalid;
	if (schema && (doc_root || id) && set_draft(c, n, schema, &draft, &novalid) < 0)
		return -1;
	/* In draft-07 a $ref makes its siblings, $id included, ignored. */
	if (id && !(draft == JSONSCHEMA_DRAFT_7 && get(n->json, "$ref"))) {
		if (!cJSON_IsString(id))
			return cfail(c, path_key(n->path, "$id"), "'$id' must be a string");
		char *abs = uri_resolve(n->res->uri, id->valuestring);
		char *frag = cut_fragment(abs);
		if (frag && *frag && (draft != JSONSCHEMA_DRAFT_7 || !anchor_name_ok(frag))) {
			free(abs);
			return cfail(c, path_key(n->path, "$id"), "'$id' must not have a fragment");
		}
		if (*abs && strcmp(abs, n->res->uri) != 0) {
			n->res = new_resource(c->s, abs, n->json, n->path, draft, novalid);
		} else if (doc_root) {
			n->res->draft = draft;
			n->res->novalid = novalid;
		}
		/* The name points into the schema, which outlives abs. */
		if (frag && *frag)
			add_anchor(n->res, strchr(id->valuestring, '#') + 1, n, false);
		free(abs);
	} else if (doc_root) {
		n->res->draft = draft;
		n->res->novalid = novalid;
	}
	if (n->res->draft == JSONSCHEMA_DRAFT_7)
		return 0;
	static const char *const anchors[] = {"$anchor", "$dynamicAnchor"};
	for (size_t i = 0; i < ARRAY_SIZE(anchors); i++) {
		const cJSON *a = get(n->json, anchors[i]);
		if (!a)
			continue;
		if (!cJSON_IsString(a) || !anchor_name_ok(a->valuestring))
			return cfail(c, path_key(n->path, anchors[i]),
				     "'%s' must be a name (a letter or '_', then letters, digits, '-', '_', '.')",
				     anchors[i]);
		add_anchor(n->res, a->valuestring, n, i == 1);
	}
	return 0;
}

/* child: compile v, a subschema one level below n, at path (owned). */
static struct js_node *child(struct compiler *c, struct js_node *n, const cJSON *v, char *path,
			     int depth)
{
	return compile_node(c, v, n->res, path, depth + 1, false);
}

#define FIELD(type, n, off) ((type *)(void *)((char *)(n) + (off)))

static int kw_schema(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	struct js_node *s = child(c, n, v, path_key(n->path, v->string), depth);
	*FIELD(struct js_node *, n, off) = s;
	return s ? 0 : -1;
}

/* kw_schema_list: allOf, anyOf, oneOf, prefixItems and draft-07 items. */
static int kw_schema_list(struct compiler *c, struct js_node *n, const cJSON *v, size_t off,
			  int depth)
{
	int count = cJSON_GetArraySize(v);
	if (!cJSON_IsArray(v) || count == 0)
		return cfail(c, path_key(n->path, v->string), "'%s' must be a non-empty array of schemas",
			     v->string);
	struct js_list *l = FIELD(struct js_list, n, off);
	l->v = xcalloc((size_t)count, sizeof(*l->v));
	for (const cJSON *e = v->child; e; e = e->next) {
		l->v[l->n] = child(c, n, e, path_index(n->path, v->string, l->n), depth);
		if (!l->v[l->n++])
			return -1;
	}
	return 0;
}

/* kw_schema_map: $defs, definitions and the schemas of properties. */
static int kw_schema_map(struct compiler *c, struct js_node *n, const cJSON *v, size_t off,
			 int depth)
{
	if (!cJSON_IsObject(v))
		return cfail(c, path_key(n->path, v->string), "'%s' must be an object of schemas",
			     v->string);
	for (const cJSON *m = v->child; m; m = m->next) {
		if (!child(c, n, m, path_key2(n->path, v->string, m->string), depth))
			return -1;
	}
	return 0;
}

static int prop_cmp(const void *a, const void *b)
{
	return strcmp(((const struct js_prop *)a)->name, ((const struct js_prop *)b)->name);
}

static int kw_properties(struct compiler *c, struct js_node *n, const cJSON *v, size_t off,
			 int depth)
{
	if (kw_schema_map(c, n, v, off, depth) < 0)
		return -1;
	size_t count = (size_t)cJSON_GetArraySize(v);
	n->props = xcalloc(count ? count : 1, sizeof(*n->props));
	for (const cJSON *m = v->child; m; m = m->next)
		n->props[n->nprops++] = (struct js_prop){m->string, memo_get(&c->s->nodes, m)};
	qsort(n->props, n->nprops, sizeof(*n->props), prop_cmp);
	return 0;
}

/* kw_pattern_properties: each key compiled as a regex, each value a schema. */
static int kw_pattern_properties(struct compiler *c, struct js_node *n, const cJSON *v,
				 size_t off, int depth)
{
	if (!cJSON_IsObject(v))
		return cfail(c, path_key(n->path, v->string), "'%s' must be an object of schemas",
			     v->string);
	size_t count = (size_t)cJSON_GetArraySize(v);
	n->patterns = xcalloc(count ? count : 1, sizeof(*n->patterns));
	for (const cJSON *m = v->child; m; m = m->next) {
		char *err = NULL;
		struct rx *rx = compile_pattern(m->string, &err);
		if (!rx) {
			cfail(c, path_key2(n->path, v->string, m->string), "%s", err);
			free(err);
			return -1;
		}
		n->patterns[n->npatterns].src = m->string;
		n->patterns[n->npatterns++].rx = rx;
		struct js_node *s = child(c, n, m, path_key2(n->path, v->string, m->string), depth);
		if (!s)
			return -1;
		n->patterns[n->npatterns - 1].node = s;
	}
	return 0;
}

/* kw_items: a schema, or in draft-07 also an array of them. */
static int kw_items(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	if (n->res->draft == JSONSCHEMA_DRAFT_7 && cJSON_IsArray(v)) {
		n->flags |= N_ITEMS_ARRAY;
		if (cJSON_GetArraySize(v) == 0)
			return 0;
		return kw_schema_list(c, n, v, offsetof(struct js_node, prefix_items), depth);
	}
	return kw_schema(c, n, v, off, depth);
}

/* string_array: whether v is an array of strings (unique when asked). */
static bool string_array(const cJSON *v)
{
	if (!cJSON_IsArray(v))
		return false;
	for (const cJSON *e = v->child; e; e = e->next) {
		if (!cJSON_IsString(e))
			return false;
	}
	return true;
}

static struct js_dep *add_dep(struct js_dep **deps, size_t *n)
{
	*deps = xreallocarray(*deps, *n + 1, sizeof(**deps));
	struct js_dep *d = &(*deps)[(*n)++];
	memset(d, 0, sizeof(*d));
	return d;
}

/* kw_dependencies: dependentRequired, dependentSchemas and draft-07's
 * dependencies, which holds both. */
static int kw_dependencies(struct compiler *c, struct js_node *n, const cJSON *v, size_t off,
			   int depth)
{
	bool draft7 = strcmp(v->string, "dependencies") == 0;
	bool schemas = strcmp(v->string, "dependentSchemas") == 0;
	if (!cJSON_IsObject(v))
		return cfail(c, path_key(n->path, v->string), "'%s' must be an object", v->string);
	for (const cJSON *m = v->child; m; m = m->next) {
		if ((draft7 && cJSON_IsArray(m)) || (!draft7 && !schemas)) {
			if (!string_array(m))
				return cfail(c, path_key2(n->path, v->string, m->string),
					     "'%s' must be an array of strings", m->string);
			add_dep(&n->dep_required, &n->ndep_required)->props = m;
			n->dep_required[n->ndep_required - 1].name = m->string;
		} else {
			struct js_node *s = child(c, n, m, path_key2(n->path, v->string, m->string),
						  depth);
			if (!s)
				return -1;
			struct js_dep *d = add_dep(&n->dep_schemas, &n->ndep_schemas);
			d->name = m->string;
			d->node = s;
		}
	}
	return 0;
}

/* push_pending: queue n for resolving its references once all is compiled. */
static void push_pending(struct compiler *c, struct js_node *n)
{
	if (c->npending == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->pending = xreallocarray(c->pending, c->cap, sizeof(*c->pending));
	}
	c->pending[c->npending++] = n;
}

/* kw_ref: $ref and $dynamicRef, resolved against the node's base URI now
 * and to a node once everything is compiled. */
static int kw_ref(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	if (!cJSON_IsString(v))
		return cfail(c, path_key(n->path, v->string), "'%s' must be a string", v->string);
	bool queued = n->ref_uri || n->dynamic_uri;
	char *uri = uri_resolve(n->res->uri, v->valuestring);
	if (strcmp(v->string, "$ref") == 0) {
		n->ref_json = v;
		n->ref_uri = uri;
	} else {
		n->dynamic_json = v;
		n->dynamic_uri = uri;
	}
	if (!queued && !c->syntax_only)
		push_pending(c, n);
	return 0;
}

/* kw_type: a type name or a non-empty array of them. */
static int kw_type(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	bool one = cJSON_IsString(v);
	if (!one && (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0))
		return cfail(c, path_key(n->path, "type"),
			     "'type' must be a type name or a non-empty array of them");
	size_t i = 0;
	for (const cJSON *e = one ? v : v->child; e; e = one ? NULL : e->next, i++) {
		char *ptr = one ? path_key(n->path, "type") : path_index(n->path, "type", i);
		if (!cJSON_IsString(e))
			return cfail(c, ptr, "'type' must be a type name or a non-empty array of them");
		size_t t = 0;
		while (type_names[t] && strcmp(type_names[t], e->valuestring) != 0)
			t++;
		if (!type_names[t]) {
			const char *s = util_suggest(e->valuestring, type_names);
			if (s)
				return cfail(c, ptr, "unknown type '%s' (did you mean '%s'?)",
					     e->valuestring, s);
			return cfail(c, ptr, "unknown type '%s'", e->valuestring);
		}
		free(ptr);
		n->types |= 1u << t;
	}
	if (n->types & T_NUMBER)
		n->types |= T_INTEGER;
	return 0;
}

static int kw_enum(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	if (!cJSON_IsArray(v))
		return cfail(c, path_key(n->path, "enum"), "'enum' must be an array");
	n->enum_values = v;
	return 0;
}

static int kw_const(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	n->const_value = v;
	return 0;
}

/* kw_number: multipleOf and the four bounds. */
static int kw_number(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	static const struct {
		const char *name;
		unsigned flag;
	} flags[] = {
		{"maximum", N_MAXIMUM},
		{"exclusiveMaximum", N_EX_MAXIMUM},
		{"minimum", N_MINIMUM},
		{"exclusiveMinimum", N_EX_MINIMUM},
	};
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return cfail(c, path_key(n->path, v->string), "'%s' must be a number", v->string);
	bool multiple = strcmp(v->string, "multipleOf") == 0;
	if (multiple && v->valuedouble <= 0)
		return cfail(c, path_key(n->path, v->string), "'multipleOf' must be greater than 0");
	*FIELD(double, n, off) = v->valuedouble;
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		if (strcmp(flags[i].name, v->string) == 0)
			n->flags |= flags[i].flag;
	}
	return 0;
}

/* kw_count: the length, item, property and contains counts. */
static int kw_count(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || !is_integral(v->valuedouble))
		return cfail(c, path_key(n->path, v->string), "'%s' must be a non-negative integer",
			     v->string);
	*FIELD(size_t, n, off) = v->valuedouble >= 9007199254740992.0 ? SIZE_MAX
								      : (size_t)v->valuedouble;
	return 0;
}

static int kw_pattern(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	if (!cJSON_IsString(v))
		return cfail(c, path_key(n->path, "pattern"), "'pattern' must be a string");
	char *err = NULL;
	n->pattern = compile_pattern(v->valuestring, &err);
	n->pattern_src = v->valuestring;
	if (!n->pattern) {
		cfail(c, path_key(n->path, "pattern"), "%s", err);
		free(err);
		return -1;
	}
	return 0;
}

static int kw_unique(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth)
{
	if (!cJSON_IsBool(v))
		return cfail(c, path_key(n->path, "uniqueItems"), "'uniqueItems' must be a boolean");
	if (cJSON_IsTrue(v))
		n->flags |= N_UNIQUE;
	return 0;
}

static int kw_required(struct compiler *c, struct js_node *n, const cJSON *v, size_t off,
		       int depth)
{
	if (!string_array(v))
		return cfail(c, path_key(n->path, "required"), "'required' must be an array of strings");
	n->required = v;
	return 0;
}

/* kw_format: with format_assert, the checker of a known format. */
static int kw_format(struct compiler *c, struct js_node *n, const cJSON *v, size_t off,
		     int depth)
{
	if (!cJSON_IsString(v))
		return cfail(c, path_key(n->path, "format"), "'format' must be a string");
	if (!c->format_assert)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		if (strcmp(formats[i].name, v->valuestring) == 0) {
			if (formats[i].check)
				n->format = &formats[i];
			return 0;
		}
	}
	const char *names[ARRAY_SIZE(formats) + 1];
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		names[i] = formats[i].name;
	names[ARRAY_SIZE(formats)] = NULL;
	const char *s = util_suggest(v->valuestring, names);
	if (s)
		return cfail(c, path_key(n->path, "format"), "unknown format '%s' (did you mean '%s'?)",
			     v->valuestring, s);
	return cfail(c, path_key(n->path, "format"), "unknown format '%s'", v->valuestring);
}

struct js_keyword {
	const char *name;
	unsigned flags;
	int (*compile)(struct compiler *c, struct js_node *n, const cJSON *v, size_t off, int depth);
	size_t off;
};

#define OFF(field) offsetof(struct js_node, field)

static const struct js_keyword keywords[] = {
	{"$ref", K_ALL, kw_ref, 0},
	{"$dynamicRef", K_D2020, kw_ref, 0},
	{"$defs", K_D2020 | K_PASSIVE, kw_schema_map, 0},
	{"definitions", K_D7 | K_PASSIVE, kw_schema_map, 0},
	{"allOf", K_ALL, kw_schema_list, OFF(all_of)},
	{"anyOf", K_ALL, kw_schema_list, OFF(any_of)},
	{"oneOf", K_ALL, kw_schema_list, OFF(one_of)},
	{"not", K_ALL, kw_schema, OFF(not_)},
	{"if", K_ALL, kw_schema, OFF(if_)},
	{"then", K_ALL, kw_schema, OFF(then_)},
	{"else", K_ALL, kw_schema, OFF(else_)},
	{"dependentSchemas", K_D2020, kw_dependencies, 0},
	{"dependencies", K_D7, kw_dependencies, 0},
	{"prefixItems", K_D2020, kw_schema_list, OFF(prefix_items)},
	{"items", K_ALL, kw_items, OFF(items)},
	{"additionalItems", K_D7, kw_schema, OFF(additional_items)},
	{"contains", K_ALL, kw_schema, OFF(contains)},
	{"properties", K_ALL, kw_properties, 0},
	{"patternProperties", K_ALL, kw_pattern_properties, 0},
	{"additionalProperties", K_ALL, kw_schema, OFF(additional_props)},
	{"propertyNames", K_ALL, kw_schema, OFF(property_names)},
	{"unevaluatedItems", K_D2020, kw_schema, OFF(uneval_items)},
	{"unevaluatedProperties", K_D2020, kw_schema, OFF(uneval_props)},
	{"type", K_ALL | K_VALIDATION, kw_type, 0},
	{"enum", K_ALL | K_VALIDATION, kw_enum, 0},
	{"const", K_ALL | K_VALIDATION, kw_const, 0},
	{"multipleOf", K_ALL | K_VALIDATION, kw_number, OFF(multiple_of)},
	{"maximum", K_ALL | K_VALIDATION, kw_number, OFF(maximum)},
	{"exclusiveMaximum", K_ALL | K_VALIDATION, kw_number, OFF(ex_maximum)},
	{"minimum", K_ALL | K_VALIDATION, kw_number, OFF(minimum)},
	{"exclusiveMinimum", K_ALL | K_VALIDATION, kw_number, OFF(ex_minimum)},
	{"maxLength", K_ALL | K_VALIDATION, kw_count, OFF(max_length)},
	{"minLength", K_ALL | K_VALIDATION, kw_count, OFF(min_length)},
	{"pattern", K_ALL | K_VALIDATION, kw_pattern, 0},
	{"maxItems", K_ALL | K_VALIDATION, kw_count, OFF(max_items)},
	{"minItems", K_ALL | K_VALIDATION, kw_count, OFF(min_items)},
	{"uniqueItems", K_ALL | K_VALIDATION, kw_unique, 0},
	{"maxContains", K_D2020 | K_VALIDATION, kw_count, OFF(max_contains)},
	{"minContains", K_D2020 | K_VALIDATION, kw_count, OFF(min_contains)},
	{"maxProperties", K_ALL | K_VALIDATION, kw_count, OFF(max_props)},
	{"minProperties", K_ALL | K_VALIDATION, kw_count, OFF(min_props)},
	{"required", K_ALL | K_VALIDATION, kw_required, 0},
	{"dependentRequired", K_D2020 | K_VALIDATION, kw_dependencies, 0},
	{"format", K_ALL, kw_format, 0},
};

/* find_keyword: the entry of the keyword table for name in draft. */
static const struct js_keyword *find_keyword(const char *name, int draft)
{
	unsigned want = draft == JSONSCHEMA_DRAFT_7 ? K_D7 : K_D2020;
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
		if ((keywords[i].flags & want) && strcmp(keywords[i].name, name) == 0)
			return &keywords[i];
	}
	return NULL;
}

/* compile_node: the node for the schema at json (memoised); path is owned. */
static struct js_node *compile_node(struct compiler *c, const cJSON *json, struct js_resource *res,
				    char *path, int depth, bool doc_root)
{
	struct js_node *n = memo_get(&c->s->nodes, json);
	if (n) {
		free(path);
		return n;
	}
	if (depth > JS_MAX_SCHEMA_DEPTH) {
		cfail(c, path, "schema nested more than %d levels deep", JS_MAX_SCHEMA_DEPTH);
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->json = json;
	n->res = res;
	n->path = path;
	n->max_length = n->max_items = n->max_contains = n->max_props = SIZE_MAX;
	n->min_contains = 1;
	memo_put(&c->s->nodes, n);
	if (cJSON_IsBool(json)) {
		n->flags = N_BOOL | (cJSON_IsTrue(json) ? N_TRUE : 0);
		return n;
	}
	if (!cJSON_IsObject(json)) {
		cfail(c, xstrdup(path), "a schema must be an object or a boolean");
		return NULL;
	}
	if (compile_identity(c, n, doc_root) < 0)
		return NULL;
	int draft = n->res->draft;
	const cJSON *only = draft == JSONSCHEMA_DRAFT_7 ? get(json, "$ref") : NULL;
	for (const cJSON *m = json->child; m; m = m->next) {
		/* Of a duplicated key, the first counts (as for get()). */
		if ((only && m != only) || get(json, m->string) != m)
			continue;
		const struct js_keyword *k = find_keyword(m->string, draft);
		if (!k || ((k->flags & K_VALIDATION) && n->res->novalid))
			continue;
		if (k->compile(c, n, m, k->off, depth) < 0)
			return NULL;
		if (!(k->flags & K_PASSIVE))
			n->nactive++;
	}
	if (n->flags & N_ITEMS_ARRAY)
		n->items = n->additional_items;
	return n;
}

/* pointer_target: follow the JSON pointer frag from json; *res becomes the
 * resource of the deepest compiled node on the way. */
static const cJSON *pointer_target(const struct compiler *c, const cJSON *json, const char *frag,
				   struct js_resource **res)
{
	struct buf tok;
	buf_init(&tok, BUF_MAX_DEFAULT);
	const char *p = frag;
	while (json && *p == '/') {
		p++;
		size_t len = strcspn(p, "/");
		buf_reset(&tok);
		for (size_t i = 0; i < len; i++) {
			if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1'))
				buf_addch(&tok, p[++i] == '0' ? '~' : '/');
			else
				buf_addch(&tok, p[i]);
		}
		const char *t = tok.data ? tok.data : "";
		p += len;
		if (cJSON_IsObject(json)) {
			json = get(json, t);
		} else if (cJSON_IsArray(json)) {
			char *end;
			unsigned long idx = strtoul(t, &end, 10);
			bool ok = *t >= '0' && *t <= '9' && !*end && (t[0] != '0' || !t[1]) &&
				  idx <= INT_MAX;
			json = ok ? cJSON_GetArrayItem(json, (int)idx) : NULL;
		} else {
			json = NULL;
		}
		struct js_node *n = json ? memo_get(&c->s->nodes, json) : NULL;
		if (n)
			*res = n->res;
	}
	buf_release(&tok);
	return *p ? NULL : json;
}

/* resolve: the node an absolute reference names, loading its document when
 * it is not one of ours yet. */
static struct js_node *resolve(struct compiler *c, struct js_node *n, const cJSON *kw,
			       const char *uri)
{
	char *base = xstrdup(uri);
	char *frag = cut_fragment(base);
	char *ptr = path_key(n->path, kw->string);
	struct js_node *t = NULL;
	struct js_resource *r = find_resource(c->s, base);
	if (!r && metaschema_draft(base)) {
		t = &c->s->meta[metaschema_draft(base) == JSONSCHEMA_DRAFT_7];
		goto out;
	}
	if (!r) {
		char *err = NULL;
		struct js_doc *d = load_doc(c, base, kw->valuestring, &err);
		if (!d) {
			cfail(c, ptr, "%s", err);
			ptr = NULL;
			free(err);
			goto out;
		}
		char *root = xasprintf("%s#", base);
		r = new_resource(c->s, base, d->json, root, c->default_draft, false);
		free(root);
		if (!compile_node(c, d->json, r, xstrdup(r->path), 0, true))
			goto out;
	}
	char *f = frag ? util_pct_decode(frag, strlen(frag)) : xstrdup("");
	if (!f) {
		cfail(c, ptr, "cannot resolve %s '%s'", kw->string, kw->valuestring);
		ptr = NULL;
		goto out;
	}
	const cJSON *target = NULL;
	struct js_resource *tres = r;
	if (*f == '\0') {
		target = r->json;
	} else if (*f == '/') {
		target = pointer_target(c, r->json, f, &tres);
	} else {
		const struct js_anchor *a = find_anchor(r, f);
		if (a)
			t = a->node;
	}
	if (target) {
		char *tpath = xasprintf("%s%s", r->path, *f == '/' ? f : "");
		t = compile_node(c, target, tres, tpath, 0, false);
	} else if (!t) {
		cfail(c, ptr, "cannot resolve %s '%s'", kw->string, kw->valuestring);
		ptr = NULL;
	}
	free(f);
out:
	free(ptr);
	free(base);
	return t;
}

/* resolve_pending: resolve every queued reference; resolving may compile
 * and queue more. */
static int resolve_pending(struct compiler *c)
{
	while (c->npending) {
		struct js_node *n = c->pending[--c->npending];
		if (n->ref_uri && !n->ref) {
			n->ref = resolve(c, n, n->ref_json, n->ref_uri);
			if (!n->ref)
				return -1;
		}
		if (n->dynamic_uri && !n->dynamic_ref) {
			struct js_node *t = resolve(c, n, n->dynamic_json, n->dynamic_uri);
			if (!t)
				return -1;
			n->dynamic_ref = t;
			/* Dynamic only when the fragment is a name the first target
			 * declares as its $dynamicAnchor. */
			const char *h = strchr(n->dynamic_json->valuestring, '#');
			const cJSON *da = cJSON_IsObject(t->json) ? get(t->json, "$dynamicAnchor") : NULL;
			if (h && h[1] && h[1] != '/' && cJSON_IsString(da) &&
			    strcmp(da->valuestring, h + 1) == 0)
				n->dynamic_name = da->valuestring;
		}
	}
	return 0;
}

/* check_ref_loops: a chain of schemas that are nothing but a $ref and comes
 * back on itself can never be evaluated. */
static int check_ref_loops(struct compiler *c)
{
	const struct memo *m = &c->s->nodes;
	for (size_t i = 0; i < m->n; i++) {
		struct js_node *n = m->order[i];
		if (!n->ref || n->nactive != 1)
			continue;
		const struct js_node *p = n->ref;
		for (size_t steps = 0; p && p->ref && p->nactive == 1 && steps <= m->n; steps++) {
			if (p == n)
				return cfail(c, path_key(n->path, "$ref"), "$ref '%s' refers to itself",
					     n->ref_json->valuestring);
			p = p->ref;
		}
	}
	return 0;
}

/* compile_schema: jsonschema_compile(), or only the check that schema is
 * one when syntax_only. */
static struct jsonschema *compile_schema(const cJSON *schema, const struct jsonschema_options *o,
					 bool syntax_only, char **err_pointer, char **err)
{
	if (err_pointer)
		*err_pointer = NULL;
	if (!schema) {
		*err = xstrdup("no schema");
		if (err_pointer)
			*err_pointer = xstrdup("");
		return NULL;
	}
	if (!json_depth_ok(schema, JS_MAX_JSON_DEPTH)) {
		*err = xasprintf("schema nested more than %d levels deep", JS_MAX_JSON_DEPTH);
		if (err_pointer)
			*err_pointer = xstrdup("");
		return NULL;
	}
	struct jsonschema *s = xcalloc(1, sizeof(*s));
	static const char *const meta_uris[] = {
		"https://json-schema.org/draft/2020-12/schema#",
		"http://json-schema.org/draft-07/schema#",
	};
	for (size_t i = 0; i < ARRAY_SIZE(s->meta); i++) {
		s->meta[i].flags = N_META;
		s->meta[i].path = xstrdup(meta_uris[i]);
		s->meta[i].meta_draft = i ? JSONSCHEMA_DRAFT_7 : JSONSCHEMA_DRAFT_2020;
	}
	struct compiler c = {
		.s = s,
		.syntax_only = syntax_only,
		.format_assert = o->format_assert,
		.default_draft = o->default_draft == JSONSCHEMA_DRAFT_7 ? JSONSCHEMA_DRAFT_7
									: JSONSCHEMA_DRAFT_2020,
	};
	char *uri = NULL;
	if (o->base_dir) {
		c.base_real = realpath(o->base_dir, NULL);
		if (!c.base_real) {
			cfail(&c, xstrdup(""), "cannot open folder '%s'", o->base_dir);
			goto out;
		}
		uri = file_uri(c.base_real);
	} else {
		uri = xstrdup(JS_ROOT_URI);
	}
	if (o->remotes_dir) {
		c.remotes_real = realpath(o->remotes_dir, NULL);
		if (!c.remotes_real) {
			cfail(&c, xstrdup(""), "cannot open folder '%s'", o->remotes_dir);
			goto out;
		}
	}
	struct js_doc *d = add_doc(s, uri, cJSON_Duplicate(schema, true));
	struct js_resource *r = new_resource(s, uri, d->json, "", c.default_draft, false);
	s->root = compile_node(&c, d->json, r, xstrdup(""), 0, true);
	if (!s->root || (!syntax_only && (resolve_pending(&c) < 0 || check_ref_loops(&c) < 0)))
		goto out;
	s->draft = s->root->res->draft;
	s->max_steps = o->max_steps ? o->max_steps : JSONSCHEMA_MAX_STEPS;
out:
	free(uri);
	free(c.base_real);
	free(c.remotes_real);
	free(c.pending);
	if (c.err) {
		jsonschema_free(s);
		*err = c.err;
		if (err_pointer)
			*err_pointer = c.err_ptr;
		else
			free(c.err_ptr);
		return NULL;
	}
	return s;
}

struct jsonschema *jsonschema_compile(const cJSON *schema, const struct jsonschema_options *o,
				      char **err_pointer, char **err)
{
	static const struct jsonschema_options defaults = {0};
	return compile_schema(schema, o ? o : &defaults, false, err_pointer, err);
}

int jsonschema_draft(const struct jsonschema *s)
{
	return s->draft;
}

void jsonschema_free(struct jsonschema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nodes.n; i++)
		node_free(s->nodes.order[i]);
	free(s->nodes.slots);
	free(s->nodes.order);
	for (size_t i = 0; i < ARRAY_SIZE(s->meta); i++)
		free(s->meta[i].path);
	while (s->resources) {
		struct js_resource *r = s->resources;
		s->resources = r->next;
		free(r->uri);
		free(r->path);
		free(r->anchors);
		free(r);
	}
	while (s->docs) {
		struct js_doc *d = s->docs;
		s->docs = d->next;
		free(d->uri);
		cJSON_Delete(d->json);
		free(d);
	}
	free(s);
}

/* ---- validating ---- */

struct seg {
	const char *key;        /* NULL: an array index */
	size_t index;
};

struct vctx {
	struct jsonschema_error *errs;
	size_t max_errs;
	size_t nerrs;
	bool collect;           /* failures here fail the whole instance: record them */
	bool abort;             /* a limit was hit: the answer is -1 */
	size_t steps;           /* work done, against max_steps */
	size_t max_steps;
	size_t poll_at;         /* when to look at *stop next */
	volatile sig_atomic_t *stop;
	size_t depth;
	size_t nscope;
	size_t npath;
	const struct js_resource *scope[JS_MAX_EVAL_DEPTH + 2];
	struct seg path[JS_MAX_EVAL_DEPTH + 2];
};

/* Which members or items of one instance were evaluated (for unevaluated*). */
struct js_eval {
	uint64_t *bits;
	size_t n;
	uint64_t small[4];
};

static void eval_init(struct js_eval *e, size_t n)
{
	size_t words = (n + 63) / 64;
	e->n = n;
	if (words <= ARRAY_SIZE(e->small)) {
		memset(e->small, 0, sizeof(e->small));
		e->bits = e->small;
	} else {
		e->bits = xcalloc(words, sizeof(uint64_t));
	}
}

static void eval_clear(struct js_eval *e)
{
	memset(e->bits, 0, (e->n + 63) / 64 * sizeof(uint64_t));
}

static void eval_release(struct js_eval *e)
{
	if (e->bits != e->small)
		free(e->bits);
}

static void eval_set(struct js_eval *e, size_t i)
{
	if (i < e->n)
		e->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static bool eval_get(const struct js_eval *e, size_t i)
{
	return i < e->n && (e->bits[i / 64] >> (i % 64)) & 1;
}

static void eval_merge(struct js_eval *dst, const struct js_eval *src)
{
	for (size_t i = 0; i < (dst->n + 63) / 64; i++)
		dst->bits[i] |= src->bits[i];
}

static void eval_all(struct js_eval *e)
{
	for (size_t i = 0; i < e->n; i++)
		eval_set(e, i);
}

static bool recording(const struct vctx *x)
{
	return x->collect && x->nerrs < x->max_errs;
}

/* stop: after a failure, whether to stop at once (nothing more to record). */
static bool stop(const struct vctx *x)
{
	return x->abort || !x->collect || x->nerrs >= x->max_errs;
}

static char *instance_pointer(const struct vctx *x, const char *extra)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < x->npath; i++) {
		buf_addch(&b, '/');
		if (x->path[i].key)
			ptr_escape(&b, x->path[i].key);
		else
			buf_addf(&b, "%zu", x->path[i].index);
	}
	if (extra) {
		buf_addch(&b, '/');
		ptr_escape(&b, extra);
	}
	return buf_detach(&b, NULL);
}

static void add_error(struct vctx *x, const struct js_node *n, const char *kw, const char *extra,
		      const char *fmt, va_list ap)
{
	struct jsonschema_error *e = &x->errs[x->nerrs++];
	e->instance = instance_pointer(x, extra);
	e->keyword = xstrdup(kw ? kw : "");
	e->schema = kw && *kw ? path_key(n->path, kw) : xstrdup(n->path);
	e->message = xvasprintf(fmt, ap);
}

/* report: record a failure of keyword kw of n at the current instance
 * location (plus member extra), when failures are being recorded. */
PRINTF_LIKE(5, 6)
static void report(struct vctx *x, const struct js_node *n, const char *kw, const char *extra,
		   const char *fmt, ...)
{
	if (!recording(x))
		return;
	va_list ap;
	va_start(ap, fmt);
	add_error(x, n, kw, extra, fmt, ap);
	va_end(ap);
}

/* limit: give up (-1); the last error says why. */
PRINTF_LIKE(4, 5)
static void limit(struct vctx *x, const struct js_node *n, const char *kw, const char *fmt, ...)
{
	if (x->abort)
		return;
	x->abort = true;
	if (x->max_errs == 0)
		return;
	if (x->nerrs == x->max_errs)
		jsonschema_errors_release(&x->errs[--x->nerrs], 1);
	va_list ap;
	va_start(ap, fmt);
	add_error(x, n, kw, NULL, fmt, ap);
	va_end(ap);
}

/* spend: count k steps of work at n; false, and the answer -1, past the
 * budget or once *stop is set (looked at every JS_POLL_STEPS steps). */
static bool spend(struct vctx *x, const struct js_node *n, size_t k)
{
	x->steps += k;
	if (x->steps > x->max_steps) {
		limit(x, n, "", "validation took more than %zu steps (anyOf, oneOf or $ref branches "
				"that multiply?)", x->max_steps);
		return false;
	}
	if (x->stop && x->steps >= x->poll_at) {
		x->poll_at = x->steps + JS_POLL_STEPS;
		if (*x->stop) {
			limit(x, n, "", "validation interrupted");
			return false;
		}
	}
	return true;
}

static bool push_key(struct vctx *x, const char *key)
{
	if (x->npath >= ARRAY_SIZE(x->path)) {
		x->abort = true;
		return false;
	}
	x->path[x->npath++] = (struct seg){key, 0};
	return true;
}

static bool push_index(struct vctx *x, size_t i)
{
	if (x->npath >= ARRAY_SIZE(x->path)) {
		x->abort = true;
		return false;
	}
	x->path[x->npath++] = (struct seg){NULL, i};
	return true;
}

static bool validate(struct vctx *x, const struct js_node *n, const cJSON *v, struct js_eval *ev);

/* apply: validate the member or item v (its path already pushed) against
 * s, saying false_msg when s is the false schema. */
static bool apply(struct vctx *x, const struct js_node *s, const cJSON *v, const char *false_msg)
{
	if ((s->flags & (N_BOOL | N_TRUE)) == N_BOOL) {
		report(x, s, NULL, NULL, "%s", false_msg);
		return false;
	}
	return validate(x, s, v, NULL);
}

/* rx_test: *r = whether s matches rx (written as src); false when matching
 * gave up. */
static bool rx_test(struct vctx *x, const struct js_node *n, const char *kw, struct rx *rx,
		    const char *src, const char *s, int *r)
{
	char *err = NULL;
	*r = rx_match(rx, s, strlen(s), NULL, NULL, &err);
	if (*r < 0) {
		limit(x, n, kw, "pattern '%s': %s", src, err);
		free(err);
		return false;
	}
	return true;
}

static bool is_multiple(double d, double m)
{
	if (is_integral(d) && is_integral(m) && fabs(d) < 9007199254740992.0)
		return fmod(d, m) == 0;
	/* A float quotient is a whole number up to the rounding of one
	 * division; one past what a double holds is no multiple at all. */
	double q = d / m;
	if (!isfinite(q))
		return false;
	return fabs(q - nearbyint(q)) <= 1e-12 * fmax(1.0, fabs(q));
}

/* check_number: multipleOf and the bounds. */
static bool check_number(struct vctx *x, const struct js_node *n, const cJSON *v)
{
	double d = v->valuedouble;
	char a[40], b[40];
	bool ok = true;
	if (n->multiple_of > 0 && !is_multiple(d, n->multiple_of)) {
		fmt_num(d, a);
		fmt_num(n->multiple_of, b);
		report(x, n, "multipleOf", NULL, "%s is not a multiple of %s", a, b);
		ok = false;
		if (stop(x))
			return false;
	}
	const struct {
		bool bad;
		const char *kw;
		const char *what;
		double lim;
	} bounds[] = {
		{(n->flags & N_MAXIMUM) && d > n->maximum, "maximum", "is greater than the maximum",
		 n->maximum},
		{(n->flags & N_EX_MAXIMUM) && d >= n->ex_maximum, "exclusiveMaximum",
		 "is not less than", n->ex_maximum},
		{(n->flags & N_MINIMUM) && d < n->minimum, "minimum", "is less than the minimum",
		 n->minimum},
		{(n->flags & N_EX_MINIMUM) && d <= n->ex_minimum, "exclusiveMinimum",
		 "is not greater than", n->ex_minimum},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bounds); i++) {
		if (!bounds[i].bad)
			continue;
		if (recording(x)) {
			fmt_num(d, a);
			fmt_num(bounds[i].lim, b);
			report(x, n, bounds[i].kw, NULL, "%s %s %s", a, bounds[i].what, b);
		}
		ok = false;
		if (stop(x))
			return false;
	}
	return ok;
}

/* check_string: lengths in code points, pattern and format. */
static bool check_string(struct vctx *x, const struct js_node *n, const cJSON *v)
{
	const char *s = v->valuestring ? v->valuestring : "";
	bool ok = true;
	if (n->min_length > 0 || n->max_length != SIZE_MAX) {
		size_t len = utf8_length(s);
		if (len > n->max_length) {
			report(x, n, "maxLength", NULL, "string is longer than %zu characters",
			       n->max_length);
			ok = false;
		} else if (len < n->min_length) {
			report(x, n, "minLength", NULL, "string is shorter than %zu characters",
			       n->min_length);
			ok = false;
		}
		if (!ok && stop(x))
			return false;
	}
	if (n->pattern) {
		int r;
		if (!rx_test(x, n, "pattern", n->pattern, n->pattern_src, s, &r))
			return false;
		if (!r) {
			report(x, n, "pattern", NULL, "string does not match pattern '%s'",
			       n->pattern_src);
			ok = false;
			if (stop(x))
				return false;
		}
	}
	if (n->format && !n->format->check(s)) {
		report(x, n, "format", NULL, "string is not a valid %s", n->format->name);
		ok = false;
	}
	return ok;
}

struct hashed {
	uint64_t h;
	size_t i;
	const cJSON *v;
};

static int hashed_cmp(const void *a, const void *b)
{
	const struct hashed *p = a, *q = b;
	if (p->h != q->h)
		return p->h < q->h ? -1 : 1;
	return p->i < q->i ? -1 : p->i > q->i;
}

/* check_unique: uniqueItems, pairwise for short arrays and by hash above. */
static bool check_unique(struct vctx *x, const struct js_node *n, const cJSON *v, size_t count)
{
	size_t i = 0, j = 0, work = 0;
	int found = 0;
	if (count <= JS_SMALL_PAIRS) {
		for (const cJSON *a = v->child; a; a = a->next, i++) {
			j = i + 1;
			for (const cJSON *b = a->next; b; b = b->next, j++) {
				found = json_equal(a, b, 0, &work);
				if (found)
					goto done;
			}
		}
	} else {
		struct hashed *h = xmalloc(count * sizeof(*h));
		size_t k = 0;
		for (const cJSON *a = v->child; a; a = a->next, k++)
			h[k] = (struct hashed){json_hash(a, 0, &work), k, a};
		qsort(h, count, sizeof(*h), hashed_cmp);
		for (size_t s = 0; s < count && !found && work <= x->max_steps; s++) {
			for (size_t t = s + 1; t < count && h[t].h == h[s].h; t++) {
				found = json_equal(h[s].v, h[t].v, 0, &work);
				if (found) {
					i = h[s].i;
					j = h[t].i;
					break;
				}
			}
		}
		free(h);
	}
done:
	if (!spend(x, n, work))
		return false;
	if (found < 0) {
		limit(x, n, "uniqueItems", "items nested too deeply to compare");
		return false;
	}
	if (found) {
		report(x, n, "uniqueItems", NULL, "items %zu and %zu are equal", i, j);
		return false;
	}
	return true;
}

/* check_array: the keywords about items; ev receives the items evaluated. */
static bool check_array(struct vctx *x, const struct js_node *n, const cJSON *v,
			struct js_eval *ev)
{
	bool ok = true;
	size_t count = 0;
	for (const cJSON *it = v->child; it; it = it->next)
		count++;
	if (count > n->max_items) {
		report(x, n, "maxItems", NULL, "array has more than %zu items", n->max_items);
		ok = false;
	} else if (count < n->min_items) {
		report(x, n, "minItems", NULL, "array has fewer than %zu items", n->min_items);
		ok = false;
	}
	if (!ok && stop(x))
		return false;
	if ((n->flags & N_UNIQUE) && !check_unique(x, n, v, count)) {
		ok = false;
		if (stop(x))
			return false;
	}
	if (n->prefix_items.n || n->items) {
		size_t i = 0;
		for (const cJSON *it = v->child; it; it = it->next, i++) {
			const struct js_node *s = i < n->prefix_items.n ? n->prefix_items.v[i] : n->items;
			if (!s)
				break;
			if (ev)
				eval_set(ev, i);
			if (!push_index(x, i))
				return false;
			bool r = apply(x, s, it, "item not allowed");
			x->npath--;
			if (!r) {
				ok = false;
				if (stop(x))
					return false;
			}
		}
	}
	if (n->contains) {
		size_t matches = 0, i = 0;
		bool saved = x->collect;
		x->collect = false;
		for (const cJSON *it = v->child; it; it = it->next, i++) {
			if (!push_index(x, i))
				break;
			bool r = validate(x, n->contains, it, NULL);
			x->npath--;
			if (x->abort)
				break;
			if (r) {
				matches++;
				if (ev)
					eval_set(ev, i);
				else if (matches >= n->min_contains && n->max_contains == SIZE_MAX)
					break;
			}
		}
		x->collect = saved;
		if (x->abort)
			return false;
		if (matches < n->min_contains) {
			if (matches == 0)
				report(x, n, "contains", NULL, "array contains no matching item");
			else
				report(x, n, "minContains", NULL,
				       "array contains %zu matching items, fewer than %zu", matches,
				       n->min_contains);
			ok = false;
		} else if (matches > n->max_contains) {
			report(x, n, "maxContains", NULL,
			       "array contains %zu matching items, more than %zu", matches,
			       n->max_contains);
			ok = false;
		}
	}
	return ok;
}

static const struct js_prop *find_prop(const struct js_node *n, const char *key)
{
	size_t lo = 0, hi = n->nprops;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(key, n->props[mid].name);
		if (c == 0)
			return &n->props[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* check_member: properties, patternProperties, additionalProperties and
 * propertyNames for member m (index i) of an object. */
static bool check_member(struct vctx *x, const struct js_node *n, const cJSON *m, size_t i,
			 struct js_eval *ev)
{
	const char *key = m->string ? m->string : "";
	bool ok = true, matched = false;
	if (!push_key(x, key))
		return false;
	if (n->nprops) {
		const struct js_prop *p = find_prop(n, key);
		if (p) {
			matched = true;
			if (ev)
				eval_set(ev, i);
			if (!apply(x, p->node, m, "property not allowed")) {
				ok = false;
				if (stop(x))
					goto out;
			}
		}
	}
	for (size_t k = 0; k < n->npatterns; k++) {
		int r;
		if (!rx_test(x, n, "patternProperties", n->patterns[k].rx, n->patterns[k].src, key,
			     &r)) {
			ok = false;
			goto out;
		}
		if (!r)
			continue;
		matched = true;
		if (ev)
			eval_set(ev, i);
		if (!apply(x, n->patterns[k].node, m, "property not allowed")) {
			ok = false;
			if (stop(x))
				goto out;
		}
	}
	if (!matched && n->additional_props) {
		if (ev)
			eval_set(ev, i);
		if (!apply(x, n->additional_props, m, "property not allowed")) {
			ok = false;
			if (stop(x))
				goto out;
		}
	}
	if (n->property_names) {
		cJSON name = {0};
		name.type = cJSON_String;
		name.valuestring = (char *)key;
		bool saved = x->collect;
		x->collect = false;
		bool r = validate(x, n->property_names, &name, NULL);
		x->collect = saved;
		if (!r && !x->abort)
			report(x, n, "propertyNames", NULL, "invalid property name");
		ok = ok && r;
	}
out:
	x->npath--;
	return ok;
}

/* check_object: the keywords about members; ev receives the members
 * evaluated. */
static bool check_object(struct vctx *x, const struct js_node *n, const cJSON *v,
			 struct js_eval *ev)
{
	bool ok = true;
	if (n->min_props || n->max_props != SIZE_MAX) {
		size_t count = 0;
		for (const cJSON *m = v->child; m; m = m->next)
			count++;
		if (count > n->max_props) {
			report(x, n, "maxProperties", NULL, "object has more than %zu properties",
			       n->max_props);
			ok = false;
		} else if (count < n->min_props) {
			report(x, n, "minProperties", NULL, "object has fewer than %zu properties",
			       n->min_props);
			ok = false;
		}
		if (!ok && stop(x))
			return false;
	}
	if (n->required) {
		for (const cJSON *r = n->required->child; r; r = r->next) {
			if (!spend(x, n, 1))
				return false;
			if (get(v, r->valuestring))
				continue;
			report(x, n, "required", r->valuestring, "required property missing");
			ok = false;
			if (stop(x))
				return false;
		}
	}
	const char *dkw = n->res->draft == JSONSCHEMA_DRAFT_7 ? "dependencies" : "dependentRequired";
	for (size_t k = 0; k < n->ndep_required; k++) {
		const struct js_dep *d = &n->dep_required[k];
		if (!get(v, d->name))
			continue;
		for (const cJSON *r = d->props->child; r; r = r->next) {
			if (!spend(x, n, 1))
				return false;
			if (get(v, r->valuestring))
				continue;
			report(x, n, dkw, r->valuestring,
			       "required property missing (required when '%s' is present)", d->name);
			ok = false;
			if (stop(x))
				return false;
		}
	}
	if (n->nprops || n->npatterns || n->additional_props || n->property_names) {
		size_t i = 0;
		for (const cJSON *m = v->child; m; m = m->next, i++) {
			if (!check_member(x, n, m, i, ev)) {
				ok = false;
				if (stop(x))
					return false;
			}
		}
	}
	for (size_t k = 0; k < n->ndep_schemas; k++) {
		const struct js_dep *d = &n->dep_schemas[k];
		if (get(v, d->name) && !validate(x, d->node, v, ev)) {
			ok = false;
			if (stop(x))
				return false;
		}
	}
	return ok;
}

/* type_list: "string or null" for the "type" keyword t, as written. */
static char *type_list(const cJSON *t)
{
	if (cJSON_IsString(t))
		return xstrdup(t->valuestring);
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (const cJSON *e = t->child; e; e = e->next)
		buf_addf(&b, "%s%s", e == t->child ? "" : e->next ? ", " : " or ", e->valuestring);
	return buf_detach(&b, NULL);
}

/* quote_json: v as compact JSON when short enough to quote, else NULL. */
static char *quote_json(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	if (s && strlen(s) > JS_QUOTE_MAX) {
		cJSON_free(s);
		return NULL;
	}
	return s;
}

/* check_value: type, enum and const. */
static bool check_value(struct vctx *x, const struct js_node *n, const cJSON *v)
{
	bool ok = true;
	if (n->types && !(n->types & type_of(v))) {
		if (recording(x)) {
			char *want = type_list(get(n->json, "type"));
			report(x, n, "type", NULL, "expected %s, got %s", want, type_name(v));
			free(want);
		}
		ok = false;
		if (stop(x))
			return false;
	}
	if (n->enum_values) {
		int r = 0;
		for (const cJSON *e = n->enum_values->child; e && r == 0; e = e->next) {
			size_t work = 0;
			r = json_equal(e, v, 0, &work);
			if (!spend(x, n, work))
				return false;
		}
		if (r < 0) {
			limit(x, n, "enum", "value nested too deeply to compare");
			return false;
		}
		if (!r) {
			if (recording(x)) {
				char *q = quote_json(n->enum_values);
				if (q)
					report(x, n, "enum", NULL, "value is not one of %s", q);
				else
					report(x, n, "enum", NULL, "value is not one of the %d allowed values",
					       cJSON_GetArraySize(n->enum_values));
				cJSON_free(q);
			}
			ok = false;
			if (stop(x))
				return false;
		}
	}
	if (n->const_value) {
		size_t work = 0;
		int r = json_equal(n->const_value, v, 0, &work);
		if (!spend(x, n, work))
			return false;
		if (r < 0) {
			limit(x, n, "const", "value nested too deeply to compare");
			return false;
		}
		if (!r) {
			if (recording(x)) {
				char *q = quote_json(n->const_value);
				if (q)
					report(x, n, "const", NULL, "value is not %s", q);
				else
					report(x, n, "const", NULL, "value is not the const value");
				cJSON_free(q);
			}
			ok = false;
		}
	}
	return ok;
}

/* dynamic_target: the outermost schema of the dynamic scope with the
 * $dynamicAnchor the reference names, else its static target. */
static const struct js_node *dynamic_target(const struct vctx *x, const struct js_node *n)
{
	if (!n->dynamic_name)
		return n->dynamic_ref;
	for (size_t i = 0; i < x->nscope; i++) {
		const struct js_anchor *a = find_anchor(x->scope[i], n->dynamic_name);
		if (a && a->dynamic)
			return a->node;
	}
	return n->dynamic_ref;
}

/* check_any_of: at least one branch; with ev, every branch (annotations). */
static bool check_any_of(struct vctx *x, const struct js_node *n, const cJSON *v,
			 struct js_eval *ev)
{
	bool saved = x->collect, matched = false;
	struct js_eval tmp;
	if (ev)
		eval_init(&tmp, ev->n);
	x->collect = false;
	for (size_t i = 0; i < n->any_of.n && !x->abort; i++) {
		if (ev)
			eval_clear(&tmp);
		if (validate(x, n->any_of.v[i], v, ev ? &tmp : NULL)) {
			matched = true;
			if (!ev)
				break;
			eval_merge(ev, &tmp);
		}
	}
	x->collect = saved;
	if (ev)
		eval_release(&tmp);
	if (!matched && !x->abort)
		report(x, n, "anyOf", NULL, "value matches no schema in anyOf");
	return matched && !x->abort;
}

/* check_one_of: exactly one branch. */
static bool check_one_of(struct vctx *x, const struct js_node *n, const cJSON *v,
			 struct js_eval *ev)
{
	bool saved = x->collect;
	size_t matches = 0, first = 0, second = 0;
	x->collect = false;
	for (size_t i = 0; i < n->one_of.n && matches < 2 && !x->abort; i++) {
		if (validate(x, n->one_of.v[i], v, NULL)) {
			if (matches++)
				second = i;
			else
				first = i;
		}
	}
	/* Evaluate the one match again to collect its annotations. */
	if (matches == 1 && ev && !x->abort)
		validate(x, n->one_of.v[first], v, ev);
	x->collect = saved;
	if (x->abort)
		return false;
	if (matches == 0)
		report(x, n, "oneOf", NULL, "value matches no schema in oneOf");
	else if (matches > 1)
		report(x, n, "oneOf", NULL, "value matches schemas %zu and %zu in oneOf, not exactly one",
		       first, second);
	return matches == 1;
}

/* check_applicators: the in-place applicators, which see the same value. */
static bool check_applicators(struct vctx *x, const struct js_node *n, const cJSON *v,
			      struct js_eval *ev)
{
	bool ok = true;
#define CHECK(expr)                            \
	do {                                   \
		if (!(expr)) {                 \
			ok = false;            \
			if (stop(x))           \
				return false;  \
		}                              \
	} while (0)
	if (n->ref)
		CHECK(validate(x, n->ref, v, ev));
	if (n->dynamic_ref)
		CHECK(validate(x, dynamic_target(x, n), v, ev));
	for (size_t i = 0; i < n->all_of.n; i++)
		CHECK(validate(x, n->all_of.v[i], v, ev));
	if (n->any_of.n)
		CHECK(check_any_of(x, n, v, ev));
	if (n->one_of.n)
		CHECK(check_one_of(x, n, v, ev));
	if (n->not_) {
		bool saved = x->collect;
		x->collect = false;
		bool r = validate(x, n->not_, v, NULL);
		x->collect = saved;
		if (x->abort)
			return false;
		if (r)
			report(x, n, "not", NULL, "value matches the schema in not");
		CHECK(!r);
	}
	if (n->if_ && (n->then_ || n->else_ || ev)) {
		bool saved = x->collect;
		struct js_eval tmp;
		if (ev)
			eval_init(&tmp, ev->n);
		x->collect = false;
		bool r = validate(x, n->if_, v, ev ? &tmp : NULL);
		x->collect = saved;
		if (ev) {
			if (r)
				eval_merge(ev, &tmp);
			eval_release(&tmp);
		}
		if (x->abort)
			return false;
		if (r && n->then_)
			CHECK(validate(x, n->then_, v, ev));
		else if (!r && n->else_)
			CHECK(validate(x, n->else_, v, ev));
	}
#undef CHECK
	return ok;
}

/* check_unevaluated: unevaluatedProperties or unevaluatedItems over what
 * the other keywords did not evaluate (e). */
static bool check_unevaluated(struct vctx *x, const struct js_node *n, const cJSON *v,
			      const struct js_eval *e)
{
	bool ok = true, object = cJSON_IsObject(v);
	const struct js_node *s = object ? n->uneval_props : n->uneval_items;
	size_t i = 0;
	for (const cJSON *m = v->child; m; m = m->next, i++) {
		if (eval_get(e, i))
			continue;
		if (!(object ? push_key(x, m->string) : push_index(x, i)))
			return false;
		bool r = apply(x, s, m, object ? "property not allowed (unevaluated)"
					       : "item not allowed (unevaluated)");
		x->npath--;
		if (!r) {
			ok = false;
			if (stop(x))
				return false;
		}
	}
	return ok;
}

/* validate: whether v is valid against n; ev, when tracking, receives the
 * members or items of v that n evaluated. */
/* check_meta: a value is valid against a draft's metaschema when it
 * compiles as a schema of that draft (references left unresolved). */
static bool check_meta(struct vctx *x, const struct js_node *n, const cJSON *v)
{
	if (!spend(x, n, json_size(v, 0)))
		return false;
	if (cJSON_IsBool(v))
		return true;
	if (!cJSON_IsObject(v)) {
		report(x, n, NULL, NULL, "not a schema: expected object or boolean, got %s",
		       type_name(v));
		return false;
	}
	struct jsonschema_options o = {.default_draft = n->meta_draft};
	char *err = NULL, *ptr = NULL;
	struct jsonschema *s = compile_schema(v, &o, true, &ptr, &err);
	if (!s)
		report(x, n, NULL, NULL, "not a valid schema: %s (at %s)", err, *ptr ? ptr : "(root)");
	jsonschema_free(s);
	free(err);
	free(ptr);
	return s != NULL;
}

static bool validate(struct vctx *x, const struct js_node *n, const cJSON *v, struct js_eval *ev)
{
	if (x->abort || !spend(x, n, 1))
		return false;
	if (n->flags & N_META)
		return check_meta(x, n, v);
	if (n->flags & N_BOOL) {
		if (n->flags & N_TRUE)
			return true;
		report(x, n, NULL, NULL, "value not allowed (the schema is false)");
		return false;
	}
	if (x->depth >= JS_MAX_EVAL_DEPTH) {
		limit(x, n, "", "validation nested more than %d levels deep (a $ref loop?)",
		      JS_MAX_EVAL_DEPTH);
		return false;
	}
	x->depth++;
	bool pushed = false;
	if (x->nscope == 0 || x->scope[x->nscope - 1] != n->res) {
		x->scope[x->nscope++] = n->res;
		pushed = true;
	}
	bool object = cJSON_IsObject(v), array = cJSON_IsArray(v);
	const struct js_node *uneval = object ? n->uneval_props : array ? n->uneval_items : NULL;
	struct js_eval local;
	struct js_eval *use = ev;
	if (uneval) {
		size_t count = 0;
		for (const cJSON *m = v->child; m; m = m->next)
			count++;
		eval_init(&local, count);
		use = &local;
	}
	bool ok = check_value(x, n, v);
	if (ok || !stop(x)) {
		bool r = true;
		if (cJSON_IsNumber(v))
			r = check_number(x, n, v);
		else if (cJSON_IsString(v))
			r = check_string(x, n, v);
		else if (array)
			r = check_array(x, n, v, use);
		else if (object)
			r = check_object(x, n, v, use);
		ok = ok && r;
	}
	if (ok || !stop(x))
		ok = check_applicators(x, n, v, use) && ok;
	if (uneval) {
		if (ok || !stop(x))
			ok = check_unevaluated(x, n, v, &local) && ok;
		if (ok && ev)
			eval_all(ev);
		eval_release(&local);
	}
	if (pushed)
		x->nscope--;
	x->depth--;
	return ok && !x->abort;
}

int jsonschema_validate(const struct jsonschema *s, const cJSON *instance,
			volatile sig_atomic_t *stop, struct jsonschema_error *errs, size_t max_errs,
			size_t *nerrs)
{
	struct vctx ctx;
	struct vctx *x = &ctx;
	x->steps = 0;
	x->max_steps = s->max_steps;
	x->poll_at = 0;
	x->stop = stop;
	x->errs = errs;
	x->max_errs = errs ? max_errs : 0;
	x->nerrs = 0;
	x->collect = x->max_errs > 0;
	x->abort = false;
	x->depth = 0;
	x->nscope = 0;
	x->npath = 0;
	bool ok = instance && validate(x, s->root, instance, NULL);
	int rc = x->abort ? -1 : ok ? 1 : 0;
	if (nerrs)
		*nerrs = x->nerrs;
	return rc;
}

char *jsonschema_error_format(const struct jsonschema_error *e)
{
	return xasprintf("%s: %s (schema %s)", *e->instance ? e->instance : "(root)", e->message,
			 *e->schema ? e->schema : "(root)");
}

void jsonschema_errors_release(struct jsonschema_error *errs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(errs[i].instance);
		free(errs[i].keyword);
		free(errs[i].schema);
		free(errs[i].message);
		memset(&errs[i], 0, sizeof(errs[i]));
	}
}

/* Every keyword of drafts 2020-12, 2019-09, 7, 6 and 4.  In a schema written
 * in the suite, an unknown keyword close to one of them is a typo that
 * would silently check nothing; others are extensions, as the drafts allow. */
static const char *const schema_keywords[] = {
	"$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef",
	"$recursiveAnchor", "$vocabulary", "$comment", "$defs", "id", "definitions",
	"dependencies", "additionalItems", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
	"dependentSchemas", "prefixItems", "items", "contains", "properties", "patternProperties",
	"additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
	"type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
	"exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
	"uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties", "required",
	"dependentRequired", "format", "contentEncoding", "contentMediaType", "contentSchema",
	"title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
	NULL,
};
/* Keywords whose value is a schema, or a list of schemas. */
static const char *const schema_sub[] = {
	"not", "if", "then", "else", "items", "additionalItems", "contains",
	"additionalProperties", "propertyNames", "unevaluatedItems", "unevaluatedProperties",
	"contentSchema", "allOf", "anyOf", "oneOf", "prefixItems", NULL,
};
/* Keywords whose value maps names to schemas. */
static const char *const schema_map[] = {
	"properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
	"dependencies", NULL,
};
/* OpenAPI annotations a typo's distance from a keyword ("examples"). */
static const char *const schema_extensions[] = { "example", "nullable", NULL };

static bool keyword_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

int jsonschema_check_keywords(const struct ynode *n, char **err)
{
	if (n->kind != YNODE_MAP)
		return 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
		if (keyword_in(k->str, schema_sub)) {
			if (v->kind != YNODE_SEQ && jsonschema_check_keywords(v, err) < 0)
				return -1;
			for (size_t j = 0; v->kind == YNODE_SEQ && j < v->n; j++)
				if (jsonschema_check_keywords(v->items[j], err) < 0)
					return -1;
			continue;
		}
		if (keyword_in(k->str, schema_map)) {
			for (size_t j = 0; v->kind == YNODE_MAP && j < v->n; j++)
				if (jsonschema_check_keywords(v->items[2 * j + 1], err) < 0)
					return -1;
			continue;
		}
		if (keyword_in(k->str, schema_keywords) || strncmp(k->str, "x-", 2) == 0 ||
		    keyword_in(k->str, schema_extensions))
			continue;
		const char *hint = util_suggest(k->str, schema_keywords);
		if (hint) {
			*err = ynode_error(k, "unknown schema keyword '%.64s' (did you mean '%s'?)",
					   k->str, hint);
			return -1;
		}
	}
	return 0;
}

char *jsonschema_error_at(const struct ynode *n, const char *ptr, const char *msg)
{
	if (!ptr || strchr(ptr, '#'))
		return ynode_error(n, "bad schema%s%s: %s", ptr ? " at " : "", ptr ? ptr : "", msg);
	if (!ptr[0])
		return ynode_error(n, "bad schema: %s", msg);
	return ynode_error(ynode_at(n, ptr), "bad schema at %s: %s", ptr, msg);
}
