"""du_cancel.py - du2..du4 -v print running totals; du4 prints each
root's totals (exercise 8.9); du4 stops on a byte from stdin.

The walks here must last more than one 500ms tick, so the tools are given
the same generated tree many times over as DIRs (each DIR is walked and
counted separately). The tree has 20,000 entries, 5,000 in sanitizer
builds (CK_TIMEOUT_MULTIPLIER > 1); the number of repeats grows until a
walk lasts long enough on this machine.

- -v: every line before the last is a running total in the last line's
  format, the totals never decrease, and the last line is the exact total.
- du4 with two or more DIRs: each report is one line per DIR
  ("DIR  N files  B bytes") then the sum of those lines.
- du4 cancelled by a byte on stdin: exits 0 within a second (times
  CK_TIMEOUT_MULTIPLIER), prints nothing after the cancel (without -v
  nothing at all; with -v at most the report that was being written),
  never the final total, and with GORO_LEAKCHECK=1 reports no goroutine
  left.
- du4 with stdin at end of file, or a pipe closed at once, or a pipe held
  open and never written: runs to completion.
"""
import os
import re
import shutil
import subprocess
import threading
import time

import du_tree
from tooltest import SLOW, fail, main, prompt, run, start, stop, tool

ENV = dict(os.environ, GORO_LEAKCHECK="1")
LINE = re.compile(r"(\d+) files  (\d+) bytes")


class Reader:
    """Reads a stream in a thread, keeping (time, line) pairs."""

    def __init__(self, stream):
        self.lines = []
        self.rest = b""
        self.t = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.t.start()

    def _run(self, stream):
        buf = b""
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.lines.append((time.monotonic(), line.decode("utf-8", "surrogateescape")))
        self.rest = buf

    def join(self, timeout):
        self.t.join(timeout * SLOW)
        if self.t.is_alive():
            fail("output not closed within %gs" % (timeout * SLOW))


def parse(line, prefix=None):
    """(files, bytes) of a "[DIR  ]N files  B bytes" line, or fail."""
    if prefix is not None:
        if not line.startswith(prefix + "  "):
            fail("line %r does not start with %r" % (line, prefix + "  "))
        line = line[len(prefix) + 2:]
    m = LINE.fullmatch(line)
    if not m:
        fail("bad line %r" % line)
    return int(m.group(1)), int(m.group(2))


def walk(name, roots, stdin=subprocess.DEVNULL, verbose=True, timeout=120):
    """Runs NAME [-v] -b ROOTS to the end; returns (lines, seconds)."""
    argv = [tool(name)] + (["-v"] if verbose else []) + ["-b"] + roots
    t0 = time.monotonic()
    p = run(argv, timeout=timeout, stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=ENV)
    secs = time.monotonic() - t0
    if p.returncode != 0 or p.stderr:
        fail("%s: exit status %d, stderr %r" % (name, p.returncode, p.stderr[-2000:]))
    if not p.stdout.endswith(b"\n"):
        fail("%s: output does not end with a newline" % name)
    return p.stdout.decode("utf-8", "surrogateescape").splitlines(), secs


