/* check_time.c - goro_now, goro_sleep, goro_after and tickers: never early,
 * late only within a tolerance, slow readers miss ticks, release and stop
 * cancel and free. */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <goro.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* ---- goro_now ---------------------------------------------------------- */

START_TEST(test_now_never_goes_backwards)
{
  int64_t prev = goro_now();
  for (int i = 0; i < 200000; i++) {
    int64_t t = goro_now();
    if (t < prev) /* not ck_assert: in fork mode each one costs a system call */
      ck_abort_msg("goro_now went back from %lld to %lld", (long long)prev, (long long)t);
    prev = t;
  }
}
END_TEST

START_TEST(test_now_counts_nanoseconds_of_the_monotonic_clock)
{
  int64_t m0 = mono_ns();
  int64_t g0 = goro_now();
  nap(50 * MS);
  int64_t g1 = goro_now();
  int64_t m1 = mono_ns();
  int64_t dg = g1 - g0, dm = m1 - m0;
  ck_assert_msg(dg >= 50 * MS, "goro_now advanced %lld ns over a 50 ms sleep", (long long)dg);
  ck_assert_msg(dg <= dm, "goro_now advanced %lld ns while the monotonic clock advanced %lld",
                (long long)dg, (long long)dm);
}
END_TEST

struct stamp {
  goro_chan *c;
};

static void
send_now(void *arg)
{
  struct stamp *s = arg;
  for (int i = 0; i < 500; i++) {
    int64_t t = goro_now();
    if (goro_chan_send(s->c, &t) != 0)
      BG_FAIL("send failed");
  }
}

/* A time read in one goroutine and then communicated is never later than a
 * time read after receiving it. */
