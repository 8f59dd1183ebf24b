#!/usr/bin/env python3
"""A local OTLP/HTTP JSON receiver that checks what canary exports.

usage: otlp_receiver.py [--log FILE]

It prints "listening on http://127.0.0.1:PORT" once it accepts connections,
like `canary stub`, and serves POST /v1/traces and /v1/logs until SIGTERM.
Each request is checked against the OTLP JSON mapping (hex ids of the right
length, int64 and nanosecond timestamps as decimal strings, typed attribute
values, enum numbers in range) and against what came before (every log
record names a span of the same trace that was exported, every client span's
parent is the run span), and logged as one line:

  PATH ok|INVALID: why[; why...] auth=yes|no BODY

where BODY is the request as compact JSON.  auth says whether the request
carried the header "x-canary-test: s3cr=t" (what OTEL_EXPORTER_OTLP_HEADERS
"x-canary-test=s3cr%3Dt" decodes to); the value itself is never logged.
"""
import json
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
DIGITS = re.compile(r"^(0|[1-9][0-9]*)$")
LOCK = threading.Lock()
SPANS = {}       # (traceId, spanId) -> span
RUN_SPANS = set()


def check_value(v, where, problems):
    kinds = [k for k in ("stringValue", "intValue", "doubleValue", "boolValue",
                         "arrayValue", "kvlistValue", "bytesValue") if k in v]
    if len(kinds) != 1:
        problems.append("%s: value has %d kinds" % (where, len(kinds)))
        return
    k = kinds[0]
    if k == "stringValue" and not isinstance(v[k], str):
        problems.append("%s: stringValue not a string" % where)
    if k == "intValue" and not (isinstance(v[k], str) and DIGITS.match(v[k].lstrip("-"))):
        problems.append("%s: intValue %r not an int64 string" % (where, v[k]))
    if k == "doubleValue" and not isinstance(v[k], (int, float)):
        problems.append("%s: doubleValue not a number" % where)
    if k == "boolValue" and not isinstance(v[k], bool):
        problems.append("%s: boolValue not a bool" % where)


def check_attrs(attrs, where, problems):
    if not isinstance(attrs, list):
        problems.append("%s: attributes not a list" % where)
        return {}
    out = {}
    for a in attrs:
        if not isinstance(a, dict) or not isinstance(a.get("key"), str) or \
                not isinstance(a.get("value"), dict):
            problems.append("%s: bad attribute %r" % (where, a))
            continue
        if a["key"] in out:
            problems.append("%s: attribute %s twice" % (where, a["key"]))
        check_value(a["value"], where + "." + a["key"], problems)
        out[a["key"]] = a["value"]
    return out


def check_nanos(o, key, where, problems):
    v = o.get(key)
    if not (isinstance(v, str) and DIGITS.match(v)):
        problems.append("%s.%s: %r is not nanoseconds as a decimal string" % (where, key, v))
        return 0
    return int(v)


def check_resource(rs, where, problems, items_key, scoped_key):
    attrs = check_attrs(rs.get("resource", {}).get("attributes"), where + ".resource", problems)
    if attrs.get("service.name") != {"stringValue": "canary"}:
        problems.append("%s: service.name is not canary" % where)
    if "canary.suite" not in attrs:
        problems.append("%s: no canary.suite" % where)
    scoped = rs.get(scoped_key)
    if not isinstance(scoped, list) or not scoped:
        problems.append("%s: no %s" % (where, scoped_key))
        return []
    items = []
    for s in scoped:
        if not isinstance(s.get("scope", {}).get("name"), str):
            problems.append("%s: scope without a name" % where)
        items += s.get(items_key, [])
    return items


