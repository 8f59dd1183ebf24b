/* report/telemetry.c: latency and time-to-first-token percentiles, tokens,
 * cost and retries of a target over a stratum or the run, derived from the
 * samples. */
#include "report/report.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "util.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* nearest_rank: the q-quantile of the n sorted values v (n > 0). */
static double nearest_rank(const double *v, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);
	return v[rank ? rank - 1 : 0];
}

/* add_tokens: each count u declared, added to sum (the first replacing -1). */
static void add_tokens(struct report_usage *sum, const struct report_usage *u)
{
	for (const struct report_usage_field *f = report_usage_fields; f->name; f++) {
		long long v = *(const long long *)((const char *)u + f->offset);
		long long *to = (long long *)((char *)sum + f->offset);
		if (v >= 0)
			*to = (*to < 0 ? 0 : *to) + v;
	}
}

/* A growing list of durations and their sum. */
struct series {
	double *v;
	size_t n, cap;
	double sum;
};

/* series_add: one duration ms into s. */
static void series_add(struct series *s, double ms)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = ms;
	s->sum += ms;
}

/* series_finish: s's p50, p95 (nearest rank) and max into q (when it has
 * any), and s freed. */
static void series_finish(struct series *s, double q[3])
{
	if (s->n) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_double);
		q[0] = nearest_rank(s->v, s->n, 0.5);
		q[1] = nearest_rank(s->v, s->n, 0.95);
		q[2] = s->v[s->n - 1];
	}
	free(s->v);
}

void report_telemetry(const struct report *r, size_t stratum, enum side side,
		      struct report_telemetry *out)
{
	const struct report_target *t = &r->targets[side];
	struct series lat = {0}, ttft = {0};
	*out = (struct report_telemetry){
		.tokens = {-1, -1, -1, -1, -1},
		.cost_usd = -1,
	};
	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		if (c->skipped || (stratum != SIZE_MAX && c->stratum != stratum))
			continue;
		const struct report_side *s = &c->side[side];
		for (size_t k = 0; k < s->nsamples; k++) {
			const struct report_sample *smp = &s->samples[k];
			out->samples++;
			unsigned steps = report_sample_steps(smp);
			out->retries += (unsigned)smp->attempts > steps ? smp->attempts - (int)steps : 0;
			add_tokens(&out->tokens, &smp->usage);
			if (smp->ttft_ms >= 0)
				series_add(&ttft, smp->ttft_ms);
			if (!smp->nturns) {
				if (smp->status > 0)
					series_add(&lat, smp->latency_ms);
				continue;
			}
			for (unsigned tn = 0; tn < smp->nturns; tn++)
				for (unsigned sn = 0; sn < smp->turns[tn].nsteps; sn++)
					if (smp->turns[tn].steps[sn].status > 0)
						series_add(&lat, smp->turns[tn].steps[sn].latency_ms);
		}
	}
	double q[3] = {0}, tq[3] = {0};
	out->timed = (long)lat.n;
	out->sum_ms = lat.sum;
	series_finish(&lat, q);
	out->p50_ms = q[0];
	out->p95_ms = q[1];
	out->max_ms = q[2];
	out->streamed = (long)ttft.n;
	out->ttft_sum_ms = ttft.sum;
	series_finish(&ttft, tq);
	out->ttft_p50_ms = tq[0];
	out->ttft_p95_ms = tq[1];
	out->ttft_max_ms = tq[2];
	if (t->priced && (out->tokens.input >= 0 || out->tokens.output >= 0))
		out->cost_usd = ((double)(out->tokens.input > 0 ? out->tokens.input : 0) *
					 t->price_input +
				 (double)(out->tokens.output > 0 ? out->tokens.output : 0) *
					 t->price_output) /
				1e6;
}

bool report_streamed(const struct report *r)
{
	for (size_t i = 0; i < r->ncases; i++)
		for (int side = 0; side < SIDE__COUNT; side++)
			for (size_t k = 0; k < r->cases[i].side[side].nsamples; k++)
				if (r->cases[i].side[side].samples[k].ttft_ms >= 0)
					return true;
	return false;
}
