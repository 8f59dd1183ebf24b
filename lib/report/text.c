/* report/text.c: the human report, read in a terminal or a CI log. */
#include "report/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge/prompt.h"
#include "run/run.h"
#include "util.h"

#define ANSI_RESET "\033[0m"
#define ANSI_BOLD "\033[1m"
#define ANSI_YELLOW "\033[33m"

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

static const char *stratum_name(const struct run *r, size_t i)
{
	if (r->strata[i].s)
		return r->strata[i].s->name;
	if (r->suite && i < r->suite->nstrata)
		return r->suite->strata[i].name;
	return "?";
}

static const char *case_stratum_name(const struct run *r, const struct case_result *cr)
{
	if (cr->c->stratum < r->nstrata)
		return stratum_name(r, cr->c->stratum);
	if (r->suite && cr->c->stratum < r->suite->nstrata)
		return r->suite->strata[cr->c->stratum].name;
	return "?";
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

static void count_run(const struct run *r, struct text_counts *tc)
{
	memset(tc, 0, sizeof(*tc));
	for (size_t i = 0; i < r->ncases; i++) {
		const struct case_result *cr = &r->cases[i];
		if (!cr->selected || !cr->c) {
			tc->filtered++;
			continue;
		}
		tc->selected++;
		tc->errors += cr->verdict == VERDICT_ERROR;
		tc->confirmed += cr->confirmed;
		tc->one_sample += !cr->repeated && verdict_failing(cr->verdict);
		bool finished = true;
		for (int side = 0; side < SIDE__COUNT; side++) {
			const struct side_result *sr = &cr->side[side];
			tc->samples += sr->total;
			if (sr->nsamples == 0)
				finished = false;
			for (size_t k = 0; k < sr->nsamples; k++) {
				finished &= sr->samples[k].done;
				tc->confirm_samples += sr->samples[k].done &&
						       sr->samples[k].index >= cr->repeat;
			}
		}
		tc->finished += finished;
	}
	for (size_t i = 0; i < r->nstrata; i++)
		tc->strata += r->strata[i].ncases > 0;
}

static void put_header(FILE *out, const struct run *r, const struct text_counts *tc, bool color)
{
	char *name = text_clean(r->suite ? r->suite->name : NULL, NAME_MAX_TEXT);
	char dur[32];

	util_format_duration(r->duration_ms, dur);
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
		char *url = text_clean(r->url_display[side] ? r->url_display[side] : "-",
				       NAME_MAX_TEXT);
		fprintf(out, "  %s  %s\n", side_name((enum side)side), url);
		free(url);
		for (size_t k = 0; k < r->nfingerprints[side]; k++) {
			const struct fingerprint_count *fc = &r->fingerprints[side][k];
			char *v = text_clean(fc->value, FINGERPRINT_SHORT);
			fprintf(out, "        fingerprint %s (%d)\n", v, fc->count);
			free(v);
		}
	}
	if (r->suite && r->suite->judge.present) {
		char *shown = redact_apply(&r->suite->redact,
					   r->suite->judge.model ? r->suite->judge.model : "-");
		char *model = text_clean(shown, NAME_MAX_TEXT);
		free(shown);
		const char *hash = r->judge_template_hash ? r->judge_template_hash
							  : judge_prompt_hash();
		if (strncmp(hash, "sha256:", 7) == 0)
			hash += 7;
		fprintf(out, "  judge %s (template %s sha256:%.12s), %ld %s, %ld cache %s\n", model,
			r->judge_template ? r->judge_template : JUDGE_PROMPT_VERSION, hash,
			r->rt.judge_calls,
			plural(r->rt.judge_calls, "call", "calls"), r->rt.judge_cache_hits,
			plural(r->rt.judge_cache_hits, "hit", "hits"));
		free(model);
	}
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
static void put_rates(FILE *out, const struct case_result *cr)
{
	char p[32];
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct side_result *sr = &cr->side[side];
		fprintf(out, "  %s %d/%d [%.2f-%.2f]", side_name((enum side)side), sr->passed,
			sr->passed + sr->failed, sr->wilson_lo, sr->wilson_hi);
	}
	format_p(p, true, cr->p_value);
	fprintf(out, "  p %s", p);
}

/* put_fingerprint_notes: under the table, the compositions prod serves
 * that eval never did, and the components in which they differ. */
static void put_fingerprint_notes(FILE *out, const struct run *r, bool color)
{
	if (r->nunevaluated == 0)
		return;
	fputc('\n', out);
	if (color)
		fputs(ANSI_YELLOW, out);
	fprintf(out, "  warning: prod serves %zu composition%s that eval never served",
		r->nunevaluated, r->nunevaluated == 1 ? "" : "s");
	if (color)
		fputs(ANSI_RESET, out);
	for (size_t i = 0; i < r->ndiffering; i++) {
		char *v = text_clean(r->differing[i], NAME_MAX_TEXT);
		fprintf(out, "%s%s", i ? ", " : "; components that differ: ", v);
		free(v);
	}
	fputc('\n', out);
}

