/* test_stats.c: Fisher, CMH, Wilson, Tarone-Holm, binomial and power against reference values.
 *
 * Unless a value is a published one (R's documentation), it was computed
 * independently in python3 with exact rational arithmetic: math.comb for the
 * hypergeometric terms, fractions.Fraction for the sums, R's rule of "as
 * extreme" (probability <= observed * (1 + 1e-7)), and math.erfc for the
 * chi-square tail of CMH.
 *
 * With CANARY_POWER_TABLE set, the power test prints the table that
 * docs/statistics.md quotes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "stats.h"
#include "util.h"

/* |got - want| <= rel * |want| (or the absolute rel when want is 0). */
static void assert_rel(double got, double want, double rel)
{
	double tol = want == 0.0 ? rel : rel * fabs(want);
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.17g, want %.17g (relative tolerance %g)", got, want, rel);
}

static void assert_abs(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("got %.17g, want %.17g (absolute tolerance %g)", got, want, tol);
}

static void test_fisher_known(void **state)
{
	(void)state;
	/* Fisher's tea-tasting table; R: p-value = 0.4857. */
	assert_rel(stats_fisher_two_sided(3, 1, 1, 3), 0.4857142857142857, 1e-9);
	/* R: 1.083e-05. */
	assert_rel(stats_fisher_two_sided(10, 0, 0, 10), 1.082508822446903e-05, 1e-9);
	/* R fisher.test(matrix(c(1, 11, 9, 3), 2)): p-value = 0.002759. */
	assert_rel(stats_fisher_two_sided(1, 9, 11, 3), 0.0027594561852200836, 1e-9);
	assert_rel(stats_fisher_two_sided(0, 5, 5, 0), 0.007936507936507936, 1e-9);
	assert_rel(stats_fisher_two_sided(2, 7, 8, 2), 0.023014137565221155, 1e-9);
	assert_rel(stats_fisher_two_sided(12, 5, 3, 15), 0.0020456047636006045, 1e-9);
	assert_rel(stats_fisher_two_sided(5, 5, 5, 5), 1.0, 1e-12);
	assert_rel(stats_fisher_two_sided(0, 0, 0, 0), 1.0, 0);
	/* A zero margin: nothing can differ. */
	assert_rel(stats_fisher_two_sided(7, 0, 3, 0), 1.0, 0);
	assert_rel(stats_fisher_two_sided(0, 0, 3, 4), 1.0, 0);
	/* Symmetric in the rows and in the columns. */
	assert_rel(stats_fisher_two_sided(11, 3, 1, 9), 0.0027594561852200836, 1e-9);
	assert_rel(stats_fisher_two_sided(9, 1, 3, 11), 0.0027594561852200836, 1e-9);
}

static void test_fisher_large(void **state)
{
	(void)state;
	/* 0.02696 was once quoted for this table; exact rational arithmetic
	 * (see the top of this file) gives 0.0282036, the reference here. */
	assert_rel(stats_fisher_two_sided(500, 500, 450, 550), 0.028203568904234012, 1e-6);
	assert_rel(stats_fisher_two_sided(5000, 5000, 4800, 5200), 0.004878795768906829, 1e-6);
	/* n = 200000, exact integer numerators over C(n, c1) in python3. */
	assert_rel(stats_fisher_two_sided(50000, 50000, 49500, 50500), 0.02563959662496311,
		   1e-6);
	/* Counts near INT_MAX must not overflow or hang. */
	double p = stats_fisher_two_sided(2000000000, 2000000000, 2000000000, 2000000000);
	assert_rel(p, 1.0, 1e-6);
	p = stats_fisher_two_sided(2000000000, 0, 0, 2000000000);
	assert_true(p >= 0.0 && p < 1e-300);
	assert_rel(stats_fisher_two_sided(-3, 1, 1, 3), stats_fisher_two_sided(0, 1, 1, 3), 0);
}

