/* check_ring.c - src/ring.h on its own: the bounded ring of stamped slots
 * that buffered channels and the pool's hand-off share. FIFO order over
 * many laps, including the wrap of positions past SIZE_MAX; full, empty,
 * close and drain; the zero-size (counter) ring and its wrap; BUSY for a
 * slot the other side has claimed and not published; len and version;
 * and exactly-once delivery with several producers and consumers (run
 * under ThreadSanitizer by CI, which checks the memory orders).
 *
 * ring.h is header-only: this program does not link libgoro, and supplies
 * the two sys-layer primitives ring.h uses itself.
 */
#include "config.h"

#include "ring.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

_Noreturn void
goro__assert_fail(const char *expr, const char *file, int line, const char *func)
{
  fprintf(stderr, "%s:%d: %s: assertion failed: %s\n", file, line, func, expr);
  abort();
}

#ifdef GORO_VALGRIND /* the ring's vg_mu; these cannot fail */
void
goro__mu_init(pthread_mutex_t *mu)
{
  if (pthread_mutex_init(mu, NULL) != 0)
    abort();
}
void
goro__mu_lock(pthread_mutex_t *mu)
{
  if (pthread_mutex_lock(mu) != 0)
    abort();
}
void
goro__mu_unlock(pthread_mutex_t *mu)
{
  if (pthread_mutex_unlock(mu) != 0)
    abort();
}
#endif

/* A check for the hot loops: Check's own assertions cost thousands of
 * instructions each, which valgrind multiplies; this one calls Check only
 * when it fails. */
#define EXPECT(cond)                                                                               \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      ck_abort_msg("%s:%d: expected %s", __FILE__, __LINE__, #cond);                               \
  } while (0)

/* GORO_TEST_SCALE (a positive factor; test/valgrind.sh shrinks the runs
 * with it), read once by main. */
static double test_scale = 1.0;

/* n times the scale, at least 100. */
static long
scaled(long n)
{
  long m = (long)((double)n * test_scale);
  return m < 100 ? 100 : m;
}

/* A ring and its slots in one allocation, as a channel holds them. */
static struct goro__ring *
ring_new(size_t elemsize, size_t cap)
{
  struct goro__ring *r = malloc(sizeof *r + cap * goro__ring_stride(elemsize));
  ck_assert_ptr_nonnull(r);
  goro__ring_init(r, elemsize, cap);
  return r;
}

static void
ring_free(struct goro__ring *r)
{
  goro__ring_destroy(r);
  free(r);
}

/* Move an empty, open ring to position pos (as if pos values had passed
 * through it): each slot's stamp is then the position it will next be
 * pushed at. */
static void
ring_seek(struct goro__ring *r, size_t pos)
{
  ck_assert(goro__ring_len(r) == 0);
  atomic_store(&r->head, pos);
  atomic_store(&r->tail, pos);
  if (r->stride == 0)
    return;
  for (size_t k = 0; k < r->cap; k++) {
    size_t p = pos;
    for (size_t j = 0; j < k; j++)
      p = goro__ring_next(r, p);
    atomic_store(&goro__ring_slot(r, p & (r->mark_bit - 1))->stamp, p);
  }
}

/* Push and pop n values through r, k at a time, checking order, len and
 * the full and empty verdicts on the way. */
static void
churn(struct goro__ring *r, long n, size_t k)
{
  long next_in = 0, next_out = 0;
  while (next_out < n) {
    for (size_t i = 0; i < k && next_in < n; i++) {
      EXPECT(goro__ring_push(r, &next_in) == GORO__RING_OK);
      next_in++;
    }
    EXPECT(goro__ring_len(r) == (size_t)(next_in - next_out));
    if (goro__ring_len(r) == r->cap) {
      long x = -1;
      EXPECT(goro__ring_push(r, &x) == GORO__RING_FULL);
      EXPECT(!goro__ring_ready(r, true));
    }
    while (next_out < next_in) {
      long v = -1;
      EXPECT(goro__ring_pop(r, &v) == GORO__RING_OK);
      EXPECT(v == next_out);
      next_out++;
    }
    long v;
    EXPECT(goro__ring_pop(r, &v) == GORO__RING_EMPTY);
    EXPECT(!goro__ring_ready(r, false));
  }
}

