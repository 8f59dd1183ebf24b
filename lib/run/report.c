/* run/report.c: a finished run as its report. */
#include "run/run.h"

#include <stdlib.h>
#include <string.h>

#include "judge/prompt.h"
#include "provider.h"
#include "report/report.h"
#include "util.h"
#include "version.h"

static const char *stratum_name(const struct run *r, size_t i)
{
	if (i < r->nstrata && r->strata[i].s)
		return r->strata[i].s->name;
	if (r->suite && i < r->suite->nstrata)
		return r->suite->strata[i].name;
	return NULL;
}

static void add_stratum(struct report *rep, const struct run *r, size_t i)
{
	const char *name = stratum_name(r, i);
	size_t index = report_stratum_index(rep, name ? name : "?");
	struct report_stratum *s = &rep->strata[index];

	if (i >= r->nstrata)
		return;
	const struct stratum_result *sr = &r->strata[i];
	const struct stratum *def = sr->s ? sr->s
				    : r->suite && i < r->suite->nstrata ? &r->suite->strata[i] : NULL;
	s->description = report_strdup(rep, def ? def->description : NULL);
	s->selected = sr->ncases > 0;
	s->ncases = sr->ncases;
	memcpy(s->passed, sr->passed, sizeof(s->passed));
	memcpy(s->counts, sr->counts, sizeof(s->counts));
	s->verdict = sr->verdict;
	s->tested = sr->tested;
	s->p_cmh = sr->p_cmh;
	s->p_value = sr->p_value;
	s->p_least = sr->p_least;
	s->p_adjusted = sr->p_adjusted;
	s->significant = sr->significant;
	s->direction = sr->direction;
}

/* add_side: a side's counts and its finished samples. */
static void add_side(struct report *rep, struct report_side *out, const struct side_result *sr)
{
	size_t done = 0, k = 0;

	out->passed = sr->passed;
	out->failed = sr->failed;
	out->errors = sr->errors;
	out->first_passed = sr->first_passed;
	out->first_failed = sr->first_failed;
	for (size_t i = 0; i < sr->nsamples; i++)
		done += sr->samples[i].done;
	report_side_samples(rep, out, done);
	for (size_t i = 0; i < sr->nsamples; i++) {
		const struct sample *s = &sr->samples[i];
		if (!s->done)
			continue;
		struct report_sample *o = &out->samples[k++];
		o->index = s->index;
		o->grade = s->grade;
		o->status = (int)s->status;
		o->latency_ms = s->latency_ms;
		o->attempts = s->attempts;
		o->fingerprint = report_intern(rep, s->fingerprint);
		o->reasons = arena_alloc(&rep->arena, (s->nreasons + 1) * sizeof(*o->reasons));
		for (size_t j = 0; j < s->nreasons; j++)
			if (s->reasons[j])
				o->reasons[o->nreasons++] = report_intern(rep, s->reasons[j]);
	}
}

static void add_case(struct report *rep, const struct run *r, size_t i)
{
	const struct case_result *cr = &r->cases[i];
	const char *name = stratum_name(r, cr->c->stratum);
	struct report_case *c = report_add_case(rep, cr->c->id,
						report_stratum_index(rep, name ? name : "?"));

	c->position = (long)i;
	c->skipped = !cr->selected;
	if (c->skipped)
		return;
	c->verdict = cr->verdict;
	c->threshold = cr->c->threshold;
	c->repeat = cr->repeat > 0 ? cr->repeat : cr->c->repeat;
	c->confirm = cr->confirm;
	c->confirmed = cr->confirmed;
	c->p_value = cr->p_value;
	c->p_least = cr->p_least;
	c->p_below = cr->p_below;
	c->below = cr->below;
	c->note = cr->note[0] ? report_intern(rep, cr->note) : NULL;
	for (int side = 0; side < SIDE__COUNT; side++)
		add_side(rep, &c->side[side], &cr->side[side]);
}

/* add_judge: which judge graded the run, with what prompt template, and
 * what it cost. */
