/* check_select.c - goro_select: blocking, non-blocking and timed selects;
 * send and receive cases; nil, closed and duplicate channels; the uniform
 * random choice among ready cases; and the races Go's runtime tests guard
 * against (runtime/chan_test.go, test/chan/doubleselect.go, select*.go).
 * GORO_TEST_SCALE (a factor, default 1) shrinks the long loops, for
 * valgrind.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <goro.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------- */

/* Fill c (an int channel) with cap values base, base+1, ... */
static void
fill(goro_chan *c, size_t cap, int base)
{
  for (size_t i = 0; i < cap; i++) {
    int v = base + (int)i;
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
  }
}

/* One plain channel operation done by a goroutine after a delay. */
struct op {
  goro_chan *c;
  int64_t delay; /* nap this long first */
  int value;     /* send: the value; recv: what arrived */
  int rc;        /* the operation's result */
};

static void
send_op(void *arg)
{
  struct op *o = arg;
  if (o->delay > 0)
    nap(o->delay);
  o->rc = goro_chan_send(o->c, &o->value);
}

static void
recv_op(void *arg)
{
  struct op *o = arg;
  if (o->delay > 0)
    nap(o->delay);
  o->rc = goro_chan_recv(o->c, &o->value);
}

static void
close_op(void *arg)
{
  struct op *o = arg;
  if (o->delay > 0)
    nap(o->delay);
  o->rc = goro_chan_close(o->c);
}

/* Wait for a gate channel to close, then do the operation. */
struct gated {
  goro_chan *gate;
  struct op op;
};

static void
gated_send(void *arg)
{
  struct gated *g = arg;
  goro_chan_recv(g->gate, NULL);
  send_op(&g->op);
}

static void
gated_recv(void *arg)
{
  struct gated *g = arg;
  goro_chan_recv(g->gate, NULL);
  recv_op(&g->op);
}

/* Go's TestSelectFairness bound: each of k equally likely outcomes in
 * `trials` draws lands within 10 standard deviations of its mean
 * (binomial: mean n*p, variance n*p*(1-p)). */
static void
assert_fair(const long *counts, int k, long trials)
{
  double p = 1.0 / k;
  double mean = (double)trials * p;
  double sd = sqrt((double)trials * p * (1.0 - p));
  for (int i = 0; i < k; i++)
    ck_assert_msg(fabs((double)counts[i] - mean) <= 10.0 * sd,
                  "unfair select: case %d chosen %ld times in %ld trials "
                  "(expected %.0f +- %.0f)",
                  i, counts[i], trials, mean, 10.0 * sd);
}

/* ---- arguments --------------------------------------------------------- */

START_TEST(test_select_null_cases_with_positive_n_is_einval)
{
  ck_assert_int_eq(goro_select(NULL, 1, 0), GORO_EINVAL);
  ck_assert_int_eq(goro_select(NULL, 3, 10 * MS), GORO_EINVAL);
  ck_assert_int_eq(goro_select(NULL, 1, GORO_FOREVER), GORO_EINVAL);
}
END_TEST

START_TEST(test_select_unknown_op_is_einval_and_performs_nothing)
{
  goro_chan *c = chan_make_checked(sizeof(int), 1);
  fill(c, 1, 7);
  int v = -1;
  static const int bad_ops[] = {0, 3, -1, GORO_SEND | GORO_RECV | 4};
  for (size_t i = 0; i < sizeof bad_ops / sizeof bad_ops[0]; i++) {
    /* The bad case comes after a ready one: nothing may be performed. */
    goro_case cs[2] = {GORO_RECV_CASE(c, &v), {.chan = c, .op = bad_ops[i], .elem = &v}};
    ck_assert_int_eq(goro_select(cs, 2, 0), GORO_EINVAL);
    ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), GORO_EINVAL);
    ck_assert_int_eq(goro_select(cs, 2, 10 * MS), GORO_EINVAL);
    ck_assert_int_eq(goro_select(&cs[1], 1, 0), GORO_EINVAL);
    ck_assert_int_eq(v, -1);
    ck_assert_uint_eq(goro_chan_len(c), 1);
  }
  ck_assert_int_eq(goro_chan_recv(c, &v), 1);
  ck_assert_int_eq(v, 7);
  goro_chan_release(c);
}
END_TEST

/* A send case needs a value unless the element size is 0. */
START_TEST(test_select_send_case_with_null_elem_is_einval)
{
  goro_chan *c = chan_make_checked(sizeof(int), 1), *z = chan_make_checked(0, 1);
  goro_case cs[2] = {GORO_SEND_CASE(c, NULL), GORO_SEND_CASE(z, NULL)};
  ck_assert_int_eq(goro_select(cs, 1, 0), GORO_EINVAL);
  ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), GORO_EINVAL);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  ck_assert_uint_eq(goro_chan_len(z), 0);
  ck_assert_int_eq(goro_select(&cs[1], 1, 0), 0);
  ck_assert_uint_eq(goro_chan_len(z), 1);
  goro_chan_release(c);
  goro_chan_release(z);
}
END_TEST

START_TEST(test_select_without_cases_timeout_zero_is_eagain)
{
  ck_assert_int_eq(goro_select(NULL, 0, 0), GORO_EAGAIN);
  int v = 5;
  goro_case cs[3] = {GORO_RECV_CASE(NULL, &v), GORO_SEND_CASE(NULL, &v),
                     GORO_RECV_CASE(NULL, NULL)};
  ck_assert_int_eq(goro_select(cs, 0, 0), GORO_EAGAIN);
  ck_assert_int_eq(goro_select(cs, 3, 0), GORO_EAGAIN);
  ck_assert_int_eq(v, 5);
}
END_TEST

START_TEST(test_select_without_cases_times_out_after_timeout)
{
  int v = 5;
  goro_case cs[2] = {GORO_RECV_CASE(NULL, &v), GORO_SEND_CASE(NULL, &v)};
  const int64_t d = 50 * MS;
  for (int k = 0; k < 2; k++) {
    int64_t t0 = mono_ns();
    int rc = k == 0 ? goro_select(NULL, 0, d) : goro_select(cs, 2, d);
    int64_t el = mono_ns() - t0;
    ck_assert_int_eq(rc, GORO_ETIMEDOUT);
    ck_assert_msg(el >= d, "returned after %lld ns, before the %lld ns timeout", (long long)el,
                  (long long)d);
    ck_assert_msg(el <= d + SLACK, "returned %lld ns late", (long long)(el - d));
  }
  ck_assert_int_eq(v, 5);
}
END_TEST

/* Fork a child that runs an empty select forever; it must still be blocked
 * (alive) after 300 ms, and parked rather than spinning. */
static void
assert_select_blocks_forever(goro_case *cs, size_t n)
{
  pid_t pid = fork();
  ck_assert_msg(pid >= 0, "fork failed");
  if (pid == 0) {
    /* The library's global deadlock detector would end this child. */
    setenv("GORO_DEADLOCK", "0", 1);
    int rc = goro_select(cs, n, GORO_FOREVER);
    fprintf(stderr, "select {} returned %d\n", rc);
    _exit(3);
  }
  nap(300 * MS);
  int st = 0;
  pid_t w = waitpid(pid, &st, WNOHANG);

  /* CPU time the child used while blocked: utime and stime, fields 14
   * and 15 of /proc/<pid>/stat (Linux only; skipped where absent). */
  long cpu_ticks = -1;
  if (w == 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
      char buf[1024];
      size_t len = fread(buf, 1, sizeof buf - 1, f);
      fclose(f);
      buf[len] = '\0';
      char *p = strrchr(buf, ')');
      unsigned long ut, stt;
      if (p != NULL &&
          sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) == 2)
        cpu_ticks = (long)(ut + stt);
    }
  }
  kill(pid, SIGKILL);
  if (w == 0)
    waitpid(pid, &st, 0);

  ck_assert_msg(w == 0, "the child running select {} ended within 300 ms (%s %d)",
                WIFEXITED(st) ? "exit status" : "signal",
                WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
  ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                "the child ended some other way than by our SIGKILL");
  if (cpu_ticks >= 0) {
    long hz = sysconf(_SC_CLK_TCK);
    ck_assert_msg(cpu_ticks * 1000 / hz < 150,
                  "select {} burned %ld ms of CPU in 300 ms: it spins instead of parking",
                  cpu_ticks * 1000 / hz);
  }
}

START_TEST(test_select_without_cases_forever_blocks_forever)
{
  assert_select_blocks_forever(NULL, 0);
}
END_TEST

START_TEST(test_select_with_only_nil_channels_forever_blocks_forever)
{
  int v = 1;
  goro_case cs[3] = {GORO_RECV_CASE(NULL, &v), GORO_SEND_CASE(NULL, &v),
                     GORO_RECV_CASE(NULL, NULL)};
  assert_select_blocks_forever(cs, 3);
}
END_TEST

/* ---- nil channels ------------------------------------------------------ */

START_TEST(test_select_nil_channel_cases_are_never_chosen)
{
  goro_chan *c = chan_make_checked(sizeof(int), 1);
  int nilrecv = -1, nilsend = 99, v = -1;
  for (int i = 0; i < 200; i++) {
    int x = i;
    ck_assert_int_eq(goro_chan_send(c, &x), 0);
    goro_case cs[4] = {GORO_SEND_CASE(NULL, &nilsend), GORO_RECV_CASE(NULL, &nilrecv),
                       GORO_RECV_CASE(c, &v), GORO_RECV_CASE(NULL, NULL)};
    ck_assert_int_eq(goro_select(cs, 4, i % 2 ? 0 : GORO_FOREVER), 2);
    ck_assert(cs[2].ok);
    ck_assert_int_eq(v, i);
  }
  ck_assert_int_eq(nilrecv, -1);
  ck_assert_int_eq(nilsend, 99);
  goro_chan_release(c);
}
END_TEST

/* ---- non-blocking ------------------------------------------------------ */

