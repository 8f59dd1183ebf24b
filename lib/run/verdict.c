/* run/verdict.c: case, stratum and run verdicts and the exit code. */
#include "report/verdict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/run.h"
#include "stats.h"
#include "util.h"

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
	sr->ok = sr->measured && sr->rate >= threshold - STATS_THRESHOLD_EPSILON;
	stats_wilson(sr->passed, valid, 1.96, &sr->wilson_lo, &sr->wilson_hi);
}

/* The levels of the run's two families (docs/statistics.md): thresholds
 * at alpha, differences at alpha (1 - alpha), so that a run of the same
 * agent on both sides exits 1 with probability at most alpha. */
static double level_below(const struct run *r)
{
	return r->alpha > 0 ? r->alpha : STATS_ALPHA_DEFAULT;
}

static double level_diff(const struct run *r)
{
	double a = level_below(r);
	return a * (1.0 - a);
}

static int case_asked(const struct case_result *cr)
{
	return cr->repeat + cr->confirm;
}

/* case_enough: whether both sides have the valid samples the test needs
 * (the --min-valid fraction of those asked, and enough for the difference
 * test to reach its level when the samples asked could); "" or why not in
 * cr->note. */
static bool case_enough(const struct run *r, struct case_result *cr)
{
	int asked = case_asked(cr), valid[SIDE__COUNT];
	double min_valid = r->min_valid > 0 ? r->min_valid : 0.0;
	bool enough = true;

	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct side_result *sr = &cr->side[side];
		valid[side] = sr->passed + sr->failed;
		int need = (int)ceil(min_valid * asked - 1e-9);
		if (valid[side] < (need > 1 ? need : 1))
			enough = false;
	}
	if (enough && asked > 1 && (valid[SIDE_EVAL] < asked || valid[SIDE_PROD] < asked) &&
	    stats_fisher_two_sided(asked, 0, 0, asked) <= level_diff(r) &&
	    stats_fisher_two_sided(valid[SIDE_EVAL], 0, 0, valid[SIDE_PROD]) > level_diff(r))
		enough = false;
	if (enough || asked <= 1)
		return enough; /* one sample: its own reason says why */
	int side = valid[SIDE_PROD] < valid[SIDE_EVAL] ? SIDE_PROD : SIDE_EVAL;
	snprintf(cr->note, sizeof(cr->note), "%s: %d of %d samples measured",
		 side_name((enum side)side), valid[side], asked);
	return false;
}

/* case_table: a tested case's counts for the difference test. */
static struct stats_table case_table(const struct run *r, const struct case_result *cr)
{
	const struct side_result *e = &cr->side[SIDE_EVAL], *p = &cr->side[SIDE_PROD];
	return (struct stats_table){
		.n = {{e->passed, e->failed}, {p->passed, p->failed}},
		.first = {{e->first_passed, e->first_failed}, {p->first_passed, p->first_failed}},
		.staged = r->confirm > 0,
		.confirmed = cr->confirmed,
		.threshold = cr->c->threshold,
	};
}

/* The tests of a run: one entry per tested case. */
struct tested {
	struct case_result *cr;
	struct stats_table table;
	struct stats_look look;
	bool case_look;        /* significant on its own in its stratum's case look */
};

/* test_cases: each tested case's own exact p-value and least p-value, and
 * its test against the threshold (both sides below, intersection-union). */
static size_t test_cases(struct run *r, struct tested *t)
{
	size_t n = 0;
	for (size_t i = 0; i < r->ncases; i++) {
		struct case_result *cr = &r->cases[i];
		if (!cr->selected || !cr->c || !cr->repeated || cr->verdict == VERDICT_ERROR)
			continue;
		t[n].cr = cr;
		t[n].table = case_table(r, cr);
		t[n].look.p = stats_table_p(&t[n].table, &t[n].look.null);
		t[n].case_look = false;
		cr->p_value = t[n].look.p;
		cr->p_least = stats_null_least(&t[n].look.null);
		cr->p_below = 0.0;
		for (int side = 0; side < SIDE__COUNT; side++) {
			const struct side_result *sr = &cr->side[side];
			cr->p_below = fmax(cr->p_below, stats_binom_below(sr->passed,
									  sr->passed + sr->failed,
									  cr->c->threshold));
		}
		n++;
	}
	return n;
}

