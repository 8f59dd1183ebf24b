/* report/report.c: the report model: building it, what follows from it. */
#include "report/report.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fingerprint/fingerprint.h"
#include "stats.h"
#include "util.h"

struct report *report_new(void)
{
	struct report *r = xcalloc(1, sizeof(*r));

	r->suite_cases = -1;
	return r;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	for (int side = 0; side < SIDE__COUNT; side++)
		free(r->targets[side].fingerprints);
	free(r->strata);
	free(r->cases);
	strmap_release(&r->interned);
	strmap_release(&r->strata_by_name);
	arena_release(&r->arena);
	free(r);
}

const char *report_intern(struct report *r, const char *s)
{
	return s ? strmap_get(&r->interned, &r->arena, s, NULL)->key : NULL;
}

const char *report_strdup(struct report *r, const char *s)
{
	return s ? arena_strdup(&r->arena, s) : NULL;
}

/* grow: v (n elements of size, in r's arena) with room for one more: its
 * capacity is 4, then n doubled whenever n reaches a power of two. */
static void *grow(struct report *r, void *v, size_t n, size_t size)
{
	if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
		return v;
	void *bigger = arena_alloc(&r->arena, (n ? 2 * n : 4) * size);
	if (n)
		memcpy(bigger, v, n * size);
	return bigger;
}

void report_names_add(struct report *r, struct report_names *l, const char *s)
{
	l->v = grow(r, l->v, l->n, sizeof(*l->v));
	l->v[l->n++] = report_intern(r, s);
}

size_t report_stratum_index(struct report *r, const char *name)
{
	bool added = false;
	const char *key = report_intern(r, name);
	struct strmap_entry *e = strmap_get(&r->strata_by_name, NULL, key, &added);

	if (!added)
		return e->value;
	e->value = r->nstrata;
	r->strata = xreallocarray(r->strata, r->nstrata + 1, sizeof(*r->strata));
	r->strata[r->nstrata] = (struct report_stratum){.name = key, .verdict = VERDICT_PASS,
							 .p_cmh = 1, .p_value = 1,
							 .p_least = 1, .p_adjusted = 1};
	return r->nstrata++;
}

struct report_case *report_add_case(struct report *r, const char *id, size_t stratum)
{
	if (r->ncases == r->cases_cap) {
		r->cases_cap = r->cases_cap ? 2 * r->cases_cap : 16;
		r->cases = xreallocarray(r->cases, r->cases_cap, sizeof(*r->cases));
	}
	struct report_case *c = &r->cases[r->ncases++];
	*c = (struct report_case){
		.id = report_strdup(r, id),
		.stratum = stratum,
		.position = -1,
		.verdict = VERDICT_PASS,
		.threshold = 1,
		.repeat = 1,
		.p_value = 1,
		.p_least = 1,
		.p_below = 1,
	};
	return c;
}

struct report_sample *report_side_samples(struct report *r, struct report_side *s, size_t n)
{
	s->samples = n ? arena_alloc(&r->arena, n * sizeof(*s->samples)) : NULL;
	s->nsamples = n;
	for (size_t i = 0; i < n; i++)
		s->samples[i].usage = (struct report_usage){-1, -1, -1, -1, -1};
	return s->samples;
}

const char **report_sample_reasons(struct report *r, struct report_sample *s, size_t n)
{
	s->reasons = arena_alloc(&r->arena, (n + 1) * sizeof(*s->reasons));
	s->nreasons = 0;
	return s->reasons;
}

const struct report_usage_field report_usage_fields[] = {
	{"input", offsetof(struct report_usage, input)},
	{"output", offsetof(struct report_usage, output)},
	{"total", offsetof(struct report_usage, total)},
	{"cached", offsetof(struct report_usage, cached)},
	{"reasoning", offsetof(struct report_usage, reasoning)},
	{NULL, 0},
};

struct report_grade *report_sample_grades(struct report *r, struct report_sample *s, size_t n)
{
	s->grades = n ? arena_alloc(&r->arena, n * sizeof(*s->grades)) : NULL;
	s->ngrades = (unsigned)n;
	return s->grades;
}

