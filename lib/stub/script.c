/* stub/script.c: loading a stub script (docs/stub.md), and matching its
 * rules against a request's conversation. */
#include "stub/script.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "stub/conversation.h"
#include "ynode.h"

#define STUB_MAX_SCRIPT ((size_t)16 << 20)
#define STUB_MAX_SIZE ((size_t)1 << 30)      /* the largest `size:` answer or padding */
#define STUB_MAX_CHUNK ((size_t)1 << 20)     /* the largest `stream: {chunk:}` */
#define STUB_DEFAULT_HEADER "X-Agent-Fingerprint"
#define STUB_FAULT_AT 2                      /* where a fault falls unless `at:` says */

#define ANSWER_KEYS "reply", "refusal", "tool_call", "tool_calls", "status", "raw", "size", \
		    "hang", "echo", "close"
#define ANSWER_OPTION_KEYS "retry_after", "body", "content_type", "usage", "stream"

static const char *const script_keys[] = {"fingerprint", "fingerprint_header", "model", "rules",
					  NULL};
static const char *const rule_keys[] = {"match", "earlier", "turn", "step", "tool_result",
					"times", "latency", "probability", "otherwise",
					ANSWER_KEYS, ANSWER_OPTION_KEYS, NULL};
static const char *const otherwise_keys[] = {"latency", ANSWER_KEYS, ANSWER_OPTION_KEYS, NULL};
static const char *const answer_keys[] = {ANSWER_KEYS, NULL};
static const char *const tool_call_keys[] = {"name", "arguments", "id", NULL};
static const char *const tool_result_keys[] = {"name", "content", NULL};
static const char *const usage_keys[] = {"input", "output", "cached", "reasoning", NULL};
static const char *const stream_keys[] = {"chunk", "delay", "fault", "at", "size", NULL};

/* Pairs of answer keys that make one answer together. */
static const char *const answer_pairs[][2] = {
	{"status", "raw"},
	{"reply", "size"},
};

/* The answers that have content, so a usage and a stream. */
static const enum stub_answer_kind content_kinds[] = {
	STUB_TEXT, STUB_REFUSAL, STUB_TOOL_CALLS, STUB_SIZE, STUB_ECHO,
};

static const struct {
	const char *name;
	enum stub_fault fault;
} fault_names[] = {
	{"cut", STUB_FAULT_CUT},     {"malformed", STUB_FAULT_MALFORMED},
	{"oversized", STUB_FAULT_OVERSIZED}, {"error", STUB_FAULT_ERROR},
	{"close", STUB_FAULT_CLOSE}, {"hang", STUB_FAULT_HANG},
};

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static void *pcre_alloc(size_t n, void *data)
{
	return xmalloc(n);
}

static void pcre_release(void *p, void *data)
{
	free(p);
}

/* The text of a scalar, or NULL and *err saying that key needs one. */
static const char *scalar(const struct ynode *v, const char *key, char **err)
{
	if (v->kind != YNODE_SCALAR) {
		*err = ynode_error(v, "'%s' must be a scalar, not %s", key, ynode_kind_name(v->kind));
		return NULL;
	}
	return v->str;
}

/* A scalar that is safe in an HTTP header value: no control characters. */
static const char *header_text(const struct ynode *v, const char *key, char **err)
{
	const char *s = scalar(v, key, err);
	if (!s)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			*err = ynode_error(v, "'%s' must not hold control characters", key);
			return NULL;
		}
	}
	return s;
}

static int whole_number(const struct ynode *v, const char *key, double min, double max,
			long *out, char **err)
{
	double d;
	if (ynode_number(v, &d) < 0 || d != floor(d) || d < min || d > max) {
		*err = ynode_error(v, "'%s' must be a whole number from %.0f to %.0f", key, min, max);
		return -1;
	}
	*out = (long)d;
	return 0;
}