START_TEST(test_select_nonblocking_is_eagain_when_no_case_is_ready)
{
  size_t cap = test_caps[_i];
  goro_chan *empty = chan_make_checked(sizeof(int), cap);
  goro_chan *full = chan_make_checked(sizeof(int), cap);
  fill(full, cap, 100);
  int r = -1, s = 42;
  goro_case cs[2] = {GORO_RECV_CASE(empty, &r), GORO_SEND_CASE(full, &s)};
  for (int i = 0; i < 100; i++) {
    ck_assert_int_eq(goro_select(cs, 2, 0), GORO_EAGAIN);
    ck_assert_int_eq(goro_select(&cs[0], 1, 0), GORO_EAGAIN);
    ck_assert_int_eq(goro_select(&cs[1], 1, 0), GORO_EAGAIN);
  }
  ck_assert_int_eq(r, -1);
  ck_assert_uint_eq(goro_chan_len(empty), 0);
  ck_assert_uint_eq(goro_chan_len(full), cap);
  /* Nothing was sent: the full channel holds exactly what it held. */
  for (size_t i = 0; i < cap; i++) {
    ck_assert_int_eq(goro_chan_recv(full, &r), 1);
    ck_assert_int_eq(r, 100 + (int)i);
  }
  ck_assert_int_eq(goro_chan_tryrecv(full, &r), GORO_EAGAIN);
  goro_chan_release(empty);
  goro_chan_release(full);
}
END_TEST

START_TEST(test_select_nonblocking_performs_a_ready_buffered_case)
{
  goro_chan *c = chan_make_checked(sizeof(int), 2);
  int s = 11, r = -1;
  goro_case send = GORO_SEND_CASE(c, &s);
  send.ok = false;
  ck_assert_int_eq(goro_select(&send, 1, 0), 0);
  ck_assert(send.ok);
  ck_assert_uint_eq(goro_chan_len(c), 1);
  goro_case recv = GORO_RECV_CASE(c, &r);
  recv.ok = false;
  ck_assert_int_eq(goro_select(&recv, 1, 0), 0);
  ck_assert(recv.ok);
  ck_assert_int_eq(r, 11);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  goro_chan_release(c);
}
END_TEST

/* test/chan/nonblock.go: a non-blocking select send (recv) succeeds once
 * a receiver (sender) waits on an unbuffered channel. */
START_TEST(test_select_nonblocking_pairs_with_a_waiting_partner)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap);
  goro_wg *wg = wg_make_checked();

  struct op rx = {.c = c, .value = -1};
  wg_go_checked(wg, recv_op, &rx);
  int s = 123, tries = 0, rc;
  goro_case sc = GORO_SEND_CASE(c, &s);
  while ((rc = goro_select(&sc, 1, 0)) == GORO_EAGAIN && tries++ < 5000)
    nap(GORO_MILLISECOND / 2);
  ck_assert_int_eq(rc, 0);
  ck_assert(sc.ok);
  goro_wg_wait(wg);
  ck_assert_int_eq(rx.rc, 1);
  ck_assert_int_eq(rx.value, 123);

  struct op tx = {.c = c, .value = 234};
  wg_go_checked(wg, send_op, &tx);
  int r = -1;
  tries = 0;
  goro_case rcase = GORO_RECV_CASE(c, &r);
  while ((rc = goro_select(&rcase, 1, 0)) == GORO_EAGAIN && tries++ < 5000)
    nap(GORO_MILLISECOND / 2);
  ck_assert_int_eq(rc, 0);
  ck_assert(rcase.ok);
  ck_assert_int_eq(r, 234);
  goro_wg_wait(wg);
  ck_assert_int_eq(tx.rc, 0);

  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* goro_chan_trysend/tryrecv give the same answer as a one-case select with
 * timeout 0, in every state a channel can be in without a partner. */
enum chan_state { ST_EMPTY, ST_ONE, ST_FULL, ST_CLOSED_EMPTY, ST_CLOSED_ONE, ST_NSTATES };

static goro_chan *
make_in_state(size_t cap, enum chan_state st)
{
  goro_chan *c = chan_make_checked(sizeof(int), cap);
  int v = 77;
  if ((st == ST_ONE || st == ST_CLOSED_ONE) && cap > 0)
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
  if (st == ST_FULL)
    fill(c, cap, 77);
  if (st == ST_CLOSED_EMPTY || st == ST_CLOSED_ONE)
    ck_assert_int_eq(goro_chan_close(c), 0);
  return c;
}

START_TEST(test_trysend_and_tryrecv_agree_with_one_case_nonblocking_select)
{
  size_t cap = test_caps[_i];
  for (int st = 0; st < ST_NSTATES; st++) {
    /* Receive. */
    goro_chan *a = make_in_state(cap, st), *b = make_in_state(cap, st);
    int va = -5, vb = -5;
    int tr = goro_chan_tryrecv(a, &va);
    goro_case rc = GORO_RECV_CASE(b, &vb);
    int sr = goro_select(&rc, 1, 0);
    if (tr == GORO_EAGAIN)
      ck_assert_msg(sr == GORO_EAGAIN, "state %d cap %zu: tryrecv EAGAIN, select %d", st, cap, sr);
    else {
      ck_assert_msg(sr == 0, "state %d cap %zu: tryrecv %d, select %d", st, cap, tr, sr);
      ck_assert_int_eq(rc.ok, tr == 1);
    }
    ck_assert_int_eq(va, vb);
    ck_assert_uint_eq(goro_chan_len(a), goro_chan_len(b));
    goro_chan_release(a);
    goro_chan_release(b);

    /* Send. */
    a = make_in_state(cap, st);
    b = make_in_state(cap, st);
    int s = 3;
    int ts = goro_chan_trysend(a, &s);
    goro_case sc = GORO_SEND_CASE(b, &s);
    int ss = goro_select(&sc, 1, 0);
    if (ts == GORO_EAGAIN)
      ck_assert_msg(ss == GORO_EAGAIN, "state %d cap %zu: trysend EAGAIN, select %d", st, cap, ss);
    else {
      ck_assert_msg(ts == 0 || ts == GORO_EPIPE, "trysend returned %d", ts);
      ck_assert_msg(ss == 0, "state %d cap %zu: trysend %d, select %d", st, cap, ts, ss);
      ck_assert_int_eq(sc.ok, ts == 0);
    }
    ck_assert_uint_eq(goro_chan_len(a), goro_chan_len(b));
    goro_chan_release(a);
    goro_chan_release(b);
  }
}
END_TEST

/* ---- blocking ---------------------------------------------------------- */

/* A select blocked on several channels is woken by the one that becomes
 * ready; only that case completes and the other cases leave no trace. */
START_TEST(test_select_blocked_is_woken_by_the_ready_case_only)
{
  size_t cap = test_caps[_i];
  goro_chan *a = chan_make_checked(sizeof(int), cap), *b = chan_make_checked(sizeof(int), cap);
  goro_chan *d = chan_make_checked(sizeof(int), cap);
  fill(d, cap, 1000); /* full: the send case cannot proceed */
  goro_wg *wg = wg_make_checked();
  struct op tx = {.c = b, .delay = 50 * MS, .value = 42};
  wg_go_checked(wg, send_op, &tx);

  int va = -1, vb = -1, vd = 99;
  goro_case cs[3] = {GORO_RECV_CASE(a, &va), GORO_RECV_CASE(b, &vb), GORO_SEND_CASE(d, &vd)};
  ck_assert_int_eq(goro_select(cs, 3, GORO_FOREVER), 1);
  ck_assert(cs[1].ok);
  ck_assert_int_eq(vb, 42);
  ck_assert_int_eq(va, -1);
  goro_wg_wait(wg);
  ck_assert_int_eq(tx.rc, 0);

  /* No receive waiter of the select is left on a. */
  ck_assert_uint_eq(goro_chan_len(a), 0);
  if (cap == 0)
    ck_assert_int_eq(goro_chan_trysend(a, &va), GORO_EAGAIN);
  /* No send waiter is left on d: draining it yields only its old values. */
  ck_assert_uint_eq(goro_chan_len(d), cap);
  for (size_t i = 0; i < cap; i++) {
    int x;
    ck_assert_int_eq(goro_chan_recv(d, &x), 1);
    ck_assert_int_eq(x, 1000 + (int)i);
  }
  int x = -1;
  ck_assert_int_eq(goro_chan_tryrecv(d, &x), GORO_EAGAIN);
  ck_assert_int_eq(x, -1);

  goro_wg_free(wg);
  goro_chan_release(a);
  goro_chan_release(b);
  goro_chan_release(d);
}
END_TEST

/* Send and receive cases mixed in one blocked select: a receiver on the
 * send case's channel completes the send; later a sender completes the
 * receive. */
START_TEST(test_select_mixed_send_and_recv_cases_block_until_a_partner)
{
  goro_chan *out = chan_make_checked(sizeof(int), 0), *in = chan_make_checked(sizeof(int), 0);
  goro_wg *wg = wg_make_checked();
  int s = 5, r = -1;
  goro_case cs[2] = {GORO_SEND_CASE(out, &s), GORO_RECV_CASE(in, &r)};

  struct op rx = {.c = out, .delay = 30 * MS, .value = -1};
  wg_go_checked(wg, recv_op, &rx);
  ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), 0);
  ck_assert(cs[0].ok);
  ck_assert_int_eq(r, -1);
  goro_wg_wait(wg);
  ck_assert_int_eq(rx.rc, 1);
  ck_assert_int_eq(rx.value, 5);

  struct op tx = {.c = in, .delay = 30 * MS, .value = 6};
  wg_go_checked(wg, send_op, &tx);
  ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), 1);
  ck_assert(cs[1].ok);
  ck_assert_int_eq(r, 6);
  goro_wg_wait(wg);
  ck_assert_int_eq(tx.rc, 0);

  goro_wg_free(wg);
  goro_chan_release(out);
  goro_chan_release(in);
}
END_TEST

/* Two senders arrive at once on the two channels of a blocked receiving
 * select: exactly one value goes to the select, the other stays with its
 * sender and is received afterwards. */
START_TEST(test_select_recv_completes_exactly_one_of_two_racing_senders)
{
  size_t cap = test_caps[_i];
  for (int it = 0; it < 200; it++) {
    goro_chan *ch[2] = {chan_make_checked(sizeof(int), cap), chan_make_checked(sizeof(int), cap)};
    goro_chan *gate = chan_make_checked(0, 0);
    goro_wg *wg = wg_make_checked();
    struct gated g[2] = {{gate, {.c = ch[0], .value = 1}}, {gate, {.c = ch[1], .value = 2}}};
    struct op opener = {.c = gate, .delay = (it % 3) * GORO_MILLISECOND};
    wg_go_checked(wg, gated_send, &g[0]);
    wg_go_checked(wg, gated_send, &g[1]);
    wg_go_checked(wg, close_op, &opener);

    int v[2] = {-1, -1};
    goro_case cs[2] = {GORO_RECV_CASE(ch[0], &v[0]), GORO_RECV_CASE(ch[1], &v[1])};
    int i = goro_select(cs, 2, GORO_FOREVER);
    ck_assert_msg(i == 0 || i == 1, "select returned %d", i);
    ck_assert(cs[i].ok);
    ck_assert_int_eq(v[i], i + 1);
    ck_assert_int_eq(v[1 - i], -1);

    /* The other value was not swallowed: it is still there to receive. */
    int w = -1;
    goro_case rest = GORO_RECV_CASE(ch[1 - i], &w);
    ck_assert_msg(goro_select(&rest, 1, 2 * GORO_SECOND) == 0,
                  "iteration %d: the other sender's value was lost", it);
    ck_assert_int_eq(w, 2 - i);
    goro_wg_wait(wg);
    ck_assert_int_eq(g[0].op.rc, 0);
    ck_assert_int_eq(g[1].op.rc, 0);
    ck_assert_uint_eq(goro_chan_len(ch[0]) + goro_chan_len(ch[1]), 0);

    goro_wg_free(wg);
    goro_chan_release(gate);
    goro_chan_release(ch[0]);
    goro_chan_release(ch[1]);
  }
}
END_TEST

