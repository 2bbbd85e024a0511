/* go.c - goroutines: the pooled spawner, and thread records.
 *
 * goro_go hands (fn, arg) to an idle worker, or starts a new detached
 * thread when none is idle; it never waits for a worker beyond a bounded
 * spin (promise_wait). A worker that finishes its function goes idle: it
 * first waits awake for a while, polling the hand-off ring, where goro_go
 * looks first; then asleep on the idle stack, where goro_go looks next;
 * one asleep longer than IDLE_TIMEOUT, or beyond MAX_IDLE idle workers,
 * exits.
 *
 * Workers run with the signal mask of the first thread that called
 * goro_go (worker_mask). In a fork child, the thread that forked leaves
 * the pool when its goroutine returns, and the last goroutine to return
 * ends the process (forked_alone, fork_orphaned).
 *
 * A worker is a thread record (thread.c) with is_worker set.
 *
 * Invariants, under goro__threads.mu:
 *   t is on the idle stack (pool.idle, linked by t->link) iff t->is_idle;
 *   such a worker is parked or about to park, and only the thread that
 *   pops it (clearing is_idle) unparks it, exactly once;
 *   pool.nidle counts the idle stack.
 * Lock order: goro__threads.mu, then a parker's lock (see internal.h).
 */
#include "config.h"

#include "internal.h"
#include "ring.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { MAX_IDLE = 2048 };
static const int64_t IDLE_TIMEOUT = 10 * GORO_SECOND;

/* The idle stack, under goro__threads.mu. */
static struct {
  struct goro__thread *idle; /* idle workers asleep, LIFO, linked by link */
  size_t nidle;
} pool;

static _Atomic uint64_t next_id = 1;
static _Atomic size_t ngoroutines;
GORO__IGNORE_STATIC(next_id); /* valgrind: counters */
GORO__IGNORE_STATIC(ngoroutines);
static pthread_once_t init_once = PTHREAD_ONCE_INIT; /* init, below */
static size_t stack_size;                            /* 0: the system default */

static void init(void);

/* ---- the hand-off ring ----------------------------------------------------
 *
 * Idle workers waiting awake ("pollers") take new goroutines from a
 * bounded MPMC ring of stamped slots (Vyukov's, as buffered channels use),
 * so handing a goroutine to an awake worker costs the spawner a CAS and a
 * slot write: no lock, no wake-up, no wait for one particular worker.
 *
 * A spawner may push only once it holds a promise, taken from avail, the
 * count of pollers not yet promised a goroutine. With P pollers and J
 * goroutines promised and not yet popped (pushed, or about to be):
 *
 *     avail + J == P                                  (the promise count)
 *
 * Every step keeps it: a poller arriving adds one to avail and P; a
 * spawner moves one from avail to J; a poller leaving with a pop takes one
 * from J and P; a poller giving up takes one from avail and P, and may
 * only while avail > 0 (a CAS). So a poller whose awake time is over and
 * that finds avail == 0 knows J == P >= 1: a goroutine is promised to the
 * pollers and will be pushed within a few of its spawner's instructions;
 * it polls on and pops one (then J == P again for the rest), or gives up
 * once a newcomer makes avail positive. No promised goroutine is ever left
 * without an awake worker to run it, and none is lost: a spawner that
 * finds the ring full (more pollers than slots) hands its promise back.
 *
 * The ring is ring.h's; a job is copied in and out whole. */
enum { HANDOFF_CAP = 64 };

struct job {
  goro_fn *fn;
  void *arg;
  goro_fn *then;
  void *then_arg;
  uint64_t id;
  char name[GORO__NAME_SIZE];
};

/* avail, which spawners and pollers update all the time, is kept two
 * cache lines away from the ring (CPUs fetch lines in pairs): W6 of the
 * README's benchmark slowed when it shared a pair with the ring's fields. */
static struct {
  _Alignas(128) struct goro__ring ring;
  unsigned char slots[HANDOFF_CAP * (sizeof(size_t) + sizeof(struct job))];
  _Alignas(128) _Atomic int avail; /* pollers not yet promised a goroutine */
  char pad[128 - sizeof(int)];
} handoff;
_Static_assert(offsetof(__typeof__(handoff), slots) ==
                   offsetof(__typeof__(handoff), ring) + sizeof(struct goro__ring),
               "the hand-off ring's slots follow it");

