/* report/markdown.c: GitHub-flavoured markdown for a step summary: the
 * verdict, the per-stratum table and the cases that did not pass, always
 * under REPORT_MARKDOWN_MAX bytes. */
#include "report/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "report/verdict.h"

/* The most bytes a name or a reason adds, escaped. */
#define NAME_MAX_MD 200
#define REASON_MAX_MD 300
/* Reasons per target in a case row, and strata named in the verdict line. */
#define REASONS_MAX_MD 5
#define STRATA_LISTED_MAX 10
/* Room kept for the notes added without asking: that a list was cut (at
 * most two) and that one sample decided (each far shorter). */
#define NOTE_RESERVE 512

static const char *const verdict_icons[VERDICT__COUNT] = {
	[VERDICT_PASS] = "✅",
	[VERDICT_FLAKY] = "✅",
	[VERDICT_ERROR] = "⚠️",
	[VERDICT_EVAL_REGRESSION] = "❌",
	[VERDICT_REGRESSION] = "❌",
	[VERDICT_DRIFT] = "❌",
};

/* icon: the verdict's icon; a flaky case fails under --strict. */
static const char *icon(enum verdict v, bool strict)
{
	return strict && v == VERDICT_FLAKY ? "❌" : verdict_icons[v];
}

/* md_add: s as plain text inside a table cell or heading: markdown and
 * HTML syntax escaped, a line break as <br>, a tab as a space, the rest of
 * what util_char_unsafe() names (controls, bidirectional controls, invalid
 * UTF-8) as U+FFFD, '@' followed by a zero-width space so that GitHub makes
 * no mention (nor mail link) of it, cut with "..." once it has added about
 * max bytes. */
static void md_add(struct buf *b, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), start = b->len;

	for (size_t i = 0; i < n;) {
		if (b->len - start >= max) {
			buf_addstr(b, "...");
			break;
		}
		size_t len = util_utf8_len(p + i, n - i);
		if (util_char_unsafe(p + i, len) && p[i] != '\n' && p[i] != '\r' && p[i] != '\t') {
			buf_addstr(b, "\xef\xbf\xbd");
			i += len ? len : 1;
			continue;
		}
		switch (p[i]) {
		case '&': buf_addstr(b, "&amp;"); break;
		case '<': buf_addstr(b, "&lt;"); break;
		case '>': buf_addstr(b, "&gt;"); break;
		case '\n': buf_addstr(b, "<br>"); break;
		case '\r': break;
		case '\t': buf_addch(b, ' '); break;
		case '@': buf_addstr(b, "@\xe2\x80\x8b"); break;
		case '|': case '\\': case '`': case '*': case '_': case '[': case ']':
		case '~': case '$': case '#':
			buf_addch(b, '\\');
			buf_addch(b, (char)p[i]);
			break;
		default: buf_add(b, p + i, len); break;
		}
		i += len;
	}
}

static const char *plural(long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* case_finished: both sides have the samples of their repeat. */
static bool case_finished(const struct report_case *c)
{
	for (int side = 0; side < SIDE__COUNT; side++)
		if (c->side[side].nsamples < (size_t)c->repeat)
			return false;
	return true;
}

/* put_verdict_line: the text report's verdict line, naming the first
 * STRATA_LISTED_MAX strata of the worst verdict. */
static void put_verdict_line(struct buf *b, const struct report *r)
{
	enum verdict v = r->verdict;
	long ncases = 0, errors = 0, finished = 0, n = 0;

	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		if (c->skipped)
			continue;
		ncases++;
		errors += c->verdict == VERDICT_ERROR;
		finished += case_finished(c);
	}
	buf_addf(b, "%s **", icon(v, r->strict));
	if (r->interrupted)
		buf_addf(b, "interrupted after %ld of %ld %s — ", finished, ncases,
			 plural(ncases, "case", "cases"));
	buf_addf(b, "%s**", verdict_name(v));
	if (v == VERDICT_ERROR) {
		buf_addf(b, " — %ld %s could not be measured", errors,
			 plural(errors, "case", "cases"));
	} else if (v != VERDICT_PASS) {
		for (size_t i = 0; i < r->nstrata; i++) {
			const struct report_stratum *s = &r->strata[i];
			if (!s->selected || s->verdict != v)
				continue;
			if (n++ >= STRATA_LISTED_MAX)
				continue;
			buf_addstr(b, n > 1 ? ", " : " in ");
			md_add(b, s->name, NAME_MAX_MD);
		}
		if (n > STRATA_LISTED_MAX)
			buf_addf(b, " and %ld more", n - STRATA_LISTED_MAX);
	}
	if (v != VERDICT_ERROR && errors > 0)
		buf_addf(b, "; %ld %s could not be measured", errors,
			 plural(errors, "case", "cases"));
	buf_addf(b, " (exit %d)\n\n", r->exit_code);
}