START_TEST(test_now_is_monotonic_across_goroutines)
{
  goro_chan *c = goro_chan_make(sizeof(int64_t), 0);
  ck_assert_ptr_nonnull(c);
  goro_wg *wg = wg_make_checked();
  struct stamp s = {c};
  wg_go_checked(wg, send_now, &s);
  for (int i = 0; i < 500; i++) {
    int64_t t;
    ck_assert_int_eq(goro_chan_recv(c, &t), 1);
    int64_t here = goro_now();
    ck_assert_msg(here >= t, "received time %lld is after now %lld", (long long)t, (long long)here);
  }
  goro_wg_wait(wg);
  assert_no_bg_failures();
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* ---- goro_sleep -------------------------------------------------------- */

START_TEST(test_sleep_sleeps_at_least_the_duration)
{
  static const int64_t ds[] = {1 * GORO_MICROSECOND, 1 * MS, 10 * MS, 50 * MS};
  for (int i = 0; i < 4; i++) {
    int64_t m0 = mono_ns(), g0 = goro_now();
    goro_sleep(ds[i]);
    int64_t g1 = goro_now(), m1 = mono_ns();
    ck_assert_msg(m1 - m0 >= ds[i] && g1 - g0 >= ds[i], "goro_sleep(%lld) returned after %lld ns",
                  (long long)ds[i], (long long)(m1 - m0));
    ck_assert_msg(m1 - m0 <= ds[i] + SLACK, "goro_sleep(%lld) overslept by %lld ns",
                  (long long)ds[i], (long long)(m1 - m0 - ds[i]));
  }
}
END_TEST

START_TEST(test_sleep_of_zero_or_negative_returns_at_once)
{
  int64_t t0 = mono_ns();
  for (int i = 0; i < 100; i++) {
    goro_sleep(0);
    goro_sleep(-1);
    goro_sleep(-GORO_SECOND);
    goro_sleep(INT64_MIN);
  }
  int64_t el = mono_ns() - t0;
  ck_assert_msg(el < SLACK, "400 sleeps of <= 0 ns took %lld ns", (long long)el);
}
END_TEST

struct sleeper {
  int64_t start, end; /* mono_ns() around the sleep */
};

static void
sleep_250ms(void *arg)
{
  struct sleeper *z = arg;
  z->start = mono_ns();
  goro_sleep(250 * MS);
  z->end = mono_ns();
}

/* Sleeping goroutines do not take turns: sixteen 250 ms sleeps overlap, so
 * the last to end does so about 250 ms after the last to begin (taking
 * turns, it would be 4 s). */
START_TEST(test_sleeping_goroutines_sleep_at_the_same_time)
{
  enum { N = 16 };
  const int64_t d = 250 * MS;
  struct sleeper z[N];
  goro_wg *wg = wg_make_checked();
  for (int i = 0; i < N; i++)
    wg_go_checked(wg, sleep_250ms, &z[i]);
  goro_wg_wait(wg);
  int64_t last_start = 0, last_end = 0;
  for (int i = 0; i < N; i++) {
    ck_assert_msg(z[i].end - z[i].start >= d, "a sleep of 250 ms took %lld ns",
                  (long long)(z[i].end - z[i].start));
    if (z[i].start > last_start)
      last_start = z[i].start;
    if (z[i].end > last_end)
      last_end = z[i].end;
  }
  ck_assert_msg(last_end - last_start < d + 2 * SLACK,
                "the sleeps took turns: the last ended %lld ms after the last began",
                (long long)((last_end - last_start) / MS));
  goro_wg_free(wg);
}
END_TEST

/* ---- goro_after -------------------------------------------------------- */

START_TEST(test_after_fires_not_before_its_duration)
{
  static const int64_t ds[] = {1 * MS, 20 * MS, 100 * MS};
  for (int i = 0; i < 3; i++) {
    int64_t t0 = goro_now(), m0 = mono_ns();
    goro_chan *c = goro_after(ds[i]);
    ck_assert_ptr_nonnull(c);
    int64_t v = recv_within(c, ds[i] + 5 * GORO_SECOND);
    int64_t t1 = goro_now(), m1 = mono_ns();
    ck_assert_msg(m1 - m0 >= ds[i], "goro_after(%lld) fired after %lld ns", (long long)ds[i],
                  (long long)(m1 - m0));
    ck_assert_msg(m1 - m0 <= ds[i] + SLACK, "goro_after(%lld) fired %lld ns late", (long long)ds[i],
                  (long long)(m1 - m0 - ds[i]));
    /* The value is goro_now() at firing. */
    ck_assert_msg(v >= t0 + ds[i], "value %lld is before the deadline %lld", (long long)v,
                  (long long)(t0 + ds[i]));
    ck_assert_msg(v <= t1, "value %lld is after its receipt at %lld", (long long)v, (long long)t1);
    goro_chan_release(c);
  }
}
END_TEST

START_TEST(test_after_channel_has_capacity_one_and_fires_once)
{
  goro_chan *c = goro_after(10 * MS);
  ck_assert_ptr_nonnull(c);
  ck_assert_uint_eq(goro_chan_cap(c), 1);
  (void)recv_within(c, 5 * GORO_SECOND);
  int64_t v = -1;
  goro_case rc = GORO_RECV_CASE(c, &v);
  ck_assert_int_eq(goro_select(&rc, 1, 100 * MS), GORO_ETIMEDOUT);
  /* It is not closed either (Go's timer channels never are). */
  ck_assert_int_eq(goro_chan_tryrecv(c, &v), GORO_EAGAIN);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_after_of_zero_or_negative_fires_at_once)
{
  static const int64_t ds[] = {0, -1, -GORO_SECOND, INT64_MIN};
  for (int i = 0; i < 4; i++) {
    int64_t t0 = goro_now();
    goro_chan *c = goro_after(ds[i]);
    ck_assert_ptr_nonnull(c);
    int64_t v = recv_within(c, SLACK);
    ck_assert(v >= t0);
    goro_chan_release(c);
  }
}
END_TEST

/* goro_after(INT64_MAX) must not overflow into "already expired". */
START_TEST(test_after_of_huge_duration_does_not_fire)
{
  goro_chan *c = goro_after(INT64_MAX);
  ck_assert_ptr_nonnull(c);
  goro_chan *d = goro_after(INT64_MAX - 1);
  ck_assert_ptr_nonnull(d);
  int64_t v;
  goro_case cs[2] = {GORO_RECV_CASE(c, &v), GORO_RECV_CASE(d, &v)};
  ck_assert_int_eq(goro_select(cs, 2, 100 * MS), GORO_ETIMEDOUT);
  goro_chan_release(c);
  goro_chan_release(d);
}
END_TEST

START_TEST(test_after_timers_fire_in_deadline_order)
{
  static const int64_t ds[] = {80 * MS, 20 * MS, 60 * MS, 0, 40 * MS, 10 * MS};
  enum { N = sizeof ds / sizeof ds[0] };
  goro_chan_release(goro_after(0)); /* start the timer machinery first */
  goro_chan *c[N];
  int64_t lo[N], hi[N]; /* each deadline lies in [lo, hi] */
  for (int i = 0; i < N; i++) {
    lo[i] = goro_now() + ds[i];
    c[i] = goro_after(ds[i]);
    hi[i] = goro_now() + ds[i];
    ck_assert_ptr_nonnull(c[i]);
  }
  int64_t v[N];
  for (int i = 0; i < N; i++) {
    v[i] = recv_within(c[i], 5 * GORO_SECOND);
    ck_assert_msg(v[i] >= lo[i], "timer %d fired early", i);
  }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (hi[i] < lo[j])
        ck_assert_msg(v[i] <= v[j], "the %lld ms timer fired after the %lld ms one",
                      (long long)(ds[i] / MS), (long long)(ds[j] / MS));
  for (int i = 0; i < N; i++)
    goro_chan_release(c[i]);
}
END_TEST

/* A timer armed after longer ones is not made to wait for them. (The
 * bound is loose on purpose: held up, it would take 30 s.) */
START_TEST(test_after_short_timer_is_not_held_up_by_longer_ones)
{
  goro_chan *longer[3];
  for (int i = 0; i < 3; i++) {
    longer[i] = goro_after((30 + i) * GORO_SECOND);
    ck_assert_ptr_nonnull(longer[i]);
  }
  int64_t m0 = mono_ns();
  goro_chan *c = goro_after(20 * MS);
  ck_assert_ptr_nonnull(c);
  (void)recv_within(c, 5 * GORO_SECOND);
  ck_assert(mono_ns() - m0 >= 20 * MS);
  goro_chan_release(c);
  for (int i = 0; i < 3; i++)
    goro_chan_release(longer[i]);
}
END_TEST

struct waiter {
  int64_t d;
};

static void
await_after(void *arg)
{
  struct waiter *w = arg;
  int64_t t0 = goro_now();
  goro_chan *c = goro_after(w->d);
  if (c == NULL) {
    BG_FAIL("goro_after failed");
    return;
  }
  int64_t v = -1;
  goro_case rc = GORO_RECV_CASE(c, &v);
  int r = goro_select(&rc, 1, w->d + 5 * GORO_SECOND);
  int64_t t1 = goro_now();
  if (r != 0)
    BG_FAIL("goro_after(%lld) never fired", (long long)w->d);
  else if (v < t0 + w->d || t1 < t0 + w->d)
    BG_FAIL("goro_after(%lld) fired early", (long long)w->d);
  else if (t1 > t0 + w->d + SLACK)
    BG_FAIL("goro_after(%lld) fired %lld ns late", (long long)w->d, (long long)(t1 - t0 - w->d));
  goro_chan_release(c);
}

/* Many goroutines, each with its own timer, started at once. */
START_TEST(test_after_from_many_goroutines_fires_each_not_before_its_duration)
{
  enum { N = 64 };
  struct waiter w[N];
  goro_wg *wg = wg_make_checked();
  for (int i = 0; i < N; i++) {
    w[i].d = (int64_t)((i * 37) % 50 + 1) * MS;
    wg_go_checked(wg, await_after, &w[i]);
  }
  goro_wg_wait(wg);
  assert_no_bg_failures();
  goro_wg_free(wg);
}
END_TEST

/* Go's timeout pattern: select { case <-c: case <-time.After(d): }. */
START_TEST(test_after_as_a_select_timeout)
{
  goro_chan *never = goro_chan_make(sizeof(int), 0);
  ck_assert_ptr_nonnull(never);
  int64_t m0 = mono_ns();
  goro_chan *t = goro_after(50 * MS);
  ck_assert_ptr_nonnull(t);
  int x;
  int64_t v;
  goro_case cs[2] = {GORO_RECV_CASE(never, &x), GORO_RECV_CASE(t, &v)};
  ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), 1);
  ck_assert(cs[1].ok);
  int64_t el = mono_ns() - m0;
  ck_assert(el >= 50 * MS);
  ck_assert(el <= 50 * MS + SLACK);
  goro_chan_release(t);
  goro_chan_release(never);
}
END_TEST

