/* testutil.h - shared helpers for the Check suites.
 *
 * Every suite runs in Check's fork mode with a per-case timeout, so a
 * deadlock fails its test instead of hanging the run. Every test case's
 * teardown asserts that no goroutine leaked, as goleak does.
 */
#ifndef GORO_TESTUTIL_H
#define GORO_TESTUTIL_H

#include <check.h>
#include <goro.h>
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

/* Sleep without goro, whatever signals arrive. */
static inline void
sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
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

#endif
