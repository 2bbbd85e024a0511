/* check_ctx.c - contexts: cancellation reaches every descendant and only
 * descendants, deadlines never outlive a parent's, err is 0 exactly until
 * done is closed, released children leave nothing behind in their
 * parent, cancel races with release and with new children. The cases
 * follow Go's context/context_test.go (TestBackground, TestWithCancel,
 * TestParentFinishesChild, TestChildFinishesFirst, TestDeadline,
 * TestTimeout, TestCanceledTimeout, TestCancelRemoves,
 * TestWithCancelCanceledParent, TestSimultaneousCancels,
 * TestInterlockedCancels, TestLayersCancel, TestLayersTimeout). */
#define _GNU_SOURCE
#include "testutil.h"

#include <goro.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

static goro_ctx *
with_cancel_checked(goro_ctx *parent)
{
  goro_ctx *c = goro_ctx_with_cancel(parent);
  ck_assert_ptr_nonnull(c);
  return c;
}

static goro_ctx *
with_timeout_checked(goro_ctx *parent, int64_t d)
{
  goro_ctx *c = goro_ctx_with_timeout(parent, d);
  ck_assert_ptr_nonnull(c);
  return c;
}

/* Is ctx's done channel closed now? (tryrecv: 0 closed, EAGAIN open) */
static bool
is_done(goro_ctx *c)
{
  int r = goro_chan_tryrecv(goro_ctx_done(c), NULL);
  ck_assert_msg(r == 0 || r == GORO_EAGAIN, "done channel: unexpected %d", r);
  return r == 0;
}

/* Done within limit ns; false if not. */
static bool
done_within(goro_ctx *c, int64_t limit)
{
  goro_case cs = GORO_RECV_CASE(goro_ctx_done(c), NULL);
  int r = goro_select(&cs, 1, limit);
  return r == 0 && !cs.ok;
}

static void
assert_live(goro_ctx *c, const char *what)
{
  ck_assert_msg(!is_done(c), "%s: done closed", what);
  ck_assert_msg(goro_ctx_err(c) == 0, "%s: err %d while done is open", what, goro_ctx_err(c));
}

static void
assert_cancelled(goro_ctx *c, int err, const char *what)
{
  ck_assert_msg(is_done(c), "%s: done not closed", what);
  ck_assert_msg(goro_ctx_err(c) == err, "%s: err %s, want %s", what, goro_strerror(goro_ctx_err(c)),
                goro_strerror(err));
}

/* A timer-driven cancel reaches descendants just after the context
 * itself (as in Go, a parent's done closes before its children's):
 * wait for c's done, then check its error. */
static void
assert_cancelled_soon(goro_ctx *c, int err, const char *what)
{
  ck_assert_msg(done_within(c, 5 * GORO_SECOND), "%s: not done within 5 s", what);
  assert_cancelled(c, err, what);
}

/* ---- background --------------------------------------------------------- */

START_TEST(test_background_is_never_done_and_immortal)
{
  goro_ctx *bg = goro_ctx_background();
  ck_assert_ptr_nonnull(bg);
  ck_assert_ptr_eq(goro_ctx_background(), bg);
  ck_assert_ptr_null(goro_ctx_done(bg));
  ck_assert_int_eq(goro_ctx_err(bg), 0);
  ck_assert(goro_ctx_deadline(bg) == GORO_FOREVER);
  goro_ctx_cancel(bg);
  ck_assert_ptr_eq(goro_ctx_retain(bg), bg);
  for (int i = 0; i < 5; i++)
    goro_ctx_release(bg);
  ck_assert_int_eq(goro_ctx_err(bg), 0);
  /* A nil done channel is never ready in a select. */
  goro_case cs = GORO_RECV_CASE(goro_ctx_done(bg), NULL);
  ck_assert_int_eq(goro_select(&cs, 1, 20 * MS), GORO_ETIMEDOUT);
  /* NULL */
  ck_assert_ptr_null(goro_ctx_done(NULL));
  ck_assert_int_eq(goro_ctx_err(NULL), GORO_EINVAL);
  ck_assert(goro_ctx_deadline(NULL) == GORO_FOREVER);
  goro_ctx_cancel(NULL);
  goro_ctx_release(NULL);
  errno = 0;
  ck_assert_ptr_null(goro_ctx_with_cancel(NULL));
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_ptr_null(goro_ctx_with_timeout(NULL, GORO_SECOND));
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_str_eq(goro_strerror(GORO_ECANCELED), "context canceled");
}
END_TEST

/* ---- cancel ------------------------------------------------------------- */

/* TestWithCancel: a three-level chain; cancelling the top reaches all,
 * with GORO_ECANCELED, and again is a no-op. */
