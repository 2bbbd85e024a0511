/* timer.c - the timer thread: goro_after, tickers, and the deadlock
 * detector's clock; goro_now and goro_sleep.
 *
 * One lazily started thread keeps a min-heap of timers ordered by
 * (when, seq) and delivers each with a non-blocking send on its cap-1
 * channel, so a slow reader misses ticks, as in Go. A select with a
 * timeout and goro_sleep park with a deadline and do not need it.
 *
 * Invariants, under T.mu:
 *   tm->idx is tm's index in T.heap, or NOT_QUEUED;
 *   T.heap[0..T.n) is a min-heap by (when, seq).
 * Deliveries happen under T.mu, so once goro_ticker_stop or the release
 * of an after-channel has removed a timer, no value arrives from it.
 * Lock order: goro__sched.mu, then T.mu, then a channel lock, then a
 * parker's lock.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#define NOT_QUEUED SIZE_MAX

struct goro__timer {
  int64_t when;   /* goro_now() at which it fires; under T.mu */
  uint64_t seq;   /* tie-breaker: order of arming; under T.mu */
  int64_t period; /* > 0 for a ticker; immutable */
  size_t idx;     /* heap index or NOT_QUEUED; under T.mu */
  goro_chan *c;   /* where values go; owned as described at each use */
};

struct goro_ticker {
  struct goro__timer tm; /* tm.c holds one reference of the ticker's */
};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* the timer thread waits here */
  bool cv_ready;     /* cv is initialised (with the thread's first start) */
  struct goro__timer **heap;
  size_t n, capacity;
  uint64_t seq;
  bool started; /* the thread runs (or is starting) */
} T = {.mu = PTHREAD_MUTEX_INITIALIZER};

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
  goro__block_begin(t, GORO__SLEEP, GORO__WAIT_TIMED, NULL, NULL);
  while (goro__wait(t, deadline, false))
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
  T.heap[i] = tm;
  tm->idx = i;
}

static void
sift_up(size_t i)
{
  struct goro__timer *tm = T.heap[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(tm, T.heap[parent]))
      break;
    heap_set(i, T.heap[parent]);
    i = parent;
  }
  heap_set(i, tm);
}

static void
sift_down(size_t i)
{
  struct goro__timer *tm = T.heap[i];
  for (;;) {
    size_t k = 2 * i + 1;
    if (k >= T.n)
      break;
    if (k + 1 < T.n && before(T.heap[k + 1], T.heap[k]))
      k++;
    if (!before(T.heap[k], tm))
      break;
    heap_set(i, T.heap[k]);
    i = k;
  }
  heap_set(i, tm);
}

/* T.mu held. Returns false when memory runs out. */
static bool
heap_push(struct goro__timer *tm)
{
  if (T.n == T.capacity) {
    size_t cap = T.capacity ? 2 * T.capacity : 16;
    struct goro__timer **h = realloc(T.heap, cap * sizeof *h);
    if (h == NULL)
      return false;
    T.heap = h;
    T.capacity = cap;
  }
  tm->seq = T.seq++;
  heap_set(T.n++, tm);
  sift_up(tm->idx);
  return true;
}

/* T.mu held; tm queued. */
static void
heap_remove(struct goro__timer *tm)
{
  size_t i = tm->idx;
  tm->idx = NOT_QUEUED;
  struct goro__timer *last = T.heap[--T.n];
  if (i == T.n)
    return;
  heap_set(i, last);
  sift_down(i);
  if (last->idx == i)
    sift_up(i);
}

bool
goro__timers_pending(void)
{
  goro__mu_lock(&T.mu);
  bool pending = T.n > 0;
  goro__mu_unlock(&T.mu);
  return pending;
}

/* ---- the thread --------------------------------------------------------- */

/* How often the thread wakes with no timer due, to run the deadlock
 * detector's scan. */
static const int64_t SCAN_PERIOD = 100 * GORO_MILLISECOND;

void goro__deadlock_scan(void);

