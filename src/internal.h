/* internal.h - goro__ internals shared by the files of src/, and the map
 * of how those files depend on each other.
 *
 * Layers, lowest first. A file calls (and includes the headers of) only
 * its own layer and the layers below it; a lower layer that must reach up
 * does it through a hook the upper one installs (named below).
 * test/check_layers.sh checks the calls and includes against this table,
 * whose rows it reads: keep the format "<n> <layer>: <files>".
 *
 *   1 sys: error.c
 *   2 parker: parker.c parker_futex.c parker_cond.c parker.h
 *   3 thread: thread.c waiter.h
 *   4 chan: ring.h chan.c dirchan.c
 *   5 select: select.c
 *   6 pool: go.c
 *   7 wg: wg.c
 *   8 timer: timer.c
 *   9 registry: registry.c
 *  10 signal: signal.c
 *  11 ctx: ctx.c
 *  12 group: group.c
 *  13 fork: fork.c
 *
 *   sys       abort on broken invariants (GORO__ASSERT, goro__check_rc),
 *             error strings;
 *   parker    a thread's sleep and wake-up, the spin policy, the clock,
 *             the mutex wrappers (their lock spins by that policy);
 *   thread    thread records (the registry's entries), blocking and
 *             waking a thread, waiters; hook: goro__thread_hooks;
 *   chan      channels: the ring (ring.h), the unbuffered hand-off, the
 *             verbs select uses (poll, arm, disarm, ...); hook: a
 *             channel's on_free (goro_after's timer);
 *   select    goro_select over those verbs, for any channel;
 *   pool      goro_go: the worker pool and its hand-off ring;
 *   wg        WaitGroup, goro_wg_go, goro_wg_closer;
 *   timer     the timer thread, goro_after, tickers, goro_timer;
 *   registry  dumps, leak checks, the deadlock detector (its scan is a
 *             callback timer of its own);
 *   signal    signal.Notify: goro_signal_notify/stop;
 *   ctx       context, and goro_signal_ctx (signal.NotifyContext);
 *   group     errgroup;
 *   fork      init at load, and every module's fork handlers, in lock
 *             order.
 *
 * Lock order (a thread holding one of these may take only later ones):
 *   0. signal.c's lock  (registrations; held while delivering, and across
 *      fork)
 *   1. goro__threads.mu (thread records, the pool's idle stack)
 *   1b. a context's lock (ctx.c; never two at once; before the timer lock
 *      and channel locks); a group's lock and a signal context's watcher
 *      lock (group.c, ctx.c) are taken alone
 *   2. the timer lock   (timer.c), then the channel-name table's lock
 *      (chan.c; otherwise taken alone)
 *   3. channel locks, by ascending address (select.c locks several)
 *   4. WaitGroup locks
 *   5. a parker's lock  (parker_cond.c only; held only inside park and
 *      unpark), or, in GORO_VALGRIND builds, a ring's or a channel's vg_mu
 *      (leaves)
 * Waiters are woken only after every channel and WaitGroup lock is dropped.
 * Lock-free: a ring (ring.h), a WaitGroup's counter, parker state words
 * (each file states its protocol).
 */
#ifndef GORO_INTERNAL_H
#define GORO_INTERNAL_H

#include <goro.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include "annotate.h"

/* ---- sys (error.c) ------------------------------------------------------- */

