/* pipeline3 - gopl.io/ch8/pipeline3: counter -> squarer -> printer, with
 * directional channels (section 8.4.3).
 *
 * counter(out chan<- int), squarer(out chan<- int, in <-chan int) and
 * printer(in <-chan int) take goro_sendchan and goro_recvchan views, so
 * that receiving from out, sending on or closing in, or swapping
 * squarer's arguments does not compile (test/check_pipeline3.sh checks
 * the swap). Values go through the checked _VAR macros: a variable of
 * the wrong size would be GORO_EINVAL, never a short or long copy.
 *
 * Ownership: each goroutine gets views holding references of its own and
 * releases them when it returns; main keeps one reference to squares for
 * printer and drops its reference to naturals once the goroutines have
 * theirs.
 */
#include <goro.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
usage(FILE *f)
{
  fputs("usage: pipeline3 [-h]\n"
        "Prints the squares of 0..99, one a line, through a pipeline of three\n"
        "goroutines joined by send-only and receive-only channels\n"
        "(The Go Programming Language, section 8.4.3).\n",
        f);
}

/* Go: func counter(out chan<- int) */
static void
counter(goro_sendchan *out)
{
  for (int x = 0; x < 100; x++)
    if (GORO_SEND_VAR(out, x) != 0) /* out <- x */
      break;
  goro_close(out); /* close(out) */
}

/* Go: func squarer(out chan<- int, in <-chan int) */
static void
squarer(goro_sendchan *out, goro_recvchan *in)
{
  for (int v; GORO_RECV_VAR(in, v) > 0;) { /* for v := range in */
    int sq = v * v;
    if (GORO_SEND_VAR(out, sq) != 0) /* out <- v * v */
      break;
  }
  goro_close(out);
}

/* Go: func printer(in <-chan int) */
static void
printer(goro_recvchan *in)
{
  for (int v; GORO_RECV_VAR(in, v) > 0;) /* for v := range in */
    printf("%d\n", v);
}

/* The goroutines' entry points: go counter(naturals), go squarer(squares,
 * naturals). Each argument block holds its own references. */
struct counter_args {
  goro_sendchan *out;
};

static void
counter_main(void *arg)
{
  struct counter_args *a = arg;
  counter(a->out);
  goro_sendchan_release(a->out);
}

struct squarer_args {
  goro_sendchan *out;
  goro_recvchan *in;
};

static void
squarer_main(void *arg)
{
  struct squarer_args *a = arg;
  squarer(a->out, a->in);
  goro_sendchan_release(a->out);
  goro_recvchan_release(a->in);
}

int
main(int argc, char **argv)
{
  int opt;
  opterr = 0; /* the usage is the message */
  while ((opt = getopt(argc, argv, "h")) != -1) {
    if (opt == 'h') {
      usage(stdout);
      return 0;
    }
    usage(stderr);
    return 2;
  }
  if (optind != argc) {
    usage(stderr);
    return 2;
  }

  goro_chan *naturals = goro_chan_make(sizeof(int), 0); /* make(chan int) */
  goro_chan *squares = goro_chan_make(sizeof(int), 0);
  if (naturals == NULL || squares == NULL) {
    fprintf(stderr, "pipeline3: make channel: %s\n", strerror(errno));
    return 1;
  }
  /* Both live until the goroutines have returned: main outlives them. */
  static struct counter_args ca;
  static struct squarer_args sa;
  ca.out = goro_sendchan_retain(goro_chan_sendonly(naturals));
  sa.out = goro_sendchan_retain(goro_chan_sendonly(squares));
  sa.in = goro_recvchan_retain(goro_chan_recvonly(naturals));
  goro_chan_release(naturals);

  int rc = goro_go_named("counter", counter_main, &ca); /* go counter(naturals) */
  if (rc == 0)
    rc = goro_go_named("squarer", squarer_main, &sa); /* go squarer(squares, naturals) */
  if (rc != 0) {
    fprintf(stderr, "pipeline3: start goroutine: %s\n", goro_strerror(rc));
    return 1;
  }
  printer(goro_chan_recvonly(squares)); /* printer(squares) */
  goro_chan_release(squares);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "pipeline3: write stdout: %s\n", strerror(errno));
    return 1;
  }
  return 0;
}
