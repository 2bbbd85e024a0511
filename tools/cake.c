/* cake - gopl.io/ch8/cake (section 8.4.4): the cake shop. A baker, one or
 * more icers and an inscriber, each a goroutine, pass cakes down an
 * assembly line of two channels:
 *
 *   baker --baked (cap -bake-buf)--> icer x -icers --iced (cap -ice-buf)--> inscriber
 *
 * Each cook works a time normally distributed around its mean with the
 * given spread (standard deviation), as the book's work() does. The baker
 * closes baked after the last cake; each icer ranges over baked; the
 * inscriber (main) takes -cakes cakes from iced. The last line says how
 * long the shop took, so the effect of buffers (which absorb the spread)
 * and of extra icers (when icing is the slow stage) is visible:
 *
 *   cake -cakes 20                                 # 3 stages of 10ms: about 220ms
 *   cake -ice 50ms                                 # icing is the bottleneck
 *   cake -ice 50ms -icers 5                        # five icers hide it
 *   cake -bake-spread 5ms -ice-spread 5ms -inscribe-spread 5ms
 *   cake -bake-spread 5ms -ice-spread 5ms -inscribe-spread 5ms -bake-buf 10 -ice-buf 10
 *
 * Unlike the book's benchmark, main waits (a WaitGroup) for the baker and
 * the icers to return before it reports, so no goroutine outlives the run.
 */
#include "config.h"

#include "tool.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shop's parameters, the book's cake.Shop; read-only once the cooks run. */
struct shop {
  bool verbose;
  int cakes;           /* number of cakes to bake */
  int64_t bake_time;   /* time to bake one cake */
  int64_t bake_spread; /* standard deviation of baking time */
  int bake_buf;        /* buffer slots between baking and icing */
  int num_icers;       /* number of cooks doing icing */
  int64_t ice_time;    /* time to ice one cake */
  int64_t ice_spread;  /* standard deviation of icing time */
  int ice_buf;         /* buffer slots between icing and inscribing */
  int64_t inscribe_time;
  int64_t inscribe_spread;
};

/* One cook: the shop, its channels, and its own random numbers (no lock:
 * each cook's state is used by its goroutine alone). */
struct cook {
  const struct shop *s;
  goro_chan *baked; /* chan int (a cake), cap bake_buf */
  goro_chan *iced;  /* chan int, cap ice_buf */
  uint64_t rng;     /* xorshift64* state, never 0 */
};

