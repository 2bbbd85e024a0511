/* goro.h - Go's goroutines, channels, select and WaitGroup for POSIX C.
 * C99 or later, C++11 or later. It includes only standard headers and
 * defines only goro_ and GORO_ names: a legacy `typedef int bool;' after
 * it still compiles (it uses _Bool, not <stdbool.h>). */
#ifndef GORO_H
#define GORO_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <goro/version.h>

#include <signal.h> /* sigset_t, for goro_signal_notify */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define GORO_EXTERN __attribute__((visibility("default")))
/* On calls whose ignored result is almost always a bug: a goroutine that
 * was never started, a constructor's NULL. (GCC warns even through a
 * (void) cast: check the result.) */
#define GORO_NODISCARD __attribute__((warn_unused_result))
#else
#define GORO_EXTERN
#define GORO_NODISCARD
#endif

/* The boolean type of the structs below: bool in C++, _Bool in C. */
#ifdef __cplusplus
#define GORO_BOOL bool
#else
#define GORO_BOOL _Bool
#endif

/* ---- Errors ------------------------------------------------------------ */

/* Fallible calls return >= 0 on success or one of these (-errno) codes. */
#define GORO_EPIPE     (-EPIPE)     /* the channel is closed */
#define GORO_EINVAL    (-EINVAL)    /* bad argument */
#define GORO_ENOMEM    (-ENOMEM)    /* out of memory */
#define GORO_EAGAIN    (-EAGAIN)    /* would block; or no thread could be started */
#define GORO_ETIMEDOUT (-ETIMEDOUT) /* the timeout passed */
#define GORO_ERANGE    (-ERANGE)    /* a WaitGroup counter would go negative */

/* A message for err: any code above, or any other negative errno.
 * Go: err.Error(). Never NULL; the string is static. */
GORO_EXTERN const char *goro_strerror(int err);

/* ---- Goroutines -------------------------------------------------------- */

typedef void goro_fn(void *arg);

/* Run fn(arg) in a goroutine: a pooled thread. Go: go fn(arg).
 * Never waits for a worker. Returns 0, GORO_EAGAIN (no thread could be
 * started) or GORO_ENOMEM; nothing is started on failure. */
GORO_EXTERN GORO_NODISCARD int goro_go(goro_fn *fn, void *arg);

/* goro_go, with a name shown in dumps (copied; truncated to 63 bytes). */
GORO_EXTERN GORO_NODISCARD int goro_go_named(const char *name, goro_fn *fn, void *arg);

/* Id (>= 1) of the calling goroutine; 0 in a thread not started by goro. */
GORO_EXTERN uint64_t goro_self(void);

/* Goroutines started and not yet returned. Go: runtime.NumGoroutine(). */
GORO_EXTERN size_t goro_num_goroutine(void);

/* ---- Channels ---------------------------------------------------------- */

typedef struct goro_chan goro_chan;

/* The bounds of goro_chan_make (Go's: an element under 64 KiB, a buffer
 * under a fixed maximum allocation). */
#define GORO_CHAN_MAX_ELEMSIZE 65535u
#define GORO_CHAN_MAX_ALLOC    (sizeof(size_t) >= 8 ? 1ull << 40 : 1ull << 30)

/* A channel of elemsize-byte values with capacity cap, holding one
 * reference. Go: make(chan T, cap). NULL with errno EINVAL when elemsize
 * is 65536 or more or elemsize * cap overflows, ENOMEM when the buffer
 * would exceed GORO_CHAN_MAX_ALLOC bytes or memory runs out. A buffered
 * channel of elemsize 0 costs no memory per slot. */
GORO_EXTERN GORO_NODISCARD goro_chan *goro_chan_make(size_t elemsize, size_t cap);

/* One more reference to c; returns c. */
GORO_EXTERN goro_chan *goro_chan_retain(goro_chan *c);

/* Drop one reference; c is freed at zero. NULL is a no-op. */
GORO_EXTERN void goro_chan_release(goro_chan *c);

/* Send *elem on c. Go: c <- v.
 * Returns 0 once delivered, GORO_EPIPE if c is or gets closed (the value is
 * then not delivered), GORO_EINVAL for a NULL c, or a NULL elem when the
 * element size is not 0. */
GORO_EXTERN int goro_chan_send(goro_chan *c, const void *elem);

/* Receive from c into elem (NULL discards). Go: v, ok := <-c.
 * Returns 1 with a value, 0 once c is closed and drained (elem is then
 * zero-filled), or GORO_EINVAL. */
GORO_EXTERN int goro_chan_recv(goro_chan *c, void *elem);

/* Send without blocking. Go: select { case c <- v: default: }.
 * Returns 0, GORO_EAGAIN (would block), GORO_EPIPE or GORO_EINVAL. */
GORO_EXTERN int goro_chan_trysend(goro_chan *c, const void *elem);

/* Receive without blocking. Go: select { case v, ok = <-c: default: }.
 * Returns 1, 0 (closed and drained), GORO_EAGAIN or GORO_EINVAL. */
GORO_EXTERN int goro_chan_tryrecv(goro_chan *c, void *elem);

/* Close c: buffered values stay receivable, blocked receivers wake with 0
 * once drained, blocked senders with GORO_EPIPE. Go: close(c).
 * Returns 0, GORO_EPIPE if already closed, GORO_EINVAL if NULL. */
GORO_EXTERN int goro_chan_close(goro_chan *c);

/* Values buffered in c. Go: len(c). 0 for NULL. */
GORO_EXTERN size_t goro_chan_len(goro_chan *c);

