/* chan.c - channels: make, send, recv, close, len, cap.
 *
 * A channel is one allocation: this header, then for a buffered channel
 * a ring of cap slots. c->mu guards the wait queues and, for an
 * unbuffered channel, closed.
 *
 * Unbuffered channels work under c->mu alone, with direct handoff: a
 * partner that claims a waiter under the lock copies the value after
 * dropping it. The claimed waiter's owner cannot return before it is
 * woken, so its buffer stays valid until then. Invariants, whenever c->mu
 * is free: at most one of sendq, recvq holds claimable waiters (except
 * one select waiting on both directions of c); once closed is set both
 * queues hold only select waiters that another case has already won.
 *
 * Buffered channels keep their values in a lock-free bounded ring (the
 * stamped-slot design of Vyukov's MPMC queue; see ring_push): sends and
 * receives that find room or a value take no lock. Closing sets a mark
 * bit in the tail, so no push succeeds after it. A channel of zero-size
 * elements (chan struct{}) needs no slots: its ring is the two counters
 * alone (see count_push). A thread that finds the
 * ring full (empty) queues a waiter under c->mu and sleeps; waiters are
 * not handed values, they are told to retry (waiter.retry). The lost
 * wake-up is ruled out Dekker-style, with seq_cst operations on the words
 * themselves (no standalone fence, so ThreadSanitizer checks the real
 * orders):
 *   a waiter:  queue itself (a seq_cst store of the queue's len), then try
 *              the ring again, whose verdict "full" ("empty") rests on a
 *              seq_cst load of head (tail);
 *   a partner: change the ring (a seq_cst RMW of head or tail), then read
 *              the queue's len (a seq_cst load), and if it is not zero,
 *              take c->mu and wake one waiter.
 * All four are in the single total order S of seq_cst operations: if the
 * waiter's load precedes the partner's RMW in S, it did not see the
 * change, and then the waiter's store precedes the partner's load in S,
 * which therefore reads that len (or a later one). So either the waiter's
 * retry sees the partner's change or the partner sees the waiter (the
 * store-buffering shape, which seq_cst forbids; on x86 the locked RMW and
 * the xchg store are the barriers, on ARMv8 stlr/ldar are not reordered).
 * A woken waiter that
 * finds the value taken by someone else queues again; a select woken for
 * a case it then does not take passes the wake-up on (goro__chan_kick).
 *
 * Lock order: channel locks by ascending address, then a parker's (and,
 * in a GORO_VALGRIND build, a ring_mu: a leaf).
 * Waiters are woken only after the channel lock is dropped.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

/* A ring slot: its stamp, then elemsize bytes. */
struct slot {
  _Atomic size_t stamp;
  unsigned char data[];
};

struct goro_chan {
  pthread_mutex_t mu;
  /* Under mu (read without it: each queue's len, see waiter.h). */
  struct goro__waitq recvq; /* blocked receivers, FIFO */
  struct goro__waitq sendq; /* blocked senders, FIFO */
  bool closed;              /* unbuffered only; buffered: mark_bit in tail */
#ifdef GORO_VALGRIND
  pthread_mutex_t ring_mu; /* see RING_CALL */
#endif
  /* Lock-free. */
  _Atomic size_t refs;
  const char *_Atomic name; /* immortal string (interned), or NULL; release/acquire */
  /* Immutable after make (timer: set before the channel is shared). */
  struct goro__timer *timer; /* goro_after's timer, freed with c */
  size_t elemsize;
  size_t cap;
  size_t stride;   /* bytes per slot; 0: no slots (elemsize 0, see count_push) */
  size_t mark_bit; /* in tail: closed; a power of two above every index */
  size_t one_lap;  /* 2 * mark_bit: a position's lap unit */
  /* The ring's ends, a cache line apart. A position is lap | index
   * (index < cap); tail may carry mark_bit. Without slots, each is a
   * count of operations modulo mark_bit. */
  char pad0[64];
  _Atomic size_t head; /* the next value to receive */
  char pad1[64];
  _Atomic size_t tail; /* the next slot to fill */
  char pad2[64];
  _Alignas(max_align_t) unsigned char ring[]; /* cap * stride bytes */
};

/* A thread's first touch of a channel another thread made may read its
 * immutable fields (cap, elemsize) before any lock: the channel pointer
 * reached it by whatever means the program used, which valgrind may not
 * see (an atomic). In a GORO_VALGRIND build each entry point takes and
 * drops ring_mu first, which goro_chan_make released last: an edge the
 * tools see. */
