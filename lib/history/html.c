/* history/html.c: the history as one self-contained HTML page.
 *
 * Everything is inline (CSS and SVG); the page loads nothing and runs no
 * script, so it works offline and from a mail attachment.  Every string
 * from the history (suite and stratum names, fingerprints, URLs) is
 * untrusted and goes through esc().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history/history.h"
#include "report/report.h"
#include "util.h"
#include "version.h"

#define HTML_RUNS_DEFAULT 20
#define HTML_VALUE_MAX ((size_t)4096)

/* Pass-rate chart geometry (SVG user units). */
#define CW 560
#define CH 200
#define CL 44   /* left margin: y labels */
#define CR 14
#define CT 16
#define CB 30   /* bottom margin: x labels */

/* Fingerprint timeline geometry. */
#define FW 1100
#define FL 290  /* left margin: lane labels */
#define FLANE 26
#define FT 8
#define FB 30

static const char style[] =
	":root{--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--faint:#818b98;--line:#d1d9e0;"
	"--grid:#eaeef2;--card:#f6f8fa;--eval:#8c959f;--prod:#0969da;--pass:#1a7f37;"
	"--flaky:#8250df;--error:#9a6700;--evalreg:#bc4c00;--regression:#a40e26;"
	"--drift:#cf222e;--code:#eff1f3;color-scheme:light dark}"
	"@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;"
	"--faint:#6e7681;--line:#3d444d;--grid:#21262d;--card:#151b23;--eval:#9198a1;"
	"--prod:#4493f8;--pass:#3fb950;--flaky:#ab7df8;--error:#d29922;--evalreg:#f0883e;"
	"--regression:#ff7b72;--drift:#f85149;--code:#262c36}}"
	"*{box-sizing:border-box}"
	"body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,"
	"-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif;"
	"-webkit-font-smoothing:antialiased}"
	"code,.mono{font-family:ui-monospace,SFMono-Regular,\"SF Mono\",Menlo,Consolas,"
	"\"Liberation Mono\",monospace;font-size:12.5px}"
	"header.top{display:flex;align-items:baseline;gap:16px;flex-wrap:wrap;"
	"padding:14px 32px;border-bottom:1px solid var(--line)}"
	".brand{font-weight:700;font-size:16px;letter-spacing:-.01em}"
	".brand span{font-weight:400;color:var(--muted)}"
	".meta{color:var(--muted);font-size:13px}"
	"main{max-width:1180px;margin:0 auto;padding:8px 32px 48px}"
	"section.suite{padding-top:16px}"
	".suite-head{display:flex;align-items:center;gap:12px;flex-wrap:wrap}"
	"h1{font-size:24px;margin:8px 0;letter-spacing:-.02em;word-break:break-all}"
	"h2{font-size:15px;margin:28px 0 10px;padding-bottom:6px;"
	"border-bottom:1px solid var(--line)}"
	"h2 small{font-weight:400;color:var(--muted);margin-left:8px}"
	".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:10px;"
	"margin:12px 0 4px}"
	".card{background:var(--card);border:1px solid var(--line);border-radius:8px;"
	"padding:10px 14px}"
	".card .k{color:var(--muted);font-size:12px}"
	".card .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}"
	".card .s{color:var(--muted);font-size:12px}"
	".card.alert{border-color:var(--drift)}.card.alert .v{color:var(--drift)}"
	".pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;"
	"font-weight:600;color:#fff;background:var(--faint);white-space:nowrap}"
	".v-pass{background:var(--pass)}.v-flaky{background:var(--flaky)}"
	".v-error{background:var(--error)}.v-eval-regression{background:var(--evalreg)}"
	".v-regression{background:var(--regression)}.v-drift{background:var(--drift)}"
	".legend{display:flex;gap:18px;flex-wrap:wrap;color:var(--muted);font-size:12px;"
	"margin:-2px 0 10px}"
	".legend i{display:inline-block;vertical-align:middle;margin-right:6px}"
	".legend .l-eval{width:22px;border-top:2px dashed var(--eval)}"
	".legend .l-prod{width:22px;border-top:2.5px solid var(--prod)}"
	".legend .l-bad{width:10px;height:12px;background:var(--drift);opacity:.25}"
	".legend .l-err{width:10px;height:12px;background:var(--error);opacity:.25}"
	".legend .l-unev{width:10px;height:12px;background:var(--drift)}"
	".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(430px,1fr));gap:14px}"
	"figure{margin:0;background:var(--bg);border:1px solid var(--line);border-radius:8px;"
	"padding:10px 12px 4px}"
	"figcaption{display:flex;justify-content:space-between;align-items:baseline;gap:8px;"
	"font-weight:600}"
	"figcaption .now{font-weight:400;color:var(--muted);font-size:12px;"
	"font-variant-numeric:tabular-nums}"
	"svg{display:block;width:100%;height:auto;overflow:visible}"
	"svg text{font-family:inherit;font-size:11px;fill:var(--muted)}"
	"svg .grid{stroke:var(--grid);stroke-width:1}"
	"svg .axis{stroke:var(--line);stroke-width:1}"
	"svg .line{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}"
	"svg .line.eval{stroke:var(--eval);stroke-dasharray:5 4;stroke-width:1.6}"
	"svg .line.prod{stroke:var(--prod)}"
	"svg .pt.eval{fill:var(--eval)}svg .pt.prod{fill:var(--prod)}"
	"svg .pt.bad{fill:var(--drift)}"
	"svg .band{opacity:.13}svg .band.v-error{opacity:.16}"
	"svg .tick{opacity:.9}"
	"svg .lane{fill:var(--card)}"
	"svg .lane-label{fill:var(--fg);font-size:12px}"
	"svg .badge{fill:var(--drift);font-size:10.5px;font-weight:600}"
	"svg .ok{fill:var(--muted);font-size:10.5px}"
	"svg .fp-mark{opacity:.9}svg .fp-mark.unevaluated{fill:var(--drift)}"
	".timeline{border:1px solid var(--line);border-radius:8px;padding:10px 12px;"
	"margin-bottom:12px}"
	".timeline h3{font-size:13px;margin:0 0 6px}"
	".empty{color:var(--muted);font-style:italic;margin:4px 0}"
	"table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}"
	"th{text-align:left;font-weight:600;color:var(--muted);font-size:12px;"
	"border-bottom:1px solid var(--line);padding:6px 10px}"
	"td{border-bottom:1px solid var(--grid);padding:6px 10px;vertical-align:middle}"
	"td.num,th.num{text-align:right}"
	"tr:hover td{background:var(--card)}"
	"td code{background:var(--code);padding:1px 5px;border-radius:4px;word-break:break-all}"
	"td.t{white-space:nowrap}"
	".never{color:var(--drift);font-weight:600}.yes{color:var(--pass)}"
	".flag{color:var(--error);font-size:12px;margin-left:6px}"
	".seq{display:inline-flex;gap:2px;vertical-align:middle}"
	".seq span{width:10px;height:14px;border-radius:2px;background:var(--faint)}"
	".seq .v-pass{background:var(--pass)}.seq .v-flaky{background:var(--flaky)}"
	".seq .v-error{background:var(--error)}.seq .v-eval-regression{background:var(--evalreg)}"
	".seq .v-regression{background:var(--regression)}.seq .v-drift{background:var(--drift)}"
	"footer{color:var(--faint);font-size:12px;max-width:1180px;margin:0 auto;"
	"padding:0 32px 32px}";

