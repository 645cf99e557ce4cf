/* base64.c — table-driven standard base64. Encoding looks up 12 bits (two
 * characters) at a time; decoding ORs four pre-shifted 24-bit values, a
 * set top bit marking a character outside the alphabet. The tables are
 * constant, built by the preprocessor. Pure functions; any thread. */
#include "base64.h"

#include <stdint.h>
#include <string.h>

static const char ENC[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define BAD 0xff
/* decoding table: 6-bit value, or BAD */
static const uint8_t DEC[256] = {
#define R8 BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD
    R8, R8, R8, R8, R8, /* 0x00-0x27 */
    BAD, BAD, BAD, 62, BAD, BAD, BAD, 63,          /* ( ) * + , - . / */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61,        /* 0-9 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD,             /* : ; < = > ? @ */
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    BAD, BAD, BAD, BAD, BAD, BAD,                  /* [ \ ] ^ _ ` */
    26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51,
    BAD, BAD, BAD, BAD, BAD,                       /* { | } ~ DEL */
    R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, R8, /* 0x80-0xff */
#undef R8
};
_Static_assert(sizeof DEC == 256, "base64 decode table");

/* ENC as an expression, for building the tables at compile time */
#define CH(x) ((x) < 26 ? 'A' + (x) : (x) < 52 ? 'a' + (x) - 26 : (x) < 62 ? '0' + (x) - 52 : (x) == 62 ? '+' : '/')
/* two characters for 12 bits, in memory order (first character first) */
#define P2(i) (uint16_t)((uint16_t)CH((i) >> 6) | (uint16_t)CH((i) & 63) << 8)
#define X4(i) P2(i), P2((i) + 1), P2((i) + 2), P2((i) + 3)
#define X16(i) X4(i), X4((i) + 4), X4((i) + 8), X4((i) + 12)
#define X64(i) X16(i), X16((i) + 16), X16((i) + 32), X16((i) + 48)
#define X256(i) X64(i), X64((i) + 64), X64((i) + 128), X64((i) + 192)
#define X1024(i) X256(i), X256((i) + 256), X256((i) + 512), X256((i) + 768)
static const uint16_t ENC2[4096] = {X1024(0), X1024(1024), X1024(2048), X1024(3072)};
#undef X1024
#undef X256
#undef X64
#undef X16
#undef X4
#undef P2
#undef CH

/* DEC shifted into place for position k of a quad; BAD → the top bit */
#define DVAL(c)                                                                              \
  ((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26              \
   : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 : (c) == '+' ? 62 : (c) == '/' ? 63 : -1)
#define DV(c, sh) (DVAL(c) < 0 ? 0x80000000u : (uint32_t)DVAL(c) << (sh))
#define D4(c, sh) DV(c, sh), DV((c) + 1, sh), DV((c) + 2, sh), DV((c) + 3, sh)
#define D16(c, sh) D4(c, sh), D4((c) + 4, sh), D4((c) + 8, sh), D4((c) + 12, sh)
#define D64(c, sh) D16(c, sh), D16((c) + 16, sh), D16((c) + 32, sh), D16((c) + 48, sh)
#define D256(sh) D64(0, sh), D64(64, sh), D64(128, sh), D64(192, sh)
static const uint32_t DQ[4][256] = {{D256(18)}, {D256(12)}, {D256(6)}, {D256(0)}};
#undef D256
#undef D64
#undef D16
#undef D4
#undef DV
#undef DVAL

size_t cv_b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

void cv_b64_encode(const void *src, size_t n, char *dst) {
  const uint8_t *s = src;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    uint16_t hi = ENC2[v >> 12], lo = ENC2[v & 0xfff];
    memcpy(dst, &hi, 2);
    memcpy(dst + 2, &lo, 2);
    dst += 4;
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)s[i] << 16;
    dst[0] = ENC[v >> 18];
    dst[1] = ENC[(v >> 12) & 63];
    dst[2] = '=';
    dst[3] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
    dst[0] = ENC[v >> 18];
    dst[1] = ENC[(v >> 12) & 63];
    dst[2] = ENC[(v >> 6) & 63];
    dst[3] = '=';
  }
}

/* Characters before the padding, when the padding layout is valid. */
static bool body_len(const char *s, size_t n, size_t *body) {
  size_t pad = 0;
  while (pad < n && pad < 3 && s[n - 1 - pad] == '=') pad++;
  if (pad == 3) return false;
  if (pad && n % 4) return false;   /* padded text comes in whole quads */
  size_t b = n - pad;
  if (b % 4 == 1) return false;     /* one char carries only 6 bits */
  if (pad && (b % 4) + pad != 4) return false;
  *body = b;
  return true;
}

bool cv_b64_decoded_len(const char *s, size_t n, size_t *out) {
  size_t b;
  if (!body_len(s, n, &b)) return false;
  *out = b / 4 * 3 + (b % 4 == 2 ? 1 : b % 4 == 3 ? 2 : 0);
  return true;
}

size_t cv_b64_find_bad(const char *s, size_t n) {
  size_t end = n;
  while (end > 0 && n - end < 2 && s[end - 1] == '=') end--;
  for (size_t i = 0; i < end; i++)
    if (DEC[(uint8_t)s[i]] == BAD) return i + 1;
  return 0;
}

size_t cv_b64_decode(const char *s, size_t n, void *dst) {
  size_t b;
  if (!body_len(s, n, &b)) return n + 1;
  const uint8_t *u = (const uint8_t *)s;
  uint8_t *d = dst;
  size_t i = 0;
  for (; i + 4 <= b; i += 4) {
    uint32_t v = DQ[0][u[i]] | DQ[1][u[i + 1]] | DQ[2][u[i + 2]] | DQ[3][u[i + 3]];
    if (v & 0x80000000u) {   /* a character outside the alphabet */
      for (size_t k = i;; k++)
        if (DEC[u[k]] == BAD) return k + 1;
    }
    d[0] = (uint8_t)(v >> 16);
    d[1] = (uint8_t)(v >> 8);
    d[2] = (uint8_t)v;
    d += 3;
  }
  size_t rem = b - i;
  if (rem) {
    uint32_t v = 0;
    for (size_t k = 0; k < rem; k++) {
      uint32_t a = DEC[u[i + k]];
      if (a == BAD) return i + k + 1;
      v |= a << (18 - 6 * k);
    }
    d[0] = (uint8_t)(v >> 16);
    if (rem == 3) d[1] = (uint8_t)(v >> 8);
  }
  return 0;
}
