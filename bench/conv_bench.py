#!/usr/bin/env python3
"""Benchmark: conversations against their latency ideal.

--cases conversations of --turns user turns each (the first turn with a
tool step: the agent calls a tool, canary answers it with a scripted result
and the agent replies) x 2 targets, against two `canary stub` agents that
answer every request after --latency, canary at --concurrency.  The ideal
is the longer of the longest chain of sequential requests (one
conversation: turns + 1 tool step) and the queueing of all requests
(ceil(requests / concurrency) rounds), each taking the latency.  Prints the
median wall time of `canary run` over --runs runs (and of the run itself,
the report's duration_ms) and their ratio to the ideal, and to the same
number of single requests (cases x turns one-request cases: what the
requests cost on this machine without conversations).  Conversations go
first in the queue once started, so with more conversations than
--concurrency they run in lanes: ceil(conversations / concurrency) x chain
rounds is what that schedule allows (printed as the lane bound).

usage: bench/conv_bench.py [--canary build/canary] [--cases 50] [--turns 3]
       [--latency 50ms] [--concurrency 32] [--runs 5] [--tool-step 0|1]
"""
import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def start_stub(canary, script):
    p = subprocess.Popen([canary, "stub", script, "--port", "0"], stdout=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        p.kill()
        sys.exit("stub did not start: %r" % line)
    return p, line.split()[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--canary", default="build/canary")
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--turns", type=int, default=3)
    ap.add_argument("--latency", default="50ms")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tool-step", type=int, default=0, choices=(0, 1))
    a = ap.parse_args()
    latency = float(a.latency.rstrip("ms")) / 1000
    tmp = tempfile.mkdtemp(prefix="canary-bench-")
    script = os.path.join(tmp, "agent.yaml")
    with open(script, "w") as f:
        f.write("rules:\n"
                "  - latency: %s\n    tool_result: lookup\n    reply: Found it.\n"
                "  - latency: %s\n    match: '^look'\n    step: 1\n"
                "    tool_call: {name: lookup, arguments: {q: x}}\n"
                "  - latency: %s\n    reply: Noted.\n" % (a.latency, a.latency, a.latency))
    stubs = [start_stub(a.canary, script) for _ in range(2)]
    eval_url, prod_url = (u + "/v1/chat/completions" for _, u in stubs)
    suite = os.path.join(tmp, "suite.yaml")
    first = "look it up" if a.tool_step else "hello"
    with open(suite, "w") as f:
        f.write("version: 1\nname: conv-bench\ntargets:\n"
                "  eval: {url: '%s', model: m}\n  prod: {url: '%s', model: m}\n"
                "tools: [{name: lookup}]\ntool_results: {lookup: found}\n"
                "strata:\n  s:\n    cases:\n" % (eval_url, prod_url))
        for i in range(a.cases):
            turns = [first + " %d" % i] + ["turn %d of %d" % (t, i) for t in range(2, a.turns + 1)]
            f.write("      - {id: c%d, turns: %s, expect: [{regex: '.'}]}\n"
                    % (i, json.dumps(turns)))
    flat = os.path.join(tmp, "flat.yaml")
    with open(flat, "w") as f:
        f.write("version: 1\nname: flat-bench\ntargets:\n"
                "  eval: {url: '%s', model: m}\n  prod: {url: '%s', model: m}\n"
                "strata:\n  s:\n    cases:\n" % (eval_url, prod_url))
        for i in range(a.cases * (a.turns + a.tool_step)):
            f.write("      - {id: c%d, input: 'turn %d', expect: [{regex: '.'}]}\n" % (i, i))
    report = os.path.join(tmp, "report.json")
    requests = 2 * a.cases * (a.turns + a.tool_step)

    def one(path):
        t0 = time.monotonic()
        r = subprocess.run([a.canary, "run", path, "--quiet", "--no-color",
                            "--concurrency", str(a.concurrency), "--report",
                            "json=" + report], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        dt = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit("canary exited %d: %s" % (r.returncode, r.stderr.decode()[-500:]))
        with open(report) as rf:
            rep = json.load(rf)
        if rep["requests"] != requests:
            sys.exit("expected %d requests, the report says %d" % (requests, rep["requests"]))
        return dt, rep["duration_ms"] / 1000

    wall, run, flat_run = [], [], []
    try:
        for _ in range(a.runs):
            w, d = one(suite)
            wall.append(w)
            run.append(d)
            flat_run.append(one(flat)[1])
    finally:
        for p, _ in stubs:
            p.send_signal(signal.SIGTERM)
            p.wait()
    chain = a.turns + a.tool_step
    ideal = max(chain, math.ceil(requests / a.concurrency)) * latency
    lanes = math.ceil(2 * a.cases / a.concurrency) * chain * latency
    w, d = statistics.median(wall), statistics.median(run)
    print("conversations: %d cases x 2 targets, %d turns%s, %d requests, stub latency %s, "
          "concurrency %d, %d runs" % (a.cases, a.turns, " + 1 tool step" if a.tool_step else "",
                                       requests, a.latency, a.concurrency, a.runs))
    print("ideal: max(chain %d, ceil(%d / %d) rounds) x %s = %.3f s"
          % (chain, requests, a.concurrency, a.latency, ideal))
    print("canary run wall  median %.3f s  (min %.3f, max %.3f)  ratio %.3f"
          % (w, min(wall), max(wall), w / ideal))
    print("run duration_ms  median %.3f s  (min %.3f, max %.3f)  ratio %.3f"
          % (d, min(run), max(run), d / ideal))
    fl = statistics.median(flat_run)
    print("lane bound: ceil(%d conversations / %d) x %d x %s = %.3f s; duration / lane bound "
          "%.3f" % (2 * a.cases, a.concurrency, chain, a.latency, lanes, d / lanes))
    print("the same %d requests as single requests: duration median %.3f s; conversations / "
          "single %.3f" % (requests, fl, d / fl))


if __name__ == "__main__":
    main()