def test():
    n = 20000 if SLOW <= 1 else 5000
    if n < 20000:
        print("sanitizer build (CK_TIMEOUT_MULTIPLIER=%g): a tree of %d entries" % (SLOW, n))
    work = du_tree.workdir()
    try:
        work, top, _ = du_tree.make_tree_anywhere(work, n)
        tf, tb = du_tree.expected(top)

        # Enough repeats of the tree for du4 -v to take 1.5 s or more.
        reps = 2
        while True:
            lines, secs = walk("du4", [top] * reps, verbose=False)
            if lines[-1] != "%d files  %d bytes" % (tf * reps, tb * reps):
                fail("du4 on %d roots: %r" % (reps, lines[-1]))
            if secs >= 1.5 or reps >= 4096:
                break
            reps = max(reps * 2, int(reps * 1.6 / max(secs, 0.05)))
        print("%d roots of %d files: %.2fs" % (reps, tf, secs))
        roots = [top] * reps
        want = (tf * reps, tb * reps)

        # -v: running totals in the last line's format, then the total. A
        # walk shorter than a second may end before the first tick: then
        # it is run again on twice as many roots.
        for name in ["du2", "du3"]:
            rr = roots
            for attempt in range(4):
                lines, secs = walk(name, rr)
                totals = [parse(l) for l in lines]
                if totals[-1] != (tf * len(rr), tb * len(rr)):
                    fail("%s -v: last line %r, want %d files" % (name, lines[-1], tf * len(rr)))
                if len(totals) >= 2 or secs >= 1.0:
                    break
                rr = rr * 2
            if len(totals) < 2:
                fail("%s -v: no running total in a %.2fs walk: %r" % (name, secs, lines))
            if any(a[0] > b[0] or a[1] > b[1] for a, b in zip(totals, totals[1:])):
                fail("%s -v: totals decrease: %r" % (name, lines))
            print("%s -v: %d running totals in %.2fs, then the total" % (name, len(totals) - 1, secs))

        # du4 with several roots: each report is every root's line then
        # their sum; the last report is exact.
        sub = sorted(os.path.join(top, e.name) for e in os.scandir(top)
                     if e.is_dir(follow_symlinks=False))[0]
        sf, sb = du_tree.expected(sub)
        rr = roots
        for attempt in range(4):
            roots4 = [sub] + rr
            lines, secs = walk("du4", roots4)
            group = len(roots4) + 1
            if len(lines) >= 2 * group or secs >= 1.0:
                break
            rr = rr * 2  # too quick for a tick: a longer walk
        if len(lines) % group != 0 or len(lines) < 2 * group:
            fail("du4 -v, %d roots: %d lines, not whole reports, or no running report" % (len(roots4), len(lines)))
        for g in range(0, len(lines), group):
            per = [parse(lines[g + i], roots4[i]) for i in range(len(roots4))]
            tot = parse(lines[g + len(roots4)])
            if (sum(f for f, _ in per), sum(b for _, b in per)) != tot:
                fail("du4 -v: roots' lines do not sum to the total: %r" % lines[g:g + group])
        last = lines[-group:]
        if parse(last[0], sub) != (sf, sb) or any(parse(last[i], top) != (tf, tb) for i in range(1, len(roots4))):
            fail("du4 -v: final per-root lines wrong: %r" % last[:3])
        if parse(last[-1]) != (sf + tf * len(rr), sb + tb * len(rr)):
            fail("du4 -v: final total %r" % last[-1])
        print("du4 -v with %d roots: %d reports, each root's line summing to the total" % (len(roots4), len(lines) // group))

        # du4 cancelled by a byte on stdin, without -v then with -v.
        for verbose in (False, True):
            rr = roots
            for attempt in range(4):
                argv = [tool("du4")] + (["-v"] if verbose else []) + ["-b"] + rr
                p = start(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
                out, err = Reader(p.stdout), Reader(p.stderr)
                if verbose:
                    # Cancel once the first report is out: the walk is under way.
                    deadline = time.monotonic() + 10 * SLOW
                    while len(out.lines) < len(rr) + 1 and time.monotonic() < deadline and p.poll() is None:
                        time.sleep(0.01)
                    if len(out.lines) < len(rr) + 1 and p.poll() is None:
                        fail("du4 -v printed no report within %gs" % (10 * SLOW))
                else:
                    time.sleep(0.3)
                if p.poll() is None:
                    break
                # The walk ended before the cancel (the machine got faster
                # than when the roots were counted): a longer one.
                stop(p)
                out.join(5)
                err.join(5)
                p.stdin.close()
                rr = rr * 2
            if p.poll() is not None:
                fail("du4 ended before the cancel (status %r): the walk is too short" % p.returncode)
            want = (tf * len(rr), tb * len(rr))
            t_cancel = time.monotonic()
            p.stdin.write(b"x")
            p.stdin.flush()
            limit = prompt(1.0)
            try:
                rc = p.wait(limit)
            except subprocess.TimeoutExpired:
                stop(p)
                fail("du4 did not stop within %.2gs of a byte on stdin" % limit)
            took = time.monotonic() - t_cancel
            stop(p)
            out.join(5)
            err.join(5)
            if rc != 0:
                fail("du4 cancelled: exit status %d, stderr %r" % (rc, err.lines))
            if err.lines or err.rest:
                fail("du4 cancelled: stderr (a goroutine left?): %s" % "\n".join(l for _, l in err.lines))
            if out.rest:
                fail("du4 cancelled: a partial line %r" % out.rest)
            texts = [l for _, l in out.lines]
            if "%d files  %d bytes" % want in texts:
                fail("du4 cancelled: printed the final total")
            after = [l for t, l in out.lines if t > t_cancel]
            if not verbose and texts:
                fail("du4 cancelled without -v printed %r" % texts)
            if len(after) > len(rr) + 1:
                fail("du4 cancelled: %d lines after the cancel" % len(after))
            p.stdin.close()
            print("du4%s cancelled: exit 0 in %.3fs, %d lines after the cancel" %
                  (" -v" if verbose else "", took, len(after)))

        # Stdin at end of file, or a pipe that stays silent: no cancel.
        small = [top] * max(2, reps // 4)
        want_small = "%d files  %d bytes" % (tf * len(small), tb * len(small))
        lines, _ = walk("du4", small, verbose=False)
        if lines[-1] != want_small:
            fail("du4 </dev/null: %r" % lines[-1:])
        r, w = os.pipe()
        os.close(w)  # at end of file at once
        lines, _ = walk("du4", small, stdin=r, verbose=False)
        os.close(r)
        if lines[-1] != want_small:
            fail("du4 with a closed pipe on stdin: %r" % lines[-1:])
        r, w = os.pipe()  # open and silent: du4 must still end
        lines, _ = walk("du4", small, stdin=r, verbose=False)
        os.close(r)
        os.close(w)
        if lines[-1] != want_small:
            fail("du4 with a silent pipe on stdin: %r" % lines[-1:])
        print("du4 without a byte on stdin: runs to completion")
    finally:
        shutil.rmtree(work, ignore_errors=True)


main(test)