static int parse_duration(const struct ynode *v, const char *key, long *ms, char **err)
{
	const char *s = scalar(v, key, err);
	if (!s)
		return -1;
	if (util_parse_duration(s, ms) < 0) {
		*err = ynode_error(v, "bad duration '%s' (use e.g. 250ms, 2s or 1m)", s);
		return -1;
	}
	return 0;
}

static int parse_size(const struct ynode *v, const char *key, size_t min, size_t max,
		      size_t *out, char **err)
{
	const char *s = scalar(v, key, err);
	if (!s)
		return -1;
	if (util_parse_size(s, out) < 0 || *out < min || *out > max) {
		*err = ynode_error(v, "bad size '%s' (use e.g. 512KiB or 9MiB, at most %s)", s,
				   max == STUB_MAX_SIZE ? "1GiB" : "1MiB");
		return -1;
	}
	return 0;
}

static int parse_true(const struct ynode *v, const char *key, char **err)
{
	bool b;
	if (ynode_bool(v, &b) < 0 || !b) {
		*err = ynode_error(v, "'%s' can only be true", key);
		return -1;
	}
	return 0;
}

/* Compile a regex once; matching then only needs match data. */
static int compile_regex(pcre2_compile_context *cc, const struct ynode *v, const char *key,
			 pcre2_code **out, char **err)
{
	const char *s = scalar(v, key, err);
	if (!s)
		return -1;
	int code;
	PCRE2_SIZE offset;
	*out = pcre2_compile((PCRE2_SPTR)s, v->len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code,
			     &offset, cc);
	if (!*out) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		*err = ynode_error(v, "bad regex '%s' at offset %zu: %s", s, (size_t)offset,
				   (const char *)msg);
		return -1;
	}
	pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
	return 0;
}

/* Read {name, arguments, id}; arguments become the JSON text OpenAI sends. */
static int parse_tool_call(struct stub_script *sc, const struct ynode *v,
			   struct stub_tool_call *tc, char **err)
{
	if (v->kind != YNODE_MAP) {
		*err = ynode_error(v, "a tool call must be a mapping with 'name' and 'arguments'");
		return -1;
	}
	if (ynode_check_keys(v, tool_call_keys, "in a tool call", err) < 0)
		return -1;
	const struct ynode *name = ynode_get(v, "name");
	const struct ynode *args = ynode_get(v, "arguments");
	const struct ynode *id = ynode_get(v, "id");
	const char *s;
	if (!name) {
		*err = ynode_error(v, "a tool call needs 'name'");
		return -1;
	}
	if (!(s = scalar(name, "name", err)))
		return -1;
	if (!*s) {
		*err = ynode_error(name, "'name' must not be empty");
		return -1;
	}
	tc->name = arena_strdup(&sc->arena, s);
	if (id) {
		if (!(s = scalar(id, "id", err)))
			return -1;
		tc->id = arena_strdup(&sc->arena, s);
	}
	if (!args) {
		tc->arguments = "{}";
	} else if (args->kind == YNODE_SCALAR) {
		/* Given verbatim, so a script can send arguments that are not JSON. */
		tc->arguments = arena_strdup(&sc->arena, args->str);
	} else {
		cJSON *j = ynode_to_json(args, err);
		if (!j)
			return -1;
		char *text = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		tc->arguments = arena_strdup(&sc->arena, text ? text : "{}");
		cJSON_free(text);
	}
	return 0;
}

static int parse_tool_calls(struct stub_script *sc, const struct ynode *v,
			    struct stub_answer *a, char **err)
{
	if (v->kind != YNODE_SEQ || v->n == 0) {
		*err = ynode_error(v, "'tool_calls' must be a non-empty list of tool calls");
		return -1;
	}
	a->calls = arena_alloc(&sc->arena, v->n * sizeof(*a->calls));
	a->ncalls = v->n;
	for (size_t i = 0; i < v->n; i++)
		if (parse_tool_call(sc, v->items[i], &a->calls[i], err) < 0)
			return -1;
	return 0;
}

