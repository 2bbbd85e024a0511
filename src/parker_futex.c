/* parker_futex.c - the parker's sleep on futex(2): the owner sleeps on
 * the state word itself, one system call per side (see parker.c for the
 * state word's protocol, parker.h for the choice of variant).
 *
 * Chosen by configure when <linux/futex.h> and SYS_futex are there, the
 * C library's time_t is the kernel's long (SYS_futex takes a timespec of
 * longs; a 64-bit time_t on a 32-bit ABI would need SYS_futex_time64),
 * and the build is not for valgrind. The word is only touched with
 * atomics: no lock is held while sleeping or waking.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if !GORO__PARKER_FUTEX
#error "parker_futex.c is built only when configure defines GORO__PARKER_FUTEX to 1"
#endif

_Static_assert(sizeof(time_t) == sizeof(long), "SYS_futex takes a timespec of longs");

void
goro__parker_init(struct goro__parker *p)
{
  atomic_init(&p->state, GORO__PARK_EMPTY);
  p->relax = 0;
}

/* futex(2) on the state word. Waits while it holds val, until the absolute
 * CLOCK_MONOTONIC deadline (NULL: none). */
static int
futex_wait(_Atomic int *word, int val, const struct timespec *deadline)
{
  long rc = syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val, deadline, NULL,
                    FUTEX_BITSET_MATCH_ANY);
  return rc == 0 ? 0 : errno;
}

static void
futex_wake_one(_Atomic int *word)
{
  syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
}

/* The owner publishes SLEEPING before it waits, and the kernel checks the
 * word under its own lock: an unpark that swapped in NOTIFIED before the
 * wait makes the wait return at once (EAGAIN); one after it finds the
 * owner queued and wakes it. A wake that reaches a later park of the same
 * thread is spurious, and harmless: the owner loops on the state. */
bool
goro__park_sleep(struct goro__parker *p, int64_t deadline)
{
  int expect = GORO__PARK_EMPTY;
  if (!atomic_compare_exchange_strong_explicit(&p->state, &expect, GORO__PARK_SLEEPING,
                                               memory_order_acq_rel, memory_order_acquire)) {
    atomic_store_explicit(&p->state, GORO__PARK_EMPTY, memory_order_relaxed); /* NOTIFIED */
    return true;
  }
  struct timespec ts, *tsp = NULL;
  if (deadline >= 0) {
    ts.tv_sec = (time_t)(deadline / GORO_SECOND);
    ts.tv_nsec = (long)(deadline % GORO_SECOND);
    tsp = &ts;
  }
  bool woken = true;
  atomic_fetch_sub_explicit(&goro__nawake, 1, memory_order_relaxed);
  while (atomic_load_explicit(&p->state, memory_order_acquire) != GORO__PARK_NOTIFIED) {
    int rc = futex_wait(&p->state, GORO__PARK_SLEEPING, tsp);
    if (rc == ETIMEDOUT) {
      woken = goro__park_timed_out(p);
      break;
    }
    GORO__ASSERT(rc == 0 || rc == EAGAIN || rc == EINTR);
  }
  if (woken)
    atomic_store_explicit(&p->state, GORO__PARK_EMPTY, memory_order_relaxed);
  atomic_fetch_add_explicit(&goro__nawake, 1, memory_order_relaxed);
  return woken;
}

void
goro__unpark(struct goro__parker *p)
{
  int old = atomic_exchange_explicit(&p->state, GORO__PARK_NOTIFIED, memory_order_acq_rel);
  GORO__ASSERT(old != GORO__PARK_NOTIFIED);
  if (old == GORO__PARK_SLEEPING)
    futex_wake_one(&p->state); /* parkers are never freed: p is still valid */
}
