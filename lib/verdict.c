/* verdict.c: case, stratum and run verdicts and the exit code. */
#include "verdict.h"

#include <string.h>

#include "run.h"

/* Tolerance for rate >= threshold, so that 4/5 meets 0.8 despite rounding. */
#define THRESHOLD_EPSILON 1e-9

static const char *const verdict_names[VERDICT__COUNT] = {
	[VERDICT_PASS] = "pass",
	[VERDICT_FLAKY] = "flaky",
	[VERDICT_ERROR] = "error",
	[VERDICT_EVAL_REGRESSION] = "eval-regression",
	[VERDICT_REGRESSION] = "regression",
	[VERDICT_DRIFT] = "drift",
};

const char *verdict_name(enum verdict v)
{
	if ((unsigned)v >= VERDICT__COUNT)
		return "unknown";
	return verdict_names[v];
}

int verdict_parse(const char *name, enum verdict *out)
{
	if (!name)
		return -1;
	for (int v = 0; v < VERDICT__COUNT; v++) {
		if (strcmp(name, verdict_names[v]) == 0) {
			*out = (enum verdict)v;
			return 0;
		}
	}
	return -1;
}

bool verdict_failing(enum verdict v)
{
	return v == VERDICT_DRIFT || v == VERDICT_EVAL_REGRESSION || v == VERDICT_REGRESSION;
}

/* side_derive: a side's pass rate over valid samples and whether it meets
 * the case's threshold. */
static void side_derive(struct side_result *sr, double threshold)
{
	int valid = sr->passed + sr->failed;

	sr->measured = valid > 0;
	sr->rate = valid > 0 ? (double)sr->passed / valid : 0.0;
	sr->ok = sr->measured && sr->rate >= threshold - THRESHOLD_EPSILON;
}

/* case_flaky: whether the difference between the sides is too small to be
 * significant over the repeats.  Deciding that needs a significance test
 * (a later issue); until then no difference is called flaky. */
static bool case_flaky(const struct case_result *cr)
{
	(void)cr;
	return false;
}

/* case_verdict: the DESIGN.md table, from the two derived sides. */
static enum verdict case_verdict(const struct case_result *cr)
{
	const struct side_result *e = &cr->side[SIDE_EVAL];
	const struct side_result *p = &cr->side[SIDE_PROD];

	if (!e->measured || !p->measured)
		return VERDICT_ERROR;
	if (e->ok && p->ok)
		return VERDICT_PASS;
	if (e->ok != p->ok && case_flaky(cr))
		return VERDICT_FLAKY;
	if (e->ok)
		return VERDICT_DRIFT;
	if (p->ok)
		return VERDICT_EVAL_REGRESSION;
	return VERDICT_REGRESSION;
}

static enum verdict verdict_max(enum verdict a, enum verdict b)
{
	return a > b ? a : b;
}

void verdict_compute(struct run *r)
{
	bool any_failing = false, any_error = false;

	r->verdict = VERDICT_PASS;
	for (size_t i = 0; i < r->nstrata; i++) {
		struct stratum_result *sr = &r->strata[i];
		sr->ncases = 0;
		memset(sr->passed, 0, sizeof(sr->passed));
		memset(sr->counts, 0, sizeof(sr->counts));
		sr->verdict = VERDICT_PASS;
		sr->selected = false;
	}

	for (size_t i = 0; i < r->ncases; i++) {
		struct case_result *cr = &r->cases[i];
		if (!cr->selected || !cr->c)
			continue;
		for (int side = 0; side < SIDE__COUNT; side++)
			side_derive(&cr->side[side], cr->c->threshold);
		cr->verdict = case_verdict(cr);

		r->verdict = verdict_max(r->verdict, cr->verdict);
		any_failing |= verdict_failing(cr->verdict);
		any_error |= cr->verdict == VERDICT_ERROR;

		if (cr->c->stratum >= r->nstrata)
			continue;
		struct stratum_result *sr = &r->strata[cr->c->stratum];
		sr->selected = true;
		sr->ncases++;
		for (int side = 0; side < SIDE__COUNT; side++)
			sr->passed[side] += cr->side[side].ok;
		sr->counts[cr->verdict]++;
		sr->verdict = verdict_max(sr->verdict, cr->verdict);
	}

	if (r->interrupted)
		r->exit_code = EXIT_INTERRUPTED;
	else if (any_failing)
		r->exit_code = EXIT_FAIL;
	else if (any_error)
		r->exit_code = EXIT_ERRORS;
	else
		r->exit_code = EXIT_PASS;
}
