/* run/report.c: a finished run as its report. */
#include "run/run.h"

#include <stdlib.h>
#include <string.h>

#include "judge/prompt.h"
#include "provider.h"
#include "report/report.h"
#include "util.h"
#include "version.h"

/* add_stratum: suite stratum i, its statistics left to verdict_compute(). */
static void add_stratum(struct report *rep, const struct stratum *s)
{
	size_t index = report_stratum_index(rep, s->name);

	rep->strata[index].description = report_strdup(rep, s->description);
}

/* add_turns: a conversation sample's turns and their steps. */
static void add_turns(struct report *rep, struct report_sample *o, const struct sample *s)
{
	if (!s->nturns)
		return;
	report_sample_turns(rep, o, s->nturns);
	for (size_t t = 0; t < s->nturns; t++) {
		const struct sample_turn *st = &s->turns[t];
		struct report_turn *ot = &o->turns[t];
		ot->grade = st->grade;
		ot->reasons = report_strings(rep, st->nreasons);
		for (size_t j = 0; j < st->nreasons; j++)
			ot->reasons[ot->nreasons++] = report_intern(rep, st->reasons[j]);
		report_turn_steps(rep, ot, st->nsteps);
		for (size_t k = 0; k < st->nsteps; k++) {
			const struct sample_step *ss = &st->steps[k];
			struct report_step *os = &ot->steps[k];
			os->status = (int)ss->status;
			os->latency_ms = ss->latency_ms;
			os->calls = report_strings(rep, ss->ncalls);
			for (size_t c = 0; c < ss->ncalls; c++)
				os->calls[os->ncalls++] = report_intern(rep, ss->calls[c]);
		}
	}
}

/* add_side: a side's finished samples, counted (the first `repeat` of
 * them apart, which decided confirmation). */
static void add_side(struct report *rep, struct report_side *out, const struct side_result *sr,
		     int repeat)
{
	size_t done = 0, k = 0;

	for (size_t i = 0; i < sr->nsamples; i++)
		done += sr->samples[i].done;
	report_side_samples(rep, out, done);
	for (size_t i = 0; i < sr->nsamples; i++) {
		const struct sample *s = &sr->samples[i];
		if (!s->done)
			continue;
		bool first = s->index < repeat;
		out->passed += s->grade == GRADE_PASS;
		out->failed += s->grade == GRADE_FAIL;
		out->errors += s->grade == GRADE_ERROR;
		out->first_passed += first && s->grade == GRADE_PASS;
		out->first_failed += first && s->grade == GRADE_FAIL;
		struct report_sample *o = &out->samples[k++];
		o->index = s->index;
		o->grade = s->grade;
		o->status = (int)s->status;
		o->latency_ms = s->latency_ms;
		o->start_ms = s->start_ms;
		o->ttft_ms = s->ttft_ms;
		o->attempts = s->attempts;
		o->fingerprint = report_intern(rep, s->fingerprint);
		o->reply_file = report_strdup(rep, s->reply_file);
		o->response_id = report_strdup(rep, s->response_id);
		o->response_model = report_intern(rep, s->response_model);
		o->usage = (struct report_usage){s->usage.input, s->usage.output, s->usage.total,
						 s->usage.cached, s->usage.reasoning};
		report_sample_grades(rep, o, s->ngrades);
		for (size_t j = 0; j < s->ngrades; j++)
			o->grades[j] = (struct report_grade){
				.grader = report_intern(rep, s->grades[j].grader->label),
				.reason = report_intern(rep, s->grades[j].reason),
				.score = s->grades[j].score,
				.grade = s->grades[j].grade,
			};
		report_sample_reasons(rep, o, s->nreasons);
		for (size_t j = 0; j < s->nreasons; j++)
			if (s->reasons[j])
				o->reasons[o->nreasons++] = report_intern(rep, s->reasons[j]);
		add_turns(rep, o, s);
	}
}

static void add_case(struct report *rep, const struct run *r, size_t i)
{
	const struct case_result *cr = &r->cases[i];
	struct report_case *c = report_add_case(
		rep, cr->c->id, report_stratum_index(rep, r->suite->strata[cr->c->stratum].name));

	c->position = (long)i;
	c->skipped = !cr->selected;
	if (c->skipped)
		return;
	c->threshold = cr->c->threshold;
	c->repeat = cr->repeat;
	c->confirm = cr->confirm;
	c->confirmed = cr->confirmed;
	c->by_stratum = cr->by_stratum;
	for (int side = 0; side < SIDE__COUNT; side++)
		add_side(rep, &c->side[side], &cr->side[side], cr->repeat);
}

/* add_target: a target's URL for display, API, model (redacted), price and
 * expected composition. */
static void add_target(struct report *rep, struct report_target *out, const struct run *r,
		       enum side side)
{
	const struct target *t = &r->suite->targets[side];
	char *model = t->model ? redact_apply(&r->suite->redact, t->model) : NULL;

