/* report/text.c: the human report, read in a terminal or a CI log. */
#include "report/report.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "util.h"

#define ANSI_RESET "\033[0m"
#define ANSI_BOLD "\033[1m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_RED "\033[31m"

/* Longest reason printed per line; the JSON report has them whole. */
#define REASON_MAX 300
#define REASON_MAX_VERBOSE 4000
#define NAME_MAX_TEXT 200
#define FINGERPRINT_SHORT 120

static const char *const verdict_colors[VERDICT__COUNT] = {
	[VERDICT_PASS] = "\033[32m",
	[VERDICT_FLAKY] = "\033[2;33m",
	[VERDICT_ERROR] = "\033[33m",
	[VERDICT_EVAL_REGRESSION] = "\033[31m",
	[VERDICT_REGRESSION] = "\033[31m",
	[VERDICT_DRIFT] = "\033[1;31m",
};


/* text_clean: s made safe for a terminal: what util_char_unsafe() names
 * (control characters, C1 controls such as CSI, bidirectional controls,
 * invalid UTF-8) shown as escapes of its bytes, cut after about max bytes
 * with "...". */
static char *text_clean(const char *s, size_t max)
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
		if (!util_char_unsafe(p + i, len)) {
			buf_add(&b, p + i, len);
			i += len;
			continue;
		}
		switch (p[i]) {
		case '\n': buf_addstr(&b, "\\n"); break;
		case '\t': buf_addstr(&b, "\\t"); break;
		case '\r': buf_addstr(&b, "\\r"); break;
		default:
			for (size_t k = 0; k < (len ? len : 1); k++)
				buf_addf(&b, "\\x%02x", p[i + k]);
			break;
		}
		i += len ? len : 1;
	}
	return buf_detach(&b, NULL);
}

/* text_width: the columns a cleaned string takes (one per code point). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void put_pad(FILE *out, size_t n)
{
	while (n-- > 0)
		fputc(' ', out);
}

/* put_left/put_right: s padded to width columns. */
static void put_left(FILE *out, const char *s, size_t width)
{
	size_t w = text_width(s);

	fputs(s, out);
	put_pad(out, width > w ? width - w : 0);
}

static void put_right(FILE *out, const char *s, size_t width)
{
	size_t w = text_width(s);

	put_pad(out, width > w ? width - w : 0);
	fputs(s, out);
}

static void put_verdict(FILE *out, enum verdict v, bool color)
{
	if (color && (unsigned)v < VERDICT__COUNT)
		fprintf(out, "%s%s%s", verdict_colors[v], verdict_name(v), ANSI_RESET);
	else
		fputs(verdict_name(v), out);
}

static void put_bold(FILE *out, const char *s, bool color)
{
	if (color)
		fprintf(out, "%s%s%s", ANSI_BOLD, s, ANSI_RESET);
	else
		fputs(s, out);
}


static const char *plural(long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* text_stratum_shown: a stratum with selected cases, which has a row. */
static bool text_stratum_shown(const struct report_stratum *s)
{
	return s->selected && s->ncases > 0;
}

/* Counts over the selected cases that the header and verdict line show. */
struct text_counts {
	long selected;
	long filtered;
	long strata;
	long samples;
	long errors;       /* cases whose verdict is error */
	long finished;     /* cases whose every sample finished */
	long confirmed;    /* cases re-sampled by --confirm */
	long confirm_samples; /* the samples that took */
	long one_sample;   /* failing cases decided by one sample a side */
};

/* case_finished: every sample asked of both sides finished. */
static bool case_finished(const struct report_case *c)
{
	size_t asked = (size_t)c->repeat + (size_t)c->confirm;

	for (int side = 0; side < SIDE__COUNT; side++)
		if (c->side[side].nsamples == 0 || c->side[side].nsamples < asked)
			return false;
	return true;
}

static void count_report(const struct report *r, struct text_counts *tc)
{
	memset(tc, 0, sizeof(*tc));
	/* Other shards' cases count as filtered out too. */
	tc->filtered = r->filtered + r->shard_others;
	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		if (c->skipped)
			continue;
		tc->selected++;
		tc->errors += c->verdict == VERDICT_ERROR;
		tc->confirmed += c->confirmed;
		/* A replay has one logged reply a record: nothing to confirm. */
		tc->one_sample += !report_case_repeated(c) && verdict_failing(c->verdict) &&
				  !r->replay.present;
		tc->finished += case_finished(c);
		for (int side = 0; side < SIDE__COUNT; side++) {
			const struct report_side *s = &c->side[side];
			if (side == SIDE_PROD && r->replay.present)
				continue; /* read from the log, not requested */
			tc->samples += report_side_total(s);
			for (size_t k = 0; k < s->nsamples; k++) {
				tc->confirm_samples += s->samples[k].index >= c->repeat;
				/* A conversation sample took a request per step. */
				tc->samples += (long)report_sample_steps(&s->samples[k]) - 1;
			}
		}
	}
	for (size_t i = 0; i < r->nstrata; i++)
		tc->strata += text_stratum_shown(&r->strata[i]);
}

