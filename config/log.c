/* log.c — formats text and JSON log lines (JSON string escaping, UTF-8
 * checked), writes each under the logger's mutex with one write(2), and makes
 * request ids from cv_rand_u64 (thread-local xoshiro256**).
 * Called from every thread; the only shared state is the cv_logger_t. */
#include "log.h"

#include "../kernels/rand.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../proto/errors.h"

#define CV_LOG_FIELD_MAX 128   /* rid, job, dev, method, remote: longer values are cut */
#define CV_LOG_PATH_MAX 1024   /* access-log path */
/* Worst case: every byte escaped as \u00XX (6 bytes), plus keys and numbers. */
#define CV_LOG_LINE_MAX (6 * (CV_LOG_MSG_MAX + CV_LOG_PATH_MAX + 5 * CV_LOG_FIELD_MAX) + 1024)

const char *cv_log_level_name(cv_log_level_t level) {
  switch (level) {
#define XX(uc, lc, tag) case CV_LOG_##uc: return #lc;
    CV_LOG_LEVEL_MAP(XX)
#undef XX
    case CV_LOG_LEVEL_COUNT: break;
  }
  return "?";
}

static const char *level_tag(cv_log_level_t level) {
  switch (level) {
#define XX(uc, lc, tag) case CV_LOG_##uc: return tag;
    CV_LOG_LEVEL_MAP(XX)
#undef XX
    case CV_LOG_LEVEL_COUNT: break;
  }
  return "?    ";
}

const char *cv_log_format_name(cv_log_format_t format) {
  switch (format) {
#define XX(uc, lc) case CV_LOG_FORMAT_##uc: return #lc;
    CV_LOG_FORMAT_MAP(XX)
#undef XX
    case CV_LOG_FORMAT_COUNT: break;
  }
  return "?";
}

int cv_log_init(cv_logger_t *lg, int fd, cv_log_level_t level, cv_log_format_t format) {
  if (!lg || fd < 0 || (unsigned)level >= CV_LOG_LEVEL_COUNT || (unsigned)format >= CV_LOG_FORMAT_COUNT)
    return -CV_EINVALID_ARGUMENT;
  atomic_init(&lg->level, (int)level);
  lg->format = format;
  lg->fd = fd;
  if (pthread_mutex_init(&lg->mu, NULL) != 0) return -CV_EINTERNAL;
  return 0;
}

void cv_log_destroy(cv_logger_t *lg) {
  if (lg) pthread_mutex_destroy(&lg->mu);
}

void cv_log_set_level(cv_logger_t *lg, cv_log_level_t level) {
  if (lg && (unsigned)level < CV_LOG_LEVEL_COUNT)
    atomic_store_explicit(&lg->level, (int)level, memory_order_relaxed);
}

/* ---- line buffer ---- */

typedef struct {
  char *p;
  size_t n, cap;   /* cap includes room for the final '\n' */
} buf_t;

