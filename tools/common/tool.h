/* tool.h - what every chapter-8 tool shares: Go-style flags and durations,
 * the error conventions below, listening and dialling, and shutdown on
 * SIGINT/SIGTERM.
 *
 * Conventions (README.md, "The chapter's tools", says the same): -h
 * prints the usage on stdout and exits 0; a bad flag or argument prints
 * the usage on stderr and exits 2; a run-time failure prints one line
 * "NAME: what failed: why" on stderr and exits 1.
 *
 * Call order in main: tool_init (before any goroutine starts: it blocks
 * SIGINT and SIGTERM in the calling thread, so every goroutine thread
 * inherits that mask and only the tool's signal thread receives them),
 * then tool_parse, then the tool's work.
 */
#ifndef GORO_TOOL_H
#define GORO_TOOL_H

#include <goro.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- Flags (Go's flag package: -name value, -name=value, --name) ------- */

enum tool_flag_kind {
  TOOL_BOOL,     /* bool *; "-v" or "-v=true|false" */
  TOOL_INT,      /* int *; a decimal integer */
  TOOL_DURATION, /* int64_t * (ns); Go syntax: 250ms, 1m30s, 2h */
  TOOL_STRING,   /* const char **; points into argv */
};

struct tool_flag {
  const char *name; /* without the dash: "port" */
  enum tool_flag_kind kind;
  void *value;      /* holds the default on entry; the parsed value on return */
  const char *arg;  /* the value's name in the usage: "N", "D", "HOST"; NULL for bools */
  const char *help; /* one line */
};

/* Sets the program name used in every message (argv[0]'s base name) and
 * prepares signals: SIGINT and SIGTERM blocked in the calling thread
 * (which must be the only thread yet), SIGPIPE ignored. */
void tool_init(int argc, char **argv);

/* Parses the flags of argv (nflags entries of flags) and returns the index
 * of the first positional argument. synopsis follows the name in the usage
 * line ("[-port N] HOST:PORT"); about is a paragraph printed under it.
 * -h, -help: usage on stdout, exit 0. Unknown flag, missing or bad value:
 * a line saying so, then the usage on stderr, exit 2. Parsing stops at
 * "--" or at the first argument that does not start with '-'. */
int tool_parse(int argc, char **argv, const char *synopsis, const char *about,
               struct tool_flag *flags, size_t nflags);

/* The program name given to tool_init. */
const char *tool_name(void);

/* "NAME: <message>" on stderr, then the usage, exit 2 (bad arguments). */
_Noreturn void tool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "NAME: <message>\n" on stderr, exit 1 (a failure at run time). */
_Noreturn void tool_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "NAME: <message>\n" on stderr; goes on. Thread-safe (one fprintf). */
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- Durations (Go's time.Duration) ------------------------------------ */

/* Parses Go's duration syntax ("300ms", "-1.5h", "2h45m", "0"): units ns,
 * us (or µs), ms, s, m, h. Returns 0, or -1 for bad syntax or overflow. */
int tool_parse_duration(const char *s, int64_t *ns);

/* Writes d as Go's Duration.String does ("1h2m3.5s", "250ms", "1.5µs",
 * "0s") into buf (32 bytes are always enough); returns buf. */
char *tool_format_duration(int64_t d, char *buf, size_t n);

/* ---- Network ----------------------------------------------------------- */

/* Listens on host:port (TCP, SO_REUSEADDR, backlog 128; port 0 picks a free
 * port) and prints "NAME: listening on HOST:PORT" on stderr with the real
 * port. On failure: tool_fatal("listen HOST:PORT: why"). Returns the fd. */
int tool_listen(const char *host, int port);

/* Connects to "HOST:PORT" ("[::1]:PORT" for IPv6 literals). Returns the fd,
 * or -1 with "dial HOST:PORT: why" in err (errlen bytes). */
int tool_dial(const char *hostport, char *err, size_t errlen);

/* Splits "HOST:PORT" into host (hostlen bytes) and port; 0 or -1. */
int tool_split_hostport(const char *hostport, char *host, size_t hostlen, char *port,
                        size_t portlen);

/* Writes all n bytes of buf to fd, retrying on EINTR and short writes.
 * Returns 0, or -1 with errno set. Never raises SIGPIPE (MSG_NOSIGNAL on
 * sockets; SIGPIPE is ignored by tool_init anyway). */
int tool_write_all(int fd, const void *buf, size_t n);

/* "HOST:PORT" of a connected socket's peer (or local end when local is
 * true) into buf; returns buf ("?" when unknown). */
char *tool_sockname(int fd, bool local, char *buf, size_t n);

/* ---- Shutdown ---------------------------------------------------------- */

/* A channel (element size 0) closed when SIGINT or SIGTERM arrives; owned
 * by the tool library, do not release. The first call starts the thread
 * that waits for the signals (tool_init must have run). Select on it, or
 * receive from it, to shut down cleanly: a receive returns 0 once it is
 * closed. */
goro_chan *tool_shutdown_chan(void);

/* The signal that closed the shutdown channel, or 0. */
int tool_shutdown_signal(void);

#endif /* GORO_TOOL_H */
