/* tool_call.c: pass when the reply calls a tool with arguments that
 * validate against a JSON Schema, or makes a given sequence of calls.
 *     - tool_call: create_event
 *     - tool_call: {name: create_event, arguments: {required: [start]}, index: 0}
 *     - tool_call:
 *         calls: [{name: list_events}, {name: create_event, arguments: ...}]
 *         sequence: ordered
 */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonptr.h"
#include "schema/jsonschema.h"
#include "provider.h"
#include "util.h"

/* From json_schema.c (see there): the schema config shared with it. */

#define ARGS_ERRS_SHOWN 3
#define INDEX_MAX 1000000

struct expected_call {
	char *name;
	struct schema_cfg *args;   /* NULL: any arguments */
};

struct tool_call_spec {
	struct expected_call *calls;
	size_t n;
	long index;                /* the name form: the position, or -1 for any */
	bool sequence;             /* the calls: form */
	bool ordered;              /* sequence: ordered (a subsequence), not exact */
};

/* parse_call: one expected call, a tool name or {name, arguments}. */
static int parse_call(struct expected_call *ec, const struct ynode *n, const struct ynode *args,
		      const struct grader_env *env, char **err)
{
	if (grader_cfg_text(n, "tool name", err) < 0)
		return -1;
	if (n->len == 0) {
		*err = ynode_error(n, "tool name is empty");
		return -1;
	}
	ec->name = xstrdup(n->str);
	if (args) {
		ec->args = schema_cfg_compile(args, env, "tool_call arguments", false, err);
		if (!ec->args)
			return -1;
	}
	return 0;
}

/* parse_entry: one item of calls:, a name or a mapping {name, arguments}. */
static int parse_entry(struct expected_call *ec, const struct ynode *item,
		       const struct grader_env *env, char **err)
{
	static const char *const keys[] = { "name", "arguments", NULL };
	if (item->kind != YNODE_MAP)
		return parse_call(ec, item, NULL, env, err);
	if (grader_check_keys(item, "tool_call calls", keys, err) < 0)
		return -1;
	const struct ynode *name = ynode_get(item, "name");
	if (!name) {
		*err = ynode_error(item, "expected call needs a name");
		return -1;
	}
	return parse_call(ec, name, ynode_get(item, "arguments"), env, err);
}

static int parse_index(const struct ynode *n, long *index, char **err)
{
	double d;
	if (ynode_number(n, &d) < 0 || d < 0 || d > INDEX_MAX || floor(d) != d) {
		*err = ynode_error(n, "index must be a whole number from 0 (the first call)");
		return -1;
	}
	*index = (long)d;
	return 0;
}

