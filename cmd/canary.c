/* canary.c: the command table, prefix matching and dispatch. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "util.h"
#include "version.h"

const struct cmd_entry cmd_table[] = {
	{"run", "run SUITE [options]", "fire the suite at eval and prod and diff the verdicts",
	 cmd_run},
	{"validate", "validate SUITE...", "check suites without sending anything", cmd_validate},
	{"list", "list SUITE", "list a suite's strata and cases", cmd_list},
	{"grade", "grade SUITE --case ID --reply FILE", "grade a saved reply offline", cmd_grade},
	{"fingerprint", "fingerprint COMPOSITION.yaml", "hash an agent composition manifest",
	 cmd_fingerprint},
	{"stub", "stub SCRIPT [--port N]", "serve a scripted openai-chat agent on loopback",
	 cmd_stub},
	{"report", "report REPORT.json --format FORMAT", "re-render a saved JSON report",
	 cmd_report},
	{"merge", "merge REPORT.json...", "combine the reports of --shard runs", cmd_merge},
	{"history", "history PATH [options]", "show trends, fingerprints and checks from run history",
	 cmd_history},
	{"calibrate", "calibrate SUITE LABELS.yaml", "measure the judge against human labels",
	 cmd_calibrate},
	{"demo", "demo [options]", "run the demo: two local agents, one drifted", cmd_demo},
	{NULL, NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: canary [--version] [--help] COMMAND [ARGS]\n\n"
		   "canary catches eval-prod drift in LLM agents: it fires a stratified canary\n"
		   "suite at the eval composition and at production, grades both alike and\n"
		   "prints a per-stratum diff.\n\ncommands:\n");
	for (const struct cmd_entry *c = cmd_table; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\n'canary COMMAND --help' describes a command; see also canary(1).\n"
		   "exit codes: 0 pass, 1 drift or regression, 2 usage or suite error,\n"
		   "3 some cases could not be measured, 75 locked by another run,\n"
		   "130 interrupted.\n");
}

/* Find a command by exact name or unique prefix, as tmux does. */
static const struct cmd_entry *cmd_find(const char *name)
{
	const struct cmd_entry *found = NULL;
	size_t len = strlen(name);
	for (const struct cmd_entry *c = cmd_table; c->name; c++) {
		if (strcmp(c->name, name) == 0)
			return c;
		if (len && strncmp(c->name, name, len) == 0) {
			if (found) {
				char list[256] = "";
				for (const struct cmd_entry *d = cmd_table; d->name; d++) {
					if (strncmp(d->name, name, len) == 0) {
						if (*list)
							strncat(list, ", ", sizeof(list) - strlen(list) - 1);
						strncat(list, d->name, sizeof(list) - strlen(list) - 1);
					}
				}
				cmd_error("ambiguous command '%s': could be %s", name, list);
				return NULL;
			}
			found = c;
		}
	}
	if (!found) {
		const char *names[ARRAY_SIZE(cmd_table)];
		size_t n = 0;
		for (const struct cmd_entry *c = cmd_table; c->name; c++)
			names[n++] = c->name;
		names[n] = NULL;
		const char *hint = util_suggest(name, names);
		if (hint)
			cmd_error("unknown command '%s' (did you mean '%s'?)", name, hint);
		else
			cmd_error("unknown command '%s'; see 'canary --help'", name);
	}
	return found;
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
		const struct cmd_entry *c = cmd_find(argv[2]);
		if (!c)
			return EXIT_USAGE;
		char *args[] = {(char *)c->name, "--help", NULL};
		return c->exec(2, args);
	}
	if (argv[1][0] == '-') {
		cmd_error("unknown option '%s'; see 'canary --help'", argv[1]);
		return EXIT_USAGE;
	}
	const struct cmd_entry *c = cmd_find(argv[1]);
	if (!c)
		return EXIT_USAGE;
	return c->exec(argc - 1, argv + 1);
}
