/* npz.c — .npz archives with zlib: the loader (end record, zip64 end
 * records, central directory, stored and deflated members read in chunks with
 * CRC checks) and the streaming writer (local header + data descriptor, so it
 * never seeks; zip64 extra fields and end records when sizes or offsets reach
 * 4 GiB or the entries 65535). Any thread; a writer is used by one at a time. */
#include "npz.h"

#include "crc32.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define CV_NPZ_CHUNK ((size_t)1 << 20)          /* CRC / deflate / read chunk */
#define CV_NPZ_INFLATE_OUT ((size_t)1 << 30)    /* largest avail_out per call */
#define CV_NPZ_DEFLATE_LEVEL Z_BEST_SPEED       /* float data barely compresses: favour speed */
#define CV_NPZ_HEADER_CAP 4096                  /* cv_npy_header's bound for CV_MAX_DIMS dims */

#define ZIP_MAX16 0xffffu
#define ZIP_MAX32 0xffffffffu
#define ZIP_SIG_LOCAL 0x04034b50u
#define ZIP_SIG_CENTRAL 0x02014b50u
#define ZIP_SIG_DESCRIPTOR 0x08074b50u
#define ZIP_SIG_END 0x06054b50u
#define ZIP_SIG_END64 0x06064b50u
#define ZIP_SIG_LOCATOR64 0x07064b50u
#define ZIP_LOCAL_LEN 30
#define ZIP_CENTRAL_LEN 46
#define ZIP_END_LEN 22
#define ZIP_END64_LEN 56
#define ZIP_LOCATOR64_LEN 20
#define ZIP_END_SEARCH (ZIP_END_LEN + 0xffff)   /* end record + longest comment */
#define ZIP_VERSION 20                          /* deflate, data descriptor */
#define ZIP_VERSION64 45                        /* zip64 */
#define ZIP_MADE_BY_UNIX (3u << 8)
#define ZIP_FLAG_ENCRYPTED 0x0001u
#define ZIP_FLAG_DESCRIPTOR 0x0008u
#define ZIP_STORED 0
#define ZIP_DEFLATED 8
#define ZIP_EXTRA_ZIP64 0x0001u
#define ZIP_FILE_ATTR (0100644u << 16)          /* regular file, rw-r--r-- */

struct cv_npz_entry_s {
  char name[CV_NAME_MAX + 4];   /* "NAME.npy" */
  uint32_t crc;
  uint64_t comp, uncomp, offset;
  bool zip64;
};

static unsigned char *put16(unsigned char *p, unsigned v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  return p + 2;
}
static unsigned char *put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
  return p + 4;
}
static unsigned char *put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
  return p + 8;
}
static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static int zip_err(cv_error_t *err, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int zip_err(cv_error_t *err, const char *path, const char *fmt, ...) {
  char msg[CV_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "%s: %s", path, msg);
}

/* ======================= reading ======================= */

/* One member's uncompressed byte stream, read in chunks; CRC as it goes. */
typedef struct {
  int fd;
  const char *path;
  bool deflate, ended;
  z_stream zs;
  uint64_t in_pos, in_left;   /* compressed bytes still in the file */
  unsigned char *in;
  uLong crc;
} member_t;

static int refill(member_t *m, cv_error_t *err) {
  size_t k = m->in_left < CV_NPZ_CHUNK ? (size_t)m->in_left : CV_NPZ_CHUNK;
  int rc = cv_file_pread(m->fd, m->in, k, m->in_pos, m->path, err);
  if (rc) return rc;
  m->in_pos += k;
  m->in_left -= k;
  m->zs.next_in = m->in;
  m->zs.avail_in = (uInt)k;
  return 0;
}

static int inflate_step(member_t *m, unsigned char *dst, size_t n, size_t *got, cv_error_t *err) {
  if (m->zs.avail_in == 0 && m->in_left) {
    int rc = refill(m, err);
    if (rc) return rc;
  }
  m->zs.next_out = dst;
  m->zs.avail_out = (uInt)(n < CV_NPZ_INFLATE_OUT ? n : CV_NPZ_INFLATE_OUT);
  uInt before = m->zs.avail_out;
  int zr = inflate(&m->zs, Z_NO_FLUSH);
  *got = before - m->zs.avail_out;
  if (zr == Z_STREAM_END) {
    m->ended = true;
    return 0;
  }
  if (zr == Z_OK || (zr == Z_BUF_ERROR && (m->zs.avail_in || m->in_left))) return 0;
  if (zr == Z_BUF_ERROR) return zip_err(err, m->path, "deflate stream is truncated");
  if (zr == Z_MEM_ERROR) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "inflate: no memory");
  return zip_err(err, m->path, "corrupt deflate data (%s)", m->zs.msg ? m->zs.msg : "zlib error");
}

