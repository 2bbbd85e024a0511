/* tool.c - the chapter-8 tools' shared conventions (tool.h).
 *
 * State: the program name, the usage text and the shutdown channel are
 * set once by tool_init/tool_parse/tool_shutdown_chan in main before other
 * threads use them, and only read afterwards.
 */
#include "config.h"

#include "tool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *progname = "tool";

/* The usage of the last tool_parse, for tool_usage_error, with each
 * flag's default as it was before parsing (the usage after a bad value
 * must not show that value as the default). */
enum { MAX_FLAGS = 32 };
static const char *usage_synopsis = "";
static const char *usage_about;
static const struct tool_flag *usage_flags;
static size_t usage_nflags;
static union flag_default {
  bool b;
  int i;
  int64_t d;
  const char *s;
} usage_defaults[MAX_FLAGS];

void
tool_init(int argc, char **argv)
{
  (void)argc;
  if (argv != NULL && argv[0] != NULL) {
    const char *slash = strrchr(argv[0], '/');
    progname = slash != NULL ? slash + 1 : argv[0];
    /* A libtool wrapper runs the real program as lt-NAME. */
    if (strncmp(progname, "lt-", 3) == 0)
      progname += 3;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

const char *
tool_name(void)
{
  return progname;
}

/* ---- Messages ------------------------------------------------------------ */

static void
vmessage(const char *fmt, va_list ap)
{
  char line[1024];
  int k = snprintf(line, sizeof line, "%s: ", progname);
  if (k < 0 || (size_t)k >= sizeof line)
    k = 0;
  vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
  fprintf(stderr, "%s\n", line);
}

void
tool_warn(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
}

void
tool_fatal(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
  exit(1);
}

static void
print_default(FILE *f, const struct tool_flag *fl, const union flag_default *def)
{
  char buf[64];
  switch (fl->kind) {
  case TOOL_BOOL:
    break;
  case TOOL_INT:
    fprintf(f, " (default %d)", def->i);
    break;
  case TOOL_DURATION:
    fprintf(f, " (default %s)", tool_format_duration(def->d, buf, sizeof buf));
    break;
  case TOOL_STRING:
    if (def->s != NULL && *def->s != '\0')
      fprintf(f, " (default %s)", def->s);
    break;
  }
}

static void
print_usage(FILE *f)
{
  fprintf(f, "usage: %s %s\n", progname, usage_synopsis);
  if (usage_about != NULL && *usage_about != '\0')
    fprintf(f, "\n%s\n", usage_about);
  if (usage_nflags > 0)
    fprintf(f, "\nflags:\n");
  for (size_t i = 0; i < usage_nflags; i++) {
    const struct tool_flag *fl = &usage_flags[i];
    char head[64];
    snprintf(head, sizeof head, "-%s%s%s", fl->name, fl->arg != NULL ? " " : "",
             fl->arg != NULL ? fl->arg : "");
    fprintf(f, "  %-18s %s", head, fl->help);
    print_default(f, fl, &usage_defaults[i]);
    fputc('\n', f);
  }
  fprintf(f, "  %-18s %s\n", "-h", "print this help and exit");
}

void
tool_usage_error(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmessage(fmt, ap);
  va_end(ap);
  print_usage(stderr);
  exit(2);
}

/* ---- Flags --------------------------------------------------------------- */

static bool
parse_int(const char *s, int *out)
{
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < INT_MIN || v > INT_MAX)
    return false;
  *out = (int)v;
  return true;
}

static bool
parse_bool(const char *s, bool *out)
{
  static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
  static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
    if (strcmp(s, yes[i]) == 0) {
      *out = true;
      return true;
    }
    if (strcmp(s, no[i]) == 0) {
      *out = false;
      return true;
    }
  }
  return false;
}

