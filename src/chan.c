/* chan.c - channels: make, send, recv, close, len, cap.
 *
 * A channel is one allocation: this header, then a ring of cap * elemsize
 * bytes. c->mu guards everything but the reference count, and the
 * counters len() reads without the lock.
 *
 * Invariants, whenever c->mu is free:
 *   at most one of c->sendq, c->recvq holds claimable waiters (except one
 *   select waiting on both directions of c);
 *   c->count > 0 implies c->recvq holds no claimable waiter;
 *   c->count < c->cap implies c->sendq holds no claimable waiter;
 *   c->closed never returns to false, and once it is set both queues hold
 *   only select waiters that another case has already won.
 * Lock order: channel locks by ascending address, then a parker's lock.
 * Waiters are woken only after the channel lock is dropped.
 *
 * Direct handoff: a partner that claims a waiter under the lock may copy
 * the value after dropping the lock. The claimed waiter's owner cannot
 * return before it is woken, so its buffer stays valid until then.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <string.h>

struct goro_chan {
  pthread_mutex_t mu;
  /* Under mu. */
  struct goro__waitq recvq; /* blocked receivers, FIFO */
  struct goro__waitq sendq; /* blocked senders, FIFO */
  size_t recvx;             /* ring index of the next value to receive */
  size_t sendx;             /* ring index of the next free slot */
  bool closed;
  /* Written under mu, read without it by goro_chan_len. */
  _Atomic size_t count; /* values in the ring */
  /* Lock-free. */
  _Atomic size_t refs;
  const char *_Atomic name; /* immortal string (interned), or NULL */
  /* Immutable after make (timer: set before the channel is shared). */
  struct goro__timer *timer; /* goro_after's timer, freed with c */
  size_t elemsize;
  size_t cap;
  unsigned char ring[]; /* cap * elemsize bytes */
};

static inline unsigned char *
slot(goro_chan *c, size_t i)
{
  return c->ring + i * c->elemsize;
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

void
goro__chan_enqueue(goro_chan *c, struct goro__waiter *w, int op)
{
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

const char *
goro__chan_name(goro_chan *c)
{
  return atomic_load_explicit(&c->name, memory_order_relaxed);
}

size_t
goro__chan_elemsize(goro_chan *c)
{
  return c->elemsize;
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
  if (elemsize != 0 && cap > (SIZE_MAX - sizeof(goro_chan)) / elemsize) {
    errno = EINVAL;
    return NULL;
  }
  goro_chan *c = malloc(sizeof *c + elemsize * cap);
  if (c == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  goro__mu_init(&c->mu);
  c->recvq = (struct goro__waitq){NULL, NULL};
  c->sendq = (struct goro__waitq){NULL, NULL};
  c->recvx = c->sendx = 0;
  c->closed = false;
  atomic_init(&c->count, 0);
  atomic_init(&c->refs, 1);
  atomic_init(&c->name, NULL);
  c->timer = NULL;
  c->elemsize = elemsize;
  c->cap = cap;
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
  size_t old = atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel);
  GORO__ASSERT(old != 0);
  if (old != 1)
    return;
  /* Blocked threads hold references of their own (see block()), so no
   * waiter can be queued now. */
  if (c->timer != NULL)
    goro__timer_cancel_free(c->timer);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

/* ---- the locked steps, shared with select.c ----------------------------- */

int
goro__chan_trysend_locked(goro_chan *c, const void *elem, struct goro__waiter **wp)
{
  *wp = NULL;
  if (c->closed)
    return GORO_EPIPE;
  struct goro__waiter *w = waitq_take(&c->recvq);
  if (w != NULL) {
    w->ok = true;
    *wp = w; /* the caller copies and wakes after unlocking */
    return 1;
  }
  size_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
  if (n < c->cap) {
    copy_elem(c, slot(c, c->sendx), elem);
    if (++c->sendx == c->cap)
      c->sendx = 0;
    atomic_store_explicit(&c->count, n + 1, memory_order_relaxed);
    return 1;
  }
  return 0;
}

int
goro__chan_tryrecv_locked(goro_chan *c, void *elem, struct goro__waiter **wp)
{
  *wp = NULL;
  size_t n = atomic_load_explicit(&c->count, memory_order_relaxed);
  if (n > 0) {
    copy_elem(c, elem, slot(c, c->recvx));
    struct goro__waiter *w = waitq_take(&c->sendq);
    if (w != NULL) {
      /* The ring was full: the sender's value takes the freed slot, which
       * is the one just read (sendx == recvx when full). */
      copy_elem(c, slot(c, c->recvx), w->elem);
      w->ok = true;
      if (++c->recvx == c->cap)
        c->recvx = 0;
      c->sendx = c->recvx;
      *wp = w;
      (*wp)->elem = NULL; /* nothing left to copy after unlocking */
    } else {
      if (++c->recvx == c->cap)
        c->recvx = 0;
      atomic_store_explicit(&c->count, n - 1, memory_order_relaxed);
    }
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
  copy_elem(c, w->elem, elem);
  goro__wake(w->t);
}

void
goro__complete_recv(goro_chan *c, struct goro__waiter *w, void *elem)
{
  if (w->elem != NULL)
    copy_elem(c, elem, w->elem);
  goro__wake(w->t);
}

/* ---- blocking ----------------------------------------------------------- */

/* Block the calling thread on c (locked) until a partner or close claims
 * w; unlocks c. Returns w->ok. */
static bool
block(goro_chan *c, struct goro__waiter *w, int op)
{
  struct goro__thread *t = w->t;
  goro__chan_enqueue(c, w, op);
  /* Our own reference: a caller that releases c while we wait is buggy,
   * but must not free c under us. */
  goro_chan_retain(c);
  goro__block_begin(t, op == GORO_SEND ? GORO__SEND : GORO__RECV, GORO__WAIT_FOREVER, c,
                    goro__chan_name(c));
  goro__mu_unlock(&c->mu);
  goro__wait(t, -1, true);
  goro__block_end(t);
  goro_chan_release(c);
  return w->ok;
}

int
goro_chan_send(goro_chan *c, const void *elem)
{
  if (c == NULL || (elem == NULL && c->elemsize != 0))
    return GORO_EINVAL;
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
  if (c == NULL)
    return GORO_EINVAL;
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
  if (c == NULL || (elem == NULL && c->elemsize != 0))
    return GORO_EINVAL;
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
  if (c == NULL)
    return GORO_EINVAL;
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
  if (c == NULL)
    return GORO_EINVAL;
  goro__mu_lock(&c->mu);
  if (c->closed) {
    goro__mu_unlock(&c->mu);
    return GORO_EPIPE;
  }
  c->closed = true;
  /* Collect every claimable waiter; wake them after unlocking. The list
   * reuses the dequeued waiters' next links. */
  struct goro__waiter *wake = NULL, *w;
  while ((w = waitq_take(&c->recvq)) != NULL) {
    zero_elem(c, w->elem);
    w->ok = false;
    w->next = wake;
    wake = w;
  }
  while ((w = waitq_take(&c->sendq)) != NULL) {
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

/* Reads count without the lock: len() is a snapshot that may be stale by
 * the time the caller looks at it, with or without the lock. */
size_t
goro_chan_len(goro_chan *c)
{
  return c == NULL ? 0 : atomic_load_explicit(&c->count, memory_order_relaxed);
}

size_t
goro_chan_cap(goro_chan *c)
{
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
  if (n != NULL)
    atomic_store_explicit(&c->name, n->s, memory_order_relaxed);
}
