/* check_reliability.c - goro under hostile conditions: no thread left to
 * start, fork, signals, process exit, and misuse.
 *
 * Whole-process behaviour is watched from outside: a test forks a child
 * (or re-executes this program with --exit-child MODE), gives it a
 * deadline, and asserts its exit status. A child reports a broken property
 * through a shared page (child_msg) and a non-zero exit status.
 *
 * Thread exhaustion needs RLIMIT_NPROC, which root ignores: the child
 * first drops to the user nobody (65534) when it runs as root.
 *
 * GORO_TEST_SCALE (a factor, default 1) scales the repetition counts;
 * CK_TIMEOUT_MULTIPLIER stretches the deadlines given to children.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setgroups, syscall */
#endif

#include <goro.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

TSAN_OPTIONS_FOR_FORKING_SUITE; /* its fork tests start threads in the child */

/* ---- Helpers ----------------------------------------------------------- */

/* How many goroutines goro_dump shows in a state containing `state`. */
static int
count_in_state(const char *state)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  goro_dump(f);
  fclose(f);
  int n = 0;
  for (const char *p = buf; (p = strstr(p, "goroutine ")) != NULL; p++) {
    const char *br = strchr(p, '[');
    const char *nl = strchr(p, '\n');
    if (br != NULL && (nl == NULL || br < nl) && strncmp(br + 1, state, strlen(state)) == 0)
      n++;
  }
  free(buf);
  return n;
}

/* Wait until goro_dump shows at least n goroutines in `state`. */
static void
await_state(const char *state, int n)
{
  int64_t deadline = goro_now() + (int64_t)(10 * slowness()) * GORO_SECOND;
  int have;
  while ((have = count_in_state(state)) < n) {
    ck_assert_msg(goro_now() < deadline, "only %d of %d goroutines reached state \"%s\"", have, n,
                  state);
    nap(2 * MS);
  }
}

/* ---- Children ---------------------------------------------------------- */

/* A page shared with forked children: why a child failed. */
static char *child_msg;
enum { CHILD_MSG_LEN = 1024 };

static void
child_msg_init(void)
{
  if (child_msg == NULL) {
    child_msg =
        mmap(NULL, CHILD_MSG_LEN, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert(child_msg != MAP_FAILED);
  }
  child_msg[0] = '\0';
}

static void child_fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
child_fail(int line, const char *fmt, ...)
{
  if (child_msg == NULL || child_msg[0] != '\0')
    return;
  int k = snprintf(child_msg, CHILD_MSG_LEN, "line %d: ", line);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(child_msg + k, CHILD_MSG_LEN - (size_t)k, fmt, ap);
  va_end(ap);
}

/* In a child: record why and return 1 from the child function. */
#define CHILD_REQUIRE(cond, ...)                                                                   \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      child_fail(__LINE__, __VA_ARGS__);                                                           \
      return 1;                                                                                    \
    }                                                                                              \
  } while (0)

/* Wait for pid until timeout_s has passed; kill it then. Returns its wait
 * status, or -1 when it had to be killed. */
static int
wait_child(pid_t pid, double timeout_s)
{
  int64_t deadline = goro_now() + (int64_t)(timeout_s * slowness() * 1e9);
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid)
      return st;
    if (r < 0 && errno != EINTR)
      return -2;
    if (goro_now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    nap(2 * MS);
  }
}

static void
describe_status(int st, char *buf, size_t len)
{
  if (st == -1)
    snprintf(buf, len, "timed out, killed");
  else if (st == -2)
    snprintf(buf, len, "waitpid failed");
  else if (WIFEXITED(st))
    snprintf(buf, len, "exit status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st))
    snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
  else
    snprintf(buf, len, "wait status %#x", st);
}

/* The child ended with exit status 0. */
static void
assert_child_ok(int st, const char *what)
{
  char how[128];
  describe_status(st, how, sizeof how);
  ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s; %s", what, how,
                child_msg[0] ? child_msg : "(no message)");
}

typedef int child_fn(void *arg);

/* End a forked child with status. Through exit(), so atexit handlers run
 * as in a real program; except under ASan, whose leak check at exit would
 * report everything the parent's threads (absent here) still reference. */
static void
child_exit(int status)
{
  if (UNDER_ASAN) {
    fflush(NULL);
    _exit(status);
  }
  exit(status);
}

/* Fork; the child runs fn(arg) and passes its result to child_exit.
 * Returns the child's pid. */
static pid_t
fork_child(child_fn *fn, void *arg)
{
  fflush(NULL);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0)
    child_exit(fn(arg));
  return pid;
}

/* ---- Thread exhaustion ------------------------------------------------- */

/* Threads (tasks) of real user uid, the count RLIMIT_NPROC limits. */
static long
threads_of_user(uid_t uid)
{
  DIR *d = opendir("/proc");
  if (d == NULL)
    return 0;
  long total = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    char path[300], line[256];
    snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
      continue;
    long ruid = -1, threads = 0;
    while (fgets(line, sizeof line, f) != NULL) {
      if (strncmp(line, "Uid:", 4) == 0)
        ruid = strtol(line + 4, NULL, 10);
      else if (strncmp(line, "Threads:", 8) == 0)
        threads = strtol(line + 8, NULL, 10);
    }
    fclose(f);
    if (ruid == (long)uid)
      total += threads;
  }
  closedir(d);
  return total;
}

struct gated {
  goro_chan *gate;    /* closed to let them go */
  goro_chan *results; /* each sends its index here when let go */
  int index;
};

static void
gated_main(void *arg)
{
  struct gated *g = arg;
  goro_chan_recv(g->gate, NULL);
  goro_chan_send(g->results, &g->index);
}

static void
nop_main(void *arg)
{
  (void)arg;
}

enum { EXHAUST_MAX = 4096, EXHAUST_HEADROOM = 24 };

/* Start gated goroutines until goro_go fails. Returns how many started,
 * *err the failure. */
static int
start_until_failure(struct gated *g, goro_chan *gate, goro_chan *results, int *err)
{
  int n = 0;
  *err = 0;
  while (n < EXHAUST_MAX) {
    g[n] = (struct gated){.gate = gate, .results = results, .index = n};
    *err = goro_go(gated_main, &g[n]);
    if (*err != 0)
      break;
    n++;
  }
  return n;
}

/* Let the gated goroutines go and collect every index once. */
static int
release_gated(goro_chan *gate, goro_chan *results, int n)
{
  CHILD_REQUIRE(goro_chan_close(gate) == 0, "close(gate) failed");
  char *seen = calloc((size_t)n, 1);
  CHILD_REQUIRE(seen != NULL, "calloc");
  for (int i = 0; i < n; i++) {
    int v = -1;
    int rc = goro_chan_recv(results, &v);
    CHILD_REQUIRE(rc == 1 && v >= 0 && v < n && !seen[v], "bad result %d (rc %d)", v, rc);
    seen[v] = 1;
  }
  free(seen);
  return 0;
}

