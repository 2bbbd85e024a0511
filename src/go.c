/* go.c - goroutines: the pooled spawner, and thread records.
 *
 * goro_go hands (fn, arg) to an idle worker, or starts a new detached
 * thread when none is idle; it never waits for a worker beyond a bounded
 * spin (take_worker). A worker that finishes its function goes idle: it
 * waits awake for a while on the awake stack, where goro_go looks first,
 * then asleep on the sleeping stack; one idle longer than IDLE_TIMEOUT,
 * or beyond MAX_IDLE idle workers, exits.
 *
 * Every thread that blocks in goro, worker or not, has a record (struct
 * goro__thread) on goro__sched.threads; records are recycled through
 * goro__sched.free and never freed, so a late unpark stays harmless.
 *
 * Invariants, under goro__sched.mu:
 *   t is on an idle stack iff t->is_idle, the awake one iff t->idle_awake;
 *   an idle worker is parked or about to park, and only the thread that
 *   pops it (clearing is_idle) unparks it, exactly once;
 *   nthreads counts the thread list, nidle both idle stacks.
 * Lock order: goro__sched.mu, then a parker's lock (see internal.h).
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { MAX_IDLE = 2048 };
static const int64_t IDLE_TIMEOUT = 10 * GORO_SECOND;

/* Spawners and workers going idle take the lock back to back for a few
 * instructions each: a lock that sleeps at once turns every such
 * collision into two system calls (W6: 2 us per spawn, against 0.5 with
 * glibc's adaptive mutex, which spins a little first). */
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
struct goro__sched goro__sched = {.mu = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP};
#else
struct goro__sched goro__sched = {.mu = PTHREAD_MUTEX_INITIALIZER};
#endif

static _Atomic uint64_t next_id = 1;
static _Atomic size_t ngoroutines;
static _Atomic unsigned idle_pushes; /* bumped by every worker going idle */
GORO__IGNORE_STATIC(next_id);        /* valgrind: counters */
GORO__IGNORE_STATIC(ngoroutines);
GORO__IGNORE_STATIC(idle_pushes);
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
  t->is_worker = t->is_idle = t->idle_awake = false;
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
  if (spin && goro__park_spin(&t->parker, false))
    return true;
  if (atomic_load_explicit(&t->wait, memory_order_relaxed) == GORO__WAIT_FOREVER)
    goro__deadlock_poke();
  atomic_store_explicit(&t->since, goro__now(), memory_order_relaxed);
  return goro__park_sleep(&t->parker, deadline);
}

/* ---- workers ------------------------------------------------------------ */

static void
run_goroutine(struct goro__thread *t)
{
  t->fn(t->arg);
  goro_wg *wg = t->wg;
  atomic_store_explicit(&t->id, 0, memory_order_relaxed);
  atomic_fetch_sub_explicit(&ngoroutines, 1, memory_order_release);
  if (wg != NULL)
    goro_wg_done(wg);
}

/* Unlink t from the idle stack *top. goro__sched.mu held. */
static void
idle_unlink(struct goro__thread **top, struct goro__thread *t)
{
  struct goro__thread **pp = top;
  while (*pp != t)
    pp = &(*pp)->idle_next;
  *pp = t->idle_next;
}

/* Park t as an idle worker until it is handed work (true) or should exit
 * (false; t is then off every list but the thread list). It waits awake
 * first, on the awake stack, where goro_go looks first; then asleep, on
 * the sleeping stack. */
