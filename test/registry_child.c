/* registry_child.c - small programs that check_registry runs in a child
 * process, one per mode, to watch what the whole process does: deadlock
 * detection (exit status 2 and a dump on stderr), GORO_LEAKCHECK=1 and
 * GORO_DUMP_SIGNAL=1 (goro_leakcheck(3), goro(3) ENVIRONMENT).
 *
 * Usage: registry_child MODE. Modes that must not deadlock exit 0 when all
 * went as planned, 1 on bad usage, 3 when a goro call returned something
 * unexpected. Modes that do deadlock block forever; goro ends them with
 * status 2. Lines starting with "ready" go to stderr once the interesting
 * state is reached, so the parent can time what follows from them.
 *
 * A 300 s alarm ends any mode, so a child whose parent died never lingers.
 */
#include <goro.h>
#include <stdbool.h>

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- Helpers ----------------------------------------------------------- */

static void
die(const char *what, int rc)
{
  fprintf(stderr, "registry_child: %s: %s\n", what, goro_strerror(rc));
  exit(3);
}

static goro_chan *
named_chan(const char *name)
{
  goro_chan *c = goro_chan_make(sizeof(int), 0);
  if (c == NULL)
    die("goro_chan_make", -errno);
  goro_chan_set_name(c, name);
  return c;
}

static void
sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Poll goro_dump until it contains needle (up to 30 s). */
static void
await_dump(const char *needle)
{
  for (int i = 0; i < 3000; i++) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
      die("open_memstream", -errno);
    goro_dump(f);
    fclose(f);
    bool found = strstr(buf, needle) != NULL;
    free(buf);
    if (found)
      return;
    sleep_ms(10);
  }
  fprintf(stderr, "registry_child: never saw \"%s\" in a dump\n", needle);
  exit(3);
}

static void
ready(void)
{
  fprintf(stderr, "ready %lld\n", (long long)goro_now());
}

/* A goroutine that receives once from its channel (or until it closes),
 * then marks wg done. */
struct receiver {
  goro_chan *c;
  goro_wg *wg;
};

static void
receiver_main(void *arg)
{
  struct receiver *r = arg;
  goro_chan_recv(r->c, NULL);
  goro_wg_done(r->wg);
}

static void
start_receiver(struct receiver *r, const char *name, goro_chan *c, goro_wg *wg)
{
  r->c = c;
  r->wg = wg;
  goro_wg_add(wg, 1);
  int rc = name != NULL ? goro_go_named(name, receiver_main, r) : goro_go(receiver_main, r);
  if (rc != 0)
    die("goro_go", rc);
}

/* Not static: with the program linked -rdynamic, dladdr names it in dumps. */
void registry_child_blocker(void *arg);

void
registry_child_blocker(void *arg)
{
  receiver_main(arg);
}

/* ---- Modes that deadlock ----------------------------------------------- */

/* main waits on a channel nobody sends on. */
static int
mode_recv(void)
{
  goro_chan *c = named_chan("nobody-sends");
  ready();
  goro_chan_recv(c, NULL);
  return 3;
}

/* Three goroutines wait for each other in a ring; main waits for them. */
enum { RING = 3 };
struct ring_link {
  goro_chan *in, *out;
  goro_wg *wg;
};

static void
ring_main(void *arg)
{
  struct ring_link *l = arg;
  int v;
  if (goro_chan_recv(l->in, &v) == 1)
    goro_chan_send(l->out, &v);
  goro_wg_done(l->wg);
}

static int
mode_cycle(void)
{
  static struct ring_link links[RING];
  goro_chan *c[RING];
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    die("goro_wg_make", -errno);
  for (int i = 0; i < RING; i++) {
    char name[24];
    snprintf(name, sizeof name, "ring-%d", i);
    c[i] = named_chan(name);
  }
  for (int i = 0; i < RING; i++) {
    char name[24];
    snprintf(name, sizeof name, "cycle-%d", i);
    links[i] = (struct ring_link){.in = c[i], .out = c[(i + 1) % RING], .wg = wg};
    goro_wg_add(wg, 1);
    int rc = goro_go_named(name, ring_main, &links[i]);
    if (rc != 0)
      die("goro_go_named", rc);
  }
  ready();
  goro_wg_wait(wg);
  return 3;
}

static atomic_int warm_done;

static void
warm_main(void *arg)
{
  (void)arg;
  atomic_fetch_add(&warm_done, 1);
}

/* mode_cycle right after short goroutines have returned: their workers
 * wait awake for work, so the cycle's goroutines are handed to them
 * through the pool's hand-off ring, not started on new threads. main
 * spins for them rather than sleep, which would give the workers time to
 * fall asleep before it wakes. */
