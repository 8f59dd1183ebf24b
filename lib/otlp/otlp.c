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

/* Attributes: {"key": k, "value": {"<type>Value": v}}. */

static cJSON *attr(cJSON *attrs, const char *key)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "key", key);
	cJSON_AddItemToArray(attrs, a);
	return cJSON_AddObjectToObject(a, "value");
}

/* attr_str: a string attribute, invalid UTF-8 replaced; none for NULL. */
static void attr_str(cJSON *attrs, const char *key, const char *v)
{
	if (!v)
		return;
	char *clean = report_clean(v, SIZE_MAX);
	cJSON_AddStringToObject(attr(attrs, key), "stringValue", clean);
	free(clean);
}

/* attr_int: an int64 attribute, which the JSON mapping writes as a string. */
static void attr_int(cJSON *attrs, const char *key, long long v)
{
	char text[24];
	snprintf(text, sizeof(text), "%lld", v);
	cJSON_AddStringToObject(attr(attrs, key), "intValue", text);
}

static void attr_double(cJSON *attrs, const char *key, double v)
{
	cJSON_AddNumberToObject(attr(attrs, key), "doubleValue", isfinite(v) ? v : 0);
}

/* add_nanos: Unix ms as the JSON mapping's nanoseconds, a decimal string
 * (whole milliseconds apart: a double holds no 19-digit integer exactly). */
static void add_nanos(cJSON *o, const char *key, double ms)
{
	char text[24];
	double whole = ms > 0 ? floor(ms) : 0;
	long long ns = (long long)whole * 1000000 + llround(ms > 0 ? (ms - whole) * 1e6 : 0);
	snprintf(text, sizeof(text), "%lld", ns);
	cJSON_AddStringToObject(o, key, text);
}

static bool pair_set(const struct otlp_config *c, const char *key)
{
	for (size_t i = 0; i < c->nresource; i++)
		if (strcmp(c->resource[i].key, key) == 0)
			return true;
	return false;
}

/* envelope: {"resource<S>": [{"resource": ..., "scope<S>": [{"scope": ...,
 * key: []}]}]}, and that innermost array in *items. */
static cJSON *envelope(const struct otlp_batches *b, const char *outer, const char *scoped,
		       const char *key, cJSON **items)
{
	static const char *const defaults[] = {"service.name", "service.version", "canary.suite"};
	const char *values[] = {"canary", CANARY_VERSION, b->r->suite};
	cJSON *root = cJSON_CreateObject();
	cJSON *res = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, outer), res);
	cJSON *attrs = cJSON_AddArrayToObject(cJSON_AddObjectToObject(res, "resource"),
					      "attributes");
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		if (!pair_set(b->c, defaults[i]))
			attr_str(attrs, defaults[i], values[i]);
	for (size_t i = 0; i < b->c->nresource; i++)
		attr_str(attrs, b->c->resource[i].key, b->c->resource[i].value);
	cJSON *scope = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(res, scoped), scope);
	cJSON *s = cJSON_AddObjectToObject(scope, "scope");
	cJSON_AddStringToObject(s, "name", "canary");
	cJSON_AddStringToObject(s, "version", CANARY_VERSION);
	*items = cJSON_AddArrayToObject(scope, key);
	return root;
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
static void add_server(cJSON *attrs, const char *url)
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

