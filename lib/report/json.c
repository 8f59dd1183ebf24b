/* report/json.c: the JSON report tree (docs/report-json.md): building it
 * from a run, printing, parsing and checking a saved one, reading it in
 * suite order, the compact text from a tree, and writing reports. */
#include "report/report.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fingerprint/fingerprint.h"
#include "jsonw.h"
#include "judge/prompt.h"
#include "provider.h"
#include "run/run.h"
#include "stats.h"
#include "util.h"
#include "report/verdict.h"
#include "version.h"

/* The most distinct reasons listed per side under "failures". */
#define FAILURES_MAX 5
/* Filtered-out cases the text of a tree stands in for one by one. */
#define TEXT_FILTERED_MAX (1 << 22)
/* The largest suite, and the most samples, report_recompute() lays out. */
#define RECOMPUTE_CASES_MAX (1 << 20)
#define RECOMPUTE_SAMPLES_MAX (1 << 22)

static const char *const side_keys[SIDE__COUNT] = {
	[SIDE_EVAL] = "eval",
	[SIDE_PROD] = "prod",
};

/* json_clean: s with every invalid UTF-8 byte replaced by U+FFFD, so that
 * the report is valid JSON whatever a reply held (cJSON escapes the rest). */
static char *json_clean(const char *s)
{
	return report_clean(s, SIZE_MAX);
}

static cJSON *json_string(const char *s)
{
	if (!s)
		return cJSON_CreateNull();
	char *clean = json_clean(s);
	cJSON *j = cJSON_CreateString(clean);
	free(clean);
	return j;
}

static void add_string(cJSON *obj, const char *key, const char *s)
{
	cJSON_AddItemToObject(obj, key, json_string(s));
}

static void add_number(cJSON *obj, const char *key, double v)
{
	cJSON_AddNumberToObject(obj, key, v);
}

static double finite_or_zero(double v)
{
	return isfinite(v) ? v : 0;
}

/* rounded: v to the given number of decimals, so that 2/3 prints as 0.6667
 * rather than 0.66666666666666663. */
static double rounded(double v, int decimals)
{
	double scale = pow(10, decimals);

	if (!isfinite(v))
		return 0;
	return round(v * scale) / scale;
}

static cJSON *json_targets(const struct run *r)
{
	cJSON *targets = cJSON_CreateObject();

	for (int side = 0; side < SIDE__COUNT; side++) {
		cJSON *t = cJSON_AddObjectToObject(targets, side_keys[side]);
		add_string(t, "url", r->url_display[side]);
		cJSON *fps = cJSON_AddObjectToObject(t, "fingerprints");
		for (size_t k = 0; k < r->nfingerprints[side]; k++) {
			const struct fingerprint_count *fc = &r->fingerprints[side][k];
			if (!fc->value)
				continue;
			char *value = json_clean(fc->value);
			cJSON *have = cJSON_GetObjectItemCaseSensitive(fps, value);
			if (have)
				cJSON_SetNumberValue(have, have->valuedouble + fc->count);
			else
				add_number(fps, value, fc->count);
			free(value);
		}
	}
	return targets;
}

/* json_fingerprint_diff: the prod fingerprints eval never served (sorted,
 * so that the order replies came in does not show) and the components in
 * which they differ from eval's. */
static cJSON *json_fingerprint_diff(const struct run *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *unevaluated = cJSON_AddArrayToObject(o, "unevaluated");
	cJSON *differing = cJSON_AddArrayToObject(o, "differing");
	char **sorted = xcalloc(r->nunevaluated, sizeof(*sorted));

	for (size_t i = 0; i < r->nunevaluated; i++)
		sorted[i] = r->unevaluated[i];
	qsort(sorted, r->nunevaluated, sizeof(*sorted), util_str_cmp);
	for (size_t i = 0; i < r->nunevaluated; i++)
		cJSON_AddItemToArray(unevaluated, json_string(sorted[i]));
	for (size_t i = 0; i < r->ndiffering; i++)
		cJSON_AddItemToArray(differing, json_string(r->differing[i]));
	free(sorted);
	return o;
}

static const char *stratum_name(const struct run *r, size_t i)
{
	if (i < r->nstrata && r->strata[i].s)
		return r->strata[i].s->name;
	if (r->suite && i < r->suite->nstrata)
		return r->suite->strata[i].name;
	return NULL;
}

static const char *stratum_description(const struct run *r, size_t i)
{
	if (r->strata[i].s)
		return r->strata[i].s->description;
	if (r->suite && i < r->suite->nstrata)
		return r->suite->strata[i].description;
	return NULL;
}

/* json_suite_strata: the name of every stratum of the suite, selected or
 * not, in suite order. */
static cJSON *json_suite_strata(const struct run *r)
{
	cJSON *names = cJSON_CreateArray();
	size_t n = r->suite ? r->suite->nstrata : r->nstrata;

	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(names, json_string(stratum_name(r, i)));
	return names;
}

