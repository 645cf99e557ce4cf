/* backend.h — the backend vtable, devices and batches (design.md §1).
 * A backend sees work items (params + named arrays), never engine jobs, HTTP
 * or JSON. The CPU backend always exists; CUDA adds one device per GPU.
 * run() is called by one device worker thread at a time per device. */
#ifndef CV_BACKEND_H
#define CV_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "../proto/errors.h"
#include "ops.h"
#include "types.h"

struct cv_backend_i;

/* One device: the CPU, or one GPU. Filled by its backend's discovery. */
typedef struct cv_device_s {
  const struct cv_backend_i *backend;
  char id[16];               /* "cpu", "cuda:0" */
  char kind[8];              /* "cpu", "cuda" */
  char name[96];             /* CPU model or GPU name */
  uint64_t memory_bytes;     /* usable memory (RAM or cgroup limit; GPU total) */
  int threads;               /* CPU: worker threads */
  uint64_t budget_bytes;     /* working set one job may use here; a larger job runs in
                              * slabs (kernels/slab.h). 0: CPU none, CUDA from free memory */
  void *ctx;                 /* backend state, owned by the backend */
} cv_device_t;

/* One job as a backend sees it. The engine allocates outputs (shapes from
 * cv_op_infer, in its order) with the device's alloc before run. */
typedef struct cv_work_s {
  const cv_op_params_t *params;   /* resolved by cv_op_infer */
  const cv_io_t *in;
  int n_in;
  cv_io_t *out;
  int n_out;
  int rc;                         /* 0 or -CV_E…, per item */
  cv_error_t err;                 /* details when rc != 0 */
  /* Optional progress hook (e.g. a disk sink writing results as they are
   * produced): called on the device worker thread each time bytes
   * [byte_offset, byte_offset + nbytes) of out[out_index].a.data are final.
   * Ranges never overlap; when rc ends 0 they cover every output byte. A
   * job run whole reports each output once after the run; a job run in
   * slabs reports each slab's rows (one call per contiguous run) as soon as
   * they are in host memory. NULL = no calls. */
  void (*on_slab)(void *ctx, int out_index, size_t byte_offset, size_t nbytes);
  void *on_slab_ctx;
} cv_work_t;

/* Items with the same batch key (op, params, dtype, per-sample shape). */
typedef struct cv_batch_s {
  int n;
  cv_work_t *items;
  int max_threads;                /* CPU threads the run may use; 0 = the device's own */
} cv_batch_t;

typedef enum { CV_COPY_H2D, CV_COPY_D2H, CV_COPY_D2D } cv_copy_dir_t;

/* A device's gauges for /metrics (backend stats()). */
typedef struct cv_device_stats_s {
  uint64_t memory_used_bytes;   /* GPU: device memory in use (all processes); CPU: process RSS */
  double utilization;           /* busy fraction 0…1; NaN = unknown */
} cv_device_stats_t;

struct cv_backend_i {
  const char *name;
  /* Pure and cheap: no allocation, lock or device access. false reroutes. */
  bool (*supports)(const cv_device_t *, const cv_op_params_t *, const cv_io_t *in, int n_in);
  /* Runs every item; returns 0 when the call itself worked (items carry
   * their own rc), or -CV_E… when the whole batch failed. */
  int (*run)(cv_device_t *, cv_batch_t *);
  /* Optional: why supports() said no, as an error naming the field (e.g. a
   * forced conv algo the backend lacks). Returns -CV_E…. */
  int (*explain)(const cv_device_t *, const cv_op_params_t *, const cv_io_t *in, int n_in, cv_error_t *err);
  int (*alloc)(cv_device_t *, size_t, void **out);
  void (*free)(cv_device_t *, void *);
  int (*copy)(cv_device_t *, void *dst, const void *src, size_t, cv_copy_dir_t);
  void (*close)(cv_device_t *);
  /* Optional: fills st; any thread, concurrent with run(); never touches
   * job memory. 0 or -CV_E… (then the gauges are omitted). */
  int (*stats)(cv_device_t *, cv_device_stats_t *st);
};

/* ---- registry ---- */

#define CV_MAX_DEVICES 17   /* the CPU + 16 GPUs */

typedef struct cv_backend_config_s {
  int threads;              /* CPU worker threads; 0 = cores */
  bool want_cpu, want_cuda; /* config "backend": auto = both */
  const char *data_dir;     /* GPU conv plan cache in data_dir/plans; NULL = memory only */
  uint64_t device_memory_budget;   /* GPUs' budget_bytes; 0 = from free device memory */
} cv_backend_config_t;

/* Fills devs with every device found: CUDA ones first (when built in and
 * present), then the CPU (always). Returns the count (>= 1) or -CV_E…. */
int cv_devices_open(cv_device_t *devs, int max, const cv_backend_config_t *cfg, cv_error_t *err);
void cv_devices_close(cv_device_t *devs, int n);

/* ---- per-backend discovery (one per backend folder) ---- */

int cv_cpu_device_open(cv_device_t *dev, int threads);
#ifdef CONVOY_HAVE_CUDA
/* count (0 when none); data_dir and budget as in cv_backend_config_t */
int cv_cuda_devices_open(cv_device_t *devs, int max, const char *data_dir, uint64_t budget);
#endif

#endif
