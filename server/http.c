/* http.c — the libmicrohttpd front end: daemon start/stop (internal epoll
 * and a thread pool, suspend/resume allowed), the access handler (request
 * context, route, auth, limits, body streaming, dispatch to handlers), and
 * the request-completed callback (metrics, access log, freeing the request).
 * Runs on MHD threads, except start/stop (main). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server.h"

#define CV_MHD_BACKLOG 1024
#define CV_MHD_MAX_POOL 16
#define CV_DISCARD_MAX ((uint64_t)64 << 20)   /* body bytes dropped after an error before the connection is cut */

/* ---- the handler table ---- */

cv_handler_fn cv_handler_for(cv_route_t route, unsigned mbit) {
  bool get = mbit == CV_M_GET || mbit == CV_M_HEAD;
  switch (route) {
    case CV_ROUTE_JOBS:
      return get ? cv_h_jobs_list : mbit == CV_M_POST ? cv_h_jobs_post : NULL;
    case CV_ROUTE_JOB:
      return get ? cv_h_job_get : mbit == CV_M_DELETE ? cv_h_job_delete : NULL;
    case CV_ROUTE_JOB_RESULT:
      return get ? cv_h_job_result : NULL;
    case CV_ROUTE_JOB_OUTPUT:
      return get ? cv_h_job_output : NULL;
    case CV_ROUTE_TENSORS:
      return mbit == CV_M_POST ? cv_h_tensors_post : NULL;
    case CV_ROUTE_TENSOR:
      return get ? cv_h_tensor_get : mbit == CV_M_DELETE ? cv_h_tensor_delete : NULL;
    case CV_ROUTE_OPS:
      return get ? cv_h_ops : NULL;
    case CV_ROUTE_WAVELETS:
      return get ? cv_h_wavelets : NULL;
    case CV_ROUTE_WAVELET:
      return get ? cv_h_wavelet : NULL;
    case CV_ROUTE_INFO:
      return get ? cv_h_info : NULL;
    case CV_ROUTE_HEALTHZ:
      return get ? cv_h_healthz : NULL;
    case CV_ROUTE_READYZ:
      return get ? cv_h_readyz : NULL;
    case CV_ROUTE_METRICS:
      return get ? cv_h_metrics : NULL;
    case CV_ROUTE_OPENAPI:
      return get ? cv_h_openapi : NULL;
    case CV_ROUTE_COUNT:
      break;
  }
  return NULL;
}

/* ---- request context ---- */

static int copy_param(cv_req_t *r, int i, char *out, size_t cap) {
  if (i >= r->m.n_params) return 0;
  if (r->m.param_len[i] >= cap)
    return cv_error_set(&r->err, CV_ENOT_FOUND, NULL, "no such resource: %s", r->url);
  memcpy(out, r->m.param[i], r->m.param_len[i]);
  out[r->m.param_len[i]] = 0;
  return 0;
}

static cv_req_t *req_new(cv_server_t *s, struct MHD_Connection *conn, const char *url, const char *method) {
  cv_req_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  atomic_fetch_add(&s->active_reqs, 1);
  r->srv = s;
  r->conn = conn;
  r->url = url;
  r->method = method;
  r->t0_ns = cv_now_ns();
  r->mbit = cv_method_bit(method);
  r->phase = CV_PHASE_NEW;
  const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
  if (rid && cv_request_id_valid(rid))
    snprintf(r->rid, sizeof r->rid, "%s", rid);
  else
    cv_request_id_make(r->rid);
  return r;
}

static bool needs_key(cv_route_t route) {
  return route != CV_ROUTE_HEALTHZ && route != CV_ROUTE_READYZ && route != CV_ROUTE_METRICS;
}

/* Everything decided from the request line and headers. Sets the phase to
 * BODY when a body follows. */
