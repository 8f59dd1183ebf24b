/* providers/http.c: api http, a custom agent API described by the suite: a
 * body template and JSON pointers into the reply. */
#include "provider.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "jsonptr.h"
#include "sse.h"
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
	/* JSON pointers into each event of a stream: its text (NULL: the
	 * target cannot stream), its tool calls, the mark of its end, its error */
	char *event_text;
	char *event_tool_calls;
	char *event_done;
	char *event_error;
};

static const struct provider_option http_event_options[] = {
	{.name = "text", .kind = PROVIDER_OPTION_POINTER, .required = true,
	 .offset = offsetof(struct http, event_text), .example = "/delta"},
	{.name = "tool_calls", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, event_tool_calls), .example = "/tool_calls"},
	{.name = "done", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, event_done), .example = "/done"},
	{.name = "error", .kind = PROVIDER_OPTION_POINTER,
	 .offset = offsetof(struct http, event_error), .example = "/error"},
	{.name = NULL},
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
	{.name = "events", .kind = PROVIDER_OPTION_MAP, .sub = http_event_options,
	 .shorthand = "text"},
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

/* A streamed reply: the text, tool calls and token counts the events gave. */
struct http_stream {
	struct buf text;
	cJSON *calls;              /* an array, or NULL before the first */
	long long usage[5];        /* the last count of each usage pointer; -1: none */
	bool started;
	bool done;                 /* data: [DONE], or an event marked done */
};

/* given: whether v is there and says something (not null, not false). */
static bool given(const cJSON *v)
{
	return v && !cJSON_IsNull(v) && !cJSON_IsFalse(v);
}

/* http_event_calls: append the call (an object) or calls (an array) v. */
static int http_event_calls(struct http_stream *hs, const cJSON *v)
{
	const cJSON *call;
	int n = 0;

	if (!hs->calls)
		hs->calls = cJSON_CreateArray();
	if (cJSON_IsObject(v)) {
		cJSON_AddItemToArray(hs->calls, cJSON_Duplicate(v, 1));
		return 1;
	}
	cJSON_ArrayForEach(call, v) {
		cJSON_AddItemToArray(hs->calls, cJSON_Duplicate(call, 1));
		n = 1;
	}
	return n;
}

/* http_stream_event: one event: its text, tool calls and counts at the
 * target's pointers; [DONE] or the done pointer ends the stream, the error
 * pointer fails it. */
static int http_stream_event(void *st, const void *priv, const struct sse_event *ev,
			     char **err)
{
	const struct http *h = priv;
	struct http_stream *hs = st;
	const cJSON *v;
	int token = 0;
	cJSON *j;

	if (!hs->started) {
		hs->started = true;
		buf_init(&hs->text, BUF_MAX_DEFAULT);
		for (size_t i = 0; i < ARRAY_SIZE(hs->usage); i++)
			hs->usage[i] = -1;
	}
	if (hs->done) {
		*err = xstrdup("an event after the end of the stream");
		return -1;
	}
	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
		hs->done = true;
		return 0;
	}
	if (!(j = stream_event_json(ev, err)))
		return -1;
	if (h->event_error && given(v = jsonptr_get(j, h->event_error))) {
		char *text = cJSON_IsString(v) ? NULL : provider_json_text(v);

		*err = xasprintf("stream error at %s: %s", h->event_error,
				 text ? text : v->valuestring);
		free(text);
		cJSON_Delete(j);
		return -1;
	}
	v = jsonptr_get(j, h->event_text);
	if (cJSON_IsString(v) && v->valuestring[0]) {
		buf_addstr(&hs->text, v->valuestring);
		token = 1;
	}
	if (h->event_tool_calls && (v = jsonptr_get(j, h->event_tool_calls)))
		token |= http_event_calls(hs, v);
	for (size_t i = 0; i < ARRAY_SIZE(hs->usage); i++) {
		v = h->usage[i] ? jsonptr_get(j, h->usage[i]) : NULL;
		if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9007199254740992.0)
			hs->usage[i] = (long long)v->valuedouble;
	}
	hs->done = h->event_done && given(jsonptr_get(j, h->event_done));
	cJSON_Delete(j);
	return token;
}

/* unescape: an RFC 6901 reference token in place: ~1 is '/', ~0 is '~'. */
static void unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++) {
		if (r[0] == '~' && (r[1] == '0' || r[1] == '1'))
			*w++ = *++r == '1' ? '/' : '~';
		else
			*w++ = *r;
	}
	*w = '\0';
}

/* set_at: put v at pointer p of the object doc, making the objects on its
 * way; v is dropped when p is "" or something else is in the way. */
static void set_at(cJSON *doc, const char *p, cJSON *v)
{
	char *path = xstrdup(p), *tok = path + 1, *end = NULL;
	cJSON *node = doc, *next;

	while (p[0]) {
		end = strchr(tok, '/');
		if (end)
			*end = '\0';
		unescape(tok);
		next = cJSON_GetObjectItemCaseSensitive(node, tok);
		if (!end) {
			if (!next) {
				cJSON_AddItemToObject(node, tok, v);
				v = NULL;
			}
			break;
		}
		if (!next)
			next = cJSON_AddObjectToObject(node, tok);
		if (!cJSON_IsObject(next))
			break;
		node = next;
		tok = end + 1;
	}
	cJSON_Delete(v);
	free(path);
}

/* http_stream_end: a reply with the text at the content pointer, the tool
 * calls at the tool_calls pointer and the counts at the usage pointers,
 * which the target's parse reads as it reads a whole reply. */
static cJSON *http_stream_end(void *st, const void *priv, char **err)
{
	const struct http *h = priv;
	struct http_stream *hs = st;
	cJSON *doc;

	if (!hs->done) {
		*err = xasprintf("data: [DONE]%s%s", h->event_done ? " or an event with " : "",
				 h->event_done ? h->event_done : "");
		return NULL;
	}
	if (!h->reply_content[0])
		return cJSON_CreateString(hs->text.data ? hs->text.data : "");
	doc = cJSON_CreateObject();
	set_at(doc, h->reply_content, cJSON_CreateString(hs->text.data ? hs->text.data : ""));
	if (hs->calls && h->reply_tool_calls && h->reply_tool_calls[0]) {
		set_at(doc, h->reply_tool_calls, hs->calls);
		hs->calls = NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(hs->usage); i++)
		if (hs->usage[i] >= 0)
			set_at(doc, h->usage[i], cJSON_CreateNumber((double)hs->usage[i]));
	return doc;
}

static void http_stream_release(void *st)
{
	struct http_stream *hs = st;

	if (hs->started)
		buf_release(&hs->text);
	cJSON_Delete(hs->calls);
}

static bool http_can_stream(const void *priv)
{
	const struct http *h = priv;

	return h && h->event_text;
}

/* http_append: {"role": "assistant", "content"}, so that ${messages}
 * holds the conversation; the agent ran its tools itself. */
static void http_append(cJSON *conv, const struct reply *r, const char *const *results)
{
	cJSON_AddItemToArray(conv, provider_message("assistant", r->content));
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
	.append = http_append,
	.own_tools = true,
	.api_error = provider_api_error,
	.plain_text = http_plain_text,
	.stream_size = sizeof(struct http_stream),
	.stream_event = http_stream_event,
	.stream_end = http_stream_end,
	.stream_release = http_stream_release,
	.can_stream = http_can_stream,
};
