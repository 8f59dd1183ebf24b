/* stub/stub.c: a scripted openai-chat agent on libmicrohttpd.
 *
 * Scripts are compiled once at load (regexes, tool call arguments, error
 * bodies); serving only reads them.  The mutable state of a running stub
 * (the PRNG, the per-rule `times` counters, the stop flag) sits behind one
 * mutex; sleeps wait on a condition variable that stub_stop() broadcasts.
 */
#include "stub/stub.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pcre2.h>

#include "util.h"
#include "ynode.h"

#define STUB_MAX_BODY ((size_t)8 << 20)      /* larger request bodies get 413 */
#define STUB_MAX_SCRIPT ((size_t)16 << 20)
#define STUB_MAX_SIZE ((size_t)1 << 30)      /* the largest `size:` answer */
#define STUB_POLL_MS 50                      /* how often sleepers look at the client */
#define STUB_DEFAULT_HEADER "X-Agent-Fingerprint"
#define STUB_DEFAULT_MODEL "stub-model"

enum answer_kind {
	ANSWER_TEXT,
	ANSWER_TOOL_CALLS,
	ANSWER_SIZE,
	ANSWER_ECHO,
	ANSWER_STATUS,
	ANSWER_RAW,
	ANSWER_HANG,
	ANSWER_CLOSE,
};

struct tool_call {
	const char *id;        /* NULL: "call_N" */
	const char *name;
	const char *arguments; /* sent as the JSON string function.arguments */
};

struct answer {
	enum answer_kind kind;
	const char *text;         /* TEXT: content (NULL: null); SIZE: leading text or NULL;
				   * STATUS, RAW: the body */
	struct tool_call *calls;
	size_t ncalls;
	int status;
	const char *retry_after;  /* NULL: no Retry-After header */
	const char *content_type; /* STATUS, RAW */
	size_t size;              /* SIZE: content bytes */
	long latency_ms;          /* -1: the rule's */
};

struct rule {
	pcre2_code *re;           /* NULL: matches everything */
	long times;               /* 0: no limit */
	long latency_ms;
	bool has_probability;
	double probability;
	bool has_otherwise;
	struct answer answer;
	struct answer otherwise;
};

struct stub_script {
	struct arena arena;       /* every string and array below */
	const char *fingerprint;  /* NULL: none */
	const char *fingerprint_header;
	const char *model;        /* NULL: the request's */
	struct rule *rules;
	size_t nrules;
};

struct stub {
	struct stub_script *script;
	struct MHD_Daemon *daemon;
	int port;
	FILE *log;
	pthread_mutex_t log_lock;
	pthread_mutex_t lock;     /* guards stopping, rng and used */
	pthread_cond_t wake;      /* broadcast by stub_stop() */
	bool stopping;
	uint64_t rng;
	long *used;               /* per rule: requests it answered */
	atomic_long requests;
	atomic_long next_id;
	atomic_long next_call;
};

/* What one request is while its body arrives. */
struct request {
	struct buf body;
	size_t dropped;           /* bytes past the limit */
	bool too_large;
};

/* One request being answered. */
struct exchange {
	struct stub *stub;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const cJSON *json;        /* the parsed body, or NULL */
	const char *body;         /* the raw body when it is not JSON, or NULL */
	size_t body_len;
};

#define ANSWER_KEYS "reply", "tool_call", "tool_calls", "status", "raw", "size", "hang", \
		    "echo", "close"
#define ANSWER_OPTION_KEYS "retry_after", "body", "content_type"

static const char *const script_keys[] = {"fingerprint", "fingerprint_header", "model", "rules",
					  NULL};
static const char *const rule_keys[] = {"match", "times", "latency", "probability", "otherwise",
					ANSWER_KEYS, ANSWER_OPTION_KEYS, NULL};
static const char *const otherwise_keys[] = {"latency", ANSWER_KEYS, ANSWER_OPTION_KEYS, NULL};
static const char *const answer_keys[] = {ANSWER_KEYS, NULL};
static const char *const tool_call_keys[] = {"name", "arguments", "id", NULL};

/* Pairs of answer keys that make one answer together. */
static const char *const answer_pairs[][2] = {
	{"status", "raw"},
	{"reply", "size"},
};

