"""ftpd with curl: a 10 MB random file up (-T) and down, byte for byte,
in passive mode (curl's default: EPSV) and active mode (-P: EPRT, and
PORT with --disable-eprt); a listing; a refused escape is an error."""
import os

import tooltest
from tooltest import fail
from ftpd_common import random_file, sha256_file, start_ftpd, temp_files, workdir

SIZE = 10 * 1024 * 1024


def curl(*args):
    argv = ["curl", "-sS", "--fail", "--max-time", str(int(60 * tooltest.SLOW))] + list(args)
    return tooltest.run(argv, timeout=90, capture_output=True)


def main():
    tooltest.need("curl")
    base = workdir()
    root = os.path.join(base, "root")
    os.mkdir(root)
    src = os.path.join(base, "src.bin")
    digest = random_file(src, SIZE)
    srv = start_ftpd(root)
    url = "ftp://%s/" % srv.addr
    modes = [
        ("passive", []),
        ("active-eprt", ["-P", "127.0.0.1"]),
        ("active-port", ["-P", "127.0.0.1", "--disable-eprt"]),
        ("passive-pasv", ["--disable-epsv"]),
    ]
    for name, opts in modes:
        remote = "curl-%s.bin" % name
        r = curl(*opts, "-T", src, url + remote)
        if r.returncode != 0:
            fail("curl upload (%s) exited %d: %s" % (name, r.returncode, r.stderr))
        if sha256_file(os.path.join(root, remote)) != digest:
            fail("curl upload (%s): file differs" % name)
        out = os.path.join(base, "down-%s.bin" % name)
        r = curl(*opts, "-o", out, url + remote)
        if r.returncode != 0:
            fail("curl download (%s) exited %d: %s" % (name, r.returncode, r.stderr))
        if sha256_file(out) != digest:
            fail("curl download (%s): bytes differ" % name)
    r = curl(url)
    listing = r.stdout.decode()
    if r.returncode != 0 or "curl-passive.bin" not in listing or "-rw" not in listing:
        fail("curl listing: %d %r %s" % (r.returncode, listing, r.stderr))
    r = curl("--list-only", url)
    if sorted(r.stdout.decode().split()) != sorted(os.listdir(root)):
        fail("curl --list-only: %r" % r.stdout)
    r = curl("-o", os.path.join(base, "x"), "ftp://%s/%%2E%%2E/src.bin" % srv.addr)
    if r.returncode == 0:
        fail("curl fetched ../src.bin outside the root")
    if temp_files(root):
        fail("temporary files left: %r" % temp_files(root))
    rc = tooltest.stop(srv.proc)
    if rc != 0:
        fail("ftpd exited %d on SIGTERM; stderr: %r" % (rc, srv.stderr_text()))


tooltest.main(main)
