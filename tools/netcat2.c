/* netcat2 - gopl.io/ch8/netcat2 (section 8.3): a read-write TCP client.
 *
 * netcat1 plus the book's `go mustCopy(conn, os.Stdin)`: a goroutine
 * copies stdin to the connection while main copies the connection to
 * stdout. The program ends (exit 0) when stdin ends or the server closes,
 * whichever comes first: the side that ends wakes the other (netcommon.h's
 * wake pipe), so both goroutines return before main does. Echoes the
 * server has not sent yet when stdin ends are lost; netcat3 fixes that.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static const char *where;

/* go mustCopy(conn, os.Stdin); then end the program. */
static void
stdin_to_conn(void *arg)
{
  int conn = (int)(intptr_t)arg;
  int rc = net_copy(conn, STDIN_FILENO);
  if (rc == NET_EREAD)
    tool_warn("read stdin: %s", strerror(errno));
  else if (rc == NET_EWRITE)
    tool_warn("write %s: %s", where, strerror(errno));
  net_wake();
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int i = tool_parse(argc, argv, "HOST:PORT",
                     "Copies stdin to the server at HOST:PORT and what it sends to stdout;\n"
                     "exits when stdin ends or the server closes (gopl.io/ch8/netcat2).",
                     NULL, 0);
  if (argc - i != 1)
    tool_usage_error(argc - i == 0 ? "missing HOST:PORT" : "too many arguments");
  where = argv[i];
  net_wake_init();

  net_watch_client(); /* a signal also ends the dial */
  char err[512];
  int conn = net_dial(where, err, sizeof err);
  if (conn < 0) {
    if (tool_shutdown_signal() != 0)
      return 0;
    tool_fatal("%s", err);
  }
  goro_wg *wg = goro_wg_make();
  if (wg == NULL)
    tool_fatal("out of memory");
  int rc = goro_wg_go(wg, stdin_to_conn, (void *)(intptr_t)conn);
  if (rc != 0)
    tool_fatal("goro_go: %s", goro_strerror(rc));
  rc = net_copy(STDOUT_FILENO, conn); /* mustCopy(os.Stdout, conn) */
  int e = errno;
  net_wake();
  goro_wg_wait(wg);
  goro_wg_free(wg);
  net_watch_client_stop();
  close(conn);
  if (rc == NET_EREAD)
    tool_fatal("read %s: %s", where, strerror(e));
  if (rc == NET_EWRITE)
    tool_fatal("write stdout: %s", strerror(e));
  return 0;
}