static int member_read(member_t *m, void *dst, size_t n, cv_error_t *err) {
  unsigned char *d = dst;
  if (!m->deflate) {
    if (n > m->in_left) return zip_err(err, m->path, "member is shorter than its .npy header says");
    int rc = cv_file_pread(m->fd, d, n, m->in_pos, m->path, err);
    if (rc) return rc;
    m->in_pos += n;
    m->in_left -= n;
    for (size_t off = 0; off < n; off += CV_NPZ_CHUNK)
      m->crc = cv_crc32(m->crc, d + off, (uInt)(n - off < CV_NPZ_CHUNK ? n - off : CV_NPZ_CHUNK));
    return 0;
  }
  while (n) {
    if (m->ended) return zip_err(err, m->path, "member is shorter than its .npy header says");
    size_t got;
    int rc = inflate_step(m, d, n, &got, err);
    if (rc) return rc;
    m->crc = cv_crc32(m->crc, d, (uInt)got);
    d += got;
    n -= got;
  }
  return 0;
}

static int member_end(member_t *m, uint32_t crc, cv_error_t *err) {
  while (m->deflate && !m->ended) {
    unsigned char extra;
    size_t got;
    int rc = inflate_step(m, &extra, 1, &got, err);
    if (rc) return rc;
    if (got) return zip_err(err, m->path, "member is longer than its .npy header says");
  }
  if (!m->deflate && m->in_left) return zip_err(err, m->path, "member is longer than its .npy header says");
  if ((uint32_t)m->crc != crc) return zip_err(err, m->path, "CRC-32 mismatch");
  return 0;
}

/* Decodes one member (data at data_off, comp bytes in the file). */
static int load_member(int fd, const char *path, int method, uint32_t crc, uint64_t comp,
                       uint64_t uncomp, uint64_t data_off, size_t max_bytes, size_t *used,
                       cv_tensor_t **out, cv_error_t *err) {
  member_t m = {.fd = fd, .path = path, .deflate = method == ZIP_DEFLATED, .in_pos = data_off,
                .in_left = comp, .crc = 0};
  char *h = NULL;
  cv_tensor_t *t = NULL;
  int rc = 0;
  if (!m.deflate && comp != uncomp) return zip_err(err, path, "stored member with different sizes");
  if (m.deflate) {
    if (!(m.in = malloc(CV_NPZ_CHUNK)) || inflateInit2(&m.zs, -MAX_WBITS) != Z_OK) {
      free(m.in);
      return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory to inflate");
    }
  }
  unsigned char pre[CV_NPY_PREFIX_LEN];
  size_t k = uncomp < sizeof pre ? (size_t)uncomp : sizeof pre, hlen;
  cv_npy_info_t info;
  if ((rc = member_read(&m, pre, k, err)) || (rc = cv_npy_header_len(pre, k, &hlen, err))) goto done;
  if (hlen < k || hlen > uncomp) {
    rc = zip_err(err, path, "member is shorter than its .npy header");
    goto done;
  }
  if (!(h = malloc(hlen))) {
    rc = cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for an .npy header");
    goto done;
  }
  memcpy(h, pre, k);
  if ((rc = member_read(&m, h + k, hlen - k, err)) || (rc = cv_npy_parse_header(h, hlen, 0, &info, err)))
    goto done;
  if (hlen + info.data_len != uncomp) {
    rc = zip_err(err, path, "member holds %llu bytes but its .npy header needs %zu",
                 (unsigned long long)uncomp, hlen + info.data_len);
    goto done;
  }
  if (max_bytes && info.data_len > max_bytes - *used) {
    rc = cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, NULL,
                      "npz members exceed the limit of %zu bytes", max_bytes);
    goto done;
  }
  if ((rc = cv_tensor_new(&t, info.dtype, info.ndim, info.shape, 0, false, err)) ||
      (rc = member_read(&m, t->a.data, info.data_len, err)) || (rc = member_end(&m, crc, err)) ||
      (rc = cv_npy_fixup(t, &info, err)))
    goto done;
  *used += info.data_len;
  *out = t;
  t = NULL;
done:
  cv_tensor_unref(t);
  free(h);
  if (m.deflate) inflateEnd(&m.zs);
  free(m.in);
  return rc;
}

typedef struct {
  uint64_t entries, cd_size, cd_off;
} zip_end_t;

