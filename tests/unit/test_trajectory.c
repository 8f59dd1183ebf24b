/* test_trajectory.c: the trajectory grader: orders, extra calls, argument
 * schemas, step limits, and the reasons naming the first differing step. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "grader.h"
#include "provider.h"
#include "support.h"
#include "util.h"

/* check: grade a reply whose tool calls are the names of calls (a space
 * separated list; "name:{json}" gives arguments, else {}) after steps
 * requests with the grader yaml; asserts the grade and reason (NULL:
 * none). */
static void check(const char *yaml, const char *calls, int steps, enum grade want,
		  const char *reason)
{
	struct grader *g = test_grader_must_compile(yaml, ".");
	struct reply r = {.status = 200, .content = xstrdup(""), .content_len = 0};
	char *list = xstrdup(calls), *save = NULL;
	for (char *tok = strtok_r(list, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *colon = strchr(tok, ':');
		cJSON *args = cJSON_CreateString(colon ? colon + 1 : "{}");
		if (colon)
			*colon = '\0';
		reply_add_tool_call(&r, NULL, tok, args);
		cJSON_Delete(args);
	}
	struct grade_input in = {.reply = &r, .case_id = "c", .target = "prod", .input = "hi",
				 .steps = steps};
	struct grade_result out;
	grader_run(g, &in, &out);
	if (out.grade != want || (reason && (!out.reason || strcmp(out.reason, reason) != 0)))
		fail_msg("%s on '%s': grade %d, expected %d\n  reason: %s\n  wanted: %s", yaml,
			 calls, out.grade, want, out.reason ? out.reason : "(none)",
			 reason ? reason : "(none)");
	grade_result_release(&out);
	reply_release(&r);
	free(list);
	grader_free(g);
}

static const char two[] = "trajectory: {calls: [check_availability, create_event]%s}";

/* with: the two-call grader with more options. */
static char *with(const char *options)
{
	return xasprintf(two, options);
}

static void test_exact(void **state)
{
	char *y = with("");
	check(y, "check_availability create_event", 3, GRADE_PASS, NULL);
	check(y, "create_event", 2, GRADE_FAIL,
	      "step 1: expected check_availability, got create_event");
	check(y, "check_availability", 2, GRADE_FAIL, "step 2: expected create_event, got no call");
	check(y, "check_availability create_event create_event", 4, GRADE_FAIL,
	      "step 3: expected no more calls, got create_event");
	check(y, "", 1, GRADE_FAIL, "step 1: expected check_availability, got no call");
	free(y);
}

static void test_in_order(void **state)
{
	char *y = with(", order: in_order");
	check(y, "list_events check_availability list_events create_event", 5, GRADE_PASS, NULL);
	check(y, "create_event check_availability", 3, GRADE_FAIL,
	      "step 3: expected create_event, got no call");
	check(y, "create_event", 2, GRADE_FAIL,
	      "step 1: expected check_availability, got create_event");
	free(y);
	y = with(", order: in_order, no_extra: true");
	check(y, "check_availability create_event", 3, GRADE_PASS, NULL);
	check(y, "check_availability list_events create_event", 4, GRADE_FAIL,
	      "step 2: unexpected call to list_events");
	free(y);
}

static void test_any(void **state)
{
	char *y = with(", order: any");
	check(y, "create_event check_availability", 3, GRADE_PASS, NULL);
	check(y, "create_event create_event", 3, GRADE_FAIL,
	      "no call to check_availability matches (2 calls)");
	free(y);
	y = with(", order: any, no_extra: true");
	check(y, "create_event delete_event check_availability", 3, GRADE_FAIL,
	      "step 2: unexpected call to delete_event");
	free(y);
}

static void test_arguments(void **state)
{
	const char *y = "trajectory: {calls: [{name: create_event, arguments: {required: [start]}}]}";
	check(y, "create_event:{\"start\":\"10:00\"}", 2, GRADE_PASS, NULL);
	check(y, "create_event:{\"minutes\":30}", 2, GRADE_FAIL,
	      "step 1: create_event arguments: /start: required property missing "
	      "(schema /required)");
	check(y, "create_event:{oops", 2, GRADE_FAIL,
	      "step 1: create_event arguments: arguments are not JSON");
	/* in_order skips a call whose arguments do not match. */
	y = "trajectory: {calls: [{name: create_event, arguments: {required: [start]}}], "
	    "order: in_order}";
	check(y, "create_event:{} create_event:{\"start\":\"x\"}", 3, GRADE_PASS, NULL);
}

static void test_max_steps(void **state)
{
	check("trajectory: {max_steps: 3}", "a b", 3, GRADE_PASS, NULL);
	check("trajectory: {max_steps: 3}", "a b c", 4, GRADE_FAIL,
	      "took 4 steps, more than max_steps 3");
	/* A single reply is one step. */
	check("trajectory: {max_steps: 1}", "a b", 0, GRADE_PASS, NULL);
	/* calls: [] is a trajectory without tool calls. */
	check("trajectory: {calls: []}", "", 1, GRADE_PASS, NULL);
	check("trajectory: {calls: []}", "a", 2, GRADE_FAIL, "step 1: expected no more calls, got a");
}

static void test_config_errors(void **state)
{
	test_grader_expect_error("trajectory: {order: exact}", ".",
				 "t.yaml:1:13: trajectory needs calls: [...] or max_steps");
	test_grader_expect_error("trajectory: {calls: [a], order: sorted}", ".",
				 "t.yaml:1:33: bad order 'sorted' (use exact, in_order or any)");
	test_grader_expect_error("trajectory: {calls: [a], max_steps: 0}", ".",
				 "t.yaml:1:37: max_steps must be a whole number from 1");
	test_grader_expect_error("trajectory: [a]", ".",
				 "t.yaml:1:13: trajectory takes {calls, order, no_extra, max_steps}");
	test_grader_expect_error("trajectory: {calls: [{nam: a}]}", ".",
				 "t.yaml:1:23: unknown key 'nam' in trajectory calls (did you mean "
				 "'name'?)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_any),
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_max_steps),
		cmocka_unit_test(test_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
