/* types.h — dtypes, shapes and non-owning array views shared by every layer.
 * CV_DTYPE_MAP is the one list of dtypes: enum, wire name, .npy descr, size.
 * Arrays are dense, C-order (row-major); no strides anywhere in convoy. */
#ifndef CV_TYPES_H
#define CV_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CV_MAX_DIMS 8   /* highest tensor rank accepted anywhere */
#define CV_NAME_MAX 32  /* input/output names: "x", "a", "d12_ddd" */

/* XX(enum suffix, wire name, little-endian .npy descr, bytes per element) */
#define CV_DTYPE_MAP(XX)                \
  XX(BOOL, "bool", "|b1", 1)            \
  XX(I8, "int8", "|i1", 1)              \
  XX(U8, "uint8", "|u1", 1)             \
  XX(I16, "int16", "<i2", 2)            \
  XX(U16, "uint16", "<u2", 2)           \
  XX(I32, "int32", "<i4", 4)            \
  XX(U32, "uint32", "<u4", 4)           \
  XX(I64, "int64", "<i8", 8)            \
  XX(U64, "uint64", "<u8", 8)           \
  XX(F16, "float16", "<f2", 2)          \
  XX(BF16, "bfloat16", "<V2", 2)        \
  XX(F32, "float32", "<f4", 4)          \
  XX(F64, "float64", "<f8", 8)          \
  XX(C64, "complex64", "<c8", 8)        \
  XX(C128, "complex128", "<c16", 16)

typedef enum {
#define XX(uc, name, descr, size) CV_DTYPE_##uc,
  CV_DTYPE_MAP(XX)
#undef XX
  CV_DTYPE_COUNT
} cv_dtype_t;

const char *cv_dtype_name(cv_dtype_t t);     /* "float32" */
const char *cv_dtype_descr(cv_dtype_t t);    /* "<f4" */
size_t cv_dtype_size(cv_dtype_t t);          /* 4 */
int cv_dtype_parse(const char *name, cv_dtype_t *out);   /* 0 or -CV_EUNSUPPORTED_DTYPE */
bool cv_dtype_is_float(cv_dtype_t t);        /* f16 bf16 f32 f64 */
bool cv_dtype_is_complex(cv_dtype_t t);      /* c64 c128 */
bool cv_dtype_is_integer(cv_dtype_t t);      /* bool and ints */
/* pywt's promotion for dwt/idwt/sepconv: bool/ints → f64, f16/bf16 → f32,
 * f32 f64 c64 c128 unchanged. */
cv_dtype_t cv_dtype_promote_wavelet(cv_dtype_t t);
/* Converts n elements between any two dtypes (complex→real takes the real
 * part; float→int truncates as C). Plain loops; any thread. */
void cv_convert(void *dst, cv_dtype_t dt, const void *src, cv_dtype_t st, size_t n);

/* Half-precision bit conversions (round to nearest even). */
float cv_f16_to_f32(uint16_t h);
uint16_t cv_f32_to_f16(float f);
float cv_bf16_to_f32(uint16_t h);
uint16_t cv_f32_to_bf16(float f);

/* A view of a dense array: dtype, shape, data. Never owns data. */
typedef struct cv_array_s {
  cv_dtype_t dtype;
  int ndim;
  int64_t shape[CV_MAX_DIMS];
  void *data;
} cv_array_t;

int64_t cv_shape_numel(const int64_t *shape, int ndim);   /* 1 for ndim 0 */
size_t cv_array_nbytes(const cv_array_t *a);              /* numel × size */

/* A named array: an op's input or output ("x", "a", "d1_dd"). */
typedef struct cv_io_s {
  char name[CV_NAME_MAX];
  cv_array_t a;
} cv_io_t;

#endif