static int find_end(int fd, size_t size, const char *path, zip_end_t *end, cv_error_t *err) {
  if (size < ZIP_END_LEN) return zip_err(err, path, "not a zip archive (too short)");
  size_t tail = size < ZIP_END_SEARCH ? size : ZIP_END_SEARCH, pos = tail - ZIP_END_LEN;
  unsigned char *b = malloc(tail);
  if (!b) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory to read a zip");
  int rc = cv_file_pread(fd, b, tail, size - tail, path, err);
  bool found = false;
  for (; !rc; pos--) {
    if (get32(b + pos) == ZIP_SIG_END && pos + ZIP_END_LEN + get16(b + pos + 20) == tail) {
      found = true;
      break;
    }
    if (pos == 0) break;
  }
  if (found) {
    end->entries = get16(b + pos + 10);
    end->cd_size = get32(b + pos + 12);
    end->cd_off = get32(b + pos + 16);
  }
  free(b);
  if (rc) return rc;
  if (!found) return zip_err(err, path, "not a zip archive (no end record; truncated?)");
  uint64_t end_at = size - tail + pos, limit = end_at;
  unsigned char loc[ZIP_LOCATOR64_LEN], rec[ZIP_END64_LEN];
  if (end_at >= ZIP_LOCATOR64_LEN) {
    if ((rc = cv_file_pread(fd, loc, sizeof loc, end_at - sizeof loc, path, err))) return rc;
    if (get32(loc) == ZIP_SIG_LOCATOR64) {
      uint64_t off = get64(loc + 8);
      if (off > end_at - sizeof loc || end_at - sizeof loc - off < sizeof rec)
        return zip_err(err, path, "bad zip64 end locator");
      if ((rc = cv_file_pread(fd, rec, sizeof rec, off, path, err))) return rc;
      if (get32(rec) != ZIP_SIG_END64) return zip_err(err, path, "bad zip64 end record");
      end->entries = get64(rec + 32);
      end->cd_size = get64(rec + 40);
      end->cd_off = get64(rec + 48);
      limit = off;
    }
  }
  if (end->cd_off > limit || end->cd_size > limit - end->cd_off)
    return zip_err(err, path, "central directory lies outside the file");
  if (end->entries > end->cd_size / ZIP_CENTRAL_LEN)
    return zip_err(err, path, "central directory too short for %llu entries",
                   (unsigned long long)end->entries);
  return 0;
}

/* Reads the zip64 extra field for the values saturated at 0xffffffff. */
static int zip64_extra(const unsigned char *x, size_t xlen, uint64_t *uncomp, uint64_t *comp,
                       uint64_t *off) {
  for (size_t i = 0; i + 4 <= xlen;) {
    size_t sz = get16(x + i + 2);
    if (i + 4 + sz > xlen) return -1;
    if (get16(x + i) == ZIP_EXTRA_ZIP64) {
      const unsigned char *q = x + i + 4, *qe = q + sz;
      uint64_t *fields[3] = {uncomp, comp, off};
      for (int f = 0; f < 3; f++) {
        if (*fields[f] != ZIP_MAX32) continue;
        if (q + 8 > qe) return -1;
        *fields[f] = get64(q);
        q += 8;
      }
    }
    i += 4 + sz;
  }
  return 0;
}

void cv_named_tensors_free(cv_named_tensor_t *arr, int n) {
  if (!arr) return;
  for (int i = 0; i < n; i++) cv_tensor_unref(arr[i].t);
  free(arr);
}

/* Walks the central directory and loads each .npy member into res[*n]. */
static int load_entries(int fd, size_t size, const char *path, const unsigned char *cd,
                        const zip_end_t *end, size_t max_bytes, cv_named_tensor_t *res, int *n,
                        cv_error_t *err) {
  size_t used = 0, p = 0;
  for (uint64_t i = 0; i < end->entries; i++) {
    if (p + ZIP_CENTRAL_LEN > end->cd_size || get32(cd + p) != ZIP_SIG_CENTRAL)
      return zip_err(err, path, "corrupt central directory (entry %llu)", (unsigned long long)i);
    const unsigned char *e = cd + p;
    unsigned flags = get16(e + 8), method = get16(e + 10);
    uint32_t crc = get32(e + 16);
    uint64_t comp = get32(e + 20), uncomp = get32(e + 24), loff = get32(e + 42);
    size_t nlen = get16(e + 28), xlen = get16(e + 30), clen = get16(e + 32);
    if (p + ZIP_CENTRAL_LEN + nlen + xlen + clen > end->cd_size)
      return zip_err(err, path, "corrupt central directory (entry %llu)", (unsigned long long)i);
    const char *name = (const char *)e + ZIP_CENTRAL_LEN;
    if (zip64_extra(e + ZIP_CENTRAL_LEN + nlen, xlen, &uncomp, &comp, &loff))
      return zip_err(err, path, "corrupt zip64 field (entry %llu)", (unsigned long long)i);
    p += ZIP_CENTRAL_LEN + nlen + xlen + clen;
    if (nlen && name[nlen - 1] == '/') continue;   /* a folder */
    if (nlen < 5 || nlen - 4 >= CV_NAME_MAX || memcmp(name + nlen - 4, ".npy", 4) != 0 ||
        memchr(name, 0, nlen))
      return zip_err(err, path, "member '%.*s' is not NAME.npy with a name of 1..%d bytes",
                     (int)(nlen < 64 ? nlen : 64), name, CV_NAME_MAX - 1);
    cv_named_tensor_t *r = &res[*n];
    memcpy(r->name, name, nlen - 4);
    r->name[nlen - 4] = 0;
    for (int j = 0; j < *n; j++)
      if (strcmp(res[j].name, r->name) == 0) return zip_err(err, path, "duplicate member '%s'", r->name);
    if (flags & ZIP_FLAG_ENCRYPTED) return zip_err(err, path, "member '%s' is encrypted", r->name);
    if (method != ZIP_STORED && method != ZIP_DEFLATED)
      return zip_err(err, path, "member '%s': compression method %u is not supported", r->name, method);
    unsigned char lh[ZIP_LOCAL_LEN];
    int rc;
    if (loff > size || size - loff < ZIP_LOCAL_LEN)
      return zip_err(err, path, "member '%s' lies outside the file", r->name);
    if ((rc = cv_file_pread(fd, lh, sizeof lh, loff, path, err))) return rc;
    if (get32(lh) != ZIP_SIG_LOCAL) return zip_err(err, path, "member '%s': bad local header", r->name);
    uint64_t data_off = loff + ZIP_LOCAL_LEN + get16(lh + 26) + get16(lh + 28);
    if (data_off > size || comp > size - data_off)
      return zip_err(err, path, "member '%s' is truncated", r->name);
    rc = load_member(fd, path, (int)method, crc, comp, uncomp, data_off, max_bytes, &used, &r->t, err);
    if (rc) {
      char msg[CV_ERR_MSG_MAX];
      snprintf(msg, sizeof msg, "%s", err ? err->message : "");
      if (err) snprintf(err->message, sizeof err->message, "member '%s': %.200s", r->name, msg);
      return rc;
    }
    (*n)++;
  }
  return 0;
}

