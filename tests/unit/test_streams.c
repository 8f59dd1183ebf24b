/* test_streams.c: each provider's stream assembler, fed the vendors'
 * recorded streams (tests/fixtures/sse) in one piece and byte by byte, must
 * give the reply the non-streaming parse gives; and each way a stream
 * fails is an error naming its event. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "redact.h"
#include "suite/suite.h"
#include "sse.h"
#include "support.h"
#include "util.h"

/* The events' clock: each event comes 10 ms after the one before. */
struct feed {
	struct provider_stream *s;
	double now;
};

static int on_event(void *ctx, const struct sse_event *ev, char **err)
{
	struct feed *f = ctx;

	f->now += 10;
	return provider_stream_event(f->s, ev, f->now, err);
}

/* stream_text: the stream text[0..n) of api name fed in pieces of chunk
 * bytes (0: whole), made a parsed reply r; -1 and *err where it fails. */
static int stream_text_to(const char *name, const void *priv, const struct redact *rd,
			  const char *text, size_t n, size_t chunk, struct reply *r, char **err)
{
	const struct provider *p = provider_find(name);
	struct feed f = {.s = provider_stream_new(p, priv, rd)};
	struct sse sse;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	r->status = 200;
	sse_init(&sse, (size_t)1 << 20, on_event, &f);
	for (size_t at = 0; rc == 0 && at < n; at += chunk ? chunk : n)
		rc = sse_feed(&sse, text + at, chunk && n - at > chunk ? chunk : n - at, err);
	if (rc == 0)
		rc = sse_finish(&sse, err);
	if (rc == 0)
		rc = provider_stream_end(f.s, r, err);
	if (rc == 0)
		rc = provider_parse_reply(p, priv, r, err);
	sse_release(&sse);
	provider_stream_free(f.s);
	return rc;
}

static int stream_text(const char *name, const char *text, size_t n, size_t chunk,
		       struct reply *r, char **err)
{
	return stream_text_to(name, NULL, NULL, text, n, chunk, r, err);
}

/* stream_fixture: tests/fixtures/sse/file as a reply of api name, after
 * checking that every chunking gives the same one. */
static int stream_fixture(const char *name, const char *file, struct reply *r, char **err)
{
	char *path = xasprintf("%s/sse/%s", test_fixtures(), file), *why = NULL;
	size_t n;
	char *text = util_read_file(path, (size_t)1 << 20, &n, &why);
	struct reply bytewise;
	char *err1 = NULL;
	int rc, rc1;

	if (!text)
		fail_msg("%s", why);
	rc = stream_text(name, text, n, 0, r, err);
	rc1 = stream_text(name, text, n, 1, &bytewise, &err1);
	assert_int_equal(rc, rc1);
	if (rc == 0) {
		assert_string_equal(r->raw, bytewise.raw);
		assert_true(r->ttft_ms == bytewise.ttft_ms);
	} else {
		assert_string_equal(*err, err1);
	}
	reply_release(&bytewise);
	free(err1);
	free(text);
	free(path);
	return rc;
}

static void assert_usage(const struct reply *r, long long input, long long output,
			 long long total, long long cached)
{
	assert_int_equal(r->usage.input, input);
	assert_int_equal(r->usage.output, output);
	assert_int_equal(r->usage.total, total);
	assert_int_equal(r->usage.cached, cached);
}

/* fail_fixture: the reason fixture file of api name fails with. */
static void assert_fails(const char *name, const char *file, const char *reason)
{
	struct reply r;
	char *err = NULL;

	assert_int_equal(stream_fixture(name, file, &r, &err), -1);
	assert_string_equal(err, reason);
	free(err);
	reply_release(&r);
}

