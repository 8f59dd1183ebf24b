/* support.h: what several unit tests share: where the fixtures are, and a
 * finished run built by hand, as run_execute() would leave it.
 *
 * Ownership: a struct world owns nothing on the heap; everything it points
 * at lives in the struct itself or in string literals the test passes.
 */
#ifndef CANARY_TEST_SUPPORT_H
#define CANARY_TEST_SUPPORT_H

#include <stddef.h>

#include "run/run.h"

/* test_fixtures: $FIXTURES (meson sets it), else tests/fixtures seen from
 * the source root, the build folder or its tests folder. */
const char *test_fixtures(void);

#define WORLD_CASES 64
#define WORLD_STRATA 3
#define WORLD_SAMPLES 8
#define WORLD_REASONS 8

/* 2026-01-02T03:04:05Z */
#define WORLD_STARTED_MS 1767323045000LL

struct world {
	struct suite suite;
	struct stratum strata[WORLD_STRATA];
	struct suite_case cases[WORLD_CASES];
	char ids[WORLD_CASES][32];
	struct case_result results[WORLD_CASES];
	struct stratum_result sresults[WORLD_STRATA];
	struct sample samples[WORLD_CASES][SIDE__COUNT][WORLD_SAMPLES];
	char *reasons[WORLD_CASES][SIDE__COUNT][WORLD_SAMPLES][WORLD_REASONS];
	struct fingerprint_count fps[SIDE__COUNT][2];
	char *unevaluated[2];
	struct run run;
};

/* world_init: three strata (tools, prompt, guardrails), no case yet, a
 * fixed start, duration and target URLs. */
void world_init(struct world *w);
/* world_add_case: a selected case; returns its index. */
size_t world_add_case(struct world *w, size_t stratum, char *id, int repeat);
/* world_add_sample: the next sample of case ci on side with up to two
 * reasons, counted as run_execute counts it. */
struct sample *world_add_sample(struct world *w, size_t ci, int side, enum grade g,
				char *reason, char *reason2);

struct report;

/* test_report_fixture: tests/fixtures/reports/NAME loaded, failing the test
 * when it does not load. */
struct report *test_report_fixture(const char *name);
/* test_report_json: what report_json() writes of r. */
char *test_report_json(const struct report *r);
/* test_run_json: the JSON report of a hand-built run. */
char *test_run_json(const struct run *r);

struct grader;

/* test_grader_compile: compile one grader entry written as YAML (file name
 * t.yaml) with files resolving from suite_dir; NULL and *err on an error. */
struct grader *test_grader_compile(const char *yaml, const char *suite_dir, char **err);
/* test_grader_must_compile: the same, failing the test on an error. */
struct grader *test_grader_must_compile(const char *yaml, const char *suite_dir);
/* test_grader_expect_error: the entry must not compile, with exactly want. */
void test_grader_expect_error(const char *yaml, const char *suite_dir, const char *want);

#endif
