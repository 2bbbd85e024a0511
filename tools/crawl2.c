/* crawl2 - gopl.io/ch8/crawl2: crawl1 with a counting semaphore that
 * bounds the fetches in flight to 20; and exercise 8.6 (-depth N).
 *
 * The semaphore is the book's `var tokens = make(chan struct{}, 20)`: a
 * buffered channel of zero-size elements. A crawl acquires a token by
 * sending on it (blocking while 20 are out) and releases it by receiving,
 * around the fetch alone; it prints its URL before it waits. Main counts
 * the sends to worklist still to come in n, as the book, and stops when
 * none is left.
 *
 * Ownership: the URLs are owned by the seen map (seen.h), which outlives
 * every goroutine; a list sent on worklist passes to main.
 */
#include "config.h"

#include "links.h"
#include "seen.h"
#include "tool.h"

#include <errno.h>
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tokens is a counting semaphore used to enforce a limit of 20
 * concurrent requests. */
static goro_chan *tokens;
static goro_chan *worklist; /* struct links *: the links of one page, or the start URLs */
static goro_wg *all;        /* every goroutine main started; waited before exit */

static struct links *
crawl(const char *url)
{
  links_print(url);
  struct links *list = NULL;
  char err[FETCH_ERR_LEN];
  goro_chan_send(tokens, NULL); /* acquire a token */
  struct fetcher *f = fetcher_make(NULL);
  if (f == NULL)
    tool_warn("getting %s: %s", url, strerror(errno));
  else if (links_extract(f, url, NULL, &list, err, sizeof err) == FETCH_FAILED)
    tool_warn("%s", err);
  fetcher_free(f);
  goro_chan_recv(tokens, NULL); /* release the token */
  if (list == NULL && (list = links_new(url)) == NULL)
    tool_fatal("%s", strerror(ENOMEM));
  return list;
}

/* go func(link string) { worklist <- crawl(link) }(link) */
static void
crawl_link(void *link)
{
  struct links *found = crawl(link);
  goro_chan_send(worklist, &found);
}

/* go func() { worklist <- os.Args[1:] }() */
static void
send_args(void *args)
{
  goro_chan_send(worklist, &args);
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int depth = -1;
  struct tool_flag flags[] = {
      {"depth", TOOL_INT, &depth, "N", "crawl only URLs at most N links from a start URL; -1: all"},
  };
  int first = tool_parse(argc, argv, "[-depth N] URL...",
                         "Prints every URL reachable from the URLs given, each once, as it "
                         "fetches it;\na goroutine per link, at most 20 fetching at once "
                         "(gopl.io/ch8/crawl2).",
                         flags, sizeof flags / sizeof flags[0]);
  links_setup();
  struct links *args = links_args(argv + first, argc - first);

  tokens = goro_chan_make(0, 20);
  worklist = goro_chan_make(sizeof(struct links *), 0);
  all = goro_wg_make();
  struct seen *seen = seen_make(depth);
  if (tokens == NULL || worklist == NULL || all == NULL || seen == NULL)
    tool_fatal("%s", strerror(errno));

  int n = 0; /* number of pending sends to worklist */

  /* Start with the command-line arguments. */
  n++;
  int rc = goro_wg_go(all, send_args, args);
  if (rc != 0)
    tool_fatal("starting a goroutine: %s", goro_strerror(rc));

  /* Crawl the web concurrently. */
  for (; n > 0; n--) {
    struct links *list;
    goro_chan_recv(worklist, &list);
    const char *const *unseen;
    size_t k;
    if (seen_add(seen, list, &unseen, &k) != 0)
      tool_fatal("%s", strerror(ENOMEM));
    for (size_t i = 0; i < k; i++) {
      n++;
      if ((rc = goro_wg_go(all, crawl_link, (void *)unseen[i])) != 0)
        tool_fatal("starting a goroutine: %s", goro_strerror(rc));
    }
  }

  goro_wg_wait(all);
  goro_wg_free(all);
  goro_chan_release(worklist);
  goro_chan_release(tokens);
  seen_free(seen);
  links_cleanup();
  return 0;
}
