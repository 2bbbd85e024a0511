#!/usr/bin/env python3
"""tools_du.py - the load benchmark of du1..du4 (not run by make check).

Generates a tree of 200,000 entries (test/tools/du_tree.py: nested
directories, sparse files, hard links, symlinks of every kind; on /dev/shm
when it is writable, so that the disk does not dominate) and times
du1..du4 -b on it against GNU `du -s --apparent-size -b`, printing files/s
(entries counted / wall time, best of --runs), peak threads and peak RSS.

It checks the totals too. du1..du4 must equal the independent total
(lstat sizes of non-directories, once per path). GNU du counts something
else: the apparent sizes of directories as well (the top one included),
and a hard-linked file once, whatever its number of names. So its figure is
checked against that number computed here, and, with `du -s -b -l`
(--count-links: every name counted), against ours plus the directories'
sizes.

usage: tools_du.py [--files N] [--runs N] [--tools DIR]... [--dir DIR] [--keep]
  --tools DIR   where du1..du4 are (default: $top_builddir/tools, else
                ./tools); repeat to compare builds, e.g. one made with
                CPPFLAGS=-DDU_BATCH=1 (one size a channel send, as the book)
"""
import argparse
import os
import shutil
import stat
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "tools"))
import du_tree  # noqa: E402


def gnu_comparable(top):
    """(apparent, count_links): what `du -sb` and `du -sbl` should print."""
    seen = set()
    apparent = links = os.lstat(top).st_size
    for dirpath, dirnames, filenames in os.walk(os.fsencode(top), followlinks=False):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            links += st.st_size
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            apparent += st.st_size
    return apparent, links


def timed(argv):
    """Runs argv once; returns (stdout, seconds, peak threads, peak RSS KB)
    (the peaks as sampled every 5 ms: a lower bound)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    peak = [0, 0]  # threads, VmHWM (KB)
    stopped = threading.Event()

    def sample():
        path = "/proc/%d/status" % p.pid
        while not stopped.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        if line.startswith("Threads:"):
                            peak[0] = max(peak[0], int(line.split()[1]))
                        elif line.startswith("VmHWM:"):
                            peak[1] = max(peak[1], int(line.split()[1]))
            except OSError:
                pass
            stopped.wait(0.005)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out = p.stdout.read()
    # The peaks are sampled every 5 ms from /proc (wait4's ru_maxrss would
    # include this Python process's memory, which the child had until exec).
    _, status, _ = os.wait4(p.pid, 0)
    secs = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    stopped.set()
    th.join()
    if p.returncode != 0:
        sys.exit("%r: exit status %d" % (argv, p.returncode))
    return out.decode(), secs, peak[0], peak[1]


def best(argv, runs):
    res = [timed(argv) for _ in range(runs)]
    return min(res, key=lambda r: r[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=200000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tools", action="append")
    ap.add_argument("--dir", help="where to make the tree (default: /dev/shm or $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="leave the tree in place")
    a = ap.parse_args()
    if not a.tools:
        a.tools = [os.path.join(os.environ.get("top_builddir", "."), "tools")]
    if shutil.which("du") is None:
        sys.exit("GNU du is not installed")

    work = tempfile_dir(a.dir)
    try:
        t0 = time.monotonic()
        work, top, _ = du_tree.make_tree_anywhere(work, a.files)
        print("tree: %d entries under %s, made in %.1fs" % (a.files, top, time.monotonic() - t0))
        nfiles, nbytes = du_tree.expected(top)
        apparent, links = gnu_comparable(top)
        print("expected: %d files  %d bytes (GNU du -sb should say %d, du -sbl %d)"
              % (nfiles, nbytes, apparent, links))
        print("cpus: %d, load average: %s" % (os.cpu_count(), " ".join("%.1f" % x for x in os.getloadavg())))
        print()
        print("%-28s %10s %12s %8s %12s" % ("program", "seconds", "files/s", "threads", "peak RSS KB"))

        # GNU du first (it warms the cache as well as any run).
        out, secs, thr, rss = best(["du", "-s", "--apparent-size", "-b", top], a.runs)
        got = int(out.split()[0])
        print("%-28s %10.3f %12.0f %8d %12d" % ("du -s --apparent-size -b", secs, nfiles / secs, thr, rss))
        if got != apparent:
            sys.exit("GNU du -sb said %d, expected %d" % (got, apparent))
        out, _, _, _ = timed(["du", "-s", "-b", "-l", top])
        if int(out.split()[0]) != links:
            sys.exit("GNU du -sbl said %s, expected %d" % (out.split()[0], links))

        want = "%d files  %d bytes\n" % (nfiles, nbytes)
        for d in a.tools:
            for name in ["du1", "du2", "du3", "du4"]:
                out, secs, thr, rss = best([os.path.join(d, name), "-b", top], a.runs)
                if out != want:
                    sys.exit("%s/%s said %r, expected %r" % (d, name, out, want))
                label = name if len(a.tools) == 1 else "%s (%s)" % (name, d)
                print("%-28s %10.3f %12.0f %8d %12d" % (label, secs, nfiles / secs, thr, rss))
        print()
        print("totals agree: du1..du4 = %d bytes; GNU du -sbl - directories = the same; "
              "GNU du -sb = %d (directories counted, hard links once)" % (nbytes, apparent))
    finally:
        if a.keep:
            print("tree kept in", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def tempfile_dir(where):
    if where:
        import tempfile
        return tempfile.mkdtemp(prefix="goro-du-bench-", dir=where)
    return du_tree.workdir("goro-du-bench-")


if __name__ == "__main__":
    main()
