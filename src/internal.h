/* internal.h - goro__ internals shared by the files of src/.
 *
 * Lock order (a thread holding one of these may take only later ones):
 *   0. signal.c's lock  (registrations; held while delivering, and by the
 *      fork handlers)
 *   1. goro__sched.mu   (pool, thread list, registry)
 *   1b. a context's lock (ctx.c; never two at once; before the timer lock
 *      and channel locks); a group's lock and a signal context's watcher
 *      lock (group.c, ctx.c) are taken alone
 *   2. the timer lock   (timer.c), then the channel-name table's lock
 *      (chan.c; otherwise taken alone)
 *   3. channel locks, by ascending address (select.c locks several)
 *   4. WaitGroup locks
 *   5. a parker's lock  (parker.c, condvar parkers only; held only inside
 *      park/unpark), or a channel's ring_mu (GORO_VALGRIND builds; a leaf)
 * Waiters are woken only after every channel and WaitGroup lock is dropped.
 * Lock-free: a buffered channel's ring, a WaitGroup's counter, parker
 * state words (each file states its protocol).
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

/* Broken invariants abort, in release builds too. */
#define GORO__ASSERT(cond)                                                                         \
  ((cond) ? (void)0 : goro__assert_fail(#cond, __FILE__, __LINE__, __func__))
_Noreturn void goro__assert_fail(const char *expr, const char *file, int line, const char *func);

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

/* Mutex and condvar wrappers: these calls cannot fail in a correct
 * program, so a failure aborts. Debug builds use error-checking mutexes.
 * goro__mu_lock spins a moment on a taken lock before it sleeps (more
 * than one CPU only; parker.c). */
void goro__mu_init(pthread_mutex_t *mu);
void goro__mu_lock(pthread_mutex_t *mu);
void goro__mu_unlock(pthread_mutex_t *mu);
void goro__cond_init(pthread_cond_t *cv); /* on CLOCK_MONOTONIC */

/* ---- Parker (parker.c) ------------------------------------------------- */

/* One per thread that ever blocks in goro. state is PARK_EMPTY, _NOTIFIED
 * or _SLEEPING; only the owner moves it away from NOTIFIED, only unpark
 * moves it to NOTIFIED. A parker is never freed (thread records are
 * recycled), so a waker may still touch it after the sleeper has gone. */
#if defined(__linux__) && !defined(GORO_VALGRIND)
#define GORO__FUTEX 1 /* sleep on the state word with futex(2) */
#else
#define GORO__FUTEX 0
#endif
struct goro__parker {
  _Atomic int state;
  int relax; /* the owner's cpu_relax budget (parker.c); 0: the default */
#if !GORO__FUTEX
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
  return atomic_load_explicit(&p->state, memory_order_relaxed) == 2; /* PARK_SLEEPING */
}
/* Wake the owner of p. Each park is ended by at most one unpark. */
void goro__unpark(struct goro__parker *p);

int64_t goro__now(void);
/* goro__now() + ns, saturating at INT64_MAX (ns >= 0). */
int64_t goro__deadline(int64_t ns);

/* ---- Threads and the registry (go.c, registry.c) ----------------------- */

/* What a thread is doing, for dumps (state) and for the deadlock
 * detector (wait). */
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
enum goro__wait {
  GORO__WAIT_NONE = 0, /* can make progress */
  GORO__WAIT_FOREVER,  /* only another thread can wake it */
  GORO__WAIT_TIMED,    /* will wake by itself */
  GORO__WAIT_IDLE,     /* goro's own idle thread */
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
  _Atomic int wait;             /* enum goro__wait; a waker resets it to NONE */
  _Atomic uint32_t waitseq;     /* bumped at every block, for the detector */
  _Atomic int64_t since;        /* goro_now() when it fell asleep; 0 if not */
  const void *_Atomic waitchan; /* channel it waits on, or NULL */
  const char *_Atomic waitname; /* that channel's (immortal) name, or NULL */
  _Atomic pid_t tid;            /* kernel thread id, set by the thread */

  /* Under goro__sched.mu. */
  struct goro__thread *next, *prev; /* the list of live threads */
  struct goro__thread *idle_next;   /* the idle stack, or the free list */
  bool is_worker;                   /* started by goro_go */
  bool is_idle;                     /* on the idle stack */
  goro_fn *fn;                      /* the goroutine's function */
  void *arg;
  goro_wg *wg;                /* goro_wg_go: done when fn returns */
  char name[GORO__NAME_SIZE]; /* goro_go_named, or "" */
};

struct goro__sched {
  pthread_mutex_t mu;
  struct goro__thread *threads; /* live threads (workers, foreign, timer) */
  size_t nthreads;
  struct goro__thread *idle; /* idle workers asleep, LIFO */
  size_t nidle;              /* on the idle stack */
  struct goro__thread *free; /* recycled records */
  struct goro__thread *dead; /* records of threads lost to fork(): never reused */
};
extern struct goro__sched goro__sched;

/* The calling thread's record, created on first use (NULL only when
 * memory runs out). The first call takes goro__sched.mu, so call it
 * before taking any channel or WaitGroup lock (see the lock order). */
extern _Thread_local struct goro__thread *goro__tls_self;
struct goro__thread *goro__self_slow(void);
static inline struct goro__thread *
goro__self(void)
{
  struct goro__thread *t = goro__tls_self;
  return GORO__LIKELY(t != NULL) ? t : goro__self_slow();
}

/* Mark t blocked in state s on chan (may be NULL). Called by t itself,
 * before its waiter becomes visible to others (under the object's lock). */
static inline void
goro__block_begin(struct goro__thread *t, enum goro__state s, enum goro__wait w, const void *chan,
                  const char *name)
{
  atomic_store_explicit(&t->waitchan, chan, memory_order_relaxed);
  atomic_store_explicit(&t->waitname, name, memory_order_release); /* see goro__chan_name */
  atomic_store_explicit(&t->state, s, memory_order_relaxed);
  atomic_fetch_add_explicit(&t->waitseq, 1, memory_order_relaxed);
  atomic_store_explicit(&t->wait, w, memory_order_release);
}

/* t runs again. Called by t itself once its wait is over. */
static inline void
goro__block_end(struct goro__thread *t)
{
  atomic_store_explicit(&t->wait, GORO__WAIT_NONE, memory_order_relaxed);
  atomic_store_explicit(&t->state, GORO__RUNNING, memory_order_relaxed);
  atomic_store_explicit(&t->since, 0, memory_order_relaxed);
  atomic_store_explicit(&t->waitchan, NULL, memory_order_relaxed);
}

/* Wake t, blocked in goro__block_begin/goro__wait. The caller holds no
 * channel lock, and touches no waiter of t's afterwards. */
static inline void
goro__wake(struct goro__thread *t)
{
  atomic_store_explicit(&t->wait, GORO__WAIT_NONE, memory_order_relaxed);
  goro__unpark(&t->parker);
}

/* Park t (after goro__block_begin and dropping the object's lock) until
 * woken or until deadline (< 0: none), spinning first if spin is set.
 * Returns true when woken. */
bool goro__wait(struct goro__thread *t, int64_t deadline, bool spin);

/* Start fn(arg) in a goroutine; if wg is set, goro_wg_done(wg) once fn
 * returns. */
int goro__go(const char *name, goro_fn *fn, void *arg, goro_wg *wg);
/* Take the calling thread's signal mask as the one goroutines run with,
 * unless one was taken already (goro__go does, at its first call). A
 * public call that may later start a goroutine from one of goro's own
 * threads, which block every signal (goro_after_func from the timer
 * thread), calls it first in the caller's thread. */
void goro__capture_mask(void);
/* Whether a goroutine sits in the hand-off ring, spawned but not yet
 * taken by the idle worker promised to it. Exact under goro__sched.mu
 * (a pop takes it, see go.c); a snapshot otherwise. */
bool goro__handoff_pending(void);
/* A test seam: when a program defines it (and exports it: -rdynamic), a
 * worker calls it just after taking a goroutine from the hand-off ring,
 * under goro__sched.mu (test/registry_child stalls there). */
GORO_EXTERN void goro__test_handoff_popped(void) __attribute__((weak));

/* The deadlock detector's hook: a thread started to wait forever. */
void goro__deadlock_poke(void);
/* The detector runs (so the timer thread must, to scan). */
bool goro__deadlock_active(void);
void goro__registry_init(void);

/* ---- Waiters (waiter.h) and channels (chan.c) -------------------------- */

#include "waiter.h"

/* c's lock and name, for select.c. */
void goro__chan_lock(goro_chan *c);
void goro__chan_unlock(goro_chan *c);
const char *goro__chan_name(goro_chan *c);
size_t goro__chan_elemsize(goro_chan *c);

/* With c locked: try to send *elem now. Returns 1 when done (then, if *w
 * is set, the caller must unlock and call goro__complete_send(c, *w,
 * elem)), 0 when it would block, GORO_EPIPE when c is closed. */
int goro__chan_trysend_locked(goro_chan *c, const void *elem, struct goro__waiter **w);
/* With c locked: try to receive into elem now. Returns 1 with a value
 * (then, if *w is set, the caller must unlock and call
 * goro__complete_recv(c, *w, elem)), 0 when closed and drained (elem
 * zeroed), GORO_EAGAIN when it would block. */
int goro__chan_tryrecv_locked(goro_chan *c, void *elem, struct goro__waiter **w);
void goro__complete_send(goro_chan *c, struct goro__waiter *w, const void *elem);
void goro__complete_recv(goro_chan *c, struct goro__waiter *w, void *elem);

/* Is c buffered? Its cases then complete by retry: a waiter woken with
 * w->retry set had nothing done for it, and must try its case again. */
bool goro__chan_buffered(goro_chan *c);
/* Buffered c, locked: would op find room (a value), or c closed? */
bool goro__chan_ready_locked(goro_chan *c, int op);
/* Buffered c: a number that changes whenever its ring does (for select's
 * double-collect snapshot). */
size_t goro__chan_version(goro_chan *c);
/* Buffered c, not locked: pass a retry wake-up on to another waiter of
 * op's queue, if any (for a select that was woken for c and left by
 * another case). */
void goro__chan_kick(goro_chan *c, int op);

/* Enqueue w on c's send or receive queue; c locked. */
void goro__chan_enqueue(goro_chan *c, struct goro__waiter *w, int op);
/* Remove w from the queue it is on, if any; c locked. */
void goro__chan_dequeue(goro_chan *c, struct goro__waiter *w);

/* Timer nodes (timer.c). A channel made by goro_after owns its node;
 * a ticker or a goro_timer embeds one; a context embeds a callback
 * timer for its deadline. */
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
void goro__timer_cancel_free(struct goro__timer *tm);
bool goro__timers_pending(void);
void goro__timer_thread_ensure(void);
void goro__set_chan_timer(goro_chan *c, struct goro__timer *tm);

/* Thread-local xorshift generator (select.c). */
uint32_t goro__rand(void);

/* Reset global state in the child after fork (each file its own). */
void goro__go_atfork_child(void);
void goro__timer_atfork_prepare(void);
void goro__names_atfork_prepare(void);
void goro__names_atfork_release(void); /* parent and child alike */
void goro__timer_atfork_parent(void);
void goro__timer_atfork_child(void);

/* ---- Processes and signals (registry.c, signal.c) ---------------------- */

/* The number of threads in this process, or -1 if unknown. */
long goro__os_thread_count(void);
/* Is t the record of signal.c's delivery thread (goro's own)? */
bool goro__is_signal_thread(struct goro__thread *t);

#endif