/* `usage: {input, output, cached, reasoning}`: token figures to declare. */
static int parse_usage(const struct ynode *v, struct stub_usage *u, char **err)
{
	long *fields[] = {&u->input, &u->output, &u->cached, &u->reasoning};
	if (v->kind != YNODE_MAP) {
		*err = ynode_error(v, "'usage' must be a mapping of token counts (input, output, "
				      "cached, reasoning)");
		return -1;
	}
	if (ynode_check_keys(v, usage_keys, "in 'usage'", err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		const struct ynode *n = ynode_get(v, usage_keys[i]);
		if (!n && i < 2) {
			*err = ynode_error(v, "'usage' needs 'input' and 'output'");
			return -1;
		}
		if (n && whole_number(n, usage_keys[i], 0, 1e12, fields[i], err) < 0)
			return -1;
	}
	if (u->cached > u->input) {
		*err = ynode_error(ynode_get(v, "cached"), "'cached' must not be more than 'input'");
		return -1;
	}
	if (u->reasoning > u->output) {
		*err = ynode_error(ynode_get(v, "reasoning"),
				   "'reasoning' must not be more than 'output'");
		return -1;
	}
	u->declared = true;
	return 0;
}

/* `stream: {chunk, delay, fault, at, size}`: how a streamed answer goes. */
static int parse_stream(const struct ynode *v, struct stub_stream_plan *p, char **err)
{
	const struct ynode *n, *fault = ynode_get(v, "fault");
	long at;
	if (v->kind != YNODE_MAP) {
		*err = ynode_error(v, "'stream' must be a mapping (chunk, delay, fault, at, size)");
		return -1;
	}
	if (ynode_check_keys(v, stream_keys, "in 'stream'", err) < 0)
		return -1;
	if ((n = ynode_get(v, "chunk")) && parse_size(n, "chunk", 1, STUB_MAX_CHUNK, &p->chunk,
						       err) < 0)
		return -1;
	if ((n = ynode_get(v, "delay")) && parse_duration(n, "delay", &p->delay_ms, err) < 0)
		return -1;
	if (fault) {
		const char *s = scalar(fault, "fault", err);
		if (!s)
			return -1;
		for (size_t i = 0; i < ARRAY_SIZE(fault_names); i++)
			if (strcmp(s, fault_names[i].name) == 0)
				p->fault = fault_names[i].fault;
		if (p->fault == STUB_FAULT_NONE) {
			*err = ynode_error(fault, "unknown fault '%s' (cut, malformed, oversized, "
						  "error, close or hang)", s);
			return -1;
		}
		bool at_end = p->fault == STUB_FAULT_CLOSE || p->fault == STUB_FAULT_HANG;
		p->at = at_end ? 0 : STUB_FAULT_AT;
	}
	if ((n = ynode_get(v, "at"))) {
		if (!fault) {
			*err = ynode_error(n, "'at' needs 'fault'");
			return -1;
		}
		if (whole_number(n, "at", 1, 1e9, &at, err) < 0)
			return -1;
		p->at = (size_t)at;
	}
	n = ynode_get(v, "size");
	if (n && p->fault != STUB_FAULT_OVERSIZED) {
		*err = ynode_error(n, "'size' needs 'fault: oversized'");
		return -1;
	}
	if (!n && p->fault == STUB_FAULT_OVERSIZED) {
		*err = ynode_error(fault, "'fault: oversized' needs 'size'");
		return -1;
	}
	return n ? parse_size(n, "size", 1, STUB_MAX_SIZE, &p->size, err) : 0;
}

/* A key of map that would make a second answer, or NULL when the answer
 * keys present make exactly one answer. */
static const struct ynode *second_answer(const struct ynode *map, const struct ynode **first)
{
	*first = NULL;
	bool paired = false;
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->items[2 * i];
		if (!in_list(answer_keys, k->str))
			continue;
		if (!*first) {
			*first = k;
			continue;
		}
		bool pair = false;
		for (size_t j = 0; j < ARRAY_SIZE(answer_pairs) && !paired; j++) {
			const char *a = answer_pairs[j][0], *b = answer_pairs[j][1];
			if ((strcmp((*first)->str, a) == 0 && strcmp(k->str, b) == 0) ||
			    (strcmp((*first)->str, b) == 0 && strcmp(k->str, a) == 0))
				pair = true;
		}
		if (!pair)
			return k;
		paired = true;
	}
	return NULL;
}

