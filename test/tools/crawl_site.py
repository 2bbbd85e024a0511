"""crawl_site.py - the crawler tests' web site and HTTP server (not a test).

Site(pages=N) generates a site of N+ pages with every kind of link a
crawler must handle: relative (x.html, ./x.html, ../p/x.html), absolute
paths, full URLs, protocol-relative URLs, fragments, query strings,
directory URLs (ending in /), cycles, a redirect whose target's relative
links only resolve against the target's URL, a page that 404s, links to a
closed port on 127.0.0.1 (unreachable), a link to another host name
(localhost, same server), and links that are not http at all.

serve(site) starts a ThreadingHTTPServer on 127.0.0.1 (a free port) in
this process. Each request sleeps the page's delay (slow pages wait on an
event that release() sets, so a test ends them); the server counts the
requests in flight and keeps the maximum, and counts GETs per path. A
request counts as in flight from its arrival until just before its
response is sent, so a client that holds a token until it has the whole
response can never be seen holding more than its tokens.

expected(site, starts, depth, hosts) computes, independently of the tools
(html.parser and urllib.parse), the URLs a crawler must print: a
breadth-first search from the start URLs, to depth links, only on hosts
(HOST:PORT) when given.
"""
import html.parser
import http.server
import socketserver
import threading
import time
import urllib.parse

UNREACHABLE = "http://127.0.0.1:1/nowhere.html"


