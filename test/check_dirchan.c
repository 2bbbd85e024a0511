/* check_dirchan.c - directional channels and checked element sizes
 * (goro_chan_sendonly(3), goro_chan_elemsize(3), GORO_CHAN_TYPE(3)).
 *
 * A view is its channel under another type, so every test here checks
 * that an operation on a view is the same operation on the same channel:
 * values, closing, len/cap and the reference count are shared. The sized
 * operations must refuse a size mismatch with GORO_EINVAL before doing
 * anything, even on a channel that would block. What must not compile is
 * tested by check_perm.sh. Capacities loop over {0, 1, 64}; goroutines
 * are joined through a goro_wg, so a lost wake-up fails by timeout.
 */
#include <goro.h>

#include <stdint.h>
#include <string.h>

#include "testutil.h"

struct point {
  int32_t x, y;
};

GORO_CHAN_TYPE(pointchan, struct point);

/* ---- Pipeline helpers (section 8.4.3) ---------------------------------- */

enum { PIPE_N = 100 };

struct counter_arg {
  goro_sendchan *out; /* a reference of its own, released at the end */
};

static void
counter_main(void *arg)
{
  goro_sendchan *out = ((struct counter_arg *)arg)->out; /* *arg: see squarer_main */
  for (int x = 0; x < PIPE_N; x++)
    if (GORO_SEND_VAR(out, x) != 0)
      BG_FAIL("counter: send %d failed", x);
  if (goro_close(out) != 0)
    BG_FAIL("counter: close failed");
  goro_sendchan_release(out);
}

struct squarer_arg {
  goro_sendchan *out;
  goro_recvchan *in;
};

/* *a lives on the test's stack, which may be gone once out is closed:
 * its fields are read first. */
static void
squarer_main(void *arg)
{
  struct squarer_arg *a = arg;
  goro_sendchan *out = a->out;
  goro_recvchan *in = a->in;
  for (int v; GORO_RECV_VAR(in, v) > 0;) {
    int sq = v * v;
    if (GORO_SEND_VAR(out, sq) != 0)
      BG_FAIL("squarer: send failed");
  }
  if (goro_close(out) != 0)
    BG_FAIL("squarer: close failed");
  goro_sendchan_release(out);
  goro_recvchan_release(in);
}

/* ---- Views -------------------------------------------------------------- */

START_TEST(test_dirchan_view_is_the_channel_pointer_and_null_stays_null)
{
  goro_chan *c = chan_make_checked(sizeof(int), test_caps[_i]);
  ck_assert_ptr_eq((void *)goro_chan_sendonly(c), (void *)c);
  ck_assert_ptr_eq((void *)goro_chan_recvonly(c), (void *)c);
  ck_assert_ptr_null(goro_chan_sendonly(NULL));
  ck_assert_ptr_null(goro_chan_recvonly(NULL));
  goro_chan_release(c);
}
END_TEST

