/* fetch.c - one HTTP GET by libcurl, cancellable (fetch.h).
 *
 * A fetcher drives its easy handle through a multi handle of its own:
 * curl_multi_perform, then curl_multi_poll on the transfer's sockets plus
 * the cancel pipe. That loop is what curl_easy_perform does inside, with
 * one more descriptor to wake on. A cancel is seen by the loop (after the
 * pipe wakes it) and by the progress callback (while data moves); either
 * way the transfer is abandoned by curl_multi_remove_handle, which closes
 * its connection.
 *
 * Thread safety: a fetcher belongs to one goroutine at a time; a cancel's
 * fields are written by fetch_cancel_make before it is shared, and then
 * only wfd changes, by the one call whose goro_chan_close succeeded.
 */
#include "config.h"

#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A connection (TCP and TLS) must be made within this time. */
#define CONNECT_TIMEOUT_MS 10000L
/* A transfer slower than 1 byte/s for this long is abandoned. */
#define LOW_SPEED_TIME_S 60L
/* The longest curl_multi_poll sleeps before the loop looks again. */
#define POLL_MS 1000

struct fetch_cancel *
fetch_cancel_make(void)
{
  struct fetch_cancel *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  int fds[2];
  if (pipe(fds) != 0)
    goto fail;
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  fcntl(fds[1], F_SETFD, FD_CLOEXEC);
  c->rfd = fds[0];
  c->wfd = fds[1];
  c->done = goro_chan_make(0, 0);
  if (c->done == NULL) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    errno = e;
    goto fail;
  }
  return c;
fail:
  free(c);
  return NULL;
}

bool
fetch_cancel_fire(struct fetch_cancel *c)
{
  /* goro_chan_close succeeds exactly once: that caller owns wfd. */
  if (goro_chan_close(c->done) != 0)
    return false;
  close(c->wfd);
  c->wfd = -1;
  return true;
}

bool
fetch_cancelled(struct fetch_cancel *c)
{
  /* A receive from done succeeds only once it is closed (nothing is ever
   * sent on it), and then yields 0. */
  return c != NULL && goro_chan_tryrecv(c->done, NULL) == 0;
}

void
fetch_cancel_free(struct fetch_cancel *c)
{
  if (c == NULL)
    return;
  if (c->wfd >= 0)
    close(c->wfd);
  close(c->rfd);
  goro_chan_release(c->done);
  free(c);
}

/* ---- fetcher ------------------------------------------------------------ */

struct fetcher {
  CURLM *multi;
  CURL *easy;
  struct fetch_cancel *cancel; /* may be NULL */
};

struct fetcher *
fetcher_make(struct fetch_cancel *cancel)
{
  struct fetcher *f = calloc(1, sizeof *f);
  if (f == NULL)
    return NULL;
  f->cancel = cancel;
  f->multi = curl_multi_init();
  f->easy = curl_easy_init();
  if (f->multi == NULL || f->easy == NULL) {
    fetcher_free(f);
    errno = ENOMEM;
    return NULL;
  }
  return f;
}

void
fetcher_free(struct fetcher *f)
{
  if (f == NULL)
    return;
  if (f->easy != NULL)
    curl_easy_cleanup(f->easy);
  if (f->multi != NULL)
    curl_multi_cleanup(f->multi);
  free(f);
}

void
page_clear(struct page *p)
{
  free(p->url);
  free(p->type);
  free(p->body);
  memset(p, 0, sizeof *p);
}

/* The body being received: buf holds len bytes (plus room for a '\0'). */
struct sink {
  char *buf;
  size_t len, cap;
  size_t max;
  bool toolong;
};

static size_t
on_data(char *data, size_t size, size_t n, void *arg)
{
  struct sink *s = arg;
  size_t k = size * n;
  if (k > s->max - s->len) {
    s->toolong = true;
    return 0; /* CURLE_WRITE_ERROR */
  }
  if (s->len + k + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 16384;
    while (cap < s->len + k + 1)
      cap *= 2;
    char *b = realloc(s->buf, cap);
    if (b == NULL)
      return 0;
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, data, k);
  s->len += k;
  return k;
}

