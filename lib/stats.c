/* stats.c: exact tests, their null distributions and the corrections across
 * a run, for eval-versus-prod pass counts. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
/* A staged table is conditioned on the confirmation rule only up to this
 * many steps (first-stage outcomes times confirmation outcomes); beyond
 * it the hypergeometric law stands in. */
#define STAGED_MAX_WORK 10000000.0
/* Null distributions with more outcomes than this are bounded by the
 * continuous P(p <= x) <= x rather than listed. */
#define NULL_MAX_SUPPORT 100000
/* The step-down procedures stop after this many steps (stopping early only
 * rejects less, so they stay valid); each step costs a sort of the family. */
#define STEPS_MAX 64

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

/* ok_at: x passes of v meet the threshold. */
static bool ok_at(double x, double v, double threshold)
{
	return v > 0 && x / v >= threshold - STATS_THRESHOLD_EPSILON;
}

static bool confirms(double x, double ve, double y, double vp, double threshold)
{
	return ve > 0 && vp > 0 && !(ok_at(x, ve, threshold) && ok_at(y, vp, threshold));
}

bool stats_confirms(int x, int ve, int y, int vp, double threshold)
{
	return confirms(clamp0(x), clamp0(ve), clamp0(y), clamp0(vp), threshold);
}

/* The null distribution of one table, as a pmf of the eval passes a over
 * [lo, lo + n), scaled so that its maximum is 1; obs is the observed a. */
struct table_pmf {
	double lo;
	size_t n;
	size_t obs;
	double *pmf;
};

/* The valid counts of a table: v[stage][side], stage 0 the first samples
 * (all of them when not staged), stage 1 the confirmation samples. */
static void table_sizes(const struct stats_table *t, double v[2][2])
{
	for (int side = 0; side < 2; side++) {
		double all = clamp0(t->n[side][0]) + clamp0(t->n[side][1]);
		double first = t->staged ? clamp0(t->first[side][0]) + clamp0(t->first[side][1]) : all;
		first = fmin(first, all);
		v[0][side] = first;
		v[1][side] = all - first;
	}
}

/* staged_work: the steps table_pmf() takes to condition on the rule. */
static double staged_work(const struct stats_table *t)
{
	double v[2][2];
	table_sizes(t, v);
	return (v[0][0] + 1.0) * (v[0][1] + 1.0) * (v[1][0] + 1.0);
}

/* table_pmf: the distribution of a given the table's margins, and, for a
 * staged table, given also whether the rule confirmed it: under the null
 * every arrangement of the passes over the valid samples is equally
 * likely, so each first-stage outcome (x, y) that the rule treats as it
 * treated this case counts C(ve1, x) C(vp1, y) C(ve2, x2) C(vp2, y2) times.
 * Without stages (or too large to condition) it is hypergeometric. */
static void table_pmf(const struct stats_table *t, struct table_pmf *out)
{
	double a = clamp0(t->n[0][0]), c = clamp0(t->n[1][0]);
	struct margins m;
	margins_init(&m, a, clamp0(t->n[0][1]), c, clamp0(t->n[1][1]));
	out->lo = m.lo;
	out->n = (size_t)(m.hi - m.lo) + 1;
	out->obs = (size_t)(a - m.lo);
	out->pmf = xcalloc(out->n, sizeof(*out->pmf));
	if (!t->staged || staged_work(t) > STAGED_MAX_WORK) {
		double lmode = lhyper(&m, m.mode);
		for (size_t x = 0; x < out->n; x++)
			out->pmf[x] = exp(lhyper(&m, m.lo + (double)x) - lmode);
		return;
	}
	double v[2][2], total = a + c, lmax = -INFINITY;
	table_sizes(t, v);
	/* Two passes: the largest log weight, then every weight scaled by it. */
	for (int pass = 0; pass < 2; pass++) {
		for (double x = 0; x <= v[0][0]; x++) {
			for (double y = 0; y <= v[0][1]; y++) {
				if (confirms(x, v[0][0], y, v[0][1], t->threshold) != t->confirmed)
					continue;
				double l1 = lchoose(v[0][0], x) + lchoose(v[0][1], y);
				for (double x2 = 0; x2 <= v[1][0]; x2++) {
					double y2 = total - x - y - x2;
					if (y2 < 0 || y2 > v[1][1])
						continue;
					double l = l1 + lchoose(v[1][0], x2) + lchoose(v[1][1], y2);
					if (pass == 0)
						lmax = fmax(lmax, l);
					else
						out->pmf[(size_t)(x + x2 - m.lo)] += exp(l - lmax);
				}
			}
		}
	}
}

