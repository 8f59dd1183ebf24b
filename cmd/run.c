/* run.c: `canary run SUITE`: load, run against both targets, report. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "cmd.h"
#include "fingerprint/fingerprint.h"
#include "history/history.h"
#include "notify/notify.h"
#include "otlp/otlp.h"
#include "replay/replay.h"
#include "report/report.h"
#include "suite/suite.h"
#include "util.h"

static volatile sig_atomic_t stop_requested;
/* The OTLP export's own stop: it runs after an interrupted run too. */
static volatile sig_atomic_t export_stop;

/* on_signal: SIGINT, SIGTERM or SIGHUP.  The first stops the run (what is in
 * flight gets the grace); a second ends the grace at once.  Each stops the
 * OTLP export. */
static void on_signal(int sig)
{
	(void)sig;
	if (stop_requested < 2)
		stop_requested++;
	export_stop = 2;
}

int cmd_add_report(struct cmd_output *out, const char *spec)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || !eq[1]) {
		cmd_error("--report takes FORMAT=PATH (e.g. json=report.json, json=- for stdout), "
			  "not '%s'",
			  spec);
		return -1;
	}
	if (!cmd_find_format(spec, (size_t)(eq - spec)))
		return -1;
	out->reports = xreallocarray(out->reports, out->nreports + 1, sizeof(*out->reports));
	out->reports[out->nreports++] = spec;
	return 0;
}

/* Write one FORMAT=PATH report. */
static int write_report(const char *spec, const struct report *rep)
{
	const char *eq = strchr(spec, '=');
	return cmd_write_report(eq + 1, report_format_find(spec, (size_t)(eq - spec)), rep);
}

static bool reports_to_stdout(const struct cmd_output *out)
{
	for (size_t i = 0; i < out->nreports; i++)
		if (strcmp(strchr(out->reports[i], '=') + 1, "-") == 0)
			return true;
	return false;
}

/* What the progress line counts. */
struct progress {
	size_t done;
	size_t total;
	size_t errors;
	double started;
	double shown;
};

/* On a terminal: one self-updating stderr line with samples done, errors
 * and elapsed time, at most ten times a second. */
static void print_progress(const struct run *r, const struct case_result *cr,
			   const struct sample *s, void *user)
{
	(void)cr;
	struct progress *p = user;
	p->done++;
	if (p->done >= p->total) {
		/* Confirmations add samples as the run goes. */
		p->total = 0;
		for (size_t i = 0; i < r->ncases; i++)
			if (r->cases[i].selected)
				p->total += r->cases[i].side[SIDE_EVAL].nsamples +
					    r->cases[i].side[SIDE_PROD].nsamples;
	}
	p->errors += s->grade == GRADE_ERROR;
	double now = util_now_ms();
	if (now - p->shown < 100 && p->done < p->total)
		return;
	p->shown = now;
	fprintf(stderr, "\r\033[K%zu/%zu samples, %zu error%s, %.1f s", p->done, p->total,
		p->errors, p->errors == 1 ? "" : "s", (now - p->started) / 1000.0);
	fflush(stderr);
}

/* Append the markdown report to $GITHUB_STEP_SUMMARY when it is set. */
static void write_step_summary(const struct report *rep)
{
	const char *path = getenv("GITHUB_STEP_SUMMARY");
	if (!path || !*path)
		return;
	FILE *f = fopen(path, "a");
	char *err = NULL;
	if (!f || report_markdown(f, rep, &err) < 0 || fclose(f) != 0) {
		cmd_error("cannot append to GITHUB_STEP_SUMMARY '%s': %s", path,
			  err ? err : strerror(errno));
		if (f && err)
			fclose(f);
	}
	free(err);
}

/* Record the run of rep in its history and compare: which prod fingerprints
 * no recorded run evaluated, which are new since the last run (into rep's
 * history).  A history that cannot be written is said on stderr; -1 then,
 * and the reports are still written. */
static int record_history(struct history *h, struct report *rep, const char *suite_path)
{
	char *err = NULL, *hash = NULL;
	size_t len = 0;
	char *text = suite_path ? util_read_file(suite_path, (size_t)64 << 20, &len, &err) : NULL;
	if (text)
		hash = fingerprint_sha256(text, len);
	free(text);
	free(err);
	err = NULL;
	long long run_id = 0;
	int rc = history_record(h, rep, hash, &run_id, &err);
	if (rc == 0)
		rc = history_compare(h, rep, run_id, &err);
	if (rc < 0)
		cmd_error("cannot record the run in the history: %s", err);
	free(err);
	free(hash);
	return rc;
}