/* Counts of the header. */
struct md_counts {
	long cases;
	long strata;
	long samples;
	long confirmed;
	long confirm_samples;
};

static void count_report(const struct report *r, struct md_counts *mc)
{
	*mc = (struct md_counts){0};
	for (size_t i = 0; i < r->nstrata; i++)
		mc->strata += r->strata[i].selected;
	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		if (c->skipped)
			continue;
		mc->cases++;
		mc->confirmed += c->confirmed;
		for (int side = 0; side < SIDE__COUNT; side++) {
			mc->samples += report_side_total(&c->side[side]);
			for (size_t k = 0; k < c->side[side].nsamples; k++)
				mc->confirm_samples += c->side[side].samples[k].index >= c->repeat;
		}
	}
}

static void put_header(struct buf *b, const struct report *r)
{
	struct md_counts mc;
	char dur[32];

	count_report(r, &mc);
	buf_addf(b, "## %s canary: ", icon(r->verdict, r->strict));
	md_add(b, r->suite, NAME_MAX_MD);
	buf_addf(b, " — %s\n\n", verdict_name(r->verdict));
	put_verdict_line(b, r);

	util_format_duration((long)r->duration_ms, dur);
	buf_addf(b, "%ld %s in %ld %s", mc.cases, plural(mc.cases, "case", "cases"), mc.strata,
		 plural(mc.strata, "stratum", "strata"));
	if (r->filtered > 0)
		buf_addf(b, " (%ld filtered out)", r->filtered);
	buf_addf(b, ", %ld %s", mc.samples, plural(mc.samples, "request", "requests"));
	if (mc.confirmed > 0)
		buf_addf(b, " (%ld to confirm %ld %s)", mc.confirm_samples, mc.confirmed,
			 plural(mc.confirmed, "case", "cases"));
	buf_addf(b, ", %s, started ", dur);
	md_add(b, r->started_at, NAME_MAX_MD);
	buf_addstr(b, "\n\n| target | url | fingerprints |\n|---|---|---|\n");
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_target *t = &r->targets[side];
		size_t n = 0;
		buf_addf(b, "| %s | ", side_name((enum side)side));
		if (t->url)
			md_add(b, t->url, NAME_MAX_MD);
		else
			buf_addch(b, '-');
		buf_addstr(b, " | ");
		for (; n < t->nfingerprints; n++) {
			if (n == 8) {
				buf_addstr(b, ", ...");
				break;
			}
			buf_addstr(b, n > 0 ? ", " : "");
			md_add(b, t->fingerprints[n].value, NAME_MAX_MD);
			buf_addf(b, " (%d)", (int)t->fingerprints[n].count);
		}
		buf_addstr(b, n ? " |\n" : "- |\n");
	}
	buf_addch(b, '\n');
}

/* put_text: len bytes of text added to b when they fit under the cap with
 * room for the notes, which are the only text added without asking (the
 * header before is a few kilobytes at most, every name in it cut); false
 * otherwise. */
static bool put_text(struct buf *b, const char *text, size_t len)
{
	if (b->len + len + NOTE_RESERVE > REPORT_MARKDOWN_MAX)
		return false;
	buf_add(b, text, len);
	return true;
}

static bool put_row(struct buf *b, const struct buf *row)
{
	return put_text(b, row->data, row->len);
}

static void put_cut_note(struct buf *b, long left, const char *what)
{
	buf_addf(b, "\n_…and %ld more %s: the summary is cut to stay under 1 MiB; "
		    "the JSON report has them all._\n", left, what);
}