void report_add_fingerprint(struct report *r, enum side side, const char *value, long count)
{
	struct report_target *t = &r->targets[side];

	for (size_t i = 0; i < t->nfingerprints; i++) {
		if (strcmp(t->fingerprints[i].value, value) == 0) {
			t->fingerprints[i].count += count;
			return;
		}
	}
	if (t->nfingerprints == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 4;
		t->fingerprints = xreallocarray(t->fingerprints, t->cap, sizeof(*t->fingerprints));
	}
	t->fingerprints[t->nfingerprints++] =
		(struct report_fingerprint){report_intern(r, value), count};
}

/* A case and its place before sorting. */
struct case_order {
	struct report_case c;
	size_t order;
};

static int case_order_cmp(const void *a, const void *b)
{
	const struct case_order *x = a, *y = b;
	/* Unknown positions (-1) go last: as unsigned they are the largest. */
	unsigned long px = (unsigned long)x->c.position, py = (unsigned long)y->c.position;

	if (x->c.stratum != y->c.stratum)
		return x->c.stratum < y->c.stratum ? -1 : 1;
	if (px != py)
		return px < py ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

void report_sort_cases(struct report *r)
{
	struct case_order *v = xcalloc(r->ncases ? r->ncases : 1, sizeof(*v));

	for (size_t i = 0; i < r->ncases; i++)
		v[i] = (struct case_order){r->cases[i], i};
	qsort(v, r->ncases, sizeof(*v), case_order_cmp);
	for (size_t i = 0; i < r->ncases; i++)
		r->cases[i] = v[i].c;
	free(v);
}

/* read_side: every fingerprint of a side, read; free with free_side(). */
static struct fingerprint_read *read_side(const struct report *r, enum side side)
{
	const struct report_target *t = &r->targets[side];
	struct fingerprint_read *f = xcalloc(t->nfingerprints + 1, sizeof(*f));

	for (size_t i = 0; i < t->nfingerprints; i++)
		fingerprint_read(&f[i], t->fingerprints[i].value);
	return f;
}

static void free_side(struct fingerprint_read *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fingerprint_read_release(&f[i]);
	free(f);
}

static bool names_have(const struct report_names *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

/* names_sort: l in strcmp() order. */
static void names_sort(struct report_names *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), util_str_cmp);
}

void report_analyse_fingerprints(struct report *r)
{
	size_t ne = r->targets[SIDE_EVAL].nfingerprints, np = r->targets[SIDE_PROD].nfingerprints;
	struct fingerprint_read *ev = read_side(r, SIDE_EVAL), *pr = read_side(r, SIDE_PROD);
	const struct report_fingerprint *counts = r->targets[SIDE_EVAL].fingerprints;
	const struct fingerprint_read *base = NULL; /* eval's most frequent */
	bool *listed = xcalloc(np + 1, sizeof(*listed));

	r->unevaluated = r->differing = (struct report_names){0};
	for (size_t k = 0; k < ne; k++)
		if (!base || counts[k].count > counts[base - ev].count)
			base = &ev[k];
	for (size_t i = 0; i < np && ne; i++) {
		bool seen = false;
		/* Spelt differently (hash prefixes, case), it is still the
		 * composition eval served, or one already listed. */
		for (size_t k = 0; k < ne && !seen; k++)
			seen = fingerprint_read_same(&pr[i], &ev[k]);
		for (size_t k = 0; k < i && !seen; k++)
			seen = listed[k] && fingerprint_read_same(&pr[i], &pr[k]);
		if (seen)
			continue;
		listed[i] = true;
		if (!names_have(&r->unevaluated, pr[i].value))
			report_names_add(r, &r->unevaluated, pr[i].value);
		const char **names = NULL;
		size_t nd = base->ncomponents && pr[i].ncomponents
				    ? fingerprint_diff(base->components, base->ncomponents,
						       pr[i].components, pr[i].ncomponents, &names)
				    : 0;
		for (size_t k = 0; k < nd; k++)
			if (!names_have(&r->differing, names[k]))
				report_names_add(r, &r->differing, names[k]);
		free(names);
	}
	free(listed);
	free_side(ev, ne);
	free_side(pr, np);
	names_sort(&r->unevaluated);
	names_sort(&r->differing);
}

