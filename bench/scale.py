#!/usr/bin/env python3
"""Benchmark: time and memory of `canary run` and `canary validate` at scale.

For each size N it generates a suite of N cases in 4 strata, each case with
one regex and one not_contains grader, against two `canary stub` agents
(eval and prod) whose replies are 100 B to 20 KiB (log-uniform, per case);
a --drift fraction of the cases get a prod reply that fails the regex, so
the report carries failures.  Everything is drawn from --seed.

It then measures (os.wait4 of the command, forked by a fresh interpreter):

  canary validate SUITE
  canary run SUITE --quiet --no-color --concurrency 64 --report json=REPORT

and prints wall time, CPU time (user + sys) and peak RSS of each (the median
wall and CPU, the highest RSS over --runs runs), with the YAML and JSON
report sizes.  A size the binary refuses (a suite error, exit 2) is shown
with its message, and the next size is measured.

usage: bench/scale.py [--canary build/canary] [--sizes 1000,10000,50000]
       [--runs 1] [--concurrency 64] [--seed 1] [--drift 0.01] [--keep]
"""
import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

from http_bench import start_stub

STRATA = ["prompt", "tools", "retrieval", "guardrails"]
BUCKETS = 16                 # reply sizes, log-spaced from MIN_REPLY to MAX_REPLY
MIN_REPLY, MAX_REPLY = 100, 20 << 10
ANSWER = "Refunds are accepted within 30 days."
DRIFTED = "Refunds are accepted within two weeks."
TOPICS = ["refund window for order", "cancellation fee of booking", "delivery time of parcel",
          "warranty period of item", "return address for ticket", "opening hours of store"]


def bucket_size(b):
    return round(MIN_REPLY * (MAX_REPLY / MIN_REPLY) ** (b / (BUCKETS - 1)))


def agent_script(path, drift):
    """One rule per reply size, keyed on the input's trailing [bNN] tag; with
    drift, inputs tagged [d] first get the drifted answer."""
    with open(path, "w") as f:
        f.write("rules:\n")
        if drift:
            f.write("  - match: '\\[d\\]'\n    reply: %s\n" % DRIFTED)
        for b in range(BUCKETS):
            f.write("  - match: '\\[b%02d\\]$'\n    size: %dB\n    reply: %s\n"
                    % (b, bucket_size(b), ANSWER))


