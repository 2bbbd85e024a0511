/* io.c - ftpd's waiting on sockets, control lines and replies.
 *
 * Every socket of ftpd is non-blocking and every wait is a poll(2) that
 * also watches the stop pipe (cfg.stopfd): shutdown makes that pipe
 * readable, so every session, in whatever wait, sees IO_STOP at once. It
 * is the fd form of the book's done channel (section 8.9): poll cannot
 * wait on a goro channel, so main's canceller goroutine turns the closing
 * of the shutdown channel into the closing of the pipe's write end.
 *
 * A timeout given to a wait is what Go writes as conn.SetDeadline: the
 * idle limit of the control connection, the stall limit of a transfer.
 */
#include "config.h"

#include "ftpd.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#ifndef POLLRDHUP
#define POLLRDHUP 0 /* without it only a reset (POLLHUP/POLLERR) is seen */
#endif

int
io_wait(int fd, short events, int ctrl, int64_t timeout_ns)
{
  bool limit = timeout_ns > 0 && timeout_ns != GORO_FOREVER;
  int64_t deadline = limit ? goro_now() + timeout_ns : 0;
  struct pollfd p[3] = {
      {.fd = fd, .events = events},
      {.fd = cfg.stopfd, .events = POLLIN},
      {.fd = ctrl, .events = POLLRDHUP}, /* fd -1 is ignored by poll */
  };
  for (;;) {
    int ms = -1;
    if (limit) {
      int64_t left = deadline - goro_now();
      if (left <= 0)
        return IO_TIMEOUT;
      /* Round up: waking a little late is harmless, early spins. */
      int64_t m = (left + GORO_MILLISECOND - 1) / GORO_MILLISECOND;
      ms = m > INT_MAX ? INT_MAX : (int)m;
    }
    int n = poll(p, ctrl >= 0 ? 3 : 2, ms);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return IO_ERROR;
    }
    if (p[1].revents != 0)
      return IO_STOP;
    if (ctrl >= 0 && p[2].revents != 0)
      return IO_GONE;
    /* POLLHUP and POLLERR count as ready: the read or write that follows
     * reports what happened. */
    if (p[0].revents != 0)
      return IO_READY;
  }
}

int
io_ctrl_grace(int ctrl, int64_t grace_ns)
{
  struct pollfd p[2] = {
      {.fd = ctrl, .events = POLLRDHUP},
      {.fd = cfg.stopfd, .events = POLLIN},
  };
  int64_t deadline = goro_now() + grace_ns;
  for (;;) {
    int64_t left = deadline - goro_now();
    int ms = left <= 0 ? 0 : (int)((left + GORO_MILLISECOND - 1) / GORO_MILLISECOND);
    int n = poll(p, 2, ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n > 0 && p[1].revents != 0)
      return IO_STOP;
    if (n > 0 && p[0].revents != 0)
      return IO_GONE;
    if (n <= 0 || left <= 0)
      return IO_READY;
  }
}

int
io_send_all(int fd, const void *buf, size_t n, int ctrl, int64_t timeout_ns)
{
  const char *b = buf;
  while (n > 0) {
    ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
    if (k > 0) {
      b += k;
      n -= (size_t)k;
      continue;
    }
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
      return IO_ERROR;
    int w = io_wait(fd, POLLOUT, ctrl, timeout_ns);
    if (w != IO_READY)
      return w;
  }
  return IO_READY;
}

/* ---- replies --------------------------------------------------------- */

int
reply_raw(struct session *s, const char *text)
{
  if (s->dead)
    return -1;
  /* A reply waits for the client to read at most the idle limit; a
   * client that never reads is dropped. Shutdown does not interrupt a
   * reply (the 421 sent at shutdown must still go out): the send of a
   * short reply completes at once unless the client stopped reading. */
  int rc = io_send_all(s->ctrl, text, strlen(text), -1, cfg.idle > 0 ? cfg.idle : 60 * GORO_SECOND);
  if (rc == IO_STOP) {
    /* The stop pipe fired while the client's window was full: give it a
     * moment, then drop it. */
    rc = IO_TIMEOUT;
    struct pollfd p = {.fd = s->ctrl, .events = POLLOUT};
    if (poll(&p, 1, 1000) > 0)
      rc = io_send_all(s->ctrl, text, strlen(text), -1, GORO_SECOND) == IO_READY ? IO_READY
                                                                                 : IO_ERROR;
  }
  if (rc != IO_READY) {
    s->dead = true;
    return -1;
  }
  return 0;
}

int
reply(struct session *s, int code, const char *fmt, ...)
{
  char line[FTPD_VPATH_MAX + 512];
  int k = snprintf(line, sizeof line, "%d ", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + k, sizeof line - (size_t)k - 2, fmt, ap);
  va_end(ap);
  /* A reply is one line: a name cannot smuggle a CR or LF into it. */
  for (char *c = line; *c != '\0'; c++)
    if (*c == '\r' || *c == '\n')
      *c = '?';
  strcat(line, "\r\n");
  return reply_raw(s, line);
}

int
reply_errno(struct session *s, int code, const char *name, int err)
{
  const char *why;
  switch (err) {
  case EXDEV:
    why = "Permission denied (outside the root)";
    break;
  case ELOOP:
    why = "Too many levels of symbolic links";
    break;
  default:
    why = strerror(err);
  }
  return reply(s, code, "%s: %s.", name, why);
}

/* ---- command lines ----------------------------------------------------- */

/* Takes the first complete line out of s->in. Returns its length (copied
 * to line, CR stripped), LINE_TOO_LONG, or -1 when no full line is held
 * and the buffer may take more. */
static int
take_line(struct session *s, char *line)
{
  char *nl = memchr(s->in, '\n', s->inlen);
  if (nl == NULL) {
    if (s->inlen > FTPD_MAXLINE + 1) {
      /* Overlong: drop what is held and skip up to the next newline. One
       * reply for the whole line, sent now, so a client that waits for it
       * is not left hanging. */
      s->inlen = 0;
      if (s->discarding)
        return -1;
      s->discarding = true;
      return LINE_TOO_LONG;
    }
    return -1;
  }
  size_t len = (size_t)(nl - s->in);
  size_t used = len + 1;
  bool skip = s->discarding;
  s->discarding = false;
  if (len > 0 && s->in[len - 1] == '\r')
    len--;
  int rc;
  if (skip) {
    rc = -2; /* the tail of a line already answered */
  } else if (len > FTPD_MAXLINE) {
    rc = LINE_TOO_LONG;
  } else {
    memcpy(line, s->in, len);
    line[len] = '\0';
    rc = (int)len;
  }
  memmove(s->in, s->in + used, s->inlen - used);
  s->inlen -= used;
  return rc;
}

int
read_line(struct session *s, char *line)
{
  for (;;) {
    int rc = take_line(s, line);
    if (rc >= 0 || rc == LINE_TOO_LONG)
      return rc;
    if (rc == -2)
      continue;
    ssize_t k = recv(s->ctrl, s->in + s->inlen, sizeof s->in - s->inlen, 0);
    if (k > 0) {
      s->inlen += (size_t)k;
      continue;
    }
    if (k == 0)
      return LINE_EOF;
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return LINE_EOF;
    int w = io_wait(s->ctrl, POLLIN, -1, cfg.idle);
    if (w == IO_TIMEOUT || w == IO_STOP)
      return w;
    if (w != IO_READY)
      return LINE_EOF;
  }
}
