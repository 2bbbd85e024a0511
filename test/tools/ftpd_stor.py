"""STOR is all or nothing. An upload cut short - the data connection
reset, the control connection closed before the 226, the client killed -
leaves the old file (or none), never a partial one, and no temporary
file under the root. While an upload runs, its temporary file exists but
LIST, NLST and RETR do not show it. APPE cut short is rolled back."""
import ftplib
import io
import os
import signal
import socket
import struct
import subprocess
import sys
import time

import tooltest
from tooltest import SLOW, fail
from ftpd_common import (Raw, TIMEOUT, expect, login, start_ftpd, temp_files, workdir)

OLD = b"the old content\n" * 1000
CHUNK = os.urandom(256 * 1024)


def reset(sock):
    """Closes sock with a TCP reset (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def start_upload(srv, verb, name):
    """A logged-in raw session with an upload under way (1 MB sent)."""
    c = Raw(srv)
    c.login()
    expect(c.cmd("TYPE I"), 200, "TYPE I")
    d = c.pasv_connect()
    expect(c.cmd("%s %s" % (verb, name)), 150, verb)
    for _ in range(4):
        d.sendall(CHUNK)
    return c, d


def write_old(root, name):
    with open(os.path.join(root, name), "wb") as f:
        f.write(OLD)


def content(root, name):
    try:
        with open(os.path.join(root, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def settled(root, name, want, what):
    """Waits (bounded) until no temporary file is left, then checks name."""
    tooltest.wait_until(lambda: not temp_files(root), 10, "the temporary file to go")
    got = content(root, name)
    if got != want:
        fail("%s: %s: %s, want %s" % (what, name, None if got is None else "%d bytes" % len(got),
                                  None if want is None else "%d bytes" % len(want)))


def main():
    base = workdir()
    root = os.path.join(base, "root")
    os.mkdir(root)
    srv = start_ftpd(root)

    # 1. Data connection reset: 426, old file kept / no new file.
    for name, old in (("keep.bin", OLD), ("new.bin", None)):
        if old is not None:
            write_old(root, name)
        c, d = start_upload(srv, "STOR", name)
        if len(temp_files(root)) != 1:
            fail("no temporary file while uploading: %r" % os.listdir(root))
        reset(d)
        r = c.reply()
        expect(r, 426, "STOR %s cut by a reset" % name)
        if temp_files(root):
            fail("a temporary file outlived the 426: %r" % temp_files(root))
        settled(root, name, old, "data connection reset")
        expect(c.cmd("NOOP"), 200, "NOOP after the 426")
        c.close()

    # 2. The control connection closed mid-upload; the data then ends
    #    with an orderly EOF, which must not count as a finished upload.
    c, d = start_upload(srv, "STOR", "keep.bin")
    c.close()
    time.sleep(0.2)
    try:
        d.sendall(CHUNK)
        d.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    d.close()
    settled(root, "keep.bin", OLD, "control connection closed")

    # 3. The client killed mid-upload: every socket closes at once.
    code = r"""
import ftplib, os, sys
f = ftplib.FTP()
f.connect(sys.argv[1], int(sys.argv[2]), timeout=30)
f.login()
f.voidcmd("TYPE I")
conn = f.transfercmd("STOR keep.bin")
chunk = os.urandom(65536)
sent = 0
while True:
    conn.sendall(chunk)
    sent += len(chunk)
    if sent == 1 << 20:
        print("sending", flush=True)
"""
    p = tooltest.start([sys.executable, "-c", code, srv.host, str(srv.port)],
                       stdout=subprocess.PIPE)
    line = p.stdout.readline()
    if line != b"sending\n":
        fail("the killed client did not start: %r" % line)
    tooltest.stop(p, signal.SIGKILL)
    settled(root, "keep.bin", OLD, "client killed")

    # 4. While an upload runs, its temporary file is hidden.
    c, d = start_upload(srv, "STOR", "hidden.bin")
    tmps = temp_files(root)
    if len(tmps) != 1:
        fail("want one temporary file while uploading, got %r" % tmps)
    tmpname = os.path.basename(tmps[0])
    f = login(srv)
    lines = []
    f.retrlines("LIST -a", lines.append)
    names = f.nlst()
    if any(".ftpd-tmp-" in l for l in lines) or any(".ftpd-tmp-" in n for n in names):
        fail("LIST/NLST show the temporary file: %r %r" % (lines, names))
    for cmd in ("RETR", "SIZE", "DELE", "RNFR"):
        try:
            if cmd == "RETR":
                f.retrbinary("RETR " + tmpname, lambda b: None)
            else:
                f.sendcmd("%s %s" % (cmd, tmpname))
            fail("%s of the temporary file succeeded" % cmd)
        except ftplib.error_perm as e:
            if not str(e).startswith("550"):
                fail("%s of the temporary file: %s" % (cmd, e))
    # The upload completes: the file appears whole, the temporary goes.
    d.sendall(CHUNK)
    d.close()
    expect(c.reply(), 226, "STOR hidden.bin")
    if content(root, "hidden.bin") != CHUNK * 5:
        fail("hidden.bin is not the uploaded data")
    if temp_files(root):
        fail("temporary file left after a good upload: %r" % temp_files(root))
    c.close()

    # 5. A replaced file keeps its permission bits, but not setuid, and
    #    (when ftpd may chown, as root) its owner.
    keep = os.path.join(root, "keep.bin")
    os.chmod(keep, 0o4640)
    if os.geteuid() == 0:
        os.chown(keep, 65534, 65534)
    f.storbinary("STOR keep.bin", io.BytesIO(b"new\n"))
    if content(root, "keep.bin") != b"new\n":
        fail("STOR over keep.bin did not replace it")
    st = os.stat(keep)
    if st.st_mode & 0o7777 != 0o640:
        fail("STOR over a 4640 file: mode %o, want 640" % (st.st_mode & 0o7777))
    if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (65534, 65534):
        fail("STOR as root lost the owner: %d:%d" % (st.st_uid, st.st_gid))
    f.quit()

    # 6. APPE cut short is rolled back to the old size.
    write_old(root, "log.txt")
    c, d = start_upload(srv, "APPE", "log.txt")
    reset(d)
    expect(c.reply(), 426, "APPE cut by a reset")
    if content(root, "log.txt") != OLD:
        fail("APPE cut short left %d bytes" % len(content(root, "log.txt")))
    c.close()

    if temp_files(root):
        fail("temporary files left: %r" % temp_files(root))
    rc = tooltest.stop(srv.proc)
    if rc != 0:
        fail("ftpd exited %d on SIGTERM; stderr: %r" % (rc, srv.stderr_text()))


tooltest.main(main)
