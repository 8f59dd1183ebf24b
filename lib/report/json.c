/* report/json.c: the JSON report (docs/report-json.md) of the model,
 * written as it goes: the tree of 10,000 cases is never built. */
#include "report/report.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "stats.h"
#include "util.h"

static double finite_or_zero(double v)
{
	return isfinite(v) ? v : 0;
}

/* put_string: a string member or element with invalid UTF-8 replaced by
 * U+FFFD, so that the report is valid JSON whatever a reply held; null for
 * NULL. */
static void put_string(struct jsonw *w, const char *key, const char *s)
{
	char *clean = s ? report_clean(s, SIZE_MAX) : NULL;

	jsonw_string(w, key, clean);
	free(clean);
}

static void put_names(struct jsonw *w, const char *key, const struct report_names *l)
{
	jsonw_array(w, key);
	for (size_t i = 0; i < l->n; i++)
		put_string(w, NULL, l->v[i]);
	jsonw_end(w);
}

/* put_fingerprints: a target's fingerprints and their counts, values that
 * are the same once cleaned counted together. */
static void put_fingerprints(struct jsonw *w, const struct report_target *t)
{
	struct report_fingerprint *merged = xcalloc(t->nfingerprints + 1, sizeof(*merged));
	struct strmap seen = {0};
	struct arena arena = {0};
	size_t n = 0;

	for (size_t i = 0; i < t->nfingerprints; i++) {
		char *clean = report_clean(t->fingerprints[i].value, SIZE_MAX);
		bool added = false;
		struct strmap_entry *e = strmap_get(&seen, &arena, clean, &added);
		if (added) {
			e->value = n;
			merged[n++] = (struct report_fingerprint){e->key, 0};
		}
		merged[e->value].count += t->fingerprints[i].count;
		free(clean);
	}
	jsonw_object(w, "fingerprints");
	for (size_t i = 0; i < n; i++)
		jsonw_number(w, merged[i].value, (double)merged[i].count);
	jsonw_end(w);
	strmap_release(&seen);
	arena_release(&arena);
	free(merged);
}

/* put_tokens: the token counts declared (those no reply declared left out),
 * nothing when none was. */
static void put_tokens(struct jsonw *w, const char *key, const struct report_usage *u)
{
	bool any = false;
	for (const struct report_usage_field *f = report_usage_fields; f->name; f++) {
		long long v = *(const long long *)((const char *)u + f->offset);
		if (v < 0)
			continue;
		if (!any)
			jsonw_object(w, key);
		any = true;
		jsonw_number(w, f->name, (double)v);
	}
	if (any)
		jsonw_end(w);
}

/* put_telemetry: side's latency, time to first token, tokens, cost and
 * retries over stratum (SIZE_MAX: the run), members of the object open. */
static void put_telemetry(struct jsonw *w, const struct report *r, size_t stratum,
			  enum side side)
{
	struct report_telemetry t;
	report_telemetry(r, stratum, side, &t);
	if (t.timed) {
		jsonw_object(w, "latency_ms");
		jsonw_number(w, "p50", report_round(t.p50_ms, 1));
		jsonw_number(w, "p95", report_round(t.p95_ms, 1));
		jsonw_number(w, "max", report_round(t.max_ms, 1));
		jsonw_end(w);
	}
	if (t.streamed) {
		jsonw_object(w, "ttft_ms");
		jsonw_number(w, "p50", report_round(t.ttft_p50_ms, 1));
		jsonw_number(w, "p95", report_round(t.ttft_p95_ms, 1));
		jsonw_number(w, "max", report_round(t.ttft_max_ms, 1));
		jsonw_end(w);
	}
	put_tokens(w, "tokens", &t.tokens);
	if (t.cost_usd >= 0)
		jsonw_number(w, "cost_usd", report_round(t.cost_usd, 6));
	jsonw_number(w, "retries", (double)t.retries);
}

