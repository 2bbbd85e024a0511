/* check_stress.c - randomized stress over channels and select.
 *
 * Workers (goroutines, and one foreign pthread) run a seeded random mix of
 * send, recv, trysend, tryrecv, select (with NULL cases, duplicate
 * channels, and timeouts of 0, > 0 and forever) and close over a set of
 * unbuffered and buffered (cap 1..8) channels. Every value carries an id
 * and a checksum. At the end every value whose send reported success was
 * received exactly once, and no other value was received at all: a send
 * that reported GORO_EPIPE (or a select send case with ok == false) or
 * that did not happen (GORO_EAGAIN, a timeout, another case chosen)
 * delivered nothing.
 *
 * The seed comes from GORO_STRESS_SEED, else from the clock; it is printed
 * at the start and in every failure message, so a failure can be replayed
 * (the interleaving is up to the scheduler, the operations are not).
 * GORO_TEST_SCALE (a factor, default 1) scales the operation count; TSan
 * builds run a quarter of it.
 *
 * Blocking operations may wait for partners that never come. When every
 * unfinished worker has been blocked for a while, the coordinator closes
 * the current channels (and replaces them), which wakes everyone. Before
 * doing so it checks that no two workers wait on opposite ends of one
 * channel, and that nobody waits on a closed channel: a state that lasts
 * is a lost wakeup in the library, and fails the test.
 */
#include <goro.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* ---- Helpers ----------------------------------------------------------- */

static uint64_t stress_seed; /* chosen once in main, before any test forks */

static uint64_t
splitmix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* A worker's own generator: xorshift64*, seeded from the run's seed. */
struct rng {
  uint64_t s;
};

