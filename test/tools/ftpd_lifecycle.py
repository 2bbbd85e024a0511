"""ftpd's life: -h, bad flags (exit 2), a missing or unreadable root and a
port in use (exit 1, one clear line); one goroutine per connection and
none left once the clients are gone (counted in SIGQUIT dumps with
GORO_DUMP_SIGNAL=1); SIGTERM with transfers in progress exits 0 promptly,
leaving no partial file and no temporary file."""
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import tooltest
from tooltest import SLOW, fail
from ftpd_common import (Raw, TIMEOUT, expect, goroutines, login, random_file, start_ftpd,
                         temp_files, wait_goroutines, workdir)


def run_ftpd(*args, prefix=()):
    return tooltest.run(list(prefix) + [tooltest.tool("ftpd")] + list(args), timeout=20,
                        capture_output=True, stdin=subprocess.DEVNULL)


def flags(base):
    r = run_ftpd("-h")
    if r.returncode != 0 or b"-root DIR" not in r.stdout or b"-readonly" not in r.stdout:
        fail("-h: %d %r" % (r.returncode, r.stdout))
    for args in (["-port", "0"], ["-root"], ["-bogus", "-root", base], ["-root", base, "extra"],
                 ["-root", base, "-idle", "5"], ["-root", base, "-idle", "-1s"],
                 ["-root", base, "-user", "nopass"], ["-root", base, "-user", ":x"],
                 ["-root", base, "-port", "70000"], ["-root", base, "-port", "x"]):
        r = run_ftpd(*args)
        if r.returncode != 2 or b"usage:" not in r.stderr:
            fail("%r: exit %d, stderr %r (want 2 and the usage)" % (args, r.returncode, r.stderr))
    missing = os.path.join(base, "missing")
    r = run_ftpd("-port", "0", "-root", missing)
    if r.returncode != 1 or r.stderr.decode() != "ftpd: root %s: No such file or directory\n" % missing:
        fail("missing root: %d %r" % (r.returncode, r.stderr))
    afile = os.path.join(base, "afile")
    open(afile, "w").close()
    r = run_ftpd("-port", "0", "-root", afile)
    if r.returncode != 1 or r.stderr.decode() != "ftpd: root %s: Not a directory\n" % afile:
        fail("root is a file: %d %r" % (r.returncode, r.stderr))
    # Permission denied: a directory its user may not read. As root,
    # the check runs as nobody (setpriv), since root may read anything.
    closed = os.path.join(base, "closed")
    os.mkdir(closed, 0o700)
    prefix = ()
    if os.geteuid() == 0:
        os.chmod(base, 0o755)
        if shutil.which("setpriv") is None:
            print("note: setpriv missing; permission-denied check skipped")
            return
        prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
        if run_ftpd("-h", prefix=prefix).returncode != 0:
            print("note: nobody cannot run ftpd from this build tree; "
                  "permission-denied check skipped")
            return
    else:
        os.chmod(closed, 0)
    r = run_ftpd("-port", "0", "-root", closed, prefix=prefix)
    if r.returncode != 1 or r.stderr.decode() != "ftpd: root %s: Permission denied\n" % closed:
        fail("unreadable root: %d %r" % (r.returncode, r.stderr))
    os.chmod(closed, 0o700)


def port_in_use(root):
    srv = start_ftpd(root)
    r = run_ftpd("-port", str(srv.port), "-root", root)
    want = "ftpd: listen 127.0.0.1:%d: Address already in use\n" % srv.port
    if r.returncode != 1 or r.stderr.decode() != want:
        fail("port in use: %d %r" % (r.returncode, r.stderr))
    tooltest.stop(srv.proc)