/* Read the `usage:` and `stream:` of an answer with content. */
static int parse_content_options(const struct ynode *map, struct stub_answer *a, char **err)
{
	static const char *const keys[] = {"usage", "stream"};
	bool content = false;
	for (size_t i = 0; i < ARRAY_SIZE(content_kinds); i++)
		content |= a->kind == content_kinds[i];
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct ynode *v = ynode_get(map, keys[i]);
		if (v && !content) {
			*err = ynode_error(v, "'%s' needs an answer with content: reply, refusal, "
					      "tool_call, tool_calls, size or echo", keys[i]);
			return -1;
		}
	}
	const struct ynode *usage = ynode_get(map, "usage"), *stream = ynode_get(map, "stream");
	if (usage && parse_usage(usage, &a->usage, err) < 0)
		return -1;
	return stream ? parse_stream(stream, &a->stream, err) : 0;
}

/* Read what an error status or a raw body answers. */
static int parse_status(struct stub_script *sc, const struct ynode *map, struct stub_answer *a,
			char **err)
{
	const struct ynode *status = ynode_get(map, "status"), *raw = ynode_get(map, "raw");
	const struct ynode *retry = ynode_get(map, "retry_after"), *body = ynode_get(map, "body");
	const struct ynode *ctype = ynode_get(map, "content_type");
	const char *s;
	long n;
	if (retry && !status) {
		*err = ynode_error(retry, "'retry_after' needs 'status'");
		return -1;
	}
	if (body && (!status || raw)) {
		*err = ynode_error(body, raw ? "'body' and 'raw' both give the body; give one"
					     : "'body' needs 'status'");
		return -1;
	}
	if (ctype && !status && !raw) {
		*err = ynode_error(ctype, "'content_type' needs 'status' or 'raw'");
		return -1;
	}
	if (ctype) {
		if (!(s = header_text(ctype, "content_type", err)))
			return -1;
		a->content_type = arena_strdup(&sc->arena, s);
	}
	if (status) {
		if (whole_number(status, "status", 200, 599, &n, err) < 0)
			return -1;
		a->status = (int)n;
	}
	if (retry) {
		double d;
		if (ynode_number(retry, &d) == 0) {
			if (whole_number(retry, "retry_after", 0, 1e9, &n, err) < 0)
				return -1;
			a->retry_after = arena_strdup(&sc->arena, retry->str);
		} else {
			/* An HTTP date, or anything a client under test should survive. */
			if (!(s = header_text(retry, "retry_after", err)))
				return -1;
			a->retry_after = arena_strdup(&sc->arena, s);
		}
	}
	if (raw) {
		if (!(s = scalar(raw, "raw", err)))
			return -1;
		a->kind = STUB_RAW;
		a->text = arena_strdup(&sc->arena, s);
		return 0;
	}
	a->kind = STUB_STATUS;
	if (body) {
		if (!(s = scalar(body, "body", err)))
			return -1;
		a->text = arena_strdup(&sc->arena, s);
	}
	const char *reason = MHD_get_reason_phrase_for((unsigned)a->status);
	char *msg = xasprintf("stub status %d%s%s", a->status, *reason ? ": " : "", reason);
	a->message = arena_strdup(&sc->arena, msg);
	free(msg);
	return 0;
}

