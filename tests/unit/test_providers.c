/* test_providers.c: request bodies and reply parsing of every provider, on
 * real-shaped replies from tests/fixtures/replies. */
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
#include "support.h"
#include "util.h"

static char *fixture_path(const char *name)
{
	const char *dir = getenv("FIXTURES");

	return xasprintf("%s/replies/%s", dir && *dir ? dir : "../tests/fixtures", name);
}

/* load: a reply with status and the body of fixture name. */
static void load(struct reply *r, long status, const char *name)
{
	char *path = fixture_path(name), *err = NULL;

	memset(r, 0, sizeof(*r));
	r->status = status;
	r->raw = util_read_file(path, (size_t)1 << 20, &r->raw_len, &err);
	if (!r->raw)
		fail_msg("%s", err);
	free(path);
}

/* set_body: a reply with status and a copy of body. */
static void set_body(struct reply *r, long status, const char *body, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->raw = xmalloc(len + 1);
	memcpy(r->raw, body, len);
	r->raw[len] = '\0';
	r->raw_len = len;
}

/* api: the provider named name, which must exist. */
static const struct provider *api(const char *name)
{
	const struct provider *p = provider_find(name);

	if (!p)
		fail_msg("no api '%s'", name);
	return p;
}

/* target_for: a target of api p with zeroed private state (the test frees
 * t.priv; it sets options through test_option()). */
static struct target target_for(const struct provider *p)
{
	struct target t;

	memset(&t, 0, sizeof(t));
	t.provider = p;
	t.priv = p->priv_size ? xcalloc(1, p->priv_size) : NULL;
	return t;
}

/* set_reply: the reply pointers of an http target (tool_calls NULL: none). */
static void set_reply(struct target *t, char *content, char *tool_calls)
{
	*(char **)test_option(t, "reply/content") = content;
	*(char **)test_option(t, "reply/tool_calls/at") = tool_calls;
}

/* parse: r parsed as a reply to target t. */
static int parse(const struct target *t, struct reply *r, char **err)
{
	return provider_parse_reply(t->provider, t->priv, r, err);
}

