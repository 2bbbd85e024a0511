/* parker_cond.c - the parker's sleep on a mutex and a condvar (see
 * parker.c for the state word's protocol, parker.h for the choice of
 * variant).
 *
 * Chosen by configure where futex(2) is not found, and in GORO_VALGRIND
 * builds, whose checkers see pthread primitives, not futexes.
 * Invariant: the owner moves its state word EMPTY -> SLEEPING, and waits,
 * only with p->mu held; a waker that swapped out SLEEPING takes and drops
 * p->mu before it signals p->cv. p->mu is a leaf (lock order 5 in
 * internal.h), held only inside goro__park_sleep and goro__unpark.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <time.h>

#if GORO__PARKER_FUTEX
#error "parker_cond.c is built only when configure defines GORO__PARKER_FUTEX to 0"
#endif

void
goro__parker_init(struct goro__parker *p)
{
  atomic_init(&p->state, GORO__PARK_EMPTY);
  GORO__IGNORE_VAR(p->state); /* valgrind: the edge is annotated instead */
  p->relax = 0;
  goro__mu_init(&p->mu);
  goro__cond_init(&p->cv);
}

/* The owner moves EMPTY -> SLEEPING only with the mutex held, and waits on
 * the condvar without releasing it in between, so a signal cannot fall
 * between its check and its wait. */
bool
goro__park_sleep(struct goro__parker *p, int64_t deadline)
{
  goro__mu_lock(&p->mu);
  int expect = GORO__PARK_EMPTY;
  if (!atomic_compare_exchange_strong_explicit(&p->state, &expect, GORO__PARK_SLEEPING,
                                               memory_order_acq_rel, memory_order_acquire)) {
    /* NOTIFIED arrived meanwhile. */
    atomic_store_explicit(&p->state, GORO__PARK_EMPTY, memory_order_relaxed);
    GORO__HAPPENS_AFTER(p); /* valgrind: the acquire of the CAS */
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
  while (atomic_load_explicit(&p->state, memory_order_acquire) != GORO__PARK_NOTIFIED) {
    if (deadline < 0) {
      goro__check_rc(pthread_cond_wait(&p->cv, &p->mu), "pthread_cond_wait");
      continue;
    }
    int rc = pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    if (rc == ETIMEDOUT) {
      woken = goro__park_timed_out(p);
      break;
    }
    goro__check_rc(rc, "pthread_cond_timedwait");
  }
  if (woken) {
    atomic_store_explicit(&p->state, GORO__PARK_EMPTY, memory_order_relaxed);
    GORO__HAPPENS_AFTER(p); /* valgrind: the acquire that saw NOTIFIED */
  }
  goro__mu_unlock(&p->mu);
  atomic_fetch_add_explicit(&goro__nawake, 1, memory_order_relaxed);
  return woken;
}

void
goro__unpark(struct goro__parker *p)
{
  GORO__HAPPENS_BEFORE(p); /* valgrind: the release of the exchange */
  int old = atomic_exchange_explicit(&p->state, GORO__PARK_NOTIFIED, memory_order_acq_rel);
  GORO__ASSERT(old != GORO__PARK_NOTIFIED);
  if (old == GORO__PARK_SLEEPING) {
    /* Taking the mutex waits until the owner is inside pthread_cond_wait;
     * signalling after dropping it spares the woken owner from blocking
     * on the mutex we would still hold. A signal that finds the owner
     * gone is harmless: it loops on state. */
    goro__mu_lock(&p->mu);
    goro__mu_unlock(&p->mu);
    goro__check_rc(pthread_cond_signal(&p->cv), "pthread_cond_signal");
  }
}