/* Read the answer keys of map (a rule or its `otherwise:`) into a. */
static int parse_answer(struct stub_script *sc, const struct ynode *map, struct stub_answer *a,
			char **err)
{
	const struct ynode *first, *extra = second_answer(map, &first);
	if (extra) {
		*err = ynode_error(extra, "'%s' and '%s' are two answers; give one", first->str,
				   extra->str);
		return -1;
	}
	if (!first) {
		*err = ynode_error(map, "no answer: give one of reply, refusal, tool_call, "
					"tool_calls, status, raw, size, hang, echo or close");
		return -1;
	}
	const struct ynode *reply = ynode_get(map, "reply"), *size = ynode_get(map, "size"), *v;
	const char *s;
	a->status = 200;
	a->latency_ms = -1;
	a->content_type = "application/json";
	if (ynode_get(map, "status") || ynode_get(map, "raw") || ynode_get(map, "retry_after") ||
	    ynode_get(map, "body") || ynode_get(map, "content_type")) {
		if (parse_status(sc, map, a, err) < 0)
			return -1;
	} else if (size) {
		if (parse_size(size, "size", 0, STUB_MAX_SIZE, &a->size, err) < 0)
			return -1;
		a->kind = STUB_SIZE;
		if (reply) {
			if (!(s = scalar(reply, "reply", err)))
				return -1;
			a->text = ynode_is_null(reply) ? NULL : arena_strdup(&sc->arena, s);
		}
	} else if (reply) {
		if (!scalar(reply, "reply", err))
			return -1;
		a->kind = STUB_TEXT;
		a->text = ynode_is_null(reply) ? NULL : arena_strdup(&sc->arena, reply->str);
	} else if ((v = ynode_get(map, "refusal"))) {
		if (!(s = scalar(v, "refusal", err)))
			return -1;
		a->kind = STUB_REFUSAL;
		a->text = arena_strdup(&sc->arena, s);
	} else if ((v = ynode_get(map, "tool_call"))) {
		a->kind = STUB_TOOL_CALLS;
		a->calls = arena_alloc(&sc->arena, sizeof(*a->calls));
		a->ncalls = 1;
		if (parse_tool_call(sc, v, a->calls, err) < 0)
			return -1;
	} else if ((v = ynode_get(map, "tool_calls"))) {
		a->kind = STUB_TOOL_CALLS;
		if (parse_tool_calls(sc, v, a, err) < 0)
			return -1;
	} else if ((v = ynode_get(map, "hang"))) {
		a->kind = STUB_HANG;
		if (parse_true(v, "hang", err) < 0)
			return -1;
	} else if ((v = ynode_get(map, "echo"))) {
		a->kind = STUB_ECHO;
		if (parse_true(v, "echo", err) < 0)
			return -1;
	} else if ((v = ynode_get(map, "close"))) {
		a->kind = STUB_CLOSE;
		if (parse_true(v, "close", err) < 0)
			return -1;
	}
	return parse_content_options(map, a, err);
}

/* `tool_result: NAME` or `{name: NAME, content: REGEX}`. */
static int parse_tool_result(struct stub_script *sc, pcre2_compile_context *cc,
			     const struct ynode *v, struct stub_rule *r, char **err)
{
	const struct ynode *name = v, *content = NULL;
	const char *s;
	r->tool_result = true;
	if (v->kind == YNODE_MAP) {
		if (ynode_check_keys(v, tool_result_keys, "in 'tool_result'", err) < 0)
			return -1;
		name = ynode_get(v, "name");
		content = ynode_get(v, "content");
	} else if (v->kind != YNODE_SCALAR) {
		*err = ynode_error(v, "'tool_result' must be a tool name or a mapping with 'name' "
				      "and 'content'");
		return -1;
	}
	if (name) {
		if (!(s = scalar(name, "name", err)))
			return -1;
		if (!*s) {
			*err = ynode_error(name, "'name' must not be empty");
			return -1;
		}
		r->tool_name = arena_strdup(&sc->arena, s);
	}
	return content ? compile_regex(cc, content, "content", &r->tool_content, err) : 0;
}

