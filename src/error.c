/* error.c - goro_strerror: one table of names and messages. */
#include "config.h"

#include "internal.h"

#include <string.h>

static const struct {
  int code;
  const char *msg;
} table[] = {
    {GORO_EPIPE, "channel closed"},
    {GORO_EINVAL, "invalid argument"},
    {GORO_ENOMEM, "out of memory"},
    {GORO_EAGAIN, "operation would block, or no thread could be started"},
    {GORO_ETIMEDOUT, "timed out"},
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
