/* otlp/otlp.c: the report as OTLP/HTTP JSON traces and logs, batched and
 * sent on the transport. */
#include "otlp/otlp.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cjson/cJSON.h>

#include "report/report.h"
#include "side.h"
#include "transport/transport.h"
#include "util.h"
#include "version.h"

/* Span kinds, status codes and severities of the OTLP protos. */
enum {
	SPAN_KIND_INTERNAL = 1,
	SPAN_KIND_CLIENT = 3,
	STATUS_CODE_ERROR = 2,
	SEVERITY_INFO = 9,
};

#define OTLP_TIMEOUT_MS 10000
#define OTLP_REPLY_MAX ((size_t)1 << 20)
#define OTLP_MESSAGE_MAX 200

/* What the GenAI conventions call an API's operation and provider. */
struct otlp_api {
	const char *api;
	const char *operation;
	const char *provider;  /* NULL: none the conventions name */
};

static const struct otlp_api otlp_apis[] = {
	{"openai-chat", "chat", "openai"},
	{"openai-responses", "chat", "openai"},
	{"anthropic-messages", "chat", "anthropic"},
	{"http", "invoke_agent", NULL},
};

static const struct otlp_api *api_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(otlp_apis); i++)
		if (strcmp(otlp_apis[i].api, name) == 0)
			return &otlp_apis[i];
	return NULL;
}

/*
 * Configuration.
 */

static char *trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return xstrndup(s, len);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* percent_decode: s decoded in place; -1 on a bad escape or a NUL byte. */
static int percent_decode(char *s)
{
	char *out = s;
	for (char *p = s; *p; p++) {
		if (*p != '%') {
			*out++ = *p;
			continue;
		}
		int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
		if (lo < 0 || (hi == 0 && lo == 0))
			return -1;
		*out++ = (char)(hi * 16 + lo);
		p += 2;
	}
	*out = '\0';
	return 0;
}

int otlp_parse_pairs(const char *text, const char *what, struct otlp_pair **pairs, size_t *n,
		     char **err)
{
	size_t index = 0;
	for (const char *p = text; *p; index++) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		char *key = eq ? trimmed(p, (size_t)(eq - p)) : NULL;
		char *value = eq ? trimmed(eq + 1, len - (size_t)(eq - p) - 1) : NULL;
		const char *fault = !eq ? "has no '='"
				    : !*key ? "has an empty key"
				    : percent_decode(value) < 0 ? "has a bad percent escape in its value"
				    : strpbrk(value, "\r\n") ? "has a line break in its value"
							     : NULL;
		if (fault) {
			*err = xasprintf("%s: member %zu %s", what, index + 1, fault);
			free(key);
			free(value);
			return -1;
		}
		*pairs = xreallocarray(*pairs, *n + 1, sizeof(**pairs));
		(*pairs)[(*n)++] = (struct otlp_pair){key, value};
		p += len + (end != NULL);
	}
	return 0;
}

char *otlp_signal_url(const char *endpoint, const char *signal)
{
	size_t len = strcspn(endpoint, "?#");
	bool slash = len && endpoint[len - 1] == '/';
	return xasprintf("%.*s%sv1/%s%s", (int)len, endpoint, slash ? "" : "/", signal,
			 endpoint + len);
}

static void pairs_free(struct otlp_pair *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].key);
		free(p[i].value);
	}
	free(p);
}

void otlp_config_release(struct otlp_config *c)
{
	free(c->endpoint);
	pairs_free(c->headers, c->nheaders);
	pairs_free(c->resource, c->nresource);
	memset(c, 0, sizeof(*c));
}

/*
 * Building requests.
 */

/* Where an export is in the report: a sample, and a grade of it. */
struct cursor {
	size_t ci;
	int side;
	size_t k;
	unsigned g;
	uint64_t ordinal;       /* the sample's number, from 1 (0: the run) */
};

struct otlp_batches {
	const struct report *r;
	const struct otlp_config *c;
	size_t batch;
	uint64_t seed;          /* span ids derive from it and an ordinal */
	char trace_id[33];
	bool run_sent;
	struct cursor spans;
	struct cursor logs;
};

