/* goro.h - Go's goroutines, channels, select and WaitGroup for POSIX C. */
#ifndef GORO_H
#define GORO_H

#include <errno.h>
#include <stdbool.h>
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
#else
#define GORO_EXTERN
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
GORO_EXTERN int goro_go(goro_fn *fn, void *arg);

/* goro_go, with a name shown in dumps (copied; truncated to 63 bytes). */
GORO_EXTERN int goro_go_named(const char *name, goro_fn *fn, void *arg);

/* Id (>= 1) of the calling goroutine; 0 in a thread not started by goro. */
GORO_EXTERN uint64_t goro_self(void);

/* Goroutines started and not yet returned. Go: runtime.NumGoroutine(). */
GORO_EXTERN size_t goro_num_goroutine(void);

/* ---- Channels ---------------------------------------------------------- */

typedef struct goro_chan goro_chan;

/* A channel of elemsize-byte values with capacity cap, holding one
 * reference. Go: make(chan T, cap). NULL with errno EINVAL when
 * elemsize * cap overflows, ENOMEM when memory runs out. */
GORO_EXTERN goro_chan *goro_chan_make(size_t elemsize, size_t cap);

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
  bool ok;         /* out. RECV: true = value received, false = closed and drained.
                      SEND: true = sent, false = the channel was closed */
} goro_case;

/* A send case of c sending *p, a receive case of c into p (NULL
 * discards): goro_case values for an array literal. */
#ifdef __cplusplus /* no compound literals: list-initialization (C++11) */
#define GORO_SEND_CASE(c, p) (goro_case{(c), GORO_SEND, (void *)(p), false})
#define GORO_RECV_CASE(c, p) (goro_case{(c), GORO_RECV, (p), false})
#else
#define GORO_SEND_CASE(c, p) ((goro_case){.chan = (c), .op = GORO_SEND, .elem = (void *)(p)})
#define GORO_RECV_CASE(c, p) ((goro_case){.chan = (c), .op = GORO_RECV, .elem = (p)})
#endif
#define GORO_FOREVER ((int64_t)-1)

/* Wait until one case can proceed, perform it and return its index; a
 * random one among several ready. Go: select.
 * timeout_ns: GORO_FOREVER, 0 (Go's default: GORO_EAGAIN when none is
 * ready) or > 0 (GORO_ETIMEDOUT). GORO_EINVAL for bad arguments. */
GORO_EXTERN int goro_select(goro_case *cases, size_t n, int64_t timeout_ns);

/* ---- WaitGroup --------------------------------------------------------- */

typedef struct goro_wg goro_wg;

/* A WaitGroup with counter 0. Go: var wg sync.WaitGroup.
 * NULL with errno ENOMEM on failure. */
GORO_EXTERN goro_wg *goro_wg_make(void);

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
GORO_EXTERN int goro_wg_go(goro_wg *wg, goro_fn *fn, void *arg);

/* Start a goroutine that waits for wg and then closes c, holding a
 * reference to c until then. Go: go func() { wg.Wait(); close(c) }().
 * Returns 0 or the error of goro_go. */
GORO_EXTERN int goro_closer(goro_wg *wg, goro_chan *c);

/* ---- Time -------------------------------------------------------------- */

#define GORO_NANOSECOND  ((int64_t)1)
#define GORO_MICROSECOND ((int64_t)1000)
#define GORO_MILLISECOND ((int64_t)1000000)
#define GORO_SECOND      ((int64_t)1000000000)

/* The monotonic clock, in nanoseconds. Go: time.Now() (monotonic part). */
GORO_EXTERN int64_t goro_now(void);

/* Sleep ns nanoseconds (nothing for ns <= 0). Go: time.Sleep(d). */
GORO_EXTERN void goro_sleep(int64_t ns);

/* A cap-1 channel of int64_t that receives goro_now() once, ns from now.
 * Go: time.After(d). The caller releases it; releasing it before it fires
 * cancels the timer. NULL with errno on failure. */
GORO_EXTERN goro_chan *goro_after(int64_t ns);

typedef struct goro_ticker goro_ticker;

/* A ticker sending goro_now() every period_ns. Go: time.NewTicker(d).
 * NULL with errno EINVAL (period_ns <= 0) or ENOMEM. */
GORO_EXTERN goro_ticker *goro_ticker_make(int64_t period_ns);

/* The ticker's cap-1 channel of int64_t; a tick is dropped when the reader
 * is slow. Go: t.C. */
GORO_EXTERN goro_chan *goro_ticker_chan(goro_ticker *t);

/* Stop and free t; its channel is released (a reference the caller
 * retained stays valid, and no tick arrives after this returns).
 * Go: t.Stop(). NULL is a no-op. */
GORO_EXTERN void goro_ticker_stop(goro_ticker *t);

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
