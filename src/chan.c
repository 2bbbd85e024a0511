/* chan.c - channels: make, send, recv, close, len, cap, names; and the
 * verbs goro_select uses on them (internal.h, "chan").
 *
 * A channel is one allocation: this header, then for a buffered channel
 * its ring's cap slots. c->mu guards the wait queues and closed. Two
 * protocols, one per kind of channel, each behind the same steps (one
 * try: sync_step_*, ring_step; blocking: sync_op, ring_op), and every
 * public call and select verb picks one by c->cap alone.
 *
 * Unbuffered channels work under c->mu alone, with direct hand-off: a
 * partner that claims a waiter under the lock copies the value after
 * dropping it (sync_finish). The claimed waiter's owner cannot return
 * before it is woken, so its buffer stays valid until then. Invariants,
 * whenever c->mu is free: at most one of sendq, recvq holds claimable
 * waiters (except one select waiting on both directions of c); once
 * closed is set both queues hold only select waiters that another case
 * has already won.
 *
 * Buffered channels keep their values in the lock-free ring of ring.h:
 * sends and receives that find room or a value take no lock, and closing
 * sets the ring's close mark, so no push succeeds after it (a channel of
 * zero-size elements, chan struct{}, has a ring of two counters). A
 * thread that finds the ring full (empty) queues a waiter under c->mu and
 * sleeps; waiters are not handed values, they are told to retry
 * (waiter.retry). The lost wake-up is ruled out Dekker-style, with
 * seq_cst operations on the words themselves (no standalone fence, so
 * ThreadSanitizer checks the real orders):
 *   a waiter:  queue itself (a seq_cst store of the queue's len), then try
 *              the ring again, whose verdict "full" ("empty") rests on a
 *              seq_cst load of the ring's head (tail) (ring.h);
 *   a partner: change the ring (a seq_cst RMW of head or tail), then read
 *              the queue's len (a seq_cst load, ring_notify), and if it is
 *              not zero, take c->mu and wake one waiter.
 * All four are in the single total order S of seq_cst operations: if the
 * waiter's load precedes the partner's RMW in S, it did not see the
 * change, and then the waiter's store precedes the partner's load in S,
 * which therefore reads that len (or a later one). So either the waiter's
 * retry sees the partner's change or the partner sees the waiter (the
 * store-buffering shape, which seq_cst forbids; on x86 the locked RMW and
 * the xchg store are the barriers, on ARMv8 stlr/ldar are not reordered).
 * A woken waiter that finds the value taken by someone else queues again;
 * a select woken for a case it then does not take passes the wake-up on
 * (goro__chan_pass).
 *
 * Lock order: channel locks by ascending address, then a parker's (and,
 * in a GORO_VALGRIND build, the channel's or its ring's vg_mu: leaves).
 * Waiters are woken only after the channel lock is dropped.
 */
#include "config.h"

#include "internal.h"
#include "ring.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

struct goro_chan {
  pthread_mutex_t mu;
  /* Under mu (read without it: each queue's len, see waiter.h). */
  struct goro__waitq recvq; /* blocked receivers, FIFO */
  struct goro__waitq sendq; /* blocked senders, FIFO */
  bool closed;              /* unbuffered only; buffered: the ring's close mark */
#ifdef GORO_VALGRIND
  pthread_mutex_t vg_mu; /* see CHAN_ENTER */
#endif
  /* Lock-free. */
  _Atomic size_t refs;
  const char *_Atomic name; /* immortal string (interned), or NULL; release/acquire */
  /* Immutable after make (the hook: set before the channel is shared). */
  void (*on_free)(void *); /* run by the last release (goro_after's timer) */
  void *on_free_arg;
  size_t elemsize;
  size_t cap;
  /* Buffered channels only; its cap slots follow the channel. Last. */
  struct goro__ring ring;
};
_Static_assert(sizeof(struct goro_chan) ==
                   offsetof(struct goro_chan, ring) + sizeof(struct goro__ring),
               "the ring's slots follow the channel");

