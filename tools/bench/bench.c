/* bench.c - goro's benchmark: eight workloads, and their Go twin in go/.
 *
 * Each workload (W1-W8, each described where it is defined below; a
 * run's figures are in README.md, "Benchmark") runs the same sizes as
 * tools/bench/go/bench.go, checks its own result, and prints one line:
 *
 *   W1_pingpong ns_per_op=<float> ops=<N>
 *
 * A wrong result prints a message on stderr and exits with status 1.
 * Two more measurements run only when asked for with -w: "rss" (peak
 * resident memory with 10,000 goroutines blocked) and "idle" (CPU used by
 * 1,000 blocked goroutines over 2 seconds).
 *
 * Ownership: every goroutine that is handed a channel gets its own
 * reference (goro_chan_retain before goro_go) and releases it when it is
 * done with the channel, so a goroutine may outlive its caller's interest
 * in the channel. A goroutine copies what it needs out of its argument
 * struct before it calls goro_wg_done, and touches the struct no more
 * after that: the struct lives in the caller's frame.
 *
 * Usage: bench [-w W1..W8|rss|idle[,...]] [-n SCALE]
 * -w runs only the workloads named, in the table's order (W1,W6 runs W6
 * in a process that ran W1 first, as the full run does).
 */
#include "config.h"

#include <goro.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The -n multiplier of every size. */
static double scale = 1.0;

/* Waiters (W8, rss, idle) that did not see their channel closed. */
static atomic_int_fast64_t waiter_errors;

/* Print "bench: name: message" on stderr and exit with status 1. Any
 * thread may call it. */