/* The colour class of a verdict. */
static const char *verdict_class(const char *v)
{
	static const char *const known[] = {
		"pass", "flaky", "error", "eval-regression", "regression", "drift",
	};
	for (size_t i = 0; v && i < ARRAY_SIZE(known); i++)
		if (strcmp(v, known[i]) == 0)
			return known[i];
	return "unknown";
}

static bool verdict_failing_name(const char *v)
{
	return v && (strcmp(v, "drift") == 0 || strcmp(v, "regression") == 0 ||
		     strcmp(v, "eval-regression") == 0);
}

/* esc: s as HTML text or attribute value: markup characters as entities,
 * what util_char_unsafe() names (controls, bidirectional controls, invalid
 * UTF-8) as U+FFFD. */
static void esc(FILE *f, const char *s)
{
	if (!s)
		return;
	char *clean = report_clean(s, HTML_VALUE_MAX);
	size_t n = strlen(clean);
	for (const unsigned char *p = (const unsigned char *)clean, *end = p + n; p < end;) {
		size_t len = util_utf8_len(p, (size_t)(end - p));
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if (util_char_unsafe(p, len))
				fputs("\xef\xbf\xbd", f);
			else
				fwrite(p, 1, len, f);
		}
		p += len ? len : 1;
	}
	free(clean);
}

