/* netcommon.c - the network tools' shared helpers (netcommon.h).
 *
 * Invariants: net_conns.fds[0..n) are the connections added and not yet
 * deleted, all protected by net_conns.mu; closing never returns to false.
 * The wake pipe's read end becomes readable at the first net_wake and stays
 * so (nobody reads the byte), so every later net_read is woken too.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- Servers ------------------------------------------------------------- */

struct net_conns {
  pthread_mutex_t mu;
  int *fds;     /* the open connections; mu */
  size_t n;     /* how many; mu */
  size_t cap;   /* room in fds; mu */
  bool closing; /* set once by net_conns_shutdown; mu */
};

struct net_conns *
net_conns_make(void)
{
  struct net_conns *cs = calloc(1, sizeof *cs);
  if (cs == NULL)
    tool_fatal("out of memory");
  pthread_mutex_init(&cs->mu, NULL);
  return cs;
}

bool
net_conns_add(struct net_conns *cs, int fd)
{
  bool ok = false;
  pthread_mutex_lock(&cs->mu);
  if (!cs->closing) {
    if (cs->n == cs->cap) {
      size_t cap = cs->cap ? 2 * cs->cap : 16;
      int *fds = realloc(cs->fds, cap * sizeof *fds);
      if (fds != NULL) {
        cs->fds = fds;
        cs->cap = cap;
      }
    }
    if (cs->n < cs->cap) {
      cs->fds[cs->n++] = fd;
      ok = true;
    }
  }
  pthread_mutex_unlock(&cs->mu);
  return ok;
}

void
net_conns_del(struct net_conns *cs, int fd)
{
  pthread_mutex_lock(&cs->mu);
  for (size_t i = 0; i < cs->n; i++) {
    if (cs->fds[i] == fd) {
      cs->fds[i] = cs->fds[--cs->n];
      break;
    }
  }
  pthread_mutex_unlock(&cs->mu);
}

void
net_conns_shutdown(struct net_conns *cs)
{
  pthread_mutex_lock(&cs->mu);
  cs->closing = true;
  for (size_t i = 0; i < cs->n; i++)
    shutdown(cs->fds[i], SHUT_RDWR);
  pthread_mutex_unlock(&cs->mu);
}

bool
net_conns_closing(struct net_conns *cs)
{
  pthread_mutex_lock(&cs->mu);
  bool c = cs->closing;
  pthread_mutex_unlock(&cs->mu);
  return c;
}

struct watch {
  int lfd;
  struct net_conns *cs;
};

static struct watch server_watch;

/* Waits for SIGINT/SIGTERM; the closing flag is set before the listener
 * is shut down, so net_accept, seeing accept fail, knows why. */
static void
watch_server(void *arg)
{
  struct watch *w = arg;
  goro_chan_recv(tool_shutdown_chan(), NULL);
  net_conns_shutdown(w->cs);
  shutdown(w->lfd, SHUT_RDWR);
}

static int64_t stats_period;

/* GORO_NET_STATS=D: every D, "NAME: goroutines: N" on stderr, until
 * shutdown. The count includes this goroutine and the watcher. */
static void
report_stats(void *arg)
{
  (void)arg;
  goro_case cases[1] = {GORO_RECV_CASE(tool_shutdown_chan(), NULL)};
  while (goro_select(cases, 1, stats_period) < 0)
    tool_warn("goroutines: %zu", goro_num_goroutine());
}

void
net_watch_server(int lfd, struct net_conns *cs)
{
  server_watch.lfd = lfd;
  server_watch.cs = cs;
  tool_shutdown_chan();
  int rc = goro_go_named("shutdown watcher", watch_server, &server_watch);
  if (rc != 0)
    tool_fatal("goro_go: %s", goro_strerror(rc));
  const char *stats = getenv("GORO_NET_STATS");
  if (stats != NULL && tool_parse_duration(stats, &stats_period) == 0 && stats_period > 0) {
    rc = goro_go_named("stats", report_stats, NULL);
    if (rc != 0)
      tool_fatal("goro_go: %s", goro_strerror(rc));
  }
}

int
net_accept(int lfd, struct net_conns *cs)
{
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
      if (net_conns_add(cs, fd))
        return fd;
      close(fd);
      return -1;
    }
    int e = errno;
    if (net_conns_closing(cs))
      return -1;
    switch (e) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
      continue;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      /* Go's http.Server backs off the same way. */
      tool_warn("accept: %s; retrying", strerror(e));
      goro_sleep(100 * GORO_MILLISECOND);
      continue;
    default:
      tool_fatal("accept: %s", strerror(e));
    }
  }
}

/* ---- Lines --------------------------------------------------------------- */

struct net_lines {
  int fd;
  size_t start, end;          /* buf[start..end) is read and not yet returned */
  bool eof;                   /* read returned 0 or failed */
  char buf[NET_LINE_MAX + 2]; /* a line, its "\n", and the NUL put in its place */
};

struct net_lines *
net_lines_make(int fd)
{
  struct net_lines *lr = malloc(sizeof *lr);
  if (lr == NULL)
    return NULL;
  lr->fd = fd;
  lr->start = lr->end = 0;
  lr->eof = false;
  return lr;
}

