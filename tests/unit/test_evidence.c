/* test_evidence.c: log records of the three APIs read into messages and a
 * parsed reply, from the real-shaped logs of tests/fixtures/evidence;
 * saved samples, OTel GenAI spans, and cases made and added to a file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "evidence/evidence.h"
#include "redact.h"
#include "suite/suite.h"
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
	assert_int_equal(rec.calls.ntool_calls, 1);
	assert_string_equal(rec.calls.tool_calls[0].name, "lookup_policy");
	assert_string_equal(cJSON_GetArrayItem(rec.results, 0)->valuestring, "Refunds: 14 days.");
	evidence_record_release(&rec);
}

/* history_is: the record of line (in api) has calls of name and results
 * (NULL: none given) in order. */
static void history_is(const char *line, const char *api, size_t n, const char *const *names,
		       const char *const *results)
{
	struct evidence_record rec;
	char *err = NULL;

	assert_int_equal(evidence_record_read(line, strlen(line), api, NULL, &rec, &err), 0);
	assert_int_equal(rec.calls.ntool_calls, n);
	for (size_t i = 0; i < n; i++) {
		const cJSON *r = cJSON_GetArrayItem(rec.results, (int)i);

		assert_string_equal(rec.calls.tool_calls[i].name, names[i]);
		if (results[i])
			assert_string_equal(r->valuestring, results[i]);
		else
			assert_true(!r || cJSON_IsNull(r));
	}
	evidence_record_release(&rec);
}

/* The tool calls of each API's history and the results matched to them by
 * id: a string, text blocks, JSON; a call without a result has none. */
