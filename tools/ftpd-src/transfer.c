/* transfer.c - data connections and the commands that use them:
 * PASV EPSV PORT EPRT, RETR STOR APPE LIST NLST.
 *
 * Set-up (RFC 959, RFC 2428):
 *  - PASV/EPSV listen on the control connection's local address, port 0,
 *    and accept only a connection from the control connection's peer
 *    address (another one is closed and the wait goes on), for at most
 *    cfg.data_timeout; the listener serves one transfer.
 *  - PORT/EPRT name an address that must be the control connection's
 *    peer address (the FTP bounce attack of RFC 2577 is refused with 501)
 *    and a port >= 1024; the server connects from its control address.
 *  - The data connection is opened before the 150 reply (as vsftpd
 *    does), so a failure is a lone 425.
 *
 * A transfer runs in the session's goroutine: a slow client holds up its
 * own session only. Every wait watches the stop pipe (shutdown: 426 then
 * 421) and the control connection (the client closed it: the transfer is
 * abandoned), and gives up after cfg.idle without progress (426).
 *
 * STOR is all or nothing: the data goes to a temporary file
 * FTPD_TMP_PREFIX<pid>-<session>-<n> in the target's directory, which is
 * fsync'ed and renamed over the target only once the data connection
 * ended with an orderly EOF and the control connection is still open
 * EOF_GRACE later; on any other end the temporary file is removed. (In
 * stream mode an EOF is all that marks the end of a file, and a client
 * that dies mid-upload closes both its connections at once, in either
 * order: the grace tells the two apart, at the cost of 50 ms per
 * upload.) A replaced file keeps its
 * permission bits (never setuid, setgid or sticky ones) and, when ftpd
 * may set them, its owner and group. Only SIGKILL (or a crash of the machine) can leave a
 * temporary file behind.
 *
 * APPE appends in place (O_APPEND): a transfer cut short is rolled back by
 * truncating the file to the size it had when the APPE began (a file the
 * APPE created is removed). That is all or nothing against one writer; if
 * another client appends to the same file at the same time, a rollback
 * also cuts what it wrote after our start, and a crash may leave a partial
 * append.
 */
#include "config.h"

#include "ftpd.h"
#include "tool.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { BUFSIZE = 256 * 1024 };

/* How long the control connection must stay open after an upload's EOF
 * for the upload to count (see receive_file). */
static const int64_t EOF_GRACE = 50 * GORO_MILLISECOND;

/* ---- addresses --------------------------------------------------------- */

/* The IPv4 address of a (possibly v4-mapped IPv6) address, or false. */
static bool
ipv4_of(const struct sockaddr_storage *a, struct in_addr *out)
{
  if (a->ss_family == AF_INET) {
    *out = ((const struct sockaddr_in *)a)->sin_addr;
    return true;
  }
  if (a->ss_family == AF_INET6) {
    const struct in6_addr *v6 = &((const struct sockaddr_in6 *)a)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(v6)) {
      memcpy(out, &v6->s6_addr[12], 4);
      return true;
    }
  }
  return false;
}

/* Whether a and b are the same host (ports aside). */
static bool
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
  struct in_addr x, y;
  bool ax = ipv4_of(a, &x), by = ipv4_of(b, &y);
  if (ax || by)
    return ax && by && x.s_addr == y.s_addr;
  if (a->ss_family != AF_INET6 || b->ss_family != AF_INET6)
    return false;
  return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

