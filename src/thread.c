/* thread.c - thread records: one per thread that runs a goroutine or has
 * blocked in goro, on goro__threads.list; blocking and waking a thread.
 *
 * A record holds the thread's parker and what the registry shows of it
 * (state, what it waits on, since when). Records are recycled through
 * goro__threads.free and never freed, so a late unpark of a thread that
 * has gone stays harmless. A foreign thread (not started by goro) gets a
 * record at its first blocking call, and gives it back when it exits
 * (a thread-specific key's destructor).
 *
 * Invariants, under goro__threads.mu:
 *   n counts list; a record is on list, or on free, or on dead (a thread
 *   lost to fork), and on at most one of free, dead and the pool's idle
 *   stack (its link field).
 * Lock order: goro__threads.mu, then a parker's lock (see internal.h).
 */
#include "config.h"

#include "internal.h"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

struct goro__threads goro__threads = {.mu = PTHREAD_MUTEX_INITIALIZER};
struct goro__thread_hooks goro__thread_hooks;
_Thread_local struct goro__thread *goro__tls_self;

static pthread_key_t foreign_key; /* its destructor unregisters a foreign thread */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void foreign_exit(void *arg);

static void
init(void)
{
  goro__spin_init();
  pthread_key_create(&foreign_key, foreign_exit);
}

void
goro__thread_init(void)
{
  pthread_once(&init_once, init);
}

/* ---- records ------------------------------------------------------------ */

struct goro__thread *
goro__record_get_locked(void)
{
  struct goro__thread *t = goro__threads.free;
  if (t != NULL) {
    goro__threads.free = t->link;
  } else {
    t = malloc(sizeof *t);
    if (t == NULL)
      return NULL;
    goro__parker_init(&t->parker);
    /* valgrind: the registry fields are snapshots (internal.h). */
    GORO__IGNORE_VAR(t->id);
    GORO__IGNORE_VAR(t->state);
    GORO__IGNORE_VAR(t->blocked);
    GORO__IGNORE_VAR(t->waitseq);
    GORO__IGNORE_VAR(t->since);
    GORO__IGNORE_VAR(t->waitchan);
    GORO__IGNORE_VAR(t->waitname);
    GORO__IGNORE_VAR(t->tid);
  }
  atomic_init(&t->id, 0);
  atomic_init(&t->state, GORO__RUNNING);
  atomic_init(&t->blocked, GORO__NOT_BLOCKED);
  atomic_init(&t->waitseq, 0);
  atomic_init(&t->since, 0);
  atomic_init(&t->waitchan, NULL);
  atomic_init(&t->waitname, NULL);
  t->link = NULL;
  t->is_worker = t->is_idle = t->is_service = false;
  t->fn = NULL;
  t->arg = NULL;
  t->then = NULL;
  t->then_arg = NULL;
  t->name[0] = '\0';
  atomic_init(&t->tid, 0);
  return t;
}

void
goro__record_add_locked(struct goro__thread *t)
{
  t->prev = NULL;
  t->next = goro__threads.list;
  if (t->next)
    t->next->prev = t;
  goro__threads.list = t;
  goro__threads.n++;
}

static void
list_remove_locked(struct goro__thread *t)
{
  if (t->prev)
    t->prev->next = t->next;
  else
    goro__threads.list = t->next;
  if (t->next)
    t->next->prev = t->prev;
  goro__threads.n--;
}

void
goro__record_retire_locked(struct goro__thread *t)
{
  list_remove_locked(t);
  t->link = goro__threads.free;
  goro__threads.free = t;
}

pid_t
goro__gettid(void)
{
#ifdef SYS_gettid
  return (pid_t)syscall(SYS_gettid);
#else
  return 0;
#endif
}

long
goro__os_thread_count(void)
{
  DIR *d = opendir("/proc/self/task");
  if (d == NULL)
    return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

static void
foreign_exit(void *arg)
{
  struct goro__thread *t = arg;
  atomic_fetch_sub_explicit(&goro__nawake, 1, memory_order_relaxed);
  goro__mu_lock(&goro__threads.mu);
  goro__record_retire_locked(t);
  goro__mu_unlock(&goro__threads.mu);
  goro__tls_self = NULL;
}

struct goro__thread *
goro__self_slow(void)
{
  goro__thread_init();
  goro__mu_lock(&goro__threads.mu);
  struct goro__thread *t = goro__record_get_locked();
  if (t != NULL) {
    atomic_store_explicit(&t->tid, goro__gettid(), memory_order_relaxed);
    goro__record_add_locked(t);
  }
  goro__mu_unlock(&goro__threads.mu);
  if (t == NULL)
    return NULL;
  atomic_fetch_add_explicit(&goro__nawake, 1, memory_order_relaxed);
  goro__tls_self = t;
  pthread_setspecific(foreign_key, t);
  return t;
}

struct goro__thread *
goro__self_service(void)
{
  struct goro__thread *t = goro__self();
  if (t == NULL)
    return NULL;
  goro__mu_lock(&goro__threads.mu);
  t->is_service = true;
  goro__mu_unlock(&goro__threads.mu);
  /* Asleep nearly always: not one of the awake threads for spinning. */
  atomic_fetch_sub_explicit(&goro__nawake, 1, memory_order_relaxed);
  return t;
}

/* ---- blocking ----------------------------------------------------------- */

bool
goro__block_wait(struct goro__thread *t, int64_t deadline, bool spin)
{
  if (spin && goro__park_spin(&t->parker))
    return true;
  void (*forever)(void) = goro__thread_hooks.blocked_forever;
  if (forever != NULL &&
      atomic_load_explicit(&t->blocked, memory_order_relaxed) == GORO__BLOCKED_FOREVER)
    forever();
  atomic_store_explicit(&t->since, goro__now(), memory_order_relaxed);
  return goro__park_sleep(&t->parker, deadline);
}

/* ---- fork --------------------------------------------------------------- */

/* In the child only the forking thread exists. The other threads' records
 * leave the list but are never reused: waiters of those threads may still
 * sit in channel queues and timers may still fire at them, and a wake-up
 * meant for a dead thread must not reach a new one. Their parkers are
 * re-initialised (nobody can hold their locks now), so such a wake-up
 * finds nobody and does nothing. */
void
goro__thread_atfork_child(void)
{
  struct goro__thread *self = goro__tls_self, *t, *next;
  if (self != NULL) /* the child's thread has a tid of its own (the pid) */
    atomic_store_explicit(&self->tid, goro__gettid(), memory_order_relaxed);
  for (t = goro__threads.list; t != NULL; t = next) {
    next = t->next;
    if (t == self)
      continue;
    list_remove_locked(t);
    goro__parker_init(&t->parker);
    t->link = goro__threads.dead;
    goro__threads.dead = t;
  }
  goro__spin_atfork_child(self != NULL);
}
