"""crawl_fetchfirst.py - exercise 8.11: fetchfirst fetches every URL at
once, prints the body of the first HTTP 200 response, and cancels the
others: with a page that takes 10 s and one that takes 0.1 s it prints the
fast one's body, byte for byte, and ends well before the slow one would
(under 3 s), whatever the order of the arguments, with no goroutine left.
Failed fetches (a 404, a closed port) do not count; when all fail, each
is reported as `fetchfirst: ...' on stderr and the exit status is 1.
"""
import os
import subprocess
import time

import crawl_site as cs
import tooltest as tt

FAST = "fast page \u2713\nsecond line\n" + "x" * 100000 + "\nend\n"
MEDIUM = "<html><body>medium</body></html>\n"


def fetchfirst(args, timeout=20):
    env = dict(os.environ, GORO_LEAKCHECK="1")
    t0 = time.monotonic()
    r = tt.run([tt.tool("fetchfirst")] + args, capture_output=True, stdin=subprocess.DEVNULL,
               env=env, timeout=timeout)
    return r, time.monotonic() - t0


def test():
    r = tt.run([tt.tool("fetchfirst"), "-h"], capture_output=True, timeout=10)
    if r.returncode != 0 or not r.stdout.decode().startswith("usage: fetchfirst "):
        tt.fail("fetchfirst -h: status %d, %r" % (r.returncode, r.stdout[:200]))
    for bad in ([], ["-nosuch", "http://127.0.0.1:1/"], ["ftp://127.0.0.1:1/"], ["nonsense"]):
        r = tt.run([tt.tool("fetchfirst")] + bad, capture_output=True, timeout=10)
        if r.returncode != 2 or "usage: fetchfirst " not in r.stderr.decode():
            tt.fail("fetchfirst %r: status %d (want 2), stderr %r" % (bad, r.returncode, r.stderr[:300]))

    site = cs.Site(pages=1)
    site.add_raw("/fast.html", FAST, delay=0.1)
    site.add_raw("/medium.html", MEDIUM, delay=0.3)
    site.add_raw("/slow.html", "slow page\n", delay=10)
    site.add_raw("/slow2.html", "slow page 2\n", delay=10)
    site.add_raw("/teapot.html", "I am a teapot\n", delay=0, status=418)
    srv, stats = cs.serve(site)
    try:
        fast, slow, slow2 = site.url("/fast.html"), site.url("/slow.html"), site.url("/slow2.html")
        for args in ([slow, fast], [fast, slow], [slow, slow2, fast]):
            r, took = fetchfirst(args)
            if r.returncode != 0 or r.stdout != FAST.encode():
                tt.fail("fetchfirst %s: status %d, %d bytes (want the fast page's %d); stderr %r"
                        % (args, r.returncode, len(r.stdout), len(FAST.encode()), r.stderr[-500:]))
            if r.stderr:
                tt.fail("fetchfirst %s wrote on stderr: %r" % (args, r.stderr[-2000:]))
            print("fetchfirst %d URLs: the fast page in %.2fs" % (len(args), took))
            if took >= 3 * tt.SLOW:
                tt.fail("fetchfirst took %.2fs: the slow fetches were not cancelled" % took)

        # Failures do not count: the one that answers 200 wins.
        args = [site.url("/missing.html"), cs.UNREACHABLE, site.url("/teapot.html"),
                site.url("/medium.html")]
        r, took = fetchfirst(args)
        if r.returncode != 0 or r.stdout != MEDIUM.encode():
            tt.fail("fetchfirst %s: status %d, stdout %r, stderr %r" % (args, r.returncode, r.stdout[:200], r.stderr))

        # All fail: each reported, exit 1.
        args = [site.url("/missing.html"), cs.UNREACHABLE, site.url("/teapot.html")]
        r, took = fetchfirst(args)
        lines = r.stderr.decode().splitlines()
        if r.returncode != 1 or r.stdout or len(lines) != 3 or not all(
                ln.startswith("fetchfirst: ") for ln in lines):
            tt.fail("fetchfirst (all failing): status %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr))
        for u in args:
            if not any(u in ln for ln in lines):
                tt.fail("the failure of %s is not reported: %r" % (u, lines))
        print("fetchfirst, all failing: exit 1; " + "; ".join(lines))
    finally:
        cs.release(site, srv)


tt.main(test)
