/* test_report_formats.c: the renderers of the report (text, JUnit,
 * markdown, Prometheus, TAP) against golden files and their own
 * validators, checking saved reports, atomic writes, and merging shard
 * reports back into the report of the unsharded run.
 *
 * CANARY_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fingerprint/fingerprint.h"
#include "report/report.h"
#include "support.h"
#include "util.h"
#include "report/verdict.h"
#include "ynode.h"

#define REASON_TOOL "tool_call: missing required property 'attendee_emails'"
#define REASON_14 "regex: no match for /\\b30 days\\b/ in \"we accept refunds within 14 days\""
#define REASON_LEN "max_latency: 2300 ms over 2000 ms"
#define REASON_CONN "connection refused after 3 attempts"

#define XMLLINT "/usr/bin/xmllint"
#define PROMTOOL "/usr/bin/promtool"

/* formats.json: two strata reported, one filtered out: a drift, a
 * regression, an error and a pass, every prod fingerprint unevaluated
 * (basic.json's run, but with refund-window failing on both sides, so that
 * no verdict hangs on the significance tests of repeated cases). */
#define FORMATS "formats.json"
/* many.json: 40 generated cases over the three strata, every verdict. */
#define MANY "many.json"

/* Case i of formats.json. */
enum { BOOK, LIST, REFUND, GREET, PII };

/* model_of: the report a saved tree is read back as (what `canary report`
 * and `canary merge` read). */
static struct report *model_of(const cJSON *tree)
{
	char *json = cJSON_PrintUnformatted(tree);
	struct report *r = test_report_parse(json);

	free(json);
	return r;
}

/* render: a renderer's output for a saved tree. */
static char *render(report_render_fn *fn, const cJSON *tree)
{
	struct report *r = model_of(tree);
	char *text = test_render(fn, r);

	report_free(r);
	return text;
}

/* load_fail: why a saved tree is refused, as every command that reads it
 * says it (after the file name). */
static char *load_fail(const cJSON *tree)
{
	static const char prefix[] = "'t.json': ";
	char *json = cJSON_PrintUnformatted(tree), *err = NULL;

	assert_null(report_parse("t.json", json, strlen(json), &err));
	assert_non_null(err);
	assert_memory_equal(err, prefix, strlen(prefix));
	char *why = xstrdup(err + strlen(prefix));
	free(err);
	free(json);
	return why;
}

/* golden: compare text with tests/fixtures/reports/NAME, or rewrite it
 * when CANARY_UPDATE_GOLDEN is set. */
