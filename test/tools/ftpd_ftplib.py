"""ftpd with Python's ftplib: a 10 MB random file up and down, byte for
byte, in passive (PASV) and active (PORT) mode; EPSV and EPRT by hand;
8 concurrent downloads; the ordinary commands (LIST, NLST, SIZE, MDTM,
MKD, RNFR/RNTO, DELE, RMD, APPE, TYPE A conversion, PWD quoting)."""
import ftplib
import hashlib
import io
import os
import re
import socket
import struct
import threading
import time

import tooltest
from tooltest import fail
from ftpd_common import (Raw, TIMEOUT, expect, login, random_file, sha256_file,
                         start_ftpd, temp_files, workdir)

SIZE = 10 * 1024 * 1024


def up_and_down(srv, root, src, digest, pasv, name):
    f = login(srv, pasv=pasv)
    with open(src, "rb") as fh:
        r = f.storbinary("STOR " + name, fh, blocksize=65536)
    expect(r, 226, "STOR " + name)
    if sha256_file(os.path.join(root, name)) != digest:
        fail("%s: uploaded file differs (pasv=%s)" % (name, pasv))
    if f.size(name) != SIZE:
        fail("SIZE %s: %r" % (name, f.size(name)))
    h = hashlib.sha256()
    r = f.retrbinary("RETR " + name, h.update, blocksize=65536)
    expect(r, 226, "RETR " + name)
    if h.hexdigest() != digest:
        fail("%s: downloaded bytes differ (pasv=%s)" % (name, pasv))
    f.quit()


def extended_modes(srv, root, digest):
    """EPSV and EPRT, spoken by hand (ftplib uses them for IPv6 only)."""
    c = Raw(srv)
    c.login()
    expect(c.cmd("TYPE I"), 200, "TYPE I")
    r = c.cmd("EPSV")
    m = re.search(r"\(\|\|\|(\d+)\|\)", r)
    if not r.startswith("229") or not m:
        fail("EPSV: %r" % r)
    d = socket.create_connection((srv.host, int(m.group(1))), timeout=TIMEOUT)
    expect(c.cmd("RETR big.bin"), 150, "RETR after EPSV")
    h = hashlib.sha256()
    while True:
        b = d.recv(1 << 16)
        if not b:
            break
        h.update(b)
    d.close()
    expect(c.reply(), 226, "RETR after EPSV")
    if h.hexdigest() != digest:
        fail("EPSV download differs")
    # EPRT: the server connects to us.
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(TIMEOUT)
    expect(c.cmd("EPRT |1|127.0.0.1|%d|" % ls.getsockname()[1]), 200, "EPRT")
    expect(c.cmd("RETR big.bin"), 150, "RETR after EPRT")
    d, _ = ls.accept()
    d.settimeout(TIMEOUT)
    h = hashlib.sha256()
    while True:
        b = d.recv(1 << 16)
        if not b:
            break
        h.update(b)
    d.close()
    ls.close()
    expect(c.reply(), 226, "RETR after EPRT")
    if h.hexdigest() != digest:
        fail("EPRT download differs")
    expect(c.cmd("QUIT"), 221, "QUIT")
    c.close()


def concurrent(srv, digest, n):
    """n downloads at once, while another client has a download under
    way that it never reads: a slow client holds up no one else."""
    slow = Raw(srv)
    slow.login()
    expect(slow.cmd("TYPE I"), 200, "TYPE I")
    stalled = slow.pasv_connect()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    expect(slow.cmd("RETR big.bin"), 150, "the stalled RETR")
    results = [None] * n

    def one(i):
        try:
            f = login(srv, pasv=(i % 2 == 0))
            h = hashlib.sha256()
            f.retrbinary("RETR big.bin", h.update, blocksize=65536)
            f.quit()
            results[i] = h.hexdigest()
        except Exception as e:  # reported below
            results[i] = repr(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120 * tooltest.SLOW)
        if t.is_alive():
            fail("a concurrent download did not finish")
    for i, r in enumerate(results):
        if r != digest:
            fail("concurrent download %d: %s" % (i, r))
    # The stalled one is still there; cut short, it is answered with 426
    # and its session goes on.
    b = stalled.recv(1000)
    if not b:
        fail("the stalled download got nothing")
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stalled.close()
    expect(slow.reply(), 426, "the stalled RETR, reset")
    expect(slow.cmd("NOOP"), 200, "NOOP after the 426")
    slow.close()


