/* npy.c — .npy reading and writing (numpy/lib/format.py): a small parser for
 * the header's Python dict literal, the descr table, big-endian and Fortran
 * order conversion, file read / mmap, header building, atomic output files.
 * Stateless; any thread. */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "convoy reads and writes '<' data natively");

#define CV_NPY_IO_CHUNK ((size_t)1 << 30)   /* largest single read/write call */
#define CV_NPY_DESCR_MAX 32
#define CV_NPY_KEY_MAX 32

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static int hdr_err(cv_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int hdr_err(cv_error_t *err, const char *fmt, ...) {
  char msg[CV_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "npy header: %s", msg);
}

/* ---- the header's dict literal ---- */

typedef struct {
  const char *p, *end;
} lex_t;

static void skip_ws(lex_t *l) {
  while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r')) l->p++;
}

static bool eat(lex_t *l, char c) {
  skip_ws(l);
  if (l->p < l->end && *l->p == c) {
    l->p++;
    return true;
  }
  return false;
}

static bool peek(lex_t *l, char c) {
  skip_ws(l);
  return l->p < l->end && *l->p == c;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* A quoted string without escapes, shorter than cap. */
static bool lex_string(lex_t *l, char *out, size_t cap) {
  skip_ws(l);
  if (l->p >= l->end || (*l->p != '\'' && *l->p != '"')) return false;
  char q = *l->p++;
  size_t n = 0;
  while (l->p < l->end && *l->p != q) {
    if (*l->p == '\\' || n + 1 >= cap) return false;
    out[n++] = *l->p++;
  }
  if (l->p >= l->end) return false;
  l->p++;
  out[n] = 0;
  return true;
}

static bool lex_word(lex_t *l, const char *w) {
  skip_ws(l);
  size_t n = strlen(w);
  if ((size_t)(l->end - l->p) < n || memcmp(l->p, w, n) != 0) return false;
  if (l->p + n < l->end && is_alnum(l->p[n])) return false;
  l->p += n;
  return true;
}

/* An integer literal (Python 2's 'L' suffix allowed): 0, -1 = not an
 * integer, -2 = outside int64. */
static int lex_int(lex_t *l, int64_t *v) {
  skip_ws(l);
  bool neg = false;
  if (l->p < l->end && (*l->p == '-' || *l->p == '+')) neg = *l->p++ == '-';
  if (l->p >= l->end || !is_digit(*l->p)) return -1;
  uint64_t x = 0;
  while (l->p < l->end && is_digit(*l->p)) {
    unsigned d = (unsigned)(*l->p++ - '0');
    if (x > ((uint64_t)INT64_MAX - d) / 10) return -2;
    x = x * 10 + d;
  }
  if (l->p < l->end && (*l->p == 'L' || *l->p == 'l')) l->p++;
  if (l->p < l->end && is_alnum(*l->p)) return -1;
  *v = neg ? -(int64_t)x : (int64_t)x;
  return 0;
}

static int parse_shape(lex_t *l, cv_npy_info_t *info, cv_error_t *err) {
  char close;
  if (eat(l, '('))
    close = ')';
  else if (eat(l, '['))
    close = ']';
  else
    return hdr_err(err, "'shape' is not a tuple");
  int n = 0;
  if (eat(l, close)) {
    info->ndim = 0;
    return 0;
  }
  for (;;) {
    int64_t v;
    int rc = lex_int(l, &v);
    if (rc == -2) return hdr_err(err, "shape[%d] does not fit in 64 bits", n);
    if (rc) return hdr_err(err, "'shape' is not a tuple of integers");
    if (n >= CV_MAX_DIMS) return hdr_err(err, "rank above %d is not supported", CV_MAX_DIMS);
    info->shape[n++] = v;
    if (eat(l, ',')) {
      if (eat(l, close)) break;
      continue;
    }
    if (eat(l, close)) break;
    return hdr_err(err, "'shape' is not a tuple of integers");
  }
  info->ndim = n;
  return 0;
}

/* Maps a descr ("<f4", "|b1", ">c16", "<V2" = bfloat16) to a dtype. */
static int parse_descr(const char *d, cv_npy_info_t *info, cv_error_t *err) {
  static const struct {
    char kind;
    int size;
    cv_dtype_t dt;
  } kinds[] = {
      {'b', 1, CV_DTYPE_BOOL}, {'i', 1, CV_DTYPE_I8},   {'u', 1, CV_DTYPE_U8},
      {'i', 2, CV_DTYPE_I16},  {'u', 2, CV_DTYPE_U16},  {'i', 4, CV_DTYPE_I32},
      {'u', 4, CV_DTYPE_U32},  {'i', 8, CV_DTYPE_I64},  {'u', 8, CV_DTYPE_U64},
      {'f', 2, CV_DTYPE_F16},  {'V', 2, CV_DTYPE_BF16}, {'f', 4, CV_DTYPE_F32},
      {'f', 8, CV_DTYPE_F64},  {'c', 8, CV_DTYPE_C64},  {'c', 16, CV_DTYPE_C128},
  };
  _Static_assert(sizeof kinds / sizeof kinds[0] == CV_DTYPE_COUNT, "one descr per dtype");
  const char *p = d;
  char order = '=';
  if (*p == '<' || *p == '>' || *p == '|' || *p == '=') order = *p++;
  char kind = *p ? *p++ : 0;
  int size = 0;
  bool digits = is_digit(*p);
  while (is_digit(*p) && size < 1000) size = size * 10 + (*p++ - '0');
  if (kind && digits && !*p)
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
      if (kinds[i].kind == kind && kinds[i].size == size) {
        info->dtype = kinds[i].dt;
        info->swap = order == '>' && size > 1;
        return 0;
      }
  return cv_error_set(err, CV_EUNSUPPORTED_DTYPE, NULL,
                      "npy dtype '%s' is not supported (bool, int8-64, uint8-64, float16/32/64, "
                      "bfloat16 '<V2', complex64/128)", d);
}

int cv_npy_header_len(const void *buf, size_t len, size_t *header_len, cv_error_t *err) {
  const unsigned char *b = buf;
  if (memcmp(b, npy_magic, len < 6 ? len : 6) != 0) return hdr_err(err, "not an .npy file (bad magic)");
  if (len < 8) return hdr_err(err, "truncated before the version (%zu bytes)", len);
  size_t pre, hl;
  if (b[6] == 1 && b[7] == 0) {
    pre = 10;
    if (len < pre) return hdr_err(err, "truncated before the header length");
    hl = (size_t)b[8] | (size_t)b[9] << 8;
  } else if ((b[6] == 2 || b[6] == 3) && b[7] == 0) {
    pre = 12;
    if (len < pre) return hdr_err(err, "truncated before the header length");
    hl = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
  } else {
    return hdr_err(err, "unsupported format version %d.%d", b[6], b[7]);
  }
  if (hl > CV_NPY_HEADER_MAX)
    return hdr_err(err, "header dict of %zu bytes is longer than %u", hl, CV_NPY_HEADER_MAX);
  *header_len = pre + hl;
  return 0;
}

int cv_npy_parse_header(const void *buf, size_t len, size_t max_bytes, cv_npy_info_t *info,
                        cv_error_t *err) {
  memset(info, 0, sizeof *info);
  size_t hlen;
  int rc = cv_npy_header_len(buf, len, &hlen, err);
  if (rc) return rc;
  if (len < hlen) return hdr_err(err, "truncated (%zu of %zu bytes)", len, hlen);
  const char *b = buf;
  info->version = b[6];
  info->header_len = hlen;
  lex_t l = {b + (info->version == 1 ? 10 : 12), b + hlen};
  bool have_descr = false, have_order = false, have_shape = false;
  char descr[CV_NPY_DESCR_MAX];   /* checked once the whole dict parsed */
  if (!eat(&l, '{')) return hdr_err(err, "not a Python dict literal");
  while (!eat(&l, '}')) {
    char key[CV_NPY_KEY_MAX];
    if (!lex_string(&l, key, sizeof key)) return hdr_err(err, "not a Python dict literal (expected a quoted key)");
    if (!eat(&l, ':')) return hdr_err(err, "not a Python dict literal (expected ':' after '%s')", key);
    if (strcmp(key, "descr") == 0) {
      if (have_descr) return hdr_err(err, "duplicate key 'descr'");
      have_descr = true;
      if (peek(&l, '[') || peek(&l, '('))
        return cv_error_set(err, CV_EUNSUPPORTED_DTYPE, NULL, "npy: structured dtypes are not supported");
      if (!lex_string(&l, descr, sizeof descr)) return hdr_err(err, "'descr' is not a dtype string");
    } else if (strcmp(key, "fortran_order") == 0) {
      if (have_order) return hdr_err(err, "duplicate key 'fortran_order'");
      have_order = true;
      if (lex_word(&l, "True"))
        info->fortran_order = true;
      else if (!lex_word(&l, "False"))
        return hdr_err(err, "'fortran_order' is not True or False");
    } else if (strcmp(key, "shape") == 0) {
      if (have_shape) return hdr_err(err, "duplicate key 'shape'");
      have_shape = true;
      if ((rc = parse_shape(&l, info, err))) return rc;
    } else {
      return hdr_err(err, "unexpected key '%s'", key);
    }
    if (eat(&l, ',')) continue;
    if (eat(&l, '}')) break;
    return hdr_err(err, "not a Python dict literal (expected ',' or '}')");
  }
  skip_ws(&l);
  if (l.p != l.end) return hdr_err(err, "unexpected text after the dict");
  if (!have_descr || !have_order || !have_shape)
    return hdr_err(err, "missing key '%s'", !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
  if ((rc = parse_descr(descr, info, err))) return rc;
  return cv_shape_check(info->dtype, info->ndim, info->shape, max_bytes, &info->data_len, NULL, err);
}

/* ---- conversion to native C order ---- */

static bool needs_transpose(const cv_npy_info_t *info) {
  if (!info->fortran_order) return false;
  int big = 0;   /* axes longer than 1: with at most one, both orders agree */
  for (int i = 0; i < info->ndim; i++) big += info->shape[i] > 1;
  return big > 1;
}

static void swap_units(void *data, size_t nbytes, size_t unit) {
  unsigned char *p = data;
  for (size_t off = 0; off + unit <= nbytes; off += unit) {
    if (unit == 2) {
      uint16_t v;
      memcpy(&v, p + off, 2);
      v = __builtin_bswap16(v);
      memcpy(p + off, &v, 2);
    } else if (unit == 4) {
      uint32_t v;
      memcpy(&v, p + off, 4);
      v = __builtin_bswap32(v);
      memcpy(p + off, &v, 4);
    } else if (unit == 8) {
      uint64_t v;
      memcpy(&v, p + off, 8);
      v = __builtin_bswap64(v);
      memcpy(p + off, &v, 8);
    }
  }
}

#define CV_COPY_ROW(es)                                            \
  for (int64_t j = 0; j < n_last; j++, d += (es), sp += st_last) \
    memcpy(d, sp, (es))

/* dst in C order from src in Fortran order (es bytes per element). */
static void fortran_to_c(void *dst, const void *src, int ndim, const int64_t *shape, size_t es) {
  size_t sstride[CV_MAX_DIMS] = {0};
  int64_t idx[CV_MAX_DIMS] = {0}, numel = 1;
  for (int i = 0; i < ndim; i++) {
    sstride[i] = i == 0 ? es : sstride[i - 1] * (size_t)shape[i - 1];
    numel *= shape[i];
  }
  if (numel == 0) return;
  unsigned char *d = dst;
  const unsigned char *s = src;
  int last = ndim - 1;
  int64_t n_last = shape[last];
  size_t st_last = sstride[last], soff = 0;
  for (int64_t done = 0; done < numel; done += n_last) {
    const unsigned char *sp = s + soff;
    switch (es) {
      case 1: CV_COPY_ROW(1); break;
      case 2: CV_COPY_ROW(2); break;
      case 4: CV_COPY_ROW(4); break;
      case 8: CV_COPY_ROW(8); break;
      case 16: CV_COPY_ROW(16); break;
      default: CV_COPY_ROW(es); break;
    }
    for (int ax = last - 1; ax >= 0; ax--) {
      soff += sstride[ax];
      if (++idx[ax] < shape[ax]) break;
      soff -= sstride[ax] * (size_t)shape[ax];
      idx[ax] = 0;
    }
  }
}

static void fix_swap(cv_tensor_t *t, const cv_npy_info_t *info) {
  if (!info->swap) return;
  size_t es = cv_dtype_size(info->dtype);
  swap_units(t->a.data, t->nbytes, cv_dtype_is_complex(info->dtype) ? es / 2 : es);
}

int cv_npy_fixup(cv_tensor_t *t, const cv_npy_info_t *info, cv_error_t *err) {
  if (needs_transpose(info)) {
    void *tmp = malloc(t->nbytes);
    if (!tmp)
      return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory to reorder a Fortran-order array");
    memcpy(tmp, t->a.data, t->nbytes);
    fortran_to_c(t->a.data, tmp, info->ndim, info->shape, cv_dtype_size(info->dtype));
    free(tmp);
  }
  fix_swap(t, info);
  return 0;
}

int cv_npy_decode(const void *buf, size_t len, size_t max_bytes, cv_tensor_t **out,
                  cv_error_t *err) {
  cv_npy_info_t info;
  int rc = cv_npy_parse_header(buf, len, max_bytes, &info, err);
  if (rc) return rc;
  if (len - info.header_len != info.data_len)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL,
                        "npy data is %zu bytes but the header's shape needs %zu (%s)",
                        len - info.header_len, info.data_len,
                        len - info.header_len < info.data_len ? "truncated" : "trailing bytes");
  cv_tensor_t *t;
  if ((rc = cv_tensor_new(&t, info.dtype, info.ndim, info.shape, max_bytes, false, err))) return rc;
  const unsigned char *src = (const unsigned char *)buf + info.header_len;
  if (needs_transpose(&info))
    fortran_to_c(t->a.data, src, info.ndim, info.shape, cv_dtype_size(info.dtype));
  else if (info.data_len)
    memcpy(t->a.data, src, info.data_len);
  fix_swap(t, &info);
  *out = t;
  return 0;
}

/* ---- files ---- */

static const char *errno_text(int e, char *buf, size_t cap) {
#if defined(_GNU_SOURCE)
  return strerror_r(e, buf, cap);
#else
  return strerror_r(e, buf, cap) == 0 ? buf : "error";
#endif
}

static int read_errno(cv_error_t *err, int e, const char *path) {
  char eb[128];
  cv_err_t code = (e == ENOENT || e == ENOTDIR) ? CV_ENOT_FOUND
                  : (e == EACCES || e == EPERM || e == EISDIR || e == ELOOP) ? CV_EINVALID_ARGUMENT
                  : (e == ENOMEM) ? CV_EOUT_OF_MEMORY
                                  : CV_EINTERNAL;
  return cv_error_set(err, code, NULL, "%s: %s", path, errno_text(e, eb, sizeof eb));
}

static int write_errno(cv_error_t *err, int e, const char *what) {
  char eb[128];
  cv_err_t code = (e == ENOSPC || e == EDQUOT || e == EFBIG) ? CV_EINSUFFICIENT_STORAGE
                  : (e == ENOENT || e == ENOTDIR)           ? CV_ENOT_FOUND
                                                            : CV_EINTERNAL;
  return cv_error_set(err, code, NULL, "%s: %s", what, errno_text(e, eb, sizeof eb));
}

int cv_file_open_read(const char *path, int *fd, size_t *size, cv_error_t *err) {
  *fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);   /* O_NONBLOCK: a FIFO must not hang us */
  if (*fd < 0) return read_errno(err, errno, path);
  struct stat st;
  int rc = 0;
  if (fstat(*fd, &st) != 0)
    rc = read_errno(err, errno, path);
  else if (S_ISDIR(st.st_mode))
    rc = read_errno(err, EISDIR, path);
  else if (!S_ISREG(st.st_mode))
    rc = cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "%s: not a regular file", path);
  if (rc) {
    close(*fd);
    return rc;
  }
  *size = (size_t)st.st_size;
  return 0;
}

