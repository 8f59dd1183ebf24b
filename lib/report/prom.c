/* report/prom.c: Prometheus text exposition format 0.0.4, for
 * node_exporter's textfile collector (write it with report_write_atomic()). */
#include "report/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fingerprint/fingerprint.h"
#include "util.h"
#include "report/verdict.h"

/* Longest label value written whole; a longer one is cut and marked with
 * a hash of the whole value. */
#define LABEL_MAX 4096
/* Hex digits of that hash. */
#define LABEL_HASH_DIGITS 12

/* label_hash: the first LABEL_HASH_DIGITS hex digits of the SHA-256 of s
 * (of its 64-bit FNV-1a hash should SHA-256 fail). */
static void label_hash(const char *s, char out[LABEL_HASH_DIGITS + 1])
{
	char *sha = fingerprint_sha256(s, strlen(s));

	if (sha) {
		snprintf(out, LABEL_HASH_DIGITS + 1, "%s", sha + strlen(FINGERPRINT_PREFIX));
		free(sha);
		return;
	}
	uint64_t h = 1469598103934665603ull;
	for (const char *p = s; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	char hex[17];
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)h);
	snprintf(out, LABEL_HASH_DIGITS + 1, "%.*s", LABEL_HASH_DIGITS, hex);
}

/* label_value: s with invalid UTF-8 as U+FFFD; when longer than LABEL_MAX,
 * cut at a character boundary and ended with "...~" and the first hex
 * digits of the SHA-256 of the whole of s, so that values sharing their
 * first LABEL_MAX bytes still make distinct series. */
static char *label_value(const char *s)
{
	/* Enough to tell whether the clean value is longer than LABEL_MAX. */
	char *clean = report_clean(s, LABEL_MAX + 4);
	size_t len = strlen(clean);

	if (len <= LABEL_MAX)
		return clean;
	char hash[LABEL_HASH_DIGITS + 1];
	size_t cut = LABEL_MAX;
	label_hash(s, hash);
	while (cut > 0 && ((unsigned char)clean[cut] & 0xc0) == 0x80)
		cut--;
	char *out = xasprintf("%.*s...~%s", (int)cut, clean, hash);
	free(clean);
	return out;
}

/* label_add: a label value (label_value()) with \\, \" and \n escaped as
 * the format asks, and the other controls util_char_unsafe() names as
 * U+FFFD. */
static void label_add(struct buf *b, const char *s)
{
	char *clean = label_value(s);
	size_t n = strlen(clean);

	for (const unsigned char *p = (const unsigned char *)clean, *end = p + n; p < end;) {
		size_t len = util_utf8_len(p, (size_t)(end - p));
		switch (*p) {
		case '\\': buf_addstr(b, "\\\\"); break;
		case '"': buf_addstr(b, "\\\""); break;
		case '\n': buf_addstr(b, "\\n"); break;
		default:
			if (util_char_unsafe(p, len))
				buf_addstr(b, "\xef\xbf\xbd");
			else
				buf_add(b, p, len);
			break;
		}
		p += len ? len : 1;
	}
	free(clean);
}

static void put_family_of(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_family(struct buf *b, const char *name, const char *help)
{
	put_family_of(b, name, "gauge", help);
}

/* put_sample: name{label="value",...} value; labels is a NULL-ended list
 * of name, value pairs. */
static void put_sample(struct buf *b, const char *name, const char *const *labels, double v)
{
	buf_addf(b, "%s{", name);
	for (size_t i = 0; labels[i]; i += 2) {
		buf_addf(b, "%s%s=\"", i ? "," : "", labels[i]);
		label_add(b, labels[i + 1]);
		buf_addch(b, '"');
	}
	buf_addf(b, "} %.15g\n", v);
}

/* parse_rfc3339: "2026-01-02T03:04:05Z" into unix seconds; 0 when it is
 * not in that form. */
static double parse_rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);

	if (!end)
		return 0;
	double frac = 0;
	if (*end == '.') {
		char *after;
		frac = strtod(end, &after);
		end = after;
	}
	if (strcmp(end, "Z") != 0)
		return 0;
	return (double)timegm(&tm) + frac;
}

/* Durations of one stratum and target: how many, their sum, p50, p95 and
 * max in ms. */
struct durations {
	long n;
	double sum, p50, p95, max;
};

/* put_durations: d (per stratum and target, nstrata * SIDE__COUNT) as the
 * summary name (quantiles 0.5 and 0.95 when there are durations; _sum and
 * _count where there are, or for every selected stratum with all) and
 * their max as the gauge name_max. */
