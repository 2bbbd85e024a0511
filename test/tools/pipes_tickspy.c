/* pipes_tickspy - a shared object the countdown test preloads
 * (LD_PRELOAD) into a countdown tool to see, from outside, whether the
 * tool stops the ticker it makes: goro_ticker_make and goro_ticker_stop
 * are wrapped, counted, and passed on to libgoro (dlsym RTLD_NEXT). At
 * exit, a process that called either appends "made=N stopped=M" to the
 * file named by PIPES_TICKSPY_OUT.
 *
 * It sees the calls only when the tool links libgoro as a shared library;
 * with a static libgoro it sees none, and the test says so and skips that
 * check.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <goro.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int made, stopped;

GORO_EXTERN goro_ticker *
goro_ticker_make(int64_t period_ns)
{
  goro_ticker *(*real)(int64_t) = (goro_ticker * (*)(int64_t)) dlsym(RTLD_NEXT, "goro_ticker_make");
  if (real == NULL)
    abort();
  atomic_fetch_add(&made, 1);
  return real(period_ns);
}

GORO_EXTERN void
goro_ticker_stop(goro_ticker *t)
{
  void (*real)(goro_ticker *) = (void (*)(goro_ticker *))dlsym(RTLD_NEXT, "goro_ticker_stop");
  if (real == NULL)
    abort();
  atomic_fetch_add(&stopped, 1);
  real(t);
}

__attribute__((destructor)) static void
report(void)
{
  const char *path = getenv("PIPES_TICKSPY_OUT");
  int m = atomic_load(&made), s = atomic_load(&stopped);
  if (path == NULL || (m == 0 && s == 0))
    return;
  char line[64];
  int k = snprintf(line, sizeof line, "made=%d stopped=%d\n", m, s);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    if (write(fd, line, (size_t)k) < 0)
      perror(path);
    close(fd);
  }
}
