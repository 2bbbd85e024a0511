// perm_cxx.cc - the compile-time half of goro::chan<T>, goro::sendchan<T>
// and goro::recvchan<T>, for check_perm.sh (C++11, -Werror).
//
// As in perm.c: PERM_CASE 0 is the positive control; each PERM_CASE N > 0
// adds one illegal line, marked "perm: N", that must be rejected there
// (Go's test/chan/perm.go, and element types that do not match).
#include <goro.h>

#ifndef PERM_CASE
#define PERM_CASE 0
#endif

static int
counter(goro::sendchan<int> out)
{
  int rc = 0;
  for (int x = 0; x < 3; x++)
    rc |= out.send(x);
  return rc | out.close();
}

static int
squarer(goro::sendchan<int> out, goro::recvchan<int> in)
{
  int rc = 0;
  for (int v; in.recv(v) > 0;)
    rc |= out.send(v * v);
  return rc | out.close();
}

int perm(); // never run: check_perm.sh only compiles this file

int
perm()
{
  goro::chan<int> c(1), d(1);
  goro::sendchan<int> cs = c; // cs = c: ok
  goro::recvchan<int> cr = c; // cr = c: ok
  int x = 0, rc = 0;
  const int k = 1;
  rc |= counter(c);
  rc |= squarer(d, c); // the arguments convert as Go's do
  rc |= c.send(k) | c.trysend(2) | c.recv(x) | c.tryrecv(x);
  rc |= cs.send(x) | cs.trysend(k) | cr.recv(x) | cr.tryrecv(x);
  goro_case cases[] = {c.send_case(k), c.recv_case(x), cs.send_case(k), cr.recv_case(x)};
  rc |= goro_select(cases, 4, 0);
  size_t n = c.len() + c.cap() + cs.len() + cs.cap() + cr.len() + cr.cap();
  goro::chan<int> e = c;
  e = d;
  rc |=
      (!c || !cs || !cr || !e || c.get() == nullptr || cs.get() == nullptr || cr.get() == nullptr);

#if PERM_CASE == 1
  goro::chan<int> bad = cr; // perm: 1 // c = cr
  (void)bad;
#elif PERM_CASE == 2
  goro::chan<int> bad = cs; // perm: 2 // c = cs
  (void)bad;
#elif PERM_CASE == 3
  goro::recvchan<int> bad = cs; // perm: 3 // cr = cs
  (void)bad;
#elif PERM_CASE == 4
  goro::sendchan<int> bad = cr; // perm: 4 // cs = cr
  (void)bad;
#elif PERM_CASE == 5
  rc |= cr.send(x); // perm: 5 // cr <- 0
#elif PERM_CASE == 6
  rc |= cs.recv(x); // perm: 6 // x, ok = <-cs
#elif PERM_CASE == 7
  goro_case bad[] = {cr.send_case(k)}; // perm: 7 // case cr <- 0
  rc |= goro_select(bad, 1, 0);
#elif PERM_CASE == 8
  goro_case bad[] = {cs.recv_case(x)}; // perm: 8 // case x := <-cs
  rc |= goro_select(bad, 1, 0);
#elif PERM_CASE == 9
  rc |= cr.close(); // perm: 9 // close(cr)
#elif PERM_CASE == 10
  rc |= squarer(cr, cs); // perm: 10 // the arguments swapped
#elif PERM_CASE == 11
  long l = 0;
  rc |= c.recv(l); // perm: 11 // a variable of the wrong type
#elif PERM_CASE == 12
  goro::sendchan<long> bad = c; // perm: 12 // another element type
  (void)bad;
#elif PERM_CASE == 13
  goro_case bad[] = {c.send_case(3)}; // perm: 13 // a temporary would dangle
  rc |= goro_select(bad, 1, 0);
#elif PERM_CASE == 14
  rc |= goro_chan_send(cs.get(), &x); // perm: 14 // a view where a goro_chan * is expected
#elif PERM_CASE == 15
  rc |= cr.recv(k); // perm: 15 // receiving into a const
#elif PERM_CASE != 0
#error unknown PERM_CASE
#endif
  return rc + (n == 0);
}