/* Two receivers arrive at once on the two channels of a sending select:
 * exactly one of them gets the select's value; the other still waits and
 * gets a later plain send. */
START_TEST(test_select_send_completes_exactly_one_of_two_racing_receivers)
{
  size_t cap = test_caps[_i];
  for (int it = 0; it < 200; it++) {
    goro_chan *ch[2] = {chan_make_checked(sizeof(int), cap), chan_make_checked(sizeof(int), cap)};
    goro_chan *gate = chan_make_checked(0, 0);
    goro_wg *wg = wg_make_checked();
    struct gated g[2] = {{gate, {.c = ch[0], .value = -1}}, {gate, {.c = ch[1], .value = -1}}};
    struct op opener = {.c = gate, .delay = (it % 3) * GORO_MILLISECOND};
    wg_go_checked(wg, gated_recv, &g[0]);
    wg_go_checked(wg, gated_recv, &g[1]);
    wg_go_checked(wg, close_op, &opener);

    int s[2] = {10, 20};
    goro_case cs[2] = {GORO_SEND_CASE(ch[0], &s[0]), GORO_SEND_CASE(ch[1], &s[1])};
    int i = goro_select(cs, 2, GORO_FOREVER);
    ck_assert_msg(i == 0 || i == 1, "select returned %d", i);
    ck_assert(cs[i].ok);

    int later = 30;
    goro_case rest = GORO_SEND_CASE(ch[1 - i], &later);
    ck_assert_msg(goro_select(&rest, 1, 2 * GORO_SECOND) == 0,
                  "iteration %d: no receiver left for the second value", it);
    goro_wg_wait(wg);
    ck_assert_int_eq(g[i].op.rc, 1);
    ck_assert_int_eq(g[1 - i].op.rc, 1);
    ck_assert_int_eq(g[i].op.value, s[i]);
    ck_assert_int_eq(g[1 - i].op.value, 30);
    ck_assert_uint_eq(goro_chan_len(ch[0]) + goro_chan_len(ch[1]), 0);

    goro_wg_free(wg);
    goro_chan_release(gate);
    goro_chan_release(ch[0]);
    goro_chan_release(ch[1]);
  }
}
END_TEST

/* ---- closed channels --------------------------------------------------- */

START_TEST(test_select_recv_on_closed_channel_is_ready_with_ok_false)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap), *never = chan_make_checked(sizeof(int), 0);
  fill(c, cap < 2 ? cap : 2, 50);
  ck_assert_int_eq(goro_chan_close(c), 0);
  int v = -1, nv = -1;
  goro_case cs[2] = {GORO_RECV_CASE(never, &nv), GORO_RECV_CASE(c, &v)};
  /* Buffered values come first, with ok = true. */
  for (int i = 0; i < (cap < 2 ? (int)cap : 2); i++) {
    cs[1].ok = false;
    ck_assert_int_eq(goro_select(cs, 2, i % 2 ? 0 : GORO_FOREVER), 1);
    ck_assert(cs[1].ok);
    ck_assert_int_eq(v, 50 + i);
  }
  /* Then the zero value with ok = false, as often as asked, never blocking. */
  for (int i = 0; i < 10; i++) {
    v = 0x5a5a5a5a;
    cs[1].ok = true;
    ck_assert_int_eq(goro_select(cs, 2, i % 2 ? 0 : GORO_FOREVER), 1);
    ck_assert(!cs[1].ok);
    ck_assert_int_eq(v, 0);
  }
  ck_assert_int_eq(nv, -1);
  goro_chan_release(c);
  goro_chan_release(never);
}
END_TEST

START_TEST(test_select_send_on_closed_channel_is_chosen_with_ok_false)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap), *never = chan_make_checked(sizeof(int), 0);
  ck_assert_int_eq(goro_chan_close(c), 0);
  int s = 8, nv = -1;
  goro_case cs[2] = {GORO_RECV_CASE(never, &nv), GORO_SEND_CASE(c, &s)};
  static const int64_t timeouts[] = {0, GORO_FOREVER, GORO_SECOND};
  for (int i = 0; i < 3; i++) {
    cs[1].ok = true;
    ck_assert_int_eq(goro_select(cs, 2, timeouts[i]), 1);
    ck_assert(!cs[1].ok);
  }
  /* Nothing was sent. */
  ck_assert_uint_eq(goro_chan_len(c), 0);
  int v = -1;
  ck_assert_int_eq(goro_chan_recv(c, &v), 0);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(nv, -1);
  goro_chan_release(c);
  goro_chan_release(never);
}
END_TEST

START_TEST(test_select_blocked_recv_woken_by_close_reports_not_ok)
{
  size_t cap = test_caps[_i];
  goro_chan *a = chan_make_checked(sizeof(int), cap), *b = chan_make_checked(sizeof(int), cap);
  goro_wg *wg = wg_make_checked();
  struct op closer = {.c = b, .delay = 30 * MS};
  wg_go_checked(wg, close_op, &closer);
  int va = -1, vb = 0x5a5a;
  goro_case cs[2] = {GORO_RECV_CASE(a, &va), GORO_RECV_CASE(b, &vb)};
  cs[1].ok = true;
  ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), 1);
  ck_assert(!cs[1].ok);
  ck_assert_int_eq(vb, 0);
  ck_assert_int_eq(va, -1);
  goro_wg_wait(wg);
  ck_assert_int_eq(closer.rc, 0);
  if (cap == 0)
    ck_assert_int_eq(goro_chan_trysend(a, &va), GORO_EAGAIN);
  goro_wg_free(wg);
  goro_chan_release(a);
  goro_chan_release(b);
}
END_TEST

START_TEST(test_select_blocked_send_woken_by_close_reports_not_ok_and_sends_nothing)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap), *never = chan_make_checked(sizeof(int), 0);
  fill(c, cap, 300);
  goro_wg *wg = wg_make_checked();
  struct op closer = {.c = c, .delay = 30 * MS};
  wg_go_checked(wg, close_op, &closer);
  int s = 9, nv = -1;
  goro_case cs[2] = {GORO_RECV_CASE(never, &nv), GORO_SEND_CASE(c, &s)};
  cs[1].ok = true;
  ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), 1);
  ck_assert(!cs[1].ok);
  goro_wg_wait(wg);
  ck_assert_int_eq(closer.rc, 0);
  for (size_t i = 0; i < cap; i++) {
    int v;
    ck_assert_int_eq(goro_chan_recv(c, &v), 1);
    ck_assert_int_eq(v, 300 + (int)i);
  }
  int v = -1;
  ck_assert_int_eq(goro_chan_recv(c, &v), 0);
  ck_assert_int_eq(nv, -1);
  goro_wg_free(wg);
  goro_chan_release(c);
  goro_chan_release(never);
}
END_TEST

/* ---- ok flags, NULL elem, element sizes -------------------------------- */

START_TEST(test_select_sets_ok_true_on_successful_send_and_recv)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap);
  goro_wg *wg = wg_make_checked();
  /* Blocking send, completed by a late receiver. */
  struct op rx = {.c = c, .delay = 20 * MS, .value = -1};
  wg_go_checked(wg, recv_op, &rx);
  int s = 71;
  goro_case sc = GORO_SEND_CASE(c, &s);
  sc.ok = false;
  ck_assert_int_eq(goro_select(&sc, 1, GORO_FOREVER), 0);
  ck_assert(sc.ok);
  goro_wg_wait(wg);
  ck_assert_int_eq(rx.value, 71);
  /* Blocking receive, completed by a late sender. */
  struct op tx = {.c = c, .delay = 20 * MS, .value = 72};
  wg_go_checked(wg, send_op, &tx);
  int r = -1;
  goro_case rc = GORO_RECV_CASE(c, &r);
  rc.ok = false;
  ck_assert_int_eq(goro_select(&rc, 1, GORO_FOREVER), 0);
  ck_assert(rc.ok);
  ck_assert_int_eq(r, 72);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

START_TEST(test_select_recv_with_null_elem_discards_the_value)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap);
  goro_wg *wg = wg_make_checked();
  struct op tx = {.c = c, .delay = 10 * MS, .value = 5};
  wg_go_checked(wg, send_op, &tx);
  goro_case rc = GORO_RECV_CASE(c, NULL);
  ck_assert_int_eq(goro_select(&rc, 1, GORO_FOREVER), 0);
  ck_assert(rc.ok);
  goro_wg_wait(wg);
  ck_assert_int_eq(tx.rc, 0);
  ck_assert_uint_eq(goro_chan_len(c), 0);
  if (cap > 0) {
    fill(c, 1, 6);
    ck_assert_int_eq(goro_select(&rc, 1, 0), 0);
    ck_assert(rc.ok);
    ck_assert_uint_eq(goro_chan_len(c), 0);
  }
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_int_eq(goro_select(&rc, 1, 0), 0);
  ck_assert(!rc.ok);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

struct zsz {
  goro_chan *c;
  int n;
  int got;
};

static void
zero_size_receiver(void *arg)
{
  struct zsz *z = arg;
  for (int i = 0; i < z->n; i++)
    if (goro_chan_recv(z->c, NULL) == 1)
      z->got++;
}