/* A thread's first touch of a channel another thread made may read its
 * immutable fields (cap, elemsize) before any lock: the channel pointer
 * reached it by whatever means the program used, which valgrind may not
 * see (an atomic). In a GORO_VALGRIND build each entry point takes and
 * drops vg_mu first, which goro_chan_make released last: an edge the
 * tools see. */
#ifdef GORO_VALGRIND
#define CHAN_ENTER(c)                                                                              \
  do {                                                                                             \
    if ((c) != NULL) {                                                                             \
      goro__mu_lock(&(c)->vg_mu);                                                                  \
      goro__mu_unlock(&(c)->vg_mu);                                                                \
    }                                                                                              \
  } while (0)
#else
#define CHAN_ENTER(c) ((void)0)
#endif

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

/* What one step of an operation found, with c locked or on the ring. */
enum step {
  STEP_BLOCK,  /* it would block: nothing was done */
  STEP_DONE,   /* sent, or received a value */
  STEP_CLOSED, /* c is closed (a receive: and drained; elem zeroed) */
};

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

static struct goro__waitq *
queue_of(goro_chan *c, int op)
{
  return op == GORO_SEND ? &c->sendq : &c->recvq;
}

/* Sleep with w queued on c (locked) until a partner or close dequeues it
 * and wakes us; unlocks c. The caller holds a reference of its own on c
 * meanwhile: one that releases c while we wait is buggy, but must not
 * free c under us. */
static void
park_queued(goro_chan *c, struct goro__waiter *w, int op)
{
  struct goro__thread *t = w->t;
  goro__block_begin(t, op == GORO_SEND ? GORO__SEND : GORO__RECV, GORO__BLOCKED_FOREVER, c,
                    goro__chan_name(c));
  goro__mu_unlock(&c->mu);
  goro__block_wait(t, -1, true);
  goro__block_end(t);
}

/* ---- unbuffered channels: direct hand-off under c->mu ------------------- */

/* c locked: send *elem to a queued receiver, if one can be claimed. DONE
 * leaves it in *partner, for sync_finish after unlocking. */
static enum step
sync_step_send(goro_chan *c, struct goro__waiter **partner)
{
  if (c->closed)
    return STEP_CLOSED;
  struct goro__waiter *w = waitq_take(&c->recvq);
  if (w == NULL)
    return STEP_BLOCK;
  w->ok = true;
  *partner = w;
  return STEP_DONE;
}

/* c locked: receive from a queued sender, if one can be claimed (DONE,
 * *partner as above), or learn that c is closed (elem zeroed). */
static enum step
sync_step_recv(goro_chan *c, void *elem, struct goro__waiter **partner)
{
  struct goro__waiter *w = waitq_take(&c->sendq);
  if (w != NULL) {
    w->ok = true;
    *partner = w;
    return STEP_DONE;
  }
  if (c->closed) {
    zero_elem(c, elem);
    return STEP_CLOSED;
  }
  return STEP_BLOCK;
}

/* c unlocked: copy between elem and the claimed partner w of op, and wake
 * w's owner (who returns only then, so w->elem is still valid). A partner
 * told to retry gets no copy. */
static void
sync_finish(goro_chan *c, int op, struct goro__waiter *w, void *elem)
{
  if (!w->retry) {
    if (op == GORO_SEND)
      copy_elem(c, w->elem, elem);
    else
      copy_elem(c, elem, w->elem);
  }
  goro__wake(w->t);
}

/* One try of op, with c->mu taken and dropped. */
static enum step
sync_try(goro_chan *c, int op, void *elem)
{
  struct goro__waiter *w = NULL;
  goro__mu_lock(&c->mu);
  enum step st = op == GORO_SEND ? sync_step_send(c, &w) : sync_step_recv(c, elem, &w);
  goro__mu_unlock(&c->mu);
  if (w != NULL)
    sync_finish(c, op, w, elem);
  return st;
}