static bool valid_utf8_line(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3
			: (*p >> 3) == 30 ? 4 : 0;

		if (n == 0 || (n == 1 && (*p < ' ' || *p == 0x7f)))
			return false;
		for (int i = 1; i < n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		p += n;
	}
	return true;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void assert_one_line(const char *s)
{
	assert_non_null(s);
	assert_true(strlen(s) <= PROVIDER_REASON_MAX);
	assert_null(strchr(s, '\n'));
	assert_true(valid_utf8_line(s));
}

static void test_table(void **state)
{
	size_t n = 0;

	static const char *const names[] = {"openai-chat", "openai-responses",
					    "anthropic-messages", "http"};

	for (; provider_table[n]; n++)
		assert_ptr_equal(provider_find(provider_table[n]->name), provider_table[n]);
	assert_int_equal(n, ARRAY_SIZE(names));
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		assert_string_equal(provider_table[i]->name, names[i]);
	assert_null(provider_find("openai"));
	assert_null(provider_find(NULL));
	assert_null(api("openai-chat")->headers[0]);
	assert_string_equal(api("anthropic-messages")->headers[0],
			    "anthropic-version: 2023-06-01");
	assert_null(api("anthropic-messages")->headers[1]);
	/* The judge can use the APIs that build its request. */
	assert_non_null(api("openai-chat")->judge_build);
	assert_non_null(api("anthropic-messages")->judge_build);
	assert_non_null(api("openai-responses")->judge_build);
	assert_null(api("http")->judge_build);
}

/* Which roles an API takes, and where, comes from its table entry. */
static void test_role_fault(void **state)
{
	const struct provider *anthropic = api("anthropic-messages");
	char *why;

	why = provider_role_fault(anthropic, "tool", false);
	assert_string_equal(why, "role 'tool' is not supported by api anthropic-messages");
	free(why);
	why = provider_role_fault(anthropic, "system", true);
	assert_string_equal(why, "api anthropic-messages takes system messages only before the "
				 "others (move it to the start)");
	free(why);
	assert_null(provider_role_fault(anthropic, "system", false));
	assert_null(provider_role_fault(anthropic, "assistant", true));
	assert_null(provider_role_fault(api("openai-chat"), "tool", true));
	assert_null(provider_role_fault(api("openai-chat"), "system", true));
	assert_null(provider_role_fault(api("http"), "tool", true));
	/* Responses keeps a late system message as an input item. */
	why = provider_role_fault(api("openai-responses"), "tool", false);
	assert_string_equal(why, "role 'tool' is not supported by api openai-responses");
	free(why);
	assert_null(provider_role_fault(api("openai-responses"), "system", true));
}

static void test_openai_text(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct reply r;
	char *err = NULL;

	load(&r, 200, "openai_text.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "Our refund window is 30 days from the date of purchase.");
	assert_int_equal(r.ntool_calls, 0);
	assert_non_null(r.json);
	assert_string_equal(cJSON_GetObjectItem(r.json, "system_fingerprint")->valuestring,
			    "fp_2f406b9113");
	reply_release(&r);
}

static void test_openai_tool_calls(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct reply r;
	char *err = NULL;
	const cJSON *emails;

	load(&r, 200, "openai_tool_calls.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "");
	assert_int_equal(r.ntool_calls, 2);
	assert_string_equal(r.tool_calls[0].id, "call_Xk3vQ9mZ2bL7wR1t");
	assert_string_equal(r.tool_calls[0].name, "find_free_slot");
	assert_string_equal(r.tool_calls[0].arguments_raw,
			    "{\"attendee\":\"ana@example.com\",\"day\":\"tomorrow\"}");
	assert_string_equal(cJSON_GetObjectItem(r.tool_calls[0].arguments, "day")->valuestring,
			    "tomorrow");
	assert_string_equal(r.tool_calls[1].id, "call_P8nY4cJ6hT0sE5aU");
	assert_string_equal(r.tool_calls[1].name, "create_event");
	emails = cJSON_GetObjectItem(r.tool_calls[1].arguments, "attendee_emails");
	assert_true(cJSON_IsArray(emails));
	assert_string_equal(cJSON_GetArrayItem(emails, 0)->valuestring, "ana@example.com");
	assert_int_equal(cJSON_GetObjectItem(r.tool_calls[1].arguments, "minutes")->valueint, 30);
	reply_release(&r);
}

static void test_openai_content_parts(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct reply r;
	char *err = NULL;

	load(&r, 200, "openai_content_parts.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "Booked: 30 minutes with ana@example.com at 10:00.");
	reply_release(&r);
}

static void test_openai_function_call(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct reply r;
	char *err = NULL;

	load(&r, 200, "openai_function_call.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_int_equal(r.ntool_calls, 1);
	assert_null(r.tool_calls[0].id);
	assert_string_equal(r.tool_calls[0].name, "get_weather");
	assert_string_equal(cJSON_GetObjectItem(r.tool_calls[0].arguments, "city")->valuestring,
			    "Lisbon");
	reply_release(&r);
}

static void test_openai_bad_arguments(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct reply r;
	char *err = NULL;

	load(&r, 200, "openai_bad_arguments.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_int_equal(r.ntool_calls, 1);
	assert_string_equal(r.tool_calls[0].name, "create_event");
	assert_null(r.tool_calls[0].arguments);
	assert_string_equal(r.tool_calls[0].arguments_raw, "{\"attendee_emails\": [\"ana@exa");
	reply_release(&r);
}

static void test_openai_no_choices(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct reply r;
	char *err = NULL;

	load(&r, 200, "openai_no_choices.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply has no choices[0].message");
	assert_null(r.content);
	free(err);
	reply_release(&r);

	set_body(&r, 200, "[1, 2]", 6);
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply has no choices[0].message");
	free(err);
	reply_release(&r);
}

static void test_openai_errors(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct reply r;
	char *err = NULL;

	load(&r, 429, "openai_error_rate_limit.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_one_line(err);
	assert_true(starts_with(err, "429 rate_limit_exceeded: Rate limit reached for gpt-4o "));
	assert_false(provider_quota_exhausted(r.raw, r.raw_len));
	free(err);
	reply_release(&r);

	load(&r, 401, "openai_error_invalid_key.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_one_line(err);
	assert_true(starts_with(err, "401 invalid_api_key: Incorrect API key provided: "));
	assert_false(provider_quota_exhausted(r.raw, r.raw_len));
	free(err);
	reply_release(&r);

	load(&r, 429, "openai_error_insufficient_quota.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_one_line(err);
	assert_true(starts_with(err, "429 insufficient_quota: You exceeded your current quota, "));
	assert_true(provider_quota_exhausted(r.raw, r.raw_len));
	free(err);
	reply_release(&r);

	/* An error object in a 200: code is null, so the type labels it. */
	load(&r, 200, "openai_error_in_200.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "200 server_error: The server had an error while processing "
				 "your request. Sorry about that!");
	free(err);
	reply_release(&r);
}

static void test_anthropic_reply(void **state)
{
	struct target t = target_for(api("anthropic-messages"));
	struct reply r;
	char *err = NULL;
	cJSON *input, *raw;

	load(&r, 200, "anthropic_tool_use.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "I'll book that for you. Checking the calendar first.");
	assert_int_equal(r.ntool_calls, 1);
	assert_string_equal(r.tool_calls[0].id, "toolu_01A09q90qw90lq917835lq9");
	assert_string_equal(r.tool_calls[0].name, "create_event");
	input = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "content"), 2),
				    "input");
	assert_true(cJSON_Compare(r.tool_calls[0].arguments, input, 1));
	raw = cJSON_Parse(r.tool_calls[0].arguments_raw);
	assert_true(cJSON_Compare(raw, input, 1));
	assert_null(strchr(r.tool_calls[0].arguments_raw, '\n'));
	cJSON_Delete(raw);
	reply_release(&r);

	load(&r, 200, "anthropic_refusal.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "");
	assert_int_equal(r.ntool_calls, 0);
	reply_release(&r);
}

static void test_anthropic_error(void **state)
{
	struct target t = target_for(api("anthropic-messages"));
	struct reply r;
	char *err = NULL;

	load(&r, 529, "anthropic_error_overloaded.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "529 overloaded_error: Overloaded");
	assert_false(provider_quota_exhausted(r.raw, r.raw_len));
	free(err);
	reply_release(&r);

	/* The same body with a 200 (a proxy that hides the status). */
	load(&r, 200, "anthropic_error_overloaded.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "200 overloaded_error: Overloaded");
	free(err);
	reply_release(&r);

	/* An OpenAI-shaped reply is not an Anthropic one. */
	load(&r, 200, "openai_text.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply has no content[] array");
	free(err);
	reply_release(&r);
}

static void test_responses_text(void **state)
{
	struct target t = target_for(api("openai-responses"));
	struct reply r;
	char *err = NULL;

	load(&r, 200, "responses_text.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "Canary probe received. All systems nominal.");
	assert_int_equal(r.ntool_calls, 0);
	reply_release(&r);

	/* A reasoning item is skipped: the message after it is the answer. */
	load(&r, 200, "responses_reasoning.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "Step one is to parse the input.");
	reply_release(&r);

	/* Several message items and parts are joined, in order. */
	static const char joined[] =
		"{\"status\":\"completed\",\"output\":["
		"{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"a\"},"
		"{\"type\":\"output_text\",\"text\":\"b\"}]},"
		"{\"type\":\"web_search_call\",\"id\":\"ws_1\"},"
		"{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"c\"}]}]}";
	set_body(&r, 200, joined, strlen(joined));
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "abc");
	reply_release(&r);
}

static void test_responses_function_calls(void **state)
{
	struct target t = target_for(api("openai-responses"));
	struct reply r;
	char *err = NULL;

	load(&r, 200, "responses_function_calls.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "");
	assert_int_equal(r.ntool_calls, 2);
	/* The call_id, which a tool result answers, not the item id. */
	assert_string_equal(r.tool_calls[0].id, "call_cnryA1");
	assert_string_equal(r.tool_calls[0].name, "get_forecast");
	assert_string_equal(r.tool_calls[0].arguments_raw, "{\"city\":\"Oslo\"}");
	assert_string_equal(cJSON_GetObjectItem(r.tool_calls[0].arguments, "city")->valuestring,
			    "Oslo");
	assert_string_equal(r.tool_calls[1].id, "call_cnryB2");
	assert_string_equal(cJSON_GetObjectItem(r.tool_calls[1].arguments, "city")->valuestring,
			    "Bergen");
	reply_release(&r);

	/* Arguments that are not JSON keep their text; a call needs a name. */
	static const char cut[] = "{\"status\":\"completed\",\"output\":[{\"type\":"
				  "\"function_call\",\"call_id\":\"call_1\",\"name\":\"f\","
				  "\"arguments\":\"{\\\"city\\\": \\\"Os\"}]}";
	set_body(&r, 200, cut, strlen(cut));
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_null(r.tool_calls[0].arguments);
	assert_string_equal(r.tool_calls[0].arguments_raw, "{\"city\": \"Os");
	reply_release(&r);
	static const char nameless[] = "{\"output\":[{\"type\":\"message\",\"content\":[]},"
				       "{\"type\":\"function_call\",\"arguments\":\"{}\"}]}";
	set_body(&r, 200, nameless, strlen(nameless));
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply output[1] (function_call) has no name");
	free(err);
	reply_release(&r);
}

static void test_responses_refusal(void **state)
{
	const struct provider *p = api("openai-responses");
	struct target t = target_for(p);
	struct reply r;
	char *err = NULL;
	bool quote = false;

	load(&r, 200, "responses_refusal.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "I can't help with that request.");
	assert_string_equal(p->judge_refusal(&r, &quote), "I can't help with that request.");
	assert_true(quote);
	reply_release(&r);

	load(&r, 200, "responses_text.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_null(p->judge_refusal(&r, &quote));
	reply_release(&r);
}

/* A response that did not complete is an error sample that says why. */
static void test_responses_unfinished(void **state)
{
	static const struct {
		const char *body;
		const char *want;
	} cases[] = {
		{"{\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
		 "\"content_filter\"},\"output\":[]}",
		 "response incomplete: content_filter"},
		{"{\"status\":\"incomplete\",\"incomplete_details\":null,\"output\":[]}",
		 "response incomplete"},
		{"{\"status\":\"failed\",\"error\":null,\"output\":[]}", "response failed"},
		{"{\"status\":\"in_progress\",\"output\":[]}",
		 "response not completed: status in_progress"},
		{"{\"status\":\"failed\",\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":"
		 "\"slow down\\nnow tok\\tsecret-99\"}}",
		 "response failed: rate_limit_exceeded: slow down now " REDACT_MASK},
		/* Another API's reply is not a response. */
		{"{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}",
		 "reply has no output[] array"},
	};
	struct target t = target_for(api("openai-responses"));
	struct redact rd = {0};
	struct reply r;
	char *err = NULL;

	load(&r, 200, "responses_incomplete.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "response incomplete: max_output_tokens");
	assert_null(r.content);
	free(err);
	reply_release(&r);

	load(&r, 200, "responses_failed.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "response failed: server_error: The model could not finish "
				 "generating this response.");
	free(err);
	reply_release(&r);

	redact_add(&rd, "tok\tsecret-99");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		set_body(&r, 200, cases[i].body, strlen(cases[i].body));
		r.redact = &rd;
		assert_int_equal(parse(&t, &r, &err), -1);
		assert_string_equal(err, cases[i].want);
		assert_one_line(err);
		free(err);
		reply_release(&r);
	}
	redact_release(&rd);
}

static void test_responses_error(void **state)
{
	struct target t = target_for(api("openai-responses"));
	struct reply r;
	char *err = NULL;

	load(&r, 400, "responses_error_400.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "400 invalid_value: Unsupported value 'tool_result' for "
				 "input[1].type.");
	free(err);
	reply_release(&r);

	/* The same body with a 200. */
	load(&r, 200, "responses_error_400.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "200 invalid_value: Unsupported value 'tool_result' for "
				 "input[1].type.");
	free(err);
	reply_release(&r);
}

static void test_http_custom(void **state)
{
	struct target t = target_for(api("http"));
	char content[] = "/reply/text", calls[] = "/trace/tool_calls";
	struct reply r;
	char *err = NULL;

	set_reply(&t, content, calls);
	load(&r, 200, "http_custom.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "Done: 30 minutes with ana@example.com tomorrow at 10:00.");
	assert_int_equal(r.ntool_calls, 4);
	/* OpenAI shape */
	assert_string_equal(r.tool_calls[0].id, "call_1");
	assert_string_equal(r.tool_calls[0].name, "find_free_slot");
	assert_string_equal(r.tool_calls[0].arguments_raw, "{\"day\":\"tomorrow\"}");
	assert_string_equal(cJSON_GetObjectItem(r.tool_calls[0].arguments, "day")->valuestring,
			    "tomorrow");
	/* Anthropic shape */
	assert_string_equal(r.tool_calls[1].id, "toolu_2");
	assert_string_equal(r.tool_calls[1].name, "create_event");
	assert_string_equal(r.tool_calls[1].arguments_raw,
			    "{\"attendee_emails\":[\"ana@example.com\"],\"start\":\"10:00\"}");
	assert_true(cJSON_IsArray(cJSON_GetObjectItem(r.tool_calls[1].arguments,
						      "attendee_emails")));
	/* plain shape, object and string arguments */
	assert_null(r.tool_calls[2].id);
	assert_string_equal(r.tool_calls[2].name, "send_invite");
	assert_string_equal(r.tool_calls[2].arguments_raw, "{\"to\":\"ana@example.com\"}");
	assert_string_equal(r.tool_calls[3].name, "log");
	assert_string_equal(r.tool_calls[3].arguments_raw, "not json");
	assert_null(r.tool_calls[3].arguments);
	reply_release(&r);
	free(t.priv);
}

static void test_http_pointers(void **state)
{
	struct target t = target_for(api("http"));
	char number[] = "/reply/confidence", object[] = "/trace/tool_calls/2",
	     missing[] = "/reply/txt", text[] = "/reply/text", notarray[] = "/reply";
	struct reply r;
	char *err = NULL;

	load(&r, 200, "http_custom.json");
	set_reply(&t, number, NULL);
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "0.93");

	set_reply(&t, object, NULL);
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "{\"name\":\"send_invite\","
				       "\"arguments\":{\"to\":\"ana@example.com\"}}");

	set_reply(&t, missing, NULL);
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply has nothing at /reply/txt");
	assert_null(r.content);
	free(err);

	set_reply(&t, text, notarray);
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply has no array at /reply");
	assert_int_equal(r.ntool_calls, 0);
	free(err);

	/* A trace without tool calls means none were made. */
	set_reply(&t, text, missing);
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_int_equal(r.ntool_calls, 0);
	reply_release(&r);

	/* An error object where the content should be is quoted. */
	load(&r, 200, "openai_error_in_200.json");
	set_reply(&t, text, NULL);
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply has nothing at /reply/text (200 server_error: The server "
				 "had an error while processing your request. Sorry about that!)");
	free(err);
	reply_release(&r);
	free(t.priv);
}

/* A custom agent's own tool-call shape: pointers into each call. */
static void test_http_call_pointers(void **state)
{
	struct target t = target_for(api("http"));
	struct reply r;
	char *err = NULL;

	*(char **)test_option(&t, "reply/content") = xstrdup("/turn/say");
	*(char **)test_option(&t, "reply/tool_calls/at") = xstrdup("/turn/actions");
	*(char **)test_option(&t, "reply/tool_calls/name") = xstrdup("/tool");
	*(char **)test_option(&t, "reply/tool_calls/arguments") = xstrdup("/args");
	*(char **)test_option(&t, "reply/tool_calls/id") = xstrdup("/ref");
	load(&r, 200, "http_actions.json");
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "Booking it and telling Ana.");
	assert_int_equal(r.ntool_calls, 3);
	/* Arguments as an object, as a JSON string, and none. */
	assert_string_equal(r.tool_calls[0].id, "a1");
	assert_string_equal(r.tool_calls[0].name, "create_event");
	assert_string_equal(r.tool_calls[0].arguments_raw,
			    "{\"attendee_emails\":[\"ana@example.com\"],\"start\":\"10:00\"}");
	assert_string_equal(r.tool_calls[1].name, "notify");
	assert_string_equal(cJSON_GetObjectItem(r.tool_calls[1].arguments, "to")->valuestring,
			    "ana@example.com");
	assert_string_equal(r.tool_calls[2].name, "log");
	assert_null(r.tool_calls[2].id);
	assert_string_equal(r.tool_calls[2].arguments_raw, "");
	reply_release(&r);

	/* The name pointer finds nothing: an error naming both pointers. */
	static const char nameless[] = "{\"turn\":{\"say\":\"\",\"actions\":[{\"tool\":\"a\"},"
				       "{\"name\":\"b\"}]}}";
	set_body(&r, 200, nameless, strlen(nameless));
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply tool call 1 at /turn/actions has no name at /tool");
	free(err);
	reply_release(&r);

	/* Without name, arguments and id pointers, the known shapes are read. */
	free(*(char **)test_option(&t, "reply/tool_calls/name"));
	*(char **)test_option(&t, "reply/tool_calls/name") = NULL;
	static const char plain[] = "{\"turn\":{\"say\":\"\",\"actions\":[{\"name\":\"b\","
				    "\"input\":{\"x\":1},\"args\":\"{}\"}]}}";
	set_body(&r, 200, plain, strlen(plain));
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.tool_calls[0].name, "b");
	assert_string_equal(r.tool_calls[0].arguments_raw, "{}");
	reply_release(&r);
	provider_priv_free(t.provider, t.priv);
}

static void test_http_plain_text(void **state)
{
	struct target t = target_for(api("http"));
	char text[] = "/reply/text", empty[] = "";
	struct reply r;
	char *err = NULL;

	load(&r, 200, "http_plain.txt");
	set_reply(&t, empty, NULL);
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "Our refund window is 30 days.\nAsk me anything else.\n");
	assert_null(r.json);

	/* A pointer says the agent answers JSON. */
	set_reply(&t, text, NULL);
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply is not JSON: invalid JSON at byte 0 near 'Our refund "
				 "window is 30 days. Ask me...'");
	free(err);
	reply_release(&r);

	/* With no pointer, a JSON string reply is its own content. */
	set_reply(&t, empty, NULL);
	set_body(&r, 200, "\"plain\"\n", 8);
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_string_equal(r.content, "plain");
	reply_release(&r);
	free(t.priv);
}

#define HIDDEN "ok\\u0000 your SSN is 123-45-6789"
#define SHOWN "ok\xef\xbf\xbd your SSN is 123-45-6789"

/* parse_body: parse body as a 200 reply of t into r, which must succeed. */
static void parse_body(const struct target *t, struct reply *r, const char *body)
{
	char *err = NULL;

	set_body(r, 200, body, strlen(body));
	if (parse(t, r, &err) < 0)
		fail_msg("%s: %s", t->provider->name, err);
}

/* An escaped NUL (\u0000) would end a cJSON string: the text after it, and
 * a tool call's arguments after it, must still reach the graders. */
static void test_nul_escapes(void **state)
{
	struct target t = target_for(api("openai-chat"));
	char content[] = "/reply/text", calls[] = "/calls";
	const cJSON *a;
	struct reply r;

	parse_body(&t, &r, "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\""
		   HIDDEN "\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":"
		   "{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\\\"x\\\\u0000y\\\"}\"}}]}}]}");
	assert_string_equal(r.content, SHOWN);
	assert_int_equal(r.ntool_calls, 1);
	a = cJSON_GetObjectItem(r.tool_calls[0].arguments, "a");
	assert_string_equal(a->valuestring, "x\xef\xbf\xbdy");
	assert_non_null(strstr(r.raw, HIDDEN)); /* raw stays as received */
	reply_release(&r);

	t = target_for(api("anthropic-messages"));
	parse_body(&t, &r, "{\"type\":\"message\",\"content\":[{\"type\":\"text\",\"text\":\""
		   HIDDEN "\"},{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":"
		   "{\"a\":\"x\\u0000y\"}}]}");
	assert_string_equal(r.content, SHOWN);
	assert_int_equal(r.ntool_calls, 1);
	a = cJSON_GetObjectItem(r.tool_calls[0].arguments, "a");
	assert_string_equal(a->valuestring, "x\xef\xbf\xbdy");
	assert_non_null(strstr(r.tool_calls[0].arguments_raw, "x\xef\xbf\xbdy"));
	reply_release(&r);

	t = target_for(api("http"));
	set_reply(&t, content, calls);
	parse_body(&t, &r, "{\"reply\":{\"text\":\"" HIDDEN "\"},\"calls\":[{\"name\":"
		   "\"a\\u0000b\",\"arguments\":{}}]}");
	assert_string_equal(r.content, SHOWN);
	assert_string_equal(r.tool_calls[0].name, "a\xef\xbf\xbd" "b");
	reply_release(&r);

	/* Only real escapes: "\\u0000" is a backslash and the text u0000, and
	 * "\\\u0000" a backslash and an escaped NUL. */
	parse_body(&t, &r, "{\"reply\":{\"text\":\"a\\\\u0000b \\\\\\u0000c\\u0000\"}}");
	assert_string_equal(r.content, "a\\u0000b \\\xef\xbf\xbd" "c\xef\xbf\xbd");
	reply_release(&r);
	free(t.priv);

	/* The helper alone, and its error positions, are unchanged. */
	const char *two = "[\"\\u0000\", \"x\"]", *cut = "[\"\\u0000\"";
	cJSON *j = provider_json_parse(two, strlen(two), NULL, NULL);
	assert_string_equal(cJSON_GetArrayItem(j, 0)->valuestring, "\xef\xbf\xbd");
	assert_string_equal(cJSON_GetArrayItem(j, 1)->valuestring, "x");
	cJSON_Delete(j);
	char *err = NULL;
	assert_null(provider_json_parse(cut, strlen(cut), NULL, &err));
	assert_string_equal(err, "truncated: unexpected end of input at byte 9");
	free(err);
}

/* A raw NUL byte would end the content for a C parser, hiding what follows
 * it from every grader: in a JSON API's reply it is a broken reply, and a
 * plain-text reply keeps every byte. */
static void test_raw_nul(void **state)
{
	static const char body[] = "{\"choices\":[{\"message\":{\"role\":\"assistant\","
				   "\"content\":\"ok\0 your SSN is 123-45-6789\"}}]}";
	static const char plain[] = "ok\0 your SSN is 123-45-6789";
	const struct provider *json_apis[] = {api("openai-chat"), api("anthropic-messages"),
					      api("http")};
	char pointer[] = "/choices/0/message/content";
	struct reply r;
	char *err = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(json_apis); i++) {
		struct target t = target_for(json_apis[i]);
		if (t.priv)
			set_reply(&t, pointer, NULL);
		set_body(&r, 200, body, sizeof(body) - 1);
		assert_int_equal(parse(&t, &r, &err), -1);
		assert_string_equal(err, "reply is not JSON: invalid JSON at byte 56: a NUL byte");
		free(err);
		reply_release(&r);
		free(t.priv);
	}

	struct target t = target_for(api("http"));
	char empty[] = "";
	set_reply(&t, empty, NULL);
	set_body(&r, 200, plain, sizeof(plain) - 1);
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_int_equal(r.content_len, sizeof(plain) - 1);
	assert_memory_equal(r.content, plain, sizeof(plain));
	reply_release(&r);
	free(t.priv);
}

static void test_not_json(void **state)
{
	struct target t = target_for(api("openai-chat"));
	static const char sse[] = "data: {\"choices\":[]}\n\ndata: [DONE]\n\n";
	struct reply r;
	char *err = NULL;

	load(&r, 200, "not_json_200.html");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply is not JSON: invalid JSON at byte 0 near "
				 "'<!DOCTYPE html> <html><head><title>We...'");
	assert_null(r.json);
	free(err);
	reply_release(&r);

	set_body(&r, 200, "", 0);
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply is not JSON: empty body");
	free(err);
	reply_release(&r);

	set_body(&r, 200, "{\"choices\": []} {}", 18);
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply is not JSON: unexpected data after the JSON value "
				 "at byte 16");
	free(err);
	reply_release(&r);

	set_body(&r, 200, sse, strlen(sse));
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_non_null(strstr(err, "server-sent event stream"));
	free(err);
	reply_release(&r);
}

static void test_truncated(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct reply r, whole;
	char *err = NULL;
	size_t len;

	load(&r, 200, "truncated.json");
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "reply is not JSON: truncated: unexpected end of input "
				 "at byte 470");
	free(err);
	reply_release(&r);

	/* Every cut of a real reply says it was cut. */
	load(&whole, 200, "anthropic_tool_use.json");
	len = whole.raw_len;
	while (len && whole.raw[len - 1] == '\n')
		len--;
	for (size_t n = 1; n < len; n++) {
		char *want = xasprintf("truncated: unexpected end of input at byte %zu", n);
		cJSON *j = provider_json_parse(whole.raw, n, NULL, &err);

		assert_null(j);
		if (strcmp(err, want) != 0)
			fail_msg("cut at %zu: %s", n, err);
		free(want);
		free(err);
	}
	reply_release(&whole);
}

static void test_json_parse_errors(void **state)
{
	size_t depth = 5000;
	char *deep = xmalloc(depth + 1), *err = NULL;

	memset(deep, '[', depth);
	deep[depth] = '\0';
	assert_null(provider_json_parse(deep, depth, NULL, &err));
	assert_string_equal(err, "nested deeper than 1000 levels at byte 1000");
	free(err);
	free(deep);

	assert_null(provider_json_parse("{\"a\": [1, 2}", 12, NULL, &err));
	assert_string_equal(err, "invalid JSON at byte 11 near '}'");
	free(err);

	assert_null(provider_json_parse("{\"a\": trux", 10, NULL, &err));
	assert_null(strstr(err, "truncated"));
	free(err);

	assert_null(provider_json_parse(" \n\t", 3, NULL, &err));
	assert_string_equal(err, "empty body");
	free(err);

	assert_null(provider_json_parse(NULL, 0, NULL, NULL));
}

/* Damaged replies (cut, bytes flipped) never crash a provider: each one is
 * parsed, or refused with a one-line reason. */
static void test_damaged_replies(void **state)
{
	static const char *const names[] = {
		"openai_text.json", "openai_tool_calls.json", "openai_content_parts.json",
		"anthropic_tool_use.json", "http_custom.json", "openai_error_rate_limit.json",
	};
	static const char flips[] = "{}[]\":,\\\0x1\n";
	char content[] = "/reply/text", calls[] = "/trace/tool_calls";
	uint32_t seed = 12345;
	size_t parsed = 0, refused = 0;

	for (size_t f = 0; f < ARRAY_SIZE(names); f++) {
		struct reply orig;

		load(&orig, 200, names[f]);
		for (int round = 0; round < 300; round++) {
			for (size_t p = 0; provider_table[p]; p++) {
				struct target t = target_for(provider_table[p]);
				struct reply r;
				char *err = NULL;
				size_t len = orig.raw_len;

				if (t.priv)
					set_reply(&t, content, calls);
				set_body(&r, 200, orig.raw, len);
				for (int k = 0; k < 1 + round % 3; k++) {
					seed = seed * 1103515245u + 12345u;
					r.raw[(seed >> 8) % len] =
						flips[(seed >> 20) % (sizeof(flips) - 1)];
				}
				if (round % 5 == 0)
					r.raw_len = (seed >> 4) % len;
				if (parse(&t, &r, &err) == 0) {
					assert_non_null(r.content);
					parsed++;
				} else {
					assert_non_null(err);
					assert_null(strchr(err, '\n'));
					assert_null(r.content);
					assert_int_equal(r.ntool_calls, 0);
					free(err);
					refused++;
				}
				reply_release(&r);
				free(t.priv);
			}
		}
		reply_release(&orig);
	}
	assert_true(parsed > 0);
	assert_true(refused > 0);
}

static void test_api_error_shapes(void **state)
{
	static const struct {
		long status;
		const char *body;
		const char *want;
	} cases[] = {
		{400, "{\"error\": \"missing field 'message'\"}", "400 missing field 'message'"},
		{404, "{\"message\": \"no such session\", \"code\": \"not_found\"}",
		 "404 not_found: no such session"},
		{422, "{\"detail\": \"Field required\"}", "422 Field required"},
		{429, "{\"error\": {\"code\": 429, \"message\": \"Resource has been exhausted\", "
		      "\"status\": \"RESOURCE_EXHAUSTED\"}}",
		 "429 RESOURCE_EXHAUSTED: Resource has been exhausted"},
		{500, "{\"error\": {\"type\": \"api_error\", "
		      "\"message\": \"Internal\\nserver\\terror\"}}",
		 "500 api_error: Internal server error"},
		{503, "upstream connect error or disconnect/reset before headers.\r\nreset reason: "
		      "connection failure",
		 "503 upstream connect error or disconnect/reset before headers. reset reason: "
		 "connection failure"},
		{502, "", "HTTP 502"},
		{504, " \r\n ", "HTTP 504"},
		{500, "{\"foo\": 1}", "500 {\"foo\": 1}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct reply r;
		char *s;

		set_body(&r, cases[i].status, cases[i].body, strlen(cases[i].body));
		s = provider_api_error(&r);
		assert_string_equal(s, cases[i].want);
		free(s);
		reply_release(&r);
	}
}

static void test_api_error_capped(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct buf b;
	struct reply r;
	char *err = NULL, *body;
	size_t len;

	/* A huge HTML error page becomes its title. */
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, "<!DOCTYPE html>\n<html>\n<head>\n<title>\n  502 Bad Gateway\n</title>\n"
		       "</head>\n<body>\n");
	for (int i = 0; i < 20000; i++)
		buf_addstr(&b, "<p>The upstream server is not answering.</p>\n");
	buf_addstr(&b, "</body></html>\n");
	body = buf_detach(&b, &len);
	set_body(&r, 502, body, len);
	free(body);
	assert_int_equal(parse(&t, &r, &err), -1);
	assert_string_equal(err, "502 Bad Gateway");
	free(err);
	reply_release(&r);

	/* A page without a title is quoted from its start, on one line. */
	buf_init(&b, BUF_MAX_DEFAULT);
	for (int i = 0; i < 20000; i++)
		buf_addstr(&b, "<div>\nService Unavailable\r\n</div>\n");
	body = buf_detach(&b, &len);
	set_body(&r, 503, body, len);
	free(body);
	err = provider_api_error(&r);
	assert_one_line(err);
	assert_true(strlen(err) <= 4 + 120);
	assert_true(strncmp(err, "503 <div> Service Unavailable </div> <div>", 42) == 0);
	assert_string_equal(err + strlen(err) - 3, "...");
	free(err);
	reply_release(&r);

	/* A huge message, with newlines and invalid UTF-8, is cut at the cap. */
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, "{\"error\": {\"code\": \"context_length_exceeded\", \"message\": \"");
	for (int i = 0; i < 5000; i++)
		buf_addstr(&b, "caf\xc3\xa9 \xff\xfe line\\n");
	buf_addstr(&b, "\"}}");
	body = buf_detach(&b, &len);
	set_body(&r, 400, body, len);
	free(body);
	err = provider_api_error(&r);
	assert_one_line(err);
	assert_true(strlen(err) > PROVIDER_REASON_MAX - 8);
	assert_true(strncmp(err, "400 context_length_exceeded: caf\xc3\xa9 ?? line caf", 46) == 0);
	assert_string_equal(err + strlen(err) - 3, "...");
	free(err);
	reply_release(&r);
}

/* Errors quote what a server echoed of a secret (a password in the URL as
 * a Basic credential, a token with a tab) only after masking it, in a
 * message, an HTML title and a "not JSON" snippet alike. */
static void test_errors_mask_secrets(void **state)
{
	static const struct {
		long status;
		const char *body;
		const char *want;
	} cases[] = {
		{401, "{\"error\": {\"message\": \"bad 'Authorization: Basic "
		      "Y2FuYXJ5OnAkc3cwcmQJeA=='\", \"code\": \"auth\"}}",
		 "401 auth: bad 'Authorization: Basic " REDACT_MASK "'"},
		{401, "{\"error\": \"token tok\\tsecret-99 refused\"}",
		 "401 token " REDACT_MASK " refused"},
		{502, "<html><title>no tok\tsecret-99 here</title></html>",
		 "502 no " REDACT_MASK " here"},
		{200, "{\"choices\": tok%09secret-99 junk",
		 "reply is not JSON: invalid JSON at byte 12 near '" REDACT_MASK " junk'"},
		{200, "{\"choices\": tok\tsecret-99 junk",
		 "reply is not JSON: invalid JSON at byte 12 near '" REDACT_MASK " junk'"},
	};
	struct target t = target_for(api("openai-chat"));
	struct redact rd = {0};
	redact_add_url(&rd, "http://canary:p%24sw0rd%09x@127.0.0.1/");
	redact_add(&rd, "tok\tsecret-99");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct reply r;
		char *err = NULL;
		set_body(&r, cases[i].status, cases[i].body, strlen(cases[i].body));
		r.redact = &rd;
		assert_int_equal(parse(&t, &r, &err), -1);
		assert_string_equal(err, cases[i].want);
		free(err);
		reply_release(&r);
	}
	redact_release(&rd);
}

static void test_quota(void **state)
{
	static const char *const yes[] = {
		"{\"error\":{\"code\":\"insufficient_quota\"}}",
		"Quota Exceeded for quota metric 'requests'",
		"{\"error\":{\"status\":\"QUOTA_EXCEEDED\"}}",
		"You EXCEEDED your current QUOTA, please check your plan",
		"Billing hard limit has been reached",
		"Your credit balance is too low to access the Anthropic API",
	};
	static const char *const no[] = {
		("{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"Visit "
		 "https://platform.openai.com/account/billing to add a payment method.\"}}"),
		"quota",
		"",
	};
	size_t big = (size_t)4 << 20;
	char *body = xmalloc(big);

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		assert_true(provider_quota_exhausted(yes[i], strlen(yes[i])));
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		assert_false(provider_quota_exhausted(no[i], strlen(no[i])));
	assert_false(provider_quota_exhausted(NULL, 0));
	/* Only len bytes are read: the phrase is cut off here. */
	assert_false(provider_quota_exhausted("insufficient_quota", 10));

	memset(body, 'x', big);
	assert_false(provider_quota_exhausted(body, big));
	memcpy(body + 100, "insufficient_quota", 18);
	assert_true(provider_quota_exhausted(body, big));
	free(body);
}

/* case_of: a case with messages and request parsed from JSON text. */
static void case_of(struct suite_case *c, const char *messages, const char *request)
{
	memset(c, 0, sizeof(*c));
	c->messages = cJSON_Parse(messages);
	c->request = request ? cJSON_Parse(request) : NULL;
	assert_non_null(c->messages);
}

static void case_release(struct suite_case *c)
{
	cJSON_Delete(c->messages);
	cJSON_Delete(c->request);
}

static void test_build_openai(void **state)
{
	struct target t = target_for(api("openai-chat"));
	char model[] = "calendar-agent";
	struct suite_case c;
	struct tmpl_ctx ctx = {.allowed = TMPL_TARGET};
	char *err = NULL, *text;
	cJSON *body, *tool;

	case_of(&c, "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
		    "{\"role\":\"user\",\"content\":\"Book 30 minutes\"}]",
		"{\"temperature\":0,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
		"\"create_event\"}}],\"model\":\"pinned-model\"}");
	t.model = model;
	text = api("openai-chat")->build(&t, &c, &ctx, &err);
	assert_non_null(text);
	assert_null(strchr(text, '\n'));
	body = cJSON_Parse(text);
	assert_non_null(body);
	assert_string_equal(cJSON_GetObjectItem(body, "model")->valuestring, "pinned-model");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(body, "messages"), c.messages, 1));
	assert_int_equal(cJSON_GetObjectItem(body, "temperature")->valueint, 0);
	tool = cJSON_GetArrayItem(cJSON_GetObjectItem(body, "tools"), 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(tool, "function"),
						"name")->valuestring, "create_event");
	assert_int_equal(cJSON_GetArraySize(body), 4);
	cJSON_Delete(body);
	free(text);
	case_release(&c);

	/* No model and no request: just the messages. */
	case_of(&c, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL);
	t.model = NULL;
	text = api("openai-chat")->build(&t, &c, &ctx, &err);
	assert_string_equal(text, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
	free(text);
	t.model = model;
	text = api("openai-chat")->build(&t, &c, &ctx, &err);
	assert_string_equal(text, "{\"model\":\"calendar-agent\",\"messages\":[{\"role\":\"user\","
				  "\"content\":\"hi\"}]}");
	free(text);
	case_release(&c);
}

static void test_build_anthropic(void **state)
{
	struct target t = target_for(api("anthropic-messages"));
	static const int kept[] = {1, 3, 4};
	char model[] = "claude-3-5-sonnet-20241022";
	struct suite_case c;
	struct tmpl_ctx ctx = {.allowed = TMPL_TARGET};
	char *err = NULL, *text;
	cJSON *body, *messages;

	case_of(&c, "[{\"role\":\"system\",\"content\":\"You are a calendar assistant.\"},"
		    "{\"role\":\"user\",\"content\":\"Book 30 minutes\"},"
		    "{\"role\":\"system\","
		    "\"content\":[{\"type\":\"text\",\"text\":\"Be brief.\"}]},"
		    "{\"role\":\"assistant\",\"content\":\"For when?\"},"
		    "{\"role\":\"user\",\"content\":\"Tomorrow 10:00\"}]",
		"{\"temperature\":0.2}");
	t.model = model;
	text = api("anthropic-messages")->build(&t, &c, &ctx, &err);
	body = cJSON_Parse(text);
	assert_non_null(body);
	assert_string_equal(cJSON_GetObjectItem(body, "model")->valuestring, model);
	assert_int_equal(cJSON_GetObjectItem(body, "max_tokens")->valueint, 1024);
	assert_string_equal(cJSON_GetObjectItem(body, "system")->valuestring,
			    "You are a calendar assistant.\n\nBe brief.");
	messages = cJSON_GetObjectItem(body, "messages");
	assert_int_equal(cJSON_GetArraySize(messages), 3);
	/* The user and assistant messages, in order. */
	for (int i = 0; i < 3; i++)
		assert_true(cJSON_Compare(cJSON_GetArrayItem(messages, i),
					  cJSON_GetArrayItem(c.messages, kept[i]), 1));
	assert_true(cJSON_GetObjectItem(body, "temperature")->valuedouble == 0.2);
	cJSON_Delete(body);
	free(text);
	case_release(&c);

	/* The API has no tool role: the build says so rather than send it. */
	case_of(&c, "[{\"role\":\"user\",\"content\":\"hi\"},"
		    "{\"role\":\"tool\",\"content\":\"42\"}]", NULL);
	assert_null(api("anthropic-messages")->build(&t, &c, &ctx, &err));
	assert_string_equal(err, "role 'tool' is not supported by api anthropic-messages");
	free(err);
	err = NULL;
	case_release(&c);

	/* No system message: no "system"; the request's max_tokens wins. */
	case_of(&c, "[{\"role\":\"user\",\"content\":\"hi\"}]", "{\"max_tokens\":256}");
	text = api("anthropic-messages")->build(&t, &c, &ctx, &err);
	body = cJSON_Parse(text);
	assert_null(cJSON_GetObjectItem(body, "system"));
	assert_int_equal(cJSON_GetObjectItem(body, "max_tokens")->valueint, 256);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(body, "messages")), 1);
	cJSON_Delete(body);
	free(text);
	case_release(&c);
}

