/* report/merge.c: one report from the reports of shards of one suite.
 *
 * Only the facts of cases are taken from the shards (their samples and
 * counts); everything derived from them (case, stratum and run verdicts,
 * the significance tests, counts, the exit code) is computed again by
 * verdict_compute() over all the cases, as the unsharded run did.  So the
 * merged report equals the report of the unsharded run on every field but
 * the timing ones (started_at: the earliest shard's, duration_ms: the
 * longest shard's).  The judge is the shards' (they must agree on it), with
 * their calls and cache hits summed; the history of a run is not a merged
 * run's. */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "version.h"

/* A case or skipped entry of one of the reports. */
struct merge_case {
	const struct report_case *c;
	size_t report;
};

struct merge {
	struct report *const *reports;
	size_t n;
	char **names;              /* names[i] of reports[i] for messages */
	struct merge_case *cases;  /* every case that ran */
	size_t ncases;
	struct merge_case *skipped; /* every skipped entry */
	size_t nskipped;
};

static const char *id_of(const struct merge_case *m)
{
	return m->c->id;
}

static int by_position(const void *a, const void *b)
{
	const struct merge_case *x = a, *y = b;

	if (x->c->position != y->c->position)
		return x->c->position < y->c->position ? -1 : 1;
	return x->report < y->report ? -1 : x->report > y->report;
}

static int by_id(const void *a, const void *b)
{
	int c = strcmp(id_of(a), id_of(b));

	return c ? c : by_position(a, b);
}

