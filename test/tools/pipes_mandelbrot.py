"""pipes_mandelbrot.py - mandelbrot: the PNG of section 3.3, N x N, the
same bytes for every -workers and on stdout as with -o; its pixels are
the book's (gray 255 - 15n, uint8 arithmetic, for a point that escapes
after n iterations; black inside), checked against the book's loop
computed here."""
import os
import shutil
import subprocess
import tempfile

from tooltest import TOP_BUILDDIR, fail, main, run, skip, tool

IMG = os.path.join(TOP_BUILDDIR, "test", "tools", "pipes_img")


def book_gray(px, py, size):
    """The book's mandelbrot(z) for pixel px, py of a size x size picture."""
    y = py / size * 4 - 2
    x = px / size * 4 - 2
    z = complex(x, y)
    v = 0j
    for n in range(200):
        v = v * v + z
        if abs(v) > 2:
            return (255 - 15 * n) % 256
    return 0


def mandelbrot(*args):
    r = run([tool("mandelbrot")] + list(args), timeout=120, stdin=subprocess.DEVNULL,
            capture_output=True)
    if r.returncode != 0 or r.stderr:
        fail("mandelbrot %s: status %d, stderr %r" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def test():
    if not os.path.exists(tool("mandelbrot")) or not os.path.exists(IMG):
        skip("mandelbrot not built (configure found no libgd)")
    d = tempfile.mkdtemp(prefix="pipes_mandelbrot.")
    try:
        size = 300
        files = {}
        for w in (1, 2, 3, 8, 64):
            f = os.path.join(d, "w%d.png" % w)
            mandelbrot("-workers", str(w), "-size", str(size), "-o", f)
            with open(f, "rb") as fh:
                files[w] = fh.read()
        if len(set(files.values())) != 1:
            fail("mandelbrot: the bytes differ between -workers %r: sizes %r" %
                 (sorted(files), [len(b) for b in files.values()]))
        if mandelbrot("-size", str(size)) != files[1]:
            fail("mandelbrot: stdout differs from -o FILE")
        f = os.path.join(d, "w1.png")
        r = run([IMG, "size", f], capture_output=True)
        if r.returncode != 0 or r.stdout.decode().split() != ["png", str(size), str(size)]:
            fail("mandelbrot -size %d: decodes as %r %r" % (size, r.stdout, r.stderr))

        # The book's picture, pixel by pixel on a small one. A point on the
        # set's edge may escape one iteration apart with another rounding
        # (a fused multiply-add): allow a few such pixels, not more.
        small = 96
        f = os.path.join(d, "small.png")
        mandelbrot("-size", str(small), "-workers", "5", "-o", f)
        r = run([IMG, "gray", f], capture_output=True)
        rows = [[int(v) for v in line.split()] for line in r.stdout.decode().splitlines()]
        if r.returncode != 0 or len(rows) != small or any(len(row) != small for row in rows):
            fail("mandelbrot -size %d: pipes_img gray: %r" % (small, r.stderr))
        bad = []
        for py in range(small):
            for px in range(small):
                g = book_gray(px, py, small)
                if rows[py][px] != g:
                    bad.append((px, py, rows[py][px], g))
        if len(bad) > 3:
            fail("mandelbrot: %d pixels differ from the book's, e.g. %r" % (len(bad), bad[:5]))
        if book_gray(small // 2, small // 2, small) != 0 or book_gray(0, 0, small) != 255:
            fail("the test's own Mandelbrot is wrong")

        # A failure at run time: one line on stderr, status 1.
        r = run([tool("mandelbrot"), "-size", "8", "-o", os.path.join(d, "no", "such", "dir.png")],
                stdin=subprocess.DEVNULL, capture_output=True)
        if r.returncode != 1 or not r.stderr.decode().startswith("mandelbrot: open "):
            fail("mandelbrot -o into a missing directory: status %d, stderr %r" % (r.returncode, r.stderr))
    finally:
        shutil.rmtree(d, ignore_errors=True)


main(test)