/* fixture_json: the JSON of fixture folder/name. */
static cJSON *fixture_json(const char *folder, const char *name)
{
	char *path = xasprintf("%s/%s/%s", test_fixtures(), folder, name), *err = NULL;
	size_t len;
	char *text = util_read_file(path, (size_t)1 << 20, &len, &err);
	cJSON *j;

	if (!text)
		fail_msg("%s", err);
	j = cJSON_ParseWithLength(text, len);
	assert_non_null(j);
	free(text);
	free(path);
	return j;
}

static void test_build_responses(void **state)
{
	const struct provider *p = api("openai-responses");
	struct target t = target_for(p);
	char model[] = "gpt-4.1-2025-04-14";
	struct suite_case c;
	struct tmpl_ctx ctx = {.allowed = TMPL_TARGET};
	char *err = NULL, *text;
	cJSON *body, *want, *input;

	/* A system message and a user message: instructions and a string input,
	 * as in the API's own example. */
	case_of(&c, "[{\"role\":\"system\",\"content\":\"You are canary's probe assistant.\"},"
		    "{\"role\":\"user\",\"content\":\"Reply with a one-line health check.\"}]",
		NULL);
	t.model = model;
	text = p->build(&t, &c, &ctx, &err);
	assert_non_null(text);
	assert_null(strchr(text, '\n'));
	body = cJSON_Parse(text);
	want = fixture_json("requests", "responses_string.json");
	assert_true(cJSON_Compare(body, want, 1));
	cJSON_Delete(want);
	cJSON_Delete(body);
	free(text);
	case_release(&c);

	/* A conversation: input items; a system message after the others stays
	 * one; request keys win. */
	case_of(&c, "[{\"role\":\"system\",\"content\":\"Be brief.\"},"
		    "{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"Be kind.\"}]},"
		    "{\"role\":\"user\",\"content\":\"Book 30 minutes\"},"
		    "{\"role\":\"assistant\",\"content\":\"For when?\"},"
		    "{\"role\":\"system\",\"content\":\"Say the time zone.\"},"
		    "{\"role\":\"user\",\"content\":\"Tomorrow 10:00\"}]",
		"{\"max_output_tokens\":512,\"model\":\"pinned\"}");
	text = p->build(&t, &c, &ctx, &err);
	body = cJSON_Parse(text);
	assert_string_equal(cJSON_GetObjectItem(body, "model")->valuestring, "pinned");
	assert_string_equal(cJSON_GetObjectItem(body, "instructions")->valuestring,
			    "Be brief.\n\nBe kind.");
	assert_int_equal(cJSON_GetObjectItem(body, "max_output_tokens")->valueint, 512);
	input = cJSON_GetObjectItem(body, "input");
	assert_int_equal(cJSON_GetArraySize(input), 4);
	for (int i = 0; i < 4; i++)
		assert_true(cJSON_Compare(cJSON_GetArrayItem(input, i),
					  cJSON_GetArrayItem(c.messages, i + 2), 1));
	cJSON_Delete(body);
	free(text);
	case_release(&c);

	/* No system message and no model: the input alone. */
	case_of(&c, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL);
	t.model = NULL;
	text = p->build(&t, &c, &ctx, &err);
	assert_string_equal(text, "{\"input\":\"hi\"}");
	free(text);
	case_release(&c);
}