/* check_mergeable: report i has what merging needs: its suite's layout. */
static int check_mergeable(const struct merge *m, size_t i, char **err)
{
	const struct report *r = m->reports[i];
	const char *missing = !r->has_suite_strata ? "suite_strata"
			      : r->suite_cases < 0 ? "suite_cases"
			      : !r->has_skipped ? "skipped" : NULL;

	if (missing) {
		*err = xasprintf("cannot merge '%s': it has no '%s' (written by an older "
				 "canary?)", m->names[i], missing);
		return -1;
	}
	for (size_t k = 0; k < r->ncases; k++) {
		if (r->cases[k].position < 0) {
			*err = xasprintf("cannot merge '%s': case '%s' has no 'position'",
					 m->names[i], r->cases[k].id);
			return -1;
		}
	}
	return 0;
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_names(const struct report_names *a, const struct report_names *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

/* check_same_suite: report i is of the same suite as report 0, run with the
 * same settings. */
static int check_same_suite(const struct merge *m, size_t i, char **err)
{
	const struct report *a = m->reports[0], *b = m->reports[i];

	if (strcmp(a->suite, b->suite) != 0) {
		*err = xasprintf("cannot merge: '%s' is suite '%s', '%s' is suite '%s'",
				 m->names[0], a->suite, m->names[i], b->suite);
		return -1;
	}
	if (!same_names(&a->suite_strata, &b->suite_strata)) {
		*err = xasprintf("cannot merge: '%s' and '%s' list different strata of suite '%s' "
				 "(different versions of the suite?)", m->names[0], m->names[i],
				 a->suite);
		return -1;
	}
	if (a->alpha != b->alpha || a->confirm != b->confirm || a->min_valid != b->min_valid ||
	    a->strict != b->strict || a->fail_on_unevaluated != b->fail_on_unevaluated ||
	    !same_string(a->targets[SIDE_EVAL].expected, b->targets[SIDE_EVAL].expected) ||
	    !same_string(a->targets[SIDE_PROD].expected, b->targets[SIDE_PROD].expected)) {
		*err = xasprintf("cannot merge: '%s' and '%s' were run with different --alpha, "
				 "--confirm, --min-valid, --strict, --fail-on-unevaluated or "
				 "--expect-fingerprint", m->names[0], m->names[i]);
		return -1;
	}
	if (a->suite_cases != b->suite_cases) {
		*err = xasprintf("cannot merge: suite '%s' has %ld cases in '%s' and %ld in '%s' "
				 "(different versions of the suite?)", a->suite, a->suite_cases,
				 m->names[0], b->suite_cases, m->names[i]);
		return -1;
	}
	return 0;
}

/* value_text: a judge field for a message: the string (cut), or "null". */
static char *value_text(const char *v)
{
	return v ? report_clean(v, 200) : xstrdup("null");
}

/* check_same_judge: report i was graded by the judge of report 0: the same
 * model and API with the same prompt template, or neither has a judge. */
static int check_same_judge(const struct merge *m, size_t i, char **err)
{
	const struct report_judge *a = &m->reports[0]->judge, *b = &m->reports[i]->judge;
	const struct {
		const char *key;
		const char *x, *y;
	} fields[] = {
		{"template_hash", a->template_hash, b->template_hash},
		{"template", a->template, b->template},
		{"model", a->model, b->model},
		{"api", a->api, b->api},
	};

	if (a->present != b->present) {
		*err = xasprintf("cannot merge: '%s' has a judge and '%s' has none (different "
				 "versions of the suite?)", m->names[a->present ? 0 : i],
				 m->names[a->present ? i : 0]);
		return -1;
	}
	for (size_t k = 0; a->present && k < ARRAY_SIZE(fields); k++) {
		const char *x = fields[k].x, *y = fields[k].y;
		if (x == y || (x && y && strcmp(x, y) == 0))
			continue;
		char *tx = value_text(x), *ty = value_text(y);
		*err = xasprintf("cannot merge: '%s' and '%s' differ in 'judge.%s' ('%s' and '%s')",
				 m->names[0], m->names[i], fields[k].key, tx, ty);
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
		if (m->reports[i]->shard_count == 0)
			return 0;
		count = m->reports[i]->shard_count;
	}
	if ((size_t)count <= m->n)
		return 0;
	buf_init(&missing, BUF_MAX_DEFAULT);
	int listed = 0;
	for (int index = 0; index < count && listed < 10; index++) {
		bool found = false;
		for (size_t i = 0; i < m->n && !found; i++)
			found = m->reports[i]->shard_index == index;
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
		const struct report *a = m->reports[i];
		if (a->shard_count == 0)
			continue;
		if (a->shard_index >= a->shard_count) {
			*err = xasprintf("cannot merge '%s': shard index %d is not below the "
					 "count %d", m->names[i], a->shard_index, a->shard_count);
			return -1;
		}
		for (size_t j = i + 1; j < m->n; j++) {
			const struct report *b = m->reports[j];
			if (b->shard_count == 0)
				continue;
			if (a->shard_count != b->shard_count) {
				*err = xasprintf("cannot merge: '%s' is one of %d shards, "
						 "'%s' one of %d", m->names[i], a->shard_count,
						 m->names[j], b->shard_count);
				return -1;
			}
			if (a->shard_index == b->shard_index) {
				*err = xasprintf("cannot merge: '%s' and '%s' are both shard %d/%d",
						 m->names[i], m->names[j], a->shard_index,
						 a->shard_count);
				return -1;
			}
		}
	}
	return 0;
}

static void collect(struct merge *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n; i++)
		n += m->reports[i]->ncases;
	m->cases = xcalloc(n + 1, sizeof(*m->cases));
	m->skipped = xcalloc(n + 1, sizeof(*m->skipped));
	for (size_t i = 0; i < m->n; i++) {
		const struct report *r = m->reports[i];
		for (size_t k = 0; k < r->ncases; k++) {
			struct merge_case mc = {&r->cases[k], i};
			if (r->cases[k].skipped)
				m->skipped[m->nskipped++] = mc;
			else
				m->cases[m->ncases++] = mc;
		}
	}
}

/* check_cases: no case ran in two reports or twice in one, and no position
 * holds two cases. */
static int check_cases(struct merge *m, char **err)
{
	qsort(m->cases, m->ncases, sizeof(*m->cases), by_id);
	for (size_t i = 1; i < m->ncases; i++) {
		const struct merge_case *a = &m->cases[i - 1], *b = &m->cases[i];
		if (strcmp(id_of(a), id_of(b)) != 0)
			continue;
		*err = a->report == b->report
		       ? xasprintf("cannot merge: case '%s' appears twice in '%s'", id_of(a),
				   m->names[a->report])
		       : xasprintf("cannot merge: case '%s' is in both '%s' and '%s'", id_of(a),
				   m->names[a->report], m->names[b->report]);
		return -1;
	}
	qsort(m->cases, m->ncases, sizeof(*m->cases), by_position);
	for (size_t i = 1; i < m->ncases; i++) {
		const struct merge_case *a = &m->cases[i - 1], *b = &m->cases[i];
		if (a->c->position == b->c->position) {
			*err = xasprintf("cannot merge: '%s' and '%s' disagree on the case at "
					 "position %ld ('%s' and '%s')", m->names[a->report],
					 m->names[b->report], a->c->position, id_of(a), id_of(b));
			return -1;
		}
	}
	return 0;
}

/* keep_skipped: the skipped entries whose case ran in no report, once,
 * by position. */
static void keep_skipped(struct merge *m)
{
	const char **ran = xcalloc(m->ncases + 1, sizeof(*ran));
	size_t kept = 0;

	for (size_t i = 0; i < m->ncases; i++)
		ran[i] = id_of(&m->cases[i]);
	qsort(ran, m->ncases, sizeof(*ran), util_str_cmp);
	qsort(m->skipped, m->nskipped, sizeof(*m->skipped), by_id);
	for (size_t i = 0; i < m->nskipped; i++) {
		const char *id = id_of(&m->skipped[i]);
		if (bsearch(&id, ran, m->ncases, sizeof(*ran), util_str_cmp))
			continue;
		if (kept > 0 && strcmp(id_of(&m->skipped[kept - 1]), id) == 0)
			continue;
		m->skipped[kept++] = m->skipped[i];
	}
	m->nskipped = kept;
	qsort(m->skipped, m->nskipped, sizeof(*m->skipped), by_position);
	free(ran);
}

/* check_places: every case and kept skipped entry is at a position of the
 * suite that nothing else holds, in a stratum of the suite. */
static int check_places(const struct merge *m, const struct report *out, char **err)
{
	struct merge_case *all = xcalloc(m->ncases + m->nskipped + 1, sizeof(*all));
	size_t n = 0;
	int rc = -1;

	memcpy(all, m->cases, m->ncases * sizeof(*all));
	memcpy(all + m->ncases, m->skipped, m->nskipped * sizeof(*all));
	n = m->ncases + m->nskipped;
	qsort(all, n, sizeof(*all), by_position);
	for (size_t i = 0; i < n; i++) {
		const struct report_case *c = all[i].c;
		const char *stratum = m->reports[all[i].report]->strata[c->stratum].name;
		if (c->position >= out->suite_cases) {
			*err = xasprintf("cannot merge: case '%s' is at position %ld, past the "
					 "suite's %ld cases", c->id, c->position, out->suite_cases);
			goto out;
		}
		if (i > 0 && all[i - 1].c->position == c->position) {
			*err = xasprintf("cannot merge: cases '%s' and '%s' are both at position "
					 "%ld", all[i - 1].c->id, c->id, c->position);
			goto out;
		}
		if (!strmap_find(&out->strata_by_name, stratum)) {
			*err = xasprintf("cannot merge '%s': case '%s' is in stratum '%s', which "
					 "is not in its 'suite_strata'", m->names[all[i].report],
					 c->id, stratum);
			goto out;
		}
	}
	rc = 0;
out:
	free(all);
	return rc;
}

/* copy_sample: sample from (of another report) into to, its strings in out. */
static void copy_sample(struct report *out, struct report_sample *to,
			const struct report_sample *from)
{
	*to = *from;
	to->fingerprint = report_intern(out, from->fingerprint);
	to->response_id = report_strdup(out, from->response_id);
	to->reply_file = report_strdup(out, from->reply_file);
	to->response_model = report_intern(out, from->response_model);
	report_sample_reasons(out, to, from->nreasons);
	for (unsigned j = 0; j < from->nreasons; j++)
		to->reasons[to->nreasons++] = report_intern(out, from->reasons[j]);
	report_sample_grades(out, to, from->ngrades);
	for (unsigned j = 0; j < from->ngrades; j++) {
		to->grades[j] = from->grades[j];
		to->grades[j].grader = report_intern(out, from->grades[j].grader);
		to->grades[j].reason = report_intern(out, from->grades[j].reason);
	}
	report_sample_copy_turns(out, to, from);
}

/* copy_case: case c of report from into out. */
static void copy_case(struct report *out, const struct report *from, const struct report_case *c)
{
	size_t stratum = strmap_find(&out->strata_by_name, from->strata[c->stratum].name)->value;
	struct report_case *to = report_add_case(out, c->id, stratum);
	const char *id = to->id;

	*to = *c;
	to->id = id;
	to->stratum = stratum;
	to->note = NULL;
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_side *s = &c->side[side];
		struct report_sample *samples = report_side_samples(out, &to->side[side], s->nsamples);
		for (size_t k = 0; k < s->nsamples; k++)
			copy_sample(out, &samples[k], &s->samples[k]);
	}
}

