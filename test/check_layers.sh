#!/bin/sh
# check_layers.sh - src/ keeps to the layer map at the top of
# src/internal.h (test/layers.py reads it): every call and include goes to
# the file's own layer or a lower one. Also shows that the checker can
# fail: a copy of src/ where thread.c calls up into select.c must be
# refused. Skips (77) without python3.
set -u

srcdir=${top_srcdir:-.}
command -v python3 >/dev/null 2>&1 || {
  echo "check_layers: python3 not found; skipped"
  exit 77
}

python3 "$srcdir/test/layers.py" "$srcdir/src" || exit 1

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cp "$srcdir"/src/*.c "$srcdir"/src/*.h "$tmp"/
cat >>"$tmp/thread.c" <<'C'

int
goro__layers_probe(void)
{
  return goro_select(NULL, 0, 0);
}
C
if python3 "$srcdir/test/layers.py" "$tmp" >"$tmp/out" 2>&1; then
  echo "check_layers: a call from thread.c up into select.c was not caught" >&2
  exit 1
fi
grep -q "thread.c:.*calls goro_select of select.c" "$tmp/out" || {
  echo "check_layers: the violation was caught, but not reported as expected:" >&2
  cat "$tmp/out" >&2
  exit 1
}
echo "check_layers: a call against the map is refused"
