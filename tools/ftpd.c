/* ftpd - exercise 8.2 of The Go Programming Language: "Implement a
 * concurrent File Transfer Protocol (FTP) server. The server should
 * interpret commands from each client such as cd to change directory, ls
 * to list a directory, get to send the contents of a file, and close to
 * close the connection."
 *
 *   ftpd [-port N] [-addr HOST] -root DIR [-user NAME:PASS] [-readonly] [-idle D]
 *
 * The shape is the book's concurrent servers (clock2, reverb2): main
 * listens and accepts, and each control connection gets its own goroutine
 * (session_run in session.c), `go handleConn(conn)`. RFC 959 with RFC 2428
 * (EPSV, EPRT) and RFC 3659's SIZE and MDTM; the safety rules (names
 * confined to DIR, STOR all or nothing, -readonly, bounce protection,
 * idle limit) are described in path.c, transfer.c and the README.
 *
 * Shutdown: SIGINT or SIGTERM closes tool_shutdown_chan(); the canceller
 * goroutine, blocked receiving from it, then closes the write end of the
 * stop pipe, which every poll of the server watches (io.c): the accept
 * loop ends, each session abandons its transfer (a STOR's temporary file
 * is removed), replies 421 and ends, and main waits for them all on a
 * WaitGroup (the book's sync.WaitGroup of section 8.5) before exit 0.
 */
#include "config.h"

#include "ftpd-src/ftpd.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct ftpd_config cfg = {.rootfd = -1, .stopfd = -1};

/* The write end of the stop pipe; closed once, by the canceller. */
static int stop_w = -1;

/* The bridge from the shutdown channel to the stop pipe:
 *   go func() { <-shutdown; close(stop) }() */
static void
canceller(void *arg)
{
  goro_chan *shutdown = arg;
  goro_chan_recv(shutdown, NULL);
  close(stop_w);
}

/* Opens and checks the root: a readable, searchable directory. Exits 1
 * with "ftpd: root DIR: why" otherwise. */
static void
open_root(const char *root)
{
  int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    tool_fatal("root %s: %s", root, strerror(errno));
  if (faccessat(AT_FDCWD, root, R_OK | X_OK, AT_EACCESS) != 0)
    tool_fatal("root %s: %s", root, strerror(errno));
  if (realpath(root, cfg.rootreal) == NULL)
    tool_fatal("root %s: %s", root, strerror(errno));
  struct stat a, b;
  if (fstat(fd, &a) != 0 || stat(cfg.rootreal, &b) != 0 || a.st_dev != b.st_dev ||
      a.st_ino != b.st_ino)
    tool_fatal("root %s: changed while starting", root);
  cfg.rootfd = fd;
  cfg.rootreallen = strlen(cfg.rootreal);
}

/* Starts the goroutine of one accepted connection. */
static void
serve(goro_wg *wg, int fd, const struct sockaddr_storage *peer, uint64_t id)
{
  struct session *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return;
  }
  s->ctrl = fd;
  s->peer = *peer;
  socklen_t len = sizeof s->local;
  getsockname(fd, (struct sockaddr *)&s->local, &len);
  s->id = id;
  s->pasv = -1;
  strcpy(s->cwd, "/");
  s->wg = wg;
  /* wg.Add(1) before the go statement, as in the book's makeThumbnails6;
   * session_run calls wg.Done as its last act. */
  goro_wg_add(wg, 1);
  char name[96], peername[64];
  snprintf(name, sizeof name, "ftpd session %s",
           tool_sockname(fd, false, peername, sizeof peername));
  int rc = goro_go_named(name, session_run, s);
  if (rc != 0) {
    goro_wg_done(wg);
    static const char busy[] = "421 Too many connections; try again later.\r\n";
    send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    tool_warn("go: %s", goro_strerror(rc));
    close(fd);
    free(s);
  }
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int port = 8000;
  const char *addr = "127.0.0.1";
  const char *root = NULL;
  const char *user = NULL;
  bool readonly = false;
  int64_t idle = 5 * 60 * GORO_SECOND;
  struct tool_flag flags[] = {
      {"port", TOOL_INT, &port, "N", "listen on port N (0: a free port)"},
      {"addr", TOOL_STRING, &addr, "HOST", "listen on address HOST"},
      {"root", TOOL_STRING, &root, "DIR", "serve the directory DIR as / (required)"},
      {"user", TOOL_STRING, &user, "NAME:PASS",
       "accept only this login (default: anonymous, user anonymous or ftp)"},
      {"readonly", TOOL_BOOL, &readonly, NULL, "refuse every command that writes (550)"},
      {"idle", TOOL_DURATION, &idle, "D", "disconnect a client idle for D (0: never)"},
  };
  int i = tool_parse(
      argc, argv, "[-port N] [-addr HOST] -root DIR [-user NAME:PASS] [-readonly] [-idle D]",
      "A concurrent FTP server (exercise 8.2): one goroutine per control connection,\n"
      "RFC 959 with EPSV/EPRT (RFC 2428) and SIZE/MDTM (RFC 3659). No name reaches\n"
      "outside DIR; STOR replaces a file only once the upload is complete.",
      flags, sizeof flags / sizeof flags[0]);
  if (i < argc)
    tool_usage_error("unexpected argument: %s", argv[i]);
  if (root == NULL || *root == '\0')
    tool_usage_error("-root DIR is required");
  if (port < 0 || port > 65535)
    tool_usage_error("invalid value \"%d\" for flag -port: not a port (0-65535)", port);
  if (idle < 0)
    tool_usage_error("invalid value for flag -idle: negative duration");
  static char username[256];
  if (user != NULL) {
    const char *colon = strchr(user, ':');
    if (colon == NULL || colon == user || (size_t)(colon - user) >= sizeof username)
      tool_usage_error("invalid value \"%s\" for flag -user: want NAME:PASS", user);
    memcpy(username, user, (size_t)(colon - user));
    cfg.user = username;
    cfg.pass = colon + 1;
  }
  cfg.readonly = readonly;
  cfg.idle = idle;
  cfg.data_timeout = idle > 0 && idle < 30 * GORO_SECOND ? idle : 30 * GORO_SECOND;

  /* As Go does since 1.19: a server's descriptors (up to three per
   * session) may use the whole hard limit. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  open_root(root);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0)
    tool_fatal("pipe: %s", strerror(errno));
  cfg.stopfd = p[0];
  stop_w = p[1];

  goro_chan *shutdown = tool_shutdown_chan();
  int ln = tool_listen(addr, port);
  fcntl(ln, F_SETFL, fcntl(ln, F_GETFL) | O_NONBLOCK);
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    tool_fatal("goro_wg_make: %s", strerror(errno));
  int rc = goro_go_named("ftpd canceller", canceller, shutdown);
  if (rc != 0)
    tool_fatal("go: %s", goro_strerror(rc));

  /* The accept loop, as the book's: for { conn := Accept(); go handle(conn) } */
  uint64_t id = 0;
  for (;;) {
    int w = io_wait(ln, POLLIN, -1, GORO_FOREVER);
    if (w == IO_STOP)
      break;
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = accept4(ln, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      serve(wg, fd, &peer, ++id);
      continue;
    }
    switch (errno) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
      break;
    default:
      /* Out of descriptors or memory: say so, let sessions end, go on. */
      tool_warn("accept: %s", strerror(errno));
      goro_sleep(100 * GORO_MILLISECOND);
    }
  }
  close(ln);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  close(cfg.stopfd);
  close(cfg.rootfd);
  return 0;
}
