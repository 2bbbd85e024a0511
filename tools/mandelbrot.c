/* mandelbrot - exercise 8.5: the Mandelbrot program of section 3.3
 * (gopl.io/ch3/mandelbrot), its main loop run in parallel.
 *
 * The picture is the book's: the square -2..+2 of the complex plane,
 * 200 iterations, contrast 15, a point that escapes after n iterations is
 * gray 255 - 15*n (uint8 arithmetic, wrapping as Go's does), a point that
 * never escapes is black. The book's loop over rows becomes a channel of
 * row indices: main sends 0..size-1 and closes it, and -workers
 * goroutines range over it, each computing whole rows of the image; a
 * WaitGroup tells main when every row is done. Each pixel is written by
 * the one worker that received its row, and main reads the image only
 * after goro_wg_wait, so no pixel is shared.
 *
 * The PNG is encoded by libgd with a fixed zlib level from an image that
 * does not depend on which worker computed which row: the bytes are the
 * same for every -workers.
 */
#include "config.h"

#include "tool.h"

#include <complex.h>
#include <errno.h>
#include <fcntl.h>
#include <gd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum {
  ITERATIONS = 200,
  CONTRAST = 15,
  MAX_SIZE = 16384, /* 1 GiB of truecolor pixels */
  PNG_LEVEL = 6,    /* zlib's default level, named so it cannot drift */
};
static const double xmin = -2, ymin = -2, xmax = +2, ymax = +2;

/* What every worker shares: read-only, except the pixels of the rows each
 * one receives. */
struct job {
  gdImagePtr img; /* size x size truecolor */
  int size;
  goro_chan *rows; /* chan int: row indices, closed by main after the last */
};

/* The book's mandelbrot(z): a gray level, or black (0) inside the set. */
static uint8_t
mandelbrot(double complex z)
{
  double complex v = 0;
  for (uint8_t n = 0; n < ITERATIONS; n++) {
    v = v * v + z;
    if (cabs(v) > 2)
      return (uint8_t)(255 - CONTRAST * n);
  }
  return 0;
}

/* for py := range rows { compute row py } */
static void
worker(void *arg)
{
  struct job *j = arg;
  for (int py; goro_chan_recv(j->rows, &py) > 0;) {
    double y = (double)py / j->size * (ymax - ymin) + ymin;
    for (int px = 0; px < j->size; px++) {
      double x = (double)px / j->size * (xmax - xmin) + xmin;
      uint8_t g = mandelbrot(x + y * I);
      gdImageSetPixel(j->img, px, py, gdTrueColor(g, g, g));
    }
  }
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int workers = ncpu > 0 ? (int)ncpu : 1;
  int size = 1024;
  const char *out = NULL;
  struct tool_flag flags[] = {
      {"workers", TOOL_INT, &workers, "N", "goroutines computing rows"},
      {"size", TOOL_INT, &size, "N", "width and height of the picture in pixels"},
      {"o", TOOL_STRING, &out, "FILE", "write the PNG to FILE instead of stdout"},
  };
  int i = tool_parse(argc, argv, "[-workers N] [-size N] [-o FILE]",
                     "Writes the Mandelbrot set of section 3.3 as a PNG, its rows computed\n"
                     "in parallel by N goroutines fed by a channel (exercise 8.5). N defaults to\n"
                     "the number of CPUs.",
                     flags, sizeof flags / sizeof flags[0]);
  if (i != argc)
    tool_usage_error("unexpected argument %s", argv[i]);
  if (workers < 1)
    tool_usage_error("-workers %d: want 1 or more", workers);
  if (size < 1 || size > MAX_SIZE)
    tool_usage_error("-size %d: want 1 to %d", size, MAX_SIZE);

  struct job j = {.size = size};
  j.img = gdImageCreateTrueColor(size, size);
  if (j.img == NULL)
    tool_fatal("create a %dx%d image: out of memory", size, size);
  gdImageAlphaBlending(j.img, 0); /* pixels are stored, not blended */
  j.rows = goro_chan_make(sizeof(int), 0);
  goro_wg *wg = goro_wg_make();
  if (j.rows == NULL || wg == NULL)
    tool_fatal("start: %s", strerror(errno));
  for (int w = 0; w < workers; w++) {
    int rc = goro_wg_go(wg, worker, &j);
    if (rc < 0)
      tool_fatal("start worker: %s", goro_strerror(rc));
  }
  for (int py = 0; py < size; py++)
    goro_chan_send(j.rows, &py);
  goro_chan_close(j.rows);
  goro_wg_wait(wg); /* every row is computed; the workers have returned */
  goro_wg_free(wg);
  goro_chan_release(j.rows);

  int len = 0;
  void *png = gdImagePngPtrEx(j.img, &len, PNG_LEVEL);
  gdImageDestroy(j.img);
  if (png == NULL)
    tool_fatal("encode PNG: libgd failed");
  int fd = STDOUT_FILENO;
  if (out != NULL) {
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
      tool_fatal("open %s: %s", out, strerror(errno));
  }
  if (tool_write_all(fd, png, (size_t)len) < 0)
    tool_fatal("write %s: %s", out != NULL ? out : "stdout", strerror(errno));
  gdFree(png);
  if (out != NULL && close(fd) < 0)
    tool_fatal("close %s: %s", out, strerror(errno));
  return 0;
}
