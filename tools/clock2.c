/* clock2 - gopl.io/ch8/clock2 (section 8.2): a concurrent clock server.
 *
 * clock1 with one change, the book's `go handleConn(conn)`: each
 * connection is handled in its own goroutine, so any number of clients
 * get the time at once. handleConn writes the local time "HH:MM:SS\n"
 * every -interval until a write fails, then closes its connection.
 *
 * Shutdown: the watcher (netcommon.h) shuts the listener and every
 * connection down; each handleConn's wait between writes ends at once on
 * the shutdown channel; main waits for them all (a WaitGroup) and exits 0.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int64_t interval = GORO_SECOND;
static struct net_conns *conns;

/* defer c.Close(); for { io.WriteString(c, time.Now().Format("15:04:05\n"));
 * time.Sleep(interval) } */
static void
handle_conn(void *arg)
{
  int c = (int)(intptr_t)arg;
  goro_case sleep[1] = {GORO_RECV_CASE(tool_shutdown_chan(), NULL)};
  for (;;) {
    char now[16];
    net_clock(now);
    now[8] = '\n';
    if (tool_write_all(c, now, 9) != 0)
      break; /* e.g., client disconnected */
    if (goro_select(sleep, 1, interval) >= 0)
      break; /* shutting down */
  }
  net_conns_del(conns, c);
  close(c);
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
      {"interval", TOOL_DURATION, &interval, "D", "time between two lines"},
  };
  int i = tool_parse(argc, argv, "[-port N] [-addr HOST] [-interval D]",
                     "Writes the local time (TZ honoured) as HH:MM:SS to each client every\n"
                     "interval, each client in its own goroutine (gopl.io/ch8/clock2).",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (port < 0 || port > 65535)
    tool_usage_error("-port %d: not a TCP port", port);
  if (interval <= 0)
    tool_usage_error("-interval must be positive");
  tzset();

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
