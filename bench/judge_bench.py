#!/usr/bin/env python3
"""Benchmark: judged cases, targets and judge on one multi loop.

100 cases x 2 targets against two `canary stub` agents that answer after
50 ms, every reply judged by a third stub that answers after 200 ms, at
`--concurrency 32 --judge-concurrency 16 --no-judge-cache` (every reply is
judged).  Prints the median wall time over --runs runs next to the ideal
that the latencies and limits allow:

  targets alone  ceil(2 x cases / concurrency) x target latency
  judge alone    ceil(2 x cases / judge concurrency) x judge latency
  ideal          first reply + judge alone (judging starts as soon as the
                 first reply arrives and the judge pool is the bottleneck)
  phased         targets alone + judge alone: what a run that waited for
                 every reply before judging would take

usage: bench/judge_bench.py [--canary build/canary] [--cases 100]
       [--latency 50ms] [--judge-latency 200ms] [--concurrency 32]
       [--judge-concurrency 16] [--runs 5]
"""
import argparse
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


def ms(text):
    """'50ms' or '2s' in seconds."""
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    if text.endswith("s"):
        return float(text[:-1])
    return float(text)


def timed(argv, env=None, ok=(0,)):
    t0 = time.monotonic()
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    if r.returncode not in ok:
        sys.exit("%s exited %d: %s%s" % (argv[0], r.returncode, r.stdout.decode()[-500:],
                                          r.stderr.decode()[-500:]))
    return dt


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--canary", default="build/canary")
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--latency", default="50ms")
    ap.add_argument("--judge-latency", default="200ms")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--judge-concurrency", type=int, default=16)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="canary-judge-bench-")
    agent = os.path.join(tmp, "agent.yaml")
    write(agent, "rules:\n  - latency: %s\n    reply: Refunds are accepted within 30 days.\n"
          % a.latency)
    judge = os.path.join(tmp, "judge.yaml")
    write(judge, "rules:\n  - latency: %s\n    reply: '{\"pass\": true, \"score\": 1, "
          "\"reason\": \"states 30 days\"}'\n" % a.judge_latency)
    stubs = [start_stub(a.canary, agent), start_stub(a.canary, agent),
             start_stub(a.canary, judge)]
    eval_url, prod_url, judge_url = (u + "/v1/chat/completions" for _, u in stubs)
    suite = os.path.join(tmp, "suite.yaml")
    lines = ["version: 1", "name: judge-bench", "targets:",
             "  eval: {url: '%s', model: m}" % eval_url,
             "  prod: {url: '%s', model: m}" % prod_url,
             "judge: {url: '%s', model: judge, timeout: 30s}" % judge_url,
             "strata:", "  s:", "    cases:"]
    for i in range(a.cases):
        lines.append("      - {id: c%d, input: 'What is your refund window? %d', "
                     "expect: [{judge: States that refunds are accepted within 30 days.}]}"
                     % (i, i))
    write(suite, "\n".join(lines) + "\n")
    argv = [a.canary, "run", suite, "--quiet", "--no-color", "--no-judge-cache",
            "--concurrency", str(a.concurrency),
            "--judge-concurrency", str(a.judge_concurrency)]
    times = []
    try:
        for _ in range(a.runs):
            times.append(timed(argv))
    finally:
        for p, _ in stubs:
            p.send_signal(signal.SIGTERM)
            p.wait()
    requests = 2 * a.cases
    lat, jlat = ms(a.latency), ms(a.judge_latency)
    targets = math.ceil(requests / a.concurrency) * lat
    judging = math.ceil(requests / a.judge_concurrency) * jlat
    ideal = max(targets, lat + judging)
    phased = targets + judging
    med = statistics.median(times)
    print("%d cases x 2 targets: %d target requests (%s) at --concurrency %d, "
          "%d judge requests (%s) at --judge-concurrency %d, %d runs"
          % (a.cases, requests, a.latency, a.concurrency, requests, a.judge_latency,
             a.judge_concurrency, a.runs))
    print("canary run     median %.3f s  (min %.3f, max %.3f)" % (med, min(times), max(times)))
    print("targets alone  %.3f s" % targets)
    print("judge alone    %.3f s" % judging)
    print("ideal          %.3f s  (first reply + judge alone)" % ideal)
    print("phased         %.3f s  (every reply first, then the judge)" % phased)
    print("median / ideal: %.3f   overhead %.0f ms" % (med / ideal, (med - ideal) * 1000))


if __name__ == "__main__":
    main()
