/* du_common.h - what du1..du4 (gopl.io/ch8/du1..du4) share: reading one
 * directory the way the book's dirents does (ioutil.ReadDir: every entry
 * with its lstat information), joining paths, and printing a total.
 *
 * The walking itself - the goroutines, the channels, the WaitGroup, the
 * semaphore and the done channel - stays in each tool, where the book has
 * it. This file holds only what is the same in all four.
 */
#ifndef GORO_DU_COMMON_H
#define GORO_DU_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <goro.h>

/* One entry of a directory: Go's os.FileInfo, reduced to what du uses. */
struct du_entry {
  bool isdir;       /* a directory (by lstat: a symlink to one is not) */
  int64_t size;     /* lstat's st_size; 0 for a directory (never counted) */
  const char *name; /* the entry's name for a directory, NULL otherwise
                       (du never needs a file's name); points into the
                       du_dirents' name arena */
  size_t nameoff;   /* internal: name's offset in the arena while reading */
};

/* The entries of one directory, as dirents returns them. */
struct du_dirents {
  struct du_entry *e; /* n entries ("." and ".." left out) */
  size_t n, cap;
  char *names; /* the arena holding the directories' names */
  size_t nameslen, namescap;
};

/* Go's chan int64 carried one size a send. Here a channel operation costs
 * about as much as the lstat that produced the size (more when the
 * receiver is asleep and must be woken), so walkDir gathers its sizes and
 * sends them DU_BATCH at a time: the book's "fileSizes <- entry.Size()"
 * becomes du_send_size, which adds the size to the walker's batch and
 * sends the batch when it is full; the walker sends what is left before
 * it returns. Main still counts every size by itself (nfiles grows by
 * one and nbytes by size[i] for each), so the totals are those of single
 * sends. Build with -DDU_BATCH=1 to get the book's one-size sends (the
 * README compares both). */
#ifndef DU_BATCH
#define DU_BATCH 256
#endif
struct du_sizes {
  int root; /* du4: the index of the root the sizes are under */
  int n;    /* sizes in size[] */
  int64_t size[DU_BATCH];
};

/* Adds size to b; sends b on fileSizes and empties it once it is full. */
void du_send_size(goro_chan *fileSizes, struct du_sizes *b, int64_t size);

/* Sends b on fileSizes if it holds any size, and empties it. */
void du_flush_sizes(goro_chan *fileSizes, struct du_sizes *b);

/* Reads the directory path into d (which the caller zero-initialises):
 * opendir, readdir, and for every entry that readdir's d_type does not
 * already show to be a directory, fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)
 * for its size. Sizes are exact: d_type only saves the stat of entries
 * that are directories, whose size du does not count.
 *
 * Returns 0, or -errno with *op set to what failed ("open PATH", "read
 * PATH", "lstat PATH/NAME") in op (oplen bytes). An entry whose lstat fails
 * is left out and reported the same way, but the entries read so far and
 * after it are kept: the return value is then the first error. The root
 * of a walk is opened following symlinks (as Go's os.Open); a directory
 * below it is opened with O_NOFOLLOW (follow is false), so a directory
 * replaced by a symlink meanwhile is never walked into. */
int du_dirents_read(const char *path, bool follow, struct du_dirents *d, char *op, size_t oplen);

/* Frees d's memory and zeroes it. */
void du_dirents_free(struct du_dirents *d);

/* filepath.Join(dir, name), malloc'ed; aborts with "out of memory" (exit 1)
 * when malloc fails. */
char *du_join(const char *dir, const char *name);

/* The book's printDiskUsage, one line on f: "[PREFIX  ]N files  X.X GB"
 * (GB = 1e9 bytes, one decimal as Go's %.1f), or "... B bytes" when
 * bytes is true. prefix may be NULL. Flushes f. */
void du_print(FILE *f, const char *prefix, int64_t nfiles, int64_t nbytes, bool bytes);

/* Before exit: waits (at most grace_ns) for every goroutine to have
 * returned, so that a goroutine that has done its last channel operation
 * but not yet returned (the closer, right after closing fileSizes) is not
 * taken for a leak by GORO_LEAKCHECK=1. A goroutine still blocked then is
 * a real leak and is reported by GORO_LEAKCHECK's own check at exit. */
void du_join_goroutines(int64_t grace_ns);

/* malloc that exits with "NAME: out of memory" (status 1) on failure. */
void *du_xmalloc(size_t n);

#endif /* GORO_DU_COMMON_H */