START_TEST(test_select_on_zero_size_element_channels)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(0, cap), *idle = chan_make_checked(0, 0);
  goro_wg *wg = wg_make_checked();
  struct zsz z = {.c = c, .n = 100};
  wg_go_checked(wg, zero_size_receiver, &z);
  for (int i = 0; i < 100; i++) {
    goro_case cs[2] = {GORO_RECV_CASE(idle, NULL), GORO_SEND_CASE(c, NULL)};
    ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), 1);
    ck_assert(cs[1].ok);
  }
  goro_wg_wait(wg);
  ck_assert_int_eq(z.got, 100);
  /* Receive through select, with and without a (never written) buffer. */
  if (cap > 0) {
    ck_assert_int_eq(goro_chan_send(c, NULL), 0);
    char buf = 'x';
    goro_case rc = GORO_RECV_CASE(c, &buf);
    ck_assert_int_eq(goro_select(&rc, 1, 0), 0);
    ck_assert(rc.ok);
    ck_assert_int_eq(buf, 'x');
  }
  goro_case rc = GORO_RECV_CASE(c, NULL);
  ck_assert_int_eq(goro_select(&rc, 1, 0), GORO_EAGAIN);
  ck_assert_int_eq(goro_chan_close(c), 0);
  ck_assert_int_eq(goro_select(&rc, 1, 0), 0);
  ck_assert(!rc.ok);
  goro_wg_free(wg);
  goro_chan_release(c);
  goro_chan_release(idle);
}
END_TEST

struct big {
  unsigned char bytes[251];
};

static void
big_sender(void *arg)
{
  goro_chan *c = arg;
  struct big b;
  for (int i = 0; i < 251; i++)
    b.bytes[i] = (unsigned char)(i * 7 + 3);
  nap(10 * MS);
  if (goro_chan_send(c, &b) != 0)
    BG_FAIL("big send failed");
}

START_TEST(test_select_copies_whole_large_elements)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(struct big), cap),
            *idle = chan_make_checked(sizeof(struct big), 0);
  goro_wg *wg = wg_make_checked();
  wg_go_checked(wg, big_sender, c);
  struct big b, junk;
  memset(&b, 0, sizeof b);
  memset(&junk, 0xee, sizeof junk);
  goro_case cs[2] = {GORO_RECV_CASE(idle, &junk), GORO_RECV_CASE(c, &b)};
  ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), 1);
  for (int i = 0; i < 251; i++)
    ck_assert_uint_eq(b.bytes[i], (unsigned char)(i * 7 + 3));
  for (int i = 0; i < 251; i++)
    ck_assert_uint_eq(junk.bytes[i], 0xee);
  goro_wg_wait(wg);
  assert_no_bg_failures();
  goro_wg_free(wg);
  goro_chan_release(c);
  goro_chan_release(idle);
}
END_TEST

/* A select over many channels returns the index of the one that fired. */
struct pick {
  goro_chan **chans;
  int which;
};

static void
pick_sender(void *arg)
{
  struct pick *p = arg;
  nap(2 * MS);
  int v = 1000 + p->which;
  if (goro_chan_send(p->chans[p->which], &v) != 0)
    BG_FAIL("send to channel %d failed", p->which);
}

START_TEST(test_select_over_many_channels_returns_the_ready_index)
{
  /* More cases than fit any small fixed array; not more than ThreadSanitizer
   * can follow (it tracks at most 64 mutexes held at once). */
  enum { N = 40 };
  goro_chan *chans[N];
  int vals[N];
  goro_case cs[N];
  for (int k = 0; k < N; k++) {
    chans[k] = chan_make_checked(sizeof(int), k % 3 == 0 ? 0 : (size_t)k % 3);
    vals[k] = -1;
    cs[k] = GORO_RECV_CASE(chans[k], &vals[k]);
  }
  goro_wg *wg = wg_make_checked();
  unsigned seed = 12345;
  for (int it = 0; it < 50; it++) {
    seed = seed * 1103515245u + 12345u;
    struct pick p = {chans, (int)((seed >> 8) % N)};
    wg_go_checked(wg, pick_sender, &p);
    int i = goro_select(cs, N, GORO_FOREVER);
    ck_assert_int_eq(i, p.which);
    ck_assert_int_eq(vals[i], 1000 + i);
    vals[i] = -1;
    goro_wg_wait(wg);
  }
  for (int k = 0; k < N; k++)
    ck_assert_int_eq(vals[k], -1);
  assert_no_bg_failures();
  goro_wg_free(wg);
  for (int k = 0; k < N; k++)
    goro_chan_release(chans[k]);
}
END_TEST

/* ---- timeouts ---------------------------------------------------------- */

START_TEST(test_select_times_out_not_before_the_timeout)
{
  size_t cap = test_caps[_i];
  goro_chan *empty = chan_make_checked(sizeof(int), cap),
            *full = chan_make_checked(sizeof(int), cap);
  fill(full, cap, 40);
  static const int64_t timeouts[] = {1 * MS, 20 * MS, 100 * MS};
  int r = -1, s = 99;
  goro_case cs[3] = {GORO_RECV_CASE(empty, &r), GORO_SEND_CASE(full, &s), GORO_RECV_CASE(NULL, &r)};
  for (int i = 0; i < 3; i++) {
    int64_t t0 = mono_ns();
    int rc = goro_select(cs, 3, timeouts[i]);
    int64_t el = mono_ns() - t0;
    ck_assert_int_eq(rc, GORO_ETIMEDOUT);
    ck_assert_msg(el >= timeouts[i], "timed out after %lld ns, before the %lld ns timeout",
                  (long long)el, (long long)timeouts[i]);
    ck_assert_msg(el <= timeouts[i] + SLACK, "timed out %lld ns late",
                  (long long)(el - timeouts[i]));
  }
  ck_assert_int_eq(r, -1);
  ck_assert_uint_eq(goro_chan_len(empty), 0);
  /* The timed-out send left nothing behind. */
  for (size_t i = 0; i < cap; i++) {
    ck_assert_int_eq(goro_chan_recv(full, &r), 1);
    ck_assert_int_eq(r, 40 + (int)i);
  }
  ck_assert_int_eq(goro_chan_tryrecv(full, &r), GORO_EAGAIN);
  if (cap == 0)
    ck_assert_int_eq(goro_chan_trysend(empty, &s), GORO_EAGAIN);
  goro_chan_release(empty);
  goro_chan_release(full);
}
END_TEST

START_TEST(test_select_with_timeout_returns_a_case_that_becomes_ready_in_time)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap);
  goro_wg *wg = wg_make_checked();
  struct op tx = {.c = c, .delay = 20 * MS, .value = 17};
  wg_go_checked(wg, send_op, &tx);
  int r = -1;
  goro_case rc = GORO_RECV_CASE(c, &r);
  int64_t t0 = mono_ns();
  ck_assert_int_eq(goro_select(&rc, 1, 5 * GORO_SECOND), 0);
  ck_assert_msg(mono_ns() - t0 < 4 * GORO_SECOND, "select waited for its timeout");
  ck_assert(rc.ok);
  ck_assert_int_eq(r, 17);
  goro_wg_wait(wg);
  ck_assert_int_eq(tx.rc, 0);
  /* A case already ready is taken at once even with a long timeout. */
  if (cap > 0) {
    fill(c, 1, 18);
    t0 = mono_ns();
    ck_assert_int_eq(goro_select(&rc, 1, 10 * GORO_SECOND), 0);
    ck_assert_int_eq(r, 18);
    ck_assert(mono_ns() - t0 < SLACK);
  }
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* A huge timeout must not overflow into "already expired". */
START_TEST(test_select_with_huge_timeout_waits_like_forever)
{
  goro_chan *c = chan_make_checked(sizeof(int), 0);
  goro_wg *wg = wg_make_checked();
  struct op tx = {.c = c, .delay = 50 * MS, .value = 3};
  wg_go_checked(wg, send_op, &tx);
  int r = -1;
  goro_case rc = GORO_RECV_CASE(c, &r);
  ck_assert_int_eq(goro_select(&rc, 1, INT64_MAX), 0);
  ck_assert_int_eq(r, 3);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* v0.2: a negative timeout is a time already passed (a remaining time
 * computed as deadline - goro_now()): the select polls once. It used to
 * block forever. */
START_TEST(test_select_with_negative_timeout_polls_once_then_times_out)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap);
  int r = 0;
  static const int64_t expired[] = {-1, -GORO_SECOND, INT64_MIN};
  for (size_t k = 0; k < sizeof expired / sizeof expired[0]; k++) {
    goro_case rc = GORO_RECV_CASE(c, &r);
    int64_t t0 = goro_now();
    ck_assert_int_eq(goro_select(&rc, 1, expired[k]), GORO_ETIMEDOUT);
    ck_assert_msg(goro_now() - t0 < 500 * MS, "a negative timeout waited");
    goro_case none[1] = {GORO_RECV_CASE(NULL, &r)};
    ck_assert_int_eq(goro_select(none, 1, expired[k]), GORO_ETIMEDOUT);
    ck_assert_int_eq(goro_select(NULL, 0, expired[k]), GORO_ETIMEDOUT);
  }
  if (cap > 0) {
    /* A ready case is still taken. */
    int v = 7;
    ck_assert_int_eq(goro_chan_send(c, &v), 0);
    goro_case rc = GORO_RECV_CASE(c, &r);
    ck_assert_int_eq(goro_select(&rc, 1, -5), 0);
    ck_assert(rc.ok);
    ck_assert_int_eq(r, 7);
  }
  goro_chan_close(c);
  goro_case closed = GORO_RECV_CASE(c, &r);
  ck_assert_int_eq(goro_select(&closed, 1, -1), 0);
  ck_assert(!closed.ok);
  goro_chan_release(c);
}
END_TEST

/* The loop the man page advises: pass the time remaining until a
 * deadline. Once it goes negative the loop ends instead of hanging. */
START_TEST(test_select_with_remaining_time_ends_at_the_deadline)
{
  goro_chan *c = chan_make_checked(sizeof(int), 0);
  int64_t deadline = goro_now() + 30 * MS;
  int rc, loops = 0;
  do {
    int r;
    goro_case k = GORO_RECV_CASE(c, &r);
    rc = goro_select(&k, 1, deadline - goro_now());
    loops++;
  } while (rc != GORO_ETIMEDOUT && loops < 1000);
  ck_assert_int_eq(rc, GORO_ETIMEDOUT);
  ck_assert(goro_now() >= deadline);
  goro_chan_release(c);
}
END_TEST

/* ---- random choice ----------------------------------------------------- */

/* Go's TestSelectFairness, with three always-ready channels (and two that
 * are never ready, and a nil one) over 30,000 selects. */