/* Capacity of c. Go: cap(c). 0 for NULL. */
GORO_EXTERN size_t goro_chan_cap(goro_chan *c);

/* Name c in dumps (copied; truncated to 31 bytes; NULL clears). */
GORO_EXTERN void goro_chan_set_name(goro_chan *c, const char *name);

/* ---- Select ------------------------------------------------------------ */

enum { GORO_SEND = 1, GORO_RECV = 2 };

typedef struct goro_case {
  goro_chan *chan; /* NULL: this case is never ready (a nil channel) */
  int op;          /* GORO_SEND or GORO_RECV */
  void *elem;      /* SEND: the value to send; RECV: where to store it (NULL discards) */
  GORO_BOOL ok;    /* out. RECV: true = value received, false = closed and drained.
                      SEND: true = sent, false = the channel was closed */
} goro_case;

/* A send case of c sending *p, a receive case of c into p (NULL
 * discards): goro_case values for an array literal. */
#ifdef __cplusplus /* no compound literals: list-initialization (C++11) */
#define GORO_SEND_CASE(c, p)                                                                       \
  (goro_case{(c), GORO_SEND, const_cast<void *>(static_cast<const void *>(p)), false})
#define GORO_RECV_CASE(c, p) (goro_case{(c), GORO_RECV, (p), false})
#else /* a send case's value is only read: its const goes through uintptr_t */
#define GORO_SEND_CASE(c, p)                                                                       \
  ((goro_case){.chan = (c), .op = GORO_SEND, .elem = (void *)(uintptr_t)(const void *)(p)})
#define GORO_RECV_CASE(c, p) ((goro_case){.chan = (c), .op = GORO_RECV, .elem = (p)})
#endif

/* No time limit, for goro_select (and every other timeout). */
#define GORO_FOREVER INT64_MAX

/* Wait until one case can proceed, perform it and return its index; a
 * random one among several ready. Go: select.
 * timeout_ns: GORO_FOREVER; 0 (Go's default: GORO_EAGAIN when none is
 * ready); > 0 (GORO_ETIMEDOUT once it passes); < 0, a time already
 * passed (a ready case is still taken, else GORO_ETIMEDOUT at once).
 * GORO_EINVAL for bad arguments. */
GORO_EXTERN int goro_select(goro_case *cases, size_t n, int64_t timeout_ns);

/* ---- Directional channels ---------------------------------------------- */

/* Go's chan<- T and <-chan T (section 8.4.3). A view is the channel's own
 * pointer under a distinct incomplete type: no allocation, no reference of
 * its own (its retain and release share the channel's count). There is no
 * conversion back to goro_chan * or between the two directions, so
 * receiving from a goro_sendchan, sending on or closing a goro_recvchan,
 * or passing a view where another pointer is expected is an incompatible
 * pointer type: an error in C++, and in C with -Werror (or by default
 * since GCC 14), as in Go. */
typedef struct goro_sendchan goro_sendchan; /* chan<- T: send and close only */
typedef struct goro_recvchan goro_recvchan; /* <-chan T: receive only */

/* A send-only view of c (NULL for NULL). Go: var out chan<- T = c. */
GORO_EXTERN goro_sendchan *goro_chan_sendonly(goro_chan *c);

/* A receive-only view of c (NULL for NULL). Go: var in <-chan T = c. */
GORO_EXTERN goro_recvchan *goro_chan_recvonly(goro_chan *c);

/* goro_chan_send, goro_chan_trysend and goro_chan_close on the viewed
 * channel. Go: out <- v; select { case out <- v: default: }; close(out). */
GORO_EXTERN int goro_send(goro_sendchan *s, const void *elem);
GORO_EXTERN int goro_trysend(goro_sendchan *s, const void *elem);
GORO_EXTERN int goro_close(goro_sendchan *s);

/* goro_chan_recv and goro_chan_tryrecv on the viewed channel.
 * Go: v, ok := <-in; select { case v, ok = <-in: default: }. */
GORO_EXTERN int goro_recv(goro_recvchan *r, void *elem);
GORO_EXTERN int goro_tryrecv(goro_recvchan *r, void *elem);

/* len and cap of the viewed channel; 0 for NULL. Go: len(out), cap(in). */
GORO_EXTERN size_t goro_sendchan_len(goro_sendchan *s);
GORO_EXTERN size_t goro_sendchan_cap(goro_sendchan *s);
GORO_EXTERN size_t goro_recvchan_len(goro_recvchan *r);
GORO_EXTERN size_t goro_recvchan_cap(goro_recvchan *r);

/* One more reference to the viewed channel; returns the view. */
GORO_EXTERN goro_sendchan *goro_sendchan_retain(goro_sendchan *s);
GORO_EXTERN goro_recvchan *goro_recvchan_retain(goro_recvchan *r);

/* Drop one reference to the viewed channel, as goro_chan_release. */
GORO_EXTERN void goro_sendchan_release(goro_sendchan *s);
GORO_EXTERN void goro_recvchan_release(goro_recvchan *r);

/* Internal (goro__, not API): the case builders behind the macros below.
 * A view's pointer is its channel's, so the way back is a cast that only
 * these helpers make, after the parameter type has checked the view's
 * direction. A send case only reads *elem; its const is dropped through
 * an integer (C) or const_cast (C++), which -Wcast-qual leaves alone. */
