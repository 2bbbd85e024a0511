/* crawl3 - gopl.io/ch8/crawl3: a web crawler with 20 long-lived crawler
 * goroutines; and exercises 8.6 (-depth N), 8.7 (-mirror DIR) and 8.10
 * (cancel on a byte from stdin).
 *
 * The book's shape: main sends each link it has not seen on unseenLinks
 * (unseen_links here); 20 crawler goroutines range over it, crawl each
 * link, and send the links found back to main on worklist, each list from
 * a goroutine of its own (so a crawler never waits for main, which may be
 * waiting to send it a link). The book's crawl3 never stops; here main
 * counts the sends to worklist still to come, as crawl2 does with n (each
 * link sent on unseen_links makes one), and once none is left it closes
 * unseen_links, which ends the crawlers.
 *
 * Exercise 8.10: a goroutine reads stdin; a byte there closes done (the
 * book's cancellation broadcast, fetch.h), which aborts every fetch in
 * flight. From then on nothing is printed, main sends no more links and
 * drops the lists still coming, the crawlers answer what they still get
 * with empty lists, and the program ends as above, with exit status 0.
 * End of input on stdin is no byte: the crawl goes on. The reader polls
 * stdin and a pipe main writes once the crawl is over, so it never
 * outlives main's wait.
 *
 * Printing and cancelling take the stdout lock, so no URL is printed
 * after the byte that cancelled was read.
 *
 * Ownership: the URLs are owned by the seen map (seen.h), which outlives
 * every goroutine; a list sent on worklist passes to main.
 */
#include "config.h"

#include "links.h"
#include "seen.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <goro.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NCRAWLERS 20

static goro_chan *worklist;         /* struct links *: the links of one page, or the start URLs */
static goro_chan *unseen_links;     /* const char *: de-duplicated URLs, to the crawlers */
static struct fetch_cancel *cancel; /* cancel->done is the book's done channel */
static struct mirror *mirror;       /* -mirror: the hosts to save, or NULL */
static goro_wg *all;                /* every goroutine main started; waited before exit */
static int over[2];                 /* a pipe: main writes once the crawl is over */

static struct links *
crawl(struct fetcher *f, const char *url)
{
  flockfile(stdout);
  bool live = !fetch_cancelled(cancel);
  int rc = live ? printf("%s\n", url) : 0;
  funlockfile(stdout);
  links_print_failed(rc);
  struct links *list = NULL;
  if (live) {
    char err[FETCH_ERR_LEN];
    if (f == NULL)
      tool_warn("getting %s: %s", url, strerror(ENOMEM));
    else if (links_extract(f, url, mirror, &list, err, sizeof err) == FETCH_FAILED &&
             !fetch_cancelled(cancel))
      tool_warn("%s", err);
  }
  if (list == NULL && (list = links_new(url)) == NULL)
    tool_fatal("%s", strerror(ENOMEM));
  return list;
}

/* go func() { worklist <- foundLinks }() */
static void
send_found(void *found)
{
  goro_chan_send(worklist, &found);
}

/* for link := range unseenLinks { foundLinks := crawl(link); go ... } */
static void
crawler(void *arg)
{
  (void)arg;
  struct fetcher *f = fetcher_make(cancel); /* one per crawler: connections are reused */
  for (const char *link; goro_chan_recv(unseen_links, &link) > 0;) {
    struct links *found = crawl(f, link);
    int rc = goro_wg_go(all, send_found, found);
    if (rc != 0)
      tool_fatal("starting a goroutine: %s", goro_strerror(rc));
  }
  fetcher_free(f);
}

/* go func() { worklist <- os.Args[1:] }() */
static void
send_args(void *args)
{
  goro_chan_send(worklist, &args);
}

/* Exercise 8.10: cancel when a byte arrives on stdin. Ends at a byte, at
 * end of input or an error on stdin (no cancel), or once main says the
 * crawl is over. */
