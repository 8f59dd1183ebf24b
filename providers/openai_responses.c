/* providers/openai_responses.c: api openai-responses, the OpenAI Responses
 * API (POST /v1/responses). */
#include "provider.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "suite/suite.h"
#include "sse.h"
#include "util.h"

/* responses_tools: the case's tools as flat function tools (not strict, as
 * openai-chat's are by default) and its tool_choice, when it offers tools. */
static void responses_tools(cJSON *body, const struct suite_case *c)
{
	cJSON *tools = suite_tools_json(c, "parameters"), *tool, *named;

	if (!tools)
		return;
	cJSON_ArrayForEach(tool, tools) {
		cJSON_AddStringToObject(tool, "type", "function");
		cJSON_AddFalseToObject(tool, "strict");
	}
	cJSON_AddItemToObject(body, "tools", tools);
	if (suite_tool_choice_word(c->tool_choice)) {
		cJSON_AddStringToObject(body, "tool_choice", suite_tool_choice_word(c->tool_choice));
	} else if (c->tool_choice == TOOL_CHOICE_NAMED) {
		named = cJSON_AddObjectToObject(body, "tool_choice");
		cJSON_AddStringToObject(named, "type", "function");
		cJSON_AddStringToObject(named, "name", c->tool_choice_name);
	}
}

/* responses_build: {"model", "instructions", "input", "tools",
 * "tool_choice", ...request}: the
 * system messages before the others become the instructions, joined by
 * blank lines; input is the text of a lone user message, else the other
 * messages as input items (a later system message stays one). */
static char *responses_build(const struct target *t, const struct suite_case *c,
			     const struct tmpl_ctx *ctx, char **err)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *items = cJSON_CreateArray();
	const cJSON *m, *lone = NULL;
	struct buf instructions;
	size_t nsystem = 0;
	bool leading = true;
	char *text = NULL;

	buf_init(&instructions, BUF_MAX_DEFAULT);
	cJSON_ArrayForEach(m, c->messages) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
		bool system = cJSON_IsString(role) && strcmp(role->valuestring, "system") == 0;

		if (system && leading) {
			if (nsystem++)
				buf_addstr(&instructions, "\n\n");
			provider_add_text(&instructions, cJSON_GetObjectItemCaseSensitive(m, "content"));
			continue;
		}
		leading = false;
		cJSON_AddItemToArray(items, cJSON_Duplicate(m, 1));
	}
	if (cJSON_GetArraySize(items) == 1) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(items->child, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(items->child, "content");

		if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0 &&
		    cJSON_IsString(content))
			lone = content;
	}
	if (t->model)
		cJSON_AddStringToObject(body, "model", t->model);
	if (nsystem)
		cJSON_AddStringToObject(body, "instructions",
					instructions.data ? instructions.data : "");
	if (lone) {
		cJSON_AddStringToObject(body, "input", lone->valuestring);
		cJSON_Delete(items);
	} else {
		cJSON_AddItemToObject(body, "input", items);
	}
	responses_tools(body, c);
	if (suite_streams(t, c))
		cJSON_AddTrueToObject(body, "stream");
	if (suite_merge_request(body, t, c, ctx, err) == 0)
		text = provider_json_text(body);
	cJSON_Delete(body);
	buf_release(&instructions);
	return text;
}

static const char *str_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* responses_status: 0 for a finished response (status "completed", or no
 * status at all), else -1 and *err naming why it is not: the reason of an
 * incomplete one, the error of a failed one. */
static int responses_status(struct reply *r, char **err)
{
	const char *status = str_of(r->json, "status");
	const cJSON *details = cJSON_GetObjectItemCaseSensitive(r->json, "incomplete_details");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(r->json, "error");

	if (!status || strcmp(status, "completed") == 0)
		return 0;
	if (strcmp(status, "incomplete") == 0) {
		const char *why = str_of(details, "reason");

		*err = provider_reason(r, why ? "response incomplete:" : "response incomplete",
				       NULL, why);
	} else if (strcmp(status, "failed") == 0) {
		const char *code = str_of(error, "code"), *msg = str_of(error, "message");

		*err = provider_reason(r, code || msg ? "response failed:" : "response failed",
				       code, msg);
	} else {
		*err = provider_reason(r, "response not completed: status", NULL, status);
	}
	return -1;
}

/* responses_message: the output_text parts of a message item appended to
 * text, its refusal parts to refusal. */
