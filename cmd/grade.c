/* grade.c: `canary grade SUITE --case ID --reply FILE`: grade a saved raw
 * reply with a case's graders, sending nothing but judge calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "provider.h"
#include "suite/suite.h"
#include "util.h"

static const char grade_help[] =
	"usage: canary grade SUITE --case ID --reply FILE [options]\n"
	"\n"
	"Grade a saved raw response body (e.g. a failing production reply from a\n"
	"trace) with the graders of one case, and print each grader's verdict and\n"
	"reason.  Nothing is sent to the targets; a judge grader still calls the\n"
	"suite's judge.\n"
	"\n"
	"  --case ID             the case whose graders to use (required): its id or\n"
	"                        stratum/id, or a glob matching only it\n"
	"  --reply FILE          the raw response body; '-' reads stdin (required)\n"
	"  --target SIDE         read the reply as target SIDE's API does (eval or\n"
	"                        prod; default prod)\n"
	"  --api API             read it as another api: instead; one that takes\n"
	"                        target options (http) needs a target of that api\n"
	"  --status N            the HTTP status the reply came with (default 200)\n"
	"  --latency DURATION    the latency to grade max_latency against (default 0)\n"
	"  --max-reply SIZE      largest reply accepted (default 8MiB)\n"
	"  --judge-url URL       override the judge's URL\n"
	"  --judge-cache PATH    the judge's verdict cache (default\n"
	"                        $XDG_CACHE_HOME/canary/judge.sqlite)\n"
	"  --no-judge-cache      judge the reply afresh\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 0 pass, 1 fail, 2 usage or suite error, 3 could not be graded.\n";

enum {
	OPT_CASE = 256,
	OPT_REPLY,
	OPT_TARGET,
	OPT_API,
	OPT_STATUS,
	OPT_LATENCY,
	OPT_MAX_REPLY,
	OPT_JUDGE_URL,
	OPT_JUDGE_CACHE,
	OPT_NO_JUDGE_CACHE,
};

static const struct cmd_option grade_options[] = {
	{"case", 0, true, OPT_CASE, CMD_VALUE_CASE, NULL},
	{"reply", 0, true, OPT_REPLY, CMD_VALUE_FILE, NULL},
	{"target", 0, true, OPT_TARGET, CMD_VALUE_SIDE, NULL},
	{"api", 0, true, OPT_API, CMD_VALUE_API, NULL},
	{"status", 0, true, OPT_STATUS, CMD_VALUE_NONE, NULL},
	{"latency", 0, true, OPT_LATENCY, CMD_VALUE_NONE, NULL},
	{"max-reply", 0, true, OPT_MAX_REPLY, CMD_VALUE_NONE, NULL},
	{"judge-url", 0, true, OPT_JUDGE_URL, CMD_VALUE_NONE, NULL},
	{"judge-cache", 0, true, OPT_JUDGE_CACHE, CMD_VALUE_FILE, NULL},
	{"no-judge-cache", 0, false, OPT_NO_JUDGE_CACHE, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

/* Read the reply body from a file or stdin, bounded by max. */
static char *read_reply(const char *path, size_t max, size_t *len, char **err)
{
	if (strcmp(path, "-") == 0)
		return util_read_stream(stdin, "standard input", max, len, err);
	return util_read_file(path, max, len, err);
}

/* The one case that --case selects; NULL after saying why. */
static const struct suite_case *the_case(const struct suite *s, const struct suite_filter *f)
{
	const struct suite_case *c = NULL;
	bool *selected = xcalloc(s->ncases, sizeof(*selected));
	char *err = NULL;
	struct buf names;
	size_t n = 0, k = 0;
	buf_init(&names, 0);
	if (suite_select(s, f, selected, &err) < 0) {
		cmd_error("%s", err);
		goto out;
	}
	for (size_t i = 0; i < s->nstrata; i++)
		for (size_t j = 0; j < s->strata[i].ncases; j++) {
			if (!selected[k++])
				continue;
			c = &s->strata[i].cases[j];
			if (n++ < 5)
				buf_addf(&names, "%s%s/%s", n > 1 ? ", " : "", s->strata[i].name,
					 c->id);
		}
	if (n > 1) {
		cmd_error("--case selects %zu cases (%s%s); grade takes one", n, names.data,
			  n > 5 ? ", ..." : "");
		c = NULL;
	}
out:
	buf_release(&names);
	free(selected);
	free(err);
	return c;
}

