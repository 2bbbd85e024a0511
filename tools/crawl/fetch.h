/* fetch.h - one HTTP GET by libcurl, cancellable: what the crawlers
 * (crawl1-3) and fetchfirst share.
 *
 * Cancellation (section 8.9, exercises 8.10 and 8.11) is a done channel
 * closed once, as the book's `done`. A transfer in flight notices it in two
 * ways: libcurl's progress callback (CURLOPT_XFERINFOFUNCTION) returns
 * non-zero once done is closed, which aborts a transfer that is moving
 * data; and a transfer that is waiting (for a connection, or for a slow
 * server's first byte) sleeps in curl_multi_poll on the read end of a
 * pipe whose write end is closed together with done, so it wakes at once
 * and aborts. A channel cannot be polled, a pipe can; the pipe only wakes,
 * the channel decides.
 *
 * Call curl_global_init once in main before any goroutine starts.
 */
#ifndef GORO_CRAWL_FETCH_H
#define GORO_CRAWL_FETCH_H

#include <goro.h>
#include <stdbool.h>
#include <stddef.h>

/* A done channel (element size 0) and its wake-up pipe. */
struct fetch_cancel {
  goro_chan *done; /* closed by fetch_cancel_fire, once */
  int rfd;         /* read end: readable (end of file) once fired */
  int wfd;         /* write end: closed by the firing call, then -1 */
};

/* Makes a cancel that has not fired. NULL and errno on failure. */
struct fetch_cancel *fetch_cancel_make(void);

/* close(done), and wakes every fetch waiting in curl_multi_poll. Any
 * thread may call it, any number of times; only the first has an effect,
 * and it returns true. */
bool fetch_cancel_fire(struct fetch_cancel *c);

/* Whether c has fired (done is closed). False for NULL. Never blocks. */
bool fetch_cancelled(struct fetch_cancel *c);

/* Frees c, after every user of it is gone. NULL is a no-op. */
void fetch_cancel_free(struct fetch_cancel *c);

/* A goroutine's HTTP client: a libcurl easy handle on a multi handle of
 * its own (the multi handle keeps the connection cache, so a long-lived
 * fetcher, as each of crawl3's crawlers, reuses connections). Used by one
 * goroutine at a time. */
struct fetcher;

/* cancel may be NULL (never cancelled). NULL and errno on failure. */
struct fetcher *fetcher_make(struct fetch_cancel *cancel);
void fetcher_free(struct fetcher *f);

/* A fetched page. All strings malloc'd; page_clear frees them. */
struct page {
  char *url;  /* the URL after redirects: the base of its relative links */
  char *type; /* Content-Type, or NULL */
  char *body; /* the body, with a '\0' after its len bytes */
  size_t len;
};
void page_clear(struct page *p);

/* Room enough for fetch_get's err: "getting URL: why" (cut short when longer). */
#define FETCH_ERR_LEN 2048

enum fetch_result {
  FETCH_OK = 0,         /* HTTP 200, *p filled */
  FETCH_FAILED = -1,    /* err holds "getting URL: why" */
  FETCH_CANCELLED = -2, /* cancel fired during the fetch (err is empty) */
};

/* GET url, following redirects (at most 10, http and https only), with a
 * bounded connect time. Success is HTTP 200 alone, as the book's
 * links.Extract. A body longer than maxlen bytes fails. */
enum fetch_result fetch_get(struct fetcher *f, const char *url, size_t maxlen, struct page *p,
                            char *err, size_t errlen);

#endif /* GORO_CRAWL_FETCH_H */
