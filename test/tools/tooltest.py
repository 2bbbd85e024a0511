"""tooltest.py - what the tools' end-to-end tests share.

Every process a test starts is stopped by its PID (stop), every wait is
bounded (scaled by SLOW: CK_TIMEOUT_MULTIPLIER, 4 in sanitizer builds),
and servers listen on 127.0.0.1 with -port 0: start_server reads the
"NAME: listening on HOST:PORT" line to learn the port.

A test fails by raising (an uncaught exception exits 1) or by calling
fail(); it skips (exit status 77) only when a client program it needs is
not installed (CI installs them all).
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

TOP_BUILDDIR = os.environ.get("top_builddir", ".")
TOP_SRCDIR = os.environ.get("top_srcdir", ".")
SLOW = float(os.environ.get("CK_TIMEOUT_MULTIPLIER", "1") or 1)

_procs = []


def prompt(seconds):
    """The bound for "stops within SECONDS": scaled by SLOW, and by the
    machine's load per CPU when that is above 1 (a process that is ready
    to run waits its turn for the CPU; the bound is about the tool, not
    the scheduler). On an idle machine it is the nominal bound."""
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:
        load = 1.0
    return seconds * SLOW * max(1.0, load)


def tool(name):
    """The path of a built tool."""
    return os.path.join(TOP_BUILDDIR, "tools", name)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    stop_all()
    sys.exit(1)


def skip(msg):
    print("SKIP: " + msg, file=sys.stderr)
    stop_all()
    sys.exit(77)


def need(*progs):
    """Skip the test unless every program is on PATH."""
    for p in progs:
        if shutil.which(p) is None:
            skip(p + " is not installed")


class Server:
    """A started tool: proc, host, port, and its stderr lines so far."""

    def __init__(self, proc, host, port, lines):
        self.proc = proc
        self.host = host
        self.port = port
        self.lines = lines

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    def stderr_text(self):
        return "".join(self.lines)


def _drain(stream, lines, first, ready):
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace")
        lines.append(line)
        if not ready.is_set() and " listening on " in line:
            first.append(line)
            ready.set()
    ready.set()


def start(args, **kw):
    """Popen args, remembered so that stop_all stops it by PID."""
    p = subprocess.Popen(args, **kw)
    _procs.append(p)
    return p


def start_server(name, *args, env=None, timeout=10, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL):
    """Starts tools/NAME -addr 127.0.0.1 -port 0 ARGS and waits (bounded)
    for its listening line. Returns a Server."""
    argv = [tool(name), "-addr", "127.0.0.1", "-port", "0"] + list(args)
    e = dict(os.environ)
    if env:
        e.update(env)
    p = start(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=e)
    lines, first, ready = [], [], threading.Event()
    threading.Thread(target=_drain, args=(p.stderr, lines, first, ready), daemon=True).start()
    if not ready.wait(timeout * SLOW) or not first:
        stop(p)
        fail("%s printed no listening line within %gs; stderr: %r" % (name, timeout * SLOW, "".join(lines)))
    m = re.match(r"^%s: listening on (\S+):(\d+)\n$" % re.escape(name), first[0])
    if not m:
        stop(p)
        fail("%s: bad listening line %r" % (name, first[0]))
    host = m.group(1).strip("[]")
    return Server(p, host, int(m.group(2)), lines)


def stop(p, sig=signal.SIGTERM, timeout=10):
    """Sends sig to p by its PID and waits for it (bounded; SIGKILL after).
    Returns its exit status (negative: killed by that signal)."""
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            if p in _procs:
                _procs.remove(p)
            fail("pid %d did not exit within %gs of signal %d" % (p.pid, timeout * SLOW, sig))
    if p in _procs:
        _procs.remove(p)
    return p.returncode


def stop_all():
    """Kills every process started here that is still running (by PID)."""
    for p in list(_procs):
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _procs.remove(p)


def wait_until(cond, timeout, what):
    """Polls cond() until true, at most timeout*SLOW seconds, else fails."""
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    fail("timed out after %gs waiting for %s" % (timeout * SLOW, what))


def run(args, timeout=20, **kw):
    """subprocess.run with a bounded time (scaled), failing on timeout."""
    try:
        return subprocess.run(args, timeout=timeout * SLOW, **kw)
    except subprocess.TimeoutExpired:
        fail("%r did not finish within %gs" % (args, timeout * SLOW))


def main(fn):
    """Runs fn(), stopping every started process afterwards, whatever happens."""
    try:
        fn()
    except SystemExit:
        raise
    except BaseException:
        import traceback
        traceback.print_exc()
        stop_all()
        sys.exit(1)
    stop_all()
    sys.exit(0)