static void
die(const char *name, const char *fmt, ...)
{
  va_list ap;

  fprintf(stderr, "bench: %s: ", name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(EXIT_FAILURE);
}

/* n multiplied by the -n scale, at least 1. */
static int64_t
scaled(int64_t n)
{
  int64_t v = (int64_t)((double)n * scale);
  return v < 1 ? 1 : v;
}

static void
report(const char *name, int64_t ns, int64_t ops)
{
  printf("%s ns_per_op=%.1f ops=%lld\n", name, (double)ns / (double)ops, (long long)ops);
  fflush(stdout);
}

static goro_chan *
chan_make(const char *name, size_t cap)
{
  goro_chan *c = goro_chan_make(sizeof(int64_t), cap);
  if (c == NULL)
    die(name, "goro_chan_make: %s", goro_strerror(-errno));
  return c;
}

static goro_wg *
wg_make(const char *name)
{
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    die(name, "goro_wg_make: %s", goro_strerror(-errno));
  return wg;
}

/* Add one to wg and run fn(arg) in a goroutine; fn calls goro_wg_done. */
static void
spawn(const char *name, goro_wg *wg, goro_fn *fn, void *arg)
{
  int rc = goro_wg_add(wg, 1);
  if (rc < 0)
    die(name, "goro_wg_add: %s", goro_strerror(rc));
  rc = goro_go(fn, arg);
  if (rc < 0)
    die(name, "goro_go: %s", goro_strerror(rc));
}

static void
check_sum(const char *name, int64_t count, int64_t sum, int64_t n)
{
  if (count != n || sum != n * (n - 1) / 2)
    die(name, "got count %lld sum %lld, want %lld and %lld", (long long)count, (long long)sum,
        (long long)n, (long long)(n * (n - 1) / 2));
}

/* ---- Producers and consumers ------------------------------------------ */

/* A producer sends first, first+1, ..., first+n-1 on c, then closes c
 * when close is set. It owns one reference to c. */
struct producer {
  const char *name;
  goro_chan *c;
  goro_wg *wg;
  int64_t first;
  int64_t n;
  bool close;
};

static void
produce(void *arg)
{
  struct producer *p = arg;
  const char *name = p->name;
  goro_chan *c = p->c;
  goro_wg *wg = p->wg;
  int64_t end = p->first + p->n;
  bool close = p->close;

  for (int64_t i = p->first; i < end; i++) {
    int rc = goro_chan_send(c, &i);
    if (rc < 0)
      die(name, "send: %s", goro_strerror(rc));
  }
  if (close && goro_chan_close(c) < 0)
    die(name, "close failed");
  goro_wg_done(wg);
  goro_chan_release(c);
}

/* A consumer receives from c until it is closed and drained, then stores
 * how many values it got and their sum. It owns one reference to c. */
struct consumer {
  const char *name;
  goro_chan *c;
  goro_wg *wg;
  int64_t count; /* out, valid once wg is done */
  int64_t sum;   /* out, valid once wg is done */
};

static void
consume(void *arg)
{
  struct consumer *k = arg;
  goro_chan *c = k->c;
  goro_wg *wg = k->wg;
  int64_t count = 0, sum = 0, v;
  int rc;

  while ((rc = goro_chan_recv(c, &v)) > 0) {
    count++;
    sum += v;
  }
  if (rc < 0)
    die(k->name, "recv: %s", goro_strerror(rc));
  k->count = count;
  k->sum = sum;
  goro_wg_done(wg);
  goro_chan_release(c);
}

/* ---- W1 pingpong ------------------------------------------------------ */

/* The ponger answers every v received on ping with v+1 on pong, until
 * ping is closed. It owns one reference to each channel. */
struct pingpong {
  goro_chan *ping;
  goro_chan *pong;
  goro_wg *wg;
};

static void
ponger(void *arg)
{
  struct pingpong *pp = arg;
  goro_chan *ping = pp->ping, *pong = pp->pong;
  goro_wg *wg = pp->wg;
  int64_t v;

  while (goro_chan_recv(ping, &v) > 0) {
    v++;
    if (goro_chan_send(pong, &v) < 0)
      break;
  }
  goro_wg_done(wg);
  goro_chan_release(ping);
  goro_chan_release(pong);
}

/* W1: two goroutines, two unbuffered channels; one op is one round trip. */
static void
w1_pingpong(const char *name)
{
  int64_t n = scaled(200000);
  goro_chan *ping = chan_make(name, 0), *pong = chan_make(name, 0);
  goro_wg *wg = wg_make(name);
  struct pingpong pp = {goro_chan_retain(ping), goro_chan_retain(pong), wg};

  spawn(name, wg, ponger, &pp);
  int64_t start = goro_now();
  for (int64_t i = 0; i < n; i++) {
    int64_t v = i;
    if (goro_chan_send(ping, &v) < 0 || goro_chan_recv(pong, &v) != 1 || v != i + 1)
      die(name, "round trip %lld returned %lld", (long long)i, (long long)v);
  }
  int64_t ns = goro_now() - start;
  goro_chan_close(ping);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(ping);
  goro_chan_release(pong);
  report(name, ns, n);
}

/* ---- W2, W4: one producer, one consumer ------------------------------- */

/* One producer sends 0..n-1 on a channel of capacity cap and closes it;
 * the calling thread consumes. One op is one value. */
static void
spsc(const char *name, int64_t n, size_t cap)
{
  goro_chan *c = chan_make(name, cap);
  goro_wg *wg = wg_make(name);
  struct producer p = {name, goro_chan_retain(c), wg, 0, n, true};
  int64_t count = 0, sum = 0, v;
  int rc;

  int64_t start = goro_now();
  spawn(name, wg, produce, &p);
  while ((rc = goro_chan_recv(c, &v)) > 0) {
    count++;
    sum += v;
  }
  int64_t ns = goro_now() - start;
  if (rc < 0)
    die(name, "recv: %s", goro_strerror(rc));
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(c);
  check_sum(name, count, sum, n);
  report(name, ns, n);
}

/* W2: spsc on a buffered channel of capacity 1024. */
static void
w2_spsc_buffered(const char *name)
{
  spsc(name, scaled(5000000), 1024);
}

/* W4: spsc on an unbuffered channel. */
static void
w4_spsc_unbuffered(const char *name)
{
  spsc(name, scaled(1000000), 0);
}

/* ---- W3 mpmc_buffered ------------------------------------------------- */

enum { W3_PRODUCERS = 4, W3_CONSUMERS = 4 };

/* W3: 4 producers and 4 consumers share one channel of capacity 1024;
 * it is closed once every producer is done. One op is one value. */
static void
w3_mpmc_buffered(const char *name)
{
  int64_t per = scaled(4000000) / W3_PRODUCERS;
  if (per < 1)
    per = 1;
  int64_t n = per * W3_PRODUCERS;
  goro_chan *c = chan_make(name, 1024);
  goro_wg *wgp = wg_make(name), *wgc = wg_make(name);
  struct producer p[W3_PRODUCERS];
  struct consumer k[W3_CONSUMERS];
  int64_t count = 0, sum = 0;

  int64_t start = goro_now();
  for (int i = 0; i < W3_CONSUMERS; i++) {
    k[i] = (struct consumer){name, goro_chan_retain(c), wgc, 0, 0};
    spawn(name, wgc, consume, &k[i]);
  }
  for (int i = 0; i < W3_PRODUCERS; i++) {
    p[i] = (struct producer){name, goro_chan_retain(c), wgp, i * per, per, false};
    spawn(name, wgp, produce, &p[i]);
  }
  goro_wg_wait(wgp);
  goro_chan_close(c);
  goro_wg_wait(wgc);
  int64_t ns = goro_now() - start;
  for (int i = 0; i < W3_CONSUMERS; i++) {
    count += k[i].count;
    sum += k[i].sum;
  }
  goro_wg_free(wgp);
  goro_wg_free(wgc);
  goro_chan_release(c);
  check_sum(name, count, sum, n);
  report(name, ns, n);
}

/* ---- W5 select_fanin -------------------------------------------------- */

enum { W5_PRODUCERS = 8 };

/* W5: 8 producers, each on its own channel of capacity 64 that it closes
 * when done; the calling thread selects over the 8 and drops a case (sets
 * its channel to NULL) once it reports closed. One op is one value. */
static void
w5_select_fanin(const char *name)
{
  int64_t per = scaled(250000);
  int64_t n = per * W5_PRODUCERS;
  goro_chan *cs[W5_PRODUCERS];
  goro_case cases[W5_PRODUCERS];
  struct producer p[W5_PRODUCERS];
  goro_wg *wg = wg_make(name);
  int64_t count = 0, sum = 0, v;

  int64_t start = goro_now();
  for (int i = 0; i < W5_PRODUCERS; i++) {
    cs[i] = chan_make(name, 64);
    cases[i] = GORO_RECV_CASE(cs[i], &v);
    p[i] = (struct producer){name, goro_chan_retain(cs[i]), wg, i * per, per, true};
    spawn(name, wg, produce, &p[i]);
  }
  for (int open = W5_PRODUCERS; open > 0;) {
    int i = goro_select(cases, W5_PRODUCERS, GORO_FOREVER);
    if (i < 0)
      die(name, "goro_select: %s", goro_strerror(i));
    if (!cases[i].ok) {
      cases[i].chan = NULL;
      open--;
      continue;
    }
    count++;
    sum += v;
  }
  int64_t ns = goro_now() - start;
  goro_wg_wait(wg);
  goro_wg_free(wg);
  for (int i = 0; i < W5_PRODUCERS; i++)
    goro_chan_release(cs[i]);
  check_sum(name, count, sum, n);
  report(name, ns, n);
}

/* ---- W6 spawn --------------------------------------------------------- */

struct spawned {
  goro_wg *wg;
  atomic_int_fast64_t ran;
};

static void
count_and_done(void *arg)
{
  struct spawned *s = arg;
  atomic_fetch_add_explicit(&s->ran, 1, memory_order_relaxed);
  goro_wg_done(s->wg);
}

/* W6: n goroutines, each counting itself and calling goro_wg_done; the
 * calling thread adds one per spawn and waits. One op is one goroutine. */
static void
w6_spawn(const char *name)
{
  int64_t n = scaled(100000);
  struct spawned s = {wg_make(name), 0};

  int64_t start = goro_now();
  for (int64_t i = 0; i < n; i++)
    spawn(name, s.wg, count_and_done, &s);
  goro_wg_wait(s.wg);
  int64_t ns = goro_now() - start;
  goro_wg_free(s.wg);
  int64_t ran = atomic_load(&s.ran);
  if (ran != n)
    die(name, "%lld goroutines ran, want %lld", (long long)ran, (long long)n);
  report(name, ns, n);
}

/* ---- W7 pipeline ------------------------------------------------------ */

/* The squarer sends x*x (wrapping, as uint64) on out for every x received
 * on in, and closes out once in is closed. It owns one reference to each. */
struct stage {
  const char *name;
  goro_chan *in;
  goro_chan *out;
  goro_wg *wg;
};

static void
squarer(void *arg)
{
  struct stage *st = arg;
  const char *name = st->name;
  goro_chan *in = st->in, *out = st->out;
  goro_wg *wg = st->wg;
  int64_t x;
  int rc;

  while ((rc = goro_chan_recv(in, &x)) > 0) {
    int64_t y = (int64_t)((uint64_t)x * (uint64_t)x);
    if ((rc = goro_chan_send(out, &y)) < 0)
      break;
  }
  if (rc < 0)
    die(name, "squarer: %s", goro_strerror(rc));
  goro_chan_close(out);
  goro_wg_done(wg);
  goro_chan_release(in);
  goro_chan_release(out);
}

/* W7: counter -> squarer -> summer on unbuffered channels (gopl 8.4.2);
 * the calling thread is the summer. One op is one value through all
 * three stages. */
static void
w7_pipeline(const char *name)
{
  int64_t n = scaled(1000000);
  goro_chan *naturals = chan_make(name, 0), *squares = chan_make(name, 0);
  goro_wg *wg = wg_make(name);
  struct producer counter = {name, goro_chan_retain(naturals), wg, 0, n, true};
  struct stage sq = {name, goro_chan_retain(naturals), goro_chan_retain(squares), wg};
  int64_t count = 0, v;
  uint64_t sum = 0, want = 0;
  int rc;

  int64_t start = goro_now();
  spawn(name, wg, produce, &counter);
  spawn(name, wg, squarer, &sq);
  while ((rc = goro_chan_recv(squares, &v)) > 0) {
    count++;
    sum += (uint64_t)v;
  }
  int64_t ns = goro_now() - start;
  if (rc < 0)
    die(name, "recv: %s", goro_strerror(rc));
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(naturals);
  goro_chan_release(squares);
  for (uint64_t i = 0; i < (uint64_t)n; i++)
    want += i * i;
  if (count != n || sum != want)
    die(name, "got count %lld sum %llu, want %lld and %llu", (long long)count,
        (unsigned long long)sum, (long long)n, (unsigned long long)want);
  report(name, ns, n);
}

/* ---- Blocked waiters: W8, rss, idle ----------------------------------- */

/* A group of goroutines blocked receiving on one unbuffered channel. Each
 * waiter owns one reference to c, calls goro_wg_done on ready before it
 * blocks and on done once the close woke it, and counts an error unless
 * it saw c closed. */
struct waiters {
  const char *name;
  goro_chan *c;
  goro_wg *ready;
  goro_wg *done;
};

static void
wait_for_close(void *arg)
{
  struct waiters *w = arg;
  goro_chan *c = w->c;
  goro_wg *done = w->done;
  int64_t v = -1;

  goro_wg_done(w->ready);
  if (goro_chan_recv(c, &v) != 0 || v != 0)
    atomic_fetch_add(&waiter_errors, 1);
  goro_wg_done(done);
  goro_chan_release(c);
}

/* Start n waiters on a new channel, wait until each has started, then
 * sleep settle_ns so that every one of them is blocked (parked). */
static void
waiters_start(struct waiters *w, const char *name, int64_t n, int64_t settle_ns)
{
  w->name = name;
  w->c = chan_make(name, 0);
  w->ready = wg_make(name);
  w->done = wg_make(name);
  int rc = goro_wg_add(w->ready, n);
  if (rc < 0)
    die(name, "goro_wg_add: %s", goro_strerror(rc));
  for (int64_t i = 0; i < n; i++) {
    goro_chan_retain(w->c);
    spawn(name, w->done, wait_for_close, w);
  }
  goro_wg_wait(w->ready);
  goro_sleep(settle_ns);
}

/* Close the channel, wait until every waiter is done, free the group. */
static void
waiters_release(struct waiters *w)
{
  if (goro_chan_close(w->c) < 0)
    die(w->name, "close failed");
  goro_wg_wait(w->done);
  goro_wg_free(w->ready);
  goro_wg_free(w->done);
  goro_chan_release(w->c);
  int64_t errors = atomic_exchange(&waiter_errors, 0);
  if (errors != 0)
    die(w->name, "%lld waiters did not see the channel closed", (long long)errors);
}

enum { W8_WAITERS = 1000 };

/* W8: per round, 1000 goroutines block receiving on one channel, then one
 * close wakes them all and each calls goro_wg_done. Timed from just before
 * the close until goro_wg_wait returns; one op is one waiter woken, so
 * ns_per_op is the summed time over 1000 * rounds. Starting the waiters
 * and letting them block (10 ms) is not timed. */
static void
w8_close_broadcast(const char *name)
{
  int64_t rounds = scaled(20), ns = 0;

  for (int64_t r = 0; r < rounds; r++) {
    struct waiters w;
    waiters_start(&w, name, W8_WAITERS, 10 * GORO_MILLISECOND);
    int64_t start = goro_now();
    waiters_release(&w);
    ns += goro_now() - start;
  }
  report(name, ns, W8_WAITERS * rounds);
}

/* The value in kB of the /proc/self/status line starting with key, or -1. */
static long
proc_status_kib(const char *key)
{
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t len = strlen(key);
  long kib = -1;

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, key, len) == 0 && line[len] == ':') {
      kib = strtol(line + len + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kib;
}

/* rss: peak resident memory (VmHWM) with 10,000 goroutines blocked. */
static void
rss_10k_blocked(const char *name)
{
  struct waiters w;

  waiters_start(&w, name, 10000, 200 * GORO_MILLISECOND);
  long hwm = proc_status_kib("VmHWM"), rss = proc_status_kib("VmRSS");
  if (hwm < 0 || rss < 0)
    die(name, "cannot read VmHWM/VmRSS from /proc/self/status");
  printf("%s peak_rss_kib=%ld rss_kib=%ld\n", name, hwm, rss);
  fflush(stdout);
  waiters_release(&w);
}

static int64_t
process_cpu_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * GORO_SECOND + ts.tv_nsec;
}

