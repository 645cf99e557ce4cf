/* metrics.h — convoyd's Prometheus registry (design.md §4): HTTP, job and
 * byte counters and histograms as _Atomic uint64_t fields, so the hot paths
 * (MHD threads, the done path) take no lock; gauges come in a snapshot at
 * render time. Rendered as text exposition format 0.0.4 for GET /metrics.
 * One registry per server, on caller memory; any thread may record or render. */
#ifndef CV_METRICS_H
#define CV_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/job.h"
#include "../kernels/ops.h"

#define CV_METRICS_ROUTES_MAX 64      /* route templates the server may pass */
#define CV_METRICS_STATUS_MIN 100     /* HTTP statuses counted: 100…599 */
#define CV_METRICS_STATUS_SLOTS 500
#define CV_METRICS_SECONDS_BUCKETS 18 /* 100 µs … 60 s */
#define CV_METRICS_BATCH_BUCKETS 9    /* 1, 2, 4, … 256 */
#define CV_METRICS_BUCKETS_MAX 18
#define CV_METRICS_VERSION_MAX 64

/* Content-Type of the rendered text. */
#define CV_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Non-cumulative bucket counts (the last slot is +Inf) and the sum of the
 * observations as the bit pattern of a double, updated by CAS. */
typedef struct cv_metrics_hist_s {
  _Atomic uint64_t bucket[CV_METRICS_BUCKETS_MAX + 1];
  _Atomic uint64_t sum_bits;
} cv_metrics_hist_t;

typedef struct cv_metrics_s {
  bool inited;
  const char *const *routes;     /* the server's table; must outlive the registry */
  int n_routes;                  /* index n_routes is "other" (out-of-range indices) */
  char version[CV_METRICS_VERSION_MAX];
  double start_time_s;           /* process start, seconds since the epoch */
  _Atomic uint64_t *http_requests;      /* [(n_routes + 1) × CV_METRICS_STATUS_SLOTS] */
  cv_metrics_hist_t *http_duration;     /* [n_routes + 1] */
  _Atomic uint64_t jobs[CV_OP_COUNT][CV_JOB_STATE_COUNT];
  cv_metrics_hist_t job_queue[CV_OP_COUNT], job_run[CV_OP_COUNT];
  cv_metrics_hist_t batch_size;
  _Atomic uint64_t bytes_in, bytes_out;
} cv_metrics_t;

/* One device's gauges at render time. */
typedef struct cv_metrics_device_s {
  const char *id;                /* "cpu", "cuda:0" (the `device` label) */
  uint64_t memory_used_bytes;
  double utilization;            /* 0…1; NaN = unknown: the sample is left out */
  bool memory_unknown;           /* true: the memory sample is left out */
} cv_metrics_device_t;

/* The gauges, snapshotted by the caller just before cv_metrics_render
 * (cv_engine_gauges, cv_store_bytes, the device list). */
typedef struct cv_metrics_gauges_s {
  int64_t jobs_queued, jobs_running;
  uint64_t inflight_bytes, result_store_bytes;
  const cv_metrics_device_t *devices;
  int n_devices;
} cv_metrics_gauges_t;

/* routes: n_routes path templates ("/v1/jobs/{id}", …), kept by pointer;
 * version: the build_info label (copied, truncated to 63 bytes).
 * 0, -CV_EINVALID_ARGUMENT (n_routes outside 0…CV_METRICS_ROUTES_MAX or a
 * NULL route), -CV_EOUT_OF_MEMORY. */
int cv_metrics_init(cv_metrics_t *m, const char *const *routes, int n_routes, const char *version);
/* Safe twice and after a failed init. */
void cv_metrics_close(cv_metrics_t *m);

/* One finished HTTP request. route_index outside 0…n_routes-1 counts as
 * route "other"; a status outside 100…599 is not counted in
 * requests_total (MHD sends none); duration_s < 0 or NaN counts as 0. */
void cv_metrics_http(cv_metrics_t *m, int route_index, int status, double duration_s,
                     uint64_t bytes_in, uint64_t bytes_out);
/* One job that ended in state (once per job, at its end). queue_s / run_s
 * < 0 or NaN are not observed (e.g. a job cancelled while queued never ran);
 * batch_size <= 0 is not observed. An op or state out of range is ignored. */
void cv_metrics_job(cv_metrics_t *m, cv_op_t op, cv_job_state_t state, double queue_s,
                    double run_s, int batch_size);

/* Renders every family (HELP and TYPE lines first) into a malloc'ed,
 * NUL-terminated buffer: *out (caller frees with free()), *len without the
 * NUL. g may be NULL (gauges render as 0, no devices). 0, -CV_EOUT_OF_MEMORY,
 * -CV_EINVALID_ARGUMENT (m not initialised). */
int cv_metrics_render(cv_metrics_t *m, const cv_metrics_gauges_t *g, char **out, size_t *len);

#endif
