/* crawl1 - gopl.io/ch8/crawl1: a web crawler, one goroutine per link,
 * with no bound on how many fetch at once; and exercise 8.6 (-depth N).
 *
 * The book's shape: main ranges over worklist, a channel of lists of
 * links; each link not seen before gets a goroutine that crawls it (prints
 * it, fetches it, extracts its links) and sends the links it found back on
 * worklist. The start URLs arrive on worklist the same way, from a
 * goroutine of their own.
 *
 * The book's crawl1 never stops: its loop ranges over a worklist nobody
 * closes. Here main counts the sends to worklist still to come, as the
 * book's crawl2 does with n: one for the start URLs, one more for each
 * goroutine started; when no send is left, no link is left.
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

static goro_chan *worklist; /* struct links *: the links of one page, or the start URLs */
static goro_wg *all;        /* every goroutine main started; waited before exit */

/* Prints url, fetches it and returns its links (an empty list when the
 * fetch failed, which is reported). */
static struct links *
crawl(const char *url)
{
  links_print(url);
  struct links *list = NULL;
  char err[FETCH_ERR_LEN];
  struct fetcher *f = fetcher_make(NULL);
  if (f == NULL)
    tool_warn("getting %s: %s", url, strerror(errno));
  else if (links_extract(f, url, NULL, &list, err, sizeof err) == FETCH_FAILED)
    tool_warn("%s", err);
  fetcher_free(f);
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
                         "fetches it;\none goroutine per link (gopl.io/ch8/crawl1).",
                         flags, sizeof flags / sizeof flags[0]);
  links_setup();
  struct links *args = links_args(argv + first, argc - first);

  worklist = goro_chan_make(sizeof(struct links *), 0);
  all = goro_wg_make();
  struct seen *seen = seen_make(depth);
  if (worklist == NULL || all == NULL || seen == NULL)
    tool_fatal("%s", strerror(errno));

  /* Crawl the web concurrently. n counts the sends to worklist to come. */
  int n = 1;
  int rc = goro_wg_go(all, send_args, args);
  if (rc != 0)
    tool_fatal("starting a goroutine: %s", goro_strerror(rc));
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
  seen_free(seen);
  links_cleanup();
  return 0;
}
