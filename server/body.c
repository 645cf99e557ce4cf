/* body.c — request bodies as they stream in: JSON specs (capped at
 * max_json_bytes), .npy bodies copied straight into a tensor once their
 * header is parsed (x-npy submissions, tensor uploads, multipart parts), the
 * multipart glue, and the x-npy spec from the query string. Limits are
 * checked up front (Content-Length) and on the running total. Runs on the
 * MHD thread of the request. */
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"
#include "tbuf.h"

#define CV_QUERY_MAX_ARGS 64

/* ---- .npy streamed into a tensor ---- */

int cv_npy_sink_feed(cv_npy_sink_t *s, const char *p, size_t n, cv_error_t *err) {
  while (n > 0) {
    if (s->t) {
      size_t room = s->info.data_len - s->got;
      if (n > room)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, ".npy body: %zu bytes after the %zu data bytes",
                            n - room, s->info.data_len);
      memcpy((char *)s->t->a.data + s->got, p, n);
      s->got += n;
      return 0;
    }
    /* gather the header: first the prefix (its length), then the dict */
    size_t want = s->hdr_need ? s->hdr_need : CV_NPY_PREFIX_LEN;
    size_t k = want - s->hdr_len < n ? want - s->hdr_len : n;
    if (s->hdr_len + k > s->hdr_cap) {
      size_t cap = s->hdr_cap ? s->hdr_cap : 256;
      while (cap < s->hdr_len + k) cap *= 2;
      char *nh = realloc(s->hdr, cap);
      if (!nh) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for an .npy header");
      s->hdr = nh;
      s->hdr_cap = cap;
    }
    memcpy(s->hdr + s->hdr_len, p, k);
    s->hdr_len += k;
    p += k;
    n -= k;
    if (s->hdr_len < want) return 0;
    int rc;
    if (!s->hdr_need) {
      if ((rc = cv_npy_header_len(s->hdr, s->hdr_len, &s->hdr_need, err))) return rc;
      if (s->hdr_need <= s->hdr_len) s->hdr_need = s->hdr_len + 1;   /* bad length: parse fails below */
      continue;
    }
    if ((rc = cv_npy_parse_header(s->hdr, s->hdr_len, s->max_bytes, &s->info, err))) return rc;
    rc = s->pool ? cv_tensor_new_pooled(s->pool, &s->t, s->info.dtype, s->info.ndim, s->info.shape, err)
                 : cv_tensor_new(&s->t, s->info.dtype, s->info.ndim, s->info.shape, s->max_bytes, false, err);
    if (rc) return rc;
    s->got = 0;
  }
  return 0;
}

int cv_npy_sink_finish(cv_npy_sink_t *s, cv_tensor_t **out, cv_error_t *err) {
  *out = NULL;
  if (!s->t) {
    if (s->hdr_len == 0) return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, "empty .npy body");
    size_t hl;
    int rc = cv_npy_header_len(s->hdr, s->hdr_len, &hl, err);
    if (rc) return rc;
    return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, ".npy body truncated in its header (%zu of %zu bytes)",
                        s->hdr_len, hl);
  }
  if (s->got != s->info.data_len)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, NULL, ".npy body truncated: %zu of %zu data bytes", s->got,
                        s->info.data_len);
  int rc = cv_npy_fixup(s->t, &s->info, err);
  if (rc) return rc;
  *out = s->t;
  s->t = NULL;
  return 0;
}

void cv_npy_sink_free(cv_npy_sink_t *s) {
  free(s->hdr);
  cv_tensor_unref(s->t);
  size_t max = s->max_bytes;
  memset(s, 0, sizeof *s);
  s->max_bytes = max;
}

/* Puts "inputs.<name>" into err->field when the error has none. */
static int input_field(cv_error_t *err, const char *name, int rc) {
  if (rc && !err->field[0]) snprintf(err->field, sizeof err->field, "inputs.%s", name);
  return rc;
}

/* ---- multipart glue ---- */

