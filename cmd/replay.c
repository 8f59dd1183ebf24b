/* replay.c: `canary replay SUITE LOG.jsonl`: production's logged requests sent
 * to eval, its logged replies standing as prod's samples. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "replay/replay.h"
#include "suite/suite.h"
#include "util.h"

static const char replay_help[] =
	"usage: canary replay SUITE LOG.jsonl [options]\n"
	"\n"
	"Shadow mode: send each production request of LOG.jsonl (one log record a\n"
	"line: {\"request\", \"response\", \"metadata\"}) to SUITE's eval target, take\n"
	"its logged reply as the prod sample, and grade both with the stratum-level\n"
	"expect of the stratum SUITE's replay: section puts it in.  LOG.jsonl '-'\n"
	"reads standard input.\n"
	"\n"
	"  --rate N/s            start at most N requests a second (or N/m a minute)\n"
	"                        on the eval target\n"
	"  --limit N             replay at most N records (default 10000); the rest\n"
	"                        are counted, not read\n"
	"  --sample F            replay a fraction F (0 < F <= 1) of the records,\n"
	"                        chosen by their line numbers and --seed\n"
	"  --seed N              which fraction --sample takes (default 0)\n"
	"  --target eval=URL     override the eval target's URL\n"
	"  --concurrency N       requests in flight (default 16)\n"
	"  --timeout DURATION    per-request timeout, e.g. 30s (overrides the suite)\n"
	"  --grace DURATION      once interrupted, how long requests in flight may\n"
	"                        finish (default 2s)\n"
	"  --retries N           retries of failed requests (default 2)\n"
	"  --max-reply SIZE      largest reply accepted, e.g. 8MiB (default)\n"
	"  --judge-url URL       override the judge's URL\n"
	"  --judge-cache PATH    the judge's verdict cache\n"
	"  --no-judge-cache      judge every reply afresh\n"
	"  --report FORMAT=PATH  also write a report: json, junit, markdown, prom, tap\n"
	"                        or text; '-' is stdout; may be repeated\n"
	"  --no-step-summary     do not append markdown to $GITHUB_STEP_SUMMARY\n"
	"  -q, --quiet           print only the verdict line\n"
	"  -v, --verbose         print every sample as it is graded\n"
	"  --color, --no-color   force colour on or off\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: as 'canary run': 0 pass, 1 drift/eval-regression/regression, 2 usage,\n"
	"suite or log error (nothing sent), 3 some records could not be measured,\n"
	"130 interrupted.\n";

enum {
	OPT_RATE = 256,
	OPT_LIMIT,
	OPT_SAMPLE,
	OPT_SEED,
	OPT_TARGET,
	OPT_CONCURRENCY,
	OPT_TIMEOUT,
	OPT_GRACE,
	OPT_RETRIES,
	OPT_MAX_REPLY,
	OPT_JUDGE_URL,
	OPT_JUDGE_CACHE,
	OPT_NO_JUDGE_CACHE,
	OPT_REPORT,
	OPT_NO_STEP_SUMMARY,
	OPT_COLOR,
	OPT_NO_COLOR,
};

static const struct cmd_option replay_options[] = {
	{"rate", 0, true, OPT_RATE, CMD_VALUE_NONE, NULL},
	{"limit", 0, true, OPT_LIMIT, CMD_VALUE_NONE, NULL},
	{"sample", 0, true, OPT_SAMPLE, CMD_VALUE_NONE, NULL},
	{"seed", 0, true, OPT_SEED, CMD_VALUE_NONE, NULL},
	{"target", 0, true, OPT_TARGET, CMD_VALUE_NONE, NULL},
	{"concurrency", 0, true, OPT_CONCURRENCY, CMD_VALUE_NONE, NULL},
	{"timeout", 0, true, OPT_TIMEOUT, CMD_VALUE_NONE, NULL},
	{"grace", 0, true, OPT_GRACE, CMD_VALUE_NONE, NULL},
	{"retries", 0, true, OPT_RETRIES, CMD_VALUE_NONE, NULL},
	{"max-reply", 0, true, OPT_MAX_REPLY, CMD_VALUE_NONE, NULL},
	{"judge-url", 0, true, OPT_JUDGE_URL, CMD_VALUE_NONE, NULL},
	{"judge-cache", 0, true, OPT_JUDGE_CACHE, CMD_VALUE_FILE, NULL},
	{"no-judge-cache", 0, false, OPT_NO_JUDGE_CACHE, CMD_VALUE_NONE, NULL},
	{"report", 0, true, OPT_REPORT, CMD_VALUE_REPORT, NULL},
	{"no-step-summary", 0, false, OPT_NO_STEP_SUMMARY, CMD_VALUE_NONE, NULL},
	{"quiet", 'q', false, 'q', CMD_VALUE_NONE, NULL},
	{"verbose", 'v', false, 'v', CMD_VALUE_NONE, NULL},
	{"color", 0, false, OPT_COLOR, CMD_VALUE_NONE, NULL},
	{"no-color", 0, false, OPT_NO_COLOR, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

/* A --rate unit: per second or per minute. */
static const struct {
	const char *suffix;
	double seconds;
} rate_units[] = {
	{"/s", 1},
	{"/m", 60},
};

/* parse_rate: "N/s" or "N/m" (N > 0, at most 10000 a second) as requests a
 * second into *out. */
static int parse_rate(const char *arg, double *out)
{
	char *end;
	errno = 0;
	double n = strtod(arg, &end);
	for (size_t i = 0; i < ARRAY_SIZE(rate_units) && end != arg && !errno; i++) {
		if (strcmp(end, rate_units[i].suffix) != 0 || !(n > 0))
			continue;
		*out = n / rate_units[i].seconds;
		if (*out <= 10000)
			return 0;
	}
	cmd_error("--rate takes N/s or N/m with N above 0 and at most 10000 a second "
		  "(e.g. 5/s), not '%s'", arg);
	return -1;
}

