/* ring.h - the bounded lock-free ring of stamped slots (Vyukov's MPMC
 * queue), with a close mark: a buffered channel's values (chan.c) and the
 * pool's hand-off of goroutines to awake workers (go.c).
 *
 * struct goro__ring is a header; its cap slots follow it in memory (the
 * owner allocates goro__ring_bytes(elemsize, cap) for the two together,
 * or embeds the header as the last member of a static struct whose next
 * member is the slot array). Every operation is lock-free; none blocks.
 *
 * Positions count up forever (wrapping at SIZE_MAX): the slot index in
 * the low bits, below mark_bit (a power of two above every index), the
 * lap above it (one_lap = 2 * mark_bit). The mark_bit of tail is the
 * close mark: once set, no push succeeds. Slot i's stamp tells its state
 * for the position p = lap | i that a producer or consumer holds:
 *   stamp == p            free: the producer at p may claim it;
 *   stamp == p + 1        holds the value pushed at p: the consumer at p
 *                         may take it;
 *   stamp == p + one_lap  taken: free for the producer of the next lap.
 * A producer claims tail with a CAS, writes the value, then publishes it
 * by storing the stamp (release); a consumer claims head with a CAS,
 * copies the value out, then frees the slot the same way. The stamp's
 * release/acquire pair orders each value's bytes. A slot claimed and not
 * yet published (freed) by the other side is GORO__RING_BUSY: the caller
 * decides whether to wait for that thread (goro__ring_push/pop) or not
 * (the _nowait forms).
 *
 * A ring of zero-size elements needs no slots (stride 0): tail counts
 * pushes and head pops, modulo mark_bit, and the count held is
 * (tail - head) mod mark_bit <= cap. A push claims room by a CAS on tail
 * after reading head, a pop claims a value by a CAS on head after reading
 * tail; each end only grows, so a stale read of the other end can only
 * make the ring look fuller (push) or emptier (pop) than it is, and that
 * verdict is then taken from a seq_cst load. There is nothing to publish:
 * the CAS (seq_cst, so release) and the other side's acquiring load order
 * what the program did before a push with the pop that takes it (and
 * before a pop with the push it made room for), the counting semaphore of
 * gopl section 8.6 included.
 *
 * Memory order, for the owners' lost-wake-up checks (chan.c's Dekker
 * argument): every change of head or tail is a seq_cst RMW, and every
 * verdict "full" or "empty" (and goro__ring_ready's) rests on a seq_cst
 * load of the other end. A push or pop that sees the close mark has
 * loaded tail with acquire at least, so it happens after the close.
 *
 * Valgrind's race detectors see locks, not atomics. In a GORO_VALGRIND
 * build every operation runs under the ring's vg_mu, a leaf lock, so the
 * tools check what is built around the ring (the values handed over);
 * the lock-free protocol itself is checked by ThreadSanitizer.
 */
#ifndef GORO_RING_H
#define GORO_RING_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

enum goro__ring_rc {
  GORO__RING_OK,
  GORO__RING_FULL,   /* push: no free slot */
  GORO__RING_EMPTY,  /* pop: no value, and not closed */
  GORO__RING_CLOSED, /* push: closed; pop: closed and drained */
  GORO__RING_BUSY,   /* _nowait only: the other side holds the slot */
};

enum { GORO__RING_PAD = 64 };

struct goro__ring {
  /* Immutable after goro__ring_init. The header's alignment (that of
   * max_align_t, which malloc gives) makes its size, and so the slots'
   * offset, a multiple of it: a 16-byte slot then never straddles two
   * cache lines (one that did made every operation on it touch two). */
  _Alignas(max_align_t) size_t cap; /* slots, >= 1 */
  size_t elemsize;                  /* bytes copied per value */
  size_t stride;                    /* bytes per slot, stamp included; 0: no slots */
  size_t mark_bit;                  /* in tail: closed; a power of two above every index */
  size_t one_lap;                   /* 2 * mark_bit: a position's lap unit */
#ifdef GORO_VALGRIND
  pthread_mutex_t vg_mu; /* see the top of the file */
#endif
  /* The two ends, a cache line apart from each other, from the fields
   * above and from the slots. Padding, not alignas: a malloc'ed channel is
   * aligned for max_align_t only. */
  char pad0[GORO__RING_PAD];
  _Atomic size_t head; /* the next value to pop */
  char pad1[GORO__RING_PAD];
  _Atomic size_t tail; /* the next slot to fill; may carry mark_bit */
  char pad2[GORO__RING_PAD];
  /* The slots follow, at sizeof(struct goro__ring). */
};

