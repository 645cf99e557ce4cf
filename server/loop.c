/* loop.c — the libuv loop thread: job completions (queued by engine threads,
 * woken by uv_async_send), keep + disk sinks + result store, the wait_s
 * timer that turns long syncs into 202s, resuming suspended connections,
 * the TTL sweep, SIGTERM/SIGINT drain and SIGHUP reload. Everything here but
 * cv_server_job_done and cv_wait_begin runs on the loop thread. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define CV_DRAIN_LIST_BATCH CV_STORE_LIST_MAX

static void arm_wait_timer(cv_server_t *s);
static void check_drained(cv_server_t *s);

/* ---- completions ---- */

void cv_server_job_done(cv_job_t *j, void *arg) {
  cv_server_t *s = arg;
  cv_jobctx_t *jc = j->user;
  if (!jc) return;
  pthread_mutex_lock(&s->mu);
  jc->job = cv_job_ref(j);   /* dropped once the loop thread has finished it */
  jc->done_next = NULL;
  if (s->done_tail) s->done_tail->done_next = jc;
  else s->done_head = jc;
  s->done_tail = jc;
  if (s->loop_inited) uv_async_send(&s->wake); /* under mu: close_all clears loop_inited under it */
  pthread_mutex_unlock(&s->mu);
}

/* A finished job turns FAILED after the engine said SUCCEEDED (keep or a
 * disk sink failed). */
static void force_state(cv_job_t *j, cv_job_state_t st, const cv_error_t *err) {
  pthread_mutex_lock(&j->mu);
  j->error = *err;
  atomic_store(&j->state, st);
  pthread_mutex_unlock(&j->mu);
}

/* Wakes every request waiting on j: they answer from their MHD thread. */
static void wake_waiters(cv_server_t *s, cv_jobctx_t *jc, cv_req_t *only, cv_wait_state_t why) {
  cv_req_t *resume = NULL;
  pthread_mutex_lock(&s->mu);
  for (cv_req_t **pp = &jc->waiters; *pp;) {
    cv_req_t *r = *pp;
    if (only && r != only) {
      pp = &r->jnext;
      continue;
    }
    *pp = r->jnext;
    if (r->wprev) r->wprev->wnext = r->wnext;
    else s->waiters = r->wnext;
    if (r->wnext) r->wnext->wprev = r->wprev;
    r->wprev = r->wnext = r->jnext = NULL;
    r->wstate = why;
    if (r->suspended) {
      r->suspended = false;
      r->rnext = resume;
      resume = r;
    }
  }
  pthread_mutex_unlock(&s->mu);
  while (resume) {
    cv_req_t *r = resume;
    resume = r->rnext;
    MHD_resume_connection(r->conn);
  }
}

/* The job's end as clients see it: keep, store, metrics, log; then done. */
static void record_job(cv_server_t *s, cv_job_t *j) {
  cv_jobctx_t *jc = j->user;
  cv_job_state_t st = (cv_job_state_t)atomic_load(&j->state);
  if (st == CV_JOB_SUCCEEDED && jc->keep) {
    int rc = cv_store_keep_outputs(&s->store, j, jc->tensor_ids);
    if (rc) {
      cv_error_t e;
      cv_error_set(&e, rc == -CV_EINSUFFICIENT_STORAGE ? CV_EINSUFFICIENT_STORAGE : (cv_err_t)-rc, "keep",
                   "cannot keep the outputs: %s", rc == -CV_EINSUFFICIENT_STORAGE ? "the tensor store is full"
                                                                                  : cv_strerror(rc));
      force_state(j, CV_JOB_FAILED, &e);
      st = CV_JOB_FAILED;
    } else {
      for (int i = 0; i < jc->n_out; i++) jc->tid[i] = jc->tensor_ids[i];
    }
  }
  if (jc->selected && !jc->keep && j->out_t) {
    /* outputs the spec did not select are never served: their memory goes
     * back to the pool now, not when the result expires */
    for (int i = 0; i < j->outs.n_out; i++)
      if (!jc->selected[i]) {
        cv_tensor_unref(j->out_t[i]);
        j->out_t[i] = NULL;
      }
  }
  if (jc->sink != CV_SINK_NONE && !jc->keep && j->out_t) {
    /* the outputs live on disk now; nothing serves them from memory */
    for (int i = 0; i < j->outs.n_out; i++) {
      cv_tensor_unref(j->out_t[i]);
      j->out_t[i] = NULL;
    }
  }
  if (cv_store_job_finished(&s->store, j))
    cv_log_job(&s->log, CV_LOG_WARN, jc->rid, j->id, NULL, "result dropped: it does not fit result_store_bytes");
  double q = -1, run = -1;
  if (j->started_ns) {
    q = (double)(j->started_ns - j->created_ns) / 1e9;
    run = (double)(j->finished_ns - j->started_ns) / 1e9;
  }
  cv_metrics_job(&s->metrics, j->op, st, q, run, j->batch_size);
  if (cv_log_enabled(&s->log, CV_LOG_DEBUG)) {
    cv_log_job(&s->log, CV_LOG_DEBUG, jc->rid, j->id, j->device[0] ? j->device : NULL, "%s %s (batch %d)",
               cv_op_name(j->op), cv_job_state_name(st), j->batch_size);
  } else if (st == CV_JOB_FAILED) {
    cv_log_job(&s->log, CV_LOG_INFO, jc->rid, j->id, j->device[0] ? j->device : NULL, "failed: %s: %s",
               cv_err_name(j->error.code), j->error.message);
  }
  atomic_store_explicit(&jc->done, true, memory_order_release);
}

