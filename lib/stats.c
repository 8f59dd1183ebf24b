/* stats.c: Fisher, CMH, Wilson and Holm for eval-versus-prod pass counts. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

#include "util.h"

/* R's fisher.test and mantelhaen.test count outcomes whose probability is
 * within this relative distance of the observed one as "as extreme". */
#define REL_ERR 1e-7
/* A tail term this many nats below the observed probability, and every
 * term beyond it, no longer changes a double sum. */
#define TAIL_NATS 50.0
/* stats_cmh_exact() enumerates at most this many convolution steps over a
 * distribution of at most this many points. */
#define EXACT_MAX_WORK 100000000.0
#define EXACT_MAX_SUPPORT 1000000.0

/* The margins of a 2x2 table, wide enough for pooled sums of int counts. */
struct margins {
	double r1; /* a + b */
	double r2; /* c + d */
	double c1; /* a + c */
	double lo; /* the least possible a */
	double hi; /* the greatest possible a */
	double mode;
	double lnorm; /* log C(r1 + r2, c1) */
};

static double lfact(double x)
{
	int sign;
	return lgamma_r(x + 1.0, &sign);
}

static double lchoose(double n, double k)
{
	return lfact(n) - lfact(k) - lfact(n - k);
}

static double clamp0(int v)
{
	return v < 0 ? 0.0 : (double)v;
}

static void margins_init(struct margins *m, double a, double b, double c, double d)
{
	m->r1 = a + b;
	m->r2 = c + d;
	m->c1 = a + c;
	m->lo = fmax(0.0, m->c1 - m->r2);
	m->hi = fmin(m->r1, m->c1);
	double n = m->r1 + m->r2;
	m->mode = floor((m->r1 + 1.0) * (m->c1 + 1.0) / (n + 2.0));
	m->mode = fmin(fmax(m->mode, m->lo), m->hi);
	m->lnorm = lchoose(n, m->c1);
}

/* The log hypergeometric probability of a = x given the margins. */
static double lhyper(const struct margins *m, double x)
{
	return lchoose(m->r1, x) + lchoose(m->r2, m->c1 - x) - m->lnorm;
}

/* The largest x in [lo, hi] with lhyper(x) <= thr, where lhyper increases
 * over the range; lo - 1 when there is none. */
static double last_below(const struct margins *m, double lo, double hi, double thr)
{
	double best = lo - 1.0;
	while (lo <= hi) {
		double mid = floor(lo + (hi - lo) / 2.0);
		if (lhyper(m, mid) <= thr) {
			best = mid;
			lo = mid + 1.0;
		} else {
			hi = mid - 1.0;
		}
	}
	return best;
}

/* The smallest x in [lo, hi] with lhyper(x) <= thr, where lhyper decreases
 * over the range; hi + 1 when there is none. */
static double first_below(const struct margins *m, double lo, double hi, double thr)
{
	double best = hi + 1.0;
	while (lo <= hi) {
		double mid = floor(lo + (hi - lo) / 2.0);
		if (lhyper(m, mid) <= thr) {
			best = mid;
			hi = mid - 1.0;
		} else {
			lo = mid + 1.0;
		}
	}
	return best;
}

/* The sum of exp(lhyper(x) - ref) walking from x = from by step (+1 or -1)
 * while x stays in [lo, hi], until the terms stop mattering. */
static double tail_sum(const struct margins *m, double from, double step, double ref)
{
	double sum = 0.0;
	for (double x = from; x >= m->lo && x <= m->hi; x += step) {
		double l = lhyper(m, x) - ref;
		sum += exp(l);
		if (l < -TAIL_NATS)
			break;
	}
	return sum;
}

/* Fisher's two-sided test with double counts: the pmf is log-concave, so
 * the outcomes more probable than the observed one form one interval
 * around the mode and the p-value is the two tails outside it. */
static double fisher(double a, double b, double c, double d)
{
	struct margins m;
	margins_init(&m, a, b, c, d);
	if (m.lo >= m.hi)
		return 1.0;
	double lobs = lhyper(&m, a);
	double thr = lobs + log1p(REL_ERR);
	if (lhyper(&m, m.mode) <= thr)
		return 1.0;
	double left = last_below(&m, m.lo, m.mode - 1.0, thr);
	double right = first_below(&m, m.mode + 1.0, m.hi, thr);
	double sum = tail_sum(&m, left, -1.0, lobs) + tail_sum(&m, right, 1.0, lobs);
	double p = exp(lobs + log(sum));
	return p > 1.0 ? 1.0 : p;
}

