/* runner.h — a small TAP test runner for convoy's C unit tests.
 * Each test runs in a forked child with a timeout; asserts print both sides
 * with file:line and abort the child. A test file ends with:
 *   #define CV_TEST_LIST(XX) XX(name_a) XX(name_b)
 *   CV_TEST_MAIN(CV_TEST_LIST)
 * and defines `static void test_name_a(void) { … }` before that. */
#ifndef CV_TEST_RUNNER_H
#define CV_TEST_RUNNER_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cv_test_s {
  const char *name;
  void (*fn)(void);
} cv_test_t;

int cv_test_run_all(const cv_test_t *tests, int n, int argc, char **argv);
void cv_test_skip(const char *reason);   /* ends the current test as skipped */

#define CV_FAIL_(...)                                          \
  do {                                                         \
    fprintf(stderr, "# %s:%d: ", __FILE__, __LINE__);          \
    fprintf(stderr, __VA_ARGS__);                              \
    fprintf(stderr, "\n");                                     \
    abort();                                                   \
  } while (0)

#define CV_ASSERT(cond)                                        \
  do {                                                         \
    if (!(cond)) CV_FAIL_("assertion failed: %s", #cond);      \
  } while (0)

#define CV_ASSERT_EQ(a, b)                                                          \
  do {                                                                              \
    long long a_ = (long long)(a), b_ = (long long)(b);                             \
    if (a_ != b_) CV_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);               \
  } while (0)

#define CV_ASSERT_STREQ(a, b)                                                       \
  do {                                                                              \
    const char *a_ = (a), *b_ = (b);                                                \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                          \
      CV_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
  } while (0)

#define CV_ASSERT_NEAR(a, b, tol)                                                   \
  do {                                                                              \
    double a_ = (double)(a), b_ = (double)(b);                                      \
    if (!(fabs(a_ - b_) <= (tol))) CV_FAIL_("%s ~ %s: %.17g vs %.17g", #a, #b, a_, b_); \
  } while (0)

/* Asserts an expression returns 0 (CV_OK). */
#define CV_ASSERT_OK(expr)                                                          \
  do {                                                                              \
    int rc_ = (expr);                                                               \
    if (rc_ != 0) CV_FAIL_("%s returned %d", #expr, rc_);                           \
  } while (0)

#define CV_SKIP(reason) cv_test_skip(reason)

#define CV_TEST_ENTRY_(n) {#n, test_##n},
#define CV_TEST_MAIN(LIST)                                                          \
  int main(int argc, char **argv) {                                                 \
    static const cv_test_t tests_[] = {LIST(CV_TEST_ENTRY_)};                       \
    return cv_test_run_all(tests_, (int)(sizeof tests_ / sizeof tests_[0]), argc, argv); \
  }

#endif
