/* check_group.c - errgroup: wait returns the first error, which cancels
 * the group's context; wait cancels it too; functions may be added after
 * wait; never more than the limit run at once; go blocks at the limit and
 * trygo refuses. The cases follow golang.org/x/sync's errgroup_test.go
 * (TestZeroGroup, TestWithContext, TestGoLimit, TestTryGo). */
#include "testutil.h"

#include <goro.h>
#include <stdatomic.h>
#include <stdint.h>

static goro_group *
group_checked(goro_ctx *parent)
{
  goro_group *g = goro_group_make(parent);
  ck_assert_ptr_nonnull(g);
  return g;
}

static int
return_arg(goro_ctx *ctx, void *arg)
{
  (void)ctx;
  return (int)(intptr_t)arg;
}

/* TestZeroGroup: a wait after each go returns the first error so far:
 * functions may be added after a wait, and the first error is kept. */
START_TEST(test_zero_group_first_error_across_waits)
{
  static const int cases[][3] = {
      {0, 0, 0},          {GORO_EPIPE, 0, 0},           {GORO_EPIPE, GORO_ENOMEM, 0},
      {0, GORO_EPIPE, 0}, {0, GORO_EPIPE, GORO_ENOMEM},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    goro_group *g = group_checked(NULL);
    int first = 0;
    for (int i = 0; i < 3; i++) {
      int err = cases[k][i];
      ck_assert_int_eq(goro_group_go(g, return_arg, (void *)(intptr_t)err), 0);
      if (first == 0)
        first = err;
      ck_assert_int_eq(goro_group_wait(g), first);
    }
    goro_group_free(g);
  }
}
END_TEST

/* TestWithContext: the context is cancelled once wait returns, whatever
 * the result; the error is the one returned. */
START_TEST(test_with_context_wait_cancels_the_ctx)
{
  static const int cases[][2] = {{0, 0}, {GORO_EPIPE, 0}, {GORO_EPIPE, GORO_EPIPE}};
  for (size_t k = 0; k < 3; k++) {
    goro_ctx *parent = goro_ctx_with_cancel(goro_ctx_background());
    ck_assert_ptr_nonnull(parent);
    goro_group *g = group_checked(parent);
    goro_ctx *ctx = goro_group_ctx(g);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_ptr_ne(ctx, parent);
    ck_assert_int_eq(goro_ctx_err(ctx), 0);
    for (int i = 0; i < 2; i++)
      ck_assert_int_eq(goro_group_go(g, return_arg, (void *)(intptr_t)cases[k][i]), 0);
    ck_assert_int_eq(goro_group_wait(g), cases[k][0]);
    ck_assert_int_eq(goro_chan_tryrecv(goro_ctx_done(ctx), NULL), 0);
    ck_assert_int_eq(goro_ctx_err(ctx), GORO_ECANCELED);
    ck_assert_int_eq(goro_ctx_err(parent), 0); /* the child's, not the parent's */
    goro_group_free(g);
    goro_ctx_release(parent);
  }
}
END_TEST

struct blocker {
  goro_ctx *seen;
  _Atomic int woke;
};

static int
block_until_cancelled(goro_ctx *ctx, void *arg)
{
  struct blocker *b = arg;
  b->seen = ctx;
  goro_case cs = GORO_RECV_CASE(goro_ctx_done(ctx), NULL);
  if (goro_select(&cs, 1, 10 * GORO_SECOND) != 0)
    return GORO_ETIMEDOUT;
  atomic_fetch_add(&b->woke, 1);
  return goro_ctx_err(ctx); /* GORO_ECANCELED: not the first error */
}

static int
fail_later(goro_ctx *ctx, void *arg)
{
  (void)ctx;
  (void)arg;
  goro_sleep(20 * MS);
  return GORO_EPIPE;
}

/* The first error cancels the context the others run under: they stop,
 * and wait returns that error, not theirs. fn gets goro_group_ctx(g). */
