"""crawl_all.py - crawl1, crawl2 and crawl3 over a generated site of 400+
pages (crawl_site.py): every reachable URL printed exactly once, and
nothing else; each page requested once; failures (a 404, a closed port)
reported on stderr with exit status 0; a closed stdout ends the crawl
(exit 1); crawl2 and crawl3 never more than 20 requests in flight, crawl1
more (it is unbounded); -h and bad flags.
"""
import collections
import subprocess

import crawl_site as cs
import tooltest as tt

CRAWLERS = ("crawl1", "crawl2", "crawl3")


def check_flags(name):
    r = tt.run([tt.tool(name), "-h"], capture_output=True, timeout=10)
    if r.returncode != 0 or not r.stdout.decode().startswith("usage: %s " % name):
        tt.fail("%s -h: status %d, stdout %r" % (name, r.returncode, r.stdout[:200]))
    if "-depth N" not in r.stdout.decode():
        tt.fail("%s -h does not document -depth" % name)
    for bad in (["-nosuch", "http://127.0.0.1:1/"], [], ["-depth"], ["-depth", "x", "http://127.0.0.1:1/"],
                ["ftp://127.0.0.1:1/"], ["not a url"], ["127.0.0.1:1"]):
        r = tt.run([tt.tool(name)] + bad, capture_output=True, stdin=subprocess.DEVNULL, timeout=10)
        if r.returncode != 2 or "usage: %s " % name not in r.stderr.decode() or r.stdout:
            tt.fail("%s %r: status %d (want 2), stderr %r, stdout %r"
                    % (name, bad, r.returncode, r.stderr[:300], r.stdout[:100]))
    # -mirror is crawl3's alone.
    if name != "crawl3":
        r = tt.run([tt.tool(name), "-mirror", "x", "http://127.0.0.1:1/"], capture_output=True,
                   stdin=subprocess.DEVNULL, timeout=10)
        if r.returncode != 2:
            tt.fail("%s -mirror: status %d, want 2" % (name, r.returncode))


def crawl_once(name, site, stats, want):
    stats.reset()
    start = site.url("/p/0.html")
    r = tt.run([tt.tool(name), start], capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    out, err = r.stdout.decode(), r.stderr.decode()
    if r.returncode != 0:
        tt.fail("%s: exit status %d; stderr %r" % (name, r.returncode, err[-2000:]))
    lines = out.split("\n")
    if lines[-1] != "":
        tt.fail("%s: output does not end with a newline" % name)
    printed = collections.Counter(lines[:-1])
    dups = [u for u, k in printed.items() if k > 1]
    if dups:
        tt.fail("%s printed %d URLs more than once, e.g. %s" % (name, len(dups), dups[:5]))
    missing = sorted(set(want) - set(printed))
    extra = sorted(set(printed) - set(want))
    if missing or extra:
        tt.fail("%s: %d URLs missing (e.g. %s), %d unexpected (e.g. %s)"
                % (name, len(missing), missing[:5], len(extra), extra[:5]))

    # Exactly the failures expected, each reported once, as NAME: ...
    errs = [ln for ln in err.split("\n") if ln]
    for ln in errs:
        if not ln.startswith(name + ": "):
            tt.fail("%s: stderr line %r is not `%s: ...'" % (name, ln, name))
    failing = [u for u in want if not cs.page_links(site, u)[0]]
    for u in failing:
        k = sum(1 for ln in errs if ("getting %s:" % u) in ln)
        if k != 1:
            tt.fail("%s: the failure of %s reported %d times; stderr %r" % (name, u, k, err))
    if len(errs) != len(failing):
        tt.fail("%s: %d lines on stderr, %d failures expected: %r" % (name, len(errs), len(failing), err))
    if not any(cs.UNREACHABLE in ln for ln in errs) or not any("missing.html: HTTP status 404" in ln for ln in errs):
        tt.fail("%s: stderr lacks the unreachable host or the 404: %r" % (name, err))

    # Each page requested once (a redirect's target also through it).
    with stats.lock:
        gets = dict(stats.gets)
        maxin = stats.max
    targets = collections.Counter(site.redirects.values())
    for path, k in gets.items():
        if k > 1 + targets.get(path, 0):
            tt.fail("%s requested %s %d times" % (name, path, k))
    return maxin


def check_closed_stdout(name, site):
    """A reader that goes away ends the crawl: exit 1, `NAME: writing stdout: ...'."""
    p = tt.start([tt.tool(name), site.url("/p/0.html")], stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()
    try:
        err = p.communicate(timeout=20 * tt.SLOW)[1].decode()
    except subprocess.TimeoutExpired:
        tt.stop(p)
        tt.fail("%s went on crawling with its stdout closed" % name)
    if p.returncode != 1 or (name + ": writing stdout: ") not in err:
        tt.fail("%s with stdout closed: status %d, stderr %r" % (name, p.returncode, err[-500:]))


def test():
    for name in CRAWLERS:
        check_flags(name)
    site = cs.Site(pages=300, delay=0.05)
    srv, stats = cs.serve(site)
    try:
        want = cs.expected(site, [site.url("/p/0.html")])
        if len(want) < 300:
            tt.fail("the site has only %d reachable pages" % len(want))
        for name in CRAWLERS:
            maxin = crawl_once(name, site, stats, want)
            print("%s: %d URLs, at most %d requests in flight" % (name, len(want), maxin))
            if name == "crawl1":
                # Unbounded: a level of the site's tree (81, then 243
                # pages) is requested at once.
                if maxin <= 20:
                    tt.fail("crawl1 had at most %d requests in flight; it is not bounded by 20" % maxin)
            elif maxin > 20:
                tt.fail("%s had %d requests in flight (at most 20)" % (name, maxin))
            elif maxin < 2:
                tt.fail("%s fetched one page at a time" % name)
            check_closed_stdout(name, site)
    finally:
        cs.release(site, srv)


tt.main(test)