int report_side_total(const struct report_side *s)
{
	return s->passed + s->failed + s->errors;
}

double report_side_rate(const struct report_side *s)
{
	int valid = s->passed + s->failed;

	return valid > 0 ? (double)s->passed / valid : 0.0;
}

bool report_side_measured(const struct report_side *s)
{
	return s->passed + s->failed > 0;
}

bool report_side_ok(const struct report_case *c, enum side side)
{
	const struct report_side *s = &c->side[side];

	return report_side_measured(s) &&
	       report_side_rate(s) >= c->threshold - STATS_THRESHOLD_EPSILON;
}

bool report_case_repeated(const struct report_case *c)
{
	return (long)c->repeat + c->confirm > 1;
}

double report_round(double v, int decimals)
{
	double scale = pow(10, decimals);

	if (!isfinite(v))
		return 0;
	return round(v * scale) / scale;
}

double report_sample_latency(const struct report_sample *s)
{
	return report_round(s->latency_ms, 1);
}

size_t report_side_failures(const struct report_side *s, char *out[REPORT_FAILURES_MAX])
{
	size_t n = 0;

	for (size_t k = 0; k < s->nsamples && n < REPORT_FAILURES_MAX; k++) {
		const struct report_sample *smp = &s->samples[k];
		for (unsigned j = 0; smp->grade != GRADE_PASS && j < smp->nreasons &&
				     n < REPORT_FAILURES_MAX; j++) {
			char *clean = report_clean(smp->reasons[j], SIZE_MAX);
			bool seen = false;
			for (size_t i = 0; i < n && !seen; i++)
				seen = strcmp(out[i], clean) == 0;
			if (seen)
				free(clean);
			else
				out[n++] = clean;
		}
	}
	return n;
}

char *report_side_summary(const struct report_case *c, enum side side)
{
	const struct report_side *s = &c->side[side];
	bool measured = report_side_measured(s), ok = report_side_ok(c, side);
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addf(&b, "%s, %d/%d samples passed", ok ? "ok" : measured ? "failed" : "not measured",
		 s->passed, report_side_total(s));
	if (s->errors > 0)
		buf_addf(&b, ", %d %s", s->errors, s->errors == 1 ? "error" : "errors");
	if (measured && !ok)
		buf_addf(&b, " (rate %.2f, threshold %g)", report_round(report_side_rate(s), 4),
			 c->threshold);
	return buf_detach(&b, NULL);
}

char *report_clean(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < n;) {
		if (b.len >= max) {
			buf_addstr(&b, "...");
			break;
		}
		size_t len = util_utf8_len(p + i, n - i);
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

/*
 * Formats and files.
 */

const struct report_format report_formats[] = {
	{"json", report_json},
	{"text", report_text},
	{"junit", report_junit},
	{"markdown", report_markdown},
	{"prom", report_prom},
	{"tap", report_tap},
	{NULL, NULL},
};

const struct report_format *report_format_find(const char *name, size_t len)
{
	for (const struct report_format *f = report_formats; f->name; f++)
		if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
			return f;
	return NULL;
}

int report_flush(FILE *f, char **err)
{
	if (fflush(f) != 0 || ferror(f)) {
		*err = xasprintf("cannot write report: %s",
				 errno ? strerror(errno) : "write error");
		return -1;
	}
	return 0;
}

int report_write_atomic(const char *path, report_render_fn *render, const struct report *r,
			char **err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int rc = -1;

	if (!f) {
		*err = xasprintf("cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	if (render(f, r, err) < 0)
		goto out;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		*err = xasprintf("cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	int closed = fclose(f);
	f = NULL;
	if (closed != 0 || rename(tmp, path) != 0) {
		*err = xasprintf("cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (f)
		fclose(f);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}
