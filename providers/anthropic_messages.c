/* providers/anthropic_messages.c: api anthropic-messages, the Anthropic Messages API. */
#include "provider.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "suite/suite.h"
#include "sse.h"
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
	if (suite_streams(t, c))
		cJSON_AddTrueToObject(body, "stream");
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

/* anthropic_append: an assistant message of a text block (when there is
 * text) and a tool_use block per call, then a user message of a
 * tool_result block per result. */
static void anthropic_append(cJSON *conv, const struct reply *r, const char *const *results)
{
	cJSON *msg = cJSON_CreateObject(), *blocks;

	cJSON_AddStringToObject(msg, "role", "assistant");
	if (!r->ntool_calls) {
		cJSON_AddStringToObject(msg, "content", r->content);
		cJSON_AddItemToArray(conv, msg);
		return;
	}
	blocks = cJSON_AddArrayToObject(msg, "content");
	if (r->content[0]) {
		cJSON *text = cJSON_CreateObject();

		cJSON_AddStringToObject(text, "type", "text");
		cJSON_AddStringToObject(text, "text", r->content);
		cJSON_AddItemToArray(blocks, text);
	}
	for (size_t i = 0; i < r->ntool_calls; i++) {
		const struct tool_call *tc = &r->tool_calls[i];
		cJSON *use = cJSON_CreateObject();

		cJSON_AddStringToObject(use, "type", "tool_use");
		cJSON_AddStringToObject(use, "id", tc->id);
		cJSON_AddStringToObject(use, "name", tc->name);
		cJSON_AddItemToObject(use, "input", tc->arguments ? cJSON_Duplicate(tc->arguments, 1)
								  : cJSON_CreateObject());
		cJSON_AddItemToArray(blocks, use);
	}
	cJSON_AddItemToArray(conv, msg);
	if (!results)
		return;
	msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "role", "user");
	blocks = cJSON_AddArrayToObject(msg, "content");
	for (size_t i = 0; i < r->ntool_calls; i++) {
		cJSON *result = cJSON_CreateObject();

		cJSON_AddStringToObject(result, "type", "tool_result");
		cJSON_AddStringToObject(result, "tool_use_id", r->tool_calls[i].id);
		cJSON_AddStringToObject(result, "content", results[i]);
		cJSON_AddItemToArray(blocks, result);
	}
	cJSON_AddItemToArray(conv, msg);
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

/* A streamed reply: message_start's message, its content blocks as parts
 * {index, 0} (text: a text block's text, args: a tool_use block's
 * input JSON). */
struct anthropic_stream {
	cJSON *doc;
	struct stream_parts parts;
	bool done;                 /* message_stop came */
};

/* anthropic_block: the part of content block index of ev's JSON j; NULL
 * and *err when j names none that started. */
static struct stream_part *anthropic_block(struct anthropic_stream *as, const cJSON *j,
					   bool start, char **err)
{
	const cJSON *index = cJSON_GetObjectItemCaseSensitive(j, "index");
	struct stream_part *part = NULL;

	if (cJSON_IsNumber(index) && index->valuedouble >= 0 && index->valuedouble < 1e6)
		part = stream_parts_get(&as->parts, (long)index->valuedouble, 0, start);
	if (!part)
		*err = xstrdup(start ? "malformed event: no index"
				     : "a delta of a content block that did not start");
	return part;
}

/* anthropic_delta: fold a content_block_delta; 1 when it carried a token. */
static int anthropic_delta(struct anthropic_stream *as, const cJSON *j, char **err)
{
	struct stream_part *part = anthropic_block(as, j, false, err);
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(j, "delta");
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(delta, "type"));
	const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(delta, "text"));
	const char *json = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(delta,
										  "partial_json"));

	if (!part)
		return -1;
	if (type && strcmp(type, "text_delta") == 0 && text) {
		buf_addstr(&part->text, text);
		return text[0] != '\0';
	}
	if (type && strcmp(type, "input_json_delta") == 0 && json) {
		buf_addstr(&part->args, json);
		return json[0] != '\0';
	}
	return 0; /* thinking, signatures, citations: not content */
}

/* anthropic_message_delta: the stop reason and the counts so far. */
static void anthropic_message_delta(struct anthropic_stream *as, const cJSON *j)
{
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(j, "delta");
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
	cJSON *doc_usage = cJSON_GetObjectItemCaseSensitive(as->doc, "usage");
	const cJSON *m;

	cJSON_ArrayForEach(m, delta) {
		cJSON_DeleteItemFromObjectCaseSensitive(as->doc, m->string);
		cJSON_AddItemToObject(as->doc, m->string, cJSON_Duplicate(m, 1));
	}
	if (!cJSON_IsObject(usage))
		return;
	if (!cJSON_IsObject(doc_usage)) {
		cJSON_DeleteItemFromObjectCaseSensitive(as->doc, "usage");
		doc_usage = cJSON_AddObjectToObject(as->doc, "usage");
	}
	/* The counts are cumulative: each replaces the one before. */
	cJSON_ArrayForEach(m, usage) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc_usage, m->string);
		cJSON_AddItemToObject(doc_usage, m->string, cJSON_Duplicate(m, 1));
	}
}

