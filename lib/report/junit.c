/* report/junit.c: JUnit XML for CI test views (GitLab, Jenkins, GitHub
 * actions that read JUnit): one testsuite per stratum, one testcase per case,
 * a failure or error whose body says what failed on each target and why. */
#include "report/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "report/verdict.h"

/* Longest name and reason written; the JSON report has them whole. */
#define NAME_MAX_XML 4096
#define REASON_MAX_XML 4000
/* Fingerprints listed per target in each testsuite's properties. */
#define FINGERPRINTS_MAX_XML 8

static const char *const side_keys[] = {"eval", "prod"};

/* What each verdict means, as the first line of a failure body. */
static const char *const verdict_meanings[VERDICT__COUNT] = {
	[VERDICT_PASS] = "passes on eval and prod",
	[VERDICT_FLAKY] = "eval and prod differ, or miss the threshold, but not significantly",
	[VERDICT_ERROR] = "could not be measured",
	[VERDICT_EVAL_REGRESSION] = "the eval composition breaks it; prod passes",
	[VERDICT_REGRESSION] = "fails on eval and on prod",
	[VERDICT_DRIFT] = "production diverged from what eval certified",
};

/* case_fails: whether a case of this verdict fails the run: drift,
 * eval-regression and regression, and flaky under --strict. */
static bool case_fails(enum verdict v, bool strict)
{
	return verdict_failing(v) || (strict && v == VERDICT_FLAKY);
}

static bool report_strict(const cJSON *report)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "strict"));
}

/* xml_char_ok: whether the character of the n-byte sequence at p may
 * appear in XML 1.0 and is not one util_char_unsafe() names (tab and line
 * breaks aside). */
static bool xml_char_ok(const unsigned char *p, size_t n)
{
	if (n == 1 && (p[0] == '\t' || p[0] == '\n' || p[0] == '\r'))
		return true;
	/* U+FFFE and U+FFFF */
	if (n == 3 && p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe)
		return false;
	return !util_char_unsafe(p, n);
}

/* xml_add: s escaped for XML text (attr false) or an attribute value (quotes
 * and white space as references too), with
 * characters XML 1.0 does not allow replaced by U+FFFD, cut after about max
 * bytes of s. */
static void xml_add(struct buf *b, const char *s, size_t max, bool attr)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	for (size_t i = 0; i < n;) {
		if (i >= max) {
			buf_addstr(b, "...");
			break;
		}
		size_t len = util_utf8_len(p + i, n - i);
		if (len == 0 || !xml_char_ok(p + i, len)) {
			buf_addstr(b, "\xef\xbf\xbd");
			i += len ? len : 1;
			continue;
		}
		switch (p[i]) {
		case '&': buf_addstr(b, "&amp;"); break;
		case '<': buf_addstr(b, "&lt;"); break;
		case '>': buf_addstr(b, "&gt;"); break;
		case '"': buf_addstr(b, attr ? "&quot;" : "\""); break;
		case '\'': buf_addstr(b, attr ? "&apos;" : "'"); break;
		case '\r': buf_addstr(b, "&#13;"); break;
		case '\n': buf_addstr(b, attr ? "&#10;" : "\n"); break;
		case '\t': buf_addstr(b, attr ? "&#9;" : "\t"); break;
		default: buf_add(b, p + i, len); break;
		}
		i += len;
	}
}

/* A set of strings (the testcase names written), for uniqueness. */
struct name_set {
	char **slots;
	size_t cap;
	size_t n;
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* name_set_add: add s, taking it, unless present; false (s not taken) when
 * present. */
static bool name_set_add(struct name_set *set, char *s)
{
	if (set->n * 2 >= set->cap) {
		struct name_set bigger = {xcalloc(set->cap ? set->cap * 2 : 64, sizeof(char *)),
					  set->cap ? set->cap * 2 : 64, 0};
		for (size_t i = 0; i < set->cap; i++)
			if (set->slots[i])
				name_set_add(&bigger, set->slots[i]);
		free(set->slots);
		*set = bigger;
	}
	size_t i = name_hash(s) & (set->cap - 1);
	for (; set->slots[i]; i = (i + 1) & (set->cap - 1))
		if (strcmp(set->slots[i], s) == 0)
			return false;
	set->slots[i] = s;
	set->n++;
	return true;
}

static void name_set_release(struct name_set *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
}

/* unique_name: the escaped name attribute of a testcase, with " (2)", " (3)"
 * ... appended when classname and name were already used (ids that differ
 * only in bytes XML cannot carry). */
static char *unique_name(struct name_set *set, const char *classname, const char *id)
{
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	xml_add(&b, *id ? id : "(no id)", NAME_MAX_XML, true);
	char *base = buf_detach(&b, NULL);
	for (int k = 1;; k++) {
		char *name = k == 1 ? xstrdup(base) : xasprintf("%s (%d)", base, k);
		char *key = xasprintf("%s\x1f%s", classname, name);
		if (name_set_add(set, key)) {
			free(base);
			return name;
		}
		free(key);
		free(name);
	}
}

static double case_seconds(const cJSON *c)
{
	double ms = 0;

	for (size_t side = 0; side < ARRAY_SIZE(side_keys); side++) {
		const cJSON *samples = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(c, side_keys[side]), "samples");
		const cJSON *s;
		cJSON_ArrayForEach(s, samples)
			ms += report_num(s, "latency_ms");
	}
	return ms / 1000;
}

