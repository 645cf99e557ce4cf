/* engine.c — admission control, the per-device worker loop with its dynamic
 * batcher, and running a batch on a backend. Locks: e->mu, then a job's mu
 * (never the other way); no lock is held across a backend call or a done
 * callback. */
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CV_ENGINE_DEFAULT_QUEUE 1024
#define CV_ENGINE_DEFAULT_BATCH 64
#define CV_ENGINE_DEFAULT_DELAY_US 500
#define CV_ENGINE_POOL_MAX ((size_t)2 << 30)

void cv_engine_config_default(cv_engine_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->want_cpu = cfg->want_cuda = true;
  cfg->max_queue_jobs = CV_ENGINE_DEFAULT_QUEUE;
  cfg->max_batch = CV_ENGINE_DEFAULT_BATCH;
  cfg->max_batch_delay_us = CV_ENGINE_DEFAULT_DELAY_US;
}

static bool is_final(int s) { return s == CV_JOB_SUCCEEDED || s == CV_JOB_FAILED || s == CV_JOB_CANCELLED; }

/* Returns a job's accounting to the engine once it has ended. */
static void release_slot(cv_engine_t *e, cv_job_t *j, bool was_running) {
  pthread_mutex_lock(&e->mu);
  e->unfinished--;
  if (was_running) e->running--;
  e->inflight_bytes -= j->in_bytes + j->out_bytes;
  pthread_mutex_unlock(&e->mu);
}

static void end_job(cv_engine_t *e, cv_job_t *j, cv_job_state_t st, const cv_error_t *err,
                    bool was_running) {
  /* Finish (and run done) before giving the slot back: a drain that sees no
   * unfinished job must also see its completion already posted. */
  bool ended = cv_job_finish(j, st, err);
  release_slot(e, j, was_running);
  if (ended) atomic_fetch_add(&e->stats.jobs_by_state[st], 1);
  cv_job_unref(j); /* the engine's reference */
}

/* ---- running a batch ---- */

static void fail_item(cv_work_t *w, int rc, const char *msg) {
  w->rc = rc;
  cv_error_set(&w->err, (cv_err_t)-rc, NULL, "%s", msg);
}

#define CV_ENGINE_STACK_BATCH 8   /* batches this small keep their bookkeeping on the stack */
#define CV_ENGINE_SHARED_MAX ((size_t)64 << 20)   /* most bytes of small outputs in one shared buffer */

static bool small_output(const cv_array_t *a) {
  size_t es = cv_dtype_size(a->dtype);
  int64_t n = cv_shape_numel(a->shape, a->ndim);
  return n >= 0 && es && (uint64_t)n < CV_POOL_MIN_BYTES / es;
}

/* Outputs of the items still ok (j->out_t allocated): the small ones of a
 * batch of several jobs in one shared buffer, the rest (and all of a lone
 * job's) from the pool. Sets data pointers; failures mark the item. */
static void alloc_outputs(cv_engine_t *e, cv_job_t **live, cv_work_t *items, int m) {
  int n_small = 0;
  size_t small_bytes = 0;
  for (int i = 0; m > 1 && i < m; i++)
    for (int k = 0; items[i].rc == 0 && k < items[i].n_out; k++)
      if (small_output(&items[i].out[k].a)) {
        n_small++;
        small_bytes += cv_array_nbytes(&items[i].out[k].a);
      }
  const cv_array_t **like = NULL;
  cv_tensor_t **made = NULL;
  bool shared = n_small > 1 && small_bytes <= CV_ENGINE_SHARED_MAX && (like = calloc((size_t)n_small, sizeof *like)) &&
                (made = calloc((size_t)n_small, sizeof *made));
  if (shared) {
    int q = 0;
    for (int i = 0; i < m; i++)
      for (int k = 0; items[i].rc == 0 && k < items[i].n_out; k++)
        if (small_output(&items[i].out[k].a)) like[q++] = &items[i].out[k].a;
    cv_error_t err;
    shared = cv_tensors_new_shared(made, n_small, like, &err) == 0;
    for (int i = 0, q2 = 0; shared && i < m; i++)
      for (int k = 0; items[i].rc == 0 && k < items[i].n_out; k++)
        if (small_output(&items[i].out[k].a)) {
          live[i]->out_t[k] = made[q2++];
          items[i].out[k].a.data = live[i]->out_t[k]->a.data;
        }
  }
  free(like);
  free(made);
  for (int i = 0; i < m; i++) {
    cv_work_t *w = &items[i];
    for (int k = 0; w->rc == 0 && k < w->n_out; k++) {
      if (live[i]->out_t[k]) continue;   /* in the shared buffer */
      cv_array_t *a = &w->out[k].a;
      int rc = cv_tensor_new_pooled(e->pool, &live[i]->out_t[k], a->dtype, a->ndim, a->shape, &w->err);
      if (rc) w->rc = rc;
      else a->data = live[i]->out_t[k]->a.data;
    }
  }
}

