/* clock1 - gopl.io/ch8/clock1 (section 8.2): a sequential clock server.
 *
 * main accepts one connection and runs handleConn on it to the end before
 * accepting the next, so a second client waits in the listen backlog
 * until the first one leaves. handleConn writes the local time
 * "HH:MM:SS\n" every -interval until a write fails.
 *
 * Shutdown: the watcher (netcommon.h) shuts the listener and the current
 * connection down; handleConn's wait between writes also ends at once on
 * the shutdown channel.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int64_t interval = GORO_SECOND;

/* for { io.WriteString(c, time.Now().Format("15:04:05\n")); time.Sleep(interval) } */
static void
handle_conn(int c)
{
  goro_case sleep[1] = {GORO_RECV_CASE(tool_shutdown_chan(), NULL)};
  for (;;) {
    char now[16];
    net_clock(now);
    now[8] = '\n';
    if (tool_write_all(c, now, 9) != 0)
      return; /* e.g., client disconnected */
    if (goro_select(sleep, 1, interval) >= 0)
      return; /* shutting down */
  }
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
                     "interval, serving one client at a time (gopl.io/ch8/clock1).",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (port < 0 || port > 65535)
    tool_usage_error("-port %d: not a TCP port", port);
  if (interval <= 0)
    tool_usage_error("-interval must be positive");
  tzset();

  int listener = tool_listen(addr, port);
  struct net_conns *conns = net_conns_make();
  net_watch_server(listener, conns);
  for (int conn; (conn = net_accept(listener, conns)) >= 0;) {
    handle_conn(conn); /* handle one connection at a time */
    net_conns_del(conns, conn);
    close(conn);
  }
  close(listener);
  return 0;
}
