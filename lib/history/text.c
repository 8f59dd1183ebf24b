/* history/text.c: the history as text, for a terminal: runs, pass-rate
 * sparklines, flaky cases, fingerprints and the baseline check.  Every
 * string from the history is untrusted and goes through term(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history/history.h"
#include "report/report.h"
#include "util.h"

#define SPARK_MAX 48

/* The sparkline levels, lowest first. */
static const char *const spark[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};

/* term: s safe for a terminal: invalid UTF-8 replaced, and each byte of
 * what else util_char_unsafe() names (escape sequences and bidirectional
 * controls from an untrusted name) as '?', cut after about max bytes. */
static char *term(const char *s, size_t max)
{
	char *clean = report_clean(s ? s : "", max);
	size_t n = strlen(clean);
	for (unsigned char *p = (unsigned char *)clean, *end = p + n; p < end;) {
		size_t len = util_utf8_len(p, (size_t)(end - p));
		if (util_char_unsafe(p, len))
			memset(p, '?', len ? len : 1);
		p += len ? len : 1;
	}
	return clean;
}

/* columns: the display width of UTF-8 text (one column per character). */
static size_t columns(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (*p & 0xc0) != 0x80;
	return n;
}

/* name_width: width, or the columns of name shown (term()) when wider. */
static size_t name_width(size_t width, const char *name)
{
	char *shown = term(name, 64);
	size_t n = columns(shown);

	free(shown);
	return n > width ? n : width;
}

static void pad(FILE *f, const char *s, size_t width)
{
	fputs(s, f);
	for (size_t n = columns(s); n < width; n++)
		fputc(' ', f);
}

void history_text_percent(double rate, char *out, size_t size)
{
	if (rate < 0)
		snprintf(out, size, "n/a");
	else
		snprintf(out, size, "%.1f%%", rate * 100);
}

void history_text_duration(long ms, char *out, size_t size)
{
	if (ms < 1000)
		snprintf(out, size, "%ld ms", ms);
	else if (ms < 60000)
		snprintf(out, size, "%.1f s", ms / 1000.0);
	else
		snprintf(out, size, "%ldm %02lds", ms / 60000, ms / 1000 % 60);
}

/* sparkline: one mark per run of the window (runs pooled into SPARK_MAX
 * buckets when there are more): "·" where no sample was valid, a space
 * where the run did not have the stratum. */
static void sparkline(FILE *f, const struct history_view *v, const struct history_series *s)
{
	size_t n = v->nruns, buckets = n < SPARK_MAX ? n : SPARK_MAX, k = 0;
	for (size_t b = 0; b < buckets; b++) {
		int passed = 0, failed = 0;
		bool present = false;
		/* Points come in the order of the runs, a subset of them. */
		for (size_t i = b * n / buckets; i < (b + 1) * n / buckets; i++) {
			if (k >= s->npoints || s->points[k].run_id != v->runs[i].id)
				continue;
			passed += s->points[k].passed;
			failed += s->points[k].failed;
			present = true;
			k++;
		}
		double r = history_rate(passed, failed);
		/* Only a full pass reaches the top mark, so 99% and 100% differ. */
		fputs(!present ? " " : r < 0 ? "·" : spark[r >= 1 ? 7 : (int)(r * 7)], f);
	}
}

static void fp_short(const struct history_run *run, enum side side, char *out, size_t size)
{
	if (run->nfps[side] == 0) {
		snprintf(out, size, "-");
		return;
	}
	char *clean = term(run->fps[side][0].value, 256);
	history_fp_short(clean, out, size);
	free(clean);
	if (run->nfps[side] > 1) {
		size_t len = strlen(out);
		snprintf(out + len, size - len, " +%zu", run->nfps[side] - 1);
	}
}