START_TEST(test_dirchan_views_operate_on_the_same_buffered_channel)
{
  goro_chan *c = chan_make_checked(sizeof(int), 4);
  goro_sendchan *s = goro_chan_sendonly(c);
  goro_recvchan *r = goro_chan_recvonly(c);
  int a = 1, b = 2, v = 0;
  ck_assert_int_eq(goro_send(s, &a), 0);
  ck_assert_int_eq(goro_trysend(s, &b), 0);
  ck_assert_uint_eq(goro_chan_len(c), 2);
  ck_assert_uint_eq(goro_sendchan_len(s), 2);
  ck_assert_uint_eq(goro_recvchan_len(r), 2);
  ck_assert_uint_eq(goro_sendchan_cap(s), 4);
  ck_assert_uint_eq(goro_recvchan_cap(r), 4);
  ck_assert_int_eq(goro_chan_recv(c, &v), 1); /* sent through s, received on c */
  ck_assert_int_eq(v, 1);
  ck_assert_int_eq(goro_recv(r, &v), 1);
  ck_assert_int_eq(v, 2);
  ck_assert_int_eq(goro_tryrecv(r, &v), GORO_EAGAIN);
  ck_assert_int_eq(goro_chan_send(c, &a), 0); /* sent on c, received through r */
  ck_assert_int_eq(goro_tryrecv(r, &v), 1);
  ck_assert_int_eq(v, 1);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_dirchan_trysend_on_a_full_view_is_eagain)
{
  goro_chan *c = chan_make_checked(sizeof(int), test_caps[_i]);
  goro_sendchan *s = goro_chan_sendonly(c);
  int v = 7;
  for (size_t i = 0; i < test_caps[_i]; i++)
    ck_assert_int_eq(goro_trysend(s, &v), 0);
  ck_assert_int_eq(goro_trysend(s, &v), GORO_EAGAIN);
  ck_assert_uint_eq(goro_sendchan_len(s), test_caps[_i]);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_dirchan_close_through_send_view_drains_then_reports_closed)
{
  goro_chan *c = chan_make_checked(sizeof(int), test_caps[_i]);
  goro_sendchan *s = goro_chan_sendonly(c);
  goro_recvchan *r = goro_chan_recvonly(c);
  int v = 5;
  if (test_caps[_i] > 0)
    ck_assert_int_eq(goro_send(s, &v), 0);
  ck_assert_int_eq(goro_close(s), 0);
  ck_assert_int_eq(goro_close(s), GORO_EPIPE);
  ck_assert_int_eq(goro_chan_close(c), GORO_EPIPE);
  ck_assert_int_eq(goro_send(s, &v), GORO_EPIPE);
  ck_assert_int_eq(goro_trysend(s, &v), GORO_EPIPE);
  if (test_caps[_i] > 0) {
    v = 0;
    ck_assert_int_eq(goro_recv(r, &v), 1);
    ck_assert_int_eq(v, 5);
  }
  v = 9;
  ck_assert_int_eq(goro_recv(r, &v), 0);
  ck_assert_int_eq(v, 0); /* zero-filled */
  ck_assert_int_eq(goro_tryrecv(r, NULL), 0);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_dirchan_null_views_are_einval_and_zero)
{
  int v = 0;
  ck_assert_int_eq(goro_send(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_trysend(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_close(NULL), GORO_EINVAL);
  ck_assert_int_eq(goro_recv(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_tryrecv(NULL, &v), GORO_EINVAL);
  ck_assert_uint_eq(goro_sendchan_len(NULL), 0);
  ck_assert_uint_eq(goro_sendchan_cap(NULL), 0);
  ck_assert_uint_eq(goro_recvchan_len(NULL), 0);
  ck_assert_uint_eq(goro_recvchan_cap(NULL), 0);
  ck_assert_ptr_null(goro_sendchan_retain(NULL));
  ck_assert_ptr_null(goro_recvchan_retain(NULL));
  goro_sendchan_release(NULL);
  goro_recvchan_release(NULL);
}
END_TEST

/* The views' references are the channel's: the channel outlives the
 * creator's release while a view holds one, and the last release of a
 * view frees it (ASan and LSan check both ways in sanitized builds). */
START_TEST(test_dirchan_view_retain_and_release_share_the_channel_count)
{
  goro_chan *c = chan_make_checked(sizeof(int), 2);
  goro_sendchan *s = goro_sendchan_retain(goro_chan_sendonly(c));
  goro_recvchan *r = goro_recvchan_retain(goro_chan_recvonly(c));
  ck_assert_ptr_eq((void *)s, (void *)c);
  ck_assert_ptr_eq((void *)r, (void *)c);
  goro_chan_release(c); /* s and r keep it */
  int v = 3;
  ck_assert_int_eq(goro_send(s, &v), 0);
  goro_sendchan_release(s); /* r keeps it */
  v = 0;
  ck_assert_int_eq(goro_recv(r, &v), 1);
  ck_assert_int_eq(v, 3);
  ck_assert_uint_eq(goro_recvchan_cap(r), 2);
  goro_recvchan_release(r); /* the last reference */
}
END_TEST

START_TEST(test_dirchan_pipeline_with_views_delivers_every_square_in_order)
{
  size_t cap = test_caps[_i];
  goro_chan *naturals = chan_make_checked(sizeof(int), cap);
  goro_chan *squares = chan_make_checked(sizeof(int), cap);
  struct counter_arg ca = {goro_sendchan_retain(goro_chan_sendonly(naturals))};
  struct squarer_arg sa = {goro_sendchan_retain(goro_chan_sendonly(squares)),
                           goro_recvchan_retain(goro_chan_recvonly(naturals))};
  goro_chan_release(naturals); /* the goroutines hold it now */
  go_checked(counter_main, &ca);
  go_checked(squarer_main, &sa);
  goro_recvchan *in = goro_chan_recvonly(squares);
  int n = 0;
  for (int v; GORO_RECV_VAR(in, v) > 0; n++)
    ck_assert_int_eq(v, n * n);
  ck_assert_int_eq(n, PIPE_N);
  goro_chan_release(squares);
  ck_assert_uint_eq(goro_leakcheck(GORO_SECOND, stderr), 0);
  assert_no_bg_failures();
}
END_TEST

/* ---- Select on views ---------------------------------------------------- */

START_TEST(test_dirchan_select_takes_the_ready_view_case)
{
  goro_chan *a = chan_make_checked(sizeof(int), 1);
  goro_chan *b = chan_make_checked(sizeof(int), 1);
  goro_sendchan *out = goro_chan_sendonly(a);
  goro_recvchan *in = goro_chan_recvonly(b);
  const int one = 1;
  int got = 0;
  /* b is empty: only the send to a can proceed. */
  goro_case cases[] = {GORO_SENDTO_CASE(out, &one), GORO_RECVFROM_CASE(in, &got)};
  ck_assert_int_eq(cases[0].op, GORO_SEND);
  ck_assert_ptr_eq(cases[0].chan, a);
  ck_assert_ptr_eq(cases[0].elem, &one);
  ck_assert_int_eq(cases[1].op, GORO_RECV);
  ck_assert_ptr_eq(cases[1].chan, b);
  ck_assert_int_eq(goro_select(cases, 2, 0), 0);
  ck_assert(cases[0].ok);
  ck_assert_uint_eq(goro_chan_len(a), 1);
  /* a is full, b has a value: only the receive can proceed. */
  int two = 2;
  ck_assert_int_eq(goro_chan_send(b, &two), 0);
  ck_assert_int_eq(goro_select(cases, 2, GORO_SECOND), 1);
  ck_assert(cases[1].ok);
  ck_assert_int_eq(got, 2);
  /* Closed through the view, the receive case is ready with ok false. */
  ck_assert_int_eq(goro_close(goro_chan_sendonly(b)), 0);
  goro_case closed[] = {GORO_RECVFROM_CASE(in, NULL)};
  ck_assert_int_eq(goro_select(closed, 1, 0), 0);
  ck_assert(!closed[0].ok);
  goro_chan_release(a);
  goro_chan_release(b);
}
END_TEST

/* A NULL view in a case is Go's nil channel: never ready. */
START_TEST(test_dirchan_select_null_view_case_is_never_ready)
{
  int v = 1;
  goro_case cases[] = {GORO_SENDTO_CASE(NULL, &v), GORO_RECVFROM_CASE(NULL, &v),
                       GORO_SENDTO_CASE_VAR(NULL, v), GORO_RECVFROM_CASE_VAR(NULL, v)};
  ck_assert_int_eq(goro_select(cases, 4, 0), GORO_EAGAIN);
  ck_assert_int_eq(goro_select(cases, 4, 10 * MS), GORO_ETIMEDOUT);
}
END_TEST

/* ---- Checked element sizes ---------------------------------------------- */

START_TEST(test_dirchan_elemsize_reports_the_made_size)
{
  goro_chan *c = chan_make_checked(sizeof(struct point), test_caps[_i]);
  goro_chan *e = chan_make_checked(0, test_caps[_i]);
  ck_assert_uint_eq(goro_chan_elemsize(c), sizeof(struct point));
  ck_assert_uint_eq(goro_sendchan_elemsize(goro_chan_sendonly(c)), sizeof(struct point));
  ck_assert_uint_eq(goro_recvchan_elemsize(goro_chan_recvonly(c)), sizeof(struct point));
  ck_assert_uint_eq(goro_chan_elemsize(e), 0);
  ck_assert_uint_eq(goro_chan_elemsize(NULL), 0);
  ck_assert_uint_eq(goro_sendchan_elemsize(NULL), 0);
  ck_assert_uint_eq(goro_recvchan_elemsize(NULL), 0);
  goro_chan_release(c);
  goro_chan_release(e);
}
END_TEST

/* A mismatch is refused at once: nothing is sent or received, nothing
 * blocks (an unbuffered channel with no partner would), elem is left as
 * it was, and the channel is unchanged. */
START_TEST(test_dirchan_sized_mismatch_is_einval_and_does_nothing)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int32_t), cap);
  goro_sendchan *s = goro_chan_sendonly(c);
  goro_recvchan *r = goro_chan_recvonly(c);
  int64_t wide = 0x0102030405060708;
  const int64_t before = wide;
  int16_t narrow = 0x1234;
  ck_assert_int_eq(GORO_CHAN_SEND_VAR(c, wide), GORO_EINVAL);
  ck_assert_int_eq(GORO_CHAN_TRYSEND_VAR(c, narrow), GORO_EINVAL);
  ck_assert_int_eq(GORO_SEND_VAR(s, wide), GORO_EINVAL);
  ck_assert_int_eq(GORO_TRYSEND_VAR(s, narrow), GORO_EINVAL);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  int32_t v = 42;
  if (cap > 0)
    ck_assert_int_eq(GORO_CHAN_SEND_VAR(c, v), 0);
  ck_assert_int_eq(GORO_CHAN_RECV_VAR(c, wide), GORO_EINVAL);
  ck_assert_int_eq(GORO_CHAN_TRYRECV_VAR(c, wide), GORO_EINVAL);
  ck_assert_int_eq(GORO_RECV_VAR(r, wide), GORO_EINVAL);
  ck_assert_int_eq(GORO_TRYRECV_VAR(r, narrow), GORO_EINVAL);
  ck_assert(wide == before);
  ck_assert_int_eq(narrow, 0x1234);
  ck_assert_int_eq(goro_chan_send_sized(c, &v, sizeof v + 1), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_recv_sized(c, NULL, 0), GORO_EINVAL);
  ck_assert_uint_eq(goro_chan_len(c), cap > 0 ? 1 : 0);
  if (cap > 0) {
    v = 0;
    ck_assert_int_eq(GORO_TRYRECV_VAR(r, v), 1); /* the value is still there */
    ck_assert_int_eq(v, 42);
  }
  /* On a closed channel too, the size is checked first. */
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_int_eq(GORO_RECV_VAR(r, wide), GORO_EINVAL);
  ck_assert(wide == before);
  ck_assert_int_eq(GORO_RECV_VAR(r, v), 0);
  /* A NULL channel has no size to match: GORO_EINVAL, as unsized. */
  ck_assert_int_eq(GORO_CHAN_SEND_VAR(((goro_chan *)NULL), v), GORO_EINVAL);
  ck_assert_int_eq(GORO_RECV_VAR(((goro_recvchan *)NULL), v), GORO_EINVAL);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_dirchan_sized_match_moves_structs_and_arrays)
{
  goro_chan *pc = chan_make_checked(sizeof(struct point), 2);
  goro_chan *ac = chan_make_checked(sizeof(int[3]), 1);
  struct point p = {3, -4}, q = {0, 0};
  ck_assert_int_eq(GORO_CHAN_SEND_VAR(pc, p), 0);
  ck_assert_int_eq(GORO_CHAN_TRYSEND_VAR(pc, p), 0);
  ck_assert_int_eq(GORO_CHAN_RECV_VAR(pc, q), 1);
  ck_assert(q.x == 3 && q.y == -4);
  q.x = 0;
  ck_assert_int_eq(GORO_CHAN_TRYRECV_VAR(pc, q), 1);
  ck_assert(q.x == 3 && q.y == -4);
  int a[3] = {1, 2, 3}, b[3] = {0, 0, 0};
  ck_assert_int_eq(GORO_SEND_VAR(goro_chan_sendonly(ac), a), 0);
  ck_assert_int_eq(GORO_RECV_VAR(goro_chan_recvonly(ac), b), 1);
  ck_assert(memcmp(a, b, sizeof a) == 0);
  goro_chan_release(pc);
  goro_chan_release(ac);
}
END_TEST