static void test_chat(void **state)
{
	struct reply r;
	char *err = NULL;
	const cJSON *choices;

	assert_int_equal(stream_fixture("openai-chat", "openai-chat-text-usage.sse", &r, &err), 0);
	assert_string_equal(r.content, "Canary probe received. All systems nominal.");
	assert_int_equal(r.ntool_calls, 0);
	assert_usage(&r, 1536, 9, 1545, 1280);
	assert_int_equal(r.usage.reasoning, 0);
	/* The first token came with the second event. */
	assert_true(r.ttft_ms == 20);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "system_fingerprint")),
			    "fp_cnry01");
	choices = cJSON_GetObjectItem(r.json, "choices");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(choices->child,
								     "finish_reason")), "stop");
	reply_release(&r);

	assert_int_equal(stream_fixture("openai-chat", "openai-chat-tool-calls-parallel.sse", &r,
					&err), 0);
	assert_string_equal(r.content, "");
	assert_int_equal(r.ntool_calls, 2);
	assert_string_equal(r.tool_calls[0].id, "call_cny0A1forecast");
	assert_string_equal(r.tool_calls[0].name, "get_forecast");
	assert_string_equal(r.tool_calls[0].arguments_raw, "{\"city\":\"Oslo\"}");
	assert_string_equal(r.tool_calls[1].id, "call_cny0B2hours");
	assert_string_equal(r.tool_calls[1].name, "get_opening_hours");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r.tool_calls[1].arguments,
								     "venue")), "Munch");
	assert_usage(&r, 142, 48, 190, 0);
	reply_release(&r);

	assert_int_equal(stream_fixture("openai-chat", "openai-chat-refusal.sse", &r, &err), 0);
	assert_string_equal(r.content, "I can't help with that request.");
	reply_release(&r);

	/* n = 2: both choices, in index order, each with its finish reason. */
	assert_int_equal(stream_fixture("openai-chat", "openai-chat-n2-length.sse", &r, &err), 0);
	assert_string_equal(r.content, "Alpha");
	choices = cJSON_GetObjectItem(r.json, "choices");
	assert_int_equal(cJSON_GetArraySize(choices), 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
				    cJSON_GetObjectItem(cJSON_GetArrayItem(choices, 1), "message"),
				    "content")), "Beta gamma");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(choices, 1),
								     "finish_reason")), "length");
	reply_release(&r);

	assert_fails("openai-chat", "openai-chat-midstream-error.sse",
		     "event 4 ('message'): stream error server_error: Generation was interrupted "
		     "by an internal error. Retry the request.");
}

static void test_anthropic(void **state)
{
	struct reply r;
	char *err = NULL;

	assert_int_equal(stream_fixture("anthropic-messages", "anthropic-messages-text.sse", &r,
					&err), 0);
	assert_string_equal(r.content, "Canary probe received. All systems nominal.");
	assert_true(r.ttft_ms == 40);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "stop_reason")),
			    "end_turn");
	reply_release(&r);

	assert_int_equal(stream_fixture("anthropic-messages", "anthropic-messages-tool-use.sse", &r,
					&err), 0);
	assert_string_equal(r.content, "Checking both now.");
	assert_int_equal(r.ntool_calls, 2);
	assert_string_equal(r.tool_calls[0].id, "toolu_01CnryForecast000000000001");
	assert_string_equal(r.tool_calls[0].name, "get_forecast");
	assert_string_equal(r.tool_calls[0].arguments_raw, "{\"city\":\"Oslo\"}");
	assert_string_equal(r.tool_calls[1].name, "get_opening_hours");
	assert_string_equal(r.tool_calls[1].arguments_raw, "{\"venue\":\"Munch\"}");
	/* message_delta's counts replace message_start's. */
	assert_usage(&r, 512 + 430, 96, 512 + 430 + 96, 0);
	reply_release(&r);

	assert_int_equal(stream_fixture("anthropic-messages", "anthropic-messages-refusal.sse", &r,
					&err), 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "stop_reason")),
			    "refusal");
	reply_release(&r);

	assert_fails("anthropic-messages", "anthropic-messages-error.sse",
		     "event 4 ('error'): stream error overloaded_error: Overloaded");
}