double stats_fisher_two_sided(int a, int b, int c, int d)
{
	return fisher(clamp0(a), clamp0(b), clamp0(c), clamp0(d));
}

double stats_fisher_pooled(const int (*tables)[4], size_t k)
{
	double s[4] = {0, 0, 0, 0};
	for (size_t i = 0; i < k; i++)
		for (int j = 0; j < 4; j++)
			s[j] += clamp0(tables[i][j]);
	return fisher(s[0], s[1], s[2], s[3]);
}

double stats_cmh(const int (*tables)[4], size_t k)
{
	double delta = 0.0, var = 0.0;
	for (size_t i = 0; i < k; i++) {
		double a = clamp0(tables[i][0]), b = clamp0(tables[i][1]);
		double c = clamp0(tables[i][2]), d = clamp0(tables[i][3]);
		double n = a + b + c + d;
		double r1 = a + b, r2 = c + d, c1 = a + c, c2 = b + d;
		if (r1 == 0 || r2 == 0 || c1 == 0 || c2 == 0)
			continue;
		delta += a - r1 * c1 / n;
		var += r1 * r2 * c1 * c2 / (n * n * (n - 1.0));
	}
	if (var <= 0.0)
		return 1.0;
	double dev = fabs(delta);
	if (dev >= 0.5)
		dev -= 0.5;
	double chi2 = dev * dev / var;
	return erfc(sqrt(chi2 / 2.0));
}

/* dst[0 .. nd + nt - 1] = the convolution of src[0 .. nd - 1] with
 * t[0 .. nt - 1], rescaled so that its maximum is 1. */
static void convolve(const double *src, size_t nd, const double *t, size_t nt, double *dst)
{
	for (size_t s = 0; s < nd + nt - 1; s++)
		dst[s] = 0.0;
	for (size_t s = 0; s < nd; s++) {
		if (src[s] == 0.0)
			continue;
		for (size_t x = 0; x < nt; x++)
			dst[s + x] += src[s] * t[x];
	}
	double max = 0.0;
	for (size_t s = 0; s < nd + nt - 1; s++)
		max = fmax(max, dst[s]);
	for (size_t s = 0; s < nd + nt - 1 && max > 0.0; s++)
		dst[s] /= max;
}

double stats_cmh_exact(const int (*tables)[4], size_t k)
{
	/* First pass: the support of the summed a and the work to get it. */
	double support = 1.0, work = 0.0;
	for (size_t i = 0; i < k; i++) {
		struct margins m;
		margins_init(&m, clamp0(tables[i][0]), clamp0(tables[i][1]),
			     clamp0(tables[i][2]), clamp0(tables[i][3]));
		if (m.lo >= m.hi)
			continue;
		work += support * (m.hi - m.lo + 1.0);
		support += m.hi - m.lo;
	}
	if (support == 1.0)
		return 1.0;
	if (work > EXACT_MAX_WORK || support > EXACT_MAX_SUPPORT)
		return stats_cmh(tables, k);

	size_t cap = (size_t)support;
	double *dist = xmalloc(cap * sizeof(*dist));
	double *next = xmalloc(cap * sizeof(*next));
	double *pmf = xmalloc(cap * sizeof(*pmf));
	size_t nd = 1, obs = 0;
	dist[0] = 1.0;
	for (size_t i = 0; i < k; i++) {
		double a = clamp0(tables[i][0]);
		struct margins m;
		margins_init(&m, a, clamp0(tables[i][1]), clamp0(tables[i][2]),
			     clamp0(tables[i][3]));
		if (m.lo >= m.hi)
			continue;
		size_t nt = (size_t)(m.hi - m.lo) + 1;
		double lmode = lhyper(&m, m.mode);
		for (size_t x = 0; x < nt; x++)
			pmf[x] = exp(lhyper(&m, m.lo + (double)x) - lmode);
		convolve(dist, nd, pmf, nt, next);
		double *swap = dist;
		dist = next;
		next = swap;
		nd += nt - 1;
		obs += (size_t)(a - m.lo);
	}
	double total = 0.0, tail = 0.0, thr = dist[obs] * (1.0 + REL_ERR);
	for (size_t s = 0; s < nd; s++) {
		total += dist[s];
		if (dist[s] <= thr)
			tail += dist[s];
	}
	free(dist);
	free(next);
	free(pmf);
	double p = tail / total;
	return p > 1.0 ? 1.0 : p;
}