/* put_message: "drift: prod failed", "error: eval could not be measured". */
static void put_message(struct buf *b, const cJSON *c, enum verdict v)
{
	const char *key = v == VERDICT_ERROR ? "measured" : "ok";
	int n = 0;

	buf_addf(b, "%s: ", verdict_name(v));
	for (size_t side = 0; side < ARRAY_SIZE(side_keys); side++) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(c, side_keys[side]);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key)))
			continue;
		buf_addf(b, "%s%s", n++ ? " and " : "", side_keys[side]);
	}
	if (n == 0)
		buf_addstr(b, "eval and prod differ");
	else
		buf_addstr(b, v == VERDICT_ERROR ? " could not be measured" : " failed");
}

/* put_body: what each target did and why, as GitLab shows it. */
static void put_body(struct buf *b, const cJSON *c, enum verdict v, bool strict)
{
	double threshold = report_num(c, "threshold");

	buf_addf(b, "%s: %s%s\n", verdict_name(v), verdict_meanings[v],
		 strict && v == VERDICT_FLAKY ? " (--strict fails it)" : "");
	if (*report_str(c, "note")) {
		buf_addstr(b, "note: ");
		xml_add(b, report_str(c, "note"), REASON_MAX_XML, false);
		buf_addch(b, '\n');
	}
	for (size_t side = 0; side < ARRAY_SIZE(side_keys); side++) {
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(c, side_keys[side]);
		const cJSON *reason;
		char *summary = report_side_summary(o, threshold);
		buf_addf(b, "%s: %s\n", side_keys[side], summary);
		free(summary);
		cJSON_ArrayForEach(reason, cJSON_GetObjectItemCaseSensitive(o, "failures")) {
			buf_addstr(b, "  - ");
			xml_add(b, reason->valuestring, REASON_MAX_XML, false);
			buf_addch(b, '\n');
		}
	}
}

static void put_testcase(struct buf *b, struct name_set *names, const char *classname,
			 const struct report_item *item, bool strict)
{
	const cJSON *c = item->c;
	char *name = unique_name(names, classname, report_str(c, "id"));
	enum verdict v = VERDICT_ERROR;

	buf_addf(b, "    <testcase classname=\"%s\" name=\"%s\"", classname, name);
	free(name);
	if (item->skipped) {
		buf_addstr(b, " time=\"0.000\">\n      <skipped message=\"filtered out\"/>\n");
		buf_addstr(b, "    </testcase>\n");
		return;
	}
	buf_addf(b, " time=\"%.3f\"", case_seconds(c));
	verdict_parse(report_str(c, "verdict"), &v);
	if (v == VERDICT_PASS) {
		buf_addstr(b, "/>\n");
		return;
	}
	buf_addstr(b, ">\n");
	const char *element = case_fails(v, strict) ? "failure"
			      : v == VERDICT_ERROR ? "error" : "system-out";
	if (v == VERDICT_FLAKY && !strict) {
		buf_addf(b, "      <%s>", element);
	} else {
		struct buf msg;
		buf_init(&msg, BUF_MAX_DEFAULT);
		put_message(&msg, c, v);
		buf_addf(b, "      <%s message=\"", element);
		xml_add(b, msg.data, NAME_MAX_XML, true);
		buf_addf(b, "\" type=\"%s\">", verdict_name(v));
		buf_release(&msg);
	}
	put_body(b, c, v, strict);
	buf_addf(b, "</%s>\n    </testcase>\n", element);
}

static void put_property(struct buf *b, const char *name, const char *value)
{
	buf_addf(b, "      <property name=\"%s\" value=\"", name);
	xml_add(b, value, NAME_MAX_XML, true);
	buf_addstr(b, "\"/>\n");
}

/* put_properties: the suite, the stratum's verdict and description, and
 * each target's URL and first fingerprints (how many more there are when
 * there are more). */
