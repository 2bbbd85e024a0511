/* check_go.c - goroutines: goro_go, goro_go_named, goro_self,
 * goro_num_goroutine and the pooled spawner (goro_go(3)).
 *
 * GORO_TEST_SCALE (a factor, default 1) shrinks the heavy tests, for slow
 * sanitizer builds and valgrind.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, open_memstream */

#include <goro.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

/* ---- Helpers ----------------------------------------------------------- */

/* Poll goro_num_goroutine until it equals want or 2 s pass; return it. */
static size_t
num_goroutine_settles_at(size_t want)
{
  int64_t deadline = goro_now() + 2 * GORO_SECOND;
  size_t n;
  while ((n = goro_num_goroutine()) != want && goro_now() < deadline)
    nap(1 * MS);
  return n;
}

/* Threads that ran at least one goroutine: a fresh thread has a fresh
 * thread-local flag, so reused threads are counted once. */
static atomic_size_t threads_seen;
static _Thread_local int thread_seen;

static void
note_thread(void)
{
  if (!thread_seen) {
    thread_seen = 1;
    atomic_fetch_add(&threads_seen, 1);
  }
}

/* ---- goro_go ----------------------------------------------------------- */

struct job {
  int64_t in;
  int64_t out;
  uint64_t self;
  goro_wg *wg;
};

static void
job_main(void *arg)
{
  struct job *j = arg;
  j->out = j->in * 2 + 1;
  j->self = goro_self();
  goro_wg_done(j->wg);
}

START_TEST(test_go_runs_fn_with_its_arg)
{
  enum { N = 64 };
  goro_wg *wg = wg_make_checked();
  struct job jobs[N];
  for (int i = 0; i < N; i++) {
    jobs[i] = (struct job){.in = i, .out = -1, .wg = wg};
    ck_assert_int_eq(goro_wg_add(wg, 1), 0);
    go_checked(job_main, &jobs[i]);
  }
  goro_wg_wait(wg);
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(jobs[i].out, 2 * i + 1);
  goro_wg_free(wg);
}
END_TEST

/* A goroutine that blocks on gate until it is closed. */
struct gated {
  goro_chan *gate;
  uint64_t self_before, self_after;
  int rc;
  goro_wg *arrived, *finished;
};

static void
gated_main(void *arg)
{
  struct gated *g = arg;
  g->self_before = goro_self();
  if (g->arrived != NULL)
    goro_wg_done(g->arrived);
  g->rc = goro_chan_recv(g->gate, NULL);
  g->self_after = goro_self();
  goro_wg_done(g->finished);
}

static char *
dump_to_string(void)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  goro_dump(f);
  fclose(f);
  ck_assert_ptr_nonnull(buf);
  return buf;
}

START_TEST(test_go_named_runs_fn_and_shows_a_copy_of_the_name_in_dumps)
{
  goro_chan *gate = chan_make_checked(0, 0);
  goro_wg *finished = wg_make_checked();
  char name[] = "thumbnail-worker-7";
  struct gated g = {.gate = gate, .finished = finished};
  ck_assert_int_eq(goro_wg_add(finished, 1), 0);
  ck_assert_int_eq(goro_go_named(name, gated_main, &g), 0);
  memset(name, 'Z', sizeof name - 1); /* the name was copied */

  char *dump = dump_to_string();
  ck_assert_msg(strstr(dump, "thumbnail-worker-7") != NULL, "name missing from dump:\n%s", dump);
  free(dump);

  ck_assert_int_eq(goro_chan_close(gate), 0);
  goro_wg_wait(finished);
  ck_assert_int_eq(g.rc, 0);
  ck_assert_uint_ge(g.self_before, 1);
  goro_wg_free(finished);
  goro_chan_release(gate);
}
END_TEST

