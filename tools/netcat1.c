/* netcat1 - gopl.io/ch8/netcat1 (section 8.2): a read-only TCP client.
 *
 * Dials HOST:PORT and copies the connection to stdout until the server
 * closes it (the book's mustCopy(os.Stdout, conn)). SIGINT/SIGTERM end
 * the copy through the wake pipe (netcommon.h) and exit 0.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int i = tool_parse(argc, argv, "HOST:PORT",
                     "Copies what the server at HOST:PORT sends to stdout until it closes\n"
                     "the connection (gopl.io/ch8/netcat1).",
                     NULL, 0);
  if (argc - i != 1)
    tool_usage_error(argc - i == 0 ? "missing HOST:PORT" : "too many arguments");
  net_wake_init();

  net_watch_client(); /* a signal also ends the dial */
  char err[512];
  int conn = net_dial(argv[i], err, sizeof err);
  if (conn < 0) {
    if (tool_shutdown_signal() != 0)
      return 0;
    tool_fatal("%s", err);
  }
  int rc = net_copy(STDOUT_FILENO, conn); /* mustCopy(os.Stdout, conn) */
  int e = errno;
  net_watch_client_stop();
  close(conn);
  if (rc == NET_EREAD)
    tool_fatal("read %s: %s", argv[i], strerror(e));
  if (rc == NET_EWRITE)
    tool_fatal("write stdout: %s", strerror(e));
  return 0;
}
