/* not_contains.c: pass when the subject contains none of the given strings.
 *     - not_contains: [as an AI, I cannot]
 * The config is contains's: a string, a list, or {value, ignore_case}.
 */
#include "common.h"

struct not_contains {
	struct contains_cfg cfg;
};

static int not_contains_compile(void *priv, const struct ynode *cfg,
				const struct grader_env *env, char **err)
{
	struct not_contains *p = priv;
	return contains_cfg_compile(&p->cfg, cfg, "not_contains", err);
}

static void not_contains_grade(const void *priv, const struct grade_input *in,
			       struct grade_result *out)
{
	const struct not_contains *p = priv;
	contains_cfg_grade(&p->cfg, in, false, out);
}

static void not_contains_release(void *priv)
{
	struct not_contains *p = priv;
	contains_cfg_release(&p->cfg);
}

const struct grader_ops grader_not_contains = {
	.name = "not_contains",
	.priv_size = sizeof(struct not_contains),
	.compile = not_contains_compile,
	.grade = not_contains_grade,
	.release = not_contains_release,
};