/* The tools of the API fixtures, in no API's format. */
static const char forecast_params[] =
	"{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
	"\"required\":[\"city\"]}";
static const char hours_params[] =
	"{\"type\":\"object\",\"properties\":{\"venue\":{\"type\":\"string\"}},"
	"\"required\":[\"venue\"]}";

/* build_json: the body api p builds for case c on a bare target, parsed. */
static cJSON *build_json(const struct provider *p, const struct suite_case *c)
{
	struct target t = target_for(p);
	struct tmpl_ctx ctx = {.allowed = TMPL_TARGET, .messages = c->messages};
	char *err = NULL, *text;
	cJSON *body;

	if (p->own_body)
		*(cJSON **)test_option(&t, "body") = cJSON_Parse("{\"tools\":\"${tools}\","
								 "\"text\":\"${tools}!\"}");
	text = p->build(&t, c, &ctx, &err);
	if (!text)
		fail_msg("%s", err);
	body = cJSON_Parse(text);
	free(text);
	provider_priv_free(t.provider, t.priv);
	return body;
}

/* strip: j with the member name of each element of its array at key (or of
 * each element's member sub, when sub is not NULL) taken out. */
static void strip(cJSON *j, const char *key, const char *sub, const char *name)
{
	cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, key))
		cJSON_DeleteItemFromObject(sub ? cJSON_GetObjectItem(e, sub) : e, name);
}