/* The definition, summed over every outcome, without stats.c's shortcuts. */
static double fisher_naive(int a, int b, int c, int d)
{
	int r1 = a + b, r2 = c + d, c1 = a + c, n = r1 + r2;
	int lo = c1 - r2 > 0 ? c1 - r2 : 0, hi = r1 < c1 ? r1 : c1;
	double lnorm = lgamma(n + 1) - lgamma(c1 + 1) - lgamma(n - c1 + 1);
	double pobs = 0.0, sum = 0.0;
	for (int pass = 0; pass < 2; pass++) {
		for (int x = lo; x <= hi; x++) {
			double l = lgamma(r1 + 1) - lgamma(x + 1) - lgamma(r1 - x + 1) +
				   lgamma(r2 + 1) - lgamma(c1 - x + 1) -
				   lgamma(r2 - c1 + x + 1) - lnorm;
			if (pass == 0 && x == a)
				pobs = exp(l);
			if (pass == 1 && exp(l) <= pobs * (1 + 1e-7))
				sum += exp(l);
		}
	}
	return sum > 1.0 ? 1.0 : sum;
}

static void test_fisher_matches_definition(void **state)
{
	(void)state;
	for (int a = 0; a <= 12; a++)
		for (int b = 0; b <= 12; b += 3)
			for (int c = 0; c <= 12; c += 2)
				for (int d = 0; d <= 12; d += 5)
					assert_rel(stats_fisher_two_sided(a, b, c, d),
						   fisher_naive(a, b, c, d), 1e-9);
	assert_rel(stats_fisher_two_sided(40, 160, 70, 130), fisher_naive(40, 160, 70, 130), 1e-9);
}

/* Berkeley admissions 1973 (R's UCBAdmissions), one table per department:
 * [[male admitted, male rejected], [female admitted, female rejected]]. */
static const int ucb[6][4] = {
	{512, 313, 89, 19},  {353, 207, 17, 8},   {120, 205, 202, 391},
	{138, 279, 131, 244}, {53, 138, 94, 299}, {22, 351, 24, 317},
};

static void test_cmh(void **state)
{
	(void)state;
	/* R's documentation: mantelhaen.test(UCBAdmissions) gives
	 * X-squared = 1.4269, p-value = 0.2323. */
	assert_rel(stats_cmh(ucb, 6), 0.23226346281704718, 1e-9);
	/* Pooled, the same data look hugely significant (Simpson's paradox). */
	assert_rel(stats_fisher_pooled(ucb, 6), 4.835903179337354e-22, 1e-6);
	assert_rel(stats_cmh_exact(ucb, 6), 0.22776252679820602, 1e-7);

	/* repeat: 1 over six cases: five drift, one the other way, and ten
	 * cases that pass on both sides (a zero margin: no information).  The
	 * exact test is then the sign test: P(5 or more of 6) * 2 = 14/64. */
	int small[16][4];
	for (int i = 0; i < 16; i++) {
		int row[4] = {1, 0, 1, 0};
		if (i < 5) {
			row[2] = 0;
			row[3] = 1;
		} else if (i == 15) {
			row[0] = 0;
			row[1] = 1;
		}
		for (int j = 0; j < 4; j++)
			small[i][j] = row[j];
	}
	assert_rel(stats_cmh_exact(small, 16), 14.0 / 64.0, 1e-9);
	assert_rel(stats_cmh(small, 16), 0.22067136191984682, 1e-9);

	static const int mix[4][4] = {{5, 0, 2, 3}, {4, 1, 1, 4}, {3, 2, 3, 2}, {5, 0, 0, 5}};
	assert_rel(stats_cmh(mix, 4), 0.0020844033533819082, 1e-9);
	assert_rel(stats_cmh_exact(mix, 4), 0.0014498524277435842, 1e-7);

	/* One table: the exact conditional test is Fisher's test. */
	static const int one[1][4] = {{1, 9, 11, 3}};
	assert_rel(stats_cmh_exact(one, 1), stats_fisher_two_sided(1, 9, 11, 3), 1e-9);

	/* Nothing informative. */
	static const int flat[3][4] = {{3, 0, 3, 0}, {0, 0, 0, 0}, {0, 2, 0, 2}};
	assert_rel(stats_cmh(flat, 3), 1.0, 0);
	assert_rel(stats_cmh_exact(flat, 3), 1.0, 0);
	assert_rel(stats_cmh(NULL, 0), 1.0, 0);
	assert_rel(stats_cmh_exact(NULL, 0), 1.0, 0);

	/* Too large to enumerate: falls back to the chi-square form. */
	static const int huge[2][4] = {{100000, 100000, 99000, 101000},
				       {100000, 100000, 99000, 101000}};
	assert_rel(stats_cmh_exact(huge, 2), stats_cmh(huge, 2), 0);
}

