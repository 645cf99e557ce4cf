/* sink.c — disk outputs (the spec's "output"): resolved and checked when the
 * job is submitted (confinement to data_dir/outputs → 400, an existing
 * target without overwrite → 409), written in chunks as the outputs are
 * produced on the libuv thread pool (proto/npfile: temp file, .npy/.npz
 * written in order, fsync, atomic rename without replacing unless
 * overwrite), partial files removed on failure, ENOSPC/EDQUOT/EFBIG → 507.
 * The job reads as running until its files are durable. Threads: prepare on
 * MHD threads; produced on any thread (the job's producer); start, wake-ups
 * and pump completions on the loop thread; the pump itself on a pool thread,
 * one per job at a time. ds->mu guards the producer/loop/pump hand-off. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/paths.h"
#include "../proto/npfile.h"
#include "server.h"

static bool selected(const cv_jobctx_t *jc, int i) { return !jc->selected || jc->selected[i]; }

/* "<dir>/<name>.npy" (or .npz) under the resolved folder or as displayed. */
static int member_path(const char *dir, const char *name, bool npy, char *out, size_t cap) {
  size_t n = strlen(dir);
  int k = snprintf(out, cap, "%s%s%s.%s", dir, n && dir[n - 1] == '/' ? "" : "/", name, npy ? "npy" : "npz");
  return k < 0 || (size_t)k >= cap ? -1 : 0;
}

/* ---- the writer state ---- */

#define CV_SINK_CHUNK ((size_t)8 << 20)   /* bytes per write(2): bounded, straight from the tensor */

typedef struct ds_out_s {
  int out;                 /* the job's output index */
  uint64_t len;            /* data bytes */
  cv_tensor_t *t;          /* a reference once the first bytes are produced */
  uint64_t produced;       /* under mu */
  uint64_t written;        /* pump only */
} ds_out_t;

struct cv_dsink_s {
  cv_server_t *s;
  cv_job_t *j;             /* not a reference: the job owns jc, which owns this */
  pthread_mutex_t mu;
  int n;                   /* selected outputs, in file/member order */
  ds_out_t *o;
  int *slot;               /* [job outputs] → index into o, -1 when not selected */
  /* pump only (one pump at a time; hand-offs through mu) */
  int n_files, cur;
  cv_npfile_t *files;      /* FILE: [0]; DIR: one per output */
  char **abs;              /* final paths, as files */
  bool member_open;
  /* under mu */
  bool queued, busy, kick, finishing, abort, ended;
  int rc;
  cv_error_t err;
  void (*done)(cv_server_t *, cv_job_t *);
  uv_work_t req;
  cv_dsink_t *next;        /* srv->sink_head */
};

static void ds_set_err(cv_dsink_t *ds, int rc, const cv_error_t *e) {
  pthread_mutex_lock(&ds->mu);
  if (!ds->rc) {
    ds->rc = rc;
    ds->err = *e;
  }
  pthread_mutex_unlock(&ds->mu);
}

static int ds_new(cv_server_t *s, cv_job_t *j, cv_jobctx_t *jc, cv_error_t *err) {
  cv_dsink_t *ds = calloc(1, sizeof *ds);
  int nout = j->outs.n_out;
  if (!ds) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  ds->s = s;
  ds->j = j;
  pthread_mutex_init(&ds->mu, NULL);
  jc->ds = ds;
  ds->o = calloc(nout > 0 ? (size_t)nout : 1, sizeof *ds->o);
  ds->slot = calloc(nout > 0 ? (size_t)nout : 1, sizeof *ds->slot);
  if (!ds->o || !ds->slot) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  for (int i = 0; i < nout; i++) {
    ds->slot[i] = -1;
    if (!selected(jc, i)) continue;
    size_t nb = 0;
    const cv_array_t *a = &j->outs.out[i].a;
    if (cv_shape_check(a->dtype, a->ndim, a->shape, 0, &nb, NULL, err)) return -err->code;
    ds->slot[i] = ds->n;
    ds->o[ds->n++] = (ds_out_t){.out = i, .len = nb};
  }
  ds->n_files = jc->sink == CV_SINK_FILE ? 1 : ds->n;
  ds->files = calloc(ds->n_files > 0 ? (size_t)ds->n_files : 1, sizeof *ds->files);
  ds->abs = calloc(ds->n_files > 0 ? (size_t)ds->n_files : 1, sizeof *ds->abs);
  if (!ds->files || !ds->abs) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  for (int k = 0; k < ds->n_files; k++) {
    char p[PATH_MAX];
    if (jc->sink == CV_SINK_FILE) snprintf(p, sizeof p, "%s", jc->sink_abs);
    else if (member_path(jc->sink_abs, j->outs.out[ds->o[k].out].name, jc->sink_npy, p, sizeof p))
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "output.dir", "path too long");
    if (!(ds->abs[k] = strdup(p))) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory");
  }
  return 0;
}