static cJSON *json_strata(const struct run *r)
{
	cJSON *strata = cJSON_CreateArray();

	for (size_t i = 0; i < r->nstrata; i++) {
		const struct stratum_result *sr = &r->strata[i];
		if (sr->ncases == 0)
			continue;
		cJSON *s = cJSON_CreateObject();
		cJSON_AddItemToArray(strata, s);
		add_string(s, "name", stratum_name(r, i));
		const char *description = stratum_description(r, i);
		if (description)
			add_string(s, "description", description);
		add_number(s, "cases", sr->ncases);
		add_string(s, "verdict", verdict_name(sr->verdict));
		for (int side = 0; side < SIDE__COUNT; side++) {
			cJSON *o = cJSON_AddObjectToObject(s, side_keys[side]);
			add_number(o, "passed", sr->passed[side]);
			add_number(o, "total", sr->ncases);
		}
		add_number(s, "diff", sr->passed[SIDE_PROD] - sr->passed[SIDE_EVAL]);
		cJSON_AddBoolToObject(s, "tested", sr->tested);
		add_number(s, "p_cmh", finite_or_zero(sr->p_cmh));
		add_number(s, "p_value", finite_or_zero(sr->p_value));
		add_number(s, "p_least", finite_or_zero(sr->p_least));
		add_number(s, "p_adjusted", finite_or_zero(sr->p_adjusted));
		cJSON_AddBoolToObject(s, "significant", sr->significant);
		add_string(s, "effect", sr->direction > 0 ? "drift"
				      : sr->direction < 0 ? "eval-regression" : "none");
		cJSON *counts = cJSON_AddObjectToObject(s, "counts");
		for (int v = 0; v < VERDICT__COUNT; v++)
			if (sr->counts[v] > 0)
				add_number(counts, verdict_name((enum verdict)v), sr->counts[v]);
	}
	return strata;
}

static bool array_has_string(const cJSON *array, const char *s)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, array)
		if (cJSON_IsString(item) && strcmp(item->valuestring, s) == 0)
			return true;
	return false;
}

static cJSON *json_sample(const struct sample *s)
{
	cJSON *o = cJSON_CreateObject();

	add_number(o, "index", s->index);
	add_string(o, "grade", grade_name(s->grade));
	add_number(o, "status", s->status);
	add_number(o, "latency_ms", rounded(s->latency_ms, 1));
	add_number(o, "attempts", s->attempts);
	cJSON *reasons = cJSON_AddArrayToObject(o, "reasons");
	for (size_t k = 0; k < s->nreasons; k++)
		if (s->reasons[k])
			cJSON_AddItemToArray(reasons, json_string(s->reasons[k]));
	if (s->fingerprint)
		add_string(o, "fingerprint", s->fingerprint);
	return o;
}

/* json_side: one side of a case: counts, the first distinct reasons and
 * every finished sample. */
static cJSON *json_side(const struct side_result *sr)
{
	cJSON *o = cJSON_CreateObject();

	add_number(o, "passed", sr->passed);
	add_number(o, "failed", sr->failed);
	add_number(o, "errors", sr->errors);
	add_number(o, "total", sr->total);
	add_number(o, "first_passed", sr->first_passed);
	add_number(o, "first_failed", sr->first_failed);
	add_number(o, "rate", rounded(sr->rate, 4));
	cJSON_AddBoolToObject(o, "measured", sr->measured);
	cJSON_AddBoolToObject(o, "ok", sr->ok);
	cJSON *interval = cJSON_AddArrayToObject(o, "interval");
	cJSON_AddItemToArray(interval, cJSON_CreateNumber(finite_or_zero(sr->wilson_lo)));
	cJSON_AddItemToArray(interval, cJSON_CreateNumber(finite_or_zero(sr->wilson_hi)));

	cJSON *failures = cJSON_AddArrayToObject(o, "failures");
	int nfailures = 0;
	for (size_t k = 0; k < sr->nsamples && nfailures < FAILURES_MAX; k++) {
		const struct sample *s = &sr->samples[k];
		if (!s->done || s->grade == GRADE_PASS)
			continue;
		for (size_t j = 0; j < s->nreasons && nfailures < FAILURES_MAX; j++) {
			if (!s->reasons[j])
				continue;
			cJSON *reason = json_string(s->reasons[j]);
			if (array_has_string(failures, reason->valuestring)) {
				cJSON_Delete(reason);
				continue;
			}
			cJSON_AddItemToArray(failures, reason);
			nfailures++;
		}
	}

	cJSON *samples = cJSON_AddArrayToObject(o, "samples");
	for (size_t k = 0; k < sr->nsamples; k++)
		if (sr->samples[k].done)
			cJSON_AddItemToArray(samples, json_sample(&sr->samples[k]));
	return o;
}

/* confirm_samples: the confirmation samples of a case that finished. */
static long confirm_samples(const struct case_result *cr)
{
	long n = 0;

	for (int side = 0; side < SIDE__COUNT; side++)
		for (size_t k = 0; k < cr->side[side].nsamples; k++)
			n += cr->side[side].samples[k].done &&
			     cr->side[side].samples[k].index >= cr->repeat;
	return n;
}

