/* wg.c - WaitGroup, and the closer goroutine of section 8.5.
 *
 * One atomic word, state, holds
 *   bits  0-31  the counter (0 <= n <= INT32_MAX, as Go's);
 *   bits 32-54  the generation: how many times the counter reached zero
 *               (mod 2^23);
 *   bits 55-62  busy: adds that brought the counter to zero and have not
 *               finished waking its waiters (at most BUSY_MAX);
 *   bit  63     freed: goro_wg_free came while busy was not zero.
 * add changes the counter with a CAS and takes no lock; the add that
 * brings it to zero, in the same CAS, starts a new generation and counts
 * itself busy, then takes wg->mu to wake the waiters of the generation
 * that ended.
 *
 * A waiter reads state under wg->mu and, if the counter is not zero,
 * queues itself under the same hold with the generation g it saw. The
 * zero that ends g comes after that read, and its add takes wg->mu after
 * its CAS, so after the waiter has queued: that add finds the waiter and
 * wakes it. An add wakes only the waiters of exactly the generation it
 * ended, so a late one cannot wake a waiter that began after a later rise
 * (unless it is delayed across 2^23 zeros). Every wait thus returns once a
 * zero came after it began, and not before.
 *
 * A waiter may see the counter at zero and return, and its caller free the
 * WaitGroup, while the add that made the zero still has to take wg->mu:
 * goro_wg_free then only sets freed, and the last busy add frees.
 *
 * Invariant, under wg->mu: a queued waiter's gen is the current generation
 * or the one just ended, whose add is busy. Lock order: wg->mu, then a
 * parker's (if any).
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <time.h>

#define COUNTER_MASK UINT64_C(0xffffffff)
#define GEN_SHIFT    32
#define GEN_MASK     ((UINT64_C(1) << 23) - 1)
#define BUSY_SHIFT   55
#define BUSY_MAX     UINT64_C(0xff)
#define BUSY_ONE     (UINT64_C(1) << BUSY_SHIFT)
#define FREED        (UINT64_C(1) << 63)

struct goro_wg {
  _Atomic uint64_t state;
  pthread_mutex_t mu;           /* guards waiters */
  struct goro__waiter *waiters; /* blocked in goro_wg_wait */
};

static inline uint32_t
counter_of(uint64_t s)
{
  return (uint32_t)(s & COUNTER_MASK);
}

static inline uint32_t
gen_of(uint64_t s)
{
  return (uint32_t)(s >> GEN_SHIFT & GEN_MASK);
}

static inline uint64_t
busy_of(uint64_t s)
{
  return s >> BUSY_SHIFT & BUSY_MAX;
}

/* The state word's atomics, each with the edge it stands for told to
 * valgrind (annotate.h). Every read-modify-write is acq_rel; a load that
 * finds the counter at zero acquires, and so happens after every done. */
static inline uint64_t
state_or(goro_wg *wg, uint64_t bits)
{
  GORO__HAPPENS_BEFORE(&wg->state);
  uint64_t s = atomic_fetch_or_explicit(&wg->state, bits, memory_order_acq_rel);
  GORO__HAPPENS_AFTER(&wg->state);
  return s;
}

static inline uint64_t
state_sub(goro_wg *wg, uint64_t v)
{
  GORO__HAPPENS_BEFORE(&wg->state);
  uint64_t s = atomic_fetch_sub_explicit(&wg->state, v, memory_order_acq_rel);
  GORO__HAPPENS_AFTER(&wg->state);
  return s;
}

/* Replace *s by next if the state is still *s; else reload *s. */
static inline bool
state_cas(goro_wg *wg, uint64_t *s, uint64_t next)
{
  GORO__HAPPENS_BEFORE(&wg->state);
  if (!atomic_compare_exchange_weak_explicit(&wg->state, s, next, memory_order_acq_rel,
                                             memory_order_relaxed))
    return false;
  GORO__HAPPENS_AFTER(&wg->state);
  return true;
}

/* The state, for a waiter: acquire, annotated when the counter is zero. */
static inline uint64_t
state_load(goro_wg *wg)
{
  uint64_t s = atomic_load_explicit(&wg->state, memory_order_acquire);
  if (counter_of(s) == 0)
    GORO__HAPPENS_AFTER(&wg->state);
  return s;
}