int
tool_parse(int argc, char **argv, const char *synopsis, const char *about,
           struct tool_flag *flags, size_t nflags)
{
  usage_synopsis = synopsis;
  usage_about = about;
  usage_flags = flags;
  usage_nflags = nflags < MAX_FLAGS ? nflags : MAX_FLAGS;
  for (size_t k = 0; k < usage_nflags; k++) {
    union flag_default *d = &usage_defaults[k];
    switch (flags[k].kind) {
    case TOOL_BOOL:
      d->b = *(bool *)flags[k].value;
      break;
    case TOOL_INT:
      d->i = *(int *)flags[k].value;
      break;
    case TOOL_DURATION:
      d->d = *(int64_t *)flags[k].value;
      break;
    case TOOL_STRING:
      d->s = *(const char **)flags[k].value;
      break;
    }
  }

  int i = 1;
  while (i < argc) {
    const char *a = argv[i];
    if (a[0] != '-' || a[1] == '\0')
      break;
    if (strcmp(a, "--") == 0)
      return i + 1;
    const char *name = a + 1;
    if (*name == '-')
      name++;
    char key[64];
    const char *eq = strchr(name, '=');
    size_t klen = eq != NULL ? (size_t)(eq - name) : strlen(name);
    if (klen == 0 || klen >= sizeof key)
      tool_usage_error("bad flag syntax: %s", a);
    memcpy(key, name, klen);
    key[klen] = '\0';
    if (strcmp(key, "h") == 0 || strcmp(key, "help") == 0) {
      print_usage(stdout);
      exit(0);
    }
    struct tool_flag *fl = NULL;
    for (size_t k = 0; k < nflags; k++)
      if (strcmp(flags[k].name, key) == 0)
        fl = &flags[k];
    if (fl == NULL)
      tool_usage_error("flag provided but not defined: -%s", key);
    i++;
    if (fl->kind == TOOL_BOOL) {
      bool v = true;
      if (eq != NULL && !parse_bool(eq + 1, &v))
        tool_usage_error("invalid boolean value \"%s\" for flag -%s", eq + 1, key);
      *(bool *)fl->value = v;
      continue;
    }
    const char *val;
    if (eq != NULL) {
      val = eq + 1;
    } else {
      if (i >= argc)
        tool_usage_error("flag needs an argument: -%s", key);
      val = argv[i++];
    }
    switch (fl->kind) {
    case TOOL_INT:
      if (!parse_int(val, (int *)fl->value))
        tool_usage_error("invalid value \"%s\" for flag -%s: not an integer", val, key);
      break;
    case TOOL_DURATION:
      if (tool_parse_duration(val, (int64_t *)fl->value) != 0)
        tool_usage_error("invalid value \"%s\" for flag -%s: not a duration (e.g. 250ms, 10s, 1m30s)",
                         val, key);
      break;
    case TOOL_STRING:
      *(const char **)fl->value = val;
      break;
    case TOOL_BOOL:
      break;
    }
  }
  return i;
}

/* ---- Durations ----------------------------------------------------------- */

static const struct {
  const char *name;
  int64_t ns;
} units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC Greek mu */
    {"ms", 1000000},
    {"s", 1000000000},
    {"m", 60 * (int64_t)1000000000},
    {"h", 3600 * (int64_t)1000000000},
};