/* merged_run: what is not computed from the cases: the first report's
 * suite, settings, URLs and stratum descriptions; the earliest start, the
 * longest duration, counts and fingerprints summed, interrupted when any
 * report was. */
static void merged_run(struct report *out, const struct merge *m)
{
	const struct report *first = m->reports[0];

	out->canary_version = report_strdup(out, first->canary_version ? first->canary_version
								       : CANARY_VERSION);
	out->suite = report_strdup(out, first->suite);
	out->suite_cases = first->suite_cases;
	out->has_suite_strata = out->has_skipped = true;
	for (size_t i = 0; i < first->suite_strata.n; i++) {
		report_names_add(out, &out->suite_strata, first->suite_strata.v[i]);
		report_stratum_index(out, first->suite_strata.v[i]);
	}
	out->alpha = first->alpha;
	out->min_valid = first->min_valid;
	out->confirm = first->confirm;
	out->strict = first->strict;
	out->fail_on_unevaluated = first->fail_on_unevaluated;
	const struct report *earliest = first;
	for (size_t i = 0; i < m->n; i++) {
		const struct report *r = m->reports[i];
		if (strcmp(r->started_at, earliest->started_at) < 0)
			earliest = r;
		if (r->duration_ms > out->duration_ms)
			out->duration_ms = r->duration_ms;
		out->interrupted |= r->interrupted;
		out->requests += r->requests;
		out->attempts += r->attempts;
		out->retries += r->retries;
		for (int side = 0; side < SIDE__COUNT; side++)
			for (size_t k = 0; k < r->targets[side].nfingerprints; k++)
				report_add_fingerprint(out, (enum side)side,
						       r->targets[side].fingerprints[k].value,
						       r->targets[side].fingerprints[k].count);
		for (size_t k = 0; k < r->nstrata; k++) {
			const struct strmap_entry *e = strmap_find(&out->strata_by_name,
								   r->strata[k].name);
			struct report_stratum *s = e ? &out->strata[e->value] : NULL;
			if (s && !s->description && r->strata[k].selected)
				s->description = report_strdup(out, r->strata[k].description);
		}
	}
	out->started_at = report_strdup(out, earliest->started_at);
	out->started_ms = earliest->started_ms;
	for (int side = 0; side < SIDE__COUNT; side++) {
		out->targets[side].url = report_strdup(out, first->targets[side].url);
		out->targets[side].api = report_strdup(out, first->targets[side].api);
		out->targets[side].model = report_strdup(out, first->targets[side].model);
		out->targets[side].priced = first->targets[side].priced;
		out->targets[side].price_input = first->targets[side].price_input;
		out->targets[side].price_output = first->targets[side].price_output;
		out->targets[side].expected = report_strdup(out, first->targets[side].expected);
	}
}

