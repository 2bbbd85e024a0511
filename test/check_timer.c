/* check_timer.c - goro_timer (Go 1.23's time.Timer: Stop and Reset leave
 * no stale value) and goro_after_func: fire once and never early, stop
 * and reset report exactly whether a value was pending, races between
 * stopping and firing are exact, AfterFunc runs in its own goroutine.
 * The cases follow Go's time/sleep_test.go and tick_test.go (TestReset,
 * TestStopReset-like races, TestAfterFunc, TestAfterStop,
 * TestTimerStopStress, Go 1.23's synchronous-channel checks). */
#include "testutil.h"

#include <goro.h>
#include <stdatomic.h>
#include <stdint.h>

/* c has no value now, nor for the next ns. */
static void
assert_nothing_for(goro_chan *c, int64_t ns)
{
  int64_t v;
  goro_case rc = GORO_RECV_CASE(c, &v);
  int r = goro_select(&rc, 1, ns);
  ck_assert_msg(r == GORO_ETIMEDOUT, "a value arrived (%d)", r);
}

static goro_timer *
timer_checked(int64_t d)
{
  goro_timer *t = goro_timer_make(d);
  ck_assert_ptr_nonnull(t);
  return t;
}

/* ---- goro_timer --------------------------------------------------------- */

START_TEST(test_timer_fires_once_not_before_its_duration)
{
  int64_t t0 = goro_now();
  goro_timer *t = timer_checked(30 * MS);
  goro_chan *c = goro_timer_chan(t);
  ck_assert_uint_eq(goro_chan_cap(c), 1);
  int64_t v = recv_within(c, 5 * GORO_SECOND);
  int64_t t1 = goro_now();
  ck_assert_msg(v >= t0 + 30 * MS, "fired %lld ns early", (long long)(t0 + 30 * MS - v));
  ck_assert(v <= t1);
  ck_assert(t1 - t0 <= 30 * MS + SLACK);
  assert_nothing_for(c, 60 * MS);
  /* Received: nothing was pending. */
  ck_assert(!goro_timer_stop(t));
  goro_timer_free(t);
}
END_TEST

START_TEST(test_timer_of_zero_or_negative_fires_at_once_and_forever_never)
{
  static const int64_t ds[] = {0, -1, -GORO_SECOND, INT64_MIN};
  for (int i = 0; i < 4; i++) {
    goro_timer *t = timer_checked(ds[i]);
    (void)recv_within(goro_timer_chan(t), SLACK);
    goro_timer_free(t);
  }
  goro_timer *t = timer_checked(GORO_FOREVER);
  assert_nothing_for(goro_timer_chan(t), 50 * MS);
  ck_assert(goro_timer_stop(t)); /* still pending */
  goro_timer_free(t);
}
END_TEST

/* Stop before it fires: true, and no value ever arrives. */
START_TEST(test_timer_stop_before_firing_returns_true_and_nothing_arrives)
{
  goro_timer *t = timer_checked(300 * MS);
  ck_assert(goro_timer_stop(t));
  ck_assert(!goro_timer_stop(t));                   /* already stopped */
  assert_nothing_for(goro_timer_chan(t), 400 * MS); /* past its time */
  goro_timer_free(t);
}
END_TEST

/* Go 1.23: a value that fired but was not received is discarded by Stop,
 * which reports it pending; the channel is then empty. */
START_TEST(test_timer_stop_after_firing_discards_the_unreceived_value)
{
  goro_timer *t = timer_checked(1 * MS);
  goro_chan *c = goro_timer_chan(t);
  int64_t deadline = goro_now() + 5 * GORO_SECOND;
  while (goro_chan_len(c) == 0 && goro_now() < deadline) /* until it has fired */
    nap(1 * MS);
  ck_assert_uint_eq(goro_chan_len(c), 1);
  ck_assert(goro_timer_stop(t));
  ck_assert_uint_eq(goro_chan_len(c), 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, NULL), GORO_EAGAIN);
  ck_assert(!goro_timer_stop(t));
  goro_timer_free(t);
}
END_TEST

/* TestReset: reset to a longer duration before the first one passes
 * moves the firing; a reset after an unreceived firing discards the
 * stale value, and the new value is stamped after the reset. */
