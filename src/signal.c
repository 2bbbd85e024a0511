/* signal.c - goro_signal_notify and goro_signal_stop: Go's signal.Notify
 * and signal.Stop.
 *
 * Delivery in two steps, so that the signal handler does only
 * async-signal-safe work and no send can ever block:
 *   1. on_signal (the handler goro installs, in whichever thread the
 *      kernel picks) counts the signal in pending[sig] and, if no wake-up
 *      is outstanding, posts the semaphore wake (sem_post is
 *      async-signal-safe; lock-free atomics are too, C11 7.14.1.1);
 *   2. the delivery thread (goro's own, every signal blocked) waits on
 *      wake, takes the counts, and sends each counted signal with
 *      goro_chan_trysend on every channel that asked for it, under S.mu:
 *      a full channel drops the signal for that channel.
 *
 * Invariants, under S.mu:
 *   S.regs lists each registered channel once, with the union of the
 *   sets it asked for, and holds one reference to it;
 *   S.wanted[sig] is the number of registrations whose set holds sig;
 *   S.wanted[sig] > 0 iff on_signal is sig's handler, and then
 *   S.old[sig] is the disposition it replaced;
 *   deliveries happen under S.mu, so once goro_signal_stop(c) returns,
 *   nothing more is sent on c.
 * Lock order: S.mu, then a channel's lock (deliveries). S.mu is taken
 * while holding no other goro lock, except across fork, where fork.c
 * takes it first of all.
 *
 * The wake-up protocol, all seq_cst: the handler increments pending[sig],
 * then exchanges wake_flag to 1 and posts wake if it was 0. The thread
 * stores 0 to wake_flag, then takes every pending count, then waits on
 * wake. A handler that finds wake_flag at 1 read it from an exchange that
 * follows the thread's last store of 0 (and whose post the thread has
 * yet to consume, or consumed after that store); its increment precedes
 * its exchange, which precedes the thread's next store of 0 and so the
 * next pass over pending: no count is left behind. A handler that finds
 * 0 posts, and the thread makes one more pass.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs lock-free atomics");

struct reg {
  struct reg *next;
  goro_chan *c; /* one reference, held while registered */
  sigset_t set; /* the signals c asked for */
};

static struct {
  pthread_mutex_t mu;
  struct reg *regs;
  int wanted[NSIG];
  struct sigaction old[NSIG];
  bool ready;                        /* wake is initialised */
  bool started;                      /* the delivery thread runs (or is starting) */
  struct goro__thread *_Atomic self; /* the delivery thread's record, once it has one;
                                        written under S.mu, read under goro__threads.mu too */
  sigset_t fork_mask;                /* the forking thread's mask, from prepare to parent/child */
} S = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Written by on_signal in any thread; read and reset by the delivery
 * thread (see the wake-up protocol above). */
static _Atomic unsigned pending[NSIG];
static _Atomic int wake_flag;
static sem_t wake;
GORO__IGNORE_STATIC(pending); /* valgrind: atomics, ordered as argued above */
GORO__IGNORE_STATIC(wake_flag);

static bool
refused(int sig)
{
  return sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
         sig == SIGILL;
}

/* The handler: async-signal-safe operations only (lock-free atomics and
 * sem_post), and errno kept for the interrupted code. */
static void
on_signal(int sig)
{
  int saved = errno;
  if (sig > 0 && sig < NSIG) {
    atomic_fetch_add_explicit(&pending[sig], 1, memory_order_seq_cst);
    if (atomic_exchange_explicit(&wake_flag, 1, memory_order_seq_cst) == 0)
      sem_post(&wake);
  }
  errno = saved;
}

/* Tell the deadlock detector what the delivery thread is: goro's own idle
 * thread while no channel is registered, else a thread that may act (a
 * signal may arrive and wake a receiver). S.mu held. */
static void
set_detector_state_locked(void)
{
  struct goro__thread *t = atomic_load_explicit(&S.self, memory_order_relaxed);
  if (t != NULL)
    atomic_store_explicit(&t->blocked, S.regs != NULL ? GORO__NOT_BLOCKED : GORO__BLOCKED_IDLE,
                          memory_order_relaxed);
}

/* Send every pending signal on the channels that asked for it. S.mu held. */
static void
deliver_locked(void)
{
  for (int sig = 1; sig < NSIG; sig++) {
    if (atomic_load_explicit(&pending[sig], memory_order_seq_cst) == 0)
      continue;
    unsigned n = atomic_exchange_explicit(&pending[sig], 0, memory_order_seq_cst);
    for (struct reg *r = S.regs; r != NULL; r = r->next) {
      if (sigismember(&r->set, sig) != 1)
        continue;
      for (unsigned i = 0; i < n; i++)
        if (goro_chan_trysend(r->c, &sig) != 0)
          break; /* full (the rest are dropped for c), or closed */
    }
  }
}

static void *
deliver_main(void *arg)
{
  (void)arg;
  struct goro__thread *t = goro__self_service(); /* NULL: no memory; the detector stays silent */
  goro__mu_lock(&S.mu);
  atomic_store_explicit(&S.self, t, memory_order_relaxed);
  set_detector_state_locked();
  goro__mu_unlock(&S.mu);
  for (;;) {
    atomic_store_explicit(&wake_flag, 0, memory_order_seq_cst);
    goro__mu_lock(&S.mu);
    deliver_locked();
    goro__mu_unlock(&S.mu);
    while (sem_wait(&wake) != 0) {
    }
  }
  return NULL;
}