/* merged_judge: the reports' judge (they were checked to agree) with the
 * calls and cache hits of them all. */
static void merged_judge(struct report *out, const struct merge *m)
{
	const struct report_judge *j = &m->reports[0]->judge;

	if (!j->present)
		return;
	out->judge = (struct report_judge){
		.present = true,
		.model = report_strdup(out, j->model),
		.api = report_strdup(out, j->api),
		.template = report_strdup(out, j->template),
		.template_hash = report_strdup(out, j->template_hash),
	};
	for (size_t i = 0; i < m->n; i++) {
		out->judge.calls += m->reports[i]->judge.calls;
		out->judge.cache_hits += m->reports[i]->judge.cache_hits;
	}
}

/* merged_budget: the budget of the shards that had one (the first one's
 * limit), their spending and unsent samples summed. */
static void merged_budget(struct report *out, const struct merge *m)
{
	struct report_budget *b = &out->budget;
	for (size_t i = 0; i < m->n; i++) {
		const struct report_budget *from = &m->reports[i]->budget;
		if (!from->present)
			continue;
		if (!b->present) {
			b->present = true;
			b->tokens = from->tokens;
			b->usd = from->usd;
		}
		b->spent_tokens += from->spent_tokens;
		b->spent_usd += from->spent_usd;
		b->reached |= from->reached;
		b->not_run += from->not_run;
	}
}

