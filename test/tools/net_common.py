"""net_common.py - what the network tools' tests (net_*.py) share, on top
of tooltest.py: line-oriented socket clients with bounded waits, the
goroutine count of a running server (GORO_NET_STATS reports), and
the checks every server gets (flags, port in use, shutdown by signal).
"""
import os
import re
import signal
import socket
import subprocess
import time

import tooltest as t

STATS_ENV = {"GORO_NET_STATS": "50ms"}


class Client:
    """A TCP client reading lines with bounded waits."""

    def __init__(self, port, host="127.0.0.1", rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # A small receive buffer and segment size keep the kernel's
            # buffers for this connection small on both ends (the sender's
            # send buffer grows with the segment size), so a client that
            # does not read soon leaves the server's writes blocked.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        self.sock.settimeout(10 * t.SLOW)
        self.sock.connect((host, port))
        self.buf = b""
        self.eof = False

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        self.buf += data

    def line(self, timeout=5):
        """The next line without its newline; None at end of input.
        Fails the test after timeout*SLOW seconds."""
        deadline = time.monotonic() + timeout * t.SLOW
        while b"\n" not in self.buf:
            if self.eof:
                return None
            try:
                self._fill(deadline)
            except socket.timeout:
                t.fail("no line within %gs (have %r)" % (timeout * t.SLOW, self.buf[:200]))
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def lines(self, n, timeout=5):
        return [self.line(timeout) for _ in range(n)]

    def rest(self, timeout=5):
        """Everything until the server closes (bounded)."""
        deadline = time.monotonic() + timeout * t.SLOW
        while not self.eof:
            try:
                self._fill(deadline)
            except socket.timeout:
                t.fail("the server did not close within %gs (have %r)" % (timeout * t.SLOW, self.buf[:200]))
        data, self.buf = self.buf, b""
        return data.decode("utf-8", "replace")

    def closed_within(self, timeout):
        """True if the server closes within timeout*SLOW seconds (data
        before that is kept in buf)."""
        deadline = time.monotonic() + timeout * t.SLOW
        while not self.eof:
            try:
                self._fill(deadline)
            except socket.timeout:
                return False
        return True

    def nothing_within(self, seconds):
        """True if no byte arrives for seconds (not scaled: a lower bound)."""
        if self.buf:
            return False
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(1, socket.MSG_PEEK)
        except socket.timeout:
            return True
        return False

    def half_close(self):
        self.sock.shutdown(socket.SHUT_WR)

    def close(self):
        self.sock.close()


def closed_port():
    """A loopback port nobody listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def goroutines(srv, timeout=5):
    """The number of goroutines alive in srv (started by start_server_stats):
    the count of its next "NAME: goroutines: N" report (GORO_NET_STATS,
    netcommon.h; it works alike in sanitizer builds, which defer the
    SIGQUIT that goro's own dump needs)."""
    pat = re.compile(r"^\w+: goroutines: (\d+)\n$")
    k = len(srv.lines)
    found = []

    def report():
        found[:] = [m for m in map(pat.match, srv.lines[k:]) if m]
        return found

    t.wait_until(report, timeout, "a goroutine count report")
    return int(found[-1].group(1))


def wait_goroutines(srv, baseline, timeout=10, what="goroutines"):
    """Waits (bounded) until srv's goroutine count is baseline."""
    deadline = time.monotonic() + timeout * t.SLOW
    while True:
        n = goroutines(srv)
        if n == baseline:
            return
        if time.monotonic() > deadline:
            t.fail("%s: %d goroutines, expected %d" % (what, n, baseline))
        time.sleep(0.1)


def check_flags(name, positional=False):
    """-h on stdout exits 0; a bad flag or argument exits 2 with the usage."""
    r = t.run([t.tool(name), "-h"], capture_output=True, timeout=10)
    if r.returncode != 0 or not r.stdout.startswith(b"usage: " + name.encode()):
        t.fail("%s -h: status %d, stdout %r" % (name, r.returncode, r.stdout[:200]))
    bad = [["-nosuchflag"], ["-port"], ["-port", "x"], ["-port", "70000"]] if not positional else [["-nosuchflag", "h:1"]]
    bad.append(["127.0.0.1:1", "extra"] if positional else ["extra"])
    if positional:
        bad.append([])
    for args in bad:
        r = t.run([t.tool(name)] + args, capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
        if r.returncode != 2 or b"usage: " + name.encode() not in r.stderr:
            t.fail("%s %r: status %d (want 2), stderr %r" % (name, args, r.returncode, r.stderr[:300]))


def check_port_in_use(name, *args):
    """A second server on a busy port exits 1 with the listen error."""
    srv = t.start_server(name, *args)
    r = t.run([t.tool(name), "-addr", "127.0.0.1", "-port", str(srv.port)] + list(args),
              capture_output=True, timeout=10)
    want = "%s: listen 127.0.0.1:%d: Address already in use\n" % (name, srv.port)
    if r.returncode != 1 or r.stderr.decode() != want:
        t.fail("%s on a busy port: status %d, stderr %r; want 1 and %r"
               % (name, r.returncode, r.stderr, want))
    check_stop(srv, signal.SIGTERM)


def check_stop(srv, sig, within=3):
    """sig stops srv promptly with exit status 0."""
    start = time.monotonic()
    rc = t.stop(srv.proc, sig, timeout=within)
    took = time.monotonic() - start
    if rc != 0:
        t.fail("status %d after signal %d (want 0); stderr %r" % (rc, sig, srv.stderr_text()[-500:]))
    check_clean(srv.stderr_text(), "server")
    return took


def check_clean(stderr, what):
    """No sanitizer report in a tool's stderr."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    for bad in ("Sanitizer", "runtime error:", "fatal error:"):
        if bad in stderr:
            t.fail("%s: %r in its stderr:\n%s" % (what, bad, stderr[-3000:]))


def start_server_stats(name, *args, env=None):
    """start_server with GORO_NET_STATS set, for goroutines()."""
    e = dict(STATS_ENV)
    e.update(env or {})
    return t.start_server(name, *args, env=e)


class HangingPort:
    """A loopback port where connect(2) hangs: a listener with a full
    backlog that never accepts (the kernel drops further SYNs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fill = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fill.append(s)
        time.sleep(0.1)

    def close(self):
        for s in self.fill:
            s.close()
        self.sock.close()