START_TEST(test_select_chooses_uniformly_among_ready_recv_cases)
{
  enum { K = 3, TRIALS = 30000 };
  goro_chan *ready[K], *never[2];
  for (int k = 0; k < K; k++) {
    ready[k] = chan_make_checked(sizeof(int), 1);
    fill(ready[k], 1, k);
  }
  for (int k = 0; k < 2; k++)
    never[k] = chan_make_checked(sizeof(int), 0);
  int v = -1;
  goro_case cs[6] = {GORO_RECV_CASE(never[0], &v), GORO_RECV_CASE(never[1], &v),
                     GORO_RECV_CASE(NULL, &v),     GORO_RECV_CASE(ready[0], &v),
                     GORO_RECV_CASE(ready[1], &v), GORO_RECV_CASE(ready[2], &v)};
  long counts[K] = {0};
  /* Plain checks in the loop: each ck_assert costs a system call. */
  for (int t = 0; t < TRIALS; t++) {
    int i = goro_select(cs, 6, t % 2 ? 0 : GORO_FOREVER);
    if (i < 3 || i >= 6)
      ck_abort_msg("trial %d chose case %d", t, i);
    int k = i - 3;
    if (v != k || goro_chan_trysend(ready[k], &k) != 0)
      ck_abort_msg("trial %d: received %d from channel %d, or could not refill it", t, v, k);
    counts[k]++;
  }
  assert_fair(counts, K, TRIALS);
  for (int k = 0; k < K; k++)
    goro_chan_release(ready[k]);
  for (int k = 0; k < 2; k++)
    goro_chan_release(never[k]);
}
END_TEST

START_TEST(test_select_chooses_uniformly_among_ready_send_cases)
{
  enum { K = 3, TRIALS = 30000 };
  goro_chan *room[K];
  for (int k = 0; k < K; k++)
    room[k] = chan_make_checked(sizeof(int), 1);
  goro_chan *full = chan_make_checked(sizeof(int), 1);
  fill(full, 1, 0);
  int s[K] = {0, 1, 2}, z = 9;
  goro_case cs[4] = {GORO_SEND_CASE(room[0], &s[0]), GORO_SEND_CASE(full, &z),
                     GORO_SEND_CASE(room[1], &s[1]), GORO_SEND_CASE(room[2], &s[2])};
  static const int kof[4] = {0, -1, 1, 2};
  long counts[K] = {0};
  for (int t = 0; t < TRIALS; t++) {
    int i = goro_select(cs, 4, t % 2 ? 0 : GORO_FOREVER);
    if (i != 0 && i != 2 && i != 3)
      ck_abort_msg("trial %d chose case %d", t, i);
    int k = kof[i], v = -1;
    counts[k]++;
    if (goro_chan_tryrecv(room[k], &v) != 1 || v != k)
      ck_abort_msg("trial %d: channel %d did not hold the value sent", t, k);
  }
  assert_fair(counts, K, TRIALS);
  for (int k = 0; k < K; k++)
    goro_chan_release(room[k]);
  goro_chan_release(full);
}
END_TEST

/* Cases, not channels, are what is chosen among: three receive cases on one
 * always-ready channel each win a third of the time. */
START_TEST(test_select_chooses_uniformly_among_duplicate_cases)
{
  enum { K = 3, TRIALS = 30000 };
  goro_chan *c = chan_make_checked(sizeof(int), 4);
  int v[K];
  goro_case cs[K];
  for (int k = 0; k < K; k++)
    cs[k] = GORO_RECV_CASE(c, &v[k]);
  long counts[K] = {0};
  for (int t = 0; t < TRIALS; t++) {
    int x = t;
    if (goro_chan_send(c, &x) != 0)
      ck_abort_msg("send %d failed", t);
    int i = goro_select(cs, K, GORO_FOREVER);
    if (i < 0 || i >= K || v[i] != t)
      ck_abort_msg("trial %d chose case %d", t, i);
    counts[i]++;
  }
  assert_fair(counts, K, TRIALS);
  goro_chan_release(c);
}
END_TEST

/* Go's TestPseudoRandomSend: a select sending 1 or 0 on the same channel
 * delivers both values a fair share of the time, whether the receiver finds
 * the select parked (unbuffered) or the buffer has room. */
struct prs {
  goro_chan *c;
  int n;
  int *got;
};

static void
prs_receiver(void *arg)
{
  struct prs *p = arg;
  for (int i = 0; i < p->n; i++) {
    nap(100 * GORO_MICROSECOND);
    if (goro_chan_recv(p->c, &p->got[i]) != 1)
      BG_FAIL("receive %d failed", i);
  }
}

START_TEST(test_select_two_sends_on_one_channel_deliver_pseudo_randomly)
{
  enum { N = 100 };
  static const size_t caps[] = {0, N};
  for (int ci = 0; ci < 2; ci++) {
    goro_chan *c = chan_make_checked(sizeof(int), caps[ci]);
    int got[N];
    struct prs p = {c, N, got};
    goro_wg *wg = wg_make_checked();
    wg_go_checked(wg, prs_receiver, &p);
    int one = 1, zero = 0;
    for (int i = 0; i < N; i++) {
      goro_case cs[2] = {GORO_SEND_CASE(c, &one), GORO_SEND_CASE(c, &zero)};
      int r = goro_select(cs, 2, GORO_FOREVER);
      ck_assert_msg(r == 0 || r == 1, "select returned %d", r);
    }
    goro_wg_wait(wg);
    assert_no_bg_failures();
    int n1 = 0;
    for (int i = 0; i < N; i++)
      n1 += got[i];
    ck_assert_msg(n1 > N / 10 && N - n1 > N / 10,
                  "want pseudo-random, got %d ones and %d zeros (cap %zu)", n1, N - n1, caps[ci]);
    goro_wg_free(wg);
    goro_chan_release(c);
  }
}
END_TEST

/* ---- races: a select sees all its channels at one instant -------------- */

/* Never-ready channels padding the races' selects: the more cases a
 * select polls, the wider the window in which a select that does not hold
 * every lock would see c2 before it is ready and c1 after it was drained. */
enum { RACE_PAD = 32 };

/* Spin until *a >= want, yielding now and then (valgrind, busy CI). */
/* Buffered channels wake their waiters to retry rather than handing them
 * a value, so a select woken for x that leaves by another case must pass
 * the wake-up on to x's other waiters. Mixed receivers on x: plain ones,
 * and selects that also watch y, which is fed often. Every value sent on
 * x must be received; a lost wake-up leaves one in x with its receivers
 * asleep, and the case times out. */
enum { HANDON_RECEIVERS = 6 };

struct handon {
  goro_chan *x, *y, *done;
  atomic_long got_x, got_y;
};

static void
handon_receiver(void *arg)
{
  struct handon *h = arg;
  static atomic_int next;
  bool selects = atomic_fetch_add(&next, 1) % 2 == 0;
  for (;;) {
    int v, rc;
    if (selects) {
      goro_case cs[3] = {GORO_RECV_CASE(h->x, &v), GORO_RECV_CASE(h->y, &v),
                         GORO_RECV_CASE(h->done, NULL)};
      rc = goro_select(cs, 3, GORO_FOREVER);
      if (rc == 2)
        return;
      if (rc == 0 && cs[0].ok)
        atomic_fetch_add(&h->got_x, 1);
      else if (rc == 1 && cs[1].ok)
        atomic_fetch_add(&h->got_y, 1);
      else
        BG_FAIL("handon select: rc %d", rc);
    } else {
      goro_case cs[2] = {GORO_RECV_CASE(h->x, &v), GORO_RECV_CASE(h->done, NULL)};
      rc = goro_select(cs, 2, GORO_FOREVER);
      if (rc == 1)
        return;
      if (rc == 0 && cs[0].ok)
        atomic_fetch_add(&h->got_x, 1);
      else
        BG_FAIL("handon recv: rc %d", rc);
    }
  }
}

START_TEST(test_select_woken_for_a_buffered_case_passes_the_wakeup_on)
{
  long n = (long)scaled(20000);
  struct handon h = {.x = chan_make_checked(sizeof(int), 2),
                     .y = chan_make_checked(sizeof(int), 1),
                     .done = chan_make_checked(0, 0)};
  atomic_init(&h.got_x, 0);
  atomic_init(&h.got_y, 0);
  goro_wg *wg = wg_make_checked();
  for (int i = 0; i < HANDON_RECEIVERS; i++)
    wg_go_checked(wg, handon_receiver, &h);
  long sent_y = 0;
  for (long i = 0; i < n; i++) {
    int v = (int)i;
    ck_assert_int_eq(goro_chan_send(h.x, &v), 0);
    if (i % 3 == 0 && goro_chan_trysend(h.y, &v) == 0)
      sent_y++;
    if (i % 512 == 0)
      nap(20 * 1000); /* let the receivers fall asleep now and then */
  }
  /* Every value is taken before done closes: wait for x to drain. */
  int64_t limit = mono_ns() + 10 * GORO_SECOND;
  while ((atomic_load(&h.got_x) < n || atomic_load(&h.got_y) < sent_y) && mono_ns() < limit)
    nap(1000 * 1000);
  ck_assert_int_eq(goro_chan_close(h.done), 0);
  goro_wg_wait(wg);
  ck_assert_int_eq(atomic_load(&h.got_x), n);
  ck_assert_int_eq(atomic_load(&h.got_y), sent_y);
  assert_no_bg_failures();
  goro_wg_free(wg);
  goro_chan_release(h.x);
  goro_chan_release(h.y);
  goro_chan_release(h.done);
}
END_TEST

/* The same, made to happen: a select queued on x before a plain receiver
 * is the one x's send wakes; y gets a value at once, so half the time the
 * select leaves by y, and then only its hand-on wakes the plain receiver
 * for x's value. */
struct kick_round {
  goro_chan *x, *y, *pdone;
  int s_rc;
};

static void
kick_selector(void *arg)
{
  struct kick_round *r = arg;
  int v;
  goro_case cs[2] = {GORO_RECV_CASE(r->x, &v), GORO_RECV_CASE(r->y, &v)};
  r->s_rc = goro_select(cs, 2, GORO_FOREVER);
}

static void
kick_plain(void *arg)
{
  struct kick_round *r = arg;
  int v;
  if (goro_chan_recv(r->x, &v) == 1)
    goro_chan_close(r->pdone);
}

