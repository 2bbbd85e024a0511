/* registry.c - live goroutines: dumps, leak checks, deadlock detection.
 *
 * The registry is goro__threads.list (thread.c): one record per thread that
 * runs a goroutine or has blocked in goro. A record's state fields are
 * single stores by its owner (and blocked is reset by a waker), so keeping
 * them current costs the channel fast path nothing.
 *
 * Deadlock detection: a scan runs every SCAN_PERIOD, as a callback timer
 * of the registry's own on the timer thread, once the first thread blocks
 * forever (or GORO_DUMP_SIGNAL=1 asks for dumps, which the scan prints).
 * A scan is a candidate when every registered thread waits
 * forever in goro or is goro's own idle thread, no timer is pending, no
 * spawned goroutine waits in the hand-off ring for its worker, and the
 * kernel's count of the process's threads equals the number of
 * registered threads (so no thread outside goro's view can act). Two
 * consecutive candidate scans with the same fingerprint (the sum of every
 * record's waitseq, which only grows) mean every thread stayed blocked
 * through the interval between them: nothing can ever wake anything.
 * Lock order: goro__threads.mu, then the timer lock.
 */
#include "config.h"

#include "internal.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_DLADDR
#include <dlfcn.h>
#endif

static _Atomic bool deadlock_on; /* the detector runs */
static _Atomic int dump_requested;
GORO__IGNORE_STATIC(deadlock_on); /* valgrind: flags */
GORO__IGNORE_STATIC(dump_requested);

static const char *
state_name(int s)
{
  switch (s) {
  case GORO__RUNNING:
    return "running";
  case GORO__SEND:
    return "chan send";
  case GORO__RECV:
    return "chan receive";
  case GORO__SELECT:
    return "select";
  case GORO__SELECT_NOCASES:
    return "select (no cases)";
  case GORO__WG_WAIT:
    return "WaitGroup wait";
  case GORO__SLEEP:
    return "sleep";
  case GORO__IDLE:
    return "idle";
  case GORO__TIMER:
    return "timer";
  }
  return "unknown";
}

static void
format_duration(char *buf, size_t len, int64_t ns)
{
  if (ns >= 60 * GORO_SECOND)
    snprintf(buf, len, "%lld minutes", (long long)(ns / (60 * GORO_SECOND)));
  else if (ns >= GORO_SECOND)
    snprintf(buf, len, "%.1f seconds", (double)ns / GORO_SECOND);
  else
    snprintf(buf, len, "%lld ms", (long long)(ns / GORO_MILLISECOND));
}

/* A function dladdr cannot name: it sees only dynamic symbols, so a
 * static function, or any function of a program not linked with
 * -rdynamic, has none. Print the address, its object and offset (for
 * addr2line -f -e OBJECT OFFSET), and how to get a name. */
static void
print_unnamed_fn(FILE *out, goro_fn *fn)
{
  void *addr = (void *)(uintptr_t)fn;
  const char *obj = NULL;
  uintptr_t off = 0;
#ifdef HAVE_DLADDR
  Dl_info info;
  if (dladdr(addr, &info) != 0 && info.dli_fname != NULL) {
    obj = info.dli_fname;
    off = (uintptr_t)addr - (uintptr_t)info.dli_fbase;
  }
#endif
  if (obj != NULL)
    fprintf(out, "\tfunc: %p (%s+%#lx)", addr, obj, (unsigned long)off);
  else
    fprintf(out, "\tfunc: %p", addr);
  fputs(" (no symbol: a static function, or a program not linked with -rdynamic; "
        "name it with goro_go_named)\n",
        out);
}

