/* report/verdict.c: case, stratum and run verdicts and the exit code. */
#include "report/verdict.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
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

/* The levels of the run's two families (docs/statistics.md): thresholds
 * at alpha, differences at alpha (1 - alpha), so that a run of the same
 * agent on both sides exits 1 with probability at most alpha. */
static double level_below(const struct report *r)
{
	return r->alpha > 0 ? r->alpha : STATS_ALPHA_DEFAULT;
}

static double level_diff(const struct report *r)
{
	double a = level_below(r);
	return a * (1.0 - a);
}

static int case_asked(const struct report_case *c)
{
	return c->repeat + c->confirm;
}

/* set_note: c's note, kept in r. */
static void set_note(struct report *r, struct report_case *c, const char *note)
{
	c->note = report_intern(r, note);
}

/* case_enough: whether both sides have the valid samples the test needs
 * (the --min-valid fraction of those asked, and enough for the difference
 * test to reach its level when the samples asked could); why not in c's
 * note. */
static bool case_enough(struct report *r, struct report_case *c)
{
	int asked = case_asked(c), valid[SIDE__COUNT];
	double min_valid = r->min_valid > 0 ? r->min_valid : 0.0;
	bool enough = true;

	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_side *s = &c->side[side];
		valid[side] = s->passed + s->failed;
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
	char note[128];
	snprintf(note, sizeof(note), "%s: %d of %d samples measured", side_name((enum side)side),
		 valid[side], asked);
	set_note(r, c, note);
	return false;
}

/* case_table: a tested case's counts for the difference test. */
static struct stats_table case_table(const struct report *r, const struct report_case *c)
{
	const struct report_side *e = &c->side[SIDE_EVAL], *p = &c->side[SIDE_PROD];
	return (struct stats_table){
		.n = {{e->passed, e->failed}, {p->passed, p->failed}},
		.first = {{e->first_passed, e->first_failed}, {p->first_passed, p->first_failed}},
		.staged = r->confirm > 0,
		.confirmed = c->confirmed && !c->by_stratum,
		.screened = c->by_stratum,
		.threshold = c->threshold,
	};
}

/* The tests of a run: one entry per tested case. */
struct tested {
	struct report_case *c;
	struct stats_look look;
	bool case_look;        /* significant on its own in its stratum's case look */
};

/* test_cases: the tested cases, each with its test against the threshold
 * (both sides below, intersection-union); their own looks come with their
 * strata's. */
static size_t test_cases(struct report *r, struct tested *t)
{
	size_t n = 0;
	for (size_t i = 0; i < r->ncases; i++) {
		struct report_case *c = &r->cases[i];
		if (c->skipped || !report_case_repeated(c) || c->verdict == VERDICT_ERROR)
			continue;
		t[n].c = c;
		t[n].case_look = false;
		c->p_below = 0.0;
		for (int side = 0; side < SIDE__COUNT; side++) {
			const struct report_side *s = &c->side[side];
			c->p_below = fmax(c->p_below, stats_binom_below(s->passed,
									s->passed + s->failed,
									c->threshold));
		}
		n++;
	}
	return n;
}

/* test_below: Tarone-Holm over the tested cases' threshold tests at alpha;
 * the least p-value of each is that of the samples the design could ask
 * for, which no outcome depends on. */
static void test_below(const struct report *r, struct tested *t, size_t n)
{
	double *p = xcalloc(n ? n : 1, sizeof(*p)), *least = xcalloc(n ? n : 1, sizeof(*least));
	double *factor = xcalloc(n ? n : 1, sizeof(*factor));
	bool *reject = xcalloc(n ? n : 1, sizeof(*reject));
	for (size_t i = 0; i < n; i++) {
		const struct report_case *c = t[i].c;
		p[i] = c->p_below;
		least[i] = stats_binom_least(c->repeat + r->confirm, c->threshold);
	}
	stats_tarone_holm(p, least, n, level_below(r), reject, factor);
	for (size_t i = 0; i < n; i++)
		t[i].c->below = reject[i];
	free(reject);
	free(factor);
	free(least);
	free(p);
}

/* stratum_looks: the looks of stratum s: the CMH look over its k tested
 * cases t[] and each one's own (in t[i]->look, with its p_value), from
 * the tables of every measured case of the stratum, which its screen
 * read. */