/* short_time: "Jan 09 13:00" in UTC. */
static void short_time(long long ms, char *out, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(out, size, "%b %d %H:%M", &tm) == 0)
		snprintf(out, size, "?");
}

/* The time axis shared by every chart of a suite. */
struct xscale {
	long long t0, t1;
	double x0, x1;
	double band;           /* width of one run's marks */
};

static void xscale_init(struct xscale *x, const struct history_view *v, double x0, double x1)
{
	x->x0 = x0;
	x->x1 = x1;
	x->t0 = v->nruns ? v->runs[0].started_at : v->since;
	x->t1 = v->nruns ? v->runs[v->nruns - 1].started_at : v->until;
	if (x->t1 <= x->t0) {
		x->t0 -= HISTORY_HOUR_MS;
		x->t1 += HISTORY_HOUR_MS;
	}
	double per = (x1 - x0) / (double)(v->nruns > 1 ? v->nruns : 1);
	x->band = per < 2 ? 2 : per > 18 ? 18 : per;
}

static double xpos(const struct xscale *x, long long t)
{
	return x->x0 + (x->x1 - x->x0) * (double)(t - x->t0) / (double)(x->t1 - x->t0);
}

static double ypos(double rate)
{
	return CT + (CH - CT - CB) * (1 - rate);
}

static void x_labels(FILE *f, const struct xscale *x, double y)
{
	char a[32], b[32], m[32];
	short_time(x->t0, a, sizeof(a));
	short_time(x->t1, b, sizeof(b));
	short_time(x->t0 + (x->t1 - x->t0) / 2, m, sizeof(m));
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"start\">%s</text>", x->x0, y, a);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
		(x->x0 + x->x1) / 2, y, m);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", x->x1, y, b);
}

static const struct history_series *find_series(const struct history_view *v,
						const char *stratum, enum side side)
{
	for (size_t i = 0; i < v->nseries; i++)
		if (v->series[i].side == side && strcmp(v->series[i].stratum, stratum) == 0)
			return &v->series[i];
	return NULL;
}

static void series_line(FILE *f, const struct history_series *s, const struct xscale *x)
{
	const char *cls = side_name(s->side);
	bool open = false;
	for (size_t k = 0; k < s->npoints; k++) {
		const struct history_point *p = &s->points[k];
		double r = history_rate(p->passed, p->failed);
		if (r < 0) {
			if (open)
				fputs("\"/>", f);
			open = false;
			continue;
		}
		if (!open)
			fprintf(f, "<polyline class=\"line %s\" points=\"", cls);
		fprintf(f, "%s%.1f,%.1f", open ? " " : "", xpos(x, p->at), ypos(r));
		open = true;
	}
	if (open)
		fputs("\"/>", f);
}

static void series_points(FILE *f, const struct history_view *v,
			  const struct history_series *s, const struct xscale *x)
{
	const char *side = side_name(s->side);
	double radius = s->npoints > 80 ? 1.8 : s->npoints > 30 ? 2.4 : 3.2;
	for (size_t k = 0; k < s->npoints; k++) {
		const struct history_point *p = &s->points[k];
		double r = history_rate(p->passed, p->failed);
		if (r < 0)
			continue;
		char at[32], pct[16];
		util_rfc3339(p->at, at);
		history_text_percent(r, pct, sizeof(pct));
		bool bad = s->side == SIDE_PROD && verdict_failing_name(p->verdict);
		fprintf(f, "<circle class=\"pt %s%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" "
			"data-suite=\"", side, bad ? " bad" : "", xpos(x, p->at), ypos(r), radius);
		esc(f, v->suite);
		fputs("\" data-stratum=\"", f);
		esc(f, s->stratum);
		fprintf(f, "\" data-target=\"%s\" data-run=\"%lld\" data-at=\"%s\" "
			"data-passed=\"%d\" data-failed=\"%d\" data-errors=\"%d\" "
			"data-rate=\"%.4f\" data-verdict=\"",
			side, p->run_id, at, p->passed, p->failed, p->errors, r);
		esc(f, p->verdict);
		fputs("\"><title>", f);
		esc(f, s->stratum);
		fprintf(f, " \xc2\xb7 %s \xc2\xb7 %s: %s (%d/%d samples passed", side, at, pct,
			p->passed, p->passed + p->failed);
		if (p->errors)
			fprintf(f, ", %d error%s", p->errors, p->errors == 1 ? "" : "s");
		fputs(") \xc2\xb7 stratum ", f);
		esc(f, p->verdict);
		fprintf(f, " \xc2\xb7 run %lld</title></circle>", p->run_id);
	}
}