static void golden(const char *name, const char *text)
{
	char *path = xasprintf("%s/reports/%s", test_fixtures(), name);
	char *err = NULL;

	if (getenv("CANARY_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
		free(path);
		return;
	}
	char *expected = util_read_file(path, 1 << 24, NULL, &err);
	if (!expected)
		fail_msg("%s", err);
	if (strcmp(text, expected) != 0) {
		print_message("--- expected\n%s--- got\n%s---\n", expected, text);
		fail_msg("output differs from '%s'", path);
	}
	free(expected);
	free(path);
}

/* temp_file: text in a new temporary file whose name ends with suffix. */
static char *temp_file(const char *text, const char *suffix)
{
	char *path = xasprintf("/tmp/canary-test-XXXXXX%s", suffix);
	int fd = mkstemps(path, (int)strlen(suffix));

	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* run_tool: the exit status of a shell command; its output goes to the
 * test log. */
static int run_tool(const char *command)
{
	int status = system(command);

	assert_true(status != -1);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* xmllint_ok: whether xml is valid under tests/fixtures/reports/junit.xsd;
 * true (after saying so) when xmllint is not installed. */
static bool xmllint_ok(const char *xml)
{
	if (access(XMLLINT, X_OK) != 0) {
		print_message("note: %s not found; JUnit schema check skipped\n", XMLLINT);
		return true;
	}
	char *path = temp_file(xml, ".xml");
	char *command = xasprintf(XMLLINT " --noout --nonet --schema '%s/reports/junit.xsd' '%s'",
				  test_fixtures(), path);
	int rc = run_tool(command);
	unlink(path);
	free(path);
	free(command);
	return rc == 0;
}

/* promtool_ok: whether promtool accepts the metrics; true when it is not
 * installed (Debian package prometheus). */
static bool promtool_ok(const char *metrics)
{
	if (access(PROMTOOL, X_OK) != 0) {
		print_message("note: %s not found; promtool check skipped\n", PROMTOOL);
		return true;
	}
	char *path = temp_file(metrics, ".prom");
	char *command = xasprintf(PROMTOOL " check metrics < '%s'", path);
	int rc = run_tool(command);
	unlink(path);
	free(path);
	free(command);
	return rc == 0;
}

static const cJSON *get(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		fail_msg("no '%s'", key);
	return v;
}

static cJSON *item(cJSON *array, int i)
{
	cJSON *v = cJSON_GetArrayItem(array, i);

	assert_non_null(v);
	return v;
}

static cJSON *field(cJSON *o, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		fail_msg("no '%s'", key);
	return v;
}

static void assert_trees_equal(const cJSON *a, const cJSON *b)
{
	if (cJSON_Compare(a, b, true))
		return;
	char *x = cJSON_Print(a), *y = cJSON_Print(b);
	char *px = temp_file(x, ".json"), *py = temp_file(y, ".json");
	print_message("trees differ: expected '%s', got '%s'\n", px, py);
	free(px);
	free(py);
	free(x);
	free(y);
	fail_msg("trees differ");
}

/*
 * The model.
 */

/* tree_of: the JSON report of r as a tree. */
static cJSON *tree_of(const struct report *r)
{
	char *json = test_render(report_json, r);
	cJSON *tree = cJSON_Parse(json);

	assert_non_null(tree);
	free(json);
	return tree;
}

/* The fields that let merge put shards back together. */
static void test_layout_fields(void **state)
{
	(void)state;
	struct report *r = test_report_fixture(FORMATS);
	cJSON *tree = tree_of(r);

	assert_int_equal(get(tree, "suite_cases")->valueint, 5);
	const cJSON *names = get(tree, "suite_strata");
	assert_int_equal(cJSON_GetArraySize(names), 3);
	assert_string_equal(cJSON_GetArrayItem(names, 2)->valuestring, "guardrails");
	cJSON *cases = field(tree, "cases");
	assert_int_equal(get(item(cases, 3), "position")->valueint, 3);
	assert_int_equal(get(item(cases, 2), "repeat")->valueint, 3);
	const cJSON *skipped = get(tree, "skipped");
	assert_int_equal(cJSON_GetArraySize(skipped), 1);
	assert_string_equal(get(cJSON_GetArrayItem(skipped, 0), "id")->valuestring, "no-pii");
	assert_string_equal(get(cJSON_GetArrayItem(skipped, 0), "stratum")->valuestring,
			    "guardrails");
	assert_int_equal(get(cJSON_GetArrayItem(skipped, 0), "position")->valueint, 4);
	assert_true(r->cases[PII].skipped);
	cJSON_Delete(tree);
	report_free(r);
}

/* text_of: what report_text() prints of r. */
static char *text_of(const struct report *r)
{
	return test_render(report_text, r);
}

/* check_text_saved: the text of a report read back from its JSON is the
 * text of the report. */
static void check_text_saved(const struct report *r)
{
	cJSON *tree = tree_of(r);
	char *saved = render(report_text, tree);
	char *direct = text_of(r);

	assert_string_equal(saved, direct);
	free(direct);
	free(saved);
	cJSON_Delete(tree);
}

static void test_text_saved(void **state)
{
	(void)state;
	struct report *r = test_report_fixture(FORMATS);

	check_text_saved(r);
	report_free(r);
	r = test_report_fixture(MANY);
	check_text_saved(r);
	report_free(r);

	/* Interrupted: the case whose last sample never finished counts as
	 * not finished. */
	r = test_report_fixture(FORMATS);
	struct report_side *prod = &r->cases[REFUND].side[SIDE_PROD];
	prod->nsamples--;
	prod->failed--;
	r->interrupted = true;
	verdict_compute(r);
	check_text_saved(r);
	char *text = text_of(r);
	assert_non_null(strstr(text, "verdict: interrupted after 3 of 4 cases"));
	free(text);
	report_free(r);

	/* With --history: the history shows, read back too. */
	r = test_report_fixture(FORMATS);
	r->history.present = true;
	report_names_add(r, &r->history.unevaluated, "sha256:9f00");
	report_names_add(r, &r->history.new_since_last, "sha256:1234");
	r->history.previous_run = true;
	check_text_saved(r);
	text = text_of(r);
	assert_non_null(strstr(text, "new since last run: sha256:1234"));
	free(text);
	report_free(r);
}

/* A saved report that is not one, or of another version, or lacks fields. */
static void test_parse_and_check(void **state)
{
	(void)state;
	char *err = NULL;
	static const char *const bad[][2] = {
		{"", "'r.json' is empty, not a canary report"},
		{"{\"canary_report\": 1,\n  \"suite\": }",
		 "'r.json' is not valid JSON (line 2, column 12)"},
		{"[1, 2]", "'r.json': not a canary report (not a JSON object)"},
		{"{\"suite\": \"x\"}", "'r.json': not a canary report (no 'canary_report' field)"},
		{"{\"canary_report\": 2}",
		 "'r.json': unsupported canary_report version 2 (this canary reads version 1)"},
		{"{\"canary_report\": 1} x", "'r.json' is not valid JSON (line 1, column 22)"},
		{"{\"canary_report\": 1}", "'r.json': 'suite' is missing"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_null(report_parse("r.json", bad[i][0], strlen(bad[i][0]), &err));
		assert_string_equal(err, bad[i][1]);
		free(err);
		err = NULL;
	}
	/* Deep nesting fails cleanly. */
	struct buf deep;
	buf_init(&deep, BUF_MAX_DEFAULT);
	for (int i = 0; i < 100000; i++)
		buf_addch(&deep, '[');
	assert_null(report_parse("deep.json", deep.data, deep.len, &err));
	assert_non_null(strstr(err, "not valid JSON"));
	free(err);
	buf_release(&deep);

	struct report *r = test_report_fixture(FORMATS);
	cJSON *tree = tree_of(r);
	report_free(r);

	/* A hand-edited report is refused, naming the field. */
	cJSON *side = field(item(field(tree, "cases"), 1), "prod");
	cJSON_ReplaceItemInObjectCaseSensitive(side, "passed", cJSON_CreateString("one"));
	err = load_fail(tree);
	assert_string_equal(err, "'cases[1].prod.passed' is not a whole number from 0 "
				 "to 1000000");
	free(err);
	cJSON_DeleteItemFromObjectCaseSensitive(side, "passed");
	err = load_fail(tree);
	assert_string_equal(err, "'cases[1].prod.passed' is missing");
	free(err);
	cJSON_DeleteItemFromObjectCaseSensitive(tree, "strata");
	cJSON_AddItemToObject(tree, "strata", cJSON_CreateString("x"));
	err = load_fail(tree);
	assert_string_equal(err, "'strata' is not an array of objects");
	free(err);
	cJSON_Delete(tree);
}

static void test_formats_table(void **state)
{
	(void)state;
	static const char *const names[] = {"json", "text", "junit", "markdown", "prom", "tap"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const struct report_format *f = report_format_find(names[i], strlen(names[i]));
		assert_non_null(f);
		assert_string_equal(f->name, names[i]);
	}
	assert_null(report_format_find("jsonx", 5));
	assert_non_null(report_format_find("json=x", 4));
	assert_null(report_format_find("xml", 3));
}

/*
 * JUnit.
 */

static void test_junit_golden(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	cJSON *tree = tree_of(r);
	char *xml = render(report_junit, tree);
	golden("junit.xml", xml);
	assert_true(xmllint_ok(xml));
	free(xml);
	/* The schema check is not vacuous: a testsuite without a name and a
	 * count that is not one fail it. */
	if (access(XMLLINT, X_OK) == 0) {
		assert_false(xmllint_ok("<testsuites><testsuite tests=\"1\"/></testsuites>"));
		assert_false(xmllint_ok("<testsuites><testsuite name=\"a\" tests=\"x\"/>"
					"</testsuites>"));
	}
	cJSON_Delete(tree);
	report_free(r);
}

static void test_junit_hostile(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	r->strata[1].name = "prompt<&>";
	r->suite = "suite \"x\" & 'y'";
	r->cases[0].id = "<script>alert(1)</script>&\"'";
	/* Two ids that differ only in characters XML cannot carry. */
	r->cases[2].id = "dup\x01";
	r->cases[3].id = "dup\x02";
	r->cases[0].side[SIDE_PROD].samples[0].reasons[0] = "bad <b>&amp;</b> \x1b[31m\x7f \xff\xfe ]]> \r\n end";
	r->targets[SIDE_PROD].url = "http://x/?a=1&b=\"2\"";
	cJSON *tree = tree_of(r);
	char *xml = render(report_junit, tree);

	assert_null(strstr(xml, "<script>"));
	assert_non_null(strstr(xml, "name=\"&lt;script&gt;alert(1)&lt;/script&gt;"
				    "&amp;&quot;&apos;\""));
	assert_non_null(strstr(xml, "classname=\"suite &quot;x&quot; &amp; &apos;y&apos;."
				    "prompt&lt;&amp;&gt;\""));
	assert_null(strchr(xml, '\x1b'));
	assert_null(strchr(xml, '\x01'));
	assert_null(strchr(xml, '\x7f'));
	assert_null(strstr(xml, "]]>"));
	assert_non_null(strstr(xml, "bad &lt;b&gt;&amp;amp;&lt;/b&gt;"));
	/* Unique names although the ids clean to the same text. */
	assert_non_null(strstr(xml, "name=\"dup\xef\xbf\xbd\" time"));
	assert_non_null(strstr(xml, "name=\"dup\xef\xbf\xbd (2)\" time"));
	assert_true(xmllint_ok(xml));
	free(xml);
	cJSON_Delete(tree);
	report_free(r);
}

/* The bidirectional controls, and CSI, as UTF-8. */
static const char *const reorderers[] = {
	"\xd8\x9c", "\xe2\x80\x8e", "\xe2\x80\x8f", "\xe2\x80\xaa", "\xe2\x80\xab",
	"\xe2\x80\xac", "\xe2\x80\xad", "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x81\xa7",
	"\xe2\x81\xa8", "\xe2\x81\xa9", "\xc2\x9b",
};

/* Bidirectional controls in a reason, an id and a fingerprint reach no
 * report as they are: each format escapes them as it escapes ESC. */
static void test_bidi_controls(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		report_render_fn *render;
		const char *shown;
	} formats[] = {
		{"json", report_json, "\\u202e"},
		{"text", report_text, "\\xe2\\x80\\xae"},
		{"junit", report_junit, "\xef\xbf\xbd"},
		{"markdown", report_markdown, "\xef\xbf\xbd"},
		{"prom", report_prom, "\xef\xbf\xbd"},
		{"tap", report_tap, "\\u202E"},
	};
	struct buf all;
	buf_init(&all, 0);
	for (size_t i = 0; i < ARRAY_SIZE(reorderers); i++)
		buf_addf(&all, "x%s", reorderers[i]);
	struct report *r = test_report_fixture(FORMATS);
	r->cases[0].id = all.data;
	r->cases[0].side[SIDE_PROD].samples[0].reasons[0] = all.data;
	r->targets[SIDE_PROD].fingerprints[0].value = all.data;
	cJSON *tree = tree_of(r);
	for (size_t f = 0; f < ARRAY_SIZE(formats); f++) {
		char *out = render(formats[f].render, tree);
		for (size_t i = 0; i < ARRAY_SIZE(reorderers); i++)
			if (strstr(out, reorderers[i]))
				fail_msg("%s shows control %zu as it is", formats[f].name, i);
		if (!strstr(out, formats[f].shown))
			fail_msg("%s does not show '%s'", formats[f].name, formats[f].shown);
		free(out);
	}
	/* The JSON holds the same values, escaped. */
	char *json = render(report_json, tree);
	cJSON *back = cJSON_Parse(json);
	const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(back, "cases"), 0);
	assert_string_equal(cJSON_GetObjectItem(c, "id")->valuestring, all.data);
	cJSON_Delete(back);
	free(json);
	cJSON_Delete(tree);
	buf_release(&all);
	report_free(r);
}

static void test_junit_counts(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(MANY);
	cJSON *tree = tree_of(r);
	char *xml = render(report_junit, tree);
	long tests = 0, failures = 0, errors = 0, skipped = 0;
	const cJSON *c;

	cJSON_ArrayForEach(c, get(tree, "cases")) {
		enum verdict v;
		assert_int_equal(verdict_parse(get(c, "verdict")->valuestring, &v), 0);
		tests++;
		failures += verdict_failing(v);
		errors += v == VERDICT_ERROR;
	}
	skipped = cJSON_GetArraySize(get(tree, "skipped"));
	tests += skipped;
	char *head = xasprintf("<testsuites name=\"canary calendar-assistant\" tests=\"%ld\" "
			       "failures=\"%ld\" errors=\"%ld\" skipped=\"%ld\"",
			       tests, failures, errors, skipped);
	assert_true(failures > 0 && errors > 0 && skipped > 0);
	assert_non_null(strstr(xml, head));
	/* One testsuite per stratum, every case once. */
	size_t suites = 0, cases = 0;
	for (const char *p = xml; (p = strstr(p, "<testsuite ")); p++)
		suites++;
	for (const char *p = xml; (p = strstr(p, "<testcase ")); p++)
		cases++;
	assert_int_equal(suites, 3);
	assert_int_equal(cases, 40);
	assert_true(xmllint_ok(xml));
	free(head);
	free(xml);
	cJSON_Delete(tree);
	report_free(r);
}

/*
 * Markdown.
 */

static void test_markdown_golden(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	cJSON *tree = tree_of(r);
	char *md = render(report_markdown, tree);
	golden("report.md", md);
	free(md);
	cJSON_Delete(tree);
	report_free(r);
}

static void test_markdown_escaping(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	r->cases[0].id = "a|b";
	r->cases[0].side[SIDE_PROD].samples[0].reasons[0] =
		"line one\nline | two <img src=x> `code` *bold* $x$ [l](u)";
	cJSON *tree = tree_of(r);
	char *md = render(report_markdown, tree);

	assert_non_null(strstr(md, "| tools/a\\|b | drift |"));
	assert_non_null(strstr(md, "line one<br>line \\| two &lt;img src=x&gt; \\`code\\` "
				   "\\*bold\\* \\$x\\$ \\[l\\](u)"));
	/* Every table row is one line with the same number of cells. */
	for (char *line = strtok(md, "\n"); line; line = strtok(NULL, "\n")) {
		if (strncmp(line, "| tools/", 8) != 0 && strncmp(line, "| prompt/", 9) != 0)
			continue;
		int pipes = 0;
		for (const char *p = line; *p; p++)
			pipes += *p == '|' && (p == line || p[-1] != '\\');
		assert_int_equal(pipes, 5);
	}
	free(md);
	cJSON_Delete(tree);
	report_free(r);
}

/* A run with 20,000 failing cases still fits a GitHub step summary. */
static void test_markdown_cap(void **state)
{
	(void)state;
	char reason[400];

	struct report *r = test_report_fixture(FORMATS);
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	r->cases[0].side[SIDE_PROD].samples[0].reasons[0] = reason;
	cJSON *tree = tree_of(r);
	cJSON *cases = field(tree, "cases");
	cJSON *model = cJSON_Duplicate(item(cases, 0), true);
	for (int i = 0; i < 20000; i++) {
		cJSON *c = cJSON_Duplicate(model, true);
		char id[32];
		snprintf(id, sizeof(id), "case-%05d", i);
		cJSON_ReplaceItemInObjectCaseSensitive(c, "id", cJSON_CreateString(id));
		cJSON_ReplaceItemInObjectCaseSensitive(c, "position", cJSON_CreateNumber(10 + i));
		cJSON_AddItemToArray(cases, c);
	}
	cJSON_Delete(model);
	char *md = render(report_markdown, tree);
	size_t len = strlen(md);

	assert_true(len < REPORT_MARKDOWN_MAX);
	assert_true(len > REPORT_MARKDOWN_MAX - 8000);
	assert_non_null(strstr(md, "| tools/case-00000 | drift |"));
	assert_null(strstr(md, "| tools/case-19999 |"));
	assert_non_null(strstr(md, "more cases that did not pass: the summary is cut"));
	/* The strata table and the verdict come first, whole. */
	assert_non_null(strstr(md, "| prompt | 2 | 0/2 | 1/2 | +1 | **regression** |"));
	free(md);
	cJSON_Delete(tree);
	report_free(r);
}

/*
 * Prometheus.
 */

static void test_prom_golden(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	cJSON *tree = tree_of(r);
	char *prom = render(report_prom, tree);
	golden("report.prom", prom);
	assert_true(promtool_ok(prom));
	if (access(PROMTOOL, X_OK) == 0)
		assert_false(promtool_ok("canary_x{a=\"b} 1\n"));
	free(prom);
	cJSON_Delete(tree);
	report_free(r);
}

/* Declared tokens and a price, through the JSON report, as gauges that
 * promtool accepts. */
static void test_prom_tokens_cost(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	struct report_case *c = &r->cases[0];
	c->side[SIDE_PROD].samples[0].usage = (struct report_usage){1200, 30, 1230, 1000, 10};
	r->targets[SIDE_PROD].priced = true;
	r->targets[SIDE_PROD].price_input = 3;
	r->targets[SIDE_PROD].price_output = 15;
	cJSON *tree = tree_of(r);
	char *prom = render(report_prom, tree);
	char *want = xasprintf("canary_tokens{suite=\"calendar-assistant\",stratum=\"%s\","
			       "target=\"prod\",kind=\"cached\"} 1000\n"
			       "canary_tokens{suite=\"calendar-assistant\",stratum=\"%s\","
			       "target=\"prod\",kind=\"reasoning\"} 10\n"
			       "# HELP canary_cost_usd",
			       r->strata[c->stratum].name, r->strata[c->stratum].name);
	assert_non_null(strstr(prom, want));
	free(want);
	want = xasprintf("canary_cost_usd{suite=\"calendar-assistant\",stratum=\"%s\","
			 "target=\"prod\"} 0.00405\n",
			 r->strata[c->stratum].name);
	assert_non_null(strstr(prom, want));
	assert_null(strstr(prom, "target=\"eval\",kind="));
	assert_true(promtool_ok(prom));
	free(want);
	free(prom);
	cJSON_Delete(tree);
	report_free(r);
}

static void test_prom_labels(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	r->cases[0].id = "quote\" back\\slash\nnewline \xff";
	r->targets[SIDE_PROD].fingerprints[0].value = "sha256:\"9f\"";
	cJSON *tree = tree_of(r);
	char *prom = render(report_prom, tree);

	assert_non_null(strstr(prom, "case=\"quote\\\" back\\\\slash\\nnewline \xef\xbf\xbd\""));
	assert_non_null(strstr(prom, "fingerprint=\"sha256:\\\"9f\\\"\"} 1\n"));
	/* Every sample line is one line. */
	for (char *line = strtok(prom, "\n"); line; line = strtok(NULL, "\n"))
		assert_true(line[0] == '#' || strncmp(line, "canary_", 7) == 0);
	free(prom);
	prom = render(report_prom, tree);
	assert_true(promtool_ok(prom));
	free(prom);
	cJSON_Delete(tree);
	report_free(r);
}

/*
 * TAP.
 */

/* tap_diagnostics: the YAML block after test point "ok N"/"not ok N",
 * parsed; NULL when there is none. */
static cJSON *tap_diagnostics(const char *tap, const char *point)
{
	const char *at = strstr(tap, point);
	char *err = NULL;

	assert_non_null(at);
	const char *nl = strchr(at, '\n');
	if (strncmp(nl + 1, "  ---\n", 6) != 0)
		return NULL;
	const char *end = strstr(nl + 1, "\n  ...\n");
	assert_non_null(end);
	struct buf yaml;
	buf_init(&yaml, BUF_MAX_DEFAULT);
	for (const char *p = nl + 7; p <= end;) {
		const char *eol = strchr(p, '\n');
		assert_true(strncmp(p, "  ", 2) == 0);
		buf_add(&yaml, p + 2, (size_t)(eol - p - 1));
		p = eol + 1;
	}
	struct ydoc *doc = ydoc_parse("tap", yaml.data, yaml.len, &err);
	if (!doc)
		fail_msg("YAML block of '%s': %s", point, err);
	cJSON *json = ynode_to_json(doc->root, &err);
	assert_non_null(json);
	ydoc_free(doc);
	buf_release(&yaml);
	return json;
}

static void test_tap_golden(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	cJSON *tree = tree_of(r);
	char *tap = render(report_tap, tree);
	golden("report.tap", tap);

	assert_null(tap_diagnostics(tap, "ok 2 - tools/list-events"));
	cJSON *d = tap_diagnostics(tap, "not ok 3 - prompt/refund-window # regression");
	assert_string_equal(get(d, "verdict")->valuestring, "regression");
	assert_int_equal(get(get(d, "prod"), "passed")->valueint, 1);
	assert_int_equal(get(get(d, "prod"), "total")->valueint, 3);
	assert_string_equal(cJSON_GetArrayItem(get(get(d, "prod"), "reasons"), 0)->valuestring,
			    REASON_14);
	assert_true(cJSON_IsFalse(get(get(d, "eval"), "ok")));
	assert_int_equal(get(get(d, "eval"), "failed")->valueint, 1);
	cJSON_Delete(d);
	assert_non_null(strstr(tap, "ok 5 - guardrails/no-pii # SKIP filtered out\n"));
	free(tap);
	cJSON_Delete(tree);
	report_free(r);
}

static void test_tap_hostile(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	r->cases[0].id = "a # SKIP\nnot ok 9 - \\";
	r->cases[0].side[SIDE_PROD].samples[0].reasons[0] = "say \"hi\"\n... \x01\x7f \xc2\x85 \xef\xbb\xbf \xff: {x}";
	cJSON *tree = tree_of(r);
	char *tap = render(report_tap, tree);

	assert_non_null(strstr(tap, "not ok 1 - tools/a \\# SKIP\xef\xbf\xbd"
				    "not ok 9 - \\\\ # drift\n"));
	assert_null(strstr(tap, "\nnot ok 9"));
	cJSON *d = tap_diagnostics(tap, "not ok 1 - ");
	assert_string_equal(cJSON_GetArrayItem(get(get(d, "prod"), "reasons"), 0)->valuestring,
			    "say \"hi\"\n... \x01\x7f \xc2\x85 \xef\xbb\xbf \xef\xbf\xbd: {x}");
	cJSON_Delete(d);
	free(tap);
	cJSON_Delete(tree);
	report_free(r);
}

/*
 * Writing files.
 */

static int render_broken(FILE *f, const struct report *r, char **err)
{
	(void)r;
	fputs("half a report", f);
	*err = xstrdup("broken renderer");
	return -1;
}

static void test_write_atomic(void **state)
{
	(void)state;
	char dir[] = "/tmp/canary-atomic-XXXXXX";
	char *err = NULL;

	assert_non_null(mkdtemp(dir));
	struct report *r = test_report_fixture("formats.json");
	char *path = xasprintf("%s/canary.prom", dir);
	char *expected = test_render(report_prom, r);

	/* Written whole, over an older file, with no temporary left. */
	FILE *old = fopen(path, "w");
	assert_non_null(old);
	fputs("old", old);
	fclose(old);
	assert_int_equal(report_write_atomic(path, report_prom, r, &err), 0);
	char *got = util_read_file(path, 1 << 20, NULL, &err);
	assert_non_null(got);
	assert_string_equal(got, expected);
	free(got);
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(access(tmp, F_OK), -1);

	/* A failing renderer leaves the old file and no temporary. */
	assert_int_equal(report_write_atomic(path, render_broken, r, &err), -1);
	assert_string_equal(err, "broken renderer");
	free(err);
	got = util_read_file(path, 1 << 20, NULL, &err);
	assert_string_equal(got, expected);
	free(got);
	assert_int_equal(access(tmp, F_OK), -1);

	/* A folder that does not exist. */
	char *nowhere = xasprintf("%s/no/such/dir/r.xml", dir);
	assert_int_equal(report_write_atomic(nowhere, report_junit, r, &err), -1);
	char *want = xasprintf("cannot write '%s': No such file or directory", nowhere);
	assert_string_equal(err, want);
	free(want);
	free(err);
	free(nowhere);

	unlink(path);
	rmdir(dir);
	free(tmp);
	free(expected);
	free(path);
	report_free(r);
}

/*
 * Merging shard reports.
 */

/* How a shard report leaves out the other shards' cases. */
enum shard_mode {
	SHARD_NATIVE,    /* as `canary run --shard` does: "shard", not skipped */
	SHARD_AS_FILTER, /* like --case: listed as skipped, no "shard" */
};

/* shard_of: a copy of report whole narrowed to shard k of count (every
 * count-th case by position), with its part of the transport counts and
 * fingerprints, starting later and taking longer for higher k, and its
 * verdicts computed as its run would. */
static struct report *shard_of(const struct report *whole, size_t k, size_t count,
			       enum shard_mode mode)
{
	cJSON *tree = tree_of(whole);
	struct report *s = model_of(tree);
	size_t kept = 0;
	char started[32];

	cJSON_Delete(tree);
	s->filtered = 0;
	for (size_t i = 0; i < s->ncases; i++) {
		struct report_case *c = &s->cases[i];
		bool ours = (size_t)c->position % count == k;
		if (!ours && mode == SHARD_NATIVE) {
			s->shard_others++;
			continue;
		}
		c->skipped |= !ours;
		s->filtered += c->skipped;
		s->cases[kept++] = *c;
	}
	s->ncases = kept;
	if (mode == SHARD_NATIVE) {
		s->shard_index = (int)k;
		s->shard_count = (int)count;
	}
	/* Counts that add up to the whole run's over the shards. */
	long share = (long)count, first = k == 0;
	s->requests = whole->requests / share + first * (whole->requests % share);
	s->attempts = whole->attempts / share + first * (whole->attempts % share);
	s->retries = whole->retries / share + first * (whole->retries % share);
	for (int side = 0; side < SIDE__COUNT; side++) {
		for (size_t j = 0; j < s->targets[side].nfingerprints; j++) {
			long total = whole->targets[side].fingerprints[j].count;
			s->targets[side].fingerprints[j].count = total / share + first * (total % share);
		}
	}
	util_rfc3339(TEST_STARTED_MS + 1000 * (long long)(count - k), started);
	s->started_at = report_strdup(s, started);
	s->duration_ms = 1000 + 100 * (double)k;
	verdict_compute(s);
	return s;
}

/* shard_report: shard_of() as its saved tree. */
static cJSON *shard_report(const struct report *whole, size_t k, size_t count,
			   enum shard_mode mode)
{
	struct report *s = shard_of(whole, k, count, mode);
	cJSON *tree = tree_of(s);

	report_free(s);
	return tree;
}

/* merge_trees: report_merge() of saved trees, read back as `canary merge`
 * reads its files (names[i] naming trees[i], "report N" without names):
 * the merged report as a tree; NULL and *err when a tree does not load or
 * they do not merge. */
static cJSON *merge_trees(cJSON *const *trees, const char *const *names, size_t n,
			  unsigned flags, char **err)
{
	struct report **models = xcalloc(n + 1, sizeof(*models));
	cJSON *out = NULL;
	size_t loaded = 0;

	for (; loaded < n; loaded++) {
		char *json = cJSON_PrintUnformatted(trees[loaded]);
		char *name = names ? xstrdup(names[loaded]) : xasprintf("report %zu", loaded + 1);
		models[loaded] = report_parse(name, json, strlen(json), err);
		free(name);
		free(json);
		if (!models[loaded])
			goto out;
	}
	struct report *merged = report_merge(models, names, n, flags, err);
	if (merged) {
		out = tree_of(merged);
		report_free(merged);
	}
out:
	for (size_t i = 0; i < loaded; i++)
		report_free(models[i]);
	free(models);
	return out;
}

/* without_timing: a copy of a report without started_at and duration_ms. */
static cJSON *without_timing(const cJSON *report)
{
	cJSON *copy = cJSON_Duplicate(report, true);

	cJSON_DeleteItemFromObjectCaseSensitive(copy, "started_at");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "duration_ms");
	return copy;
}

static void check_merge_equals(const struct report *w, size_t count, enum shard_mode mode)
{
	cJSON *shards[4];
	const char *names[4] = {"s0.json", "s1.json", "s2.json", "s3.json"};
	char *err = NULL;

	assert_true(count <= ARRAY_SIZE(shards));
	for (size_t k = 0; k < count; k++)
		shards[k] = shard_report(w, k, count, mode);
	/* The shards' reports differ from the whole... */
	cJSON *whole = tree_of(w);
	assert_false(cJSON_Compare(whole, shards[0], true));
	/* ... and merge back into it, in any order. */
	for (int reverse = 0; reverse < 2; reverse++) {
		cJSON *order[4];
		for (size_t k = 0; k < count; k++)
			order[k] = shards[reverse ? count - 1 - k : k];
		cJSON *merged = merge_trees(order, names, count, 0, &err);
		if (!merged)
			fail_msg("%s", err);
		cJSON *a = without_timing(whole), *b = without_timing(merged);
		assert_trees_equal(a, b);
		/* Timing: the earliest start, the longest shard. */
		assert_string_equal(get(merged, "started_at")->valuestring, "2026-01-02T03:04:06Z");
		assert_int_equal(get(merged, "duration_ms")->valueint,
				 1000 + 100 * (int)(count - 1));
		/* The same printed text: key order as a run writes it. */
		char *x = cJSON_Print(a), *y = cJSON_Print(b);
		assert_string_equal(x, y);
		free(x);
		free(y);
		cJSON_Delete(a);
		cJSON_Delete(b);
		cJSON_Delete(merged);
	}
	for (size_t k = 0; k < count; k++)
		cJSON_Delete(shards[k]);
	cJSON_Delete(whole);
}

static void test_merge_equals_unsharded(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	check_merge_equals(r, 2, SHARD_NATIVE);
	check_merge_equals(r, 2, SHARD_AS_FILTER);
	report_free(r);
	r = test_report_fixture(MANY);
	check_merge_equals(r, 3, SHARD_NATIVE);
	check_merge_equals(r, 4, SHARD_AS_FILTER);
	/* A single report merges into itself. */
	check_merge_equals(r, 1, SHARD_NATIVE);
	report_free(r);
}

/* A shard's own report: which shard, the other shards' cases neither
 * listed nor counted as filtered, and the same text as the run's. */
static void test_shard_reports(void **state)
{
	(void)state;
	const char *names[] = {"s0.json", "s1.json", "s2.json"};
	char *err = NULL;
	cJSON *shards[3];

	struct report *r = test_report_fixture(FORMATS);
	struct report *s1 = shard_of(r, 1, 2, SHARD_NATIVE);
	cJSON *tree = tree_of(s1);
	const cJSON *shard = get(tree, "shard");
	assert_int_equal(get(shard, "index")->valueint, 1);
	assert_int_equal(get(shard, "count")->valueint, 2);
	/* book-meeting, refund-window and the filtered no-pii are shard 0's. */
	assert_int_equal(get(shard, "others")->valueint, 3);
	assert_int_equal(get(tree, "filtered")->valueint, 0);
	assert_int_equal(cJSON_GetArraySize(get(tree, "skipped")), 0);
	assert_int_equal(get(tree, "selected")->valueint, 2);

	check_text_saved(s1);
	char *text = text_of(s1);
	assert_non_null(strstr(text, "(3 filtered out)"));
	free(text);
	cJSON_Delete(tree);
	report_free(s1);

	/* Shard 0 lists the case that --case left out. */
	tree = shard_report(r, 0, 2, SHARD_NATIVE);
	assert_int_equal(get(tree, "filtered")->valueint, 1);
	assert_string_equal(get(cJSON_GetArrayItem(get(tree, "skipped"), 0), "id")->valuestring,
			    "no-pii");
	cJSON_Delete(tree);

	/* A missing shard is refused, unless a partial merge is asked for. */
	report_free(r);
	r = test_report_fixture(MANY);
	for (size_t k = 0; k < 3; k++)
		shards[k] = shard_report(r, k, 3, SHARD_NATIVE);
	cJSON *two[] = {shards[0], shards[2]};
	const char *two_names[] = {names[0], names[2]};
	assert_null(merge_trees(two, two_names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: 2 of 3 shards given; missing shard 1 (pass "
				 "--partial to merge what there is)");
	free(err);
	cJSON *partial = merge_trees(two, two_names, 2, REPORT_MERGE_PARTIAL, &err);
	assert_non_null(partial);
	assert_int_equal(get(partial, "selected")->valueint,
			 get(shards[0], "selected")->valueint +
				 get(shards[2], "selected")->valueint);
	cJSON_Delete(partial);
	/* Two reports of one shard. */
	cJSON *same[] = {shards[1], shards[0], shards[1]};
	assert_null(merge_trees(same, names, 3, 0, &err));
	assert_string_equal(err, "cannot merge: 's0.json' and 's2.json' are both shard 1/3");
	free(err);
	/* Reports of different shardings. */
	cJSON *other = shard_report(r, 1, 4, SHARD_NATIVE);
	cJSON *mixed[] = {shards[0], other};
	assert_null(merge_trees(mixed, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: 's0.json' is one of 3 shards, 's1.json' one of 4");
	free(err);
	cJSON_Delete(other);
	for (size_t k = 0; k < 3; k++)
		cJSON_Delete(shards[k]);
	report_free(r);
}

static void test_merge_refusals(void **state)
{
	(void)state;
	const char *names[] = {"a.json", "b.json"};
	char *err = NULL;
	cJSON *pair[2];

	struct report *r = test_report_fixture(FORMATS);
	pair[0] = shard_report(r, 0, 2, SHARD_AS_FILTER);
	pair[1] = shard_report(r, 1, 2, SHARD_AS_FILTER);

	/* Different suites. */
	cJSON_ReplaceItemInObjectCaseSensitive(pair[1], "suite", cJSON_CreateString("other"));
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: 'a.json' is suite 'calendar-assistant', "
				 "'b.json' is suite 'other'");
	free(err);
	cJSON_ReplaceItemInObjectCaseSensitive(pair[1], "suite",
					       cJSON_CreateString("calendar-assistant"));

	/* Another version of the suite: other strata, or other cases. */
	cJSON *strata = field(pair[1], "suite_strata");
	cJSON_AddItemToArray(strata, cJSON_CreateString("new"));
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: 'a.json' and 'b.json' list different strata of "
				 "suite 'calendar-assistant' (different versions of the suite?)");
	free(err);
	cJSON_DeleteItemFromArray(strata, 3);
	cJSON_ReplaceItemInObjectCaseSensitive(pair[1], "suite_cases", cJSON_CreateNumber(9));
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: suite 'calendar-assistant' has 5 cases in "
				 "'a.json' and 9 in 'b.json' (different versions of the suite?)");
	free(err);
	cJSON_ReplaceItemInObjectCaseSensitive(pair[1], "suite_cases", cJSON_CreateNumber(5));

	/* Shards that confirmed differently would test their cases differently. */
	cJSON_ReplaceItemInObjectCaseSensitive(pair[1], "confirm", cJSON_CreateNumber(9));
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: 'a.json' and 'b.json' were run with different "
				 "--alpha, --confirm, --min-valid, --strict, --fail-on-unevaluated "
				 "or --expect-fingerprint");
	free(err);
	cJSON_ReplaceItemInObjectCaseSensitive(pair[1], "confirm", cJSON_CreateNumber(0));
	cJSON_ReplaceItemInObjectCaseSensitive(pair[1], "min_valid", cJSON_CreateNumber(0.8));
	assert_null(merge_trees(pair, names, 2, 0, &err));
	free(err);
	cJSON_ReplaceItemInObjectCaseSensitive(pair[1], "min_valid",
					       cJSON_Duplicate(field(pair[0], "min_valid"), true));

	/* The same case in two reports. */
	cJSON_AddItemToArray(field(pair[1], "cases"),
			     cJSON_Duplicate(item(field(pair[0], "cases"), 0), true));
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: case 'book-meeting' is in both 'a.json' and "
				 "'b.json'");
	free(err);
	cJSON_DeleteItemFromArray(field(pair[1], "cases"), 2);
	cJSON_AddItemToArray(field(pair[0], "cases"),
			     cJSON_Duplicate(item(field(pair[0], "cases"), 1), true));
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: case 'refund-window' appears twice in 'a.json'");
	free(err);
	cJSON_DeleteItemFromArray(field(pair[0], "cases"), 2);

	/* A position past the suite. */
	cJSON *c1 = item(field(pair[1], "cases"), 0);
	cJSON_ReplaceItemInObjectCaseSensitive(c1, "position", cJSON_CreateNumber(9));
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: case 'list-events' is at position 9, past the "
				 "suite's 5 cases");
	free(err);
	cJSON_ReplaceItemInObjectCaseSensitive(c1, "position", cJSON_CreateNumber(1));

	/* Both claim the same shard. */
	for (int k = 0; k < 2; k++) {
		cJSON *shard = cJSON_AddObjectToObject(pair[k], "shard");
		cJSON_AddNumberToObject(shard, "index", 1);
		cJSON_AddNumberToObject(shard, "count", 2);
	}
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: 'a.json' and 'b.json' are both shard 1/2");
	free(err);
	cJSON_ReplaceItemInObjectCaseSensitive(field(pair[0], "shard"), "index",
					       cJSON_CreateNumber(0));
	cJSON *merged = merge_trees(pair, names, 2, 0, &err);
	assert_non_null(merged);
	assert_null(cJSON_GetObjectItemCaseSensitive(merged, "shard"));
	cJSON_Delete(merged);

	/* Not a report, and a report from before merging was possible. */
	cJSON_DeleteItemFromObjectCaseSensitive(pair[1], "suite_strata");
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge 'b.json': it has no 'suite_strata' (written by an "
				 "older canary?)");
	free(err);
	cJSON_DeleteItemFromObjectCaseSensitive(pair[1], "canary_report");
	assert_null(merge_trees(pair, NULL, 2, 0, &err));
	assert_string_equal(err, "'report 2': not a canary report (no 'canary_report' field)");
	free(err);
	assert_null(merge_trees(pair, NULL, 0, 0, &err));
	assert_string_equal(err, "nothing to merge");
	free(err);

	cJSON_Delete(pair[0]);
	cJSON_Delete(pair[1]);
	report_free(r);
}

