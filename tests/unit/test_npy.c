/* test_npy.c — the .npy/.npz codecs: tables of valid and invalid headers
 * (expected dtype/shape or error code per row), big-endian and Fortran
 * conversion, header building, save→load/map round trips, npz stored and
 * deflated (many members, zip64, offset start), truncated and corrupt archives,
 * and write errors (/dev/full). Temp files live under a mkdtemp folder. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/npz.h"
#include "runner.h"

/* ---- helpers ---- */

/* Builds an .npy in buf: magic, version major.0, dict padded to 64 with '\n'. */
static size_t make_npy(unsigned char *buf, size_t cap, int major, const char *dict, const void *data,
                       size_t dlen) {
  size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
  size_t total = (pre + dl + 1 + 63) / 64 * 64;
  CV_ASSERT(total + dlen <= cap);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  size_t hl = total - pre;
  for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(hl >> (8 * i));
  memcpy(buf + pre, dict, dl);
  memset(buf + pre + dl, ' ', total - pre - dl - 1);
  buf[total - 1] = '\n';
  if (dlen) memcpy(buf + total, data, dlen);
  return total + dlen;
}

static char *make_tmpdir(void) {
  static char dir[64];
  snprintf(dir, sizeof dir, "/tmp/cv_npy_XXXXXX");
  CV_ASSERT(mkdtemp(dir) != NULL);
  return dir;
}

/* Removes dir's files and dir; returns how many files there were. */
static int rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  CV_ASSERT(d != NULL);
  struct dirent *e;
  int n = 0;
  char p[512];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
      n++;
    }
  closedir(d);
  rmdir(dir);
  return n;
}

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  if (d) closedir(d);
  return n;
}

/* A deterministic array of dtype dt and shape; data malloc'd. */
static cv_array_t make_array(cv_dtype_t dt, int ndim, const int64_t *shape, unsigned seed) {
  cv_array_t a = {.dtype = dt, .ndim = ndim};
  for (int i = 0; i < ndim; i++) a.shape[i] = shape[i];
  size_t n = cv_array_nbytes(&a);
  unsigned char *p = malloc(n ? n : 1);
  CV_ASSERT(p != NULL);
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((i * 131u + seed * 7u) >> 1);
  if (dt == CV_DTYPE_BOOL)
    for (size_t i = 0; i < n; i++) p[i] &= 1;
  a.data = p;
  return a;
}

static void assert_same(const cv_array_t *a, const cv_tensor_t *t) {
  CV_ASSERT_EQ(t->a.dtype, a->dtype);
  CV_ASSERT_EQ(t->a.ndim, a->ndim);
  for (int i = 0; i < a->ndim; i++) CV_ASSERT_EQ(t->a.shape[i], a->shape[i]);
  CV_ASSERT_EQ(t->nbytes, cv_array_nbytes(a));
  CV_ASSERT(t->nbytes == 0 || memcmp(t->a.data, a->data, t->nbytes) == 0);
}

/* ---- header tables ---- */

typedef struct {
  int major;
  const char *dict;
  cv_dtype_t dt;
  int ndim;
  int64_t shape[3];
  bool fortran, swap;
} valid_row_t;