static int
exhaustion_child(void *arg)
{
  (void)arg;
  if (geteuid() == 0) {
    /* Root ignores RLIMIT_NPROC: become nobody. */
    CHILD_REQUIRE(setgroups(0, NULL) == 0 && setgid(65534) == 0 && setuid(65534) == 0,
                  "cannot drop root privileges: %s", strerror(errno));
  }
  /* Start the timer thread now, while threads can be had. */
  goro_chan *after = goro_after(GORO_MILLISECOND);
  CHILD_REQUIRE(after != NULL, "goro_after");
  CHILD_REQUIRE(goro_chan_recv(after, NULL) == 1, "after did not fire");
  goro_chan_release(after);

  long limit = threads_of_user(getuid()) + EXHAUST_HEADROOM;
  struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
  CHILD_REQUIRE(setrlimit(RLIMIT_NPROC, &rl) == 0, "setrlimit: %s", strerror(errno));

  static struct gated g[EXHAUST_MAX];
  goro_chan *gate = goro_chan_make(0, 0);
  goro_chan *results = goro_chan_make(sizeof(int), EXHAUST_MAX);
  CHILD_REQUIRE(gate != NULL && results != NULL, "goro_chan_make");
  int err;
  int n = start_until_failure(g, gate, results, &err);
  CHILD_REQUIRE(err != 0, "goro_go never failed (%d started, RLIMIT_NPROC %ld)", n, limit);
  CHILD_REQUIRE(err == GORO_EAGAIN, "goro_go failed with %d (%s), not GORO_EAGAIN", err,
                goro_strerror(err));
  CHILD_REQUIRE(n > 0, "not even one goroutine started under RLIMIT_NPROC %ld", limit);
  /* Nothing is started on failure. */
  CHILD_REQUIRE(goro_num_goroutine() == (size_t)n, "%zu goroutines counted, %d started",
                goro_num_goroutine(), n);

  /* Every spawning call fails the same way, and leaves no trace. */
  for (int i = 0; i < 20; i++) {
    int rc = goro_go_named("doomed", nop_main, NULL);
    CHILD_REQUIRE(rc == GORO_EAGAIN, "goro_go_named: %d", rc);
  }
  goro_wg *wg = goro_wg_make();
  CHILD_REQUIRE(wg != NULL, "goro_wg_make");
  int rc = goro_wg_go(wg, nop_main, NULL);
  CHILD_REQUIRE(rc == GORO_EAGAIN, "goro_wg_go: %d", rc);
  CHILD_REQUIRE(goro_wg_add(wg, -1) == GORO_ERANGE, "goro_wg_go failed but left the count up");
  goro_chan *c = goro_chan_make(sizeof(int), 1);
  CHILD_REQUIRE(c != NULL, "goro_chan_make");
  rc = goro_closer(wg, c);
  CHILD_REQUIRE(rc == GORO_EAGAIN, "goro_closer: %d", rc);
  int one = 1;
  CHILD_REQUIRE(goro_chan_trysend(c, &one) == 0, "goro_closer failed, but c is not open");
  goro_chan_release(c);
  CHILD_REQUIRE(goro_num_goroutine() == (size_t)n, "%zu goroutines counted, %d started",
                goro_num_goroutine(), n);

  /* The goroutines already running are unharmed, and finish. */
  if (release_gated(gate, results, n) != 0)
    return 1;
  CHILD_REQUIRE(goro_leakcheck(10 * GORO_SECOND, stderr) == 0, "goroutines did not finish");
  goro_chan_release(gate);

  /* Their threads are free again: as many goroutines start as before. */
  gate = goro_chan_make(0, 0);
  CHILD_REQUIRE(gate != NULL, "goro_chan_make");
  int m = start_until_failure(g, gate, results, &err);
  CHILD_REQUIRE(m >= n, "only %d goroutines started again, %d before (error %d)", m, n, err);
  if (release_gated(gate, results, m) != 0)
    return 1;
  CHILD_REQUIRE(goro_leakcheck(10 * GORO_SECOND, stderr) == 0, "goroutines did not finish");
  CHILD_REQUIRE(goro_wg_go(wg, nop_main, NULL) == 0, "goro_wg_go after recovery");
  goro_wg_wait(wg);
  after = goro_after(GORO_MILLISECOND);
  CHILD_REQUIRE(after != NULL && goro_chan_recv(after, NULL) == 1, "goro_after after recovery");
  goro_chan_release(after);
  goro_chan_release(gate);
  goro_chan_release(results);
  goro_wg_free(wg);
  return 0;
}

START_TEST(test_go_returns_eagain_when_no_thread_can_be_started_and_recovers)
{
  child_msg_init();
  pid_t pid = fork_child(exhaustion_child, NULL);
  assert_child_ok(wait_child(pid, 60), "thread exhaustion child");
}
END_TEST

/* ---- fork -------------------------------------------------------------- */

/* A pair of goroutines passing a counter back and forth until ping is
 * closed. */
struct pingpong {
  goro_chan *ping, *pong;
  atomic_long rounds;
  long limit; /* 0: until closed */
};

static void
pinger_main(void *arg)
{
  struct pingpong *pp = arg;
  for (long i = 0; pp->limit == 0 || i < pp->limit; i++) {
    if (goro_chan_send(pp->ping, &i) != 0)
      break;
    long v;
    if (goro_chan_recv(pp->pong, &v) != 1 || v != i + 1)
      break;
    atomic_fetch_add(&pp->rounds, 1);
  }
  goro_chan_close(pp->ping);
}

static void
ponger_main(void *arg)
{
  struct pingpong *pp = arg;
  long v;
  while (goro_chan_recv(pp->ping, &v) == 1) {
    v++;
    if (goro_chan_send(pp->pong, &v) != 0)
      break;
  }
}

static void
pingpong_init(struct pingpong *pp, long limit)
{
  pp->ping = goro_chan_make(sizeof(long), 0);
  pp->pong = goro_chan_make(sizeof(long), 0);
  atomic_init(&pp->rounds, 0);
  pp->limit = limit;
}

/* What a forked child does with goro: channels, goroutines, a WaitGroup,
 * select with a timeout, time.After, a ticker, a name. */
