/* test_report.c: the report model read and written, the text report against
 * a golden file, the JSON report field by field. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "report/report.h"
#include "support.h"
#include "util.h"
#include "report/verdict.h"
#include "version.h"

#define REASON_TOOL "tool_call: missing required property 'attendee_emails'"
#define REASON_14 "regex: no match for /\\b30 days\\b/ in \"we accept refunds within 14 days\""
#define REASON_LEN "max_latency: 2300 ms over 2000 ms"
#define REASON_CONN "connection refused after 3 attempts"

/* The run of basic.json: two strata reported, one filtered out; a drift,
 * a flaky case, an error and a pass. */
#define BASIC "basic.json"

/* Case i of basic.json: book-meeting, list-events, refund-window,
 * greeting, then no-pii (filtered out). */
enum { BOOK, LIST, REFUND, GREET };

/* render: the text report into a new string. */
static char *render(const struct report *r, bool color, bool verbose)
{
	struct report_text_options o = {.color = color, .verbose = verbose};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	report_text_with(f, r, &o);
	fclose(f);
	return text;
}

static char *render_verdict_line(const struct report *r, bool color)
{
	struct report_text_options o = {.color = color};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	report_verdict_line(f, r, &o);
	fclose(f);
	return text;
}

static void test_text_golden(void **state)
{
	(void)state;
	struct report *r = test_report_fixture(BASIC);
	char *path = xasprintf("%s/reports/basic.txt", test_fixtures());
	char *err = NULL;
	char *expected, *text;

	assert_int_equal(r->verdict, VERDICT_DRIFT);
	text = render(r, false, false);
	expected = util_read_file(path, 1 << 20, NULL, &err);
	if (!expected)
		fail_msg("%s", err);
	if (strcmp(text, expected) != 0) {
		printf("--- expected\n%s--- got\n%s---\n", expected, text);
		fail_msg("text report differs from '%s'", path);
	}
	free(expected);
	free(text);
	free(path);
	report_free(r);
}

static void test_text_color_only_when_asked(void **state)
{
	(void)state;
	struct report *r = test_report_fixture(BASIC);
	char *plain, *color, *line;

	/* A reason that carries its own escape codes and line breaks. */
	r->cases[BOOK].side[SIDE_PROD].samples[0].reasons[0] =
		"regex: no match in \"\033[2J\033]0;pwned\007\nrm\r\"";
	plain = render(r, false, false);
	color = render(r, true, false);

	assert_null(strchr(plain, '\033'));
	assert_non_null(strstr(plain, "\\x1b[2J\\x1b]0;pwned\\x07\\nrm\\r"));
	assert_non_null(strstr(color, "\033[1;31mdrift\033[0m"));
	assert_non_null(strstr(color, "\033[33merror\033[0m"));
	assert_non_null(strstr(color, "\033[1mverdict:\033[0m"));
	/* The agent's escape codes stay escaped with colour on too. */
	assert_null(strstr(color, "\033[2J"));
	assert_non_null(strstr(color, "\\x1b[2J"));

	line = render_verdict_line(r, false);
	assert_null(strchr(line, '\033'));
	free(line);
	line = render_verdict_line(r, true);
	assert_non_null(strchr(line, '\033'));
	free(line);

	free(plain);
	free(color);
	report_free(r);
}

