/* test_tensor_json.c — proto/tensor_json, proto/base64, proto/strbuf: tensor
 * encode → decode round trips for every dtype (every float16 and bfloat16
 * bit pattern, NaN/inf/-0/subnormals, full-range ints through data_b64),
 * canonical text, the strbuf cap contract, base64 vectors and alphabet. */
#include <float.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../proto/base64.h"
#include "../../proto/strbuf.h"
#include "../../proto/tensor_json.h"
#include "runner.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* the runner's children end in _exit, which skips LeakSanitizer: ask now */
#define LEAK_CHECK() CV_ASSERT(__lsan_do_recoverable_leak_check() == 0)
#else
#define LEAK_CHECK() ((void)0)
#endif

/* ---- tensor encode → decode ---- */

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1dull;
}

/* Encodes a, parses the text back with cJSON and cv_tensor_from_json. */
static cv_tensor_t *through_json(const cv_array_t *a, bool b64, char **text) {
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  CV_ASSERT_OK(cv_tensor_to_json_buf(a, b64, &sb));
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(sb.data, sb.len, &end, 0);
  CV_ASSERT(!j || end == sb.data + sb.len);
  if (!j) CV_FAIL_("encoder wrote invalid JSON: %.200s", sb.data);
  cv_tensor_t *t = NULL;
  cv_error_t e;
  int rc = cv_tensor_from_json(j, "t", 0, &t, &e);
  if (rc) CV_FAIL_("decode: %s %s: %s", cv_err_name(rc), e.field, e.message);
  cJSON_Delete(j);
  *text = cv_strbuf_take(&sb, NULL);
  return t;
}

static bool is_nan_elem(cv_dtype_t dt, const uint8_t *p) {
  uint16_t h;
  switch (dt) {
    case CV_DTYPE_F16: memcpy(&h, p, 2); return (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    case CV_DTYPE_BF16: memcpy(&h, p, 2); return (h & 0x7f80) == 0x7f80 && (h & 0x7f);
    case CV_DTYPE_F32:
    case CV_DTYPE_C64: {
      float f;
      memcpy(&f, p, 4);
      return isnan(f);
    }
    case CV_DTYPE_F64:
    case CV_DTYPE_C128: {
      double x;
      memcpy(&x, p, 8);
      return isnan(x);
    }
    case CV_DTYPE_BOOL: case CV_DTYPE_I8: case CV_DTYPE_U8: case CV_DTYPE_I16: case CV_DTYPE_U16:
    case CV_DTYPE_I32: case CV_DTYPE_U32: case CV_DTYPE_I64: case CV_DTYPE_U64: case CV_DTYPE_COUNT:
      break;
  }
  return false;
}

static void fill_random(cv_dtype_t dt, void *data, size_t n) {
  uint8_t *p = data;
  const size_t sz = cv_dtype_size(dt);
  for (size_t i = 0; i < n; i++, p += sz) {
    uint64_t r = rnd();
    switch (dt) {
      case CV_DTYPE_BOOL: *p = (uint8_t)(r & 1); break;
      case CV_DTYPE_I64: {   /* JSON carries up to 2^53 exactly */
        int64_t v = (int64_t)(r >> 11) - (int64_t)(1ull << 52);
        if (i == 0) v = -(int64_t)(1ull << 53);
        memcpy(p, &v, 8);
        break;
      }
      case CV_DTYPE_U64: {
        uint64_t v = i == 0 ? 1ull << 53 : r >> 11;
        memcpy(p, &v, 8);
        break;
      }
      case CV_DTYPE_F32:
      case CV_DTYPE_C64: {
        static const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f, FLT_MAX, 0.1f};
        float f = i < 8 ? special[i] : 0;
        uint32_t b = (uint32_t)r;
        if (i >= 8) memcpy(&f, &b, 4);
        memcpy(p, &f, 4);
        break;
      }
      case CV_DTYPE_F64:
      case CV_DTYPE_C128: {
        static const double special[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 5e-324, DBL_MAX, 0.1};
        double x = i < 8 ? special[i] : 0;
        if (i >= 8) memcpy(&x, &r, 8);
        memcpy(p, &x, 8);
        break;
      }
      case CV_DTYPE_I8: case CV_DTYPE_U8: case CV_DTYPE_I16: case CV_DTYPE_U16: case CV_DTYPE_I32:
      case CV_DTYPE_U32: case CV_DTYPE_F16: case CV_DTYPE_BF16:
        memcpy(p, &r, sz);   /* ints: full range; halves: any bits */
        break;
      case CV_DTYPE_COUNT: break;
    }
  }
}