/* cursor_at: the sample at c, or the next one there is; NULL at the end. */
static const struct report_sample *cursor_at(const struct report *r, struct cursor *c,
					     const struct report_case **rc)
{
	while (c->ci < r->ncases) {
		*rc = &r->cases[c->ci];
		if (!(*rc)->skipped && c->side < SIDE__COUNT) {
			const struct report_side *s = &(*rc)->side[c->side];
			if (c->k < s->nsamples)
				return &s->samples[c->k];
			c->side++;
			c->k = 0;
			continue;
		}
		c->ci++;
		c->side = 0;
		c->k = 0;
	}
	return NULL;
}

static void cursor_next(struct cursor *c)
{
	c->k++;
	c->g = 0;
	c->ordinal++;
}

/* span_id: the hex id of span ordinal (a SplitMix64 output: distinct for
 * distinct ordinals, never zero). */
static void span_id(const struct otlp_batches *b, uint64_t ordinal, char out[17])
{
	uint64_t z = b->seed + (ordinal + 1) * 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	snprintf(out, 17, "%016llx", (unsigned long long)(z ? z : 1));
}

static void random_bytes(unsigned char *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = getrandom(p + got, n - got, 0);
		if (k <= 0) {
			/* No entropy source: ids need only be unique, not secret. */
			uint64_t t = (uint64_t)util_wall_ms() ^ ((uint64_t)(uintptr_t)p << 16);
			for (; got < n; got++, t = t * 6364136223846793005ull + 1)
				p[got] = (unsigned char)(t >> 56);
			return;
		}
		got += (size_t)k;
	}
}

struct otlp_batches *otlp_batches_new(const struct report *r, const struct otlp_config *c)
{
	struct otlp_batches *b = xcalloc(1, sizeof(*b));
	unsigned char bytes[24];
	random_bytes(bytes, sizeof(bytes));
	b->r = r;
	b->c = c;
	b->batch = c->batch ? c->batch : OTLP_BATCH_MAX;
	memcpy(&b->seed, bytes + 16, sizeof(b->seed));
	bytes[0] |= 1; /* an all-zero trace id is invalid */
	for (size_t i = 0; i < 16; i++)
		snprintf(b->trace_id + 2 * i, 3, "%02x", bytes[i]);
	b->spans.ordinal = b->logs.ordinal = 1;
	return b;
}

void otlp_batches_free(struct otlp_batches *b)
{
	free(b);
}

/* JSON text written as it goes: a request body is never held as a tree. */
#define JW_DEPTH 16

struct jw {
	struct buf b;
	int depth;
	bool any[JW_DEPTH];     /* the open container has a member already */
};

/* jw_string: s quoted, invalid UTF-8 replaced, '"', '\\' and controls
 * escaped. */
static void jw_string(struct jw *w, const char *s)
{
	char *clean = report_clean(s, SIZE_MAX);
	buf_addch(&w->b, '"');
	for (const unsigned char *p = (const unsigned char *)clean; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_addf(&w->b, "\\%c", *p);
		else if (*p < 0x20)
			buf_addf(&w->b, "\\u%04x", *p);
		else
			buf_addch(&w->b, (char)*p);
	}
	buf_addch(&w->b, '"');
	free(clean);
}

/* jw_key: the separator before a member or element, and its key (NULL in
 * an array). */
static void jw_key(struct jw *w, const char *key)
{
	if (w->any[w->depth])
		buf_addch(&w->b, ',');
	w->any[w->depth] = true;
	if (key) {
		jw_string(w, key);
		buf_addch(&w->b, ':');
	}
}

/* jw_open: a container; the nesting of OTLP requests is fixed and below
 * JW_DEPTH. */
static void jw_open(struct jw *w, const char *key, char c)
{
	jw_key(w, key);
	buf_addch(&w->b, c);
	w->any[++w->depth] = false;
}

static void jw_object(struct jw *w, const char *key)
{
	jw_open(w, key, '{');
}

static void jw_array(struct jw *w, const char *key)
{
	jw_open(w, key, '[');
}

/* jw_end: close the container open, c being '}' or ']'. */
static void jw_end(struct jw *w, char c)
{
	buf_addch(&w->b, c);
	w->depth--;
}

static void jw_str(struct jw *w, const char *key, const char *v)
{
	jw_key(w, key);
	jw_string(w, v);
}

/* jw_num: a number to 15 significant digits, which JSON needs finite (0
 * otherwise). */