/* tool_choice_of: the tool_choice api p sends for choice (named: get_forecast). */
static cJSON *tool_choice_of(const char *api_name, struct suite_case *c, enum tool_choice choice)
{
	cJSON *body, *choice_json;

	c->tool_choice = choice;
	c->tool_choice_name = choice == TOOL_CHOICE_NAMED ? "get_forecast" : NULL;
	body = build_json(api(api_name), c);
	choice_json = cJSON_DetachItemFromObject(body, "tool_choice");
	cJSON_Delete(body);
	return choice_json;
}

/* assert_form: choice is form i of a *_tool_choice_forms.json fixture. */
static void assert_form(cJSON *choice, const cJSON *forms, int i)
{
	assert_non_null(choice);
	assert_true(cJSON_Compare(choice, cJSON_GetArrayItem(cJSON_GetObjectItem(forms, "forms"), i),
				  1));
	cJSON_Delete(choice);
}

/* Each API renders the same tools and tool_choice in its own format, as its
 * fixture shows them. */
static void test_build_tools(void **state)
{
	struct suite_tool defs[] = {
		{.name = "get_forecast", .description = "Return tomorrow's forecast for a city.",
		 .parameters = cJSON_Parse(forecast_params)},
		{.name = "get_opening_hours", .description = "Return opening hours for a venue.",
		 .parameters = cJSON_Parse(hours_params)},
	};
	const struct suite_tool *tools[] = {&defs[0], &defs[1]};
	struct suite_case c;
	cJSON *body, *want, *forms;

	case_of(&c, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL);
	c.tools = tools;
	c.ntools = 2;

	/* Anthropic: name, description and input_schema, as in its fixture. */
	body = build_json(api("anthropic-messages"), &c);
	want = fixture_json("requests", "anthropic_tools.json");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(body, "tools"),
				  cJSON_GetObjectItem(want, "tools"), 1));
	assert_null(cJSON_GetObjectItem(body, "tool_choice"));
	cJSON_Delete(want);
	cJSON_Delete(body);

	/* openai-chat: nested function tools (not strict: the fixture's are). */
	body = build_json(api("openai-chat"), &c);
	want = fixture_json("requests", "openai_chat_tools.json");
	strip(want, "tools", "function", "strict");
	cJSON_ArrayForEach(forms, cJSON_GetObjectItem(want, "tools"))
		cJSON_DeleteItemFromObject(cJSON_GetObjectItem(cJSON_GetObjectItem(forms, "function"),
							       "parameters"), "additionalProperties");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(body, "tools"),
				  cJSON_GetObjectItem(want, "tools"), 1));
	cJSON_Delete(want);
	cJSON_Delete(body);

	/* openai-responses: flat function tools, strict false. */
	body = build_json(api("openai-responses"), &c);
	want = fixture_json("requests", "responses_items_tools.json");
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(cJSON_GetObjectItem(want, "tools"), 0),
				  "strict", cJSON_CreateFalse());
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(want, "tools"), 0), "parameters"), "additionalProperties");
	assert_true(cJSON_Compare(cJSON_GetArrayItem(cJSON_GetObjectItem(body, "tools"), 0),
				  cJSON_GetArrayItem(cJSON_GetObjectItem(want, "tools"), 0), 1));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(body, "tools")), 2);
	cJSON_Delete(want);
	cJSON_Delete(body);

	/* http: ${tools} as the array, or as JSON text. */
	body = build_json(api("http"), &c);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(body, "tools"),
								   1), "name")->valuestring,
			    "get_opening_hours");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(body, "tools"), 0), "parameters"), defs[0].parameters, 1));
	assert_non_null(strstr(cJSON_GetObjectItem(body, "text")->valuestring,
			       "[{\"name\":\"get_forecast\",\"description\":"));
	cJSON_Delete(body);

	/* tool_choice, in each API's words. */
	forms = fixture_json("requests", "anthropic_tool_choice_forms.json");
	assert_form(tool_choice_of("anthropic-messages", &c, TOOL_CHOICE_AUTO), forms, 0);
	assert_form(tool_choice_of("anthropic-messages", &c, TOOL_CHOICE_REQUIRED), forms, 2);
	assert_form(tool_choice_of("anthropic-messages", &c, TOOL_CHOICE_NAMED), forms, 3);
	assert_form(tool_choice_of("anthropic-messages", &c, TOOL_CHOICE_NONE), forms, 4);
	cJSON_Delete(forms);
	forms = fixture_json("requests", "responses_tool_choice_forms.json");
	assert_form(tool_choice_of("openai-responses", &c, TOOL_CHOICE_NONE), forms, 0);
	assert_form(tool_choice_of("openai-responses", &c, TOOL_CHOICE_AUTO), forms, 1);
	assert_form(tool_choice_of("openai-responses", &c, TOOL_CHOICE_REQUIRED), forms, 2);
	assert_form(tool_choice_of("openai-responses", &c, TOOL_CHOICE_NAMED), forms, 3);
	/* openai-chat's words are the same; its named form nests the name. */
	assert_form(tool_choice_of("openai-chat", &c, TOOL_CHOICE_REQUIRED), forms, 2);
	want = cJSON_Parse("{\"type\":\"function\",\"function\":{\"name\":\"get_forecast\"}}");
	body = tool_choice_of("openai-chat", &c, TOOL_CHOICE_NAMED);
	assert_true(cJSON_Compare(body, want, 1));
	cJSON_Delete(body);
	cJSON_Delete(want);
	cJSON_Delete(forms);
	assert_null(tool_choice_of("openai-chat", &c, TOOL_CHOICE_UNSET));

	/* No tools: no tools and no tool_choice, whatever the choice. */
	c.ntools = 0;
	c.tool_choice = TOOL_CHOICE_REQUIRED;
	for (size_t i = 0; provider_table[i]; i++) {
		if (provider_table[i]->own_body)
			continue;
		body = build_json(provider_table[i], &c);
		assert_null(cJSON_GetObjectItem(body, "tools"));
		assert_null(cJSON_GetObjectItem(body, "tool_choice"));
		cJSON_Delete(body);
	}
	/* A request's tools win over the case's. */
	c.ntools = 2;
	c.request = cJSON_Parse("{\"tools\":[]}");
	body = build_json(api("anthropic-messages"), &c);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(body, "tools")), 0);
	cJSON_Delete(body);
	case_release(&c);
	cJSON_Delete(defs[0].parameters);
	cJSON_Delete(defs[1].parameters);
}

