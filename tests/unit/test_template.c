/* test_template.c: ${...} substitution and the redact set. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "template.h"
#include "util.h"

#define TOKEN "tok-3f9a-secret-value"

static const struct tmpl_var two_vars[] = {{"a", "alpha"}, {"b", "beta"}};

/* A full target context over one user message. */
static void target_ctx(struct tmpl_ctx *ctx, cJSON **messages, struct redact *r)
{
	*messages = cJSON_Parse("[{\"role\":\"user\",\"content\":\"hi \\\"there\\\"\"}]");
	assert_non_null(*messages);
	*ctx = (struct tmpl_ctx){
		.allowed = TMPL_TARGET,
		.input = "hi \"there\"",
		.messages = *messages,
		.case_id = "book-meeting",
		.stratum = "tools",
		.vars = two_vars,
		.nvars = ARRAY_SIZE(two_vars),
		.redact = r,
	};
}

/* Render s in a target context; returns the result (caller frees) or NULL
 * with *err set. */
static char *render(const char *s, char **err)
{
	cJSON *messages;
	struct tmpl_ctx ctx;
	target_ctx(&ctx, &messages, NULL);
	char *out = template_render(s, &ctx, err);
	cJSON_Delete(messages);
	return out;
}

static void assert_renders(const char *s, const char *want)
{
	char *err = NULL;
	char *out = render(s, &err);
	if (!out)
		fail_msg("'%s' failed: %s", s, err);
	assert_string_equal(out, want);
	assert_null(err);
	free(out);
}

static void assert_fails(const char *s, const char *want)
{
	char *err = NULL;
	char *out = render(s, &err);
	if (out)
		fail_msg("'%s' rendered as '%s'", s, out);
	assert_non_null(err);
	assert_string_equal(err, want);
	free(err);
}

static int setup_env(void **state)
{
	(void)state;
	setenv("CANARY_TEST_TOKEN", TOKEN, 1);
	setenv("CANARY_TEST_EMPTY", "", 1);
	unsetenv("CANARY_TEST_UNSET");
	return 0;
}

static void test_names(void **state)
{
	(void)state;
	assert_renders("plain text", "plain text");
	assert_renders("", "");
	assert_renders("Bearer ${env:CANARY_TEST_TOKEN}", "Bearer " TOKEN);
	assert_renders("[${env:CANARY_TEST_EMPTY}]", "[]");
	assert_renders("say: ${input}", "say: hi \"there\"");
	assert_renders("m=${messages}", "m=[{\"role\":\"user\",\"content\":\"hi \\\"there\\\"\"}]");
	assert_renders("${messages}", "[{\"role\":\"user\",\"content\":\"hi \\\"there\\\"\"}]");
	assert_renders("canary-${case.id}", "canary-book-meeting");
	assert_renders("${stratum}/${case.id}", "tools/book-meeting");
	assert_renders("${vars.a}-${vars.b}-${vars.a}", "alpha-beta-alpha");
	assert_renders("${input}${input}", "hi \"there\"hi \"there\"");
}

static void test_escapes(void **state)
{
	(void)state;
	assert_renders("$${input}", "${input}");
	assert_renders("a $${env:CANARY_TEST_UNSET} b", "a ${env:CANARY_TEST_UNSET} b");
	assert_renders("costs $5", "costs $5");
	assert_renders("$", "$");
	assert_renders("$$", "$$");
	assert_renders("end $", "end $");
	assert_renders("$$$${x}", "$$${x}");
	assert_renders("$$${case.id}", "$${case.id}");
	assert_renders("{input} }", "{input} }");
	assert_renders("$${", "${");
}

static void test_errors(void **state)
{
	(void)state;
	assert_fails("x ${input", "unterminated '${'");
	assert_fails("${", "unterminated '${'");
	assert_fails("a ${} b", "empty name in '${}'");
	assert_fails("${inptu}", "unknown name '${inptu}' (did you mean '${input}'?)");
	assert_fails("${case_id}", "unknown name '${case_id}' (did you mean '${case.id}'?)");
	assert_fails("${env.CANARY_TEST_TOKEN}",
		     "unknown name '${env.CANARY_TEST_TOKEN}' (did you mean "
		     "'${env:CANARY_TEST_TOKEN}'?)");
	assert_fails("${var.a}", "unknown name '${var.a}' (did you mean '${vars.a}'?)");
	assert_fails("${zzzzzzzzzz}", "unknown name '${zzzzzzzzzz}' (names: env:NAME, input, "
				      "messages, case.id, stratum, vars.NAME, tools, session)");
	assert_fails("${tool}", "unknown name '${tool}' (did you mean '${tools}'?)");
	assert_fails("${vars.c}", "unknown var 'c' (case vars: a, b)");
	assert_fails("${vars.}", "empty var name in '${vars.}'");
	assert_fails("${env:CANARY_TEST_UNSET}",
		     "environment variable 'CANARY_TEST_UNSET' is not set");
	assert_fails("${env:1BAD}", "invalid environment variable name '1BAD'");
	assert_fails("${env:}", "invalid environment variable name ''");
	assert_fails("${env:A-B}", "invalid environment variable name 'A-B'");
	/* The first error wins, and later text is not looked at. */
	assert_fails("${vars.zz} ${", "unknown var 'zz' (case vars: a, b)");
}