static cJSON *json_cases(const struct run *r)
{
	cJSON *cases = cJSON_CreateArray();

	for (size_t i = 0; i < r->ncases; i++) {
		const struct case_result *cr = &r->cases[i];
		if (!cr->selected || !cr->c)
			continue;
		cJSON *c = cJSON_CreateObject();
		cJSON_AddItemToArray(cases, c);
		add_string(c, "id", cr->c->id);
		add_string(c, "stratum", stratum_name(r, cr->c->stratum));
		add_number(c, "position", (double)i);
		add_string(c, "verdict", verdict_name(cr->verdict));
		/* Whole: merging computes verdicts again from it (cJSON prints a
		 * double so that it reads back the same). */
		add_number(c, "threshold", finite_or_zero(cr->c->threshold));
		add_number(c, "repeat", cr->repeat > 0 ? cr->repeat : cr->c->repeat);
		cJSON_AddBoolToObject(c, "confirmed", cr->confirmed);
		add_number(c, "confirm", cr->confirm);
		cJSON_AddBoolToObject(c, "repeated", cr->repeated);
		add_number(c, "p_value", finite_or_zero(cr->p_value));
		add_number(c, "p_least", finite_or_zero(cr->p_least));
		add_number(c, "p_below", finite_or_zero(cr->p_below));
		cJSON_AddBoolToObject(c, "below", cr->below);
		if (cr->note[0])
			add_string(c, "note", cr->note);
		for (int side = 0; side < SIDE__COUNT; side++)
			cJSON_AddItemToObject(c, side_keys[side], json_side(&cr->side[side]));
	}
	return cases;
}

/* json_skipped: the cases filtered out by --stratum or --case, so that
 * reports can list them; the cases of other shards are theirs to list. */
static cJSON *json_skipped(const struct run *r)
{
	cJSON *skipped = cJSON_CreateArray();

	for (size_t i = 0; i < r->ncases; i++) {
		const struct case_result *cr = &r->cases[i];
		if (cr->selected || cr->other_shard || !cr->c)
			continue;
		cJSON *c = cJSON_CreateObject();
		cJSON_AddItemToArray(skipped, c);
		add_string(c, "id", cr->c->id);
		add_string(c, "stratum", stratum_name(r, cr->c->stratum));
		add_number(c, "position", (double)i);
	}
	return skipped;
}

static cJSON *json_strings(char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, json_string(v[i]));
	return a;
}

/* json_history: what the run's --history said of its prod fingerprints. */
static cJSON *json_history(const struct run *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "unevaluated",
			      json_strings(r->history_unevaluated, r->nhistory_unevaluated));
	cJSON_AddItemToObject(o, "new_since_last",
			      json_strings(r->new_since_last, r->nnew_since_last));
	cJSON_AddBoolToObject(o, "previous_run", r->has_previous_run);
	return o;
}

/* json_judge: which judge graded the run, with what prompt template, and
 * what it cost, so that a change of judge shows between runs. */
static cJSON *json_judge(const struct run *r)
{
	const struct judge_config *j = &r->suite->judge;
	cJSON *o = cJSON_CreateObject();
	const char *h = r->judge_template_hash ? r->judge_template_hash : judge_prompt_hash();
	char *hash = strncmp(h, "sha256:", 7) == 0 ? xstrdup(h) : xasprintf("sha256:%s", h);
	char *model = j->model ? redact_apply(&r->suite->redact, j->model) : NULL;
	add_string(o, "model", model);
	free(model);
	add_string(o, "api", j->provider ? j->provider->name : NULL);
	add_string(o, "template", r->judge_template ? r->judge_template : JUDGE_PROMPT_VERSION);
	add_string(o, "template_hash", hash);
	add_number(o, "calls", r->rt.judge_calls);
	add_number(o, "cache_hits", r->rt.judge_cache_hits);
	free(hash);
	return o;
}