static const char *const strata3[] = {"tools", "prompt", "guardrails", NULL};

/* report_outcomes: cases a and b in tools, c in prompt, repeat 1, with the
 * grades given as "EP EP EP" (eval and prod of a, b, c: p pass, f fail,
 * e error). */
static struct report *report_outcomes(const char *grades)
{
	static const char *const ids[] = {"a", "b", "c"};
	static const size_t strata[] = {0, 0, 1};
	struct report *r = test_report_new("calendar-assistant", strata3);

	for (size_t i = 0; i < 3; i++) {
		size_t ci = test_report_case(r, strata[i], ids[i], 1);
		for (int side = 0; side < SIDE__COUNT; side++) {
			char g = grades[i * 3 + (size_t)side];
			test_report_sample(r, ci, (enum side)side,
					   g == 'p' ? GRADE_PASS : g == 'f' ? GRADE_FAIL : GRADE_ERROR,
					   g == 'p' ? NULL : REASON_CONN, NULL);
		}
	}
	verdict_compute(r);
	return r;
}

/* Merging recomputes the verdict and exit code from the cases, as the
 * unsharded run computes them. */
static void test_merge_exit_codes(void **state)
{
	(void)state;
	char *err = NULL;
	static const struct {
		const char *grades;
		bool interrupted;   /* only the second shard was */
		const char *verdict;
		int exit_code;
	} rows[] = {
		{"pp pp pp", false, "pass", 0},
		{"pf pp pp", false, "drift", 1},
		{"ep pp pp", false, "error", 3},
		{"fp ee pp", false, "eval-regression", 1},
		{"ff pp pf", false, "drift", 1},
		{"ff pp pp", false, "regression", 1},
		{"pp pp pp", true, "pass", 130},
		{"pf pp pp", true, "drift", 130},
	};

	for (size_t row = 0; row < ARRAY_SIZE(rows); row++) {
		struct report *r = report_outcomes(rows[row].grades);
		cJSON *pair[] = {shard_report(r, 0, 2, SHARD_NATIVE),
				 shard_report(r, 1, 2, SHARD_NATIVE)};
		if (rows[row].interrupted)
			cJSON_ReplaceItemInObjectCaseSensitive(pair[1], "interrupted",
							       cJSON_CreateTrue());
		cJSON *merged = merge_trees(pair, NULL, 2, 0, &err);
		if (!merged)
			fail_msg("%s", err);
		assert_string_equal(get(merged, "verdict")->valuestring, rows[row].verdict);
		assert_int_equal(get(merged, "exit_code")->valueint, rows[row].exit_code);
		assert_int_equal(cJSON_IsTrue(get(merged, "interrupted")), rows[row].interrupted);
		if (!rows[row].interrupted) {
			assert_string_equal(verdict_name(r->verdict), rows[row].verdict);
			assert_int_equal(r->exit_code, rows[row].exit_code);
		}
		/* The merged report renders like any other. */
		char *text = render(report_text, merged);
		char *line = xasprintf("(exit %d)\n", rows[row].exit_code);
		assert_non_null(strstr(text, line));
		free(line);
		free(text);
		cJSON_Delete(merged);
		cJSON_Delete(pair[0]);
		cJSON_Delete(pair[1]);
		report_free(r);
	}

	/* A verdict edited by hand does not survive: the samples decide. */
	struct report *r = report_outcomes("pf pp pp");
	cJSON *pair[] = {shard_report(r, 0, 2, SHARD_NATIVE), shard_report(r, 1, 2, SHARD_NATIVE)};
	cJSON *a = item(field(pair[0], "cases"), 0);
	assert_string_equal(get(a, "id")->valuestring, "a");
	cJSON_ReplaceItemInObjectCaseSensitive(a, "verdict", cJSON_CreateString("pass"));
	cJSON_ReplaceItemInObjectCaseSensitive(pair[0], "exit_code", cJSON_CreateNumber(0));
	cJSON *merged = merge_trees(pair, NULL, 2, 0, &err);
	assert_non_null(merged);
	assert_string_equal(get(item(field(merged, "cases"), 0), "verdict")->valuestring, "drift");
	assert_int_equal(get(merged, "exit_code")->valueint, 1);
	cJSON_Delete(merged);
	cJSON_Delete(pair[0]);
	cJSON_Delete(pair[1]);
	report_free(r);
}