START_TEST(test_timer_reset_moves_the_firing_and_drops_the_stale_value)
{
  int64_t t0 = goro_now();
  goro_timer *t = timer_checked(30 * MS);
  goro_chan *c = goro_timer_chan(t);
  ck_assert(goro_timer_reset(t, 150 * MS)); /* was active */
  int64_t v = recv_within(c, 5 * GORO_SECOND);
  ck_assert_msg(v >= t0 + 150 * MS, "fired at +%lld ms, before the reset's 150 ms",
                (long long)((v - t0) / MS));

  /* Fired and not received, then reset: true, the old value is gone. */
  ck_assert(!goro_timer_reset(t, 1 * MS));
  int64_t deadline = goro_now() + 5 * GORO_SECOND;
  while (goro_chan_len(c) == 0 && goro_now() < deadline)
    nap(1 * MS);
  ck_assert_uint_eq(goro_chan_len(c), 1);
  int64_t r0 = goro_now();
  ck_assert(goro_timer_reset(t, 50 * MS));
  ck_assert_uint_eq(goro_chan_len(c), 0);
  v = recv_within(c, 5 * GORO_SECOND);
  ck_assert_msg(v >= r0 + 50 * MS, "received a value stamped before the reset");

  /* A stopped timer can be reset: false, and it fires again. */
  ck_assert(!goro_timer_stop(t));
  ck_assert(!goro_timer_reset(t, 1 * MS));
  (void)recv_within(c, 5 * GORO_SECOND);
  goro_timer_free(t);
}
END_TEST

/* A one-hour timer reset to 10 ms fires at 10 ms (the heap is re-sorted:
 * TestTimerModifiedEarlier). */
START_TEST(test_timer_reset_earlier_fires_at_the_new_time)
{
  enum { N = 20 };
  goro_timer *ts[N];
  for (int i = 0; i < N; i++)
    ts[i] = timer_checked(3600 * GORO_SECOND);
  int64_t t0 = goro_now();
  for (int i = 0; i < N; i++)
    ck_assert(goro_timer_reset(ts[i], (10 + i) * MS));
  for (int i = 0; i < N; i++) {
    int64_t v = recv_within(goro_timer_chan(ts[i]), 5 * GORO_SECOND);
    ck_assert(v >= t0 + (10 + i) * MS);
  }
  ck_assert(goro_now() - t0 <= 30 * MS + SLACK);
  for (int i = 0; i < N; i++)
    goro_timer_free(ts[i]);
}
END_TEST

START_TEST(test_timer_null_and_free_of_a_pending_timer)
{
  ck_assert(!goro_timer_stop(NULL));
  ck_assert(!goro_timer_reset(NULL, MS));
  ck_assert_ptr_null(goro_timer_chan(NULL));
  goro_timer_free(NULL);
  /* Freed while pending, at every phase: nothing fires into freed
   * memory (ASan, valgrind). */
  for (int i = 0; i < 200; i++) {
    goro_timer *t = timer_checked((i % 5) * 100 * GORO_MICROSECOND);
    if (i % 3 == 0)
      nap((i % 7) * 50 * GORO_MICROSECOND);
    goro_timer_free(t);
  }
  nap(5 * MS);
}
END_TEST

/* ---- stop and reset against firing, exact ------------------------------ */

struct racer {
  goro_chan *c;    /* the timer's channel */
  goro_chan *quit; /* closed when the stop has returned */
  int got;         /* values received */
};

static void
receive_until_quit(void *arg)
{
  struct racer *r = arg;
  int64_t v;
  for (;;) {
    goro_case cs[2] = {GORO_RECV_CASE(r->c, &v), GORO_RECV_CASE(r->quit, NULL)};
    int i = goro_select(cs, 2, GORO_FOREVER);
    if (i != 0)
      break;
    r->got++;
  }
  /* After quit: whatever the select chose, anything left now would be a
   * value the stop should have discarded or counted. */
  if (goro_chan_tryrecv(r->c, &v) == 1)
    r->got++;
}