static void notify_done(struct http_result *res, void *user)
{
	struct http_result *out = user;
	out->ok = notify_delivered(res);
	out->status = res->status;
	out->error = res->error ? xstrdup(res->error) : NULL;
}

/* POST the state change (or reminder) to --notify, retried like any
 * request; its failure is said on stderr and changes no exit code. */
static void send_notification(struct history *h, const struct report *rep,
			      const struct run_options *ro, const struct cmd_output *out)
{
	struct notify_options no = {
		.now_ms = util_wall_ms(),
		.remind_ms = out->remind_ms,
		.report_url = out->report_url,
	};
	struct notify_plan plan = {0};
	struct transport *tr = NULL;
	struct http_result res = {0};
	char *err = NULL, *shown = notify_url_display(out->notify);
	if (notify_prepare(h, rep, &no, &plan, &err) < 0) {
		cmd_error("cannot notify %s: %s", shown, err);
		goto out;
	}
	if (plan.kind != NOTIFY_NONE) {
		struct transport_options to = ro->transport;
		tr = transport_new(&to, &err);
		if (!tr) {
			cmd_error("cannot notify %s: %s", shown, err);
			goto out;
		}
		struct http_request *req = notify_request(out->notify, &plan);
		req->done = notify_done;
		req->user = &res;
		transport_submit(tr, req);
		if (transport_run(tr, &stop_requested, &err) < 0 || !res.ok) {
			if (res.error)
				cmd_error("cannot notify %s: %s", shown, res.error);
			else
				cmd_error("cannot notify %s: HTTP %ld", shown, res.status);
			goto out;
		}
	}
	if (notify_commit(h, &plan, no.now_ms, &err) < 0)
		cmd_error("cannot remember the notification in the history: %s", err);
out:
	transport_free(tr);
	notify_plan_release(&plan);
	free(res.error);
	free(shown);
	free(err);
}

/* Export the report to OTLP; a failure is a warning and changes no exit
 * code. */
static void export_otlp(const struct report *rep, const struct run_options *ro,
			const struct otlp_config *c)
{
	char *err = NULL;
	export_stop = 0;
	if (otlp_export(rep, c, &ro->transport, &export_stop, &err) < 0)
		cmd_error("warning: OTLP export failed: %s", err);
	free(err);
}

/* otlp_pairs: the pairs of environment variable name, if set, into
 * pairs; -1 after saying why when it is malformed. */
static int otlp_pairs(const char *name, struct otlp_pair **pairs, size_t *n)
{
	const char *text = getenv(name);
	char *err = NULL;
	if (!text || otlp_parse_pairs(text, name, pairs, n, &err) == 0)
		return 0;
	cmd_error("%s", err);
	free(err);
	return -1;
}

/* otlp_setup: the OTLP export --otlp or the OpenTelemetry variables ask
 * for into out->otlp (none when neither names an endpoint); -1 after
 * saying why when a variable is malformed. */
static int otlp_setup(struct cmd_output *out, const char *endpoint)
{
	const char *env = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	if (!endpoint)
		endpoint = env && *env ? env : NULL;
	if (!endpoint)
		return 0;
	struct otlp_config *c = xcalloc(1, sizeof(*c));
	c->endpoint = xstrdup(endpoint);
	out->otlp = c;
	if (otlp_pairs("OTEL_EXPORTER_OTLP_HEADERS", &c->headers, &c->nheaders) < 0 ||
	    otlp_pairs("OTEL_RESOURCE_ATTRIBUTES", &c->resource, &c->nresource) < 0)
		return -1;
	const char *protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL");
	if (protocol && *protocol && strcmp(protocol, "http/json") != 0)
		cmd_error("warning: OTEL_EXPORTER_OTLP_PROTOCOL is '%s'; canary exports "
			  "http/json only",
			  protocol);
	return 0;
}

