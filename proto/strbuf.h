/* strbuf.h — a growable, NUL-terminated text buffer with a byte cap, for
 * JSON written by hand (tensor data, job JSON). curl's dynbuf contract: init
 * cannot fail; an append past the cap or out of memory frees the buffer and
 * fails every later append, so the caller has nothing to clean up but may
 * still call cv_strbuf_free. Not thread-safe: one owner at a time. */
#ifndef CV_STRBUF_H
#define CV_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cv_strbuf_s {
  char *data;    /* NUL-terminated text, NULL until the first append */
  size_t len;    /* bytes, NUL excluded */
  size_t cap;    /* bytes allocated */
  size_t max;    /* largest len allowed; 0 = no cap */
  int failed;    /* 0, or the -CV_E… code that emptied the buffer */
} cv_strbuf_t;

void cv_strbuf_init(cv_strbuf_t *sb, size_t max);
/* Starts sb on buf, a malloc'd block of cap bytes it now owns (NULL: as init). */
void cv_strbuf_init_buf(cv_strbuf_t *sb, size_t max, char *buf, size_t cap);
/* Ensures room for extra more bytes (and the NUL) without further growth.
 * 0, -CV_EPAYLOAD_TOO_LARGE past max, -CV_EOUT_OF_MEMORY. */
int cv_strbuf_reserve(cv_strbuf_t *sb, size_t extra);
int cv_strbuf_append(cv_strbuf_t *sb, const void *s, size_t n);
int cv_strbuf_puts(cv_strbuf_t *sb, const char *s);
int cv_strbuf_putc(cv_strbuf_t *sb, char c);
int cv_strbuf_printf(cv_strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string (escaping ", \ and control characters;
 * other bytes, UTF-8 included, pass through). */
int cv_strbuf_json_string(cv_strbuf_t *sb, const char *s);
/* After a cv_strbuf_reserve(sb, k): the k writable bytes at the end, and the
 * commit of the n <= k of them that were written. */
static inline char *cv_strbuf_tail(cv_strbuf_t *sb) { return sb->data + sb->len; }
static inline void cv_strbuf_commit(cv_strbuf_t *sb, size_t n) {
  sb->len += n;
  sb->data[sb->len] = '\0';
}
/* Hands the text over (the caller frees it with free()); the buffer is
 * empty afterwards. NULL when it failed or is empty and unallocated. */
char *cv_strbuf_take(cv_strbuf_t *sb, size_t *len);
void cv_strbuf_free(cv_strbuf_t *sb);   /* safe twice */

#endif