START_TEST(test_with_cancel_cancels_the_chain)
{
  goro_ctx *c1 = with_cancel_checked(goro_ctx_background());
  goro_ctx *c2 = with_cancel_checked(c1);
  goro_ctx *c3 = with_cancel_checked(c2);
  goro_ctx *cs[] = {c1, c2, c3};
  for (int i = 0; i < 3; i++) {
    ck_assert_ptr_nonnull(goro_ctx_done(cs[i]));
    ck_assert_ptr_ne(goro_ctx_done(cs[i]), goro_ctx_done(cs[(i + 1) % 3]));
    ck_assert(goro_ctx_deadline(cs[i]) == GORO_FOREVER);
    assert_live(cs[i], "before cancel");
  }
  goro_ctx_cancel(c1);
  for (int i = 0; i < 3; i++)
    assert_cancelled(cs[i], GORO_ECANCELED, "after cancel");
  goro_ctx_cancel(c1);
  goro_ctx_cancel(c3);
  for (int i = 0; i < 3; i++)
    assert_cancelled(cs[i], GORO_ECANCELED, "after cancel again");
  for (int i = 0; i < 3; i++)
    goro_ctx_release(cs[i]);
}
END_TEST

/* TestParentFinishesChild: children of every kind (cancel, timeout,
 * grandchild) are cancelled with the parent. */
START_TEST(test_parent_finishes_child)
{
  goro_ctx *parent = with_cancel_checked(goro_ctx_background());
  goro_ctx *cancel_child = with_cancel_checked(parent);
  goro_ctx *timer_child = with_timeout_checked(parent, 3600 * GORO_SECOND);
  goro_ctx *grandchild = with_cancel_checked(cancel_child);
  goro_ctx *tgrandchild = with_timeout_checked(timer_child, 3600 * GORO_SECOND);
  goro_ctx *all[] = {parent, cancel_child, timer_child, grandchild, tgrandchild};
  for (int i = 0; i < 5; i++)
    assert_live(all[i], "before");
  goro_ctx_cancel(parent);
  for (int i = 0; i < 5; i++)
    assert_cancelled(all[i], GORO_ECANCELED, "after the parent's cancel");
  /* A child made now is cancelled at birth (TestWithCancelCanceledParent). */
  goro_ctx *late = with_cancel_checked(parent);
  assert_cancelled(late, GORO_ECANCELED, "child of a cancelled parent");
  goro_ctx *late2 = with_timeout_checked(parent, GORO_SECOND);
  assert_cancelled(late2, GORO_ECANCELED, "timed child of a cancelled parent");
  goro_ctx_release(late2);
  goro_ctx_release(late);
  for (int i = 4; i >= 0; i--)
    goro_ctx_release(all[i]);
}
END_TEST

/* TestChildFinishesFirst: cancelling a child never affects the parent or
 * siblings. */
START_TEST(test_child_finishes_first)
{
  goro_ctx *parent = with_cancel_checked(goro_ctx_background());
  goro_ctx *a = with_cancel_checked(parent);
  goro_ctx *b = with_cancel_checked(parent);
  goro_ctx *a1 = with_cancel_checked(a);
  goro_ctx_cancel(a);
  assert_cancelled(a, GORO_ECANCELED, "a");
  assert_cancelled(a1, GORO_ECANCELED, "a's child");
  assert_live(parent, "parent");
  assert_live(b, "sibling");
  goro_ctx_release(a1);
  goro_ctx_release(a);
  /* And a released child does not take its parent along. */
  goro_ctx_release(b);
  assert_live(parent, "parent after releases");
  goro_ctx_cancel(parent);
  assert_cancelled(parent, GORO_ECANCELED, "parent");
  goro_ctx_release(parent);
}
END_TEST

/* A tree of depth 4, branching 3: cancelling any node cancels exactly
 * its subtree. */
enum { FAN = 3, DEPTH = 4, NODES = 1 + 3 + 9 + 27 + 81 };
static int
parent_of(int i)
{
  return (i - 1) / FAN;
}
static bool
is_descendant(int d, int a) /* d == a or d below a */
{
  while (d > a)
    d = parent_of(d);
  return d == a;
}

START_TEST(test_cancel_reaches_every_descendant_and_only_them)
{
  for (int victim = 0; victim < NODES; victim += 7) {
    goro_ctx *n[NODES];
    n[0] = with_cancel_checked(goro_ctx_background());
    for (int i = 1; i < NODES; i++)
      n[i] = (i % 2) ? with_cancel_checked(n[parent_of(i)])
                     : with_timeout_checked(n[parent_of(i)], 3600 * GORO_SECOND);
    goro_ctx_cancel(n[victim]);
    for (int i = 0; i < NODES; i++) {
      bool want = is_descendant(i, victim);
      ck_assert_msg(is_done(n[i]) == want, "victim %d: node %d done=%d", victim, i, !want);
      ck_assert_int_eq(goro_ctx_err(n[i]), want ? GORO_ECANCELED : 0);
    }
    /* Release in a scrambled order: parents before children too. */
    for (int i = 0; i < NODES; i++)
      goro_ctx_release(n[(i * 37) % NODES]);
  }
}
END_TEST

