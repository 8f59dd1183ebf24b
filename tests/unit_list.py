#!/usr/bin/env python3
"""Fail when a unit test file is not in tests/meson.build's unit_tests.

usage: unit_list.py UNIT_DIR NAME...

Every UNIT_DIR/test_NAME.c must have its NAME among the arguments: a file
left out is never built, and its tests never run.  meson setup runs this and
stops on its message; exits 1 when a file is missing from the list.
"""
import os
import sys


def unlisted(unit_dir, names):
    """The test_*.c files of unit_dir whose name is not in names, sorted."""
    return sorted(f for f in os.listdir(unit_dir)
                  if f.startswith("test_") and f.endswith(".c")
                  and f[len("test_"):-len(".c")] not in names)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    missing = unlisted(argv[1], set(argv[2:]))
    for f in missing:
        print("tests/unit/%s is not in unit_tests in tests/meson.build, so it "
              "would never run: add '%s'" % (f, f[len("test_"):-len(".c")]),
              file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
