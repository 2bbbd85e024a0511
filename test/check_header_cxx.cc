/* check_header_cxx.cc - <goro.h> stands alone as C++.
 *
 * Built with -pedantic -Wall -Wextra -Werror. Linking proves the
 * declarations have C linkage; the designated-initializer case macros are
 * C only and are not used here.
 */
#include <goro.h>

int
main()
{
  goro_chan *(*make)(size_t, size_t) = goro_chan_make;
  int (*select)(goro_case *, size_t, int64_t) = goro_select;
  int (*go)(goro_fn *, void *) = goro_go;
  goro_case c = {};
  c.op = GORO_RECV;
  bool linked = make != nullptr && select != nullptr && go != nullptr;
  bool ok = linked && c.chan == nullptr && GORO_FOREVER < 0 && GORO_EPIPE < 0;
  return ok && goro_strerror(GORO_EPIPE) != nullptr ? 0 : 1;
}
