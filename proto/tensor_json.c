/* tensor_json.c — tensor objects <-> tensors: decoding walks a cJSON tree
 * (nested data or base64), encoding writes flat data straight into a
 * cv_strbuf_t with the json_num printers, reserving room a chunk at a time.
 * Any thread. */
#include "tensor_json.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "json_num.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tensor payloads are little-endian; this host is not"
#endif

#define CV_JSON_EXACT_INT 9007199254740992.0   /* 2^53: doubles hold every integer up to here */
#define CV_ENC_CHUNK 4096                      /* elements per buffer reservation */
#define CV_ENC_NUM_MAX (CV_FMT_NUM_MAX + 1)    /* one number and its comma */

/* ---- decoding ---- */

typedef struct fill_s {
  cv_dtype_t dt;
  void *data;
  size_t idx;   /* next leaf */
  char path[CV_ERR_FIELD_MAX];   /* "<field>.data" */
  cv_error_t *err;
} fill_t;

static int leaf_error(fill_t *f, const char *what) {
  return cv_error_set(f->err, CV_EINVALID_ARGUMENT, f->path, "element %zu %s", f->idx, what);
}

static int count_leaves(const cJSON *v, size_t *n, const char *path, cv_error_t *err) {
  if (cJSON_IsArray(v)) {
    for (const cJSON *c = v->child; c; c = c->next) {
      int rc = count_leaves(c, n, path, err);
      if (rc) return rc;
    }
    return 0;
  }
  if (cJSON_IsNumber(v) || cJSON_IsString(v) || cJSON_IsBool(v)) {
    (*n)++;
    return 0;
  }
  return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "element %zu is %s; data holds numbers", *n,
                      cJSON_IsNull(v) ? "null" : "an object");
}

/* A leaf as a double: numbers, and the non-finite strings for float types. */
static int leaf_double(fill_t *f, const cJSON *v, double *out) {
  if (cJSON_IsNumber(v)) {
    *out = v->valuedouble;
    return 0;
  }
  if (cJSON_IsBool(v)) return leaf_error(f, "is a boolean; only bool tensors take true/false");
  const bool real = cv_dtype_is_float(f->dt) || cv_dtype_is_complex(f->dt);
  const char *s = v->valuestring;
  if (real && strcmp(s, "NaN") == 0) *out = NAN;
  else if (real && strcmp(s, "Infinity") == 0) *out = INFINITY;
  else if (real && strcmp(s, "-Infinity") == 0) *out = -INFINITY;
  else if (real) return leaf_error(f, "is a string other than \"NaN\", \"Infinity\", \"-Infinity\"");
  else return leaf_error(f, "is a string; integer and bool tensors take numbers only");
  return 0;
}

static int int_in(fill_t *f, double d, double lo, double hi) {
  if (!(d == trunc(d))) return leaf_error(f, "is not an integer");   /* NaN and inf too */
  if (d < lo || d > hi) return leaf_error(f, "is out of range for the dtype");
  return 0;
}

