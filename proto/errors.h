/* errors.h — the one table of convoy error codes (design.md §3).
 * CV_ERR_MAP generates the enum, wire names, HTTP statuses and default texts.
 * Functions across convoy return 0 or -CV_E…; details travel in cv_error_t.
 * A leaf header: every layer (kernels included) may include it. */
#ifndef CV_ERRORS_H
#define CV_ERRORS_H

#include <stdarg.h>

/* XX(enum suffix, wire code, HTTP status, default message) */
#define CV_ERR_MAP(XX)                                                              \
  XX(INVALID_JSON, "invalid_json", 400, "body or spec is not JSON")                 \
  XX(INVALID_ARGUMENT, "invalid_argument", 400, "a field has a bad type or value")  \
  XX(UNSUPPORTED_OP, "unsupported_op", 400, "unknown op")                           \
  XX(UNSUPPORTED_DTYPE, "unsupported_dtype", 400, "dtype not supported by the op")  \
  XX(SHAPE_MISMATCH, "shape_mismatch", 400, "inputs disagree")                      \
  XX(UNAUTHORIZED, "unauthorized", 401, "missing or invalid API key")               \
  XX(NOT_FOUND, "not_found", 404, "not found")                                      \
  XX(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "method not allowed")           \
  XX(NOT_ACCEPTABLE, "not_acceptable", 406, "Accept cannot be met")                 \
  XX(CONFLICT, "conflict", 409, "conflict")                                         \
  XX(GONE, "gone", 410, "the result expired")                                       \
  XX(PAYLOAD_TOO_LARGE, "payload_too_large", 413, "payload too large")              \
  XX(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, "unsupported Content-Type") \
  XX(QUEUE_FULL, "queue_full", 429, "queue is full")                                \
  XX(SHUTTING_DOWN, "shutting_down", 503, "server is draining")                     \
  XX(INSUFFICIENT_STORAGE, "insufficient_storage", 507, "out of storage")           \
  XX(DEADLINE_EXCEEDED, "deadline_exceeded", 504, "deadline exceeded")              \
  XX(CANCELLED, "cancelled", 409, "job cancelled")                                  \
  XX(OUT_OF_MEMORY, "out_of_memory", 503, "out of memory")                          \
  XX(INTERNAL, "internal", 500, "internal error")

typedef enum {
  CV_OK = 0,
#define XX(uc, wire, http, msg) CV_E##uc,
  CV_ERR_MAP(XX)
#undef XX
  CV_ERR_COUNT
} cv_err_t;

#define CV_ERR_FIELD_MAX 128
#define CV_ERR_MSG_MAX 256

/* Details of one failure: the code, the dotted JSON path of the offending
 * field ("" when none) and a human message. Owned by the caller. */
typedef struct cv_error_s {
  cv_err_t code;
  char field[CV_ERR_FIELD_MAX];
  char message[CV_ERR_MSG_MAX];
} cv_error_t;

const char *cv_err_name(int code);   /* wire code; accepts code or -code */
int cv_err_http(int code);           /* HTTP status */
const char *cv_strerror(int code);   /* default message */

/* Fills *e (when e is not NULL) and returns -code, so callers can write
 * `return cv_error_set(err, CV_EINVALID_ARGUMENT, "level", "must be >= 0");`.
 * field may be NULL. fmt may be NULL (default message). */
int cv_error_set(cv_error_t *e, cv_err_t code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int cv_error_vset(cv_error_t *e, cv_err_t code, const char *field, const char *fmt, va_list ap);
void cv_error_clear(cv_error_t *e);

#endif