/* op until done or c closed. */
static enum step
sync_op(goro_chan *c, int op, void *elem)
{
  struct goro__thread *t = goro__self(); /* before the lock: see internal.h */
  struct goro__waiter *w = NULL;
  goro__mu_lock(&c->mu);
  enum step st = op == GORO_SEND ? sync_step_send(c, &w) : sync_step_recv(c, elem, &w);
  if (st != STEP_BLOCK) {
    goro__mu_unlock(&c->mu);
    if (w != NULL)
      sync_finish(c, op, w, elem);
    return st;
  }
  if (t == NULL) {
    goro__mu_unlock(&c->mu);
    return STEP_BLOCK; /* no record: the caller reports GORO_ENOMEM */
  }
  /* Queue ourselves; the partner (or close) claims us, copies, wakes us. */
  struct goro__waiter me = {.t = t, .elem = elem};
  waitq_push(queue_of(c, op), &me);
  goro_chan_retain(c); /* see park_queued */
  park_queued(c, &me, op);
  st = STEP_DONE;
  if (!me.ok) {
    if (op == GORO_RECV)
      zero_elem(c, elem); /* reads c->elemsize: before the release */
    st = STEP_CLOSED;
  }
  goro_chan_release(c); /* may free c: the last touch */
  return st;
}

/* ---- buffered channels: the ring, and retry wake-ups --------------------
 *
 * Values live in c->ring (ring.h); the queues hold threads that found it
 * full (senders) or empty (receivers). A waiter is never handed a value:
 * a partner that changed the ring wakes one waiter of the other side with
 * w->retry set, and it tries the ring again. */

/* One try of op on the ring. Inlined into its callers: a call more on
 * this path showed as a slower W2 (README's benchmark), the producer and
 * the consumer then meeting a full or empty ring more often. */
static inline __attribute__((always_inline)) enum step
ring_step(goro_chan *c, int op, void *elem)
{
  int rc = op == GORO_SEND ? goro__ring_push(&c->ring, elem) : goro__ring_pop(&c->ring, elem);
  switch (rc) {
  case GORO__RING_OK:
    return STEP_DONE;
  case GORO__RING_CLOSED:
    if (op == GORO_RECV)
      zero_elem(c, elem);
    return STEP_CLOSED;
  default:
    return STEP_BLOCK; /* full or empty */
  }
}

/* After a change to the ring by op (a seq_cst RMW): if the other side's
 * queue holds a waiter, wake one to retry. c not locked. The seq_cst load
 * is the partner's half of the Dekker check (top of the file). */
static void
ring_notify(goro_chan *c, int op)
{
  struct goro__waitq *q = queue_of(c, op == GORO_SEND ? GORO_RECV : GORO_SEND);
  if (atomic_load_explicit(&q->len, memory_order_seq_cst) == 0)
    return;
  goro__mu_lock(&c->mu);
  struct goro__waiter *w = waitq_take(q);
  if (w != NULL)
    w->retry = true;
  goro__mu_unlock(&c->mu);
  if (w != NULL)
    goro__wake(w->t);
}

/* The ring was full (op GORO_SEND) or empty: try again for a little while
 * before queueing, as a partner running on another CPU answers within
 * nanoseconds. With more awake threads than CPUs, give ours up instead. */
static enum step
ring_spin(goro_chan *c, int op, void *elem)
{
  if (goro__ncpu == 1)
    return STEP_BLOCK;
  bool crowded = atomic_load_explicit(&goro__nawake, memory_order_relaxed) > goro__ncpu;
  for (int i = 0; i < (crowded ? 2 : 64); i++) {
    if (crowded) {
      sched_yield();
    } else {
      for (int k = 0; k < 32; k++)
        goro__cpu_relax();
    }
    enum step st = ring_step(c, op, elem);
    if (st != STEP_BLOCK)
      return st;
  }
  return STEP_BLOCK;
}

/* One try of op, waking a waiter of the other side if it changed the ring. */
static enum step
ring_try(goro_chan *c, int op, void *elem)
{
  enum step st = ring_step(c, op, elem);
  if (st == STEP_DONE)
    ring_notify(c, op);
  return st;
}

/* op until done or c closed: the ring, then, if it stays full (empty),
 * queue, look once more, and sleep until told to retry. Returns
 * STEP_BLOCK only when the thread has no record (GORO_ENOMEM). */