static void responses_message(const cJSON *item, struct buf *text, struct buf *refusal)
{
	const cJSON *part;

	cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(item, "content")) {
		const char *type = str_of(part, "type");

		if (!type)
			continue;
		if (strcmp(type, "output_text") == 0 && str_of(part, "text"))
			buf_addstr(text, str_of(part, "text"));
		else if (strcmp(type, "refusal") == 0 && str_of(part, "refusal"))
			buf_addstr(refusal, str_of(part, "refusal"));
	}
}

/* The counts of a Responses usage object. */
static const struct usage_field responses_usage[] = {
	{"/input_tokens", offsetof(struct usage, input)},
	{"/output_tokens", offsetof(struct usage, output)},
	{"/total_tokens", offsetof(struct usage, total)},
	{"/input_tokens_details/cached_tokens", offsetof(struct usage, cached)},
	{"/output_tokens_details/reasoning_tokens", offsetof(struct usage, reasoning)},
	{NULL, 0},
};

/* responses_parse: usage; the output_text of the message items (their refusal
 * when they hold no text) and the function_call items; other items
 * (reasoning, hosted tools) are skipped. */
static int responses_parse(const void *priv, struct reply *r, char **err)
{
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	const cJSON *output = cJSON_GetObjectItemCaseSensitive(r->json, "output");
	const cJSON *item;
	struct buf text, refusal;
	size_t i = 0;
	int rc = -1;

	provider_read_usage(r, cJSON_GetObjectItemCaseSensitive(r->json, "usage"), responses_usage);
	if (responses_status(r, err) < 0)
		return -1;
	if (error && !cJSON_IsNull(error)) {
		*err = provider_api_error(r);
		return -1;
	}
	if (!cJSON_IsArray(output)) {
		*err = xstrdup("reply has no output[] array");
		return -1;
	}
	buf_init(&text, BUF_MAX_DEFAULT);
	buf_init(&refusal, BUF_MAX_DEFAULT);
	for (item = output->child; item; item = item->next, i++) {
		const char *type = str_of(item, "type");

		if (type && strcmp(type, "message") == 0) {
			responses_message(item, &text, &refusal);
		} else if (type && strcmp(type, "function_call") == 0) {
			if (!str_of(item, "name")) {
				*err = xasprintf("reply output[%zu] (function_call) has no name", i);
				goto out;
			}
			reply_add_tool_call(r, str_of(item, "call_id"), str_of(item, "name"),
					    cJSON_GetObjectItemCaseSensitive(item, "arguments"));
		}
	}
	r->content = text.len ? buf_detach(&text, NULL) : buf_detach(&refusal, NULL);
	rc = 0;
out:
	buf_release(&text);
	buf_release(&refusal);
	return rc;
}

/* responses_append: a message item with the text (when there is any), a
 * function_call item per call, then a function_call_output item per
 * result. */
static void responses_append(cJSON *conv, const struct reply *r, const char *const *results)
{
	if (r->content[0] || !r->ntool_calls) {
		cJSON *msg = cJSON_CreateObject();
		cJSON *part = cJSON_CreateObject();

		cJSON_AddStringToObject(msg, "type", "message");
		cJSON_AddStringToObject(msg, "role", "assistant");
		cJSON_AddStringToObject(part, "type", "output_text");
		cJSON_AddStringToObject(part, "text", r->content);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(msg, "content"), part);
		cJSON_AddItemToArray(conv, msg);
	}
	for (size_t i = 0; i < r->ntool_calls; i++) {
		const struct tool_call *tc = &r->tool_calls[i];
		cJSON *item = cJSON_CreateObject();

		cJSON_AddStringToObject(item, "type", "function_call");
		cJSON_AddStringToObject(item, "call_id", tc->id);
		cJSON_AddStringToObject(item, "name", tc->name);
		cJSON_AddStringToObject(item, "arguments",
					tc->arguments_raw[0] ? tc->arguments_raw : "{}");
		cJSON_AddItemToArray(conv, item);
	}
	for (size_t i = 0; results && i < r->ntool_calls; i++) {
		cJSON *item = cJSON_CreateObject();

		cJSON_AddStringToObject(item, "type", "function_call_output");
		cJSON_AddStringToObject(item, "call_id", r->tool_calls[i].id);
		cJSON_AddStringToObject(item, "output", results[i]);
		cJSON_AddItemToArray(conv, item);
	}
}