static void add_run_span(const struct otlp_batches *b, cJSON *spans)
{
	const struct report *r = b->r;
	char id[17];
	cJSON *s = cJSON_CreateObject();
	cJSON_AddItemToArray(spans, s);
	span_id(b, 0, id);
	cJSON_AddStringToObject(s, "traceId", b->trace_id);
	cJSON_AddStringToObject(s, "spanId", id);
	char *name = xasprintf("canary run %s", r->suite ? r->suite : "");
	cJSON_AddStringToObject(s, "name", name);
	free(name);
	cJSON_AddNumberToObject(s, "kind", SPAN_KIND_INTERNAL);
	add_nanos(s, "startTimeUnixNano", (double)r->started_ms);
	add_nanos(s, "endTimeUnixNano", (double)r->started_ms + r->duration_ms);
	cJSON *attrs = cJSON_AddArrayToObject(s, "attributes");
	attr_str(attrs, "canary.suite", r->suite);
	attr_str(attrs, "canary.verdict", verdict_name(r->verdict));
	attr_int(attrs, "canary.exit_code", r->exit_code);
	attr_int(attrs, "canary.requests", r->requests);
	attr_int(attrs, "canary.retries", r->retries);
	if (r->interrupted)
		cJSON_AddBoolToObject(attr(attrs, "canary.interrupted"), "boolValue", true);
	if (r->exit_code != 0) {
		cJSON *st = cJSON_AddObjectToObject(s, "status");
		cJSON_AddStringToObject(st, "message", verdict_name(r->verdict));
		cJSON_AddNumberToObject(st, "code", STATUS_CODE_ERROR);
	}
}

static void add_sample_span(const struct otlp_batches *b, cJSON *spans,
			    const struct report_case *rc, enum side side,
			    const struct report_sample *smp, uint64_t ordinal)
{
	const struct report *r = b->r;
	const struct report_target *t = &r->targets[side];
	const struct otlp_api *api = api_find(t->api);
	const char *op = api ? api->operation : "chat";
	char id[17], parent[17];
	cJSON *s = cJSON_CreateObject();
	cJSON_AddItemToArray(spans, s);
	span_id(b, ordinal, id);
	span_id(b, 0, parent);
	cJSON_AddStringToObject(s, "traceId", b->trace_id);
	cJSON_AddStringToObject(s, "spanId", id);
	cJSON_AddStringToObject(s, "parentSpanId", parent);
	char *name = t->model ? xasprintf("%s %s", op, t->model) : xstrdup(op);
	char *clean = report_clean(name, SIZE_MAX);
	cJSON_AddStringToObject(s, "name", clean);
	free(clean);
	free(name);
	cJSON_AddNumberToObject(s, "kind", SPAN_KIND_CLIENT);
	double start = sample_start(r, smp);
	add_nanos(s, "startTimeUnixNano", start);
	add_nanos(s, "endTimeUnixNano", start + smp->latency_ms);
	cJSON *attrs = cJSON_AddArrayToObject(s, "attributes");
	attr_str(attrs, "gen_ai.operation.name", op);
	attr_str(attrs, "gen_ai.provider.name", api ? api->provider : NULL);
	attr_str(attrs, "gen_ai.request.model", t->model);
	attr_str(attrs, "gen_ai.response.model", smp->response_model);
	attr_str(attrs, "gen_ai.response.id", smp->response_id);
	if (smp->usage.input >= 0)
		attr_int(attrs, "gen_ai.usage.input_tokens", smp->usage.input);
	if (smp->usage.output >= 0)
		attr_int(attrs, "gen_ai.usage.output_tokens", smp->usage.output);
	add_server(attrs, t->url);
	if (smp->status)
		attr_int(attrs, "http.response.status_code", smp->status);
	attr_str(attrs, "canary.target", side_name(side));
	attr_str(attrs, "canary.case.id", rc->id);
	attr_str(attrs, "canary.stratum", r->strata[rc->stratum].name);
	attr_int(attrs, "canary.sample.index", smp->index);
	attr_str(attrs, "canary.sample.grade", grade_name(smp->grade));
	attr_int(attrs, "canary.attempts", smp->attempts);
	if (request_failed(smp)) {
		char type[16];
		error_type(smp, type);
		attr_str(attrs, "error.type", type);
		cJSON *st = cJSON_AddObjectToObject(s, "status");
		if (smp->nreasons) {
			char *why = report_clean(smp->reasons[0], SIZE_MAX);
			cJSON_AddStringToObject(st, "message", why);
			free(why);
		}
		cJSON_AddNumberToObject(st, "code", STATUS_CODE_ERROR);
	}
}

