"""du_totals.py - du1..du4 count exactly what README.md ("du1 - du4") says.

On a generated tree of 50,000 entries (nested directories of varied
depth, sparse files of many sizes, hard links, symlinks to files, to
directories and dangling ones, empty directories, odd names; du_tree.py),
every tool's `-b` total and file count equal the ones computed here
independently (os.walk, lstat sizes of non-directories, once per path);
without -b the line is Go's "%d files  %.1f GB"; no DIR means "."; a
sparse file of 1.5e9 bytes prints "1 files  1.5 GB"; du4 with two or more
DIRs prints each root's line before the total. Every run has
GORO_LEAKCHECK=1 and must leave stderr empty (no goroutine alive at exit).
In sanitizer builds (CK_TIMEOUT_MULTIPLIER > 1) the tree has 10,000
entries, to keep the test quick there.
"""
import os
import shutil
import subprocess

import du_tree
from tooltest import SLOW, fail, main, run, tool

TOOLS = ["du1", "du2", "du3", "du4"]
ENV = dict(os.environ, GORO_LEAKCHECK="1")


def du(name, *args, cwd=None, expect_rc=0):
    """Runs tools/NAME ARGS with stdin at end of file; returns stdout's
    lines. Fails unless it exits with expect_rc and stderr is empty."""
    p = run([os.path.abspath(tool(name))] + list(args), timeout=60, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=cwd)
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode != expect_rc:
        fail("%s %r: exit status %d, want %d; stderr: %s" % (name, args, p.returncode, expect_rc, err))
    if err:
        fail("%s %r: unexpected stderr (a goroutine left at exit?):\n%s" % (name, args, err))
    out = p.stdout.decode("utf-8", "surrogateescape")
    if not out.endswith("\n"):
        fail("%s %r: output does not end with a newline: %r" % (name, args, out[-200:]))
    return out.splitlines()


def gb(nfiles, nbytes):
    return "%d files  %.1f GB" % (nfiles, nbytes / 1e9)


def b(nfiles, nbytes):
    return "%d files  %d bytes" % (nfiles, nbytes)


def test():
    n = 50000 if SLOW <= 1 else 10000
    if n < 50000:
        print("sanitizer build (CK_TIMEOUT_MULTIPLIER=%g): a tree of %d entries, not 50,000" % (SLOW, n))
    work = du_tree.workdir()
    try:
        work, top, made = du_tree.make_tree_anywhere(work, n)
        nfiles, nbytes = du_tree.expected(top)
        if nfiles != made:
            fail("the tree has %d entries, the generator made %d" % (nfiles, made))
        print("tree: %d files, %d bytes" % (nfiles, nbytes))

        for name in TOOLS:
            # -b: exact bytes and count.
            lines = du(name, "-b", top)
            if lines != [b(nfiles, nbytes)]:
                fail("%s -b: %r, want %r" % (name, lines, [b(nfiles, nbytes)]))
            # GB, one decimal as Go's %.1f.
            lines = du(name, top)
            if lines != [gb(nfiles, nbytes)]:
                fail("%s: %r, want %r" % (name, lines, [gb(nfiles, nbytes)]))
            # No DIR: the current directory.
            lines = du(name, "-b", cwd=top)
            if lines != [b(nfiles, nbytes)]:
                fail("%s -b in the tree: %r, want %r" % (name, lines, [b(nfiles, nbytes)]))
            print("%s: ok" % name)

        # A subtree, and the tree again: du1..du3 give only the sum; du4
        # gives each root's line first (exercise 8.9).
        sub = sorted(os.path.join(top, e.name) for e in os.scandir(top)
                     if e.is_dir(follow_symlinks=False) and e.name.startswith("d"))[0]
        sfiles, sbytes = du_tree.expected(sub)
        for name in TOOLS:
            lines = du(name, "-b", top, sub)
            want = [b(nfiles + sfiles, nbytes + sbytes)]
            if name == "du4":
                want = [top + "  " + b(nfiles, nbytes), sub + "  " + b(sfiles, sbytes)] + want
            if lines != want:
                fail("%s -b TREE SUB: %r, want %r" % (name, lines, want))
        lines = du("du4", top, sub)
        want = [top + "  " + gb(nfiles, nbytes), sub + "  " + gb(sfiles, sbytes),
                gb(nfiles + sfiles, nbytes + sbytes)]
        if lines != want:
            fail("du4 TREE SUB: %r, want %r" % (lines, want))

        # A sparse file of 1.5e9 bytes (no disk), a symlink to it (its own
        # small size), and an empty directory.
        big = os.path.join(work, "big")
        os.mkdir(big)
        with open(os.path.join(big, "sparse"), "wb") as f:
            f.truncate(1500000000)
        os.mkdir(os.path.join(big, "empty"))
        for name in TOOLS:
            lines = du(name, big)
            if lines != ["1 files  1.5 GB"]:
                fail("%s on a 1.5e9-byte sparse file: %r" % (name, lines))
        os.symlink(os.path.join(big, "sparse"), os.path.join(big, "empty", "link"))
        linklen = len(os.path.join(big, "sparse"))
        for name in TOOLS:
            lines = du(name, "-b", big)
            if lines != [b(2, 1500000000 + linklen)]:
                fail("%s -b: %r, want %r" % (name, lines, [b(2, 1500000000 + linklen)]))
        # An empty directory.
        os.mkdir(os.path.join(work, "nothing"))
        for name in TOOLS:
            lines = du(name, "-b", os.path.join(work, "nothing"))
            if lines != ["0 files  0 bytes"]:
                fail("%s -b on an empty directory: %r" % (name, lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)


main(test)
