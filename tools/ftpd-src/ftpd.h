/* ftpd.h - what the files of ftpd share (exercise 8.2, see tools/ftpd.c).
 *
 * Files: ../ftpd.c (flags, the root, the listener, the accept loop and
 * shutdown), io.c (waiting on sockets, control lines and replies),
 * path.c (names confined to the root), session.c (one control connection:
 * login and the commands that need no data connection), transfer.c (data
 * connections, RETR STOR APPE LIST NLST), list.c (`ls -l` lines).
 *
 * Threads: one goroutine per control connection runs session_run; it owns
 * its struct session and every descriptor in it, and does its transfers
 * itself, one at a time (RFC 959 allows no more on one connection), so a
 * slow client only ever holds up its own session. The configuration
 * (struct ftpd_config) is written by main before the first session starts
 * and only read afterwards.
 */
#ifndef FTPD_H
#define FTPD_H

#include <goro.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* The longest command line accepted, without its CRLF. */
#define FTPD_MAXLINE 4096
/* The longest virtual path (what PWD shows). */
#define FTPD_VPATH_MAX 4096
/* STOR's temporary files start with this; such names are hidden from
 * LIST and NLST and refused in every path a client sends. */
#define FTPD_TMP_PREFIX ".ftpd-tmp-"

/* ---- configuration (tools/ftpd.c) ---------------------------------------- */

struct ftpd_config {
  int rootfd;              /* the root directory (O_RDONLY|O_DIRECTORY) */
  char rootreal[PATH_MAX]; /* its real path (realpath(3)): no symlink, no trailing '/' unless "/" */
  size_t rootreallen;
  const char *user;     /* -user NAME, or NULL: anonymous */
  const char *pass;     /* -user's PASS */
  bool readonly;        /* -readonly */
  int64_t idle;         /* -idle D in ns; 0: no limit */
  int64_t data_timeout; /* how long to wait for a data connection to open, in ns */
  int stopfd;           /* read end of the stop pipe: readable once shutdown began */
};

extern struct ftpd_config cfg;

/* ---- io.c -------------------------------------------------------------- */

enum io_status {
  IO_READY = 0,    /* the descriptor is ready (or: all was sent) */
  IO_TIMEOUT = -1, /* the time given passed first */
  IO_STOP = -2,    /* the server is shutting down */
  IO_GONE = -3,    /* the control connection watched was closed by the client */
  IO_ERROR = -4,   /* the socket failed (reset, broken pipe...) */
};

/* Waits until fd is ready for events (POLLIN or POLLOUT), at most
 * timeout_ns (GORO_FOREVER or 0: no limit). Returns IO_STOP as soon as the
 * stop pipe is readable, and, when ctrl >= 0, IO_GONE as soon as the
 * client closed or reset that control connection (POLLRDHUP: pending
 * commands on it do not count). EINTR is retried. */
int io_wait(int fd, short events, int ctrl, int64_t timeout_ns);

/* Waits grace_ns for the client to close or reset the control connection
 * ctrl (without reading from it): IO_GONE if it does, IO_STOP at
 * shutdown, else IO_READY. */
int io_ctrl_grace(int ctrl, int64_t grace_ns);

/* Sends all n bytes on the non-blocking socket fd, waiting as io_wait
 * does, with timeout_ns counted afresh for each wait (a stall limit, not a
 * total). Returns IO_READY or another io_status. */
int io_send_all(int fd, const void *buf, size_t n, int ctrl, int64_t timeout_ns);

/* ---- path.c ------------------------------------------------------------ */

/* A place in the tree: a directory and a name in it. */
struct fs_loc {
  int dirfd;                 /* the directory holding the target (O_PATH); cfg.rootfd or owned */
  bool owned;                /* dirfd is ours to close (fs_loc_free) */
  char name[NAME_MAX + 1];   /* the last component; "." when the target is dirfd itself */
  char vdir[FTPD_VPATH_MAX]; /* the canonical virtual path of dirfd: "/" or "/a/b" */
};

enum fs_follow {
  FS_FOLLOW,   /* a symlink as last component is followed (RETR, LIST, CWD, STOR...) */
  FS_NOFOLLOW, /* the last component is taken as it is (DELE, RMD, RNFR, RNTO, MKD) */
};