def write_suite(path, n, urls, seed, drift):
    """N cases over the strata, each reply size and drift drawn from seed;
    returns the mean reply size in bytes."""
    rng = random.Random(seed)
    total = 0
    with open(path, "w") as f:
        f.write("version: 1\nname: scale-%d\ndefaults: {timeout: 60s}\ntargets:\n"
                "  eval: {url: '%s', model: m}\n  prod: {url: '%s', model: m}\nstrata:\n"
                % (n, urls[0], urls[1]))
        for k, stratum in enumerate(STRATA):
            f.write("  %s:\n    description: stratum %d of the scale bench\n    cases:\n"
                    % (stratum, k))
            for i in range(k * n // len(STRATA), (k + 1) * n // len(STRATA)):
                b = min(BUCKETS - 1, int(rng.random() * BUCKETS))
                total += bucket_size(b)
                tag = "[d]" if rng.random() < drift else ""
                f.write("      - {id: %s-%06d, input: 'What is the %s %d? %s[b%02d]', "
                        "expect: [{regex: '\\b30 days\\b'}, {not_contains: password}]}\n"
                        % (stratum, i, rng.choice(TOPICS), rng.randrange(10 ** 6), tag, b))
    return total / n if n else 0


# The child that measures: a fresh interpreter forks and execs the command
# and reports its os.wait4.  A child of this script would not do: exec keeps
# the peak RSS of the process it replaces, so every figure would be at least
# this script's own peak (which grows as it reads the reports).
MEASURE = """
import os, sys, time
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), time.monotonic() - t0,
      ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024)
"""


def measure(argv):
    """Run argv: (exit code, wall s, user+sys s, peak RSS bytes, stderr
    text)."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen([sys.executable, "-S", "-c", MEASURE] + argv,
                             stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        try:
            out = p.communicate()[0].decode()
        except BaseException:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait()
            raise
        err.seek(0)
        text = err.read().decode(errors="replace")
    if p.returncode != 0:
        sys.exit("cannot measure %s: %s" % (" ".join(argv), text[-500:]))
    rc, wall, cpu, peak = out.split()
    return int(rc), float(wall), float(cpu), int(peak), text


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" if unit == "B" else "%.1f %s") % (n, unit)
        n /= 1024


def row(cases, yaml_size, name, walls, cpus, rss, extra=""):
    print(("%7d  %9s  %-8s  %8.2f s  %8.2f s  %10s  %s" % (
        cases, human(yaml_size), name, statistics.median(walls), statistics.median(cpus),
        human(max(rss)), extra)).rstrip(), flush=True)


def bench_size(a, n, urls, tmp):
    """Measure validate, then run, on a suite of n cases (neither when the
    binary refuses the suite)."""
    suite = os.path.join(tmp, "suite-%d.yaml" % n)
    report = os.path.join(tmp, "report-%d.json" % n)
    write_suite(suite, n, urls, a.seed, a.drift)
    yaml_size = os.path.getsize(suite)
    commands = [("validate", [a.canary, "validate", suite], (0,)),
                ("run", [a.canary, "run", suite, "--quiet", "--no-color", "--concurrency",
                         str(a.concurrency), "--report", "json=" + report], (0, 1))]
    for name, argv, ok in commands:
        walls, cpus, rss = [], [], []
        for _ in range(a.runs):
            rc, wall, cpu, peak, err = measure(argv)
            if rc == 2:
                print("%7d  %9s  %-8s  refused (exit 2): %s" % (
                    n, human(yaml_size), name, err.strip().rsplit("\n", 1)[-1]), flush=True)
                return
            if rc not in ok:
                sys.exit("%s exited %d: %s" % (" ".join(argv), rc, err[-500:]))
            walls.append(wall)
            cpus.append(cpu)
            rss.append(peak)
        extra = ""
        if name == "run":
            with open(report) as f:
                counts = {}
                for c in json.load(f)["cases"]:
                    counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
            extra = "report %s (%s)" % (human(os.path.getsize(report)), ", ".join(
                "%d %s" % (v, k) for k, v in sorted(counts.items())))
        row(n, yaml_size, name, walls, cpus, rss, extra)


def main():
    ap = argparse.ArgumentParser(description="time and peak RSS of canary at scale")
    ap.add_argument("--canary", default="build/canary")
    ap.add_argument("--sizes", default="1000,10000,50000",
                    help="comma-separated case counts")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--drift", type=float, default=0.01,
                    help="fraction of cases whose prod reply fails")
    ap.add_argument("--keep", action="store_true", help="keep the suites and reports")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",") if s]
    if a.runs < 1 or not sizes or min(sizes) < len(STRATA):
        sys.exit("--runs must be at least 1 and every size at least %d" % len(STRATA))
    if not os.access(a.canary, os.X_OK):
        sys.exit("cannot run '%s': build canary first or give --canary" % a.canary)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix="canary-scale-")
    stubs = []
    try:
        for side, drift in (("eval", False), ("prod", True)):
            script = os.path.join(tmp, side + ".yaml")
            agent_script(script, drift and a.drift > 0)
            stubs.append(start_stub(a.canary, script))
        urls = [u + "/v1/chat/completions" for _, u in stubs]
        mean = sum(bucket_size(b) for b in range(BUCKETS)) / BUCKETS
        print("%s, concurrency %d, seed %d, drift %g, %d run(s); replies %s to %s "
              "(mean %s); wall and cpu: median, peak RSS: highest"
              % (a.canary, a.concurrency, a.seed, a.drift, a.runs, human(MIN_REPLY),
                 human(MAX_REPLY), human(mean)))
        print("%7s  %9s  %-8s  %10s  %10s  %10s" % ("cases", "yaml", "command", "wall",
                                                    "cpu", "peak RSS"), flush=True)
        for n in sizes:
            bench_size(a, n, urls, tmp)
    finally:
        for p, _ in stubs:
            p.send_signal(signal.SIGTERM)
        for p, _ in stubs:
            p.wait()
        if a.keep:
            print("kept in %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
