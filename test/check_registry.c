/* check_registry.c - the registry: goro_self, goro_num_goroutine,
 * goro_leakcheck, goro_dump, global deadlock detection, GORO_DEADLOCK,
 * GORO_LEAKCHECK and GORO_DUMP_SIGNAL (goro_leakcheck(3), goro(3)
 * ENVIRONMENT).
 *
 * What a whole process does (exit with status 2 on a deadlock, report at
 * exit, dump on SIGQUIT) is tested on test/registry_child, run with a mode
 * argument by fork and exec: $top_builddir/test/registry_child (the test
 * harness exports top_builddir), else next to this program. Its stderr is
 * captured through a pipe, and a child that outlives its time is killed,
 * so a hang fails the test.
 *
 * Under ThreadSanitizer deadlock detection never fires (TSan's own thread
 * is one goro cannot account for, and a false alarm is worse than a
 * missed one), so the tests that need it to fire are left out there.
 */
#include "config.h"

#include <goro.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "testutil.h"

extern char **environ;

/* ---- Helpers ----------------------------------------------------------- */

/* How long to wait for something that should happen soon (a goroutine
 * blocks, a child gets ready or exits) before calling it a hang: 45 s
 * times CK_TIMEOUT_MULTIPLIER (sanitized builds set it). On a loaded
 * machine a thread can go unscheduled for many seconds, so this is long;
 * it is spent only when a test fails. */
static int64_t
patience(void)
{
  return (int64_t)(45 * slowness()) * GORO_SECOND;
}

static goro_chan *
named_chan(const char *name)
{
  goro_chan *c = goro_chan_make(sizeof(int), 0);
  ck_assert_ptr_nonnull(c);
  goro_chan_set_name(c, name);
  return c;
}

static void
go_named_checked(const char *name, goro_fn *fn, void *arg)
{
  int rc = goro_go_named(name, fn, arg);
  ck_assert_msg(rc == 0, "goro_go_named: %s", goro_strerror(rc));
}

/* Everything goro_dump writes, as a malloc'd string. */
static char *
dump_string(void)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  goro_dump(f);
  fclose(f);
  return buf;
}

/* The entry of dump (entries are separated by blank lines) that contains
 * needle, as a malloc'd string, or NULL. */
static char *
entry_with(const char *dump, const char *needle)
{
  const char *hit = strstr(dump, needle);
  if (hit == NULL)
    return NULL;
  const char *start = hit;
  while (start > dump && !(start - dump >= 2 && start[-1] == '\n' && start[-2] == '\n'))
    start--;
  const char *end = strstr(hit, "\n\n");
  size_t n = end != NULL ? (size_t)(end - start) + 1 : strlen(start);
  return strndup(start, n);
}

/* The entry of the goroutine named name in a fresh dump, once its header
 * contains state (e.g. "[chan receive, "); polls for up to patience(). */
static char *
await_entry(const char *name, const char *state)
{
  char needle[96];
  snprintf(needle, sizeof needle, "\tname: %s\n", name);
  int64_t deadline = goro_now() + patience();
  for (;;) {
    char *dump = dump_string();
    char *e = entry_with(dump, needle);
    free(dump);
    if (e != NULL) {
      char *nl = strchr(e, '\n');
      if (nl != NULL && memmem(e, (size_t)(nl - e), state, strlen(state)) != NULL)
        return e;
      free(e);
    }
    ck_assert_msg(goro_now() < deadline, "goroutine %s never showed %s", name, state);
    nap(5 * MS);
  }
}

/* The header line of entry e, as a malloc'd string. */
static char *
header_of(const char *e)
{
  const char *nl = strchr(e, '\n');
  return strndup(e, nl != NULL ? (size_t)(nl - e) : strlen(e));
}

/* Check that entry e's header is Go's "goroutine ID [STATE, DURATION]:"
 * with a duration in ms, seconds or minutes. */
static void
assert_header(const char *e, uint64_t id, const char *state)
{
  char *h = header_of(e);
  char want[128];
  snprintf(want, sizeof want, "goroutine %llu [%s, ", (unsigned long long)id, state);
  ck_assert_msg(strncmp(h, want, strlen(want)) == 0, "header \"%s\", want \"%s...\"", h, want);
  const char *dur = h + strlen(want);
  size_t n = strlen(h);
  ck_assert_msg(dur[0] >= '0' && dur[0] <= '9', "no duration in \"%s\"", h);
  ck_assert_msg((n > 5 && strcmp(h + n - 5, " ms]:") == 0) ||
                    (n > 10 && strcmp(h + n - 10, " seconds]:") == 0) ||
                    (n > 10 && strcmp(h + n - 10, " minutes]:") == 0),
                "bad duration in \"%s\"", h);
  free(h);
}

/* A goroutine that notes its id, receives once from c (or until c
 * closes), and marks wg done. */
struct waiter {
  goro_chan *c;
  goro_wg *wg;
  _Atomic uint64_t id;
};

static void
recv_main(void *arg)
{
  struct waiter *w = arg;
  atomic_store(&w->id, goro_self());
  goro_chan_recv(w->c, NULL);
  goro_wg_done(w->wg);
}

static void
start_waiter(struct waiter *w, const char *name, goro_chan *c, goro_wg *wg)
{
  w->c = c;
  w->wg = wg;
  atomic_init(&w->id, 0);
  goro_wg_add(wg, 1);
  go_named_checked(name, recv_main, w);
}

/* ---- Child processes --------------------------------------------------- */

struct child {
  pid_t pid;
  int err;   /* read end of its stderr */
  int in;    /* write end of its stdin */
  char *out; /* its stderr so far, NUL-terminated */
  size_t len, cap;
  bool exited;
  int status;       /* once exited */
  int64_t exit_at;  /* goro_now() when its exit was seen */
  int64_t ready_at; /* the goro_now() of its "ready" line */
};

