/* types.c — dtype tables, conversions and shape helpers. Pure; any thread. */
#include "types.h"

#include <math.h>
#include <string.h>

#include "../proto/errors.h"

static const struct {
  const char *name, *descr;
  size_t size;
} dtype_table[] = {
#define XX(uc, name, descr, size) {name, descr, size},
    CV_DTYPE_MAP(XX)
#undef XX
};
_Static_assert(sizeof dtype_table / sizeof dtype_table[0] == CV_DTYPE_COUNT, "dtype table");

const char *cv_dtype_name(cv_dtype_t t) { return (unsigned)t < CV_DTYPE_COUNT ? dtype_table[t].name : "?"; }
const char *cv_dtype_descr(cv_dtype_t t) { return (unsigned)t < CV_DTYPE_COUNT ? dtype_table[t].descr : "?"; }
size_t cv_dtype_size(cv_dtype_t t) { return (unsigned)t < CV_DTYPE_COUNT ? dtype_table[t].size : 0; }

int cv_dtype_parse(const char *name, cv_dtype_t *out) {
  for (int i = 0; i < CV_DTYPE_COUNT; i++)
    if (strcmp(name, dtype_table[i].name) == 0) {
      *out = (cv_dtype_t)i;
      return 0;
    }
  return -CV_EUNSUPPORTED_DTYPE;
}

bool cv_dtype_is_float(cv_dtype_t t) {
  return t == CV_DTYPE_F16 || t == CV_DTYPE_BF16 || t == CV_DTYPE_F32 || t == CV_DTYPE_F64;
}
bool cv_dtype_is_complex(cv_dtype_t t) { return t == CV_DTYPE_C64 || t == CV_DTYPE_C128; }
bool cv_dtype_is_integer(cv_dtype_t t) { return t <= CV_DTYPE_U64; }

cv_dtype_t cv_dtype_promote_wavelet(cv_dtype_t t) {
  if (cv_dtype_is_integer(t)) return CV_DTYPE_F64;
  if (t == CV_DTYPE_F16 || t == CV_DTYPE_BF16) return CV_DTYPE_F32;
  return t;
}

int64_t cv_shape_numel(const int64_t *shape, int ndim) {
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i];
  return n;
}

size_t cv_array_nbytes(const cv_array_t *a) {
  return (size_t)cv_shape_numel(a->shape, a->ndim) * cv_dtype_size(a->dtype);
}

/* ---- half-precision bit conversions (round to nearest even) ---- */

static float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      int e = -1;
      do { e++; man <<= 1; } while (!(man & 0x400));
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static uint16_t f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) /* inf or nan */
    return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
  if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow → inf */
  if (absx < 0x38800000u) { /* subnormal or zero in half */
    if (absx < 0x33000000u) return (uint16_t)sign;
    uint32_t man = (absx & 0x7fffff) | 0x800000;
    int shift = 126 - (int)(absx >> 23); /* value / 2^-24, the half subnormal unit */
    uint32_t r = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = absx - 0x38000000u; /* rebias exponent: (127-15)<<23 */
  uint32_t out = r >> 13, rem = r & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (out & 1))) out++;
  return (uint16_t)(sign | out);
}

static float bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static uint16_t f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fffu + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

float cv_f16_to_f32(uint16_t h) { return f16_to_f32(h); }
uint16_t cv_f32_to_f16(float f) { return f32_to_f16(f); }
float cv_bf16_to_f32(uint16_t h) { return bf16_to_f32(h); }
uint16_t cv_f32_to_bf16(float f) { return f32_to_bf16(f); }

/* ---- generic conversion through (re, im) doubles ---- */

