/* test_stub.c: the scripted agent, from script errors to HTTP behaviour. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "sse.h"
#include "stub/api.h"
#include "stub/conversation.h"
#include "stub/stub.h"
#include "support.h"
#include "util.h"

#define CHAT_PATH "/v1/chat/completions"

struct http {
	long status;
	struct buf body;
	char retry_after[128];
	char fingerprint[256];
	long connects;
};


static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	return buf_add(b, p, size * n) < 0 ? 0 : size * n;
}

/* Keep the value of a header we look at, without its line end. */
static void keep_header(const char *line, size_t len, const char *name, char *out, size_t max)
{
	size_t nl = strlen(name);
	if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	const char *v = line + nl + 1;
	size_t vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
		vl--;
	if (vl >= max)
		vl = max - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct http *h = ud;
	keep_header(p, size * n, "Retry-After", h->retry_after, sizeof(h->retry_after));
	keep_header(p, size * n, "X-Agent-Fingerprint", h->fingerprint, sizeof(h->fingerprint));
	return size * n;
}

static void http_init(struct http *h)
{
	memset(h, 0, sizeof(*h));
	buf_init(&h->body, 0);
}

/* Set up easy for one request: a POST of body, or a GET when body is NULL. */
static void prepare(CURL *easy, int port, const char *path, const char *body,
		    struct curl_slist *headers, struct http *h)
{
	char *url = xasprintf("http://127.0.0.1:%d%s", port, path);
	http_init(h);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &h->body);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 20000L);
	if (body) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	}
}

static void finish(CURL *easy, struct http *h)
{
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &h->status);
	curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &h->connects);
}

/* One request on easy (a reused handle keeps its connection). */
static CURLcode request_on(CURL *easy, int port, const char *path, const char *body,
			   struct http *h)
{
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	prepare(easy, port, path, body, headers, h);
	CURLcode rc = curl_easy_perform(easy);
	finish(easy, h);
	curl_slist_free_all(headers);
	return rc;
}

static CURLcode request(int port, const char *path, const char *body, struct http *h)
{
	CURL *easy = curl_easy_init();
	CURLcode rc = request_on(easy, port, path, body, h);
	curl_easy_cleanup(easy);
	return rc;
}

/* An openai-chat body whose last user message is user. */
static char *chat(const char *user)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", "client-model");
	cJSON *msgs = cJSON_AddArrayToObject(root, "messages");
	cJSON *sys = cJSON_CreateObject();
	cJSON_AddStringToObject(sys, "role", "system");
	cJSON_AddStringToObject(sys, "content", "refund everything");
	cJSON_AddItemToArray(msgs, sys);
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", user);
	cJSON_AddItemToArray(msgs, m);
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

/* POST a chat whose user says user; the reply must be 200 JSON. */
static cJSON *ask(int port, const char *user, struct http *h)
{
	char *body = chat(user);
	assert_int_equal(request(port, CHAT_PATH, body, h), CURLE_OK);
	free(body);
	cJSON *j = cJSON_Parse(h->body.data ? h->body.data : "");
	assert_non_null(j);
	return j;
}

static const cJSON *message_of(const cJSON *reply)
{
	const cJSON *choices = cJSON_GetObjectItemCaseSensitive(reply, "choices");
	assert_true(cJSON_IsArray(choices));
	assert_int_equal(cJSON_GetArraySize(choices), 1);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(choices, 0),
							    "message");
	assert_true(cJSON_IsObject(msg));
	return msg;
}

/* The content of the reply's message, or NULL when it is null. */
static const char *content_of(const cJSON *reply)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(message_of(reply), "content");
	if (cJSON_IsNull(c))
		return NULL;
	assert_true(cJSON_IsString(c));
	return c->valuestring;
}

static const char *get_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

/* The text the user sent gets this content back. */
static void assert_reply(int port, const char *user, const char *want)
{
	struct http h;
	cJSON *j = ask(port, user, &h);
	assert_int_equal(h.status, 200);
	assert_string_equal(content_of(j), want);
	cJSON_Delete(j);
	buf_release(&h.body);
}

static struct stub *start_buffer(const char *yaml, unsigned seed, const char *log_path)
{
	char *err = NULL;
	struct stub_script *sc = stub_script_load_buffer("t.yaml", yaml, strlen(yaml), &err);
	if (!sc)
		fail_msg("%s", err);
	struct stub_options o = {.host = "127.0.0.1", .seed = seed, .log_path = log_path};
	struct stub *s = stub_start(sc, &o, &err);
	if (!s)
		fail_msg("%s", err);
	assert_true(stub_port(s) > 0);
	return s;
}

static struct stub *start_fixture(const char *name, const char *api)
{
	char *path = xasprintf("%s/stub/%s", test_fixtures(), name), *err = NULL;
	struct stub_script *sc = stub_script_load(path, &err);
	free(path);
	if (!sc)
		fail_msg("%s", err);
	struct stub_options o = {.host = "127.0.0.1", .seed = 1, .api = api};
	struct stub *s = stub_start(sc, &o, &err);
	if (!s)
		fail_msg("%s", err);
	return s;
}