static void add_evaluation(const struct otlp_batches *b, cJSON *records,
			   const struct report_case *rc, enum side side,
			   const struct report_sample *smp, const struct report_grade *g,
			   uint64_t ordinal)
{
	char id[17];
	cJSON *l = cJSON_CreateObject();
	cJSON_AddItemToArray(records, l);
	double end = sample_start(b->r, smp) + smp->latency_ms;
	add_nanos(l, "timeUnixNano", end);
	add_nanos(l, "observedTimeUnixNano", end);
	cJSON_AddNumberToObject(l, "severityNumber", SEVERITY_INFO);
	cJSON_AddStringToObject(l, "severityText", "INFO");
	cJSON_AddStringToObject(l, "eventName", "gen_ai.evaluation.result");
	span_id(b, ordinal, id);
	cJSON_AddStringToObject(l, "traceId", b->trace_id);
	cJSON_AddStringToObject(l, "spanId", id);
	cJSON *attrs = cJSON_AddArrayToObject(l, "attributes");
	attr_str(attrs, "gen_ai.evaluation.name", g->grader);
	attr_double(attrs, "gen_ai.evaluation.score.value", g->score);
	if (g->grade != GRADE_ERROR)
		attr_str(attrs, "gen_ai.evaluation.score.label", grade_name(g->grade));
	else
		attr_str(attrs, "error.type", "_OTHER");
	attr_str(attrs, "gen_ai.evaluation.explanation", g->reason);
	attr_str(attrs, "gen_ai.response.id", smp->response_id);
	attr_str(attrs, "canary.target", side_name(side));
	attr_str(attrs, "canary.case.id", rc->id);
}

/* traces_batch: the next traces request, or NULL when every span went. */
static cJSON *traces_batch(struct otlp_batches *b, size_t *items)
{
	const struct report_case *rc = NULL;
	const struct report_sample *smp;
	cJSON *spans, *root = envelope(b, "resourceSpans", "scopeSpans", "spans", &spans);
	if (!b->run_sent) {
		add_run_span(b, spans);
		b->run_sent = true;
		(*items)++;
	}
	while (*items < b->batch && (smp = cursor_at(b->r, &b->spans, &rc))) {
		add_sample_span(b, spans, rc, (enum side)b->spans.side, smp, b->spans.ordinal);
		cursor_next(&b->spans);
		(*items)++;
	}
	if (*items)
		return root;
	cJSON_Delete(root);
	return NULL;
}

/* logs_batch: the next logs request, or NULL when every record went. */
static cJSON *logs_batch(struct otlp_batches *b, size_t *items)
{
	const struct report_case *rc = NULL;
	const struct report_sample *smp;
	cJSON *records, *root = envelope(b, "resourceLogs", "scopeLogs", "logRecords", &records);
	while (*items < b->batch && (smp = cursor_at(b->r, &b->logs, &rc))) {
		if (b->logs.g >= smp->ngrades) {
			cursor_next(&b->logs);
			continue;
		}
		add_evaluation(b, records, rc, (enum side)b->logs.side, smp,
			       &smp->grades[b->logs.g++], b->logs.ordinal);
		(*items)++;
	}
	if (*items)
		return root;
	cJSON_Delete(root);
	return NULL;
}

char *otlp_batches_next(struct otlp_batches *b, const char **signal, size_t *items)
{
	*items = 0;
	cJSON *root = traces_batch(b, items);
	*signal = "traces";
	if (!root) {
		root = logs_batch(b, items);
		*signal = "logs";
	}
	if (!root)
		return NULL;
	char *text = cJSON_PrintUnformatted(root);
	char *out = xstrdup(text);
	cJSON_free(text);
	cJSON_Delete(root);
	return out;
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
