/* suite/suite.c: load a suite file (format v1) into a checked model. */
#include "suite/suite.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "grader.h"
#include "jsonptr.h"
#include "provider.h"
#include "rx.h"
#include "util.h"
#include "stats.h"
#include "schema/jsonschema.h"
#include "suite/include.h"

#define SUITE_MAX_BYTES ((size_t)16 << 20)
#define SUITE_MAX_CASES 50000
#define REPEAT_MAX 1000
#define MAX_TOKENS_MAX 1000000
#define MAX_STEPS_DEFAULT 8
#define MAX_STEPS_MAX 1000

static const char *const top_keys[] = {
	"version", "name", "defaults", "targets", "judge", "graders", "tools", "tool_results",
	"strata", "include", "replay", NULL,
};
static const char *const replay_keys[] = {"stratum", "strata", NULL};
static const char *const replay_match_keys[] = {"match", NULL};
static const char *const defaults_keys[] = {
	"repeat", "threshold", "timeout", "connect_timeout", "confirm", "min_valid", "request",
	"tool_choice", "max_steps", "conversation_timeout", NULL,
};
static const char *const targets_keys[] = {"eval", "prod", NULL};
/* The keys every target takes; each API adds its options. */
static const char *const target_keys[] = {
	"url", "api", "model", "headers", "fingerprint", "timeout", "request", "price", "stream", NULL,
};
static const char *const price_keys[] = {"input", "output", NULL};
static const char *const fingerprint_keys[] = {"header", "json", NULL};
static const char *const judge_keys[] = {
	"url", "api", "model", "headers", "temperature", "max_tokens", "timeout", NULL,
};
static const char *const stratum_keys[] = {
	"description", "tools", "tool_choice", "tool_results", "stream", "expect", "cases", NULL,
};
static const char *const case_keys[] = {
	"id", "input", "messages", "turns", "request", "tools", "tool_choice", "tool_results",
	"vars", "repeat", "threshold", "timeout", "max_steps", "conversation_timeout", "stream",
	"expect", NULL,
};
static const char *const turn_keys[] = {"input", "expect", NULL};
static const char *const answer_keys[] = {"when", "result", NULL};
static const char *const tool_keys[] = {"name", "description", "parameters", NULL};
/* The tool_choice words, in enum tool_choice order from TOOL_CHOICE_AUTO. */
static const char *const tool_choices[] = {"auto", "none", "required", NULL};
static const char *const message_keys[] = {"role", "content", NULL};
static const char *const roles[] = {"system", "user", "assistant", "tool", NULL};
/* Where the cases are: the tree holds a placeholder for each, and each is
 * read in full only while it is loaded. */
static const char *const case_path[] = {"strata", "*", "cases", "*", NULL};

struct seen_id {
	const char *id;
	const char *file;
	int line;
};

/* An open-addressing set of case ids, for the uniqueness check. */
struct id_set {
	struct seen_id *slots;
	size_t cap;
	size_t n;
};

/* A target string whose rendering depends on the case, checked per case
 * once every case is loaded. */
struct case_check {
	const struct ynode *node;
	const char *text;
	bool url;
	const char *header;        /* a header value: the header's name */
	enum suite_user user;
};

/* A tool_choice as one level of the suite gives it. */
struct choice {
	enum tool_choice kind;
	const struct ynode *node;  /* where it is given (NAMED: the name), or NULL */
};

/* What the cases of a stratum inherit: its graders, and the tools and
 * tool_choice of the suite and the stratum. */
struct inherit {
	struct grader **expect;
	size_t nexpect;
	const struct suite_tool **tools;
	size_t ntools;
	struct choice choice;
	int stream;                /* the stratum's stream: as suite_case's */
	const struct suite_tool_script **scripts;
	size_t nscripts;
};

struct loader {
	struct suite *s;
	const struct suite_options *opts;
	struct grader_env env;
	struct id_set ids;
	struct case_check *checks;
	size_t nchecks;
	struct tmpl_unset unset;   /* lazy_env: met by the last rendering */
	enum suite_user user;      /* what the strings being loaded are for */
	const struct suite_case *user_case;
	const struct ynode *defaults_request; /* defaults.request, or NULL */
	struct inherit top;        /* the suite's tools and tool_choice */
	struct suite_includes inc; /* the strata of the suite and its includes */
	struct strmap shared;      /* ynode_key() of an expect entry -> its index in graders */
	struct arena keys;         /* the keys of shared */
	FILE *in;                  /* the suite's text, */
	const struct ydoc *doc;    /* its lean parse, */
	struct ycursor *cases;     /* and the cases it holds, read again one at a time */
};

static size_t hash_id(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return (size_t)h;
}

/* id_set_add: insert id, or return the entry already holding it. */
static const struct seen_id *id_set_add(struct id_set *set, const char *id, const char *file,
				       int line)
{
	if (2 * (set->n + 1) > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		struct seen_id *slots = xcalloc(cap, sizeof(*slots));
		for (size_t i = 0; i < set->cap; i++) {
			if (!set->slots[i].id)
				continue;
			size_t j = hash_id(set->slots[i].id) & (cap - 1);
			while (slots[j].id)
				j = (j + 1) & (cap - 1);
			slots[j] = set->slots[i];
		}
		free(set->slots);
		set->slots = slots;
		set->cap = cap;
	}
	size_t i = hash_id(id) & (set->cap - 1);
	for (; set->slots[i].id; i = (i + 1) & (set->cap - 1))
		if (strcmp(set->slots[i].id, id) == 0)
			return &set->slots[i];
	set->slots[i].id = id;
	set->slots[i].file = file;
	set->slots[i].line = line;
	set->n++;
	return NULL;
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* The key node of key in map, for errors about the key itself. */
static const struct ynode *key_node(const struct ynode *map, const char *key)
{
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->items[2 * i]->str, key) == 0)
			return map->items[2 * i];
	return NULL;
}

/* Of keys a and b, both in map, the one written second. */
static const struct ynode *second_key(const struct ynode *map, const char *a, const char *b)
{
	bool one = false;
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->items[2 * i];
		if (strcmp(k->str, a) == 0 || strcmp(k->str, b) == 0) {
			if (one)
				return k;
			one = true;
		}
	}
	return map;
}


static int need_map(const struct ynode *n, const char *what, char **err)
{
	if (n->kind == YNODE_MAP)
		return 0;
	*err = ynode_error(n, "%s must be a mapping", what);
	return -1;
}

static const struct ynode *need_key(const struct ynode *map, const char *key, const char *where,
				    char **err)
{
	const struct ynode *v = ynode_get(map, key);
	if (!v)
		*err = ynode_error(map, "missing required key '%s' %s", key, where);
	return v;
}

static bool is_text(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && !ynode_is_null(n);
}

static int get_text(const struct ynode *v, const char *key, char **out, char **err)
{
	if (!is_text(v)) {
		*err = ynode_error(v, "'%s' must be a string", key);
		return -1;
	}
	*out = xstrdup(v->str);
	return 0;
}

/* get_int: a whole number from min (0 or 1) to max. */
static int get_int(const struct ynode *v, const char *key, int min, int max, int *out,
		   char **err)
{
	double d;
	bool number = ynode_number(v, &d) == 0 && d >= min;
	if (number && d > max) {
		*err = ynode_error(v, "'%s' must be at most %d", key, max);
		return -1;
	}
	if (!number || d != (double)(int)d) {
		*err = min > 0 ? ynode_error(v, "'%s' must be a positive integer", key)
			       : ynode_error(v, "'%s' must be a whole number from 0 to %d", key, max);
		return -1;
	}
	*out = (int)d;
	return 0;
}

static int get_fraction(const struct ynode *v, const char *key, double max, double *out,
			char **err)
{
	double d;
	if (ynode_number(v, &d) < 0 || d < 0 || d > max) {
		*err = ynode_error(v, "'%s' must be a number from 0 to %g", key, max);
		return -1;
	}
	*out = d;
	return 0;
}

static int get_duration(const struct ynode *v, const char *key, long *ms, char **err)
{
	if (v->kind != YNODE_SCALAR || util_parse_duration(v->str, ms) < 0 || *ms <= 0) {
		*err = ynode_error(v, "'%s' must be a positive duration such as 250ms, 30s or 2m", key);
		return -1;
	}
	return 0;
}

/* get_stream: a stream: true or false, which the n targets t must be able
 * to honour when true. */
static int get_stream(const struct ynode *v, const struct target *t, size_t n, bool *out,
		      char **err)
{
	if (ynode_bool(v, out) < 0) {
		*err = ynode_error(v, "'stream' must be true or false");
		return -1;
	}
	for (size_t i = 0; *out && i < n; i++) {
		if (!provider_can_stream(t[i].provider, t[i].priv)) {
			*err = ynode_error(v, "api %s of target '%s' cannot stream", t[i].provider->name,
					   side_name(t[i].side));
			return -1;
		}
	}
	return 0;
}

static int get_pointer(const struct ynode *v, const char *key, const char *example, char **out,
		       char **err)
{
	if (!is_text(v) || !jsonptr_valid(v->str)) {
		*err = ynode_error(v, "'%s' must be a JSON pointer such as %s", key, example);
		return -1;
	}
	*out = xstrdup(v->str);
	return 0;
}

/* The template context of strings that only ${env:...} may fill. */
static struct tmpl_ctx env_ctx(struct loader *L)
{
	return (struct tmpl_ctx){
		.allowed = TMPL_ENV,
		.redact = &L->s->redact,
		.unset = L->opts && L->opts->lazy_env ? &L->unset : NULL,
	};
}

/* note_unset: record the variables the last rendering met unset as used at
 * n by L's current user; whether there were any. */
static bool note_unset(struct loader *L, const struct ynode *n)
{
	struct suite *s = L->s;
	bool any = L->unset.n > 0;
	for (size_t i = 0; i < L->unset.n; i++) {
		bool seen = false;
		for (size_t j = 0; j < s->nunset && !seen; j++)
			seen = s->unset[j].line == n->line && s->unset[j].col == n->col &&
			       strcmp(s->unset[j].file, n->file) == 0 &&
			       s->unset[j].user == L->user &&
			       strcmp(s->unset[j].name, L->unset.names[i]) == 0;
		if (seen)
			continue;
		s->unset = xreallocarray(s->unset, s->nunset + 1, sizeof(*s->unset));
		s->unset[s->nunset++] = (struct suite_unset){
			.name = xstrdup(L->unset.names[i]),
			.file = xstrdup(n->file),
			.line = n->line,
			.col = n->col,
			.user = L->user,
			.c = L->user == SUITE_USER_CASE ? L->user_case : NULL,
		};
	}
	tmpl_unset_release(&L->unset);
	return any;
}

/* render: text rendered with ctx (whose unset is L's or NULL), errors and
 * unset variables placed at n; NULL and *err on a template error. */
static char *render(struct loader *L, const struct ynode *n, const char *text,
		    const struct tmpl_ctx *ctx, char **err)
{
	char *msg = NULL;
	char *r = template_render(text, ctx, &msg);
	if (!r) {
		*err = ynode_error(n, "%s", msg);
		free(msg);
	}
	note_unset(L, n);
	return r;
}

/* Check a template string at load and report errors at its node. */
static int check_template(struct loader *L, const struct ynode *n, const char *text,
			  unsigned allowed, char **err)
{
	char *msg = NULL;
	struct tmpl_ctx ctx = env_ctx(L);
	ctx.allowed = allowed;
	int rc = template_check(text, &ctx, &msg);
	note_unset(L, n);
	if (rc == 0)
		return 0;
	*err = ynode_error(n, "%s", msg);
	free(msg);
	return -1;
}

