#!/bin/sh
# check_symbols.sh - the shared library exports exactly the header's API.
#
# Every dynamic symbol that .libs/libgoro.so defines must be a function
# declared GORO_EXTERN in include/goro.h, and every such function must be
# exported. Toolchain and sanitizer symbols are ignored. Skips (77) when
# the build made no shared library (--disable-shared).
set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
header=$srcdir/include/goro.h
la=$builddir/libgoro.la
so=$builddir/.libs/libgoro.so

fail() {
  echo "check_symbols: $*" >&2
  exit 1
}

[ -r "$header" ] || fail "cannot read $header"
[ -r "$la" ] || fail "cannot read $la (build the library first)"
if grep -q "^dlname=''" "$la"; then
  echo "check_symbols: no shared library was built; skipped"
  exit 77
fi
[ -r "$so" ] || fail "cannot read $so"
command -v nm >/dev/null 2>&1 || fail "nm not found"

tmp=$(mktemp -d) || fail "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

# Declared: the name before the first '(' of each GORO_EXTERN declaration,
# which may span lines up to its ';'.
awk '
  /^[[:space:]]*GORO_EXTERN[[:space:]]/ { decl = ""; in_decl = 1 }
  in_decl {
    decl = decl " " $0
    if (index($0, ";")) {
      in_decl = 0
      if (match(decl, /goro_[A-Za-z0-9_]*[[:space:]]*\(/)) {
        name = substr(decl, RSTART, RLENGTH - 1)
        sub(/[[:space:]]+$/, "", name)
        print name
      }
    }
  }
' "$header" | LC_ALL=C sort -u >"$tmp/declared"

# Exported: defined dynamic symbols, less the toolchain's and sanitizers'.
nm -D --defined-only "$so" >"$tmp/nm" || fail "nm -D failed on $so"
awk 'NF >= 3 && $2 != "A" { print $3 }' "$tmp/nm" |
  sed 's/@.*//' |
  grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' |
  grep -v -E '^_*(asan|odr_asan|tsan|ubsan|lsan|sanitizer)' |
  LC_ALL=C sort -u >"$tmp/exported"

[ -s "$tmp/declared" ] || fail "no GORO_EXTERN function found in $header"

status=0
LC_ALL=C comm -13 "$tmp/declared" "$tmp/exported" >"$tmp/undeclared"
LC_ALL=C comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/missing"
if [ -s "$tmp/undeclared" ]; then
  echo "exported from $so but not declared GORO_EXTERN in goro.h:" >&2
  sed 's/^/  /' "$tmp/undeclared" >&2
  status=1
fi
if [ -s "$tmp/missing" ]; then
  echo "declared in goro.h but not exported from $so:" >&2
  sed 's/^/  /' "$tmp/missing" >&2
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "check_symbols: $(wc -l <"$tmp/declared") functions declared and exported"
fi
exit "$status"