/* A slot: its stamp, then elemsize bytes rounded up to the stamp's size. */
struct goro__ring_slot {
  _Atomic size_t stamp;
  unsigned char data[];
};

/* Bytes per slot for elemsize: 0 for zero-size elements. */
static inline size_t
goro__ring_stride(size_t elemsize)
{
  if (elemsize == 0)
    return 0;
  return sizeof(size_t) + (elemsize + sizeof(size_t) - 1) / sizeof(size_t) * sizeof(size_t);
}

static inline struct goro__ring_slot *
goro__ring_slot(struct goro__ring *r, size_t index)
{
  return (struct goro__ring_slot *)((unsigned char *)(r + 1) + index * r->stride);
}

/* Set r (its slots following it) to empty and open. cap < SIZE_MAX / 4
 * keeps mark_bit and a lap representable. Not concurrent with any other
 * operation on r. */
static inline void
goro__ring_reset(struct goro__ring *r)
{
  atomic_store_explicit(&r->head, 0, memory_order_relaxed);
  atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
  for (size_t i = 0; r->stride != 0 && i < r->cap; i++)
    atomic_store_explicit(&goro__ring_slot(r, i)->stamp, i, memory_order_relaxed);
}

static inline void
goro__ring_init(struct goro__ring *r, size_t elemsize, size_t cap)
{
  GORO__ASSERT(cap >= 1 && cap < SIZE_MAX / 4);
  r->cap = cap;
  r->elemsize = elemsize;
  r->stride = goro__ring_stride(elemsize);
  if (r->stride == 0) {
    r->mark_bit = (SIZE_MAX >> 1) + 1; /* counters run modulo mark_bit */
  } else {
    r->mark_bit = 1;
    while (r->mark_bit <= cap)
      r->mark_bit <<= 1;
  }
  r->one_lap = r->mark_bit * 2;
#ifdef GORO_VALGRIND
  goro__mu_init(&r->vg_mu);
#endif
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  goro__ring_reset(r);
}

/* Destroy r's valgrind lock, if any. */
static inline void
goro__ring_destroy(struct goro__ring *r)
{
#ifdef GORO_VALGRIND
  pthread_mutex_destroy(&r->vg_mu);
#else
  (void)r;
#endif
}

/* Back off while another thread is between two steps of a ring operation
 * (it claimed a slot and has not published it yet): relax, then yield, as
 * that thread may have lost its CPU. */
static inline void
goro__ring_backoff(unsigned *step)
{
  if (*step < 6) {
    for (unsigned i = 0; i < 1u << *step; i++)
      goro__cpu_relax();
    (*step)++;
  } else {
    sched_yield();
  }
}

/* The position after pos (pos without mark_bit). */
static inline size_t
goro__ring_next(const struct goro__ring *r, size_t pos)
{
  size_t index = pos & (r->mark_bit - 1);
  size_t lap = pos & ~(r->one_lap - 1);
  return index + 1 < r->cap ? pos + 1 : lap + r->one_lap;
}

/* ---- the operations, unlocked (the valgrind wrappers follow) ------------ */

static inline int
goro__ring_count_push_(struct goro__ring *r)
{
  size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  for (;;) {
    if (tail & r->mark_bit)
      return GORO__RING_CLOSED;
    size_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);
    if (((tail - head) & (r->mark_bit - 1)) >= r->cap) {
      /* Full, as of that load; unless tail moved meanwhile (then look again). */
      size_t again = atomic_load_explicit(&r->tail, memory_order_acquire);
      if (again == tail)
        return GORO__RING_FULL;
      tail = again;
      continue;
    }
    if (atomic_compare_exchange_weak_explicit(&r->tail, &tail, (tail + 1) & (r->mark_bit - 1),
                                              memory_order_seq_cst, memory_order_acquire))
      return GORO__RING_OK;
  }
}

static inline int
goro__ring_count_pop_(struct goro__ring *r)
{
  size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  for (;;) {
    size_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
    if ((tail & ~r->mark_bit) == head)
      return tail & r->mark_bit ? GORO__RING_CLOSED : GORO__RING_EMPTY;
    if (atomic_compare_exchange_weak_explicit(&r->head, &head, (head + 1) & (r->mark_bit - 1),
                                              memory_order_seq_cst, memory_order_relaxed))
      return GORO__RING_OK;
  }
}

/* Push *elem (size bytes: r->elemsize, passed as a constant where the
 * caller knows it, so that the copy compiles to moves; elem may be NULL
 * only if size is 0). wait: back off while a consumer holds the slot,
 * instead of BUSY. */
