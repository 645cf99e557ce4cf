/* reply.c — every response convoyd sends is made here: the error body
 * (cv_reply_error is its only writer), JSON, .npy (header + tensor memory as
 * an iovec, no copy), .npz (zip headers + tensor memory as an iovec, no
 * copy), Accept negotiation with q-values, and the headers every answer carries (X-Request-Id, Location,
 * Retry-After, Allow). Runs on MHD threads; no lock is held while formatting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../proto/npz.h"
#include "../proto/tensor_json.h"
#include "server.h"
#include "tbuf.h"

/* ---- Accept ---- */

static const char *const fmt_mime[] = {
#define XX(uc, mime) mime,
    CV_FMT_MAP(XX)
#undef XX
};
_Static_assert(sizeof fmt_mime / sizeof fmt_mime[0] == CV_FMT_COUNT, "format table");

const char *cv_fmt_mime(cv_fmt_t f) { return (int)f >= 0 && f < CV_FMT_COUNT ? fmt_mime[f] : "application/json"; }

/* Names a client may use for a format besides its canonical one. */
static bool fmt_alias(cv_fmt_t f, const char *t, size_t n) {
  static const struct {
    cv_fmt_t f;
    const char *mime;
  } aliases[] = {{CV_FMT_NPZ, "application/x-npz"},
                 {CV_FMT_NPY, "application/octet-stream"},
                 {CV_FMT_YAML, "application/x-yaml"},
                 {CV_FMT_YAML, "text/yaml"},
                 {CV_FMT_TEXT, "application/openmetrics-text"}};
  if (strlen(fmt_mime[f]) == n && !strncasecmp(fmt_mime[f], t, n)) return true;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (aliases[i].f == f && strlen(aliases[i].mime) == n && !strncasecmp(aliases[i].mime, t, n)) return true;
  return false;
}

/* How specifically the media range t (n bytes, "type/sub", "type/x", "x/x")
 * matches format f: 2 exact, 1 type wildcard, 0 any, -1 no match. */
static int range_match(cv_fmt_t f, const char *t, size_t n) {
  if (n == 3 && !memcmp(t, "*/*", 3)) return 0;
  if (n > 2 && t[n - 1] == '*' && t[n - 2] == '/') {
    size_t tl = n - 1;   /* "type/" */
    return !strncasecmp(fmt_mime[f], t, tl) ? 1 : -1;
  }
  return fmt_alias(f, t, n) ? 2 : -1;
}

int cv_accept_pick(const char *accept, const cv_fmt_t *offers, int n) {
  if (!accept) return 0;
  while (*accept == ' ' || *accept == '\t') accept++;
  if (!*accept) return 0;
  int best = -1, best_spec = -1;
  double best_q = 0;
  for (int i = 0; i < n; i++) {
    int spec = -1;
    double q = 0;
    for (const char *p = accept; *p;) {
      const char *end = strchr(p, ',');
      if (!end) end = p + strlen(p);
      while (p < end && (*p == ' ' || *p == '\t')) p++;
      const char *semi = p;
      while (semi < end && *semi != ';') semi++;
      const char *te = semi;
      if (semi == end) semi = NULL;
      while (te > p && (te[-1] == ' ' || te[-1] == '\t')) te--;
      double rq = 1.0;
      for (const char *a = semi; a && a < end;) {
        const char *k = a + 1;
        while (k < end && *k == ' ') k++;
        if (end - k > 2 && (k[0] == 'q' || k[0] == 'Q') && k[1] == '=') {
          char *qe;
          rq = strtod(k + 2, &qe);
          if (qe == k + 2 || rq < 0) rq = 0;
          if (rq > 1) rq = 1;
        }
        for (a = k; a < end && *a != ';'; a++) {}
      }
      int s = te > p ? range_match(offers[i], p, (size_t)(te - p)) : -1;
      if (s > spec) {
        spec = s;
        q = rq;
      }
      p = *end ? end + 1 : end;
    }
    if (spec < 0 || q <= 0) continue;
    if (q > best_q || (q == best_q && spec > best_spec)) {
      best = i;
      best_q = q;
      best_spec = spec;
    }
  }
  return best;
}

/* ---- building responses ---- */

static void set_resp(cv_req_t *r, struct MHD_Response *resp, unsigned status, const char *ctype, uint64_t len) {
  if (r->resp) MHD_destroy_response(r->resp);
  r->resp = resp;
  r->status = status;
  r->bytes_out = len;
  if (resp && ctype) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
}

