/* h_submit.c — POST /v1/jobs: the parsed spec (JSON, multipart or x-npy)
 * becomes a job: inputs resolved (inline, tensor:ID from the store, file:
 * memory-mapped under data_dir/inputs), select and Accept checked, disk
 * output resolved, then stored and submitted. Async answers 202 at once; a
 * sync request suspends until the loop thread resumes it. Also the per-job
 * context (cv_jobctx_t) and its JSON options. MHD threads. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../engine/paths.h"
#include "server.h"
#include "tbuf.h"

/* ---- the per-job context ---- */

static void jobctx_free(void *p) {
  cv_jobctx_t *jc = p;
  if (!jc) return;
  cv_sink_free(jc);   /* before jc's paths: removes any temporary file left */
  free(jc->selected);
  free(jc->tensor_ids);
  free(jc->tid);
  free(jc->sink_abs);
  free(jc->sink_rel);
  if (jc->path_rel)
    for (int i = 0; i < jc->n_out; i++) free(jc->path_rel[i]);
  free(jc->path_rel);
  free(jc);
}

cv_job_state_t cv_jobctx_state(cv_job_t *j) {
  cv_job_state_t st = (cv_job_state_t)atomic_load(&j->state);
  cv_jobctx_t *jc = j->user;
  if (jc && !atomic_load_explicit(&jc->done, memory_order_acquire) &&
      (st == CV_JOB_SUCCEEDED || st == CV_JOB_FAILED || st == CV_JOB_CANCELLED))
    return CV_JOB_RUNNING;   /* ended in the engine, completion (keep, disk) not processed yet */
  return st;
}

void cv_jobctx_json_opts(cv_job_t *j, bool with_data, bool b64, cv_job_json_opts_t *o) {
  cv_job_json_opts_init(o);
  o->url_prefix = CV_URL_JOBS;
  cv_jobctx_t *jc = j->user;
  if (!jc) return;
  bool done = atomic_load_explicit(&jc->done, memory_order_acquire);
  o->selected = jc->selected;
  if (done) {
    o->tensor_ids = jc->tensor_ids ? jc->tid : NULL;
    o->paths = (const char *const *)jc->path_rel;
  } else {
    o->state = (int)cv_jobctx_state(j);
  }
  o->with_data = with_data && jc->sink == CV_SINK_NONE;
  o->b64 = b64;
}

/* ---- helpers ---- */

/* "b64" / "json" from ?encoding=, else the default. */
int cv_query_encoding(cv_req_t *r, bool dflt, bool *b64) {
  const char *e = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "encoding");
  *b64 = dflt;
  if (!e) return 0;
  if (!strcmp(e, "b64")) *b64 = true;
  else if (!strcmp(e, "json")) *b64 = false;
  else return cv_error_set(&r->err, CV_EINVALID_ARGUMENT, "encoding", "encoding is json or b64, not '%.40s'", e);
  return 0;
}

/* ?wait_s=N: an integer 0…3600. */
int cv_query_wait(cv_req_t *r, int dflt, int *out) {
  const char *w = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "wait_s");
  *out = dflt;
  if (!w) return 0;
  char *end;
  long v = strtol(w, &end, 10);
  if (!*w || *end || v < 0 || v > 3600)
    return cv_error_set(&r->err, CV_EINVALID_ARGUMENT, "wait_s", "wait_s is an integer from 0 to 3600");
  *out = (int)v;
  return 0;
}

static bool prefers_async(cv_req_t *r) {
  const char *p = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Prefer");
  if (!p) return false;
  for (const char *t = p; (t = strcasestr(t, "respond-async")); t += 13) {
    char before = t == p ? ',' : t[-1], after = t[13];
    if ((before == ',' || before == ' ' || before == ';') && (after == 0 || after == ',' || after == ' ' || after == ';'))
      return true;
  }
  return false;
}

