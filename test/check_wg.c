/* check_wg.c - WaitGroup and the closer goroutine (goro_wg_make(3),
 * goro_closer(3)).
 *
 * GORO_TEST_SCALE (a factor, default 1) shrinks the heavy tests, for
 * valgrind.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, open_memstream */

#include <goro.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

/* ---- Helpers ----------------------------------------------------------- */

/* A goroutine that waits on wg, notes that it returned, then reports done
 * on exited. */
struct waiter {
  goro_wg *wg;
  atomic_int returned;
  goro_wg *exited;
};

static void
waiter_main(void *arg)
{
  struct waiter *w = arg;
  goro_wg_wait(w->wg);
  atomic_store(&w->returned, 1);
  goro_wg_done(w->exited);
}

/* Start a waiter on wg; join it later with goro_wg_wait(w->exited). */
static void
start_waiter(struct waiter *w, goro_wg *wg)
{
  w->wg = wg;
  atomic_store(&w->returned, 0);
  w->exited = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(w->exited, 1), 0);
  go_checked(waiter_main, w);
}

static void
join_waiter(struct waiter *w)
{
  goro_wg_wait(w->exited);
  ck_assert_int_eq(atomic_load(&w->returned), 1);
  goro_wg_free(w->exited);
}

static void
set_flag_main(void *arg)
{
  atomic_store((atomic_int *)arg, 1);
}

static void
slow_flag_main(void *arg)
{
  nap(50 * MS);
  atomic_store((atomic_int *)arg, 1);
}

/* ---- Add, done, wait --------------------------------------------------- */

/* goro_wg_add refuses both ways with GORO_ERANGE; its message must fit
 * both (it used to say only "would go negative", also for an overflow). */
START_TEST(test_wg_erange_message_fits_overflow_and_underflow)
{
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, INT32_MAX), 0);
  ck_assert_int_eq(goro_wg_add(wg, 1), GORO_ERANGE);
  const char *msg = goro_strerror(GORO_ERANGE);
  ck_assert_msg(strstr(msg, "INT32_MAX") != NULL && strstr(msg, "negative") != NULL,
                "message: %s", msg);
  ck_assert_int_eq(goro_wg_add(wg, -(int64_t)INT32_MAX), 0);
  goro_wg_free(wg);
}
END_TEST

START_TEST(test_wg_make_returns_a_group_whose_wait_returns_at_once)
{
  goro_wg *wg = goro_wg_make();
  ck_assert_ptr_nonnull(wg);
  goro_wg_wait(wg); /* counter 0: returns at once (a hang hits the timeout) */
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_wg_free(NULL);
}
END_TEST

START_TEST(test_wg_add_and_done_return_zero_within_range)
{
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, 3), 0);
  ck_assert_int_eq(goro_wg_add(wg, 0), 0);
  ck_assert_int_eq(goro_wg_add(wg, -2), 0);
  ck_assert_int_eq(goro_wg_done(wg), 0);
  goro_wg_wait(wg);
  ck_assert_int_eq(goro_wg_add(wg, 0), 0);
  goro_wg_wait(wg);
  goro_wg_free(wg);
}
END_TEST

START_TEST(test_wg_wait_blocks_until_the_counter_reaches_zero)
{
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, 2), 0);
  struct waiter w;
  start_waiter(&w, wg);
  nap(50 * MS);
  ck_assert_int_eq(atomic_load(&w.returned), 0);
  ck_assert_int_eq(goro_wg_done(wg), 0);
  nap(50 * MS);
  ck_assert_msg(atomic_load(&w.returned) == 0, "wait returned with the counter at 1");
  ck_assert_int_eq(goro_wg_add(wg, -1), 0);
  join_waiter(&w);
  goro_wg_free(wg);
}
END_TEST

struct slow_worker {
  int delay_ms;
  atomic_int finished;
  goro_wg *wg;
};

static void
slow_worker_main(void *arg)
{
  struct slow_worker *s = arg;
  nap(s->delay_ms * MS);
  atomic_store(&s->finished, 1);
  goro_wg_done(s->wg);
}