def check_span(span, problems):
    where = "span %s" % span.get("name")
    if not HEX32.match(str(span.get("traceId"))) or set(span.get("traceId", "")) == {"0"}:
        problems.append("%s: traceId %r" % (where, span.get("traceId")))
    if not HEX16.match(str(span.get("spanId"))):
        problems.append("%s: spanId %r" % (where, span.get("spanId")))
    if "parentSpanId" in span and not HEX16.match(str(span["parentSpanId"])):
        problems.append("%s: parentSpanId %r" % (where, span["parentSpanId"]))
    if not isinstance(span.get("name"), str) or not span["name"]:
        problems.append("%s: no name" % where)
    if span.get("kind") not in (0, 1, 2, 3, 4, 5):
        problems.append("%s: kind %r" % (where, span.get("kind")))
    start = check_nanos(span, "startTimeUnixNano", where, problems)
    end = check_nanos(span, "endTimeUnixNano", where, problems)
    if end < start:
        problems.append("%s: ends before it starts" % where)
    attrs = check_attrs(span.get("attributes", []), where, problems)
    if "status" in span and span["status"].get("code") not in (0, 1, 2):
        problems.append("%s: status code %r" % (where, span["status"].get("code")))
    if span.get("kind") == 3:
        for key in ("gen_ai.operation.name", "canary.case.id", "canary.target"):
            if key not in attrs:
                problems.append("%s: no %s" % (where, key))
    return attrs


def check_traces(body, problems):
    rss = body.get("resourceSpans")
    if not isinstance(rss, list) or not rss:
        problems.append("no resourceSpans")
        return
    for i, rs in enumerate(rss):
        for span in check_resource(rs, "resourceSpans[%d]" % i, problems, "spans", "scopeSpans"):
            check_span(span, problems)
            with LOCK:
                SPANS[(span.get("traceId"), span.get("spanId"))] = span
                if span.get("kind") == 1:
                    RUN_SPANS.add((span.get("traceId"), span.get("spanId")))
    with LOCK:
        for span in [s for s in SPANS.values() if s.get("kind") == 3]:
            if (span.get("traceId"), span.get("parentSpanId")) not in RUN_SPANS:
                problems.append("span %s: parent is not the run span" % span.get("name"))


def check_logs(body, problems):
    rls = body.get("resourceLogs")
    if not isinstance(rls, list) or not rls:
        problems.append("no resourceLogs")
        return
    for i, rl in enumerate(rls):
        for rec in check_resource(rl, "resourceLogs[%d]" % i, problems, "logRecords",
                                  "scopeLogs"):
            where = "log record"
            check_nanos(rec, "timeUnixNano", where, problems)
            check_nanos(rec, "observedTimeUnixNano", where, problems)
            if not (isinstance(rec.get("severityNumber"), int) and
                    1 <= rec["severityNumber"] <= 24):
                problems.append("%s: severityNumber %r" % (where, rec.get("severityNumber")))
            if rec.get("eventName") != "gen_ai.evaluation.result":
                problems.append("%s: eventName %r" % (where, rec.get("eventName")))
            attrs = check_attrs(rec.get("attributes", []), where, problems)
            for key in ("gen_ai.evaluation.name", "gen_ai.evaluation.score.value"):
                if key not in attrs:
                    problems.append("%s: no %s" % (where, key))
            label = attrs.get("gen_ai.evaluation.score.label", {}).get("stringValue")
            if label not in (None, "pass", "fail"):
                problems.append("%s: score.label %r" % (where, label))
            with LOCK:
                if (rec.get("traceId"), rec.get("spanId")) not in SPANS:
                    problems.append("%s: its span was not exported" % where)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        problems = []
        if self.headers.get("Content-Type") != "application/json":
            problems.append("Content-Type %r" % self.headers.get("Content-Type"))
        try:
            body = json.loads(raw)
        except ValueError as e:
            body = None
            problems.append("not JSON: %s" % e)
        if isinstance(body, dict):
            if self.path.endswith("/v1/traces"):
                check_traces(body, problems)
            elif self.path.endswith("/v1/logs"):
                check_logs(body, problems)
            else:
                problems.append("path %s" % self.path)
        auth = "yes" if self.headers.get("x-canary-test") == "s3cr=t" else "no"
        line = "%s %s auth=%s %s\n" % (
            self.path, "INVALID: " + "; ".join(problems) if problems else "ok", auth,
            json.dumps(body, separators=(",", ":"), ensure_ascii=False))
        with LOCK:
            LOG.write(line)
            LOG.flush()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def main():
    global LOG
    path = sys.argv[sys.argv.index("--log") + 1] if "--log" in sys.argv else "/dev/null"
    LOG = open(path, "a", encoding="utf-8")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
    print("listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