static void put_properties(struct buf *b, const cJSON *report, const cJSON *stratum)
{
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(report, "targets");

	buf_addstr(b, "    <properties>\n");
	put_property(b, "canary.suite", report_str(report, "suite"));
	put_property(b, "canary.run.verdict", report_str(report, "verdict"));
	if (stratum) {
		put_property(b, "canary.stratum.verdict", report_str(stratum, "verdict"));
		if (cJSON_GetObjectItemCaseSensitive(stratum, "description"))
			put_property(b, "canary.stratum.description",
				     report_str(stratum, "description"));
	}
	for (size_t side = 0; side < ARRAY_SIZE(side_keys); side++) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(targets, side_keys[side]);
		const cJSON *fp;
		char name[32];
		snprintf(name, sizeof(name), "%s.url", side_keys[side]);
		if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "url")))
			put_property(b, name, report_str(t, "url"));
		snprintf(name, sizeof(name), "%s.fingerprint", side_keys[side]);
		const cJSON *fps = cJSON_GetObjectItemCaseSensitive(t, "fingerprints");
		int n = 0, more = cJSON_GetArraySize(fps) - FINGERPRINTS_MAX_XML;
		cJSON_ArrayForEach(fp, fps)
			if (n++ < FINGERPRINTS_MAX_XML)
				put_property(b, name, fp->string);
		if (more > 0) {
			char value[64];
			snprintf(name, sizeof(name), "%s.fingerprints.more", side_keys[side]);
			snprintf(value, sizeof(value), "%d more in the JSON report", more);
			put_property(b, name, value);
		}
	}
	buf_addstr(b, "    </properties>\n");
}

/* Counts of a testsuite or of them all. */
struct junit_counts {
	long tests, failures, errors, skipped;
	double seconds;
};

static void count_item(struct junit_counts *jc, const struct report_item *item, bool strict)
{
	enum verdict v = VERDICT_ERROR;

	jc->tests++;
	if (item->skipped) {
		jc->skipped++;
		return;
	}
	verdict_parse(report_str(item->c, "verdict"), &v);
	jc->failures += case_fails(v, strict);
	jc->errors += v == VERDICT_ERROR;
	jc->seconds += case_seconds(item->c);
}

static void put_counts(struct buf *b, const struct junit_counts *jc)
{
	buf_addf(b, " tests=\"%ld\" failures=\"%ld\" errors=\"%ld\" skipped=\"%ld\"", jc->tests,
		 jc->failures, jc->errors, jc->skipped);
}

/* put_testsuite: the testsuite of the stratum of items [from, to). */
static void put_testsuite(struct buf *b, const cJSON *report, const struct report_layout *l,
			  size_t from, size_t to, struct name_set *names)
{
	const char *stratum = l->items[from].stratum < l->nstrata
			      ? l->strata[l->items[from].stratum] : "";
	struct junit_counts jc = {0};
	struct buf classname;

	for (size_t i = from; i < to; i++)
		count_item(&jc, &l->items[i], report_strict(report));
	buf_addstr(b, "  <testsuite name=\"");
	xml_add(b, *stratum ? stratum : "(no name)", NAME_MAX_XML, true);
	buf_addstr(b, "\"");
	put_counts(b, &jc);
	buf_addf(b, " time=\"%.3f\" timestamp=\"", jc.seconds);
	xml_add(b, report_str(report, "started_at"), NAME_MAX_XML, true);
	buf_addstr(b, "\">\n");
	put_properties(b, report, l->items[from].stratum < l->nstrata
				       ? l->stratum[l->items[from].stratum] : NULL);

	buf_init(&classname, BUF_MAX_DEFAULT);
	xml_add(&classname, report_str(report, "suite"), NAME_MAX_XML, true);
	buf_addch(&classname, '.');
	xml_add(&classname, stratum, NAME_MAX_XML, true);
	for (size_t i = from; i < to; i++)
		put_testcase(b, names, classname.data, &l->items[i], report_strict(report));
	buf_release(&classname);
	buf_addstr(b, "  </testsuite>\n");
}

int report_junit(FILE *f, const cJSON *report, char **err)
{
	struct report_layout l;
	struct junit_counts all = {0};
	struct name_set names = {0};
	struct buf b;

	if (report_check(report, err) < 0)
		return -1;
	report_layout_init(&l, report);
	buf_init(&b, SIZE_MAX);
	for (size_t i = 0; i < l.nitems; i++)
		count_item(&all, &l.items[i], report_strict(report));
	buf_addstr(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"canary ");
	xml_add(&b, report_str(report, "suite"), NAME_MAX_XML, true);
	buf_addstr(&b, "\"");
	put_counts(&b, &all);
	buf_addf(&b, " time=\"%.3f\" timestamp=\"", report_num(report, "duration_ms") / 1000);
	xml_add(&b, report_str(report, "started_at"), NAME_MAX_XML, true);
	buf_addstr(&b, "\">\n");
	fwrite(b.data, 1, b.len, f);
	for (size_t from = 0; from < l.nitems;) {
		size_t to = from + 1;
		while (to < l.nitems && l.items[to].stratum == l.items[from].stratum)
			to++;
		buf_reset(&b);
		put_testsuite(&b, report, &l, from, to, &names);
		fwrite(b.data, 1, b.len, f);
		from = to;
	}
	fputs("</testsuites>\n", f);
	buf_release(&b);
	name_set_release(&names);
	report_layout_release(&l);
	return report_flush(f, err);
}
