/* test_graders.c: the grader framework (entries, on:, reasons) and each
 * grader's passes, failures and suite errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graders/common.h"
#include "support.h"
#include "provider.h"
#include "redact.h"
#include "rx.h"
#include "util.h"
#include "ynode.h"

static struct grader *must_compile(const char *yaml)
{
	return test_grader_must_compile(yaml, ".");
}

static void expect_suite_error(const char *yaml, const char *want)
{
	test_grader_expect_error(yaml, ".", want);
}

/* grade_reply: run g on a reply with this content, raw body and latency. */
static void grade_reply(const struct grader *g, const char *content, const char *raw,
			double latency_ms, enum grade want, const char *reason)
{
	struct reply r = { .status = 200, .latency_ms = latency_ms };
	r.content = content ? xstrdup(content) : NULL;
	r.content_len = content ? strlen(content) : 0;
	if (raw) {
		r.raw = xstrdup(raw);
		r.raw_len = strlen(raw);
	}
	struct grade_input in = { .reply = &r, .case_id = "c1", .target = "eval", .input = "hi" };
	struct grade_result out;
	grader_run(g, &in, &out);
	if (out.grade != want)
		fail_msg("grade %d, expected %d (reason: %s)", out.grade, want,
			 out.reason ? out.reason : "none");
	if (reason) {
		assert_non_null(out.reason);
		assert_string_equal(out.reason, reason);
	} else {
		assert_null(out.reason);
	}
	if (want == GRADE_PASS)
		assert_true(out.score == 1.0);
	else
		assert_true(out.score == 0.0);
	grade_result_release(&out);
	assert_null(out.reason);
	free(r.content);
	free(r.raw);
}

static void check(const char *yaml, const char *content, enum grade want, const char *reason)
{
	struct grader *g = must_compile(yaml);
	grade_reply(g, content, NULL, 100, want, reason);
	grader_free(g);
}

/* run_reason: the reason (caller frees) of g on content, asserting grade. */
static char *run_reason(const struct grader *g, const char *content, size_t len,
			enum grade want)
{
	struct reply r = { .status = 200 };
	r.content = xmalloc(len + 1);
	memcpy(r.content, content, len);
	r.content[len] = '\0';
	r.content_len = len;
	struct grade_input in = { .reply = &r };
	struct grade_result out;
	grader_run(g, &in, &out);
	free(r.content);
	assert_int_equal(out.grade, want);
	return out.reason;
}

static void test_table(void **state)
{
	static const char *const names[] = {
		"regex", "not_regex", "contains", "not_contains", "equals", "max_latency", "max_ttft",
	};
	size_t n = 0;
	for (; grader_table[n]; n++) {
		assert_non_null(grader_table[n]->name);
		assert_true(grader_table[n]->grade || (grader_table[n]->start && grader_table[n]->finish));
		assert_ptr_equal(grader_find(grader_table[n]->name), grader_table[n]);
	}
	assert_true(n >= ARRAY_SIZE(names));
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const struct grader_ops *o = grader_find(names[i]);
		assert_non_null(o);
		assert_string_equal(o->name, names[i]);
	}
	assert_ptr_equal(grader_find("regex"), &grader_regex);
	assert_ptr_equal(grader_find("max_latency"), &grader_max_latency);
	assert_null(grader_find("use"));
	assert_null(grader_find("on"));
	assert_null(grader_find("Regex"));
	assert_null(grader_find(""));
	assert_null(grader_find(NULL));
}

/* Grade names: one table, read both ways, as reports and history store them. */
static void test_grade_names(void **state)
{
	static const char *const names[] = {"pass", "fail", "error"};
	for (int g = GRADE_PASS; g <= GRADE_ERROR; g++) {
		enum grade back = GRADE_PASS;
		assert_string_equal(grade_name((enum grade)g), names[g]);
		assert_int_equal(grade_parse(names[g], &back), 0);
		assert_int_equal(back, g);
	}
	assert_string_equal(grade_name((enum grade)7), "error");
	enum grade untouched = GRADE_FAIL;
	assert_int_equal(grade_parse("Pass", &untouched), -1);
	assert_int_equal(grade_parse("", &untouched), -1);
	assert_int_equal(grade_parse(NULL, &untouched), -1);
	assert_int_equal(untouched, GRADE_FAIL);
}

static void test_entry_fields(void **state)
{
	struct grader *g = must_compile("\n  regex: x\n  on: raw\n");
	assert_ptr_equal(g->ops, &grader_regex);
	assert_string_equal(g->label, "regex");
	assert_int_equal(g->line, 2);
	assert_int_equal(g->col, 3);
	assert_int_equal(g->on, GRADER_ON_RAW);
	assert_null(g->on_pointer);
	grader_free(g);

	g = must_compile("{contains: a, on: /answer/0}");
	assert_int_equal(g->on, GRADER_ON_POINTER);
	assert_string_equal(g->on_pointer, "/answer/0");
	grader_free(g);

	g = must_compile("{on: content, equals: a}");
	assert_ptr_equal(g->ops, &grader_equals);
	assert_int_equal(g->on, GRADER_ON_CONTENT);
	grader_free(g);
	grader_free(NULL);
}