START_TEST(test_wg_wait_returns_after_every_goroutine_called_done)
{
  enum { N = 5 };
  goro_wg *wg = wg_make_checked();
  struct slow_worker s[N];
  ck_assert_int_eq(goro_wg_add(wg, N), 0);
  for (int i = 0; i < N; i++) {
    s[i] = (struct slow_worker){.delay_ms = 10 * (i + 1), .wg = wg};
    go_checked(slow_worker_main, &s[i]);
  }
  goro_wg_wait(wg);
  for (int i = 0; i < N; i++)
    ck_assert_msg(atomic_load(&s[i].finished) == 1, "wait returned before worker %d", i);
  goro_wg_free(wg);
}
END_TEST

START_TEST(test_wg_can_be_reused_after_reaching_zero)
{
  goro_wg *wg = wg_make_checked();
  for (int round = 0; round < 50; round++) {
    struct slow_worker s = {.delay_ms = round % 3, .wg = wg};
    ck_assert_int_eq(goro_wg_add(wg, 1), 0);
    go_checked(slow_worker_main, &s);
    goro_wg_wait(wg);
    ck_assert_int_eq(atomic_load(&s.finished), 1);
  }
  goro_wg_free(wg);
}
END_TEST

START_TEST(test_wg_several_waiters_are_all_released)
{
  enum { N = 8 };
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, 1), 0);
  struct waiter w[N];
  for (int i = 0; i < N; i++)
    start_waiter(&w[i], wg);
  nap(50 * MS);
  for (int i = 0; i < N; i++)
    ck_assert_msg(atomic_load(&w[i].returned) == 0, "waiter %d returned early", i);
  ck_assert_int_eq(goro_wg_done(wg), 0);
  goro_wg_wait(wg); /* the main thread waits too */
  for (int i = 0; i < N; i++)
    join_waiter(&w[i]);
  goro_wg_free(wg);
}
END_TEST

static void
done_main(void *arg)
{
  goro_wg_done(arg);
}

START_TEST(test_wg_free_right_after_wait_returns_is_safe)
{
  /* Go allows reusing or dropping a WaitGroup once Wait returns; the last
   * done must not touch the group after waking the waiter (the sanitizer
   * builds and valgrind check the frees). In odd rounds a second waiter,
   * which must return before the group may go, gives that done waking to
   * do. */
  for (int round = 0; round < 1000; round++) {
    goro_wg *wg = wg_make_checked();
    struct waiter w;
    ck_assert_int_eq(goro_wg_add(wg, 2), 0);
    if (round % 2 == 1)
      start_waiter(&w, wg);
    go_checked(done_main, wg);
    go_checked(done_main, wg);
    goro_wg_wait(wg);
    if (round % 2 == 1)
      join_waiter(&w);
    goro_wg_free(wg);
  }
}
END_TEST

/* ---- Range errors ------------------------------------------------------ */

START_TEST(test_wg_add_below_zero_is_erange_and_leaves_counter_unchanged)
{
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, -1), GORO_ERANGE);
  ck_assert_int_eq(goro_wg_done(wg), GORO_ERANGE);
  goro_wg_wait(wg); /* still 0 */

  ck_assert_int_eq(goro_wg_add(wg, 2), 0);
  ck_assert_int_eq(goro_wg_add(wg, -3), GORO_ERANGE);
  ck_assert_int_eq(goro_wg_add(wg, INT64_MIN), GORO_ERANGE);
  struct waiter w;
  start_waiter(&w, wg);
  ck_assert_int_eq(goro_wg_done(wg), 0); /* 2 -> 1: had -3 applied, this would be ERANGE */
  nap(50 * MS);
  ck_assert_msg(atomic_load(&w.returned) == 0, "counter changed by a refused add");
  ck_assert_int_eq(goro_wg_done(wg), 0); /* 1 -> 0 */
  join_waiter(&w);
  ck_assert_int_eq(goro_wg_done(wg), GORO_ERANGE);
  goro_wg_wait(wg);
  goro_wg_free(wg);
}
END_TEST

START_TEST(test_wg_add_above_int32_max_is_erange_and_leaves_counter_unchanged)
{
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, INT64_MAX), GORO_ERANGE);
  ck_assert_int_eq(goro_wg_add(wg, (int64_t)INT32_MAX + 1), GORO_ERANGE);
  ck_assert_int_eq(goro_wg_add(wg, INT32_MAX), 0);
  ck_assert_int_eq(goro_wg_add(wg, 1), GORO_ERANGE);
  ck_assert_int_eq(goro_wg_add(wg, -(int64_t)INT32_MAX + 1), 0); /* down to 1 */
  struct waiter w;
  start_waiter(&w, wg);
  nap(20 * MS);
  ck_assert_msg(atomic_load(&w.returned) == 0, "wait returned with the counter at 1");
  ck_assert_int_eq(goro_wg_done(wg), 0);
  join_waiter(&w);
  ck_assert_int_eq(goro_wg_add(wg, INT64_MIN + 1), GORO_ERANGE);
  goro_wg_free(wg);
}
END_TEST

