/* countdown2 - gopl.io/ch8/countdown2 (section 8.7): a countdown that a
 * byte on stdin aborts. A goroutine reads one byte and sends on abort;
 * main selects between time.After and abort:
 *
 *   select {
 *   case <-time.After(10 * time.Second):
 *       // Do nothing.
 *   case <-abort:
 *       fmt.Println("Launch aborted!")
 *       return
 *   }
 *   launch()
 *
 * The book waits the whole countdown in one select; here a select per
 * number waits one -tick on a fresh goro_after channel, so the numbers are
 * printed as countdown1 prints them. Releasing an after channel that has
 * not fired cancels its timer, so an abort leaves no timer behind.
 *
 * End of input (read returns 0) or a read error is not an abort: the
 * reader then returns without sending, and the countdown runs to the end.
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
                     "(press return) aborts it (gopl.io/ch8/countdown2).",
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
  for (int countdown = n; countdown > 0; countdown--) {
    printf("%d\n", countdown);
    goro_chan *after = goro_after(period);
    if (after == NULL)
      tool_fatal("start timer: %s", strerror(errno));
    goro_case cases[] = {
        GORO_RECV_CASE(after, NULL), /* case <-time.After(period): */
        GORO_RECV_CASE(abort, NULL), /* case <-abort: */
    };
    int which = goro_select(cases, 2, GORO_FOREVER);
    goro_chan_release(after);
    if (which == 1) {
      printf("Launch aborted!\n");
      return 0;
    }
  }
  launch();
  return 0;
}
