/* timer.c - the timer thread: goro_after, tickers, goro_timer (time.Timer,
 * with Go 1.23's Stop and Reset), goro_after_func, internal callback
 * timers (context deadlines, the registry's scans); goro_now
 * and goro_sleep.
 *
 * One lazily started thread keeps a min-heap of timers ordered by
 * (when, seq) and delivers each with a non-blocking send on its cap-1
 * channel, so a slow reader misses ticks, as in Go. A select with a
 * timeout and goro_sleep park with a deadline and do not need it.
 *
 * A callback timer (tm->c == NULL, tm->fn set) has no channel: when it
 * fires, the timer thread calls tm->hold(tm->arg) under timers.mu (lock-free
 * work only; false skips the callback), copies (fn, arg, spawn) out of
 * the node, drops timers.mu and then runs fn(arg), in a new goroutine if
 * spawn is set (goro_after_func) or on the timer thread itself (internal
 * callbacks, which must not block). After timers.mu is dropped the timer
 * thread never touches the node again, so its owner may free it as soon
 * as goro__timer_stop (or a stop of its own under timers.mu) has returned.
 *
 * Invariants, under timers.mu:
 *   tm->idx is tm's index in timers.heap, or NOT_QUEUED;
 *   timers.heap[0..timers.n) is a min-heap by (when, seq);
 *   timers.capacity >= timers.n + (goro_timers not queued): every goro_timer has a
 *   heap slot reserved at make, so goro_timer_reset cannot fail.
 * Deliveries happen under timers.mu, so once goro_ticker_stop or the release
 * of an after-channel has removed a timer, no value arrives from it; and
 * goro_timer_stop/reset, under timers.mu, dequeue the timer or drain the value
 * it delivered (see stop_locked): Go 1.23's guarantee.
 * Lock order: goro__threads.mu, then a context's lock (ctx.c), then timers.mu,
 * then a channel lock, then a parker's lock. Callbacks run with no lock
 * held.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#define NOT_QUEUED SIZE_MAX

struct goro_ticker {
  struct goro__timer tm; /* tm.c holds one reference of the ticker's */
};

/* time.Timer and time.AfterFunc. */
struct goro_timer {
  struct goro__timer tm; /* tm.c: the channel, owned (NULL for after_func) */
};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* the timer thread waits here */
  bool cv_ready;     /* cv is initialised (with the thread's first start) */
  struct goro__timer **heap;
  size_t n, capacity;
  size_t reserved; /* live goro_timers, each with a slot kept free for it */
  uint64_t seq;
  bool started; /* the thread runs (or is starting) */
} timers = {.mu = PTHREAD_MUTEX_INITIALIZER};

int64_t
goro_now(void)
{
  return goro__now();
}

void
goro_sleep(int64_t ns)
{
  if (ns <= 0)
    return;
  int64_t deadline = goro__deadline(ns);
  struct goro__thread *t = goro__self();
  if (t == NULL) {
    struct timespec ts = {(time_t)(ns / GORO_SECOND), (long)(ns % GORO_SECOND)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
      ;
    return;
  }
  goro__block_begin(t, GORO__SLEEP, GORO__BLOCKED_TIMED, NULL, NULL);
  while (goro__block_wait(t, deadline, false))
    ; /* no waiter was published: nobody can wake us */
  goro__block_end(t);
}

/* ---- the heap ----------------------------------------------------------- */

static bool
before(const struct goro__timer *a, const struct goro__timer *b)
{
  return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
heap_set(size_t i, struct goro__timer *tm)
{
  timers.heap[i] = tm;
  tm->idx = i;
}

static void
sift_up(size_t i)
{
  struct goro__timer *tm = timers.heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(tm, timers.heap[parent]))
      break;
    heap_set(i, timers.heap[parent]);
    i = parent;
  }
  heap_set(i, tm);
}

static void
sift_down(size_t i)
{
  struct goro__timer *tm = timers.heap[i];
  for (;;) {
    size_t k = 2 * i + 1;
    if (k >= timers.n)
      break;
    if (k + 1 < timers.n && before(timers.heap[k + 1], timers.heap[k]))
      k++;
    if (!before(timers.heap[k], tm))
      break;
    heap_set(i, timers.heap[k]);
    i = k;
  }
  heap_set(i, tm);
}

/* timers.mu held: make room for need timers in the heap. False when memory
 * runs out. */
static bool
heap_grow(size_t need)
{
  if (need > timers.capacity) {
    size_t cap = timers.capacity ? 2 * timers.capacity : 16;
    while (cap < need)
      cap *= 2;
    struct goro__timer **h = realloc(timers.heap, cap * sizeof *h);
    if (h == NULL)
      return false;
    timers.heap = h;
    timers.capacity = cap;
  }
  return true;
}