#ifdef GORO_VALGRIND
#define CHAN_ENTER(c)                                                                              \
  do {                                                                                             \
    if ((c) != NULL) {                                                                             \
      goro__mu_lock(&(c)->ring_mu);                                                                \
      goro__mu_unlock(&(c)->ring_mu);                                                              \
    }                                                                                              \
  } while (0)
#else
#define CHAN_ENTER(c) ((void)0)
#endif

static inline struct slot *
slot_at(goro_chan *c, size_t index)
{
  return (struct slot *)(c->ring + index * c->stride);
}

static inline void
copy_elem(goro_chan *c, void *dst, const void *src)
{
  if (c->elemsize == 0 || dst == NULL)
    return;
  memcpy(dst, src, c->elemsize);
}

static inline void
zero_elem(goro_chan *c, void *dst)
{
  if (c->elemsize != 0 && dst != NULL)
    memset(dst, 0, c->elemsize);
}

/* Back off while another thread is between two steps of a ring operation
 * (it claimed a slot and has not published it yet): relax, then yield, as
 * that thread may have lost its CPU. */
static inline void
backoff(unsigned *step)
{
  if (*step < 6) {
    for (unsigned i = 0; i < 1u << *step; i++)
      goro__cpu_relax();
    (*step)++;
  } else {
    sched_yield();
  }
}

/* ---- wait queues -------------------------------------------------------- */

static void
waitq_push(struct goro__waitq *q, struct goro__waiter *w)
{
  w->q = q;
  w->next = NULL;
  w->prev = q->tail;
  if (q->tail)
    q->tail->next = w;
  else
    q->head = w;
  q->tail = w;
  /* seq_cst: the waiter's half of the Dekker check (top of the file). */
  atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) + 1,
                        memory_order_seq_cst);
}

static void
waitq_remove(struct goro__waiter *w)
{
  struct goro__waitq *q = w->q;
  if (w->prev)
    w->prev->next = w->next;
  else
    q->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    q->tail = w->prev;
  w->next = w->prev = NULL;
  w->q = NULL;
  atomic_store_explicit(&q->len, atomic_load_explicit(&q->len, memory_order_relaxed) - 1,
                        memory_order_relaxed);
}

/* Dequeue and return the first waiter of q that can be claimed; waiters of
 * selects already won elsewhere are dropped on the way. */
static struct goro__waiter *
waitq_take(struct goro__waitq *q)
{
  struct goro__waiter *w;
  while ((w = q->head) != NULL) {
    waitq_remove(w);
    if (goro__waiter_claim(w))
      return w;
  }
  return NULL;
}

/* Buffered channel, c locked: dequeue a waiter of q to be told to retry. */
static struct goro__waiter *
take_retry_locked(struct goro__waitq *q)
{
  struct goro__waiter *w = waitq_take(q);
  if (w != NULL)
    w->retry = true;
  return w;
}

void
goro__chan_enqueue(goro_chan *c, struct goro__waiter *w, int op)
{
  w->retry = false;
  waitq_push(op == GORO_SEND ? &c->sendq : &c->recvq, w);
}

void
goro__chan_dequeue(goro_chan *c, struct goro__waiter *w)
{
  (void)c;
  if (w->q != NULL)
    waitq_remove(w);
}

void
goro__chan_lock(goro_chan *c)
{
  goro__mu_lock(&c->mu);
}

void
goro__chan_unlock(goro_chan *c)
{
  goro__mu_unlock(&c->mu);
}

/* Acquire: pairs with goro_chan_set_name's release, so the name's bytes
 * written before it was published are visible to whoever prints it; a
 * blocked thread republishes the pointer in its record with release
 * (goro__block_begin), which a dump reads with acquire. */
const char *
goro__chan_name(goro_chan *c)
{
  return atomic_load_explicit(&c->name, memory_order_acquire);
}

size_t
goro__chan_elemsize(goro_chan *c)
{
  CHAN_ENTER(c);
  return c->elemsize;
}

bool
goro__chan_buffered(goro_chan *c)
{
  CHAN_ENTER(c);
  return c->cap > 0;
}

void
goro__set_chan_timer(goro_chan *c, struct goro__timer *tm)
{
  c->timer = tm;
}

/* ---- lifetime ----------------------------------------------------------- */