/* libcurl calls this often while data moves (and about once a second when
 * none does): non-zero aborts the transfer with CURLE_ABORTED_BY_CALLBACK. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return fetch_cancelled(arg) ? 1 : 0;
}

static void
set_options(CURL *h, const char *url, struct sink *sink, struct fetch_cancel *cancel, char *errbuf)
{
  curl_easy_reset(h); /* keeps the connection and DNS caches */
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "goro-crawl/1.0 (libcurl)");
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl can decode */
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  if (cancel != NULL) {
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, cancel);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  }
}

static char *
dup_or_null(const char *s)
{
  return s != NULL ? strdup(s) : NULL;
}

enum fetch_result
fetch_get(struct fetcher *f, const char *url, size_t maxlen, struct page *p, char *err,
          size_t errlen)
{
  memset(p, 0, sizeof *p);
  err[0] = '\0';
  if (fetch_cancelled(f->cancel))
    return FETCH_CANCELLED;

  char errbuf[CURL_ERROR_SIZE] = "";
  struct sink sink = {.max = maxlen};
  set_options(f->easy, url, &sink, f->cancel, errbuf);
  if (curl_multi_add_handle(f->multi, f->easy) != CURLM_OK) {
    snprintf(err, errlen, "getting %s: cannot start the transfer", url);
    return FETCH_FAILED;
  }

  /* The transfer's loop: perform what is ready, then sleep until a socket
   * or the cancel pipe is ready (or POLL_MS passes). */
  CURLcode result = CURLE_OK;
  bool finished = false, cancelled = false;
  for (;;) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(f->multi, &running);
    if (mc != CURLM_OK) {
      snprintf(err, errlen, "getting %s: %s", url, curl_multi_strerror(mc));
      break;
    }
    int left;
    for (CURLMsg *m; (m = curl_multi_info_read(f->multi, &left)) != NULL;)
      if (m->msg == CURLMSG_DONE) {
        result = m->data.result;
        finished = true;
      }
    if (finished || running == 0)
      break;
    if (fetch_cancelled(f->cancel)) {
      cancelled = true;
      break;
    }
    struct curl_waitfd w = {.fd = f->cancel != NULL ? f->cancel->rfd : -1,
                            .events = CURL_WAIT_POLLIN};
    mc = curl_multi_poll(f->multi, &w, f->cancel != NULL ? 1 : 0, POLL_MS, NULL);
    if (mc != CURLM_OK) {
      snprintf(err, errlen, "getting %s: %s", url, curl_multi_strerror(mc));
      break;
    }
  }
  curl_multi_remove_handle(f->multi, f->easy); /* abandons an unfinished transfer */

  if (cancelled || (finished && result == CURLE_ABORTED_BY_CALLBACK)) {
    free(sink.buf);
    err[0] = '\0';
    return FETCH_CANCELLED;
  }
  if (!finished) {
    if (err[0] == '\0')
      snprintf(err, errlen, "getting %s: the transfer did not finish", url);
    free(sink.buf);
    return FETCH_FAILED;
  }
  if (result != CURLE_OK) {
    if (sink.toolong)
      snprintf(err, errlen, "getting %s: body longer than %zu bytes", url, maxlen);
    else
      snprintf(err, errlen, "getting %s: %s", url,
               errbuf[0] != '\0' ? errbuf : curl_easy_strerror(result));
    free(sink.buf);
    return FETCH_FAILED;
  }
  long status = 0;
  curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    snprintf(err, errlen, "getting %s: HTTP status %ld", url, status);
    free(sink.buf);
    return FETCH_FAILED;
  }
  char *eff = NULL, *type = NULL;
  curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &eff);
  curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &type);
  if (sink.buf == NULL)
    sink.buf = malloc(1);
  p->url = dup_or_null(eff != NULL ? eff : url);
  p->type = dup_or_null(type);
  p->body = sink.buf;
  p->len = sink.len;
  if (p->body == NULL || p->url == NULL || (type != NULL && p->type == NULL)) {
    page_clear(p);
    snprintf(err, errlen, "getting %s: %s", url, strerror(ENOMEM));
    return FETCH_FAILED;
  }
  p->body[p->len] = '\0';
  return FETCH_OK;
}