/* test_below: Tarone-Holm over the tested cases' threshold tests at alpha;
 * the least p-value of each is that of the samples the design could ask
 * for, which no outcome depends on. */
static void test_below(struct run *r, struct tested *t, size_t n)
{
	double *p = xcalloc(n ? n : 1, sizeof(*p)), *least = xcalloc(n ? n : 1, sizeof(*least));
	double *factor = xcalloc(n ? n : 1, sizeof(*factor));
	bool *reject = xcalloc(n ? n : 1, sizeof(*reject));
	for (size_t i = 0; i < n; i++) {
		const struct case_result *cr = t[i].cr;
		p[i] = cr->p_below;
		least[i] = stats_binom_least(cr->repeat + r->confirm, cr->c->threshold);
	}
	stats_tarone_holm(p, least, n, level_below(r), reject, factor);
	for (size_t i = 0; i < n; i++)
		t[i].cr->below = reject[i];
	free(reject);
	free(factor);
	free(least);
	free(p);
}

/* test_strata: each stratum's CMH look and case look combined, then the
 * discrete Holm procedure across the strata; which look carried a
 * significant stratum decides the direction of its effect, or the cases
 * that are significant on their own. */
static void test_strata(struct run *r, struct tested *t, size_t n)
{
	size_t ns = r->nstrata ? r->nstrata : 1;
	struct stats_combined *comb = xcalloc(ns, sizeof(*comb));
	struct stats_look *cmh = xcalloc(ns, sizeof(*cmh));
	/* Each stratum's cases' looks, in one array ordered by stratum. */
	struct stats_look *looks = xcalloc(n ? n : 1, sizeof(*looks));
	struct tested **owner = xcalloc(n ? n : 1, sizeof(*owner));
	struct stats_table *tables = xcalloc(n ? n : 1, sizeof(*tables));
	double *shift = xcalloc(ns, sizeof(*shift)), *adjusted = xcalloc(ns, sizeof(*adjusted));
	double *at = xcalloc(ns, sizeof(*at));
	bool *reject = xcalloc(ns, sizeof(*reject));
	size_t *which = xcalloc(ns, sizeof(*which)), ntested = 0, used = 0;
	double level = level_diff(r);

	for (size_t s = 0; s < r->nstrata; s++) {
		struct stratum_result *st = &r->strata[s];
		size_t first = used;
		for (size_t i = 0; i < n; i++) {
			if (t[i].cr->c->stratum != s)
				continue;
			tables[used] = t[i].table;
			owner[used] = &t[i];
			looks[used++] = t[i].look;
		}
		size_t k = used - first;
		st->tested = k > 0;
		st->p_cmh = st->p_value = st->p_least = st->p_adjusted = 1.0;
		st->significant = false;
		st->direction = 0;
		if (!k)
			continue;
		cmh[ntested].p = stats_cmh_tables(&tables[first], k, &cmh[ntested].null, &shift[s]);
		stats_combine(&cmh[ntested], &looks[first], k, level, &comb[ntested]);
		st->p_cmh = cmh[ntested].p;
		st->p_value = comb[ntested].p;
		st->p_least = comb[ntested].least;
		which[ntested++] = s;
	}
	stats_discrete_holm(comb, ntested, level, reject, adjusted, at);
	for (size_t j = 0; j < ntested; j++) {
		struct stratum_result *st = &r->strata[which[j]];
		const struct stats_combined *c = &comb[j];
		st->p_adjusted = adjusted[j];
		st->significant = reject[j];
		/* A look of a significant stratum is significant when its own
		 * p, scaled, is at most what the deciding step rejected. */
		if (reject[j] && c->cmh_factor * st->p_cmh <= at[j] && shift[which[j]] != 0.0)
			st->direction = shift[which[j]] > 0 ? 1 : -1;
		for (size_t i = 0; reject[j] && i < c->k; i++)
			if (stats_combined_case(c, i) && c->case_factor * c->cases[i].p <= at[j])
				owner[c->cases - looks + i]->case_look = true;
		stats_null_release(&cmh[j].null);
	}
	free(which);
	free(reject);
	free(at);
	free(adjusted);
	free(shift);
	free(tables);
	free(owner);
	free(looks);
	free(cmh);
	free(comb);
}