/* Resolves every input of the spec to a tensor (new references in ts). */
static int resolve_inputs(cv_req_t *r, const char **names, cv_tensor_t **ts) {
  cv_server_t *s = r->srv;
  for (int i = 0; i < r->spec->n_inputs; i++) {
    cv_spec_input_t *in = &r->spec->inputs[i];
    char field[CV_ERR_FIELD_MAX];
    snprintf(field, sizeof field, "inputs.%s", in->name);
    names[i] = in->name;
    if (in->kind == CV_INPUT_INLINE) {
      ts[i] = cv_tensor_ref(in->tensor);
    } else if (in->kind == CV_INPUT_TENSOR) {
      cv_store_lookup_t lk = cv_store_get_tensor(&s->store, in->ref, &ts[i]);
      if (lk == CV_STORE_GONE)
        return cv_error_set(&r->err, CV_EGONE, field, "tensor:%s expired", in->ref);
      if (lk != CV_STORE_FOUND) return cv_error_set(&r->err, CV_ENOT_FOUND, field, "no tensor %s", in->ref);
    } else {
      char real[PATH_MAX];
      int rc = cv_resolve_input(s->cfg.data_dir, in->ref, field, real, sizeof real, &r->err);
      if (!rc) rc = cv_npy_map(real, s->cfg.max_tensor_bytes, &ts[i], &r->err);
      if (rc) {
        if (!r->err.field[0]) snprintf(r->err.field, sizeof r->err.field, "%s", field);
        return rc;
      }
    }
  }
  return 0;
}

/* The job context from the spec: select, keep, encoding, disk output. */
static int make_ctx(cv_req_t *r, cv_job_t *j, cv_jobctx_t **out) {
  cv_spec_t *sp = r->spec;
  cv_jobctx_t *jc = calloc(1, sizeof *jc);
  if (!jc) return cv_error_set(&r->err, CV_EOUT_OF_MEMORY, NULL, "no memory for a job");
  *out = jc;
  jc->srv = r->srv;
  snprintf(jc->rid, sizeof jc->rid, "%s", r->rid);
  jc->n_out = j->outs.n_out;
  jc->keep = sp->keep;
  jc->result_b64 = sp->result_b64;
  atomic_init(&jc->done, false);
  size_t n = jc->n_out > 0 ? (size_t)jc->n_out : 1;
  if (sp->n_select > 0) {
    if (!(jc->selected = calloc(n, sizeof *jc->selected)))
      return cv_error_set(&r->err, CV_EOUT_OF_MEMORY, NULL, "no memory for a job");
    for (int k = 0; k < sp->n_select; k++) {
      bool found = false;
      for (int i = 0; i < jc->n_out; i++)
        if (!strcmp(j->outs.out[i].name, sp->select[k])) jc->selected[i] = found = true;
      if (!found) {
        char field[CV_ERR_FIELD_MAX];
        snprintf(field, sizeof field, "select[%d]", k);
        return cv_error_set(&r->err, CV_EINVALID_ARGUMENT, field, "the job has no output named '%s'", sp->select[k]);
      }
    }
  }
  if (jc->keep) {
    jc->tensor_ids = calloc(n, sizeof *jc->tensor_ids);
    jc->tid = calloc(n, sizeof *jc->tid);
    if (!jc->tensor_ids || !jc->tid) return cv_error_set(&r->err, CV_EOUT_OF_MEMORY, NULL, "no memory for a job");
  }
  return cv_sink_prepare(r->srv, sp, j, jc, &r->err);
}

/* ---- POST /v1/jobs ---- */

static const cv_fmt_t result_offers[] = {CV_FMT_JSON, CV_FMT_NPZ, CV_FMT_NPY};