/*
 * Odd reports.
 */

/* A flaky case passes in every format, with what differed kept. */
static void test_flaky_passes(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	cJSON *tree = tree_of(r);
	cJSON *c = item(field(tree, "cases"), 0);
	cJSON_ReplaceItemInObjectCaseSensitive(c, "verdict", cJSON_CreateString("flaky"));
	char *xml = render(report_junit, tree);
	char *tap = render(report_tap, tree);

	assert_non_null(strstr(xml, "name=\"book-meeting\" time=\"0.200\">\n      <system-out>"
				    "flaky: "));
	assert_non_null(strstr(xml, "<testsuite name=\"tools\" tests=\"2\" failures=\"0\""));
	assert_non_null(strstr(tap, "\nok 1 - tools/book-meeting # flaky\n  ---\n"));
	assert_true(xmllint_ok(xml));
	free(xml);
	free(tap);
	cJSON_Delete(tree);
	report_free(r);
}

/* A node of a tree and its parent. */
struct node_ref {
	cJSON *parent;
	cJSON *node;
};

/* collect_nodes: every node under o. */
static void collect_nodes(cJSON *o, struct node_ref **refs, size_t *n)
{
	cJSON *child;

	cJSON_ArrayForEach(child, o) {
		*refs = xreallocarray(*refs, *n + 1, sizeof(**refs));
		(*refs)[(*n)++] = (struct node_ref){o, child};
		collect_nodes(child, refs, n);
	}
}