static void put(buf_t *b, const char *s, size_t n) {
  if (n > b->cap - b->n) n = b->cap - b->n;
  memcpy(b->p + b->n, s, n);
  b->n += n;
}
static void puts_(buf_t *b, const char *s) { put(b, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static int utf8_len(const unsigned char *s, size_t avail) {
  unsigned c = s[0];
  int n;
  unsigned cp, min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07, min = 0x10000;
  else return 0;
  if ((size_t)n > avail) return 0;
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

/* Appends s escaped: JSON string rules when json (without the quotes), else
 * the same escapes for control characters only, so a text line stays one
 * line. Bytes that are not UTF-8 become U+FFFD. */
static void put_escaped(buf_t *b, const char *str, bool json, size_t max) {
  const unsigned char *s = (const unsigned char *)str;
  size_t len = strnlen(str, max);
  for (size_t i = 0; i < len;) {
    unsigned c = s[i];
    char esc[8];
    const char *e = NULL;
    if (c == '"' && json) e = "\\\"";
    else if (c == '\\' && json) e = "\\\\";
    else if (c == '\n') e = "\\n";
    else if (c == '\r') e = "\\r";
    else if (c == '\t') e = "\\t";
    else if (c == '\b') e = "\\b";
    else if (c == '\f') e = "\\f";
    else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      e = esc;
    }
    if (e) {
      puts_(b, e);
      i++;
      continue;
    }
    int n = utf8_len(s + i, len - i);
    if (n == 0) {
      puts_(b, json ? "\\ufffd" : "\xEF\xBF\xBD");
      i++;
    } else {
      put(b, (const char *)s + i, (size_t)n);
      i += (size_t)n;
    }
  }
}

static void put_json_str(buf_t *b, const char *key, const char *val, size_t max) {
  puts_(b, ",\"");
  puts_(b, key);
  puts_(b, "\":");
  if (!val) {
    puts_(b, "null");
    return;
  }
  puts_(b, "\"");
  put_escaped(b, val, true, max);
  puts_(b, "\"");
}

static void put_timestamp(buf_t *b) {
  struct timespec ts;
  struct tm tm;
  char t[96];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(t, sizeof t, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
  puts_(b, t);
}

/* Head of a line: text `ts LEVEL [rid] job=… dev=… `, JSON `{"ts":…,"msg":"…"`. */
static void put_head(buf_t *b, cv_logger_t *lg, cv_log_level_t level, const char *rid,
                     const char *job, const char *dev, const char *msg) {
  if (lg->format == CV_LOG_FORMAT_JSON) {
    puts_(b, "{\"ts\":\"");
    put_timestamp(b);
    puts_(b, "\"");
    put_json_str(b, "level", cv_log_level_name(level), CV_LOG_FIELD_MAX);
    put_json_str(b, "rid", rid, CV_LOG_FIELD_MAX);
    put_json_str(b, "job", job, CV_LOG_FIELD_MAX);
    put_json_str(b, "dev", dev, CV_LOG_FIELD_MAX);
    put_json_str(b, "msg", msg, CV_LOG_MSG_MAX);
    return;
  }
  put_timestamp(b);
  puts_(b, " ");
  puts_(b, level_tag(level));
  puts_(b, " [");
  put_escaped(b, rid ? rid : "-", false, CV_LOG_FIELD_MAX);
  puts_(b, "] ");
  if (job) {
    puts_(b, "job=");
    put_escaped(b, job, false, CV_LOG_FIELD_MAX);
    puts_(b, " ");
  }
  if (dev) {
    puts_(b, "dev=");
    put_escaped(b, dev, false, CV_LOG_FIELD_MAX);
    puts_(b, " ");
  }
  put_escaped(b, msg, false, CV_LOG_MSG_MAX);
}

/* Ends the line and writes it with one write(2) (looping only on a short
 * write or EINTR) under the mutex. Errors are dropped: logging never fails
 * a request. */
static void emit(cv_logger_t *lg, buf_t *b) {
  if (lg->format == CV_LOG_FORMAT_JSON) puts_(b, "}");
  b->cap += 1;   /* the reserved byte */
  puts_(b, "\n");
  pthread_mutex_lock(&lg->mu);
  size_t off = 0;
  while (off < b->n) {
    ssize_t w = write(lg->fd, b->p + off, b->n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  pthread_mutex_unlock(&lg->mu);
}

static void format_msg(char *msg, const char *fmt, va_list ap) {
  int n = vsnprintf(msg, CV_LOG_MSG_MAX, fmt, ap);
  if (n < 0) snprintf(msg, CV_LOG_MSG_MAX, "(bad log format)");
  else if (n >= CV_LOG_MSG_MAX) memcpy(msg + CV_LOG_MSG_MAX - 4, "...", 4);
}

void cv_log_write(cv_logger_t *lg, cv_log_level_t level, const char *rid, const char *job,
                  const char *dev, const char *fmt, ...) {
  if (!cv_log_enabled(lg, level) || !fmt) return;
  char msg[CV_LOG_MSG_MAX], line[CV_LOG_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  format_msg(msg, fmt, ap);
  va_end(ap);
  buf_t b = {line, 0, sizeof line - 1};
  put_head(&b, lg, level, rid, job, dev, msg);
  emit(lg, &b);
}

void cv_log_access(cv_logger_t *lg, const char *rid, const char *method, const char *path,
                   int status, uint64_t bytes_in, uint64_t bytes_out, double duration_s,
                   const char *remote) {
  if (!cv_log_enabled(lg, CV_LOG_INFO)) return;
  char p[CV_LOG_PATH_MAX], msg[CV_LOG_MSG_MAX], num[160], line[CV_LOG_LINE_MAX];
  if (!isfinite(duration_s)) duration_s = 0;   /* keep the JSON valid */
  method = method ? method : "-";
  remote = remote ? remote : "-";
  snprintf(p, sizeof p, "%.*s", (int)strcspn(path ? path : "-", "?"), path ? path : "-");
  buf_t b = {line, 0, sizeof line - 1};
  if (lg->format == CV_LOG_FORMAT_JSON) {
    snprintf(msg, sizeof msg, "%.128s %s %d", method, p, status);
    put_head(&b, lg, CV_LOG_INFO, rid, NULL, NULL, msg);
    put_json_str(&b, "method", method, CV_LOG_FIELD_MAX);
    put_json_str(&b, "path", p, sizeof p);
    snprintf(num, sizeof num, ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_s\":%.6f",
             status, (unsigned long long)bytes_in, (unsigned long long)bytes_out, duration_s);
    puts_(&b, num);
    put_json_str(&b, "remote", remote, CV_LOG_FIELD_MAX);
  } else {
    snprintf(msg, sizeof msg, "%.128s \"%.128s %s\" %d in=%llu out=%llu %.6fs", remote, method, p, status,
             (unsigned long long)bytes_in, (unsigned long long)bytes_out, duration_s);
    put_head(&b, lg, CV_LOG_INFO, rid, NULL, NULL, msg);
  }
  emit(lg, &b);
}

/* ---- request ids ---- */

void cv_request_id_make(char out[33]) {
  static const char hex[] = "0123456789abcdef";
  for (int w = 0; w < 2; w++) {
    uint64_t x = cv_rand_u64();
    for (int i = 0; i < 16; i++) out[w * 16 + i] = hex[(x >> (60 - 4 * i)) & 0xF];
  }
  out[32] = '\0';
}

bool cv_request_id_valid(const char *id) {
  if (!id) return false;
  size_t n = 0;
  for (; id[n]; n++) {
    unsigned char c = (unsigned char)id[n];
    if (n >= CV_REQUEST_ID_MAX || c <= 0x20 || c >= 0x7F || c == '"' || c == '\'' || c == '\\')
      return false;
  }
  return n > 0;
}