/* The OpenAI error type for an HTTP status. */
static const struct {
	int status;
	const char *type;
} error_types[] = {
	{400, "invalid_request_error"}, {401, "authentication_error"},
	{403, "permission_error"},      {404, "invalid_request_error"},
	{408, "timeout_error"},         {409, "conflict_error"},
	{413, "invalid_request_error"}, {422, "invalid_request_error"},
	{429, "rate_limit_error"},      {500, "server_error"},
	{502, "server_error"},          {503, "server_error"},
	{504, "timeout_error"},         {529, "overloaded_error"},
};

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static const char *error_type(int status)
{
	for (size_t i = 0; i < ARRAY_SIZE(error_types); i++)
		if (error_types[i].status == status)
			return error_types[i].type;
	return status >= 500 ? "server_error" : "invalid_request_error";
}

/* An OpenAI-style error body: {"error":{"message":...,"type":...}}. */
static char *error_body(const char *message, const char *type)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "type", type);
	char *out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

static void *pcre_alloc(size_t n, void *data)
{
	return xmalloc(n);
}

static void pcre_release(void *p, void *data)
{
	free(p);
}

/* Loading. */

/* Fail on the first key of map not in keys, suggesting the closest one. */
static int check_keys(const struct ynode *map, const char *const *keys, const char *where,
		      char **err)
{
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->items[2 * i];
		if (in_list(keys, k->str))
			continue;
		const char *hint = util_suggest(k->str, keys);
		if (hint)
			*err = ynode_error(k, "unknown key '%s' in %s (did you mean '%s'?)", k->str,
					   where, hint);
		else
			*err = ynode_error(k, "unknown key '%s' in %s", k->str, where);
		return -1;
	}
	return 0;
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