/* --verbose: one line per sample on stderr as it is graded. */
static void print_sample(const struct run *r, const struct case_result *cr,
			 const struct sample *s, void *user)
{
	(void)user;
	fprintf(stderr, "  %-5s %s/%s #%d %s %.0f ms%s%s\n", grade_name(s->grade),
		r->suite->strata[cr->c->stratum].name, cr->c->id, s->index + 1,
		side_name(s->side), s->latency_ms, s->nreasons ? "  " : "",
		s->nreasons ? s->reasons[0] : "");
	for (size_t t = 0; t < s->nturns; t++) {
		const struct sample_turn *st = &s->turns[t];
		fprintf(stderr, "        turn %zu:", t + 1);
		for (size_t k = 0; k < st->nsteps; k++) {
			fprintf(stderr, "%s%ld", k ? " > " : " ", st->steps[k].status);
			for (size_t c = 0; c < st->steps[k].ncalls; c++)
				fprintf(stderr, "%s%s", c ? ", " : " ", st->steps[k].calls[c]);
			if (!st->steps[k].ncalls)
				fputs(" text", stderr);
		}
		fprintf(stderr, "  %s\n", grade_name(st->grade));
	}
}

int cmd_run_suite(struct suite *s, struct run_options *ro, const struct cmd_output *out)
{
	static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
	stop_requested = 0;
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(stop_signals); i++)
		sigaction(stop_signals[i], &sa, NULL);
	ro->stop = &stop_requested;
	struct progress progress = {.started = util_now_ms()};
	bool show_progress = !out->verbose && !out->quiet && isatty(STDERR_FILENO);
	if (out->verbose) {
		ro->on_sample = print_sample;
	} else if (show_progress) {
		ro->on_sample = print_progress;
		ro->user = &progress;
	}
	char *err = NULL;
	struct run *r = run_execute(s, ro, &err);
	if (show_progress && progress.done)
		fputs("\r\033[K", stderr);
	if (!r) {
		cmd_error("%s", err);
		free(err);
		return EXIT_USAGE;
	}
	if (r->warning)
		cmd_error("warning: %s", r->warning);
	if (r->save_error)
		cmd_error("warning: --save-replies stopped: %s", r->save_error);
	/* From here on the report is the run: the run's own state goes. */
	struct report *rep = run_report(r);
	run_free(r);
	if (out->replay)
		replay_report(out->replay, rep);
	int rc = rep->exit_code;
	const char *exit_reason = NULL;
	struct history *hist = NULL;
	if (out->history) {
		hist = history_open(out->history, &err);
		if (!hist) {
			cmd_error("cannot record the run in the history: %s", err);
			free(err);
			err = NULL;
		}
		if ((!hist || record_history(hist, rep, s->path) < 0) && rc == EXIT_PASS) {
			rc = EXIT_ERRORS;
			exit_reason = "the run could not be recorded in the history";
		}
		rep->exit_code = rc; /* what every report says is what canary exits with */
		/* The history may know prod compositions no recorded run evaluated. */
		report_apply_fingerprints(rep);
		rc = rep->exit_code;
	}
	bool text_elsewhere = reports_to_stdout(out);
	FILE *human = text_elsewhere ? stderr : stdout;
	struct report_text_options o = {
		.color = cmd_use_color(human, out->color),
		.verbose = out->verbose,
		.exit_reason = exit_reason,
	};
	if (out->quiet || text_elsewhere)
		report_verdict_line(human, rep, &o);
	else
		report_text_with(stdout, rep, &o);
	fflush(human);
	for (size_t i = 0; i < out->nreports; i++)
		if (write_report(out->reports[i], rep) < 0 && rc == EXIT_PASS)
			rc = EXIT_ERRORS;
	if (!out->no_step_summary)
		write_step_summary(rep);
	if (out->notify && hist)
		send_notification(hist, rep, ro, out);
	history_close(hist);
	if (out->otlp)
		export_otlp(rep, ro, out->otlp);
	if (stop_requested && !rep->interrupted)
		rc = EXIT_INTERRUPTED; /* stopped while notifying */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		/* stdout closed (a pipe whose reader left): the reports are written */
		rc = rc == EXIT_PASS ? EXIT_ERRORS : rc;
	}
	report_free(rep);
	return rc;
}

