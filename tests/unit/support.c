/* support.c: fixtures, and reports built case by case, for the unit tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grader.h"
#include "provider.h"
#include "report/report.h"
#include "suite/suite.h"
#include "support.h"
#include "ynode.h"
#include "util.h"

void *test_option(const struct target *t, const char *path)
{
	const struct provider_option *opts = t->provider->options;
	void *slot = NULL;
	size_t at = 0;

	while (path[at]) {
		size_t len = strcspn(path + at, "/");
		const struct provider_option *o = opts;

		while (o && o->name && (strlen(o->name) != len || strncmp(o->name, path + at, len)))
			o++;
		if (!o || !o->name || !t->priv)
			fail_msg("api %s has no option '%s'", t->provider->name, path);
		slot = (char *)t->priv + o->offset;
		opts = o->sub;
		at += len + (path[at + len] == '/');
	}
	return slot;
}

const char *test_fixtures(void)
{
	static const char *const guesses[] = {
		"tests/fixtures", "../tests/fixtures", "../../tests/fixtures",
	};
	const char *f = getenv("FIXTURES");

	if (f)
		return f;
	for (size_t i = 0; i < ARRAY_SIZE(guesses); i++)
		if (access(guesses[i], R_OK) == 0)
			return guesses[i];
	return guesses[1];
}

struct report *test_report_fixture(const char *name)
{
	char *path = xasprintf("%s/reports/%s", test_fixtures(), name);
	char *err = NULL;
	struct report *r = report_load(path, &err);

	if (!r)
		fail_msg("%s", err);
	free(path);
	return r;
}

char *test_render(report_render_fn *render, const struct report *r)
{
	char *text = NULL, *err = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	if (render(f, r, &err) < 0)
		fail_msg("rendering failed: %s", err);
	fclose(f);
	return text;
}

struct report *test_report_parse(const char *json)
{
	char *err = NULL;
	struct report *r = report_parse("t.json", json, strlen(json), &err);

	if (!r)
		fail_msg("the report does not load: %s", err);
	return r;
}

struct report *test_report_new(const char *name, const char *const *strata)
{
	struct report *r = report_new();
	char started[32];

	util_rfc3339(TEST_STARTED_MS, started);
	r->canary_version = report_strdup(r, "0.1.0");
	r->suite = report_strdup(r, name);
	r->suite_cases = 0;
	r->has_suite_strata = r->has_skipped = true;
	for (size_t i = 0; strata[i]; i++) {
		report_names_add(r, &r->suite_strata, strata[i]);
		report_stratum_index(r, strata[i]);
	}
	r->started_at = report_strdup(r, started);
	r->started_ms = TEST_STARTED_MS;
	r->duration_ms = 1234;
	r->targets[SIDE_EVAL].url = report_strdup(r, "http://127.0.0.1:8081/v1/chat/completions");
	r->targets[SIDE_PROD].url = report_strdup(r, "${env:PROD_URL}");
	return r;
}

size_t test_report_case(struct report *r, size_t stratum, const char *id, int repeat)
{
	struct report_case *c = report_add_case(r, id, stratum);

	c->position = r->suite_cases++;
	c->repeat = repeat;
	for (int side = 0; side < SIDE__COUNT; side++) {
		report_side_samples(r, &c->side[side], TEST_SAMPLES);
		c->side[side].nsamples = 0;
	}
	return r->ncases - 1;
}

struct report_sample *test_report_sample(struct report *r, size_t ci, enum side side,
					 enum grade g, const char *reason, const char *reason2)
{
	struct report_case *c = &r->cases[ci];
	struct report_side *s = &c->side[side];
	size_t k = s->nsamples++;
	struct report_sample *smp = &s->samples[k];
	bool first = (int)k < c->repeat;

	assert_true(k < TEST_SAMPLES);
	smp->index = (int)k;
	smp->grade = g;
	report_sample_reasons(r, smp, 2);
	if (reason)
		smp->reasons[smp->nreasons++] = report_intern(r, reason);
	if (reason2)
		smp->reasons[smp->nreasons++] = report_intern(r, reason2);
	smp->status = g == GRADE_ERROR ? 0 : 200;
	smp->latency_ms = 100.0 + 10.25 * (double)k;
	smp->attempts = g == GRADE_ERROR ? 3 : 1;
	s->passed += g == GRADE_PASS;
	s->failed += g == GRADE_FAIL;
	s->errors += g == GRADE_ERROR;
	s->first_passed += first && g == GRADE_PASS;
	s->first_failed += first && g == GRADE_FAIL;
	return smp;
}

struct grader *test_grader_compile(const char *yaml, const char *suite_dir, char **err)
{
	char *perr = NULL;
	struct ydoc *doc = ydoc_parse("t.yaml", yaml, strlen(yaml), &perr);
	if (!doc)
		fail_msg("test YAML does not parse: %s", perr);
	struct grader_env env = {.suite_dir = suite_dir};
	*err = NULL;
	struct grader *g = grader_compile(doc->root, &env, err);
	ydoc_free(doc);
	return g;
}

struct grader *test_grader_must_compile(const char *yaml, const char *suite_dir)
{
	char *err = NULL;
	struct grader *g = test_grader_compile(yaml, suite_dir, &err);
	if (!g)
		fail_msg("'%s' does not compile: %s", yaml, err);
	assert_null(err);
	return g;
}

void test_grader_expect_error(const char *yaml, const char *suite_dir, const char *want)
{
	char *err = NULL;
	struct grader *g = test_grader_compile(yaml, suite_dir, &err);
	if (g)
		fail_msg("'%s' compiled, expected: %s", yaml, want);
	assert_non_null(err);
	if (strcmp(err, want) != 0)
		fail_msg("'%s' gives\n  %s\nexpected\n  %s", yaml, err, want);
	free(err);
}