static void test_long_name_is_cut(void **state)
{
	(void)state;
	char s[300];
	memset(s, 'q', sizeof(s));
	memcpy(s, "${", 2);
	s[sizeof(s) - 2] = '}';
	s[sizeof(s) - 1] = '\0';
	char *err = NULL;
	assert_null(render(s, &err));
	assert_non_null(err);
	assert_true(strlen(err) < 200);
	assert_non_null(strstr(err, "qqq...}'"));
	free(err);
}

static void test_not_allowed(void **state)
{
	(void)state;
	struct tmpl_ctx ctx = {
		.allowed = TMPL_CASE_STRING,
		.case_id = "c1",
		.stratum = "s",
	};
	char *err = NULL;
	assert_null(template_render("about ${input}", &ctx, &err));
	assert_string_equal(err, "'${input}' cannot be used in a case's own strings");
	free(err);
	err = NULL;
	assert_null(template_render("${messages}", &ctx, &err));
	assert_string_equal(err, "'${messages}' cannot be used in a case's own strings");
	free(err);
	err = NULL;
	assert_null(template_render("${vars.a}", &ctx, &err));
	assert_string_equal(err, "unknown var 'a' (the case has no vars)");
	free(err);

	char *out = template_render("${case.id} in ${stratum}", &ctx, &err);
	assert_string_equal(out, "c1 in s");
	free(out);

	ctx.allowed = TMPL_ENV;
	err = NULL;
	assert_null(template_render("${vars.a}", &ctx, &err));
	assert_string_equal(err, "'${vars.a}' cannot be used here");
	free(err);
	err = NULL;
	assert_null(template_render("${case.id}", &ctx, &err));
	assert_string_equal(err, "'${case.id}' cannot be used here");
	free(err);
	err = NULL;
	assert_null(template_render("${input}", &ctx, &err));
	assert_string_equal(err, "'${input}' cannot be used here");
	free(err);

	/* A var's value: a case string that cannot use vars either. */
	ctx.allowed = TMPL_ENV | TMPL_CASE;
	err = NULL;
	assert_null(template_render("${vars.a}", &ctx, &err));
	assert_string_equal(err, "'${vars.a}' cannot be used in a var's value");
	free(err);
	err = NULL;
	assert_null(template_render("${input}", &ctx, &err));
	assert_string_equal(err, "'${input}' cannot be used in a case's own strings");
	free(err);

	ctx.allowed = TMPL_CASE;
	err = NULL;
	assert_null(template_render("${env:CANARY_TEST_TOKEN}", &ctx, &err));
	assert_string_equal(err, "'${env:CANARY_TEST_TOKEN}' cannot be used here");
	assert_null(strstr(err, TOKEN));
	free(err);
}

static void test_env_values_are_redacted(void **state)
{
	(void)state;
	struct redact r = {0};
	cJSON *messages;
	struct tmpl_ctx ctx;
	target_ctx(&ctx, &messages, &r);
	char *err = NULL;
	char *out = template_render("Bearer ${env:CANARY_TEST_TOKEN}", &ctx, &err);
	assert_string_equal(out, "Bearer " TOKEN);
	assert_int_equal(r.n, 1);
	char *masked = redact_apply(&r, out);
	assert_string_equal(masked, "Bearer " REDACT_MASK);
	free(masked);
	free(out);
	/* Rendering again does not store the value twice. */
	out = template_render("${env:CANARY_TEST_TOKEN}", &ctx, &err);
	free(out);
	assert_int_equal(r.n, 1);
	/* An empty value is too short to be tracked. */
	out = template_render("${env:CANARY_TEST_EMPTY}", &ctx, &err);
	assert_string_equal(out, "");
	free(out);
	assert_int_equal(r.n, 1);
	/* A failing render never names a value. */
	out = template_render("${env:CANARY_TEST_TOKEN} ${nope}", &ctx, &err);
	assert_null(out);
	assert_null(strstr(err, TOKEN));
	free(err);
	cJSON_Delete(messages);
	redact_release(&r);
	assert_int_equal(r.n, 0);
}