goro_chan *
goro_chan_make(size_t elemsize, size_t cap)
{
  /* Both bounds are decided before anything is allocated, as Go's
   * makechan does: an element of 64 KiB or more is EINVAL, and so is a
   * capacity whose bytes overflow; one whose allocation would pass
   * GORO_CHAN_MAX_ALLOC is ENOMEM (a sanitizer's malloc would abort on
   * some such sizes instead of returning NULL). cap < SIZE_MAX / 4 keeps
   * mark_bit and a lap representable. */
  if (elemsize > GORO_CHAN_MAX_ELEMSIZE || cap >= SIZE_MAX / 4) {
    errno = EINVAL;
    return NULL;
  }
  size_t stride = 0;
  if (cap > 0 && elemsize > 0) {
    /* A slot: the stamp, then the value rounded up to the stamp's size. */
    stride = sizeof(size_t) + (elemsize + sizeof(size_t) - 1) / sizeof(size_t) * sizeof(size_t);
    if (cap > (SIZE_MAX - sizeof(goro_chan)) / stride) {
      errno = EINVAL;
      return NULL;
    }
  }
  if (cap * stride > GORO_CHAN_MAX_ALLOC - sizeof(goro_chan)) {
    errno = ENOMEM;
    return NULL;
  }
  goro_chan *c = malloc(sizeof *c + cap * stride);
  if (c == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  goro__mu_init(&c->mu);
#ifdef GORO_VALGRIND
  goro__mu_init(&c->ring_mu);
#endif
  c->recvq = (struct goro__waitq){NULL, NULL, 0};
  c->sendq = (struct goro__waitq){NULL, NULL, 0};
  c->closed = false;
  atomic_init(&c->refs, 1);
  atomic_init(&c->name, NULL);
  GORO__IGNORE_VAR(c->refs); /* valgrind: a counter, a name, queue lengths */
  GORO__IGNORE_VAR(c->name);
  GORO__IGNORE_VAR(c->recvq.len);
  GORO__IGNORE_VAR(c->sendq.len);
  c->timer = NULL;
  c->elemsize = elemsize;
  c->cap = cap;
  c->stride = stride;
  if (stride == 0) {
    c->mark_bit = (SIZE_MAX >> 1) + 1; /* counters run modulo mark_bit */
  } else {
    c->mark_bit = 1;
    while (c->mark_bit <= cap)
      c->mark_bit <<= 1;
    for (size_t i = 0; i < cap; i++)
      atomic_init(&slot_at(c, i)->stamp, i);
  }
  c->one_lap = c->mark_bit * 2;
  atomic_init(&c->head, 0);
  atomic_init(&c->tail, 0);
#ifdef GORO_VALGRIND
  goro__mu_lock(&c->ring_mu); /* see CHAN_ENTER */
  goro__mu_unlock(&c->ring_mu);
#endif
  return c;
}

goro_chan *
goro_chan_retain(goro_chan *c)
{
  if (c != NULL)
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

void
goro_chan_release(goro_chan *c)
{
  if (c == NULL)
    return;
  GORO__HAPPENS_BEFORE(&c->refs); /* valgrind: the release of the decrement */
  size_t old = atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel);
  GORO__ASSERT(old != 0);
  if (old != 1)
    return;
  GORO__HAPPENS_AFTER(&c->refs); /* valgrind: its acquire, by the last one */
  /* Blocked threads hold references of their own (see park_queued), so
   * no waiter can be queued now. */
  if (c->timer != NULL)
    goro__timer_cancel_free(c->timer);
  pthread_mutex_destroy(&c->mu);
#ifdef GORO_VALGRIND
  pthread_mutex_destroy(&c->ring_mu);
#endif
  free(c);
}

/* ---- the ring (buffered channels) --------------------------------------
 *
 * Positions count up forever (wrapping at SIZE_MAX): index in the low
 * bits, below mark_bit; the lap above mark_bit. Slot i's stamp tells its
 * state for the position p = lap | i that a producer or consumer holds:
 *   stamp == p          free: a producer at p may claim it;
 *   stamp == p + 1      holds the value pushed at p: a consumer may take it;
 *   stamp == p + one_lap  taken: free for the producer of the next lap.
 * A producer claims position tail with a CAS on tail, writes the value,
 * then publishes it by storing the stamp (release); a consumer claims
 * head with a CAS, copies the value out, then frees the slot the same
 * way. The stamp's release/acquire pair orders each value's bytes. A
 * claimed but unpublished slot makes the other side wait (backoff) for
 * the thread that holds it.
 */
enum { RING_OK, RING_FULL, RING_EMPTY = RING_FULL, RING_CLOSED };

/* The position after pos (pos without mark_bit). */
static inline size_t
next_pos(goro_chan *c, size_t pos)
{
  size_t index = pos & (c->mark_bit - 1);
  size_t lap = pos & ~(c->one_lap - 1);
  return index + 1 < c->cap ? pos + 1 : lap + c->one_lap;
}

/* A ring without slots (elemsize 0): tail counts pushes and head pops,
 * modulo mark_bit; the count held is (tail - head) mod mark_bit <= cap.
 * A push claims room by a CAS on tail after reading head, a pop claims a
 * value by a CAS on head after reading tail; each end only grows, so a
 * stale read of the other end can only make the ring look fuller (push)
 * or emptier (pop) than it is, and that verdict is then taken from a
 * seq_cst load (the Dekker check). There is nothing to publish: the CAS
 * (seq_cst, so release) and the other side's acquiring load order what
 * the program did before a send (or receive) with the matching receive
 * (or the send it made room for), as Go's memory model promises, the
 * counting semaphore of section 8.6 included. */
static int
count_push(goro_chan *c)
{
  size_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
  for (;;) {
    if (tail & c->mark_bit)
      return RING_CLOSED;
    size_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
    if (((tail - head) & (c->mark_bit - 1)) >= c->cap) {
      /* Full, as of that load; unless tail moved meanwhile (then look again). */
      size_t again = atomic_load_explicit(&c->tail, memory_order_acquire);
      if (again == tail)
        return RING_FULL;
      tail = again;
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(&c->tail, &tail, (tail + 1) & (c->mark_bit - 1),
                                              memory_order_seq_cst, memory_order_acquire))
      return RING_OK;
  }
}

static int
count_pop(goro_chan *c)
{
  size_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
  for (;;) {
    size_t tail = atomic_load_explicit(&c->tail, memory_order_seq_cst);
    if ((tail & ~c->mark_bit) == head)
      return tail & c->mark_bit ? RING_CLOSED : RING_EMPTY;
    if (atomic_compare_exchange_weak_explicit(&c->head, &head, (head + 1) & (c->mark_bit - 1),
                                              memory_order_seq_cst, memory_order_relaxed))
      return RING_OK;
  }
}

static int
ring_push_(goro_chan *c, const void *elem)
{
  if (c->stride == 0)
    return count_push(c);
  unsigned step = 0;
  /* Acquire: a send that sees the close mark returns GORO_EPIPE after the
   * close, in every sense. */
  size_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);
  for (;;) {
    if (tail & c->mark_bit)
      return RING_CLOSED;
    struct slot *sl = slot_at(c, tail & (c->mark_bit - 1));
    size_t stamp = atomic_load_explicit(&sl->stamp, memory_order_acquire);
    if (stamp == tail) {
      if (atomic_compare_exchange_weak_explicit(&c->tail, &tail, next_pos(c, tail),
                                                memory_order_seq_cst, memory_order_acquire)) {
        copy_elem(c, sl->data, elem);
        atomic_store_explicit(&sl->stamp, tail + 1, memory_order_release);
        return RING_OK;
      }
      continue; /* the CAS reloaded tail */
    }
    if (stamp + c->one_lap == tail + 1) {
      /* The slot still holds last lap's value: full, unless a consumer
       * has claimed it and not freed it yet. seq_cst: this load decides
       * "full" in the Dekker check (top of the file). */
      size_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
      if (head + c->one_lap == tail)
        return RING_FULL;
    }
    backoff(&step);
    tail = atomic_load_explicit(&c->tail, memory_order_acquire);
  }
}