/* two_sided: the probability of the outcomes no more probable than the
 * observed one (R's tolerance), over a pmf of any scale. */
static double two_sided(const double *pmf, size_t n, size_t obs)
{
	double total = 0.0, tail = 0.0, thr = pmf[obs] * (1.0 + REL_ERR);
	for (size_t s = 0; s < n; s++) {
		total += pmf[s];
		if (pmf[s] <= thr)
			tail += pmf[s];
	}
	return total > 0.0 ? fmin(1.0, tail / total) : 1.0;
}

static int double_cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

/* null_from_pmf: the null distribution of two_sided() over a pmf: every
 * outcome's p-value (the mass of the outcomes no more probable, within
 * R's tolerance) with its probability, merged where they are equal. */
static void null_from_pmf(const double *pmf, size_t n, struct stats_null *z)
{
	memset(z, 0, sizeof(*z));
	if (n > NULL_MAX_SUPPORT) {
		z->bound = true;
		return;
	}
	double *o = xcalloc(n ? n : 1, sizeof(*o));
	double total = 0.0;
	size_t m = 0;
	for (size_t s = 0; s < n; s++) {
		if (pmf[s] > 0.0)
			o[m++] = pmf[s];
		total += pmf[s];
	}
	qsort(o, m, sizeof(*o), double_cmp);
	z->p = xcalloc(m ? m : 1, sizeof(*z->p));
	z->mass = xcalloc(m ? m : 1, sizeof(*z->mass));
	double below = 0.0; /* mass of the outcomes taken so far */
	for (size_t s = 0, next; s < m; s = next) {
		/* The outcomes within the tolerance of o[s] share one p-value. */
		double thr = o[s] * (1.0 + REL_ERR), mass = 0.0;
		for (next = s; next < m && o[next] <= thr; next++)
			mass += o[next];
		below += mass;
		z->p[z->n] = fmin(1.0, below / total);
		z->mass[z->n++] = mass / total;
	}
	free(o);
}

double stats_null_cdf(const struct stats_null *z, double x)
{
	if (z->bound)
		return fmin(1.0, fmax(0.0, x));
	double sum = 0.0;
	for (size_t s = 0; s < z->n && z->p[s] <= x; s++)
		sum += z->mass[s];
	return fmin(1.0, sum);
}

double stats_null_least(const struct stats_null *z)
{
	if (z->bound)
		return 0.0;
	return z->n ? z->p[0] : 1.0;
}

void stats_null_release(struct stats_null *z)
{
	free(z->p);
	free(z->mass);
	memset(z, 0, sizeof(*z));
}

/* pmf_mean: the expected offset from lo under a pmf. */
static double pmf_mean(const double *pmf, size_t n)
{
	double total = 0.0, sum = 0.0;
	for (size_t s = 0; s < n; s++) {
		total += pmf[s];
		sum += (double)s * pmf[s];
	}
	return total > 0.0 ? sum / total : 0.0;
}

double stats_table_p(const struct stats_table *t, struct stats_null *null)
{
	struct table_pmf tp;
	if (!t->staged && !null)
		return fisher(clamp0(t->n[0][0]), clamp0(t->n[0][1]), clamp0(t->n[1][0]),
			      clamp0(t->n[1][1]));
	table_pmf(t, &tp);
	double p = two_sided(tp.pmf, tp.n, tp.obs);
	if (null)
		null_from_pmf(tp.pmf, tp.n, null);
	free(tp.pmf);
	return p;
}

/* cmh_shift: the summed eval passes minus their expectation under the
 * hypergeometric null; positive when eval passes more. */
