/* report/merge.c: one report from the reports of shards of one suite.
 *
 * Only the facts of cases are taken from the shards (their samples and
 * counts); everything derived from them (case, stratum and run verdicts,
 * the significance tests, counts, the exit code) is computed again by
 * report_recompute(), which runs verdict_compute() over all the cases as
 * the unsharded run did.  So the merged report equals the report of the
 * unsharded run on every field but the timing ones (started_at: the
 * earliest shard's, duration_ms: the longest shard's).  The judge is the
 * shards' (they must agree on it), with their calls and cache hits summed;
 * the history of a run is not a merged run's. */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const side_keys[] = {"eval", "prod"};

/* A case or skipped entry of one of the reports. */
struct merge_case {
	const cJSON *c;
	size_t report;
	double position;
};

struct merge {
	cJSON *const *reports;
	size_t n;
	char **names;              /* names[i] of reports[i] for messages */
	struct merge_case *cases;  /* every ran case, by position */
	size_t ncases;
	struct merge_case *skipped; /* every skipped entry, by position */
	size_t nskipped;
};

static int by_position(const void *a, const void *b)
{
	const struct merge_case *x = a, *y = b;

	if (x->position != y->position)
		return x->position < y->position ? -1 : 1;
	return x->report < y->report ? -1 : x->report > y->report;
}

static int by_id(const void *a, const void *b)
{
	const struct merge_case *x = a, *y = b;
	int c = strcmp(report_str(x->c, "id"), report_str(y->c, "id"));

	if (c)
		return c;
	return by_position(a, b);
}

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* check_mergeable: report i has what merging needs beyond report_check(). */
static int check_mergeable(const struct merge *m, size_t i, char **err)
{
	static const char *const needed[] = {"suite_strata", "suite_cases", "skipped"};
	const cJSON *report = m->reports[i];
	char *why = NULL;

	if (report_check(report, &why) < 0) {
		*err = xasprintf("cannot merge '%s': %s", m->names[i], why);
		free(why);
		return -1;
	}
	for (size_t k = 0; k < ARRAY_SIZE(needed); k++) {
		if (!get(report, needed[k])) {
			*err = xasprintf("cannot merge '%s': it has no '%s' (written by an older "
					 "canary?)", m->names[i], needed[k]);
			return -1;
		}
	}
	for (int list = 0; list < 2; list++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, get(report, list ? "skipped" : "cases")) {
			if (!get(c, "position")) {
				*err = xasprintf("cannot merge '%s': case '%s' has no 'position'",
						 m->names[i], report_str(c, "id"));
				return -1;
			}
		}
	}
	return 0;
}

/* check_same_suite: report i is of the same suite as report 0. */
static int check_same_suite(const struct merge *m, size_t i, char **err)
{
	const cJSON *a = m->reports[0], *b = m->reports[i];

	if (report_num(a, "canary_report") != report_num(b, "canary_report")) {
		*err = xasprintf("cannot merge: '%s' is canary_report version %g, '%s' is %g",
				 m->names[0], report_num(a, "canary_report"), m->names[i],
				 report_num(b, "canary_report"));
		return -1;
	}
	if (strcmp(report_str(a, "suite"), report_str(b, "suite")) != 0) {
		*err = xasprintf("cannot merge: '%s' is suite '%s', '%s' is suite '%s'",
				 m->names[0], report_str(a, "suite"), m->names[i],
				 report_str(b, "suite"));
		return -1;
	}
	if (!cJSON_Compare(get(a, "suite_strata"), get(b, "suite_strata"), true)) {
		*err = xasprintf("cannot merge: '%s' and '%s' list different strata of suite '%s' "
				 "(different versions of the suite?)", m->names[0], m->names[i],
				 report_str(a, "suite"));
		return -1;
	}
	if (report_num(a, "alpha") != report_num(b, "alpha") ||
	    report_num(a, "confirm") != report_num(b, "confirm") ||
	    report_num(a, "min_valid") != report_num(b, "min_valid") ||
	    cJSON_IsTrue(get(a, "strict")) != cJSON_IsTrue(get(b, "strict"))) {
		*err = xasprintf("cannot merge: '%s' and '%s' were run with different --alpha, "
				 "--confirm, --min-valid or --strict", m->names[0], m->names[i]);
		return -1;
	}
	if (report_int(a, "suite_cases") != report_int(b, "suite_cases")) {
		*err = xasprintf("cannot merge: suite '%s' has %d cases in '%s' and %d in '%s' "
				 "(different versions of the suite?)", report_str(a, "suite"),
				 report_int(a, "suite_cases"), m->names[0],
				 report_int(b, "suite_cases"), m->names[i]);
		return -1;
	}
	return 0;
}

