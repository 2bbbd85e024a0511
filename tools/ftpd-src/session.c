/* session.c - one control connection: the command loop, login, and the
 * commands that need no data connection (transfer.c has the others).
 *
 * session_run is the goroutine of one connection, the handleConn of the
 * book's servers: it reads a line, answers it, and loops until QUIT, the
 * client leaves, it is idle for cfg.idle (421), or shutdown (421). It
 * owns its struct session and every descriptor in it, and frees them all
 * before it returns, so no goroutine or descriptor outlives a connection.
 *
 * Lines: at most FTPD_MAXLINE bytes; a longer one, one with a control
 * character, or one whose verb is not 1-16 letters gets one 500 reply;
 * an unknown verb 502. Before login only USER PASS QUIT NOOP FEAT SYST are
 * accepted (others: 530).
 */
#include "config.h"

#include "ftpd.h"
#include "tool.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum {
  NEED_LOGIN = 1, /* 530 before login */
  NEED_ARG = 2,   /* 501 without an argument */
  WRITES = 4,     /* 550 with -readonly */
  KEEP_RNFR = 8,  /* RNTO: does not cancel a pending RNFR */
};

enum { MAX_LOGIN_FAILURES = 5 };

/* ---- login ------------------------------------------------------------- */

/* Compares without an early exit, so timing does not reveal how much of a
 * password matched. */
static bool
same_secret(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  unsigned char diff = la != lb;
  for (size_t i = 0; i < la; i++)
    diff |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb > 0 ? lb : 1)];
  return diff == 0;
}

static void
cmd_user(struct session *s, const char *arg)
{
  if (s->logged_in) {
    reply(s, 530, "Already logged in; cannot change to another user.");
    return;
  }
  s->user_given = true;
  if (cfg.user != NULL)
    s->user_ok = same_secret(arg, cfg.user);
  else
    s->user_ok = strcasecmp(arg, "anonymous") == 0 || strcasecmp(arg, "ftp") == 0;
  /* The same answer for every name: a client cannot probe for users. */
  if (cfg.user == NULL && s->user_ok)
    reply(s, 331, "Anonymous login: send any password (your email address).");
  else
    reply(s, 331, "Please specify the password.");
}

static void
cmd_pass(struct session *s, const char *arg)
{
  if (s->logged_in) {
    reply(s, 230, "Already logged in.");
    return;
  }
  if (!s->user_given) {
    reply(s, 503, "Login with USER first.");
    return;
  }
  s->user_given = false;
  bool ok = s->user_ok && (cfg.user == NULL || same_secret(arg, cfg.pass));
  if (!ok) {
    if (++s->failures >= MAX_LOGIN_FAILURES) {
      reply(s, 421, "Too many failed logins; closing the control connection.");
      s->dead = true;
      return;
    }
    reply(s, 530, "Login incorrect.");
    return;
  }
  s->logged_in = true;
  reply(s, 230, "Login successful.");
}

/* ---- simple commands ------------------------------------------------- */

static void
cmd_syst(struct session *s, const char *arg)
{
  (void)arg;
  reply(s, 215, "UNIX Type: L8");
}

static void
cmd_feat(struct session *s, const char *arg)
{
  (void)arg;
  reply_raw(s, "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n SIZE\r\n TVFS\r\n"
               "211 End\r\n");
}

static void
cmd_noop(struct session *s, const char *arg)
{
  (void)arg;
  reply(s, 200, "NOOP ok.");
}

static void
cmd_quit(struct session *s, const char *arg)
{
  (void)arg;
  reply(s, 221, "Goodbye.");
  s->dead = true;
}

/* Writes a path for a 257 reply: in quotes, each '"' doubled (RFC 959). */
static void
quote_path(char *dst, size_t n, const char *path)
{
  size_t k = 0;
  for (const char *p = path; *p != '\0' && k + 3 < n; p++) {
    if (*p == '"')
      dst[k++] = '"';
    dst[k++] = *p;
  }
  dst[k] = '\0';
}

static void
cmd_pwd(struct session *s, const char *arg)
{
  (void)arg;
  char q[2 * FTPD_VPATH_MAX];
  quote_path(q, sizeof q, s->cwd);
  reply(s, 257, "\"%s\" is the current directory.", q);
}

