/* providers/anthropic_messages.c: api anthropic-messages, the Anthropic Messages API. */
#include "provider.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "suite/suite.h"
#include "util.h"

/* max_tokens, which the API requires, when the request or the judge sets none. */
#define ANTHROPIC_MAX_TOKENS 1024

/* anthropic_tools: the case's tools with their input_schema, and its
 * tool_choice ({"type": "auto", "none", "any" or "tool"}), when it offers
 * tools. */
static void anthropic_tools(cJSON *body, const struct suite_case *c)
{
	static const char *const types[] = {
		[TOOL_CHOICE_AUTO] = "auto",
		[TOOL_CHOICE_NONE] = "none",
		[TOOL_CHOICE_REQUIRED] = "any",
		[TOOL_CHOICE_NAMED] = "tool",
	};
	cJSON *tools = suite_tools_json(c, "input_schema"), *choice;

	if (!tools)
		return;
	cJSON_AddItemToObject(body, "tools", tools);
	if (c->tool_choice == TOOL_CHOICE_UNSET)
		return;
	choice = cJSON_AddObjectToObject(body, "tool_choice");
	cJSON_AddStringToObject(choice, "type", types[c->tool_choice]);
	if (c->tool_choice == TOOL_CHOICE_NAMED)
		cJSON_AddStringToObject(choice, "name", c->tool_choice_name);
}

/* anthropic_build: {"model", "max_tokens", "system", "messages", "tools",
 * "tool_choice", ...request}:
 * system messages move to "system", joined by blank lines.  A role the API
 * does not take fails the build (suite_load() refuses it for
 * anthropic-messages targets, as it does a system message after others). */
static char *anthropic_build(const struct target *t, const struct suite_case *c,
			     const struct tmpl_ctx *ctx, char **err)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *messages = cJSON_CreateArray();
	const cJSON *m;
	size_t nsystem = 0;
	struct buf system;
	char *text = NULL;

	buf_init(&system, BUF_MAX_DEFAULT);
	cJSON_ArrayForEach(m, c->messages) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");

		/* Late system messages are merged all the same. */
		char *fault = cJSON_IsString(role)
				      ? provider_role_fault(t->provider, role->valuestring, false)
				      : NULL;

		if (fault) {
			*err = fault;
			cJSON_Delete(messages);
			goto out;
		}
		if (cJSON_IsString(role) && strcmp(role->valuestring, "system") == 0) {
			if (nsystem++)
				buf_addstr(&system, "\n\n");
			provider_add_text(&system, cJSON_GetObjectItemCaseSensitive(m, "content"));
		} else {
			cJSON_AddItemToArray(messages, cJSON_Duplicate(m, 1));
		}
	}
	if (t->model)
		cJSON_AddStringToObject(body, "model", t->model);
	cJSON_AddNumberToObject(body, "max_tokens", ANTHROPIC_MAX_TOKENS);
	if (nsystem)
		cJSON_AddStringToObject(body, "system", system.data ? system.data : "");
	cJSON_AddItemToObject(body, "messages", messages);
	anthropic_tools(body, c);
	if (suite_merge_request(body, t, c, ctx, err) == 0)
		text = provider_json_text(body);
out:
	cJSON_Delete(body);
	buf_release(&system);
	return text;
}

/* The counts of an Anthropic usage object: the cache's reads and writes
 * are input too, and the total is the sum of input and output. */
static const struct usage_field anthropic_usage[] = {
	{"/input_tokens", offsetof(struct usage, input)},
	{"/cache_read_input_tokens", offsetof(struct usage, input)},
	{"/cache_creation_input_tokens", offsetof(struct usage, input)},
	{"/output_tokens", offsetof(struct usage, output)},
	{"/input_tokens", offsetof(struct usage, total)},
	{"/cache_read_input_tokens", offsetof(struct usage, total)},
	{"/cache_creation_input_tokens", offsetof(struct usage, total)},
	{"/output_tokens", offsetof(struct usage, total)},
	{"/cache_read_input_tokens", offsetof(struct usage, cached)},
	{NULL, 0},
};

/* anthropic_parse: the text blocks and tool_use blocks of content[], and
 * usage. */
static int anthropic_parse(const void *priv, struct reply *r, char **err)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(r->json, "type");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(r->json, "content");
	const cJSON *block;
	struct buf b;
	size_t i = 0;

	provider_read_usage(r, cJSON_GetObjectItemCaseSensitive(r->json, "usage"), anthropic_usage);
	if ((cJSON_IsString(type) && strcmp(type->valuestring, "error") == 0) ||
	    (error && !cJSON_IsNull(error))) {
		*err = provider_api_error(r);
		return -1;
	}
	if (!cJSON_IsArray(content)) {
		*err = xstrdup("reply has no content[] array");
		return -1;
	}
	buf_init(&b, BUF_MAX_DEFAULT);
	for (block = content->child; block; block = block->next, i++) {
		const cJSON *btype = cJSON_GetObjectItemCaseSensitive(block, "type");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(block, "text");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(block, "id");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(block, "name");

		if (!cJSON_IsString(btype))
			continue;
		if (strcmp(btype->valuestring, "text") == 0 && cJSON_IsString(text)) {
			buf_addstr(&b, text->valuestring);
		} else if (strcmp(btype->valuestring, "tool_use") == 0) {
			if (!cJSON_IsString(name)) {
				*err = xasprintf("reply content[%zu] (tool_use) has no name", i);
				buf_release(&b);
				return -1;
			}
			reply_add_tool_call(r, cJSON_IsString(id) ? id->valuestring : NULL,
					    name->valuestring,
					    cJSON_GetObjectItemCaseSensitive(block, "input"));
		}
	}
	r->content = buf_detach(&b, NULL);
	return 0;
}

/* anthropic_judge_build: the system text in "system", the user message, and
 * the judge's max_tokens (the API requires one) and temperature. */
static char *anthropic_judge_build(const struct judge_config *j, const char *system,
				   const char *user)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *messages = cJSON_CreateArray();
	char *text;

	if (j->model)
		cJSON_AddStringToObject(body, "model", j->model);
	cJSON_AddStringToObject(body, "system", system);
	cJSON_AddItemToArray(messages, provider_message("user", user));
	cJSON_AddItemToObject(body, "messages", messages);
	cJSON_AddNumberToObject(body, "max_tokens",
				j->max_tokens > 0 ? j->max_tokens : ANTHROPIC_MAX_TOKENS);
	cJSON_AddNumberToObject(body, "temperature", j->temperature);
	text = provider_json_text(body);
	cJSON_Delete(body);
	return text;
}

/* anthropic_judge_refusal: stop_reason "refusal". */
static const char *anthropic_judge_refusal(const struct reply *r, bool *quote)
{
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(r->json, "stop_reason");

	*quote = false;
	if (cJSON_IsString(stop) && strcmp(stop->valuestring, "refusal") == 0)
		return "stop_reason refusal";
	return NULL;
}

static const char *const anthropic_headers[] = {"anthropic-version: 2023-06-01", NULL};
static const char *const anthropic_roles[] = {"system", "user", "assistant", NULL};

const struct provider provider_anthropic_messages = {
	.name = "anthropic-messages",
	.headers = anthropic_headers,
	.roles = anthropic_roles,
	.system_first = true,
	.build = anthropic_build,
	.parse = anthropic_parse,
	.api_error = provider_api_error,
	.judge_build = anthropic_judge_build,
	.judge_refusal = anthropic_judge_refusal,
};