START_TEST(test_select_leaving_by_another_case_wakes_the_next_receiver)
{
  int by_y = 0;
  for (int round = 0; round < 100; round++) {
    struct kick_round r = {chan_make_checked(sizeof(int), 1), chan_make_checked(sizeof(int), 1),
                           chan_make_checked(0, 0), -1};
    goro_wg *ws = wg_make_checked(), *wp = wg_make_checked();
    wg_go_checked(ws, kick_selector, &r);
    nap(5 * MS); /* the select queues on x first */
    wg_go_checked(wp, kick_plain, &r);
    nap(5 * MS);
    int v = round;
    ck_assert_int_eq(goro_chan_send(r.x, &v), 0);
    ck_assert_int_eq(goro_chan_trysend(r.y, &v), 0);
    goro_wg_wait(ws);
    ck_assert(r.s_rc == 0 || r.s_rc == 1);
    if (r.s_rc == 0)
      ck_assert_int_eq(goro_chan_send(r.x, &v), 0); /* the select took x's value */
    else
      by_y++;
    goro_case done = GORO_RECV_CASE(r.pdone, NULL);
    ck_assert_msg(goro_select(&done, 1, SLACK + GORO_SECOND) == 0,
                  "round %d: a value sits in x and its receiver sleeps (select left by %s)", round,
                  r.s_rc == 1 ? "y" : "x");
    goro_wg_wait(wp);
    goro_wg_free(ws);
    goro_wg_free(wp);
    goro_chan_release(r.x);
    goro_chan_release(r.y);
    goro_chan_release(r.pdone);
  }
  ck_assert_msg(by_y > 0, "the select never left by y: the test proved nothing");
}
END_TEST

static void
spin_until(atomic_int *a, int want)
{
  for (unsigned n = 1; atomic_load(a) < want; n++)
    if (n % 1024 == 0)
      sched_yield();
}

/* One goroutine doing round after round of non-blocking selects, each
 * started by the main thread (phase GO), announced as begun (BEGUN) and
 * reported (DONE). */
enum { PH_IDLE, PH_GO, PH_BEGUN, PH_DONE, PH_QUIT };

struct nbrace {
  goro_chan *c1, *c2;
  goro_chan **pad;
  atomic_int phase;
  int ok;
  int64_t begun, ended; /* mono_ns() around the select */
};

static void
nonblocking_select_rounds(void *arg)
{
  struct nbrace *r = arg;
  for (;;) {
    int ph;
    for (unsigned n = 1; (ph = atomic_load(&r->phase)) != PH_GO && ph != PH_QUIT; n++)
      if (n % 1024 == 0)
        sched_yield();
    if (ph == PH_QUIT)
      return;
    int v;
    goro_case cs[2 + RACE_PAD];
    cs[0] = GORO_RECV_CASE(r->c1, &v);
    cs[1] = GORO_RECV_CASE(r->c2, &v);
    for (int k = 0; k < RACE_PAD; k++)
      cs[2 + k] = GORO_RECV_CASE(r->pad[k], &v);
    r->begun = mono_ns();
    atomic_store(&r->phase, PH_BEGUN);
    int rc = goro_select(cs, 2 + RACE_PAD, 0);
    r->ended = mono_ns();
    r->ok = rc == 0 || rc == 1;
    atomic_store(&r->phase, PH_DONE);
  }
}

/* Go's TestNonblockSelectRace (second_closes = 0) and
 * TestNonblockSelectRace2 (= 1): c1 holds a value when the select begins;
 * c2 becomes ready (a value, or closed) before c1 is drained. Throughout
 * the select, c1 or c2 is ready, so a select that sees its channels at one
 * instant never finds neither. The main thread acts after the select
 * begins, with a delay swept across the select's running time, so that it
 * lands inside the poll on any machine. */
static void
run_nonblock_select_race(int second_closes)
{
  const int N = (int)scaled(10000);
  int64_t select_ns = 2000; /* running mean of the select's duration */
  goro_chan *pad[RACE_PAD];
  for (int k = 0; k < RACE_PAD; k++)
    pad[k] = chan_make_checked(sizeof(int), 0);
  struct nbrace r = {.pad = pad};
  atomic_init(&r.phase, PH_IDLE);
  goro_wg *wg = wg_make_checked();
  wg_go_checked(wg, nonblocking_select_rounds, &r);
  int failures = 0;
  for (int i = 0; i < N; i++) {
    r.c1 = chan_make_checked(sizeof(int), 1);
    r.c2 = chan_make_checked(sizeof(int), second_closes ? 0 : 1);
    int one = 1;
    ck_assert_int_eq(goro_chan_send(r.c1, &one), 0);
    atomic_store(&r.phase, PH_GO);
    spin_until(&r.phase, PH_BEGUN);
    int64_t act_at = r.begun + (i % 64) * select_ns / 50;
    while (mono_ns() < act_at) {
    }
    /* No ck_assert between the two steps: in fork mode each one writes
     * to a pipe, which would hold the steps far apart. */
    int rc2 = second_closes ? goro_chan_close(r.c2) : goro_chan_send(r.c2, &one);
    int rc1 = goro_chan_tryrecv(r.c1, NULL);
    spin_until(&r.phase, PH_DONE);
    ck_assert_int_eq(rc2, 0);
    ck_assert(rc1 == 1 || rc1 == GORO_EAGAIN); /* the select may have taken c1's value */
    if (!r.ok)
      failures++;
    select_ns += (r.ended - r.begun - select_ns) / 8;
    atomic_store(&r.phase, PH_IDLE);
    goro_chan_release(r.c1);
    goro_chan_release(r.c2);
  }
  atomic_store(&r.phase, PH_QUIT);
  goro_wg_wait(wg);
  ck_assert_msg(failures == 0,
                "%d of %d non-blocking selects found no channel ready although one "
                "always was",
                failures, N);
  goro_wg_free(wg);
  for (int k = 0; k < RACE_PAD; k++)
    goro_chan_release(pad[k]);
}

START_TEST(test_nonblocking_select_sees_all_channels_at_one_instant)
{
  run_nonblock_select_race(0);
}
END_TEST

START_TEST(test_nonblocking_select_sees_all_channels_at_one_instant_with_close)
{
  run_nonblock_select_race(1);
}
END_TEST

struct nbrecv {
  goro_chan *c, *done;
};

static void
nonblocking_recv_one(void *arg)
{
  struct nbrecv *r = arg;
  goro_chan *done = r->done;
  goro_case cs = GORO_RECV_CASE(r->c, NULL);
  int ok = goro_select(&cs, 1, 0) == 0;
  goro_chan_send(done, &ok);
}

/* Go's TestNonblockRecvRace: a channel holding a value that is closed
 * meanwhile stays ready throughout (a value, then closed). */
START_TEST(test_nonblocking_recv_never_misses_a_channel_being_closed)
{
  const int N = (int)scaled(5000);
  goro_chan *done = chan_make_checked(sizeof(int), 1);
  goro_wg *wg = wg_make_checked();
  int failures = 0;
  for (int i = 0; i < N; i++) {
    struct nbrecv r = {chan_make_checked(sizeof(int), 1), done};
    int one = 1, ok = 0;
    ck_assert_int_eq(goro_chan_send(r.c, &one), 0);
    wg_go_checked(wg, nonblocking_recv_one, &r);
    int rc = goro_chan_close(r.c);
    goro_chan_recv(r.c, NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(goro_chan_recv(done, &ok), 1);
    if (!ok)
      failures++;
    goro_chan_release(r.c);
  }
  goro_wg_wait(wg);
  ck_assert_msg(failures == 0, "%d of %d non-blocking receives found the channel not ready",
                failures, N);
  goro_wg_free(wg);
  goro_chan_release(done);
}
END_TEST

/* ---- duplicate channels ------------------------------------------------ */

/* Go's TestSelectDuplicateChannel: a select queued twice on c is woken by
 * d; removing both of its waiters must leave c's queue intact for the
 * plain receiver queued behind them. */
struct dup_a {
  goro_chan *c, *d, *e;
  int chosen, value;
};

static void
dup_selector(void *arg)
{
  struct dup_a *a = arg;
  int v1 = -1, v2 = -1, v3 = -1;
  goro_case cs[3] = {GORO_RECV_CASE(a->c, &v1), GORO_RECV_CASE(a->c, &v2),
                     GORO_RECV_CASE(a->d, &v3)};
  a->chosen = goro_select(cs, 3, GORO_FOREVER);
  a->value = v3;
  int nine = 9;
  goro_chan_send(a->e, &nine);
}

START_TEST(test_select_duplicate_recv_channel_leaves_queue_intact)
{
  goro_chan *c = chan_make_checked(sizeof(int), 0), *d = chan_make_checked(sizeof(int), 0),
            *e = chan_make_checked(sizeof(int), 0);
  goro_wg *wg = wg_make_checked();
  struct dup_a a = {c, d, e, -100, -1};
  wg_go_checked(wg, dup_selector, &a);
  nap(10 * MS); /* A queues first on c (twice) */
  struct op b = {.c = c, .value = -1};
  wg_go_checked(wg, recv_op, &b);
  nap(10 * MS); /* then B queues on c */

  int seven = 7, nine = -1, eight = 8;
  ck_assert_int_eq(goro_chan_send(d, &seven), 0);
  ck_assert_int_eq(goro_chan_recv(e, &nine), 1);
  ck_assert_int_eq(nine, 9);
  ck_assert_int_eq(a.chosen, 2);
  ck_assert_int_eq(a.value, 7);
  goro_case sc = GORO_SEND_CASE(c, &eight);
  ck_assert_msg(goro_select(&sc, 1, 2 * GORO_SECOND) == 0,
                "the receiver queued behind the select was lost");
  goro_wg_wait(wg);
  ck_assert_int_eq(b.rc, 1);
  ck_assert_int_eq(b.value, 8);
  goro_wg_free(wg);
  goro_chan_release(c);
  goro_chan_release(d);
  goro_chan_release(e);
}
END_TEST

/* test/chan/select6.go (Go issue 2075): the queue of a losing case stays
 * usable for waiters queued around the select's abandoned waiter. */
struct i2075 {
  goro_chan *c1, *c2, *c3;
  int bad;
};

static void
i2075_selector(void *arg)
{
  struct i2075 *s = arg;
  bool yes = true;
  goro_case cs[2] = {GORO_RECV_CASE(s->c1, NULL), GORO_RECV_CASE(s->c2, NULL)};
  int i = goro_select(cs, 2, GORO_FOREVER);
  if (i != 1) {
    s->bad = 1;
    return;
  }
  goro_chan_send(s->c3, &yes);
  goro_chan_recv(s->c1, NULL);
}

static void
i2075_recv_c1(void *arg)
{
  struct i2075 *s = arg;
  goro_chan_recv(s->c1, NULL);
}

static void
i2075_send_c2(void *arg)
{
  struct i2075 *s = arg;
  bool yes = true;
  goro_chan_send(s->c2, &yes);
}

START_TEST(test_select_losing_case_queue_stays_usable)
{
  struct i2075 s = {chan_make_checked(sizeof(bool), 0), chan_make_checked(sizeof(bool), 0),
                    chan_make_checked(sizeof(bool), 0), 0};
  goro_wg *wg = wg_make_checked();
  wg_go_checked(wg, i2075_recv_c1, &s);
  wg_go_checked(wg, i2075_selector, &s);
  wg_go_checked(wg, i2075_send_c2, &s);
  bool yes = true;
  ck_assert_int_eq(goro_chan_recv(s.c3, NULL), 1);
  ck_assert_int_eq(s.bad, 0);
  for (int k = 0; k < 2; k++) {
    goro_case sc = GORO_SEND_CASE(s.c1, &yes);
    ck_assert_msg(goro_select(&sc, 1, 2 * GORO_SECOND) == 0,
                  "send %d on c1 found no receiver: a queue was corrupted", k + 1);
  }
  goro_wg_wait(wg);
  goro_wg_free(wg);
  goro_chan_release(s.c1);
  goro_chan_release(s.c2);
  goro_chan_release(s.c3);
}
END_TEST

/* Several cases on one channel: one value completes exactly one case, and
 * after the select returns none of its waiters is left on the channel. */
START_TEST(test_select_duplicate_cases_on_one_channel_complete_once)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap);
  goro_wg *wg = wg_make_checked();

  /* Three receive cases, one blocked select, one sender. */
  int v[3] = {-1, -1, -1};
  goro_case rc[3] = {GORO_RECV_CASE(c, &v[0]), GORO_RECV_CASE(c, &v[1]), GORO_RECV_CASE(c, &v[2])};
  struct op tx = {.c = c, .delay = 20 * MS, .value = 4};
  wg_go_checked(wg, send_op, &tx);
  int i = goro_select(rc, 3, GORO_FOREVER);
  ck_assert_msg(i >= 0 && i < 3, "select returned %d", i);
  ck_assert_int_eq(v[i], 4);
  ck_assert_int_eq(v[0] + v[1] + v[2], 4 - 2);
  goro_wg_wait(wg);
  ck_assert_int_eq(tx.rc, 0);
  int x = 5;
  if (cap == 0)
    ck_assert_int_eq(goro_chan_trysend(c, &x), GORO_EAGAIN);

  /* Three send cases, one blocked select, one receiver. */
  fill(c, cap, 500);
  int s[3] = {1, 2, 3};
  goro_case sc[3] = {GORO_SEND_CASE(c, &s[0]), GORO_SEND_CASE(c, &s[1]), GORO_SEND_CASE(c, &s[2])};
  struct op rx = {.c = c, .delay = 20 * MS, .value = -1};
  wg_go_checked(wg, recv_op, &rx);
  i = goro_select(sc, 3, GORO_FOREVER);
  ck_assert_msg(i >= 0 && i < 3, "select returned %d", i);
  goro_wg_wait(wg);
  ck_assert_int_eq(rx.rc, 1);
  /* Drain: the old values, then exactly one of the select's, then nothing. */
  int expect_last = cap == 0 ? -1 : s[i];
  if (cap == 0)
    ck_assert_int_eq(rx.value, s[i]);
  else
    ck_assert_int_eq(rx.value, 500);
  for (size_t k = 1; k < cap; k++) {
    ck_assert_int_eq(goro_chan_recv(c, &x), 1);
    ck_assert_int_eq(x, 500 + (int)k);
  }
  if (cap > 0) {
    ck_assert_int_eq(goro_chan_recv(c, &x), 1);
    ck_assert_int_eq(x, expect_last);
  }
  ck_assert_int_eq(goro_chan_tryrecv(c, &x), GORO_EAGAIN);

  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* test/chan/select3.go: a select must not pair its own send with its own
 * receive; alone on an unbuffered channel it can only time out. */