static void test_responses(void **state)
{
	struct reply r;
	char *err = NULL;

	assert_int_equal(stream_fixture("openai-responses", "openai-responses-text.sse", &r, &err),
			 0);
	assert_string_equal(r.content, "Canary probe received. All systems nominal.");
	assert_true(r.ttft_ms == 50);
	reply_release(&r);

	assert_int_equal(stream_fixture("openai-responses", "openai-responses-function-calls.sse",
					&r, &err), 0);
	assert_int_equal(r.ntool_calls, 2);
	assert_string_equal(r.tool_calls[0].id, "call_cnryA1");
	assert_string_equal(r.tool_calls[0].arguments_raw, "{\"city\":\"Oslo\"}");
	assert_string_equal(r.tool_calls[1].arguments_raw, "{\"city\":\"Bergen\"}");
	assert_usage(&r, 96, 38, 134, 0);
	reply_release(&r);

	assert_int_equal(stream_fixture("openai-responses", "openai-responses-refusal.sse", &r,
					&err), 0);
	assert_string_equal(r.content, "I can't help with that request.");
	reply_release(&r);

	assert_int_equal(stream_fixture("openai-responses", "openai-responses-incomplete.sse", &r,
					&err), -1);
	assert_non_null(strstr(err, "response incomplete: max_output_tokens"));
	free(err);
	err = NULL;
	reply_release(&r);

	assert_int_equal(stream_fixture("openai-responses", "openai-responses-failed.sse", &r,
					&err), -1);
	assert_non_null(strstr(err, "response failed:"));
	free(err);
	err = NULL;
	reply_release(&r);

	assert_fails("openai-responses", "openai-responses-error-documented.sse",
		     "event 2 ('error'): stream error rate_limit_exceeded: Request rate exceeded "
		     "while generating; retry later.");
	assert_fails("openai-responses", "openai-responses-error-observed-nested.sse",
		     "event 2 ('error'): stream error too_many_requests: Too many requests in "
		     "flight; retry later.");
}

/* A response.completed whose output is empty: the items the events gave. */
static void test_responses_assembled(void **state)
{
	static const char text[] =
		"event: response.output_item.added\n"
		"data: {\"output_index\":0,\"item\":{\"type\":\"message\",\"content\":[]}}\n\n"
		"event: response.output_text.delta\n"
		"data: {\"output_index\":0,\"content_index\":0,\"delta\":\"Hi\"}\n\n"
		"event: response.output_item.added\n"
		"data: {\"output_index\":1,\"item\":{\"type\":\"function_call\",\"call_id\":\"c1\","
		"\"name\":\"f\",\"arguments\":\"\"}}\n\n"
		"event: response.function_call_arguments.delta\n"
		"data: {\"output_index\":1,\"delta\":\"{\\\"a\\\":1}\"}\n\n"
		"event: response.completed\n"
		"data: {\"response\":{\"status\":\"completed\",\"output\":[]}}\n\n";
	struct reply r;
	char *err = NULL;

	assert_int_equal(stream_text("openai-responses", text, sizeof(text) - 1, 7, &r, &err), 0);
	assert_string_equal(r.content, "Hi");
	assert_int_equal(r.ntool_calls, 1);
	assert_string_equal(r.tool_calls[0].arguments_raw, "{\"a\":1}");
	reply_release(&r);
}

/* api: http reads each event at the target's pointers and hands its parse
 * a reply with the text, calls and counts where its reply pointers look. */
static void test_http(void **state)
{
	static const char text[] =
		"data: {\"delta\":\"Hel\"}\n\n"
		": a comment\n\n"
		"data: {\"delta\":\"lo\",\"calls\":[{\"name\":\"f\",\"arguments\":{\"a\":1}}]}\n\n"
		"data: {\"delta\":\"\",\"done\":true,\"meter\":{\"in\":5}}\n\n";
	static const char failed[] = "data: {\"delta\":\"a\"}\n\ndata: {\"error\":{\"code\":7}}\n\n";
	static const char unfinished[] = "data: {\"delta\":\"a\"}\n\n";
	const struct provider *p = provider_find("http");
	struct target t = {.provider = p, .priv = xcalloc(1, p->priv_size)};
	char content[] = "/reply/text", calls[] = "/trace/calls", in[] = "/meter/in";
	char ev_text[] = "/delta", ev_calls[] = "/calls", ev_done[] = "/done", ev_error[] = "/error";
	struct reply r;
	char *err = NULL;

	*(char **)test_option(&t, "reply/content") = content;
	*(char **)test_option(&t, "reply/tool_calls/at") = calls;
	*(char **)test_option(&t, "reply/usage/input") = in;
	assert_false(provider_can_stream(p, t.priv));
	*(char **)test_option(&t, "reply/events/text") = ev_text;
	*(char **)test_option(&t, "reply/events/tool_calls") = ev_calls;
	*(char **)test_option(&t, "reply/events/done") = ev_done;
	*(char **)test_option(&t, "reply/events/error") = ev_error;
	assert_true(provider_can_stream(p, t.priv));

	assert_int_equal(stream_text_to("http", t.priv, NULL, text, sizeof(text) - 1, 5, &r, &err), 0);
	assert_string_equal(r.content, "Hello");
	assert_int_equal(r.ntool_calls, 1);
	assert_string_equal(r.tool_calls[0].name, "f");
	assert_string_equal(r.tool_calls[0].arguments_raw, "{\"a\":1}");
	assert_int_equal(r.usage.input, 5);
	assert_true(r.ttft_ms == 10);
	reply_release(&r);

	assert_int_equal(stream_text_to("http", t.priv, NULL, failed, sizeof(failed) - 1, 0, &r, &err),
			 -1);
	assert_string_equal(err, "event 2 ('message'): stream error at /error: {\"code\":7}");
	free(err);
	err = NULL;
	reply_release(&r);
	assert_int_equal(stream_text_to("http", t.priv, NULL, unfinished, sizeof(unfinished) - 1, 0, &r,
					&err), -1);
	assert_string_equal(err, "the stream ended after event 1 ('message') without data: [DONE] "
			    "or an event with /done");
	free(err);
	reply_release(&r);
	free(t.priv);
}

