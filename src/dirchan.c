/* dirchan.c - directional views of channels and size-checked operations.
 *
 * A goro_sendchan * or goro_recvchan * is the goro_chan * it views, under
 * an incomplete type that is never defined: converting a view back is a
 * cast, and no view is ever dereferenced as anything but a goro_chan. A
 * view owns nothing; each operation here is the goro_chan operation on
 * the same pointer, so views share the channel's reference count, locks
 * and invariants (chan.c), and cost no allocation.
 *
 * The _sized operations compare the caller's size with the channel's
 * element size, which is immutable after goro_chan_make, before touching
 * anything else: a mismatch returns GORO_EINVAL with no side effect.
 */
#include "config.h"

#include "internal.h"

static inline goro_chan *
send_chan(goro_sendchan *s)
{
  return (goro_chan *)(void *)s;
}

static inline goro_chan *
recv_chan(goro_recvchan *r)
{
  return (goro_chan *)(void *)r;
}

/* ---- views -------------------------------------------------------------- */

goro_sendchan *
goro_chan_sendonly(goro_chan *c)
{
  return (goro_sendchan *)(void *)c;
}

goro_recvchan *
goro_chan_recvonly(goro_chan *c)
{
  return (goro_recvchan *)(void *)c;
}

int
goro_send(goro_sendchan *s, const void *elem)
{
  return goro_chan_send(send_chan(s), elem);
}

int
goro_trysend(goro_sendchan *s, const void *elem)
{
  return goro_chan_trysend(send_chan(s), elem);
}

int
goro_close(goro_sendchan *s)
{
  return goro_chan_close(send_chan(s));
}

int
goro_recv(goro_recvchan *r, void *elem)
{
  return goro_chan_recv(recv_chan(r), elem);
}

int
goro_tryrecv(goro_recvchan *r, void *elem)
{
  return goro_chan_tryrecv(recv_chan(r), elem);
}

size_t
goro_sendchan_len(goro_sendchan *s)
{
  return goro_chan_len(send_chan(s));
}

size_t
goro_sendchan_cap(goro_sendchan *s)
{
  return goro_chan_cap(send_chan(s));
}

size_t
goro_recvchan_len(goro_recvchan *r)
{
  return goro_chan_len(recv_chan(r));
}

size_t
goro_recvchan_cap(goro_recvchan *r)
{
  return goro_chan_cap(recv_chan(r));
}

goro_sendchan *
goro_sendchan_retain(goro_sendchan *s)
{
  goro_chan_retain(send_chan(s));
  return s;
}

goro_recvchan *
goro_recvchan_retain(goro_recvchan *r)
{
  goro_chan_retain(recv_chan(r));
  return r;
}

void
goro_sendchan_release(goro_sendchan *s)
{
  goro_chan_release(send_chan(s));
}

void
goro_recvchan_release(goro_recvchan *r)
{
  goro_chan_release(recv_chan(r));
}

/* ---- checked element sizes ---------------------------------------------- */

size_t
goro_chan_elemsize(goro_chan *c)
{
  return c == NULL ? 0 : goro__chan_elemsize(c);
}

size_t
goro_sendchan_elemsize(goro_sendchan *s)
{
  return goro_chan_elemsize(send_chan(s));
}

size_t
goro_recvchan_elemsize(goro_recvchan *r)
{
  return goro_chan_elemsize(recv_chan(r));
}

/* True when size is c's element size; false for NULL (the unchecked
 * operation would return GORO_EINVAL for it too). */
static inline bool
size_ok(goro_chan *c, size_t size)
{
  return c != NULL && goro__chan_elemsize(c) == size;
}

int
goro_chan_send_sized(goro_chan *c, const void *elem, size_t size)
{
  return size_ok(c, size) ? goro_chan_send(c, elem) : GORO_EINVAL;
}

int
goro_chan_recv_sized(goro_chan *c, void *elem, size_t size)
{
  return size_ok(c, size) ? goro_chan_recv(c, elem) : GORO_EINVAL;
}

int
goro_chan_trysend_sized(goro_chan *c, const void *elem, size_t size)
{
  return size_ok(c, size) ? goro_chan_trysend(c, elem) : GORO_EINVAL;
}

int
goro_chan_tryrecv_sized(goro_chan *c, void *elem, size_t size)
{
  return size_ok(c, size) ? goro_chan_tryrecv(c, elem) : GORO_EINVAL;
}

int
goro_send_sized(goro_sendchan *s, const void *elem, size_t size)
{
  return goro_chan_send_sized(send_chan(s), elem, size);
}

int
goro_trysend_sized(goro_sendchan *s, const void *elem, size_t size)
{
  return goro_chan_trysend_sized(send_chan(s), elem, size);
}

int
goro_recv_sized(goro_recvchan *r, void *elem, size_t size)
{
  return goro_chan_recv_sized(recv_chan(r), elem, size);
}

int
goro_tryrecv_sized(goro_recvchan *r, void *elem, size_t size)
{
  return goro_chan_tryrecv_sized(recv_chan(r), elem, size);
}