static void run_batch(cv_engine_t *e, cv_device_t *dev, cv_job_t **jobs, int n, int max_threads) {
  cv_work_t items_s[CV_ENGINE_STACK_BATCH], ok_s[CV_ENGINE_STACK_BATCH];
  cv_job_t *live_s[CV_ENGINE_STACK_BATCH];
  bool heap = n > CV_ENGINE_STACK_BATCH;
  cv_work_t *items = heap ? calloc((size_t)n, sizeof *items) : items_s;
  cv_job_t **live = heap ? calloc((size_t)n, sizeof *live) : live_s;
  if (!heap) memset(items_s, 0, (size_t)n * sizeof *items);
  int m = 0;
  int64_t now = cv_now_ns();
  for (int i = 0; i < n; i++) {
    cv_job_t *j = jobs[i];
    cv_error_t err;
    if (atomic_load(&j->cancel_requested)) {
      cv_error_set(&err, CV_ECANCELLED, NULL, "job cancelled before it ran");
      end_job(e, j, CV_JOB_CANCELLED, &err, true);
      continue;
    }
    if (j->deadline_ns && now > j->deadline_ns) {
      cv_error_set(&err, CV_EDEADLINE_EXCEEDED, "timeout_ms", "deadline passed before the job ran");
      end_job(e, j, CV_JOB_FAILED, &err, true);
      continue;
    }
    if (!items || !live) {
      cv_error_set(&err, CV_EOUT_OF_MEMORY, NULL, "no memory to form a batch");
      end_job(e, j, CV_JOB_FAILED, &err, true);
      continue;
    }
    live[m++] = j;
  }
  int64_t t0 = cv_now_ns(), t0_rt = cv_now_rt_ns();
  for (int i = 0; i < m; i++) {
    cv_job_t *j = live[i];
    pthread_mutex_lock(&j->mu);
    j->started_ns = t0;
    j->started_rt_ns = t0_rt;
    j->batch_size = m;
    snprintf(j->device, sizeof j->device, "%s", dev->id);
    atomic_store(&j->state, CV_JOB_RUNNING);
    pthread_mutex_unlock(&j->mu);
    cv_work_t *w = &items[i];
    w->params = j->params;
    w->in = j->in;
    w->n_in = j->n_in;
    w->n_out = j->outs.n_out;
    w->out = j->outs.out;
    w->on_slab = j->on_slab;
    w->on_slab_ctx = j->on_slab_ctx;
    j->out_t = calloc((size_t)w->n_out > 0 ? (size_t)w->n_out : 1, sizeof *j->out_t);
    if (!j->out_t) fail_item(w, -CV_EOUT_OF_MEMORY, "no memory for outputs");
  }
  alloc_outputs(e, live, items, m);
  if (m > 0) {
    /* Items that failed allocation carry rc != 0: run only the rest. */
    cv_work_t *ok = heap ? calloc((size_t)m, sizeof *ok) : ok_s;
    int k = 0;
    for (int i = 0; ok && i < m; i++)
      if (items[i].rc == 0) ok[k++] = items[i];
    if (!ok) {
      for (int i = 0; i < m; i++) fail_item(&items[i], -CV_EOUT_OF_MEMORY, "no memory to run a batch");
    } else if (k > 0) {
      cv_batch_t b = {.n = k, .items = ok, .max_threads = max_threads};
      int rc = dev->backend->run(dev, &b);
      for (int i = 0, r = 0; i < m; i++) {
        if (items[i].rc) continue;
        items[i] = ok[r++];
        if (rc && items[i].rc == 0) fail_item(&items[i], rc, "the backend failed the batch");
      }
      atomic_fetch_add(&e->stats.batches, 1);
      atomic_fetch_add(&e->stats.batched_jobs, (uint_fast64_t)k);
    }
    if (heap) free(ok);
  }
  for (int i = 0; i < m; i++) {
    cv_job_t *j = live[i];
    cv_job_state_t st = CV_JOB_SUCCEEDED;
    const cv_error_t *err = NULL;
    cv_error_t cerr;
    if (items[i].rc) {
      if (items[i].err.code == CV_OK) cv_error_set(&items[i].err, (cv_err_t)-items[i].rc, NULL, NULL);
      st = CV_JOB_FAILED;
      err = &items[i].err;
    } else if (atomic_load(&j->cancel_requested)) {
      cv_error_set(&cerr, CV_ECANCELLED, NULL, "job cancelled while it ran");
      st = CV_JOB_CANCELLED;
      err = &cerr;
    }
    /* every job finishes (done runs) before any slot is given back, as in end_job */
    if (cv_job_finish(j, st, err)) atomic_fetch_add(&e->stats.jobs_by_state[st], 1);
  }
  if (m > 0) {   /* the batch's slots back in one step */
    size_t bytes = 0;
    for (int i = 0; i < m; i++) bytes += live[i]->in_bytes + live[i]->out_bytes;
    pthread_mutex_lock(&e->mu);
    e->unfinished -= m;
    e->running -= m;
    e->inflight_bytes -= bytes;
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < m; i++) cv_job_unref(live[i]);   /* the engine's references */
  }
  if (heap) {
    free(items);
    free(live);
  }
}