static void test_build_http(void **state)
{
	struct target t = target_for(api("http"));
	cJSON **template = test_option(&t, "body");
	struct suite_case c;
	struct tmpl_ctx ctx = {.allowed = TMPL_TARGET, .input = "What is your refund window?",
			       .case_id = "refund-window", .stratum = "prompt"};
	char *err = NULL, *text;
	cJSON *body;

	case_of(&c, "[{\"role\":\"user\",\"content\":\"What is your refund window?\"}]", NULL);
	ctx.messages = c.messages;
	*template = cJSON_Parse("{\"session\":\"canary-${case.id}\",\"message\":\"${input}\","
				"\"history\":\"${messages}\",\"meta\":{\"stratum\":\"${stratum}\","
				"\"n\":3}}");
	text = api("http")->build(&t, &c, &ctx, &err);
	assert_non_null(text);
	body = cJSON_Parse(text);
	assert_string_equal(cJSON_GetObjectItem(body, "session")->valuestring,
			    "canary-refund-window");
	assert_string_equal(cJSON_GetObjectItem(body, "message")->valuestring,
			    "What is your refund window?");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(body, "history"), c.messages, 1));
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(body, "meta"),
						"stratum")->valuestring, "prompt");
	cJSON_Delete(body);
	free(text);
	cJSON_Delete(*template);

	/* The default body, which load() fills in. */
	*template = NULL;
	assert_int_equal(api("http")->load(t.priv, NULL, &err), 0);
	text = api("http")->build(&t, &c, &ctx, &err);
	body = cJSON_Parse(text);
	assert_string_equal(cJSON_GetObjectItem(body, "input")->valuestring,
			    "What is your refund window?");
	assert_true(cJSON_Compare(cJSON_GetObjectItem(body, "messages"), c.messages, 1));
	cJSON_Delete(body);
	free(text);
	cJSON_Delete(*template);

	/* A template error is the build's error. */
	*template = cJSON_Parse("{\"x\":\"${nope}\"}");
	assert_null(api("http")->build(&t, &c, &ctx, &err));
	assert_non_null(err);
	free(err);
	provider_priv_free(t.provider, t.priv);
	case_release(&c);
}