static void test_wilson(void **state)
{
	(void)state;
	double lo, hi;
	stats_wilson(8, 10, 1.96, &lo, &hi);
	assert_abs(lo, 0.4902, 5e-5);
	assert_abs(hi, 0.9433, 5e-5);
	stats_wilson(0, 10, 1.96, &lo, &hi);
	assert_abs(lo, 0.0, 0);
	assert_abs(hi, 0.2775, 5e-5);
	stats_wilson(10, 10, 1.96, &lo, &hi);
	assert_abs(lo, 0.7225, 5e-5);
	assert_abs(hi, 1.0, 0);
	stats_wilson(0, 0, 1.96, &lo, &hi);
	assert_abs(lo, 0.0, 0);
	assert_abs(hi, 1.0, 0);
	/* Symmetric: k of n mirrors n - k of n. */
	double lo2, hi2;
	stats_wilson(3, 17, 1.96, &lo, &hi);
	stats_wilson(14, 17, 1.96, &lo2, &hi2);
	assert_abs(lo, 1.0 - hi2, 1e-12);
	assert_abs(hi, 1.0 - lo2, 1e-12);
}

/* A table of valid counts; staged with first-sample counts when first is
 * not NULL. */
static struct stats_table table(int ep, int ef, int pp, int pf, const int (*first)[2],
				bool confirmed, double threshold)
{
	struct stats_table t = {.n = {{ep, ef}, {pp, pf}}};
	if (first) {
		for (int side = 0; side < 2; side++)
			for (int k = 0; k < 2; k++)
				t.first[side][k] = first[side][k];
		t.staged = true;
		t.confirmed = confirmed;
		t.threshold = threshold;
	}
	return t;
}

/* table_p: stats_table_p() of t, and its least attainable p in *least. */
static double table_p(const struct stats_table *t, double *least)
{
	struct stats_null z;
	double p = stats_table_p(t, &z);
	*least = stats_null_least(&z);
	stats_null_release(&z);
	return p;
}

