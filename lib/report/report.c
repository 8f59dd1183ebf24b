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

struct report_turn *report_sample_turns(struct report *r, struct report_sample *s, size_t n)
{
	s->turns = arena_alloc(&r->arena, (n + 1) * sizeof(*s->turns));
	memset(s->turns, 0, (n + 1) * sizeof(*s->turns));
	s->nturns = (unsigned)n;
	return s->turns;
}

struct report_step *report_turn_steps(struct report *r, struct report_turn *t, size_t n)
{
	t->steps = arena_alloc(&r->arena, (n + 1) * sizeof(*t->steps));
	memset(t->steps, 0, (n + 1) * sizeof(*t->steps));
	t->nsteps = (unsigned)n;
	return t->steps;
}

void report_sample_copy_turns(struct report *r, struct report_sample *to,
			      const struct report_sample *from)
{
	to->turns = NULL;
	to->nturns = 0;
	if (!from->nturns)
		return;
	report_sample_turns(r, to, from->nturns);
	for (unsigned t = 0; t < from->nturns; t++) {
		const struct report_turn *ft = &from->turns[t];
		struct report_turn *tt = &to->turns[t];
		tt->grade = ft->grade;
		tt->reasons = report_strings(r, ft->nreasons);
		for (unsigned k = 0; k < ft->nreasons; k++)
			tt->reasons[tt->nreasons++] = report_intern(r, ft->reasons[k]);
		report_turn_steps(r, tt, ft->nsteps);
		for (unsigned k = 0; k < ft->nsteps; k++) {
			struct report_step *ts = &tt->steps[k];
			ts->status = ft->steps[k].status;
			ts->latency_ms = ft->steps[k].latency_ms;
			ts->calls = report_strings(r, ft->steps[k].ncalls);
			for (unsigned c = 0; c < ft->steps[k].ncalls; c++)
				ts->calls[ts->ncalls++] = report_intern(r, ft->steps[k].calls[c]);
		}
	}
}

const char **report_strings(struct report *r, size_t n)
{
	return arena_alloc(&r->arena, (n + 1) * sizeof(const char *));
}

unsigned report_sample_steps(const struct report_sample *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->nturns; i++)
		n += s->turns[i].nsteps;
	return s->nturns ? n : 1;
}

/* first_sample: the first sample of side s of grade g with turns, or NULL. */
static const struct report_sample *first_sample(const struct report_side *s, enum grade g)
{
	for (size_t i = 0; i < s->nsamples; i++)
		if (s->samples[i].grade == g && s->samples[i].nturns)
			return &s->samples[i];
	return NULL;
}

/* step_calls: the calls of a step as "a, b", or "no tool" when none. */
static char *step_calls(const struct report_step *st)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (unsigned i = 0; st && i < st->ncalls; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", st->calls[i]);
	if (!b.len)
		buf_addstr(&b, st ? "no tool" : "nothing (no such step)");
	return buf_detach(&b, NULL);
}

/* same_step: whether two steps called the same tools. */
static bool same_step(const struct report_step *a, const struct report_step *b)
{
	if (!a || !b || a->ncalls != b->ncalls)
		return a == b;
	for (unsigned i = 0; i < a->ncalls; i++)
		if (strcmp(a->calls[i], b->calls[i]) != 0)
			return false;
	return true;
}