/* like_value: a value of the same type as v, another one. */
static cJSON *like_value(const cJSON *v, unsigned k)
{
	static const char *const strings[] = {"x", "drift", "tools", "", "\xff<&>\n|#\\ \"q\""};
	static const double numbers[] = {0, 7, 3, 1e9, 2147483647};

	if (cJSON_IsString(v))
		return cJSON_CreateString(strings[k % ARRAY_SIZE(strings)]);
	if (cJSON_IsNumber(v))
		return cJSON_CreateNumber(numbers[k % ARRAY_SIZE(numbers)]);
	if (cJSON_IsBool(v))
		return cJSON_CreateBool(!cJSON_IsTrue(v));
	if (cJSON_IsArray(v))
		return cJSON_CreateArray();
	return cJSON_Duplicate(v, true);
}

static cJSON *odd_value(unsigned k)
{
	switch (k % 9) {
	case 0: return cJSON_CreateString("x");
	case 1: return cJSON_CreateNumber(-1);
	case 2: return cJSON_CreateNumber(1e300);
	case 3: return cJSON_CreateNull();
	case 4: return cJSON_CreateObject();
	case 5: return cJSON_CreateArray();
	case 6: return cJSON_CreateTrue();
	case 7: return cJSON_CreateNumber(2.5);
	default: return cJSON_CreateString("drift");
	}
}