/* ---- the worker: take a job, gather same-key jobs, run ---- */

static void abs_time_after_us(struct timespec *ts, int64_t us) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += us / 1000000;
  ts->tv_nsec += (us % 1000000) * 1000;
  if (ts->tv_nsec >= 1000000000) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000;
  }
}

static void *worker_main(void *arg) {
  cv_engine_worker_t *w = arg;
  cv_engine_t *e = w->engine;
  cv_job_t **batch = NULL;
  int cap = 0;
  uint32_t my_bit = 1u << (w - e->workers);
  pthread_mutex_lock(&e->mu);
  for (;;) {
    cv_job_t *first = NULL;
    while (!(first = cv_queue_pop_for(&e->q, my_bit)) && !e->stopping) {
      e->idle_workers++;
      pthread_cond_wait(&e->cond, &e->mu);
      e->idle_workers--;
    }
    if (!first) break; /* stopping, and nothing left for this device */
    w->busy = true;
    int max_batch = e->cfg.max_batch > 0 ? e->cfg.max_batch : 1;
    if (cap < max_batch) {
      cv_job_t **nb = realloc(batch, (size_t)max_batch * sizeof *nb);
      if (!nb) max_batch = cap > 0 ? cap : 1;
      else {
        batch = nb;
        cap = max_batch;
      }
      if (!batch) { /* cannot even hold one job: fail it rather than spin */
        cv_job_t *j = first;
        e->running++;
        pthread_mutex_unlock(&e->mu);
        cv_error_t err;
        cv_error_set(&err, CV_EOUT_OF_MEMORY, NULL, "no memory to schedule the job");
        end_job(e, j, CV_JOB_FAILED, &err, true);
        pthread_mutex_lock(&e->mu);
        w->busy = false;
        continue;
      }
    }
    int n = 0;
    batch[n++] = first;
    struct timespec until;
    abs_time_after_us(&until, e->cfg.max_batch_delay_us);
    while (n < max_batch) {
      cv_job_t *j = cv_queue_take_like(&e->q, batch[0], my_bit);
      if (j) {
        batch[n++] = j;
        continue;
      }
      if (e->stopping || e->cfg.max_batch_delay_us <= 0 || max_batch == 1) break;
      /* Sleep until the batch could be full or the delay ends; submitters
       * do not wake a collector for every job (that ping-pong cost more
       * than the batching saved). */
      e->collecting++;
      e->collect_need = max_batch - n;
      int wrc = pthread_cond_timedwait(&e->batch_cond, &e->mu, &until);
      e->collecting--;
      if (wrc == ETIMEDOUT) {
        j = cv_queue_take_like(&e->q, batch[0], my_bit);
        if (j) batch[n++] = j;
        if (!j) break;
      }
    }
    e->running += n;
    pthread_mutex_unlock(&e->mu);
    run_batch(e, w->dev, batch, n, 0);
    pthread_mutex_lock(&e->mu);
    w->busy = false;
  }
  pthread_mutex_unlock(&e->mu);
  free(batch);
  return NULL;
}

/* ---- lifecycle ---- */