/* timers.mu held. Returns false when memory runs out (never for a goro_timer:
 * its slot is reserved, see the invariants). */
static bool
heap_push(struct goro__timer *tm)
{
  if (!tm->reserved && !heap_grow(timers.n + 1 + timers.reserved))
    return false;
  GORO__ASSERT(timers.n < timers.capacity);
  tm->seq = timers.seq++;
  heap_set(timers.n++, tm);
  sift_up(tm->idx);
  return true;
}

/* timers.mu held; tm queued. */
static void
heap_remove(struct goro__timer *tm)
{
  size_t i = tm->idx;
  tm->idx = NOT_QUEUED;
  struct goro__timer *last = timers.heap[--timers.n];
  if (i == timers.n)
    return;
  heap_set(i, last);
  sift_down(i);
  if (last->idx == i)
    sift_up(i);
}

bool
goro__timers_pending(void)
{
  goro__mu_lock(&timers.mu);
  bool pending = timers.n > 0;
  goro__mu_unlock(&timers.mu);
  return pending;
}

/* ---- the thread --------------------------------------------------------- */

/* A callback timer that fired, copied out of its node under timers.mu. */
struct fired {
  goro_fn *fn;
  void *arg;
  bool spawn;
};
enum { FIRED_BATCH = 32 }; /* callbacks run per hold of timers.mu, at most */

/* Run a fired callback, with no lock held. A goroutine for after_func:
 * when no thread can be had, retry every millisecond (the timer thread
 * is held up meanwhile; Go's AfterFunc cannot fail either). */
