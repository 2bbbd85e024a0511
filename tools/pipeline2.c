/* pipeline2 - gopl.io/ch8/pipeline2: counter -> squarer -> printer.
 *
 * The counter sends 0..99 on naturals and closes it; the squarer ranges
 * over naturals, sends each square on squares and closes it; main prints
 * the squares. Main releases both channels once squares is closed: by
 * then neither goroutine uses them any more.
 */
#include <goro.h>
#include <stdio.h>

static goro_chan *naturals, *squares;

static void
counter(void *arg)
{
  (void)arg;
  for (int x = 0; x < 100; x++)
    goro_chan_send(naturals, &x);
  goro_chan_close(naturals);
}

static void
squarer(void *arg)
{
  (void)arg;
  for (int x; goro_chan_recv(naturals, &x) > 0;) {
    int sq = x * x;
    goro_chan_send(squares, &sq);
  }
  goro_chan_close(squares);
}

int
main(void)
{
  naturals = goro_chan_make(sizeof(int), 0);
  squares = goro_chan_make(sizeof(int), 0);
  if (naturals == NULL || squares == NULL) {
    perror("goro_chan_make");
    return 1;
  }
  int rc = goro_go(counter, NULL);
  if (rc == 0)
    rc = goro_go(squarer, NULL);
  if (rc != 0) {
    fprintf(stderr, "goro_go: %s\n", goro_strerror(rc));
    return 1;
  }
  for (int x; goro_chan_recv(squares, &x) > 0;)
    printf("%d\n", x);
  goro_chan_release(naturals);
  goro_chan_release(squares);
  return 0;
}