static int tool_call_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			     char **err)
{
	static const char *const keys[] = {
		"name", "arguments", "index", "calls", "sequence", NULL,
	};
	struct tool_call_spec *p = priv;
	p->index = -1;
	if (!cfg) {
		*err = xstrdup("tool_call needs a tool name");
		return -1;
	}
	if (cfg->kind != YNODE_MAP) {
		if (cfg->kind == YNODE_SEQ) {
			*err = ynode_error(cfg, "tool_call takes a tool name or a mapping; write a "
					   "sequence as {calls: [...]}");
			return -1;
		}
		p->calls = xcalloc(1, sizeof(*p->calls));
		p->n = 1;
		return parse_call(&p->calls[0], cfg, NULL, env, err);
	}
	if (grader_check_keys(cfg, "tool_call", keys, err) < 0)
		return -1;
	const struct ynode *name = ynode_get(cfg, "name"), *calls = ynode_get(cfg, "calls");
	const struct ynode *args = ynode_get(cfg, "arguments"), *index = ynode_get(cfg, "index");
	const struct ynode *seq = ynode_get(cfg, "sequence");
	if (name && calls) {
		*err = ynode_error(calls, "tool_call takes 'name' or 'calls', not both");
		return -1;
	}
	if (!name && !calls) {
		*err = ynode_error(cfg, "tool_call needs a name, or calls: [...]");
		return -1;
	}
	if (name) {
		if (seq) {
			*err = ynode_error(seq, "'sequence' goes with 'calls', not 'name'");
			return -1;
		}
		if (index && parse_index(index, &p->index, err) < 0)
			return -1;
		p->calls = xcalloc(1, sizeof(*p->calls));
		p->n = 1;
		return parse_call(&p->calls[0], name, args, env, err);
	}
	if (args || index) {
		*err = ynode_error(args ? args : index, "'%s' goes with 'name'; in 'calls' give "
				   "each call its own", args ? "arguments" : "index");
		return -1;
	}
	if (calls->kind != YNODE_SEQ || calls->n == 0) {
		*err = ynode_error(calls, "calls must be a list of expected calls such as "
				   "[{name: create_event}]");
		return -1;
	}
	p->sequence = true;
	if (seq) {
		if (grader_cfg_text(seq, "sequence", err) < 0)
			return -1;
		if (strcmp(seq->str, "exact") != 0 && strcmp(seq->str, "ordered") != 0) {
			*err = ynode_error(seq, "bad sequence '%s' (use exact or ordered)",
					   seq->str);
			return -1;
		}
		p->ordered = strcmp(seq->str, "ordered") == 0;
	}
	p->calls = xcalloc(calls->n, sizeof(*p->calls));
	for (size_t i = 0; i < calls->n; i++) {
		p->n = i + 1;
		if (parse_entry(&p->calls[i], calls->items[i], env, err) < 0)
			return -1;
	}
	return 0;
}

/* got_names: "got: a, b" or "no tool calls" for the reply's calls. */
static char *got_names(const struct reply *r)
{
	if (r->ntool_calls == 0)
		return xstrdup("no tool calls");
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, "got: ");
	for (size_t i = 0; i < r->ntool_calls; i++) {
		char *ex = grade_excerpt(r->redact, r->tool_calls[i].name,
					 strlen(r->tool_calls[i].name));
		buf_addf(&b, "%s%s", i ? ", " : "", ex);
		free(ex);
		if (b.len > GRADE_REASON_MAX)
			break;
	}
	return buf_detach(&b, NULL);
}

/* parent_ptr: p without its last token. */
static char *parent_ptr(const char *p)
{
	const char *slash = strrchr(p, '/');
	return xstrndup(p, slash ? (size_t)(slash - p) : 0);
}

/* ends_with_token: whether pointer p's last token is tok. */
static bool ends_with_token(const char *p, const char *tok)
{
	const char *slash = strrchr(p, '/');
	return slash && strcmp(slash + 1, tok) == 0;
}

/* known_name: whether name is a property or a required name of schema. */
static bool known_name(const cJSON *schema, const char *name)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
	if (cJSON_GetObjectItemCaseSensitive(props, name))
		return true;
	const cJSON *req, *r = cJSON_GetObjectItemCaseSensitive(schema, "required");
	cJSON_ArrayForEach(req, r) {
		if (cJSON_IsString(req) && strcmp(req->valuestring, name) == 0)
			return true;
	}
	return false;
}

/* add_renames: " (got 'a', 'b')": the members the call's object at the
 * missing property's parent has that its schema does not know of, which
 * are the likely renames; each is also added to *named. */