/* Last release of a live ctx cancels it (Go: the deferred cancel). A
 * reference to its done channel taken beforehand shows it closed. */
START_TEST(test_last_release_of_a_live_ctx_cancels_it)
{
  goro_ctx *parent = with_cancel_checked(goro_ctx_background());
  goro_ctx *c = with_cancel_checked(parent);
  goro_chan *done = goro_chan_retain(goro_ctx_done(c));
  ck_assert_ptr_eq(goro_ctx_retain(c), c);
  goro_ctx_release(c);
  ck_assert_int_eq(goro_chan_tryrecv(done, NULL), GORO_EAGAIN); /* one reference left */
  goro_ctx_release(c);
  ck_assert_int_eq(goro_chan_tryrecv(done, NULL), 0);
  assert_live(parent, "parent");
  goro_chan_release(done);
  goro_ctx_release(parent);
}
END_TEST

/* A 10,000-deep chain: cancel at the root reaches the leaf (iteratively:
 * no stack overflow), and releasing the root first then the rest works. */
START_TEST(test_deep_chain_cancel_and_release)
{
  enum { N = 10000 };
  goro_ctx **c = malloc(N * sizeof *c);
  ck_assert_ptr_nonnull(c);
  c[0] = with_cancel_checked(goro_ctx_background());
  for (int i = 1; i < N; i++)
    c[i] = with_cancel_checked(c[i - 1]);
  goro_ctx_cancel(c[0]);
  assert_cancelled(c[N - 1], GORO_ECANCELED, "leaf");
  for (int i = 0; i < N; i++)
    goro_ctx_release(c[i]); /* the leaf's release frees the whole chain */
  /* And the other way: leaves die first, live, no cancel at all. */
  c[0] = with_cancel_checked(goro_ctx_background());
  for (int i = 1; i < N; i++)
    c[i] = with_cancel_checked(c[i - 1]);
  for (int i = N - 1; i >= 1; i--)
    goro_ctx_release(c[i]);
  assert_live(c[0], "root after its chain was released");
  goro_ctx_release(c[0]);
  free(c);
}
END_TEST

/* ---- deadlines ---------------------------------------------------------- */

/* TestDeadline: done at the deadline, not before, with GORO_ETIMEDOUT. */
START_TEST(test_deadline_fires_with_etimedout_not_early)
{
  int64_t t0 = goro_now();
  goro_ctx *c = goro_ctx_with_deadline(goro_ctx_background(), t0 + 50 * MS);
  ck_assert_ptr_nonnull(c);
  ck_assert(goro_ctx_deadline(c) == t0 + 50 * MS);
  goro_ctx *child = with_cancel_checked(c);
  ck_assert(goro_ctx_deadline(child) == t0 + 50 * MS);
  bool early = is_done(c); /* done, then the clock: never done before it */
  ck_assert_msg(!early || goro_now() >= t0 + 50 * MS, "done before the deadline");
  ck_assert(done_within(c, 5 * GORO_SECOND));
  int64_t el = goro_now() - t0;
  ck_assert_msg(el >= 50 * MS, "done after %lld ms", (long long)(el / MS));
  ck_assert(el <= 50 * MS + SLACK);
  assert_cancelled(c, GORO_ETIMEDOUT, "deadline");
  /* The child gets the parent's error. */
  assert_cancelled_soon(child, GORO_ETIMEDOUT, "child of a deadline");
  /* A child of a timed-out parent: done at birth, ETIMEDOUT. */
  goro_ctx *late = with_cancel_checked(c);
  assert_cancelled(late, GORO_ETIMEDOUT, "late child");
  goro_ctx_release(late);
  goro_ctx_release(child);
  goro_ctx_release(c);
}
END_TEST

/* TestTimeout, and the deadline arithmetic: a past deadline is done at
 * once, GORO_FOREVER is no deadline, a child's deadline is the earliest
 * of its own and its parent's (a later one never extends the parent's),
 * and a child with an earlier one fires alone. */