static void jw_num(struct jw *w, const char *key, double v)
{
	jw_key(w, key);
	buf_addf(&w->b, "%.15g", isfinite(v) ? v : 0);
}

/* Attributes: {"key": k, "value": {"<type>Value": v}}. */

static void attr_open(struct jw *w, const char *key)
{
	jw_object(w, NULL);
	jw_str(w, "key", key);
	jw_object(w, "value");
}

static void attr_close(struct jw *w)
{
	jw_end(w, '}');
	jw_end(w, '}');
}

/* attr_str: a string attribute, invalid UTF-8 replaced; none for NULL. */
static void attr_str(struct jw *w, const char *key, const char *v)
{
	if (!v)
		return;
	attr_open(w, key);
	jw_str(w, "stringValue", v);
	attr_close(w);
}

/* attr_int: an int64 attribute, which the JSON mapping writes as a string. */
static void attr_int(struct jw *w, const char *key, long long v)
{
	char text[24];
	snprintf(text, sizeof(text), "%lld", v);
	attr_open(w, key);
	jw_str(w, "intValue", text);
	attr_close(w);
}

static void attr_double(struct jw *w, const char *key, double v)
{
	attr_open(w, key);
	jw_num(w, "doubleValue", v);
	attr_close(w);
}

static void attr_bool(struct jw *w, const char *key, bool v)
{
	attr_open(w, key);
	jw_key(w, "boolValue");
	buf_addstr(&w->b, v ? "true" : "false");
	attr_close(w);
}

/* add_nanos: Unix ms as the JSON mapping's nanoseconds, a decimal string
 * (whole milliseconds apart: a double holds no 19-digit integer exactly). */
static void add_nanos(struct jw *w, const char *key, double ms)
{
	char text[24];
	double whole = ms > 0 ? floor(ms) : 0;
	long long ns = (long long)whole * 1000000 + llround(ms > 0 ? (ms - whole) * 1e6 : 0);
	snprintf(text, sizeof(text), "%lld", ns);
	jw_str(w, key, text);
}

static bool pair_set(const struct otlp_config *c, const char *key)
{
	for (size_t i = 0; i < c->nresource; i++)
		if (strcmp(c->resource[i].key, key) == 0)
			return true;
	return false;
}

/* envelope: {"resource<S>": [{"resource": ..., "scope<S>": [{"scope": ...,
 * key: [ opened in w, to be filled with items. */
static void envelope(const struct otlp_batches *b, struct jw *w, const char *outer,
		     const char *scoped, const char *key)
{
	static const char *const defaults[] = {"service.name", "service.version", "canary.suite"};
	const char *values[] = {"canary", CANARY_VERSION, b->r->suite};
	jw_object(w, NULL);
	jw_array(w, outer);
	jw_object(w, NULL);
	jw_object(w, "resource");
	jw_array(w, "attributes");
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		if (!pair_set(b->c, defaults[i]))
			attr_str(w, defaults[i], values[i]);
	for (size_t i = 0; i < b->c->nresource; i++)
		attr_str(w, b->c->resource[i].key, b->c->resource[i].value);
	jw_end(w, ']');
	jw_end(w, '}');
	jw_array(w, scoped);
	jw_object(w, NULL);
	jw_object(w, "scope");
	jw_str(w, "name", "canary");
	jw_str(w, "version", CANARY_VERSION);
	jw_end(w, '}');
	jw_array(w, key);
}

/* envelope_end: close what envelope() opened; the body, or NULL (and w
 * released) when it holds no item. */
static char *envelope_end(struct jw *w, size_t items)
{
	static const char closing[] = "]}]}]}";
	if (!items) {
		buf_release(&w->b);
		return NULL;
	}
	for (const char *c = closing; *c; c++)
		jw_end(w, *c);
	return buf_detach(&w->b, NULL);
}

/* sample_start: when a sample's request started (the run's start when the
 * report does not say). */
static double sample_start(const struct report *r, const struct report_sample *s)
{
	return s->start_ms > 0 ? s->start_ms : (double)r->started_ms;
}

/* request_failed: the sample is an error because no usable reply came (no
 * grader ran), rather than because a grader could not decide. */
static bool request_failed(const struct report_sample *s)
{
	return s->grade == GRADE_ERROR && s->ngrades == 0;
}