static void text_runs(FILE *f, const struct history_view *v, int limit)
{
	size_t shown = v->nruns < (size_t)limit ? v->nruns : (size_t)limit;
	bool streamed = false; /* the prod ttft column only when a shown run streamed */
	for (size_t i = 0; i < shown; i++)
		streamed = streamed || v->runs[v->nruns - 1 - i].prod_ttft_ms >= 0;
	fprintf(f, "\nlast runs (%zu of %zu, newest first)\n", shown, v->nruns);
	fprintf(f, "  %-20s  %-15s  %4s  %9s  %10s  ", "started", "verdict", "exit", "duration",
		"prod ms");
	if (streamed)
		fprintf(f, "%12s  ", "prod ttft ms");
	fprintf(f, "%8s  %-20s  %s\n", "cost usd", "eval fingerprint", "prod fingerprint");
	for (size_t i = 0; i < shown; i++) {
		const struct history_run *run = &v->runs[v->nruns - 1 - i];
		char at[32], dur[32], ev[96], pr[96], lat[24] = "-", ttft[24] = "-", cost[24] = "-";
		util_rfc3339(run->started_at, at);
		if (run->prod_latency_ms >= 0)
			snprintf(lat, sizeof(lat), "%.0f", run->prod_latency_ms);
		if (run->prod_ttft_ms >= 0)
			snprintf(ttft, sizeof(ttft), "%.0f", run->prod_ttft_ms);
		if (run->cost_usd >= 0)
			snprintf(cost, sizeof(cost), "%.4f", run->cost_usd);
		history_text_duration(run->duration_ms, dur, sizeof(dur));
		fp_short(run, SIDE_EVAL, ev, sizeof(ev));
		fp_short(run, SIDE_PROD, pr, sizeof(pr));
		char *verdict = term(run->verdict, 32);
		fprintf(f, "  %-20s  %-15s  %4d  %9s  %10s  ", at, verdict, run->exit_code, dur, lat);
		if (streamed)
			fprintf(f, "%12s  ", ttft);
		fprintf(f, "%8s  ", cost);
		pad(f, ev, 20);
		fprintf(f, "  %s%s\n", pr, run->interrupted ? "  (interrupted)" : "");
		free(verdict);
	}
}

static void text_trends(FILE *f, const struct history_view *v)
{
	size_t width = 8;
	for (size_t i = 0; i < v->nseries; i++)
		width = name_width(width, v->series[i].stratum);
	fputs("\npass rate by stratum (samples passed / valid; one mark per run, oldest "
	      "first)\n", f);
	if (v->nseries == 0)
		fputs("  no strata recorded\n", f);
	for (size_t i = 0; i < v->nseries; i++) {
		const struct history_series *s = &v->series[i];
		bool first = i == 0 || strcmp(s->stratum, v->series[i - 1].stratum) != 0;
		char *name = term(first ? s->stratum : "", 64);
		char last[16], pooled[16];
		history_text_percent(history_last_rate(s), last, sizeof(last));
		history_text_percent(history_rate(s->passed, s->failed), pooled, sizeof(pooled));
		fputs("  ", f);
		pad(f, name, width);
		fprintf(f, "  %s  ", side_name(s->side));
		sparkline(f, v, s);
		fprintf(f, "  last %6s  window %6s (%d/%d)\n", last, pooled, s->passed,
			s->passed + s->failed);
		free(name);
	}
}

static void text_flaky(FILE *f, const struct history_flaky *c, size_t n, int flips, int last)
{
	fprintf(f, "\nflaky cases (verdict flipped at least %d times in the last %d runs)\n",
		flips, last);
	if (n == 0)
		fputs("  none\n", f);
	for (size_t i = 0; i < n; i++) {
		char *id = term(c[i].case_id, 128), *stratum = term(c[i].stratum, 64);
		fprintf(f, "  %s (%s): %d flips:", id, stratum, c[i].flips);
		for (size_t k = 0; k < c[i].nverdicts; k++) {
			char *verdict = term(c[i].verdicts[k], 32);
			fprintf(f, " %s", verdict);
			free(verdict);
		}
		fputc('\n', f);
		free(id);
		free(stratum);
	}
}

static void text_unevaluated(FILE *f, const struct history_view *v)
{
	bool any = false;
	for (size_t i = 0; i < v->nfingerprints; i++) {
		const struct history_fingerprint *fp = &v->fingerprints[i];
		if (fp->side != SIDE_PROD || fp->evaluated)
			continue;
		if (!any)
			fputs("\nprod fingerprints never seen on eval\n", f);
		any = true;
		char *value = term(fp->value, 4096);
		char first[32];
		util_rfc3339(fp->first_seen, first);
		fprintf(f, "  %s (first seen %s, %d runs)\n", value, first, fp->runs);
		free(value);
	}
}

static void text_header(FILE *f, const struct history_view *v)
{
	char since[32], until[32];
	char *suite = term(v->suite, 256);
	util_rfc3339(v->since, since);
	util_rfc3339(v->until, until);
	fprintf(f, "%s: %zu run%s from %s to %s\n", suite, v->nruns, v->nruns == 1 ? "" : "s",
		since, until);
	free(suite);
}

void history_text_view(FILE *f, const struct history_view *v, int runs)
{
	text_header(f, v);
	if (v->nruns == 0)
		return;
	text_runs(f, v, runs);
	text_trends(f, v);
	text_flaky(f, v->flaky, v->nflaky, v->flips, v->last);
	text_unevaluated(f, v);
}