/* put_history_notes: with --history, the prod fingerprints no recorded run
 * evaluated and those new since the last run. */
static void put_history_notes(FILE *out, const struct run *r, bool color)
{
	if (!r->history || (r->nhistory_unevaluated == 0 && r->nnew_since_last == 0))
		return;
	fputc('\n', out);
	for (size_t i = 0; i < r->nhistory_unevaluated; i++) {
		char *v = text_clean(r->history_unevaluated[i], FINGERPRINT_SHORT);
		if (color)
			fputs(ANSI_YELLOW, out);
		fputs("  unevaluated fingerprint:", out);
		if (color)
			fputs(ANSI_RESET, out);
		fprintf(out, " %s (no recorded run saw it on eval)\n", v);
		free(v);
	}
	for (size_t i = 0; i < r->nnew_since_last; i++) {
		char *v = text_clean(r->new_since_last[i], FINGERPRINT_SHORT);
		fprintf(out, "  new since last run: %s\n", v);
		free(v);
	}
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* put_strata: the per-stratum table, its widths taken from the data. */
static void put_strata(FILE *out, const struct run *r, bool color)
{
	static const char *const heads[] = {"stratum", "cases", "eval", "prod", "diff", "p"};
	size_t width[ARRAY_SIZE(heads)];
	size_t ncols = ARRAY_SIZE(heads) - 1;
	char cell[32];

	for (size_t i = 0; i < r->nstrata; i++)
		if (r->strata[i].ncases > 0 && r->strata[i].tested)
			ncols = ARRAY_SIZE(heads); /* repeats: show the stratum test */

	for (size_t c = 0; c < ARRAY_SIZE(heads); c++)
		width[c] = strlen(heads[c]);
	for (size_t i = 0; i < r->nstrata; i++) {
		const struct stratum_result *sr = &r->strata[i];
		if (sr->ncases == 0)
			continue;
		char *name = text_clean(stratum_name(r, i), NAME_MAX_TEXT);
		width[0] = max_size(width[0], text_width(name));
		free(name);
		snprintf(cell, sizeof(cell), "%d", sr->ncases);
		width[1] = max_size(width[1], strlen(cell));
		for (int side = 0; side < SIDE__COUNT; side++) {
			format_count(cell, sr->passed[side], sr->ncases);
			width[2 + side] = max_size(width[2 + side], strlen(cell));
		}
		format_diff(cell, sr->passed[SIDE_PROD] - sr->passed[SIDE_EVAL]);
		width[4] = max_size(width[4], strlen(cell));
		format_p(cell, sr->tested, sr->p_adjusted);
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
		const struct stratum_result *sr = &r->strata[i];
		if (sr->ncases == 0)
			continue;
		char *name = text_clean(stratum_name(r, i), NAME_MAX_TEXT);
		fputs("  ", out);
		put_left(out, name, width[0]);
		free(name);
		snprintf(cell, sizeof(cell), "%d", sr->ncases);
		fputs("  ", out);
		put_right(out, cell, width[1]);
		for (int side = 0; side < SIDE__COUNT; side++) {
			format_count(cell, sr->passed[side], sr->ncases);
			fputs("  ", out);
			put_right(out, cell, width[2 + side]);
		}
		format_diff(cell, sr->passed[SIDE_PROD] - sr->passed[SIDE_EVAL]);
		fputs("  ", out);
		put_right(out, cell, width[4]);
		if (ncols == ARRAY_SIZE(heads)) {
			format_p(cell, sr->tested, sr->p_adjusted);
			fputs("  ", out);
			put_right(out, cell, width[5]);
		}
		fputs("  ", out);
		put_verdict(out, sr->verdict, color);
		fputc('\n', out);
	}
}

static bool sample_bad(const struct sample *s)
{
	return s->done && s->grade != GRADE_PASS;
}

/* put_sample_reasons: a sample's reasons joined by "; ", or a word for its
 * grade when it has none. */
static void put_sample_reasons(FILE *out, const struct sample *s, bool all, size_t max)
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

/* put_side_fallback: why a side is not ok when no sample says so. */
static void put_side_fallback(FILE *out, const struct side_result *sr, double threshold)
{
	if (sr->measured)
		fprintf(out, "pass rate %.2f below threshold %.2f\n", sr->rate, threshold);
	else
		fputs("no sample finished\n", out);
}

/* put_side: the reason lines of one side of a case that did not pass. */
static void put_side(FILE *out, const struct case_result *cr, int side, size_t indent,
		     bool verbose)
{
	const struct side_result *sr = &cr->side[side];
	bool printed = false;

	if (!verbose && sr->ok)
		return;
	for (size_t k = 0; k < sr->nsamples; k++) {
		const struct sample *s = &sr->samples[k];
		if (!sample_bad(s))
			continue;
		put_pad(out, indent);
		if (verbose)
			fprintf(out, "%s #%d: ", side_name((enum side)side), s->index + 1);
		else if (sr->total > 1)
			fprintf(out, "%s %d/%d: ", side_name((enum side)side), sr->passed, sr->total);
		else
			fprintf(out, "%s: ", side_name((enum side)side));
		put_sample_reasons(out, s, verbose, verbose ? REASON_MAX_VERBOSE : REASON_MAX);
		fputc('\n', out);
		printed = true;
		if (!verbose)
			break;
	}
	if (!printed && !sr->ok) {
		put_pad(out, indent);
		fprintf(out, "%s: ", side_name((enum side)side));
		put_side_fallback(out, sr, cr->c->threshold);
	}
}

/* put_cases: every selected case that did not pass, in suite order. */
static void put_cases(FILE *out, const struct run *r, const struct report_text_options *o)
{
	size_t vw = 0;

	for (size_t i = 0; i < r->ncases; i++) {
		const struct case_result *cr = &r->cases[i];
		if (cr->selected && cr->c && cr->verdict != VERDICT_PASS)
			vw = max_size(vw, strlen(verdict_name(cr->verdict)));
	}
	if (vw == 0)
		return;
	fputc('\n', out);
	for (size_t i = 0; i < r->ncases; i++) {
		const struct case_result *cr = &r->cases[i];
		if (!cr->selected || !cr->c || cr->verdict == VERDICT_PASS)
			continue;
		char *stratum = text_clean(case_stratum_name(r, cr), NAME_MAX_TEXT);
		char *id = text_clean(cr->c->id, NAME_MAX_TEXT);
		fputs("  ", out);
		put_verdict(out, cr->verdict, o->color);
		put_pad(out, vw - strlen(verdict_name(cr->verdict)) + 2);
		fprintf(out, "%s/%s", stratum, id);
		if (cr->repeated)
			put_rates(out, cr);
		if (cr->confirmed)
			fputs("  confirmed", out);
		fputc('\n', out);
		free(stratum);
		free(id);
		if (cr->note[0]) {
			char *note = text_clean(cr->note, REASON_MAX);
			put_pad(out, 2 + vw + 2);
			fprintf(out, "%s\n", note);
			free(note);
		}
		for (int side = 0; side < SIDE__COUNT; side++)
			put_side(out, cr, side, 2 + vw + 2, o->verbose);
	}
}

/* put_strata_with: the names of the strata whose verdict is v. */
static void put_strata_with(FILE *out, const struct run *r, enum verdict v)
{
	bool first = true;

	for (size_t i = 0; i < r->nstrata; i++) {
		if (r->strata[i].ncases == 0 || r->strata[i].verdict != v)
			continue;
		char *name = text_clean(stratum_name(r, i), NAME_MAX_TEXT);
		fprintf(out, "%s%s", first ? " in " : ", ", name);
		free(name);
		first = false;
	}
}

static void put_verdict_line(FILE *out, const struct run *r, const struct text_counts *tc,
			     bool color)
{
	put_bold(out, "verdict:", color);
	fputc(' ', out);
	if (r->interrupted)
		fprintf(out, "interrupted after %ld of %ld %s — ", tc->finished, tc->selected,
			plural(tc->selected, "case", "cases"));
	put_verdict(out, r->verdict, color);
	if (r->verdict == VERDICT_ERROR)
		fprintf(out, "%s%ld %s could not be measured", r->interrupted ? "; " : " — ",
			tc->errors, plural(tc->errors, "case", "cases"));
	else if (r->verdict != VERDICT_PASS)
		put_strata_with(out, r, r->verdict);
	if (r->verdict != VERDICT_ERROR && tc->errors > 0)
		fprintf(out, "; %ld %s could not be measured", tc->errors,
			plural(tc->errors, "case", "cases"));
	fprintf(out, " (exit %d%s%s)\n", r->exit_code, r->exit_reason ? ": " : "",
		r->exit_reason ? r->exit_reason : "");
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

void report_text(FILE *out, const struct run *r, const struct report_text_options *o)
{
	static const struct report_text_options defaults = {0};
	struct text_counts tc;

	if (!o)
		o = &defaults;
	count_run(r, &tc);
	put_header(out, r, &tc, o->color);
	fputc('\n', out);
	put_strata(out, r, o->color);
	put_fingerprint_notes(out, r, o->color);
	put_history_notes(out, r, o->color);
	put_cases(out, r, o);
	put_one_sample_note(out, &tc);
	fputc('\n', out);
	put_verdict_line(out, r, &tc, o->color);
}

void report_verdict_line(FILE *out, const struct run *r, bool color)
{
	struct text_counts tc;

	count_run(r, &tc);
	put_verdict_line(out, r, &tc, color);
}