static void put_judge(FILE *out, const struct report_judge *j)
{
	char *model = text_clean(j->model ? j->model : "-", NAME_MAX_TEXT);
	const char *hash = j->template_hash ? j->template_hash : "";

	if (strncmp(hash, "sha256:", 7) == 0)
		hash += 7;
	fprintf(out, "  judge %s (template %s sha256:%.12s), %ld %s, %ld cache %s\n", model,
		j->template ? j->template : "", hash, j->calls, plural(j->calls, "call", "calls"),
		j->cache_hits, plural(j->cache_hits, "hit", "hits"));
	free(model);
}

/* put_replay: what a replay made of its log's lines, and the first lines
 * it could not use and why. */
static void put_replay(FILE *out, const struct report_replay *rp)
{
	char *log = text_clean(rp->log, NAME_MAX_TEXT);
	fprintf(out, "  replay of %s: %ld %s, %ld replayed", log, rp->lines,
		plural(rp->lines, "line", "lines"), rp->replayed);
	if (rp->unreadable)
		fprintf(out, ", %ld unreadable", rp->unreadable);
	if (rp->unmatched)
		fprintf(out, ", %ld in no stratum", rp->unmatched);
	if (rp->sampled_out)
		fprintf(out, ", %ld not sampled", rp->sampled_out);
	if (rp->over_limit)
		fprintf(out, ", %ld over the limit", rp->over_limit);
	fputc('\n', out);
	for (size_t i = 0; i < rp->problems.n; i++) {
		char *v = text_clean(rp->problems.v[i], REASON_MAX);
		fprintf(out, "    %s\n", v);
		free(v);
	}
	free(log);
}

static void put_header(FILE *out, const struct report *r, const struct text_counts *tc,
		       bool color)
{
	char *name = text_clean(r->suite, NAME_MAX_TEXT);
	char dur[32];

	util_format_duration((long)r->duration_ms, dur);
	put_bold(out, "canary:", color);
	fputc(' ', out);
	put_bold(out, name, color);
	fprintf(out, " — %ld %s in %ld %s", tc->selected, plural(tc->selected, "case", "cases"),
		tc->strata, plural(tc->strata, "stratum", "strata"));
	if (tc->filtered > 0)
		fprintf(out, " (%ld filtered out)", tc->filtered);
	fprintf(out, ", %ld %s", tc->samples, plural(tc->samples, "request", "requests"));
	if (tc->confirmed > 0)
		fprintf(out, " (%ld to confirm %ld %s)", tc->confirm_samples, tc->confirmed,
			plural(tc->confirmed, "case", "cases"));
	fprintf(out, ", %s\n", dur);
	free(name);

	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_target *t = &r->targets[side];
		char *url = text_clean(t->url ? t->url : "-", NAME_MAX_TEXT);
		fprintf(out, "  %s  %s\n", side_name((enum side)side), url);
		free(url);
		for (size_t k = 0; k < t->nfingerprints; k++) {
			char *v = text_clean(t->fingerprints[k].value, FINGERPRINT_SHORT);
			fprintf(out, "        fingerprint %s (%ld)\n", v, t->fingerprints[k].count);
			free(v);
		}
	}
	if (r->judge.present)
		put_judge(out, &r->judge);
	if (r->replay.present)
		put_replay(out, &r->replay);
}

static void format_count(char out[32], int passed, int total)
{
	snprintf(out, 32, "%d/%d", passed, total);
}

static void format_diff(char out[32], int diff)
{
	if (diff == 0)
		snprintf(out, 32, "0");
	else
		snprintf(out, 32, "%+d", diff);
}