static void check_same(const cv_array_t *a, const cv_tensor_t *t, bool nan_any) {
  CV_ASSERT_EQ(t->a.dtype, a->dtype);
  CV_ASSERT_EQ(t->a.ndim, a->ndim);
  for (int i = 0; i < a->ndim; i++) CV_ASSERT_EQ(t->a.shape[i], a->shape[i]);
  const size_t n = cv_array_nbytes(a);
  CV_ASSERT_EQ(t->nbytes, n);
  size_t esz = cv_dtype_size(a->dtype), part = cv_dtype_is_complex(a->dtype) ? esz / 2 : esz;
  const uint8_t *x = a->data, *y = t->a.data;
  for (size_t o = 0; o < n; o += part) {
    if (nan_any && is_nan_elem(a->dtype, x + o)) {
      if (!is_nan_elem(a->dtype, y + o)) CV_FAIL_("%s: NaN at byte %zu lost", cv_dtype_name(a->dtype), o);
      continue;
    }
    if (memcmp(x + o, y + o, part)) CV_FAIL_("%s: element at byte %zu differs", cv_dtype_name(a->dtype), o);
  }
}

static void test_tensor_roundtrip(void) {
  for (int dt = 0; dt < CV_DTYPE_COUNT; dt++) {
    const bool half = dt == CV_DTYPE_F16 || dt == CV_DTYPE_BF16;
    cv_tensor_t *src;
    int64_t shape[3] = {half ? 256 : 3, half ? 256 : 5, 7};
    int ndim = half ? 2 : 3;
    CV_ASSERT_OK(cv_tensor_new(&src, (cv_dtype_t)dt, ndim, shape, 0, false, NULL));
    if (half) {   /* every bit pattern */
      for (int i = 0; i < 65536; i++) ((uint16_t *)src->a.data)[i] = (uint16_t)i;
    } else {
      fill_random((cv_dtype_t)dt, src->a.data, (size_t)cv_shape_numel(shape, ndim) *
                                                   (cv_dtype_is_complex((cv_dtype_t)dt) ? 2 : 1) /
                                                   (cv_dtype_is_complex((cv_dtype_t)dt) ? 2 : 1));
    }
    char *text;
    cv_tensor_t *t = through_json(&src->a, false, &text);
    check_same(&src->a, t, true);
    char head[96];
    snprintf(head, sizeof head, "{\"dtype\":\"%s\",\"shape\":[%s],\"data\":[", cv_dtype_name((cv_dtype_t)dt),
             half ? "256,256" : "3,5,7");
    if (strncmp(text, head, strlen(head))) CV_FAIL_("head: %.80s", text);
    free(text);
    cv_tensor_unref(t);
    if (dt == CV_DTYPE_I64 || dt == CV_DTYPE_U64) {   /* b64 carries the full range */
      for (int i = 0; i < 105; i++) ((uint64_t *)src->a.data)[i] = rnd();
    }
    t = through_json(&src->a, true, &text);
    check_same(&src->a, t, false);   /* bytes, NaN payloads included */
    free(text);
    cv_tensor_unref(t);
    cv_tensor_unref(src);
  }
  LEAK_CHECK();
}

static void expect_text(cv_dtype_t dt, int ndim, const int64_t *shape, const void *data, bool b64, const char *want) {
  cv_array_t a = {.dtype = dt, .ndim = ndim, .data = (void *)data};
  memcpy(a.shape, shape, (size_t)ndim * sizeof *shape);
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  CV_ASSERT_OK(cv_tensor_to_json_buf(&a, b64, &sb));
  CV_ASSERT_STREQ(sb.data, want);
  CV_ASSERT_EQ(sb.len, strlen(want));
  cv_strbuf_free(&sb);
}

