#!/usr/bin/env python3
"""Fail when an #include crosses an edge docs/architecture.md forbids.

usage: check_includes.py SOURCE_ROOT

Every "quoted" include of cmd/, lib/, graders/ and providers/ is resolved to
a project file; its folder ("room") must be one the including room may
depend on.  Prints TAP, one test point per room.
"""
import os
import re
import sys

# The rooms, and what each may include besides itself.  "core" is lib/'s
# top level: utilities every room shares, and the grader and provider
# interfaces.
ALLOWED = {
    "core": set(),
    "lib/schema": {"core"},
    "lib/transport": {"core"},
    "lib/fingerprint": {"core"},
    "lib/stub": {"core"},
    "lib/suite": {"core", "lib/schema"},
    "lib/evidence": {"core"},
    "lib/replay": {"core", "lib/suite", "lib/evidence", "lib/run", "lib/report"},
    "lib/judge": {"core", "lib/suite"},
    "lib/report": {"core", "lib/fingerprint"},
    "lib/history": {"core", "lib/report", "lib/fingerprint"},
    "lib/notify": {"core", "lib/report", "lib/history", "lib/transport"},
    "lib/otlp": {"core", "lib/report", "lib/transport"},
    "lib/run": {"core", "lib/suite", "lib/transport", "lib/report", "lib/judge",
                "lib/fingerprint", "lib/schema", "lib/evidence"},
    "graders": {"core", "lib/schema", "lib/judge", "lib/suite", "lib/transport"},
    "providers": {"core", "lib/suite", "lib/judge"},
    "cmd": {"core", "lib/schema", "lib/transport", "lib/fingerprint", "lib/stub",
            "lib/suite", "lib/judge", "lib/report", "lib/history", "lib/notify", "lib/otlp",
            "lib/run", "lib/evidence", "lib/replay"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room(path):
    parts = path.split("/")
    if parts[0] == "lib":
        return "core" if len(parts) == 2 else "lib/" + parts[1]
    return parts[0] if parts[0] in ALLOWED else None


def resolve(root, including, name):
    for base in (os.path.dirname(including), "", "lib"):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(root, cand)):
            return cand
    return None  # generated (version.h) or a system header in quotes


def main():
    root = sys.argv[1]
    bad = {r: [] for r in ALLOWED}
    for top in ("cmd", "lib", "graders", "providers"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), root)
                src = room(rel)
                if src is None:
                    bad.setdefault(rel, []).append("%s is in no known room" % rel)
                    continue
                with open(os.path.join(root, rel), encoding="utf-8") as fh:
                    text = fh.read()
                for name in INCLUDE.findall(text):
                    target = resolve(root, rel, name)
                    if target is None:
                        continue
                    dst = room(target)
                    if dst != src and dst not in ALLOWED[src]:
                        bad[src].append("%s includes %s (%s may not depend on %s)"
                                        % (rel, target, src, dst))
    print("TAP version 13")
    print("1..%d" % len(bad))
    failed = 0
    for i, (r, problems) in enumerate(sorted(bad.items()), 1):
        if problems:
            failed += 1
            print("not ok %d - %s" % (i, r))
            for p in problems:
                print("# " + p)
        else:
            print("ok %d - %s" % (i, r))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