static void test_script_errors(void **state)
{
	static const struct {
		const char *yaml;
		const char *want; /* the whole message starts with this */
	} cases[] = {
		{"rules:\n  - reply: hi\n    replyy: x\n",
		 "t.yaml:3:5: unknown key 'replyy' in a rule"},
		{"rulez: []\n", "t.yaml:1:1: unknown key 'rulez' in the script (did you mean 'rules'?)"},
		{"rules:\n  - match: '('\n    reply: x\n", "t.yaml:2:12: bad regex '(' at offset 1"},
		{"rules:\n  - latency: 5 parsecs\n    reply: x\n",
		 "t.yaml:2:14: bad duration '5 parsecs'"},
		{"rules:\n  - reply: x\n    tool_call: {name: f}\n",
		 "t.yaml:3:5: 'reply' and 'tool_call' are two answers; give one"},
		{"rules:\n  - probability: 1.5\n    reply: x\n",
		 "t.yaml:2:18: 'probability' must be a number from 0 to 1"},
		{"rules:\n  - probability: -0.1\n    reply: x\n",
		 "t.yaml:2:18: 'probability' must be a number from 0 to 1"},
		{"rules:\n  - match: x\n", "t.yaml:2:5: no answer"},
		{"rules:\n  - reply: x\n    otherwise: {reply: y}\n",
		 "t.yaml:3:16: 'otherwise' needs 'probability'"},
		{"rules:\n  - probability: 0.5\n    reply: x\n    otherwise: {reply: y, times: 2}\n",
		 "t.yaml:4:27: unknown key 'times' in 'otherwise'"},
		{"rules:\n  - status: 99\n", "t.yaml:2:13: 'status' must be a whole number"},
		{"rules:\n  - hang: false\n", "t.yaml:2:11: 'hang' can only be true"},
		{"rules:\n  - size: 9 parsecs\n", "t.yaml:2:11: bad size '9 parsecs'"},
		{"rules:\n  - size: 2GiB\n", "t.yaml:2:11: bad size '2GiB'"},
		{"rules:\n  - times: 0\n    reply: x\n", "t.yaml:2:12: 'times' must be a whole number"},
		{"rules:\n  - tool_call: {arguments: {}}\n", "t.yaml:2:16: a tool call needs 'name'"},
		{"rules:\n  - tool_calls: []\n", "t.yaml:2:17: 'tool_calls' must be a non-empty list"},
		{"rules:\n  - reply: x\n    retry_after: 1\n", "t.yaml:3:18: 'retry_after' needs 'status'"},
		{"rules:\n  - raw: x\n    body: y\n", "t.yaml:3:11: 'body' and 'raw' both give"},
		{"rules:\n  - echo: true\n    close: true\n", "t.yaml:3:5: 'echo' and 'close' are two"},
		{"rules:\n  - reply: {a: 1}\n", "t.yaml:2:12: 'reply' must be a scalar, not a mapping"},
		{"fingerprint_header: 'X Bad'\nrules: []\n", "t.yaml:1:21: bad header name 'X Bad'"},
		{"fingerprint: \"a\\nb\"\nrules: []\n", "t.yaml:1:14: 'fingerprint' must not hold"},
		{"rules: {a: 1}\n", "t.yaml:1:8: 'rules' must be a list"},
		{"rules:\n  - just text\n", "t.yaml:2:5: a rule must be a mapping"},
		{"model: m\n", "t.yaml:1:1: missing 'rules'"},
		{"- a\n", "t.yaml:1:1: a script must be a mapping"},
		{"", "t.yaml:1:1: the script is empty"},
		{"rules: [\n", "t.yaml:2:1: "},
		/* Refusals, usage and streams. */
		{"rules:\n  - refusal: {a: 1}\n", "t.yaml:2:14: 'refusal' must be a scalar"},
		{"rules:\n  - refusal: no\n    reply: x\n", "t.yaml:3:5: 'refusal' and 'reply' are two"},
		{"rules:\n  - reply: x\n    usage: {input: 3}\n",
		 "t.yaml:3:12: 'usage' needs 'input' and 'output'"},
		{"rules:\n  - reply: x\n    usage: {input: 3, output: 1, cached: 4}\n",
		 "t.yaml:3:42: 'cached' must not be more than 'input'"},
		{"rules:\n  - reply: x\n    usage: {input: 3, output: 1, reasoning: 2}\n",
		 "t.yaml:3:45: 'reasoning' must not be more than 'output'"},
		{"rules:\n  - reply: x\n    usage: {input: -1, output: 1}\n",
		 "t.yaml:3:20: 'input' must be a whole number from 0"},
		{"rules:\n  - reply: x\n    usage: {inputs: 1, output: 1}\n",
		 "t.yaml:3:13: unknown key 'inputs' in 'usage' (did you mean 'input'?)"},
		{"rules:\n  - status: 500\n    usage: {input: 1, output: 1}\n",
		 "t.yaml:3:12: 'usage' needs an answer with content"},
		{"rules:\n  - hang: true\n    stream: {}\n",
		 "t.yaml:3:13: 'stream' needs an answer with content"},
		{"rules:\n  - reply: x\n    stream: fast\n", "t.yaml:3:13: 'stream' must be a mapping"},
		{"rules:\n  - reply: x\n    stream: {fault: boom}\n",
		 "t.yaml:3:21: unknown fault 'boom' (cut, malformed, oversized, error, close or hang)"},
		{"rules:\n  - reply: x\n    stream: {at: 2}\n", "t.yaml:3:18: 'at' needs 'fault'"},
		{"rules:\n  - reply: x\n    stream: {fault: cut, at: 0}\n",
		 "t.yaml:3:30: 'at' must be a whole number from 1"},
		{"rules:\n  - reply: x\n    stream: {fault: oversized}\n",
		 "t.yaml:3:21: 'fault: oversized' needs 'size'"},
		{"rules:\n  - reply: x\n    stream: {fault: cut, size: 1KiB}\n",
		 "t.yaml:3:32: 'size' needs 'fault: oversized'"},
		{"rules:\n  - reply: x\n    stream: {chunk: 0}\n", "t.yaml:3:21: bad size '0'"},
		{"rules:\n  - reply: x\n    stream: {chunk: 2MiB}\n",
		 "t.yaml:3:21: bad size '2MiB' (use e.g. 512KiB or 9MiB, at most 1MiB)"},
		{"rules:\n  - reply: x\n    stream: {delay: soon}\n", "t.yaml:3:21: bad duration 'soon'"},
		{"rules:\n  - reply: x\n    stream: {falt: cut}\n",
		 "t.yaml:3:14: unknown key 'falt' in 'stream' (did you mean 'fault'?)"},
		/* Conditions on the conversation. */
		{"rules:\n  - turn: 0\n    reply: x\n", "t.yaml:2:11: 'turn' must be a whole number from 1"},
		{"rules:\n  - step: first\n    reply: x\n", "t.yaml:2:11: 'step' must be a whole number"},
		{"rules:\n  - earlier: '('\n    reply: x\n", "t.yaml:2:14: bad regex '(' at offset 1"},
		{"rules:\n  - tool_result: [a]\n    reply: x\n",
		 "t.yaml:2:18: 'tool_result' must be a tool name or a mapping"},
		{"rules:\n  - tool_result: ''\n    reply: x\n", "t.yaml:2:18: 'name' must not be empty"},
		{"rules:\n  - tool_result: {nam: f}\n    reply: x\n",
		 "t.yaml:2:19: unknown key 'nam' in 'tool_result' (did you mean 'name'?)"},
		{"rules:\n  - tool_result: {content: '('}\n    reply: x\n",
		 "t.yaml:2:28: bad regex '(' at offset 1"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *err = NULL;
		struct stub_script *sc = stub_script_load_buffer("t.yaml", cases[i].yaml,
								 strlen(cases[i].yaml), &err);
		if (sc || !err || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: want '%s', got '%s'", i, cases[i].want,
				 err ? err : "(no error)");
		free(err);
	}
}

static void test_script_load(void **state)
{
	static const char yaml[] =
		"fingerprint: f1\nfingerprint_header: X-Fp\nmodel: m\nrules:\n"
		"  - match: '(?i)hello'\n    times: 3\n    latency: 10ms\n"
		"    probability: 0.25\n    reply: hi\n"
		"    otherwise: {status: 503, retry_after: 'Wed, 21 Oct 2015 07:28:00 GMT',"
		" latency: 1s}\n"
		"  - {status: 200, raw: '[]', content_type: text/plain}\n"
		"  - {hang: true}\n  - {size: 512KiB}\n  - {reply: ~}\n"
		"  - {refusal: no, usage: {input: 5, output: 2, cached: 5, reasoning: 0}}\n"
		"  - {tool_result: f, step: 2, turn: 1, earlier: x, echo: true, stream: {chunk: 1KiB,"
		" delay: 1ms, fault: oversized, at: 9, size: 1MiB}}\n"
		"  - {tool_result: {}, probability: 0.5, reply: a, otherwise: {refusal: b,"
		" stream: {fault: hang}}}\n";
	char *err = NULL;
	struct stub_script *sc = stub_script_load_buffer("t.yaml", yaml, strlen(yaml), &err);
	if (!sc)
		fail_msg("%s", err);
	stub_script_free(sc);

	sc = stub_script_load("/nonexistent/agent.yaml", &err);
	assert_null(sc);
	assert_non_null(strstr(err, "cannot open '/nonexistent/agent.yaml'"));
	free(err);
}

static void test_text_reply(void **state)
{
	struct stub *s = start_fixture("agent.yaml", NULL);
	struct http h;
	cJSON *j = ask(stub_port(s), "What is your REFUND window?", &h);
	assert_int_equal(h.status, 200);
	assert_string_equal(h.fingerprint, "system_prompt=ab12;tools=cd34");
	assert_string_equal(get_str(j, "object"), "chat.completion");
	assert_string_equal(get_str(j, "model"), "stub-model");
	assert_string_equal(get_str(j, "system_fingerprint"), "system_prompt=ab12;tools=cd34");
	assert_int_equal(strncmp(get_str(j, "id"), "chatcmpl-stub-", 14), 0);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "created")));
	const cJSON *msg = message_of(j);
	assert_string_equal(get_str(msg, "role"), "assistant");
	assert_string_equal(content_of(j), "Refunds are accepted within 30 days.");
	assert_null(cJSON_GetObjectItemCaseSensitive(msg, "tool_calls"));
	const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	assert_string_equal(get_str(choice, "finish_reason"), "stop");
	const cJSON *usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
	const cJSON *total = cJSON_GetObjectItemCaseSensitive(usage, "total_tokens");
	assert_true(cJSON_IsNumber(total) && total->valuedouble > 0);
	cJSON_Delete(j);
	buf_release(&h.body);
	assert_int_equal(stub_requests(s), 1);
	stub_stop(s);
}

static void test_tool_calls(void **state)
{
	struct stub *s = start_fixture("agent.yaml", NULL);
	struct http h;
	cJSON *j = ask(stub_port(s), "book a meeting with Ana", &h);
	assert_int_equal(h.status, 200);
	assert_null(content_of(j));
	const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	assert_string_equal(get_str(choice, "finish_reason"), "tool_calls");
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(message_of(j), "tool_calls");
	assert_int_equal(cJSON_GetArraySize(calls), 1);
	const cJSON *call = cJSON_GetArrayItem(calls, 0);
	assert_int_equal(strncmp(get_str(call, "id"), "call_", 5), 0);
	assert_string_equal(get_str(call, "type"), "function");
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
	assert_string_equal(get_str(fn, "name"), "create_event");
	cJSON *args = cJSON_Parse(get_str(fn, "arguments"));
	assert_non_null(args);
	const cJSON *emails = cJSON_GetObjectItemCaseSensitive(args, "attendee_emails");
	assert_int_equal(cJSON_GetArraySize(emails), 1);
	assert_string_equal(cJSON_GetArrayItem(emails, 0)->valuestring, "ana@example.com");
	assert_string_equal(get_str(args, "start"), "2026-01-02T10:00:00Z");
	cJSON_Delete(args);
	cJSON_Delete(j);
	buf_release(&h.body);

	j = ask(stub_port(s), "two tools please", &h);
	calls = cJSON_GetObjectItemCaseSensitive(message_of(j), "tool_calls");
	assert_int_equal(cJSON_GetArraySize(calls), 2);
	fn = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(calls, 0), "function");
	assert_string_equal(get_str(fn, "arguments"), "{\"query\":\"x\",\"limit\":3}");
	call = cJSON_GetArrayItem(calls, 1);
	assert_string_equal(get_str(call, "id"), "call_fixed");
	fn = cJSON_GetObjectItemCaseSensitive(call, "function");
	assert_string_equal(get_str(fn, "arguments"), "{\"not\": json");
	cJSON_Delete(j);
	buf_release(&h.body);
	stub_stop(s);
}

static void test_status_and_raw(void **state)
{
	struct stub *s = start_fixture("agent.yaml", NULL);
	int port = stub_port(s);
	struct http h;
	cJSON *j = ask(port, "slow down", &h);
	assert_int_equal(h.status, 429);
	assert_string_equal(h.retry_after, "1");
	assert_string_equal(h.fingerprint, "system_prompt=ab12;tools=cd34");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	assert_string_equal(get_str(e, "type"), "rate_limit_error");
	assert_non_null(strstr(get_str(e, "message"), "429"));
	cJSON_Delete(j);
	buf_release(&h.body);

	j = ask(port, "outage", &h);
	assert_int_equal(h.status, 503);
	assert_string_equal(h.retry_after, "");
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	assert_string_equal(get_str(e, "message"), "down for maintenance");
	cJSON_Delete(j);
	buf_release(&h.body);

	j = ask(port, "plain error", &h);
	assert_int_equal(h.status, 500);
	assert_string_equal(get_str(cJSON_GetObjectItemCaseSensitive(j, "error"), "type"),
			    "server_error");
	cJSON_Delete(j);
	buf_release(&h.body);

	char *body = chat("raw please");
	assert_int_equal(request(port, CHAT_PATH, body, &h), CURLE_OK);
	assert_int_equal(h.status, 200);
	assert_string_equal(h.body.data, "not json at all");
	free(body);
	buf_release(&h.body);
	stub_stop(s);
}

static void test_times_and_echo(void **state)
{
	struct stub *s = start_fixture("agent.yaml", NULL);
	int port = stub_port(s);
	assert_reply(port, "once upon a time", "first");
	assert_reply(port, "once upon a time", "later");
	assert_reply(port, "once more", "later");
	assert_reply(port, "echo this back", "echo this back");

	/* Content given as parts is matched and echoed as its joined text. */
	static const char parts[] =
		"{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"refund\"},"
		"{\"role\":\"assistant\",\"content\":\"ok\"},{\"role\":\"user\",\"content\":"
		"[{\"type\":\"text\",\"text\":\"echo A\"},{\"type\":\"text\",\"text\":\"B\"}]}]}";
	struct http h;
	assert_int_equal(request(port, "/anything/else", parts, &h), CURLE_OK);
	assert_int_equal(h.status, 200);
	cJSON *j = cJSON_Parse(h.body.data);
	assert_string_equal(content_of(j), "echo A\nB");
	cJSON_Delete(j);
	buf_release(&h.body);
	stub_stop(s);
}