static void
handoff_init(void)
{
  GORO__ASSERT(goro__ring_stride(sizeof(struct job)) * HANDOFF_CAP <= sizeof handoff.slots);
  goro__ring_init(&handoff.ring, sizeof(struct job), HANDOFF_CAP);
  atomic_init(&handoff.avail, 0);
  /* valgrind: a counter of promises (annotate.h); a fork child's reset
   * would otherwise race with what a lost thread read of it. */
  GORO__IGNORE_VAR(handoff.avail);
}

/* In a fork child: its pollers are gone, and whatever they were promised. */
static void
handoff_reset(void)
{
  GORO__IGNORE_VAR(handoff.ring.head); /* valgrind: as handoff.avail */
  GORO__IGNORE_VAR(handoff.ring.tail);
  goro__ring_reset(&handoff.ring);
  atomic_store_explicit(&handoff.avail, 0, memory_order_relaxed);
}

/* Take a promise without waiting: true if a poller was free. */
static bool
promise_take(void)
{
  int a = atomic_load_explicit(&handoff.avail, memory_order_relaxed);
  while (a > 0)
    if (atomic_compare_exchange_weak_explicit(&handoff.avail, &a, a - 1, memory_order_relaxed,
                                              memory_order_relaxed))
      return true;
  return false;
}

/* Push a promised job; false if the ring is full, or its next slot not
 * yet freed by a pop (the caller hands the promise back). */
static bool
handoff_push(const struct job *job)
{
  return goro__ring_push_nowait(&handoff.ring, job, sizeof *job) == GORO__RING_OK;
}

/* Pop a job into t's record and mark t running; false if the ring is
 * empty. The pop and the marking happen under goro__threads.mu, and the
 * deadlock detector reads the ring and every record under it too: to the
 * detector a goroutine is always either in the ring or in a worker that
 * runs. (Marked after the lock, a worker descheduled between its pop and
 * the marking across two scans read as idle with the ring empty, and a
 * waiting main was reported deadlocked.) The lock is taken only once a
 * job looks published, so pollers of an empty ring never touch it; a pop
 * that finds the push not yet written after all does not wait for it. */
static bool
handoff_pop(struct goro__thread *t)
{
  if (!goro__ring_peek(&handoff.ring))
    return false;
  struct job job;
  goro__mu_lock(&goro__threads.mu);
  if (goro__ring_pop_nowait(&handoff.ring, &job, sizeof job) != GORO__RING_OK) {
    goro__mu_unlock(&goro__threads.mu);
    return false;
  }
  if (goro__test_handoff_popped != NULL)
    goro__test_handoff_popped();
  t->fn = job.fn;
  t->arg = job.arg;
  t->then = job.then;
  t->then_arg = job.then_arg;
  atomic_store_explicit(&t->id, job.id, memory_order_relaxed);
  memcpy(t->name, job.name, sizeof t->name);
  goro__block_end(t);
  goro__mu_unlock(&goro__threads.mu);
  return true;
}

static bool
poll_cb(void *t)
{
  return handoff_pop(t);
}

bool
goro__handoff_pending(void)
{
  return goro__ring_pending(&handoff.ring);
}

/* ---- workers ------------------------------------------------------------ */

/* The signal mask goroutines run with: the mask of the thread that first
 * called goro_go (goro(3), "Signals"), as if that thread had
 * made every worker with pthread_create. Written once, under mask_once,
 * before any worker exists; read-only afterwards (pthread_once and
 * pthread_create order the write before every read). A fork child keeps
 * it, as it keeps its parent's masks. */
static sigset_t worker_mask;
static pthread_once_t mask_once = PTHREAD_ONCE_INIT;

static void
mask_capture(void)
{
  pthread_sigmask(SIG_BLOCK, NULL, &worker_mask);
}

void
goro__capture_mask(void)
{
  pthread_once(&mask_once, mask_capture);
}

/* Set in a fork child, in the thread that forked (atfork_child): it is
 * the child's only thread, so when its goroutine returns the thread exits
 * instead of idling, and the process ends as a forked pthread's child
 * does (status 0, if no other thread is left). */
static _Thread_local bool forked_alone;
/* Set in a fork child when that thread exits: from then on the worker
 * whose goroutine is the last to return ends the process (as the last
 * thread of a pthread program does). The flag's store and the check of
 * ngoroutines in the exiting thread, and a worker's seq_cst decrement of
 * ngoroutines and its load of the flag, are all seq_cst: of the last
 * worker and the exiting thread, at least one sees the other's write
 * (Dekker), so one of them ends the process. ending lets only one. */
static _Atomic bool fork_orphaned, fork_ending;