cJSON *report_json_tree(const struct run *r)
{
	cJSON *root = cJSON_CreateObject();
	char started[32];
	long selected = 0, filtered = 0, others = 0, samples = 0, confirmation = 0;

	for (size_t i = 0; i < r->ncases; i++) {
		const struct case_result *cr = &r->cases[i];
		if (cr->other_shard) {
			others++;
			continue;
		}
		if (!cr->selected || !cr->c) {
			filtered++;
			continue;
		}
		selected++;
		confirmation += confirm_samples(cr);
		for (int side = 0; side < SIDE__COUNT; side++)
			samples += cr->side[side].total;
	}
	util_rfc3339(r->started_wall_ms, started);

	add_number(root, "canary_report", REPORT_VERSION);
	add_string(root, "canary_version", CANARY_VERSION);
	add_string(root, "suite", r->suite ? r->suite->name : NULL);
	add_number(root, "suite_cases", (double)r->ncases);
	cJSON_AddItemToObject(root, "suite_strata", json_suite_strata(r));
	if (r->shard_count > 0) {
		cJSON *shard = cJSON_AddObjectToObject(root, "shard");
		add_number(shard, "index", r->shard_index);
		add_number(shard, "count", r->shard_count);
		add_number(shard, "others", others);
	}
	add_string(root, "started_at", started);
	add_number(root, "duration_ms", r->duration_ms);
	add_string(root, "verdict", verdict_name(r->verdict));
	add_number(root, "exit_code", r->exit_code);
	cJSON_AddBoolToObject(root, "interrupted", r->interrupted);
	add_number(root, "alpha", r->alpha > 0 ? r->alpha : STATS_ALPHA_DEFAULT);
	add_number(root, "min_valid", r->min_valid);
	add_number(root, "confirm", r->confirm);
	cJSON_AddBoolToObject(root, "strict", r->strict);
	add_number(root, "selected", selected);
	add_number(root, "filtered", filtered);
	add_number(root, "samples", samples);
	add_number(root, "confirm_samples", confirmation);
	add_number(root, "requests", r->stats.requests);
	add_number(root, "attempts", r->stats.attempts);
	add_number(root, "retries", r->stats.retries);
	cJSON_AddItemToObject(root, "targets", json_targets(r));
	if (r->suite && r->suite->judge.present)
		cJSON_AddItemToObject(root, "judge", json_judge(r));
	if (r->history)
		cJSON_AddItemToObject(root, "history", json_history(r));
	cJSON_AddItemToObject(root, "fingerprint_diff", json_fingerprint_diff(r));
	cJSON_AddItemToObject(root, "strata", json_strata(r));
	cJSON_AddItemToObject(root, "cases", json_cases(r));
	cJSON_AddItemToObject(root, "skipped", json_skipped(r));
	return root;
}

/* One case or skipped entry of a report, placed in suite order. */
struct report_item {
	const cJSON *c;        /* an element of "cases" or of "skipped" */
	bool skipped;          /* filtered out: c is from "skipped" */
	size_t stratum;        /* index into report_layout.strata */
};

/* The strata and cases of a report in suite order: strata as in
 * "suite_strata" (then any other met), items by stratum then position. */
struct report_layout {
	const char **strata;   /* borrowed from the tree */
	const cJSON **stratum; /* stratum[i]: the "strata" entry of strata[i], or NULL */
	size_t nstrata;
	struct report_item *items;
	size_t nitems;
};

/* A name met while laying out, with the order it was first met in. */
struct name_ref {
	const char *name;
	size_t order;
};

static int name_ref_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int name_ref_order_cmp(const void *a, const void *b)
{
	const struct name_ref *x = a, *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

static int name_ref_find(const void *key, const void *elem)
{
	return strcmp(key, ((const struct name_ref *)elem)->name);
}

/* An item while sorting, with its sort keys. */
struct layout_sort {
	struct report_item item;
	double position;
	size_t order;
};

static int layout_sort_cmp(const void *a, const void *b)
{
	const struct layout_sort *x = a, *y = b;

	if (x->item.stratum != y->item.stratum)
		return x->item.stratum < y->item.stratum ? -1 : 1;
	if (x->position != y->position)
		return x->position < y->position ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* collect_names: the strings of array (or of key in its objects) into refs,
 * numbered from *n on. */
static void collect_names(const cJSON *array, const char *key, struct name_ref *refs, size_t *n)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, array) {
		const cJSON *name = key ? cJSON_GetObjectItemCaseSensitive(item, key) : item;
		if (!cJSON_IsString(name))
			continue;
		refs[*n] = (struct name_ref){name->valuestring, *n};
		(*n)++;
	}
}

static void layout_items(struct report_layout *l, const cJSON *array, bool skipped,
			 const struct name_ref *index, size_t nindex,
			 struct layout_sort *sorts, size_t *n)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, array) {
		const struct name_ref *ref = bsearch(report_str(item, "stratum"), index, nindex,
						     sizeof(*index), name_ref_find);
		const cJSON *position = cJSON_GetObjectItemCaseSensitive(item, "position");
		struct layout_sort *s = &sorts[*n];
		s->item.c = item;
		s->item.skipped = skipped;
		s->item.stratum = ref ? ref->order : l->nstrata;
		s->position = cJSON_IsNumber(position) ? position->valuedouble : HUGE_VAL;
		s->order = *n;
		(*n)++;
	}
}

