/* du4 - gopl.io/ch8/du4 (section 8.9, cancellation) with exercise 8.9.
 *
 *   du4 [-v] [-b] [DIR...]
 *
 * du3 that can be cancelled: a goroutine reads stdin and closes the done
 * channel when a byte arrives. Everything polls or selects on done:
 * walkDir returns at once if cancelled() (a select with a default case),
 * dirents selects between taking a semaphore token and done, and main
 * selects between done, fileSizes and the ticker. Once done is closed,
 * main drains fileSizes so that every walkDir still running can finish,
 * prints nothing more, and exits 0 with no goroutine left.
 *
 * Exercise 8.9: with two or more DIRs, du4 also keeps each root's total
 * (every size sent carries its root's index) and prints a line
 * "DIR  N files  X.X GB" ("DIR  N files  B bytes" with -b) for each root
 * before the grand total: with -v every 500ms, and at the end.
 *
 * As in du3, at most MAXWALKERS walkDir goroutines are alive at once
 * (see goWalkDir), which also keeps a cancel quick: every goroutine
 * blocked in dirents must be woken to return.
 *
 * Two differences from the book's main, both for a clean exit: end of
 * input on stdin is not a cancel (the book's goroutine closes done after
 * any Read, EOF included, so "du4 </dev/null" would stop at once), and the
 * stdin goroutine polls a pipe besides stdin, written by main at the end,
 * so that it returns instead of staying blocked in read(2) for ever.
 *
 * What is counted (README.md, "du1 - du4"): every entry below each DIR
 * that is not a directory, by its lstat size (a symlink is not followed),
 * once per path (a hard-linked file counts at each of its names). An
 * unreadable directory is reported on stderr ("du4: open DIR: why") and
 * the walk goes on; the exit status is then 1 (0 after a cancel).
 *
 * The channel carries batches of sizes rather than one size per send (see
 * struct du_sizes in du/du_common.h): each walkDir goroutine gathers the
 * sizes of its directory's files and sends them DU_BATCH at a time; main
 * counts the sizes one by one as the book does.
 */
#include "config.h"

#include "du_common.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <goro.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool verbose;       /* -v */
static bool bytes_flag;    /* -b */
static atomic_bool failed; /* a directory could not be read */

/* Made by main before the first goroutine starts, released by main after
 * fileSizes is closed and the stdin goroutine has returned. */
static goro_chan *done;      /* chan struct{}: closed on cancel, never sent on */
static goro_chan *fileSizes; /* chan of struct du_sizes, unbuffered */
static goro_wg *n;           /* one count per walkDir not yet returned */

/* sema is a counting semaphore for limiting concurrency in dirents. */
static goro_chan *sema;

/* cancelled polls done: select { case <-done: return true; default:
 * return false }. */
static bool
cancelled(void)
{
  goro_case cases[] = {GORO_RECV_CASE(done, NULL)};
  return goro_select(cases, 1, 0) == 0;
}

/* ---- Cancellation: the stdin goroutine ----------------------------------- */

/* wake[1] is written by main when the walk is over; wake[0] is polled by
 * watchStdin with stdin. stdinDone counts watchStdin until it returns
 * (started by goro_wg_go, which calls goro_wg_done after it). */
static int wake[2];
static goro_wg *stdinDone;

/* The book's "go func() { os.Stdin.Read(make([]byte, 1)); close(done) }()":
 * closes done when a byte arrives on stdin. Returns without closing done
 * at end of input (or when stdin cannot be read), and when main writes to
 * wake[1]. */
static void
watchStdin(void *arg)
{
  (void)arg;
  struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = wake[0], .events = POLLIN}};
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (p[1].revents != 0)
      break; /* the walk is over */
    if (p[0].revents != 0) {
      char c;
      ssize_t k = read(0, &c, 1);
      if (k == 1)
        goro_chan_close(done); /* a byte: cancel */
      if (k < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      break; /* a byte, end of input, or an error */
    }
  }
  /* goro_wg_go marks stdinDone done once this returns. */
}

/* ---- The walk ------------------------------------------------------------- */

