#!/usr/bin/env python3
"""Check the man pages against the binary they describe.

usage: check_docs.py CANARY SRCDIR

- canary(1) has a section for every command that `canary --help` lists, and
  that section names every option `canary COMMAND --help` prints; every
  option the section documents (its .TP tags) exists.
- canary-suite(5) documents every key the suite loader accepts, in the
  section for its mapping (the key lists come from the loader's own
  "unknown key" errors), and exactly the graders that the "names no grader"
  error lists.
- Every canary command line in docs/ci.md and docs/examples/ uses options
  that its command has, and the YAML examples parse (when PyYAML is there).
- `groff -man -ww -z` prints no warning for either page (when groff is
  there).
- Both pages name the version that `canary --version` prints (meson's
  project version).

Prints TAP version 13.  A check that needs a missing tool is skipped.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


class Tap:
    def __init__(self):
        self.results = []

    def check(self, name, problems, skip=None):
        self.results.append((name, list(problems), skip))

    def emit(self):
        print("TAP version 13")
        print("1..%d" % len(self.results))
        failed = 0
        for i, (name, problems, skip) in enumerate(self.results, 1):
            if skip:
                print("ok %d - %s # SKIP %s" % (i, name, skip))
                continue
            if problems:
                failed += 1
                print("not ok %d - %s" % (i, name))
                for p in problems:
                    for line in str(p).splitlines() or [""]:
                        print("# " + line)
            else:
                print("ok %d - %s" % (i, name))
        return 1 if failed else 0


def run(argv, cwd=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GITHUB_STEP_SUMMARY", "NO_COLOR")}
    p = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


# --- roff helpers -----------------------------------------------------------

def plain(text):
    """Roff text without font escapes, quotes and \\% \\& \\: marks."""
    text = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", text)
    text = text.replace("\\%", "").replace("\\&", "").replace("\\:", "")
    text = text.replace("\\-", "-").replace("\\(aq", "'").replace("\\(dq", '"')
    text = text.replace("\\e", "\\")
    return text.replace('"', "").strip()


def sections(roff):
    """[(level, plain title, [lines])] for every .SH and .SS."""
    out = [("", "", [])]
    for line in roff.splitlines():
        m = re.match(r"^\.(SH|SS)\s+(.*)$", line)
        if m:
            out.append((m.group(1), plain(m.group(2)), []))
        else:
            out[-1][2].append(line)
    return out


def sh_section(roff, title):
    """The lines of .SH title, its .SS subsections included, or None."""
    lines = None
    for level, t, body in sections(roff):
        if level == "SH":
            if lines is not None:
                break
            if t == title:
                lines = list(body)
                continue
        if lines is not None:
            if level == "SS":
                lines.append(".SS " + t)
            lines.extend(body)
    return lines


def to_text(lines):
    """The text of roff lines: font macros joined, .br and .PP as line breaks."""
    out = []
    for line in lines:
        m = re.match(r"^\.([A-Za-z]{1,2})\b\s*(.*)$", line)
        if not m:
            if not line.startswith(".") and not line.startswith("'"):
                out.append(plain(line))
            continue
        macro, rest = m.groups()
        if macro in ("B", "I"):
            out.append(plain(" ".join(split_args(rest))))
        elif macro in ("BR", "RB", "BI", "IB", "IR", "RI"):
            out.append(plain("".join(split_args(rest))))
        else:
            out.append("\n")
    return re.sub(r" *\n *", "\n", " ".join(out)).strip()


def ss_titles(roff, sh_title):
    """The plain titles of the .SS subsections of .SH sh_title."""
    titles, inside = [], False
    for level, t, _ in sections(roff):
        if level == "SH":
            inside = t == sh_title
        elif level == "SS" and inside:
            titles.append(t)
    return titles


def split_args(rest):
    args, i = [], 0
    while i < len(rest):
        if rest[i] == " ":
            i += 1
        elif rest[i] == '"':
            j = rest.find('"', i + 1)
            j = len(rest) if j < 0 else j
            args.append(rest[i + 1:j])
            i = j + 1
        else:
            j = rest.find(" ", i)
            j = len(rest) if j < 0 else j
            args.append(rest[i:j])
            i = j
    return args


def bold_words(lines):
    """Every word set in bold: .B, the bold halves of .BR .RB .BI .IB, \\fB."""
    chunks = []
    for line in lines:
        m = re.match(r"^\.(B|BR|RB|BI|IB)\s+(.*)$", line)
        if m:
            args = split_args(m.group(2))
            if m.group(1) == "B":
                chunks.append(" ".join(args))
            else:
                first = 0 if m.group(1) in ("BR", "BI") else 1
                chunks.extend(args[first::2])
        for b in re.findall(r"\\fB(.*?)(?:\\f[RPI]|$)", line):
            chunks.append(b)
    words = set()
    for c in chunks:
        words.update(w for w in re.split(r"[\s,;:(){}\[\]|]+", plain(c)) if w)
    return words


def tp_tags(lines):
    """The tag line of every .TP."""
    return [lines[i + 1] for i, l in enumerate(lines[:-1]) if re.match(r"^\.TP\b", l)]


def roff_option(opt):
    """A regex for an option as roff writes it: --a-b as \\-\\-a\\-b."""
    if opt.startswith("--"):
        body = r"\\-".join(re.escape(p) for p in opt[2:].split("-"))
        return r"\\-\\-" + body + r"(?![A-Za-z0-9]|\\-)"
    return r"(?<!\\-)\\-" + re.escape(opt[1:]) + r"(?![A-Za-z0-9]|\\-)"


# --- what the binary says ---------------------------------------------------

def help_commands(text):
    cmds, inside = [], False
    for line in text.splitlines():
        if line.strip() == "commands:":
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z-]*)\s", line)
            if not m:
                break
            cmds.append(m.group(1))
    return cmds


def help_options(text):
    """The options of a command's help: its usage block and its table rows."""
    opts = set()
    lines = text.splitlines()
    usage = True
    for line in lines:
        if usage:
            if not line.strip():
                usage = False
                continue
            opts.update(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line))
            continue
        if re.match(r"^\s{1,8}-", line):
            spec = re.split(r"\s{2,}", line.strip())[0]
            opts.update(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b", spec))
    return opts


BASE_SUITE = """\
version: 1
name: docs-check
targets:
  eval: {url: 'http://127.0.0.1:9/', TARGET}
  prod: {url: 'http://127.0.0.1:9/'}
TARGETS
strata:
  s:
    STRATUM
    cases:
      - id: c
        INPUT
        expect: [GRADER]
TOP
"""

# (mapping, the canary-suite(5) section that documents it, edits of BASE_SUITE)
KEY_PROBES = [
    ("top level", "TOP LEVEL", {"TOP": "zzqqxxww: 1"}),
    ("defaults", "DEFAULTS", {"TOP": "defaults: {zzqqxxww: 1}"}),
    ("targets", "TARGETS", {"TARGETS": "  zzqqxxww: {}"}),
    ("target", "TARGETS", {"TARGET": "zzqqxxww: 1"}),
    ("fingerprint", "TARGETS", {"TARGET": "fingerprint: {zzqqxxww: 1}"}),
    ("reply", "TARGETS", {"TARGET": "api: http, reply: {zzqqxxww: 1}"}),
    ("tool_calls", "TARGETS",
     {"TARGET": "api: http, reply: {content: /a, tool_calls: {at: /b, zzqqxxww: 1}}"}),
    ("judge", "JUDGE", {"TOP": "judge: {url: 'http://127.0.0.1:9/', zzqqxxww: 1}"}),
    ("stratum", "STRATA", {"STRATUM": "zzqqxxww: 1"}),
    ("case", "CASES", {"INPUT": "input: hi\n        zzqqxxww: 1"}),
    ("message", "CASES", {"INPUT": "messages: [{role: user, content: hi, zzqqxxww: 1}]"}),
    ("tool", "TOOLS", {"TOP": "tools: [{name: t, zzqqxxww: 1}]"}),
    ("replay", "REPLAY", {"TOP": "replay: {zzqqxxww: 1}"}),
    ("replay stratum", "REPLAY", {"TOP": "replay: {strata: {s: {zzqqxxww: 1}}}"}),
]


def suite_text(edits):
    text = BASE_SUITE
    defaults = {"TARGET": "", "TARGETS": "", "STRATUM": "", "INPUT": "input: hi",
                "GRADER": "{contains: x}", "TOP": ""}
    defaults.update(edits)
    for k in ("TARGETS", "TARGET", "STRATUM", "INPUT", "GRADER", "TOP"):
        text = text.replace(k, defaults[k])
    return text.replace(", }", "}").replace("{url: 'http://127.0.0.1:9/', }",
                                             "{url: 'http://127.0.0.1:9/'}")


def validate(canary, tmp, text):
    path = os.path.join(tmp, "suite.yaml")
    with open(path, "w") as f:
        f.write(text)
    rc, out, err = run([canary, "validate", "suite.yaml"], cwd=tmp)
    return rc, out + err


# --- checks -----------------------------------------------------------------

def check_commands(tap, canary, man1):
    rc, top, err = run([canary, "--help"])
    cmds = help_commands(top)
    tap.check("canary --help lists commands", [] if rc == 0 and cmds else
              ["canary --help exited %d, commands found: %r" % (rc, cmds), err])
    synopsis = sh_section(man1, "SYNOPSIS") or []
    options = sh_section(man1, "OPTIONS") or []
    problems = []
    for opt in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", top.split("\n\n")[0]):
        if not re.search(roff_option(opt), "\n".join(options)):
            problems.append("OPTIONS does not describe %s" % opt)
    tap.check("canary(1) OPTIONS covers the options of canary itself", problems)

    titles = [t for level, t, _ in sections(man1) if level == "SS"]
    for cmd in cmds:
        problems = []
        rc, text, err = run([canary, cmd, "--help"])
        if rc != 0:
            problems.append("canary %s --help exited %d: %s" % (cmd, rc, err.strip()))
        opts = help_options(text)
        if not any(re.match(r"^canary %s(\s|$)" % re.escape(cmd), l)
                   for l in to_text(synopsis).splitlines()):
            problems.append("SYNOPSIS has no line for 'canary %s'" % cmd)
        title = next((t for t in titles if re.match(r"^canary %s(\s|$)" % re.escape(cmd), t)),
                     None)
        if title is None:
            problems.append("no .SS section titled 'canary %s ...'" % cmd)
        else:
            body = []
            for level, t, lines in sections(man1):
                if level == "SS" and t == title:
                    body = lines
            joined = "\n".join(body)
            for opt in sorted(opts):
                if not re.search(roff_option(opt), joined):
                    problems.append("section '%s' does not describe %s (from 'canary %s "
                                    "--help')" % (title, opt, cmd))
            for tag in tp_tags(body):
                for name in re.findall(r"\\-\\-([a-z0-9]+(?:\\-[a-z0-9]+)*)", tag):
                    opt = "--" + name.replace("\\-", "-")
                    if opt not in opts:
                        problems.append("section '%s' documents %s, which 'canary %s --help' "
                                        "does not list" % (title, opt, cmd))
        tap.check("canary(1) documents every option of 'canary %s'" % cmd, problems)
    return cmds


def check_suite_keys(tap, canary, man5):
    with tempfile.TemporaryDirectory(prefix="canary-docs-") as tmp:
        rc, out = validate(canary, tmp, suite_text({}))
        tap.check("the probe suite is valid", [] if rc == 0 else
                  ["canary validate exited %d on the probe suite:" % rc, out,
                   suite_text({})])
        for mapping, section, edits in KEY_PROBES:
            problems = []
            rc, out = validate(canary, tmp, suite_text(edits))
            m = re.search(r"\(keys: ([^)]*)\)", out)
            lines = sh_section(man5, section)
            if rc != 2 or not m:
                problems.append("expected a key list for an unknown key in %s, got (exit %d): %s"
                                % (mapping, rc, out.strip()))
            elif lines is None:
                problems.append("canary-suite(5) has no section %s" % section)
            else:
                keys = [k.strip() for k in m.group(1).split(",") if k.strip()]
                documented = bold_words(lines)
                for k in keys:
                    if k not in documented:
                        problems.append("%s does not document '%s' (a key of %s)"
                                        % (section, k, mapping))
                if mapping == "top level":
                    tags = {plain(t.split(None, 1)[1]) for t in tp_tags(lines)
                            if t.startswith(".B ")}
                    for extra in sorted(tags - set(keys)):
                        problems.append("TOP LEVEL documents '%s', which the loader does "
                                        "not accept" % extra)
            tap.check("canary-suite(5) documents every key of %s" % mapping, problems)

        problems = []
        rc, out = validate(canary, tmp, suite_text({"GRADER": "{on: raw}"}))
        m = re.search(r"names no grader \(one of ([^)]*)\)", out)
        if rc != 2 or not m:
            problems.append("expected the 'names no grader' error, got (exit %d): %s"
                            % (rc, out.strip()))
        else:
            graders = {g.strip() for g in m.group(1).split(",") if g.strip()}
            documented = {t for t in ss_titles(man5, "GRADERS")
                          if re.match(r"^[a-z_]+$", t) and t != "on"}
            for g in sorted(graders - documented):
                problems.append("GRADERS has no subsection for grader '%s'" % g)
            for g in sorted(documented - graders):
                problems.append("GRADERS documents '%s', which canary does not know" % g)
            intro = bold_words(sh_section(man5, "GRADERS") or [])
            for g in sorted(graders - intro):
                problems.append("grader '%s' is not named in bold in GRADERS" % g)
        tap.check("canary-suite(5) documents exactly the graders canary knows", problems)


def command_lines(text):
    """Each `canary COMMAND ...` invocation, backslash continuations joined."""
    text = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in text.splitlines():
        for m in re.finditer(r"(?<![\w/.-])canary (run|merge|report|history|validate|list|"
                             r"grade|calibrate|stub|demo|fingerprint)\b([^\n;|&`]*)", line):
            found.append((m.group(1), m.group(2)))
    return found


def yaml_strings(node):
    """Every string in a parsed YAML tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        node = list(node.keys()) + list(node.values())
    if isinstance(node, list):
        return [s for n in node for s in yaml_strings(n)]
    return []


def check_examples(tap, canary, src, cmds):
    paths = []
    for base in ("docs/ci.md",):
        if os.path.exists(os.path.join(src, base)):
            paths.append(base)
    ex = os.path.join(src, "docs", "examples")
    if os.path.isdir(ex):
        paths += sorted(os.path.join("docs", "examples", f) for f in os.listdir(ex))
    problems = [] if paths else ["docs/ci.md and docs/examples/ are missing"]
    try:
        import yaml
    except ImportError:
        yaml = None
    helps = {}
    seen = set()
    for rel in paths:
        with open(os.path.join(src, rel), encoding="utf-8") as f:
            text = f.read()
        texts = [text]
        if yaml is not None and rel.endswith((".yml", ".yaml")):
            # Folded scalars (>-) put a command on several lines; look at the
            # strings as YAML reads them too.
            try:
                texts += yaml_strings(list(yaml.safe_load_all(text)))
            except yaml.YAMLError:
                pass  # reported by the parse check below
        lines = {c for t in texts for c in command_lines(t)}
        for cmd, args in sorted(lines):
            if cmd not in cmds:
                continue
            if cmd not in helps:
                helps[cmd] = help_options(run([canary, cmd, "--help"])[1])
            seen.add((rel, cmd, args))
            for opt in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", args):
                if opt not in helps[cmd]:
                    problems.append("%s: 'canary %s' has no option %s" % (rel, cmd, opt))
    count = len(seen)
    if paths and count == 0:
        problems.append("no canary command line found in %s" % ", ".join(paths))
    tap.check("the CI examples use only options canary has (%d command lines)" % count,
              problems)

    yamls = [p for p in paths if p.endswith((".yml", ".yaml"))]
    problems = []
    if yaml is not None:
        for rel in yamls:
            try:
                with open(os.path.join(src, rel), encoding="utf-8") as f:
                    docs = [d for d in yaml.safe_load_all(f) if d is not None]
                if not docs:
                    problems.append("%s holds no YAML document" % rel)
            except yaml.YAMLError as e:
                problems.append("%s: %s" % (rel, e))
    tap.check("the YAML examples parse (%d files)" % len(yamls), problems,
              skip=None if yaml is not None else "python3 yaml module not installed")


def check_groff(tap, src):
    groff = shutil.which("groff")
    for page in ("docs/canary.1", "docs/canary-suite.5"):
        if not groff:
            tap.check("groff -man -ww -z %s prints no warning" % page, [],
                      skip="groff not installed")
            continue
        p = subprocess.run([groff, "-man", "-ww", "-z", os.path.join(src, page)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        err = p.stderr.decode("utf-8", "replace").strip()
        problems = []
        if p.returncode != 0 or err:
            problems.append("groff exited %d:\n%s" % (p.returncode, err))
        tap.check("groff -man -ww -z %s prints no warning" % page, problems)


def check_version(tap, canary, pages):
    rc, out, _ = run([canary, "--version"])
    version = out.strip()
    problems = [] if rc == 0 and version.startswith("canary ") else \
        ["canary --version exited %d and printed %r" % (rc, out)]
    for page, roff in sorted(pages.items()):
        th = re.search(r'^\.TH .*"(canary [^"]*)"', roff, re.M)
        if not th or th.group(1) != version:
            problems.append("%s: .TH names %s, not %s" %
                            (page, th.group(1) if th else "no version", version))
    tap.check("the man pages name the version canary prints (%s)" % version, problems)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: check_docs.py CANARY SRCDIR\n")
        return 2
    canary, src = os.path.abspath(argv[1]), argv[2]
    tap = Tap()
    pages = {}
    for page in ("docs/canary.1", "docs/canary-suite.5"):
        try:
            with open(os.path.join(src, page), encoding="utf-8") as f:
                pages[page] = f.read()
        except OSError as e:
            pages[page] = ""
            tap.check("%s can be read" % page, [str(e)])
    cmds = check_commands(tap, canary, pages["docs/canary.1"])
    check_suite_keys(tap, canary, pages["docs/canary-suite.5"])
    check_examples(tap, canary, src, cmds)
    check_groff(tap, src)
    check_version(tap, canary, pages)
    return tap.emit()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