static socklen_t
addr_len(const struct sockaddr_storage *a)
{
  return a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void
set_port(struct sockaddr_storage *a, int port)
{
  if (a->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
}

static int
get_port(const struct sockaddr_storage *a)
{
  if (a->ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
  return ntohs(((const struct sockaddr_in *)a)->sin_port);
}

/* ---- set-up ------------------------------------------------------------ */

void
data_reset(struct session *s)
{
  if (s->pasv >= 0)
    close(s->pasv);
  s->pasv = -1;
  s->active = false;
}

/* Opens a listener on the control connection's local address. Returns
 * its port, or -1 with a 425 sent. */
static int
open_pasv(struct session *s)
{
  data_reset(s);
  struct sockaddr_storage a = s->local;
  set_port(&a, 0);
  int fd = socket(a.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, addr_len(&a)) != 0 || listen(fd, 4) != 0) {
    reply(s, 425, "Cannot open a passive listener: %s.", strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  s->pasv = fd;
  return get_port(&a);
}

void
cmd_pasv(struct session *s, const char *arg)
{
  (void)arg;
  struct in_addr ip;
  if (s->epsv_all) {
    reply(s, 501, "PASV not allowed after EPSV ALL.");
    return;
  }
  if (!ipv4_of(&s->local, &ip)) {
    reply(s, 522, "PASV is IPv4 only: use EPSV.");
    return;
  }
  int port = open_pasv(s);
  if (port < 0)
    return;
  unsigned char *b = (unsigned char *)&ip.s_addr;
  reply(s, 227, "Entering Passive Mode (%u,%u,%u,%u,%d,%d).", b[0], b[1], b[2], b[3], port >> 8,
        port & 0xff);
}

void
cmd_epsv(struct session *s, const char *arg)
{
  struct in_addr ip;
  bool v4 = ipv4_of(&s->local, &ip);
  if (strcasecmp(arg, "ALL") == 0) {
    s->epsv_all = true;
    reply(s, 200, "EPSV ALL ok.");
    return;
  }
  if (*arg != '\0' && !((strcmp(arg, "1") == 0 && v4) || (strcmp(arg, "2") == 0 && !v4))) {
    reply(s, 522, "Network protocol not supported, use (%d).", v4 ? 1 : 2);
    return;
  }
  int port = open_pasv(s);
  if (port >= 0)
    reply(s, 229, "Entering Extended Passive Mode (|||%d|).", port);
}

/* Accepts addr (from PORT or EPRT) for the next transfer when it is the
 * client's own address and a port >= 1024. */
static void
set_active(struct session *s, struct sockaddr_storage *addr, const char *verb)
{
  data_reset(s);
  if (s->epsv_all) {
    reply(s, 501, "%s not allowed after EPSV ALL.", verb);
    return;
  }
  if (!same_host(addr, &s->peer)) {
    reply(s, 501, "%s refused: the address must be the client's own.", verb);
    return;
  }
  if (get_port(addr) < 1024) {
    reply(s, 501, "%s refused: the port must be 1024 or more.", verb);
    return;
  }
  s->active_addr = *addr;
  s->active = true;
  reply(s, 200, "%s command successful.", verb);
}

void
cmd_port(struct session *s, const char *arg)
{
  unsigned v[6];
  int end = 0;
  if (sscanf(arg, "%u,%u,%u,%u,%u,%u%n", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &end) != 6 ||
      arg[end] != '\0') {
    reply(s, 501, "Syntax: PORT h1,h2,h3,h4,p1,p2.");
    return;
  }
  for (int i = 0; i < 6; i++)
    if (v[i] > 255) {
      reply(s, 501, "Syntax: PORT h1,h2,h3,h4,p1,p2.");
      return;
    }
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  struct sockaddr_in *in = (struct sockaddr_in *)&a;
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]);
  in->sin_port = htons((uint16_t)(v[4] << 8 | v[5]));
  set_active(s, &a, "PORT");
}

void
cmd_eprt(struct session *s, const char *arg)
{
  /* |proto|address|port| with any printable delimiter (RFC 2428). */
  char d = arg[0];
  char buf[128];
  if (d < 33 || d > 126 || strlen(arg) >= sizeof buf) {
    reply(s, 501, "Syntax: EPRT |proto|address|port|.");
    return;
  }
  strcpy(buf, arg + 1);
  char *f[3];
  char *p = buf;
  for (int i = 0; i < 3; i++) {
    char *e = strchr(p, d);
    if (e == NULL) {
      reply(s, 501, "Syntax: EPRT |proto|address|port|.");
      return;
    }
    *e = '\0';
    f[i] = p;
    p = e + 1;
  }
  char *endp;
  long port = strtol(f[2], &endp, 10);
  if (*p != '\0' || *f[2] == '\0' || *endp != '\0' || port < 1 || port > 65535) {
    reply(s, 501, "Syntax: EPRT |proto|address|port|.");
    return;
  }
  struct sockaddr_storage a;
  memset(&a, 0, sizeof a);
  if (strcmp(f[0], "1") == 0) {
    struct sockaddr_in *in = (struct sockaddr_in *)&a;
    in->sin_family = AF_INET;
    if (inet_pton(AF_INET, f[1], &in->sin_addr) != 1) {
      reply(s, 501, "EPRT: bad IPv4 address.");
      return;
    }
  } else if (strcmp(f[0], "2") == 0) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
    in6->sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, f[1], &in6->sin6_addr) != 1) {
      reply(s, 501, "EPRT: bad IPv6 address.");
      return;
    }
  } else {
    reply(s, 522, "Network protocol not supported, use (1,2).");
    return;
  }
  set_port(&a, (int)port);
  set_active(s, &a, "EPRT");
}