int cv_npz_load(const char *path, size_t max_bytes, cv_named_tensor_t **out, int *n,
                cv_error_t *err) {
  int fd, count = 0;
  size_t size;
  zip_end_t end;
  unsigned char *cd = NULL;
  cv_named_tensor_t *res = NULL;
  *out = NULL;
  *n = 0;
  int rc = cv_file_open_read(path, &fd, &size, err);
  if (rc) return rc;
  if ((rc = find_end(fd, size, path, &end, err))) goto done;
  if (end.entries > (uint64_t)INT32_MAX) {
    rc = zip_err(err, path, "too many members");
    goto done;
  }
  cd = malloc(end.cd_size ? (size_t)end.cd_size : 1);
  res = calloc(end.entries ? (size_t)end.entries : 1, sizeof *res);
  if (!cd || !res) {
    rc = cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for a zip directory");
    goto done;
  }
  if ((rc = cv_file_pread(fd, cd, (size_t)end.cd_size, (size_t)end.cd_off, path, err))) goto done;
  rc = load_entries(fd, size, path, cd, &end, max_bytes, res, &count, err);
done:
  close(fd);
  free(cd);
  if (rc) {
    cv_named_tensors_free(res, count);
    return rc;
  }
  if (count == 0) {
    free(res);
    res = NULL;
  }
  *out = res;
  *n = count;
  return 0;
}

/* ======================= writing ======================= */

static int wwrite(cv_npz_writer_t *w, const void *p, size_t n, cv_error_t *err) {
  int rc = cv_write_all(w->fd, p, n, "npz", err);
  if (rc) {
    w->failed = true;
    return rc;
  }
  w->offset += n;
  return 0;
}

int cv_npz_writer_open(cv_npz_writer_t *w, int fd, bool deflate, cv_error_t *err) {
  memset(w, 0, sizeof *w);
  w->fd = fd;
  w->deflate = deflate;
  off_t pos = lseek(fd, 0, SEEK_CUR);   /* fails on a pipe: the archive starts at 0 */
  w->base = pos > 0 ? (uint64_t)pos : 0;
  time_t now = time(NULL);
  struct tm tm;
  if (!localtime_r(&now, &tm) || tm.tm_year < 80) {
    memset(&tm, 0, sizeof tm);
    tm.tm_year = 80;
    tm.tm_mday = 1;
  }
  w->dos_time = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
  w->dos_date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
  if (deflate && !(w->buf = malloc(CV_NPZ_CHUNK)))
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for an npz writer");
  return 0;
}

/* Deflates n bytes (finish: and ends the stream), writing full chunks out. */
static int deflate_feed(cv_npz_writer_t *w, z_stream *zs, const void *p, size_t n, bool finish,
                        uint64_t *comp, cv_error_t *err) {
  zs->next_in = (Bytef *)(uintptr_t)p;
  zs->avail_in = (uInt)n;
  for (;;) {
    zs->next_out = w->buf;
    zs->avail_out = (uInt)CV_NPZ_CHUNK;
    int zr = deflate(zs, finish ? Z_FINISH : Z_NO_FLUSH);
    if (zr == Z_STREAM_ERROR) return cv_error_set(err, CV_EINTERNAL, NULL, "deflate failed");
    size_t have = CV_NPZ_CHUNK - zs->avail_out;
    int rc = have ? wwrite(w, w->buf, have, err) : 0;
    if (rc) return rc;
    *comp += have;
    if (finish ? zr == Z_STREAM_END : zs->avail_out != 0) return 0;
  }
}

