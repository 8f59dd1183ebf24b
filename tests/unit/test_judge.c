/* test_judge.c: the judge grader's config, request bodies for both APIs,
 * verdict parsing, the verdict cache and the calibration statistics. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "grader.h"
#include "judge/cache.h"
#include "judge/prompt.h"
#include "provider.h"
#include "redact.h"
#include "suite/suite.h"
#include "transport/transport.h"
#include "util.h"
#include "ynode.h"

static struct header judge_headers[] = {
	{.name = "Authorization", .value = "Bearer ${env:TEST_JUDGE_TOKEN}"},
};

/* judge_cfg: a judge: section as the suite loader leaves it. */
static struct judge_config judge_cfg(const struct provider *p)
{
	struct judge_config j = {
		.present = true,
		.url = "${env:TEST_JUDGE_URL}/v1/chat/completions",
		.provider = p,
		.model = "judge-model",
		.headers = judge_headers,
		.nheaders = 1,
		.timeout_ms = 1500,
	};
	return j;
}

static struct judge_config openai_judge;
static struct judge_config anthropic_judge;
static struct judge_config responses_judge;

static int setup(void **state)
{
	(void)state;
	setenv("TEST_JUDGE_URL", "http://127.0.0.1:9", 1);
	setenv("TEST_JUDGE_TOKEN", "sekret-token-123", 1);
	openai_judge = judge_cfg(provider_find("openai-chat"));
	anthropic_judge = judge_cfg(provider_find("anthropic-messages"));
	responses_judge = judge_cfg(provider_find("openai-responses"));
	return 0;
}

/* compile_with: one grader entry with the suite's secret set r; the YAML
 * is freed at once, so the grader must keep no pointer into it. */
static struct grader *compile_with(const char *yaml, const struct judge_config *j,
				   const struct redact *r, char **err)
{
	char *perr = NULL;
	struct ydoc *doc = ydoc_parse("t.yaml", yaml, strlen(yaml), &perr);
	if (!doc)
		fail_msg("test YAML does not parse: %s", perr);
	struct grader_env env = {.suite_dir = ".", .judge = j, .redact = r};
	*err = NULL;
	struct grader *g = grader_compile(doc->root, &env, err);
	ydoc_free(doc);
	return g;
}

static struct grader *compile(const char *yaml, const struct judge_config *j, char **err)
{
	return compile_with(yaml, j, NULL, err);
}

static struct grader *must_compile_with(const char *yaml, const struct judge_config *j,
					const struct redact *r)
{
	char *err = NULL;
	struct grader *g = compile_with(yaml, j, r, &err);
	if (!g)
		fail_msg("'%s' does not compile: %s", yaml, err);
	return g;
}

static struct grader *must_compile(const char *yaml, const struct judge_config *j)
{
	return must_compile_with(yaml, j, NULL);
}

static void expect_suite_error(const char *yaml, const struct judge_config *j, const char *want)
{
	char *err = NULL;
	struct grader *g = compile(yaml, j, &err);
	if (g)
		fail_msg("'%s' compiled, expected: %s", yaml, want);
	assert_non_null(err);
	assert_string_equal(err, want);
	free(err);
}

static void test_config_errors(void **state)
{
	(void)state;
	struct judge_config absent = {0};
	expect_suite_error("{judge: Says 30 days}", &absent,
			   "t.yaml:1:9: the judge grader needs a 'judge:' section in the suite "
			   "(url, api, model)");
	expect_suite_error("{judge: Says 30 days}", NULL,
			   "t.yaml:1:9: the judge grader needs a 'judge:' section in the suite "
			   "(url, api, model)");
	expect_suite_error("{judge: {rubric: x, builtin: factual-grounding}}", &openai_judge,
			   "t.yaml:1:30: judge takes a rubric or a builtin, not both");
	expect_suite_error("{judge: {threshold: 0.5}}", &openai_judge,
			   "t.yaml:1:9: judge needs a rubric or a builtin");
	expect_suite_error("{judge: {builtin: factual-grouding}}", &openai_judge,
			   "t.yaml:1:19: unknown judge builtin 'factual-grouding' "
			   "(did you mean 'factual-grounding'?)");
	expect_suite_error("{judge: {builtin: tone}}", &openai_judge,
			   "t.yaml:1:19: unknown judge builtin 'tone' (one of factual-grounding, "
			   "privacy-safety, instruction-adherence, plan-execution)");
	expect_suite_error("{judge: {rubric: x, threshold: 1.5}}", &openai_judge,
			   "t.yaml:1:32: judge threshold must be a number from 0 to 1");
	expect_suite_error("{judge: {rubric: x, threshold: high}}", &openai_judge,
			   "t.yaml:1:32: judge threshold must be a number from 0 to 1");
	expect_suite_error("{judge: {rubric: x, threshold: -0.1}}", &openai_judge,
			   "t.yaml:1:32: judge threshold must be a number from 0 to 1");
	expect_suite_error("{judge: {rubrik: x}}", &openai_judge,
			   "t.yaml:1:10: unknown key 'rubrik' in judge (did you mean 'rubric'?)");
	expect_suite_error("{judge: '  '}", &openai_judge, "t.yaml:1:9: judge rubric is empty");
	expect_suite_error("{judge: [a, b]}", &openai_judge,
			   "t.yaml:1:9: judge rubric must be a string, not a list");
	expect_suite_error("{judge: {rubric: {a: b}}}", &openai_judge,
			   "t.yaml:1:18: judge rubric must be a string, not a mapping");
	expect_suite_error("{judge: x, on: raw}", &openai_judge,
			   "t.yaml:1:16: judge grades the whole reply and takes no 'on'");

	struct judge_grader_info info;
	struct grader *g = must_compile("{judge: {builtin: privacy-safety}}", &openai_judge);
	assert_true(judge_grader_info(g, &info));
	assert_string_equal(info.builtin, "privacy-safety");
	assert_true(info.threshold == 1.0);
	assert_string_equal(info.rubric, judge_builtin_find("privacy-safety")->rubric);
	grader_free(g);
	g = must_compile("{judge: {builtin: plan-execution, threshold: 0.5}}", &openai_judge);
	assert_true(judge_grader_info(g, &info));
	assert_true(info.threshold == 0.5);
	grader_free(g);
	g = must_compile("{judge: States the refund window.}", &openai_judge);
	assert_true(judge_grader_info(g, &info));
	assert_null(info.builtin);
	assert_string_equal(info.rubric, "States the refund window.");
	assert_true(info.threshold == 0.5);
	grader_free(g);
	g = must_compile("{contains: x}", &openai_judge);
	assert_false(judge_grader_info(g, &info));
	grader_free(g);
}

/* make_reply: a reply with this text and one create_event tool call. */
static void make_reply(struct reply *r, const char *content, bool tool_call)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->content = xstrdup(content);
	r->content_len = strlen(content);
	if (tool_call) {
		cJSON *args = cJSON_Parse("{\"attendee_emails\":[\"ana@example.com\"]}");
		reply_add_tool_call(r, "call_1", "create_event", args);
		cJSON_Delete(args);
	}
}

/* sample: the grade input of reply r to a case with this input. */
static struct grade_input sample(const char *input, const struct reply *r,
				 struct grader_runtime *rt)
{
	struct grade_input in = {
		.reply = r,
		.subject = r->content,
		.subject_len = strlen(r->content),
		.case_id = "refund",
		.target = "eval",
		.input = input,
		.rt = rt,
	};
	return in;
}

/* start: run the grader's start on a reply; returns start's value. */
static int start(const struct grader *g, const char *input, const struct reply *r,
		 struct grader_runtime *rt, struct http_request **req, void **call,
		 struct grade_result *out)
{
	struct grade_input in = sample(input, r, rt);
	*req = NULL;
	*call = NULL;
	memset(out, 0, sizeof(*out));
	out->grade = GRADE_ERROR;
	return g->ops->start(g->priv, &in, req, call, out);
}