static double cmh_shift(const int (*tables)[4], size_t k)
{
	double delta = 0.0;
	for (size_t i = 0; i < k; i++) {
		double a = clamp0(tables[i][0]), b = clamp0(tables[i][1]);
		double c = clamp0(tables[i][2]), d = clamp0(tables[i][3]);
		double n = a + b + c + d;
		if (n > 0)
			delta += a - (a + b) * (a + c) / n;
	}
	return delta;
}

/* sum_pmf: the null distribution of the summed eval passes of the tables
 * t[i] with pick[i] (every table when pick is NULL), each as table_pmf()
 * gives it, in out (lo the least sum); false, with nothing allocated, past
 * the exact limits. */
static bool sum_pmf(const struct stats_table *t, size_t k, const bool *pick,
		    struct table_pmf *out)
{
	/* First pass: the support of the sum and the work to get it. */
	double support = 1.0, work = 0.0, lo = 0.0;
	for (size_t i = 0; i < k; i++) {
		struct margins m;
		if (pick && !pick[i])
			continue;
		margins_init(&m, clamp0(t[i].n[0][0]), clamp0(t[i].n[0][1]),
			     clamp0(t[i].n[1][0]), clamp0(t[i].n[1][1]));
		lo += m.lo;
		if (m.lo >= m.hi)
			continue;
		work += support * (m.hi - m.lo + 1.0) + (t[i].staged ? staged_work(&t[i]) : 0.0);
		support += m.hi - m.lo;
	}
	if (work > EXACT_MAX_WORK || support > EXACT_MAX_SUPPORT)
		return false;
	size_t cap = (size_t)support;
	double *dist = xmalloc(cap * sizeof(*dist));
	double *next = xmalloc(cap * sizeof(*next));
	size_t nd = 1, obs = 0;
	dist[0] = 1.0;
	for (size_t i = 0; i < k; i++) {
		struct table_pmf tp;
		if (pick && !pick[i])
			continue;
		table_pmf(&t[i], &tp);
		if (tp.n > 1) {
			convolve(dist, nd, tp.pmf, tp.n, next);
			double *swap = dist;
			dist = next;
			next = swap;
			nd += tp.n - 1;
			obs += tp.obs;
		}
		free(tp.pmf);
	}
	free(next);
	*out = (struct table_pmf){.lo = lo, .n = nd, .obs = obs, .pmf = dist};
	return true;
}

/* look_from_pmf: a look whose p-value is two-sided over pmf at obs, with
 * its null distribution; *shift (when not NULL) obs minus the mean. */
static void look_from_pmf(const double *pmf, size_t n, size_t obs, struct stats_look *look,
			  double *shift)
{
	look->p = two_sided(pmf, n, obs);
	null_from_pmf(pmf, n, &look->null);
	if (shift)
		*shift = (double)obs - pmf_mean(pmf, n);
}

double stats_cmh_tables(const struct stats_table *t, size_t k, struct stats_null *null,
			double *shift)
{
	struct table_pmf s;
	if (null)
		memset(null, 0, sizeof(*null));
	if (shift)
		*shift = 0.0;
	if (!sum_pmf(t, k, NULL, &s)) {
		int (*plain)[4] = xcalloc(k, sizeof(*plain));
		for (size_t i = 0; i < k; i++) {
			plain[i][0] = t[i].n[0][0];
			plain[i][1] = t[i].n[0][1];
			plain[i][2] = t[i].n[1][0];
			plain[i][3] = t[i].n[1][1];
		}
		double p = stats_cmh((const int(*)[4])plain, k);
		if (shift)
			*shift = cmh_shift((const int(*)[4])plain, k);
		free(plain);
		if (null)
			null->bound = true; /* not enumerated: any p may be attainable */
		return p;
	}
	double p = 1.0;
	if (s.n > 1) {
		p = two_sided(s.pmf, s.n, s.obs);
		if (null)
			null_from_pmf(s.pmf, s.n, null);
		if (shift)
			*shift = (double)s.obs - pmf_mean(s.pmf, s.n);
	}
	free(s.pmf);
	return p;
}

/* screen_ps: the two-sided p-value of every outcome of a pmf (the mass of
 * the outcomes no more probable, within R's tolerance), in ps[]. */