/* format_p: a p-value for people: "-" when untested, "<0.001" when tiny. */
static void format_p(char out[32], bool tested, double p)
{
	if (!tested)
		snprintf(out, 32, "-");
	else if (p < 0.001)
		snprintf(out, 32, "<0.001");
	else
		snprintf(out, 32, "%.3f", p);
}

/* put_rates: "eval 10/10 [0.72-1.00]  prod 2/10 [0.06-0.51]  p 0.001" for a
 * case with repeats. */
static void put_rates(FILE *out, const struct report_case *c)
{
	char p[32];

	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_side *s = &c->side[side];
		double lo = 0, hi = 0;
		stats_wilson(s->passed, s->passed + s->failed, 1.96, &lo, &hi);
		fprintf(out, "  %s %d/%d [%.2f-%.2f]", side_name((enum side)side), s->passed,
			s->passed + s->failed, lo, hi);
	}
	format_p(p, true, c->p_value);
	fprintf(out, "  p %s", p);
}

/* put_fingerprint_notes: under the table, the compositions prod serves
 * that eval never did, and the components in which they differ. */
static void put_fingerprint_notes(FILE *out, const struct report *r, bool color)
{
	if (r->unevaluated.n == 0)
		return;
	fputc('\n', out);
	if (color)
		fputs(ANSI_YELLOW, out);
	fprintf(out, "  warning: prod serves %zu composition%s that eval never served",
		r->unevaluated.n, r->unevaluated.n == 1 ? "" : "s");
	if (color)
		fputs(ANSI_RESET, out);
	for (size_t i = 0; i < r->differing.n; i++) {
		char *v = text_clean(r->differing.v[i], NAME_MAX_TEXT);
		fprintf(out, "%s%s", i ? ", " : "; components that differ: ", v);
		free(v);
	}
	fputc('\n', out);
}

/* put_expected_notes: with --expect-fingerprint, the compositions a target
 * served other than the one expected of it. */
static void put_expected_notes(FILE *out, const struct report *r, bool color)
{
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_target *t = &r->targets[side];
		if (!t->expected || (t->nfingerprints > 0 && t->unexpected.n == 0))
			continue;
		fputc('\n', out);
		if (color)
			fputs(ANSI_RED, out);
		fprintf(out, "  %s did not serve the expected composition", side_name((enum side)side));
		if (color)
			fputs(ANSI_RESET, out);
		if (t->nfingerprints == 0)
			fputs(": no reply carried a fingerprint\n", out);
		else
			fputc('\n', out);
		for (size_t i = 0; i < t->unexpected.n; i++) {
			char *v = text_clean(t->unexpected.v[i], FINGERPRINT_SHORT);
			fprintf(out, "    served %s\n", v);
			free(v);
		}
	}
}

/* put_compositions: when prod served several compositions, each one's
 * samples passed, and the components in which it differs from eval's. */
static void put_compositions(FILE *out, const struct report *r)
{
	struct report_composition *c = NULL;
	size_t n = report_compositions(r, SIDE_PROD, &c);

	if (n > 1) {
		fprintf(out, "\n  prod served %zu compositions:\n", n);
		for (size_t i = 0; i < n; i++) {
			char *v = text_clean(c[i].value, FINGERPRINT_SHORT);
			long valid = c[i].passed + c[i].failed;
			fprintf(out, "    %s  %ld/%ld samples passed", v, c[i].passed, valid);
			if (c[i].errors)
				fprintf(out, ", %ld %s", c[i].errors,
					c[i].errors == 1 ? "error" : "errors");
			if (c[i].evaluated)
				fputs("; eval served it", out);
			for (size_t d = 0; d < c[i].ndiffering; d++) {
				char *name = text_clean(c[i].differing[d], NAME_MAX_TEXT);
				fprintf(out, "%s%s", d ? ", " : "; differs from eval in ", name);
				free(name);
			}
			fputc('\n', out);
			free(v);
		}
	}
	report_compositions_free(c, n);
}

/* put_history_notes: with --history, the prod fingerprints no recorded run
 * evaluated and those new since the last run. */
