"""pipes_spinner.py - spinner: frames of -\\|/ after carriage returns while
fib(N) runs, then the line "Fibonacci(N) = X" and nothing after it."""
import re
import subprocess

from tooltest import fail, main, run, tool


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def check(n):
    r = run([tool("spinner"), "-n", str(n)], timeout=60, stdin=subprocess.DEVNULL,
            capture_output=True)
    if r.returncode != 0 or r.stderr:
        fail("spinner -n %d: status %d, stderr %r" % (n, r.returncode, r.stderr))
    out = r.stdout.decode()
    last = out.rfind("\r")
    head, tail = out[:last], out[last + 1:]
    want = "Fibonacci(%d) = %d\n" % (n, fib(n))
    if tail != want:
        fail("spinner -n %d: ends with %r, want %r (whole output %r)" % (n, tail, want, out[-200:]))
    # Only frames before it, and at least one: the spinner draws its first
    # frame before it can see that main is done.
    if not re.fullmatch(r"(\r[-\\|/])+", head):
        fail("spinner -n %d: before the result %r, want frames only" % (n, head[-200:]))
    frames = head.split("\r")[1:]
    for i, f in enumerate(frames):
        if f != "-\\|/"[i % 4]:
            fail("spinner -n %d: frame %d is %r, want the cycle -\\|/" % (n, i, f))
    return len(frames)


def test():
    check(0)
    check(1)
    check(20)
    # fib(40) runs for a few tenths of a second: several frames, and the
    # spinner is stopped mid-cycle; repeated, as a late frame would be a race.
    for _ in range(3):
        check(40)


main(test)