/* Read a rule's conditions on the conversation. */
static int parse_conditions(struct stub_script *sc, pcre2_compile_context *cc,
			    const struct ynode *v, struct stub_rule *r, char **err)
{
	const struct ynode *n;
	if ((n = ynode_get(v, "match")) && compile_regex(cc, n, "match", &r->match, err) < 0)
		return -1;
	if ((n = ynode_get(v, "earlier")) && compile_regex(cc, n, "earlier", &r->earlier, err) < 0)
		return -1;
	if ((n = ynode_get(v, "turn")) && whole_number(n, "turn", 1, 1e9, &r->turn, err) < 0)
		return -1;
	if ((n = ynode_get(v, "step")) && whole_number(n, "step", 1, 1e9, &r->step, err) < 0)
		return -1;
	if ((n = ynode_get(v, "tool_result")) && parse_tool_result(sc, cc, n, r, err) < 0)
		return -1;
	return 0;
}

/* Read one rule: its conditions, its answer and its `otherwise:`. */
static int parse_rule(struct stub_script *sc, pcre2_compile_context *cc, const struct ynode *v,
		      struct stub_rule *r, char **err)
{
	if (v->kind != YNODE_MAP) {
		*err = ynode_error(v, "a rule must be a mapping, not %s", ynode_kind_name(v->kind));
		return -1;
	}
	if (ynode_check_keys(v, rule_keys, "in a rule", err) < 0)
		return -1;
	const struct ynode *times = ynode_get(v, "times"), *latency = ynode_get(v, "latency");
	const struct ynode *p = ynode_get(v, "probability"), *otherwise = ynode_get(v, "otherwise");

	if (parse_conditions(sc, cc, v, r, err) < 0)
		return -1;
	if (times && whole_number(times, "times", 1, 1e15, &r->times, err) < 0)
		return -1;
	if (latency && parse_duration(latency, "latency", &r->latency_ms, err) < 0)
		return -1;
	if (p) {
		if (ynode_number(p, &r->probability) < 0 || r->probability < 0 ||
		    r->probability > 1) {
			*err = ynode_error(p, "'probability' must be a number from 0 to 1");
			return -1;
		}
		r->has_probability = true;
	}
	if (parse_answer(sc, v, &r->answer, err) < 0)
		return -1;
	if (!otherwise)
		return 0;
	if (!p) {
		*err = ynode_error(otherwise, "'otherwise' needs 'probability'");
		return -1;
	}
	if (otherwise->kind != YNODE_MAP) {
		*err = ynode_error(otherwise, "'otherwise' must be a mapping with an answer, not %s",
				   ynode_kind_name(otherwise->kind));
		return -1;
	}
	if (ynode_check_keys(otherwise, otherwise_keys, "in 'otherwise'", err) < 0 ||
	    parse_answer(sc, otherwise, &r->otherwise, err) < 0)
		return -1;
	latency = ynode_get(otherwise, "latency");
	if (latency && parse_duration(latency, "latency", &r->otherwise.latency_ms, err) < 0)
		return -1;
	r->has_otherwise = true;
	return 0;
}

