/* thumbnail - gopl.io/ch8/thumbnail (section 8.5): thumbnails made in
 * parallel, in the shape of the book's makeThumbnails6:
 *
 *   func makeThumbnails6(filenames <-chan string) int64 {
 *       sizes := make(chan int64)
 *       var wg sync.WaitGroup // number of working goroutines
 *       for f := range filenames {
 *           wg.Add(1)
 *           go func(f string) { // worker
 *               defer wg.Done()
 *               thumb, err := thumbnail.ImageFile(f)
 *               if err != nil { log.Println(err); return }
 *               info, _ := os.Stat(thumb)
 *               sizes <- info.Size()
 *           }(f)
 *       }
 *       go func() { wg.Wait(); close(sizes) }() // closer
 *       var total int64
 *       for size := range sizes { total += size }
 *       return total
 *   }
 *
 * A feeder goroutine sends the file names (the arguments, or the lines of
 * stdin as the book's main reads them) on filenames and closes it. Each
 * worker sends the thumbnail's name with its size (makeThumbnails5's item)
 * so that main, the only goroutine writing stdout, prints each name as it
 * adds its size. goro_closer is the closer goroutine.
 *
 * One goroutine per file, as the book; a counting semaphore of one token
 * per CPU (crawl2's, section 8.6) bounds how many decode at once, so a long
 * list does not hold every decoded image in memory together.
 *
 * ImageFile: for dir/foo.EXT (EXT jpg, jpeg or png, any case) it decodes
 * the image with libgd (JPEG or PNG, told apart by their first bytes),
 * scales it so that its longer side is -size pixels (never enlarging it;
 * the aspect kept, each side at least 1 pixel) with gdImageCopyResampled
 * onto white (a PNG's transparency has nothing else to show through in a
 * JPEG), and writes dir/foo.thumb.jpg.
 *
 * libgd's own messages go through gdSetErrorMethod into a buffer of the
 * calling thread, so a failure is reported as one line
 * "thumbnail: FILE: decode: why" instead of libgd's stderr chatter.
 */
#include "config.h"

#include "tool.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_SIZE = 10000, JPEG_QUALITY = 85 };

static int thumb_size = 128;           /* -size; read-only once workers run */
static goro_chan *tokens;              /* chan struct{}, cap ncpu: decodes in progress */
static atomic_bool failed;             /* some file failed */
static _Thread_local char gd_msg[256]; /* libgd's last messages on this thread */

/* gdSetErrorMethod's callback: appends the message (without its newline)
 * to the calling thread's gd_msg. Called on the thread that called libgd. */
static void
gd_message(int priority, const char *fmt, va_list ap)
{
  (void)priority;
  size_t k = strlen(gd_msg);
  if (k > 0 && k + 2 < sizeof gd_msg) {
    gd_msg[k++] = ' ';
    gd_msg[k] = '\0';
  }
  if (k + 1 < sizeof gd_msg)
    vsnprintf(gd_msg + k, sizeof gd_msg - k, fmt, ap);
  k = strlen(gd_msg);
  while (k > 0 && isspace((unsigned char)gd_msg[k - 1]))
    gd_msg[--k] = '\0';
}

/* The extension of path's last component (after its last dot), or NULL. */
static const char *
extension(const char *path)
{
  const char *base = strrchr(path, '/');
  base = base != NULL ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  return dot != NULL && dot != base ? dot + 1 : NULL;
}

/* The book's thumbnail.ImageFile: makes infile's thumbnail and returns its
 * name (malloc'd), or NULL with the reason in err. */