static void screen_ps(const double *pmf, size_t n, double *ps)
{
	double *o = xcalloc(n, sizeof(*o)), *cum = xcalloc(n, sizeof(*cum));
	memcpy(o, pmf, n * sizeof(*o));
	qsort(o, n, sizeof(*o), double_cmp);
	for (size_t s = 0; s < n; s++)
		cum[s] = (s ? cum[s - 1] : 0.0) + o[s];
	for (size_t s = 0; s < n; s++) {
		/* The outcomes at most pmf[s] (with the tolerance), by binary search. */
		double thr = pmf[s] * (1.0 + REL_ERR);
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (o[mid] <= thr)
				lo = mid + 1;
			else
				hi = mid;
		}
		ps[s] = cum[n - 1] > 0.0 && lo ? fmin(1.0, cum[lo - 1] / cum[n - 1]) : 1.0;
	}
	free(cum);
	free(o);
}

/* screened_set: pick[i] for the tables the stratum's screen reads: those
 * the rule confirmed on their own; false when there is none. */
static bool screened_set(const struct stats_table *t, size_t k, bool *pick)
{
	bool any = false;
	for (size_t i = 0; i < k; i++) {
		pick[i] = t[i].staged && t[i].confirmed && !t[i].screened;
		any |= pick[i];
	}
	return any;
}

/* screen_read: what the screen reads: pick[] its tables, *sum the law of
 * their summed eval passes and *ps the p-value of each sum; false, with
 * nothing allocated but pick, when it reads nothing or past the exact
 * limits. */
static bool screen_read(const struct stats_table *t, size_t k, bool *pick,
			struct table_pmf *sum, double **ps)
{
	if (!screened_set(t, k, pick) || !sum_pmf(t, k, pick, sum))
		return false;
	*ps = xcalloc(sum->n, sizeof(**ps));
	screen_ps(sum->pmf, sum->n, *ps);
	return true;
}

double stats_screen_p(const struct stats_table *t, size_t k)
{
	struct table_pmf s;
	bool *pick = xcalloc(k ? k : 1, sizeof(*pick));
	double p = 1.0, *ps;
	if (screen_read(t, k, pick, &s, &ps)) {
		p = ps[s.obs];
		free(ps);
		free(s.pmf);
	}
	free(pick);
	return p;
}

/* screen_asks: whether the screen asks for the other cases' samples when
 * the sum its tables (confirmed of them) read is x, ps[] the p-values of
 * the n sums, in a run whose strata are tested at level: below the levels
 * of stats.h, but not below a quarter of the level (found without them),
 * nor at the most extreme sum when that could be significant (the tests,
 * given that the screen asked, would spend it on other cases' samples
 * that cannot make it stronger). */
static bool screen_asks(const double *ps, size_t n, size_t x, size_t confirmed, double level)
{
	double least = 1.0;
	for (size_t s = 0; s < n; s++)
		least = fmin(least, ps[s]);
	if (ps[x] <= least && least <= level / 2.0)
		return false;
	return ps[x] >= level / 4.0 && ps[x] < (confirmed > 1 ? STATS_SCREEN_MORE : STATS_SCREEN_ONE);
}

/* screen_others: the staged tables the screen would confirm (neither
 * confirmed by the rule nor already screened: those it did confirm). */
static size_t screen_others(const struct stats_table *t, size_t k, size_t *screened)
{
	size_t others = 0;
	*screened = 0;
	for (size_t i = 0; i < k; i++) {
		if (!t[i].staged || (t[i].confirmed && !t[i].screened))
			continue;
		others++;
		*screened += t[i].screened;
	}
	return others;
}

bool stats_screens(const struct stats_table *t, size_t k, double level)
{
	struct table_pmf s;
	bool *pick = xcalloc(k ? k : 1, sizeof(*pick)), asks = false;
	size_t confirmed = 0, screened;
	double *ps;
	if (screen_others(t, k, &screened) > 0 && screen_read(t, k, pick, &s, &ps)) {
		for (size_t i = 0; i < k; i++)
			confirmed += pick[i];
		asks = screen_asks(ps, s.n, s.obs, confirmed, level);
		free(ps);
		free(s.pmf);
	}
	free(pick);
	return asks;
}

