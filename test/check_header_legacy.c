/* check_header_legacy.c - <goro.h> in a legacy C99 codebase.
 *
 * Built with -std=c99 -pedantic -Wall -Wextra -Wcast-qual -Werror: the
 * header must define no bool of its own (a codebase's own typedef after
 * it still compiles), and its case macros must not cast away const. The
 * program then sends a const value through a select. */
#include <goro.h>

typedef int bool; /* what a pre-C99 codebase has, after the include */
enum { false, true };

int
main(void)
{
  bool ok = true;
  goro_chan *c = goro_chan_make(sizeof(int), 1);
  const int answer = 42;
  int got = 0;
  goro_case send[] = {GORO_SEND_CASE(c, &answer)};
  ok = ok && goro_select(send, 1, 0) == 0 && send[0].ok;
  goro_case recv[] = {GORO_RECV_CASE(c, &got)};
  ok = ok && goro_select(recv, 1, GORO_FOREVER) == 0 && got == 42;
  goro_chan_release(c);
  return ok ? 0 : 1;
}
