/* ctx.c - contexts: cancellation trees with deadlines (Go's package
 * context, without values).
 *
 * A context has a done channel (chan struct{}, made with it, closed when
 * it is cancelled), an error (0 while live), an immutable deadline (the
 * earliest of its own and its ancestors'), its parent, and the list of
 * its attached children. The background context is a static object:
 * never cancelled, no done channel, no parent, not counted.
 *
 * Two counts. refs counts the strong references: the callers', plus one
 * held by each child until the child is freed (the child's parent
 * pointer is immutable, and its lock may be taken at any time). The last
 * strong release finalizes: it cancels a live context (GORO_ECANCELED;
 * only a caller who kept the done channel without a reference could see
 * it), detaches it from its parent, stops a goro_signal_ctx's
 * notification, all before it returns. pins counts holds on the memory:
 * one for the strong side (dropped by finalize), plus transient pins, so
 * that a cancel in progress, a firing deadline timer or a signal
 * context's watcher can finish with the context however the strong
 * references come and go. The last unpin frees the memory, then drops
 * the strong reference to the parent (a loop, not a recursion, up a
 * chain). A pin is taken only where the memory is known to be alive: a
 * child in its parent's list, under the parent's lock (a child unlinks
 * itself there before its memory can go); a queued timer's context,
 * under the timer lock (finalize dequeues it there first); a signal
 * context, under its watcher's lock, until finalize marks it gone.
 * refs == 0 implies no child exists (each holds a strong reference), so
 * finalize has no children to cancel.
 *
 * Invariants, under c->mu:
 *   c->err is 0 while live; once set it never changes;
 *   c->done is closed exactly when c->err != 0 (both change in one hold);
 *   c->children holds attached children only, doubly linked through
 *   their next/prev, each with attached set; a cancelled context accepts
 *   no new child (a child of it is cancelled at once instead);
 *   c's deadline timer is queued only while c->err == 0.
 * A child's attached, next and prev are under its parent's mu.
 * err_pub mirrors err, stored after the close (release), so a lock-free
 * read that sees it non-zero knows done is closed; a read that sees 0
 * takes the lock (goro_ctx_err).
 *
 * Cancelling propagates down without holding two context locks: under
 * c->mu, each attached child is pinned, unlinked and pushed on the
 * canceller's work list; after dropping c->mu, each is cancelled in turn
 * the same way (iteratively, so a deep chain cannot overflow the stack),
 * then unpinned. A child finalized meanwhile (its last strong release
 * raced with the cancel) is simply found cancelled, or is cancelled by
 * both, harmlessly: cancel_one is idempotent, and finalize finds it
 * unlinked. A child created while c is being cancelled
 * either is attached before c->err is set (and is pinned and cancelled)
 * or sees c->err under c->mu and is cancelled at creation. So a cancel
 * reaches every descendant, and only descendants. A cancel that finds a
 * node already cancelled by another thread waits until that thread has
 * reached the node's whole subtree (complete), so that when any
 * goro_ctx_cancel returns, the subtree is cancelled (see cancel_tree).
 *
 * Lock order: one context lock at a time (never nested), then the timer
 * lock (arming and stopping a deadline), then a channel's (closing
 * done). The deadline callback runs on the timer thread with no lock
 * held (timer.c), pinned by its hold function. A signal context's lock
 * (sw->mu) is taken alone.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <time.h>

struct goro_ctx {
  _Atomic size_t refs;   /* strong references (top of the file); unused by the background */
  _Atomic size_t pins;   /* holds on the memory (top of the file) */
  _Atomic int err_pub;   /* err, published after done is closed */
  _Atomic bool complete; /* cancelled, and so is every descendant */
  pthread_mutex_t mu;
  /* Under mu. */
  int err;                   /* 0, GORO_ECANCELED or GORO_ETIMEDOUT */
  struct goro_ctx *children; /* attached children */
  /* Under the parent's mu. */
  bool attached;                /* in parent->children */
  struct goro_ctx *next, *prev; /* siblings in parent->children */
  /* Owned by the canceller that unlinked this context (a work list). */
  struct goro_ctx *work_next;
  /* Immutable after creation. */
  struct goro_ctx *parent; /* NULL under the background; holds a reference */
  goro_chan *done;         /* chan struct{}; NULL for the background */
  int64_t deadline;        /* min(own, parent's); INT64_MAX: none */
  bool has_timer;          /* tm is this context's deadline timer */
  struct goro__timer tm;
  struct sigwatch *sw; /* goro_signal_ctx's, or NULL; detached when finalized */
};