static int preflight(cv_req_t *r) {
  cv_server_t *s = r->srv;
  if (!cv_route_match(r->url, &r->m))
    return cv_error_set(&r->err, CV_ENOT_FOUND, NULL, "no route for %s %s", r->method, r->url);
  if (!cv_route_allows(r->m.route, r->mbit))
    return cv_error_set(&r->err, CV_EMETHOD_NOT_ALLOWED, NULL, "%s is not allowed on %s", r->method,
                        cv_route_template(r->m.route));
  int rc = copy_param(r, 0, r->m.route == CV_ROUTE_WAVELET ? r->p_name : r->p_id,
                      r->m.route == CV_ROUTE_WAVELET ? sizeof r->p_name : sizeof r->p_id);
  if (!rc) rc = copy_param(r, 1, r->p_name, sizeof r->p_name);
  if (rc) return rc;
  if (needs_key(r->m.route) &&
      !cv_auth_check(&s->auth, MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)))
    return cv_error_set(&r->err, CV_EUNAUTHORIZED, NULL, "a valid 'Authorization: Bearer <key>' is required");
  if (r->mbit != CV_M_POST) return 0;
  if (r->m.route == CV_ROUTE_JOBS) {
    /* counted before the check: a drain that starts later waits for this submission */
    atomic_fetch_add(&s->posting, 1);
    r->posting = true;
    if (atomic_load(&s->draining))
      return cv_error_set(&r->err, CV_ESHUTTING_DOWN, NULL, "the server is draining; no new jobs");
    int unfinished = cv_engine_unfinished(&s->engine);
    if (unfinished >= s->cfg.max_queue_jobs)   /* before the upload: the engine would refuse it anyway */
      return cv_error_set(&r->err, CV_EQUEUE_FULL, NULL, "%d jobs are unfinished (max_queue_jobs %d)",
                          unfinished, s->cfg.max_queue_jobs);
  }
  return cv_body_begin(r);
}

static bool has_body(cv_req_t *r) {
  const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl) return strtoull(cl, NULL, 10) > 0;
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static enum MHD_Result answer_error(cv_req_t *r, int rc) {
  cv_reply_error(r, rc, r->err.message, r->err.field);
  return cv_reply_queue(r);
}