START_TEST(test_select_alone_with_send_and_recv_on_one_channel_never_pairs)
{
  goro_chan *c = chan_make_checked(sizeof(int), 0);
  int s = 1, r = -1;
  goro_case cs[2] = {GORO_SEND_CASE(c, &s), GORO_RECV_CASE(c, &r)};
  ck_assert_int_eq(goro_select(cs, 2, 0), GORO_EAGAIN);
  ck_assert_int_eq(goro_select(cs, 2, 100 * MS), GORO_ETIMEDOUT);
  ck_assert_int_eq(r, -1);
  goro_chan_release(c);
}
END_TEST

/* A blocked select with both directions on one channel: a plain receiver
 * completes its send case, a plain sender its receive case. */
START_TEST(test_select_send_and_recv_on_one_channel_pair_with_partners)
{
  goro_chan *c = chan_make_checked(sizeof(int), 0);
  goro_wg *wg = wg_make_checked();
  int s = 1, r = -1;
  goro_case cs[2] = {GORO_SEND_CASE(c, &s), GORO_RECV_CASE(c, &r)};

  struct op rx = {.c = c, .delay = 20 * MS, .value = -1};
  wg_go_checked(wg, recv_op, &rx);
  ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), 0);
  goro_wg_wait(wg);
  ck_assert_int_eq(rx.value, 1);
  ck_assert_int_eq(r, -1);

  struct op tx = {.c = c, .delay = 20 * MS, .value = 2};
  wg_go_checked(wg, send_op, &tx);
  ck_assert_int_eq(goro_select(cs, 2, GORO_FOREVER), 1);
  ck_assert_int_eq(r, 2);
  goro_wg_wait(wg);
  ck_assert_int_eq(tx.rc, 0);

  /* Buffered: an empty buffer allows only the send; a full one only the
   * receive. */
  goro_chan *b = chan_make_checked(sizeof(int), 1);
  goro_case bs[2] = {GORO_RECV_CASE(b, &r), GORO_SEND_CASE(b, &s)};
  for (int i = 0; i < 20; i++) {
    s = i;
    ck_assert_int_eq(goro_select(bs, 2, i % 2 ? 0 : GORO_FOREVER), 1);
    ck_assert_int_eq(goro_select(bs, 2, i % 2 ? 0 : GORO_FOREVER), 0);
    ck_assert_int_eq(r, i);
  }
  goro_wg_free(wg);
  goro_chan_release(c);
  goro_chan_release(b);
}
END_TEST

/* Go's TestSelfSelect: two goroutines select over send and receive on the
 * same channel; on an unbuffered channel neither ever receives its own
 * value, and neither deadlocks. */
struct selfsel {
  goro_chan *c;
  int p;
  size_t cap;
};

static void
self_selector(void *arg)
{
  struct selfsel *s = arg;
  for (int i = 0; i < 1000; i++) {
    int out = s->p, in = -1;
    goro_case cs[2];
    if (s->p == 0 || i % 2 == 0) {
      cs[0] = GORO_SEND_CASE(s->c, &out);
      cs[1] = GORO_RECV_CASE(s->c, &in);
    } else {
      cs[0] = GORO_RECV_CASE(s->c, &in);
      cs[1] = GORO_SEND_CASE(s->c, &out);
    }
    int r = goro_select(cs, 2, GORO_FOREVER);
    if (r != 0 && r != 1) {
      BG_FAIL("select returned %d", r);
      return;
    }
    if (cs[r].op == GORO_RECV && s->cap == 0 && in == s->p) {
      BG_FAIL("goroutine %d received its own value", s->p);
      return;
    }
  }
}

START_TEST(test_self_select_never_receives_own_send)
{
  size_t cap = test_caps[_i];
  goro_chan *c = chan_make_checked(sizeof(int), cap);
  goro_wg *wg = wg_make_checked();
  struct selfsel s[2] = {{c, 0, cap}, {c, 1, cap}};
  wg_go_checked(wg, self_selector, &s[0]);
  wg_go_checked(wg, self_selector, &s[1]);
  goro_wg_wait(wg);
  assert_no_bg_failures();
  goro_wg_free(wg);
  goro_chan_release(c);
}
END_TEST

/* ---- doubleselect ------------------------------------------------------ */

/* test/chan/doubleselect.go: a sender selects over four unbuffered
 * channels; four forwarders merge them into one. If two cases of one
 * select ever both ran, a value would arrive twice. */
static int doubleselect_n; /* scaled(20000), set by the test first */

struct dsel {
  goro_chan *c[4];
  goro_chan *merged;
};

static void
ds_sender(void *arg)
{
  struct dsel *d = arg;
  for (int i = 0; i < doubleselect_n; i++) {
    int v = i;
    goro_case cs[4] = {GORO_SEND_CASE(d->c[0], &v), GORO_SEND_CASE(d->c[1], &v),
                       GORO_SEND_CASE(d->c[2], &v), GORO_SEND_CASE(d->c[3], &v)};
    int r = goro_select(cs, 4, GORO_FOREVER);
    if (r < 0 || r > 3 || !cs[r].ok)
      BG_FAIL("sender select %d returned %d", i, r);
  }
  for (int k = 0; k < 4; k++)
    goro_chan_close(d->c[k]);
}

struct dsmux {
  goro_chan *in, *out;
};

static void
ds_mux(void *arg)
{
  struct dsmux *m = arg;
  int v;
  while (goro_chan_recv(m->in, &v) > 0)
    if (goro_chan_send(m->out, &v) != 0)
      BG_FAIL("forward failed");
}

START_TEST(test_doubleselect_never_delivers_a_value_twice)
{
  doubleselect_n = (int)scaled(20000);
  struct dsel d;
  for (int k = 0; k < 4; k++)
    d.c[k] = chan_make_checked(sizeof(int), 0);
  d.merged = chan_make_checked(sizeof(int), 0);
  goro_wg *wg = wg_make_checked();
  struct dsmux m[4];
  wg_go_checked(wg, ds_sender, &d);
  for (int k = 0; k < 4; k++) {
    m[k] = (struct dsmux){d.c[k], d.merged};
    wg_go_checked(wg, ds_mux, &m[k]);
  }
  ck_assert_int_eq(goro_closer(wg, d.merged), 0);

  unsigned char *seen = calloc(doubleselect_n, 1);
  ck_assert_ptr_nonnull(seen);
  int v, n = 0, dups = 0, bad = 0;
  while (goro_chan_recv(d.merged, &v) > 0) {
    n++;
    if (v < 0 || v >= doubleselect_n)
      bad++;
    else if (seen[v]++)
      dups++;
  }
  ck_assert_msg(dups == 0, "%d value(s) delivered twice", dups);
  ck_assert_int_eq(bad, 0);
  ck_assert_int_eq(n, doubleselect_n);
  assert_no_bg_failures();
  free(seen);
  goro_wg_wait(wg);
  goro_wg_free(wg);
  for (int k = 0; k < 4; k++)
    goro_chan_release(d.c[k]);
  goro_chan_release(d.merged);
}
END_TEST

