#!/bin/sh
# tools/bench/tools_pipes.sh - the pipes family's load benchmark (issue 14):
# mandelbrot's speed-up table (exercise 8.5) and thumbnail's images per
# second. Measured and printed, never asserted; not run by `make check'.
#
#   tools/bench/tools_pipes.sh [BUILDDIR]     (default: the current directory)
#
# Environment: SIZE (mandelbrot's -size, default 2048), RUNS (runs per
# point, default 3; the median is reported), MAXW (the most workers,
# default 2 x CPUs), IMAGES (thumbnail's input count, default 200, half
# 1600x1200 JPEGs and half 1200x1600 PNGs).
set -eu

B=${1:-.}
MANDEL=$B/tools/mandelbrot
THUMB=$B/tools/thumbnail
IMG=$B/test/tools/pipes_img
for p in "$MANDEL" "$THUMB" "$IMG"; do
  if [ ! -x "$p" ]; then
    echo "tools_pipes.sh: $p is missing (build with libgd, and make check TESTS= for pipes_img)" >&2
    exit 1
  fi
done

NCPU=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
SIZE=${SIZE:-2048}
RUNS=${RUNS:-3}
MAXW=${MAXW:-$((2 * NCPU))}
IMAGES=${IMAGES:-200}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tools_pipes.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

# Seconds (wall clock) one command takes, to the millisecond.
seconds() {
  t0=$(date +%s%N)
  "$@" >/dev/null
  t1=$(date +%s%N)
  echo "$t0 $t1" | awk '{ printf "%.3f\n", ($2 - $1) / 1e9 }'
}

# The median of the numbers on stdin.
median() {
  sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "machine: $NCPU CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo
echo "mandelbrot -size $SIZE, median of $RUNS runs (wall clock):"
echo
echo "| workers | seconds | speed-up | runs |"
echo "|---:|---:|---:|---|"
base=
w=1
while [ "$w" -le "$MAXW" ]; do
  all=
  r=0
  while [ "$r" -lt "$RUNS" ]; do
    all="$all $(seconds "$MANDEL" -workers "$w" -size "$SIZE" -o "$TMP/m.png")"
    r=$((r + 1))
  done
  med=$(echo $all | tr ' ' '\n' | median)
  [ -n "$base" ] || base=$med
  echo "| $w | $med | $(echo "$base $med" | awk '{ printf "%.2f", $1 / $2 }') | $(echo $all | tr ' ' ',') |"
  w=$((w + 1))
done

echo
i=0
while [ "$i" -lt "$IMAGES" ]; do
  if [ $((i % 2)) -eq 0 ]; then
    "$IMG" make "$TMP/i$i.jpg" 1600 1200
  else
    "$IMG" make "$TMP/i$i.png" 1200 1600
  fi
  i=$((i + 1))
done
all=
r=0
while [ "$r" -lt "$RUNS" ]; do
  rm -f "$TMP"/*.thumb.jpg
  all="$all $(seconds "$THUMB" "$TMP"/i*.jpg "$TMP"/i*.png)"
  r=$((r + 1))
done
med=$(echo $all | tr ' ' '\n' | median)
echo "thumbnail: $IMAGES images (1600x1200 JPEG and 1200x1600 PNG) to -size 128:" \
  "median $med s of $RUNS runs ($(echo $all | tr ' ' ',')): $(echo "$IMAGES $med" | awk '{ printf "%.1f", $1 / $2 }') images/s"