/* value_text: a judge field for a message: the string (cut), or "null". */
static char *value_text(const cJSON *v)
{
	return cJSON_IsString(v) ? report_clean(v->valuestring, 200) : xstrdup("null");
}

/* check_same_judge: report i was graded by the judge of report 0: the same
 * model and API with the same prompt template, or neither has a judge. */
static int check_same_judge(const struct merge *m, size_t i, char **err)
{
	static const char *const keys[] = {"template_hash", "template", "model", "api"};
	const cJSON *a = get(m->reports[0], "judge"), *b = get(m->reports[i], "judge");

	if (!a != !b) {
		*err = xasprintf("cannot merge: '%s' has a judge and '%s' has none (different "
				 "versions of the suite?)", m->names[a ? 0 : i], m->names[a ? i : 0]);
		return -1;
	}
	for (size_t k = 0; a && k < ARRAY_SIZE(keys); k++) {
		const cJSON *x = get(a, keys[k]), *y = get(b, keys[k]);
		if (x == y || (x && y && cJSON_Compare(x, y, true)))
			continue;
		char *tx = value_text(x), *ty = value_text(y);
		*err = xasprintf("cannot merge: '%s' and '%s' differ in 'judge.%s' ('%s' and '%s')",
				 m->names[0], m->names[i], keys[k], tx, ty);
		free(tx);
		free(ty);
		return -1;
	}
	return 0;
}

/* check_complete: when every report says which shard it is, every shard
 * is there (they were checked to be distinct). */
static int check_complete(const struct merge *m, char **err)
{
	int count = 0;
	struct buf missing;

	for (size_t i = 0; i < m->n; i++) {
		const cJSON *shard = get(m->reports[i], "shard");
		if (!shard)
			return 0;
		count = report_int(shard, "count");
	}
	if ((size_t)count <= m->n)
		return 0;
	buf_init(&missing, BUF_MAX_DEFAULT);
	int listed = 0;
	for (int index = 0; index < count && listed < 10; index++) {
		bool found = false;
		for (size_t i = 0; i < m->n && !found; i++)
			found = report_int(get(m->reports[i], "shard"), "index") == index;
		if (!found)
			buf_addf(&missing, "%s%d", listed++ ? ", " : "", index);
	}
	*err = xasprintf("cannot merge: %zu of %d shards given; missing shard%s %s%s (pass "
			 "--partial to merge what there is)", m->n, count,
			 count - (int)m->n == 1 ? "" : "s", missing.data,
			 count - (int)m->n > listed ? ", ..." : "");
	buf_release(&missing);
	return -1;
}

/* check_shards: reports that say which shard they are agree on the count
 * and are different shards. */
static int check_shards(const struct merge *m, char **err)
{
	for (size_t i = 0; i < m->n; i++) {
		const cJSON *a = get(m->reports[i], "shard");
		if (!a)
			continue;
		if (report_int(a, "index") >= report_int(a, "count")) {
			*err = xasprintf("cannot merge '%s': shard index %d is not below the "
					 "count %d", m->names[i], report_int(a, "index"),
					 report_int(a, "count"));
			return -1;
		}
		for (size_t j = i + 1; j < m->n; j++) {
			const cJSON *b = get(m->reports[j], "shard");
			if (!b)
				continue;
			if (report_int(a, "count") != report_int(b, "count")) {
				*err = xasprintf("cannot merge: '%s' is one of %d shards, "
						 "'%s' one of %d", m->names[i],
						 report_int(a, "count"), m->names[j],
						 report_int(b, "count"));
				return -1;
			}
			if (report_int(a, "index") == report_int(b, "index")) {
				*err = xasprintf("cannot merge: '%s' and '%s' are both shard %d/%d",
						 m->names[i], m->names[j], report_int(a, "index"),
						 report_int(a, "count"));
				return -1;
			}
		}
	}
	return 0;
}

