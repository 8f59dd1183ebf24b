#!/usr/bin/env python3
"""Simulation: do canary's verdicts hold on stochastic agents?

Runs the real binary against two `canary stub` agents whose rules answer
correctly with a set probability per case (the stub's `probability:`,
seeded), many runs per design, and prints each figure with its 95% Wilson
interval, as docs/statistics.md quotes them:

- null designs (the same agent on both sides): the share of runs that
  exit 1 (drift, eval-regression or regression); issue 11 asks for at most
  5% in each;
- power designs (prod broke somewhere): the share of runs in which the
  broken stratum (or case) gets a failing verdict;
- the cost of --confirm: requests sent over those of a plain run.

tests/unit/test_verdict.c runs the same designs in-process, on simulated
counts, in well under a second.

usage: bench/stats_sim.py [--canary build/canary] [--runs 300] [--alpha 0.05]
       [--design SUBSTRING ...]
"""
import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time


def wilson(k, n, z=1.96):
    """The 95% Wilson score interval of k successes out of n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z / d * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (0.0 if k == 0 else max(0.0, c - h)), (1.0 if k == n else min(1.0, c + h))


def same(rate):
    return lambda side, s, c: rate


def mixed(side, s, c):
    return [0.99, 0.9, 0.6, 0.3, 0.99][c % 5]


def stratum_drop(side, s, c):
    return 0.5 if side == "prod" and s == 1 else 0.9


def case_break(side, s, c):
    return 0.0 if side == "prod" and s == 1 and c == 2 else 0.9


def complete_break(side, s, c):
    if s == 7:
        return 0.0 if side == "prod" else 1.0
    return 0.95


# name, strata, cases, repeat, threshold, confirm, rate, target (stratum, case
# or None), kind
DESIGNS = [
    ("4x5 repeat 10, threshold 0.7, p 0.9", 4, 5, 10, 0.7, 0, same(0.9), None, "null"),
    ("20x1 repeat 5, threshold 0.8, p 0.95", 20, 1, 5, 0.8, 0, same(0.95), None, "null"),
    ("4x5 repeat 10, rates 0.99/0.9/0.6/0.3, threshold 0.2", 4, 5, 10, 0.2, 0, mixed, None,
     "null"),
    ("4x5 repeat 10, p = threshold = 0.7", 4, 5, 10, 0.7, 0, same(0.7), None, "null"),
    ("4x5 repeat 1 --confirm 9, threshold 0.7, p 0.9", 4, 5, 1, 0.7, 9, same(0.9), None,
     "null"),
    ("4x5 repeat 1 --confirm 9, deterministic agent", 4, 5, 1, 0.7, 9, same(1.0), None,
     "null"),
    ("20x1 repeat 5, one case 5/5 -> 0/5", 20, 1, 5, 0.8, 0, complete_break, (7, 0), "power"),
    ("4x5 repeat 10, a stratum 0.9 -> 0.5", 4, 5, 10, 0.7, 0, stratum_drop, (1, None), "power"),
    ("4x5 repeat 10, one case of five 0.9 -> 0", 4, 5, 10, 0.7, 0, case_break, (1, 2), "power"),
    ("4x5 repeat 1 --confirm 9, a stratum 0.9 -> 0.5", 4, 5, 1, 0.7, 9, stratum_drop, (1, None),
     "power"),
]


def agent_script(path, side, strata, cases, rate):
    """A stub whose rule for each case answers 'correct' with its rate."""
    with open(path, "w") as f:
        f.write("rules:\n")
        for s in range(strata):
            for c in range(cases):
                p = rate(side, s, c)
                f.write("  - match: '^s%d-c%d$'\n" % (s, c))
                if p >= 1.0:
                    f.write("    reply: correct answer\n")
                elif p <= 0.0:
                    f.write("    reply: wrong answer\n")
                else:
                    f.write("    probability: %r\n    reply: correct answer\n"
                            "    otherwise: {reply: wrong answer}\n" % p)


def start_stub(canary, script, seed):
    p = subprocess.Popen([canary, "stub", script, "--port", "0", "--seed", str(seed)],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        sys.exit("stub did not start: %r" % line)
    return p, line.split()[-1]


def simulate(canary, tmp, index, design, runs, alpha):
    name, strata, cases, repeat, threshold, confirm, rate, target, kind = design
    stubs = []
    for k, side in enumerate(("eval", "prod")):
        script = os.path.join(tmp, "d%d-%s.yaml" % (index, side))
        agent_script(script, side, strata, cases, rate)
        stubs.append(start_stub(canary, script, 1000 * index + 11 + 12 * k))
    suite = os.path.join(tmp, "d%d.yaml" % index)
    with open(suite, "w") as f:
        f.write("version: 1\nname: sim\ndefaults: {repeat: %d, threshold: %r, confirm: %d}\n"
                "targets:\n  eval: {url: '%s/v1/chat/completions'}\n"
                "  prod: {url: '%s/v1/chat/completions'}\nstrata:\n"
                % (repeat, threshold, confirm, stubs[0][1], stubs[1][1]))
        for s in range(strata):
            f.write("  s%d:\n    cases:\n" % s)
            for c in range(cases):
                f.write("      - {id: s%d-c%d, input: 's%d-c%d', expect: [{contains: correct}]}\n"
                        % (s, c, s, c))
    failed = flagged = samples = 0
    try:
        for _ in range(runs):
            r = subprocess.run([canary, "run", suite, "--quiet", "--no-color", "--no-judge-cache",
                                "--alpha", str(alpha), "--report", "json=-"],
                               capture_output=True, text=True)
            if r.returncode not in (0, 1):
                sys.exit("canary exited %d: %s" % (r.returncode, r.stderr))
            report = json.loads(r.stdout)
            failed += r.returncode == 1
            samples += report["samples"]
            if target:
                s, c = target
                if c is None:
                    verdict = next(x["verdict"] for x in report["strata"]
                                   if x["name"] == "s%d" % s)
                else:
                    verdict = next(x["verdict"] for x in report["cases"]
                                   if x["id"] == "s%d-c%d" % (s, c))
                flagged += verdict in ("drift", "eval-regression", "regression")
    finally:
        for p, _ in stubs:
            p.send_signal(signal.SIGTERM)
            p.wait()
    cost = samples / runs / (2.0 * repeat * strata * cases)
    return failed, flagged, cost


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--canary", default="build/canary")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--design", action="append", default=[],
                    help="run only designs whose name contains this (repeatable)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="canary-sim-")
    print("%d runs per design, alpha %s, %s" % (a.runs, a.alpha,
                                                 time.strftime("%Y-%m-%d", time.gmtime())))
    print("| design | measure | result | 95% Wilson interval | requests per plain run |")
    print("|---|---|---|---|---|")
    for i, d in enumerate(DESIGNS):
        if a.design and not any(s in d[0] for s in a.design):
            continue
        started = time.time()
        failed, flagged, cost = simulate(a.canary, tmp, i, d, a.runs, a.alpha)
        k, what = (failed, "runs exiting 1") if d[8] == "null" else (flagged, "flagged")
        lo, hi = wilson(k, a.runs)
        print("| %s | %s | %d/%d = %.1f%% | [%.1f%%, %.1f%%] | %.2fx |"
              % (d[0], what, k, a.runs, 100.0 * k / a.runs, 100 * lo, 100 * hi, cost))
        sys.stdout.flush()
        print("  (%.0f s)" % (time.time() - started), file=sys.stderr)


if __name__ == "__main__":
    main()
