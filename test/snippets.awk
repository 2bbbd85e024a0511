# snippets.awk - extract the C snippets of doc/GUIDE.md and of the man
# pages' EXAMPLE(S) sections into DIR, for test/check_guide.sh.
#
# Usage: awk -v dir=DIR -v mode=md|man -v first=K FILE...
#
# For snippet number N (counted from 1 across one run of awk) it writes
#   DIR/sN.c      the C source, with #line directives pointing at FILE
#   DIR/sN.meta   key=value lines: kind, where, and the attributes
#   DIR/sN.out    the expected standard output (```output block), if any
#   DIR/sN.err    the expected standard error (```output stderr), if any
# and prints N, the number of the last snippet. Numbering starts at K + 1,
# so that several runs can share DIR.
#
# The formats are documented in doc/GUIDE.md, section "How the snippets
# are checked"; in short:
#
# Markdown (mode=md; doc/GUIDE.md and README.md). A fenced block opened by ```c at column 0 is a
# snippet. The rest of its info string holds attributes: given(DECLS),
# requires=NAME[,NAME...], exit=N, norun, notsan, nocompile, rdynamic, top.
# Its kind:
#   program  it defines main: compiled, linked with libgoro and run;
#   unit     it has an #include line but no main: compiled alone (-c);
#   top      attribute top: top-level declarations, compiled after the
#            standard prelude (below);
#   body     anything else: statements, wrapped after the prelude in
#            void guide_snippet_N(DECLS) { ... }.
# A block opened by ```output [stderr] [fuzzy] holds what the preceding
# program must write to standard output (or standard error). It belongs
# to the nearest program before it; any other fenced block in between
# (```go, ```c, ```text, ...) ends that program's outputs.
#
# Man pages (mode=man). In the section .SH EXAMPLE or .SH EXAMPLES, each
# .EX/.EE (or .nf/.fi) block with an #include line is a snippet: a program
# if it defines main, else a unit. Its roff escapes are undone; lines that
# are roff requests (starting with "." or "'") are dropped. A roff comment
# line `.\" snippet: ATTRS` before the block (invisible in the page) gives
# it the attributes above, e.g. norun for a program that waits for a signal.

function prelude(f) {
  print "#include <goro.h>" > f
  print "#include <errno.h>" > f
  print "#include <inttypes.h>" > f
  print "#include <signal.h>" > f
  print "#include <stdbool.h>" > f
  print "#include <stdint.h>" > f
  print "#include <stdio.h>" > f
  print "#include <stdlib.h>" > f
  print "#include <string.h>" > f
  print "#include <unistd.h>" > f
}

# The names declared by a parameter list "T a, U *b" -> "(void)a; (void)b;"
function voids(decls,    n, i, parts, p, out) {
  out = ""
  n = split(decls, parts, ",")
  for (i = 1; i <= n; i++) {
    p = parts[i]
    sub(/[[:space:]]+$/, "", p)
    if (match(p, /[A-Za-z_][A-Za-z0-9_]*$/))
      out = out "(void)" substr(p, RSTART, RLENGTH) "; "
  }
  return out
}

# Undo the roff escapes used in the man pages' code.
function unroff(s,    out, c, i, n) {
  out = ""
  n = length(s)
  for (i = 1; i <= n; i++) {
    c = substr(s, i, 1)
    if (c != "\\") {
      out = out c
      continue
    }
    c = substr(s, i + 1, 1)
    if (c == "e" || c == "\\") { out = out "\\"; i++ }
    else if (c == "-") { out = out "-"; i++ }
    else if (c == "&" || c == ":") { i++ }
    else if (c == "(") {
      c = substr(s, i + 2, 2)
      if (c == "aq") out = out "'"
      else if (c == "ga") out = out "`"
      else if (c == "dq") out = out "\""
      else if (c == "ti") out = out "~"
      else if (c == "ha") out = out "^"
      else if (c == "rs") out = out "\\"
      else { printf "%s:%d: unknown roff escape \\(%s\n", FILENAME, FNR, c > "/dev/stderr"; bad = 1 }
      i += 3
    } else {
      printf "%s:%d: unknown roff escape \\%s\n", FILENAME, FNR, c > "/dev/stderr"
      bad = 1
      out = out c
      i++
    }
  }
  return out
}

