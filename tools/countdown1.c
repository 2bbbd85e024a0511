/* countdown1 - gopl.io/ch8/countdown1 (section 8.7): a countdown for a
 * rocket launch, one number per tick of a ticker.
 *
 *   fmt.Println("Commencing countdown.")
 *   tick := time.Tick(1 * time.Second)
 *   for countdown := 10; countdown > 0; countdown-- {
 *       fmt.Println(countdown)
 *       <-tick
 *   }
 *   launch()
 *
 * time.Tick's ticker is never stopped; neither is this one: the process
 * ends right after the launch, which is where the book says a leaked
 * ticker does no harm (countdown3 shows the stop). It prints the same
 * first line as countdown2 and countdown3, though it cannot be aborted.
 */
#include "config.h"

#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void
launch(void)
{
  printf("Lift off!\n");
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  int n = 10;
  int64_t period = GORO_SECOND;
  struct tool_flag flags[] = {
      {"n", TOOL_INT, &n, "N", "count down from N"},
      {"tick", TOOL_DURATION, &period, "D", "time between two numbers"},
  };
  int i =
      tool_parse(argc, argv, "[-n N] [-tick D]",
                 "Counts down to a rocket launch, one number per tick (gopl.io/ch8/countdown1).",
                 flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (n < 0)
    tool_usage_error("-n %d: want 0 or more", n);
  if (period <= 0)
    tool_usage_error("-tick: want a positive duration");
  setvbuf(stdout, NULL, _IOLBF, 0); /* each number as it is counted */

  printf("Commencing countdown.  Press return to abort.\n");
  goro_ticker *ticker = goro_ticker_make(period); /* tick := time.Tick(period) */
  if (ticker == NULL)
    tool_fatal("start ticker: %s", strerror(errno));
  goro_chan *tick = goro_ticker_chan(ticker);
  for (int countdown = n; countdown > 0; countdown--) {
    printf("%d\n", countdown);
    goro_chan_recv(tick, NULL);
  }
  launch();
  return 0;
}
