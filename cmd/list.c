/* list.c: `canary list SUITE`: strata and cases with counts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "suite/suite.h"
#include "util.h"
#include "grader.h"

static const char list_help[] =
	"usage: canary list SUITE [--stratum NAME] [--case GLOB] [--format text|json]\n"
	"\n"
	"Print the suite's strata with their descriptions and cases, with each case's\n"
	"repeat, threshold and number of graders.  Sends nothing, and needs none of\n"
	"the suite's environment variables.\n"
	"\n"
	"  --stratum NAME        list only the cases of stratum NAME; may be repeated\n"
	"  --case GLOB           list only the cases whose id or stratum/id matches\n"
	"                        GLOB; may be repeated\n"
	"  --format F            text (default) or json\n"
	"  -h, --help            show this help\n";

enum {
	OPT_STRATUM = 256,
	OPT_CASE,
	OPT_FORMAT,
};

enum format { FORMAT_TEXT, FORMAT_JSON };

static const char *const formats[] = {"text", "json", NULL};

static const struct cmd_option list_options[] = {
	{"stratum", 0, true, OPT_STRATUM, CMD_VALUE_STRATUM, NULL},
	{"case", 0, true, OPT_CASE, CMD_VALUE_CASE, NULL},
	{"format", 0, true, OPT_FORMAT, CMD_VALUE_WORDS, formats},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

/* The widths of the text columns, over the cases listed. */
struct widths {
	int id, repeat, threshold, graders;
};

static int width_of(const char *fmt, ...) PRINTF_LIKE(1, 2);

static int width_of(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	return n;
}

static void widen(int *w, int n)
{
	if (n > *w)
		*w = n;
}

static void print_text(const struct suite *s, const bool *selected, size_t nselected)
{
	struct widths w = {0};
	size_t k = 0;
	for (size_t i = 0; i < s->nstrata; i++)
		for (size_t j = 0; j < s->strata[i].ncases; j++) {
			const struct suite_case *c = &s->strata[i].cases[j];
			if (!selected[k++])
				continue;
			widen(&w.id, (int)strlen(c->id));
			widen(&w.repeat, width_of("%d", c->repeat));
			widen(&w.threshold, width_of("%g", c->threshold));
			widen(&w.graders, width_of("%zu", c->nexpect));
		}
	printf("%s: %zu strata, %zu cases", s->name, s->nstrata, s->ncases);
	if (nselected < s->ncases)
		printf(" (listing %zu)", nselected);
	putchar('\n');
	k = 0;
	for (size_t i = 0; i < s->nstrata; i++) {
		const struct stratum *st = &s->strata[i];
		bool header = false;
		for (size_t j = 0; j < st->ncases; j++) {
			const struct suite_case *c = &st->cases[j];
			if (!selected[k++])
				continue;
			if (!header)
				printf("\n%s (%zu case%s)%s%s\n", st->name, st->ncases,
				       st->ncases == 1 ? "" : "s", st->description ? ": " : "",
				       st->description ? st->description : "");
			header = true;
			printf("  %-*s  repeat %*d  threshold %*g  %*zu grader%s\n", w.id, c->id,
			       w.repeat, c->repeat, w.threshold, c->threshold, w.graders,
			       c->nexpect, c->nexpect == 1 ? "" : "s");
		}
	}
}

static void print_json(const struct suite *s, const bool *selected)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "suite", s->name);
	cJSON *strata = cJSON_AddArrayToObject(root, "strata");
	size_t k = 0;
	for (size_t i = 0; i < s->nstrata; i++) {
		const struct stratum *st = &s->strata[i];
		cJSON *o = NULL, *cases = NULL;
		for (size_t j = 0; j < st->ncases; j++) {
			const struct suite_case *c = &st->cases[j];
			if (!selected[k++])
				continue;
			if (!o) {
				o = cJSON_CreateObject();
				cJSON_AddStringToObject(o, "name", st->name);
				if (st->description)
					cJSON_AddStringToObject(o, "description", st->description);
				cases = cJSON_AddArrayToObject(o, "cases");
				cJSON_AddItemToArray(strata, o);
			}
			cJSON *co = cJSON_CreateObject();
			cJSON_AddStringToObject(co, "id", c->id);
			cJSON_AddNumberToObject(co, "repeat", c->repeat);
			cJSON_AddNumberToObject(co, "threshold", c->threshold);
			cJSON_AddNumberToObject(co, "timeout_ms", (double)c->timeout_ms);
			cJSON *graders = cJSON_AddArrayToObject(co, "graders");
			for (size_t g = 0; g < c->nexpect; g++)
				cJSON_AddItemToArray(graders,
						     cJSON_CreateString(c->expect[g]->label));
			cJSON_AddItemToArray(cases, co);
		}
	}
	util_json_write(stdout, root);
	cJSON_Delete(root);
}

static int cmd_list(int argc, char **argv)
{
	struct suite_filter filter = {0};
	enum format format = FORMAT_TEXT;
	struct suite *s = NULL;
	bool *selected = NULL;
	char *err = NULL;
	struct cmd_parser p;
	int rc = EXIT_USAGE, opt, choice;
	cmd_parser_init(&p, &cmd_list_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		switch (opt) {
		case OPT_STRATUM:
			suite_filter_add(&filter.strata, &filter.nstrata, p.arg);
			break;
		case OPT_CASE:
			suite_filter_add(&filter.cases, &filter.ncases, p.arg);
			break;
		case OPT_FORMAT:
			if ((choice = cmd_parser_choice(&p)) < 0)
				goto out;
			format = (enum format)choice;
			break;
		}
	}
	if (cmd_parser_end(&p, opt, 1, 1) < 0) {
		rc = p.exit;
		goto out;
	}
	struct suite_options so = {.lazy_env = true};
	s = suite_load(argv[1], &so, &err);
	if (!s) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	selected = xcalloc(s->ncases, sizeof(*selected));
	if (suite_select(s, &filter, selected, &err) < 0) {
		cmd_error("%s", err);
		goto out;
	}
	size_t nselected = 0;
	for (size_t i = 0; i < s->ncases; i++)
		nselected += selected[i];
	if (format == FORMAT_JSON)
		print_json(s, selected);
	else
		print_text(s, selected, nselected);
	rc = 0;
out:
	free(err);
	free(selected);
	suite_free(s);
	suite_filter_release(&filter);
	return rc;
}

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.summary = "list a suite's strata and cases",
	.help = list_help,
	.operands = "a SUITE file",
	.operand_kind = CMD_VALUE_YAML,
	.options = list_options,
	.exec = cmd_list,
};