static void put_strata(struct buf *b, const struct report *r)
{
	static const char head[] = "| stratum | cases | eval | prod | diff | verdict |\n"
				   "|---|--:|--:|--:|--:|---|\n";
	long total = 0, done = 0;
	struct buf row;

	for (size_t i = 0; i < r->nstrata; i++)
		total += r->strata[i].selected;
	if (!put_text(b, head, strlen(head))) {
		put_cut_note(b, total, "strata");
		return;
	}
	buf_init(&row, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < r->nstrata; i++) {
		const struct report_stratum *s = &r->strata[i];
		if (!s->selected)
			continue;
		int diff = s->passed[SIDE_PROD] - s->passed[SIDE_EVAL];
		buf_reset(&row);
		buf_addstr(&row, "| ");
		md_add(&row, s->name, NAME_MAX_MD);
		buf_addf(&row, " | %d | %d/%d | %d/%d | ", s->ncases, s->passed[SIDE_EVAL],
			 s->ncases, s->passed[SIDE_PROD], s->ncases);
		buf_addf(&row, diff ? "%+d" : "%d", diff);
		buf_addf(&row, s->verdict == VERDICT_PASS ? " | %s |\n" : " | **%s** |\n",
			 verdict_name(s->verdict));
		if (!put_row(b, &row))
			break;
		done++;
	}
	buf_release(&row);
	if (done < total)
		put_cut_note(b, total - done, "strata");
}

/* put_telemetry_row: side's latency, time to first token (with
 * streamed), tokens, cost and retries over stratum (SIZE_MAX: the run,
 * "all") as one table row; "-" where none. */
static void put_telemetry_row(struct buf *row, const struct report *r, size_t stratum,
			      enum side side, bool streamed)
{
	struct report_telemetry t;
	report_telemetry(r, stratum, side, &t);
	buf_reset(row);
	buf_addstr(row, "| ");
	md_add(row, stratum == SIZE_MAX ? "all" : r->strata[stratum].name, NAME_MAX_MD);
	buf_addf(row, " | %s |", side_name(side));
	if (t.timed)
		buf_addf(row, " %.0f | %.0f | %.0f |", t.p50_ms, t.p95_ms, t.max_ms);
	else
		buf_addstr(row, " - | - | - |");
	if (streamed && t.streamed)
		buf_addf(row, " %.0f | %.0f | %.0f |", t.ttft_p50_ms, t.ttft_p95_ms, t.ttft_max_ms);
	else if (streamed)
		buf_addstr(row, " - | - | - |");
	buf_addf(row, t.tokens.input >= 0 ? " %lld |" : " - |", t.tokens.input);
	buf_addf(row, t.tokens.output >= 0 ? " %lld |" : " - |", t.tokens.output);
	buf_addf(row, t.cost_usd >= 0 ? " %.4f |" : " - |", t.cost_usd);
	buf_addf(row, " %ld |\n", t.retries);
}

/* put_telemetry: latency, time to first token (when some sample was
 * streamed), tokens, cost and retries per stratum and target, then over the
 * run, folded away under the strata. */
static void put_telemetry(struct buf *b, const struct report *r)
{
	static const char head[] =
		"\n<details><summary>Latency, tokens and cost</summary>\n\n"
		"| stratum | target | p50 ms | p95 ms | max ms | tokens in | tokens out | "
		"cost usd | retries |\n"
		"|---|---|--:|--:|--:|--:|--:|--:|--:|\n";
	static const char head_streamed[] =
		"\n<details><summary>Latency, tokens and cost</summary>\n\n"
		"| stratum | target | p50 ms | p95 ms | max ms | ttft p50 | ttft p95 | ttft max | "
		"tokens in | tokens out | cost usd | retries |\n"
		"|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";
	static const char foot[] = "\n</details>\n";
	bool streamed = report_streamed(r);
	const char *h = streamed ? head_streamed : head;
	struct buf row;

	if (!put_text(b, h, strlen(h)))
		return;
	buf_init(&row, BUF_MAX_DEFAULT);
	for (size_t i = 0; i <= r->nstrata; i++) {
		size_t stratum = i < r->nstrata ? i : SIZE_MAX;
		if (stratum != SIZE_MAX && !r->strata[i].selected)
			continue;
		for (int side = 0; side < SIDE__COUNT; side++) {
			put_telemetry_row(&row, r, stratum, (enum side)side, streamed);
			if (b->len + row.len + strlen(foot) + NOTE_RESERVE > REPORT_MARKDOWN_MAX)
				goto out;
			buf_add(b, row.data, row.len);
		}
	}
out:
	buf_addstr(b, foot);
	buf_release(&row);
}

