/* json_num.c — JSON numbers for tensor data: layout of Ryu's shortest digits
 * (ryu.c) with the fix-ups that make them read back in the tensor's dtype,
 * integer printing, correctly rounded parsing (Clinger's exact fast path,
 * else strtod), and single rounding of doubles to float16 / bfloat16.
 * Pure functions; any thread. */
#include "json_num.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/types.h"
#include "ryu.h"

#define D_MANT_BITS 52
#define D_BIAS 1023
#define FIXED_EXP_MIN (-4)   /* fixed notation for decimal exponents -4..15, as Python's repr */
#define FIXED_EXP_MAX 15

static bool fast_path(uint64_t w, int32_t e, bool neg, double *out);

static inline uint64_t bits64(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

/* ---- decimal layout ---- */

static const char DIGITS2[200] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static inline int ndigits64(uint64_t v) {
  int n = 1;
  while (v >= 10000) {
    v /= 10000;
    n += 4;
  }
  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

/* Writes the n decimal digits of v at d (d[0] the most significant). */
static inline void put_digits(char *d, uint64_t v, int n) {
  char *p = d + n;
  while (v >= 100) {
    uint32_t r = (uint32_t)(v % 100);
    v /= 100;
    p -= 2;
    memcpy(p, DIGITS2 + 2 * r, 2);
  }
  if (v >= 10) {
    p -= 2;
    memcpy(p, DIGITS2 + 2 * v, 2);
  } else {
    *--p = (char)('0' + v);
  }
}

/* Lays out sign, digits of m (value m · 10^e10) as a JSON number. */
static int layout(char *buf, bool neg, uint64_t m, int32_t e10) {
  char *p = buf;
  if (neg) *p++ = '-';
  const int n = ndigits64(m);
  const int32_t sci = e10 + n - 1;   /* exponent of the first digit */
  if (sci >= FIXED_EXP_MIN && sci <= FIXED_EXP_MAX) {
    if (e10 >= 0) {   /* integral: digits, zeros, ".0" */
      put_digits(p, m, n);
      p += n;
      memset(p, '0', (size_t)e10);
      p += e10;
      memcpy(p, ".0", 2);
      p += 2;
    } else if (sci >= 0) {   /* d.ddd */
      const int before = sci + 1;
      char tmp[24];
      put_digits(tmp, m, n);
      memcpy(p, tmp, (size_t)before);
      p += before;
      *p++ = '.';
      memcpy(p, tmp + before, (size_t)(n - before));
      p += n - before;
    } else {   /* 0.000ddd */
      *p++ = '0';
      *p++ = '.';
      memset(p, '0', (size_t)(-sci - 1));
      p += -sci - 1;
      put_digits(p, m, n);
      p += n;
    }
  } else {
    char tmp[24];
    put_digits(tmp, m, n);
    *p++ = tmp[0];
    if (n > 1) {
      *p++ = '.';
      memcpy(p, tmp + 1, (size_t)(n - 1));
      p += n - 1;
    }
    *p++ = 'e';
    int32_t x = sci;
    if (x < 0) {
      *p++ = '-';
      x = -x;
    }
    if (x >= 100) {
      *p++ = (char)('0' + x / 100);
      x %= 100;
      memcpy(p, DIGITS2 + 2 * x, 2);
      p += 2;
    } else if (x >= 10) {
      memcpy(p, DIGITS2 + 2 * x, 2);
      p += 2;
    } else {
      *p++ = (char)('0' + x);
    }
  }
  *p = '\0';
  return (int)(p - buf);
}

static int special(char *buf, bool neg, bool nan) {
  const char *s = nan ? "\"NaN\"" : neg ? "\"-Infinity\"" : "\"Infinity\"";
  size_t n = strlen(s);
  memcpy(buf, s, n + 1);
  return (int)n;
}

static int zero(char *buf, bool neg) {
  const char *s = neg ? "-0.0" : "0.0";
  size_t n = strlen(s);
  memcpy(buf, s, n + 1);
  return (int)n;
}

/* ---- printing ---- */

typedef uint64_t (*back_fn)(double);   /* rounds a double to a format's bits */
static uint64_t back_f64(double d) { return bits64(d); }
static uint64_t back_f32(double d) {
  float f = (float)d;
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}
static uint64_t back_f16(double d) { return cv_f64_to_f16(d); }
static uint64_t back_bf16(double d) { return cv_f64_to_bf16(d); }

static double pow10_of(int d, int32_t e) {
  char s[16];
  double v = 0;
  int n = snprintf(s, sizeof s, "%de%d", d, (int)e);
  cv_parse_f64(s, s + n, &v);
  return v;
}

/* Ryu strips digits while a shorter mantissa still fits, so for the wide
 * interval of a subnormal with few bits it may answer 1·10^e where a digit at
 * 10^(e-1), just as short, lies closer (bfloat16 0x0001 is 9e-41, not 1e-40).
 * Only m == 1 with v below 10^e can be affected; v > 0, bits positive. */
static void closest_one_digit(double v, uint64_t bits, back_fn back, uint64_t *m, int32_t *e10) {
  const double one = pow10_of(1, *e10);
  if (v >= one) return;
  double best = one - v;
  const int32_t e = *e10;
  for (int d = 9; d >= 1; d--) {
    const double c = pow10_of(d, e - 1);
    if (back(c) == bits && fabs(c - v) < best) {
      best = fabs(c - v);
      *m = (uint64_t)d;
      *e10 = e - 1;
    }
  }
}

int cv_fmt_f64(double v, char *buf) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  const bool neg = bits >> 63;
  const uint32_t ie = (uint32_t)((bits >> D_MANT_BITS) & 0x7ff);
  const uint64_t im = bits & ((1ull << D_MANT_BITS) - 1);
  if (ie == 0x7ff) return special(buf, neg, im != 0);
  if (ie == 0 && im == 0) return zero(buf, neg);
  /* integers below 2^53 are their own shortest form (Ryu's small-int path) */
  const int32_t e2 = (int32_t)ie - D_BIAS - D_MANT_BITS;
  if (ie != 0 && e2 <= 0 && e2 >= -D_MANT_BITS) {
    const uint64_t m2 = (1ull << D_MANT_BITS) | im;
    if ((m2 & ((1ull << -e2) - 1)) == 0) {
      uint64_t m = m2 >> -e2;
      int32_t e10 = 0;
      while (m % 10 == 0) {
        m /= 10;
        e10++;
      }
      return layout(buf, neg, m, e10);
    }
  }
  uint64_t m;
  int32_t e10;
  cv__ryu64(im, ie, &m, &e10);
  if (ie == 0 && m == 1) closest_one_digit(fabs(v), bits & ~(1ull << 63), back_f64, &m, &e10);
  return layout(buf, neg, m, e10);
}

/* m·10^e10 as the nearest double (m < 2^53). */
static double dec_to_double(uint64_t m, int32_t e10) {
  double d;
  if (fast_path(m, e10, false, &d)) return d;
  char s[40];
  int n = snprintf(s, sizeof s, "%llue%d", (unsigned long long)m, (int)e10);
  cv_parse_f64(s, s + n, &d);
  return d;
}

/* Readers of JSON parse a float32 as a double, then round that (Python's
 * json + NumPy). Ryu's shortest digits read back when rounded once, but in a
 * few cases (2 of the 2^32 float32 values, e.g. 7.038531e-26) the double lands
 * on a midpoint and the second rounding goes the other way. Those take the
 * fewest more digits that survive both roundings. */
static void longer_digits(double v, uint64_t bits, back_fn back, uint64_t *m, int32_t *e10) {
  const int n0 = ndigits64(*m);
  for (int p = n0 + 1; p <= 17; p++) {
    char s[48];
    int n = snprintf(s, sizeof s, "%.*e", p - 1, v);
    double d;
    if (!cv_parse_f64(s, s + n, &d) || back(d) != bits) continue;
    uint64_t digits = 0;
    const char *q = s;
    for (; *q != 'e'; q++)
      if (*q != '.') digits = digits * 10 + (uint64_t)(*q - '0');
    int32_t e = (int32_t)atoi(q + 1) - (p - 1);
    while (digits % 10 == 0) {
      digits /= 10;
      e++;
    }
    *m = digits;
    *e10 = e;
    return;
  }
}

static int fmt32(uint32_t bits, int mbits, int ebits, double v, back_fn back, char *buf) {
  const bool neg = (bits >> (mbits + ebits)) & 1;
  const uint32_t emax = (1u << ebits) - 1;
  const uint32_t ie = (bits >> mbits) & emax;
  const uint32_t im = bits & ((1u << mbits) - 1);
  if (ie == emax) return special(buf, neg, im != 0);
  if (ie == 0 && im == 0) return zero(buf, neg);
  uint32_t m32;
  int32_t e10;
  cv__ryu32(im, ie, mbits, (int)(emax >> 1), &m32, &e10);
  uint64_t m = m32;
  const uint64_t abits = bits & ((1u << (mbits + ebits)) - 1);
  if (ie == 0 && m == 1) closest_one_digit(fabs(v), abits, back, &m, &e10);
  if (back(dec_to_double(m, e10)) != abits) longer_digits(fabs(v), abits, back, &m, &e10);
  return layout(buf, neg, m, e10);
}

int cv_fmt_f32(float v, char *buf) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  return fmt32(bits, 23, 8, v, back_f32, buf);
}