/* drift_marks: a band behind each run where the stratum did not pass
 * (drift and regressions red, errors amber), and a tick above it. */
static void drift_marks(FILE *f, const struct history_series *prod, const struct xscale *x)
{
	for (size_t k = 0; prod && k < prod->npoints; k++) {
		const struct history_point *p = &prod->points[k];
		bool bad = verdict_failing_name(p->verdict);
		bool err = p->verdict && strcmp(p->verdict, "error") == 0;
		if (!bad && !err)
			continue;
		double cx = xpos(x, p->at);
		char at[32];
		util_rfc3339(p->at, at);
		const char *cls = verdict_class(p->verdict);
		fprintf(f, "<g class=\"mark\" data-run=\"%lld\" data-verdict=\"%s\">"
			"<title>%s at %s (run %lld)</title>"
			"<rect class=\"band v-%s\" style=\"fill:var(--%s)\" x=\"%.1f\" y=\"%d\" "
			"width=\"%.1f\" height=\"%d\"/>"
			"<rect class=\"tick\" style=\"fill:var(--%s)\" x=\"%.1f\" y=\"%d\" "
			"width=\"%.1f\" height=\"4\" rx=\"1\"/></g>",
			p->run_id, cls, cls, at, p->run_id, cls,
			err ? "error" : strcmp(cls, "eval-regression") == 0 ? "evalreg" : cls,
			cx - x->band / 2, CT, x->band, CH - CT - CB,
			err ? "error" : strcmp(cls, "eval-regression") == 0 ? "evalreg" : cls,
			cx - x->band / 2, CT - 7, x->band);
	}
}

static void stratum_chart(FILE *f, const struct history_view *v, const char *stratum,
			  const struct xscale *x)
{
	const struct history_series *ev = find_series(v, stratum, SIDE_EVAL);
	const struct history_series *pr = find_series(v, stratum, SIDE_PROD);
	char pe[16], pp[16];
	history_text_percent(ev ? history_last_rate(ev) : -1, pe, sizeof(pe));
	history_text_percent(pr ? history_last_rate(pr) : -1, pp, sizeof(pp));
	const char *latest = pr && pr->npoints ? pr->points[pr->npoints - 1].verdict : NULL;

	fputs("<figure><figcaption><span>", f);
	esc(f, stratum);
	fprintf(f, "</span><span class=\"now\">latest: prod %s \xc2\xb7 eval %s ", pp, pe);
	if (latest) {
		fprintf(f, "<span class=\"pill v-%s\">", verdict_class(latest));
		esc(f, latest);
		fputs("</span>", f);
	}
	fprintf(f, "</span></figcaption><svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
		"data-suite=\"", CW, CH);
	esc(f, v->suite);
	fputs("\" data-stratum=\"", f);
	esc(f, stratum);
	fputs("\" aria-label=\"pass rate of stratum ", f);
	esc(f, stratum);
	fputs(" on eval and prod over time\">", f);
	for (int pct = 0; pct <= 100; pct += 25) {
		double y = ypos(pct / 100.0);
		fprintf(f, "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>",
			pct == 0 ? "axis" : "grid", CL, CW - CR, y, y);
		if (pct % 50 == 0)
			fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" "
				"dominant-baseline=\"middle\">%d%%</text>", CL - 6, y, pct);
	}
	drift_marks(f, pr, x);
	/* Eval's dashed line over prod's shows both where they agree. */
	if (pr)
		series_line(f, pr, x);
	if (ev)
		series_line(f, ev, x);
	if (ev)
		series_points(f, v, ev, x);
	if (pr)
		series_points(f, v, pr, x);
	x_labels(f, x, CH - 8);
	fputs("</svg></figure>\n", f);
}