static void test_entry_errors(void **state)
{
	expect_suite_error("regex", "t.yaml:1:1: grader entry must be a mapping such as "
			   "{regex: ...}, not a scalar");
	expect_suite_error("[regex, x]", "t.yaml:1:1: grader entry must be a mapping such as "
			   "{regex: ...}, not a list");
	expect_suite_error("{on: raw}", "t.yaml:1:1: grader entry names no grader (one of regex, "
			   "not_regex, contains, not_contains, equals, max_latency, max_ttft, judge, json_schema, tool_call, no_tool_call, trajectory, exec, use)");
	expect_suite_error("{}", "t.yaml:1:1: grader entry names no grader (one of regex, "
			   "not_regex, contains, not_contains, equals, max_latency, max_ttft, judge, json_schema, tool_call, no_tool_call, trajectory, exec, use)");
	expect_suite_error("regex: a\ncontains: b\n",
			   "t.yaml:2:1: grader entry has two graders, 'regex' and 'contains'");
	expect_suite_error("{regex: a, use: b}",
			   "t.yaml:1:12: grader entry has two graders, 'regex' and 'use'");
	expect_suite_error("{regx: a}", "t.yaml:1:2: unknown grader 'regx' (did you mean 'regex'?)");
	expect_suite_error("{not_contain: a}",
			   "t.yaml:1:2: unknown grader 'not_contain' (did you mean 'not_contains'?)");
	expect_suite_error("{uses: a}", "t.yaml:1:2: unknown grader 'uses' (did you mean 'use'?)");
	expect_suite_error("{regex: a, onn: raw}",
			   "t.yaml:1:12: unknown grader 'onn' (did you mean 'on'?)");
	expect_suite_error("{frobnicate: 1}", "t.yaml:1:2: unknown grader 'frobnicate'");
	expect_suite_error("{use: no-pii}", "t.yaml:1:2: 'use' is not allowed here");
}

static void test_on_errors(void **state)
{
	expect_suite_error("{regex: a, on: body}", "t.yaml:1:16: bad 'on' value 'body': expected "
			   "content, raw or a JSON pointer such as /answer");
	expect_suite_error("{regex: a, on: answer}", "t.yaml:1:16: bad 'on' value 'answer': "
			   "expected content, raw or a JSON pointer such as /answer");
	expect_suite_error("{regex: a, on: /a~2b}", "t.yaml:1:16: bad JSON pointer '/a~2b' in "
			   "'on' (write '~' as ~0 and '/' inside a key as ~1)");
	expect_suite_error("{regex: a, on: [raw]}", "t.yaml:1:16: 'on' must be content, raw or a "
			   "JSON pointer such as /answer");
	expect_suite_error("{regex: a, on: }", "t.yaml:1:16: 'on' must be content, raw or a "
			   "JSON pointer such as /answer");
	expect_suite_error("{max_latency: 2s, on: raw}",
			   "t.yaml:1:23: max_latency grades the whole reply and takes no 'on'");
}

static void test_on_raw_and_content(void **state)
{
	const char *raw = "{\"choices\": [{\"message\": {\"content\": \"hello\"}}]}";
	struct grader *g = must_compile("{contains: choices, on: raw}");
	grade_reply(g, "hello", raw, 10, GRADE_PASS, NULL);
	grader_free(g);

	g = must_compile("{contains: choices}");
	grade_reply(g, "hello", raw, 10, GRADE_FAIL, "missing \"choices\"");
	grader_free(g);

	g = must_compile("{contains: hello, on: content}");
	grade_reply(g, "hello", raw, 10, GRADE_PASS, NULL);
	grader_free(g);

	/* No content and no raw body grade as empty text. */
	g = must_compile("{equals: ''}");
	grade_reply(g, NULL, NULL, 10, GRADE_PASS, NULL);
	grader_free(g);
	g = must_compile("{regex: x, on: raw}");
	grade_reply(g, "x", NULL, 10, GRADE_FAIL, "no match for /x/ in \"\"");
	grader_free(g);
}

static void test_on_pointer(void **state)
{
	const char *doc = "{\"answer\": \"30 days\", \"n\": 3, \"ok\": true, "
			  "\"obj\": {\"a\": [1, \"two\"]}, \"multi\": \"line one\\nline two\"}";
	check("{contains: 30 days, on: /answer}", doc, GRADE_PASS, NULL);
	check("{equals: '30 days', on: /answer}", doc, GRADE_PASS, NULL);
	check("{equals: '3', on: /n}", doc, GRADE_PASS, NULL);
	check("{equals: 'true', on: /ok}", doc, GRADE_PASS, NULL);
	check("{equals: '{\"a\":[1,\"two\"]}', on: /obj}", doc, GRADE_PASS, NULL);
	check("{equals: two, on: /obj/a/1}", doc, GRADE_PASS, NULL);
	check("{contains: 14 days, on: /answer}", doc, GRADE_FAIL, "missing \"14 days\"");
	check("{regex: '^line two$', on: /multi}", doc, GRADE_FAIL,
	      "no match for /^line two$/ in \"line one line two\"");
	check("{regex: {pattern: '^line two$', flags: m}, on: /multi}", doc, GRADE_PASS, NULL);
	check("{contains: x, on: /missing}", doc, GRADE_FAIL, "/missing not found in content");
	check("{contains: x, on: /obj/a/2}", doc, GRADE_FAIL, "/obj/a/2 not found in content");
	check("{contains: x, on: /answer}", "The answer is 30 days.", GRADE_FAIL,
	      "content is not JSON");
	check("{contains: x, on: /answer}", "", GRADE_FAIL, "content is not JSON");
	check("{contains: x, on: /answer}", "{\"answer\": \"x\"", GRADE_FAIL,
	      "content is not JSON");
	check("{not_contains: x, on: /a}", "[1, 2]", GRADE_FAIL, "/a not found in content");
}

