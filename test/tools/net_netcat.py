"""net_netcat.py - netcat1, netcat2 (section 8.3) and netcat3 (section 8.4.1,
exercise 8.3), end to end against python servers, clock2 and reverb2."""
import re
import signal
import socket
import subprocess
import threading
import time

import tooltest as t
import net_common as n


def output_until_exit(p, timeout, what):
    """p's whole stdout, with stdin kept open, waiting at most timeout*SLOW
    for p to exit."""
    out = []
    th = threading.Thread(target=lambda: out.append(p.stdout.read()), daemon=True)
    th.start()
    th.join(timeout * t.SLOW)
    try:
        p.wait(1 * t.SLOW)
    except subprocess.TimeoutExpired:
        t.fail("%s did not exit" % what)
    th.join(1 * t.SLOW)
    return out[0] if out else b""


class OneShotServer:
    """Accepts one connection, sends `send`, records what it receives until
    the client's end of input, then (if close) closes."""

    def __init__(self, send=b"", close=True, hold=0.0):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(10 * t.SLOW)
        self.port = self.sock.getsockname()[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.send, self.close, self.hold = send, close, hold
        self.got = b""
        self.got_eof = threading.Event()
        self.conn = None
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        self.conn = c
        c.settimeout(10 * t.SLOW)
        c.sendall(self.send)
        if self.close:
            time.sleep(self.hold)
            c.shutdown(socket.SHUT_WR)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                self.got += d
        except OSError:
            pass
        self.got_eof.set()


def test_netcat1():
    data = b"".join(b"line %d\n" % i for i in range(2000)) + b"no newline at the end"
    s = OneShotServer(send=data)
    r = t.run([t.tool("netcat1"), s.addr], capture_output=True, stdin=subprocess.DEVNULL)
    if r.returncode != 0 or r.stdout != data:
        t.fail("netcat1: status %d, %d bytes of %d; stderr %r"
               % (r.returncode, len(r.stdout), len(data), r.stderr))
    n.check_clean(r.stderr, "netcat1")
    # Against clock2: lines until SIGINT, then exit 0.
    clock = t.start_server("clock2", "-interval", "100ms")
    p = t.start([t.tool("netcat1"), clock.addr], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(2):
        l = p.stdout.readline().decode()
        if not re.match(r"^\d\d:\d\d:\d\d\n$", l):
            t.fail("netcat1 from clock2: %r" % l)
    if t.stop(p, signal.SIGINT) != 0:
        t.fail("netcat1: status %d after SIGINT" % p.returncode)
    n.check_stop(clock, signal.SIGTERM)


def test_netcat2():
    # Sends stdin; exits 0 when stdin ends even though the server stays.
    s = OneShotServer(close=False)
    text = b"hello\nworld\r\n" + bytes(range(256)) * 100
    r = t.run([t.tool("netcat2"), s.addr], input=text, capture_output=True, timeout=10)
    if r.returncode != 0:
        t.fail("netcat2: status %d, stderr %r" % (r.returncode, r.stderr))
    if not s.got_eof.wait(5 * t.SLOW) or s.got != text:
        t.fail("netcat2 sent %d bytes of %d" % (len(s.got), len(text)))
    # And prints what the server sends, ending when the server closes.
    s = OneShotServer(send=b"greetings\n", hold=0.2)
    p = t.start([t.tool("netcat2"), s.addr], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = output_until_exit(p, 5, "netcat2 when the server closed")
    if p.returncode != 0 or out != b"greetings\n":
        t.fail("netcat2: status %d, out %r" % (p.returncode, out))


def test_netcat3_reverb2():
    # Several concurrent shouts, stdin closed at once: netcat3 still prints
    # every echo (exercise 8.3 with reverb2's exercise 8.4), then exits 0
    # when the server closes.
    srv = t.start_server("reverb2", "-delay", "300ms")
    shouts = ["Hello?", "Is there anybody there?", "Yoo-hoo!", "Ciao"]
    start = time.monotonic()
    r = t.run([t.tool("netcat3"), srv.addr], input="".join(s + "\n" for s in shouts).encode(),
              capture_output=True, timeout=15)
    took = time.monotonic() - start
    if r.returncode != 0:
        t.fail("netcat3: status %d, stderr %r" % (r.returncode, r.stderr))
    n.check_clean(r.stderr, "netcat3")
    got = r.stdout.decode().split("\n")
    if got[-1] != "":
        t.fail("netcat3 output does not end with a newline: %r" % got)
    got = got[:-1]
    want = sorted("\t" + f(s) for s in shouts for f in (str.upper, str, str.lower))
    if sorted(got) != want:
        t.fail("netcat3 got %r, want (in some order) %r" % (got, want))
    for s in shouts:  # each shout fades in order
        idx = [got.index("\t" + f(s)) for f in (str.upper, str, str.lower)]
        if idx != sorted(idx):
            t.fail("echoes of %r out of order: %r" % (s, got))
    if took > 1.6 + 0.5 * (t.SLOW - 1):  # overlapping 0.6 s, serially 2.4 s
        t.fail("netcat3 + reverb2 took %.2fs: the shouts did not overlap" % took)
    n.check_stop(srv, signal.SIGTERM)


def test_netcat3_signal_and_server_close():
    clock = t.start_server("clock2", "-interval", "100ms")
    p = t.start([t.tool("netcat3"), clock.addr], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.stdout.readline()
    if t.stop(p, signal.SIGINT) != 0:
        t.fail("netcat3: status %d after SIGINT" % p.returncode)
    p = t.start([t.tool("netcat3"), clock.addr], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.stdout.readline()
    if t.stop(p, signal.SIGTERM) != 0:
        t.fail("netcat3: status %d after SIGTERM" % p.returncode)
    # The server closes while stdin stays open: netcat3 exits 0.
    s = OneShotServer(send=b"bye\n")
    p = t.start([t.tool("netcat3"), s.addr], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = output_until_exit(p, 5, "netcat3 when the server closed")
    if p.returncode != 0 or out != b"bye\n":
        t.fail("netcat3 after the server closed: status %d, out %r" % (p.returncode, out))
    n.check_stop(clock, signal.SIGTERM)


def test_errors():
    port = n.closed_port()
    for name in ("netcat1", "netcat2", "netcat3"):
        n.check_flags(name, positional=True)
        r = t.run([t.tool(name), "127.0.0.1:%d" % port], capture_output=True, stdin=subprocess.DEVNULL)
        want = "%s: dial 127.0.0.1:%d: Connection refused\n" % (name, port)
        if r.returncode != 1 or r.stderr.decode() != want:
            t.fail("%s to a closed port: status %d, stderr %r; want 1, %r"
                   % (name, r.returncode, r.stderr, want))
        r = t.run([t.tool(name), "no-port-here"], capture_output=True, stdin=subprocess.DEVNULL)
        if r.returncode != 1 or not r.stderr.decode().startswith(name + ": dial no-port-here: "):
            t.fail("%s no-port-here: status %d, stderr %r" % (name, r.returncode, r.stderr))


def test_signal_while_dialling():
    hang = n.HangingPort()
    for name, sig in (("netcat1", signal.SIGINT), ("netcat3", signal.SIGTERM)):
        p = t.start([t.tool(name), "127.0.0.1:%d" % hang.port], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        if p.poll() is not None:
            t.fail("%s: the dial did not hang (status %d)" % (name, p.returncode))
        start = time.monotonic()
        if t.stop(p, sig, timeout=3) != 0:
            t.fail("%s: status %d after a signal while dialling" % (name, p.returncode))
        if time.monotonic() - start > 2 * t.SLOW:
            t.fail("%s took %.1fs to stop while dialling" % (name, time.monotonic() - start))
    hang.close()


def main():
    test_errors()
    test_netcat1()
    test_netcat2()
    test_netcat3_reverb2()
    test_netcat3_signal_and_server_close()
    test_signal_while_dialling()


t.main(main)
