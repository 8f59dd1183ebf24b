/* stats.h: significance tests for eval-versus-prod pass counts.
 *
 * A 2x2 table is {a, b, c, d} = [[eval passed, eval failed],
 * [prod passed, prod failed]].  Every p-value is two-sided.  Negative counts
 * are treated as 0.  docs/statistics.md says which test to use where:
 * stats_fisher_two_sided() per case, stats_cmh_exact() per stratum (one
 * table per case), stats_holm() across the family of cases or strata.
 *
 * Ownership: nothing returned is allocated; callers own every array they
 * pass in.
 */
#ifndef CANARY_STATS_H
#define CANARY_STATS_H

#include <stdbool.h>
#include <stddef.h>

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

/* stats_wilson: the Wilson score interval for passed out of n at normal
 * quantile z (1.96 for 95%); [0, 1] when n is 0. */
void stats_wilson(int passed, int n, double z, double *lo, double *hi);

/* stats_holm_adjust: Holm-adjusted p-values (monotone in the order of p,
 * capped at 1); NaN counts as 1. */
void stats_holm_adjust(const double *p, size_t n, double *adjusted);

/* stats_holm: Holm-Bonferroni step-down at family-wise level alpha:
 * reject[i] tells whether hypothesis i is rejected. */
void stats_holm(const double *p, size_t n, double alpha, bool *reject);

/* stats_fisher_power: the exact power of stats_fisher_two_sided() at level
 * alpha with n samples per side whose pass probabilities are p1 (eval) and
 * p2 (prod); -1 when n is outside 1..STATS_POWER_MAX_N or p1, p2 outside
 * [0, 1]. */
double stats_fisher_power(double p1, double p2, int n, double alpha);

#endif
