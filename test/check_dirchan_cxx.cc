// check_dirchan_cxx.cc - goro::chan<T>, goro::sendchan<T> and
// goro::recvchan<T> at run time (the compile-time half is perm_cxx.cc).
//
// Built with -pedantic -Wold-style-cast -Wcast-qual -Werror. Each check
// prints what failed; the exit status is the number of failures. An
// alarm bounds the run, so a lost wake-up fails instead of hanging.
#include <goro.h>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace
{

int failures = 0;

// GORO_SECOND is a C cast; -Wold-style-cast is on here.
const int64_t kSecond = 1000000000;

void
check(bool ok, const char *what, int line)
{
  if (!ok) {
    std::fprintf(stderr, "check_dirchan_cxx.cc:%d: %s\n", line, what);
    failures++;
  }
}
#define CHECK(e) check((e), #e, __LINE__)

struct point {
  int x, y;
};

// Go: func counter(out chan<- point) - the goroutine owns its handle.
void
counter(void *arg)
{
  goro::sendchan<point> *out = static_cast<goro::sendchan<point> *>(arg);
  for (int i = 0; i < 100; i++)
    if (out->send(point{i, i * i}) != 0)
      std::abort();
  out->close();
  delete out; // releases its reference
}

void
test_round_trip_through_a_goroutine(size_t cap)
{
  goro::chan<point> c(cap);
  CHECK(static_cast<bool>(c));
  CHECK(c.cap() == cap);
  CHECK(goro_chan_elemsize(c.get()) == sizeof(point));
  CHECK(goro_go(counter, new goro::sendchan<point>(c)) == 0);
  goro::recvchan<point> in = c;
  int n = 0;
  for (point p; in.recv(p) > 0; n++)
    CHECK(p.x == n && p.y == n * n);
  CHECK(n == 100);
  CHECK(goro_leakcheck(1000000000, stderr) == 0);
}

void
test_handles_share_one_reference_count()
{
  goro::sendchan<int> s;
  goro::recvchan<int> r;
  CHECK(!s && !r);
  {
    goro::chan<int> c(2);
    s = c;
    r = c;
    goro::chan<int> copy = c;
    goro::chan<int> moved(static_cast<goro::chan<int> &&>(copy));
    CHECK(!copy && moved.get() == c.get());
  } // c and moved released: s and r keep the channel
  CHECK(s.send(7) == 0 && s.trysend(8) == 0 && s.trysend(9) == GORO_EAGAIN);
  CHECK(s.len() == 2 && s.cap() == 2 && r.len() == 2 && r.cap() == 2);
  CHECK(s.close() == 0 && s.close() == GORO_EPIPE);
  int v = 0;
  CHECK(r.recv(v) == 1 && v == 7);
  CHECK(r.tryrecv(v) == 1 && v == 8);
  CHECK(r.recv(v) == 0 && v == 0);
}

void
test_select_on_typed_cases()
{
  goro::chan<int> a(1), b(1);
  goro::sendchan<int> out = a;
  goro::recvchan<int> in = b;
  const int one = 1;
  int got = 0;
  goro_case cases[] = {out.send_case(one), in.recv_case(got)};
  CHECK(goro_select(cases, 2, 0) == 0 && cases[0].ok);
  CHECK(b.send(2) == 0);
  CHECK(goro_select(cases, 2, kSecond) == 1 && cases[1].ok && got == 2);
  goro_case plain[] = {a.recv_case(got), b.send_case(one)};
  int first = goro_select(plain, 2, kSecond);
  int second = goro_select(plain, 2, kSecond);
  CHECK(first >= 0 && second >= 0 && first != second && got == 1);
  CHECK(b.len() == 1 && a.len() == 0);
}

} // namespace

int
main()
{
  const char *m = std::getenv("CK_TIMEOUT_MULTIPLIER");
  int slow = m != nullptr ? std::atoi(m) : 1;
  alarm(static_cast<unsigned>(30 * (slow > 0 ? slow : 1)));
  test_round_trip_through_a_goroutine(0);
  test_round_trip_through_a_goroutine(1);
  test_round_trip_through_a_goroutine(64);
  test_handles_share_one_reference_count();
  test_select_on_typed_cases();
  if (failures == 0)
    std::printf("check_dirchan_cxx: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