static void report_layout_init(struct report_layout *l, const cJSON *report)
{
	const cJSON *cases = cJSON_GetObjectItemCaseSensitive(report, "cases");
	const cJSON *skipped = cJSON_GetObjectItemCaseSensitive(report, "skipped");
	const cJSON *suite_strata = cJSON_GetObjectItemCaseSensitive(report, "suite_strata");
	const cJSON *strata = cJSON_GetObjectItemCaseSensitive(report, "strata");
	size_t nrefs = 0, nunique = 0;
	struct name_ref *refs = xcalloc((size_t)cJSON_GetArraySize(suite_strata) +
					(size_t)cJSON_GetArraySize(strata) +
					(size_t)cJSON_GetArraySize(cases) +
					(size_t)cJSON_GetArraySize(skipped), sizeof(*refs));

	memset(l, 0, sizeof(*l));
	collect_names(suite_strata, NULL, refs, &nrefs);
	collect_names(strata, "name", refs, &nrefs);
	collect_names(cases, "stratum", refs, &nrefs);
	collect_names(skipped, "stratum", refs, &nrefs);

	/* Keep the first of each name (sorted by name), then number the names
	 * in the order they were first met. */
	qsort(refs, nrefs, sizeof(*refs), name_ref_cmp);
	for (size_t i = 0; i < nrefs; i++)
		if (i == 0 || strcmp(refs[i].name, refs[nunique - 1].name) != 0)
			refs[nunique++] = refs[i];
	struct name_ref *by_order = xcalloc(nunique, sizeof(*by_order));
	memcpy(by_order, refs, nunique * sizeof(*refs));
	qsort(by_order, nunique, sizeof(*by_order), name_ref_order_cmp);
	l->nstrata = nunique;
	l->strata = xcalloc(nunique, sizeof(*l->strata));
	for (size_t rank = 0; rank < nunique; rank++) {
		struct name_ref *ref = bsearch(by_order[rank].name, refs, nunique, sizeof(*refs),
					       name_ref_find);
		l->strata[rank] = by_order[rank].name;
		ref->order = rank;
	}
	free(by_order);
	l->stratum = xcalloc(nunique, sizeof(*l->stratum));
	const cJSON *o;
	cJSON_ArrayForEach(o, strata) {
		const struct name_ref *ref = bsearch(report_str(o, "name"), refs, nunique,
						     sizeof(*refs), name_ref_find);
		if (ref && !l->stratum[ref->order])
			l->stratum[ref->order] = o;
	}

	size_t n = (size_t)cJSON_GetArraySize(cases) + (size_t)cJSON_GetArraySize(skipped);
	struct layout_sort *sorts = xcalloc(n, sizeof(*sorts));
	n = 0;
	layout_items(l, cases, false, refs, nunique, sorts, &n);
	layout_items(l, skipped, true, refs, nunique, sorts, &n);
	qsort(sorts, n, sizeof(*sorts), layout_sort_cmp);
	l->items = xcalloc(n, sizeof(*l->items));
	for (size_t i = 0; i < n; i++)
		l->items[i] = sorts[i].item;
	l->nitems = n;
	free(sorts);
	free(refs);
}

static void report_layout_release(struct report_layout *l)
{
	free(l->strata);
	free(l->stratum);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/*
 * A struct run rebuilt from a tree: for the text of a saved report (what
 * report_text() prints, so both texts look the same) and for computing the
 * verdicts of merged reports again (what verdict_compute() does, so merged
 * shards equal the unsharded run).
 */

/* A rebuilt run and what it points at. */
struct tree_run {
	struct arena arena;
	struct suite suite;
	struct run run;
};

static void *tree_alloc(struct tree_run *t, size_t n)
{
	void *p = arena_alloc(&t->arena, n ? n : 1);

	memset(p, 0, n ? n : 1);
	return p;
}

static enum verdict tree_verdict(const cJSON *o)
{
	enum verdict v = VERDICT_ERROR;

	verdict_parse(report_str(o, "verdict"), &v);
	return v;
}

static enum grade tree_grade(const char *name)
{
	enum grade g = GRADE_ERROR;

	grade_parse(name, &g);
	return g;
}

/* tree_side: a side of a case: its counts and finished samples, then
 * samples that never finished up to nsamples in all. */
static void tree_side(struct tree_run *t, struct side_result *sr, const cJSON *side,
		      enum side which, size_t nsamples)
{
	const cJSON *samples = cJSON_GetObjectItemCaseSensitive(side, "samples");
	size_t n = (size_t)cJSON_GetArraySize(samples), k = 0;
	const cJSON *o;

	sr->passed = report_int(side, "passed");
	sr->failed = report_int(side, "failed");
	sr->errors = report_int(side, "errors");
	sr->total = report_int(side, "total");
	/* Reports without the first counts come from runs without confirmation. */
	bool first = cJSON_GetObjectItemCaseSensitive(side, "first_passed") != NULL;
	sr->first_passed = first ? report_int(side, "first_passed") : sr->passed;
	sr->first_failed = first ? report_int(side, "first_failed") : sr->failed;
	sr->rate = report_num(side, "rate");
	sr->measured = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(side, "measured"));
	sr->ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(side, "ok"));
	const cJSON *interval = cJSON_GetObjectItemCaseSensitive(side, "interval");
	if (cJSON_GetArraySize(interval) == 2) {
		sr->wilson_lo = cJSON_GetArrayItem(interval, 0)->valuedouble;
		sr->wilson_hi = cJSON_GetArrayItem(interval, 1)->valuedouble;
	}
	sr->nsamples = n > nsamples ? n : nsamples;
	sr->samples = tree_alloc(t, sr->nsamples * sizeof(*sr->samples));
	cJSON_ArrayForEach(o, samples) {
		struct sample *s = &sr->samples[k++];
		const cJSON *reasons = cJSON_GetObjectItemCaseSensitive(o, "reasons");
		const cJSON *fingerprint = cJSON_GetObjectItemCaseSensitive(o, "fingerprint");
		const cJSON *reason;
		s->side = which;
		s->index = report_int(o, "index");
		s->done = true;
		s->grade = tree_grade(report_str(o, "grade"));
		s->reasons = tree_alloc(t, (size_t)cJSON_GetArraySize(reasons) * sizeof(char *));
		cJSON_ArrayForEach(reason, reasons)
			s->reasons[s->nreasons++] = reason->valuestring;
		s->status = report_int(o, "status");
		s->latency_ms = report_num(o, "latency_ms");
		s->attempts = report_int(o, "attempts");
		s->fingerprint = cJSON_IsString(fingerprint) ? fingerprint->valuestring : NULL;
	}
	for (; k < sr->nsamples; k++) {
		sr->samples[k].side = which;
		sr->samples[k].index = (int)k;
	}
}

