"""pipes_countdown.py - countdown1-3: the first line, N..1 one a tick,
then "Lift off!"; countdown2 and countdown3 print "Launch aborted!" and
exit 0 when a byte arrives on stdin, and run to completion with stdin at
end of file or open and silent; countdown3 stops its ticker (seen from
outside: pipes_tickspy, preloaded, counts the tool's goro_ticker_make and
goro_ticker_stop calls)."""
import os
import subprocess
import tempfile
import threading
import time

from tooltest import SLOW, TOP_BUILDDIR, fail, main, run, start, stop, tool

FIRST = "Commencing countdown.  Press return to abort.\n"
SPY = os.path.join(TOP_BUILDDIR, "test", "tools", ".libs", "pipes_tickspy.so")


def lines(n, end):
    return FIRST + "".join("%d\n" % i for i in range(n, 0, -1)) + end + "\n"


def to_completion(name, n, tick, stdin, env=None):
    e = dict(os.environ)
    e.update(env or {})
    t0 = time.monotonic()
    r = run([tool(name), "-n", str(n), "-tick", tick], timeout=30, stdin=stdin,
            capture_output=True, env=e)
    took = time.monotonic() - t0
    if r.returncode != 0 or r.stdout.decode() != lines(n, "Lift off!"):
        fail("%s -n %d -tick %s: status %d, stdout %r, stderr %r" %
             (name, n, tick, r.returncode, r.stdout, r.stderr))
    return took, r.stderr.decode()


def abort(name, env=None):
    """Aborts a long countdown once it has printed 3 numbers."""
    e = dict(os.environ)
    e.update(env or {})
    p = start([tool(name), "-n", "1000", "-tick", "50ms"], stdin=subprocess.PIPE,
              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
    got = []
    done = threading.Event()

    def reader():
        for raw in iter(p.stdout.readline, b""):
            got.append(raw.decode())
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + 20 * SLOW
    while len(got) < 4 and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.01)
    if len(got) < 4:
        stop(p)
        fail("%s: only %r within %gs" % (name, got, 20 * SLOW))
    t0 = time.monotonic()
    p.stdin.write(b"\n")
    p.stdin.flush()
    try:
        rc = p.wait(10 * SLOW)
    except subprocess.TimeoutExpired:
        stop(p)
        fail("%s: still counting %gs after a byte on stdin: %r" % (name, 10 * SLOW, got[-3:]))
    took = time.monotonic() - t0
    done.wait(5 * SLOW)
    err = p.stderr.read().decode()
    stop(p)
    out = "".join(got)
    if rc != 0 or err:
        fail("%s aborted: status %d, stderr %r" % (name, rc, err))
    # The numbers counted down without a gap, then the abort, nothing else.
    nums = got[1:-1]
    if got[0] != FIRST or got[-1] != "Launch aborted!\n" or \
            nums != ["%d\n" % i for i in range(1000, 1000 - len(nums), -1)]:
        fail("%s aborted: output %r" % (name, out[-300:]))
    if "Lift off!" in out:
        fail("%s aborted and lifted off" % name)
    return took


def tickspy(name, aborted=False):
    """(made, stopped) of the tool's tickers, or None when not visible."""
    fd, out = tempfile.mkstemp(prefix="pipes_tickspy.")
    os.close(fd)
    try:
        asan = os.environ.get("ASAN_OPTIONS", "")
        env = {"LD_PRELOAD": SPY, "PIPES_TICKSPY_OUT": out,
               # The spy comes before the ASan runtime in a sanitized build.
               "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}
        if aborted:
            abort(name, env)
        else:
            to_completion(name, 2, "20ms", subprocess.DEVNULL, env)
        with open(out) as f:
            report = f.read().split()
    finally:
        os.unlink(out)
    if not report:
        return None
    kv = dict(item.split("=") for item in report)
    return int(kv["made"]), int(kv["stopped"])


def test():
    # Exact lines, one number a tick: N ticks take N x tick at least.
    for name in ("countdown1", "countdown2", "countdown3"):
        took, _ = to_completion(name, 5, "40ms", subprocess.DEVNULL)
        if took < 0.2:
            fail("%s -n 5 -tick 40ms took %.3fs, less than 5 ticks" % (name, took))
        to_completion(name, 0, "40ms", subprocess.DEVNULL)

    # End of input is not an abort; neither is an open, silent stdin.
    for name in ("countdown2", "countdown3"):
        _, err = to_completion(name, 4, "20ms", subprocess.DEVNULL, {"GORO_LEAKCHECK": "1"})
        if err:
            fail("%s </dev/null: the stdin reader outlived the countdown: %r" % (name, err))
        r, w = os.pipe()
        try:
            to_completion(name, 3, "20ms", r)
        finally:
            os.close(r)
            os.close(w)

    # A byte on stdin aborts, at once (well within the countdown's 50s).
    for name in ("countdown2", "countdown3"):
        took = abort(name)
        if took > 5 * SLOW:
            fail("%s took %.1fs to abort" % (name, took))

    # countdown3 stops the ticker it makes; countdown1, as the book's
    # time.Tick, does not (which shows the spy can tell).
    if not os.path.exists(SPY):
        print("note: %s not built (no shared libraries): ticker stop not checked" % SPY)
        return
    c1 = tickspy("countdown1")
    if c1 is None:
        print("note: the tools link libgoro statically; ticker stop not checked")
        return
    if c1 != (1, 0):
        fail("countdown1: tickers made, stopped = %r, want (1, 0)" % (c1,))
    for aborted in (False, True):
        c3 = tickspy("countdown3", aborted)
        if c3 != (1, 1):
            fail("countdown3%s: tickers made, stopped = %r, want (1, 1)" %
                 (" aborted" if aborted else "", c3))


main(test)