/* Feeds n bytes of the member body: CRC, then stored or deflated out. */
static int body_feed(cv_npz_writer_t *w, const void *p, size_t n, cv_error_t *err) {
  const unsigned char *d = p;
  for (size_t off = 0; off < n; off += CV_NPZ_CHUNK) {
    size_t k = n - off < CV_NPZ_CHUNK ? n - off : CV_NPZ_CHUNK;
    w->crc = cv_crc32(w->crc, d + off, (uInt)k);
    int rc = w->deflate ? deflate_feed(w, w->zs, d + off, k, false, &w->comp, err) : wwrite(w, d + off, k, err);
    if (rc) return rc;
    if (!w->deflate) w->comp += k;
  }
  return 0;
}

static void member_drop(cv_npz_writer_t *w) {
  if (w->zs) {
    deflateEnd(w->zs);
    free(w->zs);
    w->zs = NULL;
  }
  w->in_member = false;
}

static int writer_fail(cv_npz_writer_t *w, int rc) {
  w->failed = true;
  member_drop(w);
  return rc;
}

int cv_npz_writer_begin(cv_npz_writer_t *w, const char *name, const cv_array_t *a, cv_error_t *err) {
  if (w->failed || w->finished || w->in_member)
    return cv_error_set(err, CV_EINTERNAL, NULL, "npz writer is %s",
                        w->failed ? "failed" : w->finished ? "finished" : "inside a member");
  size_t nl = name ? strlen(name) : 0, nbytes;
  if (nl == 0 || nl >= CV_NAME_MAX || strpbrk(name, "/\\"))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL,
                        "npz member name '%s' must be 1..%d bytes without '/' or '\\'",
                        name ? name : "", CV_NAME_MAX - 1);
  for (int i = 0; i < w->n; i++)
    if (strncmp(w->entries[i].name, name, nl) == 0 && strcmp(w->entries[i].name + nl, ".npy") == 0)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "duplicate npz member '%s'", name);
  int rc = cv_shape_check(a->dtype, a->ndim, a->shape, 0, &nbytes, NULL, err);
  if (rc) return rc;
  char hdr[CV_NPZ_HEADER_CAP];
  size_t hl = cv_npy_header(a, hdr, sizeof hdr);
  if (!hl) return cv_error_set(err, CV_EINTERNAL, NULL, "bad array for '%s'", name);
  if (w->n == w->cap) {
    int cap = w->cap ? 2 * w->cap : 16;
    cv_npz_entry_t *grown = realloc(w->entries, (size_t)cap * sizeof *grown);
    if (!grown) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for npz entries");
    w->entries = grown;
    w->cap = cap;
  }
  if (w->deflate) {
    if (!(w->zs = calloc(1, sizeof(z_stream))))
      return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory to deflate");
    if (deflateInit2((z_stream *)w->zs, CV_NPZ_DEFLATE_LEVEL, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
      free(w->zs);
      w->zs = NULL;
      return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory to deflate");
    }
  }
  cv_npz_entry_t *e = &w->entries[w->n];
  memset(e, 0, sizeof *e);
  snprintf(e->name, sizeof e->name, "%s.npy", name);
  e->uncomp = hl + nbytes;
  e->offset = w->base + w->offset;
  uint64_t bound = w->deflate ? e->uncomp + (e->uncomp >> 11) + 1024 : e->uncomp;
  e->zip64 = w->force_zip64 || bound >= ZIP_MAX32;

  unsigned char lh[ZIP_LOCAL_LEN + sizeof e->name + 20], *p = lh;
  size_t enl = strlen(e->name);
  p = put32(p, ZIP_SIG_LOCAL); p = put16(p, e->zip64 ? ZIP_VERSION64 : ZIP_VERSION);
  p = put16(p, ZIP_FLAG_DESCRIPTOR); p = put16(p, w->deflate ? ZIP_DEFLATED : ZIP_STORED);
  p = put16(p, w->dos_time); p = put16(p, w->dos_date);
  p = put32(p, 0);                               /* CRC and sizes follow the data */
  p = put32(p, e->zip64 ? ZIP_MAX32 : 0); p = put32(p, e->zip64 ? ZIP_MAX32 : 0);
  p = put16(p, (unsigned)enl); p = put16(p, e->zip64 ? 20 : 0);
  memcpy(p, e->name, enl);
  p += enl;
  if (e->zip64) {
    p = put16(p, ZIP_EXTRA_ZIP64); p = put16(p, 16); p = put64(p, 0); p = put64(p, 0);
  }
  w->in_member = true;
  w->crc = 0;
  w->comp = 0;
  w->data_left = nbytes;
  if ((rc = wwrite(w, lh, (size_t)(p - lh), err)) || (rc = body_feed(w, hdr, hl, err))) return writer_fail(w, rc);
  return 0;
}