START_TEST(test_go_named_truncates_a_long_name_to_63_bytes)
{
  goro_chan *gate = chan_make_checked(0, 0);
  goro_wg *finished = wg_make_checked();
  char name[101];
  for (size_t i = 0; i < sizeof name - 1; i++)
    name[i] = (char)('A' + i % 26);
  name[sizeof name - 1] = '\0';
  struct gated g = {.gate = gate, .finished = finished};
  ck_assert_int_eq(goro_wg_add(finished, 1), 0);
  ck_assert_int_eq(goro_go_named(name, gated_main, &g), 0);

  char *dump = dump_to_string();
  char prefix[65];
  memcpy(prefix, name, 63);
  prefix[63] = '\0';
  ck_assert_msg(strstr(dump, prefix) != NULL, "63-byte prefix missing from dump:\n%s", dump);
  memcpy(prefix, name, 64);
  prefix[64] = '\0';
  ck_assert_msg(strstr(dump, prefix) == NULL, "name not truncated in dump:\n%s", dump);
  free(dump);

  ck_assert_int_eq(goro_chan_close(gate), 0);
  goro_wg_wait(finished);
  goro_wg_free(finished);
  goro_chan_release(gate);
}
END_TEST

/* ---- goro_self --------------------------------------------------------- */

static void *
foreign_self_main(void *arg)
{
  *(uint64_t *)arg = goro_self();
  return NULL;
}

START_TEST(test_go_self_is_zero_outside_goroutines)
{
  ck_assert_uint_eq(goro_self(), 0);
  uint64_t id = 99;
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, foreign_self_main, &id), 0);
  ck_assert_int_eq(pthread_join(t, NULL), 0);
  ck_assert_uint_eq(id, 0);
  /* Still 0 after the main thread has used the library. */
  goro_wg *wg = wg_make_checked();
  struct job j = {.wg = wg};
  ck_assert_int_eq(goro_wg_add(wg, 1), 0);
  go_checked(job_main, &j);
  goro_wg_wait(wg);
  ck_assert_uint_eq(goro_self(), 0);
  goro_wg_free(wg);
}
END_TEST

static int
cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

START_TEST(test_go_self_is_positive_stable_and_distinct_among_live_goroutines)
{
  enum { N = 200 };
  goro_chan *gate = chan_make_checked(0, 0);
  goro_wg *arrived = wg_make_checked();
  goro_wg *finished = wg_make_checked();
  struct gated *g = calloc(N, sizeof *g);
  ck_assert_ptr_nonnull(g);
  ck_assert_int_eq(goro_wg_add(arrived, N), 0);
  ck_assert_int_eq(goro_wg_add(finished, N), 0);
  for (int i = 0; i < N; i++) {
    g[i] = (struct gated){.gate = gate, .arrived = arrived, .finished = finished};
    go_checked(gated_main, &g[i]);
  }
  goro_wg_wait(arrived); /* all N are alive at once */
  ck_assert_int_eq(goro_chan_close(gate), 0);
  goro_wg_wait(finished);

  uint64_t ids[N];
  for (int i = 0; i < N; i++) {
    ck_assert_uint_ge(g[i].self_before, 1);
    ck_assert_uint_eq(g[i].self_after, g[i].self_before);
    ids[i] = g[i].self_before;
  }
  qsort(ids, N, sizeof ids[0], cmp_u64);
  for (int i = 1; i < N; i++)
    ck_assert_msg(ids[i] != ids[i - 1], "two live goroutines share id %llu",
                  (unsigned long long)ids[i]);
  free(g);
  goro_wg_free(arrived);
  goro_wg_free(finished);
  goro_chan_release(gate);
}
END_TEST

START_TEST(test_go_self_differs_for_sequential_goroutines_on_reused_threads)
{
  enum { N = 1000 };
  goro_wg *wg = wg_make_checked();
  uint64_t *ids = calloc(N, sizeof *ids);
  ck_assert_ptr_nonnull(ids);
  for (int i = 0; i < N; i++) {
    struct job j = {.wg = wg};
    ck_assert_int_eq(goro_wg_add(wg, 1), 0);
    go_checked(job_main, &j);
    goro_wg_wait(wg);
    ck_assert_uint_ge(j.self, 1);
    ids[i] = j.self;
  }
  qsort(ids, N, sizeof ids[0], cmp_u64);
  for (int i = 1; i < N; i++)
    ck_assert_msg(ids[i] != ids[i - 1], "two goroutines got id %llu", (unsigned long long)ids[i]);
  free(ids);
  goro_wg_free(wg);
}
END_TEST

