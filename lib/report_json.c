/* report_json.c: the JSON report (docs/report-json.md). */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "run.h"
#include "util.h"

#ifndef CANARY_VERSION
#define CANARY_VERSION "0.1.0"
#endif

#define REPORT_VERSION 1
/* The most distinct reasons listed per side under "failures". */
#define FAILURES_MAX 5

static const char *const side_keys[SIDE__COUNT] = {
	[SIDE_EVAL] = "eval",
	[SIDE_PROD] = "prod",
};

static const char *const grade_names[] = {
	[GRADE_PASS] = "pass",
	[GRADE_FAIL] = "fail",
	[GRADE_ERROR] = "error",
};

/* json_clean: s with every invalid UTF-8 byte replaced by U+FFFD, so that
 * the report is valid JSON whatever a reply held (cJSON escapes the rest). */
static char *json_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < n;) {
		size_t len = report_utf8_len(p + i, n - i);
		if (len == 0) {
			buf_addstr(&b, "\xef\xbf\xbd");
			len = 1;
		} else {
			buf_add(&b, p + i, len);
		}
		i += len;
	}
	return buf_detach(&b, NULL);
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
	add_string(o, "grade", (unsigned)s->grade < ARRAY_SIZE(grade_names)
			       ? grade_names[s->grade] : "error");
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
	add_number(o, "rate", rounded(sr->rate, 4));
	cJSON_AddBoolToObject(o, "measured", sr->measured);
	cJSON_AddBoolToObject(o, "ok", sr->ok);

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
		add_string(c, "verdict", verdict_name(cr->verdict));
		add_number(c, "threshold", rounded(cr->c->threshold, 6));
		add_number(c, "repeat", cr->c->repeat);
		for (int side = 0; side < SIDE__COUNT; side++)
			cJSON_AddItemToObject(c, side_keys[side], json_side(&cr->side[side]));
	}
	return cases;
}

char *report_json(const struct run *r)
{
	cJSON *root = cJSON_CreateObject();
	char started[32];
	long selected = 0, filtered = 0, samples = 0;

	for (size_t i = 0; i < r->ncases; i++) {
		const struct case_result *cr = &r->cases[i];
		if (!cr->selected || !cr->c) {
			filtered++;
			continue;
		}
		selected++;
		for (int side = 0; side < SIDE__COUNT; side++)
			samples += cr->side[side].total;
	}
	util_rfc3339(r->started_wall_ms, started);

	add_number(root, "canary_report", REPORT_VERSION);
	add_string(root, "canary_version", CANARY_VERSION);
	add_string(root, "suite", r->suite ? r->suite->name : NULL);
	add_string(root, "started_at", started);
	add_number(root, "duration_ms", r->duration_ms);
	add_string(root, "verdict", verdict_name(r->verdict));
	add_number(root, "exit_code", r->exit_code);
	cJSON_AddBoolToObject(root, "interrupted", r->interrupted);
	add_number(root, "selected", selected);
	add_number(root, "filtered", filtered);
	add_number(root, "samples", samples);
	add_number(root, "requests", r->stats.requests);
	add_number(root, "attempts", r->stats.attempts);
	add_number(root, "retries", r->stats.retries);
	cJSON_AddItemToObject(root, "targets", json_targets(r));
	cJSON_AddItemToObject(root, "strata", json_strata(r));
	cJSON_AddItemToObject(root, "cases", json_cases(r));

	char *out = cJSON_Print(root);
	cJSON_Delete(root);
	return out;
}