static void test_errors(void **state)
{
	struct stub *s = start_fixture("agent.yaml", NULL);
	int port = stub_port(s);
	struct http h;
	cJSON *j = ask(port, "nothing matches this", &h);
	assert_int_equal(h.status, 404);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	assert_string_equal(get_str(e, "message"), "no stub rule matches");
	assert_string_equal(get_str(e, "type"), "invalid_request_error");
	cJSON_Delete(j);
	buf_release(&h.body);

	assert_int_equal(request(port, CHAT_PATH, "this is {not json", &h), CURLE_OK);
	assert_int_equal(h.status, 400);
	j = cJSON_Parse(h.body.data);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "error"));
	cJSON_Delete(j);
	buf_release(&h.body);

	assert_int_equal(request(port, CHAT_PATH, "{\"a\":1} trailing", &h), CURLE_OK);
	assert_int_equal(h.status, 400);
	buf_release(&h.body);

	assert_int_equal(request(port, "/healthz", NULL, &h), CURLE_OK);
	assert_int_equal(h.status, 200);
	assert_string_equal(h.body.data, "ok");
	buf_release(&h.body);

	assert_int_equal(request(port, "/nowhere", NULL, &h), CURLE_OK);
	assert_int_equal(h.status, 404);
	buf_release(&h.body);

	size_t big = ((size_t)8 << 20) + 1;
	char *body = xmalloc(big + 1);
	memset(body, 'a', big);
	body[big] = '\0';
	assert_int_equal(request(port, CHAT_PATH, body, &h), CURLE_OK);
	assert_int_equal(h.status, 413);
	free(body);
	buf_release(&h.body);

	/* close: the connection ends without a reply. */
	body = chat("close it");
	assert_int_equal(request(port, CHAT_PATH, body, &h), CURLE_GOT_NOTHING);
	free(body);
	buf_release(&h.body);
	stub_stop(s);
}

static void test_size(void **state)
{
	struct stub *s = start_fixture("agent.yaml", NULL);
	struct http h;
	cJSON *j = ask(stub_port(s), "big one", &h);
	assert_int_equal(h.status, 200);
	assert_true(h.body.len > (size_t)9 << 20);
	const char *content = content_of(j);
	assert_int_equal(strlen(content), (size_t)9 << 20);
	assert_int_equal(strncmp(content, "big:lorem ipsum", 15), 0);
	assert_string_equal(get_str(j, "object"), "chat.completion");
	cJSON_Delete(j);
	buf_release(&h.body);
	stub_stop(s);
}

static void test_keep_alive(void **state)
{
	struct stub *s = start_fixture("agent.yaml", NULL);
	CURL *easy = curl_easy_init();
	char *body = chat("refund?");
	struct http h;
	assert_int_equal(request_on(easy, stub_port(s), CHAT_PATH, body, &h), CURLE_OK);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.connects, 1);
	buf_release(&h.body);
	assert_int_equal(request_on(easy, stub_port(s), CHAT_PATH, body, &h), CURLE_OK);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.connects, 0); /* the connection was reused */
	buf_release(&h.body);
	free(body);
	/* An idle kept-alive connection does not hold up stopping (or this
	 * would wait for the client to hang up, past the test's timeout). */
	stub_stop(s);
	curl_easy_cleanup(easy);
}

static void test_log(void **state)
{
	char path[] = "/tmp/canary-stub-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct stub *s = start_buffer("rules:\n  - match: hello\n    reply: hi\n", 1, path);
	int port = stub_port(s);

	CURL *easy = curl_easy_init();
	struct curl_slist *headers = curl_slist_append(NULL, "Authorization: Bearer SECRET-123");
	struct http h;
	char *body = chat("hello there");
	prepare(easy, port, CHAT_PATH, body, headers, &h);
	assert_int_equal(curl_easy_perform(easy), CURLE_OK);
	finish(easy, &h);
	assert_int_equal(h.status, 200);
	buf_release(&h.body);
	free(body);
	curl_slist_free_all(headers);
	curl_easy_cleanup(easy);
	assert_int_equal(request(port, "/v1/x", "not json", &h), CURLE_OK);
	assert_int_equal(h.status, 400);
	buf_release(&h.body);
	assert_int_equal(stub_requests(s), 2);

	size_t len;
	char *err = NULL;
	char *text = util_read_file(path, 1 << 20, &len, &err);
	assert_non_null(text);
	assert_null(strstr(text, "SECRET-123"));
	assert_null(strstr(text, "Authorization"));
	int lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	assert_int_equal(lines, 2);
	char *nl = strchr(text, '\n');
	assert_non_null(nl);
	*nl = '\0';
	cJSON *a = cJSON_Parse(text);
	cJSON *b = cJSON_Parse(nl + 1);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(a, "time_ms")));
	assert_string_equal(get_str(a, "method"), "POST");
	assert_string_equal(get_str(a, "path"), CHAT_PATH);
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(a, "body"), "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 2);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(a, "status")->valueint, 200);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(a, "rule")->valueint, 0);
	assert_string_equal(get_str(b, "path"), "/v1/x");
	assert_string_equal(get_str(b, "body"), "not json");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(b, "status")->valueint, 400);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(b, "rule")));
	cJSON_Delete(a);
	cJSON_Delete(b);
	free(text);
	stub_stop(s);
	unlink(path);
}

static const char coin_script[] =
	"rules:\n"
	"  - {match: half, probability: 0.5, reply: heads, otherwise: {reply: tails}}\n"
	"  - {match: always, probability: 1, reply: heads, otherwise: {reply: tails}}\n"
	"  - {match: never, probability: 0, reply: heads, otherwise: {reply: tails}}\n"
	"  - {match: fall, probability: 0, reply: skipped}\n"
	"  - reply: next rule\n";

/* Flip n coins on a stub; the outcomes as a string of 'h' and 't'. */
static char *flips(struct stub *s, const char *user, int n)
{
	CURL *easy = curl_easy_init();
	char *body = chat(user);
	char *out = xcalloc((size_t)n + 1, 1);
	for (int i = 0; i < n; i++) {
		struct http h;
		assert_int_equal(request_on(easy, stub_port(s), CHAT_PATH, body, &h), CURLE_OK);
		cJSON *j = cJSON_Parse(h.body.data);
		const char *c = content_of(j);
		assert_true(strcmp(c, "heads") == 0 || strcmp(c, "tails") == 0);
		out[i] = c[0];
		cJSON_Delete(j);
		buf_release(&h.body);
	}
	free(body);
	curl_easy_cleanup(easy);
	return out;
}

static void test_probability(void **state)
{
	struct stub *a = start_buffer(coin_script, 7, NULL);
	struct stub *b = start_buffer(coin_script, 7, NULL);
	char *fa = flips(a, "half", 200), *fb = flips(b, "half", 200);
	int heads = 0;
	for (int i = 0; i < 200; i++)
		heads += fa[i] == 'h';
	assert_in_range(heads, 60, 140);
	assert_string_equal(fa, fb); /* the same seed draws the same coins */
	free(fa);
	free(fb);

	char *all = flips(a, "always", 50), *none = flips(a, "never", 50);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(all[i], 'h');
		assert_int_equal(none[i], 't');
	}
	free(all);
	free(none);
	assert_reply(stub_port(a), "fall through", "next rule");
	stub_stop(a);
	stub_stop(b);
}

/* run_multi: drive multi until nothing runs; the number of transfers done
 * with result rc. */
static int run_multi(CURLM *multi, CURLcode rc)
{
	int running = 1, left, done = 0;
	CURLMsg *m;
	while (running) {
		assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
		if (running)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	while ((m = curl_multi_info_read(multi, &left)))
		done += m->data.result == rc;
	return done;
}

static void test_concurrency(void **state)
{
	enum { N = 64 };
	struct stub *s = start_buffer("rules:\n  - {match: hour, latency: 1h, reply: late}\n"
				      "  - {latency: 200ms, reply: slow}\n", 1, NULL);
	CURLM *multi = curl_multi_init();
	CURL *easy[N];
	struct http h[N];
	char *body = chat("anything");
	for (int i = 0; i < N; i++) {
		easy[i] = curl_easy_init();
		prepare(easy[i], stub_port(s), CHAT_PATH, body, NULL, &h[i]);
		curl_multi_add_handle(multi, easy[i]);
	}
	assert_int_equal(run_multi(multi, CURLE_OK), N);
	for (int i = 0; i < N; i++) {
		finish(easy[i], &h[i]);
		assert_int_equal(h[i].status, 200);
		cJSON *j = cJSON_Parse(h[i].body.data);
		assert_string_equal(content_of(j), "slow");
		cJSON_Delete(j);
		buf_release(&h[i].body);
		curl_multi_remove_handle(multi, easy[i]);
	}
	free(body);

	/* N requests that each wait an hour are all in at once: served one at
	 * a time, the second would not arrive for an hour. */
	long seen = stub_requests(s);
	body = chat("an hour");
	for (int i = 0; i < N; i++) {
		prepare(easy[i], stub_port(s), CHAT_PATH, body, NULL, &h[i]);
		curl_multi_add_handle(multi, easy[i]);
	}
	int running = N;
	while (stub_requests(s) < seen + N) {
		assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
		assert_int_equal(running, N);
		curl_multi_poll(multi, NULL, 0, 10, NULL);
	}
	stub_stop(s);
	assert_int_equal(run_multi(multi, CURLE_OK), 0);
	for (int i = 0; i < N; i++) {
		buf_release(&h[i].body);
		curl_multi_remove_handle(multi, easy[i]);
		curl_easy_cleanup(easy[i]);
	}
	curl_multi_cleanup(multi);
	free(body);
}

struct pending {
	int port;
	const char *user;
	long timeout_ms;
	CURLcode rc;
};

static void *send_pending(void *arg)
{
	struct pending *p = arg;
	CURL *easy = curl_easy_init();
	char *body = chat(p->user);
	struct http h;
	prepare(easy, p->port, CHAT_PATH, body, NULL, &h);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, p->timeout_ms);
	p->rc = curl_easy_perform(easy);
	buf_release(&h.body);
	free(body);
	curl_easy_cleanup(easy);
	return NULL;
}

