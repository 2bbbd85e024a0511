#!/bin/sh
# check_guide.sh - every C snippet of doc/GUIDE.md, of README.md and of the
# man pages' EXAMPLE sections compiles with -Wall -Wextra -Werror, and
# every program among them runs and writes what the text says it writes.
#
# test/snippets.awk extracts the snippets (the format is described there
# and in doc/GUIDE.md, "How the snippets are checked"). Each is compiled
# with the build's compiler and flags (sanitizers included), passed in by
# Makefile.am through AM_TESTS_ENVIRONMENT as GORO_SNIPPET_*; programs are
# linked against the built libgoro.la by the build's libtool and run with
# standard input from /dev/null, bounded by a timeout. A snippet marked
# requires=NAME is skipped (and the skip printed) while include/goro.h
# does not contain NAME, so it starts being checked when the feature
# lands. Fails when any check fails or when no snippet of the guide or of
# the man pages was compiled. The work directory, test/snippets.d in the
# build tree, is removed on success (unless GORO_SNIPPET_KEEP is set) and
# kept on failure.
set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
cc=${GORO_SNIPPET_CC:-cc}
cppflags="-I$srcdir/include -I$builddir/include ${GORO_SNIPPET_CPPFLAGS:-}"
cflags="${GORO_SNIPPET_CFLAGS:--g -O2 -pthread} -Wall -Wextra -Werror"
ldflags=${GORO_SNIPPET_LDFLAGS:-}
libs=${GORO_SNIPPET_LIBS:--pthread}
libtool=${GORO_SNIPPET_LIBTOOL:-$builddir/libtool}
header=$srcdir/include/goro.h
guide=$srcdir/doc/GUIDE.md
readme=$srcdir/README.md
work=$builddir/test/snippets.d

fail() {
  echo "check_guide: $*" >&2
  exit 1
}

for f in "$header" "$guide" "$readme" "$srcdir/test/snippets.awk" "$builddir/libgoro.la"; do
  [ -r "$f" ] || fail "cannot read $f"
done

# A run that hangs is killed: 60 s a program, times CK_TIMEOUT_MULTIPLIER.
mult=${CK_TIMEOUT_MULTIPLIER:-1}
case $mult in
'' | *[!0-9]*) mult=1 ;;
esac
limit=$((60 * mult))
if command -v timeout >/dev/null 2>&1; then
  run_bounded() { timeout "$limit" "$@"; }
else
  run_bounded() { "$@"; }
fi

under_tsan=no
case " ${GORO_SNIPPET_CFLAGS:-} " in
*-fsanitize=*thread*) under_tsan=yes ;;
esac

# fuzz FILE: the normalisation of a fuzzy output: addresses, durations as
# goro_dump writes them, then any other number.
fuzz() {
  sed -e 's/0x[0-9a-fA-F][0-9a-fA-F]*/ADDR/g' \
    -e 's/[0-9][0-9.]* ms/DURATION/g' \
    -e 's/[0-9][0-9.]* seconds/DURATION/g' \
    -e 's/[0-9][0-9.]* minutes/DURATION/g' \
    -e 's/[0-9][0-9]*/N/g' "$1"
}

rm -rf "$work"
mkdir -p "$work" || fail "cannot make $work"

n_md=$(awk -v dir="$work" -v mode=md -v first=0 -f "$srcdir/test/snippets.awk" \
  "$guide" "$readme") || fail "cannot extract the snippets of $guide and $readme"