static void test_render_json(void **state)
{
	(void)state;
	struct redact r = {0};
	cJSON *messages;
	struct tmpl_ctx ctx;
	target_ctx(&ctx, &messages, &r);
	cJSON *tmpl = cJSON_Parse(
		"{\"session\":\"canary-${case.id}\",\"${input}\":\"${input}\","
		"\"history\":\"${messages}\",\"text\":\"n=${messages}\","
		"\"auth\":\"${env:CANARY_TEST_TOKEN}\",\"n\":3,\"ok\":true,\"none\":null,"
		"\"list\":[\"${stratum}\",1.5,{\"deep\":[\"${vars.b}\",\"$${input}\"]}]}");
	assert_non_null(tmpl);
	char *err = NULL;
	cJSON *out = template_render_json(tmpl, &ctx, &err);
	assert_non_null(out);
	assert_null(err);
	char *text = cJSON_PrintUnformatted(out);
	assert_string_equal(
		text, "{\"session\":\"canary-book-meeting\",\"${input}\":\"hi \\\"there\\\"\","
		      "\"history\":[{\"role\":\"user\",\"content\":\"hi \\\"there\\\"\"}],"
		      "\"text\":\"n=[{\\\"role\\\":\\\"user\\\",\\\"content\\\":\\\"hi "
		      "\\\\\\\"there\\\\\\\"\\\"}]\","
		      "\"auth\":\"" TOKEN "\",\"n\":3,\"ok\":true,\"none\":null,"
		      "\"list\":[\"tools\",1.5,{\"deep\":[\"beta\",\"${input}\"]}]}");
	cJSON_free(text);
	/* The copy is deep: the messages array is not shared. */
	assert_true(cJSON_GetObjectItem(out, "history") != messages);
	assert_int_equal(r.n, 1);
	cJSON_Delete(out);

	/* An error anywhere in the tree fails the whole copy. */
	cJSON *bad = cJSON_Parse("{\"a\":[\"ok\",{\"b\":\"${vars.nope}\"}]}");
	assert_null(template_render_json(bad, &ctx, &err));
	assert_string_equal(err, "unknown var 'nope' (case vars: a, b)");
	free(err);
	cJSON_Delete(bad);

	/* ${messages} as a whole string still obeys the allowed names. */
	ctx.allowed = TMPL_CASE_STRING;
	err = NULL;
	bad = cJSON_Parse("[\"${messages}\"]");
	assert_null(template_render_json(bad, &ctx, &err));
	assert_string_equal(err, "'${messages}' cannot be used in a case's own strings");
	free(err);
	cJSON_Delete(bad);

	/* Without messages in the context, ${messages} is an empty array. */
	ctx.allowed = TMPL_TARGET;
	ctx.messages = NULL;
	cJSON *one = cJSON_Parse("{\"m\":\"${messages}\"}");
	out = template_render_json(one, &ctx, &err);
	text = cJSON_PrintUnformatted(out);
	assert_string_equal(text, "{\"m\":[]}");
	cJSON_free(text);
	cJSON_Delete(out);
	cJSON_Delete(one);

	cJSON_Delete(tmpl);
	cJSON_Delete(messages);
	redact_release(&r);
}

/* ${tools} is the case's tools as JSON, only where a context allows it (a
 * target's body); a string that is exactly "${tools}" is the array. */
static void test_tools(void **state)
{
	(void)state;
	cJSON *messages;
	struct tmpl_ctx ctx;
	char *err = NULL;
	target_ctx(&ctx, &messages, NULL);
	assert_null(template_render("${tools}", &ctx, &err));
	assert_string_equal(err, "'${tools}' can only be used in a target's body");
	free(err);
	err = NULL;
	cJSON *tmpl = cJSON_Parse("{\"tools\":\"${tools}\",\"text\":\"t=${tools}\"}");
	assert_null(template_render_json(tmpl, &ctx, &err));
	assert_string_equal(err, "'${tools}' can only be used in a target's body");
	free(err);
	err = NULL;

	ctx.allowed |= TMPL_TOOLS;
	char *out = template_render("t=${tools}", &ctx, &err);
	assert_string_equal(out, "t=[]");
	free(out);
	cJSON *tools = cJSON_Parse("[{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}]");
	ctx.tools = tools;
	cJSON *body = template_render_json(tmpl, &ctx, &err);
	assert_non_null(body);
	assert_true(cJSON_Compare(cJSON_GetObjectItem(body, "tools"), tools, true));
	assert_true(cJSON_GetObjectItem(body, "tools") != tools);
	assert_string_equal(cJSON_GetObjectItem(body, "text")->valuestring,
			    "t=[{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}]");
	assert_true(template_uses("x${tools}", TMPL_TOOLS));
	assert_false(template_uses("x${tools}", TMPL_TARGET));
	cJSON_Delete(body);
	cJSON_Delete(tools);
	cJSON_Delete(tmpl);
	cJSON_Delete(messages);
}

