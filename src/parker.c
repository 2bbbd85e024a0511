/* parker.c - what parking does the same whichever way a thread sleeps:
 * waiting awake (the spin policy), the pthread wrappers, time, and the
 * assertion handler. How a thread sleeps and is woken (goro__parker_init,
 * goro__park_sleep, goro__unpark) is in parker_futex.c or parker_cond.c,
 * whichever configure chose (see parker.h); this file keeps the name
 * parker.c because it holds the parker's protocol and its entry points.
 *
 * A parker is a three-state word (enum goro__park_state):
 *   EMPTY    nothing pending; the owner is running or spinning;
 *   NOTIFIED an unpark arrived and the owner has not consumed it;
 *   SLEEPING the owner is (about to be) asleep in the kernel.
 * unpark swaps in NOTIFIED and wakes the owner only when it swapped out
 * SLEEPING; only the owner moves the word away from NOTIFIED. A waker that
 * saw EMPTY never touches the parker again, so a spinning owner that sees
 * NOTIFIED may leave at once. A waker that saw SLEEPING may touch the
 * parker after the owner has left: parkers are never freed.
 */
#include "config.h"

#include "internal.h"

#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void
goro__mu_init(pthread_mutex_t *mu)
{
  pthread_mutexattr_t a;
  goro__check_rc(pthread_mutexattr_init(&a), "pthread_mutexattr_init");
#ifdef GORO_DEBUG
  goro__check_rc(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK),
                 "pthread_mutexattr_settype");
#endif
  goro__check_rc(pthread_mutex_init(mu, &a), "pthread_mutex_init");
  pthread_mutexattr_destroy(&a);
}

/* Trylock rounds before goro__mu_lock sleeps on a lock (set by
 * goro__spin_init; 0, no spinning, on one CPU). goro's critical sections
 * are a few dozen instructions, so a lock that is taken is usually free
 * again within a fraction of a microsecond, while sleeping on it costs
 * both sides a system call and the sleeper a context switch (W1 of the
 * README's benchmark made several futex calls per round trip, all lock
 * contention, before spinning; about none after). */
static int lock_spin;

void
goro__mu_lock(pthread_mutex_t *mu)
{
  for (int i = 0; i < lock_spin; i++) {
    if (pthread_mutex_trylock(mu) == 0)
      return;
    goro__cpu_relax();
  }
  goro__check_rc(pthread_mutex_lock(mu), "pthread_mutex_lock");
}

void
goro__mu_unlock(pthread_mutex_t *mu)
{
  goro__check_rc(pthread_mutex_unlock(mu), "pthread_mutex_unlock");
}

