/* cmd.c: what the subcommands share: messages, colour and report output. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "report/report.h"
#include "suite/suite.h"
#include "util.h"

void cmd_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	for (char *line = msg, *end; line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		int len = end ? (int)(end - line) : (int)strlen(line);
		fprintf(stderr, "canary: %.*s\n", len, line);
	}
	free(msg);
}

bool cmd_use_color(FILE *f, int color)
{
	if (color >= 0)
		return color;
	const char *no = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	return isatty(fileno(f)) && !(no && *no) && !(term && strcmp(term, "dumb") == 0);
}

const struct report_format *cmd_find_format(const char *name, size_t len)
{
	const struct report_format *fmt = report_format_find(name, len);
	if (fmt)
		return fmt;
	const char *names[16];
	size_t n = 0;
	for (fmt = report_formats; fmt->name && n + 1 < ARRAY_SIZE(names); fmt++)
		names[n++] = fmt->name;
	names[n] = NULL;
	char *list = util_join(names, ", ");
	cmd_error("unknown report format '%.*s' (formats: %s)", (int)len, name, list);
	free(list);
	return NULL;
}

int cmd_write_report(const char *path, const struct report_format *fmt, const struct report *r)
{
	char *err = NULL;
	int rc;
	if (!path || strcmp(path, "-") == 0) {
		rc = fmt->render(stdout, r, &err);
		fflush(stdout);
	} else {
		rc = report_write_atomic(path, fmt->render, r, &err);
	}
	if (rc < 0) {
		cmd_error("cannot write the %s report to '%s': %s", fmt->name, path ? path : "-",
			  err ? err : "failed");
		free(err);
	}
	return rc;
}

const struct cmd_option cmd_help_option = {"help", 'h', false, 'h', CMD_VALUE_NONE, NULL};

void cmd_parser_error(const struct cmd_parser *p, const char *fmt, ...)
{
	if (p->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("canary: ", stderr);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "; see 'canary %s --help'\n", p->cmd->name);
	va_end(ap);
}

void cmd_parser_init(struct cmd_parser *p, const struct cmd_entry *cmd, int argc, char **argv)
{
	*p = (struct cmd_parser){.cmd = cmd, .argc = argc, .argv = argv, .next = 1};
}

size_t cmd_options(const struct cmd_entry *cmd, const struct cmd_option **out, size_t max)
{
	size_t n = 0;
	for (const struct cmd_option *o = cmd->options; o && o->name && n + 1 < max; o++)
		out[n++] = o;
	out[n++] = &cmd_help_option;
	return n;
}

const struct cmd_option *cmd_parser_find(const struct cmd_parser *p, const char *name,
					 size_t len)
{
	const struct cmd_option *all[CMD_OPTIONS_MAX], *found = NULL;
	const char *names[CMD_OPTIONS_MAX + 1];
	size_t n = cmd_options(p->cmd, all, ARRAY_SIZE(all)), matches = 0;
	for (size_t i = 0; i < n; i++) {
		if (strlen(all[i]->name) == len && strncmp(all[i]->name, name, len) == 0)
			return all[i];
		if (strncmp(all[i]->name, name, len) == 0) {
			found = all[i];
			matches++;
		}
		names[i] = all[i]->name;
	}
	names[n] = NULL;
	if (matches == 1)
		return found;
	char *word = xstrndup(name, len);
	if (matches) {
		struct buf b;
		buf_init(&b, 0);
		for (size_t i = 0; i < n; i++)
			if (strncmp(all[i]->name, name, len) == 0)
				buf_addf(&b, "%s--%s", b.len ? ", " : "", all[i]->name);
		cmd_parser_error(p, "ambiguous option '--%s' (could be %s)", word, b.data);
		buf_release(&b);
	} else if (util_suggest(word, names)) {
		cmd_parser_error(p, "unrecognized option '--%s' (did you mean '--%s'?)", word,
				 util_suggest(word, names));
	} else {
		cmd_parser_error(p, "unrecognized option '--%s'", word);
	}
	free(word);
	return NULL;
}

static const struct cmd_option *find_short(const struct cmd_parser *p, char c)
{
	const struct cmd_option *all[CMD_OPTIONS_MAX];
	size_t n = cmd_options(p->cmd, all, ARRAY_SIZE(all));
	for (size_t i = 0; i < n; i++)
		if (all[i]->short_name == c)
			return all[i];
	cmd_parser_error(p, "unrecognized option '-%c'", c);
	return NULL;
}

/* Read a short option from the current group, with its value when it
 * takes one. */