static void test_text_verbose(void **state)
{
	(void)state;
	struct report *r = test_report_fixture(BASIC);
	char *brief, *verbose;

	brief = render(r, false, false);
	verbose = render(r, false, true);

	/* Brief: the first reason of the first failing sample, with the count. */
	assert_non_null(strstr(brief, "prod 1/3: " REASON_14 "\n"));
	assert_null(strstr(brief, "prod #"));
	assert_null(strstr(brief, REASON_LEN));
	/* Verbose: every failing sample, numbered from 1, every reason. */
	assert_non_null(strstr(verbose, "prod #2: " REASON_14 "\n"));
	assert_non_null(strstr(verbose, "prod #3: " REASON_14 "; " REASON_LEN "\n"));
	assert_non_null(strstr(verbose, "prod #1: " REASON_TOOL "\n"));
	assert_non_null(strstr(verbose, "eval #1: " REASON_CONN "\n"));
	assert_null(strstr(verbose, "prod #1: " REASON_14));
	/* Verbose: latency, tokens, cost and retries per stratum and target. */
	assert_null(strstr(brief, "p50 ms"));
	assert_non_null(strstr(verbose, "  stratum  target  p50 ms  p95 ms  max ms  tokens in  "
					 "tokens out  cost usd  retries\n"
					 "  tools    eval       100     100     100          -  "
					 "         -         -        0\n"));
	assert_non_null(strstr(verbose, "  prompt   eval       110     120     120          -  "
					 "         -         -        2\n"));
	free(verbose);

	/* Tokens the prod replies declared, priced: $3 and $15 a million. */
	struct report_side *prod = &r->cases[BOOK].side[SIDE_PROD];
	prod->samples[0].usage = (struct report_usage){1200, 30, 1230, 1000, 10};
	r->targets[SIDE_PROD].priced = true;
	r->targets[SIDE_PROD].price_input = 3;
	r->targets[SIDE_PROD].price_output = 15;
	verbose = render(r, false, true);
	assert_non_null(strstr(verbose, "  tools    prod       100     100     100       1200  "
					 "        30    0.0040        0\n"));
	assert_non_null(strstr(verbose, "  prompt   prod       100     120     120          -  "
					 "         -         -        0\n"));
	assert_non_null(strstr(verbose, "  all      prod       100     120     120       1200  "
					 "        30    0.0040        0\n"));

	free(brief);
	free(verbose);
	report_free(r);
}

/* Time to first token per stratum and target, where samples were streamed:
 * in the JSON, the --verbose text, markdown and prom, and nowhere when no
 * sample was. */
static void test_telemetry_ttft(void **state)
{
	(void)state;
	struct report *r = test_report_fixture(BASIC);
	char *text = render(r, false, true);
	char *md = test_render(report_markdown, r);
	char *prom = test_render(report_prom, r);
	assert_null(strstr(text, "ttft"));
	assert_null(strstr(md, "ttft"));
	assert_null(strstr(prom, "first_token"));
	free(text);
	free(md);
	free(prom);

	/* prod streamed book-meeting (tools) and refund-window (prompt). */
	r->cases[BOOK].side[SIDE_PROD].samples[0].ttft_ms = 40;
	struct report_side *refund = &r->cases[REFUND].side[SIDE_PROD];
	for (size_t k = 0; k < refund->nsamples; k++)
		refund->samples[k].ttft_ms = 20.0 * (double)(k + 1);
	struct report_telemetry t;
	report_telemetry(r, SIZE_MAX, SIDE_PROD, &t);
	assert_int_equal(t.streamed, 4);
	assert_true(t.ttft_p50_ms == 40 && t.ttft_p95_ms == 60 && t.ttft_max_ms == 60);
	assert_true(t.ttft_sum_ms == 160);
	report_telemetry(r, SIZE_MAX, SIDE_EVAL, &t);
	assert_int_equal(t.streamed, 0);

	char *json = test_render(report_json, r);
	cJSON *tree = cJSON_Parse(json);
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(tree, "targets");
	const cJSON *ttft = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(targets, "prod"), "ttft_ms");
	assert_true(cJSON_GetObjectItemCaseSensitive(ttft, "p50")->valuedouble == 40);
	assert_true(cJSON_GetObjectItemCaseSensitive(ttft, "p95")->valuedouble == 60);
	assert_true(cJSON_GetObjectItemCaseSensitive(ttft, "max")->valuedouble == 60);
	assert_null(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(targets, "eval"), "ttft_ms"));
	const cJSON *prompt = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tree, "strata"), 1);
	ttft = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(prompt, "prod"),
						"ttft_ms");
	assert_true(cJSON_GetObjectItemCaseSensitive(ttft, "p50")->valuedouble == 40);
	assert_true(cJSON_GetObjectItemCaseSensitive(ttft, "max")->valuedouble == 60);
	cJSON_Delete(tree);
	free(json);

	text = render(r, false, true);
	assert_non_null(strstr(text, "  stratum  target  p50 ms  p95 ms  max ms  ttft p50  ttft p95  "
				     "ttft max  tokens in  tokens out  cost usd  retries\n"
				     "  tools    eval       100     100     100         -         -  "
				     "       -          -           -         -        0\n"
				     "  tools    prod       100     100     100        40        40  "
				     "      40          -           -         -        0\n"));
	assert_non_null(strstr(text, "  prompt   prod       100     120     120        40        60  "
				     "      60          -           -         -        0\n"));
	free(text);
	md = test_render(report_markdown, r);
	assert_non_null(strstr(md, "| stratum | target | p50 ms | p95 ms | max ms | ttft p50 | "
				   "ttft p95 | ttft max | tokens in | tokens out | cost usd | retries |\n"
				   "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
				   "| tools | eval | 100 | 100 | 100 | - | - | - | - | - | - | 0 |\n"
				   "| tools | prod | 100 | 100 | 100 | 40 | 40 | 40 | - | - | - | 0 |\n"));
	free(md);
	prom = test_render(report_prom, r);
	assert_non_null(strstr(prom, "# TYPE canary_time_to_first_token_seconds summary\n"
				     "canary_time_to_first_token_seconds{suite=\"calendar-assistant\","
				     "stratum=\"tools\",target=\"prod\",quantile=\"0.5\"} 0.04\n"));
	assert_non_null(strstr(prom, "canary_time_to_first_token_seconds_count{suite=\"calendar-"
				     "assistant\",stratum=\"prompt\",target=\"prod\"} 3\n"));
	assert_non_null(strstr(prom, "canary_time_to_first_token_max_seconds{suite=\"calendar-"
				     "assistant\",stratum=\"prompt\",target=\"prod\"} 0.06\n"));
	assert_null(strstr(prom, "first_token_seconds_count{suite=\"calendar-assistant\","
				 "stratum=\"tools\",target=\"eval\"}"));
	free(prom);
	report_free(r);
}

