/* trajectory.c: pass when a conversation's tool calls follow an expected
 * trajectory; step N is the Nth tool call of the conversation (of the
 * reply, for a single request).
 *     - trajectory:
 *         calls: [check_availability, {name: create_event, arguments: {required: [start]}}]
 *         order: in_order        # exact (default), in_order or any
 *         no_extra: true         # no call besides the expected ones
 *         max_steps: 4           # requests the conversation may take
 */
#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "provider.h"
#include "schema/jsonschema.h"
#include "util.h"

#define ARGS_ERRS_SHOWN 3
#define STEPS_MAX 1000000

enum trajectory_order {
	ORDER_EXACT,
	ORDER_IN_ORDER,
	ORDER_ANY,
};

static const char *const order_names[] = {
	[ORDER_EXACT] = "exact",
	[ORDER_IN_ORDER] = "in_order",
	[ORDER_ANY] = "any",
};

struct trajectory_call {
	char *name;
	struct schema_cfg *args;   /* NULL: any arguments */
};

struct trajectory {
	struct trajectory_call *calls; /* NULL: no calls: given, only max_steps */
	size_t n;
	enum trajectory_order order;
	bool no_extra;
	long max_steps;            /* 0: no limit */
};

/* parse_call: one item of calls:, a tool name or {name, arguments}. */
static int parse_call(struct trajectory_call *tc, const struct ynode *item,
		      const struct grader_env *env, char **err)
{
	static const char *const keys[] = {"name", "arguments", NULL};
	const struct ynode *name = item, *args = NULL;
	if (item->kind == YNODE_MAP) {
		if (grader_check_keys(item, "trajectory calls", keys, err) < 0)
			return -1;
		if (!(name = ynode_get(item, "name"))) {
			*err = ynode_error(item, "expected call needs a name");
			return -1;
		}
		args = ynode_get(item, "arguments");
	}
	if (grader_cfg_text(name, "tool name", err) < 0)
		return -1;
	if (name->len == 0) {
		*err = ynode_error(name, "tool name is empty");
		return -1;
	}
	tc->name = xstrdup(name->str);
	if (args && !(tc->args = schema_cfg_compile(args, env, "trajectory arguments", false, err)))
		return -1;
	return 0;
}

static int trajectory_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			      char **err)
{
	static const char *const keys[] = {"calls", "order", "no_extra", "max_steps", NULL};
	struct trajectory *p = priv;
	const struct ynode *calls, *v;
	double d;
	if (!cfg || cfg->kind != YNODE_MAP) {
		*err = cfg ? ynode_error(cfg, "trajectory takes {calls, order, no_extra, max_steps}")
			   : xstrdup("trajectory takes {calls, order, no_extra, max_steps}");
		return -1;
	}
	if (grader_check_keys(cfg, "trajectory", keys, err) < 0)
		return -1;
	if ((v = ynode_get(cfg, "order"))) {
		size_t i = 0;
		if (grader_cfg_text(v, "order", err) < 0)
			return -1;
		while (i < ARRAY_SIZE(order_names) && strcmp(v->str, order_names[i]) != 0)
			i++;
		if (i == ARRAY_SIZE(order_names)) {
			*err = ynode_error(v, "bad order '%.64s' (use exact, in_order or any)", v->str);
			return -1;
		}
		p->order = (enum trajectory_order)i;
	}
	if ((v = ynode_get(cfg, "no_extra")) && grader_cfg_bool(v, "no_extra", &p->no_extra, err) < 0)
		return -1;
	if ((v = ynode_get(cfg, "max_steps"))) {
		if (ynode_number(v, &d) < 0 || d < 1 || d > STEPS_MAX || floor(d) != d) {
			*err = ynode_error(v, "max_steps must be a whole number from 1");
			return -1;
		}
		p->max_steps = (long)d;
	}
	calls = ynode_get(cfg, "calls");
	if (!calls && !p->max_steps) {
		*err = ynode_error(cfg, "trajectory needs calls: [...] or max_steps");
		return -1;
	}
	if (!calls)
		return 0;
	if (calls->kind != YNODE_SEQ) {
		*err = ynode_error(calls, "calls must be a list of expected calls such as "
				   "[{name: create_event}]");
		return -1;
	}
	p->calls = xcalloc(calls->n ? calls->n : 1, sizeof(*p->calls));
	for (size_t i = 0; i < calls->n; i++) {
		p->n = i + 1;
		if (parse_call(&p->calls[i], calls->items[i], env, err) < 0)
			return -1;
	}
	return 0;
}

/* args_fault: why tc's arguments do not satisfy ec, or NULL when they do;
 * *undecided when validation could not decide. */
static char *args_fault(const struct trajectory_call *ec, const struct tool_call *tc,
			volatile sig_atomic_t *stop, bool *undecided)
{
	struct jsonschema_error errs[ARGS_ERRS_SHOWN];
	size_t n = 0;
	char *why = NULL;
	if (!ec->args)
		return NULL;
	if (!tc->arguments)
		return xstrdup("arguments are not JSON");
	int rc = schema_cfg_validate(ec->args, tc->arguments, stop, errs, ARRAY_SIZE(errs), &n);
	if (rc == 0)
		why = schema_cfg_errors(ec->args, errs, n);
	else if (rc < 0)
		why = n ? schema_cfg_error(ec->args, &errs[n - 1]) : xstrdup("validation failed");
	*undecided = rc < 0;
	jsonschema_errors_release(errs, n);
	return why;
}