/* Poll until the stub has seen n requests. */
static void wait_requests(struct stub *s, long n)
{
	while (stub_requests(s) < n)
		nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
}

/* The threads of this process (Linux). */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_stop_is_prompt(void **state)
{
	struct stub *s = start_buffer("rules:\n  - {match: slow, latency: 1h, reply: late}\n"
				      "  - {match: hang, hang: true}\n", 1, NULL);
	/* A client that gives up on a hang gets nothing, and the thread that
	 * served it ends then. */
	int threads = count_threads();
	struct pending hung = {.port = stub_port(s), .user = "hang", .timeout_ms = 300};
	send_pending(&hung);
	assert_int_equal(hung.rc, CURLE_OPERATION_TIMEDOUT);
	while (count_threads() > threads)
		nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);

	struct pending p[2] = {
		{.port = stub_port(s), .user = "slow", .timeout_ms = 20000},
		{.port = stub_port(s), .user = "hang", .timeout_ms = 20000},
	};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, send_pending, &p[i]), 0);
	wait_requests(s, 3);
	/* Returns at once: an hour's latency and a hang do not hold it. */
	stub_stop(s);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_not_equal(p[i].rc, CURLE_OK);
	}
}

static void test_start_errors(void **state)
{
	char *err = NULL;
	static const char yaml[] = "rules: []\n";
	struct stub *a = start_buffer(yaml, 0, NULL);
	struct stub_script *sc = stub_script_load_buffer("t.yaml", yaml, strlen(yaml), &err);
	assert_non_null(sc);
	struct stub_options o = {.host = "127.0.0.1", .port = stub_port(a)};
	assert_null(stub_start(sc, &o, &err)); /* the port is taken; sc is freed */
	assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
	free(err);
	stub_stop(a);

	sc = stub_script_load_buffer("t.yaml", yaml, strlen(yaml), &err);
	struct stub_options bad = {.host = "127.0.0.1", .log_path = "/nonexistent/dir/log"};
	assert_null(stub_start(sc, &bad, &err));
	assert_non_null(strstr(err, "cannot open '/nonexistent/dir/log'"));
	free(err);
}


/* The three APIs. */

#define RESPONSES_PATH "/v1/responses"
#define MESSAGES_PATH "/v1/messages"

/* A request to the API at path whose user says user, asking for a stream
 * when stream (and in openai-chat for the usage chunk when usage). */
static char *request_with(const char *path, const char *user, bool stream, bool usage)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "model", "client-model");
	if (strcmp(path, RESPONSES_PATH) == 0) {
		cJSON_AddStringToObject(root, "input", user);
	} else {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "user");
		cJSON_AddStringToObject(m, "content", user);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "messages"), m);
	}
	if (strcmp(path, MESSAGES_PATH) == 0)
		cJSON_AddNumberToObject(root, "max_tokens", 256);
	if (stream) {
		cJSON_AddTrueToObject(root, "stream");
		if (usage && strcmp(path, CHAT_PATH) == 0)
			cJSON_AddTrueToObject(cJSON_AddObjectToObject(root, "stream_options"),
					      "include_usage");
	}
	char *out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

static char *request_for(const char *path, const char *user, bool stream)
{
	return request_with(path, user, stream, true);
}

/* POST body to path; the reply parsed (NULL when it is not JSON). */
static cJSON *post(int port, const char *path, const char *body, struct http *h)
{
	assert_int_equal(request(port, path, body, h), CURLE_OK);
	return cJSON_Parse(h->body.data ? h->body.data : "");
}

/* A vendor's recorded body, from tests/fixtures/stub/wire. */
static cJSON *read_wire(const char *name)
{
	char *path = xasprintf("%s/stub/wire/%s", test_fixtures(), name), *err = NULL;
	size_t len;
	char *text = util_read_file(path, 1 << 20, &len, &err);
	if (!text)
		fail_msg("%s", err);
	cJSON *j = cJSON_Parse(text);
	if (!j)
		fail_msg("%s is not JSON", path);
	free(text);
	free(path);
	return j;
}

static bool in_words(const char *const *words, const char *s)
{
	for (; words && *words; words++)
		if (strcmp(*words, s) == 0)
			return true;
	return false;
}

/* The item of want with the "type" (and "name", when both have one) of
 * g, or NULL. */
static const cJSON *like_item(const cJSON *want, const cJSON *g)
{
	const char *type = stub_json_str(g, "type"), *name = stub_json_str(g, "name");
	const cJSON *w, *typed = NULL;
	cJSON_ArrayForEach(w, want) {
		const char *wt = stub_json_str(w, "type"), *wn = stub_json_str(w, "name");
		if (!type || !wt || strcmp(type, wt) != 0)
			continue;
		if (!name || !wn || strcmp(name, wn) == 0)
			return w;
		typed = typed ? typed : w;
	}
	return typed;
}

/* got must have the shape of want, a vendor's recorded value: the same
 * keys (but those in ignore) holding values of the same JSON type (null
 * goes with any), recursively; an array's items are each compared with
 * want's item like it (like_item()), else of the same index, else its last. */
static void assert_shape(const cJSON *want, const cJSON *got, const char *where,
			 const char *const *ignore)
{
	if (cJSON_IsNull(want) || cJSON_IsNull(got))
		return;
	bool same = (cJSON_IsBool(want) && cJSON_IsBool(got)) ||
		    (want->type & 0xff) == (got->type & 0xff);
	if (!same)
		fail_msg("%s: a %s value where the API sends a %s one", where,
			 cJSON_IsString(got) ? "string" : cJSON_IsNumber(got) ? "number" : "other",
			 cJSON_IsString(want) ? "string" : cJSON_IsNumber(want) ? "number"
									 : "other");
	const cJSON *w, *g;
	if (cJSON_IsObject(want)) {
		cJSON_ArrayForEach(w, want) {
			if (!in_words(ignore, w->string) &&
			    !cJSON_GetObjectItemCaseSensitive(got, w->string))
				fail_msg("%s: '%s' is missing", where, w->string);
		}
		cJSON_ArrayForEach(g, got) {
			if (in_words(ignore, g->string))
				continue;
			w = cJSON_GetObjectItemCaseSensitive(want, g->string);
			if (!w)
				fail_msg("%s: '%s' is not in the API's replies", where, g->string);
			char *sub = xasprintf("%s.%s", where, g->string);
			assert_shape(w, g, sub, ignore);
			free(sub);
		}
	} else if (cJSON_IsArray(want) && cJSON_GetArraySize(want) > 0) {
		int i = 0, n = cJSON_GetArraySize(want);
		cJSON_ArrayForEach(g, got) {
			w = like_item(want, g);
			if (!w)
				w = cJSON_GetArrayItem(want, i < n ? i : n - 1);
			char *sub = xasprintf("%s[%d]", where, i++);
			assert_shape(w, g, sub, ignore);
			free(sub);
		}
	}
}

/* Each API's replies, text, tool calls, refusal and error, have the shapes
 * of the vendor's recorded ones. */
static void test_api_replies(void **state)
{
	static const char *const no_request_id[] = {"request_id", NULL};
	static const struct {
		const char *path;
		const char *user;
		int status;
		const char *fixture;
		const char *const *ignore;
	} cases[] = {
		{CHAT_PATH, "text", 200, "openai-chat/reply-text.json", NULL},
		{CHAT_PATH, "tools", 200, "openai-chat/reply-tool-calls-parallel.json", NULL},
		{CHAT_PATH, "refuse", 200, "openai-chat/reply-refusal.json", NULL},
		{CHAT_PATH, "limit", 429, "openai-chat/error-429.json", NULL},
		{RESPONSES_PATH, "text", 200, "openai-responses/response-text.json", NULL},
		{RESPONSES_PATH, "tools", 200, "openai-responses/response-function-calls.json", NULL},
		{RESPONSES_PATH, "refuse", 200, "openai-responses/response-refusal.json", NULL},
		{RESPONSES_PATH, "limit", 429, "openai-responses/error-400.json", NULL},
		{MESSAGES_PATH, "text", 200, "anthropic-messages/reply-text.json", NULL},
		{MESSAGES_PATH, "tools", 200, "anthropic-messages/reply-tool-use.json", NULL},
		{MESSAGES_PATH, "refuse", 200, "anthropic-messages/reply-refusal.json", NULL},
		{MESSAGES_PATH, "limit", 429, "anthropic-messages/error-429.json", no_request_id},
	};
	struct stub *s = start_fixture("apis.yaml", NULL);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct http h;
		char *body = request_for(cases[i].path, cases[i].user, false);
		cJSON *got = post(stub_port(s), cases[i].path, body, &h);
		assert_int_equal(h.status, cases[i].status);
		assert_non_null(got);
		cJSON *want = read_wire(cases[i].fixture);
		assert_shape(want, got, cases[i].fixture, cases[i].ignore);
		cJSON_Delete(want);
		cJSON_Delete(got);
		free(body);
		buf_release(&h.body);
	}
	stub_stop(s);
}

#define EVENTS_MAX 2048

/* The events of a stream, as the SSE parser hands them over. */
struct events {
	size_t n;
	char *type[EVENTS_MAX];
	char *data[EVENTS_MAX];
	char *err;                 /* the parser's, at the end */
};

static int keep_event(void *ctx, const struct sse_event *ev, char **err)
{
	struct events *e = ctx;
	if (e->n == ARRAY_SIZE(e->type)) {
		*err = xstrdup("too many events");
		return -1;
	}
	e->type[e->n] = xstrndup(ev->type, ev->type_len);
	e->data[e->n++] = xstrndup(ev->data, ev->data_len);
	return 0;
}

