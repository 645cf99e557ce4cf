/* sink.c — disk outputs (the spec's "output"): resolved and checked when the
 * job is submitted (confinement to data_dir/outputs → 400, an existing
 * target without overwrite → 409), written after it succeeds on the libuv
 * thread pool (npz/npy writers: temp file, fsync, atomic rename), partial
 * files removed on failure, ENOSPC → 507. The job reads as running until
 * its files are durable. prepare: MHD threads; start/after: loop thread. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/paths.h"
#include "../proto/npz.h"
#include "server.h"

static bool selected(const cv_jobctx_t *jc, int i) { return !jc->selected || jc->selected[i]; }

/* "<dir>/<name>.npy" (or .npz) under the resolved folder or as displayed. */
static int member_path(const char *dir, const char *name, bool npy, char *out, size_t cap) {
  size_t n = strlen(dir);
  int k = snprintf(out, cap, "%s%s%s.%s", dir, n && dir[n - 1] == '/' ? "" : "/", name, npy ? "npy" : "npz");
  return k < 0 || (size_t)k >= cap ? -1 : 0;
}

int cv_sink_prepare(cv_server_t *s, const cv_spec_t *spec, cv_job_t *j, cv_jobctx_t *jc, cv_error_t *err) {
  if (!spec->has_output) return 0;
  char abs[PATH_MAX];
  int rc;
  jc->overwrite = spec->overwrite;
  if (!(jc->path_rel = calloc(jc->n_out > 0 ? (size_t)jc->n_out : 1, sizeof *jc->path_rel)))
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  if (spec->output_path) {
    if ((rc = cv_resolve_output(s->cfg.data_dir, spec->output_path, "output.path", abs, sizeof abs, err))) return rc;
    if (!jc->overwrite && access(abs, F_OK) == 0)
      return cv_error_set(err, CV_ECONFLICT, "output.path", "%s exists (set \"overwrite\": true)", spec->output_path);
    jc->sink = CV_SINK_FILE;
    jc->sink_rel = strdup(spec->output_path);
  } else {
    char rel[PATH_MAX];
    size_t n = strlen(spec->output_dir);
    if (snprintf(rel, sizeof rel, "%s%s", spec->output_dir, n && spec->output_dir[n - 1] == '/' ? "" : "/") >=
        (int)sizeof rel)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "output.dir", "path too long");
    if ((rc = cv_resolve_output(s->cfg.data_dir, rel, "output.dir", abs, sizeof abs, err))) return rc;
    jc->sink = CV_SINK_DIR;
    jc->sink_npy = spec->output_npy;
    jc->sink_rel = strdup(rel);
    for (int i = 0; i < jc->n_out; i++) {
      char p[PATH_MAX];
      if (!selected(jc, i)) continue;
      if (member_path(abs, j->outs.out[i].name, jc->sink_npy, p, sizeof p))
        return cv_error_set(err, CV_EINVALID_ARGUMENT, "output.dir", "path too long");
      if (!jc->overwrite && access(p, F_OK) == 0)
        return cv_error_set(err, CV_ECONFLICT, "output.dir", "%s%s.%s exists (set \"overwrite\": true)", rel,
                            j->outs.out[i].name, jc->sink_npy ? "npy" : "npz");
    }
  }
  if (!(jc->sink_abs = strdup(abs)) || !jc->sink_rel) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  return 0;
}

/* ---- writing, on the libuv thread pool ---- */

typedef struct sink_work_s {
  uv_work_t req;
  cv_server_t *s;
  cv_job_t *j;
  void (*done)(cv_server_t *, cv_job_t *);
  int rc;
  cv_error_t err;
} sink_work_t;