START_TEST(test_timeout_and_deadline_never_outlive_the_parent)
{
  goro_ctx *past = with_timeout_checked(goro_ctx_background(), -1);
  assert_cancelled(past, GORO_ETIMEDOUT, "negative timeout");
  goro_ctx *past2 = goro_ctx_with_deadline(goro_ctx_background(), goro_now() - GORO_SECOND);
  ck_assert_ptr_nonnull(past2);
  assert_cancelled(past2, GORO_ETIMEDOUT, "past deadline");
  goro_ctx *zero = with_timeout_checked(goro_ctx_background(), 0);
  assert_cancelled(zero, GORO_ETIMEDOUT, "zero timeout");
  goro_ctx *forever = with_timeout_checked(goro_ctx_background(), GORO_FOREVER);
  ck_assert(goro_ctx_deadline(forever) == GORO_FOREVER);
  assert_live(forever, "forever");

  int64_t t0 = goro_now();
  goro_ctx *parent = with_timeout_checked(goro_ctx_background(), 150 * MS);
  int64_t pd = goro_ctx_deadline(parent);
  ck_assert(pd >= t0 + 150 * MS && pd <= goro_now() + 150 * MS);
  goro_ctx *later = with_timeout_checked(parent, 3600 * GORO_SECOND);
  ck_assert(goro_ctx_deadline(later) == pd); /* never extends the parent's */
  goro_ctx *later2 = goro_ctx_with_deadline(parent, pd + 1);
  ck_assert_ptr_nonnull(later2);
  ck_assert(goro_ctx_deadline(later2) == pd);
  goro_ctx *sooner = with_timeout_checked(parent, 30 * MS);
  ck_assert(goro_ctx_deadline(sooner) < pd);
  goro_ctx *grand = with_cancel_checked(sooner);
  ck_assert(goro_ctx_deadline(grand) == goro_ctx_deadline(sooner));

  ck_assert(done_within(sooner, 5 * GORO_SECOND));
  assert_cancelled(sooner, GORO_ETIMEDOUT, "sooner");
  assert_cancelled_soon(grand, GORO_ETIMEDOUT, "sooner's child");
  /* The child's timeout did not reach its parent or sibling: they are
   * done only if their own deadline has passed (checked in that order:
   * done, then the clock). */
  bool pdone = is_done(parent), ldone = is_done(later);
  int64_t now = goro_now();
  ck_assert_msg(!pdone || now >= pd, "the parent was cancelled by its child's timeout");
  ck_assert_msg(!ldone || now >= pd, "a sibling was cancelled by the child's timeout");
  ck_assert(done_within(later, 5 * GORO_SECOND));
  ck_assert(goro_now() >= pd);
  assert_cancelled(later, GORO_ETIMEDOUT, "later (the parent's deadline)");
  assert_cancelled_soon(later2, GORO_ETIMEDOUT, "later2");
  assert_cancelled_soon(parent, GORO_ETIMEDOUT, "parent");
  assert_live(forever, "forever");
  goro_ctx *all[] = {past, past2, zero, forever, parent, later, later2, sooner, grand};
  for (int i = 0; i < 9; i++)
    goro_ctx_release(all[i]);
}
END_TEST

/* TestCanceledTimeout: cancelled before its timeout, err is
 * GORO_ECANCELED for good, and the dropped timer never fires into it
 * (nor into freed memory: ASan, valgrind). */
START_TEST(test_cancelled_timeout_stays_ecanceled)
{
  goro_ctx *c = with_timeout_checked(goro_ctx_background(), 400 * MS);
  goro_ctx *child = with_timeout_checked(c, 300 * MS);
  goro_ctx_cancel(c);
  assert_cancelled(c, GORO_ECANCELED, "cancelled");
  assert_cancelled(child, GORO_ECANCELED, "child");
  goro_ctx *gone = with_timeout_checked(goro_ctx_background(), 10 * MS);
  goro_ctx_release(gone); /* freed before its deadline */
  nap(500 * MS);
  assert_cancelled(c, GORO_ECANCELED, "after the deadline passed");
  assert_cancelled(child, GORO_ECANCELED, "child after the deadline passed");
  goro_ctx_release(child);
  goro_ctx_release(c);
}
END_TEST

/* Waiting forever on a deadline context's done is no deadlock: its timer
 * is pending (the deadlock detector would end the process with status 2
 * and fail the test). */
START_TEST(test_waiting_forever_on_a_deadline_is_no_deadlock)
{
  goro_ctx *c = with_timeout_checked(goro_ctx_background(), 300 * MS);
  goro_case cs = GORO_RECV_CASE(goro_ctx_done(c), NULL);
  ck_assert_int_eq(goro_select(&cs, 1, GORO_FOREVER), 0);
  assert_cancelled(c, GORO_ETIMEDOUT, "waited for");
  goro_ctx_release(c);
}
END_TEST

/* ---- err and done ------------------------------------------------------- */

struct watcher {
  goro_ctx *ctx;
  _Atomic bool go;
  int bad;
};

/* Reads err and done in both orders while another thread cancels: err
 * != 0 implies done already closed; done closed implies err != 0; and
 * once non-zero, err never changes. */
static void
watch_err(void *arg)
{
  struct watcher *w = arg;
  while (!atomic_load(&w->go))
    ;
  int seen = 0;
  for (;;) {
    int e = goro_ctx_err(w->ctx);
    int r = goro_chan_tryrecv(goro_ctx_done(w->ctx), NULL);
    if (e != 0 && r != 0)
      w->bad++; /* err set, done still open */
    if (seen != 0 && e != seen)
      w->bad++; /* err changed */
    if (e != 0)
      seen = e;
    r = goro_chan_tryrecv(goro_ctx_done(w->ctx), NULL);
    e = goro_ctx_err(w->ctx);
    if (r == 0 && e == 0)
      w->bad++; /* done closed, err still 0 */
    if (r == 0 && seen != 0)
      break;
  }
}

