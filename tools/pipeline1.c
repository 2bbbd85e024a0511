/* pipeline1 - gopl.io/ch8/pipeline1 (section 8.4.2): counter -> squarer
 * -> printer, three goroutines joined by two unbuffered channels, none
 * ever closed.
 *
 * As the book's, it prints the squares forever. With -n N the counter
 * stops after 0..N-1 and the printer after N squares; main then returns
 * with the squarer still waiting on naturals, as the book's infinite
 * pipeline never ends its goroutines (pipeline2 closes its channels to
 * end them). The channels are never released for that reason: a
 * goroutine still uses them when the process exits.
 *
 * Squares are Go's int (64 bits) and wrap as Go's do, computed unsigned.
 * A closed stdout kills the process by SIGPIPE as it kills a Go program,
 * so `pipeline1 | head` ends quietly.
 */
#include "config.h"

#include "tool.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static goro_chan *naturals, *squares; /* chan int64_t, unbuffered */
static int n = -1;                    /* -n; -1: forever */

/* Counter: for x := 0; ; x++ { naturals <- x } */
static void
counter(void *arg)
{
  (void)arg;
  for (int64_t x = 0; n < 0 || x < n; x++)
    goro_chan_send(naturals, &x);
}

/* Squarer: for { x := <-naturals; squares <- x * x } */
static void
squarer(void *arg)
{
  (void)arg;
  for (;;) {
    int64_t x;
    goro_chan_recv(naturals, &x);
    int64_t sq = (int64_t)((uint64_t)x * (uint64_t)x);
    goro_chan_send(squares, &sq);
  }
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  struct tool_flag flags[] = {
      {"n", TOOL_INT, &n, "N", "print the squares of 0..N-1 only; -1: forever"},
  };
  int i = tool_parse(argc, argv, "[-n N]",
                     "Prints the squares 0, 1, 4, 9, ... forever, through a counter, a\n"
                     "squarer and a printer goroutine (gopl.io/ch8/pipeline1).",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (n < -1)
    tool_usage_error("-n %d: want 0 or more", n);
  signal(SIGPIPE, SIG_DFL);

  naturals = goro_chan_make(sizeof(int64_t), 0);
  squares = goro_chan_make(sizeof(int64_t), 0);
  if (naturals == NULL || squares == NULL)
    tool_fatal("make channel: %s", strerror(errno));
  int rc = goro_go(counter, NULL);
  if (rc == 0)
    rc = goro_go(squarer, NULL);
  if (rc < 0)
    tool_fatal("start goroutine: %s", goro_strerror(rc));

  /* Printer (in main goroutine) */
  for (int64_t k = 0; n < 0 || k < n; k++) {
    int64_t sq;
    goro_chan_recv(squares, &sq);
    if (printf("%lld\n", (long long)sq) < 0)
      tool_fatal("write stdout: %s", strerror(errno));
  }
  if (fflush(stdout) != 0)
    tool_fatal("write stdout: %s", strerror(errno));
  return 0;
}
