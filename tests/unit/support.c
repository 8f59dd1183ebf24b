/* support.c: fixtures and hand-built runs for the unit tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graders/grader.h"
#include "report/report.h"
#include "support.h"
#include "ynode.h"
#include "util.h"

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

void world_init(struct world *w)
{
	static char *const names[WORLD_STRATA] = {"tools", "prompt", "guardrails"};

	memset(w, 0, sizeof(*w));
	w->suite.name = "calendar-assistant";
	w->suite.strata = w->strata;
	w->suite.nstrata = WORLD_STRATA;
	for (size_t i = 0; i < WORLD_STRATA; i++) {
		w->strata[i].name = names[i];
		w->sresults[i].s = &w->strata[i];
	}
	w->strata[0].description = "tool schemas and descriptions";
	w->run.suite = &w->suite;
	w->run.cases = w->results;
	w->run.strata = w->sresults;
	w->run.nstrata = WORLD_STRATA;
	w->run.started_wall_ms = WORLD_STARTED_MS;
	w->run.duration_ms = 1234;
	w->run.url_display[SIDE_EVAL] = "http://127.0.0.1:8081/v1/chat/completions";
	w->run.url_display[SIDE_PROD] = "${env:PROD_URL}";
}

size_t world_add_case(struct world *w, size_t stratum, char *id, int repeat)
{
	size_t i = w->run.ncases++;

	assert_true(i < WORLD_CASES);
	w->cases[i].id = id;
	w->cases[i].stratum = stratum;
	w->cases[i].repeat = repeat;
	w->cases[i].threshold = 1.0;
	w->results[i].c = &w->cases[i];
	w->results[i].selected = true;
	w->run.nselected++;
	for (int side = 0; side < SIDE__COUNT; side++)
		w->results[i].side[side].samples = w->samples[i][side];
	return i;
}

struct sample *world_add_sample(struct world *w, size_t ci, int side, enum grade g,
				char *reason, char *reason2)
{
	struct side_result *sr = &w->results[ci].side[side];
	size_t k = sr->nsamples++;
	struct sample *s = &sr->samples[k];

	assert_true(k < WORLD_SAMPLES);
	s->side = (enum side)side;
	s->index = (int)k;
	s->done = true;
	s->grade = g;
	s->reasons = w->reasons[ci][side][k];
	if (reason)
		s->reasons[s->nreasons++] = reason;
	if (reason2)
		s->reasons[s->nreasons++] = reason2;
	s->status = g == GRADE_ERROR ? 0 : 200;
	s->latency_ms = 100.0 + 10.25 * (double)k;
	s->attempts = g == GRADE_ERROR ? 3 : 1;
	sr->total++;
	if (g == GRADE_PASS)
		sr->passed++;
	else if (g == GRADE_FAIL)
		sr->failed++;
	else
		sr->errors++;
	return s;
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

char *test_report_json(const struct report *r)
{
	char *text = NULL, *err = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	if (report_json(f, r, &err) < 0)
		fail_msg("%s", err);
	fclose(f);
	return text;
}

char *test_run_json(const struct run *r)
{
	struct report *rep = run_report(r);
	char *text = test_report_json(rep);

	report_free(rep);
	return text;
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