/* A secret in an error event is masked before the reason is cut, so that
 * no part of it shows, even where the cut falls inside it. */
static void test_secret(void **state)
{
	static const char secret[] = "sk-live-0123456789abcdefghij";
	struct redact rd = {0};
	struct buf text;
	struct reply r;
	char *err = NULL;

	redact_add(&rd, secret);
	buf_init(&text, BUF_MAX_DEFAULT);
	buf_addstr(&text, "event: error\ndata: {\"error\": {\"type\": \"x\", \"message\": \"");
	for (int i = 0; i < 270; i++)
		buf_addch(&text, 'm');
	buf_addf(&text, " %s\"}}\n\n", secret);
	assert_int_equal(stream_text_to("anthropic-messages", NULL, &rd, text.data, text.len, 0,
					&r, &err), -1);
	assert_null(strstr(err, "sk-live"));
	assert_non_null(strstr(err, REDACT_MASK));
	assert_true(strlen(err) <= strlen("event 1 ('error'): ") + PROVIDER_REASON_MAX);
	free(err);
	reply_release(&r);
	buf_release(&text);
	redact_release(&rd);
}

/* Each way a stream fails names its event. */
static void test_failures(void **state)
{
	static const struct {
		const char *api, *text, *reason;
	} cases[] = {
		{"openai-chat", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n",
		 "the stream ended after event 1 ('message') without data: [DONE]"},
		{"openai-chat", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"cho",
		 NULL},
		{"openai-chat", "data: {\"choices\":[\n\n",
		 "event 1 ('message'): malformed event: truncated: unexpected end of input at byte 12"},
		{"openai-chat", "data: {\"choices\": [], \"key\": sk-secret-0123456789}\n\n",
		 "event 1 ('message'): malformed event: invalid JSON at byte 23"},
		{"openai-chat", "data: [DONE]\n\ndata: {}\n\n",
		 "event 2 ('message'): an event after data: [DONE]"},
		{"openai-chat", "", "the stream ended without any event (no data: [DONE])"},
		{"anthropic-messages", "event: message_start\ndata: {\"message\":{\"content\":[]}}\n\n"
		 "event: content_block_delta\ndata: {\"index\":0,\"delta\":{\"type\":\"text_delta\","
		 "\"text\":\"a\"}}\n\n",
		 "event 2 ('content_block_delta'): a delta of a content block that did not start"},
		{"anthropic-messages", "event: message_start\ndata: {\"message\":{\"content\":[]}}\n\n",
		 "the stream ended after event 1 ('message_start') without message_stop"},
		{"anthropic-messages", "event: content_block_start\ndata: {}\n\n",
		 "event 1 ('content_block_start'): an event before message_start"},
		{"openai-responses", "event: response.created\ndata: {\"response\":{}}\n\n",
		 "the stream ended after event 1 ('response.created') without response.completed"},
		{"openai-responses", "event: response.output_text.delta\ndata: {\"delta\":\"a\"}\n\n",
		 "event 1 ('response.output_text.delta'): malformed event: no output_index"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct reply r;
		char *err = NULL;

		assert_int_equal(stream_text(cases[i].api, cases[i].text, strlen(cases[i].text), 0,
					     &r, &err), -1);
		if (cases[i].reason)
			assert_string_equal(err, cases[i].reason);
		else
			assert_non_null(strstr(err, "the stream ended inside event 2"));
		free(err);
		reply_release(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chat),
		cmocka_unit_test(test_anthropic),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_responses_assembled),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