static int write_dir(cv_job_t *j, cv_jobctx_t *jc, cv_io_t *ios, const int *idx, int n, cv_error_t *err) {
  char (*paths)[PATH_MAX] = calloc(n > 0 ? (size_t)n : 1, sizeof *paths);
  if (!paths) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory to write the outputs");
  int written = 0, rc = 0;
  for (int k = 0; k < n && !rc; k++) {
    if (atomic_load(&jc->cancel)) {
      rc = cv_error_set(err, CV_ECANCELLED, NULL, "job cancelled while its outputs were written");
      break;
    }
    if (member_path(jc->sink_abs, ios[k].name, jc->sink_npy, paths[k], PATH_MAX)) {
      rc = cv_error_set(err, CV_EINVALID_ARGUMENT, "output.dir", "path too long");
      break;
    }
    if (!jc->overwrite && access(paths[k], F_OK) == 0) {
      rc = cv_error_set(err, CV_ECONFLICT, "output.dir", "%s%s.%s appeared meanwhile (set \"overwrite\": true)",
                        jc->sink_rel, ios[k].name, jc->sink_npy ? "npy" : "npz");
      break;
    }
    rc = jc->sink_npy ? cv_npy_save(paths[k], &ios[k].a, err) : cv_npz_save(paths[k], &ios[k], 1, false, err);
    if (!rc) written++;
  }
  if (rc) {
    for (int k = 0; k < written; k++) unlink(paths[k]);   /* nothing partial stays */
    free(paths);
    return rc;
  }
  free(paths);
  for (int k = 0; k < n; k++) {
    char rel[PATH_MAX];
    member_path(jc->sink_rel, ios[k].name, jc->sink_npy, rel, sizeof rel);
    jc->path_rel[idx[k]] = strdup(rel);
  }
  (void)j;
  return 0;
}

static void sink_work(uv_work_t *req) {
  sink_work_t *w = req->data;
  cv_job_t *j = w->j;
  cv_jobctx_t *jc = j->user;
  int n = 0, nout = j->outs.n_out;
  cv_io_t *ios = calloc(nout > 0 ? (size_t)nout : 1, sizeof *ios);
  int *idx = calloc(nout > 0 ? (size_t)nout : 1, sizeof *idx);
  if (!ios || !idx) {
    w->rc = cv_error_set(&w->err, CV_EOUT_OF_MEMORY, NULL, "no memory to write the outputs");
    goto out;
  }
  for (int i = 0; i < nout; i++) {
    if (!selected(jc, i)) continue;
    ios[n] = j->outs.out[i];
    ios[n].a.data = j->out_t[i]->a.data;
    idx[n++] = i;
  }
  if (atomic_load(&jc->cancel)) {
    w->rc = cv_error_set(&w->err, CV_ECANCELLED, NULL, "job cancelled before its outputs were written");
  } else if (jc->sink == CV_SINK_FILE) {
    if (!jc->overwrite && access(jc->sink_abs, F_OK) == 0)
      w->rc = cv_error_set(&w->err, CV_ECONFLICT, "output.path", "%s appeared meanwhile (set \"overwrite\": true)",
                           jc->sink_rel);
    else
      w->rc = cv_npz_save(jc->sink_abs, ios, n, false, &w->err);
    for (int k = 0; !w->rc && k < n; k++) jc->path_rel[idx[k]] = strdup(jc->sink_rel);
  } else {
    w->rc = write_dir(j, jc, ios, idx, n, &w->err);
  }
out:
  free(ios);
  free(idx);
}

static void sink_after(uv_work_t *req, int status) {
  sink_work_t *w = req->data;
  cv_server_t *s = w->s;
  cv_job_t *j = w->j;
  cv_jobctx_t *jc = j->user;
  if (status == UV_ECANCELED && !w->rc)
    w->rc = cv_error_set(&w->err, CV_ECANCELLED, NULL, "the server stopped before the outputs were written");
  if (w->rc) {
    if (w->err.code == CV_OK) cv_error_set(&w->err, CV_EINTERNAL, NULL, "writing the outputs failed");
    jc->sink_err = w->err;
    pthread_mutex_lock(&j->mu);
    j->error = w->err;
    atomic_store(&j->state, w->err.code == CV_ECANCELLED ? CV_JOB_CANCELLED : CV_JOB_FAILED);
    pthread_mutex_unlock(&j->mu);
    cv_log_job(&s->log, CV_LOG_WARN, jc->rid, j->id, NULL, "disk output %s failed: %s: %s", jc->sink_rel,
               cv_err_name(w->err.code), w->err.message);
  }
  atomic_fetch_sub(&s->sinks_pending, 1);
  void (*done)(cv_server_t *, cv_job_t *) = w->done;
  free(w);
  done(s, j);
}

int cv_sink_start(cv_server_t *s, cv_job_t *j, void (*done)(cv_server_t *, cv_job_t *)) {
  sink_work_t *w = calloc(1, sizeof *w);
  if (!w) return -CV_EOUT_OF_MEMORY;
  w->s = s;
  w->j = j;
  w->done = done;
  w->req.data = w;
  atomic_fetch_add(&s->sinks_pending, 1);
  int rc = uv_queue_work(&s->loop, &w->req, sink_work, sink_after);
  if (rc) {
    atomic_fetch_sub(&s->sinks_pending, 1);
    free(w);
    return -CV_EINTERNAL;
  }
  return 0;
}
