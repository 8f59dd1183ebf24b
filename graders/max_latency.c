/* max_latency.c: pass when the reply arrived within a duration.
 *     - max_latency: 2s
 */
#include "common.h"

#include "provider.h"

static int max_latency_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			       char **err)
{
	return grader_cfg_duration(cfg, "max_latency", priv, err);
}

static void max_latency_grade(const void *priv, const struct grade_input *in,
			      struct grade_result *out)
{
	grade_within(out, "latency", in->reply->latency_ms, *(const long *)priv);
}

const struct grader_ops grader_max_latency = {
	.name = "max_latency",
	.priv_size = sizeof(long),
	.compile = max_latency_compile,
	.grade = max_latency_grade,
	.whole_reply = true,
};
