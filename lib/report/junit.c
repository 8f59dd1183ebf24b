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

/* The testcase names written, for uniqueness. */
struct junit_names {
	struct strmap set;
	struct arena arena;
};

/* unique_name: the escaped name attribute of a testcase, with " (2)", " (3)"
 * ... appended when classname and name were already used (ids that differ
 * only in bytes XML cannot carry). */
static char *unique_name(struct junit_names *names, const char *classname, const char *id)
{
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	xml_add(&b, id && *id ? id : "(no id)", NAME_MAX_XML, true);
	char *base = buf_detach(&b, NULL);
	for (int k = 1;; k++) {
		char *name = k == 1 ? xstrdup(base) : xasprintf("%s (%d)", base, k);
		char *key = xasprintf("%s\x1f%s", classname, name);
		bool added = false;
		strmap_get(&names->set, &names->arena, key, &added);
		free(key);
		if (added) {
			free(base);
			return name;
		}
		free(name);
	}
}

/* case_seconds: the latencies of a case's samples, as the JSON has them. */
static double case_seconds(const struct report_case *c)
{
	double ms = 0;

	for (int side = 0; side < SIDE__COUNT; side++)
		for (size_t k = 0; k < c->side[side].nsamples; k++)
			ms += report_sample_latency(&c->side[side].samples[k]);
	return ms / 1000;
}

/* put_message: "drift: prod failed", "error: eval could not be measured". */
static void put_message(struct buf *b, const struct report_case *c)
{
	int n = 0;

	buf_addf(b, "%s: ", verdict_name(c->verdict));
	for (int side = 0; side < SIDE__COUNT; side++) {
		if (c->verdict == VERDICT_ERROR ? report_side_measured(&c->side[side])
						: report_side_ok(c, (enum side)side))
			continue;
		buf_addf(b, "%s%s", n++ ? " and " : "", side_name((enum side)side));
	}
	if (n == 0)
		buf_addstr(b, "eval and prod differ");
	else
		buf_addstr(b, c->verdict == VERDICT_ERROR ? " could not be measured" : " failed");
}

/* put_body: what each target did and why, as GitLab shows it. */
static void put_body(struct buf *b, const struct report_case *c, bool strict)
{
	enum verdict v = c->verdict;

	buf_addf(b, "%s: %s%s\n", verdict_name(v), verdict_meanings[v],
		 strict && v == VERDICT_FLAKY ? " (--strict fails it)" : "");
	if (c->note && *c->note) {
		buf_addstr(b, "note: ");
		xml_add(b, c->note, REASON_MAX_XML, false);
		buf_addch(b, '\n');
	}
	for (int side = 0; side < SIDE__COUNT; side++) {
		char *failures[REPORT_FAILURES_MAX];
		size_t n = report_side_failures(&c->side[side], failures);
		char *summary = report_side_summary(c, (enum side)side);
		buf_addf(b, "%s: %s\n", side_name((enum side)side), summary);
		free(summary);
		for (size_t i = 0; i < n; i++) {
			buf_addstr(b, "  - ");
			xml_add(b, failures[i], REASON_MAX_XML, false);
			buf_addch(b, '\n');
			free(failures[i]);
		}
	}
}