static int mp_begin(void *u, const cv_mp_part_t *part, cv_error_t *err) {
  cv_mp_body_t *b = u;
  if (!strcmp(part->name, "spec")) {
    if (b->have_spec) return cv_error_set(err, CV_EINVALID_ARGUMENT, "spec", "two multipart parts named spec");
    b->have_spec = true;
    b->cur = -2;
    return 0;
  }
  if (strlen(part->name) >= CV_NAME_MAX)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "multipart part name '%.40s' is too long", part->name);
  for (int i = 0; i < b->n_parts; i++)
    if (!strcmp(b->names[i], part->name))
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "two multipart parts named '%s'", part->name);
  if (b->n_parts == CV_MP_MAX_PARTS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "more than %d multipart inputs", CV_MP_MAX_PARTS);
  size_t nlen = strlen(part->name);
  if (nlen >= CV_NAME_MAX)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "multipart part name '%.40s…' is longer than %d bytes",
                        part->name, CV_NAME_MAX - 1);
  b->cur = b->n_parts++;
  memcpy(b->names[b->cur], part->name, nlen + 1);
  cv_npy_sink_free(&b->sink);
  b->sink.max_bytes = b->r->srv->cfg.max_tensor_bytes;
  b->sink.pool = b->r->srv->engine.pool;
  return 0;
}

static int mp_data(void *u, const char *p, size_t n, cv_error_t *err) {
  cv_mp_body_t *b = u;
  if (b->cur == -2) {
    int rc = cv_strbuf_append(&b->r->json, p, n);
    if (rc == -CV_EPAYLOAD_TOO_LARGE)
      return cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, "spec", "the spec part is over max_json_bytes (%llu)",
                          (unsigned long long)b->r->srv->cfg.max_json_bytes);
    if (rc) return cv_error_set(err, CV_EOUT_OF_MEMORY, "spec", "no memory for the spec");
    return 0;
  }
  if (b->cur < 0) return 0;
  return input_field(err, b->names[b->cur], cv_npy_sink_feed(&b->sink, p, n, err));
}

static int mp_end(void *u, cv_error_t *err) {
  cv_mp_body_t *b = u;
  int rc = 0;
  if (b->cur >= 0) rc = input_field(err, b->names[b->cur], cv_npy_sink_finish(&b->sink, &b->tensors[b->cur], err));
  b->cur = -1;
  return rc;
}

static const cv_mp_handler_t mp_handler = {mp_begin, mp_data, mp_end};

/* ---- the query string as an x-npy spec ---- */

/* Each thread keeps one spec (33 KiB) for its next request: allocating one
 * per request showed up in the HTTP profile. The key's destructor frees it
 * when the thread ends. */
static pthread_key_t spec_key;
static pthread_once_t spec_key_once = PTHREAD_ONCE_INIT;
static void spec_key_init(void) { pthread_key_create(&spec_key, free); }

int cv_req_spec_alloc(cv_req_t *r) {
  if (r->spec) return 0;
  pthread_once(&spec_key_once, spec_key_init);
  if ((r->spec = pthread_getspecific(spec_key))) {
    pthread_setspecific(spec_key, NULL);
    return 0;
  }
  if (!(r->spec = malloc(sizeof *r->spec)))
    return cv_error_set(&r->err, CV_EOUT_OF_MEMORY, NULL, "no memory for the spec");
  return 0;
}

static void spec_release(cv_spec_t *s) {
  cv_spec_free(s);
  pthread_once(&spec_key_once, spec_key_init);
  if (!pthread_getspecific(spec_key) && pthread_setspecific(spec_key, s) == 0) return;
  free(s);
}

typedef struct query_s {
  int n;
  bool too_many;
  const char *keys[CV_QUERY_MAX_ARGS], *vals[CV_QUERY_MAX_ARGS];
} query_t;

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  query_t *q = cls;
  if (!strcmp(key, "encoding") || !strcmp(key, "wait_s")) return MHD_YES;   /* the server's own */
  if (q->n == CV_QUERY_MAX_ARGS) {
    q->too_many = true;
    return MHD_NO;
  }
  q->keys[q->n] = key;
  q->vals[q->n++] = value ? value : "";
  return MHD_YES;
}

