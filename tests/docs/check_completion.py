#!/usr/bin/env python3
"""Check bash completion against the binary it completes.

usage: check_completion.py CANARY SRCDIR

For every command that `canary --help` lists, through contrib/canary.bash
(the shim the package installs) driven as bash drives it:
- the options completion offers after "--" are exactly the long options
  `canary COMMAND --help` lists, and the parser accepts each of them;
- the parser refuses an unknown option with "unrecognized option" and a
  did-you-mean;
- every value completion offers for an option is accepted by the parser,
  and a made-up value is refused (so the check can tell).
Plus the cases that once went wrong: `help <TAB>` offers commands (never
files), `history --format` only what it accepts, `report --format` no html,
`grade --target` no "eval=", `history --` no --history.

Prints TAP version 13.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_docs import Tap, help_commands, help_options  # noqa: E402

NOWHERE = "/nonexistent/canary-completion-check"


def run(argv, cwd=None):
    p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


class Shim:
    """contrib/canary.bash, sourced in bash with the binary on PATH."""

    def __init__(self, canary, src, cwd):
        self.script = os.path.join(os.path.abspath(src), "contrib", "canary.bash")
        self.env = dict(os.environ)
        self.env["PATH"] = os.path.dirname(canary) + os.pathsep + self.env.get("PATH", "")
        self.cwd = cwd

    def complete(self, line):
        """The words COMPREPLY holds after <TAB> at the end of line."""
        code = ('source "$1"; COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}; _canary; '
                'printf "%s\\n" "${COMPREPLY[@]}"')
        p = subprocess.run(["bash", "-c", code, "bash", self.script, line], cwd=self.cwd,
                           env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        if p.returncode != 0 or p.stderr:
            raise RuntimeError("completing %r: exit %d: %s" % (line, p.returncode,
                                                               p.stderr.decode()))
        return [w for w in p.stdout.decode().split("\n") if w]


def check_command(tap, canary, shim, cmd):
    problems = []
    rc, text, err = run([canary, cmd, "--help"])
    listed = {o for o in help_options(text) if o.startswith("--")}
    offered = set(shim.complete("canary %s --" % cmd))
    if listed != offered:
        problems.append("'canary %s --help' lists %s; completion offers %s"
                        % (cmd, sorted(listed), sorted(offered)))
    for opt in sorted(listed | offered):
        rc, out, err = run([canary, cmd, opt, NOWHERE], cwd=shim.cwd)
        if "unrecognized option" in err or "ambiguous option" in err:
            problems.append("'canary %s %s': the parser refuses it: %s" % (cmd, opt, err.strip()))
    rc, out, err = run([canary, cmd, "--zzqq-unknown"])
    if rc != 2 or "unrecognized option '--zzqq-unknown'" not in err:
        problems.append("'canary %s --zzqq-unknown': exit %d: %s" % (cmd, rc, err.strip()))
    rc, out, err = run([canary, cmd, NOWHERE, "--helpp"])
    if rc != 2 or "unrecognized option '--helpp' (did you mean '--help'?)" not in err:
        problems.append("'canary %s SUITE --helpp': exit %d: %s" % (cmd, rc, err.strip()))
    tap.check("completion offers the options of 'canary %s --help', which its parser "
              "accepts" % cmd, problems)

    problems = []
    for opt in sorted(listed):
        words = shim.complete("canary %s %s " % (cmd, opt))
        if not words or any(os.path.exists(os.path.join(shim.cwd, w)) for w in words):
            continue  # free text or file names
        for word in words:
            value = word + "x" if word.endswith("=") else word
            rc, out, err = run([canary, cmd, opt, value, NOWHERE], cwd=shim.cwd)
            if "'%s'" % value in err:
                problems.append("'canary %s %s %s' is offered but refused: %s"
                                % (cmd, opt, value, err.strip()))
        rc, out, err = run([canary, cmd, opt, "zzqq", NOWHERE], cwd=shim.cwd)
        if rc != 2 or "'zzqq'" not in err:
            problems.append("'canary %s %s zzqq' should be refused naming it: exit %d: %s"
                            % (cmd, opt, rc, err.strip()))
    tap.check("every value completion offers for 'canary %s' is accepted" % cmd, problems)


def check_regressions(tap, shim, cmds):
    expect = [
        ("canary help ", set(cmds) | {"help"}),
        ("canary history h.sqlite --format ", {"text", "json", "html"}),
        ("canary grade s.yaml --target ", {"eval", "prod"}),
        ("canary run s.yaml --target ", {"eval=", "prod="}),
    ]
    for line, want in expect:
        got = set(shim.complete(line))
        tap.check("%r completes to %s" % (line, sorted(want)), [] if got == want else
                  ["got %s" % sorted(got)])
    got = shim.complete("canary report r.json --format ")
    tap.check("'canary report --format' offers no html",
              ["got %s" % got] if "html" in got or not got else [])
    got = shim.complete("canary history --")
    tap.check("'canary history --' offers no --history",
              ["got %s" % got] if "--history" in got or not got else [])
    got = shim.complete("canary run ")
    tap.check("'canary run ' offers the suite files there", [] if got == ["suite.yaml"] else
              ["got %s" % got])


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: check_completion.py CANARY SRCDIR\n")
        return 2
    canary, src = os.path.abspath(argv[1]), argv[2]
    tap = Tap()
    rc, top, err = run([canary, "--help"])
    cmds = help_commands(top)
    tap.check("canary --help lists commands", [] if rc == 0 and cmds else [err])
    with tempfile.TemporaryDirectory(prefix="canary-completion-") as tmp:
        for name in ("suite.yaml", "notes.txt"):
            with open(os.path.join(tmp, name), "w") as f:
                f.write("x\n")
        shim = Shim(canary, src, tmp)
        try:
            for cmd in cmds:
                check_command(tap, canary, shim, cmd)
            check_regressions(tap, shim, cmds)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            tap.check("completion runs", [str(e)])
    return tap.emit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
