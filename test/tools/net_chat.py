"""net_chat.py - chat (section 8.10, exercises 8.12-8.15), end to end: the
protocol lines exactly, names, 24 concurrent clients receiving every other
client's messages exactly once and in order while one client never reads,
the idle disconnect, nc and netcat3 as clients, signals, errors, and no
goroutine left per connection."""
import re
import signal
import subprocess
import threading
import time

import tooltest as t
import net_common as n


def join(port, name):
    """A client that sent its name and read its two greeting lines."""
    c = n.Client(port)
    c.send(name + "\n")
    you, present = c.line(), c.line()
    if not you.startswith("You are ") or not present.startswith("Present:"):
        t.fail("greeting %r, %r" % (you, present))
    c.name = you[len("You are "):]
    c.present = present
    return c


def expect(c, want, what):
    got = c.line()
    if got != want:
        t.fail("%s: got %r, want %r" % (what, got, want))


def test_protocol():
    srv = n.start_server_stats("chat")
    base = n.goroutines(srv)
    a = join(srv.port, "alice")
    if (a.name, a.present) != ("alice", "Present:"):
        t.fail("first client: %r %r" % (a.name, a.present))
    b = join(srv.port, "bob\r")  # "bob\r\n": \r\n ends a line
    if (b.name, b.present) != ("bob", "Present: alice"):
        t.fail("second client: %r %r" % (b.name, b.present))
    expect(a, "bob has arrived", "alice")
    b.send("hi there\r\n")
    expect(a, "bob: hi there", "alice")
    a.send("hello bob\n")
    expect(b, "alice: hello bob", "bob")
    # An empty name gets the remote address; so does a name already present.
    e = join(srv.port, "")
    if e.name != "127.0.0.1:%d" % e.local_port or e.present != "Present: alice, bob":
        t.fail("empty name: %r %r" % (e.name, e.present))
    for c in (a, b):
        expect(c, "%s has arrived" % e.name, "arrival of the unnamed")
    d = join(srv.port, "alice")
    if d.name != "127.0.0.1:%d" % d.local_port or d.present != "Present: alice, bob, %s" % e.name:
        t.fail("duplicate name: %r %r" % (d.name, d.present))
    for c in (a, b, e):
        expect(c, "%s has arrived" % d.name, "arrival of the second alice")
    d.send("me too\n")
    for c in (a, b, e):
        expect(c, "%s: me too" % d.name, "message of the second alice")
    b.close()
    for c in (a, e, d):
        expect(c, "bob has left", "bob leaving")
    # The name is free again.
    b2 = join(srv.port, "bob")
    if (b2.name, b2.present) != ("bob", "Present: alice, %s, %s" % (e.name, d.name)):
        t.fail("bob again: %r %r" % (b2.name, b2.present))
    for c in (a, e, d):
        expect(c, "bob has arrived", "bob again")
    n.wait_goroutines(srv, base + 3 * 4, what="chat with 4 clients, 3 goroutines each")
    # Nobody has a line left over: no message twice, none of one's own.
    for c in (a, e, d, b2):
        if not c.nothing_within(0.3):
            t.fail("%s got an unexpected line %r" % (c.name, c.line()))
    for c in (a, e, d, b2):
        c.close()
    n.wait_goroutines(srv, base, what="chat after the protocol test")
    return srv


