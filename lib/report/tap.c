/* report/tap.c: TAP version 14, one test point per case in suite order,
 * a YAML diagnostic block under each case that did not pass. */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "report/verdict.h"

#define NAME_MAX_TAP 1024
#define REASON_MAX_TAP 4000

/* bad_char: what util_char_unsafe() names, and U+FEFF, U+FFFE and U+FFFF,
 * which neither a TAP line nor YAML may carry as they are. */
static bool bad_char(const unsigned char *p, size_t len)
{
	return util_char_unsafe(p, len) ||
	       (len == 3 && ((p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) ||
			     (p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe)));
}

/* desc_add: s in a test point description: '#' and '\' escaped as TAP 14
 * asks, anything that is not printable as U+FFFD. */
static void desc_add(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	for (size_t i = 0; i < n;) {
		if (i >= NAME_MAX_TAP) {
			buf_addstr(b, "...");
			break;
		}
		size_t len = util_utf8_len(p + i, n - i);
		if (bad_char(p + i, len)) {
			buf_addstr(b, "\xef\xbf\xbd");
			i += len ? len : 1;
			continue;
		}
		if (p[i] == '#' || p[i] == '\\')
			buf_addch(b, '\\');
		buf_add(b, p + i, len);
		i += len;
	}
}

/* yaml_add: s as a YAML double-quoted scalar. */
static void yaml_add(struct buf *b, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	buf_addch(b, '"');
	for (size_t i = 0; i < n;) {
		if (i >= max) {
			buf_addstr(b, "...");
			break;
		}
		size_t len = util_utf8_len(p + i, n - i);
		if (len == 0) {
			buf_addstr(b, "\\uFFFD");
			i++;
			continue;
		}
		if (p[i] == '"' || p[i] == '\\') {
			buf_addch(b, '\\');
			buf_addch(b, (char)p[i]);
		} else if (p[i] == '\n') {
			buf_addstr(b, "\\n");
		} else if (p[i] == '\t') {
			buf_addstr(b, "\\t");
		} else if (p[i] == '\r') {
			buf_addstr(b, "\\r");
		} else if (bad_char(p + i, len)) {
			unsigned long cp = util_utf8_cp(p + i, len);
			if (cp < 0x100)
				buf_addf(b, "\\x%02lX", cp);
			else
				buf_addf(b, "\\u%04lX", cp);
		} else {
			buf_add(b, p + i, len);
		}
		i += len;
	}
	buf_addch(b, '"');
}

static void put_side(struct buf *b, const struct report_case *c, enum side side)
{
	const struct report_side *s = &c->side[side];
	char *failures[REPORT_FAILURES_MAX];
	size_t n = report_side_failures(s, failures);

	buf_addf(b, "  %s:\n", side_name(side));
	buf_addf(b, "    ok: %s\n", report_side_ok(c, side) ? "true" : "false");
	buf_addf(b, "    passed: %d\n    failed: %d\n    errors: %d\n    total: %d\n", s->passed,
		 s->failed, s->errors, report_side_total(s));
	if (n > 0)
		buf_addstr(b, "    reasons:\n");
	for (size_t i = 0; i < n; i++) {
		buf_addstr(b, "      - ");
		yaml_add(b, failures[i], REASON_MAX_TAP);
		buf_addch(b, '\n');
		free(failures[i]);
	}
}

/* put_point: test point n for case c; a flaky case is "not ok" when strict
 * (--strict: it fails the run). */
static void put_point(struct buf *b, size_t n, const struct report *r, const struct report_case *c)
{
	enum verdict v = c->skipped ? VERDICT_ERROR : c->verdict;
	bool ok = c->skipped || v == VERDICT_PASS || (v == VERDICT_FLAKY && !r->strict);

	buf_addf(b, "%sok %zu - ", ok ? "" : "not ", n);
	desc_add(b, r->strata[c->stratum].name);
	buf_addch(b, '/');
	desc_add(b, c->id);
	if (c->skipped) {
		buf_addstr(b, " # SKIP filtered out\n");
		return;
	}
	if (v == VERDICT_PASS) {
		buf_addch(b, '\n');
		return;
	}
	buf_addf(b, " # %s\n  ---\n  verdict: %s\n  threshold: %g\n", verdict_name(v),
		 verdict_name(v), c->threshold);
	for (int side = 0; side < SIDE__COUNT; side++)
		put_side(b, c, (enum side)side);
	buf_addstr(b, "  ...\n");
}

int report_tap(FILE *f, const struct report *r, char **err)
{
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	fprintf(f, "TAP version 14\n1..%zu\n", r->ncases);
	for (size_t i = 0; i < r->ncases; i++) {
		buf_reset(&b);
		put_point(&b, i + 1, r, &r->cases[i]);
		fwrite(b.data, 1, b.len, f);
	}
	if (r->interrupted)
		fputs("# interrupted: the run was stopped before every sample finished\n", f);
	fprintf(f, "# verdict: %s (exit %d)\n", verdict_name(r->verdict), r->exit_code);
	buf_release(&b);
	return report_flush(f, err);
}
