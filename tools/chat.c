/* chat - gopl.io/ch8/chat (section 8.10) with exercises 8.12 to 8.15.
 *
 * The book's shape: one broadcaster goroutine owns the set of clients and
 * selects over three channels, entering, leaving and messages; each
 * connection runs handleConn, plus a reader goroutine (the Scanner) and a
 * writer goroutine (clientWriter) that copies the client's outgoing
 * channel to the connection.
 *
 * Exercises:
 *   8.12  a newcomer is sent "Present: A, B", the others connected;
 *   8.13  handleConn selects on the reader's lines with a timeout of -idle
 *         (the book's time.After): an idle client is disconnected;
 *   8.14  a client's first line is its name; an empty name, or one already
 *         present, is replaced by the client's remote address;
 *   8.15  each client's outgoing channel holds -queue messages and the
 *         broadcaster never blocks on it (goro_chan_trysend): a message
 *         for a client whose queue is full is dropped for that client
 *         alone, so a client that never reads delays nobody.
 *
 * Ownership: a client's name and its place in the set belong to the
 * broadcaster. Its out channel is closed by the broadcaster when the client
 * leaves (or by handleConn if it never entered); the writer ranges over it
 * to the end. Its fd is closed, and the client freed, by handleConn once
 * the reader and the writer have returned. An outgoing line is shared by
 * every client it is queued for, counted by refs.
 *
 * Shutdown: the watcher (netcommon.h) shuts the listener and every
 * connection down, so each reader sees end of input and each handleConn
 * leaves as usual; main waits for them all, then stops the broadcaster.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One outgoing line, "...\n", shared by the queues it is in. */
struct line {
  atomic_size_t refs; /* one per queue holding it, plus its maker's while it delivers */
  size_t len;
  char text[];
};

struct client {
  int fd;
  char addr[64];       /* the remote address, "HOST:PORT" */
  char *name;          /* set by the broadcaster on entering; broadcaster only */
  goro_chan *out;      /* struct line *, capacity -queue: the outgoing messages */
  goro_chan *lines;    /* char *: the reader's lines (malloc'ed); closed at end of input */
  goro_chan *quit;     /* closed by handleConn: the reader gives up sending */
  goro_chan *written;  /* closed by the writer when it returns */
  goro_wg *reader;     /* the reader goroutine */
  struct client *next; /* the broadcaster's set, in arrival order; broadcaster only */
};

struct message {
  struct client *from;
  char *text; /* malloc'ed; freed by the broadcaster */
};

static int64_t idle = 5 * 60 * GORO_SECOND;
static int queue = 64;
static struct net_conns *conns;

static goro_chan *entering; /* struct client * */
static goro_chan *leaving;  /* struct client * */
static goro_chan *messages; /* struct message */
static goro_chan *stop;     /* closed by main once every connection ended */

/* ---- Lines ----------------------------------------------------------------- */

static struct line *
line_make(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  struct line *l = malloc(sizeof *l + (size_t)n + 2);
  if (l == NULL)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(l->text, (size_t)n + 1, fmt, ap);
  va_end(ap);
  l->text[n] = '\n';
  l->len = (size_t)n + 1;
  atomic_init(&l->refs, 1);
  return l;
}

static void
line_unref(struct line *l)
{
  if (atomic_fetch_sub(&l->refs, 1) == 1)
    free(l);
}

/* ---- The broadcaster --------------------------------------------------------- */

static struct client *clients; /* the set, in arrival order; broadcaster only */

/* cli <- l, or drop it for cli alone when its queue is full (8.15). */
static void
deliver(struct client *cli, struct line *l)
{
  atomic_fetch_add(&l->refs, 1);
  if (goro_chan_trysend(cli->out, &l) != 0)
    line_unref(l);
}

/* Sends l to every client but except, and drops the maker's reference. */
static void
broadcast(struct line *l, struct client *except)
{
  if (l == NULL)
    return;
  for (struct client *cli = clients; cli != NULL; cli = cli->next)
    if (cli != except)
      deliver(cli, l);
  line_unref(l);
}

