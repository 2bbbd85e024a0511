/* check_oom.c - goro when memory runs out.
 *
 * This program defines malloc, calloc, realloc and free itself, so that
 * every allocation in the process (libgoro's, and the C library's on its
 * behalf, such as a new thread's TLS) goes through them; they forward to
 * glibc's __libc_malloc family. A scenario that makes channels,
 * WaitGroups, goroutines, a closer, time.After and a ticker, and selects
 * with more than 16 cases (select's heap path), runs in a fresh child
 * process once per N, with the Nth allocation failing (or, in the second
 * test, the Nth and every later one). For every N: nothing crashes or
 * hangs; every call succeeds or returns its documented error; every value
 * whose send succeeded is received exactly once, and no other; and once
 * the goroutines are done, nothing libgoro allocated is left, except its
 * recycled thread records and the timer heap, which live as long as the
 * process.
 *
 * The sanitizers own malloc: under ASan, MSan or TSan (UNDER_SANITIZER in
 * testutil.h) this suite is skipped (exit status 77). GORO_TEST_SCALE
 * below 1 tests only every k-th N.
 */
#include "config.h" /* first: src/parker.h sizes struct goro__parker by it */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr */
#endif

#include <goro.h>

#include <errno.h>
#include <link.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h" /* sizeof(struct goro__thread): records are kept for reuse */
#include "testutil.h"

#if !UNDER_SANITIZER

/* ---- The allocator ----------------------------------------------------- */

void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void __libc_free(void *p);

/* Failure injection: while armed, allocations are counted (from 1), and
 * number fail_at fails (with persistent, every later one too). */
static atomic_bool oom_armed;
static atomic_bool oom_persistent;
static _Atomic long oom_calls;
static _Atomic long oom_fail_at; /* 0: none fails */
static _Atomic long oom_injected;

/* libgoro's code: allocations made from there are tracked. */
static uintptr_t goro_lo, goro_hi, goro_base;
static atomic_bool oom_tracking;

enum { TRACK_SLOTS = 1 << 14 };
#define TOMBSTONE ((void *)1)
static struct tracked {
  void *p;
  size_t size;
  void *caller;
} track[TRACK_SLOTS];
static atomic_flag track_lock = ATOMIC_FLAG_INIT;
static _Atomic long track_live;
static _Atomic long track_overflow;

static void
track_acquire(void)
{
  while (atomic_flag_test_and_set_explicit(&track_lock, memory_order_acquire)) {
  }
}

static void
track_release(void)
{
  atomic_flag_clear_explicit(&track_lock, memory_order_release);
}

static size_t
track_hash(void *p)
{
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x & (TRACK_SLOTS - 1);
}

static void
track_add(void *p, size_t size, void *caller)
{
  track_acquire();
  size_t i = track_hash(p);
  for (size_t k = 0; k < TRACK_SLOTS; k++, i = (i + 1) & (TRACK_SLOTS - 1)) {
    if (track[i].p == NULL || track[i].p == TOMBSTONE) {
      track[i] = (struct tracked){p, size, caller};
      atomic_fetch_add(&track_live, 1);
      track_release();
      return;
    }
  }
  atomic_fetch_add(&track_overflow, 1);
  track_release();
}

/* Forget p; returns whether it was tracked. */
static bool
track_remove(void *p)
{
  if (atomic_load_explicit(&track_live, memory_order_relaxed) == 0)
    return false;
  track_acquire();
  size_t i = track_hash(p);
  for (size_t k = 0; k < TRACK_SLOTS && track[i].p != NULL; k++, i = (i + 1) & (TRACK_SLOTS - 1)) {
    if (track[i].p == p) {
      track[i].p = TOMBSTONE;
      atomic_fetch_sub(&track_live, 1);
      track_release();
      return true;
    }
  }
  track_release();
  return false;
}

static bool
should_fail(void)
{
  if (!atomic_load_explicit(&oom_armed, memory_order_relaxed))
    return false;
  long n = atomic_fetch_add(&oom_calls, 1) + 1;
  long at = atomic_load_explicit(&oom_fail_at, memory_order_relaxed);
  if (at == 0 || n < at || (n > at && !atomic_load(&oom_persistent)))
    return false;
  atomic_fetch_add(&oom_injected, 1);
  return true;
}

/* Allocations of struct goro__thread are the recycled thread records:
 * they are kept on purpose. Reallocations (the timer heap) too. */