static void put_durations(struct buf *b, const struct report *r, const char *suite,
			  const char *const name[2], const char *const help[2],
			  const struct durations *d, bool all)
{
	char *sum = xasprintf("%s_sum", name[0]), *count = xasprintf("%s_count", name[0]);
	put_family_of(b, name[0], "summary", help[0]);
	for (size_t k = 0; k < r->nstrata * SIDE__COUNT; k++) {
		const struct report_stratum *s = &r->strata[k / SIDE__COUNT];
		const char *target = side_name((enum side)(k % SIDE__COUNT));
		if (!s->selected || (!all && !d[k].n))
			continue;
		const struct {
			const char *quantile;
			double ms;
		} q[] = {{"0.5", d[k].p50}, {"0.95", d[k].p95}};
		for (size_t j = 0; d[k].n && j < ARRAY_SIZE(q); j++) {
			const char *labels[] = {"suite", suite, "stratum", s->name, "target", target,
						"quantile", q[j].quantile, NULL};
			put_sample(b, name[0], labels, q[j].ms / 1000);
		}
		const char *labels[] = {"suite", suite, "stratum", s->name, "target", target, NULL};
		put_sample(b, sum, labels, d[k].sum / 1000);
		put_sample(b, count, labels, (double)d[k].n);
	}
	put_family(b, name[1], help[1]);
	for (size_t k = 0; k < r->nstrata * SIDE__COUNT; k++) {
		const struct report_stratum *s = &r->strata[k / SIDE__COUNT];
		const char *labels[] = {"suite", suite, "stratum", s->name, "target",
					side_name((enum side)(k % SIDE__COUNT)), NULL};
		if (s->selected && d[k].n)
			put_sample(b, name[1], labels, d[k].max / 1000);
	}
	free(sum);
	free(count);
}

/* put_telemetry: request latency and, when some sample was streamed, the
 * time to first token as summaries, and tokens, cost and retries as
 * gauges, per stratum and target. */
static void put_telemetry(struct buf *b, const struct report *r, const char *suite)
{
	static const char *const lat[2] = {"canary_request_duration_seconds",
					   "canary_request_duration_max_seconds"};
	static const char *const lat_help[2] = {
		"Latency of the requests a response came to in the last run, per stratum "
		"and target.",
		"Longest latency of a request a response came to in the last run."};
	static const char *const ttft[2] = {"canary_time_to_first_token_seconds",
					    "canary_time_to_first_token_max_seconds"};
	static const char *const ttft_help[2] = {
		"Time to the first token of the streamed samples of the last run, per stratum "
		"and target.",
		"Longest time to the first token of a streamed sample in the last run."};
	size_t n = r->nstrata * SIDE__COUNT;
	struct report_telemetry *t = xcalloc(n + 1, sizeof(*t));
	struct durations *dl = xcalloc(n + 1, sizeof(*dl)), *dt = xcalloc(n + 1, sizeof(*dt));
	for (size_t k = 0; k < n; k++) {
		if (r->strata[k / SIDE__COUNT].selected)
			report_telemetry(r, k / SIDE__COUNT, (enum side)(k % SIDE__COUNT), &t[k]);
		dl[k] = (struct durations){t[k].timed, t[k].sum_ms, t[k].p50_ms, t[k].p95_ms,
					   t[k].max_ms};
		dt[k] = (struct durations){t[k].streamed, t[k].ttft_sum_ms, t[k].ttft_p50_ms,
					   t[k].ttft_p95_ms, t[k].ttft_max_ms};
	}
	put_durations(b, r, suite, lat, lat_help, dl, true);
	if (report_streamed(r))
		put_durations(b, r, suite, ttft, ttft_help, dt, false);
	free(dl);
	free(dt);
	put_family(b, "canary_tokens",
		   "Tokens the replies of the last run declared, by kind (input, output, "
		   "total, cached, reasoning).");
	for (size_t k = 0; k < r->nstrata * SIDE__COUNT; k++) {
		const struct report_stratum *s = &r->strata[k / SIDE__COUNT];
		for (const struct report_usage_field *f = report_usage_fields;
		     s->selected && f->name; f++) {
			long long v = *(const long long *)((const char *)&t[k].tokens + f->offset);
			const char *labels[] = {"suite", suite, "stratum", s->name, "target",
						side_name((enum side)(k % SIDE__COUNT)), "kind",
						f->name, NULL};
			if (v >= 0)
				put_sample(b, "canary_tokens", labels, (double)v);
		}
	}
	put_family(b, "canary_cost_usd",
		   "What the last run's requests cost in US dollars, from the tokens declared "
		   "and the target's price.");
	for (size_t k = 0; k < r->nstrata * SIDE__COUNT; k++) {
		const struct report_stratum *s = &r->strata[k / SIDE__COUNT];
		const char *labels[] = {"suite", suite, "stratum", s->name, "target",
					side_name((enum side)(k % SIDE__COUNT)), NULL};
		if (s->selected && t[k].cost_usd >= 0)
			put_sample(b, "canary_cost_usd", labels, t[k].cost_usd);
	}
	put_family(b, "canary_retries", "Requests of the last run that were retries.");
	for (size_t k = 0; k < r->nstrata * SIDE__COUNT; k++) {
		const struct report_stratum *s = &r->strata[k / SIDE__COUNT];
		const char *labels[] = {"suite", suite, "stratum", s->name, "target",
					side_name((enum side)(k % SIDE__COUNT)), NULL};
		if (s->selected)
			put_sample(b, "canary_retries", labels, (double)t[k].retries);
	}
	free(t);
}