/* Connects to the PORT/EPRT address from the control connection's local
 * address. Returns the socket or an io_status. */
static int
connect_active(struct session *s)
{
  struct sockaddr_storage to = s->active_addr, from = s->local;
  struct in_addr ip;
  if (from.ss_family == AF_INET6 && to.ss_family == AF_INET && ipv4_of(&to, &ip)) {
    /* The control connection is a v4-mapped one on an IPv6 socket. */
    struct sockaddr_in6 m;
    memset(&m, 0, sizeof m);
    m.sin6_family = AF_INET6;
    m.sin6_addr.s6_addr[10] = m.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&m.sin6_addr.s6_addr[12], &ip, 4);
    m.sin6_port = ((struct sockaddr_in *)&to)->sin_port;
    memset(&to, 0, sizeof to);
    memcpy(&to, &m, sizeof m);
  }
  set_port(&from, 0);
  int fd = socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return IO_ERROR;
  if (from.ss_family == to.ss_family)
    bind(fd, (struct sockaddr *)&from, addr_len(&from)); /* best effort */
  if (connect(fd, (struct sockaddr *)&to, addr_len(&to)) != 0 && errno != EINPROGRESS) {
    close(fd);
    return IO_ERROR;
  }
  int w = io_wait(fd, POLLOUT, s->ctrl, cfg.data_timeout);
  int err = 0;
  socklen_t len = sizeof err;
  if (w == IO_READY && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0))
    w = IO_ERROR;
  if (w != IO_READY) {
    close(fd);
    return w;
  }
  return fd;
}

/* Accepts the client's connection on the PASV listener. Returns the
 * socket or an io_status. */
static int
accept_pasv(struct session *s)
{
  int64_t deadline = goro_now() + cfg.data_timeout;
  for (;;) {
    int64_t left = deadline - goro_now();
    if (left <= 0)
      return IO_TIMEOUT;
    int w = io_wait(s->pasv, POLLIN, s->ctrl, left);
    if (w != IO_READY)
      return w;
    struct sockaddr_storage from;
    socklen_t len = sizeof from;
    int fd = accept4(s->pasv, (struct sockaddr *)&from, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
        continue;
      return IO_ERROR;
    }
    if (!same_host(&from, &s->peer)) {
      close(fd); /* not our client: a stranger racing for the port */
      continue;
    }
    return fd;
  }
}

/* Opens the data connection set up by PASV/EPSV/PORT/EPRT (one transfer
 * each). Returns the socket, or -1 after the reply (425, or 421 at
 * shutdown; nothing when the client closed the control connection). */
static int
data_open(struct session *s)
{
  int fd;
  if (s->pasv >= 0)
    fd = accept_pasv(s);
  else if (s->active)
    fd = connect_active(s);
  else {
    reply(s, 425, "Use PORT, EPRT, PASV or EPSV first.");
    return -1;
  }
  data_reset(s);
  if (fd >= 0)
    return fd;
  if (fd == IO_STOP) {
    reply(s, 421, "Server shutting down.");
    s->dead = true;
  } else if (fd == IO_GONE) {
    s->dead = true;
  } else {
    reply(s, 425, "Cannot open data connection%s.", fd == IO_TIMEOUT ? ": timed out" : "");
  }
  return -1;
}

/* The reply after a transfer that ended with status w (an io_status). */
static void
transfer_end(struct session *s, int w, const char *what)
{
  char d[32];
  switch (w) {
  case IO_READY:
    reply(s, 226, "%s", what);
    break;
  case IO_TIMEOUT:
    reply(s, 426, "Data connection stalled for %s; transfer aborted.",
          tool_format_duration(cfg.idle, d, sizeof d));
    break;
  case IO_STOP:
    reply(s, 426, "Server shutting down; transfer aborted.");
    reply(s, 421, "Server shutting down.");
    s->dead = true;
    break;
  case IO_GONE:
    s->dead = true; /* no one to tell */
    break;
  default:
    reply(s, 426, "Data connection closed; transfer aborted.");
  }
}

