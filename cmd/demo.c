/* demo.c: `canary demo`: two scripted agents on loopback, one drifted, and
 * the demo suite run against them.  Needs no keys and no network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "embedded.h"
#include "stub/stub.h"
#include "suite/suite.h"
#include "util.h"

const struct embedded_file *embedded_find(const char *name)
{
	for (const struct embedded_file *f = embedded_files; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static const char demo_help[] =
	"usage: canary demo [options]\n"
	"\n"
	"Start two scripted agents on 127.0.0.1: 'eval', the composition an eval\n"
	"harness certified, and 'prod', where two artifacts have since drifted, plus\n"
	"a scripted LLM judge.  Run the demo suite (suites/demo.yaml) against both\n"
	"and show the per-stratum diff.  Sends nothing beyond loopback; needs no\n"
	"keys; writes nothing.\n"
	"\n"
	"  --report FORMAT=PATH  also write a report: json, junit, markdown, prom, tap\n"
	"                        or text; '-' is stdout; may be repeated\n"
	"  -q, --quiet           print only the verdict line\n"
	"  -v, --verbose         print every sample as it is graded\n"
	"  --color, --no-color   force colour on or off\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 1, because the demo's production has drifted.\n";

enum {
	OPT_REPORT = 256,
	OPT_COLOR,
	OPT_NO_COLOR,
};

static const struct cmd_option demo_options[] = {
	{"report", 0, true, OPT_REPORT, CMD_VALUE_REPORT, NULL},
	{"quiet", 'q', false, 'q', CMD_VALUE_NONE, NULL},
	{"verbose", 'v', false, 'v', CMD_VALUE_NONE, NULL},
	{"color", 0, false, OPT_COLOR, CMD_VALUE_NONE, NULL},
	{"no-color", 0, false, OPT_NO_COLOR, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

/* Start one embedded agent script on a free loopback port. */
static struct stub *start_agent(const char *name, char **err)
{
	const struct embedded_file *f = embedded_find(name);
	if (!f) {
		*err = xasprintf("'%s' is not built into this binary", name);
		return NULL;
	}
	struct stub_script *script = stub_script_load_buffer(name, f->data, f->len, err);
	if (!script)
		return NULL;
	struct stub_options o = {.host = "127.0.0.1", .port = 0, .seed = 1};
	return stub_start(script, &o, err);
}

static int cmd_demo(int argc, char **argv)
{
	struct cmd_output out = {.color = -1};
	struct stub *agents[SIDE__COUNT] = {NULL, NULL};
	struct stub *judge = NULL;
	char *judge_url = NULL;
	struct suite *s = NULL;
	char *urls[SIDE__COUNT] = {NULL, NULL};
	char *err = NULL;
	int rc = EXIT_USAGE;
	struct cmd_parser p;
	int opt;
	cmd_parser_init(&p, &cmd_demo_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		switch (opt) {
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
		}
	}
	if (cmd_parser_end(&p, opt, 0, 0) < 0) {
		rc = p.exit;
		goto out;
	}
	static const char *const scripts[SIDE__COUNT] = {"demo-eval-agent.yaml",
							  "demo-prod-agent.yaml"};
	struct suite_options so = {0};
	for (int side = 0; side < SIDE__COUNT; side++) {
		agents[side] = start_agent(scripts[side], &err);
		if (!agents[side]) {
			cmd_error("cannot start the demo's %s agent: %s", side_name((enum side)side),
				  err);
			rc = EXIT_ERRORS;
			goto out;
		}
		urls[side] = xasprintf("http://127.0.0.1:%d/v1/chat/completions",
				       stub_port(agents[side]));
		so.target_url[side] = urls[side];
	}
	judge = start_agent("demo-judge.yaml", &err);
	if (!judge) {
		cmd_error("cannot start the demo's judge: %s", err);
		rc = EXIT_ERRORS;
		goto out;
	}
	judge_url = xasprintf("http://127.0.0.1:%d/v1/chat/completions", stub_port(judge));
	so.judge_url = judge_url;
	const struct embedded_file *suite = embedded_find("demo.yaml");
	s = suite ? suite_load_buffer("suites/demo.yaml", suite->data, suite->len, &so, &err)
		  : NULL;
	if (!s) {
		cmd_error("the demo suite does not load: %s", err ? err : "not built in");
		rc = EXIT_ERRORS;
		goto out;
	}
	if (!out.quiet)
		printf("canary demo: two scripted agents on 127.0.0.1 stand in for a calendar\n"
		       "assistant.  'eval' is the composition the eval harness certified; 'prod'\n"
		       "is what users get today.  canary fires the same %zu cases at both and\n"
		       "grades both with the same graders.\n\n",
		       s->ncases);
	fflush(stdout);
	struct run_options ro;
	run_options_default(&ro);
	ro.no_judge_cache = true; /* the demo leaves nothing behind */
	rc = cmd_run_suite(s, &ro, &out);
	if (!out.quiet)
		printf("\nEach stratum exercises one artifact of the composition, so the strata\n"
		       "that drifted name what changed in production: here the tool schemas\n"
		       "(create_event now sends 'invitees' instead of 'attendee_emails', and the\n"
		       "agent books without checking availability first) and the system prompt\n"
		       "(a hotfix changed the refund window).  Retrieval and\n"
		       "guardrails behave as certified.\n\n"
		       "Next: 'canary demo --verbose' shows every sample; suites/demo.yaml is the\n"
		       "suite; 'canary run SUITE --target prod=URL' points it at your agent.\n");
out:
	suite_free(s);
	if (judge)
		stub_stop(judge);
	free(judge_url);
	for (int side = 0; side < SIDE__COUNT; side++) {
		if (agents[side])
			stub_stop(agents[side]);
		free(urls[side]);
	}
	free(err);
	free(out.reports);
	return rc;
}

const struct cmd_entry cmd_demo_entry = {
	.name = "demo",
	.summary = "run the demo: two local agents, one drifted",
	.help = demo_help,
	.operands = "no arguments",
	.operand_kind = CMD_VALUE_NONE,
	.options = demo_options,
	.exec = cmd_demo,
};
