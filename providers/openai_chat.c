/* providers/openai_chat.c: api openai-chat, the OpenAI chat completions API. */
#include "provider.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "suite/suite.h"
#include "sse.h"
#include "util.h"

/* openai_tools: the case's tools as {"type": "function", "function": {...}}
 * and its tool_choice, when it offers tools. */
static void openai_tools(cJSON *body, const struct suite_case *c)
{
	cJSON *functions = suite_tools_json(c, "parameters"), *fn, *tools, *named;

	if (!functions)
		return;
	tools = cJSON_AddArrayToObject(body, "tools");
	while ((fn = cJSON_DetachItemFromArray(functions, 0))) {
		cJSON *tool = cJSON_CreateObject();

		cJSON_AddStringToObject(tool, "type", "function");
		cJSON_AddItemToObject(tool, "function", fn);
		cJSON_AddItemToArray(tools, tool);
	}
	cJSON_Delete(functions);
	if (suite_tool_choice_word(c->tool_choice)) {
		cJSON_AddStringToObject(body, "tool_choice", suite_tool_choice_word(c->tool_choice));
	} else if (c->tool_choice == TOOL_CHOICE_NAMED) {
		named = cJSON_AddObjectToObject(body, "tool_choice");
		cJSON_AddStringToObject(named, "type", "function");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(named, "function"), "name",
					c->tool_choice_name);
	}
}

/* openai_build: {"model", "messages", "tools", "tool_choice", ...request},
 * request keys winning. */
static char *openai_build(const struct target *t, const struct suite_case *c,
			  const struct tmpl_ctx *ctx, char **err)
{
	cJSON *body = cJSON_CreateObject();
	char *text = NULL;

	if (t->model)
		cJSON_AddStringToObject(body, "model", t->model);
	if (c->messages)
		cJSON_AddItemToObject(body, "messages", cJSON_Duplicate(c->messages, 1));
	else
		cJSON_AddItemToObject(body, "messages", cJSON_CreateArray());
	openai_tools(body, c);
	if (suite_streams(t, c)) {
		cJSON_AddTrueToObject(body, "stream");
		cJSON_AddTrueToObject(cJSON_AddObjectToObject(body, "stream_options"),
				      "include_usage");
	}
	if (suite_merge_request(body, t, c, ctx, err) == 0)
		text = provider_json_text(body);
	cJSON_Delete(body);
	return text;
}

/* openai_content: the text of a message's content (a string, null, or an
 * array of content parts); -1 and *err for any other shape. */
static int openai_content(const cJSON *msg, struct reply *r, char **err)
{
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
	const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
	const cJSON *part;
	struct buf b;

	if (cJSON_IsString(content)) {
		r->content = xstrdup(content->valuestring);
		return 0;
	}
	if (!content || cJSON_IsNull(content)) {
		r->content = xstrdup(cJSON_IsString(refusal) ? refusal->valuestring : "");
		return 0;
	}
	if (!cJSON_IsArray(content)) {
		*err = xstrdup("reply choices[0].message.content is neither text nor "
			       "an array of parts");
		return -1;
	}
	buf_init(&b, BUF_MAX_DEFAULT);
	cJSON_ArrayForEach(part, content) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");

		if (cJSON_IsString(part))
			buf_addstr(&b, part->valuestring);
		else if (cJSON_IsString(text) &&
			 (!cJSON_IsString(type) || strcmp(type->valuestring, "text") == 0 ||
			  strcmp(type->valuestring, "output_text") == 0))
			buf_addstr(&b, text->valuestring);
	}
	r->content = buf_detach(&b, NULL);
	return 0;
}