/* ---- goro_num_goroutine ------------------------------------------------ */

START_TEST(test_go_num_goroutine_counts_started_and_not_returned)
{
  enum { N = 10 };
  ck_assert_uint_eq(goro_num_goroutine(), 0); /* the main thread is not one */
  goro_chan *gate = chan_make_checked(0, 0);
  goro_wg *finished = wg_make_checked();
  struct gated g[N];
  ck_assert_int_eq(goro_wg_add(finished, N), 0);
  for (int i = 0; i < N; i++) {
    g[i] = (struct gated){.gate = gate, .finished = finished};
    go_checked(gated_main, &g[i]);
    ck_assert_uint_ge(goro_num_goroutine(), (size_t)i + 1);
  }
  ck_assert_uint_eq(num_goroutine_settles_at(N), N);
  nap(20 * MS);
  ck_assert_uint_eq(goro_num_goroutine(), N); /* blocked ones stay counted */

  /* Release half of them. */
  for (int i = 0; i < N / 2; i++)
    ck_assert_int_eq(goro_chan_send(gate, NULL), 0);
  ck_assert_uint_eq(num_goroutine_settles_at(N - N / 2), N - N / 2);
  ck_assert_int_eq(goro_chan_close(gate), 0);
  goro_wg_wait(finished);
  ck_assert_uint_eq(num_goroutine_settles_at(0), 0);
  goro_wg_free(finished);
  goro_chan_release(gate);
}
END_TEST

/* ---- The pool ---------------------------------------------------------- */

static void
counted_done_main(void *arg)
{
  note_thread();
  goro_wg_done(arg);
}

START_TEST(test_go_sequential_short_goroutines_reuse_pooled_threads)
{
  size_t n = scaled(100000);
  goro_wg *wg = wg_make_checked();
  for (size_t i = 0; i < n; i++) {
    ck_assert_int_eq(goro_wg_add(wg, 1), 0);
    int rc = goro_go(counted_done_main, wg);
    ck_assert_msg(rc == 0, "goroutine %zu: goro_go: %s", i, goro_strerror(rc));
    goro_wg_wait(wg);
  }
  size_t threads = atomic_load(&threads_seen);
  ck_assert_uint_ge(threads, 1);
  ck_assert_msg(threads < 1000, "%zu goroutines used %zu threads", n, threads);
  goro_wg_free(wg);
}
END_TEST

START_TEST(test_go_batches_of_short_goroutines_reuse_pooled_threads)
{
  enum { BATCH = 16 };
  size_t n = scaled(100000);
  goro_wg *wg = wg_make_checked();
  for (size_t i = 0; i < n; i += BATCH) {
    ck_assert_int_eq(goro_wg_add(wg, BATCH), 0);
    for (int k = 0; k < BATCH; k++) {
      int rc = goro_go(counted_done_main, wg);
      ck_assert_msg(rc == 0, "goroutine %zu: goro_go: %s", i + k, goro_strerror(rc));
    }
    goro_wg_wait(wg);
  }
  size_t threads = atomic_load(&threads_seen);
  ck_assert_uint_ge(threads, 1);
  ck_assert_msg(threads < 1000, "%zu goroutines used %zu threads", n, threads);
  goro_wg_free(wg);
}
END_TEST

/* Spawners race idle workers for hand-offs: bursts of short goroutines
 * from several threads, separated by pauses about as long as an idle
 * worker waits awake, so that workers often give up waiting just as a
 * goroutine is promised to them. Each goroutine must run exactly once. */
enum { RACE_SPAWNERS = 3 };

