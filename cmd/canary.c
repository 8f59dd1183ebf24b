/* canary.c: the command table, prefix matching and dispatch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "util.h"
#include "version.h"

const struct cmd_entry *const cmd_table[] = {
	&cmd_run_entry,
	&cmd_validate_entry,
	&cmd_list_entry,
	&cmd_grade_entry,
	&cmd_replay_entry,
	&cmd_fingerprint_entry,
	&cmd_stub_entry,
	&cmd_report_entry,
	&cmd_merge_entry,
	&cmd_history_entry,
	&cmd_calibrate_entry,
	&cmd_demo_entry,
	NULL,
};

/* The options of canary itself, before the command. */
static const char *const top_options[] = {"help", "version", NULL};

static void usage(FILE *f)
{
	fprintf(f, "usage: canary [--version] [--help] COMMAND [ARGS]\n\n"
		   "canary catches eval-prod drift in LLM agents: it fires a stratified canary\n"
		   "suite at the eval composition and at production, grades both alike and\n"
		   "prints a per-stratum diff.\n\ncommands:\n");
	for (const struct cmd_entry *const *c = cmd_table; *c; c++)
		fprintf(f, "  %-12s %s\n", (*c)->name, (*c)->summary);
	fprintf(f, "\n'canary COMMAND --help' describes a command; see also canary(1).\n"
		   "exit codes: 0 pass, 1 drift or regression, 2 usage or suite error,\n"
		   "3 some cases could not be measured, 75 locked by another run,\n"
		   "130 interrupted.\n");
}

const struct cmd_entry *cmd_find(const char *name, bool loud)
{
	const struct cmd_entry *found = NULL;
	const char *names[ARRAY_SIZE(cmd_table)];
	size_t len = strlen(name), n = 0, matches = 0;
	for (const struct cmd_entry *const *c = cmd_table; *c; c++) {
		if (strcmp((*c)->name, name) == 0)
			return *c;
		if (len && strncmp((*c)->name, name, len) == 0) {
			found = *c;
			names[matches++] = (*c)->name;
		}
	}
	if (matches == 1 || !loud)
		return matches == 1 ? found : NULL;
	names[matches] = NULL;
	if (matches) {
		char *list = util_join(names, ", ");
		cmd_error("ambiguous command '%s': could be %s", name, list);
		free(list);
		return NULL;
	}
	for (const struct cmd_entry *const *c = cmd_table; *c; c++)
		names[n++] = (*c)->name;
	names[n] = NULL;
	const char *hint = util_suggest(name, names);
	if (hint)
		cmd_error("unknown command '%s' (did you mean '%s'?)", name, hint);
	else
		cmd_error("unknown command '%s'; see 'canary --help'", name);
	return NULL;
}

int main(int argc, char **argv)
{
	cJSON_Hooks hooks = {.malloc_fn = xmalloc, .free_fn = free};
	cJSON_InitHooks(&hooks);
	/* A reader that leaves (canary run | head) must not kill the run before
	 * its report files are written: writes to stdout then just fail. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("canary %s\n", CANARY_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		const struct cmd_entry *c = cmd_find(argv[2], true);
		if (!c)
			return EXIT_USAGE;
		fputs(c->help, stdout);
		return 0;
	}
	if (strcmp(argv[1], "__complete") == 0)
		return cmd_complete(argc - 1, argv + 1);
	if (argv[1][0] == '-') {
		const char *hint =
			argv[1][1] == '-' ? util_suggest(argv[1] + 2, top_options) : NULL;
		if (hint)
			cmd_error("unrecognized option '%s' (did you mean '--%s'?); "
				  "see 'canary --help'", argv[1], hint);
		else
			cmd_error("unrecognized option '%s'; see 'canary --help'", argv[1]);
		return EXIT_USAGE;
	}
	const struct cmd_entry *c = cmd_find(argv[1], true);
	if (!c)
		return EXIT_USAGE;
	return c->exec(argc - 1, argv + 1);
}