static const char *header(const struct http_request *req, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < req->nheaders; i++) {
		if (strncmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':')
			return req->headers[i] + n + 2;
	}
	return NULL;
}

static void test_body_openai(void **state)
{
	(void)state;
	struct grader *g = must_compile("{judge: States a 30-day refund window.}", &openai_judge);
	struct reply r;
	make_reply(&r, "Refunds are accepted within 30 days.", true);
	struct http_request *req;
	void *call;
	struct grade_result out;
	assert_int_equal(start(g, "What is your refund window?", &r, NULL, &req, &call, &out), 1);
	assert_non_null(req);
	assert_non_null(call);
	assert_string_equal(req->url, "http://127.0.0.1:9/v1/chat/completions");
	assert_string_equal(header(req, "Authorization"), "Bearer sekret-token-123");
	assert_int_equal(req->timeout_ms, 1500);
	assert_int_equal(req->body_len, strlen(req->body));

	cJSON *body = cJSON_Parse(req->body);
	assert_non_null(body);
	assert_string_equal(cJSON_GetObjectItem(body, "model")->valuestring, "judge-model");
	assert_true(cJSON_GetObjectItem(body, "temperature")->valuedouble == 0);
	assert_null(cJSON_GetObjectItem(body, "max_tokens"));
	assert_null(cJSON_GetObjectItem(body, "system"));
	cJSON *rf = cJSON_GetObjectItem(body, "response_format");
	assert_string_equal(cJSON_GetObjectItem(rf, "type")->valuestring, "json_object");
	cJSON *msgs = cJSON_GetObjectItem(body, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 2);
	cJSON *sys = cJSON_GetArrayItem(msgs, 0), *user = cJSON_GetArrayItem(msgs, 1);
	assert_string_equal(cJSON_GetObjectItem(sys, "role")->valuestring, "system");
	assert_string_equal(cJSON_GetObjectItem(sys, "content")->valuestring,
			    judge_prompt_system(false));
	assert_non_null(strstr(judge_prompt_system(false), "\"pass\": true or false"));
	assert_string_equal(cJSON_GetObjectItem(user, "role")->valuestring, "user");
	const char *u = cJSON_GetObjectItem(user, "content")->valuestring;
	assert_non_null(strstr(u, "<rubric>\nStates a 30-day refund window.\n</rubric>"));
	assert_non_null(strstr(u, "<input>\nWhat is your refund window?\n</input>"));
	assert_non_null(strstr(u, "<reply>\nRefunds are accepted within 30 days.\n</reply>"));
	assert_non_null(strstr(u, "<tool_calls>\ncreate_event "
				  "{\"attendee_emails\":[\"ana@example.com\"]}\n</tool_calls>"));
	/* The secret is in the header only. */
	assert_null(strstr(req->body, "sekret"));
	cJSON_Delete(body);
	http_request_free(req);

	/* The finish frees call: give it a result. */
	struct http_result res = {.ok = false, .error = "interrupted", .attempts = 1};
	g->ops->finish(g->priv, call, &res, NULL, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_string_equal(out.reason, "interrupted");
	grade_result_release(&out);

	/* max_tokens and temperature when set; no tool calls shows (none). */
	struct judge_config j = openai_judge;
	j.max_tokens = 200;
	j.temperature = 0.3;
	j.timeout_ms = 0;
	struct grader *g2 = must_compile("{judge: {builtin: factual-grounding}}", &j);
	reply_release(&r);
	make_reply(&r, "", false);
	assert_int_equal(start(g2, NULL, &r, NULL, &req, &call, &out), 1);
	body = cJSON_Parse(req->body);
	assert_int_equal(cJSON_GetObjectItem(body, "max_tokens")->valueint, 200);
	assert_true(fabs(cJSON_GetObjectItem(body, "temperature")->valuedouble - 0.3) < 1e-9);
	assert_int_equal(req->timeout_ms, 0);
	msgs = cJSON_GetObjectItem(body, "messages");
	cJSON *first = cJSON_GetArrayItem(msgs, 0);
	assert_string_equal(cJSON_GetObjectItem(first, "content")->valuestring,
			    judge_prompt_system(true));
	u = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring;
	assert_non_null(strstr(u, "<tool_calls>\n(none)\n</tool_calls>"));
	assert_non_null(strstr(u, "<input>\n\n</input>"));
	assert_non_null(strstr(u, judge_builtin_find("factual-grounding")->rubric));
	cJSON_Delete(body);
	http_request_free(req);
	g2->ops->finish(g2->priv, call, &res, NULL, &out);
	grade_result_release(&out);
	reply_release(&r);
	grader_free(g2);
	grader_free(g);
}

/* The judge reads every byte of a plain-text reply: a NUL is shown as
 * U+2400, and what follows it reaches the judge. */
static void test_body_nul(void **state)
{
	(void)state;
	struct grader *g = must_compile("{judge: Mentions no SSN.}", &openai_judge);
	static const char text[] = "ok\0 your SSN is 123-45-6789";
	struct reply r;
	make_reply(&r, "", false);
	free(r.content);
	r.content = xmalloc(sizeof(text));
	memcpy(r.content, text, sizeof(text));
	r.content_len = sizeof(text) - 1;
	struct http_request *req;
	void *call;
	struct grade_result out;
	assert_int_equal(start(g, "status?", &r, NULL, &req, &call, &out), 1);
	assert_non_null(strstr(req->body, "<reply>\\nok\xe2\x90\x80 your SSN is 123-45-6789\\n"));
	http_request_free(req);
	free(call);
	reply_release(&r);
	grader_free(g);
}

static void test_body_anthropic(void **state)
{
	(void)state;
	struct grader *g = must_compile("{judge: {rubric: Polite.}}", &anthropic_judge);
	struct reply r;
	make_reply(&r, "Hello there.", false);
	struct http_request *req;
	void *call;
	struct grade_result out;
	assert_int_equal(start(g, "Hi", &r, NULL, &req, &call, &out), 1);
	assert_string_equal(header(req, "anthropic-version"), "2023-06-01");
	assert_string_equal(header(req, "Authorization"), "Bearer sekret-token-123");
	cJSON *body = cJSON_Parse(req->body);
	assert_non_null(body);
	assert_string_equal(cJSON_GetObjectItem(body, "model")->valuestring, "judge-model");
	assert_string_equal(cJSON_GetObjectItem(body, "system")->valuestring,
			    judge_prompt_system(false));
	assert_int_equal(cJSON_GetObjectItem(body, "max_tokens")->valueint, 1024);
	assert_true(cJSON_GetObjectItem(body, "temperature")->valuedouble == 0);
	assert_null(cJSON_GetObjectItem(body, "response_format"));
	cJSON *msgs = cJSON_GetObjectItem(body, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 0), "role")->valuestring,
			    "user");
	cJSON_Delete(body);
	http_request_free(req);

	/* An Anthropic reply is parsed with that API's shape. */
	const char *ok = "{\"type\":\"message\",\"role\":\"assistant\","
			 "\"stop_reason\":\"end_turn\","
			 "\"content\":[{\"type\":\"text\",\"text\":\"{\\\"pass\\\": true, "
			 "\\\"score\\\": 0.8, \\\"reason\\\": \\\"polite\\\"}\"}]}";
	struct http_result res = {.ok = true, .status = 200, .body = (char *)ok,
				  .body_len = strlen(ok), .attempts = 1};
	g->ops->finish(g->priv, call, &res, NULL, &out);
	assert_int_equal(out.grade, GRADE_PASS);
	assert_true(fabs(out.score - 0.8) < 1e-9);
	grade_result_release(&out);

	const char *refused = "{\"type\":\"message\",\"stop_reason\":\"refusal\",\"content\":[]}";
	assert_int_equal(start(g, "Hi", &r, NULL, &req, &call, &out), 1);
	http_request_free(req);
	res.body = (char *)refused;
	res.body_len = strlen(refused);
	g->ops->finish(g->priv, call, &res, NULL, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_string_equal(out.reason, "judge refused (stop_reason refusal)");
	grade_result_release(&out);

	struct judge_config j = anthropic_judge;
	j.max_tokens = 300;
	j.model = NULL;
	struct grader *g2 = must_compile("{judge: Polite.}", &j);
	assert_int_equal(start(g2, "Hi", &r, NULL, &req, &call, &out), 1);
	body = cJSON_Parse(req->body);
	assert_int_equal(cJSON_GetObjectItem(body, "max_tokens")->valueint, 300);
	assert_null(cJSON_GetObjectItem(body, "model"));
	cJSON_Delete(body);
	http_request_free(req);
	res.ok = false;
	res.error = "interrupted";
	g2->ops->finish(g2->priv, call, &res, NULL, &out);
	grade_result_release(&out);
	grader_free(g2);
	reply_release(&r);
	grader_free(g);
}

