#!/bin/sh
# test/valgrind.sh BUILDDIR - run every Check suite of a configured goro
# build tree under valgrind: memcheck (invalid accesses, uninitialised
# values, leaks), then Helgrind (data races, lock misuse). Exits non-zero
# if any suite fails or valgrind reports any error in any process.
#
# A CI step of its own (.ci/run), on a build without sanitizers and
# configured with --enable-valgrind, which tells the race detectors what
# goro's atomics mean (src/annotate.h):
#   mkdir build-valgrind && cd build-valgrind && ../configure --enable-valgrind
#   make -j2 && ../test/valgrind.sh .
# Without --enable-valgrind only memcheck runs (with a message saying so).
# The suites are check_PROGRAMS of the Makefile (built here if needed);
# check_oom skips itself (exit status 77): valgrind's malloc replaces the
# one it interposes. Nothing else is skipped.
#
# Environment (defaults in brackets):
#   VALGRIND_TOOLS     the tools, in order ["memcheck helgrind"]; drd is
#                      accepted too, but is slow with many threads and
#                      test/valgrind.supp is not curated for it
#   VALGRIND           the valgrind command [valgrind]
#   VALGRIND_SUITES    the suites to run, e.g. "check_chan check_wg" [all]
#   VALGRIND_TIMEOUT   seconds one suite may take under one tool before it
#                      is killed and fails [600]
#   GORO_TEST_SCALE    shrinks the suites' big loops [0.01]: valgrind runs
#                      one thread at a time, 20-100 times slower
#   GORO_TEST_SLACK_MS lateness allowed to timers [2000]
#   CK_TIMEOUT_MULTIPLIER  Check's per-test timeouts, stretched [10]
#   GORO_STACK_SIZE    goroutine stacks [262144]: both tools do work per
#                      byte of each new thread's stack; with 8 MiB stacks
#                      a test starting 200 goroutines took 6 s, not 0.5 s
#
# Processes: Check forks one process per test (its fork mode is kept, so
# each test keeps its timeout and its own process), valgrind follows forks
# by itself, and --trace-children=yes follows the programs the suites exec
# (test/registry_child, check_reliability's exit children). Every process
# writes its own log (%p) and turns any error into exit status 99, which
# fails its test; every log is scanned too, so nothing is lost.
#
# Why Helgrind and not DRD: both need the annotations of an
# --enable-valgrind build; with them Helgrind reports nothing on goro but
# the false positives listed, with their reasons, in test/valgrind.supp.
# DRD's cost grows with the number of live threads: one test with 200
# blocked goroutines took 70 s under DRD and 1.5 s under Helgrind, so DRD
# over the whole suite would not fit in CI's time.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 BUILDDIR" >&2
  exit 2
fi
builddir=$(cd "$1" && pwd)
srcdir=$(cd "$(dirname "$0")/.." && pwd)
supp=$srcdir/test/valgrind.supp
valgrind=${VALGRIND:-valgrind}
tools=${VALGRIND_TOOLS:-memcheck helgrind}
limit=${VALGRIND_TIMEOUT:-600}

if ! command -v "$valgrind" >/dev/null 2>&1; then
  echo "$0: valgrind not found" >&2
  exit 2
fi
if [ ! -x "$builddir/libtool" ] || [ ! -f "$builddir/Makefile" ]; then
  echo "$0: $builddir is not a configured goro build directory" >&2
  exit 2
fi
if grep -q '^SANITIZER_CFLAGS = .*-fsanitize' "$builddir/Makefile"; then
  echo "$0: $builddir is a sanitizer build; valgrind cannot run it" >&2
  exit 2
fi

GORO_TEST_SCALE=${GORO_TEST_SCALE:-0.01}
GORO_TEST_SLACK_MS=${GORO_TEST_SLACK_MS:-2000}
CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-10}
GORO_STACK_SIZE=${GORO_STACK_SIZE:-262144}
top_builddir=$builddir
top_srcdir=$srcdir
export GORO_TEST_SCALE GORO_TEST_SLACK_MS CK_TIMEOUT_MULTIPLIER GORO_STACK_SIZE
export top_builddir top_srcdir

# The suites: the Makefile's check_PROGRAMS named test/check_* (not
# test/registry_child, which check_registry runs itself).
# shellcheck disable=SC2016 # make expands $(check_PROGRAMS)
progs=$(printf 'goro-print-check-programs:\n\t@echo $(check_PROGRAMS)\n' |
  ${MAKE:-make} -s -C "$builddir" -f Makefile -f - goro-print-check-programs) || exit 2
