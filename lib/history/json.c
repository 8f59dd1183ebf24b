/* history/json.c: the history as JSON (docs/history.md): a suite's view,
 * its prod fingerprints, the baseline check. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "history/history.h"
#include "report/report.h"
#include "util.h"

/* Strings longer than this are cut in JSON output. */
#define CLEAN_MAX ((size_t)64 << 10)

static double round4(double v)
{
	return isfinite(v) ? round(v * 10000) / 10000 : 0;
}

static void add_time(cJSON *o, const char *key, long long ms)
{
	char buf[32];
	util_rfc3339(ms, buf);
	cJSON_AddStringToObject(o, key, buf);
}

/* add_str: a string member, null for NULL; invalid UTF-8 is replaced. */
static void add_str(cJSON *o, const char *key, const char *s)
{
	if (!s) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	char *clean = report_clean(s, CLEAN_MAX);
	cJSON_AddStringToObject(o, key, clean);
	free(clean);
}

static void add_rate(cJSON *o, const char *key, int passed, int failed)
{
	double r = history_rate(passed, failed);
	if (r < 0)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddNumberToObject(o, key, round4(r));
}

static cJSON *run_json(const struct history_run *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)r->id);
	add_time(o, "started_at", r->started_at);
	cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration_ms);
	add_str(o, "verdict", r->verdict);
	cJSON_AddNumberToObject(o, "exit_code", r->exit_code);
	cJSON_AddBoolToObject(o, "interrupted", r->interrupted);
	add_str(o, "suite_hash", r->suite_hash);
	add_str(o, "shard", r->shard);
	add_str(o, "canary_version", r->canary_version);
	if (r->prod_latency_ms >= 0)
		cJSON_AddNumberToObject(o, "prod_latency_ms", round4(r->prod_latency_ms));
	else
		cJSON_AddNullToObject(o, "prod_latency_ms");
	if (r->cost_usd >= 0)
		cJSON_AddNumberToObject(o, "cost_usd", round4(r->cost_usd));
	else
		cJSON_AddNullToObject(o, "cost_usd");
	if (r->prod_ttft_ms >= 0)
		cJSON_AddNumberToObject(o, "prod_ttft_ms", round4(r->prod_ttft_ms));
	cJSON *targets = cJSON_AddObjectToObject(o, "targets");
	for (int side = 0; side < SIDE__COUNT; side++) {
		cJSON *t = cJSON_AddObjectToObject(targets, side_name((enum side)side));
		add_str(t, "url", r->url[side]);
		cJSON *fps = cJSON_AddObjectToObject(t, "fingerprints");
		for (size_t k = 0; k < r->nfps[side]; k++) {
			char *clean = report_clean(r->fps[side][k].value, CLEAN_MAX);
			if (!cJSON_GetObjectItemCaseSensitive(fps, clean))
				cJSON_AddNumberToObject(fps, clean, r->fps[side][k].count);
			free(clean);
		}
	}
	return o;
}

static cJSON *series_json(const struct history_series *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "passed", s->passed);
	cJSON_AddNumberToObject(o, "failed", s->failed);
	add_rate(o, "rate", s->passed, s->failed);
	cJSON *points = cJSON_AddArrayToObject(o, "points");
	for (size_t k = 0; k < s->npoints; k++) {
		const struct history_point *p = &s->points[k];
		cJSON *pt = cJSON_CreateObject();
		cJSON_AddItemToArray(points, pt);
		cJSON_AddNumberToObject(pt, "run", (double)p->run_id);
		add_time(pt, "at", p->at);
		cJSON_AddNumberToObject(pt, "passed", p->passed);
		cJSON_AddNumberToObject(pt, "failed", p->failed);
		cJSON_AddNumberToObject(pt, "errors", p->errors);
		add_rate(pt, "rate", p->passed, p->failed);
		add_str(pt, "verdict", p->verdict);
	}
	return o;
}

static cJSON *flaky_json(const struct history_flaky *f, size_t n)
{
	cJSON *cases = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddItemToArray(cases, c);
		add_str(c, "id", f[i].case_id);
		add_str(c, "stratum", f[i].stratum);
		cJSON_AddNumberToObject(c, "flips", f[i].flips);
		cJSON_AddNumberToObject(c, "runs", f[i].runs);
		cJSON *verdicts = cJSON_AddArrayToObject(c, "verdicts");
		for (size_t k = 0; k < f[i].nverdicts; k++)
			cJSON_AddItemToArray(verdicts, cJSON_CreateString(f[i].verdicts[k]));
	}
	return cases;
}