/* Releasing an unfired goro_after channel cancels its timer and frees it:
 * a released 20 ms timer later fires into nothing (ASan and valgrind catch a
 * use after free), and 20,000 released one-hour timers leave no memory
 * behind (a timer kept until its deadline would hold its channel). */
START_TEST(test_after_released_before_firing_is_cancelled_and_freed)
{
  for (int i = 0; i < 20; i++) {
    goro_chan *c = goro_after((i % 4) * 5 * MS);
    ck_assert_ptr_nonnull(c);
    goro_chan_release(c);
  }
  nap(100 * MS); /* past every deadline */

  enum { N = 20000 };
  for (int i = 0; i < 1000; i++) /* warm up the allocator and timer thread */
    goro_chan_release(goro_after(3600 * GORO_SECOND));
  long before = heap_in_use();
  for (int i = 0; i < N; i++) {
    goro_chan *c = goro_after(3600 * GORO_SECOND);
    ck_assert_ptr_nonnull(c);
    goro_chan_release(c);
  }
  long after = heap_in_use();
  if (before >= 0) {
    long grown = after - before;
    ck_assert_msg(grown < N * 16L,
                  "%d released goro_after timers still hold %ld bytes: not cancelled", N, grown);
  }

  /* The timer thread still works after all that. */
  goro_chan *c = goro_after(5 * MS);
  ck_assert_ptr_nonnull(c);
  (void)recv_within(c, 5 * GORO_SECOND);
  goro_chan_release(c);
}
END_TEST

