/* cmd.h: the subcommands of canary and what they share.
 *
 * cmd/ parses arguments and prints; the work is done in lib/.  Each
 * subcommand is one file with one entry in cmd_table[] (cmd/canary.c).
 */
#ifndef CANARY_CMD_H
#define CANARY_CMD_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "run.h"

struct cmd_entry {
	const char *name;
	const char *usage;    /* the synopsis after "canary " */
	const char *summary;  /* one line for `canary --help` */
	int (*exec)(int argc, char **argv); /* argv[0] is the subcommand */
};

extern const struct cmd_entry cmd_table[];

int cmd_run(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_grade(int argc, char **argv);
int cmd_fingerprint(int argc, char **argv);
int cmd_stub(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_history(int argc, char **argv);

/* What `canary run` and `canary demo` share: output and report options. */
struct cmd_output {
	bool quiet;
	bool verbose;
	bool no_step_summary; /* do not append markdown to $GITHUB_STEP_SUMMARY */
	const char *history;  /* --history PATH, or NULL */
	const char *notify;   /* --notify URL, or NULL */
	long remind_ms;       /* --remind (24 h) */
	const char *report_url; /* --report-url, or NULL */
	int color;            /* -1 auto, 0 never, 1 always */
	const char **reports; /* "FORMAT=PATH" specs */
	size_t nreports;
};

/* cmd_error: print "canary: <message>" to stderr. */
void cmd_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* cmd_use_color: whether to colour f: --color/--no-color, else a TTY with
 * NO_COLOR unset and TERM not "dumb". */
bool cmd_use_color(FILE *f, int color);

struct report_format;

/* cmd_find_format: the report format named by the len bytes of name; NULL
 * after an error listing the formats. */
const struct report_format *cmd_find_format(const char *name, size_t len);

/* cmd_write_report: render tree in fmt to path ("-" or NULL: stdout; a file
 * through a temporary file and a rename); -1 after an error. */
int cmd_write_report(const char *path, const struct report_format *fmt, const cJSON *tree);

/* cmd_run_suite: run a loaded suite, print the text report and write every
 * requested report; returns the exit code. */
int cmd_run_suite(struct suite *s, struct run_options *ro, const struct cmd_output *out);

/* cmd_add_report: check and record a --report FORMAT=PATH spec; -1 after
 * printing an error when it is malformed. */
int cmd_add_report(struct cmd_output *out, const char *spec);

#endif