static void charts(FILE *f, const struct history_view *v)
{
	struct xscale x;
	xscale_init(&x, v, CL + 4, CW - CR - 4);
	fputs("<h2>Pass rate by stratum<small>samples passed / valid samples, per run, "
	      "UTC</small></h2>\n", f);
	fputs("<div class=\"legend\"><span><i class=\"l-prod\"></i>prod</span>"
	      "<span><i class=\"l-eval\"></i>eval</span>"
	      "<span><i class=\"l-bad\"></i>stratum drift or regression</span>"
	      "<span><i class=\"l-err\"></i>stratum error</span>"
	      "<span>hover a point for exact values</span></div>\n", f);
	if (v->nseries == 0) {
		fputs("<p class=\"empty\">no strata recorded in this window</p>\n", f);
		return;
	}
	fputs("<div class=\"charts\">\n", f);
	for (size_t i = 0; i < v->nseries; i++)
		if (i == 0 || strcmp(v->series[i].stratum, v->series[i - 1].stratum) != 0)
			stratum_chart(f, v, v->series[i].stratum, &x);
	fputs("</div>\n", f);
}

static const char *const lane_colors[] = {
	"#0969da", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#953800", "#6639ba", "#57606a",
};

static void fp_timeline(FILE *f, const struct history_view *v, enum side side)
{
	const char *sname = side_name(side);
	size_t nlanes = 0;
	for (size_t i = 0; i < v->nfingerprints; i++)
		nlanes += v->fingerprints[i].side == side;
	fprintf(f, "<div class=\"timeline\"><h3>%s</h3>", sname);
	if (nlanes == 0) {
		fputs("<p class=\"empty\">no fingerprints reported</p></div>\n", f);
		return;
	}
	int height = FT + (int)nlanes * FLANE + FB;
	struct xscale x;
	xscale_init(&x, v, FL + 6, FW - 10);
	fprintf(f, "<svg class=\"fp-timeline\" viewBox=\"0 0 %d %d\" role=\"img\" "
		"data-target=\"%s\" aria-label=\"fingerprints served by %s over time\">",
		FW, height, sname, sname);
	size_t lane = 0;
	for (size_t i = 0; i < v->nfingerprints; i++) {
		const struct history_fingerprint *fp = &v->fingerprints[i];
		if (fp->side != side)
			continue;
		double y = FT + (double)lane * FLANE;
		char shortfp[80], first[32], last[32];
		history_fp_short(fp->value, shortfp, sizeof(shortfp));
		util_rfc3339(fp->first_seen, first);
		util_rfc3339(fp->last_seen, last);
		bool unev = side == SIDE_PROD && !fp->evaluated;
		fprintf(f, "<g class=\"fp-lane\" data-target=\"%s\" data-fingerprint=\"", sname);
		esc(f, fp->value);
		fprintf(f, "\" data-evaluated=\"%s\"><title>", fp->evaluated ? "true" : "false");
		esc(f, fp->value);
		fprintf(f, "\nfirst seen %s, last seen %s\n%d of %zu runs (%.1f%%), %lld samples%s"
			"</title>", first, last, fp->runs, v->nruns, fp->share * 100, fp->samples,
			unev ? "\nnever seen on eval" : "");
		fprintf(f, "<rect class=\"lane\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\" "
			"rx=\"3\"/>", FL, y + 2, FW - FL, FLANE - 4);
		fprintf(f, "<text class=\"lane-label mono\" x=\"4\" y=\"%.1f\" "
			"dominant-baseline=\"middle\">", y + FLANE / 2.0);
		esc(f, shortfp);
		fputs("</text>", f);
		if (side == SIDE_PROD)
			fprintf(f, "<text class=\"%s\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" "
				"dominant-baseline=\"middle\">%s</text>", unev ? "badge" : "ok",
				FL - 8, y + FLANE / 2.0, unev ? "never evaluated" : "evaluated");
		fputs("</g>", f);
		const char *color = unev ? "var(--drift)"
					 : lane_colors[lane % ARRAY_SIZE(lane_colors)];
		for (size_t r = 0; r < v->nruns; r++) {
			const struct history_run *run = &v->runs[r];
			for (size_t k = 0; k < run->nfps[side]; k++) {
				if (strcmp(run->fps[side][k].value, fp->value) != 0)
					continue;
				char at[32];
				util_rfc3339(run->started_at, at);
				double cx = xpos(&x, run->started_at);
				fprintf(f, "<rect class=\"fp-mark%s\" style=\"fill:%s\" x=\"%.1f\" "
					"y=\"%.1f\" width=\"%.1f\" height=\"%d\" rx=\"1.5\" "
					"data-target=\"%s\" data-run=\"%lld\" data-count=\"%d\" "
					"data-fingerprint=\"", unev ? " unevaluated" : "", color,
					cx - x.band / 2 + 0.5, y + 6,
					x.band > 3 ? x.band - 1 : x.band,
					FLANE - 12, sname, run->id, run->fps[side][k].count);
				esc(f, fp->value);
				fprintf(f, "\"><title>%s \xc2\xb7 run %lld \xc2\xb7 ", at, run->id);
				esc(f, shortfp);
				fprintf(f, " \xc2\xb7 %d sample%s</title></rect>",
					run->fps[side][k].count,
					run->fps[side][k].count == 1 ? "" : "s");
			}
		}
		lane++;
	}
	fprintf(f, "<line class=\"axis\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>", FL, FW,
		height - FB + 2, height - FB + 2);
	x_labels(f, &x, height - 10);
	fputs("</svg></div>\n", f);
}

