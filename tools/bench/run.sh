#!/usr/bin/env bash
# run.sh - run goro's benchmark beside its Go twin and print a markdown report.
#
# Runs the C program (already built by make) and the Go twin (built here)
# interleaved, goro then Go, ROUNDS times, and prints for each workload the
# median ns/op of both, their ratio and its target; then the rss and idle
# measurements of the C program, and the machine they ran on.
#
# Exits non-zero when either program fails or reports a wrong result.
# Speed is reported, never asserted: a missed target does not fail.
#
# Environment:
#   BENCH      the C program (default: tools/bench/bench under the current
#              directory, i.e. the build tree)
#   FLOOR      the floor program (default: tools/bench/floor beside BENCH);
#              its measurements are printed after the table
#   ROUNDS     rounds of goro and Go runs (default 3)
#   SCALE      size multiplier passed as -n to both programs (default 1)
#   BENCH_OUT  where the Go twin, its build cache and raw outputs go
#              (default: tools/bench/out under the current directory)
#   BENCH_TIMEOUT  seconds before one run counts as hung (default 900)
#   GO         the go command (default: go)
set -u

here=$(cd "$(dirname "$0")" && pwd)
BENCH=${BENCH:-tools/bench/bench}
FLOOR=${FLOOR:-$(dirname "$BENCH")/floor}
ROUNDS=${ROUNDS:-3}
SCALE=${SCALE:-1}
BENCH_OUT=${BENCH_OUT:-tools/bench/out}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}
GO=${GO:-go}

# Workloads in order, with the target for the ratio goro/Go.
workloads=(W1_pingpong W2_spsc_buffered W3_mpmc_buffered W4_spsc_unbuffered
  W5_select_fanin W6_spawn W7_pipeline W8_close_broadcast)
declare -A target=([W1_pingpong]=2.0 [W2_spsc_buffered]=1.0 [W3_mpmc_buffered]=1.0
  [W4_spsc_unbuffered]=2.5 [W5_select_fanin]=1.5 [W6_spawn]=2.0 [W7_pipeline]=2.5
  [W8_close_broadcast]=3.0)
rss_target_kib=$((200 * 1024))
idle_target_pct=1

failed=0
fail() {
  echo "run.sh: $*" >&2
  failed=1
}
die() {
  echo "run.sh: $*" >&2
  exit 1
}

case $ROUNDS in '' | *[!0-9]* | 0) die "ROUNDS must be a positive integer, not '$ROUNDS'" ;; esac

# ---- Tools ----------------------------------------------------------------

if ! command -v "$GO" >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "'$GO' is missing; install golang-go (as root: apt-get install golang-go)"
  echo "run.sh: installing golang-go" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update && apt-get install -y --no-install-recommends golang-go; } >&2 ||
    die "could not install golang-go"
fi

[ -x "$BENCH" ] || die "no C benchmark at '$BENCH': build it with make (or set BENCH)"
mkdir -p "$BENCH_OUT" || die "cannot create $BENCH_OUT"
out=$(cd "$BENCH_OUT" && pwd)
rm -f "$out"/goro.*.txt "$out"/go.*.txt "$out"/floor.*.txt "$out"/rss.txt "$out"/idle.txt

# The Go build cache must be writable; use the build tree when HOME is not.
if [ -z "${HOME:-}" ] || [ ! -w "${HOME:-/nonexistent}" ]; then
  export GOCACHE=${GOCACHE:-$out/gocache}
  export GOPATH=${GOPATH:-$out/gopath}
fi
gobench=$out/gobench
(cd "$here/go" && GOPROXY=off GOFLAGS='' "$GO" build -o "$gobench" .) ||
  die "could not build the Go twin in $here/go"

# ---- Interleaved runs -----------------------------------------------------

# run NAME OUTFILE CMD...: run CMD with a timeout into OUTFILE; a failure,
# a hang or a missing workload line marks the whole run as failed.
run() {
  local name=$1 file=$2
  shift 2
  if ! timeout "$BENCH_TIMEOUT" "$@" >"$file"; then
    fail "$name failed (see above; output in $file)"
    return
  fi
  for w in "${workloads[@]}"; do
    grep -q "^$w ns_per_op=" "$file" || fail "$name printed no result for $w"
  done
}

for r in $(seq 1 "$ROUNDS"); do
  echo "run.sh: round $r/$ROUNDS: goro" >&2
  run "goro round $r" "$out/goro.$r.txt" "$BENCH" -n "$SCALE"
  echo "run.sh: round $r/$ROUNDS: Go" >&2
  run "Go round $r" "$out/go.$r.txt" env GOMAXPROCS=2 "$gobench" -n "$SCALE"