static int
ring_pop_(goro_chan *c, void *elem)
{
  if (c->stride == 0)
    return count_pop(c);
  unsigned step = 0;
  size_t head = atomic_load_explicit(&c->head, memory_order_relaxed);
  for (;;) {
    struct slot *sl = slot_at(c, head & (c->mark_bit - 1));
    size_t stamp = atomic_load_explicit(&sl->stamp, memory_order_acquire);
    if (stamp == head + 1) {
      if (atomic_compare_exchange_weak_explicit(&c->head, &head, next_pos(c, head),
                                                memory_order_seq_cst, memory_order_relaxed)) {
        copy_elem(c, elem, sl->data);
        atomic_store_explicit(&sl->stamp, head + c->one_lap, memory_order_release);
        return RING_OK;
      }
      continue; /* the CAS reloaded head */
    }
    if (stamp == head) {
      /* Nothing published here: empty, unless a producer has claimed the
       * slot and not published it yet. seq_cst: this load decides "empty"
       * in the Dekker check (top of the file), and its acquire makes a
       * receive that sees the close mark synchronize with the close (Go:
       * a close happens before a receive that returns because of it). */
      size_t tail = atomic_load_explicit(&c->tail, memory_order_seq_cst);
      if ((tail & ~c->mark_bit) == head)
        return tail & c->mark_bit ? RING_CLOSED : RING_EMPTY;
    }
    backoff(&step);
    head = atomic_load_explicit(&c->head, memory_order_relaxed);
  }
}