n_all=$(awk -v dir="$work" -v mode=man -v first="$n_md" -f "$srcdir/test/snippets.awk" \
  "$srcdir"/man/*.3) || fail "cannot extract the examples of the man pages"

echo "check_guide: compiling with $cc $cppflags $cflags"
failures=0
compiled_guide=0
compiled_readme=0
compiled_man=0
refused=0
ran=0
compared=0
skipped=0

# problem SNIPPET WHERE MESSAGE [LOG]: report a failed check.
problem() {
  echo "FAIL: $2 (snippet $1): $3" >&2
  if [ $# -ge 4 ] && [ -s "$4" ]; then
    sed -e 's/^/    /' "$4" | head -n 40 >&2
  fi
  failures=$((failures + 1))
}

i=0
while [ "$i" -lt "$n_all" ]; do
  i=$((i + 1))
  s=$work/s$i
  kind=
  where=
  requires=
  want_exit=0
  norun=no
  notsan=no
  nocompile=no
  rdynamic=
  fuzzy_out=no
  fuzzy_err=no
  while IFS= read -r line; do
    case $line in
    kind=*) kind=${line#kind=} ;;
    where=*) where=${line#where=} ;;
    requires=*) requires=${line#requires=} ;;
    exit=*) want_exit=${line#exit=} ;;
    norun) norun=yes ;;
    notsan) notsan=yes ;;
    nocompile) nocompile=yes ;;
    rdynamic) rdynamic=-export-dynamic ;;
    fuzzy=out) fuzzy_out=yes ;;
    fuzzy=err) fuzzy_err=yes ;;
    esac
  done <"$s.meta"

  missing=
  for name in $(echo "$requires" | tr ',' ' '); do
    grep -q -w -- "$name" "$header" || missing="$missing $name"
  done
  if [ -n "$missing" ]; then
    echo "SKIP: $where (snippet $i): goro.h does not declare$missing yet"
    skipped=$((skipped + 1))
    continue
  fi

  extra=
  case $kind in
  unit | top) extra=-Wno-unused-function ;;
  esac
  # shellcheck disable=SC2086 # the flags are lists of words
  if $cc $cppflags $cflags $extra -c "$s.c" -o "$s.o" >"$s.cc.log" 2>&1; then
    if [ "$nocompile" = yes ]; then
      problem "$i" "$where" "compiled, but it is shown as a compile-time error"
      continue
    fi
  else
    if [ "$nocompile" = yes ]; then
      echo "ok: $where (snippet $i) is refused by the compiler: $(grep -m1 'error' "$s.cc.log")"
      refused=$((refused + 1))
      continue
    fi
    problem "$i" "$where" "does not compile ($cc $cflags)" "$s.cc.log"
    continue
  fi
  case $where in
  "$guide":*) compiled_guide=$((compiled_guide + 1)) ;;
  "$readme":*) compiled_readme=$((compiled_readme + 1)) ;;
  *) compiled_man=$((compiled_man + 1)) ;;
  esac
  [ "$kind" = program ] || continue

  # shellcheck disable=SC2086
  if ! $libtool --silent --tag=CC --mode=link $cc $cflags $ldflags $rdynamic -no-install \
    -o "$s" "$s.o" "$builddir/libgoro.la" $libs >"$s.ld.log" 2>&1; then
    problem "$i" "$where" "does not link" "$s.ld.log"
    continue
  fi
  if [ "$norun" = yes ]; then
    continue
  fi
  if [ "$notsan" = yes ] && [ "$under_tsan" = yes ]; then
    echo "SKIP: $where (snippet $i): not run under ThreadSanitizer"
    skipped=$((skipped + 1))
    continue
  fi
  # A fuzzy output is a snapshot (a dump, a leak report) that a loaded
  # machine can take a moment early: up to 3 runs must give one match.
  tries=1
  if [ "$fuzzy_out" = yes ] || [ "$fuzzy_err" = yes ]; then
    tries=3
  fi
  ran=$((ran + 1))
  while :; do
    run_bounded "$s" </dev/null >"$s.stdout" 2>"$s.stderr"
    status=$?
    if [ "$status" -ne "$want_exit" ]; then
      problem "$i" "$where" "exit status $status, not $want_exit (124: timed out); its stderr:" "$s.stderr"
      break
    fi
    mismatch=
    for stream in out err; do
      [ -f "$s.$stream" ] || continue
      expected=$s.$stream
      actual=$s.std$stream
      fuzzy=$fuzzy_out
      [ "$stream" = err ] && fuzzy=$fuzzy_err
      if [ "$fuzzy" = yes ]; then
        fuzz "$expected" >"$expected.fuzz"
        fuzz "$actual" >"$actual.fuzz"
        expected=$expected.fuzz
        actual=$actual.fuzz
      fi
      if ! diff -u "$expected" "$actual" >"$s.$stream.diff" 2>&1; then
        mismatch="$mismatch $stream"
      fi
    done
    tries=$((tries - 1))
    if [ -z "$mismatch" ]; then
      [ -f "$s.out" ] && compared=$((compared + 1))
      [ -f "$s.err" ] && compared=$((compared + 1))
      break
    fi
    if [ "$tries" -eq 0 ]; then
      for stream in $mismatch; do
        problem "$i" "$where" "std$stream differs from the text (- text, + program):" "$s.$stream.diff"
      done
      break
    fi
    echo "retry: $where (snippet $i): its snapshot differs; running it again"
  done
done

echo "check_guide: compiled $compiled_guide snippets of doc/GUIDE.md," \
  "$compiled_readme of README.md, $compiled_man examples of the man pages; $refused refused by the compiler as shown;" \
  "$ran programs run, $compared outputs compared; $skipped skipped"
[ "$compiled_guide" -gt 0 ] || fail "no snippet of $guide was compiled"
[ "$compiled_man" -gt 0 ] || fail "no example of the man pages was compiled"
if [ "$failures" -gt 0 ]; then
  fail "$failures failed; the snippets and logs are in $work"
fi
[ -n "${GORO_SNIPPET_KEEP:-}" ] || rm -rf "$work"
exit 0