void
goro__cond_init(pthread_cond_t *cv)
{
  pthread_condattr_t a;
  goro__check_rc(pthread_condattr_init(&a), "pthread_condattr_init");
  goro__check_rc(pthread_condattr_setclock(&a, CLOCK_MONOTONIC), "pthread_condattr_setclock");
  goro__check_rc(pthread_cond_init(cv, &a), "pthread_cond_init");
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

/* Consume a pending notification; true if there was one. */
static inline bool
consume(struct goro__parker *p)
{
  if (atomic_load_explicit(&p->state, memory_order_acquire) != GORO__PARK_NOTIFIED)
    return false;
  atomic_store_explicit(&p->state, GORO__PARK_EMPTY, memory_order_relaxed);
  GORO__HAPPENS_AFTER(p); /* valgrind: the acquire above */
  return true;
}

/* ---- the spin policy ------------------------------------------------------
 *
 * On a virtual machine a sleeping thread costs its waker a system call and
 * a context switch, and waking a thread whose CPU has gone idle costs tens
 * of microseconds more. So a thread about to block first waits awake for
 * a while: spinning with cpu_relax while its partner can run on another
 * CPU at the same time, then handing its CPU to whoever is runnable with
 * sched_yield, which also keeps the CPU from going idle. Only then does
 * it sleep. A busy program thus mostly hands off between awake threads,
 * and a blocked one burns at most SPIN_NS of CPU per blocking call.
 *
 * At most max_spinners threads wait awake at once (as Go limits spinning
 * Ms): more would only take the CPUs from the threads doing the work. Idle
 * pool workers get one slot less: with one awake, a spawner's next
 * goroutine is handed over without a wake-up, and more only crowd the
 * CPUs the goroutines need (W6 of the README's benchmark is several times
 * slower with one slot more). The counts are advisory; a wrong guess costs
 * time, never correctness.
 */
_Atomic int goro__nawake;
static _Atomic int nspinning;
int goro__ncpu = 1;
static int spin_relax;  /* cpu_relax rounds of the first phase */
static int64_t spin_ns; /* the whole awake wait, relax and yield phases */
static int max_spinners;
GORO__IGNORE_STATIC(goro__nawake); /* valgrind: advisory counts */
GORO__IGNORE_STATIC(nspinning);
/* Relax up to RELAX_NS; wait awake SPIN_NS in all: on small VMs a
 * wake-up of a sleeper costs many times a yield to a runnable thread (the
 * README's benchmark measures both: its floors F3 and F2). */
enum { RELAX_NS = 5000, SPIN_NS = 50000, RELAX_MIN = 16 };
/* How long goro__mu_lock spins on a taken lock before sleeping on it. */
enum { LOCK_SPIN_NS = 2000 };
/* An unpark this soon after relaxing gave up (a yield that found nothing
 * else to run costs about a microsecond here) means relaxing was short. */
enum { JUST_AFTER_NS = 1500 };

void
goro__spin_atfork_child(int awake)
{
  atomic_store_explicit(&goro__nawake, awake, memory_order_relaxed);
  atomic_store_explicit(&nspinning, 0, memory_order_relaxed);
}

void
goro__spin_init(void)
{
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  goro__ncpu = ncpu > 1 && !GORO__VALGRIND ? (int)ncpu : 1;
  if (goro__ncpu == 1)
    return; /* spinning on one CPU only delays the partner; valgrind runs
             * one thread at a time, as if on one CPU */
  /* The cost of one cpu_relax varies a hundredfold between CPUs, so
   * measure it. */
  enum { PROBE = 200 };
  int64_t t0 = goro__now();
  for (int i = 0; i < PROBE; i++)
    goro__cpu_relax();
  int64_t per = (goro__now() - t0) / PROBE;
  spin_relax = (int)(RELAX_NS / (per > 0 ? per : 1));
  if (spin_relax < RELAX_MIN)
    spin_relax = RELAX_MIN;
  lock_spin = (int)(LOCK_SPIN_NS / (per > 0 ? per : 1));
  if (lock_spin < RELAX_MIN)
    lock_spin = RELAX_MIN;
  spin_ns = SPIN_NS;
  /* One more than the CPUs: with one thread more than CPUs (a three-stage
   * pipeline on two) all of them yield to each other instead of one
   * sleeping on every hand-off (W7 of the README's benchmark). */
  max_spinners = goro__ncpu + 1;
}

bool
goro__park(struct goro__parker *p, int64_t deadline, bool spin)
{
  return (spin && goro__park_spin(p)) || goro__park_sleep(p, deadline);
}

bool
goro__spin_claim(bool idle)
{
  if (spin_ns == 0)
    return false;
  if (atomic_fetch_add_explicit(&nspinning, 1, memory_order_relaxed) >=
      (idle ? max_spinners - 1 : max_spinners)) {
    atomic_fetch_sub_explicit(&nspinning, 1, memory_order_relaxed);
    return false;
  }
  return true;
}

/* Wait awake, with a claimed slot, until done(arg) (true) or the awake
 * wait is over (false); gives the slot back. *relax is the caller's
 * cpu_relax budget, which adapts: it doubles when relaxing caught the
 * event, or when the event came just after relaxing gave up (a few more
 * rounds would have caught it), and halves otherwise (a busy machine, a
 * partner sharing our CPU, or one that blocks for long). A budget that
 * grew only on catches would collapse for good once a partner took a
 * little longer than it. A partner running on another CPU usually
 * answers within a microsecond; whether it runs is unknown, hence the
 * adapting. Relaxing takes a CPU that a runnable thread may need, so it
 * is skipped while more threads are awake than CPUs, unless
 * relax_crowded: idle workers polling for goroutines count among the
 * awake the very threads they wait for, the spawners and the goroutines
 * about to finish (W6 after any other workload, whose main thread then
 * counts, is several times slower without relaxing). */
static inline __attribute__((always_inline)) bool
spin_until(bool (*done)(void *), void *arg, int *relax, bool relax_crowded)
{
  bool got = false;
  int budget = *relax > 0 ? *relax : spin_relax;
  bool relaxed = false;
  if (relax_crowded || atomic_load_explicit(&goro__nawake, memory_order_relaxed) <= goro__ncpu) {
    relaxed = true;
    for (int i = 0; i < budget && !(got = done(arg)); i++)
      goro__cpu_relax();
  }
  bool soon = got;
  if (!got) {
    int64_t start = goro__now(), end = start + spin_ns;
    do {
      sched_yield();
    } while (!(got = done(arg)) && goro__now() < end);
    soon = got && goro__now() - start < JUST_AFTER_NS;
  }
  if (relaxed) {
    budget = soon ? budget * 2 : budget / 2;
    *relax = budget > spin_relax ? spin_relax : budget < RELAX_MIN ? RELAX_MIN : budget;
  }
  atomic_fetch_sub_explicit(&nspinning, 1, memory_order_relaxed);
  return got;
}

static bool
consume_cb(void *p)
{
  return consume(p);
}

bool
goro__park_spin(struct goro__parker *p)
{
  if (consume(p))
    return true;
  if (!goro__spin_claim(false))
    return consume(p);
  return spin_until(consume_cb, p, &p->relax, false) || consume(p);
}

bool
goro__spin_claimed_until(bool (*done)(void *), void *arg, int *relax)
{
  return spin_until(done, arg, relax, true);
}

bool
goro__park_timed_out(struct goro__parker *p)
{
  int expect = GORO__PARK_SLEEPING;
  return !atomic_compare_exchange_strong_explicit(&p->state, &expect, GORO__PARK_EMPTY,
                                                  memory_order_acq_rel, memory_order_acquire);
}