/* Loop thread: recorded, and every waiter answers. */
static void finish_job(cv_server_t *s, cv_job_t *j) {
  record_job(s, j);
  wake_waiters(s, j->user, NULL, CV_WAIT_DONE);
}

void cv_server_finish_inline(cv_server_t *s, cv_job_t *j) {
  cv_jobctx_t *jc = j->user;
  if (!jc) return;
  record_job(s, j);
  /* done is set: a waiter registering from now on answers at once; one
   * registered before is listed here, and only the loop thread resumes it */
  pthread_mutex_lock(&s->mu);
  if (jc->waiters && !jc->job) {
    jc->job = cv_job_ref(j);
    jc->wake_only = true;
    jc->done_next = NULL;
    if (s->done_tail) s->done_tail->done_next = jc;
    else s->done_head = jc;
    s->done_tail = jc;
    if (s->loop_inited) uv_async_send(&s->wake);
  }
  pthread_mutex_unlock(&s->mu);
}

static void sink_done(cv_server_t *s, cv_job_t *j) {
  finish_job(s, j);
  cv_job_unref(j);
  check_drained(s);
}

static void on_wake(uv_async_t *a) {
  cv_server_t *s = a->data;
  pthread_mutex_lock(&s->mu);
  cv_jobctx_t *list = s->done_head;
  s->done_head = s->done_tail = NULL;
  bool kick = s->timer_kick;
  s->timer_kick = false;
  pthread_mutex_unlock(&s->mu);
  while (list) {
    cv_jobctx_t *jc = list;
    list = jc->done_next;
    jc->done_next = NULL;
    cv_job_t *j = jc->job;
    jc->job = NULL;
    if (jc->wake_only) {
      jc->wake_only = false;
      wake_waiters(s, jc, NULL, CV_WAIT_DONE);
      cv_job_unref(j);
      continue;
    }
    if (jc->sink != CV_SINK_NONE) {   /* any end: a failed job's partial files go too */
      int rc = cv_sink_start(s, j, sink_done);
      if (rc == 0) continue;   /* sink_done finishes it */
      if (rc < 0) {
        cv_error_t e;
        cv_error_set(&e, CV_EINTERNAL, NULL, "cannot start writing the outputs");
        force_state(j, CV_JOB_FAILED, &e);
      }
    }
    finish_job(s, j);
    cv_job_unref(j);
  }
  if (kick) arm_wait_timer(s);
  check_drained(s);
}

int cv_engine_unfinished(cv_engine_t *e) {
  /* e->unfinished also counts jobs a worker holds while it gathers a batch,
   * which are neither queued nor running in cv_engine_gauges */
  pthread_mutex_lock(&e->mu);
  int n = e->unfinished;
  pthread_mutex_unlock(&e->mu);
  return n;
}

