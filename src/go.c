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
 * Every thread that blocks in goro, worker or not, has a record (struct
 * goro__thread) on goro__sched.threads; records are recycled through
 * goro__sched.free and never freed, so a late unpark stays harmless.
 *
 * Invariants, under goro__sched.mu:
 *   t is on the idle stack iff t->is_idle; such a worker is parked or
 *   about to park, and only the thread that pops it (clearing is_idle)
 *   unparks it, exactly once;
 *   nthreads counts the thread list, nidle the idle stack.
 * Lock order: goro__sched.mu, then a parker's lock (see internal.h).
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { MAX_IDLE = 2048 };
static const int64_t IDLE_TIMEOUT = 10 * GORO_SECOND;

struct goro__sched goro__sched = {.mu = PTHREAD_MUTEX_INITIALIZER};

static _Atomic uint64_t next_id = 1;
static _Atomic size_t ngoroutines;
GORO__IGNORE_STATIC(next_id); /* valgrind: counters */
GORO__IGNORE_STATIC(ngoroutines);
_Thread_local struct goro__thread *goro__tls_self;
static pthread_key_t foreign_key; /* destructor unregisters a foreign thread */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static size_t stack_size; /* 0: the system default */

static void init(void);

/* ---- records ------------------------------------------------------------ */

/* A zeroed record, from the free list or fresh. goro__sched.mu held. */
static struct goro__thread *
record_get_locked(void)
{
  struct goro__thread *t = goro__sched.free;
  if (t != NULL) {
    goro__sched.free = t->idle_next;
  } else {
    t = malloc(sizeof *t);
    if (t == NULL)
      return NULL;
    goro__parker_init(&t->parker);
    /* valgrind: the registry fields are snapshots (internal.h). */
    GORO__IGNORE_VAR(t->id);
    GORO__IGNORE_VAR(t->state);
    GORO__IGNORE_VAR(t->wait);
    GORO__IGNORE_VAR(t->waitseq);
    GORO__IGNORE_VAR(t->since);
    GORO__IGNORE_VAR(t->waitchan);
    GORO__IGNORE_VAR(t->waitname);
    GORO__IGNORE_VAR(t->tid);
  }
  atomic_init(&t->id, 0);
  atomic_init(&t->state, GORO__RUNNING);
  atomic_init(&t->wait, GORO__WAIT_NONE);
  atomic_init(&t->waitseq, 0);
  atomic_init(&t->since, 0);
  atomic_init(&t->waitchan, NULL);
  atomic_init(&t->waitname, NULL);
  t->idle_next = NULL;
  t->is_worker = t->is_idle = false;
  t->fn = NULL;
  t->arg = NULL;
  t->wg = NULL;
  t->name[0] = '\0';
  atomic_init(&t->tid, 0);
  return t;
}

static void
list_add_locked(struct goro__thread *t)
{
  t->prev = NULL;
  t->next = goro__sched.threads;
  if (t->next)
    t->next->prev = t;
  goro__sched.threads = t;
  goro__sched.nthreads++;
}

static void
list_remove_locked(struct goro__thread *t)
{
  if (t->prev)
    t->prev->next = t->next;
  else
    goro__sched.threads = t->next;
  if (t->next)
    t->next->prev = t->prev;
  goro__sched.nthreads--;
}

/* Unregister t and put its record on the free list. */
static void
record_retire_locked(struct goro__thread *t)
{
  list_remove_locked(t);
  t->idle_next = goro__sched.free;
  goro__sched.free = t;
}

static pid_t
gettid_(void)
{
#ifdef SYS_gettid
  return (pid_t)syscall(SYS_gettid);
#else
  return 0;
#endif
}

static void
foreign_exit(void *arg)
{
  struct goro__thread *t = arg;
  atomic_fetch_sub_explicit(&goro__nawake, 1, memory_order_relaxed);
  goro__mu_lock(&goro__sched.mu);
  record_retire_locked(t);
  goro__mu_unlock(&goro__sched.mu);
  goro__tls_self = NULL;
}

struct goro__thread *
goro__self_slow(void)
{
  struct goro__thread *t;
  pthread_once(&init_once, init);
  goro__mu_lock(&goro__sched.mu);
  t = record_get_locked();
  if (t != NULL) {
    atomic_store_explicit(&t->tid, gettid_(), memory_order_relaxed);
    list_add_locked(t);
  }
  goro__mu_unlock(&goro__sched.mu);
  if (t == NULL)
    return NULL;
  atomic_fetch_add_explicit(&goro__nawake, 1, memory_order_relaxed);
  goro__tls_self = t;
  pthread_setspecific(foreign_key, t);
  return t;
}

/* ---- waiting ------------------------------------------------------------ */

