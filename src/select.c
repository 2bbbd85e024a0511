/* select.c - goro_select: Go's select over an array of cases.
 *
 * Three passes, as in Go's selectgo:
 *   1. Drop NULL-channel cases; shuffle the poll order (thread-local
 *      xorshift); sort the lock order by channel address, stably, so
 *      duplicates of a channel stay in poll order. Lock all.
 *   2. Poll in the shuffled order; perform the first case that can
 *      proceed. Holding every lock means a non-blocking select sees all of
 *      its channels at one instant.
 *   3. Enqueue one waiter per case, all sharing one goro__sel; unlock;
 *      park. A partner completes a case only by winning sel.winner (see
 *      waiter.h), so exactly one case completes. After waking, lock all
 *      again and dequeue every waiter a partner did not take.
 * A select never meets its own waiters: it polls before it enqueues, and a
 * partner is always another thread.
 * Lock order: channels by ascending address (duplicates locked once).
 */
#include "config.h"

#include "internal.h"

#include <string.h>

/* Thread-local xorshift32; seeded from the thread's address and the clock. */
uint32_t
goro__rand(void)
{
  static _Thread_local uint32_t x;
  if (GORO__UNLIKELY(x == 0)) {
    uint64_t s = (uint64_t)(uintptr_t)&x ^ (uint64_t)goro__now();
    x = (uint32_t)(s ^ (s >> 32)) | 1;
  }
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

/* A uniformly distributed integer in [0, n), n > 0 (Lemire's method). */
static uint32_t
rand_below(uint32_t n)
{
  return (uint32_t)(((uint64_t)goro__rand() * n) >> 32);
}

struct sel_state {
  goro_case *cases;
  size_t n;               /* active (non-NULL) cases */
  uint32_t *poll;         /* case indices, shuffled */
  uint32_t *lock;         /* case indices, by channel address */
  struct goro__waiter *w; /* per case index; pass 3 only */
  size_t *ver;            /* per poll position: a buffered ring's version */
};

static void
lock_all(struct sel_state *s)
{
  goro_chan *prev = NULL;
  for (size_t i = 0; i < s->n; i++) {
    goro_chan *c = s->cases[s->lock[i]].chan;
    if (c != prev)
      goro__chan_lock(c);
    prev = c;
  }
}

static void
unlock_all(struct sel_state *s)
{
  goro_chan *prev = NULL;
  for (size_t i = 0; i < s->n; i++) {
    goro_chan *c = s->cases[s->lock[i]].chan;
    if (c != prev)
      goro__chan_unlock(c);
    prev = c;
  }
}

static inline uintptr_t
addr(goro_case *cs, uint32_t i)
{
  return (uintptr_t)cs[i].chan;
}

/* Sort a[0..n) by channel address, stably (a bottom-up merge sort, using
 * tmp[0..n)): a channel that appears in several cases keeps its cases in
 * the order they had in a, the shuffled poll order, so which of them is
 * enqueued first (and so completes first) is uniformly random too. */
static void
sort_lock_order(goro_case *cs, uint32_t *a, uint32_t *tmp, size_t n)
{
  uint32_t *src = a, *dst = tmp;
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        dst[k++] = addr(cs, src[j]) < addr(cs, src[i]) ? src[j++] : src[i++];
      while (i < mid)
        dst[k++] = src[i++];
      while (j < hi)
        dst[k++] = src[j++];
    }
    uint32_t *swap = src;
    src = dst;
    dst = swap;
  }
  if (src != a)
    memcpy(a, src, n * sizeof *a);
}

/* Pass 2 for one case, all channels locked. Returns 1 when the case
 * proceeded (*w: a partner to complete after unlocking), else 0. */
static int
poll_case(goro_case *k, struct goro__waiter **w)
{
  if (k->op == GORO_SEND) {
    int rc = goro__chan_trysend_locked(k->chan, k->elem, w);
    if (rc == 0)
      return 0;
    k->ok = rc > 0;
    return 1;
  }
  int rc = goro__chan_tryrecv_locked(k->chan, k->elem, w);
  if (rc == GORO_EAGAIN)
    return 0;
  k->ok = rc > 0;
  return 1;
}

