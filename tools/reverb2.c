/* reverb2 - gopl.io/ch8/reverb2 (section 8.3) with exercises 8.4 and 8.8.
 *
 * reverb1 with the book's second `go`: each shout is echoed by its own
 * goroutine, so the echoes of several shouts on one connection overlap.
 *
 * Exercise 8.4: a WaitGroup per connection counts its echo goroutines;
 * once the client's input has ended and the count falls to zero, the
 * write half is closed (CloseWrite), so a client such as netcat3 gets
 * every last echo and then end of input.
 *
 * Exercise 8.8: a scanner goroutine sends the client's lines on a channel
 * and handleConn selects on it with a timeout of -idle (the book's
 * time.After): a client that shouts nothing for that long is disconnected.
 *
 * Per connection: handleConn (the select loop), the scanner, one echo per
 * shout in progress. The fd is closed by handleConn only after all of them
 * have returned. Echo lines are written whole under the connection's write
 * lock, so lines of overlapping echoes never interleave.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int64_t delay = GORO_SECOND;
static int64_t idle = 10 * GORO_SECOND;
static struct net_conns *conns;

/* One connection. fd, lines, quit and echoes are set before any goroutine
 * of the connection starts and freed by handleConn after they all ended. */
struct conn {
  int fd;
  pthread_mutex_t wmu; /* serializes writes to fd */
  goro_chan *lines;    /* char *: the scanner's lines (each malloc'ed); closed at end of input */
  goro_chan *quit;     /* closed by handleConn: the scanner and echoes stop */
  goro_wg *echoes;     /* echo goroutines running (exercise 8.4) */
  goro_wg *scanner;    /* the scanner goroutine */
};

struct shout {
  struct conn *c;
  char *text; /* NUL-terminated, malloc'ed; freed by echo */
};

/* fmt.Fprintln(c, "\t"+s) with s mapped by f; false once writing fails. */
static bool
say(struct conn *c, const char *shout, int (*f)(int))
{
  size_t n = strlen(shout);
  char *line = malloc(n + 2);
  if (line == NULL)
    return false;
  line[0] = '\t';
  for (size_t i = 0; i < n; i++)
    line[i + 1] = f != NULL ? (char)f((unsigned char)shout[i]) : shout[i];
  line[n + 1] = '\n';
  pthread_mutex_lock(&c->wmu);
  bool ok = tool_write_all(c->fd, line, n + 2) == 0;
  pthread_mutex_unlock(&c->wmu);
  free(line);
  return ok;
}

/* time.Sleep(delay), cut short when the server or the connection ends;
 * false then. */
static bool
wait_delay(struct conn *c)
{
  goro_case cases[2] = {GORO_RECV_CASE(tool_shutdown_chan(), NULL), GORO_RECV_CASE(c->quit, NULL)};
  return goro_select(cases, 2, delay) < 0;
}

static void
echo(void *arg)
{
  struct shout *s = arg;
  struct conn *c = s->c;
  if (say(c, s->text, toupper) && wait_delay(c) && say(c, s->text, NULL) && wait_delay(c))
    say(c, s->text, tolower);
  free(s->text);
  free(s);
  goro_wg_done(c->echoes);
}

/* go func() { for input.Scan() { lines <- input.Text() }; close(lines) }(),
 * where the send also gives up once quit is closed. */
static void
scan(void *arg)
{
  struct conn *c = arg;
  struct net_lines *input = net_lines_make(c->fd);
  if (input != NULL) {
    char *line;
    for (ssize_t n; (n = net_lines_next(input, &line)) >= 0;) {
      char *text = strdup(line);
      if (text == NULL)
        break;
      goro_case cases[2] = {GORO_SEND_CASE(c->lines, &text), GORO_RECV_CASE(c->quit, NULL)};
      if (goro_select(cases, 2, GORO_FOREVER) != 0) {
        free(text);
        break;
      }
    }
    net_lines_free(input);
  }
  goro_chan_close(c->lines);
}

/* Frees c (not its fd); none of its goroutines may be running. */
static void
conn_free(struct conn *c)
{
  goro_chan_release(c->lines);
  goro_chan_release(c->quit);
  goro_wg_free(c->echoes);
  goro_wg_free(c->scanner);
  pthread_mutex_destroy(&c->wmu);
  free(c);
}

