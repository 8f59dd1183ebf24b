/* provider.h: the agent APIs canary speaks, as a table of implementations.
 *
 * A provider builds a request body for one case and extracts the content and
 * tool calls from a reply.  openai-chat, anthropic-messages and http (a body
 * template with JSON pointers into the reply) are in provider_table[].
 *
 * Ownership: build() returns a body the caller frees; parse() fills the
 * reply's content and tool calls, which the reply owns and
 * reply_release() frees together with raw and json.
 */
#ifndef CANARY_PROVIDER_H
#define CANARY_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "template.h"

struct target;
struct suite_case;

struct tool_call {
	char *id;            /* NULL when the API gives none */
	char *name;
	char *arguments_raw; /* the arguments as sent (JSON text) */
	cJSON *arguments;    /* parsed, or NULL when arguments_raw is not JSON */
};

struct reply {
	long status;           /* HTTP status */
	char *raw;             /* the response body, NUL-terminated */
	size_t raw_len;
	cJSON *json;           /* raw parsed as JSON, or NULL */
	char *content;         /* the text answer ("" when there is none) */
	struct tool_call *tool_calls;
	size_t ntool_calls;
	char *fingerprint;     /* NULL when not configured or absent */
	double latency_ms;
};

void reply_release(struct reply *r);

struct provider {
	const char *name;      /* the suite's api: value */
	/* headers: fixed headers the API needs ("anthropic-version: ..."), NULL-terminated. */
	const char *const *headers;
	/* build: the JSON body for case c on target t (http: the rendered body
	 * template); NULL and *err on failure. */
	char *(*build)(const struct target *t, const struct suite_case *c,
		       const struct tmpl_ctx *ctx, char **err);
	/* parse: fill r->content and r->tool_calls from r->json / r->raw of a 2xx
	 * reply; -1 and *err (a reason for an error sample) when the reply does
	 * not have the API's shape. */
	int (*parse)(const struct target *t, struct reply *r, char **err);
	/* api_error: a readable reason for a non-2xx reply ("429 rate_limit_error:
	 * slow down"); never NULL. */
	char *(*api_error)(const struct reply *r);
};

extern const struct provider *const provider_table[];

const struct provider *provider_find(const char *name);

/* provider_parse_reply: parse raw into r->json (when JSON) and, for a 2xx,
 * let t's provider extract content and tool calls.  -1 and *err when the
 * reply cannot be used (not JSON, wrong shape, non-2xx: the API's reason). */
int provider_parse_reply(const struct target *t, struct reply *r, char **err);

/* provider_quota_exhausted: whether a 429 body says the quota is used up
 * (and so retrying cannot help). */
bool provider_quota_exhausted(const char *body, size_t len);

#endif