static void
maybe_track(void *p, size_t size, void *caller)
{
  if (p != NULL && atomic_load_explicit(&oom_tracking, memory_order_relaxed) &&
      (uintptr_t)caller >= goro_lo && (uintptr_t)caller < goro_hi &&
      size != sizeof(struct goro__thread))
    track_add(p, size, caller);
}

void *
malloc(size_t n)
{
  if (should_fail()) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = __libc_malloc(n);
  maybe_track(p, n, __builtin_return_address(0));
  return p;
}

void *
calloc(size_t n, size_t size)
{
  if (should_fail()) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = __libc_calloc(n, size);
  maybe_track(p, n * size, __builtin_return_address(0));
  return p;
}

void *
realloc(void *p, size_t n)
{
  if (n != 0 && should_fail()) {
    errno = ENOMEM;
    return NULL;
  }
  bool tracked = p != NULL && track_remove(p);
  void *q = __libc_realloc(p, n);
  if (q == NULL && n != 0 && tracked)
    track_add(p, 0, __builtin_return_address(0)); /* p stays */
  else if (tracked)
    maybe_track(q, n, __builtin_return_address(0));
  return q;
}

void
free(void *p)
{
  if (p != NULL)
    track_remove(p);
  __libc_free(p);
}

static int
find_goro(struct dl_phdr_info *info, size_t size, void *data)
{
  (void)size;
  uintptr_t fn = (uintptr_t)data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
      continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (fn >= lo && fn < hi) {
      goro_lo = lo;
      goro_hi = hi;
      goro_base = info->dlpi_addr;
      return 1;
    }
  }
  return 0;
}

/* ---- Children ---------------------------------------------------------- */

/* Shared with each child. */
struct report {
  long calls;    /* allocations counted while armed */
  long injected; /* of which failed on purpose */
  char msg[1024];
};
static struct report *rep;

static void
child_fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
child_fail(int line, const char *fmt, ...)
{
  atomic_store(&oom_armed, false);
  if (rep->msg[0] != '\0')
    return;
  int k = snprintf(rep->msg, sizeof rep->msg, "line %d: ", line);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rep->msg + k, sizeof rep->msg - (size_t)k, fmt, ap);
  va_end(ap);
}

#define REQUIRE(cond, ...)                                                                         \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      child_fail(__LINE__, __VA_ARGS__);                                                           \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

/* For failures outside the main thread: remembered, checked at the end. */
#define NOTE(cond, ...)                                                                            \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      child_fail(__LINE__, __VA_ARGS__);                                                           \
  } while (0)

static bool
is_alloc_error(int rc)
{
  return rc == GORO_ENOMEM || rc == GORO_EAGAIN;
}

/* ---- The scenario ------------------------------------------------------ */

enum { PRODUCERS = 4, PER_PRODUCER = 6, NVALUES = PRODUCERS * PER_PRODUCER, BIG_SELECT = 20 };

struct item {
  int id;
  int check;
};

static struct {
  goro_chan *ch[2]; /* unbuffered, cap 4 */
  _Atomic int sent[NVALUES];     /* send returned 0 */
  _Atomic int received[NVALUES]; /* times received */
  atomic_int producers_done;
  bool closer_started[2];
} sc;

struct producer {
  int index;
  goro_chan *c;
};

static void
producer_main(void *arg)
{
  struct producer *p = arg;
  for (int i = 0; i < PER_PRODUCER; i++) {
    int id = p->index * PER_PRODUCER + i;
    struct item it = {id, id * 7 + 3};
    int rc = goro_chan_send(p->c, &it);
    NOTE(rc == 0, "producer send returned %d", rc);
    if (rc == 0)
      atomic_store(&sc.sent[id], 1);
  }
  atomic_fetch_add(&sc.producers_done, 1);
}

static void
got(const struct item *it)
{
  if (it->id < 0 || it->id >= NVALUES || it->check != it->id * 7 + 3) {
    child_fail(__LINE__, "corrupt value %d/%d", it->id, it->check);
    return;
  }
  atomic_fetch_add(&sc.received[it->id], 1);
}

/* A goroutine receiving from the buffered channel beside the main thread. */
static void
consumer_main(void *arg)
{
  goro_chan *c = arg;
  struct item it;
  int rc;
  while ((rc = goro_chan_recv(c, &it)) == 1)
    got(&it);
  NOTE(rc == 0, "consumer recv returned %d", rc);
}

