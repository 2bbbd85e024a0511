/* testutil.h - shared helpers for the Check suites.
 *
 * Every suite runs in Check's fork mode with a per-case timeout, so a
 * deadlock fails its test instead of hanging the run. Every test case's
 * teardown asserts that no goroutine leaked, as goleak does.
 */
#ifndef GORO_TESTUTIL_H
#define GORO_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <goro.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Capacities that channel tests loop over with tcase_add_loop_test. */
static const size_t test_caps[] = {0, 1, 64};
#define TEST_NCAPS ((int)(sizeof test_caps / sizeof test_caps[0]))

/* Teardown: every goroutine a test started has returned (1 s grace). */
static inline void
teardown_noleak(void)
{
  size_t n = goro_leakcheck(GORO_SECOND, stderr);
  ck_assert_msg(n == 0, "%zu goroutine(s) leaked", n);
}

/* A test case with a timeout (seconds) and the leak-check teardown. */
static inline TCase *
tcase_make(const char *name, double timeout_s)
{
  TCase *tc = tcase_create(name);
  tcase_set_timeout(tc, timeout_s);
  tcase_add_checked_fixture(tc, NULL, teardown_noleak);
  return tc;
}

/* Run s and return an exit status: failure when any test failed or when
 * no test ran at all. */
