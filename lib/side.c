/* side.c: the names of the sides. */
#include "side.h"

static const char *const side_names[SIDE__COUNT] = {
	[SIDE_EVAL] = "eval",
	[SIDE_PROD] = "prod",
};

const char *side_name(enum side s)
{
	return (unsigned)s < SIDE__COUNT ? side_names[s] : "?";
}