#ifdef __cplusplus
#define GORO__CAST(type, p) reinterpret_cast<type>(p)
#define GORO__UNCONST(p)    const_cast<void *>(static_cast<const void *>(p))
#else
#define GORO__CAST(type, p) ((type)(void *)(p))
#define GORO__UNCONST(p)    ((void *)(uintptr_t)(p))
#endif
/* A function that a macro defines and the program may not call. */
#if defined(__GNUC__) || defined(__clang__)
#define GORO__UNUSED __attribute__((unused))
#else
#define GORO__UNUSED
#endif
#define GORO__TYPED static inline GORO__UNUSED

static inline goro_chan *
goro__sendchan_chan(goro_sendchan *s)
{
  return GORO__CAST(goro_chan *, s);
}

static inline goro_chan *
goro__recvchan_chan(goro_recvchan *r)
{
  return GORO__CAST(goro_chan *, r);
}

static inline goro_case
goro__case(goro_chan *c, int op, void *elem)
{
  goro_case k;
  k.chan = c;
  k.op = op;
  k.elem = elem;
  k.ok = 0;
  return k;
}

static inline goro_case
goro__sendto_case(goro_sendchan *s, const void *elem)
{
  return goro__case(goro__sendchan_chan(s), GORO_SEND, GORO__UNCONST(elem));
}

static inline goro_case
goro__recvfrom_case(goro_recvchan *r, void *elem)
{
  return goro__case(goro__recvchan_chan(r), GORO_RECV, elem);
}

/* A send case of view s sending *p, a receive case of view r into p (NULL
 * discards): as GORO_SEND_CASE and GORO_RECV_CASE. Go: case out <- v:,
 * case v, ok := <-in:. */
#define GORO_SENDTO_CASE(s, p)   goro__sendto_case((s), (p))
#define GORO_RECVFROM_CASE(r, p) goro__recvfrom_case((r), (p))

/* ---- Checked element sizes --------------------------------------------- */

/* The element size of c (goro_chan_make's elemsize), or of the viewed
 * channel; 0 for NULL. Go: unsafe.Sizeof of the element type. */
GORO_EXTERN size_t goro_chan_elemsize(goro_chan *c);
GORO_EXTERN size_t goro_sendchan_elemsize(goro_sendchan *s);
GORO_EXTERN size_t goro_recvchan_elemsize(goro_recvchan *r);

/* The operations above with the caller's element size: GORO_EINVAL,
 * having done nothing, when size is not the channel's element size;
 * otherwise exactly the operation without _sized. */
GORO_EXTERN int goro_chan_send_sized(goro_chan *c, const void *elem, size_t size);
GORO_EXTERN int goro_chan_recv_sized(goro_chan *c, void *elem, size_t size);
GORO_EXTERN int goro_chan_trysend_sized(goro_chan *c, const void *elem, size_t size);
GORO_EXTERN int goro_chan_tryrecv_sized(goro_chan *c, void *elem, size_t size);
GORO_EXTERN int goro_send_sized(goro_sendchan *s, const void *elem, size_t size);
GORO_EXTERN int goro_trysend_sized(goro_sendchan *s, const void *elem, size_t size);
GORO_EXTERN int goro_recv_sized(goro_recvchan *r, void *elem, size_t size);
GORO_EXTERN int goro_tryrecv_sized(goro_recvchan *r, void *elem, size_t size);

/* The _VAR forms take the variable itself (an lvalue: a variable, an array
 * element, a member; not a bit-field or a value) and pass its address and
 * sizeof, so a variable of the wrong size is GORO_EINVAL, not a copy of
 * the wrong number of bytes. x is evaluated once. Go: c <- x; x, ok = <-c. */
#define GORO_CHAN_SEND_VAR(c, x)    goro_chan_send_sized((c), &(x), sizeof(x))
#define GORO_CHAN_RECV_VAR(c, x)    goro_chan_recv_sized((c), &(x), sizeof(x))
#define GORO_CHAN_TRYSEND_VAR(c, x) goro_chan_trysend_sized((c), &(x), sizeof(x))
#define GORO_CHAN_TRYRECV_VAR(c, x) goro_chan_tryrecv_sized((c), &(x), sizeof(x))
#define GORO_SEND_VAR(s, x)         goro_send_sized((s), &(x), sizeof(x))
#define GORO_TRYSEND_VAR(s, x)      goro_trysend_sized((s), &(x), sizeof(x))
#define GORO_RECV_VAR(r, x)         goro_recv_sized((r), &(x), sizeof(x))
#define GORO_TRYRECV_VAR(r, x)      goro_tryrecv_sized((r), &(x), sizeof(x))

/* Internal: a case whose size does not match its channel's (NULL has
 * none to match) gets op 0, which goro_select refuses with GORO_EINVAL
 * before it does anything. goro_case is unchanged. */
static inline goro_case
goro__send_case_sized(goro_chan *c, const void *elem, size_t size)
{
  int op = c == NULL || goro_chan_elemsize(c) == size ? GORO_SEND : 0;
  return goro__case(c, op, GORO__UNCONST(elem));
}

static inline goro_case
goro__recv_case_sized(goro_chan *c, void *elem, size_t size)
{
  int op = c == NULL || goro_chan_elemsize(c) == size ? GORO_RECV : 0;
  return goro__case(c, op, elem);
}

/* Select cases sending the variable x or receiving into it, on a goro_chan
 * or on a view, checked as the _VAR operations: a size mismatch makes
 * goro_select return GORO_EINVAL. */
#define GORO_SEND_CASE_VAR(c, x)     goro__send_case_sized((c), &(x), sizeof(x))
#define GORO_RECV_CASE_VAR(c, x)     goro__recv_case_sized((c), &(x), sizeof(x))
#define GORO_SENDTO_CASE_VAR(s, x)   goro__send_case_sized(goro__sendchan_chan(s), &(x), sizeof(x))
#define GORO_RECVFROM_CASE_VAR(r, x) goro__recv_case_sized(goro__recvchan_chan(r), &(x), sizeof(x))