static int cmd_grade(int argc, char **argv)
{
	const char *reply_path = NULL;
	const struct provider *api = NULL;
	struct suite_filter filter = {0};
	struct suite_options so = {
		.target_url = {"http://127.0.0.1/", "http://127.0.0.1/"},
		.lazy_env = true,
	};
	enum side side = SIDE_PROD;
	long status = 200, latency = 0;
	size_t max_reply = (size_t)8 << 20;
	bool *selected = NULL;
	struct grading_options go = {0};
	struct suite *s = NULL;
	char *err = NULL, *warning = NULL;
	struct cmd_parser p;
	int rc = EXIT_USAGE, opt;
	struct reply reply = {0};
	struct sample out = {0};
	cmd_parser_init(&p, &cmd_grade_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		switch (opt) {
		case OPT_CASE:
			suite_filter_add(&filter.cases, &filter.ncases, p.arg);
			break;
		case OPT_REPLY:
			reply_path = p.arg;
			break;
		case OPT_TARGET:
			if ((side = cmd_side(p.arg, strlen(p.arg))) == SIDE__COUNT) {
				cmd_error("--target takes eval or prod, not '%s'", p.arg);
				goto out;
			}
			break;
		case OPT_API:
			if (!(api = provider_find(p.arg))) {
				const char **names = provider_names(false);
				char *list = util_join(names, ", ");
				cmd_error("unknown --api '%s' (%s)", p.arg, list);
				free(list);
				free(names);
				goto out;
			}
			break;
		case OPT_STATUS:
			status = strtol(p.arg, NULL, 10);
			if (status < 100 || status > 599) {
				cmd_error("--status takes an HTTP status from 100 to 599, not '%s'",
					  p.arg);
				goto out;
			}
			break;
		case OPT_LATENCY:
			if (util_parse_duration(p.arg, &latency) < 0) {
				cmd_error("--latency takes a duration such as 850ms, not '%s'",
					  p.arg);
				goto out;
			}
			break;
		case OPT_MAX_REPLY:
			if (util_parse_size(p.arg, &max_reply) < 0 || max_reply == 0) {
				cmd_error("--max-reply takes a size such as 8MiB, not '%s'", p.arg);
				goto out;
			}
			break;
		case OPT_JUDGE_URL:
			so.judge_url = p.arg;
			break;
		case OPT_JUDGE_CACHE:
			go.judge_cache = p.arg;
			break;
		case OPT_NO_JUDGE_CACHE:
			go.no_judge_cache = true;
			break;
		}
	}
	if (cmd_parser_end(&p, opt, 1, 1) < 0) {
		rc = p.exit;
		goto out;
	}
	if (!filter.ncases || !reply_path) {
		cmd_parser_error(&p, "grade needs --case and --reply");
		goto out;
	}
	s = suite_load(argv[1], &so, &err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	const struct suite_case *c = the_case(s, &filter);
	if (!c)
		goto out;
	/* Nothing is sent to the targets: only the case and its judge need
	 * their environment variables. */
	selected = xcalloc(s->ncases, sizeof(*selected));
	selected[suite_case_index(s, c)] = true;
	if (cmd_check_env(s, 0, selected) < 0)
		goto out;
	struct target *t = &s->targets[side];
	if (api && suite_target_set_api(t, api, &err) < 0) {
		cmd_error("--api %s: %s", api->name, err);
		goto out;
	}
	reply.raw = read_reply(reply_path, max_reply, &reply.raw_len, &err);
	if (!reply.raw) {
		cmd_error("%s", err);
		goto out;
	}
	reply.status = status;
	reply.latency_ms = (double)latency;
	reply.ttft_ms = -1; /* a reply read from a file was not streamed */
	if (run_grade_reply(s, c, side, &reply, &go, &out, &warning, &err) < 0) {
		cmd_error("%s", err);
		goto out;
	}
	if (warning)
		cmd_error("warning: %s", warning);
	printf("%s %s/%s as %s (%s)\n", grade_name(out.grade), s->strata[c->stratum].name, c->id,
	       side_name(side), t->provider->name);
	for (size_t i = 0; i < out.ngrades; i++) {
		const struct sample_grade *g = &out.grades[i];
		printf("  %-5s %s%s%s\n", grade_name(g->grade), g->grader->label,
		       g->reason ? ": " : "", g->reason ? g->reason : "");
	}
	if (out.ngrades == 0)
		for (size_t i = 0; i < out.nreasons; i++)
			printf("  error %s\n", out.reasons[i]);
	rc = out.grade == GRADE_PASS ? 0 : out.grade == GRADE_FAIL ? EXIT_FAIL : EXIT_ERRORS;
out:
	sample_release(&out);
	reply_release(&reply);
	suite_free(s);
	suite_filter_release(&filter);
	free(selected);
	free(warning);
	free(err);
	return rc;
}

const struct cmd_entry cmd_grade_entry = {
	.name = "grade",
	.summary = "grade a saved reply offline",
	.help = grade_help,
	.operands = "a SUITE file",
	.operand_kind = CMD_VALUE_YAML,
	.options = grade_options,
	.exec = cmd_grade,
};
