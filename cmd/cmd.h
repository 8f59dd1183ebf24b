/* cmd.h: the subcommands of canary and what they share.
 *
 * cmd/ parses arguments and prints; the work is done in lib/.  Each
 * subcommand is one file with one entry in cmd_table[] (cmd/canary.c),
 * whose option table both the parser and completion read.
 *
 * Ownership: entries and option tables are static.  A struct cmd_parser
 * borrows argv, moves its operands to the front, and hands out option
 * values that point into it.
 */
#ifndef CANARY_CMD_H
#define CANARY_CMD_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "report/verdict.h"
#include "run/run.h"

/* The kind of an option's value or of a command's operands: what
 * completion (`canary __complete`, contrib/canary.bash) offers for it. */
enum cmd_value {
	CMD_VALUE_NONE,     /* free text: nothing to offer */
	CMD_VALUE_FILE,     /* any file */
	CMD_VALUE_YAML,     /* a .yaml or .yml file */
	CMD_VALUE_JSON,     /* a .json file */
	CMD_VALUE_WORDS,    /* one of the option's words */
	CMD_VALUE_FORMAT,   /* a report format */
	CMD_VALUE_REPORT,   /* FORMAT=PATH */
	CMD_VALUE_SIDE,     /* eval or prod */
	CMD_VALUE_SIDE_URL, /* eval=URL or prod=URL */
	CMD_VALUE_API,      /* a provider name */
	CMD_VALUE_COMMAND,  /* a command name */
	CMD_VALUE_STRATUM,  /* a stratum of the suite operand */
	CMD_VALUE_CASE,     /* a case of the suite operand, as stratum/id */
};

/* One option of a command: what the parser accepts and what completion
 * offers.  --help (-h) is implicit in every command. */
struct cmd_option {
	const char *name;           /* the long name, without "--" */
	char short_name;            /* '\0': none */
	bool has_value;
	int id;                     /* what cmd_parser_next() returns for it (> 0) */
	enum cmd_value kind;        /* of its value */
	const char *const *words;   /* CMD_VALUE_WORDS: every value accepted */
};

struct cmd_entry {
	const char *name;
	const char *summary;        /* one line for `canary --help` */
	const char *help;           /* the text of `canary NAME --help` */
	const char *operands;       /* what it needs, for messages: "a SUITE file" */
	enum cmd_value operand_kind;
	const struct cmd_option *options; /* ends with {NULL} */
	int (*exec)(int argc, char **argv); /* argv[0] is the subcommand */
};

/* cmd_table: every command in `canary --help` order, NULL-terminated. */
extern const struct cmd_entry *const cmd_table[];

extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_validate_entry;
extern const struct cmd_entry cmd_list_entry;
extern const struct cmd_entry cmd_grade_entry;
extern const struct cmd_entry cmd_promote_entry;
extern const struct cmd_entry cmd_fingerprint_entry;
extern const struct cmd_entry cmd_stub_entry;
extern const struct cmd_entry cmd_report_entry;
extern const struct cmd_entry cmd_merge_entry;
extern const struct cmd_entry cmd_history_entry;
extern const struct cmd_entry cmd_calibrate_entry;
extern const struct cmd_entry cmd_demo_entry;
extern const struct cmd_entry cmd_replay_entry;

/* cmd_find: the command named name or by a unique prefix of it; NULL
 * (after saying why when loud) when none or several match. */
const struct cmd_entry *cmd_find(const char *name, bool loud);

/* cmd_complete: `canary __complete WORD... CURRENT`: what may follow. */
int cmd_complete(int argc, char **argv);

/* The option parser every command uses.  Options and operands may come in
 * any order (as with git and curl); "--" ends the options.  Long options
 * may be abbreviated to a unique prefix and take "--name=value" or
 * "--name value"; short ones may be grouped ("-qv") and take "-fjson" or
 * "-f json". */
