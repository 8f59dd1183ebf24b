#!/usr/bin/env python3
"""End-to-end runner: the real canary binary against `canary stub` agents.

usage: run.py CANARY CASES_DIR [NAME...]

Each folder of CASES_DIR is one golden case holding a test.json and the files
it names (suites, agent scripts).  test.json keys (all optional but args):
  agents        {"eval": "agent.yaml", "judge": "judge.yaml", ...}: each is
                started as `canary stub FILE --port 0 --log LOG`, or as
                `python3 FILE --log LOG` for a .py file (relative to the
                case folder) that prints "listening on URL" likewise;
                "refused" instead of a file gives a loopback port that
                refuses.
  env           {"NAME": "value"}; "{eval}" in a value becomes the agent's
                base URL (http://127.0.0.1:PORT), "{eval_host}" its
                127.0.0.1:PORT, "{dir}" the case folder, "{out}" a scratch
                folder.
  args          the canary arguments, with the same expansions.
  exit          the expected exit code.
  stdout_contains / stdout_not_contains / stderr_contains /
  stderr_not_contains: lists of strings.
  stdout_equals the exact stdout, or a file name prefixed with "@".
  report        {"file": "{out}/report.json", "expect": {...}}: a subset match
                of the JSON report; "cases" may be {"id": "verdict"}.
  requests      {"eval": N}: how many requests the agent received.
  secrets_absent: strings that may appear in no output, report or log.
  output_agents agents that receive canary's own output (a --notify hook):
                their logs count as output for secrets_absent.
  logs_contain  {"agent": ["string", ...]}: an agent's request log (the
                bodies it received) must contain each string.
  logs_not_contain  likewise, must contain none of them.
  steps         a list of extra argument lists run, in order, before args
                (e.g. shard runs before a merge); their exit codes are not
                checked.
  copy          files and folders of the case copied into the scratch
                folder before the steps, for commands that write next to
                the suite (canary promote).
  json_equal    {"a": PATH, "b": PATH, "ignore": [keys]}: two JSON files equal
                but for the ignored keys (at any depth).
  runs          run the command this many times (default 1); expectations
                apply to the last run, request counts to all of them.
  files_contain {"path": ["string", ...]}: files (with the expansions) that
                must exist and contain each string.
  absent_files  paths (with the expansions) that must not exist afterwards.
  hold_lock     a path (with the expansions) the runner holds an flock on
                while canary runs, as an overlapping run would.
  close_stdout  canary's stdout is a pipe whose reader has already left.
  fifos         paths (with the expansions) made FIFOs, with no writer,
                before canary runs.
  interrupt     {"agent": "prod", "after_requests": N, "signal": "SIGINT"}:
                once the agent has logged N requests, signal canary; or
                {"after_file": PATH, ...}: once PATH (with the expansions)
                exists, e.g. made by an exec grader as it starts.  With
                "again": true the signal is sent again, every 0.1 s, until
                canary exits (a second signal must end the grace).
  secret_env    {"seed": N, "rounds": R, "random": [NAME, ...],
                 "percent_encoded": [NAME, ...]}: the case runs R times, each
                time with every NAME set to a new random secret of 8 to 64
                bytes (tab, quotes, backslash, '%', '+', '/', non-ASCII...)
                drawn from a PRNG seeded with N and the round, percent-encoded
                for the names listed so (a URL's userinfo); no output may
                hold any secret in any form (see secret_forms()).
Prints TAP; exits non-zero when any case fails.
"""
import base64
import fcntl
import html
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

TIMEOUT = 120

SECRET_PIECES = ["a", "b", "Z", "k", "q", "0", "7", "-", "_", ".", "\t", '"', "'", "\\",
                 "%", "+", "/", " ", "&", "<", "=", ":", "\u00e9", "\u65e5", "\U0001f600"]


def random_secret(rng):
    """8 to 64 bytes of UTF-8, with every byte some encoding changes."""
    want, s = rng.randint(8, 64), ""
    while len(s.encode()) < want:
        piece = rng.choice(SECRET_PIECES)
        if len((s + piece).encode()) > 64:
            break
        s += piece
    return s


