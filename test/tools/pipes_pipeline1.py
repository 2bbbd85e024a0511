"""pipes_pipeline1.py - pipeline1: the squares of 0..N-1 with -n, and
forever without it (until its reader goes away)."""
import signal
import subprocess

from tooltest import SLOW, fail, main, run, start, stop, tool


def test():
    for n in (0, 1, 10, 5000):
        r = run([tool("pipeline1"), "-n", str(n)], stdin=subprocess.DEVNULL, capture_output=True)
        want = "".join("%d\n" % (x * x) for x in range(n))
        if r.returncode != 0 or r.stderr or r.stdout.decode() != want:
            fail("pipeline1 -n %d: status %d, stderr %r, stdout %r..." %
                 (n, r.returncode, r.stderr, r.stdout[:100]))

    # Without -n: squares forever. Read 20000 of them, then close the pipe:
    # the next write kills it with SIGPIPE, as it would kill a Go program.
    p = start([tool("pipeline1")], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    for x in range(20000):
        line = p.stdout.readline()
        if line != b"%d\n" % (x * x):
            stop(p)
            fail("pipeline1: line %d is %r, want %d" % (x, line, x * x))
    p.stdout.close()
    try:
        rc = p.wait(10 * SLOW)
    except subprocess.TimeoutExpired:
        stop(p, signal.SIGKILL)
        fail("pipeline1 went on after its reader closed the pipe")
    stop(p)
    if rc != -signal.SIGPIPE:
        fail("pipeline1 with a closed stdout: status %d, want death by SIGPIPE" % rc)


main(test)
