/* clockwall - exercise 8.1: a wall of clocks, a client of several clock2
 * servers at once.
 *
 * One goroutine per clock dials its server and sends each time it reads
 * on the updates channel (a "down" update once the dial failed or the
 * connection ended). main prints a header row of the names, then selects
 * over a ticker, the updates and the shutdown channel: each update sets its
 * clock's column, each tick prints one row of every clock's latest time.
 * Columns are left-aligned, each as wide as the longer of its name and 8,
 * separated by two spaces; "--:--:--" before a clock's first time.
 *
 * The clocks' connections are kept in a net_conns set, so that at the end
 * main closes done, wakes the dials in progress (netcommon.h) and shuts
 * the connections down: each clock goroutine's dial, read or send then
 * returns. main waits for them, bounded, since one may still be resolving
 * its host name.
 */
#include "config.h"

#include "netcommon.h"
#include "tool.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIME_MAX 32 /* the longest time shown, in bytes */

struct clock {
  const char *name, *addr;  /* from NAME=HOST:PORT in argv */
  int width;                /* the column's width */
  char shown[TIME_MAX + 1]; /* the latest time; main only */
};

struct update {
  int clock;               /* index into clocks */
  bool down;               /* the connection failed or ended */
  char time[TIME_MAX + 1]; /* the line read, when !down */
};

static struct clock *clocks;
static goro_chan *updates; /* struct update, unbuffered */
static goro_chan *done;    /* closed by main at the end */
static struct net_conns *conns;

/* updates <- u, unless main is done. */
static bool
send_update(const struct update *u)
{
  goro_case cases[2] = {GORO_SEND_CASE(updates, u), GORO_RECV_CASE(done, NULL)};
  return goro_select(cases, 2, GORO_FOREVER) == 0;
}

/* One clock: dial, then for input.Scan() { updates <- line }. */
static void
watch_clock(void *arg)
{
  int i = (int)(intptr_t)arg;
  struct update u = {.clock = i};
  char err[512];
  int fd = net_dial(clocks[i].addr, err, sizeof err);
  if (fd < 0) {
    if (goro_chan_tryrecv(done, NULL) != 0) /* not cancelled by main's end */
      tool_warn("%s: %s", clocks[i].name, err);
  } else if (!net_conns_add(conns, fd)) {
    close(fd); /* main is done already */
    return;
  } else {
    struct net_lines *input = net_lines_make(fd);
    char *line;
    while (input != NULL && net_lines_next(input, &line) >= 0) {
      snprintf(u.time, sizeof u.time, "%s", line);
      if (!send_update(&u))
        break;
    }
    net_lines_free(input);
    net_conns_del(conns, fd);
    close(fd);
  }
  u.down = true;
  send_update(&u);
}

static void
print_row(int n, bool header)
{
  for (int i = 0; i < n; i++) {
    const char *s = header ? clocks[i].name : clocks[i].shown;
    printf("%s%-*s", i > 0 ? "  " : "", clocks[i].width, s);
  }
  putchar('\n');
  fflush(stdout);
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int64_t interval = GORO_SECOND;
  int rows = 0;
  struct tool_flag flags[] = {
      {"interval", TOOL_DURATION, &interval, "D", "time between two rows"},
      {"n", TOOL_INT, &rows, "N", "exit after N rows (0: never)"},
  };
  int first = tool_parse(argc, argv, "[-interval D] [-n N] NAME=HOST:PORT...",
                         "Shows the times of several clock servers side by side, a row every\n"
                         "interval (exercise 8.1).",
                         flags, sizeof flags / sizeof flags[0]);
  int n = argc - first;
  if (n == 0)
    tool_usage_error("no clock given");
  if (interval <= 0)
    tool_usage_error("-interval must be positive");
  if (rows < 0)
    tool_usage_error("-n must not be negative");
  net_wake_init();
  clocks = calloc((size_t)n, sizeof *clocks);
  if (clocks == NULL)
    tool_fatal("out of memory");
  for (int i = 0; i < n; i++) {
    char *arg = argv[first + i];
    char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0')
      tool_usage_error("bad clock %s: want NAME=HOST:PORT", arg);
    *eq = '\0';
    clocks[i].name = arg;
    clocks[i].addr = eq + 1;
    int w = (int)strlen(arg);
    clocks[i].width = w > 8 ? w : 8;
    strcpy(clocks[i].shown, "--:--:--");
  }

  updates = goro_chan_make(sizeof(struct update), 0);
  done = goro_chan_make(0, 0);
  goro_chan *all_done = goro_chan_make(0, 0);
  goro_wg *wg = goro_wg_make();
  conns = net_conns_make();
  goro_ticker *ticker = goro_ticker_make(interval);
  if (updates == NULL || done == NULL || all_done == NULL || wg == NULL || ticker == NULL)
    tool_fatal("out of memory");
  for (int i = 0; i < n; i++) {
    int rc = goro_wg_go(wg, watch_clock, (void *)(intptr_t)i);
    if (rc != 0)
      tool_fatal("goro_go: %s", goro_strerror(rc));
  }

  print_row(n, true);
  for (int printed = 0; rows == 0 || printed < rows;) {
    struct update u;
    goro_case cases[3] = {GORO_RECV_CASE(goro_ticker_chan(ticker), NULL),
                          GORO_RECV_CASE(updates, &u), GORO_RECV_CASE(tool_shutdown_chan(), NULL)};
    int k = goro_select(cases, 3, GORO_FOREVER);
    if (k == 0) {
      print_row(n, false);
      printed++;
    } else if (k == 1) {
      snprintf(clocks[u.clock].shown, sizeof clocks[u.clock].shown, "%s", u.down ? "down" : u.time);
    } else {
      break;
    }
  }

  goro_ticker_stop(ticker);
  goro_chan_close(done);
  net_wake(); /* ends the dials in progress */
  net_conns_shutdown(conns);
  if (goro_closer(wg, all_done) == 0) {
    goro_case cases[1] = {GORO_RECV_CASE(all_done, NULL)};
    if (goro_select(cases, 1, GORO_SECOND) < 0)
      return 0; /* a clock is still dialling: leave it */
  }
  goro_wg_free(wg);
  goro_chan_release(all_done);
  goro_chan_release(done);
  goro_chan_release(updates);
  free(clocks);
  return 0;
}