/* The screen of a stratum as the looks condition on it: want[s] for each
 * sum s of the screened tables (their pmf's offsets): whether s leads the
 * screen to the decision it took. */
struct screen {
	bool *pick;             /* the tables it read */
	bool *want;
	size_t n;
};

/* screen_init: the screen of t as it went (asked: it confirmed the other
 * cases); false, with nothing allocated, when it could not have asked
 * (no case confirmed on its own, or past the exact limits), so that there
 * is nothing to condition on. */
static bool screen_init(const struct stats_table *t, size_t k, double level, bool asked,
			struct screen *sc)
{
	struct table_pmf s;
	double *ps;
	sc->pick = xcalloc(k ? k : 1, sizeof(*sc->pick));
	if (!screen_read(t, k, sc->pick, &s, &ps)) {
		free(sc->pick);
		return false;
	}
	size_t confirmed = 0;
	for (size_t i = 0; i < k; i++)
		confirmed += sc->pick[i];
	sc->n = s.n;
	sc->want = xcalloc(s.n, sizeof(*sc->want));
	for (size_t x = 0; x < s.n; x++)
		sc->want[x] = screen_asks(ps, s.n, x, confirmed, level) == asked;
	free(ps);
	free(s.pmf);
	return true;
}

static void screen_release(struct screen *sc)
{
	free(sc->pick);
	free(sc->want);
}

/* screen_weigh: multiply pmf (of the summed tables of pick, a part of the
 * screen's tables) by the probability that the rest of the screen's
 * tables bring the screen's sum to one it wants; false past the limits. */
static bool screen_weigh(const struct stats_table *t, size_t k, const struct screen *sc,
			 const bool *pick, double *pmf, size_t n)
{
	struct table_pmf rest;
	bool *other = xcalloc(k ? k : 1, sizeof(*other));
	for (size_t i = 0; i < k; i++)
		other[i] = sc->pick[i] && !pick[i];
	bool ok = sum_pmf(t, k, other, &rest);
	free(other);
	if (!ok)
		return false;
	for (size_t g = 0; g < n; g++) {
		double w = 0.0;
		for (size_t h = 0; h < rest.n && g + h < sc->n; h++)
			w += sc->want[g + h] ? rest.pmf[h] : 0.0;
		pmf[g] *= w;
	}
	free(rest.pmf);
	return true;
}

/* screen_outcome: how the stratum's screen went, from its tables: 1 it
 * asked for the other cases' samples, 0 it did not, -1 there was nothing
 * for it to ask (every staged case confirmed on its own, or none staged),
 * -2 the tables disagree with the screen (cases screened apart). */
static int screen_outcome(const struct stats_table *t, size_t k, double level)
{
	size_t screened, others = screen_others(t, k, &screened);
	if (others == 0)
		return -1;
	bool asks = stats_screens(t, k, level);
	if (screened == 0 && !asks)
		return 0;
	return screened == others && asks ? 1 : -2;
}

/* looks_plain: the looks without the screen: CMH over the tested tables,
 * and each tested table's own. */
static void looks_plain(const struct stats_table *t, size_t k, const bool *tested,
			struct stats_look *cmh, double *shift, struct stats_look *cases)
{
	struct stats_table *sub = xcalloc(k ? k : 1, sizeof(*sub));
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		if (!tested[i])
			continue;
		sub[m++] = t[i];
		cases[i].p = stats_table_p(&t[i], &cases[i].null);
	}
	cmh->p = stats_cmh_tables(sub, m, &cmh->null, shift);
	free(sub);
}

/* looks_screened: the looks given also the screen's decision; false
 * (nothing filled) past the exact limits. */