static const char oom_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory while answering\",\"field\":null}}";

/* The last resort: a static 500 that needs no allocation of ours. */
static int reply_oom(cv_req_t *r) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(sizeof oom_body - 1, (void *)oom_body, MHD_RESPMEM_PERSISTENT);
  set_resp(r, resp, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", sizeof oom_body - 1);
  return resp ? 0 : -CV_EOUT_OF_MEMORY;
}

void cv_reply_header(cv_req_t *r, const char *name, const char *value) {
  if (r->resp) MHD_add_response_header(r->resp, name, value);
}

int cv_reply_take(cv_req_t *r, unsigned status, const char *ctype, char *body, size_t len) {
  struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, body, cv_tbuf_put);
  if (!resp) {
    cv_tbuf_put(body);
    return reply_oom(r);
  }
  set_resp(r, resp, status, ctype, len);
  return 0;
}

int cv_reply_static(cv_req_t *r, unsigned status, const char *ctype, const char *body, size_t len) {
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
  if (!resp) return reply_oom(r);
  set_resp(r, resp, status, ctype, len);
  return 0;
}

int cv_reply_empty(cv_req_t *r, unsigned status) { return cv_reply_static(r, status, NULL, "", 0); }

int cv_reply_error(cv_req_t *r, int rc, const char *msg, const char *field) {
  int code = rc < 0 ? -rc : rc;
  if (code <= CV_OK || code >= CV_ERR_COUNT) code = CV_EINTERNAL;
  cv_error_t e;
  cv_error_set(&e, (cv_err_t)code, field && field[0] ? field : NULL, "%s", msg && msg[0] ? msg : cv_strerror(code));
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  if (cv_error_json_append(&sb, &e)) return reply_oom(r);
  size_t len;
  char *body = cv_strbuf_take(&sb, &len);
  unsigned status = (unsigned)cv_err_http(code);
  if (cv_reply_take(r, status, "application/json", body, len)) return -CV_EOUT_OF_MEMORY;
  if (r->status != status) return 0;   /* fell back to the static 500 */
  char num[16];
  if (code == CV_EQUEUE_FULL) {
    snprintf(num, sizeof num, "%d", CV_RETRY_AFTER_QUEUE_S);
    cv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
  } else if (code == CV_ESHUTTING_DOWN || code == CV_EOUT_OF_MEMORY) {
    snprintf(num, sizeof num, "%d", CV_RETRY_AFTER_DRAIN_S);
    cv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
  } else if (code == CV_EUNAUTHORIZED) {
    cv_reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
  } else if (code == CV_EMETHOD_NOT_ALLOWED) {
    char allow[96];
    cv_route_allow_header(r->m.route, allow, sizeof allow);
    cv_reply_header(r, MHD_HTTP_HEADER_ALLOW, allow);
  }
  if (status >= 500)
    cv_log(&r->srv->log, CV_LOG_WARN, r->rid, "%s %s: %s: %s", r->method, cv_route_template(r->m.route),
           cv_err_name(code), e.message);
  return 0;
}

int cv_reply_strbuf(cv_req_t *r, unsigned status, const char *ctype, cv_strbuf_t *sb) {
  if (sb->failed) {
    int rc = sb->failed;
    cv_strbuf_free(sb);
    return cv_reply_error(r, rc, rc == -CV_EPAYLOAD_TOO_LARGE ? "the answer is too large" : "out of memory", NULL);
  }
  size_t len = 0;
  char *body = cv_strbuf_take(sb, &len);
  if (!body) return cv_reply_static(r, status, ctype, "", 0);
  return cv_reply_take(r, status, ctype, body, len);
}

static void add_location(cv_req_t *r, cv_job_t *j) {
  char loc[64];
  snprintf(loc, sizeof loc, "%s%s", CV_URL_JOBS, j->id);
  cv_reply_header(r, MHD_HTTP_HEADER_LOCATION, loc);
}