static int parse_latency(const struct ynode *v, long *ms, char **err)
{
	const char *s = scalar(v, "latency", err);
	if (!s)
		return -1;
	if (util_parse_duration(s, ms) < 0) {
		*err = ynode_error(v, "bad duration '%s' (use e.g. 250ms, 2s or 1m)", s);
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

/* Read {name, arguments, id}; arguments become the JSON text OpenAI sends. */
static int parse_tool_call(struct stub_script *sc, const struct ynode *v, struct tool_call *tc,
			   char **err)
{
	if (v->kind != YNODE_MAP) {
		*err = ynode_error(v, "a tool call must be a mapping with 'name' and 'arguments'");
		return -1;
	}
	if (check_keys(v, tool_call_keys, "a tool call", err) < 0)
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

static int parse_tool_calls(struct stub_script *sc, const struct ynode *v, struct answer *a,
			    char **err)
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

/* Read the answer keys of map (a rule or its `otherwise:`) into a. */
static int parse_answer(struct stub_script *sc, const struct ynode *map, struct answer *a,
			char **err)
{
	const struct ynode *first, *extra = second_answer(map, &first);
	if (extra) {
		*err = ynode_error(extra, "'%s' and '%s' are two answers; give one", first->str,
				   extra->str);
		return -1;
	}
	if (!first) {
		*err = ynode_error(map, "no answer: give one of reply, tool_call, tool_calls, "
					"status, raw, size, hang, echo or close");
		return -1;
	}
	const struct ynode *reply = ynode_get(map, "reply"), *status = ynode_get(map, "status");
	const struct ynode *raw = ynode_get(map, "raw"), *size = ynode_get(map, "size");
	const struct ynode *retry = ynode_get(map, "retry_after"), *body = ynode_get(map, "body");
	const struct ynode *ctype = ynode_get(map, "content_type"), *v;
	const char *s;
	long n;

	a->status = 200;
	a->latency_ms = -1;
	a->content_type = "application/json";
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
		a->kind = ANSWER_RAW;
		a->text = arena_strdup(&sc->arena, s);
	} else if (status) {
		a->kind = ANSWER_STATUS;
		if (body) {
			if (!(s = scalar(body, "body", err)))
				return -1;
			a->text = arena_strdup(&sc->arena, s);
		} else {
			const char *reason = MHD_get_reason_phrase_for((unsigned)a->status);
			char *msg = xasprintf("stub status %d%s%s", a->status, *reason ? ": " : "",
					      reason);
			char *json = error_body(msg, error_type(a->status));
			a->text = arena_strdup(&sc->arena, json ? json : "{}");
			cJSON_free(json);
			free(msg);
		}
	} else if (size) {
		if (!(s = scalar(size, "size", err)))
			return -1;
		if (util_parse_size(s, &a->size) < 0 || a->size > STUB_MAX_SIZE) {
			*err = ynode_error(size, "bad size '%s' (use e.g. 512KiB or 9MiB, at most "
						 "1GiB)", s);
			return -1;
		}
		a->kind = ANSWER_SIZE;
		if (reply) {
			if (!(s = scalar(reply, "reply", err)))
				return -1;
			a->text = ynode_is_null(reply) ? NULL : arena_strdup(&sc->arena, s);
		}
	} else if (reply) {
		if (!scalar(reply, "reply", err))
			return -1;
		a->kind = ANSWER_TEXT;
		a->text = ynode_is_null(reply) ? NULL : arena_strdup(&sc->arena, reply->str);
	} else if ((v = ynode_get(map, "tool_call"))) {
		a->kind = ANSWER_TOOL_CALLS;
		a->calls = arena_alloc(&sc->arena, sizeof(*a->calls));
		a->ncalls = 1;
		return parse_tool_call(sc, v, a->calls, err);
	} else if ((v = ynode_get(map, "tool_calls"))) {
		a->kind = ANSWER_TOOL_CALLS;
		return parse_tool_calls(sc, v, a, err);
	} else if ((v = ynode_get(map, "hang"))) {
		a->kind = ANSWER_HANG;
		return parse_true(v, "hang", err);
	} else if ((v = ynode_get(map, "echo"))) {
		a->kind = ANSWER_ECHO;
		return parse_true(v, "echo", err);
	} else if ((v = ynode_get(map, "close"))) {
		a->kind = ANSWER_CLOSE;
		return parse_true(v, "close", err);
	}
	return 0;
}

/* Compile a rule's pattern once; matching then only needs match data. */
static int compile_match(pcre2_compile_context *cc, const struct ynode *v, struct rule *r,
			 char **err)
{
	const char *s = scalar(v, "match", err);
	if (!s)
		return -1;
	int code;
	PCRE2_SIZE offset;
	r->re = pcre2_compile((PCRE2_SPTR)s, v->len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code,
			      &offset, cc);
	if (!r->re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(code, msg, sizeof(msg));
		*err = ynode_error(v, "bad regex '%s' at offset %zu: %s", s, (size_t)offset,
				   (const char *)msg);
		return -1;
	}
	pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
	return 0;
}

/* Read one rule: its conditions, its answer and its `otherwise:`. */
static int parse_rule(struct stub_script *sc, pcre2_compile_context *cc, const struct ynode *v,
		      struct rule *r, char **err)
{
	if (v->kind != YNODE_MAP) {
		*err = ynode_error(v, "a rule must be a mapping, not %s", ynode_kind_name(v->kind));
		return -1;
	}
	if (check_keys(v, rule_keys, "a rule", err) < 0)
		return -1;
	const struct ynode *match = ynode_get(v, "match"), *times = ynode_get(v, "times");
	const struct ynode *latency = ynode_get(v, "latency"), *p = ynode_get(v, "probability");
	const struct ynode *otherwise = ynode_get(v, "otherwise");

	if (match && compile_match(cc, match, r, err) < 0)
		return -1;
	if (times && whole_number(times, "times", 1, 1e15, &r->times, err) < 0)
		return -1;
	if (latency && parse_latency(latency, &r->latency_ms, err) < 0)
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
	if (check_keys(otherwise, otherwise_keys, "'otherwise'", err) < 0 ||
	    parse_answer(sc, otherwise, &r->otherwise, err) < 0)
		return -1;
	latency = ynode_get(otherwise, "latency");
	if (latency && parse_latency(latency, &r->otherwise.latency_ms, err) < 0)
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
	if (check_keys(root, script_keys, "the script", err) < 0)
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
	for (size_t i = 0; i < sc->nrules; i++)
		pcre2_code_free(sc->rules[i].re);
	arena_release(&sc->arena);
	free(sc);
}

/* Serving. */

/* xorshift64*, advanced with s->lock held. */
static double next_random(struct stub *s)
{
	uint64_t x = s->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* splitmix64 of the seed, so that nearby seeds give unrelated streams. */
static uint64_t seed_state(unsigned seed)
{
	uint64_t z = seed;
	if (!z) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		z = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
	}
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return z ? z : 1;
}

static bool rule_matches(const struct rule *r, const char *text, size_t len)
{
	if (!r->re)
		return true;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->re, NULL);
	int rc = pcre2_match(r->re, (PCRE2_SPTR)text, len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

/* The answer of the first rule that matches text and still applies, after
 * drawing its probability; NULL when none does.  A rule whose draw fails
 * and that has no `otherwise:` lets the later rules answer. */
static const struct answer *choose(struct stub *s, const char *text, size_t len, long *index,
				   bool *otherwise)
{
	const struct stub_script *sc = s->script;
	for (size_t i = 0; i < sc->nrules; i++) {
		const struct rule *r = &sc->rules[i];
		const struct answer *a = NULL;
		if (!rule_matches(r, text, len))
			continue;
		pthread_mutex_lock(&s->lock);
		if (!r->times || s->used[i] < r->times) {
			if (!r->has_probability || next_random(s) < r->probability)
				a = &r->answer;
			else if (r->has_otherwise)
				a = &r->otherwise;
			if (a)
				s->used[i]++;
		}
		pthread_mutex_unlock(&s->lock);
		if (a) {
			*index = (long)i;
			*otherwise = a == &r->otherwise;
			return a;
		}
	}
	return NULL;
}

/* Whether the client closed its end of the connection. */
static bool client_gone(int fd)
{
	if (fd < 0)
		return false;
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) <= 0)
		return false;
	return p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL);
}