static bool looks_screened(const struct stats_table *t, size_t k, const bool *tested,
			   const struct screen *sc, struct stats_look *cmh, double *shift,
			   struct stats_look *cases)
{
	bool *in = xcalloc(k ? k : 1, sizeof(*in)), *out = xcalloc(k ? k : 1, sizeof(*out));
	struct table_pmf g, u;
	bool ok = false;
	memset(cmh, 0, sizeof(*cmh));
	for (size_t i = 0; i < k; i++) {
		in[i] = tested[i] && sc->pick[i];
		out[i] = tested[i] && !sc->pick[i];
	}
	if (!sum_pmf(t, k, in, &g))
		goto out;
	if (!sum_pmf(t, k, out, &u)) {
		free(g.pmf);
		goto out;
	}
	ok = screen_weigh(t, k, sc, in, g.pmf, g.n);
	if (ok) {
		/* The CMH look: the screened part, weighed, with the rest. */
		double *all = xcalloc(g.n + u.n - 1, sizeof(*all));
		convolve(g.pmf, g.n, u.pmf, u.n, all);
		if (g.n + u.n - 1 > 1)
			look_from_pmf(all, g.n + u.n - 1, g.obs + u.obs, cmh, shift);
		else
			cmh->p = 1.0;
		free(all);
	}
	free(u.pmf);
	free(g.pmf);
	/* Each tested case: its own pmf, weighed when the screen read it. */
	struct stats_look *own = xcalloc(k ? k : 1, sizeof(*own));
	bool *one = xcalloc(k ? k : 1, sizeof(*one));
	for (size_t i = 0; ok && i < k; i++) {
		struct table_pmf tp;
		if (!tested[i])
			continue;
		table_pmf(&t[i], &tp);
		one[i] = true;
		ok = !sc->pick[i] || screen_weigh(t, k, sc, one, tp.pmf, tp.n);
		one[i] = false;
		if (ok)
			look_from_pmf(tp.pmf, tp.n, tp.obs, &own[i], NULL);
		free(tp.pmf);
	}
	for (size_t i = 0; i < k; i++) {
		if (ok && tested[i])
			cases[i] = own[i];
		else
			stats_null_release(&own[i].null);
	}
	if (!ok)
		stats_null_release(&cmh->null);
	free(one);
	free(own);
out:
	free(out);
	free(in);
	return ok;
}

void stats_stratum_looks(const struct stats_table *t, size_t k, const bool *tested, double level,
			 struct stats_look *cmh, double *shift, struct stats_look *cases)
{
	struct screen sc;
	int outcome = screen_outcome(t, k, level);
	if (shift)
		*shift = 0.0;
	if (outcome == -2) {
		/* Set the screen's samples aside: those cases keep their first
		 * samples only, which no screen decided. */
		struct stats_table *own = xcalloc(k ? k : 1, sizeof(*own));
		for (size_t i = 0; i < k; i++) {
			own[i] = t[i];
			if (!t[i].screened)
				continue;
			memcpy(own[i].n, t[i].first, sizeof(own[i].n));
			own[i].screened = false;
		}
		looks_plain(own, k, tested, cmh, shift, cases);
		free(own);
		return;
	}
	if (outcome >= 0 && screen_init(t, k, level, outcome == 1, &sc)) {
		bool ok = looks_screened(t, k, tested, &sc, cmh, shift, cases);
		screen_release(&sc);
		if (ok)
			return;
	}
	looks_plain(t, k, tested, cmh, shift, cases);
}