static int
use_goro(void)
{
  struct pingpong pp;
  pingpong_init(&pp, 500);
  CHILD_REQUIRE(pp.ping != NULL && pp.pong != NULL, "goro_chan_make");
  goro_chan_set_name(pp.ping, "child-ping");
  goro_wg *wg = goro_wg_make();
  CHILD_REQUIRE(wg != NULL, "goro_wg_make");
  CHILD_REQUIRE(goro_wg_go(wg, pinger_main, &pp) == 0, "goro_wg_go");
  CHILD_REQUIRE(goro_wg_go(wg, ponger_main, &pp) == 0, "goro_wg_go");
  goro_wg_wait(wg);
  CHILD_REQUIRE(atomic_load(&pp.rounds) == 500, "%ld rounds", atomic_load(&pp.rounds));

  goro_chan *after = goro_after(2 * GORO_MILLISECOND);
  CHILD_REQUIRE(after != NULL, "goro_after");
  goro_case cs[2] = {GORO_RECV_CASE(after, NULL), GORO_RECV_CASE(NULL, NULL)};
  int rc = goro_select(cs, 2, 10 * GORO_SECOND);
  CHILD_REQUIRE(rc == 0 && cs[0].ok, "select on after: %d", rc);
  goro_chan_release(after);
  rc = goro_select(cs + 1, 1, GORO_MILLISECOND);
  CHILD_REQUIRE(rc == GORO_ETIMEDOUT, "select with a timeout: %d", rc);

  goro_ticker *tk = goro_ticker_make(GORO_MILLISECOND);
  CHILD_REQUIRE(tk != NULL, "goro_ticker_make");
  for (int i = 0; i < 2; i++)
    CHILD_REQUIRE(goro_chan_recv(goro_ticker_chan(tk), NULL) == 1, "tick");
  goro_ticker_stop(tk);

  goro_chan_release(pp.ping);
  goro_chan_release(pp.pong);
  goro_wg_free(wg);
  CHILD_REQUIRE(goro_leakcheck(5 * GORO_SECOND, stderr) == 0, "goroutines leaked in the child");
  return 0;
}

static int
fork_child_main(void *arg)
{
  (void)arg;
  /* Only the forking thread exists here, and it is no goroutine. */
  CHILD_REQUIRE(goro_num_goroutine() == 0, "the child counts %zu goroutines", goro_num_goroutine());
  return use_goro();
}

/* Goroutines blocked in every kind of wait, plus a foreign thread. */
struct blocked_set {
  goro_chan *gate; /* chan struct{}; closed to release the receivers */
  goro_chan *full; /* cap 1, full; drained to release the sender */
  goro_wg *wg;     /* count 1; done to release the waiter */
  goro_wg *all;    /* every goroutine of the set */
  pthread_t foreign;
  atomic_int returned;
};

static void
blocked_recv_main(void *arg)
{
  struct blocked_set *b = arg;
  goro_chan_recv(b->gate, NULL);
  atomic_fetch_add(&b->returned, 1);
}

static void
blocked_send_main(void *arg)
{
  struct blocked_set *b = arg;
  int v = 2;
  goro_chan_send(b->full, &v);
  atomic_fetch_add(&b->returned, 1);
}

static void
blocked_select_main(void *arg)
{
  struct blocked_set *b = arg;
  int v = 3;
  goro_case cs[3] = {GORO_RECV_CASE(b->gate, NULL), GORO_SEND_CASE(b->full, &v),
                     GORO_RECV_CASE(NULL, NULL)};
  goro_select(cs, 3, GORO_FOREVER);
  atomic_fetch_add(&b->returned, 1);
}

static void
blocked_wg_main(void *arg)
{
  struct blocked_set *b = arg;
  goro_wg_wait(b->wg);
  atomic_fetch_add(&b->returned, 1);
}

static void *
blocked_foreign_main(void *arg)
{
  struct blocked_set *b = arg;
  goro_chan_recv(b->gate, NULL);
  atomic_fetch_add(&b->returned, 1);
  return NULL;
}

enum { BLOCKED_GOROUTINES = 8 };

static void
blocked_set_start(struct blocked_set *b)
{
  b->gate = chan_make_checked(0, 0);
  b->full = chan_make_checked(sizeof(int), 1);
  int v = 1;
  ck_assert_int_eq(goro_chan_send(b->full, &v), 0);
  b->wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(b->wg, 1), 0);
  b->all = wg_make_checked();
  atomic_init(&b->returned, 0);
  wg_go_checked(b->all, blocked_recv_main, b);
  wg_go_checked(b->all, blocked_recv_main, b);
  wg_go_checked(b->all, blocked_send_main, b);
  wg_go_checked(b->all, blocked_send_main, b);
  wg_go_checked(b->all, blocked_select_main, b);
  wg_go_checked(b->all, blocked_select_main, b);
  wg_go_checked(b->all, blocked_wg_main, b);
  wg_go_checked(b->all, blocked_wg_main, b);
  ck_assert_int_eq(pthread_create(&b->foreign, NULL, blocked_foreign_main, b), 0);
}

/* Release everyone; they all return. */
static void
blocked_set_finish(struct blocked_set *b)
{
  ck_assert_int_eq(atomic_load(&b->returned), 0);
  ck_assert_int_eq(goro_chan_close(b->gate), 0);
  ck_assert_int_eq(goro_wg_done(b->wg), 0);
  int v;
  while (atomic_load(&b->returned) < BLOCKED_GOROUTINES + 1) {
    if (goro_chan_tryrecv(b->full, &v) != 1)
      nap(1 * MS);
  }
  goro_wg_wait(b->all);
  pthread_join(b->foreign, NULL);
  goro_chan_release(b->gate);
  goro_chan_release(b->full);
  goro_wg_free(b->wg);
  goro_wg_free(b->all);
}

START_TEST(test_fork_with_goroutines_running_and_blocked_child_uses_goro_parent_unaffected)
{
  child_msg_init();
  struct blocked_set b;
  blocked_set_start(&b);
  struct pingpong pp;
  pingpong_init(&pp, 0);
  ck_assert(pp.ping != NULL && pp.pong != NULL);
  goro_wg *wg = wg_make_checked();
  wg_go_checked(wg, pinger_main, &pp);
  wg_go_checked(wg, ponger_main, &pp);

  size_t forks = scaled(UNDER_TSAN ? 8 : 20);
  for (size_t i = 0; i < forks; i++) {
    long before = atomic_load(&pp.rounds);
    pid_t pid = fork_child(fork_child_main, NULL);
    assert_child_ok(wait_child(pid, 30), "forked child");
    /* The parent's goroutines keep running. */
    int64_t deadline = goro_now() + (int64_t)(10 * slowness()) * GORO_SECOND;
    while (atomic_load(&pp.rounds) < before + 10) {
      ck_assert_msg(goro_now() < deadline, "the parent's ping-pong stopped after fork %zu", i);
      nap(1 * MS);
    }
  }
  ck_assert_int_eq(goro_chan_close(pp.ping), 0);
  goro_wg_wait(wg);
  blocked_set_finish(&b);
  ck_assert_int_eq(atomic_load(&b.returned), BLOCKED_GOROUTINES + 1);
  goro_chan_release(pp.ping);
  goro_chan_release(pp.pong);
  goro_wg_free(wg);
}
END_TEST

struct forker {
  int status;
};

static int
goroutine_fork_child_main(void *arg)
{
  (void)arg;
  return use_goro();
}