/* Sleep ms milliseconds (until the stub stops when ms < 0): 0 when the time
 * passed, -1 early when the stub stops or the client hangs up. */
static int wait_for(struct stub *s, struct MHD_Connection *conn, long ms)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int fd = ci ? ci->connect_fd : -1;
	double end = util_now_ms() + (double)ms;
	int rc = -1;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		double left = ms < 0 ? STUB_POLL_MS : end - util_now_ms();
		if (left <= 0) {
			rc = 0;
			break;
		}
		long step = left < STUB_POLL_MS ? (long)ceil(left) : STUB_POLL_MS;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += step * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
		pthread_mutex_unlock(&s->lock);
		bool gone = client_gone(fd);
		pthread_mutex_lock(&s->lock);
		if (gone)
			break;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Append one JSON line for a request (its body, never its headers) and
 * count it; status 0 and rule -1 are logged as null. */
static void log_request(struct exchange *x, int status, long rule, bool otherwise)
{
	struct stub *s = x->stub;
	atomic_fetch_add(&s->requests, 1);
	if (!s->log)
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "time_ms", (double)util_wall_ms());
	cJSON_AddStringToObject(o, "method", x->method);
	cJSON_AddStringToObject(o, "path", x->path);
	if (x->json)
		cJSON_AddItemReferenceToObject(o, "body", (cJSON *)x->json);
	else if (x->body)
		cJSON_AddStringToObject(o, "body", x->body);
	else
		cJSON_AddNullToObject(o, "body");
	if (status)
		cJSON_AddNumberToObject(o, "status", status);
	else
		cJSON_AddNullToObject(o, "status");
	if (rule >= 0) {
		cJSON_AddNumberToObject(o, "rule", (double)rule);
		cJSON_AddBoolToObject(o, "otherwise", otherwise);
	} else {
		cJSON_AddNullToObject(o, "rule");
	}
	char *line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!line)
		return;
	pthread_mutex_lock(&s->log_lock);
	fputs(line, s->log);
	fputc('\n', s->log);
	fflush(s->log);
	pthread_mutex_unlock(&s->log_lock);
	cJSON_free(line);
}