/* appended: what api name appends to an empty conversation for a reply
 * with content and the calls of calls_json ({name: arguments}; ids
 * call_1, ...), answered by results when not NULL, as compact JSON. */
static char *appended(const char *name, const char *content, const char *calls_json,
		      const char *const *results)
{
	struct reply r;
	cJSON *conv = cJSON_CreateArray(), *calls = cJSON_Parse(calls_json), *call;
	char *text;
	int i = 0;

	memset(&r, 0, sizeof(r));
	r.content = xstrdup(content);
	cJSON_ArrayForEach(call, calls) {
		char id[16];

		snprintf(id, sizeof(id), "call_%d", ++i);
		reply_add_tool_call(&r, id, call->string, call);
	}
	api(name)->append(conv, &r, results);
	text = provider_json_text(conv);
	cJSON_Delete(conv);
	cJSON_Delete(calls);
	reply_release(&r);
	return text;
}

static void test_append(void **state)
{
	static const char *const results[] = {"{\"free\":true}", "booked"};
	const char *calls = "{\"check\": {\"start\": \"10:00\"}, \"book\": {}}";
	char *text;

	text = appended("openai-chat", "", calls, results);
	assert_string_equal(text,
		"[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
		"{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"check\","
		"\"arguments\":\"{\\\"start\\\":\\\"10:00\\\"}\"}},"
		"{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"book\","
		"\"arguments\":\"{}\"}}]},"
		"{\"role\":\"tool\",\"content\":\"{\\\"free\\\":true}\",\"tool_call_id\":\"call_1\"},"
		"{\"role\":\"tool\",\"content\":\"booked\",\"tool_call_id\":\"call_2\"}]");
	free(text);
	text = appended("openai-chat", "Booked.", "{}", NULL);
	assert_string_equal(text, "[{\"role\":\"assistant\",\"content\":\"Booked.\"}]");
	free(text);

	text = appended("openai-responses", "Checking.", calls, results);
	assert_string_equal(text,
		"[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":"
		"\"output_text\",\"text\":\"Checking.\"}]},"
		"{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"check\","
		"\"arguments\":\"{\\\"start\\\":\\\"10:00\\\"}\"},"
		"{\"type\":\"function_call\",\"call_id\":\"call_2\",\"name\":\"book\","
		"\"arguments\":\"{}\"},"
		"{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":"
		"\"{\\\"free\\\":true}\"},"
		"{\"type\":\"function_call_output\",\"call_id\":\"call_2\",\"output\":\"booked\"}]");
	free(text);

	text = appended("anthropic-messages", "Checking.", calls, results);
	assert_string_equal(text,
		"[{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"Checking.\"},"
		"{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"check\",\"input\":"
		"{\"start\":\"10:00\"}},"
		"{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"book\",\"input\":{}}]},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
		"\"call_1\",\"content\":\"{\\\"free\\\":true}\"},{\"type\":\"tool_result\","
		"\"tool_use_id\":\"call_2\",\"content\":\"booked\"}]}]");
	free(text);
	text = appended("anthropic-messages", "Booked.", "{}", NULL);
	assert_string_equal(text, "[{\"role\":\"assistant\",\"content\":\"Booked.\"}]");
	free(text);

	/* http: the agent runs its own tools; the conversation keeps its text. */
	assert_true(api("http")->own_tools);
	text = appended("http", "Booked.", calls, NULL);
	assert_string_equal(text, "[{\"role\":\"assistant\",\"content\":\"Booked.\"}]");
	free(text);
}

