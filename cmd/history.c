/* history.c: `canary history PATH`: trends, fingerprints and the baseline
 * check from a run history (docs/history.md), and saved reports recorded
 * into it. */
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
	"                           [--max-latency-rise PCT] [--max-cost-rise PCT]\n"
	"                           [--flips K] [--last M] [--format text|json]\n"
	"       canary history PATH --import REPORT.json...\n"
	"\n"
	"Show what a history recorded by `canary run --history PATH` tells: recent\n"
	"runs and the pass rate of every stratum on each target over time.  The\n"
	"history is only read, except by --import.  Times are UTC.\n"
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
	"  --max-latency-rise PCT\n"
	"                     also exit 1 when a stratum's mean prod latency rose by\n"
	"                     more than PCT percent over the same baseline\n"
	"  --max-cost-rise PCT\n"
	"                     the same for its mean prod cost per sample (targets\n"
	"                     with a price:)\n"
	"  --flips K          a case is flaky when its verdict flipped K times ... (3)\n"
	"  --last M           ... in the suite's last M runs (10)\n"
	"  --now T            take T (RFC 3339 or Unix ms) as the current time\n"
	"  --import           record the runs of saved JSON reports (of shards, or\n"
	"                     merged) in PATH, created when absent; a run it holds\n"
	"                     already is not recorded again\n"
	"  -h, --help         show this help\n"
	"\n"
	"exit: 0; with --check 1 when a stratum degraded, 3 when nothing could be\n"
	"compared; 2 usage error, a history that cannot be read (or, with --import,\n"
	"written) or a report that cannot be read.\n";

enum {
	OPT_SUITE = 256,
	OPT_SINCE,
	OPT_FORMAT,
	OPT_FINGERPRINTS,
	OPT_RUNS,
	OPT_OUTPUT,
	OPT_CHECK,
	OPT_MAX_DROP,
	OPT_MAX_LATENCY_RISE,
	OPT_MAX_COST_RISE,
	OPT_FLIPS,
	OPT_LAST,
	OPT_NOW,
	OPT_IMPORT,
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
	{"max-latency-rise", 0, true, OPT_MAX_LATENCY_RISE, CMD_VALUE_NONE, NULL},
	{"max-cost-rise", 0, true, OPT_MAX_COST_RISE, CMD_VALUE_NONE, NULL},
	{"flips", 0, true, OPT_FLIPS, CMD_VALUE_NONE, NULL},
	{"last", 0, true, OPT_LAST, CMD_VALUE_NONE, NULL},
	{"now", 0, true, OPT_NOW, CMD_VALUE_NONE, NULL},
	{"import", 0, false, OPT_IMPORT, CMD_VALUE_NONE, NULL},
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
	double max_latency_rise;   /* a fraction; -1: not checked */
	double max_cost_rise;
	int flips;
	int last;
	long long now;
	long long since;
	bool import;
	char **reports;        /* --import: the reports, after PATH */
	int nreports;
};

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
/* parse_rise: a percentage (e.g. 20 for 20%) of option into *out as a
 * fraction; -1 after saying why. */
static int parse_rise(const char *option, const char *arg, double *out)
{
	char *end;
	errno = 0;
	double pct = strtod(arg, &end);
	if (errno || end == arg || *end || !(pct >= 0) || pct > 1e6) {
		cmd_error("%s takes a percentage from 0 (e.g. 20 for 20%%), not '%s'", option, arg);
		return -1;
	}
	*out = pct / 100;
	return 0;
}

static int parse_args(int argc, char **argv, struct history_cmd *c)
{
	const char *now_arg = NULL;
	struct cmd_parser p;
	int opt, choice, others = 0;
	long n;
	cmd_parser_init(&p, &cmd_history_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		const char *arg = p.arg;
		others += opt != OPT_IMPORT;
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
		case OPT_MAX_LATENCY_RISE:
		case OPT_MAX_COST_RISE:
			if (parse_rise(opt == OPT_MAX_LATENCY_RISE ? "--max-latency-rise"
								   : "--max-cost-rise",
				       arg,
				       opt == OPT_MAX_LATENCY_RISE ? &c->max_latency_rise
								   : &c->max_cost_rise) < 0)
				return -1;
			break;
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
		case OPT_IMPORT:
			c->import = true;
			break;
		}
	}
	if (cmd_parser_end(&p, opt, 1, c->import ? -1 : 1) < 0)
		return p.exit == 0 ? 1 : -1;
	c->path = argv[1];
	c->reports = argv + 2;
	c->nreports = p.noperands - 1;
	if (c->import && (others > 0 || c->nreports == 0)) {
		cmd_error("--import takes the JSON reports to record after the history file, "
			  "and no other option; see 'canary history --help'");
		return -1;
	}
	if (c->check && (c->format == FORMAT_HTML || c->fingerprints || c->since_arg)) {
		cmd_error("--check takes neither --format html, --fingerprints nor --since (it "
			  "has its own windows); see 'canary history --help'");
		return -1;
	}
	if ((c->max_drop_set || c->max_latency_rise >= 0 || c->max_cost_rise >= 0) &&
	    !c->check) {
		cmd_error("--max-drop, --max-latency-rise and --max-cost-rise need --check");
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
	const struct history_check_limits lim = {
		.max_drop = c->max_drop_set ? c->max_drop : HISTORY_MAX_DROP_DEFAULT,
		.max_latency_rise = c->max_latency_rise,
		.max_cost_rise = c->max_cost_rise,
	};
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
		if (history_check(h, names[i], c->now, &lim, &chk, &err) < 0)
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
			history_text_check(out, &chk, fl, nfl, flips, last);
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
							     ? history_fingerprints_json(&views[i])
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
				history_text_fingerprints(out, &views[i]);
			else
				history_text_view(out, &views[i], runs);
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

/* run_import: record each report in the history at c->path, saying what
 * became of it. */
static int run_import(const struct history_cmd *c)
{
	char *err = NULL;
	struct history *h = history_open(c->path, &err);
	int rc = 0;

	if (!h) {
		cmd_error("%s", err);
		free(err);
		return EXIT_USAGE;
	}
	for (int i = 0; i < c->nreports; i++) {
		const char *path = c->reports[i];
		long long id = 0, recorded = 0;
		struct report *r = report_load(path, &err);
		if (!r || history_import(h, r, &id, &recorded, &err) < 0) {
			if (r)
				cmd_error("cannot record '%s' in the history: %s", path, err);
			else
				cmd_error("%s", err);
			free(err);
			err = NULL;
			rc = EXIT_USAGE;
		} else if (recorded) {
			printf("'%s' is in the history already, as run %lld: not recorded again\n",
			       path, recorded);
		} else {
			printf("recorded '%s' as run %lld\n", path, id);
		}
		report_free(r);
	}
	history_close(h);
	if (fflush(stdout) != 0)
		rc = EXIT_USAGE;
	return rc;
}

static int cmd_history(int argc, char **argv)
{
	struct history_cmd c = {.format = FORMAT_TEXT, .max_latency_rise = -1, .max_cost_rise = -1};
	int parsed = parse_args(argc, argv, &c);
	if (parsed != 0)
		return parsed > 0 ? 0 : EXIT_USAGE;
	if (c.import)
		return run_import(&c);
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
