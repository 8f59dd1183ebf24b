/* run.c: `canary run SUITE`: load, run against both targets, report. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cmd.h"
#include "fingerprint.h"
#include "history.h"
#include "notify.h"
#include "report.h"
#include "suite.h"
#include "util.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
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
static int write_report(const char *spec, const cJSON *tree)
{
	const char *eq = strchr(spec, '=');
	return cmd_write_report(eq + 1, report_format_find(spec, (size_t)(eq - spec)), tree);
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
static void write_step_summary(const cJSON *tree)
{
	const char *path = getenv("GITHUB_STEP_SUMMARY");
	if (!path || !*path)
		return;
	FILE *f = fopen(path, "a");
	char *err = NULL;
	if (!f || report_markdown(f, tree, &err) < 0 || fclose(f) != 0) {
		cmd_error("cannot append to GITHUB_STEP_SUMMARY '%s': %s", path,
			  err ? err : strerror(errno));
		if (f && err)
			fclose(f);
	}
	free(err);
}

/* Record the run in its history and compare: which prod fingerprints no
 * recorded run evaluated, which are new since the last run.  A history
 * that cannot be written is said on stderr; -1 then, and the reports are
 * still written. */
static int record_history(struct history *h, struct run *r)
{
	char *err = NULL, *hash = NULL;
	size_t len = 0;
	char *text = r->suite->path ? util_read_file(r->suite->path, (size_t)64 << 20, &len, &err)
				    : NULL;
	if (text)
		hash = fingerprint_sha256(text, len);
	free(text);
	free(err);
	err = NULL;
	long long run_id = 0;
	int rc = history_record(h, r, hash, &run_id, &err);
	if (rc == 0)
		rc = history_unevaluated(h, r, &r->history_unevaluated, &r->nhistory_unevaluated,
					 &err);
	if (rc == 0)
		rc = history_new_since_last(h, r, run_id, &r->new_since_last, &r->nnew_since_last,
					    &r->has_previous_run, &err);
	r->history = rc == 0;
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
static void send_notification(struct history *h, const struct run *r,
			      const struct run_options *ro, const struct cmd_output *out)
{
	struct notify_options no = {
		.now_ms = util_wall_ms(),
		.remind_ms = out->remind_ms,
		.report_url = out->report_url,
		.unevaluated = r->history_unevaluated,
		.nunevaluated = r->nhistory_unevaluated,
		.new_since_last = r->new_since_last,
		.nnew_since_last = r->nnew_since_last,
	};
	struct notify_plan plan = {0};
	struct transport *tr = NULL;
	struct http_result res = {0};
	char *err = NULL, *shown = notify_url_display(out->notify);
	if (notify_prepare(h, r, &no, &plan, &err) < 0) {
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

/* --verbose: one line per sample on stderr as it is graded. */
static void print_sample(const struct run *r, const struct case_result *cr,
			 const struct sample *s, void *user)
{
	(void)user;
	static const char *const grades[] = {"pass", "fail", "error"};
	fprintf(stderr, "  %-5s %s/%s #%d %s %.0f ms%s%s\n", grades[s->grade],
		r->suite->strata[cr->c->stratum].name, cr->c->id, s->index + 1,
		side_name(s->side), s->latency_ms, s->nreasons ? "  " : "",
		s->nreasons ? s->reasons[0] : "");
}

int cmd_run_suite(struct suite *s, struct run_options *ro, const struct cmd_output *out)
{
	stop_requested = 0;
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
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
	int rc = r->exit_code;
	struct history *hist = NULL;
	if (out->history) {
		hist = history_open(out->history, &err);
		if (!hist) {
			cmd_error("cannot record the run in the history: %s", err);
			free(err);
			err = NULL;
		}
		if (!hist || record_history(hist, r) < 0)
			rc = rc == EXIT_PASS ? EXIT_ERRORS : rc;
		r->exit_code = rc; /* what every report says is what canary exits with */
	}
	bool text_elsewhere = reports_to_stdout(out);
	FILE *human = text_elsewhere ? stderr : stdout;
	if (out->quiet || text_elsewhere) {
		report_verdict_line(human, r, cmd_use_color(human, out->color));
	} else {
		struct report_text_options o = {
			.color = cmd_use_color(stdout, out->color),
			.verbose = out->verbose,
		};
		report_text(stdout, r, &o);
	}
	fflush(human);
	const char *summary = out->no_step_summary ? NULL : getenv("GITHUB_STEP_SUMMARY");
	cJSON *tree = out->nreports || (summary && *summary) ? report_json_tree(r) : NULL;
	for (size_t i = 0; i < out->nreports; i++)
		if (write_report(out->reports[i], tree) < 0 && rc == EXIT_PASS)
			rc = EXIT_ERRORS;
	if (summary && *summary)
		write_step_summary(tree);
	cJSON_Delete(tree);
	if (out->notify && hist)
		send_notification(hist, r, ro, out);
	history_close(hist);
	if (stop_requested && !r->interrupted)
		rc = EXIT_INTERRUPTED; /* stopped while notifying */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		/* stdout closed (a pipe whose reader left): the reports are written */
		rc = rc == EXIT_PASS ? EXIT_ERRORS : rc;
	}
	run_free(r);
	return rc;
}

static const char run_usage[] =
	"usage: canary run SUITE [options]\n"
	"\n"
	"Fire every case of SUITE at the eval and prod targets, grade both alike and\n"
	"print a per-stratum diff.\n"
	"\n"
	"  --target SIDE=URL     override a target's URL (SIDE is eval or prod)\n"
	"  --stratum NAME        run only this stratum\n"
	"  --case GLOB           run only cases whose id matches GLOB\n"
	"  --repeat N            samples per case and target (overrides the suite)\n"
	"  --alpha P             significance level for repeats (default 0.05,\n"
	"                        corrected across strata and cases)\n"
	"  --confirm N           re-sample a case whose first samples disagree or\n"
	"                        miss the threshold: N more per side (overrides\n"
	"                        the suite; default 0)\n"
	"  --min-valid F         fraction of a side's samples that must be valid\n"
	"                        when it has more than one (overrides the suite;\n"
	"                        default 0.5)\n"
	"  --strict              flaky cases (a difference that is not significant)\n"
	"                        fail the run too\n"
	"  --concurrency N       requests in flight (default 16)\n"
	"  --timeout DURATION    per-request timeout, e.g. 30s (overrides the suite)\n"
	"  --retries N           retries of failed requests (default 2)\n"
	"  --max-reply SIZE      largest reply accepted, e.g. 8MiB (default)\n"
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
	"                        the suite's state changes; needs --history;\n"
	"                        env:NAME reads the URL from the environment\n"
	"  --remind DURATION     repeat it while a failing state lasts (default 24h;\n"
	"                        0: never)\n"
	"  --report-url URL      a link to the full report, put in the message\n"
	"  -q, --quiet           print only the verdict line\n"
	"  -v, --verbose         print every sample as it is graded\n"
	"  --color, --no-color   force colour on or off (default: on a TTY, unless\n"
	"                        NO_COLOR is set)\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 0 pass, 1 drift/eval-regression/regression, 2 usage or suite error\n"
	"(nothing sent), 3 some cases could not be measured, 75 locked by another\n"
	"run, 130 interrupted (SIGINT/SIGTERM: in-flight requests get a short grace,\n"
	"then every report is written with what finished).\n";

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
};

static const struct option run_options[] = {
	{"target", required_argument, NULL, OPT_TARGET},
	{"stratum", required_argument, NULL, OPT_STRATUM},
	{"case", required_argument, NULL, OPT_CASE},
	{"repeat", required_argument, NULL, OPT_REPEAT},
	{"concurrency", required_argument, NULL, OPT_CONCURRENCY},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"retries", required_argument, NULL, OPT_RETRIES},
	{"max-reply", required_argument, NULL, OPT_MAX_REPLY},
	{"report", required_argument, NULL, OPT_REPORT},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"color", no_argument, NULL, OPT_COLOR},
	{"no-color", no_argument, NULL, OPT_NO_COLOR},
	{"judge-url", required_argument, NULL, OPT_JUDGE_URL},
	{"judge-concurrency", required_argument, NULL, OPT_JUDGE_CONCURRENCY},
	{"judge-lazy", no_argument, NULL, OPT_JUDGE_LAZY},
	{"judge-cache", required_argument, NULL, OPT_JUDGE_CACHE},
	{"no-judge-cache", no_argument, NULL, OPT_NO_JUDGE_CACHE},
	{"shard", required_argument, NULL, OPT_SHARD},
	{"lock", required_argument, NULL, OPT_LOCK},
	{"no-step-summary", no_argument, NULL, OPT_NO_STEP_SUMMARY},
	{"alpha", required_argument, NULL, OPT_ALPHA},
	{"confirm", required_argument, NULL, OPT_CONFIRM},
	{"min-valid", required_argument, NULL, OPT_MIN_VALID},
	{"strict", no_argument, NULL, OPT_STRICT},
	{"history", required_argument, NULL, OPT_HISTORY},
	{"notify", required_argument, NULL, OPT_NOTIFY},
	{"remind", required_argument, NULL, OPT_REMIND},
	{"report-url", required_argument, NULL, OPT_REPORT_URL},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* parse_count: a whole number in [min, max] for option name. */