static void test_text_long_names_align(void **state)
{
	(void)state;
	struct report *r = test_report_fixture(BASIC);
	char *text;

	r->strata[1].name = "retrieval-and-long-context";
	text = render(r, false, false);
	assert_non_null(strstr(text, "  stratum                     cases  eval  prod  diff      p  verdict\n"));
	assert_non_null(strstr(text, "  tools                           2   2/2   1/2    -1      -  drift\n"));
	assert_non_null(strstr(text, "  retrieval-and-long-context      2   1/2   1/2     0  0.400  error\n"));
	assert_non_null(strstr(text, "  flaky  retrieval-and-long-context/refund-window  eval 3/3"));
	free(text);
	report_free(r);
}

static void test_verdict_lines(void **state)
{
	(void)state;
	static const char *const strata[] = {"tools", "prompt", "guardrails", NULL};
	char *line;

	/* Everything passes. */
	struct report *r = test_report_new("calendar-assistant", strata);
	size_t a = test_report_case(r, 0, "a", 1);
	test_report_sample(r, a, SIDE_EVAL, GRADE_PASS, NULL, NULL);
	test_report_sample(r, a, SIDE_PROD, GRADE_PASS, NULL, NULL);
	verdict_compute(r);
	line = render_verdict_line(r, false);
	assert_string_equal(line, "verdict: pass (exit 0)\n");
	free(line);
	line = render_verdict_line(r, true);
	assert_string_equal(line, "\033[1mverdict:\033[0m \033[32mpass\033[0m (exit 0)\n");
	free(line);

	/* Errors only. */
	size_t b = test_report_case(r, 1, "b", 1);
	test_report_sample(r, b, SIDE_EVAL, GRADE_ERROR, REASON_CONN, NULL);
	test_report_sample(r, b, SIDE_PROD, GRADE_ERROR, REASON_CONN, NULL);
	size_t c = test_report_case(r, 1, "c", 1);
	test_report_sample(r, c, SIDE_EVAL, GRADE_PASS, NULL, NULL);
	verdict_compute(r);
	line = render_verdict_line(r, false);
	assert_string_equal(line, "verdict: error — 2 cases could not be measured (exit 3)\n");
	free(line);

	/* Interrupted: case c never got its prod sample. */
	r->interrupted = true;
	verdict_compute(r);
	line = render_verdict_line(r, false);
	assert_string_equal(line, "verdict: interrupted after 2 of 3 cases — error; "
			    "2 cases could not be measured (exit 130)\n");
	free(line);
	report_free(r);

	/* A regression in two strata. */
	r = test_report_new("calendar-assistant", strata);
	a = test_report_case(r, 0, "a", 1);
	test_report_sample(r, a, SIDE_EVAL, GRADE_FAIL, "x", NULL);
	test_report_sample(r, a, SIDE_PROD, GRADE_FAIL, "y", NULL);
	b = test_report_case(r, 2, "b", 1);
	test_report_sample(r, b, SIDE_EVAL, GRADE_FAIL, "x", NULL);
	test_report_sample(r, b, SIDE_PROD, GRADE_FAIL, "y", NULL);
	c = test_report_case(r, 1, "c", 1);
	test_report_sample(r, c, SIDE_EVAL, GRADE_FAIL, "x", NULL);
	test_report_sample(r, c, SIDE_PROD, GRADE_PASS, NULL, NULL);
	verdict_compute(r);
	line = render_verdict_line(r, false);
	assert_string_equal(line, "verdict: regression in tools, guardrails (exit 1)\n");
	free(line);
	report_free(r);
}