static enum MHD_Result dispatch(cv_req_t *r) {
  cv_handler_fn h = cv_handler_for(r->m.route, r->mbit);
  int rc = h ? h(r) : cv_error_set(&r->err, CV_EMETHOD_NOT_ALLOWED, NULL, "method not allowed");
  if (rc) return answer_error(r, rc);
  if (r->phase == CV_PHASE_SUSPENDED) return MHD_YES;
  return cv_reply_queue(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_size,
                                 void **con_cls) {
  cv_server_t *s = cls;
  cv_req_t *r = *con_cls;
  int rc;
  if (!r) {
    if (!(r = req_new(s, conn, url, method))) return MHD_NO;
    *con_cls = r;
    /* Answers wait for the second call (request complete): libmicrohttpd
     * closes the connection after an answer queued before that. Only an
     * error on a request with a body leaves early, so the body is not read. */
    rc = preflight(r);
    r->phase = CV_PHASE_BODY;
    if (rc) {
      if (has_body(r)) return answer_error(r, rc);
      r->pre_rc = rc;
    }
    return MHD_YES;
  }
  switch (r->phase) {
    case CV_PHASE_BODY:
      if (*upload_size) {
        /* libmicrohttpd takes an answer only before or after the body: an
         * error found on the way is kept, the rest of the body dropped
         * unread into memory, and the error answered at its end */
        if (r->pre_rc) {
          r->bytes_in += *upload_size;
          r->discarded += *upload_size;
          *upload_size = 0;
          return r->discarded > CV_DISCARD_MAX ? MHD_NO : MHD_YES;
        }
        rc = cv_body_feed(r, upload_data, *upload_size);
        *upload_size = 0;
        if (rc) {
          r->pre_rc = rc;
          cv_body_free(r);   /* release what was buffered */
        }
        return MHD_YES;
      }
      if (r->pre_rc) return answer_error(r, r->pre_rc);
      if ((rc = cv_body_end(r))) return answer_error(r, rc);
      return dispatch(r);
    case CV_PHASE_SUSPENDED:   /* resumed by the loop thread */
      *upload_size = 0;
      if ((rc = cv_reply_waited(r))) return answer_error(r, rc);
      return cv_reply_queue(r);
    case CV_PHASE_NEW:
    case CV_PHASE_ANSWERED:
      break;
  }
  *upload_size = 0;   /* a body after an early answer: dropped */
  return MHD_YES;
}

static void remote_addr(struct MHD_Connection *conn, char *out, size_t cap) {
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  snprintf(out, cap, "-");
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  cv_server_t *s = cls;
  cv_req_t *r = *con_cls;
  if (!r) return;
  *con_cls = NULL;
  double dur = (double)(cv_now_ns() - r->t0_ns) / 1e9;
  cv_metrics_http(&s->metrics, (int)r->m.route, (int)r->status, dur, r->bytes_in, r->bytes_out);
  if (cv_log_enabled(&s->log, CV_LOG_INFO)) {
    char addr[64];
    remote_addr(conn, addr, sizeof addr);
    cv_log_access(&s->log, r->rid, r->method, r->url, (int)r->status, r->bytes_in,
                  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? r->bytes_out : 0, dur, addr);
  }
  if (r->wstate == CV_WAIT_WAITING) {   /* defensive: a waiter is never freed while it waits */
    pthread_mutex_lock(&s->mu);
    if (r->wstate == CV_WAIT_WAITING) {
      if (r->wprev) r->wprev->wnext = r->wnext;
      else if (s->waiters == r) s->waiters = r->wnext;
      if (r->wnext) r->wnext->wprev = r->wprev;
      cv_jobctx_t *jc = r->job ? r->job->user : NULL;
      for (cv_req_t **pp = jc ? &jc->waiters : NULL; pp && *pp; pp = &(*pp)->jnext)
        if (*pp == r) {
          *pp = r->jnext;
          break;
        }
      r->wstate = CV_WAIT_NONE;
    }
    pthread_mutex_unlock(&s->mu);
  }
  cv_posting_done(r);
  if (r->resp) MHD_destroy_response(r->resp);
  cv_body_free(r);
  cv_job_unref(r->job);
  free(r);
  atomic_fetch_sub(&s->active_reqs, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  cv_server_t *s = cls;
  if (!cv_log_enabled(&s->log, CV_LOG_DEBUG)) return;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
  cv_log(&s->log, CV_LOG_DEBUG, NULL, "libmicrohttpd: %s", msg);
}

/* ---- start / stop ---- */

int cv_http_start(cv_server_t *s, cv_error_t *err) {
  char host[256];
  int port;
  if (cv_config_split_listen(s->cfg.listen, host, &port))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "listen", "bad listen address '%s'", s->cfg.listen);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
  char pstr[16];
  snprintf(pstr, sizeof pstr, "%d", port);
  int gai = getaddrinfo(host[0] ? host : NULL, pstr, &hints, &ai);
  if (gai || !ai)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "listen", "cannot resolve '%s': %s", host, gai_strerror(gai));
  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof addr);
  memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
  bool v6 = ai->ai_family == AF_INET6;
  freeaddrinfo(ai);
  int pool = cv_config_cores();
  if (pool < 2) pool = 2;
  if (pool > CV_MHD_MAX_POOL) pool = CV_MHD_MAX_POOL;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;
  s->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_access, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)pool,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.connection_timeout_s,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)CV_MHD_BACKLOG,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                            MHD_OPTION_END);
  if (!s->mhd) return cv_error_set(err, CV_EINTERNAL, "listen", "cannot listen on %s", s->cfg.listen);
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : port;
  return 0;
}

void cv_http_stop(cv_server_t *s) {
  if (!s->mhd) return;
  MHD_stop_daemon(s->mhd);
  s->mhd = NULL;
}