static void
handle_conn(void *arg)
{
  struct conn *c = arg;
  int rc = goro_wg_go(c->scanner, scan, c);
  if (rc != 0)
    tool_warn("goro_go: %s", goro_strerror(rc));
  for (bool input_open = rc == 0; input_open;) {
    char *text;
    goro_case cases[2] = {GORO_RECV_CASE(c->lines, &text),
                          GORO_RECV_CASE(tool_shutdown_chan(), NULL)};
    switch (goro_select(cases, 2, idle)) { /* case <-time.After(idle) */
    case 0:
      if (!cases[0].ok) { /* the client's input ended */
        goro_wg_wait(c->echoes);
        shutdown(c->fd, SHUT_WR); /* exercise 8.4: CloseWrite */
        input_open = false;
        break;
      }
      struct shout *s = malloc(sizeof *s);
      if (s != NULL) {
        s->c = c;
        s->text = text;
        goro_wg_add(c->echoes, 1);
        rc = goro_go(echo, s); /* go echo(c, input.Text(), delay) */
        if (rc == 0)
          break;
        goro_wg_done(c->echoes);
        free(s);
      }
      free(text);
      break;
    default: /* idle for too long, or shutting down */
      shutdown(c->fd, SHUT_RDWR);
      input_open = false;
      break;
    }
  }
  goro_chan_close(c->quit);
  shutdown(c->fd, SHUT_RD); /* the scanner stops reading */
  goro_wg_wait(c->scanner);
  for (char *text; goro_chan_tryrecv(c->lines, &text) > 0;)
    free(text);
  goro_wg_wait(c->echoes);
  net_conns_del(conns, c->fd);
  close(c->fd);
  conn_free(c);
}

static struct conn *
conn_make(int fd)
{
  struct conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return NULL;
  c->fd = fd;
  pthread_mutex_init(&c->wmu, NULL);
  c->lines = goro_chan_make(sizeof(char *), 0);
  c->quit = goro_chan_make(0, 0);
  c->echoes = goro_wg_make();
  c->scanner = goro_wg_make();
  if (c->lines == NULL || c->quit == NULL || c->echoes == NULL || c->scanner == NULL) {
    conn_free(c);
    return NULL;
  }
  return c;
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int port = 8000;
  const char *addr = "127.0.0.1";
  struct tool_flag flags[] = {
      {"port", TOOL_INT, &port, "N", "TCP port to listen on; 0 picks a free one"},
      {"addr", TOOL_STRING, &addr, "HOST", "address to listen on"},
      {"delay", TOOL_DURATION, &delay, "D", "time between the three echoes of a shout"},
      {"idle", TOOL_DURATION, &idle, "D", "disconnect a client that shouts nothing for D"},
  };
  int i = tool_parse(argc, argv, "[-port N] [-addr HOST] [-delay D] [-idle D]",
                     "Echoes each line a client sends three times, loud, as sent and quiet,\n"
                     "each shout in its own goroutine so that echoes overlap; closes the write\n"
                     "half after the last echo once the client's input ended; disconnects an\n"
                     "idle client (gopl.io/ch8/reverb2, exercises 8.4 and 8.8).",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (port < 0 || port > 65535)
    tool_usage_error("-port %d: not a TCP port", port);
  if (delay < 0)
    tool_usage_error("-delay must not be negative");
  if (idle <= 0)
    tool_usage_error("-idle must be positive");

  int listener = tool_listen(addr, port);
  conns = net_conns_make();
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    tool_fatal("out of memory");
  net_watch_server(listener, conns);
  for (int fd; (fd = net_accept(listener, conns)) >= 0;) {
    struct conn *c = conn_make(fd);
    int rc = c != NULL ? goro_wg_go(wg, handle_conn, c) : GORO_ENOMEM; /* go handleConn(conn) */
    if (rc != 0) {
      tool_warn("connection: %s", goro_strerror(rc));
      net_conns_del(conns, fd);
      close(fd);
      if (c != NULL)
        conn_free(c);
    }
  }
  close(listener);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  return 0;
}