/* openai_tool_calls: message.tool_calls[] and the legacy function_call. */
static int openai_tool_calls(const cJSON *msg, struct reply *r, char **err)
{
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
	const cJSON *legacy = cJSON_GetObjectItemCaseSensitive(msg, "function_call");
	const cJSON *call;
	size_t i = 0;

	if (calls && !cJSON_IsNull(calls) && !cJSON_IsArray(calls)) {
		*err = xstrdup("reply choices[0].message.tool_calls is not an array");
		return -1;
	}
	cJSON_ArrayForEach(call, calls) {
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(call, "id");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");

		if (!cJSON_IsString(name)) {
			*err = xasprintf("reply choices[0].message.tool_calls[%zu] has no "
					 "function.name", i);
			return -1;
		}
		reply_add_tool_call(r, cJSON_IsString(id) ? id->valuestring : NULL,
				    name->valuestring,
				    cJSON_GetObjectItemCaseSensitive(fn, "arguments"));
		i++;
	}
	if (cJSON_IsObject(legacy)) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(legacy, "name");

		if (!cJSON_IsString(name)) {
			*err = xstrdup("reply choices[0].message.function_call has no name");
			return -1;
		}
		reply_add_tool_call(r, NULL, name->valuestring,
				    cJSON_GetObjectItemCaseSensitive(legacy, "arguments"));
	}
	return 0;
}

/* The counts of an openai-chat usage object. */
static const struct usage_field openai_usage[] = {
	{"/prompt_tokens", offsetof(struct usage, input)},
	{"/completion_tokens", offsetof(struct usage, output)},
	{"/total_tokens", offsetof(struct usage, total)},
	{"/prompt_tokens_details/cached_tokens", offsetof(struct usage, cached)},
	{"/completion_tokens_details/reasoning_tokens", offsetof(struct usage, reasoning)},
	{NULL, 0},
};

/* openai_parse: content and tool calls from choices[0].message, and usage. */
static int openai_parse(const void *priv, struct reply *r, char **err)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(r->json, "choices");
	const cJSON *msg = NULL;

	provider_read_usage(r, cJSON_GetObjectItemCaseSensitive(r->json, "usage"), openai_usage);
	if (error && !cJSON_IsNull(error)) {
		*err = provider_api_error(r);
		return -1;
	}
	if (cJSON_IsArray(choices))
		msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0), "message");
	if (!cJSON_IsObject(msg)) {
		*err = xstrdup("reply has no choices[0].message");
		return -1;
	}
	if (openai_content(msg, r, err) < 0)
		return -1;
	return openai_tool_calls(msg, r, err);
}

/* openai_append: the assistant message with its tool_calls, then one
 * {"role": "tool", "tool_call_id", "content"} message per result. */
static void openai_append(cJSON *conv, const struct reply *r, const char *const *results)
{
	cJSON *msg = cJSON_CreateObject(), *calls;

	cJSON_AddStringToObject(msg, "role", "assistant");
	if (r->ntool_calls && !r->content[0])
		cJSON_AddNullToObject(msg, "content");
	else
		cJSON_AddStringToObject(msg, "content", r->content);
	if (r->ntool_calls)
		calls = cJSON_AddArrayToObject(msg, "tool_calls");
	for (size_t i = 0; i < r->ntool_calls; i++) {
		const struct tool_call *tc = &r->tool_calls[i];
		cJSON *call = cJSON_CreateObject(), *fn;

		cJSON_AddStringToObject(call, "id", tc->id);
		cJSON_AddStringToObject(call, "type", "function");
		fn = cJSON_AddObjectToObject(call, "function");
		cJSON_AddStringToObject(fn, "name", tc->name);
		cJSON_AddStringToObject(fn, "arguments",
					tc->arguments_raw[0] ? tc->arguments_raw : "{}");
		cJSON_AddItemToArray(calls, call);
	}
	cJSON_AddItemToArray(conv, msg);
	for (size_t i = 0; results && i < r->ntool_calls; i++) {
		msg = provider_message("tool", results[i]);
		cJSON_AddStringToObject(msg, "tool_call_id", r->tool_calls[i].id);
		cJSON_AddItemToArray(conv, msg);
	}
}

/* openai_judge_build: the system and user messages, the judge's temperature
 * and max_tokens (when set), and a JSON object answer. */
static char *openai_judge_build(const struct judge_config *j, const char *system,
				const char *user)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *messages = cJSON_CreateArray();
	cJSON *format;
	char *text;

	if (j->model)
		cJSON_AddStringToObject(body, "model", j->model);
	cJSON_AddItemToArray(messages, provider_message("system", system));
	cJSON_AddItemToArray(messages, provider_message("user", user));
	cJSON_AddItemToObject(body, "messages", messages);
	cJSON_AddNumberToObject(body, "temperature", j->temperature);
	if (j->max_tokens > 0)
		cJSON_AddNumberToObject(body, "max_tokens", j->max_tokens);
	format = cJSON_AddObjectToObject(body, "response_format");
	cJSON_AddStringToObject(format, "type", "json_object");
	text = provider_json_text(body);
	cJSON_Delete(body);
	return text;
}