static int parse_count(const char *name, const char *arg, long min, long max, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		cmd_error("%s takes a whole number from %ld to %ld, not '%s'", name, min, max, arg);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* parse_target: SIDE=URL into opts. */
static int parse_target(const char *arg, struct suite_options *so)
{
	const char *eq = strchr(arg, '=');
	for (int side = 0; eq && side < SIDE__COUNT; side++) {
		const char *name = side_name((enum side)side);
		if ((size_t)(eq - arg) == strlen(name) && strncmp(arg, name, strlen(name)) == 0 &&
		    eq[1]) {
			so->target_url[side] = eq + 1;
			return 0;
		}
	}
	cmd_error("--target takes eval=URL or prod=URL, not '%s'", arg);
	return -1;
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

int cmd_run(int argc, char **argv)
{
	const char *lock_path = NULL;
	int lock_fd = -1;
	struct run_options ro;
	struct suite_options so = {0};
	struct cmd_output out = {.color = -1, .remind_ms = 24L * 3600 * 1000};
	struct suite *s = NULL;
	int rc = EXIT_USAGE;
	int opt, n;
	run_options_default(&ro);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "qvh", run_options, NULL)) != -1) {
		switch (opt) {
		case OPT_TARGET:
			if (parse_target(optarg, &so) < 0)
				goto out;
			break;
		case OPT_STRATUM:
			ro.stratum = optarg;
			break;
		case OPT_CASE:
			ro.case_glob = optarg;
			break;
		case OPT_REPEAT:
			if (parse_count("--repeat", optarg, 1, 1000, &ro.repeat) < 0)
				goto out;
			break;
		case OPT_CONCURRENCY:
			if (parse_count("--concurrency", optarg, 1, 1024, &n) < 0)
				goto out;
			ro.transport.concurrency[POOL_TARGET] = n;
			break;
		case OPT_TIMEOUT:
			if (util_parse_duration(optarg, &ro.timeout_ms) < 0 || ro.timeout_ms <= 0) {
				cmd_error("--timeout takes a duration such as 30s or 500ms, not '%s'",
					  optarg);
				goto out;
			}
			break;
		case OPT_RETRIES:
			if (parse_count("--retries", optarg, 0, 100, &ro.transport.retries) < 0)
				goto out;
			break;
		case OPT_MAX_REPLY:
			if (util_parse_size(optarg, &ro.transport.max_reply) < 0 ||
			    ro.transport.max_reply == 0) {
				cmd_error("--max-reply takes a size such as 8MiB or 65536, not '%s'",
					  optarg);
				goto out;
			}
			break;
		case OPT_REPORT:
			if (cmd_add_report(&out, optarg) < 0)
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
			so.judge_url = optarg;
			break;
		case OPT_JUDGE_CONCURRENCY:
			if (parse_count("--judge-concurrency", optarg, 1, 1024, &n) < 0)
				goto out;
			ro.transport.concurrency[POOL_JUDGE] = n;
			break;
		case OPT_JUDGE_LAZY:
			ro.judge_lazy = true;
			break;
		case OPT_JUDGE_CACHE:
			ro.judge_cache = optarg;
			break;
		case OPT_NO_JUDGE_CACHE:
			ro.no_judge_cache = true;
			break;
		case OPT_SHARD:
			if (parse_shard(optarg, &ro) < 0)
				goto out;
			break;
		case OPT_LOCK:
			lock_path = optarg;
			break;
		case OPT_NO_STEP_SUMMARY:
			out.no_step_summary = true;
			break;
		case OPT_ALPHA: {
			char *end;
			errno = 0;
			ro.alpha = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(ro.alpha > 0 && ro.alpha < 1)) {
				cmd_error("--alpha takes a significance level between 0 and 1 "
					  "(e.g. 0.05), not '%s'",
					  optarg);
				goto out;
			}
			break;
		}
		case OPT_CONFIRM:
			if (parse_count("--confirm", optarg, 0, 1000, &ro.confirm) < 0)
				goto out;
			break;
		case OPT_MIN_VALID: {
			char *end;
			errno = 0;
			ro.min_valid = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(ro.min_valid >= 0 && ro.min_valid <= 1)) {
				cmd_error("--min-valid takes a fraction from 0 to 1 (e.g. 0.5), not "
					  "'%s'",
					  optarg);
				goto out;
			}
			break;
		}
		case OPT_STRICT:
			ro.strict = true;
			break;
		case OPT_HISTORY:
			out.history = optarg;
			break;
		case OPT_NOTIFY:
			/* env:NAME keeps a webhook URL, itself a credential, out of ps. */
			out.notify = strncmp(optarg, "env:", 4) == 0 ? getenv(optarg + 4) : optarg;
			if (!*optarg) {
				cmd_error("--notify takes a URL, or env:NAME");
				goto out;
			}
			if (!out.notify || !*out.notify) {
				cmd_error("--notify %s: environment variable '%s' is not set", optarg,
					  optarg + 4);
				goto out;
			}
			break;
		case OPT_REMIND:
			if (util_parse_duration(optarg, &out.remind_ms) < 0) {
				cmd_error("--remind takes a duration such as 24h, or 0 for never, "
					  "not '%s'",
					  optarg);
				goto out;
			}
			break;
		case OPT_REPORT_URL:
			out.report_url = optarg;
			break;
		case 'h':
			fputs(run_usage, stdout);
			rc = 0;
			goto out;
		default:
			fputs("see 'canary run --help'\n", stderr);
			goto out;
		}
	}
	if (optind != argc - 1) {
		cmd_error(optind == argc ? "run needs a SUITE file; see 'canary run --help'"
					 : "run takes one SUITE file; see 'canary run --help'");
		goto out;
	}
	if (out.notify && !out.history) {
		cmd_error("--notify needs --history, where the state it reports changes of "
			  "is kept");
		goto out;
	}
	if (out.notify && (ro.shard_count || ro.stratum || ro.case_glob)) {
		cmd_error("--notify reports the state of the whole suite: it cannot be used "
			  "with --shard, --stratum or --case (alert on the exit code of "
			  "'canary merge' instead: see docs/ci.md)");
		goto out;
	}
	if (lock_path && (lock_fd = take_lock(lock_path)) < 0) {
		rc = lock_fd == -2 ? EXIT_LOCKED : EXIT_USAGE;
		lock_fd = -1;
		goto out;
	}
	char *err = NULL;
	s = suite_load(argv[optind], &so, &err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		free(err);
		goto out;
	}
	rc = cmd_run_suite(s, &ro, &out);
out:
	suite_free(s);
	free(out.reports);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
