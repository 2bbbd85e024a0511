/* parker.c - per-thread park/unpark, and the pthread wrappers.
 *
 * A parker is a three-state flag with a mutex and a condvar behind it:
 *   EMPTY    nothing pending; the owner is running or spinning;
 *   NOTIFIED an unpark arrived and the owner has not consumed it;
 *   SLEEPING the owner is (about to be) in pthread_cond_wait.
 * unpark swaps in NOTIFIED; only when it swapped out SLEEPING does it take
 * and drop the mutex, then signal. The owner moves EMPTY -> SLEEPING only with the
 * mutex held, and waits on the condvar without releasing it in between, so
 * a signal cannot fall between its check and its wait. A waker that saw
 * EMPTY never touches the parker again, so a spinning owner that sees
 * NOTIFIED may leave at once. A waker that saw SLEEPING still takes the
 * mutex after the owner may have left: parkers are never freed.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

enum { PARK_EMPTY = 0, PARK_NOTIFIED = 1, PARK_SLEEPING = 2 };

void
goro__assert_fail(const char *expr, const char *file, int line, const char *func)
{
  fprintf(stderr, "goro: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
  abort();
}

static void
check_rc(int rc, const char *what)
{
  if (GORO__UNLIKELY(rc != 0)) {
    fprintf(stderr, "goro: %s failed: %s\n", what, strerror(rc));
    abort();
  }
}

void
goro__mu_init(pthread_mutex_t *mu)
{
  pthread_mutexattr_t a;
  check_rc(pthread_mutexattr_init(&a), "pthread_mutexattr_init");
#ifdef GORO_DEBUG
  check_rc(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), "pthread_mutexattr_settype");
#endif
  check_rc(pthread_mutex_init(mu, &a), "pthread_mutex_init");
  pthread_mutexattr_destroy(&a);
}

void
goro__mu_lock(pthread_mutex_t *mu)
{
  check_rc(pthread_mutex_lock(mu), "pthread_mutex_lock");
}

void
goro__mu_unlock(pthread_mutex_t *mu)
{
  check_rc(pthread_mutex_unlock(mu), "pthread_mutex_unlock");
}

void
goro__cond_init(pthread_cond_t *cv)
{
  pthread_condattr_t a;
  check_rc(pthread_condattr_init(&a), "pthread_condattr_init");
  check_rc(pthread_condattr_setclock(&a, CLOCK_MONOTONIC), "pthread_condattr_setclock");
  check_rc(pthread_cond_init(cv, &a), "pthread_cond_init");
  pthread_condattr_destroy(&a);
}

int64_t
goro__now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * GORO_SECOND + ts.tv_nsec;
}

int64_t
goro__deadline(int64_t ns)
{
  int64_t now = goro__now();
  return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

void
goro__parker_init(struct goro__parker *p)
{
  atomic_init(&p->state, PARK_EMPTY);
  goro__mu_init(&p->mu);
  goro__cond_init(&p->cv);
}

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Consume a pending notification; true if there was one. */
static inline bool
consume(struct goro__parker *p)
{
  if (atomic_load_explicit(&p->state, memory_order_acquire) != PARK_NOTIFIED)
    return false;
  atomic_store_explicit(&p->state, PARK_EMPTY, memory_order_relaxed);
  return true;
}

bool
goro__park(struct goro__parker *p, int64_t deadline, int spin)
{
  return goro__park_spin(p, spin, spin > 0 ? 2 : 0) || goro__park_sleep(p, deadline);
}

/* Spinning pays only while a partner can run on another CPU at the same
 * time: with more awake goro threads than CPUs, or a spinner on every CPU
 * already, a spinner only delays the thread it waits for (Go's canSpin
 * makes the same call). Both counts are advisory. */
_Atomic int goro__nawake;
static _Atomic int nspinning;
int goro__ncpu = 1;

