/* stats.h: significance tests for eval-versus-prod pass counts.
 *
 * A 2x2 table is {a, b, c, d} = [[eval passed, eval failed],
 * [prod passed, prod failed]].  Every p-value is two-sided.  Negative counts
 * are treated as 0.  docs/statistics.md says which test to use where:
 * stats_table_p() per case, stats_cmh_tables() per stratum (one table
 * per case), stats_combine() for a stratum's two looks,
 * stats_discrete_holm() across strata, stats_binom_below() against a
 * threshold and stats_tarone_holm() across cases.
 *
 * Ownership: callers own every array they pass in; a struct stats_null
 * filled by a test owns its arrays until stats_null_release(); a struct
 * stats_combined borrows the looks it was combined from.
 */
#ifndef CANARY_STATS_H
#define CANARY_STATS_H

#include <stdbool.h>
#include <stddef.h>

/* The default significance level of --alpha. */
#define STATS_ALPHA_DEFAULT 0.05
/* The default of --min-valid: the fraction of its samples a side needs
 * valid for a case with more than one sample to be measured. */
#define STATS_MIN_VALID_DEFAULT 0.5

/* Tolerance for rate >= threshold, so that 4/5 meets 0.8 despite rounding. */
#define STATS_THRESHOLD_EPSILON 1e-9

/* The levels of the stratum's rule of confirmation (stats_screens()): a
 * stratum's other cases are confirmed when the p-value of its confirmed
 * cases is at least half the strata's level (below it their CMH look is
 * significant without them) and below STATS_SCREEN_ONE when one case was
 * confirmed, STATS_SCREEN_MORE when more were. */
#define STATS_SCREEN_ONE 0.2
#define STATS_SCREEN_MORE 0.35

/* One case's valid samples for the difference test: n[side][0] passed and
 * n[side][1] failed, side 0 eval and 1 prod.  When the run confirmed
 * adaptively (staged), first[][] are the counts of the case's first
 * samples, whose outcome made the rule re-sample it (confirmed) or not:
 * a case is confirmed when both sides have a valid first sample and not
 * both meet threshold.  The test is then conditioned on that outcome.  A
 * case its stratum's screen confirmed (screened) is not confirmed by the
 * rule: its first samples met the threshold. */
struct stats_table {
	int n[2][2];
	int first[2][2];
	bool staged;
	bool confirmed;
	bool screened;
	double threshold;
};

/* stats_confirms: the confirmation rule: re-sample a case whose first
 * samples had x passes of ve valid on eval and y of vp on prod. */
bool stats_confirms(int x, int ve, int y, int vp, double threshold);

/* stats_screen_p: the stratum's screen: the exact CMH p-value (two-sided,
 * each table conditioned on the rule as in stats_cmh_tables()) of the
 * tables among t[0..k) that the rule confirmed; 1 when there is none or
 * past the exact limits. */
double stats_screen_p(const struct stats_table *t, size_t k);
/* stats_screens: the stratum's rule of confirmation: once the cases of a
 * stratum the rule confirmed have all their samples, confirm its other
 * staged cases too when stats_screen_p() is within the levels above, in a
 * run whose strata are tested at level. */
bool stats_screens(const struct stats_table *t, size_t k, double level);

/* The null distribution of a discrete p-value given what its test
 * conditions on: the values it can take, ascending, with the probability
 * of each; or, past the exact limits, only the bound P(p <= x) <= x. */
struct stats_null {
	double *p;
	double *mass;
	size_t n;
	bool bound;
};

/* stats_null_cdf: P(p <= x) under the null (the bound x when not listed). */
double stats_null_cdf(const struct stats_null *z, double x);
/* stats_null_least: the least attainable p (0 when not listed). */
double stats_null_least(const struct stats_null *z);
void stats_null_release(struct stats_null *z);

/* A p-value and its null distribution. */
struct stats_look {
	double p;
	struct stats_null null;
};

/* The stratum test of docs/statistics.md: the CMH look and the case look
 * (Bonferroni over the cases that can reach its level, Tarone-style), each
 * at half the level when both can contribute.  It borrows the looks. */
struct stats_combined {
	double p;              /* min(cmh_factor p_cmh, case_factor min p_case), at most 1 */
	double least;          /* the least value p can take */
	double cmh_factor;     /* 1 or 2 */
	double case_factor;    /* 2 x the eligible cases; 0 when the case look is off */
	double case_level;     /* a case joins the case look when its least <= this */
	const struct stats_look *cmh;
	const struct stats_look *cases;
	size_t k;
};

/* The largest n per side stats_fisher_power() accepts. */
#define STATS_POWER_MAX_N 200

/* stats_fisher_two_sided: Fisher's exact test of [[a, b], [c, d]]: the sum
 * of the hypergeometric probabilities no larger than the observed one (with
 * R's relative tolerance of 1e-7); 1.0 when a margin is zero. */
double stats_fisher_two_sided(int a, int b, int c, int d);

/* stats_fisher_pooled: Fisher's exact test of the k tables summed into one.
 * Biased when the tables differ in base rate (Simpson's paradox); kept for
 * comparison, see docs/statistics.md. */