/* A goroutine forks (while its siblings run and block) and waits for its
 * child. */
static void
forker_main(void *arg)
{
  struct forker *f = arg;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0)
    child_exit(goroutine_fork_child_main(NULL));
  f->status = pid < 0 ? -2 : wait_child(pid, 30);
}

START_TEST(test_fork_from_a_goroutine_child_uses_goro)
{
  child_msg_init();
  struct blocked_set b;
  blocked_set_start(&b);
  struct pingpong pp;
  pingpong_init(&pp, 0);
  goro_wg *wg = wg_make_checked();
  wg_go_checked(wg, pinger_main, &pp);
  wg_go_checked(wg, ponger_main, &pp);
  size_t forks = scaled(UNDER_TSAN ? 4 : 10);
  for (size_t i = 0; i < forks; i++) {
    struct forker f = {0};
    goro_wg *fw = wg_make_checked();
    wg_go_checked(fw, forker_main, &f);
    goro_wg_wait(fw);
    goro_wg_free(fw);
    assert_child_ok(f.status, "child forked by a goroutine");
  }
  ck_assert_int_eq(goro_chan_close(pp.ping), 0);
  goro_wg_wait(wg);
  ck_assert_int_gt(atomic_load(&pp.rounds), 0);
  blocked_set_finish(&b);
  goro_chan_release(pp.ping);
  goro_chan_release(pp.pong);
  goro_wg_free(wg);
}
END_TEST

/* Goroutines that keep goro's internal locks busy: channel names, timers,
 * tickers, large selects, WaitGroups, spawning. */
struct churn {
  atomic_bool stop;
  atomic_long loops;
  /* What the churners hold, reachable from here too: in a forked child
   * their stacks are not thread stacks any more, and valgrind's leak check
   * would call whatever only they point to lost. */
  void *_Atomic keep[8];
};

/* Between rounds, so that the forked children get CPU time too. */
static const int64_t CHURN_PAUSE = 100 * GORO_MICROSECOND;

static void
churn_names_main(void *arg)
{
  struct churn *ch = arg;
  char name[32];
  for (long i = 0; !atomic_load(&ch->stop); i++) {
    goro_chan *c = goro_chan_make(sizeof(int), 1);
    atomic_store(&ch->keep[0], c);
    for (int k = 0; k < 32; k++) {
      snprintf(name, sizeof name, "churn-%ld", (i + k) % 64);
      goro_chan_set_name(c, name);
    }
    goro_chan_release(c);
    atomic_fetch_add(&ch->loops, 1);
    goro_sleep(CHURN_PAUSE);
  }
}

static void
churn_timers_main(void *arg)
{
  struct churn *ch = arg;
  while (!atomic_load(&ch->stop)) {
    goro_chan *a = goro_after(GORO_MICROSECOND);
    goro_chan *b = goro_after(GORO_SECOND); /* cancelled by its release */
    goro_ticker *t = goro_ticker_make(GORO_MICROSECOND * 50);
    atomic_store(&ch->keep[1], a);
    atomic_store(&ch->keep[2], b);
    atomic_store(&ch->keep[3], t);
    if (a != NULL)
      goro_chan_recv(a, NULL);
    goro_chan_release(a);
    goro_chan_release(b);
    goro_ticker_stop(t);
    atomic_fetch_add(&ch->loops, 1);
    goro_sleep(CHURN_PAUSE);
  }
}

static void
churn_select_main(void *arg)
{
  struct churn *ch = arg;
  goro_chan *c = goro_chan_make(sizeof(int), 4);
  goro_case cs[20];
  static _Atomic int nsel;
  int me = 4 + atomic_fetch_add(&nsel, 1) % 2;
  atomic_store(&ch->keep[me], c);
  int v = 0;
  while (!atomic_load(&ch->stop)) {
    for (int i = 0; i < 20; i++)
      cs[i] = i % 2 ? GORO_SEND_CASE(c, &v) : GORO_RECV_CASE(c, &v);
    goro_select(cs, 20, GORO_MICROSECOND * 10);
    goro_wg *wg = goro_wg_make();
    atomic_store(&ch->keep[6 + me - 4], wg);
    if (goro_wg_go(wg, nop_main, NULL) != 0) {
      /* no thread just now: allowed under churn; the counter stays 0 */
    }
    goro_wg_wait(wg);
    goro_wg_free(wg);
    atomic_fetch_add(&ch->loops, 1);
    goro_sleep(CHURN_PAUSE);
  }
  goro_chan_release(c);
}

START_TEST(test_fork_while_goroutines_churn_names_timers_and_selects_child_uses_goro)
{
  child_msg_init();
  struct churn ch;
  atomic_init(&ch.stop, false);
  atomic_init(&ch.loops, 0);
  for (int i = 0; i < 8; i++)
    atomic_init(&ch.keep[i], NULL);
  goro_wg *wg = wg_make_checked();
  wg_go_checked(wg, churn_names_main, &ch);
  wg_go_checked(wg, churn_timers_main, &ch);
  wg_go_checked(wg, churn_select_main, &ch);
  wg_go_checked(wg, churn_select_main, &ch);
  size_t forks = scaled(UNDER_TSAN ? 10 : 25);
  for (size_t i = 0; i < forks; i++) {
    long before = atomic_load(&ch.loops);
    pid_t pid = fork_child(fork_child_main, NULL);
    char what[64];
    snprintf(what, sizeof what, "forked child %zu", i);
    assert_child_ok(wait_child(pid, 30), what);
    while (atomic_load(&ch.loops) < before + 3)
      nap(1 * MS);
  }
  atomic_store(&ch.stop, true);
  goro_wg_wait(wg);
  goro_wg_free(wg);
}
END_TEST

/* ---- Signals ----------------------------------------------------------- */

/* An application thread taking SIGUSR1 with sigwait. */
struct sigwaiter {
  sem_t got;
  atomic_bool stop;
  atomic_int count;
};

static void *
sigwaiter_main(void *arg)
{
  struct sigwaiter *sw = arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  while (!atomic_load(&sw->stop)) {
    int sig;
    if (sigwait(&set, &sig) == 0 && sig == SIGUSR1) {
      atomic_fetch_add(&sw->count, 1);
      sem_post(&sw->got);
    }
  }
  return NULL;
}

/* Goroutines running, blocked and sleeping while signals fly. */
struct sigload {
  goro_chan *gate; /* chan struct{}, closed at the end */
  goro_chan *buf;  /* cap 8 */
  atomic_bool stop;
  goro_wg *wg;
};

static void
sig_blocked_main(void *arg)
{
  struct sigload *l = arg;
  goro_chan_recv(l->gate, NULL);
}

