/* test_json_num.c — proto/json_num: shortest round-trip printing of float32,
 * float64, float16 and bfloat16 (random and exhaustive round trips, shortest
 * length against a brute-force %.{p}e search, known strings), integer
 * printing, and the JSON number parser (grammar, rounding, overflow). */
#include <float.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../kernels/types.h"
#include "../../proto/json_num.h"
#include "runner.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {   /* xorshift64*, fixed seed: reproducible */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static float f32_of(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}
static uint32_t bits_f32(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}
static double f64_of(uint64_t b) {
  double d;
  memcpy(&d, &b, 8);
  return d;
}
static uint64_t bits_f64(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}

/* Parses a printed number with cv_parse_f64, requiring it to consume all. */
static double parse_all(const char *s) {
  double d = 0;
  const char *e = cv_parse_f64(s, s + strlen(s), &d);
  if (!e || *e) CV_FAIL_("cv_parse_f64 rejected \"%s\"", s);
  return d;
}

/* Significant digits (no leading/trailing zeros) and the decimal exponent of
 * the first one, from a decimal string: "0.0120" → "12", -2. */
static void normalise(const char *s, char *digits, int *exp10) {
  int n = 0, point = -1, i = 0, first = -1, e = 0;
  char all[64];
  if (*s == '-') s++;
  for (; *s && *s != 'e' && *s != 'E'; s++) {
    if (*s == '.') {
      point = i;
      continue;
    }
    all[i++] = *s;
  }
  if (*s) e = atoi(s + 1);
  if (point < 0) point = i;
  for (int k = 0; k < i; k++)
    if (all[k] != '0') {
      first = k;
      break;
    }
  if (first < 0) {
    strcpy(digits, "0");
    *exp10 = 0;
    return;
  }
  int last = i - 1;
  while (all[last] == '0') last--;
  for (int k = first; k <= last; k++) digits[n++] = all[k];
  digits[n] = '\0';
  *exp10 = point - first - 1 + e;
}

typedef bool (*roundtrip_fn)(const char *s, uint64_t bits);

static bool rt_f32(const char *s, uint64_t bits) { return bits_f32(strtof(s, NULL)) == bits; }
static bool rt_f64(const char *s, uint64_t bits) { return bits_f64(strtod(s, NULL)) == bits; }
static bool rt_f16(const char *s, uint64_t bits) { return cv_f64_to_f16(strtod(s, NULL)) == bits; }
static bool rt_bf16(const char *s, uint64_t bits) { return cv_f64_to_bf16(strtod(s, NULL)) == bits; }

/* The shortest %.{p}e that round-trips, by trial; compares digits with ours:
 * ours may be shorter (Ryu also finds candidates on the far side of a power
 * of two) but never longer, and equal lengths must give equal digits. */
static void check_shortest(const char *ours, double v, uint64_t bits, roundtrip_fn rt, int pmax) {
  char b[64], d1[64], d2[64];
  int e1, e2;
  int p = 1;
  for (; p <= pmax; p++) {
    snprintf(b, sizeof b, "%.*e", p - 1, v);
    if (rt(b, bits)) break;
  }
  if (p > pmax) CV_FAIL_("no %%.{p}e round-trips for %.17g", v);
  normalise(ours, d1, &e1);
  normalise(b, d2, &e2);
  if (strlen(d1) > strlen(d2) || (strlen(d1) == strlen(d2) && (strcmp(d1, d2) || e1 != e2)))
    CV_FAIL_("%.17g: ours \"%s\" vs shortest trial \"%s\"", v, ours, b);
}

/* ---- float32 ---- */

static void test_f32_random_roundtrip(void) {
  char buf[CV_FMT_NUM_MAX];
  for (int i = 0; i < 1000000; i++) {
    uint32_t b = (uint32_t)rnd();
    if ((b & 0x7f800000u) == 0x7f800000u) continue;   /* finite only */
    int n = cv_fmt_f32(f32_of(b), buf);
    CV_ASSERT_EQ(n, (int)strlen(buf));
    CV_ASSERT(n < CV_FMT_NUM_MAX);
    double d = parse_all(buf);
    if (bits_f32((float)d) != b || bits_f32(strtof(buf, NULL)) != b)
      CV_FAIL_("float32 0x%08x printed \"%s\" does not read back", b, buf);
  }
}