static void test_reply_release(void **state)
{
	struct target t = target_for(api("openai-chat"));
	struct reply r, zero;
	char *err = NULL;

	memset(&zero, 0, sizeof(zero));
	load(&r, 200, "openai_tool_calls.json");
	r.fingerprint = xstrdup("sha256:ab12");
	r.latency_ms = 12.5;
	assert_int_equal(parse(&t, &r, &err), 0);
	/* Parsing again replaces what the first parse filled. */
	assert_int_equal(parse(&t, &r, &err), 0);
	assert_int_equal(r.ntool_calls, 2);
	reply_release(&r);
	assert_memory_equal(&r, &zero, sizeof(r));
	reply_release(&r);
	reply_release(NULL);

	/* Many tool calls grow the array without leaking. */
	for (int i = 0; i < 100; i++)
		reply_add_tool_call(&r, NULL, "f", NULL);
	assert_int_equal(r.ntool_calls, 100);
	assert_string_equal(r.tool_calls[99].arguments_raw, "");
	reply_release(&r);
}

/* assert_usage: r declares these counts (-1: none). */
static void assert_usage(const struct reply *r, long long input, long long output,
			 long long total, long long cached, long long reasoning)
{
	assert_int_equal(r->usage.input, input);
	assert_int_equal(r->usage.output, output);
	assert_int_equal(r->usage.total, total);
	assert_int_equal(r->usage.cached, cached);
	assert_int_equal(r->usage.reasoning, reasoning);
}

/* usage_of: the usage parse reads from fixture name (status 200) for t. */
static void usage_of(const struct target *t, const char *name, struct reply *r)
{
	char *err = NULL;

	load(r, 200, name);
	if (parse(t, r, &err) < 0) {
		/* An unfinished reply is an error that keeps its usage. */
		free(err);
	}
}

static void test_usage(void **state)
{
	struct target chat = target_for(api("openai-chat"));
	struct target responses = target_for(api("openai-responses"));
	struct target anthropic = target_for(api("anthropic-messages"));
	struct target http = target_for(api("http"));
	char content[] = "/reply/text", in[] = "/meter/prompt", out[] = "/meter/completion";
	char cached[] = "/meter/cached", total[] = "/meter/total";
	static const char odd[] = "{\"choices\": [{\"message\": {\"content\": \"x\"}}], "
				  "\"usage\": {\"prompt_tokens\": -3, \"completion_tokens\": 1.5, "
				  "\"total_tokens\": \"9\"}}";
	struct reply r;

	usage_of(&chat, "openai_text.json", &r);
	assert_usage(&r, 31, 14, 45, -1, -1);
	reply_release(&r);
	usage_of(&chat, "openai_usage_details.json", &r);
	assert_usage(&r, 1117, 346, 1463, 1024, 320);
	reply_release(&r);

	usage_of(&responses, "responses_text.json", &r);
	assert_usage(&r, 1536, 11, 1547, 1280, 0);
	reply_release(&r);
	usage_of(&responses, "responses_reasoning.json", &r);
	assert_usage(&r, 120, 310, 430, 0, 256);
	reply_release(&r);
	usage_of(&responses, "responses_incomplete.json", &r);
	assert_usage(&r, 88, 16, 104, 0, 0);
	reply_release(&r);
	usage_of(&responses, "responses_failed.json", &r);
	assert_usage(&r, -1, -1, -1, -1, -1);
	reply_release(&r);

	/* Anthropic: the cache's reads and writes are input; the total is a sum. */
	usage_of(&anthropic, "anthropic_tool_use.json", &r);
	assert_usage(&r, 472, 91, 563, -1, -1);
	reply_release(&r);
	usage_of(&anthropic, "anthropic_cache_usage.json", &r);
	assert_usage(&r, 21 + 188 + 1536, 12, 21 + 188 + 1536 + 12, 1536, -1);
	reply_release(&r);

	/* http: the counts its pointers find, none where they find nothing. */
	set_reply(&http, content, NULL);
	usage_of(&http, "http_usage.json", &r);
	assert_usage(&r, -1, -1, -1, -1, -1);
	reply_release(&r);
	*(char **)test_option(&http, "reply/usage/input") = in;
	*(char **)test_option(&http, "reply/usage/output") = out;
	*(char **)test_option(&http, "reply/usage/cached") = cached;
	*(char **)test_option(&http, "reply/usage/total") = total;
	usage_of(&http, "http_usage.json", &r);
	assert_usage(&r, 412, 9, -1, 0, -1);
	reply_release(&r);
	free(http.priv);

	/* Counts that are not whole numbers >= 0 are none. */
	set_body(&r, 200, odd, sizeof(odd) - 1);
	assert_int_equal(parse(&chat, &r, &(char *){NULL}), 0);
	assert_usage(&r, -1, -1, -1, -1, -1);
	reply_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_role_fault),
		cmocka_unit_test(test_openai_text),
		cmocka_unit_test(test_openai_tool_calls),
		cmocka_unit_test(test_openai_content_parts),
		cmocka_unit_test(test_openai_function_call),
		cmocka_unit_test(test_openai_bad_arguments),
		cmocka_unit_test(test_openai_no_choices),
		cmocka_unit_test(test_openai_errors),
		cmocka_unit_test(test_anthropic_reply),
		cmocka_unit_test(test_anthropic_error),
		cmocka_unit_test(test_responses_text),
		cmocka_unit_test(test_responses_function_calls),
		cmocka_unit_test(test_responses_refusal),
		cmocka_unit_test(test_responses_unfinished),
		cmocka_unit_test(test_responses_error),
		cmocka_unit_test(test_http_custom),
		cmocka_unit_test(test_http_pointers),
		cmocka_unit_test(test_http_call_pointers),
		cmocka_unit_test(test_http_plain_text),
		cmocka_unit_test(test_nul_escapes),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_json_parse_errors),
		cmocka_unit_test(test_damaged_replies),
		cmocka_unit_test(test_api_error_shapes),
		cmocka_unit_test(test_api_error_capped),
		cmocka_unit_test(test_raw_nul),
		cmocka_unit_test(test_errors_mask_secrets),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_build_openai),
		cmocka_unit_test(test_build_anthropic),
		cmocka_unit_test(test_build_responses),
		cmocka_unit_test(test_build_http),
		cmocka_unit_test(test_build_tools),
		cmocka_unit_test(test_reply_release),
		cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
