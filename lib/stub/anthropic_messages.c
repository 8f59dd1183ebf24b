/* stub/anthropic_messages.c: the stub's Anthropic Messages API
 * (POST /v1/messages): a message, or with "stream": true message_start,
 * content_block_start/delta/stop for each block, message_delta and
 * message_stop (a ping after the first block's start, as the API sends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stub/api.h"
#include "stub/stream.h"

/* The Anthropic error type of an HTTP status. */
static const struct {
	int status;
	const char *type;
} anthropic_error_types[] = {
	{400, "invalid_request_error"}, {401, "authentication_error"},
	{402, "billing_error"},         {403, "permission_error"},
	{404, "not_found_error"},       {409, "conflict_error"},
	{413, "request_too_large"},     {429, "rate_limit_error"},
	{500, "api_error"},             {504, "timeout_error"},
	{529, "overloaded_error"},
};

/* A user message may carry tool_result blocks: they are results, and the
 * message a user turn only when it has text blocks too. */
static bool anthropic_read(const cJSON *body, struct stub_conversation *c)
{
	const cJSON *msgs = stub_json_list(body, "messages"), *m, *block;
	if (!msgs)
		return false;
	cJSON_ArrayForEach(m, msgs) {
		const char *role = stub_json_str(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		const cJSON *blocks = cJSON_IsArray(content) ? content : NULL;
		bool text = false, results = false;
		if (!role)
			continue;
		if (strcmp(role, "assistant") == 0)
			stub_conversation_assistant(c);
		cJSON_ArrayForEach(block, blocks) {
			const char *type = stub_json_str(block, "type");
			if (!type)
				continue;
			if (strcmp(type, "tool_use") == 0)
				stub_conversation_call(c, stub_json_str(block, "id"),
						       stub_json_str(block, "name"));
			else if (strcmp(type, "tool_result") == 0)
				stub_conversation_result(
					c, stub_json_str(block, "tool_use_id"),
					cJSON_GetObjectItemCaseSensitive(block, "content"));
			results |= strcmp(type, "tool_result") == 0;
			text |= strcmp(type, "text") == 0;
		}
		if (strcmp(role, "user") == 0 && (text || !results))
			stub_conversation_user(c, content);
	}
	return true;
}

static const char *anthropic_error_type(int status)
{
	for (size_t i = 0; i < ARRAY_SIZE(anthropic_error_types); i++)
		if (anthropic_error_types[i].status == status)
			return anthropic_error_types[i].type;
	return status >= 500 ? "api_error" : "invalid_request_error";
}

/* An error body, or the data of an error event. */
static cJSON *error_of(const char *type, const char *message)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "type", "error");
	cJSON *e = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddStringToObject(e, "message", message);
	return root;
}

static cJSON *anthropic_error(int status, const char *message)
{
	return error_of(anthropic_error_type(status), message);
}

/* What a 529 would have said, after the 200 went out. */
static cJSON *anthropic_stream_error(size_t index, const char **type)
{
	char *msg = xasprintf("stub stream error at event %zu", index);
	cJSON *j = error_of("overloaded_error", msg);
	free(msg);
	*type = "error";
	return j;
}

/* output_tokens, and the thinking tokens among them when there are any. */
static void add_output_tokens(const struct stub_reply *r, cJSON *usage)
{
	cJSON_AddNumberToObject(usage, "output_tokens", (double)r->usage.output);
	if (r->usage.reasoning)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(usage, "output_tokens_details"),
					"thinking_tokens", (double)r->usage.reasoning);
}

/* Usage as a message gives it: input_tokens without the cached ones; at
 * the start of a stream, one output token. */
static cJSON *anthropic_usage(const struct stub_reply *r, bool start)
{
	const struct stub_usage *u = &r->usage;
	cJSON *usage = cJSON_CreateObject();
	cJSON_AddNumberToObject(usage, "input_tokens", (double)(u->input - u->cached));
	cJSON_AddNumberToObject(usage, "cache_creation_input_tokens", 0);
	cJSON_AddNumberToObject(usage, "cache_read_input_tokens", (double)u->cached);
	cJSON *cc = cJSON_AddObjectToObject(usage, "cache_creation");
	cJSON_AddNumberToObject(cc, "ephemeral_5m_input_tokens", 0);
	cJSON_AddNumberToObject(cc, "ephemeral_1h_input_tokens", 0);
	if (start)
		cJSON_AddNumberToObject(usage, "output_tokens", 1);
	else
		add_output_tokens(r, usage);
	cJSON_AddStringToObject(usage, "service_tier", "standard");
	return usage;
}

static const char *anthropic_stop_reason(const struct stub_reply *r)
{
	if (r->kind == STUB_TOOL_CALLS)
		return "tool_use";
	return r->kind == STUB_REFUSAL ? "refusal" : "end_turn";
}

/* stop_reason, stop_sequence and stop_details, as a message ends (where
 * stop_details is null but for a refusal) or its message_delta (where it
 * is absent). */
static void add_stop(const struct stub_reply *r, cJSON *o, bool message)
{
	cJSON_AddStringToObject(o, "stop_reason", anthropic_stop_reason(r));
	cJSON_AddNullToObject(o, "stop_sequence");
	if (r->kind != STUB_REFUSAL) {
		if (message)
			cJSON_AddNullToObject(o, "stop_details");
		return;
	}
	cJSON *d = cJSON_AddObjectToObject(o, "stop_details");
	cJSON_AddStringToObject(d, "type", "refusal");
	cJSON_AddNullToObject(d, "category");
	cJSON_AddStringToObject(d, "explanation", r->text);
}

