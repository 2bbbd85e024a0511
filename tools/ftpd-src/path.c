/* path.c - names confined to the root.
 *
 * A client names files by virtual paths: "/" is the root DIR, and a
 * relative name starts from the session's working directory, itself a
 * canonical virtual path ("/" or "/a/b": no ".", "..", empty or symlink
 * component).
 *
 * fs_resolve never hands a path string to the kernel. It walks from the
 * root's descriptor one component at a time, with descriptors it holds:
 *  - "." and empty components are skipped; ".." pops the walk's own stack
 *    of directories, so ".." at the root is an escape (-EXDEV, 550);
 *  - a symlink is read (readlinkat) and its target spliced in front of the
 *    rest of the name: a relative target goes on from the link's
 *    directory (its ".." pops the same stack), an absolute one must lie
 *    under the root's real path (it then goes on from the root), else the
 *    name escapes; at most 40 links per name (-ELOOP);
 *  - a directory is opened with O_NOFOLLOW|O_DIRECTORY, so one replaced by
 *    a symlink between the fstatat that classified it and the openat fails
 *    to open (ELOOP/ENOTDIR) rather than being followed; the walk then
 *    looks at that component again (a few times at most).
 * The result is the descriptor of the last directory and the last name,
 * for the command's own *at(2) call, which either does not follow a
 * symlink by nature (unlinkat, renameat, mkdirat) or opens with O_NOFOLLOW
 * (a symlink swapped in after the walk makes it fail: ELOOP, 550).
 *
 * Residual race: a local user who renames a directory out of the tree
 * while a walk holds its descriptor would let the walk go on outside.
 * fs_resolve therefore checks, through /proc/self/fd, that the final
 * directory is still under the root's real path; what remains is the
 * instant between that check and the command's *at call. The lexical
 * stack means a name never goes through a ".." of the file system.
 */
#include "config.h"

#include "ftpd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_PATH
#define O_PATH O_RDONLY
#endif

enum {
  MAX_DEPTH = 256, /* directories deep */
  MAX_LINKS = 40,  /* symlinks per name, as Linux's MAXSYMLINKS */
  MAX_RETRY = 8,   /* re-examinations of a component that changed under us */
  PEND_MAX = 2 * PATH_MAX,
};

bool
fs_reserved(const char *name)
{
  return strncmp(name, FTPD_TMP_PREFIX, sizeof FTPD_TMP_PREFIX - 1) == 0;
}

/* Whether the absolute path p lies under the root's real path; *rest is
 * set to the part of p after it (no leading '/'). */
static bool
under_root(const char *p, const char **rest)
{
  size_t n = cfg.rootreallen;
  if (n == 1 && cfg.rootreal[0] == '/') {
    *rest = p + 1;
    return true;
  }
  if (strncmp(p, cfg.rootreal, n) != 0 || (p[n] != '\0' && p[n] != '/'))
    return false;
  *rest = p + n + (p[n] == '/');
  return true;
}

/* Whether the directory open as fd is still under the root, per
 * /proc/self/fd. True when /proc cannot tell (not mounted). */
static bool
still_under_root(int fd)
{
  char link[64], real[PATH_MAX + 16];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, real, sizeof real - 1);
  if (n < 0)
    return true;
  real[n] = '\0';
  const char *rest;
  return under_root(real, &rest);
}

/* The walk's stack: fds[0] is the root (not owned), fds[1..depth] are
 * opened by the walk; vlen[i] is the length of the virtual path of
 * fds[i] in vdir ("" for the root). */
struct walk {
  int fds[MAX_DEPTH + 1];
  size_t vlen[MAX_DEPTH + 1];
  int depth;
  char vdir[FTPD_VPATH_MAX];
};

static void
walk_pop(struct walk *w)
{
  close(w->fds[w->depth]);
  w->depth--;
  w->vdir[w->vlen[w->depth]] = '\0';
}

static void
walk_free(struct walk *w)
{
  while (w->depth > 0)
    walk_pop(w);
}

/* pend[*pos..] := prefix + "/" + pend[*pos..]; *pos := 0. */
static int
prepend(char *pend, size_t *pos, const char *prefix)
{
  size_t plen = strlen(prefix), rlen = strlen(pend + *pos);
  if (plen + 1 + rlen + 1 > PEND_MAX)
    return -ENAMETOOLONG;
  memmove(pend + plen + 1, pend + *pos, rlen + 1);
  memcpy(pend, prefix, plen);
  pend[plen] = '/';
  *pos = 0;
  return 0;
}

