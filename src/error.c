/* error.c - goro_strerror: one table of names and messages; and the sys
 * layer's aborts (GORO__ASSERT, a pthread call that cannot fail). */
#include "config.h"

#include "internal.h"

#include <string.h>

void
goro__assert_fail(const char *expr, const char *file, int line, const char *func)
{
  fprintf(stderr, "goro: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
  abort();
}

void
goro__check_rc(int rc, const char *what)
{
  if (GORO__UNLIKELY(rc != 0)) {
    fprintf(stderr, "goro: %s failed: %s\n", what, strerror(rc));
    abort();
  }
}

static const struct {
  int code;
  const char *msg;
} table[] = {
    {GORO_EPIPE, "channel closed"},
    {GORO_EINVAL, "invalid argument"},
    {GORO_ENOMEM, "out of memory"},
    {GORO_EAGAIN, "operation would block, or no thread could be started"},
    {GORO_ETIMEDOUT, "timed out"},
    {GORO_ECANCELED, "context canceled"},
    {GORO_ERANGE, "WaitGroup counter out of range (negative, or above INT32_MAX)"},
};

const char *
goro_strerror(int err)
{
  if (err >= 0)
    return "success";
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (table[i].code == err)
      return table[i].msg;
  /* Any other -errno: the C library's text (static, or per-thread for
   * unknown numbers in glibc). */
  const char *s = strerror(-err);
  return s != NULL ? s : "unknown error";
}