done

# median PREFIX WORKLOAD: the median ns/op of WORKLOAD over PREFIX.*.txt.
median() {
  cat "$out/$1".*.txt 2>/dev/null |
    sed -n "s/^$2 ns_per_op=\([0-9.eE+-]*\).*/\1/p" | sort -g |
    awk '{ v[NR] = $1 }
         END { if (NR == 0) print "-";
               else if (NR % 2) print v[(NR + 1) / 2];
               else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---- Report ---------------------------------------------------------------

model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "## goro vs Go benchmark"
echo
echo "Machine: $(nproc) CPUs, ${model:-unknown CPU}, $(uname -srm)"
echo "Go: $("$GO" version 2>/dev/null) with GOMAXPROCS=2; rounds: $ROUNDS (interleaved); scale: $SCALE"
echo
echo "| workload | goro median ns/op | Go median ns/op | ratio goro/Go | target | met? |"
echo "|---|---:|---:|---:|---:|---|"
for w in "${workloads[@]}"; do
  c=$(median goro "$w")
  g=$(median go "$w")
  awk -v w="$w" -v c="$c" -v g="$g" -v t="${target[$w]}" 'BEGIN {
    if (c == "-" || g == "-" || g + 0 <= 0) { ratio = "-"; met = "n/a" }
    else { r = c / g; ratio = sprintf("%.2f", r); met = (r <= t + 0) ? "yes" : "no" }
    printf "| %s | %s | %s | %s | <= %s | %s |\n", w, c, g, ratio, t, met
  }'
done
echo

echo "run.sh: rss" >&2
rss_kib=-
if timeout "$BENCH_TIMEOUT" "$BENCH" -w rss >"$out/rss.txt"; then
  rss_kib=$(sed -n 's/^rss_10k_blocked peak_rss_kib=\([0-9]*\).*/\1/p' "$out/rss.txt")
  [ -n "$rss_kib" ] || { rss_kib=-; fail "bench -w rss printed no result"; }
else
  fail "bench -w rss failed"
fi
echo "run.sh: idle" >&2
idle_pct=-
if timeout "$BENCH_TIMEOUT" "$BENCH" -w idle >"$out/idle.txt"; then
  idle_pct=$(sed -n 's/^idle_1k_blocked cpu_pct=\([0-9.eE+-]*\).*/\1/p' "$out/idle.txt")
  [ -n "$idle_pct" ] || { idle_pct=-; fail "bench -w idle printed no result"; }
else
  fail "bench -w idle failed"
fi

echo "| measurement | goro | target | met? |"
echo "|---|---:|---:|---|"
awk -v k="$rss_kib" -v t="$rss_target_kib" 'BEGIN {
  if (k == "-") printf "| rss, 10k goroutines blocked (peak) | - | < %d MiB | n/a |\n", t / 1024
  else printf "| rss, 10k goroutines blocked (peak) | %.1f MiB | < %d MiB | %s |\n",
    k / 1024, t / 1024, (k + 0 < t + 0) ? "yes" : "no"
}'
awk -v p="$idle_pct" -v t="$idle_target_pct" 'BEGIN {
  if (p == "-") printf "| idle CPU, 1k goroutines blocked, 2 s | - | < %s%% of one core | n/a |\n", t
  else printf "| idle CPU, 1k goroutines blocked, 2 s | %.3f%% | < %s%% of one core | %s |\n",
    p, t, (p + 0 < t + 0) ? "yes" : "no"
}'

# The machine's own costs, measured the same way each round.
if [ -x "$FLOOR" ]; then
  echo "run.sh: floor" >&2
  for r in $(seq 1 "$ROUNDS"); do
    timeout "$BENCH_TIMEOUT" "$FLOOR" >"$out/floor.$r.txt" || fail "floor failed"
  done
  echo
  echo "| floor (plain pthreads and futexes, no goro) | median ns/op |"
  echo "|---|---:|"
  for f in F1_futex_wake_idle_cpu F2_yield_switch_same_cpu F3_wake_1000_sleepers F4_broadcast_1000_sleepers \
    F5_spin_switch_two_cpus; do
    echo "| $f | $(median floor "$f") |"
  done
fi

if [ "$failed" != 0 ]; then
  echo
  echo "**FAILED**: a program failed or reported a wrong result (see stderr)."
  exit 1
fi
exit 0