static void test_f32_shortest(void) {
  char buf[CV_FMT_NUM_MAX];
  for (int i = 0; i < 100000; i++) {
    uint32_t b = (uint32_t)rnd();
    if (i < 2000) b = (uint32_t)i;                       /* subnormals */
    else if (i < 4000) b = ((uint32_t)(i % 254) + 1) << 23 | (uint32_t)(rnd() & 7);   /* near powers of 2 */
    if ((b & 0x7f800000u) == 0x7f800000u) continue;
    b &= 0x7fffffffu;
    if (b == 0) continue;
    cv_fmt_f32(f32_of(b), buf);
    check_shortest(buf, f32_of(b), b, rt_f32, 9);
  }
  /* small integers and simple fractions: the exact-decimal (trailing zero) paths */
  for (int k = 1; k < 5000; k++) {
    float vals[3] = {(float)k, (float)k / 1024.0f, (float)k * 1048576.0f};
    for (int j = 0; j < 3; j++) {
      cv_fmt_f32(vals[j], buf);
      check_shortest(buf, vals[j], bits_f32(vals[j]), rt_f32, 9);
    }
  }
}

/* ---- float64 ---- */

static void test_f64_random_roundtrip(void) {
  char buf[CV_FMT_NUM_MAX];
  for (int i = 0; i < 1000000; i++) {
    uint64_t b = rnd();
    if (i % 4 == 1) b = bits_f64((double)(int64_t)(rnd() >> (rnd() % 60)));       /* integers */
    if (i % 4 == 2) b = bits_f64((double)(rnd() % 100000) / (double)(1u << (rnd() % 20)));
    if ((b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) continue;
    int n = cv_fmt_f64(f64_of(b), buf);
    CV_ASSERT_EQ(n, (int)strlen(buf));
    CV_ASSERT(n < CV_FMT_NUM_MAX);
    double d = parse_all(buf);
    if (bits_f64(d) != b || bits_f64(strtod(buf, NULL)) != b)
      CV_FAIL_("float64 0x%016llx printed \"%s\" does not read back", (unsigned long long)b, buf);
  }
}

static void test_f64_shortest(void) {
  char buf[CV_FMT_NUM_MAX];
  for (int i = 0; i < 100000; i++) {
    uint64_t b = rnd() & 0x7fffffffffffffffull;
    if (i < 2000) b = (uint64_t)i;
    else if (i < 6000) b = (uint64_t)((i % 2046) + 1) << 52 | (rnd() & 3);
    if ((b >> 52) == 0x7ff || b == 0) continue;
    cv_fmt_f64(f64_of(b), buf);
    check_shortest(buf, f64_of(b), b, rt_f64, 17);
  }
  for (int k = 1; k < 5000; k++) {
    double vals[4] = {(double)k / 1024.0, (double)k * 0.1, (double)k * 1e20, (double)k * 1e-300};
    for (int j = 0; j < 4; j++) {
      cv_fmt_f64(vals[j], buf);
      check_shortest(buf, vals[j], bits_f64(vals[j]), rt_f64, 17);
    }
  }
}

/* ---- float16 / bfloat16: every bit pattern ---- */

static void test_half_exhaustive(void) {
  char buf[CV_FMT_NUM_MAX];
  for (uint32_t b = 0; b < 65536; b++) {
    uint16_t h = (uint16_t)b;
    bool f16_finite = (h & 0x7c00) != 0x7c00, bf_finite = (h & 0x7f80) != 0x7f80;
    cv_fmt_f16(h, buf);
    if (f16_finite) {
      if (cv_f64_to_f16(parse_all(buf)) != h) CV_FAIL_("float16 0x%04x → \"%s\"", h, buf);
      if (h & 0x7fff) check_shortest(buf, cv_f16_to_f32(h & 0x7fff), h & 0x7fff, rt_f16, 9);
    } else {
      CV_ASSERT_STREQ(buf, (h & 0x3ff) ? "\"NaN\"" : (h & 0x8000) ? "\"-Infinity\"" : "\"Infinity\"");
    }
    cv_fmt_bf16(h, buf);
    if (bf_finite) {
      if (cv_f64_to_bf16(parse_all(buf)) != h) CV_FAIL_("bfloat16 0x%04x → \"%s\"", h, buf);
      if (h & 0x7fff) check_shortest(buf, cv_bf16_to_f32(h & 0x7fff), h & 0x7fff, rt_bf16, 9);
    } else {
      CV_ASSERT_STREQ(buf, (h & 0x7f) ? "\"NaN\"" : (h & 0x8000) ? "\"-Infinity\"" : "\"Infinity\"");
    }
  }
}

/* float16 rounding is done once, not double → float → half */
static void test_half_single_rounding(void) {
  /* 1 + 2^-11 is the midpoint of 1 and 1 + 2^-10: ties to even (1) */
  CV_ASSERT_EQ(cv_f64_to_f16(1.0 + 0x1p-11), 0x3c00);
  /* just above the midpoint, by less than float32 can hold: must round up */
  CV_ASSERT_EQ(cv_f64_to_f16(1.0 + 0x1p-11 + 0x1p-40), 0x3c01);
  CV_ASSERT_EQ(cv_f64_to_f16(1.0 + 0x1p-11 - 0x1p-40), 0x3c00);
  CV_ASSERT_EQ(cv_f64_to_bf16(1.0 + 0x1p-8 + 0x1p-40), 0x3f81);
  CV_ASSERT_EQ(cv_f64_to_bf16(1.0 + 0x1p-8), 0x3f80);
  CV_ASSERT_EQ(cv_f64_to_bf16(1.0 + 3 * 0x1p-8), 0x3f82);   /* tie to even, up */
  CV_ASSERT_EQ(cv_f64_to_f16(65504.0), 0x7bff);
  CV_ASSERT_EQ(cv_f64_to_f16(65520.0), 0x7c00);              /* tie at the top → inf */
  CV_ASSERT_EQ(cv_f64_to_f16(65519.99), 0x7bff);
  CV_ASSERT_EQ(cv_f64_to_f16(1e300), 0x7c00);
  CV_ASSERT_EQ(cv_f64_to_f16(-1e300), 0xfc00);
  CV_ASSERT_EQ(cv_f64_to_f16(0x1p-25), 0x0000);              /* half the smallest subnormal: even */
  CV_ASSERT_EQ(cv_f64_to_f16(0x1p-25 + 0x1p-60), 0x0001);
  CV_ASSERT_EQ(cv_f64_to_f16(-0.0), 0x8000);
  CV_ASSERT_EQ(cv_f64_to_bf16(1e-300), 0x0000);
  CV_ASSERT_EQ(cv_f64_to_bf16(1e39), 0x7f80);
  CV_ASSERT_EQ(cv_f64_to_f16(NAN) & 0x7c00, 0x7c00);
  CV_ASSERT(cv_f64_to_f16(NAN) & 0x3ff);
  CV_ASSERT(cv_f64_to_bf16(NAN) & 0x7f);
}

/* ---- known strings ---- */

static void test_known_strings(void) {
  static const struct {
    float v;
    const char *s;
  } f32s[] = {
      {0.1f, "0.1"},           {1.0f / 3.0f, "0.33333334"}, {1e-45f, "1e-45"},
      {FLT_MAX, "3.4028235e38"}, {123456789.0f, "123456790.0"}, {3.0f, "3.0"},
      {-0.0f, "-0.0"},         {0.0f, "0.0"},              {1e-4f, "0.0001"},
      {1e-5f, "1e-5"},         {1e16f, "1e16"},            {1e15f, "1000000000000000.0"},
      {FLT_MIN, "1.1754944e-38"}, {-2.5f, "-2.5"},         {16777216.0f, "16777216.0"},
      {0.3f, "0.3"},           {1.5e-7f, "1.5e-7"},        {100.0f, "100.0"},
      /* Ryu's shortest, 7.038531e-26, reads back through a double as the
       * neighbour (double rounding); one more digit survives both paths */
      {7.0385307e-26f, "7.0385307e-26"}, {-7.0385307e-26f, "-7.0385307e-26"},
      {INFINITY, "\"Infinity\""}, {-INFINITY, "\"-Infinity\""}, {NAN, "\"NaN\""},
  };
  char buf[CV_FMT_NUM_MAX];
  for (size_t i = 0; i < sizeof f32s / sizeof f32s[0]; i++) {
    int n = cv_fmt_f32(f32s[i].v, buf);
    if (strcmp(buf, f32s[i].s)) CV_FAIL_("f32 row %zu: \"%s\" != \"%s\"", i, buf, f32s[i].s);
    CV_ASSERT_EQ(n, (int)strlen(f32s[i].s));
  }
  static const struct {
    double v;
    const char *s;
  } f64s[] = {
      {0.1, "0.1"},
      {1.0 / 3.0, "0.3333333333333333"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e308"},
      {2.2250738585072014e-308, "2.2250738585072014e-308"},
      {0.1 + 0.2, "0.30000000000000004"},
      {-0.0, "-0.0"},
      {1e23, "1e23"},
      {9007199254740991.0, "9007199254740991.0"},
      {9007199254740992.0, "9007199254740992.0"},
      {1e22, "1e22"},
      {123.456, "123.456"},
      {-1e-7, "-1e-7"},
      {0.001, "0.001"},
      {2.0, "2.0"},
      {-NAN, "\"NaN\""},
      {-INFINITY, "\"-Infinity\""},
  };
  for (size_t i = 0; i < sizeof f64s / sizeof f64s[0]; i++) {
    cv_fmt_f64(f64s[i].v, buf);
    if (strcmp(buf, f64s[i].s)) CV_FAIL_("f64 row %zu: \"%s\" != \"%s\"", i, buf, f64s[i].s);
  }
  cv_fmt_f16(0x3c00, buf);
  CV_ASSERT_STREQ(buf, "1.0");
  cv_fmt_f16(0x2e66, buf);   /* float16(0.1) = 0.0999755859375 */
  CV_ASSERT_STREQ(buf, "0.1");
  cv_fmt_f16(0x7bff, buf);
  CV_ASSERT_STREQ(buf, "65500.0");
  cv_fmt_f16(0x0001, buf);
  CV_ASSERT_STREQ(buf, "6e-8");
  cv_fmt_bf16(0x3dcd, buf);   /* bfloat16(0.1) */
  CV_ASSERT_STREQ(buf, "0.1");
  cv_fmt_bf16(0x7f7f, buf);
  CV_ASSERT_STREQ(buf, "3.39e38");
}

static void test_integers(void) {
  char buf[CV_FMT_NUM_MAX];
  cv_fmt_i64(0, buf);
  CV_ASSERT_STREQ(buf, "0");
  cv_fmt_i64(INT64_MIN, buf);
  CV_ASSERT_STREQ(buf, "-9223372036854775808");
  cv_fmt_i64(INT64_MAX, buf);
  CV_ASSERT_STREQ(buf, "9223372036854775807");
  cv_fmt_u64(UINT64_MAX, buf);
  CV_ASSERT_STREQ(buf, "18446744073709551615");
  cv_fmt_i64(-7, buf);
  CV_ASSERT_STREQ(buf, "-7");
  char ref[32];
  for (int i = 0; i < 100000; i++) {
    int64_t v = (int64_t)rnd() >> (rnd() % 64);
    int n = cv_fmt_i64(v, buf);
    snprintf(ref, sizeof ref, "%lld", (long long)v);
    CV_ASSERT_STREQ(buf, ref);
    CV_ASSERT_EQ(n, (int)strlen(ref));
  }
}

/* ---- parsing ---- */

static void test_parse_grammar(void) {
  static const struct {
    const char *s;
    int consumed;   /* -1 = rejected */
  } rows[] = {
      {"0", 1},      {"-0", 2},     {"01", 1},      {"1.5", 3},    {"1.", -1},   {".5", -1},
      {"-", -1},     {"+1", -1},    {"1e5", 3},     {"1E+5", 4},   {"1e-5", 4},  {"1e", -1},
      {"1e+", -1},   {"-.5", -1},   {"12abc", 2},   {"1.5.6", 3},  {"", -1},     {"x", -1},
      {"1.0e-0", 6}, {"-01", 2},    {"0.0001", 6},  {"1e400", 5},  {"Infinity", -1}, {"NaN", -1},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    double d;
    const char *s = rows[i].s, *e = cv_parse_f64(s, s + strlen(s), &d);
    int got = e ? (int)(e - s) : -1;
    if (got != rows[i].consumed) CV_FAIL_("\"%s\": consumed %d, expected %d", s, got, rows[i].consumed);
  }
  /* the end pointer is honoured: "123" cut after 2 bytes is 12 */
  double d;
  const char *s = "123";
  CV_ASSERT(cv_parse_f64(s, s + 2, &d) == s + 2);
  CV_ASSERT_EQ(d, 12);
  CV_ASSERT(cv_parse_f64(s, s + 0, &d) == NULL);
  s = "1.5";
  CV_ASSERT(cv_parse_f64(s, s + 2, &d) == NULL);   /* "1." */
}

#define CHECK_PARSE(str, want)                                                         \
  do {                                                                                 \
    double got_ = parse_all(str), want_ = (want);                                      \
    if (bits_f64(got_) != bits_f64(want_)) CV_FAIL_("%s: %.17g != %.17g", str, got_, want_); \
  } while (0)

static void test_parse_values(void) {
  CV_ASSERT(isinf(parse_all("1e400")) && parse_all("1e400") > 0);
  CV_ASSERT(isinf(parse_all("-1e400")) && parse_all("-1e400") < 0);
  CV_ASSERT_EQ(bits_f64(parse_all("-0")), bits_f64(-0.0));
  CV_ASSERT_EQ(bits_f64(parse_all("-0.0e10")), bits_f64(-0.0));
  CV_ASSERT_EQ(bits_f64(parse_all("1e-400")), 0);
  CV_ASSERT_EQ(bits_f64(parse_all("4.9e-324")), 1);
  CV_ASSERT_EQ(bits_f64(parse_all("2.4703282292062328e-324")), 1);   /* just above half: up */
  CV_ASSERT_EQ(bits_f64(parse_all("2.4703282292062327e-324")), 0);   /* just below half: 0 */
  CHECK_PARSE("123456789012345678901234567890", 1.2345678901234568e29);
  CHECK_PARSE("0.000000000000000000000000000001", 1e-30);
  CHECK_PARSE("9007199254740993", 9007199254740992.0);   /* tie → even */
  CHECK_PARSE("9007199254740993.0000000001", 9007199254740994.0);
  CHECK_PARSE("1e37", 1e37);
  CHECK_PARSE("123e30", 1.23e32);
  CHECK_PARSE("1.7976931348623157e308", DBL_MAX);
  CV_ASSERT(isinf(parse_all("1.7976931348623159e308")));
  CHECK_PARSE("0.1", 0.1);
  CHECK_PARSE("100000000000000000000000", 1e23);
  /* random decimals (integer part "0" or 1..20 digits, 0..20 fraction
   * digits, wide exponents) against strtod: fast and slow paths */
  char buf[96];
  for (int i = 0; i < 300000; i++) {
    int pos = 0, ni = (int)(rnd() % 21), nf = (int)(rnd() % 21);
    if (rnd() & 1) buf[pos++] = '-';
    if (ni == 0) {
      buf[pos++] = '0';
      if (nf == 0) nf = 1;
    } else {
      buf[pos++] = (char)('1' + rnd() % 9);
      for (int k = 1; k < ni; k++) buf[pos++] = (char)('0' + rnd() % 10);
    }
    if (nf) {
      buf[pos++] = '.';
      for (int k = 0; k < nf; k++) buf[pos++] = (char)('0' + (rnd() % 3 ? rnd() % 10 : 0));
    }
    if (rnd() & 1) pos += snprintf(buf + pos, sizeof buf - (size_t)pos, "e%d", (int)(rnd() % 700) - 350);
    buf[pos] = '\0';
    double want = strtod(buf, NULL), got;
    const char *e = cv_parse_f64(buf, buf + pos, &got);
    if (e != buf + pos) CV_FAIL_("\"%s\" not fully parsed", buf);
    if (bits_f64(got) != bits_f64(want)) CV_FAIL_("\"%s\": %.17g vs strtod %.17g", buf, got, want);
  }
}

#define CV_TEST_LIST(XX)                                                                  \
  XX(f32_random_roundtrip) XX(f32_shortest) XX(f64_random_roundtrip) XX(f64_shortest)    \
  XX(half_exhaustive) XX(half_single_rounding) XX(known_strings) XX(integers)             \
  XX(parse_grammar) XX(parse_values)
CV_TEST_MAIN(CV_TEST_LIST)
