/* grade.c: `canary grade SUITE --case ID --reply FILE`: grade a saved raw
 * reply with a case's graders, sending nothing but judge calls. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "provider.h"
#include "suite.h"
#include "util.h"

static const char grade_usage[] =
	"usage: canary grade SUITE --case ID --reply FILE [options]\n"
	"\n"
	"Grade a saved raw response body (e.g. a failing production reply from a\n"
	"trace) with the graders of one case, and print each grader's verdict and\n"
	"reason.  Nothing is sent to the targets; a judge grader still calls the\n"
	"suite's judge.\n"
	"\n"
	"  --case ID             the case whose graders to use (required)\n"
	"  --reply FILE          the raw response body; '-' reads stdin (required)\n"
	"  --target SIDE         read the reply as target SIDE's API does (eval or\n"
	"                        prod; default prod)\n"
	"  --api API             read it as openai-chat, anthropic-messages or http\n"
	"                        instead (http uses the target's reply pointers)\n"
	"  --status N            the HTTP status the reply came with (default 200)\n"
	"  --latency DURATION    the latency to grade max_latency against (default 0)\n"
	"  --max-reply SIZE      largest reply accepted (default 8MiB)\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 0 pass, 1 fail, 2 usage or suite error, 3 could not be graded.\n";

static const struct option grade_options[] = {
	{"case", required_argument, NULL, 'c'},
	{"reply", required_argument, NULL, 'r'},
	{"target", required_argument, NULL, 't'},
	{"api", required_argument, NULL, 'a'},
	{"status", required_argument, NULL, 's'},
	{"latency", required_argument, NULL, 'l'},
	{"max-reply", required_argument, NULL, 'm'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Read the reply body from a file or stdin, bounded by max. */
static char *read_reply(const char *path, size_t max, size_t *len, char **err)
{
	if (strcmp(path, "-") == 0)
		return util_read_stream(stdin, "standard input", max, len, err);
	return util_read_file(path, max, len, err);
}

int cmd_grade(int argc, char **argv)
{
	const char *case_id = NULL, *reply_path = NULL, *api = NULL;
	enum side side = SIDE_PROD;
	long status = 200, latency = 0;
	size_t max_reply = (size_t)8 << 20;
	struct suite *s = NULL;
	char *err = NULL;
	int rc = EXIT_USAGE, opt;
	struct reply reply = {0};
	struct sample out = {0};
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", grade_options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			case_id = optarg;
			break;
		case 'r':
			reply_path = optarg;
			break;
		case 't':
			if (strcmp(optarg, "eval") == 0 || strcmp(optarg, "prod") == 0) {
				side = strcmp(optarg, "eval") == 0 ? SIDE_EVAL : SIDE_PROD;
				break;
			}
			cmd_error("--target takes eval or prod, not '%s'", optarg);
			goto out;
		case 'a':
			if (!provider_find(optarg)) {
				cmd_error("unknown --api '%s' (openai-chat, anthropic-messages, http)",
					  optarg);
				goto out;
			}
			api = optarg;
			break;
		case 's':
			status = strtol(optarg, NULL, 10);
			if (status < 100 || status > 599) {
				cmd_error("--status takes an HTTP status from 100 to 599, not '%s'",
					  optarg);
				goto out;
			}
			break;
		case 'l':
			if (util_parse_duration(optarg, &latency) < 0) {
				cmd_error("--latency takes a duration such as 850ms, not '%s'", optarg);
				goto out;
			}
			break;
		case 'm':
			if (util_parse_size(optarg, &max_reply) < 0 || max_reply == 0) {
				cmd_error("--max-reply takes a size such as 8MiB, not '%s'", optarg);
				goto out;
			}
			break;
		case 'h':
			fputs(grade_usage, stdout);
			rc = 0;
			goto out;
		default:
			fputs("see 'canary grade --help'\n", stderr);
			goto out;
		}
	}
	if (optind != argc - 1 || !case_id || !reply_path) {
		cmd_error("grade needs SUITE, --case and --reply; see 'canary grade --help'");
		goto out;
	}
	struct suite_options so = {{"http://127.0.0.1/", "http://127.0.0.1/"}, NULL};
	s = suite_load(argv[optind], &so, &err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	const struct suite_case *c = suite_find_case(s, case_id);
	if (!c) {
		cmd_error("no case '%s' in suite '%s'", case_id, s->name);
		goto out;
	}
	struct target *t = &s->targets[side];
	if (api) {
		t->provider = provider_find(api);
		if (strcmp(api, "http") == 0 && !t->reply_content) {
			cmd_error("--api http needs the %s target to be an http target with "
				  "reply pointers",
				  side_name(side));
			goto out;
		}
	}
	reply.raw = read_reply(reply_path, max_reply, &reply.raw_len, &err);
	if (!reply.raw) {
		cmd_error("%s", err);
		goto out;
	}
	reply.status = status;
	reply.latency_ms = (double)latency;
	run_grade_reply(s, c, side, &reply, NULL, &out);
	static const char *const words[] = {"pass", "fail", "error"};
	printf("%s %s/%s as %s (%s)\n", words[out.grade], s->strata[c->stratum].name, c->id,
	       side_name(side), t->provider->name);
	for (size_t i = 0; i < out.ngrades; i++) {
		const struct sample_grade *g = &out.grades[i];
		printf("  %-5s %s%s%s\n", words[g->grade], g->grader->label,
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
	free(err);
	return rc;
}