/* model: a string template of ${env:...} only, stored rendered (an unset
 * variable is an error here, never an empty name at send time). */
static int get_model(struct loader *L, const struct ynode *v, char **out, char **err)
{
	if (!is_text(v)) {
		*err = ynode_error(v, "'model' must be a string");
		return -1;
	}
	if (check_template(L, v, v->str, TMPL_ENV, err) < 0)
		return -1;
	struct tmpl_ctx ctx = env_ctx(L);
	*out = render(L, v, v->str, &ctx, err);
	return *out ? 0 : -1;
}

static void add_case_check(struct loader *L, const struct ynode *n, const char *text, bool url,
			   const char *header)
{
	L->checks = xreallocarray(L->checks, L->nchecks + 1, sizeof(*L->checks));
	L->checks[L->nchecks++] = (struct case_check){
		.node = n, .text = text, .url = url, .header = header, .user = L->user};
}

static bool is_http_url(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

/* header_value_fault: why a rendered header value cannot be sent (a line
 * break would inject headers), or NULL; a tab is allowed. */
static const char *header_value_fault(const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	if (strpbrk(value, "\r\n"))
		return "must not contain a line break";
	for (; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return "must not contain control characters";
	return NULL;
}

static bool is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* headers: a mapping of header name to a template string.  A value that
 * does not depend on the case is rendered now and held as a secret; one
 * that does is rendered for every case once the cases are loaded. */
static int load_headers(struct loader *L, const struct ynode *n, unsigned allowed,
			struct header **out, size_t *nout, char **err)
{
	if (need_map(n, "'headers'", err) < 0)
		return -1;
	*out = xcalloc(n->n, sizeof(**out));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i];
		const struct ynode *v = n->items[2 * i + 1];
		bool token = k->len > 0;
		for (size_t j = 0; j < k->len && token; j++)
			token = is_token_char(k->str[j]);
		if (!token) {
			*err = ynode_error(k, "invalid header name '%.64s'", k->str);
			return -1;
		}
		for (size_t j = 0; j < *nout; j++) {
			if (strcasecmp((*out)[j].name, k->str) == 0) {
				*err = ynode_error(k, "duplicate header '%.64s'", k->str);
				return -1;
			}
		}
		if (!is_text(v)) {
			*err = ynode_error(v, "header '%.64s' must be a string", k->str);
			return -1;
		}
		const char *fault = header_value_fault(v->str);
		if (fault) {
			*err = ynode_error(v, "header '%.64s' %s", k->str, fault);
			return -1;
		}
		if (check_template(L, v, v->str, allowed, err) < 0)
			return -1;
		struct header *h = &(*out)[(*nout)++];
		h->name = xstrdup(k->str);
		h->value = xstrdup(v->str);
		if (template_uses(h->value, TMPL_INPUT | TMPL_CASE | TMPL_VARS | TMPL_SESSION)) {
			add_case_check(L, v, h->value, false, h->name);
			continue;
		}
		struct tmpl_ctx ctx = env_ctx(L);
		char *value = render(L, v, h->value, &ctx, err);
		if (!value)
			return -1;
		fault = header_value_fault(value);
		redact_add(&L->s->redact, value);
		free(value);
		if (fault) {
			*err = ynode_error(v, "header '%.64s' %s", k->str, fault);
			return -1;
		}
	}
	return 0;
}

/* api: one of provider_table[] (for the judge, one that can judge); none
 * given is the table's first. */
static int get_api(const struct ynode *n, bool judge, const struct provider **out, char **err)
{
	const struct ynode *v = ynode_get(n, "api");
	if (!v) {
		*out = provider_table[0];
		return 0;
	}
	const char **names = provider_names(judge);
	for (size_t i = 0; names[i] && is_text(v); i++) {
		if (strcmp(v->str, names[i]) == 0) {
			*out = provider_find(names[i]);
			free(names);
			return 0;
		}
	}
	char *list = util_join(names, ", ");
	const char *hint = is_text(v) ? util_suggest(v->str, names) : NULL;
	if (judge && is_text(v) && provider_find(v->str))
		*err = ynode_error(v, "the judge cannot use api '%.64s' (one of: %s)", v->str, list);
	else if (!is_text(v))
		*err = ynode_error(v, "'api' must be one of: %s", list);
	else if (hint)
		*err = ynode_error(v, "unknown api '%.64s' (did you mean '%s'? one of: %s)", v->str,
				   hint, list);
	else
		*err = ynode_error(v, "unknown api '%.64s' (one of: %s)", v->str, list);
	free(list);
	free(names);
	return -1;
}

/* Check every string of a target's template (a body, a request) for the
 * names allowed; the case-dependent ones are checked again per case. */
static int check_body(struct loader *L, const struct ynode *n, unsigned allowed, char **err)
{
	if (n->kind == YNODE_SCALAR) {
		bool b;
		double d;
		if (ynode_is_null(n) || ynode_bool(n, &b) == 0 || ynode_number(n, &d) == 0)
			return 0;
		if (check_template(L, n, n->str, allowed, err) < 0)
			return -1;
		if (template_uses(n->str, TMPL_VARS))
			add_case_check(L, n, n->str, false, NULL);
		return 0;
	}
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *c = n->kind == YNODE_SEQ ? n->items[i] : n->items[2 * i + 1];
		if (check_body(L, c, allowed, err) < 0)
			return -1;
	}
	return 0;
}

/* merge_deep: from's members merged into into, consuming from: an object
 * member that both have is merged the same way; any other member of from
 * replaces into's of the same name. */
static void merge_deep(cJSON *into, cJSON *from)
{
	cJSON *m;
	while ((m = from->child)) {
		cJSON_DetachItemViaPointer(from, m);
		cJSON *old = cJSON_GetObjectItemCaseSensitive(into, m->string);
		if (cJSON_IsObject(old) && cJSON_IsObject(m)) {
			merge_deep(old, m);
		} else if (old) {
			cJSON_ReplaceItemViaPointer(into, old, m);
		} else {
			cJSON_AddItemToObject(into, m->string, m);
		}
	}
	cJSON_Delete(from);
}

/* request_template: the request: mapping n as a JSON template, every string
 * checked as a target string for L's current user. */
static cJSON *request_template(struct loader *L, const struct ynode *n, char **err)
{
	if (need_map(n, "'request'", err) < 0 || check_body(L, n, TMPL_TARGET, err) < 0)
		return NULL;
	return ynode_to_json(n, err);
}

/* load_target_request: t's request template: the defaults' request with
 * the target's own (in target mapping map) deep-merged over it. */
static int load_target_request(struct loader *L, struct target *t, const struct ynode *map,
			       char **err)
{
	const struct ynode *n = ynode_get(map, "request");
	cJSON *own = NULL;
	if (n && t->provider->own_body) {
		*err = ynode_error(key_node(map, "request"), "'request' is not used with api %s "
				   "(its body is the target's 'body')", t->provider->name);
		return -1;
	}
	if (t->provider->own_body || (!n && !L->defaults_request))
		return 0;
	if (L->defaults_request && !(t->request = request_template(L, L->defaults_request, err)))
		return -1;
	if (n && !(own = request_template(L, n, err)))
		return -1;
	if (own && t->request)
		merge_deep(t->request, own);
	else if (own)
		t->request = own;
	return 0;
}

static int load_fingerprint(struct target *t, const struct ynode *n, char **err)
{
	if (need_map(n, "'fingerprint'", err) < 0)
		return -1;
	char *ctx = xasprintf("in fingerprint of target '%s'", side_name(t->side));
	int rc = ynode_check_keys(n, fingerprint_keys, ctx, err);
	free(ctx);
	if (rc < 0)
		return -1;
	const struct ynode *header = ynode_get(n, "header");
	const struct ynode *json = ynode_get(n, "json");
	if ((header != NULL) == (json != NULL)) {
		*err = ynode_error(n, "'fingerprint' needs exactly one of 'header' or 'json'");
		return -1;
	}
	if (header) {
		if (get_text(header, "header", &t->fingerprint_where, err) < 0)
			return -1;
		t->fingerprint = FINGERPRINT_HEADER;
		return 0;
	}
	if (get_pointer(json, "json", "/system_fingerprint", &t->fingerprint_where, err) < 0)
		return -1;
	t->fingerprint = FINGERPRINT_JSON;
	return 0;
}

/* option_names: the names of opts, NULL-terminated (the caller frees the
 * array). */