/* Would a push (op GORO_SEND) or pop not find the ring full (empty)? A
 * snapshot, for select's last look before it sleeps. */
/* seq_cst loads: the waiter's half of the Dekker check, for a select that
 * has queued itself (top of the file). */
static bool
ring_ready_(goro_chan *c, int op)
{
  size_t tail = atomic_load_explicit(&c->tail, memory_order_seq_cst);
  size_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
  if (tail & c->mark_bit)
    return true; /* closed: a push fails, a pop drains or reports it */
  if (c->stride == 0)
    return op == GORO_SEND ? ((tail - head) & (c->mark_bit - 1)) < c->cap : head != tail;
  return op == GORO_SEND ? head + c->one_lap != tail : head != tail;
}

static size_t
ring_len_(goro_chan *c)
{
  for (;;) {
    size_t tail = atomic_load_explicit(&c->tail, memory_order_seq_cst);
    size_t head = atomic_load_explicit(&c->head, memory_order_seq_cst);
    if (atomic_load_explicit(&c->tail, memory_order_seq_cst) != tail)
      continue;
    tail &= ~c->mark_bit;
    if (c->stride == 0)
      return (tail - head) & (c->mark_bit - 1);
    size_t hix = head & (c->mark_bit - 1), tix = tail & (c->mark_bit - 1);
    if (hix < tix)
      return tix - hix;
    if (hix > tix)
      return c->cap - hix + tix;
    return tail == head ? 0 : c->cap;
  }
}

/* After a change to the ring (a seq_cst RMW): if q (the other side's
 * queue) holds a waiter, wake one to retry. c not locked. The seq_cst
 * load is the partner's half of the Dekker check (top of the file). */
static void
notify_one(goro_chan *c, struct goro__waitq *q)
{
  if (atomic_load_explicit(&q->len, memory_order_seq_cst) == 0)
    return;
  goro__mu_lock(&c->mu);
  struct goro__waiter *w = take_retry_locked(q);
  goro__mu_unlock(&c->mu);
  if (w != NULL)
    goro__wake(w->t);
}

/* Both ends only move forward (and closing sets a bit in tail), so the sum
 * changes whenever the ring does. */
static size_t
ring_version_(goro_chan *c)
{
  return atomic_load_explicit(&c->head, memory_order_seq_cst) +
         atomic_load_explicit(&c->tail, memory_order_seq_cst);
}

static size_t
ring_close_(goro_chan *c)
{
  return atomic_fetch_or_explicit(&c->tail, c->mark_bit, memory_order_seq_cst) & c->mark_bit;
}

/* valgrind's race checkers see pthread locks, not atomics. In a
 * GORO_VALGRIND build every ring operation runs under ring_mu, a leaf
 * lock, so they check what is built around the ring; the ring's lock-free
 * protocol itself is checked by ThreadSanitizer, which models atomics. */
#ifdef GORO_VALGRIND
#define RING_CALL(type, c, call)                                                                   \
  do {                                                                                             \
    goro__mu_lock(&(c)->ring_mu);                                                                  \
    type r_ = call;                                                                                \
    goro__mu_unlock(&(c)->ring_mu);                                                                \
    return r_;                                                                                     \
  } while (0)
#else
#define RING_CALL(type, c, call) return call
#endif

static int
ring_push(goro_chan *c, const void *elem)
{
  RING_CALL(int, c, ring_push_(c, elem));
}

static int
ring_pop(goro_chan *c, void *elem)
{
  RING_CALL(int, c, ring_pop_(c, elem));
}