static void add_renames(struct buf *why, const struct schema_cfg *c, const cJSON *args,
			const struct jsonschema_error *e, struct buf *named,
			const struct redact *rd)
{
	char *obj_ptr = parent_ptr(e->instance), *schema_ptr = parent_ptr(e->schema);
	const cJSON *obj = jsonptr_get(args, obj_ptr);
	const cJSON *members = cJSON_IsObject(obj) ? obj : NULL;
	const cJSON *schema = schema_cfg_at(c, schema_ptr);
	const cJSON *m;
	size_t n = 0;
	cJSON_ArrayForEach(m, members) {
		if (!m->string || (schema && known_name(schema, m->string)))
			continue;
		char *ex = grade_excerpt(rd, m->string, strlen(m->string));
		buf_addf(why, "%s'%s'", n++ ? ", " : " (got ", ex);
		buf_addf(named, "\n%s/", obj_ptr);
		for (const char *q = m->string; *q; q++) {
			if (*q == '~' || *q == '/')
				buf_addstr(named, *q == '~' ? "~0" : "~1");
			else
				buf_addch(named, *q);
		}
		buf_addch(named, '\n');
		free(ex);
		if (why->len > GRADE_REASON_MAX)
			break;
	}
	if (n)
		buf_addch(why, ')');
	free(obj_ptr);
	free(schema_ptr);
}

/* arg_name: an instance pointer as an argument's name ("place/city"). */
static char *arg_name(const char *ptr, const struct redact *rd)
{
	const char *name = ptr[0] == '/' ? ptr + 1 : ptr;
	return grade_excerpt(rd, name, strlen(name));
}

/* explain: the validator's errors for a call's arguments, worded for
 * tools: missing and unexpected arguments by name (rd's secrets masked). */
static char *explain(const struct schema_cfg *c, const cJSON *args,
		     const struct jsonschema_error *errs, size_t n, const struct redact *rd)
{
	struct buf why, named;
	buf_init(&why, BUF_MAX_DEFAULT);
	buf_init(&named, BUF_MAX_DEFAULT);
	size_t shown = 0;
	for (size_t i = 0; i < n; i++) {
		const struct jsonschema_error *e = &errs[i];
		char *name = arg_name(e->instance, rd);
		bool not_allowed = e->instance[0] &&
				   (ends_with_token(e->schema, "additionalProperties") ||
				    ends_with_token(e->schema, "unevaluatedProperties"));
		if (strcmp(e->keyword, "required") == 0 && e->instance[0]) {
			buf_addf(&why, "%sargument '%s' missing", shown++ ? "; " : "", name);
			add_renames(&why, c, args, e, &named, rd);
		} else if (not_allowed) {
			char *line = xasprintf("\n%s\n", e->instance);
			bool renamed = named.data && strstr(named.data, line);
			free(line);
			if (!renamed)
				buf_addf(&why, "%sargument '%s' not allowed", shown++ ? "; " : "",
					 name);
		} else {
			char *one = schema_cfg_error(c, e);
			buf_addf(&why, "%s%s", shown++ ? "; " : "", one);
			free(one);
		}
		free(name);
	}
	buf_release(&named);
	return buf_detach(&why, NULL);
}

enum check {
	CHECK_OK,
	CHECK_FAIL,
	CHECK_ERROR,
};

/* check_args: whether call tc's arguments satisfy ec (validation gives up
 * once *stop is set); on a failure or an error, *why says what (without
 * naming the tool). */
static enum check check_args(const struct expected_call *ec, const struct tool_call *tc,
			     const struct redact *rd, volatile sig_atomic_t *stop, char **why)
{
	struct jsonschema_error errs[ARGS_ERRS_SHOWN];
	size_t n = 0;
	if (!ec->args)
		return CHECK_OK;
	if (!tc->arguments) {
		const char *raw = tc->arguments_raw ? tc->arguments_raw : "";
		char *ex = grade_excerpt(rd, raw, strlen(raw));
		*why = xasprintf("arguments are not JSON: \"%s\"", ex);
		free(ex);
		return CHECK_FAIL;
	}
	int rc = schema_cfg_validate(ec->args, tc->arguments, stop, errs, ARRAY_SIZE(errs), &n);
	enum check res = rc == 1 ? CHECK_OK : rc == 0 ? CHECK_FAIL : CHECK_ERROR;
	if (rc == 0)
		*why = explain(ec->args, tc->arguments, errs, n, rd);
	else if (rc < 0)
		*why = n ? schema_cfg_error(ec->args, &errs[n - 1]) : xstrdup("validation failed");
	jsonschema_errors_release(errs, n);
	return res;
}