static void put_targets(struct jsonw *w, const struct report *r)
{
	jsonw_object(w, "targets");
	for (int side = 0; side < SIDE__COUNT; side++) {
		jsonw_object(w, side_name((enum side)side));
		put_string(w, "url", r->targets[side].url);
		if (r->targets[side].api)
			put_string(w, "api", r->targets[side].api);
		if (r->targets[side].model)
			put_string(w, "model", r->targets[side].model);
		put_fingerprints(w, &r->targets[side]);
		if (r->targets[side].priced) {
			jsonw_object(w, "price");
			jsonw_number(w, "input", r->targets[side].price_input);
			jsonw_number(w, "output", r->targets[side].price_output);
			jsonw_end(w);
		}
		put_telemetry(w, r, SIZE_MAX, (enum side)side);
		if (r->targets[side].expected) {
			put_string(w, "expected", r->targets[side].expected);
			put_names(w, "unexpected", &r->targets[side].unexpected);
		}
		jsonw_end(w);
	}
	jsonw_end(w);
}

static void put_strata(struct jsonw *w, const struct report *r)
{
	jsonw_array(w, "strata");
	for (size_t i = 0; i < r->nstrata; i++) {
		const struct report_stratum *s = &r->strata[i];
		if (!s->selected)
			continue;
		jsonw_object(w, NULL);
		put_string(w, "name", s->name);
		if (s->description)
			put_string(w, "description", s->description);
		jsonw_number(w, "cases", s->ncases);
		jsonw_string(w, "verdict", verdict_name(s->verdict));
		for (int side = 0; side < SIDE__COUNT; side++) {
			jsonw_object(w, side_name((enum side)side));
			jsonw_number(w, "passed", s->passed[side]);
			jsonw_number(w, "total", s->ncases);
			put_telemetry(w, r, i, (enum side)side);
			jsonw_end(w);
		}
		jsonw_number(w, "diff", (double)s->passed[SIDE_PROD] - s->passed[SIDE_EVAL]);
		jsonw_bool(w, "tested", s->tested);
		jsonw_number(w, "p_cmh", finite_or_zero(s->p_cmh));
		jsonw_number(w, "p_value", finite_or_zero(s->p_value));
		jsonw_number(w, "p_least", finite_or_zero(s->p_least));
		jsonw_number(w, "p_adjusted", finite_or_zero(s->p_adjusted));
		jsonw_bool(w, "significant", s->significant);
		jsonw_string(w, "effect", s->direction > 0 ? "drift"
					  : s->direction < 0 ? "eval-regression" : "none");
		jsonw_object(w, "counts");
		for (int v = 0; v < VERDICT__COUNT; v++)
			if (s->counts[v] > 0)
				jsonw_number(w, verdict_name((enum verdict)v), s->counts[v]);
		jsonw_end(w);
		jsonw_end(w);
	}
	jsonw_end(w);
}

/* put_grade: one grader's verdict on a sample. */
static void put_grade(struct jsonw *w, const struct report_grade *g)
{
	jsonw_object(w, NULL);
	put_string(w, "grader", g->grader);
	jsonw_string(w, "grade", grade_name(g->grade));
	jsonw_number(w, "score", report_round(g->score, 4));
	if (g->reason)
		put_string(w, "reason", g->reason);
	jsonw_end(w);
}

/* put_turns: a conversation sample's turns, each with its grade, reasons
 * and steps (status, latency, the tools called). */
static void put_turns(struct jsonw *w, const struct report_sample *s)
{
	jsonw_array(w, "turns");
	for (unsigned t = 0; t < s->nturns; t++) {
		const struct report_turn *rt = &s->turns[t];
		jsonw_object(w, NULL);
		jsonw_string(w, "grade", grade_name(rt->grade));
		jsonw_array(w, "reasons");
		for (unsigned k = 0; k < rt->nreasons; k++)
			put_string(w, NULL, rt->reasons[k]);
		jsonw_end(w);
		jsonw_array(w, "steps");
		for (unsigned k = 0; k < rt->nsteps; k++) {
			const struct report_step *st = &rt->steps[k];
			jsonw_object(w, NULL);
			jsonw_number(w, "status", st->status);
			jsonw_number(w, "latency_ms", report_round(st->latency_ms, 1));
			jsonw_array(w, "tool_calls");
			for (unsigned c = 0; c < st->ncalls; c++)
				put_string(w, NULL, st->calls[c]);
			jsonw_end(w);
			jsonw_end(w);
		}
		jsonw_end(w);
		jsonw_end(w);
	}
	jsonw_end(w);
}