void cv_sink_free(cv_jobctx_t *jc) {
  cv_dsink_t *ds = jc ? jc->ds : NULL;
  if (!ds) return;
  for (int k = 0; ds->files && k < ds->n_files; k++) cv_npfile_abort(&ds->files[k]);   /* unlinks temp files */
  for (int i = 0; ds->o && i < ds->n; i++) cv_tensor_unref(ds->o[i].t);
  for (int k = 0; ds->abs && k < ds->n_files; k++) free(ds->abs[k]);
  free(ds->abs);
  free(ds->files);
  free(ds->o);
  free(ds->slot);
  pthread_mutex_destroy(&ds->mu);
  free(ds);
  jc->ds = NULL;
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
  return ds_new(s, j, jc, err);
}

/* ---- the pump: a pool thread writes what is ready ---- */

static const char *sink_field(const cv_jobctx_t *jc) { return jc->sink == CV_SINK_FILE ? "output.path" : "output.dir"; }

/* Removes everything this job wrote: temporary files, and on a failed
 * commit of several files the ones already renamed into place. */
static void drop_files(cv_dsink_t *ds, int committed) {
  for (int k = 0; k < ds->n_files; k++) cv_npfile_abort(&ds->files[k]);
  for (int k = 0; k < committed; k++) unlink(ds->abs[k]);
}

static int commit_all(cv_dsink_t *ds, cv_error_t *err) {
  cv_jobctx_t *jc = ds->j->user;
  for (int k = 0; k < ds->n_files; k++) {
    int rc = atomic_load(&jc->cancel) ? cv_error_set(err, CV_ECANCELLED, NULL, "job cancelled while its outputs were written")
                                      : cv_npfile_commit(&ds->files[k], err);
    if (rc) {
      if (rc == -CV_ECONFLICT) {
        char rel[PATH_MAX];
        if (jc->sink == CV_SINK_FILE) snprintf(rel, sizeof rel, "%s", jc->sink_rel);
        else member_path(jc->sink_rel, ds->j->outs.out[ds->o[k].out].name, jc->sink_npy, rel, sizeof rel);
        cv_error_set(err, CV_ECONFLICT, sink_field(jc), "%s appeared meanwhile (set \"overwrite\": true)", rel);
      }
      drop_files(ds, k);
      return rc;
    }
  }
  for (int i = 0; i < ds->n; i++) {
    char rel[PATH_MAX];
    int out = ds->o[i].out;
    if (jc->sink == CV_SINK_FILE) snprintf(rel, sizeof rel, "%s", jc->sink_rel);
    else member_path(jc->sink_rel, ds->j->outs.out[out].name, jc->sink_npy, rel, sizeof rel);
    free(jc->path_rel[out]);
    jc->path_rel[out] = strdup(rel);
  }
  return 0;
}

