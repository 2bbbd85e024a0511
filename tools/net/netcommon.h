/* netcommon.h - what the network tools of section 8.2-8.4 and 8.10 share
 * (clock, netcat, reverb, chat): the set of open connections a server
 * shuts down on SIGINT/SIGTERM, accept, a line reader, the time of day as
 * Go's "15:04:05", and a wake pipe that ends a client's blocking reads.
 *
 * Shutdown of a server, in this order: the watcher goroutine started by
 * net_watch_server sees tool_shutdown_chan close, marks the connection set
 * closing, shuts the listener down (accept returns) and shuts every open
 * connection down (their reads see end of input, their writes fail); main
 * then leaves its accept loop, closes the listener and waits for the
 * connection goroutines. A connection's fd is closed only by its own
 * goroutine, after net_conns_del, so a shutdown never hits a reused fd.
 */
#ifndef GORO_NETCOMMON_H
#define GORO_NETCOMMON_H

#include <goro.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* ---- Servers ------------------------------------------------------------- */

/* The open connections of a server. Thread-safe. */
struct net_conns;

/* A new empty set; exits through tool_fatal when memory runs out. */
struct net_conns *net_conns_make(void);

/* Adds fd; false (fd not added) once the set is closing. */
bool net_conns_add(struct net_conns *cs, int fd);

/* Removes fd; after it returns, net_conns_shutdown no longer touches fd. */
void net_conns_del(struct net_conns *cs, int fd);

/* Marks the set closing and shuts every member down (SHUT_RDWR). */
void net_conns_shutdown(struct net_conns *cs);

/* True once net_conns_shutdown has run. */
bool net_conns_closing(struct net_conns *cs);

/* Starts the goroutine that waits for SIGINT/SIGTERM, then shuts down the
 * listener lfd and every connection of cs. Exits through tool_fatal when
 * the goroutine cannot start. With GORO_NET_STATS=D in the environment (a
 * Go duration), also a goroutine that writes "NAME: goroutines: N"
 * (goro_num_goroutine) on stderr every D until shutdown: the tests' check
 * that no goroutine outlives its connection, in every build (sanitizers
 * defer a SIGQUIT for goro's dump). */
void net_watch_server(int lfd, struct net_conns *cs);

/* Accepts the next connection on lfd and adds it to cs. Returns its fd, or
 * -1 once the server is shutting down. Transient failures (a connection
 * aborted, out of file descriptors) are reported and retried. */
int net_accept(int lfd, struct net_conns *cs);

/* ---- Lines --------------------------------------------------------------- */

/* The longest line accepted, as bufio.Scanner's default token limit. */
#define NET_LINE_MAX 65536

/* A buffered line reader over fd (bufio.Scanner with ScanLines). */
struct net_lines;

/* NULL when memory runs out. */
struct net_lines *net_lines_make(int fd);
void net_lines_free(struct net_lines *lr);

/* The next line, without its "\n" and a "\r" before it, NUL-terminated in
 * *line (valid until the next call); returns its length. A last line
 * without "\n" counts. -1 at end of input or on a read error; -2 when a
 * line exceeds NET_LINE_MAX (the reader is then unusable, as a Scanner
 * after ErrTooLong). */
ssize_t net_lines_next(struct net_lines *lr, char **line);

/* ---- Time ---------------------------------------------------------------- */

/* The local time (TZ honoured) as "HH:MM:SS" (Go's "15:04:05") into buf,
 * which holds at least 9 bytes. main calls tzset() before any goroutine. */
void net_clock(char *buf);

/* ---- Clients ------------------------------------------------------------- */

/* Opens the wake pipe. Call once in main before any goroutine. */
void net_wake_init(void);

/* Wakes every net_read, now and later (a byte left in the pipe). */
void net_wake(void);

/* read(2) of fd that also returns when net_wake is called: > 0 bytes, 0 at
 * end of input, -1 on error (errno), NET_WOKEN when woken. */
#define NET_WOKEN (-2)
ssize_t net_read(int fd, void *buf, size_t n);

/* tool_dial, but a connect(2) in progress also ends at net_wake (when the
 * wake pipe is open), failing with ECANCELED: a client stopped by a signal
 * while it dials an unresponsive host exits at once. Returns the fd
 * (blocking), or -1 with "dial HOST:PORT: why" in err. */
int net_dial(const char *hostport, char *err, size_t errlen);

/* Copies src to dst with net_read until end of input. Returns 0 at end of
 * input, NET_WOKEN when woken, NET_EREAD or NET_EWRITE on a failure (with
 * errno). */
enum { NET_EREAD = -3, NET_EWRITE = -4 };
int net_copy(int dst, int src);

/* Starts a goroutine that calls net_wake on SIGINT/SIGTERM, until
 * net_watch_client_stop. */
void net_watch_client(void);
void net_watch_client_stop(void);

#endif /* GORO_NETCOMMON_H */
