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

# The CPU seconds (user + system) of every child of this shell so far,
# from the second line ("0m1.150s 0m0.070s") of the `times' output in
# file $1. `times' itself must run in this shell: in a subshell it would
# report that subshell's children.
cpu_of() {
  sed -n 2p "$1" | awk '{
    s = 0
    for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] }
    printf "%.3f\n", s
  }'
}

# Runs a command; sets WALL and CPU to the seconds it took (wall clock,
# and user + system CPU), to the millisecond.
measure() {
  times >"$TMP/times0"
  t0=$(date +%s%N)
  "$@" >/dev/null
  t1=$(date +%s%N)
  times >"$TMP/times1"
  WALL=$(echo "$t0 $t1" | awk '{ printf "%.3f", ($2 - $1) / 1e9 }')
  CPU=$(echo "$(cpu_of "$TMP/times0") $(cpu_of "$TMP/times1")" | awk '{ printf "%.3f", $2 - $1 }')
}

# The median of the numbers on stdin.
median() {
  sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "machine: $NCPU CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
echo
echo "mandelbrot -size $SIZE, median of $RUNS runs:"
echo
echo "| workers | wall s | speed-up | CPU s | wall s, each run |"
echo "|---:|---:|---:|---:|---|"
base=
w=1
while [ "$w" -le "$MAXW" ]; do
  all=
  cpus=
  r=0
  while [ "$r" -lt "$RUNS" ]; do
    measure "$MANDEL" -workers "$w" -size "$SIZE" -o "$TMP/m.png"
    all="$all $WALL"
    cpus="$cpus $CPU"
    r=$((r + 1))
  done
  med=$(echo $all | tr ' ' '\n' | median)
  cmed=$(echo $cpus | tr ' ' '\n' | median)
  [ -n "$base" ] || base=$med
  echo "| $w | $med | $(echo "$base $med" | awk '{ printf "%.2f", $1 / $2 }') | $cmed | $(echo $all | tr ' ' ',') |"
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
cpus=
r=0
while [ "$r" -lt "$RUNS" ]; do
  rm -f "$TMP"/*.thumb.jpg
  measure "$THUMB" "$TMP"/i*.jpg "$TMP"/i*.png
  all="$all $WALL"
  cpus="$cpus $CPU"
  r=$((r + 1))
done
med=$(echo $all | tr ' ' '\n' | median)
cmed=$(echo $cpus | tr ' ' '\n' | median)
echo "thumbnail: $IMAGES images (1600x1200 JPEG, 1200x1600 PNG) to -size 128, median of $RUNS runs:"
echo "  wall $med s ($(echo $all | tr ' ' ',')): $(echo "$IMAGES $med" | awk '{ printf "%.1f", $1 / $2 }') images/s;" \
  "CPU $cmed s: $(echo "$IMAGES $cmed" | awk '{ printf "%.1f", $1 / $2 }') images per CPU-second"
