/* check_chan.c - channels: make, send, recv, trysend, tryrecv, close, len,
 * cap, retain and release (goro_chan_make(3), goro_chan_send(3),
 * goro_chan_recv(3), goro_chan_close(3) and the pages they name).
 *
 * Tests where capacity matters loop over test_caps {0, 1, 64}. Goroutines
 * are joined through a goro_wg: a lost wake-up shows as the test case's
 * timeout (or the library's deadlock exit), never as a hang.
 * GORO_TEST_SCALE (a factor, default 1) shrinks the heavy tests, for slow
 * sanitizer builds and valgrind.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, open_memstream */

#include <goro.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#include <sched.h>

/* ---- Helpers ----------------------------------------------------------- */

/* A goroutine that sends n int64_t values base, base+1, ... on c and stops
 * at the first failure. */
struct seq_sender {
  goro_chan *c;
  int64_t base;
  int64_t n;
  int rc;            /* result of the last send */
  atomic_llong sent; /* sends that returned 0 */
};

static void
seq_sender_main(void *arg)
{
  struct seq_sender *s = arg;
  s->rc = 0;
  for (int64_t i = 0; i < s->n; i++) {
    int64_t v = s->base + i;
    s->rc = goro_chan_send(s->c, &v);
    if (s->rc != 0)
      break;
    atomic_fetch_add(&s->sent, 1);
  }
}

/* A goroutine that receives one int64_t from c. */
struct receiver {
  goro_chan *c;
  int rc;
  int64_t v;
  atomic_int returned;
};

static void
receiver_main(void *arg)
{
  struct receiver *r = arg;
  r->v = -1;
  r->rc = goro_chan_recv(r->c, &r->v);
  atomic_store(&r->returned, 1);
}

/* ---- Make, cap, len ---------------------------------------------------- */

START_TEST(test_chan_make_has_requested_cap_and_is_empty)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  ck_assert_uint_eq(goro_chan_cap(c), cap);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_make_overflowing_size_returns_null_einval)
{
  static const struct {
    size_t elemsize, cap;
  } bad[] = {
      {SIZE_MAX / 2 + 1, 2},
      {2, SIZE_MAX / 2 + 1},
      {SIZE_MAX, SIZE_MAX},
      {3, SIZE_MAX / 3 + 1},
      {(size_t)1 << (sizeof(size_t) * 4), (size_t)1 << (sizeof(size_t) * 4)},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    errno = 0;
    goro_chan *c = goro_chan_make(bad[k].elemsize, bad[k].cap);
    ck_assert_msg(c == NULL, "make(%zu, %zu) did not fail", bad[k].elemsize, bad[k].cap);
    ck_assert_int_eq(errno, EINVAL);
  }
}
END_TEST

START_TEST(test_chan_make_element_of_64k_or_more_returns_null_einval)
{
  /* Go's bound: an element under 64 KiB, decided before allocating, for
   * any capacity (SIZE_MAX used to reach malloc). */
  static const size_t bad[] = {65536, 1 << 20, SIZE_MAX / 2, SIZE_MAX};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    for (size_t cap = 0; cap < 2; cap++) {
      errno = 0;
      goro_chan *c = goro_chan_make(bad[k], cap);
      ck_assert_msg(c == NULL, "make(%zu, %zu) did not fail", bad[k], cap);
      ck_assert_int_eq(errno, EINVAL);
    }
  }
  goro_chan *c = goro_chan_make(GORO_CHAN_MAX_ELEMSIZE, 2);
  ck_assert_ptr_nonnull(c);
  ck_assert_uint_eq(goro_chan_cap(c), 2);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_make_buffer_above_max_alloc_returns_null_enomem)
{
  /* Decided before anything is allocated, so no sanitizer's allocator
   * ever sees the request. */
  size_t cap = GORO_CHAN_MAX_ALLOC / GORO_CHAN_MAX_ELEMSIZE + 1;
  errno = 0;
  goro_chan *c = goro_chan_make(GORO_CHAN_MAX_ELEMSIZE, cap);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(errno, ENOMEM);
  errno = 0;
  c = goro_chan_make(8, GORO_CHAN_MAX_ALLOC / 8);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(test_chan_make_out_of_memory_returns_null_enomem)
{
  /* Under the bound but more than the machine has. The sanitizers'
   * allocators abort on such a request by default. */
  if (UNDER_SANITIZER || sizeof(size_t) < 8)
    return;
  errno = 0;
  goro_chan *c = goro_chan_make(1024, GORO_CHAN_MAX_ALLOC / 1024 - 1024);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(errno, ENOMEM);
}
END_TEST

START_TEST(test_chan_zero_size_buffered_costs_nothing_per_slot)
{
  /* chan struct{} of cap 2^27 used to take 1 GiB (a stamp a slot); now
   * it is two counters, at any capacity. */
  size_t big = sizeof(size_t) >= 8 ? (size_t)1 << 60 : (size_t)1 << 29;
  goro_chan *c = goro_chan_make(0, big);
  ck_assert_ptr_nonnull(c);
  ck_assert_uint_eq(goro_chan_cap(c), big);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq(goro_chan_trysend(c, NULL), 0);
  ck_assert_uint_eq(goro_chan_len(c), 1000);
  for (int i = 0; i < 1000; i++)
    ck_assert_int_eq(goro_chan_tryrecv(c, NULL), 1);
  ck_assert_int_eq(goro_chan_tryrecv(c, NULL), GORO_EAGAIN);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_zero_size_buffered_fills_drains_and_closes)
{
  /* The counting semaphore of section 8.6, and close on a counter ring:
   * full at cap, values still receivable after close, then closed. */
  goro_chan *c = goro_chan_make(0, 3);
  ck_assert_ptr_nonnull(c);
  for (int round = 0; round < 5; round++) { /* the counters go round */
    for (int i = 0; i < 3; i++)
      ck_assert_int_eq(goro_chan_send(c, NULL), 0);
    ck_assert_int_eq(goro_chan_trysend(c, NULL), GORO_EAGAIN);
    ck_assert_uint_eq(goro_chan_len(c), 3);
    goro_case full[] = {GORO_SEND_CASE(c, NULL)};
    ck_assert_int_eq(goro_select(full, 1, 0), GORO_EAGAIN);
    for (int i = 0; i < 3; i++)
      ck_assert_int_eq(goro_chan_recv(c, NULL), 1);
    ck_assert_int_eq(goro_chan_tryrecv(c, NULL), GORO_EAGAIN);
  }
  ck_assert_int_eq(goro_chan_send(c, NULL), 0);
  ck_assert_int_eq(goro_chan_send(c, NULL), 0);
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_int_eq(goro_chan_trysend(c, NULL), GORO_EPIPE);
  ck_assert_uint_eq(goro_chan_len(c), 2);
  ck_assert_int_eq(goro_chan_recv(c, NULL), 1);
  goro_case drain[] = {GORO_RECV_CASE(c, NULL)};
  ck_assert_int_eq(goro_select(drain, 1, 0), 0);
  ck_assert(drain[0].ok);
  ck_assert_int_eq(goro_chan_recv(c, NULL), 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, NULL), 0);
  goro_chan_release(c);
}
END_TEST