/* side_samples: the finished samples of a side of case o. */
static size_t side_samples(const cJSON *o, int side)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, side_keys[side]);

	return (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "samples"));
}

/* tree_case: case o of the stratum numbered stratum into cr.  Each side has
 * repeat samples when full_repeat (so that the run reports the same
 * repeat), else one unfinished sample past those that finished, enough for
 * the case to count as unfinished. */
static void tree_case(struct tree_run *t, struct case_result *cr, const cJSON *o, size_t stratum,
		      bool selected, bool full_repeat)
{
	struct suite_case *c = tree_alloc(t, sizeof(*c));

	c->id = (char *)report_str(o, "id");
	c->stratum = stratum;
	cr->c = c;
	cr->selected = selected;
	if (!selected)
		return;
	c->threshold = report_num(o, "threshold");
	c->repeat = report_int(o, "repeat");
	cr->repeat = c->repeat;
	cr->confirm = report_int(o, "confirm");
	cr->confirmed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "confirmed"));
	cr->verdict = tree_verdict(o);
	cr->repeated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "repeated"));
	cr->p_value = cJSON_GetObjectItemCaseSensitive(o, "p_value") ? report_num(o, "p_value")
								    : 1.0;
	cr->p_least = cJSON_GetObjectItemCaseSensitive(o, "p_least") ? report_num(o, "p_least")
								    : 1.0;
	cr->p_below = cJSON_GetObjectItemCaseSensitive(o, "p_below") ? report_num(o, "p_below")
								    : 1.0;
	cr->below = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "below"));
	snprintf(cr->note, sizeof(cr->note), "%s", report_str(o, "note"));
	for (int side = 0; side < SIDE__COUNT; side++) {
		size_t n = side_samples(o, side);
		size_t asked = (size_t)c->repeat + (size_t)cr->confirm;
		size_t want = full_repeat ? asked : n + (asked > n);
		tree_side(t, &cr->side[side], cJSON_GetObjectItemCaseSensitive(o, side_keys[side]),
			  (enum side)side, want);
	}
}

/* tree_strings: an array of strings of the tree as a list of its strings. */
static void tree_strings(struct tree_run *t, const cJSON *array, char ***list, size_t *n)
{
	const cJSON *s;

	*list = tree_alloc(t, (size_t)cJSON_GetArraySize(array) * sizeof(**list));
	*n = 0;
	cJSON_ArrayForEach(s, array)
		(*list)[(*n)++] = s->valuestring;
}

/* tree_run_new: the run-wide parts: suite name, strata (names and
 * descriptions, as the tree reports their statistics), targets, counts. */
static struct tree_run *tree_run_new(const cJSON *report, const struct report_layout *l)
{
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(report, "targets");
	struct tree_run *t = xcalloc(1, sizeof(*t));
	struct stratum *defs = tree_alloc(t, l->nstrata * sizeof(*defs));