void cv_posting_done(cv_req_t *r) {
  if (!r->posting) return;
  r->posting = false;
  cv_server_t *s = r->srv;
  if (atomic_fetch_sub(&s->posting, 1) == 1 && atomic_load(&s->draining)) {
    pthread_mutex_lock(&s->mu);
    if (s->loop_inited) uv_async_send(&s->wake);   /* the drain may be complete now; under mu, see above */
    pthread_mutex_unlock(&s->mu);
  }
}

/* ---- waiting with a deadline ---- */

bool cv_wait_begin(cv_req_t *r, cv_job_t *j, int64_t wait_ms) {
  cv_server_t *s = r->srv;
  cv_jobctx_t *jc = j->user;
  if (!r->job) r->job = cv_job_ref(j);
  if (!jc || atomic_load_explicit(&jc->done, memory_order_acquire)) {
    r->wstate = CV_WAIT_DONE;
    return true;
  }
  if (wait_ms <= 0) {
    r->wstate = CV_WAIT_TIMEOUT;
    return true;
  }
  bool kick = false, now = false;
  pthread_mutex_lock(&s->mu);
  if (atomic_load_explicit(&jc->done, memory_order_acquire)) {
    r->wstate = CV_WAIT_DONE;
    now = true;
  } else if (atomic_load(&s->stopping)) {   /* set before stop_now releases waiters under mu */
    r->wstate = CV_WAIT_TIMEOUT;
    now = true;
  } else {
    r->wstate = CV_WAIT_WAITING;
    r->deadline_ns = cv_now_ns() + wait_ms * 1000000;
    r->wprev = NULL;
    r->wnext = s->waiters;
    if (s->waiters) s->waiters->wprev = r;
    s->waiters = r;
    r->jnext = jc->waiters;
    jc->waiters = r;
    if (!s->timer_due_ns || r->deadline_ns < s->timer_due_ns) kick = s->timer_kick = true;
    r->suspended = true;
    r->phase = CV_PHASE_SUSPENDED;
    MHD_suspend_connection(r->conn);
  }
  pthread_mutex_unlock(&s->mu);
  if (kick) uv_async_send(&s->wake);
  return now;
}

static void on_wait_timer(uv_timer_t *t) {
  cv_server_t *s = t->data;
  int64_t now = cv_now_ns();
  for (;;) {
    cv_req_t *due = NULL;
    pthread_mutex_lock(&s->mu);
    for (cv_req_t *r = s->waiters; r && !due; r = r->wnext)
      if (r->deadline_ns <= now) due = r;
    pthread_mutex_unlock(&s->mu);
    if (!due) break;
    /* only the loop thread removes waiters, so due is still listed */
    wake_waiters(s, due->job->user, due, CV_WAIT_TIMEOUT);
  }
  arm_wait_timer(s);
}

static void arm_wait_timer(cv_server_t *s) {
  pthread_mutex_lock(&s->mu);
  int64_t due = 0;
  for (cv_req_t *r = s->waiters; r; r = r->wnext)
    if (!due || r->deadline_ns < due) due = r->deadline_ns;
  s->timer_due_ns = due;
  pthread_mutex_unlock(&s->mu);
  if (!due) {
    uv_timer_stop(&s->wait_timer);
    return;
  }
  int64_t ms = (due - cv_now_ns() + 999999) / 1000000;
  uv_timer_start(&s->wait_timer, on_wait_timer, ms > 0 ? (uint64_t)ms : 0, 0);
}

/* ---- TTL sweep ---- */

static void on_sweep(uv_timer_t *t) {
  cv_server_t *s = t->data;
  int n = cv_store_sweep(&s->store, cv_now_ns());
  if (n > 0) cv_log(&s->log, CV_LOG_DEBUG, NULL, "expired %d stored results/tensors", n);
  check_drained(s);
}

/* ---- drain and stop ---- */

static void close_cb(uv_handle_t *h) { (void)h; }
static void close_all(cv_server_t *s);

/* Every waiter answers now (202 or its job's state). */
static void release_all_waiters(cv_server_t *s) {
  for (;;) {
    pthread_mutex_lock(&s->mu);
    cv_req_t *r = s->waiters;
    pthread_mutex_unlock(&s->mu);
    if (!r) break;
    wake_waiters(s, r->job->user, r, CV_WAIT_TIMEOUT);
  }
}