/* Each arming yields exactly one of: the stop (or reset) reports it
 * pending, or a receiver got its value. A receiver races the stop; a
 * value from before the stop can never be received after it. With no
 * receiver, a stop always reports pending (Go 1.23). */
START_TEST(test_timer_stop_racing_with_firing_is_exact)
{
  size_t n = scaled(2000);
  goro_wg *wg = wg_make_checked();
  uint32_t seed = 12345;
  int nostop = 0, pend = 0;
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    int64_t d = (int64_t)(seed >> 8) % (200 * GORO_MICROSECOND);
    goro_timer *t = timer_checked(d);
    struct racer r = {goro_timer_chan(t), chan_make_checked(0, 0), 0};
    bool with_receiver = i % 4 != 0;
    if (with_receiver)
      wg_go_checked(wg, receive_until_quit, &r);
    nap((int64_t)(seed >> 4) % (250 * GORO_MICROSECOND));
    bool pending = (i % 8 == 1) ? goro_timer_reset(t, GORO_FOREVER) : goro_timer_stop(t);
    goro_chan_close(r.quit);
    goro_wg_wait(wg);
    ck_assert_int_eq(goro_chan_tryrecv(r.c, NULL), GORO_EAGAIN);
    if (!with_receiver)
      ck_assert_msg(pending, "no receiver, yet stop reported nothing pending");
    ck_assert_msg(pending + r.got == 1, "arming %zu: stop said %s pending, %d value(s) received", i,
                  pending ? "" : "not", r.got);
    nostop += !pending;
    pend += pending;
    goro_chan_release(r.quit);
    goro_timer_free(t);
  }
  fprintf(stderr, "stop race: %d pending, %d received\n", pend, nostop);
  goro_wg_free(wg);
}
END_TEST

struct stress {
  goro_timer *t;
  _Atomic bool stop;
  _Atomic long resets, stops;
};

static void
reset_and_stop_loop(void *arg)
{
  struct stress *s = arg;
  for (unsigned n = 0; !atomic_load(&s->stop); n++) {
    goro_timer_reset(s->t, (n & 1) ? 0 : 10 * GORO_MICROSECOND);
    for (unsigned k = 0; k < (n & 7) * 100; k++) /* sometimes it fires first */
      atomic_signal_fence(memory_order_seq_cst);
    atomic_fetch_add(&s->resets, 1);
    if (goro_timer_stop(s->t))
      atomic_fetch_add(&s->stops, 1);
  }
}

/* TestTimerStopStress, harder: goroutines reset and stop one timer in a
 * loop while it fires; afterwards a stop leaves it quiet for good. */
START_TEST(test_timer_stop_and_reset_stress_leaves_it_quiet)
{
  struct stress s = {.t = timer_checked(GORO_FOREVER)};
  goro_wg *wg = wg_make_checked();
  for (int i = 0; i < 4; i++)
    wg_go_checked(wg, reset_and_stop_loop, &s);
  goro_chan *c = goro_timer_chan(s.t);
  int64_t end = goro_now() + 200 * MS;
  long got = 0;
  while (goro_now() < end)
    if (goro_chan_tryrecv(c, NULL) == 1)
      got++;
  atomic_store(&s.stop, true);
  goro_wg_wait(wg);
  goro_timer_stop(s.t);
  assert_nothing_for(c, 30 * MS);
  ck_assert(atomic_load(&s.resets) > 0);
  fprintf(stderr, "stress: %ld resets, %ld pending stops, %ld received\n", atomic_load(&s.resets),
          atomic_load(&s.stops), got);
  goro_wg_free(wg);
  goro_timer_free(s.t);
}
END_TEST

/* ---- goro_after_func ---------------------------------------------------- */

struct runrec {
  _Atomic uint64_t self; /* goro_self() inside fn */
  _Atomic int64_t when;
  _Atomic int runs;
  goro_wg *wg; /* done once per run (NULL: none); fn's last touch of the record */
};

static void
record_run(void *arg)
{
  struct runrec *r = arg;
  atomic_store(&r->self, goro_self());
  atomic_store(&r->when, goro_now());
  goro_wg *wg = r->wg;
  atomic_fetch_add(&r->runs, 1);
  if (wg != NULL)
    goro_wg_done(wg);
}

