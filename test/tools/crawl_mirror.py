"""crawl_mirror.py - exercise 8.7: crawl3 -mirror DIR crawls only the start
URLs' hosts, saves each page under DIR/HOST:PORT/PATH (index.html for a
path ending in /, the query kept in the name), and rewrites the links
among them to relative paths of the saved files: every rewritten link,
parsed back with html.parser and resolved as a browser resolves it against
the file, names the file of the URL the original link pointed to, and that
file exists (unless the page failed: the 404). Links off the hosts stay
absolute.
"""
import collections
import os
import posixpath
import shutil
import subprocess
import tempfile
import urllib.parse

import crawl_site as cs
import tooltest as tt


def local_file(url):
    """The file a mirror saves url under, relative to DIR (computed here
    from the contract, not from the tool)."""
    sp = urllib.parse.urlsplit(url)
    segs = [urllib.parse.unquote(s) for s in sp.path.split("/")]
    name = segs[-1] or "index.html"
    dirs = [s for s in segs[:-1] if s]
    if sp.query:
        name += "?" + sp.query
    return "/".join([sp.netloc] + dirs + [name])


def run_mirror(site, starts, hosts, mdir):
    """crawl3 -mirror mdir starts, checked; returns (pages, links)."""
    want = cs.expected(site, starts, hosts=hosts)
    everything = cs.expected(site, starts)
    if not any(cs.hostport(u) not in hosts for u in everything):
        tt.fail("the site links no other host")
    r = tt.run([tt.tool("crawl3"), "-mirror", mdir] + starts, capture_output=True,
               stdin=subprocess.DEVNULL, timeout=60)
    err = r.stderr.decode()
    if r.returncode != 0:
        tt.fail("crawl3 -mirror: exit status %d; stderr %r" % (r.returncode, err[-1000:]))
    printed = collections.Counter(r.stdout.decode().split("\n")[:-1])
    if sorted(printed) != sorted(want) or max(printed.values()) != 1:
        tt.fail("crawl3 -mirror printed %d URLs, want %d on %s (missing %s, extra %s)"
                % (len(printed), len(want), hosts, sorted(set(want) - set(printed))[:5],
                   sorted(set(printed) - set(want))[:5]))
    for ln in err.split("\n"):
        if ln and not ("getting" in ln and "missing.html: HTTP status 404" in ln):
            tt.fail("crawl3 -mirror: unexpected stderr line %r" % ln)

    saved = {}  # file -> url
    for url in want:
        ok, _ = cs.page_links(site, url)
        f = local_file(url)
        path = os.path.join(mdir, f)
        if ok != os.path.isfile(path):
            tt.fail("%s (fetch ok: %s): saved file %s exists: %s" % (url, ok, f, os.path.isfile(path)))
        if ok:
            saved[f] = url
    files = []
    for root, dirs, names in os.walk(mdir):
        files += [os.path.relpath(os.path.join(root, n), mdir) for n in names]
    stray = sorted(set(files) - set(saved))
    if stray:
        tt.fail("files saved for no page (or left temporary): %s" % stray[:5])

    rewritten = updirs = dirlinks = 0
    for f, url in saved.items():
        with open(os.path.join(mdir, f), encoding="utf-8") as fh:
            text = fh.read()
        _, links = cs.page_links(site, url)
        want_local = {local_file(u) for u in links if cs.hostport(u) in hosts}
        want_remote = {u for u in links if cs.hostport(u) not in hosts}
        got_local, got_remote = set(), set()
        for h in cs.hrefs(text):
            sp = urllib.parse.urlsplit(h)
            if sp.scheme:
                if sp.scheme in ("http", "https"):
                    if cs.hostport(h) in hosts:
                        tt.fail("%s: link %r to a mirrored host not rewritten" % (f, h))
                    got_remote.add(urllib.parse.urldefrag(h)[0])
                continue
            if sp.netloc or h.startswith("/"):
                tt.fail("%s: link %r is not a relative path" % (f, h))
            rel = urllib.parse.unquote(urllib.parse.urldefrag(h)[0])
            if rel == "" or rel.endswith("/"):
                tt.fail("%s: link %r names a directory, not a file" % (f, h))
            target = posixpath.normpath(posixpath.join(posixpath.dirname(f), rel))
            if target.startswith("../"):
                tt.fail("%s: link %r leaves the mirror" % (f, h))
            got_local.add(target)
            rewritten += 1
            updirs += h.startswith("../")
            dirlinks += target.endswith("/index.html")
            if target not in saved:
                tu = [u for u in links if local_file(u) == target]
                if not tu or cs.page_links(site, tu[0])[0]:
                    tt.fail("%s: link %r -> %s: no such file" % (f, h, target))
        if got_local != want_local:
            tt.fail("%s: links lead to %s, want %s" % (f, sorted(got_local), sorted(want_local)))
        if got_remote != want_remote:
            tt.fail("%s: absolute links %s, want %s" % (f, sorted(got_remote), sorted(want_remote)))
    if rewritten < len(saved) or updirs == 0 or dirlinks == 0:
        tt.fail("too few links checked: %d rewritten, %d with ../, %d to index.html"
                % (rewritten, updirs, dirlinks))
    return saved, rewritten


def test():
    site = cs.Site(pages=300, delay=0.005)
    srv, stats = cs.serve(site)
    tmp = tempfile.mkdtemp(prefix="crawl_mirror.")
    try:
        host = "127.0.0.1:%d" % site.port
        other = "localhost:%d" % site.port
        start = site.url("/p/0.html")
        mdir = os.path.join(tmp, "m")
        saved, rewritten = run_mirror(site, [start], {host}, mdir)
        old = open(os.path.join(mdir, local_file(site.url("/old.html"))), encoding="utf-8").read()
        if "<title>/r/target.html</title>" not in old:
            tt.fail("the redirect's page is not the target's")
        print("crawl3 -mirror, one host: %d pages saved, %d links rewritten and resolved"
              % (len(saved), rewritten))
        # Two start hosts: links between them are rewritten too (to
        # ../../localhost:PORT/...), into a directory that does not exist yet.
        mdir = os.path.join(tmp, "two", "levels")
        saved, rewritten = run_mirror(site, [start, "http://%s/x/other.html" % other], {host, other}, mdir)
        if not any(f.startswith(other + "/") for f in saved):
            tt.fail("nothing saved for %s" % other)
        print("crawl3 -mirror, two hosts: %d pages saved, %d links rewritten and resolved"
              % (len(saved), rewritten))
    finally:
        cs.release(site, srv)
        shutil.rmtree(tmp, ignore_errors=True)


tt.main(test)