static const char **option_names(const struct provider_option *opts)
{
	size_t n = 0;
	while (opts && opts[n].name)
		n++;
	const char **names = xcalloc(n + 1, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = opts[i].name;
	return names;
}

/* all_target_keys: every key a target may have, the shared ones first and
 * then each API's options in table order, NULL-terminated (the caller frees
 * the array); *nshared: how many are shared. */
static const char **all_target_keys(size_t *nshared)
{
	size_t n = ARRAY_SIZE(target_keys), k = 0;
	for (size_t i = 0; provider_table[i]; i++)
		for (const struct provider_option *o = provider_table[i]->options; o && o->name; o++)
			n++;
	const char **keys = xcalloc(n, sizeof(*keys));
	for (; target_keys[k]; k++)
		keys[k] = target_keys[k];
	*nshared = k;
	for (size_t i = 0; provider_table[i]; i++)
		for (const struct provider_option *o = provider_table[i]->options; o && o->name; o++)
			if (!in_list(keys, k, o->name))
				keys[k++] = o->name;
	return keys;
}

/* takes: whether api p has the option name. */
static bool takes(const struct provider *p, const char *name)
{
	for (const struct provider_option *o = p->options; o && o->name; o++)
		if (strcmp(o->name, name) == 0)
			return true;
	return false;
}

/* foreign_option: an option of other APIs (one of options, NULL-terminated)
 * that target n of api p has: "'body' is only used with api http". */
static int foreign_option(const struct ynode *n, const struct provider *p,
			  const char *const *options, char **err)
{
	const char *key = NULL;
	for (size_t i = 0; options[i] && !key; i++)
		if (ynode_get(n, options[i]) && !takes(p, options[i]))
			key = options[i];
	if (!key)
		return 0;
	struct buf apis;
	buf_init(&apis, 0);
	for (size_t i = 0; provider_table[i]; i++)
		if (takes(provider_table[i], key))
			buf_addf(&apis, "%s%s", apis.len ? " or " : "", provider_table[i]->name);
	*err = ynode_error(key_node(n, key), "'%s' is only used with api %s", key, apis.data);
	buf_release(&apis);
	return -1;
}

static int load_options(struct loader *L, const struct provider_option *opts,
			const struct ynode *n, const char *what, const char *where, void *priv,
			char **err);

/* load_option: one option's value v into priv; what names the mapping
 * holding it ("target 'prod'"). */
static int load_option(struct loader *L, const struct provider_option *o, const struct ynode *v,
		       const char *what, void *priv, char **err)
{
	void *slot = (char *)priv + o->offset;
	switch (o->kind) {
	case PROVIDER_OPTION_TEMPLATE:
		*(cJSON **)slot = ynode_to_json(v, err);
		return *(cJSON **)slot && check_body(L, v, TMPL_TARGET | TMPL_TOOLS, err) == 0 ? 0
											      : -1;
	case PROVIDER_OPTION_POINTER:
		return get_pointer(v, o->name, o->example, (char **)slot, err);
	case PROVIDER_OPTION_MAP:
		break;
	}
	if (o->shorthand && v->kind != YNODE_MAP) {
		const struct provider_option *sub = o->sub;
		while (strcmp(sub->name, o->shorthand) != 0)
			sub++;
		if (v->kind == YNODE_SCALAR)
			return get_pointer(v, o->name, sub->example,
					   (char **)((char *)priv + sub->offset), err);
		const char **names = option_names(o->sub);
		char *list = util_join(names, ", ");
		*err = ynode_error(v, "'%s' must be a JSON pointer such as %s or a mapping of %s",
				   o->name, sub->example, list);
		free(list);
		free(names);
		return -1;
	}
	char *quoted = xasprintf("'%s'", o->name);
	char *sub_what = xasprintf("%s of %s", o->name, what);
	char *sub_where = xasprintf("in %s", sub_what);
	const char **names = option_names(o->sub);
	int rc = need_map(v, quoted, err);
	if (rc == 0)
		rc = ynode_check_keys(v, names, sub_where, err);
	if (rc == 0)
		rc = load_options(L, o->sub, v, sub_what, sub_where, priv, err);
	free(names);
	free(sub_where);
	free(sub_what);
	free(quoted);
	return rc;
}

/* load_options: the options opts of mapping n into priv, the required ones
 * checked first; where says where a missing one is missing. */
static int load_options(struct loader *L, const struct provider_option *opts,
			const struct ynode *n, const char *what, const char *where, void *priv,
			char **err)
{
	for (const struct provider_option *o = opts; o && o->name; o++)
		if (o->required && !need_key(n, o->name, where, err))
			return -1;
	for (const struct provider_option *o = opts; o && o->name; o++) {
		const struct ynode *v = ynode_get(n, o->name);
		if (v && load_option(L, o, v, what, priv, err) < 0)
			return -1;
	}
	return 0;
}

/* load_api_options: t's private state, read from the options of its api
 * in target mapping n, then the provider's load(). */
static int load_api_options(struct loader *L, struct target *t, const struct ynode *n,
			    const char *what, char **err)
{
	const struct provider *p = t->provider;
	size_t nshared;
	const char **keys = all_target_keys(&nshared);
	int foreign = foreign_option(n, p, keys + nshared, err);
	free(keys);
	if (foreign < 0)
		return -1;
	if (!p->priv_size)
		return 0;
	t->priv = xcalloc(1, p->priv_size);
	char *where = xasprintf("in %s (api %s)", what, p->name);
	int rc = load_options(L, p->options, n, what, where, t->priv, err);
	free(where);
	if (rc == 0 && p->load)
		rc = p->load(t->priv, n, err);
	return rc;
}

/* PRICE_MAX: the largest price per million tokens taken (USD). */
#define PRICE_MAX 1000000

/* get_price: key of price:, USD per million tokens. */
static int get_price(const struct ynode *price, const char *key, double *out, char **err)
{
	const struct ynode *v = need_key(price, key, "in price", err);
	if (!v)
		return -1;
	if (ynode_number(v, out) < 0 || !(*out >= 0 && *out <= PRICE_MAX)) {
		*err = ynode_error(v, "'%s' must be US dollars per million tokens, from 0 to %d",
				   key, PRICE_MAX);
		return -1;
	}
	return 0;
}

/* load_price: a target's price: {input, output}, USD per million tokens. */
static int load_price(struct target *t, const struct ynode *n, char **err)
{
	if (need_map(n, "'price'", err) < 0 ||
	    ynode_check_keys(n, price_keys, "in price", err) < 0 ||
	    get_price(n, "input", &t->price_input, err) < 0 ||
	    get_price(n, "output", &t->price_output, err) < 0)
		return -1;
	t->priced = true;
	return 0;
}

/* A target: api first (it decides which keys apply), then its strings. */
static int load_target(struct loader *L, enum side side, const struct ynode *n, char **err)
{
	struct suite *s = L->s;
	struct target *t = &s->targets[side];
	const struct ynode *v;
	char *where = xasprintf("in target '%s'", side_name(side));
	char *what = xasprintf("target '%s'", side_name(side));
	int rc = -1;
	t->side = side;
	t->line = n->line;
	t->col = n->col;
	L->user = (enum suite_user)side;
	size_t nshared;
	const char **keys = all_target_keys(&nshared);
	bool known = need_map(n, what, err) == 0 && ynode_check_keys(n, keys, where, err) == 0;
	free(keys);
	if (!known || get_api(n, false, &t->provider, err) < 0)
		goto out;
	const char *override = L->opts ? L->opts->target_url[side] : NULL;
	v = ynode_get(n, "url");
	if (override) {
		t->url = xstrdup(override);
		t->url_overridden = true;
		if (!is_http_url(override)) {
			*err = xasprintf("--target %s: URL must start with http:// or https://",
					 side_name(side));
			goto out;
		}
		if (v && !is_text(v)) {
			*err = ynode_error(v, "'url' must be a string");
			goto out;
		}
	} else {
		if (!v)
			v = need_key(n, "url", where, err);
		if (!v || get_text(v, "url", &t->url, err) < 0 ||
		    check_template(L, v, t->url, TMPL_TARGET, err) < 0)
			goto out;
		add_case_check(L, v, t->url, true, NULL);
	}
	if ((v = ynode_get(n, "model")) && get_model(L, v, &t->model, err) < 0)
		goto out;
	if ((v = ynode_get(n, "headers")) &&
	    load_headers(L, v, TMPL_TARGET, &t->headers, &t->nheaders, err) < 0)
		goto out;
	if ((v = ynode_get(n, "fingerprint")) && load_fingerprint(t, v, err) < 0)
		goto out;
	if ((v = ynode_get(n, "timeout")) && get_duration(v, "timeout", &t->timeout_ms, err) < 0)
		goto out;
	if ((v = ynode_get(n, "price")) && load_price(t, v, err) < 0)
		goto out;
	if (load_api_options(L, t, n, what, err) < 0 ||
	    load_target_request(L, t, n, err) < 0)
		goto out;
	if ((v = ynode_get(n, "stream")) && get_stream(v, t, 1, &t->stream, err) < 0)
		goto out;
	rc = 0;
out:
	free(where);
	free(what);
	return rc;
}

/* The judge: checked now, used by judge graders. */
static int load_judge(struct loader *L, const struct ynode *n, char **err)
{
	struct judge_config *j = &L->s->judge;
	const struct ynode *v;
	j->present = true;
	j->line = n->line;
	j->col = n->col;
	L->user = SUITE_USER_JUDGE;
	if (need_map(n, "'judge'", err) < 0 || ynode_check_keys(n, judge_keys, "in judge", err) < 0)
		return -1;
	if (get_api(n, true, &j->provider, err) < 0)
		return -1;
	const char *override = L->opts ? L->opts->judge_url : NULL;
	if (override) {
		j->url = xstrdup(override);
		j->url_overridden = true;
		redact_add_url(&L->s->redact, override);
		if (!is_http_url(override)) {
			*err = xstrdup("--judge-url: URL must start with http:// or https://");
			return -1;
		}
	} else {
		if (!(v = need_key(n, "url", "in judge", err)) ||
		    get_text(v, "url", &j->url, err) < 0 ||
		    check_template(L, v, j->url, TMPL_ENV, err) < 0)
			return -1;
		struct tmpl_ctx ctx = env_ctx(L);
		char *msg = NULL;
		char *url = template_render(j->url, &ctx, &msg);
		bool ok = note_unset(L, v) || (url && is_http_url(url));
		if (url)
			redact_add_url(&L->s->redact, url);
		free(url);
		free(msg);
		if (!ok) {
			*err = ynode_error(v, "'url' must start with http:// or https://");
			return -1;
		}
	}
	if ((v = ynode_get(n, "model")) && get_model(L, v, &j->model, err) < 0)
		return -1;
	if ((v = ynode_get(n, "headers")) &&
	    load_headers(L, v, TMPL_ENV, &j->headers, &j->nheaders, err) < 0)
		return -1;
	if ((v = ynode_get(n, "temperature")) &&
	    get_fraction(v, "temperature", 2, &j->temperature, err) < 0)
		return -1;
	if ((v = ynode_get(n, "max_tokens")) &&
	    get_int(v, "max_tokens", 1, MAX_TOKENS_MAX, &j->max_tokens, err) < 0)
		return -1;
	if ((v = ynode_get(n, "timeout")) && get_duration(v, "timeout", &j->timeout_ms, err) < 0)
		return -1;
	if (!j->timeout_ms)
		j->timeout_ms = L->s->defaults.timeout_ms;
	return 0;
}

static bool is_tool_name(const struct ynode *n)
{
	if (!is_text(n) || n->len == 0 || n->len > 64)
		return false;
	for (size_t i = 0; i < n->len; i++) {
		char c = n->str[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* tool_parameters: the parameters n of tool name as JSON: a schema of type
 * object without misspelt keywords, compiled once to find its faults;
 * NULL and *err at the fault. */
static cJSON *tool_parameters(const struct ynode *n, const char *name, char **err)
{
	const struct ynode *type = n->kind == YNODE_MAP ? ynode_get(n, "type") : NULL;
	char *ptr = NULL, *why = NULL;
	if (!type || !is_text(type) || strcmp(type->str, "object") != 0) {
		*err = ynode_error(type ? type : n, "the parameters of tool '%s' must be a "
				   "schema of type object", name);
		return NULL;
	}
	cJSON *json = ynode_to_json(n, &why);
	if (!json) {
		*err = ynode_error(n, "%s", why);
		free(why);
		return NULL;
	}
	struct jsonschema *schema = NULL;
	if (jsonschema_check_keywords(n, err) == 0 &&
	    !(schema = jsonschema_compile(json, NULL, &ptr, &why)))
		*err = jsonschema_error_at(n, ptr, why);
	if (!schema) {
		cJSON_Delete(json);
		json = NULL;
	}
	jsonschema_free(schema);
	free(ptr);
	free(why);
	return json;
}

/* load_tool: one entry of a tools: list into the suite. */
static struct suite_tool *load_tool(struct loader *L, const struct ynode *n, char **err)
{
	const struct ynode *name = n->kind == YNODE_MAP ? ynode_get(n, "name") : NULL, *v;
	char *where = name && is_text(name) ? xasprintf("in tool '%.64s'", name->str)
					    : xstrdup("in tool");
	int rc = need_map(n, "a tool", err);
	if (rc == 0)
		rc = ynode_check_keys(n, tool_keys, where, err);
	if (rc == 0 && !need_key(n, "name", where, err))
		rc = -1;
	free(where);
	if (rc < 0)
		return NULL;
	if (!is_text(name)) {
		*err = ynode_error(name, "'name' must be a string");
		return NULL;
	}
	if (!is_tool_name(name)) {
		*err = ynode_error(name, "tool name '%.64s' must be 1 to 64 letters, digits, '_' "
				   "or '-'", name->str);
		return NULL;
	}
	struct suite_tool *t = xcalloc(1, sizeof(*t));
	struct suite *s = L->s;
	s->tools = xreallocarray(s->tools, s->ntools + 1, sizeof(*s->tools));
	s->tools[s->ntools++] = t;
	t->name = xstrdup(name->str);
	if ((v = ynode_get(n, "description")) && get_text(v, "description", &t->description, err) < 0)
		return NULL;
	if ((v = ynode_get(n, "parameters"))) {
		if (!(t->parameters = tool_parameters(v, t->name, err)))
			return NULL;
	} else {
		t->parameters = cJSON_CreateObject();
		cJSON_AddStringToObject(t->parameters, "type", "object");
		cJSON_AddItemToObject(t->parameters, "properties", cJSON_CreateObject());
	}
	return t;
}

/* load_tools: the tools: list n of one level, merged into *list by name:
 * a tool replaces the one of the same name in its place, a new one is
 * appended.  A name twice in one list, or more than SUITE_TOOLS_MAX tools
 * in all, is an error. */
static int load_tools(struct loader *L, const struct ynode *n, const struct suite_tool ***list,
		      size_t *count, char **err)
{
	if (n->kind != YNODE_SEQ) {
		*err = ynode_error(n, "'tools' must be a list of {name, description, parameters}");
		return -1;
	}
	for (size_t i = 0; i < n->n; i++) {
		size_t at = 0;
		if (i >= SUITE_TOOLS_MAX) {
			*err = ynode_error(n->items[i], "more than %d tools", SUITE_TOOLS_MAX);
			return -1;
		}
		const struct suite_tool *t = load_tool(L, n->items[i], err);
		if (!t)
			return -1;
		for (size_t j = 0; j < i; j++) {
			const struct ynode *other = ynode_get(n->items[j], "name");
			if (strcmp(other->str, t->name) == 0) {
				*err = ynode_error(ynode_get(n->items[i], "name"),
						   "duplicate tool '%s' (first at line %d)", t->name,
						   other->line);
				return -1;
			}
		}
		while (at < *count && strcmp((*list)[at]->name, t->name) != 0)
			at++;
		if (at == SUITE_TOOLS_MAX) {
			*err = ynode_error(n->items[i], "more than %d tools with those inherited",
					   SUITE_TOOLS_MAX);
			return -1;
		}
		if (at == *count)
			*list = xreallocarray(*list, ++*count, sizeof(**list));
		(*list)[at] = t;
	}
	return 0;
}

/* load_tool_choice: auto, none, required or {name: TOOL}. */
static int load_tool_choice(const struct ynode *n, struct choice *out, char **err)
{
	const struct ynode *name = n->kind == YNODE_MAP ? ynode_get(n, "name") : NULL;
	for (size_t i = 0; tool_choices[i] && is_text(n); i++) {
		if (strcmp(n->str, tool_choices[i]) == 0) {
			*out = (struct choice){.kind = TOOL_CHOICE_AUTO + (int)i, .node = n};
			return 0;
		}
	}
	if (name && n->n == 1 && is_tool_name(name)) {
		*out = (struct choice){.kind = TOOL_CHOICE_NAMED, .node = name};
		return 0;
	}
	const char *hint = is_text(n) ? util_suggest(n->str, tool_choices) : NULL;
	if (hint)
		*err = ynode_error(n, "unknown tool_choice '%.64s' (did you mean '%s'?)", n->str,
				   hint);
	else
		*err = ynode_error(n, "'tool_choice' must be auto, none, required or {name: TOOL}");
	return -1;
}

/* case_tools: c's tools (the inherited ones with the case's own merged in)
 * and tool_choice (the innermost given), whose named tool it must offer. */
static int case_tools(struct loader *L, struct suite_case *c, const struct ynode *n,
		      const struct inherit *in, char **err)
{
	const struct ynode *v;
	struct choice choice = in->choice;
	c->tools = xcalloc(in->ntools ? in->ntools : 1, sizeof(*c->tools));
	if (in->ntools)
		memcpy(c->tools, in->tools, in->ntools * sizeof(*c->tools));
	c->ntools = in->ntools;
	if ((v = ynode_get(n, "tools")) && load_tools(L, v, &c->tools, &c->ntools, err) < 0)
		return -1;
	if ((v = ynode_get(n, "tool_choice")) && load_tool_choice(v, &choice, err) < 0)
		return -1;
	c->tool_choice = choice.kind;
	if (choice.kind != TOOL_CHOICE_NAMED)
		return 0;
	for (size_t i = 0; i < c->ntools; i++) {
		if (strcmp(c->tools[i]->name, choice.node->str) == 0) {
			c->tool_choice_name = c->tools[i]->name;
			return 0;
		}
	}
	*err = ynode_error(choice.node, "tool_choice names tool '%s', which case '%s' does not "
			   "offer", choice.node->str, c->id);
	return -1;
}

bool suite_streams(const struct target *t, const struct suite_case *c)
{
	return c->stream ? c->stream > 0 : t->stream;
}

const char *suite_tool_choice_word(enum tool_choice choice)
{
	if (choice < TOOL_CHOICE_AUTO || choice > TOOL_CHOICE_REQUIRED)
		return NULL;
	return tool_choices[choice - TOOL_CHOICE_AUTO];
}

cJSON *suite_tools_json(const struct suite_case *c, const char *schema_key)
{
	if (!c->ntools)
		return NULL;
	cJSON *tools = cJSON_CreateArray();
	for (size_t i = 0; i < c->ntools; i++) {
		const struct suite_tool *t = c->tools[i];
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "name", t->name);
		if (t->description)
			cJSON_AddStringToObject(j, "description", t->description);
		cJSON_AddItemToObject(j, schema_key, cJSON_Duplicate(t->parameters, 1));
		cJSON_AddItemToArray(tools, j);
	}
	return tools;
}

static int load_defaults(struct loader *L, const struct ynode *n, char **err)
{
	struct suite *s = L->s;
	const struct ynode *v;
	if (need_map(n, "'defaults'", err) < 0 ||
	    ynode_check_keys(n, defaults_keys, "in defaults", err) < 0)
		return -1;
	if ((v = ynode_get(n, "repeat")) &&
	    get_int(v, "repeat", 1, REPEAT_MAX, &s->defaults.repeat, err) < 0)
		return -1;
	if ((v = ynode_get(n, "threshold")) &&
	    get_fraction(v, "threshold", 1, &s->defaults.threshold, err) < 0)
		return -1;
	if ((v = ynode_get(n, "timeout")) &&
	    get_duration(v, "timeout", &s->defaults.timeout_ms, err) < 0)
		return -1;
	if ((v = ynode_get(n, "connect_timeout")) &&
	    get_duration(v, "connect_timeout", &s->defaults.connect_timeout_ms, err) < 0)
		return -1;
	if ((v = ynode_get(n, "confirm")) &&
	    get_int(v, "confirm", 0, REPEAT_MAX, &s->defaults.confirm, err) < 0)
		return -1;
	if ((v = ynode_get(n, "min_valid")) &&
	    get_fraction(v, "min_valid", 1, &s->defaults.min_valid, err) < 0)
		return -1;
	if ((v = ynode_get(n, "tool_choice")) && load_tool_choice(v, &L->top.choice, err) < 0)
		return -1;
	if ((v = ynode_get(n, "max_steps")) &&
	    get_int(v, "max_steps", 1, MAX_STEPS_MAX, &s->defaults.max_steps, err) < 0)
		return -1;
	if ((v = ynode_get(n, "conversation_timeout")) &&
	    get_duration(v, "conversation_timeout", &s->defaults.conversation_timeout_ms, err) < 0)
		return -1;
	L->defaults_request = ynode_get(n, "request");
	if (L->defaults_request && need_map(L->defaults_request, "'request'", err) < 0)
		return -1;
	return 0;
}

static void add_grader(struct grader ***list, size_t *n, struct grader *g)
{
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = g;
}

/* Compile one entry and hand it to the suite. */
static struct grader *compile(struct loader *L, const struct ynode *entry, char **err)
{
	struct grader *g = grader_compile(entry, &L->env, err);
	if (g)
		add_grader(&L->s->graders, &L->s->ngraders, g);
	L->s->nentries++;
	return g;
}

/* An expect entry whose ynode_key() is longer is compiled on its own. */
#define SHARED_KEY_MAX ((size_t)4 << 10)

/* Compile an expect entry, or share the grader compiled from an equal one
 * before: a compiled grader keeps nothing of where it was written, so a
 * suite of 10,000 cases that each say {regex: x} holds one regex. */
static struct grader *compile_shared(struct loader *L, const struct ynode *entry, char **err)
{
	struct suite *s = L->s;
	struct buf key;
	struct grader *g;
	buf_init(&key, SHARED_KEY_MAX);
	if (ynode_key(entry, &key) < 0) {
		g = compile(L, entry, err);
	} else {
		struct strmap_entry *e = strmap_find(&L->shared, key.data);
		if (e) {
			g = s->graders[e->value];
			s->nentries++;
		} else if ((g = compile(L, entry, err)))
			strmap_get(&L->shared, &L->keys, key.data, NULL)->value = s->ngraders - 1;
	}
	buf_release(&key);
	return g;
}

/* graders: each compiled once, labelled with its name. */
static int load_named(struct loader *L, const struct ynode *n, char **err)
{
	struct suite *s = L->s;
	if (need_map(n, "'graders'", err) < 0)
		return -1;
	s->named = xcalloc(n->n, sizeof(*s->named));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i];
		const struct ynode *v = n->items[2 * i + 1];
		if (k->len == 0) {
			*err = ynode_error(k, "a grader name must not be empty");
			return -1;
		}
		if (ynode_get(v, "use")) {
			*err = ynode_error(key_node(v, "use"),
					   "named grader '%.64s' cannot 'use' another", k->str);
			return -1;
		}
		struct grader *g = compile(L, v, err);
		if (!g)
			return -1;
		free(g->label);
		g->label = xstrdup(k->str);
		s->named[s->nnamed].name = xstrdup(k->str);
		s->named[s->nnamed++].grader = g;
	}
	return 0;
}

/* A {use: NAME} entry: the named grader itself, shared. */
static int use_named(struct loader *L, const struct ynode *entry, struct grader **out,
		     char **err)
{
	struct suite *s = L->s;
	const struct ynode *v = ynode_get(entry, "use");
	if (entry->n != 1) {
		const struct ynode *other = entry->items[strcmp(entry->items[0]->str, "use") ? 0 : 2];
		*err = ynode_error(other, "a 'use' entry takes no other key than 'use' (found '%.64s')",
				   other->str);
		return -1;
	}
	if (!is_text(v)) {
		*err = ynode_error(v, "'use' must be the name of a grader under 'graders'");
		return -1;
	}
	const char **names = xcalloc(s->nnamed + 1, sizeof(*names));
	for (size_t i = 0; i < s->nnamed; i++) {
		if (strcmp(s->named[i].name, v->str) == 0) {
			*out = s->named[i].grader;
			free(names);
			return 0;
		}
		names[i] = s->named[i].name;
	}
	const char *hint = util_suggest(v->str, names);
	if (s->nnamed == 0) {
		*err = ynode_error(v, "unknown grader '%.64s' (the suite has no named graders)",
				   v->str);
	} else if (hint) {
		*err = ynode_error(v, "unknown grader '%.64s' (did you mean '%s'?)", v->str, hint);
	} else {
		char *list = util_join(names, ", ");
		*err = ynode_error(v, "unknown grader '%.64s' (named graders: %s)", v->str, list);
		free(list);
	}
	free(names);
	return -1;
}

/* expect: a list of grader entries, appended to *list. */
static int load_expect(struct loader *L, const struct ynode *n, struct grader ***list,
		       size_t *count, char **err)
{
	if (n->kind != YNODE_SEQ) {
		*err = ynode_error(n, "'expect' must be a list of graders");
		return -1;
	}
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *e = n->items[i];
		struct grader *g = NULL;
		if (e->kind == YNODE_MAP && ynode_get(e, "use")) {
			if (use_named(L, e, &g, err) < 0)
				return -1;
		} else if (!(g = compile_shared(L, e, err))) {
			return -1;
		}
		add_grader(list, count, g);
	}
	return 0;
}