/* Parse s[0..len) with events of at most max bytes. */
static void events_parse(const char *s, size_t len, size_t max, struct events *e)
{
	struct sse p;
	memset(e, 0, sizeof(*e));
	sse_init(&p, max, keep_event, e);
	if (sse_feed(&p, s, len, &e->err) == 0)
		sse_finish(&p, &e->err);
	sse_release(&p);
}

static void events_release(struct events *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->type[i]);
		free(e->data[i]);
	}
	free(e->err);
}

static void events_of_fixture(const char *name, struct events *e)
{
	char *path = xasprintf("%s/sse/%s", test_fixtures(), name), *err = NULL;
	size_t len;
	char *text = util_read_file(path, 1 << 20, &len, &err);
	if (!text)
		fail_msg("%s", err);
	events_parse(text, len, 1 << 20, e);
	assert_null(e->err);
	free(text);
	free(path);
}

/* POST a streamed request; its events, the stream being well formed. */
static void stream_events(int port, const char *path, const char *user, bool usage,
			  struct events *e)
{
	struct http h;
	char *body = request_with(path, user, true, usage);
	assert_int_equal(request(port, path, body, &h), CURLE_OK);
	assert_int_equal(h.status, 200);
	events_parse(h.body.data ? h.body.data : "", h.body.len, 1 << 20, e);
	if (e->err)
		fail_msg("%s: %s", user, e->err);
	free(body);
	buf_release(&h.body);
}

/* What an event is, to line two streams up: its type (with the type of
 * an Anthropic block or delta), or for openai-chat, which sends no event
 * types, what its chunk carries. */
static char *event_kind(const char *type, const char *data)
{
	cJSON *j = cJSON_Parse(data);
	const cJSON *choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
	const cJSON *calls = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");
	const char *kind = "other", *sub;
	char *out = NULL;
	if (strcmp(type, "message") != 0) {
		sub = stub_json_str(cJSON_GetObjectItemCaseSensitive(j, "content_block"), "type");
		if (!sub)
			sub = stub_json_str(cJSON_GetObjectItemCaseSensitive(j, "delta"), "type");
		out = sub ? xasprintf("%s:%s", type, sub) : xstrdup(type);
	} else if (!j) {
		kind = data; /* [DONE] */
	} else if (cJSON_GetObjectItemCaseSensitive(j, "error")) {
		kind = "error";
	} else if (!choice) {
		kind = "usage";
	} else if (stub_json_str(choice, "finish_reason")) {
		kind = "finish";
	} else if (cJSON_GetObjectItemCaseSensitive(delta, "role")) {
		kind = "role";
	} else if (calls) {
		kind = stub_json_str(cJSON_GetArrayItem(calls, 0), "id") ? "call" : "arguments";
	} else if (cJSON_GetObjectItemCaseSensitive(delta, "content")) {
		kind = "content";
	} else if (cJSON_GetObjectItemCaseSensitive(delta, "refusal")) {
		kind = "refusal";
	}
	cJSON_Delete(j);
	return out ? out : xstrdup(kind);
}

/* The kinds of e's events, runs of one kind as one, pings left out (they
 * may come anywhere). */
static char *event_sequence(const struct events *e)
{
	struct buf b;
	char *last = NULL;
	buf_init(&b, 0);
	for (size_t i = 0; i < e->n; i++) {
		char *kind = event_kind(e->type[i], e->data[i]);
		if (strcmp(kind, "ping") != 0 && (!last || strcmp(kind, last) != 0))
			buf_addf(&b, "%s%s", b.len ? " " : "", kind);
		if (strcmp(kind, "ping") != 0) {
			free(last);
			last = kind;
		} else {
			free(kind);
		}
	}
	free(last);
	return buf_detach(&b, NULL);
}

/* Append the text deltas and each tool call's argument pieces of a
 * stream, as a client assembles them: "text=[...] args=[...][...]". */
static char *assembled(const struct events *e)
{
	struct buf text, args[4];
	buf_init(&text, 0);
	for (size_t i = 0; i < ARRAY_SIZE(args); i++)
		buf_init(&args[i], 0);
	for (size_t i = 0; i < e->n; i++) {
		cJSON *j = cJSON_Parse(e->data[i]);
		const cJSON *choice =
			cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
		const cJSON *delta = cJSON_GetObjectItemCaseSensitive(
			choice ? choice : j, "delta");
		const cJSON *call = cJSON_GetArrayItem(
			cJSON_GetObjectItemCaseSensitive(delta, "tool_calls"), 0);
		const cJSON *index = cJSON_GetObjectItemCaseSensitive(
			call ? call : j, call ? "index" : strcmp(e->type[i], "message") == 0 ? ""
				: cJSON_HasObjectItem(j, "output_index") ? "output_index" : "index");
		const char *piece = NULL;
		struct buf *to = &text;
		if (choice) {
			piece = stub_json_str(delta, "content");
			piece = piece ? piece : stub_json_str(delta, "refusal");
			if (call) {
				piece = stub_json_str(cJSON_GetObjectItemCaseSensitive(call, "function"),
						      "arguments");
				to = &args[index->valueint % 4];
			}
		} else if (strcmp(e->type[i], "response.output_text.delta") == 0 ||
			   strcmp(e->type[i], "response.refusal.delta") == 0) {
			piece = stub_json_str(j, "delta");
		} else if (strcmp(e->type[i], "response.function_call_arguments.delta") == 0) {
			piece = stub_json_str(j, "delta");
			to = &args[index->valueint % 4];
		} else if (strcmp(e->type[i], "content_block_delta") == 0) {
			piece = stub_json_str(delta, "text");
			if (!piece) {
				piece = stub_json_str(delta, "partial_json");
				to = &args[index->valueint % 4];
			}
		}
		if (piece)
			buf_addstr(to, piece);
		cJSON_Delete(j);
	}
	struct buf out;
	buf_init(&out, 0);
	buf_addf(&out, "text=[%s] args=", text.data ? text.data : "");
	for (size_t i = 0; i < ARRAY_SIZE(args); i++) {
		if (args[i].data)
			buf_addf(&out, "[%s]", args[i].data);
		buf_release(&args[i]);
	}
	buf_release(&text);
	return buf_detach(&out, NULL);
}

/* Each API's streams have the events of the vendor's recorded ones, in
 * the same order, each of the same shape, and add up to the same reply as
 * the body that is not streamed. */
static void test_api_streams(void **state)
{
	static const char *const plain[] = {"obfuscation", NULL};
	static const char *const no_usage[] = {"obfuscation", "usage", NULL};
	static const char *const tool_use[] = {"caller", "input_tokens", "cache_read_input_tokens",
					       "cache_creation_input_tokens", NULL};
	static const char text[] = "text=[Canary probe received. All systems nominal.] args=";
	static const char tools[] = "text=[] args=[{\"city\":\"Oslo\"}][{\"venue\":\"Munch\"}]";
	static const char refusal[] = "text=[I can't help with that request.] args=";
	static const struct {
		const char *path;
		const char *user;
		bool usage;             /* openai-chat: ask for the usage chunk */
		const char *fixture;
		const char *const *ignore;
		const char *sequence;   /* NULL: the fixture's */
		const char *assembled;
	} cases[] = {
		{CHAT_PATH, "text", true, "openai-chat-text-usage.sse", plain, NULL, text},
		{CHAT_PATH, "tools", true, "openai-chat-tool-calls-parallel.sse", no_usage, NULL,
		 tools},
		{CHAT_PATH, "refuse", false, "openai-chat-refusal.sse", plain, NULL, refusal},
		{CHAT_PATH, "chat error", false, "openai-chat-midstream-error.sse", plain, NULL,
		 "text=[Canary probe] args="},
		{RESPONSES_PATH, "text", false, "openai-responses-text.sse", plain, NULL, text},
		{RESPONSES_PATH, "tools", false, "openai-responses-function-calls.sse", plain, NULL,
		 tools},
		{RESPONSES_PATH, "refuse", false, "openai-responses-refusal.sse", plain, NULL,
		 refusal},
		{RESPONSES_PATH, "responses error", false, "openai-responses-error-documented.sse",
		 plain, NULL, "text=[] args="},
		{MESSAGES_PATH, "text", false, "anthropic-messages-text.sse", plain, NULL, text},
		{MESSAGES_PATH, "tools", false, "anthropic-messages-tool-use.sse", tool_use,
		 "message_start content_block_start:tool_use content_block_delta:input_json_delta "
		 "content_block_stop content_block_start:tool_use content_block_delta:input_json_delta "
		 "content_block_stop message_delta message_stop",
		 "text=[] args=[{\"city\":\"Oslo\"}][{\"venue\":\"Munch\"}]"},
		{MESSAGES_PATH, "refuse", false, "anthropic-messages-refusal.sse", plain, NULL,
		 "text=[] args="},
		{MESSAGES_PATH, "anthropic error", false, "anthropic-messages-error.sse", plain, NULL,
		 "text=[Canary] args="},
	};
	struct stub *s = start_fixture("apis.yaml", NULL);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct events want, got;
		events_of_fixture(cases[i].fixture, &want);
		stream_events(stub_port(s), cases[i].path, cases[i].user, cases[i].usage, &got);
		char *ws = event_sequence(&want), *gs = event_sequence(&got);
		if (strcmp(cases[i].sequence ? cases[i].sequence : ws, gs) != 0)
			fail_msg("%s: events\n  %s\nwant\n  %s", cases[i].fixture, gs,
				 cases[i].sequence ? cases[i].sequence : ws);
		for (size_t k = 0; k < got.n; k++) {
			char *kind = event_kind(got.type[k], got.data[k]), *where = NULL;
			size_t w = 0;
			while (w < want.n) {
				char *wk = event_kind(want.type[w], want.data[w]);
				bool same = strcmp(wk, kind) == 0;
				free(wk);
				if (same)
					break;
				w++;
			}
			if (w == want.n && strcmp(kind, "ping") != 0)
				fail_msg("%s: event %zu (%s) is not in the recorded stream",
					 cases[i].fixture, k + 1, kind);
			/* A ping, which may come anywhere, has one shape. */
			cJSON *wj = cJSON_Parse(w < want.n ? want.data[w] : "{\"type\": \"ping\"}");
			cJSON *gj = cJSON_Parse(got.data[k]);
			if (!wj)
				assert_string_equal(got.data[k], want.data[w]);
			where = xasprintf("%s event %zu (%s)", cases[i].fixture, k + 1, kind);
			if (wj)
				assert_shape(wj, gj, where, cases[i].ignore);
			cJSON_Delete(wj);
			cJSON_Delete(gj);
			free(where);
			free(kind);
		}
		char *a = assembled(&got);
		if (strcmp(a, cases[i].assembled) != 0)
			fail_msg("%s: assembled %s, want %s", cases[i].fixture, a,
				 cases[i].assembled);
		free(a);
		free(ws);
		free(gs);
		events_release(&want);
		events_release(&got);
	}
	stub_stop(s);
}

