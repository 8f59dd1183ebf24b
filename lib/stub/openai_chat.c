/* stub/openai_chat.c: the stub's OpenAI Chat Completions
 * (POST /v1/chat/completions): a chat.completion, or with "stream": true
 * chat.completion.chunk events ending with [DONE], the usage chunk before
 * it when stream_options.include_usage asks (docs/stub.md shows them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stub/api.h"
#include "stub/stream.h"

/* The OpenAI error type of an HTTP status. */
static const struct {
	int status;
	const char *type;
} chat_error_types[] = {
	{400, "invalid_request_error"}, {401, "authentication_error"},
	{403, "permission_error"},      {404, "invalid_request_error"},
	{408, "timeout_error"},         {409, "conflict_error"},
	{413, "invalid_request_error"}, {422, "invalid_request_error"},
	{429, "rate_limit_error"},      {500, "server_error"},
	{502, "server_error"},          {503, "server_error"},
	{504, "timeout_error"},         {529, "overloaded_error"},
};

static bool chat_read(const cJSON *body, struct stub_conversation *c)
{
	const cJSON *msgs = stub_json_list(body, "messages"), *m, *call;
	if (!msgs)
		return false;
	cJSON_ArrayForEach(m, msgs) {
		const char *role = stub_json_str(m, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
		if (!role)
			continue;
		if (strcmp(role, "user") == 0) {
			stub_conversation_user(c, content);
		} else if (strcmp(role, "assistant") == 0) {
			stub_conversation_assistant(c);
			cJSON_ArrayForEach(call, stub_json_list(m, "tool_calls"))
				stub_conversation_call(
					c, stub_json_str(call, "id"),
					stub_json_str(cJSON_GetObjectItemCaseSensitive(call, "function"),
						      "name"));
		} else if (strcmp(role, "tool") == 0) {
			stub_conversation_result(c, stub_json_str(m, "tool_call_id"), content);
		}
	}
	return true;
}

static cJSON *chat_error(int status, const char *message)
{
	const char *type = status >= 500 ? "server_error" : "invalid_request_error";
	for (size_t i = 0; i < ARRAY_SIZE(chat_error_types); i++)
		if (chat_error_types[i].status == status)
			type = chat_error_types[i].type;
	cJSON *root = cJSON_CreateObject();
	cJSON *e = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "type", type);
	cJSON_AddNullToObject(e, "param");
	cJSON_AddNullToObject(e, "code");
	return root;
}

/* A mid-stream error is a data line holding an error body, without [DONE]. */
static cJSON *chat_stream_error(size_t index, const char **type)
{
	char *msg = xasprintf("stub stream error at event %zu", index);
	cJSON *j = chat_error(500, msg);
	free(msg);
	*type = NULL;
	return j;
}

static void add_string_or_null(cJSON *o, const char *key, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

/* What a completion and each of its chunks begin with. */
static cJSON *chat_head(const struct stub_reply *r, const char *object)
{
	char id[64];
	snprintf(id, sizeof(id), "chatcmpl-stub-%ld", r->number);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "id", id);
	cJSON_AddStringToObject(root, "object", object);
	cJSON_AddNumberToObject(root, "created", r->created);
	cJSON_AddStringToObject(root, "model", r->model);
	add_string_or_null(root, "system_fingerprint", r->fingerprint);
	return root;
}

static cJSON *chat_usage(const struct stub_reply *r)
{
	const struct stub_usage *u = &r->usage;
	cJSON *usage = cJSON_CreateObject();
	cJSON_AddNumberToObject(usage, "prompt_tokens", (double)u->input);
	cJSON_AddNumberToObject(usage, "completion_tokens", (double)u->output);
	cJSON_AddNumberToObject(usage, "total_tokens", (double)(u->input + u->output));
	cJSON *in = cJSON_AddObjectToObject(usage, "prompt_tokens_details");
	cJSON_AddNumberToObject(in, "cached_tokens", (double)u->cached);
	cJSON_AddNumberToObject(in, "audio_tokens", 0);
	cJSON *out = cJSON_AddObjectToObject(usage, "completion_tokens_details");
	cJSON_AddNumberToObject(out, "reasoning_tokens", (double)u->reasoning);
	cJSON_AddNumberToObject(out, "audio_tokens", 0);
	cJSON_AddNumberToObject(out, "accepted_prediction_tokens", 0);
	cJSON_AddNumberToObject(out, "rejected_prediction_tokens", 0);
	return usage;
}

static const char *chat_finish_reason(const struct stub_reply *r)
{
	return r->kind == STUB_TOOL_CALLS ? "tool_calls" : "stop";
}

