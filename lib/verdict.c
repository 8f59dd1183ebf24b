/* verdict.c: case, stratum and run verdicts and the exit code. */
#include "verdict.h"

#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "stats.h"
#include "util.h"

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

/* case_verdict: the DESIGN.md table, from the two derived sides.  A case
 * with repeats whose sides disagree is only drift (or eval-regression) when
 * its stratum's difference is significant; otherwise the disagreement is
 * noise, and the case is flaky. */
static enum verdict case_verdict(const struct case_result *cr, bool significant)
{
	const struct side_result *e = &cr->side[SIDE_EVAL];
	const struct side_result *p = &cr->side[SIDE_PROD];

	if (!e->measured || !p->measured)
		return VERDICT_ERROR;
	if (e->ok && p->ok)
		return VERDICT_PASS;
	if (e->ok != p->ok && cr->repeated && !significant)
		return VERDICT_FLAKY;
	if (e->ok)
		return VERDICT_DRIFT;
	if (p->ok)
		return VERDICT_EVAL_REGRESSION;
	return VERDICT_REGRESSION;
}

/* case_test: Wilson intervals for both sides and, with repeats, Fisher's
 * exact test of eval against prod. */
static void case_test(struct case_result *cr)
{
	const struct side_result *e = &cr->side[SIDE_EVAL];
	const struct side_result *p = &cr->side[SIDE_PROD];
	for (int side = 0; side < SIDE__COUNT; side++) {
		struct side_result *sr = &cr->side[side];
		stats_wilson(sr->passed, sr->passed + sr->failed, 1.96, &sr->wilson_lo,
			     &sr->wilson_hi);
	}
	cr->repeated = e->passed + e->failed >= 2 && p->passed + p->failed >= 2;
	cr->p_value = cr->repeated ? stats_fisher_two_sided(e->passed, e->failed, p->passed,
							    p->failed)
				   : 1.0;
}

/* strata_test: each stratum's exact CMH p-value over its repeated cases
 * (stratified by case, so cases with different base rates do not mix), then
 * Holm's correction across the tested strata of the run. */
static void strata_test(struct run *r)
{
	double *p = xcalloc(r->nstrata ? r->nstrata : 1, sizeof(*p));
	double *adj = xcalloc(r->nstrata ? r->nstrata : 1, sizeof(*adj));
	size_t *which = xcalloc(r->nstrata ? r->nstrata : 1, sizeof(*which));
	int (*tables)[4] = xcalloc(r->ncases ? r->ncases : 1, sizeof(*tables));
	size_t ntested = 0;
	double alpha = r->alpha > 0 ? r->alpha : VERDICT_ALPHA_DEFAULT;
	for (size_t i = 0; i < r->nstrata; i++) {
		struct stratum_result *st = &r->strata[i];
		size_t k = 0;
		for (size_t j = 0; j < r->ncases; j++) {
			const struct case_result *cr = &r->cases[j];
			if (!cr->selected || !cr->c || cr->c->stratum != i || !cr->repeated)
				continue;
			const struct side_result *e = &cr->side[SIDE_EVAL];
			const struct side_result *pr = &cr->side[SIDE_PROD];
			tables[k][0] = e->passed;
			tables[k][1] = e->failed;
			tables[k][2] = pr->passed;
			tables[k][3] = pr->failed;
			k++;
		}
		st->tested = k > 0;
		st->p_value = k ? stats_cmh_exact((const int(*)[4])tables, k) : 1.0;
		st->p_adjusted = st->p_value;
		st->significant = false;
		if (st->tested) {
			p[ntested] = st->p_value;
			which[ntested++] = i;
		}
	}
	stats_holm_adjust(p, ntested, adj);
	for (size_t t = 0; t < ntested; t++) {
		struct stratum_result *st = &r->strata[which[t]];
		st->p_adjusted = adj[t];
		st->significant = adj[t] < alpha;
	}
	free(tables);
	free(which);
	free(adj);
	free(p);
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
		case_test(cr);
	}
	strata_test(r);

	bool any_flaky = false;
	for (size_t i = 0; i < r->ncases; i++) {
		struct case_result *cr = &r->cases[i];
		if (!cr->selected || !cr->c)
			continue;
		bool significant = cr->c->stratum < r->nstrata &&
				   r->strata[cr->c->stratum].significant;
		cr->verdict = case_verdict(cr, significant);
		any_flaky |= cr->verdict == VERDICT_FLAKY;

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
	else if (any_failing || (r->strict && any_flaky))
		r->exit_code = EXIT_FAIL;
	else if (any_error)
		r->exit_code = EXIT_ERRORS;
	else
		r->exit_code = EXIT_PASS;
}
