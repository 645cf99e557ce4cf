/* job.h — a job: resolved op params, input tensors, output descriptions and
 * tensors, state, timings and error. Refcounted: the submitter, the queue
 * and any waiter each hold a reference. State changes happen under job->mu
 * (engine worker thread, or a canceller); readers take the lock or read the
 * atomic state. */
#ifndef CV_JOB_H
#define CV_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../kernels/ops.h"
#include "tensor.h"

#define CV_JOB_STATE_MAP(XX) \
  XX(QUEUED, queued) XX(RUNNING, running) XX(SUCCEEDED, succeeded) XX(FAILED, failed) XX(CANCELLED, cancelled)

typedef enum {
#define XX(uc, lc) CV_JOB_##uc,
  CV_JOB_STATE_MAP(XX)
#undef XX
  CV_JOB_STATE_COUNT
} cv_job_state_t;

const char *cv_job_state_name(cv_job_state_t s);
int cv_job_state_parse(const char *name, cv_job_state_t *out);

typedef struct cv_job_s cv_job_t;
/* Called once when the job ends (any final state), on the thread that ended
 * it, with no engine lock held. Must not block. */
typedef void (*cv_job_done_fn)(cv_job_t *job, void *arg);

#define CV_JOB_ID_MAX 24

struct cv_job_s {
  atomic_int refs;
  char id[CV_JOB_ID_MAX];          /* "j_" + 16 hex digits */
  cv_op_t op;
  cv_op_params_t *params;          /* resolved by cv_op_infer; freed when the job ends. Sized by
                                    * cv_op_params_size: only the counted slots exist, never copy it whole */
  int n_in;
  cv_io_t *in;                     /* views of in_t[i] */
  cv_tensor_t **in_t;              /* one reference each */
  cv_infer_t outs;                 /* names, dtypes, shapes of outputs; warnings */
  cv_tensor_t **out_t;             /* filled when the job succeeds */
  size_t in_bytes, out_bytes;
  int priority;                    /* 0 highest … 9 */
  int64_t deadline_ns;             /* monotonic; 0 = none */
  uint64_t key_hash;               /* batch key (op, params, dtypes, shapes, weights) */
  uint32_t device_mask;            /* bit i: engine device i may run it (set at submit) */

  pthread_mutex_t mu;
  pthread_cond_t cond;
  atomic_int state;                /* cv_job_state_t */
  atomic_bool cancel_requested;
  cv_error_t error;                /* when FAILED or CANCELLED */
  int64_t created_rt_ns, started_rt_ns, finished_rt_ns;   /* CLOCK_REALTIME, 0 = not yet */
  int64_t created_ns, started_ns, finished_ns;            /* CLOCK_MONOTONIC */
  char device[16];                 /* "cpu", "cuda:0"; "" until it runs */
  int batch_size;                  /* jobs in the backend call that ran it */

  cv_job_done_fn done;
  void *done_arg;
  /* Optional: told as bytes of the outputs become final while the job runs
   * (cv_work_t.on_slab; e.g. a disk sink writing as slabs land). */
  void (*on_slab)(void *ctx, int out_index, size_t byte_offset, size_t nbytes);
  void *on_slab_ctx;
  void *user;                      /* the submitter's context (server request, …) */
  void (*user_free)(void *user);   /* when set, called with user as the job is freed */
  cv_job_t *next;                  /* queue link, owned by the queue */
};

/* Creates a job from params and named input tensors (takes a reference to
 * each tensor), runs shape inference (resolving params) and computes the
 * batch key. refs = 1 for the caller. Errors carry the field path. */
int cv_job_create(cv_job_t **out, const cv_op_params_t *params, int n_in, const char *const *names,
                  cv_tensor_t *const *tensors, cv_error_t *err);
cv_job_t *cv_job_ref(cv_job_t *j);
void cv_job_unref(cv_job_t *j);

/* True when a and b may run in one backend call. */
bool cv_job_same_key(const cv_job_t *a, const cv_job_t *b);

/* Ends the job (state must be final), releases its inputs (and its outputs
 * unless it succeeded), and calls done. Returns false when the job had
 * already ended (the caller's transition lost). */
bool cv_job_finish(cv_job_t *j, cv_job_state_t st, const cv_error_t *err);
/* Blocks until the job ends or timeout_ms passes (< 0 = forever).
 * Returns true when it ended. */
bool cv_job_wait(cv_job_t *j, int64_t timeout_ms);

/* created_ns + timeout_ms, saturating (a huge timeout means no deadline). */
int64_t cv_deadline_after_ms(int64_t created_ns, int64_t timeout_ms);

int64_t cv_now_ns(void);      /* CLOCK_MONOTONIC */
int64_t cv_now_rt_ns(void);   /* CLOCK_REALTIME */

#endif