START_TEST(test_fifo_over_many_laps)
{
  static const size_t caps[] = {1, 2, 3, 7, 64};
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    struct goro__ring *r = ring_new(sizeof(long), caps[i]);
    churn(r, 5000, caps[i]); /* full each round */
    churn(r, 5000, 1);       /* one at a time */
    churn(r, 5000, caps[i] / 2 + 1);
    ring_free(r);
  }
}
END_TEST

/* Positions count up forever and wrap at SIZE_MAX: start on the last lap
 * below the wrap and churn across it. */
START_TEST(test_positions_wrap_past_size_max)
{
  static const size_t caps[] = {1, 3, 64};
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    struct goro__ring *r = ring_new(sizeof(long), caps[i]);
    size_t last_lap = SIZE_MAX & ~(r->one_lap - 1) & ~r->mark_bit;
    ring_seek(r, last_lap);
    churn(r, (long)(8 * caps[i] + 5), caps[i]);
    ck_assert_uint_lt(atomic_load(&r->head), last_lap); /* it wrapped */
    churn(r, 100, caps[i] > 1 ? 2 : 1);
    ring_free(r);
  }
}
END_TEST

START_TEST(test_close_refuses_pushes_and_drains)
{
  struct goro__ring *r = ring_new(sizeof(int), 4);
  for (int v = 1; v <= 3; v++)
    ck_assert_int_eq(goro__ring_push(r, &v), GORO__RING_OK);
  ck_assert(!goro__ring_close(r));
  ck_assert(goro__ring_close(r)); /* already closed */
  int x = 9;
  ck_assert_int_eq(goro__ring_push(r, &x), GORO__RING_CLOSED);
  ck_assert_uint_eq(goro__ring_len(r), 3);
  ck_assert(goro__ring_ready(r, true));
  for (int v = 1; v <= 3; v++) {
    int got = 0;
    ck_assert_int_eq(goro__ring_pop(r, &got), GORO__RING_OK);
    ck_assert_int_eq(got, v);
  }
  ck_assert_int_eq(goro__ring_pop(r, &x), GORO__RING_CLOSED);
  ck_assert_int_eq(goro__ring_pop(r, NULL), GORO__RING_CLOSED);
  ck_assert(goro__ring_ready(r, false));
  ck_assert_uint_eq(goro__ring_len(r), 0);
  ring_free(r);
}
END_TEST

/* A pop with a NULL destination takes the value and discards it. */
START_TEST(test_pop_discards_into_null)
{
  struct goro__ring *r = ring_new(sizeof(int), 2);
  int a = 1, b = 2, got = 0;
  ck_assert_int_eq(goro__ring_push(r, &a), GORO__RING_OK);
  ck_assert_int_eq(goro__ring_push(r, &b), GORO__RING_OK);
  ck_assert_int_eq(goro__ring_pop(r, NULL), GORO__RING_OK);
  ck_assert_int_eq(goro__ring_pop(r, &got), GORO__RING_OK);
  ck_assert_int_eq(got, 2);
  ring_free(r);
}
END_TEST