/* Starts the member of output ds->cur (and its file when it has none yet). */
static int begin_member(cv_dsink_t *ds, cv_error_t *err) {
  cv_jobctx_t *jc = ds->j->user;
  int f = jc->sink == CV_SINK_FILE ? 0 : ds->cur;
  const cv_io_t *io = &ds->j->outs.out[ds->o[ds->cur].out];
  int rc = 0;
  if (!cv_npfile_tmp(&ds->files[f]))
    rc = cv_npfile_open(&ds->files[f], ds->abs[f], jc->sink == CV_SINK_DIR && jc->sink_npy ? CV_NPFILE_NPY : CV_NPFILE_NPZ,
                        jc->overwrite, err);
  if (!rc) rc = cv_npfile_begin(&ds->files[f], io->name, &io->a, err);
  if (!rc) ds->member_open = true;
  return rc;
}

static void pump(uv_work_t *req) {
  cv_dsink_t *ds = req->data;
  cv_jobctx_t *jc = ds->j->user;
  cv_error_t err;
  for (;;) {
    pthread_mutex_lock(&ds->mu);
    if (!ds->rc && atomic_load(&jc->cancel)) {
      cv_error_set(&ds->err, CV_ECANCELLED, NULL, "job cancelled while its outputs were written");
      ds->rc = -CV_ECANCELLED;
    }
    bool stop = ds->rc || ds->abort, fin = ds->finishing, ended = ds->ended;
    ds_out_t *o = ds->cur < ds->n ? &ds->o[ds->cur] : NULL;
    uint64_t produced = o ? o->produced : 0;
    const unsigned char *data = o && o->t ? o->t->a.data : NULL;
    pthread_mutex_unlock(&ds->mu);
    if (ended) return;
    int rc = 0;
    if (stop) {
      drop_files(ds, 0);
    } else if (!o) {
      if (!fin) return;   /* all written; the commit waits for the job's end */
      rc = commit_all(ds, &err);
    } else if (!ds->member_open) {
      if (!(rc = begin_member(ds, &err))) continue;
    } else if (o->written < produced) {
      uint64_t k = produced - o->written < CV_SINK_CHUNK ? produced - o->written : CV_SINK_CHUNK;
      int f = jc->sink == CV_SINK_FILE ? 0 : ds->cur;
      if (!(rc = cv_npfile_write(&ds->files[f], o->written, data + o->written, (size_t)k, &err))) {
        o->written += k;
        continue;
      }
    } else if (o->written == o->len) {
      int f = jc->sink == CV_SINK_FILE ? 0 : ds->cur;
      if (!(rc = cv_npfile_end(&ds->files[f], &err))) {
        ds->member_open = false;
        ds->cur++;
        continue;
      }
    } else {
      return;   /* waiting for more of this output */
    }
    if (rc) {
      drop_files(ds, 0);
      ds_set_err(ds, rc, &err);
    }
    pthread_mutex_lock(&ds->mu);
    ds->ended = true;
    pthread_mutex_unlock(&ds->mu);
    return;
  }
}

static void pump_after(uv_work_t *req, int status);

/* ds->mu held, the writer ended: the outputs' memory is no longer needed here. */
static void release_tensors_locked(cv_dsink_t *ds) {
  for (int i = 0; i < ds->n; i++) {
    cv_tensor_unref(ds->o[i].t);
    ds->o[i].t = NULL;
  }
}

/* Loop thread, ds->mu held: starts the pump (a job reference while it runs). */
static void pump_start_locked(cv_dsink_t *ds) {
  ds->busy = true;
  ds->kick = false;
  ds->req.data = ds;
  cv_job_ref(ds->j);
  if (uv_queue_work(&ds->s->loop, &ds->req, pump, pump_after) != 0) {
    /* cannot happen with a live loop; record it and let the end path report */
    ds->busy = false;
    if (!ds->rc) {
      ds->rc = -CV_EINTERNAL;
      cv_error_set(&ds->err, CV_EINTERNAL, NULL, "cannot start writing the outputs");
    }
    ds->ended = true;
    drop_files(ds, 0);
    cv_job_unref(ds->j);
  }
}

static void sink_finished(cv_server_t *s, cv_dsink_t *ds);