static void test_text_durations(void **state)
{
	(void)state;
	static const struct {
		long ms;
		const char *text;
	} cases[] = {
		{0, ", 0 ms\n"},
		{850, ", 850 ms\n"},
		{999, ", 999 ms\n"},
		{1000, ", 1.0 s\n"},
		{1234, ", 1.2 s\n"},
		{59949, ", 59.9 s\n"},
		{59950, ", 1 m 0 s\n"},
		{123000, ", 2 m 3 s\n"},
		{3723000, ", 1 h 2 m\n"},
	};
	struct report *r = test_report_fixture(BASIC);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		r->duration_ms = cases[i].ms;
		char *text = render(r, false, false);
		char *eol = strchr(text, '\n');
		assert_non_null(eol);
		eol[1] = '\0';
		if (!strstr(text, cases[i].text))
			fail_msg("%ld ms: '%s' has no '%s'", cases[i].ms, text, cases[i].text);
		free(text);
	}
	report_free(r);
}

static const cJSON *get(const cJSON *o, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!item)
		fail_msg("no key '%s'", key);
	return item;
}

static double num(const cJSON *o, const char *key)
{
	const cJSON *item = get(o, key);
	assert_true(cJSON_IsNumber(item));
	return item->valuedouble;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *item = get(o, key);
	assert_true(cJSON_IsString(item));
	return item->valuestring;
}

static const cJSON *find_by(const cJSON *array, const char *key, const char *value)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, array)
		if (strcmp(str(item, key), value) == 0)
			return item;
	fail_msg("no element with %s '%s'", key, value);
	return NULL;
}

static cJSON *parse_report(const struct report *r)
{
	char *text = test_render(report_json, r);
	assert_non_null(text);
	cJSON *root = cJSON_Parse(text);
	if (!root)
		fail_msg("report is not JSON: %s", text);
	free(text);
	return root;
}