class Site:
    def __init__(self, pages=300, delay=0.005):
        self.port = None  # set by serve()
        self.pages = {}  # path (with query) -> (html, delay) ; html may use {base}
        self.redirects = {}  # path -> target path
        self.delay = delay
        self.slow = threading.Event()  # set: slow pages return at once
        n = pages
        self.n = n
        styles = [
            lambda c: "%d.html" % c,
            lambda c: "./%d.html" % c,
            lambda c: "/p/%d.html" % c,
            lambda c: "{base}/p/%d.html" % c,
            lambda c: "../p/%d.html" % c,
            lambda c: "{proto_rel}/p/%d.html" % c,
        ]
        ndirs = 40
        nq = 30
        for i in range(n):
            links = []
            for k, c in enumerate((3 * i + 1, 3 * i + 2, 3 * i + 3)):
                if c < n:
                    links.append(styles[(i + k) % len(styles)](c))
            links += ["#top", "%d.html#sec" % i, "/p/0.html", "%d.html" % (i // 3)]
            if i % 7 == 0:
                links.append("/d/%d/" % (i % ndirs))
            if i % 11 == 0:
                links.append("/q?id=%d" % (i % nq))
            if i % 13 == 0:
                links.append("../q?id=%d&x=1#frag" % ((i + 1) % nq))
            if i % 17 == 0:
                links += [UNREACHABLE, "/missing.html", "mailto:nobody@example.invalid",
                          "javascript:void(0)"]
            if i == 5:
                links += ["/old.html", "{other}/x/other.html"]
            self.add("/p/%d.html" % i, links)
        for j in range(ndirs):
            links = ["../%d/" % ((j + 1) % ndirs), "./", "sub.html", "../../p/%d.html" % (j * 5 % n)]
            self.add("/d/%d/" % j, links)
            self.add("/d/%d/sub.html" % j, ["./", "../%d/sub.html" % ((j + 3) % ndirs), "#x"])
        for k in range(nq):
            self.add("/q?id=%d" % k, ["?id=%d" % ((k + 1) % nq), "/p/%d.html" % (k * 7 % n)])
            self.add("/q?id=%d&x=1" % k, ["q?id=%d" % k])
        # The redirect: /old.html -> /r/target.html, whose relative link
        # t2.html is /r/t2.html (and /t2.html, which 404s, if resolved
        # against the requested URL instead).
        self.redirects["/old.html"] = "/r/target.html"
        self.add("/r/target.html", ["t2.html", "../p/1.html"])
        self.add("/r/t2.html", ["target.html"])
        # Another host name for the same server: crawled without -mirror.
        self.add("/x/other.html", ["{base}/p/2.html", "more.html"])
        self.add("/x/more.html", ["other.html"])
        # Exercise 8.6's trap: x is 2 links from s by a (slow), 4 by the
        # b chain (fast): a crawler that keeps the first depth it saw
        # gets the depth of x, and of what follows x, wrong.
        self.add("/depth/s.html", ["a.html", "b1.html"])
        self.add("/depth/a.html", ["x.html"], delay=0.4)
        self.add("/depth/b1.html", ["b2.html"])
        self.add("/depth/b2.html", ["b3.html"])
        self.add("/depth/b3.html", ["x.html"])
        self.add("/depth/x.html", ["y.html"])
        self.add("/depth/y.html", ["z.html"])
        self.add("/depth/z.html", ["w.html"])
        self.add("/depth/w.html", ["s.html"])

    def add(self, path, links, delay=None):
        body = "".join('<li><a href="%s">link %d</a>\n' % (h, k) for k, h in enumerate(links))
        page = ("<!DOCTYPE html>\n<html><head><title>%s</title></head>\n"
                "<body><h1 id=top>%s</h1><ul>\n%s</ul></body></html>\n" % (path, path, body))
        self.pages[path] = (page, self.delay if delay is None else delay)

    def add_raw(self, path, page, delay=None, status=200):
        self.pages[path] = (page, self.delay if delay is None else delay, status)

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    def html(self, path):
        """The page as served (None if there is no such page)."""
        p = self.pages.get(path)
        if p is None:
            return None
        return p[0].replace("{base}", self.base).replace(
            "{proto_rel}", "//127.0.0.1:%d" % self.port).replace(
            "{other}", "http://localhost:%d" % self.port)


class _LinkParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            for k, v in attrs:
                if k == "href" and v is not None:
                    self.hrefs.append(v)


def hrefs(text):
    p = _LinkParser()
    p.feed(text)
    p.close()
    return p.hrefs


def hostport(url):
    return urllib.parse.urlsplit(url).netloc


def page_links(site, url):
    """(ok, links) of url as a crawler sees it: ok False when the fetch
    fails; links absolute, without fragments, http(s) only, resolved
    against the URL after redirects."""
    sp = urllib.parse.urlsplit(url)
    if sp.netloc not in ("127.0.0.1:%d" % site.port, "localhost:%d" % site.port):
        return False, []
    path = sp.path + ("?" + sp.query if sp.query else "")
    final = url
    for _ in range(10):
        if path in site.redirects:
            path = site.redirects[path]
            final = "http://%s%s" % (sp.netloc, path)
        else:
            break
    text = site.html(path)
    if text is None:
        return False, []
    out = []
    for h in hrefs(text):
        u = urllib.parse.urljoin(final, h.strip())
        u = urllib.parse.urldefrag(u)[0]
        if urllib.parse.urlsplit(u).scheme in ("http", "https"):
            out.append(u)
    return True, out


def expected(site, starts, depth=None, hosts=None):
    """{url: bfs depth} of every URL a crawler prints."""
    dist = {}
    frontier = []
    for s in starts:
        if s not in dist:
            dist[s] = 0
            frontier.append(s)
    d = 0
    while frontier and (depth is None or d < depth):
        nxt = []
        for u in frontier:
            _, links = page_links(site, u)
            for v in links:
                if hosts is not None and hostport(v) not in hosts:
                    continue
                if v not in dist:
                    dist[v] = d + 1
                    nxt.append(v)
        frontier = nxt
        d += 1
    return dist


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up (a cancelled fetch) is not an error


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.inflight = 0
        self.max = 0
        self.gets = {}

    def reset(self):
        with self.lock:
            self.max = self.inflight
            self.gets = {}


def serve(site):
    """Starts the server; returns (server, stats). site.port is set."""
    stats = Stats()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The response in one write, at once: no Nagle and delayed-ACK
        # stall on a kept-alive connection.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def do_GET(self):
            path = self.path
            with stats.lock:
                stats.inflight += 1
                stats.max = max(stats.max, stats.inflight)
                stats.gets[path] = stats.gets.get(path, 0) + 1
            try:
                page = site.pages.get(path)
                delay = page[1] if page is not None else site.delay
                if delay >= 1:
                    site.slow.wait(delay)
                elif delay > 0:
                    time.sleep(delay)
                status, headers, body = 200, [("Content-Type", "text/html; charset=utf-8")], b""
                if path in site.redirects:
                    status, headers = 302, [("Location", site.redirects[path])]
                elif page is None:
                    status, body = 404, b"<html><body>not found</body></html>\n"
                else:
                    if len(page) > 2:
                        status = page[2]
                    body = site.html(path).encode()
            finally:
                with stats.lock:
                    stats.inflight -= 1
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = _Server(("127.0.0.1", 0), Handler)
    site.port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return srv, stats


def release(site, srv):
    """Ends slow pages and stops the server."""
    site.slow.set()
    srv.shutdown()
    srv.server_close()