static void
sig_busy_main(void *arg)
{
  struct sigload *l = arg;
  int v = 0;
  while (!atomic_load(&l->stop)) {
    goro_chan_trysend(l->buf, &v);
    goro_chan_tryrecv(l->buf, &v);
    goro_case cs[2] = {GORO_RECV_CASE(l->gate, NULL), GORO_RECV_CASE(l->buf, &v)};
    goro_select(cs, 2, 100 * GORO_MICROSECOND);
  }
}

static void
sig_spawner_main(void *arg)
{
  struct sigload *l = arg;
  while (!atomic_load(&l->stop)) {
    goro_wg *wg = goro_wg_make();
    for (int i = 0; i < 4; i++)
      if (goro_wg_go(wg, nop_main, NULL) != 0) {
        /* no thread just now: allowed under load; the counter is unchanged */
      }
    goro_wg_wait(wg);
    goro_wg_free(wg);
    goro_sleep(GORO_MILLISECOND);
  }
}

/* Start the load. The caller has blocked sig before this first goro_go
 * (the v0.2 contract: goroutines run with the mask of the thread that
 * first started one); the rest start with sig unblocked in the calling
 * thread, so that a pool thread that took its spawner's mask would take
 * signals. */
static void
sigload_start(struct sigload *l, int sig)
{
  l->gate = chan_make_checked(0, 0);
  l->buf = chan_make_checked(sizeof(int), 8);
  atomic_init(&l->stop, false);
  l->wg = wg_make_checked();
  wg_go_checked(l->wg, sig_blocked_main, l); /* the first goroutine: the mask is taken */
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, &old);
  for (int i = 0; i < 15; i++)
    wg_go_checked(l->wg, sig_blocked_main, l);
  for (int i = 0; i < 3; i++)
    wg_go_checked(l->wg, sig_busy_main, l);
  wg_go_checked(l->wg, sig_spawner_main, l);
  goro_chan *after = goro_after(GORO_MILLISECOND); /* the timer thread too */
  ck_assert_ptr_nonnull(after);
  ck_assert_int_eq(goro_chan_recv(after, NULL), 1);
  goro_chan_release(after);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* More goroutines on fresh threads, sig unblocked in the creator. */
static void
sigload_more(struct sigload *l, int sig)
{
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, sig);
  pthread_sigmask(SIG_UNBLOCK, &set, &old);
  for (int i = 0; i < 4; i++)
    wg_go_checked(l->wg, sig_blocked_main, l);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void
sigload_finish(struct sigload *l)
{
  atomic_store(&l->stop, true);
  ck_assert_int_eq(goro_chan_close(l->gate), 0);
  goro_wg_wait(l->wg);
  goro_wg_free(l->wg);
  goro_chan_release(l->gate);
  goro_chan_release(l->buf);
}

static bool
sem_wait_s(sem_t *s, double seconds)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double t = seconds * slowness();
  ts.tv_sec += (time_t)t;
  ts.tv_nsec += (long)((t - (double)(time_t)t) * 1e9);
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  int rc;
  while ((rc = sem_timedwait(s, &ts)) != 0 && errno == EINTR) {
  }
  return rc == 0;
}

START_TEST(test_process_directed_signal_reaches_the_sigwait_thread_not_a_pool_thread)
{
  /* SIGUSR1 keeps its default action: taken by a pool thread, it would
   * kill the process. */
  signal(SIGUSR1, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
  struct sigwaiter sw;
  sem_init(&sw.got, 0, 0);
  atomic_init(&sw.stop, false);
  atomic_init(&sw.count, 0);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, sigwaiter_main, &sw), 0);

  struct sigload l;
  sigload_start(&l, SIGUSR1);
  size_t rounds = scaled(300);
  for (size_t i = 0; i < rounds; i++) {
    if (i % 50 == 0)
      sigload_more(&l, SIGUSR1);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    ck_assert_msg(sem_wait_s(&sw.got, 10), "signal %zu never reached the sigwait thread", i);
  }
  ck_assert_int_eq(atomic_load(&sw.count), (int)rounds);
  atomic_store(&sw.stop, true);
  ck_assert_int_eq(pthread_kill(th, SIGUSR1), 0);
  pthread_join(th, NULL);
  sigload_finish(&l);
  sem_destroy(&sw.got);
}
END_TEST

static atomic_long handled_tid;
static atomic_int handled;

static void
on_sigusr2(int sig)
{
  (void)sig;
  atomic_store(&handled_tid, (long)syscall(SYS_gettid));
  atomic_fetch_add(&handled, 1);
}

/* The one application thread with SIGUSR2 unblocked. */
struct sigtaker {
  atomic_long tid;
  atomic_bool stop;
};

static void *
sigtaker_main(void *arg)
{
  struct sigtaker *st = arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  atomic_store(&st->tid, (long)syscall(SYS_gettid));
  while (!atomic_load(&st->stop))
    nap(1 * MS);
  return NULL;
}

START_TEST(test_signal_handler_runs_only_in_the_thread_that_unblocks_it)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigusr2;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ck_assert_int_eq(sigaction(SIGUSR2, &sa, NULL), 0);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);

  struct sigtaker st;
  atomic_init(&st.tid, 0);
  atomic_init(&st.stop, false);
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, sigtaker_main, &st), 0);
  while (atomic_load(&st.tid) == 0)
    nap(1 * MS);

  struct sigload l;
  sigload_start(&l, SIGUSR2);
  size_t rounds = scaled(300);
  int64_t deadline = goro_now() + (int64_t)(30 * slowness()) * GORO_SECOND;
  for (size_t i = 0; i < rounds; i++) {
    if (i % 50 == 0)
      sigload_more(&l, SIGUSR2);
    int before = atomic_load(&handled);
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0);
    while (atomic_load(&handled) == before) {
      ck_assert_msg(goro_now() < deadline, "signal %zu was never handled", i);
      nap(1 * MS);
    }
    ck_assert_msg(atomic_load(&handled_tid) == atomic_load(&st.tid),
                  "signal %zu was handled by thread %ld, not by the application's %ld", i,
                  atomic_load(&handled_tid), atomic_load(&st.tid));
  }
  atomic_store(&st.stop, true);
  pthread_join(th, NULL);
  sigload_finish(&l);
  signal(SIGUSR2, SIG_DFL);
}
END_TEST

/* ---- Exit -------------------------------------------------------------- */

/* The --exit-child program: goroutines blocked in every kind of wait and
 * running, then the process ends the way MODE says, with status 7. */
static goro_chan *ex_gate, *ex_full, *ex_buf;
static goro_wg *ex_wg;

static void
ex_recv_main(void *arg)
{
  (void)arg;
  goro_chan_recv(ex_gate, NULL);
}

static void
ex_send_main(void *arg)
{
  (void)arg;
  int v = 1;
  goro_chan_send(ex_full, &v);
}

static void
ex_select_main(void *arg)
{
  (void)arg;
  int v = 1;
  goro_case cs[3] = {GORO_RECV_CASE(ex_gate, NULL), GORO_SEND_CASE(ex_full, &v),
                     GORO_RECV_CASE(NULL, NULL)};
  goro_select(cs, 3, GORO_FOREVER);
}

