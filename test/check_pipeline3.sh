#!/bin/sh
# check_pipeline3.sh - tools/pipeline3, gopl.io/ch8/pipeline3 (README.md).
#
# It prints the squares of 0..99, one a line, and exits 0; -h prints the
# usage on stdout and exits 0; an unknown flag or any positional argument
# prints the usage on stderr and exits 2. Its directional parameters are
# checked at compile time: tools/pipeline3.c compiles with -Werror as it
# is, and not once squarer's two arguments are swapped (the error must
# be a type mismatch on that line). Every run is bounded by timeout(1).
set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
tool=$builddir/tools/pipeline3
src=$srcdir/tools/pipeline3.c
cc=${GORO_CC:-cc}
slow=${CK_TIMEOUT_MULTIPLIER:-1}
slow=${slow%%.*}
case $slow in '' | *[!0-9]*) slow=1 ;; esac
limit=$((10 * slow))

command -v timeout >/dev/null 2>&1 || {
  echo "check_pipeline3: timeout(1) not found; skipped"
  exit 77
}
[ -x "$tool" ] || {
  echo "check_pipeline3: $tool not built" >&2
  exit 1
}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0
fail() {
  echo "FAIL: $*" >&2
  status=1
}

# The squares of 0..99.
i=0
while [ "$i" -lt 100 ]; do
  echo $((i * i))
  i=$((i + 1))
done >"$tmp/want"

timeout "$limit" "$tool" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "pipeline3 exited $rc: $(cat "$tmp/err")"
cmp -s "$tmp/want" "$tmp/out" || fail "pipeline3 printed $(wc -l <"$tmp/out") lines, not the 100 squares"
[ -s "$tmp/err" ] && fail "pipeline3 wrote to stderr: $(cat "$tmp/err")"

timeout "$limit" "$tool" -h >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 0 ] || fail "pipeline3 -h exited $rc"
grep -q '^usage: pipeline3' "$tmp/out" || fail "pipeline3 -h: no usage on stdout"
[ -s "$tmp/err" ] && fail "pipeline3 -h wrote to stderr"

for args in "-x" "extra" "-- extra" "-x -h"; do
  # shellcheck disable=SC2086 # split on purpose
  timeout "$limit" "$tool" $args >"$tmp/out" 2>"$tmp/err"
  rc=$?
  [ "$rc" -eq 2 ] || fail "pipeline3 $args exited $rc, not 2"
  grep -q '^usage: pipeline3' "$tmp/err" || fail "pipeline3 $args: no usage on stderr"
  [ -s "$tmp/out" ] && fail "pipeline3 $args wrote to stdout"
done

# Compile time: the source as it is, then with squarer's arguments swapped.
flags="-std=c99 -Wall -Wextra -pedantic -Werror -D_POSIX_C_SOURCE=200809L -I$srcdir/include -I$builddir/include"
# shellcheck disable=SC2086
$cc $flags -c -o "$tmp/pipeline3.o" "$src" >"$tmp/ok.log" 2>&1 ||
  fail "tools/pipeline3.c does not compile with -Werror: $(cat "$tmp/ok.log")"
call='squarer(a->out, a->in);'
grep -F -q "$call" "$src" || fail "tools/pipeline3.c no longer calls $call"
sed 's/squarer(a->out, a->in);/squarer(a->in, a->out);/' "$src" >"$tmp/swapped.c"
line=$(grep -n -F 'squarer(a->in, a->out);' "$tmp/swapped.c" | cut -d: -f1)
# shellcheck disable=SC2086
if $cc $flags -fsyntax-only "$tmp/swapped.c" >"$tmp/err.log" 2>&1; then
  fail "pipeline3 compiles with squarer's arguments swapped"
elif ! grep -q "swapped.c:$line:" "$tmp/err.log" ||
  ! grep -E -q 'incompatible pointer type|cannot convert' "$tmp/err.log"; then
  fail "swapped squarer: not a type mismatch on line $line: $(cat "$tmp/err.log")"
else
  echo "ok: squarer(in, out) does not compile"
fi
exit "$status"
