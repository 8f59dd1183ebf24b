/* validate.c: `canary validate SUITE...`: load and check, send nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "suite/suite.h"

static const char validate_help[] =
	"usage: canary validate SUITE...\n"
	"\n"
	"Load each suite, check every key, compile every grader and resolve every\n"
	"template without sending anything.  Every environment variable a run of\n"
	"the whole suite would use must be set; each one that is not is named\n"
	"with where it is used and what uses it (a target, the judge, a case).\n"
	"Errors name file:line:col.  Exit 0 when all are valid, 2 otherwise.\n"
	"\n"
	"  -h, --help   show this help\n";

static const struct cmd_option validate_options[] = {
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

static int cmd_validate(int argc, char **argv)
{
	struct cmd_parser p;
	int opt;
	cmd_parser_init(&p, &cmd_validate_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0)
		;
	if (cmd_parser_end(&p, opt, 1, -1) < 0)
		return p.exit;
	struct suite_options so = {.lazy_env = true};
	int rc = 0;
	for (int i = 1; i <= p.noperands; i++) {
		char *err = NULL;
		struct suite *s = suite_load(argv[i], &so, &err);
		if (!s) {
			fprintf(stderr, "%s\n", err);
			free(err);
			rc = EXIT_USAGE;
			continue;
		}
		if (cmd_check_env(s, SUITE_SIDES_ALL, NULL) < 0) {
			suite_free(s);
			rc = EXIT_USAGE;
			continue;
		}
		printf("%s: ok: suite '%s', %zu strata, %zu cases, %zu graders\n", argv[i], s->name,
		       s->nstrata, s->ncases, s->nentries);
		suite_free(s);
	}
	return rc;
}

const struct cmd_entry cmd_validate_entry = {
	.name = "validate",
	.summary = "check suites without sending anything",
	.help = validate_help,
	.operands = "at least one SUITE file",
	.operand_kind = CMD_VALUE_YAML,
	.options = validate_options,
	.exec = cmd_validate,
};