/* Zero-size elements: no slots, two counters modulo mark_bit. */
START_TEST(test_counter_ring_counts_and_wraps)
{
  struct goro__ring *r = ring_new(0, 3);
  ck_assert_uint_eq(r->stride, 0);
  for (int round = 0; round < 2; round++) {
    if (round == 1)
      ring_seek(r, r->mark_bit - 2); /* the counters wrap within the churn */
    for (int lap = 0; lap < 5; lap++) {
      for (int i = 0; i < 3; i++)
        ck_assert_int_eq(goro__ring_push(r, NULL), GORO__RING_OK);
      ck_assert_int_eq(goro__ring_push(r, NULL), GORO__RING_FULL);
      ck_assert_uint_eq(goro__ring_len(r), 3);
      for (int i = 0; i < 3; i++)
        ck_assert_int_eq(goro__ring_pop(r, NULL), GORO__RING_OK);
      ck_assert_int_eq(goro__ring_pop(r, NULL), GORO__RING_EMPTY);
      ck_assert_uint_eq(goro__ring_len(r), 0);
    }
  }
  ck_assert_int_eq(goro__ring_push(r, NULL), GORO__RING_OK);
  ck_assert(!goro__ring_close(r));
  ck_assert_int_eq(goro__ring_push(r, NULL), GORO__RING_CLOSED);
  ck_assert_int_eq(goro__ring_pop(r, NULL), GORO__RING_OK);
  ck_assert_int_eq(goro__ring_pop(r, NULL), GORO__RING_CLOSED);
  ring_free(r);
}
END_TEST

/* A producer that has claimed a slot (moved tail) and not yet published it
 * makes a pop of that slot BUSY, not EMPTY; a consumer that has claimed
 * one and not yet freed it makes the push a lap later BUSY, not FULL. The
 * waiting forms would back off instead. Simulated by moving an end by
 * hand, then finishing the other thread's step. */
START_TEST(test_busy_slots_are_not_empty_or_full)
{
  struct goro__ring *r = ring_new(sizeof(int), 2);
  int v = 7, got = 0;

  size_t t0 = atomic_load(&r->tail);
  atomic_store(&r->tail, goro__ring_next(r, t0)); /* a producer claimed t0 */
  ck_assert_int_eq(goro__ring_pop_nowait(r, &got, sizeof got), GORO__RING_BUSY);
  struct goro__ring_slot *sl = goro__ring_slot(r, t0 & (r->mark_bit - 1));
  memcpy(sl->data, &v, sizeof v);
  atomic_store(&sl->stamp, t0 + 1); /* ... and publishes */
  ck_assert_int_eq(goro__ring_pop_nowait(r, &got, sizeof got), GORO__RING_OK);
  ck_assert_int_eq(got, 7);

  for (int i = 0; i < 2; i++)
    ck_assert_int_eq(goro__ring_push(r, &i), GORO__RING_OK);
  ck_assert_int_eq(goro__ring_push_nowait(r, &v, sizeof v), GORO__RING_FULL);
  size_t h = atomic_load(&r->head);
  atomic_store(&r->head, goro__ring_next(r, h)); /* a consumer claimed h */
  ck_assert_int_eq(goro__ring_push_nowait(r, &v, sizeof v), GORO__RING_BUSY);
  atomic_store(&goro__ring_slot(r, h & (r->mark_bit - 1))->stamp, h + r->one_lap); /* frees */
  ck_assert_int_eq(goro__ring_push_nowait(r, &v, sizeof v), GORO__RING_OK);
  ring_free(r);
}
END_TEST

START_TEST(test_version_changes_with_every_operation)
{
  struct goro__ring *r = ring_new(sizeof(int), 2);
  int v = 1;
  size_t seen = goro__ring_version(r);
  ck_assert_int_eq(goro__ring_push(r, &v), GORO__RING_OK);
  ck_assert_uint_ne(goro__ring_version(r), seen);
  seen = goro__ring_version(r);
  ck_assert_int_eq(goro__ring_pop(r, &v), GORO__RING_OK);
  ck_assert_uint_ne(goro__ring_version(r), seen);
  seen = goro__ring_version(r);
  ck_assert_int_eq(goro__ring_pop(r, &v), GORO__RING_EMPTY);
  ck_assert_uint_eq(goro__ring_version(r), seen); /* a failed pop changes nothing */
  goro__ring_close(r);
  ck_assert_uint_ne(goro__ring_version(r), seen);
  ring_free(r);
}
END_TEST

/* ---- several producers and consumers ------------------------------------ */

enum { PRODUCERS = 4, CONSUMERS = 4 };

/* Values per producer. */
static long per_producer;

