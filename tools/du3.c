/* du3 - gopl.io/ch8/du3 (section 8.8): du2 walking directories in
 * parallel.
 *
 *   du3 [-v] [-b] [DIR...]
 *
 * Directories are walked in parallel: walkDir starts a new walkDir
 * goroutine for each subdirectory it finds (n.Add(1) before each go,
 * defer n.Done() in each walkDir), and a closer goroutine closes fileSizes
 * once the WaitGroup n drops to zero (goro_closer: the book's
 * "go func() { n.Wait(); close(fileSizes) }()"). Many goroutines may be
 * alive at once, so dirents takes a token from sema, a counting semaphore
 * of 20 (a buffered channel of zero-size elements: send to acquire,
 * receive to release), to keep at most 20 directories open at once. Main
 * selects between fileSizes and the ticker, as in du2. One departure from
 * the book: a goroutine is a thread here, so at most MAXWALKERS walkDir
 * goroutines are alive at once, and a walkDir that finds no free slot
 * walks the subdirectory itself (see goWalkDir).
 *
 * What is counted (README.md, "du1 - du4"): every entry below each DIR
 * that is not a directory, by its lstat size (a symlink is not followed),
 * once per path (a hard-linked file counts at each of its names). An
 * unreadable directory is reported on stderr ("du3: open DIR: why") and
 * the walk goes on; the exit status is then 1.
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
#include <goro.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static bool verbose;       /* -v */
static bool bytes_flag;    /* -b */
static atomic_bool failed; /* a directory could not be read */

/* Made by main before the first walkDir starts, released by main after
 * fileSizes is closed (every walkDir has returned by then). */
static goro_chan *fileSizes; /* chan of struct du_sizes, unbuffered */
static goro_wg *n;           /* one count per walkDir not yet returned */

/* sema is a counting semaphore for limiting concurrency in dirents. */
static goro_chan *sema;

/* dirents returns the entries of directory dir. */
static void
dirents(const char *dir, bool root, struct du_dirents *d)
{
  goro_chan_send(sema, NULL); /* acquire token */
  char op[4096];
  int err = du_dirents_read(dir, root, d, op, sizeof op);
  goro_chan_recv(sema, NULL); /* release token */
  if (err < 0) {
    tool_warn("%s: %s", op, goro_strerror(err));
    atomic_store(&failed, true);
  }
}

/* The arguments of one walkDir goroutine; walkDir frees them. */
struct walk {
  char *dir;
  bool root;      /* dir is a root given by the user (opened following symlinks) */
  bool goroutine; /* walkDir runs in a goroutine of its own, holding a slot of walkers */
};

static void walkDir(void *arg);

/* Goroutines here are threads, not Go's goroutines of a few kilobytes:
 * with one per directory not yet read, as in the book, a 200,000-entry
 * tree had 3,000 threads alive at once, nearly all blocked on sema. So
 * at most MAXWALKERS walkDir goroutines run at once, each holding a slot
 * of walkers (a counting semaphore like sema, taken without blocking):
 * when no slot is free, the walkDir that found a subdirectory walks it
 * itself. Every directory is still read under a token of sema. */
enum { MAXWALKERS = 64 };
static goro_chan *walkers;

/* n.Add(1); go walkDir(dir, n, fileSizes). Takes dir (malloc'ed). With
 * no free slot in walkers, or when no thread can be had, the calling
 * walkDir walks dir itself; a root (called from main, which must stay
 * free to receive) always gets a goroutine of its own. */
static void
goWalkDir(char *dir, bool root)
{
  struct walk *w = du_xmalloc(sizeof *w);
  w->dir = dir;
  w->root = root;
  w->goroutine = false;
  goro_wg_add(n, 1);
  if (root) {
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
 * size of each file found on fileSizes. */
static void
walkDir(void *arg)
{
  struct walk *w = arg;
  struct du_dirents d = {0};
  struct du_sizes b = {0};
  dirents(w->dir, w->root, &d);
  for (size_t i = 0; i < d.n; i++) {
    struct du_entry *entry = &d.e[i];
    if (entry->isdir) {
      goWalkDir(du_join(w->dir, entry->name), false);
    } else {
      du_send_size(fileSizes, &b, entry->size); /* fileSizes <- entry.Size() */
    }
  }
  du_flush_sizes(fileSizes, &b);
  du_dirents_free(&d);
  if (w->goroutine)
    goro_chan_recv(walkers, NULL); /* free the slot */
  free(w->dir);
  free(w);
  goro_wg_done(n); /* defer n.Done() */
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
                     "size\n(lstat sizes, symlinks not followed), as gopl.io/ch8/du3.",
                     flags, sizeof flags / sizeof flags[0]);

  // Determine the initial directories.
  static char *dot[] = {"."};
  char **roots = argv + i;
  int nroots = argc - i;
  if (nroots == 0) {
    roots = dot;
    nroots = 1;
  }

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
    goWalkDir(root, true);
  }
  int rc = goro_closer(n, fileSizes); /* go func() { n.Wait(); close(fileSizes) }() */
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
        GORO_RECV_CASE(fileSizes, &b),
        GORO_RECV_CASE(tick, &now),
    };
    int k = goro_select(cases, 2, GORO_FOREVER);
    if (k == 0) { /* case size, ok := <-fileSizes */
      if (!cases[0].ok)
        break; /* fileSizes was closed */
      for (int j = 0; j < b.n; j++) {
        nfiles++;
        nbytes += b.size[j];
      }
    } else if (k == 1) { /* case <-tick */
      du_print(stdout, NULL, nfiles, nbytes, bytes_flag);
    } else {
      tool_fatal("select: %s", goro_strerror(k));
    }
  }
  du_print(stdout, NULL, nfiles, nbytes, bytes_flag); /* final totals */

  if (ticker != NULL)
    goro_ticker_stop(ticker);
  du_join_goroutines(GORO_SECOND);
  goro_wg_free(n);
  goro_chan_release(walkers);
  goro_chan_release(sema);
  goro_chan_release(fileSizes);
  return atomic_load(&failed) ? 1 : 0;
}