static bool
idle_wait(struct goro__thread *t)
{
  /* Awake only with an awake slot: one that would sleep at once must not
   * sit on the awake stack, where goro_go expects no wake-up to pay. */
  bool awake = goro__spin_claim(true);
  goro__mu_lock(&goro__sched.mu);
  if (goro__sched.nidle >= MAX_IDLE) {
    goro__mu_unlock(&goro__sched.mu);
    if (awake)
      goro__spin_unclaim();
    return false;
  }
  struct goro__thread **top = awake ? &goro__sched.idle_awake : &goro__sched.idle;
  t->is_idle = true;
  t->idle_awake = awake;
  t->idle_next = *top;
  *top = t;
  goro__sched.nidle++;
  goro__block_begin(t, GORO__IDLE, GORO__WAIT_IDLE, NULL, NULL);
  goro__mu_unlock(&goro__sched.mu);

  if (awake) {
    atomic_fetch_add_explicit(&idle_pushes, 1, memory_order_relaxed); /* see take_worker */
    if (goro__park_spin_claimed(&t->parker))
      return true; /* handed work */
    goro__mu_lock(&goro__sched.mu);
    if (!t->is_idle) {
      goro__mu_unlock(&goro__sched.mu);
      goro__park(&t->parker, -1, false); /* popped just now: the hand-off is on its way */
      return true;
    }
    idle_unlink(&goro__sched.idle_awake, t);
    t->idle_awake = false;
    t->idle_next = goro__sched.idle;
    goro__sched.idle = t;
    goro__mu_unlock(&goro__sched.mu);
  }

  if (goro__park_sleep(&t->parker, goro__deadline(IDLE_TIMEOUT)))
    return true; /* handed work */
  goro__mu_lock(&goro__sched.mu);
  if (t->is_idle) {
    idle_unlink(&goro__sched.idle, t);
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
  atomic_store_explicit(&t->tid, gettid_(), memory_order_relaxed);
  atomic_fetch_add_explicit(&goro__nawake, 1, memory_order_relaxed);
  do {
    goro__block_end(t);
    run_goroutine(t);
  } while (idle_wait(t));
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
  /* Workers inherit a mask blocking every asynchronous signal, so signals
   * meant for the application go to the application's own threads. */
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

/* Pop the top of an idle stack, or NULL. goro__sched.mu held. */
static struct goro__thread *
idle_pop(struct goro__thread **top)
{
  struct goro__thread *t = *top;
  if (t != NULL) {
    *top = t->idle_next;
    goro__sched.nidle--;
    t->is_idle = t->idle_awake = false;
  }
  return t;
}

/* An idle worker for a new goroutine, or NULL to start a thread;
 * goro__sched.mu held (dropped and retaken while spinning).
 *
 * Waking a sleeping worker costs the spawner a system call and the worker
 * a context switch; starting a thread costs far more. When no idle worker
 * is awake, one that is finishing its goroutine often will be within a
 * microsecond, so the spawner watches idle_pushes for a moment first. The
 * moment adapts, per spawning thread: it doubles when a worker came and
 * halves when none did, so a program whose goroutines run long spins
 * little. Never waits for more than SPAWN_SPIN_MAX_NS. */
enum { SPAWN_SPIN_MIN_NS = 250, SPAWN_SPIN_MAX_NS = 8000 };
static _Thread_local int64_t spawn_spin = 2000; /* ns */

static struct goro__thread *
take_worker(void)
{
  struct goro__thread *t = idle_pop(&goro__sched.idle_awake);
  /* Only while a goroutine runs that may finish, and with a CPU for it. */
  if (t != NULL || goro__ncpu == 1 || atomic_load_explicit(&ngoroutines, memory_order_relaxed) <= 1)
    goto sleeper;
  unsigned seen = atomic_load_explicit(&idle_pushes, memory_order_relaxed);
  goro__mu_unlock(&goro__sched.mu);
  bool came = false;
  int64_t end = goro__now() + spawn_spin;
  do {
    for (int i = 0; i < 16 && !came; i++) {
      goro__cpu_relax();
      came = atomic_load_explicit(&idle_pushes, memory_order_relaxed) != seen;
    }
  } while (!came && goro__now() < end);
  goro__mu_lock(&goro__sched.mu);
  if (came && (t = idle_pop(&goro__sched.idle_awake)) != NULL) {
    spawn_spin = spawn_spin * 2 > SPAWN_SPIN_MAX_NS ? SPAWN_SPIN_MAX_NS : spawn_spin * 2;
    return t;
  }
  spawn_spin = spawn_spin / 2 < SPAWN_SPIN_MIN_NS ? SPAWN_SPIN_MIN_NS : spawn_spin / 2;
sleeper:
  return t != NULL ? t : idle_pop(&goro__sched.idle);
}

int
goro__go(const char *name, goro_fn *fn, void *arg, goro_wg *wg)
{
  if (fn == NULL)
    return GORO_EINVAL;
  pthread_once(&init_once, init);
  uint64_t id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&ngoroutines, 1, memory_order_relaxed);

  goro__mu_lock(&goro__sched.mu);
  struct goro__thread *t = take_worker();
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
  for (t = goro__sched.threads; t != NULL; t = next) {
    next = t->next;
    if (t == self)
      continue;
    list_remove_locked(t);
    goro__parker_init(&t->parker);
    t->idle_next = goro__sched.dead;
    goro__sched.dead = t;
  }
  goro__sched.idle = goro__sched.idle_awake = NULL;
  goro__sched.nidle = 0;
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
  pthread_key_create(&foreign_key, foreign_exit);
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  goro__registry_init();
}