	t->suite.name = (char *)report_str(report, "suite");
	t->suite.strata = defs;
	t->suite.nstrata = l->nstrata;
	t->run.suite = &t->suite;
	t->run.strata = tree_alloc(t, l->nstrata * sizeof(*t->run.strata));
	t->run.nstrata = l->nstrata;
	for (size_t i = 0; i < l->nstrata; i++) {
		struct stratum_result *sr = &t->run.strata[i];
		const cJSON *o = l->stratum[i];
		const cJSON *description = cJSON_GetObjectItemCaseSensitive(o, "description");
		defs[i].name = (char *)l->strata[i];
		defs[i].description = cJSON_IsString(description) ? description->valuestring
								   : NULL;
		sr->s = &defs[i];
		if (!o)
			continue;
		sr->selected = true;
		sr->ncases = report_int(o, "cases");
		for (int side = 0; side < SIDE__COUNT; side++)
			sr->passed[side] = report_int(
				cJSON_GetObjectItemCaseSensitive(o, side_keys[side]), "passed");
		sr->verdict = tree_verdict(o);
		sr->tested = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "tested"));
		sr->p_cmh = report_num(o, "p_cmh");
		sr->p_value = report_num(o, "p_value");
		sr->p_least = report_num(o, "p_least");
		sr->p_adjusted = report_num(o, "p_adjusted");
		const char *effect = report_str(o, "effect");
		sr->direction = strcmp(effect, "drift") == 0 ? 1
				: strcmp(effect, "eval-regression") == 0 ? -1 : 0;
		sr->significant = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "significant"));
	}

	for (int side = 0; side < SIDE__COUNT; side++) {
		const cJSON *target = cJSON_GetObjectItemCaseSensitive(targets, side_keys[side]);
		const cJSON *url = cJSON_GetObjectItemCaseSensitive(target, "url");
		const cJSON *fps = cJSON_GetObjectItemCaseSensitive(target, "fingerprints");
		const cJSON *fp;
		size_t k = 0;
		t->run.url_display[side] = cJSON_IsString(url) ? url->valuestring : NULL;
		t->run.fingerprints[side] = tree_alloc(t, (size_t)cJSON_GetArraySize(fps) *
							  sizeof(struct fingerprint_count));
		cJSON_ArrayForEach(fp, fps)
			t->run.fingerprints[side][k++] =
				(struct fingerprint_count){fp->string, (int)fp->valuedouble};
		t->run.nfingerprints[side] = k;
	}
	t->run.verdict = tree_verdict(report);
	t->run.exit_code = report_int(report, "exit_code");
	t->run.duration_ms = (long)report_num(report, "duration_ms");
	t->run.interrupted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "interrupted"));
	const cJSON *judge = cJSON_GetObjectItemCaseSensitive(report, "judge");
	if (cJSON_IsObject(judge)) {
		t->suite.judge.present = true;
		t->suite.judge.model = (char *)report_str(judge, "model");
		t->run.rt.judge_calls = report_int(judge, "calls");
		t->run.judge_template = report_str(judge, "template");
		t->run.judge_template_hash = report_str(judge, "template_hash");
		t->run.rt.judge_cache_hits = report_int(judge, "cache_hits");
	}
	t->run.stats.requests = report_int(report, "requests");
	t->run.stats.attempts = report_int(report, "attempts");
	t->run.stats.retries = report_int(report, "retries");
	t->run.alpha = report_num(report, "alpha");
	t->run.confirm = report_int(report, "confirm");
	t->run.min_valid = cJSON_GetObjectItemCaseSensitive(report, "min_valid")
				   ? report_num(report, "min_valid") : STATS_MIN_VALID_DEFAULT;
	t->run.strict = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "strict"));
	const cJSON *history = cJSON_GetObjectItemCaseSensitive(report, "history");
	if (cJSON_IsObject(history)) {
		t->run.history = true;
		tree_strings(t, cJSON_GetObjectItemCaseSensitive(history, "unevaluated"),
			     &t->run.history_unevaluated, &t->run.nhistory_unevaluated);
		tree_strings(t, cJSON_GetObjectItemCaseSensitive(history, "new_since_last"),
			     &t->run.new_since_last, &t->run.nnew_since_last);
		t->run.has_previous_run =
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(history, "previous_run"));
	}
	const cJSON *diff = cJSON_GetObjectItemCaseSensitive(report, "fingerprint_diff");
	tree_strings(t, cJSON_GetObjectItemCaseSensitive(diff, "unevaluated"),
		     &t->run.unevaluated, &t->run.nunevaluated);
	tree_strings(t, cJSON_GetObjectItemCaseSensitive(diff, "differing"), &t->run.differing,
		     &t->run.ndiffering);
	return t;
}

static void tree_run_free(struct tree_run *t)
{
	arena_release(&t->arena);
	free(t);
}

/* place_items: every case and skipped case of the layout at its position
 * in t's run; -1 and *err when a position is missing, out of range or
 * taken twice. */
static int place_items(struct tree_run *t, const struct report_layout *l, char **err)
{
	size_t samples = 0;

	for (size_t i = 0; i < l->nitems; i++) {
		const cJSON *o = l->items[i].c;
		for (int side = 0; side < SIDE__COUNT && !l->items[i].skipped; side++) {
			size_t n = side_samples(o, side);
			size_t asked = (size_t)report_int(o, "repeat") + (size_t)report_int(o, "confirm");
			samples += n > asked ? n : asked;
		}
	}
	if (samples > RECOMPUTE_SAMPLES_MAX) {
		*err = xasprintf("the cases ask for more than %d samples", RECOMPUTE_SAMPLES_MAX);
		return -1;
	}
	for (size_t i = 0; i < l->nitems; i++) {
		const cJSON *o = l->items[i].c;
		const cJSON *position = cJSON_GetObjectItemCaseSensitive(o, "position");
		const char *id = report_str(o, "id");
		if (!position) {
			*err = xasprintf("case '%s' has no 'position'", id);
			return -1;
		}
		size_t at = (size_t)position->valuedouble;
		if (at >= t->run.ncases) {
			*err = xasprintf("case '%s' is at position %zu, past the suite's %zu "
					 "cases", id, at, t->run.ncases);
			return -1;
		}
		struct case_result *cr = &t->run.cases[at];
		if (cr->c) {
			*err = xasprintf("cases '%s' and '%s' are both at position %zu", cr->c->id,
					 id, at);
			return -1;
		}
		if (l->items[i].stratum >= t->run.nstrata) {
			*err = xasprintf("case '%s' is in stratum '%s', which is not in "
					 "'suite_strata'", id, report_str(o, "stratum"));
			return -1;
		}
		tree_case(t, cr, o, l->items[i].stratum, !l->items[i].skipped, true);
		t->run.nselected += cr->selected;
	}
	return 0;
}

