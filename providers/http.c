/* providers/http.c: api http, a custom agent API described by the suite: a
 * body template and JSON pointers into the reply. */
#include "provider.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "jsonptr.h"
#include "suite/suite.h"
#include "util.h"

/* A target's body template and where its reply holds the answer. */
struct http {
	cJSON *body;            /* the body template */
	char *reply_content;    /* JSON pointer to the text ("": the whole reply) */
	char *reply_tool_calls; /* JSON pointer to the tool calls, or NULL */
	/* JSON pointers into each tool call; NULL: read from its shape */
	char *call_name;
	char *call_arguments;
	char *call_id;
	/* JSON pointers to the token counts, in struct usage's order; NULL: none */
	char *usage[5];
};

static const struct provider_option http_usage_options[] = {
	{.name = "input", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, usage[0]), .example = "/usage/input"},
	{.name = "output", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, usage[1]), .example = "/usage/output"},
	{.name = "total", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, usage[2]), .example = "/usage/total"},
	{.name = "cached", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, usage[3]), .example = "/usage/cached"},
	{.name = "reasoning", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, usage[4]), .example = "/usage/reasoning"},
	{.name = NULL},
};

static const struct provider_option http_tool_call_options[] = {
	{.name = "at", .kind = PROVIDER_OPTION_POINTER, .required = true,
	 .offset = offsetof(struct http, reply_tool_calls), .example = "/trace/tool_calls"},
	{.name = "name", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, call_name), .example = "/tool"},
	{.name = "arguments", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, call_arguments), .example = "/args"},
	{.name = "id", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, call_id), .example = "/call_id"},
	{.name = NULL},
};

static const struct provider_option http_reply_options[] = {
	{.name = "content", .kind = PROVIDER_OPTION_POINTER, .required = true,
	 .offset = offsetof(struct http, reply_content), .example = "/reply/text"},
	{.name = "tool_calls", .kind = PROVIDER_OPTION_MAP, .sub = http_tool_call_options,
	 .shorthand = "at"},
	{.name = "usage", .kind = PROVIDER_OPTION_MAP, .sub = http_usage_options},
	{.name = NULL},
};

static const struct provider_option http_options[] = {
	{.name = "body", .kind = PROVIDER_OPTION_TEMPLATE, .offset = offsetof(struct http, body)},
	{.name = "reply", .kind = PROVIDER_OPTION_MAP, .required = true,
	 .sub = http_reply_options},
	{.name = NULL},
};

/* http_load: without a body template, {"input": "${input}", "messages":
 * "${messages}"}. */
static int http_load(void *priv, const struct ynode *n, char **err)
{
	struct http *h = priv;

	if (!h->body) {
		h->body = cJSON_CreateObject();
		cJSON_AddStringToObject(h->body, "input", "${input}");
		cJSON_AddStringToObject(h->body, "messages", "${messages}");
	}
	return 0;
}

/* http_build: the target's body template rendered for the case, ${tools}
 * being its tools as {"name", "description", "parameters"}. */
static char *http_build(const struct target *t, const struct suite_case *c,
			const struct tmpl_ctx *ctx, char **err)
{
	const struct http *h = t->priv;
	struct tmpl_ctx with_tools = *ctx;
	cJSON *tools = suite_tools_json(c, "parameters"), *body;
	char *text = NULL;

	with_tools.tools = tools;
	with_tools.allowed |= TMPL_TOOLS;
	body = template_render_json(h->body, &with_tools, err);
	if (body)
		text = provider_json_text(body);
	cJSON_Delete(body);
	cJSON_Delete(tools);
	return text;
}

static bool http_plain_text(const void *priv)
{
	const struct http *h = priv;

	return !h->reply_content[0] && (!h->reply_tool_calls || !h->reply_tool_calls[0]);
}

/* http_tool_call: one element of the tool calls array: its name,
 * arguments (an object, or a JSON string) and id at the target's pointers
 * into it; those it has none for, from the OpenAI ({function: {name,
 * arguments}}), Anthropic ({name, input}) or plain ({name, arguments})
 * shape. */
static int http_tool_call(const struct http *h, const cJSON *call, size_t i, struct reply *r,
			  char **err)
{
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
	const cJSON *holder = cJSON_IsObject(fn) ? fn : call;
	const cJSON *name, *args, *id;

	name = h->call_name ? jsonptr_get(call, h->call_name)
			    : cJSON_GetObjectItemCaseSensitive(holder, "name");
	id = h->call_id ? jsonptr_get(call, h->call_id) : cJSON_GetObjectItemCaseSensitive(call, "id");
	if (h->call_arguments) {
		args = jsonptr_get(call, h->call_arguments);
	} else {
		args = cJSON_GetObjectItemCaseSensitive(holder, "arguments");
		if (!args)
			args = cJSON_GetObjectItemCaseSensitive(holder, "input");
	}
	if (!cJSON_IsString(name)) {
		*err = xasprintf("reply tool call %zu at %s has no name%s%s", i, h->reply_tool_calls,
				 h->call_name ? " at " : "", h->call_name ? h->call_name : "");
		return -1;
	}
	reply_add_tool_call(r, cJSON_IsString(id) ? id->valuestring : NULL, name->valuestring,
			    args);
	return 0;
}

/* http_usage: the token counts at the target's usage pointers. */
static void http_usage(const struct http *h, struct reply *r)
{
	static const size_t counts[] = {
		offsetof(struct usage, input), offsetof(struct usage, output),
		offsetof(struct usage, total), offsetof(struct usage, cached),
		offsetof(struct usage, reasoning),
	};
	struct usage_field fields[ARRAY_SIZE(counts) + 1];
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(counts); i++)
		if (h->usage[i])
			fields[n++] = (struct usage_field){h->usage[i], counts[i]};
	fields[n] = (struct usage_field){NULL, 0};
	provider_read_usage(r, r->json, fields);
}

/* http_parse: content at reply_content (the whole body for a plain-text
 * agent), tool calls at reply_tool_calls and the token counts at the usage
 * pointers. */
static int http_parse(const void *priv, struct reply *r, char **err)
{
	const struct http *h = priv;
	const char *where = h->reply_content;
	const cJSON *v, *call;
	size_t i = 0;

	if (!r->json) {
		r->content = xstrndup(r->raw ? r->raw : "", r->raw ? r->raw_len : 0);
		r->content_len = r->raw ? r->raw_len : 0;
		return 0;
	}
	http_usage(h, r);
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

	if (!h->reply_tool_calls || !h->reply_tool_calls[0])
		return 0;
	v = jsonptr_get(r->json, h->reply_tool_calls);
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsArray(v)) {
		*err = xasprintf("reply has no array at %s", h->reply_tool_calls);
		return -1;
	}
	cJSON_ArrayForEach(call, v) {
		if (http_tool_call(h, call, i++, r, err) < 0)
			return -1;
	}
	return 0;
}

static const char *const http_headers[] = {NULL};

const struct provider provider_http = {
	.name = "http",
	.priv_size = sizeof(struct http),
	.options = http_options,
	.load = http_load,
	.headers = http_headers,
	.own_body = true,
	.build = http_build,
	.parse = http_parse,
	.api_error = provider_api_error,
	.plain_text = http_plain_text,
};