/* A reference the caller retained keeps the timer: releasing one of two
 * references is not releasing the channel. */
START_TEST(test_after_with_a_retained_reference_still_fires)
{
  int64_t t0 = goro_now();
  goro_chan *c = goro_after(20 * MS);
  ck_assert_ptr_nonnull(c);
  ck_assert_ptr_eq(goro_chan_retain(c), c);
  goro_chan_release(c);
  int64_t v = recv_within(c, 5 * GORO_SECOND);
  ck_assert(v >= t0 + 20 * MS); /* the time it fired, never early */
  goro_chan_release(c);
}
END_TEST

/* ---- tickers ----------------------------------------------------------- */

START_TEST(test_ticker_make_rejects_a_nonpositive_period)
{
  static const int64_t bad[] = {0, -1, -GORO_SECOND, INT64_MIN};
  for (int i = 0; i < 4; i++) {
    errno = 0;
    ck_assert_ptr_null(goro_ticker_make(bad[i]));
    ck_assert_int_eq(errno, EINVAL);
  }
}
END_TEST

/* A period near INT64_MAX must not overflow into "due at once". */
START_TEST(test_ticker_with_huge_period_does_not_tick)
{
  goro_ticker *t = goro_ticker_make(INT64_MAX);
  ck_assert_ptr_nonnull(t);
  int64_t v;
  goro_case rc = GORO_RECV_CASE(goro_ticker_chan(t), &v);
  ck_assert_int_eq(goro_select(&rc, 1, 100 * MS), GORO_ETIMEDOUT);
  goro_ticker_stop(t);
}
END_TEST

START_TEST(test_ticker_stop_of_null_does_nothing)
{
  goro_ticker_stop(NULL);
}
END_TEST

START_TEST(test_ticker_ticks_at_about_its_period)
{
  const int64_t p = 20 * MS;
  enum { N = 10 };
  int64_t t0 = goro_now(), m0 = mono_ns();
  goro_ticker *t = goro_ticker_make(p);
  ck_assert_ptr_nonnull(t);
  goro_chan *c = goro_ticker_chan(t);
  ck_assert_ptr_nonnull(c);
  ck_assert_uint_eq(goro_chan_cap(c), 1);
  int64_t prev = t0;
  for (int k = 1; k <= N; k++) {
    int64_t v = recv_within(c, p + 5 * GORO_SECOND);
    ck_assert_msg(v >= t0 + k * p, "tick %d at %lld ms, before %d periods", k,
                  (long long)((v - t0) / MS), k);
    ck_assert_msg(v > prev, "tick %d is not after the tick before it", k);
    prev = v;
  }
  int64_t el = mono_ns() - m0;
  ck_assert_msg(el >= N * p, "%d ticks in %lld ms", N, (long long)(el / MS));
  ck_assert_msg(el <= N * p + SLACK, "%d ticks of %lld ms took %lld ms", N, (long long)(p / MS),
                (long long)(el / MS));
  goro_ticker_stop(t);
}
END_TEST