/* A plain null where a string is expected is an error, never the text
 * "null" or "~"; quoted, it is that text. */
static void test_null_configs(void **state)
{
	static const struct {
		const char *yaml;
		const char *want;
	} cases[] = {
		{"equals: null", "t.yaml:1:9: equals value must be a string, not null (quote it to "
				 "mean the text 'null')"},
		{"equals: ~", "t.yaml:1:9: equals value must be a string, not null (quote it to "
			      "mean the text '~')"},
		{"equals: {value: NULL}", "t.yaml:1:17: equals value must be a string, not null "
					  "(quote it to mean the text 'NULL')"},
		{"contains: [a, ~]", "t.yaml:1:15: contains value must be a string, not null "
				     "(quote it to mean the text '~')"},
		{"not_contains: Null", "t.yaml:1:15: not_contains value must be a string, not null "
				       "(quote it to mean the text 'Null')"},
		{"contains: {value: [x, null]}", "t.yaml:1:23: contains value must be a string, "
						 "not null (quote it to mean the text 'null')"},
		{"regex: null", "t.yaml:1:8: regex pattern must be a string, not null (quote it "
				"to mean the text 'null')"},
		{"not_regex: {pattern: '\\d', flags: ~}", "t.yaml:1:35: regex flags must be a "
				"string, not null (quote it to mean the text '~')"},
		{"no_tool_call: [x, ~]", "t.yaml:1:19: tool name must be a string, not null (quote "
					 "it to mean the text '~')"},
		{"no_tool_call: [null]", "t.yaml:1:16: tool name must be a string, not null (quote "
					 "it to mean the text 'null')"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_suite_error(cases[i].yaml, cases[i].want);
	check("equals: 'null'", "null", GRADE_PASS, NULL);
	check("equals: \"~\"", "~", GRADE_PASS, NULL);
	check("contains: [a, '~']", "a ~", GRADE_PASS, NULL);
	check("not_contains: 'null'", "null", GRADE_FAIL, "contains \"null\"");
}

/* on: a pointer reads the content with the replies' parser, so an escaped
 * NUL does not hide the rest of a string. */
static void test_on_pointer_nul_escape(void **state)
{
	const char *doc = "{\"a\": \"ok\\u0000 your SSN is 123-45-6789\"}";
	check("{equals: \"ok\\uFFFD your SSN is 123-45-6789\", on: /a}", doc, GRADE_PASS, NULL);
	check("{not_contains: 123-45-6789, on: /a}", doc, GRADE_FAIL,
	      "contains \"123-45-6789\"");
}

static void test_regex(void **state)
{
	check("regex: '\\b30 days\\b'", "Refunds are accepted within 30 days.", GRADE_PASS, NULL);
	check("regex: '\\b30 days\\b'", "Refunds are accepted within 14 days.", GRADE_FAIL,
	      "no match for /\\b30 days\\b/ in \"Refunds are accepted within 14 days.\"");
	check("regex: '\\b30 days\\b'", "within 130 days", GRADE_FAIL,
	      "no match for /\\b30 days\\b/ in \"within 130 days\"");
	check("regex: '^a.c$'", "line\nabc\n", GRADE_FAIL,
	      "no match for /^a.c$/ in \"line abc \"");
	check("regex: refund", "", GRADE_FAIL, "no match for /refund/ in \"\"");
	check("regex: 30", "30 days", GRADE_PASS, NULL);
}

static void test_regex_flags(void **state)
{
	check("regex: {pattern: '^refund'}", "Hello\nREFUND ok", GRADE_FAIL,
	      "no match for /^refund/ in \"Hello REFUND ok\"");
	check("regex: {pattern: '^refund', flags: i}", "Hello\nREFUND ok", GRADE_FAIL,
	      "no match for /^refund/ in \"Hello REFUND ok\"");
	check("regex: {pattern: '^refund', flags: m}", "Hello\nREFUND ok", GRADE_FAIL,
	      "no match for /^refund/ in \"Hello REFUND ok\"");
	check("regex: {pattern: '^refund', flags: im}", "Hello\nREFUND ok", GRADE_PASS, NULL);
	check("regex: {pattern: 'a.b'}", "a\nb", GRADE_FAIL, "no match for /a.b/ in \"a b\"");
	check("regex: {pattern: 'a.b', flags: s}", "a\nb", GRADE_PASS, NULL);
	check("regex: {pattern: 'A.B$', flags: ims}", "x\na\nb\ny", GRADE_PASS, NULL);
	check("regex: {pattern: x, flags: ''}", "x", GRADE_PASS, NULL);
}

static void test_regex_errors(void **state)
{
	expect_suite_error("regex: '('", "t.yaml:1:8: bad regex '(' at offset 1: "
			   "missing closing parenthesis");
	expect_suite_error("not_regex: 'a)'", "t.yaml:1:12: bad regex 'a)' at offset 1: "
			   "unmatched closing parenthesis");
	expect_suite_error("regex: {pattern: '[a-'}", "t.yaml:1:18: bad regex '[a-' at offset 3: "
			   "missing terminating ] for character class");
	expect_suite_error("regex: {pattern: a, flags: ix}",
			   "t.yaml:1:28: unknown regex flag 'x' (use i, m or s)");
	expect_suite_error("not_regex: {pattern: a, flags: g}",
			   "t.yaml:1:32: unknown not_regex flag 'g' (use i, m or s)");
	expect_suite_error("regex: {pattern: a, flag: i}",
			   "t.yaml:1:21: unknown key 'flag' in regex (did you mean 'flags'?)");
	expect_suite_error("regex: {flags: i}", "t.yaml:1:8: regex needs a pattern");
	expect_suite_error("regex:", "t.yaml:1:7: regex pattern is missing");
	expect_suite_error("regex: ''", "t.yaml:1:8: regex pattern is empty");
	expect_suite_error("regex: [a, b]", "t.yaml:1:8: regex pattern must be a string, not a list");
	/* The YAML reader refuses a NUL; a node made otherwise is checked too. */
	char *err = NULL;
	const char *yaml = "regex: \"a\\0b\"";
	assert_null(ydoc_parse("t.yaml", yaml, strlen(yaml), &err));
	assert_string_equal(err, "t.yaml:1:8: NUL characters are not allowed");
	free(err);
	struct ynode nul = { .kind = YNODE_SCALAR, .file = "t.yaml", .line = 1, .col = 8,
			     .str = "a\0b", .len = 3 };
	assert_int_equal(grader_cfg_text(&nul, "regex pattern", &err), -1);
	assert_string_equal(err, "t.yaml:1:8: regex pattern contains a NUL byte");
	free(err);
	expect_suite_error("regex: {pattern: a, flags: [i]}",
			   "t.yaml:1:28: regex flags must be a string, not a list");
}

static void test_not_regex(void **state)
{
	const char *pii = "not_regex: '\\b\\d{3}-\\d{2}-\\d{4}\\b'";
	check(pii, "No numbers here.", GRADE_PASS, NULL);
	check(pii, "Your SSN is 123-45-6789, right?", GRADE_FAIL,
	      "matched /\\b\\d{3}-\\d{2}-\\d{4}\\b/: \"123-45-6789\"");
	check("not_regex: {pattern: 'as an ai', flags: i}", "As an AI,\nI cannot", GRADE_FAIL,
	      "matched /as an ai/: \"As an AI\"");
	check("not_regex: {pattern: 'I.cannot', flags: s}", "AI,\nI\ncannot", GRADE_FAIL,
	      "matched /I.cannot/: \"I cannot\"");
	/* A long match is quoted capped. */
	char want[200];
	snprintf(want, sizeof(want), "matched /x+/: \"%.80s...\"",
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	char subject[121];
	memset(subject, 'x', 120);
	subject[120] = '\0';
	check("not_regex: x+", subject, GRADE_FAIL, want);
}

static void test_unicode(void **state)
{
	check("regex: '\\bcafé\\b'", "Un café, s'il vous plaît", GRADE_PASS, NULL);
	check("regex: {pattern: 'CAFÉ', flags: i}", "un café", GRADE_PASS, NULL);
	check("regex: '^\\d+$'", "\xd9\xa3\xd9\xa0", GRADE_PASS, NULL);   /* Arabic-Indic 30 */
	check("regex: '^.{4}$'", "日本語!", GRADE_PASS, NULL);             /* characters, not bytes */
	check("regex: '\\w+ \\w+'", "ελληνικά κείμενο", GRADE_PASS, NULL);
	check("regex: 'zzz'", "naïve €5", GRADE_FAIL, "no match for /zzz/ in \"naïve €5\"");
	check("contains: {value: ÉCOLE, ignore_case: true}", "l'école", GRADE_PASS, NULL);
	check("contains: {value: straße, ignore_case: true}", "STRASSE", GRADE_FAIL,
	      "missing \"straße\"");
	check("equals: {value: ΣΟΦΙΑ, ignore_case: true}", "σοφια", GRADE_PASS, NULL);
}

static void test_invalid_utf8_subject(void **state)
{
	static const char bad[] = "ok \xff\xfe abc \xc3( \xed\xa0\x80 end \xe2\x82";
	struct grader *g = must_compile("regex: abc");
	char *r = run_reason(g, bad, sizeof(bad) - 1, GRADE_PASS);
	assert_null(r);
	grader_free(g);

	g = must_compile("regex: 'end$'");
	r = run_reason(g, bad, sizeof(bad) - 1, GRADE_FAIL);
	/* Invalid bytes are quoted as U+FFFD, so the reason is valid UTF-8. */
	assert_string_equal(r, "no match for /end$/ in \"ok \xef\xbf\xbd\xef\xbf\xbd abc "
			       "\xef\xbf\xbd( \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end "
			       "\xef\xbf\xbd\xef\xbf\xbd\"");
	free(r);
	grader_free(g);

	g = must_compile("not_regex: 'abc.'");
	r = run_reason(g, bad, sizeof(bad) - 1, GRADE_FAIL);
	assert_string_equal(r, "matched /abc./: \"abc \"");
	free(r);
	grader_free(g);

	g = must_compile("contains: {value: ABC, ignore_case: true}");
	r = run_reason(g, bad, sizeof(bad) - 1, GRADE_PASS);
	assert_null(r);
	grader_free(g);

	g = must_compile("equals: {value: x, ignore_case: true}");
	r = run_reason(g, "\xc0\x80", 2, GRADE_FAIL);
	assert_string_equal(r, "expected \"x\", got \"\xef\xbf\xbd\xef\xbf\xbd\"");
	free(r);
	grader_free(g);
}

static void test_catastrophic_regex(void **state)
{
	char subject[64];
	memset(subject, 'a', 48);
	strcpy(subject + 48, "!");
	struct grader *g = must_compile("regex: '^(a+)+$'");
	char *r = run_reason(g, subject, strlen(subject), GRADE_ERROR);
	assert_string_equal(r, "regex match limit exceeded");
	free(r);
	grader_free(g);

	/* The required 'y' is present, so PCRE2 cannot rule the match out early. */
	g = must_compile("not_regex: '(x+x+)+y'");
	memset(subject, 'x', 48);
	strcpy(subject + 48, "-y");
	r = run_reason(g, subject, strlen(subject), GRADE_ERROR);
	assert_string_equal(r, "regex match limit exceeded");
	free(r);
	grader_free(g);
}

static void test_contains(void **state)
{
	check("contains: refund", "A refund is possible.", GRADE_PASS, NULL);
	check("contains: refund", "A Refund is possible.", GRADE_FAIL, "missing \"refund\"");
	check("contains: [30 days, receipt]", "Within 30 days, with a receipt.", GRADE_PASS, NULL);
	check("contains: [30 days, receipt, manager]", "Within 30 days.", GRADE_FAIL,
	      "missing \"receipt\", \"manager\"");
	check("contains: {value: REFUND, ignore_case: true}", "a refund", GRADE_PASS, NULL);
	check("contains: {value: [Refund, Days], ignore_case: true}", "REFUND in 30 DAYS",
	      GRADE_PASS, NULL);
	check("contains: {value: [Refund, Week], ignore_case: true}", "REFUND in 30 DAYS",
	      GRADE_FAIL, "missing \"Week\"");
	check("contains: {value: Refund, ignore_case: false}", "refund", GRADE_FAIL,
	      "missing \"Refund\"");
	check("contains: 'a.b'", "axb", GRADE_FAIL, "missing \"a.b\"");   /* text, not a regex */
	check("contains: {value: 'a.b', ignore_case: true}", "AXB", GRADE_FAIL, "missing \"a.b\"");
	check("contains: 42", "answer: 42", GRADE_PASS, NULL);
	check("contains: \"two\\nlines\"", "two\nlines", GRADE_PASS, NULL);
	check("contains: \"two\\nlines\"", "two lines", GRADE_FAIL, "missing \"two lines\"");
}

static void test_contains_errors(void **state)
{
	expect_suite_error("contains: []", "t.yaml:1:11: contains needs at least one string");
	expect_suite_error("contains: ''", "t.yaml:1:11: contains value is empty");
	expect_suite_error("contains: [a, '']", "t.yaml:1:15: contains value is empty");
	expect_suite_error("contains: [a, {b: c}]",
			   "t.yaml:1:15: contains value must be a string, not a mapping");
	expect_suite_error("contains: {value: a, ignore_cse: true}",
			   "t.yaml:1:22: unknown key 'ignore_cse' in contains "
			   "(did you mean 'ignore_case'?)");
	expect_suite_error("not_contains: {values: a}",
			   "t.yaml:1:16: unknown key 'values' in not_contains "
			   "(did you mean 'value'?)");
	expect_suite_error("contains: {value: a, ignore_case: maybe}",
			   "t.yaml:1:35: ignore_case must be true or false");
	expect_suite_error("contains: {ignore_case: true}", "t.yaml:1:11: contains needs a value");
	expect_suite_error("not_contains:", "t.yaml:1:14: not_contains value is missing");
}

static void test_not_contains(void **state)
{
	check("not_contains: as an AI", "Sure, here it is.", GRADE_PASS, NULL);
	check("not_contains: as an AI", "Well, as an AI I cannot.", GRADE_FAIL,
	      "contains \"as an AI\"");
	check("not_contains: [sorry, cannot, unable]", "Sorry, I cannot; unable.", GRADE_FAIL,
	      "contains \"cannot\", \"unable\"");
	check("not_contains: {value: [sorry, cannot], ignore_case: true}", "Sorry.", GRADE_FAIL,
	      "contains \"sorry\"");
	check("not_contains: [sorry, cannot]", "", GRADE_PASS, NULL);
}

static void test_equals(void **state)
{
	check("equals: Paris", "Paris", GRADE_PASS, NULL);
	check("equals: Paris", "  Paris\n", GRADE_PASS, NULL);
	check("equals: Paris", "paris", GRADE_FAIL, "expected \"Paris\", got \"paris\"");
	check("equals: Paris", "London\n", GRADE_FAIL, "expected \"Paris\", got \"London\"");
	check("equals: Paris", "Paris, France", GRADE_FAIL,
	      "expected \"Paris\", got \"Paris, France\"");
	check("equals: {value: Paris, trim: false}", " Paris", GRADE_FAIL,
	      "expected \"Paris\", got \" Paris\"");
	check("equals: {value: Paris, trim: false}", "Paris", GRADE_PASS, NULL);
	check("equals: {value: ' Paris ', trim: false}", " Paris ", GRADE_PASS, NULL);
	check("equals: \"Paris\\n\"", "Paris", GRADE_PASS, NULL);   /* both sides trimmed */
	check("equals: {value: paris, ignore_case: true}", " PARIS ", GRADE_PASS, NULL);
	check("equals: {value: paris, ignore_case: true}", "PARIS!", GRADE_FAIL,
	      "expected \"paris\", got \"PARIS!\"");
	check("equals: {value: paris, ignore_case: true}", "xparis", GRADE_FAIL,
	      "expected \"paris\", got \"xparis\"");
	check("equals: {value: 'a.c', ignore_case: true}", "abc", GRADE_FAIL,
	      "expected \"a.c\", got \"abc\"");
	check("equals: ''", "  \n", GRADE_PASS, NULL);
	check("equals: ''", "x", GRADE_FAIL, "expected \"\", got \"x\"");
	check("equals: 42", "42", GRADE_PASS, NULL);
	check("equals: \"a\\nb\"", "a\nb", GRADE_PASS, NULL);
	check("equals: \"a\\nb\"", "a b", GRADE_FAIL, "expected \"a b\", got \"a b\"");
}

static void test_equals_errors(void **state)
{
	expect_suite_error("equals: [a]", "t.yaml:1:9: equals value must be a string, not a list");
	expect_suite_error("equals:", "t.yaml:1:8: equals value is missing");
	expect_suite_error("equals: {trim: false}", "t.yaml:1:9: equals needs a value");
	expect_suite_error("equals: {value: a, trim: 2}", "t.yaml:1:26: trim must be true or false");
	expect_suite_error("equals: {value: a, ignorecase: true}",
			   "t.yaml:1:20: unknown key 'ignorecase' in equals "
			   "(did you mean 'ignore_case'?)");
	expect_suite_error("equals: {value: {a: b}}",
			   "t.yaml:1:17: equals value must be a string, not a mapping");
}

static void test_max_ttft(void **state)
{
	struct grader *g = must_compile("max_ttft: 500ms");
	struct reply r = {.status = 200, .latency_ms = 4000, .ttft_ms = 499.5};
	struct grade_input in = {.reply = &r, .case_id = "c1", .target = "eval", .input = "hi"};
	struct grade_result out;

	r.content = xstrdup("x");
	grader_run(g, &in, &out);
	assert_int_equal(out.grade, GRADE_PASS);
	grade_result_release(&out);
	r.ttft_ms = 500.3;
	grader_run(g, &in, &out);
	assert_int_equal(out.grade, GRADE_FAIL);
	assert_string_equal(out.reason, "time to first token 500.3 ms > 500 ms");
	grade_result_release(&out);
	/* A reply that was not streamed cannot be timed: an error, not a fail. */
	r.ttft_ms = -1;
	grader_run(g, &in, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_non_null(strstr(out.reason, "set stream: true"));
	grade_result_release(&out);
	free(r.content);
	grader_free(g);

	expect_suite_error("max_ttft: soon", "t.yaml:1:11: bad duration 'soon' for max_ttft "
			   "(use e.g. 250ms, 2s or 1m)");
	expect_suite_error("max_ttft: 0s", "t.yaml:1:11: max_ttft must be more than 0");
	expect_suite_error("{max_ttft: 1s, on: raw}",
			   "t.yaml:1:20: max_ttft grades the whole reply and takes no 'on'");
}

static void test_max_latency(void **state)
{
	struct grader *g = must_compile("max_latency: 2s");
	grade_reply(g, "x", NULL, 1999, GRADE_PASS, NULL);
	grade_reply(g, "x", NULL, 2000, GRADE_PASS, NULL);
	grade_reply(g, "x", NULL, 2300, GRADE_FAIL, "latency 2300 ms > 2000 ms");
	grade_reply(g, "x", NULL, 2000.4, GRADE_FAIL, "latency 2000.4 ms > 2000 ms");
	grade_reply(g, "x", NULL, 12345.6, GRADE_FAIL, "latency 12346 ms > 2000 ms");
	/* Latency does not depend on the content, which may be anything. */
	grade_reply(g, NULL, NULL, 5, GRADE_PASS, NULL);
	grader_free(g);

	g = must_compile("max_latency: 250ms");
	grade_reply(g, "x", NULL, 251, GRADE_FAIL, "latency 251 ms > 250 ms");
	grader_free(g);
	g = must_compile("max_latency: 1m");
	grade_reply(g, "x", NULL, 59000, GRADE_PASS, NULL);
	grader_free(g);

	expect_suite_error("max_latency: fast", "t.yaml:1:14: bad duration 'fast' for max_latency "
			   "(use e.g. 250ms, 2s or 1m)");
	expect_suite_error("max_latency: -2s", "t.yaml:1:14: bad duration '-2s' for max_latency "
			   "(use e.g. 250ms, 2s or 1m)");
	expect_suite_error("max_latency: 0ms", "t.yaml:1:14: max_latency must be more than 0");
	expect_suite_error("max_latency: [2s]",
			   "t.yaml:1:14: max_latency must be a string, not a list");
	expect_suite_error("max_latency:", "t.yaml:1:13: max_latency is missing");
}

static void test_reasons_are_one_capped_line(void **state)
{
	/* A subject excerpt is 80 characters then "...", newlines as spaces. */
	char subject[400];
	for (size_t i = 0; i < 199; i++)
		subject[i] = i % 10 == 9 ? '\n' : 'a';
	subject[199] = '\0';
	struct grader *g = must_compile("regex: zzz");
	char *r = run_reason(g, subject, strlen(subject), GRADE_FAIL);
	char want[200] = "no match for /zzz/ in \"";
	for (size_t i = 0; i < 80; i++)
		strncat(want, i % 10 == 9 ? " " : "a", 2);
	strcat(want, "...\"");
	assert_string_equal(r, want);
	free(r);
	grader_free(g);

	/* Multi-byte characters count once and are never cut in half. */
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 100; i++)
		buf_addstr(&b, "\xc3\xa9");
	char *ex = grade_excerpt(NULL, b.data, b.len);
	assert_int_equal(strlen(ex), 80 * 2 + 3);
	assert_memory_equal(ex, b.data, 160);
	assert_string_equal(ex + 160, "...");
	free(ex);

	/* Whatever a grader reports is capped at GRADE_REASON_MAX bytes. */
	buf_reset(&b);
	buf_addstr(&b, "contains: [");
	for (int i = 0; i < 20; i++)
		buf_addf(&b, "%sneedle number %d with words", i ? ", " : "", i);
	buf_addstr(&b, "]");
	g = must_compile(b.data);
	r = run_reason(g, "nothing", 7, GRADE_FAIL);
	assert_int_equal(strlen(r), GRADE_REASON_MAX);
	assert_string_equal(r + GRADE_REASON_MAX - 3, "...");
	assert_memory_equal(r, "missing \"needle number 0 with words\", ", 38);
	assert_null(strchr(r, '\n'));
	free(r);
	grader_free(g);
	buf_release(&b);

	/* Newlines and tabs never reach a reason. */
	struct grade_result out = { 0 };
	grade_fail(&out, "line one\nline two\r\n\ttabbed");
	grade_result_tidy(&out, NULL);
	assert_int_equal(out.grade, GRADE_FAIL);
	assert_string_equal(out.reason, "line one line two   tabbed");
	grade_result_release(&out);
	grade_error(&out, "%s", "x");
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_string_equal(out.reason, "x");
	grade_result_release(&out);
	grade_pass(&out);
	assert_int_equal(out.grade, GRADE_PASS);
	assert_null(out.reason);
	grade_result_release(NULL);
}

/* A grader that sets its reason by hand, to check grader_run tidies it. */
static void raw_reason_grade(const void *priv, const struct grade_input *in,
			     struct grade_result *out)
{
	out->grade = GRADE_FAIL;
	out->score = 0;
	out->reason = xstrdup("first\nsecond \xff");
}

static void test_run_tidies_reasons(void **state)
{
	static const struct grader_ops ops = { .name = "hand", .grade = raw_reason_grade };
	struct grader g = { .ops = &ops, .on = GRADER_ON_CONTENT };
	struct reply r = { .status = 200 };
	struct grade_input in = { .reply = &r };
	struct grade_result out;
	grader_run(&g, &in, &out);
	assert_int_equal(out.grade, GRADE_FAIL);
	assert_string_equal(out.reason, "first second \xef\xbf\xbd");
	grade_result_release(&out);

	in.reply = NULL;
	grader_run(&g, &in, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_string_equal(out.reason, "no reply to grade");
	grade_result_release(&out);
}

/* secret_reason: the reason of g on content, with secret in the reply's
 * redact set, asserting a failure. */
static char *secret_reason(const char *yaml, const char *secret, const char *content)
{
	struct redact rd = {0};
	redact_add(&rd, secret);
	struct grader *g = must_compile(yaml);
	struct reply r = { .status = 200, .content = xstrdup(content),
			   .content_len = strlen(content), .redact = &rd };
	struct grade_input in = { .reply = &r };
	struct grade_result out;
	grader_run(g, &in, &out);
	assert_int_not_equal(out.grade, GRADE_PASS);
	char *reason = xstrdup(out.reason);
	grade_result_release(&out);
	free(r.content);
	grader_free(g);
	redact_release(&rd);
	return reason;
}

/* Reasons mask the reply's secrets before they fold, cut or escape
 * anything: a secret with a tab, one cut by the excerpt's end, and one a
 * match cuts into never show, in any part. */
static void test_reasons_mask_secrets_first(void **state)
{
	(void)state;
	char *r = secret_reason("regex: nothing", "tab\tsecret-1234", "key tab\tsecret-1234.");
	assert_string_equal(r, "no match for /nothing/ in \"key " REDACT_MASK ".\"");
	free(r);
	char pad[100];
	memset(pad, 'a', 74);
	pad[74] = '\0';
	char *content = xasprintf("%s sk-live-0123456789 and more", pad);
	r = secret_reason("regex: nothing", "sk-live-0123456789", content);
	assert_null(strstr(r, "sk-l"));
	assert_non_null(strstr(r, " [reda...\""));
	free(r);
	free(content);
	r = secret_reason("not_regex: 'live-\\d+'", "sk-live-0123456789", "x sk-live-0123456789");
	assert_string_equal(r, "matched /live-\\d+/: \"" REDACT_MASK "\"");
	free(r);
	r = secret_reason("equals: x", "tab\tsecret-1234", "\ttab\tsecret-1234\n");
	assert_string_equal(r, "expected \"x\", got \"" REDACT_MASK "\"");
	free(r);
	/* base64 of "Bearer <secret>" in a reply */
	r = secret_reason("regex: nothing", "tab\tsecret-1234", "QmVhcmVyIHRhYglzZWNyZXQtMTIzNA==");
	assert_null(strstr(r, "HRhYgl"));
	free(r);
}

/* Every grader sees every byte of a plain-text reply, a NUL byte included,
 * and an excerpt shows the NUL as U+2400. */
static void test_nul_in_content(void **state)
{
	(void)state;
	static const char content[] = "ok\0 your SSN is 123-45-6789";
	static const struct {
		const char *yaml;
		const char *reason;
	} cases[] = {
		{"not_contains: SSN", "contains \"SSN\""},
		{"not_regex: '\\d{3}-\\d{2}-\\d{4}'", "matched /\\d{3}-\\d{2}-\\d{4}/: \"123-45-6789\""},
		{"regex: '^ok$'", "no match for /^ok$/ in \"ok" UTIL_NUL_SHOWN " your SSN is 123-45-6789\""},
		{"equals: ok", "expected \"ok\", got \"ok" UTIL_NUL_SHOWN " your SSN is 123-45-6789\""},
		{"json_schema: {type: string}", "content is not JSON: invalid JSON at byte 2: a NUL byte"},
	};
	/* A reason carries no control that reorders or rewrites a terminal. */
	struct grader *re = must_compile("regex: nothing");
	char *why = run_reason(re, "a\xe2\x80\xae" "b\xc2\x9b[2Jc\x1b", 12, GRADE_FAIL);
	assert_string_equal(why, "no match for /nothing/ in \"a\xef\xbf\xbd" "b\xef\xbf\xbd[2Jc \"");
	free(why);
	grader_free(re);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct grader *g = must_compile(cases[i].yaml);
		char *r = run_reason(g, content, sizeof(content) - 1, GRADE_FAIL);
		assert_string_equal(r, cases[i].reason);
		free(r);
		grader_free(g);
	}
}

static void test_rx_direct(void **state)
{
	char *err = NULL;
	struct rx *re = rx_compile("d(a+)y", 0, &err);
	assert_non_null(re);
	assert_string_equal(rx_pattern(re), "d(a+)y");
	size_t start = 99, end = 99;
	assert_int_equal(rx_match(re, "to-daaay!", 9, &start, &end, &err), 1);
	assert_int_equal(start, 3);
	assert_int_equal(end, 8);
	assert_int_equal(rx_match(re, "to-day", 5, NULL, NULL, &err), 0);  /* length bounds it */
	assert_int_equal(rx_match(re, NULL, 0, NULL, NULL, &err), 0);
	assert_null(err);
	rx_free(re);
	rx_free(NULL);

	re = rx_compile("a.c", RX_LITERAL, &err);
	assert_non_null(re);
	assert_int_equal(rx_match(re, "abc", 3, NULL, NULL, &err), 0);
	assert_int_equal(rx_match(re, "xa.c", 4, NULL, NULL, &err), 1);
	rx_free(re);

	re = rx_compile("ab", RX_LITERAL | RX_WHOLE | RX_CASELESS, &err);
	assert_non_null(re);
	assert_int_equal(rx_match(re, "AB", 2, NULL, NULL, &err), 1);
	assert_int_equal(rx_match(re, "ABc", 3, NULL, NULL, &err), 0);
	assert_int_equal(rx_match(re, "cAB", 3, NULL, NULL, &err), 0);
	rx_free(re);

	/* \K in a lookahead: the match is reported empty, never inverted. */
	re = rx_compile("(?=ab\\K)", 0, &err);
	if (re) {
		assert_int_equal(rx_match(re, "xab", 3, &start, &end, &err), 1);
		assert_true(start <= end);
		rx_free(re);
	} else {
		free(err);  /* PCRE2 builds that forbid \K in assertions */
		err = NULL;
	}

	assert_null(rx_compile("a{2,1}", 0, &err));
	assert_non_null(err);
	assert_memory_equal(err, "bad regex 'a{2,1}' at offset ", 29);
	free(err);
	err = NULL;

	/* A long pattern is quoted cut, on one line. */
	char pat[200];
	memset(pat, 'p', sizeof(pat));
	pat[0] = '\n';
	strcpy(pat + 190, "(");
	assert_null(rx_compile(pat, 0, &err));
	assert_non_null(err);
	assert_null(strchr(err, '\n'));
	assert_memory_equal(err, "bad regex ' ppp", 15);
	assert_non_null(strstr(err, "...' at offset 191: missing closing parenthesis"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_grade_names),
		cmocka_unit_test(test_entry_fields),
		cmocka_unit_test(test_entry_errors),
		cmocka_unit_test(test_on_errors),
		cmocka_unit_test(test_on_raw_and_content),
		cmocka_unit_test(test_on_pointer),
		cmocka_unit_test(test_on_pointer_nul_escape),
		cmocka_unit_test(test_null_configs),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_regex_flags),
		cmocka_unit_test(test_regex_errors),
		cmocka_unit_test(test_not_regex),
		cmocka_unit_test(test_unicode),
		cmocka_unit_test(test_invalid_utf8_subject),
		cmocka_unit_test(test_catastrophic_regex),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_contains_errors),
		cmocka_unit_test(test_not_contains),
		cmocka_unit_test(test_equals),
		cmocka_unit_test(test_equals_errors),
		cmocka_unit_test(test_max_latency),
		cmocka_unit_test(test_max_ttft),
		cmocka_unit_test(test_reasons_are_one_capped_line),
		cmocka_unit_test(test_run_tidies_reasons),
		cmocka_unit_test(test_reasons_mask_secrets_first),
		cmocka_unit_test(test_nul_in_content),
		cmocka_unit_test(test_rx_direct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
