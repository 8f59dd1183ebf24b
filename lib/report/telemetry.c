/* report/telemetry.c: latency percentiles, tokens, cost and retries of a
 * target over a stratum or the run, derived from the samples. */
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

/* add_latency: one request's latency, timed, into lat (cap of them). */
static void add_latency(struct report_telemetry *out, double **lat, size_t *cap, double ms)
{
	if ((size_t)out->timed == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*lat = xreallocarray(*lat, *cap, sizeof(**lat));
	}
	(*lat)[out->timed++] = ms;
	out->sum_ms += ms;
}

void report_telemetry(const struct report *r, size_t stratum, enum side side,
		      struct report_telemetry *out)
{
	const struct report_target *t = &r->targets[side];
	size_t cap = 0;
	double *lat = NULL;
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
			if (!smp->nturns) {
				if (smp->status > 0)
					add_latency(out, &lat, &cap, smp->latency_ms);
				continue;
			}
			for (unsigned tn = 0; tn < smp->nturns; tn++)
				for (unsigned sn = 0; sn < smp->turns[tn].nsteps; sn++)
					if (smp->turns[tn].steps[sn].status > 0)
						add_latency(out, &lat, &cap,
							    smp->turns[tn].steps[sn].latency_ms);
		}
	}
	if (out->timed) {
		qsort(lat, (size_t)out->timed, sizeof(*lat), cmp_double);
		out->p50_ms = nearest_rank(lat, (size_t)out->timed, 0.5);
		out->p95_ms = nearest_rank(lat, (size_t)out->timed, 0.95);
		out->max_ms = lat[out->timed - 1];
	}
	free(lat);
	if (t->priced && (out->tokens.input >= 0 || out->tokens.output >= 0))
		out->cost_usd = ((double)(out->tokens.input > 0 ? out->tokens.input : 0) *
					 t->price_input +
				 (double)(out->tokens.output > 0 ? out->tokens.output : 0) *
					 t->price_output) /
				1e6;
}