/* One entry; goro__threads.mu held. */
static void
dump_one(FILE *out, struct goro__thread *t, int64_t now)
{
  uint64_t id = atomic_load_explicit(&t->id, memory_order_relaxed);
  int state = atomic_load_explicit(&t->state, memory_order_relaxed);
  int64_t since = atomic_load_explicit(&t->since, memory_order_relaxed);
  const void *chan = atomic_load_explicit(&t->waitchan, memory_order_relaxed);
  const char *cname = atomic_load_explicit(&t->waitname, memory_order_acquire);
  if (cname != NULL)
    GORO__HAPPENS_AFTER(cname); /* valgrind: its acquire (goro_chan_set_name) */

  char dur[48] = "";
  if (state != GORO__RUNNING && since != 0) {
    dur[0] = ',';
    dur[1] = ' ';
    format_duration(dur + 2, sizeof dur - 2, now - since);
  }
  if (t->is_worker)
    fprintf(out, "goroutine %llu [%s%s]:\n", (unsigned long long)id, state_name(state), dur);
  else
    fprintf(out, "thread %ld (not started by goro) [%s%s]:\n",
            (long)atomic_load_explicit(&t->tid, memory_order_relaxed), state_name(state), dur);
  if (t->is_worker) {
    const char *sym = NULL;
#ifdef HAVE_DLADDR
    Dl_info info;
    if (dladdr((void *)(uintptr_t)t->fn, &info) != 0)
      sym = info.dli_sname;
#endif
    if (t->name[0] != '\0')
      fprintf(out, "\tname: %s\n", t->name);
    if (sym != NULL)
      fprintf(out, "\tfunc: %s (%p)\n", sym, (void *)(uintptr_t)t->fn);
    else
      print_unnamed_fn(out, t->fn);
    fprintf(out, "\tthread: %ld\n", (long)atomic_load_explicit(&t->tid, memory_order_relaxed));
  }
  if (chan != NULL) {
    if (cname != NULL)
      fprintf(out, "\twaiting on channel %p \"%s\"\n", chan, cname);
    else
      fprintf(out, "\twaiting on channel %p\n", chan);
  }
  fputc('\n', out);
}

/* Goroutines and blocked foreign threads are shown; idle workers and the
 * timer thread are goro's own and are not. */
static bool
shown(struct goro__thread *t, struct goro__thread *skip)
{
  if (t == skip || t->is_service)
    return false;
  if (t->is_worker)
    return atomic_load_explicit(&t->id, memory_order_relaxed) != 0;
  int s = atomic_load_explicit(&t->state, memory_order_relaxed);
  return s != GORO__RUNNING && s != GORO__TIMER;
}

static void
dump_locked(FILE *out, struct goro__thread *skip, bool goroutines_only)
{
  int64_t now = goro__now();
  for (struct goro__thread *t = goro__threads.list; t != NULL; t = t->next)
    if (shown(t, skip) && (!goroutines_only || t->is_worker))
      dump_one(out, t, now);
}

void
goro_dump(FILE *out)
{
  if (out == NULL)
    return;
  goro__mu_lock(&goro__threads.mu);
  dump_locked(out, NULL, false);
  goro__mu_unlock(&goro__threads.mu);
  fflush(out);
}

size_t
goro_leakcheck(int64_t grace_ns, FILE *out)
{
  int64_t deadline = goro__deadline(grace_ns > 0 ? grace_ns : 0);
  size_t self = goro_self() != 0;
  int64_t pause = 100 * GORO_MICROSECOND;
  size_t alive;
  for (;;) {
    alive = goro_num_goroutine() - self;
    if (alive == 0 || goro__now() >= deadline)
      break;
    goro_sleep(pause);
    if (pause < 20 * GORO_MILLISECOND)
      pause *= 2;
  }
  if (alive != 0 && out != NULL) {
    fprintf(out, "goro: %zu goroutine(s) still alive:\n\n", alive);
    goro__mu_lock(&goro__threads.mu);
    struct goro__thread *me = goro_self() != 0 ? goro__tls_self : NULL;
    dump_locked(out, me, true);
    goro__mu_unlock(&goro__threads.mu);
    fflush(out);
  }
  return alive;
}

/* ---- deadlock ----------------------------------------------------------- */

static bool
env_is(const char *name, const char *value)
{
  const char *s = getenv(name);
  return s != NULL && strcmp(s, value) == 0;
}

/* The scans: a callback timer on the timer thread (it must not block),
 * armed again by each scan. scanning is set once, when the first scan is
 * armed; the timer's node is the registry's, touched only under the
 * timer's own rules (start when not queued: from scan_start once, then
 * from the callback, which runs after the node left the heap). */
static const int64_t SCAN_PERIOD = 100 * GORO_MILLISECOND;
static struct goro__timer scan_timer;
static _Atomic bool scanning;
GORO__IGNORE_STATIC(scanning); /* valgrind: a flag; the timer lock orders the node */

static void scan(void *arg);

static void
scan_start(void)
{
  if (atomic_exchange_explicit(&scanning, true, memory_order_relaxed))
    return;
  goro__timer_init_func(&scan_timer, NULL, scan, NULL);
  goro__timer_start(&scan_timer, goro__deadline(SCAN_PERIOD));
}

static void
deadlock_start(void)
{
  if (env_is("GORO_DEADLOCK", "0"))
    return;
  atomic_store_explicit(&deadlock_on, true, memory_order_relaxed);
  scan_start();
}