int cv_file_pread(int fd, void *buf, size_t n, size_t off, const char *path, cv_error_t *err) {
  unsigned char *p = buf;
  while (n) {
    ssize_t r = pread(fd, p, n < CV_NPY_IO_CHUNK ? n : CV_NPY_IO_CHUNK, (off_t)off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return read_errno(err, errno, path);
    if (r == 0) return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "%s: truncated file", path);
    p += r;
    off += (size_t)r;
    n -= (size_t)r;
  }
  return 0;
}

static int read_info(int fd, size_t fsize, const char *path, size_t max_bytes, cv_npy_info_t *info,
                     cv_error_t *err) {
  unsigned char pre[CV_NPY_PREFIX_LEN];
  size_t n = fsize < sizeof pre ? fsize : sizeof pre, hlen;
  int rc = cv_file_pread(fd, pre, n, 0, path, err);
  if (rc || (rc = cv_npy_header_len(pre, n, &hlen, err))) return rc;
  if (hlen > fsize) return hdr_err(err, "truncated (%zu of %zu bytes)", fsize, hlen);
  char *h = malloc(hlen);
  if (!h) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for an .npy header");
  rc = cv_file_pread(fd, h, hlen, 0, path, err);
  if (!rc) rc = cv_npy_parse_header(h, hlen, max_bytes, info, err);
  free(h);
  if (!rc && fsize - hlen != info->data_len)
    rc = cv_error_set(err, CV_EINVALID_ARGUMENT, NULL,
                      "%s: npy data is %zu bytes but the header's shape needs %zu (%s)", path,
                      fsize - hlen, info->data_len, fsize - hlen < info->data_len ? "truncated" : "trailing bytes");
  return rc;
}