int cv_reply_job(cv_req_t *r, unsigned status, cv_job_t *j) {
  cv_job_json_opts_t o;
  cv_jobctx_json_opts(j, false, false, &o);
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  cv_job_json_append(&sb, j, &o);
  int rc = cv_reply_strbuf(r, status, "application/json", &sb);
  if (!rc && r->status == status && status == MHD_HTTP_ACCEPTED) {
    char num[16];
    add_location(r, j);
    snprintf(num, sizeof num, "%d", CV_RETRY_AFTER_POLL_S);
    cv_reply_header(r, MHD_HTTP_HEADER_RETRY_AFTER, num);
  }
  return rc;
}

/* ---- .npy: header + tensor memory, sent without copying ---- */

typedef struct npy_body_s {
  cv_tensor_t *t;
  char hdr[];
} npy_body_t;

static void npy_body_free(void *cls) {
  npy_body_t *b = cls;
  cv_tensor_unref(b->t);
  free(b);
}

int cv_reply_npy(cv_req_t *r, unsigned status, cv_tensor_t *t, const cv_array_t *a) {
  char hdr[4096];
  size_t hl = cv_npy_header(a, hdr, sizeof hdr);
  if (!hl) return cv_reply_error(r, CV_EINTERNAL, "cannot write an .npy header for this array", NULL);
  npy_body_t *b = malloc(sizeof *b + hl);
  if (!b) return reply_oom(r);
  memcpy(b->hdr, hdr, hl);
  b->t = cv_tensor_ref(t);
  size_t dl = cv_array_nbytes(a);
  struct MHD_IoVec iov[2] = {{b->hdr, hl}, {a->data, dl}};
  struct MHD_Response *resp = MHD_create_response_from_iovec(iov, dl ? 2 : 1, npy_body_free, b);
  if (!resp) {
    npy_body_free(b);
    return reply_oom(r);
  }
  set_resp(r, resp, status, "application/x-npy", hl + dl);
  return 0;
}

int cv_reply_tensor_json(cv_req_t *r, unsigned status, const cv_array_t *a, bool b64) {
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  cv_tensor_to_json_buf(a, b64, &sb);
  return cv_reply_strbuf(r, status, "application/json", &sb);
}

/* ---- results ---- */

static bool is_selected(const cv_jobctx_t *jc, int i) { return !jc || !jc->selected || jc->selected[i]; }

static cv_array_t out_array(cv_job_t *j, int i) {
  cv_array_t a = j->outs.out[i].a;
  a.data = j->out_t && j->out_t[i] ? j->out_t[i]->a.data : NULL;
  return a;
}

/* .npz straight from the output tensors: the layout's header blocks and
 * the tensors' memory as one iovec (CRC-32 computed once per member, no
 * copy of the data); the response holds a reference to every tensor. */
typedef struct npz_body_s {
  cv_npz_layout_t l;
  int n;
  cv_tensor_t *t[];
} npz_body_t;

static void npz_body_free(void *cls) {
  npz_body_t *b = cls;
  for (int i = 0; i < b->n; i++) cv_tensor_unref(b->t[i]);
  cv_npz_layout_free(&b->l);
  free(b);
}

static int reply_npz(cv_req_t *r, cv_job_t *j, unsigned status) {
  cv_jobctx_t *jc = j->user;
  cv_error_t err;
  int nout = j->outs.n_out, n = 0;
  npz_body_t *b = calloc(1, sizeof *b + (size_t)(nout > 0 ? nout : 1) * sizeof b->t[0]);
  cv_io_t *ios = calloc(nout > 0 ? (size_t)nout : 1, sizeof *ios);
  struct MHD_IoVec *iov = NULL;
  if (!b || !ios) goto oom;
  for (int i = 0; i < nout; i++) {
    if (!is_selected(jc, i)) continue;
    ios[n] = j->outs.out[i];
    ios[n].a = out_array(j, i);
    b->t[n] = cv_tensor_ref(j->out_t ? j->out_t[i] : NULL);
    b->n = ++n;
  }
  int rc = cv_npz_layout(ios, n, NULL, &b->l, &err);
  free(ios);
  ios = NULL;
  if (rc) {
    npz_body_free(b);
    return cv_reply_error(r, rc, err.message, NULL);
  }
  if (!(iov = calloc((size_t)b->l.n_segs, sizeof *iov))) goto oom;
  for (int k = 0; k < b->l.n_segs; k++) iov[k] = (struct MHD_IoVec){b->l.segs[k].p, b->l.segs[k].n};
  uint64_t size = b->l.size;
  struct MHD_Response *resp = MHD_create_response_from_iovec(iov, (unsigned)b->l.n_segs, npz_body_free, b);
  free(iov);   /* MHD copies the vector, not the data */
  if (!resp) {
    npz_body_free(b);
    return reply_oom(r);
  }
  set_resp(r, resp, status, "application/zip", size);
  return 0;
oom:
  free(ios);
  if (b) npz_body_free(b);
  return reply_oom(r);
}

