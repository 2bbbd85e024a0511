/* check_header.c - <goro.h> stands alone as strict C11.
 *
 * <goro.h> is included first and alone, and this file is built with
 * -std=c11 -pedantic -Wall -Wextra -Werror, so the header must compile
 * without help from any other include and without extensions. The tests
 * touch a few of its macros and types; behaviour is tested elsewhere.
 */
#include <goro.h>

#include <goro/version.h>

#include "testutil.h"

#include <string.h>

START_TEST(test_header_error_codes_are_negative_errno)
{
  ck_assert_int_eq(GORO_EPIPE, -EPIPE);
  ck_assert_int_eq(GORO_EINVAL, -EINVAL);
  ck_assert_int_eq(GORO_ENOMEM, -ENOMEM);
  ck_assert_int_eq(GORO_EAGAIN, -EAGAIN);
  ck_assert_int_eq(GORO_ETIMEDOUT, -ETIMEDOUT);
  ck_assert_int_eq(GORO_ERANGE, -ERANGE);
}
END_TEST

START_TEST(test_header_strerror_names_every_code)
{
  static const int codes[] = {GORO_EPIPE,  GORO_EINVAL,    GORO_ENOMEM,
                              GORO_EAGAIN, GORO_ETIMEDOUT, GORO_ERANGE};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    const char *msg = goro_strerror(codes[i]);
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_gt((int)strlen(msg), 0);
  }
}
END_TEST

START_TEST(test_header_case_macros_fill_a_case)
{
  int v = 7, w = 0;
  goro_case cases[] = {GORO_SEND_CASE(NULL, &v), GORO_RECV_CASE(NULL, &w)};
  ck_assert_ptr_null(cases[0].chan);
  ck_assert_int_eq(cases[0].op, GORO_SEND);
  ck_assert_ptr_eq(cases[0].elem, &v);
  ck_assert(!cases[0].ok);
  ck_assert_int_eq(cases[1].op, GORO_RECV);
  ck_assert_ptr_eq(cases[1].elem, &w);
}
END_TEST

START_TEST(test_header_time_constants_are_int64_nanoseconds)
{
  int64_t forever = GORO_FOREVER;
  ck_assert(forever == INT64_MAX); /* v0.2: negative timeouts have expired */
  ck_assert_int_eq(sizeof GORO_SECOND, sizeof(int64_t));
  ck_assert(GORO_SECOND == 1000 * GORO_MILLISECOND);
  ck_assert(GORO_MILLISECOND == 1000 * GORO_MICROSECOND);
  ck_assert(GORO_MICROSECOND == 1000 * GORO_NANOSECOND);
}
END_TEST

START_TEST(test_header_version_string_matches_numbers)
{
  char buf[64];
  snprintf(buf, sizeof buf, "%d.%d.%d", GORO_VERSION_MAJOR, GORO_VERSION_MINOR, GORO_VERSION_PATCH);
  ck_assert_str_eq(buf, GORO_VERSION_STRING);
}
END_TEST

static Suite *
header_suite(void)
{
  Suite *s = suite_create("header");
  TCase *tc = tcase_make("header", 10);
  tcase_add_test(tc, test_header_error_codes_are_negative_errno);
  tcase_add_test(tc, test_header_strerror_names_every_code);
  tcase_add_test(tc, test_header_case_macros_fill_a_case);
  tcase_add_test(tc, test_header_time_constants_are_int64_nanoseconds);
  tcase_add_test(tc, test_header_version_string_matches_numbers);
  suite_add_tcase(s, tc);
  return s;
}

int
main(void)
{
  return run_suite(header_suite());
}
