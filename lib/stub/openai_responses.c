/* stub/openai_responses.c: the stub's OpenAI Responses API
 * (POST /v1/responses): a response object, or with "stream": true its
 * events, each with a sequence_number, ending with response.completed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stub/api.h"
#include "stub/stream.h"

/* The items of `input` that are the assistant's output, not the user's. */
static const char *const responses_output_items[] = {"function_call", "reasoning", NULL};

static bool is_output_item(const char *type, const char *role)
{
	for (size_t i = 0; responses_output_items[i]; i++)
		if (type && strcmp(type, responses_output_items[i]) == 0)
			return true;
	return (!type || strcmp(type, "message") == 0) && role && strcmp(role, "assistant") == 0;
}

/* Consecutive output items (a message, parallel function calls) are one
 * assistant message. */
static bool responses_read(const cJSON *body, struct stub_conversation *c)
{
	const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input"), *item;
	bool in_output = false;
	if (cJSON_IsString(input)) {
		stub_conversation_user(c, input);
		return true;
	}
	if (!cJSON_IsArray(input))
		return false;
	cJSON_ArrayForEach(item, input) {
		const char *type = stub_json_str(item, "type"), *role = stub_json_str(item, "role");
		if (is_output_item(type, role)) {
			if (!in_output)
				stub_conversation_assistant(c);
			in_output = true;
			if (type && strcmp(type, "function_call") == 0)
				stub_conversation_call(c, stub_json_str(item, "call_id"),
						       stub_json_str(item, "name"));
		} else if (type && strcmp(type, "function_call_output") == 0) {
			stub_conversation_result(c, stub_json_str(item, "call_id"),
						 cJSON_GetObjectItemCaseSensitive(item, "output"));
			in_output = false;
		} else if ((!type || strcmp(type, "message") == 0) && role &&
			   strcmp(role, "user") == 0) {
			stub_conversation_user(c, cJSON_GetObjectItemCaseSensitive(item, "content"));
			in_output = false;
		}
	}
	return true;
}

/* Errors before a stream are Chat Completions' error bodies. */
static cJSON *responses_error(int status, const char *message)
{
	return stub_api_openai_chat.error(status, message);
}

/* The documented error event: flat, with a sequence number. */
static cJSON *responses_stream_error(size_t index, const char **type)
{
	char *msg = xasprintf("stub stream error at event %zu", index);
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", "error");
	cJSON_AddNumberToObject(j, "sequence_number", (double)(index - 1));
	cJSON_AddStringToObject(j, "code", "server_error");
	cJSON_AddStringToObject(j, "message", msg);
	cJSON_AddNullToObject(j, "param");
	free(msg);
	*type = "error";
	return j;
}

static cJSON *responses_usage(const struct stub_reply *r)
{
	const struct stub_usage *u = &r->usage;
	cJSON *usage = cJSON_CreateObject();
	cJSON_AddNumberToObject(usage, "input_tokens", (double)u->input);
	cJSON *in = cJSON_AddObjectToObject(usage, "input_tokens_details");
	cJSON_AddNumberToObject(in, "cached_tokens", (double)u->cached);
	cJSON_AddNumberToObject(in, "cache_write_tokens", 0);
	cJSON_AddNumberToObject(usage, "output_tokens", (double)u->output);
	cJSON *out = cJSON_AddObjectToObject(usage, "output_tokens_details");
	cJSON_AddNumberToObject(out, "reasoning_tokens", (double)u->reasoning);
	cJSON_AddNumberToObject(usage, "total_tokens", (double)(u->input + u->output));
	return usage;
}

static bool has_message(const struct stub_reply *r)
{
	return r->kind != STUB_TOOL_CALLS && r->text;
}

/* The content part of the message: text (or refusal) as given. */
static cJSON *message_part(const struct stub_reply *r, const char *text)
{
	cJSON *part = cJSON_CreateObject();
	if (r->kind == STUB_REFUSAL) {
		cJSON_AddStringToObject(part, "type", "refusal");
		cJSON_AddStringToObject(part, "refusal", text);
		return part;
	}
	cJSON_AddStringToObject(part, "type", "output_text");
	cJSON_AddStringToObject(part, "text", text);
	cJSON_AddArrayToObject(part, "annotations");
	cJSON_AddArrayToObject(part, "logprobs");
	return part;
}

static void message_id(const struct stub_reply *r, char id[64])
{
	snprintf(id, 64, "msg_stub_%ld", r->number);
}

static void call_id(const struct stub_reply *r, size_t i, char id[64])
{
	snprintf(id, 64, "fc_stub_%ld_%zu", r->number, i);
}

