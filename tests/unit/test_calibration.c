/* test_calibration.c: labels loaded with their errors' positions, judged by
 * a stub judge on loopback through the grading module, and counted per
 * rubric. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "run/calibration.h"
#include "run/grading.h"
#include "stub/stub.h"
#include "suite/suite.h"
#include "transport/transport.h"
#include "util.h"

/* The judge passes replies that say "30 days", and gives no verdict for
 * GARBLED ones. */
static const char judge_script[] =
	"rules:\n"
	"  - match: '(?s)<reply>\\nGARBLED'\n"
	"    reply: I think it is fine\n"
	"  - match: '(?s)<reply>.*30 days.*</reply>'\n"
	"    reply: '{\"pass\": true, \"score\": 0.9, \"reason\": \"states 30 days\"}'\n"
	"  - reply: '{\"pass\": false, \"score\": 0.1, \"reason\": \"no window\"}'\n";

static const char suite_yaml[] =
	"version: 1\n"
	"name: calibration\n"
	"targets:\n"
	"  eval: {url: 'http://127.0.0.1:9/v1/chat/completions'}\n"
	"  prod: {url: 'http://127.0.0.1:9/v1/chat/completions'}\n"
	"judge: {url: '${env:CALIBRATION_JUDGE_URL}/v1/chat/completions', model: m}\n"
	"graders:\n"
	"  window: {judge: States that refunds are accepted within 30 days.}\n"
	"strata:\n"
	"  s:\n"
	"    cases:\n"
	"      - id: refund\n"
	"        input: What is your refund window?\n"
	"        expect: [{regex: days}, {use: window}, {judge: Is polite.}]\n"
	"      - id: plain\n"
	"        input: Hello\n"
	"        expect: [{regex: hi}]\n";

struct world {
	struct stub *judge;
	struct suite *suite;
};

static int setup(void **state)
{
	struct world *w = xcalloc(1, sizeof(*w));
	char *err = NULL;
	struct stub_script *sc = stub_script_load_buffer("judge.yaml", judge_script,
							 strlen(judge_script), &err);
	assert_non_null(sc);
	struct stub_options so = {.host = "127.0.0.1", .seed = 1};
	if (!(w->judge = stub_start(sc, &so, &err)))
		fail_msg("%s", err);
	char *url = xasprintf("http://127.0.0.1:%d", stub_port(w->judge));
	setenv("CALIBRATION_JUDGE_URL", url, 1);
	free(url);
	w->suite = suite_load_buffer("suite.yaml", suite_yaml, strlen(suite_yaml), NULL, &err);
	if (!w->suite)
		fail_msg("%s", err);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	stub_stop(w->judge);
	suite_free(w->suite);
	free(w);
	return 0;
}

static struct calibration *load(struct world *w, const char *yaml, char **err)
{
	*err = NULL;
	return calibration_load(w->suite, "labels.yaml", yaml, strlen(yaml), err);
}

static void expect_error(struct world *w, const char *yaml, const char *want)
{
	char *err = NULL;
	struct calibration *cal = load(w, yaml, &err);
	if (cal)
		fail_msg("labels loaded, expected: %s", want);
	assert_non_null(err);
	assert_string_equal(err, want);
	free(err);
}

static void test_load_errors(void **state)
{
	struct world *w = *state;
	expect_error(w, "[]\n",
		     "labels.yaml: the labels must be a non-empty list of {case, reply, human}");
	expect_error(w, "- {case: refnd, reply: x, human: pass}\n",
		     "labels.yaml:1:10: no case 'refnd' in the suite (did you mean 'refund'?)");
	expect_error(w, "- {case: plain, reply: x, human: pass}\n",
		     "labels.yaml:1:10: case 'plain' has no judge grader");
	expect_error(w, "- {case: refund, reply: x, human: error}\n",
		     "labels.yaml:1:35: 'human' must be pass or fail");
	expect_error(w, "- {case: refund, reply: x, humn: pass}\n",
		     "labels.yaml:1:28: unknown key 'humn' in a label (did you mean 'human'?)");
	expect_error(w, "- {case: refund, human: pass}\n",
		     "labels.yaml:1:3: a label needs a 'reply' or a 'reply_file'");
	expect_error(w, "- {case: refund, reply: x, human: pass, tool_calls: [{args: 1}]}\n",
		     "labels.yaml:1:55: unknown key 'args' in a tool call (keys: name, "
		     "arguments, id)");
}

/* Each label is judged by every judge grader of its case, counted into
 * that grader's rubric; reasons come back masked and on one line. */
static void test_judge(void **state)
{
	struct world *w = *state;
	static const char labels[] =
		"- {case: refund, reply: Refunds within 30 days., human: pass}\n"
		"- {case: refund, reply: No refunds., human: pass}\n"
		"- {case: refund, reply: GARBLED, human: fail}\n";
	char *err = NULL, *warning = NULL;
	struct calibration *cal = load(w, labels, &err);
	if (!cal)
		fail_msg("%s", err);
	assert_int_equal(cal->nlabels, 3);
	assert_int_equal(cal->njudgements, 6);
	assert_int_equal(cal->ngroups, 2);
	assert_string_equal(cal->groups[0].title, "window");
	assert_string_equal(cal->groups[1].title, "\"Is polite.\"");

	struct transport_options to;
	transport_options_default(&to);
	struct grading_options go = {.no_judge_cache = true};
	long before = stub_requests(w->judge);
	assert_int_equal(calibration_judge(cal, &to, &go, &warning, &err), 0);
	assert_null(warning);
	assert_int_equal(stub_requests(w->judge) - before, 6);
	assert_int_equal(cal->judge_calls, 6);
	assert_int_equal(cal->judge_cache_hits, 0);
	for (size_t g = 0; g < 2; g++) {
		const struct calibration_group *gr = &cal->groups[g];
		assert_int_equal(gr->c.n[0][0], 1); /* judge pass, human pass */
		assert_int_equal(gr->c.n[1][0], 1); /* judge fail, human pass */
		assert_int_equal(gr->c.n[0][1] + gr->c.n[1][1], 0);
		assert_int_equal(gr->errors, 1);
	}
	/* Judgements keep label order, and each label's graders' order. */
	const struct calibration_judgement *j = cal->judgements;
	assert_ptr_equal(j[0].label, &cal->labels[0]);
	assert_int_equal(j[0].group, 0);
	assert_int_equal(j[1].group, 1);
	assert_int_equal(j[2].grade, GRADE_FAIL);
	assert_string_equal(j[2].reason, "score 0.10: no window");
	assert_int_equal(j[4].grade, GRADE_ERROR);
	assert_non_null(strstr(j[4].reason, "no JSON verdict"));
	calibration_free(cal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_judge),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