/* A _VAR case of the wrong size makes the whole select GORO_EINVAL, with
 * nothing sent or received, even when another case is ready. */
START_TEST(test_dirchan_select_var_case_mismatch_is_einval_and_does_nothing)
{
  goro_chan *c = chan_make_checked(sizeof(int32_t), 1);
  goro_chan *d = chan_make_checked(sizeof(int32_t), 1);
  int32_t v = 5, got = 0;
  int64_t wide = 77;
  ck_assert_int_eq(GORO_CHAN_SEND_VAR(c, v), 0);
  goro_case bad_recv[] = {GORO_RECV_CASE_VAR(c, wide), GORO_SEND_CASE_VAR(d, v)};
  ck_assert_int_eq(goro_select(bad_recv, 2, GORO_SECOND), GORO_EINVAL);
  goro_case bad_send[] = {GORO_RECV_CASE_VAR(c, got), GORO_SEND_CASE_VAR(d, wide)};
  ck_assert_int_eq(goro_select(bad_send, 2, GORO_SECOND), GORO_EINVAL);
  goro_case bad_view[] = {GORO_RECVFROM_CASE_VAR(goro_chan_recvonly(c), got),
                          GORO_SENDTO_CASE_VAR(goro_chan_sendonly(d), wide)};
  ck_assert_int_eq(goro_select(bad_view, 2, 0), GORO_EINVAL);
  ck_assert(wide == 77);
  ck_assert_int_eq(got, 0);
  ck_assert_uint_eq(goro_chan_len(c), 1);
  ck_assert_uint_eq(goro_chan_len(d), 0);
  /* The same cases with the right sizes work. */
  goro_case good[] = {GORO_RECVFROM_CASE_VAR(goro_chan_recvonly(c), got),
                      GORO_SENDTO_CASE_VAR(goro_chan_sendonly(d), v)};
  int first = goro_select(good, 2, GORO_SECOND);
  int second = goro_select(good, 2, GORO_SECOND);
  ck_assert(first >= 0 && second >= 0 && first != second);
  ck_assert_int_eq(got, 5);
  ck_assert_uint_eq(goro_chan_len(d), 1);
  goro_chan_release(c);
  goro_chan_release(d);
}
END_TEST