/* openai_judge_refusal: choices[0].message.refusal, when it says something. */
static const char *openai_judge_refusal(const struct reply *r, bool *quote)
{
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(r->json, "choices");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0),
							   "message");
	const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");

	*quote = true;
	return cJSON_IsString(refusal) && refusal->valuestring[0] ? refusal->valuestring : NULL;
}

/* A streamed reply: the first chunk's members (id, model, ...) and the last
 * usage; choices are parts {index, -1} (text: content, args: refusal),
 * their tool calls parts {choice index, call index}. */
struct chat_stream {
	cJSON *doc;
	struct stream_parts parts;
	bool done;                 /* data: [DONE] came */
};

/* chat_delta_call: fold one tool call fragment of choice ci. */
static int chat_delta_call(struct chat_stream *cs, long ci, const cJSON *call, char **err)
{
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(call, "index");
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
	const char *keys[] = {"id", "type"};
	struct stream_part *part;
	cJSON *item_fn;

	if (!cJSON_IsNumber(index) || index->valuedouble < 0 || index->valuedouble > 1e6) {
		*err = xstrdup("a tool call fragment without its index");
		return -1;
	}
	part = stream_parts_get(&cs->parts, ci, (long)index->valuedouble, true);
	if (!part->item) {
		part->item = cJSON_CreateObject();
		cJSON_AddObjectToObject(part->item, "function");
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(call, keys[i]);

		if (cJSON_IsString(v) && !cJSON_GetObjectItemCaseSensitive(part->item, keys[i]))
			cJSON_AddStringToObject(part->item, keys[i], v->valuestring);
	}
	item_fn = cJSON_GetObjectItemCaseSensitive(part->item, "function");
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(fn, "name")) &&
	    !cJSON_GetObjectItemCaseSensitive(item_fn, "name"))
		cJSON_AddStringToObject(item_fn, "name",
					cJSON_GetObjectItemCaseSensitive(fn, "name")->valuestring);
	if (cJSON_IsString(args))
		buf_addstr(&part->args, args->valuestring);
	return cJSON_IsString(args) && args->valuestring[0];
}

/* chat_delta: fold one choice of a chunk; 1 when it carried a token. */
static int chat_delta(struct chat_stream *cs, const cJSON *choice, char **err)
{
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(choice, "index");
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(delta, "content");
	const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(delta, "refusal");
	const cJSON *finish = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");
	const cJSON *call;
	struct stream_part *part;
	long ci = cJSON_IsNumber(index) && index->valuedouble >= 0 && index->valuedouble < 1e6
			  ? (long)index->valuedouble : 0;
	int token = 0, rc;

	part = stream_parts_get(&cs->parts, ci, -1, true);
	if (!part->item)
		part->item = cJSON_CreateObject();
	if (cJSON_IsString(content) && content->valuestring[0]) {
		buf_addstr(&part->text, content->valuestring);
		token = 1;
	}
	if (cJSON_IsString(refusal) && refusal->valuestring[0]) {
		buf_addstr(&part->args, refusal->valuestring);
		token = 1;
	}
	if (cJSON_IsString(finish)) {
		cJSON_DeleteItemFromObjectCaseSensitive(part->item, "finish_reason");
		cJSON_AddStringToObject(part->item, "finish_reason", finish->valuestring);
	}
	cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(delta, "tool_calls")) {
		if ((rc = chat_delta_call(cs, ci, call, err)) < 0)
			return -1;
		token |= rc;
	}
	return token;
}