static int
mode_cycle_reused(void)
{
  for (int round = 1; round <= 100; round++) {
    for (int i = 0; i < 2; i++) {
      int rc = goro_go(warm_main, NULL);
      if (rc != 0)
        die("goro_go", rc);
    }
    while (atomic_load(&warm_done) < 2 * round)
      sched_yield();
  }
  return mode_cycle();
}

/* A pending goro_after (fires in 1.5 s, nobody reads it) while main waits
 * on an unrelated channel: a deadlock only once the timer has fired. */
/* Never released: the detector ends the process. volatile, so the store
 * that keeps the channel reachable for memcheck is not optimised away. */
static goro_chan *volatile after_chan;

static int
mode_after(void)
{
  goro_chan *c = named_chan("unrelated");
  after_chan = goro_after(1500 * GORO_MILLISECOND);
  if (after_chan == NULL)
    die("goro_after", -errno);
  ready();
  goro_chan_recv(c, NULL);
  return 3;
}

/* ---- Modes that must not deadlock -------------------------------------- */

/* goro's test seam (go.c): a worker calls it just after it took a
 * goroutine from the hand-off ring. Armed, it stalls that worker for
 * 350 ms, more than three scans of the deadlock detector. */
static atomic_int stall_armed, stalls;

void goro__test_handoff_popped(void);
void
goro__test_handoff_popped(void)
{
  if (atomic_exchange(&stall_armed, 0)) {
    sleep_ms(350);
    atomic_fetch_add(&stalls, 1);
  }
}

static void
send_one(void *arg)
{
  int v = 1;
  goro_chan_send(arg, &v);
}

/* Main waits on a channel that a goroutine will send on, while the worker
 * that took that goroutine from the hand-off ring is stalled before it
 * runs it: not a deadlock. The goroutine goes through the ring only when
 * a worker is polling it, so each round warms one first (as in
 * cycle_reused), until a stall has happened. */
static int
mode_handoff_stall(void)
{
  goro_chan *c = named_chan("from-stalled");
  for (int round = 1; round <= 200 && atomic_load(&stalls) == 0; round++) {
    int rc = goro_go(warm_main, NULL);
    if (rc != 0)
      die("goro_go", rc);
    while (atomic_load(&warm_done) < round)
      sched_yield();
    atomic_store(&stall_armed, 1);
    if ((rc = goro_go(send_one, c)) != 0)
      die("goro_go", rc);
    if (goro_chan_recv(c, NULL) != 1)
      return 3;
    atomic_store(&stall_armed, 0);
  }
  if (atomic_load(&stalls) == 0) {
    fprintf(stderr, "registry_child: no goroutine went through the hand-off ring\n");
    return 4;
  }
  return 0;
}

/* A plain pthread (not goro's) blocks in read() on stdin while main waits
 * on a channel; once a byte arrives, the reader sends on the channel. */
static goro_chan *reader_chan;

static void *
reader_main(void *arg)
{
  (void)arg;
  char b;
  ssize_t n;
  do
    n = read(STDIN_FILENO, &b, 1);
  while (n < 0);
  int v = (int)n;
  int rc = goro_chan_send(reader_chan, &v);
  if (rc != 0)
    die("goro_chan_send", rc);
  return NULL;
}

static int
mode_reader(void)
{
  reader_chan = named_chan("reader-chan");
  pthread_t th;
  if (pthread_create(&th, NULL, reader_main, NULL) != 0)
    die("pthread_create", GORO_EAGAIN);
  ready();
  int v = -1;
  if (goro_chan_recv(reader_chan, &v) != 1 || v != 1)
    return 3;
  pthread_join(th, NULL);
  goro_chan_release(reader_chan);
  return 0;
}

/* A goroutine named "forever-waiter" blocked on a channel named "forever"
 * until forever_end: the deadlock detector runs meanwhile. */
static struct receiver forever_r;

static void
forever_begin(void)
{
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    die("goro_wg_make", -errno);
  start_receiver(&forever_r, "forever-waiter", named_chan("forever"), wg);
  await_dump("[chan receive, ");
}

static void
forever_end(void)
{
  goro_chan_close(forever_r.c);
  goro_wg_wait(forever_r.wg);
  goro_wg_free(forever_r.wg);
  goro_chan_release(forever_r.c);
}

/* main waits in goro_select with timeouts longer than the detector's two
 * scans. */
static int
mode_select_timeout(void)
{
  goro_chan *quiet = named_chan("quiet");
  forever_begin();
  ready();
  for (int i = 0; i < 5; i++) {
    goro_case cs[] = {GORO_RECV_CASE(quiet, NULL)};
    int rc = goro_select(cs, 1, 300 * GORO_MILLISECOND);
    if (rc != GORO_ETIMEDOUT)
      die("goro_select", rc);
  }
  forever_end();
  goro_chan_release(quiet);
  return 0;
}