START_TEST(test_wg_null_is_einval)
{
  ck_assert_int_eq(goro_wg_add(NULL, 1), GORO_EINVAL);
  ck_assert_int_eq(goro_wg_add(NULL, -1), GORO_EINVAL);
  ck_assert_int_eq(goro_wg_done(NULL), GORO_EINVAL);
  goro_wg_free(NULL);
}
END_TEST

START_TEST(test_wg_go_and_closer_with_null_arguments_are_einval)
{
  atomic_int flag = 0;
  ck_assert_int_eq(goro_wg_go(NULL, set_flag_main, &flag), GORO_EINVAL);
  goro_chan *c = chan_make_checked(0, 0);
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_closer(NULL, c), GORO_EINVAL);
  ck_assert_int_eq(goro_closer(wg, NULL), GORO_EINVAL);
  /* Nothing was started, nothing ran, nothing closed c. */
  ck_assert_uint_eq(goro_num_goroutine(), 0);
  nap(20 * MS);
  ck_assert_int_eq(atomic_load(&flag), 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, NULL), GORO_EAGAIN);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* ---- goro_wg_go -------------------------------------------------------- */

START_TEST(test_wg_go_runs_fn_and_wait_waits_for_it)
{
  goro_wg *wg = wg_make_checked();
  atomic_int flag = 0;
  ck_assert_int_eq(goro_wg_go(wg, slow_flag_main, &flag), 0);
  goro_wg_wait(wg);
  ck_assert_int_eq(atomic_load(&flag), 1);
  goro_wg_free(wg);
}
END_TEST

static void
count_main(void *arg)
{
  atomic_fetch_add((atomic_long *)arg, 1);
}

START_TEST(test_wg_go_many_goroutines_are_all_waited_for)
{
  const long N = (long)scaled(10000);
  goro_wg *wg = wg_make_checked();
  atomic_long count = 0;
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(goro_wg_go(wg, count_main, &count), 0);
  goro_wg_wait(wg);
  ck_assert_int_eq(atomic_load(&count), N);
  goro_wg_free(wg);
}
END_TEST

START_TEST(test_wg_go_combines_with_add_and_done)
{
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, 1), 0); /* the main thread's own share */
  atomic_int flag = 0;
  ck_assert_int_eq(goro_wg_go(wg, slow_flag_main, &flag), 0);
  struct waiter w;
  start_waiter(&w, wg);
  nap(100 * MS); /* fn has returned; the main thread's share is still out */
  ck_assert_int_eq(atomic_load(&flag), 1);
  ck_assert_int_eq(atomic_load(&w.returned), 0);
  ck_assert_int_eq(goro_wg_done(wg), 0);
  join_waiter(&w);
  ck_assert_int_eq(goro_wg_done(wg), GORO_ERANGE); /* wg_go's done was exactly one */
  goro_wg_free(wg);
}
END_TEST

/* ---- Closer ------------------------------------------------------------ */

/* A worker that sends its result on c, then reports done. */
struct result_worker {
  goro_chan *c;
  int64_t v;
  int delay_ms;
  int rc;
  atomic_int *done_count;
  goro_wg *wg;
};

static void
result_worker_main(void *arg)
{
  struct result_worker *w = arg;
  if (w->delay_ms > 0)
    nap(w->delay_ms * MS);
  w->rc = goro_chan_send(w->c, &w->v);
  atomic_fetch_add(w->done_count, 1);
  goro_wg_done(w->wg);
}