double stats_cmh_exact(const int (*tables)[4], size_t k)
{
	struct stats_table *t = xcalloc(k ? k : 1, sizeof(*t));
	for (size_t i = 0; i < k; i++) {
		t[i].n[0][0] = tables[i][0];
		t[i].n[0][1] = tables[i][1];
		t[i].n[1][0] = tables[i][2];
		t[i].n[1][1] = tables[i][3];
	}
	double p = stats_cmh_tables(t, k, NULL, NULL);
	free(t);
	return p;
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

/* binom_tail: the sum of the binomial(n, rate) terms from k = from on by
 * step (+1 or -1), relative to the term at from, until they stop
 * mattering; the terms must fall along the way (away from the mode). */
static double binom_tail(double n, double rate, double from, double step, double *ref)
{
	double lp = log(rate), lq = log1p(-rate), sum = 0.0;
	*ref = lchoose(n, from) + from * lp + (n - from) * lq;
	for (double k = from; k >= 0 && k <= n; k += step) {
		double l = lchoose(n, k) + k * lp + (n - k) * lq - *ref;
		sum += exp(l);
		if (l < -TAIL_NATS)
			break;
	}
	return sum;
}

double stats_binom_below(int x, int n, double rate)
{
	double ref;
	if (n <= 0 || x >= n || rate <= 0.0)
		return 1.0;
	if (x < 0 || rate >= 1.0)
		return 0.0;
	/* Sum the side of x away from the mean, where the terms fall. */
	bool below = x < n * rate;
	double sum = binom_tail(n, rate, below ? x : x + 1.0, below ? -1.0 : 1.0, &ref);
	double tail = exp(ref + log(sum));
	return below ? fmin(1.0, tail) : fmax(0.0, 1.0 - tail);
}

double stats_binom_least(int n, double rate)
{
	if (n <= 0 || rate <= 0.0)
		return 1.0;
	return rate >= 1.0 ? 0.0 : exp(n * log1p(-rate));
}

/* tarone_count: the smallest K >= 1 such that at most K of the alive
 * hypotheses can reach alpha / K (sorted[] holds their least p-values in
 * ascending order). */
static size_t tarone_count(const double *sorted, size_t n, double alpha)
{
	size_t k = 1, count = n;
	for (;; k++) {
		while (count > 0 && sorted[count - 1] > alpha / (double)k)
			count--;
		if (count <= k)
			return k;
	}
}

void stats_tarone_holm(const double *p, const double *least, size_t n, double alpha,
		       bool *reject, double *factor)
{
	double *sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	bool *alive = xcalloc(n ? n : 1, sizeof(*alive));
	for (size_t i = 0; i < n; i++) {
		reject[i] = false;
		alive[i] = true;
	}
	for (size_t nalive = n, step = 0; step < STEPS_MAX; step++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (alive[i])
				sorted[m++] = isnan(least[i]) ? 1.0 : least[i];
		qsort(sorted, m, sizeof(*sorted), double_cmp);
		size_t k = tarone_count(sorted, m, alpha);
		size_t rejected = 0;
		for (size_t i = 0; i < n; i++) {
			if (!alive[i])
				continue;
			factor[i] = (double)k;
			if (p[i] <= alpha / (double)k && least[i] <= alpha / (double)k) {
				reject[i] = true;
				rejected++;
			}
		}
		for (size_t i = 0; i < n; i++)
			if (reject[i])
				alive[i] = false;
		nalive -= rejected;
		if (rejected == 0 || nalive == 0)
			break;
	}
	free(alive);
	free(sorted);
}

void stats_combine(const struct stats_look *cmh, const struct stats_look *cases, size_t k,
		   double alpha, struct stats_combined *out)
{
	size_t informative = 0;
	memset(out, 0, sizeof(*out));
	out->cmh = cmh;
	out->cases = cases;
	out->k = k;
	double *sorted = xcalloc(k ? k : 1, sizeof(*sorted));
	for (size_t i = 0; i < k; i++) {
		sorted[i] = stats_null_least(&cases[i].null);
		informative += sorted[i] < 1.0;
	}
	/* Tarone inside the stratum: the cases that could reach the case
	 * look's level share it. */
	qsort(sorted, k, sizeof(*sorted), double_cmp);
	size_t eligible = tarone_count(sorted, k, alpha / 2.0);
	free(sorted);
	size_t counted = 0;
	for (size_t i = 0; i < k; i++)
		counted += stats_null_least(&cases[i].null) <= alpha / (2.0 * (double)eligible);
	bool two_looks = informative > 1 && counted > 0;
	out->cmh_factor = two_looks ? 2.0 : 1.0;
	out->case_factor = two_looks ? 2.0 * (double)eligible : 0.0;
	out->case_level = two_looks ? alpha / (2.0 * (double)eligible) : -1.0;
	out->p = fmin(1.0, out->cmh_factor * cmh->p);
	out->least = fmin(1.0, out->cmh_factor * stats_null_least(&cmh->null));
	for (size_t i = 0; i < k; i++) {
		if (!stats_combined_case(out, i))
			continue;
		out->p = fmin(out->p, out->case_factor * cases[i].p);
		out->least = fmin(out->least, out->case_factor * stats_null_least(&cases[i].null));
	}
}

bool stats_combined_case(const struct stats_combined *c, size_t i)
{
	return stats_null_least(&c->cases[i].null) <= c->case_level;
}

/* A step of the summed null distributions of a family: at x, mass. */
struct step {
	double x;
	double mass;
};

static int step_cmp(const void *x, const void *y)
{
	const struct step *a = x, *b = y;
	return a->x < b->x ? -1 : a->x > b->x;
}

/* family_add: the steps of F(x / factor) to the list, or its slope when
 * it is only bounded. */
static void family_add(const struct stats_null *z, double factor, struct step **steps,
		       size_t *n, size_t *cap, double *slope)
{
	if (z->bound) {
		*slope += 1.0 / factor;
		return;
	}
	for (size_t s = 0; s < z->n; s++) {
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 64;
			*steps = xreallocarray(*steps, *cap, sizeof(**steps));
		}
		(*steps)[(*n)++] = (struct step){z->p[s] * factor, z->mass[s]};
	}
}