START_TEST(test_err_is_zero_exactly_until_done_is_closed)
{
  size_t n = scaled(300);
  for (size_t i = 0; i < n; i++) {
    goro_ctx *parent = with_cancel_checked(goro_ctx_background());
    goro_ctx *c = (i % 2) ? with_cancel_checked(parent)
                          : with_timeout_checked(parent, (int64_t)(i % 5) * 20 * GORO_MICROSECOND);
    struct watcher w[2] = {{.ctx = c}, {.ctx = c}};
    goro_wg *wg = wg_make_checked();
    for (int k = 0; k < 2; k++)
      wg_go_checked(wg, watch_err, &w[k]);
    for (int k = 0; k < 2; k++)
      atomic_store(&w[k].go, true);
    nap((int64_t)(i % 7) * 10 * GORO_MICROSECOND);
    if (i % 3 == 0)
      goro_ctx_cancel(parent);
    else
      goro_ctx_cancel(c);
    goro_wg_wait(wg);
    ck_assert_int_eq(w[0].bad + w[1].bad, 0);
    int e = goro_ctx_err(c);
    ck_assert(e == GORO_ECANCELED || e == GORO_ETIMEDOUT);
    goro_wg_free(wg);
    goro_ctx_release(c);
    goro_ctx_release(parent);
  }
}
END_TEST

/* ---- leaks -------------------------------------------------------------- */

/* TestCancelRemoves, at scale: 100,000 short-lived children (and 20,000
 * with deadlines: their timers too) of one long-lived parent, each
 * released, leave nothing behind. Measured as the allocator's bytes in
 * use (glibc mallinfo2; not measurable under ASan/TSan, whose allocators
 * do not feed it - there ASan's leak check and use-after-free detection
 * cover the list). A child left in the parent's list would keep its
 * memory (about 400 bytes each with its done channel); a child freed but
 * left in the list would be touched by the final cancel (ASan). The
 * parent's cancel afterwards reaches a child made after all that. */
START_TEST(test_released_children_leave_nothing_behind)
{
  goro_ctx *parent = with_cancel_checked(goro_ctx_background());
  goro_ctx *other = with_timeout_checked(goro_ctx_background(), 3600 * GORO_SECOND);
  for (int i = 0; i < 1000; i++) /* warm up the allocator */
    goro_ctx_release(with_cancel_checked(parent));
  long before = heap_in_use();
  size_t n = scaled(100000);
  for (size_t i = 0; i < n; i++) {
    goro_ctx *c = with_cancel_checked(parent);
    if (i % 3 == 0)
      goro_ctx_cancel(c);
    goro_ctx_release(c);
  }
  size_t m = scaled(20000);
  for (size_t i = 0; i < m; i++) {
    goro_ctx *c = with_timeout_checked(i % 2 ? parent : other, 3600 * GORO_SECOND);
    goro_ctx_release(c);
  }
  long after = heap_in_use();
  if (before >= 0) {
    long grown = after - before;
    fprintf(stderr, "released children: heap grew %ld bytes over %zu children\n", grown, n + m);
    ck_assert_msg(grown < 64 * 1024, "%zu released children still hold %ld bytes", n + m, grown);
  }
  goro_ctx *last = with_cancel_checked(parent);
  goro_ctx_cancel(parent);
  assert_cancelled(last, GORO_ECANCELED, "the child made last");
  assert_live(other, "the other parent");
  goro_ctx_release(last);
  goro_ctx_release(parent);
  goro_ctx_release(other);
}
END_TEST

/* ---- races -------------------------------------------------------------- */

struct churn {
  goro_ctx *parent;
  _Atomic bool stop;
  _Atomic long made, born_done;
  int bad;
};

/* Make children (some with deadlines, some with a child of their own)
 * and release them, while the parent is cancelled under them. A child
 * made after the parent's cancel was seen must be done at birth. */
static void
churn_children(void *arg)
{
  struct churn *s = arg;
  for (unsigned i = 0; !atomic_load(&s->stop); i++) {
    bool parent_done = goro_ctx_err(s->parent) != 0;
    goro_ctx *c = (i % 3 == 0)
                      ? goro_ctx_with_timeout(s->parent, (int64_t)(i % 50) * GORO_MICROSECOND)
                      : goro_ctx_with_cancel(s->parent);
    if (c == NULL) {
      s->bad++;
      continue;
    }
    goro_ctx *g = (i % 2) ? goro_ctx_with_cancel(c) : NULL;
    if (parent_done) {
      if (goro_chan_tryrecv(goro_ctx_done(c), NULL) != 0 || goro_ctx_err(c) == 0)
        s->bad++;
      atomic_fetch_add(&s->born_done, 1);
    }
    if (i % 5 == 0)
      goro_ctx_cancel(c);
    if (i % 2)
      goro_ctx_release(c), goro_ctx_release(g); /* parent first, then child */
    else
      goro_ctx_release(c);
    atomic_fetch_add(&s->made, 1);
  }
}