int cv_query_spec(cv_req_t *r, cv_tensor_t *x) {
  query_t q = {0};
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_iter, &q);
  if (q.too_many) return cv_error_set(&r->err, CV_EINVALID_ARGUMENT, NULL, "more than %d query parameters", CV_QUERY_MAX_ARGS);
  cv_spec_limits_t lim = {.max_tensor_bytes = r->srv->cfg.max_tensor_bytes};
  if (cv_req_spec_alloc(r)) return -CV_EOUT_OF_MEMORY;
  return cv_spec_from_query(q.keys, q.vals, q.n, x, &lim, r->spec, &r->err);
}

/* ---- begin / feed / end ---- */

/* The media type of a Content-Type value, lower-cased into out. */
static void media_type(const char *ct, char *out, size_t cap) {
  size_t n = 0;
  if (ct) {
    while (*ct == ' ') ct++;
    for (; *ct && *ct != ';' && *ct != ' ' && n + 1 < cap; ct++) out[n++] = (char)(*ct >= 'A' && *ct <= 'Z' ? *ct + 32 : *ct);
  }
  out[n] = 0;
}

int cv_body_begin(cv_req_t *r) {
  cv_server_t *s = r->srv;
  const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  char mt[96];
  media_type(ct, mt, sizeof mt);
  r->body_max = s->cfg.max_body_bytes;
  if (r->m.route == CV_ROUTE_TENSORS) {
    if (mt[0] && strcmp(mt, "application/x-npy") && strcmp(mt, "application/octet-stream"))
      return cv_error_set(&r->err, CV_EUNSUPPORTED_MEDIA_TYPE, NULL,
                          "POST /v1/tensors takes an .npy body (application/x-npy), not %s", mt);
    r->body = CV_BODY_NPY;
  } else if (!mt[0] || !strcmp(mt, "application/json")) {
    r->body = CV_BODY_JSON;
    if (s->cfg.max_json_bytes < r->body_max) r->body_max = s->cfg.max_json_bytes;
  } else if (!strcmp(mt, "multipart/form-data")) {
    r->body = CV_BODY_MULTIPART;
  } else if (!strcmp(mt, "application/x-npy")) {
    r->body = CV_BODY_NPY;
  } else {
    return cv_error_set(&r->err, CV_EUNSUPPORTED_MEDIA_TYPE, NULL,
                        "Content-Type %s is not application/json, multipart/form-data or application/x-npy", mt);
  }
  const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  unsigned long long clen = 0;
  if (cl) {
    char *end;
    unsigned long long v = strtoull(cl, &end, 10);
    if (end != cl) clen = v;
    if (end != cl && v > r->body_max)
      return cv_error_set(&r->err, CV_EPAYLOAD_TOO_LARGE, NULL, "a %s body of %llu bytes is over %s (%llu)",
                          r->body == CV_BODY_JSON ? "JSON" : "request", v,
                          r->body == CV_BODY_JSON && r->body_max == s->cfg.max_json_bytes ? "max_json_bytes"
                                                                                           : "max_body_bytes",
                          (unsigned long long)r->body_max);
  }
  switch (r->body) {
    case CV_BODY_JSON:
      if (clen > 0 && clen <= CV_TBUF_MAX) {   /* the whole body in this thread's last body buffer */
        size_t cap = 0;
        char *buf = cv_tbuf_get((size_t)clen + 1, &cap);
        cv_strbuf_init_buf(&r->json, r->body_max, buf, cap);
      } else {
        cv_strbuf_init(&r->json, r->body_max);
      }
      break;
    case CV_BODY_NPY:
      r->npy.max_bytes = s->cfg.max_tensor_bytes;
      r->npy.pool = s->engine.pool;
      if (r->m.route == CV_ROUTE_JOBS) return cv_query_spec(r, NULL);   /* fail fast, before the upload */
      break;
    case CV_BODY_MULTIPART:
      if (!(r->mp = calloc(1, sizeof *r->mp))) return cv_error_set(&r->err, CV_EOUT_OF_MEMORY, NULL, "no memory");
      r->mp->r = r;
      r->mp->cur = -1;
      r->mp->sink.max_bytes = s->cfg.max_tensor_bytes;
      r->mp->sink.pool = s->engine.pool;
      cv_strbuf_init(&r->json, s->cfg.max_json_bytes);
      return cv_multipart_init(&r->mp->mp, ct, &mp_handler, r->mp, &r->err);
    case CV_BODY_NONE:
      break;
  }
  return 0;
}