int cv_npz_writer_data(cv_npz_writer_t *w, const void *p, size_t n, cv_error_t *err) {
  if (w->failed || !w->in_member)
    return cv_error_set(err, CV_EINTERNAL, NULL, "npz writer is %s", w->failed ? "failed" : "not inside a member");
  if (n > w->data_left)
    return writer_fail(w, cv_error_set(err, CV_EINTERNAL, NULL, "npz member '%s' got more data than its array holds",
                                       w->entries[w->n].name));
  if (n && !p) return writer_fail(w, cv_error_set(err, CV_EINTERNAL, NULL, "npz data without a buffer"));
  int rc = body_feed(w, p, n, err);
  if (rc) return writer_fail(w, rc);
  w->data_left -= n;
  return 0;
}

int cv_npz_writer_end(cv_npz_writer_t *w, cv_error_t *err) {
  if (w->failed || !w->in_member)
    return cv_error_set(err, CV_EINTERNAL, NULL, "npz writer is %s", w->failed ? "failed" : "not inside a member");
  cv_npz_entry_t *e = &w->entries[w->n];
  if (w->data_left)
    return writer_fail(w, cv_error_set(err, CV_EINTERNAL, NULL, "npz member '%s' ended %llu bytes short", e->name,
                                       (unsigned long long)w->data_left));
  int rc = w->deflate ? deflate_feed(w, w->zs, NULL, 0, true, &w->comp, err) : 0;
  if (rc) return writer_fail(w, rc);
  unsigned char dd[24], *p = put32(dd, ZIP_SIG_DESCRIPTOR);
  p = put32(p, (uint32_t)w->crc);
  if (e->zip64) {
    p = put64(p, w->comp); p = put64(p, e->uncomp);
  } else {
    p = put32(p, (uint32_t)w->comp); p = put32(p, (uint32_t)e->uncomp);
  }
  if ((rc = wwrite(w, dd, (size_t)(p - dd), err))) return writer_fail(w, rc);
  e->crc = (uint32_t)w->crc;
  e->comp = w->comp;
  w->n++;
  member_drop(w);
  return 0;
}

int cv_npz_writer_add(cv_npz_writer_t *w, const char *name, const cv_array_t *a, cv_error_t *err) {
  size_t nbytes = 0;
  int rc = cv_shape_check(a->dtype, a->ndim, a->shape, 0, &nbytes, NULL, err);
  if (rc) return rc;
  if (nbytes && !a->data) return cv_error_set(err, CV_EINTERNAL, NULL, "bad array for '%s'", name ? name : "");
  if ((rc = cv_npz_writer_begin(w, name, a, err))) return rc;
  if ((rc = cv_npz_writer_data(w, a->data, nbytes, err))) return rc;
  return cv_npz_writer_end(w, err);
}

/* One central directory entry (zip64 extra when sizes or the offset need it). */
static unsigned char *put_central(unsigned char *p, const cv_npz_entry_t *e, bool big_off, unsigned flags,
                                  unsigned method, unsigned dos_time, unsigned dos_date) {
  unsigned xlen = (e->zip64 ? 16u : 0u) + (big_off ? 8u : 0u);
  size_t enl = strlen(e->name);
  p = put32(p, ZIP_SIG_CENTRAL);
  p = put16(p, ZIP_MADE_BY_UNIX | ZIP_VERSION64);
  p = put16(p, e->zip64 || big_off ? ZIP_VERSION64 : ZIP_VERSION);
  p = put16(p, flags);
  p = put16(p, method);
  p = put16(p, dos_time);
  p = put16(p, dos_date);
  p = put32(p, e->crc);
  p = put32(p, e->zip64 ? ZIP_MAX32 : (uint32_t)e->comp);
  p = put32(p, e->zip64 ? ZIP_MAX32 : (uint32_t)e->uncomp);
  p = put16(p, (unsigned)enl);
  p = put16(p, xlen ? xlen + 4 : 0);
  p = put16(p, 0);   /* comment */
  p = put16(p, 0);   /* disk */
  p = put16(p, 0);   /* internal attributes */
  p = put32(p, ZIP_FILE_ATTR);
  p = put32(p, big_off ? ZIP_MAX32 : (uint32_t)e->offset);
  memcpy(p, e->name, enl);
  p += enl;
  if (xlen) {
    p = put16(p, ZIP_EXTRA_ZIP64);
    p = put16(p, xlen);
    if (e->zip64) {
      p = put64(p, e->uncomp);
      p = put64(p, e->comp);
    }
    if (big_off) p = put64(p, e->offset);
  }
  return p;
}

