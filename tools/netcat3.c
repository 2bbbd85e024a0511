/* netcat3 - gopl.io/ch8/netcat3 (section 8.4.1) with exercise 8.3.
 *
 * A background goroutine copies the connection to stdout and then sends
 * on the done channel; main copies stdin to the connection. When stdin
 * ends, main closes only the write half of the connection (exercise 8.3:
 * conn.CloseWrite()), so the server sees end of input but can still send
 * its last replies, and waits on done: the program exits 0 once the
 * server has closed and everything it sent is printed.
 *
 * If the server closes first, the background goroutine wakes main's stdin
 * copy (netcommon.h's wake pipe). SIGINT/SIGTERM wake both copies.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *where;
static goro_chan *done; /* chan struct{}, cap 1: the copy to stdout ended */
static int copy_rc;     /* that copy's result; written before the send on done */
static int copy_errno;

/* go func() { io.Copy(os.Stdout, conn); done <- struct{}{} }() */
static void
conn_to_stdout(void *arg)
{
  int conn = (int)(intptr_t)arg;
  copy_rc = net_copy(STDOUT_FILENO, conn);
  copy_errno = errno;
  net_wake(); /* the server is gone: stop reading stdin */
  goro_chan_send(done, NULL);
  goro_chan_release(done); /* this goroutine's reference, taken by main */
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int i = tool_parse(argc, argv, "HOST:PORT",
                     "Copies stdin to the server at HOST:PORT and what it sends to stdout.\n"
                     "When stdin ends, closes only its write half and prints what the server\n"
                     "still sends until it closes (gopl.io/ch8/netcat3, exercise 8.3).",
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
  done = goro_chan_make(0, 1);
  if (done == NULL)
    tool_fatal("out of memory");
  /* A reference for the goroutine: main may release its own as soon as it
   * has received, while the sender is still inside goro_chan_send. */
  goro_chan_retain(done);
  int rc = goro_go(conn_to_stdout, (void *)(intptr_t)conn);
  if (rc != 0)
    tool_fatal("goro_go: %s", goro_strerror(rc));

  rc = net_copy(conn, STDIN_FILENO); /* mustCopy(conn, os.Stdin) */
  if (rc == NET_EREAD)
    tool_warn("read stdin: %s", strerror(errno));
  else if (rc == NET_EWRITE)
    tool_warn("write %s: %s", where, strerror(errno));
  if (rc == 0)
    shutdown(conn, SHUT_WR); /* conn.CloseWrite() */
  else
    shutdown(conn, SHUT_RDWR); /* woken or failed: stop the other copy too */

  /* <-done, or a signal: then end the copy to stdout and still wait. */
  goro_case cases[2] = {GORO_RECV_CASE(done, NULL), GORO_RECV_CASE(tool_shutdown_chan(), NULL)};
  if (goro_select(cases, 2, GORO_FOREVER) == 1) {
    shutdown(conn, SHUT_RDWR);
    goro_chan_recv(done, NULL);
  }
  net_watch_client_stop();
  close(conn);
  goro_chan_release(done);
  if (copy_rc == NET_EREAD && tool_shutdown_signal() == 0)
    tool_fatal("read %s: %s", where, strerror(copy_errno));
  if (copy_rc == NET_EWRITE)
    tool_fatal("write stdout: %s", strerror(copy_errno));
  return rc == NET_EREAD || rc == NET_EWRITE ? 1 : 0;
}
