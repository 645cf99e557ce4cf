/* job.c — job creation (inference, byte accounting, batch key), refcounts,
 * and the one place where a job reaches a final state. Any thread. */
#include "job.h"

#include "../kernels/rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const state_names[] = {
#define XX(uc, lc) #lc,
    CV_JOB_STATE_MAP(XX)
#undef XX
};
_Static_assert(sizeof state_names / sizeof state_names[0] == CV_JOB_STATE_COUNT, "state names");

const char *cv_job_state_name(cv_job_state_t s) {
  return (unsigned)s < CV_JOB_STATE_COUNT ? state_names[s] : "?";
}

int cv_job_state_parse(const char *name, cv_job_state_t *out) {
  for (int i = 0; i < CV_JOB_STATE_COUNT; i++)
    if (strcmp(name, state_names[i]) == 0) {
      *out = (cv_job_state_t)i;
      return 0;
    }
  return -CV_EINVALID_ARGUMENT;
}

int64_t cv_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cv_deadline_after_ms(int64_t created_ns, int64_t timeout_ms) {
  if (timeout_ms <= 0) return 0;
  if (timeout_ms > (INT64_MAX - created_ns) / 1000000) return 0; /* beyond any clock: no deadline */
  return created_ns + timeout_ms * 1000000;
}

int64_t cv_now_rt_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- batch key: FNV-1a over params and per-input dtype/shape ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

/* Weights-like inputs (anything but "x") batch only with the same tensor. */
static bool input_by_identity(const char *name) { return strcmp(name, "x") != 0; }

static uint64_t key_hash(const cv_job_t *j) {
  uint64_t h = cv_op_params_hash(j->params, 1469598103934665603ull);
  for (int i = 0; i < j->n_in; i++) {
    const cv_io_t *io = &j->in[i];
    h = fnv(h, io->name, strlen(io->name));
    h = fnv(h, &io->a.dtype, sizeof io->a.dtype);
    h = fnv(h, &io->a.ndim, sizeof io->a.ndim);
    h = fnv(h, io->a.shape, (size_t)io->a.ndim * sizeof io->a.shape[0]);
    if (input_by_identity(io->name)) h = fnv(h, &io->a.data, sizeof io->a.data);
  }
  return h;
}

bool cv_job_same_key(const cv_job_t *a, const cv_job_t *b) {
  if (a->key_hash != b->key_hash || a->n_in != b->n_in) return false;
  if (!a->params || !b->params || !cv_op_params_equal(a->params, b->params)) return false;
  for (int i = 0; i < a->n_in; i++) {
    const cv_io_t *x = &a->in[i], *y = &b->in[i];
    if (strcmp(x->name, y->name) || x->a.dtype != y->a.dtype || x->a.ndim != y->a.ndim ||
        memcmp(x->a.shape, y->a.shape, (size_t)x->a.ndim * sizeof x->a.shape[0]))
      return false;
    if (input_by_identity(x->name) && x->a.data != y->a.data) return false;
  }
  return true;
}

/* ---- lifecycle ---- */

static void job_free(cv_job_t *j) {
  if (j->user_free) j->user_free(j->user);
  for (int i = 0; j->in_t && i < j->n_in; i++) cv_tensor_unref(j->in_t[i]);
  if (j->out_t)
    for (int i = 0; i < j->outs.n_out; i++) cv_tensor_unref(j->out_t[i]);
  free(j->params);
  free(j->out_t);
  free(j->in_t);
  free(j->in);
  cv_infer_free(&j->outs);
  pthread_cond_destroy(&j->cond);
  pthread_mutex_destroy(&j->mu);
  free(j);
}

static void make_id(char *id, size_t cap) {
  /* 64 random bits: ids are not guessable and need no shared counter. */
  static const char hex[] = "0123456789abcdef";
  uint64_t r = cv_rand_u64();
  if (cap < 19) return;
  id[0] = 'j';
  id[1] = '_';
  for (int i = 0; i < 16; i++) id[2 + i] = hex[(r >> (60 - 4 * i)) & 0xF];
  id[18] = 0;
}