/* Broken invariants abort, in release builds too. */
#define GORO__ASSERT(cond)                                                                         \
  ((cond) ? (void)0 : goro__assert_fail(#cond, __FILE__, __LINE__, __func__))
_Noreturn void goro__assert_fail(const char *expr, const char *file, int line, const char *func);
/* rc is what the pthread call named what returned: abort unless it is 0. */
void goro__check_rc(int rc, const char *what);

#define GORO__LIKELY(x)   __builtin_expect(!!(x), 1)
#define GORO__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* A spin-wait hint to the CPU. */
static inline void
goro__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* ---- parker (parker.h, parker.c) ---------------------------------------- */

#include "parker.h"

/* Mutex and condvar wrappers (parker.c: the lock spins by the parker's
 * policy), for every layer from the parker up: these calls cannot fail in
 * a correct program, so a failure aborts. Debug builds use error-checking
 * mutexes. goro__mu_lock spins a moment on a taken lock before it sleeps
 * (more than one CPU only). */
void goro__mu_init(pthread_mutex_t *mu);
void goro__mu_lock(pthread_mutex_t *mu);
void goro__mu_unlock(pthread_mutex_t *mu);
void goro__cond_init(pthread_cond_t *cv); /* on CLOCK_MONOTONIC */

/* ---- thread (thread.c) --------------------------------------------------- */

/* What a thread is doing, for dumps (state) and for the deadlock
 * detector (blocked). */
enum goro__state {
  GORO__RUNNING = 0,
  GORO__SEND,
  GORO__RECV,
  GORO__SELECT,
  GORO__SELECT_NOCASES,
  GORO__WG_WAIT,
  GORO__SLEEP,
  GORO__IDLE,  /* a pooled worker with no goroutine */
  GORO__TIMER, /* the timer thread */
};
/* Who can end a thread's wait. */
enum goro__blocked {
  GORO__NOT_BLOCKED = 0, /* it can make progress */
  GORO__BLOCKED_FOREVER, /* only another thread can wake it */
  GORO__BLOCKED_TIMED,   /* it will wake by itself */
  GORO__BLOCKED_IDLE,    /* goro's own thread, idle */
};

/* A goroutine's name, as goro_go_named keeps it: 63 bytes and a NUL. */
enum { GORO__NAME_SIZE = 64 };

/* A thread's record: its parker, its pool slot and its registry entry.
 * Records are recycled, never freed (see struct goro__parker). */
struct goro__thread {
  struct goro__parker parker;

  /* Written by the owner, read by anyone (dumps, deadlock detector). */
  _Atomic uint64_t id;          /* goroutine id; 0 for a foreign or idle thread */
  _Atomic int state;            /* enum goro__state */
  _Atomic int blocked;          /* enum goro__blocked; a waker resets it to NOT_BLOCKED */
  _Atomic uint32_t waitseq;     /* bumped at every block, for the detector */
  _Atomic int64_t since;        /* goro_now() when it fell asleep; 0 if not */
  const void *_Atomic waitchan; /* channel it waits on, or NULL */
  const char *_Atomic waitname; /* that channel's (immortal) name, or NULL */
  _Atomic pid_t tid;            /* kernel thread id, set by the thread */

  /* Under goro__threads.mu. */
  struct goro__thread *next, *prev; /* the list of live threads */
  struct goro__thread *link;        /* the one other list it may be on: the
                                       pool's idle stack, or the free or
                                       dead list (thread.c) */
  bool is_worker;                   /* started by goro_go */
  bool is_idle;                     /* on the idle stack */
  bool is_service;                  /* goro's own: the timer or signal thread */
  goro_fn *fn;                      /* the goroutine's function */
  void *arg;
  goro_fn *then; /* run with then_arg once fn returns, or NULL */
  void *then_arg;
  char name[GORO__NAME_SIZE]; /* goro_go_named, or "" */
};

/* The thread records. */
struct goro__threads {
  pthread_mutex_t mu;
  struct goro__thread *list; /* live threads (workers, foreign, goro's own) */
  size_t n;                  /* on list */
  struct goro__thread *free; /* recycled records, linked by link */
  struct goro__thread *dead; /* records of threads lost to fork(): never reused */
};
extern struct goro__threads goro__threads;

/* Set once, at load (fork.c), by the layers above: what thread.c cannot
 * call directly. */
struct goro__thread_hooks {
  void (*blocked_forever)(void); /* a thread starts a wait with no deadline */
};
extern struct goro__thread_hooks goro__thread_hooks;

/* Once, before anything else (fork.c, and lazily). */
void goro__thread_init(void);

/* The calling thread's record, created on first use (NULL only when
 * memory runs out). The first call takes goro__threads.mu, so call it
 * before taking any channel or WaitGroup lock (see the lock order). */
extern _Thread_local struct goro__thread *goro__tls_self;
struct goro__thread *goro__self_slow(void);
static inline struct goro__thread *
goro__self(void)
{
  struct goro__thread *t = goro__tls_self;
  return GORO__LIKELY(t != NULL) ? t : goro__self_slow();
}

/* Records for pooled workers (go.c). goro__threads.mu held. A zeroed
 * record, from the free list or fresh (NULL: no memory); add one to the
 * thread list; take one off it onto the free list. */
struct goro__thread *goro__record_get_locked(void);
void goro__record_add_locked(struct goro__thread *t);
void goro__record_retire_locked(struct goro__thread *t);

/* The kernel's id of the calling thread (0 where unknown). */
pid_t goro__gettid(void);
/* The number of threads in this process, or -1 if unknown. */
long goro__os_thread_count(void);

/* Mark t blocked in state s on chan (may be NULL). Called by t itself,
 * before its waiter becomes visible to others (under the object's lock). */
static inline void
goro__block_begin(struct goro__thread *t, enum goro__state s, enum goro__blocked b,
                  const void *chan, const char *name)
{
  atomic_store_explicit(&t->waitchan, chan, memory_order_relaxed);
  atomic_store_explicit(&t->waitname, name, memory_order_release); /* see goro__chan_name */
  atomic_store_explicit(&t->state, s, memory_order_relaxed);
  atomic_fetch_add_explicit(&t->waitseq, 1, memory_order_relaxed);
  atomic_store_explicit(&t->blocked, b, memory_order_release);
}

/* t runs again. Called by t itself once its wait is over. */
static inline void
goro__block_end(struct goro__thread *t)
{
  atomic_store_explicit(&t->blocked, GORO__NOT_BLOCKED, memory_order_relaxed);
  atomic_store_explicit(&t->state, GORO__RUNNING, memory_order_relaxed);
  atomic_store_explicit(&t->since, 0, memory_order_relaxed);
  atomic_store_explicit(&t->waitchan, NULL, memory_order_relaxed);
}

/* Park t (after goro__block_begin and dropping the object's lock) until
 * woken or until deadline (< 0: none), spinning first if spin is set.
 * Returns true when woken. */
bool goro__block_wait(struct goro__thread *t, int64_t deadline, bool spin);

/* Wake t, blocked in goro__block_begin/goro__block_wait. The caller holds
 * no channel lock, and touches no waiter of t's afterwards. */
static inline void
goro__wake(struct goro__thread *t)
{
  atomic_store_explicit(&t->blocked, GORO__NOT_BLOCKED, memory_order_relaxed);
  goro__unpark(&t->parker);
}

/* Mark the calling thread as goro's own service thread (the timer or
 * signal thread): not a goroutine, not shown in dumps, and counted as
 * goro's in a fork child. Returns its record, or NULL (no memory). */
struct goro__thread *goro__self_service(void);

/* fork, child side: only the calling thread survives; the others' records
 * go to the dead list (goro__threads.mu held, from prepare). */
void goro__thread_atfork_child(void);

/* ---- chan (waiter.h, ring.h, chan.c) ------------------------------------- */

#include "waiter.h"

/* c's lock and name, for select.c. */
void goro__chan_lock(goro_chan *c);
void goro__chan_unlock(goro_chan *c);
const char *goro__chan_name(goro_chan *c);
size_t goro__chan_elemsize(goro_chan *c);

/* The verbs goro_select uses on a case k of any channel, in its passes:
 *
 *   goro__chan_poll(k, &partner, snap)    k's channel locked: try k now.
 *       True when k is done (k->ok set: false if the channel is closed);
 *       then, after unlocking, goro__chan_finish(k, partner) if partner
 *       is set. False when k would block; *snap (snap may be NULL) then
 *       records what was seen.
 *   goro__chan_changed(k, snap)           locked: has the channel changed
 *       since that poll? (A select that found nothing ready must have
 *       seen every channel at one instant.)
 *   goro__chan_arm(k, w)                  locked: queue w (its t, sel,
 *       elem and idx set) for k, then look again: true when k may proceed
 *       now (disarm and poll again), false when w's thread may sleep.
 *   goro__chan_disarm(k, w)               locked: dequeue w if no partner
 *       took it.
 *   goro__chan_woken(k, w)                after the select won by w woke:
 *       true when the partner completed k (k->ok set); false when it woke
 *       the select only to poll again. A select woken so that then leaves
 *       by another case (or times out) owes that wake-up to the channel's
 *       other waiters: goro__chan_pass(k), with no lock held.
 */
bool goro__chan_poll(goro_case *k, struct goro__waiter **partner, size_t *snap);
void goro__chan_finish(goro_case *k, struct goro__waiter *partner);
bool goro__chan_changed(goro_case *k, size_t snap);
bool goro__chan_arm(goro_case *k, struct goro__waiter *w);
void goro__chan_disarm(goro_case *k, struct goro__waiter *w);
bool goro__chan_woken(goro_case *k, struct goro__waiter *w);
void goro__chan_pass(goro_case *k);

/* Run fn(arg) when c is freed (goro_after's timer: timer.c). Set before
 * c is shared. */
void goro__chan_on_free(goro_chan *c, void (*fn)(void *), void *arg);

/* fork: hold the channel-name table's lock across it. */
void goro__names_atfork_prepare(void);
void goro__names_atfork_release(void); /* parent and child alike */

/* ---- select (select.c) --------------------------------------------------- */

/* Thread-local xorshift generator. */
uint32_t goro__rand(void);

/* ---- pool (go.c) --------------------------------------------------------- */

/* Start fn(arg) in a goroutine; if then is set, then(then_arg) once fn
 * returns (goro_wg_go's done). */
int goro__go(const char *name, goro_fn *fn, void *arg, goro_fn *then, void *then_arg);
/* Once, at load (fork.c), and lazily. */
void goro__pool_init(void);
/* Take the calling thread's signal mask as the one goroutines run with,
 * unless one was taken already (goro__go does, at its first call). A
 * public call that may later start a goroutine from one of goro's own
 * threads, which block every signal (goro_after_func from the timer
 * thread), calls it first in the caller's thread. */
void goro__capture_mask(void);
/* Whether a goroutine sits in the hand-off ring, spawned but not yet
 * taken by the idle worker promised to it. Exact under goro__threads.mu
 * (a pop takes it, see go.c); a snapshot otherwise. */
bool goro__handoff_pending(void);
/* A test seam: when a program defines it (and exports it: -rdynamic), a
 * worker calls it just after taking a goroutine from the hand-off ring,
 * under goro__threads.mu (test/registry_child stalls there). */
GORO_EXTERN void goro__test_handoff_popped(void) __attribute__((weak));
/* fork (goro__threads.mu held): prepare; then parent or child. */
void goro__pool_atfork_prepare(void);
void goro__pool_atfork_parent(void);
void goro__pool_atfork_child(void);

/* ---- timer (timer.c) ----------------------------------------------------- */

/* Timer nodes. A channel made by goro_after owns its node; a ticker or a
 * goro_timer embeds one; a context embeds a callback timer for its
 * deadline; the registry one for its scans. */
struct goro__timer {
  int64_t when;   /* goro_now() at which it fires; under the timer lock */
  uint64_t seq;   /* tie-breaker: order of arming; under the timer lock */
  int64_t period; /* > 0 for a ticker; immutable */
  size_t idx;     /* heap index or NOT_QUEUED (SIZE_MAX); under the timer lock */
  goro_chan *c;   /* where values go; NULL for a callback timer */
  /* A callback timer's, immutable: hold(arg) runs under the timer lock
   * when it fires (lock-free work only; NULL or true: go on), then
   * fn(arg) with no lock held, in a new goroutine if spawn is set, else
   * on the timer thread (it must not block). */
  bool (*hold)(void *arg);
  goro_fn *fn;
  void *arg;
  bool spawn;
  bool reserved; /* a goro_timer: its heap slot is kept free (timer.c) */
};
/* A callback timer, not queued. */
void goro__timer_init_func(struct goro__timer *tm, bool (*hold)(void *), goro_fn *fn, void *arg);
/* Queue tm (not queued) to fire at when. 0, GORO_ENOMEM or GORO_EAGAIN. */
int goro__timer_start(struct goro__timer *tm, int64_t when);
/* Dequeue tm: true if it was queued. Once this returns, the timer thread
 * does not touch tm (a callback that fired before runs from a copy). */
bool goro__timer_stop(struct goro__timer *tm);
/* Are timers queued (other than one whose callback runs now)? */
bool goro__timers_pending(void);
/* fork: prepare takes the timer lock; parent drops it; child drops every
 * timer (their channels may be locked by lost threads) and drops it. */
void goro__timer_atfork_prepare(void);
void goro__timer_atfork_parent(void);
void goro__timer_atfork_child(void);

/* ---- registry (registry.c) ----------------------------------------------- */

/* Once, at load (fork.c): GORO_LEAKCHECK, GORO_DUMP_SIGNAL, and the hook
 * that starts the deadlock detector. */
void goro__registry_init(void);
/* fork, child side, after the timers': scans resume if they ran. */
void goro__registry_atfork_child(void);

/* ---- signal (signal.c) --------------------------------------------------- */

/* fork: prepare takes signal.c's lock (first of all); parent and child
 * drop it last. */
void goro__signal_atfork_prepare(void);
void goro__signal_atfork_parent(void);
void goro__signal_atfork_child(void);

#endif
