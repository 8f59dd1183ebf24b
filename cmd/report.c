/* report.c: `canary report REPORT.json`: render a saved JSON report again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "report/report.h"
#include "util.h"

static const char report_help[] =
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

enum {
	OPT_FORMAT = 'f',
	OPT_OUTPUT = 'o',
};

static const struct cmd_option report_options[] = {
	{"format", 'f', true, OPT_FORMAT, CMD_VALUE_FORMAT, NULL},
	{"output", 'o', true, OPT_OUTPUT, CMD_VALUE_FILE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

static int cmd_report(int argc, char **argv)
{
	const struct report_format *fmt = report_format_find("text", 4);
	const char *output = NULL;
	char *err = NULL;
	struct cmd_parser p;
	int opt;

	cmd_parser_init(&p, &cmd_report_entry, argc, argv);
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
		}
	}
	if (cmd_parser_end(&p, opt, 1, 1) < 0)
		return p.exit;
	struct report *r = report_load(argv[1], &err);
	if (!r) {
		cmd_error("%s", err);
		free(err);
		return EXIT_USAGE;
	}
	int rc = cmd_write_report(output, fmt, r) < 0 ? EXIT_USAGE : 0;
	report_free(r);
	return rc;
}

const struct cmd_entry cmd_report_entry = {
	.name = "report",
	.summary = "re-render a saved JSON report",
	.help = report_help,
	.operands = "a REPORT.json file",
	.operand_kind = CMD_VALUE_JSON,
	.options = report_options,
	.exec = cmd_report,
};
