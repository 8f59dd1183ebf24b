#!/usr/bin/env python3
# An exec grader over tool calls: every create_event names its attendees.
import json
import sys

sample = json.load(sys.stdin)
calls = [c for c in sample["tool_calls"] if c["name"] == "create_event"]
bad = [c for c in calls if not (c["arguments"] or {}).get("attendee_emails")]
reason = "case %s: create_event without attendee_emails (arguments: %s)" % (
    sample["case"], ", ".join(sorted((bad[0]["arguments"] or {}).keys()))) if bad else ""
print(json.dumps({"pass": bool(calls) and not bad, "reason": reason}))