/* case_direction: +1 when eval's rate is above prod's, -1 below, 0 equal. */
static int case_direction(const struct case_result *cr)
{
	double d = cr->side[SIDE_EVAL].rate - cr->side[SIDE_PROD].rate;
	return d > 0 ? 1 : d < 0 ? -1 : 0;
}

/* tested_verdict: the verdict of a tested case whose sides do not both
 * pass: a failing verdict only when a significant effect agrees with it;
 * flaky, with the reason in cr->note, otherwise. */
static enum verdict tested_verdict(const struct run *r, struct case_result *cr, bool case_look)
{
	const struct side_result *e = &cr->side[SIDE_EVAL], *p = &cr->side[SIDE_PROD];
	const struct stratum_result *st =
		cr->c->stratum < r->nstrata ? &r->strata[cr->c->stratum] : NULL;
	int dir = case_direction(cr);
	bool with_stratum = st && st->direction != 0 && st->direction == dir;
	bool significant = dir != 0 && (with_stratum || case_look);

	if (!e->ok && !p->ok && cr->below)
		return VERDICT_REGRESSION;
	if (significant)
		return dir > 0 ? VERDICT_DRIFT : VERDICT_EVAL_REGRESSION;
	if (!e->ok && !p->ok) {
		const struct side_result *worse = p->rate <= e->rate ? p : e;
		snprintf(cr->note, sizeof(cr->note),
			 "%s %d/%d vs threshold %g: not significantly below",
			 side_name(worse == p ? SIDE_PROD : SIDE_EVAL), worse->passed,
			 worse->passed + worse->failed, cr->c->threshold);
	} else if (st && st->direction != 0 && dir != 0) {
		snprintf(cr->note, sizeof(cr->note),
			 "against the direction of its stratum's significant difference");
	} else {
		snprintf(cr->note, sizeof(cr->note), "difference not significant");
	}
	return VERDICT_FLAKY;
}

/* untested_verdict: the DESIGN.md table from one sample a side. */
static enum verdict untested_verdict(const struct case_result *cr)
{
	const struct side_result *e = &cr->side[SIDE_EVAL], *p = &cr->side[SIDE_PROD];

	if (e->ok && p->ok)
		return VERDICT_PASS;
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
		cr->note[0] = '\0';
		if (cr->repeat <= 0)
			cr->repeat = cr->c->repeat; /* a run rebuilt without it */
		cr->repeated = case_asked(cr) > 1;
		cr->p_value = cr->p_least = cr->p_below = 1.0;
		cr->below = false;
		cr->verdict = case_enough(r, cr) ? VERDICT_PASS : VERDICT_ERROR;
	}
	struct tested *t = xcalloc(r->ncases ? r->ncases : 1, sizeof(*t));
	size_t ntested = test_cases(r, t);
	test_below(r, t, ntested);
	test_strata(r, t, ntested);
	for (size_t i = 0; i < ntested; i++) {
		struct case_result *cr = t[i].cr;
		if (!cr->side[SIDE_EVAL].ok || !cr->side[SIDE_PROD].ok)
			cr->verdict = tested_verdict(r, cr, t[i].case_look);
		stats_null_release(&t[i].look.null);
	}
	free(t);

	bool any_flaky = false;
	for (size_t i = 0; i < r->ncases; i++) {
		struct case_result *cr = &r->cases[i];
		if (!cr->selected || !cr->c)
			continue;
		if (!cr->repeated && cr->verdict != VERDICT_ERROR)
			cr->verdict = untested_verdict(cr);
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
