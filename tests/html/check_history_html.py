#!/usr/bin/env python3
"""Render `canary history --format html` in headless Chromium and check it.

usage: check_history_html.py CANARY [HISTORY.sqlite] [--keep DIR]

The page of the seeded history (tests/fixtures/history/seeded.sqlite, "now"
2026-03-10T12:00:00Z) is rendered by Debian's chromium with the network
off.  From the DOM Chromium built, every chart point (data-suite,
data-stratum, data-target, data-run, data-passed, data-failed, data-rate)
must equal what the history holds, computed here straight from SQLite;
every fingerprint mark must match the fingerprints table; the runs table
must list the latest runs; and the hostile names of the seeded suite must
not have become elements (no script, img or on* attribute).  The screenshot
must be a real, non-blank PNG.  With --keep DIR the page and the
screenshot are left in DIR to look at.

Exits 0 when every check passes, 1 when one fails, 77 (skip) when chromium
is not installed.
"""
import html.parser
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zlib

NOW = "2026-03-10T12:00:00Z"
NOW_MS = 1773144000000
WINDOW_MS = 7 * 24 * 3600 * 1000
RUNS_SHOWN = 20
TIMEOUT = 180


def chromium():
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_args(binary, profile):
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions",
            "--user-data-dir=" + profile, "--hide-scrollbars", "--window-size=1280,2400"]


class Dom(html.parser.HTMLParser):
    """The elements the checks need, with the suite section around them."""

    def __init__(self):
        super().__init__()
        self.suite = None
        self.points = []      # attrs of every chart circle
        self.marks = []       # attrs of every fingerprint mark
        self.charts = []      # (suite, stratum) of every pass-rate chart
        self.timelines = []   # (suite, target)
        self.run_rows = {}    # suite -> [run ids] of the runs table
        self.table = None
        self.bad = []         # elements or attributes that must not exist

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in a:
            if name.startswith("on"):
                self.bad.append("%s with attribute %s" % (tag, name))
            if name in ("src", "href") and a[name] and "://" in a[name]:
                self.bad.append("%s loads %s" % (tag, a[name]))
        if tag in ("script", "img", "iframe", "object", "embed", "link"):
            self.bad.append("element <%s>" % tag)
        cls = (a.get("class") or "").split()
        if tag == "section" and "suite" in cls:
            self.suite = a.get("data-suite")
            self.run_rows[self.suite] = []
        elif tag == "svg" and "chart" in cls:
            self.charts.append((a.get("data-suite"), a.get("data-stratum")))
        elif tag == "svg" and "fp-timeline" in cls:
            self.timelines.append((self.suite, a.get("data-target")))
        elif tag == "circle" and "pt" in cls:
            self.points.append(a)
        elif tag == "rect" and "fp-mark" in cls:
            a["suite"] = self.suite
            self.marks.append(a)
        elif tag == "table":
            self.table = cls[0] if cls else None
        elif tag == "tr" and self.table == "runs" and "data-run" in a:
            self.run_rows[self.suite].append(int(a["data-run"]))

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None


def expected(db_path):
    """The history's own numbers, straight from SQLite."""
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    since = NOW_MS - WINDOW_MS
    points = {}
    for suite, stratum, side, run, passed, failed in db.execute(
            "SELECT r.suite, st.stratum, s.side, r.id, sum(s.grade = 'pass'), "
            "sum(s.grade = 'fail') FROM runs r JOIN strata st ON st.run_id = r.id "
            "JOIN samples s ON s.run_id = r.id AND s.stratum = st.stratum "
            "WHERE r.started_at BETWEEN ? AND ? GROUP BY 1, 2, 3, 4", (since, NOW_MS)):
        if passed + failed > 0:
            points[(suite, stratum, side, run)] = (passed, failed)
    marks = {}
    for suite, side, run, value, count in db.execute(
            "SELECT r.suite, f.side, r.id, f.value, f.count FROM fingerprints f "
            "JOIN runs r ON r.id = f.run_id WHERE r.started_at BETWEEN ? AND ?",
            (since, NOW_MS)):
        marks[(suite, side, run, value)] = count
    strata = set(db.execute(
        "SELECT DISTINCT r.suite, st.stratum FROM runs r JOIN strata st ON st.run_id = r.id "
        "WHERE r.started_at BETWEEN ? AND ?", (since, NOW_MS)))
    runs = {}
    for suite, run in db.execute(
            "SELECT suite, id FROM runs WHERE started_at BETWEEN ? AND ? "
            "ORDER BY started_at DESC, id DESC", (since, NOW_MS)):
        runs.setdefault(suite, [])
        if len(runs[suite]) < RUNS_SHOWN:
            runs[suite].append(run)
    db.close()
    return points, marks, strata, runs