int
fs_resolve(const char *cwd, const char *name, enum fs_follow follow, struct fs_loc *out)
{
  static char const slash[] = "/";
  char pend[PEND_MAX];
  char target[PATH_MAX];
  struct walk w;
  w.fds[0] = cfg.rootfd;
  w.vlen[0] = 0;
  w.depth = 0;
  w.vdir[0] = '\0';
  size_t pos = 0;
  int links = 0, retries = 0, err = 0;

  /* Every name is walked from the root: a relative one behind cwd. */
  if (name[0] == '/')
    cwd = slash;
  size_t clen0 = strlen(cwd), nlen = strlen(name);
  if (clen0 + 1 + nlen + 1 > PEND_MAX)
    return -ENAMETOOLONG;
  memcpy(pend, cwd, clen0);
  pend[clen0] = '/';
  memcpy(pend + clen0 + 1, name, nlen + 1);

  for (;;) {
    while (pend[pos] == '/')
      pos++;
    if (pend[pos] == '\0') {
      /* The name ended on a directory of the stack (".", "..", "/"). */
      strcpy(out->name, ".");
      break;
    }
    size_t start = pos;
    while (pend[pos] != '/' && pend[pos] != '\0')
      pos++;
    size_t clen = pos - start;
    size_t after = pos;
    while (pend[after] == '/')
      after++;
    bool last = pend[after] == '\0';
    if (clen > NAME_MAX) {
      err = -ENAMETOOLONG;
      goto fail;
    }
    char comp[NAME_MAX + 1];
    memcpy(comp, pend + start, clen);
    comp[clen] = '\0';

    if (strcmp(comp, ".") == 0)
      continue;
    if (strcmp(comp, "..") == 0) {
      if (w.depth == 0) {
        err = -EXDEV;
        goto fail;
      }
      walk_pop(&w);
      continue;
    }
    if (fs_reserved(comp)) {
      err = -ENOENT;
      goto fail;
    }
    int dfd = w.fds[w.depth];
    if (last && follow == FS_NOFOLLOW) {
      strcpy(out->name, comp);
      break;
    }
    struct stat st;
    if (fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT && last) {
        strcpy(out->name, comp); /* a name to create */
        break;
      }
      err = -errno;
      goto fail;
    }
    if (S_ISLNK(st.st_mode)) {
      if (++links > MAX_LINKS) {
        err = -ELOOP;
        goto fail;
      }
      ssize_t n = readlinkat(dfd, comp, target, sizeof target - 1);
      if (n < 0) {
        if (errno == EINVAL && retries++ < MAX_RETRY) { /* no longer a link */
          pos = start;
          continue;
        }
        err = -errno;
        goto fail;
      }
      if (n == 0) {
        err = -ENOENT;
        goto fail;
      }
      target[n] = '\0';
      const char *rel = target;
      if (target[0] == '/') {
        if (!under_root(target, &rel)) {
          err = -EXDEV;
          goto fail;
        }
        walk_free(&w); /* goes on from the root */
      }
      int rc = prepend(pend, &after, rel);
      if (rc < 0) {
        err = rc;
        goto fail;
      }
      pos = after;
      continue;
    }
    if (last) {
      strcpy(out->name, comp);
      break;
    }
    if (!S_ISDIR(st.st_mode)) {
      err = -ENOTDIR;
      goto fail;
    }
    if (w.depth == MAX_DEPTH) {
      err = -ENAMETOOLONG;
      goto fail;
    }
    size_t vl = w.vlen[w.depth];
    if (vl + 1 + clen + 1 > sizeof w.vdir) {
      err = -ENAMETOOLONG;
      goto fail;
    }
    int fd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if ((errno == ELOOP || errno == ENOTDIR || errno == ENOENT) && retries++ < MAX_RETRY) {
        pos = start; /* it changed between fstatat and openat: look again */
        continue;
      }
      err = -errno;
      goto fail;
    }
    w.depth++;
    w.fds[w.depth] = fd;
    w.vdir[vl] = '/';
    memcpy(w.vdir + vl + 1, comp, clen + 1);
    w.vlen[w.depth] = vl + 1 + clen;
  }

  if (w.depth > 0 && !still_under_root(w.fds[w.depth])) {
    err = -EXDEV;
    goto fail;
  }
  /* Keep the top of the stack, close the rest. */
  out->dirfd = w.fds[w.depth];
  out->owned = w.depth > 0;
  snprintf(out->vdir, sizeof out->vdir, "%s", w.depth > 0 ? w.vdir : "/");
  for (int i = 1; i < w.depth; i++)
    close(w.fds[i]);
  return 0;

fail:
  walk_free(&w);
  return err;
}

void
fs_loc_free(struct fs_loc *loc)
{
  if (loc->owned)
    close(loc->dirfd);
  loc->owned = false;
  loc->dirfd = -1;
}

char *
fs_loc_path(const struct fs_loc *loc, char *buf, size_t n)
{
  if (strcmp(loc->name, ".") == 0)
    snprintf(buf, n, "%s", loc->vdir);
  else if (strcmp(loc->vdir, "/") == 0)
    snprintf(buf, n, "/%s", loc->name);
  else
    snprintf(buf, n, "%s/%s", loc->vdir, loc->name);
  return buf;
}