suites=
for p in $progs; do
  case $p in
  test/check_*) ;;
  *) continue ;;
  esac
  name=${p#test/}
  if [ -n "${VALGRIND_SUITES:-}" ]; then
    case " $VALGRIND_SUITES " in
    *" $name "*) ;;
    *) continue ;;
    esac
  fi
  suites="$suites $name"
done
if [ -z "$suites" ]; then
  echo "$0: no suite to run (check_PROGRAMS: $progs)" >&2
  exit 2
fi
echo "valgrind.sh: building$suites"
# shellcheck disable=SC2086
if ! ${MAKE:-make} -s -C "$builddir" $progs >/dev/null; then
  echo "$0: building the test programs failed" >&2
  exit 2
fi

logdir=$builddir/valgrind-logs
rm -rf "$logdir"
mkdir -p "$logdir"

npass=0
nfail=0
nskip=0
start=$(date +%s)
for tool in $tools; do
  case $tool in
  memcheck)
    opts="--tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect"
    opts="$opts --show-leak-kinds=definite,indirect"
    ;;
  helgrind | drd)
    # goro's wake-ups go through an atomic state word, which the race
    # detectors see only through the annotations of --enable-valgrind.
    if ! grep -q '^#define GORO_VALGRIND 1' "$builddir/config.h" 2>/dev/null; then
      echo "valgrind.sh: $tool: skipped: $builddir is not configured with --enable-valgrind"
      continue
    fi
    opts="--tool=$tool"
    # goro__unpark signals after dropping the mutex, on purpose.
    [ "$tool" = drd ] && opts="$opts --report-signal-unlocked=no"
    ;;
  *)
    echo "$0: unknown tool $tool" >&2
    exit 2
    ;;
  esac
  for name in $suites; do
    log=$logdir/$name.$tool
    t0=$(date +%s)
    # shellcheck disable=SC2086
    CK_XML_LOG_FILE_NAME=$log.xml \
      timeout -k 10 "$limit" "$builddir/libtool" --mode=execute "$valgrind" $opts \
      --error-exitcode=99 --trace-children=yes --child-silent-after-fork=no \
      --num-callers=30 --max-threads=2000 --suppressions="$supp" \
      --log-file="$log.%p" "$builddir/test/$name" >"$log.out" 2>&1
    rc=$?
    t1=$(date +%s)
    # A process with errors: both tools end their log with "ERROR
    # SUMMARY: N errors" (definite and indirect leaks count); valgrind's
    # own crashes and give-ups end it otherwise.
    bad=$(grep -l -e 'ERROR SUMMARY: [1-9]' -e "the 'impossible' happened" \
      -e 'Valgrind.* out of memory' "$log".[0-9]* 2>/dev/null)
    if [ $rc -eq 77 ] && [ -z "$bad" ]; then
      nskip=$((nskip + 1))
      echo "valgrind.sh: $tool: $name: skipped ($((t1 - t0)) s): $(tail -n 1 "$log.out")"
    elif [ $rc -ne 0 ] || [ -n "$bad" ]; then
      nfail=$((nfail + 1))
      [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "valgrind.sh: $tool: $name: killed after $limit s"
      echo "valgrind.sh: $tool: $name: FAIL (exit $rc, $((t1 - t0)) s)"
      tail -n 20 "$log.out" | sed 's/^/    /'
      # The first few processes' reports, without valgrind's banner.
      nbad=0
      for b in $bad; do
        nbad=$((nbad + 1))
        [ $nbad -le 3 ] || continue
        echo "    --- $b"
        awk 'shown; /Parent PID/ { shown = 1 }' "$b" | head -n 80 | sed 's/^/    /'
      done
      [ $nbad -le 3 ] || echo "    --- and $((nbad - 3)) more process(es) with errors in $logdir"
    else
      npass=$((npass + 1))
      echo "valgrind.sh: $tool: $name: ok ($((t1 - t0)) s)"
    fi
  done
done
end=$(date +%s)
# Counts in test-suite.log's format, for .ci/run's tally.
printf '# PASS: %d\n# SKIP: %d\n# FAIL: %d\n' $npass $nskip $nfail >"$logdir/summary"
echo "valgrind.sh: $npass passed, $nskip skipped, $nfail failed, $((end - start)) s; logs in $logdir"
[ $nfail -eq 0 ]