/* idle: CPU time used by the whole process over 2 seconds while 1,000
 * goroutines are blocked and nothing else happens, in percent of one
 * core. Measuring starts 100 ms after every waiter has started. */
static void
idle_1k_blocked(const char *name)
{
  struct waiters w;

  waiters_start(&w, name, 1000, 100 * GORO_MILLISECOND);
  int64_t cpu0 = process_cpu_ns(), t0 = goro_now();
  goro_sleep(2 * GORO_SECOND);
  int64_t cpu1 = process_cpu_ns(), t1 = goro_now();
  printf("%s cpu_pct=%.3f\n", name, 100.0 * (double)(cpu1 - cpu0) / (double)(t1 - t0));
  fflush(stdout);
  waiters_release(&w);
}

/* ---- Main ------------------------------------------------------------- */

static const struct workload {
  const char *name;
  void (*run)(const char *name);
  bool extra; /* only run when selected with -w */
} workloads[] = {
    {"W1_pingpong", w1_pingpong, false},
    {"W2_spsc_buffered", w2_spsc_buffered, false},
    {"W3_mpmc_buffered", w3_mpmc_buffered, false},
    {"W4_spsc_unbuffered", w4_spsc_unbuffered, false},
    {"W5_select_fanin", w5_select_fanin, false},
    {"W6_spawn", w6_spawn, false},
    {"W7_pipeline", w7_pipeline, false},
    {"W8_close_broadcast", w8_close_broadcast, false},
    {"rss_10k_blocked", rss_10k_blocked, true},
    {"idle_1k_blocked", idle_1k_blocked, true},
};