/* Go's memory model: a close happens before a receive that returns
 * because the channel is closed. The payload is a plain int, so a missing
 * acquire on the receive that sees the close (the lock-free ring's path)
 * is a data race ThreadSanitizer reports. */
struct close_sync {
  goro_chan *done;
  int payload;
};

static void
write_then_close(void *arg)
{
  struct close_sync *cs = arg;
  cs->payload = 42;
  goro_chan_close(cs->done);
}

START_TEST(test_chan_close_happens_before_the_receive_that_sees_it)
{
  for (int round = 0; round < 200; round++) {
    struct close_sync cs = {.done = chan_make_checked(0, test_caps[_i]), .payload = 0};
    goro_wg *wg = wg_make_checked();
    wg_go_checked(wg, write_then_close, &cs);
    int rc;
    while ((rc = goro_chan_tryrecv(cs.done, NULL)) == GORO_EAGAIN)
      sched_yield();
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(cs.payload, 42);
    goro_wg_wait(wg);
    goro_wg_free(wg);
    goro_chan_release(cs.done);
  }
}
END_TEST

/* The counting semaphore of section 8.6 on a chan struct{}: a send takes
 * a token, a receive gives it back. Go's memory model orders the k-th
 * receive before the (k + cap)-th send completes, so the plain counter
 * below is never raced on (ThreadSanitizer checks it). */
struct sema_use {
  goro_chan *tokens;
  long counter; /* plain: guarded by the semaphore of one token */
  _Atomic int inside;
};

static void
sema_worker(void *arg)
{
  struct sema_use *u = arg;
  for (int i = 0; i < 2000; i++) {
    ck_assert_int_eq(goro_chan_send(u->tokens, NULL), 0);
    ck_assert_int_eq(atomic_fetch_add(&u->inside, 1), 0);
    u->counter++;
    atomic_fetch_sub(&u->inside, 1);
    ck_assert_int_eq(goro_chan_recv(u->tokens, NULL), 1);
  }
}

START_TEST(test_chan_zero_size_semaphore_admits_one_at_a_time)
{
  struct sema_use u = {.tokens = chan_make_checked(0, 1), .counter = 0};
  goro_wg *wg = wg_make_checked();
  for (int k = 0; k < 4; k++)
    wg_go_checked(wg, sema_worker, &u);
  goro_wg_wait(wg);
  ck_assert_int_eq(u.counter, 4 * 2000);
  ck_assert_uint_eq(goro_chan_len(u.tokens), 0);
  goro_wg_free(wg);
  goro_chan_release(u.tokens);
}
END_TEST

START_TEST(test_chan_len_and_cap_of_null_are_zero)
{
  ck_assert_uint_eq(goro_chan_len(NULL), 0);
  ck_assert_uint_eq(goro_chan_cap(NULL), 0);
}
END_TEST

START_TEST(test_chan_len_counts_buffered_values)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  for (size_t i = 0; i < cap; i++) {
    int64_t v = (int64_t)i;
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
    ck_assert_uint_eq(goro_chan_len(c), i + 1);
    ck_assert_uint_eq(goro_chan_cap(c), cap);
  }
  for (size_t i = 0; i < cap; i++) {
    ck_assert_int_eq(goro_chan_recv(c, NULL), 1);
    ck_assert_uint_eq(goro_chan_len(c), cap - i - 1);
  }
  if (cap > 0) {
    int64_t v = 5;
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
    ck_assert_int_eq(goro_chan_close(c), 0);
    ck_assert_uint_eq(goro_chan_len(c), 1); /* buffered values survive close */
    ck_assert_int_eq(goro_chan_recv(c, NULL), 1);
  }
  ck_assert_uint_eq(goro_chan_len(c), 0);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_unbuffered_len_is_zero_with_a_blocked_sender)
{
  goro_chan *c = chan_make_checked(sizeof(int64_t), 0);
  goro_wg *wg = wg_make_checked();
  struct seq_sender s = {.c = c, .base = 9, .n = 1};
  wg_go_checked(wg, seq_sender_main, &s);
  nap(50 * MS);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  ck_assert_uint_eq(goro_chan_cap(c), 0);
  int64_t v = 0;
  ck_assert_int_eq(goro_chan_recv(c, &v), 1);
  ck_assert_int_eq(v, 9);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_set_name_accepts_long_and_null_names)
{
  goro_chan *c = chan_make_checked(sizeof(int), 1);
  char name[100];
  memset(name, 'x', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  goro_chan_set_name(c, "results");
  goro_chan_set_name(c, name);
  memset(name, 0, sizeof name); /* the name was copied */
  goro_chan_set_name(c, NULL);
  int v = 3;
  ck_assert_int_eq(goro_chan_send(c, &v), 0);
  ck_assert_int_eq(goro_chan_recv(c, &v), 1);
  ck_assert_int_eq(v, 3);
  goro_chan_release(c);
}
END_TEST

/* ---- Copy semantics ---------------------------------------------------- */

struct copy_sender {
  goro_chan *c;
  unsigned char *elem; /* exactly elemsize bytes, so ASan sees over-reads */
  size_t elemsize;
  int rc;
};

static void
copy_sender_main(void *arg)
{
  struct copy_sender *s = arg;
  s->rc = goro_chan_send(s->c, s->elem);
  if (s->elemsize > 0)
    memset(s->elem, 0x55, s->elemsize); /* the channel must hold its own copy */
}

START_TEST(test_chan_values_are_copied_in_and_out_by_elemsize)
{
  size_t cap = test_caps[_i];
  static const size_t sizes[] = {1, 3, 8, 13, 4096};
  enum { CANARY = 16 };
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    size_t es = sizes[k];
    goro_chan *c = chan_make_checked(es, cap);
    goro_wg *wg = wg_make_checked();
    unsigned char *src = malloc(es);
    unsigned char *dst = malloc(es + CANARY);
    ck_assert_ptr_nonnull(src);
    ck_assert_ptr_nonnull(dst);
    for (size_t j = 0; j < es; j++)
      src[j] = (unsigned char)(j * 7 + k + 1);
    memset(dst, 0xEE, es + CANARY);

    struct copy_sender s = {.c = c, .elem = src, .elemsize = es};
    wg_go_checked(wg, copy_sender_main, &s);
    if (cap > 0)
      goro_wg_wait(wg); /* the sender has clobbered its buffer by now */
    ck_assert_int_eq(goro_chan_recv(c, dst), 1);
    goro_wg_wait(wg);
    ck_assert_int_eq(s.rc, 0);
    for (size_t j = 0; j < es; j++)
      ck_assert_msg(dst[j] == (unsigned char)(j * 7 + k + 1), "elemsize %zu byte %zu: got %#x", es,
                    j, dst[j]);
    for (size_t j = es; j < es + CANARY; j++)
      ck_assert_msg(dst[j] == 0xEE, "elemsize %zu: recv wrote past elem", es);

    free(src);
    free(dst);
    goro_wg_free(wg);
    goro_chan_release(c);
  }
}
END_TEST