/* A reader that falls behind finds one buffered tick, not a backlog, and
 * the ticks after that are fresh. */
START_TEST(test_ticker_drops_ticks_for_a_slow_reader)
{
  const int64_t p = 10 * MS;
  goro_ticker *t = goro_ticker_make(p);
  ck_assert_ptr_nonnull(t);
  goro_chan *c = goro_ticker_chan(t);
  nap(400 * MS); /* about 40 ticks go by unread */
  ck_assert_uint_le(goro_chan_len(c), 1);
  int n = 0;
  int64_t v;
  while (goro_chan_tryrecv(c, &v) == 1)
    n++;
  int64_t drained = goro_now();
  ck_assert_msg(n >= 1 && n <= 2, "a slow reader found %d queued ticks", n);
  v = recv_within(c, p + SLACK);
  ck_assert_msg(v >= drained - 100 * MS,
                "the tick after a slow read is %lld ms stale: ticks were queued",
                (long long)((drained - v) / MS));
  goro_ticker_stop(t);
}
END_TEST

/* A ticker nobody reads never stalls other timers. */
START_TEST(test_ticker_nobody_reads_does_not_delay_other_timers)
{
  goro_ticker *t = goro_ticker_make(1 * MS);
  ck_assert_ptr_nonnull(t);
  nap(20 * MS); /* its channel is full by now */
  for (int i = 0; i < 3; i++) {
    int64_t m0 = mono_ns();
    goro_chan *a = goro_after(30 * MS);
    ck_assert_ptr_nonnull(a);
    (void)recv_within(a, 5 * GORO_SECOND); /* stalled, it would never come */
    ck_assert(mono_ns() - m0 >= 30 * MS);
    goro_chan_release(a);
  }
  goro_ticker_stop(t);
}
END_TEST

/* After goro_ticker_stop returns, no tick arrives on a channel the caller
 * retained (one buffered before the stop may still be there), and the
 * channel is not closed. */
START_TEST(test_ticker_stop_ends_ticks_on_a_retained_channel)
{
  const int64_t p = 5 * MS;
  for (int round = 0; round < 5; round++) {
    goro_ticker *t = goro_ticker_make(p);
    ck_assert_ptr_nonnull(t);
    goro_chan *c = goro_chan_retain(goro_ticker_chan(t));
    (void)recv_within(c, 5 * GORO_SECOND);
    (void)recv_within(c, 5 * GORO_SECOND);
    if (round % 2)
      nap(p); /* sometimes stop with a tick waiting in the buffer */
    goro_ticker_stop(t);
    int64_t stopped = goro_now();
    int64_t v;
    if (goro_chan_tryrecv(c, &v) == 1)
      ck_assert_msg(v <= stopped, "a tick stamped after the stop was buffered");
    nap(20 * p);
    int r = goro_chan_tryrecv(c, &v);
    ck_assert_msg(r == GORO_EAGAIN, "after stop: tryrecv returned %d (%s)", r,
                  r == 1   ? "a tick"
                  : r == 0 ? "closed"
                           : goro_strerror(r));
    goro_chan_release(c);
  }
}
END_TEST

/* Stopping frees the ticker and its channel (ASan and valgrind check),
 * whenever the stop happens relative to the ticks. */
START_TEST(test_ticker_stop_frees_it_at_any_moment)
{
  for (int i = 0; i < 200; i++) {
    goro_ticker *t = goro_ticker_make((i % 5 + 1) * 100 * GORO_MICROSECOND);
    ck_assert_ptr_nonnull(t);
    if (i % 3)
      nap((i % 7) * 100 * GORO_MICROSECOND);
    goro_ticker_stop(t);
  }
  goro_ticker *t = goro_ticker_make(2 * MS);
  ck_assert_ptr_nonnull(t);
  (void)recv_within(goro_ticker_chan(t), 5 * GORO_SECOND);
  goro_ticker_stop(t);
  goro_ticker_stop(goro_ticker_make(GORO_SECOND));
}
END_TEST

struct tick_loop {
  goro_chan *ticks, *done;
  int count;
};