static enum step
ring_op(goro_chan *c, int op, void *elem)
{
  struct goro__thread *t = NULL; /* set once we have blocked: we hold a reference */
  enum step st;
  for (;;) {
    st = ring_step(c, op, elem);
    if (st == STEP_BLOCK)
      st = ring_spin(c, op, elem);
    if (st != STEP_BLOCK)
      break;
    if (t == NULL) {
      if ((t = goro__self()) == NULL) /* before the lock: see internal.h */
        return STEP_BLOCK;
      goro_chan_retain(c); /* see park_queued */
    }
    struct goro__waiter me = {.t = t};
    goro__mu_lock(&c->mu);
    waitq_push(queue_of(c, op), &me); /* a seq_cst store: pairs with ring_notify's load */
    st = ring_step(c, op, elem);
    if (st == STEP_BLOCK) {
      park_queued(c, &me, op);
      continue; /* dequeued by whoever woke us: retry */
    }
    waitq_remove(&me);
    goro__mu_unlock(&c->mu);
    break;
  }
  if (st == STEP_DONE)
    ring_notify(c, op);
  if (t != NULL)
    goro_chan_release(c); /* may free c: the last touch */
  return st;
}

/* ---- select's verbs ----------------------------------------------------- */

bool
goro__chan_poll(goro_case *k, struct goro__waiter **partner, size_t *snap)
{
  goro_chan *c = k->chan;
  enum step st;
  *partner = NULL;
  if (c->cap > 0) {
    if (snap != NULL)
      *snap = goro__ring_version(&c->ring);
    st = ring_step(c, k->op, k->elem);
    if (st == STEP_DONE) {
      /* Wake a waiter of the other side after unlocking (goro__chan_finish). */
      struct goro__waiter *w = waitq_take(queue_of(c, k->op == GORO_SEND ? GORO_RECV : GORO_SEND));
      if (w != NULL)
        w->retry = true;
      *partner = w;
    }
  } else {
    if (snap != NULL)
      *snap = 0;
    st = k->op == GORO_SEND ? sync_step_send(c, partner) : sync_step_recv(c, k->elem, partner);
  }
  if (st == STEP_BLOCK)
    return false;
  k->ok = st == STEP_DONE;
  return true;
}

void
goro__chan_finish(goro_case *k, struct goro__waiter *partner)
{
  sync_finish(k->chan, k->op, partner, k->elem);
}

bool
goro__chan_changed(goro_case *k, size_t snap)
{
  goro_chan *c = k->chan;
  return c->cap > 0 && goro__ring_version(&c->ring) != snap;
}

bool
goro__chan_arm(goro_case *k, struct goro__waiter *w)
{
  goro_chan *c = k->chan;
  w->retry = false;
  waitq_push(queue_of(c, k->op), w); /* a seq_cst store: the Dekker check */
  /* An unbuffered channel cannot change while locked; a ring can. */
  return c->cap > 0 && goro__ring_ready(&c->ring, k->op == GORO_SEND);
}

void
goro__chan_disarm(goro_case *k, struct goro__waiter *w)
{
  (void)k;
  if (w->q != NULL)
    waitq_remove(w);
}

bool
goro__chan_woken(goro_case *k, struct goro__waiter *w)
{
  if (w->retry)
    return false;
  k->ok = w->ok;
  return true;
}

void
goro__chan_pass(goro_case *k)
{
  if (k->chan->cap > 0)
    ring_notify(k->chan, k->op == GORO_SEND ? GORO_RECV : GORO_SEND);
}

/* ---- the operations ----------------------------------------------------- */

