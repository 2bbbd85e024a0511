/* waiter.h - the waiter record (Go's sudog): one per blocked operation.
 *
 * A waiter lives on the stack of the thread it belongs to and sits in one
 * channel queue. It is owned by the channel's lock while queued. A partner
 * that dequeues it must first claim it (goro__waiter_claim): a plain
 * waiter always, a select's waiter only by winning the select's winner
 * slot, so at most one case of a select ever completes. After claiming,
 * the partner finishes the copy and wakes the owner; the owner does not
 * return (so the record stays valid) until it is woken.
 */
#ifndef GORO_WAITER_H
#define GORO_WAITER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct goro__thread;
struct goro__waitq;

/* Shared by the waiters of one select call. */
struct goro__sel {
  _Atomic int winner; /* GORO__SEL_OPEN, GORO__SEL_TIMEOUT, or the case index */
};
#define GORO__SEL_OPEN    (-1)
#define GORO__SEL_TIMEOUT (-2)

struct goro__waiter {
  struct goro__waiter *next, *prev; /* queue links, under the channel lock */
  struct goro__waitq *q;            /* the queue it is on; NULL once dequeued */
  struct goro__thread *t;           /* whom to wake */
  struct goro__sel *sel;            /* NULL for a plain send/recv */
  void *elem;                       /* send: the value; recv: destination (NULL discards) */
  int idx;                          /* case index, for a select */
  uint32_t gen;                     /* WaitGroup generation, for a wait */
  bool ok;                          /* result, written by the claiming partner */
  bool retry;                       /* buffered: woken to retry, nothing was done */
};

/* A channel's wait queue. len is written under the channel lock and read
 * without it by the lock-free ring's partners (see chan.c). */
struct goro__waitq {
  struct goro__waiter *head, *tail;
  _Atomic size_t len;
};

/* Claim w for completion: true for a plain waiter, or when this caller won
 * w's select. A waiter that loses stays the select's to clean up. */
static inline bool
goro__waiter_claim(struct goro__waiter *w)
{
  if (w->sel == NULL)
    return true;
  int open = GORO__SEL_OPEN;
  return atomic_compare_exchange_strong_explicit(&w->sel->winner, &open, w->idx,
                                                 memory_order_acq_rel, memory_order_acquire);
}

#endif
