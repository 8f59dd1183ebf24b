#!/bin/sh
# Like hang.sh, but deaf to SIGTERM (sleep inherits the ignored signal):
# only SIGKILL ends it.
trap '' TERM
touch "$E2E_OUT/started"
exec sleep 3600