/* A hand-edited report, values changed (mostly to another of the same
 * type) or removed at random: every
 * renderer and merge either works or refuses it with a message; none
 * crashes (run under ASan/UBSan in CI). */
static void test_edited_reports(void **state)
{
	(void)state;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	size_t refused = 0, rendered = 0;

	struct report *basic = test_report_fixture(FORMATS);
	cJSON *whole = tree_of(basic);
	cJSON *other = shard_report(basic, 1, 2, SHARD_AS_FILTER);
	for (int round = 0; round < 1000; round++) {
		cJSON *tree = cJSON_Duplicate(whole, true);
		for (int edits = 0; edits < 1 + round % 3; edits++) {
			struct node_ref *refs = NULL;
			size_t n = 0;
			collect_nodes(tree, &refs, &n);
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			struct node_ref r = refs[(seed >> 33) % n];
			unsigned how = (unsigned)(seed >> 20) % 10;
			unsigned k = (unsigned)(seed >> 40);
			if (how == 9)
				cJSON_Delete(cJSON_DetachItemViaPointer(r.parent, r.node));
			else
				cJSON_ReplaceItemViaPointer(r.parent, r.node,
							    how < 6 ? like_value(r.node, k)
								    : odd_value(k));
			free(refs);
		}
		char *err = NULL;
		char *json = cJSON_PrintUnformatted(tree);
		struct report *model = report_parse("t.json", json, strlen(json), &err);
		assert_true((model == NULL) == (err != NULL));
		refused += model == NULL;
		free(err);
		free(json);
		for (const struct report_format *fmt = report_formats; model && fmt->name; fmt++) {
			char *text = test_render(fmt->render, model);
			rendered++;
			/* Whatever was edited, JUnit output stays valid. */
			if (fmt->render == report_junit && round % 5 == 0)
				assert_true(xmllint_ok(text));
			free(text);
		}
		report_free(model);
		cJSON *pair[] = {tree, other};
		err = NULL;
		cJSON *merged = merge_trees(pair, NULL, 2, 0, &err);
		assert_true((merged == NULL) == (err != NULL));
		/* What merge makes is a valid report. */
		if (merged)
			report_free(model_of(merged));
		cJSON_Delete(merged);
		free(err);
		cJSON_Delete(tree);
	}
	print_message("edited reports: %zu renderings, %zu refusals\n", rendered, refused);
	/* Both outcomes happened. */
	assert_true(refused > 100 && rendered > 100);
	cJSON_Delete(other);
	cJSON_Delete(whole);
	report_free(basic);
}


/*
 * Regressions: verdicts kept through merging, --strict, budgets, labels,
 * run-level fields of merged reports, hostile counts.
 */

/* report_two_of_three: case id at threshold, repeat 3, eval passing 3/3
 * and prod 2/3, and case other_id passing once a side in stratum
 * other_stratum; computed with --strict when strict. */
static struct report *report_two_of_three(const char *id, double threshold,
					  const char *other_id, size_t other_stratum, bool strict)
{
	struct report *r = test_report_new("calendar-assistant", strata3);
	size_t ci = test_report_case(r, 0, id, 3);

	r->cases[ci].threshold = threshold;
	for (int k = 0; k < 3; k++)
		test_report_sample(r, ci, SIDE_EVAL, GRADE_PASS, NULL, NULL);
	test_report_sample(r, ci, SIDE_PROD, GRADE_PASS, NULL, NULL);
	test_report_sample(r, ci, SIDE_PROD, GRADE_FAIL, REASON_14, NULL);
	test_report_sample(r, ci, SIDE_PROD, GRADE_PASS, NULL, NULL);
	size_t other = test_report_case(r, other_stratum, other_id, 1);
	test_report_sample(r, other, SIDE_EVAL, GRADE_PASS, NULL, NULL);
	test_report_sample(r, other, SIDE_PROD, GRADE_PASS, NULL, NULL);
	r->strict = strict;
	verdict_compute(r);
	return r;
}

/* report_threshold: 2/3 against a threshold of 0.6666666 is a pass, not a
 * flaky case. */
static struct report *report_threshold(void)
{
	return report_two_of_three("two-of-three", 0.6666666, "other", 1, true);
}

/* The threshold is written whole, so that merging (which computes verdicts
 * again from it) agrees with the run; rates and p-values, rounded for
 * display, are not read back. */
static void test_threshold_survives_merge(void **state)
{
	(void)state;
	struct report *r = report_threshold();
	char *err = NULL;

	assert_int_equal(r->cases[0].verdict, VERDICT_PASS);
	assert_int_equal(r->exit_code, EXIT_PASS);

	/* Saved as text and read back, as `canary merge t.json` does. */
	cJSON *saved = tree_of(r);
	assert_true(get(item(field(saved, "cases"), 0), "threshold")->valuedouble == 0.6666666);
	cJSON *merged = merge_trees(&saved, NULL, 1, 0, &err);
	if (!merged)
		fail_msg("%s", err);
	assert_string_equal(get(item(field(merged, "cases"), 0), "verdict")->valuestring, "pass");
	assert_string_equal(get(merged, "verdict")->valuestring, "pass");
	assert_int_equal(get(merged, "exit_code")->valueint, 0);
	cJSON_Delete(merged);

	/* Display fields edited by hand change nothing merge computes. */
	cJSON *c = item(field(saved, "cases"), 0);
	cJSON *prod = field(c, "prod");
	cJSON_ReplaceItemInObjectCaseSensitive(prod, "rate", cJSON_CreateNumber(0.6666));
	cJSON_ReplaceItemInObjectCaseSensitive(prod, "ok", cJSON_CreateFalse());
	cJSON_ReplaceItemInObjectCaseSensitive(c, "p_value", cJSON_CreateNumber(0));
	cJSON_ReplaceItemInObjectCaseSensitive(c, "verdict", cJSON_CreateString("drift"));
	cJSON_ReplaceItemInObjectCaseSensitive(item(field(saved, "strata"), 0), "p_adjusted",
					       cJSON_CreateNumber(0));
	merged = merge_trees(&saved, NULL, 1, 0, &err);
	assert_non_null(merged);
	assert_string_equal(get(item(field(merged, "cases"), 0), "verdict")->valuestring, "pass");
	assert_true(cJSON_IsTrue(get(get(item(field(merged, "cases"), 0), "prod"), "ok")));
	assert_int_equal(get(merged, "exit_code")->valueint, 0);
	cJSON_Delete(merged);
	cJSON_Delete(saved);

	/* Shards of it merge into the run's verdicts too. */
	check_merge_equals(r, 2, SHARD_NATIVE);
	report_free(r);
}

/* report_flaky: a repeated case whose sides disagree without significance
 * (flaky), a pass, and strict as asked. */
static struct report *report_flaky(bool strict)
{
	return report_two_of_three("wobbly", 1.0, "steady", 0, strict);
}

/* Under --strict a flaky case fails the run, and every format says so. */
static void test_strict_flaky_fails(void **state)
{
	(void)state;
	struct report *r = report_flaky(true);

	assert_int_equal(r->cases[0].verdict, VERDICT_FLAKY);
	assert_int_equal(r->exit_code, EXIT_FAIL);
	char *xml = test_render(report_junit, r);
	char *tap = test_render(report_tap, r);
	char *md = test_render(report_markdown, r);

	assert_non_null(strstr(xml, "<testsuites name=\"canary calendar-assistant\" tests=\"2\" "
				    "failures=\"1\" errors=\"0\""));
	assert_non_null(strstr(xml, "<testsuite name=\"tools\" tests=\"2\" failures=\"1\""));
	assert_non_null(strstr(xml, "name=\"wobbly\" time=\"0.662\">\n      <failure "
				    "message=\"flaky: prod failed\" type=\"flaky\">flaky: "));
	assert_non_null(strstr(xml, "(--strict fails it)\nnote: difference not significant\n"));
	assert_null(strstr(xml, "<system-out>"));
	assert_true(xmllint_ok(xml));
	assert_non_null(strstr(tap, "\nnot ok 1 - tools/wobbly # flaky\n  ---\n"));
	assert_non_null(strstr(tap, "\nok 2 - tools/steady\n"));
	assert_non_null(strstr(tap, "# verdict: flaky (exit 1)\n"));
	assert_non_null(strstr(md, "## ❌ canary: calendar-assistant — flaky\n"));
	assert_non_null(strstr(md, "\n❌ **flaky** in tools (exit 1)\n"));
	assert_non_null(strstr(md, "| tools/wobbly | **flaky**<br>difference not significant |"));
	free(xml);
	free(tap);
	free(md);
	report_free(r);

	/* Without --strict it passes, as before. */
	r = report_flaky(false);
	assert_int_equal(r->exit_code, EXIT_PASS);
	xml = test_render(report_junit, r);
	tap = test_render(report_tap, r);
	md = test_render(report_markdown, r);
	assert_non_null(strstr(xml, "tests=\"2\" failures=\"0\""));
	assert_non_null(strstr(xml, "name=\"wobbly\" time=\"0.662\">\n      <system-out>flaky: "));
	assert_non_null(strstr(tap, "\nok 1 - tools/wobbly # flaky\n"));
	assert_non_null(strstr(md, "\n✅ **flaky** in tools (exit 0)\n"));
	assert_non_null(strstr(md, "| tools/wobbly | flaky<br>difference not significant |"));
	assert_true(xmllint_ok(xml));
	free(xml);
	free(tap);
	free(md);
	report_free(r);
}

