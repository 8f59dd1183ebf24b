/* report/verdict.h: case, stratum and run verdicts and the exit code (DESIGN.md).
 *
 * Verdicts are ordered by severity so that "the worst of its cases" is a
 * maximum: pass < flaky < error < eval-regression < regression < drift.
 * Drift ranks highest because it is what canary exists to catch: production
 * diverged from what eval certified.
 */
#ifndef CANARY_VERDICT_H
#define CANARY_VERDICT_H

#include <stdbool.h>

enum verdict {
	VERDICT_PASS,
	VERDICT_FLAKY,
	VERDICT_ERROR,
	VERDICT_EVAL_REGRESSION,
	VERDICT_REGRESSION,
	VERDICT_DRIFT,
	VERDICT__COUNT,
};

enum {
	EXIT_PASS = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_ERRORS = 3,
	EXIT_LOCKED = 75,
	EXIT_INTERRUPTED = 130,
};

/* verdict_name: "pass", "drift", "eval-regression", ... */
const char *verdict_name(enum verdict v);
/* verdict_parse: the inverse of verdict_name; -1 when unknown. */
int verdict_parse(const char *name, enum verdict *out);
/* verdict_failing: drift, eval-regression or regression. */
bool verdict_failing(enum verdict v);

struct report;

/* verdict_compute: fill the verdict, p-values and note of every case of r
 * that ran, every stratum's counts, tests and verdict, and the run's
 * verdict and exit code (docs/statistics.md), from the cases' counts.  The
 * run decides so, and so does merge, from the cases of several reports.
 *
 * A case with one sample a side (repeat 1, not confirmed) is decided by
 * those samples.  A case with more is `error` when a side has fewer valid
 * samples than --min-valid asks (or than its test needs); otherwise its
 * sides are compared by an exact test and each stratum by its exact
 * Cochran-Mantel-Haenszel look and its strongest case, Tarone-Holm across
 * the strata, and each case against its threshold by exact binomial tests,
 * Tarone-Holm across the cases.  A case is drift or eval-regression only
 * when a significant effect agrees with its direction, regression only
 * when both sides are significantly below the threshold; any other
 * disagreement is `flaky`, with the reason in its note. */
void verdict_compute(struct report *r);

#endif
