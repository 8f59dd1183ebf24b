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

static struct stub *start_agent(void)
{
	char *path = xasprintf("%s/stub/agent.yaml", test_fixtures()), *err = NULL;
	struct stub_script *sc = stub_script_load(path, &err);
	free(path);
	if (!sc)
		fail_msg("%s", err);
	struct stub *s = stub_start(sc, NULL, &err);
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
		"  - {hang: true}\n  - {size: 512KiB}\n  - {reply: ~}\n";
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
	struct stub *s = start_agent();
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
	struct stub *s = start_agent();
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
	struct stub *s = start_agent();
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
	struct stub *s = start_agent();
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
	struct stub *s = start_agent();
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
	struct stub *s = start_agent();
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
	struct stub *s = start_agent();
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
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
