"""net_clock.py - clock1, clock2 (section 8.2) and clockwall (exercise 8.1),
end to end on 127.0.0.1: concurrent and sequential clients, TZ, the wall's
rows, signals, errors, and no goroutine left per connection."""
import re
import signal
import socket
import subprocess
import threading
import time

import tooltest as t
import net_common as n

TIME = re.compile(r"^\d\d:[0-5]\d:[0-6]\d$")


def secs(hms):
    h, m, s = map(int, hms.split(":"))
    return h * 3600 + m * 60 + s


def check_times(lines, what):
    for l in lines:
        if l is None or not TIME.match(l):
            t.fail("%s: %r is not an HH:MM:SS line (all: %r)" % (what, l, lines))


def test_clock2_concurrent():
    srv = n.start_server_stats("clock2", "-interval", "100ms")
    base = n.goroutines(srv)
    a, b = n.Client(srv.port), n.Client(srv.port)
    # Both connected at once, both get lines, interleaved in time.
    la = a.lines(3)
    lb = b.lines(3)
    check_times(la + lb, "clock2")
    la += a.lines(2)
    check_times(la, "clock2, first client still served")
    # netcat-openbsd as the client too.
    t.need("nc")
    p = t.start(["nc", "127.0.0.1", str(srv.port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = p.stdout.readline().decode().rstrip("\n")
    check_times([out], "clock2 via nc")
    t.stop(p)
    a.close()
    b.close()
    # More clients come and go; the goroutines return with them.
    cs = [n.Client(srv.port) for _ in range(10)]
    for c in cs:
        check_times([c.line()], "clock2, one of 10")
    n.wait_goroutines(srv, base + 10, what="clock2 with 10 clients, one goroutine each")
    for c in cs:
        c.close()
    n.wait_goroutines(srv, base, what="clock2 after 13 clients left")
    # SIGTERM with clients connected: exit 0, promptly; the clients see EOF.
    c = n.Client(srv.port)
    c.line()
    n.check_stop(srv, signal.SIGTERM)
    if not c.closed_within(2):
        t.fail("clock2: a client still open after the server exited")


def test_clock1_one_at_a_time():
    srv = t.start_server("clock1", "-interval", "100ms")
    a = n.Client(srv.port)
    check_times(a.lines(2), "clock1 first client")
    b = n.Client(srv.port)  # completes in the listen backlog
    if not b.nothing_within(0.5):
        t.fail("clock1 served a second client while the first was connected")
    check_times(a.lines(2), "clock1 first client, still served")
    a.close()
    check_times(b.lines(2, timeout=5), "clock1 second client once the first left")
    # SIGINT with a client connected: exit 0.
    n.check_stop(srv, signal.SIGINT)
    if not b.closed_within(2):
        t.fail("clock1: client still open after the server exited")


def test_tz():
    utc = t.start_server("clock2", "-interval", "100ms", env={"TZ": "UTC"})
    east = t.start_server("clock2", "-interval", "100ms", env={"TZ": "UTC-3"})
    for _ in range(3):  # a second boundary may fall between the reads
        a = n.Client(utc.port).line()
        b = n.Client(east.port).line()
        check_times([a, b], "TZ")
        d = (secs(b) - secs(a)) % 86400
        if abs(d - 3 * 3600) <= 1:
            break
    else:
        t.fail("TZ=UTC %s and TZ=UTC-3 %s are not 3 hours apart" % (a, b))
    gm = time.gmtime()
    if abs((secs(a) - (gm.tm_hour * 3600 + gm.tm_min * 60 + gm.tm_sec) + 43200) % 86400 - 43200) > 5:
        t.fail("TZ=UTC gave %s, the UTC time is %02d:%02d:%02d" % (a, gm.tm_hour, gm.tm_min, gm.tm_sec))
    n.check_stop(utc, signal.SIGTERM)
    n.check_stop(east, signal.SIGINT)


class SilentServer:
    """Accepts connections and sends nothing (a clock before its first tick)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)


def row(values, widths):
    return "  ".join(v.ljust(w) for v, w in zip(values, widths))


def test_clockwall():
    utc = t.start_server("clock2", "-interval", "100ms", env={"TZ": "UTC"})
    east = t.start_server("clock2", "-interval", "100ms", env={"TZ": "UTC-3"})
    silent = SilentServer()
    names = ["London", "Moscow-ish", "Silent", "x"]
    widths = [max(len(s), 8) for s in names]
    args = [t.tool("clockwall"), "-interval", "400ms", "-n", "3",
            "London=" + utc.addr, "Moscow-ish=" + east.addr,
            "Silent=127.0.0.1:%d" % silent.port, "x=127.0.0.1:%d" % n.closed_port()]
    start = time.monotonic()
    r = t.run(args, capture_output=True, timeout=20)
    took = time.monotonic() - start
    if r.returncode != 0:
        t.fail("clockwall -n 3: status %d, stderr %r" % (r.returncode, r.stderr))
    n.check_clean(r.stderr, "clockwall")
    out = r.stdout.decode().split("\n")
    if len(out) != 5 or out[4] != "":
        t.fail("clockwall -n 3: want a header and 3 rows, got %r" % out)
    if out[0] != row(names, widths):
        t.fail("header %r, want %r" % (out[0], row(names, widths)))
    if took < 3 * 0.4 - 0.05:
        t.fail("clockwall printed 3 rows in %.2fs, less than 3 intervals" % took)
    for line in out[1:4]:
        cols = [line[sum(widths[:i]) + 2 * i:sum(widths[:i + 1]) + 2 * i] for i in range(4)]
        if line != row([c.rstrip() for c in cols], widths):
            t.fail("row %r is not laid out as %r" % (line, widths))
        vals = [c.rstrip() for c in cols]
        check_times(vals[:2], "clockwall row %r" % line)
        if (secs(vals[1]) - secs(vals[0])) % 86400 not in (3 * 3600 - 1, 3 * 3600, 3 * 3600 + 1):
            t.fail("clockwall row %r: the two clocks are not 3 hours apart" % line)
        if vals[2] != "--:--:--" or vals[3] != "down":
            t.fail("clockwall row %r: want --:--:-- for the silent clock, down for the closed port" % line)
    if not re.search(r"clockwall: x: dial 127\.0\.0\.1:\d+: Connection refused", r.stderr.decode()):
        t.fail("clockwall did not report the failed dial: %r" % r.stderr)
    # A clock still dialling does not keep clockwall from ending.
    hang = n.HangingPort()
    start = time.monotonic()
    r = t.run([t.tool("clockwall"), "-interval", "100ms", "-n", "1", "Hang=127.0.0.1:%d" % hang.port],
              capture_output=True, timeout=10)
    if r.returncode != 0 or r.stdout != b"Hang    \n--:--:--\n" or r.stderr:
        t.fail("clockwall with a hanging dial: status %d, %r, %r" % (r.returncode, r.stdout, r.stderr))
    if time.monotonic() - start > 2 * t.SLOW:
        t.fail("clockwall took %.1fs to end with a dial in progress" % (time.monotonic() - start))
    hang.close()
    # A clock whose server goes away turns to "down"; SIGTERM ends the wall with 0.
    p = t.start([t.tool("clockwall"), "-interval", "200ms", "Tokyo=" + utc.addr],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.stdout.readline().decode() != "Tokyo   \n":
        t.fail("clockwall header for one short name")
    check_times([p.stdout.readline().decode().rstrip()], "clockwall one clock")
    n.check_stop(utc, signal.SIGTERM)
    deadline = time.monotonic() + 5 * t.SLOW
    while True:
        l = p.stdout.readline().decode()
        if l == "down    \n":
            break
        if not l or time.monotonic() > deadline:
            t.fail("clockwall: no down row after its server stopped (last %r)" % l)
    if t.stop(p, signal.SIGTERM) != 0:
        t.fail("clockwall: status %d after SIGTERM" % p.returncode)
    n.check_stop(east, signal.SIGTERM)


def test_errors():
    for name in ("clock1", "clock2"):
        n.check_flags(name)
        n.check_port_in_use(name)
    n.check_flags("clockwall", positional=True)
    r = t.run([t.tool("clockwall"), "-n", "-1", "a=127.0.0.1:1"], capture_output=True)
    if r.returncode != 2:
        t.fail("clockwall -n -1: status %d" % r.returncode)


def main():
    test_errors()
    test_clock2_concurrent()
    test_clock1_one_at_a_time()
    test_tz()
    test_clockwall()


t.main(main)