static void
ex_wg_main(void *arg)
{
  (void)arg;
  goro_wg_wait(ex_wg);
}

static void
ex_sleep_main(void *arg)
{
  (void)arg;
  goro_sleep(3600 * GORO_SECOND);
}

static void
ex_nocases_main(void *arg)
{
  (void)arg;
  goro_select(NULL, 0, GORO_FOREVER);
}

static void
ex_ticker_main(void *arg)
{
  (void)arg;
  goro_ticker *t = goro_ticker_make(GORO_MILLISECOND);
  for (;;)
    goro_chan_recv(goro_ticker_chan(t), NULL);
}

static void
ex_busy_main(void *arg)
{
  (void)arg;
  int v = 0;
  for (long i = 0;; i++) {
    goro_chan_trysend(ex_buf, &v);
    goro_chan_tryrecv(ex_buf, &v);
    if (i % 64 == 0 && goro_go(nop_main, NULL) != 0) {
      /* exhaustion is what this loop provokes: a failure is expected */
    }
  }
}

static void
ex_exit_main(void *arg)
{
  (void)arg;
  goro_sleep(20 * GORO_MILLISECOND);
  exit(7);
}

static void *
ex_foreign_main(void *arg)
{
  (void)arg;
  goro_chan_recv(ex_gate, NULL);
  return NULL;
}

static int
exit_child_setup(void)
{
  ex_gate = goro_chan_make(0, 0);
  ex_full = goro_chan_make(sizeof(int), 1);
  ex_buf = goro_chan_make(sizeof(int), 4);
  ex_wg = goro_wg_make();
  if (ex_gate == NULL || ex_full == NULL || ex_buf == NULL || ex_wg == NULL)
    return 1;
  int v = 0;
  goro_chan_send(ex_full, &v);
  goro_wg_add(ex_wg, 1);
  goro_fn *fns[] = {ex_recv_main,    ex_send_main,   ex_select_main, ex_wg_main,  ex_sleep_main,
                    ex_nocases_main, ex_ticker_main, ex_busy_main,   ex_busy_main};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
    if (goro_go(fns[i], NULL) != 0)
      return 1;
  struct pingpong *pp = malloc(sizeof *pp);
  if (pp == NULL)
    return 1;
  pingpong_init(pp, 0);
  if (goro_go(pinger_main, pp) != 0 || goro_go(ponger_main, pp) != 0)
    return 1;
  pthread_t th;
  if (pthread_create(&th, NULL, ex_foreign_main, NULL) != 0)
    return 1;
  goro_sleep(20 * GORO_MILLISECOND); /* let everything get going */
  return 0;
}

static int
exit_child_main(const char *mode)
{
  if (exit_child_setup() != 0)
    return 1;
  if (strcmp(mode, "return") == 0)
    return 7;
  if (strcmp(mode, "exit") == 0)
    exit(7);
  if (strcmp(mode, "goroutine") == 0) {
    if (goro_go(ex_exit_main, NULL) != 0)
      return 1;
    goro_wg_wait(ex_wg); /* forever: a goroutine ends the process */
    return 1;
  }
  return 1;
}

/* This program's own path, for re-executing it. */
static const char *
self_exe(void)
{
  static char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  ck_assert_int_gt(n, 0);
  path[n] = '\0';
  return path;
}

static const char *const exit_modes[] = {"return", "exit", "goroutine", "return"};

/* _i: exit_modes[_i]; the last runs with GORO_LEAKCHECK=1, whose atexit
 * report must not hang or crash either. */
START_TEST(test_exit_with_goroutines_blocked_and_running_neither_crashes_nor_hangs)
{
  const char *mode = exit_modes[_i];
  bool leakcheck = _i == 3;
  const char *exe = self_exe();
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  fflush(NULL);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    if (leakcheck)
      setenv("GORO_LEAKCHECK", "1", 1);
    else
      unsetenv("GORO_LEAKCHECK");
    execl(exe, exe, "--exit-child", mode, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  static char err[1 << 16];
  size_t len = 0;
  int64_t deadline = goro_now() + (int64_t)(30 * slowness()) * GORO_SECOND;
  int st = -1;
  for (;;) {
    ssize_t r;
    while (len < sizeof err - 1 && (r = read(fds[0], err + len, sizeof err - 1 - len)) > 0)
      len += (size_t)r;
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid)
      break;
    if (goro_now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      st = -1;
      break;
    }
    nap(2 * MS);
  }
  ssize_t r;
  while (len < sizeof err - 1 && (r = read(fds[0], err + len, sizeof err - 1 - len)) > 0)
    len += (size_t)r;
  err[len] = '\0';
  close(fds[0]);
  char how[128];
  describe_status(st, how, sizeof how);
  ck_assert_msg(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7,
                "--exit-child %s%s: %s, not exit status 7; stderr: %.600s", mode,
                leakcheck ? " with GORO_LEAKCHECK=1" : "", how, err);
  if (leakcheck)
    ck_assert_msg(strstr(err, "still alive") != NULL,
                  "GORO_LEAKCHECK=1 reported no survivors; stderr: %.600s", err);
}
END_TEST

/* ---- Misuse ------------------------------------------------------------ */

struct waiting_select {
  goro_chan *c; /* borrowed: its creator releases it while we wait */
  int rc;
  int how; /* 0: recv cases (c is empty), 1: send cases (c is full) */
};

static void
waiting_select_main(void *arg)
{
  struct waiting_select *ws = arg;
  int v = 9, r1 = 0, r2 = 0;
  goro_case cs[4];
  if (ws->how == 0) {
    cs[0] = GORO_RECV_CASE(ws->c, &r1);
    cs[1] = GORO_RECV_CASE(ws->c, &r2);
  } else {
    cs[0] = GORO_SEND_CASE(ws->c, &v);
    cs[1] = GORO_SEND_CASE(ws->c, &v);
  }
  cs[2] = GORO_RECV_CASE(NULL, NULL);
  cs[3] = GORO_SEND_CASE(NULL, &v);
  ws->rc = goro_select(cs, 4, 300 * GORO_MILLISECOND);
}

/* Selects wait on c (recv on an empty channel, send on a full one); the
 * only reference is released meanwhile. The waiting threads hold their
 * own, so nothing is freed under them: each select times out normally
 * (the sanitizer builds and valgrind catch any use after free). */
