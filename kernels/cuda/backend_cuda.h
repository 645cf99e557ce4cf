/* backend_cuda.h — private to kernels/cuda/ (C only): the per-device context
 * of the CUDA backend and what backend_cuda.c (discovery, vtable, supports)
 * and run_cuda.c (batch execution) share. A context belongs to one device
 * and is used by that device's worker thread only; `unhealthy` is also read
 * by supports() from other threads. */
#ifndef CV_CUDA_BACKEND_CUDA_H
#define CV_CUDA_BACKEND_CUDA_H

#include <stdatomic.h>
#include <stdbool.h>

#include "../backend.h"
#include "conv.cuh"
#include "cuda_common.h"

/* streams: upload, compute, download (all cudaStreamNonBlocking) */
enum { CV_CUDA_S_H2D, CV_CUDA_S_COMPUTE, CV_CUDA_S_D2H, CV_CUDA_N_STREAMS };

#define CV_CUDA_STAGE_BUFS 2                    /* pinned staging buffers, used in turn */
#define CV_CUDA_STAGE_BYTES ((size_t)16 << 20)  /* each; a transfer chunk */
#define CV_CUDA_POOL_KEEP_PCT 50                /* of device memory the pool keeps between calls */
#define CV_CUDA_MAX_GROUP 64                    /* jobs stacked into one launch */

typedef struct cv_cuda_nvml_s cv_cuda_nvml_t;   /* nvml.c */

typedef struct cv_cuda_ctx_s {
  int ordinal;                                  /* CUDA device number */
  cv_cuda_nvml_t *nvml;                         /* NULL without libnvidia-ml */
  cudaStream_t stream[CV_CUDA_N_STREAMS];
  void *stage[CV_CUDA_STAGE_BUFS];              /* pinned host memory */
  cudaEvent_t stage_ev[CV_CUDA_STAGE_BUFS];     /* last copy that used each buffer */
  int stage_next;
  cudaEvent_t ev_alloc, ev_up, ev_comp, ev_down, ev_side;   /* cross-stream ordering */
  void *cublas;                                 /* cublasHandle_t, NULL without cuBLAS */
  void *cudnn;                                  /* cudnnHandle_t, NULL without cuDNN */
  bool cufft;                                   /* built with cuFFT */
  uint64_t mem_bytes;                           /* device memory (bounds FFT buffers) */
  struct cv_plan_cache_s *plans;                /* conv plan cache; NULL: none (timing every time) */
  atomic_bool unhealthy;                        /* a sticky CUDA error: supports() says no */
} cv_cuda_ctx_t;

/* backend_cuda.c: the vtable (for tests that drive supports() on a fake device). */
const struct cv_backend_i *cv__cuda_backend(void);

/* nvml.c: NVML for this device (NULL when the library or device is not
 * there), its release, and the vtable's stats(). */
cv_cuda_nvml_t *cv__cuda_nvml_open(int ordinal);
void cv__cuda_nvml_close(cv_cuda_nvml_t *n);
int cv__cuda_stats(cv_device_t *dev, cv_device_stats_t *st);

/* run_cuda.c: executes a batch (the vtable's run). */
int cv__cuda_run(cv_device_t *dev, cv_batch_t *b);

/* backend_cuda.c: what the conv menu may use on this device. Pure. */
cv_conv_caps_t cv__cuda_conv_caps(const cv_cuda_ctx_t *ctx);

/* run_cuda.c: conv geometry from resolved params and the inputs (x, w, b
 * pointers set from the inputs' data; cv_conv_geom does the math). Pure. 0, or -CV_EINVALID_ARGUMENT
 * when the params are not resolved or the inputs do not fit them. */
int cv__cuda_conv_geom(const cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_cuda_conv_job_t *job);

#endif