/* Receive until both channels are closed and drained, with a select of
 * BIG_SELECT cases (nil channels and duplicates among them), falling back
 * to polling when the select has no memory. Closes a channel itself when
 * its closer could not be started and every producer has finished. */
static int
consume(int producers)
{
  bool open[2] = {sc.ch[0] != NULL, sc.ch[1] != NULL};
  struct item items[BIG_SELECT];
  int which[BIG_SELECT]; /* channel index of each case, or -1 */
  int64_t deadline = goro_now() + 20 * GORO_SECOND;
  while (open[0] || open[1]) {
    REQUIRE(goro_now() < deadline, "the values never stopped coming");
    goro_case cs[BIG_SELECT];
    for (int i = 0; i < BIG_SELECT; i++) {
      int k = i < 2 ? i : i >= BIG_SELECT - 2 ? i - (BIG_SELECT - 2) : -1;
      which[i] = k >= 0 && open[k] ? k : -1;
      cs[i] = GORO_RECV_CASE(which[i] >= 0 ? sc.ch[k] : NULL, &items[i]);
    }
    int rc = goro_select(cs, BIG_SELECT, 5 * GORO_MILLISECOND);
    if (rc >= 0) {
      REQUIRE(which[rc] >= 0, "select chose nil case %d", rc);
      if (cs[rc].ok)
        got(&items[rc]);
      else
        open[which[rc]] = false;
      continue;
    }
    REQUIRE(rc == GORO_ETIMEDOUT || rc == GORO_ENOMEM, "select returned %d", rc);
    if (rc == GORO_ENOMEM) {
      for (int k = 0; k < 2; k++) {
        if (!open[k])
          continue;
        struct item it;
        int r = goro_chan_tryrecv(sc.ch[k], &it);
        REQUIRE(r == 1 || r == 0 || r == GORO_EAGAIN, "tryrecv returned %d", r);
        if (r == 1)
          got(&it);
        else if (r == 0)
          open[k] = false;
      }
      goro_sleep(GORO_MILLISECOND);
    }
    if (atomic_load(&sc.producers_done) == producers) {
      for (int k = 0; k < 2; k++) {
        if (open[k] && !sc.closer_started[k]) {
          int r = goro_chan_close(sc.ch[k]);
          REQUIRE(r == 0 || r == GORO_EPIPE, "close returned %d", r);
        }
      }
    }
  }
  return 0;
}

static void
napper_main(void *arg)
{
  (void)arg;
  goro_sleep(2 * GORO_MILLISECOND);
}

