#!/bin/sh
# install_test.sh - goro as a user gets it: installed under a prefix and
# used through pkg-config alone.
#
# Usage: test/install_test.sh [CONFIGURE-OPTION...]
#
# Configures a build of the source tree this script belongs to in a
# temporary directory (the source tree must be unconfigured or the build
# must be VPATH-clean: run `make distclean` in it first), with --prefix a
# fresh temporary directory, runs `make install`, then builds one program
# with nothing but `pkg-config --cflags --libs goro` (PKG_CONFIG_PATH
# pointing into the prefix) and runs it:
#
#   dynamic, LD_LIBRARY_PATH  the prefix is not on the loader's path, so
#                             the program needs LD_LIBRARY_PATH=LIBDIR ...
#   dynamic, run path         ... or a run path: -Wl,-rpath,LIBDIR
#   static, -static           a fully static program: -static with
#                             `pkg-config --static --cflags --libs goro`
#   static, -l:libgoro.a      libgoro linked statically, libc dynamically:
#                             -L LIBDIR -l:libgoro.a -pthread
#
# These are the commands README.md gives (keep the two in step).
# `pkg-config --static --libs goro` alone still links libgoro.so (it only
# adds the private flags), which the script checks too. Each program
# must print the expected result and the version that pkg-config reports.
# Finally `make uninstall` must leave no file in the prefix. Uses the
# environment's CC (default cc) and MAKE (default make). Removes its
# temporary directory unless it fails.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-cc}
make=${MAKE:-make}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/goro-install.XXXXXX")
prefix=$tmp/prefix
build=$tmp/build

fail() {
  echo "install_test: $*" >&2
  echo "install_test: its files are in $tmp" >&2
  exit 1
}

step() {
  echo "install_test: $*"
}

for tool in pkg-config readelf; do
  command -v $tool >/dev/null 2>&1 || fail "$tool not found"
done
[ -x "$srcdir/configure" ] || fail "$srcdir/configure is missing: run ./autogen.sh"

mkdir "$build"
step "configure --prefix=$prefix $*"
(cd "$build" && "$srcdir/configure" --prefix="$prefix" --disable-dependency-tracking "$@" \
  >configure.log 2>&1) || fail "configure failed; see $build/configure.log"
step "make install"
(cd "$build" && $make -j2 install >install.log 2>&1) ||
  fail "make install failed; see $build/install.log"

pc=$(find "$prefix" -name goro.pc | head -n 1)
[ -n "$pc" ] || fail "goro.pc is not installed under $prefix"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
[ -r "$PKG_CONFIG_PATH/goro.pc" ] || fail "goro.pc is not installed under $prefix"
libdir=$(pkg-config --variable=libdir goro)
version=$(pkg-config --modversion goro)
[ -r "$libdir/libgoro.so" ] || fail "$libdir/libgoro.so is not installed"
[ -r "$libdir/libgoro.a" ] || fail "$libdir/libgoro.a is not installed"
[ -r "$prefix/share/doc/goro/GUIDE.md" ] || fail "the guide is not installed"
step "goro $version in $libdir (PKG_CONFIG_PATH=$PKG_CONFIG_PATH)"

# A pipeline: counter -> squarer -> main, sum of the squares of 0..99.
cat >"$tmp/app.c" <<'EOF'
#include <goro.h>
#include <stdio.h>

static goro_chan *naturals, *squares;

static void
counter(void *arg)
{
  (void)arg;
  for (int x = 0; x < 100; x++)
    goro_chan_send(naturals, &x);
  goro_chan_close(naturals);
}

static void
squarer(void *arg)
{
  (void)arg;
  for (int x; goro_chan_recv(naturals, &x) > 0;) {
    int sq = x * x;
    goro_chan_send(squares, &sq);
  }
  goro_chan_close(squares);
}

int
main(void)
{
  naturals = goro_chan_make(sizeof(int), 0);
  squares = goro_chan_make(sizeof(int), 0);
  if (naturals == NULL || squares == NULL)
    return 1;
  if (goro_go(counter, NULL) < 0 || goro_go(squarer, NULL) < 0)
    return 1;
  long sum = 0;
  for (int x; goro_chan_recv(squares, &x) > 0;)
    sum += x;
  printf("%ld %s\n", sum, GORO_VERSION_STRING);
  goro_chan_release(naturals);
  goro_chan_release(squares);
  return 0;
}
EOF
expected="328350 $version"

# check NAME LINKAGE [ENV...]: run $tmp/NAME (with ENV) and compare its
# output; check that it needs libgoro.so (LINKAGE shared), no libgoro.so
# (static), or no shared library at all (fully-static).
check() {
  name=$1
  linkage=$2
  shift 2
  out=$(env "$@" "$tmp/$name") || fail "$name failed to run"
  [ "$out" = "$expected" ] || fail "$name printed \"$out\", not \"$expected\""
  needed=$(readelf -d "$tmp/$name" 2>/dev/null | grep NEEDED || true)
  case $linkage in
  shared) echo "$needed" | grep -q 'libgoro\.so' || fail "$name does not need libgoro.so" ;;
  static)
    if echo "$needed" | grep -q 'libgoro\.so'; then
      fail "$name needs libgoro.so"
    fi
    ;;
  fully-static) [ -z "$needed" ] || fail "$name needs shared libraries: $needed" ;;
  esac
  step "$name: ok ($linkage)"
}

# The commands README.md gives, with app.c from above. pkg-config's
# output is a list of words, hence no quotes around $(pkg-config ...).
cd "$tmp"
# shellcheck disable=SC2046
$cc -o app-dynamic app.c $(pkg-config --cflags --libs goro) ||
  fail "the dynamic link failed"
if ./app-dynamic >/dev/null 2>&1; then
  step "app-dynamic runs without LD_LIBRARY_PATH ($libdir is on the loader's path)"
else
  step "app-dynamic needs LD_LIBRARY_PATH or a run path, as README.md says"
fi
check app-dynamic shared LD_LIBRARY_PATH="$libdir"

# shellcheck disable=SC2046
$cc -o app-rpath app.c $(pkg-config --cflags --libs goro) \
  -Wl,-rpath,"$(pkg-config --variable=libdir goro)" ||
  fail "the link with a run path failed"
check app-rpath shared

# shellcheck disable=SC2046
$cc -static -o app-static app.c $(pkg-config --static --cflags --libs goro) ||
  fail "the -static link failed"
check app-static fully-static

# shellcheck disable=SC2046
$cc -o app-libgoro-a app.c $(pkg-config --cflags goro) \
  -L"$(pkg-config --variable=libdir goro)" -l:libgoro.a -pthread ||
  fail "the -l:libgoro.a link failed"
check app-libgoro-a static

# --static alone adds the private flags but still picks libgoro.so.
# shellcheck disable=SC2046
$cc -o app-pc-static app.c $(pkg-config --static --cflags --libs goro) ||
  fail "the pkg-config --static link failed"
check app-pc-static shared LD_LIBRARY_PATH="$libdir"

step "make uninstall"
(cd "$build" && $make uninstall >uninstall.log 2>&1) ||
  fail "make uninstall failed; see $build/uninstall.log"
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "make uninstall left files behind: $left"
step "make uninstall left no file in $prefix"

rm -rf "$tmp"
step "passed"
