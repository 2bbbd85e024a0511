/* select.c - goro_select: Go's select over an array of cases.
 *
 * As Go's selectgo, in named steps, over the channel verbs of internal.h
 * (select never asks what kind of channel a case is on):
 *   order   drop NULL-channel cases; shuffle the poll order (thread-local
 *           xorshift); sort the lock order by channel address, stably, so
 *           duplicates of a channel stay in poll order;
 *   pass 1  lock all; poll in the shuffled order and perform the first
 *           case that can proceed. Holding every lock, a select that finds
 *           nothing ready has seen its channels at one instant (for a
 *           lock-free buffered channel, checked: goro__chan_changed);
 *   pass 2  arm: queue one waiter per case, all sharing one goro__sel;
 *           unlock; park. A partner completes a case only by winning
 *           sel.winner (waiter.h), so at most one case completes;
 *   pass 3  lock all again and disarm every waiter a partner did not take.
 *           The winner's channel either completed the case, or woke the
 *           select to poll again (goro__chan_woken); a wake-up of that kind
 *           not used is passed on (goro__chan_pass).
 * A select never meets its own waiters: it polls before it arms, and a
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
  struct goro__waiter *w; /* per lock position: the case's waiter (pass 2) */
  size_t *snap;           /* per poll position: what pass 1 saw */
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

/* The order step: shuffle the active cases into poll order (inside-out
 * Fisher-Yates) and sort a copy of it into lock order. */
static void
order(struct sel_state *s, size_t n, uint32_t *tmp)
{
  for (size_t i = 0; i < n; i++) {
    if (s->cases[i].chan == NULL)
      continue;
    uint32_t j = rand_below((uint32_t)s->n + 1);
    s->poll[s->n] = s->poll[j];
    s->poll[j] = (uint32_t)i;
    s->n++;
  }
  memcpy(s->lock, s->poll, s->n * sizeof *s->lock);
  sort_lock_order(s->cases, s->lock, tmp, s->n);
}

/* Pass 1: lock all and poll. Returns the index of the case done (unlocked,
 * its partner finished), or -1 with every lock still held. snap: record
 * what each poll saw, for changed_since_poll (a select that may block
 * does not need it, and reading every ring's ends costs). */
static int
poll_all(struct sel_state *s, bool snap)
{
  lock_all(s);
  for (size_t i = 0; i < s->n; i++) {
    goro_case *k = &s->cases[s->poll[i]];
    struct goro__waiter *partner;
    if (goro__chan_poll(k, &partner, snap ? &s->snap[i] : NULL)) {
      unlock_all(s);
      if (partner != NULL)
        goro__chan_finish(k, partner);
      return (int)s->poll[i];
    }
  }
  return -1;
}

/* After a pass 1 that found nothing, still locked: did a channel change
 * since it was polled? If none did, each kept the state it was polled in
 * over a span that includes the moment of the last poll: nothing was
 * ready at that instant (a double collect). */
static bool
changed_since_poll(struct sel_state *s)
{
  for (size_t i = 0; i < s->n; i++)
    if (goro__chan_changed(&s->cases[s->poll[i]], s->snap[i]))
      return true;
  return false;
}

/* Pass 2, locked: arm every case for t, sharing sel. False when a case
 * may proceed now: then every waiter is disarmed again, and the caller
 * polls anew. */
static bool
arm_all(struct sel_state *s, struct goro__thread *t, struct goro__sel *sel)
{
  for (size_t i = 0; i < s->n; i++) {
    uint32_t idx = s->lock[i];
    goro_case *k = &s->cases[idx];
    s->w[i] = (struct goro__waiter){.t = t, .sel = sel, .elem = k->elem, .idx = (int)idx};
    if (goro__chan_arm(k, &s->w[i])) {
      for (size_t j = 0; j <= i; j++)
        goro__chan_disarm(&s->cases[s->lock[j]], &s->w[j]);
      return false;
    }
  }
  return true;
}

/* Pass 3: lock all, disarm every waiter no partner took, unlock. */
static void
disarm_all(struct sel_state *s)
{
  lock_all(s);
  for (size_t i = 0; i < s->n; i++)
    goro__chan_disarm(&s->cases[s->lock[i]], &s->w[i]);
  unlock_all(s);
}

/* Park armed (every lock dropped) until a partner wins sel or the
 * deadline passes. Returns the case index won, or GORO__SEL_TIMEOUT. */
static int
park(struct goro__thread *t, struct goro__sel *sel, int64_t deadline)
{
  if (!goro__block_wait(t, deadline, true)) {
    int open = GORO__SEL_OPEN;
    if (!atomic_compare_exchange_strong_explicit(&sel->winner, &open, GORO__SEL_TIMEOUT,
                                                 memory_order_acq_rel, memory_order_acquire))
      goro__block_wait(t, -1, false); /* a partner won just now; its wake is on the way */
  }
  goro__block_end(t);
  return atomic_load_explicit(&sel->winner, memory_order_acquire);
}

/* The waiter of case index idx (pass 2 stored them by lock position). */
static struct goro__waiter *
waiter_of(struct sel_state *s, int idx)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->w[i].idx == idx)
      return &s->w[i];
  GORO__ASSERT(!"a select's winner is one of its cases");
  return NULL;
}