bool
goro__wait(struct goro__thread *t, int64_t deadline, bool spin)
{
  if (spin && goro__park_spin(&t->parker))
    return true;
  if (atomic_load_explicit(&t->wait, memory_order_relaxed) == GORO__WAIT_FOREVER)
    goro__deadlock_poke();
  atomic_store_explicit(&t->since, goro__now(), memory_order_relaxed);
  return goro__park_sleep(&t->parker, deadline);
}

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
 * Slot stamps: slot i holds seq == pos when free for the push at pos,
 * pos + 1 once that push is written, pos + HANDOFF_CAP once popped. The
 * release store of a stamp publishes the slot's job; the acquire load
 * that sees it makes the job visible. */
enum { HANDOFF_CAP = 64 };

struct job {
  goro_fn *fn;
  void *arg;
  goro_wg *wg;
  uint64_t id;
  char name[GORO__NAME_SIZE];
};

struct handoff_slot {
  _Atomic size_t seq;
  struct job job;
};

static struct {
  _Alignas(64) _Atomic size_t tail; /* next push */
  _Alignas(64) _Atomic size_t head; /* next pop */
  _Alignas(64) _Atomic int avail;   /* pollers not yet promised a goroutine */
  _Alignas(64) struct handoff_slot slot[HANDOFF_CAP];
} H;

static void
handoff_reset(void)
{
  /* valgrind: lock-free counters, as every atomic of goro's (annotate.h);
   * a fork child's reset would otherwise race with what a lost thread
   * read of them in the parent. */
  GORO__IGNORE_VAR(H.tail);
  GORO__IGNORE_VAR(H.head);
  GORO__IGNORE_VAR(H.avail);
  atomic_store_explicit(&H.tail, 0, memory_order_relaxed);
  atomic_store_explicit(&H.head, 0, memory_order_relaxed);
  atomic_store_explicit(&H.avail, 0, memory_order_relaxed);
  for (size_t i = 0; i < HANDOFF_CAP; i++)
    atomic_store_explicit(&H.slot[i].seq, i, memory_order_relaxed);
}

/* Take a promise without waiting: true if a poller was free. */
static bool
promise_take(void)
{
  int a = atomic_load_explicit(&H.avail, memory_order_relaxed);
  while (a > 0)
    if (atomic_compare_exchange_weak_explicit(&H.avail, &a, a - 1, memory_order_relaxed,
                                              memory_order_relaxed))
      return true;
  return false;
}

/* Push a promised job; false if the ring is full (the caller hands the
 * promise back). */