static void
enter(struct client *cli)
{
  bool taken = cli->name[0] == '\0';
  for (struct client *c = clients; c != NULL && !taken; c = c->next)
    taken = strcmp(c->name, cli->name) == 0;
  if (taken) { /* exercise 8.14 */
    char *addr = strdup(cli->addr);
    if (addr != NULL) {
      free(cli->name);
      cli->name = addr;
    }
  }
  struct line *l = line_make("You are %s", cli->name);
  if (l != NULL) {
    deliver(cli, l);
    line_unref(l);
  }
  /* Exercise 8.12: "Present: A, B", the others in arrival order. */
  size_t n = sizeof "Present:";
  for (struct client *c = clients; c != NULL; c = c->next)
    n += strlen(c->name) + 2;
  char *present = malloc(n);
  if (present != NULL) {
    strcpy(present, "Present:");
    const char *sep = " ";
    for (struct client *c = clients; c != NULL; c = c->next) {
      strcat(strcat(present, sep), c->name);
      sep = ", ";
    }
    l = line_make("%s", present);
    free(present);
    if (l != NULL) {
      deliver(cli, l);
      line_unref(l);
    }
  }
  broadcast(line_make("%s has arrived", cli->name), cli);
  struct client **end = &clients;
  while (*end != NULL)
    end = &(*end)->next;
  cli->next = NULL;
  *end = cli;
  goro_chan_retain(cli->out); /* released by leave */
}

/* The broadcaster's last touch of cli: after the close, handleConn may free
 * it (the broadcaster's own reference keeps out valid until the release). */
static void
leave(struct client *cli)
{
  struct line *l = line_make("%s has left", cli->name);
  for (struct client **p = &clients; *p != NULL; p = &(*p)->next) {
    if (*p == cli) {
      *p = cli->next;
      break;
    }
  }
  goro_chan *out = cli->out;
  goro_chan_close(out); /* close(cli): the writer drains it and returns */
  goro_chan_release(out);
  broadcast(l, NULL);
}

/* select { case msg := <-messages: ...; case cli := <-entering: ...;
 *          case cli := <-leaving: ... } until main stops it. */
static void
broadcaster(void *arg)
{
  (void)arg;
  for (;;) {
    struct message msg;
    struct client *in, *out;
    goro_case cases[4] = {GORO_RECV_CASE(messages, &msg), GORO_RECV_CASE(entering, &in),
                          GORO_RECV_CASE(leaving, &out), GORO_RECV_CASE(stop, NULL)};
    switch (goro_select(cases, 4, GORO_FOREVER)) {
    case 0: /* broadcast an incoming message to every client but its sender */
      broadcast(line_make("%s: %s", msg.from->name, msg.text), msg.from);
      free(msg.text);
      break;
    case 1:
      enter(in);
      break;
    case 2:
      leave(out);
      break;
    default:
      return;
    }
  }
}

/* ---- One connection ---------------------------------------------------------- */

/* for msg := range ch { fmt.Fprintln(conn, msg) }; once a write fails the
 * rest is dropped, still to the end of ch. */
static void
client_writer(void *arg)
{
  struct client *cli = arg;
  bool ok = true;
  for (struct line *l; goro_chan_recv(cli->out, &l) > 0;) {
    ok = ok && tool_write_all(cli->fd, l->text, l->len) == 0;
    line_unref(l);
  }
  goro_chan *written = cli->written; /* cli may be freed once it is closed */
  goro_chan_close(written);
  goro_chan_release(written); /* the writer's reference, taken by handleConn */
}

/* input.Scan() in its own goroutine, each line sent on cli->lines (a send
 * that gives up once quit is closed); lines is closed at end of input. */
static void
client_reader(void *arg)
{
  struct client *cli = arg;
  struct net_lines *input = net_lines_make(cli->fd);
  if (input != NULL) {
    char *line;
    for (ssize_t n; (n = net_lines_next(input, &line)) >= 0;) {
      char *text = strdup(line);
      if (text == NULL)
        break;
      goro_case cases[2] = {GORO_SEND_CASE(cli->lines, &text), GORO_RECV_CASE(cli->quit, NULL)};
      if (goro_select(cases, 2, GORO_FOREVER) != 0) {
        free(text);
        break;
      }
    }
    net_lines_free(input);
  }
  goro_chan_close(cli->lines);
}

/* The next line, or NULL at end of input, after -idle (exercise 8.13:
 * select with time.After) or at shutdown. */
static char *
next_line(struct client *cli)
{
  char *text;
  goro_case cases[2] = {GORO_RECV_CASE(cli->lines, &text),
                        GORO_RECV_CASE(tool_shutdown_chan(), NULL)};
  if (goro_select(cases, 2, idle) == 0 && cases[0].ok)
    return text;
  return NULL;
}

static void
client_free(struct client *cli)
{
  goro_chan_release(cli->out);
  goro_chan_release(cli->lines);
  goro_chan_release(cli->quit);
  goro_chan_release(cli->written);
  goro_wg_free(cli->reader);
  free(cli->name);
  free(cli);
}