static const struct cmd_option *next_short(struct cmd_parser *p)
{
	const struct cmd_option *o = find_short(p, *p->group);
	p->group++;
	if (!o || !o->has_value) {
		if (!*p->group)
			p->group = NULL;
		return o;
	}
	if (*p->group) {
		p->arg = p->group;
	} else if (p->next < p->argc) {
		p->arg = p->argv[p->next++];
	} else {
		cmd_parser_error(p, "option '-%c' needs a value", o->short_name);
		p->missing = o;
		o = NULL;
	}
	p->group = NULL;
	return o;
}

/* Read the long option in word (after its "--"), with its value when it
 * takes one. */
static const struct cmd_option *next_long(struct cmd_parser *p, const char *word)
{
	const char *eq = strchr(word, '=');
	size_t len = eq ? (size_t)(eq - word) : strlen(word);
	const struct cmd_option *o = cmd_parser_find(p, word, len);
	if (!o)
		return NULL;
	if (!o->has_value && eq) {
		cmd_parser_error(p, "option '--%s' takes no value", o->name);
		return NULL;
	}
	if (o->has_value && eq) {
		p->arg = eq + 1;
	} else if (o->has_value) {
		if (p->next >= p->argc) {
			cmd_parser_error(p, "option '--%s' needs a value", o->name);
			p->missing = o;
			return NULL;
		}
		p->arg = p->argv[p->next++];
	}
	return o;
}

int cmd_parser_next(struct cmd_parser *p)
{
	const struct cmd_option *o = NULL;
	p->opt = NULL;
	p->arg = NULL;
	if (p->group) {
		o = next_short(p);
	} else {
		for (;;) {
			if (p->next >= p->argc)
				return 0;
			char *word = p->argv[p->next++];
			if (p->operands_only || word[0] != '-' || !word[1]) {
				p->argv[1 + p->noperands++] = word;
				continue;
			}
			if (strcmp(word, "--") == 0) {
				p->operands_only = true;
				continue;
			}
			if (word[1] == '-') {
				o = next_long(p, word + 2);
			} else {
				p->group = word + 1;
				o = next_short(p);
			}
			break;
		}
	}
	p->exit = EXIT_USAGE;
	if (!o)
		return -1;
	if (o == &cmd_help_option) {
		if (!p->quiet)
			fputs(p->cmd->help, stdout);
		p->exit = 0;
		return -1;
	}
	p->opt = o;
	return o->id;
}

int cmd_parser_end(struct cmd_parser *p, int opt, int min, int max)
{
	if (opt < 0)
		return -1;
	p->exit = EXIT_USAGE;
	if (p->noperands < min) {
		cmd_parser_error(p, "%s needs %s", p->cmd->name, p->cmd->operands);
		return -1;
	}
	if (max >= 0 && p->noperands > max) {
		if (max == 0)
			cmd_parser_error(p, "%s takes no arguments, not '%s'", p->cmd->name,
					 p->argv[1]);
		else
			cmd_parser_error(p, "%s takes %s, not also '%s'", p->cmd->name,
					 p->cmd->operands, p->argv[1 + max]);
		return -1;
	}
	return 0;
}

int cmd_parser_choice(const struct cmd_parser *p)
{
	const char *const *words = p->opt->words;
	for (size_t i = 0; words[i]; i++)
		if (strcmp(words[i], p->arg) == 0)
			return (int)i;
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; words[i]; i++)
		buf_addf(&b, "%s%s", i == 0 ? "" : words[i + 1] ? ", " : " or ", words[i]);
	cmd_error("--%s takes %s, not '%s'", p->opt->name, b.data, p->arg);
	buf_release(&b);
	return -1;
}

enum side cmd_side(const char *s, size_t len)
{
	int side = 0;
	for (; side < SIDE__COUNT; side++)
		if (strlen(side_name((enum side)side)) == len &&
		    strncmp(s, side_name((enum side)side), len) == 0)
			break;
	return (enum side)side;
}

int cmd_parser_count(const struct cmd_parser *p, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(p->arg, &end, 10);
	if (errno || end == p->arg || *end || v < min || v > max) {
		cmd_error("--%s takes a whole number from %ld to %ld, not '%s'", p->opt->name, min,
			  max, p->arg);
		return -1;
	}
	*out = v;
	return 0;
}

int cmd_check_env(const struct suite *s, unsigned sides, const bool *selected)
{
	char *err = NULL;
	int rc = suite_check_env(s, sides, selected, &err);
	if (rc < 0)
		fprintf(stderr, "%s\n", err);
	free(err);
	return rc;
}