struct mpmc {
  struct goro__ring *r;
  _Atomic int producers_left;
  _Atomic long taken[PRODUCERS]; /* values taken, per producer */
  _Atomic long sum[PRODUCERS];   /* and their sum */
};

struct producer_arg {
  struct mpmc *m;
  int id;
};

/* Push id * per_producer + i for every i in order; the last producer to
 * finish closes the ring. */
static void *
producer(void *arg)
{
  struct producer_arg *a = arg;
  struct mpmc *m = a->m;
  for (long i = 0; i < per_producer; i++) {
    long v = (long)a->id * per_producer + i;
    while (goro__ring_push(m->r, &v) == GORO__RING_FULL)
      sched_yield();
  }
  if (atomic_fetch_sub(&m->producers_left, 1) == 1)
    goro__ring_close(m->r);
  return NULL;
}

/* Pop until closed and drained, checking each producer's order. */
static void *
consumer(void *arg)
{
  struct mpmc *m = arg;
  long last[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++)
    last[p] = -1;
  for (;;) {
    long v;
    int rc = goro__ring_pop(m->r, &v);
    if (rc == GORO__RING_CLOSED)
      return NULL;
    if (rc == GORO__RING_EMPTY) {
      sched_yield();
      continue;
    }
    int p = (int)(v / per_producer);
    long i = v % per_producer;
    EXPECT(p >= 0 && p < PRODUCERS);
    EXPECT(i > last[p]); /* each producer's values in order */
    last[p] = i;
    atomic_fetch_add(&m->taken[p], 1);
    atomic_fetch_add(&m->sum[p], i);
  }
}

static void
run_mpmc(size_t cap)
{
  static struct mpmc m;
  memset(&m, 0, sizeof m);
  m.r = ring_new(sizeof(long), cap);
  atomic_store(&m.producers_left, PRODUCERS);
  pthread_t th[PRODUCERS + CONSUMERS];
  struct producer_arg args[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++) {
    args[p] = (struct producer_arg){&m, p};
    ck_assert_int_eq(pthread_create(&th[p], NULL, producer, &args[p]), 0);
  }
  for (int c = 0; c < CONSUMERS; c++)
    ck_assert_int_eq(pthread_create(&th[PRODUCERS + c], NULL, consumer, &m), 0);
  for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
    pthread_join(th[i], NULL);
  for (int p = 0; p < PRODUCERS; p++) {
    ck_assert_int_eq(atomic_load(&m.taken[p]), per_producer);
    ck_assert_int_eq(atomic_load(&m.sum[p]), (long)per_producer * (per_producer - 1) / 2);
  }
  ck_assert_uint_eq(goro__ring_len(m.r), 0);
  ring_free(m.r);
}

START_TEST(test_mpmc_exactly_once_small_ring)
{
  run_mpmc(2);
}
END_TEST

START_TEST(test_mpmc_exactly_once_large_ring)
{
  run_mpmc(64);
}
END_TEST

static Suite *
ring_suite(void)
{
  Suite *s = suite_create("ring");
  TCase *tc = tcase_create("single thread");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_fifo_over_many_laps);
  tcase_add_test(tc, test_positions_wrap_past_size_max);
  tcase_add_test(tc, test_close_refuses_pushes_and_drains);
  tcase_add_test(tc, test_pop_discards_into_null);
  tcase_add_test(tc, test_counter_ring_counts_and_wraps);
  tcase_add_test(tc, test_busy_slots_are_not_empty_or_full);
  tcase_add_test(tc, test_version_changes_with_every_operation);
  suite_add_tcase(s, tc);
  tc = tcase_create("threads");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_mpmc_exactly_once_small_ring);
  tcase_add_test(tc, test_mpmc_exactly_once_large_ring);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  const char *scale = getenv("GORO_TEST_SCALE");
  if (scale != NULL && atof(scale) > 0)
    test_scale = atof(scale);
  per_producer = scaled(50000);
  SRunner *sr = srunner_create(ring_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  int run = srunner_ntests_run(sr);
  srunner_free(sr);
  return failed == 0 && run > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