int cv_npz_writer_finish(cv_npz_writer_t *w, cv_error_t *err) {
  if (w->failed || w->finished || w->in_member)
    return cv_error_set(err, CV_EINTERNAL, NULL, "npz writer is %s", w->failed ? "failed" : "finished");
  size_t per = ZIP_CENTRAL_LEN + CV_NAME_MAX + 4 + 28;
  unsigned char *cd = malloc((size_t)w->n * per + ZIP_END64_LEN + ZIP_LOCATOR64_LEN + ZIP_END_LEN), *p = cd;
  if (!cd) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for the npz directory");
  uint64_t cd_off = w->base + w->offset;
  for (int i = 0; i < w->n; i++) {
    const cv_npz_entry_t *e = &w->entries[i];
    bool big_off = w->force_zip64 || e->offset >= ZIP_MAX32;
    p = put_central(p, e, big_off, ZIP_FLAG_DESCRIPTOR, w->deflate ? ZIP_DEFLATED : ZIP_STORED, w->dos_time,
                    w->dos_date);
  }
  uint64_t cd_size = (uint64_t)(p - cd), n = (uint64_t)w->n;
  bool z64 = w->force_zip64 || n >= ZIP_MAX16 || cd_off >= ZIP_MAX32 || cd_size >= ZIP_MAX32;
  if (z64) {
    uint64_t end64_off = cd_off + cd_size;
    p = put32(p, ZIP_SIG_END64); p = put64(p, ZIP_END64_LEN - 12);
    p = put16(p, ZIP_MADE_BY_UNIX | ZIP_VERSION64); p = put16(p, ZIP_VERSION64); p = put32(p, 0);
    p = put32(p, 0); p = put64(p, n); p = put64(p, n); p = put64(p, cd_size); p = put64(p, cd_off);
    p = put32(p, ZIP_SIG_LOCATOR64); p = put32(p, 0); p = put64(p, end64_off); p = put32(p, 1);
  }
  p = put32(p, ZIP_SIG_END); p = put16(p, 0); p = put16(p, 0);
  p = put16(p, z64 ? ZIP_MAX16 : (unsigned)n); p = put16(p, z64 ? ZIP_MAX16 : (unsigned)n);
  p = put32(p, z64 ? ZIP_MAX32 : (uint32_t)cd_size);
  p = put32(p, z64 ? ZIP_MAX32 : (uint32_t)cd_off); p = put16(p, 0);
  int rc = wwrite(w, cd, (size_t)(p - cd), err);
  free(cd);
  if (!rc) w->finished = true;
  return rc;
}

void cv_npz_writer_close(cv_npz_writer_t *w) {
  member_drop(w);
  free(w->entries);
  free(w->buf);
  w->entries = NULL;
  w->buf = NULL;
  w->n = w->cap = 0;
}

int cv_npz_save(const char *path, const cv_io_t *arrays, int n, bool deflate, cv_error_t *err) {
  cv_outfile_t f;
  cv_npz_writer_t w;
  int rc = cv_outfile_open(&f, path, err);
  if (rc) {
    cv_outfile_close(&f);
    return rc;
  }
  rc = cv_npz_writer_open(&w, f.fd, deflate, err);
  for (int i = 0; i < n && !rc; i++) rc = cv_npz_writer_add(&w, arrays[i].name, &arrays[i].a, err);
  if (!rc) rc = cv_npz_writer_finish(&w, err);
  if (!rc) rc = cv_outfile_commit(&f, err);
  cv_npz_writer_close(&w);
  cv_outfile_close(&f);
  return rc;
}

/* ======================= in-memory layout ======================= */

static uint32_t crc_bytes(uLong crc, const void *p, size_t n) {
  const unsigned char *d = p;
  for (size_t off = 0; off < n; off += CV_NPZ_CHUNK)
    crc = cv_crc32(crc, d + off, (uInt)(n - off < CV_NPZ_CHUNK ? n - off : CV_NPZ_CHUNK));
  return (uint32_t)crc;
}

uint32_t cv_npz_member_crc(const cv_array_t *a) {
  char hdr[CV_NPZ_HEADER_CAP];
  size_t hl = cv_npy_header(a, hdr, sizeof hdr), nbytes = 0;
  cv_error_t err;
  if (!hl || cv_shape_check(a->dtype, a->ndim, a->shape, 0, &nbytes, NULL, &err)) return 0;
  uLong crc = crc_bytes(0, hdr, hl);
  return nbytes && a->data ? crc_bytes(crc, a->data, nbytes) : (uint32_t)crc;
}

void cv_npz_layout_free(cv_npz_layout_t *l) {
  if (!l) return;
  free(l->segs);
  free(l->meta);
  memset(l, 0, sizeof *l);
}