/* Block with no case at all: until the deadline, or forever. */
static int
block_nocases(int64_t deadline)
{
  struct goro__thread *t = goro__self();
  if (t == NULL)
    return GORO_ENOMEM;
  goro__block_begin(t, GORO__SELECT_NOCASES,
                    deadline < 0 ? GORO__BLOCKED_FOREVER : GORO__BLOCKED_TIMED, NULL, NULL);
  while (goro__block_wait(t, deadline, false))
    ; /* nobody can wake us: no waiter was published */
  goro__block_end(t);
  return GORO_ETIMEDOUT;
}

static int
validate(const goro_case *cases, size_t n)
{
  if ((cases == NULL && n > 0) || n > INT32_MAX)
    return GORO_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (cases[i].op != GORO_SEND && cases[i].op != GORO_RECV)
      return GORO_EINVAL;
    if (cases[i].chan != NULL && cases[i].op == GORO_SEND && cases[i].elem == NULL &&
        goro__chan_elemsize(cases[i].chan) != 0)
      return GORO_EINVAL;
  }
  return 0;
}

/* Do cases a and b use the same channel in the same direction? */
static bool
same_queue(const goro_case *a, const goro_case *b)
{
  return a->chan == b->chan && a->op == b->op;
}

enum { STACK_CASES = 16 };

int
goro_select(goro_case *cases, size_t n, int64_t timeout_ns)
{
  int result = validate(cases, n);
  if (result < 0)
    return result;
  /* timeout_ns <= 0 polls once: 0 is Go's default, a negative one a time
   * already passed. deadline < 0: none (GORO_FOREVER). */
  bool nonblocking = timeout_ns <= 0;
  int idle_result = timeout_ns == 0 ? GORO_EAGAIN : GORO_ETIMEDOUT;
  int64_t deadline = !nonblocking && timeout_ns != GORO_FOREVER ? goro__deadline(timeout_ns) : -1;

  uint32_t poll_buf[STACK_CASES], lock_buf[STACK_CASES], tmp_buf[STACK_CASES];
  struct goro__waiter w_buf[STACK_CASES];
  size_t snap_buf[STACK_CASES];
  struct sel_state s = {
      .cases = cases, .poll = poll_buf, .lock = lock_buf, .w = w_buf, .snap = snap_buf};
  uint32_t *tmp = tmp_buf;
  void *heap = NULL;
  if (n > STACK_CASES) {
    heap = malloc(n * (sizeof(struct goro__waiter) + sizeof(size_t) + 3 * sizeof(uint32_t)));
    if (heap == NULL)
      return GORO_ENOMEM;
    s.w = heap;
    s.snap = (size_t *)(s.w + n);
    s.poll = (uint32_t *)(s.snap + n);
    s.lock = s.poll + n;
    tmp = s.lock + n;
  }

  order(&s, n, tmp);
  if (s.n == 0) {
    result = nonblocking ? idle_result : block_nocases(deadline);
    goto out;
  }
  /* Our record, if we may block; before the locks (see internal.h). */
  struct goro__thread *t = !nonblocking ? goro__self() : NULL;
  /* A case whose channel woke us only to poll again, and whose wake-up
   * we owe the channel's other waiters unless we then take it; or -1. */
  int owed = -1;
  /* Once we have slept, we hold a reference on every channel until we
   * return: polling again touches them (see chan.c park_queued). */
  bool held = false;

  for (;;) {
    bool expired = deadline >= 0 && goro__now() >= deadline;
    if ((result = poll_all(&s, nonblocking || expired)) >= 0)
      break;
    if (nonblocking || expired) {
      bool changed = changed_since_poll(&s);
      unlock_all(&s);
      if (changed)
        continue; /* someone made progress meanwhile: poll again */
      result = nonblocking ? idle_result : GORO_ETIMEDOUT;
      break;
    }
    if (t == NULL) {
      unlock_all(&s);
      result = GORO_ENOMEM;
      break;
    }
    owed = -1; /* armed again: a new wake-up will find us */
    struct goro__sel sel;
    atomic_init(&sel.winner, GORO__SEL_OPEN);
    GORO__IGNORE_VAR(sel.winner); /* valgrind: claimed by CAS; the wake-up is the edge */
    if (!arm_all(&s, t, &sel)) {
      unlock_all(&s);
      continue;
    }
    if (!held) {
      for (size_t i = 0; i < s.n; i++)
        goro_chan_retain(cases[s.lock[i]].chan);
      held = true;
    }
    goro_chan *first = cases[s.poll[0]].chan;
    goro__block_begin(t, GORO__SELECT, deadline < 0 ? GORO__BLOCKED_FOREVER : GORO__BLOCKED_TIMED,
                      s.n == 1 ? first : NULL, s.n == 1 ? goro__chan_name(first) : NULL);
    unlock_all(&s);
    int won = park(t, &sel, deadline);
    disarm_all(&s);
    if (won == GORO__SEL_TIMEOUT) {
      result = GORO_ETIMEDOUT;
      break;
    }
    if (goro__chan_woken(&cases[won], waiter_of(&s, won))) {
      result = won;
      break;
    }
    owed = won;
  }
  if (owed >= 0 && !(result >= 0 && same_queue(&cases[result], &cases[owed])))
    goro__chan_pass(&cases[owed]);
  if (held)
    for (size_t i = 0; i < s.n; i++)
      goro_chan_release(cases[s.lock[i]].chan);
out:
  free(heap);
  return result;
}
