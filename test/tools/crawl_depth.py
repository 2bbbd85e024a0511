"""crawl_depth.py - exercise 8.6: -depth N prints exactly the URLs a
breadth-first search (computed here) reaches in at most N links, for
crawl1, crawl2 and crawl3.

Besides the big site at several depths, the site's /depth/ pages set the
trap of concurrent crawling: x is 2 links from s through a slow page and
4 through a chain of fast ones, so x is first seen at depth 4. With
-depth 3 x must still be crawled (and y, 3 links away through x); with
-depth 5, z and w (4 and 5 links away by the short path) must be crawled
though x's links first arrived with depths 5 and 6.
"""
import collections
import subprocess

import crawl_site as cs
import tooltest as tt

CRAWLERS = ("crawl1", "crawl2", "crawl3")


def check(name, site, starts, depth):
    want = cs.expected(site, starts, depth=depth)
    r = tt.run([tt.tool(name), "-depth", str(depth)] + starts, capture_output=True,
               stdin=subprocess.DEVNULL, timeout=60)
    if r.returncode != 0:
        tt.fail("%s -depth %d: exit status %d; stderr %r" % (name, depth, r.returncode, r.stderr[-1000:]))
    lines = r.stdout.decode().split("\n")[:-1]
    printed = collections.Counter(lines)
    dups = [u for u, k in printed.items() if k > 1]
    missing = sorted(set(want) - set(printed))
    extra = sorted(set(printed) - set(want))
    if dups or missing or extra:
        tt.fail("%s -depth %d %s: duplicates %s; missing %s; unexpected %s"
                % (name, depth, starts, dups[:5], missing[:5], extra[:5]))
    return len(want)


def test():
    site = cs.Site(pages=300, delay=0.005)
    srv, stats = cs.serve(site)
    try:
        trap = [site.url("/depth/s.html")]
        big = [site.url("/p/0.html")]
        for name in CRAWLERS:
            sizes = []
            for d in (0, 1, 2, 4):
                sizes.append(check(name, site, big, d))
            for d in (3, 5):
                sizes.append(check(name, site, trap, d))
            sizes.append(check(name, site, big + trap, 2))
            print("%s: -depth exact (%s URLs)" % (name, ", ".join(map(str, sizes))))
        # The trap is a trap: the first depth seen for x is too large.
        if cs.expected(site, trap, depth=3).get(site.url("/depth/x.html")) != 2:
            tt.fail("the site's depth trap is broken")
    finally:
        cs.release(site, srv)


tt.main(test)