/* Resolves name (absolute: from the root; else from cwd, a canonical
 * virtual path) inside the root. Every component but the last must be a
 * directory (or a symlink to one) inside the root; the last need not
 * exist. Returns 0 with *out filled (free it with fs_loc_free), or a
 * negative errno: -EXDEV when the name leads outside the root, -ENOENT
 * for a missing directory or a reserved (temporary file) name, -ELOOP,
 * -ENOTDIR, -ENAMETOOLONG, -EACCES... */
int fs_resolve(const char *cwd, const char *name, enum fs_follow follow, struct fs_loc *out);

void fs_loc_free(struct fs_loc *loc);

/* The virtual path of loc's target into buf (n bytes): vdir, or vdir/name. */
char *fs_loc_path(const struct fs_loc *loc, char *buf, size_t n);

/* Whether a directory entry's name is one of STOR's temporary files. */
bool fs_reserved(const char *name);

/* ---- session.c --------------------------------------------------------- */

struct session {
  int ctrl;                      /* the control connection (non-blocking) */
  struct sockaddr_storage peer;  /* its client's address */
  struct sockaddr_storage local; /* our address on it */
  uint64_t id;                   /* a number for temporary names */
  goro_wg *wg;                   /* main's WaitGroup: Done when the session ends */
  /* Reading lines (io.c) */
  char in[2 * FTPD_MAXLINE + 8];
  size_t inlen;    /* bytes of in held */
  bool discarding; /* skipping the rest of an overlong line */
  bool dead;       /* the control connection failed: end the session */
  /* Login */
  bool user_given; /* USER seen; PASS expected */
  bool logged_in;
  bool user_ok; /* the USER name is acceptable */
  int failures; /* failed logins */
  /* State */
  char cwd[FTPD_VPATH_MAX];  /* canonical virtual working directory */
  bool binary;               /* TYPE I (else TYPE A: LF <-> CRLF) */
  char rnfr[FTPD_VPATH_MAX]; /* RNFR's virtual path, or "" */
  /* Data connection set-up (transfer.c) */
  int pasv;    /* PASV/EPSV listener, or -1 */
  bool active; /* PORT/EPRT given: active holds the address */
  struct sockaddr_storage active_addr;
  bool epsv_all; /* EPSV ALL: PORT, EPRT and PASV refused */
};

/* The goroutine of one control connection: takes ownership of s (a
 * malloc'd session with ctrl, peer, local and wg set), frees it, and
 * calls goro_wg_done(wg) last. */
void session_run(void *s);

/* Sends one reply line "CODE TEXT\r\n". Returns 0, or -1 with s->dead set. */
int reply(struct session *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sends text as it is (a multi-line reply, CRLFs included). */
int reply_raw(struct session *s, const char *text);

/* Reads the next command line into line (FTPD_MAXLINE + 1 bytes), without
 * its CRLF. Returns its length, or: */
enum {
  LINE_TOO_LONG = -10, /* an overlong line: reply once, its rest is skipped */
  LINE_EOF = -11,      /* the client closed the connection, or it failed */
};
/* ... or IO_TIMEOUT (idle), IO_STOP. */
int read_line(struct session *s, char *line);

/* The reply code (550) "NAME: why." for a failed fs_resolve or *at call
 * on name; err is a positive errno (EXDEV: outside the root). */
int reply_errno(struct session *s, int code, const char *name, int err);

/* ---- transfer.c -------------------------------------------------------- */

void cmd_pasv(struct session *s, const char *arg);
void cmd_epsv(struct session *s, const char *arg);
void cmd_port(struct session *s, const char *arg);
void cmd_eprt(struct session *s, const char *arg);
void cmd_retr(struct session *s, const char *arg);
void cmd_stor(struct session *s, const char *arg);
void cmd_appe(struct session *s, const char *arg);
void cmd_list(struct session *s, const char *arg);
void cmd_nlst(struct session *s, const char *arg);
/* Closes a pending PASV listener and forgets a PORT address. */
void data_reset(struct session *s);

/* ---- list.c ------------------------------------------------------------ */

/* Writes the `ls -l` line (CRLF-terminated) of an entry named name with
 * status st (and, for a symlink, its target) into buf (n bytes). Returns the
 * length written, or 0 when it does not fit. now: time(NULL), for the
 * recent/old date forms. */
size_t list_line(char *buf, size_t n, const char *name, const struct stat *st, const char *target,
                 time_t now);

/* A name as it may appear in a listing: control characters become '?'. */
void list_clean_name(char *dst, size_t n, const char *name);

#endif /* FTPD_H */
