/* errors.c — names, statuses and messages for the CV_ERR_MAP table, and the
 * cv_error_t helpers. Pure functions; any thread. */
#include "errors.h"

#include <stdio.h>
#include <string.h>

static int norm(int code) { return code < 0 ? -code : code; }

const char *cv_err_name(int code) {
  switch ((cv_err_t)norm(code)) {
    case CV_OK: return "ok";
#define XX(uc, wire, http, msg) case CV_E##uc: return wire;
    CV_ERR_MAP(XX)
#undef XX
    case CV_ERR_COUNT: break;
  }
  return "internal";
}

int cv_err_http(int code) {
  switch ((cv_err_t)norm(code)) {
    case CV_OK: return 200;
#define XX(uc, wire, http, msg) case CV_E##uc: return http;
    CV_ERR_MAP(XX)
#undef XX
    case CV_ERR_COUNT: break;
  }
  return 500;
}

const char *cv_strerror(int code) {
  switch ((cv_err_t)norm(code)) {
    case CV_OK: return "success";
#define XX(uc, wire, http, msg) case CV_E##uc: return msg;
    CV_ERR_MAP(XX)
#undef XX
    case CV_ERR_COUNT: break;
  }
  return "unknown error";
}

int cv_error_vset(cv_error_t *e, cv_err_t code, const char *field, const char *fmt, va_list ap) {
  if (e) {
    e->code = code;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    if (fmt)
      vsnprintf(e->message, sizeof e->message, fmt, ap);
    else
      snprintf(e->message, sizeof e->message, "%s", cv_strerror(code));
  }
  return -(int)code;
}

int cv_error_set(cv_error_t *e, cv_err_t code, const char *field, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = cv_error_vset(e, code, field, fmt, ap);
  va_end(ap);
  return rc;
}

void cv_error_clear(cv_error_t *e) {
  if (e) memset(e, 0, sizeof *e);
}