static void put_testcase(struct buf *b, struct junit_names *names, const char *classname,
			 const struct report_case *c, bool strict)
{
	char *name = unique_name(names, classname, c->id);
	enum verdict v = c->verdict;

	buf_addf(b, "    <testcase classname=\"%s\" name=\"%s\"", classname, name);
	free(name);
	if (c->skipped) {
		buf_addstr(b, " time=\"0.000\">\n      <skipped message=\"filtered out\"/>\n");
		buf_addstr(b, "    </testcase>\n");
		return;
	}
	buf_addf(b, " time=\"%.3f\"", case_seconds(c));
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
		put_message(&msg, c);
		buf_addf(b, "      <%s message=\"", element);
		xml_add(b, msg.data, NAME_MAX_XML, true);
		buf_addf(b, "\" type=\"%s\">", verdict_name(v));
		buf_release(&msg);
	}
	put_body(b, c, strict);
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
static void put_properties(struct buf *b, const struct report *r,
			   const struct report_stratum *stratum)
{
	buf_addstr(b, "    <properties>\n");
	put_property(b, "canary.suite", r->suite);
	put_property(b, "canary.run.verdict", verdict_name(r->verdict));
	if (stratum->selected) {
		put_property(b, "canary.stratum.verdict", verdict_name(stratum->verdict));
		if (stratum->description)
			put_property(b, "canary.stratum.description", stratum->description);
	}
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_target *t = &r->targets[side];
		const char *key = side_name((enum side)side);
		char name[32];
		snprintf(name, sizeof(name), "%s.url", key);
		if (t->url)
			put_property(b, name, t->url);
		snprintf(name, sizeof(name), "%s.fingerprint", key);
		for (size_t k = 0; k < t->nfingerprints && k < FINGERPRINTS_MAX_XML; k++)
			put_property(b, name, t->fingerprints[k].value);
		if (t->nfingerprints > FINGERPRINTS_MAX_XML) {
			char value[64];
			snprintf(name, sizeof(name), "%s.fingerprints.more", key);
			snprintf(value, sizeof(value), "%zu more in the JSON report",
				 t->nfingerprints - FINGERPRINTS_MAX_XML);
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

static void count_case(struct junit_counts *jc, const struct report_case *c, bool strict)
{
	jc->tests++;
	if (c->skipped) {
		jc->skipped++;
		return;
	}
	jc->failures += case_fails(c->verdict, strict);
	jc->errors += c->verdict == VERDICT_ERROR;
	jc->seconds += case_seconds(c);
}

static void put_counts(struct buf *b, const struct junit_counts *jc)
{
	buf_addf(b, " tests=\"%ld\" failures=\"%ld\" errors=\"%ld\" skipped=\"%ld\"", jc->tests,
		 jc->failures, jc->errors, jc->skipped);
}

/* put_testsuite: the testsuite of the stratum of cases [from, to). */
static void put_testsuite(struct buf *b, const struct report *r, size_t from, size_t to,
			  struct junit_names *names)
{
	const struct report_stratum *stratum = &r->strata[r->cases[from].stratum];
	struct junit_counts jc = {0};
	struct buf classname;

	for (size_t i = from; i < to; i++)
		count_case(&jc, &r->cases[i], r->strict);
	buf_addstr(b, "  <testsuite name=\"");
	xml_add(b, *stratum->name ? stratum->name : "(no name)", NAME_MAX_XML, true);
	buf_addstr(b, "\"");
	put_counts(b, &jc);
	buf_addf(b, " time=\"%.3f\" timestamp=\"", jc.seconds);
	xml_add(b, r->started_at, NAME_MAX_XML, true);
	buf_addstr(b, "\">\n");
	put_properties(b, r, stratum);

	buf_init(&classname, BUF_MAX_DEFAULT);
	xml_add(&classname, r->suite, NAME_MAX_XML, true);
	buf_addch(&classname, '.');
	xml_add(&classname, stratum->name, NAME_MAX_XML, true);
	for (size_t i = from; i < to; i++)
		put_testcase(b, names, classname.data, &r->cases[i], r->strict);
	buf_release(&classname);
	buf_addstr(b, "  </testsuite>\n");
}

int report_junit(FILE *f, const struct report *r, char **err)
{
	struct junit_counts all = {0};
	struct junit_names names = {0};
	struct buf b;

	buf_init(&b, SIZE_MAX);
	for (size_t i = 0; i < r->ncases; i++)
		count_case(&all, &r->cases[i], r->strict);
	buf_addstr(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"canary ");
	xml_add(&b, r->suite, NAME_MAX_XML, true);
	buf_addstr(&b, "\"");
	put_counts(&b, &all);
	buf_addf(&b, " time=\"%.3f\" timestamp=\"", r->duration_ms / 1000);
	xml_add(&b, r->started_at, NAME_MAX_XML, true);
	buf_addstr(&b, "\">\n");
	fwrite(b.data, 1, b.len, f);
	for (size_t from = 0; from < r->ncases;) {
		size_t to = from + 1;
		while (to < r->ncases && r->cases[to].stratum == r->cases[from].stratum)
			to++;
		buf_reset(&b);
		put_testsuite(&b, r, from, to, &names);
		fwrite(b.data, 1, b.len, f);
		from = to;
	}
	fputs("</testsuites>\n", f);
	buf_release(&b);
	strmap_release(&names.set);
	arena_release(&names.arena);
	return report_flush(f, err);
}
