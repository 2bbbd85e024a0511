/* spinner - gopl.io/ch8/spinner (section 8.1): an animation while the
 * main goroutine computes a Fibonacci number the slow way.
 *
 *   go spinner(100 * time.Millisecond)
 *   fibN := fib(n) // slow
 *   fmt.Printf("\rFibonacci(%d) = %d\n", n, fibN)
 *
 * The book's main just returns and lets the exit kill the spinner, which
 * may still write a frame after the result. Here main asks the spinner to
 * stop by closing `done` (the broadcast of section 8.9) and waits for it
 * with a WaitGroup before printing, so the result line is the last thing
 * on stdout: the spinner writes only before it returns, and the WaitGroup
 * reaches zero only after it has returned.
 */
#include "config.h"

#include "tool.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* fib(92) is the largest that fits in int64_t. */
enum { MAX_N = 92 };

struct spin {
  int64_t delay;   /* time each frame stays on screen */
  goro_chan *done; /* closed by main: stop spinning */
};

/* Writes `-\|/` frames, each after a carriage return, until done is
 * closed; a frame waits `delay` in a select on done instead of the book's
 * time.Sleep, so that a stop request is seen at once. */
static void
spinner(void *arg)
{
  struct spin *s = arg;
  for (;;) {
    for (const char *r = "-\\|/"; *r != '\0'; r++) {
      printf("\r%c", *r);
      fflush(stdout);
      goro_case c = GORO_RECV_CASE(s->done, NULL);
      if (goro_select(&c, 1, s->delay) == 0)
        return;
    }
  }
}

static int64_t
fib(int x)
{
  if (x < 2)
    return x;
  return fib(x - 1) + fib(x - 2);
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int n = 45;
  struct tool_flag flags[] = {
      {"n", TOOL_INT, &n, "N", "compute Fibonacci(N), 0 to 92"},
  };
  int i = tool_parse(argc, argv, "[-n N]",
                     "Computes Fibonacci(N) by the slow recursion while a goroutine spins\n"
                     "an animation (gopl.io/ch8/spinner).",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (n < 0 || n > MAX_N)
    tool_usage_error("-n %d: want 0 to %d", n, MAX_N);

  struct spin s = {.delay = 100 * GORO_MILLISECOND};
  s.done = goro_chan_make(0, 0);
  goro_wg *wg = goro_wg_make();
  if (s.done == NULL || wg == NULL)
    tool_fatal("start: %s", strerror(errno));
  int rc = goro_wg_go(wg, spinner, &s); /* go spinner(100 * time.Millisecond) */
  if (rc < 0)
    tool_fatal("start spinner: %s", goro_strerror(rc));

  int64_t fibN = fib(n); /* slow */

  goro_chan_close(s.done);
  goro_wg_wait(wg); /* the spinner has returned: nothing else writes */
  printf("\rFibonacci(%d) = %lld\n", n, (long long)fibN);
  goro_chan_release(s.done);
  goro_wg_free(wg);
  if (fflush(stdout) != 0)
    tool_fatal("write stdout: %s", strerror(errno));
  return 0;
}
