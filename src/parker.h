/* parker.h - per-thread park/unpark and the spin policy.
 *
 * Implemented in three files: parker.c (what does not depend on how a
 * thread sleeps: the spin policy, waiting awake, time, the pthread
 * wrappers) and one of two sleep variants, chosen by configure:
 *   parker_futex.c  the owner sleeps on the state word with futex(2);
 *   parker_cond.c   a mutex and a condvar carry the sleep (no futex, or a
 *                   GORO_VALGRIND build, whose checkers see pthread
 *                   primitives, not futexes).
 * configure defines GORO__PARKER_FUTEX in config.h to 1 or 0 for them.
 * The layout of struct goro__parker follows it, and struct goro__parker
 * is embedded in struct goro__thread: every file that includes this
 * header must include config.h first, or it would see another layout
 * than the library (test/check_oom.c sizes thread records from it).
 */
#ifndef GORO_PARKER_H
#define GORO_PARKER_H

#ifndef GORO__PARKER_FUTEX
#error "include config.h before parker.h: struct goro__parker's layout depends on it"
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- Parker (parker.c, parker_futex.c or parker_cond.c) ---------------- */

/* A parker's state word. unpark swaps in NOTIFIED; only the owner moves
 * it away from NOTIFIED, and only the owner moves EMPTY -> SLEEPING. */
enum goro__park_state {
  GORO__PARK_EMPTY = 0,    /* nothing pending; the owner runs or spins */
  GORO__PARK_NOTIFIED = 1, /* an unpark arrived; the owner has not consumed it */
  GORO__PARK_SLEEPING = 2, /* the owner is (about to be) asleep in the kernel */
};

/* One per thread that ever blocks in goro. state is an enum
 * goro__park_state. A parker is never freed (thread records are
 * recycled), so a waker may still touch it after the sleeper has gone. */
struct goro__parker {
  _Atomic int state;
  int relax; /* the owner's cpu_relax budget (parker.c); 0: the default */
#if !GORO__PARKER_FUTEX
  pthread_mutex_t mu; /* guards the SLEEPING -> wait transition */
  pthread_cond_t cv;
#endif
};

void goro__parker_init(struct goro__parker *p);
/* Measure the CPU and set the spin policy (once, at init). */
void goro__spin_init(void);
/* Wait for an unpark, first awake (goro__park_spin) if spin is set.
 * deadline is an absolute goro_now() time, or < 0 for none. Returns true
 * when unparked, false when the deadline passed first. */
bool goro__park(struct goro__parker *p, int64_t deadline, bool spin);
/* The two halves of goro__park: wait awake for a bounded time, spinning
 * and yielding the CPU, watching for an unpark (true if one came), if an
 * awake slot is free; sleep until an unpark (true) or the deadline
 * (false). */
bool goro__park_spin(struct goro__parker *p);
bool goro__park_sleep(struct goro__parker *p, int64_t deadline);
/* Waiting awake for something else than an unpark, in two steps: claim
 * an awake slot (false: none free; idle: the caller is an idle pool
 * worker, which gets fewer slots), then wait awake with it until
 * done(arg) (true) or the awake time is over (false), with the cpu_relax
 * budget *relax (see goro__parker.relax); that gives the slot back. */
bool goro__spin_claim(bool idle);
bool goro__spin_claimed_until(bool (*done)(void *), void *arg, int *relax);

/* Threads with a record that are not asleep in goro__park_sleep, and the
 * CPUs online: the spin policy's inputs (parker.c). */
extern _Atomic int goro__nawake;
extern int goro__ncpu;
/* In a fork child: awake threads are just the caller (awake is 0 or 1). */
void goro__spin_atfork_child(int awake);
/* Is the owner of p asleep in the kernel (a snapshot)? */
static inline bool
goro__parker_asleep(struct goro__parker *p)
{
  return atomic_load_explicit(&p->state, memory_order_relaxed) == GORO__PARK_SLEEPING;
}
/* Wake the owner of p. Each park is ended by at most one unpark. */
void goro__unpark(struct goro__parker *p);

int64_t goro__now(void);
/* goro__now() + ns, saturating at INT64_MAX (ns >= 0). */
int64_t goro__deadline(int64_t ns);

/* ---- For the sleep variants (parker.c) --------------------------------- */

/* The deadline passed while the owner of p slept: back to EMPTY, unless
 * an unpark swapped in NOTIFIED first (then the owner takes it). Returns
 * whether one did. Called by the owner only. */
bool goro__park_timed_out(struct goro__parker *p);

#endif