START_TEST(test_closer_closes_the_channel_only_after_the_group_reaches_zero)
{
  size_t cap = test_caps[_i];
  enum { N = 8 };
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_wg *wg = wg_make_checked();
  atomic_int done_count = 0;
  struct result_worker w[N];
  ck_assert_int_eq(goro_wg_add(wg, N), 0);
  for (int i = 0; i < N; i++) {
    w[i] = (struct result_worker){
        .c = c, .v = i + 1, .delay_ms = 5 * i, .done_count = &done_count, .wg = wg};
    go_checked(result_worker_main, &w[i]);
  }
  ck_assert_int_eq(goro_closer(wg, c), 0);
  int64_t v, sum = 0;
  int received = 0, rc;
  while ((rc = goro_chan_recv(c, &v)) > 0) {
    sum += v;
    received++;
  }
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(atomic_load(&done_count), N); /* closed after every done */
  ck_assert_int_eq(received, N);
  ck_assert_int_eq(sum, N * (N + 1) / 2);
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(w[i].rc, 0);
  ck_assert_int_eq(goro_chan_close(c), GORO_EPIPE); /* the closer closed it */
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_closer_does_not_close_while_the_counter_is_above_zero)
{
  goro_chan *c = chan_make_checked(sizeof(int64_t), 1);
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, 1), 0);
  ck_assert_int_eq(goro_closer(wg, c), 0);
  nap(50 * MS);
  int64_t v = 1;
  ck_assert_int_eq(goro_chan_tryrecv(c, &v), GORO_EAGAIN); /* open and empty */
  ck_assert_int_eq(goro_chan_trysend(c, &v), 0);
  ck_assert_int_eq(goro_wg_done(wg), 0);
  /* The buffered value survives the close, then the close shows. */
  v = 0;
  ck_assert_int_eq(goro_chan_recv(c, &v), 1);
  ck_assert_int_eq(v, 1);
  ck_assert_int_eq(goro_chan_recv(c, &v), 0);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_closer_with_counter_zero_closes_promptly)
{
  goro_chan *c = chan_make_checked(0, 0);
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_closer(wg, c), 0);
  ck_assert_int_eq(goro_chan_recv(c, NULL), 0);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

struct observer {
  goro_chan *c; /* a reference this goroutine owns */
  int rc;
  goro_wg *wg;
};

static void
observer_main(void *arg)
{
  struct observer *o = arg;
  o->rc = goro_chan_recv(o->c, NULL);
  goro_chan_release(o->c);
  goro_wg_done(o->wg);
}

START_TEST(test_closer_holds_a_reference_to_the_channel)
{
  /* The caller drops its reference right after goro_closer: the closer's
   * own reference keeps c alive until it has closed it (ASan and LSan
   * see a use after free or a leak). */
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, 1), 0);
  goro_chan *c = chan_make_checked(sizeof(int64_t), 4);
  ck_assert_int_eq(goro_closer(wg, c), 0);
  goro_chan_release(c);
  c = NULL;
  nap(20 * MS);
  ck_assert_int_eq(goro_wg_done(wg), 0);
  ck_assert_uint_eq(goro_leakcheck(2 * GORO_SECOND, stderr), 0); /* the closer returned */
  goro_wg_free(wg);

  /* The same with an observer that holds the only other reference. */
  wg = wg_make_checked();
  goro_wg *exited = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, 1), 0);
  c = chan_make_checked(0, 0);
  struct observer o = {.c = goro_chan_retain(c), .wg = exited};
  ck_assert_int_eq(goro_wg_add(exited, 1), 0);
  go_checked(observer_main, &o);
  ck_assert_int_eq(goro_closer(wg, c), 0);
  goro_chan_release(c);
  ck_assert_int_eq(goro_wg_done(wg), 0);
  goro_wg_wait(exited);
  ck_assert_int_eq(o.rc, 0);
  goro_wg_free(exited);
  ck_assert_uint_eq(goro_leakcheck(2 * GORO_SECOND, stderr), 0);
  goro_wg_free(wg);
}
END_TEST

/* makeThumbnails6 (gopl.io/ch8/thumbnail): one goroutine per file sends
 * its size on an unbuffered channel; a closer closes the channel once all
 * are done; the caller ranges over it to sum the sizes. */
struct thumb {
  int64_t file;
  goro_chan *sizes;
  goro_wg *wg;
};

static void
thumb_main(void *arg)
{
  struct thumb *t = arg;
  int64_t size = t->file * 1000 + 17; /* thumbnail.ImageFile(f); os.Stat(thumb).Size() */
  goro_chan_send(t->sizes, &size);
  goro_wg_done(t->wg);
}

