#!/usr/bin/env python3
# An exec grader: the refund window must be 30 days.  Reads the sample on
# stdin, answers {"pass", "score", "reason"} on stdout.
import json
import re
import sys

sample = json.load(sys.stdin)
m = re.search(r"\b(\d+) days\b", sample["content"])
days = int(m.group(1)) if m else None
json.dump({"pass": days == 30, "score": 1.0 if days == 30 else 0.0,
           "reason": "%s target says %s days, policy is 30" % (sample["target"], days)},
          sys.stdout)