/* The path of test/registry_child. */
static const char *
child_path(void)
{
  static char path[PATH_MAX + 32];
  const char *top = getenv("top_builddir");
  if (top != NULL && *top != '\0') {
    snprintf(path, sizeof path, "%s/test/registry_child", top);
    if (access(path, X_OK) == 0)
      return path;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL) {
      *slash = '\0';
      snprintf(path, sizeof path, "%s/registry_child", exe);
      if (access(path, X_OK) == 0)
        return path;
      snprintf(path, sizeof path, "%s/../registry_child", exe); /* libtool's .libs/ */
      if (access(path, X_OK) == 0)
        return path;
    }
  }
  ck_abort_msg("registry_child not found (run from the build directory, or set top_builddir)");
  return NULL;
}

static bool
is_goro_setting(const char *s)
{
  static const char *const names[] = {"GORO_DEADLOCK=", "GORO_LEAKCHECK=", "GORO_DUMP_SIGNAL="};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strncmp(s, names[i], strlen(names[i])) == 0)
      return true;
  return false;
}

/* Start registry_child MODE with this environment, minus any GORO_DEADLOCK,
 * GORO_LEAKCHECK or GORO_DUMP_SIGNAL, plus setting (NULL: none). */
static void
child_start(struct child *ch, const char *mode, const char *setting)
{
  const char *path = child_path();
  size_t n = 0;
  while (environ[n] != NULL)
    n++;
  char **envp = calloc(n + 2, sizeof *envp);
  ck_assert_ptr_nonnull(envp);
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!is_goro_setting(environ[i]))
      envp[k++] = environ[i];
  if (setting != NULL)
    envp[k++] = (char *)setting;
  envp[k] = NULL;
  char *argv[] = {(char *)path, (char *)mode, NULL};

  int err[2], in[2];
  ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
  ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ck_assert_int_ge(null, 0);
  signal(SIGPIPE, SIG_IGN); /* writing to a child that died must not kill us */

  memset(ch, 0, sizeof *ch);
  ch->pid = fork();
  ck_assert_int_ge(ch->pid, 0);
  if (ch->pid == 0) {
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
#endif
    if (dup2(in[0], STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
        dup2(err[1], STDERR_FILENO) < 0)
      _exit(126);
    signal(SIGPIPE, SIG_DFL);
    execve(path, argv, envp);
    _exit(127);
  }
  free(envp);
  close(null);
  close(in[0]);
  close(err[1]);
  ch->in = in[1];
  ch->err = err[0];
  fcntl(ch->err, F_SETFL, fcntl(ch->err, F_GETFL) | O_NONBLOCK);
  ch->cap = 4096;
  ch->out = calloc(ch->cap, 1);
  ck_assert_ptr_nonnull(ch->out);
}

/* Read what the child wrote to stderr, waiting up to ms for some. */
static void
child_drain(struct child *ch, int ms)
{
  struct pollfd p = {.fd = ch->err, .events = POLLIN};
  if (ch->err < 0 || poll(&p, 1, ms) <= 0)
    return;
  for (;;) {
    if (ch->cap - ch->len < 1024) {
      ch->cap *= 2;
      ch->out = realloc(ch->out, ch->cap);
      ck_assert_ptr_nonnull(ch->out);
    }
    ssize_t n = read(ch->err, ch->out + ch->len, ch->cap - ch->len - 1);
    if (n > 0) {
      ch->len += (size_t)n;
      ch->out[ch->len] = '\0';
      continue;
    }
    if (n == 0) { /* every writer is gone */
      close(ch->err);
      ch->err = -1;
    }
    return;
  }
}

/* Has the child exited? Reaps it if so. */
static bool
child_exited(struct child *ch)
{
  if (ch->exited)
    return true;
  pid_t p = waitpid(ch->pid, &ch->status, WNOHANG);
  ck_assert_int_ge(p, 0);
  if (p == 0)
    return false;
  ch->exit_at = goro_now();
  ch->exited = true;
  while (ch->err >= 0)
    child_drain(ch, 1000);
  return true;
}

/* Collect stderr until it contains needle (true), the child exits or
 * timeout_ns passes (false). */
static bool
child_await(struct child *ch, const char *needle, int64_t timeout_ns)
{
  int64_t deadline = goro_now() + timeout_ns;
  while (strstr(ch->out, needle) == NULL) {
    if (child_exited(ch) || goro_now() >= deadline)
      return strstr(ch->out, needle) != NULL;
    child_drain(ch, 10);
  }
  return true;
}

/* Wait for the child's "ready <goro_now()>" line and note the time. */
static void
child_await_ready(struct child *ch)
{
  ck_assert_msg(child_await(ch, "ready ", patience()), "the child never got ready; its stderr:\n%s",
                ch->out);
  long long t = 0;
  ck_assert_int_eq(sscanf(strstr(ch->out, "ready "), "ready %lld", &t), 1);
  ch->ready_at = t;
}

/* Wait until goro_now() reaches until, collecting stderr; true if the
 * child is still running then. */
static bool
child_alive_at(struct child *ch, int64_t until)
{
  while (goro_now() < until && !child_exited(ch))
    child_drain(ch, 10);
  return !child_exited(ch);
}

/* Wait up to timeout_ns for the child to exit; false if it did not. */
static bool
child_wait(struct child *ch, int64_t timeout_ns)
{
  int64_t deadline = goro_now() + timeout_ns;
  while (!child_exited(ch)) {
    if (goro_now() >= deadline)
      return false;
    child_drain(ch, 10);
  }
  return true;
}

/* What each thread of a running child is doing (state and kernel wait
 * channel, from /proc), for the message of a test that timed out. */