def no_leak(root):
    """One goroutine per connection, all gone once the clients leave."""
    srv = start_ftpd(root, env={"GORO_DUMP_SIGNAL": "1"})
    login(srv).quit()
    base_n = goroutines(srv)
    sessions = [Raw(srv) for _ in range(5)]
    wait_goroutines(srv, base_n + 5, 10, "five open sessions")
    for c in sessions:
        c.close()
    # Twenty sessions of every kind: quit, transfer, abandoned transfer,
    # reset mid-download, closed without a word.
    for i in range(20):
        c = Raw(srv)
        kind = i % 5
        if kind == 0:
            c.login()
            expect(c.cmd("QUIT"), 221, "QUIT")
        elif kind == 1:
            c.login()
            d = c.pasv_connect()
            expect(c.cmd("RETR big.bin"), 150, "RETR")
            while d.recv(1 << 16):
                pass
            d.close()
            expect(c.reply(), 226, "RETR")
        elif kind == 2:
            c.login()
            d = c.pasv_connect()
            c.cmd("STOR up%d.bin" % i)
            d.sendall(b"x" * 100000)
            # leave both open: closed below without QUIT
        elif kind == 3:
            c.login()
            d = c.pasv_connect()
            expect(c.cmd("RETR big.bin"), 150, "RETR")
            d.recv(1000)
            d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            d.close()
            c.reply()
        else:
            c.login()
            c.cmd("PASV")
        c.close()
        if kind == 2:
            d.close()
    wait_goroutines(srv, base_n, 15, "after 25 sessions ended")
    if temp_files(root):
        fail("temporary files left: %r" % temp_files(root))
    rc = tooltest.stop(srv.proc)
    if rc != 0:
        fail("ftpd exited %d on SIGTERM; stderr: %r" % (rc, srv.stderr_text()))


def sigterm_mid_transfer(root):
    with open(os.path.join(root, "keep.bin"), "wb") as fh:
        fh.write(b"old\n")
    srv = start_ftpd(root)
    # A download the client does not read (the server is stuck in send)...
    down = Raw(srv)
    down.login()
    expect(down.cmd("TYPE I"), 200, "TYPE I")
    dd = down.pasv_connect()
    dd.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    expect(down.cmd("RETR big.bin"), 150, "RETR")
    # ...an upload half done...
    up = Raw(srv)
    up.login()
    ud = up.pasv_connect()
    expect(up.cmd("STOR keep.bin"), 150, "STOR")
    ud.sendall(os.urandom(1 << 20))
    tooltest.wait_until(lambda: len(temp_files(root)) == 1, 10, "the upload's temporary file")
    # ...and an idle session, then SIGTERM.
    idle = Raw(srv)
    idle.login()
    t0 = time.monotonic()
    rc = tooltest.stop(srv.proc, signal.SIGTERM, timeout=10)
    elapsed = time.monotonic() - t0
    if rc != 0:
        fail("SIGTERM with transfers in progress: exit %d; stderr %r" % (rc, srv.stderr_text()))
    if elapsed > 5 * SLOW:
        fail("SIGTERM took %.1fs" % elapsed)
    for c, what in ((down, "download"), (up, "upload"), (idle, "idle session")):
        replies = []
        while True:
            r = c.reply()
            if r is None:
                break
            replies.append(r[:3])
        if "421" not in replies:
            fail("%s: no 421 at shutdown: %r" % (what, replies))
        c.close()
    dd.close()
    ud.close()
    with open(os.path.join(root, "keep.bin"), "rb") as fh:
        if fh.read() != b"old\n":
            fail("the interrupted STOR changed keep.bin")
    if temp_files(root):
        fail("temporary files left after SIGTERM: %r" % temp_files(root))
    # SIGINT too.
    srv = start_ftpd(root)
    login(srv)
    rc = tooltest.stop(srv.proc, signal.SIGINT)
    if rc != 0:
        fail("SIGINT: exit %d" % rc)


def main():
    base = workdir()
    root = os.path.join(base, "root")
    os.mkdir(root)
    random_file(os.path.join(root, "big.bin"), 4 * 1024 * 1024)
    flags(base)
    port_in_use(root)
    no_leak(root)
    sigterm_mid_transfer(root)


tooltest.main(main)