cJSON *history_view_json(const struct history_view *v)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "suite", v->suite);
	add_time(o, "since", v->since);
	add_time(o, "until", v->until);
	cJSON *runs = cJSON_AddArrayToObject(o, "runs");
	for (size_t i = 0; i < v->nruns; i++)
		cJSON_AddItemToArray(runs, run_json(&v->runs[i]));
	cJSON *strata = cJSON_AddArrayToObject(o, "strata");
	cJSON *cur = NULL;
	for (size_t i = 0; i < v->nseries; i++) {
		const struct history_series *s = &v->series[i];
		if (!cur || i == 0 || strcmp(s->stratum, v->series[i - 1].stratum) != 0) {
			cur = cJSON_CreateObject();
			cJSON_AddItemToArray(strata, cur);
			add_str(cur, "name", s->stratum);
		}
		cJSON_AddItemToObject(cur, side_name(s->side), series_json(s));
	}
	cJSON *fps = cJSON_AddArrayToObject(o, "fingerprints");
	for (size_t i = 0; i < v->nfingerprints; i++) {
		const struct history_fingerprint *f = &v->fingerprints[i];
		cJSON *fo = cJSON_CreateObject();
		cJSON_AddItemToArray(fps, fo);
		cJSON_AddStringToObject(fo, "target", side_name(f->side));
		add_str(fo, "value", f->value);
		add_time(fo, "first_seen", f->first_seen);
		add_time(fo, "last_seen", f->last_seen);
		cJSON_AddNumberToObject(fo, "runs", f->runs);
		cJSON_AddNumberToObject(fo, "share", round4(f->share));
		cJSON_AddNumberToObject(fo, "samples", (double)f->samples);
		cJSON_AddBoolToObject(fo, "evaluated", f->evaluated);
	}
	cJSON *flaky = cJSON_AddObjectToObject(o, "flaky");
	cJSON_AddNumberToObject(flaky, "flips", v->flips);
	cJSON_AddNumberToObject(flaky, "last", v->last);
	cJSON_AddItemToObject(flaky, "cases", flaky_json(v->flaky, v->nflaky));
	return o;
}

static void add_window(cJSON *o, const char *key, int passed, int failed, int runs)
{
	cJSON *w = cJSON_AddObjectToObject(o, key);
	cJSON_AddNumberToObject(w, "passed", passed);
	cJSON_AddNumberToObject(w, "failed", failed);
	cJSON_AddNumberToObject(w, "runs", runs);
	add_rate(w, "rate", passed, failed);
}

/* add_mean: {"baseline", "recent" (null when not known), "rose"} of a mean. */
static void add_mean(cJSON *o, const char *key, double base, double recent, bool rose)
{
	cJSON *m = cJSON_AddObjectToObject(o, key);
	if (base >= 0)
		cJSON_AddNumberToObject(m, "baseline", round4(base));
	else
		cJSON_AddNullToObject(m, "baseline");
	if (recent >= 0)
		cJSON_AddNumberToObject(m, "recent", round4(recent));
	else
		cJSON_AddNullToObject(m, "recent");
	cJSON_AddBoolToObject(m, "rose", rose);
}

cJSON *history_check_json(const struct history_check *c, const struct history_flaky *flaky,
			  size_t nflaky)
{
	cJSON *o = cJSON_CreateObject();
	add_str(o, "suite", c->suite);
	add_time(o, "now", c->now);
	cJSON *b = cJSON_AddObjectToObject(o, "baseline");
	add_time(b, "from", c->baseline_from);
	add_time(b, "to", c->recent_from);
	cJSON *r = cJSON_AddObjectToObject(o, "recent");
	add_time(r, "from", c->recent_from);
	add_time(r, "to", c->now);
	cJSON_AddNumberToObject(o, "max_drop", c->limits.max_drop);
	if (c->limits.max_latency_rise >= 0)
		cJSON_AddNumberToObject(o, "max_latency_rise", c->limits.max_latency_rise);
	if (c->limits.max_cost_rise >= 0)
		cJSON_AddNumberToObject(o, "max_cost_rise", c->limits.max_cost_rise);
	cJSON *strata = cJSON_AddArrayToObject(o, "strata");
	for (size_t i = 0; i < c->nstrata; i++) {
		const struct history_check_stratum *s = &c->strata[i];
		cJSON *so = cJSON_CreateObject();
		cJSON_AddItemToArray(strata, so);
		add_str(so, "name", s->stratum);
		add_window(so, "baseline", s->base_passed, s->base_failed, s->base_runs);
		add_window(so, "recent", s->recent_passed, s->recent_failed, s->recent_runs);
		cJSON_AddBoolToObject(so, "compared", s->compared);
		cJSON_AddBoolToObject(so, "degraded", s->degraded);
		add_mean(so, "latency_ms", s->base_latency_ms, s->recent_latency_ms, s->latency_rose);
		add_mean(so, "cost_usd", s->base_cost_usd, s->recent_cost_usd, s->cost_rose);
		if (s->compared) {
			double base = history_rate(s->base_passed, s->base_failed);
			double recent = history_rate(s->recent_passed, s->recent_failed);
			cJSON_AddNumberToObject(so, "change",
						round4(base > 0 ? recent / base - 1 : 0));
		} else {
			cJSON_AddNullToObject(so, "change");
		}
	}
	cJSON_AddItemToObject(o, "flaky", flaky_json(flaky, nflaky));
	return o;
}

cJSON *history_fingerprints_json(const struct history_view *v)
{
	static const char *const keys[] = {"suite", "since", "until"};
	cJSON *full = history_view_json(v);
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		cJSON_AddItemToObject(o, keys[i],
				      cJSON_DetachItemFromObjectCaseSensitive(full, keys[i]));
	cJSON_AddNumberToObject(o, "runs", (double)v->nruns);
	cJSON *fps = cJSON_DetachItemFromObjectCaseSensitive(full, "fingerprints");
	for (cJSON *fp = fps ? fps->child : NULL, *next; fp; fp = next) {
		next = fp->next;
		const char *target = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fp, "target"));
		if (!target || strcmp(target, "prod") != 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(fps, fp));
	}
	cJSON_AddItemToObject(o, "fingerprints", fps ? fps : cJSON_CreateArray());
	cJSON_Delete(full);
	return o;
}