/* error_type: the low-cardinality error.type of a failed request. */
static void error_type(const struct report_sample *s, char out[16])
{
	const char *why = s->nreasons ? s->reasons[0] : "";
	if (s->status >= 100)
		snprintf(out, 16, "%d", s->status);
	else
		snprintf(out, 16, "%s", strstr(why, "timed out") ? "timeout" : "_OTHER");
}

/* add_server: server.address and server.port of a URL shown without
 * credentials; nothing for a template such as ${env:PROD_URL}. */
static void add_server(struct jw *attrs, const char *url)
{
	const char *p = url ? strstr(url, "://") : NULL;
	if (!p || strchr(url, '$'))
		return;
	p += 3;
	size_t hostlen = strcspn(p, "/?#");
	const char *end = p + hostlen, *colon = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', hostlen);
		if (!close)
			return;
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
	} else {
		colon = memchr(p, ':', hostlen);
	}
	char *host = xstrndup(p, (size_t)((colon ? colon : end) - p));
	attr_str(attrs, "server.address", host);
	free(host);
	if (colon)
		attr_int(attrs, "server.port", strtol(colon + 1, NULL, 10));
	else
		attr_int(attrs, "server.port", strncmp(url, "https", 5) == 0 ? 443 : 80);
}

static void add_run_span(const struct otlp_batches *b, struct jw *w)
{
	const struct report *r = b->r;
	char id[17];
	jw_object(w, NULL);
	span_id(b, 0, id);
	jw_str(w, "traceId", b->trace_id);
	jw_str(w, "spanId", id);
	char *name = xasprintf("canary run %s", r->suite ? r->suite : "");
	jw_str(w, "name", name);
	free(name);
	jw_num(w, "kind", SPAN_KIND_INTERNAL);
	add_nanos(w, "startTimeUnixNano", (double)r->started_ms);
	add_nanos(w, "endTimeUnixNano", (double)r->started_ms + r->duration_ms);
	jw_array(w, "attributes");
	attr_str(w, "canary.suite", r->suite);
	attr_str(w, "canary.verdict", verdict_name(r->verdict));
	attr_int(w, "canary.exit_code", r->exit_code);
	attr_int(w, "canary.requests", r->requests);
	attr_int(w, "canary.retries", r->retries);
	if (r->interrupted)
		attr_bool(w, "canary.interrupted", true);
	jw_end(w, ']');
	if (r->exit_code != 0) {
		jw_object(w, "status");
		jw_str(w, "message", verdict_name(r->verdict));
		jw_num(w, "code", STATUS_CODE_ERROR);
		jw_end(w, '}');
	}
	jw_end(w, '}');
}

static void add_sample_span(const struct otlp_batches *b, struct jw *w,
			    const struct report_case *rc, enum side side,
			    const struct report_sample *smp, uint64_t ordinal)
{
	const struct report *r = b->r;
	const struct report_target *t = &r->targets[side];
	const struct otlp_api *api = api_find(t->api);
	const char *op = api ? api->operation : "chat";
	char id[17], parent[17];
	jw_object(w, NULL);
	span_id(b, ordinal, id);
	span_id(b, 0, parent);
	jw_str(w, "traceId", b->trace_id);
	jw_str(w, "spanId", id);
	jw_str(w, "parentSpanId", parent);
	char *name = t->model ? xasprintf("%s %s", op, t->model) : xstrdup(op);
	jw_str(w, "name", name);
	free(name);
	jw_num(w, "kind", SPAN_KIND_CLIENT);
	double start = sample_start(r, smp);
	add_nanos(w, "startTimeUnixNano", start);
	add_nanos(w, "endTimeUnixNano", start + smp->latency_ms);
	jw_array(w, "attributes");
	attr_str(w, "gen_ai.operation.name", op);
	attr_str(w, "gen_ai.provider.name", api ? api->provider : NULL);
	attr_str(w, "gen_ai.request.model", t->model);
	attr_str(w, "gen_ai.response.model", smp->response_model);
	attr_str(w, "gen_ai.response.id", smp->response_id);
	if (smp->usage.input >= 0)
		attr_int(w, "gen_ai.usage.input_tokens", smp->usage.input);
	if (smp->usage.output >= 0)
		attr_int(w, "gen_ai.usage.output_tokens", smp->usage.output);
	add_server(w, t->url);
	if (smp->status)
		attr_int(w, "http.response.status_code", smp->status);
	attr_str(w, "canary.target", side_name(side));
	attr_str(w, "canary.case.id", rc->id);
	attr_str(w, "canary.stratum", r->strata[rc->stratum].name);
	attr_int(w, "canary.sample.index", smp->index);
	attr_str(w, "canary.sample.grade", grade_name(smp->grade));
	attr_int(w, "canary.attempts", smp->attempts);
	char type[16];
	if (request_failed(smp)) {
		error_type(smp, type);
		attr_str(w, "error.type", type);
	}
	jw_end(w, ']');
	if (request_failed(smp)) {
		jw_object(w, "status");
		if (smp->nreasons)
			jw_str(w, "message", smp->reasons[0]);
		jw_num(w, "code", STATUS_CODE_ERROR);
		jw_end(w, '}');
	}
	jw_end(w, '}');
}