/* GORO_CHAN_TYPE(name, T), at file scope: typed channels of T, a type name
 * (typedef arrays and function pointers first), checked at compile time
 * over the same library. It declares the incomplete types name (chan T),
 * name##_tx (chan<- T) and name##_rx (<-chan T), and static inline
 * functions:
 *   name *name_make(size_t cap);            NULL + errno, as goro_chan_make
 *   name *name_from(goro_chan *c);          c, or NULL unless its element
 *                                           size is sizeof(T); no reference
 *   goro_chan *name_chan(name *c);          the untyped channel
 *   name_retain, name_release, name_close, name_len, name_cap;
 *   int name_send(name *c, T v), name_trysend(name *c, T v);
 *   int name_recv(name *c, T *v), name_tryrecv(name *c, T *v);
 *   goro_case name_send_case(name *c, const T *p), name_recv_case(name *c, T *p);
 *   name_tx *name_sendonly(name *c);        name_rx *name_recvonly(name *c);
 *   name_tx_send, name_tx_trysend, name_tx_close, name_tx_send_case,
 *   name_tx_len, name_tx_cap, name_tx_retain, name_tx_release, and
 *   goro_sendchan *name_tx_view(name_tx *s);
 *   name_rx_recv, name_rx_tryrecv, name_rx_recv_case, name_rx_len,
 *   name_rx_cap, name_rx_retain, name_rx_release, and
 *   goro_recvchan *name_rx_view(name_rx *r).
 * Go: type name chan T. */