/* The message item (done: as it ends, else as it starts, empty). */
static cJSON *message_item(const struct stub_reply *r, bool done)
{
	char id[64];
	message_id(r, id);
	cJSON *item = cJSON_CreateObject();
	cJSON_AddStringToObject(item, "id", id);
	cJSON_AddStringToObject(item, "type", "message");
	cJSON_AddStringToObject(item, "status", done ? "completed" : "in_progress");
	cJSON_AddStringToObject(item, "role", "assistant");
	cJSON *content = cJSON_AddArrayToObject(item, "content");
	if (done)
		cJSON_AddItemToArray(content, message_part(r, r->text));
	return item;
}

/* Function call i as an output item (done: with its arguments). */
static cJSON *call_item(const struct stub_reply *r, size_t i, bool done)
{
	char id[64];
	call_id(r, i, id);
	cJSON *item = cJSON_CreateObject();
	cJSON_AddStringToObject(item, "id", id);
	cJSON_AddStringToObject(item, "type", "function_call");
	cJSON_AddStringToObject(item, "status", done ? "completed" : "in_progress");
	cJSON_AddStringToObject(item, "call_id", r->call_ids[i]);
	cJSON_AddStringToObject(item, "name", r->calls[i].name);
	cJSON_AddStringToObject(item, "arguments", done ? r->calls[i].arguments : "");
	return item;
}

/* The response object: in progress (empty, without usage) or completed. */
static cJSON *response_object(const struct stub_reply *r, bool done)
{
	char id[64];
	snprintf(id, sizeof(id), "resp_stub_%ld", r->number);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "object", "response");
	cJSON_AddNumberToObject(o, "created_at", r->created);
	cJSON_AddStringToObject(o, "status", done ? "completed" : "in_progress");
	cJSON_AddFalseToObject(o, "background");
	if (done)
		cJSON_AddNumberToObject(o, "completed_at", r->created);
	else
		cJSON_AddNullToObject(o, "completed_at");
	cJSON_AddNullToObject(o, "error");
	cJSON_AddNullToObject(o, "incomplete_details");
	cJSON_AddItemToObject(o, "instructions", stub_json_copy(r->request, "instructions"));
	cJSON_AddItemToObject(o, "max_output_tokens",
			      stub_json_copy(r->request, "max_output_tokens"));
	cJSON_AddNullToObject(o, "max_tool_calls");
	cJSON_AddStringToObject(o, "model", r->model);
	cJSON *output = cJSON_AddArrayToObject(o, "output");
	if (done && has_message(r))
		cJSON_AddItemToArray(output, message_item(r, true));
	for (size_t i = 0; done && i < r->ncalls; i++)
		cJSON_AddItemToArray(output, call_item(r, i, true));
	cJSON_AddTrueToObject(o, "parallel_tool_calls");
	cJSON_AddNullToObject(o, "previous_response_id");
	cJSON *reasoning = cJSON_AddObjectToObject(o, "reasoning");
	cJSON_AddNullToObject(reasoning, "effort");
	cJSON_AddNullToObject(reasoning, "summary");
	cJSON_AddStringToObject(o, "service_tier", "default");
	cJSON_AddTrueToObject(o, "store");
	cJSON_AddNumberToObject(o, "temperature", 1.0);
	cJSON *text = cJSON_AddObjectToObject(o, "text");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(text, "format"), "type", "text");
	cJSON_AddStringToObject(text, "verbosity", "medium");
	const cJSON *choice = cJSON_GetObjectItemCaseSensitive(r->request, "tool_choice");
	cJSON_AddItemToObject(o, "tool_choice", choice ? cJSON_Duplicate(choice, true)
						       : cJSON_CreateString("auto"));
	const cJSON *tools = stub_json_list(r->request, "tools");
	cJSON_AddItemToObject(o, "tools", tools ? cJSON_Duplicate(tools, true)
					       : cJSON_CreateArray());
	cJSON_AddNumberToObject(o, "top_p", 1.0);
	cJSON_AddStringToObject(o, "truncation", "disabled");
	if (done)
		cJSON_AddItemToObject(o, "usage", responses_usage(r));
	else
		cJSON_AddNullToObject(o, "usage");
	cJSON_AddNullToObject(o, "user");
	cJSON_AddObjectToObject(o, "metadata");
	return o;
}

static cJSON *responses_reply(const struct stub_reply *r)
{
	return response_object(r, true);
}

/* Events numbered as they are sent. */
struct responses_events {
	const struct stub_reply *r;
	struct stub_stream *st;
	long sequence;
};

/* A new event of type, its type and sequence number set. */
static cJSON *event_new(struct responses_events *e, const char *type)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", type);
	cJSON_AddNumberToObject(j, "sequence_number", (double)e->sequence++);
	return j;
}

