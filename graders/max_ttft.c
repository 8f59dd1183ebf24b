/* max_ttft.c: pass when a streamed reply's first token came within a
 * duration; a reply that was not streamed has no first token to time.
 *     - max_ttft: 500ms
 */
#include "common.h"

#include "provider.h"

static int max_ttft_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			    char **err)
{
	return grader_cfg_duration(cfg, "max_ttft", priv, err);
}

static void max_ttft_grade(const void *priv, const struct grade_input *in,
			   struct grade_result *out)
{
	if (in->reply->ttft_ms < 0)
		grade_error(out, "no time to first token: the reply was not streamed or had no "
			    "token (set stream: true)");
	else
		grade_within(out, "time to first token", in->reply->ttft_ms, *(const long *)priv);
}

const struct grader_ops grader_max_ttft = {
	.name = "max_ttft",
	.priv_size = sizeof(long),
	.compile = max_ttft_compile,
	.grade = max_ttft_grade,
	.whole_reply = true,
};