static void stratum_looks(struct report *r, size_t s, struct tested **t, size_t k,
			  struct stats_look *cmh, double *shift)
{
	size_t cap = r->ncases ? r->ncases : 1, m = 0;
	struct stats_table *tables = xcalloc(cap, sizeof(*tables));
	struct stats_look *looks = xcalloc(cap, sizeof(*looks));
	bool *tested = xcalloc(cap, sizeof(*tested));
	struct tested **at = xcalloc(cap, sizeof(*at));

	for (size_t i = 0; i < r->ncases; i++) {
		struct report_case *c = &r->cases[i];
		if (c->skipped || c->stratum != s)
			continue;
		tables[m] = case_table(r, c);
		for (size_t j = 0; j < k; j++)
			if (t[j]->c == c)
				at[m] = t[j];
		tested[m] = at[m] != NULL;
		m++;
	}
	stats_stratum_looks(tables, m, tested, level_diff(r), cmh, shift, looks);
	for (size_t i = 0; i < m; i++) {
		if (!at[i])
			continue;
		at[i]->look = looks[i];
		at[i]->c->p_value = looks[i].p;
		at[i]->c->p_least = stats_null_least(&looks[i].null);
	}
	free(at);
	free(tested);
	free(looks);
	free(tables);
}

/* test_strata: each stratum's CMH look and case look combined, then the
 * discrete Holm procedure across the strata; which look carried a
 * significant stratum decides the direction of its effect, or the cases
 * that are significant on their own. */
