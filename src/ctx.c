/* ctx.c - contexts: cancellation trees with deadlines (Go's package
 * context, without values).
 *
 * A context has a done channel (chan struct{}, made with it, closed when
 * it is cancelled), an error (0 while live), an immutable deadline (the
 * earliest of its own and its ancestors'), its parent, and the list of
 * its attached children. The background context is a static object:
 * never cancelled, no done channel, no parent, not counted.
 *
 * References. refs counts the caller's references, plus one held by each
 * child for its whole life (the child's parent pointer is immutable and
 * may be dereferenced, and its lock taken, at any time), plus the
 * temporary pins of a cancel in progress and of a firing deadline timer.
 * A pin is taken only by try_retain, which never moves refs from 0: once
 * refs is 0 the context is being destroyed and no one else will touch it.
 * The last release destroys: it cancels a live context (with
 * GORO_ECANCELED; nobody can see it but a caller who kept the done channel
 * without a reference), detaches it from its parent, frees it, and then
 * drops the parent's reference (a loop, not a recursion, up a chain).
 * refs == 0 implies no child exists (each holds a reference), so a
 * destroyed context never has children to cancel.
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
 * c->mu, each attached child is pinned (try_retain), unlinked and pushed
 * on the canceller's work list; after dropping c->mu, each is cancelled
 * in turn the same way (iteratively, so a deep chain cannot overflow the
 * stack), then unpinned. A child whose refs is already 0 cannot be
 * pinned: it is in its last release, about to take c->mu to unlink
 * itself (it holds a reference to c, so c stays valid meanwhile); it is
 * left attached, and its own destruction cancels it (it has no
 * descendants: refs == 0). A child created while c is being cancelled
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
 * held (timer.c), pinned by its hold function.
 */
#include "config.h"

#include "internal.h"

#include <errno.h>
#include <time.h>

struct goro_ctx {
  _Atomic size_t refs;   /* see the top of the file; unused by the background */
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
};

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

/* A pin: one more reference, unless refs is already 0 (being destroyed). */
static bool
try_retain(goro_ctx *c)
{
  size_t r = atomic_load_explicit(&c->refs, memory_order_relaxed);
  do {
    if (r == 0)
      return false;
  } while (!atomic_compare_exchange_weak_explicit(&c->refs, &r, r + 1, memory_order_acquire,
                                                  memory_order_relaxed));
  return true;
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
 * timer, and move every child that can be pinned from c->children to
 * *work (each with a pin the caller drops). Returns whether this call
 * cancelled c. */
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
  struct goro_ctx *ch = c->children, *keep = NULL;
  while (ch != NULL) {
    struct goro_ctx *next = ch->next;
    if (try_retain(ch)) {
      ch->attached = false;
      ch->next = ch->prev = NULL;
      ch->work_next = *work;
      *work = ch;
    } else { /* dying: it unlinks itself once we drop c->mu */
      ch->prev = NULL;
      ch->next = keep;
      if (keep != NULL)
        keep->prev = ch;
      keep = ch;
    }
    ch = next;
  }
  c->children = keep;
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

static void release(goro_ctx *c);

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

/* Cancel c (the caller holds a reference) and all its descendants with
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
      release(d);
    }
  }
  GORO__HAPPENS_BEFORE(&c->complete); /* valgrind: the release of the store */
  atomic_store_explicit(&c->complete, true, memory_order_release);
  while (owned != NULL) {
    goro_ctx *d = owned;
    owned = d->work_next;
    GORO__HAPPENS_BEFORE(&d->complete);
    atomic_store_explicit(&d->complete, true, memory_order_release);
    release(d); /* the pin */
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

/* refs reached 0: cancel, detach, free. Returns the parent, whose
 * reference the caller must drop. */
static goro_ctx *
destroy(goro_ctx *c)
{
  goro_ctx *work = NULL;
  cancel_one(c, GORO_ECANCELED, &work);
  GORO__ASSERT(work == NULL); /* no child: each would hold a reference */
  /* Nobody can wait for it: waiters hold references. */
  detach(c);
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

static void
release(goro_ctx *c)
{
  while (c != NULL && c != &background) {
    GORO__HAPPENS_BEFORE(&c->refs); /* valgrind: the release of the decrement */
    size_t old = atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel);
    GORO__ASSERT(old != 0);
    if (old != 1)
      return;
    GORO__HAPPENS_AFTER(&c->refs); /* valgrind: its acquire, by the last one */
    c = destroy(c);
  }
}

void
goro_ctx_release(goro_ctx *c)
{
  release(c);
}

/* ---- make --------------------------------------------------------------- */

/* The deadline timer's hold (under the timer lock): pin c, unless it is
 * being destroyed (its destruction then stops the timer). */
static bool
deadline_hold(void *arg)
{
  return try_retain(arg);
}

/* The deadline timer's callback, on the timer thread, c pinned. */
static void
deadline_fire(void *arg)
{
  goro_ctx *c = arg;
  cancel_tree(c, GORO_ETIMEDOUT);
  release(c);
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
  atomic_init(&c->err_pub, 0);
  atomic_init(&c->complete, false);
  GORO__IGNORE_VAR(c->refs); /* valgrind: atomics, their edges annotated */
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