static void put_history_notes(FILE *out, const struct report *r, bool color)
{
	const struct report_history *h = &r->history;

	if (!h->present || (h->unevaluated.n == 0 && h->new_since_last.n == 0))
		return;
	fputc('\n', out);
	for (size_t i = 0; i < h->unevaluated.n; i++) {
		char *v = text_clean(h->unevaluated.v[i], FINGERPRINT_SHORT);
		if (color)
			fputs(ANSI_YELLOW, out);
		fputs("  unevaluated fingerprint:", out);
		if (color)
			fputs(ANSI_RESET, out);
		fprintf(out, " %s (no recorded run saw it on eval)\n", v);
		free(v);
	}
	for (size_t i = 0; i < h->new_since_last.n; i++) {
		char *v = text_clean(h->new_since_last.v[i], FINGERPRINT_SHORT);
		fprintf(out, "  new since last run: %s\n", v);
		free(v);
	}
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* put_strata: the per-stratum table, its widths taken from the data. */
static void put_strata(FILE *out, const struct report *r, bool color)
{
	static const char *const heads[] = {"stratum", "cases", "eval", "prod", "diff", "p"};
	size_t width[ARRAY_SIZE(heads)];
	size_t ncols = ARRAY_SIZE(heads) - 1;
	char cell[32];

	for (size_t i = 0; i < r->nstrata; i++)
		if (text_stratum_shown(&r->strata[i]) && r->strata[i].tested)
			ncols = ARRAY_SIZE(heads); /* repeats: show the stratum test */

	for (size_t c = 0; c < ARRAY_SIZE(heads); c++)
		width[c] = strlen(heads[c]);
	for (size_t i = 0; i < r->nstrata; i++) {
		const struct report_stratum *s = &r->strata[i];
		if (!text_stratum_shown(s))
			continue;
		char *name = text_clean(s->name, NAME_MAX_TEXT);
		width[0] = max_size(width[0], text_width(name));
		free(name);
		snprintf(cell, sizeof(cell), "%d", s->ncases);
		width[1] = max_size(width[1], strlen(cell));
		for (int side = 0; side < SIDE__COUNT; side++) {
			format_count(cell, s->passed[side], s->ncases);
			width[2 + side] = max_size(width[2 + side], strlen(cell));
		}
		format_diff(cell, s->passed[SIDE_PROD] - s->passed[SIDE_EVAL]);
		width[4] = max_size(width[4], strlen(cell));
		format_p(cell, s->tested, s->p_adjusted);
		width[5] = max_size(width[5], strlen(cell));
	}

	if (color)
		fputs(ANSI_BOLD, out);
	fputs("  ", out);
	put_left(out, heads[0], width[0]);
	for (size_t c = 1; c < ncols; c++) {
		fputs("  ", out);
		put_right(out, heads[c], width[c]);
	}
	fputs("  verdict", out);
	if (color)
		fputs(ANSI_RESET, out);
	fputc('\n', out);

	for (size_t i = 0; i < r->nstrata; i++) {
		const struct report_stratum *s = &r->strata[i];
		if (!text_stratum_shown(s))
			continue;
		char *name = text_clean(s->name, NAME_MAX_TEXT);
		fputs("  ", out);
		put_left(out, name, width[0]);
		free(name);
		snprintf(cell, sizeof(cell), "%d", s->ncases);
		fputs("  ", out);
		put_right(out, cell, width[1]);
		for (int side = 0; side < SIDE__COUNT; side++) {
			format_count(cell, s->passed[side], s->ncases);
			fputs("  ", out);
			put_right(out, cell, width[2 + side]);
		}
		format_diff(cell, s->passed[SIDE_PROD] - s->passed[SIDE_EVAL]);
		fputs("  ", out);
		put_right(out, cell, width[4]);
		if (ncols == ARRAY_SIZE(heads)) {
			format_p(cell, s->tested, s->p_adjusted);
			fputs("  ", out);
			put_right(out, cell, width[5]);
		}
		fputs("  ", out);
		put_verdict(out, s->verdict, color);
		fputc('\n', out);
	}
}

/* put_sample_reasons: a sample's reasons joined by "; ", or a word for its
 * grade when it has none. */
static void put_sample_reasons(FILE *out, const struct report_sample *s, bool all, size_t max)
{
	if (s->nreasons == 0) {
		fputs(s->grade == GRADE_ERROR ? "could not be measured" : "failed", out);
		return;
	}
	size_t n = all ? s->nreasons : 1;
	for (size_t k = 0; k < n; k++) {
		char *reason = text_clean(s->reasons[k], max);
		fprintf(out, "%s%s", k ? "; " : "", reason);
		free(reason);
	}
}

/* put_steps: a conversation sample's steps, "turn 1: check_availability >
 * create_event > text; turn 2: text" (a step that called no tool is
 * "text"). */
static void put_steps(FILE *out, const struct report_sample *s)
{
	for (unsigned t = 0; t < s->nturns; t++) {
		const struct report_turn *rt = &s->turns[t];
		fprintf(out, "%sturn %u:", t ? "; " : "", t + 1);
		for (unsigned k = 0; k < rt->nsteps; k++) {
			const struct report_step *st = &rt->steps[k];
			fputs(k ? " > " : " ", out);
			for (unsigned c = 0; c < st->ncalls; c++) {
				char *name = text_clean(st->calls[c], NAME_MAX_TEXT);
				fprintf(out, "%s%s", c ? ", " : "", name);
				free(name);
			}
			if (!st->ncalls)
				fputs("text", out);
		}
	}
}

/* put_side: the reason lines of one side of a case that did not pass. */
static void put_side(FILE *out, const struct report_case *c, enum side side, size_t indent,
		     bool verbose)
{
	const struct report_side *s = &c->side[side];
	bool ok = report_side_ok(c, side), printed = false;

	if (!verbose && ok)
		return;
	for (size_t k = 0; k < s->nsamples; k++) {
		const struct report_sample *smp = &s->samples[k];
		if (smp->grade == GRADE_PASS)
			continue;
		put_pad(out, indent);
		if (verbose)
			fprintf(out, "%s #%d: ", side_name(side), smp->index + 1);
		else if (report_side_total(s) > 1)
			fprintf(out, "%s %d/%d: ", side_name(side), s->passed, report_side_total(s));
		else
			fprintf(out, "%s: ", side_name(side));
		put_sample_reasons(out, smp, verbose, verbose ? REASON_MAX_VERBOSE : REASON_MAX);
		fputc('\n', out);
		if (verbose && smp->nturns) {
			put_pad(out, indent + 2);
			fputs("steps: ", out);
			put_steps(out, smp);
			fputc('\n', out);
		}
		printed = true;
		if (!verbose)
			break;
	}
	if (printed || ok)
		return;
	/* Why a side is not ok when no sample says so. */
	put_pad(out, indent);
	if (report_side_measured(s))
		fprintf(out, "%s: pass rate %.2f below threshold %.2f\n", side_name(side),
			report_side_rate(s), c->threshold);
	else
		fprintf(out, "%s: no sample finished\n", side_name(side));
}

/* put_cases: every selected case that did not pass, in suite order. */
static void put_cases(FILE *out, const struct report *r, const struct report_text_options *o)
{
	size_t vw = 0;

	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		if (!c->skipped && c->verdict != VERDICT_PASS)
			vw = max_size(vw, strlen(verdict_name(c->verdict)));
	}
	if (vw == 0)
		return;
	fputc('\n', out);
	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		if (c->skipped || c->verdict == VERDICT_PASS)
			continue;
		char *stratum = text_clean(r->strata[c->stratum].name, NAME_MAX_TEXT);
		char *id = text_clean(c->id, NAME_MAX_TEXT);
		fputs("  ", out);
		put_verdict(out, c->verdict, o->color);
		put_pad(out, vw - strlen(verdict_name(c->verdict)) + 2);
		fprintf(out, "%s/%s", stratum, id);
		if (report_case_repeated(c))
			put_rates(out, c);
		if (c->confirmed)
			fputs(c->by_stratum ? "  confirmed by its stratum" : "  confirmed", out);
		fputc('\n', out);
		free(stratum);
		free(id);
		if (c->note && *c->note) {
			char *note = text_clean(c->note, REASON_MAX);
			put_pad(out, 2 + vw + 2);
			fprintf(out, "%s\n", note);
			free(note);
		}
		for (int side = 0; side < SIDE__COUNT; side++)
			put_side(out, c, (enum side)side, 2 + vw + 2, o->verbose);
		char *diverge = report_case_divergence(c);
		if (diverge) {
			char *text = text_clean(diverge, REASON_MAX);
			put_pad(out, 2 + vw + 2);
			fprintf(out, "diverges at %s\n", text);
			free(text);
			free(diverge);
		}
	}
}

