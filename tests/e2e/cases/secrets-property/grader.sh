#!/bin/sh
# An exec grader that repeats the sample on stderr and its content in its
# reason, as a careless grader would.
sample=$(cat)
printf '%s\n' "$sample" >&2
content=$(printf '%s' "$sample" | sed -E 's/.*"content":("([^"\\]|\\.)*").*/\1/')
printf '{"pass": false, "reason": %s}\n' "$content"
