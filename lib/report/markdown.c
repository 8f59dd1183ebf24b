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

static const char *const side_keys[] = {"eval", "prod"};

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

static bool report_strict(const cJSON *report)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "strict"));
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

static enum verdict verdict_of(const cJSON *o)
{
	enum verdict v = VERDICT_ERROR;

	verdict_parse(report_str(o, "verdict"), &v);
	return v;
}

static const char *plural(long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* case_finished: every sample of both sides finished. */
static bool case_finished(const cJSON *c)
{
	int repeat = report_int(c, "repeat");

	for (size_t side = 0; side < ARRAY_SIZE(side_keys); side++) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(c, side_keys[side]);
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "samples")) < repeat)
			return false;
	}
	return true;
}

/* put_verdict_line: the text report's verdict line, from the tree, naming
 * the first STRATA_LISTED_MAX strata of the worst verdict. */
static void put_verdict_line(struct buf *b, const cJSON *report)
{
	const cJSON *cases = cJSON_GetObjectItemCaseSensitive(report, "cases");
	enum verdict v = verdict_of(report);
	long ncases = 0, errors = 0, finished = 0, n = 0;
	const cJSON *o;

	cJSON_ArrayForEach(o, cases) {
		ncases++;
		errors += verdict_of(o) == VERDICT_ERROR;
		finished += case_finished(o);
	}
	buf_addf(b, "%s **", icon(v, report_strict(report)));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "interrupted")))
		buf_addf(b, "interrupted after %ld of %ld %s — ", finished, ncases,
			 plural(ncases, "case", "cases"));
	buf_addf(b, "%s**", verdict_name(v));
	if (v == VERDICT_ERROR) {
		buf_addf(b, " — %ld %s could not be measured", errors,
			 plural(errors, "case", "cases"));
	} else if (v != VERDICT_PASS) {
		cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(report, "strata")) {
			if (verdict_of(o) != v)
				continue;
			if (n++ >= STRATA_LISTED_MAX)
				continue;
			buf_addstr(b, n > 1 ? ", " : " in ");
			md_add(b, report_str(o, "name"), NAME_MAX_MD);
		}
		if (n > STRATA_LISTED_MAX)
			buf_addf(b, " and %ld more", n - STRATA_LISTED_MAX);
	}
	if (v != VERDICT_ERROR && errors > 0)
		buf_addf(b, "; %ld %s could not be measured", errors,
			 plural(errors, "case", "cases"));
	buf_addf(b, " (exit %d)\n\n", report_int(report, "exit_code"));
}