/* ---- Typed wrappers ----------------------------------------------------- */

struct typed_arg {
  pointchan_tx *out;
  int n;
};

static void
typed_sender_main(void *arg)
{
  struct typed_arg *a = arg;
  for (int i = 0; i < a->n; i++) {
    struct point p = {i, -i};
    if (pointchan_tx_send(a->out, p) != 0)
      BG_FAIL("typed sender: send %d failed", i);
  }
  pointchan_tx_close(a->out);
  pointchan_tx_release(a->out);
}

START_TEST(test_dirchan_typed_channel_round_trips_through_a_goroutine)
{
  size_t cap = test_caps[_i];
  pointchan *c = pointchan_make(cap);
  ck_assert_ptr_nonnull(c);
  ck_assert_uint_eq(goro_chan_elemsize(pointchan_chan(c)), sizeof(struct point));
  ck_assert_uint_eq(pointchan_cap(c), cap);
  struct typed_arg a = {pointchan_tx_retain(pointchan_sendonly(c)), 50};
  go_checked(typed_sender_main, &a);
  pointchan_rx *in = pointchan_recvonly(c);
  ck_assert_uint_eq(pointchan_rx_cap(in), cap);
  int n = 0;
  for (struct point p; pointchan_rx_recv(in, &p) > 0; n++)
    ck_assert(p.x == n && p.y == -n);
  ck_assert_int_eq(n, 50);
  ck_assert_uint_eq(pointchan_len(c), 0);
  pointchan_release(c);
  ck_assert_uint_eq(goro_leakcheck(GORO_SECOND, stderr), 0);
  assert_no_bg_failures();
}
END_TEST