void stats_wilson(int passed, int n, double z, double *lo, double *hi)
{
	if (n <= 0) {
		*lo = 0.0;
		*hi = 1.0;
		return;
	}
	if (passed < 0)
		passed = 0;
	if (passed > n)
		passed = n;
	double nn = n, p = passed / nn, z2 = z * z;
	double denom = 1.0 + z2 / nn;
	double center = (p + z2 / (2.0 * nn)) / denom;
	double half = z / denom * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
	*lo = passed == 0 ? 0.0 : fmax(0.0, center - half);
	*hi = passed == n ? 1.0 : fmin(1.0, center + half);
}

struct ranked {
	double p;
	size_t i;
};

static int ranked_cmp(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;
	if (a->p != b->p)
		return a->p < b->p ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

void stats_holm_adjust(const double *p, size_t n, double *adjusted)
{
	if (n == 0)
		return;
	struct ranked *r = xmalloc(n * sizeof(*r));
	for (size_t i = 0; i < n; i++) {
		r[i].p = isnan(p[i]) ? 1.0 : fmin(fmax(p[i], 0.0), 1.0);
		r[i].i = i;
	}
	qsort(r, n, sizeof(*r), ranked_cmp);
	double running = 0.0;
	for (size_t j = 0; j < n; j++) {
		running = fmax(running, fmin(1.0, (double)(n - j) * r[j].p));
		adjusted[r[j].i] = running;
	}
	free(r);
}

void stats_holm(const double *p, size_t n, double alpha, bool *reject)
{
	if (n == 0)
		return;
	double *adj = xmalloc(n * sizeof(*adj));
	stats_holm_adjust(p, n, adj);
	for (size_t i = 0; i < n; i++)
		reject[i] = adj[i] <= alpha;
	free(adj);
}

/* The binomial probabilities of 0..n successes out of n at rate p. */
static void binom_pmf(int n, double p, double *out)
{
	for (int k = 0; k <= n; k++)
		out[k] = exp(lchoose(n, k)) * pow(p, k) * pow(1.0 - p, n - k);
}

double stats_fisher_power(double p1, double p2, int n, double alpha)
{
	double b1[STATS_POWER_MAX_N + 1], b2[STATS_POWER_MAX_N + 1];
	double lp[STATS_POWER_MAX_N + 1], pr[STATS_POWER_MAX_N + 1];
	if (n < 1 || n > STATS_POWER_MAX_N || !(p1 >= 0 && p1 <= 1) || !(p2 >= 0 && p2 <= 1))
		return -1.0;
	binom_pmf(n, p1, b1);
	binom_pmf(n, p2, b2);
	double power = 0.0;
	/* Condition on t, the passes of both sides: a then has the same
	 * hypergeometric law as in stats_fisher_two_sided(). */
	for (int t = 0; t <= 2 * n; t++) {
		int lo = t > n ? t - n : 0, hi = t < n ? t : n;
		if (lo == hi)
			continue;
		struct margins m;
		margins_init(&m, lo, n - lo, t - lo, n - (t - lo));
		for (int x = lo; x <= hi; x++) {
			lp[x - lo] = lhyper(&m, x);
			pr[x - lo] = exp(lp[x - lo]);
		}
		for (int x = lo; x <= hi; x++) {
			double thr = lp[x - lo] + log1p(REL_ERR), pv = 0.0;
			for (int y = lo; y <= hi; y++)
				if (lp[y - lo] <= thr)
					pv += pr[y - lo];
			if (pv <= alpha)
				power += b1[x] * b2[t - x];
		}
	}
	return power > 1.0 ? 1.0 : power;
}