/* main waits in goro_sleep. */
static int
mode_goro_sleep(void)
{
  forever_begin();
  ready();
  goro_sleep(1500 * GORO_MILLISECOND);
  forever_end();
  return 0;
}

/* main sleeps outside goro, after it has blocked in goro once (so it has a
 * registry record). */
static int
mode_os_sleep(void)
{
  goro_sleep(GORO_MILLISECOND);
  forever_begin();
  ready();
  sleep_ms(1500);
  forever_end();
  return 0;
}

/* Leaks a goroutine blocked on a channel and returns from main (run with
 * GORO_LEAKCHECK=1). */
static int
mode_leak(void)
{
  static struct receiver r;
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    die("goro_wg_make", -errno);
  start_receiver(&r, "leaky-worker", named_chan("leak-chan"), wg);
  await_dump("[chan receive, "); /* blocked, and asleep since a known time */
  return 0;
}

/* A goroutine blocks on a named channel; main waits for a byte on stdin
 * (run with GORO_DUMP_SIGNAL=1, and sent SIGQUIT meanwhile), then releases
 * the goroutine and exits. main polls in short rounds: ThreadSanitizer
 * runs a signal handler only when the thread leaves a call. */
static int
mode_sigquit(void)
{
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    die("goro_wg_make", -errno);
  struct receiver r;
  start_receiver(&r, "quit-waiter", named_chan("quit-chan"), wg);
  await_dump("[chan receive, ");
  ready();
  struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
  while (poll(&p, 1, 50) <= 0) {
  }
  goro_chan_close(r.c);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(r.c);
  return 0;
}

/* An unnamed goroutine running registry_child_blocker: goro_dump to stderr
 * names its function. */
static int
mode_funcname(void)
{
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    die("goro_wg_make", -errno);
  struct receiver r = {.c = named_chan("func-chan"), .wg = wg};
  goro_wg_add(wg, 1);
  int rc = goro_go(registry_child_blocker, &r);
  if (rc != 0)
    die("goro_go", rc);
  await_dump("[chan receive, ");
  goro_dump(stderr);
  goro_chan_close(r.c);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(r.c);
  return 0;
}

/* Static: dladdr cannot name it, so dumps show its address with a hint. */
static void
static_blocker(void *arg)
{
  receiver_main(arg);
}

/* An unnamed goroutine running static_blocker: goro_dump to stderr. */
static int
mode_funcname_static(void)
{
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    die("goro_wg_make", -errno);
  struct receiver r = {.c = named_chan("static-chan"), .wg = wg};
  goro_wg_add(wg, 1);
  int rc = goro_go(static_blocker, &r);
  if (rc != 0)
    die("goro_go", rc);
  await_dump("[chan receive, ");
  fprintf(stderr, "static_blocker is at %p\n", (void *)(uintptr_t)static_blocker);
  goro_dump(stderr);
  goro_chan_close(r.c);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(r.c);
  return 0;
}

/* mode_leak, but main fails with status 5 (run with GORO_LEAKCHECK=1:
 * the failing status is kept). */
static int
mode_leak_fail(void)
{
  mode_leak();
  return 5;
}

/* A signal channel registered, then stopped: goro's signal thread is idle
 * again, so main waiting forever is a deadlock. */
static int
mode_signal_stopped(void)
{
  goro_chan *s = goro_chan_make(sizeof(int), 1);
  if (s == NULL)
    die("goro_chan_make", -errno);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  int rc = goro_signal_notify(s, &set);
  if (rc != 0)
    die("goro_signal_notify", rc);
  rc = goro_signal_stop(s);
  if (rc != 0)
    die("goro_signal_stop", rc);
  goro_chan_release(s);
  goro_chan_recv(named_chan("after-stop"), NULL);
  return 0;
}

/* ---- main --------------------------------------------------------------- */

static const struct {
  const char *name;
  int (*run)(void);
} modes[] = {
    {"recv", mode_recv},
    {"cycle", mode_cycle},
    {"cycle_reused", mode_cycle_reused},
    {"after", mode_after},
    {"reader", mode_reader},
    {"select_timeout", mode_select_timeout},
    {"handoff_stall", mode_handoff_stall},
    {"goro_sleep", mode_goro_sleep},
    {"os_sleep", mode_os_sleep},
    {"leak", mode_leak},
    {"sigquit", mode_sigquit},
    {"funcname", mode_funcname},
    {"funcname_static", mode_funcname_static},
    {"leak_fail", mode_leak_fail},
    {"signal_stopped", mode_signal_stopped},
};

int
main(int argc, char **argv)
{
  alarm(300);
  if (argc == 2)
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
      if (strcmp(argv[1], modes[i].name) == 0)
        return modes[i].run();
  fprintf(stderr, "usage: registry_child MODE\n");
  return 1;
}
