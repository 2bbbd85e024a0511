/* perm.c - the compile-time half of directional channels, for
 * check_perm.sh, which compiles it as C99 and as C++11 with -Werror.
 *
 * With PERM_CASE 0 (the positive control) every statement is legal and
 * must compile warning-free, also under -Wcast-qual and (C++)
 * -Wold-style-cast. Each PERM_CASE N > 0 adds one illegal statement,
 * marked with the comment "perm: N" on its own line so that the script
 * can check that the compiler rejects that line, for a type mismatch on
 * a goro type, and not something else. The cases follow the error lines
 * of Go's test/chan/perm.go (noted beside each), plus the C-specific ways
 * to mix a view up with a goro_chan * and the typed wrappers.
 */
#include <goro.h>

#ifndef PERM_CASE
#define PERM_CASE 0
#endif

GORO_CHAN_TYPE(intchan, int);

struct pair {
  int a, b;
};

/* Never run: check_perm.sh only compiles this file. */
int perm(goro_chan *c, intchan *ic);

int
perm(goro_chan *c, intchan *ic)
{
  goro_recvchan *cr = goro_chan_recvonly(c); /* cr = c: ok */
  goro_sendchan *cs = goro_chan_sendonly(c); /* cs = c: ok */
  intchan_tx *tx = intchan_sendonly(ic);
  intchan_rx *rx = intchan_recvonly(ic);
  int x = 0, rc = 0;
  size_t n = 0;
  const int k = 1;
  struct pair pr = {0, 0};

  rc |= goro_chan_send(c, &x); /* c <- 0: ok */
  rc |= goro_chan_recv(c, &x); /* x, ok := <-c: ok */
  rc |= goro_recv(cr, &x);     /* x, ok = <-cr: ok */
  rc |= goro_tryrecv(cr, NULL);
  rc |= goro_send(cs, &x); /* cs <- 0: ok */
  rc |= goro_trysend(cs, &k);
  rc |= GORO_SEND_VAR(cs, k);
  rc |= GORO_RECV_VAR(cr, x);
  rc |= GORO_TRYSEND_VAR(cs, x);
  rc |= GORO_TRYRECV_VAR(cr, pr);
  rc |= GORO_CHAN_SEND_VAR(c, k);
  rc |= GORO_CHAN_RECV_VAR(c, pr);
  rc |= GORO_CHAN_TRYSEND_VAR(c, pr.a);
  rc |= GORO_CHAN_TRYRECV_VAR(c, pr.b);
  n += goro_sendchan_len(cs) + goro_sendchan_cap(cs) + goro_sendchan_elemsize(cs);
  n += goro_recvchan_len(cr) + goro_recvchan_cap(cr) + goro_recvchan_elemsize(cr);
  goro_sendchan_release(goro_sendchan_retain(cs));
  goro_recvchan_release(goro_recvchan_retain(cr));
  {
    goro_case cases[] = {
        GORO_SENDTO_CASE(cs, &k),     /* case cs <- 0: ok */
        GORO_RECVFROM_CASE(cr, &x),   /* case x := <-cr: ok */
        GORO_RECVFROM_CASE(cr, NULL), /* case <-cr: ok */
        GORO_SENDTO_CASE_VAR(cs, k),  GORO_RECVFROM_CASE_VAR(cr, x), GORO_SEND_CASE_VAR(c, k),
        GORO_RECV_CASE_VAR(c, pr),    intchan_send_case(ic, &k),     intchan_recv_case(ic, &x),
        intchan_tx_send_case(tx, &k), intchan_rx_recv_case(rx, &x),
    };
    rc |= goro_select(cases, sizeof cases / sizeof cases[0], 0);
  }
  rc |= intchan_send(ic, k);
  rc |= intchan_recv(ic, &x);
  rc |= intchan_tx_send(tx, 2);
  rc |= intchan_rx_recv(rx, &x);
  rc |= intchan_tx_close(tx); /* close(cs): ok */
  rc |= goro_close(cs);       /* close(cs): ok */
  rc |= goro_chan_close(c);   /* close(c): ok */
  rc |= goro_recv(intchan_rx_view(rx), &x);
  rc |= goro_send(intchan_tx_view(tx), &x);

#if PERM_CASE == 1
  c = cr; /* perm: 1 */ /* c = cr */
#elif PERM_CASE == 2
  c = cs; /* perm: 2 */ /* c = cs */
#elif PERM_CASE == 3
  cr = cs; /* perm: 3 */ /* cr = cs */
#elif PERM_CASE == 4
  cs = cr; /* perm: 4 */ /* cs = cr */
#elif PERM_CASE == 5
  rc |= goro_send(cr, &x); /* perm: 5 */ /* cr <- 0 */
#elif PERM_CASE == 6
  rc |= goro_trysend(cr, &x); /* perm: 6 */ /* cr <- 0, in a select with default */
#elif PERM_CASE == 7
  rc |= goro_recv(cs, NULL); /* perm: 7 */ /* <-cs */
#elif PERM_CASE == 8
  rc |= goro_recv(cs, &x); /* perm: 8 */ /* x, ok = <-cs */
#elif PERM_CASE == 9
  rc |= goro_tryrecv(cs, &x); /* perm: 9 */ /* <-cs, in a select with default */
#elif PERM_CASE == 10
  {
    goro_case bad[] = {GORO_SENDTO_CASE(cr, &k)}; /* perm: 10 */ /* case cr <- 0 */
    rc |= goro_select(bad, 1, 0);
  }
#elif PERM_CASE == 11
  {
    goro_case bad[] = {GORO_RECVFROM_CASE(cs, &x)}; /* perm: 11 */ /* case x := <-cs */
    rc |= goro_select(bad, 1, 0);
  }
#elif PERM_CASE == 12
  while (goro_recv(cs, &x) > 0) /* perm: 12 */ /* for range cs */
    rc++;
#elif PERM_CASE == 13
  rc |= goro_close(cr); /* perm: 13 */ /* close(cr) */
#elif PERM_CASE == 14
  rc |= goro_chan_send(cs, &x); /* perm: 14 */ /* a view where a goro_chan * is expected */
#elif PERM_CASE == 15
  rc |= goro_chan_recv(cr, &x); /* perm: 15 */
#elif PERM_CASE == 16
  rc |= goro_chan_close(cs); /* perm: 16 */
#elif PERM_CASE == 17
  rc |= goro_send(c, &x); /* perm: 17 */ /* a goro_chan * where a view is expected */
#elif PERM_CASE == 18
  cs = goro_chan_sendonly(cr); /* perm: 18 */ /* no conversion between directions */
#elif PERM_CASE == 19
  goro_sendchan_release(cr); /* perm: 19 */
#elif PERM_CASE == 20
  n += goro_recvchan_len(cs); /* perm: 20 */
#elif PERM_CASE == 21
  while (GORO_RECV_VAR(cs, x) > 0) /* perm: 21 */ /* for _ = range cs */
    rc++;
#elif PERM_CASE == 22
  rc |= GORO_SEND_VAR(cr, x); /* perm: 22 */
#elif PERM_CASE == 23
  {
    goro_case bad[] = {GORO_SENDTO_CASE_VAR(cr, k)}; /* perm: 23 */
    rc |= goro_select(bad, 1, 0);
  }
#elif PERM_CASE == 24
  {
    goro_case bad[] = {GORO_RECVFROM_CASE_VAR(cs, x)}; /* perm: 24 */
    rc |= goro_select(bad, 1, 0);
  }
#elif PERM_CASE == 25
  rc |= intchan_rx_recv(tx, &x); /* perm: 25 */ /* typed: <-cs */
#elif PERM_CASE == 26
  rc |= intchan_tx_close(rx); /* perm: 26 */ /* typed: close(cr) */
#elif PERM_CASE == 27
  rc |= intchan_recv(ic, &pr); /* perm: 27 */ /* typed: a variable of the wrong type */
#elif PERM_CASE == 28
  rc |= intchan_rx_recv(rx, &pr); /* perm: 28 */
#elif PERM_CASE == 29
  rc |= intchan_send(ic, pr); /* perm: 29 */
#elif PERM_CASE == 30
  rc |= intchan_tx_send(tx, pr); /* perm: 30 */
#elif PERM_CASE == 31
  rc |= intchan_send(c, x); /* perm: 31 */ /* an untyped channel where a typed one is expected */
#elif PERM_CASE == 32
  rc |= goro_chan_close(intchan_tx_view(tx)); /* perm: 32 */
#elif PERM_CASE == 33
  rc |= GORO_RECV_VAR(cr, k); /* perm: 33 */ /* receiving into a const */
#elif PERM_CASE != 0
#error unknown PERM_CASE
#endif
  return rc + (n == 0);
}