static struct client *
client_make(int fd)
{
  struct client *cli = calloc(1, sizeof *cli);
  if (cli == NULL)
    return NULL;
  cli->fd = fd;
  tool_sockname(fd, false, cli->addr, sizeof cli->addr);
  cli->out = goro_chan_make(sizeof(struct line *), (size_t)queue);
  cli->lines = goro_chan_make(sizeof(char *), 0);
  cli->quit = goro_chan_make(0, 0);
  cli->written = goro_chan_make(0, 0);
  cli->reader = goro_wg_make();
  if (cli->out == NULL || cli->lines == NULL || cli->quit == NULL || cli->written == NULL ||
      cli->reader == NULL) {
    client_free(cli);
    return NULL;
  }
  return cli;
}

static void
handle_conn(void *arg)
{
  struct client *cli = arg;
  /* The writer holds its own reference to written: it may still be inside
   * goro_chan_close when handleConn, woken, frees the client. */
  goro_chan_retain(cli->written);
  int rc = goro_go(client_writer, cli); /* go clientWriter(conn, ch) */
  if (rc != 0) {
    tool_warn("goro_go: %s", goro_strerror(rc));
    goro_chan_release(cli->written);
    goro_chan_close(cli->written);
    goro_chan_close(cli->out);
  } else if ((rc = goro_wg_go(cli->reader, client_reader, cli)) != 0) {
    tool_warn("goro_go: %s", goro_strerror(rc));
    goro_chan_close(cli->out);
  } else if ((cli->name = next_line(cli)) == NULL) { /* exercise 8.14: the name */
    /* Gone or idle before giving a name: it never entered. */
    goro_chan_close(cli->out);
  } else {
    goro_chan_send(entering, &cli); /* entering <- ch */
    for (char *text; (text = next_line(cli)) != NULL;) {
      struct message msg = {cli, text};
      goro_chan_send(messages, &msg); /* messages <- who + ": " + input.Text() */
    }
    goro_chan_send(leaving, &cli); /* leaving <- ch; "who has left" */
  }

  /* Stop reading; give the writer a moment to flush what is queued for a
   * client that is still reading, then end the connection. */
  goro_chan_close(cli->quit);
  shutdown(cli->fd, SHUT_RD);
  goro_case flushed[1] = {GORO_RECV_CASE(cli->written, NULL)};
  goro_select(flushed, 1, GORO_SECOND);
  shutdown(cli->fd, SHUT_RDWR);
  goro_chan_recv(cli->written, NULL);
  goro_wg_wait(cli->reader);
  for (char *text; goro_chan_tryrecv(cli->lines, &text) > 0;)
    free(text);
  net_conns_del(conns, cli->fd);
  close(cli->fd);
  client_free(cli);
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
      {"idle", TOOL_DURATION, &idle, "D", "disconnect a client that sends nothing for D"},
      {"queue", TOOL_INT, &queue, "N", "messages queued per client; more are dropped for it"},
  };
  int i = tool_parse(argc, argv, "[-port N] [-addr HOST] [-idle D] [-queue N]",
                     "A chat server: each client's first line is its name, every later line\n"
                     "is sent to the other clients (gopl.io/ch8/chat, exercises 8.12-8.15).",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (port < 0 || port > 65535)
    tool_usage_error("-port %d: not a TCP port", port);
  if (idle <= 0)
    tool_usage_error("-idle must be positive");
  if (queue < 1)
    tool_usage_error("-queue must be at least 1");

  entering = goro_chan_make(sizeof(struct client *), 0);
  leaving = goro_chan_make(sizeof(struct client *), 0);
  messages = goro_chan_make(sizeof(struct message), 0);
  stop = goro_chan_make(0, 0);
  goro_wg *bwg = goro_wg_make(), *wg = goro_wg_make();
  if (entering == NULL || leaving == NULL || messages == NULL || stop == NULL || bwg == NULL ||
      wg == NULL)
    tool_fatal("out of memory");

  int listener = tool_listen(addr, port);
  conns = net_conns_make();
  int rc = goro_wg_go(bwg, broadcaster, NULL); /* go broadcaster() */
  if (rc != 0)
    tool_fatal("goro_go: %s", goro_strerror(rc));
  net_watch_server(listener, conns);
  for (int fd; (fd = net_accept(listener, conns)) >= 0;) {
    struct client *cli = client_make(fd);
    rc = cli != NULL ? goro_wg_go(wg, handle_conn, cli) : GORO_ENOMEM; /* go handleConn(conn) */
    if (rc != 0) {
      tool_warn("connection: %s", goro_strerror(rc));
      net_conns_del(conns, fd);
      close(fd);
      if (cli != NULL)
        client_free(cli);
    }
  }
  close(listener);
  goro_wg_wait(wg);
  goro_chan_close(stop);
  goro_wg_wait(bwg);
  goro_wg_free(wg);
  goro_wg_free(bwg);
  goro_chan_release(entering);
  goro_chan_release(leaving);
  goro_chan_release(messages);
  goro_chan_release(stop);
  return 0;
}