START_TEST(test_dirchan_typed_try_ops_cases_and_from)
{
  pointchan *c = pointchan_make(1);
  ck_assert_ptr_nonnull(c);
  struct point p = {1, 2}, q = {0, 0};
  ck_assert_int_eq(pointchan_tryrecv(c, &q), GORO_EAGAIN);
  ck_assert_int_eq(pointchan_trysend(c, p), 0);
  ck_assert_int_eq(pointchan_tx_trysend(pointchan_sendonly(c), p), GORO_EAGAIN);
  ck_assert_uint_eq(pointchan_tx_len(pointchan_sendonly(c)), 1);
  ck_assert_uint_eq(pointchan_rx_len(pointchan_recvonly(c)), 1);
  ck_assert_int_eq(pointchan_rx_tryrecv(pointchan_recvonly(c), &q), 1);
  ck_assert(q.x == 1 && q.y == 2);
  /* Typed cases in a select. */
  struct point r = {5, 6};
  goro_case cases[] = {pointchan_recv_case(c, &q),
                       pointchan_tx_send_case(pointchan_sendonly(c), &r)};
  ck_assert_int_eq(goro_select(cases, 2, 0), 1);
  goro_case back[] = {pointchan_rx_recv_case(pointchan_recvonly(c), &q),
                      pointchan_send_case(c, &r)};
  ck_assert_int_eq(goro_select(back, 2, 0), 0);
  ck_assert(q.x == 5 && q.y == 6);
  /* name_from checks the element size of an untyped channel. */
  goro_chan *u = chan_make_checked(sizeof(struct point), 0);
  goro_chan *w = chan_make_checked(sizeof(int), 0);
  ck_assert_ptr_eq((void *)pointchan_from(u), (void *)u);
  ck_assert_ptr_null(pointchan_from(w));
  ck_assert_ptr_null(pointchan_from(NULL));
  /* The views' retain/release are the channel's. */
  pointchan_rx *rx = pointchan_rx_retain(pointchan_recvonly(c));
  ck_assert_ptr_eq((void *)pointchan_rx_view(rx), (void *)c);
  ck_assert_ptr_eq((void *)pointchan_tx_view(pointchan_sendonly(c)), (void *)c);
  ck_assert_ptr_eq((void *)pointchan_retain(c), (void *)c);
  pointchan_release(c);
  pointchan_release(c);
  ck_assert_int_eq(pointchan_rx_tryrecv(rx, &q), GORO_EAGAIN);
  pointchan_rx_release(rx);
  goro_chan_release(u);
  goro_chan_release(w);
}
END_TEST