static void pump_after(uv_work_t *req, int status) {
  cv_dsink_t *ds = req->data;
  cv_job_t *j = ds->j;
  pthread_mutex_lock(&ds->mu);
  ds->busy = false;
  if (status == UV_ECANCELED && !ds->ended) {
    if (!ds->rc) {
      ds->rc = -CV_ECANCELLED;
      cv_error_set(&ds->err, CV_ECANCELLED, NULL, "the server stopped before the outputs were written");
    }
    drop_files(ds, 0);
    ds->ended = true;
  }
  if (ds->ended) release_tensors_locked(ds);
  bool again = !ds->ended && (ds->kick || ds->finishing);
  bool finished = ds->ended && ds->finishing && ds->done;
  bool early = ds->ended && !ds->finishing && ds->rc;
  if (again) pump_start_locked(ds);
  pthread_mutex_unlock(&ds->mu);
  if (early) cv_engine_cancel(&ds->s->engine, j);   /* its outputs cannot be stored: stop computing them */
  if (finished) sink_finished(ds->s, ds);
  cv_job_unref(j);   /* the pump's reference; the completion still holds one when finished */
}

/* Loop thread: the files are durable or gone; the job's end as clients see it. */
static void sink_finished(cv_server_t *s, cv_dsink_t *ds) {
  cv_job_t *j = ds->j;
  cv_jobctx_t *jc = j->user;
  void (*done)(cv_server_t *, cv_job_t *) = ds->done;
  ds->done = NULL;
  if (ds->rc) {   /* the sink's own failure (a job that failed by itself only had its files removed) */
    cv_error_t e = ds->err;
    if (e.code == CV_OK) cv_error_set(&e, CV_EINTERNAL, NULL, "writing the outputs failed");
    jc->sink_err = e;
    pthread_mutex_lock(&j->mu);
    j->error = e;
    atomic_store(&j->state, e.code == CV_ECANCELLED ? CV_JOB_CANCELLED : CV_JOB_FAILED);
    pthread_mutex_unlock(&j->mu);
    cv_log_job(&s->log, CV_LOG_WARN, jc->rid, j->id, NULL, "disk output %s failed: %s: %s", jc->sink_rel,
               cv_err_name(e.code), e.message);
  }
  atomic_fetch_sub(&s->sinks_pending, 1);
  done(s, j);
}

/* ---- producers and the loop ---- */

void cv_sink_produced(cv_jobctx_t *jc, int out_index, uint64_t byte_offset, uint64_t nbytes) {
  cv_dsink_t *ds = jc ? jc->ds : NULL;
  if (!ds || out_index < 0 || out_index >= ds->j->outs.n_out || ds->slot[out_index] < 0) return;
  ds_out_t *o = &ds->o[ds->slot[out_index]];
  cv_server_t *s = ds->s;
  bool wake = false;
  pthread_mutex_lock(&ds->mu);
  if (ds->ended || ds->rc) {
    pthread_mutex_unlock(&ds->mu);
    return;
  }
  if (byte_offset != o->produced || nbytes > o->len - o->produced) {
    ds->rc = -CV_EINTERNAL;
    cv_error_set(&ds->err, CV_EINTERNAL, NULL, "output %s: bytes %llu..+%llu produced out of order (expected %llu)",
                 ds->j->outs.out[out_index].name, (unsigned long long)byte_offset, (unsigned long long)nbytes,
                 (unsigned long long)o->produced);
  } else {
    if (!o->t) o->t = cv_tensor_ref(ds->j->out_t[out_index]);   /* the producer's thread owns out_t now */
    o->produced += nbytes;
  }
  if (ds->busy) ds->kick = true;
  else if (!ds->queued) wake = ds->queued = true;
  pthread_mutex_unlock(&ds->mu);
  if (!wake) return;
  pthread_mutex_lock(&s->mu);
  if (s->sink_wake_inited) {
    cv_job_ref(ds->j);   /* while listed */
    ds->next = s->sink_head;
    s->sink_head = ds;
    uv_async_send(&s->sink_wake);   /* under mu: cv_sink_loop_close clears sink_wake_inited under it */
  } else {
    pthread_mutex_lock(&ds->mu);
    ds->queued = false;
    pthread_mutex_unlock(&ds->mu);
  }
  pthread_mutex_unlock(&s->mu);
}

