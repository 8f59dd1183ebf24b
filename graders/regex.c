/* regex.c: pass when the subject matches a PCRE2 pattern.
 *     - regex: '\b30 days\b'
 *     - regex: {pattern: '^refunds?', flags: im}
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "rx.h"

struct regex {
	struct rx *rx;
};

/* parse_flags: "ims" into RX_* bits; -1 and *err on another letter. */
static int parse_flags(const struct ynode *n, const char *grader, unsigned *flags, char **err)
{
	if (grader_cfg_text(n, "regex flags", err) < 0)
		return -1;
	for (const char *p = n->str; *p; p++) {
		switch (*p) {
		case 'i':
			*flags |= RX_CASELESS;
			break;
		case 'm':
			*flags |= RX_MULTILINE;
			break;
		case 's':
			*flags |= RX_DOTALL;
			break;
		default:
			*err = ynode_error(n, "unknown %s flag '%c' (use i, m or s)", grader, *p);
			return -1;
		}
	}
	return 0;
}

struct rx *regex_cfg_compile(const struct ynode *cfg, const char *grader, char **err)
{
	static const char *const keys[] = { "pattern", "flags", NULL };
	const struct ynode *pattern = cfg;
	unsigned flags = 0;
	if (cfg->kind == YNODE_MAP) {
		if (grader_check_keys(cfg, grader, keys, err) < 0)
			return NULL;
		pattern = ynode_get(cfg, "pattern");
		if (!pattern) {
			*err = ynode_error(cfg, "%s needs a pattern", grader);
			return NULL;
		}
		const struct ynode *f = ynode_get(cfg, "flags");
		if (f && parse_flags(f, grader, &flags, err) < 0)
			return NULL;
	}
	if (grader_cfg_text(pattern, "regex pattern", err) < 0)
		return NULL;
	if (pattern->len == 0) {
		*err = ynode_error(pattern, "regex pattern is empty");
		return NULL;
	}
	char *e = NULL;
	struct rx *rx = rx_compile(pattern->str, flags, &e);
	if (!rx) {
		*err = ynode_error(pattern, "%s", e);
		free(e);
	}
	return rx;
}

static int regex_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			 char **err)
{
	struct regex *p = priv;
	p->rx = regex_cfg_compile(cfg, "regex", err);
	return p->rx ? 0 : -1;
}

static void regex_grade(const void *priv, const struct grade_input *in, struct grade_result *out)
{
	const struct regex *p = priv;
	char *err = NULL;
	int rc = rx_match(p->rx, in->subject, in->subject_len, NULL, NULL, &err);
	if (rc > 0) {
		grade_pass(out);
	} else if (rc == 0) {
		char *ex = grade_excerpt(grade_secrets(in), in->subject, in->subject_len);
		grade_fail(out, "no match for /%s/ in \"%s\"", rx_pattern(p->rx), ex);
		free(ex);
	} else {
		grade_error(out, "%s", err);
		free(err);
	}
}

static void regex_release(void *priv)
{
	struct regex *p = priv;
	rx_free(p->rx);
}

const struct grader_ops grader_regex = {
	.name = "regex",
	.priv_size = sizeof(struct regex),
	.compile = regex_compile,
	.grade = regex_grade,
	.release = regex_release,
};