static void
tick_counter(void *arg)
{
  struct tick_loop *l = arg;
  for (;;) {
    int64_t v;
    goro_case cs[2] = {GORO_RECV_CASE(l->ticks, &v), GORO_RECV_CASE(l->done, NULL)};
    int r = goro_select(cs, 2, GORO_FOREVER);
    if (r == 1)
      return;
    if (r != 0) {
      BG_FAIL("select returned %d", r);
      return;
    }
    l->count++;
  }
}

/* The chapter 8 countdown shape: a goroutine selects on ticks and on a
 * done channel that the main thread closes. */
START_TEST(test_ticker_in_a_select_loop_until_done_is_closed)
{
  const int64_t p = 10 * MS;
  /* The clock starts before the ticker: its ticks are due at start + k*p,
   * so every tick counted is due within el, however slow the set-up
   * (helgrind took 20 ms between the ticker and a later m0). */
  int64_t m0 = mono_ns();
  goro_ticker *t = goro_ticker_make(p);
  ck_assert_ptr_nonnull(t);
  goro_chan *done = goro_chan_make(0, 0);
  ck_assert_ptr_nonnull(done);
  struct tick_loop l = {goro_ticker_chan(t), done, 0};
  goro_wg *wg = wg_make_checked();
  wg_go_checked(wg, tick_counter, &l);
  nap(200 * MS);
  ck_assert_int_eq(goro_chan_close(done), 0);
  goro_wg_wait(wg);
  int64_t el = mono_ns() - m0;
  assert_no_bg_failures();
  ck_assert_msg(l.count >= 1, "no tick in 200 ms of a 10 ms ticker");
  ck_assert_msg(l.count <= el / p + 1, "%d ticks in %lld ms of a 10 ms ticker", l.count,
                (long long)(el / MS));
  goro_ticker_stop(t);
  goro_wg_free(wg);
  goro_chan_release(done);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

static Suite *
time_suite(void)
{
  Suite *s = suite_create("time");
  TCase *tc;

  tc = tcase_make("now", 10);
  tcase_add_test(tc, test_now_never_goes_backwards);
  tcase_add_test(tc, test_now_counts_nanoseconds_of_the_monotonic_clock);
  tcase_add_test(tc, test_now_is_monotonic_across_goroutines);
  suite_add_tcase(s, tc);

  tc = tcase_make("sleep", 10);
  tcase_add_test(tc, test_sleep_sleeps_at_least_the_duration);
  tcase_add_test(tc, test_sleep_of_zero_or_negative_returns_at_once);
  tcase_add_test(tc, test_sleeping_goroutines_sleep_at_the_same_time);
  suite_add_tcase(s, tc);

  tc = tcase_make("after", 20);
  tcase_add_test(tc, test_after_fires_not_before_its_duration);
  tcase_add_test(tc, test_after_channel_has_capacity_one_and_fires_once);
  tcase_add_test(tc, test_after_of_zero_or_negative_fires_at_once);
  tcase_add_test(tc, test_after_of_huge_duration_does_not_fire);
  tcase_add_test(tc, test_after_timers_fire_in_deadline_order);
  tcase_add_test(tc, test_after_short_timer_is_not_held_up_by_longer_ones);
  tcase_add_test(tc, test_after_from_many_goroutines_fires_each_not_before_its_duration);
  tcase_add_test(tc, test_after_as_a_select_timeout);
  tcase_add_test(tc, test_after_released_before_firing_is_cancelled_and_freed);
  tcase_add_test(tc, test_after_with_a_retained_reference_still_fires);
  suite_add_tcase(s, tc);

  tc = tcase_make("ticker", 20);
  tcase_add_test(tc, test_ticker_make_rejects_a_nonpositive_period);
  tcase_add_test(tc, test_ticker_stop_of_null_does_nothing);
  tcase_add_test(tc, test_ticker_with_huge_period_does_not_tick);
  tcase_add_test(tc, test_ticker_ticks_at_about_its_period);
  tcase_add_test(tc, test_ticker_drops_ticks_for_a_slow_reader);
  tcase_add_test(tc, test_ticker_nobody_reads_does_not_delay_other_timers);
  tcase_add_test(tc, test_ticker_stop_ends_ticks_on_a_retained_channel);
  tcase_add_test(tc, test_ticker_stop_frees_it_at_any_moment);
  tcase_add_test(tc, test_ticker_in_a_select_loop_until_done_is_closed);
  suite_add_tcase(s, tc);

  return s;
}

int
main(void)
{
  return run_suite(time_suite());
}
