#!/bin/sh
# check_perm.sh - misuse of a directional channel does not compile.
#
# Go rejects at compile time every line marked ERROR in its
# test/chan/perm.go; goro's views (goro_sendchan, goro_recvchan), the
# typed GORO_CHAN_TYPE wrappers and the C++ goro::chan templates must be
# rejected the same way. test/perm.c (as C99 and as C++11) and
# test/perm_cxx.cc (C++11) hold one positive control (PERM_CASE 0),
# which must compile warning-free under -Wall -Wextra -pedantic
# -Wcast-qual (and -Wold-style-cast in C++), and negative cases
# PERM_CASE=N, each of which must fail with -Werror. A failure counts
# only if the compiler reports an error on the line marked "perm: N"
# and that error is a type mismatch, not an undeclared name or a syntax
# error, so a typo in a case cannot pass for a rejected one.
#
# The compilers are the build's ($GORO_CC and $GORO_CXX, from
# AM_TESTS_ENVIRONMENT; cc and c++ otherwise).
set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
cc=${GORO_CC:-cc}
cxx=${GORO_CXX:-c++}
incs="-I$srcdir/include -I$builddir/include"
warn="-Wall -Wextra -pedantic -Wcast-qual -Werror"

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

status=0
fail() {
  echo "FAIL: $*" >&2
  status=1
}

# A type mismatch as GCC and Clang word it, in C and in C++.
mismatch='incompatible pointer type|incompatible type|discards .const.|cannot convert|could not convert|invalid conversion|conversion from .* to non-scalar|no viable conversion|cannot initialize|no matching|has no member named|no member named|cannot bind|binds? reference|drops .const.|discards qualifiers|deleted function|call to deleted'
# Errors that mean the case is broken, not rejected for its type.
broken='undeclared|not declared|implicit declaration|unknown type name|does not name a type|error: expected|unknown PERM_CASE'

# positive LABEL COMPILER FLAGS... -- the control compiles warning-free.
positive() {
  label=$1
  shift
  if "$@" -DPERM_CASE=0 -O2 -c -o "$tmp/ok.o" >"$tmp/ok.log" 2>&1; then
    echo "ok: $label compiles"
  else
    fail "$label: the positive control does not compile:"
    sed 's/^/  /' "$tmp/ok.log" >&2
  fi
}

# negative LABEL FILE COMPILER FLAGS... -- every case of FILE is rejected
# on its marked line for a type mismatch.
negative() {
  label=$1
  file=$2
  shift 2
  cases=$(sed -n 's|.*perm: \([0-9][0-9]*\) .*|\1|p' "$file")
  [ -n "$cases" ] || {
    fail "$label: no case in $file"
    return
  }
  count=0
  for n in $cases; do
    line=$(grep -n "perm: $n " "$file" | cut -d: -f1)
    if "$@" -DPERM_CASE="$n" -fsyntax-only >"$tmp/err.log" 2>&1; then
      fail "$label case $n (line $line) compiles: $(sed -n "${line}p" "$file")"
      continue
    fi
    base=$(basename "$file")
    if ! grep -q "$base:$line:" "$tmp/err.log"; then
      fail "$label case $n: no diagnostic on line $line:"
      sed 's/^/  /' "$tmp/err.log" >&2
    elif grep -E -q "$broken" "$tmp/err.log"; then
      fail "$label case $n: broken, not rejected for its type:"
      sed 's/^/  /' "$tmp/err.log" >&2
    elif ! grep -E -q "$mismatch" "$tmp/err.log"; then
      fail "$label case $n: not a type mismatch:"
      sed 's/^/  /' "$tmp/err.log" >&2
    else
      count=$((count + 1))
    fi
  done
  echo "ok: $label: $count of $(echo $cases | wc -w) cases rejected"
}

perm_c=$srcdir/test/perm.c
perm_cxx=$srcdir/test/perm_cxx.cc
[ -r "$perm_c" ] && [ -r "$perm_cxx" ] || {
  echo "check_perm: cannot read $perm_c or $perm_cxx" >&2
  exit 1
}

# shellcheck disable=SC2086 # the flag lists split on purpose
{
  positive "C99 perm.c" $cc -std=c99 $warn $incs "$perm_c"
  positive "C11 perm.c" $cc -std=c11 $warn $incs "$perm_c"
  positive "C++11 perm.c" $cxx -x c++ -std=c++11 $warn -Wold-style-cast $incs "$perm_c"
  positive "C++11 perm_cxx.cc" $cxx -std=c++11 $warn -Wold-style-cast $incs "$perm_cxx"
  negative "C99 perm.c" "$perm_c" $cc -std=c99 $warn $incs "$perm_c"
  negative "C++11 perm.c" "$perm_c" $cxx -x c++ -std=c++11 $warn $incs "$perm_c"
  negative "C++11 perm_cxx.cc" "$perm_cxx" $cxx -std=c++11 $warn $incs "$perm_cxx"
}
exit "$status"