static bool
ring_ready(goro_chan *c, int op)
{
  RING_CALL(bool, c, ring_ready_(c, op));
}

static size_t
ring_len(goro_chan *c)
{
  RING_CALL(size_t, c, ring_len_(c));
}

size_t
goro__chan_version(goro_chan *c)
{
  RING_CALL(size_t, c, ring_version_(c));
}

/* Set the closed mark; its old value. */
static size_t
ring_close(goro_chan *c)
{
  RING_CALL(size_t, c, ring_close_(c));
}

void
goro__chan_kick(goro_chan *c, int op)
{
  notify_one(c, op == GORO_SEND ? &c->sendq : &c->recvq);
}

bool
goro__chan_ready_locked(goro_chan *c, int op)
{
  return ring_ready(c, op);
}

/* The ring was full (op GORO_SEND) or empty: try again for a little while
 * before queueing, as a partner running on another CPU answers within
 * nanoseconds. With more awake threads than CPUs, give ours up instead. */
static int
ring_retry(goro_chan *c, int op, void *elem)
{
  if (goro__ncpu == 1)
    return RING_FULL;
  bool crowded = atomic_load_explicit(&goro__nawake, memory_order_relaxed) > goro__ncpu;
  for (int i = 0; i < (crowded ? 2 : 64); i++) {
    if (crowded) {
      sched_yield();
    } else {
      for (int k = 0; k < 32; k++)
        goro__cpu_relax();
    }
    int rc = op == GORO_SEND ? ring_push(c, elem) : ring_pop(c, elem);
    if (rc != RING_FULL)
      return rc;
  }
  return RING_FULL;
}

/* ---- the locked steps, shared with select.c ----------------------------- */

int
goro__chan_trysend_locked(goro_chan *c, const void *elem, struct goro__waiter **wp)
{
  *wp = NULL;
  if (c->cap > 0) {
    int rc = ring_push(c, elem);
    if (rc == RING_CLOSED)
      return GORO_EPIPE;
    if (rc == RING_FULL)
      return 0;
    *wp = take_retry_locked(&c->recvq); /* woken after unlocking */
    return 1;
  }
  if (c->closed)
    return GORO_EPIPE;
  struct goro__waiter *w = waitq_take(&c->recvq);
  if (w != NULL) {
    w->ok = true;
    *wp = w; /* the caller copies and wakes after unlocking */
    return 1;
  }
  return 0;
}

int
goro__chan_tryrecv_locked(goro_chan *c, void *elem, struct goro__waiter **wp)
{
  *wp = NULL;
  if (c->cap > 0) {
    int rc = ring_pop(c, elem);
    if (rc == RING_CLOSED) {
      zero_elem(c, elem);
      return 0;
    }
    if (rc == RING_EMPTY)
      return GORO_EAGAIN;
    *wp = take_retry_locked(&c->sendq); /* woken after unlocking */
    return 1;
  }
  struct goro__waiter *w = waitq_take(&c->sendq);
  if (w != NULL) {
    w->ok = true;
    *wp = w; /* the caller copies from w->elem and wakes after unlocking */
    return 1;
  }
  if (c->closed) {
    zero_elem(c, elem);
    return 0;
  }
  return GORO_EAGAIN;
}

void
goro__complete_send(goro_chan *c, struct goro__waiter *w, const void *elem)
{
  if (!w->retry)
    copy_elem(c, w->elem, elem);
  goro__wake(w->t);
}

void
goro__complete_recv(goro_chan *c, struct goro__waiter *w, void *elem)
{
  if (!w->retry)
    copy_elem(c, elem, w->elem);
  goro__wake(w->t);
}

/* ---- blocking ----------------------------------------------------------- */

/* Sleep with w queued on c (locked) until a partner or close dequeues it
 * and wakes us; unlocks c. The caller holds a reference of its own on c
 * meanwhile: one that releases c while we wait is buggy, but must not
 * free c under us. */
static void
park_queued(goro_chan *c, struct goro__waiter *w, int op)
{
  struct goro__thread *t = w->t;
  goro__block_begin(t, op == GORO_SEND ? GORO__SEND : GORO__RECV, GORO__WAIT_FOREVER, c,
                    goro__chan_name(c));
  goro__mu_unlock(&c->mu);
  goro__wait(t, -1, true);
  goro__block_end(t);
}

/* Buffered send or receive (op) of elem: the ring, then, if it stays full
 * (empty), queue, look once more, and sleep until told to retry. */