static void *
timer_main(void *arg)
{
  (void)arg;
  struct goro__thread *t = goro__self();
  if (t != NULL) /* asleep nearly always: not one of the awake for spinning */
    atomic_fetch_sub_explicit(&goro__nawake, 1, memory_order_relaxed);
  goro__mu_lock(&T.mu);
  for (;;) {
    int64_t now = goro__now();
    while (T.n > 0 && T.heap[0]->when <= now) {
      struct goro__timer *tm = T.heap[0];
      heap_remove(tm);
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
    int64_t deadline = now + SCAN_PERIOD;
    if (T.n > 0 && T.heap[0]->when < deadline)
      deadline = T.heap[0]->when;
    struct timespec ts = {(time_t)(deadline / GORO_SECOND), (long)(deadline % GORO_SECOND)};
    if (t != NULL) { /* NULL: no memory for a record; the detector stays silent */
      atomic_store_explicit(&t->wait, T.n > 0 ? GORO__WAIT_TIMED : GORO__WAIT_IDLE,
                            memory_order_relaxed);
      atomic_store_explicit(&t->state, GORO__TIMER, memory_order_relaxed);
    }
    int rc = pthread_cond_timedwait(&T.cv, &T.mu, &ts);
    GORO__ASSERT(rc == 0 || rc == ETIMEDOUT);
    if (rc == ETIMEDOUT && goro__now() >= now + SCAN_PERIOD - GORO_MILLISECOND) {
      goro__mu_unlock(&T.mu);
      goro__deadlock_scan();
      goro__mu_lock(&T.mu);
    }
  }
  return NULL;
}

/* T.mu held. Start the thread if it is not running; false on failure. */
static bool
ensure_locked(void)
{
  if (T.started)
    return true;
  if (!T.cv_ready) {
    goro__cond_init(&T.cv);
    T.cv_ready = true;
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
  T.started = true;
  return true;
}

void
goro__timer_thread_ensure(void)
{
  goro__mu_lock(&T.mu);
  ensure_locked();
  goro__mu_unlock(&T.mu);
}

/* Arm tm to fire at when. Returns 0 or a GORO_ error. */
static int
arm(struct goro__timer *tm, int64_t when)
{
  goro__mu_lock(&T.mu);
  if (!ensure_locked()) {
    goro__mu_unlock(&T.mu);
    return GORO_EAGAIN;
  }
  tm->when = when;
  if (!heap_push(tm)) {
    goro__mu_unlock(&T.mu);
    return GORO_ENOMEM;
  }
  if (tm->idx == 0)
    pthread_cond_signal(&T.cv);
  goro__mu_unlock(&T.mu);
  return 0;
}

/* ---- after -------------------------------------------------------------- */

/* An after-timer does not own its channel: the channel owns the timer,
 * and its last release cancels and frees it. */
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
  tm->period = 0;
  tm->idx = NOT_QUEUED;
  tm->c = c;
  goro__set_chan_timer(c, tm);
  int rc = arm(tm, goro__deadline(ns > 0 ? ns : 0));
  if (rc < 0) {
    goro_chan_release(c); /* frees tm too */
    errno = -rc;
    return NULL;
  }
  return c;
}

void
goro__timer_cancel_free(struct goro__timer *tm)
{
  goro__mu_lock(&T.mu);
  if (tm->idx != NOT_QUEUED)
    heap_remove(tm);
  goro__mu_unlock(&T.mu);
  free(tm);
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
  tk->tm.period = period_ns;
  tk->tm.idx = NOT_QUEUED;
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
  goro__mu_lock(&T.mu);
  if (tk->tm.idx != NOT_QUEUED)
    heap_remove(&tk->tm);
  goro__mu_unlock(&T.mu);
  goro_chan_release(tk->tm.c);
  free(tk);
}

/* ---- fork --------------------------------------------------------------- */

void
goro__timer_atfork_prepare(void)
{
  goro__mu_lock(&T.mu);
}

void
goro__timer_atfork_parent(void)
{
  goro__mu_unlock(&T.mu);
}

/* The child has no timer thread, and keeps none of the parent's timers:
 * their channels may be locked by threads the child lost, and the timer
 * thread would hang on them. The condvar is made anew for the same kind
 * of reason. A timer armed in the child works as usual;
 * the timer thread starts now if the deadlock detector needs its scans. */
void
goro__timer_atfork_child(void)
{
  T.started = false;
  /* The lost timer thread may have been inside pthread_cond_timedwait:
   * the condvar's inner state is not the child's to wait on. One never
   * initialised is left to ensure_locked (initialising twice is
   * undefined). */
  if (T.cv_ready)
    goro__cond_init(&T.cv);
  for (size_t i = 0; i < T.n; i++)
    T.heap[i]->idx = NOT_QUEUED;
  T.n = 0;
  if (goro__deadlock_active())
    ensure_locked();
  goro__mu_unlock(&T.mu);
}