static const char *
child_threads(const struct child *ch)
{
  static char buf[4096];
  size_t n = 0;
  buf[0] = '\0';
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/task", (int)ch->pid);
  DIR *d = opendir(dir);
  if (d == NULL)
    return "  (no /proc)\n";
  struct dirent *de;
  while ((de = readdir(d)) != NULL && n < sizeof buf) {
    if (de->d_name[0] == '.')
      continue;
    char path[384], stat[512] = "", wchan[64] = "";
    snprintf(path, sizeof path, "%s/%s/stat", dir, de->d_name);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
      if (fgets(stat, sizeof stat, f) == NULL)
        stat[0] = '\0';
      fclose(f);
    }
    snprintf(path, sizeof path, "%s/%s/wchan", dir, de->d_name);
    if ((f = fopen(path, "r")) != NULL) {
      if (fgets(wchan, sizeof wchan, f) == NULL)
        wchan[0] = '\0';
      fclose(f);
    }
    const char *paren = strrchr(stat, ')');
    n += (size_t)snprintf(buf + n, sizeof buf - n, "  thread %s: state %.1s, wchan %s\n",
                          de->d_name, paren != NULL ? paren + 2 : "?", wchan);
  }
  closedir(d);
  return buf;
}

/* Wait (generously) for the child to exit with status want. */
static void
assert_child_exits_with(struct child *ch, int want)
{
  bool done = child_wait(ch, patience());
  ck_assert_msg(done, "the child still runs (want exit status %d); its threads:\n%sits stderr:\n%s",
                want, child_threads(ch), ch->out);
  ck_assert_msg(WIFEXITED(ch->status) && WEXITSTATUS(ch->status) == want,
                "child status 0x%x, want exit status %d; its stderr:\n%s", ch->status, want,
                ch->out);
}

static void
child_write_byte(struct child *ch)
{
  ck_assert_int_eq(write(ch->in, "x", 1), 1);
}

/* Kill the child if it still runs, reap it, free ch. */
static void
child_end(struct child *ch)
{
  if (!child_exited(ch)) {
    kill(ch->pid, SIGKILL);
    waitpid(ch->pid, &ch->status, 0);
    ch->exited = true;
  }
  if (ch->err >= 0)
    close(ch->err);
  close(ch->in);
  free(ch->out);
}

static const char DEADLOCK_MSG[] = "fatal error: all goroutines are asleep - deadlock!";

/* A run of registry_child judged only by how it ends: its exit status
 * and what its stderr contains or lacks. */
struct child_run {
  const char *mode;       /* registry_child's argument */
  const char *setting;    /* an environment setting (NULL: none) */
  int status;             /* the exit status it must end with */
  const char *present[2]; /* strings its stderr must contain (NULL: none) */
  const char *absent;     /* a string its stderr must not contain (NULL: none) */
};

/* Run r->mode and check how it ends. */
static void
assert_child_run(const struct child_run *r)
{
  struct child ch;
  child_start(&ch, r->mode, r->setting);
  assert_child_exits_with(&ch, r->status);
  for (int i = 0; i < 2; i++)
    ck_assert_msg(r->present[i] == NULL || strstr(ch.out, r->present[i]) != NULL,
                  "mode %s: no \"%s\"; stderr:\n%s", r->mode, r->present[i], ch.out);
  ck_assert_msg(r->absent == NULL || strstr(ch.out, r->absent) == NULL,
                "mode %s: \"%s\" found; stderr:\n%s", r->mode, r->absent, ch.out);
  child_end(&ch);
}

/* The runs checked by their ending alone, in three ranges: deadlock
 * detection that must fire (left out under ThreadSanitizer), deadlock
 * detection that must not fire, and the GORO_LEAKCHECK setting. */
static const struct child_run child_runs[] = {
    /* A deadlock is detected again once signal_notify is stopped. */
    {"signal_stopped", NULL, 2, {DEADLOCK_MSG, "\"after-stop\""}, NULL},
#define RUNS_FIRING_END 1
    /* No deadlock while main selects with a timeout. */
    {"select_timeout", NULL, 0, {NULL}, DEADLOCK_MSG},
    /* No deadlock while main sleeps in goro. */
    {"goro_sleep", NULL, 0, {NULL}, DEADLOCK_MSG},
    /* No deadlock while a registered thread sleeps outside goro. */
    {"os_sleep", NULL, 0, {NULL}, DEADLOCK_MSG},
#define RUNS_QUIET_END 4
#ifdef HAVE_ON_EXIT
    /* GORO_LEAKCHECK=1 reports a leak but keeps a failing exit status. */
    {"leak_fail", "GORO_LEAKCHECK=1", 5, {"1 goroutine(s) still alive"}, NULL},
#endif
    /* GORO_LEAKCHECK=1 exits 0 when nothing leaked. */
    {"funcname", "GORO_LEAKCHECK=1", 0, {NULL}, "still alive"},
    /* No leak report at exit without GORO_LEAKCHECK. */
    {"leak", NULL, 0, {NULL}, "leaky-worker"},
};
#define RUNS_END ((int)(sizeof child_runs / sizeof child_runs[0]))

START_TEST(test_child_run_ends_as_its_table_row_says)
{
  assert_child_run(&child_runs[_i]);
}
END_TEST

/* ---- goro_self, goro_num_goroutine ------------------------------------- */

