/* no_tool_call.c: pass when the reply calls no tool, or none of some.
 *     - no_tool_call: true
 *     - no_tool_call: delete_event
 *     - no_tool_call: [delete_event, share_calendar]
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "util.h"

struct no_tool_call {
	char **names;   /* NULL: no tool at all */
	size_t n;
};

static int add_name(struct no_tool_call *p, const struct ynode *n, char **err)
{
	if (grader_cfg_text(n, "tool name", err) < 0)
		return -1;
	if (n->len == 0) {
		*err = ynode_error(n, "tool name is empty");
		return -1;
	}
	p->names[p->n++] = xstrdup(n->str);
	return 0;
}

static int no_tool_call_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
				char **err)
{
	struct no_tool_call *p = priv;
	static const char usage[] = "no_tool_call takes true, a tool name or a list of tool names";
	bool all;
	if (!cfg || cfg->kind == YNODE_MAP || (cfg->kind == YNODE_SEQ && cfg->n == 0) ||
	    (cfg->kind == YNODE_SCALAR && cfg->plain && ynode_is_null(cfg))) {
		*err = cfg ? ynode_error(cfg, "%s", usage) : xstrdup(usage);
		return -1;
	}
	if (cfg->kind == YNODE_SCALAR && ynode_bool(cfg, &all) == 0) {
		if (!all) {
			*err = ynode_error(cfg, "no_tool_call: false checks nothing; write true, a "
					   "tool name or a list of tool names");
			return -1;
		}
		return 0;
	}
	if (cfg->kind == YNODE_SCALAR) {
		p->names = xcalloc(1, sizeof(*p->names));
		return add_name(p, cfg, err);
	}
	p->names = xcalloc(cfg->n, sizeof(*p->names));
	for (size_t i = 0; i < cfg->n; i++) {
		if (add_name(p, cfg->items[i], err) < 0)
			return -1;
	}
	return 0;
}

/* banned: whether p forbids a call to tool name. */
static bool banned(const struct no_tool_call *p, const char *name)
{
	if (!p->names)
		return true;
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->names[i], name) == 0)
			return true;
	}
	return false;
}

static void no_tool_call_grade(const void *priv, const struct grade_input *in,
			       struct grade_result *out)
{
	const struct no_tool_call *p = priv;
	const struct reply *r = in->reply;
	struct buf why;
	size_t n = 0;
	buf_init(&why, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < r->ntool_calls; i++) {
		const char *name = r->tool_calls[i].name;
		if (!banned(p, name))
			continue;
		char *ex = grade_excerpt(r->redact, name, strlen(name));
		buf_addf(&why, "%s'%s'", n++ ? ", " : "", ex);
		free(ex);
		if (why.len > GRADE_REASON_MAX)
			break;
	}
	if (n)
		grade_fail(out, "unexpected tool call%s %s", n > 1 ? "s" : "", why.data);
	else
		grade_pass(out);
	buf_release(&why);
}

static void no_tool_call_release(void *priv)
{
	struct no_tool_call *p = priv;
	for (size_t i = 0; i < p->n; i++)
		free(p->names[i]);
	free(p->names);
}

const struct grader_ops grader_no_tool_call = {
	.name = "no_tool_call",
	.priv_size = sizeof(struct no_tool_call),
	.compile = no_tool_call_compile,
	.grade = no_tool_call_grade,
	.release = no_tool_call_release,
	.whole_reply = true,
};