static void test_staged_tables(void **state)
{
	(void)state;
	double least;
	/* Unstaged: Fisher, and the least p of its margins (the corner table). */
	struct stats_table t = table(10, 0, 0, 10, NULL, false, 0);
	assert_rel(table_p(&t, &least), 1.082508822446903e-05, 1e-9);
	assert_rel(stats_table_p(&t, NULL), 1.082508822446903e-05, 1e-9);
	assert_rel(least, 1.082508822446903e-05, 1e-9);
	t = table(9, 1, 5, 5, NULL, false, 0);
	assert_rel(table_p(&t, &least), 0.14086687306501547, 1e-9);
	assert_rel(least, 0.010835913312693499, 1e-9);
	/* A zero margin can reach nothing. */
	t = table(7, 0, 3, 0, NULL, false, 0);
	assert_rel(table_p(&t, &least), 1.0, 0);
	assert_rel(least, 1.0, 0);

	/* repeat 1, confirmed with 9 more: eval passed its first sample and
	 * prod failed it; given that the rule confirmed, and the margins
	 * (python3: every arrangement weighted by math.comb, fractions). */
	static const int disagreed[2][2] = {{1, 0}, {0, 1}};
	t = table(9, 1, 5, 5, disagreed, true, 1.0);
	assert_rel(table_p(&t, &least), 0.1497326203208556, 1e-9);
	assert_rel(least, 0.012477718360071301, 1e-9);
	/* Not confirmed at repeat 10, threshold 0.7: both sides had at least 7,
	 * so only a in 7..10 was possible given 17 passes. */
	static const int agreed[2][2] = {{10, 0}, {7, 3}};
	t = table(10, 0, 7, 3, agreed, false, 0.7);
	assert_rel(table_p(&t, &least), 0.21052631578947367, 1e-9);
	assert_rel(least, 0.21052631578947367, 1e-9);

	/* CMH over two confirmed cases, and its direction. */
	static const int reversed[2][2] = {{0, 1}, {1, 0}};
	struct stats_table two[2] = {table(9, 1, 5, 5, disagreed, true, 1.0),
				     table(8, 2, 3, 7, reversed, true, 1.0)};
	double shift;
	struct stats_null z;
	assert_rel(stats_cmh_tables(two, 2, &z, &shift), 0.009116719497342335, 1e-9);
	assert_rel(stats_null_least(&z), 9.410044012120137e-07, 1e-9);
	stats_null_release(&z);
	assert_true(shift > 0);
	/* Unstaged, the same as stats_cmh_exact(). */
	const int plain[2][4] = {{9, 1, 5, 5}, {8, 2, 3, 7}};
	two[0] = table(9, 1, 5, 5, NULL, false, 0);
	two[1] = table(8, 2, 3, 7, NULL, false, 0);
	assert_rel(stats_cmh_tables(two, 2, NULL, NULL), stats_cmh_exact(plain, 2), 1e-12);
}

/* The null distribution of Fisher's p for margins 5 and 5 of 10 with five
 * passes: a = 0..5 with weights C(5,a) C(5,5-a) / 252 = 1, 25, 100, 100,
 * 25, 1; the p-values are 2/252, 52/252 and 1. */
static void test_null_distribution(void **state)
{
	(void)state;
	struct stats_table t = table(5, 0, 0, 5, NULL, false, 0);
	struct stats_null z;
	assert_rel(stats_table_p(&t, &z), 2.0 / 252, 1e-9);
	assert_int_equal(z.n, 3);
	assert_false(z.bound);
	assert_rel(z.p[0], 2.0 / 252, 1e-9);
	assert_rel(z.p[1], 52.0 / 252, 1e-9);
	assert_rel(z.p[2], 1.0, 1e-12);
	assert_rel(stats_null_cdf(&z, 0.05), 2.0 / 252, 1e-9);
	assert_rel(stats_null_cdf(&z, 0.5), 52.0 / 252, 1e-9);
	assert_rel(stats_null_cdf(&z, 0.001), 0.0, 0);
	assert_rel(stats_null_cdf(&z, 1.0), 1.0, 1e-12);
	/* Never above the level: a valid p-value. */
	for (size_t s = 0; s < z.n; s++)
		assert_true(stats_null_cdf(&z, z.p[s]) <= z.p[s] * (1 + 1e-9));
	stats_null_release(&z);
	struct stats_null bound = {NULL, NULL, 0, true};
	assert_rel(stats_null_cdf(&bound, 0.01), 0.01, 0);
	assert_rel(stats_null_least(&bound), 0.0, 0);
}