/* One goroutine's argument: its slot in ran, and the WaitGroup. */
struct race_cell {
  atomic_uchar *ran;
  goro_wg *wg;
};

struct race {
  atomic_uchar *ran;
  goro_wg *wg;
  size_t first, n;
  unsigned seed;
  int rc;
};

static void
race_goroutine_main(void *arg)
{
  struct race_cell *c = arg;
  atomic_fetch_add(c->ran, 1);
  goro_wg_done(c->wg);
  free(c);
}

static void *
race_spawner_main(void *arg)
{
  struct race *r = arg;
  size_t i = r->first, end = r->first + r->n;
  while (i < end && r->rc == 0) {
    unsigned burst = 1 + rand_r(&r->seed) % 8;
    for (unsigned k = 0; k < burst && i < end; k++, i++) {
      struct race_cell *c = malloc(sizeof *c);
      if (c == NULL) {
        r->rc = GORO_ENOMEM;
        break;
      }
      *c = (struct race_cell){&r->ran[i], r->wg};
      r->rc = goro_go(race_goroutine_main, c);
      if (r->rc != 0) {
        free(c);
        break;
      }
    }
    nap((int64_t)(rand_r(&r->seed) % 120) * GORO_MICROSECOND);
  }
  return NULL;
}

START_TEST(test_go_spawners_racing_idle_workers_lose_no_goroutine)
{
  size_t per = scaled(20000), n = per * RACE_SPAWNERS;
  atomic_uchar *ran = calloc(n, sizeof *ran);
  ck_assert_ptr_nonnull(ran);
  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(wg, (int)n), 0);
  struct race r[RACE_SPAWNERS];
  pthread_t th[RACE_SPAWNERS];
  for (int k = 0; k < RACE_SPAWNERS; k++) {
    r[k] = (struct race){.ran = ran, .wg = wg, .first = per * k, .n = per, .seed = 7u + k};
    ck_assert_int_eq(pthread_create(&th[k], NULL, race_spawner_main, &r[k]), 0);
  }
  for (int k = 0; k < RACE_SPAWNERS; k++) {
    ck_assert_int_eq(pthread_join(th[k], NULL), 0);
    ck_assert_msg(r[k].rc == 0, "spawner %d: goro_go: %s", k, goro_strerror(r[k].rc));
  }
  goro_wg_wait(wg); /* a lost goroutine hangs here: the case times out */
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(atomic_load(&ran[i]) == 1, "goroutine %zu ran %d times", i, (int)ran[i]);
  goro_wg_free(wg);
  free(ran);
}
END_TEST

/* A goroutine handed to a worker that waits awake for work still carries
 * its name into dumps, and its own id. */
START_TEST(test_go_named_goroutines_on_reused_workers_show_their_names)
{
  for (int round = 0; round < 50; round++) {
    /* A short goroutine first, so that a worker is idle and awake. */
    goro_wg *wg = wg_make_checked();
    ck_assert_int_eq(goro_wg_add(wg, 1), 0);
    go_checked(counted_done_main, wg);
    goro_wg_wait(wg);

    goro_chan *gate = chan_make_checked(0, 0);
    struct gated g = {.gate = gate, .arrived = wg, .finished = wg_make_checked()};
    ck_assert_int_eq(goro_wg_add(g.arrived, 1), 0);
    ck_assert_int_eq(goro_wg_add(g.finished, 1), 0);
    char name[32];
    snprintf(name, sizeof name, "reused-%d", round);
    ck_assert_int_eq(goro_go_named(name, gated_main, &g), 0);
    goro_wg_wait(g.arrived);
    char *dump = dump_to_string();
    ck_assert_msg(strstr(dump, name) != NULL, "round %d: name missing from dump:\n%s", round, dump);
    free(dump);
    ck_assert_int_eq(goro_chan_close(gate), 0);
    goro_wg_wait(g.finished);
    ck_assert_uint_ge(g.self_before, 1);
    ck_assert_uint_eq(g.self_before, g.self_after);
    goro_wg_free(g.finished);
    goro_wg_free(wg);
    goro_chan_release(gate);
  }
}
END_TEST