def png_problems(path):
    """Problems with the screenshot: missing, not a PNG, tiny or blank."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return ["no screenshot: %s" % e]
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return ["the screenshot is not a PNG"]
    width, height = struct.unpack(">II", data[16:24])
    if width < 800 or height < 600:
        return ["the screenshot is %dx%d" % (width, height)]
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    # A blank page is one colour: its filtered rows hold a handful of values.
    if len(set(raw)) < 64:
        return ["the screenshot looks blank (%d distinct bytes)" % len(set(raw))]
    return []


def main():
    args = sys.argv[1:]
    keep = None
    if "--keep" in args:
        i = args.index("--keep")
        keep = args[i + 1]
        del args[i:i + 2]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    canary = os.path.abspath(args[0])
    here = os.path.dirname(os.path.abspath(__file__))
    db = os.path.abspath(args[1] if len(args) > 1
                         else os.path.join(here, "..", "fixtures", "history", "seeded.sqlite"))
    browser = chromium()
    if not browser:
        print("SKIP: chromium is not installed")
        return 77

    work = tempfile.mkdtemp(prefix="canary-html-")
    out = keep or work
    os.makedirs(out, exist_ok=True)
    page = os.path.join(out, "history.html")
    shot = os.path.join(out, "history.png")
    problems = []
    try:
        run = subprocess.run([canary, "history", db, "--now", NOW, "--format", "html",
                              "--output", page], capture_output=True, text=True,
                             timeout=TIMEOUT)
        if run.returncode != 0:
            print("not ok - canary history exited %d: %s" % (run.returncode, run.stderr))
            return 1
        profile = os.path.join(work, "profile")
        dom = subprocess.run(chromium_args(browser, profile) + ["--dump-dom", "file://" + page],
                             capture_output=True, text=True, timeout=TIMEOUT)
        if dom.returncode != 0 or "<svg" not in dom.stdout:
            print("not ok - chromium --dump-dom failed (%d): %s"
                  % (dom.returncode, dom.stderr[-2000:]))
            return 1
        subprocess.run(chromium_args(browser, profile) + ["--screenshot=" + shot,
                                                          "file://" + page],
                       capture_output=True, text=True, timeout=TIMEOUT)

        parsed = Dom()
        parsed.feed(dom.stdout)
        points, marks, strata, runs = expected(db)
        checks = []

        got = {}
        for p in parsed.points:
            key = (p["data-suite"], p["data-stratum"], p["data-target"], int(p["data-run"]))
            passed, failed = int(p["data-passed"]), int(p["data-failed"])
            if abs(float(p["data-rate"]) - passed / (passed + failed)) > 0.00005:
                problems.append("point %r: rate %s is not %d/%d"
                                % (key, p["data-rate"], passed, passed + failed))
            if key in got:
                problems.append("point %r twice" % (key,))
            got[key] = (passed, failed)
        checks.append(("chart points equal the history's samples (%d)" % len(points),
                       got == points, sorted(set(got.items()) ^ set(points.items()))[:10]))

        got_marks = {(m["suite"], m["data-target"], int(m["data-run"]), m["data-fingerprint"]):
                     int(m["data-count"]) for m in parsed.marks}
        checks.append(("fingerprint marks equal the fingerprints table (%d)" % len(marks),
                       got_marks == marks,
                       sorted(set(got_marks.items()) ^ set(marks.items()))[:10]))

        checks.append(("one pass-rate chart per stratum (%d)" % len(strata),
                       sorted(parsed.charts) == sorted(strata), parsed.charts))
        suites = sorted(runs)
        checks.append(("a fingerprint timeline per target and suite",
                       sorted(parsed.timelines) == sorted((s, t) for s in suites
                                                          for t in ("eval", "prod")),
                       parsed.timelines))
        checks.append(("the runs tables list the latest runs, newest first",
                       parsed.run_rows == runs, parsed.run_rows))
        checks.append(("hostile names stayed text", not parsed.bad, parsed.bad))
        checks.append(("the hostile suite is shown as text",
                       'billing <script>alert("suite")</script> & co' in parsed.run_rows,
                       list(parsed.run_rows)))
        shot_problems = png_problems(shot)
        checks.append(("the screenshot is a real picture", not shot_problems, shot_problems))

        checks.append(("every point's rate is its passed / valid", not problems, problems))
        passed = failed = 0
        for name, ok, detail in checks:
            print("%s - %s" % ("ok" if ok else "not ok", name))
            if ok:
                passed += 1
            else:
                failed += 1
                print("# %r" % (detail,))
        print("%d passed, %d failed" % (passed, failed))
        if keep:
            print("# page and screenshot in %s" % keep)
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