static void fp_cell(FILE *f, const struct history_run *run, enum side side)
{
	if (run->nfps[side] == 0) {
		fputs("<td class=\"mono\">-</td>", f);
		return;
	}
	char shortfp[80];
	history_fp_short(run->fps[side][0].value, shortfp, sizeof(shortfp));
	fputs("<td><code title=\"", f);
	for (size_t k = 0; k < run->nfps[side]; k++) {
		if (k)
			fputs("&#10;", f);
		esc(f, run->fps[side][k].value);
		fprintf(f, " (%d)", run->fps[side][k].count);
	}
	fputs("\">", f);
	esc(f, shortfp);
	fputs("</code>", f);
	if (run->nfps[side] > 1)
		fprintf(f, " <span class=\"flag\">+%zu</span>", run->nfps[side] - 1);
	fputs("</td>", f);
}

static void runs_table(FILE *f, const struct history_view *v, int limit)
{
	size_t shown = v->nruns < (size_t)limit ? v->nruns : (size_t)limit;
	fprintf(f, "<h2>Last runs<small>%zu of %zu, newest first</small></h2>\n", shown,
		v->nruns);
	if (v->nruns == 0) {
		fputs("<p class=\"empty\">no runs in this window</p>\n", f);
		return;
	}
	fputs("<table class=\"runs\"><thead><tr><th>started (UTC)</th><th>verdict</th>"
	      "<th class=\"num\">exit</th><th class=\"num\">duration</th>"
	      "<th>eval fingerprint</th><th>prod fingerprint</th><th class=\"num\">run</th>"
	      "</tr></thead><tbody>\n", f);
	for (size_t i = 0; i < shown; i++) {
		const struct history_run *run = &v->runs[v->nruns - 1 - i];
		char at[32], dur[32];
		util_rfc3339(run->started_at, at);
		history_text_duration(run->duration_ms, dur, sizeof(dur));
		fprintf(f, "<tr data-run=\"%lld\" data-verdict=\"", run->id);
		esc(f, run->verdict);
		fprintf(f, "\"><td class=\"t\">%s</td><td><span class=\"pill v-%s\">", at,
			verdict_class(run->verdict));
		esc(f, run->verdict);
		fputs("</span>", f);
		if (run->interrupted)
			fputs("<span class=\"flag\">interrupted</span>", f);
		if (run->shard) {
			fputs("<span class=\"flag\">shard ", f);
			esc(f, run->shard);
			fputs("</span>", f);
		}
		fprintf(f, "</td><td class=\"num\">%d</td><td class=\"num\">%s</td>",
			run->exit_code, dur);
		fp_cell(f, run, SIDE_EVAL);
		fp_cell(f, run, SIDE_PROD);
		fprintf(f, "<td class=\"num\">%lld</td></tr>\n", run->id);
	}
	fputs("</tbody></table>\n", f);
}