static void collect(struct merge *m, const char *key, struct merge_case **out, size_t *nout)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += (size_t)cJSON_GetArraySize(get(m->reports[i], key));
	*out = xcalloc(n, sizeof(**out));
	*nout = 0;
	for (size_t i = 0; i < m->n; i++) {
		const cJSON *c;
		cJSON_ArrayForEach(c, get(m->reports[i], key))
			(*out)[(*nout)++] = (struct merge_case){c, i, report_num(c, "position")};
	}
}

/* check_cases: no case ran in two reports, no position holds two cases, and
 * every case is of a stratum of the suite. */
static int check_cases(struct merge *m, char **err)
{
	const cJSON *strata = get(m->reports[0], "suite_strata");
	size_t nstrata = (size_t)cJSON_GetArraySize(strata), k = 0;
	const char **names = xcalloc(nstrata, sizeof(*names));
	const cJSON *s;
	int rc = -1;

	qsort(m->cases, m->ncases, sizeof(*m->cases), by_id);
	for (size_t i = 1; i < m->ncases; i++) {
		const struct merge_case *a = &m->cases[i - 1], *b = &m->cases[i];
		if (strcmp(report_str(a->c, "id"), report_str(b->c, "id")) == 0) {
			*err = a->report == b->report
			       ? xasprintf("cannot merge: case '%s' appears twice in '%s'",
					   report_str(a->c, "id"), m->names[a->report])
			       : xasprintf("cannot merge: case '%s' is in both '%s' and '%s'",
					   report_str(a->c, "id"), m->names[a->report],
					   m->names[b->report]);
			goto out;
		}
	}
	qsort(m->cases, m->ncases, sizeof(*m->cases), by_position);
	for (size_t i = 1; i < m->ncases; i++) {
		const struct merge_case *a = &m->cases[i - 1], *b = &m->cases[i];
		if (a->position == b->position) {
			*err = xasprintf("cannot merge: '%s' and '%s' disagree on the case at "
					 "position %g ('%s' and '%s')", m->names[a->report],
					 m->names[b->report], a->position, report_str(a->c, "id"),
					 report_str(b->c, "id"));
			goto out;
		}
	}
	cJSON_ArrayForEach(s, strata)
		names[k++] = s->valuestring;
	qsort(names, nstrata, sizeof(*names), util_str_cmp);
	for (size_t i = 0; i < m->ncases; i++) {
		const char *stratum = report_str(m->cases[i].c, "stratum");
		if (!bsearch(&stratum, names, nstrata, sizeof(*names), util_str_cmp)) {
			*err = xasprintf("cannot merge '%s': case '%s' is in stratum '%s', which "
					 "is not in its 'suite_strata'",
					 m->names[m->cases[i].report],
					 report_str(m->cases[i].c, "id"), stratum);
			goto out;
		}
	}
	rc = 0;
out:
	free(names);
	return rc;
}

/* A stratum entry of a report, and the order it was met in. */
struct stratum_entry {
	const cJSON *s;
	size_t order;
};