static inline int
goro__ring_push_(struct goro__ring *r, const void *elem, size_t size, bool wait)
{
  if (r->stride == 0)
    return goro__ring_count_push_(r);
  unsigned step = 0;
  /* Acquire: a push that sees the close mark returns after the close, in
   * every sense. */
  size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  for (;;) {
    if (tail & r->mark_bit)
      return GORO__RING_CLOSED;
    struct goro__ring_slot *sl = goro__ring_slot(r, tail & (r->mark_bit - 1));
    size_t stamp = atomic_load_explicit(&sl->stamp, memory_order_acquire);
    if (stamp == tail) {
      if (atomic_compare_exchange_weak_explicit(&r->tail, &tail, goro__ring_next(r, tail),
                                                memory_order_seq_cst, memory_order_acquire)) {
        if (elem != NULL)
          memcpy(sl->data, elem, size);
        atomic_store_explicit(&sl->stamp, tail + 1, memory_order_release);
        return GORO__RING_OK;
      }
      continue; /* the CAS reloaded tail */
    }
    if (stamp + r->one_lap == tail + 1) {
      /* The slot still holds last lap's value: full, unless a consumer
       * has claimed it and not freed it yet. seq_cst: this load decides
       * "full" (see the top of the file). */
      size_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);
      if (head + r->one_lap == tail)
        return GORO__RING_FULL;
      if (!wait)
        return GORO__RING_BUSY;
    }
    goro__ring_backoff(&step); /* busy, or tail was stale */
    tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  }
}

/* Pop into elem (NULL discards; size as for push). wait: back off while
 * a producer holds the slot, instead of BUSY. */
static inline int
goro__ring_pop_(struct goro__ring *r, void *elem, size_t size, bool wait)
{
  if (r->stride == 0)
    return goro__ring_count_pop_(r);
  unsigned step = 0;
  size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  for (;;) {
    struct goro__ring_slot *sl = goro__ring_slot(r, head & (r->mark_bit - 1));
    size_t stamp = atomic_load_explicit(&sl->stamp, memory_order_acquire);
    if (stamp == head + 1) {
      if (atomic_compare_exchange_weak_explicit(&r->head, &head, goro__ring_next(r, head),
                                                memory_order_seq_cst, memory_order_relaxed)) {
        if (elem != NULL)
          memcpy(elem, sl->data, size);
        atomic_store_explicit(&sl->stamp, head + r->one_lap, memory_order_release);
        return GORO__RING_OK;
      }
      continue; /* the CAS reloaded head */
    }
    if (stamp == head) {
      /* Nothing published here: empty, unless a producer has claimed the
       * slot and not published it yet. seq_cst: this load decides "empty"
       * (see the top of the file), and its acquire makes a pop that sees
       * the close mark happen after the close. */
      size_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
      if ((tail & ~r->mark_bit) == head)
        return tail & r->mark_bit ? GORO__RING_CLOSED : GORO__RING_EMPTY;
      if (!wait)
        return GORO__RING_BUSY;
    }
    goro__ring_backoff(&step); /* busy, or head was stale */
    head = atomic_load_explicit(&r->head, memory_order_relaxed);
  }
}

/* Would a push (push set) or a pop not find r full (empty), or r closed?
 * A snapshot, from seq_cst loads (see the top of the file). */
static inline bool
goro__ring_ready_(struct goro__ring *r, bool push)
{
  size_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
  size_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);
  if (tail & r->mark_bit)
    return true; /* closed: a push fails, a pop drains or reports it */
  if (r->stride == 0)
    return push ? ((tail - head) & (r->mark_bit - 1)) < r->cap : head != tail;
  return push ? head + r->one_lap != tail : head != tail;
}

/* The number of values held: a snapshot of one instant (tail read twice
 * around head). */
static inline size_t
goro__ring_len_(struct goro__ring *r)
{
  for (;;) {
    size_t tail = atomic_load_explicit(&r->tail, memory_order_seq_cst);
    size_t head = atomic_load_explicit(&r->head, memory_order_seq_cst);
    if (atomic_load_explicit(&r->tail, memory_order_seq_cst) != tail)
      continue;
    tail &= ~r->mark_bit;
    if (r->stride == 0)
      return (tail - head) & (r->mark_bit - 1);
    size_t hix = head & (r->mark_bit - 1), tix = tail & (r->mark_bit - 1);
    if (hix < tix)
      return tix - hix;
    if (hix > tix)
      return r->cap - hix + tix;
    return tail == head ? 0 : r->cap;
  }
}

/* A number that changes whenever r does: both ends only move forward
 * (closing sets a bit in tail), so their sum does. */
static inline size_t
goro__ring_version_(struct goro__ring *r)
{
  return atomic_load_explicit(&r->head, memory_order_seq_cst) +
         atomic_load_explicit(&r->tail, memory_order_seq_cst);
}

