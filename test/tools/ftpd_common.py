"""ftpd_common.py - what the ftpd tests share (not a test itself).

A tree to serve (a temporary directory, removed at exit), ftplib sessions
with bounded timeouts, a raw control connection for exact replies, file
hashes, and the goroutine count of a running ftpd from its SIGQUIT dump
(GORO_DUMP_SIGNAL=1).
"""
import atexit
import ftplib
import hashlib
import os
import re
import shutil
import signal
import socket
import tempfile
import time

import tooltest
from tooltest import SLOW, fail

TIMEOUT = 15 * SLOW  # one socket operation of a client


def workdir():
    """A fresh temporary directory, removed when the test exits."""
    d = tempfile.mkdtemp(prefix="ftpd-test-")
    atexit.register(shutil.rmtree, d, True)
    return os.path.realpath(d)


def random_file(path, size, seed=None):
    """Writes size random bytes to path; returns their sha256."""
    data = os.urandom(size)
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def start_ftpd(root, *args, env=None):
    return tooltest.start_server("ftpd", "-root", root, *args, env=env)


def login(server, user="anonymous", passwd="test@example.com", pasv=True):
    """An ftplib session, logged in."""
    f = ftplib.FTP()
    f.connect(server.host, server.port, timeout=TIMEOUT)
    f.login(user, passwd)
    f.set_pasv(pasv)
    return f


def temp_files(root):
    """STOR's temporary files anywhere under root."""
    found = []
    for d, dirs, files in os.walk(root):
        for n in files + dirs:
            if n.startswith(".ftpd-tmp-"):
                found.append(os.path.join(d, n))
    return found


def snapshot(top):
    """Every path under top with its type, size, mtime and content hash
    (symlinks not followed): to show that nothing there changed."""
    snap = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            entry = (st.st_mode, st.st_size, st.st_mtime_ns)
            if os.path.islink(p):
                entry += (os.readlink(p),)
            elif os.path.isfile(p):
                entry += (sha256_file(p),)
            snap[os.path.relpath(p, top)] = entry
    return snap


class Raw:
    """A control connection spoken by hand, for exact replies."""

    def __init__(self, server, source=None):
        self.sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT,
                                             source_address=source)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.buf = self.buf, b""
                if line:
                    return line.decode("utf-8", "replace")
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace") + "\n"

    def reply(self):
        """The next reply (all its lines), or None at EOF."""
        first = self.readline()
        if first is None:
            return None
        if re.match(r"^\d{3}-", first):
            code = first[:3]
            text = first
            while True:
                line = self.readline()
                if line is None:
                    fail("EOF inside a multi-line reply: %r" % text)
                text += line
                if line.startswith(code + " "):
                    return text
        return first

    def cmd(self, line):
        self.send(line + "\r\n")
        r = self.reply()
        if r is None:
            fail("connection closed after %r" % line)
        return r

    def login(self, user="anonymous", passwd="x@example.com"):
        r = self.cmd("USER " + user)
        if not r.startswith("331"):
            fail("USER: %r" % r)
        r = self.cmd("PASS " + passwd)
        if not r.startswith("230"):
            fail("PASS: %r" % r)

    def pasv_connect(self, source=None):
        """PASV and connect to the port it names."""
        r = self.cmd("PASV")
        m = re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", r)
        if not r.startswith("227") or not m:
            fail("PASV: %r" % r)
        v = [int(x) for x in m.groups()]
        host = "%d.%d.%d.%d" % tuple(v[:4])
        return socket.create_connection((host, v[4] * 256 + v[5]), timeout=TIMEOUT,
                                        source_address=source)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def expect(reply, code, what):
    if reply is None or not reply.startswith(str(code)):
        fail("%s: expected %s, got %r" % (what, code, reply))


def goroutines(server):
    """The number of goroutines in a SIGQUIT dump of server (started with
    GORO_DUMP_SIGNAL=1). Two SIGQUITs: the entries between the first
    dump's header and the second's are exactly the first dump."""
    marker = "goro: SIGQUIT: goroutine dump"

    def headers():
        return [i for i, l in enumerate(list(server.lines)) if l.startswith(marker)]

    before = len(headers())
    os.kill(server.proc.pid, signal.SIGQUIT)
    tooltest.wait_until(lambda: len(headers()) >= before + 1, 10, "a goroutine dump")
    os.kill(server.proc.pid, signal.SIGQUIT)
    tooltest.wait_until(lambda: len(headers()) >= before + 2, 10, "a second goroutine dump")
    lines = list(server.lines)
    h = headers()
    dump = lines[h[before] + 1:h[before + 1]]
    return sum(1 for l in dump if re.match(r"^goroutine \d+ \[", l))


def wait_goroutines(server, want, timeout, what):
    """Polls the dump until it shows want goroutines (bounded)."""
    deadline = time.monotonic() + timeout * SLOW
    n = None
    while time.monotonic() < deadline:
        n = goroutines(server)
        if n == want:
            return
        time.sleep(0.1)
    fail("%s: %s goroutines, want %d" % (what, n, want))