/* put_strata_with: the names of the strata whose verdict is v. */
static void put_strata_with(FILE *out, const struct report *r, enum verdict v)
{
	bool first = true;

	for (size_t i = 0; i < r->nstrata; i++) {
		if (!text_stratum_shown(&r->strata[i]) || r->strata[i].verdict != v)
			continue;
		char *name = text_clean(r->strata[i].name, NAME_MAX_TEXT);
		fprintf(out, "%s%s", first ? " in " : ", ", name);
		free(name);
		first = false;
	}
}

static void put_verdict_line(FILE *out, const struct report *r, const struct text_counts *tc,
			     const struct report_text_options *o)
{
	put_bold(out, "verdict:", o->color);
	fputc(' ', out);
	if (r->interrupted)
		fprintf(out, "interrupted after %ld of %ld %s — ", tc->finished, tc->selected,
			plural(tc->selected, "case", "cases"));
	put_verdict(out, r->verdict, o->color);
	if (r->verdict == VERDICT_ERROR)
		fprintf(out, "%s%ld %s could not be measured", r->interrupted ? "; " : " — ",
			tc->errors, plural(tc->errors, "case", "cases"));
	else if (r->verdict != VERDICT_PASS)
		put_strata_with(out, r, r->verdict);
	if (r->verdict != VERDICT_ERROR && tc->errors > 0)
		fprintf(out, "; %ld %s could not be measured", tc->errors,
			plural(tc->errors, "case", "cases"));
	if (r->budget.not_run > 0)
		fprintf(out, "; budget reached, %ld %s not run", r->budget.not_run,
			plural(r->budget.not_run, "sample", "samples"));
	const struct report_fingerprint_failure *ff = report_fingerprint_failure(r);
	const char *reason = o->exit_reason;
	if (!reason && ff && r->exit_code == EXIT_FAIL && !verdict_failing(r->verdict))
		reason = ff->reason;
	fprintf(out, " (exit %d%s%s)\n", r->exit_code, reason ? ": " : "", reason ? reason : "");
}

