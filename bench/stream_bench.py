#!/usr/bin/env python3
"""Benchmark: canary's streamed runs against curl --parallel on the same streams.

200 cases x 2 targets (stream: true) against two `canary stub` agents whose
openai-chat event streams start after 50 ms and come in 20 writes (one
event each: the role, 16 words, the finish, the usage, [DONE]) 5 ms apart;
canary at --concurrency 32, timed against `curl --parallel --parallel-max
32` fetching the same 400 streams (one curl for all 400, so both reuse
connections).  Prints the median wall time of each over --runs runs and the
ratio canary/curl.

usage: bench/stream_bench.py [--canary build/canary] [--cases 200]
       [--latency 50ms] [--delay 5ms] [--concurrency 32] [--runs 5]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

# 16 words: with the role, finish and usage chunks and [DONE], 20 events.
REPLY = ("Refunds are accepted within 30 days of purchase with the receipt "
         "and the original packaging, always.")


def start_stub(canary, script):
    p = subprocess.Popen([canary, "stub", script, "--port", "0"], stdout=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        p.kill()
        sys.exit("stub did not start: %r" % line)
    return p, line.split()[-1]


def timed(argv, ok=(0,)):
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    if r.returncode not in ok:
        sys.exit("%s exited %d: %s" % (argv[0], r.returncode, r.stderr.decode()[-500:]))
    return dt


def count_events(url):
    """The events of one stream (data: lines), fetched once with curl."""
    body = json.dumps({"model": "m", "stream": True,
                       "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": "probe"}]})
    out = subprocess.run(["curl", "--silent", "--fail", "-H", "Content-Type: application/json",
                          "--data", body, url], stdout=subprocess.PIPE, check=True).stdout
    return sum(1 for line in out.decode().splitlines() if line.startswith("data:"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--canary", default="build/canary")
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--latency", default="50ms")
    ap.add_argument("--delay", default="5ms")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="canary-bench-")
    script = os.path.join(tmp, "agent.yaml")
    with open(script, "w") as f:
        f.write("rules:\n  - latency: %s\n    reply: %s\n    stream: {delay: %s}\n"
                % (a.latency, REPLY, a.delay))
    stubs = [start_stub(a.canary, script) for _ in range(2)]
    eval_url, prod_url = (u + "/v1/chat/completions" for _, u in stubs)
    suite = os.path.join(tmp, "suite.yaml")
    with open(suite, "w") as f:
        f.write("version: 1\nname: bench\ntargets:\n"
                "  eval: {url: '%s', model: m, stream: true}\n"
                "  prod: {url: '%s', model: m, stream: true}\n"
                "strata:\n  s:\n    cases:\n" % (eval_url, prod_url))
        for i in range(a.cases):
            f.write("      - {id: c%d, input: 'What is your refund window? %d', "
                    "expect: [{regex: '30 days'}]}\n" % (i, i))
    config = os.path.join(tmp, "curl.cfg")
    with open(config, "w") as f:
        entries = []
        for i in range(a.cases):
            for url in (eval_url, prod_url):
                body = json.dumps({"model": "m", "messages": [
                    {"role": "user", "content": "What is your refund window? %d" % i}],
                    "stream": True, "stream_options": {"include_usage": True}})
                entries.append('url = "%s"\nheader = "Content-Type: application/json"\n'
                               'data = %s\noutput = "/dev/null"\nfail\n'
                               % (url, json.dumps(body)))
        # `next` separates transfers, so each has its own body.
        f.write("next\n".join(entries))
    canary_t, curl_t = [], []
    try:
        events = count_events(eval_url)
        for _ in range(a.runs):
            canary_t.append(timed([a.canary, "run", suite, "--quiet", "--no-color",
                                   "--concurrency", str(a.concurrency)]))
            curl_t.append(timed(["curl", "--silent", "--fail", "--parallel", "--parallel-max",
                                 str(a.concurrency), "-K", config]))
    finally:
        for p, _ in stubs:
            p.send_signal(signal.SIGTERM)
            p.wait()
    c, k = statistics.median(canary_t), statistics.median(curl_t)
    print("streams: %d (%d cases x 2 targets), %d events each, first after %s, then every "
          "%s; concurrency %d, %d runs"
          % (2 * a.cases, a.cases, events, a.latency, a.delay, a.concurrency, a.runs))
    print("canary run  median %.3f s  (min %.3f, max %.3f)" % (c, min(canary_t), max(canary_t)))
    print("curl        median %.3f s  (min %.3f, max %.3f)" % (k, min(curl_t), max(curl_t)))
    print("ratio canary/curl: %.3f" % (c / k))


if __name__ == "__main__":
    main()