/* Cancel racing with release and with new children, many rounds (run
 * under TSan and ASan too): nothing crashes, nothing is lost, every
 * child created under a cancelled parent is born done, and every child
 * alive at the cancel is cancelled by it. */
START_TEST(test_cancel_races_with_release_and_new_children)
{
  size_t rounds = scaled(40);
  for (size_t r = 0; r < rounds; r++) {
    struct churn s = {.parent = with_cancel_checked(goro_ctx_background())};
    enum { K = 16 };
    goro_ctx *kept[K];
    goro_wg *wg = wg_make_checked();
    for (int i = 0; i < 3; i++)
      wg_go_checked(wg, churn_children, &s);
    for (int i = 0; i < K; i++)
      kept[i] = with_cancel_checked(s.parent);
    nap((int64_t)(r % 5) * 200 * GORO_MICROSECOND);
    goro_ctx_cancel(s.parent);
    for (int i = 0; i < K; i++)
      assert_cancelled(kept[i], GORO_ECANCELED, "kept child");
    nap(1 * MS);
    atomic_store(&s.stop, true);
    goro_wg_wait(wg);
    ck_assert_int_eq(s.bad, 0);
    ck_assert(atomic_load(&s.made) > 0);
    for (int i = 0; i < K; i++)
      goro_ctx_release(kept[i]);
    goro_ctx_release(s.parent);
    goro_wg_free(wg);
  }
}
END_TEST

struct canceller {
  goro_ctx **nodes;
  int at; /* the node this goroutine cancels */
  _Atomic int *go;
};

/* Cancel one node when told to; once goro_ctx_cancel returns, that node
 * and all its descendants are cancelled, even when another goroutine
 * cancelling an ancestor got to some of them first. */
static void
cancel_when_told(void *arg)
{
  struct canceller *c = arg;
  while (!atomic_load(c->go))
    ;
  goro_ctx_cancel(c->nodes[c->at]);
  for (int i = 0; i < NODES; i++)
    if (is_descendant(i, c->at) && (goro_chan_tryrecv(goro_ctx_done(c->nodes[i]), NULL) != 0 ||
                                    goro_ctx_err(c->nodes[i]) == 0))
      BG_FAIL("cancel of node %d returned before node %d was cancelled", c->at, i);
}

/* TestSimultaneousCancels/TestInterlockedCancels: a tree cancelled at
 * several nodes at once from several goroutines ends fully cancelled,
 * and each cancel returns with its subtree cancelled. */
START_TEST(test_simultaneous_cancels)
{
  size_t rounds = scaled(200);
  for (size_t r = 0; r < rounds; r++) {
    goro_ctx *n[NODES];
    n[0] = with_cancel_checked(goro_ctx_background());
    for (int i = 1; i < NODES; i++)
      n[i] = with_cancel_checked(n[parent_of(i)]);
    _Atomic int go = 0;
    static const int at[] = {0, 1, 2, 5, 13, 40};
    struct canceller cs[6];
    goro_wg *wg = wg_make_checked();
    for (int i = 0; i < 6; i++) {
      cs[i] = (struct canceller){n, at[(i + (int)r) % 6], &go};
      wg_go_checked(wg, cancel_when_told, &cs[i]);
    }
    atomic_store(&go, 1);
    goro_wg_wait(wg);
    assert_no_bg_failures();
    for (int i = 0; i < NODES; i++)
      assert_cancelled(n[i], GORO_ECANCELED, "node");
    for (int i = NODES - 1; i >= 0; i--)
      goro_ctx_release(n[i]);
    goro_wg_free(wg);
  }
}
END_TEST

/* ---- in use: workers select on done ------------------------------------- */

struct worker {
  goro_ctx *ctx;
  goro_chan *work; /* unbuffered int: never fed */
  _Atomic int *stopped;
};

static void
work_until_done(void *arg)
{
  struct worker *w = arg;
  int v;
  goro_case cs[2] = {GORO_RECV_CASE(w->work, &v), GORO_RECV_CASE(goro_ctx_done(w->ctx), NULL)};
  if (goro_select(cs, 2, 10 * GORO_SECOND) == 1)
    atomic_fetch_add(w->stopped, 1);
}

/* Goroutines blocked in a select on goro_ctx_done all wake on a cancel
 * of an ancestor (section 8.9's done channel, as a tree). */
