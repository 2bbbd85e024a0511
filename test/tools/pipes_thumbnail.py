"""pipes_thumbnail.py - thumbnail: for each dir/foo.EXT (jpg, jpeg, png,
any case) a dir/foo.thumb.jpg that decodes as a JPEG whose longer side is
-size (an image already smaller keeps its size) with the aspect kept; the
names printed, then "total: B bytes" with B the thumbnails' total size;
names from stdin with no FILE; a file that fails is reported and the rest
still made, with exit status 1.

The input images are made, and the outputs decoded, by pipes_img (libgd)."""
import os
import re
import shutil
import subprocess
import tempfile

from tooltest import TOP_BUILDDIR, fail, main, run, skip, tool

IMG = os.path.join(TOP_BUILDDIR, "test", "tools", "pipes_img")

# name -> (width, height)
INPUTS = {
    "wide.jpg": (640, 480),
    "tall.PNG": (300, 900),
    "square.jpeg": (257, 257),
    "pano.JPG": (1000, 120),
    "thin.png": (2, 700),
    "small.jpg": (50, 40),
    "sub/dir/deep.png": (400, 200),
}


def img(*args):
    r = run([IMG] + list(args), capture_output=True)
    if r.returncode != 0:
        fail("pipes_img %s: %r" % (" ".join(args), r.stderr))
    return r.stdout.decode().split()


def thumb_name(path):
    stem, _ = os.path.splitext(path)
    return stem + ".thumb.jpg"


def want_size(w, h, size):
    if max(w, h) <= size:
        return w, h
    if w >= h:
        return size, max(1, round(h * size / w))
    return max(1, round(w * size / h)), size


def check_thumb(path, w, h, size):
    t = thumb_name(path)
    if not os.path.exists(t):
        fail("no thumbnail %s for %s" % (t, path))
    fmt, tw, th = img("size", t)
    tw, th = int(tw), int(th)
    ww, wh = want_size(w, h, size)
    if fmt != "jpeg":
        fail("%s is %s, want jpeg" % (t, fmt))
    if abs(tw - ww) > 1 or abs(th - wh) > 1 or max(tw, th) != max(ww, wh):
        fail("%s is %dx%d, want %dx%d (from %dx%d, -size %d)" % (t, tw, th, ww, wh, w, h, size))
    # The picture itself: pipes_img's gradient is red along x and green
    # along y, so the top-right corner is red and the bottom-left green.
    if min(w, h) >= 20:
        for (x, y), want in (((tw - 1, 0), (255, 0, 128)), ((0, th - 1), (0, 255, 128))):
            got = [int(v) for v in img("pixel", t, str(x), str(y))]
            if any(abs(g - c) > 60 for g, c in zip(got, want)):
                fail("%s: pixel %d,%d is %r, want about %r" % (t, x, y, got, want))