void
goro__chan_lock(goro_chan *c)
{
  CHAN_ENTER(c); /* a select's first touch of c may be this */
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

void
goro__chan_on_free(goro_chan *c, void (*fn)(void *), void *arg)
{
  c->on_free = fn;
  c->on_free_arg = arg;
}

goro_chan *
goro_chan_make(size_t elemsize, size_t cap)
{
  /* Both bounds are decided before anything is allocated, as Go's
   * makechan does: an element of 64 KiB or more is EINVAL, and so is a
   * capacity whose bytes overflow; one whose allocation would pass
   * GORO_CHAN_MAX_ALLOC is ENOMEM (a sanitizer's malloc would abort on
   * some such sizes instead of returning NULL). cap < SIZE_MAX / 4 keeps
   * the ring's mark_bit and a lap representable. */
  if (elemsize > GORO_CHAN_MAX_ELEMSIZE || cap >= SIZE_MAX / 4) {
    errno = EINVAL;
    return NULL;
  }
  size_t stride = cap > 0 ? goro__ring_stride(elemsize) : 0;
  if (stride != 0 && cap > (SIZE_MAX - sizeof(goro_chan)) / stride) {
    errno = EINVAL;
    return NULL;
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
  goro__mu_init(&c->vg_mu);
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
  c->on_free = NULL;
  c->on_free_arg = NULL;
  c->elemsize = elemsize;
  c->cap = cap;
  if (cap > 0)
    goro__ring_init(&c->ring, elemsize, cap);
#ifdef GORO_VALGRIND
  goro__mu_lock(&c->vg_mu); /* see CHAN_ENTER */
  goro__mu_unlock(&c->vg_mu);
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
  size_t old = goro__ref_drop(&c->refs);
  GORO__ASSERT(old != 0);
  if (old != 1)
    return;
  /* Blocked threads hold references of their own (see park_queued), so
   * no waiter can be queued now. */
  if (c->on_free != NULL)
    c->on_free(c->on_free_arg);
  pthread_mutex_destroy(&c->mu);
#ifdef GORO_VALGRIND
  pthread_mutex_destroy(&c->vg_mu);
#endif
  if (c->cap > 0)
    goro__ring_destroy(&c->ring);
  free(c);
}

/* Map a step to the public results. */
static int
send_result(enum step st, bool polling)
{
  return st == STEP_DONE ? 0 : st == STEP_CLOSED ? GORO_EPIPE : polling ? GORO_EAGAIN : GORO_ENOMEM;
}

static int
recv_result(enum step st, bool polling)
{
  return st == STEP_DONE ? 1 : st == STEP_CLOSED ? 0 : polling ? GORO_EAGAIN : GORO_ENOMEM;
}

int
goro_chan_send(goro_chan *c, const void *elem)
{
  CHAN_ENTER(c);
  if (c == NULL || (elem == NULL && c->elemsize != 0))
    return GORO_EINVAL;
  void *e = (void *)elem; /* only read: the steps take one pointer for both directions */
  return send_result(c->cap > 0 ? ring_op(c, GORO_SEND, e) : sync_op(c, GORO_SEND, e), false);
}

int
goro_chan_recv(goro_chan *c, void *elem)
{
  CHAN_ENTER(c);
  if (c == NULL)
    return GORO_EINVAL;
  return recv_result(c->cap > 0 ? ring_op(c, GORO_RECV, elem) : sync_op(c, GORO_RECV, elem), false);
}

int
goro_chan_trysend(goro_chan *c, const void *elem)
{
  CHAN_ENTER(c);
  if (c == NULL || (elem == NULL && c->elemsize != 0))
    return GORO_EINVAL;
  void *e = (void *)elem;
  return send_result(c->cap > 0 ? ring_try(c, GORO_SEND, e) : sync_try(c, GORO_SEND, e), true);
}

int
goro_chan_tryrecv(goro_chan *c, void *elem)
{
  CHAN_ENTER(c);
  if (c == NULL)
    return GORO_EINVAL;
  return recv_result(c->cap > 0 ? ring_try(c, GORO_RECV, elem) : sync_try(c, GORO_RECV, elem),
                     true);
}

int
goro_chan_close(goro_chan *c)
{
  CHAN_ENTER(c);
  if (c == NULL)
    return GORO_EINVAL;
  goro__mu_lock(&c->mu);
  bool was_closed = c->cap > 0 ? goro__ring_close(&c->ring) : c->closed;
  if (was_closed) {
    goro__mu_unlock(&c->mu);
    return GORO_EPIPE;
  }
  c->closed = true;
  /* Collect every claimable waiter; wake them after unlocking. The list
   * reuses the dequeued waiters' next links. A buffered channel's waiters
   * retry: a sender then fails, a receiver drains what is left. An
   * unbuffered channel's fail (ok false; a receiver's elem zeroed). */
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
  return c == NULL || c->cap == 0 ? 0 : goro__ring_len(&c->ring);
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