START_TEST(test_chan_elemsize_zero_works_with_null_elem)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(0, cap);
  ck_assert_uint_eq(goro_chan_cap(c), cap);
  if (cap == 0) {
    ck_assert_int_eq(goro_chan_trysend(c, NULL), GORO_EAGAIN);
    ck_assert_int_eq(goro_chan_tryrecv(c, NULL), GORO_EAGAIN);
    goro_wg *wg = wg_make_checked();
    struct copy_sender s = {.c = c, .elem = NULL, .elemsize = 0};
    for (int k = 0; k < 3; k++) {
      wg_go_checked(wg, copy_sender_main, &s);
      ck_assert_int_eq(goro_chan_recv(c, NULL), 1);
      goro_wg_wait(wg);
      ck_assert_int_eq(s.rc, 0);
    }
    goro_wg_free(wg);
  } else {
    for (size_t i = 0; i < cap; i++)
      ck_assert_int_eq(goro_chan_send(c, NULL), 0);
    ck_assert_uint_eq(goro_chan_len(c), cap);
    ck_assert_int_eq(goro_chan_trysend(c, NULL), GORO_EAGAIN);
    ck_assert_int_eq(goro_chan_tryrecv(c, NULL), 1);
    ck_assert_int_eq(goro_chan_trysend(c, NULL), 0);
    /* A non-NULL elem receives nothing: zero bytes are copied. */
    uint32_t canary = 0xC0FFEE;
    ck_assert_int_eq(goro_chan_recv(c, &canary), 1);
    ck_assert_uint_eq(canary, 0xC0FFEE);
    for (size_t i = 1; i < cap; i++)
      ck_assert_int_eq(goro_chan_recv(c, NULL), 1);
    ck_assert_uint_eq(goro_chan_len(c), 0);
    ck_assert_int_eq(goro_chan_tryrecv(c, NULL), GORO_EAGAIN);
  }
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_int_eq(goro_chan_recv(c, NULL), 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, NULL), 0);
  ck_assert_int_eq(goro_chan_send(c, NULL), GORO_EPIPE);
  ck_assert_int_eq(goro_chan_trysend(c, NULL), GORO_EPIPE);
  goro_chan_release(c);
}
END_TEST

/* ---- Send and receive -------------------------------------------------- */

START_TEST(test_chan_send_returns_zero_and_recv_returns_one_with_the_value)
{
  size_t cap = test_caps[_i];
  enum { N = 200 };
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_wg *wg = wg_make_checked();
  struct seq_sender s = {.c = c, .base = 1000, .n = N};
  wg_go_checked(wg, seq_sender_main, &s);
  for (int64_t i = 0; i < N; i++) {
    int64_t v = -1;
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    ck_assert_int_eq(v, 1000 + i);
  }
  goro_wg_wait(wg);
  ck_assert_int_eq(s.rc, 0);
  ck_assert_int_eq(atomic_load(&s.sent), N);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_recv_with_null_elem_discards_one_value)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_wg *wg = wg_make_checked();
  struct seq_sender s = {.c = c, .base = 1, .n = 3};
  wg_go_checked(wg, seq_sender_main, &s);
  int64_t v = 0;
  ck_assert_int_eq(goro_chan_recv(c, NULL), 1); /* 1 is discarded */
  ck_assert_int_eq(goro_chan_recv(c, &v), 1);
  ck_assert_int_eq(v, 2);
  ck_assert_int_eq(goro_chan_recv(c, NULL), 1); /* 3 is discarded */
  goro_wg_wait(wg);
  ck_assert_int_eq(s.rc, 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, &v), GORO_EAGAIN);
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_int_eq(goro_chan_recv(c, NULL), 0);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_send_blocks_only_while_the_buffer_is_full)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_wg *wg = wg_make_checked();
  struct seq_sender s = {.c = c, .base = 0, .n = (int64_t)cap + 1};
  wg_go_checked(wg, seq_sender_main, &s);
  nap(50 * MS);
  ck_assert_int_eq(atomic_load(&s.sent), (long long)cap); /* the last one waits */
  ck_assert_uint_eq(goro_chan_len(c), cap);
  int64_t v = -1;
  ck_assert_int_eq(goro_chan_recv(c, &v), 1);
  ck_assert_int_eq(v, 0);
  goro_wg_wait(wg);
  ck_assert_int_eq(s.rc, 0);
  ck_assert_int_eq(atomic_load(&s.sent), (long long)cap + 1);
  /* The blocked sender's value queued behind the buffered ones. */
  ck_assert_uint_eq(goro_chan_len(c), cap);
  for (int64_t i = 1; i <= (int64_t)cap; i++) {
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    ck_assert_int_eq(v, i);
  }
  ck_assert_int_eq(goro_chan_tryrecv(c, &v), GORO_EAGAIN);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_recv_blocks_until_a_value_arrives)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_wg *wg = wg_make_checked();
  struct receiver r = {.c = c};
  wg_go_checked(wg, receiver_main, &r);
  nap(50 * MS);
  ck_assert_int_eq(atomic_load(&r.returned), 0);
  int64_t v = 42;
  ck_assert_int_eq(goro_chan_send(c, &v), 0);
  goro_wg_wait(wg);
  ck_assert_int_eq(r.rc, 1);
  ck_assert_int_eq(r.v, 42);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

