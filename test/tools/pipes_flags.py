"""pipes_flags.py - the tools' command-line conventions (README.md, "The
chapter's tools") for the pipes family: -h prints the usage on stdout and exits 0; an unknown flag, a bad
value or an extra argument prints the usage on stderr and exits 2."""
import os
import subprocess

from tooltest import fail, main, run, tool

GD_TOOLS = ["thumbnail", "mandelbrot"]

# tool -> argument lists that must be refused with status 2.
BAD = {
    "spinner": [["-bogus"], ["-n", "x"], ["-n", "-1"], ["-n", "93"], ["extra"]],
    "pipeline1": [["-bogus"], ["-n", "x"], ["-n", "-2"], ["extra"]],
    "cake": [["-bogus"], ["-cakes", "-1"], ["-icers", "0"], ["-bake", "10"],
             ["-ice", "x"], ["-bake-buf", "-1"], ["-ice-buf", "-3"],
             ["-inscribe", "-1ms"], ["extra"]],
    "countdown1": [["-bogus"], ["-n", "-1"], ["-tick", "0"], ["-tick", "soon"], ["extra"]],
    "countdown2": [["-bogus"], ["-n", "-1"], ["-tick", "0"], ["-tick", "-1s"], ["extra"]],
    "countdown3": [["-bogus"], ["-n", "x"], ["-tick", "0s"], ["-tick", "1"], ["extra"]],
    "thumbnail": [["-bogus"], ["-size", "0"], ["-size", "x"]],
    "mandelbrot": [["-bogus"], ["-workers", "0"], ["-size", "0"], ["-size", "100000"],
                   ["-o"], ["extra"]],
}


def test():
    for name, bads in BAD.items():
        if name in GD_TOOLS and not os.path.exists(tool(name)):
            print("note: %s not built (no libgd); its flags are not tested" % name)
            continue
        r = run([tool(name), "-h"], stdin=subprocess.DEVNULL, capture_output=True)
        out = r.stdout.decode()
        if r.returncode != 0 or not out.startswith("usage: %s " % name):
            fail("%s -h: status %d, stdout %r" % (name, r.returncode, out))
        if r.stderr:
            fail("%s -h wrote on stderr: %r" % (name, r.stderr))
        for args in bads:
            r = run([tool(name)] + args, stdin=subprocess.DEVNULL, capture_output=True)
            err = r.stderr.decode()
            if r.returncode != 2:
                fail("%s %s: status %d, want 2; stderr %r" % (name, " ".join(args), r.returncode, err))
            if "usage: %s " % name not in err:
                fail("%s %s: no usage on stderr: %r" % (name, " ".join(args), err))
            if r.stdout:
                fail("%s %s wrote on stdout: %r" % (name, " ".join(args), r.stdout))


main(test)
