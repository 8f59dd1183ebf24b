/* run.c: `canary run SUITE`: load, run against both targets, report. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "report.h"
#include "suite.h"
#include "util.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

void cmd_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("canary: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

bool cmd_use_color(FILE *f, int color)
{
	if (color >= 0)
		return color;
	const char *no = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	return isatty(fileno(f)) && !(no && *no) && !(term && strcmp(term, "dumb") == 0);
}

/* Report formats: a name and a renderer writing to a FILE. */
struct report_format {
	const char *name;
	void (*write)(FILE *f, const struct run *r);
};

static void write_json(FILE *f, const struct run *r)
{
	char *json = report_json(r);
	fputs(json, f);
	fputc('\n', f);
	free(json);
}

static void write_text(FILE *f, const struct run *r)
{
	struct report_text_options o = {.color = false};
	report_text(f, r, &o);
}

static const struct report_format report_formats[] = {
	{"json", write_json},
	{"text", write_text},
	{NULL, NULL},
};

static const struct report_format *find_format(const char *name, size_t len)
{
	for (const struct report_format *f = report_formats; f->name; f++)
		if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
			return f;
	return NULL;
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
	if (!find_format(spec, (size_t)(eq - spec))) {
		cmd_error("unknown report format '%.*s' (formats: json, text)", (int)(eq - spec),
			  spec);
		return -1;
	}
	out->reports = xreallocarray(out->reports, out->nreports + 1, sizeof(*out->reports));
	out->reports[out->nreports++] = spec;
	return 0;
}

/* Write one report to its path through a temporary file and rename, so a
 * reader never sees half a report; "-" is stdout. */
static int write_report(const char *spec, const struct run *r)
{
	const char *eq = strchr(spec, '=');
	const struct report_format *fmt = find_format(spec, (size_t)(eq - spec));
	const char *path = eq + 1;
	if (strcmp(path, "-") == 0) {
		fmt->write(stdout, r);
		fflush(stdout);
		return 0;
	}
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int rc = -1;
	if (!f) {
		cmd_error("cannot write report '%s': %s", path, strerror(errno));
		goto out;
	}
	fmt->write(f, r);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		cmd_error("cannot write report '%s': %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

static bool reports_to_stdout(const struct cmd_output *out)
{
	for (size_t i = 0; i < out->nreports; i++)
		if (strcmp(strchr(out->reports[i], '=') + 1, "-") == 0)
			return true;
	return false;
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
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	stop_requested = 0;
	ro->stop = &stop_requested;
	if (out->verbose)
		ro->on_sample = print_sample;
	char *err = NULL;
	struct run *r = run_execute(s, ro, &err);
	if (!r) {
		cmd_error("%s", err);
		free(err);
		return EXIT_USAGE;
	}
	int rc = r->exit_code;
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
	for (size_t i = 0; i < out->nreports; i++)
		if (write_report(out->reports[i], r) < 0 && rc == EXIT_PASS)
			rc = EXIT_ERRORS;
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
	"  --concurrency N       requests in flight (default 16)\n"
	"  --timeout DURATION    per-request timeout, e.g. 30s (overrides the suite)\n"
	"  --retries N           retries of failed requests (default 2)\n"
	"  --max-reply SIZE      largest reply accepted, e.g. 8MiB (default)\n"
	"  --report FORMAT=PATH  also write a report (json, text); '-' is stdout;\n"
	"                        may be repeated\n"
	"  -q, --quiet           print only the verdict line\n"
	"  -v, --verbose         print every sample as it is graded\n"
	"  --color, --no-color   force colour on or off (default: on a TTY, unless\n"
	"                        NO_COLOR is set)\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 0 pass, 1 drift/eval-regression/regression, 2 usage or suite error\n"
	"(nothing sent), 3 some cases could not be measured, 130 interrupted.\n";

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

int cmd_run(int argc, char **argv)
{
	struct run_options ro;
	struct suite_options so = {0};
	struct cmd_output out = {.color = -1};
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
			if (parse_count("--repeat", optarg, 1, 10000, &ro.repeat) < 0)
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
	return rc;
}
