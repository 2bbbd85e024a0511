#!/usr/bin/env python3
"""tools_chat.py - a load run of the chat server (tools/chat), measured and
reported, never asserted; not run by `make check`.

Starts chat on 127.0.0.1 (a free port, -queue big enough that nothing is
dropped), connects CLIENTS clients from one single-threaded Python process
(non-blocking sockets, selectors), and has them exchange ROUNDS rounds of
messages: in round r every client sends one message, and a client sends its
round r+1 message once it has received every other client's round r one (so
a client's queue never holds more than two rounds). Every message reaches
every other client: CLIENTS * (CLIENTS - 1) * ROUNDS deliveries.

Prints the deliveries per second, the server's peak RSS (VmHWM from
/proc/PID/status) and its goroutine count with every client connected (from
a GORO_DUMP_SIGNAL=1 dump), and checks that every client got every other
client's messages exactly once and in order. Exits 1 if anything was lost.

usage: tools_chat.py [--chat PATH] [--clients N] [--rounds N] [--size BYTES]
(PATH defaults to $top_builddir/tools/chat, else ./tools/chat)
"""
import argparse
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser(description="chat load run")
    default = os.path.join(os.environ.get("top_builddir", "."), "tools", "chat")
    ap.add_argument("--chat", default=default)
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--size", type=int, default=64, help="message payload bytes")
    a = ap.parse_args()
    n, rounds = a.clients, a.rounds

    env = dict(os.environ, GORO_DUMP_SIGNAL="1")
    srv = subprocess.Popen([a.chat, "-addr", "127.0.0.1", "-port", "0", "-queue", str(4 * n)],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env)
    errlines = []
    ready = threading.Event()

    def drain():
        for raw in iter(srv.stderr.readline, b""):
            errlines.append(raw.decode("utf-8", "replace"))
            ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not ready.wait(10):
            raise SystemExit("chat did not start")
        m = re.match(r"^chat: listening on 127\.0\.0\.1:(\d+)$", errlines[0].strip())
        if not m:
            raise SystemExit("chat: %r" % errlines[0])
        port = int(m.group(1))
        ok = run(srv, port, n, rounds, a.size, errlines)
    finally:
        if srv.poll() is None:
            srv.send_signal(signal.SIGTERM)
            try:
                srv.wait(10)
            except subprocess.TimeoutExpired:
                srv.kill()
                srv.wait()
    print("chat exit status after SIGTERM: %d" % srv.returncode)
    sys.exit(0 if ok and srv.returncode == 0 else 1)


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split()[1] + " kB"
    return "?"


def goroutines(srv, errlines):
    """Goroutines alive: the entries between two SIGQUIT dumps' headers."""
    header = "goro: SIGQUIT: goroutine dump\n"
    before = errlines.count(header)
    for k in (1, 2):
        srv.send_signal(signal.SIGQUIT)
        deadline = time.monotonic() + 10
        while errlines.count(header) < before + k:
            if time.monotonic() > deadline:
                return -1
            time.sleep(0.02)
    idx = [i for i, l in enumerate(errlines) if l == header]
    return sum(1 for l in errlines[idx[before]:idx[before + 1]] if l.startswith("goroutine "))


def run(srv, port, n, rounds, size, errlines):
    names = ["c%03d" % i for i in range(n)]
    socks, bufs, out = [], [], []

    def readlines(i, k):
        """k lines from client i (blocking), keeping what follows in bufs[i]."""
        while bufs[i].count(b"\n") < k:
            data = socks[i].recv(65536)
            if not data:
                raise SystemExit("client %d closed during the greetings" % i)
            bufs[i] += data
        lines = bufs[i].split(b"\n", k)
        bufs[i] = lines.pop()
        return lines

    # One at a time: each gets "You are", "Present:", then an arrival line
    # per later client.
    for name in names:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall((name + "\n").encode())
        socks.append(s)
        bufs.append(b"")
        readlines(len(socks) - 1, 2)
    for i in range(n):
        readlines(i, n - 1 - i)
    print("%d clients connected; server: %d goroutines, VmRSS %s"
          % (n, goroutines(srv, errlines), vm(srv.pid, "VmRSS")))

    pad = "x" * size
    sel = selectors.DefaultSelector()
    got = [[0] * n for _ in range(n)]        # got[i][j]: messages i received from j
    in_round = [[0] * (rounds + 1) for _ in range(n)]  # in_round[i][r]: round r messages i got
    sent = [0] * n                           # rounds sent by i
    bad = []
    for i, s in enumerate(socks):
        s.setblocking(False)
        out.append(bytearray())
        sel.register(s, selectors.EVENT_READ, i)

    def queue(i):
        out[i] += ("%s %d %s\n" % (names[i], sent[i], pad)).encode()
        sent[i] += 1
        sel.modify(socks[i], selectors.EVENT_READ | selectors.EVENT_WRITE, i)

    start = time.monotonic()
    for i in range(n):
        queue(i)
    delivered, want = 0, n * (n - 1) * rounds
    deadline = start + 600
    while delivered < want and time.monotonic() < deadline and not bad:
        for key, ev in sel.select(1.0):
            i = key.data
            s = socks[i]
            if ev & selectors.EVENT_WRITE and out[i]:
                k = s.send(out[i])
                del out[i][:k]
                if not out[i]:
                    sel.modify(s, selectors.EVENT_READ, i)
            if ev & selectors.EVENT_READ:
                data = s.recv(1 << 20)
                if not data:
                    bad.append("client %d: closed" % i)
                    break
                lines = (bufs[i] + data).split(b"\n")
                bufs[i] = lines.pop()
                for line in lines:
                    # "cJJJ: cJJJ R xxx"
                    j, r = int(line[1:4]), int(line.split(b" ", 3)[2])
                    if r != got[i][j]:
                        bad.append("client %d got round %d of %d, expected %d" % (i, r, j, got[i][j]))
                        break
                    got[i][j] += 1
                    in_round[i][r] += 1
                    delivered += 1
                # Next round once every other client's current one is here.
                while sent[i] < rounds and in_round[i][sent[i] - 1] == n - 1:
                    queue(i)
    took = time.monotonic() - start
    hwm = vm(srv.pid, "VmHWM")
    g = goroutines(srv, errlines)
    for s in socks:
        s.close()
    print("%d clients x %d rounds of %d-byte messages: %d of %d deliveries in %.2fs"
          % (n, rounds, size, delivered, want, took))
    print("  %.0f messages delivered per second" % (delivered / took))
    print("  server peak RSS (VmHWM): %s" % hwm)
    print("  server goroutines with every client connected: %d (3 per client + broadcaster + watcher)" % g)
    lost = want - delivered
    if bad or lost:
        print("LOST: %d; %s" % (lost, bad[:3]))
        return False
    print("  nothing lost")
    return True


if __name__ == "__main__":
    main()