START_TEST(test_release_of_the_last_reference_while_selects_wait_frees_nothing_in_use)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap);
  for (size_t i = 0; i < cap; i++) {
    int v = (int)i;
    ck_assert_int_eq(goro_chan_trysend(c, &v), 0);
  }
  /* Unbuffered: receives wait (sends would pair with them); buffered:
   * full, so sends wait. */
  enum { N = 4 };
  struct waiting_select ws[N];
  goro_wg *wg = wg_make_checked();
  for (int i = 0; i < N; i++) {
    ws[i] = (struct waiting_select){.c = c, .rc = 1, .how = cap == 0 ? 0 : 1};
    wg_go_checked(wg, waiting_select_main, &ws[i]);
  }
  await_state("select", N);
  goro_chan_release(c);
  goro_wg_wait(wg);
  for (int i = 0; i < N; i++)
    ck_assert_msg(ws[i].rc == GORO_ETIMEDOUT, "select %d returned %d, not GORO_ETIMEDOUT", i,
                  ws[i].rc);
  goro_wg_free(wg);
}
END_TEST

struct after_waiter {
  goro_chan *c; /* borrowed, as above */
  int rc;
  int64_t v;
  bool use_select;
};

static void
after_waiter_main(void *arg)
{
  struct after_waiter *aw = arg;
  if (aw->use_select) {
    goro_case cs[1] = {GORO_RECV_CASE(aw->c, &aw->v)};
    aw->rc = goro_select(cs, 1, 10 * GORO_SECOND);
  } else {
    aw->rc = goro_chan_recv(aw->c, &aw->v);
  }
}

/* A goroutine waits on a goro_after channel whose only reference is
 * released meanwhile. The waiter's own reference keeps the channel, and
 * with it its timer: the value arrives, and the channel is freed when the
 * waiter is done with it. */
START_TEST(test_release_of_an_after_channel_while_a_goroutine_waits_on_it)
{
  struct after_waiter aw[2];
  goro_wg *wg = wg_make_checked();
  for (int i = 0; i < 2; i++) {
    aw[i] = (struct after_waiter){.rc = -1000, .use_select = i == 1};
    aw[i].c = goro_after((int64_t)(300 * slowness()) * GORO_MILLISECOND);
    ck_assert_ptr_nonnull(aw[i].c);
    wg_go_checked(wg, after_waiter_main, &aw[i]);
  }
  await_state("chan receive", 1);
  await_state("select", 1);
  int64_t t0 = goro_now();
  goro_chan_release(aw[0].c);
  goro_chan_release(aw[1].c);
  goro_wg_wait(wg);
  ck_assert_msg(aw[0].rc == 1 && aw[0].v > t0 - GORO_SECOND, "recv returned %d, value %lld",
                aw[0].rc, (long long)aw[0].v);
  ck_assert_msg(aw[1].rc == 0 && aw[1].v > t0 - GORO_SECOND, "select returned %d, value %lld",
                aw[1].rc, (long long)aw[1].v);
  goro_wg_free(wg);
}
END_TEST

/* WaitGroup reuse. */
struct reuse {
  goro_wg *wg;
  atomic_long zero_begun; /* bumped before each done that may reach zero */
  atomic_long rise_done;  /* bumped after the add that raises it again */
  atomic_int returned;
  atomic_int early; /* waits that returned with no zero since they began */
};

static void
reuse_waiter_main(void *arg)
{
  struct reuse *r = arg;
  long began = atomic_load(&r->rise_done);
  goro_wg_wait(r->wg);
  /* The counter was zero at some moment of this wait: the done that
   * brought it there began before we returned, and the add that raised it
   * again ended after we began. */
  if (atomic_load(&r->zero_begun) <= began)
    atomic_fetch_add(&r->early, 1);
  atomic_fetch_add(&r->returned, 1);
}

/* Go forbids reusing a WaitGroup before the previous Wait has returned
 * (it panics when it notices). goro's documented behaviour is Go's where
 * it does not panic: every wait returns once the counter it waited on
 * reached zero, even if the counter rose again at once; no wait returns
 * before that; nothing crashes. */
START_TEST(test_wg_reuse_before_wait_returns_wakes_every_waiter_once)
{
  struct reuse r;
  r.wg = wg_make_checked();
  atomic_init(&r.zero_begun, 0);
  atomic_init(&r.rise_done, 0);
  atomic_init(&r.returned, 0);
  atomic_init(&r.early, 0);
  goro_wg *all = wg_make_checked();
  size_t rounds = scaled(300);
  int waiters = 0;
  ck_assert_int_eq(goro_wg_add(r.wg, 1), 0);
  for (size_t i = 0; i < rounds; i++) {
    for (int k = 0; k < 3; k++, waiters++)
      wg_go_checked(all, reuse_waiter_main, &r);
    if (i % 3 == 0)
      nap(1 * MS); /* sometimes let them block first */
    /* Zero, and at once up again, before the waiters can return. */
    atomic_fetch_add(&r.zero_begun, 1);
    ck_assert_int_eq(goro_wg_add(r.wg, -1), 0);
    ck_assert_int_eq(goro_wg_add(r.wg, 1), 0);
    atomic_fetch_add(&r.rise_done, 1);
  }
  /* The last round's waiters see the count at 1 until this done. */
  atomic_fetch_add(&r.zero_begun, 1);
  ck_assert_int_eq(goro_wg_done(r.wg), 0);
  goro_wg_wait(all);
  ck_assert_int_eq(atomic_load(&r.returned), waiters);
  ck_assert_int_eq(atomic_load(&r.early), 0);
  /* A wait that begins with the counter up blocks until it is down. */
  ck_assert_int_eq(goro_wg_add(r.wg, 1), 0);
  atomic_fetch_add(&r.rise_done, 1);
  wg_go_checked(all, reuse_waiter_main, &r);
  await_state("WaitGroup wait", 1);
  ck_assert_int_eq(atomic_load(&r.returned), waiters);
  atomic_fetch_add(&r.zero_begun, 1);
  ck_assert_int_eq(goro_wg_done(r.wg), 0);
  goro_wg_wait(all);
  ck_assert_int_eq(atomic_load(&r.returned), waiters + 1);
  ck_assert_int_eq(atomic_load(&r.early), 0);
  goro_wg_free(r.wg);
  goro_wg_free(all);
}
END_TEST

/* Bad ops: GORO_EINVAL at once, before any case is performed, whatever
 * the timeout, wherever the bad case sits. */
