/* complete.c: `canary __complete WORD... CURRENT`: what the shell may put
 * in place of the current word, taken from the tables that parse the
 * options, so completion never offers what the parser refuses.
 * contrib/canary.bash is a thin shim around it.
 *
 * The first line of the output says what to do, the candidates follow, one
 * a line, already filtered by the current word:
 *   words       the candidates
 *   nospace     the candidates, with no space after the completed word
 *   files       file and folder names
 *   files EXT   folders and files ending in .EXT (EXT: "yaml|yml")
 *   files=      file names after the '=' of the current word
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "provider.h"
#include "report/report.h"
#include "suite/suite.h"
#include "util.h"

/* One candidate, when it extends cur. */
static void offer(const char *cur, const char *prefix, const char *word, const char *suffix)
{
	size_t n = strlen(prefix), len = strlen(cur);
	if (strncmp(prefix, cur, n < len ? n : len) != 0)
		return;
	if (len > n && strncmp(word, cur + n, len - n) != 0)
		return;
	printf("%s%s%s\n", prefix, word, suffix);
}

/* The strata, or the cases as stratum/id, of the suite at path. */
static void offer_suite(const char *cur, const char *path, bool cases)
{
	char *err = NULL;
	struct suite_options so = {.lazy_env = true};
	struct suite *s = path ? suite_load(path, &so, &err) : NULL;
	free(err);
	if (!s)
		return;
	for (size_t i = 0; i < s->nstrata; i++) {
		const struct stratum *st = &s->strata[i];
		if (!cases) {
			offer(cur, "", st->name, "");
			continue;
		}
		char *prefix = xasprintf("%s/", st->name);
		for (size_t j = 0; j < st->ncases; j++)
			offer(cur, prefix, st->cases[j].id, "");
		free(prefix);
	}
	suite_free(s);
}

static void offer_commands(const char *cur)
{
	puts("words");
	for (const struct cmd_entry *const *c = cmd_table; *c; c++)
		offer(cur, "", (*c)->name, "");
	offer(cur, "", "help", "");
}

/* What completes a value of kind; suite is the command's first operand. */
static void offer_value(enum cmd_value kind, const struct cmd_option *o, const char *cur,
			const char *suite)
{
	const char *eq = strchr(cur, '=');
	switch (kind) {
	case CMD_VALUE_NONE:
		puts("words");
		break;
	case CMD_VALUE_FILE:
		puts("files");
		break;
	case CMD_VALUE_YAML:
		puts("files yaml|yml");
		break;
	case CMD_VALUE_JSON:
		puts("files json");
		break;
	case CMD_VALUE_WORDS:
		puts("words");
		for (size_t i = 0; o->words[i]; i++)
			offer(cur, "", o->words[i], "");
		break;
	case CMD_VALUE_FORMAT:
	case CMD_VALUE_REPORT:
		if (kind == CMD_VALUE_REPORT && eq) {
			puts("files=");
			break;
		}
		puts(kind == CMD_VALUE_REPORT ? "nospace" : "words");
		for (const struct report_format *f = report_formats; f->name; f++)
			offer(cur, "", f->name, kind == CMD_VALUE_REPORT ? "=" : "");
		break;
	case CMD_VALUE_SIDE:
	case CMD_VALUE_SIDE_URL:
		puts(kind == CMD_VALUE_SIDE_URL ? "nospace" : "words");
		for (int side = 0; side < SIDE__COUNT && !eq; side++)
			offer(cur, "", side_name((enum side)side),
			      kind == CMD_VALUE_SIDE_URL ? "=" : "");
		break;
	case CMD_VALUE_API:
		puts("words");
		for (size_t i = 0; provider_table[i]; i++)
			offer(cur, "", provider_table[i]->name, "");
		break;
	case CMD_VALUE_COMMAND:
		offer_commands(cur);
		break;
	case CMD_VALUE_STRATUM:
	case CMD_VALUE_CASE:
		puts("words");
		offer_suite(cur, suite, kind == CMD_VALUE_CASE);
		break;
	}
}

int cmd_complete(int argc, char **argv)
{
	const char *cur = argc > 1 ? argv[argc - 1] : "";
	if (argc <= 2) {
		if (cur[0] != '-') {
			offer_commands(cur);
			return 0;
		}
		puts("words");
		offer(cur, "--", "help", "");
		offer(cur, "--", "version", "");
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc == 3)
			offer_commands(cur);
		else
			puts("words");
		return 0;
	}
	const struct cmd_entry *cmd = cmd_find(argv[1], false);
	if (!cmd) {
		puts("words");
		return 0;
	}
	/* Parse the words before the current one as the command would. */
	struct cmd_parser p;
	int opt;
	cmd_parser_init(&p, cmd, argc - 2, argv + 1);
	p.quiet = true;
	while ((opt = cmd_parser_next(&p)) > 0)
		;
	const char *suite = p.noperands ? p.argv[1] : NULL;
	if (opt < 0 && p.missing) {
		offer_value(p.missing->kind, p.missing, cur, suite);
		return 0;
	}
	if (cur[0] == '-' && !p.operands_only) {
		const struct cmd_option *o =
			cur[1] == '-' && strchr(cur, '=')
				? cmd_parser_find(&p, cur + 2, strcspn(cur + 2, "="))
				: NULL;
		if (o && o->has_value) {
			offer_value(o->kind, o, strchr(cur, '=') + 1, suite);
			return 0;
		}
		const struct cmd_option *all[CMD_OPTIONS_MAX];
		size_t n = cmd_options(cmd, all, ARRAY_SIZE(all));
		puts("words");
		for (size_t i = 0; i < n; i++)
			offer(cur, "--", all[i]->name, "");
		return 0;
	}
	offer_value(cmd->operand_kind, NULL, cur, suite);
	return 0;
}