void history_text_fingerprints(FILE *f, const struct history_view *v)
{
	text_header(f, v);
	fprintf(f, "\nprod fingerprints\n  %-20s  %-20s  %9s  %6s  %-9s  %s\n", "first seen",
		"last seen", "runs", "share", "evaluated", "fingerprint");
	size_t n = 0;
	for (size_t i = 0; i < v->nfingerprints; i++) {
		const struct history_fingerprint *fp = &v->fingerprints[i];
		if (fp->side != SIDE_PROD)
			continue;
		char first[32], last[32], runs[32], share[16];
		util_rfc3339(fp->first_seen, first);
		util_rfc3339(fp->last_seen, last);
		snprintf(runs, sizeof(runs), "%d/%zu", fp->runs, v->nruns);
		history_text_percent(fp->share, share, sizeof(share));
		char *value = term(fp->value, 4096);
		fprintf(f, "  %-20s  %-20s  %9s  %6s  %-9s  %s\n", first, last, runs, share,
			fp->evaluated ? "yes" : "never", value);
		free(value);
		n++;
	}
	if (n == 0)
		fputs("  none\n", f);
}

static void window_text(char *out, size_t size, int passed, int failed, int runs)
{
	char pct[16];
	if (passed + failed == 0) {
		snprintf(out, size, "no data");
		return;
	}
	history_text_percent(history_rate(passed, failed), pct, sizeof(pct));
	snprintf(out, size, "%s (%d/%d, %d run%s)", pct, passed, passed + failed, runs,
		 runs == 1 ? "" : "s");
}

/* trend_text: "BASE -> RECENT" of a mean to so many decimals, "-" for one
 * not known. */
static void trend_text(char *out, size_t size, int decimals, double base, double recent)
{
	char b[20] = "-", r[20] = "-";
	if (base >= 0)
		snprintf(b, sizeof(b), "%.*f", decimals, base);
	if (recent >= 0)
		snprintf(r, sizeof(r), "%.*f", decimals, recent);
	snprintf(out, size, "%s -> %s", b, r);
}

void history_text_check(FILE *f, const struct history_check *c, const struct history_flaky *fl,
			size_t nfl, int flips, int last)
{
	char now[32], from[32], recent[32];
	char *suite = term(c->suite, 256);
	util_rfc3339(c->now, now);
	util_rfc3339(c->baseline_from, from);
	util_rfc3339(c->recent_from, recent);
	fprintf(f, "check %s at %s\n", suite, now);
	fprintf(f, "  baseline %s to %s, recent since %s; max drop %g%% (relative)", from,
		recent, recent, c->limits.max_drop * 100);
	if (c->limits.max_latency_rise >= 0)
		fprintf(f, ", max latency rise %g%%", c->limits.max_latency_rise * 100);
	if (c->limits.max_cost_rise >= 0)
		fprintf(f, ", max cost rise %g%%", c->limits.max_cost_rise * 100);
	fputc('\n', f);
	free(suite);
	size_t width = 7;
	for (size_t i = 0; i < c->nstrata; i++)
		width = name_width(width, c->strata[i].stratum);
	if (c->nstrata == 0) {
		fputs("  no prod samples in the last 7 days\n", f);
	} else {
		fputs("  ", f);
		pad(f, "stratum", width);
		fprintf(f, "  %-26s  %-26s  %7s  %-15s  %s\n", "baseline (prod)",
			"recent (prod)", "change", "mean latency ms", "mean cost usd");
	}
	for (size_t i = 0; i < c->nstrata; i++) {
		const struct history_check_stratum *s = &c->strata[i];
		char base[64], rec[64], change[16];
		window_text(base, sizeof(base), s->base_passed, s->base_failed, s->base_runs);
		window_text(rec, sizeof(rec), s->recent_passed, s->recent_failed, s->recent_runs);
		double b = history_rate(s->base_passed, s->base_failed);
		double r = history_rate(s->recent_passed, s->recent_failed);
		if (s->compared && b > 0)
			snprintf(change, sizeof(change), "%+.1f%%", (r / b - 1) * 100);
		else
			snprintf(change, sizeof(change), "-");
		const char *status = s->degraded ? "DEGRADED"
				     : s->compared ? "ok"
				     : b < 0 ? "no baseline" : "no recent runs";
		char latency[48], cost[48];
		trend_text(latency, sizeof(latency), 0, s->base_latency_ms,
			   s->recent_latency_ms);
		trend_text(cost, sizeof(cost), 4, s->base_cost_usd, s->recent_cost_usd);
		char *name = term(s->stratum, 64);
		fputs("  ", f);
		pad(f, name, width);
		fprintf(f, "  %-26s  %-26s  %7s  %-15s  %-16s  %s%s%s\n", base, rec, change,
			latency, cost, status, s->latency_rose ? ", LATENCY ROSE" : "",
			s->cost_rose ? ", COST ROSE" : "");
		free(name);
	}
	text_flaky(f, fl, nfl, flips, last);
}
