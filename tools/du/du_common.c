/* du_common.c - du1..du4's shared directory reading and printing
 * (du_common.h).
 *
 * Nothing here is shared between threads: each call works on the caller's
 * own du_dirents, and du_print is called by main alone.
 */
#include "config.h"

#include "du_common.h"

#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void *
du_xmalloc(size_t n)
{
  void *p = malloc(n > 0 ? n : 1);
  if (p == NULL)
    tool_fatal("out of memory");
  return p;
}

static void *
xrealloc(void *p, size_t n)
{
  p = realloc(p, n > 0 ? n : 1);
  if (p == NULL)
    tool_fatal("out of memory");
  return p;
}

char *
du_join(const char *dir, const char *name)
{
  size_t dl = strlen(dir), nl = strlen(name);
  bool slash = dl > 0 && dir[dl - 1] == '/';
  char *p = du_xmalloc(dl + !slash + nl + 1);
  memcpy(p, dir, dl);
  if (!slash)
    p[dl++] = '/';
  memcpy(p + dl, name, nl + 1);
  return p;
}

/* Appends one entry to d; name (a directory's) is copied to the arena. */
static void
add_entry(struct du_dirents *d, bool isdir, int64_t size, const char *name)
{
  if (d->n == d->cap) {
    d->cap = d->cap > 0 ? 2 * d->cap : 64;
    d->e = xrealloc(d->e, d->cap * sizeof d->e[0]);
  }
  struct du_entry *e = &d->e[d->n++];
  e->isdir = isdir;
  e->size = size;
  e->name = NULL;
  e->nameoff = 0;
  if (isdir) {
    size_t len = strlen(name) + 1;
    if (d->namescap - d->nameslen < len) {
      while (d->namescap - d->nameslen < len)
        d->namescap = d->namescap > 0 ? 2 * d->namescap : 1024;
      d->names = xrealloc(d->names, d->namescap);
    }
    memcpy(d->names + d->nameslen, name, len);
    e->nameoff = d->nameslen;
    d->nameslen += len;
  }
}

int
du_dirents_read(const char *path, bool follow, struct du_dirents *d, char *op, size_t oplen)
{
  int first = 0;
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);
  int fd = open(path, flags);
  if (fd < 0) {
    snprintf(op, oplen, "open %s", path);
    return -errno;
  }
  DIR *dp = fdopendir(fd);
  if (dp == NULL) {
    int err = errno;
    close(fd);
    snprintf(op, oplen, "open %s", path);
    return -err;
  }
  for (;;) {
    errno = 0;
    struct dirent *de = readdir(dp);
    if (de == NULL) {
      if (errno != 0 && first == 0) {
        first = -errno;
        snprintf(op, oplen, "read %s", path);
      }
      break;
    }
    const char *name = de->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
      continue;
#ifdef DT_DIR
    /* d_type, where the file system fills it, spares the stat of a
     * directory: its size is never counted. Every other type is stat'ed
     * for its exact lstat size. */
    if (de->d_type == DT_DIR) {
      add_entry(d, true, 0, name);
      continue;
    }
#endif
    struct stat st;
    if (fstatat(dirfd(dp), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (first == 0) {
        first = -errno;
        snprintf(op, oplen, "lstat %s%s%s", path,
                 path[0] != '\0' && path[strlen(path) - 1] == '/' ? "" : "/", name);
      }
      continue;
    }
    if (S_ISDIR(st.st_mode))
      add_entry(d, true, 0, name);
    else
      add_entry(d, false, (int64_t)st.st_size, NULL);
  }
  closedir(dp);
  /* The arena has stopped moving: turn offsets into pointers. */
  for (size_t i = 0; i < d->n; i++)
    if (d->e[i].isdir)
      d->e[i].name = d->names + d->e[i].nameoff;
  return first;
}

void
du_dirents_free(struct du_dirents *d)
{
  free(d->e);
  free(d->names);
  memset(d, 0, sizeof *d);
}

void
du_print(FILE *f, const char *prefix, int64_t nfiles, int64_t nbytes, bool bytes)
{
  if (prefix != NULL)
    fprintf(f, "%s  ", prefix);
  if (bytes)
    fprintf(f, "%lld files  %lld bytes\n", (long long)nfiles, (long long)nbytes);
  else
    fprintf(f, "%lld files  %.1f GB\n", (long long)nfiles, (double)nbytes / 1e9);
  fflush(f);
}

void
du_send_size(goro_chan *fileSizes, struct du_sizes *b, int64_t size)
{
  b->size[b->n++] = size;
  if (b->n == DU_BATCH) {
    goro_chan_send(fileSizes, b);
    b->n = 0;
  }
}

void
du_flush_sizes(goro_chan *fileSizes, struct du_sizes *b)
{
  if (b->n > 0)
    goro_chan_send(fileSizes, b);
  b->n = 0;
}

void
du_join_goroutines(int64_t grace_ns)
{
  goro_leakcheck(grace_ns, NULL);
}