static const char run_help[] =
	"usage: canary run SUITE [options]\n"
	"\n"
	"Fire every case of SUITE at the eval and prod targets, grade both alike and\n"
	"print a per-stratum diff.\n"
	"\n"
	"  --target SIDE=URL     override a target's URL (SIDE is eval or prod)\n"
	"  --stratum NAME        run only the cases of stratum NAME; may be repeated\n"
	"  --case GLOB           run only the cases whose id or stratum/id matches\n"
	"                        GLOB; may be repeated\n"
	"  --repeat N            samples per case and target (overrides the suite)\n"
	"  --alpha P             significance level for repeats (default 0.05,\n"
	"                        corrected across strata and cases)\n"
	"  --confirm N           re-sample a case whose first samples disagree or\n"
	"                        miss the threshold, and a stratum's other cases\n"
	"                        when those differ: N more per side (overrides\n"
	"                        the suite; default 0)\n"
	"  --min-valid F         fraction of a side's samples that must be valid\n"
	"                        when it has more than one (overrides the suite;\n"
	"                        default 0.5)\n"
	"  --strict              flaky cases (a difference that is not significant)\n"
	"                        fail the run too\n"
	"  --fail-on-unevaluated exit 1 when prod serves a composition eval never\n"
	"                        served (with --history: no recorded run served)\n"
	"  --expect-fingerprint SIDE=MANIFEST\n"
	"                        exit 1 unless every fingerprint SIDE's replies\n"
	"                        carried names the composition of MANIFEST (see\n"
	"                        'canary fingerprint'); SIDE is eval or prod\n"
	"  --concurrency N       requests in flight (default 16)\n"
	"  --timeout DURATION    per-request timeout, e.g. 30s (overrides the suite)\n"
	"  --grace DURATION      once interrupted, how long requests and exec graders\n"
	"                        in flight may finish (default 2s)\n"
	"  --retries N           retries of failed requests (default 2)\n"
	"  --max-reply SIZE      largest reply accepted, e.g. 8MiB (default)\n"
	"  --save-replies DIR    save every sample's request and reply, redacted, with\n"
	"                        its grades: DIR/STRATUM/CASE/SIDE/INDEX.json\n"
	"  --save-replies-format FORMAT\n"
	"                        json (default: a file per sample) or jsonl (log\n"
	"                        records in DIR/replies.jsonl)\n"
	"  --judge-url URL       override the judge's URL\n"
	"  --judge-concurrency N judge requests in flight (default 8)\n"
	"  --judge-lazy          skip the judge when other graders already failed\n"
	"  --judge-cache PATH    the judge's verdict cache (default\n"
	"                        $XDG_CACHE_HOME/canary/judge.sqlite)\n"
	"  --no-judge-cache      judge every reply afresh\n"
	"  --report FORMAT=PATH  also write a report: json, junit, markdown, prom, tap\n"
	"                        or text; '-' is stdout; may be repeated\n"
	"  --shard I/N           run only shard I (from 0) of N; merge the reports\n"
	"                        with 'canary merge'\n"
	"  --lock PATH           hold an flock on PATH; if another run holds it,\n"
	"                        exit 75 at once\n"
	"  --no-step-summary     do not append markdown to $GITHUB_STEP_SUMMARY\n"
	"  --history PATH        record the run in a SQLite history, and report\n"
	"                        prod fingerprints no recorded run evaluated and\n"
	"                        those new since the last run\n"
	"  --notify URL          POST a JSON (Slack-compatible) message to URL when\n"
	"                        the suite's state or its failing strata change;\n"
	"                        needs --history;\n"
	"                        env:NAME reads the URL from the environment\n"
	"  --remind DURATION     repeat it while a failing state lasts (default 24h;\n"
	"                        0: never)\n"
	"  --report-url URL      a link to the full report, put in the message\n"
	"  --budget N|Xusd       stop sending new requests once the replies have\n"
	"                        declared N tokens (input and output), or cost X US\n"
	"                        dollars at the targets' price:; the samples not\n"
	"                        sent are reported as not run (exit 3)\n"
	"  --otlp URL            export the run to an OpenTelemetry collector\n"
	"                        (OTLP/HTTP JSON; URL is the base, v1/traces and\n"
	"                        v1/logs go below it; default\n"
	"                        $OTEL_EXPORTER_OTLP_ENDPOINT)\n"
	"  -q, --quiet           print only the verdict line\n"
	"  -v, --verbose         print every sample as it is graded\n"
	"  --color, --no-color   force colour on or off (default: on a TTY, unless\n"
	"                        NO_COLOR is set)\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 0 pass, 1 drift/eval-regression/regression, 2 usage or suite error\n"
	"(nothing sent), 3 some cases could not be measured, 75 locked by another\n"
	"run, 130 interrupted (SIGINT, SIGTERM or SIGHUP: what is in flight gets the\n"
	"grace, a second signal ends it, then every report is written with what\n"
	"finished).\n";

