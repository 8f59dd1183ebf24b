#!/usr/bin/env python3
"""The guard of tests/meson.build against unlisted unit tests, run on folders
made here.

usage: unit_list_test.py UNIT_LIST_PY

Prints TAP version 13.
"""
import os
import subprocess
import sys
import tempfile


def guard(script, files, names):
    """Run the guard on a folder holding files; (exit code, stderr)."""
    with tempfile.TemporaryDirectory() as d:
        for f in files:
            open(os.path.join(d, f), "w").close()
        p = subprocess.run([sys.executable, script, d] + names,
                           stderr=subprocess.PIPE, text=True)
        return p.returncode, p.stderr


def main(argv):
    script = argv[1]
    cases = [
        ("every file listed", ["test_a.c", "test_b.c", "support.c"], ["a", "b"],
         0, ""),
        ("an unlisted file is named", ["test_a.c", "test_history.c"], ["a"],
         1, "tests/unit/test_history.c is not in unit_tests in tests/meson.build, "
            "so it would never run: add 'history'\n"),
        ("each unlisted file is named", ["test_notify.c", "test_history.c"], [],
         1, "tests/unit/test_history.c is not in unit_tests in tests/meson.build, "
            "so it would never run: add 'history'\n"
            "tests/unit/test_notify.c is not in unit_tests in tests/meson.build, "
            "so it would never run: add 'notify'\n"),
        ("other files are not tests", ["support.c", "test_a.h", "test_b.c.orig"], [],
         0, ""),
    ]
    print("TAP version 13")
    print("1..%d" % len(cases))
    failed = 0
    for i, (name, files, names, want_rc, want_err) in enumerate(cases, 1):
        rc, err = guard(script, files, names)
        if (rc, err) == (want_rc, want_err):
            print("ok %d - %s" % (i, name))
            continue
        failed += 1
        print("not ok %d - %s" % (i, name))
        print("# exit %d, want %d; stderr %r, want %r" % (rc, want_rc, err, want_err))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