void
net_lines_free(struct net_lines *lr)
{
  free(lr);
}

ssize_t
net_lines_next(struct net_lines *lr, char **line)
{
  size_t scanned = lr->start;
  for (;;) {
    char *nl = memchr(lr->buf + scanned, '\n', lr->end - scanned);
    char *p = lr->buf + lr->start;
    size_t len;
    if (nl != NULL) {
      len = (size_t)(nl - p);
      lr->start += len + 1;
    } else if (lr->eof && lr->end > lr->start) {
      len = lr->end - lr->start; /* the last line, without "\n" */
      lr->start = lr->end;
    } else if (lr->eof) {
      return -1;
    } else {
      scanned = lr->end;
      if (lr->start > 0) { /* slide the partial line to the front */
        memmove(lr->buf, p, lr->end - lr->start);
        scanned -= lr->start;
        lr->end -= lr->start;
        lr->start = 0;
      }
      if (lr->end > NET_LINE_MAX)
        return -2;
      ssize_t k;
      do
        k = read(lr->fd, lr->buf + lr->end, NET_LINE_MAX + 1 - lr->end);
      while (k < 0 && errno == EINTR);
      if (k <= 0)
        lr->eof = true;
      else
        lr->end += (size_t)k;
      continue;
    }
    if (len > 0 && p[len - 1] == '\r')
      len--;
    p[len] = '\0';
    *line = p;
    return (ssize_t)len;
  }
}

/* ---- Time ---------------------------------------------------------------- */

void
net_clock(char *buf)
{
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(buf, 9, "%H:%M:%S", &tm);
}

/* ---- Clients ------------------------------------------------------------- */

static int wake_pipe[2] = {-1, -1};

void
net_wake_init(void)
{
  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    tool_fatal("pipe: %s", strerror(errno));
}

void
net_wake(void)
{
  char b = 1;
  ssize_t k = write(wake_pipe[1], &b, 1); /* a full pipe is awake already */
  (void)k;
}

ssize_t
net_read(int fd, void *buf, size_t n)
{
  for (;;) {
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake_pipe[0], .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (p[1].revents != 0)
      return NET_WOKEN;
    if (p[0].revents == 0)
      continue;
    ssize_t k = read(fd, buf, n);
    if (k < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    return k;
  }
}

int
net_copy(int dst, int src)
{
  char buf[32768];
  for (;;) {
    ssize_t k = net_read(src, buf, sizeof buf);
    if (k == 0)
      return 0;
    if (k == NET_WOKEN)
      return NET_WOKEN;
    if (k < 0)
      return NET_EREAD;
    if (tool_write_all(dst, buf, (size_t)k) != 0)
      return NET_EWRITE;
  }
}

int
net_dial(const char *hostport, char *err, size_t errlen)
{
  char host[256], port[16];
  if (tool_split_hostport(hostport, host, sizeof host, port, sizeof port) != 0) {
    snprintf(err, errlen, "dial %s: address must be HOST:PORT", hostport);
    return -1;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0) {
    snprintf(err, errlen, "dial %s: %s", hostport, gai_strerror(gai));
    return -1;
  }
  int fd = -1, e = 0;
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      e = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      e = 0;
    } else if (errno != EINPROGRESS) {
      e = errno;
    } else {
      /* Wait for the connection, or for net_wake. */
      struct pollfd p[2] = {{.fd = fd, .events = POLLOUT}, {.fd = wake_pipe[0], .events = POLLIN}};
      int k;
      do
        k = poll(p, wake_pipe[0] >= 0 ? 2 : 1, -1);
      while (k < 0 && errno == EINTR);
      socklen_t len = sizeof e;
      if (k < 0)
        e = errno;
      else if (wake_pipe[0] >= 0 && p[1].revents != 0)
        e = ECANCELED;
      else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        e = errno;
    }
    if (e == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      break;
    }
    close(fd);
    fd = -1;
    if (e == ECANCELED)
      break;
  }
  freeaddrinfo(res);
  if (fd < 0)
    snprintf(err, errlen, "dial %s: %s", hostport, strerror(e));
  return fd;
}

static goro_chan *client_quit;
static goro_wg *client_wg;

/* select { case <-shutdown: wake the reads; case <-quit: } */
static void
watch_client(void *arg)
{
  (void)arg;
  goro_case cs[2] = {GORO_RECV_CASE(tool_shutdown_chan(), NULL), GORO_RECV_CASE(client_quit, NULL)};
  if (goro_select(cs, 2, GORO_FOREVER) == 0)
    net_wake();
}

void
net_watch_client(void)
{
  tool_shutdown_chan();
  client_quit = goro_chan_make(0, 0);
  client_wg = goro_wg_make();
  if (client_quit == NULL || client_wg == NULL)
    tool_fatal("out of memory");
  int rc = goro_wg_go(client_wg, watch_client, NULL);
  if (rc != 0)
    tool_fatal("goro_go: %s", goro_strerror(rc));
}

void
net_watch_client_stop(void)
{
  goro_chan_close(client_quit);
  goro_wg_wait(client_wg);
  goro_wg_free(client_wg);
  goro_chan_release(client_quit);
}