/* Read the whole script: its top-level keys, then every rule. */
static int parse_script(struct stub_script *sc, pcre2_compile_context *cc,
			const struct ydoc *doc, char **err)
{
	const struct ynode *root = doc->root, *v;
	const char *s;
	if (!root) {
		*err = xasprintf("%s:1:1: the script is empty; it needs 'rules'", doc->file);
		return -1;
	}
	if (root->kind != YNODE_MAP) {
		*err = ynode_error(root, "a script must be a mapping with 'rules', not %s",
				   ynode_kind_name(root->kind));
		return -1;
	}
	if (ynode_check_keys(root, script_keys, "in the script", err) < 0)
		return -1;
	if ((v = ynode_get(root, "fingerprint"))) {
		if (!(s = header_text(v, "fingerprint", err)))
			return -1;
		sc->fingerprint = arena_strdup(&sc->arena, s);
	}
	sc->fingerprint_header = STUB_DEFAULT_HEADER;
	if ((v = ynode_get(root, "fingerprint_header"))) {
		if (!(s = scalar(v, "fingerprint_header", err)))
			return -1;
		if (!*s || strspn(s, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != v->len) {
			*err = ynode_error(v, "bad header name '%s'", s);
			return -1;
		}
		sc->fingerprint_header = arena_strdup(&sc->arena, s);
	}
	if ((v = ynode_get(root, "model"))) {
		if (!(s = scalar(v, "model", err)))
			return -1;
		sc->model = arena_strdup(&sc->arena, s);
	}
	v = ynode_get(root, "rules");
	if (!v) {
		*err = ynode_error(root, "missing 'rules'");
		return -1;
	}
	if (v->kind != YNODE_SEQ) {
		*err = ynode_error(v, "'rules' must be a list, not %s", ynode_kind_name(v->kind));
		return -1;
	}
	sc->rules = arena_alloc(&sc->arena, (v->n ? v->n : 1) * sizeof(*sc->rules));
	sc->nrules = v->n;
	for (size_t i = 0; i < v->n; i++)
		if (parse_rule(sc, cc, v->items[i], &sc->rules[i], err) < 0)
			return -1;
	return 0;
}

struct stub_script *stub_script_load_buffer(const char *name, const char *data, size_t len,
					    char **err)
{
	struct ydoc *doc = ydoc_parse(name, data, len, err);
	if (!doc)
		return NULL;
	struct stub_script *sc = xcalloc(1, sizeof(*sc));
	pcre2_general_context *gc = pcre2_general_context_create(pcre_alloc, pcre_release, NULL);
	pcre2_compile_context *cc = pcre2_compile_context_create(gc);
	int rc = parse_script(sc, cc, doc, err);
	pcre2_compile_context_free(cc);
	pcre2_general_context_free(gc);
	ydoc_free(doc);
	if (rc < 0) {
		stub_script_free(sc);
		return NULL;
	}
	return sc;
}

struct stub_script *stub_script_load(const char *path, char **err)
{
	size_t len;
	char *data = util_read_file(path, STUB_MAX_SCRIPT, &len, err);
	if (!data)
		return NULL;
	struct stub_script *sc = stub_script_load_buffer(path, data, len, err);
	free(data);
	return sc;
}

void stub_script_free(struct stub_script *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < sc->nrules; i++) {
		pcre2_code_free(sc->rules[i].match);
		pcre2_code_free(sc->rules[i].earlier);
		pcre2_code_free(sc->rules[i].tool_content);
	}
	arena_release(&sc->arena);
	free(sc);
}

/* Whether re (NULL: any) matches t. */
static bool text_matches(const pcre2_code *re, const struct stub_text *t)
{
	if (!re)
		return true;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = pcre2_match(re, (PCRE2_SPTR)t->s, t->len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

bool stub_rule_matches(const struct stub_rule *r, const struct stub_conversation *c)
{
	if ((r->turn && c->turn != (size_t)r->turn) || (r->step && c->step != (size_t)r->step) ||
	    !text_matches(r->match, &c->last))
		return false;
	bool ok = !r->earlier;
	for (size_t i = 0; i < c->nearlier && !ok; i++)
		ok = text_matches(r->earlier, &c->earlier[i]);
	if (!ok || !r->tool_result)
		return ok;
	for (size_t i = 0; i < c->nresults; i++) {
		const struct stub_tool_result *t = &c->results[i];
		if ((!r->tool_name || (t->name && strcmp(t->name, r->tool_name) == 0)) &&
		    text_matches(r->tool_content, &t->content))
			return true;
	}
	return false;
}