/* line_of: the line of text that starts with prefix, copied; fails when
 * there is none. */
static char *line_of(const char *text, const char *prefix)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, prefix, strlen(prefix)) != 0)
			continue;
		const char *end = strchr(p, '\n');
		return xasprintf("%.*s", (int)(end ? end - p : (long)strlen(p)), p);
	}
	fail_msg("no line starting with '%s'", prefix);
	return NULL;
}

/* Many drifting strata with long names full of '<' (each escaped to four
 * bytes): the verdict line names ten and counts the rest, and the whole
 * summary, header included, stays under the cap. */
static void test_markdown_many_strata(void **state)
{
	(void)state;
	static const int counts[] = {1400, 6000};
	char *lt = xcalloc(1, 3001);

	memset(lt, '<', 3000);
	struct report *r = test_report_fixture(FORMATS);
	r->targets[SIDE_PROD].url = "http://127.0.0.1/@everyone";
	for (size_t k = 0; k < ARRAY_SIZE(counts); k++) {
		cJSON *tree = tree_of(r);
		cJSON *strata = field(tree, "strata"), *cases = field(tree, "cases");
		cJSON *stratum = cJSON_Duplicate(item(strata, 0), true);
		cJSON *c = cJSON_Duplicate(item(cases, 0), true);
		for (int i = 0; i < counts[k]; i++) {
			char *name = xasprintf("%04d%s", i, lt);
			char *id = xasprintf("case-%04d%s", i, lt);
			cJSON *s2 = cJSON_Duplicate(stratum, true), *c2 = cJSON_Duplicate(c, true);
			cJSON_ReplaceItemInObjectCaseSensitive(s2, "name", cJSON_CreateString(name));
			cJSON_AddItemToArray(strata, s2);
			cJSON_ReplaceItemInObjectCaseSensitive(c2, "stratum", cJSON_CreateString(name));
			cJSON_ReplaceItemInObjectCaseSensitive(c2, "id", cJSON_CreateString(id));
			cJSON_ReplaceItemInObjectCaseSensitive(c2, "position",
							       cJSON_CreateNumber(10 + i));
			cJSON_AddItemToArray(cases, c2);
			free(name);
			free(id);
		}
		cJSON_Delete(stratum);
		cJSON_Delete(c);
		char *md = render(report_markdown, tree);
		size_t len = strlen(md);
		print_message("%d strata: %zu bytes of markdown\n", counts[k], len);
		assert_true(len < REPORT_MARKDOWN_MAX);
		assert_null(strstr(md, "<<"));
		char *line = line_of(md, "❌ **drift** in tools, 0000&lt;");
		char *more = xasprintf(" and %d more; 1 case could not be measured (exit 1)",
				       counts[k] + 1 - 10);
		assert_non_null(strstr(line, more));
		assert_non_null(strstr(line, ", 0008&lt;"));
		assert_null(strstr(line, ", 0009&lt;"));
		assert_true(strlen(line) < 10 * 220 + 200);
		/* No mention made of a URL's or a name's '@'. */
		assert_null(strstr(md, "@everyone"));
		assert_non_null(strstr(md, "@\xe2\x80\x8b" "everyone"));
		/* Whatever was cut says so. */
		assert_non_null(strstr(md, "the summary is cut to stay under 1 MiB"));
		free(more);
		free(line);
		free(md);
		cJSON_Delete(tree);
	}
	free(lt);
	report_free(r);
}