/* Render the strings of a converted YAML value in place, walking the YAML
 * beside it for positions. */
static int render_tree(struct loader *L, const struct ynode *n, cJSON *j,
		       const struct tmpl_ctx *ctx, char **err)
{
	if (cJSON_IsString(j)) {
		char *r = render(L, n, j->valuestring, ctx, err);
		if (!r)
			return -1;
		if (!cJSON_SetValuestring(j, r)) {
			free(r);
			*err = ynode_error(n, "cannot store the rendered string");
			return -1;
		}
		free(r);
		return 0;
	}
	if (n->kind == YNODE_SCALAR)
		return 0;
	size_t i = 0;
	for (cJSON *c = j->child; c && i < n->n; c = c->next, i++) {
		const struct ynode *cn = n->kind == YNODE_SEQ ? n->items[i] : n->items[2 * i + 1];
		if (render_tree(L, cn, c, ctx, err) < 0)
			return -1;
	}
	return 0;
}

static bool is_var_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* vars: rendered first, as the case's other strings may use them. */
static int load_vars(struct loader *L, struct suite_case *c, const struct ynode *n,
		     struct tmpl_ctx *ctx, char **err)
{
	if (need_map(n, "'vars'", err) < 0)
		return -1;
	c->vars = xcalloc(n->n, sizeof(*c->vars));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i];
		const struct ynode *v = n->items[2 * i + 1];
		if (!is_var_name(k->str)) {
			*err = ynode_error(k, "invalid var name '%.64s' (letters, digits, '_' and '-')",
					   k->str);
			return -1;
		}
		if (!is_text(v)) {
			*err = ynode_error(v, "var '%.64s' must be a string", k->str);
			return -1;
		}
		char *value = render(L, v, v->str, ctx, err);
		if (!value)
			return -1;
		c->vars[c->nvars].name = xstrdup(k->str);
		c->vars[c->nvars++].value = value;
	}
	return 0;
}