static cJSON *chat_reply(const struct stub_reply *r)
{
	cJSON *root = chat_head(r, "chat.completion");
	cJSON *choice = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "choices"), choice);
	cJSON_AddNumberToObject(choice, "index", 0);
	cJSON *msg = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	add_string_or_null(msg, "content", r->kind == STUB_TEXT ? r->text : NULL);
	add_string_or_null(msg, "refusal", r->kind == STUB_REFUSAL ? r->text : NULL);
	if (r->kind == STUB_TOOL_CALLS) {
		cJSON *calls = cJSON_AddArrayToObject(msg, "tool_calls");
		for (size_t i = 0; i < r->ncalls; i++) {
			cJSON *c = cJSON_CreateObject();
			cJSON_AddItemToArray(calls, c);
			cJSON_AddStringToObject(c, "id", r->call_ids[i]);
			cJSON_AddStringToObject(c, "type", "function");
			cJSON *fn = cJSON_AddObjectToObject(c, "function");
			cJSON_AddStringToObject(fn, "name", r->calls[i].name);
			cJSON_AddStringToObject(fn, "arguments", r->calls[i].arguments);
		}
	}
	cJSON_AddArrayToObject(msg, "annotations");
	cJSON_AddNullToObject(choice, "logprobs");
	cJSON_AddStringToObject(choice, "finish_reason", chat_finish_reason(r));
	cJSON_AddItemToObject(root, "usage", chat_usage(r));
	cJSON_AddStringToObject(root, "service_tier", "default");
	return root;
}

/* Append one chunk whose only choice has delta (NULL: no choice at all,
 * the usage chunk). */
static void chat_chunk(const struct stub_reply *r, struct stub_stream *st, cJSON *delta,
		       const char *finish_reason)
{
	cJSON *root = chat_head(r, "chat.completion.chunk");
	cJSON *choices = cJSON_AddArrayToObject(root, "choices");
	if (delta) {
		cJSON *choice = cJSON_CreateObject();
		cJSON_AddItemToArray(choices, choice);
		cJSON_AddNumberToObject(choice, "index", 0);
		cJSON_AddItemToObject(choice, "delta", delta);
		cJSON_AddNullToObject(choice, "logprobs");
		add_string_or_null(choice, "finish_reason", finish_reason);
	}
	if (r->include_usage && delta)
		cJSON_AddNullToObject(root, "usage");
	else if (r->include_usage)
		cJSON_AddItemToObject(root, "usage", chat_usage(r));
	stub_stream_event(st, NULL, root, false);
}

/* The delta of tool call i: its head (id, type, name) or a piece of its
 * arguments. */
static cJSON *chat_call_delta(const struct stub_reply *r, size_t i, const char *head,
			      const char *piece, size_t len)
{
	cJSON *delta = cJSON_CreateObject();
	cJSON *c = cJSON_CreateObject();
	cJSON_AddItemToArray(cJSON_AddArrayToObject(delta, "tool_calls"), c);
	cJSON_AddNumberToObject(c, "index", (double)i);
	if (head) {
		cJSON_AddStringToObject(c, "id", head);
		cJSON_AddStringToObject(c, "type", "function");
	}
	cJSON *fn = cJSON_AddObjectToObject(c, "function");
	if (head)
		cJSON_AddStringToObject(fn, "name", r->calls[i].name);
	char *p = xstrndup(piece, len);
	cJSON_AddStringToObject(fn, "arguments", p);
	free(p);
	return delta;
}

static void chat_stream(const struct stub_reply *r, struct stub_stream *st)
{
	const char *key = r->kind == STUB_REFUSAL ? "refusal" : "content";
	cJSON *delta = cJSON_CreateObject();
	cJSON_AddStringToObject(delta, "role", "assistant");
	add_string_or_null(delta, "content", r->kind == STUB_TEXT && r->text ? "" : NULL);
	add_string_or_null(delta, "refusal", r->kind == STUB_REFUSAL ? "" : NULL);
	chat_chunk(r, st, delta, NULL);
	for (size_t i = 0; i < r->npieces; i++) {
		char *p = xstrndup(r->pieces[i].s, r->pieces[i].len);
		delta = cJSON_CreateObject();
		cJSON_AddStringToObject(delta, key, p);
		free(p);
		chat_chunk(r, st, delta, NULL);
	}
	for (size_t i = 0; i < r->ncalls; i++) {
		const char *args = r->calls[i].arguments;
		size_t len = strlen(args);
		chat_chunk(r, st, chat_call_delta(r, i, r->call_ids[i], "", 0), NULL);
		for (size_t off = 0, n; off < len; off += n) {
			n = stub_arguments_piece(args, len, off);
			chat_chunk(r, st, chat_call_delta(r, i, NULL, args + off, n), NULL);
		}
	}
	chat_chunk(r, st, cJSON_CreateObject(), chat_finish_reason(r));
	if (r->include_usage)
		chat_chunk(r, st, NULL, NULL);
	stub_stream_text(st, NULL, "[DONE]", true);
}

const struct stub_api stub_api_openai_chat = {
	.name = "openai-chat",
	.path = "/v1/chat/completions",
	.call_prefix = "call_",
	.read = chat_read,
	.reply = chat_reply,
	.stream = chat_stream,
	.stream_error = chat_stream_error,
	.error = chat_error,
};