static const char *const api_paths[] = {CHAT_PATH, RESPONSES_PATH, MESSAGES_PATH};

/* POST a streamed request; the raw body and the parse of its events with
 * at most max bytes each. */
static void stream_raw(int port, const char *path, const char *user, size_t max,
		       struct events *e, struct http *h)
{
	char *body = request_for(path, user, true);
	assert_int_equal(request(port, path, body, h), CURLE_OK);
	assert_int_equal(h->status, 200);
	events_parse(h->body.data ? h->body.data : "", h->body.len, max, e);
	free(body);
}

/* Whether event i of e is the one that ends a whole stream of its API. */
static bool is_terminal(const struct events *e, size_t i)
{
	return strcmp(e->data[i], "[DONE]") == 0 || strcmp(e->type[i], "message_stop") == 0 ||
	       strcmp(e->type[i], "response.completed") == 0;
}

/* Cut, malformed and oversized events and streams that never finish, in
 * each API, where the script puts them. */
static void test_stream_faults(void **state)
{
	struct stub *s = start_fixture("streams.yaml", NULL);
	int port = stub_port(s);
	for (size_t a = 0; a < ARRAY_SIZE(api_paths); a++) {
		const char *path = api_paths[a];
		struct events plain, e;
		struct http h;
		stream_raw(port, path, "plain", 1 << 20, &plain, &h);
		assert_null(plain.err);
		assert_true(plain.n > 4);
		assert_true(is_terminal(&plain, plain.n - 1));
		buf_release(&h.body);

		/* Cut in the middle of event 3: two events, then the end. */
		stream_raw(port, path, "cut", 1 << 20, &e, &h);
		assert_int_equal(e.n, 2);
		assert_non_null(e.err);
		assert_int_equal(strncmp(e.err, "the stream ended inside event 3", 31), 0);
		events_release(&e);
		buf_release(&h.body);

		/* A fault past the last event falls on the last. */
		stream_raw(port, path, "beyond", 1 << 20, &e, &h);
		assert_int_equal(e.n, plain.n - 1);
		assert_non_null(e.err);
		events_release(&e);
		buf_release(&h.body);

		/* Event 3 is not JSON; the stream goes on to its end. */
		stream_raw(port, path, "malformed", 1 << 20, &e, &h);
		assert_null(e.err);
		assert_int_equal(e.n, plain.n);
		for (size_t i = 0; i + 1 < e.n; i++) {
			cJSON *j = cJSON_Parse(e.data[i]);
			if ((i == 2) == (j != NULL))
				fail_msg("%s: event %zu: %s", path, i + 1, e.data[i]);
			cJSON_Delete(j);
		}
		assert_true(is_terminal(&e, e.n - 1));
		events_release(&e);
		buf_release(&h.body);

		/* Event 2 is 64 KiB larger, still JSON: over a smaller limit,
		 * the parser names it. */
		stream_raw(port, path, "oversized", 1 << 20, &e, &h);
		assert_null(e.err);
		assert_true(strlen(e.data[1]) > 64 << 10);
		cJSON *j = cJSON_Parse(e.data[1]);
		assert_non_null(j);
		cJSON_Delete(j);
		events_release(&e);
		events_parse(h.body.data, h.body.len, 16 << 10, &e);
		assert_non_null(e.err);
		assert_int_equal(e.n, 1);
		assert_non_null(strstr(e.err, "server-sent event 2"));
		assert_non_null(strstr(e.err, "is larger than 16384 bytes"));
		events_release(&e);
		buf_release(&h.body);

		/* The body ends cleanly without the event that ends the stream. */
		stream_raw(port, path, "unfinished", 1 << 20, &e, &h);
		assert_null(e.err);
		assert_int_equal(e.n, plain.n - 1);
		for (size_t i = 0; i < e.n; i++)
			assert_false(is_terminal(&e, i));
		events_release(&e);
		buf_release(&h.body);
		events_release(&plain);
	}
	stub_stop(s);
}

/* A stream that never finishes sends its events but the last and keeps
 * the connection open until the stub stops. */
static void test_stream_hang(void **state)
{
	for (size_t a = 0; a < ARRAY_SIZE(api_paths); a++) {
		struct stub *s = start_fixture("streams.yaml", NULL);
		struct events plain, e;
		struct http h;
		stream_raw(stub_port(s), api_paths[a], "plain", 1 << 20, &plain, &h);
		buf_release(&h.body);

		CURLM *multi = curl_multi_init();
		CURL *easy = curl_easy_init();
		char *body = request_for(api_paths[a], "never", true);
		prepare(easy, stub_port(s), api_paths[a], body, NULL, &h);
		curl_multi_add_handle(multi, easy);
		int running = 1;
		for (;;) {
			assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
			assert_int_equal(running, 1);
			events_parse(h.body.data ? h.body.data : "", h.body.len, 1 << 20, &e);
			bool all = e.n == plain.n - 1 && !e.err;
			events_release(&e);
			if (all)
				break;
			curl_multi_poll(multi, NULL, 0, 10, NULL);
		}
		stub_stop(s);
		assert_int_equal(run_multi(multi, CURLE_OK), 0);
		curl_multi_remove_handle(multi, easy);
		curl_easy_cleanup(easy);
		curl_multi_cleanup(multi);
		free(body);
		buf_release(&h.body);
		events_release(&plain);
	}
}

/* The chunked framing of body: each chunk's size, in order; -1 at the
 * end when the framing is broken. */
static size_t chunk_sizes(const char *body, size_t len, long *sizes, size_t max)
{
	size_t n = 0, at = 0;
	while (at < len && n < max) {
		char *end;
		long k = strtol(body + at, &end, 16);
		if (end == body + at || strncmp(end, "\r\n", 2) != 0)
			return n;
		sizes[n++] = k;
		at = (size_t)(end - body) + 2 + (size_t)k + 2;
	}
	return n;
}

/* A slow drip: chunks of at most `chunk` bytes, or one event a chunk,
 * with `delay` between them; the events are those of a plain stream. */
static void test_stream_drip(void **state)
{
	struct stub *s = start_fixture("streams.yaml", NULL);
	static const char *const users[] = {"drip", "slow"};
	for (size_t u = 0; u < ARRAY_SIZE(users); u++) {
		CURL *easy = curl_easy_init();
		char *body = request_for(CHAT_PATH, users[u], true);
		struct http h;
		prepare(easy, stub_port(s), CHAT_PATH, body, NULL, &h);
		curl_easy_setopt(easy, CURLOPT_HTTP_TRANSFER_DECODING, 0L);
		double start = util_now_ms();
		assert_int_equal(curl_easy_perform(easy), CURLE_OK);
		double elapsed = util_now_ms() - start;
		long sizes[4096];
		size_t n = chunk_sizes(h.body.data, h.body.len, sizes, ARRAY_SIZE(sizes));
		assert_true(n > 10);
		assert_int_equal(sizes[n - 1], 0); /* the last chunk */
		struct buf decoded;
		buf_init(&decoded, 0);
		const char *at = h.body.data;
		for (size_t i = 0; i + 1 < n; i++) {
			at = strstr(at, "\r\n") + 2;
			if (u == 0)
				assert_true(sizes[i] >= 1 && sizes[i] <= 5);
			else /* one event, ending with its blank line */
				assert_int_equal(strncmp(at + sizes[i] - 2, "\n\n", 2), 0);
			buf_add(&decoded, at, (size_t)sizes[i]);
			at += sizes[i] + 2;
		}
		/* A floor, never a ceiling: each write but the first waited. */
		assert_true(elapsed >= 2.0 * (double)(n - 2));
		struct events e;
		events_parse(decoded.data, decoded.len, 1 << 20, &e);
		assert_null(e.err);
		if (u == 1)
			assert_int_equal(e.n, n - 1);
		char *text = assembled(&e);
		assert_string_equal(text, "text=[Refunds are accepted within 30 days.] args=");
		free(text);
		events_release(&e);
		buf_release(&decoded);
		buf_release(&h.body);
		free(body);
		curl_easy_cleanup(easy);
	}
	stub_stop(s);
}

/* A long text or long arguments stream in at most about STUB_MAX_PIECES
 * deltas, whole (so a stream holds memory in proportion to its text). */