static int store(fill_t *f, const cJSON *v) {
  const size_t i = f->idx;
  double d = 0;
  int rc;
  if (f->dt == CV_DTYPE_BOOL) {
    if (cJSON_IsBool(v)) {
      ((uint8_t *)f->data)[i] = cJSON_IsTrue(v) ? 1 : 0;
    } else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) {
      ((uint8_t *)f->data)[i] = v->valuedouble == 1;
    } else {
      return leaf_error(f, "is not true, false, 0 or 1");
    }
    f->idx++;
    return 0;
  }
  if ((rc = leaf_double(f, v, &d))) return rc;
  switch (f->dt) {
    case CV_DTYPE_I8:
      if ((rc = int_in(f, d, INT8_MIN, INT8_MAX))) return rc;
      ((int8_t *)f->data)[i] = (int8_t)d;
      break;
    case CV_DTYPE_U8:
      if ((rc = int_in(f, d, 0, UINT8_MAX))) return rc;
      ((uint8_t *)f->data)[i] = (uint8_t)d;
      break;
    case CV_DTYPE_I16:
      if ((rc = int_in(f, d, INT16_MIN, INT16_MAX))) return rc;
      ((int16_t *)f->data)[i] = (int16_t)d;
      break;
    case CV_DTYPE_U16:
      if ((rc = int_in(f, d, 0, UINT16_MAX))) return rc;
      ((uint16_t *)f->data)[i] = (uint16_t)d;
      break;
    case CV_DTYPE_I32:
      if ((rc = int_in(f, d, INT32_MIN, INT32_MAX))) return rc;
      ((int32_t *)f->data)[i] = (int32_t)d;
      break;
    case CV_DTYPE_U32:
      if ((rc = int_in(f, d, 0, UINT32_MAX))) return rc;
      ((uint32_t *)f->data)[i] = (uint32_t)d;
      break;
    case CV_DTYPE_I64:
      if (fabs(d) > CV_JSON_EXACT_INT && d == trunc(d))
        return leaf_error(f, "exceeds 2^53 in magnitude; send such int64 values as data_b64");
      if ((rc = int_in(f, d, -CV_JSON_EXACT_INT, CV_JSON_EXACT_INT))) return rc;
      ((int64_t *)f->data)[i] = (int64_t)d;
      break;
    case CV_DTYPE_U64:
      if (d > CV_JSON_EXACT_INT && d == trunc(d))
        return leaf_error(f, "exceeds 2^53; send such uint64 values as data_b64");
      if ((rc = int_in(f, d, 0, CV_JSON_EXACT_INT))) return rc;
      ((uint64_t *)f->data)[i] = (uint64_t)d;
      break;
    case CV_DTYPE_F16: ((uint16_t *)f->data)[i] = cv_f64_to_f16(d); break;
    case CV_DTYPE_BF16: ((uint16_t *)f->data)[i] = cv_f64_to_bf16(d); break;
    case CV_DTYPE_F32:
    case CV_DTYPE_C64: /* complex: leaf i is re or im. At or past FLT_MAX + half an ulp (where
                        * rounding overflows) → ±inf, as NumPy; the cast itself would be UB there. */
      ((float *)f->data)[i] = fabs(d) >= 0x1.ffffffp127 ? (d > 0 ? INFINITY : -INFINITY) : (float)d;
      break;
    case CV_DTYPE_F64:
    case CV_DTYPE_C128: ((double *)f->data)[i] = d; break;
    case CV_DTYPE_BOOL:
    case CV_DTYPE_COUNT: return leaf_error(f, "has an unknown dtype");
  }
  f->idx++;
  return 0;
}

static int fill(fill_t *f, const cJSON *v) {
  if (!cJSON_IsArray(v)) return store(f, v);
  for (const cJSON *c = v->child; c; c = c->next) {
    int rc = fill(f, c);
    if (rc) return rc;
  }
  return 0;
}

static int parse_shape(const cJSON *s, const char *field, int *ndim, int64_t *shape, cv_error_t *err) {
  char path[CV_ERR_FIELD_MAX];
  snprintf(path, sizeof path, "%s.shape", field);
  if (!cJSON_IsArray(s)) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be a list of sizes");
  int n = cJSON_GetArraySize(s);
  if (n > CV_MAX_DIMS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "rank %d exceeds %d", n, CV_MAX_DIMS);
  int i = 0;
  for (const cJSON *c = s->child; c; c = c->next, i++) {
    snprintf(path, sizeof path, "%s.shape[%d]", field, i);
    if (!cJSON_IsNumber(c)) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be an integer");
    double d = c->valuedouble;
    if (d != trunc(d)) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be an integer");
    if (d < 0) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be >= 0");
    if (d > CV_JSON_EXACT_INT)
      return cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, field, "shape[%d] = %g is too large", i, d);
    shape[i] = (int64_t)d;
  }
  /* a zero dim hides the product from cv_shape_check; bound it anyway, so
   * that no later numel computation overflows */
  uint64_t prod = 1;
  for (int k = 0; k < n; k++)
    if (shape[k] > 0) {
      if ((uint64_t)shape[k] > (uint64_t)INT64_MAX / 16 / prod)
        return cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, field, "shape overflows the address space");
      prod *= (uint64_t)shape[k];
    }
  *ndim = n;
  return 0;
}

static int decode_b64(const cJSON *b, const char *field, cv_dtype_t dt, int ndim, const int64_t *shape,
                      size_t nbytes, size_t max_bytes, cv_tensor_t **out, cv_error_t *err) {
  char path[CV_ERR_FIELD_MAX];
  snprintf(path, sizeof path, "%s.data_b64", field);
  if (!cJSON_IsString(b)) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be a base64 string");
  const char *s = b->valuestring;
  size_t n = strlen(s), got, bad;
  const bool len_ok = cv_b64_decoded_len(s, n, &got);
  if ((!len_ok || got != nbytes) && (bad = cv_b64_find_bad(s, n)))   /* a bad character explains it */
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "is not base64: bad character at position %zu", bad);
  if (!len_ok) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "is not base64: bad length or padding");
  if (got != nbytes)
    return cv_error_set(err, CV_ESHAPE_MISMATCH, path, "decodes to %zu bytes; %s of that shape has %zu",
                        got, cv_dtype_name(dt), nbytes);
  cv_tensor_t *t;
  int rc = cv_tensor_new(&t, dt, ndim, shape, max_bytes, false, err);
  if (rc) return rc;
  if ((bad = cv_b64_decode(s, n, t->a.data))) {
    cv_tensor_unref(t);
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "is not base64: bad character at position %zu", bad);
  }
  if (dt == CV_DTYPE_BOOL) {
    const uint8_t *p = t->a.data;
    for (size_t i = 0; i < nbytes; i++)
      if (p[i] > 1) {
        unsigned v = p[i];
        cv_tensor_unref(t);
        return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "bool byte %zu is %u; must be 0 or 1", i, v);
      }
  }
  *out = t;
  return 0;
}

