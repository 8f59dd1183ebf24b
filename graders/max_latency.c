/* max_latency.c: pass when the reply arrived within a duration.
 *     - max_latency: 2s
 */
#include "common.h"

#include <math.h>

#include "provider.h"

struct max_latency {
	long ms;
};

static int max_latency_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			       char **err)
{
	struct max_latency *p = priv;
	if (grader_cfg_text(cfg, "max_latency", err) < 0)
		return -1;
	if (util_parse_duration(cfg->str, &p->ms) < 0) {
		*err = ynode_error(cfg, "bad duration '%s' for max_latency (use e.g. 250ms, 2s or 1m)",
				   cfg->str);
		return -1;
	}
	if (p->ms <= 0) {
		*err = ynode_error(cfg, "max_latency must be more than 0");
		return -1;
	}
	return 0;
}

static void max_latency_grade(const void *priv, const struct grade_input *in,
			      struct grade_result *out)
{
	const struct max_latency *p = priv;
	double ms = in->reply->latency_ms;
	if (ms <= (double)p->ms) {
		grade_pass(out);
		return;
	}
	/* One decimal when rounding would print the limit itself. */
	if (round(ms) <= (double)p->ms)
		grade_fail(out, "latency %.1f ms > %ld ms", ms, p->ms);
	else
		grade_fail(out, "latency %.0f ms > %ld ms", ms, p->ms);
}

const struct grader_ops grader_max_latency = {
	.name = "max_latency",
	.priv_size = sizeof(struct max_latency),
	.compile = max_latency_compile,
	.grade = max_latency_grade,
	.whole_reply = true,
};