static char *
image_file(const char *infile, char *err, size_t errlen)
{
  const char *ext = extension(infile);
  if (ext == NULL || (strcasecmp(ext, "jpg") != 0 && strcasecmp(ext, "jpeg") != 0 &&
                      strcasecmp(ext, "png") != 0)) {
    snprintf(err, errlen, "%s: not a .jpg, .jpeg or .png file", infile);
    return NULL;
  }
  size_t stem = (size_t)(ext - 1 - infile);
  char *outfile = malloc(stem + sizeof ".thumb.jpg");
  if (outfile == NULL) {
    snprintf(err, errlen, "%s: %s", infile, strerror(ENOMEM));
    return NULL;
  }
  memcpy(outfile, infile, stem);
  memcpy(outfile + stem, ".thumb.jpg", sizeof ".thumb.jpg");

  gdImagePtr src = NULL, dst = NULL;
  void *jpeg = NULL;
  int fd = -1;
  FILE *in = fopen(infile, "rbe");
  if (in == NULL) {
    snprintf(err, errlen, "open %s: %s", infile, strerror(errno));
    goto fail;
  }
  unsigned char magic[8] = {0};
  size_t got = fread(magic, 1, sizeof magic, in);
  rewind(in);
  gd_msg[0] = '\0';
  if (got >= 3 && magic[0] == 0xff && magic[1] == 0xd8 && magic[2] == 0xff)
    src = gdImageCreateFromJpegEx(in, 0); /* 0: a warning (truncated data) fails too */
  else if (got == 8 && memcmp(magic, "\x89PNG\r\n\x1a\n", 8) == 0)
    src = gdImageCreateFromPng(in);
  else {
    snprintf(err, errlen, "%s: decode: not a JPEG or PNG image", infile);
    goto fail;
  }
  if (src == NULL) {
    snprintf(err, errlen, "%s: decode: %s", infile, gd_msg[0] != '\0' ? gd_msg : "corrupt image");
    goto fail;
  }

  /* The longer side becomes thumb_size, unless the image is smaller. */
  int w = gdImageSX(src), h = gdImageSY(src), tw = w, th = h;
  if (w >= h && w > thumb_size) {
    tw = thumb_size;
    th = (int)(((int64_t)h * thumb_size + w / 2) / w);
  } else if (h > w && h > thumb_size) {
    th = thumb_size;
    tw = (int)(((int64_t)w * thumb_size + h / 2) / h);
  }
  if (tw < 1)
    tw = 1;
  if (th < 1)
    th = 1;
  dst = gdImageCreateTrueColor(tw, th);
  if (dst == NULL) {
    snprintf(err, errlen, "%s: scale: out of memory", infile);
    goto fail;
  }
  gdImageFilledRectangle(dst, 0, 0, tw - 1, th - 1, gdTrueColor(255, 255, 255));
  gdImageAlphaBlending(dst, 1);
  gdImageCopyResampled(dst, src, 0, 0, 0, 0, tw, th, w, h);

  int len = 0;
  jpeg = gdImageJpegPtr(dst, &len, JPEG_QUALITY);
  if (jpeg == NULL) {
    snprintf(err, errlen, "%s: encode: %s", outfile, gd_msg[0] != '\0' ? gd_msg : "libgd failed");
    goto fail;
  }
  fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    snprintf(err, errlen, "create %s: %s", outfile, strerror(errno));
    goto fail;
  }
  if (tool_write_all(fd, jpeg, (size_t)len) < 0 || close(fd) < 0) {
    snprintf(err, errlen, "write %s: %s", outfile, strerror(errno));
    fd = -1;
    unlink(outfile);
    goto fail;
  }
  gdFree(jpeg);
  gdImageDestroy(dst);
  gdImageDestroy(src);
  fclose(in);
  return outfile;

fail:
  if (fd >= 0)
    close(fd);
  if (jpeg != NULL)
    gdFree(jpeg);
  if (dst != NULL)
    gdImageDestroy(dst);
  if (src != NULL)
    gdImageDestroy(src);
  if (in != NULL)
    fclose(in);
  free(outfile);
  return NULL;
}

/* What a worker sends on sizes: makeThumbnails5's item, without the error
 * (a worker reports its own). thumb is malloc'd; the receiver frees it. */
struct item {
  char *thumb;
  int64_t size;
};

struct work {
  char *f;          /* the file, malloc'd; the worker frees it */
  goro_chan *sizes; /* chan struct item; main keeps it alive until closed */
  goro_wg *wg;
};

static void
worker(void *arg)
{
  struct work w = *(struct work *)arg;
  free(arg);
  char err[512];
  goro_chan_send(tokens, NULL); /* acquire a token */
  char *thumb = image_file(w.f, err, sizeof err);
  goro_chan_recv(tokens, NULL); /* release the token */
  if (thumb == NULL) {
    tool_warn("%s", err); /* log.Println(err) */
    atomic_store(&failed, true);
  } else {
    struct stat st;
    if (stat(thumb, &st) < 0) {
      tool_warn("stat %s: %s", thumb, strerror(errno));
      atomic_store(&failed, true);
      free(thumb);
    } else {
      struct item it = {thumb, (int64_t)st.st_size};
      goro_chan_send(w.sizes, &it); /* sizes <- info.Size() */
    }
  }
  free(w.f);
  goro_wg_done(w.wg); /* defer wg.Done() */
}

/* makeThumbnails6: makes a thumbnail for each file received from
 * filenames, prints each one's name, and returns the bytes they occupy. */
