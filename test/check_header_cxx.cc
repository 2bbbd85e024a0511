/* check_header_cxx.cc - <goro.h> stands alone as C++.
 *
 * Built with -pedantic -Wall -Wextra -Werror. Linking proves the
 * declarations have C linkage; the case macros build cases in C++ too,
 * and a select over them works.
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
  bool ok = linked && c.chan == nullptr && GORO_FOREVER == INT64_MAX && GORO_EPIPE < 0;
  ok = ok && goro_strerror(GORO_EPIPE) != nullptr;
  /* The constants expand without casts (-Wold-style-cast). */
  int64_t second = GORO_SECOND;
  ok = ok && second == 1000 * GORO_MILLISECOND && GORO_MILLISECOND == 1000 * GORO_MICROSECOND &&
       GORO_MICROSECOND == 1000 * GORO_NANOSECOND;
  ok = ok && GORO_CHAN_MAX_ELEMSIZE == 65535 && GORO_CHAN_MAX_ALLOC >= (1ull << 30);

  goro_chan *ch = goro_chan_make(sizeof(int), 1);
  const int in = 42;
  int out = 0;
  goro_case send[] = {GORO_RECV_CASE(nullptr, &out), GORO_SEND_CASE(ch, &in)};
  ok = ok && send[1].chan == ch && send[1].op == GORO_SEND && send[1].elem == &in;
  ok = ok && goro_select(send, 2, 0) == 1 && send[1].ok;
  goro_case recv[] = {GORO_SEND_CASE(nullptr, &in), GORO_RECV_CASE(ch, &out)};
  ok = ok && goro_select(recv, 2, 0) == 1 && recv[1].ok && out == 42;
  goro_case discard[] = {GORO_RECV_CASE(ch, nullptr)};
  ok = ok && discard[0].elem == nullptr && goro_select(discard, 1, 0) == GORO_EAGAIN;
  goro_chan_release(ch);
  return ok ? 0 : 1;
}
