/* engine.h — the engine: devices, a bounded priority queue, a dynamic
 * batcher and one worker thread per device. Both the CLI and convoyd drive
 * it. Submit from any thread; completion calls each job's done callback on
 * the worker thread. Limits: max_queue_jobs and max_inflight_bytes → 429
 * (queue_full); a job larger than max_inflight_bytes alone → 413. */
#ifndef CV_ENGINE_H
#define CV_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "../kernels/backend.h"
#include "job.h"
#include "pool.h"
#include "queue.h"

typedef struct cv_engine_config_s {
  int threads;                   /* CPU worker threads; 0 = cores */
  bool want_cpu, want_cuda;      /* "backend": auto = both */
  int max_queue_jobs;            /* accepted, unfinished jobs */
  size_t max_inflight_bytes;     /* inputs + outputs of unfinished jobs; 0 = no cap */
  int max_batch;                 /* jobs per backend call (>= 1) */
  int64_t max_batch_delay_us;    /* how long a partial batch waits for more */
  size_t pool_cached_bytes;      /* output buffers kept for reuse; 0 = default (1/16 of RAM, <= 2 GiB) */
  size_t inline_max_bytes;       /* cv_engine_run_inline: largest job (in + out); 0 = never inline */
  const char *data_dir;          /* GPU conv plans under data_dir/plans; NULL = memory only */
  uint64_t device_memory_budget; /* GPUs: working set per job before it runs in slabs; 0 = from free memory */
} cv_engine_config_t;

void cv_engine_config_default(cv_engine_config_t *cfg);

typedef struct cv_engine_stats_s {
  atomic_uint_fast64_t batches;          /* backend calls */
  atomic_uint_fast64_t batched_jobs;     /* jobs run in them */
  atomic_uint_fast64_t jobs_by_state[CV_JOB_STATE_COUNT];   /* ended jobs (final states) */
} cv_engine_stats_t;

typedef struct cv_engine_worker_s {
  struct cv_engine_s *engine;
  cv_device_t *dev;
  pthread_t thread;
  bool started;
  bool busy;                     /* gathering or running a batch (e->mu) */
} cv_engine_worker_t;

typedef struct cv_engine_s {
  cv_engine_config_t cfg;
  cv_device_t devs[CV_MAX_DEVICES];
  int n_devs;
  cv_engine_worker_t workers[CV_MAX_DEVICES];
  bool inited;                   /* mutex and cond exist; close is a no-op when false */

  pthread_mutex_t mu;            /* guards everything below */
  pthread_cond_t cond;           /* work arrived for an idle worker, or stopping */
  pthread_cond_t batch_cond;     /* enough jobs to fill a collecting batch, or stopping */
  int idle_workers;              /* waiting on cond for a first job */
  int collecting;                /* waiting on batch_cond while a batch fills */
  int collect_need;              /* jobs a collecting worker still wants (its batch's room) */
  cv_queue_t q;
  int unfinished;                /* queued + running */
  int inline_running;            /* jobs running on their submitters' threads */
  atomic_size_t inline_max_bytes;   /* cfg.inline_max_bytes, reloadable */
  int cpu_dev;                   /* index of the CPU device in devs, -1 when none */
  int running;
  size_t inflight_bytes;
  bool stopping;

  cv_engine_stats_t stats;
  cv_pool_t *pool;               /* output buffers; tensors hold references */
} cv_engine_t;

int cv_engine_init(cv_engine_t *e, const cv_engine_config_t *cfg, cv_error_t *err);
/* Cancels queued jobs, waits for running batches, joins workers, closes
 * devices. Safe twice and after a failed init. */
void cv_engine_close(cv_engine_t *e);

/* Accepts j (the engine takes its own reference) or fails with queue_full,
 * payload_too_large or shutting_down. j->priority / deadline_ns / done are set
 * by the caller beforehand. */
int cv_engine_submit(cv_engine_t *e, cv_job_t *j, cv_error_t *err);
/* Runs a small job on the calling thread instead of queueing it: no
 * hand-off, no wake-up, one CPU thread. The fast path of an idle CPU
 * device, taken only when j's inputs + outputs fit inline_max_bytes, only
 * the CPU device can run it (GPU jobs batch), nothing is queued (an inline
 * job never overtakes a queued one), the CPU worker is neither gathering
 * nor running a batch (then j queues and batches with what comes next) and
 * fewer jobs than CPU threads run inline already. Admission is
 * cv_engine_submit's. Returns 1 when j ran and has ended (its done callback,
 * if set, was called), 0 when the caller should cv_engine_submit it, or
 * -CV_E… as submit refuses. */
int cv_engine_run_inline(cv_engine_t *e, cv_job_t *j, cv_error_t *err);
/* A queued job ends cancelled at once; a running one is flagged and ends
 * cancelled when its batch returns. Returns 0, or -CV_ECONFLICT when it had
 * already ended. */
int cv_engine_cancel(cv_engine_t *e, cv_job_t *j);
/* Reloadable batching knobs (SIGHUP). */
void cv_engine_set_batching(cv_engine_t *e, int max_batch, int64_t max_batch_delay_us);
void cv_engine_set_inline(cv_engine_t *e, size_t inline_max_bytes);

/* Snapshot of the gauges. */
void cv_engine_gauges(cv_engine_t *e, int *queued, int *running, size_t *inflight_bytes);

/* Device i's gauges from its backend (GPU memory in use and utilisation,
 * the CPU's process RSS); any thread, takes no engine lock. 0, or -CV_E…
 * when i is out of range or the backend cannot say (st then unset). */
int cv_engine_device_stats(cv_engine_t *e, int i, cv_device_stats_t *st);

#endif