static void put_header(struct buf *b, const cJSON *report)
{
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(report, "targets");
	long ncases = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(report, "cases"));
	long nstrata = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(report, "strata"));
	int filtered = report_int(report, "filtered");
	int samples = report_int(report, "samples");
	enum verdict v = verdict_of(report);
	char dur[32];

	buf_addf(b, "## %s canary: ", icon(v, report_strict(report)));
	md_add(b, report_str(report, "suite"), NAME_MAX_MD);
	buf_addf(b, " — %s\n\n", verdict_name(v));
	put_verdict_line(b, report);

	util_format_duration((long)report_num(report, "duration_ms"), dur);
	buf_addf(b, "%ld %s in %ld %s", ncases, plural(ncases, "case", "cases"), nstrata,
		 plural(nstrata, "stratum", "strata"));
	if (filtered > 0)
		buf_addf(b, " (%d filtered out)", filtered);
	buf_addf(b, ", %d %s", samples, plural(samples, "request", "requests"));
	long confirmed = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(report, "cases"))
		confirmed += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "confirmed"));
	if (confirmed > 0)
		buf_addf(b, " (%d to confirm %ld %s)", report_int(report, "confirm_samples"),
			 confirmed, plural(confirmed, "case", "cases"));
	buf_addf(b, ", %s, started ", dur);
	md_add(b, report_str(report, "started_at"), NAME_MAX_MD);
	buf_addstr(b, "\n\n| target | url | fingerprints |\n|---|---|---|\n");
	for (size_t side = 0; side < ARRAY_SIZE(side_keys); side++) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(targets, side_keys[side]);
		const cJSON *fp;
		int n = 0;
		buf_addf(b, "| %s | ", side_keys[side]);
		if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "url")))
			md_add(b, report_str(t, "url"), NAME_MAX_MD);
		else
			buf_addch(b, '-');
		buf_addstr(b, " | ");
		cJSON_ArrayForEach(fp, cJSON_GetObjectItemCaseSensitive(t, "fingerprints")) {
			if (n++ == 8) {
				buf_addstr(b, ", ...");
				break;
			}
			buf_addstr(b, n > 1 ? ", " : "");
			md_add(b, fp->string, NAME_MAX_MD);
			buf_addf(b, " (%d)", (int)fp->valuedouble);
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

static void put_strata(struct buf *b, const cJSON *report)
{
	static const char head[] = "| stratum | cases | eval | prod | diff | verdict |\n"
				   "|---|--:|--:|--:|--:|---|\n";
	const cJSON *strata = cJSON_GetObjectItemCaseSensitive(report, "strata");
	long total = cJSON_GetArraySize(strata), done = 0;
	const cJSON *o;
	struct buf row;

	if (!put_text(b, head, strlen(head))) {
		put_cut_note(b, total, "strata");
		return;
	}
	buf_init(&row, BUF_MAX_DEFAULT);
	cJSON_ArrayForEach(o, strata) {
		const cJSON *eval = cJSON_GetObjectItemCaseSensitive(o, "eval");
		const cJSON *prod = cJSON_GetObjectItemCaseSensitive(o, "prod");
		int diff = report_int(o, "diff");
		buf_reset(&row);
		buf_addstr(&row, "| ");
		md_add(&row, report_str(o, "name"), NAME_MAX_MD);
		buf_addf(&row, " | %d | %d/%d | %d/%d | ", report_int(o, "cases"),
			 report_int(eval, "passed"), report_int(eval, "total"),
			 report_int(prod, "passed"), report_int(prod, "total"));
		buf_addf(&row, diff ? "%+d" : "%d", diff);
		enum verdict v = verdict_of(o);
		buf_addf(&row, v == VERDICT_PASS ? " | %s |\n" : " | **%s** |\n", verdict_name(v));
		if (!put_row(b, &row))
			break;
		done++;
	}
	buf_release(&row);
	if (done < total)
		put_cut_note(b, total - done, "strata");
}

/* put_side_cell: a side's summary and its first reasons. */
static void put_side_cell(struct buf *b, const cJSON *c, const char *key)
{
	const cJSON *side = cJSON_GetObjectItemCaseSensitive(c, key);
	const cJSON *failures = cJSON_GetObjectItemCaseSensitive(side, "failures");
	const cJSON *reason;
	char *summary = report_side_summary(side, report_num(c, "threshold"));
	int n = 0, more = cJSON_GetArraySize(failures) - REASONS_MAX_MD;

	md_add(b, summary, REASON_MAX_MD);
	free(summary);
	cJSON_ArrayForEach(reason, failures) {
		if (n++ == REASONS_MAX_MD)
			break;
		buf_addstr(b, "<br>• ");
		md_add(b, reason->valuestring, REASON_MAX_MD);
	}
	if (more > 0)
		buf_addf(b, "<br>• …and %d more", more);
}

static void put_cases(struct buf *b, const cJSON *report)
{
	bool strict = report_strict(report);
	struct report_layout l;
	struct buf row;
	long left = 0;
	bool heading = false, full = false;

	report_layout_init(&l, report);
	buf_init(&row, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < l.nitems; i++) {
		const cJSON *c = l.items[i].c;
		enum verdict v = verdict_of(c);
		if (l.items[i].skipped || v == VERDICT_PASS)
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
		md_add(&row, report_str(c, "stratum"), NAME_MAX_MD);
		buf_addch(&row, '/');
		md_add(&row, report_str(c, "id"), NAME_MAX_MD);
		buf_addf(&row, strict && v == VERDICT_FLAKY ? " | **%s**" : " | %s", verdict_name(v));
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "confirmed")))
			buf_addstr(&row, " (confirmed)");
		if (*report_str(c, "note")) {
			buf_addstr(&row, "<br>");
			md_add(&row, report_str(c, "note"), REASON_MAX_MD);
		}
		buf_addstr(&row, " | ");
		put_side_cell(&row, c, "eval");
		buf_addstr(&row, " | ");
		put_side_cell(&row, c, "prod");
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
	report_layout_release(&l);
}

/* put_one_sample_note: failing verdicts that one sample a side decided. */
static void put_one_sample_note(struct buf *b, const cJSON *report)
{
	const cJSON *c;
	long n = 0;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(report, "cases"))
		n += !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "repeated")) &&
		     verdict_failing(verdict_of(c));
	if (n > 0)
		buf_addf(b, "\n> %ld failing %s decided by one sample a side, which cannot tell a "
			    "broken case from a noisy one; rerun with `--confirm 9` to test %s.\n",
			 n, plural(n, "verdict was", "verdicts were"), plural(n, "it", "them"));
}

int report_markdown(FILE *f, const cJSON *report, char **err)
{
	struct buf b;

	if (report_check(report, err) < 0)
		return -1;
	buf_init(&b, BUF_MAX_DEFAULT);
	put_header(&b, report);
	put_strata(&b, report);
	put_cases(&b, report);
	put_one_sample_note(&b, report);
	fwrite(b.data, 1, b.len, f);
	buf_release(&b);
	return report_flush(f, err);
}
