/* history.c: `canary history PATH`: trends, fingerprints and the baseline
 * check from a run history (docs/history.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "history/history.h"
#include "report/report.h"
#include "util.h"

static const char history_help[] =
	"usage: canary history PATH [--suite S] [--since 7d] [--format text|json|html]\n"
	"                           [--fingerprints] [--runs N] [--output FILE]\n"
	"       canary history PATH --check [--suite S] [--max-drop 0.05]\n"
	"                           [--flips K] [--last M] [--format text|json]\n"
	"\n"
	"Show what a history recorded by `canary run --history PATH` tells: recent\n"
	"runs and the pass rate of every stratum on each target over time.  The\n"
	"history is only read.  Times are UTC.\n"
	"\n"
	"  --suite S          only suite S (default: every suite with runs in the window)\n"
	"  --since T          the window's start: a duration back from now (90m, 48h, 7d,\n"
	"                     2w) or a time (RFC 3339 or Unix ms); default 7d\n"
	"  --format F         text (default), json, or html: one self-contained page with\n"
	"                     charts, for a browser\n"
	"  --fingerprints     list every prod fingerprint of the window: first and last\n"
	"                     seen, share of runs, and whether any run saw it on eval\n"
	"  --runs N           how many recent runs the text and HTML list (default 20)\n"
	"  --output FILE      write to FILE (replaced atomically; - for stdout)\n"
	"  --check            compare each stratum's prod pass rate over the last 48 h\n"
	"                     with the baseline [now - 7d, now - 48h); exit 1 when one\n"
	"                     dropped by more than --max-drop, 3 when nothing could be\n"
	"                     compared; list flaky cases\n"
	"  --max-drop D       the relative drop allowed, 0 <= D < 1 (default 0.05: 5%)\n"
	"  --flips K          a case is flaky when its verdict flipped K times ... (3)\n"
	"  --last M           ... in the suite's last M runs (10)\n"
	"  --now T            take T (RFC 3339 or Unix ms) as the current time\n"
	"  -h, --help         show this help\n";

enum {
	OPT_SUITE = 256,
	OPT_SINCE,
	OPT_FORMAT,
	OPT_FINGERPRINTS,
	OPT_RUNS,
	OPT_OUTPUT,
	OPT_CHECK,
	OPT_MAX_DROP,
	OPT_FLIPS,
	OPT_LAST,
	OPT_NOW,
};

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_HTML };

static const char *const formats[] = {"text", "json", "html", NULL};

static const struct cmd_option history_options[] = {
	{"suite", 0, true, OPT_SUITE, CMD_VALUE_NONE, NULL},
	{"since", 0, true, OPT_SINCE, CMD_VALUE_NONE, NULL},
	{"format", 0, true, OPT_FORMAT, CMD_VALUE_WORDS, formats},
	{"fingerprints", 0, false, OPT_FINGERPRINTS, CMD_VALUE_NONE, NULL},
	{"runs", 0, true, OPT_RUNS, CMD_VALUE_NONE, NULL},
	{"output", 0, true, OPT_OUTPUT, CMD_VALUE_FILE, NULL},
	{"check", 0, false, OPT_CHECK, CMD_VALUE_NONE, NULL},
	{"max-drop", 0, true, OPT_MAX_DROP, CMD_VALUE_NONE, NULL},
	{"flips", 0, true, OPT_FLIPS, CMD_VALUE_NONE, NULL},
	{"last", 0, true, OPT_LAST, CMD_VALUE_NONE, NULL},
	{"now", 0, true, OPT_NOW, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

struct history_cmd {
	const char *path;
	const char *suite;
	const char *since_arg;
	enum format format;
	bool fingerprints;
	int runs;
	const char *output;
	bool check;
	double max_drop;
	bool max_drop_set;
	int flips;
	int last;
	long long now;
	long long since;
};

/* The sparkline levels, lowest first. */
static const char *const spark[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
#define SPARK_MAX 48

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

static void pad(FILE *f, const char *s, size_t width)
{
	fputs(s, f);
	for (size_t n = columns(s); n < width; n++)
		fputc(' ', f);
}

static void percent(double rate, char *out, size_t size)
{
	if (rate < 0)
		snprintf(out, size, "n/a");
	else
		snprintf(out, size, "%.1f%%", rate * 100);
}

static void duration(long ms, char *out, size_t size)
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

static double last_rate(const struct history_series *s)
{
	for (size_t k = s->npoints; k > 0; k--) {
		double r = history_rate(s->points[k - 1].passed, s->points[k - 1].failed);
		if (r >= 0)
			return r;
	}
	return -1;
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
	fprintf(f, "\nlast runs (%zu of %zu, newest first)\n", shown, v->nruns);
	fprintf(f, "  %-20s  %-15s  %4s  %9s  %-20s  %s\n", "started", "verdict", "exit",
		"duration", "eval fingerprint", "prod fingerprint");
	for (size_t i = 0; i < shown; i++) {
		const struct history_run *run = &v->runs[v->nruns - 1 - i];
		char at[32], dur[32], ev[96], pr[96];
		util_rfc3339(run->started_at, at);
		duration(run->duration_ms, dur, sizeof(dur));
		fp_short(run, SIDE_EVAL, ev, sizeof(ev));
		fp_short(run, SIDE_PROD, pr, sizeof(pr));
		char *verdict = term(run->verdict, 32);
		fprintf(f, "  %-20s  %-15s  %4d  %9s  ", at, verdict, run->exit_code, dur);
		pad(f, ev, 20);
		fprintf(f, "  %s%s\n", pr, run->interrupted ? "  (interrupted)" : "");
		free(verdict);
	}
}

static void text_trends(FILE *f, const struct history_view *v)
{
	size_t width = 8;
	for (size_t i = 0; i < v->nseries; i++) {
		char *name = term(v->series[i].stratum, 64);
		if (columns(name) > width)
			width = columns(name);
		free(name);
	}
	fputs("\npass rate by stratum (samples passed / valid; one mark per run, oldest "
	      "first)\n", f);
	if (v->nseries == 0)
		fputs("  no strata recorded\n", f);
	for (size_t i = 0; i < v->nseries; i++) {
		const struct history_series *s = &v->series[i];
		bool first = i == 0 || strcmp(s->stratum, v->series[i - 1].stratum) != 0;
		char *name = term(first ? s->stratum : "", 64);
		char last[16], pooled[16];
		percent(last_rate(s), last, sizeof(last));
		percent(history_rate(s->passed, s->failed), pooled, sizeof(pooled));
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

static void text_view(FILE *f, const struct history_view *v, int runs)
{
	text_header(f, v);
	if (v->nruns == 0)
		return;
	text_runs(f, v, runs);
	text_trends(f, v);
	text_flaky(f, v->flaky, v->nflaky, v->flips, v->last);
	text_unevaluated(f, v);
}

static void text_fingerprints(FILE *f, const struct history_view *v)
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
		percent(fp->share, share, sizeof(share));
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
	percent(history_rate(passed, failed), pct, sizeof(pct));
	snprintf(out, size, "%s (%d/%d, %d run%s)", pct, passed, passed + failed, runs,
		 runs == 1 ? "" : "s");
}

static void text_check(FILE *f, const struct history_check *c, const struct history_flaky *fl,
		       size_t nfl, int flips, int last)
{
	char now[32], from[32], recent[32];
	char *suite = term(c->suite, 256);
	util_rfc3339(c->now, now);
	util_rfc3339(c->baseline_from, from);
	util_rfc3339(c->recent_from, recent);
	fprintf(f, "check %s at %s\n", suite, now);
	fprintf(f, "  baseline %s to %s, recent since %s; max drop %g%% (relative)\n", from,
		recent, recent, c->max_drop * 100);
	free(suite);
	size_t width = 7;
	for (size_t i = 0; i < c->nstrata; i++) {
		char *name = term(c->strata[i].stratum, 64);
		if (columns(name) > width)
			width = columns(name);
		free(name);
	}
	if (c->nstrata == 0) {
		fputs("  no prod samples in the last 7 days\n", f);
	} else {
		fputs("  ", f);
		pad(f, "stratum", width);
		fprintf(f, "  %-26s  %-26s  %7s\n", "baseline (prod)", "recent (prod)", "change");
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
		char *name = term(s->stratum, 64);
		fputs("  ", f);
		pad(f, name, width);
		fprintf(f, "  %-26s  %-26s  %7s  %s\n", base, rec, change, status);
		free(name);
	}
	text_flaky(f, fl, nfl, flips, last);
}

/* write_output: the rendered text to --output (via a temporary file
 * renamed over it) or to stdout. */
static int write_output(const char *path, const char *data, size_t len)
{
	if (!path || strcmp(path, "-") == 0) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
			cmd_error("cannot write to standard output: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int rc = -1;
	if (!f) {
		cmd_error("cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	bool ok = fwrite(data, 1, len, f) == len;
	ok = fflush(f) == 0 && ok;
	ok = fsync(fileno(f)) == 0 && ok;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		cmd_error("cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

/* parse_args: 0 to go on, 1 after --help, -1 after an error. */
static int parse_args(int argc, char **argv, struct history_cmd *c)
{
	const char *now_arg = NULL;
	struct cmd_parser p;
	int opt, choice;
	long n;
	cmd_parser_init(&p, &cmd_history_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		const char *arg = p.arg;
		switch (opt) {
		case OPT_SUITE:
			c->suite = arg;
			break;
		case OPT_SINCE:
			c->since_arg = arg;
			break;
		case OPT_FORMAT:
			if ((choice = cmd_parser_choice(&p)) < 0)
				return -1;
			c->format = (enum format)choice;
			break;
		case OPT_FINGERPRINTS:
			c->fingerprints = true;
			break;
		case OPT_RUNS:
			if (cmd_parser_count(&p, 1, 1000000, &n) < 0)
				return -1;
			c->runs = (int)n;
			break;
		case OPT_OUTPUT:
			c->output = arg;
			break;
		case OPT_CHECK:
			c->check = true;
			break;
		case OPT_MAX_DROP: {
			char *end;
			errno = 0;
			c->max_drop = strtod(arg, &end);
			if (errno || end == arg || *end || !(c->max_drop >= 0) ||
			    c->max_drop >= 1) {
				cmd_error("--max-drop takes a fraction 0 <= D < 1 (0.05 for 5%%), "
					  "not '%s'", arg);
				return -1;
			}
			c->max_drop_set = true;
			break;
		}
		case OPT_FLIPS:
			if (cmd_parser_count(&p, 1, 1000000, &n) < 0)
				return -1;
			c->flips = (int)n;
			break;
		case OPT_LAST:
			if (cmd_parser_count(&p, 2, 1000000, &n) < 0)
				return -1;
			c->last = (int)n;
			break;
		case OPT_NOW:
			now_arg = arg;
			break;
		}
	}
	if (cmd_parser_end(&p, opt, 1, 1) < 0)
		return p.exit == 0 ? 1 : -1;
	c->path = argv[1];
	if (c->check && (c->format == FORMAT_HTML || c->fingerprints || c->since_arg)) {
		cmd_error("--check takes neither --format html, --fingerprints nor --since (it "
			  "has its own windows); see 'canary history --help'");
		return -1;
	}
	if (c->max_drop_set && !c->check) {
		cmd_error("--max-drop needs --check");
		return -1;
	}
	if (c->fingerprints && c->format == FORMAT_HTML) {
		cmd_error("the HTML page always lists fingerprints; drop --fingerprints");
		return -1;
	}
	c->now = util_wall_ms();
	if (now_arg && history_parse_time(now_arg, &c->now) < 0) {
		cmd_error("--now takes an RFC 3339 time or Unix milliseconds, not '%s'", now_arg);
		return -1;
	}
	c->since = c->now - 7 * HISTORY_DAY_MS;
	if (c->since_arg && history_parse_since(c->since_arg, c->now, &c->since) < 0) {
		cmd_error("--since takes a duration (90m, 48h, 7d, 2w) or a time (RFC 3339 or "
			  "Unix ms), not '%s'", c->since_arg);
		return -1;
	}
	if (c->since > c->now) {
		cmd_error("--since is after --now");
		return -1;
	}
	return 0;
}

/* suites_of: --suite, or every suite with runs in [since, now]. */
static int suites_of(struct history *h, const struct history_cmd *c, long long since,
		     char ***names, size_t *n)
{
	char *err = NULL;
	if (c->suite) {
		*names = xcalloc(1, sizeof(**names));
		(*names)[0] = xstrdup(c->suite);
		*n = 1;
		return 0;
	}
	if (history_suites(h, since, c->now, names, n, &err) < 0) {
		cmd_error("%s", err);
		free(err);
		return -1;
	}
	return 0;
}

static int run_check(struct history *h, const struct history_cmd *c, FILE *out)
{
	char **names = NULL;
	size_t n = 0, compared = 0, degraded = 0;
	int rc = EXIT_USAGE;
	char *err = NULL;
	cJSON *json = NULL, *suites = NULL;
	double max_drop = c->max_drop_set ? c->max_drop : HISTORY_MAX_DROP_DEFAULT;
	int flips = c->flips ? c->flips : HISTORY_FLIPS_DEFAULT;
	int last = c->last ? c->last : HISTORY_LAST_DEFAULT;

	if (suites_of(h, c, c->now - HISTORY_CHECK_BASELINE_MS, &names, &n) < 0)
		goto out;
	if (c->format == FORMAT_JSON) {
		json = cJSON_CreateObject();
		cJSON_AddNumberToObject(json, "canary_history_check", 1);
		suites = cJSON_AddArrayToObject(json, "suites");
	}
	for (size_t i = 0; i < n; i++) {
		struct history_check chk;
		struct history_flaky *fl = NULL;
		size_t nfl = 0;
		if (history_check(h, names[i], c->now, max_drop, &chk, &err) < 0)
			goto out;
		if (history_flaky(h, names[i], c->now, flips, last, &fl, &nfl, &err) < 0) {
			history_check_release(&chk);
			goto out;
		}
		compared += chk.ncompared;
		degraded += chk.ndegraded;
		if (json) {
			cJSON_AddItemToArray(suites, history_check_json(&chk, fl, nfl));
		} else {
			if (i)
				fputc('\n', out);
			text_check(out, &chk, fl, nfl, flips, last);
		}
		history_check_release(&chk);
		history_flaky_free(fl, nfl);
	}
	rc = degraded ? EXIT_FAIL : compared ? EXIT_PASS : EXIT_ERRORS;
	if (json) {
		cJSON_AddNumberToObject(json, "exit_code", rc);
		util_json_write(out, json);
	} else if (n == 0) {
		fputs("no runs in the last 7 days: nothing to compare\n", out);
	} else {
		fprintf(out, "\n%s\n", degraded ? "result: degraded"
				       : compared ? "result: ok"
				       : "result: not enough data (no baseline or no recent runs)");
	}
out:
	if (err) {
		cmd_error("%s", err);
		free(err);
	}
	cJSON_Delete(json);
	history_strings_free(names, n);
	return rc;
}

/* fingerprints_json: --fingerprints --format json: the window and the prod
 * fingerprints of a view. */
static cJSON *fingerprints_json(const struct history_view *v)
{
	static const char *const keys[] = {"suite", "since", "until"};
	cJSON *full = history_view_json(v);
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		cJSON_AddItemToObject(o, keys[i],
				      cJSON_DetachItemFromObjectCaseSensitive(full, keys[i]));
	cJSON_AddNumberToObject(o, "runs", (double)v->nruns);
	cJSON *fps = cJSON_DetachItemFromObjectCaseSensitive(full, "fingerprints");
	for (cJSON *fp = fps ? fps->child : NULL, *next; fp; fp = next) {
		next = fp->next;
		const char *target = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fp, "target"));
		if (!target || strcmp(target, "prod") != 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(fps, fp));
	}
	cJSON_AddItemToObject(o, "fingerprints", fps ? fps : cJSON_CreateArray());
	cJSON_Delete(full);
	return o;
}

static int run_show(struct history *h, const struct history_cmd *c, FILE *out)
{
	char **names = NULL;
	size_t n = 0, nviews = 0;
	struct history_view *views = NULL;
	int rc = EXIT_USAGE;
	char *err = NULL;

	if (suites_of(h, c, c->since, &names, &n) < 0)
		goto out;
	views = xcalloc(n + 1, sizeof(*views));
	for (size_t i = 0; i < n; i++) {
		struct history_query q = {
			.suite = names[i], .since = c->since, .until = c->now,
			.flips = c->flips, .last = c->last,
		};
		if (history_view_load(h, &q, &views[i], &err) < 0)
			goto out;
		nviews++;
	}
	int runs = c->runs ? c->runs : 20;
	if (c->format == FORMAT_HTML) {
		struct history_html_options o = {.generated_at = c->now, .runs = runs};
		if (history_html(out, views, nviews, &o, &err) < 0)
			goto out;
	} else if (c->format == FORMAT_JSON) {
		cJSON *json = cJSON_CreateObject();
		cJSON_AddNumberToObject(json, "canary_history", 1);
		cJSON *suites = cJSON_AddArrayToObject(json, "suites");
		for (size_t i = 0; i < nviews; i++)
			cJSON_AddItemToArray(suites, c->fingerprints
							     ? fingerprints_json(&views[i])
							     : history_view_json(&views[i]));
		util_json_write(out, json);
		cJSON_Delete(json);
	} else {
		if (nviews == 0) {
			char since[32];
			util_rfc3339(c->since, since);
			fprintf(out, "no runs since %s\n", since);
		}
		for (size_t i = 0; i < nviews; i++) {
			if (i)
				fputc('\n', out);
			if (c->fingerprints)
				text_fingerprints(out, &views[i]);
			else
				text_view(out, &views[i], runs);
		}
	}
	rc = 0;
out:
	if (err) {
		cmd_error("%s", err);
		free(err);
	}
	for (size_t i = 0; i < nviews; i++)
		history_view_release(&views[i]);
	free(views);
	history_strings_free(names, n);
	return rc;
}

static int cmd_history(int argc, char **argv)
{
	struct history_cmd c = {.format = FORMAT_TEXT};
	int parsed = parse_args(argc, argv, &c);
	if (parsed != 0)
		return parsed > 0 ? 0 : EXIT_USAGE;
	char *err = NULL;
	struct history *h = history_open_readonly(c.path, &err);
	if (!h) {
		cmd_error("%s", err);
		free(err);
		return EXIT_USAGE;
	}
	/* Render into memory first, so that --output is written whole or not at all. */
	char *data = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&data, &len);
	if (!out)
		abort();
	int rc = c.check ? run_check(h, &c, out) : run_show(h, &c, out);
	fclose(out);
	history_close(h);
	if (rc != EXIT_USAGE && write_output(c.output, data, len) < 0)
		rc = EXIT_USAGE;
	free(data);
	return rc;
}

const struct cmd_entry cmd_history_entry = {
	.name = "history",
	.summary = "show trends, fingerprints and checks from run history",
	.help = history_help,
	.operands = "a history file",
	.operand_kind = CMD_VALUE_FILE,
	.options = history_options,
	.exec = cmd_history,
};