/* In a fork child: end the process with status 0 if no goroutine runs
 * and every other thread is goro's own (idle workers, the timer thread,
 * the signal thread), as it would if those threads had exited; else
 * return. Where the kernel's thread count is unknown, it never ends the
 * process. */
static void
fork_child_end_if_last(struct goro__thread *self)
{
  /* Up to 2 s: a thread goro has just started (the timer thread, which
   * atfork_child restarts, or the signal thread) registers and marks
   * itself as goro's only once it runs, which can take a while on a
   * loaded machine. A running goroutine ends the wait at once: the
   * worker that runs the last one looks again (fork_orphaned). */
  for (int tries = 0; tries < 1000; tries++) {
    if (atomic_load_explicit(&ngoroutines, memory_order_seq_cst) != 0)
      return;
    long n = goro__os_thread_count();
    if (n < 0)
      return;
    /* The kernel lists the child's first thread (the one that forked,
     * whose tid is the pid) until the process ends, exited or not. */
    long own = 1;
    bool others = false;
    pid_t leader = getpid();
    goro__mu_lock(&goro__threads.mu);
    for (struct goro__thread *t = goro__threads.list; t != NULL && !others; t = t->next) {
      if (atomic_load_explicit(&t->tid, memory_order_relaxed) == leader)
        own--; /* still registered: counted below, or as self */
      if (t == self)
        continue;
      if ((t->is_worker && atomic_load_explicit(&t->id, memory_order_relaxed) == 0) ||
          t->is_service)
        own++;
      else
        others = true;
    }
    goro__mu_unlock(&goro__threads.mu);
    if (!others && n == own + 1) {
      if (atomic_exchange_explicit(&fork_ending, true, memory_order_relaxed))
        return; /* another thread is ending the process */
      fflush(NULL);
      exit(0);
    }
    /* Another thread: the application's, which keeps the process alive
     * as it should, or one of goro's own still starting (registered, or
     * not yet, but not yet marked as goro's) or just leaving. Look again
     * in a moment. */
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
}

#ifdef GORO_DEBUG
/* A goroutine must leave its thread's signal mask as it found it (as any
 * thread-local state). A debug build checks, reports on stderr, and puts
 * the mask back before the thread runs another goroutine. */
static void
mask_check(struct goro__thread *t)
{
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, NULL, &now);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sigismember(&now, sig) == sigismember(&worker_mask, sig))
      continue;
    fprintf(stderr,
            "goro: goroutine %llu%s%s%s returned with its thread's signal mask changed "
            "(signal %d %s); restored\n",
            (unsigned long long)atomic_load_explicit(&t->id, memory_order_relaxed),
            t->name[0] != '\0' ? " (" : "", t->name, t->name[0] != '\0' ? ")" : "", sig,
            sigismember(&now, sig) == 1 ? "blocked" : "unblocked");
    pthread_sigmask(SIG_SETMASK, &worker_mask, NULL);
    return;
  }
}
#endif

static void
run_goroutine(struct goro__thread *t)
{
  t->fn(t->arg);
#ifdef GORO_DEBUG
  mask_check(t);
#endif
  goro_fn *then = t->then;
  void *then_arg = t->then_arg;
  atomic_store_explicit(&t->id, 0, memory_order_relaxed);
  /* seq_cst (not only release): see fork_orphaned. */
  atomic_fetch_sub_explicit(&ngoroutines, 1, memory_order_seq_cst);
  if (then != NULL)
    then(then_arg);
}

/* Unlink t from the idle stack. goro__threads.mu held. */
static void
idle_unlink(struct goro__thread *t)
{
  struct goro__thread **pp = &pool.idle;
  while (*pp != t)
    pp = &(*pp)->link;
  *pp = t->link;
}

/* Wait as an idle worker until handed a goroutine (true; its job is in
 * t's record) or until it should exit (false; t is then off every list
 * but the thread list). It polls the hand-off ring first, if it gets an
 * awake slot; then sleeps on the idle stack. */
