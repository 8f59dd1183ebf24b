/* merge.c: `canary merge R1.json R2.json ...`: one report from the reports
 * of the shards of a run (`canary run --shard I/N`). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "report.h"
#include "util.h"

static const char merge_usage[] =
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
	OPT_PARTIAL = 256,
};

static const struct option merge_options[] = {
	{"format", required_argument, NULL, 'f'},
	{"output", required_argument, NULL, 'o'},
	{"partial", no_argument, NULL, OPT_PARTIAL},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};


int cmd_merge(int argc, char **argv)
{
	const struct report_format *fmt = report_format_find("json", 4);
	const char *output = NULL;
	unsigned flags = 0;
	cJSON **reports = NULL;
	cJSON *merged = NULL;
	size_t n = 0;
	char *err = NULL;
	int rc = EXIT_USAGE, opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:o:h", merge_options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			fmt = cmd_find_format(optarg, strlen(optarg));
			if (!fmt)
				return EXIT_USAGE;
			break;
		case 'o':
			output = optarg;
			break;
		case OPT_PARTIAL:
			flags |= REPORT_MERGE_PARTIAL;
			break;
		case 'h':
			fputs(merge_usage, stdout);
			return 0;
		default:
			fputs("see 'canary merge --help'\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind == argc) {
		cmd_error("merge needs the JSON reports of the shards; see 'canary merge --help'");
		return EXIT_USAGE;
	}
	reports = xcalloc((size_t)(argc - optind), sizeof(*reports));
	for (int i = optind; i < argc; i++) {
		reports[n] = report_json_load(argv[i], &err);
		if (!reports[n]) {
			cmd_error("%s", err);
			goto out;
		}
		n++;
	}
	merged = report_merge_named(reports, (const char *const *)argv + optind, n, flags, &err);
	if (!merged) {
		cmd_error("%s", err);
		goto out;
	}
	if (cmd_write_report(output, fmt, merged) < 0)
		goto out;
	rc = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(merged, "exit_code"));
	if (output && strcmp(output, "-") != 0)
		fprintf(stderr, "canary: merged %zu %s into '%s': %s (exit %d)\n", n,
			n == 1 ? "report" : "reports", output,
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(merged, "verdict")),
			rc);
out:
	free(err);
	cJSON_Delete(merged);
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(reports[i]);
	free(reports);
	return rc;
}