cJSON *report_recompute(const cJSON *report, char **err)
{
	const cJSON *strata = cJSON_GetObjectItemCaseSensitive(report, "suite_strata");
	const cJSON *suite_cases = cJSON_GetObjectItemCaseSensitive(report, "suite_cases");
	struct report_layout l = {0};
	struct tree_run *t = NULL;
	cJSON *out = NULL;

	if (report_check(report, err) < 0)
		return NULL;
	if (!strata || !suite_cases) {
		*err = xstrdup("no 'suite_strata' or 'suite_cases' (written by an older canary?)");
		return NULL;
	}
	if (suite_cases->valuedouble > RECOMPUTE_CASES_MAX) {
		*err = xasprintf("'suite_cases' is larger than %d", RECOMPUTE_CASES_MAX);
		return NULL;
	}
	report_layout_init(&l, report);
	/* The layout numbers the strata of suite_strata first, each once. */
	size_t nstrata = (size_t)cJSON_GetArraySize(strata), k = 0;
	const cJSON *name;
	cJSON_ArrayForEach(name, strata) {
		if (k >= l.nstrata || strcmp(l.strata[k++], name->valuestring) != 0) {
			*err = xasprintf("'suite_strata' names stratum '%s' twice",
					 name->valuestring);
			goto out;
		}
	}
	t = tree_run_new(report, &l);
	/* Strata of the suite only: cases elsewhere are refused below. */
	t->run.nstrata = t->suite.nstrata = nstrata;
	t->run.ncases = (size_t)suite_cases->valuedouble;
	t->run.cases = tree_alloc(t, t->run.ncases * sizeof(*t->run.cases));
	if (place_items(t, &l, err) < 0)
		goto out;
	/* Positions no report holds are other shards'. */
	for (size_t i = 0; i < t->run.ncases; i++)
		t->run.cases[i].other_shard = !t->run.cases[i].c;

	verdict_compute(&t->run);
	/* The lists read from the tree live in the arena: find them afresh. */
	t->run.unevaluated = t->run.differing = NULL;
	t->run.nunevaluated = t->run.ndiffering = 0;
	run_analyse_fingerprints(&t->run);
	out = report_json_tree(&t->run);
	run_fingerprints_release(&t->run);
	/* What the tree says, not this canary: version and start. */
	cJSON_ReplaceItemInObjectCaseSensitive(
		out, "canary_version",
		json_string(cJSON_GetObjectItemCaseSensitive(report, "canary_version")
			    ? report_str(report, "canary_version") : CANARY_VERSION));
	cJSON_ReplaceItemInObjectCaseSensitive(out, "started_at",
					       json_string(report_str(report, "started_at")));
	/* The judge the tree names (model, api, prompt template, calls), which a
	 * rebuilt run does not hold. */
	const cJSON *judge = cJSON_GetObjectItemCaseSensitive(report, "judge");
	if (cJSON_IsObject(judge))
		cJSON_ReplaceItemInObjectCaseSensitive(out, "judge", cJSON_Duplicate(judge, true));
out:
	report_layout_release(&l);
	if (t)
		tree_run_free(t);
	return out;
}

/*
 * The JSON report of the model, written as it goes.
 */

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

static void put_targets(struct jsonw *w, const struct report *r)
{
	jsonw_object(w, "targets");
	for (int side = 0; side < SIDE__COUNT; side++) {
		jsonw_object(w, side_name((enum side)side));
		put_string(w, "url", r->targets[side].url);
		put_fingerprints(w, &r->targets[side]);
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

static void put_sample(struct jsonw *w, const struct report_sample *s)
{
	jsonw_object(w, NULL);
	jsonw_number(w, "index", s->index);
	jsonw_string(w, "grade", grade_name(s->grade));
	jsonw_number(w, "status", s->status);
	jsonw_number(w, "latency_ms", report_sample_latency(s));
	jsonw_number(w, "attempts", s->attempts);
	jsonw_array(w, "reasons");
	for (unsigned k = 0; k < s->nreasons; k++)
		put_string(w, NULL, s->reasons[k]);
	jsonw_end(w);
	if (s->fingerprint)
		put_string(w, "fingerprint", s->fingerprint);
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
	jsonw_number(w, "rate", rounded(report_side_rate(s), 4));
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

static void put_history(struct jsonw *w, const struct report_history *h)
{
	jsonw_object(w, "history");
	put_names(w, "unevaluated", &h->unevaluated);
	put_names(w, "new_since_last", &h->new_since_last);
	jsonw_bool(w, "previous_run", h->previous_run);
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
	if (r->history.present)
		put_history(&w, &r->history);
	jsonw_object(&w, "fingerprint_diff");
	put_names(&w, "unevaluated", &r->unevaluated);
	put_names(&w, "differing", &r->differing);
	jsonw_end(&w);
	put_strata(&w, r);
	put_cases(&w, r, "cases", false);
	put_cases(&w, r, "skipped", true);
	jsonw_end(&w);
	return report_flush(f, err);
}