static uint64_t
rng_next(struct rng *r)
{
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n). */
static uint32_t
rng_below(struct rng *r, uint32_t n)
{
  return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

/* ---- The shared state of one run --------------------------------------- */

enum {
  NSLOTS = 6,      /* channels in play at any time */
  MAX_CHANS = 256, /* channels ever made in one run */
  MAX_CASES = 20,  /* > 16: select's heap path */
  MAX_WORKERS = 16,
  MAX_PUB = MAX_CASES /* published waits per worker */
};

/* What went out under each id. */
enum { ID_UNUSED = 0, ID_DELIVERED, ID_REJECTED, ID_NOT_SENT };

/* A value on the wire: its id and a checksum of it. */
struct item {
  uint32_t id;
  uint32_t worker;
  uint64_t sum;
};

/* A worker's published blocking wait, for the stall check. */
struct pub {
  _Atomic uint32_t seq;     /* bumped at every blocking operation */
  atomic_bool blocked;      /* inside a blocking operation without a deadline */
  atomic_int n;             /* entries below */
  atomic_int chan[MAX_PUB]; /* index into run.chans */
  atomic_int op[MAX_PUB];   /* GORO_SEND or GORO_RECV */
};

struct chan_rec {
  goro_chan *c;          /* one reference, dropped at the end */
  atomic_bool closing;   /* set just before the (one) close that succeeds */
  atomic_bool closed_ok; /* that close returned 0 */
};

static struct {
  uint64_t seed;
  int variant; /* 0 mixed caps, 1 unbuffered only, 2 buffered only */
  int nworkers;
  size_t ops; /* per worker */
  size_t ids_per_worker;
  size_t nids;

  pthread_mutex_t mu; /* guards slot[] and nchans */
  int slot[NSLOTS];   /* index into chans of the channel in play */
  int nchans;
  int closes_left; /* random closes still allowed */
  struct chan_rec chans[MAX_CHANS];

  _Atomic uint8_t *sent; /* per id: ID_* */
  _Atomic uint8_t *got;  /* per id: times received */
  _Atomic long progress; /* operations completed */
  atomic_int finished;   /* workers done */
  struct pub pub[MAX_WORKERS];

  atomic_int failed;   /* a worker saw a broken property */
  char why[512];       /* the first one, written by whoever set failed */
  atomic_long stat[8]; /* statistics, for the log */
} run;

enum { ST_SEND, ST_RECV, ST_SELECT, ST_CLOSED_SEEN, ST_TIMEOUT, ST_STALLS, ST_HEAPSEL, ST_CLOSES };

static void flunk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Record the first broken property (from any thread); the test fails at
 * the end. */
static void
flunk(const char *fmt, ...)
{
  int expect = 0;
  if (!atomic_compare_exchange_strong(&run.failed, &expect, 1))
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(run.why, sizeof run.why, fmt, ap);
  va_end(ap);
  fprintf(stderr, "check_stress: FAILED (GORO_STRESS_SEED=%llu variant %d): %s\n",
          (unsigned long long)stress_seed, run.variant, run.why);
}

static uint64_t
checksum(uint32_t id)
{
  return splitmix64(run.seed ^ ((uint64_t)id << 20) ^ 0x5bd1e995u);
}

static size_t
random_cap(struct rng *r)
{
  switch (run.variant) {
  case 1:
    return 0;
  case 2:
    return 1 + rng_below(r, 8);
  default:
    return rng_below(r, 3) == 0 ? 0 : 1 + rng_below(r, 8);
  }
}

/* Make a channel and register it; run.mu held. Returns its index, or -1
 * when the run has made all it may. */
static int
chan_add_locked(struct rng *r)
{
  if (run.nchans == MAX_CHANS)
    return -1;
  goro_chan *c = goro_chan_make(sizeof(struct item), random_cap(r));
  if (c == NULL) {
    flunk("goro_chan_make failed");
    return -1;
  }
  int i = run.nchans++;
  run.chans[i].c = c;
  return i;
}

/* A reference to the channel in slot s, and its index. */
static goro_chan *
slot_get(int s, int *idx)
{
  pthread_mutex_lock(&run.mu);
  *idx = run.slot[s];
  goro_chan *c = goro_chan_retain(run.chans[*idx].c);
  pthread_mutex_unlock(&run.mu);
  return c;
}

/* Close channel i; exactly one close may succeed, every other returns
 * GORO_EPIPE. Which close is first is the library's to decide: two
 * workers that both set closing may reach goro_chan_close in either
 * order, so the check is on the results, not on who set the flag. */
static void
close_chan(int i)
{
  atomic_store(&run.chans[i].closing, true);
  int rc = goro_chan_close(run.chans[i].c);
  if (rc == 0) {
    if (atomic_exchange(&run.chans[i].closed_ok, true))
      flunk("two closes of channel %d returned 0", i);
    atomic_fetch_add(&run.stat[ST_CLOSES], 1);
  } else if (rc != GORO_EPIPE) {
    flunk("close of channel %d returned %d (%s)", i, rc, goro_strerror(rc));
  }
}

/* Close the channel in slot s and put a fresh one there (if any is left). */
static void
slot_replace(int s, struct rng *r)
{
  pthread_mutex_lock(&run.mu);
  int old = run.slot[s];
  int fresh = chan_add_locked(r);
  if (fresh >= 0)
    run.slot[s] = fresh;
  pthread_mutex_unlock(&run.mu);
  close_chan(old);
}

/* ---- Checking values --------------------------------------------------- */

/* A fresh id of this worker's (each select send case takes one, so a
 * worker has MAX_CASES per operation). */
static uint32_t
new_id(int worker, size_t *next)
{
  if (*next >= run.ids_per_worker) {
    flunk("worker %d ran out of ids", worker);
    *next = 0;
  }
  return (uint32_t)((size_t)worker * run.ids_per_worker + (*next)++);
}

static struct item
item_for(uint32_t id, int worker)
{
  return (struct item){.id = id, .worker = (uint32_t)worker, .sum = checksum(id)};
}

static void
set_sent(uint32_t id, int what)
{
  uint8_t old = atomic_exchange(&run.sent[id], (uint8_t)what);
  if (old != ID_UNUSED)
    flunk("id %u reported twice (%d then %d)", id, old, what);
}

/* A value arrived from channel ci. */
static void
got_item(const struct item *it, int ci, const char *how)
{
  if (it->id >= run.nids || it->sum != checksum(it->id) ||
      it->worker != it->id / run.ids_per_worker) {
    flunk("%s on channel %d: corrupt value (id %u, worker %u, sum %llx)", how, ci, it->id,
          it->worker, (unsigned long long)it->sum);
    return;
  }
  uint8_t n = atomic_fetch_add(&run.got[it->id], 1);
  if (n != 0)
    flunk("%s on channel %d: id %u received %u times", how, ci, it->id, n + 1u);
}

static bool
is_zero(const struct item *it)
{
  static const struct item zero;
  return memcmp(it, &zero, sizeof zero) == 0;
}

/* A receive reported "closed and drained" on channel ci. */
static void
got_closed(const struct item *it, int ci, const char *how)
{
  atomic_fetch_add(&run.stat[ST_CLOSED_SEEN], 1);
  if (!atomic_load(&run.chans[ci].closing))
    flunk("%s on channel %d reported closed, but nobody closed it", how, ci);
  if (!is_zero(it))
    flunk("%s on channel %d reported closed without zero-filling elem", how, ci);
}

/* A send reported the channel closed. */
static void
got_rejected(int ci, const char *how)
{
  if (!atomic_load(&run.chans[ci].closing))
    flunk("%s on channel %d reported closed, but nobody closed it", how, ci);
}

/* ---- Workers ----------------------------------------------------------- */

struct worker {
  int id;
  struct rng r;
  size_t next_id;
  goro_wg *wg; /* NULL for the foreign thread */
};

static void
publish(struct worker *w, int n, const int *chan, const int *op)
{
  struct pub *p = &run.pub[w->id];
  atomic_fetch_add(&p->seq, 1);
  for (int i = 0; i < n; i++) {
    atomic_store(&p->chan[i], chan[i]);
    atomic_store(&p->op[i], op[i]);
  }
  atomic_store(&p->n, n);
  atomic_store(&p->blocked, true);
}

static void
unpublish(struct worker *w)
{
  atomic_store(&run.pub[w->id].blocked, false);
}

static void
op_send(struct worker *w, bool blocking)
{
  int ci;
  goro_chan *c = slot_get(rng_below(&w->r, NSLOTS), &ci);
  uint32_t id = new_id(w->id, &w->next_id);
  struct item it = item_for(id, w->id);
  int rc;
  if (blocking) {
    int op = GORO_SEND;
    publish(w, 1, &ci, &op);
    rc = goro_chan_send(c, &it);
    unpublish(w);
  } else {
    rc = goro_chan_trysend(c, &it);
  }
  if (rc == 0) {
    set_sent(id, ID_DELIVERED);
    atomic_fetch_add(&run.stat[ST_SEND], 1);
  } else if (rc == GORO_EPIPE) {
    set_sent(id, ID_REJECTED);
    got_rejected(ci, blocking ? "send" : "trysend");
  } else if (rc == GORO_EAGAIN && !blocking) {
    set_sent(id, ID_NOT_SENT);
  } else {
    set_sent(id, ID_NOT_SENT);
    flunk("%s returned %d (%s)", blocking ? "send" : "trysend", rc, goro_strerror(rc));
  }
  goro_chan_release(c);
}

static void
op_recv(struct worker *w, bool blocking)
{
  int ci;
  goro_chan *c = slot_get(rng_below(&w->r, NSLOTS), &ci);
  struct item it;
  memset(&it, 0xa5, sizeof it);
  int rc;
  if (blocking) {
    int op = GORO_RECV;
    publish(w, 1, &ci, &op);
    rc = goro_chan_recv(c, &it);
    unpublish(w);
  } else {
    rc = goro_chan_tryrecv(c, &it);
  }
  const char *how = blocking ? "recv" : "tryrecv";
  if (rc == 1) {
    got_item(&it, ci, how);
    atomic_fetch_add(&run.stat[ST_RECV], 1);
  } else if (rc == 0) {
    got_closed(&it, ci, how);
  } else if (!(rc == GORO_EAGAIN && !blocking)) {
    flunk("%s returned %d (%s)", how, rc, goro_strerror(rc));
  }
  goro_chan_release(c);
}

static void
op_select(struct worker *w)
{
  goro_case cases[MAX_CASES];
  struct item items[MAX_CASES];
  uint32_t ids[MAX_CASES];
  int ci[MAX_CASES];
  int pchan[MAX_CASES], pop[MAX_CASES], npub = 0;
  size_t n =
      rng_below(&w->r, 10) == 0 ? 17 + rng_below(&w->r, MAX_CASES - 16) : rng_below(&w->r, 7);
  size_t active = 0;
  for (size_t i = 0; i < n; i++) {
    int op = rng_below(&w->r, 2) ? GORO_SEND : GORO_RECV;
    goro_chan *c = NULL;
    ci[i] = -1;
    uint32_t pick = rng_below(&w->r, 100);
    if (pick < 15) {
      c = NULL; /* a nil channel: never ready */
    } else if (pick < 35 && i > 0 && cases[i - 1].chan != NULL) {
      ci[i] = ci[i - 1]; /* the same channel again, either direction */
      c = goro_chan_retain(cases[i - 1].chan);
    } else {
      c = slot_get(rng_below(&w->r, NSLOTS), &ci[i]);
    }
    if (op == GORO_SEND) {
      ids[i] = new_id(w->id, &w->next_id);
      items[i] = item_for(ids[i], w->id);
    } else {
      memset(&items[i], 0xa5, sizeof items[i]);
    }
    cases[i] = (goro_case){.chan = c, .op = op, .elem = &items[i], .ok = false};
    if (c != NULL) {
      active++;
      pchan[npub] = ci[i];
      pop[npub] = op;
      npub++;
    }
  }
  int64_t timeout;
  uint32_t t = rng_below(&w->r, 4);
  if (t == 0)
    timeout = 0;
  else if (t == 1 || active == 0)
    timeout = (int64_t)rng_below(&w->r, 2000) * GORO_MICROSECOND;
  else
    timeout = GORO_FOREVER;
  if (timeout == GORO_FOREVER)
    publish(w, npub, pchan, pop);
  int rc = goro_select(cases, n, timeout);
  if (timeout == GORO_FOREVER)
    unpublish(w);
  atomic_fetch_add(&run.stat[ST_SELECT], 1);
  if (n > 16)
    atomic_fetch_add(&run.stat[ST_HEAPSEL], 1);

  if (rc >= 0) {
    if ((size_t)rc >= n || cases[rc].chan == NULL) {
      flunk("select of %zu cases returned %d: no such active case", n, rc);
      rc = -1000;
    }
  } else if (rc == GORO_EAGAIN) {
    if (timeout != 0)
      flunk("select with timeout %lld returned GORO_EAGAIN", (long long)timeout);
  } else if (rc == GORO_ETIMEDOUT) {
    if (timeout <= 0)
      flunk("select with timeout %lld returned GORO_ETIMEDOUT", (long long)timeout);
    atomic_fetch_add(&run.stat[ST_TIMEOUT], 1);
  } else {
    flunk("select returned %d (%s)", rc, goro_strerror(rc));
  }
  for (size_t i = 0; i < n; i++) {
    bool chosen = rc >= 0 && (size_t)rc == i;
    if (cases[i].op == GORO_SEND) {
      if (!chosen) {
        set_sent(ids[i], ID_NOT_SENT);
      } else if (cases[i].ok) {
        set_sent(ids[i], ID_DELIVERED);
        atomic_fetch_add(&run.stat[ST_SEND], 1);
      } else {
        set_sent(ids[i], ID_REJECTED);
        got_rejected(ci[i], "select send case");
      }
    } else if (chosen) {
      if (cases[i].ok) {
        got_item(&items[i], ci[i], "select recv case");
        atomic_fetch_add(&run.stat[ST_RECV], 1);
      } else {
        got_closed(&items[i], ci[i], "select recv case");
      }
    }
    goro_chan_release(cases[i].chan);
  }
}

static void
op_len(struct worker *w)
{
  int ci;
  goro_chan *c = slot_get(rng_below(&w->r, NSLOTS), &ci);
  size_t len = goro_chan_len(c), cap = goro_chan_cap(c);
  if (cap > 8 || len > cap)
    flunk("channel %d: len %zu, cap %zu", ci, len, cap);
  goro_chan_release(c);
}

/* Replace a closed slot by a fresh channel if there is one; else close
 * the channel of a random slot, and leave it there until the next call
 * (its users see it closed meanwhile) or replace it at once. */
static void
op_close(struct worker *w)
{
  int s = rng_below(&w->r, NSLOTS);
  pthread_mutex_lock(&run.mu);
  bool replace = false;
  for (int k = 0; k < NSLOTS && run.closes_left > 0; k++) {
    if (atomic_load(&run.chans[run.slot[k]].closing)) {
      s = k;
      replace = true;
      break;
    }
  }
  int ci = run.slot[s];
  if (!replace && run.closes_left > 0 && rng_below(&w->r, 2) == 0)
    replace = true;
  if (replace)
    run.closes_left--;
  pthread_mutex_unlock(&run.mu);
  if (replace)
    slot_replace(s, &w->r); /* a closed one is closed again: GORO_EPIPE */
  else
    close_chan(ci);
}

static void
worker_run(struct worker *w)
{
  for (size_t k = 0; k < run.ops && !atomic_load(&run.failed); k++) {
    uint32_t p = rng_below(&w->r, 1000);
    if (p < 200)
      op_send(w, true);
    else if (p < 400)
      op_recv(w, true);
    else if (p < 520)
      op_send(w, false);
    else if (p < 640)
      op_recv(w, false);
    else if (p < 950)
      op_select(w);
    else if (p < 996)
      op_len(w);
    else
      op_close(w);
    atomic_fetch_add(&run.progress, 1);
  }
  atomic_fetch_add(&run.finished, 1);
}

static void
worker_main(void *arg)
{
  struct worker *w = arg;
  worker_run(w);
  goro_wg_done(w->wg);
}

static void *
foreign_main(void *arg)
{
  worker_run(arg);
  return NULL;
}

/* ---- The coordinator --------------------------------------------------- */

/* Two workers waiting on opposite ends of one channel, or one waiting on a
 * channel closed before it began: each should have been woken. Writes the
 * pair to msg and returns true when found. */
static bool
impossible_wait(char *msg, size_t len)
{
  for (int a = 0; a < run.nworkers; a++) {
    struct pub *pa = &run.pub[a];
    if (!atomic_load(&pa->blocked))
      continue;
    int na = atomic_load(&pa->n);
    for (int i = 0; i < na; i++) {
      int ca = atomic_load(&pa->chan[i]), oa = atomic_load(&pa->op[i]);
      if (atomic_load(&run.chans[ca].closed_ok)) {
        snprintf(msg, len, "worker %d waits to %s on channel %d, which is closed", a,
                 oa == GORO_SEND ? "send" : "receive", ca);
        return true;
      }
      for (int b = a + 1; b < run.nworkers; b++) {
        struct pub *pb = &run.pub[b];
        if (!atomic_load(&pb->blocked))
          continue;
        int nb = atomic_load(&pb->n);
        for (int j = 0; j < nb; j++) {
          if (atomic_load(&pb->chan[j]) == ca && atomic_load(&pb->op[j]) != oa) {
            snprintf(msg, len, "workers %d and %d wait on opposite ends of channel %d", a, b, ca);
            return true;
          }
        }
      }
    }
  }
  return false;
}

/* The coordinator's ids come after the workers': COORD_IDS workers'
 * worth, one per value it sends to a blocked worker. */
enum { COORD_IDS = 4 };
static size_t coord_next_id;

/* Every unfinished worker is blocked without a deadline: act as the
 * partner of each (receive what it sends, send what it waits for), so
 * the run goes on with its channels open. Returns how many operations
 * went through. */
static int
unblock_workers(void)
{
  int done = 0;
  for (int a = 0; a < run.nworkers; a++) {
    struct pub *p = &run.pub[a];
    int n = atomic_load(&p->n);
    if (!atomic_load(&p->blocked) || n == 0)
      continue;
    /* One waiting on a closed channel should have been woken by the close:
     * leave it be, so that the stall check can see it. */
    bool on_closed = false;
    for (int i = 0; i < n; i++)
      on_closed |= atomic_load(&run.chans[atomic_load(&p->chan[i])].closed_ok);
    if (on_closed)
      continue;
    int ci = atomic_load(&p->chan[0]);
    /* The run's own reference keeps it. Read under run.mu, which its
     * maker held: valgrind sees that edge, not the atomic above. */
    pthread_mutex_lock(&run.mu);
    goro_chan *c = run.chans[ci].c;
    pthread_mutex_unlock(&run.mu);
    if (atomic_load(&p->op[0]) == GORO_SEND) {
      struct item it;
      memset(&it, 0xa5, sizeof it);
      int rc = goro_chan_tryrecv(c, &it);
      if (rc == 1) {
        got_item(&it, ci, "coordinator tryrecv");
        done++;
      } else if (rc == 0) {
        got_closed(&it, ci, "coordinator tryrecv");
      }
    } else {
      if (coord_next_id >= COORD_IDS * run.ids_per_worker) {
        flunk("the coordinator ran out of ids");
        return done;
      }
      uint32_t id = (uint32_t)((size_t)run.nworkers * run.ids_per_worker + coord_next_id++);
      struct item it = item_for(id, (int)(id / run.ids_per_worker));
      int rc = goro_chan_trysend(c, &it);
      if (rc == 0) {
        set_sent(id, ID_DELIVERED);
        done++;
      } else {
        coord_next_id--; /* nothing went out under id: use it again */
        if (rc == GORO_EPIPE)
          got_rejected(ci, "coordinator trysend");
      }
    }
  }
  return done;
}

static bool
all_blocked(void)
{
  int blocked = 0;
  for (int a = 0; a < run.nworkers; a++)
    blocked += atomic_load(&run.pub[a].blocked);
  return blocked + atomic_load(&run.finished) >= run.nworkers;
}

/* Wait for the workers; when all of them are blocked, partner them. Fails
 * the run when a wait that should have ended lasts (a lost wakeup), or
 * when the run takes far too long. */
static void
coordinate(struct rng *r)
{
  const int64_t stall_ns = 10 * GORO_MILLISECOND;
  const int64_t stuck_ns = (int64_t)(5 * slowness()) * GORO_SECOND;
  const int64_t limit = goro_now() + (int64_t)(80 * slowness()) * GORO_SECOND;
  long last = -1;
  int64_t since = goro_now();
  while (atomic_load(&run.finished) < run.nworkers) {
    nap(2 * MS);
    int64_t now = goro_now();
    if (now > limit) {
      flunk("the run did not finish in time (%d of %d workers done)", atomic_load(&run.finished),
            run.nworkers);
      goro_dump(stderr);
      break;
    }
    long p = atomic_load(&run.progress);
    if (p != last) {
      last = p;
      since = now;
      continue;
    }
    if (now - since < stall_ns)
      continue;
    if (all_blocked() && unblock_workers() > 0) {
      atomic_fetch_add(&run.stat[ST_STALLS], 1);
      since = now;
      continue;
    }
    if (now - since < stuck_ns)
      continue;
    /* Nothing moved for a long time. */
    char msg[200];
    if (impossible_wait(msg, sizeof msg)) {
      flunk("lost wakeup: %s, with no progress for %lld ms", msg,
            (long long)((now - since) / GORO_MILLISECOND));
      goro_dump(stderr);
      break;
    }
    for (int s = 0; s < NSLOTS; s++)
      slot_replace(s, r);
    since = goro_now();
  }
  /* Whatever happened, make sure everyone can finish. */
  if (atomic_load(&run.failed))
    for (int i = 0; i < run.nchans; i++)
      close_chan(i);
}

static void
run_stress(int variant, int nworkers, size_t ops)
{
  memset(&run, 0, sizeof run);
  run.seed = stress_seed + (uint64_t)variant;
  run.variant = variant;
  run.nworkers = nworkers;
  run.ops = ops;
  run.ids_per_worker = ops * MAX_CASES + 1;                       /* one per send case at most */
  run.nids = run.ids_per_worker * (size_t)(nworkers + COORD_IDS); /* + the coordinator's */
  run.closes_left = 150;
  coord_next_id = 0;
  pthread_mutex_init(&run.mu, NULL);
  run.sent = calloc(run.nids, 1);
  run.got = calloc(run.nids, 1);
  ck_assert(run.sent != NULL && run.got != NULL);

  struct rng r = {splitmix64(run.seed) | 1};
  for (int s = 0; s < NSLOTS; s++) {
    run.slot[s] = chan_add_locked(&r);
    ck_assert_int_ge(run.slot[s], 0);
  }

  goro_wg *wg = goro_wg_make();
  ck_assert_ptr_nonnull(wg);
  struct worker *ws = calloc((size_t)nworkers, sizeof *ws);
  ck_assert_ptr_nonnull(ws);
  pthread_t foreign;
  for (int i = 0; i < nworkers; i++) {
    ws[i] = (struct worker){.id = i, .r = {splitmix64(run.seed + 1 + (uint64_t)i) | 1}, .wg = wg};
    if (i == 0) {
      ck_assert_int_eq(pthread_create(&foreign, NULL, foreign_main, &ws[i]), 0);
      continue;
    }
    ck_assert_int_eq(goro_wg_add(wg, 1), 0);
    int rc = goro_go(worker_main, &ws[i]);
    ck_assert_msg(rc == 0, "goro_go: %s", goro_strerror(rc));
  }

  coordinate(&r);
  goro_wg_wait(wg);
  pthread_join(foreign, NULL);
  goro_wg_free(wg);

  /* Close everything and drain what is left. */
  for (int i = 0; i < run.nchans; i++) {
    close_chan(i);
    struct item it;
    int rc;
    for (;;) {
      memset(&it, 0xa5, sizeof it);
      rc = goro_chan_recv(run.chans[i].c, &it);
      if (rc != 1)
        break;
      got_item(&it, i, "final drain");
    }
    if (rc != 0)
      flunk("final drain of channel %d: recv returned %d", i, rc);
    else if (!is_zero(&it))
      flunk("final drain of channel %d: closed recv did not zero-fill", i);
    if (goro_chan_len(run.chans[i].c) != 0)
      flunk("channel %d: len %zu after draining", i, goro_chan_len(run.chans[i].c));
    goro_chan_release(run.chans[i].c);
  }

  /* Every delivered value arrived exactly once; nothing else arrived. */
  size_t delivered = 0, rejected = 0, unsent = 0;
  for (size_t id = 0; id < run.nids && !atomic_load(&run.failed); id++) {
    uint8_t s = atomic_load(&run.sent[id]), g = atomic_load(&run.got[id]);
    if (s == ID_DELIVERED) {
      delivered++;
      if (g != 1)
        flunk("id %zu: send succeeded but it was received %u times", id, g);
    } else if (g != 0) {
      flunk("id %zu: received %u times, but its send %s", id, g,
            s == ID_REJECTED   ? "reported the channel closed"
            : s == ID_NOT_SENT ? "did not happen"
                               : "was never made");
    } else if (s == ID_REJECTED) {
      rejected++;
    } else if (s == ID_NOT_SENT) {
      unsent++;
    }
  }
  fprintf(stderr,
          "check_stress: variant %d seed %llu: %d workers x %zu ops; %zu delivered, %zu "
          "rejected, %zu not sent; %ld selects (%ld with > 16 cases, %ld timed out), %ld closed "
          "results, %ld closes, %ld stalls broken\n",
          variant, (unsigned long long)run.seed, nworkers, ops, delivered, rejected, unsent,
          atomic_load(&run.stat[ST_SELECT]), atomic_load(&run.stat[ST_HEAPSEL]),
          atomic_load(&run.stat[ST_TIMEOUT]), atomic_load(&run.stat[ST_CLOSED_SEEN]),
          atomic_load(&run.stat[ST_CLOSES]), atomic_load(&run.stat[ST_STALLS]));
  free(ws);
  free(run.sent);
  free(run.got);
  ck_assert_msg(!atomic_load(&run.failed), "GORO_STRESS_SEED=%llu variant %d: %s",
                (unsigned long long)stress_seed, variant, run.why);
  ck_assert_msg(delivered > 0, "GORO_STRESS_SEED=%llu variant %d: nothing was delivered",
                (unsigned long long)stress_seed, variant);
}

static size_t
ops_per_worker(void)
{
  return scaled(UNDER_TSAN ? 600 : 2500);
}

/* ---- Tests ------------------------------------------------------------- */

/* _i: 0 mixed capacities, 1 unbuffered only, 2 buffered only. */
START_TEST(test_stress_random_ops_deliver_every_sent_value_exactly_once)
{
  run_stress(_i, 8, ops_per_worker());
}
END_TEST

/* Many more workers than cores, few operations each: more blocking. */
START_TEST(test_stress_many_workers_deliver_every_sent_value_exactly_once)
{
  run_stress(0, MAX_WORKERS, ops_per_worker() / 4 + 1);
}
END_TEST

static Suite *
stress_suite(void)
{
  Suite *s = suite_create("stress");
  TCase *tc = tcase_make("stress", 150);
  tcase_add_loop_test(tc, test_stress_random_ops_deliver_every_sent_value_exactly_once, 0, 3);
  tcase_add_test(tc, test_stress_many_workers_deliver_every_sent_value_exactly_once);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  const char *env = getenv("GORO_STRESS_SEED");
  if (env != NULL && *env != '\0')
    stress_seed = strtoull(env, NULL, 0);
  else
    stress_seed = splitmix64((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
  fprintf(stderr, "check_stress: GORO_STRESS_SEED=%llu\n", (unsigned long long)stress_seed);
  return run_suite(stress_suite());
}
