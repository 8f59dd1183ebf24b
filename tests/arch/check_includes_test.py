#!/usr/bin/env python3
"""check_includes.py on small trees made here: allowed edges pass, each
kind of forbidden edge fails and is named.

usage: check_includes_test.py CHECK_INCLUDES_PY

Prints TAP version 13.
"""
import os
import subprocess
import sys
import tempfile


def check(script, files):
    """Run the checker on a tree of {path: text}; (exit code, stdout)."""
    with tempfile.TemporaryDirectory() as d:
        for path, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(d, path)), exist_ok=True)
            with open(os.path.join(d, path), "w") as f:
                f.write(text)
        p = subprocess.run([sys.executable, script, d], stdout=subprocess.PIPE, text=True)
        return p.returncode, p.stdout


def main(argv):
    script = argv[1]
    base = {"lib/util.h": "", "lib/run/run.h": '#include "util.h"\n',
            "lib/report/report.h": '#include "util.h"\n', "graders/regex.c": "",
            "providers/http.c": '#include "provider.h"\n', "lib/provider.h": ""}
    cases = [
        ("allowed edges pass", {}, 0, None),
        ("a renderer including the run fails",
         {"lib/report/text.c": '#include "run/run.h"\n'}, 1,
         "lib/report/text.c includes lib/run/run.h"),
        ("lib including a grader fails",
         {"lib/run/run.c": '#include "graders/regex.c"\n'}, 1,
         "lib/run/run.c includes graders/regex.c"),
        ("core including a room fails",
         {"lib/util.c": '#include "report/report.h"\n'}, 1,
         "lib/util.c includes lib/report/report.h"),
        ("a grader including a provider fails",
         {"graders/x.c": '#include "../providers/http.c"\n'}, 1,
         "graders/x.c includes providers/http.c"),
    ]
    print("TAP version 13")
    print("1..%d" % len(cases))
    failed = 0
    for i, (name, extra, want_rc, want_text) in enumerate(cases, 1):
        rc, out = check(script, dict(base, **extra))
        ok = rc == want_rc and (want_text is None or want_text in out)
        failed += not ok
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
        if not ok:
            print("# exit %d, output:\n# " % rc + out.replace("\n", "\n# "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