int cv_engine_init(cv_engine_t *e, const cv_engine_config_t *cfg, cv_error_t *err) {
  memset(e, 0, sizeof *e);
  e->cfg = *cfg;
  if (e->cfg.max_batch < 1) e->cfg.max_batch = 1;
  atomic_init(&e->inline_max_bytes, cfg->inline_max_bytes);
  pthread_mutex_init(&e->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&e->cond, &ca);
  pthread_cond_init(&e->batch_cond, &ca);
  pthread_condattr_destroy(&ca);
  cv_queue_init(&e->q);
  e->inited = true;
  cv_backend_config_t bc = {.threads = cfg->threads, .want_cpu = cfg->want_cpu, .want_cuda = cfg->want_cuda,
                            .data_dir = cfg->data_dir, .device_memory_budget = cfg->device_memory_budget};
  int n = cv_devices_open(e->devs, CV_MAX_DEVICES, &bc, err);
  if (n < 0) return n;
  size_t cache = cfg->pool_cached_bytes;
  if (!cache) {
    cache = (size_t)(e->devs[n - 1].memory_bytes / 16);
    if (cache > CV_ENGINE_POOL_MAX) cache = CV_ENGINE_POOL_MAX;
  }
  if (cv_pool_new(&e->pool, cache)) {
    cv_devices_close(e->devs, n);
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for the buffer pool");
  }
  e->n_devs = n;
  e->cpu_dev = -1;
  for (int i = 0; i < n; i++)
    if (strcmp(e->devs[i].kind, "cpu") == 0) e->cpu_dev = i;
  for (int i = 0; i < n; i++) {
    e->workers[i].engine = e;
    e->workers[i].dev = &e->devs[i];
    if (pthread_create(&e->workers[i].thread, NULL, worker_main, &e->workers[i]) != 0) {
      cv_engine_close(e);
      return cv_error_set(err, CV_EINTERNAL, NULL, "cannot start a device worker thread");
    }
    e->workers[i].started = true;
  }
  return 0;
}

void cv_engine_close(cv_engine_t *e) {
  if (!e->inited) return;
  pthread_mutex_lock(&e->mu);
  e->stopping = true;
  /* queued jobs end cancelled */
  cv_job_t *list = NULL;
  for (cv_job_t *j; (j = cv_queue_pop(&e->q));) {
    j->next = list;
    list = j;
  }
  pthread_cond_broadcast(&e->cond);
  pthread_cond_broadcast(&e->batch_cond);
  pthread_mutex_unlock(&e->mu);
  while (list) {
    cv_job_t *j = list;
    list = j->next;
    cv_error_t err;
    cv_error_set(&err, CV_ECANCELLED, NULL, "the engine shut down before the job ran");
    end_job(e, j, CV_JOB_CANCELLED, &err, false);
  }
  for (int i = 0; i < e->n_devs; i++)
    if (e->workers[i].started) {
      pthread_join(e->workers[i].thread, NULL);
      e->workers[i].started = false;
    }
  cv_devices_close(e->devs, e->n_devs);
  e->n_devs = 0;
  cv_pool_unref(e->pool); /* tensors still held keep it alive */
  e->pool = NULL;
  pthread_cond_destroy(&e->cond);
  pthread_cond_destroy(&e->batch_cond);
  pthread_mutex_destroy(&e->mu);
  e->inited = false;
}

/* Which devices may run j: the GPUs that support it when any does, else
 * the CPU devices (the CPU backend supports every op). */
static uint32_t eligible_devices(const cv_engine_t *e, const cv_job_t *j) {
  uint32_t gpus = 0, cpus = 0;
  for (int i = 0; i < e->n_devs; i++) {
    const cv_device_t *d = &e->devs[i];
    if (!d->backend->supports(d, j->params, j->in, j->n_in)) continue;
    if (strcmp(d->kind, "cpu") == 0)
      cpus |= 1u << i;
    else
      gpus |= 1u << i;
  }
  return gpus ? gpus : cpus;
}

/* Counts a job in (e->mu held), or says why not. */
static int admit_locked(cv_engine_t *e, size_t bytes, cv_error_t *err) {
  if (e->stopping) return cv_error_set(err, CV_ESHUTTING_DOWN, NULL, "the engine is shutting down");
  if (e->unfinished >= e->cfg.max_queue_jobs)
    return cv_error_set(err, CV_EQUEUE_FULL, NULL, "%d jobs are unfinished (max_queue_jobs)", e->unfinished);
  if (e->cfg.max_inflight_bytes && e->inflight_bytes + bytes > e->cfg.max_inflight_bytes)
    return cv_error_set(err, CV_EQUEUE_FULL, NULL, "in-flight bytes would exceed max_inflight_bytes");
  e->unfinished++;
  e->inflight_bytes += bytes;
  return 0;
}

static int check_size(const cv_engine_t *e, size_t bytes, cv_error_t *err) {
  if (e->cfg.max_inflight_bytes && bytes > e->cfg.max_inflight_bytes)
    return cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, NULL,
                        "the job needs %zu bytes of inputs and outputs, over max_inflight_bytes (%zu)",
                        bytes, e->cfg.max_inflight_bytes);
  return 0;
}