static void put_sample(struct jsonw *w, const struct report_sample *s)
{
	jsonw_object(w, NULL);
	jsonw_number(w, "index", s->index);
	jsonw_string(w, "grade", grade_name(s->grade));
	jsonw_number(w, "status", s->status);
	jsonw_number(w, "latency_ms", report_sample_latency(s));
	if (s->start_ms > 0)
		jsonw_number(w, "start_ms", report_round(s->start_ms, 3));
	if (s->ttft_ms >= 0)
		jsonw_number(w, "ttft_ms", report_round(s->ttft_ms, 1));
	jsonw_number(w, "attempts", s->attempts);
	jsonw_array(w, "reasons");
	for (unsigned k = 0; k < s->nreasons; k++)
		put_string(w, NULL, s->reasons[k]);
	jsonw_end(w);
	if (s->fingerprint)
		put_string(w, "fingerprint", s->fingerprint);
	if (s->reply_file && s->grade != GRADE_PASS)
		put_string(w, "reply_file", s->reply_file);
	if (s->response_id)
		put_string(w, "response_id", s->response_id);
	if (s->response_model)
		put_string(w, "response_model", s->response_model);
	put_tokens(w, "usage", &s->usage);
	if (s->ngrades) {
		jsonw_array(w, "grades");
		for (unsigned k = 0; k < s->ngrades; k++)
			put_grade(w, &s->grades[k]);
		jsonw_end(w);
	}
	if (s->nturns)
		put_turns(w, s);
	jsonw_end(w);
}

static void put_failures(struct jsonw *w, const struct report_side *s)
{
	char *failures[REPORT_FAILURES_MAX];
	size_t n = report_side_failures(s, failures);

	jsonw_array(w, "failures");
	for (size_t i = 0; i < n; i++) {
		jsonw_string(w, NULL, failures[i]);
		free(failures[i]);
	}
	jsonw_end(w);
}

static void put_side(struct jsonw *w, const struct report_case *c, enum side side)
{
	const struct report_side *s = &c->side[side];
	int valid = s->passed + s->failed;
	double lo = 0, hi = 0;

	stats_wilson(s->passed, valid, 1.96, &lo, &hi);
	jsonw_object(w, side_name(side));
	jsonw_number(w, "passed", s->passed);
	jsonw_number(w, "failed", s->failed);
	jsonw_number(w, "errors", s->errors);
	jsonw_number(w, "total", report_side_total(s));
	jsonw_number(w, "first_passed", s->first_passed);
	jsonw_number(w, "first_failed", s->first_failed);
	jsonw_number(w, "rate", report_round(report_side_rate(s), 4));
	jsonw_bool(w, "measured", report_side_measured(s));
	jsonw_bool(w, "ok", report_side_ok(c, side));
	jsonw_array(w, "interval");
	jsonw_number(w, NULL, finite_or_zero(lo));
	jsonw_number(w, NULL, finite_or_zero(hi));
	jsonw_end(w);
	put_failures(w, s);
	jsonw_array(w, "samples");
	for (size_t k = 0; k < s->nsamples; k++)
		put_sample(w, &s->samples[k]);
	jsonw_end(w);
	jsonw_end(w);
}