int cv_fmt_f16(uint16_t bits, char *buf) { return fmt32(bits, 10, 5, cv_f16_to_f32(bits), back_f16, buf); }
int cv_fmt_bf16(uint16_t bits, char *buf) { return fmt32(bits, 7, 8, cv_bf16_to_f32(bits), back_bf16, buf); }

int cv_fmt_u64(uint64_t v, char *buf) {
  int n = ndigits64(v);
  put_digits(buf, v, n);
  buf[n] = '\0';
  return n;
}

int cv_fmt_i64(int64_t v, char *buf) {
  if (v >= 0) return cv_fmt_u64((uint64_t)v, buf);
  buf[0] = '-';
  return 1 + cv_fmt_u64(0 - (uint64_t)v, buf + 1);
}

/* ---- parsing ---- */

#define CLINGER_MAX_MANT (1ull << 53)
#define CLINGER_MAX_POW 22
#define MAX_SIG_DIGITS 19    /* always fit a uint64_t */
#define EXP_CLAMP 100000     /* beyond any double, keeps the sum from overflowing */
#define STRTOD_STACK 64

static const double POW10[CLINGER_MAX_POW + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const uint64_t POW10U[16] = {1ull,          10ull,          100ull,          1000ull,
                                    10000ull,      100000ull,      1000000ull,      10000000ull,
                                    100000000ull,  1000000000ull,  10000000000ull,  100000000000ull,
                                    1000000000000ull, 10000000000000ull, 100000000000000ull,
                                    1000000000000000ull};

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool fast_path(uint64_t w, int32_t e, bool neg, double *out) {
  if (w > CLINGER_MAX_MANT) return false;
  double d;
  if (e >= 0 && e <= CLINGER_MAX_POW) {
    d = (double)w * POW10[e];
  } else if (e < 0 && e >= -CLINGER_MAX_POW) {
    d = (double)w / POW10[-e];
  } else if (e > CLINGER_MAX_POW && e <= CLINGER_MAX_POW + 15) {
    const uint64_t s = POW10U[e - CLINGER_MAX_POW];   /* w·10^(e-22) exact while < 2^53 */
    if (w > CLINGER_MAX_MANT / s) return false;
    d = (double)(w * s) * POW10[CLINGER_MAX_POW];
  } else {
    return false;
  }
  *out = neg ? -d : d;
  return true;
}

const char *cv_parse_f64(const char *p, const char *end, double *out) {
  const char *start = p;
  bool neg = false;
  if (p < end && *p == '-') {
    neg = true;
    p++;
  }
  if (p >= end || !is_digit(*p)) return NULL;
  uint64_t w = 0;
  int nd = 0;            /* significant digits kept in w */
  bool inexact = false;  /* a nonzero digit was dropped */
  int32_t e = 0;
  if (*p == '0') {
    p++;
  } else {
    for (; p < end && is_digit(*p); p++) {
      if (nd < MAX_SIG_DIGITS) {
        w = w * 10 + (uint64_t)(*p - '0');
        nd++;
      } else {
        inexact |= *p != '0';
        e++;
      }
    }
  }
  if (p < end && *p == '.') {
    p++;
    if (p >= end || !is_digit(*p)) return NULL;
    for (; p < end && is_digit(*p); p++) {
      if (w == 0 && *p == '0') {
        e--;
      } else if (nd < MAX_SIG_DIGITS) {
        w = w * 10 + (uint64_t)(*p - '0');
        nd++;
        e--;
      } else {
        inexact |= *p != '0';
      }
    }
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    bool eneg = false;
    if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p >= end || !is_digit(*p)) return NULL;
    int32_t x = 0;
    for (; p < end && is_digit(*p); p++)
      if (x < EXP_CLAMP) x = x * 10 + (*p - '0');
    e += eneg ? -x : x;
  }
  if (w == 0) {
    *out = neg ? -0.0 : 0.0;
    return p;
  }
  if (!inexact && fast_path(w, e, neg, out)) return p;
  /* slow path: glibc's strtod is correctly rounded */
  const size_t n = (size_t)(p - start);
  char stack[STRTOD_STACK];
  char *tmp = n < sizeof stack ? stack : malloc(n + 1);
  if (!tmp) return NULL;
  memcpy(tmp, start, n);
  tmp[n] = '\0';
  *out = strtod(tmp, NULL);
  if (tmp != stack) free(tmp);
  return p;
}

/* ---- single rounding to half types ---- */

/* double → float rounding to odd: the result's last bit records any
 * inexactness, so a second rounding to fewer bits is correct. */
static float f64_to_f32_odd(double v) {
  float f = (float)v;
  if (isnan(v) || (double)f == v) return f;
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  if (fabs((double)f) > fabs(v)) b--;   /* truncate toward zero (same sign) */
  b |= 1;
  memcpy(&f, &b, sizeof f);
  return f;
}

uint16_t cv_f64_to_f16(double v) { return cv_f32_to_f16(f64_to_f32_odd(v)); }
uint16_t cv_f64_to_bf16(double v) { return cv_f32_to_bf16(f64_to_f32_odd(v)); }