void
goro__spin_atfork_child(int awake)
{
  atomic_store_explicit(&goro__nawake, awake, memory_order_relaxed);
  atomic_store_explicit(&nspinning, 0, memory_order_relaxed);
}

bool
goro__park_spin(struct goro__parker *p, int spin, int yields)
{
  if (spin <= 0)
    return consume(p);
  bool crowded = atomic_load_explicit(&goro__nawake, memory_order_relaxed) > goro__ncpu;
  if (!crowded && atomic_fetch_add_explicit(&nspinning, 1, memory_order_relaxed) >= goro__ncpu) {
    atomic_fetch_sub_explicit(&nspinning, 1, memory_order_relaxed);
    crowded = true;
  }
  if (crowded) {
    /* No CPU to spin on: offer ours to the partner a few times, which is
     * cheaper than a sleep and a wake-up when it is runnable. */
    for (int i = 0; i < yields; i++) {
      sched_yield();
      if (consume(p))
        return true;
    }
    return consume(p);
  }
  /* A partner on another core usually answers within a microsecond, far
   * sooner than a sleep and a wake-up cost. Yielding afterwards lets a
   * partner that shares our core run. */
  bool got = false;
  for (int i = 0; i < spin && !got; i++) {
    got = consume(p);
    cpu_relax();
  }
  for (int i = 0; i < yields && !got; i++) {
    sched_yield();
    got = consume(p);
  }
  atomic_fetch_sub_explicit(&nspinning, 1, memory_order_relaxed);
  return got || consume(p);
}

bool
goro__park_sleep(struct goro__parker *p, int64_t deadline)
{
  goro__mu_lock(&p->mu);
  int expect = PARK_EMPTY;
  if (!atomic_compare_exchange_strong_explicit(&p->state, &expect, PARK_SLEEPING,
                                               memory_order_acq_rel, memory_order_acquire)) {
    /* NOTIFIED arrived meanwhile. */
    atomic_store_explicit(&p->state, PARK_EMPTY, memory_order_relaxed);
    goro__mu_unlock(&p->mu);
    return true;
  }
  struct timespec ts;
  if (deadline >= 0) {
    ts.tv_sec = (time_t)(deadline / GORO_SECOND);
    ts.tv_nsec = (long)(deadline % GORO_SECOND);
  }
  bool woken = true;
  atomic_fetch_sub_explicit(&goro__nawake, 1, memory_order_relaxed);
  while (atomic_load_explicit(&p->state, memory_order_acquire) != PARK_NOTIFIED) {
    if (deadline < 0) {
      check_rc(pthread_cond_wait(&p->cv, &p->mu), "pthread_cond_wait");
      continue;
    }
    int rc = pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    if (rc == ETIMEDOUT) {
      expect = PARK_SLEEPING;
      if (atomic_compare_exchange_strong_explicit(&p->state, &expect, PARK_EMPTY,
                                                  memory_order_acq_rel, memory_order_acquire))
        woken = false;
      break; /* else NOTIFIED won the race: take it */
    }
    check_rc(rc, "pthread_cond_timedwait");
  }
  if (woken)
    atomic_store_explicit(&p->state, PARK_EMPTY, memory_order_relaxed);
  goro__mu_unlock(&p->mu);
  atomic_fetch_add_explicit(&goro__nawake, 1, memory_order_relaxed);
  return woken;
}

void
goro__unpark(struct goro__parker *p)
{
  int old = atomic_exchange_explicit(&p->state, PARK_NOTIFIED, memory_order_acq_rel);
  GORO__ASSERT(old != PARK_NOTIFIED);
  if (old == PARK_SLEEPING) {
    /* Taking the mutex waits until the owner is inside pthread_cond_wait;
     * signalling after dropping it spares the woken owner from blocking
     * on the mutex we would still hold. A signal that finds the owner
     * gone is harmless: it loops on state. */
    goro__mu_lock(&p->mu);
    goro__mu_unlock(&p->mu);
    check_rc(pthread_cond_signal(&p->cv), "pthread_cond_signal");
  }
}
