/* common.c: the config helpers and quoting rules the graders share. */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "util.h"

const struct redact *grade_secrets(const struct grade_input *in)
{
	return in && in->reply ? in->reply->redact : NULL;
}

int grader_check_keys(const struct ynode *map, const char *grader, const char *const *keys,
		      char **err)
{
	char *where = xasprintf("in %s", grader);
	int rc = ynode_check_keys(map, keys, where, err);
	free(where);
	return rc;
}

int grader_cfg_text(const struct ynode *n, const char *what, char **err)
{
	if (n->kind != YNODE_SCALAR) {
		*err = ynode_error(n, "%s must be a string, not %s", what, ynode_kind_name(n->kind));
		return -1;
	}
	if (ynode_is_null(n) && n->len == 0) {
		*err = ynode_error(n, "%s is missing", what);
		return -1;
	}
	if (ynode_is_null(n)) {
		*err = ynode_error(n, "%s must be a string, not null (quote it to mean the text "
				   "'%s')", what, n->str);
		return -1;
	}
	if (strlen(n->str) != n->len) {
		*err = ynode_error(n, "%s contains a NUL byte", what);
		return -1;
	}
	return 0;
}

int grader_cfg_bool(const struct ynode *n, const char *what, bool *out, char **err)
{
	if (n->kind != YNODE_SCALAR || ynode_bool(n, out) < 0) {
		*err = ynode_error(n, "%s must be true or false", what);
		return -1;
	}
	return 0;
}

int grader_cfg_duration(const struct ynode *n, const char *grader, long *ms, char **err)
{
	if (grader_cfg_text(n, grader, err) < 0)
		return -1;
	if (util_parse_duration(n->str, ms) < 0) {
		*err = ynode_error(n, "bad duration '%s' for %s (use e.g. 250ms, 2s or 1m)", n->str,
				   grader);
		return -1;
	}
	if (*ms <= 0) {
		*err = ynode_error(n, "%s must be more than 0", grader);
		return -1;
	}
	return 0;
}

void grade_within(struct grade_result *out, const char *what, double ms, long limit)
{
	if (ms <= (double)limit)
		grade_pass(out);
	else if (round(ms) <= (double)limit)
		grade_fail(out, "%s %.1f ms > %ld ms", what, ms, limit);
	else
		grade_fail(out, "%s %.0f ms > %ld ms", what, ms, limit);
}
