/* graders.c: the grader table lib looks graders up in. */
#include "common.h"

#include <stddef.h>

const struct grader_ops *const grader_table[] = {
	&grader_regex,
	&grader_not_regex,
	&grader_contains,
	&grader_not_contains,
	&grader_equals,
	&grader_max_latency,
	&grader_max_ttft,
	&grader_judge,
	&grader_json_schema,
	&grader_tool_call,
	&grader_no_tool_call,
	&grader_trajectory,
	&grader_exec,
	NULL,
};