static void add_evaluation(const struct otlp_batches *b, struct jw *w,
			   const struct report_case *rc, enum side side,
			   const struct report_sample *smp, const struct report_grade *g,
			   uint64_t ordinal)
{
	char id[17];
	jw_object(w, NULL);
	double end = sample_start(b->r, smp) + smp->latency_ms;
	add_nanos(w, "timeUnixNano", end);
	add_nanos(w, "observedTimeUnixNano", end);
	jw_num(w, "severityNumber", SEVERITY_INFO);
	jw_str(w, "severityText", "INFO");
	jw_str(w, "eventName", "gen_ai.evaluation.result");
	span_id(b, ordinal, id);
	jw_str(w, "traceId", b->trace_id);
	jw_str(w, "spanId", id);
	jw_array(w, "attributes");
	attr_str(w, "gen_ai.evaluation.name", g->grader);
	attr_double(w, "gen_ai.evaluation.score.value", g->score);
	if (g->grade != GRADE_ERROR)
		attr_str(w, "gen_ai.evaluation.score.label", grade_name(g->grade));
	else
		attr_str(w, "error.type", "_OTHER");
	attr_str(w, "gen_ai.evaluation.explanation", g->reason);
	attr_str(w, "gen_ai.response.id", smp->response_id);
	attr_str(w, "canary.target", side_name(side));
	attr_str(w, "canary.case.id", rc->id);
	jw_end(w, ']');
	jw_end(w, '}');
}

/* traces_batch: the next traces request, or NULL when every span went. */
static char *traces_batch(struct otlp_batches *b, size_t *items)
{
	const struct report_case *rc = NULL;
	const struct report_sample *smp;
	struct jw w = {.depth = 0};
	buf_init(&w.b, SIZE_MAX);
	envelope(b, &w, "resourceSpans", "scopeSpans", "spans");
	if (!b->run_sent) {
		add_run_span(b, &w);
		b->run_sent = true;
		(*items)++;
	}
	while (*items < b->batch && (smp = cursor_at(b->r, &b->spans, &rc))) {
		add_sample_span(b, &w, rc, (enum side)b->spans.side, smp, b->spans.ordinal);
		cursor_next(&b->spans);
		(*items)++;
	}
	return envelope_end(&w, *items);
}

/* logs_batch: the next logs request, or NULL when every record went. */
static char *logs_batch(struct otlp_batches *b, size_t *items)
{
	const struct report_case *rc = NULL;
	const struct report_sample *smp;
	struct jw w = {.depth = 0};
	buf_init(&w.b, SIZE_MAX);
	envelope(b, &w, "resourceLogs", "scopeLogs", "logRecords");
	while (*items < b->batch && (smp = cursor_at(b->r, &b->logs, &rc))) {
		if (b->logs.g >= smp->ngrades) {
			cursor_next(&b->logs);
			continue;
		}
		add_evaluation(b, &w, rc, (enum side)b->logs.side, smp, &smp->grades[b->logs.g++],
			       b->logs.ordinal);
		(*items)++;
	}
	return envelope_end(&w, *items);
}

char *otlp_batches_next(struct otlp_batches *b, const char **signal, size_t *items)
{
	*items = 0;
	char *body = traces_batch(b, items);
	*signal = "traces";
	if (!body) {
		body = logs_batch(b, items);
		*signal = "logs";
	}
	return body;
}

/*
 * Sending.
 */

