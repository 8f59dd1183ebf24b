#!/usr/bin/env python3
# An exec grader run by `canary grade` too: at most three slots offered.
import json
import sys

sample = json.load(sys.stdin)
slots = json.loads(sample["content"]).get("slots", [])
print(json.dumps({"pass": len(slots) <= 3, "reason": "%d slots offered" % len(slots)}))