static void load(const void *src, cv_dtype_t t, size_t i, double *re, double *im) {
  *im = 0;
  switch (t) {
    case CV_DTYPE_BOOL: *re = ((const uint8_t *)src)[i] != 0; return;
    case CV_DTYPE_I8: *re = ((const int8_t *)src)[i]; return;
    case CV_DTYPE_U8: *re = ((const uint8_t *)src)[i]; return;
    case CV_DTYPE_I16: *re = ((const int16_t *)src)[i]; return;
    case CV_DTYPE_U16: *re = ((const uint16_t *)src)[i]; return;
    case CV_DTYPE_I32: *re = ((const int32_t *)src)[i]; return;
    case CV_DTYPE_U32: *re = ((const uint32_t *)src)[i]; return;
    case CV_DTYPE_I64: *re = (double)((const int64_t *)src)[i]; return;
    case CV_DTYPE_U64: *re = (double)((const uint64_t *)src)[i]; return;
    case CV_DTYPE_F16: *re = f16_to_f32(((const uint16_t *)src)[i]); return;
    case CV_DTYPE_BF16: *re = bf16_to_f32(((const uint16_t *)src)[i]); return;
    case CV_DTYPE_F32: *re = ((const float *)src)[i]; return;
    case CV_DTYPE_F64: *re = ((const double *)src)[i]; return;
    case CV_DTYPE_C64: *re = ((const float *)src)[2 * i]; *im = ((const float *)src)[2 * i + 1]; return;
    case CV_DTYPE_C128: *re = ((const double *)src)[2 * i]; *im = ((const double *)src)[2 * i + 1]; return;
    case CV_DTYPE_COUNT: break;
  }
  *re = 0;
}

static void store(void *dst, cv_dtype_t t, size_t i, double re, double im) {
  switch (t) {
    case CV_DTYPE_BOOL: ((uint8_t *)dst)[i] = re != 0 || im != 0; return;
    case CV_DTYPE_I8: ((int8_t *)dst)[i] = (int8_t)re; return;
    case CV_DTYPE_U8: ((uint8_t *)dst)[i] = (uint8_t)re; return;
    case CV_DTYPE_I16: ((int16_t *)dst)[i] = (int16_t)re; return;
    case CV_DTYPE_U16: ((uint16_t *)dst)[i] = (uint16_t)re; return;
    case CV_DTYPE_I32: ((int32_t *)dst)[i] = (int32_t)re; return;
    case CV_DTYPE_U32: ((uint32_t *)dst)[i] = (uint32_t)re; return;
    case CV_DTYPE_I64: ((int64_t *)dst)[i] = (int64_t)re; return;
    case CV_DTYPE_U64: ((uint64_t *)dst)[i] = (uint64_t)re; return;
    case CV_DTYPE_F16: ((uint16_t *)dst)[i] = f32_to_f16((float)re); return;
    case CV_DTYPE_BF16: ((uint16_t *)dst)[i] = f32_to_bf16((float)re); return;
    case CV_DTYPE_F32: ((float *)dst)[i] = (float)re; return;
    case CV_DTYPE_F64: ((double *)dst)[i] = re; return;
    case CV_DTYPE_C64: ((float *)dst)[2 * i] = (float)re; ((float *)dst)[2 * i + 1] = (float)im; return;
    case CV_DTYPE_C128: ((double *)dst)[2 * i] = re; ((double *)dst)[2 * i + 1] = im; return;
    case CV_DTYPE_COUNT: break;
  }
}

void cv_convert(void *dst, cv_dtype_t dt, const void *src, cv_dtype_t st, size_t n) {
  if (dt == st) {
    memmove(dst, src, n * cv_dtype_size(dt));
    return;
  }
  if (st == CV_DTYPE_F32 && dt == CV_DTYPE_F64) {
    for (size_t i = 0; i < n; i++) ((double *)dst)[i] = ((const float *)src)[i];
    return;
  }
  if (st == CV_DTYPE_F64 && dt == CV_DTYPE_F32) {
    for (size_t i = 0; i < n; i++) ((float *)dst)[i] = (float)((const double *)src)[i];
    return;
  }
  for (size_t i = 0; i < n; i++) {
    double re, im;
    load(src, st, i, &re, &im);
    store(dst, dt, i, re, im);
  }
}