START_TEST(test_first_error_cancels_the_others)
{
  goro_group *g = group_checked(goro_ctx_background());
  struct blocker b[4] = {0};
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq(goro_group_go(g, block_until_cancelled, &b[i]), 0);
  ck_assert_int_eq(goro_group_go(g, fail_later, NULL), 0);
  ck_assert_int_eq(goro_group_wait(g), GORO_EPIPE);
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(atomic_load(&b[i].woke), 1);
    ck_assert_ptr_eq(b[i].seen, goro_group_ctx(g));
  }
  /* After wait: a function added now runs with the cancelled context, and
   * the first error stays. */
  struct blocker late = {0};
  ck_assert_int_eq(goro_group_go(g, block_until_cancelled, &late), 0);
  ck_assert_int_eq(goro_group_wait(g), GORO_EPIPE);
  ck_assert_int_eq(atomic_load(&late.woke), 1);
  goro_group_free(g);
}
END_TEST

/* A parent's cancel reaches the group's functions. */
START_TEST(test_parent_cancel_reaches_the_group)
{
  goro_ctx *parent = goro_ctx_with_timeout(goro_ctx_background(), 20 * MS);
  ck_assert_ptr_nonnull(parent);
  goro_group *g = group_checked(parent);
  struct blocker b = {0};
  ck_assert_int_eq(goro_group_go(g, block_until_cancelled, &b), 0);
  ck_assert_int_eq(goro_group_wait(g), GORO_ETIMEDOUT); /* its ctx's err, returned */
  ck_assert_int_eq(atomic_load(&b.woke), 1);
  goro_group_free(g);
  goro_ctx_release(parent);
}
END_TEST

struct limited {
  _Atomic int active, max, ran;
  int limit;
};

static int
count_active(goro_ctx *ctx, void *arg)
{
  (void)ctx;
  struct limited *l = arg;
  int n = atomic_fetch_add(&l->active, 1) + 1;
  int m = atomic_load(&l->max);
  while (n > m && !atomic_compare_exchange_weak(&l->max, &m, n))
    ;
  if (n > l->limit)
    BG_FAIL("%d running, limit %d", n, l->limit);
  nap(200 * GORO_MICROSECOND);
  atomic_fetch_sub(&l->active, 1);
  atomic_fetch_add(&l->ran, 1);
  return 0;
}

/* TestGoLimit: never more than the limit running at once (counted with
 * atomics in the functions), and the limit is reached. */
START_TEST(test_go_limit_is_never_exceeded)
{
  static const int limits[] = {1, 3, 8};
  for (int k = 0; k < 3; k++) {
    goro_group *g = group_checked(NULL);
    struct limited l = {.limit = limits[k]};
    ck_assert_int_eq(goro_group_set_limit(g, l.limit), 0);
    int n = (int)scaled(100);
    for (int i = 0; i < n; i++)
      ck_assert_int_eq(goro_group_go(g, count_active, &l), 0);
    ck_assert_int_eq(goro_group_wait(g), 0);
    assert_no_bg_failures();
    ck_assert_int_eq(atomic_load(&l.ran), n);
    ck_assert_int_le(atomic_load(&l.max), l.limit);
    ck_assert_int_ge(atomic_load(&l.max), 1);
    goro_group_free(g);
  }
}
END_TEST

struct gate {
  goro_chan *open; /* closed to let the functions return */
  _Atomic int started;
};

static int
wait_for_gate(goro_ctx *ctx, void *arg)
{
  (void)ctx;
  struct gate *gt = arg;
  atomic_fetch_add(&gt->started, 1);
  goro_case cs = GORO_RECV_CASE(gt->open, NULL);
  if (goro_select(&cs, 1, 10 * GORO_SECOND) != 0)
    return GORO_ETIMEDOUT;
  return 0;
}

/* TestTryGo: up to the limit trygo starts functions, then refuses with
 * GORO_EAGAIN (nothing started); once they finish it starts again; with
 * no limit it never refuses. set_limit is refused while any runs. */