static bool
handoff_push(goro_fn *fn, void *arg, goro_wg *wg, uint64_t id, const char *name)
{
  size_t pos = atomic_load_explicit(&H.tail, memory_order_relaxed);
  struct handoff_slot *sl;
  for (;;) {
    sl = &H.slot[pos % HANDOFF_CAP];
    size_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
    intptr_t dif = (intptr_t)(seq - pos);
    if (dif == 0) {
      if (atomic_compare_exchange_weak_explicit(&H.tail, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    } else if (dif < 0) {
      return false; /* the slot still holds the job of a lap ago */
    } else {
      pos = atomic_load_explicit(&H.tail, memory_order_relaxed);
    }
  }
  sl->job.fn = fn;
  sl->job.arg = arg;
  sl->job.wg = wg;
  sl->job.id = id;
  if (name != NULL)
    snprintf(sl->job.name, sizeof sl->job.name, "%s", name);
  else
    sl->job.name[0] = '\0';
  atomic_store_explicit(&sl->seq, pos + 1, memory_order_release);
  return true;
}

/* Pop a job into t's record and mark t running; false if the ring is
 * empty. The pop's CAS and the marking happen under goro__sched.mu, and
 * the deadlock detector reads the ring and every record under it too: to
 * the detector a goroutine is always either in the ring or in a worker
 * that runs. (Marked after the lock, a worker descheduled between its CAS
 * and the marking across two scans read as idle with the ring empty, and
 * a waiting main was reported deadlocked.) The lock is taken only once a
 * slot looks published, so pollers of an empty ring never touch it. */
static bool
handoff_pop(struct goro__thread *t)
{
  size_t pos = atomic_load_explicit(&H.head, memory_order_relaxed);
  struct handoff_slot *sl = &H.slot[pos % HANDOFF_CAP];
  if (atomic_load_explicit(&sl->seq, memory_order_relaxed) != pos + 1)
    return false; /* empty, its push not yet written, or head moved on */
  goro__mu_lock(&goro__sched.mu);
  for (;;) {
    sl = &H.slot[pos % HANDOFF_CAP];
    size_t seq = atomic_load_explicit(&sl->seq, memory_order_acquire);
    intptr_t dif = (intptr_t)(seq - (pos + 1));
    if (dif == 0) {
      if (atomic_compare_exchange_weak_explicit(&H.head, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    } else if (dif < 0) {
      goro__mu_unlock(&goro__sched.mu);
      return false; /* empty, or its push not yet written */
    } else {
      pos = atomic_load_explicit(&H.head, memory_order_relaxed);
    }
  }
  if (goro__test_handoff_popped != NULL)
    goro__test_handoff_popped();
  struct job *job = &sl->job;
  t->fn = job->fn;
  t->arg = job->arg;
  t->wg = job->wg;
  atomic_store_explicit(&t->id, job->id, memory_order_relaxed);
  memcpy(t->name, job->name, sizeof t->name);
  goro__block_end(t);
  atomic_store_explicit(&sl->seq, pos + HANDOFF_CAP, memory_order_release);
  goro__mu_unlock(&goro__sched.mu);
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
  return atomic_load_explicit(&H.head, memory_order_relaxed) !=
         atomic_load_explicit(&H.tail, memory_order_relaxed);
}

/* ---- workers ------------------------------------------------------------ */

/* The signal mask goroutines run with: the mask of the thread that first
 * called goro_go (API.md, "Timers and signals"), as if that thread had
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
    goro__mu_lock(&goro__sched.mu);
    for (struct goro__thread *t = goro__sched.threads; t != NULL && !others; t = t->next) {
      if (atomic_load_explicit(&t->tid, memory_order_relaxed) == leader)
        own--; /* still registered: counted below, or as self */
      if (t == self)
        continue;
      if ((t->is_worker && atomic_load_explicit(&t->id, memory_order_relaxed) == 0) ||
          atomic_load_explicit(&t->state, memory_order_relaxed) == GORO__TIMER ||
          goro__is_signal_thread(t))
        own++;
      else
        others = true;
    }
    goro__mu_unlock(&goro__sched.mu);
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
  goro_wg *wg = t->wg;
  atomic_store_explicit(&t->id, 0, memory_order_relaxed);
  /* seq_cst (not only release): see fork_orphaned. */
  atomic_fetch_sub_explicit(&ngoroutines, 1, memory_order_seq_cst);
  if (wg != NULL)
    goro_wg_done(wg);
}

/* Unlink t from the idle stack. goro__sched.mu held. */
static void
idle_unlink(struct goro__thread *t)
{
  struct goro__thread **pp = &goro__sched.idle;
  while (*pp != t)
    pp = &(*pp)->idle_next;
  *pp = t->idle_next;
}

/* Wait as an idle worker until handed a goroutine (true; its job is in
 * t's record) or until it should exit (false; t is then off every list
 * but the thread list). It polls the hand-off ring first, if it gets an
 * awake slot; then sleeps on the idle stack. */
static bool
idle_wait(struct goro__thread *t)
{
  goro__block_begin(t, GORO__IDLE, GORO__WAIT_IDLE, NULL, NULL);
  if (goro__spin_claim(true)) {
    atomic_fetch_add_explicit(&H.avail, 1, memory_order_relaxed);
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

  goro__mu_lock(&goro__sched.mu);
  if (goro__sched.nidle >= MAX_IDLE) {
    goro__mu_unlock(&goro__sched.mu);
    return false;
  }
  t->is_idle = true;
  t->idle_next = goro__sched.idle;
  goro__sched.idle = t;
  goro__sched.nidle++;
  goro__mu_unlock(&goro__sched.mu);

  if (goro__park_sleep(&t->parker, goro__deadline(IDLE_TIMEOUT)))
    return true; /* handed work */
  goro__mu_lock(&goro__sched.mu);
  if (t->is_idle) {
    idle_unlink(t);
    goro__sched.nidle--;
    t->is_idle = false;
    goro__mu_unlock(&goro__sched.mu);
    return false;
  }
  goro__mu_unlock(&goro__sched.mu);
  goro__park(&t->parker, -1, false); /* popped just now: the hand-off is on its way */
  return true;
}

static void *
worker_main(void *arg)
{
  struct goro__thread *t = arg;
  goro__tls_self = t;
  pthread_sigmask(SIG_SETMASK, &worker_mask, NULL); /* created with all blocked */
  atomic_store_explicit(&t->tid, gettid_(), memory_order_relaxed);
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
  goro__mu_lock(&goro__sched.mu);
  record_retire_locked(t);
  goro__mu_unlock(&goro__sched.mu);
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

/* Pop the idle stack's top, or NULL. goro__sched.mu held. */
static struct goro__thread *
idle_pop(void)
{
  struct goro__thread *t = goro__sched.idle;
  if (t != NULL) {
    goro__sched.idle = t->idle_next;
    goro__sched.nidle--;
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
      got = atomic_load_explicit(&H.avail, memory_order_relaxed) > 0 && promise_take();
    }
  } while (!got && goro__now() < end);
  if (got)
    spawn_spin = spawn_spin * 2 > SPAWN_SPIN_MAX_NS ? SPAWN_SPIN_MAX_NS : spawn_spin * 2;
  else
    spawn_spin = spawn_spin / 2 < SPAWN_SPIN_MIN_NS ? SPAWN_SPIN_MIN_NS : spawn_spin / 2;
  return got;
}

int
goro__go(const char *name, goro_fn *fn, void *arg, goro_wg *wg)
{
  if (fn == NULL)
    return GORO_EINVAL;
  pthread_once(&init_once, init);
  goro__capture_mask();
  uint64_t id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&ngoroutines, 1, memory_order_relaxed);

  if (promise_take() || promise_wait()) {
    if (handoff_push(fn, arg, wg, id, name))
      return 0;
    atomic_fetch_add_explicit(&H.avail, 1, memory_order_relaxed); /* full: hand it back */
  }

  goro__mu_lock(&goro__sched.mu);
  struct goro__thread *t = idle_pop();
  bool fresh = t == NULL;
  if (fresh) {
    t = record_get_locked();
    if (t == NULL) {
      goro__mu_unlock(&goro__sched.mu);
      atomic_fetch_sub_explicit(&ngoroutines, 1, memory_order_relaxed);
      return GORO_ENOMEM;
    }
    t->is_worker = true;
    list_add_locked(t);
  }
  t->fn = fn;
  t->arg = arg;
  t->wg = wg;
  atomic_store_explicit(&t->id, id, memory_order_relaxed);
  if (name != NULL)
    snprintf(t->name, sizeof t->name, "%s", name);
  else
    t->name[0] = '\0';
  goro__mu_unlock(&goro__sched.mu);

  if (!fresh) {
    goro__wake(t);
    return 0;
  }
  int rc = start_worker(t);
  if (rc != 0) {
    goro__mu_lock(&goro__sched.mu);
    record_retire_locked(t);
    goro__mu_unlock(&goro__sched.mu);
    atomic_fetch_sub_explicit(&ngoroutines, 1, memory_order_relaxed);
  }
  return rc;
}

int
goro_go_named(const char *name, goro_fn *fn, void *arg)
{
  return goro__go(name, fn, arg, NULL);
}

int
goro_go(goro_fn *fn, void *arg)
{
  return goro__go(NULL, fn, arg, NULL);
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
atfork_prepare(void)
{
  goro__mu_lock(&goro__sched.mu);
  goro__timer_atfork_prepare();
  goro__names_atfork_prepare();
}

static void
atfork_parent(void)
{
  goro__names_atfork_release();
  goro__timer_atfork_parent();
  goro__mu_unlock(&goro__sched.mu);
}

/* In the child only the forking thread exists. The other threads' records
 * leave the list but are never reused: waiters of those threads may still
 * sit in channel queues and timers may still fire at them, and a wake-up
 * meant for a dead thread must not reach a new one. Their parkers are
 * re-initialised (nobody can hold their locks now), so such a wake-up
 * finds nobody and does nothing. */
static void
atfork_child(void)
{
  struct goro__thread *self = goro__tls_self, *t, *next;
  if (self != NULL) /* the child's thread has a tid of its own (the pid) */
    atomic_store_explicit(&self->tid, gettid_(), memory_order_relaxed);
  if (self != NULL && self->is_worker)
    forked_alone = true;
  for (t = goro__sched.threads; t != NULL; t = next) {
    next = t->next;
    if (t == self)
      continue;
    list_remove_locked(t);
    goro__parker_init(&t->parker);
    t->idle_next = goro__sched.dead;
    goro__sched.dead = t;
  }
  goro__sched.idle = NULL;
  goro__sched.nidle = 0;
  handoff_reset(); /* its pollers are gone, and whatever they were promised */
  size_t alive = self != NULL && atomic_load_explicit(&self->id, memory_order_relaxed) != 0;
  atomic_store_explicit(&ngoroutines, alive, memory_order_relaxed);
  goro__spin_atfork_child(self != NULL);
  goro__names_atfork_release();
  goro__timer_atfork_child();
  goro__mu_unlock(&goro__sched.mu);
}

/* At load, so that the environment's settings (GORO_DUMP_SIGNAL's
 * handler above all) are in force before the program first calls goro. */
__attribute__((constructor)) static void
init_at_load(void)
{
  pthread_once(&init_once, init);
}

static void
init(void)
{
  const char *s = getenv("GORO_STACK_SIZE");
  if (s != NULL && *s != '\0') {
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end == '\0' && v >= 16384)
      stack_size = (size_t)v;
  }
  goro__spin_init();
  handoff_reset();
  pthread_key_create(&foreign_key, foreign_exit);
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  goro__registry_init();
}