/* messages: rendered into c->messages; c->input is the last user message. */
static int load_messages(struct loader *L, struct suite_case *c, const struct ynode *n,
			 const struct tmpl_ctx *ctx, char **err)
{
	struct suite *s = L->s;
	if (n->kind != YNODE_SEQ) {
		*err = ynode_error(n, "'messages' must be a list of {role, content}");
		return -1;
	}
	c->messages = cJSON_CreateArray();
	const char *last_user = NULL;
	bool after_others = false;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *m = n->items[i];
		char *what = xasprintf("message %zu of case '%s'", i + 1, c->id);
		char *where = xasprintf("in %s", what);
		const struct ynode *role = NULL, *content = NULL;
		int rc = need_map(m, what, err);
		if (rc == 0)
			rc = ynode_check_keys(m, message_keys, where, err);
		if (rc == 0 && (!(role = need_key(m, "role", where, err)) ||
				!(content = need_key(m, "content", where, err))))
			rc = -1;
		free(what);
		free(where);
		if (rc < 0)
			return -1;
		bool known = false;
		for (size_t j = 0; roles[j] && is_text(role) && !known; j++)
			known = strcmp(role->str, roles[j]) == 0;
		if (!known) {
			const char *hint = is_text(role) ? util_suggest(role->str, roles) : NULL;
			char *list = util_join(roles, ", ");
			if (hint)
				*err = ynode_error(role, "unknown role '%.64s' (did you mean '%s'?)",
						   role->str, hint);
			else
				*err = ynode_error(role, "'role' must be one of: %s", list);
			free(list);
			return -1;
		}
		for (int side = 0; side < SIDE__COUNT; side++) {
			char *fault = provider_role_fault(s->targets[side].provider, role->str,
							  after_others);
			if (!fault)
				continue;
			*err = ynode_error(role, "%s (target '%s', message %zu of case '%s')",
					   fault, side_name(side), i + 1, c->id);
			free(fault);
			return -1;
		}
		after_others = after_others || strcmp(role->str, "system") != 0;
		if (!is_text(content)) {
			*err = ynode_error(content, "'content' must be a string");
			return -1;
		}
		char *text = render(L, content, content->str, ctx, err);
		if (!text)
			return -1;
		cJSON *msg = cJSON_CreateObject();
		cJSON_AddStringToObject(msg, "role", role->str);
		cJSON *str = cJSON_AddStringToObject(msg, "content", text);
		cJSON_AddItemToArray(c->messages, msg);
		free(text);
		if (strcmp(role->str, "user") == 0 && str)
			last_user = str->valuestring;
	}
	if (!last_user) {
		*err = ynode_error(n, "case '%s' has no user message", c->id);
		return -1;
	}
	c->input = xstrdup(last_user);
	return 0;
}

/* turns: the user turns of a conversation, each a string or {input,
 * expect}; the first one is also the case's input and messages. */
static int load_turns(struct loader *L, struct suite_case *c, const struct ynode *n,
		      const struct tmpl_ctx *ctx, char **err)
{
	if (n->kind != YNODE_SEQ || n->n == 0) {
		*err = ynode_error(n, "'turns' must be a non-empty list of strings or "
				   "{input, expect}");
		return -1;
	}
	c->turns = xcalloc(n->n, sizeof(*c->turns));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *t = n->items[i], *input = t, *v;
		struct suite_turn *turn = &c->turns[c->nturns++];
		turn->line = t->line;
		turn->col = t->col;
		if (t->kind == YNODE_MAP) {
			char *where = xasprintf("in turn %zu of case '%s'", i + 1, c->id);
			int rc = ynode_check_keys(t, turn_keys, where, err);
			if (rc == 0 && !(input = need_key(t, "input", where, err)))
				rc = -1;
			free(where);
			if (rc < 0)
				return -1;
			if ((v = ynode_get(t, "expect")) &&
			    load_expect(L, v, &turn->expect, &turn->nexpect, err) < 0)
				return -1;
		}
		if (!is_text(input)) {
			*err = ynode_error(input, "turn %zu of case '%s' must be a string or "
					   "{input, expect}", i + 1, c->id);
			return -1;
		}
		if (!(turn->input = render(L, input, input->str, ctx, err)))
			return -1;
	}
	c->input = xstrdup(c->turns[0].input);
	c->messages = cJSON_CreateArray();
	cJSON_AddItemToArray(c->messages, provider_message("user", c->input));
	return 0;
}

/* load_answer: one {when, result} of a tool's scripted results. */
static int load_answer(const struct ynode *n, const char *name, struct suite_tool_answer *a,
		       char **err)
{
	const struct ynode *when = NULL, *result = n;
	char *where = xasprintf("in tool_results of '%s'", name);
	int rc = 0;
	if (n->kind == YNODE_MAP && ynode_get(n, "result")) {
		rc = ynode_check_keys(n, answer_keys, where, err);
		when = ynode_get(n, "when");
		result = ynode_get(n, "result");
	} else if (n->kind == YNODE_MAP && ynode_get(n, "when")) {
		*err = ynode_error(n, "a scripted result with 'when' needs 'result'");
		rc = -1;
	}
	free(where);
	if (rc < 0)
		return -1;
	if (is_text(result)) {
		a->result = xstrdup(result->str);
	} else {
		char *why = NULL;
		cJSON *j = ynode_to_json(result, &why);
		if (!j) {
			*err = ynode_error(result, "%s", why);
			free(why);
			return -1;
		}
		a->result = provider_json_text(j);
		cJSON_Delete(j);
	}
	if (!when)
		return 0;
	char *ptr = NULL, *why = NULL;
	cJSON *json = ynode_to_json(when, &why);
	if (json && jsonschema_check_keywords(when, err) == 0 &&
	    !(a->when = jsonschema_compile(json, NULL, &ptr, &why)))
		*err = jsonschema_error_at(when, ptr, why);
	else if (!json)
		*err = ynode_error(when, "%s", why);
	cJSON_Delete(json);
	free(ptr);
	free(why);
	return a->when ? 0 : -1;
}

/* load_scripts: a tool_results: mapping of one level, merged into *list by
 * name as load_tools() merges tools: {NAME: VALUE} or {NAME: [{when,
 * result}, ...]}; "*" is the result of every tool without its own. */
static int load_scripts(struct loader *L, const struct ynode *n,
			const struct suite_tool_script ***list, size_t *count, char **err)
{
	struct suite *s = L->s;
	if (n->kind != YNODE_MAP) {
		*err = ynode_error(n, "'tool_results' must map tool names to results");
		return -1;
	}
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
		if (strcmp(k->str, "*") != 0 && !is_tool_name(k)) {
			*err = ynode_error(k, "tool name '%.64s' must be 1 to 64 letters, digits, "
					   "'_' or '-' (or '*' for any tool)", k->str);
			return -1;
		}
		struct suite_tool_script *t = xcalloc(1, sizeof(*t));
		s->scripts = xreallocarray(s->scripts, s->nscripts + 1, sizeof(*s->scripts));
		s->scripts[s->nscripts++] = t;
		t->name = xstrdup(k->str);
		t->line = k->line;
		t->col = k->col;
		bool seq = v->kind == YNODE_SEQ;
		if (seq && v->n == 0) {
			*err = ynode_error(v, "the scripted results of '%s' are an empty list",
					   t->name);
			return -1;
		}
		t->answers = xcalloc(seq ? v->n : 1, sizeof(*t->answers));
		for (size_t j = 0; j < (seq ? v->n : 1); j++) {
			t->nanswers++; /* freed with the suite, filled or not */
			if (load_answer(seq ? v->items[j] : v, t->name, &t->answers[j], err) < 0)
				return -1;
		}
		size_t at = 0;
		while (at < *count && strcmp((*list)[at]->name, t->name) != 0)
			at++;
		if (at == *count)
			*list = xreallocarray(*list, ++*count, sizeof(**list));
		(*list)[at] = t;
	}
	return 0;
}

/* offers: whether c offers the tool called name. */
static bool offers(const struct suite_case *c, const char *name)
{
	for (size_t i = 0; i < c->ntools; i++)
		if (strcmp(c->tools[i]->name, name) == 0)
			return true;
	return false;
}

/* check_scripts: every scripted result (but "*") must answer a tool that a
 * case it applies to offers. */
static int check_scripts(struct loader *L, char **err)
{
	struct suite *s = L->s;
	for (size_t i = 0; i < s->nscripts; i++) {
		const struct suite_tool_script *t = s->scripts[i];
		bool used = strcmp(t->name, "*") == 0;
		for (size_t si = 0; si < s->nstrata && !used; si++) {
			for (size_t ci = 0; ci < s->strata[si].ncases && !used; ci++) {
				const struct suite_case *c = &s->strata[si].cases[ci];
				for (size_t k = 0; k < c->nscripts && !used; k++)
					used = c->scripts[k] == t && offers(c, t->name);
			}
		}
		if (!used) {
			*err = xasprintf("%s:%d:%d: tool_results names tool '%s', which no case "
					 "it applies to declares in its tools", s->path, t->line, t->col,
					 t->name);
			return -1;
		}
	}
	return 0;
}

bool suite_case_converses(const struct suite_case *c)
{
	return c->nturns > 0 || (c->nscripts > 0 && c->ntools > 0);
}

/* script_answer: the first answer of t whose when: args match (none matches
 * arguments that are not JSON). */
static const char *script_answer(const struct suite_tool_script *t, const cJSON *args)
{
	for (size_t i = 0; i < t->nanswers; i++) {
		const struct suite_tool_answer *a = &t->answers[i];
		if (!a->when || (args && jsonschema_validate(a->when, args, NULL, NULL, 0, NULL) == 1))
			return a->result;
	}
	return NULL;
}

const char *suite_tool_result(const struct suite_case *c, const char *name, const cJSON *args,
			      const char **why)
{
	const struct suite_tool_script *own = NULL, *any = NULL;
	const char *result = NULL;
	for (size_t i = 0; i < c->nscripts; i++) {
		if (strcmp(c->scripts[i]->name, name) == 0)
			own = c->scripts[i];
		else if (strcmp(c->scripts[i]->name, "*") == 0)
			any = c->scripts[i];
	}
	if (own && (result = script_answer(own, args)))
		return result;
	if (any && (result = script_answer(any, args)))
		return result;
	*why = own ? "no scripted result matches its arguments" : "no scripted result";
	return NULL;
}

