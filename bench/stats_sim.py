#!/usr/bin/env python3
"""Simulation: do canary's statistics hold on a stochastic agent?

Runs the real binary against `canary stub` agents whose rules answer
correctly with a set probability (the stub's `probability:`), over many
runs of a 4-stratum suite (5 cases each) with repeat 10.

- false alarms: both sides pass every case with p = 0.9; count the runs
  whose report has any drift, eval-regression or regression.
- power: prod drops one stratum's cases (tools) to p = 0.5; count how often
  that stratum is flagged (drift), and how often any other one is.

usage: bench/stats_sim.py [--canary build/canary] [--runs 200] [--repeat 10]
       [--threshold 0.7] [--alpha 0.05]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile

STRATA = ["prompt", "tools", "retrieval", "guardrails"]
CASES = 5


def agent_script(path, p_for):
    """A stub whose case-specific rule answers 'correct' with p_for(stratum)."""
    with open(path, "w") as f:
        f.write("rules:\n")
        for s in STRATA:
            f.write("  - match: '^%s-'\n    probability: %s\n    reply: correct answer\n"
                    "    otherwise: {reply: wrong answer}\n" % (s, p_for(s)))


def start_stub(canary, script, seed):
    p = subprocess.Popen([canary, "stub", script, "--port", "0", "--seed", str(seed)],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith("listening on "):
        sys.exit("stub did not start: %r" % line)
    return p, line.split()[-1]


def simulate(canary, tmp, name, prod_p, runs, repeat, threshold, alpha):
    eval_script = os.path.join(tmp, name + "-eval.yaml")
    prod_script = os.path.join(tmp, name + "-prod.yaml")
    agent_script(eval_script, lambda s: 0.9)
    agent_script(prod_script, prod_p)
    stubs = [start_stub(canary, eval_script, 11), start_stub(canary, prod_script, 23)]
    suite = os.path.join(tmp, name + ".yaml")
    with open(suite, "w") as f:
        f.write("version: 1\nname: sim\ndefaults: {repeat: %d, threshold: %s}\ntargets:\n"
                "  eval: {url: '%s/v1/chat/completions'}\n"
                "  prod: {url: '%s/v1/chat/completions'}\nstrata:\n"
                % (repeat, threshold, stubs[0][1], stubs[1][1]))
        for s in STRATA:
            f.write("  %s:\n    cases:\n" % s)
            for i in range(CASES):
                f.write("      - {id: %s-%d, input: '%s-%d', expect: [{contains: correct}]}\n"
                        % (s, i, s, i))
    flagged = {s: 0 for s in STRATA}
    failing_runs = flaky_runs = 0
    try:
        for _ in range(runs):
            r = subprocess.run([canary, "run", suite, "--quiet", "--no-color",
                                "--alpha", str(alpha), "--report", "json=-"],
                               capture_output=True, text=True)
            if r.returncode not in (0, 1):
                sys.exit("canary exited %d: %s" % (r.returncode, r.stderr))
            report = json.loads(r.stdout)
            if r.returncode == 1:
                failing_runs += 1
            if any(s["verdict"] == "flaky" for s in report["strata"]):
                flaky_runs += 1
            for s in report["strata"]:
                if s["verdict"] in ("drift", "eval-regression", "regression"):
                    flagged[s["name"]] += 1
    finally:
        for p, _ in stubs:
            p.send_signal(signal.SIGTERM)
            p.wait()
    return failing_runs, flaky_runs, flagged


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--canary", default="build/canary")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--threshold", default="0.7")
    ap.add_argument("--alpha", type=float, default=0.05)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="canary-sim-")
    print("%d runs of %d strata x %d cases, repeat %d, threshold %s, alpha %s"
          % (a.runs, len(STRATA), CASES, a.repeat, a.threshold, a.alpha))
    fail, flaky, flagged = simulate(a.canary, tmp, "null", lambda s: 0.9, a.runs, a.repeat,
                                    a.threshold, a.alpha)
    print("false alarms (eval = prod, p = 0.9): %d of %d runs failed (%.1f%%); "
          "%d runs showed a flaky stratum" % (fail, a.runs, 100.0 * fail / a.runs, flaky))
    fail, flaky, flagged = simulate(a.canary, tmp, "drop",
                                    lambda s: 0.5 if s == "tools" else 0.9, a.runs, a.repeat,
                                    a.threshold, a.alpha)
    others = sum(v for k, v in flagged.items() if k != "tools")
    print("power (prod tools p = 0.5): tools flagged in %d of %d runs (%.1f%%); "
          "other strata flagged %d times in %d stratum-runs (%.1f%%)"
          % (flagged["tools"], a.runs, 100.0 * flagged["tools"] / a.runs, others,
             3 * a.runs, 100.0 * others / (3 * a.runs)))


if __name__ == "__main__":
    main()
