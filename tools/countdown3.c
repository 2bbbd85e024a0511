/* countdown3 - gopl.io/ch8/countdown3 (section 8.7): the countdown with a
 * ticker and an abort channel in one select, and the ticker stopped as the
 * book advises once the countdown no longer needs it:
 *
 *   ticker := time.NewTicker(1 * time.Second)
 *   for countdown := 10; countdown > 0; countdown-- {
 *       fmt.Println(countdown)
 *       select {
 *       case <-ticker.C:
 *           // Do nothing.
 *       case <-abort:
 *           fmt.Println("Launch aborted!")
 *           ticker.Stop()
 *           return
 *       }
 *   }
 *   ticker.Stop() // cause the ticker's goroutine to terminate
 *   launch()
 *
 * A goroutine reads one byte from stdin and sends on abort. End of input
 * (read returns 0) or a read error is not an abort: the reader then
 * returns without sending, and the countdown runs to the end.
 */
#include "config.h"

#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* os.Stdin.Read(make([]byte, 1)); abort <- struct{}{} -- on a byte only. */
static void
reader(void *arg)
{
  goro_chan *abort = arg;
  char b;
  ssize_t k;
  do
    k = read(STDIN_FILENO, &b, 1);
  while (k < 0 && errno == EINTR);
  if (k == 1)
    goro_chan_send(abort, NULL);
}

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
  int i = tool_parse(argc, argv, "[-n N] [-tick D]",
                     "Counts down to a rocket launch, one number per tick; a byte on stdin\n"
                     "(press return) aborts it (gopl.io/ch8/countdown3).",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (n < 0)
    tool_usage_error("-n %d: want 0 or more", n);
  if (period <= 0)
    tool_usage_error("-tick: want a positive duration");
  setvbuf(stdout, NULL, _IOLBF, 0); /* each number as it is counted */

  /* abort is unbuffered and never released: the reader may still hold it
   * (blocked in read) when main returns. */
  goro_chan *abort = goro_chan_make(0, 0);
  if (abort == NULL)
    tool_fatal("make channel: %s", strerror(errno));
  int rc = goro_go(reader, abort);
  if (rc < 0)
    tool_fatal("start reader: %s", goro_strerror(rc));

  printf("Commencing countdown.  Press return to abort.\n");
  goro_ticker *ticker = goro_ticker_make(period);
  if (ticker == NULL)
    tool_fatal("start ticker: %s", strerror(errno));
  for (int countdown = n; countdown > 0; countdown--) {
    printf("%d\n", countdown);
    goro_case cases[] = {
        GORO_RECV_CASE(goro_ticker_chan(ticker), NULL), /* case <-ticker.C: */
        GORO_RECV_CASE(abort, NULL),                    /* case <-abort: */
    };
    if (goro_select(cases, 2, GORO_FOREVER) == 1) {
      printf("Launch aborted!\n");
      goro_ticker_stop(ticker);
      return 0;
    }
  }
  goro_ticker_stop(ticker); /* the ticker's timer is removed and freed */
  launch();
  return 0;
}