static void on_flush(uv_timer_t *t) {
  cv_server_t *s = t->data;
  static const int step_ms = 50;
  int64_t *left = &s->flush_left_ms;
  *left -= step_ms;
  if (atomic_load(&s->active_reqs) > 0 && *left > 0) return;
  close_all(s);
}

static void close_all(cv_server_t *s) {
  pthread_mutex_lock(&s->mu);
  s->loop_inited = false;   /* completions from now on are not woken (see cv_loop_discard_done) */
  pthread_mutex_unlock(&s->mu);
  uv_timer_stop(&s->drain_timer);
  uv_close((uv_handle_t *)&s->wake, close_cb);
  uv_close((uv_handle_t *)&s->wait_timer, close_cb);
  uv_close((uv_handle_t *)&s->sweep_timer, close_cb);
  uv_close((uv_handle_t *)&s->drain_timer, close_cb);
  uv_close((uv_handle_t *)&s->sig_term, close_cb);
  uv_close((uv_handle_t *)&s->sig_int, close_cb);
  uv_close((uv_handle_t *)&s->sig_hup, close_cb);
  cv_sink_loop_close(s);
}

static void stop_now(cv_server_t *s) {
  if (atomic_load(&s->stopping)) return;
  atomic_store(&s->stopping, true);
  cv_log(&s->log, CV_LOG_INFO, NULL, "drained; stopping");
  release_all_waiters(s);
  /* let resumed answers leave before the daemon stops */
  s->flush_left_ms = CV_FLUSH_GRACE_MS;
  uv_timer_stop(&s->drain_timer);
  uv_timer_start(&s->drain_timer, on_flush, 0, 50);
}

static void check_drained(cv_server_t *s) {
  if (!s->drain_started || atomic_load(&s->stopping)) return;
  /* posting first: a submission counted there reaches the engine before it leaves the count */
  if (atomic_load(&s->posting) > 0 && !atomic_load(&s->drain_expired)) return;
  int unfinished = cv_engine_unfinished(&s->engine);
  pthread_mutex_lock(&s->mu);
  bool pending = s->done_head != NULL;
  pthread_mutex_unlock(&s->mu);
  if (unfinished == 0 && atomic_load(&s->sinks_pending) == 0 && !pending) stop_now(s);
}

/* drain_timeout_s passed: cancel what is left, then stop once it ended. */
static void on_drain_timeout(uv_timer_t *t) {
  cv_server_t *s = t->data;
  if (!atomic_exchange(&s->drain_expired, true))
    cv_log(&s->log, CV_LOG_WARN, NULL, "drain timeout: cancelling unfinished jobs");
  static const cv_job_state_t live[] = {CV_JOB_QUEUED, CV_JOB_RUNNING};
  for (int k = 0; k < 2; k++) {
    cv_job_t **jobs = NULL;
    int n = 0;
    cv_error_t err;
    if (cv_store_list_jobs(&s->store, &live[k], CV_DRAIN_LIST_BATCH, &jobs, &n, &err) == 0) {
      for (int i = 0; i < n; i++) {
        cv_jobctx_t *jc = jobs[i]->user;
        if (jc) atomic_store(&jc->cancel, true);
        cv_engine_cancel(&s->engine, jobs[i]);
      }
      cv_store_list_free(jobs, n);
    }
  }
  /* queued jobs ended cancelled just now; running batches cannot be
   * interrupted: their jobs end cancelled when the batch returns. Waiting
   * requests answer as their jobs end. */
  check_drained(s);
  if (!atomic_load(&s->stopping)) uv_timer_start(&s->drain_timer, on_drain_timeout, 1000, 0);
}

void cv_loop_drain(cv_server_t *s) {
  if (s->drain_started) return;
  s->drain_started = true;
  atomic_store(&s->draining, true);
  atomic_store(&s->ready, false);
  cv_log(&s->log, CV_LOG_INFO, NULL, "draining: finishing in-flight jobs (up to %d s)", s->cfg.drain_timeout_s);
  uv_timer_start(&s->drain_timer, on_drain_timeout, (uint64_t)s->cfg.drain_timeout_s * 1000, 0);
  check_drained(s);
}

/* ---- signals ---- */