START_TEST(test_workers_blocked_on_done_all_wake)
{
  goro_ctx *root = with_cancel_checked(goro_ctx_background());
  goro_ctx *mid = with_timeout_checked(root, 3600 * GORO_SECOND);
  goro_chan *work = chan_make_checked(sizeof(int), 0);
  _Atomic int stopped = 0;
  enum { W = 20 };
  struct worker ws[W];
  goro_wg *wg = wg_make_checked();
  for (int i = 0; i < W; i++) {
    ws[i] = (struct worker){i % 2 ? root : mid, work, &stopped};
    wg_go_checked(wg, work_until_done, &ws[i]);
  }
  nap(20 * MS);
  goro_ctx_cancel(root);
  goro_wg_wait(wg);
  ck_assert_int_eq(atomic_load(&stopped), W);
  goro_wg_free(wg);
  goro_chan_release(work);
  goro_ctx_release(mid);
  goro_ctx_release(root);
}
END_TEST

/* ---- goro_signal_ctx ---------------------------------------------------- */

static _Atomic int usr_handled; /* signals count_usr saw */

static void
count_usr(int sig)
{
  (void)sig;
  atomic_fetch_add(&usr_handled, 1);
}

/* SIGUSR1 and SIGUSR2 handled by count_usr: the disposition a signal
 * context must restore, and harmless if a signal comes late. */
static void
setup_usr_handlers(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = count_usr;
  sigemptyset(&sa.sa_mask);
  ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
  ck_assert_int_eq(sigaction(SIGUSR2, &sa, NULL), 0);
}

static bool
handler_is_count_usr(int sig)
{
  struct sigaction sa;
  ck_assert_int_eq(sigaction(sig, NULL, &sa), 0);
  return sa.sa_handler == count_usr;
}

/* signal.NotifyContext: a signal of the set cancels the context (and its
 * children), one outside the set does not; until the last release the
 * signal is goro's, after it the old handler is back. */
START_TEST(test_signal_ctx_is_cancelled_by_a_signal_of_its_set)
{
  setup_usr_handlers();
  sigset_t usr1 = set_of(SIGUSR1);
  goro_ctx *parent = with_cancel_checked(goro_ctx_background());
  goro_ctx *c = goro_signal_ctx(parent, &usr1);
  ck_assert_ptr_nonnull(c);
  goro_ctx *child = with_cancel_checked(c);
  assert_live(c, "before any signal");
  ck_assert(!handler_is_count_usr(SIGUSR1));
  ck_assert_int_eq(raise(SIGUSR2), 0); /* not in the set */
  int64_t end = goro_now() + 5 * GORO_SECOND;
  while (atomic_load(&usr_handled) == 0 && goro_now() < end)
    nap(1 * MS);
  ck_assert_int_eq(atomic_load(&usr_handled), 1);
  assert_live(c, "after a signal outside the set");
  ck_assert_int_eq(raise(SIGUSR1), 0);
  ck_assert(done_within(c, 5 * GORO_SECOND));
  assert_cancelled(c, GORO_ECANCELED, "signalled");
  assert_cancelled_soon(child, GORO_ECANCELED, "child of the signalled");
  assert_live(parent, "parent");
  ck_assert_int_eq(atomic_load(&usr_handled), 1); /* goro's, not count_usr's */
  goro_ctx_release(child);
  goro_ctx_release(c);
  ck_assert(handler_is_count_usr(SIGUSR1)); /* restored before the release returned */
  ck_assert_int_eq(raise(SIGUSR1), 0);
  end = goro_now() + 5 * GORO_SECOND;
  while (atomic_load(&usr_handled) < 2 && goro_now() < end)
    nap(1 * MS);
  ck_assert_int_eq(atomic_load(&usr_handled), 2);
  goro_ctx_release(parent);
}
END_TEST

/* Cancelled otherwise (its parent, or a cancelled parent at birth), it
 * still holds the signals until its last release, and its watcher
 * goroutine is gone (the teardown's leak check); a bad set is refused
 * and changes nothing. */
START_TEST(test_signal_ctx_cancelled_otherwise_and_refused_sets)
{
  setup_usr_handlers();
  sigset_t usr1 = set_of(SIGUSR1);
  goro_ctx *parent = with_cancel_checked(goro_ctx_background());
  goro_ctx *c = goro_signal_ctx(parent, &usr1);
  ck_assert_ptr_nonnull(c);
  goro_ctx_cancel(parent);
  assert_cancelled(c, GORO_ECANCELED, "child of a cancelled parent");
  ck_assert(!handler_is_count_usr(SIGUSR1));
  goro_ctx *born = goro_signal_ctx(parent, &usr1);
  ck_assert_ptr_nonnull(born);
  assert_cancelled(born, GORO_ECANCELED, "born under a cancelled parent");
  goro_ctx_release(c);
  ck_assert(!handler_is_count_usr(SIGUSR1)); /* born still asks for it */
  goro_ctx_release(born);
  ck_assert(handler_is_count_usr(SIGUSR1));
  goro_ctx_release(parent);

  sigset_t empty, kill9 = set_of(SIGKILL);
  sigemptyset(&empty);
  errno = 0;
  ck_assert_ptr_null(goro_signal_ctx(goro_ctx_background(), &kill9));
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_ptr_null(goro_signal_ctx(goro_ctx_background(), &empty));
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_ptr_null(goro_signal_ctx(goro_ctx_background(), NULL));
  ck_assert_int_eq(errno, EINVAL);
  errno = 0;
  ck_assert_ptr_null(goro_signal_ctx(NULL, &usr1));
  ck_assert_int_eq(errno, EINVAL);
  ck_assert(handler_is_count_usr(SIGUSR1));
}
END_TEST

