#!/bin/sh
# Never answers within its timeout.
sleep 30