/* dirents returns the entries of directory dir, or none once cancelled. */
static void
dirents(const char *dir, bool root, struct du_dirents *d)
{
  goro_case cases[] = {
      GORO_SEND_CASE(sema, NULL), /* acquire token */
      GORO_RECV_CASE(done, NULL),
  };
  if (goro_select(cases, 2, GORO_FOREVER) != 0)
    return; /* cancelled */
  char op[4096];
  int err = du_dirents_read(dir, root, d, op, sizeof op);
  goro_chan_recv(sema, NULL);    /* release token */
  if (err < 0 && !cancelled()) { /* once cancelled, nothing more is printed */
    tool_warn("%s: %s", op, goro_strerror(err));
    atomic_store(&failed, true);
  }
}

/* The arguments of one walkDir goroutine; walkDir frees them. */
struct walk {
  char *dir;
  int root;       /* the index of the root dir is under */
  bool isroot;    /* dir is that root itself (opened following symlinks) */
  bool goroutine; /* walkDir runs in a goroutine of its own, holding a slot of walkers */
};

static void walkDir(void *arg);

/* Goroutines here are threads, not Go's goroutines of a few kilobytes:
 * with one per directory not yet read, as in the book, a 200,000-entry
 * tree had 3,000 threads alive at once, nearly all blocked in dirents,
 * and a cancel had to wake every one of them (seconds on a busy
 * machine). So at most MAXWALKERS walkDir goroutines run at once, each
 * holding a slot of walkers (a counting semaphore like sema, taken
 * without blocking): when no slot is free, the walkDir that found a
 * subdirectory walks it itself. Every directory is still read under a
 * token of sema, taken in a select with done. */
enum { MAXWALKERS = 64 };
static goro_chan *walkers;

/* n.Add(1); go walkDir(dir, n, fileSizes). Takes dir (malloc'ed). With
 * no free slot in walkers, or when no thread can be had, the calling
 * walkDir walks dir itself; a root (called from main, which must stay
 * free to receive) always gets a goroutine of its own. */
static void
goWalkDir(char *dir, int root, bool isroot)
{
  struct walk *w = du_xmalloc(sizeof *w);
  w->dir = dir;
  w->root = root;
  w->isroot = isroot;
  w->goroutine = false;
  goro_wg_add(n, 1);
  if (isroot) {
    int rc = goro_go(walkDir, w);
    if (rc < 0)
      tool_fatal("start walker: %s", goro_strerror(rc));
    return;
  }
  if (goro_chan_trysend(walkers, NULL) == 0) { /* a free slot */
    w->goroutine = true;
    if (goro_go(walkDir, w) == 0)
      return;
    w->goroutine = false;
    goro_chan_recv(walkers, NULL); /* no thread: give the slot back */
  }
  walkDir(w);
}

/* walkDir recursively walks the file tree rooted at dir and sends the
 * size of each file found on fileSizes, unless cancelled. */
static void
walkDir(void *arg)
{
  struct walk *w = arg;
  if (!cancelled()) {
    struct du_dirents d = {0};
    struct du_sizes b = {.root = w->root};
    dirents(w->dir, w->isroot, &d);
    for (size_t i = 0; i < d.n; i++) {
      struct du_entry *entry = &d.e[i];
      if (entry->isdir) {
        goWalkDir(du_join(w->dir, entry->name), w->root, false);
      } else {
        du_send_size(fileSizes, &b, entry->size); /* fileSizes <- entry.Size() */
      }
    }
    du_flush_sizes(fileSizes, &b);
    du_dirents_free(&d);
  }
  if (w->goroutine)
    goro_chan_recv(walkers, NULL); /* free the slot */
  free(w->dir);
  free(w);
  goro_wg_done(n); /* defer n.Done() */
}

/* ---- main ------------------------------------------------------------------ */

static char **roots;
static int nroots;
static int64_t *rootFiles, *rootBytes; /* exercise 8.9: each root's totals */

/* printDiskUsage: each root's totals when there are two or more, then the
 * grand total. */