static void test_binomial(void **state)
{
	(void)state;
	/* python3, fractions: sum of math.comb(n, k) t^k (1-t)^(n-k). */
	assert_rel(stats_binom_below(2, 10, 0.7), 0.0015903864, 1e-9);
	assert_rel(stats_binom_below(6, 10, 0.7), 0.3503892816, 1e-9);
	assert_rel(stats_binom_below(0, 10, 0.7), 5.9049e-06, 1e-9);
	assert_rel(stats_binom_below(9, 10, 0.95), 0.4012630607616211, 1e-9);
	assert_rel(stats_binom_below(40, 100, 0.5), 0.028443966820490395, 1e-9);
	assert_rel(stats_binom_least(10, 0.7), 5.9049e-06, 1e-9);
	/* Threshold 1: one failure proves the rate is below it. */
	assert_rel(stats_binom_below(9, 10, 1.0), 0.0, 0);
	assert_rel(stats_binom_least(10, 1.0), 0.0, 0);
	/* Threshold 0, or every sample passed: nothing is below. */
	assert_rel(stats_binom_below(0, 10, 0.0), 1.0, 0);
	assert_rel(stats_binom_below(10, 10, 0.7), 1.0, 0);
	assert_rel(stats_binom_least(10, 0.0), 1.0, 0);
	assert_rel(stats_binom_below(0, 0, 0.7), 1.0, 0);
}

static void test_tarone_holm(void **state)
{
	(void)state;
	bool reject[20];
	double factor[20];
	/* With every least p at 0 it is Holm: p = {0.01, 0.04, 0.03, 0.005}
	 * rejects 0.005 and 0.01 (both <= 0.05 / 4), then stops at
	 * 0.03 > 0.05 / 2. */
	const double p[] = {0.01, 0.04, 0.03, 0.005}, zero[] = {0, 0, 0, 0};
	stats_tarone_holm(p, zero, 4, 0.05, reject, factor);
	assert_true(reject[0] && reject[3]);
	assert_false(reject[1] || reject[2]);
	assert_abs(factor[3], 4, 0);
	assert_abs(factor[0], 4, 0);
	assert_abs(factor[2], 2, 0);

	/* Defect 1 of issue 11: 20 strata, one gone 5/5 -> 0/5 (p = 2/252),
	 * 19 that cannot reach any level (both sides passed everything). */
	double q[20], least[20];
	for (int i = 0; i < 20; i++)
		q[i] = least[i] = 1.0;
	q[7] = least[7] = 2.0 / 252.0;
	stats_tarone_holm(q, least, 20, 0.05, reject, factor);
	assert_true(reject[7]);
	assert_abs(factor[7], 1, 0);
	for (int i = 0; i < 20; i++)
		assert_true(i == 7 || !reject[i]);
	/* Two that could reach 0.05 / 2 share it. */
	least[3] = 0.02;
	q[3] = 0.5;
	stats_tarone_holm(q, least, 20, 0.05, reject, factor);
	assert_true(reject[7]);
	assert_abs(factor[7], 2, 0);
	assert_false(reject[3]);
	stats_tarone_holm(q, least, 0, 0.05, reject, factor);
}

/* A look whose null distribution is one attainable value, least, and 1. */
static struct stats_look look(double p, double least, double *values, double *masses)
{
	values[0] = least;
	values[1] = 1.0;
	masses[0] = least;
	masses[1] = 1.0 - least;
	return (struct stats_look){p, {values, masses, least < 1.0 ? 2 : 1, false}};
}