struct export {
	struct otlp_batches *batches;
	const struct otlp_config *c;
	struct transport *tr;
	volatile sig_atomic_t *stop;
	char *err;              /* the first failure */
	bool abandoned;         /* a request was not delivered: send no more */
	const char *signal;     /* of the request in flight */
	size_t items;
};

/* fail: keep the first failure of the export. */
static void fail(struct export *x, char *msg)
{
	if (!x->err)
		x->err = msg;
	else
		free(msg);
}

/* rejected: what an OTLP partialSuccess says was rejected, or NULL. */
static char *rejected(const struct http_result *res, const char *signal, size_t items)
{
	cJSON *j = res->body ? cJSON_ParseWithLength(res->body, res->body_len) : NULL;
	const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "partialSuccess");
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(
		ps, strcmp(signal, "traces") == 0 ? "rejectedSpans" : "rejectedLogRecords");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ps, "errorMessage");
	long long count = cJSON_IsNumber(n)   ? (long long)n->valuedouble
			  : cJSON_IsString(n) ? strtoll(n->valuestring, NULL, 10)
					      : 0;
	char *out = NULL;
	if (count > 0) {
		char *why = report_clean(cJSON_IsString(msg) ? msg->valuestring : "",
					 OTLP_MESSAGE_MAX);
		out = xasprintf("%lld of %zu %s rejected%s%s", count, items,
				strcmp(signal, "traces") == 0 ? "spans" : "log records",
				*why ? ": " : "", why);
		free(why);
	}
	cJSON_Delete(j);
	return out;
}

static void submit_next(struct export *x);

static void export_done(struct http_result *res, void *user)
{
	struct export *x = user;
	char *url = otlp_signal_url(x->c->endpoint, x->signal);
	char *shown = transport_display_url(url);
	const char *where = shown ? shown : "the OTLP endpoint";
	x->abandoned = !res->ok || res->status < 200 || res->status > 299;
	if (!res->ok)
		fail(x, xasprintf("%s: %s", where, res->error ? res->error : "request failed"));
	else if (x->abandoned)
		fail(x, xasprintf("HTTP %ld from %s", res->status, where));
	else {
		char *why = rejected(res, x->signal, x->items);
		if (why) {
			fail(x, xasprintf("%s (%s)", why, where));
			free(why);
		}
	}
	free(url);
	free(shown);
	submit_next(x);
}

/* submit_next: the next request of the export, unless it is done,
 * stopped or abandoned. */
static void submit_next(struct export *x)
{
	if ((x->stop && *x->stop) || x->abandoned)
		return;
	char *body = otlp_batches_next(x->batches, &x->signal, &x->items);
	if (!body)
		return;
	struct http_request *req = xcalloc(1, sizeof(*req));
	req->url = otlp_signal_url(x->c->endpoint, x->signal);
	req->body = body;
	req->body_len = strlen(body);
	req->headers = xcalloc(x->c->nheaders + 1, sizeof(*req->headers));
	req->headers[req->nheaders++] = xstrdup("Content-Type: application/json");
	for (size_t i = 0; i < x->c->nheaders; i++)
		req->headers[req->nheaders++] =
			xasprintf("%s: %s", x->c->headers[i].key, x->c->headers[i].value);
	req->timeout_ms = x->c->timeout_ms > 0 ? x->c->timeout_ms : OTLP_TIMEOUT_MS;
	req->pool = POOL_TARGET;
	req->done = export_done;
	req->user = x;
	transport_submit(x->tr, req);
}

int otlp_export(const struct report *r, const struct otlp_config *c,
		const struct transport_options *o, volatile sig_atomic_t *stop, char **err)
{
	struct transport_options to = *o;
	struct export x = {.c = c, .stop = stop};
	char *why = NULL;
	to.concurrency[POOL_TARGET] = 1;
	to.max_reply = OTLP_REPLY_MAX;
	x.tr = transport_new(&to, &why);
	if (!x.tr) {
		*err = why;
		return -1;
	}
	x.batches = otlp_batches_new(r, c);
	submit_next(&x);
	if (transport_run(x.tr, stop, &why) < 0)
		fail(&x, why);
	else if (stop && *stop)
		fail(&x, xstrdup("interrupted"));
	otlp_batches_free(x.batches);
	transport_free(x.tr);
	if (!x.err)
		return 0;
	*err = x.err;
	return -1;
}