/* ---- stress ------------------------------------------------------------ */

/* Go's TestSelectStress, with accounting: for each of two unbuffered and
 * two buffered channels, a plain sender and a plain receiver move N values;
 * one goroutine sends N values on every channel through one select and one
 * receives N from every channel the same way, disabling a case by setting
 * its channel to NULL once its N are done. Every value is unique and must
 * be received exactly once, on the channel it was sent on. */
static int stress_n; /* scaled(5000), set by the test first */

struct stress {
  goro_chan *c[4];
  atomic_int *seen; /* [4 * 2 * stress_n] */
};

struct stress_one {
  struct stress *s;
  int k;
};

static void
stress_record(struct stress *s, int k, int v)
{
  if (v < 0 || v >= 4 * 2 * stress_n || v / (2 * stress_n) != k) {
    BG_FAIL("channel %d delivered foreign value %d", k, v);
    return;
  }
  atomic_fetch_add(&s->seen[v], 1);
}

static void
stress_plain_sender(void *arg)
{
  struct stress_one *o = arg;
  for (int i = 0; i < stress_n; i++) {
    int v = o->k * 2 * stress_n + i;
    if (goro_chan_send(o->s->c[o->k], &v) != 0)
      BG_FAIL("plain send failed");
  }
}

static void
stress_plain_receiver(void *arg)
{
  struct stress_one *o = arg;
  for (int i = 0; i < stress_n; i++) {
    int v = -1;
    if (goro_chan_recv(o->s->c[o->k], &v) != 1)
      BG_FAIL("plain receive failed");
    else
      stress_record(o->s, o->k, v);
  }
}

static void
stress_select_sender(void *arg)
{
  struct stress *s = arg;
  static const int order[4] = {3, 2, 0, 1}; /* as Go's test lists them */
  int n[4] = {0}, val[4];
  goro_case cs[4];
  for (int j = 0; j < 4; j++)
    cs[j] = GORO_SEND_CASE(s->c[order[j]], &val[j]);
  for (int i = 0; i < 4 * stress_n; i++) {
    for (int j = 0; j < 4; j++)
      val[j] = order[j] * 2 * stress_n + stress_n + n[order[j]];
    int r = goro_select(cs, 4, GORO_FOREVER);
    if (r < 0 || r > 3 || cs[r].chan == NULL || !cs[r].ok) {
      BG_FAIL("select send returned %d", r);
      return;
    }
    int k = order[r];
    if (++n[k] == stress_n)
      cs[r].chan = NULL;
  }
}

static void
stress_select_receiver(void *arg)
{
  struct stress *s = arg;
  int n[4] = {0}, val[4];
  goro_case cs[4];
  for (int k = 0; k < 4; k++)
    cs[k] = GORO_RECV_CASE(s->c[k], &val[k]);
  for (int i = 0; i < 4 * stress_n; i++) {
    int r = goro_select(cs, 4, GORO_FOREVER);
    if (r < 0 || r > 3 || cs[r].chan == NULL || !cs[r].ok) {
      BG_FAIL("select receive returned %d", r);
      return;
    }
    stress_record(s, r, val[r]);
    if (++n[r] == stress_n)
      cs[r].chan = NULL;
  }
}

START_TEST(test_select_stress_loses_and_duplicates_no_value)
{
  stress_n = (int)scaled(5000);
  struct stress s;
  s.c[0] = chan_make_checked(sizeof(int), 0);
  s.c[1] = chan_make_checked(sizeof(int), 0);
  s.c[2] = chan_make_checked(sizeof(int), 2);
  s.c[3] = chan_make_checked(sizeof(int), 3);
  s.seen = calloc(4 * 2 * stress_n, sizeof *s.seen);
  ck_assert_ptr_nonnull(s.seen);
  goro_wg *wg = wg_make_checked();
  struct stress_one one[4];
  for (int k = 0; k < 4; k++) {
    one[k] = (struct stress_one){&s, k};
    wg_go_checked(wg, stress_plain_sender, &one[k]);
    wg_go_checked(wg, stress_plain_receiver, &one[k]);
  }
  wg_go_checked(wg, stress_select_sender, &s);
  wg_go_checked(wg, stress_select_receiver, &s);
  goro_wg_wait(wg);
  assert_no_bg_failures();
  int lost = 0, dup = 0;
  for (int v = 0; v < 4 * 2 * stress_n; v++) {
    int n = atomic_load(&s.seen[v]);
    lost += n == 0;
    dup += n > 1;
  }
  ck_assert_msg(lost == 0 && dup == 0, "%d value(s) lost, %d duplicated", lost, dup);
  for (int k = 0; k < 4; k++) {
    ck_assert_uint_eq(goro_chan_len(s.c[k]), 0);
    goro_chan_release(s.c[k]);
  }
  free(s.seen);
  goro_wg_free(wg);
}
END_TEST

/* ---- suite ------------------------------------------------------------- */

static Suite *
select_suite(void)
{
  Suite *s = suite_create("select");
  TCase *tc;

  tc = tcase_make("arguments", 10);
  tcase_add_test(tc, test_select_null_cases_with_positive_n_is_einval);
  tcase_add_test(tc, test_select_unknown_op_is_einval_and_performs_nothing);
  tcase_add_test(tc, test_select_send_case_with_null_elem_is_einval);
  tcase_add_test(tc, test_select_without_cases_timeout_zero_is_eagain);
  tcase_add_test(tc, test_select_without_cases_times_out_after_timeout);
  tcase_add_test(tc, test_select_without_cases_forever_blocks_forever);
  tcase_add_test(tc, test_select_with_only_nil_channels_forever_blocks_forever);
  tcase_add_test(tc, test_select_nil_channel_cases_are_never_chosen);
  suite_add_tcase(s, tc);

  tc = tcase_make("nonblocking", 20);
  tcase_add_loop_test(tc, test_select_nonblocking_is_eagain_when_no_case_is_ready, 0, TEST_NCAPS);
  tcase_add_test(tc, test_select_nonblocking_performs_a_ready_buffered_case);
  tcase_add_loop_test(tc, test_select_nonblocking_pairs_with_a_waiting_partner, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_trysend_and_tryrecv_agree_with_one_case_nonblocking_select, 0,
                      TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("blocking", 30);
  tcase_add_loop_test(tc, test_select_blocked_is_woken_by_the_ready_case_only, 0, TEST_NCAPS);
  tcase_add_test(tc, test_select_mixed_send_and_recv_cases_block_until_a_partner);
  tcase_add_loop_test(tc, test_select_recv_completes_exactly_one_of_two_racing_senders, 0,
                      TEST_NCAPS);
  tcase_add_loop_test(tc, test_select_send_completes_exactly_one_of_two_racing_receivers, 0,
                      TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("closed", 10);
  tcase_add_loop_test(tc, test_select_recv_on_closed_channel_is_ready_with_ok_false, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_select_send_on_closed_channel_is_chosen_with_ok_false, 0,
                      TEST_NCAPS);
  tcase_add_loop_test(tc, test_select_blocked_recv_woken_by_close_reports_not_ok, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_select_blocked_send_woken_by_close_reports_not_ok_and_sends_nothing,
                      0, TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("elements", 10);
  tcase_add_loop_test(tc, test_select_sets_ok_true_on_successful_send_and_recv, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_select_recv_with_null_elem_discards_the_value, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_select_on_zero_size_element_channels, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_select_copies_whole_large_elements, 0, TEST_NCAPS);
  tcase_add_test(tc, test_select_over_many_channels_returns_the_ready_index);
  suite_add_tcase(s, tc);

  tc = tcase_make("timeouts", 15);
  tcase_add_loop_test(tc, test_select_times_out_not_before_the_timeout, 0, TEST_NCAPS);
  tcase_add_loop_test(tc, test_select_with_timeout_returns_a_case_that_becomes_ready_in_time, 0,
                      TEST_NCAPS);
  tcase_add_test(tc, test_select_with_huge_timeout_waits_like_forever);
  tcase_add_loop_test(tc, test_select_with_negative_timeout_polls_once_then_times_out, 0,
                      TEST_NCAPS);
  tcase_add_test(tc, test_select_with_remaining_time_ends_at_the_deadline);
  suite_add_tcase(s, tc);

  tc = tcase_make("random", 30);
  tcase_add_test(tc, test_select_chooses_uniformly_among_ready_recv_cases);
  tcase_add_test(tc, test_select_chooses_uniformly_among_ready_send_cases);
  tcase_add_test(tc, test_select_chooses_uniformly_among_duplicate_cases);
  tcase_add_test(tc, test_select_two_sends_on_one_channel_deliver_pseudo_randomly);
  suite_add_tcase(s, tc);

  tc = tcase_make("races", 60);
  tcase_add_test(tc, test_nonblocking_select_sees_all_channels_at_one_instant);
  tcase_add_test(tc, test_nonblocking_select_sees_all_channels_at_one_instant_with_close);
  tcase_add_test(tc, test_nonblocking_recv_never_misses_a_channel_being_closed);
  tcase_add_test(tc, test_select_woken_for_a_buffered_case_passes_the_wakeup_on);
  tcase_add_test(tc, test_select_leaving_by_another_case_wakes_the_next_receiver);
  suite_add_tcase(s, tc);

  tc = tcase_make("duplicates", 30);
  tcase_add_test(tc, test_select_duplicate_recv_channel_leaves_queue_intact);
  tcase_add_test(tc, test_select_losing_case_queue_stays_usable);
  tcase_add_loop_test(tc, test_select_duplicate_cases_on_one_channel_complete_once, 0, TEST_NCAPS);
  tcase_add_test(tc, test_select_alone_with_send_and_recv_on_one_channel_never_pairs);
  tcase_add_test(tc, test_select_send_and_recv_on_one_channel_pair_with_partners);
  tcase_add_loop_test(tc, test_self_select_never_receives_own_send, 0, TEST_NCAPS);
  suite_add_tcase(s, tc);

  tc = tcase_make("stress", 90);
  tcase_add_test(tc, test_doubleselect_never_delivers_a_value_twice);
  tcase_add_test(tc, test_select_stress_loses_and_duplicates_no_value);
  suite_add_tcase(s, tc);

  return s;
}

int
main(void)
{
  return run_suite(select_suite());
}