enum {
	OPT_TARGET = 256,
	OPT_STRATUM,
	OPT_CASE,
	OPT_REPEAT,
	OPT_CONCURRENCY,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_MAX_REPLY,
	OPT_REPORT,
	OPT_COLOR,
	OPT_NO_COLOR,
	OPT_JUDGE_URL,
	OPT_JUDGE_CONCURRENCY,
	OPT_JUDGE_LAZY,
	OPT_JUDGE_CACHE,
	OPT_NO_JUDGE_CACHE,
	OPT_SHARD,
	OPT_LOCK,
	OPT_NO_STEP_SUMMARY,
	OPT_ALPHA,
	OPT_CONFIRM,
	OPT_MIN_VALID,
	OPT_STRICT,
	OPT_HISTORY,
	OPT_NOTIFY,
	OPT_REMIND,
	OPT_REPORT_URL,
	OPT_GRACE,
	OPT_SAVE_REPLIES,
	OPT_SAVE_REPLIES_FORMAT,
	OPT_OTLP,
	OPT_BUDGET,
	OPT_FAIL_ON_UNEVALUATED,
	OPT_EXPECT_FINGERPRINT,
};

static const char *const save_formats[] = {"json", "jsonl", NULL};

static const struct cmd_option run_options[] = {
	{"target", 0, true, OPT_TARGET, CMD_VALUE_SIDE_URL, NULL},
	{"stratum", 0, true, OPT_STRATUM, CMD_VALUE_STRATUM, NULL},
	{"case", 0, true, OPT_CASE, CMD_VALUE_CASE, NULL},
	{"repeat", 0, true, OPT_REPEAT, CMD_VALUE_NONE, NULL},
	{"concurrency", 0, true, OPT_CONCURRENCY, CMD_VALUE_NONE, NULL},
	{"timeout", 0, true, OPT_TIMEOUT, CMD_VALUE_NONE, NULL},
	{"retries", 0, true, OPT_RETRIES, CMD_VALUE_NONE, NULL},
	{"max-reply", 0, true, OPT_MAX_REPLY, CMD_VALUE_NONE, NULL},
	{"report", 0, true, OPT_REPORT, CMD_VALUE_REPORT, NULL},
	{"quiet", 'q', false, 'q', CMD_VALUE_NONE, NULL},
	{"verbose", 'v', false, 'v', CMD_VALUE_NONE, NULL},
	{"color", 0, false, OPT_COLOR, CMD_VALUE_NONE, NULL},
	{"no-color", 0, false, OPT_NO_COLOR, CMD_VALUE_NONE, NULL},
	{"judge-url", 0, true, OPT_JUDGE_URL, CMD_VALUE_NONE, NULL},
	{"judge-concurrency", 0, true, OPT_JUDGE_CONCURRENCY, CMD_VALUE_NONE, NULL},
	{"judge-lazy", 0, false, OPT_JUDGE_LAZY, CMD_VALUE_NONE, NULL},
	{"judge-cache", 0, true, OPT_JUDGE_CACHE, CMD_VALUE_FILE, NULL},
	{"no-judge-cache", 0, false, OPT_NO_JUDGE_CACHE, CMD_VALUE_NONE, NULL},
	{"shard", 0, true, OPT_SHARD, CMD_VALUE_NONE, NULL},
	{"lock", 0, true, OPT_LOCK, CMD_VALUE_FILE, NULL},
	{"no-step-summary", 0, false, OPT_NO_STEP_SUMMARY, CMD_VALUE_NONE, NULL},
	{"alpha", 0, true, OPT_ALPHA, CMD_VALUE_NONE, NULL},
	{"confirm", 0, true, OPT_CONFIRM, CMD_VALUE_NONE, NULL},
	{"min-valid", 0, true, OPT_MIN_VALID, CMD_VALUE_NONE, NULL},
	{"strict", 0, false, OPT_STRICT, CMD_VALUE_NONE, NULL},
	{"history", 0, true, OPT_HISTORY, CMD_VALUE_FILE, NULL},
	{"notify", 0, true, OPT_NOTIFY, CMD_VALUE_NONE, NULL},
	{"remind", 0, true, OPT_REMIND, CMD_VALUE_NONE, NULL},
	{"report-url", 0, true, OPT_REPORT_URL, CMD_VALUE_NONE, NULL},
	{"grace", 0, true, OPT_GRACE, CMD_VALUE_NONE, NULL},
	{"save-replies", 0, true, OPT_SAVE_REPLIES, CMD_VALUE_FILE, NULL},
	{"save-replies-format", 0, true, OPT_SAVE_REPLIES_FORMAT, CMD_VALUE_WORDS, save_formats},
	{"otlp", 0, true, OPT_OTLP, CMD_VALUE_NONE, NULL},
	{"budget", 0, true, OPT_BUDGET, CMD_VALUE_NONE, NULL},
	{"fail-on-unevaluated", 0, false, OPT_FAIL_ON_UNEVALUATED, CMD_VALUE_NONE, NULL},
	{"expect-fingerprint", 0, true, OPT_EXPECT_FINGERPRINT, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

/* parse_target: SIDE=URL into opts. */
static int parse_target(const char *arg, struct suite_options *so)
{
	const char *eq = strchr(arg, '=');
	enum side side = eq ? cmd_side(arg, (size_t)(eq - arg)) : SIDE__COUNT;
	if (side == SIDE__COUNT || !eq[1]) {
		cmd_error("--target takes eval=URL or prod=URL, not '%s'", arg);
		return -1;
	}
	so->target_url[side] = eq + 1;
	return 0;
}

/* parse_expect: SIDE=MANIFEST into ro->expected[SIDE] (the manifest's
 * compact form with full hashes, stored in held[SIDE]). */
static int parse_expect(const char *arg, struct run_options *ro, char *held[SIDE__COUNT])
{
	const char *eq = strchr(arg, '=');
	enum side side = eq ? cmd_side(arg, (size_t)(eq - arg)) : SIDE__COUNT;
	char *err = NULL;
	if (side == SIDE__COUNT || !eq[1]) {
		cmd_error("--expect-fingerprint takes eval=MANIFEST or prod=MANIFEST, not '%s'",
			  arg);
		return -1;
	}
	struct fingerprint *fp = fingerprint_manifest_load(eq + 1, &err);
	if (!fp) {
		cmd_error("--expect-fingerprint: %s", err);
		free(err);
		return -1;
	}
	free(held[side]);
	held[side] = fingerprint_header(fp, 0);
	ro->expected[side] = held[side];
	fingerprint_free(fp);
	return 0;
}

/* parse_shard: "I/N" with 0 <= I < N into ro. */
static int parse_shard(const char *arg, struct run_options *ro)
{
	char *end;
	errno = 0;
	long i = strtol(arg, &end, 10);
	long n = *end == '/' ? strtol(end + 1, &end, 10) : -1;
	if (errno || *end || end == arg || n < 1 || n > 10000 || i < 0 || i >= n) {
		cmd_error("--shard takes I/N with 0 <= I < N (e.g. 0/4 for the first of four "
			  "shards), not '%s'",
			  arg);
		return -1;
	}
	ro->shard_index = (int)i;
	ro->shard_count = (int)n;
	return 0;
}

/* parse_budget: N (tokens) or Xusd (US dollars), more than 0, into ro. */
static int parse_budget(const char *arg, struct run_options *ro)
{
	size_t len = strlen(arg);
	bool usd = len > 3 && strcasecmp(arg + len - 3, "usd") == 0;
	char *digits = xstrndup(arg, usd ? len - 3 : len), *end;
	errno = 0;
	double v = strtod(digits, &end);
	bool ok = !errno && end != digits && !*end && v > 0 && v <= 1e15 &&
		  (usd || v == (double)(long long)v);
	free(digits);
	if (!ok) {
		cmd_error("--budget takes a number of tokens (e.g. 200000) or US dollars "
			  "(e.g. 2.50usd), more than 0, not '%s'",
			  arg);
		return -1;
	}
	ro->budget_usd = usd ? v : 0;
	ro->budget_tokens = usd ? 0 : (long long)v;
	return 0;
}

/* take_lock: an exclusive flock on path, held until exit; after saying why,
 * -2 when another run holds it and -1 when it cannot be opened. */
static int take_lock(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		cmd_error("cannot open lock '%s': %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int held = errno == EWOULDBLOCK;
		if (held)
			cmd_error("another canary run holds the lock '%s'; not running", path);
		else
			cmd_error("cannot lock '%s': %s", path, strerror(errno));
		close(fd);
		return held ? -2 : -1;
	}
	return fd; /* released when the process exits */
}

static int cmd_run(int argc, char **argv)
{
	const char *lock_path = NULL;
	const char *otlp_url = NULL;
	char *expected[SIDE__COUNT] = {NULL};
	int lock_fd = -1;
	struct run_options ro;
	struct suite_options so = {.lazy_env = true};
	struct cmd_output out = {.color = -1, .remind_ms = 24L * 3600 * 1000};
	struct suite *s = NULL;
	struct cmd_parser p;
	int rc = EXIT_USAGE;
	int opt;
	long n;
	run_options_default(&ro);
	cmd_parser_init(&p, &cmd_run_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		switch (opt) {
		case OPT_TARGET:
			if (parse_target(p.arg, &so) < 0)
				goto out;
			break;
		case OPT_STRATUM:
			suite_filter_add(&ro.filter.strata, &ro.filter.nstrata, p.arg);
			break;
		case OPT_CASE:
			suite_filter_add(&ro.filter.cases, &ro.filter.ncases, p.arg);
			break;
		case OPT_REPEAT:
			if (cmd_parser_count(&p, 1, 1000, &n) < 0)
				goto out;
			ro.repeat = (int)n;
			break;
		case OPT_CONCURRENCY:
			if (cmd_parser_count(&p, 1, 1024, &n) < 0)
				goto out;
			ro.transport.concurrency[POOL_TARGET] = (int)n;
			break;
		case OPT_TIMEOUT:
			if (util_parse_duration(p.arg, &ro.timeout_ms) < 0 || ro.timeout_ms <= 0) {
				cmd_error("--timeout takes a duration such as 30s or 500ms, "
					  "not '%s'", p.arg);
				goto out;
			}
			break;
		case OPT_RETRIES:
			if (cmd_parser_count(&p, 0, 100, &n) < 0)
				goto out;
			ro.transport.retries = (int)n;
			break;
		case OPT_MAX_REPLY:
			if (util_parse_size(p.arg, &ro.transport.max_reply) < 0 ||
			    ro.transport.max_reply == 0) {
				cmd_error("--max-reply takes a size such as 8MiB or 65536, "
					  "not '%s'", p.arg);
				goto out;
			}
			break;
		case OPT_REPORT:
			if (cmd_add_report(&out, p.arg) < 0)
				goto out;
			break;
		case 'q':
			out.quiet = true;
			break;
		case 'v':
			out.verbose = true;
			break;
		case OPT_COLOR:
			out.color = 1;
			break;
		case OPT_NO_COLOR:
			out.color = 0;
			break;
		case OPT_JUDGE_URL:
			so.judge_url = p.arg;
			break;
		case OPT_JUDGE_CONCURRENCY:
			if (cmd_parser_count(&p, 1, 1024, &n) < 0)
				goto out;
			ro.transport.concurrency[POOL_JUDGE] = (int)n;
			break;
		case OPT_JUDGE_LAZY:
			ro.judge_lazy = true;
			break;
		case OPT_JUDGE_CACHE:
			ro.judge_cache = p.arg;
			break;
		case OPT_NO_JUDGE_CACHE:
			ro.no_judge_cache = true;
			break;
		case OPT_SHARD:
			if (parse_shard(p.arg, &ro) < 0)
				goto out;
			break;
		case OPT_LOCK:
			lock_path = p.arg;
			break;
		case OPT_NO_STEP_SUMMARY:
			out.no_step_summary = true;
			break;
		case OPT_ALPHA: {
			char *end;
			errno = 0;
			ro.alpha = strtod(p.arg, &end);
			if (errno || *end || end == p.arg || !(ro.alpha > 0 && ro.alpha < 1)) {
				cmd_error("--alpha takes a significance level between 0 and 1 "
					  "(e.g. 0.05), not '%s'",
					  p.arg);
				goto out;
			}
			break;
		}
		case OPT_CONFIRM:
			if (cmd_parser_count(&p, 0, 1000, &n) < 0)
				goto out;
			ro.confirm = (int)n;
			break;
		case OPT_MIN_VALID: {
			char *end;
			errno = 0;
			ro.min_valid = strtod(p.arg, &end);
			if (errno || *end || end == p.arg || !(ro.min_valid >= 0 && ro.min_valid <= 1)) {
				cmd_error("--min-valid takes a fraction from 0 to 1 (e.g. 0.5), not "
					  "'%s'",
					  p.arg);
				goto out;
			}
			break;
		}
		case OPT_STRICT:
			ro.strict = true;
			break;
		case OPT_HISTORY:
			out.history = p.arg;
			break;
		case OPT_NOTIFY:
			/* env:NAME keeps a webhook URL, itself a credential, out of ps. */
			out.notify = strncmp(p.arg, "env:", 4) == 0 ? getenv(p.arg + 4) : p.arg;
			if (!*p.arg) {
				cmd_error("--notify takes a URL, or env:NAME");
				goto out;
			}
			if (!out.notify || !*out.notify) {
				cmd_error("--notify %s: environment variable '%s' is not set",
					  p.arg, p.arg + 4);
				goto out;
			}
			break;
		case OPT_REMIND:
			if (util_parse_duration(p.arg, &out.remind_ms) < 0) {
				cmd_error("--remind takes a duration such as 24h, or 0 for never, "
					  "not '%s'",
					  p.arg);
				goto out;
			}
			break;
		case OPT_REPORT_URL:
			out.report_url = p.arg;
			break;
		case OPT_BUDGET:
			if (parse_budget(p.arg, &ro) < 0)
				goto out;
			break;
		case OPT_OTLP:
			if (!*p.arg) {
				cmd_error("--otlp takes a URL, such as http://127.0.0.1:4318");
				goto out;
			}
			otlp_url = p.arg;
			break;
		case OPT_FAIL_ON_UNEVALUATED:
			ro.fail_on_unevaluated = true;
			break;
		case OPT_EXPECT_FINGERPRINT:
			if (parse_expect(p.arg, &ro, expected) < 0)
				goto out;
			break;
		case OPT_GRACE:
			if (util_parse_duration(p.arg, &ro.transport.grace_ms) < 0) {
				cmd_error("--grace takes a duration such as 2s, or 0 for none, "
					  "not '%s'",
					  p.arg);
				goto out;
			}
			break;
		case OPT_SAVE_REPLIES:
			ro.save_replies = p.arg;
			break;
		case OPT_SAVE_REPLIES_FORMAT: {
			/* save_formats[] is in enum run_save_format's order */
			int format = cmd_parser_choice(&p);
			if (format < 0)
				goto out;
			ro.save_format = (enum run_save_format)format;
			break;
		}
		}
	}
	if (cmd_parser_end(&p, opt, 1, 1) < 0) {
		rc = p.exit;
		goto out;
	}
	if (out.notify && !out.history) {
		cmd_error("--notify needs --history, where the state it reports changes of "
			  "is kept");
		goto out;
	}
	if (out.notify && (ro.shard_count || ro.filter.nstrata || ro.filter.ncases)) {
		cmd_error("--notify reports the state of the whole suite: it cannot be used "
			  "with --shard, --stratum or --case (alert on the exit code of "
			  "'canary merge' instead: see docs/ci.md)");
		goto out;
	}
	if (otlp_setup(&out, otlp_url) < 0)
		goto out;
	if (lock_path && (lock_fd = take_lock(lock_path)) < 0) {
		rc = lock_fd == -2 ? EXIT_LOCKED : EXIT_USAGE;
		lock_fd = -1;
		goto out;
	}
	char *err = NULL;
	s = suite_load(argv[1], &so, &err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		free(err);
		goto out;
	}
	if (ro.budget_usd > 0 && !(s->targets[SIDE_EVAL].priced && s->targets[SIDE_PROD].priced)) {
		cmd_error("--budget in US dollars needs a price: on both targets (or give it "
			  "in tokens)");
		goto out;
	}
	rc = cmd_run_suite(s, &ro, &out);
out:
	suite_free(s);
	suite_filter_release(&ro.filter);
	free(out.reports);
	if (out.otlp)
		otlp_config_release(out.otlp);
	free(out.otlp);
	for (int side = 0; side < SIDE__COUNT; side++)
		free(expected[side]);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.summary = "fire the suite at eval and prod and diff the verdicts",
	.help = run_help,
	.operands = "a SUITE file",
	.operand_kind = CMD_VALUE_YAML,
	.options = run_options,
	.exec = cmd_run,
};