int cv_npz_layout(const cv_io_t *arrays, int n, const uint32_t *crcs, cv_npz_layout_t *out, cv_error_t *err) {
  memset(out, 0, sizeof *out);
  const size_t local_max = ZIP_LOCAL_LEN + CV_NAME_MAX + 4 + 20 + CV_NPZ_HEADER_CAP;
  const size_t central_max = ZIP_CENTRAL_LEN + CV_NAME_MAX + 4 + 28;
  size_t n_ = n > 0 ? (size_t)n : 0;
  cv_npz_entry_t *ents = calloc(n_ ? n_ : 1, sizeof *ents);
  out->segs = calloc(2 * n_ + 1, sizeof *out->segs);
  out->meta = malloc(n_ * (local_max + central_max) + ZIP_END64_LEN + ZIP_LOCATOR64_LEN + ZIP_END_LEN);
  if (!ents || !out->segs || !out->meta) {
    free(ents);
    cv_npz_layout_free(out);
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory to lay out an .npz");
  }
  unsigned char *p = out->meta;
  uint64_t off = 0;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    const cv_array_t *a = &arrays[i].a;
    const char *name = arrays[i].name;
    size_t nl = strlen(name), nbytes = 0;
    if (nl == 0 || nl >= CV_NAME_MAX || strpbrk(name, "/\\")) {
      rc = cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "npz member name '%s' must be 1..%d bytes without '/' or '\\'",
                        name, CV_NAME_MAX - 1);
      break;
    }
    for (int k = 0; k < i && !rc; k++)
      if (strcmp(arrays[k].name, name) == 0)
        rc = cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "duplicate npz member '%s'", name);
    if (rc || (rc = cv_shape_check(a->dtype, a->ndim, a->shape, 0, &nbytes, NULL, err))) break;
    cv_npz_entry_t *e = &ents[i];
    snprintf(e->name, sizeof e->name, "%s.npy", name);
    size_t enl = strlen(e->name);
    unsigned char *lh = p;
    char hdr[CV_NPZ_HEADER_CAP];
    size_t hl = cv_npy_header(a, hdr, sizeof hdr);
    if (!hl || (nbytes && !a->data)) {
      rc = cv_error_set(err, CV_EINTERNAL, NULL, "bad array for '%s'", name);
      break;
    }
    e->uncomp = e->comp = hl + nbytes;
    e->offset = off;
    e->zip64 = e->uncomp >= ZIP_MAX32;
    e->crc = crcs ? crcs[i] : cv_npz_member_crc(a);
    p = put32(p, ZIP_SIG_LOCAL); p = put16(p, e->zip64 ? ZIP_VERSION64 : ZIP_VERSION);
    p = put16(p, 0); p = put16(p, ZIP_STORED);
    p = put16(p, 0); p = put16(p, (1 << 5) | 1);   /* 1980-01-01 00:00: responses carry no file time */
    p = put32(p, e->crc);
    p = put32(p, e->zip64 ? ZIP_MAX32 : (uint32_t)e->comp); p = put32(p, e->zip64 ? ZIP_MAX32 : (uint32_t)e->uncomp);
    p = put16(p, (unsigned)enl); p = put16(p, e->zip64 ? 20 : 0);
    memcpy(p, e->name, enl);
    p += enl;
    if (e->zip64) {
      p = put16(p, ZIP_EXTRA_ZIP64); p = put16(p, 16); p = put64(p, e->uncomp); p = put64(p, e->comp);
    }
    memcpy(p, hdr, hl);
    p += hl;
    out->segs[out->n_segs++] = (cv_npz_seg_t){lh, (size_t)(p - lh)};
    if (nbytes) out->segs[out->n_segs++] = (cv_npz_seg_t){a->data, nbytes};
    off += (uint64_t)(p - lh) + nbytes;
  }
  if (rc) {
    free(ents);
    cv_npz_layout_free(out);
    return rc;
  }
  unsigned char *cd = p;
  uint64_t cd_off = off;
  for (int i = 0; i < n; i++) {
    const cv_npz_entry_t *e = &ents[i];
    bool big_off = e->offset >= ZIP_MAX32;
    p = put_central(p, e, big_off, 0, ZIP_STORED, 0, (1 << 5) | 1);   /* 1980-01-01, 00:00 */
  }
  uint64_t cd_size = (uint64_t)(p - cd), cnt = (uint64_t)n_;
  bool z64 = cnt >= ZIP_MAX16 || cd_off >= ZIP_MAX32 || cd_size >= ZIP_MAX32;
  if (z64) {
    p = put32(p, ZIP_SIG_END64); p = put64(p, ZIP_END64_LEN - 12);
    p = put16(p, ZIP_MADE_BY_UNIX | ZIP_VERSION64); p = put16(p, ZIP_VERSION64); p = put32(p, 0);
    p = put32(p, 0); p = put64(p, cnt); p = put64(p, cnt); p = put64(p, cd_size); p = put64(p, cd_off);
    p = put32(p, ZIP_SIG_LOCATOR64); p = put32(p, 0); p = put64(p, cd_off + cd_size); p = put32(p, 1);
  }
  p = put32(p, ZIP_SIG_END); p = put16(p, 0); p = put16(p, 0);
  p = put16(p, z64 ? ZIP_MAX16 : (unsigned)cnt); p = put16(p, z64 ? ZIP_MAX16 : (unsigned)cnt);
  p = put32(p, z64 ? ZIP_MAX32 : (uint32_t)cd_size);
  p = put32(p, z64 ? ZIP_MAX32 : (uint32_t)cd_off); p = put16(p, 0);
  out->segs[out->n_segs++] = (cv_npz_seg_t){cd, (size_t)(p - cd)};
  out->size = off + (uint64_t)(p - cd);
  free(ents);
  return 0;
}