static void put_case(struct jsonw *w, const struct report *r, const struct report_case *c)
{
	jsonw_object(w, NULL);
	put_string(w, "id", c->id);
	put_string(w, "stratum", r->strata[c->stratum].name);
	if (c->position >= 0)
		jsonw_number(w, "position", (double)c->position);
	if (c->skipped) {
		jsonw_end(w);
		return;
	}
	jsonw_string(w, "verdict", verdict_name(c->verdict));
	/* Whole: merging computes verdicts again from it (printed so that it
	 * reads back the same). */
	jsonw_number(w, "threshold", finite_or_zero(c->threshold));
	jsonw_number(w, "repeat", c->repeat);
	jsonw_bool(w, "confirmed", c->confirmed);
	if (c->by_stratum)
		jsonw_bool(w, "confirmed_by_stratum", true);
	jsonw_number(w, "confirm", c->confirm);
	jsonw_bool(w, "repeated", report_case_repeated(c));
	jsonw_number(w, "p_value", finite_or_zero(c->p_value));
	jsonw_number(w, "p_least", finite_or_zero(c->p_least));
	jsonw_number(w, "p_below", finite_or_zero(c->p_below));
	jsonw_bool(w, "below", c->below);
	if (c->note && *c->note)
		put_string(w, "note", c->note);
	for (int side = 0; side < SIDE__COUNT; side++)
		put_side(w, c, (enum side)side);
	jsonw_end(w);
}

static void put_cases(struct jsonw *w, const struct report *r, const char *key, bool skipped)
{
	jsonw_array(w, key);
	for (size_t i = 0; i < r->ncases; i++)
		if (r->cases[i].skipped == skipped)
			put_case(w, r, &r->cases[i]);
	jsonw_end(w);
}

static void put_judge(struct jsonw *w, const struct report_judge *j)
{
	jsonw_object(w, "judge");
	put_string(w, "model", j->model);
	put_string(w, "api", j->api);
	put_string(w, "template", j->template);
	put_string(w, "template_hash", j->template_hash);
	jsonw_number(w, "calls", (double)j->calls);
	jsonw_number(w, "cache_hits", (double)j->cache_hits);
	jsonw_end(w);
}

static void put_budget(struct jsonw *w, const struct report_budget *b)
{
	jsonw_object(w, "budget");
	if (b->tokens > 0)
		jsonw_number(w, "tokens", (double)b->tokens);
	else
		jsonw_number(w, "usd", b->usd);
	jsonw_number(w, "spent_tokens", (double)b->spent_tokens);
	jsonw_number(w, "spent_usd", report_round(b->spent_usd, 6));
	jsonw_bool(w, "reached", b->reached);
	jsonw_number(w, "not_run", (double)b->not_run);
	jsonw_end(w);
}

static void put_history(struct jsonw *w, const struct report_history *h)
{
	jsonw_object(w, "history");
	put_names(w, "unevaluated", &h->unevaluated);
	put_names(w, "new_since_last", &h->new_since_last);
	jsonw_bool(w, "previous_run", h->previous_run);
	jsonw_end(w);
}

/* put_compositions: with more than one prod composition, each one's
 * samples and pass rate, and the components in which it differs from
 * eval's. */
static void put_compositions(struct jsonw *w, const struct report *r)
{
	struct report_composition *c = NULL;
	size_t n = report_compositions(r, SIDE_PROD, &c);

	if (n > 1) {
		jsonw_array(w, "prod_compositions");
		for (size_t i = 0; i < n; i++) {
			long valid = c[i].passed + c[i].failed;
			jsonw_object(w, NULL);
			put_string(w, "fingerprint", c[i].value);
			jsonw_number(w, "passed", (double)c[i].passed);
			jsonw_number(w, "failed", (double)c[i].failed);
			jsonw_number(w, "errors", (double)c[i].errors);
			jsonw_number(w, "rate",
				     report_round(valid ? (double)c[i].passed / valid : 0, 4));
			jsonw_bool(w, "evaluated", c[i].evaluated);
			jsonw_array(w, "differing");
			for (size_t d = 0; d < c[i].ndiffering; d++)
				put_string(w, NULL, c[i].differing[d]);
			jsonw_end(w);
			jsonw_end(w);
		}
		jsonw_end(w);
	}
	report_compositions_free(c, n);
}

