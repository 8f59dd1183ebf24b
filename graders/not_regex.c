/* not_regex.c: pass when the subject does not match a PCRE2 pattern.
 *     - not_regex: '\b\d{3}-\d{2}-\d{4}\b'
 * The config is regex's: a pattern, or {pattern, flags}.
 */
#include "common.h"

#include <stdlib.h>

#include "rx.h"

struct not_regex {
	struct rx *rx;
};

static int not_regex_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			     char **err)
{
	struct not_regex *p = priv;
	p->rx = regex_cfg_compile(cfg, "not_regex", err);
	return p->rx ? 0 : -1;
}

static void not_regex_grade(const void *priv, const struct grade_input *in,
			    struct grade_result *out)
{
	const struct not_regex *p = priv;
	const char *s = in->subject ? in->subject : "";
	size_t start = 0, end = 0;
	char *err = NULL;
	int rc = rx_match(p->rx, s, in->subject ? in->subject_len : 0, &start, &end, &err);
	if (rc == 0) {
		grade_pass(out);
	} else if (rc > 0) {
		char *ex = grade_excerpt_at(grade_secrets(in), s, in->subject ? in->subject_len : 0,
					    start, end);
		grade_fail(out, "matched /%s/: \"%s\"", rx_pattern(p->rx), ex);
		free(ex);
	} else {
		grade_error(out, "%s", err);
		free(err);
	}
}

static void not_regex_release(void *priv)
{
	struct not_regex *p = priv;
	rx_free(p->rx);
}

const struct grader_ops grader_not_regex = {
	.name = "not_regex",
	.priv_size = sizeof(struct not_regex),
	.compile = not_regex_compile,
	.grade = not_regex_grade,
	.release = not_regex_release,
};