int cv_tensor_from_json(const cJSON *obj, const char *field, size_t max_bytes, cv_tensor_t **out,
                        cv_error_t *err) {
  char path[CV_ERR_FIELD_MAX];
  *out = NULL;
  if (!cJSON_IsObject(obj))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "must be a tensor object {dtype, shape, data}");
  const cJSON *jd = NULL, *js = NULL, *jdata = NULL, *jb64 = NULL;
  for (const cJSON *c = obj->child; c; c = c->next) {
    const cJSON **slot = strcmp(c->string, "dtype") == 0      ? &jd
                         : strcmp(c->string, "shape") == 0    ? &js
                         : strcmp(c->string, "data") == 0     ? &jdata
                         : strcmp(c->string, "data_b64") == 0 ? &jb64
                                                              : NULL;
    snprintf(path, sizeof path, "%s.%s", field, c->string);
    if (!slot) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "unknown key in a tensor object");
    if (*slot) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "duplicate key");
    *slot = c;
  }
  snprintf(path, sizeof path, "%s.dtype", field);
  if (!jd) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "is required");
  cv_dtype_t dt;
  if (!cJSON_IsString(jd) || cv_dtype_parse(jd->valuestring, &dt))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path,
                        "must be one of bool, int8, uint8, int16, uint16, int32, uint32, int64, "
                        "uint64, float16, bfloat16, float32, float64, complex64, complex128");
  snprintf(path, sizeof path, "%s.shape", field);
  if (!js) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "is required");
  int ndim = 0, rc;
  int64_t shape[CV_MAX_DIMS];
  if ((rc = parse_shape(js, field, &ndim, shape, err))) return rc;
  size_t nbytes;
  if ((rc = cv_shape_check(dt, ndim, shape, max_bytes, &nbytes, field, err))) return rc;
  if (!jdata == !jb64) {
    snprintf(path, sizeof path, "%s.data", field);
    return cv_error_set(err, CV_EINVALID_ARGUMENT, jdata ? field : path,
                        jdata ? "takes data or data_b64, not both" : "is required (or data_b64)");
  }
  if (jb64) return decode_b64(jb64, field, dt, ndim, shape, nbytes, max_bytes, out, err);

  snprintf(path, sizeof path, "%s.data", field);
  size_t leaves = 0;
  if ((rc = count_leaves(jdata, &leaves, path, err))) return rc;
  /* parse_shape bounded the product of the nonzero dims, so this cannot wrap */
  size_t want = cv_dtype_is_complex(dt) ? 2 : 1;
  for (int i = 0; i < ndim; i++) want *= (size_t)shape[i];
  if (leaves != want)
    return cv_error_set(err, CV_ESHAPE_MISMATCH, path, "has %zu numbers; %s of that shape needs %zu",
                        leaves, cv_dtype_name(dt), want);
  cv_tensor_t *t;
  if ((rc = cv_tensor_new(&t, dt, ndim, shape, max_bytes, false, err))) return rc;
  fill_t f = {.dt = dt, .data = t->a.data, .idx = 0, .err = err};
  memcpy(f.path, path, sizeof path);
  if ((rc = fill(&f, jdata))) {
    cv_tensor_unref(t);
    return rc;
  }
  *out = t;
  return 0;
}

/* ---- encoding ---- */