/* report_args: out for a failed or undecided check of call #i, tool name. */
static void report_args(struct grade_result *out, enum check rc, const char *name, long i,
			const char *why)
{
	char *ex = grade_excerpt(NULL, name, strlen(name));
	char *at = i >= 0 ? xasprintf(" (call #%ld)", i) : xstrdup("");
	const char *sep = strncmp(why, "arguments are not JSON", 22) == 0 ? " " : ": ";
	if (rc == CHECK_ERROR)
		grade_error(out, "tool '%s'%s: %s", ex, at, why);
	else
		grade_fail(out, "tool '%s'%s%s%s", ex, at, sep, why);
	free(at);
	free(ex);
}

/* find_call: the first call at or after from to ec's tool whose arguments
 * satisfy it (CHECK_OK, *found).  Otherwise CHECK_ERROR when a call could
 * not be checked (it might have passed), else CHECK_FAIL; *bad is the call
 * *why explains (-1 when no call names the tool) and *ncalls counts them. */
static enum check find_call(const struct expected_call *ec, const struct reply *r,
			    volatile sig_atomic_t *stop, size_t from, size_t *found, long *bad,
			    size_t *ncalls, char **why)
{
	enum check res = CHECK_FAIL;
	*bad = -1;
	*ncalls = 0;
	*why = NULL;
	for (size_t i = from; i < r->ntool_calls; i++) {
		if (strcmp(r->tool_calls[i].name, ec->name) != 0)
			continue;
		char *w = NULL;
		enum check rc = check_args(ec, &r->tool_calls[i], r->redact, stop, &w);
		(*ncalls)++;
		if (rc == CHECK_OK) {
			free(w);
			free(*why);
			*why = NULL;
			*found = i;
			return CHECK_OK;
		}
		if (*bad < 0 || (rc == CHECK_ERROR && res != CHECK_ERROR)) {
			free(*why);
			*why = w;
			*bad = (long)i;
			res = rc;
		} else {
			free(w);
		}
	}
	return res;
}

/* grade_one: the name form: a call to the tool (at index, or anywhere)
 * whose arguments validate. */
static void grade_one(const struct tool_call_spec *p, const struct reply *r,
		      volatile sig_atomic_t *stop, struct grade_result *out)
{
	const struct expected_call *ec = &p->calls[0];
	char *name = grade_excerpt(NULL, ec->name, strlen(ec->name)), *why = NULL, *got = NULL;
	if (p->index >= 0) {
		size_t i = (size_t)p->index;
		if (i >= r->ntool_calls) {
			got = got_names(r);
			grade_fail(out, "no call #%ld to tool '%s' (%s)", p->index, name, got);
		} else if (strcmp(r->tool_calls[i].name, ec->name) != 0) {
			const char *called = r->tool_calls[i].name;
			char *was = grade_excerpt(r->redact, called, strlen(called));
			grade_fail(out, "call #%ld is '%s', expected '%s'", p->index, was, name);
			free(was);
		} else {
			enum check rc = check_args(ec, &r->tool_calls[i], r->redact, stop, &why);
			if (rc == CHECK_OK)
				grade_pass(out);
			else
				report_args(out, rc, ec->name, -1, why);
		}
		goto out;
	}
	size_t found, calls;
	long bad;
	enum check rc = find_call(ec, r, stop, 0, &found, &bad, &calls, &why);
	if (rc == CHECK_OK) {
		grade_pass(out);
	} else if (bad >= 0) {
		report_args(out, rc, ec->name, calls > 1 ? bad : -1, why);
	} else if (r->ntool_calls == 0 && r->content && r->content_len) {
		char *ex = grade_excerpt(r->redact, r->content, r->content_len);
		grade_fail(out, "no call to tool '%s' (no tool calls; content \"%s\")", name, ex);
		free(ex);
	} else {
		got = got_names(r);
		grade_fail(out, "no call to tool '%s' (%s)", name, got);
	}
out:
	free(got);
	free(why);
	free(name);
}