/* responses_judge_build: the system text as instructions, the user message
 * as input, the judge's temperature and max_output_tokens (when set), and
 * a JSON object answer. */
static char *responses_judge_build(const struct judge_config *j, const char *system,
				   const char *user)
{
	cJSON *body = cJSON_CreateObject();
	cJSON *format;
	char *text;

	if (j->model)
		cJSON_AddStringToObject(body, "model", j->model);
	cJSON_AddStringToObject(body, "instructions", system);
	cJSON_AddStringToObject(body, "input", user);
	cJSON_AddNumberToObject(body, "temperature", j->temperature);
	if (j->max_tokens > 0)
		cJSON_AddNumberToObject(body, "max_output_tokens", j->max_tokens);
	format = cJSON_AddObjectToObject(cJSON_AddObjectToObject(body, "text"), "format");
	cJSON_AddStringToObject(format, "type", "json_object");
	text = provider_json_text(body);
	cJSON_Delete(body);
	return text;
}

/* responses_judge_refusal: the first refusal part of a message item, when
 * it says something. */
static const char *responses_judge_refusal(const struct reply *r, bool *quote)
{
	const cJSON *item, *part;

	*quote = true;
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(r->json, "output")) {
		cJSON_ArrayForEach(part, cJSON_GetObjectItemCaseSensitive(item, "content")) {
			const char *type = str_of(part, "type");
			const char *refusal = str_of(part, "refusal");

			if (type && strcmp(type, "refusal") == 0 && refusal && refusal[0])
				return refusal;
		}
	}
	return NULL;
}

/* A streamed reply: the last response object an event carried, and the
 * output items as parts {output_index, -1} (args: a function call's
 * arguments) with their content parts {output_index, content_index}
 * (text: output_text, args: refusal). */
struct responses_stream {
	cJSON *doc;
	struct stream_parts parts;
	bool done;                 /* response.completed, .failed or .incomplete came */
};

/* responses_part: the part of j's output_index and content_index (-1:
 * the item itself); NULL and *err when j has no output_index. */
static struct stream_part *responses_part(struct responses_stream *rs, const cJSON *j,
					  bool content, char **err)
{
	const cJSON *oi = cJSON_GetObjectItemCaseSensitive(j, "output_index");
	const cJSON *ci = cJSON_GetObjectItemCaseSensitive(j, "content_index");

	if (!cJSON_IsNumber(oi) || oi->valuedouble < 0 || oi->valuedouble > 1e6 ||
	    (content && (!cJSON_IsNumber(ci) || ci->valuedouble < 0 || ci->valuedouble > 1e6))) {
		*err = xasprintf("malformed event: no %s", cJSON_IsNumber(oi) ? "content_index"
									      : "output_index");
		return NULL;
	}
	return stream_parts_get(&rs->parts, (long)oi->valuedouble,
				content ? (long)ci->valuedouble : -1, true);
}

/* The events that add a fragment: which buffer of which part. */
static const struct {
	const char *type;
	bool content;              /* a content part's, else the item's */
	bool args;                 /* to args, else to text */
} responses_deltas[] = {
	{"response.output_text.delta", true, false},
	{"response.refusal.delta", true, true},
	{"response.function_call_arguments.delta", false, true},
};

/* The events that end the response, with the response in them. */
static const char *const responses_ends[] = {
	"response.completed", "response.failed", "response.incomplete",
};

/* responses_take: replace *slot with a copy of j's object member key;
 * -1 and *err when j has none. */
static int responses_take(cJSON **slot, const cJSON *j, const char *key, char **err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (!cJSON_IsObject(v)) {
		*err = xasprintf("malformed event: no %s", key);
		return -1;
	}
	cJSON_Delete(*slot);
	*slot = cJSON_Duplicate(v, 1);
	return 0;
}