def ordinary(srv, root):
    f = login(srv)
    if f.pwd() != "/":
        fail("PWD at login: %r" % f.pwd())
    f.mkd("sub dir")
    f.cwd("sub dir")
    if f.pwd() != "/sub dir":
        fail("PWD after CWD: %r" % f.pwd())
    f.mkd('q"uote')
    r = f.sendcmd('CWD q"uote')
    r = f.sendcmd("PWD")
    if r != '257 "/sub dir/q""uote" is the current directory.':
        fail("PWD quoting: %r" % r)
    f.sendcmd("CDUP")
    f.sendcmd("CDUP")
    if f.pwd() != "/":
        fail("PWD after CDUP: %r" % f.pwd())
    # TYPE A: CRLF on the wire, LF on disk.
    f.storlines("STOR text.txt", io.BytesIO(b"one\ntwo\n"))
    with open(os.path.join(root, "text.txt"), "rb") as fh:
        if fh.read() != b"one\ntwo\n":
            fail("STOR in TYPE A kept CRs")
    raw = []
    f.sendcmd("TYPE A")
    conn = f.transfercmd("RETR text.txt")
    while True:
        b = conn.recv(4096)
        if not b:
            break
        raw.append(b)
    conn.close()
    f.voidresp()
    if b"".join(raw) != b"one\r\ntwo\r\n":
        fail("RETR in TYPE A: %r" % b"".join(raw))
    # APPE appends.
    f.storbinary("APPE text.txt", io.BytesIO(b"three\n"))
    with open(os.path.join(root, "text.txt"), "rb") as fh:
        if fh.read() != b"one\ntwo\nthree\n":
            fail("APPE did not append")
    # LIST in ls -l form, NLST names.
    lines = []
    f.retrlines("LIST", lines.append)
    want = re.compile(r"^-[rwx-]{9} +1 ftp +ftp +10485760 \w{3} [ \d]\d [ \d]\d:\d\d big\.bin$")
    if not any(want.match(l) for l in lines):
        fail("LIST: no ls -l line for big.bin in %r" % lines)
    if not any(l.startswith("d") and l.endswith(" sub dir") for l in lines):
        fail("LIST: no directory line in %r" % lines)
    names = f.nlst()
    if sorted(names) != sorted(os.listdir(root)):
        fail("NLST %r != %r" % (names, os.listdir(root)))
    lines = []
    f.retrlines("LIST -la big.bin", lines.append)
    if len(lines) != 1 or not lines[0].endswith(" big.bin"):
        fail("LIST of a file: %r" % lines)
    # MDTM: the file's mtime in UTC.
    r = f.sendcmd("MDTM big.bin")
    want = time.strftime("%Y%m%d%H%M%S", time.gmtime(os.stat(os.path.join(root, "big.bin")).st_mtime))
    if r != "213 " + want:
        fail("MDTM: %r, want %r" % (r, want))
    # Rename, delete, remove.
    f.rename("text.txt", "sub dir/moved.txt")
    if not os.path.exists(os.path.join(root, "sub dir", "moved.txt")):
        fail("RNFR/RNTO did not move the file")
    f.delete("sub dir/moved.txt")
    f.rmd('sub dir/q"uote')
    f.rmd("sub dir")
    if sorted(os.listdir(root)) != ["big.bin", "up-active.bin", "up-passive.bin"]:
        fail("after cleanup: %r" % os.listdir(root))
    for cmd, code in (("SYST", "215"), ("NOOP", "200"), ("MODE S", "200"), ("MODE B", "504"),
                      ("STRU F", "200"), ("STRU R", "504"), ("TYPE E", "504"), ("TYPE L 8", "200")):
        try:
            r = f.sendcmd(cmd)
        except ftplib.Error as e:
            r = str(e)
        if not r.startswith(code):
            fail("%s: %r, want %s" % (cmd, r, code))
    feat = f.sendcmd("FEAT")
    for x in ("EPSV", "EPRT", "SIZE", "MDTM"):
        if "\n " + x not in feat:
            fail("FEAT lacks %s: %r" % (x, feat))
    f.quit()


def main():
    base = workdir()
    root = os.path.join(base, "root")
    os.mkdir(root)
    src = os.path.join(base, "src.bin")
    digest = random_file(src, SIZE)
    copy(src, os.path.join(root, "big.bin"))
    srv = start_ftpd(root)
    up_and_down(srv, root, src, digest, True, "up-passive.bin")
    up_and_down(srv, root, src, digest, False, "up-active.bin")
    extended_modes(srv, root, digest)
    concurrent(srv, digest, 8)
    ordinary(srv, root)
    if temp_files(root):
        fail("temporary files left: %r" % temp_files(root))
    rc = tooltest.stop(srv.proc)
    if rc != 0:
        fail("ftpd exited %d on SIGTERM; stderr: %r" % (rc, srv.stderr_text()))


def copy(src, dst):
    with open(src, "rb") as a, open(dst, "wb") as b:
        b.write(a.read())


tooltest.main(main)
