/* providers/openai_chat.c: api openai-chat, the OpenAI chat completions API. */
#include "provider.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "suite/suite.h"
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

static const char *const openai_headers[] = {NULL};

const struct provider provider_openai_chat = {
	.name = "openai-chat",
	.headers = openai_headers,
	.build = openai_build,
	.parse = openai_parse,
	.api_error = provider_api_error,
	.judge_build = openai_judge_build,
	.judge_refusal = openai_judge_refusal,
};