struct cmd_parser {
	const struct cmd_entry *cmd;
	int argc;
	char **argv;
	int next;                   /* the next element of argv to read */
	int noperands;              /* operands so far, moved to argv[1..] in order */
	bool operands_only;         /* after "--" */
	const char *group;          /* the rest of a group of short options */
	const struct cmd_option *opt; /* the option just returned */
	const char *arg;            /* its value, or NULL */
	int exit;                   /* after cmd_parser_next() returned -1 */
	bool quiet;                 /* print nothing, --help included */
	const struct cmd_option *missing; /* an option given without its value */
};

/* --help, -h: in every command. */
extern const struct cmd_option cmd_help_option;

#define CMD_OPTIONS_MAX 64

/* cmd_options: cmd's options, --help last, into out (at most max). */
size_t cmd_options(const struct cmd_entry *cmd, const struct cmd_option **out, size_t max);

void cmd_parser_init(struct cmd_parser *p, const struct cmd_entry *cmd, int argc, char **argv);
/* cmd_parser_next: the id of the next option (its value in p->arg); 0
 * when every argument is read, the operands then being
 * p->argv[1..1 + p->noperands); -1 when the command must stop now with
 * exit code p->exit (0 after printing --help, 2 after an error). */
int cmd_parser_next(struct cmd_parser *p);
/* cmd_parser_find: the option named by the len bytes of name: an exact
 * name, else a unique prefix; NULL after an error (unless p->quiet). */
const struct cmd_option *cmd_parser_find(const struct cmd_parser *p, const char *name,
					 size_t len);
/* cmd_parser_end: after the last cmd_parser_next(), which returned opt: 0
 * when every option parsed and there are min to max operands (max < 0: no
 * limit); -1 otherwise, after an error or --help, with the exit code in
 * p->exit. */
int cmd_parser_end(struct cmd_parser *p, int opt, int min, int max);
/* cmd_parser_choice: the index of p->arg in the option's words; -1 after
 * an error listing them. */
int cmd_parser_choice(const struct cmd_parser *p);
/* cmd_parser_count: p->arg as a whole number in [min, max]; -1 after an
 * error. */
int cmd_parser_count(const struct cmd_parser *p, long min, long max, long *out);

/* cmd_check_env: suite_check_env(), its error printed; -1 then. */
int cmd_check_env(const struct suite *s, unsigned sides, const bool *selected);

/* cmd_side: the side named by the len bytes of s; SIDE__COUNT when none. */
enum side cmd_side(const char *s, size_t len);

/* cmd_parser_error: print "canary: <message>; see 'canary CMD --help'". */
void cmd_parser_error(const struct cmd_parser *p, const char *fmt, ...) PRINTF_LIKE(2, 3);

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
	struct otlp_config *otlp; /* --otlp or OTEL_EXPORTER_OTLP_ENDPOINT, or NULL */
	const struct replay *replay; /* `canary replay`: what it read of its log, or NULL */
};

/* cmd_error: print "canary: <message>" to stderr, the prefix on every line
 * of the message. */
void cmd_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* cmd_use_color: whether to colour f: --color/--no-color, else a TTY with
 * NO_COLOR unset and TERM not "dumb". */
bool cmd_use_color(FILE *f, int color);

struct replay;
struct report;
struct report_format;

/* cmd_find_format: the report format named by the len bytes of name; NULL
 * after an error listing the formats. */
const struct report_format *cmd_find_format(const char *name, size_t len);

/* cmd_write_report: render r in fmt to path ("-" or NULL: stdout; a file
 * through a temporary file and a rename); -1 after an error. */
int cmd_write_report(const char *path, const struct report_format *fmt, const struct report *r);

/* cmd_run_suite: run a loaded suite, print the text report and write every
 * requested report; returns the exit code. */
int cmd_run_suite(struct suite *s, struct run_options *ro, const struct cmd_output *out);

/* cmd_add_report: check and record a --report FORMAT=PATH spec; -1 after
 * printing an error when it is malformed. */
int cmd_add_report(struct cmd_output *out, const char *spec);

#endif