static double
uniform(struct cook *k)
{
  k->rng ^= k->rng >> 12;
  k->rng ^= k->rng << 25;
  k->rng ^= k->rng >> 27;
  return (double)((k->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0; /* [0, 1) */
}

/* A standard normal variate (Box-Muller), as rand.NormFloat64. */
static double
normal(struct cook *k)
{
  double u1 = 1.0 - uniform(k); /* (0, 1]: log is finite */
  double u2 = uniform(k);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

/* work blocks the calling goroutine for a period of time that is normally
 * distributed around d with a standard deviation of spread (at least 0). */
static void
work(struct cook *k, int64_t d, int64_t spread)
{
  double delay = (double)d + normal(k) * (double)spread;
  if (delay > 0)
    goro_sleep((int64_t)delay);
}

static void
baker(void *arg)
{
  struct cook *k = arg;
  for (int c = 0; c < k->s->cakes; c++) {
    if (k->s->verbose)
      printf("baking %d\n", c);
    work(k, k->s->bake_time, k->s->bake_spread);
    goro_chan_send(k->baked, &c);
  }
  goro_chan_close(k->baked);
}

static void
icer(void *arg)
{
  struct cook *k = arg;
  for (int c; goro_chan_recv(k->baked, &c) > 0;) { /* for c := range baked */
    if (k->s->verbose)
      printf("icing %d\n", c);
    work(k, k->s->ice_time, k->s->ice_spread);
    goro_chan_send(k->iced, &c);
  }
}

static void
inscriber(struct cook *k)
{
  for (int i = 0; i < k->s->cakes; i++) {
    int c;
    goro_chan_recv(k->iced, &c);
    if (k->s->verbose)
      printf("inscribing %d\n", c);
    work(k, k->s->inscribe_time, k->s->inscribe_spread);
    if (k->s->verbose)
      printf("finished %d\n", c);
  }
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  struct shop s = {
      .cakes = 20, /* the book's benchmark defaults */
      .bake_time = 10 * GORO_MILLISECOND,
      .num_icers = 1,
      .ice_time = 10 * GORO_MILLISECOND,
      .inscribe_time = 10 * GORO_MILLISECOND,
  };
  struct tool_flag flags[] = {
      {"cakes", TOOL_INT, &s.cakes, "N", "number of cakes to make"},
      {"bake", TOOL_DURATION, &s.bake_time, "D", "mean time to bake a cake"},
      {"bake-spread", TOOL_DURATION, &s.bake_spread, "D", "standard deviation of the baking time"},
      {"bake-buf", TOOL_INT, &s.bake_buf, "N", "buffer slots between baking and icing"},
      {"icers", TOOL_INT, &s.num_icers, "N", "number of cooks icing"},
      {"ice", TOOL_DURATION, &s.ice_time, "D", "mean time to ice a cake"},
      {"ice-spread", TOOL_DURATION, &s.ice_spread, "D", "standard deviation of the icing time"},
      {"ice-buf", TOOL_INT, &s.ice_buf, "N", "buffer slots between icing and inscribing"},
      {"inscribe", TOOL_DURATION, &s.inscribe_time, "D", "mean time to inscribe a cake"},
      {"inscribe-spread", TOOL_DURATION, &s.inscribe_spread, "D",
       "standard deviation of the inscribing time"},
      {"v", TOOL_BOOL, &s.verbose, NULL, "print each step of each cake"},
  };
  int i = tool_parse(argc, argv,
                     "[-cakes N] [-bake D] [-bake-spread D] [-bake-buf N] [-icers N] [-ice D]\n"
                     "       [-ice-spread D] [-ice-buf N] [-inscribe D] [-inscribe-spread D] [-v]",
                     "Simulates the book's cake shop (gopl.io/ch8/cake): a baker, icers and an\n"
                     "inscriber joined by channels, and prints how fast it made the cakes.",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (s.cakes < 0)
    tool_usage_error("-cakes %d: want 0 or more", s.cakes);
  if (s.num_icers < 1)
    tool_usage_error("-icers %d: want 1 or more", s.num_icers);
  if (s.bake_buf < 0 || s.ice_buf < 0)
    tool_usage_error("a buffer of %d slots: want 0 or more",
                     s.bake_buf < 0 ? s.bake_buf : s.ice_buf);
  if (s.bake_time < 0 || s.bake_spread < 0 || s.ice_time < 0 || s.ice_spread < 0 ||
      s.inscribe_time < 0 || s.inscribe_spread < 0)
    tool_usage_error("durations must not be negative");

  goro_chan *baked = goro_chan_make(sizeof(int), (size_t)s.bake_buf);
  goro_chan *iced = goro_chan_make(sizeof(int), (size_t)s.ice_buf);
  goro_wg *wg = goro_wg_make(); /* the baker and the icers */
  struct cook *cooks = calloc((size_t)s.num_icers + 2, sizeof *cooks);
  if (baked == NULL || iced == NULL || wg == NULL || cooks == NULL)
    tool_fatal("open the shop: %s", strerror(errno));
  for (int k = 0; k < s.num_icers + 2; k++)
    cooks[k] = (struct cook){
        .s = &s, .baked = baked, .iced = iced, .rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1)};

  int64_t start = goro_now();
  int rc = goro_wg_go(wg, baker, &cooks[0]);
  for (int k = 0; rc == 0 && k < s.num_icers; k++)
    rc = goro_wg_go(wg, icer, &cooks[2 + k]);
  if (rc < 0)
    tool_fatal("hire a cook: %s", goro_strerror(rc));
  inscriber(&cooks[1]);
  int64_t elapsed = goro_now() - start;
  goro_wg_wait(wg);

  char d[32];
  int64_t rounded = (elapsed + GORO_MICROSECOND / 2) / GORO_MICROSECOND * GORO_MICROSECOND;
  printf("%d cakes in %s: %.1f cakes/s\n", s.cakes, tool_format_duration(rounded, d, sizeof d),
         elapsed > 0 ? s.cakes / ((double)elapsed / GORO_SECOND) : 0.0);
  goro_chan_release(baked);
  goro_chan_release(iced);
  goro_wg_free(wg);
  free(cooks);
  if (fflush(stdout) != 0)
    tool_fatal("write stdout: %s", strerror(errno));
  return 0;
}
