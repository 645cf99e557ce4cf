/* h_jobs.c — the job routes after submission: GET /v1/jobs (list),
 * GET /v1/jobs/{id} (status, long poll with ?wait_s), DELETE (cancel or
 * drop), GET /v1/jobs/{id}/result and /result/{name} (202 while running,
 * 409 failed/cancelled, 404 disk-only, 410 expired). MHD threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* Looks the job up; 404 / 410 otherwise. *out is a reference. */
static int find_job(cv_req_t *r, bool touch, cv_job_t **out) {
  cv_store_lookup_t lk = cv_store_get_job(&r->srv->store, r->p_id, touch, out);
  if (lk == CV_STORE_FOUND) return 0;
  if (lk == CV_STORE_GONE) return cv_error_set(&r->err, CV_EGONE, NULL, "job %s expired", r->p_id);
  return cv_error_set(&r->err, CV_ENOT_FOUND, NULL, "no job %s", r->p_id);
}

/* ---- GET /v1/jobs ---- */

int cv_h_jobs_list(cv_req_t *r) {
  const char *st = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "state");
  const char *lim = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "limit");
  cv_job_state_t state;
  int limit = 100;
  if (st && cv_job_state_parse(st, &state))
    return cv_error_set(&r->err, CV_EINVALID_ARGUMENT, "state",
                        "state is one of queued, running, succeeded, failed, cancelled");
  if (lim) {
    char *end;
    long v = strtol(lim, &end, 10);
    if (!*lim || *end || v < 1 || v > CV_STORE_LIST_MAX)
      return cv_error_set(&r->err, CV_EINVALID_ARGUMENT, "limit", "limit is an integer from 1 to %d", CV_STORE_LIST_MAX);
    limit = (int)v;
  }
  cv_job_t **jobs = NULL;
  int n = 0;
  /* The store filters by its job state; the visible state may still read
   * running for a moment after the engine ended a job. */
  int rc = cv_store_list_jobs(&r->srv->store, st ? &state : NULL, limit, &jobs, &n, &r->err);
  if (rc) return rc;
  cv_strbuf_t sb;
  cv_strbuf_init(&sb, 0);
  cv_strbuf_puts(&sb, "{\"jobs\":[");
  for (int i = 0; i < n; i++) {
    if (i) cv_strbuf_putc(&sb, ',');
    cv_job_json_opts_t o;
    cv_jobctx_json_opts(jobs[i], false, false, &o);
    cv_job_json_append(&sb, jobs[i], &o);
  }
  cv_strbuf_puts(&sb, "]}");
  cv_store_list_free(jobs, n);
  return cv_reply_strbuf(r, MHD_HTTP_OK, "application/json", &sb);
}

/* ---- GET / DELETE /v1/jobs/{id} ---- */

int cv_h_job_get(cv_req_t *r) {
  int wait_s, rc;
  if ((rc = cv_query_wait(r, 0, &wait_s))) return rc;
  cv_job_t *j;
  if ((rc = find_job(r, true, &j))) return rc;
  if (wait_s > 0) {
    r->wait_result = false;
    bool now = cv_wait_begin(r, j, (int64_t)wait_s * 1000);
    cv_job_unref(j);
    return now ? cv_reply_job(r, MHD_HTTP_OK, r->job) : 0;
  }
  rc = cv_reply_job(r, MHD_HTTP_OK, j);
  cv_job_unref(j);
  return rc;
}

int cv_h_job_delete(cv_req_t *r) {
  cv_job_t *j;
  int rc = find_job(r, false, &j);
  if (rc) return rc;
  cv_jobctx_t *jc = j->user;
  int st = atomic_load(&j->state);
  bool ended = st == CV_JOB_SUCCEEDED || st == CV_JOB_FAILED || st == CV_JOB_CANCELLED;
  if (!ended || (jc && !atomic_load(&jc->done))) {
    if (!ended) cv_engine_cancel(&r->srv->engine, j);
    else if (jc) atomic_store(&jc->cancel, true);   /* a disk sink still writing */
    cv_log_job(&r->srv->log, CV_LOG_INFO, r->rid, j->id, NULL, "cancel requested");
    rc = cv_reply_job(r, MHD_HTTP_ACCEPTED, j);
    cv_job_unref(j);
    return rc;
  }
  cv_job_unref(j);
  rc = cv_store_drop_job(&r->srv->store, r->p_id);
  if (rc == -CV_ECONFLICT) return cv_error_set(&r->err, CV_ECONFLICT, NULL, "job %s is still running", r->p_id);
  if (rc == -CV_EGONE) return cv_error_set(&r->err, CV_EGONE, NULL, "job %s expired", r->p_id);
  if (rc) return cv_error_set(&r->err, CV_ENOT_FOUND, NULL, "no job %s", r->p_id);
  return cv_reply_empty(r, MHD_HTTP_NO_CONTENT);
}