/* Set the close mark; true if it was set already. */
static inline bool
goro__ring_close_(struct goro__ring *r)
{
  return atomic_fetch_or_explicit(&r->tail, r->mark_bit, memory_order_seq_cst) & r->mark_bit;
}

/* Has a push claimed a slot that no pop has claimed yet? A relaxed
 * snapshot. */
static inline bool
goro__ring_pending_(struct goro__ring *r)
{
  return (atomic_load_explicit(&r->tail, memory_order_relaxed) & ~r->mark_bit) !=
         atomic_load_explicit(&r->head, memory_order_relaxed);
}

/* Is a value published at head (a pop would likely succeed)? A relaxed
 * snapshot for pollers that only decide whether to look closer: it reads
 * head and that one slot's stamp, not tail, so polling leaves the
 * producers' end alone. */
static inline bool
goro__ring_peek_(struct goro__ring *r)
{
  size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (r->stride == 0)
    return (atomic_load_explicit(&r->tail, memory_order_relaxed) & ~r->mark_bit) != head;
  struct goro__ring_slot *sl = goro__ring_slot(r, head & (r->mark_bit - 1));
  return atomic_load_explicit(&sl->stamp, memory_order_relaxed) == head + 1;
}

/* ---- the operations --------------------------------------------------- */

#ifdef GORO_VALGRIND
#define GORO__RING_CALL(type, r, call)                                                             \
  do {                                                                                             \
    goro__mu_lock(&(r)->vg_mu);                                                                    \
    type rv_ = call;                                                                               \
    goro__mu_unlock(&(r)->vg_mu);                                                                  \
    return rv_;                                                                                    \
  } while (0)
#else
#define GORO__RING_CALL(type, r, call) return call
#endif

static inline int
goro__ring_push(struct goro__ring *r, const void *elem)
{
  GORO__RING_CALL(int, r, goro__ring_push_(r, elem, r->elemsize, true));
}

static inline int
goro__ring_pop(struct goro__ring *r, void *elem)
{
  GORO__RING_CALL(int, r, goro__ring_pop_(r, elem, r->elemsize, true));
}

/* The _nowait forms take the element's size, which must be r->elemsize:
 * their one user (go.c) passes a constant. */
static inline int
goro__ring_push_nowait(struct goro__ring *r, const void *elem, size_t size)
{
  GORO__ASSERT(size == r->elemsize);
  GORO__RING_CALL(int, r, goro__ring_push_(r, elem, size, false));
}

static inline int
goro__ring_pop_nowait(struct goro__ring *r, void *elem, size_t size)
{
  GORO__ASSERT(size == r->elemsize);
  GORO__RING_CALL(int, r, goro__ring_pop_(r, elem, size, false));
}

static inline bool
goro__ring_ready(struct goro__ring *r, bool push)
{
  GORO__RING_CALL(bool, r, goro__ring_ready_(r, push));
}

static inline size_t
goro__ring_len(struct goro__ring *r)
{
  GORO__RING_CALL(size_t, r, goro__ring_len_(r));
}

static inline size_t
goro__ring_version(struct goro__ring *r)
{
  GORO__RING_CALL(size_t, r, goro__ring_version_(r));
}

static inline bool
goro__ring_close(struct goro__ring *r)
{
  GORO__RING_CALL(bool, r, goro__ring_close_(r));
}

static inline bool
goro__ring_pending(struct goro__ring *r)
{
  GORO__RING_CALL(bool, r, goro__ring_pending_(r));
}

static inline bool
goro__ring_peek(struct goro__ring *r)
{
  GORO__RING_CALL(bool, r, goro__ring_peek_(r));
}

/* valgrind: take and drop vg_mu, an edge from whoever initialised or last
 * used r (no-op in other builds). */
static inline void
goro__ring_vg_sync(struct goro__ring *r)
{
#ifdef GORO_VALGRIND
  goro__mu_lock(&r->vg_mu);
  goro__mu_unlock(&r->vg_mu);
#else
  (void)r;
#endif
}

/* fork: a GORO_VALGRIND build holds vg_mu across fork (a leaf lock), so
 * the child's copy is not held by a thread it lost. */
static inline void
goro__ring_atfork_prepare(struct goro__ring *r)
{
#ifdef GORO_VALGRIND
  goro__mu_lock(&r->vg_mu);
#else
  (void)r;
#endif
}

static inline void
goro__ring_atfork_release(struct goro__ring *r)
{
#ifdef GORO_VALGRIND
  goro__mu_unlock(&r->vg_mu);
#else
  (void)r;
#endif
}

#endif
