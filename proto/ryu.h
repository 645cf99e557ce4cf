/* ryu.h — shortest decimal digits of binary floats (Ryu), for json_num.c
 * only. Each returns the digits as an integer and its decimal exponent:
 * value = *out · 10^*e10, the shortest such that rounds back to the input
 * (ties: closest to the exact value). Zero, inf and NaN are the caller's.
 * Pure; any thread. */
#ifndef CV_RYU_H
#define CV_RYU_H

#include <stdint.h>

/* A binary format of mbits mantissa bits (<= 23) and exponent bias, with
 * float32's exponent range or less: float32 (23, 127), float16 (10, 15),
 * bfloat16 (7, 127). ieee_m / ieee_e are the raw fields of a finite,
 * nonzero value. */
void cv__ryu32(uint32_t ieee_m, uint32_t ieee_e, int mbits, int bias, uint32_t *out, int32_t *e10);
/* float64: raw 52-bit mantissa and 11-bit exponent fields. */
void cv__ryu64(uint64_t ieee_m, uint32_t ieee_e, uint64_t *out, int32_t *e10);

#endif