static int load_fd(int fd, const char *path, size_t max_bytes, const cv_npy_info_t *info,
                   cv_tensor_t **out, cv_error_t *err) {
  cv_tensor_t *t;
  int rc = cv_tensor_new(&t, info->dtype, info->ndim, info->shape, max_bytes, false, err);
  if (rc) return rc;
  rc = cv_file_pread(fd, t->a.data, info->data_len, info->header_len, path, err);
  if (!rc) rc = cv_npy_fixup(t, info, err);
  if (rc) {
    cv_tensor_unref(t);
    return rc;
  }
  *out = t;
  return 0;
}

int cv_npy_load(const char *path, size_t max_bytes, cv_tensor_t **out, cv_error_t *err) {
  int fd;
  size_t fsize = 0;
  cv_npy_info_t info;
  int rc = cv_file_open_read(path, &fd, &fsize, err);
  if (rc) return rc;
  rc = read_info(fd, fsize, path, max_bytes, &info, err);
  if (!rc) rc = load_fd(fd, path, max_bytes, &info, out, err);
  close(fd);
  return rc;
}

static void release_munmap(cv_tensor_t *t) { munmap(t->owner, t->owner_len); }

int cv_npy_map(const char *path, size_t max_bytes, cv_tensor_t **out, cv_error_t *err) {
  int fd;
  size_t fsize = 0;
  cv_npy_info_t info;
  int rc = cv_file_open_read(path, &fd, &fsize, err);
  if (rc) return rc;
  rc = read_info(fd, fsize, path, max_bytes, &info, err);
  if (rc) goto done;
  if (!info.swap && !needs_transpose(&info) && info.header_len % cv_dtype_size(info.dtype) == 0) {
    void *base = mmap(NULL, fsize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (base != MAP_FAILED) {
      rc = cv_tensor_wrap(out, info.dtype, info.ndim, info.shape, (char *)base + info.header_len,
                          release_munmap, base, fsize, err);
      if (rc) munmap(base, fsize);
      goto done;
    }
  }
  rc = load_fd(fd, path, max_bytes, &info, out, err);
done:
  close(fd);
  return rc;
}

/* ---- writing ---- */

size_t cv_npy_header(const cv_array_t *a, char *buf, size_t cap) {
  if ((unsigned)a->dtype >= CV_DTYPE_COUNT || a->ndim < 0 || a->ndim > CV_MAX_DIMS) return 0;
  char dict[512];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                   cv_dtype_descr(a->dtype));
  for (int i = 0; i < a->ndim; i++) {
    if (a->shape[i] < 0) return 0;
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
  }
  n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", a->ndim == 1 ? "," : "");
  size_t dl = (size_t)n, pre = 10;
  size_t total = (pre + dl + 1 + CV_NPY_ALIGN - 1) / CV_NPY_ALIGN * CV_NPY_ALIGN;
  if (total - pre > 0xffff) {   /* v1's length field is 16 bits */
    pre = 12;
    total = (pre + dl + 1 + CV_NPY_ALIGN - 1) / CV_NPY_ALIGN * CV_NPY_ALIGN;
  }
  if (total > cap) return 0;
  size_t hl = total - pre;
  memcpy(buf, npy_magic, 6);
  buf[6] = pre == 10 ? 1 : 2;
  buf[7] = 0;
  for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (char)(hl >> (8 * i) & 0xff);
  memcpy(buf + pre, dict, dl);
  memset(buf + pre + dl, ' ', total - pre - dl - 1);
  buf[total - 1] = '\n';
  return total;
}