static void test_combine(void **state)
{
	(void)state;
	struct stats_combined c;
	double v[8][2], m[8][2];
	/* One informative case: the CMH look is that case's test. */
	struct stats_look cmh = look(0.004, 1e-5, v[0], m[0]);
	struct stats_look one[] = {look(0.004, 1e-5, v[1], m[1]), look(1.0, 1.0, v[2], m[2]),
				   look(1.0, 1.0, v[3], m[3])};
	stats_combine(&cmh, one, 3, 0.05, &c);
	assert_rel(c.p, 0.004, 1e-12);
	assert_rel(c.cmh_factor, 1, 0);
	/* One broken case of five: 2 x 3 eligible x its p, below the CMH look;
	 * a case that cannot reach 0.05 / 6 is not counted. */
	cmh = look(0.2, 1e-9, v[0], m[0]);
	struct stats_look five[] = {look(1e-4, 1e-5, v[1], m[1]), look(0.8, 0.01, v[2], m[2]),
				    look(0.9, 0.001, v[3], m[3]), look(1.0, 0.003, v[4], m[4]),
				    look(1.0, 0.3, v[5], m[5])};
	stats_combine(&cmh, five, 5, 0.05, &c);
	assert_rel(c.cmh_factor, 2, 0);
	assert_rel(c.case_factor, 6, 0);
	assert_rel(c.p, 6e-4, 1e-12);
	assert_rel(c.least, 2e-9, 1e-12);
	assert_true(stats_combined_case(&c, 0));
	assert_false(stats_combined_case(&c, 1));
	/* No case can reach the case look: the CMH look alone, at full level. */
	struct stats_look none[] = {look(0.3, 0.1, v[1], m[1]), look(0.5, 0.2, v[2], m[2])};
	cmh = look(0.01, 0.001, v[0], m[0]);
	stats_combine(&cmh, none, 2, 0.05, &c);
	assert_rel(c.p, 0.01, 1e-12);
	assert_rel(c.case_factor, 0, 0);
}

static void test_discrete_holm(void **state)
{
	(void)state;
	double v[24][2], m[24][2];
	struct stats_look looks[20];
	struct stats_combined h[20];
	bool reject[20];
	double adjusted[20], level[20];
	/* 20 strata of one case: one at 5/5 -> 0/5 (p = least = 2/252), 19
	 * that can reach nothing, then 19 that could reach 0.01 but did not. */
	for (int i = 0; i < 20; i++) {
		looks[i] = i == 7 ? look(2.0 / 252, 2.0 / 252, v[i], m[i]) : look(1, 1, v[i], m[i]);
		stats_combine(&looks[i], NULL, 0, 0.05, &h[i]);
	}
	stats_discrete_holm(h, 20, 0.05, reject, adjusted, level);
	for (int i = 0; i < 20; i++)
		assert_true(reject[i] == (i == 7));
	assert_rel(adjusted[7], 2.0 / 252, 1e-12);
	for (int i = 0; i < 20; i++) {
		if (i == 7)
			continue;
		looks[i] = look(0.5, 0.01, v[i], m[i]);
		stats_combine(&looks[i], NULL, 0, 0.05, &h[i]);
	}
	stats_discrete_holm(h, 20, 0.05, reject, adjusted, level);
	/* 2/252 is below 0.01, so only its own mass counts: Bonferroni would
	 * have multiplied it by 20. */
	assert_true(reject[7]);
	assert_rel(adjusted[7], 2.0 / 252, 1e-12);
	/* That step rejects up to (but not at) 0.01, where the others' mass
	 * (19 x 0.01) would join. */
	assert_true(level[7] < 0.01 && level[7] > 0.0099);
	/* At p = 0.01 the nineteen others add 0.19 to its own 2/252. */
	looks[7] = look(0.01, 2.0 / 252, v[7], m[7]);
	stats_combine(&looks[7], NULL, 0, 0.05, &h[7]);
	stats_discrete_holm(h, 20, 0.05, reject, adjusted, level);
	assert_false(reject[7]);
	assert_rel(adjusted[7], 19 * 0.01 + 2.0 / 252, 1e-12);
	stats_discrete_holm(h, 0, 0.05, reject, adjusted, level);
}

/* Power by brute force: every outcome pair through stats_fisher_two_sided. */
static double power_naive(double p1, double p2, int n, double alpha)
{
	double power = 0.0;
	for (int x = 0; x <= n; x++) {
		for (int y = 0; y <= n; y++) {
			if (stats_fisher_two_sided(x, n - x, y, n - y) > alpha)
				continue;
			double c1 = exp(lgamma(n + 1) - lgamma(x + 1) - lgamma(n - x + 1));
			double c2 = exp(lgamma(n + 1) - lgamma(y + 1) - lgamma(n - y + 1));
			power += c1 * pow(p1, x) * pow(1 - p1, n - x) * c2 * pow(p2, y) *
				 pow(1 - p2, n - y);
		}
	}
	return power;
}