static int
scenario(void)
{
  memset(&sc, 0, sizeof sc);
  /* The main thread's first wait (it needs a thread record then). */
  goro_wg *first = goro_wg_make();
  REQUIRE(first != NULL || errno == ENOMEM, "goro_wg_make: NULL with errno %d", errno);
  if (first != NULL) {
    int rc = goro_wg_go(first, napper_main, NULL);
    REQUIRE(rc == 0 || is_alloc_error(rc), "goro_wg_go returned %d", rc);
    goro_wg_wait(first);
    goro_wg_free(first);
  }

  goro_wg *wg = goro_wg_make();
  REQUIRE(wg != NULL || errno == ENOMEM, "goro_wg_make: NULL with errno %d", errno);
  for (int k = 0; k < 2; k++) {
    sc.ch[k] = goro_chan_make(sizeof(struct item), k == 0 ? 0 : 4);
    REQUIRE(sc.ch[k] != NULL || errno == ENOMEM, "goro_chan_make: NULL with errno %d", errno);
  }

  static struct producer prod[PRODUCERS];
  int producers = 0;
  for (int p = 0; p < PRODUCERS; p++) {
    prod[p] = (struct producer){.index = p, .c = sc.ch[p % 2]};
    if (wg == NULL || prod[p].c == NULL)
      continue;
    int rc = goro_wg_go(wg, producer_main, &prod[p]);
    REQUIRE(rc == 0 || is_alloc_error(rc), "goro_wg_go returned %d", rc);
    producers += rc == 0;
  }
  /* The consumer has a WaitGroup of its own: the closers wait for wg. */
  goro_wg *cwg = goro_wg_make();
  REQUIRE(cwg != NULL || errno == ENOMEM, "goro_wg_make: NULL with errno %d", errno);
  if (sc.ch[1] != NULL && cwg != NULL) {
    int rc = goro_wg_go(cwg, consumer_main, sc.ch[1]);
    REQUIRE(rc == 0 || is_alloc_error(rc), "goro_wg_go returned %d", rc);
  }
  for (int k = 0; k < 2; k++) {
    if (wg == NULL || sc.ch[k] == NULL)
      continue;
    int rc = goro_closer(wg, sc.ch[k]);
    REQUIRE(rc == 0 || is_alloc_error(rc), "goro_closer returned %d", rc);
    sc.closer_started[k] = rc == 0;
  }
  if (consume(producers) != 0)
    return 1;
  goro_wg_wait(wg);
  goro_wg_wait(cwg);
  goro_wg_free(cwg);

  /* Every value whose send succeeded arrived once; no other did. */
  for (int id = 0; id < NVALUES; id++) {
    int s = atomic_load(&sc.sent[id]), r = atomic_load(&sc.received[id]);
    REQUIRE(r == s, "value %d: sent %d, received %d times", id, s, r);
  }

  /* A non-blocking select of more than 16 cases: ready, or out of memory. */
  if (sc.ch[1] != NULL) {
    goro_case cs[BIG_SELECT];
    struct item it;
    for (int i = 0; i < BIG_SELECT; i++)
      cs[i] = GORO_RECV_CASE(i == 7 ? sc.ch[1] : NULL, &it);
    int rc = goro_select(cs, BIG_SELECT, 0);
    REQUIRE((rc == 7 && !cs[7].ok) || rc == GORO_ENOMEM, "select on a closed channel: %d", rc);
  }

  /* time.After and a ticker. */
  goro_chan *a = goro_after(GORO_MILLISECOND);
  REQUIRE(a != NULL || errno == ENOMEM || errno == EAGAIN, "goro_after: NULL with errno %d",
          errno);
  if (a != NULL) {
    int64_t v = 0;
    int rc = goro_chan_recv(a, &v);
    REQUIRE((rc == 1 && v > 0) || rc == GORO_ENOMEM, "recv from goro_after: %d", rc);
    goro_chan_release(a);
  }
  goro_chan *b = goro_after(GORO_SECOND); /* released before it fires */
  goro_chan_release(b);
  goro_ticker *t = goro_ticker_make(GORO_MILLISECOND);
  REQUIRE(t != NULL || errno == ENOMEM || errno == EAGAIN, "goro_ticker_make: NULL, errno %d",
          errno);
  if (t != NULL) {
    for (int i = 0; i < 2; i++) {
      goro_case cs[2] = {GORO_RECV_CASE(goro_ticker_chan(t), NULL), GORO_RECV_CASE(NULL, NULL)};
      int rc = goro_select(cs, 2, 5 * GORO_SECOND);
      REQUIRE(rc == 0 || rc == GORO_ENOMEM, "select on a ticker: %d", rc);
    }
    goro_ticker_stop(t);
  }
  goro_sleep(GORO_MICROSECOND);

  goro_chan_release(sc.ch[0]);
  goro_chan_release(sc.ch[1]);
  goro_wg_free(wg);
  return 0;
}

/* One run in a fresh child: fail allocation fail_at (0: none). */
static int
child_main(long fail_at, bool persistent)
{
  atomic_store(&oom_fail_at, fail_at);
  atomic_store(&oom_persistent, persistent);
  atomic_store(&oom_tracking, true);
  atomic_store(&oom_armed, true);
  int rc = scenario();
  atomic_store(&oom_armed, false);
  rep->calls = atomic_load(&oom_calls);
  rep->injected = atomic_load(&oom_injected);
  if (rc != 0)
    return rc;
  if (rep->msg[0] != '\0')
    return 1; /* a goroutine noted a failure */
  if (goro_leakcheck(10 * GORO_SECOND, stderr) != 0) {
    child_fail(__LINE__, "goroutines did not finish");
    return 1;
  }
  if (atomic_load(&track_overflow) != 0) {
    child_fail(__LINE__, "allocation tracking overflowed");
    return 1;
  }
  long live = atomic_load(&track_live);
  if (live != 0) {
    char *m = rep->msg;
    size_t len = sizeof rep->msg;
    int k = snprintf(m, len, "%ld allocation(s) of libgoro's leaked (addr2line -e libgoro each +offset):", live);
    track_acquire();
    for (size_t i = 0; i < TRACK_SLOTS && k < (int)len - 64; i++)
      if (track[i].p != NULL && track[i].p != TOMBSTONE)
        k += snprintf(m + k, len - (size_t)k, " %zu bytes from %p (+%#lx);", track[i].size,
                      track[i].caller, (unsigned long)((uintptr_t)track[i].caller - goro_base));
    track_release();
    return 1;
  }
  return 0;
}