int cv_write_all(int fd, const void *p, size_t n, const char *what, cv_error_t *err) {
  const unsigned char *s = p;
  while (n) {
    ssize_t w = write(fd, s, n < CV_NPY_IO_CHUNK ? n : CV_NPY_IO_CHUNK);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return write_errno(err, w < 0 ? errno : EIO, what);
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

int cv_npy_write_fd(int fd, const cv_array_t *a, cv_error_t *err) {
  char hdr[4096];
  size_t nbytes;
  int rc = cv_shape_check(a->dtype, a->ndim, a->shape, 0, &nbytes, NULL, err);
  if (rc) return rc;
  size_t hl = cv_npy_header(a, hdr, sizeof hdr);
  if (!hl) return cv_error_set(err, CV_EINTERNAL, NULL, "cannot build an .npy header");
  if (nbytes && !a->data) return cv_error_set(err, CV_EINTERNAL, NULL, "array without data");
  if ((rc = cv_write_all(fd, hdr, hl, "npy", err))) return rc;
  return cv_write_all(fd, a->data, nbytes, "npy", err);
}

int cv_npy_save(const char *path, const cv_array_t *a, cv_error_t *err) {
  cv_outfile_t f;
  int rc = cv_outfile_open(&f, path, err);
  if (!rc) rc = cv_npy_write_fd(f.fd, a, err);
  if (!rc) rc = cv_outfile_commit(&f, err);
  cv_outfile_close(&f);
  return rc;
}

/* ---- atomic output files ---- */

int cv_outfile_open(cv_outfile_t *f, const char *path, cv_error_t *err) {
  f->fd = -1;
  f->tmp = NULL;
  f->path = strdup(path);
  size_t n = strlen(path) + sizeof ".tmp.XXXXXX";
  char *tmp = malloc(n);
  if (!f->path || !tmp) {
    free(tmp);
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for a file name");
  }
  snprintf(tmp, n, "%s.tmp.XXXXXX", path);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    int rc = write_errno(err, errno, path);
    free(tmp);
    return rc;
  }
  fchmod(fd, 0644);
  f->fd = fd;
  f->tmp = tmp;
  return 0;
}

int cv_outfile_write(cv_outfile_t *f, const void *p, size_t n, cv_error_t *err) {
  if (!f->tmp) return cv_error_set(err, CV_EINTERNAL, NULL, "write to a closed output file");
  return cv_write_all(f->fd, p, n, f->path, err);
}

/* rename without replacing: renameat2(RENAME_NOREPLACE), or where the file
 * system lacks it, link + unlink (link never replaces either). */
static int rename_noreplace(const char *from, const char *to) {
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  if (link(from, to) != 0) return -1;
  unlink(from);
  return 0;
}

int cv_outfile_commit(cv_outfile_t *f, cv_error_t *err) { return cv_outfile_commit_ex(f, true, err); }

int cv_outfile_commit_ex(cv_outfile_t *f, bool replace, cv_error_t *err) {
  if (!f->tmp) return cv_error_set(err, CV_EINTERNAL, NULL, "commit of a closed output file");
  int rc = 0;
  if (fsync(f->fd) != 0) rc = write_errno(err, errno, f->path);
  if (close(f->fd) != 0 && !rc) rc = write_errno(err, errno, f->path);
  f->fd = -1;
  if (!rc && !replace && rename_noreplace(f->tmp, f->path) != 0)
    rc = errno == EEXIST ? cv_error_set(err, CV_ECONFLICT, NULL, "%s exists", f->path) : write_errno(err, errno, f->path);
  else if (!rc && replace && rename(f->tmp, f->path) != 0)
    rc = write_errno(err, errno, f->path);
  if (rc) {
    cv_outfile_close(f);
    return rc;
  }
  free(f->tmp);
  f->tmp = NULL;
  char *dir = strdup(f->path);   /* make the rename durable; best effort */
  if (dir) {
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
    free(dir);
  }
  return 0;
}

void cv_outfile_close(cv_outfile_t *f) {
  if (f->tmp) {   /* open and not committed: the fd (if any) and the temp file go */
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
  }
  f->fd = -1;
  free(f->path);
  f->path = NULL;
}
