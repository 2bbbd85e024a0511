#!/usr/bin/env python3
"""tools_crawl.py - load benchmark of crawl3 (not run by make check).

Serves a generated site of 2,000+ pages (test/tools/crawl_site.py) from a
threaded Python HTTP server on 127.0.0.1 and times crawl3 (20 crawler
goroutines) over all of it, ROUNDS times, with the server answering at
once and after a per-page delay (a slow server: there 20 workers bound the
rate at 20/delay pages/s). crawl2 (a goroutine per link, 20 tokens) runs
beside it for comparison. Prints pages/s (the median round) and the most
requests the server saw in flight. Measured and reported, never asserted.

usage: tools_crawl.py [BUILDDIR]   (default: $top_builddir or .)
environment: ROUNDS (default 3), PAGES (default 2000)
"""
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "tools"))
import crawl_site as cs  # noqa: E402


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("top_builddir", ".")
    rounds = int(os.environ.get("ROUNDS", "3"))
    pages = int(os.environ.get("PAGES", "2000"))
    print("crawl benchmark: %d rounds, site of %d+ pages, Python ThreadingHTTPServer on 127.0.0.1"
          % (rounds, pages))
    print("%-8s %-10s %8s %10s %12s %10s" % ("tool", "delay", "pages", "median s", "pages/s", "in flight"))
    for delay in (0.0, 0.010):
        site = cs.Site(pages=pages, delay=delay)
        srv, stats = cs.serve(site)
        try:
            start = site.url("/p/0.html")
            want = len(cs.expected(site, [start]))
            for name in ("crawl3", "crawl2"):
                times, maxin = [], 0
                for _ in range(rounds):
                    stats.reset()
                    t0 = time.monotonic()
                    r = subprocess.run([os.path.join(build, "tools", name), start],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, timeout=600)
                    times.append(time.monotonic() - t0)
                    got = r.stdout.count(b"\n")
                    if r.returncode != 0 or got != want:
                        print("%s: exit status %d, %d URLs printed, %d expected"
                              % (name, r.returncode, got, want))
                        return 1
                    maxin = max(maxin, stats.max)
                med = statistics.median(times)
                print("%-8s %-10s %8d %10.3f %12.0f %10d"
                      % (name, "%gms" % (delay * 1000), want, med, want / med, maxin))
        finally:
            cs.release(site, srv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