def secret_forms(s):
    """Every form of s that may not show in an output: raw, JSON-escaped,
    percent- and form-encoded, XML-escaped, markdown-escaped, base64 and
    base64url (of s, "Bearer s" and a Basic credential, without the digits
    that also hold bits of what is around s), white space folded; and the
    same of its first two thirds, as an excerpt cut off shows it.  Forms
    shorter than 8 bytes could occur by chance and are left out."""
    out = set()
    for t in (s, s[:max(len(s) * 2 // 3, 8)]):
        j = json.dumps(t)[1:-1]
        pct = urllib.parse.quote(t, safe="")
        out |= {t, j, json.dumps(t, ensure_ascii=False)[1:-1], j.replace("/", "\\/"),
                pct, re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), pct),
                urllib.parse.quote_plus(t), html.escape(t),
                html.escape(t, quote=False), "".join("&#%d;" % ord(c) for c in t),
                re.sub(r"([|\\`*_\[\]~$#<>&])", r"\\\1", t),
                re.sub(r"[\x00-\x20\x7f]+", " ", t).strip()}
        for wrap, skip in (("%s", 0), ("Bearer %s", 12), ("canary:%s", 12)):
            raw = (wrap % t).encode()
            for enc in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
                out.add(enc.rstrip("=")[skip:-4])
    return {f for f in out if len(f.encode()) >= 8}


def expand(value, urls, case_dir, out_dir):
    if isinstance(value, str):
        for name, url in urls.items():
            value = value.replace("{" + name + "}", url)
            value = value.replace("{" + name + "_host}", url.split("//", 1)[1])
        return value.replace("{dir}", case_dir).replace("{out}", out_dir)
    if isinstance(value, list):
        return [expand(v, urls, case_dir, out_dir) for v in value]
    if isinstance(value, dict):
        return {k: expand(v, urls, case_dir, out_dir) for k, v in value.items()}
    return value


def refused_port():
    """A loopback port nothing listens on: bound, then closed."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_agent(canary, script, log):
    argv = [canary, "stub", script, "--port", "0", "--log", log]
    if script.endswith(".py"):
        argv = [sys.executable, script, "--log", log]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # blocks until the stub listens
    prefix = "listening on "
    if not line.startswith(prefix):
        proc.kill()
        err = proc.stderr.read()
        raise RuntimeError("stub %s did not start: %r %s" % (script, line, err))
    return proc, line[len(prefix):].strip()


def subset(expected, actual, path="$"):
    """Problems where actual does not contain expected."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return ["%s: expected an object, got %r" % (path, actual)]
        out = []
        for k, v in expected.items():
            if k not in actual:
                out.append("%s.%s: missing" % (path, k))
            else:
                out += subset(v, actual[k], path + "." + k)
        return out
    if expected != actual:
        return ["%s: expected %r, got %r" % (path, expected, actual)]
    return []


def strip_keys(value, ignore):
    if isinstance(value, dict):
        return {k: strip_keys(v, ignore) for k, v in value.items() if k not in ignore}
    if isinstance(value, list):
        return [strip_keys(v, ignore) for v in value]
    return value


def json_equal(spec):
    try:
        docs = []
        for key in ("a", "b"):
            with open(spec[key]) as f:
                docs.append(strip_keys(json.load(f), set(spec.get("ignore", []))))
    except (OSError, ValueError) as e:
        return ["json_equal: %s" % e]
    if docs[0] != docs[1]:
        return ["json_equal: %s and %s differ: %s" % (
            spec["a"], spec["b"], "; ".join(subset(docs[1], docs[0])[:5]) or "extra keys")]
    return []


def check_report(spec, urls, case_dir, out_dir):
    path = expand(spec["file"], urls, case_dir, out_dir)
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        return ["report %s: %s" % (path, e)], ""
    expect = dict(spec.get("expect", {}))
    problems = []
    cases = expect.pop("cases", None)
    if isinstance(cases, dict):
        got = {c["id"]: c["verdict"] for c in report.get("cases", [])}
        for cid, verdict in cases.items():
            if got.get(cid) != verdict:
                problems.append("case %s: expected %s, got %s" % (cid, verdict, got.get(cid)))
    elif cases is not None:
        expect["cases"] = cases
    strata = expect.pop("strata", None)
    if isinstance(strata, dict):
        got = {s["name"]: s["verdict"] for s in report.get("strata", [])}
        for name, verdict in strata.items():
            if got.get(name) != verdict:
                problems.append("stratum %s: expected %s, got %s" % (name, verdict, got.get(name)))
    problems += subset(expect, report)
    for check in spec.get("reasons", []):
        # {"case": id, "side": "prod", "contains": "..."}
        case = next((c for c in report.get("cases", []) if c["id"] == check["case"]), None)
        text = json.dumps(case[check["side"]]) if case else ""
        if check["contains"] not in text:
            problems.append("case %s %s: no reason containing %r in %s"
                            % (check["case"], check["side"], check["contains"], text[:400]))
    with open(path) as f:
        return problems, f.read()


def log_lines(path):
    try:
        with open(path) as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


def interrupt_ready(intr, logs):
    if "after_file" in intr:
        return os.path.exists(intr["after_file"])
    return log_lines(logs[intr["agent"]]) >= intr["after_requests"]


def run_canary(args, case_dir, env, spec, logs, intr):
    """Run canary; with an interrupt spec, signal it once an agent has seen
    enough requests (polling the agent's log, which it flushes per request)
    or a file exists.  A canary that outlives TIMEOUT is killed."""
    if spec.get("close_stdout"):
        r, w = os.pipe()
        os.close(r)
        proc = subprocess.run(args, cwd=case_dir, env=env, stdout=w, stderr=subprocess.PIPE,
                              text=True, timeout=spec.get("timeout", TIMEOUT))
        os.close(w)
        return subprocess.CompletedProcess(args, proc.returncode, "", proc.stderr)
    if not intr:
        return subprocess.run(args, cwd=case_dir, env=env, capture_output=True, text=True,
                              timeout=spec.get("timeout", TIMEOUT))
    proc = subprocess.Popen(args, cwd=case_dir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + TIMEOUT
    while not interrupt_ready(intr, logs):
        if proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    sig = getattr(signal, intr.get("signal", "SIGINT"))
    if proc.poll() is None:
        proc.send_signal(sig)
    while intr.get("again") and proc.poll() is None and time.monotonic() < deadline:
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += "\n(runner: canary still ran %d s after the signal: killed)" % TIMEOUT
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def run_case(canary, case_dir):
    with open(os.path.join(case_dir, "test.json")) as f:
        spec = json.load(f)
    secret_env = spec.get("secret_env")
    if not secret_env:
        return run_once(canary, case_dir, spec, {})
    problems = []
    for n in range(secret_env.get("rounds", 1)):
        rng = random.Random("%s/%d" % (secret_env["seed"], n))
        secrets = {name: random_secret(rng) for name in secret_env["random"]}
        for name in secret_env.get("percent_encoded", []):
            secrets[name + "\0"] = secrets[name]
            secrets[name] = urllib.parse.quote(secrets[name], safe="")
        problems += ["round %d: %s" % (n, p) for p in run_once(canary, case_dir, spec, secrets)]
        if problems:
            break
    return problems


def run_once(canary, case_dir, spec, secrets):
    """Run a case once, with secrets (NAME: value) in the environment
    (names with a NUL are only checked for, not set)."""
    out_dir = tempfile.mkdtemp(prefix="canary-e2e-")
    agents, urls, logs, problems = {}, {}, {}, []
    try:
        for name, script in spec.get("agents", {}).items():
            if script == "refused":
                urls[name] = "http://127.0.0.1:%d" % refused_port()
                continue
            logs[name] = os.path.join(out_dir, name + ".log")
            agents[name], urls[name] = start_agent(
                canary, os.path.join(case_dir, script), logs[name])
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        env.pop("GITHUB_STEP_SUMMARY", None)
        # Each case has a judge cache of its own, so that no run of the
        # suite (or of the user) answers another's judge calls.
        env["XDG_CACHE_HOME"] = os.path.join(out_dir, "cache")
        env.update(expand(spec.get("env", {}), urls, case_dir, out_dir))
        env.update({k: v for k, v in secrets.items() if "\0" not in k})
        args = [canary] + expand(spec["args"], urls, case_dir, out_dir)
        for path in expand(spec.get("fifos", []), urls, case_dir, out_dir):
            os.mkfifo(path)
        lock = None
        if "hold_lock" in spec:
            lock = open(expand(spec["hold_lock"], urls, case_dir, out_dir), "w")
            fcntl.flock(lock, fcntl.LOCK_EX)
        for name in spec.get("copy", []):
            src = os.path.join(case_dir, name)
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(out_dir, name))
            else:
                shutil.copy(src, os.path.join(out_dir, name))
        for step in spec.get("steps", []):
            subprocess.run([canary] + expand(step, urls, case_dir, out_dir), cwd=case_dir,
                           env=env, capture_output=True, text=True, timeout=TIMEOUT)
        intr = expand(spec.get("interrupt"), urls, case_dir, out_dir)
        for _ in range(spec.get("runs", 1)):
            proc = run_canary(args, case_dir, env, spec, logs, intr)
        if lock:
            lock.close()
        outputs = {"stdout": proc.stdout, "stderr": proc.stderr}
        if "exit" in spec and proc.returncode != spec["exit"]:
            problems.append("exit %d, expected %d" % (proc.returncode, spec["exit"]))
        for stream in ("stdout", "stderr"):
            for s in spec.get(stream + "_contains", []):
                if expand(s, urls, case_dir, out_dir) not in outputs[stream]:
                    problems.append("%s lacks %r" % (stream, s))
            for s in spec.get(stream + "_not_contains", []):
                if expand(s, urls, case_dir, out_dir) in outputs[stream]:
                    problems.append("%s has %r" % (stream, s))
        if "stdout_equals" in spec:
            want = spec["stdout_equals"]
            if want.startswith("@"):
                with open(os.path.join(case_dir, want[1:])) as f:
                    want = f.read()
            if proc.stdout != want:
                problems.append("stdout differs:\n" + proc.stdout)
        texts = {"stdout": proc.stdout, "stderr": proc.stderr}
        for spec_report in ([spec["report"]] if "report" in spec else []):
            p, text = check_report(spec_report, urls, case_dir, out_dir)
            problems += p
            texts[spec_report["file"]] = text
        for path, wants in expand(spec.get("files_contain", {}), urls, case_dir,
                                  out_dir).items():
            try:
                with open(expand(path, urls, case_dir, out_dir), errors="replace") as f:
                    text = f.read()
            except OSError as e:
                problems.append("%s: %s" % (path, e))
                continue
            for want in wants:
                if want not in text:
                    problems.append("%s lacks %r" % (path, want))
        if "json_equal" in spec:
            problems += json_equal(expand(spec["json_equal"], urls, case_dir, out_dir))
        for path in expand(spec.get("absent_files", []), urls, case_dir, out_dir):
            if os.path.exists(path):
                problems.append("%s exists" % path)
        for name, want in spec.get("requests", {}).items():
            got = log_lines(logs[name]) if name in logs else 0
            if got != want:
                problems.append("agent %s received %d requests, expected %d" % (name, got, want))
        for key, present in (("logs_contain", True), ("logs_not_contain", False)):
            for name, wants in spec.get(key, {}).items():
                try:
                    with open(logs[name]) as f:
                        text = f.read()
                except (KeyError, OSError) as e:
                    problems.append("log of %s: %r" % (name, e))
                    continue
                for want in wants:
                    if (want in text) != present:
                        problems.append("log of %s %s %r"
                                        % (name, "lacks" if present else "holds", want))
        for root, _, files in os.walk(out_dir):
            for fn in files:
                # An agent's log holds what it was sent, which may carry the
                # secrets the suite sends on purpose; only receivers of
                # canary's own output (a --notify hook) are checked.
                if fn.endswith(".log") and fn[:-4] not in spec.get("output_agents", []):
                    continue
                if not os.path.isfile(os.path.join(root, fn)):
                    continue  # a FIFO of "fifos" would block
                with open(os.path.join(root, fn), errors="replace") as f:
                    texts[os.path.join(root, fn)] = f.read()
        for secret in spec.get("secrets_absent", []):
            leak = next((name for name, text in texts.items() if secret in text), None)
            if leak is not None:
                problems.append("secret %r leaked into %s" % (secret, leak))
        for secret in secrets.values():
            for form in sorted(secret_forms(secret)):
                leak = next((name for name, t in texts.items() if form in t), None)
                if leak is not None:
                    at = texts[leak].index(form)
                    problems.append("secret %r leaked into %s as %r: ...%r..." % (
                        secret, leak, form, texts[leak][max(at - 60, 0):at + len(form) + 20]))
        if problems:
            problems.append("stdout:\n" + proc.stdout + "\nstderr:\n" + proc.stderr)
    except Exception as e:  # a broken case must fail, never pass
        problems.append("runner error: %r" % e)
    finally:
        for proc in agents.values():
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                problems.append("a stub did not stop on SIGTERM")
        # A passing case leaves nothing behind; a failing one keeps its
        # scratch folder (reports, agent logs) for a look.
        if problems:
            problems.append("scratch kept in " + out_dir)
        else:
            shutil.rmtree(out_dir, ignore_errors=True)
    return problems


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    canary, cases_dir = os.path.abspath(sys.argv[1]), sys.argv[2]
    names = sys.argv[3:] or sorted(d for d in os.listdir(cases_dir)
                                   if os.path.isfile(os.path.join(cases_dir, d, "test.json")))
    print("TAP version 13")
    print("1..%d" % len(names))
    failed = 0
    for i, name in enumerate(names, 1):
        problems = run_case(canary, os.path.abspath(os.path.join(cases_dir, name)))
        print("%s %d - %s" % ("not ok" if problems else "ok", i, name))
        for p in problems:
            for line in p.splitlines():
                print("# " + line)
        sys.stdout.flush()
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