/* About the size of a job JSON with data: the job fields, then per output
 * its fields and data (base64, or shortest round-trip numbers and commas). */
#define CV_JOB_JSON_BASE 1024
#define CV_OUTPUT_JSON_BASE 256
static size_t result_json_hint(cv_job_t *j, const cv_jobctx_t *jc, bool b64) {
  size_t n = CV_JOB_JSON_BASE;
  for (int i = 0; j->out_t && i < j->outs.n_out; i++) {
    if (!is_selected(jc, i) || !j->out_t[i]) continue;
    const cv_array_t *a = &j->out_t[i]->a;
    size_t bytes = cv_array_nbytes(a), es = cv_dtype_size(a->dtype);
    n += CV_OUTPUT_JSON_BASE + (b64 ? (bytes + 2) / 3 * 4 : bytes / (es ? es : 1) * (es <= 4 ? 14 : 24));
  }
  return n;
}

int cv_reply_result(cv_req_t *r, cv_job_t *j, unsigned status) {
  cv_jobctx_t *jc = j->user;
  if (r->fmt == CV_FMT_NPZ) return reply_npz(r, j, status);
  if (r->fmt == CV_FMT_NPY) {
    int only = -1, n = 0;
    for (int i = 0; i < j->outs.n_out; i++)
      if (is_selected(jc, i)) {
        only = i;
        n++;
      }
    if (n != 1)
      return cv_reply_error(r, CV_ENOT_ACCEPTABLE, "application/x-npy holds one output; this job has several "
                            "(ask for application/zip or application/json, or \"select\" one)", NULL);
    cv_array_t a = out_array(j, only);
    return cv_reply_npy(r, status, j->out_t[only], &a);
  }
  cv_job_json_opts_t o;
  cv_jobctx_json_opts(j, true, r->b64, &o);
  cv_strbuf_t sb;
  size_t hint = result_json_hint(j, jc, r->b64), cap = 0;
  char *buf = cv_tbuf_get(hint, &cap);   /* this thread's last answer buffer, when it fits */
  cv_strbuf_init_buf(&sb, 0, buf, cap);
  cv_job_json_append(&sb, j, &o);
  return cv_reply_strbuf(r, status, "application/json", &sb);
}

/* The job of a waiting request ended or its wait ran out. */
int cv_reply_waited(cv_req_t *r) {
  cv_job_t *j = r->job;
  if (!r->wait_result) return cv_reply_job(r, MHD_HTTP_OK, j);   /* long poll: the state now */
  if (r->wstate != CV_WAIT_DONE) return cv_reply_job(r, MHD_HTTP_ACCEPTED, j);
  cv_job_state_t st = cv_jobctx_state(j);
  cv_jobctx_t *jc = j->user;
  int rc;
  if (st == CV_JOB_SUCCEEDED) {
    rc = jc && jc->sink != CV_SINK_NONE ? cv_reply_job(r, MHD_HTTP_OK, j) : cv_reply_result(r, j, MHD_HTTP_OK);
  } else if (st == CV_JOB_FAILED || st == CV_JOB_CANCELLED) {
    pthread_mutex_lock(&j->mu);
    cv_error_t e = j->error;
    pthread_mutex_unlock(&j->mu);
    if (e.code == CV_OK) cv_error_set(&e, st == CV_JOB_CANCELLED ? CV_ECANCELLED : CV_EINTERNAL, NULL, NULL);
    rc = cv_reply_error(r, e.code, e.message, e.field);
  } else {
    return cv_reply_job(r, MHD_HTTP_ACCEPTED, j);
  }
  if (!rc) add_location(r, j);
  return rc;
}

enum MHD_Result cv_reply_queue(cv_req_t *r) {
  if (!r->resp && reply_oom(r)) return MHD_NO;
  MHD_add_response_header(r->resp, "X-Request-Id", r->rid);
  enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->resp);
  MHD_destroy_response(r->resp);
  r->resp = NULL;
  r->phase = CV_PHASE_ANSWERED;
  return ok;
}