static const valid_row_t valid_rows[] = {
    {1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_BOOL, 1, {3}, 0, 0},
    {1, "{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_I8, 1, {3}, 0, 0},
    {1, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_U8, 1, {3}, 0, 0},
    {1, "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_I16, 1, {3}, 0, 0},
    {1, "{'descr': '<u2', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_U16, 1, {3}, 0, 0},
    {1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_I32, 1, {3}, 0, 0},
    {1, "{'descr': '<u4', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_U32, 1, {3}, 0, 0},
    {1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_I64, 1, {3}, 0, 0},
    {1, "{'descr': '<u8', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_U64, 1, {3}, 0, 0},
    {1, "{'descr': '<f2', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_F16, 1, {3}, 0, 0},
    {1, "{'descr': '<V2', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_BF16, 1, {3}, 0, 0},
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", CV_DTYPE_F32, 2, {3, 4}, 0, 0},
    {1, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 4), }", CV_DTYPE_F64, 2, {3, 4}, 1, 0},
    {1, "{'descr': '<c8', 'fortran_order': False, 'shape': (), }", CV_DTYPE_C64, 0, {0}, 0, 0},
    {1, "{'descr': '<c16', 'fortran_order': False, 'shape': (0, 5), }", CV_DTYPE_C128, 2, {0, 5}, 0, 0},
    {1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", CV_DTYPE_F64, 1, {2}, 0, 1},
    {1, "{'descr': '>V2', 'fortran_order': False, 'shape': (2,), }", CV_DTYPE_BF16, 1, {2}, 0, 1},
    {1, "{'descr': '>u1', 'fortran_order': False, 'shape': (2,), }", CV_DTYPE_U8, 1, {2}, 0, 0},
    {1, "{'descr': '|V2', 'fortran_order': False, 'shape': (2,), }", CV_DTYPE_BF16, 1, {2}, 0, 0},
    {1, "{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }", CV_DTYPE_F32, 1, {2}, 0, 0},
    {1, "{'descr': 'f4', 'fortran_order': False, 'shape': (2,), }", CV_DTYPE_F32, 1, {2}, 0, 0},
    {1, "{'shape': (2, 3, 4), 'fortran_order': True, 'descr': '<i4'}", CV_DTYPE_I32, 3, {2, 3, 4}, 1, 0},
    {1, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (7,)}", CV_DTYPE_F32, 1, {7}, 0, 0},
    {1, "{ 'descr' :'<f4' ,\n'fortran_order':False,'shape':( 7 , 2 , ) , }", CV_DTYPE_F32, 2, {7, 2}, 0, 0},
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5L, 2L), }", CV_DTYPE_F32, 2, {5, 2}, 0, 0},
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': [5, 2], }", CV_DTYPE_F32, 2, {5, 2}, 0, 0},
    {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", CV_DTYPE_F32, 1, {3}, 0, 0},
    {3, "{'descr': '<u2', 'fortran_order': False, 'shape': (1, 0, 2), }", CV_DTYPE_U16, 3, {1, 0, 2}, 0, 0},
};

static void test_valid_headers(void) {
  unsigned char buf[512];
  for (size_t r = 0; r < sizeof valid_rows / sizeof valid_rows[0]; r++) {
    const valid_row_t *v = &valid_rows[r];
    size_t len = make_npy(buf, sizeof buf, v->major, v->dict, NULL, 0);
    cv_npy_info_t info;
    cv_error_t err;
    int rc = cv_npy_parse_header(buf, len, 0, &info, &err);
    if (rc) CV_FAIL_("row %zu: %s: %s", r, v->dict, err.message);
    if (info.dtype != v->dt || info.ndim != v->ndim || info.fortran_order != v->fortran ||
        info.swap != v->swap || info.header_len != len || info.version != v->major)
      CV_FAIL_("row %zu: %s parsed as dtype %d ndim %d fortran %d swap %d", r, v->dict, info.dtype,
               info.ndim, info.fortran_order, info.swap);
    for (int i = 0; i < v->ndim; i++) CV_ASSERT_EQ(info.shape[i], v->shape[i]);
    CV_ASSERT_EQ(info.data_len, (size_t)cv_shape_numel(info.shape, info.ndim) * cv_dtype_size(info.dtype));
  }
}

typedef struct {
  const char *what;
  int major;          /* 0: raw bytes given in dict (with explicit length) */
  const char *dict;
  size_t max_bytes;
  cv_err_t code;
} invalid_row_t;

#define D(descr, order, shape) "{'descr': " descr ", 'fortran_order': " order ", 'shape': " shape ", }"
static const invalid_row_t invalid_rows[] = {
    {"not a dict", 1, "['descr', '<f4']", 0, CV_EINVALID_ARGUMENT},
    {"empty dict", 1, "{}", 0, CV_EINVALID_ARGUMENT},
    {"missing shape", 1, "{'descr': '<f4', 'fortran_order': False}", 0, CV_EINVALID_ARGUMENT},
    {"missing descr", 1, "{'fortran_order': False, 'shape': (3,)}", 0, CV_EINVALID_ARGUMENT},
    {"missing order", 1, "{'descr': '<f4', 'shape': (3,)}", 0, CV_EINVALID_ARGUMENT},
    {"unknown key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}", 0, CV_EINVALID_ARGUMENT},
    {"duplicate key", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", 0, CV_EINVALID_ARGUMENT},
    {"unquoted key", 1, "{descr: '<f4', 'fortran_order': False, 'shape': (3,)}", 0, CV_EINVALID_ARGUMENT},
    {"no colon", 1, "{'descr' '<f4', 'fortran_order': False, 'shape': (3,)}", 0, CV_EINVALID_ARGUMENT},
    {"unterminated string", 1, "{'descr': '<f4, 'fortran_order': False, 'shape': (3,)}", 0, CV_EINVALID_ARGUMENT},
    {"unclosed dict", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)", 0, CV_EINVALID_ARGUMENT},
    {"text after dict", 1, D("'<f4'", "False", "(3,)") " x", 0, CV_EINVALID_ARGUMENT},
    {"order not bool", 1, D("'<f4'", "0", "(3,)"), 0, CV_EINVALID_ARGUMENT},
    {"order Truey", 1, D("'<f4'", "Truey", "(3,)"), 0, CV_EINVALID_ARGUMENT},
    {"shape not tuple", 1, D("'<f4'", "False", "3"), 0, CV_EINVALID_ARGUMENT},
    {"shape string", 1, D("'<f4'", "False", "(3, 'a')"), 0, CV_EINVALID_ARGUMENT},
    {"shape float", 1, D("'<f4'", "False", "(3.5,)"), 0, CV_EINVALID_ARGUMENT},
    {"shape unclosed", 1, D("'<f4'", "False", "(3, 4"), 0, CV_EINVALID_ARGUMENT},
    {"negative dim", 1, D("'<f4'", "False", "(-1, 3)"), 0, CV_EINVALID_ARGUMENT},
    {"dim over int64", 1, D("'<f4'", "False", "(99999999999999999999,)"), 0, CV_EINVALID_ARGUMENT},
    {"rank 9", 1, D("'<f4'", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 0, CV_EINVALID_ARGUMENT},
    {"huge", 1, D("'<f8'", "False", "(1099511627776, 1099511627776)"), 0, CV_EPAYLOAD_TOO_LARGE},
    {"over max_bytes", 1, D("'<f8'", "False", "(1000,)"), 7999, CV_EPAYLOAD_TOO_LARGE},
    {"object", 1, D("'|O'", "False", "(3,)"), 0, CV_EUNSUPPORTED_DTYPE},
    {"unicode", 1, D("'<U5'", "False", "(3,)"), 0, CV_EUNSUPPORTED_DTYPE},
    {"bytes", 1, D("'|S3'", "False", "(3,)"), 0, CV_EUNSUPPORTED_DTYPE},
    {"longdouble", 1, D("'<f16'", "False", "(3,)"), 0, CV_EUNSUPPORTED_DTYPE},
    {"datetime", 1, D("'<M8[ns]'", "False", "(3,)"), 0, CV_EUNSUPPORTED_DTYPE},
    {"void 3", 1, D("'|V3'", "False", "(3,)"), 0, CV_EUNSUPPORTED_DTYPE},
    {"descr garbage", 1, D("'xyz'", "False", "(3,)"), 0, CV_EUNSUPPORTED_DTYPE},
    {"structured", 1, D("[('a', '<f4'), ('b', '<i4')]", "False", "(3,)"), 0, CV_EUNSUPPORTED_DTYPE},
    {"descr not string", 1, D("5", "False", "(3,)"), 0, CV_EINVALID_ARGUMENT},
    {"bad magic", 0, "\x93NUMPZ\x01\x00\x10\x00{}", 0, CV_EINVALID_ARGUMENT},
    {"version 4.0", 0, "\x93NUMPY\x04\x00\x10\x00{}", 0, CV_EINVALID_ARGUMENT},
    {"version 1.1", 0, "\x93NUMPY\x01\x01\x10\x00{}", 0, CV_EINVALID_ARGUMENT},
    {"truncated prefix", 0, "\x93NUM", 0, CV_EINVALID_ARGUMENT},
    {"truncated dict", 0, "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', ", 0, CV_EINVALID_ARGUMENT},
    {"v2 length over cap", 0, "\x93NUMPY\x02\x00\x00\x00\x00\x7f{", 0, CV_EINVALID_ARGUMENT},
    {"empty", 0, "", 0, CV_EINVALID_ARGUMENT},
};
#undef D

static void test_invalid_headers(void) {
  unsigned char buf[512];
  for (size_t r = 0; r < sizeof invalid_rows / sizeof invalid_rows[0]; r++) {
    const invalid_row_t *v = &invalid_rows[r];
    size_t len;
    if (v->major) {
      len = make_npy(buf, sizeof buf, v->major, v->dict, NULL, 0);
    } else {
      len = strlen(v->dict);
      memcpy(buf, v->dict, len);
    }
    cv_npy_info_t info;
    cv_error_t err;
    cv_error_clear(&err);
    int rc = cv_npy_parse_header(buf, len, v->max_bytes, &info, &err);
    if (rc != -(int)v->code || err.code != v->code || !err.message[0])
      CV_FAIL_("row %zu (%s): rc %d (%s: %s), want %s", r, v->what, rc, cv_err_name(err.code),
               err.message, cv_err_name(v->code));
    cv_tensor_t *t = NULL;   /* decode agrees, and allocates nothing */
    CV_ASSERT_EQ(cv_npy_decode(buf, len, v->max_bytes, &t, &err), -(int)v->code);
    CV_ASSERT(t == NULL);
  }
}

static void test_data_length(void) {
  unsigned char buf[512];
  float vals[6] = {1, 2, 3, 4, 5, 6};
  const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  size_t len = make_npy(buf, sizeof buf, 1, dict, vals, sizeof vals);
  cv_tensor_t *t = NULL;
  cv_error_t err;
  CV_ASSERT_OK(cv_npy_decode(buf, len, 0, &t, &err));
  CV_ASSERT(memcmp(t->a.data, vals, sizeof vals) == 0);
  CV_ASSERT(((uintptr_t)t->a.data % CV_TENSOR_ALIGN) == 0);
  cv_tensor_unref(t);
  CV_ASSERT_EQ(cv_npy_decode(buf, len - 1, 0, &t, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT(strstr(err.message, "truncated") != NULL);
  CV_ASSERT_EQ(cv_npy_decode(buf, len - sizeof vals, 0, &t, &err), -CV_EINVALID_ARGUMENT);
  buf[len] = 0;
  CV_ASSERT_EQ(cv_npy_decode(buf, len + 1, 0, &t, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_npy_decode(buf, len, 23, &t, &err), -CV_EPAYLOAD_TOO_LARGE);
  CV_ASSERT_OK(cv_npy_decode(buf, len, 24, &t, &err));
  cv_tensor_unref(t);
}

/* ---- conversions ---- */

static void test_big_endian(void) {
  unsigned char buf[512], be[64];
  cv_tensor_t *t;
  cv_error_t err;
  double d[2] = {1.5, -2.25};   /* >f8 */
  for (int i = 0; i < 2; i++)
    for (int b = 0; b < 8; b++) be[i * 8 + b] = ((unsigned char *)&d[i])[7 - b];
  size_t len = make_npy(buf, sizeof buf, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", be, 16);
  CV_ASSERT_OK(cv_npy_decode(buf, len, 0, &t, &err));
  CV_ASSERT_EQ(t->a.dtype, CV_DTYPE_F64);
  CV_ASSERT(((double *)t->a.data)[0] == 1.5 && ((double *)t->a.data)[1] == -2.25);
  cv_tensor_unref(t);
  float c[2] = {3.0f, -0.5f};   /* >c8: one element, each part swapped on its own */
  for (int i = 0; i < 2; i++)
    for (int b = 0; b < 4; b++) be[i * 4 + b] = ((unsigned char *)&c[i])[3 - b];
  len = make_npy(buf, sizeof buf, 1, "{'descr': '>c8', 'fortran_order': False, 'shape': (), }", be, 8);
  CV_ASSERT_OK(cv_npy_decode(buf, len, 0, &t, &err));
  CV_ASSERT(((float *)t->a.data)[0] == 3.0f && ((float *)t->a.data)[1] == -0.5f);
  cv_tensor_unref(t);
  unsigned char i2[4] = {0x01, 0x02, 0xff, 0xfe};   /* >i2: 258, -2 */
  len = make_npy(buf, sizeof buf, 1, "{'descr': '>i2', 'fortran_order': False, 'shape': (2,), }", i2, 4);
  CV_ASSERT_OK(cv_npy_decode(buf, len, 0, &t, &err));
  CV_ASSERT(((int16_t *)t->a.data)[0] == 258 && ((int16_t *)t->a.data)[1] == -2);
  cv_tensor_unref(t);
  unsigned char bf[2] = {0x3f, 0xc0};   /* >V2 bfloat16 1.5 */
  len = make_npy(buf, sizeof buf, 1, "{'descr': '>V2', 'fortran_order': False, 'shape': (1,), }", bf, 2);
  CV_ASSERT_OK(cv_npy_decode(buf, len, 0, &t, &err));
  CV_ASSERT(cv_bf16_to_f32(((uint16_t *)t->a.data)[0]) == 1.5f);
  cv_tensor_unref(t);
}

static void test_fortran_order(void) {
  unsigned char buf[1024];
  int32_t f[24], be[24];
  /* x[i][j][k] = 100i + 10j + k stored column-major: offset i + 2j + 6k */
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 4; k++) f[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
  for (int n = 0; n < 24; n++) be[n] = (int32_t)__builtin_bswap32((uint32_t)f[n]);
  const char *dicts[2] = {"{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }",
                          "{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3, 4), }"};
  for (int v = 0; v < 2; v++) {
    size_t len = make_npy(buf, sizeof buf, 1, dicts[v], v ? be : f, sizeof f);
    cv_tensor_t *t;
    cv_error_t err;
    CV_ASSERT_OK(cv_npy_decode(buf, len, 0, &t, &err));
    const int32_t *x = t->a.data;
    for (int n = 0; n < 24; n++) CV_ASSERT_EQ(x[n], 100 * (n / 12) + 10 * (n / 4 % 3) + n % 4);
    cv_tensor_unref(t);
  }
  uint8_t row[5] = {1, 2, 3, 4, 5};   /* (1, 5) Fortran: the same bytes as C order */
  size_t len = make_npy(buf, sizeof buf, 1, "{'descr': '|u1', 'fortran_order': True, 'shape': (1, 5), }", row, 5);
  cv_tensor_t *t;
  cv_error_t err;
  CV_ASSERT_OK(cv_npy_decode(buf, len, 0, &t, &err));
  CV_ASSERT(memcmp(t->a.data, row, 5) == 0);
  cv_tensor_unref(t);
}

static void test_header_build(void) {
  static const int64_t shapes[][3] = {{0}, {7}, {3, 4}, {2, 0, 5}};
  static const int ndims[] = {0, 1, 2, 3};
  char hdr[4096];
  for (int dt = 0; dt < CV_DTYPE_COUNT; dt++)
    for (int s = 0; s < 4; s++) {
      cv_array_t a = {.dtype = (cv_dtype_t)dt, .ndim = ndims[s]};
      memcpy(a.shape, shapes[s], sizeof shapes[s]);
      size_t hl = cv_npy_header(&a, hdr, sizeof hdr);
      CV_ASSERT(hl > 0 && hl % 64 == 0 && hdr[hl - 1] == '\n' && hdr[6] == 1);
      cv_npy_info_t info;
      cv_error_t err;
      CV_ASSERT_OK(cv_npy_parse_header(hdr, hl, 0, &info, &err));
      CV_ASSERT(info.dtype == a.dtype && info.ndim == a.ndim && !info.fortran_order && info.header_len == hl);
      for (int i = 0; i < a.ndim; i++) CV_ASSERT_EQ(info.shape[i], a.shape[i]);
      CV_ASSERT_EQ(cv_npy_header(&a, hdr, hl - 1), 0);
    }
  cv_array_t one = {.dtype = CV_DTYPE_F32, .ndim = 1, .shape = {3}};
  size_t hl = cv_npy_header(&one, hdr, sizeof hdr);
  CV_ASSERT(memmem(hdr, hl, "'shape': (3,), }", 16) != NULL);   /* a 1-tuple, as Python writes it */
  cv_array_t bad = {.dtype = CV_DTYPE_F32, .ndim = 1, .shape = {-1}};
  CV_ASSERT_EQ(cv_npy_header(&bad, hdr, sizeof hdr), 0);
}

/* ---- files ---- */

static void test_npy_files(void) {
  char *dir = make_tmpdir(), path[256];
  snprintf(path, sizeof path, "%s/a.npy", dir);
  static const int64_t shapes[][3] = {{0}, {5}, {3, 7}, {2, 0, 3}};
  static const int ndims[] = {0, 1, 2, 3};
  cv_error_t err;
  for (int dt = 0; dt < CV_DTYPE_COUNT; dt++)
    for (int s = 0; s < 4; s++) {
      cv_array_t a = make_array((cv_dtype_t)dt, ndims[s], shapes[s], (unsigned)(dt * 4 + s));
      CV_ASSERT_OK(cv_npy_save(path, &a, &err));
      CV_ASSERT_EQ(count_files(dir), 1);   /* no temp file left */
      cv_tensor_t *t;
      CV_ASSERT_OK(cv_npy_load(path, 0, &t, &err));
      assert_same(&a, t);
      cv_tensor_unref(t);
      CV_ASSERT_OK(cv_npy_map(path, 0, &t, &err));
      assert_same(&a, t);
      CV_ASSERT(t->owner != NULL);   /* mapped, not read */
      CV_ASSERT(((uintptr_t)t->a.data % cv_dtype_size(a.dtype)) == 0);
      if (t->nbytes) ((unsigned char *)t->a.data)[0] ^= 1;   /* private: the file keeps its bytes */
      cv_tensor_unref(t);
      CV_ASSERT_OK(cv_npy_load(path, 0, &t, &err));
      assert_same(&a, t);
      cv_tensor_unref(t);
      free(a.data);
    }
  /* over the cap: checked from the header */
  int64_t shp[1] = {100};
  cv_array_t a = make_array(CV_DTYPE_F64, 1, shp, 1);
  CV_ASSERT_OK(cv_npy_save(path, &a, &err));
  cv_tensor_t *t = NULL;
  CV_ASSERT_EQ(cv_npy_load(path, 799, &t, &err), -CV_EPAYLOAD_TOO_LARGE);
  CV_ASSERT_EQ(cv_npy_map(path, 799, &t, &err), -CV_EPAYLOAD_TOO_LARGE);
  /* truncated file */
  CV_ASSERT_EQ(truncate(path, 64 + 799), 0);
  CV_ASSERT_EQ(cv_npy_load(path, 0, &t, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(cv_npy_map(path, 0, &t, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(truncate(path, 20), 0);
  CV_ASSERT_EQ(cv_npy_load(path, 0, &t, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT(t == NULL);
  /* missing, a folder, a missing folder for save */
  char missing[300];
  snprintf(missing, sizeof missing, "%s/nope.npy", dir);
  CV_ASSERT_EQ(cv_npy_load(missing, 0, &t, &err), -CV_ENOT_FOUND);
  CV_ASSERT_EQ(cv_npy_map(missing, 0, &t, &err), -CV_ENOT_FOUND);
  CV_ASSERT_EQ(cv_npy_load(dir, 0, &t, &err), -CV_EINVALID_ARGUMENT);
  snprintf(missing, sizeof missing, "%s/no/dir.npy", dir);
  CV_ASSERT_EQ(cv_npy_save(missing, &a, &err), -CV_ENOT_FOUND);
  CV_ASSERT_EQ(count_files(dir), 1);
  free(a.data);
  CV_ASSERT_EQ(rm_dir(dir), 1);
}

static void test_write_errors(void) {
  int fd = open("/dev/full", O_WRONLY);
  if (fd < 0) CV_SKIP("no /dev/full");
  int64_t shp[1] = {1000};
  cv_array_t a = make_array(CV_DTYPE_F32, 1, shp, 3);
  cv_error_t err;
  CV_ASSERT_EQ(cv_npy_write_fd(fd, &a, &err), -CV_EINSUFFICIENT_STORAGE);
  for (int defl = 0; defl < 2; defl++) {
    cv_npz_writer_t w;
    CV_ASSERT_OK(cv_npz_writer_open(&w, fd, defl, &err));
    CV_ASSERT_EQ(cv_npz_writer_add(&w, "x", &a, &err), -CV_EINSUFFICIENT_STORAGE);
    CV_ASSERT_EQ(cv_npz_writer_add(&w, "y", &a, &err), -CV_EINTERNAL);   /* failed writer */
    CV_ASSERT_EQ(cv_npz_writer_finish(&w, &err), -CV_EINTERNAL);
    cv_npz_writer_close(&w);
    cv_npz_writer_close(&w);
  }
  close(fd);
  free(a.data);
}

/* ---- npz ---- */

#define NPZ_N 6
static void make_ios(cv_io_t *io) {
  static const struct { const char *name; cv_dtype_t dt; int ndim; int64_t shape[3]; } rows[NPZ_N] = {
      {"a", CV_DTYPE_F32, 3, {4, 5, 6}}, {"d1_ddd", CV_DTYPE_C128, 2, {3, 2}},
      {"x", CV_DTYPE_BF16, 1, {9}},       {"scalar", CV_DTYPE_I64, 0, {0}},
      {"empty", CV_DTYPE_F64, 2, {0, 4}}, {"big", CV_DTYPE_U8, 1, {3 << 20}},
  };
  for (int i = 0; i < NPZ_N; i++) {
    snprintf(io[i].name, sizeof io[i].name, "%s", rows[i].name);
    io[i].a = make_array(rows[i].dt, rows[i].ndim, rows[i].shape, (unsigned)i);
  }
}

static void check_npz(const char *path, const cv_io_t *io, int n) {
  cv_named_tensor_t *arr;
  int got;
  cv_error_t err;
  int rc = cv_npz_load(path, 0, &arr, &got, &err);
  if (rc) CV_FAIL_("cv_npz_load: %s", err.message);
  CV_ASSERT_EQ(got, n);
  for (int i = 0; i < n; i++) {
    CV_ASSERT_STREQ(arr[i].name, io[i].name);
    assert_same(&io[i].a, arr[i].t);
  }
  cv_named_tensors_free(arr, got);
}

static void test_npz_round_trip(void) {
  char *dir = make_tmpdir(), path[256];
  cv_io_t io[NPZ_N];
  make_ios(io);
  cv_error_t err;
  for (int defl = 0; defl < 2; defl++) {
    snprintf(path, sizeof path, "%s/out%d.npz", dir, defl);
    CV_ASSERT_OK(cv_npz_save(path, io, NPZ_N, defl, &err));
    check_npz(path, io, NPZ_N);
    cv_named_tensor_t *arr = NULL;
    int n = -1;
    CV_ASSERT_EQ(cv_npz_load(path, (3 << 20) + 100, &arr, &n, &err), -CV_EPAYLOAD_TOO_LARGE);
    CV_ASSERT(arr == NULL && n == 0);
    /* zip64 records everywhere, and an archive that starts after 100 bytes */
    int fd = open(path, O_WRONLY | O_TRUNC);
    CV_ASSERT(fd >= 0);
    static const char junk[100];
    CV_ASSERT_EQ(write(fd, junk, sizeof junk), 100);
    cv_npz_writer_t w;
    CV_ASSERT_OK(cv_npz_writer_open(&w, fd, defl, &err));
    w.force_zip64 = true;
    for (int i = 0; i < NPZ_N; i++) CV_ASSERT_OK(cv_npz_writer_add(&w, io[i].name, &io[i].a, &err));
    CV_ASSERT_EQ(cv_npz_writer_add(&w, "x", &io[0].a, &err), -CV_EINVALID_ARGUMENT);   /* duplicate */
    CV_ASSERT_EQ(cv_npz_writer_add(&w, "a/b", &io[0].a, &err), -CV_EINVALID_ARGUMENT);
    CV_ASSERT_EQ(cv_npz_writer_add(&w, "", &io[0].a, &err), -CV_EINVALID_ARGUMENT);
    CV_ASSERT_OK(cv_npz_writer_finish(&w, &err));
    CV_ASSERT_EQ(cv_npz_writer_finish(&w, &err), -CV_EINTERNAL);
    cv_npz_writer_close(&w);
    close(fd);
    check_npz(path, io, NPZ_N);
  }
  /* an empty archive, and a failed save leaves nothing */
  snprintf(path, sizeof path, "%s/empty.npz", dir);
  CV_ASSERT_OK(cv_npz_save(path, io, 0, false, &err));
  check_npz(path, io, 0);
  snprintf(path, sizeof path, "%s/dup.npz", dir);
  cv_io_t dup[2] = {io[0], io[0]};
  CV_ASSERT_EQ(cv_npz_save(path, dup, 2, true, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_EQ(count_files(dir), 3);
  for (int i = 0; i < NPZ_N; i++) free(io[i].a.data);
  CV_ASSERT_EQ(rm_dir(dir), 3);
}

static void test_npz_many_members(void) {
  enum { N = 300 };
  char *dir = make_tmpdir(), path[256];
  static cv_io_t io[N];
  for (int i = 0; i < N; i++) {
    snprintf(io[i].name, sizeof io[i].name, "d%d_dd", i);
    int64_t shp[2] = {i % 7, 3};
    io[i].a = make_array(i % 2 ? CV_DTYPE_F64 : CV_DTYPE_I16, 2, shp, (unsigned)i);
  }
  cv_error_t err;
  for (int defl = 0; defl < 2; defl++) {
    snprintf(path, sizeof path, "%s/many%d.npz", dir, defl);
    CV_ASSERT_OK(cv_npz_save(path, io, N, defl, &err));
    check_npz(path, io, N);
  }
  for (int i = 0; i < N; i++) free(io[i].a.data);
  CV_ASSERT_EQ(rm_dir(dir), 2);
}

static void test_npz_damaged(void) {
  char *dir = make_tmpdir(), path[256], cut[256];
  cv_io_t io[3];
  int64_t shp[2] = {40, 50};
  for (int i = 0; i < 3; i++) {
    snprintf(io[i].name, sizeof io[i].name, "m%d", i);
    io[i].a = make_array(CV_DTYPE_F32, 2, shp, (unsigned)i);
  }
  cv_error_t err;
  snprintf(cut, sizeof cut, "%s/cut.npz", dir);
  for (int defl = 0; defl < 2; defl++) {
    snprintf(path, sizeof path, "%s/src%d.npz", dir, defl);
    CV_ASSERT_OK(cv_npz_save(path, io, 3, defl, &err));
    int fd = open(path, O_RDONLY);
    off_t size = lseek(fd, 0, SEEK_END);
    unsigned char *b = malloc((size_t)size);
    CV_ASSERT_EQ(pread(fd, b, (size_t)size, 0), size);
    close(fd);
    /* every truncation fails cleanly */
    for (off_t len = 0; len < size; len += len < 200 || size - len < 400 ? 1 : 97) {
      fd = open(cut, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      CV_ASSERT_EQ(write(fd, b, (size_t)len), len);
      close(fd);
      cv_named_tensor_t *arr = NULL;
      int n = 0;
      int rc = cv_npz_load(cut, 0, &arr, &n, &err);
      if (rc == 0) CV_FAIL_("deflate %d: a %lld-byte cut of %lld loaded", defl, (long long)len, (long long)size);
      CV_ASSERT(arr == NULL && n == 0 && err.message[0]);
    }
    /* a flipped byte in m1's data: stored → CRC mismatch; deflated → corrupt stream or CRC */
    unsigned char *m1 = memmem(b, (size_t)size, "m1.npy", 6), *m2 = memmem(b, (size_t)size, "m2.npy", 6);
    CV_ASSERT(m1 && m2 && m2 > m1);
    size_t flip = defl ? (size_t)(m1 - b) + (size_t)(m2 - m1) / 2 : (size_t)(m1 - b) + 6 + 64 + 2000;
    b[flip] ^= 0x40;
    fd = open(cut, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CV_ASSERT_EQ(write(fd, b, (size_t)size), size);
    close(fd);
    cv_named_tensor_t *arr = NULL;
    int n = 0;
    CV_ASSERT_EQ(cv_npz_load(cut, 0, &arr, &n, &err), -CV_EINVALID_ARGUMENT);
    CV_ASSERT(defl || strstr(err.message, "CRC") != NULL);
    CV_ASSERT(strstr(err.message, "member 'm1'") != NULL);
    b[flip] ^= 0x40;
    /* a member not named *.npy (renamed in the central directory) */
    unsigned char *m = memmem(b + size / 2, (size_t)(size - size / 2), "m1.npy", 6);
    CV_ASSERT(m != NULL);
    m[5] = 'z';
    fd = open(cut, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CV_ASSERT_EQ(write(fd, b, (size_t)size), size);
    close(fd);
    CV_ASSERT_EQ(cv_npz_load(cut, 0, &arr, &n, &err), -CV_EINVALID_ARGUMENT);
    CV_ASSERT(strstr(err.message, "m1.npz") != NULL);
    free(b);
  }
  cv_named_tensor_t *arr;
  int n;
  CV_ASSERT_EQ(cv_npz_load(dir, 0, &arr, &n, &err), -CV_EINVALID_ARGUMENT);
  snprintf(cut, sizeof cut, "%s/none.npz", dir);
  CV_ASSERT_EQ(cv_npz_load(cut, 0, &arr, &n, &err), -CV_ENOT_FOUND);
  for (int i = 0; i < 3; i++) free(io[i].a.data);
  CV_ASSERT_EQ(rm_dir(dir), 3);
}

#define CV_TEST_LIST(XX)                                                                      \
  XX(valid_headers) XX(invalid_headers) XX(data_length) XX(big_endian) XX(fortran_order)      \
  XX(header_build) XX(npy_files) XX(write_errors) XX(npz_round_trip) XX(npz_many_members)     \
  XX(npz_damaged)
CV_TEST_MAIN(CV_TEST_LIST)