/* Tool call i's input: its arguments when they are a JSON object, else
 * the arguments as a string (which a client must reject). */
static cJSON *call_input(const struct stub_reply *r, size_t i)
{
	cJSON *j = cJSON_Parse(r->calls[i].arguments);
	if (cJSON_IsObject(j))
		return j;
	cJSON_Delete(j);
	return cJSON_CreateString(r->calls[i].arguments);
}

/* The start of the message (done: as it ends, with its blocks). */
static cJSON *message_object(const struct stub_reply *r, bool done)
{
	char id[64];
	snprintf(id, sizeof(id), "msg_stub_%ld", r->number);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", "message");
	cJSON_AddStringToObject(o, "role", "assistant");
	cJSON_AddStringToObject(o, "model", r->model);
	cJSON *content = cJSON_AddArrayToObject(o, "content");
	if (!done) {
		cJSON_AddNullToObject(o, "stop_reason");
		cJSON_AddNullToObject(o, "stop_sequence");
		cJSON_AddNullToObject(o, "stop_details");
		cJSON_AddItemToObject(o, "usage", anthropic_usage(r, true));
		return o;
	}
	if (r->kind == STUB_TEXT && r->text) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "text");
		cJSON_AddStringToObject(b, "text", r->text);
		cJSON_AddItemToArray(content, b);
	}
	for (size_t i = 0; i < r->ncalls; i++) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "type", "tool_use");
		cJSON_AddStringToObject(b, "id", r->call_ids[i]);
		cJSON_AddStringToObject(b, "name", r->calls[i].name);
		cJSON_AddItemToObject(b, "input", call_input(r, i));
		cJSON_AddItemToArray(content, b);
	}
	add_stop(r, o, true);
	cJSON_AddItemToObject(o, "usage", anthropic_usage(r, false));
	return o;
}

static cJSON *anthropic_reply(const struct stub_reply *r)
{
	return message_object(r, true);
}

/* A new event of type, its type set. */
static cJSON *event_new(const char *type)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "type", type);
	return j;
}

static void event_send(struct stub_stream *st, const char *type, cJSON *j)
{
	stub_stream_event(st, type, j, strcmp(type, "message_stop") == 0);
}

static void block_start(struct stub_stream *st, size_t index, cJSON *block)
{
	cJSON *j = event_new("content_block_start");
	cJSON_AddNumberToObject(j, "index", (double)index);
	cJSON_AddItemToObject(j, "content_block", block);
	event_send(st, "content_block_start", j);
	if (index == 0)
		event_send(st, "ping", event_new("ping"));
}

/* A content_block_delta: delta's key (text or partial_json) set to
 * s[0..len). */
static void block_delta(struct stub_stream *st, size_t index, const char *delta_type,
			const char *key, const char *s, size_t len)
{
	cJSON *j = event_new("content_block_delta");
	cJSON_AddNumberToObject(j, "index", (double)index);
	cJSON *d = cJSON_AddObjectToObject(j, "delta");
	cJSON_AddStringToObject(d, "type", delta_type);
	char *p = xstrndup(s, len);
	cJSON_AddStringToObject(d, key, p);
	free(p);
	event_send(st, "content_block_delta", j);
}

static void block_stop(struct stub_stream *st, size_t index)
{
	cJSON *j = event_new("content_block_stop");
	cJSON_AddNumberToObject(j, "index", (double)index);
	event_send(st, "content_block_stop", j);
}

static void anthropic_stream(const struct stub_reply *r, struct stub_stream *st)
{
	size_t index = 0;
	cJSON *j = event_new("message_start");
	cJSON_AddItemToObject(j, "message", message_object(r, false));
	event_send(st, "message_start", j);
	if (r->kind != STUB_TOOL_CALLS && r->text) {
		cJSON *b = event_new("text");
		cJSON_AddStringToObject(b, "text", "");
		block_start(st, index, b);
		for (size_t i = 0; r->kind == STUB_TEXT && i < r->npieces; i++)
			block_delta(st, index, "text_delta", "text", r->pieces[i].s,
				    r->pieces[i].len);
		block_stop(st, index++);
	}
	for (size_t i = 0; i < r->ncalls; i++, index++) {
		const char *args = r->calls[i].arguments;
		size_t len = strlen(args);
		cJSON *b = event_new("tool_use");
		cJSON_AddStringToObject(b, "id", r->call_ids[i]);
		cJSON_AddStringToObject(b, "name", r->calls[i].name);
		cJSON_AddObjectToObject(b, "input");
		block_start(st, index, b);
		block_delta(st, index, "input_json_delta", "partial_json", "", 0);
		for (size_t off = 0, n; off < len; off += n) {
			n = stub_arguments_piece(args, len, off);
			block_delta(st, index, "input_json_delta", "partial_json", args + off, n);
		}
		block_stop(st, index);
	}
	j = event_new("message_delta");
	add_stop(r, cJSON_AddObjectToObject(j, "delta"), false);
	add_output_tokens(r, cJSON_AddObjectToObject(j, "usage"));
	event_send(st, "message_delta", j);
	event_send(st, "message_stop", event_new("message_stop"));
}

const struct stub_api stub_api_anthropic_messages = {
	.name = "anthropic-messages",
	.path = "/v1/messages",
	.call_prefix = "toolu_stub_",
	.read = anthropic_read,
	.reply = anthropic_reply,
	.stream = anthropic_stream,
	.stream_error = anthropic_stream_error,
	.error = anthropic_error,
};