struct flag_sender {
  goro_chan *c;
  atomic_int sent; /* set once send returned */
  int rc;
};

static void
flag_sender_main(void *arg)
{
  struct flag_sender *s = arg;
  int64_t v = 7;
  s->rc = goro_chan_send(s->c, &v);
  atomic_store(&s->sent, 1);
}

START_TEST(test_chan_unbuffered_send_completes_only_when_a_receiver_has_the_value)
{
  goro_chan *c = chan_make_checked(sizeof(int64_t), 0);
  goro_wg *wg = wg_make_checked();
  for (int round = 0; round < 3; round++) {
    struct flag_sender s = {.c = c};
    wg_go_checked(wg, flag_sender_main, &s);
    nap(50 * MS);
    ck_assert_msg(atomic_load(&s.sent) == 0, "unbuffered send returned with no receiver");
    int64_t v = 0;
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    ck_assert_int_eq(v, 7);
    goro_wg_wait(wg);
    ck_assert_int_eq(atomic_load(&s.sent), 1);
    ck_assert_int_eq(s.rc, 0);
  }
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* ---- Trysend and tryrecv ----------------------------------------------- */

START_TEST(test_chan_trysend_fills_the_buffer_then_reports_eagain)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  for (size_t i = 0; i < cap; i++) {
    int64_t v = (int64_t)i;
    ck_assert_int_eq(goro_chan_trysend(c, &v), 0);
  }
  int64_t v = 99;
  ck_assert_int_eq(goro_chan_trysend(c, &v), GORO_EAGAIN);
  ck_assert_int_eq(goro_chan_trysend(c, &v), GORO_EAGAIN);
  ck_assert_uint_eq(goro_chan_len(c), cap);
  for (size_t i = 0; i < cap; i++) {
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    ck_assert_int_eq(v, (int64_t)i); /* the refused value was not queued */
  }
  ck_assert_int_eq(goro_chan_tryrecv(c, &v), GORO_EAGAIN);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_trysend_hands_the_value_to_a_waiting_receiver)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_wg *wg = wg_make_checked();
  struct receiver r = {.c = c};
  wg_go_checked(wg, receiver_main, &r);
  int64_t v = 77;
  int64_t deadline = goro_now() + 10 * GORO_SECOND;
  int rc;
  while ((rc = goro_chan_trysend(c, &v)) == GORO_EAGAIN) {
    ck_assert_msg(goro_now() < deadline, "trysend never met the waiting receiver");
    nap(1 * MS);
  }
  ck_assert_int_eq(rc, 0);
  goro_wg_wait(wg);
  ck_assert_int_eq(r.rc, 1);
  ck_assert_int_eq(r.v, 77);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_trysend_on_closed_channel_is_epipe)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  ck_assert_int_eq(goro_chan_close(c), 0);
  int64_t v = 1;
  ck_assert_int_eq(goro_chan_trysend(c, &v), GORO_EPIPE);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  ck_assert_int_eq(goro_chan_recv(c, &v), 0);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_tryrecv_reports_eagain_when_empty_and_one_with_a_value)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  int64_t v = -1;
  ck_assert_int_eq(goro_chan_tryrecv(c, &v), GORO_EAGAIN);
  ck_assert_int_eq(goro_chan_tryrecv(c, NULL), GORO_EAGAIN);
  /* Values come from the buffer, then from the blocked sender. */
  goro_wg *wg = wg_make_checked();
  struct seq_sender s = {.c = c, .base = 500, .n = (int64_t)cap + 1};
  wg_go_checked(wg, seq_sender_main, &s);
  int64_t deadline = goro_now() + 10 * GORO_SECOND;
  for (int64_t i = 0; i <= (int64_t)cap;) {
    int rc = goro_chan_tryrecv(c, &v);
    if (rc == GORO_EAGAIN) {
      ck_assert_msg(goro_now() < deadline, "tryrecv never met the sender");
      nap(1 * MS);
      continue;
    }
    ck_assert_int_eq(rc, 1);
    ck_assert_int_eq(v, 500 + i);
    i++;
  }
  goro_wg_wait(wg);
  ck_assert_int_eq(s.rc, 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, &v), GORO_EAGAIN);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_tryrecv_on_closed_drained_channel_returns_zero_and_zero_fills)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  int64_t v;
  if (cap > 0) {
    v = 31;
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
  }
  ck_assert_int_eq(goro_chan_close(c), 0);
  if (cap > 0) {
    v = 0;
    ck_assert_int_eq(goro_chan_tryrecv(c, &v), 1);
    ck_assert_int_eq(v, 31);
  }
  v = -1;
  ck_assert_int_eq(goro_chan_tryrecv(c, &v), 0);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, NULL), 0);
  goro_chan_release(c);
}
END_TEST

/* ---- Close ------------------------------------------------------------- */

START_TEST(test_chan_close_returns_zero_then_epipe_when_already_closed)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_int_eq(goro_chan_close(c), GORO_EPIPE);
  ck_assert_int_eq(goro_chan_close(c), GORO_EPIPE);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_close_null_is_einval)
{
  ck_assert_int_eq(goro_chan_close(NULL), GORO_EINVAL);
}
END_TEST

