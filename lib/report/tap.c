/* report/tap.c: TAP version 14, one test point per case in suite order,
 * a YAML diagnostic block under each case that did not pass. */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "report/verdict.h"

#define NAME_MAX_TAP 1024
#define REASON_MAX_TAP 4000

static const char *const side_keys[] = {"eval", "prod"};

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

static void put_side(struct buf *b, const cJSON *c, const char *key)
{
	const cJSON *side = cJSON_GetObjectItemCaseSensitive(c, key);
	const cJSON *failures = cJSON_GetObjectItemCaseSensitive(side, "failures");
	const cJSON *reason;

	buf_addf(b, "  %s:\n", key);
	buf_addf(b, "    ok: %s\n",
		 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(side, "ok")) ? "true" : "false");
	buf_addf(b, "    passed: %d\n    failed: %d\n    errors: %d\n    total: %d\n",
		 report_int(side, "passed"), report_int(side, "failed"),
		 report_int(side, "errors"), report_int(side, "total"));
	if (cJSON_GetArraySize(failures) == 0)
		return;
	buf_addstr(b, "    reasons:\n");
	cJSON_ArrayForEach(reason, failures) {
		buf_addstr(b, "      - ");
		yaml_add(b, reason->valuestring, REASON_MAX_TAP);
		buf_addch(b, '\n');
	}
}

/* put_point: test point n for item; a flaky case is "not ok" when strict
 * (--strict: it fails the run). */
static void put_point(struct buf *b, size_t n, const struct report_item *item, bool strict)
{
	const cJSON *c = item->c;
	enum verdict v = VERDICT_ERROR;
	bool ok;

	if (!item->skipped)
		verdict_parse(report_str(c, "verdict"), &v);
	ok = item->skipped || v == VERDICT_PASS || (v == VERDICT_FLAKY && !strict);
	buf_addf(b, "%sok %zu - ", ok ? "" : "not ", n);
	desc_add(b, report_str(c, "stratum"));
	buf_addch(b, '/');
	desc_add(b, report_str(c, "id"));
	if (item->skipped) {
		buf_addstr(b, " # SKIP filtered out\n");
		return;
	}
	if (v == VERDICT_PASS) {
		buf_addch(b, '\n');
		return;
	}
	buf_addf(b, " # %s\n  ---\n  verdict: %s\n  threshold: %g\n", verdict_name(v),
		 verdict_name(v), report_num(c, "threshold"));
	for (size_t side = 0; side < ARRAY_SIZE(side_keys); side++)
		put_side(b, c, side_keys[side]);
	buf_addstr(b, "  ...\n");
}

int report_tap(FILE *f, const cJSON *report, char **err)
{
	bool strict = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "strict"));
	struct report_layout l;
	struct buf b;

	if (report_check(report, err) < 0)
		return -1;
	report_layout_init(&l, report);
	buf_init(&b, BUF_MAX_DEFAULT);
	fprintf(f, "TAP version 14\n1..%zu\n", l.nitems);
	for (size_t i = 0; i < l.nitems; i++) {
		buf_reset(&b);
		put_point(&b, i + 1, &l.items[i], strict);
		fwrite(b.data, 1, b.len, f);
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "interrupted")))
		fputs("# interrupted: the run was stopped before every sample finished\n", f);
	fprintf(f, "# verdict: %s (exit %d)\n", report_str(report, "verdict"),
		report_int(report, "exit_code"));
	buf_release(&b);
	report_layout_release(&l);
	return report_flush(f, err);
}