int
tool_parse_duration(const char *s, int64_t *ns)
{
  bool neg = false;
  if (*s == '-' || *s == '+')
    neg = *s++ == '-';
  if (strcmp(s, "0") == 0) {
    *ns = 0;
    return 0;
  }
  if (*s == '\0')
    return -1;
  /* Accumulated in unsigned: |total| <= 2^63 (INT64_MIN allowed). */
  uint64_t total = 0;
  while (*s != '\0') {
    uint64_t whole = 0, frac = 0, scale = 1;
    bool digits = false;
    while (*s >= '0' && *s <= '9') {
      if (whole > (UINT64_MAX - 9) / 10)
        return -1;
      whole = whole * 10 + (uint64_t)(*s++ - '0');
      digits = true;
    }
    if (*s == '.') {
      s++;
      while (*s >= '0' && *s <= '9') {
        if (scale < 1000000000000000000ull) { /* ignore digits past 1e-18 */
          frac = frac * 10 + (uint64_t)(*s - '0');
          scale *= 10;
        }
        s++;
        digits = true;
      }
    }
    if (!digits)
      return -1;
    size_t best = 0;
    int64_t unit = 0;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
      size_t len = strlen(units[u].name);
      if (len > best && strncmp(s, units[u].name, len) == 0) {
        best = len;
        unit = units[u].ns;
      }
    }
    if (best == 0)
      return -1; /* a missing or unknown unit */
    s += best;
    if (whole > ((uint64_t)1 << 63) / (uint64_t)unit)
      return -1;
    uint64_t v = whole * (uint64_t)unit;
    /* frac/scale of a unit, rounded down: unit <= 3.6e12 and frac < scale
     * <= 1e18, so compute in long double to avoid overflow. */
    v += (uint64_t)((long double)frac * (long double)unit / (long double)scale);
    if (v > ((uint64_t)1 << 63) - total)
      return -1;
    total += v;
  }
  if (!neg && total > (uint64_t)INT64_MAX)
    return -1;
  *ns = neg ? (int64_t)(0 - total) : (int64_t)total;
  return 0;
}

/* Writes v / 10^prec with its fraction, trailing zeros dropped, at the end
 * of buf (before *w); returns the new start. Go's fmtFrac and fmtInt. */
static char *
put_frac(char *w, uint64_t *v, int prec)
{
  bool print = false;
  for (int i = 0; i < prec; i++) {
    unsigned digit = (unsigned)(*v % 10);
    print = print || digit != 0;
    if (print)
      *--w = (char)('0' + digit);
    *v /= 10;
  }
  if (print)
    *--w = '.';
  return w;
}

static char *
put_int(char *w, uint64_t v)
{
  if (v == 0)
    *--w = '0';
  while (v > 0) {
    *--w = (char)('0' + v % 10);
    v /= 10;
  }
  return w;
}

char *
tool_format_duration(int64_t d, char *buf, size_t n)
{
  char tmp[40];
  char *end = tmp + sizeof tmp;
  char *w = end;
  *--w = '\0';
  bool neg = d < 0;
  uint64_t u = neg ? 0 - (uint64_t)d : (uint64_t)d;
  if (u < 1000000000) {
    /* Under a second: ns, µs or ms, with a fraction. */
    int prec;
    const char *unit;
    if (u == 0) {
      snprintf(buf, n, "0s");
      return buf;
    } else if (u < 1000) {
      prec = 0;
      unit = "ns";
    } else if (u < 1000000) {
      prec = 3;
      unit = "\xc2\xb5s";
    } else {
      prec = 6;
      unit = "ms";
    }
    size_t ulen = strlen(unit);
    w -= ulen;
    memcpy(w, unit, ulen);
    w = put_frac(w, &u, prec);
    w = put_int(w, u);
  } else {
    *--w = 's';
    w = put_frac(w, &u, 9);
    w = put_int(w, u % 60);
    u /= 60;
    if (u > 0) {
      *--w = 'm';
      w = put_int(w, u % 60);
      u /= 60;
      if (u > 0) {
        *--w = 'h';
        w = put_int(w, u);
      }
    }
  }
  if (neg)
    *--w = '-';
  snprintf(buf, n, "%s", w);
  return buf;
}

/* ---- Network ------------------------------------------------------------- */

int
tool_split_hostport(const char *hostport, char *host, size_t hostlen, char *port,
                    size_t portlen)
{
  const char *colon;
  const char *h = hostport;
  size_t hl;
  if (*hostport == '[') {
    const char *close = strchr(hostport, ']');
    if (close == NULL || close[1] != ':')
      return -1;
    h = hostport + 1;
    hl = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(hostport, ':');
    if (colon == NULL || strchr(hostport, ':') != colon)
      return -1;
    hl = (size_t)(colon - hostport);
  }
  const char *p = colon + 1;
  if (*p == '\0' || hl >= hostlen || strlen(p) >= portlen)
    return -1;
  for (const char *q = p; *q != '\0'; q++)
    if (*q < '0' || *q > '9')
      return -1;
  memcpy(host, h, hl);
  host[hl] = '\0';
  strcpy(port, p);
  return 0;
}

