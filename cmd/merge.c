/* merge.c: `canary merge R1.json R2.json ...`: one report from the reports
 * of the shards of a run (`canary run --shard I/N`). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "report/report.h"
#include "util.h"

static const char merge_help[] =
	"usage: canary merge REPORT.json... [--format FORMAT] [--output PATH]\n"
	"\n"
	"Merge the JSON reports of the shards of a run ('canary run --shard I/N\n"
	"--report json=PATH') into the report of the whole run: cases in suite\n"
	"order, stratum statistics, the verdict and the exit code computed again.\n"
	"Reports of different suites or suite versions, a case in two reports and a\n"
	"missing shard are refused.\n"
	"\n"
	"  -f, --format FORMAT   json (default), text, junit, markdown, prom or tap\n"
	"  -o, --output PATH     write to PATH instead of standard output, through a\n"
	"                        temporary file and a rename; '-' is standard output\n"
	"  --partial             merge even when some shards' reports are missing\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: the merged run's exit code (0 pass, 1 drift/eval-regression/regression,\n"
	"3 some cases could not be measured, 130 interrupted), so a merge step fails\n"
	"as the unsharded run would; 2 usage error, a report that cannot be read,\n"
	"reports that cannot be merged, or a report that cannot be written.\n";

enum {
	OPT_FORMAT = 'f',
	OPT_OUTPUT = 'o',
	OPT_PARTIAL = 256,
};

static const struct cmd_option merge_options[] = {
	{"format", 'f', true, OPT_FORMAT, CMD_VALUE_FORMAT, NULL},
	{"output", 'o', true, OPT_OUTPUT, CMD_VALUE_FILE, NULL},
	{"partial", 0, false, OPT_PARTIAL, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

static int cmd_merge(int argc, char **argv)
{
	const struct report_format *fmt = report_format_find("json", 4);
	const char *output = NULL;
	unsigned flags = 0;
	struct report **reports = NULL, *merged = NULL;
	size_t n = 0;
	char *err = NULL;
	struct cmd_parser p;
	int rc = EXIT_USAGE, opt;

	cmd_parser_init(&p, &cmd_merge_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		switch (opt) {
		case OPT_FORMAT:
			fmt = cmd_find_format(p.arg, strlen(p.arg));
			if (!fmt)
				return EXIT_USAGE;
			break;
		case OPT_OUTPUT:
			output = p.arg;
			break;
		case OPT_PARTIAL:
			flags |= REPORT_MERGE_PARTIAL;
			break;
		}
	}
	if (cmd_parser_end(&p, opt, 1, -1) < 0)
		return p.exit;
	reports = xcalloc((size_t)p.noperands, sizeof(*reports));
	for (int i = 1; i <= p.noperands; i++) {
		reports[n] = report_load(argv[i], &err);
		if (!reports[n]) {
			cmd_error("%s", err);
			goto out;
		}
		n++;
	}
	merged = report_merge(reports, (const char *const *)argv + 1, n, flags, &err);
	if (!merged) {
		cmd_error("%s", err);
		goto out;
	}
	if (cmd_write_report(output, fmt, merged) < 0)
		goto out;
	rc = merged->exit_code;
	if (output && strcmp(output, "-") != 0)
		fprintf(stderr, "canary: merged %zu %s into '%s': %s (exit %d)\n", n,
			n == 1 ? "report" : "reports", output, verdict_name(merged->verdict), rc);
out:
	free(err);
	report_free(merged);
	for (size_t i = 0; i < n; i++)
		report_free(reports[i]);
	free(reports);
	return rc;
}

const struct cmd_entry cmd_merge_entry = {
	.name = "merge",
	.summary = "combine the reports of --shard runs",
	.help = merge_help,
	.operands = "the JSON reports of the shards",
	.operand_kind = CMD_VALUE_JSON,
	.options = merge_options,
	.exec = cmd_merge,
};