START_TEST(test_chan_send_after_close_is_epipe_and_delivers_nothing)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  int64_t v = 1;
  if (cap > 0)
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
  ck_assert_int_eq(goro_chan_close(c), 0);
  v = 2;
  ck_assert_int_eq(goro_chan_send(c, &v), GORO_EPIPE);
  ck_assert_int_eq(goro_chan_trysend(c, &v), GORO_EPIPE);
  ck_assert_uint_eq(goro_chan_len(c), cap > 0 ? 1 : 0);
  if (cap > 0) {
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    ck_assert_int_eq(v, 1);
  }
  ck_assert_int_eq(goro_chan_recv(c, &v), 0);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_recv_after_close_drains_then_reports_closed)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  for (size_t i = 0; i < cap; i++) {
    int64_t v = 100 + (int64_t)i;
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
  }
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_uint_eq(goro_chan_len(c), cap);
  for (size_t i = 0; i < cap; i++) {
    int64_t v = -1;
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    ck_assert_int_eq(v, 100 + (int64_t)i);
  }
  for (int k = 0; k < 3; k++) {
    int64_t v;
    memset(&v, 0xAB, sizeof v);
    ck_assert_int_eq(goro_chan_recv(c, &v), 0);
    ck_assert_int_eq(v, 0);
  }
  ck_assert_int_eq(goro_chan_recv(c, NULL), 0);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_recv_after_close_zero_fills_a_large_elem)
{
  size_t cap = test_caps[_i];
  enum { ES = 301 };
  goro_chan *c = chan_make_checked(ES, cap);
  ck_assert_int_eq(goro_chan_close(c), 0);
  unsigned char *buf = malloc(ES);
  ck_assert_ptr_nonnull(buf);
  memset(buf, 0xCD, ES);
  ck_assert_int_eq(goro_chan_recv(c, buf), 0);
  for (size_t j = 0; j < ES; j++)
    ck_assert_msg(buf[j] == 0, "byte %zu not zero-filled", j);
  free(buf);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_close_wakes_every_blocked_receiver)
{
  size_t cap = test_caps[_i];
  enum { NR = 8, NV = 3 };
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_wg *wg = wg_make_checked();
  struct receiver r[NR];
  memset(r, 0, sizeof r);
  for (int i = 0; i < NR; i++) {
    r[i].c = c;
    wg_go_checked(wg, receiver_main, &r[i]);
  }
  nap(50 * MS); /* let them block */
  for (int64_t v = 1; v <= NV; v++)
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
  ck_assert_int_eq(goro_chan_close(c), 0);
  goro_wg_wait(wg);
  int got[NV + 1] = {0};
  int closed = 0;
  for (int i = 0; i < NR; i++) {
    if (r[i].rc == 1) {
      ck_assert_msg(r[i].v >= 1 && r[i].v <= NV, "receiver %d got %lld", i, (long long)r[i].v);
      got[r[i].v]++;
    } else {
      ck_assert_int_eq(r[i].rc, 0);
      ck_assert_int_eq(r[i].v, 0); /* zero-filled */
      closed++;
    }
  }
  for (int v = 1; v <= NV; v++)
    ck_assert_msg(got[v] == 1, "value %d received %d times", v, got[v]);
  ck_assert_int_eq(closed, NR - NV);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_close_wakes_every_blocked_sender_with_epipe)
{
  size_t cap = test_caps[_i];
  enum { NS = 8 };
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  for (size_t i = 0; i < cap; i++) {
    int64_t v = (int64_t)i;
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
  }
  goro_wg *wg = wg_make_checked();
  struct seq_sender s[NS];
  memset(s, 0, sizeof s);
  for (int i = 0; i < NS; i++) {
    s[i].c = c;
    s[i].base = 1000 + i;
    s[i].n = 1;
    wg_go_checked(wg, seq_sender_main, &s[i]);
  }
  nap(50 * MS); /* let them block */
  ck_assert_uint_eq(goro_chan_len(c), cap);
  ck_assert_int_eq(goro_chan_close(c), 0);
  goro_wg_wait(wg);
  for (int i = 0; i < NS; i++) {
    ck_assert_msg(s[i].rc == GORO_EPIPE, "sender %d: %d", i, s[i].rc);
    ck_assert_int_eq(atomic_load(&s[i].sent), 0);
  }
  /* Only the values buffered before the close come out. */
  for (size_t i = 0; i < cap; i++) {
    int64_t v = -1;
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    ck_assert_int_eq(v, (int64_t)i);
  }
  int64_t v = -1;
  ck_assert_int_eq(goro_chan_recv(c, &v), 0);
  ck_assert_int_eq(v, 0);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* ---- Bad input --------------------------------------------------------- */

START_TEST(test_chan_null_channel_is_einval)
{
  int64_t v = 1;
  ck_assert_int_eq(goro_chan_send(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_recv(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_recv(NULL, NULL), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_trysend(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_tryrecv(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_close(NULL), GORO_EINVAL);
  ck_assert_int_eq(v, 1);
}
END_TEST

START_TEST(test_chan_send_null_elem_with_nonzero_elemsize_is_einval)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  ck_assert_int_eq(goro_chan_send(c, NULL), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_trysend(c, NULL), GORO_EINVAL);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, NULL), GORO_EAGAIN);
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_int_eq(goro_chan_send(c, NULL) < 0, 1); /* EINVAL or EPIPE */
  goro_chan_release(c);
}
END_TEST

/* ---- References -------------------------------------------------------- */

START_TEST(test_chan_retain_returns_the_channel_and_release_null_is_a_noop)
{
  goro_chan_release(NULL);
  goro_chan *c = chan_make_checked(sizeof(int), 1);
  ck_assert_ptr_eq(goro_chan_retain(c), c);
  ck_assert_ptr_eq(goro_chan_retain(c), c);
  goro_chan_release(c);
  goro_chan_release(c);
  /* One reference is left: the channel still works. */
  int v = 4;
  ck_assert_int_eq(goro_chan_trysend(c, &v), 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, &v), 1);
  ck_assert_int_eq(v, 4);
  goro_chan_release(c);
}
END_TEST

struct ref_user {
  goro_chan *c;     /* a reference this goroutine owns */
  goro_chan *start; /* closed once the creator dropped its reference */
  int64_t n;
  int64_t sum;
  int rc;
};

static void
ref_sender_main(void *arg)
{
  struct ref_user *u = arg;
  goro_chan_recv(u->start, NULL);
  u->rc = 0;
  for (int64_t i = 1; i <= u->n && u->rc == 0; i++)
    u->rc = goro_chan_send(u->c, &i);
  if (u->rc == 0)
    u->rc = goro_chan_close(u->c);
  goro_chan_release(u->c);
}

static void
ref_receiver_main(void *arg)
{
  struct ref_user *u = arg;
  goro_chan_recv(u->start, NULL);
  int64_t v;
  u->sum = 0;
  while ((u->rc = goro_chan_recv(u->c, &v)) > 0)
    u->sum += v;
  goro_chan_release(u->c);
}

START_TEST(test_chan_retained_by_goroutines_outlives_the_creators_release)
{
  size_t cap = test_caps[_i];
  enum { N = 1000 };
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_chan *start = chan_make_checked(0, 0);
  goro_wg *wg = wg_make_checked();
  struct ref_user snd = {.c = goro_chan_retain(c), .start = start, .n = N};
  struct ref_user rcv = {.c = goro_chan_retain(c), .start = start};
  wg_go_checked(wg, ref_sender_main, &snd);
  wg_go_checked(wg, ref_receiver_main, &rcv);
  goro_chan_release(c); /* the goroutines hold the only references now */
  c = NULL;
  ck_assert_int_eq(goro_chan_close(start), 0);
  goro_wg_wait(wg);
  ck_assert_int_eq(snd.rc, 0);
  ck_assert_int_eq(rcv.rc, 0);
  ck_assert_int_eq(rcv.sum, (int64_t)N * (N + 1) / 2);
  goro_wg_free(wg);
  goro_chan_release(start);
}
END_TEST

/* The contract's caller bug: the last reference released while a thread
 * is blocked on the channel (here, closed first, so that the blocked
 * receivers wake). The library must not free the channel under them: each
 * wakes, zero-fills its element and returns. Run under ASan, a touch of
 * the freed channel fails the test. */
START_TEST(test_chan_last_release_while_receivers_block_does_not_free_it_under_them)
{
  size_t cap = test_caps[_i];
  enum { NR = 4 };
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_wg *wg = wg_make_checked();
  struct receiver r[NR];
  memset(r, 0, sizeof r);
  for (int i = 0; i < NR; i++) {
    r[i].c = c; /* borrowed: the bug under test */
    wg_go_checked(wg, receiver_main, &r[i]);
  }
  nap(50 * MS); /* let them block */
  ck_assert_int_eq(goro_chan_close(c), 0);
  goro_chan_release(c); /* the last reference, while they may still sleep */
  goro_wg_wait(wg);
  for (int i = 0; i < NR; i++) {
    ck_assert_int_eq(r[i].rc, 0);
    ck_assert_int_eq(r[i].v, 0);
  }
  goro_wg_free(wg);
}
END_TEST

/* The same bug with senders blocked on a full channel and with selects
 * blocked on it: each wakes with GORO_EPIPE (select: the receive case,
 * closed) and returns without touching the freed channel. */
struct select_receiver {
  goro_chan *c;
  int won;
  int64_t v;
};

static void
select_receiver_main(void *arg)
{
  struct select_receiver *r = arg;
  r->v = -1;
  goro_case cs = GORO_RECV_CASE(r->c, &r->v);
  r->won = goro_select(&cs, 1, GORO_FOREVER);
}

START_TEST(test_chan_last_release_while_senders_and_selects_block_does_not_free_it)
{
  size_t cap = test_caps[_i];
  enum { NS = 3 };
  goro_chan *full = chan_make_checked(sizeof(int64_t), cap);
  goro_chan *empty = chan_make_checked(sizeof(int64_t), cap);
  for (size_t i = 0; i < cap; i++) {
    int64_t v = (int64_t)i;
    ck_assert_int_eq(goro_chan_send(full, &v), 0);
  }
  goro_wg *wg = wg_make_checked();
  struct seq_sender snd[NS];
  struct select_receiver sel[NS];
  memset(snd, 0, sizeof snd);
  memset(sel, 0, sizeof sel);
  for (int i = 0; i < NS; i++) {
    snd[i] = (struct seq_sender){.c = full, .base = 100, .n = 1}; /* borrowed */
    sel[i].c = empty;                                             /* borrowed */
    wg_go_checked(wg, seq_sender_main, &snd[i]);
    wg_go_checked(wg, select_receiver_main, &sel[i]);
  }
  nap(50 * MS); /* let them block */
  ck_assert_int_eq(goro_chan_close(full), 0);
  ck_assert_int_eq(goro_chan_close(empty), 0);
  goro_chan_release(full); /* the last references, while they may still sleep */
  goro_chan_release(empty);
  goro_wg_wait(wg);
  for (int i = 0; i < NS; i++) {
    ck_assert_int_eq(snd[i].rc, GORO_EPIPE);
    ck_assert_int_eq(sel[i].won, 0);
    ck_assert_int_eq(sel[i].v, 0);
  }
  goro_wg_free(wg);
}
END_TEST

/* ---- Order ------------------------------------------------------------- */

START_TEST(test_chan_buffered_ring_wraps_around_in_fifo_order)
{
  size_t cap = test_caps[_i]; /* looped over the buffered capacities only */
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  int64_t next_send = 0, next_recv = 0;
  uint32_t rnd = 12345;
  /* Bursts of random length fill and drain the ring at every offset
   * (enough rounds for the check below, even when scaled down). */
  int rounds = (int)scaled(2000);
  if (rounds < 200)
    rounds = 200;
  for (int round = 0; round < rounds; round++) {
    rnd = rnd * 1103515245u + 12345u;
    size_t burst = 1 + (rnd >> 16) % cap;
    if (round % 2 == 0) {
      for (size_t k = 0; k < burst; k++) {
        int64_t v = next_send;
        int rc = goro_chan_trysend(c, &v);
        if (rc == GORO_EAGAIN) {
          ck_assert_uint_eq(goro_chan_len(c), cap);
          break;
        }
        ck_assert_int_eq(rc, 0);
        next_send++;
      }
    } else {
      for (size_t k = 0; k < burst; k++) {
        int64_t v = -1;
        int rc = goro_chan_tryrecv(c, &v);
        if (rc == GORO_EAGAIN) {
          ck_assert_uint_eq(goro_chan_len(c), 0);
          break;
        }
        ck_assert_int_eq(rc, 1);
        ck_assert_int_eq(v, next_recv);
        next_recv++;
      }
    }
    ck_assert_uint_eq(goro_chan_len(c), (size_t)(next_send - next_recv));
  }
  ck_assert_int_gt(next_send, (int64_t)cap * 10);
  while (next_recv < next_send) {
    int64_t v;
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    ck_assert_int_eq(v, next_recv);
    next_recv++;
  }
  ck_assert_uint_eq(goro_chan_len(c), 0);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_chan_keeps_each_senders_order_with_several_senders)
{
  size_t cap = test_caps[_i];
  enum { NS = 4 };
  int64_t per = (int64_t)scaled(25000);
  goro_chan *c = chan_make_checked(sizeof(int64_t), cap);
  goro_wg *wg = wg_make_checked();
  struct seq_sender s[NS];
  memset(s, 0, sizeof s);
  for (int i = 0; i < NS; i++) {
    s[i].c = c;
    s[i].base = (int64_t)i << 32;
    s[i].n = per;
    wg_go_checked(wg, seq_sender_main, &s[i]);
  }
  int64_t next[NS] = {0};
  for (int64_t k = 0; k < per * NS; k++) {
    int64_t v;
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    int64_t id = v >> 32, seq = v & 0xffffffff;
    ck_assert_msg(id >= 0 && id < NS, "bad value %lld", (long long)v);
    ck_assert_msg(seq == next[id], "sender %lld: got %lld, want %lld", (long long)id,
                  (long long)seq, (long long)next[id]);
    next[id]++;
  }
  goro_wg_wait(wg);
  for (int i = 0; i < NS; i++)
    ck_assert_int_eq(s[i].rc, 0);
  ck_assert_int_eq(goro_chan_tryrecv(c, NULL), GORO_EAGAIN);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* ---- Many senders, many receivers -------------------------------------- */

enum { MPMC_SENDERS = 4, MPMC_RECEIVERS = 4 };

struct mpmc {
  goro_chan *c;
  size_t total;
  _Atomic unsigned char *seen; /* times each value was received */
  goro_wg *senders, *receivers;
};

struct mpmc_worker {
  struct mpmc *m;
  size_t id;
  int rc;
  size_t count;
  uint64_t sum;
};

static void
mpmc_sender_main(void *arg)
{
  struct mpmc_worker *w = arg;
  w->rc = 0;
  for (size_t v = w->id; v < w->m->total; v += MPMC_SENDERS) {
    uint32_t x = (uint32_t)v;
    w->rc = goro_chan_send(w->m->c, &x);
    if (w->rc != 0)
      break;
    w->count++;
  }
}

static void
mpmc_receiver_main(void *arg)
{
  struct mpmc_worker *w = arg;
  uint32_t x;
  while ((w->rc = goro_chan_recv(w->m->c, &x)) > 0) {
    if (x < w->m->total)
      atomic_fetch_add_explicit(&w->m->seen[x], 1, memory_order_relaxed);
    w->count++;
    w->sum += x;
  }
}

START_TEST(test_chan_many_senders_and_receivers_lose_and_duplicate_nothing)
{
  size_t cap = test_caps[_i];
  /* 1,000,000 values through the buffer of 64; a quarter of that at cap 0
   * and 1, where nearly every value passes through a parked thread, so the
   * test stays within seconds on two cores. */
  struct mpmc m = {.total = scaled(cap >= 64 ? 1000000 : 250000)};
  m.c = chan_make_checked(sizeof(uint32_t), cap);
  m.seen = calloc(m.total, 1);
  ck_assert_ptr_nonnull(m.seen);
  m.senders = wg_make_checked();
  m.receivers = wg_make_checked();
  struct mpmc_worker snd[MPMC_SENDERS], rcv[MPMC_RECEIVERS];
  memset(snd, 0, sizeof snd);
  memset(rcv, 0, sizeof rcv);
  for (size_t i = 0; i < MPMC_RECEIVERS; i++) {
    rcv[i].m = &m;
    rcv[i].id = i;
    wg_go_checked(m.receivers, mpmc_receiver_main, &rcv[i]);
  }
  for (size_t i = 0; i < MPMC_SENDERS; i++) {
    snd[i].m = &m;
    snd[i].id = i;
    wg_go_checked(m.senders, mpmc_sender_main, &snd[i]);
  }
  goro_wg_wait(m.senders);
  ck_assert_int_eq(goro_chan_close(m.c), 0);
  goro_wg_wait(m.receivers);

  size_t sent = 0, received = 0;
  uint64_t sum = 0;
  for (size_t i = 0; i < MPMC_SENDERS; i++) {
    ck_assert_int_eq(snd[i].rc, 0);
    sent += snd[i].count;
  }
  for (size_t i = 0; i < MPMC_RECEIVERS; i++) {
    ck_assert_int_eq(rcv[i].rc, 0);
    received += rcv[i].count;
    sum += rcv[i].sum;
  }
  ck_assert_uint_eq(sent, m.total);
  ck_assert_uint_eq(received, m.total);
  ck_assert_uint_eq(sum, (uint64_t)m.total * (m.total - 1) / 2);
  for (size_t v = 0; v < m.total; v++)
    ck_assert_msg(m.seen[v] == 1, "value %zu received %d times", v, (int)m.seen[v]);

  free((void *)m.seen);
  goro_wg_free(m.senders);
  goro_wg_free(m.receivers);
  goro_chan_release(m.c);
}
END_TEST

/* ---- Ten thousand goroutines in a chain -------------------------------- */

/* Go's test/chan/goroutines.go: each goroutine does left <- 1 + <-right. */
struct link {
  goro_chan *left, *right;
  int rc;
  goro_wg *wg;
};

static void
link_main(void *arg)
{
  struct link *l = arg;
  int64_t v = 0;
  l->rc = goro_chan_recv(l->right, &v);
  if (l->rc == 1) {
    v++;
    l->rc = goro_chan_send(l->left, &v);
  } else {
    l->rc = -1;
  }
  goro_wg_done(l->wg);
}

START_TEST(test_chan_ten_thousand_goroutines_blocked_in_a_chain_all_finish)
{
  /* TSan allows about 8000 threads; valgrind runs them one at a time. */
  size_t n = scaled(UNDER_TSAN ? 2000 : 10000);
  goro_chan **ch = calloc(n + 1, sizeof *ch);
  struct link *links = calloc(n, sizeof *links);
  ck_assert_ptr_nonnull(ch);
  ck_assert_ptr_nonnull(links);
  for (size_t i = 0; i <= n; i++)
    ch[i] = chan_make_checked(sizeof(int64_t), 0);
  goro_wg *wg = wg_make_checked();
  for (size_t i = 0; i < n; i++) {
    links[i].left = ch[i];
    links[i].right = ch[i + 1];
    links[i].wg = wg;
    ck_assert_int_eq(goro_wg_add(wg, 1), 0);
    int rc = goro_go(link_main, &links[i]);
    ck_assert_msg(rc == 0, "goroutine %zu of %zu: goro_go: %s", i, n, goro_strerror(rc));
  }
  ck_assert_uint_ge(goro_num_goroutine(), n);
  nap(100 * MS); /* most of them are blocked now */
  int64_t v = 0;
  ck_assert_int_eq(goro_chan_send(ch[n], &v), 0);
  ck_assert_int_eq(goro_chan_recv(ch[0], &v), 1);
  ck_assert_int_eq(v, (int64_t)n);
  goro_wg_wait(wg);
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(links[i].rc == 0, "link %zu: %d", i, links[i].rc);
  for (size_t i = 0; i <= n; i++)
    goro_chan_release(ch[i]);
  goro_wg_free(wg);
  free(links);
  free(ch);
}
END_TEST

/* ---- Suite ------------------------------------------------------------- */

static Suite *
chan_suite(void)
{
  Suite *s = suite_create("chan");
  TCase *tc;

  tc = tcase_make("make", 10);
  tcase_add_loop_test(tc, test_chan_make_has_requested_cap_and_is_empty, 0, TEST_NCAPS);
  tcase_add_test(tc, test_chan_make_overflowing_size_returns_null_einval);
  tcase_add_test(tc, test_chan_make_element_of_64k_or_more_returns_null_einval);
  tcase_add_test(tc, test_chan_make_buffer_above_max_alloc_returns_null_enomem);
  tcase_add_test(tc, test_chan_make_out_of_memory_returns_null_enomem);
  tcase_add_test(tc, test_chan_zero_size_buffered_costs_nothing_per_slot);
  tcase_add_test(tc, test_chan_zero_size_buffered_fills_drains_and_closes);
  tcase_add_loop_test(tc, test_chan_close_happens_before_the_receive_that_sees_it, 0, TEST_NCAPS);
  tcase_add_test(tc, test_chan_zero_size_semaphore_admits_one_at_a_time);
  tcase_add_test(tc, test_chan_len_and_cap_of_null_are_zero);
  tcase_add_loop_test(tc, test_chan_len_counts_buffered_values, 0, TEST_NCAPS);
  tcase_add_test(tc, test_chan_unbuffered_len_is_zero_with_a_blocked_sender);
  tcase_add_test(tc, test_chan_set_name_accepts_long_and_null_names);
  suite_add_tcase(s, tc);

  tc = tcase_make("copy", 10);
  tcase_add_loop_test(tc, test_chan_values_are_copied_in_and_out_by_elemsize, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_elemsize_zero_works_with_null_elem, 0, TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("send_recv", 10);
  tcase_add_loop_test(tc, test_chan_send_returns_zero_and_recv_returns_one_with_the_value, 0,
                      TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_recv_with_null_elem_discards_one_value, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_send_blocks_only_while_the_buffer_is_full, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_recv_blocks_until_a_value_arrives, 0, TEST_NCAPS);
  tcase_add_test(tc, test_chan_unbuffered_send_completes_only_when_a_receiver_has_the_value);
  suite_add_tcase(s, tc);

  tc = tcase_make("try", 20);
  tcase_add_loop_test(tc, test_chan_trysend_fills_the_buffer_then_reports_eagain, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_trysend_hands_the_value_to_a_waiting_receiver, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_trysend_on_closed_channel_is_epipe, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_tryrecv_reports_eagain_when_empty_and_one_with_a_value, 0,
                      TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_tryrecv_on_closed_drained_channel_returns_zero_and_zero_fills,
                      0, TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("close", 10);
  tcase_add_loop_test(tc, test_chan_close_returns_zero_then_epipe_when_already_closed, 0,
                      TEST_NCAPS);
  tcase_add_test(tc, test_chan_close_null_is_einval);
  tcase_add_loop_test(tc, test_chan_send_after_close_is_epipe_and_delivers_nothing, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_recv_after_close_drains_then_reports_closed, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_recv_after_close_zero_fills_a_large_elem, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_close_wakes_every_blocked_receiver, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_close_wakes_every_blocked_sender_with_epipe, 0, TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("bad_input", 10);
  tcase_add_test(tc, test_chan_null_channel_is_einval);
  tcase_add_loop_test(tc, test_chan_send_null_elem_with_nonzero_elemsize_is_einval, 0, TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("refs", 10);
  tcase_add_test(tc, test_chan_retain_returns_the_channel_and_release_null_is_a_noop);
  tcase_add_loop_test(tc, test_chan_retained_by_goroutines_outlives_the_creators_release, 0,
                      TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_last_release_while_receivers_block_does_not_free_it_under_them,
                      0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_last_release_while_senders_and_selects_block_does_not_free_it,
                      0, TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("order", 30);
  tcase_add_loop_test(tc, test_chan_buffered_ring_wraps_around_in_fifo_order, 1, TEST_NCAPS);
  tcase_add_loop_test(tc, test_chan_keeps_each_senders_order_with_several_senders, 0, TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("stress", 60);
  tcase_add_loop_test(tc, test_chan_many_senders_and_receivers_lose_and_duplicate_nothing, 0,
                      TEST_NCAPS);
  tcase_add_test(tc, test_chan_ten_thousand_goroutines_blocked_in_a_chain_all_finish);
  suite_add_tcase(s, tc);

  return s;
}

int
main(void)
{
  return run_suite(chan_suite());
}