/* chat_stream_event: one chat.completion.chunk, an error, or [DONE]. */
static int chat_stream_event(void *st, const void *priv, const struct sse_event *ev,
			     char **err)
{
	struct chat_stream *cs = st;
	const cJSON *error, *choice, *usage;
	int token = 0, rc = -1;
	cJSON *j;

	if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
		cs->done = true;
		return 0;
	}
	if (cs->done) {
		*err = xstrdup("an event after data: [DONE]");
		return -1;
	}
	if (!(j = stream_event_json(ev, err)))
		return -1;
	error = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (error && !cJSON_IsNull(error)) {
		*err = stream_error_reason(j);
		goto out;
	}
	if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "choices"))) {
		*err = xstrdup("malformed event: a chunk without choices[]");
		goto out;
	}
	if (!cs->doc) {
		static const char *const keys[] = {"id", "created", "model", "system_fingerprint",
						   "service_tier"};

		cs->doc = cJSON_CreateObject();
		for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);

			if (v)
				cJSON_AddItemToObject(cs->doc, keys[i], cJSON_Duplicate(v, 1));
		}
		cJSON_AddStringToObject(cs->doc, "object", "chat.completion");
	}
	usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
	if (cJSON_IsObject(usage)) {
		cJSON_DeleteItemFromObjectCaseSensitive(cs->doc, "usage");
		cJSON_AddItemToObject(cs->doc, "usage", cJSON_Duplicate(usage, 1));
	}
	cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(j, "choices")) {
		int t = chat_delta(cs, choice, err);

		if (t < 0)
			goto out;
		token |= t;
	}
	rc = token;
out:
	cJSON_Delete(j);
	return rc;
}

/* chat_message: the message of the choice part at parts[*i], with the tool
 * call parts that follow it (parts sorted), *i left at the last of them. */
static cJSON *chat_message(struct stream_parts *ps, size_t *i)
{
	const struct stream_part *choice = &ps->v[*i];
	cJSON *msg = cJSON_CreateObject(), *calls = NULL;

	cJSON_AddStringToObject(msg, "role", "assistant");
	if (choice->text.len)
		cJSON_AddStringToObject(msg, "content", choice->text.data);
	else
		cJSON_AddNullToObject(msg, "content");
	if (choice->args.len)
		cJSON_AddStringToObject(msg, "refusal", choice->args.data);
	else
		cJSON_AddNullToObject(msg, "refusal");
	while (*i + 1 < ps->n && ps->v[*i + 1].key[0] == choice->key[0]) {
		struct stream_part *p = &ps->v[++*i];

		if (!calls)
			calls = cJSON_AddArrayToObject(msg, "tool_calls");
		cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(p->item, "function"),
					"arguments", p->args.len ? p->args.data : "");
		cJSON_AddItemToArray(calls, p->item);
		p->item = NULL;
	}
	return msg;
}

/* chat_stream_end: a chat.completion of the chunks, choices and tool calls
 * in index order. */
static cJSON *chat_stream_end(void *st, const void *priv, char **err)
{
	struct chat_stream *cs = st;
	cJSON *doc, *choices;

	if (!cs->done) {
		*err = xstrdup("data: [DONE]");
		return NULL;
	}
	doc = cs->doc ? cs->doc : cJSON_CreateObject();
	cs->doc = NULL;
	choices = cJSON_AddArrayToObject(doc, "choices");
	if (cs->parts.n)
		qsort(cs->parts.v, cs->parts.n, sizeof(*cs->parts.v), stream_part_order);
	for (size_t i = 0; i < cs->parts.n; i++) {
		struct stream_part *p = &cs->parts.v[i];
		cJSON *choice;

		if (p->key[1] >= 0)
			continue; /* calls of a choice that sent no delta of its own */
		choice = p->item;
		p->item = NULL;
		cJSON_AddNumberToObject(choice, "index", (double)p->key[0]);
		cJSON_AddItemToObject(choice, "message", chat_message(&cs->parts, &i));
		if (!cJSON_GetObjectItemCaseSensitive(choice, "finish_reason"))
			cJSON_AddNullToObject(choice, "finish_reason");
		cJSON_AddItemToArray(choices, choice);
	}
	return doc;
}

static void chat_stream_release(void *st)
{
	struct chat_stream *cs = st;

	cJSON_Delete(cs->doc);
	stream_parts_release(&cs->parts);
}

static const char *const openai_headers[] = {NULL};

const struct provider provider_openai_chat = {
	.name = "openai-chat",
	.headers = openai_headers,
	.build = openai_build,
	.parse = openai_parse,
	.append = openai_append,
	.api_error = provider_api_error,
	.judge_build = openai_judge_build,
	.judge_refusal = openai_judge_refusal,
	.stream_size = sizeof(struct chat_stream),
	.stream_event = chat_stream_event,
	.stream_end = chat_stream_end,
	.stream_release = chat_stream_release,
};
