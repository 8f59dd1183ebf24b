/* grader_bench: grading throughput on typical small replies.
 *
 * Loads a suite whose case carries the usual graders (regex, not_regex,
 * contains, equals, max_latency, json_schema, tool_call, no_tool_call),
 * parses one typical openai-chat reply, then runs every grader over it N
 * times and prints graders per second.  Nothing is compiled per sample:
 * regexes and schemas were compiled when the suite loaded.
 * usage: grader_bench [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grader.h"
#include "provider.h"
#include "suite/suite.h"
#include "util.h"

static const char suite_text[] =
	"version: 1\n"
	"name: bench\n"
	"targets:\n"
	"  eval: {url: 'http://127.0.0.1:1/'}\n"
	"  prod: {url: 'http://127.0.0.1:2/'}\n"
	"strata:\n"
	"  s:\n"
	"    cases:\n"
	"      - id: c\n"
	"        input: Book 30 minutes with ana@example.com\n"
	"        expect:\n"
	"          - regex: '\\b30 (days|minutes)\\b'\n"
	"          - not_regex: '\\b\\d{3}-\\d{2}-\\d{4}\\b'\n"
	"          - contains: [booked, ana@example.com]\n"
	"          - {equals: 'ok', on: /status}\n"
	"          - max_latency: 2s\n"
	"          - json_schema: {type: object, required: [status, minutes],\n"
	"              properties: {status: {enum: [ok, failed]}, minutes: {type: integer}}}\n"
	"          - tool_call: {name: create_event, arguments: {type: object,\n"
	"              required: [attendee_emails, start], properties: {attendee_emails:\n"
	"              {type: array, items: {type: string, pattern: '@'}}}}}\n"
	"          - no_tool_call: delete_event\n";

static const char reply_text[] =
	"{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{"
	"\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"{\\\"status\\\": \\\"ok\\\", "
	"\\\"minutes\\\": 30, \\\"note\\\": \\\"booked 30 minutes with ana@example.com\\\"}\","
	"\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
	"\"create_event\",\"arguments\":\"{\\\"attendee_emails\\\":[\\\"ana@example.com\\\"],"
	"\\\"start\\\":\\\"2026-11-23T10:00\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}]}";

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	char *err = NULL;
	struct suite *s = suite_load_buffer("bench.yaml", suite_text, strlen(suite_text), NULL, &err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	const struct suite_case *c = &s->strata[0].cases[0];
	struct reply r = {.status = 200, .raw = xstrdup(reply_text), .raw_len = strlen(reply_text),
			  .latency_ms = 120};
	const struct target *t = &s->targets[SIDE_PROD];
	if (provider_parse_reply(t->provider, t->priv, &r, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	long fails = 0;
	double t0 = util_now_ms();
	for (long i = 0; i < n; i++) {
		for (size_t k = 0; k < c->nexpect; k++) {
			struct grade_input in = {.reply = &r, .case_id = c->id, .target = "prod"};
			struct grade_result res = {.grade = GRADE_PASS};
			grader_run(c->expect[k], &in, &res);
			fails += res.grade != GRADE_PASS;
			grade_result_release(&res);
		}
	}
	double ms = util_now_ms() - t0;
	double graders = (double)n * (double)c->nexpect;
	printf("%ld samples x %zu graders in %.0f ms: %.0f graders/s, %.2f us per sample "
	       "(%ld not passing)\n",
	       n, c->nexpect, ms, graders / ms * 1000.0, ms * 1000.0 / (double)n, fails);
	reply_release(&r);
	suite_free(s);
	return fails ? 1 : 0;
}