static void test_tensor_encode_text(void) {
  const float f[5] = {0.1f, -0.0f, NAN, INFINITY, 3.0f};
  int64_t s5[1] = {5}, s1[1] = {1}, s2[1] = {2}, s03[2] = {0, 3};
  expect_text(CV_DTYPE_F32, 1, s5, f, false,
              "{\"dtype\":\"float32\",\"shape\":[5],\"data\":[0.1,-0.0,\"NaN\",\"Infinity\",3.0]}");
  const float c[2] = {1, 2};
  expect_text(CV_DTYPE_C64, 1, s1, c, false, "{\"dtype\":\"complex64\",\"shape\":[1],\"data\":[1.0,2.0]}");
  const uint8_t b[2] = {1, 0};
  expect_text(CV_DTYPE_BOOL, 1, s2, b, false, "{\"dtype\":\"bool\",\"shape\":[2],\"data\":[true,false]}");
  const int64_t i[2] = {-5, 1ll << 62};
  expect_text(CV_DTYPE_I64, 1, s2, i, false,
              "{\"dtype\":\"int64\",\"shape\":[2],\"data\":[-5,4611686018427387904]}");
  const double d = 5.5;
  expect_text(CV_DTYPE_F64, 0, s1, &d, false, "{\"dtype\":\"float64\",\"shape\":[],\"data\":[5.5]}");
  expect_text(CV_DTYPE_F32, 2, s03, f, false, "{\"dtype\":\"float32\",\"shape\":[0,3],\"data\":[]}");
  expect_text(CV_DTYPE_F32, 2, s03, f, true, "{\"dtype\":\"float32\",\"shape\":[0,3],\"data_b64\":\"\"}");
  const float one_two[2] = {1, 2};
  expect_text(CV_DTYPE_F32, 1, s2, one_two, true, "{\"dtype\":\"float32\",\"shape\":[2],\"data_b64\":\"AACAPwAAAEA=\"}");
  const uint16_t bf[2] = {0x3f80, 0x3dcd};
  expect_text(CV_DTYPE_BF16, 1, s2, bf, false, "{\"dtype\":\"bfloat16\",\"shape\":[2],\"data\":[1.0,0.1]}");
  const uint16_t hf[2] = {0x3555, 0xfc00};   /* float16(1/3) */
  expect_text(CV_DTYPE_F16, 1, s2, hf, false, "{\"dtype\":\"float16\",\"shape\":[2],\"data\":[0.3333,\"-Infinity\"]}");
  const double dd[2] = {1e300, -1e-300};
  expect_text(CV_DTYPE_C128, 1, s1, dd, false, "{\"dtype\":\"complex128\",\"shape\":[1],\"data\":[1e300,-1e-300]}");
  LEAK_CHECK();
}

/* ---- strbuf and base64 ---- */

static void test_strbuf(void) {
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 100);
  char big[64];
  memset(big, 'a', sizeof big);
  CV_ASSERT_OK(cv_strbuf_append(&sb, big, 60));
  CV_ASSERT_OK(cv_strbuf_printf(&sb, "%d-%s", 42, "x"));
  CV_ASSERT_EQ(sb.len, 64);
  CV_ASSERT_STREQ(sb.data + 60, "42-x");
  CV_ASSERT_EQ(cv_strbuf_append(&sb, big, 37), -CV_EPAYLOAD_TOO_LARGE);
  CV_ASSERT(sb.data == NULL && sb.len == 0);
  CV_ASSERT_EQ(cv_strbuf_puts(&sb, "x"), -CV_EPAYLOAD_TOO_LARGE);   /* stays failed */
  CV_ASSERT(cv_strbuf_take(&sb, NULL) == NULL);
  cv_strbuf_free(&sb);
  cv_strbuf_free(&sb);

  cv_strbuf_init(&sb, 0);
  CV_ASSERT_OK(cv_strbuf_json_string(&sb, "a\"b\\c\n\x01\x1f/é"));
  CV_ASSERT_STREQ(sb.data, "\"a\\\"b\\\\c\\n\\u0001\\u001f/é\"");
  size_t n;
  char *p = cv_strbuf_take(&sb, &n);
  CV_ASSERT_EQ(n, strlen(p));
  free(p);
  CV_ASSERT(sb.data == NULL);
  cv_strbuf_free(&sb);

  /* a tensor at the cap: the exact bytes fit, one fewer does not */
  float v[1000];
  for (int i = 0; i < 1000; i++) v[i] = 0.1f;
  int64_t shp[1] = {1000};
  cv_array_t a = {.dtype = CV_DTYPE_F32, .ndim = 1, .shape = {1000}, .data = v};
  (void)shp;
  cv_strbuf_init(&sb, 0);
  CV_ASSERT_OK(cv_tensor_to_json_buf(&a, false, &sb));
  const size_t need = sb.len;
  cv_strbuf_free(&sb);
  cv_strbuf_init(&sb, need);
  CV_ASSERT_OK(cv_tensor_to_json_buf(&a, false, &sb));
  CV_ASSERT_EQ(sb.len, need);
  cv_strbuf_free(&sb);
  cv_strbuf_init(&sb, need - 1);
  CV_ASSERT_EQ(cv_tensor_to_json_buf(&a, false, &sb), -CV_EPAYLOAD_TOO_LARGE);
  CV_ASSERT(sb.data == NULL);
  cv_strbuf_free(&sb);
  LEAK_CHECK();
}