/* merged_history: the history of a single report; a merge of several runs
 * has none (it compares one run with the runs recorded before it). */
static void merged_history(struct report *out, const struct merge *m)
{
	const struct report_history *h = &m->reports[0]->history;

	if (m->n != 1 || !h->present)
		return;
	out->history.present = true;
	out->history.previous_run = h->previous_run;
	for (size_t i = 0; i < h->unevaluated.n; i++)
		report_names_add(out, &out->history.unevaluated, h->unevaluated.v[i]);
	for (size_t i = 0; i < h->new_since_last.n; i++)
		report_names_add(out, &out->history.new_since_last, h->new_since_last.v[i]);
}

/* check_suite_strata: report 0 names each stratum of its suite once. */
static int check_suite_strata(const struct merge *m, char **err)
{
	const struct report_names *l = &m->reports[0]->suite_strata;

	for (size_t i = 0; i < l->n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(l->v[i], l->v[j]) == 0) {
				*err = xasprintf("cannot merge: 'suite_strata' names stratum '%s' "
						 "twice", l->v[i]);
				return -1;
			}
		}
	}
	return 0;
}

static struct report *merged(struct merge *m, char **err)
{
	struct report *out = report_new();

	merged_run(out, m);
	merged_judge(out, m);
	merged_budget(out, m);
	merged_history(out, m);
	if (check_places(m, out, err) < 0) {
		report_free(out);
		return NULL;
	}
	for (size_t i = 0; i < m->ncases; i++)
		copy_case(out, m->reports[m->cases[i].report], m->cases[i].c);
	for (size_t i = 0; i < m->nskipped; i++)
		copy_case(out, m->reports[m->skipped[i].report], m->skipped[i].c);
	out->filtered = (long)m->nskipped;
	report_sort_cases(out);
	report_analyse_fingerprints(out);
	verdict_compute(out);
	return out;
}

struct report *report_merge(struct report *const *reports, const char *const *names, size_t n,
			    unsigned flags, char **err)
{
	struct merge m = {.reports = reports, .n = n};
	struct report *out = NULL;

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
	if (check_suite_strata(&m, err) < 0 || check_shards(&m, err) < 0)
		goto out;
	if (!(flags & REPORT_MERGE_PARTIAL) && check_complete(&m, err) < 0)
		goto out;
	collect(&m);
	if (check_cases(&m, err) < 0)
		goto out;
	keep_skipped(&m);
	out = merged(&m, err);
out:
	for (size_t i = 0; i < n; i++)
		free(m.names[i]);
	free(m.names);
	free(m.cases);
	free(m.skipped);
	return out;
}