/* The smallest n per side reaching the target power, 0 when none does. */
static int repeats_for(double p1, double p2, double target)
{
	for (int n = 1; n <= STATS_POWER_MAX_N; n++)
		if (stats_fisher_power(p1, p2, n, 0.05) >= target)
			return n;
	return 0;
}

static void test_power(void **state)
{
	(void)state;
	/* Three per side can never be significant at 0.05. */
	for (int n = 1; n <= 3; n++)
		assert_abs(stats_fisher_power(0.9, 0.0, n, 0.05), 0.0, 0);
	/* At four only [[4,0],[0,4]] and its mirror are (p = 2/70). */
	double want = pow(0.9, 4) * pow(0.5, 4) + pow(0.1, 4) * pow(0.5, 4);
	assert_rel(stats_fisher_power(0.9, 0.5, 4, 0.05), want, 1e-9);
	assert_rel(stats_fisher_power(0.9, 0.5, 12, 0.05), power_naive(0.9, 0.5, 12, 0.05), 1e-9);
	assert_rel(stats_fisher_power(0.7, 0.2, 9, 0.01), power_naive(0.7, 0.2, 9, 0.01), 1e-9);
	/* Under the null the size stays below alpha (Fisher is conservative). */
	assert_true(stats_fisher_power(0.8, 0.8, 30, 0.05) <= 0.05);
	assert_true(stats_fisher_power(0.9, 0.5, 0, 0.05) < 0);
	assert_true(stats_fisher_power(0.9, 0.5, STATS_POWER_MAX_N + 1, 0.05) < 0);
	assert_true(stats_fisher_power(1.5, 0.5, 10, 0.05) < 0);
	assert_true(stats_fisher_power(NAN, 0.5, 10, 0.05) < 0);
	/* A bigger drop needs fewer repeats. */
	int n5 = repeats_for(0.9, 0.5, 0.8), n7 = repeats_for(0.9, 0.7, 0.8);
	assert_true(n5 > 0 && n7 > n5);

	if (!getenv("CANARY_POWER_TABLE"))
		return;
	static const double drops[][2] = {{1.0, 0.0}, {1.0, 0.5}, {1.0, 0.8}, {1.0, 0.9},
					  {0.9, 0.5}, {0.9, 0.7}, {0.9, 0.8}};
	static const int ns[] = {3, 4, 5, 10, 20, 30, 50};
	printf("| eval | prod |");
	for (size_t j = 0; j < ARRAY_SIZE(ns); j++)
		printf(" n=%d |", ns[j]);
	printf(" n for 80%% | n for 90%% |\n");
	for (size_t i = 0; i < ARRAY_SIZE(drops); i++) {
		printf("| %.1f | %.1f |", drops[i][0], drops[i][1]);
		for (size_t j = 0; j < ARRAY_SIZE(ns); j++) {
			double pw = stats_fisher_power(drops[i][0], drops[i][1], ns[j], 0.05);
			printf(" %.2f |", pw);
		}
		static const double targets[] = {0.8, 0.9};
		for (size_t j = 0; j < ARRAY_SIZE(targets); j++) {
			int n = repeats_for(drops[i][0], drops[i][1], targets[j]);
			if (n)
				printf(" %d |", n);
			else
				printf(" > %d |", STATS_POWER_MAX_N);
		}
		printf("\n");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fisher_known),
		cmocka_unit_test(test_fisher_large),
		cmocka_unit_test(test_fisher_matches_definition),
		cmocka_unit_test(test_cmh),
		cmocka_unit_test(test_wilson),
		cmocka_unit_test(test_staged_tables),
		cmocka_unit_test(test_binomial),
		cmocka_unit_test(test_tarone_holm),
		cmocka_unit_test(test_combine),
		cmocka_unit_test(test_null_distribution),
		cmocka_unit_test(test_discrete_holm),
		cmocka_unit_test(test_power),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