static void test_base64(void) {
  static const char *const vec[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                       {"foo", "Zm9v"},   {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
  char enc[64];
  uint8_t dec[64];
  for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
    size_t n = strlen(vec[i][0]), m;
    CV_ASSERT_EQ(cv_b64_encoded_len(n), strlen(vec[i][1]));
    cv_b64_encode(vec[i][0], n, enc);
    CV_ASSERT(!memcmp(enc, vec[i][1], strlen(vec[i][1])));
    CV_ASSERT(cv_b64_decoded_len(vec[i][1], strlen(vec[i][1]), &m) && m == n);
    CV_ASSERT_EQ(cv_b64_decode(vec[i][1], strlen(vec[i][1]), dec), 0);
    CV_ASSERT(!memcmp(dec, vec[i][0], n));
    size_t k = strlen(vec[i][1]);   /* unpadded */
    while (k && vec[i][1][k - 1] == '=') k--;
    CV_ASSERT(cv_b64_decoded_len(vec[i][1], k, &m) && m == n);
    CV_ASSERT_EQ(cv_b64_decode(vec[i][1], k, dec), 0);
    CV_ASSERT(!memcmp(dec, vec[i][0], n));
  }
  static const char *const bad_len[] = {"Z", "Zg=", "Zg===", "Zm9v=", "====", "Z===", "Zm9vY", "=", "Zm9vY==="};
  for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++) {
    size_t m;
    if (cv_b64_decoded_len(bad_len[i], strlen(bad_len[i]), &m)) CV_FAIL_("\"%s\" accepted", bad_len[i]);
    CV_ASSERT(cv_b64_decode(bad_len[i], strlen(bad_len[i]), dec) != 0);
  }
  CV_ASSERT_EQ(cv_b64_decode("Zm=v", 4, dec), 3);   /* '=' inside: position 3 */
  CV_ASSERT_EQ(cv_b64_decode("Zm9vYm_y", 8, dec), 7);
  /* the alphabet, byte by byte */
  static const char ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int c = 0; c < 256; c++) {
    char q[4] = {(char)c, 'A', 'A', 'A'};
    const char *pos = c ? strchr(ALPHA, c) : NULL;
    size_t r = cv_b64_decode(q, 4, dec);
    if (pos) {
      CV_ASSERT_EQ(r, 0);
      CV_ASSERT_EQ(dec[0] >> 2, pos - ALPHA);
    } else {
      CV_ASSERT_EQ(r, 1);
    }
  }
  /* random round trips of every length up to 300 */
  uint8_t src[300], back[300];
  char text[400];
  for (size_t n = 0; n <= 300; n++) {
    for (size_t i = 0; i < n; i++) src[i] = (uint8_t)rnd();
    cv_b64_encode(src, n, text);
    size_t m = 0;
    CV_ASSERT(cv_b64_decoded_len(text, cv_b64_encoded_len(n), &m) && m == n);
    CV_ASSERT_EQ(cv_b64_decode(text, cv_b64_encoded_len(n), back), 0);
    CV_ASSERT(!memcmp(src, back, n));
  }
}

#define CV_TEST_LIST(XX) XX(tensor_roundtrip) XX(tensor_encode_text) XX(strbuf) XX(base64)
CV_TEST_MAIN(CV_TEST_LIST)
