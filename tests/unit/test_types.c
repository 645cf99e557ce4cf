/* test_types.c — dtype table, conversions (incl. half types), shape checks,
 * error table and tensor refcounting. */
#include <float.h>

#include "../../engine/tensor.h"
#include "../../kernels/types.h"
#include "../../proto/errors.h"
#include "runner.h"

static void test_dtype_table(void) {
  static const struct {
    const char *name, *descr;
    size_t size;
  } rows[] = {{"bool", "|b1", 1},     {"int8", "|i1", 1},       {"uint16", "<u2", 2},
              {"float16", "<f2", 2},  {"bfloat16", "<V2", 2},   {"float32", "<f4", 4},
              {"float64", "<f8", 8},  {"complex64", "<c8", 8},  {"complex128", "<c16", 16}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    cv_dtype_t t;
    CV_ASSERT_OK(cv_dtype_parse(rows[i].name, &t));
    CV_ASSERT_STREQ(cv_dtype_name(t), rows[i].name);
    CV_ASSERT_STREQ(cv_dtype_descr(t), rows[i].descr);
    CV_ASSERT_EQ(cv_dtype_size(t), rows[i].size);
  }
  cv_dtype_t t;
  CV_ASSERT_EQ(cv_dtype_parse("float128", &t), -CV_EUNSUPPORTED_DTYPE);
  CV_ASSERT_EQ(cv_dtype_parse("Float32", &t), -CV_EUNSUPPORTED_DTYPE);
}

static void test_promotion(void) {
  CV_ASSERT_EQ(cv_dtype_promote_wavelet(CV_DTYPE_BOOL), CV_DTYPE_F64);
  CV_ASSERT_EQ(cv_dtype_promote_wavelet(CV_DTYPE_I16), CV_DTYPE_F64);
  CV_ASSERT_EQ(cv_dtype_promote_wavelet(CV_DTYPE_U64), CV_DTYPE_F64);
  CV_ASSERT_EQ(cv_dtype_promote_wavelet(CV_DTYPE_F16), CV_DTYPE_F32);
  CV_ASSERT_EQ(cv_dtype_promote_wavelet(CV_DTYPE_BF16), CV_DTYPE_F32);
  CV_ASSERT_EQ(cv_dtype_promote_wavelet(CV_DTYPE_F32), CV_DTYPE_F32);
  CV_ASSERT_EQ(cv_dtype_promote_wavelet(CV_DTYPE_C64), CV_DTYPE_C64);
}

static void test_half_conversions(void) {
  static const struct {
    uint16_t bits;
    float value;
  } f16[] = {{0x0000, 0.0f}, {0x3c00, 1.0f}, {0xc000, -2.0f}, {0x7bff, 65504.0f},
             {0x0001, 5.960464477539063e-08f}, {0x0400, 6.103515625e-05f}, {0x3555, 0.333251953125f}};
  for (size_t i = 0; i < sizeof f16 / sizeof f16[0]; i++) {
    CV_ASSERT_EQ(cv_f16_to_f32(f16[i].bits) == f16[i].value, 1);
    CV_ASSERT_EQ(cv_f32_to_f16(f16[i].value), f16[i].bits);
  }
  CV_ASSERT_EQ(cv_f32_to_f16(1e6f), 0x7c00);          /* overflow → inf */
  CV_ASSERT_EQ(cv_f32_to_f16(1.0f / 3.0f), 0x3555);   /* round to nearest */
  CV_ASSERT(isnan(cv_f16_to_f32(cv_f32_to_f16(NAN))));
  CV_ASSERT_EQ(cv_f32_to_bf16(1.0f), 0x3f80);
  CV_ASSERT_EQ(cv_f32_to_bf16(-2.5f), 0xc020);
  CV_ASSERT_EQ(cv_bf16_to_f32(0x4049) == 3.140625f, 1);
  CV_ASSERT_EQ(cv_f32_to_bf16(1.00390625f), 0x3f80);  /* tie → even */
  CV_ASSERT(isnan(cv_bf16_to_f32(cv_f32_to_bf16(NAN))));
  /* every f16 bit pattern survives f16 → f32 → f16 (NaNs stay NaN) */
  for (uint32_t b = 0; b < 0x10000; b++) {
    float f = cv_f16_to_f32((uint16_t)b);
    if (isnan(f)) continue;
    CV_ASSERT_EQ(cv_f32_to_f16(f), b);
  }
}

static void test_convert(void) {
  int16_t i16[4] = {-3, 0, 7, 32767};
  double d[4];
  cv_convert(d, CV_DTYPE_F64, i16, CV_DTYPE_I16, 4);
  CV_ASSERT_EQ(d[0] == -3.0 && d[3] == 32767.0, 1);
  float c64[4] = {1, 2, 3, 4};
  double c128[4];
  cv_convert(c128, CV_DTYPE_C128, c64, CV_DTYPE_C64, 2);
  CV_ASSERT_EQ(c128[1] == 2.0 && c128[3] == 4.0, 1);
  uint8_t b[3] = {0, 1, 2};
  float f[3];
  cv_convert(f, CV_DTYPE_F32, b, CV_DTYPE_BOOL, 3);
  CV_ASSERT_EQ(f[0] == 0.0f && f[1] == 1.0f && f[2] == 1.0f, 1);
}

