/* test_evidence.c: log records of the three APIs read into messages and a
 * parsed reply, from the real-shaped logs of tests/fixtures/evidence. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "evidence/evidence.h"
#include "redact.h"
#include "support.h"
#include "util.h"

/* line_of: line n (from 1) of fixture evidence/name; the caller frees. */
static char *line_of(const char *name, int n)
{
	char *path = xasprintf("%s/evidence/%s", test_fixtures(), name), *err = NULL;
	size_t len;
	char *text = util_read_file(path, (size_t)1 << 20, &len, &err), *line = text, *end;

	if (!text)
		fail_msg("%s", err);
	while (--n > 0 && line) {
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	if (!line || !*line)
		fail_msg("%s has no line %d", path, n);
	end = strchr(line, '\n');
	line = xstrndup(line, end ? (size_t)(end - line + 1) : strlen(line));
	free(text);
	free(path);
	return line;
}

/* read_fixture: record n of name, which must read. */
static void read_fixture(const char *name, int n, const char *api, struct evidence_record *rec)
{
	char *line = line_of(name, n), *err = NULL;

	if (evidence_record_read(line, strlen(line), api, NULL, rec, &err) < 0)
		fail_msg("%s:%d: %s", name, n, err);
	free(line);
}

/* message_is: messages[i] has role and content. */
static void message_is(const cJSON *messages, int i, const char *role, const char *content)
{
	const cJSON *m = cJSON_GetArrayItem(messages, i);

	assert_non_null(m);
	assert_string_equal(cJSON_GetObjectItem(m, "role")->valuestring, role);
	assert_string_equal(cJSON_GetObjectItem(m, "content")->valuestring, content);
}

static void test_openai_chat_tool_call(void **state)
{
	struct evidence_record rec;

	read_fixture("openai-chat.jsonl", 1, NULL, &rec);
	assert_string_equal(rec.api->name, "openai-chat");
	assert_int_equal(cJSON_GetArraySize(rec.messages), 2);
	message_is(rec.messages, 0, "system", "You are the calendar assistant of Example Corp.");
	message_is(rec.messages, 1, "user", "Book 30 minutes with ana@example.com tomorrow at 10:00");
	assert_null(rec.reply_error);
	assert_int_equal(rec.reply.status, 200);
	assert_string_equal(rec.reply.content, "");
	assert_int_equal(rec.reply.ntool_calls, 1);
	assert_string_equal(rec.reply.tool_calls[0].name, "create_event");
	assert_non_null(cJSON_GetObjectItem(rec.reply.tool_calls[0].arguments, "attendees"));
	assert_string_equal(rec.reply.fingerprint, "sha256:9f2c41d07a");
	assert_true(rec.reply.latency_ms == 812);
	assert_string_equal(cJSON_GetObjectItem(rec.metadata, "stratum")->valuestring, "tools");
	evidence_record_release(&rec);
}

/* Developer is system, parts are joined, tool turns and tool-only assistant
 * turns carry no text and are left out. */
static void test_openai_chat_conversation(void **state)
{
	struct evidence_record rec;

	read_fixture("openai-chat.jsonl", 2, NULL, &rec);
	assert_int_equal(cJSON_GetArraySize(rec.messages), 4);
	message_is(rec.messages, 0, "system", "You are the calendar assistant of Example Corp.");
	message_is(rec.messages, 1, "user", "What is your refund window?");
	message_is(rec.messages, 2, "assistant", "Refunds are accepted within 14 days.");
	message_is(rec.messages, 3, "user", "Are you sure? I thought it was 30.");
	assert_string_equal(rec.reply.content,
			    "Yes: refunds are accepted within 14 days of purchase.");
	assert_int_equal(rec.reply.ntool_calls, 0);
	assert_string_equal(rec.reply.fingerprint, "sha256:9f2c41d07a");
	evidence_record_release(&rec);
}

static void test_anthropic_messages(void **state)
{
	struct evidence_record rec;

	read_fixture("anthropic-messages.jsonl", 1, NULL, &rec);
	assert_string_equal(rec.api->name, "anthropic-messages");
	assert_int_equal(cJSON_GetArraySize(rec.messages), 2);
	message_is(rec.messages, 0, "system", "You are the calendar assistant of Example Corp.");
	message_is(rec.messages, 1, "user", "Cancel my 3pm with Bo.");
	assert_null(rec.reply_error);
	assert_string_equal(rec.reply.content, "I'll cancel that meeting.");
	assert_int_equal(rec.reply.ntool_calls, 1);
	assert_string_equal(rec.reply.tool_calls[0].name, "cancel_event");
	assert_string_equal(cJSON_GetObjectItem(rec.reply.tool_calls[0].arguments,
						"event_id")->valuestring, "evt_3pm");
	evidence_record_release(&rec);
}

static void test_openai_responses(void **state)
{
	struct evidence_record rec;

	read_fixture("openai-responses.jsonl", 1, NULL, &rec);
	assert_string_equal(rec.api->name, "openai-responses");
	assert_int_equal(cJSON_GetArraySize(rec.messages), 2);
	message_is(rec.messages, 0, "system", "You are the calendar assistant of Example Corp.");
	message_is(rec.messages, 1, "user", "Move my dentist appointment to Friday.");
	assert_int_equal(rec.reply.ntool_calls, 1);
	assert_string_equal(rec.reply.tool_calls[0].name, "move_event");
	evidence_record_release(&rec);
}

/* The API comes from the argument, else metadata.api, else the bodies;
 * a record whose bodies fit no API (or an unknown one) is refused. */
static void test_api_choice(void **state)
{
	static const char ambiguous[] =
		"{\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]},"
		"\"response\":{\"id\":\"x\"}}";
	static const char named[] =
		"{\"request\":{\"input\":\"hi\"},\"response\":{\"output\":[]},"
		"\"metadata\":{\"api\":\"anthropic-messages\"}}";
	struct evidence_record rec;
	char *err = NULL;

	assert_int_equal(evidence_record_read(ambiguous, strlen(ambiguous), NULL, NULL, &rec, &err), -1);
	assert_non_null(strstr(err, "metadata.api"));
	free(err);
	err = NULL;
	assert_int_equal(evidence_record_read(ambiguous, strlen(ambiguous), "openai-chat", NULL,
					      &rec, &err), 0);
	message_is(rec.messages, 0, "user", "hi");
	assert_non_null(rec.reply_error); /* {"id"} is no chat completion */
	evidence_record_release(&rec);
	/* metadata.api wins over the shape, and anthropic wants messages[] */
	assert_int_equal(evidence_record_read(named, strlen(named), NULL, NULL, &rec, &err), -1);
	assert_string_equal(err, "anthropic-messages request has no 'messages' array");
	free(err);
	err = NULL;
	assert_int_equal(evidence_record_read(named, strlen(named), "http", NULL, &rec, &err), -1);
	assert_non_null(strstr(err, "unknown log record api 'http'"));
	free(err);
}

/* Not a record: every message says why; a status in metadata makes an
 * error reply, which is read with its reason. */
static void test_not_records(void **state)
{
	static const char *const bad[][2] = {
		{"", "not JSON"},
		{"[1]", "'request' and 'response'"},
		{"{\"request\":{\"messages\":[]}}", "'request' and 'response'"},
		{"{\"request\":{},\"response\":{},\"metadata\":3}", "'metadata' is an object"},
	};
	static const char error_reply[] =
		"{\"request\":{\"messages\":[]},\"response\":{\"error\":{\"type\":\"rate_limit_error\","
		"\"message\":\"slow down\"}},\"metadata\":{\"status\":429,\"api\":\"openai-chat\"}}\n";
	struct evidence_record rec;
	char *err = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(evidence_record_read(bad[i][0], strlen(bad[i][0]), NULL, NULL, &rec,
						      &err), -1);
		if (!strstr(err, bad[i][1]))
			fail_msg("'%s': '%s' does not say '%s'", bad[i][0], err, bad[i][1]);
		assert_null(rec.json);
		free(err);
		err = NULL;
	}
	assert_int_equal(evidence_record_read(error_reply, strlen(error_reply), NULL, NULL, &rec,
					      &err), 0);
	assert_int_equal(rec.reply.status, 429);
	assert_string_equal(rec.reply_error, "429 rate_limit_error: slow down");
	evidence_record_release(&rec);
}

/* A secret in a line that is not JSON is masked in the reason. */
static void test_redacted_reason(void **state)
{
	static const char line[] = "{\"request\": sk-live-12345678 }";
	struct redact rd = {0};
	struct evidence_record rec;
	char *err = NULL;

	redact_add(&rd, "sk-live-12345678");
	assert_int_equal(evidence_record_read(line, strlen(line), NULL, &rd, &rec, &err), -1);
	assert_non_null(strstr(err, REDACT_MASK));
	assert_null(strstr(err, "sk-live"));
	free(err);
	redact_release(&rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai_chat_tool_call),
		cmocka_unit_test(test_openai_chat_conversation),
		cmocka_unit_test(test_anthropic_messages),
		cmocka_unit_test(test_openai_responses),
		cmocka_unit_test(test_api_choice),
		cmocka_unit_test(test_not_records),
		cmocka_unit_test(test_redacted_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