static void
format_addr(const struct sockaddr *sa, char *buf, size_t n)
{
  char host[INET6_ADDRSTRLEN];
  char port[16];
  if (getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in),
                  host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(buf, n, "?");
    return;
  }
  if (sa->sa_family == AF_INET6)
    snprintf(buf, n, "[%s]:%s", host, port);
  else
    snprintf(buf, n, "%s:%s", host, port);
}

char *
tool_sockname(int fd, bool local, char *buf, size_t n)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &len)
                 : getpeername(fd, (struct sockaddr *)&ss, &len);
  if (rc != 0)
    snprintf(buf, n, "?");
  else
    format_addr((struct sockaddr *)&ss, buf, n);
  return buf;
}

int
tool_listen(const char *host, int port)
{
  char where[300];
  if (strchr(host, ':') != NULL)
    snprintf(where, sizeof where, "[%s]:%d", host, port);
  else
    snprintf(where, sizeof where, "%s:%d", host, port);
  if (port < 0 || port > 65535)
    tool_fatal("listen %s: invalid port", where);

  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE};
  struct addrinfo *res;
  int gai = getaddrinfo(host, portstr, &hints, &res);
  if (gai != 0)
    tool_fatal("listen %s: %s", where, gai_strerror(gai));
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0)
      break;
    err = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    tool_fatal("listen %s: %s", where, strerror(err));
  char bound[300];
  tool_sockname(fd, true, bound, sizeof bound);
  fprintf(stderr, "%s: listening on %s\n", progname, bound);
  fflush(stderr);
  return fd;
}

int
tool_dial(const char *hostport, char *err, size_t errlen)
{
  char host[256], port[16];
  if (tool_split_hostport(hostport, host, sizeof host, port, sizeof port) != 0) {
    snprintf(err, errlen, "dial %s: address must be HOST:PORT", hostport);
    return -1;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *res;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0) {
    snprintf(err, errlen, "dial %s: %s", hostport, gai_strerror(gai));
    return -1;
  }
  int fd = -1, e = 0;
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      e = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    e = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    snprintf(err, errlen, "dial %s: %s", hostport, strerror(e));
  return fd;
}

int
tool_write_all(int fd, const void *buf, size_t n)
{
  const char *p = buf;
  struct stat st;
  bool sock = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  while (n > 0) {
    ssize_t k = sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* ---- Shutdown ------------------------------------------------------------ */

static goro_chan *shutdown_chan;
static _Atomic int shutdown_sig;

/* Waits for SIGINT or SIGTERM (blocked by tool_init in every thread) and
 * closes the shutdown channel. A second signal after that ends the
 * process at once, so a stuck shutdown can still be interrupted. */
static void *
signal_thread(void *arg)
{
  (void)arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  for (;;) {
    int sig;
    if (sigwait(&set, &sig) != 0)
      continue;
    if (shutdown_sig != 0)
      _exit(1);
    shutdown_sig = sig;
    goro_chan_close(shutdown_chan);
  }
  return NULL;
}

goro_chan *
tool_shutdown_chan(void)
{
  if (shutdown_chan != NULL)
    return shutdown_chan;
  shutdown_chan = goro_chan_make(0, 0);
  if (shutdown_chan == NULL)
    tool_fatal("goro_chan_make: %s", strerror(errno));
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&t, &attr, signal_thread, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0)
    tool_fatal("pthread_create: %s", strerror(rc));
  return shutdown_chan;
}

int
tool_shutdown_signal(void)
{
  return shutdown_sig;
}