START_TEST(test_trygo_refuses_at_the_limit)
{
  goro_group *g = group_checked(NULL);
  struct gate gt = {chan_make_checked(0, 0), 0};
  ck_assert_int_eq(goro_group_set_limit(g, 3), 0);
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(goro_group_trygo(g, wait_for_gate, &gt), 0);
  ck_assert_int_eq(goro_group_trygo(g, wait_for_gate, &gt), GORO_EAGAIN);
  ck_assert_int_eq(goro_group_trygo(g, wait_for_gate, &gt), GORO_EAGAIN);
  ck_assert_int_eq(goro_group_set_limit(g, 10), GORO_EINVAL);
  ck_assert_int_eq(goro_group_set_limit(g, -1), GORO_EINVAL);
  goro_chan_close(gt.open);
  ck_assert_int_eq(goro_group_wait(g), 0);
  ck_assert_int_eq(atomic_load(&gt.started), 3);

  /* Free slots again. */
  ck_assert_int_eq(goro_group_trygo(g, return_arg, (void *)0), 0);
  ck_assert_int_eq(goro_group_wait(g), 0);

  /* No limit: never refused. */
  ck_assert_int_eq(goro_group_set_limit(g, -1), 0);
  struct gate gt2 = {chan_make_checked(0, 0), 0};
  for (int i = 0; i < 20; i++)
    ck_assert_int_eq(goro_group_trygo(g, wait_for_gate, &gt2), 0);
  goro_chan_close(gt2.open);
  ck_assert_int_eq(goro_group_wait(g), 0);
  ck_assert_int_eq(atomic_load(&gt2.started), 20);

  /* Limit 0: nothing may run (Go: TryGo is false). */
  ck_assert_int_eq(goro_group_set_limit(g, 0), 0);
  ck_assert_int_eq(goro_group_trygo(g, return_arg, (void *)0), GORO_EAGAIN);
  ck_assert_int_eq(goro_group_wait(g), 0);
  goro_group_free(g);
  goro_chan_release(gt.open);
  goro_chan_release(gt2.open);
  ck_assert_int_eq(goro_group_go(NULL, return_arg, NULL), GORO_EINVAL);
  ck_assert_int_eq(goro_group_wait(NULL), GORO_EINVAL);
  goro_group_free(NULL);
}
END_TEST

struct adder {
  goro_group *g;
  struct gate *gt;
  _Atomic bool returned;
};

static void
go_one_more(void *arg)
{
  struct adder *a = arg;
  if (goro_group_go(a->g, wait_for_gate, a->gt) != 0)
    BG_FAIL("goro_group_go failed");
  atomic_store(&a->returned, true);
}

/* goro_group_go blocks while the limit is reached, and returns once a
 * running function does. */
START_TEST(test_go_blocks_at_the_limit)
{
  goro_group *g = group_checked(NULL);
  ck_assert_int_eq(goro_group_set_limit(g, 1), 0);
  struct gate first = {chan_make_checked(0, 0), 0};
  struct gate second = {chan_make_checked(0, 0), 0};
  ck_assert_int_eq(goro_group_go(g, wait_for_gate, &first), 0);
  struct adder a = {g, &second, false};
  goro_wg *wg = wg_make_checked();
  wg_go_checked(wg, go_one_more, &a);
  nap(50 * MS);
  ck_assert_msg(!atomic_load(&a.returned), "goro_group_go returned at the limit");
  ck_assert_int_eq(atomic_load(&second.started), 0);
  goro_chan_close(first.open);
  goro_wg_wait(wg);
  assert_no_bg_failures();
  ck_assert(atomic_load(&a.returned));
  goro_chan_close(second.open);
  ck_assert_int_eq(goro_group_wait(g), 0);
  ck_assert_int_eq(atomic_load(&second.started), 1);
  goro_wg_free(wg);
  goro_group_free(g);
  goro_chan_release(first.open);
  goro_chan_release(second.open);
}
END_TEST

static Suite *
group_suite(void)
{
  Suite *s = suite_create("group");
  TCase *tc = tcase_make("group", 30);
  tcase_add_test(tc, test_zero_group_first_error_across_waits);
  tcase_add_test(tc, test_with_context_wait_cancels_the_ctx);
  tcase_add_test(tc, test_first_error_cancels_the_others);
  tcase_add_test(tc, test_parent_cancel_reaches_the_group);
  tcase_add_test(tc, test_go_limit_is_never_exceeded);
  tcase_add_test(tc, test_trygo_refuses_at_the_limit);
  tcase_add_test(tc, test_go_blocks_at_the_limit);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return run_suite(group_suite());
}