static void test_json_fields(void **state)
{
	(void)state;
	struct report *r = test_report_fixture(BASIC);
	cJSON *root = parse_report(r);

	assert_int_equal(num(root, "canary_report"), 1);
	assert_string_equal(str(root, "canary_version"), CANARY_VERSION);
	assert_string_equal(str(root, "suite"), "calendar-assistant");
	assert_string_equal(str(root, "started_at"), "2026-01-02T03:04:05Z");
	assert_int_equal(num(root, "duration_ms"), 1234);
	assert_string_equal(str(root, "verdict"), "drift");
	assert_int_equal(num(root, "exit_code"), 1);
	assert_true(cJSON_IsFalse(get(root, "interrupted")));
	assert_int_equal(num(root, "selected"), 4);
	assert_int_equal(num(root, "filtered"), 1);
	assert_int_equal(num(root, "samples"), 12);
	assert_int_equal(num(root, "requests"), 13);
	assert_int_equal(num(root, "attempts"), 15);
	assert_int_equal(num(root, "retries"), 2);

	const cJSON *targets = get(root, "targets");
	const cJSON *eval = get(targets, "eval");
	const cJSON *prod = get(targets, "prod");
	assert_string_equal(str(eval, "url"), "http://127.0.0.1:8081/v1/chat/completions");
	assert_string_equal(str(prod, "url"), "${env:PROD_URL}");
	assert_int_equal(num(get(eval, "fingerprints"), "sha256:ab12cd34ef56aa77bb88cc99"), 6);
	assert_int_equal(num(get(prod, "fingerprints"), "sha256:9f00"), 5);
	assert_int_equal(num(get(prod, "fingerprints"), "sha256:1234"), 1);
	assert_int_equal(cJSON_GetArraySize(get(prod, "fingerprints")), 2);

	const cJSON *strata = get(root, "strata");
	assert_int_equal(cJSON_GetArraySize(strata), 2);
	const cJSON *tools = cJSON_GetArrayItem(strata, 0);
	assert_string_equal(str(tools, "name"), "tools");
	assert_string_equal(str(tools, "description"), "tool schemas and descriptions");
	assert_int_equal(num(tools, "cases"), 2);
	assert_string_equal(str(tools, "verdict"), "drift");
	assert_int_equal(num(get(tools, "eval"), "passed"), 2);
	assert_int_equal(num(get(tools, "eval"), "total"), 2);
	assert_int_equal(num(get(tools, "prod"), "passed"), 1);
	assert_int_equal(num(get(tools, "prod"), "total"), 2);
	assert_int_equal(num(tools, "diff"), -1);
	const cJSON *counts = get(tools, "counts");
	assert_int_equal(cJSON_GetArraySize(counts), 2);
	assert_int_equal(num(counts, "pass"), 1);
	assert_int_equal(num(counts, "drift"), 1);
	const cJSON *prompt = cJSON_GetArrayItem(strata, 1);
	assert_string_equal(str(prompt, "name"), "prompt");
	assert_null(cJSON_GetObjectItemCaseSensitive(prompt, "description"));
	assert_int_equal(num(get(prompt, "counts"), "error"), 1);
	assert_int_equal(num(get(prompt, "counts"), "flaky"), 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(get(prompt, "counts"), "pass"));

	const cJSON *cases = get(root, "cases");
	assert_int_equal(cJSON_GetArraySize(cases), 4);
	assert_string_equal(str(cJSON_GetArrayItem(cases, 0), "id"), "book-meeting");
	assert_string_equal(str(cJSON_GetArrayItem(cases, 3), "id"), "greeting");

	const cJSON *book = find_by(cases, "id", "book-meeting");
	assert_string_equal(str(book, "stratum"), "tools");
	assert_string_equal(str(book, "verdict"), "drift");
	assert_int_equal(num(book, "repeat"), 1);
	assert_float_equal(num(book, "threshold"), 1.0, 0);
	const cJSON *bp = get(book, "prod");
	assert_int_equal(num(bp, "passed"), 0);
	assert_int_equal(num(bp, "total"), 1);
	assert_int_equal(num(bp, "errors"), 0);
	assert_float_equal(num(bp, "rate"), 0.0, 0);
	assert_int_equal(cJSON_GetArraySize(get(bp, "failures")), 1);
	assert_string_equal(cJSON_GetArrayItem(get(bp, "failures"), 0)->valuestring, REASON_TOOL);
	const cJSON *be = get(book, "eval");
	assert_int_equal(cJSON_GetArraySize(get(be, "failures")), 0);
	const cJSON *s0 = cJSON_GetArrayItem(get(be, "samples"), 0);
	assert_int_equal(num(s0, "index"), 0);
	assert_string_equal(str(s0, "grade"), "pass");
	assert_int_equal(num(s0, "status"), 200);
	assert_float_equal(num(s0, "latency_ms"), 100.0, 0);
	assert_int_equal(num(s0, "attempts"), 1);
	assert_int_equal(cJSON_GetArraySize(get(s0, "reasons")), 0);
	assert_string_equal(str(s0, "fingerprint"), "sha256:ab12cd34ef56aa77bb88cc99");
	const cJSON *ps0 = cJSON_GetArrayItem(get(bp, "samples"), 0);
	assert_null(cJSON_GetObjectItemCaseSensitive(ps0, "fingerprint"));
	assert_string_equal(str(ps0, "grade"), "fail");

	/* Unique reasons, in the order met. */
	const cJSON *refund = find_by(cases, "id", "refund-window");
	const cJSON *rp = get(refund, "prod");
	assert_int_equal(num(rp, "passed"), 1);
	assert_int_equal(num(rp, "failed"), 2);
	assert_int_equal(num(rp, "total"), 3);
	assert_float_equal(num(rp, "rate"), 0.3333, 0);
	const cJSON *failures = get(rp, "failures");
	assert_int_equal(cJSON_GetArraySize(failures), 2);
	assert_string_equal(cJSON_GetArrayItem(failures, 0)->valuestring, REASON_14);
	assert_string_equal(cJSON_GetArrayItem(failures, 1)->valuestring, REASON_LEN);
	const cJSON *samples = get(rp, "samples");
	assert_int_equal(cJSON_GetArraySize(samples), 3);
	const cJSON *s2 = cJSON_GetArrayItem(samples, 2);
	assert_int_equal(num(s2, "index"), 2);
	assert_float_equal(num(s2, "latency_ms"), 120.5, 0);
	assert_int_equal(cJSON_GetArraySize(get(s2, "reasons")), 2);

	const cJSON *greet = find_by(cases, "id", "greeting");
	assert_string_equal(str(greet, "verdict"), "error");
	const cJSON *ge = get(greet, "eval");
	assert_int_equal(num(ge, "errors"), 1);
	assert_int_equal(num(ge, "passed"), 0);
	assert_true(cJSON_IsFalse(get(ge, "measured")));
	assert_string_equal(cJSON_GetArrayItem(get(ge, "failures"), 0)->valuestring, REASON_CONN);
	const cJSON *gs = cJSON_GetArrayItem(get(ge, "samples"), 0);
	assert_string_equal(str(gs, "grade"), "error");
	assert_int_equal(num(gs, "status"), 0);
	assert_int_equal(num(gs, "attempts"), 3);

	cJSON_Delete(root);
	report_free(r);
}