static int
buffered_op(goro_chan *c, int op, void *elem)
{
  struct goro__waitq *mine = op == GORO_SEND ? &c->sendq : &c->recvq;
  struct goro__waitq *theirs = op == GORO_SEND ? &c->recvq : &c->sendq;
  struct goro__thread *t = NULL; /* set once we have blocked: we hold a reference */
  int result;
  for (;;) {
    int rc = op == GORO_SEND ? ring_push(c, elem) : ring_pop(c, elem);
    if (rc == RING_FULL)
      rc = ring_retry(c, op, elem);
    if (rc == RING_FULL) {
      if (t == NULL) {
        if ((t = goro__self()) == NULL) /* before the lock: see internal.h */
          return GORO_ENOMEM;
        goro_chan_retain(c); /* see park_queued */
      }
      struct goro__waiter me = {.t = t};
      goro__mu_lock(&c->mu);
      waitq_push(mine, &me); /* a seq_cst store: pairs with notify_one's load */
      rc = op == GORO_SEND ? ring_push(c, elem) : ring_pop(c, elem);
      if (rc == RING_FULL) {
        park_queued(c, &me, op);
        continue; /* dequeued by whoever woke us: retry */
      }
      waitq_remove(&me);
      goro__mu_unlock(&c->mu);
    }
    if (rc == RING_CLOSED) {
      if (op == GORO_RECV)
        zero_elem(c, elem);
      result = op == GORO_SEND ? GORO_EPIPE : 0;
    } else {
      notify_one(c, theirs);
      result = op == GORO_SEND ? 0 : 1;
    }
    if (t != NULL)
      goro_chan_release(c); /* may free c: the last touch */
    return result;
  }
}

/* Unbuffered: block the calling thread on c (locked) until a partner or
 * close claims w; unlocks c. Returns w->ok. */
static bool
block(goro_chan *c, struct goro__waiter *w, int op)
{
  goro__chan_enqueue(c, w, op);
  goro_chan_retain(c); /* see park_queued */
  park_queued(c, w, op);
  goro_chan_release(c);
  return w->ok;
}

int
goro_chan_send(goro_chan *c, const void *elem)
{
  CHAN_ENTER(c);
  if (c == NULL || (elem == NULL && c->elemsize != 0))
    return GORO_EINVAL;
  if (c->cap > 0)
    return buffered_op(c, GORO_SEND, (void *)elem);
  struct goro__thread *t = goro__self(); /* before the lock: see internal.h */
  struct goro__waiter *w;
  goro__mu_lock(&c->mu);
  int rc = goro__chan_trysend_locked(c, elem, &w);
  if (rc != 0) {
    goro__mu_unlock(&c->mu);
    if (w != NULL)
      goro__complete_send(c, w, elem);
    return rc < 0 ? rc : 0;
  }
  if (t == NULL) {
    goro__mu_unlock(&c->mu);
    return GORO_ENOMEM;
  }
  struct goro__waiter me = {.t = t, .elem = (void *)elem};
  return block(c, &me, GORO_SEND) ? 0 : GORO_EPIPE;
}

int
goro_chan_recv(goro_chan *c, void *elem)
{
  CHAN_ENTER(c);
  if (c == NULL)
    return GORO_EINVAL;
  if (c->cap > 0)
    return buffered_op(c, GORO_RECV, elem);
  struct goro__thread *t = goro__self(); /* before the lock: see internal.h */
  struct goro__waiter *w;
  goro__mu_lock(&c->mu);
  int rc = goro__chan_tryrecv_locked(c, elem, &w);
  if (rc != GORO_EAGAIN) {
    goro__mu_unlock(&c->mu);
    if (w != NULL)
      goro__complete_recv(c, w, elem);
    return rc;
  }
  if (t == NULL) {
    goro__mu_unlock(&c->mu);
    return GORO_ENOMEM;
  }
  struct goro__waiter me = {.t = t, .elem = elem};
  if (block(c, &me, GORO_RECV))
    return 1;
  zero_elem(c, elem);
  return 0;
}