double stats_fisher_pooled(const int (*tables)[4], size_t k);

/* stats_cmh: the Cochran-Mantel-Haenszel chi-square test (1 df, with
 * continuity correction, as R's mantelhaen.test) of k 2x2 tables.  Tables
 * with a zero margin carry no information and are skipped; 1.0 when no
 * table is informative. */
double stats_cmh(const int (*tables)[4], size_t k);

/* stats_cmh_exact: the exact conditional test of a common odds ratio of 1
 * over k 2x2 tables (R's mantelhaen.test(exact = TRUE)): the distribution
 * of the summed a given every table's margins, two-sided like Fisher's.
 * Falls back to stats_cmh() when that distribution would be too large to
 * enumerate (over 10^6 points or 10^8 steps; large samples, where the
 * chi-square form is accurate). */
double stats_cmh_exact(const int (*tables)[4], size_t k);

/* stats_table_p: the two-sided exact p-value of one table (Fisher's test;
 * for a staged table, the exact test given the margins and the rule's
 * outcome), and in *null (when not NULL) its null distribution, which the
 * caller releases. */
double stats_table_p(const struct stats_table *t, struct stats_null *null);

/* stats_cmh_tables: the exact CMH test of k tables, each staged table
 * conditioned on the rule's outcome like stats_table_p(); *null its null
 * distribution (only bounded past the exact limits, where the chi-square
 * form stands in) and *shift the summed eval passes minus their
 * expectation (positive: eval passes more).  Either may be NULL. */
double stats_cmh_tables(const struct stats_table *t, size_t k, struct stats_null *null,
			double *shift);

/* stats_stratum_looks: the looks of a stratum whose k cases (every one
 * measured, tested or not: the screen read them all) have tables t: the
 * CMH look over those with tested[i], with *shift as in
 * stats_cmh_tables() (may be NULL), and each tested case's own look in
 * cases[i] (the others are left alone), in a run whose strata are tested
 * at level.  Each look is conditioned on the
 * rule's decisions: each staged table's own, and the stratum's screen
 * (stats_screens()) when it had cases to confirm; when the tables
 * disagree with the screen (cases screened apart, as merged shards are),
 * the screened cases' samples after their first are set aside.  Past the
 * exact limits the unconditioned forms stand in.  The caller releases
 * every null filled. */
void stats_stratum_looks(const struct stats_table *t, size_t k, const bool *tested, double level,
			 struct stats_look *cmh, double *shift, struct stats_look *cases);

/* stats_binom_below: P(X <= x) for X binomial(n, rate): the one-sided
 * exact p-value of "the pass rate is at least rate" after x passes of n;
 * 1 when n <= 0 or x >= n. */
double stats_binom_below(int x, int n, double rate);
/* stats_binom_least: the least value of stats_binom_below() with n
 * samples, (1 - rate)^n. */
double stats_binom_least(int n, double rate);

/* stats_tarone_holm: the step-down Tarone procedure (Hommel and
 * Krummenauer's Tarone-Holm) at family-wise level alpha: at each step K is
 * the smallest count such that at most K of the hypotheses left can reach
 * alpha / K (least[i] <= alpha / K), and every hypothesis left with
 * p[i] <= alpha / K is rejected; it stops when a step rejects none.
 * factor[i] is the K of the step that decided hypothesis i.  At most 64
 * steps are taken (stopping early only rejects less). */
void stats_tarone_holm(const double *p, const double *least, size_t n, double alpha,
		       bool *reject, double *factor);

/* stats_combine: a stratum's p-value for a test at level at most alpha
 * from its CMH look and its k cases' own looks (docs/statistics.md). */
void stats_combine(const struct stats_look *cmh, const struct stats_look *cases, size_t k,
		   double alpha, struct stats_combined *out);
/* stats_combined_case: whether case i takes part in the case look. */
bool stats_combined_case(const struct stats_combined *c, size_t i);

/* stats_discrete_holm: the step-down discrete Bonferroni (Holm)
 * procedure over n strata at family-wise level alpha: at each step, a
 * stratum left is rejected when the sum over the strata left of their
 * null probabilities of a p-value at or below its own (each bounded by
 * its looks' null distributions) is at most alpha; that sum is its
 * adjusted p, and level[i] the largest p that step would have rejected.
 * It stops when a step rejects none, or after 64 steps. */
void stats_discrete_holm(const struct stats_combined *h, size_t n, double alpha, bool *reject,
			 double *adjusted, double *level);

/* stats_wilson: the Wilson score interval for passed out of n at normal
 * quantile z (1.96 for 95%); [0, 1] when n is 0. */
void stats_wilson(int passed, int n, double z, double *lo, double *hi);

/* stats_fisher_power: the exact power of stats_fisher_two_sided() at level
 * alpha with n samples per side whose pass probabilities are p1 (eval) and
 * p2 (prod); -1 when n is outside 1..STATS_POWER_MAX_N or p1, p2 outside
 * [0, 1]. */
double stats_fisher_power(double p1, double p2, int n, double alpha);

#endif
