"""ftpd keeps every name inside its root: each attempt to reach outside,
by "..", "../..", "/../", absolute names, a symlink to a file outside, a
symlinked directory outside (absolute and relative links), with CWD,
RETR, STOR, APPE, LIST, NLST, SIZE, MDTM, DELE, RNFR, RNTO, MKD and RMD,
gets 550, and nothing outside the root changes. Symlinks that stay
inside the root work. A directory swapped for an outside symlink after
CWD into it is refused too (every name is walked from the root)."""
import ftplib
import io
import os

import tooltest
from tooltest import fail
from ftpd_common import login, snapshot, start_ftpd, temp_files, workdir


def refused(f, what, fn):
    """fn() must raise ftplib's 550."""
    try:
        r = fn()
    except ftplib.error_perm as e:
        if str(e).startswith("550"):
            return
        fail("%s: %s, want 550" % (what, e))
    except ftplib.Error as e:
        fail("%s: %s, want 550" % (what, e))
    fail("%s: succeeded (%r), want 550" % (what, r))


def main():
    base = workdir()
    root = os.path.join(base, "root")
    out = os.path.join(base, "outside")
    os.makedirs(os.path.join(root, "pub", "deep"))
    os.makedirs(os.path.join(out, "dir"))
    with open(os.path.join(out, "secret.txt"), "w") as f:
        f.write("SECRET\n")
    with open(os.path.join(out, "dir", "inner.txt"), "w") as f:
        f.write("INNER\n")
    with open(os.path.join(root, "pub", "file.txt"), "w") as f:
        f.write("public\n")
    os.symlink(os.path.join(out, "secret.txt"), os.path.join(root, "link_out"))
    os.symlink("../outside/secret.txt", os.path.join(root, "link_rel_out"))
    os.symlink(out, os.path.join(root, "dirlink_out"))
    os.symlink("../../outside", os.path.join(root, "pub", "dirlink_rel"))
    os.symlink("pub/file.txt", os.path.join(root, "link_in"))
    os.symlink(os.path.join(root, "pub"), os.path.join(root, "abs_in"))
    os.symlink("../..", os.path.join(root, "pub", "deep", "up2"))
    os.symlink("../../..", os.path.join(root, "pub", "deep", "up3"))
    before = snapshot(out)

    srv = start_ftpd(root)
    f = login(srv)

    # Names that lead outside, as every command sees them, from / and /pub.
    names = ["..", "../..", "/..", "/../", "/../outside", "../outside/secret.txt",
             "/../outside/secret.txt", "../../etc/passwd", "link_out", "link_rel_out",
             "dirlink_out", "dirlink_out/secret.txt", "dirlink_out/dir",
             "dirlink_out/dir/inner.txt", "pub/dirlink_rel", "pub/dirlink_rel/secret.txt",
             "/pub/../../outside/secret.txt", "pub/deep/up3", "pub/deep/up3/outside/secret.txt",
             "abs_in/../../outside/secret.txt", "/etc/passwd", "/etc"]
    files = [n for n in names if n.endswith(".txt") or n.endswith("passwd") or "link" in n]
    # DELE and RNFR do not follow their last component: names whose
    # directory is outside.
    parents_out = [n for n in files if "outside/" in n or n.startswith("dirlink_out/")
                   or n.startswith("pub/dirlink_rel/")]
    for cwd in ("/", "/pub"):
        f.cwd(cwd)
        rel = (lambda n: n if n.startswith("/") else "../" + n) if cwd == "/pub" else (lambda n: n)
        for n in names:
            n = rel(n)
            refused(f, "CWD %s from %s" % (n, cwd), lambda: f.cwd(n))
            refused(f, "LIST %s" % n, lambda: f.retrlines("LIST " + n, lambda l: None))
            refused(f, "NLST %s" % n, lambda: f.nlst(n))
            refused(f, "MKD %s/new" % n, lambda: f.mkd(n + "/new"))
            refused(f, "RMD %s/dir" % n, lambda: f.rmd(n + "/dir"))
            refused(f, "STOR %s/x" % n, lambda: f.storbinary("STOR " + n + "/x", io.BytesIO(b"x")))
        for n in files:
            n = rel(n)
            refused(f, "RETR %s" % n, lambda: f.retrbinary("RETR " + n, lambda b: None))
            refused(f, "SIZE %s" % n, lambda: f.size(n))
            refused(f, "MDTM %s" % n, lambda: f.sendcmd("MDTM " + n))
            refused(f, "STOR %s" % n, lambda: f.storbinary("STOR " + n, io.BytesIO(b"PWNED\n")))
            refused(f, "APPE %s" % n, lambda: f.storbinary("APPE " + n, io.BytesIO(b"PWNED\n")))
        for n in parents_out:
            n = rel(n)
            refused(f, "DELE %s" % n, lambda: f.delete(n))
            refused(f, "RNFR %s" % n, lambda: f.sendcmd("RNFR " + n))
        # A rename from inside to outside.
        f.sendcmd("RNFR " + ("file.txt" if cwd == "/pub" else "pub/file.txt"))
        refused(f, "RNTO ../outside/stolen", lambda: f.sendcmd("RNTO " + rel("../outside/stolen")))
        f.sendcmd("RNFR " + ("file.txt" if cwd == "/pub" else "pub/file.txt"))
        refused(f, "RNTO dirlink_out/stolen", lambda: f.sendcmd("RNTO " + rel("dirlink_out/stolen")))

    # The raw forms a client could send: absolute names are the root's.
    f.cwd("/")
    if f.pwd() != "/":
        fail("PWD: %r" % f.pwd())
    got = []
    f.retrbinary("RETR /pub/file.txt", got.append)
    if b"".join(got) != b"public\n":
        fail("RETR /pub/file.txt: %r" % got)

    # Symlinks that stay inside work, and PWD shows the real place.
    got = []
    f.retrbinary("RETR link_in", got.append)
    if b"".join(got) != b"public\n":
        fail("RETR link_in: %r" % got)
    got = []
    f.retrbinary("RETR abs_in/file.txt", got.append)
    if b"".join(got) != b"public\n":
        fail("RETR abs_in/file.txt: %r" % got)
    f.cwd("abs_in")
    if f.pwd() != "/pub":
        fail("PWD after CWD abs_in: %r" % f.pwd())
    f.cwd("deep/up2")
    if f.pwd() != "/":
        fail("PWD after CWD pub/deep/up2: %r" % f.pwd())

    # A directory replaced by a symlink to the outside after CWD into it.
    f.mkd("moving")
    f.cwd("moving")
    os.rmdir(os.path.join(root, "moving"))
    os.symlink(out, os.path.join(root, "moving"))
    refused(f, "RETR secret.txt in a swapped directory", lambda: f.retrbinary("RETR secret.txt", lambda b: None))
    refused(f, "STOR in a swapped directory", lambda: f.storbinary("STOR new.txt", io.BytesIO(b"x")))
    refused(f, "LIST in a swapped directory", lambda: f.retrlines("LIST", lambda l: None))
    f.cwd("/")

    # Removing a symlink that points outside removes the link, not its target.
    f.delete("link_out")
    if os.path.lexists(os.path.join(root, "link_out")):
        fail("DELE link_out left the link")
    f.quit()

    after = snapshot(out)
    if after != before:
        changed = sorted(set(before.items()) ^ set(after.items()))
        fail("the outside changed: %r" % changed)
    if temp_files(root) or temp_files(out):
        fail("temporary files left: %r" % (temp_files(root) + temp_files(out)))
    rc = tooltest.stop(srv.proc)
    if rc != 0:
        fail("ftpd exited %d on SIGTERM; stderr: %r" % (rc, srv.stderr_text()))


tooltest.main(main)
