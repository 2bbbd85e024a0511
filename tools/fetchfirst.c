/* fetchfirst - exercise 8.11: fetch every URL at once, print the body of
 * the first successful (HTTP 200) response, and cancel the others.
 *
 * The shape of mirroredQuery (section 8.4.4): one goroutine per URL, each
 * sending its response on a channel buffered for all of them, so that the
 * goroutines main no longer listens to never block (the book's goroutine
 * leak, avoided the book's way). Main takes responses as they come; a
 * failed one does not count. At the first success main closes done (the
 * cancellation of section 8.9, fetch.h), which aborts every fetch still in
 * flight, prints the body, and waits for the goroutines to end. When all
 * fail, each failure is reported, in the order they came, and the exit
 * status is 1.
 *
 * Ownership: main owns the responses; a goroutine fills its own and sends
 * a pointer to it, after which it does not touch it.
 */
#include "config.h"

#include "fetch.h"
#include "tool.h"

#include <curl/curl.h>
#include <errno.h>
#include <goro.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct response {
  const char *url;
  enum fetch_result result;
  struct page page;        /* when FETCH_OK */
  char err[FETCH_ERR_LEN]; /* when FETCH_FAILED */
};

static goro_chan *responses;        /* struct response *; buffered for every URL */
static struct fetch_cancel *cancel; /* cancel->done is the book's done channel */

/* go func() { responses <- request(url) }() */
static void
request(void *arg)
{
  struct response *r = arg;
  struct fetcher *f = fetcher_make(cancel);
  if (f == NULL) {
    r->result = FETCH_FAILED;
    snprintf(r->err, sizeof r->err, "getting %s: %s", r->url, strerror(errno));
  } else {
    r->result = fetch_get(f, r->url, SIZE_MAX - 1, &r->page, r->err, sizeof r->err);
  }
  fetcher_free(f);
  goro_chan_send(responses, &r); /* never blocks: the buffer has room for every URL */
}

/* Whether s is an absolute http or https URL (by libcurl's URL parser). */
static bool
is_web_url(const char *s)
{
  CURLU *u = curl_url();
  char *scheme = NULL;
  bool ok = u != NULL && curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
  curl_free(scheme);
  curl_url_cleanup(u);
  return ok;
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int first = tool_parse(argc, argv, "URL...",
                         "Fetches every URL at once and prints the body of the first HTTP 200 "
                         "response;\nthe other fetches are cancelled (exercise 8.11).",
                         NULL, 0);
  int n = argc - first;
  if (n <= 0)
    tool_usage_error("no URL given");
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    tool_fatal("curl_global_init failed");
  for (int i = 0; i < n; i++)
    if (!is_web_url(argv[first + i]))
      tool_usage_error("not an http or https URL: %s", argv[first + i]);
  /* Nothing to clean up on SIGINT or SIGTERM: they end fetchfirst at once
   * (tool_init blocked them). */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);

  struct response *resp = calloc((size_t)n, sizeof *resp);
  struct response **order = calloc((size_t)n, sizeof *order);
  responses = goro_chan_make(sizeof(struct response *), (size_t)n);
  cancel = fetch_cancel_make();
  goro_wg *all = goro_wg_make();
  if (resp == NULL || order == NULL || responses == NULL || cancel == NULL || all == NULL)
    tool_fatal("%s", strerror(errno));

  for (int i = 0; i < n; i++) {
    resp[i].url = argv[first + i];
    int rc = goro_wg_go(all, request, &resp[i]);
    if (rc != 0) {
      fetch_cancel_fire(cancel);
      goro_wg_wait(all);
      tool_fatal("starting a goroutine: %s", goro_strerror(rc));
    }
  }

  /* The first success wins; failures do not count. */
  struct response *winner = NULL;
  int got = 0;
  while (winner == NULL && got < n) {
    struct response *r;
    goro_chan_recv(responses, &r);
    order[got++] = r;
    if (r->result == FETCH_OK)
      winner = r;
  }
  fetch_cancel_fire(cancel); /* close(done): cancel the others */

  int status = 0;
  if (winner != NULL) {
    if (fwrite(winner->page.body, 1, winner->page.len, stdout) != winner->page.len ||
        fflush(stdout) != 0) {
      tool_warn("writing stdout: %s", strerror(errno));
      status = 1;
    }
  } else {
    for (int i = 0; i < got; i++)
      tool_warn("%s", order[i]->err);
    status = 1;
  }

  goro_wg_wait(all);
  for (int i = 0; i < n; i++)
    page_clear(&resp[i].page);
  free(resp);
  free(order);
  goro_wg_free(all);
  goro_chan_release(responses);
  fetch_cancel_free(cancel);
  curl_global_cleanup();
  return status;
}
