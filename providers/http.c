/* providers/http.c: api http, a custom agent API described by the suite: a
 * body template and JSON pointers into the reply. */
#include "provider.h"

#include <stdlib.h>
#include <string.h>

#include "jsonptr.h"
#include "suite/suite.h"
#include "util.h"

/* http_build: the target's body template (or {"input", "messages"}) rendered
 * for the case. */
static char *http_build(const struct target *t, const struct suite_case *c,
			const struct tmpl_ctx *ctx, char **err)
{
	cJSON *fallback = NULL, *body;
	char *text;

	if (!t->body) {
		fallback = cJSON_CreateObject();
		cJSON_AddStringToObject(fallback, "input", "${input}");
		cJSON_AddStringToObject(fallback, "messages", "${messages}");
	}
	body = template_render_json(t->body ? t->body : fallback, ctx, err);
	cJSON_Delete(fallback);
	if (!body)
		return NULL;
	text = provider_json_text(body);
	cJSON_Delete(body);
	return text;
}

static bool http_plain_text(const struct target *t)
{
	return (!t->reply_content || !t->reply_content[0]) &&
	       (!t->reply_tool_calls || !t->reply_tool_calls[0]);
}

/* http_tool_call: one element of the tool calls array, in the OpenAI
 * ({function: {name, arguments}}), Anthropic ({name, input}) or plain
 * ({name, arguments}) shape. */
static int http_tool_call(const cJSON *call, size_t i, const char *where, struct reply *r,
			  char **err)
{
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(call, "id");
	const cJSON *holder = cJSON_IsObject(fn) ? fn : call;
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(holder, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(holder, "arguments");

	if (!args)
		args = cJSON_GetObjectItemCaseSensitive(holder, "input");
	if (!cJSON_IsString(name)) {
		*err = xasprintf("reply tool call %zu at %s has no name", i, where);
		return -1;
	}
	reply_add_tool_call(r, cJSON_IsString(id) ? id->valuestring : NULL, name->valuestring,
			    args);
	return 0;
}

/* http_parse: content at reply_content (the whole body for a plain-text
 * agent) and tool calls at reply_tool_calls. */
static int http_parse(const struct target *t, struct reply *r, char **err)
{
	const char *where = t->reply_content ? t->reply_content : "";
	const cJSON *v, *call;
	size_t i = 0;

	if (!r->json) {
		r->content = xstrndup(r->raw ? r->raw : "", r->raw ? r->raw_len : 0);
		r->content_len = r->raw ? r->raw_len : 0;
		return 0;
	}
	v = jsonptr_get(r->json, where);
	if (!v) {
		const cJSON *error = cJSON_GetObjectItemCaseSensitive(r->json, "error");

		if (error && !cJSON_IsNull(error)) {
			char *why = provider_api_error(r);

			*err = xasprintf("reply has nothing at %s (%s)", where, why);
			free(why);
		} else {
			*err = xasprintf("reply has nothing at %s", where);
		}
		return -1;
	}
	if (cJSON_IsString(v))
		r->content = xstrdup(v->valuestring);
	else if (cJSON_IsNull(v))
		r->content = xstrdup("");
	else
		r->content = provider_json_text(v);

	if (!t->reply_tool_calls || !t->reply_tool_calls[0])
		return 0;
	v = jsonptr_get(r->json, t->reply_tool_calls);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsArray(v)) {
		*err = xasprintf("reply has no array at %s", t->reply_tool_calls);
		return -1;
	}
	cJSON_ArrayForEach(call, v) {
		if (http_tool_call(call, i++, t->reply_tool_calls, r, err) < 0)
			return -1;
	}
	return 0;
}

static const char *const http_headers[] = {NULL};

const struct provider provider_http = {
	.name = "http",
	.headers = http_headers,
	.build = http_build,
	.parse = http_parse,
	.api_error = provider_api_error,
	.plain_text = http_plain_text,
};