static void
run_fired(const struct fired *f)
{
  if (!f->spawn) {
    f->fn(f->arg);
    return;
  }
  while (goro_go_named("goro_after_func", f->fn, f->arg) != 0) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

static void *
timer_main(void *arg)
{
  (void)arg;
  struct goro__thread *t = goro__self_service();
  goro__mu_lock(&timers.mu);
  for (;;) {
    int64_t now = goro__now();
    struct fired calls[FIRED_BATCH];
    size_t ncalls = 0;
    while (timers.n > 0 && timers.heap[0]->when <= now && ncalls < FIRED_BATCH) {
      struct goro__timer *tm = timers.heap[0];
      heap_remove(tm);
      if (tm->c == NULL) { /* a callback timer: run it below, unlocked */
        if (tm->hold == NULL || tm->hold(tm->arg))
          calls[ncalls++] = (struct fired){tm->fn, tm->arg, tm->spawn};
        continue;
      }
      int64_t v = now;
      goro_chan_trysend(tm->c, &v); /* a full channel drops the value */
      if (tm->period > 0) {
        /* Next multiple of the period after now: ticks missed while the
         * reader was slow are dropped, not queued. */
        int64_t missed = (now - tm->when) / tm->period;
        int64_t step;
        if (__builtin_mul_overflow(tm->period, missed + 1, &step) ||
            __builtin_add_overflow(tm->when, step, &tm->when))
          tm->when = INT64_MAX;
        if (!heap_push(tm))
          tm->idx = NOT_QUEUED; /* no memory: the ticker stops ticking */
      }
    }
    if (ncalls > 0) {
      /* The nodes may be freed from now on: only the copies are used. */
      goro__mu_unlock(&timers.mu);
      for (size_t i = 0; i < ncalls; i++)
        run_fired(&calls[i]);
      goro__mu_lock(&timers.mu);
      continue; /* more may be due */
    }
    if (t != NULL) { /* NULL: no memory for a record; the detector stays silent */
      atomic_store_explicit(&t->blocked, timers.n > 0 ? GORO__BLOCKED_TIMED : GORO__BLOCKED_IDLE,
                            memory_order_relaxed);
      atomic_store_explicit(&t->state, GORO__TIMER, memory_order_relaxed);
    }
    if (timers.n == 0) {
      pthread_cond_wait(&timers.cv, &timers.mu);
      continue;
    }
    int64_t deadline = timers.heap[0]->when;
    struct timespec ts = {(time_t)(deadline / GORO_SECOND), (long)(deadline % GORO_SECOND)};
    int rc = pthread_cond_timedwait(&timers.cv, &timers.mu, &ts);
    GORO__ASSERT(rc == 0 || rc == ETIMEDOUT);
  }
  return NULL;
}

/* timers.mu held. Start the thread if it is not running; false on failure. */
static bool
ensure_locked(void)
{
  if (timers.started)
    return true;
  if (!timers.cv_ready) {
    goro__cond_init(&timers.cv);
    timers.cv_ready = true;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  int rc = pthread_create(&th, &attr, timer_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0)
    return false;
#ifdef HAVE_PTHREAD_SETNAME_NP
  pthread_setname_np(th, "goro-timer");
#endif
  timers.started = true;
  return true;
}

/* timers.mu held; tm not queued. Arm tm to fire at when. Returns 0 or a
 * GORO_ error. */
static int
arm_locked(struct goro__timer *tm, int64_t when)
{
  if (!ensure_locked())
    return GORO_EAGAIN;
  tm->when = when;
  if (!heap_push(tm))
    return GORO_ENOMEM;
  if (tm->idx == 0)
    pthread_cond_signal(&timers.cv);
  return 0;
}

/* Arm tm to fire at when. Returns 0 or a GORO_ error. */
static int
arm(struct goro__timer *tm, int64_t when)
{
  goro__mu_lock(&timers.mu);
  int rc = arm_locked(tm, when);
  goro__mu_unlock(&timers.mu);
  return rc;
}

/* ---- internal callback timers ------------------------------------------- */

void
goro__timer_init_func(struct goro__timer *tm, bool (*hold)(void *), goro_fn *fn, void *arg)
{
  *tm = (struct goro__timer){.idx = NOT_QUEUED, .hold = hold, .fn = fn, .arg = arg};
}

int
goro__timer_start(struct goro__timer *tm, int64_t when)
{
  return arm(tm, when);
}

bool
goro__timer_stop(struct goro__timer *tm)
{
  goro__mu_lock(&timers.mu);
  bool queued = tm->idx != NOT_QUEUED;
  if (queued)
    heap_remove(tm);
  goro__mu_unlock(&timers.mu);
  return queued;
}

/* ---- after -------------------------------------------------------------- */

/* An after-timer does not own its channel: the channel owns the timer,
 * and its last release cancels and frees it (this hook). */
static void
after_free(void *arg)
{
  struct goro__timer *tm = arg;
  goro__mu_lock(&timers.mu);
  if (tm->idx != NOT_QUEUED)
    heap_remove(tm);
  goro__mu_unlock(&timers.mu);
  free(tm);
}

goro_chan *
goro_after(int64_t ns)
{
  goro_chan *c = goro_chan_make(sizeof(int64_t), 1);
  if (c == NULL)
    return NULL;
  struct goro__timer *tm = malloc(sizeof *tm);
  if (tm == NULL) {
    goro_chan_release(c);
    errno = ENOMEM;
    return NULL;
  }
  *tm = (struct goro__timer){.idx = NOT_QUEUED, .c = c};
  goro__chan_on_free(c, after_free, tm);
  int rc = arm(tm, goro__deadline(ns > 0 ? ns : 0));
  if (rc < 0) {
    goro_chan_release(c); /* frees tm too */
    errno = -rc;
    return NULL;
  }
  return c;
}

/* ---- tickers ------------------------------------------------------------ */

goro_ticker *
goro_ticker_make(int64_t period_ns)
{
  if (period_ns <= 0) {
    errno = EINVAL;
    return NULL;
  }
  goro_ticker *tk = malloc(sizeof *tk);
  if (tk == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  tk->tm.c = goro_chan_make(sizeof(int64_t), 1);
  if (tk->tm.c == NULL) {
    free(tk);
    return NULL;
  }
  tk->tm = (struct goro__timer){.period = period_ns, .idx = NOT_QUEUED, .c = tk->tm.c};
  int rc = arm(&tk->tm, goro__deadline(period_ns));
  if (rc < 0) {
    goro_chan_release(tk->tm.c);
    free(tk);
    errno = -rc;
    return NULL;
  }
  return tk;
}

goro_chan *
goro_ticker_chan(goro_ticker *tk)
{
  return tk == NULL ? NULL : tk->tm.c;
}

void
goro_ticker_stop(goro_ticker *tk)
{
  if (tk == NULL)
    return;
  goro__mu_lock(&timers.mu);
  if (tk->tm.idx != NOT_QUEUED)
    heap_remove(&tk->tm);
  goro__mu_unlock(&timers.mu);
  goro_chan_release(tk->tm.c);
  free(tk);
}

/* ---- goro_timer and goro_after_func (Go 1.23's time.Timer) -------------- */

/* d from now as a goro_now() time: a negative d is already due, and
 * GORO_FOREVER (or any sum past INT64_MAX) never is. */
static int64_t
when_of(int64_t d)
{
  return d > 0 ? goro__deadline(d) : goro__now() + d;
}

/* make, for both kinds: c (a new channel, or NULL for a callback timer). */
static goro_timer *
timer_new(int64_t d, goro_chan *c, goro_fn *fn, void *arg)
{
  goro_timer *t = malloc(sizeof *t);
  if (t == NULL) {
    goro_chan_release(c);
    errno = ENOMEM;
    return NULL;
  }
  t->tm = (struct goro__timer){
      .idx = NOT_QUEUED, .c = c, .fn = fn, .arg = arg, .spawn = true, .reserved = true};
  goro__mu_lock(&timers.mu);
  int rc = 0;
  if (!heap_grow(timers.n + timers.reserved + 1))
    rc = GORO_ENOMEM;
  else
    timers.reserved++;
  if (rc == 0 && (rc = arm_locked(&t->tm, when_of(d))) < 0)
    timers.reserved--;
  goro__mu_unlock(&timers.mu);
  if (rc < 0) {
    goro_chan_release(c);
    free(t);
    errno = -rc;
    return NULL;
  }
  return t;
}

goro_timer *
goro_timer_make(int64_t d)
{
  goro_chan *c = goro_chan_make(sizeof(int64_t), 1);
  if (c == NULL)
    return NULL;
  return timer_new(d, c, NULL, NULL);
}

goro_timer *
goro_after_func(int64_t d, goro_fn *fn, void *arg)
{
  if (fn == NULL) {
    errno = EINVAL;
    return NULL;
  }
  return timer_new(d, NULL, fn, arg);
}

goro_chan *
goro_timer_chan(goro_timer *t)
{
  return t == NULL ? NULL : t->tm.c;
}

/* timers.mu held. Stop t; true if it was pending: still queued, or fired with
 * its value not yet received (the value is then discarded).
 *
 * Why no value of an earlier arming can be received once this returns
 * (Go 1.23): only the timer thread sends on t's channel, and only under
 * timers.mu, which we hold; so the channel's content cannot change under us
 * except by a receiver taking the value. If t is queued, it has not sent
 * since it was last drained (each arming goes through here first, and
 * the channel starts empty), so the channel is empty: we dequeue it and
 * nothing will be sent. If it is not queued, at most one value sits in
 * the channel (cap 1, one send per arming); the tryrecv takes it, unless
 * a receiver took it first - that receive then completed before this
 * stop, and the stop correctly reports false. Either way the channel is
 * empty and t unqueued when timers.mu is dropped. A receiver that was woken
 * for the value and finds it gone just waits again (buffered channels
 * wake waiters to retry, never hand them the value). A callback timer's
 * stop is exact in the same way: its fn was copied out under timers.mu iff it
 * is no longer queued. */
static bool
stop_locked(goro_timer *t)
{
  if (t->tm.idx != NOT_QUEUED) {
    heap_remove(&t->tm);
    return true;
  }
  return t->tm.c != NULL && goro_chan_tryrecv(t->tm.c, NULL) == 1;
}

bool
goro_timer_stop(goro_timer *t)
{
  if (t == NULL)
    return false;
  goro__mu_lock(&timers.mu);
  bool pending = stop_locked(t);
  goro__mu_unlock(&timers.mu);
  return pending;
}

bool
goro_timer_reset(goro_timer *t, int64_t d)
{
  if (t == NULL)
    return false;
  goro__mu_lock(&timers.mu);
  bool pending = stop_locked(t);
  /* Cannot fail: the slot is reserved and the thread was started at make
   * (a fork child restarts it here, or leaves t stopped if it cannot). */
  (void)arm_locked(&t->tm, when_of(d));
  goro__mu_unlock(&timers.mu);
  return pending;
}

void
goro_timer_free(goro_timer *t)
{
  if (t == NULL)
    return;
  goro__mu_lock(&timers.mu);
  if (t->tm.idx != NOT_QUEUED)
    heap_remove(&t->tm);
  timers.reserved--;
  goro__mu_unlock(&timers.mu);
  goro_chan_release(t->tm.c);
  free(t);
}

/* ---- fork --------------------------------------------------------------- */

void
goro__timer_atfork_prepare(void)
{
  goro__mu_lock(&timers.mu);
}

void
goro__timer_atfork_parent(void)
{
  goro__mu_unlock(&timers.mu);
}

/* The child has no timer thread, and keeps none of the parent's timers:
 * their channels may be locked by threads the child lost, and the timer
 * thread would hang on them. The condvar is made anew for the same kind
 * of reason. A timer armed in the child works as usual (and the
 * registry arms its scans again: goro__registry_atfork_child). */
void
goro__timer_atfork_child(void)
{
  timers.started = false;
  /* The lost timer thread may have been inside pthread_cond_timedwait:
   * the condvar's inner state is not the child's to wait on. One never
   * initialised is left to ensure_locked (initialising twice is
   * undefined). */
  if (timers.cv_ready)
    goro__cond_init(&timers.cv);
  for (size_t i = 0; i < timers.n; i++)
    timers.heap[i]->idx = NOT_QUEUED;
  timers.n = 0;
  goro__mu_unlock(&timers.mu);
}