static void test_uses(void **state)
{
	(void)state;
	assert_true(template_uses_env("http://${env:HOST}/v1"));
	assert_true(template_uses_env("a $${x} ${env:B}"));
	assert_false(template_uses_env("$${env:HOST}"));
	assert_false(template_uses_env("${input} ${vars.env}"));
	assert_false(template_uses_env("${env:HOST"));
	assert_false(template_uses_env("no templates"));
	assert_true(template_uses("${vars.a}", TMPL_VARS));
	assert_false(template_uses("${vars.a}", TMPL_ENV | TMPL_INPUT | TMPL_CASE));
	assert_true(template_uses("x${messages}", TMPL_INPUT));
	assert_true(template_uses("${input}", TMPL_INPUT));
	assert_false(template_uses("${inputs}", TMPL_INPUT));
	assert_true(template_uses("${stratum}", TMPL_CASE));
	assert_true(template_uses("${case.id}", TMPL_CASE));
	assert_false(template_uses("$${case.id}", TMPL_CASE));
}

static void test_check(void **state)
{
	(void)state;
	struct redact r = {0};
	struct tmpl_ctx target = {.allowed = TMPL_TARGET, .redact = &r};
	struct tmpl_ctx env = {.allowed = TMPL_ENV};
	char *err = NULL;
	assert_int_equal(template_check("${vars.anything} ${input} ${messages} ${case.id}",
					&target, &err), 0);
	assert_int_equal(template_check("Bearer ${env:CANARY_TEST_TOKEN}", &target, &err), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.secrets[0], TOKEN);
	assert_int_equal(template_check("${env:CANARY_TEST_UNSET}", &target, &err), -1);
	assert_string_equal(err, "environment variable 'CANARY_TEST_UNSET' is not set");
	free(err);
	err = NULL;
	assert_int_equal(template_check("${input}", &env, &err), -1);
	assert_string_equal(err, "'${input}' cannot be used here");
	free(err);
	err = NULL;
	assert_int_equal(template_check("${vars.", &target, &err), -1);
	assert_string_equal(err, "unterminated '${'");
	free(err);
	redact_release(&r);
}

/* ${env:NAME:-default}: the default when NAME is unset or empty, as in the
 * shell; an env value is a secret, a default is not. */
static void test_env_default(void **state)
{
	(void)state;
	struct redact r = {0};
	struct tmpl_ctx ctx = {.allowed = TMPL_ENV, .redact = &r};
	char *err = NULL;
	char *out = template_render("${env:CANARY_TEST_UNSET:-http://127.0.0.1:9/v1}", &ctx, &err);
	assert_string_equal(out, "http://127.0.0.1:9/v1");
	free(out);
	out = template_render("[${env:CANARY_TEST_EMPTY:-x}][${env:CANARY_TEST_UNSET:-}]", &ctx,
			      &err);
	assert_string_equal(out, "[x][]");
	free(out);
	out = template_render("${env:CANARY_TEST_TOKEN:-fallback}", &ctx, &err);
	assert_string_equal(out, TOKEN);
	free(out);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.secrets[0], TOKEN);
	assert_null(template_render("${env::-x}", &ctx, &err));
	assert_string_equal(err, "invalid environment variable name ''");
	free(err);
	redact_release(&r);
}

/* With ctx->unset, an unset variable is collected (once) instead of
 * failing, and renders as nothing. */
static void test_env_unset_collected(void **state)
{
	(void)state;
	struct tmpl_unset unset = {0};
	struct tmpl_ctx ctx = {.allowed = TMPL_ENV, .unset = &unset};
	char *err = NULL;
	char *out = template_render("a${env:CANARY_TEST_UNSET}b${env:CANARY_TEST_UNSET}c", &ctx,
				    &err);
	assert_string_equal(out, "abc");
	free(out);
	assert_int_equal(unset.n, 1);
	assert_string_equal(unset.names[0], "CANARY_TEST_UNSET");
	assert_int_equal(template_check("${env:CANARY_TEST_UNSET2}", &ctx, &err), 0);
	assert_int_equal(unset.n, 2);
	tmpl_unset_release(&unset);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_long_name_is_cut),
		cmocka_unit_test(test_not_allowed),
		cmocka_unit_test(test_env_values_are_redacted),
		cmocka_unit_test(test_render_json),
		cmocka_unit_test(test_tools),
		cmocka_unit_test(test_uses),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_env_default),
		cmocka_unit_test(test_env_unset_collected),
	};
	return cmocka_run_group_tests(tests, setup_env, NULL);
}
