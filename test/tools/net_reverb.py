"""net_reverb.py - reverb1 and reverb2 (section 8.3, exercises 8.4 and 8.8),
end to end: the echo format, one shout at a time versus overlapping
shouts, the write half closed after the last echo, the idle disconnect,
misbehaving clients, signals, errors, and no goroutine left per
connection."""
import signal
import socket
import struct
import subprocess
import time

import tooltest as t
import net_common as n

DELAY = 0.2


def echoes(shout):
    return ["\t" + shout.upper(), "\t" + shout, "\t" + shout.lower()]


def test_format(name):
    srv = n.start_server_stats(name, "-delay", "%dms" % (DELAY * 1000))
    c = n.Client(srv.port)
    c.send("Hello, World!\n")
    got = c.rest_lines = c.lines(3)
    if got != echoes("Hello, World!"):
        t.fail("%s: %r, want %r" % (name, got, echoes("Hello, World!")))
    # Raw bytes: a tab, no space, "\n" only; "\r\n" from the client is a line end.
    c.send("ab\r\n")
    c.half_close()
    raw = c.rest()
    if raw != "\tAB\n\tab\n\tab\n":
        t.fail("%s: raw echo %r" % (name, raw))
    # netcat-openbsd as the client: -N closes the write half at end of input.
    t.need("nc")
    r = t.run(["nc", "-N", "127.0.0.1", str(srv.port)], input=b"Echo\n", capture_output=True, timeout=10)
    if r.returncode != 0 or r.stdout != b"\tECHO\n\tEcho\n\techo\n":
        t.fail("%s via nc: status %d, %r" % (name, r.returncode, r.stdout))
    return srv


def shout_all(port, shouts):
    """Sends every shout at once, closes the write half, returns the lines
    received until the server closed, and the time it took."""
    c = n.Client(port)
    start = time.monotonic()
    c.send("".join(s + "\n" for s in shouts))
    c.half_close()  # exercise 8.4: the server must still send every echo
    text = c.rest(timeout=10)
    took = time.monotonic() - start
    c.close()
    if not text.endswith("\n"):
        t.fail("no newline at the end: %r" % text)
    return text[:-1].split("\n"), took


def test_reverb1_serial(srv):
    shouts = ["one", "Two"]
    got, took = shout_all(srv.port, shouts)
    if got != echoes("one") + echoes("Two"):
        t.fail("reverb1: %r: the second shout must wait for the first" % got)
    if took < 4 * DELAY - 0.05:
        t.fail("reverb1 answered two shouts in %.2fs, under 4 delays" % took)


def test_reverb2_overlap(srv):
    shouts = ["alpha", "Beta", "GAMMA", "delta", "Epsilon", "zeta"]
    got, took = shout_all(srv.port, shouts)
    if sorted(got) != sorted(l for s in shouts for l in echoes(s)):
        t.fail("reverb2: %r" % got)
    for s in shouts:
        idx = [got.index(l) for l in echoes(s)]
        if idx != sorted(idx):
            t.fail("reverb2: echoes of %r out of order in %r" % (s, got))
    serial = len(shouts) * 2 * DELAY
    if took > serial / 2 + 0.5 * (t.SLOW - 1):
        t.fail("reverb2: %d shouts took %.2fs, serially %.2fs: they did not overlap"
               % (len(shouts), took, serial))
    # The loud echoes of every shout come first, at once.
    if sorted(got[:len(shouts)]) != sorted("\t" + s.upper() for s in shouts):
        t.fail("reverb2: the first lines are not every shout's loud echo: %r" % got)


def test_reverb2_idle():
    srv = n.start_server_stats("reverb2", "-delay", "50ms", "-idle", "400ms")
    base = n.goroutines(srv)
    quiet = n.Client(srv.port)
    start = time.monotonic()
    if not quiet.closed_within(5):
        t.fail("reverb2 -idle 400ms did not disconnect a silent client")
    took = time.monotonic() - start
    if took < 0.35:
        t.fail("reverb2 -idle 400ms disconnected after %.2fs" % took)
    # A client that keeps shouting more often than -idle stays.
    c = n.Client(srv.port)
    for i in range(4):
        c.send("s%d\n" % i)
        if c.lines(3) != echoes("s%d" % i):
            t.fail("reverb2: echoes while shouting")
        time.sleep(0.15)
    c.close()
    n.wait_goroutines(srv, base, what="reverb2 after idle clients")
    n.check_stop(srv, signal.SIGTERM)


def test_misbehaving(name):
    srv = n.start_server_stats(name, "-delay", "50ms")
    base = n.goroutines(srv)
    good = n.Client(srv.port)
    # An overlong line (no newline within 64 KiB) costs only its connection.
    big = n.Client(srv.port)
    try:
        big.send(b"x" * (200 * 1024))
    except OSError:
        pass
    if not big.closed_within(5):
        t.fail("%s kept a connection sending an endless line" % name)
    # A client that resets in the middle of its echoes.
    rst = n.Client(srv.port)
    rst.send("boom\n")
    rst.line()
    rst.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rst.close()
    # Binary garbage with a newline: echoed as bytes, nothing breaks.
    junk = n.Client(srv.port)
    junk.send(bytes(range(1, 10)) + b"\xff\xfe\n")
    junk.half_close()
    junk.rest()
    good.send("still there\n")
    if good.lines(3) != echoes("still there"):
        t.fail("%s: another client suffered from a misbehaving one" % name)
    good.close()
    # Twenty clients come and go, shouting; every goroutine returns.
    cs = [n.Client(srv.port) for _ in range(20)]
    for i, c in enumerate(cs):
        c.send("c%d\nd%d\n" % (i, i))
        c.half_close()
    for c in cs:
        if len(c.rest().split("\n")) != 7:
            t.fail("%s: a client of twenty lost echoes" % name)
        c.close()
    n.wait_goroutines(srv, base, what="%s after misbehaving and 20 clients" % name)
    # SIGTERM and SIGINT while echoes are under way: exit 0 promptly.
    c = n.Client(srv.port)
    c.send("long\n")
    c.line()
    n.check_stop(srv, signal.SIGINT)
    srv = t.start_server(name, "-delay", "10s")
    c = n.Client(srv.port)
    c.send("long\n")
    c.line()
    took = n.check_stop(srv, signal.SIGTERM)
    if took > 2 * t.SLOW:
        t.fail("%s took %.2fs to stop during a 10s delay" % (name, took))
    if not c.closed_within(2):
        t.fail("%s: the client was not disconnected at shutdown" % name)


def main():
    for name in ("reverb1", "reverb2"):
        n.check_flags(name)
        n.check_port_in_use(name)
    srv1 = test_format("reverb1")
    test_reverb1_serial(srv1)
    n.check_stop(srv1, signal.SIGTERM)
    srv2 = test_format("reverb2")
    test_reverb2_overlap(srv2)
    n.check_stop(srv2, signal.SIGTERM)
    test_reverb2_idle()
    test_misbehaving("reverb1")
    test_misbehaving("reverb2")


t.main(main)