/* The first wait forever starts the detector (goro__thread_hooks).
 * GORO_DEADLOCK is read then, not at load, so a program may still set it
 * before it first blocks. */
static void
deadlock_poke(void)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, deadlock_start);
}

/* A candidate's fingerprint, or 0 when some thread could still act. */
static uint64_t
candidate(size_t *nthreads)
{
  uint64_t print = 1;
  bool forever = false;
  goro__mu_lock(&goro__threads.mu);
  for (struct goro__thread *t = goro__threads.list; t != NULL; t = t->next) {
    int w = atomic_load_explicit(&t->blocked, memory_order_acquire);
    int s = atomic_load_explicit(&t->state, memory_order_relaxed);
    if (s == GORO__TIMER)
      continue; /* the caller: judged by goro__timers_pending */
    if (w == GORO__BLOCKED_FOREVER)
      forever = true;
    else if (w != GORO__BLOCKED_IDLE) {
      print = 0;
      break;
    }
    print += atomic_load_explicit(&t->waitseq, memory_order_relaxed) + (uintptr_t)t;
  }
  *nthreads = goro__threads.n;
  /* Under the lock: a goroutine is either in the ring or in a worker
   * marked running (handoff_pop, go.c). */
  bool pending = goro__handoff_pending();
  goro__mu_unlock(&goro__threads.mu);
  if (!forever || print == 0 || pending || goro__timers_pending())
    return 0;
  return print;
}

static void
report_deadlock(void)
{
  static const char msg[] = "fatal error: all goroutines are asleep - deadlock!\n\n";
  fflush(stdout);
  fputs(msg, stderr);
  goro_dump(stderr);
  _exit(2);
}

/* One scan, on the timer thread: a requested dump, then the detector. */
static void
scan_once(void)
{
  static uint64_t last; /* the previous scan's fingerprint; timer thread only */
  if (atomic_exchange_explicit(&dump_requested, 0, memory_order_relaxed)) {
    fputs("goro: SIGQUIT: goroutine dump\n\n", stderr);
    goro_dump(stderr);
  }
  if (!atomic_load_explicit(&deadlock_on, memory_order_relaxed))
    return;
  size_t n;
  uint64_t print = candidate(&n);
  if (print == 0 || goro__os_thread_count() != (long)n) {
    last = 0;
    return;
  }
  if (print == last)
    report_deadlock();
  last = print;
}

static void
scan(void *arg)
{
  (void)arg;
  scan_once();
  goro__timer_start(&scan_timer, goro__deadline(SCAN_PERIOD));
}

/* ---- environment -------------------------------------------------------- */

/* GORO_LEAKCHECK=1: report survivors at exit, and fail the exit. A
 * process that leaked and was exiting with status 0 exits with
 * LEAK_STATUS instead (a failing status is kept, where on_exit gives it).
 * An exit handler cannot call exit again, so it flushes every stream and
 * calls _exit: exit handlers registered before goro's (which run after
 * it) are skipped then. */
enum { LEAK_STATUS = 3 };

/* A goroutine that has just done its last send or goro_wg_done may not
 * have returned yet when main exits: wait up to a second for such
 * goroutines, as goleak retries (no wait at all when none is alive). */
static const int64_t LEAK_GRACE = GORO_SECOND;

static void
leakcheck_exit(int status)
{
  if (goro_leakcheck(LEAK_GRACE, stderr) == 0)
    return;
  fflush(NULL);
  _exit(status != 0 ? status : LEAK_STATUS);
}

#ifdef HAVE_ON_EXIT
static void
leakcheck_on_exit(int status, void *arg)
{
  (void)arg;
  leakcheck_exit(status);
}
#else
static void
leakcheck_at_exit(void)
{
  leakcheck_exit(0);
}
#endif

static void
on_sigquit(int sig)
{
  (void)sig;
  atomic_store_explicit(&dump_requested, 1, memory_order_relaxed);
}

void
goro__registry_init(void)
{
  if (env_is("GORO_LEAKCHECK", "1")) {
#ifdef HAVE_ON_EXIT
    on_exit(leakcheck_on_exit, NULL);
#else
    atexit(leakcheck_at_exit);
#endif
  }
  if (env_is("GORO_DUMP_SIGNAL", "1")) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigquit;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGQUIT, &sa, NULL);
    scan_start();
  }
  goro__thread_hooks.blocked_forever = deadlock_poke;
}

/* The child lost the timer thread and every timer, scan_timer too. */
void
goro__registry_atfork_child(void)
{
  if (atomic_exchange_explicit(&scanning, false, memory_order_relaxed))
    scan_start();
}