static int64_t
make_thumbnails6(goro_chan *filenames)
{
  goro_chan *sizes = goro_chan_make(sizeof(struct item), 0);
  goro_wg *wg = goro_wg_make(); /* number of working goroutines */
  if (sizes == NULL || wg == NULL)
    tool_fatal("start: %s", strerror(errno));
  for (char *f; goro_chan_recv(filenames, &f) > 0;) {
    struct work *w = malloc(sizeof *w);
    if (w == NULL)
      tool_fatal("start worker: %s", strerror(errno));
    *w = (struct work){f, sizes, wg};
    goro_wg_add(wg, 1); /* before the worker starts, so the closer waits for it */
    int rc = goro_go(worker, w);
    if (rc < 0) {
      tool_warn("%s: start worker: %s", f, goro_strerror(rc));
      atomic_store(&failed, true);
      free(w);
      free(f);
      goro_wg_done(wg);
    }
  }

  int rc = goro_closer(wg, sizes); /* go func() { wg.Wait(); close(sizes) }() */
  if (rc < 0)
    tool_fatal("start closer: %s", goro_strerror(rc));

  int64_t total = 0;
  for (struct item it; goro_chan_recv(sizes, &it) > 0;) {
    printf("%s\n", it.thumb);
    total += it.size;
    free(it.thumb);
  }
  goro_chan_release(sizes);
  goro_wg_free(wg); /* sizes is closed: the closer is done with wg */
  return total;
}

/* The names to make thumbnails of: argv, or stdin's lines. */
struct feed {
  char **argv; /* NULL: read stdin */
  int argc;
  goro_chan *filenames; /* chan char *; closed after the last name */
};

static void
feeder(void *arg)
{
  struct feed *fd = arg;
  if (fd->argv != NULL) {
    for (int i = 0; i < fd->argc; i++) {
      char *f = strdup(fd->argv[i]);
      if (f == NULL)
        tool_fatal("%s: %s", fd->argv[i], strerror(errno));
      goro_chan_send(fd->filenames, &f);
    }
  } else {
    char *line = NULL;
    size_t cap = 0;
    ssize_t k;
    while ((k = getline(&line, &cap, stdin)) >= 0) {
      while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r'))
        line[--k] = '\0';
      if (k == 0)
        continue;
      char *f = strdup(line);
      if (f == NULL)
        tool_fatal("%s: %s", line, strerror(errno));
      goro_chan_send(fd->filenames, &f);
    }
    if (ferror(stdin)) {
      tool_warn("read stdin: %s", strerror(errno));
      atomic_store(&failed, true);
    }
    free(line);
  }
  goro_chan_close(fd->filenames);
}

int
main(int argc, char **argv)
{
  tool_init(argc, argv);
  struct tool_flag flags[] = {
      {"size", TOOL_INT, &thumb_size, "N", "longest side of a thumbnail in pixels"},
  };
  int i = tool_parse(argc, argv, "[-size N] [FILE...]",
                     "Makes dir/foo.thumb.jpg for each dir/foo.jpg, .jpeg or .png, in parallel\n"
                     "(gopl.io/ch8/thumbnail, makeThumbnails6), prints each thumbnail's name and\n"
                     "their total size. With no FILE, reads the names from stdin, one a line.",
                     flags, sizeof flags / sizeof flags[0]);
  if (thumb_size < 1 || thumb_size > MAX_SIZE)
    tool_usage_error("-size %d: want 1 to %d", thumb_size, MAX_SIZE);
  gdSetErrorMethod(gd_message); /* before any goroutine calls libgd */

  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  tokens = goro_chan_make(0, ncpu > 0 ? (size_t)ncpu : 1);
  struct feed fd = {.argv = i < argc ? argv + i : NULL, .argc = argc - i};
  fd.filenames = goro_chan_make(sizeof(char *), 0);
  goro_wg *feeding = goro_wg_make();
  if (tokens == NULL || fd.filenames == NULL || feeding == NULL)
    tool_fatal("start: %s", strerror(errno));
  int rc = goro_wg_go(feeding, feeder, &fd);
  if (rc < 0)
    tool_fatal("start feeder: %s", goro_strerror(rc));

  int64_t total = make_thumbnails6(fd.filenames);
  printf("total: %lld bytes\n", (long long)total);

  goro_wg_wait(feeding); /* filenames was closed by its last act */
  goro_wg_free(feeding);
  goro_chan_release(fd.filenames);
  goro_chan_release(tokens);
  if (fflush(stdout) != 0)
    tool_fatal("write stdout: %s", strerror(errno));
  return atomic_load(&failed) ? 1 : 0;
}