int report_prom(FILE *f, const struct report *r, char **err)
{
	const char *suite = r->suite ? r->suite : "";
	struct buf b;

	buf_init(&b, SIZE_MAX);
	put_family(&b, "canary_stratum_pass_ratio",
		   "Cases of the stratum that pass on the target, as a fraction of its cases.");
	for (size_t i = 0; i < r->nstrata; i++) {
		const struct report_stratum *s = &r->strata[i];
		if (!s->selected)
			continue;
		for (int side = 0; side < SIDE__COUNT; side++) {
			const char *labels[] = {"suite", suite, "stratum", s->name,
						"target", side_name((enum side)side), NULL};
			put_sample(&b, "canary_stratum_pass_ratio", labels,
				   s->ncases > 0 ? (double)s->passed[side] / s->ncases : 0);
		}
	}

	put_family(&b, "canary_case_failed",
		   "1 when the case did not pass on the target, 0 when it passed.");
	for (size_t i = 0; i < r->ncases; i++) {
		const struct report_case *c = &r->cases[i];
		if (c->skipped)
			continue;
		for (int side = 0; side < SIDE__COUNT; side++) {
			const char *labels[] = {"suite", suite, "stratum", r->strata[c->stratum].name,
						"case", c->id, "target", side_name((enum side)side),
						NULL};
			put_sample(&b, "canary_case_failed", labels,
				   !report_side_ok(c, (enum side)side));
		}
	}

	put_family(&b, "canary_run_verdict",
		   "1 for the verdict of the last run, 0 for every other verdict.");
	for (int v = 0; v < VERDICT__COUNT; v++) {
		const char *labels[] = {"suite", suite, "verdict", verdict_name((enum verdict)v),
					NULL};
		put_sample(&b, "canary_run_verdict", labels, v == (int)r->verdict);
	}

	const char *suite_label[] = {"suite", suite, NULL};
	put_family(&b, "canary_run_duration_seconds", "Wall time of the last run.");
	put_sample(&b, "canary_run_duration_seconds", suite_label, r->duration_ms / 1000);
	put_family(&b, "canary_run_timestamp_seconds",
		   "When the last run started, in seconds since the Unix epoch.");
	put_sample(&b, "canary_run_timestamp_seconds", suite_label,
		   parse_rfc3339(r->started_at ? r->started_at : ""));
	put_family(&b, "canary_exit_code",
		   "Exit code of the last run: 0 pass, 1 failing cases, 3 errors, "
		   "130 interrupted.");
	put_sample(&b, "canary_exit_code", suite_label, r->exit_code);

	put_telemetry(&b, r, suite);

	put_family(&b, "canary_unevaluated_fingerprints",
		   "Compositions prod served in the last run that eval never served.");
	put_sample(&b, "canary_unevaluated_fingerprints", suite_label,
		   (double)report_unevaluated_count(r));

	put_family(&b, "canary_fingerprint_info",
		   "Fingerprints the targets reported in the last run (always 1).");
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_target *t = &r->targets[side];
		for (size_t k = 0; k < t->nfingerprints; k++) {
			const char *labels[] = {"suite", suite, "target", side_name((enum side)side),
						"fingerprint", t->fingerprints[k].value, NULL};
			put_sample(&b, "canary_fingerprint_info", labels, 1);
		}
	}

	fwrite(b.data, 1, b.len, f);
	buf_release(&b);
	return report_flush(f, err);
}