/* Run child_main in a child process; returns its wait status (-1: hung,
 * killed). */
static int
run_child(long fail_at, bool persistent)
{
  memset(rep, 0, sizeof *rep);
  fflush(NULL);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0)
    _exit(child_main(fail_at, persistent));
  int64_t deadline = goro_now() + 60 * GORO_SECOND;
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid)
      return st;
    if (goro_now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    nap(MS);
  }
}

static void
assert_ok(int st, long n, bool persistent)
{
  const char *which = persistent ? "allocations from number" : "allocation number";
  ck_assert_msg(st != -1, "%s %ld failing: the child hung", which, n);
  ck_assert_msg(!WIFSIGNALED(st), "%s %ld failing: the child died of signal %d (%s) %s", which,
                n, WTERMSIG(st), strsignal(WTERMSIG(st)), rep->msg);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s %ld failing: exit status %d: %s",
                which, n, WEXITSTATUS(st), rep->msg[0] ? rep->msg : "(no message)");
}

/* Every k-th N, k = 1 / GORO_TEST_SCALE. */
static long
stride(void)
{
  const char *s = getenv("GORO_TEST_SCALE");
  double f = s != NULL ? strtod(s, NULL) : 1.0;
  if (!(f > 0) || f >= 1)
    return 1;
  long k = (long)(1 / f);
  return k > 1 ? k : 1;
}

static void
fail_each(bool persistent)
{
  /* A clean run: it must pass, and it tells how many allocations there are. */
  int st = run_child(0, false);
  assert_ok(st, 0, persistent);
  long total = rep->calls;
  ck_assert_int_gt(total, 10);
  long step = stride(), tested = 0, injected = 0, misses = 0;
  /* The count varies a little from run to run (threads race): go on
   * until several N in a row found nothing left to fail. */
  for (long n = 1; misses < 3 && n < 4 * total + 100; n += step) {
    st = run_child(n, persistent);
    assert_ok(st, n, persistent);
    tested++;
    if (rep->injected > 0) {
      injected++;
      misses = 0;
    } else {
      misses++;
    }
  }
  fprintf(stderr, "check_oom: %s: %ld allocations in a clean run; %ld runs, %ld with a failure\n",
          persistent ? "from N on" : "N-th only", total, tested, injected);
  ck_assert_int_gt(injected, 0);
}

/* ---- Tests ------------------------------------------------------------- */

START_TEST(test_oom_each_single_allocation_failure_is_survived)
{
  fail_each(false);
}
END_TEST

START_TEST(test_oom_all_allocations_failing_from_each_point_on_is_survived)
{
  fail_each(true);
}
END_TEST

static Suite *
oom_suite(void)
{
  Suite *s = suite_create("oom");
  TCase *tc = tcase_make("oom", 240);
  tcase_add_test(tc, test_oom_each_single_allocation_failure_is_survived);
  tcase_add_test(tc, test_oom_all_allocations_failing_from_each_point_on_is_survived);
  suite_add_tcase(s, tc);
  return s;
}

/* Whether this program's malloc is the one in use: valgrind, for one,
 * replaces it with its own. */
static bool
interposed(void)
{
  void *(*volatile m)(size_t) = malloc;
  atomic_store(&oom_armed, true);
  void *p = m(16);
  atomic_store(&oom_armed, false);
  free(p);
  bool ours = atomic_load(&oom_calls) == 1;
  atomic_store(&oom_calls, 0);
  return ours;
}

int
main(void)
{
  if (!interposed()) {
    fprintf(stderr, "check_oom: skipped: malloc is not this program's (valgrind?)\n");
    return 77;
  }
  dl_iterate_phdr(find_goro, (void *)(uintptr_t)goro_chan_make);
  if (goro_hi == 0) {
    fprintf(stderr, "check_oom: cannot find libgoro's code\n");
    return EXIT_FAILURE;
  }
  rep = mmap(NULL, sizeof *rep, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (rep == MAP_FAILED)
    return EXIT_FAILURE;
  return run_suite(oom_suite());
}

#else /* UNDER_SANITIZER */

int
main(void)
{
  fprintf(stderr, "check_oom: skipped: the sanitizer owns malloc\n");
  return 77;
}

#endif