static void event_send(struct responses_events *e, cJSON *j, bool terminal)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	char *name = xstrdup(type->valuestring);
	stub_stream_event(e->st, name, j, terminal);
	free(name);
}

/* The events of an item's start and end: output_item.added or .done. */
static void item_event(struct responses_events *e, const char *type, size_t output_index,
		       cJSON *item)
{
	cJSON *j = event_new(e, type);
	cJSON_AddNumberToObject(j, "output_index", (double)output_index);
	cJSON_AddItemToObject(j, "item", item);
	event_send(e, j, false);
}

/* An event about the message's content part: item_id, output_index and
 * content_index set. */
static cJSON *part_event(struct responses_events *e, const char *type)
{
	char id[64];
	message_id(e->r, id);
	cJSON *j = event_new(e, type);
	cJSON_AddStringToObject(j, "item_id", id);
	cJSON_AddNumberToObject(j, "output_index", 0);
	cJSON_AddNumberToObject(j, "content_index", 0);
	return j;
}

static void stream_message(struct responses_events *e)
{
	const struct stub_reply *r = e->r;
	bool refusal = r->kind == STUB_REFUSAL;
	item_event(e, "response.output_item.added", 0, message_item(r, false));
	cJSON *j = part_event(e, "response.content_part.added");
	cJSON_AddItemToObject(j, "part", message_part(r, ""));
	event_send(e, j, false);
	for (size_t i = 0; i < r->npieces; i++) {
		j = part_event(e, refusal ? "response.refusal.delta" : "response.output_text.delta");
		char *p = xstrndup(r->pieces[i].s, r->pieces[i].len);
		cJSON_AddStringToObject(j, "delta", p);
		free(p);
		if (!refusal)
			cJSON_AddArrayToObject(j, "logprobs");
		event_send(e, j, false);
	}
	j = part_event(e, refusal ? "response.refusal.done" : "response.output_text.done");
	cJSON_AddStringToObject(j, refusal ? "refusal" : "text", r->text);
	if (!refusal)
		cJSON_AddArrayToObject(j, "logprobs");
	event_send(e, j, false);
	j = part_event(e, "response.content_part.done");
	cJSON_AddItemToObject(j, "part", message_part(r, r->text));
	event_send(e, j, false);
	item_event(e, "response.output_item.done", 0, message_item(r, true));
}

static void stream_call(struct responses_events *e, size_t i)
{
	const struct stub_reply *r = e->r;
	const char *args = r->calls[i].arguments;
	size_t len = strlen(args);
	char id[64];
	call_id(r, i, id);
	item_event(e, "response.output_item.added", i, call_item(r, i, false));
	for (size_t off = 0, n; off < len; off += n) {
		n = stub_arguments_piece(args, len, off);
		cJSON *j = event_new(e, "response.function_call_arguments.delta");
		cJSON_AddStringToObject(j, "item_id", id);
		cJSON_AddNumberToObject(j, "output_index", (double)i);
		char *p = xstrndup(args + off, n);
		cJSON_AddStringToObject(j, "delta", p);
		free(p);
		event_send(e, j, false);
	}
	cJSON *j = event_new(e, "response.function_call_arguments.done");
	cJSON_AddStringToObject(j, "item_id", id);
	cJSON_AddStringToObject(j, "name", r->calls[i].name);
	cJSON_AddNumberToObject(j, "output_index", (double)i);
	cJSON_AddStringToObject(j, "arguments", args);
	event_send(e, j, false);
	item_event(e, "response.output_item.done", i, call_item(r, i, true));
}

static void responses_stream(const struct stub_reply *r, struct stub_stream *st)
{
	struct responses_events e = {.r = r, .st = st};
	static const char *const opening[] = {"response.created", "response.in_progress"};
	for (size_t i = 0; i < ARRAY_SIZE(opening); i++) {
		cJSON *j = event_new(&e, opening[i]);
		cJSON_AddItemToObject(j, "response", response_object(r, false));
		event_send(&e, j, false);
	}
	if (has_message(r))
		stream_message(&e);
	for (size_t i = 0; i < r->ncalls; i++)
		stream_call(&e, i);
	cJSON *j = event_new(&e, "response.completed");
	cJSON_AddItemToObject(j, "response", response_object(r, true));
	event_send(&e, j, true);
}

const struct stub_api stub_api_openai_responses = {
	.name = "openai-responses",
	.path = "/v1/responses",
	.call_prefix = "call_",
	.read = responses_read,
	.reply = responses_reply,
	.stream = responses_stream,
	.stream_error = responses_stream_error,
	.error = responses_error,
};