static int entry_by_name(const void *a, const void *b)
{
	const struct stratum_entry *x = a, *y = b;
	int c = strcmp(report_str(x->s, "name"), report_str(y->s, "name"));

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int entry_by_order(const void *a, const void *b)
{
	const struct stratum_entry *x = a, *y = b;

	return x->order < y->order ? -1 : x->order > y->order;
}

/* merged_strata: each stratum's entry from the first report that has it,
 * for what is not computed from cases (the description). */
static cJSON *merged_strata(const struct merge *m)
{
	cJSON *strata = cJSON_CreateArray();
	size_t n = 0, kept = 0;

	for (size_t i = 0; i < m->n; i++)
		n += (size_t)cJSON_GetArraySize(get(m->reports[i], "strata"));
	struct stratum_entry *entries = xcalloc(n, sizeof(*entries));
	for (size_t i = 0, k = 0; i < m->n; i++) {
		const cJSON *s;
		cJSON_ArrayForEach(s, get(m->reports[i], "strata")) {
			entries[k] = (struct stratum_entry){s, k};
			k++;
		}
	}
	qsort(entries, n, sizeof(*entries), entry_by_name);
	for (size_t i = 0; i < n; i++)
		if (kept == 0 || strcmp(report_str(entries[i].s, "name"),
					report_str(entries[kept - 1].s, "name")) != 0)
			entries[kept++] = entries[i];
	qsort(entries, kept, sizeof(*entries), entry_by_order);
	for (size_t i = 0; i < kept; i++)
		cJSON_AddItemToArray(strata, cJSON_Duplicate(entries[i].s, true));
	free(entries);
	return strata;
}

/* merged_targets: the first report's URLs, every report's fingerprints
 * counted together. */
static cJSON *merged_targets(const struct merge *m)
{
	cJSON *targets = cJSON_Duplicate(get(m->reports[0], "targets"), true);

	for (size_t side = 0; side < ARRAY_SIZE(side_keys); side++) {
		cJSON *fps = cJSON_CreateObject();
		for (size_t i = 0; i < m->n; i++) {
			const cJSON *fp;
			const cJSON *from = get(get(get(m->reports[i], "targets"), side_keys[side]),
						"fingerprints");
			cJSON_ArrayForEach(fp, from) {
				cJSON *have = cJSON_GetObjectItemCaseSensitive(fps, fp->string);
				double sum = fp->valuedouble + (have ? have->valuedouble : 0);
				if (have)
					cJSON_SetNumberValue(have, sum);
				else
					cJSON_AddNumberToObject(fps, fp->string, fp->valuedouble);
			}
		}
		cJSON *target = cJSON_GetObjectItemCaseSensitive(targets, side_keys[side]);
		cJSON_ReplaceItemInObjectCaseSensitive(target, "fingerprints", fps);
	}
	return targets;
}

/* merged_skipped: every skipped entry whose case ran in no report, once,
 * in suite order. */
static cJSON *merged_skipped(struct merge *m)
{
	const char **ran = xcalloc(m->ncases, sizeof(*ran));
	cJSON *skipped = cJSON_CreateArray();
	size_t kept = 0;

	for (size_t i = 0; i < m->ncases; i++)
		ran[i] = report_str(m->cases[i].c, "id");
	qsort(ran, m->ncases, sizeof(*ran), util_str_cmp);
	qsort(m->skipped, m->nskipped, sizeof(*m->skipped), by_id);
	for (size_t i = 0; i < m->nskipped; i++) {
		const char *id = report_str(m->skipped[i].c, "id");
		if (bsearch(&id, ran, m->ncases, sizeof(*ran), util_str_cmp))
			continue;
		if (kept > 0 && strcmp(report_str(m->skipped[kept - 1].c, "id"), id) == 0)
			continue;
		m->skipped[kept++] = m->skipped[i];
	}
	m->nskipped = kept;
	qsort(m->skipped, m->nskipped, sizeof(*m->skipped), by_position);
	for (size_t i = 0; i < m->nskipped; i++)
		cJSON_AddItemToArray(skipped, cJSON_Duplicate(m->skipped[i].c, true));
	free(ran);
	return skipped;
}

static void set_field(cJSON *o, const char *key, cJSON *v)
{
	if (get(o, key))
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
	else
		cJSON_AddItemToObject(o, key, v);
}

/* merge_judge: the reports' judge (they were checked to agree) with the
 * calls and cache hits of them all. */
static void merge_judge(const struct merge *m, cJSON *all)
{
	cJSON *judge = cJSON_GetObjectItemCaseSensitive(all, "judge");
	double calls = 0, hits = 0;

	if (!judge)
		return;
	for (size_t i = 0; i < m->n; i++) {
		calls += report_num(get(m->reports[i], "judge"), "calls");
		hits += report_num(get(m->reports[i], "judge"), "cache_hits");
	}
	set_field(judge, "calls", cJSON_CreateNumber(calls));
	set_field(judge, "cache_hits", cJSON_CreateNumber(hits));
}

/* merged: the cases of all reports in one tree, with what is summed,
 * united or chosen over the reports; report_recompute() does the rest. */
static cJSON *merged(struct merge *m, char **err)
{
	cJSON *all = cJSON_Duplicate(m->reports[0], true);
	cJSON *cases = cJSON_CreateArray();
	const char *started = report_str(m->reports[0], "started_at");
	double duration = 0, requests = 0, attempts = 0, retries = 0;
	bool interrupted = false;

	for (size_t i = 0; i < m->n; i++) {
		const cJSON *r = m->reports[i];
		if (strcmp(report_str(r, "started_at"), started) < 0)
			started = report_str(r, "started_at");
		if (report_num(r, "duration_ms") > duration)
			duration = report_num(r, "duration_ms");
		requests += report_num(r, "requests");
		attempts += report_num(r, "attempts");
		retries += report_num(r, "retries");
		interrupted |= cJSON_IsTrue(get(r, "interrupted"));
	}
	for (size_t i = 0; i < m->ncases; i++)
		cJSON_AddItemToArray(cases, cJSON_Duplicate(m->cases[i].c, true));

	cJSON_DeleteItemFromObjectCaseSensitive(all, "shard");
	set_field(all, "started_at", cJSON_CreateString(started));
	set_field(all, "duration_ms", cJSON_CreateNumber(duration));
	set_field(all, "interrupted", cJSON_CreateBool(interrupted));
	set_field(all, "requests", cJSON_CreateNumber(requests));
	set_field(all, "attempts", cJSON_CreateNumber(attempts));
	set_field(all, "retries", cJSON_CreateNumber(retries));
	set_field(all, "targets", merged_targets(m));
	set_field(all, "strata", merged_strata(m));
	set_field(all, "cases", cases);
	set_field(all, "skipped", merged_skipped(m));
	merge_judge(m, all);
	/* The history compares one run with the runs recorded before it. */
	if (m->n > 1)
		cJSON_DeleteItemFromObjectCaseSensitive(all, "history");

	char *why = NULL;
	cJSON *out = report_recompute(all, &why);
	if (!out) {
		*err = xasprintf("cannot merge: %s", why);
		free(why);
	}
	cJSON_Delete(all);
	return out;
}

cJSON *report_merge_named(cJSON *const *reports, const char *const *names, size_t n,
			  unsigned flags, char **err)
{
	struct merge m = {.reports = reports, .n = n};
	cJSON *out = NULL;

	if (n == 0) {
		*err = xstrdup("nothing to merge");
		return NULL;
	}
	m.names = xcalloc(n, sizeof(*m.names));
	for (size_t i = 0; i < n; i++)
		m.names[i] = names && names[i] ? xstrdup(names[i]) : xasprintf("report %zu", i + 1);
	for (size_t i = 0; i < n; i++)
		if (check_mergeable(&m, i, err) < 0 || check_same_suite(&m, i, err) < 0 ||
		    check_same_judge(&m, i, err) < 0)
			goto out;
	if (check_shards(&m, err) < 0)
		goto out;
	if (!(flags & REPORT_MERGE_PARTIAL) && check_complete(&m, err) < 0)
		goto out;
	collect(&m, "cases", &m.cases, &m.ncases);
	collect(&m, "skipped", &m.skipped, &m.nskipped);
	if (check_cases(&m, err) < 0)
		goto out;
	out = merged(&m, err);
out:
	for (size_t i = 0; i < n; i++)
		free(m.names[i]);
	free(m.names);
	free(m.cases);
	free(m.skipped);
	return out;
}

cJSON *report_merge(cJSON *const *reports, size_t n, char **err)
{
	return report_merge_named(reports, NULL, n, 0, err);
}
