/* h_tensors.c — stored tensors: POST /v1/tensors (an .npy body streamed into
 * a tensor, then stored: 201 + Location, 507 when the store is full),
 * GET /v1/tensors/{id} (.npy, or JSON when Accept asks), DELETE (204).
 * MHD threads. */
#include <stdio.h>
#include <string.h>

#include "server.h"

static const cv_fmt_t tensor_offers[] = {CV_FMT_NPY, CV_FMT_JSON};

int cv_h_tensors_post(cv_req_t *r) {
  cv_server_t *s = r->srv;
  cv_tensor_t *t = NULL;
  int rc = cv_npy_sink_finish(&r->npy, &t, &r->err);
  if (rc) return rc;
  char id[CV_STORE_ID_MAX];
  rc = cv_store_put_tensor(&s->store, t, id);
  if (rc) {
    cv_tensor_unref(t);
    if (rc == -CV_EINSUFFICIENT_STORAGE)
      return cv_error_set(&r->err, CV_EINSUFFICIENT_STORAGE, NULL,
                          "the tensor store is full (result_store_bytes %llu)",
                          (unsigned long long)s->cfg.result_store_bytes);
    return cv_error_set(&r->err, (cv_err_t)-rc, NULL, "cannot store the tensor");
  }
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  cv_strbuf_printf(&sb, "{\"id\":\"%s\",\"shape\":[", id);
  for (int d = 0; d < t->a.ndim; d++) cv_strbuf_printf(&sb, "%s%lld", d ? "," : "", (long long)t->a.shape[d]);
  cv_strbuf_printf(&sb, "],\"dtype\":\"%s\",\"bytes\":%zu}", cv_dtype_name(t->a.dtype), t->nbytes);
  cv_log(&s->log, CV_LOG_DEBUG, r->rid, "stored tensor %s (%zu bytes)", id, t->nbytes);
  cv_tensor_unref(t);
  rc = cv_reply_strbuf(r, MHD_HTTP_CREATED, "application/json", &sb);
  if (!rc && r->status == MHD_HTTP_CREATED) {
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/tensors/%s", id);
    cv_reply_header(r, MHD_HTTP_HEADER_LOCATION, loc);
  }
  return rc;
}

int cv_h_tensor_get(cv_req_t *r) {
  bool b64;
  int rc = cv_query_encoding(r, false, &b64);
  if (rc) return rc;
  int pick = cv_accept_pick(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
                            tensor_offers, 2);
  if (pick < 0)
    return cv_error_set(&r->err, CV_ENOT_ACCEPTABLE, NULL, "a tensor comes as application/x-npy or application/json");
  cv_tensor_t *t;
  cv_store_lookup_t lk = cv_store_get_tensor(&r->srv->store, r->p_id, &t);
  if (lk == CV_STORE_GONE) return cv_error_set(&r->err, CV_EGONE, NULL, "tensor %s expired", r->p_id);
  if (lk != CV_STORE_FOUND) return cv_error_set(&r->err, CV_ENOT_FOUND, NULL, "no tensor %s", r->p_id);
  rc = tensor_offers[pick] == CV_FMT_NPY ? cv_reply_npy(r, MHD_HTTP_OK, t, &t->a)
                                         : cv_reply_tensor_json(r, MHD_HTTP_OK, &t->a, b64);
  cv_tensor_unref(t);
  return rc;
}

int cv_h_tensor_delete(cv_req_t *r) {
  int rc = cv_store_drop_tensor(&r->srv->store, r->p_id);
  if (rc == -CV_EGONE) return cv_error_set(&r->err, CV_EGONE, NULL, "tensor %s expired", r->p_id);
  if (rc) return cv_error_set(&r->err, CV_ENOT_FOUND, NULL, "no tensor %s", r->p_id);
  return cv_reply_empty(r, MHD_HTTP_NO_CONTENT);
}