START_TEST(test_select_with_bad_op_is_einval_and_performs_nothing)
{
  static const int bad_ops[] = {0, 3, -1, GORO_SEND | GORO_RECV, 100, INT_MIN};
  static const int64_t timeouts[] = {0, GORO_MILLISECOND, GORO_FOREVER};
  goro_chan *c = chan_make_checked(sizeof(int), 2);
  int one = 1;
  ck_assert_int_eq(goro_chan_send(c, &one), 0); /* one value to receive, room for one more */
  for (size_t b = 0; b < sizeof bad_ops / sizeof bad_ops[0]; b++) {
    for (size_t t = 0; t < sizeof timeouts / sizeof timeouts[0]; t++) {
      for (int pos = 0; pos < 3; pos++) {
        int v = 5, r = -1;
        goro_case cs[3] = {GORO_SEND_CASE(c, &v), GORO_RECV_CASE(c, &r),
                           GORO_RECV_CASE(NULL, NULL)};
        cs[pos].op = bad_ops[b];
        if (pos == 2)
          cs[pos].chan = NULL; /* a bad op on a nil channel is bad too */
        int rc = goro_select(cs, 3, timeouts[t]);
        ck_assert_msg(rc == GORO_EINVAL, "op %d at case %d, timeout %lld: returned %d", bad_ops[b],
                      pos, (long long)timeouts[t], rc);
        ck_assert_int_eq(goro_chan_len(c), 1);
        ck_assert_int_eq(r, -1);
      }
    }
  }
  ck_assert_int_eq(goro_select(NULL, 1, 0), GORO_EINVAL);
  ck_assert_int_eq(goro_select(NULL, 3, GORO_FOREVER), GORO_EINVAL);
  /* A send case without a value, on a channel with values to carry. */
  goro_case cs[1] = {GORO_SEND_CASE(c, NULL)};
  ck_assert_int_eq(goro_select(cs, 1, GORO_FOREVER), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_len(c), 1);
  /* And the channel still works. */
  int r = 0;
  ck_assert_int_eq(goro_chan_recv(c, &r), 1);
  ck_assert_int_eq(r, 1);
  goro_chan_release(c);
}
END_TEST

/* The rest of the API misused: each call returns its documented error and
 * changes nothing. */
START_TEST(test_misused_calls_return_their_documented_errors)
{
  int v = 1;
  ck_assert_int_eq(goro_chan_send(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_recv(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_trysend(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_tryrecv(NULL, &v), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_close(NULL), GORO_EINVAL);
  goro_chan_release(NULL);
  ck_assert_ptr_null(goro_chan_retain(NULL));

  goro_chan *c = chan_make_checked(sizeof(int), 1);
  ck_assert_int_eq(goro_chan_send(c, NULL), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_trysend(c, NULL), GORO_EINVAL);
  ck_assert_int_eq(goro_chan_len(c), 0);
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_int_eq(goro_chan_close(c), GORO_EPIPE);
  ck_assert_int_eq(goro_chan_send(c, &v), GORO_EPIPE);
  ck_assert_int_eq(goro_chan_trysend(c, &v), GORO_EPIPE);
  goro_chan_release(c);

  errno = 0;
  ck_assert_ptr_null(goro_chan_make(SIZE_MAX / 2, 3));
  ck_assert_int_eq(errno, EINVAL);

  goro_wg *wg = wg_make_checked();
  ck_assert_int_eq(goro_wg_add(NULL, 1), GORO_EINVAL);
  ck_assert_int_eq(goro_wg_done(NULL), GORO_EINVAL);
  ck_assert_int_eq(goro_wg_done(wg), GORO_ERANGE);
  ck_assert_int_eq(goro_wg_add(wg, INT64_MAX), GORO_ERANGE); /* above Go's INT32_MAX */
  ck_assert_int_eq(goro_wg_add(wg, INT32_MAX), 0);
  ck_assert_int_eq(goro_wg_add(wg, 1), GORO_ERANGE); /* overflow */
  ck_assert_int_eq(goro_wg_add(wg, -INT32_MAX), 0);
  goro_wg_wait(wg); /* zero: returns at once */
  ck_assert_int_eq(goro_wg_go(NULL, nop_main, NULL), GORO_EINVAL);
  ck_assert_int_eq(goro_wg_go(wg, NULL, NULL), GORO_EINVAL);
  ck_assert_int_eq(goro_wg_add(wg, -1), GORO_ERANGE); /* the failed go added nothing */
  ck_assert_int_eq(goro_closer(NULL, NULL), GORO_EINVAL);
  goro_wg_wait(NULL);
  goro_wg_free(wg);
  goro_wg_free(NULL);

  errno = 0;
  ck_assert_ptr_null(goro_ticker_make(0));
  ck_assert_int_eq(errno, EINVAL);
  ck_assert_ptr_null(goro_ticker_make(-5));
  goro_ticker_stop(NULL);

  static const int codes[] = {GORO_EPIPE,     GORO_EINVAL, GORO_ENOMEM, GORO_EAGAIN,
                              GORO_ETIMEDOUT, GORO_ERANGE, -EBADF,      -99999};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *s = goro_strerror(codes[i]);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_gt(strlen(s), 0);
  }
}
END_TEST

/* ---- Suite ------------------------------------------------------------- */

static Suite *
reliability_suite(void)
{
  Suite *s = suite_create("reliability");
  TCase *tc;

  tc = tcase_make("threads", 90);
  tcase_add_test(tc, test_go_returns_eagain_when_no_thread_can_be_started_and_recovers);
  suite_add_tcase(s, tc);

  /* The sanitizer runtimes of this toolchain do not support fork() while
   * other threads run: a child may hang on an allocator or runtime lock
   * that a lost thread held (seen under both ASan and TSan). The fork
   * tests run in the plain build. */
  tc = tcase_make("fork", 120);
  if (!UNDER_SANITIZER) {
    tcase_add_test(tc,
                   test_fork_with_goroutines_running_and_blocked_child_uses_goro_parent_unaffected);
    tcase_add_test(tc, test_fork_from_a_goroutine_child_uses_goro);
    tcase_add_test(tc, test_fork_while_goroutines_churn_names_timers_and_selects_child_uses_goro);
  } else {
    fprintf(stderr, "sanitizer build: the fork tests are left out\n");
  }
  suite_add_tcase(s, tc);

  tc = tcase_make("signals", 60);
  tcase_add_test(tc, test_process_directed_signal_reaches_the_sigwait_thread_not_a_pool_thread);
  tcase_add_test(tc, test_signal_handler_runs_only_in_the_thread_that_unblocks_it);
  suite_add_tcase(s, tc);

  tc = tcase_make("exit", 60);
  tcase_add_loop_test(tc, test_exit_with_goroutines_blocked_and_running_neither_crashes_nor_hangs,
                      0, (int)(sizeof exit_modes / sizeof exit_modes[0]));
  suite_add_tcase(s, tc);

  tc = tcase_make("misuse", 30);
  tcase_add_loop_test(tc,
                      test_release_of_the_last_reference_while_selects_wait_frees_nothing_in_use, 0,
                      TEST_NCAPS);
  tcase_add_test(tc, test_release_of_an_after_channel_while_a_goroutine_waits_on_it);
  tcase_add_test(tc, test_wg_reuse_before_wait_returns_wakes_every_waiter_once);
  tcase_add_test(tc, test_select_with_bad_op_is_einval_and_performs_nothing);
  tcase_add_test(tc, test_misused_calls_return_their_documented_errors);
  suite_add_tcase(s, tc);

  return s;
}

int
main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "--exit-child") == 0)
    return exit_child_main(argv[2]);
  return run_suite(reliability_suite());
}