goro_wg *
goro_wg_make(void)
{
  goro_wg *wg = malloc(sizeof *wg);
  if (wg == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  atomic_init(&wg->state, 0);
  GORO__IGNORE_VAR(wg->state); /* valgrind: its edges are annotated */
  goro__mu_init(&wg->mu);
  wg->waiters = NULL;
  return wg;
}

static void
destroy(goro_wg *wg)
{
  pthread_mutex_destroy(&wg->mu);
  free(wg);
}

void
goro_wg_free(goro_wg *wg)
{
  if (wg == NULL)
    return;
  uint64_t s = state_or(wg, FREED);
  if (busy_of(s) == 0)
    destroy(wg);
}

/* The counter reached zero, starting generation gen: wake the waiters of
 * the one before, then stop being busy. */
static void
wake_ended(goro_wg *wg, uint32_t gen)
{
  uint32_t ended = (gen - 1) & GEN_MASK;
  struct goro__waiter *wake = NULL, **pp, *w;
  goro__mu_lock(&wg->mu);
  pp = &wg->waiters;
  while ((w = *pp) != NULL) {
    if (w->gen == ended) {
      *pp = w->next;
      w->next = wake;
      wake = w;
    } else {
      pp = &w->next;
    }
  }
  goro__mu_unlock(&wg->mu);
  uint64_t s = state_sub(wg, BUSY_ONE);
  if (busy_of(s) == 1 && (s & FREED) != 0) {
    destroy(wg);
  }
  while (wake != NULL) {
    w = wake;
    wake = w->next; /* read before the owner may return */
    goro__wake(w->t);
  }
}

int
goro_wg_add(goro_wg *wg, int64_t delta)
{
  if (wg == NULL)
    return GORO_EINVAL;
  uint64_t s = atomic_load_explicit(&wg->state, memory_order_relaxed), next;
  int64_t n;
  bool zero;
  for (;;) {
    if (__builtin_add_overflow((int64_t)counter_of(s), delta, &n) || n < 0 || n > INT32_MAX)
      return GORO_ERANGE;
    next = (s & ~COUNTER_MASK) | (uint64_t)n;
    zero = n == 0 && counter_of(s) != 0;
    if (zero) {
      if (busy_of(s) == BUSY_MAX) { /* rare: wait for one to finish */
        sched_yield();
        s = atomic_load_explicit(&wg->state, memory_order_relaxed);
        continue;
      }
      uint64_t gen = (gen_of(s) + 1) & GEN_MASK;
      next = (next & ~(GEN_MASK << GEN_SHIFT)) | gen << GEN_SHIFT;
      next += BUSY_ONE;
    }
    if (state_cas(wg, &s, next))
      break;
  }
  if (zero)
    wake_ended(wg, gen_of(next));
  return 0;
}

int
goro_wg_done(goro_wg *wg)
{
  return goro_wg_add(wg, -1);
}

void
goro_wg_wait(goro_wg *wg)
{
  if (wg == NULL)
    return;
  if (counter_of(state_load(wg)) == 0)
    return;
  struct goro__thread *t = goro__self(); /* before the lock: see internal.h */
  if (t == NULL) {
    /* No memory for this thread's record: poll instead of parking. */
    while (counter_of(state_load(wg)) != 0) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
    return;
  }
  goro__mu_lock(&wg->mu);
  uint64_t s = state_load(wg);
  if (counter_of(s) == 0) {
    goro__mu_unlock(&wg->mu);
    return;
  }
  struct goro__waiter me = {.t = t, .next = wg->waiters, .gen = gen_of(s)};
  wg->waiters = &me;
  goro__block_begin(t, GORO__WG_WAIT, GORO__BLOCKED_FOREVER, NULL, NULL);
  goro__mu_unlock(&wg->mu);
  goro__block_wait(t, -1, true);
  goro__block_end(t);
}

/* goro_wg_go's goroutine, once its function returns (go.c's then). */
static void
wg_then_done(void *wg)
{
  goro_wg_done(wg);
}

int
goro_wg_go(goro_wg *wg, goro_fn *fn, void *arg)
{
  if (wg == NULL || fn == NULL)
    return GORO_EINVAL;
  int rc = goro_wg_add(wg, 1);
  if (rc < 0)
    return rc;
  rc = goro__go(NULL, fn, arg, wg_then_done, wg);
  if (rc < 0)
    goro_wg_add(wg, -1);
  return rc;
}

struct closer {
  goro_wg *wg;
  goro_chan *c;
};

static void
closer_main(void *arg)
{
  struct closer cl = *(struct closer *)arg;
  free(arg);
  goro_wg_wait(cl.wg);
  goro_chan_close(cl.c);
  goro_chan_release(cl.c);
}

int
goro_closer(goro_wg *wg, goro_chan *c)
{
  if (wg == NULL || c == NULL)
    return GORO_EINVAL;
  struct closer *cl = malloc(sizeof *cl);
  if (cl == NULL)
    return GORO_ENOMEM;
  cl->wg = wg;
  cl->c = goro_chan_retain(c);
  int rc = goro_go_named("closer", closer_main, cl);
  if (rc < 0) {
    goro_chan_release(c);
    free(cl);
  }
  return rc;
}
