/* equals.c: pass when the subject is exactly a given string.
 *     - equals: Paris
 *     - equals: {value: paris, ignore_case: true, trim: false}
 * With trim (the default) surrounding whitespace of both sides is ignored.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "rx.h"

struct equals {
	char *value;
	size_t len;
	bool trim;
	struct rx *rx;  /* ignore_case: the value as a caseless whole literal */
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* trim: narrow s[0..*len) to leave out surrounding whitespace. */
static const char *trim(const char *s, size_t *len)
{
	size_t n = *len;
	while (n && is_space(*s)) {
		s++;
		n--;
	}
	while (n && is_space(s[n - 1]))
		n--;
	*len = n;
	return s;
}

static int equals_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			  char **err)
{
	static const char *const keys[] = { "value", "trim", "ignore_case", NULL };
	struct equals *p = priv;
	const struct ynode *value = cfg, *n;
	bool ignore_case = false;
	p->trim = true;
	if (cfg->kind == YNODE_MAP) {
		if (grader_check_keys(cfg, "equals", keys, err) < 0)
			return -1;
		value = ynode_get(cfg, "value");
		if (!value) {
			*err = ynode_error(cfg, "equals needs a value");
			return -1;
		}
		if ((n = ynode_get(cfg, "trim")) && grader_cfg_bool(n, "trim", &p->trim, err) < 0)
			return -1;
		n = ynode_get(cfg, "ignore_case");
		if (n && grader_cfg_bool(n, "ignore_case", &ignore_case, err) < 0)
			return -1;
	}
	if (grader_cfg_text(value, "equals value", err) < 0)
		return -1;
	size_t len = value->len;
	const char *s = p->trim ? trim(value->str, &len) : value->str;
	p->value = xstrndup(s, len);
	p->len = len;
	if (ignore_case) {
		char *e = NULL;
		p->rx = rx_compile(p->value, RX_LITERAL | RX_CASELESS | RX_WHOLE, &e);
		if (!p->rx) {
			*err = ynode_error(value, "%s", e);
			free(e);
			return -1;
		}
	}
	return 0;
}

static void equals_grade(const void *priv, const struct grade_input *in, struct grade_result *out)
{
	const struct equals *p = priv;
	size_t len = in->subject ? in->subject_len : 0;
	const char *s = in->subject ? in->subject : "";
	if (p->trim)
		s = trim(s, &len);
	int rc;
	char *err = NULL;
	if (p->rx)
		rc = rx_match(p->rx, s, len, NULL, NULL, &err);
	else
		rc = len == p->len && memcmp(s, p->value, len) == 0;
	if (rc > 0) {
		grade_pass(out);
	} else if (rc == 0) {
		char *want = grade_excerpt(grade_secrets(in), p->value, p->len);
		size_t at = (size_t)(s - (in->subject ? in->subject : s));
		char *got = grade_excerpt_at(grade_secrets(in), in->subject, at + len, at, at + len);
		grade_fail(out, "expected \"%s\", got \"%s\"", want, got);
		free(want);
		free(got);
	} else {
		grade_error(out, "%s", err);
		free(err);
	}
}

static void equals_release(void *priv)
{
	struct equals *p = priv;
	free(p->value);
	rx_free(p->rx);
}

const struct grader_ops grader_equals = {
	.name = "equals",
	.priv_size = sizeof(struct equals),
	.compile = equals_compile,
	.grade = equals_grade,
	.release = equals_release,
};