static void
watch_stdin(void *arg)
{
  (void)arg;
  struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = over[0], .events = POLLIN}};
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    if (p[1].revents != 0)
      return;
    if (p[0].revents & (POLLIN | POLLHUP)) {
      char b;
      ssize_t r = read(0, &b, 1);
      if (r < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (r == 1) {
        flockfile(stdout);
        fetch_cancel_fire(cancel); /* close(done) */
        funlockfile(stdout);
      }
      return;
    }
    if (p[0].revents != 0)
      return; /* POLLERR, POLLNVAL: no stdin to read */
  }
}

static void
go_or_die(goro_fn *fn, void *arg)
{
  int rc = goro_wg_go(all, fn, arg);
  if (rc != 0)
    tool_fatal("starting a goroutine: %s", goro_strerror(rc));
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int depth = -1;
  const char *mirror_dir = NULL;
  struct tool_flag flags[] = {
      {"depth", TOOL_INT, &depth, "N", "crawl only URLs at most N links from a start URL; -1: all"},
      {"mirror", TOOL_STRING, &mirror_dir, "DIR",
       "crawl only the start URLs' hosts, saving each page under DIR/HOST/PATH\n"
       "                     with the links among them made relative"},
  };
  int first = tool_parse(argc, argv, "[-depth N] [-mirror DIR] URL...",
                         "Prints every URL reachable from the URLs given, each once, as it "
                         "fetches it;\n20 crawler goroutines (gopl.io/ch8/crawl3). A byte on "
                         "stdin cancels the crawl.",
                         flags, sizeof flags / sizeof flags[0]);
  links_setup();
  struct links *args = links_args(argv + first, argc - first);
  if (mirror_dir != NULL) {
    if (*mirror_dir == '\0')
      tool_usage_error("-mirror needs a directory");
    if ((mirror = mirror_make(mirror_dir, args->v, args->n)) == NULL)
      tool_fatal("mirror %s: %s", mirror_dir, strerror(errno));
  }

  worklist = goro_chan_make(sizeof(struct links *), 0);
  unseen_links = goro_chan_make(sizeof(const char *), 0);
  cancel = fetch_cancel_make();
  all = goro_wg_make();
  struct seen *seen = seen_make(depth);
  if (worklist == NULL || unseen_links == NULL || cancel == NULL || all == NULL || seen == NULL ||
      pipe(over) != 0)
    tool_fatal("%s", strerror(errno));
  fcntl(over[0], F_SETFD, FD_CLOEXEC);
  fcntl(over[1], F_SETFD, FD_CLOEXEC);

  go_or_die(watch_stdin, NULL);

  int n = 1; /* number of pending sends to worklist */
  go_or_die(send_args, args);

  /* Create 20 crawler goroutines to fetch each unseen link. */
  for (int i = 0; i < NCRAWLERS; i++)
    go_or_die(crawler, NULL);

  /* The main goroutine de-duplicates worklist items and sends the unseen
   * ones to the crawlers. */
  for (; n > 0; n--) {
    struct links *list;
    goro_chan_recv(worklist, &list);
    if (fetch_cancelled(cancel)) {
      links_free(list); /* cancelled: no more links */
      continue;
    }
    const char *const *unseen;
    size_t k;
    if (seen_add(seen, list, &unseen, &k) != 0)
      tool_fatal("%s", strerror(ENOMEM));
    for (size_t i = 0; i < k; i++) {
      n++;
      goro_case cases[] = {
          GORO_SEND_CASE(unseen_links, &unseen[i]),
          GORO_RECV_CASE(cancel->done, NULL),
      };
      if (goro_select(cases, 2, GORO_FOREVER) == 1)
        n--; /* cancelled: the link is dropped */
    }
  }

  /* No send to worklist is left: every link was crawled. */
  goro_chan_close(unseen_links);
  if (tool_write_all(over[1], "", 1) != 0)
    tool_fatal("%s", strerror(errno));
  goro_wg_wait(all);

  goro_wg_free(all);
  goro_chan_release(worklist);
  goro_chan_release(unseen_links);
  fetch_cancel_free(cancel);
  mirror_free(mirror);
  seen_free(seen);
  close(over[0]);
  close(over[1]);
  links_cleanup();
  return 0;
}