/* anthropic_stream_event: one event of a Messages stream. */
static int anthropic_stream_event(void *st, const void *priv, const struct sse_event *ev,
				  char **err)
{
	struct anthropic_stream *as = st;
	const cJSON *message, *block;
	struct stream_part *part;
	int rc = -1;
	cJSON *j;

	if (as->done) {
		*err = xstrdup("an event after message_stop");
		return -1;
	}
	if (!(j = stream_event_json(ev, err)))
		return -1;
	if (stream_event_is(ev, "error")) {
		*err = stream_error_reason(j);
		goto out;
	}
	if (!as->doc && !stream_event_is(ev, "message_start") && !stream_event_is(ev, "ping")) {
		*err = xstrdup("an event before message_start");
		goto out;
	}
	rc = 0;
	if (stream_event_is(ev, "message_start")) {
		message = cJSON_GetObjectItemCaseSensitive(j, "message");
		if (as->doc || !cJSON_IsObject(message)) {
			*err = xstrdup(as->doc ? "a second message_start"
					       : "malformed event: no message");
			rc = -1;
			goto out;
		}
		as->doc = cJSON_Duplicate(message, 1);
	} else if (stream_event_is(ev, "content_block_start")) {
		block = cJSON_GetObjectItemCaseSensitive(j, "content_block");
		part = anthropic_block(as, j, true, err);
		if (!part || !cJSON_IsObject(block)) {
			if (part)
				*err = xstrdup("malformed event: no content_block");
			rc = -1;
			goto out;
		}
		cJSON_Delete(part->item);
		part->item = cJSON_Duplicate(block, 1);
		if (cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(block, "text")))
			buf_addstr(&part->text,
				   cJSON_GetObjectItemCaseSensitive(block, "text")->valuestring);
	} else if (stream_event_is(ev, "content_block_delta")) {
		rc = anthropic_delta(as, j, err);
	} else if (stream_event_is(ev, "message_delta")) {
		anthropic_message_delta(as, j);
	} else if (stream_event_is(ev, "message_stop")) {
		as->done = true;
	}
	/* ping, content_block_stop, and events added later, change nothing. */
out:
	cJSON_Delete(j);
	return rc;
}

/* anthropic_stream_end: message_start's message with the blocks' text and
 * input, in index order. */
static cJSON *anthropic_stream_end(void *st, const void *priv, char **err)
{
	struct anthropic_stream *as = st;
	cJSON *doc, *content;

	if (!as->done) {
		*err = xstrdup("message_stop");
		return NULL;
	}
	doc = as->doc;
	as->doc = NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "content");
	content = cJSON_AddArrayToObject(doc, "content");
	if (as->parts.n)
		qsort(as->parts.v, as->parts.n, sizeof(*as->parts.v), stream_part_order);
	for (size_t i = 0; i < as->parts.n; i++) {
		struct stream_part *p = &as->parts.v[i];
		cJSON *block = p->item, *input;

		p->item = NULL;
		if (cJSON_GetObjectItemCaseSensitive(block, "text")) {
			cJSON_DeleteItemFromObjectCaseSensitive(block, "text");
			cJSON_AddStringToObject(block, "text", p->text.len ? p->text.data : "");
		}
		if (p->args.len) {
			/* Input that is not JSON stays a string, as a tool call's
			 * arguments that do not parse do. */
			input = provider_json_parse(p->args.data, p->args.len, NULL, NULL);
			cJSON_DeleteItemFromObjectCaseSensitive(block, "input");
			cJSON_AddItemToObject(block, "input",
					      input ? input : cJSON_CreateString(p->args.data));
		}
		cJSON_AddItemToArray(content, block);
	}
	return doc;
}

static void anthropic_stream_release(void *st)
{
	struct anthropic_stream *as = st;

	cJSON_Delete(as->doc);
	stream_parts_release(&as->parts);
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
	.append = anthropic_append,
	.api_error = provider_api_error,
	.judge_build = anthropic_judge_build,
	.judge_refusal = anthropic_judge_refusal,
	.stream_size = sizeof(struct anthropic_stream),
	.stream_event = anthropic_stream_event,
	.stream_end = anthropic_stream_end,
	.stream_release = anthropic_stream_release,
};