void cv_sink_on_slab(void *ctx, int out_index, uint64_t byte_offset, uint64_t nbytes) {
  cv_sink_produced(ctx, out_index, byte_offset, nbytes);
}

static void on_sink_wake(uv_async_t *a) {
  cv_server_t *s = a->data;
  pthread_mutex_lock(&s->mu);
  cv_dsink_t *list = s->sink_head;
  s->sink_head = NULL;
  pthread_mutex_unlock(&s->mu);
  while (list) {
    cv_dsink_t *ds = list;
    list = ds->next;
    ds->next = NULL;
    cv_job_t *j = ds->j;
    pthread_mutex_lock(&ds->mu);
    ds->queued = false;
    if (!ds->busy && !ds->ended) pump_start_locked(ds);
    pthread_mutex_unlock(&ds->mu);
    cv_job_unref(j);
  }
}

void cv_sink_loop_init(cv_server_t *s) {
  uv_async_init(&s->loop, &s->sink_wake, on_sink_wake);
  s->sink_wake.data = s;
  pthread_mutex_lock(&s->mu);
  s->sink_wake_inited = true;
  pthread_mutex_unlock(&s->mu);
}

static void sink_close_cb(uv_handle_t *h) { (void)h; }

void cv_sink_loop_close(cv_server_t *s) {
  pthread_mutex_lock(&s->mu);
  bool was = s->sink_wake_inited;
  s->sink_wake_inited = false;
  cv_dsink_t *list = s->sink_head;
  s->sink_head = NULL;
  pthread_mutex_unlock(&s->mu);
  while (list) {   /* never started: their jobs end without the loop (temp files go with the jobctx) */
    cv_dsink_t *ds = list;
    list = ds->next;
    pthread_mutex_lock(&ds->mu);
    ds->queued = false;
    pthread_mutex_unlock(&ds->mu);
    cv_job_unref(ds->j);
  }
  if (was) uv_close((uv_handle_t *)&s->sink_wake, sink_close_cb);
}

int cv_sink_start(cv_server_t *s, cv_job_t *j, void (*done)(cv_server_t *, cv_job_t *)) {
  cv_jobctx_t *jc = j->user;
  cv_dsink_t *ds = jc ? jc->ds : NULL;
  if (!ds) return atomic_load(&j->state) == CV_JOB_SUCCEEDED ? -CV_EINTERNAL : 1;
  bool ok = atomic_load(&j->state) == CV_JOB_SUCCEEDED;
  pthread_mutex_lock(&ds->mu);
  bool touched = ds->busy || ds->queued || ds->ended || ds->rc;
  for (int i = 0; !touched && i < ds->n; i++) touched = ds->o[i].produced > 0;
  if (!ok && !touched) {   /* nothing was ever written */
    ds->ended = true;
    pthread_mutex_unlock(&ds->mu);
    return 1;
  }
  ds->finishing = true;
  ds->done = done;
  if (!ok) {
    ds->abort = true;
  } else {
    /* the in-memory path: whatever no producer reported is ready now */
    for (int i = 0; i < ds->n; i++) {
      ds_out_t *o = &ds->o[i];
      if (!o->t && j->out_t) o->t = cv_tensor_ref(j->out_t[o->out]);
      if (!o->t && o->len) {
        if (!ds->rc) {
          ds->rc = -CV_EINTERNAL;
          cv_error_set(&ds->err, CV_EINTERNAL, NULL, "output %s has no data", j->outs.out[o->out].name);
        }
      }
      o->produced = o->len;
    }
  }
  atomic_fetch_add(&s->sinks_pending, 1);
  if (ds->busy) ds->kick = true;
  else if (!ds->queued) pump_start_locked(ds);   /* a queued one starts from the wake-up */
  bool finished = ds->ended && !ds->busy && !ds->queued;   /* ended before (or the pump could not start) */
  if (finished) release_tensors_locked(ds);
  pthread_mutex_unlock(&ds->mu);
  if (finished) sink_finished(s, ds);
  return 0;
}