static void
change_dir(struct session *s, const char *arg, int code)
{
  struct fs_loc loc;
  int rc = fs_resolve(s->cwd, arg, FS_FOLLOW, &loc);
  if (rc < 0) {
    reply_errno(s, 550, arg, -rc);
    return;
  }
  int fd = openat(loc.dirfd, loc.name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    reply_errno(s, 550, arg, errno);
  } else {
    close(fd);
    char path[FTPD_VPATH_MAX + NAME_MAX + 2];
    fs_loc_path(&loc, path, sizeof path);
    if (strlen(path) >= sizeof s->cwd) {
      reply_errno(s, 550, arg, ENAMETOOLONG);
    } else {
      strcpy(s->cwd, path);
      reply(s, code, "Directory successfully changed.");
    }
  }
  fs_loc_free(&loc);
}

static void
cmd_cwd(struct session *s, const char *arg)
{
  change_dir(s, arg, 250);
}

static void
cmd_cdup(struct session *s, const char *arg)
{
  (void)arg;
  change_dir(s, "..", 250);
}

static void
cmd_type(struct session *s, const char *arg)
{
  if (strcasecmp(arg, "I") == 0 || strcasecmp(arg, "L 8") == 0) {
    s->binary = true;
    reply(s, 200, "Switching to Binary mode.");
  } else if (strcasecmp(arg, "A") == 0 || strcasecmp(arg, "A N") == 0) {
    s->binary = false;
    reply(s, 200, "Switching to ASCII mode.");
  } else {
    reply(s, 504, "TYPE %s not supported (A, I).", arg);
  }
}

static void
cmd_mode(struct session *s, const char *arg)
{
  if (strcasecmp(arg, "S") == 0)
    reply(s, 200, "Mode set to S.");
  else
    reply(s, 504, "Only MODE S is supported.");
}

static void
cmd_stru(struct session *s, const char *arg)
{
  if (strcasecmp(arg, "F") == 0)
    reply(s, 200, "Structure set to F.");
  else
    reply(s, 504, "Only STRU F is supported.");
}

/* Resolves arg and stats its target (following symlinks inside the root).
 * Replies 550 and returns -1 on failure. */
static int
stat_target(struct session *s, const char *arg, struct stat *st)
{
  struct fs_loc loc;
  int rc = fs_resolve(s->cwd, arg, FS_FOLLOW, &loc);
  if (rc < 0)
    return reply_errno(s, 550, arg, -rc), -1;
  rc = fstatat(loc.dirfd, loc.name, st, AT_SYMLINK_NOFOLLOW);
  int err = errno;
  fs_loc_free(&loc);
  if (rc != 0)
    return reply_errno(s, 550, arg, err), -1;
  return 0;
}

static void
cmd_size(struct session *s, const char *arg)
{
  struct stat st;
  if (stat_target(s, arg, &st) != 0)
    return;
  if (!S_ISREG(st.st_mode))
    reply(s, 550, "%s: not a regular file.", arg);
  else
    reply(s, 213, "%lld", (long long)st.st_size);
}