/* ---- RETR -------------------------------------------------------------- */

/* Sends the file fd on data; LF becomes CRLF in ASCII mode. Returns an
 * io_status, or IO_ERROR - 1 for a local read error. */
enum { READ_ERROR = IO_ERROR - 1 };

static int
send_file(struct session *s, int fd, int data, char *buf, char *conv)
{
  for (;;) {
    ssize_t n = read(fd, buf, BUFSIZE);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return READ_ERROR;
    if (n == 0)
      return IO_READY;
    const char *out = buf;
    size_t len = (size_t)n;
    if (!s->binary) {
      size_t k = 0;
      for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
          conv[k++] = '\r';
        conv[k++] = buf[i];
      }
      out = conv;
      len = k;
    }
    int w = io_send_all(data, out, len, s->ctrl, cfg.idle);
    if (w != IO_READY)
      return w;
  }
}

void
cmd_retr(struct session *s, const char *arg)
{
  struct fs_loc loc;
  int rc = fs_resolve(s->cwd, arg, FS_FOLLOW, &loc);
  if (rc < 0) {
    reply_errno(s, 550, arg, -rc);
    return;
  }
  int fd = openat(loc.dirfd, loc.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  int err = errno;
  fs_loc_free(&loc);
  if (fd < 0) {
    reply_errno(s, 550, arg, err);
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    reply(s, 550, "%s: not a regular file.", arg);
    close(fd);
    return;
  }
  char *buf = malloc(BUFSIZE), *conv = malloc(2 * BUFSIZE);
  if (buf == NULL || conv == NULL) {
    reply(s, 451, "Out of memory.");
    goto out;
  }
  int data = data_open(s);
  if (data < 0)
    goto out;
  reply(s, 150, "Opening %s mode data connection for %s (%lld bytes).",
        s->binary ? "BINARY" : "ASCII", arg, (long long)st.st_size);
  int w = send_file(s, fd, data, buf, conv);
  close(data);
  if (w == READ_ERROR)
    reply(s, 451, "%s: read error; transfer aborted.", arg);
  else
    transfer_end(s, w, "Transfer complete.");
out:
  free(buf);
  free(conv);
  close(fd);
}

/* ---- STOR and APPE ----------------------------------------------------- */

enum { WRITE_ERROR = IO_ERROR - 2 };

/* Receives data into fd until EOF; CRLF becomes LF in ASCII mode. Returns
 * an io_status, or WRITE_ERROR with *err set. */
static int
receive_file(struct session *s, int data, int fd, char *buf, int *err)
{
  bool cr = false; /* ASCII: a CR ended the previous chunk */
  for (;;) {
    ssize_t n = recv(data, buf, BUFSIZE, 0);
    if (n == 0)
      break;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return IO_ERROR; /* reset: cut short */
      int w = io_wait(data, POLLIN, s->ctrl, cfg.idle);
      if (w != IO_READY)
        return w;
      continue;
    }
    size_t len = (size_t)n;
    if (!s->binary) {
      size_t k = 0;
      for (size_t i = 0; i < len; i++) {
        if (cr && buf[i] != '\n')
          buf[k++] = '\r';
        cr = buf[i] == '\r';
        if (!cr)
          buf[k++] = buf[i];
      }
      len = k;
    }
    if (tool_write_all(fd, buf, len) != 0) {
      *err = errno;
      return WRITE_ERROR;
    }
  }
  if (cr && tool_write_all(fd, "\r", 1) != 0) {
    *err = errno;
    return WRITE_ERROR;
  }
  /* An EOF is a finished upload only if the control connection outlives
   * it: a client that dies (killed, interrupted) closes all its sockets
   * at once, and Linux may send the data connection's FIN first. */
  return io_ctrl_grace(s->ctrl, EOF_GRACE);
}

/* Undoes an unfinished STOR or APPE before its reply goes out, so that a
 * client that sees the 4xx also sees the old file (or none): STOR's
 * temporary file is removed (tmp is then emptied); APPE truncates back to
 * start, or removes the file it created. */
