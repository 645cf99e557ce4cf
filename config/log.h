/* log.h — convoyd's one logger: levels error < warn < info < debug, text or
 * JSON lines (ts level rid job dev msg), an access-log helper and request ids.
 * A cv_logger_t is shared by every thread: a mutex keeps lines whole and each
 * line leaves in one write(2). Never log request bodies, tensor data or API
 * keys: callers pass only ids, paths (the access log drops query strings),
 * sizes and messages. */
#ifndef CV_LOG_H
#define CV_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* XX(enum suffix, config name, text tag padded to 5) — a lower level number
 * is more severe; a line is written when its level <= the logger's level. */
#define CV_LOG_LEVEL_MAP(XX)       \
  XX(ERROR, error, "ERROR")        \
  XX(WARN, warn, "WARN ")          \
  XX(INFO, info, "INFO ")          \
  XX(DEBUG, debug, "DEBUG")

typedef enum {
#define XX(uc, lc, tag) CV_LOG_##uc,
  CV_LOG_LEVEL_MAP(XX)
#undef XX
  CV_LOG_LEVEL_COUNT
} cv_log_level_t;

/* XX(enum suffix, config name) */
#define CV_LOG_FORMAT_MAP(XX) \
  XX(TEXT, text)              \
  XX(JSON, json)

typedef enum {
#define XX(uc, lc) CV_LOG_FORMAT_##uc,
  CV_LOG_FORMAT_MAP(XX)
#undef XX
  CV_LOG_FORMAT_COUNT
} cv_log_format_t;

#define CV_LOG_MSG_MAX 2048      /* a formatted message longer than this is cut, ending "..." */
#define CV_REQUEST_ID_MAX 64     /* longest client X-Request-Id honoured */

typedef struct cv_logger_s {
  _Atomic int level;             /* cv_log_level_t; cv_log_set_level changes it at any time */
  cv_log_format_t format;
  int fd;                        /* not owned: never closed by the logger */
  pthread_mutex_t mu;            /* one line at a time */
} cv_logger_t;

const char *cv_log_level_name(cv_log_level_t level);     /* "info" */
const char *cv_log_format_name(cv_log_format_t format);  /* "json" */

/* fd is usually STDERR_FILENO. Returns 0 or -CV_EINVALID_ARGUMENT (bad level,
 * format or fd) / -CV_EINTERNAL (mutex). */
int cv_log_init(cv_logger_t *lg, int fd, cv_log_level_t level, cv_log_format_t format);
void cv_log_destroy(cv_logger_t *lg);
void cv_log_set_level(cv_logger_t *lg, cv_log_level_t level);   /* SIGHUP reload; any thread */

/* True when a line of `level` would be written (lg may be NULL: never). */
static inline bool cv_log_enabled(cv_logger_t *lg, cv_log_level_t level) {
  return lg && (int)level <= atomic_load_explicit(&lg->level, memory_order_relaxed);
}

/* Writes one line. rid, job and dev may be NULL (text: "-" / left out;
 * JSON: null). Prefer the macros, which skip the arguments when disabled. */
void cv_log_write(cv_logger_t *lg, cv_log_level_t level, const char *rid, const char *job,
                  const char *dev, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* cv_log(lg, CV_LOG_INFO, rid, "fmt", …): lg and level are evaluated once;
 * the format arguments only when the level is enabled (Redis serverLog). */
#define cv_log(lg, level, rid, ...)                                          \
  do {                                                                       \
    cv_logger_t *cv_lg_ = (lg);                                              \
    cv_log_level_t cv_lv_ = (level);                                         \
    if (cv_log_enabled(cv_lg_, cv_lv_)) cv_log_write(cv_lg_, cv_lv_, rid, NULL, NULL, __VA_ARGS__); \
  } while (0)

/* A line about one job on one device ("cpu", "cuda:0"). */
#define cv_log_job(lg, level, rid, job_id, dev, ...)                         \
  do {                                                                       \
    cv_logger_t *cv_lg_ = (lg);                                              \
    cv_log_level_t cv_lv_ = (level);                                         \
    if (cv_log_enabled(cv_lg_, cv_lv_)) cv_log_write(cv_lg_, cv_lv_, rid, job_id, dev, __VA_ARGS__); \
  } while (0)

/* One access-log line at info: method, path (anything from '?' on is
 * dropped), status, bytes read and written, seconds, remote address.
 * Text: `… INFO  [rid] 127.0.0.1 "POST /v1/jobs" 200 in=10 out=20 0.001234s`.
 * JSON adds "method","path","status","bytes_in","bytes_out","duration_s","remote". */
void cv_log_access(cv_logger_t *lg, const char *rid, const char *method, const char *path,
                   int status, uint64_t bytes_in, uint64_t bytes_out, double duration_s,
                   const char *remote);

/* ---- request ids ---- */

/* 32 lower-case hex digits + NUL (128 random bits, like nginx $request_id)
 * from a per-thread PRNG seeded from getentropy; no locks, no globals. */
void cv_request_id_make(char out[33]);

/* Whether a client's X-Request-Id may be used as is: 1..64 printable ASCII
 * characters, none of them space, '"', '\'' or '\\'. */
bool cv_request_id_valid(const char *client_id);

#endif