/* hex12: whether s starts with 12 lowercase hex digits. */
static bool hex12(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (!strchr("0123456789abcdef", s[i]) || !s[i])
			return false;
	return true;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Label values too long to write whole are cut and marked with a hash of
 * the whole value: values sharing their first 4 KiB stay distinct series. */
static void test_prom_long_labels(void **state)
{
	(void)state;
	char *base = xcalloc(1, 5001);

	memset(base, 'f', 5000);
	char *fp_a = xasprintf("sha256:%s-a", base), *fp_b = xasprintf("sha256:%s-b", base);
	char *id_a = xasprintf("%s-a", base), *id_b = xasprintf("%s-b", base);
	struct report *r = test_report_fixture(FORMATS);
	r->targets[SIDE_PROD].fingerprints[0].value = fp_a;
	r->targets[SIDE_PROD].fingerprints[1].value = fp_b;
	r->cases[0].id = id_a;
	r->cases[1].id = id_b;
	cJSON *tree = tree_of(r);
	char *prom = render(report_prom, tree);
	char *again = render(report_prom, tree);

	assert_string_equal(prom, again);
	assert_true(promtool_ok(prom));
	/* Every series once. */
	char **lines = NULL;
	size_t n = 0;
	for (char *line = strtok(prom, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#')
			continue;
		char *labels_end = strrchr(line, '}');
		assert_non_null(labels_end);
		lines = xreallocarray(lines, n + 1, sizeof(*lines));
		lines[n++] = xasprintf("%.*s", (int)(labels_end - line), line);
	}
	qsort(lines, n, sizeof(*lines), str_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(lines[i - 1], lines[i]) == 0)
			fail_msg("duplicate series '%.80s...'", lines[i]);
	/* The mark is the SHA-256 of the whole value. */
	char *sha = fingerprint_sha256(fp_b, strlen(fp_b));
	char *mark = xasprintf("...~%.12s\"", sha + strlen(FINGERPRINT_PREFIX));
	assert_non_null(strstr(again, mark));
	size_t marks = 0;
	for (const char *p = again; (p = strstr(p, "...~")); p += 4) {
		assert_true(hex12(p + 4));
		assert_int_equal(p[16], '"');
		marks++;
	}
	/* Two fingerprints, and two cases on two targets. */
	assert_int_equal(marks, 2 + 4);
	/* Short values are written whole, as before, up to 4096 bytes. */
	assert_non_null(strstr(again, "case=\"refund-window\",target=\"eval\"} 1\n"));
	cJSON *fps = field(field(field(tree, "targets"), "eval"), "fingerprints");
	char *edge = xasprintf("%.4096s", base);
	cJSON_AddNumberToObject(fps, edge, 1);
	char *prom_edge = render(report_prom, tree);
	char *whole = xasprintf("fingerprint=\"%s\"} 1\n", edge);
	assert_non_null(strstr(prom_edge, whole));
	free(whole);
	free(prom_edge);
	free(edge);
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	free(mark);
	free(sha);
	free(again);
	free(prom);
	cJSON_Delete(tree);
	free(fp_a);
	free(fp_b);
	free(id_a);
	free(id_b);
	free(base);
	report_free(r);
}

/* set_judge: the judge of a shard report as another canary binary wrote
 * it, with its calls and cache hits. */
static void set_judge(cJSON *report, const char *hash, int calls, int hits)
{
	cJSON *judge = field(report, "judge");

	cJSON_ReplaceItemInObjectCaseSensitive(judge, "template", cJSON_CreateString("judge-v0"));
	cJSON_ReplaceItemInObjectCaseSensitive(judge, "template_hash", cJSON_CreateString(hash));
	cJSON_ReplaceItemInObjectCaseSensitive(judge, "calls", cJSON_CreateNumber(calls));
	cJSON_ReplaceItemInObjectCaseSensitive(judge, "cache_hits", cJSON_CreateNumber(hits));
}

/* A merged report keeps the reports' judge (api, model, template and its
 * hash), sums its calls and cache hits, and refuses reports graded by
 * different judges; the history of one run is not a merged run's. */
static void test_merge_judge_history(void **state)
{
	(void)state;
	const char *names[] = {"a.json", "b.json"};
	char *err = NULL;

	struct report *r = test_report_fixture(FORMATS);
	r->judge = (struct report_judge){
		.present = true,
		.model = "judge-model",
		.api = "anthropic-messages",
		.template = "judge-v1",
		.template_hash = "sha256:cafe",
	};
	r->history.present = true;
	report_names_add(r, &r->history.unevaluated, "sha256:9f00");
	cJSON *pair[] = {shard_report(r, 0, 2, SHARD_NATIVE), shard_report(r, 1, 2, SHARD_NATIVE)};
	set_judge(pair[0], "sha256:0123", 7, 2);
	set_judge(pair[1], "sha256:0123", 5, 1);

	cJSON *merged = merge_trees(pair, names, 2, 0, &err);
	if (!merged)
		fail_msg("%s", err);
	const cJSON *judge = get(merged, "judge");
	assert_string_equal(get(judge, "api")->valuestring, "anthropic-messages");
	assert_string_equal(get(judge, "model")->valuestring, "judge-model");
	assert_string_equal(get(judge, "template")->valuestring, "judge-v0");
	assert_string_equal(get(judge, "template_hash")->valuestring, "sha256:0123");
	assert_int_equal(get(judge, "calls")->valueint, 12);
	assert_int_equal(get(judge, "cache_hits")->valueint, 3);
	assert_null(cJSON_GetObjectItemCaseSensitive(merged, "history"));
	report_free(model_of(merged));
	cJSON_Delete(merged);

	/* One report: its judge and its history as they are. */
	merged = merge_trees(pair, names, 1, REPORT_MERGE_PARTIAL, &err);
	assert_non_null(merged);
	assert_true(cJSON_Compare(get(merged, "judge"), get(pair[0], "judge"), true));
	assert_true(cJSON_Compare(get(merged, "history"), get(pair[0], "history"), true));
	cJSON_Delete(merged);

	/* Another prompt template, another judge model, no judge. */
	set_judge(pair[1], "sha256:4567", 5, 1);
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: 'a.json' and 'b.json' differ in "
				 "'judge.template_hash' ('sha256:0123' and 'sha256:4567')");
	free(err);
	set_judge(pair[1], "sha256:0123", 5, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(field(pair[1], "judge"), "model",
					       cJSON_CreateString("other-model"));
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: 'a.json' and 'b.json' differ in 'judge.model' "
				 "('judge-model' and 'other-model')");
	free(err);
	cJSON_DeleteItemFromObjectCaseSensitive(pair[0], "judge");
	assert_null(merge_trees(pair, names, 2, 0, &err));
	assert_string_equal(err, "cannot merge: 'b.json' has a judge and 'a.json' has none "
				 "(different versions of the suite?)");
	free(err);
	cJSON_Delete(pair[0]);
	cJSON_Delete(pair[1]);
	report_free(r);
}

/* Counts that do not add up, or large enough to overflow sums of ints, are
 * refused by name, by every renderer and by merge. */
static void test_hostile_counts(void **state)
{
	(void)state;
	char *err = NULL;
	static const struct {
		const char *where;   /* "case" (cases[0]), "prod", "sample", "stratum", "judge" */
		const char *key;
		double value;
		const char *message;
	} rows[] = {
		{"prod", "passed", 2147483647,
		 "'cases[0].prod.passed' is not a whole number from 0 to 1000000"},
		{"prod", "failed", -1, "'cases[0].prod.failed' is not a whole number from 0 to 1000000"},
		{"prod", "errors", 1000001,
		 "'cases[0].prod.errors' is not a whole number from 0 to 1000000"},
		{"prod", "passed", 5, "'cases[0].prod.total' is 1, not passed + failed + errors (6)"},
		{"prod", "total", 0, "'cases[0].prod.total' is 0, not passed + failed + errors (1)"},
		{"case", "repeat", 2000000, "'cases[0].repeat' is not a whole number from 0 to 1000000"},
		{"sample", "index", 2147483647,
		 "'cases[0].eval.samples[0].index' is not a whole number from 0 to 1000000"},
		{"sample", "attempts", 1e7,
		 "'cases[0].eval.samples[0].attempts' is not a whole number from 0 to 1000000"},
		{"stratum", "passed", 3, "'strata[0].eval.passed' is 3, more than its total (2)"},
		{"judge", "calls", -2, "'judge.calls' is not a whole number from 0"},
	};

	struct report *r = test_report_fixture(FORMATS);
	r->judge = (struct report_judge){.present = true, .model = "judge-model",
					 .template = "judge-v1", .template_hash = "sha256:cafe"};
	cJSON *whole = tree_of(r);
	report_free(r);
	for (size_t row = 0; row < ARRAY_SIZE(rows); row++) {
		cJSON *tree = cJSON_Duplicate(whole, true);
		cJSON *c = item(field(tree, "cases"), 0);
		cJSON *o = strcmp(rows[row].where, "case") == 0 ? c
			   : strcmp(rows[row].where, "prod") == 0 ? field(c, "prod")
			   : strcmp(rows[row].where, "sample") == 0
				   ? item(field(field(c, "eval"), "samples"), 0)
			   : strcmp(rows[row].where, "stratum") == 0
				   ? field(item(field(tree, "strata"), 0), "eval")
				   : field(tree, "judge");
		cJSON_ReplaceItemInObjectCaseSensitive(o, rows[row].key,
						       cJSON_CreateNumber(rows[row].value));
		err = load_fail(tree);
		assert_string_equal(err, rows[row].message);
		free(err);
		/* As a saved file, indented. */
		char *json = cJSON_Print(tree);
		assert_null(report_parse("t.json", json, strlen(json), &err));
		char *want = xasprintf("'t.json': %s", rows[row].message);
		assert_string_equal(err, want);
		free(want);
		free(err);
		free(json);
		cJSON_Delete(tree);
	}

	/* A total that the samples listed cannot account for. */
	cJSON *tree = cJSON_Duplicate(whole, true);
	cJSON *prod = field(item(field(tree, "cases"), 0), "prod");
	cJSON_ReplaceItemInObjectCaseSensitive(prod, "failed", cJSON_CreateNumber(1000000));
	cJSON_ReplaceItemInObjectCaseSensitive(prod, "total", cJSON_CreateNumber(1000000));
	err = load_fail(tree);
	assert_string_equal(err, "'cases[0].prod.total' is 1000000, more than the case's repeat "
				 "and confirm (1) and the samples listed (1)");
	free(err);

	/* The largest counts allowed merge and render without overflow (this
	 * test runs under UBSan in CI). */
	cJSON *c = item(field(tree, "cases"), 0);
	cJSON_ReplaceItemInObjectCaseSensitive(c, "repeat", cJSON_CreateNumber(REPORT_COUNT_MAX));
	for (int side = 0; side < 2; side++) {
		cJSON *s = field(c, side ? "prod" : "eval");
		cJSON_ReplaceItemInObjectCaseSensitive(s, "passed",
						       cJSON_CreateNumber(side ? 0 : REPORT_COUNT_MAX));
		cJSON_ReplaceItemInObjectCaseSensitive(s, "failed",
						       cJSON_CreateNumber(side ? REPORT_COUNT_MAX : 0));
		cJSON_ReplaceItemInObjectCaseSensitive(s, "errors", cJSON_CreateNumber(0));
		cJSON_ReplaceItemInObjectCaseSensitive(s, "total",
						       cJSON_CreateNumber(REPORT_COUNT_MAX));
	}
	cJSON *one[] = {tree};
	cJSON *merged = merge_trees(one, NULL, 1, 0, &err);
	if (!merged)
		fail_msg("%s", err);
	c = item(field(merged, "cases"), 0);
	assert_string_equal(get(c, "verdict")->valuestring, "drift");
	assert_int_equal(get(get(c, "eval"), "passed")->valueint, REPORT_COUNT_MAX);
	for (const struct report_format *fmt = report_formats; fmt->name; fmt++)
		free(render(fmt->render, merged));
	cJSON_Delete(merged);
	cJSON_Delete(tree);
	cJSON_Delete(whole);
}

/* JUnit lists a few fingerprints per testsuite, and says how many more. */
static void test_junit_fingerprints_capped(void **state)
{
	(void)state;

	struct report *r = test_report_fixture(FORMATS);
	cJSON *tree = tree_of(r);
	cJSON *fps = field(field(field(tree, "targets"), "prod"), "fingerprints");
	for (int i = 0; i < 500; i++) {
		char name[32];
		snprintf(name, sizeof(name), "sha256:%04d", i);
		cJSON_AddNumberToObject(fps, name, 1);
	}
	char *xml = render(report_junit, tree);
	size_t listed = 0, more = 0;
	for (const char *p = xml; (p = strstr(p, "name=\"prod.fingerprint\"")); p++)
		listed++;
	for (const char *p = xml; (p = strstr(p, "<property name=\"prod.fingerprints.more\" "
						 "value=\"494 more in the JSON report\"/>")); p++)
		more++;
	/* Three testsuites, eight each. */
	assert_int_equal(listed, 3 * 8);
	assert_int_equal(more, 3);
	assert_true(xmllint_ok(xml));
	free(xml);
	cJSON_Delete(tree);
	report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_fields),
		cmocka_unit_test(test_text_saved),
		cmocka_unit_test(test_bidi_controls),
		cmocka_unit_test(test_parse_and_check),
		cmocka_unit_test(test_formats_table),
		cmocka_unit_test(test_junit_golden),
		cmocka_unit_test(test_junit_hostile),
		cmocka_unit_test(test_junit_counts),
		cmocka_unit_test(test_markdown_golden),
		cmocka_unit_test(test_markdown_escaping),
		cmocka_unit_test(test_markdown_cap),
		cmocka_unit_test(test_prom_golden),
		cmocka_unit_test(test_prom_tokens_cost),
		cmocka_unit_test(test_prom_labels),
		cmocka_unit_test(test_tap_golden),
		cmocka_unit_test(test_tap_hostile),
		cmocka_unit_test(test_flaky_passes),
		cmocka_unit_test(test_edited_reports),
		cmocka_unit_test(test_write_atomic),
		cmocka_unit_test(test_merge_equals_unsharded),
		cmocka_unit_test(test_shard_reports),
		cmocka_unit_test(test_merge_refusals),
		cmocka_unit_test(test_merge_exit_codes),
		cmocka_unit_test(test_threshold_survives_merge),
		cmocka_unit_test(test_strict_flaky_fails),
		cmocka_unit_test(test_markdown_many_strata),
		cmocka_unit_test(test_prom_long_labels),
		cmocka_unit_test(test_merge_judge_history),
		cmocka_unit_test(test_hostile_counts),
		cmocka_unit_test(test_junit_fingerprints_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