/* Block with no case at all: until the deadline, or forever. */
static int
block_nocases(int64_t deadline)
{
  struct goro__thread *t = goro__self();
  if (t == NULL)
    return GORO_ENOMEM;
  goro__block_begin(t, GORO__SELECT_NOCASES, deadline < 0 ? GORO__WAIT_FOREVER : GORO__WAIT_TIMED,
                    NULL, NULL);
  while (goro__wait(t, deadline, false))
    ; /* nobody can wake us: no waiter was published */
  goro__block_end(t);
  return GORO_ETIMEDOUT;
}

enum { STACK_CASES = 16 };

int
goro_select(goro_case *cases, size_t n, int64_t timeout_ns)
{
  if (cases == NULL && n > 0)
    return GORO_EINVAL;
  if (n > INT32_MAX)
    return GORO_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (cases[i].op != GORO_SEND && cases[i].op != GORO_RECV)
      return GORO_EINVAL;
    if (cases[i].chan != NULL && cases[i].op == GORO_SEND && cases[i].elem == NULL &&
        goro__chan_elemsize(cases[i].chan) != 0)
      return GORO_EINVAL;
  }
  /* timeout_ns <= 0 polls once: 0 is Go's default, a negative one a time
   * already passed. deadline < 0: none (GORO_FOREVER). */
  bool nonblocking = timeout_ns <= 0;
  int idle_result = timeout_ns == 0 ? GORO_EAGAIN : GORO_ETIMEDOUT;
  int64_t deadline = !nonblocking && timeout_ns != GORO_FOREVER ? goro__deadline(timeout_ns) : -1;

  uint32_t poll_buf[STACK_CASES], lock_buf[STACK_CASES], tmp_buf[STACK_CASES];
  struct goro__waiter w_buf[STACK_CASES];
  size_t ver_buf[STACK_CASES];
  struct sel_state s = {
      .cases = cases, .poll = poll_buf, .lock = lock_buf, .w = w_buf, .ver = ver_buf};
  uint32_t *tmp = tmp_buf;
  void *heap = NULL;
  if (n > STACK_CASES) {
    heap = malloc(n * (sizeof(struct goro__waiter) + sizeof(size_t) + 3 * sizeof(uint32_t)));
    if (heap == NULL)
      return GORO_ENOMEM;
    s.w = heap;
    s.ver = (size_t *)(s.w + n);
    s.poll = (uint32_t *)(s.ver + n);
    s.lock = s.poll + n;
    tmp = s.lock + n;
  }

  /* Pass 1: shuffle the active cases into poll order (inside-out
   * Fisher-Yates), and sort a copy of it into lock order. */
  for (size_t i = 0; i < n; i++) {
    if (cases[i].chan == NULL)
      continue;
    uint32_t j = rand_below((uint32_t)s.n + 1);
    s.poll[s.n] = s.poll[j];
    s.poll[j] = (uint32_t)i;
    s.n++;
  }
  memcpy(s.lock, s.poll, s.n * sizeof *s.lock);
  int result;
  if (s.n == 0) {
    result = nonblocking ? idle_result : block_nocases(deadline);
    goto out;
  }
  sort_lock_order(cases, s.lock, tmp, s.n);
  /* Our record, if we may block; before the locks (see internal.h). */
  struct goro__thread *t = !nonblocking ? goro__self() : NULL;
  bool any_buffered = false;
  for (size_t i = 0; i < s.n; i++)
    any_buffered |= goro__chan_buffered(cases[s.poll[i]].chan);
  /* A buffered case's partner wakes us to retry it, not with it done;
   * if we then leave by another case, we owe that wake-up to the
   * channel's other waiters (kick). */
  goro_chan *kick = NULL;
  int kick_op = 0;
  /* Once we have slept, we hold a reference on every channel until we
   * return: a retry touches them again (see chan.c park_queued). */
  bool held = false;

  for (;;) {
    /* Pass 2. */
    bool expired = deadline >= 0 && goro__now() >= deadline;
    lock_all(&s);
    for (size_t i = 0; i < s.n; i++) {
      goro_case *k = &cases[s.poll[i]];
      struct goro__waiter *w;
      if (any_buffered && goro__chan_buffered(k->chan))
        s.ver[i] = goro__chan_version(k->chan);
      if (poll_case(k, &w)) {
        unlock_all(&s);
        if (w != NULL) {
          if (k->op == GORO_SEND)
            goro__complete_send(k->chan, w, k->elem);
          else
            goro__complete_recv(k->chan, w, k->elem);
        }
        result = (int)s.poll[i];
        goto done;
      }
    }
    if (nonblocking || expired) {
      /* "Nothing ready" must hold at one instant. The locks freeze the
       * unbuffered channels, not the rings: if no ring changed since we
       * looked at it, each kept the state we saw over a span that
       * includes the moment of our last look (a double collect). If one
       * changed, look again: someone made progress meanwhile. */
      bool changed = false;
      for (size_t i = 0; any_buffered && !changed && i < s.n; i++) {
        goro_chan *c = cases[s.poll[i]].chan;
        changed = goro__chan_buffered(c) && goro__chan_version(c) != s.ver[i];
      }
      unlock_all(&s);
      if (changed)
        continue;
      result = nonblocking ? idle_result : GORO_ETIMEDOUT;
      goto done;
    }

    /* Pass 3. */
    if (t == NULL) {
      unlock_all(&s);
      result = GORO_ENOMEM;
      goto done;
    }
    kick = NULL; /* queued again: a new wake-up will find us */
    struct goro__sel sel;
    atomic_init(&sel.winner, GORO__SEL_OPEN);
    GORO__IGNORE_VAR(sel.winner); /* valgrind: claimed by CAS; the wake-up is the edge */
    for (size_t i = 0; i < s.n; i++) {
      uint32_t idx = s.lock[i];
      struct goro__waiter *w = &s.w[i];
      *w = (struct goro__waiter){.t = t, .sel = &sel, .elem = cases[idx].elem, .idx = (int)idx};
      goro__chan_enqueue(cases[idx].chan, w, cases[idx].op);
    }
    /* A buffered ring changes without its lock: now that we are queued
     * (a seq_cst store of each queue's len), look once more with seq_cst
     * loads (goro__chan_ready_locked), or a partner that did not see us
     * yet could leave us asleep (the Dekker check of chan.c). */
    bool again = false;
    for (size_t i = 0; any_buffered && !again && i < s.n; i++) {
      goro_case *k = &cases[s.poll[i]];
      again = goro__chan_buffered(k->chan) && goro__chan_ready_locked(k->chan, k->op);
    }
    if (again) {
      for (size_t i = 0; i < s.n; i++)
        goro__chan_dequeue(cases[s.w[i].idx].chan, &s.w[i]);
      unlock_all(&s);
      continue;
    }
    if (!held) {
      for (size_t i = 0; i < s.n; i++)
        goro_chan_retain(cases[s.lock[i]].chan);
      held = true;
    }
    goro_chan *first = cases[s.poll[0]].chan;
    goro__block_begin(t, GORO__SELECT, deadline < 0 ? GORO__WAIT_FOREVER : GORO__WAIT_TIMED,
                      s.n == 1 ? first : NULL, s.n == 1 ? goro__chan_name(first) : NULL);
    unlock_all(&s);

    if (!goro__wait(t, deadline, true)) {
      int open = GORO__SEL_OPEN;
      if (!atomic_compare_exchange_strong_explicit(&sel.winner, &open, GORO__SEL_TIMEOUT,
                                                   memory_order_acq_rel, memory_order_acquire))
        goro__wait(t, -1, false); /* a partner won just now; its wake is on the way */
    }
    goro__block_end(t);

    lock_all(&s);
    for (size_t i = 0; i < s.n; i++)
      goro__chan_dequeue(cases[s.w[i].idx].chan, &s.w[i]);
    unlock_all(&s);

    int won = atomic_load_explicit(&sel.winner, memory_order_acquire);
    if (won == GORO__SEL_TIMEOUT) {
      result = GORO_ETIMEDOUT;
      goto done;
    }
    struct goro__waiter *w = NULL;
    for (size_t i = 0; i < s.n && w == NULL; i++)
      if (s.w[i].idx == won)
        w = &s.w[i];
    GORO__ASSERT(w != NULL);
    if (w->retry) {
      kick = cases[won].chan;
      kick_op = cases[won].op;
      continue;
    }
    cases[won].ok = w->ok;
    result = won;
    goto done;
  }
done:
  if (kick != NULL && !(result >= 0 && cases[result].chan == kick && cases[result].op == kick_op))
    goro__chan_kick(kick, kick_op);
  if (held)
    for (size_t i = 0; i < s.n; i++)
      goro_chan_release(cases[s.lock[i]].chan);
out:
  free(heap);
  return result;
}