int
goro_chan_trysend(goro_chan *c, const void *elem)
{
  CHAN_ENTER(c);
  if (c == NULL || (elem == NULL && c->elemsize != 0))
    return GORO_EINVAL;
  if (c->cap > 0) {
    int rc = ring_push(c, elem);
    if (rc == RING_CLOSED)
      return GORO_EPIPE;
    if (rc == RING_FULL)
      return GORO_EAGAIN;
    notify_one(c, &c->recvq);
    return 0;
  }
  struct goro__waiter *w;
  goro__mu_lock(&c->mu);
  int rc = goro__chan_trysend_locked(c, elem, &w);
  goro__mu_unlock(&c->mu);
  if (w != NULL)
    goro__complete_send(c, w, elem);
  return rc == 0 ? GORO_EAGAIN : rc < 0 ? rc : 0;
}

int
goro_chan_tryrecv(goro_chan *c, void *elem)
{
  CHAN_ENTER(c);
  if (c == NULL)
    return GORO_EINVAL;
  if (c->cap > 0) {
    int rc = ring_pop(c, elem);
    if (rc == RING_EMPTY)
      return GORO_EAGAIN;
    if (rc == RING_CLOSED) {
      zero_elem(c, elem);
      return 0;
    }
    notify_one(c, &c->sendq);
    return 1;
  }
  struct goro__waiter *w;
  goro__mu_lock(&c->mu);
  int rc = goro__chan_tryrecv_locked(c, elem, &w);
  goro__mu_unlock(&c->mu);
  if (w != NULL)
    goro__complete_recv(c, w, elem);
  return rc;
}

int
goro_chan_close(goro_chan *c)
{
  CHAN_ENTER(c);
  if (c == NULL)
    return GORO_EINVAL;
  goro__mu_lock(&c->mu);
  bool was_closed;
  if (c->cap > 0)
    was_closed = ring_close(c) != 0;
  else
    was_closed = c->closed;
  if (was_closed) {
    goro__mu_unlock(&c->mu);
    return GORO_EPIPE;
  }
  c->closed = true;
  /* Collect every claimable waiter; wake them after unlocking. The list
   * reuses the dequeued waiters' next links. A buffered channel's waiters
   * retry: a sender then fails, a receiver drains what is left. */
  struct goro__waiter *wake = NULL, *w;
  while ((w = waitq_take(&c->recvq)) != NULL) {
    if (c->cap > 0) {
      w->retry = true;
    } else {
      zero_elem(c, w->elem);
      w->ok = false;
    }
    w->next = wake;
    wake = w;
  }
  while ((w = waitq_take(&c->sendq)) != NULL) {
    w->retry = c->cap > 0;
    w->ok = false;
    w->next = wake;
    wake = w;
  }
  goro__mu_unlock(&c->mu);
  while (wake != NULL) {
    w = wake;
    wake = w->next; /* read before the owner may return */
    goro__wake(w->t);
  }
  return 0;
}

/* A snapshot: it may be stale by the time the caller looks at it, with or
 * without a lock. */
size_t
goro_chan_len(goro_chan *c)
{
  CHAN_ENTER(c);
  return c == NULL || c->cap == 0 ? 0 : ring_len(c);
}

size_t
goro_chan_cap(goro_chan *c)
{
  CHAN_ENTER(c);
  return c == NULL ? 0 : c->cap;
}

/* Names are interned and never freed, so a dump can print a name read from
 * a thread record without touching the channel. */
static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;
struct name_node {
  struct name_node *next;
  char s[32];
};
static struct name_node *names;

/* fork: hold names_mu across it, so the child's copy is not locked by a
 * thread it lost. */
void
goro__names_atfork_prepare(void)
{
  goro__mu_lock(&names_mu);
}

void
goro__names_atfork_release(void)
{
  goro__mu_unlock(&names_mu);
}

void
goro_chan_set_name(goro_chan *c, const char *name)
{
  if (c == NULL)
    return;
  if (name == NULL) {
    atomic_store_explicit(&c->name, NULL, memory_order_relaxed);
    return;
  }
  char buf[32];
  snprintf(buf, sizeof buf, "%s", name);
  goro__mu_lock(&names_mu);
  struct name_node *n;
  for (n = names; n != NULL; n = n->next)
    if (strcmp(n->s, buf) == 0)
      break;
  if (n == NULL && (n = malloc(sizeof *n)) != NULL) {
    memcpy(n->s, buf, sizeof buf);
    n->next = names;
    names = n;
  }
  goro__mu_unlock(&names_mu);
  if (n != NULL) {
    GORO__HAPPENS_BEFORE(n->s); /* valgrind: the release, keyed by the string */
    atomic_store_explicit(&c->name, n->s, memory_order_release);
  }
}