/* family_level: the largest c with cum(c) + slope c <= alpha over sorted
 * steps (cum[s] the mass of steps 0..s), c at most 1. */
static double family_level(const struct step *steps, const double *cum, size_t m, double slope,
			   double alpha)
{
	double best = 0.0;
	for (size_t s = 0; s <= m; s++) {
		/* On [x_s-1, x_s) the sum is cum[s-1] + slope c. */
		double base = s ? cum[s - 1] : 0.0, from = s ? steps[s - 1].x : 0.0;
		double to = s < m ? steps[s].x : 1.0;
		if (base + slope * from > alpha)
			break;
		double c = slope > 0.0 ? fmin(to, (alpha - base) / slope) : to;
		best = fmax(best, s < m && c >= to ? nextafter(to, 0.0) : c);
	}
	return fmin(best, 1.0);
}

void stats_discrete_holm(const struct stats_combined *h, size_t n, double alpha, bool *reject,
			 double *adjusted, double *level)
{
	bool *alive = xcalloc(n ? n : 1, sizeof(*alive));
	struct step *steps = NULL;
	double *cum = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < n; i++) {
		reject[i] = false;
		alive[i] = true;
		adjusted[i] = 1.0;
	}
	for (int round = 0; round < STEPS_MAX; round++) {
		/* The sum over the hypotheses left of each one's bound, as steps. */
		size_t m = 0;
		double slope = 0.0;
		for (size_t j = 0; j < n; j++) {
			if (!alive[j])
				continue;
			family_add(&h[j].cmh->null, h[j].cmh_factor, &steps, &m, &cap, &slope);
			for (size_t i = 0; i < h[j].k; i++)
				if (stats_combined_case(&h[j], i))
					family_add(&h[j].cases[i].null, h[j].case_factor, &steps, &m,
						   &cap, &slope);
		}
		if (m)
			qsort(steps, m, sizeof(*steps), step_cmp);
		cum = xreallocarray(cum, m ? m : 1, sizeof(*cum));
		for (size_t s = 0; s < m; s++)
			cum[s] = (s ? cum[s - 1] : 0.0) + steps[s].mass;
		size_t rejected = 0;
		double at = family_level(steps, cum, m, slope, alpha);
		for (size_t i = 0; i < n; i++) {
			if (!alive[i])
				continue;
			level[i] = at;
			/* The last step at or below p, by binary search. */
			size_t lo = 0, hi = m;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (steps[mid].x <= h[i].p)
					lo = mid + 1;
				else
					hi = mid;
			}
			adjusted[i] = fmin(1.0, (lo ? cum[lo - 1] : 0.0) + slope * h[i].p);
			if (adjusted[i] <= alpha) {
				reject[i] = true;
				rejected++;
			}
		}
		for (size_t i = 0; i < n; i++)
			if (reject[i])
				alive[i] = false;
		if (rejected == 0)
			break;
	}
	free(cum);
	free(steps);
	free(alive);
}
