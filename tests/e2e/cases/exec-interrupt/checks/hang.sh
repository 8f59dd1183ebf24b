#!/bin/sh
# An exec grader that never answers: it says that it started, then waits an
# hour (its timeout in the suite), unless canary ends it.
touch "$E2E_OUT/started"
exec sleep 3600