static void test_json_limits_and_bad_bytes(void **state)
{
	(void)state;
	static char *const distinct[] = {"r1", "r2", "r3", "r4", "r5", "r6", "r7"};
	static const char *const strata[] = {"tools", "prompt", "guardrails", NULL};
	struct report *r = test_report_new("calendar-assistant", strata);
	size_t ci = test_report_case(r, 0, "many", 7);

	/* A sample that never finished is not in the report: six a side. */
	for (size_t k = 0; k + 1 < ARRAY_SIZE(distinct); k++) {
		test_report_sample(r, ci, SIDE_EVAL, GRADE_PASS, NULL, NULL);
		test_report_sample(r, ci, SIDE_PROD, GRADE_FAIL, distinct[k], "r1");
	}
	/* A truncated UTF-8 sequence and a lone continuation byte. */
	r->cases[ci].side[SIDE_PROD].samples[0].reasons[1] = "cut \xe2\x82 and \x80 end \xc3\xa9";
	r->interrupted = true;
	verdict_compute(r);

	cJSON *root = parse_report(r);
	assert_true(cJSON_IsTrue(get(root, "interrupted")));
	assert_int_equal(num(root, "exit_code"), 130);
	assert_int_equal(num(root, "filtered"), 0);
	const cJSON *prod = get(cJSON_GetArrayItem(get(root, "cases"), 0), "prod");
	const cJSON *failures = get(prod, "failures");
	assert_int_equal(cJSON_GetArraySize(failures), 5);
	assert_string_equal(cJSON_GetArrayItem(failures, 0)->valuestring, "r1");
	assert_string_equal(cJSON_GetArrayItem(failures, 1)->valuestring,
			    "cut \xef\xbf\xbd\xef\xbf\xbd and \xef\xbf\xbd end \xc3\xa9");
	assert_string_equal(cJSON_GetArrayItem(failures, 4)->valuestring, "r4");
	assert_int_equal(cJSON_GetArraySize(get(prod, "samples")), 6);
	/* Nothing of the other strata. */
	assert_int_equal(cJSON_GetArraySize(get(root, "strata")), 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(get(get(root, "targets"), "eval"),
						      "fingerprints")->child);
	cJSON_Delete(root);
	report_free(r);
}