static void test_stream_long(void **state)
{
	struct buf yaml, words, args;
	buf_init(&yaml, 0);
	buf_init(&words, 0);
	buf_init(&args, 0);
	for (int i = 0; i < 20000; i++)
		buf_addf(&words, "%sw%d", i ? " " : "", i % 10);
	buf_addstr(&args, "{\"list\":[");
	for (int i = 0; i < 20000; i++)
		buf_addf(&args, "%s\"\u00e9%d\"", i ? "," : "", i % 10);
	buf_addstr(&args, "]}");
	buf_addf(&yaml, "rules:\n  - match: words\n    reply: '%s'\n"
			"  - tool_call: {name: f, arguments: '%s'}\n", words.data, args.data);
	struct stub *s = start_buffer(yaml.data, 1, NULL);
	for (size_t a = 0; a < ARRAY_SIZE(api_paths); a++) {
		struct events e;
		struct http h;
		stream_raw(stub_port(s), api_paths[a], "words", 1 << 20, &e, &h);
		if (e.err)
			fail_msg("%s", e.err);
		assert_in_range(e.n, 1000, STUB_MAX_PIECES + 20);
		char *text = assembled(&e), *want = xasprintf("text=[%s] args=", words.data);
		assert_string_equal(text, want);
		free(want);
		free(text);
		events_release(&e);
		buf_release(&h.body);

		stream_raw(stub_port(s), api_paths[a], "call", 1 << 20, &e, &h);
		assert_null(e.err);
		assert_in_range(e.n, 1000, STUB_MAX_PIECES + 20);
		text = assembled(&e);
		want = xasprintf("text=[] args=[%s]", args.data);
		assert_string_equal(text, want);
		free(want);
		free(text);
		events_release(&e);
		buf_release(&h.body);
	}
	stub_stop(s);
	buf_release(&yaml);
	buf_release(&words);
	buf_release(&args);
}

/* A streamed `size:` answer sends its filler as one delta, never held. */
static void test_stream_size(void **state)
{
	struct stub *s = start_fixture("streams.yaml", NULL);
	for (size_t a = 0; a < ARRAY_SIZE(api_paths); a++) {
		struct events e;
		struct http h;
		stream_raw(stub_port(s), api_paths[a], "big", 4 << 20, &e, &h);
		assert_null(e.err);
		char *text = assembled(&e);
		assert_int_equal(strlen(text), strlen("text=[] args=") + ((size_t)1 << 20));
		assert_int_equal(strncmp(text, "text=[big:lorem ipsum", 21), 0);
		free(text);
		events_release(&e);
		buf_release(&h.body);
	}
	stub_stop(s);
}

/* "name=content;..." for the tool results c ends with. */
static char *results_of(const struct stub_conversation *c)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < c->nresults; i++)
		buf_addf(&b, "%s%s=%.*s", i ? ";" : "", c->results[i].name ? c->results[i].name : "?",
			 (int)c->results[i].content.len, c->results[i].content.s);
	return buf_detach(&b, NULL);
}

/* Each API reads the turns, steps and tool results of its vendor's
 * recorded requests: tool results in their native forms, named after the
 * calls they answer. */
static void test_conversations(void **state)
{
	static const char look_up[] =
		"Look up the forecast for Oslo and the opening hours of the Munch museum.";
	static const struct {
		const struct stub_api *api;
		const char *fixture;
		size_t turn, step;
		const char *results;
		const char *last;
	} cases[] = {
		{&stub_api_openai_chat, "openai-chat/request-tool-results.json", 1, 2,
		 "get_forecast={\"summary\":\"light snow\",\"high_c\":-2};"
		 "get_opening_hours={\"open\":\"10:00\",\"close\":\"18:00\"}", look_up},
		{&stub_api_openai_chat, "openai-chat/request-tools-stream.json", 1, 1, "", look_up},
		{&stub_api_openai_responses, "openai-responses/request-function-call-output.json",
		 1, 2, "get_forecast={\"summary\":\"light snow\",\"high_c\":-2}",
		 "What's tomorrow's forecast for Oslo?"},
		{&stub_api_openai_responses, "openai-responses/request-items-tools.json", 1, 1, "",
		 "What's tomorrow's forecast for Oslo?"},
		{&stub_api_openai_responses, "openai-responses/request-string.json", 1, 1, "",
		 "Reply with a one-line health check."},
		{&stub_api_anthropic_messages, "anthropic-messages/request-tool-result.json", 1, 2,
		 "get_forecast={\"summary\":\"light snow\",\"high_c\":-2};"
		 "get_opening_hours=venue lookup timed out", look_up},
		{&stub_api_anthropic_messages, "anthropic-messages/request-basic.json", 1, 1, "",
		 "Reply with a one-line health check."},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cJSON *j = read_wire(cases[i].fixture);
		struct stub_conversation c;
		stub_conversation_init(&c);
		assert_true(cases[i].api->read(j, &c));
		stub_conversation_end(&c, true, "", 0);
		char *results = results_of(&c);
		if (c.turn != cases[i].turn || c.step != cases[i].step ||
		    strcmp(results, cases[i].results) != 0 || c.last.len != strlen(cases[i].last) ||
		    memcmp(c.last.s, cases[i].last, c.last.len) != 0)
			fail_msg("%s: turn %zu step %zu results '%s' last '%.*s'", cases[i].fixture,
				 c.turn, c.step, results, (int)c.last.len, c.last.s);
		free(results);
		stub_conversation_release(&c);
		cJSON_Delete(j);
	}

	/* A result for a call no assistant message made: its tool is unknown
	 * (and no call at all is sorted: under UBSan, qsort of NULL fails). */
	static const char orphan[] = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"},"
				     " {\"role\": \"tool\", \"tool_call_id\": \"c9\", \"content\": \"x\"}]}";
	cJSON *oj = cJSON_Parse(orphan);
	struct stub_conversation oc;
	stub_conversation_init(&oc);
	assert_true(stub_api_openai_chat.read(oj, &oc));
	stub_conversation_end(&oc, true, "", 0);
	char *orphans = results_of(&oc);
	assert_string_equal(orphans, "?=x");
	assert_int_equal(oc.step, 1);
	free(orphans);
	stub_conversation_release(&oc);
	cJSON_Delete(oj);

	/* No conversation: the whole body is the text. */
	for (size_t i = 0; stub_api_table[i]; i++) {
		static const char body[] = "{\"messages\": {}, \"input\": 7}";
		cJSON *j = cJSON_Parse(body);
		struct stub_conversation c;
		stub_conversation_init(&c);
		bool have = stub_api_table[i]->read(j, &c);
		assert_false(have);
		stub_conversation_end(&c, have, body, strlen(body));
		assert_int_equal(c.turn, 0);
		assert_int_equal(c.last.len, strlen(body));
		stub_conversation_release(&c);
		cJSON_Delete(j);
	}
}

/* A conversation as a client of one API keeps it. */
struct dialog {
	int port;
	const char *path;
	cJSON *body;
	cJSON *list;               /* messages, or the Responses input */
	char call_id[128];         /* the last tool call's */
	char call_name[128];
};

static void dialog_init(struct dialog *d, int port, const char *path)
{
	memset(d, 0, sizeof(*d));
	d->port = port;
	d->path = path;
	d->body = cJSON_CreateObject();
	cJSON_AddStringToObject(d->body, "model", "client-model");
	if (strcmp(path, MESSAGES_PATH) == 0)
		cJSON_AddNumberToObject(d->body, "max_tokens", 256);
	d->list = cJSON_AddArrayToObject(d->body,
					 strcmp(path, RESPONSES_PATH) == 0 ? "input" : "messages");
}

static void dialog_user(struct dialog *d, const char *text)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	if (strcmp(d->path, RESPONSES_PATH) == 0) {
		cJSON *part = cJSON_CreateObject();
		cJSON_AddStringToObject(part, "type", "input_text");
		cJSON_AddStringToObject(part, "text", text);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "content"), part);
	} else {
		cJSON_AddStringToObject(m, "content", text);
	}
	cJSON_AddItemToArray(d->list, m);
}

/* The result of the last tool call, in the API's native form. */
static void dialog_result(struct dialog *d, const char *content)
{
	cJSON *m = cJSON_CreateObject();
	if (strcmp(d->path, CHAT_PATH) == 0) {
		cJSON_AddStringToObject(m, "role", "tool");
		cJSON_AddStringToObject(m, "tool_call_id", d->call_id);
		cJSON_AddStringToObject(m, "content", content);
	} else if (strcmp(d->path, RESPONSES_PATH) == 0) {
		cJSON_AddStringToObject(m, "type", "function_call_output");
		cJSON_AddStringToObject(m, "call_id", d->call_id);
		cJSON_AddStringToObject(m, "output", content);
	} else {
		cJSON *block = cJSON_CreateObject();
		cJSON_AddStringToObject(block, "type", "tool_result");
		cJSON_AddStringToObject(block, "tool_use_id", d->call_id);
		cJSON_AddStringToObject(block, "content", content);
		cJSON_AddStringToObject(m, "role", "user");
		cJSON_AddItemToArray(cJSON_AddArrayToObject(m, "content"), block);
	}
	cJSON_AddItemToArray(d->list, m);
}

static void keep_call(struct dialog *d, const char *id, const char *name)
{
	snprintf(d->call_id, sizeof(d->call_id), "%s", id ? id : "");
	snprintf(d->call_name, sizeof(d->call_name), "%s", name ? name : "");
}

/* Send the conversation and add the agent's reply to it: its text, or
 * "call NAME" for a tool call, or "status N". */
static char *dialog_send(struct dialog *d)
{
	struct http h;
	char *body = cJSON_PrintUnformatted(d->body);
	cJSON *r = post(d->port, d->path, body, &h);
	free(body);
	buf_release(&h.body);
	assert_non_null(r);
	if (h.status != 200) {
		cJSON_Delete(r);
		return xasprintf("status %ld", h.status);
	}
	const cJSON *item;
	char *text = NULL;
	d->call_name[0] = '\0';
	if (strcmp(d->path, CHAT_PATH) == 0) {
		const cJSON *msg = message_of(r);
		cJSON_ArrayForEach(item, stub_json_list(msg, "tool_calls"))
			keep_call(d, stub_json_str(item, "id"),
				  stub_json_str(cJSON_GetObjectItemCaseSensitive(item, "function"),
						"name"));
		if (stub_json_str(msg, "content"))
			text = xstrdup(stub_json_str(msg, "content"));
		cJSON_AddItemToArray(d->list, cJSON_Duplicate(msg, true));
	} else if (strcmp(d->path, RESPONSES_PATH) == 0) {
		cJSON_ArrayForEach(item, stub_json_list(r, "output")) {
			if (strcmp(stub_json_str(item, "type"), "function_call") == 0)
				keep_call(d, stub_json_str(item, "call_id"), stub_json_str(item, "name"));
			else
				text = xstrdup(stub_json_str(
					cJSON_GetArrayItem(stub_json_list(item, "content"), 0), "text"));
			cJSON_AddItemToArray(d->list, cJSON_Duplicate(item, true));
		}
	} else {
		cJSON_ArrayForEach(item, stub_json_list(r, "content")) {
			if (strcmp(stub_json_str(item, "type"), "tool_use") == 0)
				keep_call(d, stub_json_str(item, "id"), stub_json_str(item, "name"));
			else
				text = xstrdup(stub_json_str(item, "text"));
		}
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "assistant");
		cJSON_AddItemToObject(m, "content",
				      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r, "content"),
						      true));
		cJSON_AddItemToArray(d->list, m);
	}
	cJSON_Delete(r);
	if (d->call_name[0]) {
		free(text);
		return xasprintf("call %s", d->call_name);
	}
	return text ? text : xstrdup("(nothing)");
}

