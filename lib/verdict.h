/* verdict.h: case, stratum and run verdicts and the exit code (DESIGN.md).
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

/* The default significance level of --alpha. */
#define VERDICT_ALPHA_DEFAULT 0.05

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

struct run;

/* verdict_compute: fill every selected case's verdict, every stratum's
 * counts, tests and verdict, and the run's verdict and exit code.
 *
 * With repeats (two or more valid samples a side), a case's sides are
 * compared by Fisher's exact test and each stratum by the exact
 * Cochran-Mantel-Haenszel test over its cases, Holm-corrected across the
 * strata of the run.  A disagreement in a stratum that is not significant
 * at alpha is `flaky`: reported, but failing the run only when strict.
 * With repeat 1 verdicts are deterministic (docs/statistics.md). */
void verdict_compute(struct run *r);

#endif
