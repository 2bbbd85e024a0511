"""du_errors.py - du1..du4: an unreadable directory is reported and the
walk goes on (exit 1); a missing DIR likewise; -h and bad flags.

An unreadable directory is made with chmod 000. Root reads it anyway (the
capabilities CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH), so when the test
runs as root the tools run under `setpriv` with those two capabilities
dropped from their bounding set: a root without them obeys the mode bits
like any user. If setpriv is missing or cannot drop them (no CAP_SETPCAP,
say in a restricted container), that case is skipped with a message and
the rest still runs.
"""
import os
import re
import shutil
import subprocess

import du_tree
from tooltest import fail, main, run, tool

TOOLS = ["du1", "du2", "du3", "du4"]
ENV = dict(os.environ, GORO_LEAKCHECK="1")
DROP = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
        "--inh-caps", "-dac_override,-dac_read_search"]


def du(argv, expect_rc):
    p = run(argv, timeout=30, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=ENV)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != expect_rc:
        fail("%r: exit status %d, want %d; stdout %r; stderr %r" % (argv, p.returncode, expect_rc, out, err))
    if "still alive" in err:
        fail("%r: goroutines left at exit:\n%s" % (argv, err))
    return out, err


def unreadable_prefix(locked):
    """The command prefix under which locked (mode 000) cannot be read,
    or None when the test cannot arrange that."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    p = run(DROP + ["ls", locked], timeout=10, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return DROP if p.returncode != 0 else None


def test():
    work = du_tree.workdir()
    locked = None
    try:
        top = os.path.join(work, "tree")
        os.mkdir(top)
        du_tree.make_tree(top, 2000, seed=14)
        # Lock one subdirectory of the tree, which holds files and deeper
        # directories: its content is not counted, everything else is.
        sub = max((os.path.join(top, e.name) for e in os.scandir(top)
                   if e.is_dir(follow_symlinks=False)),
                  key=lambda d: du_tree.expected(d)[0])
        allf, allb = du_tree.expected(top)
        subf, subb = du_tree.expected(sub)
        if subf == 0:
            fail("the generated tree has no subdirectory with files")
        os.chmod(sub, 0)
        locked = sub
        prefix = unreadable_prefix(sub)
        if prefix is None:
            print("SKIP (unreadable directory): running as root and setpriv cannot drop "
                  "CAP_DAC_OVERRIDE here, so no directory is unreadable to the tools")
        else:
            if prefix:
                print("as root: the tools run without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH (setpriv)")
            for name in TOOLS:
                out, err = du(prefix + [tool(name), "-b", top], 1)
                want = "%d files  %d bytes\n" % (allf - subf, allb - subb)
                if out != want:
                    fail("%s with %s unreadable: %r, want %r" % (name, sub, out, want))
                want_err = "%s: open %s: Permission denied\n" % (name, sub)
                if err != want_err:
                    fail("%s: stderr %r, want %r" % (name, err, want_err))
            print("unreadable directory: reported, the rest counted, exit 1")
        os.chmod(sub, 0o755)
        locked = None

        # A DIR that does not exist, beside one that does: reported, the
        # other one still counted, exit 1.
        missing = os.path.join(work, "missing")
        for name in TOOLS:
            out, err = du([tool(name), "-b", missing, top], 1)
            lines = out.splitlines()
            if lines[-1] != "%d files  %d bytes" % (allf, allb):
                fail("%s MISSING TREE: %r" % (name, out))
            if not re.fullmatch(r"%s: open %s: No such file or directory\n" % (name, re.escape(missing)), err):
                fail("%s MISSING TREE: stderr %r" % (name, err))
        # A file given as DIR: not a directory (nothing is below it).
        afile = os.path.join(work, "afile")
        open(afile, "w").close()
        for name in TOOLS:
            out, err = du([tool(name), afile], 1)
            if out != "0 files  0.0 GB\n" or not err.startswith(name + ": open " + afile + ": "):
                fail("%s FILE: stdout %r, stderr %r" % (name, out, err))

        # -h: usage on stdout, exit 0. Bad flags: usage on stderr, exit 2.
        for name in TOOLS:
            out, err = du([tool(name), "-h"], 0)
            if not out.startswith("usage: %s " % name) or "-b" not in out:
                fail("%s -h: %r" % (name, out))
            if (name != "du1") != ("-v" in out):
                fail("%s -h: -v listed wrongly: %r" % (name, out))
            for bad in (["-x"], ["-b=maybe"], ["--bogus", top]):
                out, err = du([tool(name)] + bad, 2)
                if out or "usage: %s " % name not in err:
                    fail("%s %r: stdout %r, stderr %r" % (name, bad, out, err))
        out, err = du([tool("du1"), "-v", top], 2)  # du1 has no -v
        if "usage: du1" not in err:
            fail("du1 -v: stderr %r" % err)
    finally:
        if locked:
            os.chmod(locked, 0o755)
        shutil.rmtree(work, ignore_errors=True)


main(test)