/* One case, inheriting the defaults and its stratum's graders. */
static int load_case(struct loader *L, struct stratum *st, size_t si, size_t ci,
		     const struct ynode *n, const struct inherit *in, char **err)
{
	struct suite *s = L->s;
	struct suite_case *c = &st->cases[st->ncases++];
	const struct ynode *v;
	char *where = NULL;
	int rc = -1;
	c->stratum = si;
	c->line = n->line;
	c->col = n->col;
	c->repeat = s->defaults.repeat;
	c->threshold = s->defaults.threshold;
	c->timeout_ms = s->defaults.timeout_ms;
	if (++s->ncases > SUITE_MAX_CASES) {
		*err = ynode_error(n, "the suite has more than %d cases", SUITE_MAX_CASES);
		goto out;
	}
	if (n->kind != YNODE_MAP) {
		*err = ynode_error(n, "case %zu of stratum '%s' must be a mapping", ci + 1, st->name);
		goto out;
	}
	v = ynode_get(n, "id");
	where = v && is_text(v) ? xasprintf("in case '%.64s'", v->str)
				: xasprintf("in case %zu of stratum '%s'", ci + 1, st->name);
	if (ynode_check_keys(n, case_keys, where, err) < 0 || !(v = need_key(n, "id", where, err)) ||
	    get_text(v, "id", &c->id, err) < 0)
		goto out;
	if (!*c->id || strpbrk(c->id, "\t\r\n")) {
		*err = ynode_error(v, "'id' must be a non-empty single line");
		goto out;
	}
	const struct seen_id *first = id_set_add(&L->ids, c->id, v->file, v->line);
	if (first && strcmp(first->file, v->file) == 0) {
		*err = ynode_error(v, "duplicate case id '%.64s' (first at line %d)", c->id,
				   first->line);
		goto out;
	}
	if (first) {
		*err = ynode_error(v, "duplicate case id '%.64s' (first at %s:%d)", c->id,
				   first->file, first->line);
		goto out;
	}
	if ((v = ynode_get(n, "repeat")) && get_int(v, "repeat", 1, REPEAT_MAX, &c->repeat, err) < 0)
		goto out;
	if ((v = ynode_get(n, "threshold")) &&
	    get_fraction(v, "threshold", 1, &c->threshold, err) < 0)
		goto out;
	if ((v = ynode_get(n, "timeout")) && get_duration(v, "timeout", &c->timeout_ms, err) < 0)
		goto out;
	c->timeout_set = v != NULL;
	c->stream = in->stream;
	if ((v = ynode_get(n, "stream"))) {
		bool stream;

		if (get_stream(v, L->s->targets, SIDE__COUNT, &stream, err) < 0)
			goto out;
		c->stream = stream ? 1 : -1;
	}

	L->user = SUITE_USER_CASE;
	L->user_case = c;
	struct tmpl_ctx ctx = env_ctx(L);
	ctx.allowed = TMPL_ENV | TMPL_CASE;
	ctx.case_id = c->id;
	ctx.stratum = st->name;
	if ((v = ynode_get(n, "vars")) && load_vars(L, c, v, &ctx, err) < 0)
		goto out;
	ctx.allowed = TMPL_CASE_STRING;
	ctx.vars = c->vars;
	ctx.nvars = c->nvars;

	const struct ynode *input = ynode_get(n, "input");
	const struct ynode *messages = ynode_get(n, "messages");
	const struct ynode *turns = ynode_get(n, "turns");
	if (input && messages) {
		*err = ynode_error(second_key(n, "input", "messages"),
				   "case '%s' has both 'input' and 'messages' (give one)", c->id);
		goto out;
	}
	if (turns && (input || messages)) {
		*err = ynode_error(second_key(n, "turns", input ? "input" : "messages"),
				   "case '%s' has both 'turns' and '%s' (give one)", c->id,
				   input ? "input" : "messages");
		goto out;
	}
	if (turns) {
		if (load_turns(L, c, turns, &ctx, err) < 0)
			goto out;
	} else if (input) {
		if (!is_text(input)) {
			*err = ynode_error(input, "'input' must be a string");
			goto out;
		}
		if (!(c->input = render(L, input, input->str, &ctx, err)))
			goto out;
		/* the message borrows its strings: constants, and c->input */
		c->messages = cJSON_CreateArray();
		cJSON *msg = cJSON_CreateObject();
		cJSON_AddItemToObjectCS(msg, "role", cJSON_CreateStringReference("user"));
		cJSON_AddItemToObjectCS(msg, "content", cJSON_CreateStringReference(c->input));
		cJSON_AddItemToArray(c->messages, msg);
	} else if (messages) {
		if (load_messages(L, c, messages, &ctx, err) < 0)
			goto out;
	} else {
		*err = ynode_error(n, "case '%s' needs 'input', 'messages' or 'turns'", c->id);
		goto out;
	}
	if ((v = ynode_get(n, "request"))) {
		if (need_map(v, "'request'", err) < 0 || !(c->request = ynode_to_json(v, err)) ||
		    render_tree(L, v, c->request, &ctx, err) < 0)
			goto out;
	}

	if (case_tools(L, c, n, in, err) < 0)
		goto out;
	c->max_steps = s->defaults.max_steps;
	c->conversation_timeout_ms = s->defaults.conversation_timeout_ms;
	if ((v = ynode_get(n, "max_steps")) &&
	    get_int(v, "max_steps", 1, MAX_STEPS_MAX, &c->max_steps, err) < 0)
		goto out;
	if ((v = ynode_get(n, "conversation_timeout")) &&
	    get_duration(v, "conversation_timeout", &c->conversation_timeout_ms, err) < 0)
		goto out;
	if (in->nscripts) { /* most cases have none: no list at all */
		c->scripts = xreallocarray(NULL, in->nscripts, sizeof(*c->scripts));
		memcpy(c->scripts, in->scripts, in->nscripts * sizeof(*c->scripts));
	}
	c->nscripts = in->nscripts;
	if ((v = ynode_get(n, "tool_results")) &&
	    load_scripts(L, v, &c->scripts, &c->nscripts, err) < 0)
		goto out;

	c->expect = xcalloc(in->nexpect ? in->nexpect : 1, sizeof(*c->expect));
	if (in->nexpect)
		memcpy(c->expect, in->expect, in->nexpect * sizeof(*c->expect));
	c->nexpect = in->nexpect;
	if ((v = ynode_get(n, "expect")) && load_expect(L, v, &c->expect, &c->nexpect, err) < 0)
		goto out;
	bool turn_expect = false;
	for (size_t i = 0; i < c->nturns; i++)
		turn_expect = turn_expect || c->turns[i].nexpect;
	if (c->nexpect == 0 && !turn_expect) {
		*err = ynode_error(n, "case '%s' has no expect", c->id);
		goto out;
	}
	rc = 0;
out:
	free(where);
	return rc;
}

/* first_of: the value of key in the first of the n mappings that has it. */
static const struct ynode *first_of(const struct ynode *const *nodes, size_t n, const char *key)
{
	const struct ynode *v = NULL;
	for (size_t i = 0; i < n && !v; i++)
		v = ynode_get(nodes[i], key);
	return v;
}

/* One stratum, given by the n mappings of the suite and its included files
 * that name it: its shared graders and settings (the first given), then the
 * cases of each in turn. */