/* Add the stub's headers to resp and queue it; resp is released. */
static enum MHD_Result queue(struct exchange *x, int status, struct MHD_Response *resp,
			     const char *content_type, const char *retry_after)
{
	const struct stub_script *sc = x->stub->script;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (sc->fingerprint)
		MHD_add_response_header(resp, sc->fingerprint_header, sc->fingerprint);
	if (retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
	enum MHD_Result rc = MHD_queue_response(x->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Queue text printed by cJSON, which the response frees. */
static enum MHD_Result send_owned(struct exchange *x, int status, char *data,
				  const char *content_type, const char *retry_after)
{
	if (!data)
		return MHD_NO;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(strlen(data), data, cJSON_free);
	if (!resp)
		cJSON_free(data);
	return queue(x, status, resp, content_type, retry_after);
}

/* Queue text that outlives the server (the script's). */
static enum MHD_Result send_static(struct exchange *x, int status, const char *text,
				   const char *content_type, const char *retry_after)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	return queue(x, status, resp, content_type, retry_after);
}

/* Log and answer an error the stub itself decides (no rule). */
static enum MHD_Result send_error(struct exchange *x, int status, const char *message)
{
	log_request(x, status, -1, false);
	return send_owned(x, status, error_body(message, error_type(status)), "application/json",
			  NULL);
}

/* The text rules match: the content of the last user message (text parts
 * joined by newlines), or the whole body when it has no messages list. */
static char *match_text(const struct exchange *x, const char *body, size_t body_len,
			size_t *len)
{
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(x->json, "messages");
	const cJSON *m, *last = NULL, *part;
	if (!cJSON_IsArray(msgs)) {
		*len = body_len;
		return xstrndup(body, body_len);
	}
	cJSON_ArrayForEach(m, msgs) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
			last = m;
	}
	struct buf b;
	buf_init(&b, 0);
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(last, "content");
	if (cJSON_IsString(content)) {
		buf_addstr(&b, content->valuestring);
	} else if (cJSON_IsArray(content)) {
		bool first = true;
		cJSON_ArrayForEach(part, content) {
			const cJSON *text = cJSON_IsString(part)
						    ? part
						    : cJSON_GetObjectItemCaseSensitive(part, "text");
			if (!cJSON_IsString(text))
				continue;
			if (!first)
				buf_addch(&b, '\n');
			buf_addstr(&b, text->valuestring);
			first = false;
		}
	}
	return buf_detach(&b, len);
}

static const char *reply_model(const struct exchange *x)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(x->json, "model");
	if (x->stub->script->model)
		return x->stub->script->model;
	return cJSON_IsString(m) ? m->valuestring : STUB_DEFAULT_MODEL;
}

/* The body of a chat completion whose message holds content (NULL: null)
 * or, for a tool-call answer, a's tool calls. */
static char *completion(struct exchange *x, const struct answer *a, const char *content,
			size_t completion_len)
{
	struct stub *s = x->stub;
	bool tools = a->kind == ANSWER_TOOL_CALLS;
	char id[64];
	snprintf(id, sizeof(id), "chatcmpl-stub-%ld", atomic_fetch_add(&s->next_id, 1) + 1);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "id", id);
	cJSON_AddStringToObject(root, "object", "chat.completion");
	cJSON_AddNumberToObject(root, "created", (double)time(NULL));
	cJSON_AddStringToObject(root, "model", reply_model(x));
	if (s->script->fingerprint)
		cJSON_AddStringToObject(root, "system_fingerprint", s->script->fingerprint);
	else
		cJSON_AddNullToObject(root, "system_fingerprint");
	cJSON *choice = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "choices"), choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	cJSON *msg = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	if (content && !tools)
		cJSON_AddStringToObject(msg, "content", content);
	else
		cJSON_AddNullToObject(msg, "content");
	if (tools) {
		cJSON *calls = cJSON_AddArrayToObject(msg, "tool_calls");
		for (size_t i = 0; i < a->ncalls; i++) {
			const struct tool_call *tc = &a->calls[i];
			cJSON *c = cJSON_CreateObject();
			cJSON_AddItemToArray(calls, c);
			if (tc->id) {
				cJSON_AddStringToObject(c, "id", tc->id);
			} else {
				char call_id[64];
				snprintf(call_id, sizeof(call_id), "call_%ld",
					 atomic_fetch_add(&s->next_call, 1) + 1);
				cJSON_AddStringToObject(c, "id", call_id);
			}
			cJSON_AddStringToObject(c, "type", "function");
			cJSON *fn = cJSON_AddObjectToObject(c, "function");
			cJSON_AddStringToObject(fn, "name", tc->name);
			cJSON_AddStringToObject(fn, "arguments", tc->arguments);
			completion_len += strlen(tc->name) + strlen(tc->arguments);
		}
	}
	cJSON_AddNullToObject(choice, "logprobs");
	cJSON_AddStringToObject(choice, "finish_reason", tools ? "tool_calls" : "stop");
	size_t prompt = (x->body_len + 3) / 4, done = (completion_len + 3) / 4;
	cJSON *usage = cJSON_AddObjectToObject(root, "usage");
	cJSON_AddNumberToObject(usage, "prompt_tokens", (double)prompt);
	cJSON_AddNumberToObject(usage, "completion_tokens", (double)done);
	cJSON_AddNumberToObject(usage, "total_tokens", (double)(prompt + done));
	char *out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