char *report_case_divergence(const struct report_case *c)
{
	const struct report_side *e = &c->side[SIDE_EVAL], *p = &c->side[SIDE_PROD];
	const struct report_sample *a = first_sample(e, GRADE_PASS), *b = first_sample(p, GRADE_FAIL);
	if (!a || !b) {
		a = first_sample(e, GRADE_FAIL);
		b = first_sample(p, GRADE_PASS);
	}
	if (!a || !b)
		return NULL;
	unsigned turns = a->nturns > b->nturns ? a->nturns : b->nturns;
	for (unsigned t = 0; t < turns; t++) {
		const struct report_turn *x = t < a->nturns ? &a->turns[t] : NULL;
		const struct report_turn *y = t < b->nturns ? &b->turns[t] : NULL;
		unsigned steps = (x ? x->nsteps : 0) > (y ? y->nsteps : 0) ? x->nsteps : (y ? y->nsteps : 0);
		for (unsigned k = 0; k < steps; k++) {
			const struct report_step *sx = x && k < x->nsteps ? &x->steps[k] : NULL;
			const struct report_step *sy = y && k < y->nsteps ? &y->steps[k] : NULL;
			if (same_step(sx, sy))
				continue;
			char *ca = step_calls(sx), *cb = step_calls(sy);
			char *why = xasprintf("turn %u step %u: eval called %s, prod called %s", t + 1,
					      k + 1, ca, cb);
			free(ca);
			free(cb);
			return why;
		}
	}
	return NULL;
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

/* analyse_expected: the fingerprints side served that name another
 * composition than the one it was expected to serve. */
static void analyse_expected(struct report *r, enum side side)
{
	struct report_target *t = &r->targets[side];
	struct fingerprint_read want, *f;

	t->unexpected = (struct report_names){0};
	if (!t->expected)
		return;
	fingerprint_read(&want, t->expected);
	f = read_side(r, side);
	for (size_t k = 0; k < t->nfingerprints; k++)
		if (!fingerprint_read_same(&f[k], &want) &&
		    !names_have(&t->unexpected, f[k].value))
			report_names_add(r, &t->unexpected, f[k].value);
	free_side(f, t->nfingerprints);
	fingerprint_read_release(&want);
	names_sort(&t->unexpected);
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
	for (int side = 0; side < SIDE__COUNT; side++)
		analyse_expected(r, (enum side)side);
}

/* value_index: the index of value among the n values read in f, n when
 * none (sample values are interned like the targets', so most match by
 * address). */
static size_t value_index(const struct fingerprint_read *f, size_t n, const char *value)
{
	for (size_t k = 0; k < n; k++)
		if (f[k].value == value)
			return k;
	for (size_t k = 0; k < n; k++)
		if (strcmp(f[k].value, value) == 0)
			return k;
	return n;
}

size_t report_compositions(const struct report *r, enum side side,
			   struct report_composition **out)
{
	const struct report_target *t = &r->targets[side];
	size_t nf = t->nfingerprints, ne = r->targets[SIDE_EVAL].nfingerprints, n = 0;
	struct fingerprint_read *f = read_side(r, side), *ev = read_side(r, SIDE_EVAL);
	const struct report_fingerprint *counts = r->targets[SIDE_EVAL].fingerprints;
	const struct fingerprint_read *base = NULL;
	struct report_composition *c = xcalloc(nf + 1, sizeof(*c));
	size_t *of = xcalloc(nf + 1, sizeof(*of)); /* value -> composition */

	for (size_t k = 0; k < ne; k++)
		if (!base || counts[k].count > counts[base - ev].count)
			base = &ev[k];
	for (size_t k = 0; k < nf; k++) {
		size_t j = 0;
		while (j < k && !fingerprint_read_same(&f[k], &f[j]))
			j++;
		if (j < k) {
			of[k] = of[j];
			continue;
		}
		of[k] = n;
		struct report_composition *m = &c[n++];
		const char **names = NULL;
		m->value = f[k].value;
		for (size_t e = 0; e < ne && !m->evaluated; e++)
			m->evaluated = fingerprint_read_same(&f[k], &ev[e]);
		if (base && base->ncomponents && f[k].ncomponents)
			m->ndiffering = fingerprint_diff(base->components, base->ncomponents,
							 f[k].components, f[k].ncomponents,
							 &names);
		m->differing = xcalloc(m->ndiffering + 1, sizeof(*m->differing));
		for (size_t d = 0; d < m->ndiffering; d++)
			m->differing[d] = xstrdup(names[d]);
		free(names);
	}
	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_side *s = &r->cases[i].side[side];
		for (size_t k = 0; k < s->nsamples; k++) {
			const struct report_sample *smp = &s->samples[k];
			size_t at = smp->fingerprint ? value_index(f, nf, smp->fingerprint) : nf;
			if (at == nf)
				continue;
			c[of[at]].passed += smp->grade == GRADE_PASS;
			c[of[at]].failed += smp->grade == GRADE_FAIL;
			c[of[at]].errors += smp->grade == GRADE_ERROR;
		}
	}
	/* Compositions no listed sample carried (a report that keeps no
	 * samples' fingerprints) say nothing of pass rates. */
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i].passed + c[i].failed + c[i].errors > 0) {
			c[kept++] = c[i];
			continue;
		}
		for (size_t d = 0; d < c[i].ndiffering; d++)
			free(c[i].differing[d]);
		free(c[i].differing);
	}
	free(of);
	free_side(f, nf);
	free_side(ev, ne);
	*out = c;
	return kept;
}

void report_compositions_free(struct report_composition *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		for (size_t d = 0; d < c[i].ndiffering; d++)
			free(c[i].differing[d]);
		free(c[i].differing);
	}
	free(c);
}

size_t report_unevaluated_count(const struct report *r)
{
	return r->history.present ? r->history.unevaluated.n : r->unevaluated.n;
}

static const struct report_fingerprint_failure fingerprint_failures[] = {
	{"uncertified", "eval did not serve the expected composition (--expect-fingerprint)"},
	{"uncertified", "prod did not serve the expected composition (--expect-fingerprint)"},
	{"unevaluated", "prod served a composition eval never served (--fail-on-unevaluated)"},
};

const struct report_fingerprint_failure *report_fingerprint_failure(const struct report *r)
{
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_target *t = &r->targets[side];
		if (t->expected && (t->nfingerprints == 0 || t->unexpected.n > 0))
			return &fingerprint_failures[side];
	}
	if (r->fail_on_unevaluated && report_unevaluated_count(r) > 0)
		return &fingerprint_failures[SIDE__COUNT];
	return NULL;
}

void report_apply_fingerprints(struct report *r)
{
	if ((r->exit_code == EXIT_PASS || r->exit_code == EXIT_ERRORS) &&
	    report_fingerprint_failure(r))
		r->exit_code = EXIT_FAIL;
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
