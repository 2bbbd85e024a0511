#!/usr/bin/env python3
"""tools_ftpd.py - ftpd under load: N concurrent 10 MB downloads, then N
concurrent 10 MB uploads, over loopback (not run by make check).

    python3 tools/bench/tools_ftpd.py [--ftpd BUILD/tools/ftpd] [--clients 50] [--mb 10]

Each client is an ftplib session in its own thread (passive mode); all log
in first, then start together. Prints, per direction, the aggregate
transfer rate (MB/s, 1 MB = 1e6 bytes) and checks every byte arrived (a
sha256 of each download and of each uploaded file on disk); then ftpd's
peak RSS (VmHWM from /proc/PID/status) and its goroutine count (from a
SIGQUIT dump, GORO_DUMP_SIGNAL=1) with all N clients connected and after
they left. Exits 1 if anything was lost. The numbers include the Python
clients' own cost, which on a 2-CPU machine shares the CPUs with ftpd.
"""
import argparse
import ftplib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time


def find_ftpd():
    for p in ("tools/ftpd", "build-plain/tools/ftpd", "../build-plain/tools/ftpd"):
        if os.access(p, os.X_OK):
            return p
    return "tools/ftpd"


class Ftpd:
    def __init__(self, path, root):
        env = dict(os.environ, GORO_DUMP_SIGNAL="1")
        self.proc = subprocess.Popen([path, "-addr", "127.0.0.1", "-port", "0", "-root", root],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        self.lines = []
        self.ready = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.ready.wait(10):
            self.stop()
            sys.exit("ftpd did not start: %r" % self.lines)
        m = re.search(r"listening on [^ ]+:(\d+)$", self.lines[0].strip())
        if not m:
            self.stop()
            sys.exit("ftpd: %r" % self.lines)
        self.port = int(m.group(1))

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace"))
            self.ready.set()
        self.ready.set()

    def _headers(self):
        return [i for i, l in enumerate(list(self.lines)) if l.startswith("goro: SIGQUIT")]

    def _wait(self, n):
        deadline = time.monotonic() + 10
        while len(self._headers()) < n:
            if time.monotonic() > deadline:
                sys.exit("no goroutine dump from ftpd")
            time.sleep(0.02)

    def goroutines(self):
        """Counts the entries of a dump: those between two dump headers."""
        before = len(self._headers())
        os.kill(self.proc.pid, signal.SIGQUIT)
        self._wait(before + 1)
        os.kill(self.proc.pid, signal.SIGQUIT)
        self._wait(before + 2)
        lines = list(self.lines)
        h = self._headers()
        return sum(1 for l in lines[h[before] + 1:h[before + 1]] if re.match(r"^goroutine \d+ \[", l))

    def status(self, key):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return line.split(":", 1)[1].strip()
        return "?"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def run(server, n, job):
    """Logs n clients in, runs job(i, ftp) in each at once; returns the
    wall time of the transfers and the goroutine count while all n were
    connected."""
    clients = []
    for i in range(n):
        f = ftplib.FTP()
        f.connect("127.0.0.1", server.port, timeout=120)
        f.login()
        f.voidcmd("TYPE I")
        clients.append(f)
    connected = server.goroutines()
    start = threading.Barrier(n + 1)
    errors = []

    def one(i, f):
        try:
            start.wait()
            job(i, f)
            f.quit()
        except Exception as e:
            errors.append("client %d: %r" % (i, e))

    threads = [threading.Thread(target=one, args=(i, f)) for i, f in enumerate(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.monotonic()
    for t in threads:
        t.join(600)
    elapsed = time.monotonic() - t0
    if errors:
        sys.exit("\n".join(errors))
    return elapsed, connected


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ftpd", default=os.environ.get("FTPD") or find_ftpd())
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--mb", type=int, default=10, help="MiB per transfer")
    a = ap.parse_args()
    size = a.mb * 1024 * 1024
    work = tempfile.mkdtemp(prefix="ftpd-bench-")
    try:
        root = os.path.join(work, "root")
        os.mkdir(root)
        data = os.urandom(size)
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(data)
        server = Ftpd(a.ftpd, root)
        base = server.goroutines()
        lost = 0

        got = [None] * a.clients

        def download(i, f):
            h = hashlib.sha256()
            f.retrbinary("RETR big.bin", h.update, blocksize=1 << 16)
            got[i] = h.hexdigest()

        t, conn_down = run(server, a.clients, download)
        bad = sum(1 for g in got if g != digest)
        lost += bad
        print("download: %d x %d MiB in %.2fs: %.0f MB/s, %d of %d intact" % (
            a.clients, a.mb, t, a.clients * size / t / 1e6, a.clients - bad, a.clients))

        class Src:
            """The same bytes for every upload, read in blocks."""

            def __init__(self):
                self.pos = 0

            def read(self, n):
                b = data[self.pos:self.pos + n]
                self.pos += len(b)
                return b

        def upload(i, f):
            f.storbinary("STOR up%d.bin" % i, Src(), blocksize=1 << 16)

        t, conn_up = run(server, a.clients, upload)
        bad = 0
        for i in range(a.clients):
            h = hashlib.sha256()
            with open(os.path.join(root, "up%d.bin" % i), "rb") as f:
                h.update(f.read())
            bad += h.hexdigest() != digest
        lost += bad
        print("upload:   %d x %d MiB in %.2fs: %.0f MB/s, %d of %d intact" % (
            a.clients, a.mb, t, a.clients * size / t / 1e6, a.clients - bad, a.clients))
        leftovers = [n for n in os.listdir(root) if n.startswith(".ftpd-tmp-")]
        time.sleep(0.5)
        after = server.goroutines()
        print("ftpd peak RSS (VmHWM): %s; threads now: %s" % (server.status("VmHWM"),
                                                             server.status("Threads")))
        print("goroutines: %d idle, %d with %d clients connected (downloads), %d (uploads), "
              "%d after" % (base, conn_down, a.clients, conn_up, after))
        rc = server.stop()
        print("ftpd exit status on SIGTERM: %d" % rc)
        if lost or leftovers or after != base or rc != 0:
            sys.exit("FAILED: %d transfers damaged, temporary files %r, goroutines %d -> %d" % (
                lost, leftovers, base, after))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