/* put_side_cell: a side's summary and its first reasons. */
static void put_side_cell(struct buf *b, const struct report_case *c, enum side side)
{
	char *failures[REPORT_FAILURES_MAX];
	size_t n = report_side_failures(&c->side[side], failures);
	char *summary = report_side_summary(c, side);

	md_add(b, summary, REASON_MAX_MD);
	free(summary);
	for (size_t i = 0; i < n; i++) {
		if (i < REASONS_MAX_MD) {
			buf_addstr(b, "<br>• ");
			md_add(b, failures[i], REASON_MAX_MD);
		}
		free(failures[i]);
	}
	if (n > REASONS_MAX_MD)
		buf_addf(b, "<br>• …and %zu more", n - REASONS_MAX_MD);
}

static void put_cases(struct buf *b, const struct report *r)
{
	struct buf row;
	long left = 0;
	bool heading = false, full = false;

	buf_init(&row, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		enum verdict v = c->verdict;
		if (c->skipped || v == VERDICT_PASS)
			continue;
		if (full) {
			left++;
			continue;
		}
		if (!heading) {
			static const char head[] = "\n### Cases that did not pass\n\n"
						   "| case | verdict | eval | prod |\n"
						   "|---|---|---|---|\n";
			if (!put_text(b, head, strlen(head))) {
				full = true;
				left++;
				continue;
			}
			heading = true;
		}
		buf_reset(&row);
		buf_addstr(&row, "| ");
		md_add(&row, r->strata[c->stratum].name, NAME_MAX_MD);
		buf_addch(&row, '/');
		md_add(&row, c->id, NAME_MAX_MD);
		buf_addf(&row, r->strict && v == VERDICT_FLAKY ? " | **%s**" : " | %s",
			 verdict_name(v));
		if (c->confirmed)
			buf_addstr(&row, c->by_stratum ? " (confirmed by its stratum)" : " (confirmed)");
		if (c->note && *c->note) {
			buf_addstr(&row, "<br>");
			md_add(&row, c->note, REASON_MAX_MD);
		}
		buf_addstr(&row, " | ");
		put_side_cell(&row, c, SIDE_EVAL);
		buf_addstr(&row, " | ");
		put_side_cell(&row, c, SIDE_PROD);
		buf_addstr(&row, " |\n");
		if (!put_row(b, &row)) {
			full = true;
			left++;
		}
	}
	if (left > 0)
		put_cut_note(b, left, left == 1 ? "case that did not pass"
					       : "cases that did not pass");
	buf_release(&row);
}

/* put_one_sample_note: failing verdicts that one sample a side decided. */
static void put_one_sample_note(struct buf *b, const struct report *r)
{
	long n = 0;

	for (size_t i = 0; i < r->ncases; i++)
		n += !r->cases[i].skipped && !report_case_repeated(&r->cases[i]) &&
		     verdict_failing(r->cases[i].verdict);
	if (n > 0)
		buf_addf(b, "\n> %ld failing %s decided by one sample a side, which cannot tell a "
			    "broken case from a noisy one; rerun with `--confirm 9` to test %s.\n",
			 n, plural(n, "verdict was", "verdicts were"), plural(n, "it", "them"));
}

int report_markdown(FILE *f, const struct report *r, char **err)
{
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	put_header(&b, r);
	put_strata(&b, r);
	put_telemetry(&b, r);
	put_cases(&b, r);
	put_one_sample_note(&b, r);
	fwrite(b.data, 1, b.len, f);
	buf_release(&b);
	return report_flush(f, err);
}