/* responses_stream_event: one event of a Responses stream. */
static int responses_stream_event(void *st, const void *priv, const struct sse_event *ev,
				  char **err)
{
	struct responses_stream *rs = st;
	struct stream_part *part;
	const char *delta;
	int rc = -1;
	cJSON *j;

	if (rs->done) {
		*err = xstrdup("an event after the response ended");
		return -1;
	}
	if (!(j = stream_event_json(ev, err)))
		return -1;
	if (stream_event_is(ev, "error")) {
		*err = stream_error_reason(j);
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(responses_deltas); i++) {
		if (!stream_event_is(ev, responses_deltas[i].type))
			continue;
		delta = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "delta"));
		if (!(part = responses_part(rs, j, responses_deltas[i].content, err)))
			goto out;
		if (delta)
			buf_addstr(responses_deltas[i].args ? &part->args : &part->text, delta);
		rc = delta && delta[0];
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(responses_ends); i++) {
		if (stream_event_is(ev, responses_ends[i])) {
			rs->done = true;
			rc = responses_take(&rs->doc, j, "response", err);
			goto out;
		}
	}
	rc = 0;
	if (stream_event_is(ev, "response.created") || stream_event_is(ev, "response.in_progress")) {
		rc = responses_take(&rs->doc, j, "response", err);
	} else if (stream_event_is(ev, "response.output_item.added") ||
		   stream_event_is(ev, "response.output_item.done")) {
		if (!(part = responses_part(rs, j, false, err)) ||
		    responses_take(&part->item, j, "item", err) < 0)
			rc = -1;
		else
			part->whole = stream_event_is(ev, "response.output_item.done");
	}
	/* The .done events of text and arguments repeat what the deltas
	 * gave, and output_item.done holds it all. */
out:
	cJSON_Delete(j);
	return rc;
}

/* responses_output: the output items the events assembled, in order. */
static cJSON *responses_output(struct responses_stream *rs)
{
	cJSON *output = cJSON_CreateArray(), *item = NULL, *content = NULL, *c;

	if (rs->parts.n)
		qsort(rs->parts.v, rs->parts.n, sizeof(*rs->parts.v), stream_part_order);
	for (size_t i = 0; i < rs->parts.n; i++) {
		struct stream_part *p = &rs->parts.v[i];

		if (p->key[1] < 0) {
			item = p->whole || !p->item ? NULL : p->item;
			if (p->item)
				cJSON_AddItemToArray(output, p->item);
			p->item = NULL;
			content = NULL;
			if (item && p->args.len) {
				cJSON_DeleteItemFromObjectCaseSensitive(item, "arguments");
				cJSON_AddStringToObject(item, "arguments", p->args.data);
			}
			continue;
		}
		if (!item)
			continue; /* whole already, or of an item that never came */
		if (!content) {
			cJSON_DeleteItemFromObjectCaseSensitive(item, "content");
			content = cJSON_AddArrayToObject(item, "content");
		}
		c = cJSON_CreateObject();
		if (p->args.len) {
			cJSON_AddStringToObject(c, "type", "refusal");
			cJSON_AddStringToObject(c, "refusal", p->args.data);
		} else {
			cJSON_AddStringToObject(c, "type", "output_text");
			cJSON_AddStringToObject(c, "text", p->text.len ? p->text.data : "");
		}
		cJSON_AddItemToArray(content, c);
	}
	return output;
}

/* responses_stream_end: the response the last event carried; its output
 * the items the events gave when it holds none. */
static cJSON *responses_stream_end(void *st, const void *priv, char **err)
{
	struct responses_stream *rs = st;
	const cJSON *output;
	cJSON *doc;

	if (!rs->done) {
		*err = xstrdup("response.completed");
		return NULL;
	}
	doc = rs->doc;
	rs->doc = NULL;
	output = cJSON_GetObjectItemCaseSensitive(doc, "output");
	if (rs->parts.n && (!cJSON_IsArray(output) || !cJSON_GetArraySize(output))) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "output");
		cJSON_AddItemToObject(doc, "output", responses_output(rs));
	}
	return doc;
}

static void responses_stream_release(void *st)
{
	struct responses_stream *rs = st;

	cJSON_Delete(rs->doc);
	stream_parts_release(&rs->parts);
}

static const char *const responses_headers[] = {NULL};
static const char *const responses_roles[] = {"system", "user", "assistant", NULL};

const struct provider provider_openai_responses = {
	.name = "openai-responses",
	.headers = responses_headers,
	.roles = responses_roles,
	.build = responses_build,
	.parse = responses_parse,
	.append = responses_append,
	.api_error = provider_api_error,
	.judge_build = responses_judge_build,
	.judge_refusal = responses_judge_refusal,
	.stream_size = sizeof(struct responses_stream),
	.stream_event = responses_stream_event,
	.stream_end = responses_stream_end,
	.stream_release = responses_stream_release,
};