/* read_fixture: the bytes of tests/fixtures/reports/NAME. */
static char *read_fixture(const char *name)
{
	char *path = xasprintf("%s/reports/%s", test_fixtures(), name);
	char *err = NULL;
	char *text = util_read_file(path, 1 << 24, NULL, &err);

	if (!text)
		fail_msg("%s", err);
	free(path);
	return text;
}

/* A saved report read into the model and written again is the same file,
 * byte for byte, and fields this canary does not know are ignored. */
static void test_model_round_trip(void **state)
{
	(void)state;
	static const char *const names[] = {"basic.json", "formats.json", "many.json",
					    "conversation.json"};
	char *err = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *text = read_fixture(names[i]);
		struct report *r = test_report_fixture(names[i]);
		char *again = test_render(report_json, r);
		assert_string_equal(again, text);
		free(again);
		report_free(r);
		free(text);
	}

	char *text = read_fixture("basic.json");
	cJSON *tree = cJSON_Parse(text);
	cJSON_AddStringToObject(tree, "future", "x");
	cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(tree, "cases"), 0);
	cJSON_AddItemToObject(c, "future", cJSON_CreateArray());
	cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "prod"),
							  "samples"), 0);
	cJSON_AddNumberToObject(s, "future", 2);
	char *edited = cJSON_Print(tree);
	struct report *r = report_parse("future.json", edited, strlen(edited), &err);
	if (!r)
		fail_msg("%s", err);
	char *again = test_render(report_json, r);
	assert_string_equal(again, text);
	free(again);
	report_free(r);
	free(edited);
	cJSON_Delete(tree);
	free(text);
}

/* A conversation's turns and steps: read back as written, merged, shown by
 * --verbose, and where eval and prod first diverge. */
static void test_conversation(void **state)
{
	(void)state;
	struct report *r = test_report_fixture("conversation.json");
	const struct report_case *c = &r->cases[0];
	const struct report_sample *p = &c->side[SIDE_PROD].samples[0];
	char *err = NULL;

	assert_string_equal(c->id, "book-then-thank");
	assert_int_equal(p->nturns, 2);
	assert_int_equal(p->turns[0].nsteps, 2);
	assert_int_equal(p->turns[0].steps[0].ncalls, 1);
	assert_string_equal(p->turns[0].steps[0].calls[0], "create_event");
	assert_int_equal(report_sample_steps(p), 3);
	assert_int_equal(report_sample_steps(&c->side[SIDE_EVAL].samples[0]), 4);
	char *why = report_case_divergence(c);
	assert_string_equal(why, "turn 1 step 1: eval called check_availability, prod called "
				 "create_event");
	free(why);
	/* Cases whose sides agree, or single requests, show none. */
	assert_null(report_case_divergence(&r->cases[1]));

	struct report_text_options o = {.verbose = true};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	report_text_with(f, r, &o);
	fclose(f);
	assert_non_null(strstr(text, "steps: turn 1: create_event > text; turn 2: text\n"));
	assert_non_null(strstr(text, "diverges at turn 1 step 1: eval called check_availability, "
				     "prod called create_event\n"));
	free(text);

	struct report *m = report_merge(&r, NULL, 1, 0, &err);
	if (!m)
		fail_msg("%s", err);
	report_free(r);
	why = report_case_divergence(&m->cases[0]);
	assert_non_null(why);
	free(why);
	report_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_golden),
		cmocka_unit_test(test_text_color_only_when_asked),
		cmocka_unit_test(test_text_verbose),
		cmocka_unit_test(test_telemetry_ttft),
		cmocka_unit_test(test_text_long_names_align),
		cmocka_unit_test(test_verdict_lines),
		cmocka_unit_test(test_text_durations),
		cmocka_unit_test(test_json_fields),
		cmocka_unit_test(test_json_limits_and_bad_bytes),
		cmocka_unit_test(test_model_round_trip),
		cmocka_unit_test(test_conversation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