static void reload(cv_server_t *s) {
  uint32_t restart = 0;
  cv_error_t err = {0};
  int rc = cv_config_reload(&s->live, s->argc, s->argv, s->envp, &restart, &err);
  if (rc < 0) {
    cv_log(&s->log, CV_LOG_ERROR, NULL, "SIGHUP: reload failed, keeping the old values: %s", err.message);
    return;
  }
  const cv_config_t *c = &s->live;
  cv_log_set_level(&s->log, c->log_level);
  if (cv_auth_load(&s->auth, c->api_keys_file, &err))
    cv_log(&s->log, CV_LOG_ERROR, NULL, "SIGHUP: API keys not reloaded: %s", err.message);
  cv_engine_set_batching(&s->engine, c->max_batch, c->max_batch_delay_us);
  cv_engine_set_inline(&s->engine, c->inline_max_bytes);
  atomic_store(&s->max_batch, c->max_batch);
  atomic_store(&s->max_batch_delay_us, (int64_t)c->max_batch_delay_us);
  atomic_store(&s->wait_s, c->wait_s);
  atomic_store(&s->ttl_s, c->result_ttl_s);
  cv_store_set_ttl(&s->store, (int64_t)c->result_ttl_s * 1000000000);
  if (restart)
    cv_log(&s->log, CV_LOG_WARN, NULL, "SIGHUP: some changed options need a restart (mask 0x%x)", restart);
  cv_log(&s->log, CV_LOG_INFO, NULL, "SIGHUP: configuration reloaded (changed mask 0x%x)", (unsigned)rc);
}

static void on_signal(uv_signal_t *h, int signum) {
  cv_server_t *s = h->data;
  if (signum == SIGHUP) {
    reload(s);
    return;
  }
  if (s->drain_started) {
    cv_log(&s->log, CV_LOG_INFO, NULL, "signal %d: already draining", signum);
    return;
  }
  cv_log(&s->log, CV_LOG_INFO, NULL, "signal %d", signum);
  cv_loop_drain(s);
}

/* ---- lifecycle ---- */

int cv_loop_init(cv_server_t *s, cv_error_t *err) {
  int rc = uv_loop_init(&s->loop);
  if (rc) return cv_error_set(err, CV_EINTERNAL, NULL, "uv_loop_init: %s", uv_strerror(rc));
  uv_async_init(&s->loop, &s->wake, on_wake);
  uv_timer_init(&s->loop, &s->wait_timer);
  uv_timer_init(&s->loop, &s->sweep_timer);
  uv_timer_init(&s->loop, &s->drain_timer);
  uv_signal_init(&s->loop, &s->sig_term);
  uv_signal_init(&s->loop, &s->sig_int);
  uv_signal_init(&s->loop, &s->sig_hup);
  s->wake.data = s->wait_timer.data = s->sweep_timer.data = s->drain_timer.data = s;
  s->sig_term.data = s->sig_int.data = s->sig_hup.data = s;
  uv_signal_start(&s->sig_term, on_signal, SIGTERM);
  uv_signal_start(&s->sig_int, on_signal, SIGINT);
  uv_signal_start(&s->sig_hup, on_signal, SIGHUP);
  uv_timer_start(&s->sweep_timer, on_sweep, CV_SWEEP_INTERVAL_MS, CV_SWEEP_INTERVAL_MS);
  cv_sink_loop_init(s);
  pthread_mutex_lock(&s->mu);
  s->loop_inited = true;
  pthread_mutex_unlock(&s->mu);
  return 0;
}

void cv_loop_run(cv_server_t *s) {
  uv_run(&s->loop, UV_RUN_DEFAULT);
  uv_loop_close(&s->loop);
}

void cv_loop_abort(cv_server_t *s) {
  if (!s->loop_inited) return;   /* main thread, before any other thread uses the loop */
  atomic_store(&s->stopping, true);
  close_all(s);
  cv_loop_run(s);
}

/* After the loop ended: completions that arrived since (engine close). */
void cv_loop_discard_done(cv_server_t *s) {
  pthread_mutex_lock(&s->mu);
  cv_jobctx_t *list = s->done_head;
  s->done_head = s->done_tail = NULL;
  pthread_mutex_unlock(&s->mu);
  while (list) {
    cv_jobctx_t *jc = list;
    list = jc->done_next;
    cv_job_t *j = jc->job;
    jc->job = NULL;
    cv_job_unref(j);
  }
}