/* Wait up to limit ns for r->runs to reach n. */
static bool
runs_reach(struct runrec *r, int n, int64_t limit)
{
  int64_t end = goro_now() + limit;
  while (atomic_load(&r->runs) < n) {
    if (goro_now() > end)
      return false;
    nap(200 * GORO_MICROSECOND);
  }
  return true;
}

struct caller {
  struct runrec r;
  uint64_t caller;
  goro_timer *t;
};

static void
arm_after_func(void *arg)
{
  struct caller *c = arg;
  c->caller = goro_self();
  c->t = goro_after_func(10 * MS, record_run, &c->r);
  if (c->t == NULL)
    BG_FAIL("goro_after_func failed");
}

/* fn runs once, not before d, in a goroutine of its own: goro_self() is
 * not 0 there (it is 0 in this test's main thread) and not the id of
 * the goroutine that armed it. Its channel is NULL. */
START_TEST(test_after_func_runs_fn_in_its_own_goroutine_after_d)
{
  struct caller c = {.caller = 0};
  int64_t t0 = goro_now();
  goro_wg *wg = wg_make_checked();
  c.r.wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(c.r.wg, 1), 0);
  wg_go_checked(wg, arm_after_func, &c);
  goro_wg_wait(wg);
  assert_no_bg_failures();
  ck_assert_ptr_null(goro_timer_chan(c.t));
  ck_assert(runs_reach(&c.r, 1, 5 * GORO_SECOND));
  goro_wg_wait(c.r.wg); /* returns at once: the run is over */
  ck_assert_uint_ne(atomic_load(&c.r.self), 0);
  ck_assert_uint_ne(atomic_load(&c.r.self), c.caller);
  ck_assert_uint_eq(goro_self(), 0);
  ck_assert(atomic_load(&c.r.when) >= t0 + 10 * MS);
  ck_assert(!goro_timer_stop(c.t)); /* ran: nothing pending */
  nap(30 * MS);
  ck_assert_int_eq(atomic_load(&c.r.runs), 1);
  /* Reset re-arms it: fn runs again. */
  ck_assert_int_eq(goro_wg_add(c.r.wg, 1), 0);
  ck_assert(!goro_timer_reset(c.t, 1 * MS));
  ck_assert(runs_reach(&c.r, 2, 5 * GORO_SECOND));
  goro_wg_wait(c.r.wg);
  goro_timer_free(c.t);
  goro_wg_free(c.r.wg);
  goro_wg_free(wg);
}
END_TEST

/* TestAfterStop: stopped before d, fn never runs. */
START_TEST(test_after_func_stopped_first_never_runs)
{
  struct runrec r = {.runs = 0};
  goro_timer *t = goro_after_func(300 * MS, record_run, &r); /* long: valgrind is slow */
  ck_assert_ptr_nonnull(t);
  ck_assert(goro_timer_stop(t));
  goro_timer *t2 = goro_after_func(300 * MS, record_run, &r);
  ck_assert_ptr_nonnull(t2);
  goro_timer_free(t2); /* free stops it too */
  nap(400 * MS);
  ck_assert_int_eq(atomic_load(&r.runs), 0);
  goro_timer_free(t);
  errno = 0;
  ck_assert_ptr_null(goro_after_func(MS, NULL, NULL));
  ck_assert_int_eq(errno, EINVAL);
}
END_TEST

struct chain {
  _Atomic int left;
  goro_chan *done;
  goro_wg *wg;            /* one done per step, its last act */
  goro_timer *timers[10]; /* timers[i] armed by the step before */
};

static void
chain_step(void *arg)
{
  struct chain *ch = arg;
  goro_wg *wg = ch->wg;
  int i = atomic_fetch_sub(&ch->left, 1) - 1;
  if (i == 0) { /* a reference of its own: the test may release done once closed */
    goro_chan *done = goro_chan_retain(ch->done);
    goro_chan_close(done);
    goro_chan_release(done);
  } else {
    ch->timers[i] = goro_after_func(0, chain_step, ch);
    if (ch->timers[i] == NULL) {
      BG_FAIL("goro_after_func failed");
      goro_chan_close(ch->done);
    }
  }
  goro_wg_done(wg);
}

