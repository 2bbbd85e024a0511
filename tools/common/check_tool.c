/* check_tool.c - the tools' shared conventions (tool.h): Go's duration
 * syntax both ways, HOST:PORT splitting and flag parsing. Exit status 0
 * when every case holds, 1 otherwise (Automake's TESTS protocol). */
#include "config.h"

#include "tool.h"

#include <stdio.h>
#include <string.h>

static int failures, cases;

static void
expect_format(int64_t d, const char *want)
{
  char buf[40];
  cases++;
  tool_format_duration(d, buf, sizeof buf);
  if (strcmp(buf, want) != 0) {
    fprintf(stderr, "format %lld: got %s, want %s\n", (long long)d, buf, want);
    failures++;
  }
}

static void
expect_parse(const char *s, int ok, int64_t want)
{
  int64_t got = -12345;
  cases++;
  int rc = tool_parse_duration(s, &got);
  if ((rc == 0) != ok || (ok && got != want)) {
    fprintf(stderr, "parse %s: rc %d got %lld, want %s %lld\n", s, rc, (long long)got,
            ok ? "ok" : "error", (long long)want);
    failures++;
  }
}

int
main(int argc, char **argv)
{
  (void)argc;
  tool_init(1, argv);
  const int64_t us = 1000, ms = 1000 * us, s = 1000 * ms, m = 60 * s, h = 60 * m;

  /* Go's time.Duration.String. */
  expect_format(0, "0s");
  expect_format(1, "1ns");
  expect_format(1100, "1.1\xc2\xb5s");
  expect_format(2200 * us, "2.2ms");
  expect_format(250 * ms, "250ms");
  expect_format(3300 * ms, "3.3s");
  expect_format(s, "1s");
  expect_format(10 * s, "10s");
  expect_format(m + 30 * s, "1m30s");
  expect_format(4 * m + 5 * s, "4m5s");
  expect_format(4 * m + 5001 * ms, "4m5.001s");
  expect_format(5 * h + 6 * m + 7001 * ms, "5h6m7.001s");
  expect_format(8 * m + 1, "8m0.000000001s");
  expect_format(2 * h, "2h0m0s");
  expect_format(-3300 * ms, "-3.3s");
  expect_format(INT64_MAX, "2562047h47m16.854775807s");
  expect_format(INT64_MIN, "-2562047h47m16.854775808s");

  /* Go's time.ParseDuration. */
  expect_parse("0", 1, 0);
  expect_parse("5s", 1, 5 * s);
  expect_parse("30s", 1, 30 * s);
  expect_parse("1478s", 1, 1478 * s);
  expect_parse("-5s", 1, -5 * s);
  expect_parse("+5s", 1, 5 * s);
  expect_parse("5.6s", 1, 5 * s + 600 * ms);
  expect_parse("5.s", 1, 5 * s);
  expect_parse(".5s", 1, 500 * ms);
  expect_parse("1.004s", 1, 1004 * ms);
  expect_parse("100.00100s", 1, 100 * s + ms);
  expect_parse("10ns", 1, 10);
  expect_parse("11us", 1, 11 * us);
  expect_parse("12\xc2\xb5s", 1, 12 * us);
  expect_parse("13ms", 1, 13 * ms);
  expect_parse("14s", 1, 14 * s);
  expect_parse("15m", 1, 15 * m);
  expect_parse("16h", 1, 16 * h);
  expect_parse("3h30m", 1, 3 * h + 30 * m);
  expect_parse("10.5s4m", 1, 4 * m + 10 * s + 500 * ms);
  expect_parse("1h1m1s1ms1us1ns", 1, h + m + s + ms + us + 1);
  expect_parse("9223372036854775807ns", 1, INT64_MAX);
  expect_parse("-9223372036854775808ns", 1, INT64_MIN);
  expect_parse("", 0, 0);
  expect_parse("3", 0, 0);
  expect_parse("-", 0, 0);
  expect_parse("s", 0, 0);
  expect_parse(".", 0, 0);
  expect_parse(".s", 0, 0);
  expect_parse("1d", 0, 0);
  expect_parse("1s ", 0, 0);
  expect_parse("9223372036854775808ns", 0, 0);
  expect_parse("3000000h", 0, 0);

  /* HOST:PORT. */
  char host[64], port[16];
  cases++;
  if (tool_split_hostport("127.0.0.1:8000", host, sizeof host, port, sizeof port) != 0 ||
      strcmp(host, "127.0.0.1") != 0 || strcmp(port, "8000") != 0) {
    fprintf(stderr, "split 127.0.0.1:8000 failed\n");
    failures++;
  }
  cases++;
  if (tool_split_hostport("[::1]:21", host, sizeof host, port, sizeof port) != 0 ||
      strcmp(host, "::1") != 0 || strcmp(port, "21") != 0) {
    fprintf(stderr, "split [::1]:21 failed\n");
    failures++;
  }
  const char *bad[] = {"localhost", "localhost:", ":80x", "::1:21", "[::1]21", "h:p"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cases++;
    if (tool_split_hostport(bad[i], host, sizeof host, port, sizeof port) == 0) {
      fprintf(stderr, "split %s: accepted\n", bad[i]);
      failures++;
    }
  }

  /* Flags: both spellings, defaults kept, positional arguments after. */
  int port_flag = 8000;
  int64_t idle = 5 * m;
  bool verbose = false;
  const char *root = NULL;
  struct tool_flag flags[] = {
      {"port", TOOL_INT, &port_flag, "N", "port"},
      {"idle", TOOL_DURATION, &idle, "D", "idle"},
      {"v", TOOL_BOOL, &verbose, NULL, "verbose"},
      {"root", TOOL_STRING, &root, "DIR", "root"},
  };
  char *args[] = {"x", "-port", "0", "--root=/tmp", "-v", "a", "-idle", "1s", NULL};
  int first = tool_parse(8, args, "[flags] ARG", NULL, flags, 4);
  cases++;
  if (first != 5 || port_flag != 0 || verbose != true || root == NULL ||
      strcmp(root, "/tmp") != 0 || idle != 5 * m) {
    fprintf(stderr, "flags: first %d port %d v %d root %s idle %lld\n", first, port_flag,
            (int)verbose, root ? root : "(null)", (long long)idle);
    failures++;
  }

  printf("%d cases, %d failed\n", cases, failures);
  return failures == 0 ? 0 : 1;
}
