#!/bin/sh
# An exec grader that cannot work: its verdict must be an error, never a
# pass or a fail.
cat >/dev/null
echo "broken.sh: model file missing" >&2
exit 2