START_TEST(test_self_is_zero_outside_goroutines_and_distinct_in_each)
{
  enum { N = 4 };
  ck_assert_uint_eq(goro_self(), 0);
  goro_wg *wg = wg_make_checked();
  goro_chan *c = named_chan("ids");
  struct waiter w[N];
  for (int i = 0; i < N; i++)
    start_waiter(&w[i], "id-reporter", c, wg);
  for (int i = 0; i < N; i++) {
    while (atomic_load(&w[i].id) == 0)
      nap(1 * MS);
    ck_assert_uint_ge(atomic_load(&w[i].id), 1);
    for (int j = 0; j < i; j++)
      ck_assert_uint_ne(atomic_load(&w[i].id), atomic_load(&w[j].id));
  }
  goro_chan_close(c);
  goro_wg_wait(wg);
  ck_assert_uint_eq(goro_self(), 0);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_num_goroutine_counts_started_until_they_return)
{
  enum { N = 3 };
  size_t base = goro_num_goroutine();
  goro_wg *wg = wg_make_checked();
  goro_chan *c = named_chan("count");
  struct waiter w[N];
  for (int i = 0; i < N; i++) {
    start_waiter(&w[i], "counted", c, wg);
    ck_assert_uint_eq(goro_num_goroutine(), base + (size_t)i + 1);
  }
  free(await_entry("counted", "[chan receive, "));
  ck_assert_uint_eq(goro_num_goroutine(), base + N);
  goro_chan_close(c);
  goro_wg_wait(wg);
  int64_t deadline = goro_now() + patience();
  while (goro_num_goroutine() != base && goro_now() < deadline)
    nap(1 * MS);
  ck_assert_uint_eq(goro_num_goroutine(), base);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* ---- goro_leakcheck ----------------------------------------------------- */

START_TEST(test_leakcheck_reports_blocked_goroutine_until_released)
{
  goro_wg *wg = wg_make_checked();
  goro_chan *c = named_chan("never-sent");
  struct waiter w;
  start_waiter(&w, "leaky", c, wg);
  free(await_entry("leaky", "[chan receive, "));

  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(goro_leakcheck(0, f), 1);
  fclose(f);
  ck_assert_msg(strstr(buf, "1 goroutine(s) still alive") != NULL, "report:\n%s", buf);
  char *e = entry_with(buf, "\tname: leaky\n");
  ck_assert_msg(e != NULL, "leaky not in the report:\n%s", buf);
  assert_header(e, atomic_load(&w.id), "chan receive");
  ck_assert_msg(strstr(e, "\"never-sent\"") != NULL, "no channel name in:\n%s", e);
  free(e);
  free(buf);

  char *dump = dump_string();
  e = entry_with(dump, "\tname: leaky\n");
  ck_assert_msg(e != NULL, "leaky not in the dump:\n%s", dump);
  assert_header(e, atomic_load(&w.id), "chan receive");
  ck_assert_msg(strstr(e, "waiting on channel") != NULL && strstr(e, "\"never-sent\"") != NULL,
                "no channel in:\n%s", e);
  free(e);
  free(dump);

  goro_chan_close(c);
  buf = NULL;
  f = open_memstream(&buf, &len);
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(goro_leakcheck(patience(), f), 0);
  fclose(f);
  ck_assert_msg(len == 0, "a report with nothing alive:\n%s", buf);
  free(buf);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

static void
sleep_100ms_main(void *arg)
{
  (void)arg;
  goro_sleep(100 * GORO_MILLISECOND);
}

START_TEST(test_leakcheck_waits_for_goroutine_finishing_within_grace)
{
  int64_t t0 = goro_now();
  go_named_checked("napper", sleep_100ms_main, NULL);
  ck_assert_uint_eq(goro_leakcheck(20 * GORO_SECOND, stderr), 0);
  int64_t took = goro_now() - t0;
  ck_assert_msg(took >= 95 * GORO_MILLISECOND, "returned after %lld ns", (long long)took);
  ck_assert_msg(took < 15 * GORO_SECOND, "took %lld ns: did not return once none was left",
                (long long)took);
}
END_TEST

START_TEST(test_leakcheck_retries_for_whole_grace_then_counts_survivors)
{
  goro_wg *wg = wg_make_checked();
  goro_chan *c = named_chan("held");
  struct waiter w;
  start_waiter(&w, "survivor", c, wg);
  int64_t t0 = goro_now();
  ck_assert_uint_eq(goro_leakcheck(300 * GORO_MILLISECOND, NULL), 1);
  int64_t took = goro_now() - t0;
  ck_assert_msg(took >= 290 * GORO_MILLISECOND, "gave up after %lld ns", (long long)took);
  goro_chan_close(c);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_leakcheck_with_zero_grace_returns_count_at_once)
{
  goro_wg *wg = wg_make_checked();
  goro_chan *c = named_chan("held");
  struct waiter w[2];
  start_waiter(&w[0], "first", c, wg);
  start_waiter(&w[1], "second", c, wg);
  int64_t t0 = goro_now();
  ck_assert_uint_eq(goro_leakcheck(0, NULL), 2);
  int64_t took = goro_now() - t0;
  ck_assert_msg(took < GORO_SECOND, "took %lld ns", (long long)took);
  goro_chan_close(c);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

struct checker {
  goro_wg *wg;
  size_t found;
  char *report;
};

static void
checker_main(void *arg)
{
  struct checker *k = arg;
  size_t len = 0;
  FILE *f = open_memstream(&k->report, &len);
  if (f != NULL) {
    k->found = goro_leakcheck(0, f);
    fclose(f);
  }
  goro_wg_done(k->wg);
}

START_TEST(test_leakcheck_in_goroutine_does_not_count_the_caller)
{
  goro_wg *wg = wg_make_checked();
  goro_chan *c = named_chan("held");
  struct waiter w;
  start_waiter(&w, "other", c, wg);
  free(await_entry("other", "[chan receive, "));
  struct checker k = {.wg = wg_make_checked(), .found = 99};
  goro_wg_add(k.wg, 1);
  go_named_checked("the-checker", checker_main, &k);
  goro_wg_wait(k.wg);
  ck_assert_uint_eq(k.found, 1);
  ck_assert_ptr_nonnull(k.report);
  ck_assert_msg(strstr(k.report, "\tname: other\n") != NULL, "report:\n%s", k.report);
  ck_assert_msg(strstr(k.report, "the-checker") == NULL, "the caller is listed:\n%s", k.report);
  free(k.report);
  goro_chan_close(c);
  goro_wg_wait(wg);
  goro_wg_free(k.wg);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* ---- goro_dump ---------------------------------------------------------- */

/* The goroutines in timed waits wait in rounds of this, until stopped. */
static const int64_t TIMED_ROUND = 200 * GORO_MILLISECOND;

struct states {
  goro_wg *all;
  goro_chan *send_c, *recv_c, *sel_a, *sel_b;
  goro_wg *blocker; /* counter 1 until released */
  _Atomic bool stop;
  _Atomic uint64_t id[7];
};

enum { S_SEND, S_RECV, S_SELECT, S_NOCASES, S_WG, S_SLEEP, S_RUNNING };

static void
send_state_main(void *arg)
{
  struct states *s = arg;
  atomic_store(&s->id[S_SEND], goro_self());
  int v = 1;
  goro_chan_send(s->send_c, &v);
  goro_wg_done(s->all);
}

static void
recv_state_main(void *arg)
{
  struct states *s = arg;
  atomic_store(&s->id[S_RECV], goro_self());
  goro_chan_recv(s->recv_c, NULL);
  goro_wg_done(s->all);
}

static void
select_state_main(void *arg)
{
  struct states *s = arg;
  atomic_store(&s->id[S_SELECT], goro_self());
  goro_case cs[] = {GORO_RECV_CASE(s->sel_a, NULL), GORO_RECV_CASE(s->sel_b, NULL)};
  goro_select(cs, 2, GORO_FOREVER);
  goro_wg_done(s->all);
}

static void
nocases_state_main(void *arg)
{
  struct states *s = arg;
  atomic_store(&s->id[S_NOCASES], goro_self());
  while (!atomic_load(&s->stop))
    goro_select(NULL, 0, TIMED_ROUND);
  goro_wg_done(s->all);
}

static void
wg_state_main(void *arg)
{
  struct states *s = arg;
  atomic_store(&s->id[S_WG], goro_self());
  goro_wg_wait(s->blocker);
  goro_wg_done(s->all);
}

static void
sleep_state_main(void *arg)
{
  struct states *s = arg;
  atomic_store(&s->id[S_SLEEP], goro_self());
  while (!atomic_load(&s->stop))
    goro_sleep(TIMED_ROUND);
  goro_wg_done(s->all);
}

static void
running_state_main(void *arg)
{
  struct states *s = arg;
  atomic_store(&s->id[S_RUNNING], goro_self());
  while (!atomic_load(&s->stop))
    sched_yield();
  goro_wg_done(s->all);
}

static const struct {
  const char *name;
  goro_fn *fn;
  const char *state;
  const char *chan; /* the quoted channel name it must show, or NULL */
  bool forever;     /* blocked until released */
} state_cases[] = {
    [S_SEND] = {"st-sender", send_state_main, "chan send", "\"send-chan\"", true},
    [S_RECV] = {"st-receiver", recv_state_main, "chan receive", "\"recv-chan\"", true},
    [S_SELECT] = {"st-selector", select_state_main, "select", NULL, true},
    [S_NOCASES] = {"st-nocases", nocases_state_main, "select (no cases)", NULL, false},
    [S_WG] = {"st-wg-waiter", wg_state_main, "WaitGroup wait", NULL, true},
    [S_SLEEP] = {"st-sleeper", sleep_state_main, "sleep", NULL, false},
    [S_RUNNING] = {"st-runner", running_state_main, "running", NULL, false},
};
enum { NSTATES = sizeof state_cases / sizeof state_cases[0] };

/* The entry named name in dump, checked against state_cases[i]. */
static void
assert_state_entry(const char *dump, int i, const struct states *s)
{
  char needle[96];
  snprintf(needle, sizeof needle, "\tname: %s\n", state_cases[i].name);
  char *e = entry_with(dump, needle);
  ck_assert_msg(e != NULL, "%s not in the dump:\n%s", state_cases[i].name, dump);
  uint64_t id = atomic_load(&s->id[i]);
  if (i == S_RUNNING) {
    char want[96];
    snprintf(want, sizeof want, "goroutine %llu [running]:\n", (unsigned long long)id);
    ck_assert_msg(strncmp(e, want, strlen(want)) == 0, "entry:\n%s\nwant: %s", e, want);
  } else {
    assert_header(e, id, state_cases[i].state);
  }
  ck_assert_msg(strstr(e, "\tfunc: ") != NULL, "no function in:\n%s", e);
  if (state_cases[i].chan != NULL)
    ck_assert_msg(strstr(e, "waiting on channel") != NULL && strstr(e, state_cases[i].chan) != NULL,
                  "no channel %s in:\n%s", state_cases[i].chan, e);
  else
    ck_assert_msg(strstr(e, "waiting on channel") == NULL, "a channel in:\n%s", e);
  free(e);
}

/* Does dump show every goroutine of state_cases in its state? */
static bool
all_states_shown(const char *dump)
{
  for (int i = 0; i < NSTATES; i++) {
    char needle[96];
    snprintf(needle, sizeof needle, "\tname: %s\n", state_cases[i].name);
    char *e = entry_with(dump, needle);
    if (e == NULL)
      return false;
    char want[48];
    snprintf(want, sizeof want, "[%s%s", state_cases[i].state, i == S_RUNNING ? "]" : ", ");
    char *h = header_of(e);
    bool ok = strstr(h, want) != NULL;
    free(h);
    free(e);
    if (!ok)
      return false;
  }
  return true;
}

START_TEST(test_dump_shows_each_state_with_channel_and_duration)
{
  struct states s = {
      .all = wg_make_checked(),
      .send_c = named_chan("send-chan"),
      .recv_c = named_chan("recv-chan"),
      .sel_a = named_chan("sel-a"),
      .sel_b = named_chan("sel-b"),
      .blocker = wg_make_checked(),
  };
  goro_wg_add(s.blocker, 1);
  for (int i = 0; i < NSTATES; i++) {
    goro_wg_add(s.all, 1);
    go_named_checked(state_cases[i].name, state_cases[i].fn, &s);
  }

  char *dump = NULL;
  int64_t deadline = goro_now() + patience();
  for (;;) {
    /* The runner shows as running before its first instruction: wait
     * until it has recorded its id too. */
    dump = dump_string();
    if (all_states_shown(dump) && atomic_load(&s.id[S_RUNNING]) != 0)
      break;
    ck_assert_msg(goro_now() < deadline, "not every state showed; last dump:\n%s", dump);
    free(dump);
    nap(10 * MS);
  }
  for (int i = 0; i < NSTATES; i++)
    assert_state_entry(dump, i, &s);
  free(dump);

  /* Blocked for over a second: the duration says so. */
  nap(1200 * MS);
  dump = dump_string();
  for (int i = 0; i < NSTATES; i++) {
    if (!state_cases[i].forever)
      continue;
    assert_state_entry(dump, i, &s);
    char needle[96];
    snprintf(needle, sizeof needle, "\tname: %s\n", state_cases[i].name);
    char *e = entry_with(dump, needle);
    char *h = header_of(e);
    ck_assert_msg(strstr(h, " seconds]:") != NULL || strstr(h, " minutes]:") != NULL,
                  "blocked for over 1.2 s: %s", h);
    free(h);
    free(e);
  }
  free(dump);

  goro_chan_close(s.send_c);
  goro_chan_close(s.recv_c);
  goro_chan_close(s.sel_a);
  goro_wg_done(s.blocker);
  atomic_store(&s.stop, true);
  goro_wg_wait(s.all);
  goro_wg_free(s.all);
  goro_wg_free(s.blocker);
  goro_chan_release(s.send_c);
  goro_chan_release(s.recv_c);
  goro_chan_release(s.sel_a);
  goro_chan_release(s.sel_b);
}
END_TEST

START_TEST(test_dump_shows_unnamed_goroutine_by_function_and_unnamed_channel)
{
  goro_wg *wg = wg_make_checked();
  goro_chan *c = goro_chan_make(0, 0); /* no name */
  ck_assert_ptr_nonnull(c);
  struct waiter w = {.c = c, .wg = wg};
  atomic_init(&w.id, 0);
  goro_wg_add(wg, 1);
  ck_assert_int_eq(goro_go(recv_main, &w), 0);
  while (atomic_load(&w.id) == 0)
    nap(1 * MS);
  char head[64];
  snprintf(head, sizeof head, "goroutine %llu [chan receive, ",
           (unsigned long long)atomic_load(&w.id));
  char *e = NULL;
  int64_t deadline = goro_now() + patience();
  for (;;) {
    char *dump = dump_string();
    e = entry_with(dump, head);
    free(dump);
    if (e != NULL)
      break;
    ck_assert_msg(goro_now() < deadline, "the goroutine never blocked");
    nap(5 * MS);
  }
  ck_assert_msg(strstr(e, "\tname:") == NULL, "a name in:\n%s", e);
  ck_assert_msg(strstr(e, "\tfunc: ") != NULL, "no function in:\n%s", e);
  char chan[64];
  snprintf(chan, sizeof chan, "waiting on channel %p\n", (void *)c);
  ck_assert_msg(strstr(e, chan) != NULL, "no \"%s\" in:\n%s", chan, e);
  free(e);
  goro_chan_close(c);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_dump_of_idle_process_lists_no_goroutine)
{
  /* A goroutine that ran and returned leaves an idle worker: not shown. */
  goro_wg *wg = wg_make_checked();
  goro_chan *c = named_chan("short");
  struct waiter w;
  start_waiter(&w, "short-lived", c, wg);
  goro_chan_close(c);
  goro_wg_wait(wg);
  ck_assert_uint_eq(goro_leakcheck(patience(), NULL), 0);
  char *dump = dump_string();
  ck_assert_msg(strstr(dump, "goroutine ") == NULL, "dump:\n%s", dump);
  free(dump);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_dump_names_function_of_unnamed_goroutine)
{
#ifdef HAVE_DLADDR
  struct child ch;
  child_start(&ch, "funcname", NULL);
  assert_child_exits_with(&ch, 0);
  ck_assert_msg(strstr(ch.out, "registry_child_blocker") != NULL, "dump:\n%s", ch.out);
  child_end(&ch);
#else
  fprintf(stderr, "no dladdr: function names are not shown\n");
#endif
}
END_TEST

START_TEST(test_dump_shows_address_and_hint_for_static_function)
{
  struct child ch;
  child_start(&ch, "funcname_static", NULL);
  assert_child_exits_with(&ch, 0);
  const char *at = strstr(ch.out, "static_blocker is at ");
  ck_assert_msg(at != NULL, "stderr:\n%s", ch.out);
  char addr[64];
  ck_assert_int_eq(sscanf(at, "static_blocker is at %63s", addr), 1);
  char *e = entry_with(ch.out, "\"static-chan\"");
  ck_assert_msg(e != NULL, "stderr:\n%s", ch.out);
  char want[96];
  snprintf(want, sizeof want, "\tfunc: %s ", addr);
  ck_assert_msg(strstr(e, want) != NULL, "no \"%s\" in:\n%s", want, e);
  ck_assert_msg(strstr(e, "-rdynamic") != NULL && strstr(e, "goro_go_named") != NULL,
                "no hint in:\n%s", e);
  free(e);
  child_end(&ch);
}
END_TEST

/* ---- Deadlock detection: it fires --------------------------------------- */

START_TEST(test_deadlock_main_blocked_on_channel_exits_2_with_dump)
{
  struct child ch;
  child_start(&ch, "recv", NULL);
  assert_child_exits_with(&ch, 2);
  ck_assert_msg(strstr(ch.out, DEADLOCK_MSG) != NULL, "stderr:\n%s", ch.out);
  char *e = entry_with(ch.out, "\"nobody-sends\"");
  ck_assert_msg(e != NULL, "the channel is not in the dump:\n%s", ch.out);
  ck_assert_msg(strncmp(e, "thread ", 7) == 0 && strstr(e, "(not started by goro)") != NULL &&
                    strstr(e, "[chan receive, ") != NULL,
                "the main thread's entry:\n%s", e);
  free(e);
  child_end(&ch);
}
END_TEST

/* A child in mode cycle or cycle_reused ends in the deadlock report, with
 * the three goroutines, by name, and main in the dump. */
static void
assert_cycle_deadlock(const char *mode)
{
  struct child ch;
  child_start(&ch, mode, NULL);
  assert_child_exits_with(&ch, 2);
  ck_assert_msg(strstr(ch.out, DEADLOCK_MSG) != NULL, "stderr:\n%s", ch.out);
  for (int i = 0; i < 3; i++) {
    char needle[32];
    snprintf(needle, sizeof needle, "\tname: cycle-%d\n", i);
    char *e = entry_with(ch.out, needle);
    ck_assert_msg(e != NULL, "cycle-%d not in the dump:\n%s", i, ch.out);
    ck_assert_msg(strncmp(e, "goroutine ", 10) == 0 && strstr(e, "[chan receive, ") != NULL,
                  "entry:\n%s", e);
    free(e);
  }
  char *e = entry_with(ch.out, "(not started by goro)");
  ck_assert_msg(e != NULL && strstr(e, "[WaitGroup wait, ") != NULL, "stderr:\n%s", ch.out);
  free(e);
  child_end(&ch);
}

START_TEST(test_deadlock_goroutine_cycle_and_main_in_wg_wait_exits_2)
{
  assert_cycle_deadlock("cycle");
}
END_TEST

START_TEST(test_deadlock_among_goroutines_handed_to_reused_workers_exits_2)
{
  assert_cycle_deadlock("cycle_reused");
}
END_TEST

START_TEST(test_pending_timer_defers_deadlock_until_it_fires)
{
  struct child ch;
  child_start(&ch, "after", NULL);
  child_await_ready(&ch);
  ck_assert_msg(child_alive_at(&ch, ch.ready_at + GORO_SECOND),
                "deadlock declared with a timer pending; stderr:\n%s", ch.out);
  assert_child_exits_with(&ch, 2);
  ck_assert_msg(strstr(ch.out, DEADLOCK_MSG) != NULL, "stderr:\n%s", ch.out);
  int64_t after = ch.exit_at - ch.ready_at;
  ck_assert_msg(after >= 1500 * GORO_MILLISECOND, "declared %lld ms after arming a 1.5 s timer",
                (long long)(after / GORO_MILLISECOND));
  child_end(&ch);
}
END_TEST

/* ---- Deadlock detection: it must not fire ------------------------------- */

START_TEST(test_deadlock_detection_off_with_GORO_DEADLOCK_0)
{
  struct child ch;
  child_start(&ch, "recv", "GORO_DEADLOCK=0");
  child_await_ready(&ch);
  ck_assert_msg(child_alive_at(&ch, goro_now() + 1500 * GORO_MILLISECOND),
                "status 0x%x; stderr:\n%s", ch.status, ch.out);
  ck_assert_msg(strstr(ch.out, DEADLOCK_MSG) == NULL, "stderr:\n%s", ch.out);
  child_end(&ch);
}
END_TEST

START_TEST(test_no_deadlock_while_plain_thread_blocks_in_read)
{
  struct child ch;
  child_start(&ch, "reader", NULL);
  child_await_ready(&ch);
  ck_assert_msg(child_alive_at(&ch, goro_now() + 1500 * GORO_MILLISECOND),
                "status 0x%x; stderr:\n%s", ch.status, ch.out);
  child_write_byte(&ch); /* the reader wakes and releases main */
  assert_child_exits_with(&ch, 0);
  ck_assert_msg(strstr(ch.out, DEADLOCK_MSG) == NULL, "stderr:\n%s", ch.out);
  child_end(&ch);
}
END_TEST

/* A worker stalled between taking a goroutine from the hand-off ring and
 * running it, across several scans, while main waits for that goroutine:
 * no false deadlock report (the worker used to read as idle). */
START_TEST(test_no_deadlock_while_a_worker_stalls_after_taking_a_goroutine)
{
  /* Idle workers poll the ring only where they may spin: not in a
   * GORO_VALGRIND build, nor on one CPU. There is nothing to stall then. */
#ifdef GORO_VALGRIND
  return;
#endif
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
    return;
  static const struct child_run handoff_stall = {"handoff_stall", NULL, 0, {NULL}, DEADLOCK_MSG};
  assert_child_run(&handoff_stall);
}
END_TEST

/* ---- GORO_LEAKCHECK, GORO_DUMP_SIGNAL ----------------------------------- */

START_TEST(test_GORO_LEAKCHECK_1_reports_leaked_goroutine_at_exit_and_exits_3)
{
  struct child ch;
  child_start(&ch, "leak", "GORO_LEAKCHECK=1");
  assert_child_exits_with(&ch, 3);
  ck_assert_msg(strstr(ch.out, "1 goroutine(s) still alive") != NULL, "stderr:\n%s", ch.out);
  char *e = entry_with(ch.out, "\tname: leaky-worker\n");
  ck_assert_msg(e != NULL, "stderr:\n%s", ch.out);
  ck_assert_msg(strstr(e, "[chan receive, ") != NULL && strstr(e, "\"leak-chan\"") != NULL,
                "entry:\n%s", e);
  free(e);
  child_end(&ch);
}
END_TEST

START_TEST(test_GORO_DUMP_SIGNAL_1_dumps_on_SIGQUIT_and_keeps_running)
{
  struct child ch;
  child_start(&ch, "sigquit", "GORO_DUMP_SIGNAL=1");
  child_await_ready(&ch);
  ck_assert_int_eq(kill(ch.pid, SIGQUIT), 0);
  ck_assert_msg(child_await(&ch, "\"quit-chan\"", patience()),
                "no dump after SIGQUIT; status 0x%x; stderr:\n%s", ch.status, ch.out);
  /* Let the whole dump arrive. */
  child_alive_at(&ch, goro_now() + 300 * GORO_MILLISECOND);
  char *e = entry_with(ch.out, "\tname: quit-waiter\n");
  ck_assert_msg(e != NULL, "stderr:\n%s", ch.out);
  ck_assert_msg(strncmp(e, "goroutine ", 10) == 0 && strstr(e, "[chan receive, ") != NULL &&
                    strstr(e, "\"quit-chan\"") != NULL,
                "entry:\n%s", e);
  free(e);
  ck_assert_msg(!child_exited(&ch), "SIGQUIT ended it: status 0x%x; stderr:\n%s", ch.status,
                ch.out);
  child_write_byte(&ch); /* still working: it releases the goroutine and exits */
  assert_child_exits_with(&ch, 0);
  child_end(&ch);
}
END_TEST

/* ---- Suite -------------------------------------------------------------- */

/* Channel names are published with release and read with acquire, all
 * the way to a dump in another thread: the name's bytes, written by the
 * thread that set it, are never raced on (ThreadSanitizer checks). A
 * goroutine renames its channel with fresh names and blocks on it while
 * main dumps. */
struct renamer {
  goro_chan *c;
  _Atomic bool stop;
};

static void
renamer_main(void *arg)
{
  struct renamer *r = arg;
  for (int i = 0; !atomic_load(&r->stop) && i < 2000; i++) {
    char name[32];
    snprintf(name, sizeof name, "renamed-%d", i);
    goro_chan_set_name(r->c, name);
    goro_case k = GORO_RECV_CASE(r->c, NULL);
    goro_select(&k, 1, 200 * GORO_MICROSECOND);
  }
}

START_TEST(test_dump_reads_channel_names_published_by_other_threads)
{
  struct renamer r = {.c = goro_chan_make(0, 0)};
  ck_assert_ptr_nonnull(r.c);
  goro_wg *wg = goro_wg_make();
  ck_assert_ptr_nonnull(wg);
  ck_assert_int_eq(goro_wg_go(wg, renamer_main, &r), 0);
  FILE *devnull = fopen("/dev/null", "w");
  ck_assert_ptr_nonnull(devnull);
  int64_t until = goro_now() + 300 * GORO_MILLISECOND;
  while (goro_now() < until)
    goro_dump(devnull);
  atomic_store(&r.stop, true);
  goro_wg_wait(wg);
  fclose(devnull);
  goro_wg_free(wg);
  goro_chan_release(r.c);
}
END_TEST

static Suite *
registry_suite(void)
{
  Suite *s = suite_create("registry");
  TCase *tc;

  tc = tcase_make("identity", 120);
  tcase_add_test(tc, test_self_is_zero_outside_goroutines_and_distinct_in_each);
  tcase_add_test(tc, test_num_goroutine_counts_started_until_they_return);
  suite_add_tcase(s, tc);

  tc = tcase_make("leakcheck", 120);
  tcase_add_test(tc, test_leakcheck_reports_blocked_goroutine_until_released);
  tcase_add_test(tc, test_leakcheck_waits_for_goroutine_finishing_within_grace);
  tcase_add_test(tc, test_leakcheck_retries_for_whole_grace_then_counts_survivors);
  tcase_add_test(tc, test_leakcheck_with_zero_grace_returns_count_at_once);
  tcase_add_test(tc, test_leakcheck_in_goroutine_does_not_count_the_caller);
  suite_add_tcase(s, tc);

  tc = tcase_make("dump", 120);
  tcase_add_test(tc, test_dump_shows_each_state_with_channel_and_duration);
  tcase_add_test(tc, test_dump_shows_unnamed_goroutine_by_function_and_unnamed_channel);
  tcase_add_test(tc, test_dump_of_idle_process_lists_no_goroutine);
  tcase_add_test(tc, test_dump_names_function_of_unnamed_goroutine);
  tcase_add_test(tc, test_dump_shows_address_and_hint_for_static_function);
  tcase_add_test(tc, test_dump_reads_channel_names_published_by_other_threads);
  suite_add_tcase(s, tc);

  tc = tcase_make("deadlock", 120);
  if (!UNDER_TSAN) {
    tcase_add_test(tc, test_deadlock_main_blocked_on_channel_exits_2_with_dump);
    tcase_add_test(tc, test_deadlock_goroutine_cycle_and_main_in_wg_wait_exits_2);
    tcase_add_test(tc, test_deadlock_among_goroutines_handed_to_reused_workers_exits_2);
    tcase_add_test(tc, test_pending_timer_defers_deadlock_until_it_fires);
    tcase_add_loop_test(tc, test_child_run_ends_as_its_table_row_says, 0, RUNS_FIRING_END);
  } else {
    fprintf(stderr, "ThreadSanitizer: deadlock detection is off; its must-fire tests are "
                    "left out\n");
  }
  tcase_add_test(tc, test_deadlock_detection_off_with_GORO_DEADLOCK_0);
  tcase_add_test(tc, test_no_deadlock_while_plain_thread_blocks_in_read);
  tcase_add_loop_test(tc, test_child_run_ends_as_its_table_row_says, RUNS_FIRING_END,
                      RUNS_QUIET_END);
  tcase_add_test(tc, test_no_deadlock_while_a_worker_stalls_after_taking_a_goroutine);
  suite_add_tcase(s, tc);

  tc = tcase_make("environment", 120);
  tcase_add_test(tc, test_GORO_LEAKCHECK_1_reports_leaked_goroutine_at_exit_and_exits_3);
  tcase_add_loop_test(tc, test_child_run_ends_as_its_table_row_says, RUNS_QUIET_END, RUNS_END);
#ifndef HAVE_ON_EXIT
  fprintf(stderr, "no on_exit: a leak turns any exit status into 3; that run is left out\n");
#endif
  tcase_add_test(tc, test_GORO_DUMP_SIGNAL_1_dumps_on_SIGQUIT_and_keeps_running);
  suite_add_tcase(s, tc);

  return s;
}

int
main(void)
{
  return run_suite(registry_suite());
}
