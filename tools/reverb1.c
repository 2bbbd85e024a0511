/* reverb1 - gopl.io/ch8/reverb1 (section 8.3): an echo server.
 *
 * Each connection runs handleConn in its own goroutine; handleConn reads
 * the client's lines (a bufio.Scanner) and answers each with echo, which
 * writes a tab and the shout in upper case, waits -delay, the shout as
 * sent, waits, and the shout in lower case, each on its own line. The
 * echoes of one connection come one shout at a time: a second shout is not
 * heard before the first has faded. When the client's input ends the
 * connection is closed.
 *
 * Shutdown: the watcher (netcommon.h) shuts every connection down; echo's
 * waits also end at once on the shutdown channel.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int64_t delay = GORO_SECOND;
static struct net_conns *conns;

/* fmt.Fprintln(c, "\t"+s) with s mapped by f; false once writing fails. */
static bool
say(int c, const char *shout, size_t n, int (*f)(int))
{
  char *line = malloc(n + 2);
  if (line == NULL)
    return false;
  line[0] = '\t';
  for (size_t i = 0; i < n; i++)
    line[i + 1] = f != NULL ? (char)f((unsigned char)shout[i]) : shout[i];
  line[n + 1] = '\n';
  bool ok = tool_write_all(c, line, n + 2) == 0;
  free(line);
  return ok;
}

/* time.Sleep(delay), cut short by shutdown; false when shutting down. */
static bool
wait_delay(void)
{
  goro_case cases[1] = {GORO_RECV_CASE(tool_shutdown_chan(), NULL)};
  return goro_select(cases, 1, delay) < 0;
}

static void
echo(int c, const char *shout, size_t n)
{
  if (say(c, shout, n, toupper) && wait_delay() && say(c, shout, n, NULL) && wait_delay())
    say(c, shout, n, tolower);
}

static void
handle_conn(void *arg)
{
  int c = (int)(intptr_t)arg;
  struct net_lines *input = net_lines_make(c);
  if (input != NULL) {
    char *line;
    for (ssize_t n; (n = net_lines_next(input, &line)) >= 0;)
      echo(c, line, (size_t)n);
    net_lines_free(input);
  }
  net_conns_del(conns, c);
  close(c); /* ignore errors */
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
  };
  int i = tool_parse(argc, argv, "[-port N] [-addr HOST] [-delay D]",
                     "Echoes each line a client sends three times, loud, as sent and quiet,\n"
                     "one shout at a time per connection (gopl.io/ch8/reverb1).",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (port < 0 || port > 65535)
    tool_usage_error("-port %d: not a TCP port", port);
  if (delay < 0)
    tool_usage_error("-delay must not be negative");

  int listener = tool_listen(addr, port);
  conns = net_conns_make();
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    tool_fatal("out of memory");
  net_watch_server(listener, conns);
  for (int conn; (conn = net_accept(listener, conns)) >= 0;) {
    int rc = goro_wg_go(wg, handle_conn, (void *)(intptr_t)conn); /* go handleConn(conn) */
    if (rc != 0) {
      tool_warn("goro_go: %s", goro_strerror(rc));
      net_conns_del(conns, conn);
      close(conn);
    }
  }
  close(listener);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  return 0;
}