static int load_stratum(struct loader *L, size_t si, const struct ynode *const *nodes, size_t n,
			char **err)
{
	struct stratum *st = &L->s->strata[si];
	struct inherit in = {.choice = L->top.choice};
	bool stream;
	const struct ynode *v;
	char *where = xasprintf("in stratum '%s'", st->name);
	char *what = xasprintf("stratum '%s'", st->name);
	size_t ncases = 0;
	int rc = -1;
	for (size_t i = 0; i < n; i++) {
		if (need_map(nodes[i], what, err) < 0 ||
		    ynode_check_keys(nodes[i], stratum_keys, where, err) < 0)
			goto out;
		if ((v = ynode_get(nodes[i], "cases")) && (v->kind != YNODE_SEQ || v->n == 0)) {
			*err = ynode_error(v, "'cases' of stratum '%s' must be a non-empty list",
					   st->name);
			goto out;
		}
		ncases += v ? v->n : 0;
	}
	if (!ncases) {
		need_key(nodes[0], "cases", where, err);
		goto out;
	}
	if ((v = first_of(nodes, n, "description")) &&
	    get_text(v, "description", &st->description, err) < 0)
		goto out;
	if ((v = first_of(nodes, n, "expect")) && load_expect(L, v, &in.expect, &in.nexpect, err) < 0)
		goto out;
	in.tools = xcalloc(L->top.ntools ? L->top.ntools : 1, sizeof(*in.tools));
	if (L->top.ntools)
		memcpy(in.tools, L->top.tools, L->top.ntools * sizeof(*in.tools));
	in.ntools = L->top.ntools;
	if ((v = first_of(nodes, n, "tools")) && load_tools(L, v, &in.tools, &in.ntools, err) < 0)
		goto out;
	if ((v = first_of(nodes, n, "tool_choice")) && load_tool_choice(v, &in.choice, err) < 0)
		goto out;
	if ((v = first_of(nodes, n, "stream"))) {
		if (get_stream(v, L->s->targets, SIDE__COUNT, &stream, err) < 0)
			goto out;
		in.stream = stream ? 1 : -1;
	}
	in.scripts = xcalloc(L->top.nscripts ? L->top.nscripts : 1, sizeof(*in.scripts));
	if (L->top.nscripts)
		memcpy(in.scripts, L->top.scripts, L->top.nscripts * sizeof(*in.scripts));
	in.nscripts = L->top.nscripts;
	if ((v = first_of(nodes, n, "tool_results")) &&
	    load_scripts(L, v, &in.scripts, &in.nscripts, err) < 0)
		goto out;
	st->cases = xcalloc(ncases, sizeof(*st->cases));
	for (size_t i = 0; i < n; i++) {
		v = ynode_get(nodes[i], "cases");
		for (size_t j = 0; v && j < v->n; j++) {
			/* Only the suite's own cases were dropped by its lean parse
			 * (included files are parsed whole), in the order read here. */
			const struct ynode *c = v->items[j];
			if (c->dropped && !L->cases)
				L->cases = ycursor_new(L->doc, L->in);
			if (c->dropped && !(c = ycursor_next(L->cases, c, err)))
				goto out;
			if (load_case(L, st, si, st->ncases, c, &in, err) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	st->expect = in.expect;
	st->nexpect = in.nexpect;
	free(in.tools);
	free(in.scripts);
	free(where);
	free(what);
	return rc;
}

/* The strata of the suite (n, NULL when it has none) and of its included
 * files (L->inc), merged by name in the order they first appear. */
static int load_strata(struct loader *L, const struct ynode *n, char **err)
{
	struct suite *s = L->s;
	const struct suite_includes *inc = &L->inc;
	if (n && need_map(n, "'strata'", err) < 0)
		return -1;
	if (inc->nstrata == 0) {
		*err = ynode_error(n ? n : L->doc->root, "'strata' must hold at least one stratum");
		return -1;
	}
	s->strata = xcalloc(inc->nstrata, sizeof(*s->strata));
	const struct ynode **nodes = xcalloc(inc->nstrata, sizeof(*nodes));
	bool *taken = xcalloc(inc->nstrata, sizeof(*taken));
	int rc = -1;
	for (size_t i = 0; i < inc->nstrata; i++) {
		const struct ynode *k = inc->strata[i].key;
		size_t nn = 0;
		if (taken[i])
			continue;
		for (size_t j = i; j < inc->nstrata; j++) {
			if (!taken[j] && strcmp(inc->strata[j].key->str, k->str) == 0) {
				taken[j] = true;
				nodes[nn++] = inc->strata[j].value;
			}
		}
		struct stratum *st = &s->strata[s->nstrata++];
		st->name = xstrdup(k->str);
		st->line = k->line;
		st->col = k->col;
		if (k->len == 0) {
			*err = ynode_error(k, "a stratum name must not be empty");
			goto out;
		}
		if (load_stratum(L, s->nstrata - 1, nodes, nn, err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(nodes);
	free(taken);
	return rc;
}

/* Render one target string for case c; a url must come out as http(s), a
 * header value without line breaks or control characters (the value itself
 * is a secret and never quoted). */
static int check_for_case(struct loader *L, const struct case_check *k,
			  const struct suite_case *c, bool per_case, char **err)
{
	struct tmpl_ctx ctx;
	char *msg = NULL, *why = NULL;
	suite_case_ctx(L->s, c, &ctx);
	ctx.unset = env_ctx(L).unset;
	if (!k->url && !k->header) /* a body's ${tools} was checked at load */
		ctx.allowed |= TMPL_TOOLS;
	L->user = k->user;
	char *r = template_render(k->text, &ctx, &msg);
	bool unset = note_unset(L, k->node); /* suite_check_env() says it when needed */
	if (!r)
		why = msg;
	else if (unset)
		why = NULL;
	else if (k->url && !is_http_url(r))
		why = xstrdup("'url' must start with http:// or https://");
	else if (k->header && header_value_fault(r))
		why = xasprintf("header '%.64s' %s", k->header, header_value_fault(r));
	free(r);
	if (!why)
		return 0;
	if (per_case)
		*err = ynode_error(k->node, "case '%s': %s", c->id, why);
	else
		*err = ynode_error(k->node, "%s", why);
	free(why);
	return -1;
}

/* Render each target string that depends on the case for every case, and
 * each url once at least, so that a run meets no template error and no
 * case can inject a header. */
static int check_cases(struct loader *L, char **err)
{
	struct suite *s = L->s;
	for (size_t i = 0; i < L->nchecks; i++) {
		const struct case_check *k = &L->checks[i];
		bool per_case = template_uses(k->text, TMPL_INPUT | TMPL_CASE | TMPL_VARS);
		if (!per_case) {
			if (check_for_case(L, k, &s->strata[0].cases[0], false, err) < 0)
				return -1;
			continue;
		}
		for (size_t si = 0; si < s->nstrata; si++)
			for (size_t ci = 0; ci < s->strata[si].ncases; ci++)
				if (check_for_case(L, k, &s->strata[si].cases[ci], true, err) < 0)
					return -1;
	}
	return 0;
}

/* version must be 1 (written as a number or a string). */
static int load_version(struct suite *s, const struct ynode *root, char **err)
{
	const struct ynode *v = need_key(root, "version", "at top level", err);
	double d;
	if (!v)
		return -1;
	if ((ynode_number(v, &d) == 0 && d == 1) || (is_text(v) && strcmp(v->str, "1") == 0)) {
		s->version = 1;
		return 0;
	}
	if (v->kind == YNODE_SCALAR)
		*err = ynode_error(v, "unsupported suite version '%.64s' (canary reads version 1)",
				   v->str);
	else
		*err = ynode_error(v, "'version' must be 1");
	return -1;
}

/* stratum_named: the index of the stratum called name; s->nstrata when
 * none. */
static size_t stratum_named(const struct suite *s, const char *name)
{
	size_t i = 0;
	while (i < s->nstrata && strcmp(s->strata[i].name, name) != 0)
		i++;
	return i;
}

/* load_replay_strata: replay: {strata: {NAME: {match: REGEX}}}, each NAME a
 * stratum of the suite. */
static int load_replay_strata(struct suite *s, const struct ynode *n, char **err)
{
	struct suite_replay *rp = &s->replay;
	if (need_map(n, "replay 'strata'", err) < 0)
		return -1;
	if (n->n == 0) {
		*err = ynode_error(n, "replay 'strata' must name at least one stratum");
		return -1;
	}
	rp->matches = xcalloc(n->n, sizeof(*rp->matches));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1], *m;
		struct suite_replay_match *e = &rp->matches[rp->nmatches];
		e->stratum = stratum_named(s, k->str);
		if (e->stratum == s->nstrata) {
			*err = ynode_error(k, "replay names stratum '%s', which the suite does not "
					      "have", k->str);
			return -1;
		}
		if (need_map(v, "a replay stratum", err) < 0 ||
		    ynode_check_keys(v, replay_match_keys, "in a replay stratum", err) < 0 ||
		    !(m = need_key(v, "match", "in a replay stratum", err)))
			return -1;
		if (!is_text(m)) {
			*err = ynode_error(m, "'match' must be a regex (a string)");
			return -1;
		}
		char *why = NULL;
		if (!(e->match = rx_compile(m->str, 0, &why))) {
			*err = ynode_error(m, "%s", why);
			free(why);
			return -1;
		}
		rp->nmatches++;
	}
	return 0;
}

/* load_replay: the replay: section (exactly one of stratum and strata). */
static int load_replay(struct suite *s, const struct ynode *n, char **err)
{
	struct suite_replay *rp = &s->replay;
	if (need_map(n, "'replay'", err) < 0 ||
	    ynode_check_keys(n, replay_keys, "in replay", err) < 0)
		return -1;
	const struct ynode *pointer = ynode_get(n, "stratum"), *strata = ynode_get(n, "strata");
	if ((pointer != NULL) == (strata != NULL)) {
		*err = ynode_error(n, "'replay' needs exactly one of 'stratum' (a JSON pointer "
				      "into the record) or 'strata' (a regex per stratum)");
		return -1;
	}
	rp->present = true;
	rp->line = n->line;
	rp->col = n->col;
	if (pointer)
		return get_pointer(pointer, "stratum", "/metadata/stratum", &rp->stratum_pointer,
				   err);
	return load_replay_strata(s, strata, err);
}

/* The top level, in dependency order rather than file order. */
static int load(struct loader *L, const struct ynode *root, char **err)
{
	struct suite *s = L->s;
	const struct ynode *v;
	if (!root) {
		*err = xasprintf("%s:1:1: the suite is empty", s->path);
		return -1;
	}
	if (root->kind != YNODE_MAP) {
		*err = ynode_error(root, "the suite must be a mapping (version, name, targets, "
					 "strata, ...)");
		return -1;
	}
	if (ynode_check_keys(root, top_keys, "at top level", err) < 0 || load_version(s, root, err) < 0)
		return -1;
	if (!(v = need_key(root, "name", "at top level", err)) ||
	    get_text(v, "name", &s->name, err) < 0)
		return -1;
	if ((v = ynode_get(root, "defaults")) && load_defaults(L, v, err) < 0)
		return -1;
	if (!(v = need_key(root, "targets", "at top level", err)) ||
	    need_map(v, "'targets'", err) < 0 || ynode_check_keys(v, targets_keys, "in targets", err) < 0)
		return -1;
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct ynode *t = need_key(v, side_name(side), "in targets", err);
		if (!t || load_target(L, side, t, err) < 0)
			return -1;
	}
	if ((v = ynode_get(root, "judge")) && load_judge(L, v, err) < 0)
		return -1;
	if ((v = ynode_get(root, "graders")) && load_named(L, v, err) < 0)
		return -1;
	if ((v = ynode_get(root, "tools")) &&
	    load_tools(L, v, &L->top.tools, &L->top.ntools, err) < 0)
		return -1;
	if ((v = ynode_get(root, "tool_results")) &&
	    load_scripts(L, v, &L->top.scripts, &L->top.nscripts, err) < 0)
		return -1;
	/* With includes, the strata may all come from the included files. */
	if (!(v = ynode_get(root, "strata")) && !ynode_get(root, "include")) {
		need_key(root, "strata", "at top level", err);
		return -1;
	}
	if (suite_includes_load(&L->inc, s->path, s->dir, root, v,
				L->opts ? &L->opts->override : NULL, err) < 0)
		return -1;
	if (load_strata(L, v, err) < 0) {
		const char *chain = *err ? suite_includes_chain(&L->inc, *err) : NULL;
		if (chain) {
			char *msg = xasprintf("%s\n%s", *err, chain);
			free(*err);
			*err = msg;
		}
		return -1;
	}
	if (check_scripts(L, err) < 0)
		return -1;
	if ((v = ynode_get(root, "replay")) && load_replay(s, v, err) < 0)
		return -1;
	return check_cases(L, err);
}

/* Parse and load the suite in holds, reading it twice (the tree, then the
 * cases one at a time); *err passes through the redact set. */
static struct suite *load_file(const char *name, const char *dir, FILE *in,
			       const struct suite_options *opts, char **err)
{
	struct suite *s = xcalloc(1, sizeof(*s));
	struct loader L = {.s = s, .opts = opts, .in = in};
	struct ydoc *doc = NULL;
	char *msg = NULL;
	s->path = xstrdup(name);
	s->dir = xstrdup(dir);
	s->defaults = (struct suite_defaults){
		.repeat = 1,
		.threshold = 1.0,
		.timeout_ms = 30000,
		.connect_timeout_ms = 10000,
		.min_valid = STATS_MIN_VALID_DEFAULT,
		.max_steps = MAX_STEPS_DEFAULT,
	};
	L.env.suite_dir = s->dir;
	L.env.judge = &s->judge;
	L.env.redact = &s->redact;
	if ((L.doc = doc = ydoc_parse_lean(name, in, case_path, &msg)) &&
	    load(&L, doc->root, &msg) < 0 && !msg)
		msg = xasprintf("%s: cannot load the suite", name);
	char *changed = NULL;
	if (ycursor_end(L.cases, &changed) < 0) { /* the error whatever else failed */
		free(msg);
		msg = changed;
	}
	ycursor_free(L.cases);
	ydoc_free(doc);
	free(L.ids.slots);
	free(L.checks);
	free(L.top.tools);
	suite_includes_release(&L.inc);
	free(L.top.scripts);
	strmap_release(&L.shared);
	arena_release(&L.keys);
	tmpl_unset_release(&L.unset);
	if (msg) {
		*err = redact_apply(&s->redact, msg);
		free(msg);
		suite_free(s);
		return NULL;
	}
	return s;
}

struct suite *suite_load_buffer(const char *name, const char *data, size_t len,
				const struct suite_options *opts, char **err)
{
	if (len > SUITE_MAX_BYTES) {
		*err = xasprintf("%s: the suite is larger than %zu MiB", name, SUITE_MAX_BYTES >> 20);
		return NULL;
	}
	FILE *in = fmemopen((void *)data, len, "r");
	if (!in) {
		*err = xasprintf("%s: cannot read the suite: %s", name, strerror(errno));
		return NULL;
	}
	struct suite *s = load_file(name, ".", in, opts, err);
	fclose(in);
	return s;
}

struct suite *suite_load(const char *path, const struct suite_options *opts, char **err)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > SUITE_MAX_BYTES) {
		*err = xasprintf("%s: the suite is larger than %zu MiB", path, SUITE_MAX_BYTES >> 20);
		return NULL;
	}
	FILE *in = util_open_regular(path, err);
	if (!in)
		return NULL;
	const char *slash = strrchr(path, '/');
	char *dir = !slash ? xstrdup(".") : slash == path ? xstrdup("/")
							  : xstrndup(path, (size_t)(slash - path));
	struct suite *s = load_file(path, dir, in, opts, err);
	free(dir);
	fclose(in);
	return s;
}

static void free_headers(struct header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

static void free_case(struct suite_case *c)
{
	free(c->id);
	free(c->input);
	cJSON_Delete(c->messages);
	cJSON_Delete(c->request);
	free(c->tools);
	for (size_t i = 0; i < c->nvars; i++) {
		free((char *)c->vars[i].name);
		free((char *)c->vars[i].value);
	}
	free(c->vars);
	free(c->expect);
	for (size_t i = 0; i < c->nturns; i++) {
		free(c->turns[i].input);
		free(c->turns[i].expect);
	}
	free(c->turns);
	free(c->scripts);
}

void suite_case_of_messages(const struct suite *s, size_t si, char *id, cJSON *messages,
			    cJSON *request, struct suite_case *c)
{
	const struct stratum *st = &s->strata[si];
	const cJSON *m;
	const char *input = "";
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->stratum = si;
	c->messages = messages;
	c->request = request;
	cJSON_ArrayForEach(m, messages) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0 &&
		    cJSON_IsString(content))
			input = content->valuestring;
	}
	c->input = xstrdup(input);
	c->repeat = 1;
	c->threshold = 1.0;
	c->timeout_ms = s->defaults.timeout_ms;
	c->expect = xcalloc(st->nexpect ? st->nexpect : 1, sizeof(*c->expect));
	if (st->nexpect)
		memcpy(c->expect, st->expect, st->nexpect * sizeof(*c->expect));
	c->nexpect = st->nexpect;
	c->line = st->line;
	c->col = st->col;
}