/* ---- Where goro_go may be called from ---------------------------------- */

enum { NEST_DEPTH = 100 };

struct nest {
  int depth;
  uint64_t ids[NEST_DEPTH];
  int rc[NEST_DEPTH];
  goro_wg *wg;
};

struct nest_frame {
  struct nest *n;
  int depth;
};

static struct nest_frame frames[NEST_DEPTH];

static void
nest_main(void *arg)
{
  struct nest_frame *f = arg;
  struct nest *n = f->n;
  n->ids[f->depth] = goro_self();
  if (f->depth + 1 < NEST_DEPTH) {
    frames[f->depth + 1] = (struct nest_frame){.n = n, .depth = f->depth + 1};
    n->rc[f->depth] = goro_go(nest_main, &frames[f->depth + 1]);
  }
  /* The parent returns while its child may still be running. */
  goro_wg_done(n->wg);
}

START_TEST(test_go_from_a_goroutine_starts_a_new_goroutine)
{
  struct nest n = {.wg = wg_make_checked()};
  ck_assert_int_eq(goro_wg_add(n.wg, NEST_DEPTH), 0);
  frames[0] = (struct nest_frame){.n = &n, .depth = 0};
  go_checked(nest_main, &frames[0]);
  goro_wg_wait(n.wg);
  for (int i = 0; i + 1 < NEST_DEPTH; i++)
    ck_assert_msg(n.rc[i] == 0, "depth %d: goro_go: %s", i, goro_strerror(n.rc[i]));
  for (int i = 0; i < NEST_DEPTH; i++) {
    ck_assert_uint_ge(n.ids[i], 1);
    if (i > 0)
      ck_assert_uint_ne(n.ids[i], n.ids[i - 1]);
  }
  goro_wg_free(n.wg);
}
END_TEST

struct foreign {
  goro_chan *c;
  uint64_t self_foreign; /* goro_self() in the foreign thread */
  uint64_t self_child;   /* sent back by the goroutine */
  int go_rc, recv_rc;
};

static void
report_self_main(void *arg)
{
  goro_chan *c = arg;
  uint64_t id = goro_self();
  goro_chan_send(c, &id);
  goro_chan_release(c);
}

static void *
foreign_main(void *arg)
{
  struct foreign *f = arg;
  f->self_foreign = goro_self();
  f->go_rc = goro_go(report_self_main, goro_chan_retain(f->c));
  if (f->go_rc != 0)
    goro_chan_release(f->c);
  else
    f->recv_rc = goro_chan_recv(f->c, &f->self_child); /* blocks in a foreign thread */
  return NULL;
}

START_TEST(test_go_from_a_foreign_pthread_starts_a_goroutine)
{
  struct foreign f = {.c = chan_make_checked(sizeof(uint64_t), 0), .self_foreign = 99};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, foreign_main, &f), 0);
  ck_assert_int_eq(pthread_join(t, NULL), 0);
  ck_assert_uint_eq(f.self_foreign, 0);
  ck_assert_int_eq(f.go_rc, 0);
  ck_assert_int_eq(f.recv_rc, 1);
  ck_assert_uint_ge(f.self_child, 1);
  goro_chan_release(f.c);
}
END_TEST

/* ---- Many goroutines blocked at once ----------------------------------- */

struct barrier_member {
  goro_wg *arrived, *finished;
};

static void
barrier_member_main(void *arg)
{
  struct barrier_member *b = arg;
  goro_wg_done(b->arrived);
  goro_wg_wait(b->arrived); /* every member must be running at once */
  goro_wg_done(b->finished);
}