static void test_body_responses(void **state)
{
	(void)state;
	struct judge_config j = responses_judge;
	j.max_tokens = 300;
	struct grader *g = must_compile("{judge: {rubric: Polite.}}", &j);
	struct reply r;
	make_reply(&r, "Hello there.", false);
	struct http_request *req;
	void *call;
	struct grade_result out;
	assert_int_equal(start(g, "Hi", &r, NULL, &req, &call, &out), 1);
	assert_null(header(req, "anthropic-version"));
	cJSON *body = cJSON_Parse(req->body);
	assert_non_null(body);
	assert_string_equal(cJSON_GetObjectItem(body, "model")->valuestring, "judge-model");
	assert_string_equal(cJSON_GetObjectItem(body, "instructions")->valuestring,
			    judge_prompt_system(false));
	assert_non_null(strstr(cJSON_GetObjectItem(body, "input")->valuestring, "Polite."));
	assert_int_equal(cJSON_GetObjectItem(body, "max_output_tokens")->valueint, 300);
	assert_null(cJSON_GetObjectItem(body, "max_tokens"));
	assert_true(cJSON_GetObjectItem(body, "temperature")->valuedouble == 0);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
				body, "text"), "format"), "type")->valuestring, "json_object");
	assert_null(cJSON_GetObjectItem(body, "messages"));
	cJSON_Delete(body);
	http_request_free(req);

	/* The verdict is read from the response's output_text. */
	const char *ok = "{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
			 "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
			 "\"text\":\"{\\\"pass\\\": true, \\\"score\\\": 0.8, "
			 "\\\"reason\\\": \\\"polite\\\"}\",\"annotations\":[]}]}]}";
	struct http_result res = {.ok = true, .status = 200, .body = (char *)ok,
				  .body_len = strlen(ok), .attempts = 1};
	g->ops->finish(g->priv, call, &res, NULL, &out);
	assert_int_equal(out.grade, GRADE_PASS);
	assert_true(fabs(out.score - 0.8) < 1e-9);
	grade_result_release(&out);

	/* A refusal part, and an unfinished response, are errors. */
	const char *refused = "{\"status\":\"completed\",\"output\":[{\"type\":\"message\","
			      "\"content\":[{\"type\":\"refusal\",\"refusal\":\"I can't.\"}]}]}";
	assert_int_equal(start(g, "Hi", &r, NULL, &req, &call, &out), 1);
	http_request_free(req);
	res.body = (char *)refused;
	res.body_len = strlen(refused);
	g->ops->finish(g->priv, call, &res, NULL, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_string_equal(out.reason, "judge refused: \"I can't.\"");
	grade_result_release(&out);

	const char *cut = "{\"status\":\"incomplete\",\"incomplete_details\":"
			  "{\"reason\":\"max_output_tokens\"},\"output\":[]}";
	assert_int_equal(start(g, "Hi", &r, NULL, &req, &call, &out), 1);
	http_request_free(req);
	res.body = (char *)cut;
	res.body_len = strlen(cut);
	g->ops->finish(g->priv, call, &res, NULL, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_string_equal(out.reason, "response incomplete: max_output_tokens");
	grade_result_release(&out);
	reply_release(&r);
	grader_free(g);
}

/* completion: an openai-chat completion whose content is text. */
static char *completion(const char *text)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *choices = cJSON_AddArrayToObject(root, "choices");
	cJSON *choice = cJSON_CreateObject();
	cJSON *msg = cJSON_AddObjectToObject(choice, "message");
	cJSON_AddStringToObject(msg, "role", "assistant");
	cJSON_AddStringToObject(msg, "content", text);
	cJSON_AddItemToArray(choices, choice);
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

/* judge_with: grade a fixed reply with g, the judge answering status and
 * body (the body as is: not wrapped in a completion). */
static void judge_with(const struct grader *g, struct grader_runtime *rt, long status,
		       const char *body, int attempts, struct grade_result *out)
{
	struct reply r;
	make_reply(&r, "Refunds are accepted within 30 days.", false);
	struct http_request *req;
	void *call;
	int rc = start(g, "What is your refund window?", &r, rt, &req, &call, out);
	assert_int_equal(rc, 1);
	http_request_free(req);
	struct http_result res = {.ok = true, .status = status, .body = (char *)body,
				  .body_len = strlen(body), .attempts = attempts};
	g->ops->finish(g->priv, call, &res, rt, out);
	grade_result_tidy(out, NULL);
	reply_release(&r);
}

/* expect_verdict: the judge answers text (as a completion's content). */
static void expect_verdict(const char *grader_yaml, const char *text, enum grade want,
			   double score, const char *reason)
{
	struct grader *g = must_compile(grader_yaml, &openai_judge);
	char *body = completion(text);
	struct grade_result out;
	judge_with(g, NULL, 200, body, 1, &out);
	if (out.grade != want)
		fail_msg("'%s': grade %d, expected %d (reason: %s)", text, out.grade, want,
			 out.reason ? out.reason : "none");
	if (reason) {
		assert_non_null(out.reason);
		assert_string_equal(out.reason, reason);
	} else {
		assert_null(out.reason);
	}
	if (want != GRADE_ERROR && fabs(out.score - score) > 1e-9)
		fail_msg("'%s': score %g, expected %g", text, out.score, score);
	grade_result_release(&out);
	free(body);
	grader_free(g);
}

static void test_parse_verdicts(void **state)
{
	(void)state;
	const char *rub = "{judge: States 30 days.}";
	expect_verdict(rub, "{\"pass\": true, \"score\": 0.9, \"reason\": \"states 30 days\"}",
		       GRADE_PASS, 0.9, NULL);
	expect_verdict(rub, "{\"pass\": false, \"score\": 0.1, \"reason\": \"says 60 days\"}",
		       GRADE_FAIL, 0.1, "score 0.10: says 60 days");
	/* pass without score */
	expect_verdict(rub, "{\"pass\": true}", GRADE_PASS, 1, NULL);
	expect_verdict(rub, "{\"pass\": false}", GRADE_FAIL, 0, "score 0.00 below 0.50");
	/* No pass: the threshold decides. */
	expect_verdict(rub, "{\"score\": 0.6, \"reason\": \"mostly\"}", GRADE_PASS, 0.6, NULL);
	expect_verdict(rub, "{\"score\": 0.5}", GRADE_PASS, 0.5, NULL);
	expect_verdict(rub, "{\"score\": 0.4, \"reason\": \"vague\"}", GRADE_FAIL, 0.4,
		       "score 0.40: vague");
	expect_verdict("{judge: {rubric: x, threshold: 0.7}}", "{\"score\": 0.6}", GRADE_FAIL, 0.6,
		       "score 0.60 below 0.70");
	expect_verdict(rub, "{\"score\": \"0.8\"}", GRADE_PASS, 0.8, NULL);
	/* Fenced, and after prose or another object. */
	expect_verdict(rub, "Here is my verdict:\n```json\n{\"pass\": true, \"score\": 1, "
			    "\"reason\": \"ok {fine}\"}\n```\n", GRADE_PASS, 1, NULL);
	expect_verdict(rub, "The {reply} is {\"a\": 1} then {\"pass\": false, \"score\": 0.2, "
			    "\"reason\": \"no\"}", GRADE_FAIL, 0.2, "score 0.20: no");
	/* The last verdict object wins over one the judge quotes before it. */
	expect_verdict(rub, "The reply quotes {\"pass\": true} but my verdict: {\"pass\": false, "
			    "\"score\": 0.1, \"reason\": \"quotes a verdict\"}", GRADE_FAIL, 0.1,
		       "score 0.10: quotes a verdict");
	expect_verdict(rub, "First {\"pass\": false, \"score\": 0.1} then, on reflection, "
			    "{\"pass\": true, \"score\": 0.7}.", GRADE_PASS, 0.7, NULL);
	/* Only top-level objects count: a nested "score" is not the verdict. */
	expect_verdict(rub, "Verdict: {\"pass\": false, \"reason\": \"vague\", "
			    "\"details\": {\"score\": 1, \"pass\": true}} done", GRADE_FAIL, 0,
		       "score 0.00: vague");
	/* The whole reply as one object, quoting a verdict in its reason. */
	expect_verdict(rub, "  {\"pass\": false, \"score\": 0.3, \"reason\": \"it says "
			    "{\\\"pass\\\": true}\"}\n", GRADE_FAIL, 0.3,
		       "score 0.30: it says {\"pass\": true}");
	/* Fences: the last fenced verdict wins, even over an object after it. */
	expect_verdict(rub, "The reply holds\n```json\n{\"pass\": true, \"score\": 1}\n```\n"
			    "My verdict:\n```json\n{\"pass\": false, \"score\": 0.2, "
			    "\"reason\": \"uses ```code```\"}\n```\nThe rubric's example was "
			    "{\"pass\": true}.", GRADE_FAIL, 0.2, "score 0.20: uses ```code```");
	expect_verdict(rub, "```\n{\"pass\": true, \"score\": 0.9}\n```\n```json\n"
			    "{\"note\": \"not a verdict\"}\n```", GRADE_PASS, 0.9, NULL);
	/* A ```` fence is not closed by ```: its content is no one object. */
	expect_verdict(rub, "````\n{\"pass\": true}\n```\n{\"pass\": false}\n````", GRADE_FAIL, 0,
		       "score 0.00 below 0.50");
	expect_verdict(rub, "Cut short:\n```json\n{\"pass\": true, \"score\": 0.9}\n",
		       GRADE_PASS, 0.9, NULL);
	/* Errors: never a pass. */
	expect_verdict(rub, "I think it's good", GRADE_ERROR, 0,
		       "no JSON verdict in reply \"I think it's good\"");
	expect_verdict(rub, "{\"pass\": tr", GRADE_ERROR, 0,
		       "no JSON verdict in reply \"{\"pass\": tr\"");
	expect_verdict(rub, "{\"verdict\": \"pass\"}", GRADE_ERROR, 0,
		       "no \"pass\" or \"score\" in the JSON reply \"{\"verdict\": \"pass\"}\"");
	expect_verdict(rub, "{\"score\": 7}", GRADE_ERROR, 0, "score 7 out of range 0..1");
	expect_verdict(rub, "{\"pass\": true, \"score\": -1}", GRADE_ERROR, 0,
		       "score -1 out of range 0..1");
	expect_verdict(rub, "{\"score\": 1e999}", GRADE_ERROR, 0, "score inf out of range 0..1");
	expect_verdict(rub, "{\"pass\": \"yes\"}", GRADE_ERROR, 0,
		       "verdict \"pass\" is not true or false");
	expect_verdict(rub, "{\"score\": \"high\"}", GRADE_ERROR, 0,
		       "verdict \"score\" is not a number");
	expect_verdict(rub, "{\"pass\": null, \"score\": null, \"reason\": \"hm\"}", GRADE_ERROR, 0,
		       "verdict has neither \"pass\" nor \"score\"");
	/* Refusals: prose only, when the text holds no verdict object. */
	expect_verdict(rub, "I'm sorry, but I can't evaluate this reply.", GRADE_ERROR, 0,
		       "judge refused: \"I'm sorry, but I can't evaluate this reply.\"");
	expect_verdict(rub, "I cannot evaluate this. {\"note\": \"no verdict\"}", GRADE_ERROR, 0,
		       "judge refused: \"I cannot evaluate this. {\"note\": \"no verdict\"}\"");
	/* An explicit verdict wins over a reason that reads like a refusal. */
	expect_verdict(rub, "{\"pass\": false, \"score\": 0, \"reason\": \"I cannot assess "
			    "this content.\"}", GRADE_FAIL, 0,
		       "score 0.00: I cannot assess this content.");
	expect_verdict(rub, "{\"pass\": false, \"reason\": \"Unable to provide a refund window "
			    "from the reply\"}", GRADE_FAIL, 0,
		       "score 0.00: Unable to provide a refund window from the reply");
	expect_verdict(rub, "{\"pass\": true, \"reason\": \"Sorry, but I cannot help noticing "
			    "it says 30 days\"}", GRADE_PASS, 1, NULL);
	expect_verdict(rub, "I cannot evaluate tone, but on the rubric: {\"pass\": true, "
			    "\"score\": 0.8}", GRADE_PASS, 0.8, NULL);
	/* A fail that merely starts with "I cannot" is a fail. */
	expect_verdict(rub, "{\"pass\": false, \"score\": 0.2, \"reason\": \"I cannot find the "
			    "30 days in the reply\"}", GRADE_FAIL, 0.2,
		       "score 0.20: I cannot find the 30 days in the reply");

	/* Built-ins: a 1..5 score mapped to 0..1, pass ignored. */
	const char *fg = "{judge: {builtin: factual-grounding}}";
	expect_verdict(fg, "{\"score\": 4, \"reason\": \"grounded\"}", GRADE_PASS, 0.75, NULL);
	expect_verdict(fg, "{\"score\": 5}", GRADE_PASS, 1, NULL);
	expect_verdict(fg, "{\"score\": 3, \"reason\": \"one claim unsupported\"}", GRADE_FAIL, 0.5,
		       "score 0.50: one claim unsupported");
	expect_verdict(fg, "{\"pass\": true, \"score\": 2}", GRADE_FAIL, 0.25,
		       "score 0.25 below 0.75");
	expect_verdict(fg, "{\"score\": 1}", GRADE_FAIL, 0, "score 0.00 below 0.75");
	expect_verdict(fg, "{\"score\": 0.9}", GRADE_ERROR, 0, "score 0.9 out of range 1..5");
	expect_verdict(fg, "{\"score\": 6}", GRADE_ERROR, 0, "score 6 out of range 1..5");
	expect_verdict(fg, "{\"pass\": true}", GRADE_ERROR, 0, "verdict has no \"score\" (1..5)");
	expect_verdict("{judge: {builtin: factual-grounding, threshold: 0.5}}", "{\"score\": 3}",
		       GRADE_PASS, 0.5, NULL);
}

static void test_parse_http(void **state)
{
	(void)state;
	struct grader *g = must_compile("{judge: States 30 days.}", &openai_judge);
	struct grade_result out;

	judge_with(g, NULL, 500, "{\"error\": {\"message\": \"boom\", \"type\": \"server_error\"}}",
		   3, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_string_equal(out.reason, "500 server_error: boom (after 3 attempts)");
	grade_result_release(&out);

	judge_with(g, NULL, 200, "<html>502</html>", 1, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_non_null(strstr(out.reason, "not JSON"));
	grade_result_release(&out);

	const char *refusal = "{\"choices\": [{\"message\": {\"role\": \"assistant\", "
			      "\"content\": null, \"refusal\": \"I can't help with that.\"}}]}";
	judge_with(g, NULL, 200, refusal, 1, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_string_equal(out.reason, "judge refused: \"I can't help with that.\"");
	grade_result_release(&out);

	/* A failure after retries. */
	struct reply r;
	make_reply(&r, "x", false);
	struct http_request *req;
	void *call;
	assert_int_equal(start(g, "in", &r, NULL, &req, &call, &out), 1);
	http_request_free(req);
	struct http_result res = {.ok = false, .error = "timed out after 300 ms", .attempts = 2};
	g->ops->finish(g->priv, call, &res, NULL, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_string_equal(out.reason, "timed out after 300 ms after 2 attempts");
	grade_result_release(&out);
	reply_release(&r);
	grader_free(g);
}

static void test_parse_hostile(void **state)
{
	(void)state;
	struct judge_verdict v;
	char *err = NULL;
	/* Deep nesting, unbalanced braces and a huge text end in an error. */
	size_t n = 200000;
	char *s = xmalloc(n + 1);
	memset(s, '{', n);
	s[n] = '\0';
	assert_int_equal(judge_verdict_parse(s, n, false, 0.5, NULL, &v, &err), -1);
	assert_non_null(strstr(err, "too many unbalanced or nested braces to find the verdict"));
	free(err);
	err = NULL;
	/* The scan gives up rather than take an earlier verdict for the last. */
	memcpy(s, "{\"pass\": true} ", 15);
	assert_int_equal(judge_verdict_parse(s, n, false, 0.5, NULL, &v, &err), -1);
	assert_non_null(strstr(err, "too many unbalanced or nested braces"));
	free(err);
	err = NULL;
	/* Many brace pairs that are not JSON, and a few unclosed braces, in a
	 * long text: the verdict at its end is found. */
	for (size_t i = 0; i < n; i++)
		s[i] = i % 8 == 0 ? '{' : i % 8 == 4 ? '}' : i % 10007 == 6 ? '{' : 'x';
	const char *tail = " {\"pass\": false, \"score\": 0.25}";
	memcpy(s + n - strlen(tail), tail, strlen(tail));
	assert_int_equal(judge_verdict_parse(s, n, false, 0.5, NULL, &v, &err), 0);
	assert_false(v.pass);
	assert_true(v.score == 0.25);
	judge_verdict_release(&v);
	/* An unclosed brace every few bytes: it gives up, in bounded time. */
	for (size_t i = 0; i < n - strlen(tail); i++)
		s[i] = i % 8 == 0 ? '{' : i % 8 == 4 ? '}' : i % 8 == 6 ? '{' : 'x';
	assert_int_equal(judge_verdict_parse(s, n, false, 0.5, NULL, &v, &err), -1);
	assert_non_null(strstr(err, "too many unbalanced or nested braces"));
	free(err);
	err = NULL;
	memset(s, '[', n);
	s[0] = '{';
	s[n - 1] = '}';
	assert_int_equal(judge_verdict_parse(s, n, false, 0.5, NULL, &v, &err), -1);
	free(err);
	err = NULL;
	free(s);
	/* An object nested past cJSON's limit. */
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, "{\"pass\": true, \"x\": ");
	for (int i = 0; i < 5000; i++)
		buf_addstr(&b, "{\"a\":");
	buf_addstr(&b, "1");
	for (int i = 0; i < 5000; i++)
		buf_addch(&b, '}');
	buf_addch(&b, '}');
	assert_int_equal(judge_verdict_parse(b.data, b.len, false, 0.5, NULL, &v, &err), -1);
	free(err);
	err = NULL;
	buf_release(&b);
	/* Strings holding braces, quotes and escapes. */
	const char *tricky = "{\"reason\": \"a } \\\" {\", \"pass\": true}";
	assert_int_equal(judge_verdict_parse(tricky, strlen(tricky), false, 0.5, NULL, &v, &err), 0);
	assert_true(v.pass);
	assert_string_equal(v.reason, "a } \" {");
	judge_verdict_release(&v);
	/* NULL and empty text. */
	assert_int_equal(judge_verdict_parse(NULL, 0, false, 0.5, NULL, &v, &err), -1);
	assert_string_equal(err, "no JSON verdict in reply \"\"");
	free(err);
	err = NULL;
	/* A long reason is capped. */
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, "{\"pass\": false, \"reason\": \"");
	for (int i = 0; i < 3000; i++)
		buf_addstr(&b, "\xc3\xa9");
	buf_addstr(&b, "\"}");
	assert_int_equal(judge_verdict_parse(b.data, b.len, false, 0.5, NULL, &v, &err), 0);
	assert_true(strlen(v.reason) <= JUDGE_REASON_MAX);
	assert_true(strlen(v.reason) % 2 == 0);
	judge_verdict_release(&v);
	buf_release(&b);
}

static void test_refusal_text(void **state)
{
	(void)state;
	assert_true(judge_text_refusal("I cannot evaluate this."));
	assert_true(judge_text_refusal("  Sorry, I can\xe2\x80\x99t help with that."));
	assert_true(judge_text_refusal("I am unable to assess the reply"));
	assert_true(judge_text_refusal("I must decline."));
	assert_true(judge_text_refusal("Unfortunately, I won't grade this"));
	assert_false(judge_text_refusal("I cannot find support for 60 days"));
	assert_false(judge_text_refusal("The reply cannot evaluate anything"));
	assert_false(judge_text_refusal(""));
	assert_false(judge_text_refusal("Grounded in the input"));
}

static void test_prompt(void **state)
{
	(void)state;
	const char *h = judge_prompt_hash();
	assert_int_equal(strlen(h), JUDGE_HASH_HEX);
	assert_string_equal(h, judge_prompt_hash());
	for (const char *p = h; *p; p++)
		assert_non_null(strchr("0123456789abcdef", *p));
	assert_string_equal(JUDGE_PROMPT_VERSION, "judge-v2");
	int n = 0;
	for (const struct judge_builtin *b = judge_builtins; b->name; b++, n++) {
		assert_ptr_equal(judge_builtin_find(b->name), b);
		assert_non_null(strstr(b->rubric, "5 - "));
		assert_non_null(strstr(b->rubric, "1 - "));
		assert_true(b->threshold > 0 && b->threshold <= 1);
	}
	assert_int_equal(n, 4);
	assert_null(judge_builtin_find("nope"));

	/* Placeholders in the values are not substituted again. */
	struct judge_prompt p = {.rubric = "R {{input}}", .input = "I {{reply}}",
				 .content = "C {{tool_calls}}"};
	char *u = judge_prompt_user(&p);
	assert_non_null(strstr(u, "<rubric>\nR {{input}}\n</rubric>"));
	assert_non_null(strstr(u, "<input>\nI {{reply}}\n</input>"));
	assert_non_null(strstr(u, "<reply>\nC {{tool_calls}}\n</reply>"));
	free(u);

	/* A huge reply is cut at a character boundary with a marker. */
	size_t len = JUDGE_PART_MAX + 1001;
	char *big = xmalloc(len + 1);
	for (size_t i = 0; i < len; i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xa9;
	}
	big[len - 1] = 'x';
	big[len] = '\0';
	p.content = big;
	u = judge_prompt_user(&p);
	assert_true(strlen(u) < JUDGE_PART_MAX + 2000);
	assert_non_null(strstr(u, "more bytes not shown]\n</reply>"));
	free(u);
	free(big);
}

/* tmpdir: a fresh folder under /tmp (caller removes what it made). */
static char *tmpdir(void)
{
	char *d = xstrdup("/tmp/canary-judge-test-XXXXXX");
	if (!mkdtemp(d))
		fail_msg("mkdtemp failed");
	return d;
}

static void rm_rf(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	if (system(cmd) != 0)
		fail_msg("cannot remove %s", path);
	free(cmd);
}

static void test_cache_basics(void **state)
{
	(void)state;
	char *dir = tmpdir();
	char *path = xasprintf("%s/a/b/judge.sqlite", dir);
	char *err = NULL;
	struct judge_cache *c = judge_cache_open(path, &err);
	if (!c)
		fail_msg("open: %s", err);
	struct stat st;
	char *sub = xasprintf("%s/a/b", dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	free(sub);
	/* The file holds the judge's reasons: the user's only. */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	char key[JUDGE_CACHE_KEY_HEX + 1], key2[JUDGE_CACHE_KEY_HEX + 1];
	const char *parts[] = {"a", "bc"};
	const char *moved[] = {"ab", "c"};
	const char *nulls[] = {"a", NULL};
	const char *empty[] = {"a", ""};
	judge_cache_key(parts, 2, key);
	judge_cache_key(moved, 2, key2);
	assert_string_not_equal(key, key2);
	judge_cache_key(nulls, 2, key);
	judge_cache_key(empty, 2, key2);
	assert_string_not_equal(key, key2);
	judge_cache_key(parts, 2, key);
	judge_cache_key(parts, 2, key2);
	assert_string_equal(key, key2);

	bool pass = false;
	double score = -1;
	char *reason = NULL;
	assert_int_equal(judge_cache_get(c, key, &pass, &score, &reason, &err), 0);
	assert_int_equal(judge_cache_put(c, key, true, 0.9, "grounded", &err), 0);
	char *wal = xasprintf("%s-wal", path);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(wal);
	assert_int_equal(judge_cache_get(c, key, &pass, &score, &reason, &err), 1);
	assert_true(pass);
	assert_true(score == 0.9);
	assert_string_equal(reason, "grounded");
	free(reason);
	assert_int_equal(judge_cache_put(c, key, false, 0.2, "changed", &err), 0);
	assert_int_equal(judge_cache_get(c, key, &pass, &score, &reason, &err), 1);
	assert_false(pass);
	assert_string_equal(reason, "changed");
	free(reason);
	assert_int_equal(judge_cache_prune(c, 30, &err), 0);
	assert_int_equal(judge_cache_get(c, key, &pass, &score, &reason, &err), 1);
	free(reason);
	judge_cache_close(c);

	/* It persists, and a second handle sees it. */
	c = judge_cache_open(path, &err);
	assert_non_null(c);
	assert_int_equal(judge_cache_get(c, key, &pass, &score, &reason, &err), 1);
	free(reason);
	judge_cache_close(c);

	/* Not a database. */
	char *junk = xasprintf("%s/junk.sqlite", dir);
	FILE *f = fopen(junk, "w");
	assert_non_null(f);
	for (int i = 0; i < 64; i++)
		fputs("this is not an SQLite database, just text. ", f);
	fclose(f);
	assert_null(judge_cache_open(junk, &err));
	char *want = xasprintf("judge cache '%s': file is not a database", junk);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;
	/* A folder in the way. */
	char *blocked = xasprintf("%s/junk.sqlite/judge.sqlite", dir);
	assert_null(judge_cache_open(blocked, &err));
	want = xasprintf("cannot create the judge cache folder '%s': not a folder", junk);
	assert_string_equal(err, want);
	free(want);
	free(err);
	err = NULL;
	/* The path is a folder. */
	assert_null(judge_cache_open(dir, &err));
	assert_non_null(strstr(err, "judge cache '"));
	free(err);
	free(blocked);
	free(junk);
	free(path);
	rm_rf(dir);
	free(dir);
}

static long long cache_now;

static long long cache_clock(void)
{
	return cache_now;
}

/* A verdict is kept for exactly `days` by the cache's clock, then pruned. */
static void test_cache_expiry(void **state)
{
	(void)state;
	char *dir = tmpdir();
	char *path = xasprintf("%s/judge.sqlite", dir);
	char *err = NULL;
	struct judge_cache *c = judge_cache_open(path, &err);
	assert_non_null(c);
	judge_cache_set_clock(c, cache_clock);
	char key[JUDGE_CACHE_KEY_HEX + 1];
	const char *parts[] = {"expiry"};
	judge_cache_key(parts, 1, key);
	bool pass = false;
	double score = -1;
	char *reason = NULL;

	cache_now = 1835438400000LL; /* 2028-02-29T12:00:00Z */
	assert_int_equal(judge_cache_put(c, key, true, 1, "kept", &err), 0);
	cache_now += 30 * 86400000LL;
	assert_int_equal(judge_cache_prune(c, 30, &err), 0);
	assert_int_equal(judge_cache_get(c, key, &pass, &score, &reason, &err), 1);
	assert_string_equal(reason, "kept");
	free(reason);
	cache_now += 1000;
	assert_int_equal(judge_cache_prune(c, 30, &err), 1);
	assert_int_equal(judge_cache_get(c, key, &pass, &score, &reason, &err), 0);
	assert_null(err);
	judge_cache_close(c);
	free(path);
	rm_rf(dir);
	free(dir);
}

static void test_cache_default_path(void **state)
{
	(void)state;
	char *old_xdg = getenv("XDG_CACHE_HOME") ? xstrdup(getenv("XDG_CACHE_HOME")) : NULL;
	char *old_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	setenv("XDG_CACHE_HOME", "/x/cache", 1);
	setenv("HOME", "/home/u", 1);
	char *p = judge_cache_default_path();
	assert_string_equal(p, "/x/cache/canary/judge.sqlite");
	free(p);
	setenv("XDG_CACHE_HOME", "relative", 1);
	p = judge_cache_default_path();
	assert_string_equal(p, "/home/u/.cache/canary/judge.sqlite");
	free(p);
	unsetenv("XDG_CACHE_HOME");
	p = judge_cache_default_path();
	assert_string_equal(p, "/home/u/.cache/canary/judge.sqlite");
	free(p);
	unsetenv("HOME");
	assert_null(judge_cache_default_path());
	if (old_xdg)
		setenv("XDG_CACHE_HOME", old_xdg, 1);
	if (old_home)
		setenv("HOME", old_home, 1);
	free(old_xdg);
	free(old_home);
}

/* cached_start: start g on the refund reply with rt; finish a request it
 * makes with the judge answering verdict. */
static int cached_start(const struct grader *g, const char *content, struct grader_runtime *rt,
			long status, const char *verdict, struct grade_result *out)
{
	struct reply r;
	make_reply(&r, content, true);
	struct http_request *req;
	void *call;
	int rc = start(g, "What is your refund window?", &r, rt, &req, &call, out);
	if (rc == 1) {
		http_request_free(req);
		char *body = status == 200 ? completion(verdict) : xstrdup(verdict);
		struct http_result res = {.ok = true, .status = status, .body = body,
					  .body_len = strlen(body), .attempts = 1};
		g->ops->finish(g->priv, call, &res, rt, out);
		free(body);
	}
	grade_result_tidy(out, NULL);
	reply_release(&r);
	return rc;
}

static void test_cache_grader(void **state)
{
	(void)state;
	char *dir = tmpdir();
	char *path = xasprintf("%s/judge.sqlite", dir);
	char *err = NULL;
	struct grader_runtime rt = {0};
	rt.judge_cache = judge_cache_open(path, &err);
	assert_non_null(rt.judge_cache);
	struct grader *g = must_compile("{judge: States 30 days.}", &openai_judge);
	const char *fail = "{\"pass\": false, \"score\": 0.2, \"reason\": \"vague\"}";
	struct grade_result out;

	assert_int_equal(cached_start(g, "30 days", &rt, 200, fail, &out), 1);
	assert_int_equal(out.grade, GRADE_FAIL);
	grade_result_release(&out);
	assert_int_equal(rt.judge_calls, 1);
	assert_int_equal(rt.judge_cache_hits, 0);
	/* The same judgement again: from the cache, with the same grade. */
	assert_int_equal(cached_start(g, "30 days", &rt, 200, "unused", &out), 0);
	assert_int_equal(out.grade, GRADE_FAIL);
	assert_string_equal(out.reason, "score 0.20: vague");
	assert_true(out.score == 0.2);
	grade_result_release(&out);
	assert_int_equal(rt.judge_calls, 1);
	assert_int_equal(rt.judge_cache_hits, 1);
	/* Another judge behind the same URL template: a miss; back: a hit. */
	setenv("TEST_JUDGE_URL", "http://127.0.0.1:10", 1);
	assert_int_equal(cached_start(g, "30 days", &rt, 200, "{\"pass\": true}", &out), 1);
	assert_int_equal(out.grade, GRADE_PASS);
	grade_result_release(&out);
	setenv("TEST_JUDGE_URL", "http://127.0.0.1:9", 1);
	assert_int_equal(cached_start(g, "30 days", &rt, 200, "unused", &out), 0);
	assert_int_equal(out.grade, GRADE_FAIL);
	assert_string_equal(out.reason, "score 0.20: vague");
	grade_result_release(&out);
	assert_int_equal(rt.judge_calls, 2);
	assert_int_equal(rt.judge_cache_hits, 2);
	/* Another reply, another rubric, another threshold, another model: misses. */
	assert_int_equal(cached_start(g, "30 days!", &rt, 200, fail, &out), 1);
	grade_result_release(&out);
	struct grader *g2 = must_compile("{judge: States 31 days.}", &openai_judge);
	assert_int_equal(cached_start(g2, "30 days", &rt, 200, fail, &out), 1);
	grade_result_release(&out);
	grader_free(g2);
	g2 = must_compile("{judge: {rubric: States 30 days., threshold: 0.6}}", &openai_judge);
	assert_int_equal(cached_start(g2, "30 days", &rt, 200, fail, &out), 1);
	grade_result_release(&out);
	grader_free(g2);
	struct judge_config j = openai_judge;
	j.model = "judge-model-2";
	g2 = must_compile("{judge: States 30 days.}", &j);
	assert_int_equal(cached_start(g2, "30 days", &rt, 200, fail, &out), 1);
	grade_result_release(&out);
	/* Errors are never cached. */
	assert_int_equal(cached_start(g2, "new", &rt, 200, "no verdict here", &out), 1);
	assert_int_equal(out.grade, GRADE_ERROR);
	grade_result_release(&out);
	assert_int_equal(cached_start(g2, "new", &rt, 500, "{\"error\": \"down\"}", &out), 1);
	assert_int_equal(out.grade, GRADE_ERROR);
	grade_result_release(&out);
	assert_int_equal(cached_start(g2, "new", &rt, 200, "{\"pass\": true}", &out), 1);
	assert_int_equal(out.grade, GRADE_PASS);
	grade_result_release(&out);
	assert_int_equal(cached_start(g2, "new", &rt, 200, "unused", &out), 0);
	assert_int_equal(out.grade, GRADE_PASS);
	assert_null(out.reason);
	grade_result_release(&out);
	assert_int_equal(rt.judge_calls, 9);
	assert_int_equal(rt.judge_cache_hits, 3);
	grader_free(g2);
	grader_free(g);
	judge_cache_close(rt.judge_cache);
	free(path);
	rm_rf(dir);
	free(dir);
}

/* The key holds the judge URL as the request renders it, not its template:
 * another JUDGE_URL is another judge, with verdicts of its own. */
static void test_cache_key_url(void **state)
{
	(void)state;
	struct grader *g = must_compile("{judge: States 30 days.}", &openai_judge);
	struct reply r;
	make_reply(&r, "Refunds are accepted within 30 days.", true);
	struct grade_input in = sample("What is your refund window?", &r, NULL);
	char a[JUDGE_HASH_HEX + 1], b[JUDGE_HASH_HEX + 1], c[JUDGE_HASH_HEX + 1];
	char *err = NULL;

	assert_int_equal(judge_grader_key(g, &in, a, &err), 0);
	assert_int_equal(strlen(a), JUDGE_HASH_HEX);
	setenv("TEST_JUDGE_URL", "http://127.0.0.1:10", 1);
	assert_int_equal(judge_grader_key(g, &in, b, &err), 0);
	assert_string_not_equal(a, b);
	/* The request goes to the URL the key holds. */
	struct http_request *req;
	void *call;
	struct grade_result out;
	assert_int_equal(start(g, in.input, &r, NULL, &req, &call, &out), 1);
	assert_string_equal(req->url, "http://127.0.0.1:10/v1/chat/completions");
	http_request_free(req);
	struct http_result res = {.ok = false, .error = "interrupted", .attempts = 1};
	g->ops->finish(g->priv, call, &res, NULL, &out);
	grade_result_release(&out);
	setenv("TEST_JUDGE_URL", "http://127.0.0.1:9", 1);
	assert_int_equal(judge_grader_key(g, &in, c, &err), 0);
	assert_string_equal(a, c);

	/* --judge-url naming the same URL is the same judge. */
	struct judge_config j = openai_judge;
	j.url = "http://127.0.0.1:9/v1/chat/completions";
	j.url_overridden = true;
	struct grader *g2 = must_compile("{judge: States 30 days.}", &j);
	assert_int_equal(judge_grader_key(g2, &in, c, &err), 0);
	assert_string_equal(a, c);
	grader_free(g2);

	/* A URL that cannot be rendered: no key, an error sample. */
	unsetenv("TEST_JUDGE_URL");
	assert_int_equal(judge_grader_key(g, &in, c, &err), -1);
	assert_non_null(strstr(err, "TEST_JUDGE_URL"));
	free(err);
	err = NULL;
	assert_int_equal(start(g, in.input, &r, NULL, &req, &call, &out), 0);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_non_null(strstr(out.reason, "cannot build the judge request: "));
	grade_result_release(&out);
	setenv("TEST_JUDGE_URL", "http://127.0.0.1:9", 1);

	g2 = must_compile("{contains: x}", &openai_judge);
	assert_int_equal(judge_grader_key(g2, &in, c, &err), -1);
	assert_string_equal(err, "not a judge grader");
	free(err);
	grader_free(g2);
	reply_release(&r);
	grader_free(g);
}

/* file_has: whether the file at path holds needle (a missing file does not). */
static bool file_has(const char *path, const char *needle)
{
	char *err = NULL;
	size_t len;
	char *data = util_read_file(path, 64 << 20, &len, &err);
	if (!data) {
		free(err);
		return false;
	}
	bool found = memmem(data, len, needle, strlen(needle)) != NULL;
	free(data);
	return found;
}

/* The judge is a third party: the suite's secrets in the input, the reply
 * and its tool calls are masked before they are sent, and a reason quoting
 * one is masked before it is stored in the cache. */
static void test_redact(void **state)
{
	(void)state;
	const char *secret = "tok-SECRET-4711";
	struct redact rs = {0};
	struct grader *g = must_compile_with("{judge: States 30 days.}", &openai_judge, &rs);
	/* The set fills as the run renders: after the grader compiled. */
	redact_add(&rs, secret);

	char *dir = tmpdir();
	char *path = xasprintf("%s/judge.sqlite", dir);
	char *err = NULL;
	struct grader_runtime rt = {0};
	rt.judge_cache = judge_cache_open(path, &err);
	assert_non_null(rt.judge_cache);

	struct reply r;
	make_reply(&r, "Your token is tok-SECRET-4711; refunds within 30 days.", false);
	cJSON *args = cJSON_Parse("{\"body\": \"key tok-SECRET-4711\"}");
	reply_add_tool_call(&r, "call_2", "send_email", args);
	cJSON_Delete(args);
	const char *input = "Use tok-SECRET-4711 to check my refund window";
	struct http_request *req;
	void *call;
	struct grade_result out;
	assert_int_equal(start(g, input, &r, &rt, &req, &call, &out), 1);
	assert_null(strstr(req->body, "SECRET"));
	cJSON *body = cJSON_Parse(req->body);
	cJSON *msgs = cJSON_GetObjectItem(body, "messages");
	const char *u = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring;
	assert_non_null(strstr(u, "<input>\nUse [redacted] to check my refund window\n</input>"));
	assert_non_null(strstr(u, "<reply>\nYour token is [redacted]; refunds within 30 days.\n"));
	assert_non_null(strstr(u, "<tool_calls>\nsend_email {\"body\":\"key [redacted]\"}\n"));
	cJSON_Delete(body);
	http_request_free(req);

	/* The judge quotes the secret in its reason. */
	char *answer = completion("{\"pass\": false, \"score\": 0.2, "
				  "\"reason\": \"the reply leaks tok-SECRET-4711\"}");
	struct http_result res = {.ok = true, .status = 200, .body = answer,
				  .body_len = strlen(answer), .attempts = 1};
	g->ops->finish(g->priv, call, &res, &rt, &out);
	free(answer);
	assert_int_equal(out.grade, GRADE_FAIL);
	assert_string_equal(out.reason, "score 0.20: the reply leaks [redacted]");
	grade_result_release(&out);

	struct grade_input in = sample(input, &r, &rt);
	char key[JUDGE_HASH_HEX + 1];
	assert_int_equal(judge_grader_key(g, &in, key, &err), 0);
	bool pass = true;
	double score = -1;
	char *reason = NULL;
	assert_int_equal(judge_cache_get(rt.judge_cache, key, &pass, &score, &reason, &err), 1);
	assert_false(pass);
	assert_string_equal(reason, "the reply leaks [redacted]");
	free(reason);

	/* The key hashes the masked texts: another secret in the same place is
	 * the same judgement, answered from the cache. */
	redact_add(&rs, "tok-OTHER-0815");
	struct reply r2;
	make_reply(&r2, "Your token is tok-OTHER-0815; refunds within 30 days.", false);
	args = cJSON_Parse("{\"body\": \"key tok-OTHER-0815\"}");
	reply_add_tool_call(&r2, "call_2", "send_email", args);
	cJSON_Delete(args);
	const char *input2 = "Use tok-OTHER-0815 to check my refund window";
	struct grade_input in2 = sample(input2, &r2, &rt);
	char key2[JUDGE_HASH_HEX + 1];
	assert_int_equal(judge_grader_key(g, &in2, key2, &err), 0);
	assert_string_equal(key, key2);
	assert_int_equal(start(g, input2, &r2, &rt, &req, &call, &out), 0);
	assert_int_equal(out.grade, GRADE_FAIL);
	assert_string_equal(out.reason, "score 0.20: the reply leaks [redacted]");
	grade_result_release(&out);
	assert_int_equal(rt.judge_calls, 1);
	assert_int_equal(rt.judge_cache_hits, 1);

	/* Nothing on disk holds the secret. */
	judge_cache_close(rt.judge_cache);
	char *wal = xasprintf("%s-wal", path);
	assert_true(file_has(path, "the reply leaks [redacted]") ||
		    file_has(wal, "the reply leaks [redacted]"));
	assert_false(file_has(path, "SECRET"));
	assert_false(file_has(wal, "SECRET"));
	free(wal);

	reply_release(&r2);
	reply_release(&r);
	grader_free(g);
	redact_release(&rs);
	free(path);
	rm_rf(dir);
	free(dir);
}

static void test_kappa(void **state)
{
	(void)state;
	/* m[judge][human], 0 = pass: Wikipedia's 50-rater example. */
	const struct judge_confusion a = {{{20, 5}, {10, 15}}};
	assert_true(fabs(judge_kappa(&a) - 0.4) < 1e-12);
	assert_true(fabs(judge_accuracy(&a) - 0.7) < 1e-12);
	const struct judge_confusion b = {{{45, 15}, {25, 15}}};
	assert_true(fabs(judge_kappa(&b) - 0.06 / 0.46) < 1e-12);
	const struct judge_confusion perfect = {{{3, 0}, {0, 5}}};
	assert_true(judge_kappa(&perfect) == 1.0);
	assert_true(judge_accuracy(&perfect) == 1.0);
	const struct judge_confusion opposite = {{{0, 4}, {4, 0}}};
	assert_true(fabs(judge_kappa(&opposite) + 1.0) < 1e-12);
	assert_true(judge_accuracy(&opposite) == 0.0);
	const struct judge_confusion chance = {{{25, 25}, {25, 25}}};
	assert_true(fabs(judge_kappa(&chance)) < 1e-12);
	const struct judge_confusion one_class = {{{6, 0}, {0, 0}}};
	assert_true(isnan(judge_kappa(&one_class)));
	assert_true(judge_accuracy(&one_class) == 1.0);
	const struct judge_confusion none = {{{0, 0}, {0, 0}}};
	assert_true(isnan(judge_kappa(&none)));
	assert_true(isnan(judge_accuracy(&none)));
	/* The calibration fixture's figures (docs/judge.md): 6 labels, one miss. */
	const struct judge_confusion fixture = {{{3, 1}, {0, 2}}};
	assert_true(fabs(judge_kappa(&fixture) - 0.6666666666666666) < 1e-12);
}

/* docs/judge.md shows the template and built-ins in full: it must match. */
static void test_docs_in_sync(void **state)
{
	(void)state;
	const char *fixtures = getenv("FIXTURES") ? getenv("FIXTURES") : "../tests/fixtures";
	char *path = xasprintf("%s/../../docs/judge.md", fixtures);
	char *err = NULL;
	size_t len;
	char *doc = util_read_file(path, 1 << 20, &len, &err);
	if (!doc)
		fail_msg("%s", err);
	if (!strstr(doc, judge_prompt_hash()))
		fail_msg("docs/judge.md does not show the template hash %s", judge_prompt_hash());
	assert_non_null(strstr(doc, judge_prompt_template()));
	assert_non_null(strstr(doc, "(template `" JUDGE_PROMPT_VERSION "`)"));
	for (const struct judge_builtin *b = judge_builtins; b->name; b++) {
		if (!strstr(doc, b->rubric))
			fail_msg("docs/judge.md lacks the full text of %s", b->name);
	}
	/* Each system message is the common part, a blank line and a format. */
	const char *sys = judge_prompt_system(false);
	const char *answer = strstr(sys, "\n\nAnswer with");
	assert_non_null(answer);
	char *common = xstrndup(sys, (size_t)(answer - sys) + 1);
	assert_non_null(strstr(doc, common));
	assert_non_null(strstr(doc, answer + 2));
	assert_non_null(strstr(doc, strstr(judge_prompt_system(true), "\n\nAnswer with") + 2));
	free(common);
	free(doc);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_body_openai),
		cmocka_unit_test(test_body_nul),
		cmocka_unit_test(test_body_anthropic),
		cmocka_unit_test(test_body_responses),
		cmocka_unit_test(test_parse_verdicts),
		cmocka_unit_test(test_parse_http),
		cmocka_unit_test(test_parse_hostile),
		cmocka_unit_test(test_refusal_text),
		cmocka_unit_test(test_prompt),
		cmocka_unit_test(test_cache_basics),
		cmocka_unit_test(test_cache_expiry),
		cmocka_unit_test(test_cache_default_path),
		cmocka_unit_test(test_cache_grader),
		cmocka_unit_test(test_cache_key_url),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_kappa),
		cmocka_unit_test(test_docs_in_sync),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