static void assert_said(struct dialog *d, const char *want)
{
	char *got = dialog_send(d);
	if (strcmp(got, want) != 0)
		fail_msg("%s: '%s', want '%s'", d->path, got, want);
	free(got);
}

/* A multi-step script, driven in each API's native form: the agent checks
 * the calendar, books when the slot is free (or says it is taken), answers
 * once create_event's result is back, and in a second turn knows what the
 * first one asked. */
static void test_multi_step(void **state)
{
	/* Each dialog: user turns ('u') and results of the last tool call
	 * ('r'), each with what the agent must answer. */
	static const struct {
		char kind;
		const char *text;
		const char *want;
	} dialogs[][5] = {
		{{'u', "Book 30 minutes with Ana tomorrow at 10", "call check_availability"},
		 {'r', "{\"free\": true}", "call create_event"},
		 {'r', "{\"id\": \"evt_1\"}", "Booked for 10:00."},
		 {'u', "Thanks!", "You are welcome; the meeting is booked."}},
		{{'u', "Please book a call at 10", "call check_availability"},
		 {'r', "{\"free\": false}", "That slot is taken."}},
		/* Thanks without an earlier turn that asked to book: no rule. */
		{{'u', "Hello", "status 404"}, {'u', "Thanks!", "status 404"}},
	};
	struct stub *s = start_fixture("booking.yaml", NULL);
	for (size_t a = 0; a < ARRAY_SIZE(api_paths); a++) {
		for (size_t i = 0; i < ARRAY_SIZE(dialogs); i++) {
			struct dialog d;
			dialog_init(&d, stub_port(s), api_paths[a]);
			for (size_t k = 0; k < ARRAY_SIZE(dialogs[i]) && dialogs[i][k].kind; k++) {
				if (dialogs[i][k].kind == 'u')
					dialog_user(&d, dialogs[i][k].text);
				else
					dialog_result(&d, dialogs[i][k].text);
				assert_said(&d, dialogs[i][k].want);
			}
			cJSON_Delete(d.body);
		}
	}
	stub_stop(s);
}

/* "in=N cached=N out=N reasoning=N" from a usage object of the API at
 * path (Anthropic's input_tokens leave the cached ones out). */
static char *usage_figures(const char *path, const cJSON *u, const cJSON *out)
{
	const char *names[4][4] = {
		{"prompt_tokens", "prompt_tokens_details", "completion_tokens",
		 "completion_tokens_details"},
		{"input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details"},
		{"input_tokens", NULL, "output_tokens", "output_tokens_details"},
	};
	size_t a = strcmp(path, CHAT_PATH) == 0 ? 0 : strcmp(path, RESPONSES_PATH) == 0 ? 1 : 2;
	double in = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, names[a][0]));
	double cached = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
		a == 2 ? u : cJSON_GetObjectItemCaseSensitive(u, names[a][1]),
		a == 2 ? "cache_read_input_tokens" : "cached_tokens"));
	if (a == 2)
		in += cached;
	const cJSON *o = out ? out : u;
	double n = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, names[a][2]));
	const cJSON *details = cJSON_GetObjectItemCaseSensitive(o, names[a][3]);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(
		details, a == 2 ? "thinking_tokens" : "reasoning_tokens");
	return xasprintf("in=%.0f cached=%.0f out=%.0f reasoning=%.0f", in, cached, n,
			 cJSON_IsNumber(r) ? r->valuedouble : 0.0);
}

/* Declared token usage comes back in each API's own figures, in a body
 * and at the end of a stream. */
static void test_usage(void **state)
{
	static const char want[] = "in=1200 cached=1000 out=30 reasoning=10";
	struct stub *s = start_fixture("apis.yaml", NULL);
	for (size_t a = 0; a < ARRAY_SIZE(api_paths); a++) {
		const char *path = api_paths[a];
		struct http h;
		char *body = request_for(path, "usage", false);
		cJSON *j = post(stub_port(s), path, body, &h);
		char *got = usage_figures(path, cJSON_GetObjectItemCaseSensitive(j, "usage"), NULL);
		assert_string_equal(got, want);
		if (a != 2) {
			const cJSON *total = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(j, "usage"), "total_tokens");
			assert_int_equal(total->valueint, 1230);
		}
		free(got);
		cJSON_Delete(j);
		free(body);
		buf_release(&h.body);

		struct events e;
		stream_events(stub_port(s), path, "usage", true, &e);
		const cJSON *u = NULL, *out = NULL;
		cJSON *events[EVENTS_MAX] = {NULL};
		for (size_t i = 0; i < e.n; i++) {
			events[i] = cJSON_Parse(e.data[i]);
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(events[i], "usage");
			const cJSON *in = cJSON_GetObjectItemCaseSensitive(
				cJSON_GetObjectItemCaseSensitive(
					events[i], strcmp(e.type[i], "message_start") == 0 ? "message"
											    : "response"),
				"usage");
			if (cJSON_IsObject(in))
				u = in;
			if (cJSON_IsObject(v) && a == 2)
				out = v;
			else if (cJSON_IsObject(v))
				u = v;
		}
		assert_non_null(u);
		got = usage_figures(path, u, out);
		assert_string_equal(got, want);
		free(got);
		for (size_t i = 0; i < e.n; i++)
			cJSON_Delete(events[i]);
		events_release(&e);
	}

	/* Undeclared, it is the bytes divided by four. */
	struct http h;
	char *body = request_for(CHAT_PATH, "text", false);
	cJSON *j = post(stub_port(s), CHAT_PATH, body, &h);
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens")->valueint,
			 (int)(strlen(body) + 3) / 4);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(u, "completion_tokens")->valueint,
			 (int)(strlen("Canary probe received. All systems nominal.") + 3) / 4);
	cJSON_Delete(j);
	free(body);
	buf_release(&h.body);
	stub_stop(s);
}

/* The path picks the API when it is one's; any other path speaks the
 * stub's --api, errors included. */
static void test_api_choice(void **state)
{
	struct stub *s = start_fixture("apis.yaml", "anthropic-messages");
	static const struct {
		const char *path;
		const char *request_path; /* the API the body is written for */
		const char *key, *value;  /* what the reply's shape shows */
		int status;
	} cases[] = {
		{"/agent", MESSAGES_PATH, "type", "message", 200},
		{CHAT_PATH, CHAT_PATH, "object", "chat.completion", 200},
		{RESPONSES_PATH, RESPONSES_PATH, "object", "response", 200},
		{MESSAGES_PATH, MESSAGES_PATH, "type", "message", 200},
		{"/agent", MESSAGES_PATH, "type", "error", 404},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct http h;
		char *body = request_for(cases[i].request_path,
					 cases[i].status == 200 ? "text" : "unknown", false);
		cJSON *j = post(stub_port(s), cases[i].path, body, &h);
		assert_int_equal(h.status, cases[i].status);
		assert_string_equal(stub_json_str(j, cases[i].key), cases[i].value);
		cJSON_Delete(j);
		free(body);
		buf_release(&h.body);
	}
	/* A 404 in Anthropic's form, and in OpenAI's where the path says. */
	struct http h;
	cJSON *j = post(stub_port(s), "/agent", "{\"messages\": []}", &h);
	assert_string_equal(stub_json_str(cJSON_GetObjectItemCaseSensitive(j, "error"), "type"),
			    "not_found_error");
	cJSON_Delete(j);
	buf_release(&h.body);
	j = post(stub_port(s), RESPONSES_PATH, "{\"input\": []}", &h);
	assert_string_equal(stub_json_str(cJSON_GetObjectItemCaseSensitive(j, "error"), "type"),
			    "invalid_request_error");
	cJSON_Delete(j);
	buf_release(&h.body);
	stub_stop(s);

	/* The names --api takes are the table's. */
	size_t n = 0;
	for (; stub_api_names[n]; n++)
		assert_string_equal(stub_api_find(stub_api_names[n])->name, stub_api_names[n]);
	assert_ptr_equal(stub_api_table[n], NULL);
	assert_ptr_equal(stub_api_table[0], stub_api_find("openai-chat"));
	char *err = NULL;
	struct stub_script *sc = stub_script_load_buffer("t.yaml", "rules: []\n", 10, &err);
	struct stub_options o = {.api = "openai-completions"};
	assert_null(stub_start(sc, &o, &err));
	assert_string_equal(err, "unknown api 'openai-completions' (openai-chat, "
				 "openai-responses, anthropic-messages)");
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_script_errors),
		cmocka_unit_test(test_script_load),
		cmocka_unit_test(test_text_reply),
		cmocka_unit_test(test_tool_calls),
		cmocka_unit_test(test_status_and_raw),
		cmocka_unit_test(test_times_and_echo),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_probability),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_stop_is_prompt),
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_api_replies),
		cmocka_unit_test(test_api_streams),
		cmocka_unit_test(test_stream_faults),
		cmocka_unit_test(test_stream_hang),
		cmocka_unit_test(test_stream_drip),
		cmocka_unit_test(test_stream_long),
		cmocka_unit_test(test_stream_size),
		cmocka_unit_test(test_conversations),
		cmocka_unit_test(test_multi_step),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_api_choice),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