static void test_history(void **state)
{
	static const char responses[] =
		"{\"request\":{\"input\":[{\"role\":\"user\",\"content\":\"hi\"},"
		"{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"find\",\"arguments\":\"{}\"},"
		"{\"type\":\"function_call\",\"call_id\":\"c2\",\"name\":\"find\",\"arguments\":\"{}\"},"
		"{\"type\":\"function_call_output\",\"call_id\":\"c2\",\"output\":\"two\"},"
		"{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"one\"}]},"
		"\"response\":{\"object\":\"response\",\"output\":[]}}";
	static const char anthropic[] =
		"{\"request\":{\"system\":\"s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
		"{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\","
		"\"name\":\"find\",\"input\":{\"q\":1}},{\"type\":\"tool_use\",\"id\":\"t2\","
		"\"name\":\"stat\",\"input\":{}}]},{\"role\":\"user\",\"content\":["
		"{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":[{\"type\":\"text\","
		"\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}]}]},"
		"\"response\":{\"type\":\"message\",\"content\":[]}}";
	static const char chat[] =
		"{\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
		"{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"x\",\"function\":{\"name\":\"find\","
		"\"arguments\":\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"x\",\"content\":"
		"[{\"type\":\"image\"}]}]},\"response\":{\"choices\":[]}}";
	static const char *const two[] = {"find", "find"}, *const two_results[] = {"one", "two"};
	static const char *const mixed[] = {"find", "stat"}, *const mixed_results[] = {"ab", NULL};
	static const char *const one[] = {"find"}, *const json_result[] = {"[{\"type\":\"image\"}]"};

	history_is(responses, "openai-responses", 2, two, two_results);
	history_is(anthropic, "anthropic-messages", 2, mixed, mixed_results);
	history_is(chat, "openai-chat", 1, one, json_result);
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

/* Names are escaped so that a path never leaves DIR. */
static void test_sample_path(void **state)
{
	struct evidence_sample s = {.stratum = "tools", .case_id = "../a/b%c", .side = "prod",
				    .index = 2};
	char *path = evidence_sample_path(&s);

	assert_string_equal(path, "tools/%2E.%2Fa%2Fb%25c/prod/2.json");
	free(path);
	s.stratum = ".hidden";
	s.case_id = "";
	path = evidence_sample_path(&s);
	assert_string_equal(path, "%2Ehidden/%00/prod/2.json");
	free(path);
}

/* A sample with a secret in a header, the request and the reply: the
 * secret is masked everywhere, a JSON body stays JSON, a text body is
 * text, and the file reads back (and makes a log record). */
static void test_sample_json(void **state)
{
	char *headers[] = {"Authorization: Bearer sk-live-12345678", "anthropic-version: 2023-06-01"};
	struct evidence_grade grades[] = {{"contains", "fail", "missing \"x\""}};
	char *reasons[] = {"contains: missing \"x\""};
	static const char request[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi sk-live-12345678\"}]}";
	static const char body[] = "{\"choices\":[{\"message\":{\"content\":\"sk-live-12345678\"}}]}";
	struct evidence_sample s = {
		.suite = "t", .stratum = "st", .case_id = "c", .side = "prod", .index = 0,
		.time = "2026-01-02T03:04:05Z", .api = "openai-chat", .url = "http://h/v1",
		.request = request, .request_headers = headers, .nrequest_headers = 2,
		.status = 200, .body = body, .body_len = strlen(body), .latency_ms = 12.34,
		.attempts = 1, .fingerprint = "sha256:ab", .grade = "fail", .grades = grades,
		.ngrades = 1, .reasons = reasons, .nreasons = 1,
	};
	struct redact rd = {0};
	struct evidence_sample back;
	struct evidence_record rec;
	char *text, *err = NULL;
	cJSON *j, *record;

	redact_add(&rd, "Bearer sk-live-12345678");
	redact_add(&rd, "sk-live-12345678");
	j = evidence_sample_json(&s, &rd);
	text = cJSON_PrintUnformatted(j);
	assert_null(strstr(text, "sk-live"));
	assert_non_null(strstr(text, "\"Authorization\":\"[redacted]\""));
	assert_non_null(strstr(text, "\"anthropic-version\":\"2023-06-01\""));
	assert_non_null(strstr(text, "\"body\":{\"choices\""));
	assert_non_null(strstr(text, "\"latency_ms\":12.3"));
	assert_int_equal(evidence_sample_read(text, strlen(text), "s.json", &back, &err), 0);
	assert_string_equal(back.case_id, "c");
	assert_string_equal(back.side, "prod");
	assert_int_equal(back.status, 200);
	assert_string_equal(back.body, "{\"choices\":[{\"message\":{\"content\":\"[redacted]\"}}]}");
	assert_string_equal(back.grade, "fail");
	evidence_sample_release(&back);
	record = evidence_sample_record(j);
	assert_non_null(record);
	assert_int_equal(evidence_record_from_json(record, NULL, NULL, &rec, &err), 0);
	assert_string_equal(rec.api->name, "openai-chat");
	message_is(rec.messages, 0, "user", "hi [redacted]");
	assert_string_equal(rec.reply.content, "[redacted]");
	assert_string_equal(rec.reply.fingerprint, "sha256:ab");
	evidence_record_release(&rec);
	/* a text body and no request */
	s.request = NULL;
	s.body = "plain\ntext";
	s.body_len = strlen(s.body);
	cJSON_Delete(j);
	cJSON_free(text);
	j = evidence_sample_json(&s, &rd);
	assert_null(cJSON_GetObjectItem(j, "request"));
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "response"), "body_text")->valuestring,
			    "plain\ntext");
	assert_null(evidence_sample_record(j));
	cJSON_Delete(j);
	assert_int_equal(evidence_sample_read("{\"x\":1}", 7, "x.json", &back, &err), -1);
	assert_string_equal(err, "'x.json' is not a saved sample (canary run --save-replies)");
	free(err);
	redact_release(&rd);
}

/* The chat spans of the export, with their turns, reply and provenance;
 * the tool span is skipped. */
static void test_otel(void **state)
{
	char *path = xasprintf("%s/evidence/otel-genai.json", test_fixtures()), *err = NULL;
	size_t len, n;
	char *text = util_read_file(path, (size_t)1 << 20, &len, &err);
	struct evidence_record *recs;

	assert_non_null(text);
	assert_int_equal(evidence_otel_read(text, len, &recs, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_null(recs[0].api);
	message_is(recs[0].messages, 0, "system", "You are the calendar assistant of Example Corp.");
	message_is(recs[0].messages, 1, "user", "Book 30 minutes with ana@example.com tomorrow at 10:00");
	assert_int_equal(recs[0].reply.ntool_calls, 1);
	assert_string_equal(recs[0].reply.tool_calls[0].name, "create_event");
	assert_non_null(cJSON_GetObjectItem(recs[0].reply.tool_calls[0].arguments, "attendees"));
	assert_string_equal(cJSON_GetObjectItem(recs[0].metadata, "time")->valuestring,
			    "2025-12-02T09:14:03Z");
	assert_string_equal(cJSON_GetObjectItem(recs[0].metadata, "span_id")->valuestring,
			    "00f067aa0ba902b7");
	/* the tool turns carry no text: they are the history */
	assert_int_equal(cJSON_GetArraySize(recs[1].messages), 1);
	assert_int_equal(recs[1].calls.ntool_calls, 1);
	assert_string_equal(recs[1].calls.tool_calls[0].name, "lookup_policy");
	assert_string_equal(cJSON_GetArrayItem(recs[1].results, 0)->valuestring,
			    "Refunds: 14 days.");
	assert_string_equal(recs[1].reply.content, "Refunds are accepted within 14 days.");
	for (size_t i = 0; i < n; i++)
		evidence_record_release(&recs[i]);
	free(recs);
	assert_int_equal(evidence_otel_read("{}", 2, &recs, &n, &err), -1);
	assert_string_equal(err, "an OTLP JSON export has a 'resourceSpans' array");
	free(err);
	free(text);
	free(path);
}

/* The case of a record: its id, turns, expectation (good and bad) and a
 * template-safe text. */
static void test_case_yaml(void **state)
{
	static const char line[] =
		"{\"request\":{\"messages\":[{\"role\":\"system\",\"content\":\"sys\"},"
		"{\"role\":\"user\",\"content\":\"Pay ${env:X} now, please!\"}]},"
		"\"response\":{\"choices\":[{\"message\":{\"content\":\"Paid.\\nDone\",\"tool_calls\":["
		"{\"function\":{\"name\":\"pay\",\"arguments\":\"{\\\"amount\\\":3}\"}},"
		"{\"function\":{\"name\":\"notify\",\"arguments\":\"{}\"}}]}}]}}";
	struct evidence_record rec;
	struct evidence_promote o = {.id = "pay-1", .source = "log.jsonl:7"};
	char *err = NULL, *id, *yaml;

	assert_int_equal(evidence_record_read(line, strlen(line), NULL, NULL, &rec, &err), 0);
	id = evidence_case_id(&rec);
	assert_string_equal(id, "promoted-pay-env-x-now-please");
	free(id);
	yaml = evidence_case_yaml(&rec, &o, &err);
	assert_string_equal(yaml,
		"# promoted by canary promote from log.jsonl:7\n"
		"# time: unknown, fingerprint: none, api: openai-chat\n"
		"# it replied: tool call pay, tool call notify, text \"Paid....\"\n"
		"- id: \"pay-1\"\n"
		"  input: \"Pay $${env:X} now, please!\"\n"
		"  expect:\n"
		"    - trajectory: {\"calls\":[{\"name\":\"pay\",\"arguments\":{\"type\":\"object\","
		"\"required\":[\"amount\"]}},{\"name\":\"notify\"}],\"order\":\"exact\"}\n");
	free(yaml);
	o.bad = true;
	yaml = evidence_case_yaml(&rec, &o, &err);
	assert_non_null(strstr(yaml, "    - no_tool_call: [\"pay\",\"notify\"]\n"));
	free(yaml);
	reply_release(&rec.reply);
	rec.reply.content = xstrdup("Paid.\nDone");
	yaml = evidence_case_yaml(&rec, &o, &err);
	assert_non_null(strstr(yaml, "    - not_contains: \"Paid.\"\n"));
	free(yaml);
	evidence_record_release(&rec);
}

/* A conversation's case: its user turns, the results each tool gave (by
 * arguments when they differ, a placeholder when none was logged), every
 * call as the trajectory, or with --bad what its last turn must not do;
 * the case loads and its scripts answer as the history did. */
static void test_case_yaml_conversation(void **state)
{
	static const char line[] =
		"{\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"Find ${x}\"},"
		"{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"function\":{\"name\":\"find\","
		"\"arguments\":\"{\\\"q\\\":\\\"a\\\"}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"A\"},"
		"{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c2\",\"function\":{\"name\":\"find\","
		"\"arguments\":\"{\\\"q\\\":\\\"b\\\"}\"}}]},"
		"{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"B\"},"
		"{\"role\":\"assistant\",\"content\":\"Found.\"},"
		"{\"role\":\"user\",\"content\":\"Now book it\"}]},"
		"\"response\":{\"choices\":[{\"message\":{\"content\":null,\"tool_calls\":["
		"{\"id\":\"c3\",\"function\":{\"name\":\"book\",\"arguments\":\"{}\"}}]}}]}}";
	static const char head[] =
		"version: 1\nname: t\ntargets:\n  eval: {url: 'http://127.0.0.1/'}\n"
		"  prod: {url: 'http://127.0.0.1/'}\ntools: [{name: find}, {name: book}]\n";
	struct evidence_record rec;
	struct evidence_promote o = {.id = "conv", .source = "log.jsonl:1"};
	struct suite_options so = {.lazy_env = true};
	char *err = NULL, *yaml, *suite;
	const char *why = NULL;

	assert_int_equal(evidence_record_read(line, strlen(line), NULL, NULL, &rec, &err), 0);
	yaml = evidence_case_yaml(&rec, &o, &err);
	assert_non_null(strstr(yaml,
		"- id: \"conv\"\n"
		"  turns:\n"
		"    - \"Find $${x}\"\n"
		"    - \"Now book it\"\n"
		"  tool_results:\n"
		"    find:\n"
		"      - when: {\"type\":\"object\",\"properties\":{\"q\":{\"const\":\"a\"}},"
		"\"required\":[\"q\"]}\n"
		"        result: \"A\"\n"
		"      - result: \"B\"\n"
		"    book: \"(no result was logged for this call)\"\n"
		"  expect:\n"
		"    - trajectory: {\"calls\":[{\"name\":\"find\",\"arguments\":{\"type\":\"object\","
		"\"required\":[\"q\"]}},{\"name\":\"find\",\"arguments\":{\"type\":\"object\","
		"\"required\":[\"q\"]}},{\"name\":\"book\"}],\"order\":\"exact\"}\n"));
	suite = evidence_file_add_cases(head, strlen(head), "t.yaml", "s", yaml, &err);
	assert_non_null(suite);
	struct suite *st = suite_load_buffer("t.yaml", suite, strlen(suite), &so, &err);
	assert_non_null(st);
	const struct suite_case *c = &st->strata[0].cases[0];
	assert_int_equal(c->nturns, 2);
	cJSON *a = cJSON_Parse("{\"q\":\"a\"}"), *b = cJSON_Parse("{\"q\":\"b\"}");
	assert_string_equal(suite_tool_result(c, "find", a, &why), "A");
	assert_string_equal(suite_tool_result(c, "find", b, &why), "B");
	cJSON_Delete(a);
	cJSON_Delete(b);
	suite_free(st);
	free(suite);
	free(yaml);
	o.bad = true;
	yaml = evidence_case_yaml(&rec, &o, &err);
	assert_non_null(strstr(yaml, "    - \"Find $${x}\"\n"
				     "    - input: \"Now book it\"\n"
				     "      expect:\n"
				     "        - no_tool_call: [\"book\"]\n"
				     "  tool_results:\n"));
	assert_null(strstr(yaml, "trajectory"));
	free(yaml);
	evidence_record_release(&rec);
}

/* Cases added to a file as text: after the stratum's last case, as a new
 * stratum, in a new strata; flow style is refused. */
static void test_file_add_cases(void **state)
{
	static const char file[] =
		"# top\n"
		"strata:\n"
		"  a:\n"
		"    cases:\n"
		"      - id: x   # keep\n"
		"        input: y\n"
		"    # about b\n"
		"  b:\n"
		"    cases:\n"
		"    - id: z\n"
		"      input: w\n"
		"other: 1\n";
	static const char item[] = "# c\n- id: new\n  input: q\n";
	char *err = NULL, *out;

	out = evidence_file_add_cases(file, strlen(file), "f.yaml", "a", item, &err);
	assert_string_equal(out,
		"# top\nstrata:\n  a:\n    cases:\n      - id: x   # keep\n        input: y\n"
		"      # c\n      - id: new\n        input: q\n"
		"    # about b\n  b:\n    cases:\n    - id: z\n      input: w\nother: 1\n");
	free(out);
	out = evidence_file_add_cases(file, strlen(file), "f.yaml", "b", item, &err);
	assert_non_null(strstr(out, "    - id: z\n      input: w\n    # c\n    - id: new\n      input: q\nother: 1\n"));
	free(out);
	out = evidence_file_add_cases(file, strlen(file), "f.yaml", "c", item, &err);
	assert_non_null(strstr(out, "      input: w\n  c:\n    cases:\n      # c\n      - id: new\n        input: q\nother: 1\n"));
	free(out);
	out = evidence_file_add_cases("# only\n", 7, "f.yaml", "c", item, &err);
	assert_string_equal(out, "# only\nstrata:\n  c:\n    cases:\n      # c\n      - id: new\n        input: q\n");
	free(out);
	out = evidence_file_add_cases("", 0, "f.yaml", "c", item, &err);
	assert_string_equal(out, "strata:\n  c:\n    cases:\n      # c\n      - id: new\n        input: q\n");
	free(out);
	assert_null(evidence_file_add_cases("strata: {a: {cases: [{id: x}]}}\n", 32, "f.yaml", "a",
					    item, &err));
	assert_string_equal(err, "f.yaml:1:9: 'strata' is not a block mapping: add the case by hand");
	free(err);
	err = NULL;
	assert_null(evidence_file_add_cases("strata:\n  a:\n    cases: [{id: x}]\n", 34, "f.yaml",
					    "a", item, &err));
	assert_non_null(strstr(err, "the cases of stratum 'a' are not a block list"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openai_chat_tool_call),
		cmocka_unit_test(test_openai_chat_conversation),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_anthropic_messages),
		cmocka_unit_test(test_openai_responses),
		cmocka_unit_test(test_api_choice),
		cmocka_unit_test(test_not_records),
		cmocka_unit_test(test_redacted_reason),
		cmocka_unit_test(test_sample_path),
		cmocka_unit_test(test_sample_json),
		cmocka_unit_test(test_otel),
		cmocka_unit_test(test_case_yaml),
		cmocka_unit_test(test_case_yaml_conversation),
		cmocka_unit_test(test_file_add_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