static void
rollback(const struct fs_loc *loc, int fd, char *tmp, bool append, bool existed, off_t start,
         const char *arg)
{
  if (append && fd >= 0) {
    if (!existed)
      unlinkat(loc->dirfd, loc->name, 0);
    else if (ftruncate(fd, start) != 0)
      tool_warn("APPE %s: rollback failed: %s", arg, strerror(errno));
  }
  if (tmp[0] != '\0') {
    unlinkat(loc->dirfd, tmp, 0);
    tmp[0] = '\0';
  }
}

static atomic_uint_fast64_t tmp_counter;

static void
store(struct session *s, const char *arg, bool append)
{
  struct fs_loc loc;
  int rc = fs_resolve(s->cwd, arg, FS_FOLLOW, &loc);
  if (rc < 0) {
    reply_errno(s, 550, arg, -rc);
    return;
  }
  char tmp[64] = "";
  int fd = -1;
  char *buf = NULL;
  bool existed = false;
  struct stat old;
  off_t start = 0; /* APPE: the size to roll back to */
  if (strcmp(loc.name, ".") == 0) {
    reply(s, 550, "%s: is a directory.", arg);
    goto out;
  }
  if (fstatat(loc.dirfd, loc.name, &old, AT_SYMLINK_NOFOLLOW) == 0) {
    existed = true;
    if (!S_ISREG(old.st_mode)) {
      reply(s, 550, "%s: not a regular file.", arg);
      goto out;
    }
  } else if (errno != ENOENT) {
    reply_errno(s, 550, arg, errno);
    goto out;
  }
  if (append) {
    fd = openat(loc.dirfd, loc.name,
                O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
      reply_errno(s, 550, arg, errno);
      goto out;
    }
    if (!S_ISREG(st.st_mode)) {
      reply(s, 550, "%s: not a regular file.", arg);
      goto out;
    }
    start = st.st_size;
  } else {
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
      snprintf(tmp, sizeof tmp, FTPD_TMP_PREFIX "%ld-%llu-%llu", (long)getpid(),
               (unsigned long long)s->id, (unsigned long long)atomic_fetch_add(&tmp_counter, 1));
      fd = openat(loc.dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
      if (fd < 0 && errno != EEXIST)
        break;
    }
    if (fd < 0) {
      reply_errno(s, 550, arg, errno);
      tmp[0] = '\0';
      goto out;
    }
  }
  buf = malloc(BUFSIZE);
  if (buf == NULL) {
    reply(s, 451, "Out of memory.");
    goto fail;
  }
  int data = data_open(s);
  if (data < 0)
    goto fail;
  reply(s, 150, "Ok to send data.");
  int err = 0;
  int w = receive_file(s, data, fd, buf, &err);
  close(data);
  if (w == IO_READY && !append) {
    /* Durable, then in place: readers see the old file or the new one. */
    if (existed && fchown(fd, old.st_uid, old.st_gid) != 0 && errno != EPERM)
      tool_warn("STOR %s: keeping the owner: %s", arg, strerror(errno));
    if (fsync(fd) != 0 || (existed && fchmod(fd, old.st_mode & 0777) != 0)) {
      w = WRITE_ERROR;
      err = errno;
    } else if (renameat(loc.dirfd, tmp, loc.dirfd, loc.name) != 0) {
      w = WRITE_ERROR;
      err = errno;
    } else {
      tmp[0] = '\0';
    }
  }
  if (w != IO_READY)
    rollback(&loc, fd, tmp, append, existed, start, arg);
  if (w == WRITE_ERROR)
    reply(s, err == ENOSPC || err == EDQUOT ? 552 : 451, "%s: %s; transfer aborted.", arg,
          strerror(err));
  else
    transfer_end(s, w, "Transfer complete.");
  goto out;

fail:
  rollback(&loc, fd, tmp, append, existed, start, arg);
out:
  if (fd >= 0)
    close(fd);
  if (tmp[0] != '\0')
    unlinkat(loc.dirfd, tmp, 0);
  free(buf);
  fs_loc_free(&loc);
}

void
cmd_stor(struct session *s, const char *arg)
{
  store(s, arg, false);
}

void
cmd_appe(struct session *s, const char *arg)
{
  store(s, arg, true);
}

/* ---- LIST and NLST ----------------------------------------------------- */