/* matches: whether call tc is ec's tool with arguments that satisfy it. */
static bool matches(const struct trajectory_call *ec, const struct tool_call *tc,
		    volatile sig_atomic_t *stop)
{
	bool undecided = false;
	if (strcmp(ec->name, tc->name) != 0)
		return false;
	char *why = args_fault(ec, tc, stop, &undecided);
	free(why);
	return !why;
}

/* differ: out for step i (from 0), where call tc (NULL: none) is not ec. */
static void differ(const struct trajectory_call *ec, const struct tool_call *tc, size_t i,
		   volatile sig_atomic_t *stop, struct grade_result *out)
{
	bool undecided = false;
	char *why = NULL;
	if (!tc)
		grade_fail(out, "step %zu: expected %s, got no call", i + 1, ec->name);
	else if (strcmp(ec->name, tc->name) != 0)
		grade_fail(out, "step %zu: expected %s, got %s", i + 1, ec->name, tc->name);
	else if ((why = args_fault(ec, tc, stop, &undecided)) && undecided)
		grade_error(out, "step %zu: %s arguments: %s", i + 1, ec->name, why);
	else
		grade_fail(out, "step %zu: %s arguments: %s", i + 1, ec->name, why ? why : "differ");
	free(why);
}

/* grade_exact: the calls are the expected ones, one for one. */
static void grade_exact(const struct trajectory *p, const struct reply *r,
			volatile sig_atomic_t *stop, struct grade_result *out)
{
	for (size_t i = 0; i < p->n || i < r->ntool_calls; i++) {
		const struct tool_call *tc = i < r->ntool_calls ? &r->tool_calls[i] : NULL;
		if (i >= p->n) {
			grade_fail(out, "step %zu: expected no more calls, got %s", i + 1, tc->name);
			return;
		}
		if (!tc || !matches(&p->calls[i], tc, stop)) {
			differ(&p->calls[i], tc, i, stop, out);
			return;
		}
	}
}

/* grade_in_order: the expected calls appear in this order, perhaps with
 * others between them; used[i] marks the calls they matched. */
static void grade_in_order(const struct trajectory *p, const struct reply *r, bool *used,
			   volatile sig_atomic_t *stop, struct grade_result *out)
{
	size_t at = 0;
	for (size_t k = 0; k < p->n; k++) {
		size_t j = at;
		while (j < r->ntool_calls && !matches(&p->calls[k], &r->tool_calls[j], stop))
			j++;
		if (j == r->ntool_calls) {
			differ(&p->calls[k], at < r->ntool_calls ? &r->tool_calls[at] : NULL, at, stop,
			       out);
			return;
		}
		used[j] = true;
		at = j + 1;
	}
}

/* grade_any: each expected call matches a call of its own, in any order. */
static void grade_any(const struct trajectory *p, const struct reply *r, bool *used,
		      volatile sig_atomic_t *stop, struct grade_result *out)
{
	for (size_t k = 0; k < p->n; k++) {
		size_t j = 0;
		while (j < r->ntool_calls && (used[j] || !matches(&p->calls[k], &r->tool_calls[j], stop)))
			j++;
		if (j == r->ntool_calls) {
			grade_fail(out, "no call to %s matches (%zu calls)", p->calls[k].name,
				   r->ntool_calls);
			return;
		}
		used[j] = true;
	}
}

static void trajectory_grade(const void *priv, const struct grade_input *in,
			     struct grade_result *out)
{
	const struct trajectory *p = priv;
	const struct reply *r = in->reply;
	volatile sig_atomic_t *stop = in->rt ? in->rt->stop : NULL;
	int steps = in->steps > 0 ? in->steps : 1;
	bool *used = xcalloc(r->ntool_calls ? r->ntool_calls : 1, sizeof(*used));
	grade_pass(out);
	if (p->max_steps && steps > p->max_steps) {
		grade_fail(out, "took %d steps, more than max_steps %ld", steps, p->max_steps);
		goto out;
	}
	if (!p->calls)
		goto out;
	if (p->order == ORDER_EXACT)
		grade_exact(p, r, stop, out);
	else if (p->order == ORDER_IN_ORDER)
		grade_in_order(p, r, used, stop, out);
	else
		grade_any(p, r, used, stop, out);
	if (out->grade != GRADE_PASS || !p->no_extra || p->order == ORDER_EXACT)
		goto out;
	for (size_t j = 0; j < r->ntool_calls; j++) {
		if (!used[j]) {
			grade_fail(out, "step %zu: unexpected call to %s", j + 1, r->tool_calls[j].name);
			break;
		}
	}
out:
	free(used);
}

static void trajectory_release(void *priv)
{
	struct trajectory *p = priv;
	for (size_t i = 0; i < p->n; i++) {
		free(p->calls[i].name);
		schema_cfg_free(p->calls[i].args);
	}
	free(p->calls);
}

const struct grader_ops grader_trajectory = {
	.name = "trajectory",
	.priv_size = sizeof(struct trajectory),
	.compile = trajectory_compile,
	.grade = trajectory_grade,
	.release = trajectory_release,
	.whole_reply = true,
};
