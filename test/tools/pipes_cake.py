"""pipes_cake.py - cake: every cake goes through each stage once, and the
last line is "N cakes in D: R cakes/s" with D a Go duration no shorter
than the slowest stage's total work, and R = N / D."""
import os
import re
import subprocess

from tooltest import fail, main, run, tool

LINE = re.compile(r"^(\d+) cakes in (\S+): (\d+\.\d) cakes/s\n$")
UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def go_duration(s):
    """Seconds of a Go duration string ("1m2.5s", "215.3ms", "0s")."""
    if s == "0s":
        return 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)", s)
    if not parts or "".join(a + b for a, b in parts) != s:
        fail("%r is not a Go duration" % s)
    return sum(float(a) * UNITS[b] for a, b in parts)


def cake(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    r = run([tool("cake")] + list(args), timeout=60, stdin=subprocess.DEVNULL,
            capture_output=True, env=e)
    if r.returncode != 0:
        fail("cake %s: status %d, stderr %r" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout.decode(), r.stderr.decode()


def last_line(out, args, cakes, min_secs):
    lines = out.splitlines(True)
    m = LINE.match(lines[-1]) if lines else None
    if not m:
        fail("cake %s: last line %r does not read 'N cakes in D: R cakes/s'" % (args, lines[-1:]))
    n, d, rate = int(m.group(1)), go_duration(m.group(2)), float(m.group(3))
    if n != cakes:
        fail("cake %s: %d cakes, want %d" % (args, n, cakes))
    if d < min_secs:
        fail("cake %s: took %s, less than the %gs the inscriber alone works" % (args, m.group(2), min_secs))
    if n > 0 and abs(rate - n / d) > 0.06 + 0.002 * n / d:
        fail("cake %s: %s cakes/s, but %d cakes in %gs is %.2f" % (args, m.group(3), n, d, n / d))
    return lines[:-1]


def test():
    # The defaults: 20 cakes, 10ms a stage; the inscriber alone works 200ms.
    out, err = cake(env={"GORO_LEAKCHECK": "1"})
    if last_line(out, "", 20, 0.2):
        fail("cake without -v printed more than its last line: %r" % out)
    if err:
        fail("cake: stderr %r (GORO_LEAKCHECK=1: a goroutine outlived the shop?)" % err)

    out, _ = cake("-cakes", "0")
    last_line(out, "-cakes 0", 0, 0)

    # -v: each cake baked, iced, inscribed and finished once, in that order,
    # with buffers, three icers and spread times.
    args = ["-v", "-cakes", "15", "-bake", "2ms", "-bake-spread", "1ms", "-bake-buf", "3",
            "-icers", "3", "-ice", "6ms", "-ice-spread", "2ms", "-ice-buf", "2",
            "-inscribe", "2ms", "-inscribe-spread", "1ms"]
    out, _ = cake(*args)
    steps = last_line(out, " ".join(args), 15, 0)
    seen = {}
    for line in steps:
        m = re.fullmatch(r"(baking|icing|inscribing|finished) (\d+)\n", line)
        if not m:
            fail("cake -v: unexpected line %r" % line)
        seen.setdefault(int(m.group(2)), []).append(m.group(1))
    if sorted(seen) != list(range(15)):
        fail("cake -v: cakes %r, want 0..14" % sorted(seen))
    for c, s in seen.items():
        if s != ["baking", "icing", "inscribing", "finished"]:
            fail("cake -v: cake %d went %r" % (c, s))

    # Slow icing: 12 cakes of 30ms icing take 360ms with one icer, and with
    # four icers at least the 12 x 5ms the inscriber works.
    out, _ = cake("-cakes", "12", "-bake", "1ms", "-ice", "30ms", "-inscribe", "5ms")
    last_line(out, "-ice 30ms", 12, 0.36)
    out, _ = cake("-cakes", "12", "-bake", "1ms", "-ice", "30ms", "-inscribe", "5ms", "-icers", "4")
    last_line(out, "-ice 30ms -icers 4", 12, 0.06)


main(test)