#define GORO_CHAN_TYPE(name, T)                                                                    \
  typedef struct name name;                                                                        \
  typedef struct name##_tx name##_tx;                                                              \
  typedef struct name##_rx name##_rx;                                                              \
  GORO__TYPED name *name##_from(goro_chan *c)                                                      \
  {                                                                                                \
    return goro_chan_elemsize(c) == sizeof(T) ? GORO__CAST(name *, c) : NULL;                      \
  }                                                                                                \
  GORO__TYPED GORO_NODISCARD name *name##_make(size_t cap)                                         \
  {                                                                                                \
    return GORO__CAST(name *, goro_chan_make(sizeof(T), cap));                                     \
  }                                                                                                \
  GORO__TYPED goro_chan *name##_chan(name *c)                                                      \
  {                                                                                                \
    return GORO__CAST(goro_chan *, c);                                                             \
  }                                                                                                \
  GORO__TYPED name *name##_retain(name *c)                                                         \
  {                                                                                                \
    return GORO__CAST(name *, goro_chan_retain(name##_chan(c)));                                   \
  }                                                                                                \
  GORO__TYPED void name##_release(name *c)                                                         \
  {                                                                                                \
    goro_chan_release(name##_chan(c));                                                             \
  }                                                                                                \
  GORO__TYPED int name##_send(name *c, T v)                                                        \
  {                                                                                                \
    return goro_chan_send(name##_chan(c), &v);                                                     \
  }                                                                                                \
  GORO__TYPED int name##_trysend(name *c, T v)                                                     \
  {                                                                                                \
    return goro_chan_trysend(name##_chan(c), &v);                                                  \
  }                                                                                                \
  GORO__TYPED int name##_recv(name *c, T *v)                                                       \
  {                                                                                                \
    return goro_chan_recv(name##_chan(c), v);                                                      \
  }                                                                                                \
  GORO__TYPED int name##_tryrecv(name *c, T *v)                                                    \
  {                                                                                                \
    return goro_chan_tryrecv(name##_chan(c), v);                                                   \
  }                                                                                                \
  GORO__TYPED int name##_close(name *c)                                                            \
  {                                                                                                \
    return goro_chan_close(name##_chan(c));                                                        \
  }                                                                                                \
  GORO__TYPED size_t name##_len(name *c)                                                           \
  {                                                                                                \
    return goro_chan_len(name##_chan(c));                                                          \
  }                                                                                                \
  GORO__TYPED size_t name##_cap(name *c)                                                           \
  {                                                                                                \
    return goro_chan_cap(name##_chan(c));                                                          \
  }                                                                                                \
  GORO__TYPED goro_case name##_send_case(name *c, const T *p)                                      \
  {                                                                                                \
    return goro__case(name##_chan(c), GORO_SEND, GORO__UNCONST(p));                                \
  }                                                                                                \
  GORO__TYPED goro_case name##_recv_case(name *c, T *p)                                            \
  {                                                                                                \
    return goro__case(name##_chan(c), GORO_RECV, p);                                               \
  }                                                                                                \
  GORO__TYPED name##_tx *name##_sendonly(name *c)                                                  \
  {                                                                                                \
    return GORO__CAST(name##_tx *, c);                                                             \
  }                                                                                                \
  GORO__TYPED name##_rx *name##_recvonly(name *c)                                                  \
  {                                                                                                \
    return GORO__CAST(name##_rx *, c);                                                             \
  }                                                                                                \
  GORO__TYPED goro_sendchan *name##_tx_view(name##_tx *s)                                          \
  {                                                                                                \
    return GORO__CAST(goro_sendchan *, s);                                                         \
  }                                                                                                \
  GORO__TYPED int name##_tx_send(name##_tx *s, T v)                                                \
  {                                                                                                \
    return goro_send(name##_tx_view(s), &v);                                                       \
  }                                                                                                \
  GORO__TYPED int name##_tx_trysend(name##_tx *s, T v)                                             \
  {                                                                                                \
    return goro_trysend(name##_tx_view(s), &v);                                                    \
  }                                                                                                \
  GORO__TYPED int name##_tx_close(name##_tx *s)                                                    \
  {                                                                                                \
    return goro_close(name##_tx_view(s));                                                          \
  }                                                                                                \
  GORO__TYPED size_t name##_tx_len(name##_tx *s)                                                   \
  {                                                                                                \
    return goro_sendchan_len(name##_tx_view(s));                                                   \
  }                                                                                                \
  GORO__TYPED size_t name##_tx_cap(name##_tx *s)                                                   \
  {                                                                                                \
    return goro_sendchan_cap(name##_tx_view(s));                                                   \
  }                                                                                                \
  GORO__TYPED name##_tx *name##_tx_retain(name##_tx *s)                                            \
  {                                                                                                \
    return GORO__CAST(name##_tx *, goro_sendchan_retain(name##_tx_view(s)));                       \
  }                                                                                                \
  GORO__TYPED void name##_tx_release(name##_tx *s)                                                 \
  {                                                                                                \
    goro_sendchan_release(name##_tx_view(s));                                                      \
  }                                                                                                \
  GORO__TYPED goro_case name##_tx_send_case(name##_tx *s, const T *p)                              \
  {                                                                                                \
    return goro__sendto_case(name##_tx_view(s), p);                                                \
  }                                                                                                \
  GORO__TYPED goro_recvchan *name##_rx_view(name##_rx *r)                                          \
  {                                                                                                \
    return GORO__CAST(goro_recvchan *, r);                                                         \
  }                                                                                                \
  GORO__TYPED int name##_rx_recv(name##_rx *r, T *v)                                               \
  {                                                                                                \
    return goro_recv(name##_rx_view(r), v);                                                        \
  }                                                                                                \
  GORO__TYPED int name##_rx_tryrecv(name##_rx *r, T *v)                                            \
  {                                                                                                \
    return goro_tryrecv(name##_rx_view(r), v);                                                     \
  }                                                                                                \
  GORO__TYPED size_t name##_rx_len(name##_rx *r)                                                   \
  {                                                                                                \
    return goro_recvchan_len(name##_rx_view(r));                                                   \
  }                                                                                                \
  GORO__TYPED size_t name##_rx_cap(name##_rx *r)                                                   \
  {                                                                                                \
    return goro_recvchan_cap(name##_rx_view(r));                                                   \
  }                                                                                                \
  GORO__TYPED name##_rx *name##_rx_retain(name##_rx *r)                                            \
  {                                                                                                \
    return GORO__CAST(name##_rx *, goro_recvchan_retain(name##_rx_view(r)));                       \
  }                                                                                                \
  GORO__TYPED void name##_rx_release(name##_rx *r)                                                 \
  {                                                                                                \
    goro_recvchan_release(name##_rx_view(r));                                                      \
  }                                                                                                \
  GORO__TYPED goro_case name##_rx_recv_case(name##_rx *r, T *p)                                    \
  {                                                                                                \
    return goro__recvfrom_case(name##_rx_view(r), p);                                              \
  }                                                                                                \
  struct name

#ifdef __cplusplus
} /* extern "C": templates have C++ linkage */

#include <memory>
#include <type_traits>

/* goro::chan<T>, goro::sendchan<T>, goro::recvchan<T> (C++11): typed
 * handles over the same library. Each holds one reference (copying
 * retains, destruction releases; a default-constructed one is a nil
 * channel). A chan<T> converts implicitly to either view of the same T,
 * as Go assigns chan T to chan<- T; nothing converts back. T is copied
 * with memcpy, so it must be trivially copyable. Go: chan T, chan<- T,
 * <-chan T. */
namespace goro
{

template <typename T> class chan
{
  static_assert(std::is_trivially_copyable<T>::value, "goro::chan<T> copies T with memcpy");
  goro_chan *c_;

public:
  chan() noexcept : c_(nullptr)
  {
  }
  /* make(chan T, cap); test with operator bool (errno says why not). */
  explicit chan(size_t cap) noexcept : c_(goro_chan_make(sizeof(T), cap))
  {
  }
  chan(const chan &o) noexcept : c_(goro_chan_retain(o.c_))
  {
  }
  chan(chan &&o) noexcept : c_(o.c_)
  {
    o.c_ = nullptr;
  }
  chan &operator=(chan o) noexcept
  {
    goro_chan *t = c_;
    c_ = o.c_;
    o.c_ = t;
    return *this;
  }
  ~chan()
  {
    goro_chan_release(c_);
  }
  explicit operator bool() const noexcept
  {
    return c_ != nullptr;
  }
  /* The untyped handle, without a new reference. */
  goro_chan *get() const noexcept
  {
    return c_;
  }
  int send(const T &v) const noexcept
  {
    return goro_chan_send(c_, std::addressof(v));
  }
  int trysend(const T &v) const noexcept
  {
    return goro_chan_trysend(c_, std::addressof(v));
  }
  int recv(T &v) const noexcept
  {
    return goro_chan_recv(c_, std::addressof(v));
  }
  int tryrecv(T &v) const noexcept
  {
    return goro_chan_tryrecv(c_, std::addressof(v));
  }
  int close() const noexcept
  {
    return goro_chan_close(c_);
  }
  size_t len() const noexcept
  {
    return goro_chan_len(c_);
  }
  size_t cap() const noexcept
  {
    return goro_chan_cap(c_);
  }
  /* Cases for goro_select; v must outlive the select (no temporaries). */
  goro_case send_case(const T &v) const noexcept
  {
    return goro__case(c_, GORO_SEND, GORO__UNCONST(static_cast<const void *>(std::addressof(v))));
  }
  goro_case send_case(const T &&) const = delete;
  goro_case recv_case(T &v) const noexcept
  {
    return goro__case(c_, GORO_RECV, std::addressof(v));
  }
};

template <typename T> class sendchan
{
  goro_sendchan *s_;

public:
  sendchan() noexcept : s_(nullptr)
  {
  }
  sendchan(const chan<T> &c) noexcept : s_(goro_chan_sendonly(goro_chan_retain(c.get())))
  {
  }
  sendchan(const sendchan &o) noexcept : s_(goro_sendchan_retain(o.s_))
  {
  }
  sendchan(sendchan &&o) noexcept : s_(o.s_)
  {
    o.s_ = nullptr;
  }
  sendchan &operator=(sendchan o) noexcept
  {
    goro_sendchan *t = s_;
    s_ = o.s_;
    o.s_ = t;
    return *this;
  }
  ~sendchan()
  {
    goro_sendchan_release(s_);
  }
  explicit operator bool() const noexcept
  {
    return s_ != nullptr;
  }
  /* The untyped handle, without a new reference. */
  goro_sendchan *get() const noexcept
  {
    return s_;
  }
  int send(const T &v) const noexcept
  {
    return goro_send(s_, std::addressof(v));
  }
  int trysend(const T &v) const noexcept
  {
    return goro_trysend(s_, std::addressof(v));
  }
  int close() const noexcept
  {
    return goro_close(s_);
  }
  size_t len() const noexcept
  {
    return goro_sendchan_len(s_);
  }
  size_t cap() const noexcept
  {
    return goro_sendchan_cap(s_);
  }
  goro_case send_case(const T &v) const noexcept
  {
    return goro__sendto_case(s_, std::addressof(v));
  }
  goro_case send_case(const T &&) const = delete;
};

template <typename T> class recvchan
{
  goro_recvchan *r_;

public:
  recvchan() noexcept : r_(nullptr)
  {
  }
  recvchan(const chan<T> &c) noexcept : r_(goro_chan_recvonly(goro_chan_retain(c.get())))
  {
  }
  recvchan(const recvchan &o) noexcept : r_(goro_recvchan_retain(o.r_))
  {
  }
  recvchan(recvchan &&o) noexcept : r_(o.r_)
  {
    o.r_ = nullptr;
  }
  recvchan &operator=(recvchan o) noexcept
  {
    goro_recvchan *t = r_;
    r_ = o.r_;
    o.r_ = t;
    return *this;
  }
  ~recvchan()
  {
    goro_recvchan_release(r_);
  }
  explicit operator bool() const noexcept
  {
    return r_ != nullptr;
  }
  /* The untyped handle, without a new reference. */
  goro_recvchan *get() const noexcept
  {
    return r_;
  }
  int recv(T &v) const noexcept
  {
    return goro_recv(r_, std::addressof(v));
  }
  int tryrecv(T &v) const noexcept
  {
    return goro_tryrecv(r_, std::addressof(v));
  }
  size_t len() const noexcept
  {
    return goro_recvchan_len(r_);
  }
  size_t cap() const noexcept
  {
    return goro_recvchan_cap(r_);
  }
  goro_case recv_case(T &v) const noexcept
  {
    return goro__recvfrom_case(r_, std::addressof(v));
  }
};

} /* namespace goro */

extern "C" {
#endif /* __cplusplus */
/* ---- WaitGroup --------------------------------------------------------- */

typedef struct goro_wg goro_wg;

/* A WaitGroup with counter 0. Go: var wg sync.WaitGroup.
 * NULL with errno ENOMEM on failure. */
GORO_EXTERN GORO_NODISCARD goro_wg *goro_wg_make(void);

/* Free wg. NULL is a no-op. */
GORO_EXTERN void goro_wg_free(goro_wg *wg);

/* Add delta to the counter. Go: wg.Add(delta). GORO_ERANGE (counter left
 * unchanged) if it would go negative or above INT32_MAX (Go's limit);
 * GORO_EINVAL for NULL. */
GORO_EXTERN int goro_wg_add(goro_wg *wg, int64_t delta);

/* goro_wg_add(wg, -1). Go: wg.Done(). */
GORO_EXTERN int goro_wg_done(goro_wg *wg);

/* Wait until the counter is zero. Go: wg.Wait(). */
GORO_EXTERN void goro_wg_wait(goro_wg *wg);

/* Add 1, run fn(arg) in a goroutine, done when it returns. Go: wg.Go(f).
 * Returns 0 or the error of goro_go (the counter is then unchanged). */
GORO_EXTERN GORO_NODISCARD int goro_wg_go(goro_wg *wg, goro_fn *fn, void *arg);

/* Start a goroutine that waits for wg and then closes c, holding a
 * reference to c until then. Go: go func() { wg.Wait(); close(c) }().
 * Returns 0 or the error of goro_go. */
GORO_EXTERN GORO_NODISCARD int goro_closer(goro_wg *wg, goro_chan *c);

/* ---- Time -------------------------------------------------------------- */

#define GORO_NANOSECOND  INT64_C(1) /* no casts: clean under -Wold-style-cast */
#define GORO_MICROSECOND INT64_C(1000)
#define GORO_MILLISECOND INT64_C(1000000)
#define GORO_SECOND      INT64_C(1000000000)

/* The monotonic clock, in nanoseconds. Go: time.Now() (monotonic part). */
GORO_EXTERN int64_t goro_now(void);

/* Sleep ns nanoseconds (returns at once for ns <= 0). Go: time.Sleep(d). */
GORO_EXTERN void goro_sleep(int64_t ns);

/* A cap-1 channel of int64_t that receives goro_now() once, ns from now
 * (at once for ns <= 0; never for GORO_FOREVER). Go: time.After(d). The caller releases it; releasing it before it fires
 * cancels the timer. NULL with errno on failure. */
GORO_EXTERN GORO_NODISCARD goro_chan *goro_after(int64_t ns);

typedef struct goro_ticker goro_ticker;

/* A ticker sending goro_now() every period_ns. Go: time.NewTicker(d).
 * NULL with errno EINVAL (period_ns <= 0) or ENOMEM. */
GORO_EXTERN GORO_NODISCARD goro_ticker *goro_ticker_make(int64_t period_ns);

/* The ticker's cap-1 channel of int64_t; a tick is dropped when the reader
 * is slow. Go: t.C. */
GORO_EXTERN goro_chan *goro_ticker_chan(goro_ticker *t);

/* Stop and free t; its channel is released (a reference the caller
 * retained stays valid, and no tick arrives after this returns).
 * Go: t.Stop(). NULL is a no-op. */
GORO_EXTERN void goro_ticker_stop(goro_ticker *t);

/* ---- Timers (v0.2) ----------------------------------------------------- */

typedef struct goro_timer goro_timer;

/* A timer whose channel (cap 1, int64_t) receives goro_now() once, d from
 * now (at once for d <= 0; never for GORO_FOREVER). Go: time.NewTimer(d).
 * NULL with errno ENOMEM or EAGAIN (no timer thread) on failure. */
GORO_EXTERN GORO_NODISCARD goro_timer *goro_timer_make(int64_t d);

/* The timer's channel, owned by t (do not release it); NULL for a timer
 * made by goro_after_func. Go: t.C. */
GORO_EXTERN goro_chan *goro_timer_chan(goro_timer *t);

/* Stop t. Go 1.23: t.Stop(). True if this call stopped t before its value
 * was received (a fired value still in the channel is discarded); once it
 * returns, no value from before can be received. NULL: false. */
GORO_EXTERN GORO_BOOL goro_timer_stop(goro_timer *t);

/* Stop t as goro_timer_stop does, then re-arm it to fire d from now.
 * Go 1.23: t.Reset(d). Returns what the stop returned. NULL: false. */
GORO_EXTERN GORO_BOOL goro_timer_reset(goro_timer *t, int64_t d);

/* Stop t and free it and its channel. NULL is a no-op. */
GORO_EXTERN void goro_timer_free(goro_timer *t);

/* Run fn(arg) in its own goroutine d from now, unless the returned timer
 * is stopped first. Go: time.AfterFunc(d, f). The timer's channel is
 * NULL; free it with goro_timer_free. NULL with errno on failure. */
GORO_EXTERN GORO_NODISCARD goro_timer *goro_after_func(int64_t d, goro_fn *fn, void *arg);

/* ---- Context and errgroup (v0.2) --------------------------------------- */

#define GORO_ECANCELED (-ECANCELED) /* the context was cancelled */

typedef struct goro_ctx goro_ctx;

/* The root context: never cancelled, no deadline, immortal (retain and
 * release do nothing). Go: context.Background(). */
GORO_EXTERN goro_ctx *goro_ctx_background(void);

/* A child of parent, cancelled by goro_ctx_cancel or when parent is.
 * Go: context.WithCancel(parent). One reference; NULL with errno EINVAL
 * (NULL parent) or ENOMEM. */
GORO_EXTERN GORO_NODISCARD goro_ctx *goro_ctx_with_cancel(goro_ctx *parent);

/* A child that is also cancelled, with GORO_ETIMEDOUT, at deadline (a
 * goro_now() time; never later than parent's). Go: context.WithDeadline.
 * NULL with errno EINVAL, ENOMEM or EAGAIN (no timer thread). */
GORO_EXTERN GORO_NODISCARD goro_ctx *goro_ctx_with_deadline(goro_ctx *parent, int64_t deadline);

/* goro_ctx_with_deadline(parent, goro_now() + timeout_ns) (GORO_FOREVER:
 * no deadline of its own). Go: context.WithTimeout(parent, d). */
GORO_EXTERN GORO_NODISCARD goro_ctx *goro_ctx_with_timeout(goro_ctx *parent, int64_t timeout_ns);

/* Cancel ctx and all its descendants with GORO_ECANCELED (no effect on
 * one already cancelled, on its parent, or on the background). Go: the
 * cancel func. NULL is a no-op. */
GORO_EXTERN void goro_ctx_cancel(goro_ctx *ctx);

/* A channel closed once ctx is cancelled or its deadline passes, owned by
 * ctx (do not release it). Go: ctx.Done(). NULL (never ready in a
 * select) for the background and for NULL. */
GORO_EXTERN goro_chan *goro_ctx_done(goro_ctx *ctx);

/* 0 until goro_ctx_done's channel is closed; then, for good,
 * GORO_ECANCELED or GORO_ETIMEDOUT (the deadline passed). Go: ctx.Err().
 * GORO_EINVAL for NULL. */
GORO_EXTERN int goro_ctx_err(goro_ctx *ctx);

/* The earliest deadline of ctx and its ancestors, or GORO_FOREVER when
 * none has one. Go: ctx.Deadline(). */
GORO_EXTERN int64_t goro_ctx_deadline(goro_ctx *ctx);

/* One more reference to ctx; returns ctx. */
GORO_EXTERN goro_ctx *goro_ctx_retain(goro_ctx *ctx);

/* Drop one reference. The last one cancels ctx if it is live, detaches
 * it from its parent and frees it (Go: defer cancel()). NULL is a no-op. */
GORO_EXTERN void goro_ctx_release(goro_ctx *ctx);

/* A function run by a group: 0, or a negative error. */
typedef int goro_errfn(goro_ctx *ctx, void *arg);

typedef struct goro_group goro_group;

/* A group of goroutines whose context is a child of parent (NULL: the
 * background). Go: errgroup.WithContext(ctx). NULL with errno. */
GORO_EXTERN GORO_NODISCARD goro_group *goro_group_make(goro_ctx *parent);

/* At most n functions running at once (n < 0: no limit). Go:
 * g.SetLimit(n). GORO_EINVAL while functions are running. */
GORO_EXTERN int goro_group_set_limit(goro_group *g, int n);

/* Run fn(goro_group_ctx(g), arg) in a goroutine, first waiting while the
 * limit is reached. Go: g.Go(f). 0, or the error of goro_go. */
GORO_EXTERN GORO_NODISCARD int goro_group_go(goro_group *g, goro_errfn *fn, void *arg);

/* goro_group_go, but GORO_EAGAIN at once when the limit is reached.
 * Go: g.TryGo(f). */
GORO_EXTERN GORO_NODISCARD int goro_group_trygo(goro_group *g, goro_errfn *fn, void *arg);

/* The group's context, owned by g: cancelled at the first error or when
 * goro_group_wait returns. */
GORO_EXTERN goro_ctx *goro_group_ctx(goro_group *g);

/* Wait for every function started; return the first error, or 0; cancel
 * the context. Go: g.Wait(). */
GORO_EXTERN int goro_group_wait(goro_group *g);

/* Free g and its context, after goro_group_wait. NULL is a no-op. */
GORO_EXTERN void goro_group_free(goro_group *g);

/* ---- Registry: leaks, dumps, deadlock ---------------------------------- */

/* Wait up to grace_ns for goroutines to finish, then return how many are
 * still alive (not counting the caller) and write one entry per survivor
 * to out (NULL: nothing is written). Like goleak. */
GORO_EXTERN size_t goro_leakcheck(int64_t grace_ns, FILE *out);

/* Write every live goroutine to out: id, name or function, state, the
 * channel it waits on and for how long. Like Go's SIGQUIT dump. */
GORO_EXTERN void goro_dump(FILE *out);

/* ---- Signals ----------------------------------------------------------- */

/* sigset_t is POSIX: <signal.h> declares it unless the program asks for
 * strict ISO C alone (-std=c11 with no _POSIX_C_SOURCE, _XOPEN_SOURCE or
 * the like); these two are declared whenever it can. */
#if defined(_POSIX_C_SOURCE) || defined(_XOPEN_SOURCE) || defined(_GNU_SOURCE) ||                \
    defined(_DEFAULT_SOURCE) || defined(_BSD_SOURCE) || !defined(__STRICT_ANSI__) ||              \
    defined(__cplusplus)

/* From now on send each signal of set that reaches the process on c, as
 * an int (c's element size must be sizeof(int)), without blocking: a full
 * c misses it. Go: signal.Notify(c, sigs...). c is retained until
 * goro_signal_stop(c). Returns 0, GORO_EINVAL (NULL argument, empty set,
 * SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE or SIGILL in set: nothing
 * changes), GORO_ENOMEM or GORO_EAGAIN. */
GORO_EXTERN int goro_signal_notify(goro_chan *c, const sigset_t *set);

/* No more signals on c; a signal no channel asks for any more gets back
 * the disposition it had before. c's reference is released. Go:
 * signal.Stop(c). Returns 0 (also when c was not registered), or
 * GORO_EINVAL for NULL. */
GORO_EXTERN int goro_signal_stop(goro_chan *c);

/* A child of parent cancelled (GORO_ECANCELED) when a signal of set
 * arrives. Go: signal.NotifyContext(parent, sigs...). Its last release
 * stops the notification (restoring the signals' dispositions, as
 * goro_signal_stop) before it returns. NULL with errno as
 * goro_ctx_with_cancel, or as goro_signal_notify's error (EINVAL...). */
GORO_EXTERN GORO_NODISCARD goro_ctx *goro_signal_ctx(goro_ctx *parent, const sigset_t *set);
#endif

/* ---- Short names ------------------------------------------------------- */

#ifdef GORO_SHORT_NAMES
#define go(fn, arg)          goro_go((fn), (arg))
#define makechan(size, cap)  goro_chan_make((size), (cap))
#define chansend(c, p)       goro_chan_send((c), (p))
#define chanrecv(c, p)       goro_chan_recv((c), (p))
#define chanclose(c)         goro_chan_close(c)
#define chanlen(c)           goro_chan_len(c)
#define chancap(c)           goro_chan_cap(c)
#define chanrelease(c)       goro_chan_release(c)
#define chanselect(cs, n, t) goro_select((cs), (n), (t))
#define wgadd(wg, d)         goro_wg_add((wg), (d))
#define wgdone(wg)           goro_wg_done(wg)
#define wgwait(wg)           goro_wg_wait(wg)
#define after(ns)            goro_after(ns)
#endif

#ifdef __cplusplus
}
#endif

#endif /* GORO_H */
