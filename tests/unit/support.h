/* support.h: what several unit tests share: where the fixtures are, saved
 * reports read back, and small reports built case by case (for what the
 * fixtures do not show: verdicts of given samples, histories of many runs).
 *
 * Ownership: the reports returned are the caller's (report_free()); the
 * strings returned are the caller's (free()).
 */
#ifndef CANARY_TEST_SUPPORT_H
#define CANARY_TEST_SUPPORT_H

#include <stddef.h>

#include "grader.h"
#include "report/report.h"
#include "side.h"

/* test_fixtures: $FIXTURES (meson sets it), else tests/fixtures seen from
 * the source root, the build folder or its tests folder. */
const char *test_fixtures(void);

/* 2026-01-02T03:04:05Z, when the reports built here started. */
#define TEST_STARTED_MS 1767323045000LL
/* The most samples a side of a case built here holds. */
#define TEST_SAMPLES 16

/* test_report_fixture: tests/fixtures/reports/NAME loaded, failing the test
 * when it does not load. */
struct report *test_report_fixture(const char *name);
/* test_render: what render writes of r, failing the test when it fails. */
char *test_render(report_render_fn *render, const struct report *r);
/* test_report_parse: the report of the JSON text, failing the test when it
 * does not load (as file "t.json"). */
struct report *test_report_parse(const char *json);

/* test_report_new: a report of suite name whose strata are the NULL-ended
 * names, no case yet, started at TEST_STARTED_MS and lasting 1234 ms, with
 * the targets' URLs of the fixtures. */
struct report *test_report_new(const char *name, const char *const *strata);
/* test_report_case: a case of stratum with id and repeat (threshold 1), at
 * the next position; its index (cases move as more are added). */
size_t test_report_case(struct report *r, size_t stratum, const char *id, int repeat);
/* test_report_sample: the next finished sample of case ci on side, with up
 * to two reasons, counted as a run counts it (among the first ones while
 * fewer than the case's repeat). */
struct report_sample *test_report_sample(struct report *r, size_t ci, enum side side,
					 enum grade g, const char *reason, const char *reason2);

struct target;

/* test_option: where target t keeps the option path of its api ("body",
 * "reply/content"), found through the api's options table (a char * for a
 * pointer, a cJSON * for a template); fails the test when there is none. */
void *test_option(const struct target *t, const char *path);

struct grader;

/* test_grader_compile: compile one grader entry written as YAML (file name
 * t.yaml) with files resolving from suite_dir; NULL and *err on an error. */
struct grader *test_grader_compile(const char *yaml, const char *suite_dir, char **err);
/* test_grader_must_compile: the same, failing the test on an error. */
struct grader *test_grader_must_compile(const char *yaml, const char *suite_dir);
/* test_grader_expect_error: the entry must not compile, with exactly want. */
void test_grader_expect_error(const char *yaml, const char *suite_dir, const char *want);

#endif