static void add_judge(struct report *rep, const struct run *r)
{
	const struct judge_config *j = &r->suite->judge;
	const char *h = r->judge_template_hash ? r->judge_template_hash : judge_prompt_hash();
	char *hash = strncmp(h, "sha256:", 7) == 0 ? xstrdup(h) : xasprintf("sha256:%s", h);
	char *model = j->model ? redact_apply(&r->suite->redact, j->model) : NULL;

	rep->judge.present = true;
	rep->judge.model = report_strdup(rep, model);
	rep->judge.api = report_strdup(rep, j->provider ? j->provider->name : NULL);
	rep->judge.template = report_strdup(rep, r->judge_template ? r->judge_template
								   : JUDGE_PROMPT_VERSION);
	rep->judge.template_hash = report_strdup(rep, hash);
	rep->judge.calls = r->rt.judge_calls;
	rep->judge.cache_hits = r->rt.judge_cache_hits;
	free(hash);
	free(model);
}

static void add_names(struct report *rep, struct report_names *l, char *const *v, size_t n,
		      bool sort)
{
	const char **sorted = xcalloc(n + 1, sizeof(*sorted));

	memcpy(sorted, v, n * sizeof(*v));
	if (sort)
		qsort(sorted, n, sizeof(*sorted), util_str_cmp);
	for (size_t i = 0; i < n; i++)
		report_names_add(rep, l, sorted[i]);
	free(sorted);
}

struct report *run_report(const struct run *r)
{
	struct report *rep = report_new();
	char started[32];
	size_t nstrata = r->suite ? r->suite->nstrata : r->nstrata;

	util_rfc3339(r->started_wall_ms, started);
	rep->canary_version = report_strdup(rep, CANARY_VERSION);
	rep->suite = report_strdup(rep, r->suite ? r->suite->name : NULL);
	rep->suite_cases = (long)r->ncases;
	rep->has_suite_strata = true;
	for (size_t i = 0; i < nstrata; i++) {
		const char *name = stratum_name(r, i);
		add_stratum(rep, r, i);
		report_names_add(rep, &rep->suite_strata, name ? name : "?");
	}
	rep->shard_index = r->shard_index;
	rep->shard_count = r->shard_count;
	rep->started_at = report_strdup(rep, started);
	rep->started_ms = r->started_wall_ms;
	rep->duration_ms = (double)r->duration_ms;
	rep->verdict = r->verdict;
	rep->exit_code = r->exit_code;
	rep->interrupted = r->interrupted;
	rep->alpha = r->alpha;
	rep->min_valid = r->min_valid;
	rep->confirm = r->confirm;
	rep->strict = r->strict;
	rep->requests = r->stats.requests;
	rep->attempts = r->stats.attempts;
	rep->retries = r->stats.retries;
	for (int side = 0; side < SIDE__COUNT; side++) {
		rep->targets[side].url = report_strdup(rep, r->url_display[side]);
		for (size_t k = 0; k < r->nfingerprints[side]; k++)
			if (r->fingerprints[side][k].value)
				report_add_fingerprint(rep, (enum side)side,
						       r->fingerprints[side][k].value,
						       r->fingerprints[side][k].count);
	}
	if (r->suite && r->suite->judge.present)
		add_judge(rep, r);
	if (r->history) {
		rep->history.present = true;
		add_names(rep, &rep->history.unevaluated, r->history_unevaluated,
			  r->nhistory_unevaluated, false);
		add_names(rep, &rep->history.new_since_last, r->new_since_last,
			  r->nnew_since_last, false);
		rep->history.previous_run = r->has_previous_run;
	}
	add_names(rep, &rep->unevaluated, r->unevaluated, r->nunevaluated, true);
	add_names(rep, &rep->differing, r->differing, r->ndiffering, false);
	for (size_t i = 0; i < r->ncases; i++) {
		const struct case_result *cr = &r->cases[i];
		if (!cr->c)
			continue;
		if (cr->other_shard) {
			rep->shard_others++;
			continue;
		}
		rep->filtered += !cr->selected;
		add_case(rep, r, i);
	}
	report_sort_cases(rep);
	return rep;
}
