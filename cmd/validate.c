/* validate.c: `canary validate SUITE...`: load and check, send nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "suite.h"

static const char validate_usage[] =
	"usage: canary validate SUITE...\n"
	"\n"
	"Load each suite, check every key, compile every grader and resolve every\n"
	"template (environment variables included) without sending anything.\n"
	"Errors name file:line:col.  Exit 0 when all are valid, 2 otherwise.\n";

int cmd_validate(int argc, char **argv)
{
	int first = 1;
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(validate_usage, stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--") == 0)
		first = 2;
	if (first >= argc) {
		cmd_error("validate needs at least one SUITE file; see 'canary validate --help'");
		return EXIT_USAGE;
	}
	int rc = 0;
	for (int i = first; i < argc; i++) {
		if (first == 1 && argv[i][0] == '-' && argv[i][1]) {
			cmd_error("unknown option '%s'; see 'canary validate --help'", argv[i]);
			return EXIT_USAGE;
		}
		char *err = NULL;
		struct suite *s = suite_load(argv[i], NULL, &err);
		if (!s) {
			fprintf(stderr, "%s\n", err);
			free(err);
			rc = EXIT_USAGE;
			continue;
		}
		printf("%s: ok: suite '%s', %zu strata, %zu cases, %zu graders\n", argv[i], s->name,
		       s->nstrata, s->ncases, s->ngraders);
		suite_free(s);
	}
	return rc;
}