static void
cmd_mdtm(struct session *s, const char *arg)
{
  struct stat st;
  if (stat_target(s, arg, &st) != 0)
    return;
  if (!S_ISREG(st.st_mode)) {
    reply(s, 550, "%s: not a regular file.", arg);
    return;
  }
  struct tm tm;
  time_t t = st.st_mtime;
  gmtime_r(&t, &tm);
  reply(s, 213, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
        tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
cmd_mkd(struct session *s, const char *arg)
{
  struct fs_loc loc;
  int rc = fs_resolve(s->cwd, arg, FS_NOFOLLOW, &loc);
  if (rc < 0) {
    reply_errno(s, 550, arg, -rc);
    return;
  }
  if (mkdirat(loc.dirfd, loc.name, 0777) != 0) {
    reply_errno(s, 550, arg, errno);
  } else {
    char path[FTPD_VPATH_MAX], q[2 * FTPD_VPATH_MAX];
    quote_path(q, sizeof q, fs_loc_path(&loc, path, sizeof path));
    reply(s, 257, "\"%s\" created.", q);
  }
  fs_loc_free(&loc);
}

/* DELE and RMD: the last component is removed, never followed. */
static void
remove_entry(struct session *s, const char *arg, int flags)
{
  struct fs_loc loc;
  int rc = fs_resolve(s->cwd, arg, FS_NOFOLLOW, &loc);
  if (rc < 0) {
    reply_errno(s, 550, arg, -rc);
    return;
  }
  if (strcmp(loc.name, ".") == 0)
    reply(s, 550, "%s: cannot remove a directory of the current path.", arg);
  else if (unlinkat(loc.dirfd, loc.name, flags) != 0)
    reply_errno(s, 550, arg, errno == EISDIR ? EISDIR : errno);
  else
    reply(s, 250, flags != 0 ? "Directory removed." : "File deleted.");
  fs_loc_free(&loc);
}

static void
cmd_dele(struct session *s, const char *arg)
{
  remove_entry(s, arg, 0);
}

static void
cmd_rmd(struct session *s, const char *arg)
{
  remove_entry(s, arg, AT_REMOVEDIR);
}

static void
cmd_rnfr(struct session *s, const char *arg)
{
  struct fs_loc loc;
  int rc = fs_resolve(s->cwd, arg, FS_NOFOLLOW, &loc);
  if (rc < 0) {
    reply_errno(s, 550, arg, -rc);
    return;
  }
  struct stat st;
  if (strcmp(loc.name, ".") == 0) {
    reply(s, 550, "%s: cannot rename a directory of the current path.", arg);
  } else if (fstatat(loc.dirfd, loc.name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    reply_errno(s, 550, arg, errno);
  } else {
    /* Kept as a canonical virtual path and walked again by RNTO. */
    fs_loc_path(&loc, s->rnfr, sizeof s->rnfr);
    reply(s, 350, "Ready for RNTO.");
  }
  fs_loc_free(&loc);
}

static void
cmd_rnto(struct session *s, const char *arg)
{
  if (s->rnfr[0] == '\0') {
    reply(s, 503, "RNFR required first.");
    return;
  }
  char from[FTPD_VPATH_MAX];
  snprintf(from, sizeof from, "%s", s->rnfr);
  s->rnfr[0] = '\0';
  struct fs_loc a, b;
  int rc = fs_resolve("/", from, FS_NOFOLLOW, &a);
  if (rc < 0) {
    reply_errno(s, 550, from, -rc);
    return;
  }
  rc = fs_resolve(s->cwd, arg, FS_NOFOLLOW, &b);
  if (rc < 0) {
    reply_errno(s, 550, arg, -rc);
    fs_loc_free(&a);
    return;
  }
  if (strcmp(a.name, ".") == 0 || strcmp(b.name, ".") == 0)
    reply(s, 550, "%s: cannot rename onto a directory of the current path.", arg);
  else if (renameat(a.dirfd, a.name, b.dirfd, b.name) != 0)
    reply_errno(s, 550, arg, errno);
  else
    reply(s, 250, "Rename successful.");
  fs_loc_free(&a);
  fs_loc_free(&b);
}

/* ---- dispatch ---------------------------------------------------------- */

struct command {
  const char *verb;
  void (*fn)(struct session *s, const char *arg);
  unsigned flags;
};

static const struct command commands[] = {
    {"USER", cmd_user, NEED_ARG},
    {"PASS", cmd_pass, 0},
    {"SYST", cmd_syst, 0},
    {"FEAT", cmd_feat, 0},
    {"NOOP", cmd_noop, 0},
    {"QUIT", cmd_quit, 0},
    {"PWD", cmd_pwd, NEED_LOGIN},
    {"CWD", cmd_cwd, NEED_LOGIN | NEED_ARG},
    {"CDUP", cmd_cdup, NEED_LOGIN},
    {"TYPE", cmd_type, NEED_LOGIN | NEED_ARG},
    {"MODE", cmd_mode, NEED_LOGIN | NEED_ARG},
    {"STRU", cmd_stru, NEED_LOGIN | NEED_ARG},
    {"PASV", cmd_pasv, NEED_LOGIN},
    {"EPSV", cmd_epsv, NEED_LOGIN},
    {"PORT", cmd_port, NEED_LOGIN | NEED_ARG},
    {"EPRT", cmd_eprt, NEED_LOGIN | NEED_ARG},
    {"LIST", cmd_list, NEED_LOGIN},
    {"NLST", cmd_nlst, NEED_LOGIN},
    {"RETR", cmd_retr, NEED_LOGIN | NEED_ARG},
    {"STOR", cmd_stor, NEED_LOGIN | NEED_ARG | WRITES},
    {"APPE", cmd_appe, NEED_LOGIN | NEED_ARG | WRITES},
    {"DELE", cmd_dele, NEED_LOGIN | NEED_ARG | WRITES},
    {"MKD", cmd_mkd, NEED_LOGIN | NEED_ARG | WRITES},
    {"RMD", cmd_rmd, NEED_LOGIN | NEED_ARG | WRITES},
    {"RNFR", cmd_rnfr, NEED_LOGIN | NEED_ARG | WRITES},
    {"RNTO", cmd_rnto, NEED_LOGIN | NEED_ARG | WRITES | KEEP_RNFR},
    {"SIZE", cmd_size, NEED_LOGIN | NEED_ARG},
    {"MDTM", cmd_mdtm, NEED_LOGIN | NEED_ARG},
};

/* Answers one line of len bytes. */
static void
dispatch(struct session *s, char *line, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)line[i];
    if (c < 0x20 || c == 0x7f) {
      reply(s, 500, "Syntax error: control character in command line.");
      return;
    }
  }
  size_t vlen = 0;
  while (vlen < len && line[vlen] != ' ')
    vlen++;
  /* A verb is letters (RFC 959's are 3 or 4; a longer one is simply not
   * implemented). Anything else is not a command at all. */
  bool letters = vlen >= 1 && vlen <= 16;
  for (size_t i = 0; letters && i < vlen; i++)
    letters = isalpha((unsigned char)line[i]) != 0;
  if (!letters) {
    reply(s, 500, "Syntax error, command unrecognized.");
    return;
  }
  char verb[17];
  for (size_t i = 0; i < vlen; i++)
    verb[i] = (char)toupper((unsigned char)line[i]);
  verb[vlen] = '\0';
  const char *arg = vlen < len ? line + vlen + 1 : line + len;

  const struct command *cmd = NULL;
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].verb, verb) == 0)
      cmd = &commands[i];
  if (cmd == NULL) {
    reply(s, 502, "%s not implemented.", verb);
    return;
  }
  if (!(cmd->flags & KEEP_RNFR))
    s->rnfr[0] = '\0';
  if ((cmd->flags & NEED_LOGIN) && !s->logged_in) {
    reply(s, 530, "Please login with USER and PASS.");
    return;
  }
  if ((cmd->flags & NEED_ARG) && *arg == '\0') {
    reply(s, 501, "%s needs an argument.", verb);
    return;
  }
  if ((cmd->flags & WRITES) && cfg.readonly) {
    reply(s, 550, "Permission denied (read-only server).");
    return;
  }
  cmd->fn(s, arg);
}

void
session_run(void *arg)
{
  struct session *s = arg;
  static char const greeting[] =
      "220 goro ftpd (The Go Programming Language, exercise 8.2) ready.\r\n";
  char *line = malloc(FTPD_MAXLINE + 1);
  if (line == NULL)
    reply(s, 421, "Out of memory.");
  else
    reply_raw(s, greeting);
  while (!s->dead) {
    int n = read_line(s, line);
    if (n >= 0) {
      dispatch(s, line, (size_t)n);
    } else if (n == LINE_TOO_LONG) {
      reply(s, 500, "Command line too long (at most %d bytes).", FTPD_MAXLINE);
    } else if (n == IO_TIMEOUT) {
      char d[32];
      reply(s, 421, "Idle for %s: closing the control connection.",
            tool_format_duration(cfg.idle, d, sizeof d));
      break;
    } else if (n == IO_STOP) {
      reply(s, 421, "Server shutting down.");
      break;
    } else {
      break; /* LINE_EOF */
    }
  }
  data_reset(s);
  close(s->ctrl);
  free(line);
  goro_wg *wg = s->wg;
  free(s);
  goro_wg_done(wg);
}