int cv_body_feed(cv_req_t *r, const char *p, size_t n) {
  r->bytes_in += n;
  if (r->bytes_in > r->body_max)
    return cv_error_set(&r->err, CV_EPAYLOAD_TOO_LARGE, NULL, "the body is over %s (%llu bytes)",
                        r->body == CV_BODY_JSON && r->body_max == r->srv->cfg.max_json_bytes ? "max_json_bytes"
                                                                                            : "max_body_bytes",
                        (unsigned long long)r->body_max);
  switch (r->body) {
    case CV_BODY_JSON: {
      int rc = cv_strbuf_append(&r->json, p, n);
      if (rc == -CV_EPAYLOAD_TOO_LARGE)
        return cv_error_set(&r->err, CV_EPAYLOAD_TOO_LARGE, NULL, "the JSON body is over max_json_bytes");
      if (rc) return cv_error_set(&r->err, CV_EOUT_OF_MEMORY, NULL, "no memory for the body");
      return 0;
    }
    case CV_BODY_NPY: {
      int rc = cv_npy_sink_feed(&r->npy, p, n, &r->err);
      if (rc && r->m.route == CV_ROUTE_JOBS) input_field(&r->err, "x", rc);
      return rc;
    }
    case CV_BODY_MULTIPART:
      return cv_multipart_feed(&r->mp->mp, p, n, &r->err);
    case CV_BODY_NONE:
      break;
  }
  return 0;
}

/* The multipart body ended: parse the spec, add the .npy parts as inputs. */
static int mp_finish(cv_req_t *r) {
  cv_mp_body_t *b = r->mp;
  int rc = cv_multipart_finish(&b->mp, &r->err);
  if (rc) return rc;
  if (!b->have_spec)
    return cv_error_set(&r->err, CV_EINVALID_ARGUMENT, "spec", "the multipart body has no part named spec");
  cv_spec_limits_t lim = {.max_tensor_bytes = r->srv->cfg.max_tensor_bytes};
  if (cv_req_spec_alloc(r)) return -CV_EOUT_OF_MEMORY;
  char none = '\0';   /* the spec part is parsed in place: cv_body_end drops it */
  if ((rc = cv_spec_parse_mut(r->json.data ? r->json.data : &none, r->json.len, &lim, r->spec, &r->err))) return rc;
  for (int i = 0; i < b->n_parts; i++)
    if ((rc = cv_spec_add_input(r->spec, b->names[i], b->tensors[i], &r->err))) return rc;
  return 0;
}

int cv_body_end(cv_req_t *r) {
  int rc = 0;
  switch (r->body) {
    case CV_BODY_JSON:
      break;   /* the handler parses it */
    case CV_BODY_NPY:
      if (r->m.route == CV_ROUTE_JOBS) {
        cv_tensor_t *t = NULL;
        rc = input_field(&r->err, "x", cv_npy_sink_finish(&r->npy, &t, &r->err));
        if (!rc) rc = cv_spec_add_input(r->spec, "x", t, &r->err);
        cv_tensor_unref(t);
      }
      break;
    case CV_BODY_MULTIPART:
      rc = mp_finish(r);
      break;
    case CV_BODY_NONE:
      break;
  }
  return rc;
}

void cv_body_free(cv_req_t *r) {
  cv_tbuf_put(cv_strbuf_take(&r->json, NULL));
  cv_strbuf_free(&r->json);
  cv_npy_sink_free(&r->npy);
  if (r->mp) {
    cv_npy_sink_free(&r->mp->sink);
    for (int i = 0; i < r->mp->n_parts; i++) cv_tensor_unref(r->mp->tensors[i]);
    free(r->mp);
    r->mp = NULL;
  }
  if (r->spec) {
    spec_release(r->spec);
    r->spec = NULL;
  }
}
