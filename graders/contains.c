/* contains.c: pass when the subject contains every given string.
 *     - contains: refund
 *     - contains: [30 days, receipt]
 *     - contains: {value: [Refund, Receipt], ignore_case: true}
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "rx.h"

struct contains {
	struct contains_cfg cfg;
};

/* add_needle: append the string n to c, compiled when ignore_case. */
static int add_needle(struct contains_cfg *c, const struct ynode *n, const char *grader,
		      bool ignore_case, char **err)
{
	char *what = xasprintf("%s value", grader);
	int rc = grader_cfg_text(n, what, err);
	free(what);
	if (rc < 0)
		return -1;
	if (n->len == 0) {
		*err = ynode_error(n, "%s value is empty", grader);
		return -1;
	}
	size_t i = c->n++;
	c->needles[i] = xstrdup(n->str);
	c->lens[i] = n->len;
	if (ignore_case) {
		char *e = NULL;
		c->rx[i] = rx_compile(n->str, RX_LITERAL | RX_CASELESS, &e);
		if (!c->rx[i]) {
			*err = ynode_error(n, "%s", e);
			free(e);
			return -1;
		}
	}
	return 0;
}

int contains_cfg_compile(struct contains_cfg *c, const struct ynode *cfg, const char *grader,
			 char **err)
{
	static const char *const keys[] = { "value", "ignore_case", NULL };
	const struct ynode *value = cfg;
	bool ignore_case = false;
	if (cfg->kind == YNODE_MAP) {
		if (grader_check_keys(cfg, grader, keys, err) < 0)
			return -1;
		value = ynode_get(cfg, "value");
		if (!value) {
			*err = ynode_error(cfg, "%s needs a value", grader);
			return -1;
		}
		const struct ynode *ic = ynode_get(cfg, "ignore_case");
		if (ic && grader_cfg_bool(ic, "ignore_case", &ignore_case, err) < 0)
			return -1;
	}
	size_t n = value->kind == YNODE_SEQ ? value->n : 1;
	if (value->kind == YNODE_SEQ && n == 0) {
		*err = ynode_error(value, "%s needs at least one string", grader);
		return -1;
	}
	c->needles = xcalloc(n, sizeof(*c->needles));
	c->lens = xcalloc(n, sizeof(*c->lens));
	c->rx = xcalloc(n, sizeof(*c->rx));
	if (value->kind != YNODE_SEQ)
		return add_needle(c, value, grader, ignore_case, err);
	for (size_t i = 0; i < n; i++) {
		if (add_needle(c, value->items[i], grader, ignore_case, err) < 0)
			return -1;
	}
	return 0;
}

/* find: 1 when needle i is in s[0..len), 0 when not, -1 and *err when
 * matching failed. */
static int find(const struct contains_cfg *c, size_t i, const char *s, size_t len, char **err)
{
	if (c->rx[i])
		return rx_match(c->rx[i], s, len, NULL, NULL, err);
	return memmem(s, len, c->needles[i], c->lens[i]) != NULL;
}

void contains_cfg_grade(const struct contains_cfg *c, const struct grade_input *in, bool present,
			struct grade_result *out)
{
	const char *s = in->subject ? in->subject : "";
	size_t len = in->subject ? in->subject_len : 0;
	struct buf why;
	buf_init(&why, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < c->n; i++) {
		char *err = NULL;
		int rc = find(c, i, s, len, &err);
		if (rc < 0) {
			grade_error(out, "%s", err);
			free(err);
			buf_release(&why);
			return;
		}
		if ((rc == 1) == present)
			continue;
		char *ex = grade_excerpt(grade_secrets(in), c->needles[i], c->lens[i]);
		buf_addf(&why, "%s\"%s\"", why.len ? ", " : present ? "missing " : "contains ", ex);
		free(ex);
	}
	if (why.len)
		grade_fail(out, "%s", why.data);
	else
		grade_pass(out);
	buf_release(&why);
}

void contains_cfg_release(struct contains_cfg *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->needles[i]);
		rx_free(c->rx[i]);
	}
	free(c->needles);
	free(c->lens);
	free(c->rx);
	memset(c, 0, sizeof(*c));
}

static int contains_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			    char **err)
{
	struct contains *p = priv;
	return contains_cfg_compile(&p->cfg, cfg, "contains", err);
}

static void contains_grade(const void *priv, const struct grade_input *in,
			   struct grade_result *out)
{
	const struct contains *p = priv;
	contains_cfg_grade(&p->cfg, in, true, out);
}

static void contains_release(void *priv)
{
	struct contains *p = priv;
	contains_cfg_release(&p->cfg);
}

const struct grader_ops grader_contains = {
	.name = "contains",
	.priv_size = sizeof(struct contains),
	.compile = contains_compile,
	.grade = contains_grade,
	.release = contains_release,
};