/* grade_exact: the reply's calls are the expected ones, one for one. */
static void grade_exact(const struct tool_call_spec *p, const struct reply *r,
			volatile sig_atomic_t *stop, struct grade_result *out)
{
	size_t n = p->n > r->ntool_calls ? p->n : r->ntool_calls;
	char *got = got_names(r);
	for (size_t i = 0; i < n; i++) {
		const char *want = i < p->n ? p->calls[i].name : NULL;
		const char *have = i < r->ntool_calls ? r->tool_calls[i].name : NULL;
		char *w = want ? grade_excerpt(NULL, want, strlen(want)) : NULL;
		char *h = have ? grade_excerpt(r->redact, have, strlen(have)) : NULL;
		if (!have)
			grade_fail(out, "no call #%zu to tool '%s' (%s)", i, w, got);
		else if (!want)
			grade_fail(out, "unexpected call #%zu to tool '%s' (expected %zu %s; %s)", i,
				   h, p->n, p->n == 1 ? "call" : "calls", got);
		else if (strcmp(want, have) != 0)
			grade_fail(out, "call #%zu is '%s', expected '%s' (%s)", i, h, w, got);
		free(w);
		free(h);
		if (!have || !want || strcmp(want, have) != 0)
			goto out;
	}
	for (size_t i = 0; i < p->n; i++) {
		char *why = NULL;
		enum check rc = check_args(&p->calls[i], &r->tool_calls[i], r->redact, stop, &why);
		if (rc != CHECK_OK) {
			report_args(out, rc, p->calls[i].name, (long)i, why);
			free(why);
			goto out;
		}
	}
	grade_pass(out);
out:
	free(got);
}

/* grade_ordered: the expected calls appear in order, other calls may come
 * between them (the earliest matching call is taken for each). */
static void grade_ordered(const struct tool_call_spec *p, const struct reply *r,
			  volatile sig_atomic_t *stop, struct grade_result *out)
{
	size_t pos = 0;
	for (size_t j = 0; j < p->n; j++) {
		const struct expected_call *ec = &p->calls[j];
		size_t found, calls;
		long bad;
		char *why = NULL;
		enum check rc = find_call(ec, r, stop, pos, &found, &bad, &calls, &why);
		if (rc == CHECK_OK) {
			pos = found + 1;
			continue;
		}
		if (bad >= 0) {
			report_args(out, rc, ec->name, bad, why);
		} else {
			char *name = grade_excerpt(NULL, ec->name, strlen(ec->name)), *got = got_names(r);
			if (pos > 0)
				grade_fail(out, "no call to tool '%s' after call #%zu (%s)", name,
					   pos - 1, got);
			else
				grade_fail(out, "no call to tool '%s' (%s)", name, got);
			free(name);
			free(got);
		}
		free(why);
		return;
	}
	grade_pass(out);
}

static void tool_call_grade(const void *priv, const struct grade_input *in,
			    struct grade_result *out)
{
	const struct tool_call_spec *p = priv;
	volatile sig_atomic_t *stop = in->rt ? in->rt->stop : NULL;
	if (!p->sequence)
		grade_one(p, in->reply, stop, out);
	else if (p->ordered)
		grade_ordered(p, in->reply, stop, out);
	else
		grade_exact(p, in->reply, stop, out);
}

static void tool_call_release(void *priv)
{
	struct tool_call_spec *p = priv;
	for (size_t i = 0; i < p->n; i++) {
		free(p->calls[i].name);
		schema_cfg_free(p->calls[i].args);
	}
	free(p->calls);
}

const struct grader_ops grader_tool_call = {
	.name = "tool_call",
	.priv_size = sizeof(struct tool_call_spec),
	.compile = tool_call_compile,
	.grade = tool_call_grade,
	.release = tool_call_release,
	.whole_reply = true,
};