/* parse_option: one option of replay into its place; -1 after an error. */
static int parse_option(struct cmd_parser *p, int opt, struct replay_options *rpo,
			struct run_options *ro, struct suite_options *so, struct cmd_output *out)
{
	long n;
	char *end;
	switch (opt) {
	case OPT_RATE:
		return parse_rate(p->arg, &ro->transport.rate[POOL_TARGET]);
	case OPT_LIMIT:
		if (cmd_parser_count(p, 1, REPLAY_LIMIT_DEFAULT, &n) < 0)
			return -1;
		rpo->limit = n;
		return 0;
	case OPT_SAMPLE:
		errno = 0;
		rpo->sample = strtod(p->arg, &end);
		if (errno || *end || end == p->arg || !(rpo->sample > 0 && rpo->sample <= 1)) {
			cmd_error("--sample takes a fraction above 0 and at most 1 (e.g. 0.1), "
				  "not '%s'", p->arg);
			return -1;
		}
		return 0;
	case OPT_SEED:
		errno = 0;
		rpo->seed = strtoull(p->arg, &end, 10);
		if (errno || *end || end == p->arg || p->arg[0] == '-') {
			cmd_error("--seed takes a whole number, not '%s'", p->arg);
			return -1;
		}
		return 0;
	case OPT_TARGET: {
		const char *eq = strchr(p->arg, '=');
		if (!eq || cmd_side(p->arg, (size_t)(eq - p->arg)) != SIDE_EVAL || !eq[1]) {
			cmd_error("--target takes eval=URL (prod is the log), not '%s'", p->arg);
			return -1;
		}
		so->target_url[SIDE_EVAL] = eq + 1;
		return 0;
	}
	case OPT_CONCURRENCY:
		if (cmd_parser_count(p, 1, 1024, &n) < 0)
			return -1;
		ro->transport.concurrency[POOL_TARGET] = (int)n;
		return 0;
	case OPT_TIMEOUT:
		if (util_parse_duration(p->arg, &ro->timeout_ms) < 0 || ro->timeout_ms <= 0) {
			cmd_error("--timeout takes a duration such as 30s or 500ms, not '%s'",
				  p->arg);
			return -1;
		}
		return 0;
	case OPT_GRACE:
		if (util_parse_duration(p->arg, &ro->transport.grace_ms) < 0) {
			cmd_error("--grace takes a duration such as 2s, or 0 for none, not '%s'",
				  p->arg);
			return -1;
		}
		return 0;
	case OPT_RETRIES:
		if (cmd_parser_count(p, 0, 100, &n) < 0)
			return -1;
		ro->transport.retries = (int)n;
		return 0;
	case OPT_MAX_REPLY:
		if (util_parse_size(p->arg, &ro->transport.max_reply) < 0 ||
		    ro->transport.max_reply == 0) {
			cmd_error("--max-reply takes a size such as 8MiB or 65536, not '%s'",
				  p->arg);
			return -1;
		}
		return 0;
	case OPT_JUDGE_URL:
		so->judge_url = p->arg;
		return 0;
	case OPT_JUDGE_CACHE:
		ro->judge_cache = p->arg;
		return 0;
	case OPT_NO_JUDGE_CACHE:
		ro->no_judge_cache = true;
		return 0;
	case OPT_REPORT:
		return cmd_add_report(out, p->arg);
	case OPT_NO_STEP_SUMMARY:
		out->no_step_summary = true;
		return 0;
	case 'q':
		out->quiet = true;
		return 0;
	case 'v':
		out->verbose = true;
		return 0;
	case OPT_COLOR:
		out->color = 1;
		return 0;
	case OPT_NO_COLOR:
		out->color = 0;
		return 0;
	}
	return 0;
}

static int cmd_replay(int argc, char **argv)
{
	struct replay_options rpo;
	struct run_options ro;
	struct suite_options so = {.lazy_env = true};
	struct cmd_output out = {.color = -1};
	struct replay rp = {0};
	struct suite *s = NULL;
	struct cmd_parser p;
	char *err = NULL;
	int rc = EXIT_USAGE;
	int opt;
	replay_options_default(&rpo);
	run_options_default(&ro);
	cmd_parser_init(&p, &cmd_replay_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0)
		if (parse_option(&p, opt, &rpo, &ro, &so, &out) < 0)
			goto out;
	if (cmd_parser_end(&p, opt, 2, 2) < 0) {
		rc = p.exit;
		goto out;
	}
	if (!(s = suite_load(argv[1], &so, &err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	rpo.log = argv[2];
	if (replay_prepare(s, &rpo, &rp, &err) < 0) {
		cmd_error("%s", err);
		goto out;
	}
	/* The log holds one reply per request: nothing to repeat or confirm. */
	ro.repeat = 1;
	ro.confirm = 0;
	ro.given = rp.given;
	out.replay = &rp;
	rc = cmd_run_suite(s, &ro, &out);
out:
	replay_release(&rp);
	suite_free(s);
	free(out.reports);
	free(err);
	return rc;
}

const struct cmd_entry cmd_replay_entry = {
	.name = "replay",
	.summary = "send production's logged requests to eval, its replies as prod",
	.help = replay_help,
	.operands = "a SUITE file and a LOG.jsonl",
	.operand_kind = CMD_VALUE_FILE,
	.options = replay_options,
	.exec = cmd_replay,
};
