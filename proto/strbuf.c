/* strbuf.c — growable text buffer with a cap (see strbuf.h). Single owner. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

#define CV_STRBUF_MIN 256

void cv_strbuf_init(cv_strbuf_t *sb, size_t max) {
  memset(sb, 0, sizeof *sb);
  sb->max = max;
}

void cv_strbuf_init_buf(cv_strbuf_t *sb, size_t max, char *buf, size_t cap) {
  cv_strbuf_init(sb, max);
  if (!buf || cap == 0) return;
  sb->data = buf;
  sb->cap = cap;
  buf[0] = '\0';
}

static int fail(cv_strbuf_t *sb, int rc) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
  sb->failed = rc;
  return rc;
}

int cv_strbuf_reserve(cv_strbuf_t *sb, size_t extra) {
  if (sb->failed) return sb->failed;
  if (extra > SIZE_MAX / 2 - sb->len) return fail(sb, -CV_EOUT_OF_MEMORY);
  size_t need = sb->len + extra + 1;
  if (need <= sb->cap) return 0;
  if (sb->max && need - 1 > sb->max) return fail(sb, -CV_EPAYLOAD_TOO_LARGE);
  size_t cap = sb->cap ? sb->cap : CV_STRBUF_MIN;
  while (cap < need) cap *= 2;
  if (sb->max && cap > sb->max + 1) cap = sb->max + 1;
  char *p = realloc(sb->data, cap);
  if (!p) return fail(sb, -CV_EOUT_OF_MEMORY);
  if (!sb->data) p[0] = '\0';
  sb->data = p;
  sb->cap = cap;
  return 0;
}

int cv_strbuf_append(cv_strbuf_t *sb, const void *s, size_t n) {
  int rc = cv_strbuf_reserve(sb, n);
  if (rc) return rc;
  memcpy(sb->data + sb->len, s, n);
  cv_strbuf_commit(sb, n);
  return 0;
}

int cv_strbuf_puts(cv_strbuf_t *sb, const char *s) { return cv_strbuf_append(sb, s, strlen(s)); }

int cv_strbuf_putc(cv_strbuf_t *sb, char c) { return cv_strbuf_append(sb, &c, 1); }

int cv_strbuf_printf(cv_strbuf_t *sb, const char *fmt, ...) {
  if (sb->failed) return sb->failed;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return fail(sb, -CV_EINTERNAL);
  int rc = cv_strbuf_reserve(sb, (size_t)n);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb->len += (size_t)n;
  return 0;
}

int cv_strbuf_json_string(cv_strbuf_t *sb, const char *s) {
  static const char HEX[] = "0123456789abcdef";
  int rc = cv_strbuf_putc(sb, '"');
  for (const unsigned char *p = (const unsigned char *)s; !rc && *p; p++) {
    const unsigned char *run = p;
    while (*p >= 0x20 && *p != '"' && *p != '\\') p++;
    if (p > run) rc = cv_strbuf_append(sb, run, (size_t)(p - run));
    if (rc || !*p) break;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (*p) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = HEX[*p >> 4];
        esc[5] = HEX[*p & 15];
        n = 6;
    }
    rc = cv_strbuf_append(sb, esc, n);
    if (!*p) break;
  }
  return rc ? rc : cv_strbuf_putc(sb, '"');
}

char *cv_strbuf_take(cv_strbuf_t *sb, size_t *len) {
  char *p = sb->failed ? NULL : sb->data;
  if (len) *len = p ? sb->len : 0;
  sb->data = NULL;
  sb->len = sb->cap = 0;
  return p;
}

void cv_strbuf_free(cv_strbuf_t *sb) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
}
