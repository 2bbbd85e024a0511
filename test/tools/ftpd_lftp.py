"""ftpd with lftp: a 10 MB random file up (put) and down (get), byte for
byte, in passive and active mode; lftp parses the LIST output (cls), and
mirrors a small tree both ways."""
import os
import subprocess

import tooltest
from tooltest import fail
from ftpd_common import random_file, sha256_file, start_ftpd, temp_files, workdir

SIZE = 10 * 1024 * 1024


def lftp(srv, passive, script):
    pre = ("set cmd:fail-exit yes; set ftp:ssl-allow no; set net:max-retries 1; "
           "set net:timeout %d; set net:reconnect-interval-base 1; set xfer:clobber on; "
           "set ftp:passive-mode %s; open ftp://%s; " % (
               int(20 * tooltest.SLOW), "on" if passive else "off", srv.addr))
    return tooltest.run(["lftp", "-c", pre + script], timeout=120, capture_output=True,
                        stdin=subprocess.DEVNULL)


def main():
    tooltest.need("lftp")
    base = workdir()
    root = os.path.join(base, "root")
    os.mkdir(root)
    src = os.path.join(base, "src.bin")
    digest = random_file(src, SIZE)
    srv = start_ftpd(root)
    for passive in (True, False):
        name = "lftp-%s.bin" % ("passive" if passive else "active")
        out = os.path.join(base, "down-" + name)
        r = lftp(srv, passive, "put %s -o %s; get %s -o %s" % (src, name, name, out))
        if r.returncode != 0:
            fail("lftp (passive=%s) exited %d: %s" % (passive, r.returncode, r.stderr))
        if sha256_file(os.path.join(root, name)) != digest:
            fail("lftp upload (passive=%s): file differs" % passive)
        if sha256_file(out) != digest:
            fail("lftp download (passive=%s): bytes differ" % passive)
    # cls shows what lftp parsed from LIST: names, and a / for directories.
    os.mkdir(os.path.join(root, "adir"))
    r = lftp(srv, True, "cls -1 --sort=name")
    got = r.stdout.decode().split()
    if r.returncode != 0 or got != ["adir/", "lftp-active.bin", "lftp-passive.bin"]:
        fail("lftp cls: %d %r %s" % (r.returncode, got, r.stderr))
    r = lftp(srv, True, "cls -l lftp-active.bin")
    if r.returncode != 0 or str(SIZE) not in r.stdout.decode():
        fail("lftp cls -l: %d %r %s" % (r.returncode, r.stdout, r.stderr))
    # mirror a small tree up (mirror -R) and back down.
    tree = os.path.join(base, "tree")
    os.makedirs(os.path.join(tree, "a", "b"))
    files = {"top.txt": b"top\n", "a/one.bin": os.urandom(70000), "a/b/two.bin": os.urandom(5)}
    for rel, data in files.items():
        with open(os.path.join(tree, rel), "wb") as f:
            f.write(data)
    back = os.path.join(base, "back")
    r = lftp(srv, True, "mirror -R %s /tree; mirror /tree %s" % (tree, back))
    if r.returncode != 0:
        fail("lftp mirror: %d %s" % (r.returncode, r.stderr))
    for rel, data in files.items():
        for top in (os.path.join(root, "tree"), back):
            with open(os.path.join(top, rel), "rb") as f:
                if f.read() != data:
                    fail("mirror: %s differs under %s" % (rel, top))
    if temp_files(root):
        fail("temporary files left: %r" % temp_files(root))
    rc = tooltest.stop(srv.proc)
    if rc != 0:
        fail("ftpd exited %d on SIGTERM; stderr: %r" % (rc, srv.stderr_text()))


tooltest.main(main)