/* A completion streamed with padding spliced into its content. */
struct padded {
	char *json;
	size_t len;
	size_t split;   /* the offset of the content's closing quote */
	size_t pad;
};

static ssize_t padded_read(void *cls, uint64_t pos, char *out, size_t max)
{
	static const char filler[] = "lorem ipsum dolor sit amet ";
	const struct padded *p = cls;
	uint64_t total = (uint64_t)p->len + p->pad, pad_end = (uint64_t)p->split + p->pad;
	size_t n = 0;
	while (n < max && pos + n < total) {
		uint64_t at = pos + n;
		size_t chunk;
		if (at < p->split) {
			chunk = (size_t)(p->split - at) < max - n ? (size_t)(p->split - at) : max - n;
			memcpy(out + n, p->json + at, chunk);
		} else if (at < pad_end) {
			uint64_t off = at - p->split;
			chunk = (size_t)(pad_end - at) < max - n ? (size_t)(pad_end - at) : max - n;
			for (size_t i = 0; i < chunk; i++)
				out[n + i] = filler[(off + i) % (sizeof(filler) - 1)];
		} else {
			chunk = (size_t)(total - at) < max - n ? (size_t)(total - at) : max - n;
			memcpy(out + n, p->json + (at - p->pad), chunk);
		}
		n += chunk;
	}
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void padded_free(void *cls)
{
	struct padded *p = cls;
	cJSON_free(p->json);
	free(p);
}

/* Answer a completion whose content is padded to about a->size bytes. */
static enum MHD_Result send_padded(struct exchange *x, const struct answer *a)
{
	const char *lead = a->text ? a->text : "";
	char *json = completion(x, a, lead, a->size);
	if (!json)
		return MHD_NO;
	/* Keys never hold "content": (strings escape their quotes), so the
	 * first one is the message's; its string ends at the next bare quote. */
	char *p = strstr(json, "\"content\":\"");
	if (!p) {
		cJSON_free(json);
		return MHD_NO;
	}
	p += strlen("\"content\":\"");
	size_t escaped = 0;
	while (*p && *p != '"') {
		if (*p == '\\' && p[1])
			p++;
		p++;
		escaped++;
	}
	struct padded *pd = xcalloc(1, sizeof(*pd));
	pd->json = json;
	pd->len = strlen(json);
	pd->split = (size_t)(p - json);
	pd->pad = a->size > escaped ? a->size - escaped : 0;
	struct MHD_Response *resp = MHD_create_response_from_callback(
		(uint64_t)pd->len + pd->pad, 64 << 10, padded_read, pd, padded_free);
	if (!resp) {
		padded_free(pd);
		return MHD_NO;
	}
	return queue(x, a->status, resp, "application/json", NULL);
}

/* Give answer a of rule index to a request whose matched text is text. */
static enum MHD_Result give(struct exchange *x, const struct rule *r, long index,
			    const struct answer *a, bool otherwise, const char *text, size_t len)
{
	bool silent = a->kind == ANSWER_HANG || a->kind == ANSWER_CLOSE;
	log_request(x, silent ? 0 : a->status, index, otherwise);
	long ms = a->latency_ms >= 0 ? a->latency_ms : r->latency_ms;
	if (ms > 0 && wait_for(x->stub, x->conn, ms) < 0)
		return MHD_NO;
	switch (a->kind) {
	case ANSWER_HANG:
		wait_for(x->stub, x->conn, -1);
		return MHD_NO;
	case ANSWER_CLOSE:
		return MHD_NO;
	case ANSWER_STATUS:
	case ANSWER_RAW:
		return send_static(x, a->status, a->text, a->content_type, a->retry_after);
	case ANSWER_SIZE:
		return send_padded(x, a);
	case ANSWER_ECHO:
		return send_owned(x, a->status, completion(x, a, text, len), "application/json",
				  NULL);
	case ANSWER_TEXT:
	case ANSWER_TOOL_CALLS:
		break;
	}
	size_t clen = a->text ? strlen(a->text) : 0;
	return send_owned(x, a->status, completion(x, a, a->text, clen), "application/json", NULL);
}

/* Answer a chat request whose whole body has arrived. */
static enum MHD_Result serve_post(struct exchange *x, const char *body, size_t body_len)
{
	const char *end = NULL;
	cJSON *json = cJSON_ParseWithLengthOpts(body, body_len, &end, 0);
	if (json && end && strspn(end, " \t\r\n") != body_len - (size_t)(end - body)) {
		cJSON_Delete(json);
		json = NULL;
	}
	if (!json) {
		x->body = body;
		return send_error(x, 400, "request body is not JSON");
	}
	x->json = json;
	size_t len;
	char *text = match_text(x, body, body_len, &len);
	long index = -1;
	bool otherwise = false;
	const struct answer *a = choose(x->stub, text, len, &index, &otherwise);
	enum MHD_Result rc;
	if (a)
		rc = give(x, &x->stub->script->rules[index], index, a, otherwise, text, len);
	else
		rc = send_error(x, 404, "no stub rule matches");
	free(text);
	cJSON_Delete(json);
	return rc;
}

/* MHD's handler, called for the headers, each chunk of the body, and once
 * more when the body is complete: only then is the request answered. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	struct request *r = *state;
	struct exchange x = {.stub = cls, .conn = conn, .method = method, .path = url};
	if (!r) {
		r = xcalloc(1, sizeof(*r));
		buf_init(&r->body, STUB_MAX_BODY);
		*state = r;
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtod(cl, NULL) > (double)STUB_MAX_BODY)
			return send_error(&x, 413, "request body is larger than 8 MiB");
		return MHD_YES;
	}
	if (*upload_len) {
		if (!r->too_large && buf_add(&r->body, upload, *upload_len) < 0) {
			r->too_large = true;
			buf_release(&r->body);
		}
		if (r->too_large) {
			r->dropped += *upload_len;
			if (r->dropped > 4 * STUB_MAX_BODY)
				return MHD_NO; /* a chunked body without end */
		}
		*upload_len = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return send_error(&x, 413, "request body is larger than 8 MiB");
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0) {
		if (strcmp(url, "/healthz") != 0)
			return send_error(&x, 404, "not found: POST a chat completion");
		log_request(&x, 200, -1, false);
		return send_static(&x, 200, "ok", "text/plain", NULL);
	}
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
		return send_error(&x, 405, "method not allowed: POST a chat completion");
	x.body_len = r->body.len;
	return serve_post(&x, r->body.data ? r->body.data : "", r->body.len);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *r = *state;
	if (!r)
		return;
	buf_release(&r->body);
	free(r);
	*state = NULL;
}