int cv_h_jobs_post(cv_req_t *r) {
  cv_server_t *s = r->srv;
  int rc;
  if (r->body == CV_BODY_JSON) {
    cv_spec_limits_t lim = {.max_tensor_bytes = s->cfg.max_tensor_bytes};
    char none = '\0';   /* the body is parsed in place: it is dropped right after */
    if ((rc = cv_req_spec_alloc(r)) ||
        (rc = cv_spec_parse_mut(r->json.data ? r->json.data : &none, r->json.len, &lim, r->spec, &r->err)))
      return rc;
    cv_tbuf_put(cv_strbuf_take(&r->json, NULL));
  }
  cv_spec_t *sp = r->spec;
  bool async = sp->async || prefers_async(r);
  int wait_s;
  if ((rc = cv_query_encoding(r, sp->result_b64, &r->b64)) || (rc = cv_query_wait(r, atomic_load(&s->wait_s), &wait_s)))
    return rc;
  r->fmt = CV_FMT_JSON;
  if (!async) {
    int pick = cv_accept_pick(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
                              result_offers, 3);
    if (pick < 0)
      return cv_error_set(&r->err, CV_ENOT_ACCEPTABLE, NULL,
                          "results come as application/json, application/zip or application/x-npy");
    r->fmt = result_offers[pick];
  }
  int n = sp->n_inputs;
  const char **names = calloc(n > 0 ? (size_t)n : 1, sizeof *names);
  cv_tensor_t **ts = calloc(n > 0 ? (size_t)n : 1, sizeof *ts);
  cv_job_t *j = NULL;
  cv_jobctx_t *jc = NULL;
  if (!names || !ts) rc = cv_error_set(&r->err, CV_EOUT_OF_MEMORY, NULL, "no memory for a job");
  else rc = resolve_inputs(r, names, ts);
  if (!rc) rc = cv_job_create(&j, &sp->params, n, names, ts, &r->err);
  for (int i = 0; ts && i < n; i++) cv_tensor_unref(ts[i]);
  free(ts);
  free(names);
  if (rc) return rc;
  rc = make_ctx(r, j, &jc);
  j->user = jc;
  j->user_free = jobctx_free;
  if (rc) goto fail;
  j->priority = sp->priority;
  j->deadline_ns = cv_deadline_after_ms(j->created_ns, sp->timeout_ms);
  if (jc->sink != CV_SINK_NONE) {   /* written as the device reports finished slabs */
    j->on_slab = cv_sink_on_slab;
    j->on_slab_ctx = jc;
  }
  if (r->fmt == CV_FMT_NPY && jc->sink == CV_SINK_NONE) {
    int sel = 0;
    for (int i = 0; i < jc->n_out; i++) sel += !jc->selected || jc->selected[i];
    if (sel != 1) {
      rc = cv_error_set(&r->err, CV_ENOT_ACCEPTABLE, NULL,
                        "application/x-npy holds one output; this job has %d (ask for application/zip, "
                        "or \"select\" one)", sel);
      goto fail;
    }
  }
  cv_body_free(r);   /* the job holds the inputs now; the spec and body buffers are done */
  if (atomic_load(&s->stopping)) {
    rc = cv_error_set(&r->err, CV_ESHUTTING_DOWN, NULL, "the server is stopping; no new jobs");
    goto fail;
  }
  if ((rc = cv_store_add_job(&s->store, j))) {
    rc = cv_error_set(&r->err, (cv_err_t)-rc, NULL, "cannot register the job");
    goto fail;
  }
  /* small sync jobs without a disk sink run right here when the CPU is
   * idle (no queue, no suspend); the rest go to the engine's queue */
  rc = !async && wait_s > 0 && jc->sink == CV_SINK_NONE ? cv_engine_run_inline(&s->engine, j, &r->err) : 0;
  bool ran = rc == 1;
  if (ran) {
    cv_server_finish_inline(s, j);
    rc = 0;
  } else if (rc == 0) {
    j->done = cv_server_job_done;
    j->done_arg = s;
    rc = cv_engine_submit(&s->engine, j, &r->err);
  }
  cv_posting_done(r);
  if (rc) {
    cv_store_remove_job(&s->store, j);
    goto fail;
  }
  cv_log_job(&s->log, CV_LOG_DEBUG, r->rid, j->id, NULL, "accepted %s job (%s)", cv_op_name(j->op),
             async ? "async" : ran ? "sync, ran inline" : "sync");
  if (async) {
    rc = cv_reply_job(r, MHD_HTTP_ACCEPTED, j);
    cv_job_unref(j);
    return rc;
  }
  r->wait_result = true;
  if (cv_wait_begin(r, j, (int64_t)wait_s * 1000)) rc = cv_reply_waited(r);
  cv_job_unref(j);   /* r->job holds its own reference */
  return rc;
fail:
  cv_job_unref(j);
  return rc;
}