/* put_one_sample_note: failing verdicts that one sample a side decided,
 * which says nothing about an agent that is not deterministic. */
static void put_one_sample_note(FILE *out, const struct text_counts *tc)
{
	if (tc->one_sample == 0)
		return;
	fprintf(out, "\n  note: %ld failing %s decided by one sample a side, which cannot\n"
		     "  tell a broken case from a noisy one; rerun with --confirm 9 to test %s\n",
		tc->one_sample, plural(tc->one_sample, "verdict was", "verdicts were"),
		plural(tc->one_sample, "it", "them"));
}

/* The columns of the --verbose telemetry table. */
enum {
	TEL_STRATUM,
	TEL_TARGET,
	TEL_P50,
	TEL_P95,
	TEL_MAX,
	TEL_TTFT_P50,
	TEL_TTFT_P95,
	TEL_TTFT_MAX,
	TEL_IN,
	TEL_OUT,
	TEL_COST,
	TEL_RETRIES,
	TEL__COUNT,
};

#define TEL_CELL 40

/* telemetry_row: the cells of side's figures over stratum (SIZE_MAX: the
 * run, named "all"); "-" where nothing was measured or declared. */
static void telemetry_row(const struct report *r, size_t stratum, enum side side,
			  char cells[TEL__COUNT][TEL_CELL])
{
	struct report_telemetry t;
	report_telemetry(r, stratum, side, &t);
	char *name = stratum == SIZE_MAX ? xstrdup("all")
					 : text_clean(r->strata[stratum].name, NAME_MAX_TEXT);
	snprintf(cells[TEL_STRATUM], TEL_CELL, "%s", name);
	free(name);
	snprintf(cells[TEL_TARGET], TEL_CELL, "%s", side_name(side));
	const double ms[] = {t.p50_ms, t.p95_ms, t.max_ms};
	const double ttft[] = {t.ttft_p50_ms, t.ttft_p95_ms, t.ttft_max_ms};
	for (int k = 0; k < 3; k++) {
		snprintf(cells[TEL_P50 + k], TEL_CELL, t.timed ? "%.0f" : "-", ms[k]);
		snprintf(cells[TEL_TTFT_P50 + k], TEL_CELL, t.streamed ? "%.0f" : "-", ttft[k]);
	}
	snprintf(cells[TEL_IN], TEL_CELL, t.tokens.input >= 0 ? "%lld" : "-", t.tokens.input);
	snprintf(cells[TEL_OUT], TEL_CELL, t.tokens.output >= 0 ? "%lld" : "-", t.tokens.output);
	snprintf(cells[TEL_COST], TEL_CELL, t.cost_usd >= 0 ? "%.4f" : "-", t.cost_usd);
	snprintf(cells[TEL_RETRIES], TEL_CELL, "%ld", t.retries);
}