def thumbnail(args, stdin=None, cwd=None):
    r = run([os.path.abspath(tool("thumbnail"))] + args, timeout=60, cwd=cwd,
            input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def check_output(out, made, what, cwd=""):
    lines = out.splitlines()
    if not lines:
        fail("%s: no output" % what)
    m = re.fullmatch(r"total: (\d+) bytes", lines[-1])
    if not m:
        fail("%s: last line %r, want 'total: B bytes'" % (what, lines[-1]))
    names = lines[:-1]
    if sorted(names) != sorted(thumb_name(p) for p in made):
        fail("%s: printed %r, want the thumbnails of %r" % (what, names, made))
    total = sum(os.path.getsize(os.path.join(cwd, n)) for n in names)
    if int(m.group(1)) != total:
        fail("%s: total %s bytes, but the thumbnails hold %d" % (what, m.group(1), total))


def test():
    if not os.path.exists(tool("thumbnail")) or not os.path.exists(IMG):
        skip("thumbnail not built (configure found no libgd)")
    d = tempfile.mkdtemp(prefix="pipes_thumbnail.")
    try:
        for name, (w, h) in INPUTS.items():
            os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
            img("make", os.path.join(d, name), str(w), str(h))
        paths = [os.path.join(d, n) for n in INPUTS]

        # The default size, 128, with the files as arguments.
        rc, out, err = thumbnail(paths)
        if rc != 0 or err:
            fail("thumbnail FILES: status %d, stderr %r" % (rc, err))
        check_output(out, paths, "thumbnail FILES")
        for name, (w, h) in INPUTS.items():
            check_thumb(os.path.join(d, name), w, h, 128)

        # -size 64, the names on stdin (relative to the working directory,
        # with a blank line and a CRLF line among them).
        for p in paths:
            os.unlink(thumb_name(p))
        names = list(INPUTS)
        stdin = ("\n".join(names[:3]) + "\n\n" + names[3] + "\r\n" + "\n".join(names[4:])).encode()
        rc, out, err = thumbnail(["-size", "64"], stdin=stdin, cwd=d)
        if rc != 0 or err:
            fail("thumbnail -size 64 <names: status %d, stderr %r" % (rc, err))
        check_output(out, names, "thumbnail -size 64 <names", cwd=d)
        for name, (w, h) in INPUTS.items():
            check_thumb(os.path.join(d, name), w, h, 64)

        # Failures: garbage named .jpg, a PNG cut short, a JPEG with its
        # header only, a missing file, an unsupported extension. Each is
        # reported on its own line; the good files are still made; status 1.
        bad = os.path.join(d, "bad")
        os.mkdir(bad)
        with open(os.path.join(bad, "noise.jpg"), "wb") as f:
            f.write(os.urandom(3000))
        with open(os.path.join(d, "tall.PNG"), "rb") as f:
            png = f.read()
        with open(os.path.join(bad, "cut.png"), "wb") as f:
            f.write(png[:len(png) // 2])
        with open(os.path.join(bad, "header.jpg"), "wb") as f:
            f.write(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
        with open(os.path.join(bad, "pic.gif"), "wb") as f:
            f.write(b"GIF89a")
        failing = [os.path.join(bad, n) for n in ("noise.jpg", "cut.png", "header.jpg", "missing.png", "pic.gif")]
        good = [os.path.join(d, "wide.jpg"), os.path.join(d, "small.jpg")]
        for p in good:
            os.unlink(thumb_name(p))
        rc, out, err = thumbnail(["-size", "100", failing[0], good[0]] + failing[1:] + [good[1]])
        if rc != 1:
            fail("thumbnail with bad files: status %d, want 1; stderr %r" % (rc, err))
        check_output(out, good, "thumbnail with bad files")
        check_thumb(good[0], 640, 480, 100)
        check_thumb(good[1], 50, 40, 100)
        errs = err.splitlines()
        if len(errs) != len(failing):
            fail("thumbnail with bad files: %d lines on stderr, want %d: %r" % (len(errs), len(failing), err))
        for p in failing:
            if not any(e.startswith("thumbnail: ") and p in e for e in errs):
                fail("thumbnail: %s not reported: %r" % (p, err))
            if os.path.exists(thumb_name(p)):
                fail("thumbnail: %s made a thumbnail" % p)

        # Many at once: 40 files, one goroutine each.
        many = os.path.join(d, "many")
        os.mkdir(many)
        made = []
        for i in range(40):
            p = os.path.join(many, "p%02d.%s" % (i, "png" if i % 2 else "jpg"))
            shutil.copy(os.path.join(d, "tall.PNG" if i % 2 else "wide.jpg"), p)
            made.append(p)
        rc, out, err = thumbnail(["-size", "32"] + made)
        if rc != 0 or err:
            fail("thumbnail 40 files: status %d, stderr %r" % (rc, err))
        check_output(out, made, "thumbnail 40 files")
        for i, p in enumerate(made):
            check_thumb(p, *((300, 900) if i % 2 else (640, 480)), 32)
    finally:
        shutil.rmtree(d, ignore_errors=True)


main(test)