static int listen_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (!info || getsockname(info->listen_fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

struct stub *stub_start(struct stub_script *script, const struct stub_options *o, char **err)
{
	const char *host = o && o->host ? o->host : "127.0.0.1";
	int port = o ? o->port : 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct stub *s = NULL;
	bool ok = false;
	char service[16];

	if (port < 0 || port > 65535) {
		*err = xasprintf("bad port %d", port);
		goto out;
	}
	snprintf(service, sizeof(service), "%d", port);
	int rc = getaddrinfo(host, service, &hints, &ai);
	if (rc != 0) {
		*err = xasprintf("cannot resolve '%s': %s", host, gai_strerror(rc));
		ai = NULL;
		goto out;
	}
	s = xcalloc(1, sizeof(*s));
	s->script = script;
	s->used = xcalloc(script->nrules ? script->nrules : 1, sizeof(*s->used));
	s->rng = seed_state(o ? o->seed : 0);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->log_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (o && o->log_path) {
		s->log = fopen(o->log_path, "a");
		if (!s->log) {
			*err = xasprintf("cannot open '%s': %s", o->log_path, strerror(errno));
			goto out;
		}
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	s->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
				     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
				     MHD_OPTION_END);
	if (!s->daemon) {
		*err = errno ? xasprintf("cannot listen on %s:%d: %s", host, port, strerror(errno))
			     : xasprintf("cannot listen on %s:%d", host, port);
		goto out;
	}
	s->port = listen_port(s->daemon);
	ok = true;
out:
	if (ai)
		freeaddrinfo(ai);
	if (!ok) {
		if (s)
			stub_stop(s); /* frees the script too */
		else
			stub_script_free(script);
		s = NULL;
	}
	return s;
}

int stub_port(const struct stub *s)
{
	return s->port;
}

long stub_requests(const struct stub *s)
{
	return atomic_load(&s->requests);
}

void stub_stop(struct stub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->log)
		fclose(s->log);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->log_lock);
	free(s->used);
	stub_script_free(s->script);
	free(s);
}