/* tel_shown: whether column c is shown (the time to first token only when
 * some sample was streamed). */
static bool tel_shown(size_t c, bool streamed)
{
	return streamed || c < TEL_TTFT_P50 || c > TEL_TTFT_MAX;
}

/* put_telemetry: --verbose: latency, time to first token (when streamed),
 * tokens, cost and retries per stratum and target, then over the run. */
static void put_telemetry(FILE *out, const struct report *r, bool color)
{
	static const char *const heads[TEL__COUNT] = {
		"stratum", "target", "p50 ms", "p95 ms", "max ms", "ttft p50", "ttft p95",
		"ttft max", "tokens in", "tokens out", "cost usd", "retries",
	};
	bool streamed = report_streamed(r);
	size_t nrows = 0, width[TEL__COUNT];
	char(*rows)[TEL__COUNT][TEL_CELL] =
		xcalloc((r->nstrata + 1) * SIDE__COUNT, sizeof(*rows));
	for (size_t i = 0; i <= r->nstrata; i++) {
		size_t stratum = i < r->nstrata ? i : SIZE_MAX;
		if (stratum != SIZE_MAX && !text_stratum_shown(&r->strata[i]))
			continue;
		for (int side = 0; side < SIDE__COUNT; side++)
			telemetry_row(r, stratum, (enum side)side, rows[nrows++]);
	}
	for (size_t c = 0; c < TEL__COUNT; c++) {
		width[c] = strlen(heads[c]);
		for (size_t k = 0; k < nrows; k++)
			width[c] = max_size(width[c], text_width(rows[k][c]));
	}
	fputc('\n', out);
	if (color)
		fputs(ANSI_BOLD, out);
	for (size_t c = 0; c < TEL__COUNT; c++) {
		if (!tel_shown(c, streamed))
			continue;
		fputs("  ", out);
		(c < TEL_P50 ? put_left : put_right)(out, heads[c], width[c]);
	}
	if (color)
		fputs(ANSI_RESET, out);
	fputc('\n', out);
	for (size_t k = 0; k < nrows; k++) {
		for (size_t c = 0; c < TEL__COUNT; c++) {
			if (!tel_shown(c, streamed))
				continue;
			fputs("  ", out);
			(c < TEL_P50 ? put_left : put_right)(out, rows[k][c], width[c]);
		}
		fputc('\n', out);
	}
	free(rows);
}

/* put_budget_note: what --budget allowed and what the run spent. */
static void put_budget_note(FILE *out, const struct report *r)
{
	const struct report_budget *b = &r->budget;
	if (!b->present)
		return;
	fputs("\n  budget: ", out);
	if (b->tokens > 0)
		fprintf(out, "%lld of %lld tokens spent", b->spent_tokens, b->tokens);
	else
		fprintf(out, "$%.4f of $%.2f spent (%lld tokens)", b->spent_usd, b->usd,
			b->spent_tokens);
	if (b->reached)
		fprintf(out, "; reached, so %ld %s not run", b->not_run,
			plural(b->not_run, "sample was", "samples were"));
	fputc('\n', out);
}

static const struct report_text_options text_defaults = {0};

void report_text_with(FILE *out, const struct report *r, const struct report_text_options *o)
{
	struct text_counts tc;

	if (!o)
		o = &text_defaults;
	count_report(r, &tc);
	put_header(out, r, &tc, o->color);
	fputc('\n', out);
	put_strata(out, r, o->color);
	if (o->verbose)
		put_telemetry(out, r, o->color);
	put_fingerprint_notes(out, r, o->color);
	put_expected_notes(out, r, o->color);
	put_compositions(out, r);
	put_history_notes(out, r, o->color);
	put_cases(out, r, o);
	put_one_sample_note(out, &tc);
	put_budget_note(out, r);
	fputc('\n', out);
	put_verdict_line(out, r, &tc, o);
}

void report_verdict_line(FILE *out, const struct report *r, const struct report_text_options *o)
{
	struct text_counts tc;

	count_report(r, &tc);
	put_verdict_line(out, r, &tc, o ? o : &text_defaults);
}

int report_text(FILE *f, const struct report *r, char **err)
{
	report_text_with(f, r, NULL);
	return report_flush(f, err);
}