/* ---- results ---- */

/* Checks that j's result can be served: 0 when it succeeded in memory, 1
 * when the answer (202 job JSON) is already set, or an error. */
static int result_ready(cv_req_t *r, cv_job_t *j) {
  cv_job_state_t st = cv_jobctx_state(j);
  cv_jobctx_t *jc = j->user;
  if (st == CV_JOB_QUEUED || st == CV_JOB_RUNNING) {
    int rc = cv_reply_job(r, MHD_HTTP_ACCEPTED, j);
    return rc ? rc : 1;
  }
  if (st != CV_JOB_SUCCEEDED) {
    pthread_mutex_lock(&j->mu);
    cv_error_t e = j->error;
    pthread_mutex_unlock(&j->mu);
    return cv_error_set(&r->err, CV_ECONFLICT, NULL, "job %s %s: %s: %s", j->id, cv_job_state_name(st),
                        cv_err_name(e.code ? e.code : CV_EINTERNAL), e.message[0] ? e.message : cv_strerror(e.code));
  }
  if (jc && jc->sink != CV_SINK_NONE)
    return cv_error_set(&r->err, CV_ENOT_FOUND, NULL, "job %s wrote its outputs to disk (%s under data_dir/outputs)",
                        j->id, jc->sink_rel ? jc->sink_rel : "");
  return 0;
}

static const cv_fmt_t all_offers[] = {CV_FMT_JSON, CV_FMT_NPZ, CV_FMT_NPY};
static const cv_fmt_t one_offers[] = {CV_FMT_NPY, CV_FMT_JSON};

static const char *accept_of(cv_req_t *r) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
}

int cv_h_job_result(cv_req_t *r) {
  cv_job_t *j;
  int rc = find_job(r, true, &j);
  if (rc) return rc;
  cv_jobctx_t *jc = j->user;
  if ((rc = result_ready(r, j))) goto out;
  if ((rc = cv_query_encoding(r, jc && jc->result_b64, &r->b64))) goto out;
  int pick = cv_accept_pick(accept_of(r), all_offers, 3);
  if (pick < 0) {
    rc = cv_error_set(&r->err, CV_ENOT_ACCEPTABLE, NULL,
                      "results come as application/json, application/zip or application/x-npy");
    goto out;
  }
  r->fmt = all_offers[pick];
  rc = cv_reply_result(r, j, MHD_HTTP_OK);
out:
  cv_job_unref(j);
  return rc > 0 ? 0 : rc;
}

int cv_h_job_output(cv_req_t *r) {
  cv_job_t *j;
  int rc = find_job(r, true, &j);
  if (rc) return rc;
  cv_jobctx_t *jc = j->user;
  if ((rc = result_ready(r, j))) goto out;
  int k = -1;
  for (int i = 0; i < j->outs.n_out && k < 0; i++)
    if (!strcmp(j->outs.out[i].name, r->p_name) && (!jc || !jc->selected || jc->selected[i])) k = i;
  if (k < 0 || !j->out_t || !j->out_t[k]) {
    rc = cv_error_set(&r->err, CV_ENOT_FOUND, NULL, "job %s has no output named '%s'", j->id, r->p_name);
    goto out;
  }
  bool b64;
  if ((rc = cv_query_encoding(r, jc && jc->result_b64, &b64))) goto out;
  int pick = cv_accept_pick(accept_of(r), one_offers, 2);
  if (pick < 0) {
    rc = cv_error_set(&r->err, CV_ENOT_ACCEPTABLE, NULL, "an output comes as application/x-npy or application/json");
    goto out;
  }
  cv_array_t a = j->outs.out[k].a;
  a.data = j->out_t[k]->a.data;
  rc = one_offers[pick] == CV_FMT_NPY ? cv_reply_npy(r, MHD_HTTP_OK, j->out_t[k], &a)
                                      : cv_reply_tensor_json(r, MHD_HTTP_OK, &a, b64);
out:
  cv_job_unref(j);
  return rc > 0 ? 0 : rc;
}