START_TEST(test_go_never_waits_for_a_free_worker)
{
  const int N = (int)scaled(1000);
  struct barrier_member b = {.arrived = wg_make_checked(), .finished = wg_make_checked()};
  ck_assert_int_eq(goro_wg_add(b.arrived, N), 0);
  ck_assert_int_eq(goro_wg_add(b.finished, N), 0);
  for (int i = 0; i < N; i++) {
    int rc = goro_go(barrier_member_main, &b);
    ck_assert_msg(rc == 0, "goroutine %d: goro_go: %s", i, goro_strerror(rc));
  }
  goro_wg_wait(b.finished);
  goro_wg_free(b.arrived);
  goro_wg_free(b.finished);
}
END_TEST

struct taker {
  goro_chan *c;
  int64_t v;
  int rc;
  goro_wg *wg;
};

static void
taker_main(void *arg)
{
  struct taker *t = arg;
  t->rc = goro_chan_recv(t->c, &t->v);
  goro_wg_done(t->wg);
}

START_TEST(test_go_thousand_goroutines_blocked_at_once_are_all_released)
{
  const int N = (int)scaled(1000);
  goro_chan *c = chan_make_checked(sizeof(int64_t), 0);
  goro_wg *wg = wg_make_checked();
  struct taker *t = calloc(N, sizeof *t);
  ck_assert_ptr_nonnull(t);
  ck_assert_int_eq(goro_wg_add(wg, N), 0);
  for (int i = 0; i < N; i++) {
    t[i] = (struct taker){.c = c, .v = -1, .wg = wg};
    go_checked(taker_main, &t[i]);
  }
  ck_assert_uint_eq(num_goroutine_settles_at(N), N);
  for (int64_t v = 0; v < N; v++)
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
  goro_wg_wait(wg);
  char *seen = calloc(N, 1);
  ck_assert_ptr_nonnull(seen);
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(t[i].rc, 1);
    ck_assert(t[i].v >= 0 && t[i].v < N);
    ck_assert_msg(!seen[t[i].v], "value %lld received twice", (long long)t[i].v);
    seen[t[i].v] = 1;
  }
  ck_assert_uint_eq(num_goroutine_settles_at(0), 0);
  free(seen);
  free(t);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* ---- Suite ------------------------------------------------------------- */

static Suite *
go_suite(void)
{
  Suite *s = suite_create("go");
  TCase *tc;

  tc = tcase_make("go", 20);
  tcase_add_test(tc, test_go_runs_fn_with_its_arg);
  tcase_add_test(tc, test_go_named_runs_fn_and_shows_a_copy_of_the_name_in_dumps);
  tcase_add_test(tc, test_go_named_truncates_a_long_name_to_63_bytes);
  tcase_add_test(tc, test_go_from_a_goroutine_starts_a_new_goroutine);
  tcase_add_test(tc, test_go_from_a_foreign_pthread_starts_a_goroutine);
  suite_add_tcase(s, tc);

  tc = tcase_make("self", 20);
  tcase_add_test(tc, test_go_self_is_zero_outside_goroutines);
  tcase_add_test(tc, test_go_self_is_positive_stable_and_distinct_among_live_goroutines);
  tcase_add_test(tc, test_go_self_differs_for_sequential_goroutines_on_reused_threads);
  suite_add_tcase(s, tc);

  tc = tcase_make("num_goroutine", 20);
  tcase_add_test(tc, test_go_num_goroutine_counts_started_and_not_returned);
  suite_add_tcase(s, tc);

  tc = tcase_make("pool", 60);
  tcase_add_test(tc, test_go_sequential_short_goroutines_reuse_pooled_threads);
  tcase_add_test(tc, test_go_batches_of_short_goroutines_reuse_pooled_threads);
  tcase_add_test(tc, test_go_spawners_racing_idle_workers_lose_no_goroutine);
  tcase_add_test(tc, test_go_named_goroutines_on_reused_workers_show_their_names);
  tcase_add_test(tc, test_go_never_waits_for_a_free_worker);
  tcase_add_test(tc, test_go_thousand_goroutines_blocked_at_once_are_all_released);
  suite_add_tcase(s, tc);

  return s;
}

int
main(void)
{
  return run_suite(go_suite());
}