static void test_strata(struct report *r, struct tested *t, size_t n)
{
	size_t ns = r->nstrata ? r->nstrata : 1;
	struct stats_combined *comb = xcalloc(ns, sizeof(*comb));
	struct stats_look *cmh = xcalloc(ns, sizeof(*cmh));
	/* Each stratum's cases' looks, in one array ordered by stratum. */
	struct stats_look *looks = xcalloc(n ? n : 1, sizeof(*looks));
	struct tested **owner = xcalloc(n ? n : 1, sizeof(*owner));
	double *shift = xcalloc(ns, sizeof(*shift)), *adjusted = xcalloc(ns, sizeof(*adjusted));
	double *at = xcalloc(ns, sizeof(*at));
	bool *reject = xcalloc(ns, sizeof(*reject));
	size_t *which = xcalloc(ns, sizeof(*which)), ntested = 0, used = 0;
	double level = level_diff(r);

	for (size_t s = 0; s < r->nstrata; s++) {
		struct report_stratum *st = &r->strata[s];
		size_t first = used;
		for (size_t i = 0; i < n; i++) {
			if (t[i].c->stratum != s)
				continue;
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
		stratum_looks(r, s, &owner[first], k, &cmh[ntested], &shift[s]);
		for (size_t i = first; i < used; i++)
			looks[i] = owner[i]->look;
		stats_combine(&cmh[ntested], &looks[first], k, level, &comb[ntested]);
		st->p_cmh = cmh[ntested].p;
		st->p_value = comb[ntested].p;
		st->p_least = comb[ntested].least;
		which[ntested++] = s;
	}
	stats_discrete_holm(comb, ntested, level, reject, adjusted, at);
	for (size_t j = 0; j < ntested; j++) {
		struct report_stratum *st = &r->strata[which[j]];
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
	free(owner);
	free(looks);
	free(cmh);
	free(comb);
}

/* case_direction: +1 when eval's rate is above prod's, -1 below, 0 equal. */
static int case_direction(const struct report_case *c)
{
	double d = report_side_rate(&c->side[SIDE_EVAL]) - report_side_rate(&c->side[SIDE_PROD]);
	return d > 0 ? 1 : d < 0 ? -1 : 0;
}

/* tested_verdict: the verdict of a tested case whose sides do not both
 * pass: a failing verdict only when a significant effect agrees with it;
 * flaky, with the reason in its note, otherwise. */
static enum verdict tested_verdict(struct report *r, struct report_case *c, bool case_look)
{
	const struct report_stratum *st = &r->strata[c->stratum];
	bool eval_ok = report_side_ok(c, SIDE_EVAL), prod_ok = report_side_ok(c, SIDE_PROD);
	int dir = case_direction(c);
	bool with_stratum = st->direction != 0 && st->direction == dir;
	bool significant = dir != 0 && (with_stratum || case_look);
	char note[128];

	if (!eval_ok && !prod_ok && c->below)
		return VERDICT_REGRESSION;
	if (significant)
		return dir > 0 ? VERDICT_DRIFT : VERDICT_EVAL_REGRESSION;
	if (!eval_ok && !prod_ok) {
		enum side worse = report_side_rate(&c->side[SIDE_PROD]) <=
						  report_side_rate(&c->side[SIDE_EVAL])
					  ? SIDE_PROD : SIDE_EVAL;
		const struct report_side *w = &c->side[worse];
		snprintf(note, sizeof(note), "%s %d/%d vs threshold %g: not significantly below",
			 side_name(worse), w->passed, w->passed + w->failed, c->threshold);
	} else if (st->direction != 0 && dir != 0) {
		snprintf(note, sizeof(note),
			 "against the direction of its stratum's significant difference");
	} else {
		snprintf(note, sizeof(note), "difference not significant");
	}
	set_note(r, c, note);
	return VERDICT_FLAKY;
}

/* untested_verdict: the DESIGN.md table from one sample a side. */
static enum verdict untested_verdict(const struct report_case *c)
{
	bool eval_ok = report_side_ok(c, SIDE_EVAL), prod_ok = report_side_ok(c, SIDE_PROD);

	if (eval_ok && prod_ok)
		return VERDICT_PASS;
	if (eval_ok)
		return VERDICT_DRIFT;
	if (prod_ok)
		return VERDICT_EVAL_REGRESSION;
	return VERDICT_REGRESSION;
}

static enum verdict verdict_max(enum verdict a, enum verdict b)
{
	return a > b ? a : b;
}

void verdict_compute(struct report *r)
{
	bool any_failing = false, any_error = false, any_flaky = false;

	r->verdict = VERDICT_PASS;
	for (size_t i = 0; i < r->nstrata; i++) {
		struct report_stratum *s = &r->strata[i];
		s->ncases = 0;
		memset(s->passed, 0, sizeof(s->passed));
		memset(s->counts, 0, sizeof(s->counts));
		s->verdict = VERDICT_PASS;
		s->selected = false;
	}

	for (size_t i = 0; i < r->ncases; i++) {
		struct report_case *c = &r->cases[i];
		if (c->skipped)
			continue;
		c->note = NULL;
		c->p_value = c->p_least = c->p_below = 1.0;
		c->below = false;
		c->verdict = case_enough(r, c) ? VERDICT_PASS : VERDICT_ERROR;
	}
	struct tested *t = xcalloc(r->ncases ? r->ncases : 1, sizeof(*t));
	size_t ntested = test_cases(r, t);
	test_below(r, t, ntested);
	test_strata(r, t, ntested);
	for (size_t i = 0; i < ntested; i++) {
		struct report_case *c = t[i].c;
		if (!report_side_ok(c, SIDE_EVAL) || !report_side_ok(c, SIDE_PROD))
			c->verdict = tested_verdict(r, c, t[i].case_look);
		stats_null_release(&t[i].look.null);
	}
	free(t);

	for (size_t i = 0; i < r->ncases; i++) {
		struct report_case *c = &r->cases[i];
		if (c->skipped)
			continue;
		if (!report_case_repeated(c) && c->verdict != VERDICT_ERROR)
			c->verdict = untested_verdict(c);
		any_flaky |= c->verdict == VERDICT_FLAKY;

		r->verdict = verdict_max(r->verdict, c->verdict);
		any_failing |= verdict_failing(c->verdict);
		any_error |= c->verdict == VERDICT_ERROR;

		struct report_stratum *s = &r->strata[c->stratum];
		s->selected = true;
		s->ncases++;
		for (int side = 0; side < SIDE__COUNT; side++)
			s->passed[side] += report_side_ok(c, (enum side)side);
		s->counts[c->verdict]++;
		s->verdict = verdict_max(s->verdict, c->verdict);
	}

	if (r->interrupted)
		r->exit_code = EXIT_INTERRUPTED;
	else if (any_failing || (r->strict && any_flaky))
		r->exit_code = EXIT_FAIL;
	else if (any_error || r->budget.not_run > 0)
		r->exit_code = EXIT_ERRORS;
	else
		r->exit_code = EXIT_PASS;
	report_apply_fingerprints(r);
}
