#!/usr/bin/env python3
"""layers.py SRCDIR - check src/ against the layer map of src/internal.h.

The map's rows ("<n> <layer>: <files>") give each file of src/ a layer.
A file may call a goro_ or goro__ function defined in its own layer or a
lower one, and include ("...") the headers of those layers only. Every .c
and .h file of src/ but internal.h and annotate.h (included everywhere)
must be on the map, and every file on the map must exist.

Exit status 0 when the map holds, 1 with one line per violation.
"""
import os
import re
import sys

ROW = re.compile(r"^ \*\s+(\d+) ([a-z]+): (.+)$")
DEF_C = re.compile(r"^(goro_\w+)\(", re.M)                  # a definition: name at line start
DEF_H = re.compile(r"^static inline [^\n]*\n(goro_\w+)\(", re.M)
CALL = re.compile(r"\b(goro_\w+)\s*\(")
INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)
EVERYWHERE = {"internal.h", "annotate.h", "config.h"}


def strip(text):
    """Drop comments and string literals, keeping line structure."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(\\.|[^"\\\n])*"', '""', text)


def read_map(srcdir):
    layer = {}
    with open(os.path.join(srcdir, "internal.h")) as f:
        for line in f:
            m = ROW.match(line.rstrip("\n"))
            if m:
                for name in m.group(3).split():
                    layer[name] = int(m.group(1))
            if line.startswith("#ifndef"):
                break
    return layer


def main(srcdir):
    errors = []
    layer = read_map(srcdir)
    if len(layer) < 5:
        print("layers: no layer map found in %s/internal.h" % srcdir)
        return 1
    files = sorted(f for f in os.listdir(srcdir) if f.endswith((".c", ".h")))
    for f in files:
        if f not in layer and f not in EVERYWHERE:
            errors.append("%s is not on the layer map" % f)
    for f in layer:
        if f not in files:
            errors.append("%s is on the layer map but not in src/" % f)
    texts = {}
    for f in files:
        with open(os.path.join(srcdir, f)) as fh:
            texts[f] = strip(fh.read())
    owner = {}
    for f, text in texts.items():
        if f not in layer:
            continue
        for name in (DEF_C if f.endswith(".c") else DEF_H).findall(text):
            owner.setdefault(name, f)
    checked = 0
    for f, text in texts.items():
        if f not in layer:
            continue
        mine = layer[f]
        for inc in INCLUDE.findall(text):
            if inc in layer and layer[inc] > mine:
                errors.append("%s (layer %d) includes %s (layer %d)" % (f, mine, inc, layer[inc]))
        for lineno, line in enumerate(text.split("\n"), 1):
            for name in CALL.findall(line):
                if line.startswith(name + "("):
                    continue  # its definition
                where = owner.get(name)
                if where is None:
                    continue  # a macro, or a function of internal.h itself
                checked += 1
                if layer[where] > mine:
                    errors.append("%s:%d (layer %d) calls %s of %s (layer %d)"
                                  % (f, lineno, mine, name, where, layer[where]))
    if checked == 0:
        errors.append("no call between files was found: the checker reads nothing")
    for e in errors:
        print("layers: " + e)
    if not errors:
        print("layers: %d files, %d calls between them, all downward or level" %
              (len(layer), checked))
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: layers.py SRCDIR")
    sys.exit(main(sys.argv[1]))