void suite_set_cases(struct suite *s, size_t si, struct suite_case *cases, size_t n)
{
	struct stratum *st = &s->strata[si];
	for (size_t j = 0; j < st->ncases; j++)
		free_case(&st->cases[j]);
	free(st->cases);
	s->ncases = s->ncases - st->ncases + n;
	st->cases = cases;
	st->ncases = n;
}

void suite_free(struct suite *s)
{
	if (!s)
		return;
	for (int side = 0; side < SIDE__COUNT; side++) {
		struct target *t = &s->targets[side];
		free(t->url);
		free(t->model);
		free_headers(t->headers, t->nheaders);
		provider_priv_free(t->provider, t->priv);
		cJSON_Delete(t->request);
		free(t->fingerprint_where);
	}
	free(s->judge.url);
	free(s->judge.model);
	free_headers(s->judge.headers, s->judge.nheaders);
	for (size_t i = 0; i < s->nnamed; i++)
		free(s->named[i].name);
	free(s->named);
	for (size_t i = 0; i < s->ngraders; i++)
		grader_free(s->graders[i]);
	free(s->graders);
	for (size_t i = 0; i < s->ntools; i++) {
		free(s->tools[i]->name);
		free(s->tools[i]->description);
		cJSON_Delete(s->tools[i]->parameters);
		free(s->tools[i]);
	}
	free(s->tools);
	for (size_t i = 0; i < s->nscripts; i++) {
		struct suite_tool_script *t = s->scripts[i];
		for (size_t j = 0; j < t->nanswers; j++) {
			jsonschema_free(t->answers[j].when);
			free(t->answers[j].result);
		}
		free(t->answers);
		free(t->name);
		free(t);
	}
	free(s->scripts);
	for (size_t i = 0; i < s->nstrata; i++) {
		struct stratum *st = &s->strata[i];
		for (size_t j = 0; j < st->ncases; j++)
			free_case(&st->cases[j]);
		free(st->cases);
		free(st->name);
		free(st->description);
		free(st->expect);
	}
	free(s->strata);
	free(s->replay.stratum_pointer);
	for (size_t i = 0; i < s->replay.nmatches; i++)
		rx_free(s->replay.matches[i].match);
	free(s->replay.matches);
	for (size_t i = 0; i < s->nunset; i++) {
		free(s->unset[i].name);
		free(s->unset[i].file);
	}
	free(s->unset);
	redact_release(&s->redact);
	free(s->path);
	free(s->dir);
	free(s->name);
	free(s);
}

/* Whether name is the stratum/id of c. */
static bool is_case_name(const struct suite *s, const struct suite_case *c, const char *name)
{
	const char *stratum = s->strata[c->stratum].name;
	size_t len = strlen(stratum);
	return strncmp(name, stratum, len) == 0 && name[len] == '/' &&
	       strcmp(name + len + 1, c->id) == 0;
}

const struct suite_case *suite_find_case(const struct suite *s, const char *id)
{
	for (size_t i = 0; i < s->nstrata; i++)
		for (size_t j = 0; j < s->strata[i].ncases; j++)
			if (strcmp(s->strata[i].cases[j].id, id) == 0)
				return &s->strata[i].cases[j];
	for (size_t i = 0; i < s->nstrata; i++)
		for (size_t j = 0; j < s->strata[i].ncases; j++)
			if (is_case_name(s, &s->strata[i].cases[j], id))
				return &s->strata[i].cases[j];
	return NULL;
}

void suite_filter_add(const char ***list, size_t *n, const char *value)
{
	*list = xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = value;
}

void suite_filter_release(struct suite_filter *f)
{
	free(f->strata);
	free(f->cases);
	memset(f, 0, sizeof(*f));
}

bool suite_case_matches(const struct suite *s, const struct suite_case *c, const char *glob)
{
	if (util_glob(glob, c->id))
		return true;
	char *name = xasprintf("%s/%s", s->strata[c->stratum].name, c->id);
	bool match = util_glob(glob, name);
	free(name);
	return match;
}

/* The error for a --stratum that names no stratum. */
static char *no_stratum(const struct suite *s, const char *name)
{
	const char **names = xcalloc(s->nstrata + 1, sizeof(*names));
	for (size_t i = 0; i < s->nstrata; i++)
		names[i] = s->strata[i].name;
	const char *hint = util_suggest(name, names);
	char *err = hint ? xasprintf("no stratum '%s' in suite '%s' (did you mean '%s'?)", name,
				     s->name, hint)
			 : xasprintf("no stratum '%s' in suite '%s'", name, s->name);
	free(names);
	return err;
}

/* The error for a --case glob that matches no case of the strata of f. */
static char *no_case(const struct suite *s, const struct suite_filter *f, const char *glob)
{
	struct buf b;
	const char **ids = xcalloc(s->ncases + 1, sizeof(*ids));
	size_t n = 0;
	for (size_t i = 0; i < s->nstrata; i++)
		for (size_t j = 0; j < s->strata[i].ncases; j++)
			ids[n++] = s->strata[i].cases[j].id;
	const char *hint = util_suggest(glob, ids);
	buf_init(&b, 0);
	buf_addf(&b, "no case matches --case '%s'", glob);
	for (size_t i = 0; i < f->nstrata; i++)
		buf_addf(&b, "%s'%s'", i == 0 ? (f->nstrata == 1 ? " in stratum " : " in strata ")
					     : ", ", f->strata[i]);
	if (hint)
		buf_addf(&b, " (did you mean '%s'?)", hint);
	free(ids);
	return buf_detach(&b, NULL);
}

int suite_select(const struct suite *s, const struct suite_filter *f, bool *selected,
		 char **err)
{
	for (size_t i = 0; i < f->nstrata; i++) {
		bool found = false;
		for (size_t j = 0; j < s->nstrata && !found; j++)
			found = strcmp(s->strata[j].name, f->strata[i]) == 0;
		if (!found) {
			*err = no_stratum(s, f->strata[i]);
			return -1;
		}
	}
	size_t k = 0;
	for (size_t i = 0; i < s->nstrata; i++) {
		bool stratum = !f->nstrata || in_list(f->strata, f->nstrata, s->strata[i].name);
		for (size_t j = 0; j < s->strata[i].ncases; j++) {
			const struct suite_case *c = &s->strata[i].cases[j];
			bool match = f->ncases == 0;
			for (size_t g = 0; g < f->ncases && !match; g++)
				match = suite_case_matches(s, c, f->cases[g]);
			selected[k++] = stratum && match;
		}
	}
	/* Every glob must find a case: a typo among several must not pass. */
	for (size_t g = 0; g < f->ncases; g++) {
		bool found = false;
		for (size_t i = 0; i < s->nstrata && !found; i++) {
			if (f->nstrata && !in_list(f->strata, f->nstrata, s->strata[i].name))
				continue;
			for (size_t j = 0; j < s->strata[i].ncases && !found; j++)
				found = suite_case_matches(s, &s->strata[i].cases[j], f->cases[g]);
		}
		if (!found) {
			*err = no_case(s, f, f->cases[g]);
			return -1;
		}
	}
	return 0;
}

size_t suite_case_index(const struct suite *s, const struct suite_case *c)
{
	size_t k = 0;
	for (size_t i = 0; i < c->stratum; i++)
		k += s->strata[i].ncases;
	return k + (size_t)(c - s->strata[c->stratum].cases);
}

int suite_check_env(const struct suite *s, unsigned sides, const bool *selected, char **err)
{
	bool judge = false;
	for (size_t i = 0, k = 0; i < s->nstrata; i++)
		for (size_t j = 0; j < s->strata[i].ncases; j++, k++) {
			const struct suite_case *c = &s->strata[i].cases[j];
			for (size_t g = 0; g < c->nexpect && (!selected || selected[k]); g++)
				judge = judge || c->expect[g]->ops->start;
		}
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < s->nunset; i++) {
		const struct suite_unset *u = &s->unset[i];
		char *user = NULL;
		if (u->user == SUITE_USER_JUDGE && judge)
			user = xstrdup("the judge");
		else if (u->user == SUITE_USER_CASE &&
			 (!selected || selected[suite_case_index(s, u->c)]))
			user = xasprintf("case '%s/%s'", s->strata[u->c->stratum].name, u->c->id);
		else if (u->user < SUITE_USER_JUDGE && (sides & (1u << u->user)))
			user = xasprintf("target '%s'", side_name((enum side)u->user));
		if (!user)
			continue;
		char *line = xasprintf("%s:%d:%d: environment variable '%s' is not set "
				       "(used by %s)", u->file, u->line, u->col, u->name, user);
		buf_addf(&b, "%s%s", b.len ? "\n" : "", line);
		free(line);
		free(user);
	}
	if (!b.len)
		return 0;
	*err = buf_detach(&b, NULL);
	return -1;
}

int suite_target_set_api(struct target *t, const struct provider *p, char **err)
{
	if (p == t->provider)
		return 0;
	if (p->priv_size) {
		*err = xasprintf("target '%s' has no options of api %s (it uses api %s)",
				 side_name(t->side), p->name, t->provider->name);
		return -1;
	}
	provider_priv_free(t->provider, t->priv);
	t->priv = NULL;
	t->provider = p;
	return 0;
}

int suite_merge_request(cJSON *body, const struct target *t, const struct suite_case *c,
			const struct tmpl_ctx *ctx, char **err)
{
	cJSON *request = NULL;
	if (t->request && !(request = template_render_json(t->request, ctx, err)))
		return -1;
	if (c->request && request)
		merge_deep(request, cJSON_Duplicate(c->request, 1));
	provider_merge_request(body, request ? request : c->request);
	cJSON_Delete(request);
	return 0;
}

void suite_case_ctx(struct suite *s, const struct suite_case *c, struct tmpl_ctx *ctx)
{
	*ctx = (struct tmpl_ctx){
		.allowed = TMPL_TARGET,
		.input = c->input,
		.messages = c->messages,
		.case_id = c->id,
		.stratum = s->strata[c->stratum].name,
		.vars = c->vars,
		.nvars = c->nvars,
		.redact = &s->redact,
	};
}