static inline int
run_suite(Suite *s)
{
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int ran = srunner_ntests_run(sr);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  if (ran == 0) {
    fprintf(stderr, "no test ran\n");
    return EXIT_FAILURE;
  }
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* The sanitizer a build runs under (tests adjust sizes and skip what a
 * sanitizer's runtime cannot take). */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

/* ASan or MSan: their allocators abort on absurd requests by default. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* Any of them: the sanitizer owns malloc and slows everything down. */
#define UNDER_SANITIZER (UNDER_TSAN || UNDER_ASAN)

/* For a suite that forks a multi-threaded process on purpose and starts
 * threads in the child: TSan refuses that unless die_after_fork=0, and
 * sleeps a second at every exit (atexit_sleep_ms), which many short-lived
 * children cannot afford. Write TSAN_OPTIONS_FOR_FORKING_SUITE; once, at
 * file scope. */
#if UNDER_TSAN
#define TSAN_OPTIONS_FOR_FORKING_SUITE                                                             \
  const char *__tsan_default_options(void);                                                        \
  const char *__tsan_default_options(void)                                                         \
  {                                                                                                \
    return "die_after_fork=0 atexit_sleep_ms=50";                                                  \
  }                                                                                                \
  _Static_assert(1, "TSan options")
#else
#define TSAN_OPTIONS_FOR_FORKING_SUITE _Static_assert(1, "TSan options")
#endif

/* The signal set holding sig alone. */
static inline sigset_t
set_of(int sig)
{
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  return set;
}

/* n times GORO_TEST_SCALE (a positive factor, default 1), at least 1. */
static inline size_t
scaled(size_t n)
{
  const char *s = getenv("GORO_TEST_SCALE");
  double f = s != NULL ? strtod(s, NULL) : 1.0;
  if (!(f > 0))
    f = 1.0;
  size_t m = (size_t)((double)n * f);
  return m > 0 ? m : 1;
}

/* CK_TIMEOUT_MULTIPLIER (sanitized builds set it), at least 1. */
static inline double
slowness(void)
{
  const char *s = getenv("CK_TIMEOUT_MULTIPLIER");
  double f = s != NULL ? strtod(s, NULL) : 1.0;
  return f >= 1.0 ? f : 1.0;
}

/* A new WaitGroup; the test fails if goro_wg_make returns NULL. */
static inline goro_wg *
wg_make_checked(void)
{
  goro_wg *wg = goro_wg_make();
  ck_assert_ptr_nonnull(wg);
  return wg;
}

/* A new channel of elemsize-byte elements and capacity cap; the test fails
 * if goro_chan_make returns NULL. */
static inline goro_chan *
chan_make_checked(size_t elemsize, size_t cap)
{
  goro_chan *c = goro_chan_make(elemsize, cap);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* goro_go(fn, arg); the test fails if it does not return 0. */
static inline void
go_checked(goro_fn *fn, void *arg)
{
  int rc = goro_go(fn, arg);
  ck_assert_msg(rc == 0, "goro_go: %s", goro_strerror(rc));
}

/* goro_wg_go(wg, fn, arg): add 1 to wg, run fn(arg) in a goroutine, done
 * when it returns; the test fails if goro_wg_go does not return 0. */
static inline void
wg_go_checked(goro_wg *wg, goro_fn *fn, void *arg)
{
  int rc = goro_wg_go(wg, fn, arg);
  ck_assert_msg(rc == 0, "goro_wg_go: %s", goro_strerror(rc));
}

/* Failures seen by goroutines, where a ck_assert would not reach the
 * test's result; checked by the test's own thread. A function-local
 * static, so suites that never fail in goroutines carry no unused
 * variable. Every test runs in its own forked process, starting at 0. */
static inline atomic_int *
bg_failures(void)
{
  static atomic_int n;
  return &n;
}

/* Report a failure from a goroutine: print the printf-style message and a
 * newline to stderr and count it for assert_no_bg_failures. */
#define BG_FAIL(...)                                                                               \
  do {                                                                                             \
    fprintf(stderr, __VA_ARGS__);                                                                  \
    fputc('\n', stderr);                                                                           \
    atomic_fetch_add(bg_failures(), 1);                                                            \
  } while (0)

/* Fail the test if any goroutine reported a failure with BG_FAIL. */
static inline void
assert_no_bg_failures(void)
{
  int n = atomic_load(bg_failures());
  ck_assert_msg(n == 0, "%d failure(s) in goroutines (see stderr)", n);
}

/* One millisecond in goro time (nanoseconds). */
#define MS GORO_MILLISECOND

/* Lateness allowed for a timeout or a timer: 500 ms on a loaded 2-core CI
 * machine, twice that under sanitizers; GORO_TEST_SLACK_MS overrides
 * (valgrind). Never firing early is checked exactly. */
static inline int64_t
slack_ns(void)
{
  const char *s = getenv("GORO_TEST_SLACK_MS");
  if (s != NULL && *s != '\0')
    return strtoll(s, NULL, 10) * MS;
  return UNDER_SANITIZER ? 1000 * MS : 500 * MS;
}
#define SLACK slack_ns()

/* The monotonic clock read directly, independent of goro_now, so tests
 * can check goro_now against it. */
static inline int64_t
mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * GORO_SECOND + ts.tv_nsec;
}

/* Sleep ns nanoseconds without goro, so tests do not depend on goro_sleep;
 * resumes after a signal. */
static inline void
nap(int64_t ns)
{
  struct timespec ts = {.tv_sec = ns / GORO_SECOND, .tv_nsec = ns % GORO_SECOND};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* Receive one int64_t from c (a timer's or ticker's channel, say); the
 * test fails if none arrives within limit ns or c is closed. */
static inline int64_t
recv_within(goro_chan *c, int64_t limit)
{
  int64_t v = -1;
  goro_case rc = GORO_RECV_CASE(c, &v);
  int r = goro_select(&rc, 1, limit);
  ck_assert_msg(r == 0, "no value within %lld ms (%s)", (long long)(limit / MS), goro_strerror(r));
  ck_assert_msg(rc.ok, "the channel was closed");
  return v;
}

/* Bytes the allocator has handed out (glibc 2.33's mallinfo2); -1 where
 * that is not known, or not meaningful (a sanitizer's allocator does not
 * feed mallinfo2). */
static inline long
heap_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  if (UNDER_SANITIZER)
    return -1;
  struct mallinfo2 mi = mallinfo2();
  return (long)mi.uordblks + (long)mi.hblkhd;
#else
  return -1;
#endif
}

#endif