# Write snippet n (its lines in body[1..nbody], its first line at
# FILENAME:line0) in kind k with attributes a.
function emit(    f, m, i, k, has_main, has_include, decls, rest, tok, ntok, toks, j) {
  n++
  f = dir "/s" n ".c"
  m = dir "/s" n ".meta"
  has_main = 0
  has_include = 0
  for (i = 1; i <= nbody; i++) {
    if (body[i] ~ /^(int[[:space:]]+)?main[[:space:]]*\(/) has_main = 1
    if (body[i] ~ /^[[:space:]]*#[[:space:]]*include/) has_include = 1
  }
  decls = ""
  rest = attrs
  if (match(rest, /given\(.*\)/)) {
    decls = substr(rest, RSTART + 6, RLENGTH - 7)
    rest = substr(rest, 1, RSTART - 1) " " substr(rest, RSTART + RLENGTH)
  }
  k = has_main ? "program" : has_include ? "unit" : "body"
  printf "" > m
  ntok = split(rest, toks, /[[:space:]]+/)
  for (j = 1; j <= ntok; j++) {
    tok = toks[j]
    if (tok == "") continue
    if (tok == "top") { if (!has_main && !has_include) k = "top"; continue }
    if (tok ~ /^(requires=[A-Za-z0-9_,]+|exit=[0-9]+|norun|notsan|nocompile|rdynamic)$/) {
      print tok > m
      continue
    }
    printf "%s:%d: unknown snippet attribute \"%s\"\n", FILENAME, line0 - 1, tok > "/dev/stderr"
    bad = 1
  }
  if (decls != "" && k != "body") {
    printf "%s:%d: given() needs a statement snippet\n", FILENAME, line0 - 1 > "/dev/stderr"
    bad = 1
  }
  print "kind=" k > m
  print "where=" FILENAME ":" line0 > m
  printf "" > f
  if (k == "top" || k == "body")
    prelude(f)
  if (k == "body") {
    if (decls == "") decls = "void"
    print "void guide_snippet_" n "(" decls ");" > f
    print "void guide_snippet_" n "(" decls ")" > f
    print "{" > f
    if (decls != "void") print voids(decls) > f
  }
  print "#line " line0 " \"" FILENAME "\"" > f
  for (i = 1; i <= nbody; i++)
    print body[i] > f
  if (k == "body")
    print "}" > f
  close(f)
  close(m)
  last_program = (k == "program") ? n : 0
}

BEGIN { n = first + 0; bad = 0; last_program = 0 }

mode == "md" && !infence && /^```([^`]|$)/ {
  info = substr($0, 4)
  sub(/[[:space:]]+$/, "", info)
  if (info ~ /^c([[:space:]]|$)/) {
    infence = "c"
    attrs = substr(info, 2)
    nbody = 0
    line0 = FNR + 1
  } else if (info ~ /^output([[:space:]]|$)/) {
    if (last_program == 0) {
      printf "%s:%d: an output block that follows no program\n", FILENAME, FNR > "/dev/stderr"
      bad = 1
    }
    infence = "output"
    outfile = dir "/s" last_program ".out"
    fuzzy = 0
    ntok = split(substr(info, 7), toks, /[[:space:]]+/)
    for (j = 1; j <= ntok; j++) {
      if (toks[j] == "stderr") outfile = dir "/s" last_program ".err"
      else if (toks[j] == "fuzzy") fuzzy = 1
      else if (toks[j] != "") {
        printf "%s:%d: unknown output attribute \"%s\"\n", FILENAME, FNR, toks[j] > "/dev/stderr"
        bad = 1
      }
    }
    if (fuzzy) print "fuzzy=" (outfile ~ /err$/ ? "err" : "out") >> (dir "/s" last_program ".meta")
    printf "" > outfile
  } else {
    infence = "other"
    last_program = 0
  }
  next
}

mode == "md" && infence && /^```[[:space:]]*$/ {
  if (infence == "c")
    emit()
  else if (infence == "output")
    close(outfile)
  infence = ""
  next
}

mode == "md" && infence == "c" { body[++nbody] = $0; next }
mode == "md" && infence == "output" { print > outfile; next }

mode == "man" && FNR == 1 { inex = 0; inblock = 0; manattrs = "" }
mode == "md" && FNR == 1 {
  if (infence != "") {
    printf "%s: a fenced block is not closed\n", prevfile > "/dev/stderr"
    bad = 1
  }
  infence = ""
  last_program = 0
  prevfile = FILENAME
}
mode == "man" && /^\.SH/ {
  inex = ($0 ~ /^\.SH[[:space:]]+"?EXAMPLES?"?[[:space:]]*$/)
  next
}
mode == "man" && inex && !inblock && /^\.\\" *snippet:/ {
  manattrs = $0
  sub(/^\.\\" *snippet:/, "", manattrs)
  next
}
mode == "man" && inex && !inblock && /^\.(EX|nf)([[:space:]]|$)/ {
  inblock = 1
  nbody = 0
  line0 = FNR + 1
  attrs = manattrs
  manattrs = ""
  has_include = 0
  next
}
mode == "man" && inblock && /^\.(EE|fi)([[:space:]]|$)/ {
  inblock = 0
  for (i = 1; i <= nbody; i++)
    if (body[i] ~ /^[[:space:]]*#[[:space:]]*include/) has_include = 1
  if (has_include)
    emit()
  next
}
mode == "man" && inblock {
  # A request line becomes an empty one, which keeps the #line numbering.
  body[++nbody] = ($0 ~ /^[.']/) ? "" : unroff($0)
  next
}

END {
  if (infence != "") {
    printf "%s: a fenced block is not closed\n", FILENAME > "/dev/stderr"
    bad = 1
  }
  if (inblock) {
    printf "%s: an .EX block is not closed\n", FILENAME > "/dev/stderr"
    bad = 1
  }
  print n
  exit bad
}