def test_nc_and_netcat3(srv):
    t.need("nc")
    watcher = join(srv.port, "watcher")
    p = t.start(["nc", "127.0.0.1", str(srv.port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.stdin.write(b"carol\nhello from nc\n")
    p.stdin.flush()
    expect(watcher, "carol has arrived", "watcher")
    expect(watcher, "carol: hello from nc", "watcher")
    if p.stdout.readline() != b"You are carol\n" or p.stdout.readline() != b"Present: watcher\n":
        t.fail("nc's greeting")
    watcher.send("to carol\n")
    if p.stdout.readline() != b"watcher: to carol\n":
        t.fail("nc did not get the watcher's message")
    t.stop(p)
    expect(watcher, "carol has left", "watcher")
    # netcat3: stdin ends, the write half closes, chat sees carol leave and
    # closes; netcat3 prints what it got and exits 0.
    r = t.run([t.tool("netcat3"), srv.addr], input=b"dave\nhi from netcat3\n", capture_output=True, timeout=10)
    if r.returncode != 0 or not r.stdout.startswith(b"You are dave\nPresent: watcher\n"):
        t.fail("netcat3 as a chat client: status %d, %r" % (r.returncode, r.stdout))
    n.check_clean(r.stderr, "netcat3")
    for want in ("dave has arrived", "dave: hi from netcat3", "dave has left"):
        expect(watcher, want, "watcher")
    watcher.close()


def test_load_with_a_client_that_never_reads():
    """24 clients exchange 30 rounds of 1 KB messages while one client
    never reads: every reader gets every other client's messages exactly
    once, in order per sender; the non-reader's queue fills and messages
    are dropped for it alone; nobody waits for it."""
    clients, rounds, size = 24, 30, 1000
    srv = t.start_server("chat", "-queue", "64")
    sink = n.Client(srv.port, rcvbuf=4096)  # reads its greeting, then not until the end
    sink.send("sink\n")
    sink.lines(2)
    readers = []
    for i in range(clients):
        c = join(srv.port, "c%02d" % i)
        readers.append(c)
    sink.send("one message\n")
    for i, c in enumerate(readers):
        want = ["c%02d has arrived" % j for j in range(i + 1, clients)] + ["sink: one message"]
        if c.lines(len(want)) != want:
            t.fail("c%02d: the arrivals and the sink's message" % i)
    pad = "x" * size
    barrier = threading.Barrier(clients, timeout=30 * t.SLOW)
    errors = []
    got = [dict() for _ in range(clients)]  # sender -> list of seq

    def run(i):
        c = readers[i]
        others = {"c%02d" % j for j in range(clients) if j != i}
        try:
            for r in range(rounds):
                c.send("%s %d %s\n" % (c.name, r, pad))
                # Wait for every other client's round r message.
                while any(len(got[i].get(o, [])) <= r for o in others):
                    l = c.line(timeout=20)
                    if l is None:
                        raise Exception("%s: connection closed" % c.name)
                    m = re.match(r"^(c\d\d): (c\d\d) (\d+) x+$", l)
                    if m is None:
                        raise Exception("%s: unexpected line %r" % (c.name, l[:80]))
                    if m.group(1) != m.group(2) or len(l) != 2 * 3 + 2 + len(m.group(3)) + 2 + size:
                        raise Exception("%s: garbled line %r" % (c.name, l[:80]))
                    got[i].setdefault(m.group(1), []).append(int(m.group(3)))
                barrier.wait()
        except Exception as e:  # reported by the main thread
            errors.append(repr(e))
            barrier.abort()

    start = time.monotonic()
    ths = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(60 * t.SLOW)
    took = time.monotonic() - start
    if any(th.is_alive() for th in ths):
        t.fail("the exchange did not end within %gs" % (60 * t.SLOW))
    if errors:
        t.fail("readers: %s" % errors[:3])
    for i, g in enumerate(got):
        for j in range(clients):
            if j != i and g.get("c%02d" % j) != list(range(rounds)):
                t.fail("c%02d got c%02d's messages as %r" % (i, j, g.get("c%02d" % j)))
    if took > 20 * t.SLOW:
        t.fail("%d rounds took %.1fs: the non-reader delays the others" % (rounds, took))
    # Now the sink reads: its queue was full, so it lost messages, but what
    # it got is whole and in order per sender.
    seen, lines = {}, 0
    while not sink.nothing_within(1.0):
        l = sink.line()
        lines += 1
        m = re.match(r"^(c\d\d) (\d+) x+$", l.split(": ", 1)[1]) if ": " in l else None
        if m:
            seen.setdefault(m.group(1), []).append(int(m.group(2)))
    total = sum(len(v) for v in seen.values())
    if total >= clients * rounds:
        t.fail("the sink got all %d messages: nothing was dropped for it" % total)
    for who, seqs in seen.items():
        if seqs != sorted(set(seqs)):
            t.fail("the sink got %s's messages out of order or twice: %r" % (who, seqs))
    for c in readers:
        c.close()
    sink.close()
    n.check_stop(srv, signal.SIGTERM)
    print("load: %d clients x %d rounds in %.2fs; the sink got %d of %d"
          % (clients, rounds, took, total, clients * rounds))


def test_idle():
    srv = n.start_server_stats("chat", "-idle", "600ms")
    base = n.goroutines(srv)
    # Silent before giving a name: disconnected, nobody hears of it.
    mute = n.Client(srv.port)
    talker = join(srv.port, "talker")
    quiet = join(srv.port, "quiet")
    expect(talker, "quiet has arrived", "talker")
    start = time.monotonic()
    # talker keeps talking; quiet says nothing and is dropped.
    seen_left = False
    while time.monotonic() - start < 5 * t.SLOW:
        talker.send("ping\n")
        if not talker.nothing_within(0.15):
            l = talker.line()
            if l == "quiet has left":
                seen_left = True
                break
            t.fail("talker got %r" % l)
    took = time.monotonic() - start
    if not seen_left:
        t.fail("the idle client was not disconnected")
    if took < 0.5:
        t.fail("idle client dropped after %.2fs (-idle 600ms)" % took)
    if not quiet.closed_within(2) or not mute.closed_within(2):
        t.fail("idle clients still connected")
    talker.close()
    n.wait_goroutines(srv, base, what="chat after idle clients")
    n.check_stop(srv, signal.SIGINT)


def test_signals():
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = t.start_server("chat")
        cs = [join(srv.port, "s%d" % i) for i in range(5)]
        sink = n.Client(srv.port, rcvbuf=4096)
        sink.send("sink\n" + ("y" * 4000 + "\n") * 200)
        took = n.check_stop(srv, sig)
        if took > 2 * t.SLOW:
            t.fail("chat took %.2fs to stop" % took)
        for c in cs:
            if not c.closed_within(2):
                t.fail("a chat client still connected after shutdown")


def test_errors():
    n.check_flags("chat")
    n.check_port_in_use("chat")
    for args in (["-queue", "0"], ["-idle", "0"], ["-idle", "5 minutes"]):
        r = t.run([t.tool("chat")] + args, capture_output=True)
        if r.returncode != 2:
            t.fail("chat %r: status %d" % (args, r.returncode))


def main():
    test_errors()
    srv = test_protocol()
    test_nc_and_netcat3(srv)
    n.check_stop(srv, signal.SIGTERM)
    test_idle()
    test_load_with_a_client_that_never_reads()
    test_signals()


t.main(main)