static void put_replay(struct jsonw *w, const struct report_replay *rp)
{
	jsonw_object(w, "replay");
	put_string(w, "log", rp->log);
	jsonw_number(w, "lines", (double)rp->lines);
	jsonw_number(w, "replayed", (double)rp->replayed);
	jsonw_number(w, "unreadable", (double)rp->unreadable);
	jsonw_number(w, "unmatched", (double)rp->unmatched);
	jsonw_number(w, "sampled_out", (double)rp->sampled_out);
	jsonw_number(w, "over_limit", (double)rp->over_limit);
	put_names(w, "problems", &rp->problems);
	jsonw_end(w);
}

/* Counts over the cases that ran. */
struct json_counts {
	long selected;
	long samples;
	long confirm_samples;
};

static void count_cases(const struct report *r, struct json_counts *jc)
{
	*jc = (struct json_counts){0};
	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		if (c->skipped)
			continue;
		jc->selected++;
		for (int side = 0; side < SIDE__COUNT; side++) {
			jc->samples += report_side_total(&c->side[side]);
			for (size_t k = 0; k < c->side[side].nsamples; k++)
				jc->confirm_samples += c->side[side].samples[k].index >= c->repeat;
		}
	}
}

int report_json(FILE *f, const struct report *r, char **err)
{
	struct json_counts jc;
	struct jsonw w;

	count_cases(r, &jc);
	jsonw_init(&w, f);
	jsonw_object(&w, NULL);
	jsonw_number(&w, "canary_report", REPORT_VERSION);
	if (r->canary_version)
		put_string(&w, "canary_version", r->canary_version);
	put_string(&w, "suite", r->suite);
	if (r->suite_cases >= 0)
		jsonw_number(&w, "suite_cases", (double)r->suite_cases);
	if (r->has_suite_strata)
		put_names(&w, "suite_strata", &r->suite_strata);
	if (r->shard_count > 0) {
		jsonw_object(&w, "shard");
		jsonw_number(&w, "index", r->shard_index);
		jsonw_number(&w, "count", r->shard_count);
		jsonw_number(&w, "others", (double)r->shard_others);
		jsonw_end(&w);
	}
	put_string(&w, "started_at", r->started_at);
	jsonw_number(&w, "duration_ms", r->duration_ms);
	jsonw_string(&w, "verdict", verdict_name(r->verdict));
	jsonw_number(&w, "exit_code", r->exit_code);
	jsonw_bool(&w, "interrupted", r->interrupted);
	jsonw_number(&w, "alpha", r->alpha > 0 ? r->alpha : STATS_ALPHA_DEFAULT);
	jsonw_number(&w, "min_valid", r->min_valid);
	jsonw_number(&w, "confirm", r->confirm);
	jsonw_bool(&w, "strict", r->strict);
	jsonw_bool(&w, "fail_on_unevaluated", r->fail_on_unevaluated);
	jsonw_number(&w, "selected", (double)jc.selected);
	jsonw_number(&w, "filtered", (double)r->filtered);
	jsonw_number(&w, "samples", (double)jc.samples);
	jsonw_number(&w, "confirm_samples", (double)jc.confirm_samples);
	jsonw_number(&w, "requests", (double)r->requests);
	jsonw_number(&w, "attempts", (double)r->attempts);
	jsonw_number(&w, "retries", (double)r->retries);
	put_targets(&w, r);
	if (r->judge.present)
		put_judge(&w, &r->judge);
	if (r->budget.present)
		put_budget(&w, &r->budget);
	if (r->history.present)
		put_history(&w, &r->history);
	if (r->replay.present)
		put_replay(&w, &r->replay);
	jsonw_object(&w, "fingerprint_diff");
	put_names(&w, "unevaluated", &r->unevaluated);
	put_names(&w, "differing", &r->differing);
	jsonw_end(&w);
	put_compositions(&w, r);
	put_strata(&w, r);
	put_cases(&w, r, "cases", false);
	put_cases(&w, r, "skipped", true);
	jsonw_end(&w);
	return report_flush(f, err);
}
