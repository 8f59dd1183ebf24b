/* report.c: `canary report REPORT.json`: render a saved JSON report again. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "report.h"
#include "util.h"

static const char report_usage[] =
	"usage: canary report REPORT.json [--format FORMAT] [--output PATH]\n"
	"\n"
	"Render a JSON report saved by 'canary run --report json=PATH' (or written by\n"
	"'canary merge') again, in any report format.  REPORT.json '-' reads standard\n"
	"input.\n"
	"\n"
	"  -f, --format FORMAT   text (default), json, junit, markdown, prom or tap\n"
	"  -o, --output PATH     write to PATH instead of standard output, through a\n"
	"                        temporary file and a rename; '-' is standard output\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 0 written; 2 usage error, a file that is not a canary report (or of\n"
	"another report version), or a report that cannot be written.\n";

static const struct option report_options[] = {
	{"format", required_argument, NULL, 'f'},
	{"output", required_argument, NULL, 'o'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};


int cmd_report(int argc, char **argv)
{
	const struct report_format *fmt = report_format_find("text", 4);
	const char *output = NULL;
	char *err = NULL;
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:o:h", report_options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			fmt = cmd_find_format(optarg, strlen(optarg));
			if (!fmt)
				return EXIT_USAGE;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			fputs(report_usage, stdout);
			return 0;
		default:
			fputs("see 'canary report --help'\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cmd_error(optind == argc
				  ? "report needs a REPORT.json file; see 'canary report --help'"
				  : "report takes one REPORT.json file; see 'canary report --help'");
		return EXIT_USAGE;
	}
	cJSON *tree = report_json_load(argv[optind], &err);
	if (!tree) {
		cmd_error("%s", err);
		free(err);
		return EXIT_USAGE;
	}
	int rc = cmd_write_report(output, fmt, tree) < 0 ? EXIT_USAGE : 0;
	cJSON_Delete(tree);
	return rc;
}