static bool
idle_wait(struct goro__thread *t)
{
  goro__block_begin(t, GORO__IDLE, GORO__BLOCKED_IDLE, NULL, NULL);
  if (goro__spin_claim(true)) {
    atomic_fetch_add_explicit(&handoff.avail, 1, memory_order_relaxed);
    if (goro__spin_claimed_until(poll_cb, t, &t->parker.relax))
      return true;
    /* Awake time is over: give up a promise, or take the goroutine
     * promised (see the promise count). */
    while (!promise_take()) {
      if (handoff_pop(t))
        return true;
      sched_yield();
    }
  }

  goro__mu_lock(&goro__threads.mu);
  if (pool.nidle >= MAX_IDLE) {
    goro__mu_unlock(&goro__threads.mu);
    return false;
  }
  t->is_idle = true;
  t->link = pool.idle;
  pool.idle = t;
  pool.nidle++;
  goro__mu_unlock(&goro__threads.mu);

  if (goro__park_sleep(&t->parker, goro__deadline(IDLE_TIMEOUT)))
    return true; /* handed work */
  goro__mu_lock(&goro__threads.mu);
  if (t->is_idle) {
    idle_unlink(t);
    pool.nidle--;
    t->is_idle = false;
    goro__mu_unlock(&goro__threads.mu);
    return false;
  }
  goro__mu_unlock(&goro__threads.mu);
  goro__park(&t->parker, -1, false); /* popped just now: the hand-off is on its way */
  return true;
}

static void *
worker_main(void *arg)
{
  struct goro__thread *t = arg;
  goro__tls_self = t;
  pthread_sigmask(SIG_SETMASK, &worker_mask, NULL); /* created with all blocked */
  atomic_store_explicit(&t->tid, goro__gettid(), memory_order_relaxed);
  atomic_fetch_add_explicit(&goro__nawake, 1, memory_order_relaxed);
  do {
    goro__block_end(t);
    run_goroutine(t);
    if (GORO__UNLIKELY(atomic_load_explicit(&fork_orphaned, memory_order_seq_cst)))
      fork_child_end_if_last(t);
  } while (!forked_alone && idle_wait(t));
  if (forked_alone) {
    atomic_store_explicit(&fork_orphaned, true, memory_order_seq_cst);
    fork_child_end_if_last(t);
  }
  atomic_fetch_sub_explicit(&goro__nawake, 1, memory_order_relaxed);
  goro__mu_lock(&goro__threads.mu);
  goro__record_retire_locked(t);
  goro__mu_unlock(&goro__threads.mu);
  goro__tls_self = NULL;
  return NULL;
}

/* Start a thread for t (registered, job set). Returns 0 or -errno. */
static int
start_worker(struct goro__thread *t)
{
  pthread_attr_t attr;
  int rc = pthread_attr_init(&attr);
  if (rc != 0)
    return -rc;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (stack_size != 0)
    pthread_attr_setstacksize(&attr, stack_size);
  /* The thread starts with every asynchronous signal blocked, whatever
   * the spawner's mask, and takes worker_mask itself (worker_main): no
   * signal reaches it before it has the mask goroutines run with. */
  sigset_t all, old;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  sigdelset(&all, SIGTRAP);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  rc = pthread_create(&th, &attr, worker_main, t);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0)
    return rc == EAGAIN || rc == EPERM ? GORO_EAGAIN : -rc;
#ifdef HAVE_PTHREAD_SETNAME_NP
  pthread_setname_np(th, "goro");
#endif
  return 0;
}

/* Pop the idle stack's top, or NULL. goro__threads.mu held. */
static struct goro__thread *
idle_pop(void)
{
  struct goro__thread *t = pool.idle;
  if (t != NULL) {
    pool.idle = t->link;
    pool.nidle--;
    t->is_idle = false;
  }
  return t;
}

/* Wait a moment for a poller to come free, and take its promise (true).
 *
 * Waking a sleeping worker costs the spawner a system call and the worker
 * a context switch; starting a thread costs far more. When no poller is
 * free, a worker finishing its goroutine often will be within a
 * microsecond, so the spawner watches avail for a moment first. The
 * moment adapts, per spawning thread: it doubles when a poller came and
 * halves when none did, so a program whose goroutines run long spins
 * little. Never waits for more than SPAWN_SPIN_MAX_NS, and only while
 * another goroutine runs that may finish, with a CPU for it. */
enum { SPAWN_SPIN_MIN_NS = 250, SPAWN_SPIN_MAX_NS = 8000 };
static _Thread_local int64_t spawn_spin = 2000; /* ns */

