"""crawl_cancel.py - exercise 8.10: crawl3 cancels when a byte arrives on
stdin. With its 20 crawlers all waiting for pages that take 10 s, a byte
on stdin ends it within a second (so every fetch in flight was aborted),
with exit status 0, nothing more printed, nothing on stderr, and no
goroutine left (GORO_LEAKCHECK=1 reports survivors at exit on stderr).
With stdin at end of file, or open and silent, it runs to completion and
exits by itself, again with no goroutine left.
"""
import collections
import os
import subprocess
import threading
import time

import crawl_site as cs
import tooltest as tt

NSLOW = 40


def reader(stream, sink):
    for raw in iter(stream.readline, b""):
        sink.append(raw.decode("utf-8", "replace"))


def cancel_test(site, stats):
    env = dict(os.environ, GORO_LEAKCHECK="1")
    stats.reset()
    p = tt.start([tt.tool("crawl3"), site.url("/slow/index.html")], stdin=subprocess.PIPE,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = [], []
    threads = [threading.Thread(target=reader, args=(p.stdout, out), daemon=True),
               threading.Thread(target=reader, args=(p.stderr, err), daemon=True)]
    for t in threads:
        t.start()
    # The index, then 20 slow pages: every crawler waits for a response.
    tt.wait_until(lambda: stats.inflight >= 20 and len(out) >= 21, 15,
                  "20 slow fetches in flight (%d printed)" % len(out))
    time.sleep(0.2)  # nothing else can be printed now: check that nothing is
    before = len(out)
    if before != 21 or stats.inflight != 20:
        tt.fail("before the cancel: %d lines printed, %d requests in flight (want 21, 20)"
                % (before, stats.inflight))
    t0 = time.monotonic()
    p.stdin.write(b"\n")
    p.stdin.flush()
    try:
        rc = p.wait(tt.prompt(1.0) + 0.5)
    except subprocess.TimeoutExpired:
        tt.stop(p)
        tt.fail("crawl3 did not end within %.1fs of the byte on stdin" % (tt.prompt(1.0) + 0.5))
    took = time.monotonic() - t0
    for t in threads:
        t.join(5 * tt.SLOW)
    if rc != 0:
        tt.fail("cancelled crawl3: exit status %d; stderr %r" % (rc, "".join(err)))
    if len(out) != before:
        tt.fail("crawl3 printed after the cancel: %r" % out[before:])
    if err:
        tt.fail("cancelled crawl3 wrote on stderr (a leak report or an error): %r" % "".join(err)[:2000])
    print("crawl3 cancelled 20 fetches in flight and ended in %.3fs" % took)
    if took > tt.prompt(1.0):
        tt.fail("crawl3 took %.2fs to end after the cancel" % took)


def complete_test(site, stats, stdin_mode):
    env = dict(os.environ, GORO_LEAKCHECK="1")
    start = site.url("/p/0.html")
    want = cs.expected(site, [start])
    stdin = subprocess.DEVNULL if stdin_mode == "eof" else subprocess.PIPE
    p = tt.start([tt.tool("crawl3"), start], stdin=stdin, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, env=env)
    try:
        o, e = p.communicate(None, timeout=60 * tt.SLOW) if stdin_mode == "eof" else (None, None)
        if stdin_mode == "open":
            # communicate() would close stdin (end of file): keep it open.
            out, err = [], []
            ts = [threading.Thread(target=reader, args=(p.stdout, out), daemon=True),
                  threading.Thread(target=reader, args=(p.stderr, err), daemon=True)]
            for t in ts:
                t.start()
            p.wait(60 * tt.SLOW)
            for t in ts:
                t.join(5 * tt.SLOW)
            o, e = "".join(out).encode(), "".join(err).encode()
            p.stdin.close()
    except subprocess.TimeoutExpired:
        tt.stop(p)
        tt.fail("crawl3 with stdin %s did not finish" % stdin_mode)
    if p.returncode != 0:
        tt.fail("crawl3 with stdin %s: exit status %d; %r" % (stdin_mode, p.returncode, e[-1000:]))
    printed = collections.Counter(o.decode().split("\n")[:-1])
    if sorted(printed) != sorted(want) or max(printed.values()) != 1:
        tt.fail("crawl3 with stdin %s: printed %d URLs, want %d" % (stdin_mode, len(printed), len(want)))
    if b"still alive" in e or b"goroutine" in e:
        tt.fail("crawl3 with stdin %s left goroutines: %r" % (stdin_mode, e[-2000:]))
    print("crawl3 with stdin %s: all %d URLs, no goroutine left" % (stdin_mode, len(want)))


def test():
    site = cs.Site(pages=120, delay=0.002)
    site.add("/slow/index.html", ["%d.html" % i for i in range(NSLOW)])
    for i in range(NSLOW):
        site.add("/slow/%d.html" % i, ["index.html"], delay=10)
    srv, stats = cs.serve(site)
    try:
        cancel_test(site, stats)
        complete_test(site, stats, "eof")
        complete_test(site, stats, "open")
    finally:
        cs.release(site, srv)


tt.main(test)
