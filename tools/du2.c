/* du2 - gopl.io/ch8/du2 (section 8.8): du1 with progress reports.
 *
 *   du2 [-v] [-b] [DIR...]
 *
 * As du1, one goroutine walks every root in turn, sending the size of
 * each file on fileSizes, and closes it at the end. Main no longer just
 * ranges over fileSizes: it selects between fileSizes and a ticker, and
 * with -v prints the running totals every 500ms, in the format of the
 * last line ("N files  X.X GB", or "N files  B bytes" with -b). Without
 * -v the tick channel is NULL, Go's nil channel: its case is never ready.
 *
 * What is counted (README.md, "du1 - du4"): every entry below each DIR
 * that is not a directory, by its lstat size (a symlink is not followed),
 * once per path (a hard-linked file counts at each of its names). An
 * unreadable directory is reported on stderr ("du2: open DIR: why") and
 * the walk goes on; the exit status is then 1.
 *
 * The channel carries batches of sizes rather than one size per send (see
 * struct du_sizes in du/du_common.h): the book's "fileSizes <- entry.Size()"
 * adds the size to the walker's batch, sent when full; main counts the
 * sizes one by one as the book does.
 */
#include "config.h"

#include "du_common.h"
#include "tool.h"

#include <errno.h>
#include <goro.h>
#include <stdatomic.h>
#include <stdlib.h>

static bool verbose;       /* -v */
static bool bytes_flag;    /* -b */
static atomic_bool failed; /* a directory could not be read */

/* dirents returns the entries of directory dir (ioutil.ReadDir). */
static void
dirents(const char *dir, bool root, struct du_dirents *d)
{
  char op[4096];
  int err = du_dirents_read(dir, root, d, op, sizeof op);
  if (err < 0) {
    tool_warn("%s: %s", op, goro_strerror(err));
    atomic_store(&failed, true);
  }
}

/* walkDir recursively walks the file tree rooted at dir and sends the
 * size of each file found on fileSizes. */
static void
walkDir(const char *dir, bool root, goro_chan *fileSizes, struct du_sizes *b)
{
  struct du_dirents d = {0};
  dirents(dir, root, &d);
  for (size_t i = 0; i < d.n; i++) {
    struct du_entry *entry = &d.e[i];
    if (entry->isdir) {
      char *subdir = du_join(dir, entry->name);
      walkDir(subdir, false, fileSizes, b);
      free(subdir);
    } else {
      du_send_size(fileSizes, b, entry->size); /* fileSizes <- entry.Size() */
    }
  }
  du_dirents_free(&d);
}

struct walker {
  char **roots;
  int nroots;
  goro_chan *fileSizes;
};

/* The book's "go func() { for _, root := range roots { walkDir(root,
 * fileSizes) }; close(fileSizes) }()". */
static void
walker(void *arg)
{
  struct walker *w = arg;
  struct du_sizes b = {0};
  for (int i = 0; i < w->nroots; i++)
    walkDir(w->roots[i], true, w->fileSizes, &b);
  du_flush_sizes(w->fileSizes, &b);
  goro_chan_close(w->fileSizes);
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
                     "size\n(lstat sizes, symlinks not followed), as gopl.io/ch8/du2.",
                     flags, sizeof flags / sizeof flags[0]);

  // Determine the initial directories.
  static char *dot[] = {"."};
  struct walker w = {argv + i, argc - i, NULL};
  if (w.nroots == 0) {
    w.roots = dot;
    w.nroots = 1;
  }

  // Traverse the file tree.
  w.fileSizes = goro_chan_make(sizeof(struct du_sizes), 0);
  if (w.fileSizes == NULL)
    tool_fatal("make channel: out of memory");
  int rc = goro_go(walker, &w);
  if (rc < 0)
    tool_fatal("start walker: %s", goro_strerror(rc));

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
        GORO_RECV_CASE(w.fileSizes, &b),
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
  goro_chan_release(w.fileSizes);
  return atomic_load(&failed) ? 1 : 0;
}