int cv_job_create(cv_job_t **out, const cv_op_params_t *params, int n_in, const char *const *names,
                  cv_tensor_t *const *tensors, cv_error_t *err) {
  cv_job_t *j = calloc(1, sizeof *j);
  if (!j) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for a job");
  atomic_init(&j->refs, 1);
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cond, NULL);
  atomic_init(&j->state, CV_JOB_QUEUED);
  atomic_init(&j->cancel_requested, false);
  make_id(j->id, sizeof j->id);
  j->op = params->op;
  int max_rank = 1; /* infer fills one wavelet slot per transformed axis: at most the inputs' rank */
  for (int i = 0; i < n_in; i++)
    if (tensors[i] && tensors[i]->a.ndim > max_rank) max_rank = tensors[i]->a.ndim;
  j->params = malloc(cv_op_params_size(params, max_rank));
  if (j->params) cv_op_params_copy(j->params, params);
  j->priority = 5;
  j->in = calloc(n_in > 0 ? (size_t)n_in : 1, sizeof *j->in);
  j->in_t = calloc(n_in > 0 ? (size_t)n_in : 1, sizeof *j->in_t);
  if (!j->in || !j->in_t || !j->params) {
    job_free(j);
    return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for job inputs");
  }
  j->n_in = n_in;
  for (int i = 0; i < n_in; i++) {
    if (strlen(names[i]) >= CV_NAME_MAX) {
      job_free(j);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "input name '%.40s…' is too long",
                          names[i]);
    }
    snprintf(j->in[i].name, CV_NAME_MAX, "%s", names[i]);
    j->in_t[i] = cv_tensor_ref(tensors[i]);
    j->in[i].a = tensors[i]->a;
    j->in_bytes += tensors[i]->nbytes;
  }
  int rc = cv_op_infer(j->params, j->in, j->n_in, &j->outs, err);
  if (rc) {
    job_free(j);
    return rc;
  }
  for (int i = 0; i < j->outs.n_out; i++) {
    const cv_array_t *a = &j->outs.out[i].a;
    size_t nb;
    rc = cv_shape_check(a->dtype, a->ndim, a->shape, 0, &nb, "inputs", err);
    if (!rc && nb > SIZE_MAX / 16 - j->out_bytes)
      rc = cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, "inputs", "the outputs would not fit in memory");
    if (rc) {
      snprintf(err->message, sizeof err->message, "output %s of shape rank %d is too large for memory",
               j->outs.out[i].name, a->ndim);
      job_free(j);
      return rc;
    }
    j->out_bytes += nb;
  }
  j->key_hash = key_hash(j);
  j->created_ns = cv_now_ns();
  j->created_rt_ns = cv_now_rt_ns();
  *out = j;
  return 0;
}

cv_job_t *cv_job_ref(cv_job_t *j) {
  if (j) atomic_fetch_add_explicit(&j->refs, 1, memory_order_relaxed);
  return j;
}

void cv_job_unref(cv_job_t *j) {
  if (j && atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) job_free(j);
}

bool cv_job_finish(cv_job_t *j, cv_job_state_t st, const cv_error_t *err) {
  pthread_mutex_lock(&j->mu);
  int cur = atomic_load(&j->state);
  if (cur == CV_JOB_SUCCEEDED || cur == CV_JOB_FAILED || cur == CV_JOB_CANCELLED) {
    pthread_mutex_unlock(&j->mu);
    return false;
  }
  if (err) j->error = *err;
  /* Inputs are no longer needed, nor outputs of a job that did not succeed:
   * give their memory back now rather than when the last reference goes. */
  for (int i = 0; i < j->n_in; i++) {
    cv_tensor_unref(j->in_t[i]);
    j->in_t[i] = NULL;
    j->in[i].a.data = NULL;
  }
  if (st != CV_JOB_SUCCEEDED && j->out_t) {
    for (int i = 0; i < j->outs.n_out; i++) cv_tensor_unref(j->out_t[i]);
    free(j->out_t);
    j->out_t = NULL;
  }
  free(j->params); /* only queued and running jobs need their params */
  j->params = NULL;
  j->finished_ns = cv_now_ns();
  j->finished_rt_ns = cv_now_rt_ns();
  atomic_store(&j->state, st);
  pthread_cond_broadcast(&j->cond);
  pthread_mutex_unlock(&j->mu);
  if (j->done) j->done(j, j->done_arg);
  return true;
}

bool cv_job_wait(cv_job_t *j, int64_t timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  if (timeout_ms >= 0) {
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
  }
  pthread_mutex_lock(&j->mu);
  for (;;) {
    int s = atomic_load(&j->state);
    if (s == CV_JOB_SUCCEEDED || s == CV_JOB_FAILED || s == CV_JOB_CANCELLED) break;
    if (timeout_ms < 0) {
      pthread_cond_wait(&j->cond, &j->mu);
    } else if (pthread_cond_timedwait(&j->cond, &j->mu, &until) != 0) {
      break;
    }
  }
  int s = atomic_load(&j->state);
  pthread_mutex_unlock(&j->mu);
  return s == CV_JOB_SUCCEEDED || s == CV_JOB_FAILED || s == CV_JOB_CANCELLED;
}