/* Start the delivery thread if it is not running. S.mu held. Returns 0 or
 * GORO_EAGAIN. */
static int
ensure_thread_locked(void)
{
  if (S.started)
    return 0;
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0)
    return GORO_EAGAIN;
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited: it never takes a signal */
  pthread_t th;
  int rc = pthread_create(&th, &attr, deliver_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0)
    return GORO_EAGAIN;
#ifdef HAVE_PTHREAD_SETNAME_NP
  pthread_setname_np(th, "goro-signal");
#endif
  S.started = true;
  return 0;
}

/* ---- fork ----------------------------------------------------------------
 *
 * The child keeps the registrations (as it keeps the dispositions and the
 * channels), but not the delivery thread nor the parent's pending counts
 * (those signals reached the parent). prepare blocks every signal in the
 * forking thread, so on_signal cannot run in the child before its state
 * is reset; a signal sent to the child meanwhile stays pending in the
 * kernel until the child handler restores the mask. */

void
goro__signal_atfork_prepare(void)
{
  sigset_t all;
  sigfillset(&all);
  goro__mu_lock(&S.mu);
  pthread_sigmask(SIG_SETMASK, &all, &S.fork_mask);
}

void
goro__signal_atfork_parent(void)
{
  sigset_t mask = S.fork_mask;
  goro__mu_unlock(&S.mu);
  pthread_sigmask(SIG_SETMASK, &mask, NULL);
}

void
goro__signal_atfork_child(void)
{
  for (int sig = 1; sig < NSIG; sig++)
    atomic_store_explicit(&pending[sig], 0, memory_order_relaxed);
  atomic_store_explicit(&wake_flag, 0, memory_order_relaxed);
  if (S.ready)
    sem_init(&wake, 0, 0); /* the lost thread may have been waiting on it */
  S.started = false;
  atomic_store_explicit(&S.self, NULL, memory_order_relaxed);
  if (S.regs != NULL)
    ensure_thread_locked(); /* on failure, signals are counted until a notify starts it */
  sigset_t mask = S.fork_mask;
  goro__mu_unlock(&S.mu);
  pthread_sigmask(SIG_SETMASK, &mask, NULL);
}

/* ---- the calls ---------------------------------------------------------- */

/* Undo the installs of the signals in set (S.mu held). */
static void
unwant_locked(const sigset_t *set)
{
  for (int sig = 1; sig < NSIG; sig++)
    if (sigismember(set, sig) == 1 && --S.wanted[sig] == 0)
      sigaction(sig, &S.old[sig], NULL);
}

int
goro_signal_notify(goro_chan *c, const sigset_t *set)
{
  if (c == NULL || set == NULL || goro__chan_elemsize(c) != sizeof(int))
    return GORO_EINVAL;
  sigset_t add;
  sigemptyset(&add);
  bool any = false;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sigismember(set, sig) != 1)
      continue;
    if (refused(sig))
      return GORO_EINVAL;
    sigaddset(&add, sig);
    any = true;
  }
  if (!any)
    return GORO_EINVAL;

  struct reg *fresh = malloc(sizeof *fresh);
  if (fresh == NULL)
    return GORO_ENOMEM;
  goro__mu_lock(&S.mu);
  if (!S.ready) {
    if (sem_init(&wake, 0, 0) != 0) {
      goro__mu_unlock(&S.mu);
      free(fresh);
      return GORO_ENOMEM;
    }
    S.ready = true;
  }
  int rc = ensure_thread_locked();
  if (rc != 0) {
    goro__mu_unlock(&S.mu);
    free(fresh);
    return rc;
  }
  struct reg *r = S.regs;
  while (r != NULL && r->c != c)
    r = r->next;

  /* Install the handler for each signal new to c, undoing them all if
   * one install fails, so that a failed call changes nothing. */
  sigset_t done;
  sigemptyset(&done);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_ONSTACK;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sigismember(&add, sig) != 1 || (r != NULL && sigismember(&r->set, sig) == 1))
      continue;
    if (S.wanted[sig] == 0 && sigaction(sig, &sa, &S.old[sig]) != 0) {
      unwant_locked(&done);
      goro__mu_unlock(&S.mu);
      free(fresh);
      return GORO_EINVAL;
    }
    S.wanted[sig]++;
    sigaddset(&done, sig);
  }
  if (r == NULL) {
    fresh->c = goro_chan_retain(c);
    fresh->set = done;
    fresh->next = S.regs;
    S.regs = fresh;
    fresh = NULL;
  } else {
    for (int sig = 1; sig < NSIG; sig++)
      if (sigismember(&done, sig) == 1)
        sigaddset(&r->set, sig);
  }
  set_detector_state_locked();
  goro__mu_unlock(&S.mu);
  free(fresh);
  return 0;
}

int
goro_signal_stop(goro_chan *c)
{
  if (c == NULL)
    return GORO_EINVAL;
  goro__mu_lock(&S.mu);
  struct reg **pp = &S.regs;
  while (*pp != NULL && (*pp)->c != c)
    pp = &(*pp)->next;
  struct reg *r = *pp;
  if (r != NULL) {
    *pp = r->next;
    unwant_locked(&r->set);
    set_detector_state_locked();
  }
  goro__mu_unlock(&S.mu);
  if (r != NULL) {
    goro_chan_release(r->c);
    free(r);
  }
  return 0;
}