static bool
promise_wait(void)
{
  if (goro__ncpu == 1 || atomic_load_explicit(&ngoroutines, memory_order_relaxed) <= 1)
    return false;
  bool got = false;
  int64_t end = goro__now() + spawn_spin;
  do {
    for (int i = 0; i < 16 && !got; i++) {
      goro__cpu_relax();
      got = atomic_load_explicit(&handoff.avail, memory_order_relaxed) > 0 && promise_take();
    }
  } while (!got && goro__now() < end);
  if (got)
    spawn_spin = spawn_spin * 2 > SPAWN_SPIN_MAX_NS ? SPAWN_SPIN_MAX_NS : spawn_spin * 2;
  else
    spawn_spin = spawn_spin / 2 < SPAWN_SPIN_MIN_NS ? SPAWN_SPIN_MIN_NS : spawn_spin / 2;
  return got;
}

int
goro__go(const char *name, goro_fn *fn, void *arg, goro_fn *then, void *then_arg)
{
  if (fn == NULL)
    return GORO_EINVAL;
  pthread_once(&init_once, init);
  goro__capture_mask();
  uint64_t id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&ngoroutines, 1, memory_order_relaxed);

  if (promise_take() || promise_wait()) {
    struct job job; /* not zeroed: the name is read only up to its NUL */
    job.fn = fn;
    job.arg = arg;
    job.then = then;
    job.then_arg = then_arg;
    job.id = id;
    if (name != NULL)
      snprintf(job.name, sizeof job.name, "%s", name);
    else
      job.name[0] = '\0';
    if (handoff_push(&job))
      return 0;
    atomic_fetch_add_explicit(&handoff.avail, 1, memory_order_relaxed); /* full: hand it back */
  }

  goro__mu_lock(&goro__threads.mu);
  struct goro__thread *t = idle_pop();
  bool fresh = t == NULL;
  if (fresh) {
    t = goro__record_get_locked();
    if (t == NULL) {
      goro__mu_unlock(&goro__threads.mu);
      atomic_fetch_sub_explicit(&ngoroutines, 1, memory_order_relaxed);
      return GORO_ENOMEM;
    }
    t->is_worker = true;
    goro__record_add_locked(t);
  }
  t->fn = fn;
  t->arg = arg;
  t->then = then;
  t->then_arg = then_arg;
  atomic_store_explicit(&t->id, id, memory_order_relaxed);
  if (name != NULL)
    snprintf(t->name, sizeof t->name, "%s", name);
  else
    t->name[0] = '\0';
  goro__mu_unlock(&goro__threads.mu);

  if (!fresh) {
    goro__wake(t);
    return 0;
  }
  int rc = start_worker(t);
  if (rc != 0) {
    goro__mu_lock(&goro__threads.mu);
    goro__record_retire_locked(t);
    goro__mu_unlock(&goro__threads.mu);
    atomic_fetch_sub_explicit(&ngoroutines, 1, memory_order_relaxed);
  }
  return rc;
}

int
goro_go_named(const char *name, goro_fn *fn, void *arg)
{
  return goro__go(name, fn, arg, NULL, NULL);
}

int
goro_go(goro_fn *fn, void *arg)
{
  return goro__go(NULL, fn, arg, NULL, NULL);
}

uint64_t
goro_self(void)
{
  struct goro__thread *t = goro__tls_self;
  return t == NULL ? 0 : atomic_load_explicit(&t->id, memory_order_relaxed);
}

size_t
goro_num_goroutine(void)
{
  return atomic_load_explicit(&ngoroutines, memory_order_acquire);
}

/* ---- init and fork ------------------------------------------------------ */

static void
init(void)
{
  goro__thread_init();
  const char *s = getenv("GORO_STACK_SIZE");
  if (s != NULL && *s != '\0') {
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end == '\0' && v >= 16384)
      stack_size = (size_t)v;
  }
  handoff_init();
}

void
goro__pool_init(void)
{
  pthread_once(&init_once, init);
}

void
goro__pool_atfork_prepare(void)
{
  goro__ring_atfork_prepare(&handoff.ring);
}

void
goro__pool_atfork_parent(void)
{
  goro__ring_atfork_release(&handoff.ring);
}

/* After goro__thread_atfork_child: the forking thread is the child's
 * only one. A worker's goroutine that returns there ends its thread
 * (forked_alone); the idle stack and the hand-off ring lost their
 * workers, and whatever they were promised. */
void
goro__pool_atfork_child(void)
{
  struct goro__thread *self = goro__tls_self;
  if (self != NULL && self->is_worker)
    forked_alone = true;
  pool.idle = NULL;
  pool.nidle = 0;
  goro__ring_atfork_release(&handoff.ring);
  handoff_reset();
  size_t alive = self != NULL && atomic_load_explicit(&self->id, memory_order_relaxed) != 0;
  atomic_store_explicit(&ngoroutines, alive, memory_order_relaxed);
}