static void flaky_table(FILE *f, const struct history_view *v)
{
	fprintf(f, "<h2>Flaky cases<small>verdict flipped at least %d times in the last %d "
		"runs</small></h2>\n", v->flips, v->last);
	if (v->nflaky == 0) {
		fputs("<p class=\"empty\">none</p>\n", f);
		return;
	}
	fputs("<table class=\"flaky\"><thead><tr><th>case</th><th>stratum</th>"
	      "<th class=\"num\">flips</th><th>verdicts, oldest first</th></tr></thead>"
	      "<tbody>\n", f);
	for (size_t i = 0; i < v->nflaky; i++) {
		const struct history_flaky *c = &v->flaky[i];
		fputs("<tr data-case=\"", f);
		esc(f, c->case_id);
		fprintf(f, "\" data-flips=\"%d\"><td><code>", c->flips);
		esc(f, c->case_id);
		fputs("</code></td><td>", f);
		esc(f, c->stratum);
		fprintf(f, "</td><td class=\"num\">%d</td><td><span class=\"seq\">", c->flips);
		for (size_t k = 0; k < c->nverdicts; k++) {
			fprintf(f, "<span class=\"v-%s\" title=\"", verdict_class(c->verdicts[k]));
			esc(f, c->verdicts[k]);
			fputs("\"></span>", f);
		}
		fputs("</span></td></tr>\n", f);
	}
	fputs("</tbody></table>\n", f);
}

static void fp_table(FILE *f, const struct history_view *v)
{
	fputs("<h2>Prod fingerprints<small>first and last seen over the whole history; share "
	      "of the runs in this window</small></h2>\n", f);
	size_t n = 0;
	for (size_t i = 0; i < v->nfingerprints; i++)
		n += v->fingerprints[i].side == SIDE_PROD;
	if (n == 0) {
		fputs("<p class=\"empty\">no prod fingerprints reported</p>\n", f);
		return;
	}
	fputs("<table class=\"fingerprints\"><thead><tr><th>fingerprint</th>"
	      "<th>first seen</th><th>last seen</th><th class=\"num\">runs</th>"
	      "<th class=\"num\">share</th><th>evaluated</th></tr></thead><tbody>\n", f);
	for (size_t i = 0; i < v->nfingerprints; i++) {
		const struct history_fingerprint *fp = &v->fingerprints[i];
		if (fp->side != SIDE_PROD)
			continue;
		char first[32], last[32];
		util_rfc3339(fp->first_seen, first);
		util_rfc3339(fp->last_seen, last);
		fputs("<tr data-fingerprint=\"", f);
		esc(f, fp->value);
		fprintf(f, "\" data-evaluated=\"%s\"><td><code>", fp->evaluated ? "true" : "false");
		esc(f, fp->value);
		fprintf(f, "</code></td><td class=\"t\">%s</td><td class=\"t\">%s</td>"
			"<td class=\"num\">%d</td>"
			"<td class=\"num\">%.1f%%</td><td>%s</td></tr>\n", first, last, fp->runs,
			fp->share * 100,
			fp->evaluated ? "<span class=\"yes\">yes</span>"
				      : "<span class=\"never\">never</span>");
	}
	fputs("</tbody></table>\n", f);
}