/* Whether tok (len bytes) names the workload: its full name, or what
 * comes before the first '_' (W3, rss, idle), in any case. */
static bool
names(const char *tok, size_t len, const char *name)
{
  size_t idlen = strcspn(name, "_");
  return (len == strlen(name) || len == idlen) && strncasecmp(tok, name, len) == 0;
}

/* Whether the comma-separated list sel names the workload. */
static bool
selects(const char *sel, const char *name)
{
  for (;;) {
    size_t len = strcspn(sel, ",");
    if (names(sel, len, name))
      return true;
    if (sel[len] == '\0')
      return false;
    sel += len + 1;
  }
}

/* Exit with a message unless every name in the list sel is a workload's. */
static void
check_selection(const char *sel)
{
  for (;;) {
    size_t len = strcspn(sel, ",");
    bool known = false;
    for (size_t i = 0; i < sizeof workloads / sizeof workloads[0] && !known; i++)
      known = names(sel, len, workloads[i].name);
    if (!known) {
      fprintf(stderr, "bench: unknown workload '%.*s'\n", (int)len, sel);
      exit(2);
    }
    if (sel[len] == '\0')
      return;
    sel += len + 1;
  }
}

static void
usage(void)
{
  fprintf(stderr, "usage: bench [-w W1..W8|rss|idle[,...]] [-n SCALE]\n");
  exit(2);
}

int
main(int argc, char **argv)
{
  const char *sel = NULL;
  int opt, ran = 0;
  char *end;

  while ((opt = getopt(argc, argv, "w:n:h")) != -1) {
    switch (opt) {
    case 'w':
      sel = optarg;
      break;
    case 'n':
      scale = strtod(optarg, &end);
      if (*end != '\0' || !(scale > 0))
        usage();
      break;
    default:
      usage();
    }
  }
  if (optind != argc)
    usage();
  if (sel != NULL)
    check_selection(sel);
  for (size_t i = 0; i < sizeof workloads / sizeof workloads[0]; i++) {
    const struct workload *w = &workloads[i];
    if (sel == NULL ? !w->extra : selects(sel, w->name)) {
      w->run(w->name);
      ran++;
    }
  }
  if (ran == 0) {
    fprintf(stderr, "bench: unknown workload '%s'\n", sel);
    return 2;
  }
  return 0;
}
