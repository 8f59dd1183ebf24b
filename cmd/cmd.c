/* cmd.c: what the subcommands share: messages, colour and report output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "report.h"
#include "util.h"

void cmd_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("canary: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
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

int cmd_write_report(const char *path, const struct report_format *fmt, const cJSON *tree)
{
	char *err = NULL;
	int rc;
	if (!path || strcmp(path, "-") == 0) {
		rc = fmt->render(stdout, tree, &err);
		fflush(stdout);
	} else {
		rc = report_write_atomic(path, fmt->render, tree, &err);
	}
	if (rc < 0) {
		cmd_error("cannot write the %s report to '%s': %s", fmt->name, path ? path : "-",
			  err ? err : "failed");
		free(err);
	}
	return rc;
}