static void cards(FILE *f, const struct history_view *v)
{
	int pp = 0, pf = 0, ep = 0, ef = 0;
	for (size_t i = 0; i < v->nseries; i++) {
		if (v->series[i].side == SIDE_PROD) {
			pp += v->series[i].passed;
			pf += v->series[i].failed;
		} else {
			ep += v->series[i].passed;
			ef += v->series[i].failed;
		}
	}
	size_t unev = 0, bad = 0;
	for (size_t i = 0; i < v->nfingerprints; i++)
		unev += v->fingerprints[i].side == SIDE_PROD && !v->fingerprints[i].evaluated;
	for (size_t i = 0; i < v->nruns; i++)
		bad += strcmp(v->runs[i].verdict, "pass") != 0 &&
		       strcmp(v->runs[i].verdict, "flaky") != 0;
	char prod[16], eval[16];
	history_text_percent(history_rate(pp, pf), prod, sizeof(prod));
	history_text_percent(history_rate(ep, ef), eval, sizeof(eval));
	fputs("<div class=\"cards\">", f);
	fprintf(f, "<div class=\"card\"><div class=\"k\">runs</div><div class=\"v\">%zu</div>"
		"<div class=\"s\">%zu did not pass</div></div>", v->nruns, bad);
	fprintf(f, "<div class=\"card\"><div class=\"k\">prod pass rate</div>"
		"<div class=\"v\">%s</div><div class=\"s\">%d of %d samples</div></div>", prod,
		pp, pp + pf);
	fprintf(f, "<div class=\"card\"><div class=\"k\">eval pass rate</div>"
		"<div class=\"v\">%s</div><div class=\"s\">%d of %d samples</div></div>", eval,
		ep, ep + ef);
	fprintf(f, "<div class=\"card%s\"><div class=\"k\">prod fingerprints never evaluated"
		"</div><div class=\"v\">%zu</div><div class=\"s\">seen on prod, never on eval"
		"</div></div>", unev ? " alert" : "", unev);
	fprintf(f, "<div class=\"card%s\"><div class=\"k\">flaky cases</div>"
		"<div class=\"v\">%zu</div><div class=\"s\">&ge; %d flips in %d runs</div></div>",
		v->nflaky ? " alert" : "", v->nflaky, v->flips, v->last);
	fputs("</div>\n", f);
}

static void suite_section(FILE *f, const struct history_view *v, size_t index, int runs)
{
	fprintf(f, "<section class=\"suite\" id=\"suite-%zu\" data-suite=\"", index + 1);
	esc(f, v->suite);
	fprintf(f, "\" data-runs=\"%zu\">\n<div class=\"suite-head\"><h1>", v->nruns);
	esc(f, v->suite);
	fputs("</h1>", f);
	if (v->nruns) {
		const struct history_run *last = &v->runs[v->nruns - 1];
		char at[32];
		util_rfc3339(last->started_at, at);
		fprintf(f, "<span class=\"pill v-%s\" title=\"latest run, %s\">latest: ",
			verdict_class(last->verdict), at);
		esc(f, last->verdict);
		fputs("</span>", f);
	}
	fputs("</div>\n", f);
	cards(f, v);
	charts(f, v);
	fputs("<h2>Fingerprint timeline<small>which composition each target served, per run"
	      "</small></h2>\n<div class=\"legend\"><span><i class=\"l-unev\"></i>prod "
	      "fingerprint never seen on eval</span></div>\n", f);
	fp_timeline(f, v, SIDE_PROD);
	fp_timeline(f, v, SIDE_EVAL);
	runs_table(f, v, runs);
	flaky_table(f, v);
	fp_table(f, v);
	fputs("</section>\n", f);
}

int history_html(FILE *f, const struct history_view *views, size_t n,
		 const struct history_html_options *o, char **err)
{
	char generated[32], since[32], until[32];
	int runs = o->runs > 0 ? o->runs : HTML_RUNS_DEFAULT;
	util_rfc3339(o->generated_at, generated);
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"canary " CANARY_VERSION "\">\n"
	      "<title>canary history", f);
	for (size_t i = 0; i < n && i < 3; i++) {
		fputs(i ? ", " : ": ", f);
		esc(f, views[i].suite);
	}
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", style);
	fputs("<header class=\"top\"><div class=\"brand\">canary <span>history</span></div>"
	      "<div class=\"meta\">", f);
	if (n > 0) {
		util_rfc3339(views[0].since, since);
		util_rfc3339(views[0].until, until);
		fprintf(f, "%s \xe2\x86\x92 %s \xc2\xb7 ", since, until);
	}
	fprintf(f, "generated %s \xc2\xb7 %zu suite%s</div></header>\n<main>\n", generated, n,
		n == 1 ? "" : "s");
	if (n == 0)
		fputs("<p class=\"empty\">no runs in this window</p>\n", f);
	for (size_t i = 0; i < n; i++)
		suite_section(f, &views[i], i, runs);
	fputs("</main>\n<footer>canary " CANARY_VERSION " \xc2\xb7 pass rate = samples passed / "
	      "(passed + failed); errors are not measurements \xc2\xb7 times in UTC</footer>\n"
	      "</body>\n</html>\n", f);
	if (fflush(f) != 0 || ferror(f)) {
		*err = xstrdup("cannot write the HTML page");
		return -1;
	}
	return 0;
}