/* Many signal contexts made and released while signals arrive: each
 * release restores the handler once the last one is gone, and nothing
 * is left behind (ASan, the leak check). */
START_TEST(test_signal_ctx_churn_with_signals)
{
  setup_usr_handlers();
  sigset_t usr2 = set_of(SIGUSR2);
  size_t n = scaled(200);
  for (size_t i = 0; i < n; i++) {
    goro_ctx *c = goro_signal_ctx(goro_ctx_background(), &usr2);
    ck_assert_ptr_nonnull(c);
    if (i % 2 == 0) {
      ck_assert_int_eq(raise(SIGUSR2), 0);
      if (i % 4 == 0)
        ck_assert(done_within(c, 5 * GORO_SECOND));
    }
    goro_ctx_release(c);
    ck_assert(handler_is_count_usr(SIGUSR2));
  }
}
END_TEST

static _Atomic bool stop_killing;

/* Raise SIGUSR1 in this thread every 100 ms until told to stop. (Sent to
 * the process, the signal would go to the main thread, blocked in a futex
 * wait, where ThreadSanitizer defers its handler until the wait ends.) */
static void *
kill_usr1_until_stopped(void *arg)
{
  (void)arg;
  for (int i = 0; i < 100 && !atomic_load(&stop_killing); i++) {
    nap(100 * MS);
    raise(SIGUSR1);
  }
  return NULL;
}

/* Waiting forever on a signal context's done is no deadlock either: a
 * signal may come (here from a thread goro does not know). */
START_TEST(test_waiting_forever_on_a_signal_ctx_is_no_deadlock)
{
  setup_usr_handlers();
  sigset_t usr1 = set_of(SIGUSR1);
  goro_ctx *c = goro_signal_ctx(goro_ctx_background(), &usr1);
  ck_assert_ptr_nonnull(c);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, kill_usr1_until_stopped, NULL), 0);
  goro_case cs = GORO_RECV_CASE(goro_ctx_done(c), NULL);
  ck_assert_int_eq(goro_select(&cs, 1, GORO_FOREVER), 0);
  assert_cancelled(c, GORO_ECANCELED, "signalled");
  atomic_store(&stop_killing, true);
  pthread_join(th, NULL);
  goro_ctx_release(c);
}
END_TEST

static Suite *
ctx_suite(void)
{
  Suite *s = suite_create("ctx");
  TCase *tc;

  tc = tcase_make("cancel", 30);
  tcase_add_test(tc, test_background_is_never_done_and_immortal);
  tcase_add_test(tc, test_with_cancel_cancels_the_chain);
  tcase_add_test(tc, test_parent_finishes_child);
  tcase_add_test(tc, test_child_finishes_first);
  tcase_add_test(tc, test_cancel_reaches_every_descendant_and_only_them);
  tcase_add_test(tc, test_last_release_of_a_live_ctx_cancels_it);
  tcase_add_test(tc, test_deep_chain_cancel_and_release);
  tcase_add_test(tc, test_workers_blocked_on_done_all_wake);
  suite_add_tcase(s, tc);

  tc = tcase_make("deadline", 30);
  tcase_add_test(tc, test_deadline_fires_with_etimedout_not_early);
  tcase_add_test(tc, test_timeout_and_deadline_never_outlive_the_parent);
  tcase_add_test(tc, test_cancelled_timeout_stays_ecanceled);
  tcase_add_test(tc, test_waiting_forever_on_a_deadline_is_no_deadlock);
  suite_add_tcase(s, tc);

  tc = tcase_make("signal", 30);
  tcase_add_test(tc, test_signal_ctx_is_cancelled_by_a_signal_of_its_set);
  tcase_add_test(tc, test_signal_ctx_cancelled_otherwise_and_refused_sets);
  tcase_add_test(tc, test_signal_ctx_churn_with_signals);
  tcase_add_test(tc, test_waiting_forever_on_a_signal_ctx_is_no_deadlock);
  suite_add_tcase(s, tc);

  tc = tcase_make("races", 60);
  tcase_add_test(tc, test_err_is_zero_exactly_until_done_is_closed);
  tcase_add_test(tc, test_released_children_leave_nothing_behind);
  tcase_add_test(tc, test_cancel_races_with_release_and_new_children);
  tcase_add_test(tc, test_simultaneous_cancels);
  suite_add_tcase(s, tc);

  return s;
}

int
main(void)
{
  return run_suite(ctx_suite());
}