static void test_shape_check(void) {
  size_t n;
  int64_t ok[3] = {2, 3, 4}, neg[2] = {2, -1}, zero[3] = {0, 5, 7}, huge[2] = {INT64_MAX, INT64_MAX};
  cv_error_t e;
  CV_ASSERT_OK(cv_shape_check(CV_DTYPE_F32, 3, ok, 0, &n, "shape", &e));
  CV_ASSERT_EQ(n, 96);
  CV_ASSERT_EQ(cv_shape_check(CV_DTYPE_F32, 2, neg, 0, &n, "inputs.x.shape", &e), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(e.field, "inputs.x.shape");
  CV_ASSERT_OK(cv_shape_check(CV_DTYPE_F64, 3, zero, 0, &n, "shape", &e));
  CV_ASSERT_EQ(n, 0);
  int64_t zero_huge[2] = {0, INT64_MAX}; /* empty, but the other dim must still be sane */
  CV_ASSERT_EQ(cv_shape_check(CV_DTYPE_F64, 2, zero_huge, 0, &n, "shape", &e), -CV_EPAYLOAD_TOO_LARGE);
  CV_ASSERT_EQ(cv_shape_check(CV_DTYPE_F32, 2, huge, 0, &n, "shape", &e), -CV_EPAYLOAD_TOO_LARGE);
  CV_ASSERT_EQ(cv_shape_check(CV_DTYPE_F32, 3, ok, 95, &n, "shape", &e), -CV_EPAYLOAD_TOO_LARGE);
  CV_ASSERT_EQ(cv_shape_check(CV_DTYPE_F32, CV_MAX_DIMS + 1, ok, 0, &n, "shape", &e), -CV_EINVALID_ARGUMENT);
}

static void test_error_table(void) {
  CV_ASSERT_STREQ(cv_err_name(CV_ESHAPE_MISMATCH), "shape_mismatch");
  CV_ASSERT_STREQ(cv_err_name(-CV_EQUEUE_FULL), "queue_full");
  CV_ASSERT_EQ(cv_err_http(CV_EQUEUE_FULL), 429);
  CV_ASSERT_EQ(cv_err_http(-CV_EINSUFFICIENT_STORAGE), 507);
  CV_ASSERT_EQ(cv_err_http(CV_EDEADLINE_EXCEEDED), 504);
  CV_ASSERT_EQ(cv_err_http(9999), 500);
  cv_error_t e;
  CV_ASSERT_EQ(cv_error_set(&e, CV_EINVALID_ARGUMENT, "level", "level %d < 0", -1), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(e.field, "level");
  CV_ASSERT_STREQ(e.message, "level -1 < 0");
  cv_error_set(&e, CV_EGONE, NULL, NULL);
  CV_ASSERT_STREQ(e.field, "");
  CV_ASSERT_STREQ(e.message, "the result expired");
  for (int c = 1; c < CV_ERR_COUNT; c++) {
    CV_ASSERT(strcmp(cv_err_name(c), "internal") != 0 || c == CV_EINTERNAL);
    CV_ASSERT(cv_err_http(c) >= 400);
  }
}

static int released;
static void count_release(cv_tensor_t *t) { released++; }

static void test_tensor_refs(void) {
  cv_tensor_t *t;
  int64_t shape[2] = {3, 5};
  cv_error_t e;
  CV_ASSERT_OK(cv_tensor_new(&t, CV_DTYPE_F64, 2, shape, 0, true, &e));
  CV_ASSERT_EQ(t->nbytes, 120);
  CV_ASSERT_EQ((uintptr_t)t->a.data % CV_TENSOR_ALIGN, 0);
  CV_ASSERT_EQ(((double *)t->a.data)[14] == 0.0, 1);
  cv_tensor_ref(t);
  cv_tensor_unref(t);
  cv_tensor_unref(t);
  static double buf[4];
  int64_t s1[1] = {4};
  CV_ASSERT_OK(cv_tensor_wrap(&t, CV_DTYPE_F64, 1, s1, buf, count_release, NULL, 0, &e));
  cv_tensor_unref(t);
  CV_ASSERT_EQ(released, 1);
  CV_ASSERT_EQ(cv_tensor_new(&t, CV_DTYPE_F32, 2, shape, 10, false, &e), -CV_EPAYLOAD_TOO_LARGE);
}

#define CV_TEST_LIST(XX) \
  XX(dtype_table) XX(promotion) XX(half_conversions) XX(convert) XX(shape_check) XX(error_table) XX(tensor_refs)
CV_TEST_MAIN(CV_TEST_LIST)
