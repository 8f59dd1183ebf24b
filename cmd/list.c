/* list.c: `canary list SUITE`: strata and cases with counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "suite.h"

static const char list_usage[] =
	"usage: canary list SUITE\n"
	"\n"
	"Print the suite's strata with their descriptions and cases, with each case's\n"
	"repeat, threshold and number of graders.  Sends nothing.\n";

int cmd_list(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(list_usage, stdout);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		cmd_error("list takes one SUITE file; see 'canary list --help'");
		return EXIT_USAGE;
	}
	char *err = NULL;
	struct suite *s = suite_load(argv[1], NULL, &err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	int width = 0;
	for (size_t i = 0; i < s->nstrata; i++)
		for (size_t j = 0; j < s->strata[i].ncases; j++) {
			int w = (int)strlen(s->strata[i].cases[j].id);
			width = w > width ? w : width;
		}
	printf("%s: %zu strata, %zu cases\n", s->name, s->nstrata, s->ncases);
	for (size_t i = 0; i < s->nstrata; i++) {
		const struct stratum *st = &s->strata[i];
		printf("\n%s (%zu case%s)%s%s\n", st->name, st->ncases, st->ncases == 1 ? "" : "s",
		       st->description ? ": " : "", st->description ? st->description : "");
		for (size_t j = 0; j < st->ncases; j++) {
			const struct suite_case *c = &st->cases[j];
			printf("  %-*s  repeat %d  threshold %g  %zu grader%s\n", width, c->id,
			       c->repeat, c->threshold, c->nexpect, c->nexpect == 1 ? "" : "s");
		}
	}
	suite_free(s);
	return 0;
}