static Suite *
dirchan_suite(void)
{
  Suite *s = suite_create("dirchan");
  TCase *tc = tcase_make("views", 10);
  tcase_add_loop_test(tc, test_dirchan_view_is_the_channel_pointer_and_null_stays_null, 0,
                      TEST_NCAPS);
  tcase_add_test(tc, test_dirchan_views_operate_on_the_same_buffered_channel);
  tcase_add_loop_test(tc, test_dirchan_trysend_on_a_full_view_is_eagain, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_dirchan_close_through_send_view_drains_then_reports_closed, 0,
                      TEST_NCAPS);
  tcase_add_test(tc, test_dirchan_null_views_are_einval_and_zero);
  tcase_add_test(tc, test_dirchan_view_retain_and_release_share_the_channel_count);
  tcase_add_loop_test(tc, test_dirchan_pipeline_with_views_delivers_every_square_in_order, 0,
                      TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("select", 10);
  tcase_add_test(tc, test_dirchan_select_takes_the_ready_view_case);
  tcase_add_test(tc, test_dirchan_select_null_view_case_is_never_ready);
  tcase_add_test(tc, test_dirchan_select_var_case_mismatch_is_einval_and_does_nothing);
  suite_add_tcase(s, tc);

  tc = tcase_make("sized", 10);
  tcase_add_loop_test(tc, test_dirchan_elemsize_reports_the_made_size, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_dirchan_sized_mismatch_is_einval_and_does_nothing, 0, TEST_NCAPS);
  tcase_add_test(tc, test_dirchan_sized_match_moves_structs_and_arrays);
  suite_add_tcase(s, tc);

  tc = tcase_make("typed", 10);
  tcase_add_loop_test(tc, test_dirchan_typed_channel_round_trips_through_a_goroutine, 0,
                      TEST_NCAPS);
  tcase_add_test(tc, test_dirchan_typed_try_ops_cases_and_from);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return run_suite(dirchan_suite());
}