static void
printDiskUsage(int64_t nfiles, int64_t nbytes)
{
  if (nroots >= 2)
    for (int r = 0; r < nroots; r++)
      du_print(stdout, roots[r], rootFiles[r], rootBytes[r], bytes_flag);
  du_print(stdout, NULL, nfiles, nbytes, bytes_flag);
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  struct tool_flag flags[] = {
      {"v", TOOL_BOOL, &verbose, NULL, "show verbose progress messages (every 500ms)"},
      {"b", TOOL_BOOL, &bytes_flag, NULL, "print the totals in bytes, not GB"},
  };
  int i = tool_parse(argc, argv, "[-v] [-b] [DIR...]",
                     "Prints the number of files below each DIR (default .) and their total "
                     "size\n(lstat sizes, symlinks not followed), and each DIR's own totals when "
                     "there are\ntwo or more, as gopl.io/ch8/du4 with exercise 8.9. A byte on "
                     "stdin cancels the\nwalk: du4 then prints nothing more and exits 0.",
                     flags, sizeof flags / sizeof flags[0]);

  // Determine the initial directories.
  static char *dot[] = {"."};
  roots = argv + i;
  nroots = argc - i;
  if (nroots == 0) {
    roots = dot;
    nroots = 1;
  }
  rootFiles = calloc((size_t)nroots, sizeof rootFiles[0]);
  rootBytes = calloc((size_t)nroots, sizeof rootBytes[0]);
  if (rootFiles == NULL || rootBytes == NULL)
    tool_fatal("out of memory");

  // Cancel traversal when input is detected.
  done = goro_chan_make(0, 0);
  stdinDone = goro_wg_make();
  if (done == NULL || stdinDone == NULL)
    tool_fatal("make channels: out of memory");
  if (pipe2(wake, O_CLOEXEC) != 0)
    tool_fatal("pipe: %s", strerror(errno));
  int rc = goro_wg_go(stdinDone, watchStdin, NULL);
  if (rc < 0)
    tool_fatal("start stdin reader: %s", goro_strerror(rc));

  // Traverse each root of the file tree in parallel.
  fileSizes = goro_chan_make(sizeof(struct du_sizes), 0);
  sema = goro_chan_make(0, 20);
  walkers = goro_chan_make(0, MAXWALKERS);
  n = goro_wg_make();
  if (fileSizes == NULL || sema == NULL || walkers == NULL || n == NULL)
    tool_fatal("make channels: out of memory");
  for (int r = 0; r < nroots; r++) {
    size_t len = strlen(roots[r]) + 1;
    char *root = du_xmalloc(len);
    memcpy(root, roots[r], len);
    goWalkDir(root, r, true);
  }
  rc = goro_closer(n, fileSizes); /* go func() { n.Wait(); close(fileSizes) }() */
  if (rc < 0)
    tool_fatal("start closer: %s", goro_strerror(rc));

  // Print the results periodically.
  goro_ticker *ticker = NULL;
  goro_chan *tick = NULL;
  if (verbose) {
    ticker = goro_ticker_make(500 * GORO_MILLISECOND);
    if (ticker == NULL)
      tool_fatal("start ticker: %s", goro_strerror(-errno));
    tick = goro_ticker_chan(ticker);
  }
  int64_t nfiles = 0, nbytes = 0;
  struct du_sizes b;
  int64_t now;
  for (;;) {
    goro_case cases[] = {
        GORO_RECV_CASE(done, NULL),
        GORO_RECV_CASE(fileSizes, &b),
        GORO_RECV_CASE(tick, &now),
    };
    int k = goro_select(cases, 3, GORO_FOREVER);
    if (k == 0) { /* case <-done */
      // Drain fileSizes to allow existing goroutines to finish.
      while (goro_chan_recv(fileSizes, &b) > 0) {
        // Do nothing.
      }
      break;
    } else if (k == 1) { /* case size, ok := <-fileSizes */
      if (!cases[1].ok)
        break; /* fileSizes was closed */
      for (int j = 0; j < b.n; j++) {
        nfiles++;
        nbytes += b.size[j];
        rootFiles[b.root]++;
        rootBytes[b.root] += b.size[j];
      }
    } else if (k == 2) { /* case <-tick */
      if (!cancelled())
        printDiskUsage(nfiles, nbytes);
    } else {
      tool_fatal("select: %s", goro_strerror(k));
    }
  }
  bool wasCancelled = cancelled();
  if (!wasCancelled)
    printDiskUsage(nfiles, nbytes); /* final totals */

  // Let the stdin goroutine return, and every other goroutine finish.
  if (write(wake[1], "", 1) != 1)
    tool_fatal("write wake pipe: %s", strerror(errno));
  goro_wg_wait(stdinDone);
  if (ticker != NULL)
    goro_ticker_stop(ticker);
  du_join_goroutines(GORO_SECOND);

  close(wake[0]);
  close(wake[1]);
  goro_wg_free(stdinDone);
  goro_wg_free(n);
  goro_chan_release(walkers);
  goro_chan_release(sema);
  goro_chan_release(fileSizes);
  goro_chan_release(done);
  free(rootFiles);
  free(rootBytes);
  return wasCancelled || !atomic_load(&failed) ? 0 : 1;
}