static int64_t
make_thumbnails6(goro_chan *filenames, size_t sizes_cap, struct thumb *thumbs)
{
  goro_chan *sizes = chan_make_checked(sizeof(int64_t), sizes_cap);
  goro_wg *wg = wg_make_checked();
  int64_t f;
  size_t i = 0;
  while (goro_chan_recv(filenames, &f) > 0) {
    ck_assert_int_eq(goro_wg_add(wg, 1), 0);
    thumbs[i] = (struct thumb){.file = f, .sizes = sizes, .wg = wg};
    go_checked(thumb_main, &thumbs[i]);
    i++;
  }
  ck_assert_int_eq(goro_closer(wg, sizes), 0);
  int64_t total = 0, size;
  while (goro_chan_recv(sizes, &size) > 0)
    total += size;
  goro_chan_release(sizes);
  goro_wg_free(wg); /* c is closed, so the closer is done with wg */
  return total;
}

START_TEST(test_closer_make_thumbnails6_sums_every_size)
{
  size_t cap = test_caps[_i];
  enum { NFILES = 100 };
  goro_chan *filenames = chan_make_checked(sizeof(int64_t), NFILES);
  for (int64_t f = 0; f < NFILES; f++)
    ck_assert_int_eq(goro_chan_send(filenames, &f), 0);
  ck_assert_int_eq(goro_chan_close(filenames), 0);
  struct thumb *thumbs = calloc(NFILES, sizeof *thumbs);
  ck_assert_ptr_nonnull(thumbs);
  int64_t total = make_thumbnails6(filenames, cap, thumbs);
  ck_assert_int_eq(total, (int64_t)1000 * NFILES * (NFILES - 1) / 2 + 17 * NFILES);
  free(thumbs);
  goro_chan_release(filenames);
}
END_TEST

START_TEST(test_closer_make_thumbnails6_with_no_files_returns_zero)
{
  goro_chan *filenames = chan_make_checked(sizeof(int64_t), 0);
  ck_assert_int_eq(goro_chan_close(filenames), 0);
  struct thumb none[1];
  ck_assert_int_eq(make_thumbnails6(filenames, 0, none), 0);
  goro_chan_release(filenames);
}
END_TEST

/* ---- Suite ------------------------------------------------------------- */

static Suite *
wg_suite(void)
{
  Suite *s = suite_create("wg");
  TCase *tc;

  tc = tcase_make("wg", 20);
  tcase_add_test(tc, test_wg_make_returns_a_group_whose_wait_returns_at_once);
  tcase_add_test(tc, test_wg_erange_message_fits_overflow_and_underflow);
  tcase_add_test(tc, test_wg_add_and_done_return_zero_within_range);
  tcase_add_test(tc, test_wg_wait_blocks_until_the_counter_reaches_zero);
  tcase_add_test(tc, test_wg_wait_returns_after_every_goroutine_called_done);
  tcase_add_test(tc, test_wg_can_be_reused_after_reaching_zero);
  tcase_add_test(tc, test_wg_several_waiters_are_all_released);
  tcase_add_test(tc, test_wg_free_right_after_wait_returns_is_safe);
  suite_add_tcase(s, tc);

  tc = tcase_make("wg_errors", 10);
  tcase_add_test(tc, test_wg_add_below_zero_is_erange_and_leaves_counter_unchanged);
  tcase_add_test(tc, test_wg_add_above_int32_max_is_erange_and_leaves_counter_unchanged);
  tcase_add_test(tc, test_wg_null_is_einval);
  tcase_add_test(tc, test_wg_go_and_closer_with_null_arguments_are_einval);
  suite_add_tcase(s, tc);

  tc = tcase_make("wg_go", 30);
  tcase_add_test(tc, test_wg_go_runs_fn_and_wait_waits_for_it);
  tcase_add_test(tc, test_wg_go_many_goroutines_are_all_waited_for);
  tcase_add_test(tc, test_wg_go_combines_with_add_and_done);
  suite_add_tcase(s, tc);

  tc = tcase_make("closer", 20);
  tcase_add_loop_test(tc, test_closer_closes_the_channel_only_after_the_group_reaches_zero, 0,
                      TEST_NCAPS);
  tcase_add_test(tc, test_closer_does_not_close_while_the_counter_is_above_zero);
  tcase_add_test(tc, test_closer_with_counter_zero_closes_promptly);
  tcase_add_test(tc, test_closer_holds_a_reference_to_the_channel);
  tcase_add_loop_test(tc, test_closer_make_thumbnails6_sums_every_size, 0, TEST_NCAPS);
  tcase_add_test(tc, test_closer_make_thumbnails6_with_no_files_returns_zero);
  suite_add_tcase(s, tc);

  return s;
}

int
main(void)
{
  return run_suite(wg_suite());
}