	out->url = report_strdup(rep, r->url_display[side]);
	out->api = report_strdup(rep, t->provider ? t->provider->name : NULL);
	out->model = report_strdup(rep, model);
	out->priced = t->priced;
	out->price_input = t->price_input;
	out->price_output = t->price_output;
	out->expected = report_strdup(rep, r->expected[side]);
	free(model);
}

/* add_judge: which judge graded the run, with what prompt template, and
 * what it cost. */
static void add_judge(struct report *rep, const struct run *r)
{
	const struct judge_config *j = &r->suite->judge;
	const char *h = judge_prompt_hash();
	char *hash = strncmp(h, "sha256:", 7) == 0 ? xstrdup(h) : xasprintf("sha256:%s", h);
	char *model = j->model ? redact_apply(&r->suite->redact, j->model) : NULL;

	rep->judge.present = true;
	rep->judge.model = report_strdup(rep, model);
	rep->judge.api = report_strdup(rep, j->provider ? j->provider->name : NULL);
	rep->judge.template = report_strdup(rep, JUDGE_PROMPT_VERSION);
	rep->judge.template_hash = report_strdup(rep, hash);
	rep->judge.calls = r->rt.judge_calls;
	rep->judge.cache_hits = r->rt.judge_cache_hits;
	free(hash);
	free(model);
}

/* add_fingerprints: the fingerprints the replies of each side carried, in
 * the order met. */
static void add_fingerprints(struct report *rep, const struct run *r)
{
	for (size_t i = 0; i < r->ncases; i++) {
		const struct case_result *cr = &r->cases[i];
		for (int side = 0; cr->selected && side < SIDE__COUNT; side++) {
			const struct side_result *sr = &cr->side[side];
			for (size_t k = 0; k < sr->nsamples; k++)
				if (sr->samples[k].done && sr->samples[k].fingerprint)
					report_add_fingerprint(rep, (enum side)side,
							       sr->samples[k].fingerprint, 1);
		}
	}
}

/* add_budget: the run's budget, what it spent, and the samples it left
 * unsent once the budget was reached. */
static void add_budget(struct report *rep, const struct run *r)
{
	struct report_budget *b = &rep->budget;
	b->present = true;
	b->tokens = r->budget_tokens;
	b->usd = r->budget_usd;
	b->spent_tokens = r->spent_tokens;
	b->spent_usd = r->spent_usd;
	b->reached = r->budget_reached;
	for (size_t i = 0; b->reached && i < r->ncases; i++)
		for (int side = 0; r->cases[i].selected && side < SIDE__COUNT; side++)
			for (size_t k = 0; k < r->cases[i].side[side].nsamples; k++)
				b->not_run += !r->cases[i].side[side].samples[k].done;
}

/* release_case: case i's samples, once they are in the report. */
static void release_case(struct run *r, size_t i)
{
	for (int side = 0; side < SIDE__COUNT; side++) {
		struct side_result *sr = &r->cases[i].side[side];
		for (size_t k = 0; k < sr->nsamples; k++)
			sample_release(&sr->samples[k]);
		free(sr->samples);
		sr->samples = NULL;
		sr->nsamples = 0;
	}
}

struct report *run_report(struct run *r)
{
	struct report *rep = report_new();
	const struct suite *s = r->suite;
	char started[32];

	util_rfc3339(r->started_wall_ms, started);
	rep->canary_version = report_strdup(rep, CANARY_VERSION);
	rep->suite = report_strdup(rep, s->name);
	rep->suite_cases = (long)r->ncases;
	rep->has_suite_strata = true;
	for (size_t i = 0; i < s->nstrata; i++) {
		add_stratum(rep, &s->strata[i]);
		report_names_add(rep, &rep->suite_strata, s->strata[i].name);
	}
	rep->shard_index = r->shard_index;
	rep->shard_count = r->shard_count;
	rep->started_at = report_strdup(rep, started);
	rep->started_ms = r->started_wall_ms;
	rep->duration_ms = (double)r->duration_ms;
	rep->interrupted = r->interrupted;
	rep->alpha = r->alpha;
	rep->min_valid = r->min_valid;
	rep->confirm = r->confirm;
	rep->strict = r->strict;
	rep->fail_on_unevaluated = r->fail_on_unevaluated;
	rep->requests = r->stats.requests;
	rep->attempts = r->stats.attempts;
	rep->retries = r->stats.retries;
	for (int side = 0; side < SIDE__COUNT; side++)
		add_target(rep, &rep->targets[side], r, (enum side)side);
	add_fingerprints(rep, r);
	if (s->judge.present)
		add_judge(rep, r);
	if (r->budget_tokens > 0 || r->budget_usd > 0)
		add_budget(rep, r);
	for (size_t i = 0; i < r->ncases; i++) {
		if (r->cases[i].other_shard) {
			rep->shard_others++;
			continue;
		}
		rep->filtered += !r->cases[i].selected;
		add_case(rep, r, i);
		release_case(r, i);
	}
	report_sort_cases(rep);
	report_analyse_fingerprints(rep);
	verdict_compute(rep);
	return rep;
}