/* TestAfterFunc: each fn arms the next one, ten in a row. */
START_TEST(test_after_func_chain_of_ten)
{
  struct chain ch = {.left = 10, .done = chan_make_checked(0, 0), .wg = wg_make_checked()};
  ck_assert_int_eq(goro_wg_add(ch.wg, 10), 0);
  ch.timers[0] = goro_after_func(0, chain_step, &ch);
  ck_assert_ptr_nonnull(ch.timers[0]);
  goro_case cs = GORO_RECV_CASE(ch.done, NULL);
  ck_assert_int_eq(goro_select(&cs, 1, 5 * GORO_SECOND), 0);
  goro_wg_wait(ch.wg); /* every step is over */
  assert_no_bg_failures();
  ck_assert_int_eq(atomic_load(&ch.left), 0);
  for (int i = 0; i < 10; i++) {
    ck_assert_ptr_nonnull(ch.timers[i]);
    goro_timer_free(ch.timers[i]);
  }
  goro_wg_free(ch.wg);
  goro_chan_release(ch.done);
}
END_TEST

/* Each arming: either the stop reports pending, or fn ran - never both,
 * never neither. */
START_TEST(test_after_func_stop_racing_with_firing_is_exact)
{
  size_t n = scaled(1000);
  uint32_t seed = 777;
  goro_wg *wg = wg_make_checked();
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    struct runrec r = {.wg = wg};
    ck_assert_int_eq(goro_wg_add(wg, 1), 0);
    goro_timer *t =
        goro_after_func((int64_t)(seed >> 8) % (150 * GORO_MICROSECOND), record_run, &r);
    ck_assert_ptr_nonnull(t);
    nap((int64_t)(seed >> 4) % (200 * GORO_MICROSECOND));
    bool pending = goro_timer_stop(t);
    goro_timer_free(t);
    if (!pending) { /* it fired: fn runs (or ran) in its goroutine */
      ck_assert(runs_reach(&r, 1, 5 * GORO_SECOND));
    } else {
      if (i % 50 == 0) /* give a wrongly started fn the time to show up */
        nap(2 * MS);
      ck_assert_int_eq(atomic_load(&r.runs), 0);
      goro_wg_done(wg); /* fn's count, as it will not run */
    }
    goro_wg_wait(wg); /* fn is done with r */
    ck_assert_int_eq(atomic_load(&r.runs), pending ? 0 : 1);
  }
  goro_wg_free(wg);
}
END_TEST

static Suite *
timer_suite(void)
{
  Suite *s = suite_create("timer");
  TCase *tc;

  tc = tcase_make("timer", 20);
  tcase_add_test(tc, test_timer_fires_once_not_before_its_duration);
  tcase_add_test(tc, test_timer_of_zero_or_negative_fires_at_once_and_forever_never);
  tcase_add_test(tc, test_timer_stop_before_firing_returns_true_and_nothing_arrives);
  tcase_add_test(tc, test_timer_stop_after_firing_discards_the_unreceived_value);
  tcase_add_test(tc, test_timer_reset_moves_the_firing_and_drops_the_stale_value);
  tcase_add_test(tc, test_timer_reset_earlier_fires_at_the_new_time);
  tcase_add_test(tc, test_timer_null_and_free_of_a_pending_timer);
  suite_add_tcase(s, tc);

  tc = tcase_make("races", 60);
  tcase_add_test(tc, test_timer_stop_racing_with_firing_is_exact);
  tcase_add_test(tc, test_timer_stop_and_reset_stress_leaves_it_quiet);
  tcase_add_test(tc, test_after_func_stop_racing_with_firing_is_exact);
  suite_add_tcase(s, tc);

  tc = tcase_make("after_func", 20);
  tcase_add_test(tc, test_after_func_runs_fn_in_its_own_goroutine_after_d);
  tcase_add_test(tc, test_after_func_stopped_first_never_runs);
  tcase_add_test(tc, test_after_func_chain_of_ten);
  suite_add_tcase(s, tc);

  return s;
}

int
main(void)
{
  return run_suite(timer_suite());
}