static int
compare_names(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory fd (owned: closed here), sorted, without ".",
 * ".." and temporary files. NULL with errno on failure. */
static char **
read_names(int fd, size_t *count)
{
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    int e = errno;
    close(fd);
    errno = e;
    return NULL;
  }
  size_t n = 0, cap = 64;
  char **names = malloc(cap * sizeof *names);
  struct dirent *e;
  while (names != NULL && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || fs_reserved(e->d_name))
      continue;
    if (n == cap) {
      char **more = realloc(names, 2 * cap * sizeof *names);
      if (more == NULL)
        break;
      names = more;
      cap *= 2;
    }
    if ((names[n] = strdup(e->d_name)) == NULL)
      break;
    n++;
  }
  closedir(d);
  if (names != NULL)
    qsort(names, n, sizeof *names, compare_names);
  else
    errno = ENOMEM;
  *count = n;
  return names;
}

static void
list(struct session *s, const char *arg, bool full)
{
  /* Options such as "-la" are accepted and ignored, as ls's. */
  while (*arg == '-') {
    while (*arg != '\0' && *arg != ' ')
      arg++;
    while (*arg == ' ')
      arg++;
  }
  const char *what = *arg != '\0' ? arg : ".";
  struct fs_loc loc;
  int rc = fs_resolve(s->cwd, what, FS_FOLLOW, &loc);
  if (rc < 0) {
    reply_errno(s, 550, what, -rc);
    return;
  }
  char **names = NULL;
  size_t count = 0;
  int dirfd = -1; /* the directory listed, or -1 for one entry of loc.dirfd */
  char *buf = NULL;
  struct stat st;
  if (fstatat(loc.dirfd, loc.name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    reply_errno(s, 550, what, errno);
    goto out;
  }
  if (S_ISDIR(st.st_mode)) {
    dirfd = openat(loc.dirfd, loc.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int lfd = dirfd < 0 ? -1 : dup(dirfd);
    if (lfd < 0 || (names = read_names(lfd, &count)) == NULL) {
      reply_errno(s, 550, what, errno);
      goto out;
    }
  } else {
    names = malloc(sizeof *names);
    if (names == NULL || (names[0] = strdup(loc.name)) == NULL) {
      reply(s, 451, "Out of memory.");
      goto out;
    }
    count = 1;
  }
  buf = malloc(BUFSIZE);
  if (buf == NULL) {
    reply(s, 451, "Out of memory.");
    goto out;
  }
  int data = data_open(s);
  if (data < 0)
    goto out;
  reply(s, 150, "Here comes the directory listing.");
  int from = dirfd >= 0 ? dirfd : loc.dirfd;
  time_t now = time(NULL);
  size_t used = 0;
  int w = IO_READY;
  for (size_t i = 0; i < count && w == IO_READY; i++) {
    char line[NAME_MAX * 4 + PATH_MAX + 128];
    size_t k;
    if (full) {
      struct stat est;
      if (fstatat(from, names[i], &est, AT_SYMLINK_NOFOLLOW) != 0)
        continue; /* gone meanwhile */
      char target[PATH_MAX];
      const char *t = NULL;
      if (S_ISLNK(est.st_mode)) {
        ssize_t n = readlinkat(from, names[i], target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        t = target;
      }
      k = list_line(line, sizeof line, names[i], &est, t, now);
    } else {
      list_clean_name(line, sizeof line - 2, names[i]);
      k = strlen(line);
      memcpy(line + k, "\r\n", 3);
      k += 2;
    }
    if (used + k > BUFSIZE) {
      w = io_send_all(data, buf, used, s->ctrl, cfg.idle);
      used = 0;
    }
    memcpy(buf + used, line, k);
    used += k;
  }
  if (w == IO_READY && used > 0)
    w = io_send_all(data, buf, used, s->ctrl, cfg.idle);
  close(data);
  transfer_end(s, w, "Directory send OK.");
out:
  for (size_t i = 0; i < count; i++)
    free(names[i]);
  free(names);
  free(buf);
  if (dirfd >= 0)
    close(dirfd);
  fs_loc_free(&loc);
}

void
cmd_list(struct session *s, const char *arg)
{
  list(s, arg, true);
}

void
cmd_nlst(struct session *s, const char *arg)
{
  list(s, arg, false);
}