int cv_engine_run_inline(cv_engine_t *e, cv_job_t *j, cv_error_t *err) {
  size_t bytes = j->in_bytes + j->out_bytes;
  size_t lim = atomic_load_explicit(&e->inline_max_bytes, memory_order_relaxed);
  if (e->cpu_dev < 0 || lim == 0 || bytes > lim) return 0;
  uint32_t cpu = 1u << e->cpu_dev;
  if (eligible_devices(e, j) != cpu) return 0;   /* a GPU takes it (and batches it), or no device can */
  int rc = check_size(e, bytes, err);
  if (rc) return rc;
  cv_device_t *dev = &e->devs[e->cpu_dev];
  pthread_mutex_lock(&e->mu);
  if (e->q.n > 0 || e->workers[e->cpu_dev].busy || e->inline_running >= (dev->threads > 0 ? dev->threads : 1)) {
    pthread_mutex_unlock(&e->mu);
    return 0;
  }
  if (!(rc = admit_locked(e, bytes, err))) {
    e->running++;
    e->inline_running++;
  }
  pthread_mutex_unlock(&e->mu);
  if (rc) return rc;
  j->device_mask = cpu;
  cv_job_ref(j);   /* the engine's reference, dropped as the job ends */
  cv_job_t *one[1] = {j};
  run_batch(e, dev, one, 1, 1);
  pthread_mutex_lock(&e->mu);
  e->inline_running--;
  pthread_mutex_unlock(&e->mu);
  return 1;
}

int cv_engine_submit(cv_engine_t *e, cv_job_t *j, cv_error_t *err) {
  size_t bytes = j->in_bytes + j->out_bytes;
  j->device_mask = eligible_devices(e, j);
  if (!j->device_mask) {
    for (int i = 0; i < e->n_devs; i++)
      if (e->devs[i].backend->explain)
        return e->devs[i].backend->explain(&e->devs[i], j->params, j->in, j->n_in, err);
    return cv_error_set(err, CV_EUNSUPPORTED_OP, "op", "no device supports this %s job", cv_op_name(j->op));
  }
  int rc = check_size(e, bytes, err);
  if (rc) return rc;
  pthread_mutex_lock(&e->mu);
  rc = admit_locked(e, bytes, err);
  if (!rc) {
    cv_queue_push(&e->q, cv_job_ref(j));
    if (e->idle_workers) pthread_cond_broadcast(&e->cond);
    if (e->collecting && e->q.n >= e->collect_need) pthread_cond_broadcast(&e->batch_cond);
  }
  pthread_mutex_unlock(&e->mu);
  return rc;
}

int cv_engine_cancel(cv_engine_t *e, cv_job_t *j) {
  if (is_final(atomic_load(&j->state))) return -CV_ECONFLICT;
  atomic_store(&j->cancel_requested, true);
  pthread_mutex_lock(&e->mu);
  bool was_queued = cv_queue_remove(&e->q, j);
  pthread_mutex_unlock(&e->mu);
  if (was_queued) {
    cv_error_t err;
    cv_error_set(&err, CV_ECANCELLED, NULL, "job cancelled");
    end_job(e, j, CV_JOB_CANCELLED, &err, false);
  }
  return 0;
}

void cv_engine_set_batching(cv_engine_t *e, int max_batch, int64_t max_batch_delay_us) {
  pthread_mutex_lock(&e->mu);
  e->cfg.max_batch = max_batch < 1 ? 1 : max_batch;
  e->cfg.max_batch_delay_us = max_batch_delay_us < 0 ? 0 : max_batch_delay_us;
  pthread_mutex_unlock(&e->mu);
}

void cv_engine_set_inline(cv_engine_t *e, size_t inline_max_bytes) {
  atomic_store(&e->inline_max_bytes, inline_max_bytes);
}

void cv_engine_gauges(cv_engine_t *e, int *queued, int *running, size_t *inflight_bytes) {
  pthread_mutex_lock(&e->mu);
  if (queued) *queued = e->q.n;
  if (running) *running = e->running;
  if (inflight_bytes) *inflight_bytes = e->inflight_bytes;
  pthread_mutex_unlock(&e->mu);
}

int cv_engine_device_stats(cv_engine_t *e, int i, cv_device_stats_t *st) {
  if (i < 0 || i >= e->n_devs) return -CV_EINVALID_ARGUMENT;
  cv_device_t *d = &e->devs[i];
  if (!d->backend->stats) return -CV_EUNSUPPORTED_OP;
  return d->backend->stats(d, st);
}