static int put_num(char *p, cv_dtype_t dt, const void *data, size_t i) {
  switch (dt) {
    case CV_DTYPE_BOOL:
      if (((const uint8_t *)data)[i]) {
        memcpy(p, "true", 4);
        return 4;
      }
      memcpy(p, "false", 5);
      return 5;
    case CV_DTYPE_I8: return cv_fmt_i64(((const int8_t *)data)[i], p);
    case CV_DTYPE_U8: return cv_fmt_u64(((const uint8_t *)data)[i], p);
    case CV_DTYPE_I16: return cv_fmt_i64(((const int16_t *)data)[i], p);
    case CV_DTYPE_U16: return cv_fmt_u64(((const uint16_t *)data)[i], p);
    case CV_DTYPE_I32: return cv_fmt_i64(((const int32_t *)data)[i], p);
    case CV_DTYPE_U32: return cv_fmt_u64(((const uint32_t *)data)[i], p);
    case CV_DTYPE_I64: return cv_fmt_i64(((const int64_t *)data)[i], p);
    case CV_DTYPE_U64: return cv_fmt_u64(((const uint64_t *)data)[i], p);
    case CV_DTYPE_F16: return cv_fmt_f16(((const uint16_t *)data)[i], p);
    case CV_DTYPE_BF16: return cv_fmt_bf16(((const uint16_t *)data)[i], p);
    case CV_DTYPE_F32:
    case CV_DTYPE_C64: return cv_fmt_f32(((const float *)data)[i], p);
    case CV_DTYPE_F64:
    case CV_DTYPE_C128: return cv_fmt_f64(((const double *)data)[i], p);
    case CV_DTYPE_COUNT: break;
  }
  memcpy(p, "null", 4);
  return 4;
}

/* Writes leaves [i, j) with their commas into room already reserved. */
static size_t put_run(char *out, cv_dtype_t dt, const void *data, size_t i, size_t j) {
  char *p = out;
  /* the common dtypes get their own loops: no per-element switch */
  if (dt == CV_DTYPE_F32 || dt == CV_DTYPE_C64) {
    const float *x = data;
    for (size_t k = i; k < j; k++) {
      if (k) *p++ = ',';
      p += cv_fmt_f32(x[k], p);
    }
  } else if (dt == CV_DTYPE_F64 || dt == CV_DTYPE_C128) {
    const double *x = data;
    for (size_t k = i; k < j; k++) {
      if (k) *p++ = ',';
      p += cv_fmt_f64(x[k], p);
    }
  } else {
    for (size_t k = i; k < j; k++) {
      if (k) *p++ = ',';
      p += put_num(p, dt, data, k);
    }
  }
  return (size_t)(p - out);
}

int cv_tensor_data_json(const cv_array_t *a, bool b64, cv_strbuf_t *sb) {
  const size_t numel = (size_t)cv_shape_numel(a->shape, a->ndim);
  int rc;
  if (b64) {
    const size_t nbytes = numel * cv_dtype_size(a->dtype), n = cv_b64_encoded_len(nbytes);
    if ((rc = cv_strbuf_reserve(sb, n + 2))) return rc;
    char *p = cv_strbuf_tail(sb);
    p[0] = '"';
    cv_b64_encode(a->data, nbytes, p + 1);
    p[n + 1] = '"';
    cv_strbuf_commit(sb, n + 2);
    return 0;
  }
  const size_t leaves = numel * (cv_dtype_is_complex(a->dtype) ? 2 : 1);
  if ((rc = cv_strbuf_putc(sb, '['))) return rc;
  for (size_t i = 0; i < leaves; i += CV_ENC_CHUNK) {
    const size_t j = leaves - i < CV_ENC_CHUNK ? leaves : i + CV_ENC_CHUNK;
    const size_t room = (j - i) * CV_ENC_NUM_MAX;
    if (sb->max && sb->len + room > sb->max) {   /* near the cap: exact, one at a time */
      char tmp[CV_ENC_NUM_MAX + 1];
      for (size_t k = i; k < j; k++) {
        size_t n = put_run(tmp, a->dtype, a->data, k, k + 1);
        if ((rc = cv_strbuf_append(sb, tmp, n))) return rc;
      }
      continue;
    }
    if ((rc = cv_strbuf_reserve(sb, room))) return rc;
    cv_strbuf_commit(sb, put_run(cv_strbuf_tail(sb), a->dtype, a->data, i, j));
  }
  return cv_strbuf_putc(sb, ']');
}

int cv_tensor_to_json_buf(const cv_array_t *a, bool b64, cv_strbuf_t *sb) {
  char num[CV_FMT_NUM_MAX];
  int rc = cv_strbuf_puts(sb, "{\"dtype\":\"");
  if (!rc) rc = cv_strbuf_puts(sb, cv_dtype_name(a->dtype));
  if (!rc) rc = cv_strbuf_puts(sb, "\",\"shape\":[");
  for (int i = 0; i < a->ndim && !rc; i++) {
    if (i) rc = cv_strbuf_putc(sb, ',');
    if (!rc) rc = cv_strbuf_append(sb, num, (size_t)cv_fmt_i64(a->shape[i], num));
  }
  if (!rc) rc = cv_strbuf_puts(sb, b64 ? "],\"data_b64\":" : "],\"data\":");
  if (!rc) rc = cv_tensor_data_json(a, b64, sb);
  if (!rc) rc = cv_strbuf_putc(sb, '}');
  return rc;
}