static void sigwatch_detach(struct sigwatch *sw);

static goro_ctx background = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .deadline = INT64_MAX,
};

goro_ctx *
goro_ctx_background(void)
{
  return &background;
}

/* ---- references --------------------------------------------------------- */

/* A hold on c's memory; the caller knows it is alive (top of the file). */
static void
pin(goro_ctx *c)
{
  atomic_fetch_add_explicit(&c->pins, 1, memory_order_relaxed);
}

goro_ctx *
goro_ctx_retain(goro_ctx *c)
{
  if (c != NULL && c != &background)
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

/* ---- cancel ------------------------------------------------------------- */

/* Cancel c alone with err, if it is live: close done, stop the deadline
 * timer, and move every child from c->children to *work, each with a
 * pin the caller drops. Returns whether this call cancelled c. */
static bool
cancel_one(goro_ctx *c, int err, goro_ctx **work)
{
  goro__mu_lock(&c->mu);
  if (c->err != 0) {
    goro__mu_unlock(&c->mu);
    return false;
  }
  c->err = err;
  int rc = goro_chan_close(c->done);
  GORO__ASSERT(rc == 0);
  GORO__HAPPENS_BEFORE(&c->err_pub); /* valgrind: the release of the store */
  atomic_store_explicit(&c->err_pub, err, memory_order_release);
  for (struct goro_ctx *ch = c->children, *next; ch != NULL; ch = next) {
    next = ch->next;
    pin(ch); /* alive: it unlinks itself under c->mu before it can go */
    ch->attached = false;
    ch->next = ch->prev = NULL;
    ch->work_next = *work;
    *work = ch;
  }
  c->children = NULL;
  if (c->has_timer)
    goro__timer_stop(&c->tm);
  goro__mu_unlock(&c->mu);
  return true;
}

/* Remove c from its parent's children, if it is there. */
static void
detach(goro_ctx *c)
{
  goro_ctx *p = c->parent;
  if (p == NULL)
    return;
  goro__mu_lock(&p->mu);
  if (c->attached) {
    if (c->prev != NULL)
      c->prev->next = c->next;
    else
      p->children = c->next;
    if (c->next != NULL)
      c->next->prev = c->prev;
    c->next = c->prev = NULL;
    c->attached = false;
  }
  goro__mu_unlock(&p->mu);
}

static void unpin(goro_ctx *c);

/* Wait until the cancel that owns c (see cancel_tree) has reached all of
 * c's descendants. That thread holds no context lock while we wait, and
 * waits in turn only for owners of nodes below the ones it owns, so the
 * waits cannot form a cycle. */
static void
wait_complete(goro_ctx *c)
{
  for (unsigned spins = 0; !atomic_load_explicit(&c->complete, memory_order_acquire); spins++) {
    if (spins < 64) {
      goro__cpu_relax();
    } else {
      struct timespec ts = {0, 20000};
      nanosleep(&ts, NULL);
    }
  }
  GORO__HAPPENS_AFTER(&c->complete); /* valgrind: its acquire */
}

/* Cancel c (the caller holds a reference or a pin) and all its descendants with
 * err, and detach c from its parent (Go's cancel(removeFromParent=true)).
 * When it returns, c and every descendant are cancelled, as when Go's
 * cancel returns (Go holds each parent's lock while it cancels the
 * children; here: the thread whose cancel_one succeeded on a node owns
 * it, keeps it pinned, and marks it complete once its whole work list is
 * done; a thread that finds a node owned by another waits for that). */
static void
cancel_tree(goro_ctx *c, int err)
{
  goro_ctx *work = NULL, *owned = NULL;
  if (!cancel_one(c, err, &work)) {
    wait_complete(c);
    return;
  }
  while (work != NULL) {
    goro_ctx *d = work;
    work = d->work_next;
    if (cancel_one(d, err, &work)) {
      d->work_next = owned; /* keep the pin until it is marked complete */
      owned = d;
    } else { /* cancelled by another thread: its subtree is that one's job */
      wait_complete(d);
      unpin(d);
    }
  }
  GORO__HAPPENS_BEFORE(&c->complete); /* valgrind: the release of the store */
  atomic_store_explicit(&c->complete, true, memory_order_release);
  while (owned != NULL) {
    goro_ctx *d = owned;
    owned = d->work_next;
    GORO__HAPPENS_BEFORE(&d->complete);
    atomic_store_explicit(&d->complete, true, memory_order_release);
    unpin(d);
  }
  detach(c);
}

void
goro_ctx_cancel(goro_ctx *c)
{
  if (c == NULL || c == &background)
    return;
  cancel_tree(c, GORO_ECANCELED);
}

/* Drop a pin; the last frees c and returns its parent, whose strong
 * reference the caller must drop; else NULL. */
static goro_ctx *
unpin_last(goro_ctx *c)
{
  size_t old = goro__ref_drop(&c->pins);
  GORO__ASSERT(old != 0);
  if (old != 1)
    return NULL;
  /* Not queued (err is set), and not firing (a firing timer pins c): the
   * timer thread is done with c->tm. */
  if (c->has_timer) {
    bool queued = goro__timer_stop(&c->tm);
    GORO__ASSERT(!queued);
  }
  goro_ctx *p = c->parent;
  goro_chan_release(c->done);
  pthread_mutex_destroy(&c->mu);
  free(c);
  return p;
}

/* Drop a strong reference to c. The last one finalizes c: cancel it,
 * detach it, stop a signal context's notification; then drop the strong
 * side's pin, and up the chain the parents' references that frees. */
static void
release(goro_ctx *c)
{
  while (c != NULL && c != &background) {
    size_t old = goro__ref_drop(&c->refs);
    GORO__ASSERT(old != 0);
    if (old != 1)
      return;
    /* Finalize: c has no children (each would hold a reference), and
     * pinners that find it cancelled may wait for it to be complete. */
    goro_ctx *work = NULL;
    cancel_one(c, GORO_ECANCELED, &work);
    GORO__ASSERT(work == NULL);
    GORO__HAPPENS_BEFORE(&c->complete);
    atomic_store_explicit(&c->complete, true, memory_order_release);
    detach(c);
    if (c->sw != NULL) /* stops the notification before the release returns */
      sigwatch_detach(c->sw);
    c = unpin_last(c);
  }
}

static void
unpin(goro_ctx *c)
{
  release(unpin_last(c));
}

void
goro_ctx_release(goro_ctx *c)
{
  release(c);
}

/* ---- make --------------------------------------------------------------- */

/* The deadline timer's hold, under the timer lock: pin c (alive: it is
 * dequeued there before it can be freed). */
static bool
deadline_hold(void *arg)
{
  pin(arg);
  return true;
}

/* The deadline timer's callback, on the timer thread, c pinned. */
static void
deadline_fire(void *arg)
{
  goro_ctx *c = arg;
  cancel_tree(c, GORO_ETIMEDOUT);
  unpin(c);
}

/* A new child of parent with the given deadline of its own (INT64_MAX:
 * none), attached, its timer armed. NULL with errno. */
static goro_ctx *
make_child(goro_ctx *parent, int64_t deadline)
{
  if (parent == NULL) {
    errno = EINVAL;
    return NULL;
  }
  goro_ctx *c = malloc(sizeof *c);
  if (c == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  *c = (goro_ctx){.deadline = parent->deadline};
  c->done = goro_chan_make(0, 0);
  if (c->done == NULL) {
    free(c);
    errno = ENOMEM;
    return NULL;
  }
  goro__mu_init(&c->mu);
  atomic_init(&c->refs, 1);
  atomic_init(&c->pins, 1);
  atomic_init(&c->err_pub, 0);
  atomic_init(&c->complete, false);
  GORO__IGNORE_VAR(c->refs); /* valgrind: atomics, their edges annotated */
  GORO__IGNORE_VAR(c->pins);
  GORO__IGNORE_VAR(c->err_pub);
  GORO__IGNORE_VAR(c->complete);
  /* A deadline never extends the parent's: a later one is the parent's. */
  if (deadline < c->deadline) {
    c->deadline = deadline;
    c->has_timer = true;
    goro__timer_init_func(&c->tm, deadline_hold, deadline_fire, c);
  }
  int perr = 0;
  if (parent != &background) {
    c->parent = goro_ctx_retain(parent);
    goro__mu_lock(&parent->mu);
    perr = parent->err;
    if (perr == 0) {
      c->attached = true;
      c->next = parent->children;
      if (c->next != NULL)
        c->next->prev = c;
      parent->children = c;
    }
    goro__mu_unlock(&parent->mu);
  }
  if (perr != 0) { /* Go: a child of a done parent is done at once */
    cancel_tree(c, perr);
    return c;
  }
  if (!c->has_timer)
    return c;
  if (deadline <= goro__now()) { /* Go: already past, DeadlineExceeded */
    cancel_tree(c, GORO_ETIMEDOUT);
    return c;
  }
  int rc = 0;
  goro__mu_lock(&c->mu);
  if (c->err == 0) /* else cancelled by the parent meanwhile */
    rc = goro__timer_start(&c->tm, deadline);
  goro__mu_unlock(&c->mu);
  if (rc < 0) {
    release(c);
    errno = -rc;
    return NULL;
  }
  return c;
}

goro_ctx *
goro_ctx_with_cancel(goro_ctx *parent)
{
  return make_child(parent, INT64_MAX);
}

goro_ctx *
goro_ctx_with_deadline(goro_ctx *parent, int64_t deadline)
{
  return make_child(parent, deadline);
}

goro_ctx *
goro_ctx_with_timeout(goro_ctx *parent, int64_t timeout_ns)
{
  /* A negative timeout has already passed; a sum past INT64_MAX (and
   * GORO_FOREVER) saturates to no deadline. */
  int64_t deadline = timeout_ns > 0 ? goro__deadline(timeout_ns) : goro__now() + timeout_ns;
  return make_child(parent, deadline);
}

/* ---- queries ------------------------------------------------------------ */

goro_chan *
goro_ctx_done(goro_ctx *c)
{
  return c == NULL ? NULL : c->done;
}

int
goro_ctx_err(goro_ctx *c)
{
  if (c == NULL)
    return GORO_EINVAL;
  if (c == &background)
    return 0;
  /* Non-zero: stored after done was closed, so done is closed. Zero may
   * be stale (the closer may be between the close and the store): the
   * lock then gives the value that matches done. */
  int err = atomic_load_explicit(&c->err_pub, memory_order_acquire);
  if (err != 0) {
    GORO__HAPPENS_AFTER(&c->err_pub); /* valgrind: its acquire */
    return err;
  }
  goro__mu_lock(&c->mu);
  err = c->err;
  goro__mu_unlock(&c->mu);
  return err;
}

int64_t
goro_ctx_deadline(goro_ctx *c)
{
  return c == NULL ? GORO_FOREVER : c->deadline;
}

/* ---- goro_signal_ctx ---------------------------------------------------- */

/* signal.NotifyContext: a child cancelled when a signal of a set arrives.
 * A watcher goroutine waits for a signal on sigs (registered with
 * goro_signal_notify) or for the context's done; on a signal it cancels
 * the context. The watcher holds no reference to the context (else its
 * last release could never come): it reaches it through sw, under sw->mu,
 * only while ctx_gone is false, and pins it there. The last strong
 * release detaches sw (sets ctx_gone, stops the notification, which
 * restores the signals' dispositions) before it returns, and never waits
 * for the watcher, which may be the very thread running it. sw is freed
 * by the last of the context and the watcher to let go of it. */
struct sigwatch {
  _Atomic size_t refs; /* the context's and the watcher's */
  pthread_mutex_t mu; /* guards ctx_gone, and ctx's use by the watcher */
  bool ctx_gone;      /* finalized: ctx must not be pinned any more */
  goro_ctx *ctx;
  goro_chan *sigs; /* chan int, cap 1: one reference of ours */
  goro_chan *done; /* ctx's done: one reference of ours */
};

static void
sigwatch_release(struct sigwatch *sw)
{
  if (goro__ref_drop(&sw->refs) != 1)
    return;
  goro_chan_release(sw->sigs);
  goro_chan_release(sw->done);
  pthread_mutex_destroy(&sw->mu);
  free(sw);
}

static void
sigwatch_detach(struct sigwatch *sw)
{
  goro__mu_lock(&sw->mu);
  sw->ctx_gone = true;
  goro__mu_unlock(&sw->mu);
  goro_signal_stop(sw->sigs);
  sigwatch_release(sw);
}

/* The watcher: select { case <-sigs: cancel(); case <-ctx.Done(): }. */
static void
sigwatch_run(void *arg)
{
  struct sigwatch *sw = arg;
  goro_case cases[] = {GORO_RECV_CASE(sw->sigs, NULL), GORO_RECV_CASE(sw->done, NULL)};
  if (goro_select(cases, 2, GORO_FOREVER) == 0) {
    goro__mu_lock(&sw->mu);
    goro_ctx *c = sw->ctx_gone ? NULL : sw->ctx;
    if (c != NULL)
      pin(c);
    goro__mu_unlock(&sw->mu);
    if (c != NULL) {
      cancel_tree(c, GORO_ECANCELED);
      unpin(c); /* may free c, and finalize its parent: no wait on us */
    }
  }
  sigwatch_release(sw);
}

goro_ctx *
goro_signal_ctx(goro_ctx *parent, const sigset_t *set)
{
  if (set == NULL) {
    errno = EINVAL;
    return NULL;
  }
  struct sigwatch *sw = malloc(sizeof *sw);
  if (sw == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  sw->sigs = goro_chan_make(sizeof(int), 1);
  if (sw->sigs == NULL) {
    free(sw);
    errno = ENOMEM;
    return NULL;
  }
  goro_ctx *c = make_child(parent, INT64_MAX);
  if (c == NULL) {
    int e = errno;
    goro_chan_release(sw->sigs);
    free(sw);
    errno = e;
    return NULL;
  }
  int rc = goro_signal_notify(sw->sigs, set);
  if (rc < 0) {
    goro_chan_release(sw->sigs);
    free(sw);
    release(c);
    errno = -rc;
    return NULL;
  }
  goro__mu_init(&sw->mu);
  atomic_init(&sw->refs, 1);
  GORO__IGNORE_VAR(sw->refs);
  sw->ctx_gone = false;
  sw->ctx = c;
  sw->done = goro_chan_retain(c->done);
  c->sw = sw; /* c is not shared yet */
  if (goro_ctx_err(c) != 0)
    return c; /* a cancelled parent: no watcher, as in Go */
  atomic_fetch_add_explicit(&sw->refs, 1, memory_order_relaxed);
  rc = goro_go_named("goro_signal_ctx", sigwatch_run, sw);
  if (rc < 0) {
    sigwatch_release(sw); /* the watcher's */
    release(c);           /* finalizes: detaches sw, stops the notification */
    errno = -rc;
    return NULL;
  }
  return c;
}
